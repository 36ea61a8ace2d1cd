//! The task market's rules, flow by flow: the seed's auction and its score, the award that locks
//! escrow, verification that pays or disputes and retries, deadlines in log time, dependencies, and
//! the refusals a hostile agent meets. Every entry is followed by the invariant check (the testkit's
//! simulator runs it), which includes "a task under way holds exactly one locked escrow".

mod support;

use colony_core::{Accepted, AttemptOutcome, Command, EscrowState, EventKind, Task, TaskState};
use serde_json::{Value, json};
use support::commands::Register;
use support::market::{command, ok, refused};
use support::{OutcomeExt, Simulator, agent_id};

fn task(swarm: &Simulator, id: u64) -> &Task {
    swarm.state().market().task(id).expect("the task exists")
}

/// A manager with 1,000 units, two analysts that can analyze, a scout that cannot, a verifier.
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

/// Announces seed 000's task: max cost 10, deadline 1,000 ms, the default window of 2,000 ms.
fn announce(swarm: &mut Simulator, extra: Value) -> u64 {
    let mut announcement = json!({
        "type": "task.announce", "task_id": "rsi-btc", "kind": "analyze",
        "required_capabilities": ["analyze"], "payload": {"asset": "BTC"},
        "max_cost": "10", "deadline_ms": 1_000
    });
    announcement.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let outcome = ok(swarm, "manager", announcement);
    match outcome.single() {
        Ok(Accepted::Task { task, existing: false }) => *task,
        other => panic!("expected a new task: {other:?}"),
    }
}

fn bid(task: u64, cost: &str, time_ms: u64, confidence: &str) -> Value {
    json!({"type": "task.bid", "task": task, "estimated_cost": cost, "estimated_time_ms": time_ms, "confidence": confidence})
}

/// Seed 000's two bids, and the window closing.
fn awarded_seed_task(swarm: &mut Simulator) -> u64 {
    let id = announce(swarm, json!({}));
    ok(swarm, "analyst-1", bid(id, "5", 500, "0.9"));
    ok(swarm, "analyst-2", bid(id, "2", 800, "0.6"));
    swarm.tick_after(2_001);
    id
}

#[test]
fn seed_000_auction_awards_the_higher_score_and_locks_its_price() {
    let mut swarm = swarm();
    let id = announce(&mut swarm, json!({}));
    ok(&mut swarm, "analyst-1", bid(id, "5", 500, "0.9"));
    ok(&mut swarm, "analyst-2", bid(id, "2", 800, "0.6"));
    // At the window's last millisecond the task still takes bids and is not awarded.
    swarm.advance_ms(2_000);
    ok(&mut swarm, "analyst-3", bid(id, "9", 990, "0.1"));
    assert_eq!(task(&swarm, id).state, TaskState::Open);
    let outcome = swarm.tick_after(1);
    let awarded = outcome.events.iter().find_map(|event| match &event.kind {
        EventKind::TaskAwarded { winner, escrow, price, score, .. } => Some((winner.clone(), *escrow, *price, *score)),
        _ => None,
    });
    let (winner, escrow, price, score) = awarded.expect("the window's close awards the task");
    assert_eq!((winner.as_str(), price.0, score.to_string().as_str()), ("analyst-1", 5, "0.62"));
    let escrow = swarm.escrow(escrow);
    assert_eq!(
        (escrow.state, escrow.payer.as_str(), escrow.amount.0, escrow.for_task),
        (EscrowState::Locked, "manager", 5, Some(id))
    );
    assert_eq!(swarm.balance("manager"), 995);
    assert_eq!(task(&swarm, id).state, TaskState::Awarded);

    ok(&mut swarm, "analyst-1", json!({"type": "task.accept", "task": id}));
    ok(&mut swarm, "analyst-1", json!({"type": "task.progress", "task": id, "percent": 50, "note": "half way"}));
    swarm.advance_ms(300);
    ok(
        &mut swarm,
        "analyst-1",
        json!({"type": "task.submit", "task": id, "result": {"rsi": 61.5}, "actual_cost": "4"}),
    );
    ok(&mut swarm, "manager", json!({"type": "task.verify", "task": id, "score": "0.85"}));
    let done = task(&swarm, id);
    assert_eq!(done.state, TaskState::Completed);
    assert_eq!(
        done.result().and_then(|result| result.result.as_ref()).map(|text| text.as_str()),
        Some("{\"rsi\":61.5}")
    );
    assert_eq!(swarm.escrow(done.attempts[0].escrow).state, EscrowState::Released);
    assert_eq!(swarm.balance("analyst-1"), 5, "the 1% fee of 5 minor units rounds down to nothing");
    let reputation = swarm.state().reputation(&agent_id("analyst-1")).expect("a record");
    assert_eq!((reputation.tasks, reputation.succeeded, reputation.on_time), (1, 1, 1));
    assert_eq!(reputation.performance.to_string(), "0.97", "0.8 × 1 + 0.2 × 0.85");
    assert_eq!(swarm.state().market().live_bids(), 0, "the other bids ended with the task");
}

#[test]
fn a_low_score_disputes_the_escrow_and_retries_with_the_next_bid() {
    let mut swarm = swarm();
    let id = awarded_seed_task(&mut swarm);
    ok(&mut swarm, "analyst-1", json!({"type": "task.submit", "task": id, "result": "junk"}));
    let outcome = ok(&mut swarm, "manager", json!({"type": "task.verify", "task": id, "score": "0.5"}));
    let first = &task(&swarm, id).attempts[0];
    assert_eq!(first.outcome, AttemptOutcome::Rejected { score: "0.5".parse_fraction() });
    let disputed = swarm.escrow(first.escrow);
    assert_eq!(disputed.state, EscrowState::Disputed);
    assert_eq!(disputed.dispute.as_ref().map(|(_, reason)| reason.as_str()), Some("Low quality score: 0.50"));
    // The retry locks a fresh escrow for the next-best bid in the same entry.
    let second = &task(&swarm, id).attempts[1];
    assert_eq!((second.winner.as_str(), second.price.0), ("analyst-2", 2));
    assert!(
        outcome.events.iter().any(
            |event| matches!(&event.kind, EventKind::TaskAwarded { winner, .. } if winner.as_str() == "analyst-2")
        )
    );
    assert_eq!(task(&swarm, id).retries, 1);
    assert_eq!(swarm.balance("manager"), 1_000 - 5 - 2, "the disputed escrow stays held for the arbiter");
    // The operator (no arbiter named) settles the dispute; the task is not touched by it.
    swarm.operator(vec![command(json!({"type": "escrow.resolve", "escrow": first.escrow, "resolution": "refund"}))]);
    assert_eq!(swarm.balance("manager"), 998);
    assert_eq!(task(&swarm, id).state, TaskState::Awarded);
}

trait ParseFraction {
    fn parse_fraction(&self) -> colony_core::Fraction;
}

impl ParseFraction for str {
    fn parse_fraction(&self) -> colony_core::Fraction {
        colony_core::Fraction::parse(self).expect("a fraction")
    }
}

#[test]
fn a_missed_deadline_refunds_and_the_last_failure_fails_the_task() {
    let mut swarm = swarm();
    let id = announce(&mut swarm, json!({"max_retries": 1}));
    ok(&mut swarm, "analyst-1", bid(id, "5", 500, "0.9"));
    ok(&mut swarm, "analyst-2", bid(id, "2", 800, "0.6"));
    swarm.tick_after(2_001);
    ok(&mut swarm, "analyst-1", json!({"type": "task.accept", "task": id}));
    swarm.tick_after(1_001);
    let attempts = &task(&swarm, id).attempts;
    assert_eq!(attempts[0].outcome, AttemptOutcome::MissedDeadline);
    assert_eq!(swarm.escrow(attempts[0].escrow).state, EscrowState::Refunded);
    assert_eq!(attempts[1].winner.as_str(), "analyst-2");
    assert_eq!(swarm.state().reputation(&agent_id("analyst-1")).unwrap().performance.to_string(), "0.8");
    swarm.tick_after(1_001);
    let ended = task(&swarm, id);
    assert_eq!(ended.state, TaskState::Failed);
    assert_eq!(ended.reason.as_deref(), Some("failed 2 times"));
    assert_eq!(swarm.balance("manager"), 1_000, "every late escrow was refunded");
}

#[test]
fn a_decline_goes_to_the_next_bid_and_an_exhausted_auction_reopens() {
    let mut swarm = swarm();
    let id = awarded_seed_task(&mut swarm);
    ok(&mut swarm, "analyst-1", json!({"type": "task.decline", "task": id}));
    assert_eq!(task(&swarm, id).attempts[1].winner.as_str(), "analyst-2");
    assert_eq!(swarm.state().reputation(&agent_id("analyst-1")).unwrap().declined, 1);
    ok(&mut swarm, "analyst-2", json!({"type": "task.decline", "task": id}));
    // No bid left: a second round opens; the decliners may not bid again.
    let reopened = task(&swarm, id);
    assert_eq!((reopened.state, reopened.rounds), (TaskState::Open, 2));
    refused(&mut swarm, "analyst-1", bid(id, "5", 500, "0.9"), "bidder_excluded");
    ok(&mut swarm, "analyst-3", bid(id, "7", 500, "0.9"));
    swarm.tick_after(2_001);
    assert_eq!(task(&swarm, id).attempts[2].winner.as_str(), "analyst-3");
    assert_eq!(swarm.balance("manager"), 993);
}

#[test]
fn unscored_results_are_paid_when_the_verification_window_ends() {
    let mut swarm = swarm();
    let id = announce(&mut swarm, json!({"verifier": "verifier", "verify_window_ms": 5_000}));
    ok(&mut swarm, "analyst-1", bid(id, "5", 500, "0.9"));
    swarm.tick_after(2_001);
    ok(
        &mut swarm,
        "analyst-1",
        json!({"type": "task.submit", "task": id, "reference": {"uri": "s3://results/1", "sha256": "00".repeat(32)}}),
    );
    refused(&mut swarm, "manager", json!({"type": "task.verify", "task": id, "score": "1"}), "unauthorized");
    swarm.tick_after(5_001);
    let done = task(&swarm, id);
    assert_eq!(done.state, TaskState::Completed);
    assert_eq!(done.attempts[0].outcome, AttemptOutcome::Completed { score: None });
    assert_eq!(swarm.balance("analyst-1"), 5);
}

#[test]
fn no_bids_is_unassigned_and_no_money_is_unfunded() {
    let mut swarm = swarm();
    let id = announce(&mut swarm, json!({}));
    swarm.tick_after(2_001);
    assert_eq!(task(&swarm, id).state, TaskState::Unassigned);

    // The announce needs the whole max_cost in the wallet; the award needs the price. Money that
    // leaves in between leaves the task unfunded.
    swarm.register_all(&["poor", "creditor"], "analyst");
    swarm.fund("poor", 10);
    let outcome = ok(
        &mut swarm,
        "poor",
        json!({"type": "task.announce", "task_id": "t", "kind": "analyze", "max_cost": "10", "deadline_ms": 1_000}),
    );
    let Ok(Accepted::Task { task: poor_task, .. }) = outcome.single() else { panic!() };
    let poor_task = *poor_task;
    ok(&mut swarm, "analyst-1", bid(poor_task, "5", 500, "0.9"));
    ok(&mut swarm, "poor", json!({"type": "ledger.transfer", "transfer_id": "debt", "to": "creditor", "amount": "7"}));
    swarm.tick_after(2_001);
    let unfunded = task(&swarm, poor_task);
    assert_eq!(unfunded.state, TaskState::Unfunded);
    assert!(unfunded.reason.as_deref().unwrap().contains("insufficient funds"), "{:?}", unfunded.reason);
    assert_eq!(swarm.balance("poor"), 3);
}

#[test]
fn invited_auctions_close_when_every_invited_agent_has_bid() {
    let mut swarm = swarm();
    let id = announce(&mut swarm, json!({"invited": ["analyst-1", "analyst-2"], "bid_window_ms": 60_000}));
    refused(&mut swarm, "analyst-3", bid(id, "1", 100, "1"), "not_invited");
    ok(&mut swarm, "analyst-2", bid(id, "2", 800, "0.6"));
    assert_eq!(task(&swarm, id).state, TaskState::Open);
    ok(&mut swarm, "analyst-1", bid(id, "5", 500, "0.9"));
    assert_eq!(task(&swarm, id).state, TaskState::Awarded);
    assert_eq!(task(&swarm, id).attempts[0].winner.as_str(), "analyst-1");
}

#[test]
fn announcing_again_is_idempotent_and_different_terms_conflict() {
    let mut swarm = swarm();
    let id = announce(&mut swarm, json!({}));
    let again = json!({"type": "task.announce", "task_id": "rsi-btc", "kind": "analyze",
        "required_capabilities": ["analyze"], "payload": {"asset": "BTC"}, "max_cost": "10", "deadline_ms": 1_000});
    let outcome = ok(&mut swarm, "manager", again.clone());
    assert_eq!(outcome.single(), &Ok(Accepted::Task { task: id, existing: true }));
    let mut different = again;
    different["max_cost"] = json!("11");
    refused(&mut swarm, "manager", different, "task_id_conflict");
}

#[test]
fn dependencies_open_tasks_in_order_and_failures_cascade() {
    let mut swarm = swarm();
    let scan = announce(&mut swarm, json!({"task_id": "scan"}));
    let risk = announce(&mut swarm, json!({"task_id": "risk", "depends_on": ["scan"]}));
    let execute = announce(&mut swarm, json!({"task_id": "execute", "depends_on": ["risk"]}));
    let report =
        announce(&mut swarm, json!({"task_id": "report", "depends_on": ["risk"], "on_dependency_failure": "skip"}));
    refused(
        &mut swarm,
        "manager",
        json!({"type": "task.announce", "task_id": "loop", "kind": "analyze", "max_cost": "1", "deadline_ms": 1, "depends_on": ["loop"]}),
        "dependency_cycle",
    );
    refused(
        &mut swarm,
        "manager",
        json!({"type": "task.announce", "task_id": "orphan", "kind": "analyze", "max_cost": "1", "deadline_ms": 1, "depends_on": ["nothing"]}),
        "dependency_not_found",
    );
    assert_eq!(task(&swarm, risk).state, TaskState::Waiting);
    refused(&mut swarm, "analyst-1", bid(risk, "5", 500, "0.9"), "task_state");

    ok(&mut swarm, "analyst-1", bid(scan, "5", 500, "0.9"));
    swarm.tick_after(2_001);
    ok(&mut swarm, "analyst-1", json!({"type": "task.submit", "task": scan, "result": {"signals": 3}}));
    ok(&mut swarm, "manager", json!({"type": "task.verify", "task": scan, "score": "1"}));
    assert_eq!(task(&swarm, risk).state, TaskState::Open, "risk opens when scan completes");
    assert_eq!(task(&swarm, execute).state, TaskState::Waiting);

    ok(&mut swarm, "manager", json!({"type": "task.cancel", "task": risk, "reason": "market closed"}));
    assert_eq!(task(&swarm, execute).state, TaskState::Failed, "fail cascades");
    assert_eq!(
        task(&swarm, execute).reason.as_deref(),
        Some(format!("dependency {risk} ended without completing").as_str())
    );
    assert_eq!(task(&swarm, report).state, TaskState::Open, "skip opens anyway");
    assert_eq!(swarm.state().market().open_tasks(), 1);
}

#[test]
fn hostile_agents_are_refused_and_change_nothing() {
    let mut swarm = swarm();
    let id = announce(&mut swarm, json!({"verifier": "verifier"}));
    refused(&mut swarm, "manager", bid(id, "5", 500, "0.9"), "own_task");
    refused(&mut swarm, "verifier", bid(id, "5", 500, "0.9"), "own_task");
    refused(&mut swarm, "scout", bid(id, "5", 500, "0.9"), "missing_capability");
    refused(&mut swarm, "analyst-1", bid(id, "11", 500, "0.9"), "bid_above_max_cost");
    refused(&mut swarm, "analyst-1", bid(id, "0", 500, "0.9"), "invalid_field");
    refused(&mut swarm, "analyst-1", bid(id, "5", 1_001, "0.9"), "bid_beyond_deadline");
    refused(&mut swarm, "analyst-1", bid(99, "5", 500, "0.9"), "task_not_found");
    refused(&mut swarm, "analyst-1", json!({"type": "task.withdraw_bid", "task": id}), "bid_not_found");
    refused(&mut swarm, "analyst-1", json!({"type": "task.award", "task": id}), "unauthorized");
    ok(&mut swarm, "analyst-1", bid(id, "5", 500, "0.9"));
    ok(&mut swarm, "analyst-2", bid(id, "2", 800, "0.6"));
    ok(&mut swarm, "manager", json!({"type": "task.award", "task": id}));
    refused(&mut swarm, "manager", json!({"type": "task.award", "task": id}), "task_state");
    refused(&mut swarm, "analyst-3", bid(id, "5", 500, "0.9"), "bidding_closed");
    refused(&mut swarm, "analyst-2", json!({"type": "task.accept", "task": id}), "unauthorized");
    refused(&mut swarm, "analyst-2", json!({"type": "task.submit", "task": id, "result": 1}), "unauthorized");
    refused(&mut swarm, "analyst-1", json!({"type": "task.submit", "task": id}), "invalid_field");
    refused(&mut swarm, "analyst-1", json!({"type": "task.verify", "task": id, "score": "1"}), "unauthorized");
    let escrow = task(&swarm, id).attempts[0].escrow;
    // The payer cannot take the escrow back, nor the winner pay itself, around the task.
    let before = swarm.ledger().clone();
    for (who, value) in [
        ("manager", json!({"type": "escrow.release", "escrow": escrow})),
        ("analyst-1", json!({"type": "escrow.refund", "escrow": escrow})),
        ("manager", json!({"type": "escrow.extend", "escrow": escrow, "timeout_ms": 90_000_000})),
    ] {
        let outcome = swarm.agent(who, vec![command(value)]);
        assert_eq!(outcome.single_code(), Some("escrow_owned_by_task"));
    }
    assert_eq!(swarm.ledger(), &before);
    ok(&mut swarm, "analyst-1", json!({"type": "task.accept", "task": id}));
    refused(&mut swarm, "manager", json!({"type": "task.cancel", "task": id}), "task_state");
    ok(&mut swarm, "analyst-1", json!({"type": "task.submit", "task": id, "result": 1}));
    refused(&mut swarm, "analyst-1", json!({"type": "task.submit", "task": id, "result": 2}), "task_state");
    // A score as a JSON number would pass through a binary float: it is not even a command.
    assert!(serde_json::from_value::<Command>(json!({"type": "task.verify", "task": id, "score": 0.9})).is_err());
}

#[test]
fn a_party_dispute_ends_the_task_for_the_arbiter() {
    let mut swarm = swarm();
    let id = announce(&mut swarm, json!({"arbiter": "verifier"}));
    ok(&mut swarm, "analyst-1", bid(id, "5", 500, "0.9"));
    swarm.tick_after(2_001);
    let escrow = task(&swarm, id).attempts[0].escrow;
    ok(&mut swarm, "analyst-1", json!({"type": "escrow.dispute", "escrow": escrow, "reason": "scope changed"}));
    assert_eq!(task(&swarm, id).state, TaskState::Disputed);
    ok(
        &mut swarm,
        "verifier",
        json!({"type": "escrow.resolve", "escrow": escrow, "resolution": {"split": {"payee_bps": 5000}}}),
    );
    assert_eq!(swarm.escrow(escrow).state, EscrowState::Resolved);
    assert_eq!(swarm.balance("analyst-1") + swarm.balance("manager"), 1_000);
}

#[test]
fn replaying_the_log_gives_the_same_market() {
    let mut swarm = swarm();
    let id = awarded_seed_task(&mut swarm);
    ok(&mut swarm, "analyst-1", json!({"type": "task.submit", "task": id, "result": 1}));
    ok(&mut swarm, "manager", json!({"type": "task.verify", "task": id, "score": "0.4"}));
    let replayed = swarm.replay_log();
    assert_eq!(replayed.state_hash(), swarm.state().state_hash());
    let snapshot = colony_core::State::decode_snapshot(&swarm.state().encode_snapshot()).expect("decodes");
    assert_eq!(snapshot.market(), swarm.state().market());
}

#[test]
fn an_arbiter_that_left_before_the_award_leaves_the_task_unfunded_not_the_server_down() {
    let mut swarm = swarm();
    swarm.register_all(&["judge"], "analyst");
    let id = announce(&mut swarm, json!({"arbiter": "judge"}));
    ok(&mut swarm, "analyst-1", bid(id, "5", 500, "0.9"));
    swarm.operator(vec![command(json!({"type": "agent.deregister", "agent": "judge"}))]);
    swarm.tick_after(2_001);
    let ended = task(&swarm, id);
    assert_eq!(ended.state, TaskState::Unfunded);
    assert!(ended.reason.as_deref().unwrap().contains("arbiter"), "{:?}", ended.reason);
    assert_eq!(swarm.balance("manager"), 1_000);
}

#[test]
fn attempt_outcomes_name_their_json_tag() {
    for outcome in [
        AttemptOutcome::Current,
        AttemptOutcome::Declined,
        AttemptOutcome::MissedDeadline,
        AttemptOutcome::Rejected { score: "0.5".parse_fraction() },
        AttemptOutcome::Completed { score: None },
        AttemptOutcome::Cancelled,
        AttemptOutcome::Disputed,
    ] {
        let json = serde_json::to_value(&outcome).unwrap();
        let tag = json
            .as_str()
            .map(str::to_owned)
            .or_else(|| json.as_object().and_then(|object| object.keys().next().cloned()));
        assert_eq!(tag.as_deref(), Some(outcome.name()));
    }
}
