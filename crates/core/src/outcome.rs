//! What applying an entry produced: per-command results, rejections as data, and entry-level errors.

use std::fmt;

use crate::amount::Amount;
use crate::bus::{Delivery, Pattern, Subject};
use crate::event::Event;
use crate::ids::{AgentId, Name};

/// A command that was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Accepted {
    /// The change was made.
    Done,
    /// The command asked for what was already so (resuming an agent that is not halted, say); the
    /// state did not change.
    Unchanged,
    /// An escrow was locked, or (`existing`) a lock for the same task returned the escrow it has.
    Escrow {
        /// The escrow's id.
        escrow_id: u64,
        /// Whether the escrow already existed.
        existing: bool,
    },
    /// A message was stored in a stream, or (`duplicate`) its message id was seen in that stream
    /// within the duplicate window and nothing was stored.
    Published {
        /// The stream that captured the subject.
        stream: Name,
        /// The message's stream sequence (for a duplicate, the original's).
        sequence: u64,
        /// Whether this was a duplicate.
        duplicate: bool,
    },
    /// A pull from a consumer: the deliveries, redeliveries first (possibly none).
    Fetched {
        /// The stream fetched from (so that a result can be read without its command).
        stream: Name,
        /// What was delivered, each now held by the fetching signer until acked or its deadline.
        deliveries: Vec<Delivery>,
    },
    /// Dead letters were published again, each with its new place.
    Replayed {
        /// Per dead letter, in the order named: the stream that captured it now and its new sequence.
        messages: Vec<(Name, u64)>,
    },
}

/// The result of one command.
pub type CommandResult = Result<Accepted, Rejection>;

/// Why a command (or a whole envelope) was refused. Refusals are ordinary outcomes, never panics, and
/// a refused command changes nothing.
///
/// Each variant has a stable machine [`code`](Rejection::code) that clients can match on, and, where
/// one input is to blame, the offending [`field`](Rejection::field).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The envelope's signer is neither the operator nor a registered agent.
    UnknownSigner,
    /// The envelope was verified with a key other than the one registered for its signer.
    KeyMismatch,
    /// The signer already used this nonce, or a nonce at or below its replay floor.
    NonceReplayed {
        /// The rejected nonce.
        nonce: u64,
    },
    /// The signer is not allowed to do this.
    Unauthorized {
        /// Why not, in a sentence.
        reason: &'static str,
    },
    /// No agent has this id.
    AgentNotFound {
        /// The id looked for.
        agent: AgentId,
    },
    /// The id is taken (ids of deregistered agents stay taken).
    AgentExists {
        /// The id asked for.
        agent: AgentId,
    },
    /// The agent was deregistered and can no longer act or be acted on.
    AgentDeregistered {
        /// The agent.
        agent: AgentId,
    },
    /// The agent is halted and may not write.
    AgentHalted {
        /// The agent.
        agent: AgentId,
    },
    /// The role is not in the swarm configuration.
    UnknownRole {
        /// The role asked for.
        role: String,
    },
    /// A field is out of range or malformed.
    InvalidField {
        /// The field, as named in the wire format.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A named limit (see `limits.rs`) was reached.
    LimitReached {
        /// Which limit.
        limit: &'static str,
        /// Its value.
        max: u64,
    },
    /// A rate limit of the swarm's configuration refuses this now; it would be accepted later.
    RateLimited {
        /// Which rate (a configuration field).
        limit: &'static str,
        /// Log time, in milliseconds, until it would be accepted.
        retry_after_ms: u64,
    },
    /// The read token is not known.
    ReadTokenNotFound,
    /// The swarm has no genesis yet, or a second genesis was attempted.
    Genesis {
        /// What went wrong.
        reason: &'static str,
    },
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
    /// No stream has this name.
    StreamNotFound {
        /// The name asked for.
        stream: Name,
    },
    /// A stream with this name exists with another configuration.
    StreamConflict {
        /// The stream.
        stream: Name,
    },
    /// A subject pattern overlaps one of another stream's: some subject would belong to both.
    SubjectsOverlap {
        /// The pattern asked for.
        pattern: Pattern,
        /// The stream it overlaps.
        stream: Name,
    },
    /// No stream captures the subject published to.
    NoStream {
        /// The subject.
        subject: Subject,
    },
    /// The stream is full and discards new messages (backpressure: retry after consumers catch up), or
    /// the message alone is larger than the stream may hold.
    StreamFull {
        /// The stream.
        stream: Name,
        /// Which of its limits: `max_messages` or `max_bytes`.
        limit: &'static str,
        /// Its value.
        max: u64,
    },
    /// The stream has no consumer with this name.
    ConsumerNotFound {
        /// The stream.
        stream: Name,
        /// The name asked for.
        consumer: Name,
    },
    /// A consumer with this name exists on the stream with another configuration.
    ConsumerConflict {
        /// The stream.
        stream: Name,
        /// The consumer.
        consumer: Name,
    },
    /// The sequence has no delivery in a state that allows this (never delivered, already done, or,
    /// for a nak or an in-progress, not currently held).
    DeliveryNotPending {
        /// The stream sequence.
        sequence: u64,
        /// What was attempted.
        action: &'static str,
    },
    /// The stream has no dead letter with this id.
    DeadLetterNotFound {
        /// The stream.
        stream: Name,
        /// The id asked for.
        dead_letter: u64,
    },
}

impl Rejection {
    /// A rejection for a bad field.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Rejection {
        Rejection::InvalidField { field, reason: reason.into() }
    }

    /// The stable machine code, in `snake_case`.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::UnknownSigner => "unknown_signer",
            Rejection::KeyMismatch => "key_mismatch",
            Rejection::NonceReplayed { .. } => "nonce_replayed",
            Rejection::Unauthorized { .. } => "unauthorized",
            Rejection::AgentNotFound { .. } => "agent_not_found",
            Rejection::AgentExists { .. } => "agent_exists",
            Rejection::AgentDeregistered { .. } => "agent_deregistered",
            Rejection::AgentHalted { .. } => "agent_halted",
            Rejection::UnknownRole { .. } => "unknown_role",
            Rejection::InvalidField { .. } => "invalid_field",
            Rejection::LimitReached { .. } => "limit_reached",
            Rejection::RateLimited { .. } => "rate_limited",
            Rejection::ReadTokenNotFound => "read_token_not_found",
            Rejection::Genesis { .. } => "genesis",
            Rejection::InsufficientFunds { .. } => "insufficient_funds",
            Rejection::WalletFrozen { .. } => "wallet_frozen",
            Rejection::DailyLimitExceeded { .. } => "daily_limit_exceeded",
            Rejection::WithdrawForbidden { .. } => "withdraw_forbidden",
            Rejection::TransferConflict { .. } => "transfer_conflict",
            Rejection::BatchFailed { .. } => "batch_failed",
            Rejection::EscrowNotFound { .. } => "escrow_not_found",
            Rejection::EscrowState { .. } => "escrow_state",
            Rejection::EscrowTaskConflict { .. } => "escrow_task_conflict",
            Rejection::HashlockMismatch { .. } => "hashlock_mismatch",
            Rejection::StreamNotFound { .. } => "stream_not_found",
            Rejection::StreamConflict { .. } => "stream_conflict",
            Rejection::SubjectsOverlap { .. } => "subjects_overlap",
            Rejection::NoStream { .. } => "no_stream",
            Rejection::StreamFull { .. } => "stream_full",
            Rejection::ConsumerNotFound { .. } => "consumer_not_found",
            Rejection::ConsumerConflict { .. } => "consumer_conflict",
            Rejection::DeliveryNotPending { .. } => "delivery_not_pending",
            Rejection::DeadLetterNotFound { .. } => "dead_letter_not_found",
        }
    }

    /// The input field to blame, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Rejection::InvalidField { field, .. } => Some(field),
            Rejection::UnknownRole { .. } => Some("role"),
            Rejection::NonceReplayed { .. } => Some("nonce"),
            Rejection::AgentExists { .. } => Some("agent"),
            Rejection::InsufficientFunds { .. } | Rejection::DailyLimitExceeded { .. } => Some("amount"),
            Rejection::TransferConflict { .. } => Some("transfer_id"),
            Rejection::BatchFailed { .. } => Some("transfers"),
            Rejection::EscrowNotFound { .. } | Rejection::EscrowState { .. } => Some("escrow"),
            Rejection::EscrowTaskConflict { .. } => Some("task_id"),
            Rejection::HashlockMismatch { .. } => Some("preimage"),
            Rejection::StreamNotFound { .. } => Some("stream"),
            Rejection::StreamConflict { .. } | Rejection::ConsumerConflict { .. } => Some("name"),
            Rejection::SubjectsOverlap { .. } => Some("subjects"),
            Rejection::NoStream { .. } => Some("subject"),
            Rejection::StreamFull { .. } => Some("subject"),
            Rejection::ConsumerNotFound { .. } => Some("consumer"),
            Rejection::DeliveryNotPending { .. } => Some("sequences"),
            Rejection::DeadLetterNotFound { .. } => Some("dead_letters"),
            _ => None,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::UnknownSigner => formatter.write_str("the signer is not a registered agent"),
            Rejection::KeyMismatch => {
                formatter.write_str("the envelope was not signed with the signer's registered key")
            }
            Rejection::NonceReplayed { nonce } => {
                write!(formatter, "nonce {nonce} was already used by this signer (replayed or too old)")
            }
            Rejection::Unauthorized { reason } => write!(formatter, "not authorized: {reason}"),
            Rejection::AgentNotFound { agent } => write!(formatter, "no agent '{agent}'"),
            Rejection::AgentExists { agent } => write!(formatter, "agent id '{agent}' is already taken"),
            Rejection::AgentDeregistered { agent } => write!(formatter, "agent '{agent}' is deregistered"),
            Rejection::AgentHalted { agent } => write!(formatter, "agent '{agent}' is halted and may not write"),
            Rejection::UnknownRole { role } => write!(formatter, "role '{role}' is not in the swarm configuration"),
            Rejection::InvalidField { field, reason } => write!(formatter, "field '{field}' {reason}"),
            Rejection::LimitReached { limit, max } => write!(formatter, "limit '{limit}' reached (at most {max})"),
            Rejection::RateLimited { limit, retry_after_ms } => {
                write!(formatter, "paced by '{limit}': retry in {retry_after_ms} ms")
            }
            Rejection::ReadTokenNotFound => formatter.write_str("no such read token"),
            Rejection::Genesis { reason } => write!(formatter, "genesis: {reason}"),
            Rejection::InsufficientFunds { available, requested } => {
                write!(formatter, "insufficient funds: {available} available, {requested} requested")
            }
            Rejection::WalletFrozen { agent } => write!(formatter, "the wallet of '{agent}' is frozen"),
            Rejection::DailyLimitExceeded { limit, spent_today, requested } => write!(
                formatter,
                "the daily limit of {limit} would be exceeded ({spent_today} spent today, {requested} requested)"
            ),
            Rejection::WithdrawForbidden { agent } => {
                write!(formatter, "the wallet of '{agent}' may not move money out of the swarm")
            }
            Rejection::TransferConflict { transfer_id } => {
                write!(formatter, "transfer id '{transfer_id}' was already used for a different transfer")
            }
            Rejection::BatchFailed { index, reason } => {
                write!(formatter, "transfer {index} of the linked batch failed, so none was applied: {reason}")
            }
            Rejection::EscrowNotFound { escrow } => write!(formatter, "no escrow {escrow}"),
            Rejection::EscrowState { escrow, state, action } => {
                write!(formatter, "escrow {escrow} is {state}; it cannot {action}")
            }
            Rejection::EscrowTaskConflict { task_id, escrow } => {
                write!(formatter, "task id '{task_id}' already has escrow {escrow} with different terms")
            }
            Rejection::HashlockMismatch { escrow } => {
                write!(formatter, "the preimage does not open escrow {escrow}'s hashlock")
            }
            Rejection::StreamNotFound { stream } => write!(formatter, "no stream '{stream}'"),
            Rejection::StreamConflict { stream } => {
                write!(formatter, "stream '{stream}' already exists with another configuration")
            }
            Rejection::SubjectsOverlap { pattern, stream } => {
                write!(formatter, "subject pattern '{pattern}' overlaps the subjects of stream '{stream}'")
            }
            Rejection::NoStream { subject } => write!(formatter, "no stream captures subject '{subject}'"),
            Rejection::StreamFull { stream, limit, max } => write!(
                formatter,
                "stream '{stream}' has no room under its {limit} of {max}; a stream that discards new messages refuses them while full (retry after consumers catch up)"
            ),
            Rejection::ConsumerNotFound { stream, consumer } => {
                write!(formatter, "stream '{stream}' has no consumer '{consumer}'")
            }
            Rejection::ConsumerConflict { stream, consumer } => {
                write!(
                    formatter,
                    "consumer '{consumer}' of stream '{stream}' already exists with another configuration"
                )
            }
            Rejection::DeliveryNotPending { sequence, action } => {
                write!(formatter, "sequence {sequence} has no delivery that can {action}")
            }
            Rejection::DeadLetterNotFound { stream, dead_letter } => {
                write!(formatter, "stream '{stream}' has no dead letter {dead_letter}")
            }
        }
    }
}

/// Everything applying one entry produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryOutcome {
    /// The verdict on the envelope as a whole (signer, key, nonce). When it is an error, every command
    /// was skipped and `commands` is empty.
    pub envelope: Option<Rejection>,
    /// One result per command, in order.
    pub commands: Vec<CommandResult>,
    /// The state changes the entry caused, in order, for the event stream.
    pub events: Vec<Event>,
}

/// An entry that cannot be applied at all: the log handed over is inconsistent. The driver treats this
/// as fatal; `audit verify` reports it with the entry's sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyError {
    /// The entry's sequence number is not the next one.
    SequenceGap {
        /// The sequence number expected.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// The entry's timestamp is earlier than its predecessor's.
    TimeWentBackwards {
        /// The previous entry's timestamp.
        previous_ms: u64,
        /// This entry's timestamp.
        found_ms: u64,
    },
    /// The first entry must be the genesis, and only the first.
    GenesisMisplaced {
        /// The entry's sequence number.
        sequence: u64,
    },
    /// The genesis carries an invalid configuration.
    InvalidGenesis {
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for ApplyError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::SequenceGap { expected, found } => {
                write!(formatter, "expected entry {expected}, found entry {found}")
            }
            ApplyError::TimeWentBackwards { previous_ms, found_ms } => {
                write!(formatter, "entry timestamp {found_ms} ms is before its predecessor's {previous_ms} ms")
            }
            ApplyError::GenesisMisplaced { sequence } => {
                write!(formatter, "entry {sequence}: the genesis must be entry 1 and only entry 1")
            }
            ApplyError::InvalidGenesis { reason } => {
                write!(formatter, "the genesis configuration is invalid: {reason}")
            }
        }
    }
}

impl std::error::Error for ApplyError {}
