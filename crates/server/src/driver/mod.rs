//! The driver: the single writer between the API and the log.
//!
//! One thread owns the log. It takes submissions from a bounded queue, stamps them with sequence
//! numbers and a never-decreasing time, appends the whole batch in one durable transaction (group
//! commit), and only then applies the entries to the shared state and answers. So every answer a
//! client sees is durable, and no reader ever sees state that a crash could take back.
//!
//! Before logging, the driver repeats core's cheap envelope checks (known key, fresh nonce) so that
//! replayed or unattributable envelopes are refused without growing the log. Core remains the
//! authority: it checks again when applying.
//!
//! When an entry's time would pass a deadline (a heartbeat TTL), the driver appends a tick entry at
//! that time, so time-driven changes happen even when nobody writes.
//!
//! The work is split in two, so that every decision can be tested without a thread, a log or a
//! clock:
//!
//! - `plan.rs`: what a group commit does (refusals, entries, records), a pure function of the state,
//!   one clock reading and the batch;
//! - `writer.rs`: the thread that carries a plan out: append (durable), apply under the write lock,
//!   events, stored messages to the bus, answers, checkpoints;
//! - `snapshotter.rs`: the thread that makes periodic snapshots from the log, so the writer never
//!   stops for one;
//! - `stepper.rs`: the writer's own steps run one turn at a time on the caller's thread, with
//!   snapshots taken there too, so that a simulation drives the real driver deterministically.

mod plan;
mod snapshotter;
pub mod stepper;
mod writer;

pub use snapshotter::{SNAPSHOTS_KEPT, SnapshotStatistics};

use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};

use colony_core::{EntryOutcome, PublicKey, Rejection, State};
use colony_log::{ChainHash, CommandLog, OpenError, Record, SnapshotStore};
use colony_wire::record::{self, RecordKind};
use colony_wire::{Envelope, SignedEnvelope};
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::events::EventHub;

/// A verified envelope on its way to the log.
pub struct Submission {
    /// The decoded envelope.
    pub envelope: Envelope,
    /// Its exact bytes and signature, for the log.
    pub signed: SignedEnvelope,
    /// The key the signature was verified with.
    pub verified_key: PublicKey,
}

/// What the driver answers for a submission.
#[derive(Debug)]
pub struct Committed {
    /// The entry that recorded the envelope.
    pub sequence: u64,
    /// The chain hash of the log up to and including that entry: with the sequence, a receipt the
    /// submitter can keep and later check against a signed checkpoint.
    pub chain: ChainHash,
    /// Its timestamp.
    pub timestamp_ms: u64,
    /// What applying it produced (events included).
    pub outcome: EntryOutcome,
}

/// Why a submission was not committed.
#[derive(Debug, Clone)]
pub enum SubmitError {
    /// Refused before logging: replayed nonce, unknown signer, key mismatch.
    Rejected(Rejection),
    /// The queue is full: back off and retry.
    Overloaded,
    /// The driver stopped (shutdown, or the log failed).
    Unavailable(String),
}

/// Where the writer sends a submission's answer.
type SubmitReply = oneshot::Sender<Result<Committed, SubmitError>>;

/// What the API asks of the writer thread.
enum WriterRequest {
    Submit(Box<Submission>, SubmitReply),
    Snapshot(oneshot::Sender<Result<u64, String>>),
    Stop(oneshot::Sender<()>),
}

/// State shared between the driver and readers.
pub struct Shared {
    /// The state as of the last durable entry.
    pub state: RwLock<State>,
    /// Recent and live events.
    pub events: EventHub,
    /// Set when the driver stops; writes are then refused with this reason.
    pub stopped: Mutex<Option<String>>,
    /// The ephemeral bus, which also carries durable messages to live subscribers once they are
    /// committed.
    pub bus: Arc<crate::bus::EphemeralBus>,
    /// The sequence of the last applied entry, for requests that wait for the state to change (a
    /// fetch that waits for messages).
    pub applied: tokio::sync::watch::Sender<u64>,
    /// The state hash of one sequence, computed at most once per sequence: it encodes the whole
    /// state under the read lock, so readers asking again and again must not repeat that. Held while
    /// a reader computes, so the writer never takes it.
    pub state_hash: Mutex<Option<(u64, colony_core::Digest)>>,
    /// The newest state hash known (from a snapshot, recovery or a reader), which checkpoints name.
    /// Only ever held for a copy, so the writer never waits on it.
    pub newest_state_hash: Mutex<Option<(u64, colony_core::Digest)>>,
    /// The newest signed checkpoint in the log.
    pub checkpoint: Mutex<Option<crate::history::LoggedCheckpoint>>,
    /// The snapshots taken: the newest one's entry decides when the next is due.
    pub snapshots: Mutex<SnapshotStatistics>,
}

impl Shared {
    /// The shared part of a driver starting over a recovered state, whose newest snapshot is at
    /// `snapshot_sequence` (0: none).
    fn over(state: State, events: EventHub, bus: Arc<crate::bus::EphemeralBus>, snapshot_sequence: u64) -> Arc<Shared> {
        let applied = tokio::sync::watch::Sender::new(state.sequence());
        Arc::new(Shared {
            state: RwLock::new(state),
            events,
            stopped: Mutex::new(None),
            bus,
            applied,
            state_hash: Mutex::new(None),
            newest_state_hash: Mutex::new(None),
            checkpoint: Mutex::new(None),
            snapshots: Mutex::new(SnapshotStatistics { sequence: snapshot_sequence, ..SnapshotStatistics::default() }),
        })
    }

    /// Keeps `state_hash` as the newest known if it is newer than the one kept.
    pub fn remember_state_hash(&self, sequence: u64, state_hash: colony_core::Digest) {
        let mut known = self.newest_state_hash.lock().expect("state hash lock");
        if known.is_none_or(|(known_sequence, _)| known_sequence < sequence) {
            *known = Some((sequence, state_hash));
        }
    }
}

/// The key checkpoints are signed with: the operator's.
#[derive(Clone)]
pub struct CheckpointSigner(pub Arc<colony_wire::KeyPair>);

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "CheckpointSigner({})", self.0.public_key())
    }
}

/// Settings of the driver.
#[derive(Clone, Debug)]
pub struct DriverSettings {
    /// Submissions waiting for the writer at most; beyond this, writers get `overloaded`.
    pub queue_capacity: usize,
    /// Take a snapshot after this many entries.
    pub snapshot_every_entries: u64,
    /// Who signs checkpoints; without a signer, none are written.
    pub checkpoint_signer: Option<CheckpointSigner>,
    /// A checkpoint follows at most this many entries: a receipt's proof is at most this many
    /// digests (plus one group commit) long.
    pub checkpoint_every_entries: u64,
    /// An entry waits at most this long (clock time) for a checkpoint to cover it, so a quiet swarm's
    /// newest entries are covered soon too (plus the writer's idle wake-up, 250 ms).
    pub checkpoint_every_ms: u64,
}

impl Default for DriverSettings {
    fn default() -> Self {
        DriverSettings {
            queue_capacity: 16_384,
            snapshot_every_entries: 100_000,
            checkpoint_signer: None,
            checkpoint_every_entries: 4_096,
            checkpoint_every_ms: 1_000,
        }
    }
}

/// The handle through which the API talks to the driver.
#[derive(Clone)]
pub struct DriverHandle {
    sender: SyncSender<WriterRequest>,
    /// The shared state.
    pub shared: Arc<Shared>,
}

impl DriverHandle {
    /// Queues a submission and waits until it is durable and applied.
    pub async fn submit(&self, submission: Submission) -> Result<Committed, SubmitError> {
        let (reply, answer) = oneshot::channel();
        match self.sender.try_send(WriterRequest::Submit(Box::new(submission), reply)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(SubmitError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(self.unavailable()),
        }
        answer.await.unwrap_or_else(|_| Err(self.unavailable()))
    }

    /// Takes a snapshot now; returns its sequence number.
    pub async fn snapshot(&self) -> Result<u64, String> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(WriterRequest::Snapshot(reply)).map_err(|_| self.unavailable_reason())?;
        answer.await.map_err(|_| self.unavailable_reason())?
    }

    /// Stops the driver after the queued submissions, with a final snapshot.
    pub async fn stop(&self) {
        let (reply, answer) = oneshot::channel();
        if self.sender.send(WriterRequest::Stop(reply)).is_ok() {
            let _ = answer.await;
        }
    }

    /// Records a state hash known from elsewhere (the snapshot recovery started from), so that the
    /// first checkpoints can name it.
    pub fn remember_state_hash(&self, sequence: u64, state_hash: colony_core::Digest) {
        self.shared.remember_state_hash(sequence, state_hash);
    }

    /// Records the newest checkpoint found in the log at start-up.
    pub fn remember_checkpoint(&self, checkpoint: crate::history::LoggedCheckpoint) {
        let mut newest = self.shared.checkpoint.lock().expect("checkpoint lock");
        if newest.is_none_or(|newest| newest.record_sequence < checkpoint.record_sequence) {
            *newest = Some(checkpoint);
        }
    }

    /// Whether the driver is running.
    pub fn is_running(&self) -> bool {
        self.shared.stopped.lock().expect("stopped lock").is_none()
    }

    fn unavailable_reason(&self) -> String {
        self.shared.stopped.lock().expect("stopped lock").clone().unwrap_or_else(|| "the writer stopped".to_owned())
    }

    fn unavailable(&self) -> SubmitError {
        SubmitError::Unavailable(self.unavailable_reason())
    }
}

/// Where the driver keeps what it writes.
pub struct Storage {
    /// The log, which the writer appends to.
    pub log: Box<dyn CommandLog>,
    /// Where snapshots go.
    pub snapshots: Arc<dyn SnapshotStore>,
    /// The entry of the snapshot recovery started from (0: none), from which the next one is counted.
    pub snapshot_sequence: u64,
}

/// Starts the writer and snapshotter threads over a recovered state. Fails only if the log cannot
/// be opened a second time for the snapshotter.
pub fn start(
    storage: Storage,
    state: State,
    events: EventHub,
    bus: Arc<crate::bus::EphemeralBus>,
    clock: Arc<dyn Clock>,
    settings: DriverSettings,
) -> Result<(DriverHandle, std::thread::JoinHandle<()>), OpenError> {
    let reader = storage.log.open_reader()?;
    let (sender, receiver) = std::sync::mpsc::sync_channel(settings.queue_capacity);
    let shared = Shared::over(state, events, bus, storage.snapshot_sequence);
    let snapshotter = snapshotter::start(reader, Arc::clone(&storage.snapshots), Arc::clone(&shared));
    let writer =
        writer::Writer::new(storage.log, Arc::clone(&shared), clock, settings, storage.snapshots, Some(snapshotter));
    let thread = std::thread::Builder::new()
        .name("colony-writer".to_owned())
        .spawn(move || writer.run(receiver))
        .expect("spawn the writer thread");
    Ok((DriverHandle { sender, shared }, thread))
}

/// Appends the genesis entry to an empty log, under the rules this binary applies.
pub fn write_genesis(
    log: &mut dyn CommandLog,
    operator_key: PublicKey,
    config: colony_core::SwarmConfig,
    timestamp_ms: u64,
) -> Result<(), colony_log::AppendError> {
    assert_eq!(log.last_sequence(), 0, "genesis goes into an empty log");
    let payload = record::encode_genesis(&record::GenesisPayload {
        rules_version: colony_core::RULES_VERSION,
        operator_key,
        config,
    });
    log.append(&[Record { sequence: 1, timestamp_ms, kind: RecordKind::Genesis as u8, payload }]).map(|_| ())
}
