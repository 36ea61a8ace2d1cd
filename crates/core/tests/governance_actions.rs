//! Guarded actions: a proposal's commands run at the close that approves it, once, all or none, with
//! what became of them sealed; the operator's guarded kinds refused after bootstrap; and the actions a
//! hostile proposer cannot file.

mod support;

use colony_core::governance::{ActionResult, Outcome, ProposalState, SealInput, seal};
use colony_core::{Accepted, Amount, EventKind, Proposal, State, limits};
use serde_json::{Value, json};
use support::market::command;
use support::{OutcomeExt, Simulator, agent_id};

/// Seed 001's four agents and a scout, and bootstrap ended.
fn swarm() -> Simulator {
    let mut swarm = Simulator::new();
    for (agent, role) in [
        ("agent-architect", "architect"),
        ("agent-developer", "developer"),
        ("agent-security", "security"),
        ("agent-auditor", "auditor"),
        ("scout", "scout"),
    ] {
        assert!(swarm.register(agent, role).all_accepted());
    }
    let ended = swarm.operator(vec![command(json!({"type": "governance.bootstrap_end"}))]);
    assert_eq!(ended.single(), &Ok(Accepted::Done));
    assert!(ended.events.iter().any(|event| matches!(event.kind, EventKind::BootstrapEnded {})));
    swarm
}

fn mint(transfer_id: &str, to: &str, amount: u64) -> Value {
    json!({"type": "ledger.mint", "transfer_id": transfer_id, "to": to, "amount": amount.to_string()})
}

/// Seed 001's threshold of 4.0 over its four roles' agents, with `action` and a quorum of half of them.
fn proposal_with(proposal_id: &str, action: Value) -> Value {
    json!({
        "type": "proposal.create", "proposal_id": proposal_id, "title": "Grant the scout its budget",
        "vote_type": {"threshold": {"yes_weight": 4_000_000}}, "quorum": {"ballots": 2},
        "eligible": {"roles": ["architect", "developer", "security", "auditor"]}, "voting_ms": 60_000,
        "action": action
    })
}

fn create(swarm: &mut Simulator, who: &str, value: Value) -> u64 {
    match swarm.agent(who, vec![command(value)]).single() {
        Ok(Accepted::Proposal { proposal, existing: false }) => *proposal,
        other => panic!("expected a new proposal: {other:?}"),
    }
}

fn cast(swarm: &mut Simulator, who: &str, proposal: u64, choice: &str) -> colony_core::EntryOutcome {
    let outcome =
        swarm.agent(who, vec![command(json!({"type": "ballot.cast", "proposal": proposal, "choice": choice}))]);
    assert!(outcome.all_accepted(), "the ballot was refused: {outcome:?}");
    outcome
}

fn balance(state: &State, agent: &str) -> Amount {
    state.wallet(&agent_id(agent)).map_or(Amount(0), |wallet| wallet.balance())
}

fn proposal(swarm: &Simulator, id: u64) -> &Proposal {
    swarm.state().governance().proposal(id).expect("the proposal is retained")
}

#[test]
fn the_operator_mints_alone_in_bootstrap_but_not_after_it() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("scout", "scout").all_accepted());
    assert_eq!(swarm.state().governance().bootstrap_ended_at_ms(), None);
    assert!(swarm.operator(vec![command(mint("setup", "scout", 10))]).all_accepted());
    let agent_tries = swarm.agent("scout", vec![command(json!({"type": "governance.bootstrap_end"}))]);
    assert_eq!(agent_tries.single_code(), Some("unauthorized"));
    assert!(swarm.operator(vec![command(json!({"type": "governance.bootstrap_end"}))]).all_accepted());
    let ended_at = swarm.state().governance().bootstrap_ended_at_ms();
    assert!(ended_at.is_some());
    // Refused, changing nothing: the same entry without the mint reaches the same state.
    let mut twin = swarm.clone();
    let refused = swarm.operator(vec![command(mint("later", "scout", 10))]);
    assert_eq!(refused.single_code(), Some("guarded"));
    let baseline = twin.operator(vec![command(json!({"type": "proposal.veto", "proposal": u64::MAX}))]);
    assert!(baseline.single().is_err());
    assert_eq!(refused.events, baseline.events);
    assert_eq!(swarm.state().state_hash(), twin.state().state_hash());
    assert_eq!(balance(swarm.state(), "scout"), Amount(10));
    // Ending it again changes nothing; changing the guarded set is itself guarded.
    let again = swarm.operator(vec![command(json!({"type": "governance.bootstrap_end"}))]);
    assert_eq!(
        (again.single(), swarm.state().governance().bootstrap_ended_at_ms()),
        (&Ok(Accepted::Unchanged), ended_at)
    );
    let config = serde_json::to_value(colony_core::SwarmConfig::default()).unwrap();
    let set = swarm.operator(vec![command(json!({"type": "config.set", "config": config}))]);
    assert_eq!(set.single_code(), Some("guarded"));
}

#[test]
fn an_approved_action_runs_once_at_its_close_and_its_seal_covers_it() {
    let mut swarm = swarm();
    let id = create(&mut swarm, "agent-architect", proposal_with("grant", json!([mint("grant-1", "scout", 500)])));
    assert_eq!(proposal(&swarm, id).terms.action.len(), 1);
    cast(&mut swarm, "agent-architect", id, "yes");
    assert_eq!(balance(swarm.state(), "scout"), Amount(0), "nothing runs before the close");
    let closing = cast(&mut swarm, "agent-auditor", id, "yes");
    let names: Vec<&str> = closing.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["ballot.cast", "ledger.transfer", "proposal.executed", "proposal.closed"]);
    assert_eq!(balance(swarm.state(), "scout"), Amount(500));
    let stored = proposal(&swarm, id);
    let decision = stored.decision.as_ref().unwrap();
    assert_eq!(
        (&decision.outcome, &decision.action_result),
        (&Outcome::Approved, &Some(ActionResult::Executed { commands: 1 }))
    );
    assert_eq!(stored.recompute_seal(), Some(decision.seal));
    // The seal covers the action's bytes and its result: either changed, the seal is another.
    let mut altered = stored.clone();
    altered.terms.action = vec![command(mint("grant-1", "scout", 501))];
    assert_ne!(altered.recompute_seal(), Some(decision.seal));
    let failed = ActionResult::Failed { index: 0, code: "guarded".to_owned() };
    let input = SealInput::of(stored, decision).with_action_result(Some(&failed));
    assert_ne!(seal(&input), decision.seal);
    // Never again: not at the deadline, not on a replay, not from a snapshot.
    swarm.tick_after(120_000);
    assert_eq!(balance(swarm.state(), "scout"), Amount(500));
    let restored = State::decode_snapshot(&swarm.state().encode_snapshot()).expect("decodes");
    assert_eq!(restored.state_hash(), swarm.state().state_hash());
    assert_eq!(restored.governance().proposal(id), swarm.state().governance().proposal(id));
    assert_eq!(swarm.replay_log().state_hash(), swarm.state().state_hash());
    swarm.state().check_invariants().expect("invariants hold");
}

#[test]
fn a_rejected_unquorate_vetoed_or_cancelled_proposal_never_runs_its_action() {
    let mut swarm = swarm();
    // Rejected at its deadline: 3.5 of the 4.0.
    let rejected = create(&mut swarm, "agent-architect", proposal_with("a", json!([mint("a", "scout", 1)])));
    cast(&mut swarm, "agent-security", rejected, "yes");
    cast(&mut swarm, "agent-auditor", rejected, "yes");
    // No quorum: three ballots asked, none cast.
    let mut unquorate = proposal_with("b", json!([mint("b", "scout", 2)]));
    unquorate["quorum"] = json!({"ballots": 3});
    let unquorate = create(&mut swarm, "agent-architect", unquorate);
    let mut vetoed = proposal_with("c", json!([mint("c", "scout", 4)]));
    vetoed["veto_holders"] = json!(["agent-developer"]);
    let vetoed = create(&mut swarm, "agent-architect", vetoed);
    cast(&mut swarm, "agent-architect", vetoed, "yes");
    assert!(
        swarm
            .agent("agent-developer", vec![command(json!({"type": "proposal.veto", "proposal": vetoed}))])
            .all_accepted()
    );
    let cancelled = create(&mut swarm, "agent-architect", proposal_with("d", json!([mint("d", "scout", 8)])));
    assert!(swarm.operator(vec![command(json!({"type": "proposal.cancel", "proposal": cancelled}))]).all_accepted());
    swarm.tick_after(120_000);
    assert_eq!(balance(swarm.state(), "scout"), Amount(0));
    for (id, outcome) in [
        (rejected, Some(Outcome::Rejected)),
        (unquorate, Some(Outcome::NoQuorum)),
        (vetoed, Some(Outcome::Rejected)),
        (cancelled, None),
    ] {
        let stored = proposal(&swarm, id);
        assert_eq!(stored.decision.as_ref().map(|decision| decision.outcome.clone()), outcome, "proposal {id}");
        assert!(stored.decision.as_ref().is_none_or(|decision| decision.action_result.is_none()));
    }
    assert_eq!(proposal(&swarm, cancelled).state, ProposalState::Cancelled);
}

#[test]
fn an_action_refused_at_its_close_applies_nothing_and_is_sealed_as_failed() {
    let mut swarm = swarm();
    let action = json!([
        mint("first", "scout", 5),
        json!({"type": "agent.update", "agent": "agent-developer", "weight": 9_000_000}),
        json!({"type": "agent.halt", "agent": "ghost", "reason": "no such agent"}),
    ]);
    let id = create(&mut swarm, "agent-architect", proposal_with("fails", action));
    let before = swarm.state().registry().get(&agent_id("agent-developer")).unwrap().weight;
    cast(&mut swarm, "agent-architect", id, "yes");
    let closing = cast(&mut swarm, "agent-auditor", id, "yes");
    let names: Vec<&str> = closing.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["ballot.cast", "proposal.action_failed", "proposal.closed"]);
    assert_eq!(balance(swarm.state(), "scout"), Amount(0));
    assert_eq!(swarm.state().registry().get(&agent_id("agent-developer")).unwrap().weight, before);
    assert_eq!(swarm.state().ledger().supply(), 0);
    let stored = proposal(&swarm, id);
    let decision = stored.decision.as_ref().unwrap();
    assert_eq!(decision.action_result, Some(ActionResult::Failed { index: 2, code: "agent_not_found".to_owned() }));
    assert_eq!(stored.recompute_seal(), Some(decision.seal));
    swarm.state().check_invariants().expect("invariants hold");
    assert_eq!(swarm.replay_log().state_hash(), swarm.state().state_hash());
}

#[test]
fn an_action_that_changes_the_guarded_set_runs_as_the_operator_would() {
    let mut swarm = swarm();
    let mut config = serde_json::to_value(colony_core::SwarmConfig::default()).unwrap();
    config["guarded"] = json!(["config.set"]);
    let id = create(
        &mut swarm,
        "agent-architect",
        proposal_with("unguard", json!([{"type": "config.set", "config": config}])),
    );
    cast(&mut swarm, "agent-architect", id, "yes");
    cast(&mut swarm, "agent-security", id, "yes");
    assert_eq!(swarm.state().config().guarded.len(), 1);
    // Minting is no longer guarded: the operator mints alone again.
    assert!(swarm.operator(vec![command(mint("now", "scout", 3))]).all_accepted());
}

#[test]
fn a_hostile_proposer_cannot_file_a_nested_oversized_or_optional_action() {
    let mut swarm = swarm();
    let refused = |swarm: &mut Simulator, value: Value, code: &str| {
        let outcome = swarm.agent("scout", vec![command(value)]);
        assert_eq!(outcome.single_code(), Some(code), "{outcome:?}");
    };
    let nested = proposal_with("inner", json!([]));
    refused(&mut swarm, proposal_with("outer", json!([nested])), "invalid_field");
    refused(
        &mut swarm,
        proposal_with("ballot", json!([{"type": "ballot.cast", "proposal": 0, "choice": "yes"}])),
        "invalid_field",
    );
    let many: Vec<Value> =
        (0..=limits::ACTION_COMMANDS_MAX).map(|index| mint(&format!("m-{index}"), "scout", 1)).collect();
    refused(&mut swarm, proposal_with("many", json!(many)), "limit_reached");
    let payload = "x".repeat(3_000);
    let big: Vec<Value> = (0..limits::ACTION_COMMANDS_MAX)
        .map(|_| json!({"type": "bus.publish", "subject": "orders.new", "payload": payload}))
        .collect();
    refused(&mut swarm, proposal_with("big", json!(big)), "limit_reached");
    let mut options = proposal_with("options", json!([mint("o", "scout", 1)]));
    options["vote_type"] = json!({"approval": {"options": 2}});
    refused(&mut swarm, options, "invalid_field");
    // Nor turn an action's vote into an option vote by amending it.
    let id = create(&mut swarm, "scout", proposal_with("amended", json!([mint("o", "scout", 1)])));
    let amend = json!({"type": "proposal.amend", "proposal": id, "vote_type": {"approval": {"options": 2}}});
    refused(&mut swarm, amend, "invalid_field");
    assert_eq!(swarm.state().governance().proposals().count(), 1);
}

#[test]
fn an_action_survives_the_stored_encoding_of_every_kind_it_may_hold() {
    // A proposal holding commands of several shapes, through a snapshot (the testkit checks every
    // actionable kind its streams generate through the stored encoding).
    let mut swarm = swarm();
    let action = json!([
        mint("s-1", "scout", 1),
        {"type": "ledger.transfer", "transfer_id": "t", "to": "scout", "amount": "1"},
        {"type": "agent.update", "agent": "scout", "capabilities": ["scan"], "weight": 2_000_000},
        {"type": "bus.publish", "subject": "orders.new", "payload": {"price": 3, "tags": ["a"]}},
        {"type": "escrow.resolve", "escrow": 1, "resolution": {"split": {"payee_bps": 5_000}}},
        {"type": "config.set", "config": serde_json::to_value(colony_core::SwarmConfig::default()).unwrap()},
    ]);
    let id = create(&mut swarm, "scout", proposal_with("stored", action));
    let restored = State::decode_snapshot(&swarm.state().encode_snapshot()).expect("decodes");
    assert_eq!(restored.governance().proposal(id), swarm.state().governance().proposal(id));
    assert_eq!(restored.state_hash(), swarm.state().state_hash());
}

#[test]
fn a_proposer_cannot_pick_who_decides_its_action_nor_a_rule_its_own_ballot_meets() {
    let mut swarm = swarm();
    let grant = json!([mint("self-grant", "scout", 1_000_000)]);
    let refusals = [
        // Itself as the only voter, or itself and a list it chose.
        (json!({"eligible": {"agents": ["scout"]}}), "eligible"),
        (json!({"eligible": {"agents": ["scout", "agent-developer"]}}), "eligible"),
        // Its own role alone: one voter.
        (json!({"eligible": {"roles": ["scout"]}}), "eligible"),
        // No quorum, or a quorum one ballot meets.
        (json!({"quorum": "none"}), "quorum"),
        (json!({"quorum": {"ballots": 1}}), "quorum"),
        (json!({"quorum": {"share": {"numerator": "1", "denominator": "3"}}}), "quorum"),
        // A threshold below half the electorate's weight (7.0 by role), or a ratio below one half.
        (json!({"vote_type": {"threshold": {"yes_weight": 1_000_000}}}), "vote_type"),
        (json!({"vote_type": {"supermajority": {"threshold": {"numerator": "1", "denominator": "3"}}}}), "vote_type"),
    ];
    for (terms, field) in refusals {
        let mut create = proposal_with("self-grant", grant.clone());
        create.as_object_mut().unwrap().extend(terms.as_object().unwrap().clone());
        let outcome = swarm.agent("scout", vec![command(create.clone())]);
        assert_eq!(outcome.single_code(), Some("invalid_field"), "{create}");
        let refused = format!("{:?}", outcome.single());
        assert!(refused.contains(field), "refused on {field}: {refused}");
    }
    assert_eq!(balance(swarm.state(), "scout"), Amount(0));
    // Every active agent decides, by a majority with a quorum of half: taken.
    let mut fair = proposal_with("grant", grant);
    fair.as_object_mut().unwrap().remove("eligible");
    fair["vote_type"] = json!("plurality");
    fair["quorum"] = json!({"ballots": 3});
    create(&mut swarm, "scout", fair);
}
