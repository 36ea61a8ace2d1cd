//! Every limit of the state machine, in one place.
//!
//! A limit exists so that no client, however hostile or buggy, can make the state grow without bound
//! or make one entry take unbounded time to apply. Each is enforced where the state would grow and
//! reported as [`crate::Rejection::LimitReached`] naming the limit, so an operator knows which knob
//! was hit. The assertions at the bottom keep the limits consistent with each other at compile time.

/// Registered agents, including deregistered ones (their ids are never reused, see `registry.rs`).
/// 100k agents keep the registry around 50 MB, well within one machine's memory.
pub const AGENTS_MAX: usize = 100_000;

/// Bytes in an agent id. Ids appear in subjects, URLs and log lines, so they stay short.
pub const AGENT_ID_BYTES_MAX: usize = 64;

/// Capabilities one agent may advertise.
pub const CAPABILITIES_PER_AGENT_MAX: usize = 32;

/// Bytes in one capability or role name.
pub const NAME_BYTES_MAX: usize = 64;

/// Roles the swarm configuration may define.
pub const ROLES_MAX: usize = 64;

/// Bytes in a free-text reason (halt reasons, labels).
pub const REASON_BYTES_MAX: usize = 256;

/// Largest weight an agent may carry. Weights are relative voting power; a bound keeps any sum over
/// all agents far from overflowing a `u64` (`AGENTS_MAX * AGENT_WEIGHT_MAX < 2^63`).
pub const AGENT_WEIGHT_MAX: u32 = 1_000_000;

/// Commands in one signed envelope (the batch endpoint). One entry is applied atomically by the single
/// writer, so this bounds how long any one entry can hold it.
pub const COMMANDS_PER_ENVELOPE_MAX: usize = 10_000;

/// Nonces remembered per signer beyond its floor; see `replay.rs`. Envelopes from one signer that arrive
/// at most this many positions out of order are still accepted.
pub const REPLAY_WINDOW_NONCES: usize = 64;

/// Read tokens the operator may have issued at once.
pub const READ_TOKENS_MAX: usize = 1_024;

/// Smallest heartbeat TTL the configuration accepts: below one second, ordinary scheduling jitter
/// would flap agents between active and unresponsive.
pub const HEARTBEAT_TTL_MS_MIN: u64 = 1_000;

/// Largest heartbeat TTL the configuration accepts (one week).
pub const HEARTBEAT_TTL_MS_MAX: u64 = 7 * 24 * 3_600 * 1_000;

/// Liveness expiries processed by one entry. Expiries beyond this wait for the next entry, so a mass
/// expiry cannot stall the writer; the driver schedules ticks until none are due.
pub const EXPIRIES_PER_ENTRY_MAX: usize = 10_000;

/// Transfers remembered for idempotency (by creator and transfer id). Beyond this, the oldest are
/// forgotten and a retry of one of them would be a new transfer; at ~150 bytes each this is ~150 MB.
pub const TRANSFERS_RETAINED_MAX: usize = 1_000_000;

/// Transfers in one linked batch, applied all or nothing.
pub const TRANSFERS_PER_BATCH_MAX: usize = 1_000;

/// Escrows that may be open (locked or disputed) at once.
pub const OPEN_ESCROWS_MAX: usize = 1_000_000;

/// Escrows kept in state, open and settled. Beyond this the oldest settled ones are forgotten (their
/// outcome stays in the log and the event stream).
pub const ESCROWS_RETAINED_MAX: usize = 2_000_000;

/// Shortest escrow timeout: one second.
pub const ESCROW_TIMEOUT_MS_MIN: u64 = 1_000;

/// Longest escrow timeout: 90 days.
pub const ESCROW_TIMEOUT_MS_MAX: u64 = 90 * 24 * 3_600 * 1_000;

/// Bytes in a hashlock preimage.
pub const PREIMAGE_BYTES_MAX: usize = 256;

const _: () = assert!(OPEN_ESCROWS_MAX <= ESCROWS_RETAINED_MAX);
const _: () = assert!(AGENTS_MAX as u64 * AGENT_WEIGHT_MAX as u64 <= i64::MAX as u64);
const _: () = assert!(HEARTBEAT_TTL_MS_MIN < HEARTBEAT_TTL_MS_MAX);
const _: () = assert!(REPLAY_WINDOW_NONCES >= 1);
const _: () = assert!(AGENT_ID_BYTES_MAX <= NAME_BYTES_MAX);
