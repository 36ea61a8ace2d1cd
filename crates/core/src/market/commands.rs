//! The market's commands: announce, bid, award, accept, decline, progress, submit, verify, cancel.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ContentReference, DependencyFailure, Distribution, ScoringWeights};
use crate::amount::Amount;
use crate::bus::JsonText;
use crate::command::Apply;
use crate::fraction::Fraction;
use crate::ids::{AgentId, Digest, Name};
use crate::limits;
use crate::outcome::CommandResult;
use crate::state::{Context, State};

fn default_bid_window_ms() -> u64 {
    limits::BID_WINDOW_MS_DEFAULT
}

fn default_min_score() -> Fraction {
    Fraction::from_micros(700_000).expect("at most one")
}

fn default_max_retries() -> u32 {
    3
}

fn default_verify_window_ms() -> u64 {
    limits::VERIFY_WINDOW_MS_DEFAULT
}

pub(super) fn default_estimated_load() -> u32 {
    limits::TASK_LOAD_DEFAULT
}

/// The signing agent (the manager) announces a task for bids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnounceTask {
    /// The manager's id for the task: announcing the same task again returns it; different terms
    /// under the same id are refused.
    pub task_id: Name,
    /// What kind of work (`analyze`, `execute`, `monitor`, or any other name).
    pub kind: Name,
    /// Capabilities a bidder must have, all of them.
    #[serde(default)]
    #[schemars(length(max = limits::REQUIRED_CAPABILITIES_MAX))]
    pub required_capabilities: BTreeSet<Name>,
    /// The work's input, inline (any JSON value).
    #[serde(default)]
    pub payload: Option<JsonText>,
    /// Or where the input is, with its SHA-256.
    #[serde(default)]
    pub reference: Option<ContentReference>,
    /// The most the manager pays; bids above it are refused.
    pub max_cost: Amount,
    /// The longest the work may take from its award.
    #[schemars(range(min = 1, max = limits::TASK_DEADLINE_MS_MAX))]
    pub deadline_ms: u64,
    /// How long bids are taken (log time), 2,000 ms unless given.
    #[serde(default = "default_bid_window_ms")]
    #[schemars(range(max = limits::BID_WINDOW_MS_MAX))]
    pub bid_window_ms: u64,
    /// How bids are scored (seed 000's 0.4 / 0.3 / 0.3 unless given); they must add up to one.
    #[serde(default)]
    pub weights: ScoringWeights,
    /// Who scores the result (the manager unless given).
    #[serde(default)]
    pub verifier: Option<AgentId>,
    /// Who settles a disputed escrow (the operator unless given).
    #[serde(default)]
    pub arbiter: Option<AgentId>,
    /// Results scored below this are rejected (0.7 unless given).
    #[serde(default = "default_min_score")]
    pub min_score: Fraction,
    /// Awards after a rejected result or a missed deadline (3 unless given).
    #[serde(default = "default_max_retries")]
    #[schemars(range(max = limits::TASK_RETRIES_MAX))]
    pub max_retries: u32,
    /// Higher first, where work is distributed.
    #[serde(default)]
    pub priority: u8,
    /// The manager's task ids that must complete before this one opens.
    #[serde(default)]
    #[schemars(length(max = limits::DEPENDENCIES_PER_TASK_MAX))]
    pub depends_on: Vec<Name>,
    /// `fail` (the default) or `skip` when a dependency ends without completing.
    #[serde(default)]
    pub on_dependency_failure: DependencyFailure,
    /// The wallet that pays: the manager's (the default) or one of its children's.
    #[serde(default)]
    pub payer: Option<AgentId>,
    /// Only these agents may bid; the auction closes as soon as all have.
    #[serde(default)]
    #[schemars(length(max = limits::INVITED_PER_TASK_MAX))]
    pub invited: BTreeSet<AgentId>,
    /// How long the verifier has to score a submitted result before it is paid anyway (one hour
    /// unless given).
    #[serde(default = "default_verify_window_ms")]
    #[schemars(range(min = 1, max = limits::VERIFY_WINDOW_MS_MAX))]
    pub verify_window_ms: u64,
    /// `auction` (the default: bids, then an award) or `direct` (no bids: the best eligible agent
    /// with room is assigned at `max_cost`; see the market's `assignment.rs`).
    #[serde(default)]
    pub distribution: Distribution,
    /// The work's weight against an agent's capacity, in load units (1 unless given).
    #[serde(default = "default_estimated_load")]
    #[schemars(range(min = 1, max = limits::TASK_LOAD_MAX))]
    pub estimated_load: u32,
}

impl Apply for AnnounceTask {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.announce_task(context, self)
    }
}

/// The signing agent bids on an open task, or replaces its bid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceBid {
    /// The task.
    pub task: u64,
    /// What the bidder asks to be paid (at most the task's `max_cost`).
    pub estimated_cost: Amount,
    /// How long it needs from the award (at most the task's deadline).
    pub estimated_time_ms: u64,
    /// Its confidence in the result, from 0 to 1.
    pub confidence: Fraction,
    /// A digest of its evidence of capability.
    #[serde(default)]
    pub capability_proof: Option<Digest>,
}

impl Apply for PlaceBid {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.place_bid(context, self)
    }
}

/// The signing agent withdraws its bid before the window closes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBid {
    /// The task.
    pub task: u64,
}

impl Apply for WithdrawBid {
    const ALLOWED_WHILE_HALTED: bool = true;

    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.withdraw_bid(context, self.task)
    }
}

/// The manager closes bidding now and awards the task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardTask {
    /// The task.
    pub task: u64,
}

impl Apply for AwardTask {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.award_now(context, self.task)
    }
}

/// The winner takes the task on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptTask {
    /// The task.
    pub task: u64,
}

impl Apply for AcceptTask {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.accept_task(context, self.task)
    }
}

/// The winner turns the task down before accepting it: its escrow is refunded and the next-best
/// bid wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineTask {
    /// The task.
    pub task: u64,
}

impl Apply for DeclineTask {
    const ALLOWED_WHILE_HALTED: bool = true;

    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.decline_task(context, self.task)
    }
}

/// The winner reports how far it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportProgress {
    /// The task.
    pub task: u64,
    /// Percent done, 0 to 100.
    #[schemars(range(max = 100))]
    pub percent: u8,
    /// A note.
    #[serde(default)]
    #[schemars(length(max = limits::REASON_BYTES_MAX))]
    pub note: String,
}

impl Apply for ReportProgress {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.report_progress(context, self)
    }
}

/// The winner delivers its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitResult {
    /// The task.
    pub task: u64,
    /// The result inline (any JSON value).
    #[serde(default)]
    pub result: Option<JsonText>,
    /// Or where it is, with its SHA-256.
    #[serde(default)]
    pub reference: Option<ContentReference>,
    /// What the work cost, as the winner reports it.
    #[serde(default)]
    pub actual_cost: Amount,
}

impl Apply for SubmitResult {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.submit_result(context, self)
    }
}

/// The verifier scores a submitted result: at or above the task's minimum the escrow is released;
/// below it the escrow is disputed and the task retried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyResult {
    /// The task.
    pub task: u64,
    /// The result's quality, from 0 to 1.
    pub score: Fraction,
}

impl Apply for VerifyResult {
    // A halted verifier must still be able to pay for work already done.
    const ALLOWED_WHILE_HALTED: bool = true;

    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.verify_result(context, self.task, self.score)
    }
}

/// The manager cancels a task nobody has accepted yet (an award's escrow is refunded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelTask {
    /// The task.
    pub task: u64,
    /// Why.
    #[serde(default)]
    #[schemars(length(max = limits::REASON_BYTES_MAX))]
    pub reason: String,
}

impl Apply for CancelTask {
    const ALLOWED_WHILE_HALTED: bool = true;

    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.cancel_task(context, self.task, &self.reason)
    }
}

/// The signing agent says how much direct work it takes on at once, in load units (0: none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareCapacity {
    /// Its capacity: direct tasks are assigned to it while its load plus theirs stays within this.
    #[schemars(range(max = limits::AGENT_CAPACITY_MAX))]
    pub max_load: u32,
}

impl Apply for DeclareCapacity {
    // A halted agent may still lower what it takes on.
    const ALLOWED_WHILE_HALTED: bool = true;

    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.declare_capacity(context, self)
    }
}

fn default_batch_size() -> u32 {
    limits::BATCH_SIZE_DEFAULT
}

/// The signing agent (the manager) announces many items of work at once, split as seed 004's
/// `BatchCoordinator` splits them: into batches of `batch_size`, each over `agents` eligible agents
/// (fewer when fewer have room), one direct task per chunk, assigned at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnounceBatch {
    /// The batch's id: chunk `c` of batch `b` is the manager's task `<batch_id>.<b>.<c>` (from 0).
    pub batch_id: Name,
    /// What kind of work.
    pub kind: Name,
    /// Capabilities an agent must have, all of them.
    #[serde(default)]
    #[schemars(length(max = limits::REQUIRED_CAPABILITIES_MAX))]
    pub required_capabilities: BTreeSet<Name>,
    /// The items inline: each chunk's payload is the array of its items. Or give `item_count` and
    /// `reference`.
    #[serde(default)]
    pub items: Option<Vec<JsonText>>,
    /// How many items the referenced content holds: each chunk's payload is
    /// `{"batch": <reference>, "from": <first index>, "to": <index after the last>}`.
    #[serde(default)]
    #[schemars(range(min = 1, max = limits::BATCH_ITEMS_MAX))]
    pub item_count: Option<u32>,
    /// Where the items are, with their SHA-256.
    #[serde(default)]
    pub reference: Option<ContentReference>,
    /// Items per batch (100 unless given).
    #[serde(default = "default_batch_size")]
    #[schemars(range(min = 1, max = limits::BATCH_SIZE_MAX))]
    pub batch_size: u32,
    /// How many agents each batch is split over, at most.
    #[schemars(range(min = 1, max = limits::BATCH_AGENTS_MAX))]
    pub agents: u32,
    /// What one item pays: a chunk's `max_cost` is this times its items, all of it locked at once.
    pub max_cost_per_item: Amount,
    /// The longest a chunk's work may take from its assignment.
    #[schemars(range(min = 1, max = limits::TASK_DEADLINE_MS_MAX))]
    pub deadline_ms: u64,
    /// How long a chunk declined or failed may wait for another agent (2,000 ms unless given).
    #[serde(default = "default_bid_window_ms")]
    #[schemars(range(max = limits::BID_WINDOW_MS_MAX))]
    pub bid_window_ms: u64,
    /// Who scores the chunks' results (the manager unless given).
    #[serde(default)]
    pub verifier: Option<AgentId>,
    /// Who settles a disputed escrow (the operator unless given).
    #[serde(default)]
    pub arbiter: Option<AgentId>,
    /// Results scored below this are rejected (0.7 unless given).
    #[serde(default = "default_min_score")]
    pub min_score: Fraction,
    /// Assignments after a rejected result or a missed deadline (3 unless given).
    #[serde(default = "default_max_retries")]
    #[schemars(range(max = limits::TASK_RETRIES_MAX))]
    pub max_retries: u32,
    /// Higher first, where work is distributed.
    #[serde(default)]
    pub priority: u8,
    /// The wallet that pays: the manager's (the default) or one of its children's.
    #[serde(default)]
    pub payer: Option<AgentId>,
    /// Only these agents may take chunks.
    #[serde(default)]
    #[schemars(length(max = limits::INVITED_PER_TASK_MAX))]
    pub invited: BTreeSet<AgentId>,
    /// How long the verifier has to score a result before it is paid anyway (one hour unless given).
    #[serde(default = "default_verify_window_ms")]
    #[schemars(range(min = 1, max = limits::VERIFY_WINDOW_MS_MAX))]
    pub verify_window_ms: u64,
    /// Each chunk's load on its agent's capacity, in units (1 unless given).
    #[serde(default = "default_estimated_load")]
    #[schemars(range(min = 1, max = limits::TASK_LOAD_MAX))]
    pub estimated_load: u32,
}

impl Apply for AnnounceBatch {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.announce_batch(context, self)
    }
}
