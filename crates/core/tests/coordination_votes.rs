//! Seed 004's vote-based leader election through `State::apply`: the majority of candidates the
//! seed asks for, terms that only rise, rounds that fail by log time and open again, leaders lost
//! to silence, halts and deregistration, every refusal changing nothing, and a model of rounds
//! that random votes are checked against.

mod support;

use colony_core::coordination::VoteElections;
use colony_core::{EventKind, Name};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::market::command;
use support::{OutcomeExt, Simulator, SwarmBuilder};

const HEARTBEAT_TTL_MS: u64 = 60_000;
const MEMBERS: [&str; 5] = ["a1", "a2", "a3", "a4", "a5"];

fn swarm() -> Simulator {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(HEARTBEAT_TTL_MS).build();
    swarm.register_all(&MEMBERS, "scout");
    swarm.register_all(&["outsider"], "scout");
    let create =
        json!({"type": "vote_election.create", "election": "desk", "members": MEMBERS, "round_timeout_ms": 5_000});
    assert!(swarm.agent("a1", vec![command(create)]).all_accepted());
    swarm
}

fn start() -> Value {
    json!({"type": "vote_election.start", "election": "desk"})
}

fn vote(term: u64, candidate: &str) -> Value {
    json!({"type": "vote_election.vote", "election": "desk", "term": term, "candidate": candidate})
}

#[track_caller]
fn ok(swarm: &mut Simulator, who: &str, value: Value) -> Vec<EventKind> {
    let outcome = swarm.agent(who, vec![command(value)]);
    if let Err(rejection) = outcome.single() {
        panic!("refused: {rejection}");
    }
    outcome.events.into_iter().map(|event| event.kind).collect()
}

#[track_caller]
fn refused(swarm: &mut Simulator, who: &str, value: Value) -> &'static str {
    let before: VoteElections = swarm.state().coordination().vote_elections().clone();
    let code = swarm.agent(who, vec![command(value)]).single_code().expect("refused");
    assert_eq!(*swarm.state().coordination().vote_elections(), before, "a refusal changes nothing");
    code
}

fn leader(swarm: &Simulator) -> Option<(String, u64)> {
    let election = swarm.state().coordination().vote_elections().get(&Name::new("desk").unwrap()).unwrap();
    election.leader.as_ref().map(|leader| (leader.agent.to_string(), leader.term))
}

fn elected(events: &[EventKind]) -> Option<(String, u64, u32, u32)> {
    events.iter().find_map(|event| match event {
        EventKind::VoteLeaderElected { leader, term, votes, candidates, .. } => {
            Some((leader.to_string(), *term, *votes, *candidates))
        }
        _ => None,
    })
}

#[test]
fn more_than_half_of_the_candidates_elect_the_leader_of_the_term() {
    let mut swarm = swarm();
    let opened = ok(&mut swarm, "a2", start());
    assert!(
        opened
            .iter()
            .any(|event| matches!(event, EventKind::VoteRoundOpened { term: 1, candidates: 5, majority: 3, .. })),
        "five candidates need three votes (votes > 5 // 2): {opened:?}"
    );
    ok(&mut swarm, "a1", vote(1, "a3"));
    ok(&mut swarm, "a2", vote(1, "a3"));
    ok(&mut swarm, "a4", vote(1, "a1"));
    assert_eq!(leader(&swarm), None, "two of five is no majority");
    let events = ok(&mut swarm, "a3", vote(1, "a3"));
    assert_eq!(elected(&events), Some(("a3".to_owned(), 1, 3, 5)));
    assert_eq!(leader(&swarm), Some(("a3".to_owned(), 1)));
    // The round is over: a late vote finds none.
    assert_eq!(refused(&mut swarm, "a5", vote(1, "a1")), "no_vote_round");

    // While the leader is healthy no other member deposes it; the leader steps down by opening a
    // round, which ends its term: the next leader's term is higher.
    assert_eq!(refused(&mut swarm, "a1", start()), "leader_healthy");
    ok(&mut swarm, "a3", start());
    assert_eq!(leader(&swarm), None);
    assert_eq!(refused(&mut swarm, "a1", vote(1, "a1")), "stale_term");
    for voter in ["a1", "a2", "a3"] {
        ok(&mut swarm, voter, vote(2, "a5"));
    }
    assert_eq!(leader(&swarm), Some(("a5".to_owned(), 2)));
}

#[test]
fn with_four_candidates_two_votes_are_not_enough_and_the_round_fails_by_log_time() {
    let mut swarm = swarm();
    // a5 falls silent: four healthy members are the candidates, and three votes are needed.
    swarm.advance_ms(HEARTBEAT_TTL_MS / 2);
    for member in &MEMBERS[..4] {
        ok(&mut swarm, member, json!({"type": "agent.heartbeat"}));
    }
    swarm.tick_after(HEARTBEAT_TTL_MS / 2 + 1);
    let opened = ok(&mut swarm, "a1", start());
    assert!(opened.iter().any(|event| matches!(event, EventKind::VoteRoundOpened { candidates: 4, majority: 3, .. })));
    assert_eq!(refused(&mut swarm, "a5", vote(1, "a1")), "not_voter", "silent at the round's opening");
    assert_eq!(refused(&mut swarm, "a1", vote(1, "a5")), "not_candidate");
    ok(&mut swarm, "a1", vote(1, "a1"));
    ok(&mut swarm, "a2", vote(1, "a1"));
    ok(&mut swarm, "a3", vote(1, "a2"));
    ok(&mut swarm, "a4", vote(1, "a2"));
    assert_eq!(leader(&swarm), None, "a split: two and two");
    assert_eq!(refused(&mut swarm, "a1", vote(1, "a2")), "already_voted");
    assert_eq!(refused(&mut swarm, "a2", start()), "vote_round_open");

    let outcome = swarm.tick_after(5_001);
    let failed =
        outcome.events.iter().any(|event| matches!(event.kind, EventKind::VoteRoundFailed { term: 1, votes: 4, .. }));
    assert!(failed, "the round's timeout passed without a majority");
    // The next round, term 2; this time a majority agrees.
    ok(&mut swarm, "a2", start());
    for voter in ["a1", "a2", "a4"] {
        ok(&mut swarm, voter, vote(2, "a2"));
    }
    assert_eq!(leader(&swarm), Some(("a2".to_owned(), 2)));
}

#[test]
fn a_leader_that_falls_silent_is_halted_or_leaves_leads_no_more() {
    let mut swarm = swarm();
    let elect = |swarm: &mut Simulator, term: u64, candidate: &str, voters: &[&str]| {
        ok(swarm, voters[0], start());
        for voter in voters {
            ok(swarm, voter, vote(term, candidate));
        }
        assert_eq!(leader(swarm), Some((candidate.to_owned(), term)));
    };
    elect(&mut swarm, 1, "a1", &["a1", "a2", "a3"]);
    // Silence: a1 misses its heartbeat deadline.
    swarm.advance_ms(HEARTBEAT_TTL_MS / 2);
    for member in &MEMBERS[1..] {
        ok(&mut swarm, member, json!({"type": "agent.heartbeat"}));
    }
    let outcome = swarm.tick_after(HEARTBEAT_TTL_MS / 2 + 1);
    assert!(outcome.events.iter().any(|event| matches!(&event.kind, EventKind::VoteLeaderLost { term: 1, .. })));
    assert_eq!(leader(&swarm), None);

    // A halt, then a deregistration.
    elect(&mut swarm, 2, "a2", &["a2", "a3", "a4"]);
    let halt = json!({"type": "agent.halt", "agent": "a2", "reason": "misbehaving"});
    assert!(swarm.operator(vec![command(halt)]).all_accepted());
    assert_eq!(leader(&swarm), None);
    // a1 silent and a2 halted: three candidates, two votes elect.
    elect(&mut swarm, 3, "a3", &["a3", "a4"]);
    assert!(swarm.operator(vec![command(json!({"type": "agent.deregister", "agent": "a3"}))]).all_accepted());
    assert_eq!(leader(&swarm), None);
}

#[test]
fn outsiders_strangers_and_bad_input_are_refused_and_change_nothing() {
    let mut swarm = swarm();
    assert_eq!(refused(&mut swarm, "outsider", start()), "not_election_member");
    assert_eq!(refused(&mut swarm, "a1", vote(1, "a1")), "no_vote_round");
    ok(&mut swarm, "a1", start());
    assert_eq!(refused(&mut swarm, "outsider", vote(1, "a1")), "not_voter");
    assert_eq!(refused(&mut swarm, "a1", vote(1, "outsider")), "not_candidate");
    assert_eq!(refused(&mut swarm, "a1", vote(7, "a1")), "stale_term");
    let missing = json!({"type": "vote_election.start", "election": "nowhere"});
    assert_eq!(refused(&mut swarm, "a1", missing), "vote_election_not_found");
    let delete = json!({"type": "vote_election.delete", "election": "desk"});
    assert_eq!(refused(&mut swarm, "a2", delete.clone()), "not_vote_election_creator");

    let create = |members: Value, timeout: u64| json!({"type": "vote_election.create", "election": "other", "members": members, "round_timeout_ms": timeout});
    assert_eq!(refused(&mut swarm, "a1", create(json!([]), 5_000)), "invalid_field");
    assert_eq!(refused(&mut swarm, "a1", create(json!(["a1", "a1"]), 5_000)), "invalid_field");
    assert_eq!(refused(&mut swarm, "a1", create(json!(["a1"]), 999)), "invalid_field");
    assert_eq!(refused(&mut swarm, "a1", create(json!(["a1", "ghost"]), 5_000)), "agent_not_found");
    let many: Vec<String> =
        (0..=colony_core::limits::VOTE_ELECTION_MEMBERS_MAX).map(|index| format!("m{index}")).collect();
    assert_eq!(refused(&mut swarm, "a1", create(json!(many), 5_000)), "invalid_field");
    let again =
        json!({"type": "vote_election.create", "election": "desk", "members": ["a1"], "round_timeout_ms": 5_000});
    assert_eq!(refused(&mut swarm, "a2", again), "vote_election_exists");

    // A hostile creator runs out of elections to make.
    for index in 1..colony_core::limits::VOTE_ELECTIONS_PER_CREATOR_MAX {
        let made = json!({"type": "vote_election.create", "election": format!("e{index}"), "members": ["a1"], "round_timeout_ms": 5_000});
        ok(&mut swarm, "a1", made);
    }
    let one_more =
        json!({"type": "vote_election.create", "election": "e-last", "members": ["a1"], "round_timeout_ms": 5_000});
    assert_eq!(refused(&mut swarm, "a1", one_more), "limit_reached");

    // The creator deletes it, round and all.
    ok(&mut swarm, "a1", delete);
    assert!(swarm.state().coordination().vote_elections().get(&Name::new("desk").unwrap()).is_none());
    assert!(swarm.tick_after(10_000).all_accepted());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random rounds of random votes: a leader is elected exactly when a candidate's votes pass half
    /// the candidates, by the vote that passes it, and terms rise by one a round.
    #[test]
    fn the_first_candidate_past_half_the_candidates_leads(
        rounds in proptest::collection::vec(proptest::collection::vec((0usize..5, 0usize..5), 0..8), 1..6),
    ) {
        let mut swarm = swarm();
        let mut last_leader_term = 0;
        for (index, votes) in rounds.into_iter().enumerate() {
            let term = index as u64 + 1;
            // The last round's timeout passes, if it is still open.
            swarm.advance_ms(2_000);
            let heartbeat = json!({"type": "agent.heartbeat"});
            for member in MEMBERS {
                let heard = swarm.agent(member, vec![command(heartbeat.clone())]).all_accepted();
                prop_assert!(heard);
            }
            swarm.tick_after(5_001);
            // The last term's leader steps down; with none, any member opens the round.
            let opener = leader(&swarm).map_or_else(|| "a1".to_owned(), |(agent, _)| agent);
            prop_assert!(swarm.agent(&opener, vec![command(start())]).all_accepted());
            let mut model: Vec<Option<usize>> = vec![None; 5];
            let mut winner: Option<usize> = None;
            for (voter, candidate) in votes {
                let outcome = swarm.agent(MEMBERS[voter], vec![command(vote(term, MEMBERS[candidate]))]);
                let expected = if winner.is_some() {
                    Some("no_vote_round")
                } else if model[voter].is_some() {
                    Some("already_voted")
                } else {
                    model[voter] = Some(candidate);
                    None
                };
                prop_assert_eq!(outcome.single_code(), expected);
                if expected.is_none() && model.iter().filter(|chosen| **chosen == Some(candidate)).count() >= 3 {
                    winner = Some(candidate);
                    let events: Vec<EventKind> = outcome.events.into_iter().map(|event| event.kind).collect();
                    prop_assert_eq!(elected(&events), Some((MEMBERS[candidate].to_owned(), term, 3, 5)));
                }
            }
            match winner {
                Some(candidate) => {
                    prop_assert_eq!(leader(&swarm), Some((MEMBERS[candidate].to_owned(), term)));
                    prop_assert!(term > last_leader_term);
                    last_leader_term = term;
                }
                None => prop_assert_eq!(leader(&swarm), None),
            }
            let election = swarm.state().coordination().vote_elections().get(&Name::new("desk").unwrap()).unwrap();
            prop_assert_eq!(election.term, term);
        }
    }
}
