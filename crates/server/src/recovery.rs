//! Recovery: the newest valid snapshot, then every entry after it.
//!
//! A snapshot is used only if its bytes hash to the state hash it claims (one pass over the bytes, no
//! re-encoding) and its chain hash is the log's at its entry (it belongs to this history). A damaged
//! snapshot is skipped (and reported) in favour of an older one or a replay from genesis;
//! a damaged or missing log entry stops recovery with an error naming the entry. Recovery never
//! silently starts from an empty state: a log whose first entry is gone and which has no usable
//! snapshot is an error.

use std::time::Instant;

use colony_core::{Digest, Event, State};
use colony_log::{CommandLog, ReadError, SnapshotStore};

use crate::log_records::{ReplayError, decode_record};

/// Records read per batch during replay.
const REPLAY_BATCH_RECORDS: usize = 4_096;

/// The recovered state and what it took.
pub struct Recovered {
    /// The state after the last durable entry.
    pub state: State,
    /// The events of the entries replayed after the snapshot, for the event hub.
    pub events: Vec<Event>,
    /// Every event of every entry from this sequence on is in `events`.
    pub events_complete_from: u64,
    /// The snapshot recovery started from (0: genesis).
    pub snapshot_sequence: u64,
    /// That snapshot's state hash (checked against the decoded state), if there was one.
    pub snapshot_state_hash: Option<(u64, Digest)>,
    /// Entries replayed after the snapshot.
    pub entries_replayed: u64,
    /// Snapshots skipped because they were damaged, with the reason.
    pub skipped_snapshots: Vec<(u64, String)>,
    /// Wall time spent.
    pub elapsed: std::time::Duration,
}

/// Why recovery failed.
#[derive(Debug)]
pub enum RecoveryError {
    /// The log could not be read, or is damaged at an entry.
    Log(ReadError),
    /// An entry cannot be decoded.
    Replay(ReplayError),
    /// An entry cannot follow its predecessor.
    Apply {
        /// The entry.
        sequence: u64,
        /// Why.
        error: colony_core::ApplyError,
    },
    /// The snapshot store could not be listed.
    Snapshots(colony_log::SnapshotStoreError),
}

impl std::fmt::Display for RecoveryError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecoveryError::Log(error) => write!(formatter, "{error}"),
            RecoveryError::Replay(error) => write!(formatter, "{error}"),
            RecoveryError::Apply { sequence, error } => write!(formatter, "log entry {sequence}: {error}"),
            RecoveryError::Snapshots(error) => write!(formatter, "{error}"),
        }
    }
}

impl std::error::Error for RecoveryError {}

/// Rebuilds the state from the newest usable snapshot in `snapshots` and the entries of `log` after
/// it. `keep_events` bounds how many events of the replayed tail are returned; `progress` is called
/// after each batch with `(applied, last_sequence)`.
pub fn recover(
    log: &dyn CommandLog,
    snapshots: &dyn SnapshotStore,
    keep_events: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<Recovered, RecoveryError> {
    let started = Instant::now();
    let mut skipped: Vec<(u64, String)> = Vec::new();
    let mut state = State::new();
    let mut snapshot_sequence = 0;
    let mut snapshot_state_hash = None;
    for sequence in snapshots.list().map_err(RecoveryError::Snapshots)? {
        if sequence > log.last_sequence() {
            skipped.push((sequence, "newer than the log".to_owned()));
            continue;
        }
        match load_snapshot(log, snapshots, sequence) {
            Ok((decoded, state_hash)) => {
                state = decoded;
                snapshot_sequence = sequence;
                snapshot_state_hash = Some((sequence, state_hash));
                break;
            }
            Err(reason) => skipped.push((sequence, reason)),
        }
    }

    let last = log.last_sequence();
    let mut events: std::collections::VecDeque<Event> = std::collections::VecDeque::new();
    let mut events_complete_from = snapshot_sequence + 1;
    let mut next = snapshot_sequence + 1;
    while next <= last {
        let records = log.read(next, REPLAY_BATCH_RECORDS).map_err(RecoveryError::Log)?;
        if records.is_empty() {
            return Err(RecoveryError::Log(ReadError::Missing { sequence: next }));
        }
        for chained in &records {
            let record = &chained.record;
            let entry = decode_record(record, &state).map_err(RecoveryError::Replay)?.entry;
            let outcome =
                state.apply(&entry).map_err(|error| RecoveryError::Apply { sequence: record.sequence, error })?;
            // Keeping none (the snapshotter) must keep none, not all.
            for event in outcome.events.into_iter().filter(|_| keep_events > 0) {
                if events.len() == keep_events
                    && let Some(dropped) = events.pop_front()
                {
                    events_complete_from = dropped.sequence + 1;
                }
                events.push_back(event);
            }
        }
        next += records.len() as u64;
        progress(next - 1 - snapshot_sequence, last);
    }
    if keep_events == 0 {
        events_complete_from = state.sequence() + 1;
    }
    Ok(Recovered {
        entries_replayed: state.sequence() - snapshot_sequence,
        state,
        events: events.into(),
        events_complete_from,
        snapshot_sequence,
        snapshot_state_hash,
        skipped_snapshots: skipped,
        elapsed: started.elapsed(),
    })
}

/// Reads, checks and decodes the snapshot at `sequence`, or says why it cannot be used.
fn load_snapshot(
    log: &dyn CommandLog,
    snapshots: &dyn SnapshotStore,
    sequence: u64,
) -> Result<(State, Digest), String> {
    let snapshot = snapshots.read(sequence).map_err(|error| error.to_string())?;
    let state_hash = Digest(snapshot.state_hash);
    let chain = log.read(sequence, 1).map_err(|error| error.to_string())?.first().map(|record| record.chain);
    if chain != Some(snapshot.chain) {
        return Err("it belongs to another history: its chain hash is not the log's at its entry".to_owned());
    }
    let state = State::decode_snapshot_with_hash(&snapshot.body, state_hash).map_err(|error| error.to_string())?;
    if state.sequence() != sequence {
        return Err(format!("it holds the state at entry {}", state.sequence()));
    }
    Ok((state, state_hash))
}

#[cfg(test)]
mod tests {
    use colony_log::{CommandLog as _, Durability, MemorySnapshots, SqliteLog};

    #[test]
    fn keeping_no_events_keeps_none() {
        let directory = tempfile::tempdir().unwrap();
        let mut log = SqliteLog::open_with(&directory.path().join("log.db"), Durability::Relaxed).unwrap();
        let operator = colony_wire::KeyPair::from_seed([7; 32]);
        crate::driver::write_genesis(&mut log, operator.public_key(), colony_core::SwarmConfig::default(), 1_000)
            .unwrap();
        let snapshots = MemorySnapshots::default();
        let kept = super::recover(&log, &snapshots, 16, |_, _| {}).unwrap();
        assert!(!kept.events.is_empty(), "genesis has events to keep");
        assert_eq!(kept.events_complete_from, 1);
        let none = super::recover(&log, &snapshots, 0, |_, _| {}).unwrap();
        assert!(none.events.is_empty());
        assert_eq!(none.events_complete_from, log.last_sequence() + 1, "no event is held from anywhere");
    }
}
