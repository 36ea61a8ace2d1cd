//! A command log in memory, with faults on demand: the storage the whole-system simulator runs the
//! real driver on.
//!
//! [`MemoryStorage`] is the "disk": records, the recorded head, and what has been synced (snapshots
//! are kept apart, in a [`crate::MemorySnapshots`]).
//! It is shared (`Arc<Mutex<..>>`), so a simulated restart drops every handle and opens a new
//! [`MemoryLog`] on the same storage, exactly as a restarted server opens the same file. It keeps the
//! same hash chain ([`crate::chain`]) and the same head record as the SQLite backend, and reports
//! damage with the same [`ReadError`]s, so start-up's checks run unchanged against it.
//!
//! Faults are armed on the storage and happen at the next operation they concern:
//! - [`AppendFault::Fail`]: the append fails and nothing is written (a device error);
//! - [`AppendFault::CrashBeforeSync`]: the append's records are written but not synced, and the
//!   process dies; a following [`MemoryStorage::crash`] loses them, or leaves the last one torn
//!   (a frame the storage's own recovery discards at the next open, as a write-ahead log does);
//! - [`AppendFault::CrashAfterSync`]: the records are durable but the process dies before the append
//!   returns, so nobody was told;
//! - [`MemoryStorage::slow_next_sync`]: the next sync takes that long, told to an observer (the
//!   simulator's clock);
//! - [`MemoryStorage::damage`]: a record corrupted, deleted (in the middle or at the end), cut off,
//!   made unreadable, or the head record lost, while no server runs; [`MemoryStorage::repair`] puts
//!   the storage back as it was, once the caller has seen start-up refuse the damaged log.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::chain::{ChainHash, LogHead};
use crate::error::{AppendError, OpenError, ReadError};
use crate::{ChainedRecord, CommandLog, Record};

/// What the next append does instead of succeeding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendFault {
    /// It fails and writes nothing.
    Fail,
    /// It writes its records without syncing them and the process dies: the append returns an
    /// error, and only [`MemoryStorage::crash`] says what survives. `torn`: the last record was only
    /// partly written when the power went.
    CrashBeforeSync {
        /// Whether the last record is left torn.
        torn: bool,
    },
    /// Its records are synced, then the process dies before the append returns.
    CrashAfterSync,
}

/// Damage done to a stopped log, to check that start-up refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// A byte of this record's payload flipped; its stored chain hash kept.
    CorruptRecord(u64),
    /// This record deleted (not the last).
    DeleteRecord(u64),
    /// The last record deleted; the head still records it.
    DeleteLast,
    /// The records after this one cut off; the head still records the old end.
    TruncateAfter(u64),
    /// These records unreadable, as under a damaged page.
    Unreadable {
        /// The first unreadable record.
        first: u64,
        /// The last.
        last: u64,
    },
    /// The head record lost.
    LoseHead,
}

impl Damage {
    /// The first entry start-up must name when it refuses the log (`None`: the head record).
    pub fn first_damaged(&self, head: u64) -> Option<u64> {
        match *self {
            Damage::CorruptRecord(sequence) | Damage::DeleteRecord(sequence) => Some(sequence),
            Damage::DeleteLast => Some(head),
            Damage::TruncateAfter(sequence) => Some(sequence + 1),
            Damage::Unreadable { first, .. } => Some(first),
            Damage::LoseHead => None,
        }
    }
}

/// How often each fault happened, for the simulator's report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Appends that failed.
    pub failed_appends: u64,
    /// Crashes during an append, before its sync.
    pub crashes_before_sync: u64,
    /// Of those, crashes that left the last record torn.
    pub torn_records: u64,
    /// Crashes during an append, after its sync.
    pub crashes_after_sync: u64,
    /// Records lost at a crash because they were never synced.
    pub unsynced_records_lost: u64,
    /// Slow syncs.
    pub slow_syncs: u64,
    /// Damage done to a stopped log.
    pub damages: u64,
}

/// Told how long a slow sync took (the simulator moves its clock by that much).
pub type SyncObserver = Arc<dyn Fn(u64) + Send + Sync>;

#[derive(Clone, Debug)]
struct StoredRecord {
    record: Record,
    chain: ChainHash,
    /// Only partly written: the frame fails the storage's own check, so opening discards it.
    torn: bool,
    unreadable: bool,
}

/// What is on the "disk".
#[derive(Clone, Default)]
struct Disk {
    records: BTreeMap<u64, StoredRecord>,
    /// The head record (`None`: lost).
    head: Option<LogHead>,
    /// The head as of the last sync: what a crash falls back to.
    synced_head: LogHead,
}

#[derive(Default)]
struct Storage {
    disk: Disk,
    /// The disk as it was before [`MemoryStorage::damage`].
    before_damage: Option<Disk>,
    next_append: Option<AppendFault>,
    next_sync_delay_ms: Option<u64>,
    sync_observer: Option<SyncObserver>,
    /// Each sync makes durable only what the one before it covered: a device that acknowledges
    /// writes it has not stored, for checking that the simulator notices lost acknowledged writes.
    syncs_lag: bool,
    counts: FaultCounts,
}

/// The shared storage behind every [`MemoryLog`] opened on it; cloning shares it.
#[derive(Clone, Default)]
pub struct MemoryStorage {
    inner: Arc<Mutex<Storage>>,
}

impl std::fmt::Debug for MemoryStorage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let storage = self.lock();
        write!(formatter, "MemoryStorage {{ head: {:?}, records: {} }}", storage.disk.head, storage.disk.records.len())
    }
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> MemoryStorage {
        let storage = MemoryStorage::default();
        storage.lock().disk.head = Some(LogHead::default());
        storage
    }

    fn lock(&self) -> MutexGuard<'_, Storage> {
        // A panic elsewhere while holding the lock leaves the storage as consistent as a crash would.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Arms a fault for the next append.
    pub fn fail_next_append(&self, fault: AppendFault) {
        self.lock().next_append = Some(fault);
    }

    /// The fault armed for the next append, if it has not happened yet.
    pub fn armed_append_fault(&self) -> Option<AppendFault> {
        self.lock().next_append
    }

    /// Makes the next sync take `delay_ms`, told to the observer.
    pub fn slow_next_sync(&self, delay_ms: u64) {
        self.lock().next_sync_delay_ms = Some(delay_ms);
    }

    /// Who is told of slow syncs.
    pub fn set_sync_observer(&self, observer: SyncObserver) {
        self.lock().sync_observer = Some(observer);
    }

    /// Makes every later sync persist only what the sync before it covered, so that a power loss
    /// takes acknowledged writes with it: a broken device, which the simulator must catch.
    pub fn make_syncs_lag(&self) {
        self.lock().syncs_lag = true;
    }

    /// The counts of faults so far.
    pub fn fault_counts(&self) -> FaultCounts {
        self.lock().counts
    }

    /// The power goes: whatever was not synced is lost, except that a torn last record may remain
    /// as a partial frame. Returns how many records were lost.
    pub fn crash(&self, torn: bool) -> u64 {
        let mut storage = self.lock();
        let synced = storage.disk.synced_head;
        let unsynced: Vec<u64> =
            storage.disk.records.range(synced.sequence + 1..).map(|(sequence, _)| *sequence).collect();
        let lost = unsynced.len() as u64;
        for sequence in &unsynced {
            storage.disk.records.remove(sequence);
        }
        if torn && let Some(&last) = unsynced.last() {
            // The last frame was being written when the power went: part of it reached the disk.
            let partial = Record { sequence: last, timestamp_ms: 0, kind: 0, payload: Vec::new() };
            storage
                .disk
                .records
                .insert(last, StoredRecord { record: partial, chain: ChainHash::EMPTY, torn: true, unreadable: false });
        }
        storage.disk.head = Some(synced);
        storage.counts.unsynced_records_lost += lost;
        lost
    }

    /// Damages the stopped log; [`repair`](MemoryStorage::repair) undoes it. Returns the damage
    /// done, which may differ from the one asked for when the log is too short for it (`None`: the
    /// log is too short for any).
    pub fn damage(&self, damage: Damage) -> Option<Damage> {
        let mut storage = self.lock();
        let head = storage.disk.head?.sequence;
        if head < 3 {
            return None;
        }
        let pristine = storage.disk.clone();
        let disk = &mut storage.disk;
        let flip = |record: &mut StoredRecord| match record.record.payload.first_mut() {
            Some(byte) => *byte ^= 0x5a,
            None => record.record.timestamp_ms ^= 1,
        };
        match damage {
            Damage::CorruptRecord(sequence) => flip(disk.records.get_mut(&sequence.clamp(1, head))?),
            Damage::DeleteRecord(sequence) => {
                disk.records.remove(&sequence.clamp(1, head - 1))?;
            }
            Damage::DeleteLast => {
                disk.records.remove(&head)?;
            }
            Damage::TruncateAfter(sequence) => {
                let keep = sequence.clamp(1, head - 1);
                disk.records.retain(|stored, _| *stored <= keep);
            }
            Damage::Unreadable { first, last } => {
                let first = first.clamp(1, head);
                for (_, record) in disk.records.range_mut(first..=last.clamp(first, head)) {
                    record.unreadable = true;
                }
            }
            Damage::LoseHead => disk.head = None,
        }
        let done = match damage {
            Damage::CorruptRecord(sequence) => Damage::CorruptRecord(sequence.clamp(1, head)),
            Damage::DeleteRecord(sequence) => Damage::DeleteRecord(sequence.clamp(1, head - 1)),
            Damage::TruncateAfter(sequence) => Damage::TruncateAfter(sequence.clamp(1, head - 1)),
            Damage::Unreadable { first, last } => {
                let first = first.clamp(1, head);
                Damage::Unreadable { first, last: last.clamp(first, head) }
            }
            other => other,
        };
        storage.before_damage = Some(pristine);
        storage.counts.damages += 1;
        Some(done)
    }

    /// Undoes the last [`damage`](MemoryStorage::damage).
    pub fn repair(&self) {
        let mut storage = self.lock();
        if let Some(pristine) = storage.before_damage.take() {
            storage.disk = pristine;
        }
    }
}

/// A log handle on a [`MemoryStorage`].
pub struct MemoryLog {
    storage: MemoryStorage,
}

impl MemoryLog {
    /// Opens the log for writing, as a server does at start: the storage's own recovery first drops
    /// a torn frame at the end and makes what it keeps durable (a server builds on what it reads,
    /// so what it reads must not vanish at the next power loss), then a log whose head disagrees
    /// with its records is refused.
    pub fn open(storage: &MemoryStorage) -> Result<MemoryLog, OpenError> {
        {
            let mut guard = storage.lock();
            while let Some(entry) = guard.disk.records.last_entry() {
                if !entry.get().torn {
                    break;
                }
                entry.remove();
            }
            guard.disk.synced_head = guard.head();
        }
        let log = MemoryLog { storage: storage.clone() };
        log.check_head().map_err(OpenError::Damaged)?;
        Ok(log)
    }

    /// Opens the log to read it, damaged or not, so that [`crate::verify`] can say where it is damaged.
    pub fn open_read_only(storage: &MemoryStorage) -> MemoryLog {
        MemoryLog { storage: storage.clone() }
    }
}

fn storage_failure(reason: &str) -> AppendError {
    AppendError::Storage(reason.to_owned())
}

impl Storage {
    fn head(&self) -> LogHead {
        self.disk.head.unwrap_or_else(|| LogHead {
            sequence: self.disk.records.keys().next_back().copied().unwrap_or(0),
            chain: ChainHash::EMPTY,
        })
    }

    fn stored_chain(&self, sequence: u64) -> Result<ChainHash, ReadError> {
        if sequence == 0 {
            return Ok(ChainHash::EMPTY);
        }
        let stored = self.disk.records.get(&sequence).ok_or(ReadError::Missing { sequence })?;
        if stored.unreadable {
            return Err(self.unreadable_from(sequence));
        }
        Ok(stored.chain)
    }

    /// The run of unreadable records from `first`, as the SQLite backend reports a damaged page.
    fn unreadable_from(&self, first: u64) -> ReadError {
        let last = self
            .disk
            .records
            .range(first..)
            .take_while(|(_, stored)| stored.unreadable)
            .map(|(sequence, _)| *sequence)
            .last()
            .unwrap_or(first);
        ReadError::Unreadable { first, last, reason: "database disk image is malformed".to_owned() }
    }

    fn sync(&mut self, before: LogHead) {
        self.disk.synced_head = if self.syncs_lag { before } else { self.head() };
        if let Some(delay_ms) = self.next_sync_delay_ms.take() {
            self.counts.slow_syncs += 1;
            if let Some(observer) = &self.sync_observer {
                observer(delay_ms);
            }
        }
    }
}

impl CommandLog for MemoryLog {
    fn head(&self) -> LogHead {
        self.storage.lock().head()
    }

    fn check_head(&self) -> Result<(), ReadError> {
        let storage = self.storage.lock();
        let Some(recorded) = storage.disk.head else { return Err(ReadError::HeadMissing) };
        let (last_sequence, last_chain) = storage
            .disk
            .records
            .iter()
            .next_back()
            .map_or((0, ChainHash::EMPTY), |(sequence, stored)| (*sequence, stored.chain));
        if last_sequence < recorded.sequence {
            return Err(ReadError::Truncated { recorded: recorded.sequence, found: last_sequence });
        }
        if last_sequence > recorded.sequence {
            return Err(ReadError::Corrupt {
                sequence: recorded.sequence + 1,
                reason: format!(
                    "the log's head records entry {}, but entries up to {last_sequence} follow it",
                    recorded.sequence
                ),
            });
        }
        if last_chain != recorded.chain {
            return Err(ReadError::Corrupt {
                sequence: recorded.sequence,
                reason: "its chain hash differs from the one the log's head records".to_owned(),
            });
        }
        Ok(())
    }

    fn append(&mut self, records: &[Record]) -> Result<Vec<ChainHash>, AppendError> {
        let mut storage = self.storage.lock();
        let head = storage.head();
        let chains = crate::chain_appended(head, records)?;
        let (Some(&chain), Some(last)) = (chains.last(), records.last()) else {
            return Ok(chains);
        };
        let fault = storage.next_append.take();
        if fault == Some(AppendFault::Fail) {
            storage.counts.failed_appends += 1;
            return Err(storage_failure("the device refused the write"));
        }
        for (record, &chain) in records.iter().zip(&chains) {
            let stored = StoredRecord { record: record.clone(), chain, torn: false, unreadable: false };
            storage.disk.records.insert(record.sequence, stored);
        }
        storage.disk.head = Some(LogHead { sequence: last.sequence, chain });
        match fault {
            Some(AppendFault::CrashBeforeSync { torn }) => {
                storage.counts.crashes_before_sync += 1;
                storage.counts.torn_records += u64::from(torn);
                Err(storage_failure("the process died before the sync"))
            }
            Some(AppendFault::CrashAfterSync) => {
                storage.sync(head);
                storage.counts.crashes_after_sync += 1;
                Err(storage_failure("the process died after the sync"))
            }
            _ => {
                storage.sync(head);
                Ok(chains)
            }
        }
    }

    fn read(&self, from: u64, max: usize) -> Result<Vec<ChainedRecord>, ReadError> {
        let storage = self.storage.lock();
        let head = storage.head();
        if from > head.sequence || max == 0 {
            return Ok(Vec::new());
        }
        let mut previous = storage.stored_chain(from - 1)?;
        let mut records = Vec::with_capacity(max.min(4_096));
        let mut expected = from;
        for (&sequence, stored) in storage.disk.records.range(from..).take(max) {
            if sequence != expected {
                return Err(ReadError::Missing { sequence: expected });
            }
            if stored.unreadable {
                return Err(storage.unreadable_from(sequence));
            }
            let computed = previous.next(&stored.record.digest());
            if stored.torn || computed != stored.chain {
                return Err(ReadError::Corrupt {
                    sequence,
                    reason: format!(
                        "its chain hash does not follow from entry {}: the entry was changed, reordered or substituted",
                        sequence - 1
                    ),
                });
            }
            records.push(ChainedRecord { record: stored.record.clone(), chain: computed });
            previous = computed;
            expected += 1;
        }
        if records.len() < max && expected <= head.sequence {
            return Err(ReadError::Missing { sequence: expected });
        }
        Ok(records)
    }

    fn open_reader(&self) -> Result<Box<dyn CommandLog>, OpenError> {
        Ok(Box::new(MemoryLog::open_read_only(&self.storage)))
    }
}

#[cfg(test)]
mod tests;
