//! Penalties: the operator (in bootstrap) or an approved proposal takes up to an amount from an
//! agent's wallet into the fee account; nobody else can, and a wallet never goes below zero.

mod support;

use colony_core::governance::{ActionResult, Outcome};
use colony_core::ledger::AccountId;
use colony_core::{Accepted, Amount, EventKind, State};
use serde_json::{Value, json};
use support::market::command;
use support::{OutcomeExt, Simulator, agent_id};

fn mint(transfer_id: &str, to: &str, amount: u64) -> Value {
    json!({"type": "ledger.mint", "transfer_id": transfer_id, "to": to, "amount": amount.to_string()})
}

fn penalty(agent: &str, amount: u64, reason: &str) -> Value {
    json!({"type": "ledger.penalize", "agent": agent, "amount": amount.to_string(), "reason": reason})
}

fn balance(state: &State, agent: &str) -> Amount {
    state.wallet(&agent_id(agent)).map_or(Amount(0), |wallet| wallet.balance())
}

fn fees(state: &State) -> i128 {
    state.balance(&AccountId::Fees)
}

fn taken(outcome: &colony_core::EntryOutcome) -> Vec<Amount> {
    outcome
        .events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::AgentPenalized { taken, .. } => Some(*taken),
            _ => None,
        })
        .collect()
}

/// Seed 001's four agents, an auditor's target holding 100.
fn swarm() -> Simulator {
    let mut swarm = Simulator::new();
    for (agent, role) in [
        ("agent-architect", "architect"),
        ("agent-developer", "developer"),
        ("agent-security", "security"),
        ("agent-auditor", "auditor"),
        ("cheat", "scout"),
    ] {
        assert!(swarm.register(agent, role).all_accepted());
    }
    assert!(swarm.operator(vec![command(mint("setup", "cheat", 100))]).all_accepted());
    swarm
}

#[test]
fn a_penalty_takes_at_most_the_wallet_into_the_fee_account() {
    let mut swarm = swarm();
    let first = swarm.operator(vec![command(penalty("cheat", 30, "failed the audit"))]);
    assert_eq!((first.single(), taken(&first)), (&Ok(Accepted::Done), vec![Amount(30)]));
    assert_eq!((balance(swarm.state(), "cheat"), fees(swarm.state())), (Amount(70), 30));
    // Asking for more than is there drains the wallet, and no further.
    let drain = swarm.operator(vec![command(penalty("cheat", 1_000, "failed it again"))]);
    assert_eq!(taken(&drain), vec![Amount(70)]);
    assert_eq!((balance(swarm.state(), "cheat"), fees(swarm.state())), (Amount(0), 100));
    let empty = swarm.operator(vec![command(penalty("cheat", 5, "and again"))]);
    assert_eq!((empty.single(), taken(&empty)), (&Ok(Accepted::Done), vec![Amount(0)]));
    assert_eq!(swarm.state().ledger().supply(), 100, "a penalty moves money inside the swarm");
    swarm.state().check_invariants().expect("the books balance");
    assert_eq!(swarm.replay_log().state_hash(), swarm.state().state_hash());
}

#[test]
fn nobody_but_the_operator_penalizes_and_malformed_penalties_change_nothing() {
    let mut swarm = swarm();
    // An agent penalizing a rival (or its own wallet, to move money to the fees) is refused.
    for who in ["agent-auditor", "cheat"] {
        let refused = swarm.agent(who, vec![command(penalty("agent-architect", 1, "rivalry"))]);
        assert_eq!(refused.single_code(), Some("unauthorized"), "{who}");
    }
    let oversized = "x".repeat(colony_core::limits::REASON_BYTES_MAX + 1);
    for (value, code) in [
        (penalty("cheat", 0, "nothing"), "invalid_field"),
        (penalty("cheat", 1, ""), "invalid_field"),
        (penalty("cheat", 1, "two\nlines"), "invalid_field"),
        (penalty("cheat", 1, &oversized), "invalid_field"),
        (penalty("ghost", 1, "no such agent"), "agent_not_found"),
    ] {
        let refused = swarm.operator(vec![command(value.clone())]);
        assert_eq!(refused.single_code(), Some(code), "{value}");
    }
    assert_eq!(balance(swarm.state(), "cheat"), Amount(100));
    assert_eq!(fees(swarm.state()), 0);
    swarm.state().check_invariants().expect("invariants hold");
}

#[test]
fn after_bootstrap_a_penalty_runs_only_as_an_approved_proposals_action() {
    let mut swarm = swarm();
    assert!(swarm.operator(vec![command(json!({"type": "governance.bootstrap_end"}))]).all_accepted());
    let alone = swarm.operator(vec![command(penalty("cheat", 10, "failed the audit"))]);
    assert_eq!(alone.single_code(), Some("guarded"));
    let create = json!({
        "type": "proposal.create", "proposal_id": "drain-cheat", "title": "Drain the agent that failed its audit",
        "vote_type": {"threshold": {"yes_weight": 4_000_000}}, "quorum": {"ballots": 2},
        "eligible": {"roles": ["architect", "developer", "security", "auditor"]}, "voting_ms": 60_000,
        "action": [penalty("cheat", 1_000, "failed the security audit")]
    });
    let id = match swarm.agent("agent-auditor", vec![command(create)]).single() {
        Ok(Accepted::Proposal { proposal, .. }) => *proposal,
        other => panic!("expected a proposal: {other:?}"),
    };
    for voter in ["agent-architect", "agent-auditor"] {
        let ballot = json!({"type": "ballot.cast", "proposal": id, "choice": "yes"});
        assert!(swarm.agent(voter, vec![command(ballot)]).all_accepted());
    }
    let decision = swarm.state().governance().proposal(id).unwrap().decision.clone().expect("closed when settled");
    assert_eq!(
        (decision.outcome, decision.action_result),
        (Outcome::Approved, Some(ActionResult::Executed { commands: 1 }))
    );
    assert_eq!((balance(swarm.state(), "cheat"), fees(swarm.state())), (Amount(0), 100));
    swarm.state().check_invariants().expect("invariants hold");
}
