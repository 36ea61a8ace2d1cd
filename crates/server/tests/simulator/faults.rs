//! Which faults happen when: append failures, crashes during an append (before or after its sync,
//! with or without the power going), slow syncs, crashes and clean restarts between turns, and
//! damage done to the stopped log, each at a rate per turn drawn from the run's generator.

use colony_log::{AppendFault, Damage, MemoryStorage};

use super::rng::Rng;

/// One turn in this many arms a failing append.
const FAILED_APPEND_EVERY_TURNS: u64 = 1_500;
/// One turn in this many arms a crash during the next append, before its sync.
const CRASH_BEFORE_SYNC_EVERY_TURNS: u64 = 900;
/// One turn in this many arms a crash during the next append, after its sync.
const CRASH_AFTER_SYNC_EVERY_TURNS: u64 = 1_500;
/// One turn in this many makes the next sync slow.
const SLOW_SYNC_EVERY_TURNS: u64 = 40;
/// One turn in this many ends with the process killed.
const CRASH_EVERY_TURNS: u64 = 900;
/// One turn in this many ends with a clean stop and start.
const CLEAN_RESTART_EVERY_TURNS: u64 = 1_500;
/// One restart in this many first finds the log damaged (and must refuse it).
const DAMAGE_EVERY_RESTARTS: u64 = 3;
/// One restart in this many finds the newest snapshot damaged (and must fall back).
const SNAPSHOT_DAMAGE_EVERY_RESTARTS: u64 = 3;

/// How the server goes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// A clean stop: the writer's final snapshot and checkpoint.
    Clean,
    /// The process dies; `power_loss`: so does the machine, losing what was not synced, and
    /// `torn`: the last record being written is left torn.
    Crash {
        /// Whether unsynced records are lost.
        power_loss: bool,
        /// Whether the last unsynced record is left torn.
        torn: bool,
    },
}

/// What the faults did in one run.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultTally {
    /// Restarts after a clean stop.
    pub clean_restarts: u64,
    /// Restarts after the process died.
    pub crashes: u64,
    /// Of those, with the power lost too.
    pub power_losses: u64,
    /// Damaged logs start-up refused (then repaired).
    pub damaged_logs_refused: u64,
}

/// The fault schedule of one run.
pub struct Faults {
    /// The append fault armed last: the one that stopped the writer, when it stops.
    armed: Option<AppendFault>,
    /// What happened so far.
    pub tally: FaultTally,
}

impl Faults {
    /// No fault armed yet.
    pub fn new() -> Faults {
        Faults { armed: None, tally: FaultTally::default() }
    }

    /// Before a turn: maybe arms an append fault and a slow sync.
    pub fn before_turn(&mut self, rng: &mut Rng, storage: &MemoryStorage) {
        // One at a time: the last one armed may still wait for an append, or may have been spent on
        // a clean stop's final checkpoint, which stops nothing.
        if storage.armed_append_fault().is_none() {
            let fault = if rng.chance(1, FAILED_APPEND_EVERY_TURNS) {
                Some(AppendFault::Fail)
            } else if rng.chance(1, CRASH_BEFORE_SYNC_EVERY_TURNS) {
                Some(AppendFault::CrashBeforeSync { torn: rng.chance(1, 2) })
            } else if rng.chance(1, CRASH_AFTER_SYNC_EVERY_TURNS) {
                Some(AppendFault::CrashAfterSync)
            } else {
                None
            };
            if let Some(fault) = fault {
                storage.fail_next_append(fault);
                self.armed = Some(fault);
            }
        }
        if rng.chance(1, SLOW_SYNC_EVERY_TURNS) {
            storage.slow_next_sync(rng.between(5, 2_000));
        }
    }

    /// After a turn: how the server goes down, if it does. A writer that `stopped` (its append
    /// failed) is always restarted, as its operator would; a crash armed for the append decides how.
    pub fn after_turn(&mut self, rng: &mut Rng, stopped: bool) -> Option<Shutdown> {
        if stopped {
            let armed = self.armed.expect("the writer stops only on an armed fault");
            return Some(match armed {
                // The device refused the write and the server went on refusing writes: restarted.
                AppendFault::Fail => Shutdown::Crash { power_loss: false, torn: false },
                AppendFault::CrashBeforeSync { torn } => {
                    let power_loss = torn || rng.chance(1, 2);
                    Shutdown::Crash { power_loss, torn }
                }
                AppendFault::CrashAfterSync => Shutdown::Crash { power_loss: rng.chance(1, 2), torn: false },
            });
        }
        if rng.chance(1, CRASH_EVERY_TURNS) {
            return Some(Shutdown::Crash { power_loss: rng.chance(1, 2), torn: false });
        }
        rng.chance(1, CLEAN_RESTART_EVERY_TURNS).then_some(Shutdown::Clean)
    }

    /// Counts a shutdown, and for a crash applies it to the storage.
    pub fn go_down(&mut self, shutdown: Shutdown, storage: &MemoryStorage) {
        match shutdown {
            Shutdown::Clean => self.tally.clean_restarts += 1,
            Shutdown::Crash { power_loss, torn } => {
                self.tally.crashes += 1;
                if power_loss {
                    self.tally.power_losses += 1;
                    storage.crash(torn);
                }
            }
        }
    }

    /// While the server is down: maybe damage to the log, which start-up must refuse.
    pub fn damage(&mut self, rng: &mut Rng, storage: &MemoryStorage, head: u64) -> Option<Damage> {
        if !rng.chance(1, DAMAGE_EVERY_RESTARTS) || head < 3 {
            return None;
        }
        let sequence = rng.between(1, head);
        let damage = match rng.below(6) {
            0 => Damage::CorruptRecord(sequence),
            1 => Damage::DeleteRecord(sequence.min(head - 1)),
            2 => Damage::DeleteLast,
            3 => Damage::TruncateAfter(sequence.min(head - 1)),
            4 => Damage::Unreadable { first: sequence, last: (sequence + rng.below(4)).min(head) },
            _ => Damage::LoseHead,
        };
        storage.damage(damage)
    }

    /// Whether the newest snapshot is damaged before this restart.
    pub fn damage_snapshot(&mut self, rng: &mut Rng) -> bool {
        rng.chance(1, SNAPSHOT_DAMAGE_EVERY_RESTARTS)
    }
}
