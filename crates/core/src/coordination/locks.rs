//! Acquiring and releasing locks, semaphores and elections: compatibility with the holders,
//! first-come-first-served queues, handover with fresh fencing tokens, and deadlock detection on the
//! wait-for graph.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::book::{Hold, LockKind, LockMode, LockRecord, LockRelease, Waiter};
use super::commands::{AcquireLock, AcquireSemaphore, Campaign};
use super::rejections::CoordinationRejection;
use crate::event::EventKind;
use crate::ids::{Name, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, State};

/// What an acquire asks for: a place on `name`, which must be (or becomes) of `kind`.
struct Request<'command> {
    name: &'command Name,
    kind: LockKind,
    mode: LockMode,
    lease: &'command Name,
}

fn limit(limit: &'static str, max: usize) -> Rejection {
    Rejection::LimitReached { limit, max: max as u64 }
}

/// Those `waiter` waits for on `lock`: its holders, and the waiters queued ahead (served first).
fn blockers<'lock>(lock: &'lock LockRecord, waiter: &Signer) -> impl Iterator<Item = &'lock Signer> {
    let ahead = lock.queue.iter().take_while(move |queued| queued.holder != *waiter).map(|queued| &queued.holder);
    lock.holders.keys().chain(ahead)
}

impl State {
    pub(crate) fn acquire_lock(&mut self, context: &mut Context, command: &AcquireLock) -> CommandResult {
        let request = Request { name: &command.lock, kind: LockKind::Lock, mode: command.mode, lease: &command.lease };
        self.acquire(context, request, command.wait)
    }

    pub(crate) fn acquire_semaphore(&mut self, context: &mut Context, command: &AcquireSemaphore) -> CommandResult {
        if !(1..=limits::SEMAPHORE_PERMITS_MAX).contains(&command.permits) {
            let message = format!("must be from 1 to {}", limits::SEMAPHORE_PERMITS_MAX);
            return Err(Rejection::invalid("permits", message));
        }
        let kind = LockKind::Semaphore { permits: command.permits };
        let request = Request { name: &command.semaphore, kind, mode: LockMode::Shared, lease: &command.lease };
        self.acquire(context, request, command.wait)
    }

    pub(crate) fn campaign(&mut self, context: &mut Context, command: &Campaign) -> CommandResult {
        let request = Request {
            name: &command.election,
            kind: LockKind::Election,
            mode: LockMode::Exclusive,
            lease: &command.lease,
        };
        self.acquire(context, request, true)
    }

    fn acquire(&mut self, context: &mut Context, request: Request<'_>, wait: bool) -> CommandResult {
        let Request { name, kind, mode, lease: lease_name } = request;
        let holder = context.signer().clone();
        let lease = self.held_lease(&holder, lease_name)?;
        let existing = self.coordination.locks.get(name);
        if let Some(lock) = existing
            && lock.kind != kind
        {
            return Err(CoordinationRejection::LockKindMismatch { lock: name.clone(), kind: lock.kind }.into());
        }
        if existing.is_some_and(|lock| lock.involves(&holder)) {
            return Err(CoordinationRejection::LockAlreadyHeld { lock: name.clone() }.into());
        }
        if lease.locks.len() >= limits::LOCKS_PER_LEASE_MAX {
            return Err(limit("locks_per_lease", limits::LOCKS_PER_LEASE_MAX));
        }
        if existing.is_none() && self.coordination.locks.len() >= limits::LOCKS_MAX {
            return Err(limit("locks", limits::LOCKS_MAX));
        }
        let grantable = existing.is_none_or(|lock| lock.queue.is_empty() && lock.compatible(mode));
        if !grantable {
            let lock = existing.expect("only a lock in use can refuse");
            if !wait {
                return Err(CoordinationRejection::LockHeld { lock: name.clone() }.into());
            }
            if lock.queue.len() >= limits::LOCK_QUEUE_MAX {
                return Err(limit("lock_queue", limits::LOCK_QUEUE_MAX));
            }
            if self.coordination.waits_of(&holder) >= limits::LOCK_WAITS_PER_HOLDER_MAX {
                return Err(limit("lock_waits_per_holder", limits::LOCK_WAITS_PER_HOLDER_MAX));
            }
            self.check_wait_closes_no_cycle(&holder, lock)?;
        }
        self.attach_to_lease(&holder, lease_name, name);
        if grantable {
            let hold = Hold { lease: lease_name.clone(), mode, fencing_token: 0, granted_at_ms: 0 };
            let fencing_token = self.grant_hold(context, name, kind, holder, hold, false);
            return Ok(Accepted::LockGranted { fencing_token });
        }
        let coordination = &mut self.coordination;
        let lock = coordination.locks.get_mut(name).expect("found above");
        lock.queue.push_back(Waiter {
            holder: holder.clone(),
            lease: lease_name.clone(),
            mode,
            queued_at_ms: context.now_ms,
        });
        let position = u32::try_from(lock.queue.len()).expect("queues are short");
        coordination.waiting.entry(holder.clone()).or_default().insert(name.clone());
        context.emit(match kind {
            LockKind::Election => EventKind::ElectionCampaigning {
                election: name.clone(),
                candidate: holder,
                lease: lease_name.clone(),
                position,
            },
            LockKind::Lock | LockKind::Semaphore { .. } => {
                EventKind::LockQueued { lock: name.clone(), holder, lease: lease_name.clone(), mode, position }
            }
        });
        Ok(Accepted::LockQueued { position })
    }

    /// Releases the signer's hold on (or place in the queue of) a lock, semaphore or election: `kind`
    /// names which the command expects (a semaphore's permits aside).
    pub(crate) fn release(&mut self, context: &mut Context, name: &Name, kind: LockKind) -> CommandResult {
        let holder = context.signer().clone();
        let lock = self.coordination.locks.get(name);
        if let Some(lock) = lock
            && std::mem::discriminant(&lock.kind) != std::mem::discriminant(&kind)
        {
            return Err(CoordinationRejection::LockKindMismatch { lock: name.clone(), kind: lock.kind }.into());
        }
        let Some(lock) = lock.filter(|lock| lock.involves(&holder)) else {
            return Err(CoordinationRejection::LockNotHeld { lock: name.clone() }.into());
        };
        let lease = match lock.holders.get(&holder) {
            Some(hold) => hold.lease.clone(),
            None => lock.queue.iter().find(|waiter| waiter.holder == holder).expect("involved").lease.clone(),
        };
        let leases = self.coordination.leases.get_mut(&holder).expect("a holder's lease exists");
        leases.get_mut(&lease).expect("a holder's lease exists").locks.remove(name);
        self.leave_lock(context, name, &holder, LockRelease::Released);
        Ok(Accepted::Done)
    }

    fn attach_to_lease(&mut self, holder: &Signer, lease: &Name, lock: &Name) {
        let leases = self.coordination.leases.get_mut(holder).expect("found above");
        leases.get_mut(lease).expect("found above").locks.insert(lock.clone());
    }

    /// Grants `holder` the lock with the next fencing token, making its record (of `kind`) when it
    /// has none.
    fn grant_hold(
        &mut self,
        context: &mut Context,
        name: &Name,
        kind: LockKind,
        holder: Signer,
        mut hold: Hold,
        waited: bool,
    ) -> u64 {
        let coordination = &mut self.coordination;
        coordination.last_fencing_token += 1;
        hold.fencing_token = coordination.last_fencing_token;
        hold.granted_at_ms = context.now_ms;
        let lock = coordination.locks.entry(name.clone()).or_insert_with(|| LockRecord {
            name: name.clone(),
            kind,
            holders: BTreeMap::new(),
            queue: VecDeque::new(),
        });
        context.emit(match lock.kind {
            LockKind::Election => EventKind::ElectionLeader {
                election: name.clone(),
                leader: holder.clone(),
                lease: hold.lease.clone(),
                term: hold.fencing_token,
                waited,
            },
            LockKind::Lock | LockKind::Semaphore { .. } => EventKind::LockGranted {
                lock: name.clone(),
                holder: holder.clone(),
                lease: hold.lease.clone(),
                mode: hold.mode,
                fencing_token: hold.fencing_token,
                waited,
            },
        });
        let fencing_token = hold.fencing_token;
        lock.holders.insert(holder, hold);
        fencing_token
    }

    /// Takes `holder` off the lock (as holder or waiter), then grants the waiters now first in line
    /// and compatible, in order; drops the record when nobody is left. The caller has already taken
    /// the lock off the holder's lease (or removed the lease).
    pub(crate) fn leave_lock(&mut self, context: &mut Context, name: &Name, holder: &Signer, reason: LockRelease) {
        let coordination = &mut self.coordination;
        let lock = coordination.locks.get_mut(name).expect("a lock left is in use");
        let election = lock.kind == LockKind::Election;
        if let Some(hold) = lock.holders.remove(holder) {
            let (lease, fencing_token) = (hold.lease, hold.fencing_token);
            context.emit(if election {
                EventKind::ElectionTermEnded {
                    election: name.clone(),
                    leader: holder.clone(),
                    lease,
                    term: fencing_token,
                    reason,
                }
            } else {
                EventKind::LockReleased { lock: name.clone(), holder: holder.clone(), lease, fencing_token, reason }
            });
        } else {
            let position = lock.queue.iter().position(|waiter| waiter.holder == *holder).expect("a waiter");
            let waiter = lock.queue.remove(position).expect("found above");
            forget_wait(&mut coordination.waiting, holder, name);
            let lease = waiter.lease;
            context.emit(if election {
                EventKind::ElectionWithdrawn { election: name.clone(), candidate: holder.clone(), lease, reason }
            } else {
                EventKind::LockLeftQueue { lock: name.clone(), holder: holder.clone(), lease, reason }
            });
        }
        self.hand_over(context, name);
    }

    /// Grants the queue's head while it is compatible with the holders: an exclusive waiter blocks
    /// everyone behind it, so waiters are served in order and none starves.
    fn hand_over(&mut self, context: &mut Context, name: &Name) {
        loop {
            let coordination = &mut self.coordination;
            let lock = coordination.locks.get_mut(name).expect("a lock handed over is in use");
            let Some(first) = lock.queue.front() else { break };
            if !lock.compatible(first.mode) {
                break;
            }
            let kind = lock.kind;
            let waiter = lock.queue.pop_front().expect("found above");
            forget_wait(&mut coordination.waiting, &waiter.holder, name);
            let hold = Hold { lease: waiter.lease, mode: waiter.mode, fencing_token: 0, granted_at_ms: 0 };
            self.grant_hold(context, name, kind, waiter.holder, hold, true);
        }
        let lock = self.coordination.locks.get(name).expect("still in use");
        if lock.holders.is_empty() && lock.queue.is_empty() {
            self.coordination.locks.remove(name);
        }
    }

    /// Refuses a wait by `waiter` on `lock` that would close a cycle of agents waiting for each other.
    ///
    /// The wait adds edges from `waiter` to everyone it would wait for on `lock` (its holders and its
    /// queue); it closes a cycle when one of them already waits, directly or through others, for
    /// `waiter`. Two bounded walks can tell: back from `waiter` (who waits for it), or forward from the
    /// lock's holders and queue (whom they wait for). Either finishing decides, and the wait is
    /// refused with `limit_reached` only when both run out of steps. The backward walk goes first: an
    /// agent that holds nothing anyone waits for (the usual case) is done at once however many agents
    /// crowd the lock it asks for, so a crowd that shares a lock and waits elsewhere cannot push honest
    /// acquires into the forward walk's limit. A waiter at a full semaphore waits for whichever holder
    /// leaves first, but counts here as waiting for all of them: conservative, it never lets a cycle
    /// through and may refuse a wait another holder's leaving would have ended.
    fn check_wait_closes_no_cycle(&self, waiter: &Signer, lock: &LockRecord) -> Result<(), Rejection> {
        let closes = match self.agents_waiting_for(waiter) {
            Some(behind) => {
                lock.queue.iter().any(|queued| behind.contains(&queued.holder))
                    || behind.iter().any(|agent| lock.holders.contains_key(*agent))
            }
            None => self.awaited_from_lock_reaches(waiter, lock)?,
        };
        if closes { Err(CoordinationRejection::Deadlock { lock: lock.name.clone() }.into()) } else { Ok(()) }
    }

    /// Everyone who waits for `agent`, directly or through others: the waiters of the locks it holds
    /// and those queued behind it, and so on. `None` when that takes more than
    /// `DEADLOCK_WALK_EDGES_MAX` steps (a lock looked at, or a waiter behind it).
    fn agents_waiting_for<'state>(&'state self, agent: &'state Signer) -> Option<BTreeSet<&'state Signer>> {
        let mut found: BTreeSet<&Signer> = BTreeSet::from([agent]);
        let mut pending = vec![agent];
        let mut steps = 0;
        while let Some(current) = pending.pop() {
            let leases = self.coordination.leases.get(current).into_iter().flat_map(|leases| leases.values());
            for name in leases.flat_map(|lease| lease.locks.iter()) {
                let record = self.coordination.locks.get(name).expect("a lease's lock is in use");
                let holds = record.holders.contains_key(current);
                // A holder is waited for by the whole queue, a waiter by those queued behind it.
                let behind = record.queue.iter().skip_while(|queued| !holds && queued.holder != *current);
                for queued in behind.skip(usize::from(!holds)) {
                    steps += 1;
                    if found.insert(&queued.holder) {
                        pending.push(&queued.holder);
                    }
                }
                steps += 1;
                if steps > limits::DEADLOCK_WALK_EDGES_MAX {
                    return None;
                }
            }
        }
        Some(found)
    }

    /// Whether `waiter` is among those the lock's holders and queue wait for, directly or through
    /// others; `limit_reached` past `DEADLOCK_WALK_EDGES_MAX` edges.
    fn awaited_from_lock_reaches(&self, waiter: &Signer, lock: &LockRecord) -> Result<bool, Rejection> {
        let mut visited: BTreeSet<&Signer> = BTreeSet::new();
        let mut pending: Vec<&Signer> =
            lock.holders.keys().chain(lock.queue.iter().map(|queued| &queued.holder)).collect();
        let mut edges = pending.len();
        while let Some(agent) = pending.pop() {
            if agent == waiter {
                return Ok(true);
            }
            if !visited.insert(agent) {
                continue;
            }
            for awaited in self.coordination.waiting.get(agent).into_iter().flatten() {
                let awaited = self.coordination.locks.get(awaited).expect("a lock waited for is in use");
                for blocker in blockers(awaited, agent) {
                    edges += 1;
                    if edges > limits::DEADLOCK_WALK_EDGES_MAX {
                        return Err(limit("deadlock_walk_edges", limits::DEADLOCK_WALK_EDGES_MAX));
                    }
                    pending.push(blocker);
                }
            }
        }
        Ok(false)
    }
}

fn forget_wait(waiting: &mut BTreeMap<Signer, BTreeSet<Name>>, holder: &Signer, lock: &Name) {
    let locks = waiting.get_mut(holder).expect("a waiter's waits are recorded");
    locks.remove(lock);
    if locks.is_empty() {
        waiting.remove(holder);
    }
}
