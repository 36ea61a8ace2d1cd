//! Who a direct task's look walks: the registry's capability index (exact across registrations,
//! capability changes, deregistrations and snapshots), the holders of the rarest required capability
//! (the same winner as a scan of every agent), and, past `ASSIGNMENT_CANDIDATES_PER_TASK_MAX` agents,
//! a window that moves on after each assignment while the manager's affinities are always looked at.

mod support;

use std::cmp::Reverse;
use std::collections::BTreeSet;

use colony_core::{Accepted, Fraction, Rejection, State, TaskState, limits};
use serde_json::{Value, json};
use support::commands::{Register, Update, deregister, halt};
use support::market::{command, ok};
use support::{OutcomeExt, Simulator, agent_id, name};

const WINDOW: usize = limits::ASSIGNMENT_CANDIDATES_PER_TASK_MAX;

fn announce(swarm: &mut Simulator, manager: &str, terms: Value) -> u64 {
    let mut announcement = json!({"type": "task.announce", "distribution": "direct", "max_cost": "10",
                                  "deadline_ms": 60_000, "bid_window_ms": 3_600_000});
    announcement.as_object_mut().unwrap().extend(terms.as_object().unwrap().clone());
    match ok(swarm, manager, announcement).single() {
        Ok(Accepted::Task { task, existing: false }) => *task,
        other => panic!("expected a new task: {other:?}"),
    }
}

fn winner(swarm: &Simulator, id: u64) -> Option<String> {
    let task = swarm.state().market().task(id).expect("the task exists");
    task.current_attempt().map(|attempt| attempt.winner.to_string())
}

fn load(state: &State, agent: &str) -> u64 {
    state.agent_load(&agent_id(agent))
}

/// The agents that can take work holding `capability`, by id, as the capability index has them.
fn indexed(state: &State, capability: &str) -> BTreeSet<String> {
    let registry = state.registry();
    let holders = registry.capability_index().holders(&name(capability));
    holders.iter().map(|handle| registry.by_handle(*handle).id.to_string()).collect()
}

/// The same, by a scan of every agent.
fn scanned(state: &State, capability: &str) -> BTreeSet<String> {
    let available = state.registry().iter().filter(|agent| agent.can_take_work());
    available.filter(|agent| agent.capabilities.contains(&name(capability))).map(|agent| agent.id.to_string()).collect()
}

/// The agent a scan of every agent gives a task of `manager` needing `required` and `estimated_load`,
/// for a kind the manager has no affinity for: active, not the manager, capable, with room; the
/// higher performance, then the lower load, then the id.
fn reference_winner(state: &State, manager: &str, required: &[&str], estimated_load: u64) -> Option<String> {
    state
        .registry()
        .iter()
        .filter(|agent| agent.status() == "active" && agent.id.as_str() != manager)
        .filter(|agent| required.iter().all(|capability| agent.capabilities.contains(&name(capability))))
        .filter(|agent| state.agent_load(&agent.id) + estimated_load <= u64::from(state.agent_capacity(&agent.id)))
        .map(|agent| {
            let performance = state.reputation(&agent.id).map_or(Fraction::ONE, |record| record.performance);
            (Reverse(performance), state.agent_load(&agent.id), agent.id.clone())
        })
        .min()
        .map(|(_, _, id)| id.to_string())
}

/// Forty agents with overlapping capabilities (`d` rare, `a` common), some of them changed, halted,
/// deregistered, busy, or with a performance below the others', and a funded manager.
fn mixed_swarm() -> Simulator {
    let mut swarm = Simulator::new();
    swarm.register_all(&["boss", "trainer"], "analyst");
    swarm.fund("boss", 100_000);
    swarm.fund("trainer", 100_000);
    let agents: Vec<_> = (0..40)
        .map(|index| {
            let capabilities = [(2, "a"), (3, "b"), (5, "c"), (11, "d")]
                .into_iter()
                .filter(|(modulus, _)| index % modulus == 0)
                .map(|(_, capability)| capability);
            Register::new(&format!("agent-{index:02}"), "analyst").capabilities(capabilities).build()
        })
        .collect();
    assert!(swarm.operator(agents).all_accepted());
    assert!(swarm.operator(vec![Update::new("agent-07").capabilities(["a", "d"]).build()]).all_accepted());
    assert!(swarm.operator(vec![Update::new("agent-12").capabilities(["d"]).build()]).all_accepted());
    assert!(swarm.operator(vec![deregister("agent-22"), halt("agent-33", "paused")]).all_accepted());
    ok(&mut swarm, "agent-00", json!({"type": "task.capacity", "max_load": 2}));
    // The trainer's scores give some agents a lower performance (and an affinity the boss has not).
    for (worker, score) in [("agent-04", "0.2"), ("agent-06", "0.5"), ("agent-07", "0.6"), ("agent-24", "0.1")] {
        let id = announce(
            &mut swarm,
            "trainer",
            json!({"task_id": format!("train-{worker}"), "kind": "analyze",
                                                          "invited": [worker], "min_score": "0"}),
        );
        ok(&mut swarm, worker, json!({"type": "task.accept", "task": id}));
        ok(&mut swarm, worker, json!({"type": "task.submit", "task": id, "result": {}}));
        ok(&mut swarm, "trainer", json!({"type": "task.verify", "task": id, "score": score}));
    }
    swarm
}

#[test]
fn the_capability_index_follows_registrations_changes_and_deregistrations_and_survives_a_snapshot() {
    let swarm = mixed_swarm();
    let state = swarm.state();
    for capability in ["a", "b", "c", "d", "e"] {
        assert_eq!(indexed(state, capability), scanned(state, capability), "{capability}");
    }
    let holders_of_d = ["agent-00", "agent-07", "agent-11", "agent-12"];
    assert_eq!(indexed(state, "d"), holders_of_d.map(str::to_owned).into(), "22 left, 33 halted, 7 and 12 joined");
    assert!(!indexed(state, "b").contains("agent-12"), "a replaced set drops what it no longer names");
    let index = state.registry().capability_index();
    assert_eq!(index.available().len(), state.registry().live_len() - 1, "every live agent but the halted one");
    assert_eq!(index.population(&[name("a"), name("d")].into()), index.holders(&name("d")), "the rarer one");
    assert!(index.population(&[name("a"), name("e")].into()).is_empty(), "nobody holds e");
    assert_eq!(index.population(&BTreeSet::new()), index.available(), "no requirement: every available agent");

    let bytes = state.encode_snapshot();
    let restored = State::decode_snapshot(&bytes).expect("a fresh snapshot decodes");
    assert_eq!(restored.registry().capability_index(), index);
    let trusted = State::decode_snapshot_with_hash(&bytes, state.state_hash()).expect("its own hash");
    assert_eq!(trusted.registry().capability_index(), index, "rebuilt without the invariant check too");
}

#[test]
fn under_the_bound_the_rarest_capabilitys_holders_give_the_winner_a_scan_of_everyone_gives() {
    let mut swarm = mixed_swarm();
    let requirements: [&[&str]; 8] = [&[], &["a"], &["a", "b"], &["d"], &["a", "d"], &["c", "d"], &["b", "c"], &["e"]];
    let (mut assigned, mut queued) = (0, 0);
    for round in 0..48u64 {
        let required = requirements[round as usize % requirements.len()];
        let estimated_load = 1 + round % 4;
        let expected = reference_winner(swarm.state(), "boss", required, estimated_load);
        let id = announce(
            &mut swarm,
            "boss",
            json!({"task_id": format!("task-{round}"), "kind": "execute",
            "required_capabilities": required, "estimated_load": estimated_load}),
        );
        assert_eq!(winner(&swarm, id), expected, "round {round}: {required:?}, load {estimated_load}");
        if expected.is_none() {
            // Out of the queue, so that it does not take the next round's agent.
            ok(&mut swarm, "boss", json!({"type": "task.cancel", "task": id}));
            queued += 1;
        } else {
            assigned += 1;
        }
    }
    assert!(assigned >= 30 && queued >= 6, "both outcomes are exercised: {assigned} assigned, {queued} queued");
}

fn worker(index: usize) -> String {
    format!("worker-{index:05}")
}

/// A manager and more workers able to analyze than a look examines, registered in descending id
/// order (so handle order, which windows follow, is the reverse of id order), and the workers in
/// that order.
fn crowd() -> (Simulator, Vec<String>) {
    let mut swarm = Simulator::new();
    swarm.register_all(&["manager"], "analyst");
    swarm.fund("manager", 1_000_000);
    let order: Vec<String> = (0..WINDOW + 50).rev().map(worker).collect();
    for chunk in order.chunks(5_000) {
        let registrations = chunk.iter().map(|id| Register::new(id, "analyst").capabilities(["analyze"]).build());
        assert!(swarm.operator(registrations.collect()).all_accepted());
    }
    (swarm, order)
}

/// The workers a look walks when its window starts after position `after` of `order`.
fn window(order: &[String], after: Option<usize>) -> Vec<&str> {
    let start = after.map_or(0, |position| position + 1);
    (0..WINDOW).map(|step| order[(start + step) % order.len()].as_str()).collect()
}

/// The best of `agents` for a task nobody has an affinity for (every performance is the same here):
/// the lowest load, then the lowest id.
fn best_of<'a>(state: &State, agents: impl IntoIterator<Item = &'a str>) -> String {
    agents.into_iter().min_by_key(|agent| (load(state, agent), *agent)).expect("some agent").to_owned()
}

#[test]
fn past_the_bound_a_task_goes_to_the_best_of_a_window_that_moves_on_after_each_assignment() {
    let (mut swarm, order) = crowd();
    let position = |agent: &str| order.iter().position(|other| other == agent).expect("a worker");
    let mut after = None;
    let mut winners = Vec::new();
    for round in 0..4 {
        let expected = best_of(swarm.state(), window(&order, after));
        let everyone = best_of(swarm.state(), order.iter().map(String::as_str));
        let id = announce(
            &mut swarm,
            "manager",
            json!({"task_id": format!("scan-{round}"), "kind": "analyze",
                                                         "required_capabilities": ["analyze"]}),
        );
        assert_eq!(winner(&swarm, id), Some(expected.clone()), "round {round}");
        if round % 2 == 0 {
            assert_ne!(expected, everyone, "round {round}: the window, not the whole crowd, was looked at");
        }
        after = Some(position(&expected));
        winners.push(expected);
    }
    // The first window holds the 10,000 workers registered first (ids from the top down); the next
    // starts after its winner and wraps around, so the work moves across the crowd.
    assert_eq!(winners, [worker(50), worker(0), worker(51), worker(1)]);

    // A batch plans with the same window: its three agents are the window's best three.
    let mut expected: Vec<&str> = window(&order, after);
    expected.sort_by_key(|agent| (load(swarm.state(), agent), *agent));
    let outcome = ok(
        &mut swarm,
        "manager",
        json!({"type": "task.announce_batch", "batch_id": "sweep", "kind": "analyze", "items": [1, 2, 3],
               "agents": 3, "required_capabilities": ["analyze"], "max_cost_per_item": "1", "deadline_ms": 60_000}),
    );
    let Ok(Accepted::Batch { tasks }) = outcome.single() else { panic!("expected a batch: {outcome:?}") };
    let chunk_winners: Vec<String> = tasks.iter().map(|id| winner(&swarm, *id).expect("assigned")).collect();
    assert_eq!(chunk_winners, expected[..3]);
}

#[test]
fn an_affinity_outside_the_window_is_still_preferred_and_an_empty_window_moves_on() {
    let (mut swarm, order) = crowd();
    let manager = agent_id("manager");
    // The last worker by handle does a task for the manager (invited), which records its affinity;
    // an invited task does not move the window, so the first window does not hold it.
    let favourite = order[WINDOW + 49].clone();
    let id = announce(&mut swarm, "manager", json!({"task_id": "first", "kind": "analyze", "invited": [&favourite]}));
    ok(&mut swarm, &favourite, json!({"type": "task.accept", "task": id}));
    ok(&mut swarm, &favourite, json!({"type": "task.submit", "task": id, "result": {}}));
    ok(&mut swarm, "manager", json!({"type": "task.verify", "task": id, "score": "1"}));
    assert!(swarm.state().has_affinity(&manager, &name("analyze"), &agent_id(&favourite)));
    assert!(!window(&order, None).contains(&favourite.as_str()));
    let id = announce(
        &mut swarm,
        "manager",
        json!({"task_id": "again", "kind": "analyze",
                                                              "required_capabilities": ["analyze"]}),
    );
    assert_eq!(winner(&swarm, id).as_deref(), Some(favourite.as_str()), "affinity first, from outside the window");

    // An affinity from outside the window did not move it. A task nobody has room for waits; its look
    // examined the affinity and a window of the crowd, and the window moved to the end of the one that
    // found nobody.
    let heavy = announce(
        &mut swarm,
        "manager",
        json!({"task_id": "heavy", "kind": "analyze",
                                                         "required_capabilities": ["analyze"], "estimated_load": 9}),
    );
    assert_eq!(swarm.state().market().task(heavy).map(|task| task.state), Some(TaskState::Open));
    let moved = Some(WINDOW - 1);
    let look = swarm.state().direct_candidates(heavy).expect("queued");
    assert!(look.candidates.is_empty());
    let walked = window(&order, moved);
    assert!(walked.contains(&favourite.as_str()), "the next window holds the favourite, looked at once");
    assert_eq!(look.examined, walked.len());
    assert!(look.examined <= WINDOW + limits::AFFINITIES_PER_MANAGER_MAX as usize);
    ok(&mut swarm, "manager", json!({"type": "task.cancel", "task": heavy}));
    // A kind without affinities goes to the best of the moved window (the last workers by handle).
    let expected = best_of(swarm.state(), window(&order, moved));
    assert_eq!(expected, worker(1), "the favourite still holds its task");
    let id = announce(
        &mut swarm,
        "manager",
        json!({"task_id": "other", "kind": "execute",
                                                              "required_capabilities": ["analyze"]}),
    );
    assert_eq!(winner(&swarm, id), Some(expected));
}

/// Each of `agents` declares a capacity of zero: they stay able to take work, so looks walk them, yet
/// none has room for any task.
fn without_room(swarm: &mut Simulator, agents: &[String]) {
    swarm.in_bulk(|swarm| {
        for agent in agents {
            ok(swarm, agent, json!({"type": "task.capacity", "max_load": 0}));
        }
    });
}

/// Whether an assignment pass is due at once (the driver writes a tick for it).
fn pass_due(swarm: &Simulator) -> bool {
    let state = swarm.state();
    state.next_deadline_ms().is_some_and(|deadline| deadline <= state.timestamp_ms() + 1)
}

/// Writes ticks a millisecond apart while a pass is due, at most `most`; how many it wrote.
fn tick_while_due(swarm: &mut Simulator, most: usize) -> usize {
    let mut ticks = 0;
    while pass_due(swarm) && ticks < most {
        swarm.tick_after(1);
        ticks += 1;
    }
    ticks
}

#[test]
fn a_window_that_finds_nobody_leaves_the_pass_due_and_a_tick_reaches_the_agents_beyond_it() {
    let (mut swarm, order) = crowd();
    // The first window's agents cannot work; only the 50 registered last can.
    without_room(&mut swarm, &order[..WINDOW]);
    let id = announce(
        &mut swarm,
        "manager",
        json!({"task_id": "lonely", "kind": "analyze", "required_capabilities": ["analyze"]}),
    );
    assert_eq!(winner(&swarm, id), None, "the first window found nobody");
    assert!(pass_due(&swarm), "nothing else happens, yet the next window is looked at");
    assert_eq!(tick_while_due(&mut swarm, 10), 1);
    assert_eq!(winner(&swarm, id), Some(worker(0)), "the best of the agents beyond the first window");
    assert!(!pass_due(&swarm));

    // The window now starts after that winner, the last agent by handle: it wraps around to the
    // agents without room. A batch's planning walks on to the next window within its budget.
    let outcome = ok(
        &mut swarm,
        "manager",
        json!({"type": "task.announce_batch", "batch_id": "sweep", "kind": "analyze", "items": [1, 2],
               "agents": 2, "required_capabilities": ["analyze"], "max_cost_per_item": "1", "deadline_ms": 60_000}),
    );
    let Ok(Accepted::Batch { tasks }) = outcome.single() else { panic!("expected a batch: {outcome:?}") };
    let chunk_winners: Vec<String> = tasks.iter().map(|id| winner(&swarm, *id).expect("assigned")).collect();
    assert_eq!(chunk_winners, [worker(1), worker(2)]);
}

#[test]
fn when_nobody_anywhere_has_room_the_windows_are_walked_around_once_per_change() {
    let (mut swarm, order) = crowd();
    without_room(&mut swarm, &order);
    let id = announce(
        &mut swarm,
        "manager",
        json!({"task_id": "hopeless", "kind": "analyze", "required_capabilities": ["analyze"]}),
    );
    // Two windows cover the crowd: the announce's pass looked at the first, one tick at the second.
    assert_eq!(tick_while_due(&mut swarm, 100), 1);
    assert_eq!(swarm.state().market().task(id).map(|task| task.state), Some(TaskState::Open));
    swarm.tick_after(1_000);
    assert!(!pass_due(&swarm), "no endless ticks");
    // A change that could free room (a capacity declared) buys one more walk around, no more.
    ok(&mut swarm, "manager", json!({"type": "task.capacity", "max_load": 3}));
    assert_eq!(tick_while_due(&mut swarm, 100), 1);
    // The task still ends when its window closes.
    swarm.tick_after(3_600_001);
    assert_eq!(swarm.state().market().task(id).map(|task| task.state), Some(TaskState::Unassigned));
}

#[test]
fn a_manager_cannot_steer_the_window_with_invited_tasks_or_a_small_population() {
    let (mut swarm, order) = crowd();
    swarm.register_all(&["hostile"], "analyst");
    swarm.fund("hostile", 1_000);
    // Its own agents: the last by handle, one of them the only holder of a rare capability.
    let (puppet, rare) = (order[WINDOW + 10].clone(), order[WINDOW + 20].clone());
    assert!(swarm.operator(vec![Update::new(&rare).capabilities(["analyze", "rare"]).build()]).all_accepted());
    for round in 0..3 {
        let invited = announce(
            &mut swarm,
            "hostile",
            json!({"task_id": format!("pin-{round}"), "kind": "analyze", "invited": [&puppet]}),
        );
        assert_eq!(winner(&swarm, invited), Some(puppet.clone()));
        let narrow = announce(
            &mut swarm,
            "hostile",
            json!({"task_id": format!("narrow-{round}"), "kind": "analyze", "required_capabilities": ["rare"]}),
        );
        assert_eq!(winner(&swarm, narrow), Some(rare.clone()));
    }
    // Had the window followed those winners, it would start after them, among the lowest ids.
    let expected = best_of(swarm.state(), window(&order, None));
    assert_eq!(expected, worker(50));
    let id = announce(
        &mut swarm,
        "manager",
        json!({"task_id": "honest", "kind": "analyze", "required_capabilities": ["analyze"]}),
    );
    assert_eq!(winner(&swarm, id), Some(expected), "the window still starts at the first agent");
}

#[test]
fn an_envelope_of_batches_examines_a_bounded_number_of_agents_and_the_commands_past_it_change_nothing() {
    let (mut swarm, _) = crowd();
    let batch = |n: usize| {
        command(json!({"type": "task.announce_batch", "batch_id": format!("batch-{n}"), "kind": "analyze",
                       "items": [n], "agents": 1, "required_capabilities": ["analyze"], "max_cost_per_item": "1",
                       "deadline_ms": 60_000}))
    };
    // Without money, every batch is refused before it looks at anyone.
    swarm.register_all(&["pauper"], "analyst");
    let outcome = swarm.agent("pauper", (0..limits::COMMANDS_PER_ENVELOPE_MAX).map(batch).collect());
    assert!(
        outcome
            .commands
            .iter()
            .all(|result| matches!(result, Err(rejection) if rejection.code() == "announce_beyond_funds"))
    );

    // Each funded batch's look examines a window of the crowd; the envelope pays for this many.
    let fit = limits::ASSIGNMENT_CANDIDATES_PER_ENVELOPE_MAX / WINDOW;
    let mut within = swarm.clone();
    assert!(within.agent("manager", (0..fit).map(batch).collect()).all_accepted());
    let outcome = swarm.agent("manager", (0..fit + 5).map(batch).collect());
    for (index, result) in outcome.commands.iter().enumerate() {
        match result {
            Ok(Accepted::Batch { .. }) if index < fit => {}
            Err(Rejection::LimitReached { limit: "assignment_candidates_per_envelope", .. }) if index >= fit => {}
            other => panic!("command {index}: {other:?}"),
        }
    }
    // The refused ones changed nothing: the market and the ledger are those of the first `fit` alone.
    assert_eq!(swarm.state().market(), within.state().market());
    assert_eq!(swarm.ledger(), within.ledger());
}

#[test]
fn halted_and_silent_agents_are_not_walked_so_a_crowd_of_them_delays_nobody() {
    let (mut swarm, order) = crowd();
    // A crowd holding the capability stops being able to work: everyone falls silent, the 50
    // registered last and the manager heartbeat again, most of the crowd is halted too.
    let ttl_ms = swarm.state().config().heartbeat_ttl_ms;
    swarm.tick_after(ttl_ms + 1);
    swarm.in_bulk(|swarm| {
        for agent in order[WINDOW..].iter().map(String::as_str).chain(["manager"]) {
            ok(swarm, agent, json!({"type": "agent.heartbeat"}));
        }
    });
    let (halted, silent) = order[..WINDOW].split_at(WINDOW - 100);
    for chunk in halted.chunks(5_000) {
        assert!(swarm.operator(chunk.iter().map(|agent| halt(agent, "away")).collect()).all_accepted());
    }
    for agent in silent {
        assert_eq!(swarm.state().registry().get(&agent_id(agent)).expect("registered").status(), "unresponsive");
    }
    assert_eq!(swarm.state().registry().capability_index().available().len(), 50 + 1);

    // The first look walks only the 50 that can work, and assigns at once.
    let id = announce(
        &mut swarm,
        "manager",
        json!({"task_id": "prompt", "kind": "analyze", "required_capabilities": ["analyze"]}),
    );
    assert_eq!(winner(&swarm, id), Some(worker(0)));
    // A silent agent that heartbeats again is walked again.
    let back = &silent[0];
    ok(&mut swarm, back, json!({"type": "agent.heartbeat"}));
    assert_eq!(swarm.state().registry().capability_index().holders(&name("analyze")).len(), 51);
    swarm.state().check_invariants().expect("the index is exact");
}
