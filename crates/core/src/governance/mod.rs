//! Governance's arithmetic: the tally of a vote, pure and exact.
//!
//! Given a vote type, a quorum, the electorate's weights and the ballots, [`tally()`] gives the
//! outcome and the counts behind it, and [`settled_outcome`] tells whether the voters yet to vote
//! could still change it. Nothing here holds state, reads a clock or rounds a decision: weights are
//! integers on the caller's scale (role weights in millionths, stake in minor units, or one per
//! voter), shares are exact [`Ratio`]s compared by cross-multiplication, and the only rounding is
//! the three-decimal rendering of a share for display. Proposals and ballots are built on it.
//!
//! - [`ballot`]: vote types, quorums, ballots and their choices.
//! - [`tally`](mod@tally): the tally, the yes/no types and the weighted ratio.
//! - [`options`]: approval, quadratic and weighted-split votes.
//! - [`ranked`]: ranked choice by instant runoff.
//! - [`settle`]: whether the outcome is settled before everyone has voted.
//! - [`ratio`]: exact shares.
//! - [`error`]: malformed ballots.

pub mod ballot;
pub mod error;
pub mod options;
pub mod ranked;
pub mod ratio;
pub mod settle;
pub mod tally;
mod wide;

pub use ballot::{Ballot, Choice, OptionCredits, OptionPart, Quorum, VoteType};
pub use error::TallyError;
pub use options::OptionCounts;
pub use ranked::{OptionWeight, RankedCounts, Round};
pub use ratio::Ratio;
pub use settle::settled_outcome;
pub use tally::{Counts, Outcome, RatioCounts, Tally, YesNoCounts, tally};
