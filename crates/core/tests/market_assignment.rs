//! Direct assignment and batches (seed 004's `WorkDistributor` and `BatchCoordinator`): who gets a
//! direct task and in what order, load held until the attempt ends and then given to the queue,
//! declines and windows, the batch split's arithmetic, and the refusals a hostile agent meets. Every
//! entry is followed by the invariant check (the testkit's simulator runs it), which includes "load
//! equals the sum over tasks under way" and "the queue holds exactly the waiting direct tasks".

mod support;

use colony_core::market::{Distribution, agent_order, split_batch};
use colony_core::{Accepted, AttemptOutcome, EntryOutcome, EscrowState, EventKind, State, Task, TaskState};
use serde_json::{Value, json};
use support::commands::Register;
use support::market::{command, ok, refused};
use support::{OutcomeExt, Simulator, agent_id};

fn task(swarm: &Simulator, id: u64) -> &Task {
    swarm.state().market().task(id).expect("the task exists")
}

fn winner(swarm: &Simulator, id: u64) -> Option<String> {
    task(swarm, id).current_attempt().map(|attempt| attempt.winner.to_string())
}

fn load(swarm: &Simulator, agent: &str) -> u64 {
    swarm.state().agent_load(&agent_id(agent))
}

fn queue(state: &State) -> Vec<u64> {
    state.assignment_queue().collect()
}

/// A manager with 1,000 units, three analysts that can analyze, a scout that cannot, a verifier.
fn swarm() -> Simulator {
    let mut swarm = Simulator::new();
    swarm.register_all(&["manager", "verifier"], "analyst");
    for analyst in ["analyst-1", "analyst-2", "analyst-3"] {
        swarm.operator(vec![Register::new(analyst, "analyst").capabilities(["analyze"]).build()]);
    }
    swarm.register_all(&["scout"], "scout");
    swarm.fund("manager", 1_000);
    swarm
}

fn capacity(swarm: &mut Simulator, agent: &str, max_load: u32) -> EntryOutcome {
    ok(swarm, agent, json!({"type": "task.capacity", "max_load": max_load}))
}

/// Announces a direct task needing `analyze`, at 10, with `extra` terms.
fn direct(swarm: &mut Simulator, task_id: &str, extra: Value) -> u64 {
    let mut announcement = json!({
        "type": "task.announce", "task_id": task_id, "kind": "analyze", "distribution": "direct",
        "required_capabilities": ["analyze"], "max_cost": "10", "deadline_ms": 5_000
    });
    announcement.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    match ok(swarm, "manager", announcement).single() {
        Ok(Accepted::Task { task, existing: false }) => *task,
        other => panic!("expected a new task: {other:?}"),
    }
}

/// The winner accepts, submits and the manager scores it `score`.
fn complete(swarm: &mut Simulator, id: u64, score: &str) -> EntryOutcome {
    let worker = winner(swarm, id).expect("the task has a winner");
    ok(swarm, &worker, json!({"type": "task.accept", "task": id}));
    ok(swarm, &worker, json!({"type": "task.submit", "task": id, "result": {"done": true}}));
    ok(swarm, "manager", json!({"type": "task.verify", "task": id, "score": score}))
}

#[test]
fn a_direct_task_is_assigned_at_once_at_its_price_and_takes_no_bids() {
    let mut swarm = swarm();
    let id = direct(&mut swarm, "scan", json!({}));
    let awarded = task(&swarm, id);
    assert_eq!(awarded.state, TaskState::Awarded);
    assert_eq!(awarded.terms.distribution, Distribution::Direct);
    let attempt = awarded.current_attempt().expect("assigned");
    assert_eq!((attempt.winner.as_str(), attempt.price.0), ("analyst-1", 10), "first by id when all else ties");
    assert_eq!(swarm.escrow(attempt.escrow).state, EscrowState::Locked);
    assert_eq!(swarm.escrow(attempt.escrow).for_task, Some(id));
    assert_eq!(swarm.balance("manager"), 990);
    assert_eq!(load(&swarm, "analyst-1"), 1);

    let id = direct(&mut swarm, "scan-2", json!({}));
    refused(
        &mut swarm,
        "analyst-3",
        json!({"type": "task.bid", "task": id, "estimated_cost": "5", "estimated_time_ms": 10, "confidence": "0.9"}),
        "bidding_closed",
    );
    // While it waits in the queue it still takes no bid and no early award.
    for analyst in ["analyst-1", "analyst-2", "analyst-3"] {
        capacity(&mut swarm, analyst, 0);
    }
    let waiting = direct(&mut swarm, "scan-3", json!({}));
    assert_eq!(task(&swarm, waiting).state, TaskState::Open);
    refused(
        &mut swarm,
        "analyst-3",
        json!({"type": "task.bid", "task": waiting, "estimated_cost": "5", "estimated_time_ms": 10, "confidence": "0.9"}),
        "direct_task",
    );
    refused(&mut swarm, "manager", json!({"type": "task.award", "task": waiting}), "direct_task");
    refused(&mut swarm, "analyst-3", json!({"type": "task.award", "task": waiting}), "unauthorized");
}

#[test]
fn the_award_event_says_the_task_was_assigned_directly() {
    let mut swarm = swarm();
    let outcome = ok(
        &mut swarm,
        "manager",
        json!({"type": "task.announce", "task_id": "scan", "kind": "analyze", "distribution": "direct",
               "max_cost": "7", "deadline_ms": 5_000}),
    );
    let awarded = outcome.events.iter().find_map(|event| match &event.kind {
        EventKind::TaskAwarded { winner, price, distribution, score, .. } => {
            Some((winner.to_string(), price.0, *distribution, score.to_string()))
        }
        _ => None,
    });
    // No capability required: every agent but the manager is eligible, first by id; the score is the
    // winner's performance.
    assert_eq!(awarded, Some(("analyst-1".to_owned(), 7, Distribution::Direct, "1".to_owned())));
}

#[test]
fn only_capable_agents_with_room_are_assigned_and_a_declared_capacity_drains_the_queue() {
    let mut swarm = swarm();
    for analyst in ["analyst-1", "analyst-2", "analyst-3"] {
        capacity(&mut swarm, analyst, 0);
    }
    let id = direct(&mut swarm, "scan", json!({}));
    // The scout has room but not the capability; the analysts have it but no room.
    assert_eq!((task(&swarm, id).state, queue(swarm.state())), (TaskState::Open, vec![id]));
    let outcome = capacity(&mut swarm, "analyst-3", 1);
    assert!(outcome.events.iter().any(|event| matches!(event.kind, EventKind::TaskAwarded { .. })));
    assert_eq!(winner(&swarm, id).as_deref(), Some("analyst-3"));
    assert!(queue(swarm.state()).is_empty());
    // Capacity counts load units: a task of 2 does not fit in what is left of 2.
    capacity(&mut swarm, "analyst-3", 2);
    let heavy = direct(&mut swarm, "heavy", json!({"estimated_load": 2}));
    assert_eq!(task(&swarm, heavy).state, TaskState::Open);
    assert_eq!(swarm.state().agent_capacity(&agent_id("analyst-3")), 2);
    assert_eq!(load(&swarm, "analyst-3"), 1);
}

#[test]
fn load_is_held_until_the_attempt_ends_then_the_queue_is_served_in_priority_order() {
    let mut swarm = swarm();
    capacity(&mut swarm, "analyst-1", 1);
    capacity(&mut swarm, "analyst-2", 0);
    capacity(&mut swarm, "analyst-3", 0);
    let first = direct(&mut swarm, "first", json!({}));
    assert_eq!(winner(&swarm, first).as_deref(), Some("analyst-1"));
    let low = direct(&mut swarm, "low", json!({"priority": 1}));
    let high = direct(&mut swarm, "high", json!({"priority": 5}));
    let high_later = direct(&mut swarm, "high-later", json!({"priority": 5}));
    assert_eq!(queue(swarm.state()), vec![high, high_later, low], "priority first, then the oldest");

    // Accepted and submitted work still holds the load: nothing moves until the verdict.
    let worker = "analyst-1";
    ok(&mut swarm, worker, json!({"type": "task.accept", "task": first}));
    ok(&mut swarm, worker, json!({"type": "task.submit", "task": first, "result": 1}));
    assert_eq!(load(&swarm, worker), 1);
    assert_eq!(queue(swarm.state()).len(), 3);
    let outcome = ok(&mut swarm, "manager", json!({"type": "task.verify", "task": first, "score": "0.9"}));
    assert!(
        outcome.events.iter().any(|event| matches!(&event.kind, EventKind::TaskAwarded { task, .. } if *task == high))
    );
    assert_eq!(task(&swarm, first).state, TaskState::Completed);
    assert_eq!((winner(&swarm, high).as_deref(), load(&swarm, worker)), (Some(worker), 1));
    assert_eq!(queue(swarm.state()), vec![high_later, low]);
    complete(&mut swarm, high, "0.9");
    assert_eq!(winner(&swarm, high_later).as_deref(), Some(worker));
    complete(&mut swarm, high_later, "0.9");
    assert_eq!(winner(&swarm, low).as_deref(), Some(worker));
    complete(&mut swarm, low, "0.9");
    assert_eq!(load(&swarm, worker), 0, "load is freed when the task ends");
    assert!(queue(swarm.state()).is_empty());
}

#[test]
fn a_decline_assigns_the_next_best_agent_and_never_an_earlier_holder() {
    let mut swarm = swarm();
    let id = direct(&mut swarm, "scan", json!({}));
    let first_escrow = task(&swarm, id).current_attempt().unwrap().escrow;
    ok(&mut swarm, "analyst-1", json!({"type": "task.decline", "task": id}));
    assert_eq!(swarm.escrow(first_escrow).state, EscrowState::Refunded);
    assert_eq!(task(&swarm, id).attempts[0].outcome, AttemptOutcome::Declined);
    assert_eq!(winner(&swarm, id).as_deref(), Some("analyst-2"));
    assert_eq!((load(&swarm, "analyst-1"), load(&swarm, "analyst-2")), (0, 1));
    ok(&mut swarm, "analyst-2", json!({"type": "task.decline", "task": id}));
    assert_eq!(winner(&swarm, id).as_deref(), Some("analyst-3"));
    ok(&mut swarm, "analyst-3", json!({"type": "task.decline", "task": id}));
    // Nobody is left: the task waits for its window, then fails.
    assert_eq!(task(&swarm, id).state, TaskState::Open);
    swarm.tick_after(2_001);
    let ended = task(&swarm, id);
    assert_eq!((ended.state, ended.reason.as_deref()), (TaskState::Failed, Some("no eligible agent left")));
    assert_eq!(swarm.balance("manager"), 1_000, "every declined escrow was refunded");
}

#[test]
fn affinity_comes_first_then_reputation_then_load() {
    let mut swarm = swarm();
    // analyst-2 completes an `analyze` task for the manager, scored 0.85: affinity, and a performance
    // of 0.97 against the others' 1.
    let id = direct(&mut swarm, "scan", json!({"invited": ["analyst-2"]}));
    complete(&mut swarm, id, "0.85");
    assert_eq!(task(&swarm, id).state, TaskState::Completed);
    let again = direct(&mut swarm, "scan-again", json!({}));
    assert_eq!(winner(&swarm, again).as_deref(), Some("analyst-2"), "affinity beats a higher score");
    // Another kind: no affinity, so the higher performance first, then the lower load, then the id.
    let execute = |swarm: &mut Simulator, task_id: &str| direct(swarm, task_id, json!({"kind": "execute"}));
    let first = execute(&mut swarm, "exec-1");
    assert_eq!(winner(&swarm, first).as_deref(), Some("analyst-1"));
    let second = execute(&mut swarm, "exec-2");
    assert_eq!(winner(&swarm, second).as_deref(), Some("analyst-3"), "the lower load");
    let third = execute(&mut swarm, "exec-3");
    assert_eq!(winner(&swarm, third).as_deref(), Some("analyst-1"), "loads tie again: the id");
    let loads: Vec<u64> = ["analyst-1", "analyst-2", "analyst-3"].iter().map(|agent| load(&swarm, agent)).collect();
    assert_eq!(loads, [2, 1, 1], "analyst-2, with the lower score, gets no other kind's work");
}

#[test]
fn an_unpayable_assignment_ends_unfunded_and_holds_no_load() {
    // Announcing needs the funds, so the money leaves while the task waits in the queue for room.
    let mut swarm = swarm();
    for analyst in ["analyst-1", "analyst-2", "analyst-3"] {
        capacity(&mut swarm, analyst, 0);
    }
    let id = direct(&mut swarm, "dear", json!({"max_cost": "1000", "bid_window_ms": 60_000}));
    assert_eq!(task(&swarm, id).state, TaskState::Open);
    ok(
        &mut swarm,
        "manager",
        json!({"type": "ledger.transfer", "transfer_id": "away", "to": "scout", "amount": "900"}),
    );
    capacity(&mut swarm, "analyst-1", 8);
    let ended = task(&swarm, id);
    assert_eq!(ended.state, TaskState::Unfunded);
    assert!(ended.reason.as_deref().unwrap_or_default().contains("could not be locked"), "{:?}", ended.reason);
    assert_eq!(load(&swarm, "analyst-1"), 0);
    assert!(queue(swarm.state()).is_empty());
    assert_eq!(swarm.balance("manager"), 100);
}

#[test]
fn a_task_that_finds_no_room_within_its_window_ends_unassigned() {
    let mut swarm = swarm();
    for analyst in ["analyst-1", "analyst-2", "analyst-3"] {
        capacity(&mut swarm, analyst, 0);
    }
    let id = direct(&mut swarm, "scan", json!({"bid_window_ms": 1_000}));
    swarm.tick_after(1_000);
    assert_eq!(task(&swarm, id).state, TaskState::Open, "its window's last millisecond");
    swarm.tick_after(1);
    let ended = task(&swarm, id);
    assert_eq!(ended.state, TaskState::Unassigned);
    assert_eq!(ended.reason.as_deref(), Some("no eligible agent had room within the window"));
    assert!(queue(swarm.state()).is_empty());
    // Cancelling a queued task takes it out of the queue too.
    let cancelled = direct(&mut swarm, "scan-2", json!({}));
    ok(&mut swarm, "manager", json!({"type": "task.cancel", "task": cancelled}));
    assert!(queue(swarm.state()).is_empty());
}

#[test]
fn a_snapshot_keeps_loads_capacities_affinities_and_the_queue() {
    let mut swarm = swarm();
    let id = direct(&mut swarm, "scan", json!({}));
    complete(&mut swarm, id, "0.9");
    direct(&mut swarm, "held", json!({}));
    capacity(&mut swarm, "analyst-1", 1);
    capacity(&mut swarm, "analyst-2", 0);
    capacity(&mut swarm, "analyst-3", 0);
    direct(&mut swarm, "queued", json!({}));
    assert_eq!(queue(swarm.state()).len(), 1);
    let bytes = swarm.state().encode_snapshot();
    let restored = State::decode_snapshot(&bytes).expect("a fresh snapshot decodes");
    assert_eq!(&restored, swarm.state());
    assert_eq!(restored.encode_snapshot(), bytes);
}

#[test]
fn the_seed_split_250_items_in_batches_of_100_over_3_agents() {
    let sizes = |len, k| split_batch(len, k).into_iter().map(|range| range.len()).collect::<Vec<_>>();
    assert_eq!(sizes(100, 3), [33, 33, 34]);
    assert_eq!(sizes(50, 3), [16, 16, 18]);

    let mut swarm = swarm();
    let outcome = ok(
        &mut swarm,
        "manager",
        json!({"type": "task.announce_batch", "batch_id": "sweep", "kind": "analyze",
               "required_capabilities": ["analyze"], "item_count": 250, "agents": 3,
               "reference": {"uri": "s3://items/all", "sha256": "ab".repeat(32)},
               "max_cost_per_item": "2", "deadline_ms": 60_000}),
    );
    let Ok(Accepted::Batch { tasks }) = outcome.single() else { panic!("expected a batch: {outcome:?}") };
    assert_eq!(tasks.len(), 9);
    let chunks: Vec<(String, String, u64, String)> = tasks
        .iter()
        .map(|id| {
            let chunk = task(&swarm, *id);
            let attempt = chunk.current_attempt().expect("assigned at once");
            let payload = chunk.terms.payload.as_ref().expect("a payload").as_str().to_owned();
            (chunk.terms.task_id.to_string(), attempt.winner.to_string(), attempt.price.0, payload)
        })
        .collect();
    let ranges = [(0, 33), (33, 66), (66, 100), (100, 133), (133, 166), (166, 200), (200, 216), (216, 232), (232, 250)];
    for (index, (task_id, agent, price, payload)) in chunks.iter().enumerate() {
        let (from, to) = ranges[index];
        assert_eq!(task_id, &format!("sweep.{}.{}", index / 3, index % 3));
        assert_eq!(agent, &format!("analyst-{}", index % 3 + 1));
        assert_eq!(*price, 2 * (to - from));
        let expected = format!(
            "{{\"batch\":{{\"uri\":\"s3://items/all\",\"sha256\":\"{}\"}},\"from\":{from},\"to\":{to}}}",
            "ab".repeat(32)
        );
        assert_eq!(payload, &expected);
    }
    assert_eq!(swarm.balance("manager"), 1_000 - 500, "every chunk's price is locked");
    assert_eq!([load(&swarm, "analyst-1"), load(&swarm, "analyst-2"), load(&swarm, "analyst-3")], [3, 3, 3]);
    // The same batch id again collides with its chunks' task ids.
    refused(
        &mut swarm,
        "manager",
        json!({"type": "task.announce_batch", "batch_id": "sweep", "kind": "analyze", "items": [1], "agents": 1,
               "max_cost_per_item": "1", "deadline_ms": 1_000}),
        "task_id_conflict",
    );
}

fn inline_batch(items: Value, agents: u32, extra: Value) -> Value {
    let mut batch = json!({"type": "task.announce_batch", "batch_id": "small", "kind": "analyze",
        "required_capabilities": ["analyze"], "items": items, "agents": agents,
        "max_cost_per_item": "1", "deadline_ms": 60_000});
    batch.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    batch
}

fn batch_chunks(swarm: &Simulator, outcome: &EntryOutcome) -> Vec<(String, String)> {
    let Ok(Accepted::Batch { tasks }) = outcome.single() else { panic!("expected a batch: {outcome:?}") };
    tasks
        .iter()
        .map(|id| {
            let chunk = task(swarm, *id);
            (
                chunk.current_attempt().unwrap().winner.to_string(),
                chunk.terms.payload.as_ref().unwrap().as_str().to_owned(),
            )
        })
        .collect()
}

#[test]
fn fewer_items_than_agents_make_fewer_chunks_never_empty_ones() {
    let mut swarm = swarm();
    let outcome = ok(&mut swarm, "manager", inline_batch(json!([{"a": 1}, {"b": 2}]), 3, json!({})));
    let chunks = batch_chunks(&swarm, &outcome);
    assert_eq!(
        chunks,
        [("analyst-1".to_owned(), "[{\"a\":1}]".to_owned()), ("analyst-2".to_owned(), "[{\"b\":2}]".to_owned())]
    );
}

#[test]
fn one_eligible_agent_takes_every_batch_whole_and_none_refuses_the_batch() {
    let mut swarm = swarm();
    let outcome = ok(
        &mut swarm,
        "manager",
        inline_batch(json!([1, 2, 3, 4, 5]), 3, json!({"batch_size": 2, "invited": ["analyst-2"]})),
    );
    let chunks = batch_chunks(&swarm, &outcome);
    let expected = [("analyst-2", "[1,2]"), ("analyst-2", "[3,4]"), ("analyst-2", "[5]")]
        .map(|(agent, payload)| (agent.to_owned(), payload.to_owned()));
    assert_eq!(chunks, expected);

    for analyst in ["analyst-1", "analyst-2", "analyst-3"] {
        capacity(&mut swarm, analyst, 0);
    }
    let mut other = inline_batch(json!([1, 2]), 2, json!({}));
    other["batch_id"] = json!("other");
    refused(&mut swarm, "manager", other.clone(), "no_eligible_agent");
    // Room for two chunks of load 1 only: the second batch finds no one, and nothing is announced.
    capacity(&mut swarm, "analyst-1", 1);
    capacity(&mut swarm, "analyst-3", 1);
    other["batch_size"] = json!(1);
    other["agents"] = json!(1);
    other["items"] = json!([1, 2, 3]);
    refused(&mut swarm, "manager", other, "no_eligible_agent");
}

#[test]
fn nobody_assigns_to_itself_or_for_another_manager() {
    let mut swarm = swarm();
    swarm.fund("analyst-1", 100);
    // A capable manager never gets its own task.
    let outcome = ok(
        &mut swarm,
        "analyst-1",
        json!({"type": "task.announce", "task_id": "own", "kind": "analyze", "distribution": "direct",
               "required_capabilities": ["analyze"], "max_cost": "10", "deadline_ms": 5_000}),
    );
    let Ok(Accepted::Task { task: id, .. }) = outcome.single() else { panic!("announced") };
    assert_eq!(winner(&swarm, *id).as_deref(), Some("analyst-2"));
    // It cannot invite itself either, nor steer the work by declining on another's behalf.
    refused(
        &mut swarm,
        "analyst-1",
        json!({"type": "task.announce", "task_id": "own-2", "kind": "analyze", "distribution": "direct",
               "invited": ["analyst-1"], "max_cost": "10", "deadline_ms": 5_000}),
        "invalid_field",
    );
    let id = *id;
    refused(&mut swarm, "analyst-1", json!({"type": "task.decline", "task": id}), "unauthorized");
    refused(&mut swarm, "analyst-3", json!({"type": "task.award", "task": id}), "unauthorized");
}

#[test]
fn batches_and_capacities_stay_within_their_limits() {
    use colony_core::limits;
    let mut swarm = swarm();
    let reference = json!({"uri": "s3://items/all", "sha256": "ab".repeat(32)});
    let by_reference = |count: u64, batch_size: u64, agents: u64| {
        json!({"type": "task.announce_batch", "batch_id": "big", "kind": "analyze", "item_count": count,
               "reference": reference, "batch_size": batch_size, "agents": agents,
               "max_cost_per_item": "1", "deadline_ms": 1_000})
    };
    refused(&mut swarm, "manager", by_reference(1_000_000, 100, 3), "limit_reached");
    refused(&mut swarm, "manager", by_reference(10, 0, 3), "invalid_field");
    refused(&mut swarm, "manager", by_reference(10, 10, 0), "invalid_field");
    refused(&mut swarm, "manager", by_reference(10, 10, u64::from(limits::BATCH_AGENTS_MAX) + 1), "invalid_field");
    refused(&mut swarm, "manager", by_reference(u64::from(limits::BATCH_ITEMS_MAX) + 1, 10, 1), "invalid_field");
    refused(&mut swarm, "manager", inline_batch(json!([]), 1, json!({})), "invalid_field");
    refused(&mut swarm, "manager", inline_batch(json!([1]), 1, json!({"estimated_load": 0})), "invalid_field");
    refused(&mut swarm, "manager", inline_batch(json!([1]), 1, json!({"max_cost_per_item": "0"})), "invalid_field");
    let long_id = "b".repeat(62);
    refused(&mut swarm, "manager", inline_batch(json!([1]), 1, json!({"batch_id": long_id})), "invalid_field");
    refused(
        &mut swarm,
        "manager",
        json!({"type": "task.announce", "task_id": "heavy", "kind": "analyze", "distribution": "direct",
               "estimated_load": limits::TASK_LOAD_MAX + 1, "max_cost": "1", "deadline_ms": 1_000}),
        "invalid_field",
    );
    refused(
        &mut swarm,
        "analyst-1",
        json!({"type": "task.capacity", "max_load": limits::AGENT_CAPACITY_MAX + 1}),
        "invalid_field",
    );
    // The operator has no capacity to declare.
    let outcome = swarm.operator(vec![command(json!({"type": "task.capacity", "max_load": 3}))]);
    assert_eq!(outcome.single_rejection().code(), "unauthorized");
    assert_eq!(capacity(&mut swarm, "analyst-1", limits::AGENT_CAPACITY_DEFAULT).single(), &Ok(Accepted::Unchanged));
}

#[test]
fn the_order_of_candidates() {
    use colony_core::Fraction;
    use colony_core::market::Candidate;
    let candidate = |agent: &str, affinity: bool, performance: &str, load: u64| Candidate {
        agent: agent_id(agent),
        affinity,
        performance: Fraction::parse(performance).unwrap(),
        load,
        from_window: false,
    };
    let mut candidates = [
        candidate("d", false, "1", 0),
        candidate("c", false, "0.9", 0),
        candidate("b", false, "1", 3),
        candidate("a", false, "1", 3),
        candidate("e", true, "0.2", 7),
    ];
    candidates.sort_by(agent_order);
    let order: Vec<&str> = candidates.iter().map(|candidate| candidate.agent.as_str()).collect();
    assert_eq!(order, ["e", "d", "a", "b", "c"]);
}

#[test]
fn each_batch_sees_the_load_of_the_batches_before_it() {
    let mut swarm = swarm();
    capacity(&mut swarm, "analyst-1", 2);
    let outcome = ok(&mut swarm, "manager", inline_batch(json!([1, 2, 3, 4, 5, 6]), 1, json!({"batch_size": 1})));
    let agents: Vec<String> = batch_chunks(&swarm, &outcome).into_iter().map(|(agent, _)| agent).collect();
    // Lowest load first, ties by id; analyst-1 is full after its second chunk.
    assert_eq!(agents, ["analyst-1", "analyst-2", "analyst-3", "analyst-1", "analyst-2", "analyst-3"]);
    assert_eq!([load(&swarm, "analyst-1"), load(&swarm, "analyst-2"), load(&swarm, "analyst-3")], [2, 2, 2]);
    let mut more = inline_batch(json!([7, 8]), 1, json!({"batch_size": 1}));
    more["batch_id"] = json!("more");
    let outcome = ok(&mut swarm, "manager", more);
    let agents: Vec<String> = batch_chunks(&swarm, &outcome).into_iter().map(|(agent, _)| agent).collect();
    assert_eq!(agents, ["analyst-2", "analyst-3"], "analyst-1 has no room left");
}

#[test]
fn a_batch_commits_all_its_chunks_prices_or_nothing() {
    // The manager holds 1,000: a batch of 7 items at 100 each is 700, and 400 more would be 1,100.
    let mut swarm = swarm();
    let outcome =
        ok(&mut swarm, "manager", inline_batch(json!([1, 2, 3, 4, 5, 6, 7]), 3, json!({"max_cost_per_item": "100"})));
    assert_eq!(batch_chunks(&swarm, &outcome).len(), 3);
    assert_eq!(swarm.balance("manager"), 300, "every chunk's price is locked at once");
    let mut more = inline_batch(json!([1, 2, 3, 4]), 2, json!({"max_cost_per_item": "100"}));
    more["batch_id"] = json!("more");
    // 300 left, 400 asked: refused whole, nothing filed.
    refused(&mut swarm, "manager", more, "announce_beyond_funds");
    assert_eq!(swarm.state().market().committed_funds(&colony_testkit::agent_id("manager")), 0);
}

#[test]
fn a_queued_task_goes_to_an_agent_in_the_entry_that_lets_it_take_work() {
    let mut swarm = swarm();
    for agent in ["analyst-1", "analyst-2", "analyst-3", "scout"] {
        capacity(&mut swarm, agent, 1);
    }
    for analyst in ["analyst-1", "analyst-2", "analyst-3"] {
        let halt = json!({"type": "agent.halt", "agent": analyst, "reason": "audit"});
        assert!(swarm.operator(vec![command(halt)]).all_accepted());
    }
    let tasks: Vec<u64> = ["first", "second", "third"].iter().map(|name| direct(&mut swarm, name, json!({}))).collect();
    assert_eq!(queue(swarm.state()), tasks, "nobody can take them");

    // Resumed: it takes the first task in the entry that resumes it.
    assert!(swarm.operator(vec![command(json!({"type": "agent.resume", "agent": "analyst-2"}))]).all_accepted());
    assert_eq!(winner(&swarm, tasks[0]).as_deref(), Some("analyst-2"));
    // Given the capability.
    ok(&mut swarm, "scout", json!({"type": "agent.update", "agent": "scout", "capabilities": ["analyze"]}));
    assert_eq!(winner(&swarm, tasks[1]).as_deref(), Some("scout"));
    // Registered with the capability.
    assert!(
        swarm.operator(vec![Register::new("analyst-4", "analyst").capabilities(["analyze"]).build()]).all_accepted()
    );
    assert_eq!(winner(&swarm, tasks[2]).as_deref(), Some("analyst-4"));
    assert!(queue(swarm.state()).is_empty());
}

#[test]
fn a_queued_task_goes_to_a_silent_agent_when_it_is_heard_from_again() {
    let mut swarm = swarm();
    let ttl_ms = swarm.state().config().heartbeat_ttl_ms;
    let later = swarm.now_ms() + ttl_ms + 1;
    swarm.factory().set_now_ms(later);
    ok(&mut swarm, "manager", json!({"type": "agent.heartbeat"}));
    let id = direct(&mut swarm, "late", json!({}));
    assert_eq!(queue(swarm.state()), vec![id], "every analyst fell silent");
    ok(&mut swarm, "analyst-3", json!({"type": "agent.heartbeat"}));
    assert_eq!(winner(&swarm, id).as_deref(), Some("analyst-3"));
}
