//! The crowd's lease and lock commands: leases of a few names granted, kept alive and revoked
//! (sometimes another's), and locks of a few names acquired through them, waiting or not, and
//! released; leases that are not kept alive expire and hand their locks over.

use colony_core::command::{AcquireLock, GrantLease, KeepLeaseAlive, ReleaseLock, RevokeLease};
use colony_core::{Command, LockMode, Name, State};

use super::Clients;
use crate::rng::Rng;

/// Lease names: few, so that grants repeat and acquires find leases.
const LEASES: [&str; 2] = ["work", "batch"];
/// Lock names: few, so that agents contend.
const LOCKS: [&str; 3] = ["export", "ledger-sync", "index"];

fn lease_name(rng: &mut Rng) -> Name {
    Name::new(rng.pick_text(&LEASES)).expect("a valid name")
}

fn lock_name(rng: &mut Rng) -> Name {
    Name::new(rng.pick_text(&LOCKS)).expect("a valid name")
}

impl Clients {
    /// A lease of one to sixty seconds; now and then of too short a TTL, which is refused.
    pub(super) fn grant_lease(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let ttl_ms = if rng.chance(1, 20) { 10 } else { rng.between(1_000, 60_000) };
        Command::GrantLease(GrantLease { lease: lease_name(rng), ttl_ms })
    }

    pub(super) fn keep_lease_alive(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        Command::KeepLeaseAlive(KeepLeaseAlive { lease: lease_name(rng) })
    }

    /// The signer's own lease, or now and then a member's (refused unless the operator sends it).
    pub(super) fn revoke_lease(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let holder = if self.members.is_empty() || rng.chance(3, 4) {
            None
        } else {
            Some(self.members[rng.index(self.members.len())].id.clone())
        };
        Command::RevokeLease(RevokeLease { lease: lease_name(rng), holder })
    }

    pub(super) fn acquire_lock(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let mode = if rng.chance(1, 2) { LockMode::Exclusive } else { LockMode::Shared };
        Command::AcquireLock(AcquireLock { lock: lock_name(rng), mode, lease: lease_name(rng), wait: rng.chance(2, 3) })
    }

    pub(super) fn release_lock(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        Command::ReleaseLock(ReleaseLock { lock: lock_name(rng) })
    }
}
