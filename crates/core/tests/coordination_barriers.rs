//! Barriers as commands: parties meeting and going on together, generations reused without a reset,
//! timeouts by log time, a party dying while it waits, every refusal code, and what a hostile agent
//! tries (tripping or wiping others' barriers, hoarding barriers).

mod support;

use colony_core::coordination::{BarrierBreak, Coordination};
use colony_core::{Accepted, EventKind, Name, limits};
use serde_json::{Value, json};
use support::market::command;
use support::{OutcomeExt, Simulator, SwarmBuilder};

const HEARTBEAT_TTL_MS: u64 = 60_000;

fn swarm(agents: &[&str]) -> Simulator {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(HEARTBEAT_TTL_MS).build();
    swarm.register_all(agents, "scout");
    for agent in agents {
        accepted(&mut swarm, agent, json!({"type": "lease.grant", "lease": "work", "ttl_ms": 3_600_000}));
    }
    swarm
}

fn create(barrier: &str, parties: u32, timeout_ms: u64) -> Value {
    json!({"type": "barrier.create", "barrier": barrier, "parties": parties, "timeout_ms": timeout_ms})
}

fn arrive(barrier: &str) -> Value {
    json!({"type": "barrier.arrive", "barrier": barrier, "lease": "work"})
}

#[track_caller]
fn accepted(swarm: &mut Simulator, who: &str, value: Value) -> Accepted {
    let outcome = swarm.agent(who, vec![command(value)]);
    outcome.single().clone().unwrap_or_else(|rejection| panic!("refused: {rejection}"))
}

/// Arrives and returns (generation, arrived, tripped).
#[track_caller]
fn arrival(swarm: &mut Simulator, who: &str, barrier: &str) -> (u64, u32, bool) {
    match accepted(swarm, who, arrive(barrier)) {
        Accepted::BarrierArrived { generation, arrived, tripped } => (generation, arrived, tripped),
        other => panic!("expected an arrival: {other:?}"),
    }
}

#[track_caller]
fn refused(swarm: &mut Simulator, who: &str, value: Value) -> String {
    let before: Coordination = swarm.state().coordination().clone();
    let code = swarm.agent(who, vec![command(value)]).single_code().expect("refused");
    assert_eq!(*swarm.state().coordination(), before, "a refused command changes no barrier or lease");
    code.to_owned()
}

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

fn waiting(swarm: &Simulator, barrier: &str) -> Vec<String> {
    let barrier = swarm.state().coordination().barrier(&name(barrier)).expect("the barrier exists");
    barrier.arrivals.keys().map(ToString::to_string).collect()
}

#[test]
fn five_parties_meet_and_go_on_together_then_the_next_generation_opens() {
    let agents = ["a1", "a2", "a3", "a4", "a5"];
    let mut swarm = swarm(&agents);
    accepted(&mut swarm, "a1", create("phase", 5, 60_000));
    for (index, agent) in agents[..4].iter().enumerate() {
        assert_eq!(arrival(&mut swarm, agent, "phase"), (1, index as u32 + 1, false));
    }
    assert_eq!(waiting(&swarm, "phase"), ["a1", "a2", "a3", "a4"]);
    let outcome = swarm.agent("a5", vec![command(arrive("phase"))]);
    assert_eq!(
        outcome.single().clone().unwrap(),
        Accepted::BarrierArrived { generation: 1, arrived: 5, tripped: true }
    );
    let names: Vec<&str> = outcome.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["barrier.arrived", "barrier.tripped"]);
    assert_eq!(outcome.events[1].kind, EventKind::BarrierTripped { barrier: name("phase"), generation: 1, parties: 5 });
    let barrier = swarm.state().coordination().barrier(&name("phase")).unwrap();
    assert_eq!((barrier.generation, barrier.trips, barrier.deadline_ms), (2, 1, None));
    assert!(barrier.arrivals.is_empty());

    // The next phase needs no reset: the same parties arrive again, in any order.
    for (index, agent) in agents.iter().rev().enumerate() {
        assert_eq!(arrival(&mut swarm, agent, "phase"), (2, index as u32 + 1, index == 4));
    }
    assert_eq!(swarm.state().coordination().barrier(&name("phase")).unwrap().trips, 2);
}

#[test]
fn a_generation_missing_parties_breaks_just_after_its_timeout_by_log_time() {
    let mut swarm = swarm(&["a1", "a2", "a3"]);
    accepted(&mut swarm, "a1", create("phase", 3, 10_000));
    swarm.advance_ms(5_000);
    arrival(&mut swarm, "a1", "phase");
    let first_ms = swarm.state().timestamp_ms();
    swarm.advance_ms(4_000);
    arrival(&mut swarm, "a2", "phase");
    let deadline_ms = first_ms + 10_000;
    assert_eq!(swarm.state().coordination().barrier(&name("phase")).unwrap().deadline_ms, Some(deadline_ms));
    assert!(swarm.state().next_deadline_ms().unwrap() <= deadline_ms + 1);

    let at_deadline = deadline_ms - swarm.now_ms();
    let outcome = swarm.tick_after(at_deadline);
    assert!(outcome.events.is_empty(), "the generation still waits at its deadline");
    let outcome = swarm.tick_after(1);
    assert_eq!(
        outcome.events.iter().map(|event| &event.kind).collect::<Vec<_>>(),
        [&EventKind::BarrierBroken {
            barrier: name("phase"),
            generation: 1,
            reason: BarrierBreak::TimedOut,
            arrived: 2
        }]
    );
    assert!(waiting(&swarm, "phase").is_empty());
    assert_eq!(refused(&mut swarm, "a3", arrive("phase")), "barrier_broken");

    accepted(&mut swarm, "a1", json!({"type": "barrier.reset", "barrier": "phase"}));
    assert_eq!(arrival(&mut swarm, "a3", "phase"), (2, 1, false));
}

#[test]
fn a_party_that_dies_while_it_waits_breaks_the_barrier_in_the_same_pass() {
    let mut swarm = swarm(&["a1", "a2", "a3"]);
    accepted(&mut swarm, "a1", create("phase", 3, 3_600_000));
    arrival(&mut swarm, "a1", "phase");
    arrival(&mut swarm, "a2", "phase");
    // a1 and a3 stay heard from; a2 falls silent.
    swarm.advance_ms(HEARTBEAT_TTL_MS / 2);
    accepted(&mut swarm, "a1", json!({"type": "agent.heartbeat"}));
    accepted(&mut swarm, "a3", json!({"type": "agent.heartbeat"}));
    let outcome = swarm.tick_after(HEARTBEAT_TTL_MS / 2 + 1);
    let names: Vec<&str> = outcome.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["agent.unresponsive", "lease.ended", "barrier.broken"]);
    assert_eq!(
        outcome.events[2].kind,
        EventKind::BarrierBroken {
            barrier: name("phase"),
            generation: 1,
            reason: BarrierBreak::PartyLeaseEnded,
            arrived: 2,
        }
    );
    let lease = swarm.state().coordination().lease(&Simulator::signer("a1"), &name("work")).unwrap();
    assert!(lease.barriers.is_empty(), "a survivor's lease no longer names the broken barrier");

    // A revoked lease is a party leaving too.
    accepted(&mut swarm, "a1", json!({"type": "barrier.reset", "barrier": "phase"}));
    arrival(&mut swarm, "a3", "phase");
    let outcome = swarm.agent("a3", vec![command(json!({"type": "lease.revoke", "lease": "work"}))]);
    assert!(outcome.events.iter().any(|event| matches!(
        event.kind,
        EventKind::BarrierBroken { reason: BarrierBreak::PartyLeaseEnded, generation: 2, .. }
    )));
}

#[test]
fn every_refusal_has_its_code_and_changes_nothing() {
    let mut swarm = swarm(&["a1", "a2", "a3", "outsider"]);
    assert_eq!(refused(&mut swarm, "a1", create("phase", 1, 60_000)), "invalid_field");
    assert_eq!(refused(&mut swarm, "a1", create("phase", limits::BARRIER_PARTIES_MAX + 1, 60_000)), "invalid_field");
    assert_eq!(refused(&mut swarm, "a1", create("phase", 2, limits::BARRIER_TIMEOUT_MIN_MS - 1)), "invalid_field");
    assert_eq!(refused(&mut swarm, "a1", create("phase", 2, limits::BARRIER_TIMEOUT_MAX_MS + 1)), "invalid_field");
    let members = |members: Value, parties: u32| {
        json!({"type": "barrier.create", "barrier": "team", "parties": parties, "timeout_ms": 60_000,
               "members": members})
    };
    assert_eq!(refused(&mut swarm, "a1", members(json!(["a1", "a1", "a2"]), 2)), "invalid_field");
    assert_eq!(refused(&mut swarm, "a1", members(json!(["a1", "a2"]), 3)), "invalid_field");
    assert_eq!(refused(&mut swarm, "a1", members(json!(["a1", "ghost"]), 2)), "agent_not_found");
    assert_eq!(refused(&mut swarm, "a1", arrive("phase")), "barrier_not_found");

    accepted(&mut swarm, "a1", create("phase", 3, 10_000));
    accepted(&mut swarm, "a1", members(json!(["a1", "a2", "a3"]), 3));
    assert_eq!(refused(&mut swarm, "a2", create("phase", 2, 60_000)), "barrier_exists");
    assert_eq!(refused(&mut swarm, "outsider", arrive("team")), "not_barrier_member");
    assert_eq!(
        refused(&mut swarm, "a1", json!({"type": "barrier.arrive", "barrier": "phase", "lease": "other"})),
        "lease_not_found"
    );
    arrival(&mut swarm, "a1", "phase");
    assert_eq!(refused(&mut swarm, "a1", arrive("phase")), "barrier_already_arrived");
    assert_eq!(refused(&mut swarm, "a2", json!({"type": "barrier.reset", "barrier": "phase"})), "not_barrier_creator");
    assert_eq!(refused(&mut swarm, "a2", json!({"type": "barrier.remove", "barrier": "phase"})), "not_barrier_creator");
    assert_eq!(refused(&mut swarm, "a2", json!({"type": "barrier.reset", "barrier": "nothing"})), "barrier_not_found");
    swarm.tick_after(10_001);
    assert_eq!(refused(&mut swarm, "a2", arrive("phase")), "barrier_broken");
}

#[test]
fn a_hostile_agent_cannot_trip_wipe_or_hoard_barriers() {
    let mut swarm = swarm(&["a1", "a2", "hostile"]);
    let team = json!({"type": "barrier.create", "barrier": "team", "parties": 2, "timeout_ms": 60_000,
                      "members": ["a1", "a2"]});
    accepted(&mut swarm, "a1", team);
    arrival(&mut swarm, "a1", "team");
    // Neither arriving in a member's place nor wiping the waiting party works.
    assert_eq!(refused(&mut swarm, "hostile", arrive("team")), "not_barrier_member");
    assert_eq!(
        refused(&mut swarm, "hostile", json!({"type": "barrier.reset", "barrier": "team"})),
        "not_barrier_creator"
    );
    assert_eq!(
        refused(&mut swarm, "hostile", json!({"type": "barrier.remove", "barrier": "team"})),
        "not_barrier_creator"
    );
    assert_eq!(arrival(&mut swarm, "a2", "team"), (1, 2, true));

    // Barriers per creator are bounded; removing one frees its place.
    for index in 0..limits::BARRIERS_PER_CREATOR_MAX {
        accepted(&mut swarm, "hostile", create(&format!("hoard-{index}"), 2, 60_000));
    }
    assert_eq!(refused(&mut swarm, "hostile", create("one-more", 2, 60_000)), "limit_reached");
    accepted(&mut swarm, "hostile", json!({"type": "barrier.remove", "barrier": "hoard-0"}));
    accepted(&mut swarm, "hostile", create("one-more", 2, 60_000));

    // Arrivals per lease are bounded, so one lease's end breaks a bounded number of barriers.
    for index in 0..limits::BARRIER_ARRIVALS_PER_LEASE_MAX {
        arrival(&mut swarm, "hostile", &format!("hoard-{}", index + 1));
    }
    assert_eq!(refused(&mut swarm, "hostile", arrive("one-more")), "limit_reached");
}

#[test]
fn a_crowd_of_sybils_fills_the_barriers_only_up_to_the_global_bound() {
    let sybils = limits::BARRIERS_MAX / limits::BARRIERS_PER_CREATOR_MAX;
    let names: Vec<String> = (0..=sybils).map(|index| format!("sybil-{index}")).collect();
    let mut swarm = swarm(&names.iter().map(String::as_str).collect::<Vec<_>>());
    for (index, sybil) in names[..sybils].iter().enumerate() {
        let creates =
            (0..limits::BARRIERS_PER_CREATOR_MAX).map(|slot| command(create(&format!("b-{index}-{slot}"), 2, 60_000)));
        assert!(swarm.agent(sybil, creates.collect()).all_accepted(), "{sybil}'s barriers fit");
    }
    assert_eq!(swarm.state().coordination().barriers_after(None, usize::MAX).len(), limits::BARRIERS_MAX);
    // One more agent, under its own quota, still finds no room: the bound is the state's, and a
    // refusal changes nothing.
    assert_eq!(refused(&mut swarm, &names[sybils], create("honest", 2, 60_000)), "limit_reached");
    // The operator removes a squatter's barrier, and the place is free again.
    let remove = json!({"type": "barrier.remove", "barrier": "b-0-0"});
    swarm.operator(vec![command(remove)]).single().clone().expect("the operator removes any barrier");
    accepted(&mut swarm, &names[sybils], create("honest", 2, 60_000));
}

#[test]
fn the_operator_resets_and_removes_any_barrier_and_waiters_are_told() {
    let mut swarm = swarm(&["a1", "a2", "a3"]);
    accepted(&mut swarm, "a1", create("phase", 3, 60_000));
    arrival(&mut swarm, "a2", "phase");
    let outcome = swarm.operator(vec![command(json!({"type": "barrier.reset", "barrier": "phase"}))]);
    outcome.single().clone().expect("the operator resets any barrier");
    assert_eq!(
        outcome.events.iter().map(|event| &event.kind).collect::<Vec<_>>(),
        [
            &EventKind::BarrierBroken {
                barrier: name("phase"),
                generation: 1,
                reason: BarrierBreak::Reset,
                arrived: 1
            },
            &EventKind::BarrierReset { barrier: name("phase"), generation: 2 },
        ]
    );
    arrival(&mut swarm, "a3", "phase");
    let outcome = swarm.operator(vec![command(json!({"type": "barrier.remove", "barrier": "phase"}))]);
    let names: Vec<&str> = outcome.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["barrier.broken", "barrier.removed"]);
    assert!(swarm.state().coordination().barrier(&name("phase")).is_none());
    let lease = swarm.state().coordination().lease(&Simulator::signer("a3"), &name("work")).unwrap();
    assert!(lease.barriers.is_empty());
    // The creator's place is free again.
    accepted(&mut swarm, "a1", create("phase", 3, 60_000));
}
