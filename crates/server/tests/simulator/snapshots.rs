//! The simulator's one place that knows where snapshots live: it tells the auditor of each new one
//! (to check its state hash against the replay) and damages the newest one when asked.

use std::collections::BTreeSet;

use colony_log::{CommandLog, MemoryLog, MemoryStorage};

use super::auditor::Auditor;

/// The snapshots seen so far.
#[derive(Default)]
pub struct Snapshots {
    seen: BTreeSet<u64>,
}

impl Snapshots {
    /// Hands the auditor the state hash each snapshot taken since the last call claims.
    pub fn note_new(&mut self, storage: &MemoryStorage, auditor: &mut Auditor) {
        let stored = storage.snapshot_sequences();
        if stored.iter().all(|sequence| self.seen.contains(sequence)) {
            return;
        }
        let (good, _) = MemoryLog::open_read_only(storage).snapshots().expect("snapshots list");
        for snapshot in good {
            if self.seen.insert(snapshot.sequence) {
                auditor.expect_snapshot(snapshot.sequence, snapshot.state_hash);
            }
        }
    }

    /// Damages the newest snapshot, so that recovery must skip it. Returns its sequence, if any.
    pub fn damage_newest(&self, storage: &MemoryStorage) -> Option<u64> {
        let newest = *storage.snapshot_sequences().last()?;
        storage.damage_snapshot(newest).then_some(newest)
    }
}
