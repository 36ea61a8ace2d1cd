//! Why the market refuses an announcement, a bid or a step of a task.

use std::fmt;

use crate::amount::Amount;
use crate::ids::{AgentId, Name};
use crate::outcome::RejectionClass;

/// A refusal particular to the task market.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarketRejection {
    /// No such task (or it ended long ago and was forgotten).
    TaskNotFound {
        /// The id asked for.
        task: u64,
    },
    /// The task is not in a state that allows this.
    TaskState {
        /// The task.
        task: u64,
        /// Its state.
        state: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// The manager already announced a different task under this task id.
    TaskIdConflict {
        /// The manager's task id.
        task_id: Name,
        /// The task that has it.
        task: u64,
    },
    /// A dependency names no task of this manager.
    DependencyNotFound {
        /// The task id named.
        task_id: Name,
    },
    /// A task may not depend on itself (and, since dependencies must exist when a task is announced,
    /// no longer cycle can form).
    DependencyCycle {
        /// The task id.
        task_id: Name,
    },
    /// The bidder lacks a capability the task requires.
    MissingCapability {
        /// The capability.
        capability: Name,
    },
    /// The bidder is unresponsive (no heartbeat within the TTL): it could not do the work.
    BidderUnresponsive {
        /// The bidder.
        agent: AgentId,
    },
    /// The bid asks more than the task's `max_cost`.
    BidAboveMaxCost {
        /// The most the task pays.
        max_cost: Amount,
    },
    /// The bid's estimated time is beyond the task's deadline.
    BidBeyondDeadline {
        /// The deadline.
        deadline_ms: u64,
    },
    /// The bidding window is closed.
    BiddingClosed {
        /// The task.
        task: u64,
    },
    /// The manager (or its paying wallet) may not bid on its own task.
    OwnTask {
        /// The task.
        task: u64,
    },
    /// The task takes bids from invited agents only.
    NotInvited {
        /// The task.
        task: u64,
    },
    /// The agent had the task before and failed or declined it.
    BidderExcluded {
        /// The task.
        task: u64,
    },
    /// The signer has no live bid on the task.
    BidNotFound {
        /// The task.
        task: u64,
    },
    /// The paying wallet's balance does not cover the `max_cost` of its tasks not yet awarded, this
    /// one included: a manager announces only work its wallet could pay for.
    AnnounceBeyondFunds {
        /// The paying wallet.
        payer: AgentId,
        /// The `max_cost` of its tasks not yet awarded, this one included.
        committed: u128,
        /// Its balance.
        balance: Amount,
    },
    /// The swarm does not take tasks of this kind (the configuration's `task_kinds`).
    UnknownTaskKind {
        /// The kind asked for.
        kind: Name,
    },
    /// The escrow belongs to a task; the task's own commands settle it.
    EscrowOwnedByTask {
        /// The escrow.
        escrow: u64,
        /// The task.
        task: u64,
    },
    /// The task is assigned directly: it takes no bids and no early award.
    DirectTask {
        /// The task.
        task: u64,
    },
    /// No agent can take a batch's chunk now: none is eligible (capable, responsive, not a party,
    /// invited when invitations are given) with room for its load.
    NoEligibleAgent {
        /// The batch (from 0) that found none.
        batch: u32,
    },
}

impl MarketRejection {
    /// The stable machine code, in `snake_case`.
    pub fn code(&self) -> &'static str {
        match self {
            MarketRejection::TaskNotFound { .. } => "task_not_found",
            MarketRejection::TaskState { .. } => "task_state",
            MarketRejection::TaskIdConflict { .. } => "task_id_conflict",
            MarketRejection::DependencyNotFound { .. } => "dependency_not_found",
            MarketRejection::DependencyCycle { .. } => "dependency_cycle",
            MarketRejection::MissingCapability { .. } => "missing_capability",
            MarketRejection::BidderUnresponsive { .. } => "bidder_unresponsive",
            MarketRejection::BidAboveMaxCost { .. } => "bid_above_max_cost",
            MarketRejection::BidBeyondDeadline { .. } => "bid_beyond_deadline",
            MarketRejection::BiddingClosed { .. } => "bidding_closed",
            MarketRejection::OwnTask { .. } => "own_task",
            MarketRejection::NotInvited { .. } => "not_invited",
            MarketRejection::BidderExcluded { .. } => "bidder_excluded",
            MarketRejection::BidNotFound { .. } => "bid_not_found",
            MarketRejection::AnnounceBeyondFunds { .. } => "announce_beyond_funds",
            MarketRejection::UnknownTaskKind { .. } => "unknown_task_kind",
            MarketRejection::EscrowOwnedByTask { .. } => "escrow_owned_by_task",
            MarketRejection::DirectTask { .. } => "direct_task",
            MarketRejection::NoEligibleAgent { .. } => "no_eligible_agent",
        }
    }

    /// A short, fixed summary of the code.
    pub fn title(&self) -> &'static str {
        match self {
            MarketRejection::TaskNotFound { .. } => "Task not found",
            MarketRejection::TaskState { .. } => "Task state",
            MarketRejection::TaskIdConflict { .. } => "Task id conflict",
            MarketRejection::DependencyNotFound { .. } => "Dependency not found",
            MarketRejection::DependencyCycle { .. } => "Dependency cycle",
            MarketRejection::MissingCapability { .. } => "Missing capability",
            MarketRejection::BidderUnresponsive { .. } => "Bidder unresponsive",
            MarketRejection::BidAboveMaxCost { .. } => "Bid above the maximum cost",
            MarketRejection::BidBeyondDeadline { .. } => "Bid beyond the deadline",
            MarketRejection::BiddingClosed { .. } => "Bidding closed",
            MarketRejection::OwnTask { .. } => "Own task",
            MarketRejection::NotInvited { .. } => "Not invited",
            MarketRejection::BidderExcluded { .. } => "Bidder excluded",
            MarketRejection::BidNotFound { .. } => "Bid not found",
            MarketRejection::AnnounceBeyondFunds { .. } => "Announce beyond funds",
            MarketRejection::UnknownTaskKind { .. } => "Unknown task kind",
            MarketRejection::EscrowOwnedByTask { .. } => "Escrow owned by a task",
            MarketRejection::DirectTask { .. } => "Direct task",
            MarketRejection::NoEligibleAgent { .. } => "No eligible agent",
        }
    }

    /// What kind of refusal this is.
    pub fn class(&self) -> RejectionClass {
        match self {
            MarketRejection::TaskNotFound { .. }
            | MarketRejection::DependencyNotFound { .. }
            | MarketRejection::BidNotFound { .. } => RejectionClass::NotFound,
            MarketRejection::DependencyCycle { .. }
            | MarketRejection::BidAboveMaxCost { .. }
            | MarketRejection::BidBeyondDeadline { .. }
            | MarketRejection::UnknownTaskKind { .. } => RejectionClass::Invalid,
            MarketRejection::MissingCapability { .. }
            | MarketRejection::OwnTask { .. }
            | MarketRejection::NotInvited { .. }
            | MarketRejection::BidderExcluded { .. } => RejectionClass::Forbidden,
            MarketRejection::TaskState { .. }
            | MarketRejection::TaskIdConflict { .. }
            | MarketRejection::BidderUnresponsive { .. }
            | MarketRejection::BiddingClosed { .. }
            | MarketRejection::AnnounceBeyondFunds { .. }
            | MarketRejection::EscrowOwnedByTask { .. }
            | MarketRejection::DirectTask { .. }
            | MarketRejection::NoEligibleAgent { .. } => RejectionClass::Conflict,
        }
    }

    /// The input field to blame.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            MarketRejection::TaskNotFound { .. }
            | MarketRejection::TaskState { .. }
            | MarketRejection::BiddingClosed { .. }
            | MarketRejection::OwnTask { .. }
            | MarketRejection::NotInvited { .. }
            | MarketRejection::BidderExcluded { .. }
            | MarketRejection::BidNotFound { .. }
            | MarketRejection::DirectTask { .. } => Some("task"),
            MarketRejection::NoEligibleAgent { .. } => Some("agents"),
            MarketRejection::TaskIdConflict { .. } => Some("task_id"),
            MarketRejection::DependencyNotFound { .. } | MarketRejection::DependencyCycle { .. } => Some("depends_on"),
            MarketRejection::MissingCapability { .. } | MarketRejection::BidderUnresponsive { .. } => None,
            MarketRejection::BidAboveMaxCost { .. } => Some("estimated_cost"),
            MarketRejection::BidBeyondDeadline { .. } => Some("estimated_time_ms"),
            MarketRejection::AnnounceBeyondFunds { .. } => Some("max_cost"),
            MarketRejection::UnknownTaskKind { .. } => Some("kind"),
            MarketRejection::EscrowOwnedByTask { .. } => Some("escrow"),
        }
    }
}

impl fmt::Display for MarketRejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MarketRejection::TaskNotFound { task } => write!(formatter, "no task {task}"),
            MarketRejection::TaskState { task, state, action } => {
                write!(formatter, "task {task} is {state}; it cannot {action}")
            }
            MarketRejection::TaskIdConflict { task_id, task } => {
                write!(formatter, "task id '{task_id}' was already announced as task {task} with different terms")
            }
            MarketRejection::DependencyNotFound { task_id } => {
                write!(formatter, "no task '{task_id}' of this manager to depend on")
            }
            MarketRejection::DependencyCycle { task_id } => {
                write!(formatter, "task '{task_id}' cannot depend on itself")
            }
            MarketRejection::MissingCapability { capability } => {
                write!(formatter, "the bidder lacks the required capability '{capability}'")
            }
            MarketRejection::BidderUnresponsive { agent } => {
                write!(formatter, "'{agent}' is unresponsive: send a heartbeat before bidding")
            }
            MarketRejection::BidAboveMaxCost { max_cost } => {
                write!(formatter, "the estimated cost is above the task's max_cost of {max_cost}")
            }
            MarketRejection::BidBeyondDeadline { deadline_ms } => {
                write!(formatter, "the estimated time is beyond the task's deadline of {deadline_ms} ms")
            }
            MarketRejection::BiddingClosed { task } => write!(formatter, "bidding on task {task} is closed"),
            MarketRejection::OwnTask { task } => {
                write!(formatter, "task {task}'s manager and paying wallet may not bid on it")
            }
            MarketRejection::NotInvited { task } => {
                write!(formatter, "task {task} takes bids from invited agents only")
            }
            MarketRejection::BidderExcluded { task } => {
                write!(formatter, "this agent had task {task} before and may not bid on it again")
            }
            MarketRejection::BidNotFound { task } => write!(formatter, "no live bid of this agent on task {task}"),
            MarketRejection::AnnounceBeyondFunds { payer, committed, balance } => write!(
                formatter,
                "'{payer}' holds {balance}, less than the {committed} its tasks not yet awarded may cost with this one"
            ),
            MarketRejection::UnknownTaskKind { kind } => {
                write!(formatter, "the swarm takes no tasks of kind '{kind}' (see the configuration's task_kinds)")
            }
            MarketRejection::EscrowOwnedByTask { escrow, task } => {
                write!(formatter, "escrow {escrow} belongs to task {task}: settle it with the task's commands")
            }
            MarketRejection::DirectTask { task } => {
                write!(formatter, "task {task} is assigned directly: it takes no bids and no early award")
            }
            MarketRejection::NoEligibleAgent { batch } => {
                write!(formatter, "no eligible agent has room for batch {batch}'s chunks")
            }
        }
    }
}
