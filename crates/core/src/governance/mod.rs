//! Governance's arithmetic: the tally of a vote, pure and exact.
//!
//! Given a vote type, a quorum, the electorate's weights and the ballots, [`tally()`] gives the
//! outcome and the counts behind it, and [`settled_outcome`] tells whether the voters yet to vote
//! could still change it. Nothing here holds state, reads a clock or rounds a decision: weights are
//! integers on the caller's scale (role weights in millionths, stake in minor units, or one per
//! voter), shares are exact [`Ratio`]s compared by cross-multiplication, and the only rounding is
//! the three-decimal rendering of a share for display.
//!
//! Proposals and ballots are built on it, as a command family: a proposal freezes its electorate and
//! weights when it is created, takes one live ballot per voter until it closes (by its deadline in
//! log time, by a settled outcome, or by a veto), and its decision is sealed into one hash chain of
//! every decision the swarm made.
//!
//! - [`ballot`]: vote types, quorums, ballots and their choices.
//! - [`tally`](mod@tally): the tally, the yes/no types and the weighted ratio.
//! - [`options`]: approval, quadratic and weighted-split votes.
//! - [`ranked`]: ranked choice by instant runoff.
//! - [`settle`]: whether the outcome is settled before everyone has voted.
//! - [`ratio`]: exact shares.
//! - [`error`]: malformed ballots.
//! - [`book`]: the state: proposals, electorates, ballots, decisions, the chain head; invariants.
//! - [`commands`]: `proposal.create`, `proposal.amend`, `proposal.cancel`, `proposal.veto`,
//!   `ballot.cast`, `governance.bootstrap_end`.
//! - [`jury`]: juries, the proposals a dispute of an escrow without an arbiter opens, and the
//!   verdicts that settle it.
//! - [`action`]: proposals' actions (run at an approving close, all or none) and the operator's
//!   guarded kinds after bootstrap.
//! - `proposal.rs`: creating (the electorate frozen), amending and cancelling.
//! - `voting.rs`: ballots, vetoes, closes and the deadlines run from `State::apply`.
//! - [`seal`](mod@seal): the seal of a decision, a pure function of what it covers.
//! - [`rejections`]: refusals, `GovernanceRejection`.

pub mod action;
pub mod ballot;
pub mod book;
pub mod commands;
pub mod error;
pub mod jury;
pub mod options;
mod proposal;
pub mod ranked;
pub mod ratio;
pub mod rejections;
pub mod seal;
pub mod settle;
pub mod tally;
mod voting;
mod wide;

pub use action::{ActionResult, is_actionable};
pub use ballot::{Ballot, Choice, OptionCredits, OptionPart, Quorum, VoteType};
pub use book::{
    Closure, Decision, Eligibility, Governance, LiveBallot, Proposal, ProposalState, ProposalTerms, Voter, WeightSource,
};
pub use error::TallyError;
pub use jury::{JURY_SPLIT_PAYEE_BPS, Jury, Verdict};
pub use options::OptionCounts;
pub use ranked::{OptionWeight, RankedCounts, Round};
pub use ratio::Ratio;
pub use seal::{SEAL_DOMAIN, SealInput, seal};
pub use settle::settled_outcome;
pub use tally::{Counts, Outcome, RatioCounts, Tally, YesNoCounts, tally};
