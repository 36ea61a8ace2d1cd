//! Why a tally refuses its ballots: malformed input, as data with stable codes.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A ballot (or the vote type) that cannot be counted. The first offending ballot, in the order
/// given, is reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum TallyError {
    /// The ballot names a voter beyond the electorate.
    UnknownVoter {
        /// The position named.
        voter: u32,
    },
    /// The voter cast two ballots.
    DuplicateVoter {
        /// The voter.
        voter: u32,
    },
    /// The ballot's kind is not one this vote type takes (a value in a plurality, yes in a ranking).
    WrongChoice {
        /// The voter.
        voter: u32,
    },
    /// An option vote with no options, or more than `limits::TALLY_OPTIONS_MAX`.
    OptionCount {
        /// The options asked for.
        options: u32,
    },
    /// The ballot names an option beyond the vote's options.
    UnknownOption {
        /// The voter.
        voter: u32,
        /// The option named.
        option: u32,
    },
    /// The ballot names an option twice.
    DuplicateOption {
        /// The voter.
        voter: u32,
        /// The option named twice.
        option: u32,
    },
    /// The parts of a split do not sum to exactly one.
    SplitNotWhole {
        /// The voter.
        voter: u32,
        /// What the parts sum to, in millionths.
        micros: u64,
    },
    /// The credits of a quadratic ballot exceed the budget.
    CreditsOverBudget {
        /// The voter.
        voter: u32,
        /// The credits spent.
        #[serde(with = "super::wide")]
        #[schemars(with = "String")]
        credits: u128,
        /// The budget.
        budget: u64,
    },
}

impl TallyError {
    /// The stable code, as in JSON.
    pub fn code(&self) -> &'static str {
        match self {
            TallyError::UnknownVoter { .. } => "unknown_voter",
            TallyError::DuplicateVoter { .. } => "duplicate_voter",
            TallyError::WrongChoice { .. } => "wrong_choice",
            TallyError::OptionCount { .. } => "option_count",
            TallyError::UnknownOption { .. } => "unknown_option",
            TallyError::DuplicateOption { .. } => "duplicate_option",
            TallyError::SplitNotWhole { .. } => "split_not_whole",
            TallyError::CreditsOverBudget { .. } => "credits_over_budget",
        }
    }
}

impl fmt::Display for TallyError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TallyError::UnknownVoter { voter } => write!(formatter, "voter {voter} is not in the electorate"),
            TallyError::DuplicateVoter { voter } => write!(formatter, "voter {voter} cast more than one ballot"),
            TallyError::WrongChoice { voter } => {
                write!(formatter, "voter {voter}'s ballot is not of a kind this vote type takes")
            }
            TallyError::OptionCount { options } => {
                write!(formatter, "{options} options: an option vote needs 1 to the limit")
            }
            TallyError::UnknownOption { voter, option } => {
                write!(formatter, "voter {voter} names option {option}, which does not exist")
            }
            TallyError::DuplicateOption { voter, option } => {
                write!(formatter, "voter {voter} names option {option} twice")
            }
            TallyError::SplitNotWhole { voter, micros } => {
                write!(formatter, "voter {voter}'s split sums to {micros} millionths, not 1000000")
            }
            TallyError::CreditsOverBudget { voter, credits, budget } => {
                write!(formatter, "voter {voter} spends {credits} credits of a budget of {budget}")
            }
        }
    }
}

impl std::error::Error for TallyError {}
