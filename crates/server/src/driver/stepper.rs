//! The writer's own steps, one turn at a time, on the caller's thread.
//!
//! The writer thread waits on a queue and a clock, so what it batches together depends on timing,
//! and the snapshotter thread snapshots whatever head it finds when it gets round to it. A
//! [`Stepper`] runs the same code (`Writer::commit`, `checkpoint`, `shut_down`, and the
//! snapshotter's `snapshot_from_log`) without a thread: the caller hands it each group commit's
//! submissions and gets their answers back when the turn is over, a snapshot included when one is
//! due. So a simulation that controls the clock, the log and the batches drives the real driver and
//! gets the same run from the same seed.

use std::sync::{Arc, RwLockReadGuard};

use colony_core::State;
use colony_log::{CommandLog, OpenError, SnapshotStore};
use tokio::sync::oneshot;

use super::writer::{LogFailed, Queued, Writer};
use super::{Committed, DriverSettings, Shared, Storage, Submission, SubmitError, snapshotter};
use crate::bus::EphemeralBus;
use crate::clock::Clock;
use crate::events::EventHub;

/// Events a stepper keeps for readers: it has none, but the writer publishes to a hub all the same.
const STEPPER_EVENTS_RETAINED: usize = 1_024;

/// The driver's writer, stepped by its caller.
pub struct Stepper {
    writer: Writer,
    shared: Arc<Shared>,
    /// A read-only handle on the log, from which the snapshotter's function opens its own.
    reader: Box<dyn CommandLog>,
    snapshots: Arc<dyn SnapshotStore>,
    /// The writer's setting, followed here as the writer follows it.
    snapshot_every_entries: u64,
    /// Why the writer stopped (its log failed), if it did: every later submission is refused so.
    stopped: Option<String>,
}

impl Stepper {
    /// A writer over a recovered `state` and its `storage`, which no thread runs. Fails only if the
    /// log cannot be opened a second time for snapshots.
    pub fn new(
        storage: Storage,
        state: State,
        clock: Arc<dyn Clock>,
        settings: DriverSettings,
    ) -> Result<Stepper, OpenError> {
        let reader = storage.log.open_reader()?;
        let events = EventHub::new(STEPPER_EVENTS_RETAINED, state.sequence() + 1);
        let bus = Arc::new(EphemeralBus::new(clock.now_ms()));
        let shared = Shared::over(state, events, bus, storage.snapshot_sequence);
        let snapshot_every_entries = settings.snapshot_every_entries;
        let snapshots = Arc::clone(&storage.snapshots);
        let writer = Writer::new(storage.log, Arc::clone(&shared), clock, settings, storage.snapshots, None);
        Ok(Stepper { writer, shared, reader, snapshots, snapshot_every_entries, stopped: None })
    }

    /// What the driver shares with readers (state, events, newest checkpoint).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The state as of the last applied entry.
    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.shared.state.read().expect("state lock")
    }

    /// Why the writer stopped, if its log failed.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// One turn of the writer's loop: `submissions` as one group commit (refusals, append, apply),
    /// then a checkpoint if one is due, then a periodic snapshot if one is due. An empty turn is the
    /// writer's idle wake-up, which appends a tick when a deadline has passed. Returns each
    /// submission's answer, in order.
    pub fn turn(&mut self, submissions: Vec<Submission>) -> Vec<Result<Committed, SubmitError>> {
        if let Some(reason) = &self.stopped {
            return submissions.iter().map(|_| Err(SubmitError::Unavailable(reason.clone()))).collect();
        }
        let (batch, answers): (Vec<Queued>, Vec<_>) = submissions
            .into_iter()
            .map(|submission| {
                let (reply, answer) = oneshot::channel();
                ((Box::new(submission), reply), answer)
            })
            .unzip();
        let outcome = self.writer.commit(batch).and_then(|()| {
            if self.writer.checkpoint_is_due() {
                self.writer.checkpoint()?;
            }
            Ok(())
        });
        match outcome {
            Err(LogFailed(reason)) => self.stopped = Some(reason),
            Ok(()) if self.snapshot_is_due() => {
                if let Err(reason) = self.snapshot() {
                    tracing::error!(%reason, "periodic snapshot failed; recovery will replay further");
                }
            }
            Ok(()) => {}
        }
        answers.into_iter().map(|mut answer| self.answer_of(&mut answer)).collect()
    }

    /// Takes a snapshot at the log's head now, as the snapshotter thread would: rebuilt from the
    /// newest snapshot and the log, not from the writer's state.
    pub fn snapshot(&mut self) -> Result<u64, String> {
        match &self.stopped {
            Some(reason) => Err(reason.clone()),
            None => snapshotter::snapshot_from_log(&*self.reader, &*self.snapshots, &self.shared),
        }
    }

    /// The writer's rule: `snapshot_every_entries` since the newest snapshot's entry.
    fn snapshot_is_due(&self) -> bool {
        let newest = self.shared.snapshots.lock().expect("snapshot statistics lock").sequence;
        self.state().sequence().saturating_sub(newest) >= self.snapshot_every_entries
    }

    /// A clean stop, as the writer's: a final snapshot of its state, then a checkpoint over everything.
    pub fn stop(mut self) {
        if self.stopped.is_none() {
            let (_sender, receiver) = std::sync::mpsc::sync_channel(0);
            self.writer.shut_down(&receiver, None);
        }
    }

    fn answer_of(
        &self,
        answer: &mut oneshot::Receiver<Result<Committed, SubmitError>>,
    ) -> Result<Committed, SubmitError> {
        answer.try_recv().unwrap_or_else(|_| {
            let reason = self.stopped.clone().unwrap_or_else(|| "the writer gave no answer".to_owned());
            Err(SubmitError::Unavailable(reason))
        })
    }
}

#[cfg(test)]
mod tests {
    use colony_core::command::Heartbeat;
    use colony_core::{Command, Signer, SwarmConfig};
    use colony_log::{AppendFault, MemoryLog, MemorySnapshots, MemoryStorage};
    use colony_wire::{Envelope, KeyPair};

    use super::*;
    use crate::clock::ManualClock;

    const GENESIS_MS: u64 = 1_700_000_000_000;

    fn operator() -> KeyPair {
        KeyPair::from_seed([7; 32])
    }

    /// An envelope from the operator: whatever core makes of its command, it is an entry.
    fn submission(nonce: u64) -> Submission {
        let envelope = Envelope { signer: Signer::Operator, nonce, commands: vec![Command::Heartbeat(Heartbeat {})] };
        Submission { signed: envelope.sign(&operator()), verified_key: operator().public_key(), envelope }
    }

    fn started(storage: &MemoryStorage, snapshots: &Arc<MemorySnapshots>, snapshot_every_entries: u64) -> Stepper {
        let mut log = MemoryLog::open(storage).unwrap();
        if log.last_sequence() == 0 {
            super::super::write_genesis(&mut log, operator().public_key(), SwarmConfig::default(), GENESIS_MS).unwrap();
        }
        let recovered = crate::recovery::recover(&log, &**snapshots, 16, |_, _| {}).unwrap();
        let storage = Storage {
            log: Box::new(log),
            snapshots: Arc::clone(snapshots) as Arc<dyn SnapshotStore>,
            snapshot_sequence: recovered.snapshot_sequence,
        };
        let settings = DriverSettings { snapshot_every_entries, ..DriverSettings::default() };
        Stepper::new(storage, recovered.state, Arc::new(ManualClock::new(GENESIS_MS)), settings).unwrap()
    }

    #[test]
    fn a_turn_commits_its_batch_and_takes_a_snapshot_when_one_is_due() {
        let storage = MemoryStorage::new();
        let snapshots = Arc::new(MemorySnapshots::default());
        let mut stepper = started(&storage, &snapshots, 3);
        let answers = stepper.turn(vec![submission(1), submission(1)]);
        assert_eq!(answers[0].as_ref().map(|committed| committed.sequence).ok(), Some(2));
        assert!(matches!(answers[1], Err(SubmitError::Rejected(_))), "a replayed nonce is refused before the log");
        assert!(snapshots.list().unwrap().is_empty(), "two entries, fewer than three");
        stepper.turn(vec![submission(2)]);
        assert_eq!(snapshots.list().unwrap(), vec![3], "the snapshot comes in the turn it falls due");
    }

    #[test]
    fn after_a_failed_append_every_write_is_refused_and_a_restart_recovers() {
        let storage = MemoryStorage::new();
        let snapshots = Arc::new(MemorySnapshots::default());
        let mut stepper = started(&storage, &snapshots, 1_000);
        storage.fail_next_append(AppendFault::Fail);
        assert!(matches!(stepper.turn(vec![submission(1)]).as_slice(), [Err(SubmitError::Unavailable(_))]));
        assert!(stepper.stopped().is_some());
        assert!(matches!(stepper.turn(vec![submission(2)]).as_slice(), [Err(SubmitError::Unavailable(_))]));
        drop(stepper);
        let mut restarted = started(&storage, &snapshots, 1_000);
        assert_eq!(restarted.state().sequence(), 1, "nothing of the failed append");
        assert!(restarted.turn(vec![submission(3)])[0].is_ok());
        restarted.stop();
        assert_eq!(snapshots.list().unwrap(), vec![2], "a clean stop leaves a final snapshot");
    }
}
