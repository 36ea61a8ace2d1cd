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

use colony_core::RegistryRejection;
use std::collections::HashSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use colony_core::{Entry, EntryBody, EntryOutcome, PublicKey, Rejection, SignedCommands, Signer, State};
use colony_log::{CommandLog, Record, Snapshot};
use colony_wire::record::{self, RecordKind};
use colony_wire::{Envelope, SignedEnvelope};
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::events::EventHub;

/// Submissions taken into one group commit at most.
const GROUP_COMMIT_SUBMISSIONS_MAX: usize = 4_096;
/// Payload bytes in one group commit at most, so one commit stays a bounded amount of I/O.
const GROUP_COMMIT_BYTES_MAX: usize = 64 << 20;
/// How long the writer sleeps at most without work, so it notices ticks due on an injected clock.
const IDLE_WAKE_MS: u64 = 250;
/// Snapshots kept in the log.
const SNAPSHOTS_KEPT: usize = 2;

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

enum Request {
    Submit(Box<Submission>, oneshot::Sender<Result<Committed, SubmitError>>),
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
    /// state under the read lock, so readers asking again and again must not repeat that.
    pub state_hash: Mutex<Option<(u64, colony_core::Digest)>>,
}

/// Settings of the driver.
#[derive(Clone, Debug)]
pub struct DriverSettings {
    /// Submissions waiting for the writer at most; beyond this, writers get `overloaded`.
    pub queue_capacity: usize,
    /// Take a snapshot after this many entries.
    pub snapshot_every_entries: u64,
}

impl Default for DriverSettings {
    fn default() -> Self {
        DriverSettings { queue_capacity: 16_384, snapshot_every_entries: 100_000 }
    }
}

/// The handle through which the API talks to the driver.
#[derive(Clone)]
pub struct DriverHandle {
    sender: SyncSender<Request>,
    /// The shared state.
    pub shared: Arc<Shared>,
}

impl DriverHandle {
    /// Queues a submission and waits until it is durable and applied.
    pub async fn submit(&self, submission: Submission) -> Result<Committed, SubmitError> {
        let (reply, answer) = oneshot::channel();
        match self.sender.try_send(Request::Submit(Box::new(submission), reply)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(SubmitError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(self.unavailable()),
        }
        answer.await.unwrap_or_else(|_| Err(self.unavailable()))
    }

    /// Takes a snapshot now; returns its sequence number.
    pub async fn snapshot(&self) -> Result<u64, String> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(Request::Snapshot(reply)).map_err(|_| self.unavailable_reason())?;
        answer.await.map_err(|_| self.unavailable_reason())?
    }

    /// Stops the driver after the queued submissions, with a final snapshot.
    pub async fn stop(&self) {
        let (reply, answer) = oneshot::channel();
        if self.sender.send(Request::Stop(reply)).is_ok() {
            let _ = answer.await;
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

/// Starts the writer thread over a recovered state.
pub fn start(
    log: Box<dyn CommandLog>,
    state: State,
    events: EventHub,
    bus: Arc<crate::bus::EphemeralBus>,
    clock: Arc<dyn Clock>,
    settings: DriverSettings,
) -> (DriverHandle, std::thread::JoinHandle<()>) {
    let (sender, receiver) = std::sync::mpsc::sync_channel(settings.queue_capacity);
    let applied = tokio::sync::watch::Sender::new(state.sequence());
    let shared = Arc::new(Shared {
        state: RwLock::new(state),
        events,
        stopped: Mutex::new(None),
        bus,
        applied,
        state_hash: Mutex::new(None),
    });
    let writer = Writer { log, shared: Arc::clone(&shared), clock, settings, entries_since_snapshot: 0 };
    let thread = std::thread::Builder::new()
        .name("colony-writer".to_owned())
        .spawn(move || writer.run(receiver))
        .expect("spawn the writer thread");
    (DriverHandle { sender, shared }, thread)
}

/// Appends the genesis entry to an empty log.
pub fn write_genesis(
    log: &mut dyn CommandLog,
    operator_key: PublicKey,
    config: colony_core::SwarmConfig,
    timestamp_ms: u64,
) -> Result<(), colony_log::AppendError> {
    assert_eq!(log.last_sequence(), 0, "genesis goes into an empty log");
    let payload = record::encode_genesis(&record::GenesisPayload { operator_key, config });
    log.append(&[Record { sequence: 1, timestamp_ms, kind: RecordKind::Genesis as u8, payload }])
}

struct Writer {
    log: Box<dyn CommandLog>,
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    settings: DriverSettings,
    entries_since_snapshot: u64,
}

type Reply = oneshot::Sender<Result<Committed, SubmitError>>;

impl Writer {
    fn run(mut self, receiver: Receiver<Request>) {
        // If the writer panics (a broken invariant), readiness must say so rather than report a
        // server whose writes can never complete.
        struct PanicGuard(Arc<Shared>);
        impl Drop for PanicGuard {
            fn drop(&mut self) {
                if std::thread::panicking()
                    && let Ok(mut stopped) = self.0.stopped.lock()
                {
                    *stopped = Some("the writer stopped on an internal error; see the server log".to_owned());
                }
            }
        }
        let _guard = PanicGuard(Arc::clone(&self.shared));
        let mut stop_reply = None;
        loop {
            let first = match receiver.recv_timeout(Duration::from_millis(self.wait_ms())) {
                Ok(request) => Some(request),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut batch = Vec::new();
            let mut batch_bytes = 0;
            let mut requests = first.into_iter().chain(std::iter::from_fn(|| receiver.try_recv().ok()));
            for request in requests.by_ref() {
                match request {
                    Request::Submit(submission, reply) => {
                        batch_bytes += submission.signed.body.len();
                        batch.push((submission, reply));
                        if batch.len() >= GROUP_COMMIT_SUBMISSIONS_MAX || batch_bytes >= GROUP_COMMIT_BYTES_MAX {
                            break;
                        }
                    }
                    Request::Snapshot(reply) => {
                        if let Err(reason) = self.commit(std::mem::take(&mut batch)) {
                            let _ = reply.send(Err(reason));
                            return;
                        }
                        let _ = reply.send(self.snapshot());
                    }
                    Request::Stop(reply) => {
                        stop_reply = Some(reply);
                        break;
                    }
                }
            }
            drop(requests);
            if self.commit(batch).is_err() {
                return;
            }
            if stop_reply.is_some() {
                break;
            }
            if self.entries_since_snapshot >= self.settings.snapshot_every_entries
                && let Err(reason) = self.snapshot()
            {
                tracing::error!(%reason, "periodic snapshot failed; recovery will replay further");
            }
        }
        // Clean shutdown: drain what is queued, then a final snapshot so the next start is fast.
        let leftovers: Vec<_> = receiver
            .try_iter()
            .filter_map(|request| match request {
                Request::Submit(submission, reply) => Some((submission, reply)),
                _ => None,
            })
            .collect();
        let _ = self.commit(leftovers);
        if let Err(reason) = self.snapshot() {
            tracing::error!(%reason, "final snapshot failed");
        }
        *self.shared.stopped.lock().expect("stopped lock") = Some("the server is shutting down".to_owned());
        if let Some(reply) = stop_reply {
            let _ = reply.send(());
        }
    }

    /// How long to wait for work before a tick is due.
    fn wait_ms(&self) -> u64 {
        let state = self.shared.state.read().expect("state lock");
        match state.next_deadline_ms() {
            Some(deadline) => deadline.saturating_sub(self.clock.now_ms()).clamp(1, IDLE_WAKE_MS),
            None => IDLE_WAKE_MS,
        }
    }

    /// Logs, applies and answers one batch. An error means the log failed and the writer must stop.
    fn commit(&mut self, batch: Vec<(Box<Submission>, Reply)>) -> Result<(), String> {
        let (records, entries, replies) = {
            let state = self.shared.state.read().expect("state lock");
            let mut sequence = state.sequence();
            let timestamp_ms = self.clock.now_ms().max(state.timestamp_ms());
            let mut seen_nonces: HashSet<(Signer, u64)> = HashSet::with_capacity(batch.len());
            let mut new_agents: HashSet<colony_core::AgentId> = HashSet::new();
            let mut records = Vec::with_capacity(batch.len() + 1);
            let mut entries = Vec::with_capacity(batch.len() + 1);
            let mut replies = Vec::with_capacity(batch.len());
            for (submission, reply) in batch {
                let Submission { envelope, signed, verified_key } = *submission;
                let signed_commands = SignedCommands {
                    signer: envelope.signer,
                    verified_key,
                    nonce: envelope.nonce,
                    commands: envelope.commands,
                };
                // What core would refuse at the envelope level is refused here, unlogged. Within one
                // group commit, a nonce is used once and an unknown id registers itself once.
                let admitted = state.check_admission(&signed_commands, timestamp_ms).and_then(|()| {
                    if !seen_nonces.insert((signed_commands.signer.clone(), signed_commands.nonce)) {
                        return Err(Rejection::NonceReplayed { nonce: signed_commands.nonce });
                    }
                    if let Some(agent) = signed_commands.signer.agent()
                        && state.agent(agent).is_none()
                        && !new_agents.insert(agent.clone())
                    {
                        return Err(Rejection::Registry(RegistryRejection::AgentExists { agent: agent.clone() }));
                    }
                    Ok(())
                });
                if let Err(rejection) = admitted {
                    let _ = reply.send(Err(SubmitError::Rejected(rejection)));
                    continue;
                }
                sequence += 1;
                records.push(Record {
                    sequence,
                    timestamp_ms,
                    kind: RecordKind::Signed as u8,
                    payload: record::encode_signed(&signed),
                });
                let body = EntryBody::Signed(signed_commands);
                entries.push(Entry { sequence, timestamp_ms, body });
                replies.push(Some(reply));
            }
            let tick_due = state.next_deadline_ms().is_some_and(|deadline| deadline <= timestamp_ms);
            if records.is_empty() && tick_due {
                sequence += 1;
                records.push(Record { sequence, timestamp_ms, kind: RecordKind::Tick as u8, payload: Vec::new() });
                entries.push(Entry { sequence, timestamp_ms, body: EntryBody::Tick });
                replies.push(None);
            }
            (records, entries, replies)
        };
        if records.is_empty() {
            return Ok(());
        }

        if let Err(error) = self.log.append(&records) {
            // The durability of this batch is unknown; applying it could show readers a write that
            // is lost, and continuing could fork the log. Stop writing; a restart recovers.
            let reason = format!("the command log failed: {error}");
            tracing::error!(%reason, "writer stopping");
            *self.shared.stopped.lock().expect("stopped lock") = Some(reason.clone());
            for reply in replies.into_iter().flatten() {
                let _ = reply.send(Err(SubmitError::Unavailable(reason.clone())));
            }
            return Err(reason);
        }

        let mut results = Vec::with_capacity(entries.len());
        let mut events = Vec::new();
        let mut stored_messages = Vec::new();
        {
            let mut state = self.shared.state.write().expect("state lock");
            for entry in &entries {
                let outcome = state
                    .apply(entry)
                    .unwrap_or_else(|error| panic!("the writer built entry {} wrongly: {error}", entry.sequence));
                events.extend(outcome.events.iter().cloned());
                self.collect_stored_messages(&state, &outcome, &mut stored_messages);
                results.push((entry.sequence, entry.timestamp_ms, outcome));
            }
        }
        self.entries_since_snapshot += entries.len() as u64;
        self.shared.events.publish(events);
        // Encoded after the state lock is released: readers and the next group commit wait for it.
        for (stream, message) in stored_messages {
            let view = colony_wire::bus::BusMessage::from_stored(&stream, &message, None);
            let json = self.shared.bus.router.encode(serde_json::to_string(&view).expect("messages encode"));
            self.shared.bus.router.publish(&message.subject, &json);
        }
        if let Some(last) = entries.last() {
            self.shared.applied.send_replace(last.sequence);
        }
        for (reply, (sequence, timestamp_ms, outcome)) in replies.into_iter().zip(results) {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(Committed { sequence, timestamp_ms, outcome }));
            }
        }
        Ok(())
    }

    /// Durable messages this entry stored (published, or dead letters replayed) that live
    /// subscribers listen for. Only subjects someone listens on are copied, so a stream nobody
    /// watches live costs the writer nothing here.
    fn collect_stored_messages(
        &self,
        state: &State,
        outcome: &colony_core::EntryOutcome,
        out: &mut Vec<(colony_core::Name, colony_core::bus::StoredMessage)>,
    ) {
        let mut add = |stream: &colony_core::Name, sequence: u64| {
            // A later command of the same entry may already have discarded it (retention): then
            // nobody gets it live either, as nobody could fetch it.
            let Some(message) = state.stream_message(stream, sequence) else { return };
            if !self.shared.bus.router.has_receivers(&message.subject) {
                return;
            }
            out.push((stream.clone(), message.clone()));
        };
        for result in &outcome.commands {
            match result {
                Ok(colony_core::Accepted::Published { stream, sequence, duplicate: false }) => add(stream, *sequence),
                Ok(colony_core::Accepted::Replayed { messages }) => {
                    for (stream, sequence) in messages {
                        add(stream, *sequence);
                    }
                }
                _ => {}
            }
        }
    }

    fn snapshot(&mut self) -> Result<u64, String> {
        let (sequence, state_hash, body) = {
            let state = self.shared.state.read().expect("state lock");
            (state.sequence(), state.state_hash(), state.encode_snapshot())
        };
        self.log
            .save_snapshot(&Snapshot { sequence, state_hash: state_hash.0, body }, SNAPSHOTS_KEPT)
            .map_err(|error| error.to_string())?;
        self.entries_since_snapshot = 0;
        tracing::debug!(sequence, "snapshot taken");
        Ok(sequence)
    }
}
