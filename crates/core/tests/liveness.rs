//! Liveness: heartbeat deadlines, driven by entry timestamps only.

mod support;

use colony_core::limits;
use colony_core::{Accepted, Event, EventKind, Liveness, Rejection};
use support::commands::{Register, config_with_ttl, deregister, halt, heartbeat, set_config};
use support::{OutcomeExt, Simulator, SwarmBuilder, agent_id};

const TTL: u64 = 30_000;

fn unresponsive(agent: &str) -> EventKind {
    EventKind::AgentUnresponsive { agent: agent_id(agent) }
}

fn active(agent: &str) -> EventKind {
    EventKind::AgentActive { agent: agent_id(agent) }
}

#[test]
fn an_agent_becomes_unresponsive_exactly_when_log_time_passes_its_deadline() {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(TTL).build();
    let registered_at = swarm.now_ms();
    assert!(swarm.register("a", "scout").all_accepted());
    let deadline = registered_at + TTL;
    assert_eq!(swarm.agent_state("a").heartbeat_deadline_ms, deadline);
    // The driver is told to tick one millisecond after the deadline.
    assert_eq!(swarm.state().next_deadline_ms(), Some(deadline + 1));

    // At the deadline itself the agent is still alive.
    let outcome = swarm.tick_after(TTL);
    assert_eq!(swarm.now_ms(), deadline);
    assert!(outcome.events.is_empty());
    assert_eq!(swarm.agent_state("a").liveness, Liveness::Active);

    // One millisecond later it is not, and exactly one event says so, stamped with that entry.
    let outcome = swarm.tick_after(1);
    let sequence = swarm.state().sequence();
    assert_eq!(outcome.events, vec![Event { sequence, index: 0, timestamp_ms: deadline + 1, kind: unresponsive("a") }]);
    assert_eq!(swarm.agent_state("a").liveness, Liveness::Unresponsive);
    assert_eq!(swarm.agent_state("a").status(), "unresponsive");
    assert_eq!(swarm.state().next_deadline_ms(), None);

    // Later entries do not repeat the event.
    let outcome = swarm.tick_after(TTL * 10);
    assert!(outcome.events.is_empty());
}

#[test]
fn the_next_heartbeat_makes_an_unresponsive_agent_active_again() {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(TTL).build();
    assert!(swarm.register("a", "scout").all_accepted());
    swarm.tick_after(TTL + 1);
    assert_eq!(swarm.agent_state("a").liveness, Liveness::Unresponsive);

    swarm.advance_ms(5_000);
    let now = swarm.now_ms();
    let outcome = swarm.agent("a", vec![heartbeat()]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(outcome.event_kinds(), [&active("a")]);
    let a = swarm.agent_state("a");
    assert_eq!(a.liveness, Liveness::Active);
    assert_eq!((a.last_heartbeat_ms, a.heartbeat_deadline_ms), (now, now + TTL));
    assert_eq!(swarm.state().next_deadline_ms(), Some(now + TTL + 1));

    // Heartbeats of an active agent only move its deadline.
    swarm.advance_ms(TTL);
    let outcome = swarm.agent("a", vec![heartbeat()]);
    assert!(outcome.events.is_empty());
    assert_eq!(swarm.agent_state("a").heartbeat_deadline_ms, now + 2 * TTL);
}

#[test]
fn a_late_heartbeat_first_expires_then_revives_within_one_entry() {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(TTL).build();
    assert!(swarm.register("a", "scout").all_accepted());
    swarm.advance_ms(TTL + 1);
    let outcome = swarm.agent("a", vec![heartbeat()]);
    assert_eq!(outcome.event_kinds(), [&unresponsive("a"), &active("a")]);
    assert_eq!(outcome.events.iter().map(|event| event.index).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(swarm.agent_state("a").liveness, Liveness::Active);
}

#[test]
fn a_heartbeat_just_in_time_keeps_an_agent_active() {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(TTL).build();
    assert!(swarm.register("a", "scout").all_accepted());
    for _ in 0..5 {
        swarm.advance_ms(TTL);
        let outcome = swarm.agent("a", vec![heartbeat()]);
        assert!(outcome.events.is_empty(), "{:?}", outcome.events);
    }
    assert_eq!(swarm.agent_state("a").liveness, Liveness::Active);
}

#[test]
fn agents_expire_in_deadline_order_and_any_entry_moves_time() {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(TTL).build();
    assert!(swarm.register("late", "scout").all_accepted());
    swarm.advance_ms(10);
    // Registered later, but its id sorts first: the order must follow the deadlines, not the ids.
    assert!(swarm.register("early", "scout").all_accepted());
    swarm.advance_ms(10);
    assert!(swarm.register("third", "scout").all_accepted());
    swarm.advance_ms(20);
    assert!(swarm.agent("third", vec![heartbeat()]).all_accepted());

    // Now 40 ms after the first registration; the deadlines are at +0, +10 and +40 (plus the TTL).
    // Not a tick: an operator envelope that has nothing to do with liveness also carries time.
    swarm.advance_ms(TTL - 5);
    let outcome = swarm.operator(vec![]);
    assert_eq!(outcome.event_kinds(), [&unresponsive("late"), &unresponsive("early")]);
    assert_eq!(swarm.agent_state("third").liveness, Liveness::Active);
}

#[test]
fn a_halted_agent_keeps_its_liveness_and_a_deregistered_one_has_none() {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(TTL).build();
    swarm.register_all(&["halted", "silent-halted", "gone"], "scout");
    assert!(swarm.operator(vec![halt("halted", ""), halt("silent-halted", ""), deregister("gone")]).all_accepted());
    swarm.advance_ms(TTL);
    assert!(swarm.agent("halted", vec![heartbeat()]).all_accepted());
    let outcome = swarm.tick_after(1);
    assert_eq!(outcome.event_kinds(), [&unresponsive("silent-halted")]);
    assert_eq!(swarm.agent_state("halted").liveness, Liveness::Active);
    // A halt outranks unresponsiveness in the one-word status.
    assert_eq!(swarm.agent_state("silent-halted").status(), "halted");
    assert_eq!(swarm.agent_state("gone").liveness, Liveness::Active, "a tombstone keeps its last liveness");
    assert_eq!(swarm.agent_state("gone").status(), "deregistered");
    let outcome = swarm.tick_after(TTL * 100);
    assert_eq!(outcome.event_kinds(), [&unresponsive("halted")]);
}

#[test]
fn a_new_ttl_applies_from_the_next_heartbeat() {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(TTL).build();
    let registered_at = swarm.now_ms();
    swarm.register_all(&["a", "b"], "scout");
    assert!(swarm.operator(vec![set_config(config_with_ttl(5_000))]).all_accepted());
    // Deadlines already set are kept.
    assert_eq!(swarm.agent_state("a").heartbeat_deadline_ms, registered_at + TTL);

    swarm.advance_ms(1_000);
    let now = swarm.now_ms();
    assert!(swarm.agent("a", vec![heartbeat()]).all_accepted());
    assert_eq!(swarm.agent_state("a").heartbeat_deadline_ms, now + 5_000);
    assert!(swarm.register("c", "scout").all_accepted());
    assert_eq!(swarm.agent_state("c").heartbeat_deadline_ms, now + 5_000);

    let outcome = swarm.tick_after(5_001);
    assert_eq!(outcome.event_kinds(), [&unresponsive("a"), &unresponsive("c")]);
    assert_eq!(swarm.agent_state("b").liveness, Liveness::Active);
    let outcome = swarm.tick_after(TTL);
    assert_eq!(outcome.event_kinds(), [&unresponsive("b")]);
}

#[test]
fn only_agents_send_heartbeats() {
    let mut swarm = Simulator::new();
    let outcome = swarm.operator(vec![heartbeat()]);
    assert_eq!(outcome.single(), &Err(Rejection::Unauthorized { reason: "only agents send heartbeats" }));
}

#[test]
fn one_entry_expires_at_most_the_expiry_limit_and_the_next_entry_the_rest() {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(TTL).build();
    let max = limits::EXPIRIES_PER_ENTRY_MAX;
    let ids: Vec<String> = (0..=max).map(|index| format!("agent-{index:05}")).collect();
    for chunk in ids.chunks(max / 2) {
        let outcome = swarm.operator(chunk.iter().map(|id| Register::new(id, "scout").build()).collect());
        assert!(outcome.all_accepted());
    }
    let outcome = swarm.tick_after(TTL + 1);
    assert_eq!(outcome.events.len(), max);
    let straggler = &ids[max];
    assert_eq!(swarm.agent_state(straggler).liveness, Liveness::Active);
    // The driver sees a deadline already due and ticks again; that entry expires the rest.
    assert!(swarm.state().next_deadline_ms().is_some_and(|due| due <= swarm.now_ms()));
    let outcome = swarm.tick();
    assert_eq!(outcome.event_kinds(), [&EventKind::AgentUnresponsive { agent: agent_id(straggler) }]);
    assert_eq!(swarm.state().next_deadline_ms(), None);
}
