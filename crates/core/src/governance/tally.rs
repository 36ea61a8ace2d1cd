//! The tally: ballots in, an outcome and its exact counts out.
//!
//! Every count is an integer sum of `u64` weights in `u128` (a sum of `u64`s cannot overflow `u128`
//! before 2^64 of them, far beyond any electorate that fits in memory); every share is a [`Ratio`]
//! of such sums, compared exactly. Order of ballots never matters: sums commute, and option ties are
//! reported, not broken by position.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ballot::{Ballot, Choice, Quorum, VoteType};
use super::error::TallyError;
use super::options::{OptionCounts, count_options};
use super::ranked::{RankedCounts, count_ranked};
use super::ratio::Ratio;
use crate::fraction::{Fraction, MICROS_ONE};

/// What a vote decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// Externally tagged (`"approved"`, `{"winner": {"option": 2}}`), like `VoteType`.
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    /// A yes/no vote or weighted ratio passed.
    Approved,
    /// It did not.
    Rejected,
    /// The quorum was reached but no weight took a side (every ballot abstained, or all the weight
    /// that took a side was zero); this is also the outcome of no ballots under no quorum.
    Abstained,
    /// Fewer took part than the quorum asks; checked before anything else, as seed 000 does.
    NoQuorum,
    /// The option with strictly the most weight (for ranked choice: the last round's majority).
    Winner {
        /// The option.
        option: u32,
    },
    /// Several options share the most weight (for ranked choice: every continuing option is tied
    /// in every round so far); in increasing order. Never broken by option number.
    Tie {
        /// The tied options.
        options: Vec<u32>,
    },
}

/// The outcome and the counts behind it. Counts are reported even when the quorum was missed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tally {
    /// The outcome.
    pub outcome: Outcome,
    /// Ballots cast, abstentions included (seed 000's `total_votes`).
    pub ballots: u32,
    /// The weight of the ballots cast, abstentions included.
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    pub cast_weight: u128,
    /// The electorate's weight.
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    pub eligible_weight: u128,
    /// The counts of the vote type.
    pub counts: Counts,
}

/// The counts of a vote, by the shape of its type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Counts {
    /// Plurality, supermajority, consensus, threshold.
    YesNo(YesNoCounts),
    /// The weighted ratio.
    WeightedRatio(RatioCounts),
    /// Approval, quadratic, weighted split.
    Options(OptionCounts),
    /// Ranked choice.
    Ranked(RankedCounts),
}

/// The weights of a yes/no vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YesNoCounts {
    /// Weight voting yes.
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    pub yes_weight: u128,
    /// Weight voting no.
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    pub no_weight: u128,
    /// Weight abstaining (not in the share).
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    pub abstain_weight: u128,
    /// `yes / (yes + no)`, exact; absent when no weight took a side.
    pub yes_share: Option<Ratio>,
    /// The share with three decimals, rounded half up (`"0.667"`), as seed 000 reports it.
    pub yes_share_three_decimals: Option<String>,
}

/// The sums of a weighted ratio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RatioCounts {
    /// `Σ value · weight` in weight × millionths (a value of one counts 1,000,000 per unit of weight).
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    pub value_weight: u128,
    /// Weight of the ballots that gave a value (yes and no included).
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    pub sided_weight: u128,
    /// Weight of explicit abstentions.
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    pub abstain_weight: u128,
    /// Weight of eligible voters who cast nothing.
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    pub silent_weight: u128,
    /// `value_weight / (eligible weight × 1,000,000)`, exact; absent when no weight took a side.
    pub approval: Option<Ratio>,
    /// The ratio with three decimals, rounded half up.
    pub approval_three_decimals: Option<String>,
}

/// Who took part, once the ballots' voters are checked against the electorate.
pub(crate) struct Turnout {
    /// Each ballot's voter's weight, in ballot order.
    pub weights: Vec<u64>,
    pub ballots: u32,
    pub cast_weight: u128,
    pub eligible_weight: u128,
}

/// Counts `ballots` cast by the electorate `eligible` (voter `i` weighs `eligible[i]`, on the caller's
/// scale: millionths of a role weight, minor units of stake, or 1 each) under `vote_type` and
/// `quorum`. Refuses the first malformed ballot; changes nothing and reads nothing else.
pub fn tally(vote_type: &VoteType, quorum: Quorum, eligible: &[u64], ballots: &[Ballot]) -> Result<Tally, TallyError> {
    let turnout = check_voters(eligible, ballots)?;
    let (decision, counts) = match vote_type {
        VoteType::Plurality | VoteType::Supermajority { .. } | VoteType::Consensus | VoteType::Threshold { .. } => {
            let counts = count_yes_no(ballots, &turnout.weights)?;
            (yes_no_decision(vote_type, counts.yes_weight, counts.no_weight), Counts::YesNo(counts))
        }
        VoteType::WeightedRatio { required } => {
            let counts = count_ratio(ballots, &turnout)?;
            (ratio_decision(*required, counts.approval), Counts::WeightedRatio(counts))
        }
        VoteType::RankedChoice { options } => {
            let (decision, counts) = count_ranked(*options, ballots, &turnout.weights)?;
            (decision, Counts::Ranked(counts))
        }
        VoteType::Approval { .. } | VoteType::Quadratic { .. } | VoteType::WeightedSplit { .. } => {
            let (decision, counts) = count_options(vote_type, ballots, &turnout.weights)?;
            (decision, Counts::Options(counts))
        }
    };
    let reached = quorum.is_reached(turnout.ballots, turnout.cast_weight, turnout.eligible_weight);
    Ok(Tally {
        outcome: if reached { decision } else { Outcome::NoQuorum },
        ballots: turnout.ballots,
        cast_weight: turnout.cast_weight,
        eligible_weight: turnout.eligible_weight,
        counts,
    })
}

/// Checks that every ballot's voter is in the electorate and votes once, and sums the turnout.
fn check_voters(eligible: &[u64], ballots: &[Ballot]) -> Result<Turnout, TallyError> {
    let mut voted = vec![false; eligible.len()];
    let mut weights = Vec::with_capacity(ballots.len());
    let mut cast_weight = 0u128;
    for ballot in ballots {
        let position = usize::try_from(ballot.voter).ok().filter(|&position| position < eligible.len());
        let Some(position) = position else { return Err(TallyError::UnknownVoter { voter: ballot.voter }) };
        if std::mem::replace(&mut voted[position], true) {
            return Err(TallyError::DuplicateVoter { voter: ballot.voter });
        }
        weights.push(eligible[position]);
        cast_weight += u128::from(eligible[position]);
    }
    Ok(Turnout {
        ballots: u32::try_from(ballots.len()).expect("no more ballots than voters, and voters are numbered by u32"),
        weights,
        cast_weight,
        eligible_weight: eligible.iter().map(|&weight| u128::from(weight)).sum(),
    })
}

fn count_yes_no(ballots: &[Ballot], weights: &[u64]) -> Result<YesNoCounts, TallyError> {
    let (mut yes, mut no, mut abstain) = (0u128, 0u128, 0u128);
    for (ballot, &weight) in ballots.iter().zip(weights) {
        let side = match ballot.choice {
            Choice::Yes => &mut yes,
            Choice::No => &mut no,
            Choice::Abstain => &mut abstain,
            _ => return Err(TallyError::WrongChoice { voter: ballot.voter }),
        };
        *side += u128::from(weight);
    }
    let yes_share = Ratio::new(yes, yes + no);
    Ok(YesNoCounts {
        yes_weight: yes,
        no_weight: no,
        abstain_weight: abstain,
        yes_share,
        yes_share_three_decimals: yes_share.map(Ratio::three_decimals),
    })
}

/// The outcome of a yes/no vote with `yes` and `no` weight, the quorum aside: abstained when no
/// weight took a side (seed 000's `total_weight == 0`), else the type's rule.
pub(crate) fn yes_no_decision(vote_type: &VoteType, yes: u128, no: u128) -> Outcome {
    let Some(share) = Ratio::new(yes, yes + no) else { return Outcome::Abstained };
    let approved = match vote_type {
        VoteType::Plurality => share > Ratio::HALF,
        VoteType::Supermajority { threshold } => share >= *threshold,
        VoteType::Consensus => share == Ratio::ONE,
        VoteType::Threshold { yes_weight } => yes >= u128::from(*yes_weight),
        _ => unreachable!("only the yes/no types are decided by yes and no weight"),
    };
    if approved { Outcome::Approved } else { Outcome::Rejected }
}

fn count_ratio(ballots: &[Ballot], turnout: &Turnout) -> Result<RatioCounts, TallyError> {
    let (mut value_weight, mut sided, mut abstain) = (0u128, 0u128, 0u128);
    for (ballot, &weight) in ballots.iter().zip(&turnout.weights) {
        let value = match ballot.choice {
            Choice::Value(value) => value,
            Choice::Yes => Fraction::ONE,
            Choice::No => Fraction::ZERO,
            Choice::Abstain => {
                abstain += u128::from(weight);
                continue;
            }
            _ => return Err(TallyError::WrongChoice { voter: ballot.voter }),
        };
        // At most 10^6 · (2^64 − 1) < 2^84 per ballot: the sum stays below 2^128 for 2^44 ballots.
        value_weight += u128::from(value.micros()) * u128::from(weight);
        sided += u128::from(weight);
    }
    let approval = if sided == 0 {
        None
    } else {
        let whole = turnout.eligible_weight.checked_mul(u128::from(MICROS_ONE)).expect("below 2^84 per voter");
        Some(Ratio::new(value_weight, whole).expect("each value is at most one and the voter's weight is counted"))
    };
    Ok(RatioCounts {
        value_weight,
        sided_weight: sided,
        abstain_weight: abstain,
        silent_weight: turnout.eligible_weight - turnout.cast_weight,
        approval,
        approval_three_decimals: approval.map(Ratio::three_decimals),
    })
}

/// Abstained when no weight gave a value; else approved when the ratio is strictly above
/// `required` (seed 004's `approval_ratio > proposal.required_approval`).
pub(crate) fn ratio_decision(required: Fraction, approval: Option<Ratio>) -> Outcome {
    match approval {
        None => Outcome::Abstained,
        Some(approval) if approval > Ratio::from_fraction(required) => Outcome::Approved,
        Some(_) => Outcome::Rejected,
    }
}
