//! The writer thread: carries out each group commit's plan.
//!
//! It gathers a batch from the queue, asks the planner (`plan.rs`) what to do with it, and does it:
//! refusals are answered at once; the entries are appended to the log in one durable transaction;
//! only then are they applied to the shared state (under the write lock), their events published,
//! the durable messages they stored handed to the bus, and the submitters answered.
//!
//! If an append fails, the writer stops and readiness turns 503: what reached the disk is unknown,
//! so applying could show a write that is lost, and going on could fork the log.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use colony_core::bus::StoredMessage;
use colony_core::{Accepted, Entry, EntryOutcome, Event, Name, State};
use colony_log::{CommandLog, SnapshotStore};
use tokio::sync::oneshot;

use super::plan::{self, CommitPlan};
use super::snapshotter::{self, SnapshotterHandle};
use super::{Committed, DriverSettings, Shared, Submission, SubmitError, SubmitReply, WriterRequest};
use crate::clock::Clock;

/// Submissions taken into one group commit at most.
const GROUP_COMMIT_SUBMISSIONS_MAX: usize = 4_096;
/// Payload bytes in one group commit at most, so one commit stays a bounded amount of I/O.
const GROUP_COMMIT_BYTES_MAX: usize = 64 << 20;
/// How long the writer sleeps at most without work, so it notices ticks due on an injected clock.
const IDLE_WAKE_MS: u64 = 250;

/// A submission taken from the queue, with where its answer goes.
pub(super) type Queued = (Box<Submission>, SubmitReply);

/// The log failed: the writer must stop. Carries the reason readers are given.
pub(super) struct LogFailed(pub(super) String);

/// What applying a plan's entries produced, to be published once the write lock is released.
struct Applied {
    /// Per entry: its sequence, timestamp and outcome.
    outcomes: Vec<(u64, u64, EntryOutcome)>,
    events: Vec<Event>,
    /// Durable messages the entries stored that a live subscriber listens for.
    stored_messages: Vec<(Name, StoredMessage)>,
}

pub(super) struct Writer {
    log: Box<dyn CommandLog>,
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    settings: DriverSettings,
    /// Where the final snapshot goes; periodic ones are the snapshotter's.
    snapshots: Arc<dyn SnapshotStore>,
    /// Dropped when the writer stops, which stops the snapshotter.
    snapshotter: Option<(SnapshotterHandle, std::thread::JoinHandle<()>)>,
    /// Entries since the last checkpoint, the checkpoints themselves not counted.
    entries_since_checkpoint: u64,
    /// When (clock time) the oldest entry no checkpoint covers yet was written.
    first_uncovered_ms: u64,
}

impl Writer {
    pub(super) fn new(
        log: Box<dyn CommandLog>,
        shared: Arc<Shared>,
        clock: Arc<dyn Clock>,
        settings: DriverSettings,
        snapshots: Arc<dyn SnapshotStore>,
        snapshotter: Option<(SnapshotterHandle, std::thread::JoinHandle<()>)>,
    ) -> Writer {
        Writer {
            log,
            shared,
            clock,
            settings,
            snapshots,
            snapshotter,
            entries_since_checkpoint: 0,
            first_uncovered_ms: 0,
        }
    }

    pub(super) fn run(mut self, receiver: Receiver<WriterRequest>) {
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
        // After a log failure nothing more may be written, not even the final snapshot.
        if let Ok(stop_reply) = self.serve(&receiver) {
            self.shut_down(&receiver, stop_reply);
        }
    }

    /// Group commits until asked to stop (returns who asked, if anyone did) or the log fails.
    fn serve(&mut self, receiver: &Receiver<WriterRequest>) -> Result<Option<oneshot::Sender<()>>, LogFailed> {
        loop {
            let first = match receiver.recv_timeout(Duration::from_millis(self.wait_ms())) {
                Ok(request) => Some(request),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            };
            let (batch, stop_reply) = self.gather(first, receiver)?;
            self.commit(batch)?;
            if self.checkpoint_is_due() {
                self.checkpoint()?;
            }
            if stop_reply.is_some() {
                return Ok(stop_reply);
            }
            self.ask_for_snapshot_if_due();
        }
    }

    /// Counted from the newest snapshot, not from the last request, so that a failed snapshot is
    /// asked for again.
    fn ask_for_snapshot_if_due(&self) {
        let newest = self.shared.snapshots.lock().expect("snapshot statistics lock").sequence;
        if self.log.head().sequence.saturating_sub(newest) >= self.settings.snapshot_every_entries
            && let Some((snapshotter, _)) = &self.snapshotter
        {
            snapshotter.request_periodic();
        }
    }

    /// Takes what is queued, up to one group commit's worth, starting with `first`. A snapshot
    /// request commits what was taken before it, so the snapshot covers everything queued earlier;
    /// the snapshotter makes it.
    fn gather(
        &mut self,
        first: Option<WriterRequest>,
        receiver: &Receiver<WriterRequest>,
    ) -> Result<(Vec<Queued>, Option<oneshot::Sender<()>>), LogFailed> {
        let mut batch = Vec::new();
        let mut batch_bytes = 0;
        for request in first.into_iter().chain(std::iter::from_fn(|| receiver.try_recv().ok())) {
            match request {
                WriterRequest::Submit(submission, reply) => {
                    batch_bytes += submission.signed.body.len();
                    batch.push((submission, reply));
                    if batch.len() >= GROUP_COMMIT_SUBMISSIONS_MAX || batch_bytes >= GROUP_COMMIT_BYTES_MAX {
                        break;
                    }
                }
                WriterRequest::Snapshot(reply) => {
                    batch_bytes = 0;
                    if let Err(LogFailed(reason)) = self.commit(std::mem::take(&mut batch)) {
                        let _ = reply.send(Err(reason.clone()));
                        return Err(LogFailed(reason));
                    }
                    match &self.snapshotter {
                        Some((snapshotter, _)) => {
                            if let Err(reason) = snapshotter.request_now(reply) {
                                tracing::error!(%reason, "snapshot asked for");
                            }
                        }
                        None => {
                            let _ = reply.send(Err("the snapshotter stopped".to_owned()));
                        }
                    }
                }
                WriterRequest::Stop(reply) => return Ok((batch, Some(reply))),
            }
        }
        Ok((batch, None))
    }

    /// Clean shutdown: commits what is still queued, stops the snapshotter, then takes a final snapshot
    /// here (nothing is written any more, so nothing waits on it) so the next start is fast.
    pub(super) fn shut_down(&mut self, receiver: &Receiver<WriterRequest>, stop_reply: Option<oneshot::Sender<()>>) {
        let leftovers: Vec<Queued> = receiver
            .try_iter()
            .filter_map(|request| match request {
                WriterRequest::Submit(submission, reply) => Some((submission, reply)),
                _ => None,
            })
            .collect();
        if self.commit(leftovers).is_err() {
            return;
        }
        if let Some((handle, thread)) = self.snapshotter.take() {
            drop(handle);
            let _ = thread.join();
        }
        let saved = {
            let state = self.shared.state.read().expect("state lock");
            snapshotter::save(&*self.snapshots, &self.shared, &state, self.log.head().chain, 0)
        };
        if let Err(reason) = saved {
            tracing::error!(%reason, "final snapshot failed");
        }
        // The last word in the log is the operator's signature over all of it, naming the state
        // hash the final snapshot just computed.
        if self.entries_since_checkpoint > 0 && self.checkpoint().is_err() {
            return;
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

    /// Plans one group commit of `batch` and carries the plan out.
    pub(super) fn commit(&mut self, batch: Vec<Queued>) -> Result<(), LogFailed> {
        let (submissions, mut replies): (Vec<Submission>, Vec<Option<SubmitReply>>) =
            batch.into_iter().map(|(submission, reply)| (*submission, Some(reply))).unzip();
        // The state only changes on this thread, so the plan stays valid after the read lock is
        // released.
        let plan = {
            let state = self.shared.state.read().expect("state lock");
            plan::plan_commit(&state, self.clock.now_ms(), submissions)
        };
        let CommitPlan { records, entries, submitters, refusals } = plan;
        for (index, rejection) in refusals {
            if let Some(reply) = replies[index].take() {
                let _ = reply.send(Err(SubmitError::Rejected(rejection)));
            }
        }
        if entries.is_empty() {
            return Ok(());
        }
        let chains = match self.log.append(&records) {
            Ok(chains) => chains,
            Err(error) => return Err(self.stop_on_log_failure(&error, replies)),
        };
        let applied = self.apply(&entries);
        if self.entries_since_checkpoint == 0 {
            self.first_uncovered_ms = self.clock.now_ms();
        }
        self.entries_since_checkpoint += entries.len() as u64;
        self.publish(applied.events, applied.stored_messages);
        if let Some(last) = entries.last() {
            self.shared.applied.send_replace(last.sequence);
        }
        for ((submitter, (sequence, timestamp_ms, outcome)), chain) in
            submitters.into_iter().zip(applied.outcomes).zip(chains)
        {
            if let Some(reply) = submitter.and_then(|index| replies[index].take()) {
                let _ = reply.send(Ok(Committed { sequence, chain, timestamp_ms, outcome }));
            }
        }
        Ok(())
    }

    pub(super) fn checkpoint_is_due(&self) -> bool {
        self.settings.checkpoint_signer.is_some()
            && self.entries_since_checkpoint > 0
            && (self.entries_since_checkpoint >= self.settings.checkpoint_every_entries
                || self.clock.now_ms().saturating_sub(self.first_uncovered_ms) >= self.settings.checkpoint_every_ms)
    }

    /// Appends a checkpoint signed by the operator over the log as it stands, naming the newest state
    /// hash known (computing one here would encode the whole state on the writer).
    pub(super) fn checkpoint(&mut self) -> Result<(), LogFailed> {
        let Some(signer) = self.settings.checkpoint_signer.clone() else { return Ok(()) };
        let now_ms = self.clock.now_ms();
        let known_state_hash = *self.shared.newest_state_hash.lock().expect("state hash lock");
        let (record, entry, checkpoint) = {
            let state = self.shared.state.read().expect("state lock");
            plan::plan_checkpoint(&state, now_ms, self.log.head(), known_state_hash, &signer.0)
        };
        if let Err(error) = self.log.append(std::slice::from_ref(&record)) {
            return Err(self.stop_on_log_failure(&error, Vec::new()));
        }
        let applied = self.apply(std::slice::from_ref(&entry));
        self.publish(applied.events, applied.stored_messages);
        self.shared.applied.send_replace(entry.sequence);
        *self.shared.checkpoint.lock().expect("checkpoint lock") =
            Some(crate::history::LoggedCheckpoint { record_sequence: entry.sequence, checkpoint });
        self.entries_since_checkpoint = 0;
        Ok(())
    }

    /// Stops writing after a failed append, answering every submitter of the batch.
    fn stop_on_log_failure(&self, error: &colony_log::AppendError, replies: Vec<Option<SubmitReply>>) -> LogFailed {
        let reason = format!("the command log failed: {error}");
        tracing::error!(%reason, "writer stopping");
        *self.shared.stopped.lock().expect("stopped lock") = Some(reason.clone());
        for reply in replies.into_iter().flatten() {
            let _ = reply.send(Err(SubmitError::Unavailable(reason.clone())));
        }
        LogFailed(reason)
    }

    /// Applies durable entries to the shared state, in order, under the write lock. Only what must
    /// be read from the state is taken here; the rest waits until the lock is released.
    fn apply(&mut self, entries: &[Entry]) -> Applied {
        let mut applied =
            Applied { outcomes: Vec::with_capacity(entries.len()), events: Vec::new(), stored_messages: Vec::new() };
        let mut state = self.shared.state.write().expect("state lock");
        for entry in entries {
            let outcome = state
                .apply(entry)
                .unwrap_or_else(|error| panic!("the writer built entry {} wrongly: {error}", entry.sequence));
            applied.events.extend(outcome.events.iter().cloned());
            self.collect_stored_messages(&state, &outcome, &mut applied.stored_messages);
            applied.outcomes.push((entry.sequence, entry.timestamp_ms, outcome));
        }
        drop(state);
        applied
    }

    /// Durable messages this entry stored (published, or dead letters replayed) that live
    /// subscribers listen for. Only subjects someone listens on are copied, so a stream nobody
    /// watches live costs the writer nothing here.
    fn collect_stored_messages(&self, state: &State, outcome: &EntryOutcome, out: &mut Vec<(Name, StoredMessage)>) {
        let mut add = |stream: &Name, sequence: u64| {
            // A later command of the same entry may already have discarded it (retention): then
            // nobody gets it live either, as nobody could fetch it.
            let Some(message) = state.stream_message(stream, sequence) else { return };
            if self.shared.bus.router.has_receivers(&message.subject) {
                out.push((stream.clone(), message.clone()));
            }
        };
        for result in &outcome.commands {
            match result {
                Ok(Accepted::Published { stream, sequence, duplicate: false }) => add(stream, *sequence),
                Ok(Accepted::Replayed { messages }) => {
                    for (stream, sequence) in messages {
                        add(stream, *sequence);
                    }
                }
                _ => {}
            }
        }
    }

    /// Hands what the entries produced to those waiting for it. The bus gets the stored messages as
    /// they are; their JSON is made by whichever subscriber reads one first, not by this thread.
    fn publish(&self, events: Vec<Event>, stored_messages: Vec<(Name, StoredMessage)>) {
        crate::bus::state_changes::publish(&self.shared.bus, &events);
        self.shared.events.publish(events);
        for (stream, message) in stored_messages {
            self.shared.bus.router.publish_stored(stream, message);
        }
    }
}
