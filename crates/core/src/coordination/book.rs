//! Coordination's state: leases by holder, their deadlines, locks with their holders and queues, and
//! the counter fencing tokens are drawn from.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{Name, Signer};
use crate::limits;

/// How a lock is held: alone, or beside other shared holders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// No other holder at all.
    Exclusive,
    /// Other shared holders, but no exclusive one.
    Shared,
}

/// Why a lease ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeaseEnd {
    /// Its holder or the operator revoked it.
    Revoked,
    /// Its deadline passed without a keep-alive.
    Expired,
    /// Its holder missed its heartbeat deadline.
    HolderSilent,
    /// Its holder was deregistered.
    HolderDeregistered,
}

/// Why a holder stopped holding a lock, or a waiter left its queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LockRelease {
    /// The holder released it (or the waiter gave up waiting).
    Released,
    /// The lease it was held or awaited through ended.
    LeaseEnded,
}

/// A lease: alive until `expires_at_ms` (inclusive) unless kept alive, revoked, or its holder dies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// Who holds it.
    pub holder: Signer,
    /// Its name, unique among its holder's leases.
    pub name: Name,
    /// What each keep-alive extends it by.
    pub ttl_ms: u64,
    /// When it was granted (log time).
    pub granted_at_ms: u64,
    /// The last log time at which it is alive.
    pub expires_at_ms: u64,
    /// The locks held or awaited through it.
    pub locks: BTreeSet<Name>,
}

/// One holder of a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The lease it holds the lock through.
    pub lease: Name,
    /// Alone or shared.
    pub mode: LockMode,
    /// Its fencing token: above every token granted on this lock before.
    pub fencing_token: u64,
    /// When it was granted (log time).
    pub granted_at_ms: u64,
}

/// One waiter in a lock's queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiter {
    /// Who waits.
    pub holder: Signer,
    /// The lease it waits through.
    pub lease: Name,
    /// The mode it asked for.
    pub mode: LockMode,
    /// When it joined the queue (log time).
    pub queued_at_ms: u64,
}

/// A lock with at least one holder or waiter (a lock nobody holds or awaits has no record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// Its name.
    pub name: Name,
    /// Its holders, by signer: one exclusive, or any number shared.
    pub holders: BTreeMap<Signer, Hold>,
    /// Its waiters, first come first served.
    pub queue: VecDeque<Waiter>,
}

impl LockRecord {
    /// Whether a request in `mode` is compatible with the current holders (the queue aside).
    pub fn compatible(&self, mode: LockMode) -> bool {
        match mode {
            LockMode::Exclusive => self.holders.is_empty(),
            LockMode::Shared => self.holders.values().all(|hold| hold.mode == LockMode::Shared),
        }
    }

    /// Whether `signer` holds the lock or waits for it.
    pub fn involves(&self, signer: &Signer) -> bool {
        self.holders.contains_key(signer) || self.queue.iter().any(|waiter| waiter.holder == *signer)
    }
}

/// Every lease and every lock in use.
///
/// Fencing tokens come from one counter for all locks: a lock's tokens are then strictly increasing
/// over its whole life even when its record is dropped and made again, without remembering anything
/// of locks nobody uses any more.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coordination {
    /// Leases by holder, then name (a holder with none has no entry).
    pub(crate) leases: BTreeMap<Signer, BTreeMap<Name, LeaseRecord>>,
    /// Leases in all.
    pub(crate) lease_total: usize,
    /// Every lease by the last log time it is alive.
    pub(crate) lease_deadlines: BTreeSet<(u64, Signer, Name)>,
    pub(crate) locks: BTreeMap<Name, LockRecord>,
    /// The locks each signer waits for (a signer waiting for none has no entry): the wait-for
    /// graph's edges start here.
    pub(crate) waiting: BTreeMap<Signer, BTreeSet<Name>>,
    /// The last fencing token granted (0 before the first).
    pub(crate) last_fencing_token: u64,
}

impl Coordination {
    /// One lease.
    pub fn lease(&self, holder: &Signer, name: &Name) -> Option<&LeaseRecord> {
        self.leases.get(holder)?.get(name)
    }

    /// Up to `limit` leases after `after` (holder, name), in that order; of one holder when given.
    pub fn leases_after(
        &self,
        holder: Option<&Signer>,
        after: Option<(&Signer, &Name)>,
        limit: usize,
    ) -> Vec<&LeaseRecord> {
        let start = match (holder, after) {
            (_, Some((after_holder, _))) => Bound::Included(after_holder),
            (Some(holder), None) => Bound::Included(holder),
            (None, None) => Bound::Unbounded,
        };
        let mut found = Vec::new();
        for (lease_holder, leases) in self.leases.range::<Signer, _>((start, Bound::Unbounded)) {
            if holder.is_some_and(|holder| holder != lease_holder) || found.len() >= limit {
                break;
            }
            let names = match after {
                Some((after_holder, after_name)) if after_holder == lease_holder => {
                    leases.range::<Name, _>((Bound::Excluded(after_name), Bound::Unbounded))
                }
                _ => leases.range::<Name, _>(..),
            };
            found.extend(names.take(limit - found.len()).map(|(_, lease)| lease));
        }
        found
    }

    /// One lock, while someone holds or awaits it.
    pub fn lock(&self, name: &Name) -> Option<&LockRecord> {
        self.locks.get(name)
    }

    /// Up to `limit` locks in use after `after`, in name order.
    pub fn locks_after(&self, after: Option<&Name>, limit: usize) -> Vec<&LockRecord> {
        let range = match after {
            Some(after) => self.locks.range::<Name, _>((Bound::Excluded(after), Bound::Unbounded)),
            None => self.locks.range::<Name, _>(..),
        };
        range.take(limit).map(|(_, lock)| lock).collect()
    }

    /// Leases `holder` holds.
    pub fn leases_held_by(&self, holder: &Signer) -> u32 {
        self.leases.get(holder).map_or(0, |leases| leases.len() as u32)
    }

    /// Queue places `holder` takes in all locks.
    pub fn waits_of(&self, holder: &Signer) -> usize {
        self.waiting.get(holder).map_or(0, BTreeSet::len)
    }

    /// Leases in all.
    pub fn lease_count(&self) -> usize {
        self.lease_total
    }

    /// Locks held or awaited.
    pub fn lock_count(&self) -> usize {
        self.locks.len()
    }

    /// The last fencing token granted.
    pub fn last_fencing_token(&self) -> u64 {
        self.last_fencing_token
    }

    /// The earliest last-alive time of any lease.
    pub(crate) fn next_deadline_ms(&self) -> Option<u64> {
        self.lease_deadlines.first().map(|(deadline_ms, _, _)| *deadline_ms)
    }

    /// Checks the leases' indexes and counts, and every lock's holders and queue against them.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut deadlines = BTreeSet::new();
        let mut references = 0usize;
        let mut total = 0usize;
        for (holder, leases) in &self.leases {
            if leases.is_empty() || leases.len() > limits::LEASES_PER_HOLDER_MAX {
                return Err(format!("{holder} is filed with a number of leases it may not hold"));
            }
            for (name, lease) in leases {
                if *holder != lease.holder || *name != lease.name {
                    return Err(format!("lease '{}' of {} is filed under another key", lease.name, lease.holder));
                }
                if lease.locks.len() > limits::LOCKS_PER_LEASE_MAX {
                    return Err(format!("lease '{name}' of {holder} names more locks than a lease may"));
                }
                deadlines.insert((lease.expires_at_ms, holder.clone(), name.clone()));
                references += lease.locks.len();
            }
            total += leases.len();
        }
        if deadlines != self.lease_deadlines || total != self.lease_total {
            return Err("the lease deadlines or total differ from the leases".to_owned());
        }
        if self.lease_total > limits::LEASES_MAX || self.locks.len() > limits::LOCKS_MAX {
            return Err("more leases or locks than the limits allow".to_owned());
        }
        let mut waits: BTreeMap<Signer, BTreeSet<Name>> = BTreeMap::new();
        let mut places = 0usize;
        for (name, lock) in &self.locks {
            self.check_lock(name, lock)?;
            for waiter in &lock.queue {
                waits.entry(waiter.holder.clone()).or_default().insert(name.clone());
            }
            places += lock.holders.len() + lock.queue.len();
        }
        if waits != self.waiting || waits.values().any(|locks| locks.len() > limits::LOCK_WAITS_PER_HOLDER_MAX) {
            return Err("the locks each holder waits for differ from the queues, or are too many".to_owned());
        }
        if places != references {
            return Err(format!("leases name {references} locks but locks have {places} holders and waiters"));
        }
        Ok(())
    }

    fn check_lock(&self, name: &Name, lock: &LockRecord) -> Result<(), String> {
        if *name != lock.name || (lock.holders.is_empty() && lock.queue.is_empty()) {
            return Err(format!("lock '{name}' is misfiled or kept with nobody holding or awaiting it"));
        }
        if lock.holders.values().any(|hold| hold.mode == LockMode::Exclusive) && lock.holders.len() > 1 {
            return Err(format!("lock '{name}' has an exclusive holder beside another"));
        }
        if lock.queue.len() > limits::LOCK_QUEUE_MAX {
            return Err(format!("lock '{name}' queues more waiters than a lock may"));
        }
        if lock.queue.front().is_some_and(|first| lock.compatible(first.mode)) {
            return Err(format!("lock '{name}' keeps a waiter it could grant"));
        }
        let mut seen = BTreeSet::new();
        let places = lock.holders.iter().map(|(holder, hold)| (holder, &hold.lease));
        for (holder, lease) in places.chain(lock.queue.iter().map(|waiter| (&waiter.holder, &waiter.lease))) {
            if !seen.insert(holder) {
                return Err(format!("lock '{name}' has {holder} twice among its holders and waiters"));
            }
            let record = self.lease(holder, lease);
            if !record.is_some_and(|record| record.locks.contains(name)) {
                return Err(format!("lock '{name}' is held or awaited through a lease that does not name it"));
            }
        }
        if lock.holders.values().any(|hold| hold.fencing_token == 0 || hold.fencing_token > self.last_fencing_token) {
            return Err(format!("lock '{name}' has a fencing token never granted"));
        }
        Ok(())
    }
}
