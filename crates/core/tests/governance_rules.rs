//! Governance's rules, command by command: proposals whose electorate and weights freeze at
//! creation, one live ballot per voter, closes by deadline, settlement or veto, the chain of seals,
//! and every refusal a hostile agent meets, each changing nothing (the state hash of the entry that
//! carried it equals that of the same entry carrying a command refused for an unrelated reason).

mod support;

use colony_core::governance::{Closure, Outcome, ProposalState, SealInput, seal};
use colony_core::{Accepted, Command, Digest, EventKind, Proposal, limits};
use serde_json::{Value, json};
use support::commands::Register;
use support::market::command;
use support::{OutcomeExt, Simulator, agent_id};

/// Seed 001's four agents (architect 2.5, developer 1.0, security 2.0, auditor 1.5) and a scout.
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
    swarm
}

const SEED_001: [&str; 4] = ["agent-architect", "agent-developer", "agent-security", "agent-auditor"];

/// Seed 001's proposal: a threshold of 4.0 over its four agents, weights by role.
fn seed_001_proposal(extra: Value) -> Value {
    let mut create = json!({
        "type": "proposal.create", "proposal_id": "rotate-keys", "title": "Rotate the treasury keys",
        "vote_type": {"threshold": {"yes_weight": 4_000_000}}, "quorum": "none",
        "eligible": {"agents": SEED_001}, "voting_ms": 60_000
    });
    create.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    create
}

fn create(swarm: &mut Simulator, who: &str, value: Value) -> u64 {
    let outcome = swarm.agent(who, vec![command(value)]);
    match outcome.single() {
        Ok(Accepted::Proposal { proposal, existing: false }) => *proposal,
        other => panic!("expected a new proposal: {other:?}"),
    }
}

fn cast(proposal: u64, choice: Value) -> Value {
    json!({"type": "ballot.cast", "proposal": proposal, "choice": choice})
}

#[track_caller]
fn ok(swarm: &mut Simulator, who: &str, value: Value) -> Accepted {
    let outcome = swarm.agent(who, vec![command(value)]);
    outcome.single().clone().unwrap_or_else(|rejection| panic!("refused: {rejection}"))
}

/// Sends `value` signed by `who` (an agent, or `operator`); it must be refused with `code`, and the
/// state after it must equal the state after the same entry carrying a command refused for another
/// reason (a ballot on a proposal that does not exist, or whatever refuses the signer first): the
/// refusal changed nothing, and emitted nothing beyond what the entry's time-driven changes did.
#[track_caller]
fn refused(swarm: &mut Simulator, who: &str, value: Value, code: &str) {
    let mut twin = swarm.clone();
    let nothing = command(cast(u64::MAX, json!("yes")));
    let send = |swarm: &mut Simulator, command: Command| match who {
        "operator" => swarm.operator(vec![command]),
        agent => swarm.agent(agent, vec![command]),
    };
    let outcome = send(swarm, command(value));
    assert_eq!(outcome.single_code(), Some(code), "refused for another reason: {outcome:?}");
    let baseline = send(&mut twin, nothing);
    assert!(baseline.single().is_err(), "the baseline is refused too");
    assert_eq!(outcome.events, baseline.events, "a refused command emitted events");
    assert_eq!(swarm.state().state_hash(), twin.state().state_hash(), "a refused command changed the state");
}

fn proposal(swarm: &Simulator, id: u64) -> &Proposal {
    swarm.state().governance().proposal(id).expect("the proposal is retained")
}

#[test]
fn seed_001_architect_and_auditor_reach_the_threshold_and_the_decision_is_sealed() {
    let mut swarm = swarm();
    let id = create(&mut swarm, "agent-architect", seed_001_proposal(json!({})));
    let weights: Vec<u64> = proposal(&swarm, id).electorate.iter().map(|voter| voter.weight).collect();
    // By id: architect, auditor, developer, security.
    assert_eq!(weights, [2_500_000, 1_500_000, 1_000_000, 2_000_000]);
    ok(&mut swarm, "agent-architect", cast(id, json!("yes")));
    assert_eq!(proposal(&swarm, id).state, ProposalState::Open);
    // 2.5 + 1.5 = 4.0 reaches the threshold: no later ballot can take it back, so it closes at once.
    let outcome = swarm.agent("agent-auditor", vec![command(cast(id, json!("yes")))]);
    let closed = outcome.events.iter().find_map(|event| match &event.kind {
        EventKind::ProposalClosed { outcome, closure, seal, chain_position, .. } => {
            Some((outcome.clone(), closure.clone(), *seal, *chain_position))
        }
        _ => None,
    });
    let (outcome, closure, sealed, position) = closed.expect("the ballot that settles it closes it");
    assert_eq!((outcome, closure, position), (Outcome::Approved, Closure::Settled, 1));
    let stored = proposal(&swarm, id);
    let decision = stored.decision.as_ref().unwrap();
    assert_eq!((stored.state, decision.seal, decision.previous_seal), (ProposalState::Closed, sealed, Digest([0; 32])));
    assert_eq!(decision.tally.cast_weight, 4_000_000);
    assert_eq!(stored.recompute_seal(), Some(sealed));
    assert_eq!((swarm.state().governance().seal_head(), swarm.state().governance().seals()), (sealed, 1));
    // The ballots are sealed with the entries that cast them.
    let sequences: Vec<u64> = stored.ballots.values().map(|ballot| ballot.sequence).collect();
    assert_eq!(sequences, [swarm.state().sequence() - 1, swarm.state().sequence()]);
    refused(&mut swarm, "agent-developer", cast(id, json!("no")), "proposal_state");
}

#[test]
fn without_the_auditor_the_threshold_is_missed_at_the_deadline() {
    let mut swarm = swarm();
    let id = create(&mut swarm, "agent-architect", seed_001_proposal(json!({})));
    ok(&mut swarm, "agent-architect", cast(id, json!("yes")));
    ok(&mut swarm, "agent-developer", cast(id, json!("yes")));
    // 3.5 of 4.0; the silent security (2.0) could still carry it, so it stays open.
    swarm.advance_ms(60_000);
    ok(&mut swarm, "agent-auditor", cast(id, json!("no")));
    assert_eq!(proposal(&swarm, id).state, ProposalState::Open, "open through its deadline's millisecond");
    // The driver would tick at the deadline's next millisecond; a ballot there finds it closed.
    assert_eq!(swarm.state().next_deadline_ms(), Some(swarm.now_ms() + 1));
    swarm.advance_ms(1);
    refused(&mut swarm, "agent-security", cast(id, json!("yes")), "proposal_state");
    let decision = proposal(&swarm, id).decision.clone().unwrap();
    assert_eq!((decision.outcome, decision.closure), (Outcome::Rejected, Closure::Deadline));
}

#[test]
fn creating_again_returns_the_proposal_and_other_terms_under_its_id_are_refused() {
    let mut swarm = swarm();
    let id = create(&mut swarm, "agent-architect", seed_001_proposal(json!({})));
    let again = ok(&mut swarm, "agent-architect", seed_001_proposal(json!({})));
    assert_eq!(again, Accepted::Proposal { proposal: id, existing: true });
    refused(&mut swarm, "agent-architect", seed_001_proposal(json!({"title": "Other"})), "proposal_id_conflict");
    // Another proposer's id space is its own.
    let theirs = create(&mut swarm, "agent-auditor", seed_001_proposal(json!({})));
    assert_ne!(theirs, id);
}

#[test]
fn the_electorate_and_its_weights_freeze_at_creation() {
    let mut swarm = swarm();
    let id = create(
        &mut swarm,
        "scout",
        json!({
            "type": "proposal.create", "proposal_id": "p", "title": "All hands",
            "vote_type": "plurality", "voting_ms": 10_000
        }),
    );
    let before = proposal(&swarm, id).electorate.clone();
    assert_eq!(before.len(), 5, "every active agent");
    // A newcomer does not join, and a weight changed later does not count.
    swarm.register("late", "architect");
    let reweigh = Command::UpdateAgent(colony_core::command::UpdateAgent {
        agent: agent_id("agent-developer"),
        role: None,
        capabilities: None,
        weight: Some(limits::AGENT_WEIGHT_MAX),
    });
    assert!(swarm.operator(vec![reweigh]).all_accepted());
    assert_eq!(proposal(&swarm, id).electorate, before);
    refused(&mut swarm, "late", cast(id, json!("yes")), "not_eligible");
    // The default quorum is seed 000's: max(2, voters / 2) ballots.
    assert_eq!(proposal(&swarm, id).terms.quorum, colony_core::governance::Quorum::Ballots(2));
}

#[test]
fn electorates_by_role_take_active_agents_and_weights_come_from_the_source_asked() {
    let mut swarm = swarm();
    swarm.register("architect-2", "architect");
    let halt = json!({"type": "agent.halt", "agent": "architect-2", "reason": "drift"});
    assert!(swarm.operator(vec![command(halt)]).all_accepted());
    let by_role = |id: &str, source: &str| {
        json!({"type": "proposal.create", "proposal_id": id, "title": "Architects", "vote_type": "consensus",
               "eligible": {"roles": ["architect", "security"]}, "weight_source": source, "voting_ms": 1_000})
    };
    let role = create(&mut swarm, "scout", by_role("a", "role"));
    let voters: Vec<(String, u64)> =
        proposal(&swarm, role).electorate.iter().map(|voter| (voter.agent.to_string(), voter.weight)).collect();
    assert_eq!(voters, [("agent-architect".to_owned(), 2_500_000), ("agent-security".to_owned(), 2_000_000)]);
    let equal = create(&mut swarm, "scout", by_role("b", "equal"));
    assert!(proposal(&swarm, equal).electorate.iter().all(|voter| voter.weight == u64::from(limits::WEIGHT_ONE)));
    refused(
        &mut swarm,
        "scout",
        json!({"type": "proposal.create", "proposal_id": "c", "title": "T", "vote_type": "plurality",
               "eligible": {"roles": ["pilot"]}, "voting_ms": 1_000}),
        "unknown_role",
    );
    refused(
        &mut swarm,
        "scout",
        json!({"type": "proposal.create", "proposal_id": "c", "title": "T", "vote_type": "plurality",
               "eligible": {"roles": ["oracle"]}, "voting_ms": 1_000}),
        "empty_electorate",
    );
    refused(
        &mut swarm,
        "scout",
        json!({"type": "proposal.create", "proposal_id": "c", "title": "T", "vote_type": "plurality",
               "eligible": {"agents": ["ghost"]}, "voting_ms": 1_000}),
        "agent_not_found",
    );
}

#[test]
fn malformed_terms_are_refused() {
    let mut swarm = swarm();
    let base = |extra: Value| seed_001_proposal(extra);
    refused(&mut swarm, "scout", base(json!({"title": ""})), "invalid_field");
    refused(&mut swarm, "scout", base(json!({"title": "a\u{7}b"})), "invalid_field");
    let long = "x".repeat(limits::PROPOSAL_TITLE_BYTES_MAX + 1);
    refused(&mut swarm, "scout", base(json!({"title": long})), "invalid_field");
    let long = "x".repeat(limits::PROPOSAL_DESCRIPTION_BYTES_MAX + 1);
    refused(&mut swarm, "scout", base(json!({"description": long})), "invalid_field");
    refused(&mut swarm, "scout", base(json!({"voting_ms": 0})), "invalid_field");
    refused(&mut swarm, "scout", base(json!({"voting_ms": limits::PROPOSAL_VOTING_MS_MAX + 1})), "invalid_field");
    refused(&mut swarm, "scout", base(json!({"vote_type": {"approval": {"options": 0}}})), "invalid_field");
    let options = limits::TALLY_OPTIONS_MAX + 1;
    refused(&mut swarm, "scout", base(json!({"vote_type": {"ranked_choice": {"options": options}}})), "invalid_field");
    refused(&mut swarm, "scout", base(json!({"veto_holders": ["ghost"]})), "agent_not_found");
    let holders: Vec<String> = (0..=limits::VETO_HOLDERS_MAX).map(|index| format!("holder-{index}")).collect();
    refused(&mut swarm, "scout", base(json!({"veto_holders": holders})), "limit_reached");
}

#[test]
fn proposals_are_bounded_per_proposer_and_in_all() {
    let mut swarm = swarm();
    for index in 0..limits::OPEN_PROPOSALS_PER_PROPOSER_MAX {
        create(&mut swarm, "scout", seed_001_proposal(json!({"proposal_id": format!("p-{index}")})));
    }
    refused(&mut swarm, "scout", seed_001_proposal(json!({"proposal_id": "one-more"})), "limit_reached");
    // Others are not refused for the scout's spam, and the scout's slot frees when one ends.
    create(&mut swarm, "agent-developer", seed_001_proposal(json!({})));
    ok(&mut swarm, "scout", json!({"type": "proposal.cancel", "proposal": 0}));
    create(&mut swarm, "scout", seed_001_proposal(json!({"proposal_id": "one-more"})));

    // The swarm-wide limit, filled by many proposers.
    let mut swarm = swarm_of(limits::OPEN_PROPOSALS_MAX / limits::OPEN_PROPOSALS_PER_PROPOSER_MAX + 1);
    let proposers = limits::OPEN_PROPOSALS_MAX / limits::OPEN_PROPOSALS_PER_PROPOSER_MAX;
    for proposer in 0..proposers {
        let commands = (0..limits::OPEN_PROPOSALS_PER_PROPOSER_MAX)
            .map(|index| command(small_proposal(&format!("p-{index}"), 1_000)))
            .collect();
        assert!(swarm.agent(&format!("agent-{proposer}"), commands).all_accepted());
    }
    assert_eq!(swarm.state().governance().open_proposals(), limits::OPEN_PROPOSALS_MAX);
    refused(&mut swarm, &format!("agent-{proposers}"), small_proposal("last", 1_000), "limit_reached");
}

fn swarm_of(agents: usize) -> Simulator {
    let mut swarm = Simulator::new();
    let commands = (0..agents).map(|index| Register::new(&format!("agent-{index}"), "scout").build()).collect();
    assert!(swarm.operator(commands).all_accepted());
    swarm
}

/// A plurality over `agent-0` alone.
fn small_proposal(proposal_id: &str, voting_ms: u64) -> Value {
    json!({"type": "proposal.create", "proposal_id": proposal_id, "title": "T", "vote_type": "plurality",
           "quorum": "none", "eligible": {"agents": ["agent-0"]}, "voting_ms": voting_ms})
}

#[test]
fn amendments_come_from_the_proposer_before_any_ballot() {
    let mut swarm = swarm();
    let id = create(&mut swarm, "agent-architect", seed_001_proposal(json!({})));
    let amend = |extra: Value| {
        let mut value = json!({"type": "proposal.amend", "proposal": id});
        value.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        value
    };
    refused(&mut swarm, "agent-auditor", amend(json!({"title": "Mine now"})), "unauthorized");
    refused(&mut swarm, "agent-architect", amend(json!({"vote_type": {"approval": {"options": 0}}})), "invalid_field");
    assert_eq!(
        ok(&mut swarm, "agent-architect", amend(json!({"title": "Rotate the treasury keys"}))),
        Accepted::Unchanged
    );
    let now = swarm.now_ms();
    let outcome = swarm.agent("agent-architect", vec![command(amend(json!({"title": "Rotate", "voting_ms": 5_000})))]);
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::ProposalAmended { proposal: id, amendments: 1, closes_at_ms: now + 5_000 }]
    );
    assert_eq!(proposal(&swarm, id).terms.title, "Rotate");
    ok(&mut swarm, "agent-developer", cast(id, json!("no")));
    refused(&mut swarm, "agent-architect", amend(json!({"title": "Changed after a vote"})), "proposal_has_ballots");
    // An idempotent create still returns the amended proposal.
    let again = ok(&mut swarm, "agent-architect", seed_001_proposal(json!({})));
    assert_eq!(again, Accepted::Proposal { proposal: id, existing: true });
}

#[test]
fn only_the_proposer_or_the_operator_cancels_and_only_while_open() {
    let mut swarm = swarm();
    let first = create(&mut swarm, "agent-architect", seed_001_proposal(json!({})));
    let second = create(&mut swarm, "agent-architect", seed_001_proposal(json!({"proposal_id": "two"})));
    let cancel = |id: u64| json!({"type": "proposal.cancel", "proposal": id, "reason": "superseded"});
    refused(&mut swarm, "agent-auditor", cancel(first), "unauthorized");
    refused(&mut swarm, "agent-architect", json!({"type": "proposal.cancel", "proposal": 99}), "proposal_not_found");
    ok(&mut swarm, "agent-architect", cancel(first));
    assert!(swarm.operator(vec![command(cancel(second))]).all_accepted());
    for id in [first, second] {
        let cancelled = proposal(&swarm, id);
        assert_eq!((cancelled.state, cancelled.decision.is_none()), (ProposalState::Cancelled, true));
    }
    assert_eq!(swarm.state().governance().seals(), 0, "a cancelled proposal is not a decision");
    refused(&mut swarm, "agent-architect", cancel(first), "proposal_state");
    refused(&mut swarm, "agent-developer", cast(first, json!("yes")), "proposal_state");
}

#[test]
fn ballots_are_refused_to_outsiders_the_halted_and_malformed_choices() {
    let mut swarm = swarm();
    let id = create(&mut swarm, "agent-architect", seed_001_proposal(json!({})));
    refused(&mut swarm, "scout", cast(id, json!("yes")), "not_eligible");
    refused(&mut swarm, "operator", cast(id, json!("yes")), "not_eligible");
    refused(&mut swarm, "agent-developer", cast(id + 1, json!("yes")), "proposal_not_found");
    refused(&mut swarm, "agent-developer", cast(id, json!({"value": "0.5"})), "malformed_ballot");
    refused(&mut swarm, "agent-developer", cast(id, json!({"approve": [0]})), "malformed_ballot");
    let halt = json!({"type": "agent.halt", "agent": "agent-developer", "reason": "drift"});
    assert!(swarm.operator(vec![command(halt)]).all_accepted());
    refused(&mut swarm, "agent-developer", cast(id, json!("yes")), "agent_halted");
    // An unregistered signer is refused before any command runs.
    let outcome = swarm.agent("stranger", vec![command(cast(id, json!("yes")))]);
    assert_eq!(outcome.envelope_code(), Some("unknown_signer"));
    assert!(proposal(&swarm, id).ballots.is_empty());
}

#[test]
fn option_ballots_are_checked_against_the_vote_type() {
    let mut swarm = swarm();
    let id = create(
        &mut swarm,
        "scout",
        seed_001_proposal(json!({"vote_type": {"quadratic": {"options": 3, "budget": 10}}})),
    );
    let credits = |spent: Value| cast(id, json!({"credits": spent}));
    refused(&mut swarm, "agent-architect", credits(json!([{"option": 3, "credits": 1}])), "malformed_ballot");
    refused(
        &mut swarm,
        "agent-architect",
        credits(json!([{"option": 0, "credits": 1}, {"option": 0, "credits": 1}])),
        "malformed_ballot",
    );
    refused(&mut swarm, "agent-architect", credits(json!([{"option": 1, "credits": 11}])), "malformed_ballot");
    ok(&mut swarm, "agent-architect", credits(json!([{"option": 1, "credits": 9}])));
    ok(&mut swarm, "agent-auditor", credits(json!([{"option": 2, "credits": 4}])));
    assert_eq!(proposal(&swarm, id).state, ProposalState::Open, "option votes are never settled early");
    swarm.tick_after(60_001);
    let decision = proposal(&swarm, id).decision.clone().unwrap();
    // 3 votes × 2.5 against 2 votes × 1.5.
    assert_eq!(decision.outcome, Outcome::Winner { option: 1 });
}

#[test]
fn a_voter_changes_its_ballot_until_the_close_and_the_same_choice_changes_nothing() {
    let mut swarm = swarm();
    let id = create(&mut swarm, "agent-architect", seed_001_proposal(json!({})));
    ok(&mut swarm, "agent-developer", cast(id, json!("yes")));
    let first = proposal(&swarm, id).ballots.values().next().unwrap().sequence;
    assert_eq!(ok(&mut swarm, "agent-developer", cast(id, json!("yes"))), Accepted::Unchanged);
    assert_eq!(proposal(&swarm, id).ballots.values().next().unwrap().sequence, first);
    let outcome = swarm.agent("agent-developer", vec![command(cast(id, json!("no")))]);
    assert!(matches!(outcome.event_kinds()[..], [EventKind::BallotCast { changed: true, .. }]));
    assert_eq!(proposal(&swarm, id).ballots.len(), 1, "one live ballot per voter");
    assert!(proposal(&swarm, id).ballots.values().next().unwrap().sequence > first);
}

#[test]
fn a_veto_closes_as_rejected_and_only_a_holder_may_veto() {
    let mut swarm = swarm();
    let id = create(&mut swarm, "agent-architect", seed_001_proposal(json!({"veto_holders": ["agent-security"]})));
    let veto = json!({"type": "proposal.veto", "proposal": id});
    refused(&mut swarm, "agent-architect", veto.clone(), "not_veto_holder");
    refused(&mut swarm, "operator", veto.clone(), "not_veto_holder");
    ok(&mut swarm, "agent-architect", cast(id, json!("yes")));
    ok(&mut swarm, "agent-security", veto.clone());
    let decision = proposal(&swarm, id).decision.clone().unwrap();
    assert_eq!(decision.outcome, Outcome::Rejected);
    assert_eq!(decision.closure, Closure::Vetoed { by: agent_id("agent-security") });
    refused(&mut swarm, "agent-security", veto, "proposal_state");
}

#[test]
fn decisions_chain_their_seals_and_any_changed_input_changes_a_seal() {
    let mut swarm = swarm();
    let mut ids = Vec::new();
    for index in 0..3 {
        let id = create(&mut swarm, "agent-architect", seed_001_proposal(json!({"proposal_id": format!("p-{index}")})));
        ok(&mut swarm, "agent-architect", cast(id, json!("yes")));
        ok(&mut swarm, "agent-auditor", cast(id, json!("yes")));
        ids.push(id);
    }
    let decisions: Vec<_> = ids.iter().map(|&id| proposal(&swarm, id).decision.clone().unwrap()).collect();
    assert_eq!(decisions[1].previous_seal, decisions[0].seal);
    assert_eq!(decisions[2].previous_seal, decisions[1].seal);
    assert_eq!(swarm.state().governance().seal_head(), decisions[2].seal);
    assert_ne!(decisions[0].seal, decisions[1].seal, "the same vote twice seals differently: ids and entries");

    let stored = proposal(&swarm, ids[1]).clone();
    let decision = stored.decision.clone().unwrap();
    let original = SealInput::of(&stored, &decision);
    assert_eq!(seal(&original), decision.seal);
    let bytes = original.canonical_bytes();
    for position in 0..bytes.len() {
        let mut changed = bytes.clone();
        changed[position] ^= 1;
        assert_ne!(sha256(&changed), decision.seal, "byte {position}");
    }
    let mut other = stored.clone();
    other.terms.title.push('!');
    assert_ne!(seal(&SealInput::of(&other, &decision)), decision.seal, "the terms");
    let mut other = stored.clone();
    other.electorate[0].weight += 1;
    assert_ne!(seal(&SealInput::of(&other, &decision)), decision.seal, "a weight");
    let mut other = stored.clone();
    other.ballots.values_mut().next().unwrap().sequence += 1;
    assert_ne!(seal(&SealInput::of(&other, &decision)), decision.seal, "a ballot's entry");
    let mut other = decision.clone();
    other.outcome = Outcome::Rejected;
    assert_ne!(seal(&SealInput::of(&stored, &other)), decision.seal, "the outcome");
    let mut other = decision.clone();
    other.previous_seal = Digest([7; 32]);
    assert_ne!(seal(&SealInput::of(&stored, &other)), decision.seal, "the previous seal");
    let mut other = decision.clone();
    other.tally.cast_weight += 1;
    assert_ne!(seal(&SealInput::of(&stored, &other)), decision.seal, "the tally");
}

fn sha256(bytes: &[u8]) -> Digest {
    use sha2::Digest as _;
    Digest(sha2::Sha256::digest(bytes).into())
}

#[test]
fn closes_run_at_most_sixty_four_per_entry_and_ended_proposals_are_pruned_behind_the_chain() {
    let mut swarm = swarm_of(33);
    let mut created = 0;
    for proposer in 0..32 {
        let commands = (0..limits::OPEN_PROPOSALS_PER_PROPOSER_MAX)
            .map(|index| command(small_proposal(&format!("p-{index}"), 1_000)))
            .collect();
        assert!(swarm.agent(&format!("agent-{proposer}"), commands).all_accepted());
        created += limits::OPEN_PROPOSALS_PER_PROPOSER_MAX;
    }
    let outcome = swarm.tick_after(1_001);
    let closes = |outcome: &colony_core::EntryOutcome| {
        outcome.events.iter().filter(|event| matches!(event.kind, EventKind::ProposalClosed { .. })).count()
    };
    assert_eq!(closes(&outcome), limits::PROPOSAL_CLOSES_PER_ENTRY_MAX);
    let mut closed = closes(&outcome);
    // A ballot on a proposal past its deadline whose close waits its turn is refused all the same.
    let governance = swarm.state().governance();
    let waiting = governance.proposals().rfind(|proposal| proposal.state == ProposalState::Open).unwrap().id;
    let outcome = swarm.agent("agent-0", vec![command(cast(waiting, json!("yes")))]);
    assert_eq!(outcome.single_code(), Some("proposal_state"));
    assert!(outcome.single_rejection().to_string().contains("past its deadline"));
    closed += closes(&outcome);
    while closed < created {
        assert_eq!(swarm.state().next_deadline_ms(), Some(swarm.state().timestamp_ms()), "the rest are due at once");
        closed += closes(&swarm.tick());
    }
    assert_eq!((closed, swarm.state().governance().seals()), (created, created as u64));
    // One more decision: the oldest ended proposal is forgotten, the chain goes on.
    let head = swarm.state().governance().seal_head();
    assert!(swarm.agent("agent-32", vec![command(small_proposal("late", 1))]).all_accepted());
    swarm.tick_after(2);
    let governance = swarm.state().governance();
    assert_eq!(governance.proposals().count(), limits::PROPOSALS_RETAINED_MAX);
    assert!(governance.proposal(0).is_none(), "the oldest is forgotten");
    let newest = governance.proposals().next_back().unwrap().decision.clone().unwrap();
    assert_eq!((newest.previous_seal, newest.chain_position), (head, created as u64 + 1));
    assert_eq!(governance.seal_head(), newest.seal);
}

#[test]
fn governance_survives_a_snapshot_and_a_replay() {
    let mut swarm = swarm();
    let id = create(&mut swarm, "agent-architect", seed_001_proposal(json!({})));
    ok(&mut swarm, "agent-developer", cast(id, json!("no")));
    let decided = create(&mut swarm, "agent-architect", seed_001_proposal(json!({"proposal_id": "b"})));
    ok(&mut swarm, "agent-architect", cast(decided, json!("yes")));
    ok(&mut swarm, "agent-auditor", cast(decided, json!("yes")));
    let restored = colony_core::State::decode_snapshot(&swarm.state().encode_snapshot()).expect("decodes");
    assert_eq!(restored.state_hash(), swarm.state().state_hash());
    assert_eq!(swarm.replay_log().state_hash(), swarm.state().state_hash());
}

#[test]
fn an_electorate_is_bounded_however_it_is_named() {
    let mut swarm = swarm_of(limits::COMMANDS_PER_ENVELOPE_MAX);
    let more = (limits::COMMANDS_PER_ENVELOPE_MAX..=limits::ELECTORATE_MAX)
        .map(|index| Register::new(&format!("agent-{index}"), "scout").build())
        .collect();
    assert!(swarm.operator(more).all_accepted());
    let everyone = json!({"type": "proposal.create", "proposal_id": "all", "title": "T", "vote_type": "plurality", "voting_ms": 1_000});
    refused(&mut swarm, "agent-0", everyone, "limit_reached");
    let listed: Vec<String> = (0..=limits::ELECTORATE_MAX).map(|index| format!("agent-{index}")).collect();
    let named = json!({"type": "proposal.create", "proposal_id": "all", "title": "T", "vote_type": "plurality",
                       "eligible": {"agents": listed}, "voting_ms": 1_000});
    refused(&mut swarm, "agent-0", named, "limit_reached");
    // At the limit it is taken, and its weights are frozen for each voter.
    let halt = json!({"type": "agent.halt", "agent": "agent-1", "reason": "one fewer"});
    assert!(swarm.operator(vec![command(halt)]).all_accepted());
    let everyone = json!({"type": "proposal.create", "proposal_id": "all", "title": "T", "vote_type": "plurality", "voting_ms": 1_000});
    let id = create(&mut swarm, "agent-0", everyone);
    assert_eq!(proposal(&swarm, id).electorate.len(), limits::ELECTORATE_MAX);
}

#[test]
fn an_electorate_by_role_walks_that_role_alone_so_a_crowd_of_another_role_costs_it_nothing() {
    // Twice the largest electorate in active scouts, and one architect.
    let mut swarm = swarm_of(limits::COMMANDS_PER_ENVELOPE_MAX);
    let more = (limits::COMMANDS_PER_ENVELOPE_MAX..2 * limits::ELECTORATE_MAX)
        .map(|index| Register::new(&format!("agent-{index}"), "scout").build())
        .collect();
    assert!(swarm.operator(more).all_accepted());
    assert!(swarm.register("agent-architect", "architect").all_accepted());
    // An envelope that creates and cancels a proposal to the architects again and again: were each
    // electorate drawn from every active agent, the envelope would walk 20,001 agents per create and
    // run out of its budget of voters drawn (`ELECTORATE_SCAN_PER_ENVELOPE_MAX`) within five creates.
    let churn: Vec<Command> = (0..100u64)
        .flat_map(|id| {
            let create = json!({"type": "proposal.create", "proposal_id": format!("p-{id}"), "title": "T",
                                "vote_type": "plurality", "eligible": {"roles": ["architect"]}, "voting_ms": 1_000});
            [command(create), command(json!({"type": "proposal.cancel", "proposal": id}))]
        })
        .collect();
    let outcome = swarm.agent("agent-architect", churn);
    assert!(outcome.all_accepted(), "{outcome:?}");
    assert_eq!(proposal(&swarm, 99).electorate.len(), 1);
    // The scouts are too many for one electorate: refused by their count, before any walk.
    let scouts = json!({"type": "proposal.create", "proposal_id": "scouts", "title": "T", "vote_type": "plurality",
                        "eligible": {"roles": ["scout", "architect"]}, "voting_ms": 1_000});
    refused(&mut swarm, "agent-architect", scouts, "limit_reached");
    // A role that changes moves its agent between electorates.
    let promote = json!({"type": "agent.update", "agent": "agent-7", "role": "architect"});
    assert!(swarm.operator(vec![command(promote)]).all_accepted());
    let architects = json!({"type": "proposal.create", "proposal_id": "architects", "title": "T",
                            "vote_type": "plurality", "eligible": {"roles": ["architect"]}, "voting_ms": 1_000});
    let id = create(&mut swarm, "agent-architect", architects);
    let voters: Vec<String> = proposal(&swarm, id).electorate.iter().map(|voter| voter.agent.to_string()).collect();
    assert_eq!(voters, ["agent-7", "agent-architect"]);
}
