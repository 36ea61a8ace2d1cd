//! Juries: a dispute of an escrow without an arbiter opens a jury of agents outside the case, whose
//! close settles the escrow once; the parties and their families cannot judge, and a party cannot
//! open juries without bound.

mod support;

use colony_core::command::Command;
use colony_core::governance::{Jury, Outcome, ProposalState, Verdict};
use colony_core::{Accepted, Amount, EntryOutcome, EscrowState, EventKind, State, SwarmConfig, limits};
use serde_json::json;
use support::market::command;
use support::{OutcomeExt, Simulator, SwarmBuilder, agent_id, commands};

const VOTING_MS: u64 = 60_000;
const JURORS: [&str; 4] = ["juror-a", "juror-b", "juror-c", "juror-d"];

/// A payer with 1,000, a payee, four jurors, and the payer's child; a quorum of two ballots.
fn swarm() -> Simulator {
    let config = SwarmConfig { jury_quorum: 2, jury_voting_ms: VOTING_MS, ..SwarmConfig::default() };
    let mut swarm = SwarmBuilder::new().config(config).build();
    for agent in ["payer", "payee"].into_iter().chain(JURORS) {
        assert!(swarm.register(agent, "scout").all_accepted());
    }
    let Command::RegisterAgent(mut child) = commands::register("payer-child", "scout") else { unreachable!() };
    child.parent = Some(agent_id("payer"));
    assert!(swarm.agent("payer", vec![Command::RegisterAgent(child)]).all_accepted());
    let mint = json!({"type": "ledger.mint", "transfer_id": "setup", "to": "payer", "amount": "1000"});
    assert!(swarm.operator(vec![command(mint)]).all_accepted());
    swarm
}

fn lock(swarm: &mut Simulator, arbiter: Option<&str>) -> u64 {
    let mut value = json!({"type": "escrow.lock", "payee": "payee", "amount": "100", "timeout_ms": 3_600_000});
    if let Some(arbiter) = arbiter {
        value["arbiter"] = json!(arbiter);
    }
    match swarm.agent("payer", vec![command(value)]).single() {
        Ok(Accepted::Escrow { escrow_id, existing: false }) => *escrow_id,
        other => panic!("expected a new escrow: {other:?}"),
    }
}

fn dispute(swarm: &mut Simulator, who: &str, escrow: u64) -> EntryOutcome {
    swarm.agent(who, vec![command(json!({"type": "escrow.dispute", "escrow": escrow, "reason": "not delivered"}))])
}

/// Locks an escrow and disputes it as the payee, returning the escrow and its jury's proposal.
fn disputed(swarm: &mut Simulator) -> (u64, u64) {
    let escrow = lock(swarm, None);
    let opened = dispute(swarm, "payee", escrow);
    assert!(opened.all_accepted(), "{opened:?}");
    let names: Vec<&str> = opened.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["escrow.disputed", "jury.opened"]);
    let jury = swarm.state().ledger().escrow(escrow).unwrap().jury.expect("a jury was opened");
    (escrow, jury)
}

fn vote(swarm: &mut Simulator, who: &str, proposal: u64, options: &[u32]) -> EntryOutcome {
    let ballot = json!({"type": "ballot.cast", "proposal": proposal, "choice": {"approve": options}});
    swarm.agent(who, vec![command(ballot)])
}

fn balance(state: &State, agent: &str) -> Amount {
    state.wallet(&agent_id(agent)).map_or(Amount(0), |wallet| wallet.balance())
}

/// Closes the jury at its deadline and returns the verdict its `jury.settled` event gives.
fn close(swarm: &mut Simulator) -> (Verdict, bool) {
    let closing = swarm.tick_after(VOTING_MS + 1);
    // Everyone went quiet meanwhile; only the close's events matter here.
    let names: Vec<&str> =
        closing.events.iter().map(|event| event.kind.name()).filter(|name| *name != "agent.unresponsive").collect();
    assert_eq!(names, ["escrow.settled", "jury.settled", "proposal.closed"]);
    closing
        .events
        .iter()
        .find_map(|event| match &event.kind {
            EventKind::JurySettled { verdict, default, .. } => Some((*verdict, *default)),
            _ => None,
        })
        .expect("the jury settled")
}

fn check(swarm: &Simulator) {
    swarm.state().check_invariants().expect("invariants hold");
    assert_eq!(swarm.replay_log().state_hash(), swarm.state().state_hash());
    let restored = State::decode_snapshot(&swarm.state().encode_snapshot()).expect("decodes");
    assert_eq!(restored.state_hash(), swarm.state().state_hash());
}

#[test]
fn a_jury_of_outsiders_is_drawn_and_its_winning_option_settles_the_escrow_once() {
    for (options, verdict, to_payee, to_payer) in [
        ([0], Verdict::Release, Amount(99), Amount(900)),
        ([1], Verdict::Refund, Amount(0), Amount(1_000)),
        ([2], Verdict::Split, Amount(50), Amount(950)),
    ] {
        let mut swarm = swarm();
        let (escrow, jury) = disputed(&mut swarm);
        let proposal = swarm.state().governance().proposal(jury).unwrap().clone();
        let jurors: Vec<&str> = proposal.electorate.iter().map(|voter| voter.agent.as_str()).collect();
        assert_eq!(jurors, JURORS, "the parties and the payer's child are left out");
        assert_eq!(
            proposal.jury,
            Some(Jury { escrow, payer: agent_id("payer"), payee: agent_id("payee"), disputer: agent_id("payee") })
        );
        assert!(proposal.electorate.iter().all(|voter| voter.weight == u64::from(limits::WEIGHT_ONE)));
        for juror in ["juror-a", "juror-b"] {
            assert!(vote(&mut swarm, juror, jury, &options).all_accepted());
        }
        assert_eq!(swarm.state().ledger().escrow(escrow).unwrap().state, EscrowState::Disputed, "not before the close");
        assert_eq!(close(&mut swarm), (verdict, false));
        let settled = swarm.state().ledger().escrow(escrow).unwrap();
        assert_eq!(settled.state, EscrowState::Resolved);
        assert_eq!((balance(swarm.state(), "payee"), balance(swarm.state(), "payer")), (to_payee, to_payer));
        let stored = swarm.state().governance().proposal(jury).unwrap();
        let decision = stored.decision.as_ref().unwrap();
        assert_eq!(decision.outcome, Outcome::Winner { option: options[0] });
        // The seal covers the case: another escrow, and the seal is another.
        let mut altered = stored.clone();
        altered.jury.as_mut().unwrap().escrow += 1;
        assert_ne!(altered.recompute_seal(), Some(decision.seal));
        // Once: later ticks change nothing.
        let after = swarm.tick_after(10 * VOTING_MS);
        assert!(!after.events.iter().any(|event| matches!(event.kind, EventKind::EscrowSettled { .. })));
        check(&swarm);
    }
}

#[test]
fn no_quorum_a_tie_or_nothing_approved_refunds_the_payer() {
    let ballots: [&[(&str, &[u32])]; 3] =
        [&[("juror-a", &[0])], &[("juror-a", &[0]), ("juror-b", &[2])], &[("juror-a", &[]), ("juror-b", &[])]];
    for case in ballots {
        let mut swarm = swarm();
        let (escrow, jury) = disputed(&mut swarm);
        for (juror, options) in case {
            assert!(vote(&mut swarm, juror, jury, options).all_accepted());
        }
        assert_eq!(close(&mut swarm), (Verdict::Refund, true), "{case:?}");
        let settled = swarm.state().ledger().escrow(escrow).unwrap();
        assert_eq!((settled.state, settled.refunded_to_payer), (EscrowState::Resolved, Amount(100)));
        assert_eq!(balance(swarm.state(), "payer"), Amount(1_000));
        check(&swarm);
    }
}

#[test]
fn the_parties_and_their_families_cannot_judge_and_nobody_bypasses_the_jury() {
    let mut swarm = swarm();
    let (escrow, jury) = disputed(&mut swarm);
    for party in ["payer", "payee", "payer-child"] {
        let refused = vote(&mut swarm, party, jury, &[0]);
        assert_eq!(refused.single_code(), Some("jury_party"), "{party}");
    }
    let resolve = json!({"type": "escrow.resolve", "escrow": escrow, "resolution": "release"});
    assert_eq!(swarm.operator(vec![command(resolve)]).single_code(), Some("escrow_under_jury"));
    let cancel = json!({"type": "proposal.cancel", "proposal": jury});
    assert_eq!(swarm.operator(vec![command(cancel)]).single_code(), Some("jury_fixed"));
    let amend = json!({"type": "proposal.amend", "proposal": jury, "voting_ms": 1});
    assert_eq!(swarm.operator(vec![command(amend)]).single_code(), Some("jury_fixed"));
    let squat = json!({
        "type": "proposal.create", "proposal_id": "jury-escrow-99", "title": "Squat a jury's id",
        "vote_type": "plurality", "voting_ms": 1_000
    });
    assert_eq!(swarm.operator(vec![command(squat)]).single_code(), Some("invalid_field"));
    assert_eq!(swarm.state().ledger().escrow(escrow).unwrap().state, EscrowState::Disputed);
    assert_eq!(swarm.state().governance().proposal(jury).unwrap().state, ProposalState::Open);
    check(&swarm);
}

#[test]
fn a_party_cannot_open_juries_without_bound() {
    let mut swarm = swarm();
    let escrows: Vec<u64> = (0..=limits::OPEN_JURIES_PER_DISPUTER_MAX).map(|_| lock(&mut swarm, None)).collect();
    for &escrow in &escrows[..limits::OPEN_JURIES_PER_DISPUTER_MAX] {
        assert!(dispute(&mut swarm, "payer", escrow).all_accepted());
    }
    let last = *escrows.last().unwrap();
    let refused = dispute(&mut swarm, "payer", last);
    assert_eq!(refused.single_code(), Some("limit_reached"));
    assert_eq!(swarm.state().ledger().escrow(last).unwrap().state, EscrowState::Locked, "a refusal changes nothing");
    // The other party's disputes are its own to bound.
    assert!(dispute(&mut swarm, "payee", last).all_accepted());
    // Once the juries close, the payer may dispute again.
    swarm.tick_after(VOTING_MS + 1);
    let fresh = lock(&mut swarm, None);
    assert!(dispute(&mut swarm, "payer", fresh).all_accepted());
    check(&swarm);
}

#[test]
fn an_escrow_with_an_arbiter_stays_the_arbiters_and_a_case_without_jurors_is_refunded_at_once() {
    let mut swarm = swarm();
    let escrow = lock(&mut swarm, Some("juror-a"));
    let outcome = dispute(&mut swarm, "payer", escrow);
    assert!(outcome.events.iter().all(|event| !matches!(event.kind, EventKind::JuryOpened { .. })));
    assert_eq!(swarm.state().ledger().escrow(escrow).unwrap().jury, None);
    let resolve = json!({"type": "escrow.resolve", "escrow": escrow, "resolution": "refund"});
    assert!(swarm.agent("juror-a", vec![command(resolve)]).all_accepted());

    let mut alone = SwarmBuilder::new().build();
    for agent in ["payer", "payee"] {
        assert!(alone.register(agent, "scout").all_accepted());
    }
    let mint = json!({"type": "ledger.mint", "transfer_id": "setup", "to": "payer", "amount": "1000"});
    assert!(alone.operator(vec![command(mint)]).all_accepted());
    let escrow = lock(&mut alone, None);
    let outcome = dispute(&mut alone, "payee", escrow);
    let names: Vec<&str> = outcome.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(names, ["escrow.disputed", "escrow.settled", "jury.settled"]);
    assert_eq!(alone.state().ledger().escrow(escrow).unwrap().state, EscrowState::Resolved);
    assert_eq!(balance(alone.state(), "payer"), Amount(1_000));
    check(&alone);
}

/// A swarm of the payer, the payee, a block of `sybils` agents registered right after them (where a
/// walk from the escrow's number would have started) and `honest` agents after those.
fn crowded(sybils: usize, honest: usize) -> Simulator {
    let config = SwarmConfig { jury_quorum: 2, jury_voting_ms: VOTING_MS, ..SwarmConfig::default() };
    let mut swarm = SwarmBuilder::new().config(config).build();
    swarm.in_bulk(|swarm| {
        let names = (0..sybils).map(|n| format!("sybil-{n:04}")).chain((0..honest).map(|n| format!("honest-{n:04}")));
        for agent in ["payer".to_string(), "payee".to_string()].into_iter().chain(names) {
            assert!(swarm.register(&agent, "scout").all_accepted());
        }
        let mint = json!({"type": "ledger.mint", "transfer_id": "setup", "to": "payer", "amount": "1000"});
        assert!(swarm.operator(vec![command(mint)]).all_accepted());
    });
    swarm
}

fn electorate(swarm: &Simulator, jury: u64) -> Vec<String> {
    let proposal = swarm.state().governance().proposal(jury).unwrap();
    proposal.electorate.iter().map(|voter| voter.agent.as_str().to_string()).collect()
}

/// Attack: one party registers a block of agents together and disputes escrow after escrow, hoping to
/// draw its own block. The draw comes from the log's draw seed, so the block gets about its share of
/// the seats in a swarm that fits the scan (a uniform sample) and in one that does not (places drawn
/// in the registry), and never a majority.
#[test]
fn a_block_of_agents_registered_together_gets_its_share_of_the_seats_not_the_jury() {
    let seats = limits::JURY_SIZE_MAX as usize;
    for (sybils, honest) in [(100, 200), (200, 400)] {
        let mut swarm = crowded(sybils, honest);
        let share = sybils as f64 / (sybils + honest) as f64;
        let mut sybil_seats = 0;
        let mut juries = 0;
        for disputer in ["payer", "payee"] {
            for _ in 0..limits::OPEN_JURIES_PER_DISPUTER_MAX {
                let escrow = lock(&mut swarm, None);
                assert!(dispute(&mut swarm, disputer, escrow).all_accepted());
                let jury = swarm.state().ledger().escrow(escrow).unwrap().jury.expect("a jury was opened");
                let jurors = electorate(&swarm, jury);
                assert_eq!(jurors.len(), seats, "{sybils} sybils: every seat is filled");
                let mine = jurors.iter().filter(|juror| juror.starts_with("sybil-")).count();
                assert!(mine < seats / 2 + 1, "{sybils} sybils hold {mine} of {seats} seats on jury {jury}");
                assert!(!jurors.iter().any(|juror| juror == "payer" || juror == "payee"));
                sybil_seats += mine;
                juries += 1;
            }
        }
        let drawn = sybil_seats as f64 / (juries * seats) as f64;
        assert!(
            (drawn - share).abs() < 0.08,
            "{sybils} sybils drew {drawn:.3} of the seats, their share is {share:.3}"
        );
        check(&swarm);
    }
}

/// The draw follows the millisecond the dispute is stamped with: a party cannot know its jury before
/// the server stamps the entry.
#[test]
fn the_same_dispute_a_millisecond_later_draws_another_jury() {
    let juries: Vec<Vec<String>> = [0, 1]
        .into_iter()
        .map(|delay_ms| {
            let mut swarm = crowded(0, 300);
            let escrow = lock(&mut swarm, None);
            swarm.advance_ms(delay_ms);
            assert!(dispute(&mut swarm, "payee", escrow).all_accepted());
            let jury = swarm.state().ledger().escrow(escrow).unwrap().jury.unwrap();
            electorate(&swarm, jury)
        })
        .collect();
    assert_eq!(juries[0].len(), limits::JURY_SIZE_MAX as usize);
    assert_ne!(juries[0], juries[1]);
}
