//! Coordination's read endpoints, called in process: leases paged by holder, a lock's holders with
//! their fencing tokens and its queue, a handover seen on a release, a semaphore's kind and permits,
//! an election's leader and candidates, barriers before and after they trip, a vote-based election's
//! round and leader, and bad queries.

use colony_wire::coordination::{BarrierPage, BarrierView, ElectionView, LeasePage, LockKindName, LockPage, LockView};
use colony_wire::keys::KeyPair;
use serde_json::json;

use super::tests::{TestApp, expect_problem, read, submit};

#[tokio::test]
async fn leases_and_locks_are_read_with_tokens_and_queues() {
    let test = TestApp::new();
    let agents = [("alice", KeyPair::from_seed([5; 32])), ("bob", KeyPair::from_seed([6; 32]))];
    for (agent, key) in &agents {
        let register =
            json!({ "type": "agent.register", "agent": agent, "public_key": key.public_key(), "role": "scout" });
        submit(&test, "operator", &test.operator, register).await;
        for lease in ["batch", "work"] {
            let granted =
                submit(&test, agent, key, json!({ "type": "lease.grant", "lease": lease, "ttl_ms": 60_000 })).await;
            assert!(granted.results[0].expires_at_ms.is_some());
        }
    }
    let acquire =
        json!({ "type": "lock.acquire", "lock": "export", "mode": "exclusive", "lease": "work", "wait": true });
    let first = submit(&test, "alice", &agents[0].1, acquire.clone()).await;
    let token = first.results[0].fencing_token.expect("granted at once");
    let second = submit(&test, "bob", &agents[1].1, acquire).await;
    assert_eq!((second.results[0].fencing_token, second.results[0].queue_position), (None, Some(1)));

    let lock: LockView = read(&test, "/v1/locks/export").await;
    assert_eq!(lock.holders.len(), 1);
    assert_eq!((lock.holders[0].holder.to_string(), lock.holders[0].fencing_token), ("alice".to_owned(), token));
    assert_eq!(lock.queue.iter().map(|waiter| waiter.holder.to_string()).collect::<Vec<_>>(), ["bob"]);

    submit(&test, "alice", &agents[0].1, json!({ "type": "lock.release", "lock": "export" })).await;
    let handed: LockView = read(&test, "/v1/locks/export").await;
    assert_eq!(handed.holders[0].holder.to_string(), "bob");
    assert!(handed.holders[0].fencing_token > token, "the handover's token is above the last");
    assert!(handed.queue.is_empty());
    let free: LockView = read(&test, "/v1/locks/unused").await;
    assert!(free.holders.is_empty() && free.queue.is_empty() && free.kind.is_none());
    assert_eq!((handed.kind, handed.permits), (Some(LockKindName::Lock), None));
    let locks: LockPage = read(&test, "/v1/locks").await;
    assert_eq!((locks.locks.len(), locks.next_after), (1, None));

    let alice: LeasePage = read(&test, "/v1/leases?holder=alice").await;
    assert_eq!(alice.leases.iter().map(|lease| lease.lease.as_str()).collect::<Vec<_>>(), ["batch", "work"]);
    let first_page: LeasePage = read(&test, "/v1/leases?limit=3").await;
    let cursor = first_page.next_after.expect("a fourth lease follows");
    assert_eq!((cursor.holder.to_string(), cursor.lease.as_str()), ("bob".to_owned(), "batch"));
    let rest: LeasePage = read(&test, "/v1/leases?after_holder=bob&after=batch").await;
    assert_eq!((rest.leases.len(), rest.leases[0].lease.as_str(), rest.next_after), (1, "work", None));

    expect_problem(test.send(test.signed_get("/v1/leases?limit=0")).await, 400, "invalid_query", Some("limit")).await;
    // `after` without its holder reads against the operator's leases, which sort first (it holds
    // none here): every agent's lease follows it.
    let from_the_operator: LeasePage = read(&test, "/v1/leases?after=work").await;
    assert_eq!(from_the_operator.leases.len(), alice.leases.len() + 2, "{from_the_operator:?}");
    expect_problem(
        test.send(test.signed_get("/v1/locks?after=has%20space")).await,
        400,
        "invalid_query",
        Some("after"),
    )
    .await;
}

#[tokio::test]
async fn semaphores_and_elections_are_read_with_their_kind_leader_and_candidates() {
    let test = TestApp::new();
    let agents = [("alice", KeyPair::from_seed([51; 32])), ("bob", KeyPair::from_seed([52; 32]))];
    for (agent, key) in &agents {
        let register =
            json!({ "type": "agent.register", "agent": agent, "public_key": key.public_key(), "role": "scout" });
        submit(&test, "operator", &test.operator, register).await;
        submit(&test, agent, key, json!({ "type": "lease.grant", "lease": "work", "ttl_ms": 60_000 })).await;
        let acquire = json!({ "type": "semaphore.acquire", "semaphore": "gpu", "permits": 2, "lease": "work" });
        assert!(submit(&test, agent, key, acquire).await.results[0].fencing_token.is_some(), "two permits");
    }
    let raw: serde_json::Value = read(&test, "/v1/locks/gpu").await;
    assert_eq!((raw["kind"].as_str(), raw["permits"].as_u64()), (Some("semaphore"), Some(2)), "{raw}");
    let semaphore: LockView = read(&test, "/v1/locks/gpu").await;
    assert_eq!(
        (semaphore.kind, semaphore.permits, semaphore.holders.len()),
        (Some(LockKindName::Semaphore), Some(2), 2)
    );

    let nobody: ElectionView = read(&test, "/v1/elections/leader").await;
    assert!(nobody.leader.is_none() && nobody.candidates.is_empty());
    let campaign = json!({ "type": "election.campaign", "election": "leader", "lease": "work" });
    let elected = submit(&test, "alice", &agents[0].1, campaign.clone()).await;
    let term = elected.results[0].fencing_token.expect("elected at once");
    let queued = submit(&test, "bob", &agents[1].1, campaign).await;
    assert_eq!(queued.results[0].queue_position, Some(1));
    let election: ElectionView = read(&test, "/v1/elections/leader").await;
    let leader = election.leader.expect("alice leads");
    assert_eq!((leader.leader.to_string(), leader.term), ("alice".to_owned(), term));
    assert_eq!(election.candidates.iter().map(|c| c.candidate.to_string()).collect::<Vec<_>>(), ["bob"]);

    submit(&test, "alice", &agents[0].1, json!({ "type": "election.resign", "election": "leader" })).await;
    let next: ElectionView = read(&test, "/v1/elections/leader").await;
    let leader = next.leader.expect("bob leads");
    assert_eq!(leader.leader.to_string(), "bob");
    assert!(leader.term > term, "a new term is above the last");
    // The same election read as a lock: its kind, and its leader holding with its term as the token.
    let as_lock: LockView = read(&test, "/v1/locks/leader").await;
    assert_eq!(as_lock.kind, Some(LockKindName::Election));
    let holder = &as_lock.holders[0];
    assert_eq!((holder.holder.to_string(), holder.fencing_token), ("bob".to_owned(), leader.term));
    assert!(as_lock.queue.is_empty());
    expect_problem(test.send(test.signed_get("/v1/elections/gpu")).await, 409, "lock_kind_mismatch", Some("lock"))
        .await;
}

#[tokio::test]
async fn barriers_are_read_with_their_generation_and_waiting_parties() {
    let test = TestApp::new();
    let agents = [("alice", KeyPair::from_seed([41; 32])), ("bob", KeyPair::from_seed([42; 32]))];
    for (agent, key) in &agents {
        let register =
            json!({ "type": "agent.register", "agent": agent, "public_key": key.public_key(), "role": "scout" });
        submit(&test, "operator", &test.operator, register).await;
        submit(&test, agent, key, json!({ "type": "lease.grant", "lease": "work", "ttl_ms": 60_000 })).await;
    }
    for barrier in ["phase-1", "phase-2"] {
        let create = json!({ "type": "barrier.create", "barrier": barrier, "parties": 2, "timeout_ms": 60_000 });
        assert!(submit(&test, "alice", &agents[0].1, create).await.results[0].ok);
    }
    let arrive = json!({ "type": "barrier.arrive", "barrier": "phase-1", "lease": "work" });
    let first = submit(&test, "alice", &agents[0].1, arrive.clone()).await;
    let arrival = first.results[0].barrier_arrival.expect("an arrival's result");
    assert_eq!((arrival.generation, arrival.arrived, arrival.tripped), (1, 1, false));

    let waiting: BarrierView = read(&test, "/v1/barriers/phase-1").await;
    assert_eq!(waiting.arrivals.iter().map(|arrival| arrival.party.to_string()).collect::<Vec<_>>(), ["alice"]);
    assert_eq!((waiting.generation, waiting.last_tripped_generation, waiting.broken), (1, 0, None));
    assert!(waiting.deadline_ms.is_some());

    let second = submit(&test, "bob", &agents[1].1, arrive).await;
    assert!(second.results[0].barrier_arrival.expect("an arrival's result").tripped);
    let tripped: BarrierView = read(&test, "/v1/barriers/phase-1").await;
    assert_eq!((tripped.generation, tripped.last_tripped_generation, tripped.trips), (2, 1, 1));
    assert!(tripped.arrivals.is_empty() && tripped.deadline_ms.is_none());

    let first_page: BarrierPage = read(&test, "/v1/barriers?limit=1").await;
    assert_eq!(first_page.barriers[0].barrier.as_str(), "phase-1");
    let rest: BarrierPage = read(&test, "/v1/barriers?after=phase-1").await;
    assert_eq!((rest.barriers.len(), rest.barriers[0].barrier.as_str(), rest.next_after), (1, "phase-2", None));
    assert_eq!(first_page.next_after.map(|name| name.to_string()), Some("phase-1".to_owned()));

    expect_problem(test.send(test.signed_get("/v1/barriers/nothing")).await, 404, "barrier_not_found", Some("barrier"))
        .await;
    expect_problem(test.send(test.signed_get("/v1/barriers?limit=0")).await, 400, "invalid_query", Some("limit")).await;
}

#[tokio::test]
async fn vote_based_elections_are_read_with_their_round_votes_and_leader() {
    use colony_wire::coordination::{VoteElectionPage, VoteElectionView};
    let test = TestApp::new();
    let agents = [("alice", KeyPair::from_seed([5; 32])), ("bob", KeyPair::from_seed([6; 32]))];
    for (agent, key) in &agents {
        let register =
            json!({ "type": "agent.register", "agent": agent, "public_key": key.public_key(), "role": "scout" });
        submit(&test, "operator", &test.operator, register).await;
    }
    let create = json!({ "type": "vote_election.create", "election": "desk", "members": ["alice", "bob"], "round_timeout_ms": 10_000 });
    submit(&test, "alice", &agents[0].1, create).await;
    submit(&test, "bob", &agents[1].1, json!({ "type": "vote_election.start", "election": "desk" })).await;
    let vote = json!({ "type": "vote_election.vote", "election": "desk", "term": 1, "candidate": "bob" });
    submit(&test, "alice", &agents[0].1, vote.clone()).await;

    let open: VoteElectionView = read(&test, "/v1/vote-elections/desk").await;
    let round = open.round.expect("a round is open");
    assert_eq!((open.term, round.term, round.majority, round.candidates.len()), (1, 1, 2, 2));
    assert_eq!((round.votes[0].voter.as_str(), round.votes[0].candidate.as_str()), ("alice", "bob"));
    assert!(open.leader.is_none());

    submit(&test, "bob", &agents[1].1, vote).await;
    let page: VoteElectionPage = read(&test, "/v1/vote-elections?limit=1").await;
    let elected = &page.elections[0];
    let leader = elected.leader.as_ref().expect("two of two elected bob");
    assert_eq!((leader.agent.as_str(), leader.term, leader.votes, elected.round.is_none()), ("bob", 1, 2, true));
    assert!(page.next_after.is_none());
    let missing = test.send(test.signed_get("/v1/vote-elections/nowhere")).await;
    expect_problem(missing, 404, "vote_election_not_found", Some("election")).await;
}
