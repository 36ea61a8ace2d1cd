//! The task market: Contract Net auctions whose award locks the payment in escrow, execution,
//! verification that pays or disputes, retries, reputation and dependencies between tasks.
//!
//! A task's life, and who moves it:
//!
//! ```text
//! waiting ── its dependencies complete ──▶ open ── window closes (log time), every invited bidder
//!    │                                      │      has bid, or the manager awards early
//!    └─ a dependency fails ─▶ failed        ▼
//!                          unassigned ◀── award ──▶ unfunded (the payer cannot lock the price)
//!                          (no bids)        │ locks the winner's price in escrow, same entry
//!                                           ▼
//!                                       awarded ── winner declines ──▶ next-best bid (new escrow)
//!                                           │ winner accepts
//!                                           ▼
//!                                       running ── deadline passes ──▶ refund, retry or failed
//!                                           │ winner submits
//!                                           ▼
//!                                      submitted ── verifier: score ≥ minimum ──▶ completed (released)
//!                                                   score < minimum ──▶ escrow disputed, retry or failed
//!                                                   silent past the window ──▶ completed (released)
//! ```
//!
//! A `direct` task takes no bids: while open it waits in the assignment queue and is assigned to the
//! best eligible agent with room at its `max_cost` (`assignment.rs`); a batch announces many direct
//! tasks at once, split over several agents (`batch.rs`). Both lock the escrow through the award's
//! own path and then follow the same life.
//!
//! A retry excludes every agent that had the task before and awards the next-best remaining bid, or
//! opens a new bidding round when none is left. The manager cancels a task before anyone accepted
//! it (an awarded escrow is refunded); after that only the verifier's verdict or the escrow's arbiter
//! ends it, as the escrow's rules say: a payer never takes back a promise unilaterally.
//!
//! Scores, confidences and weights are [`Fraction`]s (millionths); see `auction.rs` for the score.
//!
//! # Layout
//! - `mod.rs`: the market's state, its types, queries and invariants.
//! - `commands.rs`: the command structs.
//! - `auction.rs`: announce, bid, withdraw, award and the score.
//! - `execution.rs`: accept, decline, progress, submit, verify, cancel, deadlines and retries.
//! - `dependencies.rs`: tasks that wait for others.
//! - `assignment.rs`: direct assignment, load, capacity and the assignment queue.
//! - `batch.rs`: a batch of items split across agents, one direct task per chunk.
//! - `reputation.rs`: each agent's record as a worker.
//! - `rejections.rs`: `MarketRejection`.

mod affinities;
pub use affinities::{Affinities, Affinity};
mod assignment;
mod auction;
pub use assignment::{Candidate, Look, RankKey, agent_order};
pub use auction::{RankedBid, bid_score};
mod batch;
pub use batch::split_batch;
pub mod commands;
mod dependencies;
mod execution;
pub mod rejections;
mod reputation;

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::bus::JsonText;
use crate::fraction::Fraction;
use crate::ids::{AgentId, Digest, Name};
use crate::limits;
use crate::registry::AgentHandle;

pub use reputation::Reputation;

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Announced; waits for its dependencies to complete.
    Waiting,
    /// Taking bids until its window closes.
    Open,
    /// Awarded: the price is locked in escrow; the winner has not accepted yet.
    Awarded,
    /// The winner accepted and works on it.
    Running,
    /// The winner submitted a result; the verifier has not scored it yet.
    Submitted,
    /// Verified (or not contested in time) and paid.
    Completed,
    /// Out of retries, or a dependency failed.
    Failed,
    /// Cancelled by its manager.
    Cancelled,
    /// Nobody bid.
    Unassigned,
    /// The paying wallet could not lock the winning price.
    Unfunded,
    /// A party disputed the escrow; its arbiter settles the money and the task ends here.
    Disputed,
}

impl TaskState {
    /// Whether the task has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Completed
                | TaskState::Failed
                | TaskState::Cancelled
                | TaskState::Unassigned
                | TaskState::Unfunded
                | TaskState::Disputed
        )
    }

    /// Whether the task's `max_cost` counts against its paying wallet's balance: from the announce
    /// until an award locks the actual price (or the task ends).
    pub fn commits_funds(self) -> bool {
        matches!(self, TaskState::Waiting | TaskState::Open)
    }

    /// The state's name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Waiting => "waiting",
            TaskState::Open => "open",
            TaskState::Awarded => "awarded",
            TaskState::Running => "running",
            TaskState::Submitted => "submitted",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
            TaskState::Unassigned => "unassigned",
            TaskState::Unfunded => "unfunded",
            TaskState::Disputed => "disputed",
        }
    }
}

/// How the bids of a task are scored. The weights must add up to exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoringWeights {
    /// Weight of `1 − cost / max_cost`.
    pub cost: Fraction,
    /// Weight of `1 − time / deadline`.
    pub time: Fraction,
    /// Weight of the bidder's confidence.
    pub confidence: Fraction,
    /// Weight of the bidder's performance score (its reputation), 0 unless asked for.
    #[serde(default)]
    pub reputation: Fraction,
}

impl Default for ScoringWeights {
    /// Seed 000's: cost 0.4, time 0.3, confidence 0.3.
    fn default() -> Self {
        ScoringWeights {
            cost: Fraction::from_micros(400_000).expect("at most one"),
            time: Fraction::from_micros(300_000).expect("at most one"),
            confidence: Fraction::from_micros(300_000).expect("at most one"),
            reputation: Fraction::ZERO,
        }
    }
}

/// How a task finds its worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Agents bid; the best bid wins (Contract Net).
    #[default]
    Auction,
    /// No bids: the best eligible agent with room is assigned at `max_cost`.
    Direct,
}

impl Distribution {
    /// The name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Auction => "auction",
            Distribution::Direct => "direct",
        }
    }
}

/// What to do with a waiting task when one of its dependencies ends without completing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DependencyFailure {
    /// The task fails too, and so do its own dependents that say `fail`.
    #[default]
    Fail,
    /// The task treats the dependency as done and opens when the others complete.
    Skip,
}

/// Content kept elsewhere: where, and the SHA-256 of its bytes so that whoever fetches it can check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentReference {
    /// Where the content is (a URL, an object key, a stream message).
    #[schemars(length(min = 1, max = limits::TASK_REFERENCE_BYTES_MAX))]
    pub uri: String,
    /// SHA-256 of the content.
    pub sha256: Digest,
}

/// One bid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Bid {
    /// What the bidder asks to be paid; the escrow locks this much on award.
    pub estimated_cost: Amount,
    /// How long it says it needs, from the award.
    pub estimated_time_ms: u64,
    /// Its confidence in the result.
    pub confidence: Fraction,
    /// A digest of the bidder's evidence of capability (a performance record, say).
    pub capability_proof: Option<Digest>,
    /// The entry that placed (or last replaced) it: the earlier bid wins a tie.
    pub placed_at_sequence: u64,
    /// When (log time).
    pub placed_at_ms: u64,
}

/// A winner's delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Submission {
    /// The result inline (canonical JSON text).
    pub result: Option<JsonText>,
    /// Or where it is.
    pub reference: Option<ContentReference>,
    /// What the work cost the winner, as it reports (for its reputation's total cost).
    pub actual_cost: Amount,
    /// When it was submitted (log time).
    pub submitted_at_ms: u64,
}

/// How one attempt at a task ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// Externally tagged: snapshots are postcard, which cannot decode an internally tagged enum.
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// Still under way.
    Current,
    /// The winner declined; its escrow was refunded.
    Declined,
    /// The deadline passed without a result; the escrow was refunded.
    MissedDeadline,
    /// The verifier scored the result below the minimum; the escrow was disputed.
    Rejected {
        /// The score.
        score: Fraction,
    },
    /// Paid: verified at this score, or (`score` absent) not scored within the verification window.
    Completed {
        /// The score, when the verifier gave one.
        score: Option<Fraction>,
    },
    /// The manager cancelled before the winner accepted; the escrow was refunded.
    Cancelled,
    /// A party disputed the escrow.
    Disputed,
}

impl AttemptOutcome {
    /// The outcome's name, as its JSON tag.
    pub fn name(&self) -> &'static str {
        match self {
            AttemptOutcome::Current => "current",
            AttemptOutcome::Declined => "declined",
            AttemptOutcome::MissedDeadline => "missed_deadline",
            AttemptOutcome::Rejected { .. } => "rejected",
            AttemptOutcome::Completed { .. } => "completed",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::Disputed => "disputed",
        }
    }
}

/// One award of a task and what came of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Attempt {
    /// Who won it.
    pub winner: AgentId,
    /// The escrow locked for it.
    pub escrow: u64,
    /// The price locked.
    pub price: Amount,
    /// The winning bid's score.
    pub score: Fraction,
    /// The time the winner said it needed: a result within it is on time.
    pub estimated_time_ms: u64,
    /// When it was awarded (log time).
    pub awarded_at_ms: u64,
    /// The result must be submitted by then.
    pub due_at_ms: u64,
    /// When the winner accepted.
    pub accepted_at_ms: Option<u64>,
    /// The winner's last progress report: percent done and a note.
    pub progress: Option<(u8, String)>,
    /// What the winner delivered.
    pub submission: Option<Submission>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// When it ended.
    pub ended_at_ms: Option<u64>,
}

/// What was announced: the terms of a task, fixed at announce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskTerms {
    /// The manager's own id for the task (announcing it again returns the same task).
    pub task_id: Name,
    /// What kind of work (`analyze`, `execute`, `monitor`, …).
    pub kind: Name,
    /// Capabilities a bidder must have, all of them.
    pub required_capabilities: BTreeSet<Name>,
    /// The work's input, inline.
    pub payload: Option<JsonText>,
    /// Or where it is.
    pub reference: Option<ContentReference>,
    /// The most the manager pays.
    pub max_cost: Amount,
    /// The longest the work may take from its award; also the limit of a bid's estimated time.
    pub deadline_ms: u64,
    /// How long bids are taken, from the moment the task opens.
    pub bid_window_ms: u64,
    /// How bids are scored.
    pub weights: ScoringWeights,
    /// Who scores the result: this agent, or the manager.
    pub verifier: Option<AgentId>,
    /// Who settles a disputed escrow: this agent, or the operator.
    pub arbiter: Option<AgentId>,
    /// A result scored below this is rejected.
    pub min_score: Fraction,
    /// How many times the task is awarded again after a rejected result or a missed deadline.
    pub max_retries: u32,
    /// Higher first, where work is distributed.
    pub priority: u8,
    /// Tasks (by the manager's task ids, resolved to numbers) that must complete first.
    pub depends_on: Vec<u64>,
    /// What a failed dependency does to this task.
    pub on_dependency_failure: DependencyFailure,
    /// The wallet that pays: the manager's, or one of its children's.
    pub payer: AgentId,
    /// When not empty, only these agents may bid, and the auction closes as soon as all have.
    pub invited: BTreeSet<AgentId>,
    /// How long the verifier has to score a submitted result before it is paid anyway.
    pub verify_window_ms: u64,
    /// By auction or by direct assignment.
    pub distribution: Distribution,
    /// Load units the task weighs on its winner's capacity while it holds the task.
    pub estimated_load: u32,
}

/// One task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Task {
    /// Assigned by the market, increasing.
    pub id: u64,
    /// Who announced it.
    pub manager: AgentId,
    /// What was announced.
    pub terms: TaskTerms,
    /// SHA-256 of the announcement, to tell a repeated announce from a conflicting one.
    pub announcement: Digest,
    /// Where it stands.
    pub state: TaskState,
    /// When it was announced (log time).
    pub announced_at_ms: u64,
    /// When bidding closes (while open).
    pub closes_at_ms: Option<u64>,
    /// Bidding rounds opened so far (a retry with no bid left opens another).
    pub rounds: u32,
    /// Live bids by bidder.
    pub bids: BTreeMap<AgentId, Bid>,
    /// Agents that had the task and may not have it again.
    pub excluded: BTreeSet<AgentId>,
    /// Every award, the current one last.
    pub attempts: Vec<Attempt>,
    /// Retries used (rejected results and missed deadlines).
    pub retries: u32,
    /// Why it ended, in a sentence, when it did not complete.
    pub reason: Option<String>,
    /// When it ended.
    pub ended_at_ms: Option<u64>,
    /// The time-driven change it waits for, if any (mirrors the market's deadline index).
    pub deadline_at_ms: Option<u64>,
}

impl Task {
    /// The current attempt, while the task is awarded, running or submitted.
    pub fn current_attempt(&self) -> Option<&Attempt> {
        self.attempts.last().filter(|attempt| attempt.outcome == AttemptOutcome::Current)
    }

    /// The agent that scores results.
    pub fn verifier(&self) -> &AgentId {
        self.terms.verifier.as_ref().unwrap_or(&self.manager)
    }

    /// The result of the completed attempt, if the task completed.
    pub fn result(&self) -> Option<&Submission> {
        if self.state != TaskState::Completed {
            return None;
        }
        self.attempts.last().and_then(|attempt| attempt.submission.as_ref())
    }
}

/// The market's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Market {
    /// Boxed for the same reason as escrows: ids only grow and nodes stay half full.
    pub(crate) tasks: BTreeMap<u64, Box<Task>>,
    pub(crate) next_task_id: u64,
    /// `(manager, task id)` → task, for idempotent announces and dependencies.
    pub(crate) by_manager: BTreeMap<(AgentId, Name), u64>,
    /// `(deadline, task)` for every task waiting for a time-driven change.
    pub(crate) deadlines: BTreeSet<(u64, u64)>,
    /// `(dependency, dependent)` for every waiting task.
    pub(crate) dependents: BTreeSet<(u64, u64)>,
    /// Tasks that have not ended, per manager (bounded by `OPEN_TASKS_PER_MANAGER_MAX`).
    pub(crate) open_per_manager: BTreeMap<AgentId, u32>,
    /// Tasks that have not ended.
    pub(crate) open_tasks: u64,
    /// Live bids per bidder (bounded by `LIVE_BIDS_PER_AGENT_MAX`).
    pub(crate) live_bids_per_agent: BTreeMap<AgentId, u32>,
    /// Live bids in all.
    pub(crate) live_bids: u64,
    /// The `max_cost` of every task not yet awarded (waiting or open), per paying wallet: an announce
    /// must keep it within the wallet's balance.
    pub(crate) committed_per_payer: BTreeMap<AgentId, u128>,
    /// Ended tasks in id order, the candidates for eviction past the retention limit.
    pub(crate) ended: BTreeSet<u64>,
    /// Each agent's record as a worker, by handle.
    pub(crate) reputations: BTreeMap<AgentHandle, Reputation>,
    /// Load units each agent holds: the `estimated_load` of every task whose current attempt is its.
    pub(crate) load_per_agent: BTreeMap<AgentId, u64>,
    /// Capacities agents declared (`task.capacity`); the others have `AGENT_CAPACITY_DEFAULT`.
    pub(crate) capacities: BTreeMap<AgentId, u32>,
    /// `(manager, kind, worker)`: the worker completed a task of that kind for that manager.
    pub(crate) affinities: Affinities,
    /// Open direct tasks waiting for an agent, as `(255 − priority, task)`: highest priority first,
    /// then the oldest.
    pub(crate) assignment_queue: BTreeSet<(u8, u64)>,
    /// Since when the queue may have work to do (a task joined it, load was freed, a capacity was
    /// declared), until a pass reaches its end.
    pub(crate) assignments_due_at_ms: Option<u64>,
    /// Where an unfinished pass resumes: the last queue entry it looked at.
    pub(crate) assignment_cursor: Option<(u8, u64)>,
    /// The agent the last direct assignment from a window went to, or the last of a window that
    /// found nobody with room: the next window over a population larger than
    /// `ASSIGNMENT_CANDIDATES_PER_TASK_MAX` starts after it (see `assignment.rs`).
    pub(crate) assignment_window_after: Option<AgentHandle>,
    /// Windows that found nobody with room since the last assignment or the last change that could
    /// free room: while they cover less than the population looked at, the pass stays due.
    pub(crate) assignment_window_misses: u32,
}

impl Market {
    /// One task.
    pub fn task(&self, id: u64) -> Option<&Task> {
        self.tasks.get(&id).map(|task| &**task)
    }

    /// A manager's task by its own task id.
    pub fn task_by_manager(&self, manager: &AgentId, task_id: &Name) -> Option<&Task> {
        self.by_manager.get(&(manager.clone(), task_id.clone())).and_then(|id| self.task(*id))
    }

    /// Every retained task in id order.
    pub fn tasks(&self) -> impl DoubleEndedIterator<Item = &Task> {
        self.tasks.values().map(|task| &**task)
    }

    /// Tasks with ids above `after`, in id order.
    pub fn tasks_after(&self, after: u64) -> impl Iterator<Item = &Task> {
        self.tasks.range(after.saturating_add(1)..).map(|(_, task)| &**task)
    }

    /// Tasks that have not ended.
    pub fn open_tasks(&self) -> u64 {
        self.open_tasks
    }

    /// Live bids in all.
    pub fn live_bids(&self) -> u64 {
        self.live_bids
    }

    /// What a paying wallet's tasks not yet awarded may cost at most, together.
    pub fn committed_funds(&self, payer: &AgentId) -> u128 {
        self.committed_per_payer.get(payer).copied().unwrap_or(0)
    }

    /// Moves a task to `state`, keeping the funds committed per paying wallet in step: every change
    /// of a task's state goes through here.
    pub(crate) fn set_state(&mut self, id: u64, state: TaskState) {
        let task = self.tasks.get_mut(&id).expect("the caller found the task");
        let (before, after) = (task.state.commits_funds(), state.commits_funds());
        task.state = state;
        if before != after {
            let (payer, max_cost) = (task.terms.payer.clone(), u128::from(task.terms.max_cost.0));
            self.change_commitment(payer, max_cost, after);
        }
    }

    /// Adds `max_cost` to, or takes it from, a paying wallet's committed funds.
    fn change_commitment(&mut self, payer: AgentId, max_cost: u128, add: bool) {
        if add {
            *self.committed_per_payer.entry(payer).or_default() += max_cost;
            return;
        }
        let committed = self.committed_per_payer.get_mut(&payer).expect("a committing task is counted");
        *committed -= max_cost;
        if *committed == 0 {
            self.committed_per_payer.remove(&payer);
        }
    }

    /// Files a newly announced task (its state commits funds) under its id.
    pub(crate) fn insert_announced(&mut self, task: Task) {
        assert!(task.state.commits_funds(), "an announced task waits or is open");
        let (payer, max_cost) = (task.terms.payer.clone(), u128::from(task.terms.max_cost.0));
        self.by_manager.insert((task.manager.clone(), task.terms.task_id.clone()), task.id);
        *self.open_per_manager.entry(task.manager.clone()).or_default() += 1;
        self.open_tasks += 1;
        self.tasks.insert(task.id, Box::new(task));
        self.change_commitment(payer, max_cost, true);
    }

    /// The earliest time-driven change due (an unfinished pass over the assignment queue is due
    /// at once).
    pub(crate) fn next_deadline_ms(&self) -> Option<u64> {
        let deadline = self.deadlines.first().map(|(deadline_ms, _)| *deadline_ms);
        deadline.into_iter().chain(self.assignments_due_at_ms).min()
    }

    /// Checks the market's indexes and counts against its tasks.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let mut open = 0u64;
        let mut per_manager: BTreeMap<&AgentId, u32> = BTreeMap::new();
        let mut bids_per_agent: BTreeMap<&AgentId, u32> = BTreeMap::new();
        let mut bids = 0u64;
        let mut deadlines = 0usize;
        let mut committed: BTreeMap<&AgentId, u128> = BTreeMap::new();
        for (id, task) in &self.tasks {
            if task.state.commits_funds() {
                *committed.entry(&task.terms.payer).or_default() += u128::from(task.terms.max_cost.0);
            }
            if task.id != *id || task.id >= self.next_task_id {
                return Err(format!("task {id} is stored under the wrong id"));
            }
            if self.by_manager.get(&(task.manager.clone(), task.terms.task_id.clone())) != Some(id) {
                return Err(format!("task {id} is missing from the manager index"));
            }
            let current = task.attempts.iter().filter(|attempt| attempt.outcome == AttemptOutcome::Current).count();
            let active = matches!(task.state, TaskState::Awarded | TaskState::Running | TaskState::Submitted);
            if current != usize::from(active) || (active && task.current_attempt().is_none()) {
                return Err(format!("task {id} is {} with {current} current attempts", task.state.name()));
            }
            if task.attempts.len() > limits::ATTEMPTS_PER_TASK_MAX {
                return Err(format!("task {id} has too many attempts"));
            }
            if task.state.is_terminal() {
                if !self.ended.contains(id) || task.ended_at_ms.is_none() || !task.bids.is_empty() {
                    return Err(format!("ended task {id} is not filed as ended, or kept its bids"));
                }
            } else {
                open += 1;
                *per_manager.entry(&task.manager).or_default() += 1;
                if self.ended.contains(id) {
                    return Err(format!("open task {id} is filed as ended"));
                }
            }
            if task.state != TaskState::Open && !task.bids.is_empty() && !active {
                return Err(format!("task {id} holds bids while {}", task.state.name()));
            }
            if task.bids.len() > limits::BIDS_PER_TASK_MAX {
                return Err(format!("task {id} has too many bids"));
            }
            for bidder in task.bids.keys() {
                *bids_per_agent.entry(bidder).or_default() += 1;
                bids += 1;
            }
            let expects_deadline =
                matches!(task.state, TaskState::Open | TaskState::Awarded | TaskState::Running | TaskState::Submitted);
            match task.deadline_at_ms {
                Some(deadline_ms) if expects_deadline => {
                    if !self.deadlines.contains(&(deadline_ms, *id)) {
                        return Err(format!("task {id}'s deadline is not indexed"));
                    }
                    deadlines += 1;
                }
                None if !expects_deadline => {}
                _ => return Err(format!("task {id} is {} with deadline {:?}", task.state.name(), task.deadline_at_ms)),
            }
            if task.state == TaskState::Waiting {
                // A waiting task is indexed under exactly its dependencies that have not ended (those
                // that completed, or failed under `skip`, before it was announced never were).
                let mut pending = 0;
                for dependency in &task.terms.depends_on {
                    let open = self.tasks.get(dependency).is_some_and(|dependency| !dependency.state.is_terminal());
                    if open != self.dependents.contains(&(*dependency, *id)) {
                        return Err(format!("waiting task {id} is mis-indexed under its dependency {dependency}"));
                    }
                    pending += usize::from(open);
                }
                if pending == 0 {
                    return Err(format!("task {id} waits for no dependency"));
                }
            }
        }
        if deadlines != self.deadlines.len() {
            return Err("the deadline index holds tasks without deadlines".to_owned());
        }
        if self
            .dependents
            .iter()
            .any(|(_, dependent)| self.tasks.get(dependent).is_none_or(|task| task.state != TaskState::Waiting))
        {
            return Err("the dependency index names a task that is not waiting".to_owned());
        }
        if open != self.open_tasks || per_manager.len() != self.open_per_manager.len() {
            return Err(format!("{open} open tasks counted, {} recorded", self.open_tasks));
        }
        if per_manager.iter().any(|(manager, count)| self.open_per_manager.get(*manager) != Some(count)) {
            return Err("open tasks per manager disagree with the tasks".to_owned());
        }
        if bids != self.live_bids
            || bids_per_agent.len() != self.live_bids_per_agent.len()
            || bids_per_agent.iter().any(|(bidder, count)| self.live_bids_per_agent.get(*bidder) != Some(count))
        {
            return Err("live bids per agent disagree with the tasks".to_owned());
        }
        if self.ended.iter().any(|id| !self.tasks.contains_key(id)) {
            return Err("an evicted task is still filed as ended".to_owned());
        }
        if committed.len() != self.committed_per_payer.len()
            || committed.iter().any(|(payer, sum)| self.committed_per_payer.get(*payer) != Some(sum))
        {
            return Err("the funds committed per paying wallet disagree with the tasks".to_owned());
        }
        self.check_assignment_invariants()
    }
}

impl crate::state::State {
    /// Every task under way holds exactly one locked escrow, for its current winner and price, and
    /// every locked escrow that names a task is that task's current one: an award locks once, and
    /// no task has two winners.
    pub(crate) fn check_task_escrows(&self) -> Result<(), String> {
        let mut current = BTreeSet::new();
        for task in self.market.tasks() {
            let Some(attempt) = task.current_attempt() else { continue };
            let escrow = self
                .ledger
                .escrow(attempt.escrow)
                .ok_or_else(|| format!("task {}'s escrow {} is missing", task.id, attempt.escrow))?;
            let matches = escrow.state == crate::ledger::EscrowState::Locked
                && escrow.for_task == Some(task.id)
                && escrow.payee == attempt.winner
                && escrow.payer == task.terms.payer
                && escrow.amount == attempt.price;
            if !matches {
                return Err(format!("task {}'s escrow {} does not hold its award", task.id, attempt.escrow));
            }
            current.insert(attempt.escrow);
        }
        let stray = self.ledger.escrows_locked_for_tasks().find(|escrow| !current.contains(escrow));
        if let Some(escrow) = stray {
            return Err(format!("escrow {escrow} is locked for a task that does not hold it"));
        }
        Ok(())
    }

    /// Forgets the oldest ended tasks beyond the retention limit. Their task ids become free again.
    pub(crate) fn evict_ended_tasks(&mut self) {
        while self.market.tasks.len() > limits::TASKS_RETAINED_MAX {
            let Some(oldest) = self.market.ended.pop_first() else { break };
            let task = self.market.tasks.remove(&oldest).expect("ended tasks are stored");
            self.market.by_manager.remove(&(task.manager, task.terms.task_id));
        }
    }
}
