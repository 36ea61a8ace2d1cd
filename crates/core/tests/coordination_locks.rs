//! Leases and locks as commands: handover at a lease's end by log time, a silent holder's locks
//! handed over in the same pass, FIFO grants, deadlocks refused, every refusal code, and what a
//! hostile agent tries (others' leases and locks, floods, thousands of leases).

mod support;

use colony_core::coordination::Coordination;
use colony_core::{Accepted, EventKind, Name, Signer, limits};
use serde_json::{Value, json};
use support::market::command;
use support::{OutcomeExt, Simulator, SwarmBuilder};

const HEARTBEAT_TTL_MS: u64 = 60_000;

fn swarm(agents: &[&str]) -> Simulator {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(HEARTBEAT_TTL_MS).build();
    swarm.register_all(agents, "scout");
    swarm
}

fn grant(lease: &str, ttl_ms: u64) -> Value {
    json!({"type": "lease.grant", "lease": lease, "ttl_ms": ttl_ms})
}

fn acquire(lock: &str, mode: &str, lease: &str, wait: bool) -> Value {
    json!({"type": "lock.acquire", "lock": lock, "mode": mode, "lease": lease, "wait": wait})
}

fn release(lock: &str) -> Value {
    json!({"type": "lock.release", "lock": lock})
}

#[track_caller]
fn accepted(swarm: &mut Simulator, who: &str, value: Value) -> Accepted {
    let outcome = swarm.agent(who, vec![command(value)]);
    outcome.single().clone().unwrap_or_else(|rejection| panic!("refused: {rejection}"))
}

#[track_caller]
fn token(swarm: &mut Simulator, who: &str, value: Value) -> u64 {
    match accepted(swarm, who, value) {
        Accepted::LockGranted { fencing_token } => fencing_token,
        other => panic!("expected a grant: {other:?}"),
    }
}

#[track_caller]
fn queued(swarm: &mut Simulator, who: &str, value: Value) -> u32 {
    match accepted(swarm, who, value) {
        Accepted::LockQueued { position } => position,
        other => panic!("expected a queue place: {other:?}"),
    }
}

#[track_caller]
fn refused(swarm: &mut Simulator, who: &str, value: Value) -> String {
    let before: Coordination = swarm.state().coordination().clone();
    let code = swarm.agent(who, vec![command(value)]).single_code().expect("refused");
    assert_eq!(*swarm.state().coordination(), before, "a refused command changes no lease or lock");
    code.to_owned()
}

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

fn holders(swarm: &Simulator, lock: &str) -> Vec<(String, u64)> {
    swarm.state().coordination().lock(&name(lock)).map_or_else(Vec::new, |lock| {
        lock.holders.iter().map(|(holder, hold)| (holder.to_string(), hold.fencing_token)).collect()
    })
}

fn heartbeat(swarm: &mut Simulator, who: &str) {
    accepted(swarm, who, json!({"type": "agent.heartbeat"}));
}

#[test]
fn a_lock_is_handed_over_at_exactly_its_lease_end_by_log_time() {
    let mut swarm = swarm(&["alice", "bob"]);
    accepted(&mut swarm, "alice", grant("work", 10_000));
    accepted(&mut swarm, "bob", grant("work", 50_000));
    let first = token(&mut swarm, "alice", acquire("export", "exclusive", "work", false));
    assert_eq!(queued(&mut swarm, "bob", acquire("export", "exclusive", "work", true)), 1);
    let lease = swarm.state().coordination().lease(&Simulator::signer("alice"), &name("work")).unwrap();
    let deadline_ms = lease.expires_at_ms;
    assert_eq!(deadline_ms, lease.granted_at_ms + 10_000);
    assert_eq!(swarm.state().next_deadline_ms(), Some(deadline_ms + 1), "a tick is due just after the deadline");

    let at_deadline = deadline_ms - swarm.now_ms();
    swarm.tick_after(at_deadline);
    assert_eq!(holders(&swarm, "export"), vec![("alice".to_owned(), first)], "alive through its last millisecond");

    let outcome = swarm.tick_after(1);
    let names: Vec<&str> = outcome.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["lease.ended", "lock.released", "lock.granted"]);
    assert!(outcome.events.iter().all(|event| event.timestamp_ms == deadline_ms + 1));
    let handed = holders(&swarm, "export");
    assert_eq!(handed.len(), 1);
    assert_eq!(handed[0].0, "bob");
    assert!(handed[0].1 > first, "the new holder's fencing token is above the old one's");
    assert!(matches!(
        outcome.events[2].kind,
        EventKind::LockGranted { waited: true, fencing_token, .. } if fencing_token == handed[0].1
    ));
}

#[test]
fn keep_alive_extends_to_now_plus_the_ttl_and_revoke_hands_over() {
    let mut swarm = swarm(&["alice", "bob"]);
    accepted(&mut swarm, "alice", grant("work", 10_000));
    accepted(&mut swarm, "bob", grant("work", 10_000));
    swarm.advance_ms(6_000);
    let now_ms = swarm.now_ms();
    assert_eq!(
        accepted(&mut swarm, "alice", json!({"type": "lease.keep_alive", "lease": "work"})),
        Accepted::Lease { expires_at_ms: now_ms + 10_000 }
    );
    swarm.tick_after(6_000);
    assert!(swarm.state().coordination().lease(&Simulator::signer("alice"), &name("work")).is_some());
    assert!(swarm.state().coordination().lease(&Simulator::signer("bob"), &name("work")).is_none(), "not kept alive");

    accepted(&mut swarm, "bob", grant("work", 10_000));
    token(&mut swarm, "alice", acquire("export", "exclusive", "work", false));
    queued(&mut swarm, "bob", acquire("export", "exclusive", "work", true));
    accepted(&mut swarm, "alice", json!({"type": "lease.revoke", "lease": "work"}));
    assert_eq!(holders(&swarm, "export")[0].0, "bob");
}

#[test]
fn a_silent_holder_loses_its_leases_and_its_locks_go_to_the_queue_in_the_same_pass() {
    let mut swarm = swarm(&["alice", "bob"]);
    accepted(&mut swarm, "alice", grant("work", limits::LEASE_TTL_MAX_MS));
    accepted(&mut swarm, "bob", grant("work", limits::LEASE_TTL_MAX_MS));
    token(&mut swarm, "alice", acquire("export", "exclusive", "work", false));
    queued(&mut swarm, "bob", acquire("export", "shared", "work", true));
    swarm.advance_ms(HEARTBEAT_TTL_MS / 2);
    heartbeat(&mut swarm, "bob");
    let outcome = swarm.tick_after(HEARTBEAT_TTL_MS / 2 + 1);
    let names: Vec<&str> = outcome.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["agent.unresponsive", "lease.ended", "lock.released", "lock.granted"]);
    assert!(matches!(
        &outcome.events[1].kind,
        EventKind::LeaseEnded { reason: colony_core::coordination::LeaseEnd::HolderSilent, .. }
    ));
    assert_eq!(holders(&swarm, "export")[0].0, "bob");
    assert_eq!(refused(&mut swarm, "alice", grant("again", 5_000)), "holder_unresponsive");
    heartbeat(&mut swarm, "alice");
    accepted(&mut swarm, "alice", grant("again", 5_000));
}

#[test]
fn deregistration_ends_the_agents_leases() {
    let mut swarm = swarm(&["alice", "bob"]);
    accepted(&mut swarm, "alice", grant("work", 10_000));
    accepted(&mut swarm, "bob", grant("work", 10_000));
    token(&mut swarm, "alice", acquire("export", "exclusive", "work", false));
    queued(&mut swarm, "bob", acquire("export", "exclusive", "work", true));
    accepted(&mut swarm, "alice", json!({"type": "agent.deregister", "agent": "alice"}));
    assert_eq!(swarm.state().coordination().leases_held_by(&Simulator::signer("alice")), 0);
    assert_eq!(holders(&swarm, "export")[0].0, "bob");
}

#[test]
fn waiters_are_granted_first_come_first_served_and_an_exclusive_waiter_is_not_starved() {
    let mut swarm = swarm(&["a", "b", "c", "d", "e"]);
    for agent in ["a", "b", "c", "d", "e"] {
        accepted(&mut swarm, agent, grant("work", 100_000));
    }
    token(&mut swarm, "a", acquire("table", "shared", "work", false));
    token(&mut swarm, "b", acquire("table", "shared", "work", false));
    assert_eq!(queued(&mut swarm, "c", acquire("table", "exclusive", "work", true)), 1);
    // Compatible with the shared holders, but queued behind the exclusive waiter.
    assert_eq!(queued(&mut swarm, "d", acquire("table", "shared", "work", true)), 2);
    assert_eq!(refused(&mut swarm, "e", acquire("table", "shared", "work", false)), "lock_held");
    assert_eq!(queued(&mut swarm, "e", acquire("table", "shared", "work", true)), 3);
    accepted(&mut swarm, "a", release("table"));
    assert_eq!(holders(&swarm, "table").len(), 1, "c waits for b still");
    accepted(&mut swarm, "b", release("table"));
    assert_eq!(holders(&swarm, "table").iter().map(|(holder, _)| holder.as_str()).collect::<Vec<_>>(), ["c"]);
    accepted(&mut swarm, "c", release("table"));
    let shared = holders(&swarm, "table");
    assert_eq!(shared.iter().map(|(holder, _)| holder.as_str()).collect::<Vec<_>>(), ["d", "e"], "both at once");
    // d was queued first, so granted first: a lower token.
    assert!(shared[0].1 < shared[1].1);
}

#[test]
fn a_wait_closing_a_two_cycle_is_refused_as_a_deadlock() {
    let mut swarm = swarm(&["alice", "bob"]);
    for agent in ["alice", "bob"] {
        accepted(&mut swarm, agent, grant("work", 100_000));
    }
    token(&mut swarm, "alice", acquire("x", "exclusive", "work", false));
    token(&mut swarm, "bob", acquire("y", "exclusive", "work", false));
    queued(&mut swarm, "alice", acquire("y", "exclusive", "work", true));
    assert_eq!(refused(&mut swarm, "bob", acquire("x", "exclusive", "work", true)), "deadlock");
    // Without waiting there is no cycle: only the lock is held.
    assert_eq!(refused(&mut swarm, "bob", acquire("x", "exclusive", "work", false)), "lock_held");
}

#[test]
fn a_wait_closing_a_three_cycle_is_refused_as_a_deadlock_and_a_chain_is_not() {
    let mut swarm = swarm(&["a", "b", "c", "d"]);
    for agent in ["a", "b", "c", "d"] {
        accepted(&mut swarm, agent, grant("work", 100_000));
    }
    token(&mut swarm, "a", acquire("x", "exclusive", "work", false));
    token(&mut swarm, "b", acquire("y", "exclusive", "work", false));
    token(&mut swarm, "c", acquire("z", "shared", "work", false));
    queued(&mut swarm, "a", acquire("y", "exclusive", "work", true));
    queued(&mut swarm, "b", acquire("z", "exclusive", "work", true));
    // d waits for a: a chain, no cycle.
    queued(&mut swarm, "d", acquire("x", "shared", "work", true));
    assert_eq!(refused(&mut swarm, "c", acquire("x", "exclusive", "work", true)), "deadlock");
    // A cycle through a queue: c waits behind d, who waits for a, who waits for b, who waits for c.
    let before = swarm.state().coordination().clone();
    assert_eq!(refused(&mut swarm, "c", acquire("x", "shared", "work", true)), "deadlock");
    assert_eq!(*swarm.state().coordination(), before);
}

#[test]
fn fencing_tokens_keep_rising_after_a_lock_record_is_dropped() {
    let mut swarm = swarm(&["alice"]);
    accepted(&mut swarm, "alice", grant("work", 100_000));
    let first = token(&mut swarm, "alice", acquire("x", "exclusive", "work", false));
    accepted(&mut swarm, "alice", release("x"));
    assert!(swarm.state().coordination().lock(&name("x")).is_none(), "a lock nobody uses has no record");
    let second = token(&mut swarm, "alice", acquire("x", "exclusive", "work", false));
    assert!(second > first);
}

#[test]
fn every_refusal_of_leases_and_locks_changes_nothing() {
    let mut swarm = swarm(&["alice", "bob"]);
    accepted(&mut swarm, "alice", grant("work", 100_000));
    accepted(&mut swarm, "bob", grant("work", 100_000));
    assert_eq!(refused(&mut swarm, "alice", grant("work", 100_000)), "lease_exists");
    assert_eq!(refused(&mut swarm, "alice", grant("short", limits::LEASE_TTL_MIN_MS - 1)), "invalid_field");
    assert_eq!(refused(&mut swarm, "alice", grant("long", limits::LEASE_TTL_MAX_MS + 1)), "invalid_field");
    assert_eq!(refused(&mut swarm, "alice", json!({"type": "lease.keep_alive", "lease": "none"})), "lease_not_found");
    assert_eq!(refused(&mut swarm, "alice", acquire("x", "exclusive", "none", false)), "lease_not_found");
    token(&mut swarm, "alice", acquire("x", "exclusive", "work", false));
    assert_eq!(refused(&mut swarm, "alice", acquire("x", "shared", "work", true)), "lock_already_held");
    assert_eq!(refused(&mut swarm, "bob", acquire("x", "shared", "work", false)), "lock_held");
    assert_eq!(refused(&mut swarm, "bob", release("x")), "lock_not_held");
    assert_eq!(refused(&mut swarm, "bob", release("nothing")), "lock_not_held");
}

#[test]
fn a_hostile_agent_cannot_touch_anothers_lease_or_lock() {
    let mut swarm = swarm(&["alice", "mallory"]);
    accepted(&mut swarm, "alice", grant("work", 100_000));
    token(&mut swarm, "alice", acquire("x", "exclusive", "work", false));
    // Leases are named per holder: mallory's "work" is not alice's.
    assert_eq!(refused(&mut swarm, "mallory", json!({"type": "lease.keep_alive", "lease": "work"})), "lease_not_found");
    assert_eq!(
        refused(&mut swarm, "mallory", json!({"type": "lease.revoke", "lease": "work", "holder": "alice"})),
        "not_lease_holder"
    );
    assert_eq!(refused(&mut swarm, "mallory", release("x")), "lock_not_held");
    assert_eq!(refused(&mut swarm, "mallory", acquire("x", "exclusive", "work", true)), "lease_not_found");
    // The operator may revoke anyone's lease.
    let revoke = command(json!({"type": "lease.revoke", "lease": "work", "holder": "alice"}));
    assert!(swarm.operator(vec![revoke]).all_accepted());
    assert!(swarm.state().coordination().lock(&name("x")).is_none());
}

#[test]
fn floods_of_leases_and_waits_stop_at_their_limits() {
    let agents: Vec<String> = (0..=limits::LOCK_QUEUE_MAX).map(|index| format!("agent-{index}")).collect();
    let mut names: Vec<&str> = agents.iter().map(String::as_str).collect();
    names.extend(["mallory", "late"]);
    let mut swarm = swarm(&names);
    let leases: Vec<_> =
        (0..limits::LEASES_PER_HOLDER_MAX).map(|index| command(grant(&format!("l{index}"), 100_000))).collect();
    for chunk in leases.chunks(limits::COMMANDS_PER_ENVELOPE_MAX) {
        assert!(swarm.agent("mallory", chunk.to_vec()).all_accepted());
    }
    assert_eq!(refused(&mut swarm, "mallory", grant("one-more", 100_000)), "limit_reached");
    // One lease holds or waits for at most so many locks.
    let locks: Vec<_> = (0..limits::LOCKS_PER_LEASE_MAX)
        .map(|index| command(acquire(&format!("r{index}"), "exclusive", "l0", false)))
        .collect();
    assert!(swarm.agent("mallory", locks).all_accepted());
    assert_eq!(refused(&mut swarm, "mallory", acquire("r-extra", "exclusive", "l0", false)), "limit_reached");
    // One signer takes at most so many queue places, whatever its leases.
    accepted(&mut swarm, "agent-0", grant("work", 100_000));
    for index in 0..limits::LOCK_WAITS_PER_HOLDER_MAX {
        token(&mut swarm, "agent-0", acquire(&format!("q{index}"), "exclusive", "work", false));
        queued(&mut swarm, "mallory", acquire(&format!("q{index}"), "exclusive", &format!("l{}", index + 1), true));
    }
    assert_eq!(swarm.state().coordination().waits_of(&Simulator::signer("mallory")), limits::LOCK_WAITS_PER_HOLDER_MAX);
    accepted(&mut swarm, "agent-1", grant("work", 100_000));
    token(&mut swarm, "agent-1", acquire("q-extra", "exclusive", "work", false));
    assert_eq!(refused(&mut swarm, "mallory", acquire("q-extra", "exclusive", "l20", true)), "limit_reached");
    // A lock's queue is bounded whoever queues.
    for agent in &agents[1..] {
        accepted(&mut swarm, agent, grant("wait", 100_000));
    }
    for agent in &agents[2..] {
        queued(&mut swarm, agent, acquire("q-extra", "exclusive", "wait", true));
    }
    assert_eq!(swarm.state().coordination().lock(&name("q-extra")).unwrap().queue.len(), limits::LOCK_QUEUE_MAX - 1);
    let signer = Signer::Agent(colony_core::AgentId::new("agent-0").unwrap());
    assert!(swarm.state().coordination().lock(&name("q-extra")).is_some_and(|lock| !lock.involves(&signer)));
    accepted(&mut swarm, "agent-0", grant("spare", 100_000));
    queued(&mut swarm, "agent-0", acquire("q-extra", "exclusive", "spare", true));
    accepted(&mut swarm, "late", grant("work", 100_000));
    assert_eq!(refused(&mut swarm, "late", acquire("q-extra", "exclusive", "work", true)), "limit_reached");
}

/// Attack: a crowd shares a lock and waits for another that a second crowd shares, so that the walk
/// forward from the shared lock's holders passes the deadlock check's limit. An honest agent asking
/// to wait for the lock holds nothing anyone waits for, so the walk back from it answers at once, and
/// it is queued rather than refused `limit_reached`.
#[test]
fn a_crowd_on_a_lock_cannot_push_an_honest_wait_into_the_deadlock_walks_limit() {
    let crowd = limits::LOCK_QUEUE_MAX;
    let sharers: Vec<String> = (0..crowd).map(|index| format!("sharer-{index}")).collect();
    let waiters: Vec<String> = (0..crowd).map(|index| format!("waiter-{index}")).collect();
    let mut names: Vec<&str> = sharers.iter().chain(&waiters).map(String::as_str).collect();
    names.push("honest");
    let mut swarm = swarm(&names);
    swarm.in_bulk(|swarm| {
        for agent in names.iter() {
            accepted(swarm, agent, grant("work", 100_000));
        }
        for sharer in &sharers {
            token(swarm, sharer, acquire("far", "shared", "work", false));
        }
        for waiter in &waiters {
            token(swarm, waiter, acquire("hub", "shared", "work", false));
            queued(swarm, waiter, acquire("far", "exclusive", "work", true));
        }
    });
    // The forward walk from the hub's holders: each of them waits behind the others for `far`, held
    // by the sharers, well past the limit.
    let forward_edges = crowd + (0..crowd).map(|ahead| crowd + ahead).sum::<usize>();
    assert!(forward_edges > limits::DEADLOCK_WALK_EDGES_MAX, "the crowd is large enough: {forward_edges}");
    assert_eq!(queued(&mut swarm, "honest", acquire("hub", "exclusive", "work", true)), 1);
}

/// When the walk back from the waiter runs out (agents holding a thousand locks each queue behind
/// its lock), the walk forward from the awaited lock still finds the cycle the wait would close.
#[test]
fn a_deadlock_is_found_forward_when_the_walk_back_runs_out() {
    let heavy: Vec<String> = (0..5).map(|index| format!("heavy-{index}")).collect();
    let mut names: Vec<&str> = heavy.iter().map(String::as_str).collect();
    names.extend(["honest", "bystander"]);
    let mut swarm = swarm(&names);
    accepted(&mut swarm, "honest", grant("work", 100_000));
    accepted(&mut swarm, "bystander", grant("work", 100_000));
    token(&mut swarm, "bystander", acquire("free", "exclusive", "work", false));
    token(&mut swarm, "honest", acquire("h", "exclusive", "work", false));
    swarm.in_bulk(|swarm| {
        for agent in &heavy {
            let leases: Vec<_> =
                (0..limits::LEASES_PER_HOLDER_MAX).map(|index| command(grant(&format!("l{index}"), 100_000))).collect();
            for chunk in leases.chunks(limits::COMMANDS_PER_ENVELOPE_MAX) {
                assert!(swarm.agent(agent, chunk.to_vec()).all_accepted());
            }
            // Fifteen locks on every lease, the last lease's sixteenth place kept for the wait on `h`.
            let holds: Vec<_> = (0..limits::LEASES_PER_HOLDER_MAX)
                .flat_map(|lease| {
                    (0..limits::LOCKS_PER_LEASE_MAX - 1).map(move |index| (lease, format!("{agent}-{lease}-{index}")))
                })
                .map(|(lease, lock)| command(acquire(&lock, "exclusive", &format!("l{lease}"), false)))
                .collect();
            for chunk in holds.chunks(limits::COMMANDS_PER_ENVELOPE_MAX) {
                assert!(swarm.agent(agent, chunk.to_vec()).all_accepted());
            }
            queued(swarm, agent, acquire("h", "exclusive", "l0", true));
        }
    });
    // heavy-0 holds `heavy-0-0-0` and waits for `h`, which honest holds: honest waiting for it closes
    // a cycle, although the walk back from honest passes through thousands of locks.
    assert_eq!(refused(&mut swarm, "honest", acquire("heavy-0-0-0", "exclusive", "work", true)), "deadlock");
    // A lock whose holder waits for nobody is waited for, the forward walk answering.
    queued(&mut swarm, "honest", acquire("free", "exclusive", "work", true));
}

/// Attack: a crowd of agents each holding every lease it may falls silent at once. Their leases end
/// over several entries, at most `LEASE_EXPIRIES_PER_ENTRY_MAX` in each, and no
/// entry has a silent agent still holding a lease (the simulator checks the invariants after each).
#[test]
fn a_crowd_falling_silent_together_ends_its_leases_over_several_entries() {
    let crowd: Vec<String> = (0..40).map(|index| format!("crowd-{index}")).collect();
    let names: Vec<&str> = crowd.iter().map(String::as_str).collect();
    let mut swarm = swarm(&names);
    swarm.in_bulk(|swarm| {
        for agent in &crowd {
            let leases: Vec<_> = (0..limits::LEASES_PER_HOLDER_MAX)
                .map(|index| command(grant(&format!("l{index}"), limits::LEASE_TTL_MAX_MS)))
                .collect();
            for chunk in leases.chunks(limits::COMMANDS_PER_ENVELOPE_MAX) {
                assert!(swarm.agent(agent, chunk.to_vec()).all_accepted());
            }
        }
    });
    let total = crowd.len() * limits::LEASES_PER_HOLDER_MAX;
    assert_eq!(swarm.state().coordination().lease_count(), total);
    let mut entries = 0;
    let mut silent = 0;
    swarm.advance_ms(HEARTBEAT_TTL_MS + 1);
    while swarm.state().coordination().lease_count() > 0 {
        let outcome = swarm.tick();
        let ended = outcome.events.iter().filter(|event| event.kind.name() == "lease.ended").count();
        silent += outcome.events.iter().filter(|event| event.kind.name() == "agent.unresponsive").count();
        assert!(ended <= limits::LEASE_EXPIRIES_PER_ENTRY_MAX, "{ended} leases ended in one entry");
        assert!(ended > 0, "every entry makes progress");
        entries += 1;
    }
    // Whole agents per entry: as many as their leases fit in the budget.
    let agents_per_entry = limits::LEASE_EXPIRIES_PER_ENTRY_MAX / limits::LEASES_PER_HOLDER_MAX;
    assert_eq!((silent, entries), (crowd.len(), crowd.len().div_ceil(agents_per_entry)));
}
