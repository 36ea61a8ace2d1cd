//! Semaphores and elections as commands: permits counted and handed over in order, a leader deposed
//! by its lease's end at exactly the deadline with the next candidate elected in the same pass, terms
//! strictly increasing even when the election is emptied and begun again, names that cannot be two
//! kinds at once, every refusal changing nothing, and what a hostile agent tries.

mod support;

use colony_core::coordination::{Coordination, LockKind};
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

fn acquire(semaphore: &str, permits: u32, wait: bool) -> Value {
    json!({"type": "semaphore.acquire", "semaphore": semaphore, "permits": permits, "lease": "work", "wait": wait})
}

fn campaign(election: &str) -> Value {
    json!({"type": "election.campaign", "election": election, "lease": "work"})
}

#[track_caller]
fn accepted(swarm: &mut Simulator, who: &str, value: Value) -> Accepted {
    let outcome = swarm.agent(who, vec![command(value)]);
    outcome.single().clone().unwrap_or_else(|rejection| panic!("refused: {rejection}"))
}

#[track_caller]
fn granted(swarm: &mut Simulator, who: &str, value: Value) -> u64 {
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
    assert_eq!(*swarm.state().coordination(), before, "a refused command changes no lease, lock or election");
    code.to_owned()
}

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

fn holders(swarm: &Simulator, lock: &str) -> Vec<String> {
    let record = swarm.state().coordination().lock(&name(lock));
    record.map_or_else(Vec::new, |lock| lock.holders.keys().map(Signer::to_string).collect())
}

fn leases_for(swarm: &mut Simulator, agents: &[&str], ttl_ms: u64) {
    for agent in agents {
        accepted(swarm, agent, grant("work", ttl_ms));
    }
}

#[test]
fn a_semaphore_admits_its_permits_and_hands_a_freed_one_to_the_first_waiter() {
    let agents = ["w1", "w2", "w3", "w4", "w5"];
    let mut swarm = swarm(&agents);
    leases_for(&mut swarm, &agents, 30_000);
    let tokens: Vec<u64> =
        agents[..3].iter().map(|agent| granted(&mut swarm, agent, acquire("gpu", 3, false))).collect();
    assert!(tokens.windows(2).all(|pair| pair[0] < pair[1]), "each permit's fencing token is above the last");
    assert_eq!(refused(&mut swarm, "w4", acquire("gpu", 3, false)), "lock_held", "three permits are taken");
    assert_eq!(queued(&mut swarm, "w4", acquire("gpu", 3, true)), 1);
    assert_eq!(queued(&mut swarm, "w5", acquire("gpu", 3, true)), 2);
    let record = swarm.state().coordination().lock(&name("gpu")).unwrap();
    assert_eq!(record.kind, LockKind::Semaphore { permits: 3 });

    let outcome = swarm.agent("w2", vec![command(json!({"type": "semaphore.release", "semaphore": "gpu"}))]);
    let names: Vec<&str> = outcome.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["lock.released", "lock.granted"], "one freed permit, one grant: the queue's head");
    assert!(matches!(
        &outcome.events[1].kind,
        EventKind::LockGranted { holder, waited: true, fencing_token, .. }
            if *holder == Simulator::signer("w4") && *fencing_token > tokens[2]
    ));
    assert_eq!(holders(&swarm, "gpu"), ["w1", "w3", "w4"]);
    assert_eq!(swarm.state().coordination().lock(&name("gpu")).unwrap().queue.len(), 1, "w5 still waits");
}

#[test]
fn a_silent_holders_permit_goes_to_the_next_waiter_in_the_same_pass() {
    let mut swarm = swarm(&["w1", "w2", "w3"]);
    leases_for(&mut swarm, &["w1", "w2", "w3"], 120_000);
    granted(&mut swarm, "w1", acquire("pool", 2, false));
    granted(&mut swarm, "w2", acquire("pool", 2, false));
    queued(&mut swarm, "w3", acquire("pool", 2, true));
    swarm.advance_ms(HEARTBEAT_TTL_MS / 2);
    for agent in ["w2", "w3"] {
        accepted(&mut swarm, agent, json!({"type": "agent.heartbeat"}));
    }
    let w1_deadline_ms = swarm.agent_state("w1").heartbeat_deadline_ms;
    let outcome = swarm.tick_after(w1_deadline_ms + 1 - swarm.now_ms());
    let names: Vec<&str> = outcome.events.iter().map(|event| event.kind.name()).collect();
    assert!(names.ends_with(&["lease.ended", "lock.released", "lock.granted"]), "{names:?}");
    assert_eq!(holders(&swarm, "pool"), ["w2", "w3"]);
}

#[test]
fn a_free_semaphore_may_be_taken_again_with_other_permits_but_a_used_one_may_not() {
    let mut swarm = swarm(&["w1", "w2"]);
    leases_for(&mut swarm, &["w1", "w2"], 30_000);
    granted(&mut swarm, "w1", acquire("pool", 2, false));
    assert_eq!(refused(&mut swarm, "w2", acquire("pool", 3, true)), "lock_kind_mismatch");
    accepted(&mut swarm, "w1", json!({"type": "semaphore.release", "semaphore": "pool"}));
    assert!(swarm.state().coordination().lock(&name("pool")).is_none(), "a free semaphore has no record");
    granted(&mut swarm, "w2", acquire("pool", 3, false));
    assert_eq!(swarm.state().coordination().lock(&name("pool")).unwrap().kind, LockKind::Semaphore { permits: 3 });
}

#[test]
fn a_name_is_one_kind_at_a_time() {
    let mut swarm = swarm(&["w1", "w2"]);
    leases_for(&mut swarm, &["w1", "w2"], 30_000);
    granted(&mut swarm, "w1", json!({"type": "lock.acquire", "lock": "x", "mode": "shared", "lease": "work"}));
    granted(&mut swarm, "w1", acquire("s", 2, false));
    granted(&mut swarm, "w1", campaign("e"));
    let lock_on = |target: &str| json!({"type": "lock.acquire", "lock": target, "mode": "shared", "lease": "work"});
    for (value, code) in [
        (acquire("x", 2, true), "lock_kind_mismatch"),
        (campaign("x"), "lock_kind_mismatch"),
        (lock_on("s"), "lock_kind_mismatch"),
        (campaign("s"), "lock_kind_mismatch"),
        (lock_on("e"), "lock_kind_mismatch"),
        (acquire("e", 2, true), "lock_kind_mismatch"),
        (json!({"type": "lock.release", "lock": "s"}), "lock_kind_mismatch"),
        (json!({"type": "semaphore.release", "semaphore": "e"}), "lock_kind_mismatch"),
        (json!({"type": "election.resign", "election": "x"}), "lock_kind_mismatch"),
        (json!({"type": "election.resign", "election": "e"}), "lock_not_held"),
        (json!({"type": "semaphore.release", "semaphore": "free"}), "lock_not_held"),
    ] {
        assert_eq!(refused(&mut swarm, "w2", value.clone()), code, "{value}");
    }
    // The holder's own mismatches are refused too, before anything else.
    assert_eq!(refused(&mut swarm, "w1", json!({"type": "lock.release", "lock": "e"})), "lock_kind_mismatch");
}

#[test]
fn permits_out_of_range_are_refused_as_invalid() {
    let mut swarm = swarm(&["w1"]);
    leases_for(&mut swarm, &["w1"], 30_000);
    assert_eq!(refused(&mut swarm, "w1", acquire("pool", 0, false)), "invalid_field");
    assert_eq!(refused(&mut swarm, "w1", acquire("pool", limits::SEMAPHORE_PERMITS_MAX + 1, false)), "invalid_field");
    granted(&mut swarm, "w1", acquire("pool", limits::SEMAPHORE_PERMITS_MAX, false));
}

#[test]
fn the_first_candidate_leads_and_the_next_is_elected_when_it_resigns() {
    let mut swarm = swarm(&["a", "b", "c"]);
    leases_for(&mut swarm, &["a", "b", "c"], 30_000);
    let outcome = swarm.agent("a", vec![command(campaign("group-1"))]);
    let first_term = match outcome.single() {
        Ok(Accepted::LockGranted { fencing_token }) => *fencing_token,
        other => panic!("expected to lead: {other:?}"),
    };
    assert!(matches!(
        &outcome.events[0].kind,
        EventKind::ElectionLeader { leader, term, waited: false, .. } if *leader == Simulator::signer("a") && *term == first_term
    ));
    let outcome = swarm.agent("b", vec![command(campaign("group-1"))]);
    assert_eq!(outcome.single(), &Ok(Accepted::LockQueued { position: 1 }));
    assert!(matches!(&outcome.events[0].kind, EventKind::ElectionCampaigning { position: 1, .. }));
    assert_eq!(queued(&mut swarm, "c", campaign("group-1")), 2);
    assert_eq!(refused(&mut swarm, "b", campaign("group-1")), "lock_already_held", "one candidacy per agent");

    let outcome = swarm.agent("a", vec![command(json!({"type": "election.resign", "election": "group-1"}))]);
    let names: Vec<&str> = outcome.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["election.term_ended", "election.leader"]);
    let EventKind::ElectionLeader { leader, term, waited, .. } = &outcome.events[1].kind else { unreachable!() };
    assert_eq!((leader, *waited), (&Simulator::signer("b"), true));
    assert!(*term > first_term, "a new term is above every earlier one");

    let outcome = swarm.agent("c", vec![command(json!({"type": "election.resign", "election": "group-1"}))]);
    let names: Vec<&str> = outcome.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["election.withdrawn"], "a candidate that resigns withdraws; the leader stays");
    assert_eq!(holders(&swarm, "group-1"), ["b"]);
}

#[test]
fn a_dead_leader_is_replaced_at_its_lease_end_by_log_time_and_terms_keep_rising() {
    let mut swarm = swarm(&["a", "b"]);
    accepted(&mut swarm, "a", grant("work", 1_000));
    accepted(&mut swarm, "b", grant("work", 30_000));
    let first_term = granted(&mut swarm, "a", campaign("leader"));
    queued(&mut swarm, "b", campaign("leader"));
    let deadline_ms = swarm.state().coordination().lease(&Simulator::signer("a"), &name("work")).unwrap().expires_at_ms;

    swarm.tick_after(deadline_ms - swarm.now_ms());
    assert_eq!(holders(&swarm, "leader"), ["a"], "a leads through its lease's last millisecond");
    let outcome = swarm.tick_after(1);
    let names: Vec<&str> = outcome.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["lease.ended", "election.term_ended", "election.leader"]);
    assert!(outcome.events.iter().all(|event| event.timestamp_ms == deadline_ms + 1), "handed over in the same pass");
    let second_term = match &outcome.events[2].kind {
        EventKind::ElectionLeader { leader, term, .. } if *leader == Simulator::signer("b") => *term,
        other => panic!("expected b to lead: {other:?}"),
    };
    assert!(second_term > first_term);

    // Emptied, the election has no record; begun again, its terms still rise.
    accepted(&mut swarm, "b", json!({"type": "election.resign", "election": "leader"}));
    assert!(swarm.state().coordination().lock(&name("leader")).is_none());
    let third_term = granted(&mut swarm, "b", campaign("leader"));
    assert!(third_term > second_term);
}

#[test]
fn a_hostile_agent_cannot_depose_a_leader_or_stand_through_anothers_lease() {
    let mut swarm = swarm(&["leader", "mallory"]);
    accepted(&mut swarm, "leader", grant("work", 30_000));
    granted(&mut swarm, "leader", campaign("group-1"));
    // Mallory has no lease named "work": leases are per holder, so the leader's is never found.
    assert_eq!(refused(&mut swarm, "mallory", campaign("group-1")), "lease_not_found");
    assert_eq!(
        refused(&mut swarm, "mallory", json!({"type": "election.resign", "election": "group-1"})),
        "lock_not_held",
        "a resignation only ever ends the signer's own term"
    );
    assert_eq!(
        refused(&mut swarm, "mallory", json!({"type": "lease.revoke", "lease": "work", "holder": "leader"})),
        "not_lease_holder",
        "only the operator revokes another's lease"
    );
    // Mallory's candidacies are bounded like any lock waits: 16 in all, over any number of leases.
    accepted(&mut swarm, "leader", grant("many", 30_000));
    for lease in ["work", "more", "most"] {
        accepted(&mut swarm, "mallory", grant(lease, 30_000));
    }
    for index in 0..limits::LOCK_WAITS_PER_HOLDER_MAX {
        let election = format!("e{index}");
        accepted(&mut swarm, "leader", json!({"type": "election.campaign", "election": election, "lease": "many"}));
        let lease = if index % 2 == 0 { "work" } else { "more" };
        queued(&mut swarm, "mallory", json!({"type": "election.campaign", "election": election, "lease": lease}));
    }
    let one_more = json!({"type": "election.campaign", "election": "group-1", "lease": "most"});
    assert_eq!(refused(&mut swarm, "mallory", one_more), "limit_reached");
    assert_eq!(holders(&swarm, "group-1"), ["leader"]);
}

/// A campaign is a wait like a lock's: a candidate queued behind a leader that waits for a lock the
/// candidate holds would close a cycle, and is refused `deadlock`, changing nothing.
#[test]
fn a_campaign_that_would_close_a_cycle_of_waits_is_refused() {
    let mut swarm = swarm(&["a1", "a2"]);
    leases_for(&mut swarm, &["a1", "a2"], 3_600_000);
    granted(&mut swarm, "a1", campaign("desk"));
    let export = json!({"type": "lock.acquire", "lock": "export", "mode": "exclusive", "lease": "work", "wait": true});
    granted(&mut swarm, "a2", export.clone());
    // a1 (the leader) waits for a2's lock; a2 standing behind a1 would wait for a1.
    assert_eq!(queued(&mut swarm, "a1", export), 1);
    assert_eq!(refused(&mut swarm, "a2", campaign("desk")), "deadlock");
    assert_eq!(holders(&swarm, "desk"), ["a1"]);
    // Once a1 stops waiting, a2 may stand.
    accepted(&mut swarm, "a1", json!({"type": "lock.release", "lock": "export"}));
    assert_eq!(queued(&mut swarm, "a2", campaign("desk")), 1);
}
