//! The market's limits, each reached: what an announce commits, the configured task kinds, open
//! tasks per manager, live bids per bidder and per task, and what a crowd of fresh, unfunded agents
//! can take (nothing). Every refusal changes neither the market nor the ledger.

mod support;

use colony_core::command::SetConfig;
use colony_core::{Accepted, Command, Name, Rejection, SwarmConfig, TaskState, limits};
use serde_json::{Value, json};
use support::commands::Register;
use support::market::{command, refused};
use support::{OutcomeExt, Simulator};

/// Sends `value` signed by `who`; it must be accepted, and this is what it returned.
#[track_caller]
fn ok(swarm: &mut Simulator, who: &str, value: Value) -> Accepted {
    support::market::ok(swarm, who, value).single().clone().expect("accepted")
}

fn announcement(task_id: &str, max_cost: u64) -> Value {
    json!({"type": "task.announce", "task_id": task_id, "kind": "analyze", "max_cost": max_cost.to_string(),
           "deadline_ms": 1_000, "bid_window_ms": 3_600_000})
}

fn announce(swarm: &mut Simulator, manager: &str, task_id: &str, max_cost: u64) -> u64 {
    match ok(swarm, manager, announcement(task_id, max_cost)) {
        Accepted::Task { task, existing: false } => task,
        other => panic!("expected a new task: {other:?}"),
    }
}

fn bid(task: u64, cost: u64) -> Value {
    json!({"type": "task.bid", "task": task, "estimated_cost": cost.to_string(), "estimated_time_ms": 100,
           "confidence": "0.5"})
}

fn committed(swarm: &Simulator, payer: &str) -> u128 {
    swarm.state().market().committed_funds(&support::agent_id(payer))
}

#[test]
fn an_announce_needs_the_funds_its_manager_has_not_yet_committed() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["manager", "worker"], "analyst");
    swarm.fund("manager", 100);
    let first = announce(&mut swarm, "manager", "first", 60);
    announce(&mut swarm, "manager", "second", 40);
    assert_eq!(committed(&swarm, "manager"), 100);
    let rejection = refused(&mut swarm, "manager", announcement("third", 1), "announce_beyond_funds");
    assert_eq!(rejection.field(), Some("max_cost"));
    assert!(rejection.to_string().contains("101"), "{rejection}");

    // The award locks the price (25) and frees the rest of the first task's max_cost: 75 is in the
    // wallet, 40 committed, so 35 more may be announced.
    ok(&mut swarm, "worker", bid(first, 25));
    ok(&mut swarm, "manager", json!({"type": "task.award", "task": first}));
    assert_eq!((swarm.balance("manager"), committed(&swarm, "manager")), (75, 40));
    refused(&mut swarm, "manager", announcement("third", 36), "announce_beyond_funds");
    let third = announce(&mut swarm, "manager", "third", 35);
    // A cancelled task commits nothing any more.
    ok(&mut swarm, "manager", json!({"type": "task.cancel", "task": third}));
    assert_eq!(committed(&swarm, "manager"), 40);
    assert_eq!(swarm.state().market().task(third).unwrap().state, TaskState::Cancelled);
}

#[test]
fn a_child_wallet_pays_from_and_commits_its_own_balance() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["manager"], "analyst");
    swarm.operator(vec![Register::new("child", "analyst").parent("manager").build()]);
    swarm.fund("manager", 1_000);
    swarm.fund("child", 10);
    let mut paid_by_child = announcement("by-child", 10);
    paid_by_child["payer"] = json!("child");
    ok(&mut swarm, "manager", paid_by_child.clone());
    paid_by_child["task_id"] = json!("by-child-2");
    refused(&mut swarm, "manager", paid_by_child, "announce_beyond_funds");
    assert_eq!((committed(&swarm, "child"), committed(&swarm, "manager")), (10, 0));
}

#[test]
fn task_kinds_are_the_configured_ones() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["manager"], "analyst");
    swarm.fund("manager", 100);
    let mut forecast = announcement("forecast-1", 1);
    forecast["kind"] = json!("forecast");
    let rejection = refused(&mut swarm, "manager", forecast.clone(), "unknown_task_kind");
    assert_eq!(rejection.field(), Some("kind"));
    for kind in ["analyze", "execute", "monitor"] {
        let mut seed_kind = announcement(kind, 1);
        seed_kind["kind"] = json!(kind);
        ok(&mut swarm, "manager", seed_kind);
    }
    let mut config: SwarmConfig = swarm.state().config().clone();
    config.task_kinds.insert(Name::new("forecast").unwrap());
    assert!(swarm.operator(vec![Command::SetConfig(SetConfig { config })]).all_accepted());
    ok(&mut swarm, "manager", forecast);
    // No kinds at all would close the market by accident: refused.
    let mut config: SwarmConfig = swarm.state().config().clone();
    config.task_kinds.clear();
    let outcome = swarm.operator(vec![Command::SetConfig(SetConfig { config })]);
    assert_eq!(outcome.single_rejection().field(), Some("task_kinds"));
}

#[test]
fn a_manager_holds_at_most_its_share_of_open_tasks() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["manager"], "analyst");
    swarm.fund("manager", 1_000_000);
    let max = limits::OPEN_TASKS_PER_MANAGER_MAX;
    let announces: Vec<Command> = (0..max).map(|n| command(announcement(&format!("t-{n}"), 1))).collect();
    assert!(swarm.agent("manager", announces).all_accepted());
    let rejection = refused(&mut swarm, "manager", announcement("one-too-many", 1), "limit_reached");
    assert!(matches!(rejection, Rejection::LimitReached { limit: "open_tasks_per_manager", .. }), "{rejection}");
    // An ended task frees its slot.
    ok(&mut swarm, "manager", json!({"type": "task.cancel", "task": 0}));
    announce(&mut swarm, "manager", "one-more", 1);
}

#[test]
fn a_bidder_holds_at_most_its_share_of_live_bids_and_a_task_takes_a_bounded_number() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["manager", "second-manager", "worker"], "analyst");
    swarm.fund("manager", 1_000_000);
    swarm.fund("second-manager", 1_000_000);
    let max = limits::LIVE_BIDS_PER_AGENT_MAX;
    let announces: Vec<Command> = (0..max).map(|n| command(announcement(&format!("t-{n}"), 10))).collect();
    assert!(swarm.agent("manager", announces).all_accepted());
    let bids: Vec<Command> = (0..max as u64).map(|task| command(bid(task, 5))).collect();
    assert!(swarm.agent("worker", bids).all_accepted());
    let other = announce(&mut swarm, "second-manager", "other", 10);
    let rejection = refused(&mut swarm, "worker", bid(other, 5), "limit_reached");
    assert!(matches!(rejection, Rejection::LimitReached { limit: "live_bids_per_agent", .. }), "{rejection}");
    // Replacing a live bid is not a new one; withdrawing one makes room.
    ok(&mut swarm, "worker", bid(0, 4));
    ok(&mut swarm, "worker", json!({"type": "task.withdraw_bid", "task": 0}));
    ok(&mut swarm, "worker", bid(other, 5));

    // One task takes BIDS_PER_TASK_MAX bids, from as many bidders.
    let crowd: Vec<String> = (0..=limits::BIDS_PER_TASK_MAX).map(|n| format!("bidder-{n}")).collect();
    let registrations: Vec<Command> = crowd.iter().map(|bidder| Register::new(bidder, "analyst").build()).collect();
    assert!(swarm.operator(registrations).all_accepted());
    let crowded = announce(&mut swarm, "second-manager", "crowded", 10);
    for bidder in &crowd[..limits::BIDS_PER_TASK_MAX] {
        ok(&mut swarm, bidder, bid(crowded, 5));
    }
    let rejection = refused(&mut swarm, &crowd[limits::BIDS_PER_TASK_MAX], bid(crowded, 5), "limit_reached");
    assert!(matches!(rejection, Rejection::LimitReached { limit: "bids_per_task", .. }), "{rejection}");
}

#[test]
fn a_crowd_of_fresh_unfunded_agents_cannot_fill_the_market() {
    // Keys cost nothing, so an attacker registers as many agents as the pace allows. Without money
    // none of them can announce anything, and each can hold only its own share of bids.
    let mut swarm = Simulator::new();
    swarm.register_all(&["manager"], "analyst");
    swarm.fund("manager", 1_000);
    let task = announce(&mut swarm, "manager", "real-work", 10);
    let attackers: Vec<String> = (0..50).map(|n| format!("sybil-{n}")).collect();
    for attacker in &attackers {
        assert!(swarm.self_register(attacker, "analyst").all_accepted());
        refused(&mut swarm, attacker, announcement("spam", 1), "announce_beyond_funds");
        ok(&mut swarm, attacker, bid(task, 10));
    }
    let market = swarm.state().market();
    assert_eq!((market.open_tasks(), market.live_bids()), (1, 50));
    // The honest manager's work goes on: it can still award, and a bidder can still bid.
    assert!(matches!(ok(&mut swarm, "manager", json!({"type": "task.award", "task": task})), Accepted::Done));
}

/// Announces, as `manager`, one direct task of `kind` for each of `workers` (invited alone), and has
/// each worker complete its task, scored 1: each completion is an affinity for the market to keep.
fn complete_for(swarm: &mut Simulator, manager: &str, work: &[(String, &str)]) {
    // Task ids unique to this call's entry, so that the same work done again is a new task.
    let sequence = swarm.state().sequence();
    let announces: Vec<Command> = work
        .iter()
        .map(|(worker, kind)| {
            command(json!({"type": "task.announce", "task_id": format!("{kind}-{worker}-{sequence}"), "kind": kind,
                           "distribution": "direct", "invited": [worker], "max_cost": "1", "deadline_ms": 60_000}))
        })
        .collect();
    let outcome = swarm.agent(manager, announces);
    let tasks: Vec<u64> = outcome
        .commands
        .iter()
        .map(|result| match result {
            Ok(Accepted::Task { task, .. }) => *task,
            other => panic!("expected a task: {other:?}"),
        })
        .collect();
    for ((worker, _), task) in work.iter().zip(&tasks) {
        let done = swarm.agent(
            worker,
            vec![
                command(json!({"type": "task.accept", "task": task})),
                command(json!({"type": "task.submit", "task": task, "result": {}})),
            ],
        );
        assert!(done.all_accepted(), "{done:?}");
    }
    let verdicts = tasks.iter().map(|task| command(json!({"type": "task.verify", "task": task, "score": "1"})));
    assert!(swarm.agent(manager, verdicts.collect()).all_accepted());
}

#[test]
fn a_manager_keeps_at_most_its_share_of_affinities_forgetting_the_stalest_and_a_deregistration_forgets() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["manager"], "analyst");
    swarm.fund("manager", 10_000);
    let max = limits::AFFINITIES_PER_MANAGER_MAX as usize;
    let workers: Vec<String> = (0..=max / 3).map(|n| format!("worker-{n:03}")).collect();
    let registrations = workers.iter().map(|worker| Register::new(worker, "analyst").build());
    assert!(swarm.operator(registrations.collect()).all_accepted());
    let kinds = ["analyze", "execute", "monitor"];
    // Three kinds for each of the first workers: one short of the limit (the open-task limit allows
    // no more at once), then the last one that fits, then one too many.
    let first: Vec<(String, &str)> =
        workers[..max / 3].iter().flat_map(|worker| kinds.map(|kind| (worker.clone(), kind))).collect();
    assert_eq!(first.len(), max - 1);
    complete_for(&mut swarm, "manager", &first);
    assert_eq!(swarm.state().affinity_count(), max - 1);
    let last = &workers[max / 3];
    complete_for(&mut swarm, "manager", &[(last.clone(), "analyze")]);
    assert_eq!(swarm.state().affinity_count(), max);
    let (manager, analyze, execute) =
        (support::agent_id("manager"), Name::new("analyze").unwrap(), Name::new("execute").unwrap());
    let has = |swarm: &Simulator, kind: &Name, worker: &str| {
        swarm.state().has_affinity(&manager, kind, &support::agent_id(worker))
    };
    // The first worker renews its `analyze` affinity: the stalest is now its `execute` one.
    complete_for(&mut swarm, "manager", &[(workers[0].clone(), "analyze")]);
    assert_eq!(swarm.state().affinity_count(), max, "a renewal adds nothing");
    complete_for(&mut swarm, "manager", &[(last.clone(), "execute")]);
    assert_eq!(swarm.state().affinity_count(), max, "the manager's share is full: the stalest made room");
    assert!(has(&swarm, &execute, last) && has(&swarm, &analyze, last));
    assert!(has(&swarm, &analyze, &workers[0]), "renewed, so kept");
    assert!(!has(&swarm, &execute, &workers[0]), "the stalest is forgotten");
    // Another manager's share is its own.
    swarm.register_all(&["other-manager"], "analyst");
    swarm.fund("other-manager", 10);
    complete_for(&mut swarm, "other-manager", &[(last.clone(), "execute")]);
    assert_eq!(swarm.state().affinity_count(), max + 1);
    assert!(max < limits::AFFINITIES_MAX, "the swarm-wide limit is larger than one manager's share");
    // A deregistered worker is forgotten by every manager; a deregistered manager forgets its own.
    assert!(swarm.agent(last, vec![command(json!({"type": "agent.deregister", "agent": last}))]).all_accepted());
    assert_eq!(swarm.state().affinity_count(), max + 1 - 3);
    assert!(swarm.operator(vec![support::commands::deregister("manager")]).all_accepted());
    assert_eq!(swarm.state().affinity_count(), 0);
    swarm.state().check_invariants().expect("the affinities' indexes agree");
}

#[test]
fn a_flood_of_capacity_declarations_grows_nothing_and_every_pass_stays_bounded() {
    // A hostile agent alternates its capacity as fast as it can write. Every declaration asks for a
    // pass over the assignment queue; each pass must stay within its bounds and the state must not
    // grow: one agent has at most one declared capacity.
    let mut swarm = Simulator::new();
    swarm.register_all(&["manager", "hostile"], "analyst");
    let analysts = ["analyst-1", "analyst-2", "analyst-3"];
    let registrations = analysts.map(|analyst| Register::new(analyst, "analyst").capabilities(["analyze"]).build());
    assert!(swarm.operator(registrations.into()).all_accepted());
    for analyst in analysts {
        ok(&mut swarm, analyst, json!({"type": "task.capacity", "max_load": 0}));
    }
    swarm.fund("manager", 1_000);
    let queued = 20;
    let announces: Vec<Command> = (0..queued)
        .map(|n| {
            command(json!({"type": "task.announce", "task_id": format!("t-{n}"), "kind": "analyze",
                           "distribution": "direct", "required_capabilities": ["analyze"], "max_cost": "1",
                           "deadline_ms": 1_000, "bid_window_ms": limits::BID_WINDOW_MS_MAX}))
        })
        .collect();
    assert!(swarm.agent("manager", announces).all_accepted());
    assert_eq!(swarm.state().assignment_queue().count(), queued);
    // The size once the hostile agent's nonce window is full (its last REPLAY_WINDOW_NONCES nonces are
    // kept) and its nonces are two-byte varints, as they stay until 16,384.
    let mut size_before = 0;

    for round in 0..4_000u32 {
        if round == 500 {
            size_before = swarm.state().encode_snapshot().len();
        }
        let max_load = if round % 2 == 0 { 5 } else { 0 };
        ok(&mut swarm, "hostile", json!({"type": "task.capacity", "max_load": max_load}));
        let state = swarm.state();
        assert!(state.declared_capacities() <= analysts.len() + 1, "round {round}");
        // The pass this declaration asked for ended within its entry: nothing is left due at once.
        assert!(state.next_deadline_ms() > Some(state.timestamp_ms() + 1), "round {round}: the pass did not finish");
        if round % 500 == 0 {
            for task in state.assignment_queue() {
                let look = state.direct_candidates(task).expect("queued");
                // Only the holders of `analyze` are examined, never the hostile agent or the swarm.
                assert_eq!((look.examined, look.candidates.len()), (analysts.len(), 0), "round {round}");
            }
        }
    }
    assert_eq!(swarm.state().assignment_queue().count(), queued);
    // Since then only the counters, the sequence and the nonces moved on: a few bytes of varints.
    let size_after = swarm.state().encode_snapshot().len();
    assert!(size_after <= size_before + 16, "the state grew from {size_before} to {size_after} bytes");
}
