//! Colony's command log: where entries become durable, and where snapshots bound recovery time.
//!
//! # Layout
//! - [`CommandLog`]: the trait the driver writes through. A backend stores records in order and
//!   makes them durable before `append` returns; it knows nothing of what the records mean.
//! - [`sqlite`]: the embedded backend, one SQLite database in WAL mode with `synchronous=FULL`.
//! - [`error`]: one error enum per operation.
//!
//! # Architecture invariant
//! The log is opaque bytes with sequence numbers, timestamps and checksums. It does not depend on the
//! wire format, so a replicated backend (a NATS JetStream stream) can implement the same trait
//! without touching core or the driver.

pub mod error;
pub mod sqlite;

pub use error::{AppendError, OpenError, ReadError, SnapshotStoreError};
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

impl Record {
    /// The CRC-32 the log stores beside the record; it covers every field, so a flipped bit anywhere
    /// in the row is detected on read.
    pub fn checksum(&self) -> u32 {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&self.sequence.to_le_bytes());
        hasher.update(&self.timestamp_ms.to_le_bytes());
        hasher.update(&[self.kind]);
        hasher.update(&self.payload);
        hasher.finalize()
    }
}

/// A stored snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The last entry the snapshot includes.
    pub sequence: u64,
    /// The state hash at that entry, to check the decoded state against.
    pub state_hash: [u8; 32],
    /// The encoded state.
    pub body: Vec<u8>,
}

/// A snapshot that failed its checksum, reported so recovery can say why it fell back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedSnapshot {
    /// The snapshot's sequence number.
    pub sequence: u64,
    /// What is wrong.
    pub reason: String,
}

/// The durable, ordered store of records, plus snapshots.
///
/// Implementations must make `append` durable before returning (an acknowledged write survives a
/// crash), must refuse records out of sequence, and must detect corruption on read rather than
/// return damaged data.
pub trait CommandLog: Send {
    /// The last durable sequence number (0 when empty).
    fn last_sequence(&self) -> u64;

    /// Appends records, which must continue the sequence without gaps, and makes them durable: when
    /// this returns `Ok`, all of them survive a crash. Either all are appended or none.
    fn append(&mut self, records: &[Record]) -> Result<(), AppendError>;

    /// Reads up to `max` records starting at `from`, in order, verifying each checksum. Returns fewer
    /// than `max` only at the end of the log.
    fn read(&self, from: u64, max: usize) -> Result<Vec<Record>, ReadError>;

    /// Stores a snapshot durably and keeps only the newest `keep` snapshots.
    fn save_snapshot(&mut self, snapshot: &Snapshot, keep: usize) -> Result<(), SnapshotStoreError>;

    /// All snapshots whose checksums hold, newest first, and those that failed.
    fn snapshots(&self) -> Result<(Vec<Snapshot>, Vec<DamagedSnapshot>), SnapshotStoreError>;
}
