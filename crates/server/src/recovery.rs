//! Recovery: the newest valid snapshot, then every entry after it.
//!
//! A damaged snapshot is skipped (and reported) in favour of an older one or a replay from genesis;
//! a damaged or missing log entry stops recovery with an error naming the entry. Recovery never
//! silently starts from an empty state: a log whose first entry is gone and which has no usable
//! snapshot is an error.

use std::collections::VecDeque;
use std::time::Instant;

use colony_core::{Digest, Event, State};
use colony_log::{CommandLog, ReadError};

use crate::log_records::{PendingRecord, ReplayError, decode_pending};

/// Records read per batch during replay.
const REPLAY_BATCH_RECORDS: usize = 4_096;

/// Decoded batches waiting to be applied: enough to keep the applying thread busy while the next
/// batch is read, few enough that replay holds a bounded number of records in memory.
const REPLAY_BATCHES_AHEAD: usize = 4;

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
    /// The snapshot store could not be read.
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

/// Rebuilds the state from `log`. `keep_events` bounds how many events of the replayed tail are
/// returned; `progress` is called after each batch with `(applied, last_sequence)`.
pub fn recover(
    log: &dyn CommandLog,
    keep_events: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<Recovered, RecoveryError> {
    let started = Instant::now();
    let (snapshots, damaged) = log.snapshots().map_err(RecoveryError::Snapshots)?;
    let mut skipped: Vec<(u64, String)> =
        damaged.into_iter().map(|snapshot| (snapshot.sequence, snapshot.reason)).collect();
    let mut state = State::new();
    let mut snapshot_sequence = 0;
    for snapshot in snapshots {
        if snapshot.sequence > log.last_sequence() {
            skipped.push((snapshot.sequence, "newer than the log".to_owned()));
            continue;
        }
        match State::decode_snapshot(&snapshot.body) {
            Ok(decoded)
                if decoded.sequence() == snapshot.sequence && decoded.state_hash() == Digest(snapshot.state_hash) =>
            {
                state = decoded;
                snapshot_sequence = snapshot.sequence;
                break;
            }
            Ok(_) => skipped.push((snapshot.sequence, "state hash or sequence does not match".to_owned())),
            Err(error) => skipped.push((snapshot.sequence, error.to_string())),
        }
    }

    let last = log.last_sequence();
    let replayed = replay(log, state, snapshot_sequence, last, keep_events, &mut progress)?;
    Ok(Recovered {
        entries_replayed: replayed.state.sequence() - snapshot_sequence,
        state: replayed.state,
        events: replayed.events.into(),
        events_complete_from: replayed.events_complete_from,
        snapshot_sequence,
        skipped_snapshots: skipped,
        elapsed: started.elapsed(),
    })
}

/// What replaying the log's tail left.
struct Replayed {
    state: State,
    events: VecDeque<Event>,
    events_complete_from: u64,
}

/// Applies entries `from + 1 ..= last` to `state`, in two stages on two threads: this thread reads
/// records and decodes their bytes (SQLite and JSON, which need no state), a second one applies them
/// in order (which does). Replay is the same sequence of `State::apply` calls as a single loop; the
/// stages only overlap the reading of batch n + 1 with the applying of batch n.
fn replay(
    log: &dyn CommandLog,
    state: State,
    from: u64,
    last: u64,
    keep_events: usize,
    progress: &mut impl FnMut(u64, u64),
) -> Result<Replayed, RecoveryError> {
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<PendingRecord>>(REPLAY_BATCHES_AHEAD);
    std::thread::scope(|scope| {
        let applier = std::thread::Builder::new()
            .name("colony-replay".to_owned())
            .spawn_scoped(scope, move || apply_batches(state, from, keep_events, receiver))
            .expect("the replay thread starts");
        let read = read_batches(log, from, last, &sender, progress);
        // Closing the channel ends the applier once it has applied everything it was sent.
        drop(sender);
        let applied = applier.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // An applying error comes first: the reader only stopped because the applier did.
        let replayed = applied?;
        read?;
        Ok(replayed)
    })
}

/// The reading stage: batches of decoded records, in order, until `last` or the first error.
fn read_batches(
    log: &dyn CommandLog,
    from: u64,
    last: u64,
    sender: &std::sync::mpsc::SyncSender<Vec<PendingRecord>>,
    progress: &mut impl FnMut(u64, u64),
) -> Result<(), RecoveryError> {
    let mut next = from + 1;
    while next <= last {
        let records = log.read(next, REPLAY_BATCH_RECORDS).map_err(RecoveryError::Log)?;
        if records.is_empty() {
            return Err(RecoveryError::Log(ReadError::Missing { sequence: next }));
        }
        let batch = records.iter().map(decode_pending).collect::<Result<Vec<_>, _>>().map_err(RecoveryError::Replay)?;
        next += records.len() as u64;
        if sender.send(batch).is_err() {
            // The applier stopped on an error, which the caller reports.
            return Ok(());
        }
        progress(next - 1 - from, last);
    }
    Ok(())
}

/// The applying stage: every entry in order, keeping the last `keep_events` events.
fn apply_batches(
    mut state: State,
    from: u64,
    keep_events: usize,
    receiver: std::sync::mpsc::Receiver<Vec<PendingRecord>>,
) -> Result<Replayed, RecoveryError> {
    let mut events: VecDeque<Event> = VecDeque::new();
    let mut events_complete_from = from + 1;
    for batch in receiver {
        for pending in batch {
            let entry = pending.into_decoded(&state).entry;
            let sequence = entry.sequence;
            let outcome = state.apply(&entry).map_err(|error| RecoveryError::Apply { sequence, error })?;
            for event in outcome.events {
                if events.len() == keep_events
                    && let Some(dropped) = events.pop_front()
                {
                    events_complete_from = dropped.sequence + 1;
                }
                events.push_back(event);
            }
        }
    }
    Ok(Replayed { state, events, events_complete_from })
}
