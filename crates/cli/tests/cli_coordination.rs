//! Leases, locks and barriers through the `colony` binary, as a user drives them: a lock held through
//! a lease, a second worker refused then queued, the handover with a higher fencing token when the
//! first lease is revoked, what another agent may not do to a lease or lock that is not its own, and
//! parties meeting at a barrier with `arrive --wait`, released by a trip or told of a break, a
//! semaphore's permits, and an election whose candidate waits with `campaign --wait` until it leads.

mod common;

use common::CliSession;

#[test]
fn a_lock_is_held_queued_and_handed_over_through_the_cli() {
    let session = CliSession::start();
    let run = |args: &[&str]| session.run(args);
    let first = session.agent("worker-1", "executor", &[]);
    let second = session.agent("worker-2", "executor", &[]);
    let operator = session.operator.clone();

    for key in [&first, &second] {
        let granted = run(&["lease", "grant", "work", "--ttl-ms", "60000", "--json", "--key", key]).json();
        assert!(granted["results"][0]["expires_at_ms"].as_u64().is_some(), "{granted}");
    }
    let held = run(&["lock", "acquire", "export", "--lease", "work", "--json", "--key", &first]).json();
    let first_token = held["results"][0]["fencing_token"].as_u64().expect("a fencing token");
    let busy = run(&["lock", "acquire", "export", "--lease", "work", "--key", &second]);
    assert!(busy.failed().contains("lock_held"), "{}", busy.stderr);
    let queued = run(&["lock", "acquire", "export", "--lease", "work", "--wait", "--json", "--key", &second]).json();
    assert_eq!(queued["results"][0]["queue_position"], 1, "{queued}");
    let shown = run(&["lock", "show", "export", "--json", "--key", &operator]).json();
    assert_eq!(shown["holders"][0]["holder"], "worker-1", "{shown}");
    assert_eq!(shown["queue"][0]["holder"], "worker-2", "{shown}");
    let text = run(&["lock", "show", "export", "--key", &operator]);
    assert!(text.ok().contains("worker-1"), "{}", text.stdout);

    // Another agent cannot end or release what is not its own.
    let hijack = run(&["lease", "revoke", "work", "--holder", "worker-1", "--key", &second]);
    assert!(hijack.failed().contains("not_lease_holder"), "{}", hijack.stderr);
    let stolen = run(&["lock", "release", "export", "--key", &session.agent("worker-3", "executor", &[])]);
    assert!(stolen.failed().contains("lock_not_held"), "{}", stolen.stderr);

    // Revoking the first lease hands the lock to the queue's head, with a higher token.
    run(&["lease", "revoke", "work", "--key", &first]).ok();
    let handed = run(&["lock", "show", "export", "--json", "--key", &operator]).json();
    assert_eq!(handed["holders"][0]["holder"], "worker-2", "{handed}");
    let second_token = handed["holders"][0]["fencing_token"].as_u64().unwrap();
    assert!(second_token > first_token, "{second_token} after {first_token}");
    let leases = run(&["lease", "list", "--json", "--key", &operator]).json();
    let holders: Vec<&str> =
        leases["leases"].as_array().unwrap().iter().map(|lease| lease["holder"].as_str().unwrap()).collect();
    assert_eq!(holders, ["worker-2"], "{leases}");
    let locks = run(&["lock", "list", "--json", "--key", &operator]).json();
    assert_eq!(locks["locks"].as_array().map(Vec::len), Some(1), "{locks}");
    run(&["lock", "release", "export", "--key", &second]).ok();
    let empty = run(&["lock", "list", "--json", "--key", &operator]).json();
    assert_eq!(empty["locks"], serde_json::json!([]), "a lock nobody uses has no record: {empty}");
}

#[test]
fn parties_meet_at_a_barrier_and_a_waiter_learns_when_it_trips_or_breaks() {
    let session = CliSession::start();
    let run = |args: &[&str]| session.run(args);
    let first = session.agent("party-1", "executor", &[]);
    let second = session.agent("party-2", "executor", &[]);
    let outsider = session.agent("outsider", "executor", &[]);
    let operator = session.operator.clone();
    for key in [&first, &second, &outsider] {
        run(&["lease", "grant", "work", "--ttl-ms", "60000", "--key", key]).ok();
    }
    let members = ["--member", "party-1", "--member", "party-2"];
    let create = [&["barrier", "create", "phase", "--parties", "2", "--timeout-ms", "60000"][..], &members[..]];
    run(&[&create.concat()[..], &["--key", &first][..]].concat()).ok();
    let exists = run(&["barrier", "create", "phase", "--parties", "2", "--timeout-ms", "60000", "--key", &second]);
    assert!(exists.failed().contains("barrier_exists"), "{}", exists.stderr);
    let intruder = run(&["barrier", "arrive", "phase", "--lease", "work", "--key", &outsider]);
    assert!(intruder.failed().contains("not_barrier_member"), "{}", intruder.stderr);

    // party-1 waits; party-2's arrival trips the barrier and releases it.
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| run(&["barrier", "arrive", "phase", "--lease", "work", "--wait", "--key", &first]));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let shown = run(&["barrier", "show", "phase", "--json", "--key", &operator]).json();
            if shown["arrivals"].as_array().is_some_and(|arrivals| arrivals.len() == 1) {
                assert_eq!(shown["arrivals"][0]["party"], "party-1", "{shown}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "party-1 never arrived: {shown}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let tripped = run(&["barrier", "arrive", "phase", "--lease", "work", "--json", "--key", &second]).json();
        assert_eq!(tripped["results"][0]["barrier_arrival"]["tripped"], true, "{tripped}");
        let released = waiter.join().expect("the waiter's thread");
        let text = released.ok();
        assert!(text.contains("arrived: generation 1, 1 arrived") && text.contains("released"), "{text}");
    });
    let shown = run(&["barrier", "show", "phase", "--json", "--key", &operator]).json();
    assert_eq!((shown["generation"].as_u64(), shown["last_tripped_generation"].as_u64()), (Some(2), Some(1)));
    let hijack = run(&["barrier", "reset", "phase", "--key", &second]);
    assert!(hijack.failed().contains("not_barrier_creator"), "{}", hijack.stderr);

    // A meeting of three that only one reaches breaks at its timeout, and the waiter is told why.
    run(&["barrier", "create", "quorum", "--parties", "3", "--timeout-ms", "1000", "--key", &second]).ok();
    let broken = run(&["barrier", "arrive", "quorum", "--lease", "work", "--wait", "--key", &first]);
    assert!(broken.failed().contains("broke in generation 1 (timed_out)"), "{}", broken.stderr);
    let late = run(&["barrier", "arrive", "quorum", "--lease", "work", "--key", &second]);
    assert!(late.failed().contains("barrier_broken"), "{}", late.stderr);
    run(&["barrier", "reset", "quorum", "--key", &second]).ok();
    let listed = run(&["barrier", "list", "--json", "--key", &operator]).json();
    let names: Vec<&str> =
        listed["barriers"].as_array().unwrap().iter().map(|barrier| barrier["barrier"].as_str().unwrap()).collect();
    assert_eq!(names, ["phase", "quorum"], "{listed}");
    assert!(run(&["barrier", "list", "--key", &operator]).ok().contains("quorum"));
    run(&["barrier", "remove", "quorum", "--key", &second]).ok();
    let gone = run(&["barrier", "show", "quorum", "--key", &operator]);
    assert!(gone.failed().contains("barrier_not_found"), "{}", gone.stderr);
}

#[test]
fn semaphores_count_permits_and_a_candidate_waits_until_it_leads() {
    let session = CliSession::start();
    let run = |args: &[&str]| session.run(args);
    let workers: Vec<String> =
        ["worker-1", "worker-2", "worker-3"].iter().map(|id| session.agent(id, "executor", &[])).collect();
    let operator = session.operator.clone();
    for key in &workers {
        run(&["lease", "grant", "work", "--ttl-ms", "60000", "--key", key]).ok();
    }
    for key in &workers[..2] {
        let granted = run(&["semaphore", "acquire", "gpu", "--permits", "2", "--lease", "work", "--key", key]);
        assert!(granted.ok().contains("granted: fencing token"), "{}", granted.stdout);
    }
    let full = run(&["semaphore", "acquire", "gpu", "--permits", "2", "--lease", "work", "--key", &workers[2]]);
    assert!(full.failed().contains("lock_held"), "{}", full.stderr);
    let other_count = run(&["semaphore", "acquire", "gpu", "--permits", "5", "--lease", "work", "--key", &workers[2]]);
    assert!(other_count.failed().contains("lock_kind_mismatch"), "{}", other_count.stderr);
    let shown = run(&["lock", "show", "gpu", "--key", &operator]);
    assert!(shown.ok().contains("semaphore gpu: 2 of 2 permits held"), "{}", shown.stdout);
    run(&["semaphore", "release", "gpu", "--key", &workers[0]]).ok();
    let json =
        run(&["semaphore", "acquire", "gpu", "--permits", "2", "--lease", "work", "--json", "--key", &workers[2]]);
    assert!(json.json()["results"][0]["fencing_token"].as_u64().is_some(), "{}", json.stdout);

    let elected = run(&["elect", "campaign", "desk", "--lease", "work", "--key", &workers[0]]);
    let first_term: u64 = elected.ok().trim().trim_start_matches("elected: term ").parse().expect("a term");
    std::thread::scope(|scope| {
        let waiter =
            scope.spawn(|| run(&["elect", "campaign", "desk", "--lease", "work", "--wait", "--key", &workers[1]]));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let view = run(&["elect", "show", "desk", "--json", "--key", &operator]).json();
            if view["candidates"].as_array().is_some_and(|candidates| candidates.len() == 1) {
                assert_eq!(view["leader"]["leader"], "worker-1", "{view}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "worker-2 never campaigned: {view}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let hijack = run(&["elect", "resign", "desk", "--key", &workers[2]]);
        assert!(hijack.failed().contains("lock_not_held"), "{}", hijack.stderr);
        run(&["elect", "resign", "desk", "--key", &workers[0]]).ok();
        let output = waiter.join().expect("the waiter's thread");
        let text = output.ok();
        assert!(text.contains("campaigning: candidate #1"), "{text}");
        let term: u64 = text.lines().last().unwrap().trim_start_matches("elected: term ").parse().expect("a term");
        assert!(term > first_term, "{term} after {first_term}");
    });
    let shown = run(&["elect", "show", "desk", "--key", &operator]);
    assert!(shown.ok().contains("worker-2"), "{}", shown.stdout);
    // A candidate whose candidacy ends while it waits is told so.
    std::thread::scope(|scope| {
        let waiter =
            scope.spawn(|| run(&["elect", "campaign", "desk", "--lease", "work", "--wait", "--key", &workers[2]]));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while run(&["elect", "show", "desk", "--json", "--key", &operator]).json()["candidates"]
            .as_array()
            .is_none_or(Vec::is_empty)
        {
            assert!(std::time::Instant::now() < deadline, "worker-3 never campaigned");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        run(&["lease", "revoke", "work", "--key", &workers[2]]).ok();
        let output = waiter.join().expect("the waiter's thread");
        assert!(output.failed().contains("no longer a candidate"), "{}", output.stderr);
    });
}
