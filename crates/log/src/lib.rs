//! Colony's command log: where entries become durable, and where snapshots bound recovery time.
//!
//! # Layout
//! - [`CommandLog`]: the trait the driver writes through. A backend stores records in order and
//!   makes them durable before `append` returns; it knows nothing of what the records mean.
//! - [`chain`]: the hash chain every backend keeps over its records, so that a changed, missing,
//!   reordered or substituted entry is detected and a chain hash names a whole history.
//! - [`sqlite`]: the embedded backend, one SQLite database in WAL mode with `synchronous=FULL`.
//! - [`memory`]: a backend in memory that injects faults on demand (failed appends, crashes that lose
//!   or tear the unsynced tail, slow syncs, damage), for the whole-system simulator.
//! - [`error`]: one error enum per operation.
//!
//! # Architecture invariant
//! The log is opaque bytes with sequence numbers, timestamps and chain hashes. It does not depend on the
//! wire format, so a replicated backend (a NATS JetStream stream) can implement the same trait
//! without touching core or the driver.

pub mod chain;
pub mod error;
pub mod memory;
pub mod snapshots;
pub mod sqlite;
mod wal_checkpointer;

pub use chain::{ChainHash, LogHead};
pub use error::{AppendError, OpenError, ReadError};
pub use memory::{AppendFault, Damage, FaultCounts, MemoryLog, MemoryStorage};
pub use snapshots::{FileSnapshots, MemorySnapshots, Snapshot, SnapshotStore, SnapshotStoreError};
pub use sqlite::{Durability, SqliteLog};

/// One stored entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Position in the log, from 1, without gaps.
    pub sequence: u64,
    /// The driver's timestamp (Unix milliseconds).
    pub timestamp_ms: u64,
    /// What the payload holds (the wire crate's `RecordKind`).
    pub kind: u8,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// A record read back, with the chain hash verified up to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainedRecord {
    /// The record.
    pub record: Record,
    /// The chain hash of the log up to and including it.
    pub chain: ChainHash,
}

/// The durable, ordered store of records.
///
/// Implementations must make `append` durable before returning (an acknowledged write survives a
/// crash), must refuse records out of sequence, must keep the hash chain of [`chain`] (the same
/// function in every backend, so a receipt from one verifies against another), and must detect
/// corruption on read rather than return damaged data.
pub trait CommandLog: Send {
    /// The last durable entry and its chain hash.
    fn head(&self) -> LogHead;

    /// Checks that the head the log records agrees with its last record, so that a record deleted
    /// from the end (which leaves a log consistent in every other way) is noticed. Cheap: opening
    /// a log for writing does it.
    fn check_head(&self) -> Result<(), ReadError>;

    /// The last durable sequence number (0 when empty).
    fn last_sequence(&self) -> u64 {
        self.head().sequence
    }

    /// Appends records, which must continue the sequence without gaps, and makes them durable: when
    /// this returns `Ok`, all of them survive a crash. Either all are appended or none. Returns each
    /// record's chain hash, in order.
    fn append(&mut self, records: &[Record]) -> Result<Vec<ChainHash>, AppendError>;

    /// Reads up to `max` records starting at `from`, in order, verifying each one's chain hash
    /// against its predecessor's. Returns fewer than `max` only at the end of the log.
    fn read(&self, from: u64, max: usize) -> Result<Vec<ChainedRecord>, ReadError>;

    /// Opens a second handle on the same log, read-only, for another thread (the snapshotter): it
    /// reads the log up to the head it finds when opened, while this handle goes on appending.
    fn open_reader(&self) -> Result<Box<dyn CommandLog>, OpenError>;
}

/// What every backend's `append` checks and computes first: that `records` continue the log whose
/// head is `head` without gaps, and the chain hash each of them gets, in order. One rule for all
/// backends, so that a receipt from one verifies against another.
pub fn chain_appended(head: LogHead, records: &[Record]) -> Result<Vec<ChainHash>, AppendError> {
    let mut chains = Vec::with_capacity(records.len());
    let mut chain = head.chain;
    for (offset, record) in records.iter().enumerate() {
        let expected = head.sequence + 1 + offset as u64;
        if record.sequence != expected {
            return Err(AppendError::OutOfSequence { expected, found: record.sequence });
        }
        chain = chain.next(&record.digest());
        chains.push(chain);
    }
    Ok(chains)
}

/// Records read per step of [`verify`].
const VERIFY_BATCH_RECORDS: usize = 8_192;

/// Verifies a whole log: its head, then every record from the first, in order, against the chain,
/// then that the chain ends at the head. `visit` sees each verified record (a checker of signed
/// checkpoints, a progress report); an error it returns stops the walk. Start-up and the audit both
/// call this, so they report the same damage in the same words.
pub fn verify<E: From<ReadError>>(
    log: &dyn CommandLog,
    mut visit: impl FnMut(&ChainedRecord) -> Result<(), E>,
) -> Result<LogHead, E> {
    log.check_head()?;
    let head = log.head();
    let mut reached = LogHead::default();
    while reached.sequence < head.sequence {
        let records = log.read(reached.sequence + 1, VERIFY_BATCH_RECORDS)?;
        let Some(last) = records.last() else {
            return Err(ReadError::Missing { sequence: reached.sequence + 1 }.into());
        };
        reached = LogHead { sequence: last.record.sequence, chain: last.chain };
        for record in &records {
            visit(record)?;
        }
    }
    if reached != head {
        return Err(ReadError::Corrupt {
            sequence: head.sequence,
            reason: "the chain does not end at the hash the log's head records".to_owned(),
        }
        .into());
    }
    Ok(head)
}
