//! Coordination's state: leases by holder, their deadlines, locks with their holders and queues, the
//! counter fencing tokens are drawn from, and barriers with the parties waiting at them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::votes::VoteElections;
use crate::ids::{AgentId, Name, Signer};
use crate::kv::StoreKey;
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

/// What a record in the lock table is: a lock, a semaphore, or an election. The three share one
/// namespace, the queues, the fencing counter and the deadlock check, and differ in how many may
/// hold at once and in the events they tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// One exclusive holder, or any number of shared holders.
    Lock,
    /// Up to `permits` holders at once, each taking one permit.
    Semaphore {
        /// Holders at once.
        permits: u32,
    },
    /// One holder, the leader; the candidates queue behind it, and each new leader's fencing token
    /// is its term.
    Election,
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
    /// The barriers it waits at: its end breaks them.
    pub barriers: BTreeSet<Name>,
    /// The key-value store's keys that live with it, by namespace: its end deletes them.
    pub keys: BTreeSet<(Name, StoreKey)>,
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
    /// Lock, semaphore or election: fixed while the record lives.
    pub kind: LockKind,
    /// Its holders, by signer: one exclusive, any number shared, or up to a semaphore's permits.
    pub holders: BTreeMap<Signer, Hold>,
    /// Its waiters, first come first served.
    pub queue: VecDeque<Waiter>,
}

impl LockRecord {
    /// Whether a request in `mode` is compatible with the current holders (the queue aside).
    pub fn compatible(&self, mode: LockMode) -> bool {
        match (self.kind, mode) {
            (LockKind::Semaphore { permits }, _) => self.holders.len() < permits as usize,
            (_, LockMode::Exclusive) => self.holders.is_empty(),
            (_, LockMode::Shared) => self.holders.values().all(|hold| hold.mode == LockMode::Shared),
        }
    }

    /// Whether `signer` holds the lock or waits for it.
    pub fn involves(&self, signer: &Signer) -> bool {
        self.holders.contains_key(signer) || self.queue.iter().any(|waiter| waiter.holder == *signer)
    }
}

/// Why a barrier's generation ended without tripping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BarrierBreak {
    /// Its timeout passed, counted from its first arrival, with parties missing.
    TimedOut,
    /// The lease a waiting party arrived through ended: the party died (or left) while waiting.
    PartyLeaseEnded,
    /// Its creator or the operator reset it while parties waited.
    Reset,
    /// Its creator or the operator removed it while parties waited.
    Removed,
}

/// A party waiting at a barrier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    /// The lease it arrived through.
    pub lease: Name,
    /// When it arrived (log time).
    pub arrived_at_ms: u64,
}

/// A barrier: a number of parties that meet, generation after generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarrierRecord {
    /// Its name.
    pub name: Name,
    /// Who made it: only it and the operator reset or remove it.
    pub creator: Signer,
    /// Arrivals that trip it.
    pub parties: u32,
    /// The agents who may arrive; anyone when `None`.
    pub members: Option<BTreeSet<AgentId>>,
    /// How long a generation waits after its first arrival.
    pub timeout_ms: u64,
    /// When it was made (log time).
    pub created_at_ms: u64,
    /// The current generation, from 1: one more after each trip or reset.
    pub generation: u64,
    /// Those waiting in the current generation.
    pub arrivals: BTreeMap<Signer, Arrival>,
    /// The last log time the current generation waits; `None` before its first arrival.
    pub deadline_ms: Option<u64>,
    /// Why the current generation broke; `None` while it can trip.
    pub broken: Option<BarrierBreak>,
    /// Generations that tripped.
    pub trips: u64,
    /// The last generation that tripped (0 before the first): a party that arrived in generation `g`
    /// was released if this is `g` or more.
    pub last_tripped_generation: u64,
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
    pub(crate) barriers: BTreeMap<Name, BarrierRecord>,
    /// Barriers each signer made (a signer that made none has no entry), for the quota.
    pub(crate) barriers_by_creator: BTreeMap<Signer, usize>,
    /// Every waiting generation by the last log time it waits.
    pub(crate) barrier_deadlines: BTreeSet<(u64, Name)>,
    /// Seed 004's vote-based elections.
    pub(crate) vote_elections: VoteElections,
}

impl Coordination {
    /// One lease.
    pub fn lease(&self, holder: &Signer, name: &Name) -> Option<&LeaseRecord> {
        self.leases.get(holder)?.get(name)
    }

    pub(crate) fn lease_mut(&mut self, holder: &Signer, name: &Name) -> Option<&mut LeaseRecord> {
        self.leases.get_mut(holder)?.get_mut(name)
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

    /// Seed 004's vote-based elections.
    pub fn vote_elections(&self) -> &VoteElections {
        &self.vote_elections
    }

    /// One barrier.
    pub fn barrier(&self, name: &Name) -> Option<&BarrierRecord> {
        self.barriers.get(name)
    }

    /// Up to `limit` barriers after `after`, in name order.
    pub fn barriers_after(&self, after: Option<&Name>, limit: usize) -> Vec<&BarrierRecord> {
        let range = match after {
            Some(after) => self.barriers.range::<Name, _>((Bound::Excluded(after), Bound::Unbounded)),
            None => self.barriers.range::<Name, _>(..),
        };
        range.take(limit).map(|(_, barrier)| barrier).collect()
    }

    /// Barriers `creator` made.
    pub fn barriers_created_by(&self, creator: &Signer) -> usize {
        self.barriers_by_creator.get(creator).copied().unwrap_or(0)
    }

    /// The earliest last-alive time of any lease, last waiting time of any barrier's generation, or
    /// last open time of any vote-based election's round.
    pub(crate) fn next_deadline_ms(&self) -> Option<u64> {
        let lease = self.lease_deadlines.first().map(|(deadline_ms, _, _)| *deadline_ms);
        let barrier = self.barrier_deadlines.first().map(|(deadline_ms, _)| *deadline_ms);
        let round = self.vote_elections.round_deadlines.first().map(|(deadline_ms, _)| *deadline_ms);
        lease.into_iter().chain(barrier).chain(round).min()
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
                if lease.barriers.len() > limits::BARRIER_ARRIVALS_PER_LEASE_MAX {
                    return Err(format!("lease '{name}' of {holder} waits at more barriers than a lease may"));
                }
                for barrier in &lease.barriers {
                    let arrival = self.barriers.get(barrier).and_then(|record| record.arrivals.get(holder));
                    if arrival.is_none_or(|arrival| arrival.lease != *name) {
                        return Err(format!(
                            "lease '{name}' of {holder} names barrier '{barrier}' it did not arrive at"
                        ));
                    }
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
        self.check_barriers()?;
        self.vote_elections.check_invariants()
    }

    fn check_barriers(&self) -> Result<(), String> {
        let mut deadlines = BTreeSet::new();
        let mut creators: BTreeMap<Signer, usize> = BTreeMap::new();
        for (name, barrier) in &self.barriers {
            if *name != barrier.name || !(2..=limits::BARRIER_PARTIES_MAX).contains(&barrier.parties) {
                return Err(format!("barrier '{name}' is misfiled or has a party count it may not have"));
            }
            // The arrival that completes the count trips the generation, so it never stays.
            if barrier.arrivals.len() >= barrier.parties as usize {
                return Err(format!("barrier '{name}' keeps as many arrivals as its parties"));
            }
            if barrier.broken.is_some() && !barrier.arrivals.is_empty() {
                return Err(format!("barrier '{name}' is broken but keeps arrivals"));
            }
            if barrier.arrivals.is_empty() != barrier.deadline_ms.is_none() {
                return Err(format!("barrier '{name}' has a deadline without arrivals, or arrivals without one"));
            }
            if barrier.last_tripped_generation >= barrier.generation || barrier.trips > barrier.last_tripped_generation
            {
                return Err(format!("barrier '{name}' counts trips beyond its generations"));
            }
            for (party, arrival) in &barrier.arrivals {
                let lease = self.lease(party, &arrival.lease);
                if !lease.is_some_and(|lease| lease.barriers.contains(name)) {
                    return Err(format!("{party} waits at barrier '{name}' through a lease that does not name it"));
                }
                let member = barrier
                    .members
                    .as_ref()
                    .is_none_or(|members| party.agent().is_some_and(|agent| members.contains(agent)));
                if !member {
                    return Err(format!("{party} waits at barrier '{name}' but is not among its members"));
                }
            }
            if let Some(deadline_ms) = barrier.deadline_ms {
                deadlines.insert((deadline_ms, name.clone()));
            }
            *creators.entry(barrier.creator.clone()).or_default() += 1;
        }
        if deadlines != self.barrier_deadlines || creators != self.barriers_by_creator {
            return Err("the barrier deadlines or creators' counts differ from the barriers".to_owned());
        }
        let hoarding = creators.values().any(|count| *count > limits::BARRIERS_PER_CREATOR_MAX);
        if hoarding || self.barriers.len() > limits::BARRIERS_MAX {
            return Err("more barriers than the limits allow".to_owned());
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
        let kind_mode = match lock.kind {
            LockKind::Lock => None,
            LockKind::Semaphore { permits } => {
                if !(1..=limits::SEMAPHORE_PERMITS_MAX).contains(&permits) || lock.holders.len() > permits as usize {
                    return Err(format!("semaphore '{name}' has more holders than permits, or permits it may not"));
                }
                Some(LockMode::Shared)
            }
            LockKind::Election => Some(LockMode::Exclusive),
        };
        let modes = lock.holders.values().map(|hold| hold.mode).chain(lock.queue.iter().map(|waiter| waiter.mode));
        if let Some(kind_mode) = kind_mode
            && modes.into_iter().any(|mode| mode != kind_mode)
        {
            return Err(format!("'{name}' is held or awaited in a mode its kind does not use"));
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
