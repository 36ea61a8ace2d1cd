//! Option votes counted by totals: approval, quadratic and weighted split.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ballot::{Ballot, Choice, VoteType};
use super::error::TallyError;
use super::tally::Outcome;
use crate::fraction::MICROS_ONE;
use crate::limits;

/// Per-option totals. Their unit depends on the type: approval counts weight; quadratic counts
/// votes × weight (`floor(√credits)` votes per option); weighted split counts weight × millionths
/// (a voter of weight 3 giving an option `0.5` adds 1,500,000), so every total is an exact integer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionCounts {
    /// The total of option `i` at position `i`.
    #[serde(with = "super::wide::list")]
    #[schemars(with = "Vec<String>")]
    pub totals: Vec<u128>,
}

/// The number of options as an index bound, if an option vote may have that many.
pub(crate) fn option_count(options: u32) -> Result<usize, TallyError> {
    if options == 0 || options > limits::TALLY_OPTIONS_MAX {
        return Err(TallyError::OptionCount { options });
    }
    Ok(usize::try_from(options).expect("within the limit"))
}

/// Checks that each option of a ballot exists and appears once, and returns them as indexes.
pub(crate) fn check_options(
    voter: u32,
    options: usize,
    named: impl IntoIterator<Item = u32>,
) -> Result<Vec<usize>, TallyError> {
    let mut seen = BTreeSet::new();
    let mut indexes = Vec::new();
    for option in named {
        let index = usize::try_from(option).ok().filter(|&index| index < options);
        let Some(index) = index else { return Err(TallyError::UnknownOption { voter, option }) };
        if !seen.insert(option) {
            return Err(TallyError::DuplicateOption { voter, option });
        }
        indexes.push(index);
    }
    Ok(indexes)
}

pub(crate) fn count_options(
    vote_type: &VoteType,
    ballots: &[Ballot],
    weights: &[u64],
) -> Result<(Outcome, OptionCounts), TallyError> {
    let options = option_count(vote_type.options().expect("an option vote"))?;
    let mut totals = vec![0u128; options];
    for (ballot, &weight) in ballots.iter().zip(weights) {
        let weight = u128::from(weight);
        let voter = ballot.voter;
        match (vote_type, &ballot.choice) {
            (_, Choice::Abstain) => {}
            (VoteType::Approval { .. }, Choice::Approve(approved)) => {
                for index in check_options(voter, options, approved.iter().copied())? {
                    totals[index] += weight;
                }
            }
            (VoteType::Quadratic { budget, .. }, Choice::Credits(spent)) => {
                let indexes = check_options(voter, options, spent.iter().map(|spent| spent.option))?;
                let credits: u128 = spent.iter().map(|spent| u128::from(spent.credits)).sum();
                if credits > u128::from(*budget) {
                    return Err(TallyError::CreditsOverBudget { voter, credits, budget: *budget });
                }
                for (index, spent) in indexes.into_iter().zip(spent) {
                    // floor(√c) < 2^32 votes, times a weight below 2^64: below 2^96.
                    totals[index] += u128::from(spent.credits.isqrt()) * weight;
                }
            }
            (VoteType::WeightedSplit { .. }, Choice::Split(parts)) => {
                let indexes = check_options(voter, options, parts.iter().map(|part| part.option))?;
                let micros: u64 = parts.iter().map(|part| u64::from(part.part.micros())).sum();
                if micros != u64::from(MICROS_ONE) {
                    return Err(TallyError::SplitNotWhole { voter, micros });
                }
                for (index, part) in indexes.into_iter().zip(parts) {
                    totals[index] += u128::from(part.part.micros()) * weight;
                }
            }
            _ => return Err(TallyError::WrongChoice { voter }),
        }
    }
    Ok((most_weight(&totals), OptionCounts { totals }))
}

/// The option with strictly the largest total; a tie of every option sharing the largest; abstained
/// when every total is zero (no weight reached any option).
pub(crate) fn most_weight(totals: &[u128]) -> Outcome {
    let best = totals.iter().copied().max().unwrap_or(0);
    if best == 0 {
        return Outcome::Abstained;
    }
    let leaders: Vec<u32> = (0..totals.len())
        .filter(|&index| totals[index] == best)
        .map(|index| u32::try_from(index).expect("options are numbered by u32"))
        .collect();
    match leaders[..] {
        [option] => Outcome::Winner { option },
        _ => Outcome::Tie { options: leaders },
    }
}
