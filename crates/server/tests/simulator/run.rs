//! One seeded run: genesis, then turns of the real writer (a batch of client envelopes, a group
//! commit, maybe a checkpoint and a snapshot) with faults injected, restarts from snapshot and log
//! through start-up's own verification and recovery, and the auditor's checks after every turn and
//! every restart. Everything random comes from the seed, time from a manual clock, and the storage
//! is in memory, so a seed replays exactly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use colony_core::SwarmConfig;
use colony_log::{CommandLog, Damage, FaultCounts, MemoryLog, MemoryStorage};
use colony_server::driver::stepper::Stepper;
use colony_server::driver::{self, CheckpointSigner, DriverSettings, SubmitError};
use colony_server::{ManualClock, StartError};
use colony_wire::KeyPair;

use super::auditor::Auditor;
use super::clients::Clients;
use super::faults::{FaultTally, Faults, Shutdown};
use super::rng::Rng;
use super::snapshots::Snapshots;

/// Log time of the genesis.
const GENESIS_MS: u64 = 1_700_000_000_000;
/// Envelopes in one turn at most.
const ENVELOPES_PER_TURN_MAX: u64 = 8;
/// One turn in this many jumps the clock far enough for heartbeats and escrows to expire.
const TIME_JUMP_EVERY_TURNS: u64 = 150;
/// Events recovery keeps (the simulator reads none).
const EVENTS_RETAINED: usize = 16;

/// What one run did.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// Entries in the log at the end.
    pub entries: u64,
    /// Turns of the writer.
    pub turns: u64,
    /// Envelopes acknowledged.
    pub acknowledged: u64,
    /// Envelopes refused before the log.
    pub refused: u64,
    /// Envelopes answered "unavailable" (the writer had stopped).
    pub unavailable: u64,
    /// Restarts, all kinds.
    pub restarts: u64,
    /// Faults the storage injected.
    pub storage_faults: FaultCounts,
    /// Restarts and damage.
    pub tally: FaultTally,
    /// Snapshots damaged before a restart.
    pub damaged_snapshots: u64,
    /// Entries the auditor's replay checked.
    pub entries_checked: u64,
    /// Checkpoints and snapshots whose state hashes were checked.
    pub state_hashes_checked: u64,
    /// Lock, semaphore and election grants the history checker held to its model, and key-value
    /// writes, of which compare-and-swaps.
    pub history_checked: (u64, u64, u64),
    /// The final state hash (of the recovered state, the replica and a fresh replay).
    pub final_state_hash: String,
    /// Commands generated, by kind.
    pub generated: std::collections::BTreeMap<&'static str, u64>,
    /// Commands accepted in acknowledged entries, by kind.
    pub accepted: std::collections::BTreeMap<&'static str, u64>,
    /// Wall time.
    pub elapsed: Duration,
}

impl std::fmt::Display for RunReport {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let storage = &self.storage_faults;
        let tally = &self.tally;
        write!(
            formatter,
            "seed {}: {} entries, {} turns, {} restarts ({} clean, {} crashes, {} power losses), acknowledged {}, \
             refused {}, unavailable {}; faults: {} failed appends, {} crashes before sync ({} torn, {} records \
             lost), {} after sync, {} slow syncs, {} damaged logs refused, {} damaged snapshots; {} entries and {} \
             state hashes checked; history: {} grants, {} key-value writes ({} swaps) checked; {:.0} entries/s",
            self.seed,
            self.entries,
            self.turns,
            self.restarts,
            tally.clean_restarts,
            tally.crashes,
            tally.power_losses,
            self.acknowledged,
            self.refused,
            self.unavailable,
            storage.failed_appends,
            storage.crashes_before_sync,
            storage.torn_records,
            storage.unsynced_records_lost,
            storage.crashes_after_sync,
            storage.slow_syncs,
            tally.damaged_logs_refused,
            self.damaged_snapshots,
            self.entries_checked,
            self.state_hashes_checked,
            self.history_checked.0,
            self.history_checked.1,
            self.history_checked.2,
            self.entries as f64 / self.elapsed.as_secs_f64().max(1e-9),
        )
    }
}

/// A simulated server and everything around it.
struct Simulation {
    rng: Rng,
    clock: ManualClock,
    storage: MemoryStorage,
    settings: DriverSettings,
    clients: Clients,
    auditor: Auditor,
    faults: Faults,
    snapshots: Snapshots,
    report: RunReport,
}

/// Runs `seed` for `turns` turns and checks everything on the way; panics on the first failure.
pub fn run_seed(seed: u64, turns: u64) -> RunReport {
    run(seed, turns, MemoryStorage::new())
}

/// [`run_seed`] over a device whose syncs lag one behind, so that a power loss takes the last
/// acknowledged writes with it: the run must fail.
pub fn run_seed_over_lagging_syncs(seed: u64, turns: u64) -> RunReport {
    let storage = MemoryStorage::new();
    storage.make_syncs_lag();
    run(seed, turns, storage)
}

fn run(seed: u64, turns: u64, storage: MemoryStorage) -> RunReport {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let operator = KeyPair::from_seed(rng.next_u64().to_le_bytes().repeat(4).try_into().expect("32 bytes"));
    let clock = ManualClock::new(GENESIS_MS);
    let slept = clock.clone();
    storage.set_sync_observer(Arc::new(move |delay_ms| slept.advance_ms(delay_ms)));
    let settings = DriverSettings {
        snapshot_every_entries: rng.between(200, 1_500),
        checkpoint_signer: Some(CheckpointSigner(Arc::new(operator.clone()))),
        checkpoint_every_entries: rng.between(64, 1_024),
        checkpoint_every_ms: rng.between(500, 5_000),
        ..DriverSettings::default()
    };
    let mut genesis_log = MemoryLog::open(&storage).expect("an empty log opens");
    driver::write_genesis(&mut genesis_log, operator.public_key(), SwarmConfig::default(), GENESIS_MS)
        .expect("the genesis is written");
    drop(genesis_log);
    let clients = Clients::new(operator.clone(), rng.next_u64());
    let mut simulation = Simulation {
        rng,
        clock,
        storage,
        settings,
        clients,
        auditor: Auditor::new(),
        faults: Faults::new(),
        snapshots: Snapshots::new(),
        report: RunReport {
            seed,
            entries: 0,
            turns: 0,
            acknowledged: 0,
            refused: 0,
            unavailable: 0,
            restarts: 0,
            storage_faults: FaultCounts::default(),
            tally: FaultTally::default(),
            damaged_snapshots: 0,
            entries_checked: 0,
            history_checked: (0, 0, 0),
            state_hashes_checked: 0,
            final_state_hash: String::new(),
            generated: Default::default(),
            accepted: Default::default(),
            elapsed: Duration::ZERO,
        },
    };
    let mut stepper = simulation.start().unwrap_or_else(|error| panic!("the first start failed: {error}"));
    for _ in 0..turns {
        stepper = simulation.turn(stepper);
    }
    simulation.finish(stepper, started)
}

impl Simulation {
    /// Start-up as the server does it: open (refusing a damaged head), verify the history beside
    /// recovery, then the writer over the recovered state.
    fn start(&mut self) -> Result<Stepper, StartError> {
        self.start_reporting().map(|(stepper, _)| stepper)
    }

    /// [`Simulation::start`], also returning the snapshots recovery skipped as damaged.
    fn start_reporting(&mut self) -> Result<(Stepper, Vec<u64>), StartError> {
        let log = MemoryLog::open(&self.storage).map_err(StartError::Log)?;
        let store = self.snapshots.store();
        let (verified, recovered) = colony_server::verify_and_recover(&log, &*store, EVENTS_RETAINED)?;
        let storage =
            driver::Storage { log: Box::new(log), snapshots: store, snapshot_sequence: recovered.snapshot_sequence };
        let stepper = Stepper::new(storage, recovered.state, Arc::new(self.clock.clone()), self.settings.clone())
            .map_err(StartError::Log)?;
        if let Some((sequence, state_hash)) = recovered.snapshot_state_hash {
            stepper.shared().remember_state_hash(sequence, state_hash);
        }
        *stepper.shared().checkpoint.lock().expect("checkpoint lock") = verified.checkpoints.last().copied();
        let skipped = recovered.skipped_snapshots.iter().map(|(sequence, _)| *sequence).collect();
        Ok((stepper, skipped))
    }

    /// One turn: faults armed, time passes, clients send a batch, the writer commits it, the auditor
    /// follows; then maybe a restart.
    fn turn(&mut self, mut stepper: Stepper) -> Stepper {
        self.report.turns += 1;
        self.faults.before_turn(&mut self.rng, &self.storage);
        let advance_ms = if self.rng.chance(1, TIME_JUMP_EVERY_TURNS) {
            self.rng.between(10_000, 200_000)
        } else {
            self.rng.below(400)
        };
        self.clock.advance_ms(advance_ms);
        let batch: Vec<_> = {
            let state = stepper.state();
            (0..self.rng.below(ENVELOPES_PER_TURN_MAX + 1))
                .map(|_| self.clients.envelope(&mut self.rng, &state))
                .collect()
        };
        let kinds: Vec<Vec<&'static str>> = batch
            .iter()
            .map(|submission| submission.envelope.commands.iter().map(|command| command.kind()).collect())
            .collect();
        for (answer, kinds) in stepper.turn(batch).into_iter().zip(kinds) {
            match answer {
                Ok(committed) => {
                    self.report.acknowledged += 1;
                    for (kind, result) in kinds.into_iter().zip(&committed.outcome.commands) {
                        *self.report.accepted.entry(kind).or_default() += u64::from(result.is_ok());
                    }
                    self.clients.observe(&committed.outcome);
                    self.auditor.acknowledge(&committed);
                }
                Err(SubmitError::Rejected(_)) => self.report.refused += 1,
                Err(SubmitError::Unavailable(_)) => self.report.unavailable += 1,
                Err(SubmitError::Overloaded) => panic!("a stepped writer has no queue to overflow"),
            }
        }
        let stopped = stepper.stopped().is_some();
        if stopped {
            self.check_refuses_writes(&mut stepper);
        } else {
            self.snapshots.note_new(&mut self.auditor);
            self.auditor.follow(&MemoryLog::open_read_only(&self.storage));
        }
        match self.faults.after_turn(&mut self.rng, stopped) {
            Some(shutdown) => self.restart(stepper, shutdown),
            None => stepper,
        }
    }

    /// A writer whose log failed refuses every later write.
    fn check_refuses_writes(&mut self, stepper: &mut Stepper) {
        let envelope = self.clients.envelope(&mut self.rng, &stepper.state());
        let answers = stepper.turn(vec![envelope]);
        assert!(
            matches!(answers.as_slice(), [Err(SubmitError::Unavailable(_))]),
            "a writer whose log failed accepted a write: {answers:?}"
        );
        self.report.unavailable += 1;
    }

    /// Takes the server down as `shutdown` says, maybe damages the log (start-up must refuse it,
    /// naming the damage) and the newest snapshot (recovery must fall back), and starts again.
    fn restart(&mut self, stepper: Stepper, shutdown: Shutdown) -> Stepper {
        self.report.restarts += 1;
        match shutdown {
            Shutdown::Clean => stepper.stop(),
            Shutdown::Crash { .. } => drop(stepper),
        }
        self.faults.go_down(shutdown, &self.storage);
        self.snapshots.note_new(&mut self.auditor);
        let head = MemoryLog::open_read_only(&self.storage).head().sequence;
        if let Some(damage) = self.faults.damage(&mut self.rng, &self.storage, head) {
            self.check_refused(damage, head);
            self.storage.repair();
        }
        let damaged_snapshot =
            if self.faults.damage_snapshot(&mut self.rng) { self.snapshots.damage_newest() } else { None };
        let (stepper, skipped) =
            self.start_reporting().unwrap_or_else(|error| panic!("a sound log did not start: {error}"));
        if let Some(damaged) = damaged_snapshot {
            assert!(skipped.contains(&damaged), "recovery used the damaged snapshot {damaged} (skipped {skipped:?})");
        }
        self.auditor.check_restart(&MemoryLog::open_read_only(&self.storage), &stepper.state());
        stepper
    }

    /// Start-up refuses a damaged log, naming the first damaged entry.
    fn check_refused(&mut self, damage: Damage, head: u64) {
        let error = match self.start() {
            Ok(_) => panic!("start-up accepted a log with {damage:?}"),
            Err(error) => error,
        };
        let named = match &error {
            StartError::Log(colony_log::OpenError::Damaged(read)) => read.sequence(),
            StartError::History(history) => history.sequence(),
            StartError::Recovery(recovery) => panic!("recovery, not verification, found {damage:?}: {recovery}"),
            other => panic!("start-up refused {damage:?} for another reason: {other}"),
        };
        assert_eq!(named, damage.first_damaged(head), "start-up named the wrong entry for {damage:?}: {error}");
        self.faults.tally.damaged_logs_refused += 1;
    }

    /// The end of a run: a clean stop and start, every check, and a fresh replay of the whole log.
    fn finish(mut self, stepper: Stepper, started: Instant) -> RunReport {
        let stepper = self.restart(stepper, Shutdown::Clean);
        let log = MemoryLog::open_read_only(&self.storage);
        let fresh = self.auditor.check_fresh_replay(&log);
        assert_eq!(stepper.state().state_hash(), fresh, "the running state differs from a fresh replay");
        let mut report = self.report;
        report.entries = log.head().sequence;
        report.storage_faults = self.storage.fault_counts();
        report.tally = self.faults.tally;
        report.damaged_snapshots = self.snapshots.damaged;
        report.entries_checked = self.auditor.entries_checked;
        report.state_hashes_checked = self.auditor.checkpoints_checked + self.auditor.snapshots_checked;
        let history = &self.auditor.history;
        report.history_checked = (history.grants_checked, history.writes_checked.0, history.writes_checked.1);
        report.final_state_hash = fresh.to_string();
        report.generated = self.clients.generated;
        report.elapsed = started.elapsed();
        report
    }
}
