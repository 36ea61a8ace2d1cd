//! Governance's read endpoints, called in process over seed 001's vote: the proposal listed with
//! filters and pages, shown in full with its ballots, tally, decision and seal, and the 404s.

use colony_core::governance::{Closure, Outcome, ProposalState, SealInput, seal};
use colony_wire::governance::{ProposalPage, ProposalView};
use colony_wire::keys::KeyPair;
use serde_json::json;

use super::tests::{TestApp, expect_problem, read, submit};

const SEED_001: [(&str, &str); 4] = [
    ("agent-architect", "architect"),
    ("agent-developer", "developer"),
    ("agent-security", "security"),
    ("agent-auditor", "auditor"),
];

#[tokio::test]
async fn seed_001s_vote_is_listed_and_shown_with_its_ballots_tally_and_seal() {
    let test = TestApp::new();
    let keys: Vec<KeyPair> = (1..=4u8).map(|seed| KeyPair::from_seed([seed; 32])).collect();
    for ((agent, role), key) in SEED_001.iter().zip(&keys) {
        let register =
            json!({ "type": "agent.register", "agent": agent, "public_key": key.public_key(), "role": role });
        submit(&test, "operator", &test.operator, register).await;
    }
    let voters: Vec<&str> = SEED_001.iter().map(|(agent, _)| *agent).collect();
    let create = |proposal_id: &str| {
        json!({ "type": "proposal.create", "proposal_id": proposal_id, "title": "Rotate the treasury keys",
            "vote_type": {"threshold": {"yes_weight": 4_000_000}}, "quorum": "none",
            "eligible": {"agents": voters}, "voting_ms": 60_000 })
    };
    let created = submit(&test, "agent-architect", &keys[0], create("rotate-keys")).await;
    assert_eq!((created.results[0].proposal, created.results[0].status.as_deref()), (Some(0), Some("done")));
    let again = submit(&test, "agent-architect", &keys[0], create("rotate-keys")).await;
    assert_eq!((again.results[0].proposal, again.results[0].status.as_deref()), (Some(0), Some("existing")));
    submit(&test, "agent-auditor", &keys[3], create("other")).await;

    let cast = json!({ "type": "ballot.cast", "proposal": 0, "choice": "yes" });
    submit(&test, "agent-architect", &keys[0], cast.clone()).await;
    let open: ProposalView = read(&test, "/v1/proposals/0").await;
    assert_eq!((open.state, open.ballots.len(), open.decision.is_none()), (ProposalState::Open, 1, true));
    assert_eq!((open.ballots[0].voter.as_str(), open.ballots[0].weight), ("agent-architect", 2_500_000));
    assert_eq!(open.tally.cast_weight, 2_500_000, "the tally of an open proposal is of its ballots so far");

    submit(&test, "agent-auditor", &keys[3], cast).await;
    let closed: ProposalView = read(&test, "/v1/proposals/0").await;
    let decision = closed.decision.clone().expect("2.5 + 1.5 reaches 4.0 and settles it");
    assert_eq!(
        (closed.state, &decision.outcome, &decision.closure),
        (ProposalState::Closed, &Outcome::Approved, &Closure::Settled)
    );
    // Anyone holding the view recomputes the seal from it.
    {
        let Ok(state) = test.app.state() else { panic!("the state is readable") };
        let stored = state.governance().proposal(0).expect("retained");
        assert_eq!(seal(&SealInput::of(stored, stored.decision.as_ref().unwrap())), decision.seal);
    }

    let page: ProposalPage = read(&test, "/v1/proposals?state=closed").await;
    assert_eq!(page.proposals.iter().map(|proposal| proposal.id).collect::<Vec<_>>(), [0]);
    assert_eq!(page.proposals[0].seal, Some(decision.seal));
    let page: ProposalPage = read(&test, "/v1/proposals?limit=1").await;
    assert_eq!((page.proposals[0].id, page.next_after), (0, Some(0)));
    let page: ProposalPage = read(&test, "/v1/proposals?after=0&proposer=agent-auditor").await;
    assert_eq!((page.proposals.len(), page.next_after), (1, None));

    expect_problem(test.send(test.signed_get("/v1/proposals/9")).await, 404, "proposal_not_found", Some("proposal"))
        .await;
    expect_problem(
        test.send(test.signed_get("/v1/proposals?state=pending")).await,
        400,
        "invalid_query",
        Some("state"),
    )
    .await;
}
