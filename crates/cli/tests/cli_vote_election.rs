//! Seed 004's vote-based elections through the `colony` binary: an election made among three
//! agents, a round opened, votes that elect a leader once two of three agree, a vote refused once
//! the round is over, what an outsider may not do, and the election shown and listed.

mod common;

use common::CliSession;

#[test]
fn members_open_a_round_and_two_of_three_votes_elect_the_leader() {
    let session = CliSession::start();
    let run = |args: &[&str]| session.run(args);
    let keys: Vec<String> = ["a1", "a2", "a3"].iter().map(|agent| session.agent(agent, "executor", &[])).collect();
    let outsider = session.agent("outsider", "executor", &[]);

    let created = run(&["vote-election", "create", "desk", "--members", "a1,a2,a3", "--key", &keys[0]]);
    assert!(created.ok().starts_with("done"), "{}", created.stdout);
    let opened = run(&["vote-election", "start", "desk", "--key", &keys[1]]);
    assert!(opened.ok().contains("term 1 open, 2 votes elect"), "{}", opened.stdout);
    let first = run(&["vote-election", "vote", "desk", "a2", "--key", &keys[0]]);
    assert!(first.ok().contains("no majority yet"), "{}", first.stdout);
    let second = run(&["vote-election", "vote", "desk", "a2", "--key", &keys[1]]);
    assert!(second.ok().contains("term 1 elected a2"), "{}", second.stdout);
    let late = run(&["vote-election", "vote", "desk", "a3", "--term", "1", "--key", &keys[2]]);
    assert!(late.failed().contains("no_vote_round"), "{}", late.stderr);

    let stranger = run(&["vote-election", "start", "desk", "--key", &outsider]);
    assert!(stranger.failed().contains("not_election_member"), "{}", stranger.stderr);
    let not_creator = run(&["vote-election", "delete", "desk", "--key", &keys[1]]);
    assert!(not_creator.failed().contains("not_vote_election_creator"), "{}", not_creator.stderr);

    let shown = run(&["vote-election", "show", "desk", "--json", "--key", &outsider]).json();
    assert_eq!((shown["leader"]["agent"].as_str(), shown["leader"]["term"].as_u64()), (Some("a2"), Some(1)), "{shown}");
    let listed = run(&["vote-election", "list", "--key", &outsider]);
    assert!(listed.ok().contains("desk") && listed.stdout.contains("a2"), "{}", listed.stdout);
    let bad = run(&["vote-election", "create", "other", "--members", "Not An Agent", "--key", &keys[0]]);
    assert!(bad.failed().contains("--members"), "{}", bad.stderr);
}
