//! Barriers against a plain reference model: random creations, arrivals, resets and removals, with
//! leases granted and revoked, heartbeats, silences and time passing. After every entry each
//! barrier's generation, waiting parties, deadline, breakage and trips equal the model's, every
//! command's result or refusal code is the model's, and every trip releases exactly its parties.

mod support;

use std::collections::BTreeMap;

use colony_core::coordination::BarrierBreak;
use colony_core::{EventKind, Signer};
use proptest::prelude::*;
use serde_json::json;
use support::market::command;
use support::{Simulator, SwarmBuilder};

const AGENTS: [&str; 4] = ["a", "b", "c", "d"];
const LEASES: [&str; 2] = ["l0", "l1"];
const BARRIERS: [&str; 2] = ["x", "y"];
const HEARTBEAT_TTL_MS: u64 = 30_000;

#[derive(Clone, Debug)]
enum Step {
    Grant { agent: usize, lease: usize, ttl_ms: u64 },
    Revoke { agent: usize, lease: usize },
    Create { agent: usize, barrier: usize, parties: u32, timeout_ms: u64, members: bool },
    Arrive { agent: usize, barrier: usize, lease: usize },
    Reset { agent: usize, barrier: usize },
    Remove { agent: usize, barrier: usize },
    Heartbeat { agent: usize },
    Advance { ms: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    let agent = 0..AGENTS.len();
    let lease = 0..LEASES.len();
    let barrier = 0..BARRIERS.len();
    prop_oneof![
        2 => (agent.clone(), lease.clone(), 1_000u64..20_000)
            .prop_map(|(agent, lease, ttl_ms)| Step::Grant { agent, lease, ttl_ms }),
        1 => (agent.clone(), lease.clone()).prop_map(|(agent, lease)| Step::Revoke { agent, lease }),
        2 => (agent.clone(), barrier.clone(), 1u32..=4, 1_000u64..15_000, proptest::bool::weighted(0.3))
            .prop_map(|(agent, barrier, parties, timeout_ms, members)| Step::Create {
                agent, barrier, parties, timeout_ms, members
            }),
        6 => (agent.clone(), barrier.clone(), lease).prop_map(|(agent, barrier, lease)| Step::Arrive { agent, barrier, lease }),
        1 => (agent.clone(), barrier.clone()).prop_map(|(agent, barrier)| Step::Reset { agent, barrier }),
        1 => (agent.clone(), barrier).prop_map(|(agent, barrier)| Step::Remove { agent, barrier }),
        2 => agent.prop_map(|agent| Step::Heartbeat { agent }),
        2 => (1u64..12_000).prop_map(|ms| Step::Advance { ms }),
    ]
}

/// A barrier as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Barrier {
    creator: usize,
    parties: u32,
    /// The first two agents when it names its members.
    members_only: bool,
    timeout_ms: u64,
    generation: u64,
    arrivals: BTreeMap<usize, usize>,
    deadline_ms: Option<u64>,
    broken: Option<BarrierBreak>,
    trips: u64,
}

/// What the model compares: per barrier, its generation, waiting parties with their leases, deadline,
/// breakage and trips.
type Seen = BTreeMap<usize, (u64, BTreeMap<usize, usize>, Option<u64>, Option<BarrierBreak>, u64)>;

#[derive(Default)]
struct Model {
    heard_until_ms: BTreeMap<usize, u64>,
    leases: BTreeMap<(usize, usize), u64>,
    barriers: BTreeMap<usize, Barrier>,
}

impl Model {
    fn break_barrier(&mut self, barrier: usize, reason: BarrierBreak) {
        let record = self.barriers.get_mut(&barrier).unwrap();
        if !record.arrivals.is_empty() {
            record.arrivals.clear();
            record.deadline_ms = None;
            record.broken = Some(reason);
        }
    }

    fn end_lease(&mut self, agent: usize, lease: usize) {
        self.leases.remove(&(agent, lease));
        let waited: Vec<usize> = self
            .barriers
            .iter()
            .filter(|(_, record)| record.arrivals.get(&agent) == Some(&lease))
            .map(|(barrier, _)| *barrier)
            .collect();
        for barrier in waited {
            self.break_barrier(barrier, BarrierBreak::PartyLeaseEnded);
        }
    }

    /// The time-driven pass: silent agents' leases, then leases past their end, then timeouts.
    fn pass(&mut self, now_ms: u64) {
        let silent: Vec<usize> =
            self.heard_until_ms.iter().filter(|(_, until)| **until < now_ms).map(|(agent, _)| *agent).collect();
        for agent in silent {
            self.heard_until_ms.remove(&agent);
            for lease in 0..LEASES.len() {
                if self.leases.contains_key(&(agent, lease)) {
                    self.end_lease(agent, lease);
                }
            }
        }
        let expired: Vec<(usize, usize)> =
            self.leases.iter().filter(|(_, until)| **until < now_ms).map(|(key, _)| *key).collect();
        for (agent, lease) in expired {
            self.end_lease(agent, lease);
        }
        let timed_out: Vec<usize> = self
            .barriers
            .iter()
            .filter(|(_, record)| record.deadline_ms.is_some_and(|deadline| deadline < now_ms))
            .map(|(barrier, _)| *barrier)
            .collect();
        for barrier in timed_out {
            self.break_barrier(barrier, BarrierBreak::TimedOut);
        }
    }

    fn apply(&mut self, step: &Step, now_ms: u64) -> Result<(), &'static str> {
        match *step {
            Step::Grant { agent, lease, ttl_ms } => {
                if !self.heard_until_ms.contains_key(&agent) {
                    return Err("holder_unresponsive");
                }
                if self.leases.contains_key(&(agent, lease)) {
                    return Err("lease_exists");
                }
                self.leases.insert((agent, lease), now_ms + ttl_ms);
            }
            Step::Revoke { agent, lease } => {
                self.leases.get(&(agent, lease)).ok_or("lease_not_found")?;
                self.end_lease(agent, lease);
            }
            Step::Create { agent, barrier, parties, timeout_ms, members } => {
                if parties < 2 || (members && parties > 2) {
                    return Err("invalid_field");
                }
                if self.barriers.contains_key(&barrier) {
                    return Err("barrier_exists");
                }
                let record = Barrier {
                    creator: agent,
                    parties,
                    members_only: members,
                    timeout_ms,
                    generation: 1,
                    arrivals: BTreeMap::new(),
                    deadline_ms: None,
                    broken: None,
                    trips: 0,
                };
                self.barriers.insert(barrier, record);
            }
            Step::Arrive { agent, barrier, lease } => {
                self.leases.get(&(agent, lease)).ok_or("lease_not_found")?;
                let record = self.barriers.get_mut(&barrier).ok_or("barrier_not_found")?;
                if record.members_only && agent >= 2 {
                    return Err("not_barrier_member");
                }
                if record.broken.is_some() {
                    return Err("barrier_broken");
                }
                if record.arrivals.contains_key(&agent) {
                    return Err("barrier_already_arrived");
                }
                record.arrivals.insert(agent, lease);
                if record.arrivals.len() == record.parties as usize {
                    record.arrivals.clear();
                    record.deadline_ms = None;
                    record.generation += 1;
                    record.trips += 1;
                } else if record.deadline_ms.is_none() {
                    record.deadline_ms = Some(now_ms + record.timeout_ms);
                }
            }
            Step::Reset { agent, barrier } | Step::Remove { agent, barrier } => {
                let record = self.barriers.get(&barrier).ok_or("barrier_not_found")?;
                if record.creator != agent {
                    return Err("not_barrier_creator");
                }
                if let Step::Reset { .. } = step {
                    self.break_barrier(barrier, BarrierBreak::Reset);
                    let record = self.barriers.get_mut(&barrier).unwrap();
                    record.broken = None;
                    record.generation += 1;
                } else {
                    self.barriers.remove(&barrier);
                }
            }
            Step::Heartbeat { .. } | Step::Advance { .. } => {}
        }
        Ok(())
    }

    fn seen(&self) -> Seen {
        let view = |record: &Barrier| {
            (record.generation, record.arrivals.clone(), record.deadline_ms, record.broken, record.trips)
        };
        self.barriers.iter().map(|(barrier, record)| (*barrier, view(record))).collect()
    }
}

fn command_of(step: &Step) -> Option<(usize, serde_json::Value)> {
    Some(match *step {
        Step::Grant { agent, lease, ttl_ms } => {
            (agent, json!({"type": "lease.grant", "lease": LEASES[lease], "ttl_ms": ttl_ms}))
        }
        Step::Revoke { agent, lease } => (agent, json!({"type": "lease.revoke", "lease": LEASES[lease]})),
        Step::Create { agent, barrier, parties, timeout_ms, members } => {
            let mut value = json!({"type": "barrier.create", "barrier": BARRIERS[barrier], "parties": parties,
                                   "timeout_ms": timeout_ms});
            if members {
                value["members"] = json!([AGENTS[0], AGENTS[1]]);
            }
            (agent, value)
        }
        Step::Arrive { agent, barrier, lease } => {
            (agent, json!({"type": "barrier.arrive", "barrier": BARRIERS[barrier], "lease": LEASES[lease]}))
        }
        Step::Reset { agent, barrier } => (agent, json!({"type": "barrier.reset", "barrier": BARRIERS[barrier]})),
        Step::Remove { agent, barrier } => (agent, json!({"type": "barrier.remove", "barrier": BARRIERS[barrier]})),
        Step::Heartbeat { agent } => (agent, json!({"type": "agent.heartbeat"})),
        Step::Advance { .. } => return None,
    })
}

fn agent_index(signer: &Signer) -> usize {
    AGENTS.iter().position(|agent| Some(*agent) == signer.agent().map(|id| id.as_str())).unwrap()
}

fn seen(swarm: &Simulator) -> Seen {
    let lease_index = |name: &colony_core::Name| LEASES.iter().position(|lease| *lease == name.as_str()).unwrap();
    swarm
        .state()
        .coordination()
        .barriers_after(None, usize::MAX)
        .into_iter()
        .map(|record| {
            let index = BARRIERS.iter().position(|name| *name == record.name.as_str()).unwrap();
            let arrivals = record
                .arrivals
                .iter()
                .map(|(party, arrival)| (agent_index(party), lease_index(&arrival.lease)))
                .collect();
            (index, (record.generation, arrivals, record.deadline_ms, record.broken, record.trips))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn barriers_follow_the_model(steps in prop::collection::vec(step(), 1..120)) {
        let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(HEARTBEAT_TTL_MS).build();
        swarm.register_all(&AGENTS, "scout");
        let mut model = Model::default();
        for (agent, _) in AGENTS.iter().enumerate() {
            model.heard_until_ms.insert(agent, swarm.agent_state(AGENTS[agent]).heartbeat_deadline_ms);
        }
        for step in &steps {
            let outcome = match (step, command_of(step)) {
                (Step::Advance { ms }, _) => swarm.tick_after(*ms),
                (_, Some((agent, value))) => swarm.agent(AGENTS[agent], vec![command(value)]),
                (_, None) => unreachable!(),
            };
            let now_ms = swarm.state().timestamp_ms();
            model.pass(now_ms);
            if let Step::Heartbeat { agent } = step {
                model.heard_until_ms.insert(*agent, now_ms + HEARTBEAT_TTL_MS);
            }
            let parties_before = |barrier: &colony_core::Name| {
                BARRIERS.iter().position(|name| *name == barrier.as_str()).and_then(|index| model.barriers.get(&index))
                    .map(|record| record.parties)
            };
            for event in &outcome.events {
                if let EventKind::BarrierTripped { barrier, parties, .. } = &event.kind {
                    prop_assert_eq!(Some(*parties), parties_before(barrier), "a trip releases exactly its parties");
                }
            }
            if !matches!(step, Step::Advance { .. } | Step::Heartbeat { .. }) {
                let expected = model.apply(step, now_ms);
                let actual = match outcome.commands.first() {
                    Some(Ok(_)) => Ok(()),
                    Some(Err(rejection)) => Err(rejection.code()),
                    None => Err(outcome.envelope.as_ref().unwrap().code()),
                };
                prop_assert_eq!(actual, expected, "step {:?}", step);
            }
            prop_assert_eq!(seen(&swarm), model.seen());
        }
    }
}
