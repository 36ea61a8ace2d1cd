//! What applying an entry produced: per-command results, rejections as data, and entry-level errors.

use std::fmt;

use crate::bus::Delivery;
pub use crate::bus::rejections::BusRejection;
pub use crate::config::rejections::ConfigRejection;
pub use crate::coordination::rejections::CoordinationRejection;
use crate::event::Event;
pub use crate::governance::rejections::GovernanceRejection;
use crate::ids::{AgentId, Name};
pub use crate::kv::rejections::KvRejection;
pub use crate::ledger::rejections::LedgerRejection;
pub use crate::market::rejections::MarketRejection;
pub use crate::registry::rejections::RegistryRejection;
pub use crate::stigmergy::rejections::StigmergyRejection;

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
    /// A task was announced, or (`existing`) an announcement with the same task id and terms returned
    /// the task it made.
    Task {
        /// The task's id.
        task: u64,
        /// Whether it already existed.
        existing: bool,
    },
    /// A batch was announced: its chunks' tasks, batch by batch, chunk by chunk.
    Batch {
        /// The tasks, in order.
        tasks: Vec<u64>,
    },
    /// A proposal was created, or (`existing`) a create with the same proposal id and fields returned
    /// the proposal it made.
    Proposal {
        /// The proposal's number.
        proposal: u64,
        /// Whether it already existed.
        existing: bool,
    },
    /// A pheromone trail was reinforced.
    Deposited {
        /// The trail's intensity after the deposit.
        intensity: crate::stigmergy::Intensity,
    },
    /// A lease was granted or kept alive: the last log time it is alive unless kept alive again.
    Lease {
        /// Its new deadline (inclusive).
        expires_at_ms: u64,
    },
    /// A lock was granted at once.
    LockGranted {
        /// The grant's fencing token, above every token granted on the lock before.
        fencing_token: u64,
    },
    /// A lock request joined the lock's queue; its grant comes as a `lock.granted` event.
    LockQueued {
        /// Its place in the queue, from 1.
        position: u32,
    },
    /// The signer arrived at a barrier.
    BarrierArrived {
        /// The generation it arrived in: it was released when that generation tripped.
        generation: u64,
        /// Parties arrived in this generation, the signer included.
        arrived: u32,
        /// Whether its arrival completed the count and tripped the barrier.
        tripped: bool,
    },
    /// A value was stored.
    KvPut {
        /// The put's revision: what a compare-and-swap on the key names next.
        revision: u64,
        /// The key's version: 1 when the put created it.
        version: u64,
    },
    /// A key was deleted.
    KvDeleted {
        /// The deletion's revision.
        revision: u64,
    },
    /// Dead letters were published again, each with its new place.
    Replayed {
        /// Per dead letter, in the order named: the stream that captured it now and its new sequence.
        messages: Vec<(Name, u64)>,
    },
}

/// The result of one command.
pub type CommandResult = Result<Accepted, Rejection>;

/// What kind of refusal a rejection is: the one thing the server needs to pick an HTTP status, so that
/// core knows no HTTP and every code has exactly one status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectionClass {
    /// An input is malformed or out of range; the same command will never be accepted.
    Invalid,
    /// The envelope's signer cannot be authenticated (unknown, or another key).
    Unauthenticated,
    /// The signer is known but may not do this.
    Forbidden,
    /// What the command names does not exist.
    NotFound,
    /// The state does not allow this now (taken, already used, wrong step, not enough money).
    Conflict,
    /// A named limit is reached; the same command may succeed once something is freed.
    Limit,
    /// Refused for now only: retry later (a rate, or backpressure).
    RetryLater,
}

/// Why a command (or a whole envelope) was refused. Refusals are ordinary outcomes, never panics, and
/// a refused command changes nothing.
///
/// The refusals shared by every family (who signs, what they may do, fields, limits) are variants
/// here; each family's own refusals are its enum, in its folder, wrapped in one variant. Each has a
/// stable machine [`code`](Rejection::code) that clients can match on, a [`class`](Rejection::class),
/// a [`title`](Rejection::title) and, where one input is to blame, the offending
/// [`field`](Rejection::field). Every match on them is exhaustive, so a new refusal cannot be left
/// without any of them.
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
    /// The swarm has no genesis yet, or a second genesis was attempted.
    Genesis {
        /// What went wrong.
        reason: &'static str,
    },
    /// A refusal of the registry (`registry/rejections.rs`).
    Registry(RegistryRejection),
    /// A refusal of the configuration or read tokens (`config/rejections.rs`).
    Config(ConfigRejection),
    /// A refusal of the ledger or an escrow (`ledger/rejections.rs`).
    Ledger(LedgerRejection),
    /// A refusal of the durable bus (`bus/rejections.rs`).
    Bus(BusRejection),
    /// A refusal of the task market (`market/rejections.rs`).
    Market(MarketRejection),
    /// A refusal of governance (`governance/rejections.rs`).
    Governance(GovernanceRejection),
    /// A refusal of stigmergy (`stigmergy/rejections.rs`).
    Stigmergy(StigmergyRejection),
    /// A refusal of leases and locks (`coordination/rejections.rs`).
    Coordination(CoordinationRejection),
    /// A refusal of the key-value store (`kv/rejections.rs`).
    Kv(KvRejection),
}

impl From<KvRejection> for Rejection {
    fn from(rejection: KvRejection) -> Rejection {
        Rejection::Kv(rejection)
    }
}

impl From<CoordinationRejection> for Rejection {
    fn from(rejection: CoordinationRejection) -> Rejection {
        Rejection::Coordination(rejection)
    }
}

impl From<StigmergyRejection> for Rejection {
    fn from(rejection: StigmergyRejection) -> Rejection {
        Rejection::Stigmergy(rejection)
    }
}

impl From<GovernanceRejection> for Rejection {
    fn from(rejection: GovernanceRejection) -> Rejection {
        Rejection::Governance(rejection)
    }
}

impl From<MarketRejection> for Rejection {
    fn from(rejection: MarketRejection) -> Rejection {
        Rejection::Market(rejection)
    }
}

impl From<RegistryRejection> for Rejection {
    fn from(rejection: RegistryRejection) -> Rejection {
        Rejection::Registry(rejection)
    }
}

impl From<ConfigRejection> for Rejection {
    fn from(rejection: ConfigRejection) -> Rejection {
        Rejection::Config(rejection)
    }
}

impl From<LedgerRejection> for Rejection {
    fn from(rejection: LedgerRejection) -> Rejection {
        Rejection::Ledger(rejection)
    }
}

impl From<BusRejection> for Rejection {
    fn from(rejection: BusRejection) -> Rejection {
        Rejection::Bus(rejection)
    }
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
            Rejection::AgentDeregistered { .. } => "agent_deregistered",
            Rejection::AgentHalted { .. } => "agent_halted",
            Rejection::InvalidField { .. } => "invalid_field",
            Rejection::LimitReached { .. } => "limit_reached",
            Rejection::RateLimited { .. } => "rate_limited",
            Rejection::Genesis { .. } => "genesis",
            Rejection::Registry(rejection) => rejection.code(),
            Rejection::Config(rejection) => rejection.code(),
            Rejection::Ledger(rejection) => rejection.code(),
            Rejection::Bus(rejection) => rejection.code(),
            Rejection::Market(rejection) => rejection.code(),
            Rejection::Governance(rejection) => rejection.code(),
            Rejection::Stigmergy(rejection) => rejection.code(),
            Rejection::Coordination(rejection) => rejection.code(),
            Rejection::Kv(rejection) => rejection.code(),
        }
    }

    /// A short, fixed summary of the code.
    pub fn title(&self) -> &'static str {
        match self {
            Rejection::UnknownSigner => "Unknown signer",
            Rejection::KeyMismatch => "Key mismatch",
            Rejection::NonceReplayed { .. } => "Nonce already used",
            Rejection::Unauthorized { .. } => "Not authorized",
            Rejection::AgentNotFound { .. } => "Agent not found",
            Rejection::AgentDeregistered { .. } => "Agent deregistered",
            Rejection::AgentHalted { .. } => "Agent halted",
            Rejection::InvalidField { .. } => "Invalid field",
            Rejection::LimitReached { .. } => "Limit reached",
            Rejection::RateLimited { .. } => "Rate limited",
            Rejection::Genesis { .. } => "Genesis error",
            Rejection::Registry(rejection) => rejection.title(),
            Rejection::Config(rejection) => rejection.title(),
            Rejection::Ledger(rejection) => rejection.title(),
            Rejection::Bus(rejection) => rejection.title(),
            Rejection::Market(rejection) => rejection.title(),
            Rejection::Governance(rejection) => rejection.title(),
            Rejection::Stigmergy(rejection) => rejection.title(),
            Rejection::Coordination(rejection) => rejection.title(),
            Rejection::Kv(rejection) => rejection.title(),
        }
    }

    /// What kind of refusal this is.
    pub fn class(&self) -> RejectionClass {
        match self {
            Rejection::UnknownSigner | Rejection::KeyMismatch => RejectionClass::Unauthenticated,
            Rejection::Unauthorized { .. } | Rejection::AgentHalted { .. } => RejectionClass::Forbidden,
            Rejection::AgentNotFound { .. } => RejectionClass::NotFound,
            Rejection::NonceReplayed { .. } | Rejection::AgentDeregistered { .. } | Rejection::Genesis { .. } => {
                RejectionClass::Conflict
            }
            Rejection::InvalidField { .. } => RejectionClass::Invalid,
            Rejection::LimitReached { .. } => RejectionClass::Limit,
            Rejection::RateLimited { .. } => RejectionClass::RetryLater,
            Rejection::Registry(rejection) => rejection.class(),
            Rejection::Config(rejection) => rejection.class(),
            Rejection::Ledger(rejection) => rejection.class(),
            Rejection::Bus(rejection) => rejection.class(),
            Rejection::Market(rejection) => rejection.class(),
            Rejection::Governance(rejection) => rejection.class(),
            Rejection::Stigmergy(rejection) => rejection.class(),
            Rejection::Coordination(rejection) => rejection.class(),
            Rejection::Kv(rejection) => rejection.class(),
        }
    }

    /// The input field to blame, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Rejection::InvalidField { field, .. } => Some(field),
            Rejection::NonceReplayed { .. } => Some("nonce"),
            Rejection::UnknownSigner
            | Rejection::KeyMismatch
            | Rejection::Unauthorized { .. }
            | Rejection::AgentNotFound { .. }
            | Rejection::AgentDeregistered { .. }
            | Rejection::AgentHalted { .. }
            | Rejection::LimitReached { .. }
            | Rejection::RateLimited { .. }
            | Rejection::Genesis { .. } => None,
            Rejection::Registry(rejection) => rejection.field(),
            Rejection::Config(rejection) => rejection.field(),
            Rejection::Ledger(rejection) => rejection.field(),
            Rejection::Bus(rejection) => rejection.field(),
            Rejection::Market(rejection) => rejection.field(),
            Rejection::Governance(rejection) => rejection.field(),
            Rejection::Stigmergy(rejection) => rejection.field(),
            Rejection::Coordination(rejection) => rejection.field(),
            Rejection::Kv(rejection) => rejection.field(),
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
            Rejection::AgentDeregistered { agent } => write!(formatter, "agent '{agent}' is deregistered"),
            Rejection::AgentHalted { agent } => write!(formatter, "agent '{agent}' is halted and may not write"),
            Rejection::InvalidField { field, reason } => write!(formatter, "field '{field}' {reason}"),
            Rejection::LimitReached { limit, max } => write!(formatter, "limit '{limit}' reached (at most {max})"),
            Rejection::RateLimited { limit, retry_after_ms } => {
                write!(formatter, "paced by '{limit}': retry in {retry_after_ms} ms")
            }
            Rejection::Genesis { reason } => write!(formatter, "genesis: {reason}"),
            Rejection::Registry(rejection) => rejection.fmt(formatter),
            Rejection::Config(rejection) => rejection.fmt(formatter),
            Rejection::Ledger(rejection) => rejection.fmt(formatter),
            Rejection::Bus(rejection) => rejection.fmt(formatter),
            Rejection::Market(rejection) => rejection.fmt(formatter),
            Rejection::Governance(rejection) => rejection.fmt(formatter),
            Rejection::Stigmergy(rejection) => rejection.fmt(formatter),
            Rejection::Coordination(rejection) => rejection.fmt(formatter),
            Rejection::Kv(rejection) => rejection.fmt(formatter),
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
    /// The genesis names rules other than the ones this binary applies: replayed here, the log would
    /// reach a state other than the one its writer served and signed.
    RulesVersionMismatch {
        /// The rules version the genesis records (0: written before genesis recorded one).
        log: u32,
        /// The rules version this binary applies ([`crate::state::RULES_VERSION`]).
        binary: u32,
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
            ApplyError::RulesVersionMismatch { log, binary } => write!(
                formatter,
                "this log was written under rules version {log}; this binary applies version {binary}; replay it with \
                 the binary that wrote it, or start a new log"
            ),
        }
    }
}

impl std::error::Error for ApplyError {}
