//! Why the ledger refuses a payment, a wallet change or an escrow step.

use std::fmt;

use crate::amount::Amount;
use crate::ids::{AgentId, Name};
use crate::outcome::{Rejection, RejectionClass};

/// A refusal particular to the ledger and its escrows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerRejection {
    /// The payer's balance does not cover the amount.
    InsufficientFunds {
        /// The spendable balance.
        available: Amount,
        /// The amount asked for.
        requested: Amount,
    },
    /// The wallet is frozen by its parent or the operator.
    WalletFrozen {
        /// The wallet's agent.
        agent: AgentId,
    },
    /// The payment would pass the wallet's daily limit.
    DailyLimitExceeded {
        /// The limit.
        limit: Amount,
        /// Already spent this ledger day.
        spent_today: Amount,
        /// The amount asked for.
        requested: Amount,
    },
    /// The wallet may not move money out of the swarm.
    WithdrawForbidden {
        /// The wallet's agent.
        agent: AgentId,
    },
    /// The transfer id was already used for a different transfer.
    TransferConflict {
        /// The id.
        transfer_id: Name,
    },
    /// A linked batch failed; nothing of it was applied.
    BatchFailed {
        /// The position of the failing transfer, from 0.
        index: u32,
        /// Why it failed.
        reason: Box<Rejection>,
    },
    /// No such escrow (or it was settled long ago and forgotten).
    EscrowNotFound {
        /// The id asked for.
        escrow: u64,
    },
    /// The escrow is not in a state that allows this.
    EscrowState {
        /// The escrow.
        escrow: u64,
        /// Its state.
        state: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// The payer already has a different escrow for this task id.
    EscrowTaskConflict {
        /// The task id.
        task_id: Name,
        /// The escrow that has it.
        escrow: u64,
    },
    /// The preimage does not match the escrow's hashlock.
    HashlockMismatch {
        /// The escrow.
        escrow: u64,
    },
    /// A jury judges the escrow's dispute: its close settles it, not `escrow.resolve`.
    EscrowUnderJury {
        /// The escrow.
        escrow: u64,
        /// The jury's proposal.
        proposal: u64,
    },
}

impl LedgerRejection {
    /// The stable machine code, in `snake_case`.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerRejection::InsufficientFunds { .. } => "insufficient_funds",
            LedgerRejection::WalletFrozen { .. } => "wallet_frozen",
            LedgerRejection::DailyLimitExceeded { .. } => "daily_limit_exceeded",
            LedgerRejection::WithdrawForbidden { .. } => "withdraw_forbidden",
            LedgerRejection::TransferConflict { .. } => "transfer_conflict",
            LedgerRejection::BatchFailed { .. } => "batch_failed",
            LedgerRejection::EscrowNotFound { .. } => "escrow_not_found",
            LedgerRejection::EscrowState { .. } => "escrow_state",
            LedgerRejection::EscrowTaskConflict { .. } => "escrow_task_conflict",
            LedgerRejection::HashlockMismatch { .. } => "hashlock_mismatch",
            LedgerRejection::EscrowUnderJury { .. } => "escrow_under_jury",
        }
    }

    /// A short, fixed summary of the code.
    pub fn title(&self) -> &'static str {
        match self {
            LedgerRejection::InsufficientFunds { .. } => "Insufficient funds",
            LedgerRejection::WalletFrozen { .. } => "Wallet frozen",
            LedgerRejection::DailyLimitExceeded { .. } => "Daily limit exceeded",
            LedgerRejection::WithdrawForbidden { .. } => "Withdrawal forbidden",
            LedgerRejection::TransferConflict { .. } => "Transfer id conflict",
            LedgerRejection::BatchFailed { .. } => "Linked batch failed",
            LedgerRejection::EscrowNotFound { .. } => "Escrow not found",
            LedgerRejection::EscrowState { .. } => "Escrow state",
            LedgerRejection::EscrowTaskConflict { .. } => "Escrow task conflict",
            LedgerRejection::HashlockMismatch { .. } => "Hashlock mismatch",
            LedgerRejection::EscrowUnderJury { .. } => "Escrow under a jury",
        }
    }

    /// What kind of refusal this is. A failed batch is of the kind of the transfer that failed it.
    pub fn class(&self) -> RejectionClass {
        match self {
            LedgerRejection::InsufficientFunds { .. }
            | LedgerRejection::WalletFrozen { .. }
            | LedgerRejection::DailyLimitExceeded { .. }
            | LedgerRejection::WithdrawForbidden { .. }
            | LedgerRejection::TransferConflict { .. }
            | LedgerRejection::EscrowState { .. }
            | LedgerRejection::EscrowTaskConflict { .. }
            | LedgerRejection::HashlockMismatch { .. }
            | LedgerRejection::EscrowUnderJury { .. } => RejectionClass::Conflict,
            LedgerRejection::EscrowNotFound { .. } => RejectionClass::NotFound,
            LedgerRejection::BatchFailed { reason, .. } => reason.class(),
        }
    }

    /// The input field to blame.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            LedgerRejection::InsufficientFunds { .. } | LedgerRejection::DailyLimitExceeded { .. } => Some("amount"),
            LedgerRejection::WalletFrozen { .. } | LedgerRejection::WithdrawForbidden { .. } => None,
            LedgerRejection::TransferConflict { .. } => Some("transfer_id"),
            LedgerRejection::BatchFailed { .. } => Some("transfers"),
            LedgerRejection::EscrowNotFound { .. }
            | LedgerRejection::EscrowState { .. }
            | LedgerRejection::EscrowUnderJury { .. } => Some("escrow"),
            LedgerRejection::EscrowTaskConflict { .. } => Some("task_id"),
            LedgerRejection::HashlockMismatch { .. } => Some("preimage"),
        }
    }
}

impl fmt::Display for LedgerRejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerRejection::InsufficientFunds { available, requested } => {
                write!(formatter, "insufficient funds: {available} available, {requested} requested")
            }
            LedgerRejection::WalletFrozen { agent } => write!(formatter, "the wallet of '{agent}' is frozen"),
            LedgerRejection::DailyLimitExceeded { limit, spent_today, requested } => write!(
                formatter,
                "the daily limit of {limit} would be exceeded ({spent_today} spent today, {requested} requested)"
            ),
            LedgerRejection::WithdrawForbidden { agent } => {
                write!(formatter, "the wallet of '{agent}' may not move money out of the swarm")
            }
            LedgerRejection::TransferConflict { transfer_id } => {
                write!(formatter, "transfer id '{transfer_id}' was already used for a different transfer")
            }
            LedgerRejection::BatchFailed { index, reason } => {
                write!(formatter, "transfer {index} of the linked batch failed, so none was applied: {reason}")
            }
            LedgerRejection::EscrowNotFound { escrow } => write!(formatter, "no escrow {escrow}"),
            LedgerRejection::EscrowState { escrow, state, action } => {
                write!(formatter, "escrow {escrow} is {state}; it cannot {action}")
            }
            LedgerRejection::EscrowTaskConflict { task_id, escrow } => {
                write!(formatter, "task id '{task_id}' already has escrow {escrow} with different terms")
            }
            LedgerRejection::HashlockMismatch { escrow } => {
                write!(formatter, "the preimage does not open escrow {escrow}'s hashlock")
            }
            LedgerRejection::EscrowUnderJury { escrow, proposal } => {
                write!(
                    formatter,
                    "escrow {escrow}'s dispute is before a jury (proposal {proposal}); its close settles it"
                )
            }
        }
    }
}
