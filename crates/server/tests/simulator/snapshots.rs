//! The simulator's one place that knows where snapshots live: it tells the auditor of each new one
//! (to check its state hash and chain hash against the replay) and damages the newest one when
//! asked, so that recovery must fall back to an older one or to a replay from genesis.

use std::collections::BTreeSet;
use std::sync::Arc;

use colony_log::{MemorySnapshots, SnapshotStore};

use super::auditor::Auditor;

/// The snapshot store, which survives restarts as a data directory does, and the snapshots seen.
pub struct Snapshots {
    store: Arc<MemorySnapshots>,
    seen: BTreeSet<u64>,
    /// Snapshots damaged so far.
    pub damaged: u64,
}

impl Snapshots {
    /// An empty store.
    pub fn new() -> Snapshots {
        Snapshots { store: Arc::new(MemorySnapshots::default()), seen: BTreeSet::new(), damaged: 0 }
    }

    /// The store, for the driver and recovery.
    pub fn store(&self) -> Arc<MemorySnapshots> {
        Arc::clone(&self.store)
    }

    /// Hands the auditor what each snapshot taken since the last call claims.
    pub fn note_new(&mut self, auditor: &mut Auditor) {
        let stored = self.store.list().expect("memory snapshots list");
        for sequence in stored.into_iter().rev() {
            if self.seen.insert(sequence) {
                let snapshot = self.store.read(sequence).expect("a listed snapshot reads");
                auditor.expect_snapshot(sequence, snapshot.state_hash, snapshot.chain);
            }
        }
    }

    /// Damages the newest snapshot (a stray byte after its body), so that recovery must skip it.
    /// Returns its sequence, if there is one.
    pub fn damage_newest(&mut self) -> Option<u64> {
        let newest = *self.store.list().expect("memory snapshots list").first()?;
        let mut body = self.store.read(newest).expect("a listed snapshot reads").body;
        body.push(0x5a);
        self.store.damage(newest, body);
        self.damaged += 1;
        Some(newest)
    }
}
