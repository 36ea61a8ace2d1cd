//! Ranked choice by instant runoff.
//!
//! Each round counts every ballot's weight for its most preferred option still continuing; a ballot
//! with none left is exhausted and drops out of that round's total. An option with strictly more
//! than half of the round's total (exhausted ballots excluded) wins. Otherwise one option is
//! eliminated: the one with the least weight this round; among equals, the one with the least in
//! the round before, and so on back to the first round; among options equal in every round, the
//! highest-numbered. When the options tied this way are all the continuing options, no count can
//! separate them and the outcome is a tie of them all rather than a choice by number. At most one
//! round per option (at most `limits::TALLY_OPTIONS_MAX`); a round moves only the ballots of the option
//! it eliminated, each to its next continuing preference.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ballot::{Ballot, Choice};
use super::error::TallyError;
use super::options::{check_options, option_count};
use super::tally::Outcome;

/// Every round of the runoff, first to last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RankedCounts {
    /// The rounds.
    pub rounds: Vec<Round>,
}

/// One round: the weight of each continuing option, the weight of exhausted ballots, and the option
/// eliminated at its end (none in the last round).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Round {
    /// The continuing options, in increasing order, with their weight this round.
    pub counts: Vec<OptionWeight>,
    /// The weight of ballots that rank no continuing option.
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    pub exhausted_weight: u128,
    /// The option eliminated after this round.
    pub eliminated: Option<u32>,
}

/// An option's weight in a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionWeight {
    /// The option.
    pub option: u32,
    /// Its weight.
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    pub weight: u128,
}

pub(crate) fn count_ranked(
    options: u32,
    ballots: &[Ballot],
    weights: &[u64],
) -> Result<(Outcome, RankedCounts), TallyError> {
    let options = option_count(options)?;
    let mut rankings = Vec::with_capacity(ballots.len());
    for (ballot, &weight) in ballots.iter().zip(weights) {
        match &ballot.choice {
            Choice::Abstain => {}
            Choice::Rank(ranking) => {
                rankings.push((u128::from(weight), check_options(ballot.voter, options, ranking.iter().copied())?))
            }
            _ => return Err(TallyError::WrongChoice { voter: ballot.voter }),
        }
    }
    let mut continuing = vec![true; options];
    // Each ranking's position (its most preferred option still continuing), the ballots each option
    // holds, and each option's weight: kept as options are eliminated, so that a round moves only the
    // eliminated option's ballots, and the whole runoff costs the rankings' length plus rounds ×
    // options, not rounds × rankings.
    let mut positions = vec![0usize; rankings.len()];
    let mut holders: Vec<Vec<usize>> = vec![Vec::new(); options];
    let mut weights = vec![0u128; options];
    let mut exhausted_weight = 0u128;
    for (ballot, (weight, ranking)) in rankings.iter().enumerate() {
        match ranking.first() {
            Some(&index) => {
                weights[index] += weight;
                holders[index].push(ballot);
            }
            None => exhausted_weight += weight,
        }
    }
    // Every round's weights by option (zero once eliminated), for the elimination's tie-break.
    let mut history: Vec<Vec<u128>> = Vec::new();
    let mut rounds = Vec::new();
    loop {
        let alive: Vec<usize> = (0..options).filter(|&index| continuing[index]).collect();
        let counts =
            alive.iter().map(|&index| OptionWeight { option: number(index), weight: weights[index] }).collect();
        let total: u128 = alive.iter().map(|&index| weights[index]).sum();
        let (outcome, eliminated) = if total == 0 {
            // Only possible in the first round: later rounds keep every continuing option's ballots.
            (Some(Outcome::Abstained), None)
        } else if let Some(&winner) = alive.iter().find(|&&index| weights[index] > total - weights[index]) {
            (Some(Outcome::Winner { option: number(winner) }), None)
        } else {
            let last = least_weight(&alive, &weights, &history);
            if last.len() == alive.len() {
                (Some(Outcome::Tie { options: alive.iter().map(|&index| number(index)).collect() }), None)
            } else {
                (None, Some(*last.last().expect("some option has the least weight")))
            }
        };
        rounds.push(Round { counts, exhausted_weight, eliminated: eliminated.map(number) });
        if let Some(outcome) = outcome {
            return Ok((outcome, RankedCounts { rounds }));
        }
        history.push(weights.clone());
        let eliminated = eliminated.expect("a round without an outcome eliminates an option");
        continuing[eliminated] = false;
        weights[eliminated] = 0;
        for ballot in std::mem::take(&mut holders[eliminated]) {
            let (weight, ranking) = &rankings[ballot];
            let position = &mut positions[ballot];
            while *position < ranking.len() && !continuing[ranking[*position]] {
                *position += 1;
            }
            match ranking.get(*position) {
                Some(&index) => {
                    weights[index] += weight;
                    holders[index].push(ballot);
                }
                None => exhausted_weight += weight,
            }
        }
    }
}

/// The continuing options with the least weight this round, narrowed by the rounds before, latest
/// first; in increasing order.
fn least_weight(alive: &[usize], weights: &[u128], history: &[Vec<u128>]) -> Vec<usize> {
    let mut last = fewest(alive, weights);
    for earlier in history.iter().rev() {
        if last.len() == 1 {
            break;
        }
        last = fewest(&last, earlier);
    }
    last
}

fn fewest(among: &[usize], weights: &[u128]) -> Vec<usize> {
    let least = among.iter().map(|&index| weights[index]).min().expect("some option continues");
    among.iter().copied().filter(|&index| weights[index] == least).collect()
}

fn number(index: usize) -> u32 {
    u32::try_from(index).expect("options are numbered by u32")
}
