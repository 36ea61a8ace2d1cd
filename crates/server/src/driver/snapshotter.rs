//! The snapshotter: periodic snapshots, made on a thread of their own from the log, so that the
//! writer never stops for one.
//!
//! A snapshot at entry N is the state after entry N. The writer's state cannot give it without
//! stopping writes: encoding a swarm of 100,000 agents and a million escrows takes longer than any
//! write may wait, and cloning the state first costs as much. So the snapshotter rebuilds the state
//! at N itself, exactly as recovery would: the newest snapshot, then the log's entries after it, read
//! through a read-only handle while the writer goes on appending. It encodes that state, writes it to
//! the snapshot store and forgets it. The writer only counts entries and asks; nothing it holds is
//! touched.
//!
//! The price is memory and CPU, while a snapshot is being made: a second copy of the state, and the
//! decode of the previous snapshot plus the replay of the entries since. Both are measured by the
//! `scale` benchmark and reported in `/v1/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use colony_core::{Digest, State};
use colony_log::{CommandLog, Snapshot, SnapshotStore};
use tokio::sync::oneshot;

use super::Shared;

/// Snapshots kept in the store: the newest, and one to fall back on if it turns out damaged.
pub const SNAPSHOTS_KEPT: usize = 2;

/// What the snapshotter is asked.
pub(super) enum SnapshotRequest {
    /// Enough entries since the newest snapshot: take one at the log's head when convenient.
    Due,
    /// Take one at the log's head now and say which entry it covers.
    Now(oneshot::Sender<Result<u64, String>>),
}

/// What the writer and the API hold of the snapshotter.
#[derive(Clone)]
pub(super) struct SnapshotterHandle {
    /// Unbounded, so that the writer never blocks on it: periodic requests are one at a time (see
    /// `pending`), and requests for a snapshot now come from the operator alone and are answered
    /// together, all those waiting by one snapshot.
    sender: Sender<SnapshotRequest>,
    /// Set while a periodic snapshot is asked for or being made, so the writer asks once.
    pending: Arc<AtomicBool>,
}

impl SnapshotterHandle {
    /// Asks for a periodic snapshot unless one is already under way. Never blocks.
    pub(super) fn request_periodic(&self) {
        if self.pending.swap(true, Ordering::AcqRel) {
            return;
        }
        if self.sender.send(SnapshotRequest::Due).is_err() {
            self.pending.store(false, Ordering::Release);
        }
    }

    /// Asks for a snapshot at the head now.
    pub(super) fn request_now(&self, reply: oneshot::Sender<Result<u64, String>>) -> Result<(), String> {
        self.sender.send(SnapshotRequest::Now(reply)).map_err(|_| "the snapshotter stopped".to_owned())
    }
}

/// Figures about the snapshots taken, for `/v1/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SnapshotStatistics {
    /// Snapshots written since start-up (periodic, asked for and the final one).
    pub taken: u64,
    /// Snapshots that failed since start-up.
    pub failed: u64,
    /// The entry the newest snapshot covers (0: none yet).
    pub sequence: u64,
    /// The newest snapshot's size.
    pub bytes: u64,
    /// How long building its state took (decode the previous snapshot, replay the log since).
    pub rebuild_ms: u64,
    /// How long encoding and hashing it took.
    pub encode_ms: u64,
    /// How long writing and syncing it took.
    pub write_ms: u64,
}

/// Starts the snapshotter thread. `reader` is a read-only handle on the log, from which a fresh one
/// is opened for each snapshot (a handle reads up to the head it found when opened).
pub(super) fn start(
    reader: Box<dyn CommandLog>,
    store: Arc<dyn SnapshotStore>,
    shared: Arc<Shared>,
) -> (SnapshotterHandle, std::thread::JoinHandle<()>) {
    let (sender, receiver) = std::sync::mpsc::channel();
    let pending = Arc::new(AtomicBool::new(false));
    let handle = SnapshotterHandle { sender, pending: Arc::clone(&pending) };
    let thread = std::thread::Builder::new()
        .name("colony-snapshots".to_owned())
        .spawn(move || run(&receiver, &*reader, &*store, &shared, &pending))
        .expect("spawn the snapshotter thread");
    (handle, thread)
}

fn run(
    receiver: &Receiver<SnapshotRequest>,
    reader: &dyn CommandLog,
    store: &dyn SnapshotStore,
    shared: &Shared,
    pending: &AtomicBool,
) {
    // Ends when every handle is gone: the writer drops its own when it stops.
    while let Ok(first) = receiver.recv() {
        // Everything asked for by now is answered by one snapshot at the log's head, which covers
        // all that was committed before each request.
        let requests: Vec<SnapshotRequest> = std::iter::once(first).chain(receiver.try_iter()).collect();
        let result = snapshot_from_log(reader, store, shared);
        if let Err(reason) = &result {
            tracing::error!(%reason, "snapshot failed; recovery will replay further");
        }
        for request in requests {
            match request {
                SnapshotRequest::Due => pending.store(false, Ordering::Release),
                SnapshotRequest::Now(reply) => {
                    let _ = reply.send(result.clone());
                }
            }
        }
    }
}

/// Rebuilds the state at the log's head from the newest snapshot and the log, and stores its snapshot.
pub(super) fn snapshot_from_log(
    reader: &dyn CommandLog,
    store: &dyn SnapshotStore,
    shared: &Shared,
) -> Result<u64, String> {
    let started = Instant::now();
    let log = reader.open_reader().map_err(|error| error.to_string())?;
    let recovered = crate::recovery::recover(&*log, store, 0, |_, _| {}).map_err(|error| error.to_string())?;
    let head = log.head();
    assert_eq!(recovered.state.sequence(), head.sequence, "recovery reaches the head it read up to");
    if recovered.snapshot_sequence == head.sequence {
        // Nothing new since the newest snapshot.
        return Ok(head.sequence);
    }
    let rebuild_ms = started.elapsed().as_millis() as u64;
    save(store, shared, &recovered.state, head.chain, rebuild_ms)
}

/// Encodes `state` (whose last entry has chain hash `chain`) and stores it. The writer calls it for
/// its final snapshot, when nothing is written any more.
pub(super) fn save(
    store: &dyn SnapshotStore,
    shared: &Shared,
    state: &State,
    chain: colony_log::ChainHash,
    rebuild_ms: u64,
) -> Result<u64, String> {
    let encoding = Instant::now();
    let body = state.encode_snapshot();
    let state_hash = State::snapshot_state_hash(&body);
    let encode_ms = encoding.elapsed().as_millis() as u64;
    let writing = Instant::now();
    let sequence = state.sequence();
    let bytes = body.len() as u64;
    let result = store.save(&Snapshot { sequence, chain, state_hash: state_hash.0, body }, SNAPSHOTS_KEPT);
    let mut statistics = shared.snapshots.lock().expect("snapshot statistics lock");
    if let Err(error) = result {
        statistics.failed += 1;
        return Err(error.to_string());
    }
    *statistics = SnapshotStatistics {
        taken: statistics.taken + 1,
        failed: statistics.failed,
        sequence,
        bytes,
        rebuild_ms,
        encode_ms,
        write_ms: writing.elapsed().as_millis() as u64,
    };
    drop(statistics);
    shared.remember_state_hash(sequence, Digest(state_hash.0));
    tracing::debug!(sequence, bytes, rebuild_ms, encode_ms, "snapshot taken");
    Ok(sequence)
}
