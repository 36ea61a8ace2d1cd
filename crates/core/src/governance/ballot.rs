//! What a tally is asked: the vote type, the quorum, the electorate's weights and the ballots.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ratio::Ratio;
use crate::fraction::Fraction;

/// How ballots become an outcome. The yes/no types (plurality, supermajority, consensus, threshold)
/// take `yes`, `no` and `abstain`; the weighted ratio takes values; the option types take their own
/// ballot shape (and `abstain` everywhere).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// Externally tagged (`"plurality"`, `{"supermajority": {"threshold": …}}`), so that binary formats,
// which cannot look ahead for a tag, read it back too.
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum VoteType {
    /// Approved when the yes share of the yes and no weight is above one half.
    Plurality,
    /// Approved when the yes share reaches the threshold (`>=`). Seed 000 writes `0.667`, which is
    /// not two thirds: `Ratio::from_fraction(0.667)` rejects two yes of three, `Ratio::TWO_THIRDS`
    /// approves them.
    Supermajority {
        /// The share to reach.
        threshold: Ratio,
    },
    /// Approved when the yes share is exactly one: no weight voted no.
    Consensus,
    /// Approved when the yes weight reaches `yes_weight` (`>=`, as seed 001's `yes_weight >=
    /// quorum_threshold`: 2.5 + 1.5 reaches 4.0). The no weight does not matter. Like every yes/no
    /// type it is abstained when no weight took a side, where seed 001 reports the quorum not met.
    Threshold {
        /// The yes weight to reach, on the electorate's scale.
        yes_weight: u64,
    },
    /// Seed 004's weighted ratio: `Σ value · weight / Σ weight` over the whole electorate, approved
    /// when strictly above `required`. Abstentions and eligible voters who stayed silent count with
    /// value zero and their weight in the denominator, as the seed's loop adds every voter's weight
    /// (silence becomes `Vote.ABSTAIN`, which adds nothing to the weighted sum).
    WeightedRatio {
        /// The ratio to pass (`>`).
        required: Fraction,
    },
    /// Each ballot approves a set of options; the most approval weight wins.
    Approval {
        /// Options, numbered from 0.
        options: u32,
    },
    /// Each voter spends credits on options; credits `c` on an option buy `floor(√c)` votes, each
    /// worth the voter's weight; the most weighted votes win.
    Quadratic {
        /// Options, numbered from 0.
        options: u32,
        /// Credits each voter may spend in all.
        budget: u64,
    },
    /// Instant runoff over rankings (see [`super::ranked`]).
    RankedChoice {
        /// Options, numbered from 0.
        options: u32,
    },
    /// Each voter splits its weight among options in parts summing to exactly one; the largest
    /// total wins.
    WeightedSplit {
        /// Options, numbered from 0.
        options: u32,
    },
}

impl VoteType {
    /// The number of options of an option vote; `None` for the yes/no types and the weighted ratio.
    pub fn options(&self) -> Option<u32> {
        match self {
            VoteType::Approval { options }
            | VoteType::Quadratic { options, .. }
            | VoteType::RankedChoice { options }
            | VoteType::WeightedSplit { options } => Some(*options),
            VoteType::Plurality
            | VoteType::Supermajority { .. }
            | VoteType::Consensus
            | VoteType::Threshold { .. }
            | VoteType::WeightedRatio { .. } => None,
        }
    }
}

/// How many must take part before the outcome counts. Abstentions take part (seed 000 counts every
/// ballot against its quorum, `abstain` included); an eligible voter who cast nothing does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Quorum {
    /// No quorum.
    None,
    /// At least this many ballots.
    Ballots(u32),
    /// Ballots carrying at least this much weight in all.
    Weight(u64),
    /// Ballots carrying at least this share of the electorate's weight.
    Share(Ratio),
}

impl Quorum {
    /// Seed 000's quorum for an electorate of `eligible` voters: `max(2, eligible div 2)` ballots.
    pub fn half_of_electorate(eligible: u32) -> Quorum {
        Quorum::Ballots((eligible / 2).max(2))
    }

    /// Whether `ballots` ballots carrying `cast_weight` of `eligible_weight` reach the quorum.
    pub fn is_reached(self, ballots: u32, cast_weight: u128, eligible_weight: u128) -> bool {
        match self {
            Quorum::None => true,
            Quorum::Ballots(count) => ballots >= count,
            Quorum::Weight(weight) => cast_weight >= u128::from(weight),
            // An empty electorate reaches any share but one above zero; `Ratio` needs a denominator.
            Quorum::Share(share) => match Ratio::new(cast_weight, eligible_weight) {
                Some(cast) => cast >= share,
                None => share == Ratio::ZERO,
            },
        }
    }
}

/// One voter's ballot. Voters are named by their position in the electorate, the list of weights a
/// tally receives; each votes at most once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ballot {
    /// The voter's position in the electorate.
    pub voter: u32,
    /// What it chose.
    pub choice: Choice,
}

/// What a ballot says. Which kinds a vote type takes is on [`VoteType`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// For (the weighted ratio takes it as value one).
    Yes,
    /// Against (the weighted ratio takes it as value zero).
    No,
    /// Takes part without taking a side: counts toward the quorum, not toward any side.
    Abstain,
    /// A value from 0 to 1, for the weighted ratio.
    Value(Fraction),
    /// The options approved, for an approval vote.
    Approve(Vec<u32>),
    /// Options from most to least preferred, for ranked choice; options left out are never
    /// preferred, and a ranking whose options are all eliminated is exhausted.
    Rank(Vec<u32>),
    /// Credits spent per option, for a quadratic vote.
    Credits(Vec<OptionCredits>),
    /// Parts of the voter's weight per option, summing to exactly one, for a weighted split.
    Split(Vec<OptionPart>),
}

/// Credits spent on one option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionCredits {
    /// The option.
    pub option: u32,
    /// The credits.
    pub credits: u64,
}

/// A part of a voter's weight given to one option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionPart {
    /// The option.
    pub option: u32,
    /// The part.
    pub part: Fraction,
}
