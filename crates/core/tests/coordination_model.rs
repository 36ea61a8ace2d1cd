//! Leases, locks, semaphores and elections against a plain reference model: random grants,
//! keep-alives, revocations, acquires of locks and semaphores, campaigns, releases and resignations,
//! heartbeats and silences, with time passing, all on the same few names so that kinds collide.
//! After every entry the state's holders and queues equal the model's; no exclusive holder is ever
//! beside another holder and no semaphore has more holders than permits; every holder's lease is
//! alive and its agent heard from; each name's fencing tokens (an election's terms) strictly
//! increase over its whole life; and waiters are granted in the order they queued.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use colony_core::coordination::LockKind;
use colony_core::{Accepted, EventKind, LockMode, Signer};
use proptest::prelude::*;
use serde_json::json;
use support::market::command;
use support::{Simulator, SwarmBuilder};

const AGENTS: [&str; 4] = ["a", "b", "c", "d"];
const LEASES: [&str; 2] = ["l0", "l1"];
const LOCKS: [&str; 3] = ["x", "y", "z"];

#[derive(Clone, Debug)]
enum Step {
    Grant { agent: usize, lease: usize, ttl_ms: u64 },
    KeepAlive { agent: usize, lease: usize },
    Revoke { agent: usize, lease: usize },
    Acquire { agent: usize, lock: usize, lease: usize, exclusive: bool, wait: bool },
    Release { agent: usize, lock: usize },
    AcquireSemaphore { agent: usize, lock: usize, lease: usize, permits: u32, wait: bool },
    ReleaseSemaphore { agent: usize, lock: usize },
    Campaign { agent: usize, lock: usize, lease: usize },
    Resign { agent: usize, lock: usize },
    Heartbeat { agent: usize },
    Advance { ms: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    let agent = 0..AGENTS.len();
    let lease = 0..LEASES.len();
    prop_oneof![
        4 => (agent.clone(), lease.clone(), 1_000u64..40_000).prop_map(|(agent, lease, ttl_ms)| Step::Grant { agent, lease, ttl_ms }),
        1 => (agent.clone(), lease.clone()).prop_map(|(agent, lease)| Step::KeepAlive { agent, lease }),
        1 => (agent.clone(), lease.clone()).prop_map(|(agent, lease)| Step::Revoke { agent, lease }),
        4 => (agent.clone(), 0..LOCKS.len(), lease.clone(), any::<bool>(), any::<bool>())
            .prop_map(|(agent, lock, lease, exclusive, wait)| Step::Acquire { agent, lock, lease, exclusive, wait }),
        2 => (agent.clone(), 0..LOCKS.len()).prop_map(|(agent, lock)| Step::Release { agent, lock }),
        3 => (agent.clone(), 0..LOCKS.len(), lease.clone(), 1u32..=3, any::<bool>())
            .prop_map(|(agent, lock, lease, permits, wait)| Step::AcquireSemaphore { agent, lock, lease, permits, wait }),
        1 => (agent.clone(), 0..LOCKS.len()).prop_map(|(agent, lock)| Step::ReleaseSemaphore { agent, lock }),
        3 => (agent.clone(), 0..LOCKS.len(), lease).prop_map(|(agent, lock, lease)| Step::Campaign { agent, lock, lease }),
        1 => (agent.clone(), 0..LOCKS.len()).prop_map(|(agent, lock)| Step::Resign { agent, lock }),
        2 => agent.prop_map(|agent| Step::Heartbeat { agent }),
        2 => (1u64..8_000).prop_map(|ms| Step::Advance { ms }),
    ]
}

/// The model's verdict on a command: done, or refused with this code.
type Outcome = Result<(), &'static str>;

/// What a name is used as while someone holds or awaits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Lock,
    Semaphore(u32),
    Election,
}

/// The model: who is heard from until when, leases' last alive times, and each name's kind, holders
/// and queue.
#[derive(Default)]
struct Model {
    heard_until_ms: BTreeMap<usize, u64>,
    leases: BTreeMap<(usize, usize), (u64, u64)>,
    kinds: BTreeMap<usize, Kind>,
    holders: BTreeMap<usize, BTreeMap<usize, (usize, bool)>>,
    queues: BTreeMap<usize, Vec<(usize, usize, bool)>>,
}

impl Model {
    fn compatible(&self, lock: usize, exclusive: bool) -> bool {
        let holders = self.holders.get(&lock);
        let count = holders.map_or(0, BTreeMap::len);
        if let Some(Kind::Semaphore(permits)) = self.kinds.get(&lock) {
            return count < *permits as usize;
        }
        if exclusive { count == 0 } else { holders.is_none_or(|holders| holders.values().all(|(_, held)| !held)) }
    }

    /// Forgets the kind of a name nobody holds or awaits any more.
    fn tidy(&mut self, lock: usize) {
        let held = self.holders.get(&lock).is_some_and(|holders| !holders.is_empty());
        let queued = self.queues.get(&lock).is_some_and(|queue| !queue.is_empty());
        if !held && !queued {
            self.kinds.remove(&lock);
        }
    }

    /// A lock's acquire, a semaphore's (always shared) or a campaign (always exclusive, always waits).
    fn acquire(&mut self, agent: usize, lock: usize, lease: usize, kind: Kind, exclusive: bool, wait: bool) -> Outcome {
        self.leases.get(&(agent, lease)).ok_or("lease_not_found")?;
        if self.kinds.get(&lock).is_some_and(|used| *used != kind) {
            return Err("lock_kind_mismatch");
        }
        if self.involves(lock, agent) {
            return Err("lock_already_held");
        }
        self.kinds.insert(lock, kind);
        let queue_empty = self.queues.get(&lock).is_none_or(Vec::is_empty);
        if queue_empty && self.compatible(lock, exclusive) {
            self.holders.entry(lock).or_default().insert(agent, (lease, exclusive));
        } else if !wait {
            self.tidy(lock);
            return Err("lock_held");
        } else if self.closes_cycle(agent, lock) {
            self.tidy(lock);
            return Err("deadlock");
        } else {
            self.queues.entry(lock).or_default().push((agent, lease, exclusive));
        }
        Ok(())
    }

    /// A release, a semaphore's release or a resignation: `kind` as the command expects it.
    fn release(&mut self, agent: usize, lock: usize, expects: fn(Kind) -> bool) -> Outcome {
        if self.kinds.get(&lock).is_some_and(|used| !expects(*used)) {
            return Err("lock_kind_mismatch");
        }
        if !self.involves(lock, agent) {
            return Err("lock_not_held");
        }
        self.holders.entry(lock).or_default().remove(&agent);
        self.queues.entry(lock).or_default().retain(|queued| queued.0 != agent);
        self.hand_over(lock);
        Ok(())
    }

    fn hand_over(&mut self, lock: usize) {
        while let Some(&(agent, lease, exclusive)) = self.queues.get(&lock).and_then(|queue| queue.first()) {
            if !self.compatible(lock, exclusive) {
                break;
            }
            self.queues.get_mut(&lock).unwrap().remove(0);
            self.holders.entry(lock).or_default().insert(agent, (lease, exclusive));
        }
        self.tidy(lock);
    }

    fn end_lease(&mut self, agent: usize, lease: usize) {
        self.leases.remove(&(agent, lease));
        for lock in 0..LOCKS.len() {
            let held = self.holders.get(&lock).and_then(|holders| holders.get(&agent)).is_some_and(|h| h.0 == lease);
            if held {
                self.holders.get_mut(&lock).unwrap().remove(&agent);
            }
            if let Some(queue) = self.queues.get_mut(&lock) {
                queue.retain(|&(waiter, waited, _)| !(waiter == agent && waited == lease));
            }
            self.hand_over(lock);
        }
    }

    /// The time-driven pass: silent agents first, then leases past their last alive time.
    fn pass(&mut self, now_ms: u64) {
        let silent: Vec<usize> =
            self.heard_until_ms.iter().filter(|(_, until)| **until < now_ms).map(|(a, _)| *a).collect();
        for agent in silent {
            self.heard_until_ms.remove(&agent);
            for lease in 0..LEASES.len() {
                if self.leases.contains_key(&(agent, lease)) {
                    self.end_lease(agent, lease);
                }
            }
        }
        let expired: Vec<(usize, usize)> =
            self.leases.iter().filter(|(_, (until, _))| *until < now_ms).map(|(key, _)| *key).collect();
        for (agent, lease) in expired {
            self.end_lease(agent, lease);
        }
    }

    fn involves(&self, lock: usize, agent: usize) -> bool {
        self.holders.get(&lock).is_some_and(|holders| holders.contains_key(&agent))
            || self.queues.get(&lock).is_some_and(|queue| queue.iter().any(|waiter| waiter.0 == agent))
    }

    /// Whether `agent` waiting on `lock` closes a cycle: an unbounded search of who waits for whom.
    fn closes_cycle(&self, agent: usize, lock: usize) -> bool {
        let blockers = |waiter: usize, lock: usize| -> Vec<usize> {
            let mut found: Vec<usize> = self.holders.get(&lock).into_iter().flat_map(|h| h.keys().copied()).collect();
            let queue = self.queues.get(&lock).cloned().unwrap_or_default();
            found.extend(queue.iter().take_while(|queued| queued.0 != waiter).map(|queued| queued.0));
            found
        };
        let mut pending = blockers(agent, lock);
        let mut seen = BTreeSet::new();
        while let Some(next) = pending.pop() {
            if next == agent {
                return true;
            }
            if seen.insert(next) {
                for (awaited, queue) in &self.queues {
                    if queue.iter().any(|queued| queued.0 == next) {
                        pending.extend(blockers(next, *awaited));
                    }
                }
            }
        }
        false
    }

    /// What the command does to the model: `Ok` and the change, or the refusal's code.
    fn apply(&mut self, step: &Step, now_ms: u64) -> Outcome {
        match *step {
            Step::Grant { agent, lease, ttl_ms } => {
                if !self.heard_until_ms.contains_key(&agent) {
                    return Err("holder_unresponsive");
                }
                if self.leases.contains_key(&(agent, lease)) {
                    return Err("lease_exists");
                }
                self.leases.insert((agent, lease), (now_ms + ttl_ms, ttl_ms));
            }
            Step::KeepAlive { agent, lease } => {
                let (until, ttl_ms) = self.leases.get_mut(&(agent, lease)).ok_or("lease_not_found")?;
                *until = now_ms + *ttl_ms;
            }
            Step::Revoke { agent, lease } => {
                self.leases.get(&(agent, lease)).ok_or("lease_not_found")?;
                self.end_lease(agent, lease);
            }
            Step::Acquire { agent, lock, lease, exclusive, wait } => {
                return self.acquire(agent, lock, lease, Kind::Lock, exclusive, wait);
            }
            Step::AcquireSemaphore { agent, lock, lease, permits, wait } => {
                return self.acquire(agent, lock, lease, Kind::Semaphore(permits), false, wait);
            }
            Step::Campaign { agent, lock, lease } => {
                return self.acquire(agent, lock, lease, Kind::Election, true, true);
            }
            Step::Release { agent, lock } => return self.release(agent, lock, |kind| kind == Kind::Lock),
            Step::ReleaseSemaphore { agent, lock } => {
                return self.release(agent, lock, |kind| matches!(kind, Kind::Semaphore(_)));
            }
            Step::Resign { agent, lock } => return self.release(agent, lock, |kind| kind == Kind::Election),
            Step::Heartbeat { .. } | Step::Advance { .. } => {}
        }
        Ok(())
    }
}

fn command_of(step: &Step) -> Option<(usize, serde_json::Value)> {
    Some(match *step {
        Step::Grant { agent, lease, ttl_ms } => {
            (agent, json!({"type": "lease.grant", "lease": LEASES[lease], "ttl_ms": ttl_ms}))
        }
        Step::KeepAlive { agent, lease } => (agent, json!({"type": "lease.keep_alive", "lease": LEASES[lease]})),
        Step::Revoke { agent, lease } => (agent, json!({"type": "lease.revoke", "lease": LEASES[lease]})),
        Step::Acquire { agent, lock, lease, exclusive, wait } => (
            agent,
            json!({"type": "lock.acquire", "lock": LOCKS[lock], "lease": LEASES[lease],
                   "mode": if exclusive { "exclusive" } else { "shared" }, "wait": wait}),
        ),
        Step::Release { agent, lock } => (agent, json!({"type": "lock.release", "lock": LOCKS[lock]})),
        Step::AcquireSemaphore { agent, lock, lease, permits, wait } => (
            agent,
            json!({"type": "semaphore.acquire", "semaphore": LOCKS[lock], "lease": LEASES[lease],
                   "permits": permits, "wait": wait}),
        ),
        Step::ReleaseSemaphore { agent, lock } => {
            (agent, json!({"type": "semaphore.release", "semaphore": LOCKS[lock]}))
        }
        Step::Campaign { agent, lock, lease } => {
            (agent, json!({"type": "election.campaign", "election": LOCKS[lock], "lease": LEASES[lease]}))
        }
        Step::Resign { agent, lock } => (agent, json!({"type": "election.resign", "election": LOCKS[lock]})),
        Step::Heartbeat { agent } => (agent, json!({"type": "agent.heartbeat"})),
        Step::Advance { .. } => return None,
    })
}

fn agent_index(signer: &Signer) -> usize {
    AGENTS.iter().position(|agent| Some(*agent) == signer.agent().map(|id| id.as_str())).unwrap()
}

/// The state's holders and queues, in the model's terms.
type Locks = (BTreeMap<usize, BTreeMap<usize, (usize, bool)>>, BTreeMap<usize, Vec<(usize, usize, bool)>>);

fn locks_of(swarm: &Simulator) -> Locks {
    let (mut holders, mut queues) = (BTreeMap::new(), BTreeMap::new());
    let lease_index = |name: &colony_core::Name| LEASES.iter().position(|lease| *lease == name.as_str()).unwrap();
    for lock in swarm.state().coordination().locks_after(None, usize::MAX) {
        let index = LOCKS.iter().position(|name| *name == lock.name.as_str()).unwrap();
        let held: BTreeMap<_, _> = lock
            .holders
            .iter()
            .map(|(holder, hold)| (agent_index(holder), (lease_index(&hold.lease), hold.mode == LockMode::Exclusive)))
            .collect();
        if !held.is_empty() {
            holders.insert(index, held);
        }
        let queue: Vec<_> = lock
            .queue
            .iter()
            .map(|waiter| (agent_index(&waiter.holder), lease_index(&waiter.lease), waiter.mode == LockMode::Exclusive))
            .collect();
        if !queue.is_empty() {
            queues.insert(index, queue);
        }
    }
    (holders, queues)
}

fn kinds_of(swarm: &Simulator) -> BTreeMap<usize, Kind> {
    let locks = swarm.state().coordination().locks_after(None, usize::MAX);
    locks
        .into_iter()
        .map(|lock| {
            let index = LOCKS.iter().position(|name| *name == lock.name.as_str()).unwrap();
            let kind = match lock.kind {
                LockKind::Lock => Kind::Lock,
                LockKind::Semaphore { permits } => Kind::Semaphore(permits),
                LockKind::Election => Kind::Election,
            };
            (index, kind)
        })
        .collect()
}

fn model_locks(model: &Model) -> Locks {
    let holders = model.holders.iter().filter(|(_, h)| !h.is_empty()).map(|(k, v)| (*k, v.clone())).collect();
    let queues = model.queues.iter().filter(|(_, q)| !q.is_empty()).map(|(k, v)| (*k, v.clone())).collect();
    (holders, queues)
}

/// Checks the entry's events: tokens rise per lock, handovers go to the head of the queue.
fn check_events(
    events: &[colony_core::Event],
    last_tokens: &mut BTreeMap<String, u64>,
    queues: &mut BTreeMap<String, Vec<String>>,
) {
    for event in events {
        match &event.kind {
            EventKind::LockQueued { lock, holder, .. }
            | EventKind::ElectionCampaigning { election: lock, candidate: holder, .. } => {
                queues.entry(lock.to_string()).or_default().push(holder.to_string())
            }
            EventKind::LockLeftQueue { lock, holder, .. }
            | EventKind::ElectionWithdrawn { election: lock, candidate: holder, .. } => {
                queues.entry(lock.to_string()).or_default().retain(|queued| *queued != holder.to_string())
            }
            EventKind::LockGranted { lock, holder, fencing_token, waited, .. }
            | EventKind::ElectionLeader { election: lock, leader: holder, term: fencing_token, waited, .. } => {
                let last = last_tokens.insert(lock.to_string(), *fencing_token).unwrap_or(0);
                assert!(*fencing_token > last, "lock {lock}: token {fencing_token} after {last}");
                if *waited {
                    let queue = queues.entry(lock.to_string()).or_default();
                    assert_eq!(queue.first(), Some(&holder.to_string()), "lock {lock} skipped the head of its queue");
                    queue.remove(0);
                }
            }
            _ => {}
        }
    }
}

fn check_holders_alive(swarm: &Simulator) {
    let state = swarm.state();
    for lock in state.coordination().locks_after(None, usize::MAX) {
        let exclusive = lock.holders.values().any(|hold| hold.mode == LockMode::Exclusive);
        assert!(!exclusive || lock.holders.len() == 1, "an exclusive holder beside another");
        if let LockKind::Semaphore { permits } = lock.kind {
            assert!(lock.holders.len() <= permits as usize, "a semaphore with more holders than permits");
        }
        for (holder, hold) in &lock.holders {
            let lease = state.coordination().lease(holder, &hold.lease).expect("a holder's lease exists");
            assert!(lease.expires_at_ms >= state.timestamp_ms(), "a holder's lease is past its end");
            let agent = state.agent(holder.agent().unwrap()).unwrap();
            assert_eq!(agent.liveness, colony_core::Liveness::Active, "a silent agent holds a lock");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn leases_locks_semaphores_and_elections_follow_the_model(steps in prop::collection::vec(step(), 1..120)) {
        let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(30_000).build();
        swarm.register_all(&AGENTS, "scout");
        let mut model = Model::default();
        for (agent, _) in AGENTS.iter().enumerate() {
            model.heard_until_ms.insert(agent, swarm.agent_state(AGENTS[agent]).heartbeat_deadline_ms);
        }
        let (mut last_tokens, mut queues) = (BTreeMap::new(), BTreeMap::new());
        for step in &steps {
            let outcome = match (step, command_of(step)) {
                (Step::Advance { ms }, _) => swarm.tick_after(*ms),
                (_, Some((agent, value))) => swarm.agent(AGENTS[agent], vec![command(value)]),
                (_, None) => unreachable!(),
            };
            let now_ms = swarm.state().timestamp_ms();
            model.pass(now_ms);
            if let Step::Heartbeat { agent } = step {
                model.heard_until_ms.insert(*agent, now_ms + 30_000);
            }
            if !matches!(step, Step::Advance { .. } | Step::Heartbeat { .. }) {
                let expected = model.apply(step, now_ms);
                let actual = match outcome.commands.first() {
                    Some(Ok(_)) => Ok(()),
                    Some(Err(rejection)) => Err(rejection.code()),
                    None => Err(outcome.envelope.as_ref().unwrap().code()),
                };
                prop_assert_eq!(actual, expected, "step {:?}", step);
                if let Some(Ok(Accepted::LockGranted { fencing_token })) = outcome.commands.first() {
                    prop_assert_eq!(*fencing_token, swarm.state().coordination().last_fencing_token());
                }
            }
            check_events(&outcome.events, &mut last_tokens, &mut queues);
            check_holders_alive(&swarm);
            prop_assert_eq!(locks_of(&swarm), model_locks(&model));
            prop_assert_eq!(&kinds_of(&swarm), &model.kinds);
        }
    }
}
