//! The ephemeral bus through the `colony` binary: `sub` with a wildcard and a queue group, `pub`
//! with a type, priority, header and payload signature, `request` with no responders, `bus stats`,
//! and refusals of bad subjects.

mod common;

use std::time::{Duration, Instant};

use common::{CliSession, colony};

#[test]
fn a_user_publishes_and_subscribes_through_the_cli() {
    let mut session = CliSession::start();
    let run = {
        let (url, work, operator) = (session.url.clone(), session.work.clone(), session.operator.clone());
        move |args: &[&str]| {
            let mut full = vec!["--server", url.as_str(), "--key", operator.as_str()];
            full.extend_from_slice(args);
            colony(&work, &full)
        }
    };

    // Two subscribers in the background: a wildcard one and a queue-group member.
    let spawn_subscriber = |args: Vec<&'static str>| {
        let run = run.clone();
        std::thread::spawn(move || run(&args))
    };
    let wildcard = spawn_subscriber(vec!["sub", "market.>", "--count", "2", "--json"]);
    let member = spawn_subscriber(vec!["sub", "market.signal.*", "--queue", "executors", "--count", "1"]);
    let started = Instant::now();
    loop {
        let stats = run(&["bus", "stats", "--json"]).json();
        if stats["subscriptions"].as_array().is_some_and(|subscriptions| subscriptions.len() == 2) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the subscribers did not connect: {stats}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let published =
        run(&["pub", "market.price.aapl", r#"{"close": 187.2}"#, "--type", "price", "--header", "source=eod"]);
    assert!(published.ok().contains("to 1 subscriber(s)"), "{}", published.stdout);
    let signal = run(&["pub", "market.signal.spread", "edge found", "--priority", "high", "--sign-payload", "--json"]);
    assert_eq!(signal.json()["delivered"], 2, "the wildcard subscriber and one queue member");

    let wildcard = wildcard.join().expect("the subscriber thread");
    let lines: Vec<serde_json::Value> =
        wildcard.ok().lines().map(|line| serde_json::from_str(line).expect("one JSON message per line")).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["subject"], "market.price.aapl");
    assert_eq!(lines[0]["source"], "operator");
    assert_eq!(lines[0]["payload"], serde_json::json!({ "close": 187.2 }));
    assert_eq!(lines[0]["type"], "price");
    assert_eq!(lines[0]["headers"]["source"], "eod");
    assert_eq!(lines[1]["payload"], "edge found", "text that is not JSON travels as a JSON string");
    assert_eq!(lines[1]["priority"], "high");
    assert!(lines[1]["payload_signature"].as_str().is_some_and(|signature| signature.len() == 128));
    let member = member.join().expect("the subscriber thread");
    assert!(
        member.ok().contains("market.signal.spread") && member.stdout.contains("priority=high"),
        "{}",
        member.stdout
    );

    let nobody = run(&["request", "risk.check", "{}", "--timeout-ms", "500"]);
    assert!(nobody.failed().contains("no_responders"), "{}", nobody.stderr);
    let bad = run(&["pub", "market.*", "1"]);
    assert!(bad.failed().contains("invalid_subject") && bad.stderr.contains("subject"), "{}", bad.stderr);
    let bad = run(&["sub", "a.>.b"]);
    assert!(bad.failed().contains("invalid_subject"), "{}", bad.stderr);
    let bad = run(&["pub", "a", "1", "--priority", "urgent"]);
    assert!(bad.failed().contains("not a priority"), "{}", bad.stderr);

    let stats = run(&["bus", "stats"]);
    assert!(stats.ok().contains("published 3  delivered 3  dropped 0  unmatched 1"), "{}", stats.stdout);

    // A sealed direct message: bob opens it with his key; the server only routed it.
    let bob_key = session.key("bob");
    session.run(&["keygen", "--signer", "bob", "--out", &bob_key]).ok();
    session.run(&["agent", "register", "--role", "scout", "--key", &bob_key]).ok();
    let inbox = {
        let (url, work, bob_key) = (session.url.clone(), session.work.clone(), bob_key.clone());
        std::thread::spawn(move || {
            colony(
                &work,
                &["--server", &url, "--key", &bob_key, "sub", "agent.bob.inbox", "--open", "--count", "1", "--json"],
            )
        })
    };
    let started = Instant::now();
    while !run(&["bus", "stats", "--json"]).json()["subscriptions"]
        .as_array()
        .is_some_and(|subscriptions| subscriptions.iter().any(|subscription| subscription["owner"] == "bob"))
    {
        assert!(started.elapsed() < Duration::from_secs(20), "bob did not subscribe");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sealed = run(&["pub", "agent.bob.inbox", "meet at the close", "--seal-to", "bob"]);
    assert!(sealed.ok().contains("to 1 subscriber(s)"), "{}", sealed.stdout);
    let opened: serde_json::Value = serde_json::from_str(inbox.join().expect("the subscriber").ok().trim()).unwrap();
    assert_eq!(opened["payload"], "meet at the close");
    assert_eq!(opened["encrypted_to"], "bob");
    session.server.terminate();
}

#[test]
fn a_user_runs_a_durable_work_queue_through_the_cli() {
    let mut session = CliSession::start();
    let run = |args: &[&str]| session.run(&[&["--key", session.operator.as_str()][..], args].concat());

    let created = run(&["stream", "create", "signals", "--subject", "market.signal.>", "--max-messages", "1000"]);
    assert!(created.ok().starts_with("stream signals: done"), "{}", created.stdout);
    assert!(
        run(&["stream", "create", "signals", "--subject", "market.signal.>", "--max-messages", "1000"])
            .ok()
            .starts_with("stream signals: unchanged")
    );
    let overlap = run(&["stream", "create", "other", "--subject", "market.>"]);
    assert!(overlap.failed().contains("subjects_overlap"), "{}", overlap.stderr);
    let consumer = run(&[
        "consumer",
        "create",
        "signals",
        "executors",
        "--ack-wait-ms",
        "1000",
        "--max-deliver",
        "1",
        "--role",
        "executor",
        "--agent",
        "risk-1",
    ]);
    assert!(consumer.ok().contains("done"), "{}", consumer.stdout);

    let stored = run(&["pub", "--durable", "--id", "sig-1", "market.signal.up.aapl", r#"{"edge_bps": 160}"#]);
    assert_eq!(stored.ok().trim(), "stored as signals:1");
    let again = run(&["pub", "--durable", "--id", "sig-1", "market.signal.up.aapl", r#"{"edge_bps": 160}"#]);
    assert_eq!(again.ok().trim(), "duplicate: already stored as signals:1");
    run(&["pub", "--durable", "market.signal.down.msft", r#"{"edge_bps": -210}"#, "--sign-payload"]).ok();
    let nowhere = run(&["pub", "--durable", "weather.today", "1"]);
    assert!(nowhere.failed().contains("no_stream"), "{}", nowhere.stderr);

    // Five asked for, but one byte at most: one message (never none) comes, the rest waits.
    let next = run(&["consumer", "next", "signals", "executors", "--batch", "5", "--max-bytes", "1", "--json"]);
    let message: serde_json::Value = serde_json::from_str(next.ok().trim()).expect("one JSON message");
    assert_eq!((message["stream_sequence"].as_u64(), message["delivery_count"].as_u64()), (Some(1), Some(1)));
    assert_eq!(message["message_id"], "sig-1");
    run(&["consumer", "ack", "signals", "executors", "1"]).ok();
    let next = run(&["consumer", "next", "signals", "executors"]);
    assert!(next.ok().contains("market.signal.down.msft"), "{}", next.stdout);
    // With max_deliver 1, a nak on the first delivery makes a dead letter.
    run(&["consumer", "ack", "signals", "executors", "2", "--nak", "--error", "venue closed"]).ok();
    let info = run(&["consumer", "info", "signals", "executors", "--json"]).json();
    assert_eq!((info["acked"].as_u64(), info["dead_lettered"].as_u64()), (Some(1), Some(1)));

    let dead = run(&["dlq", "ls", "signals"]);
    assert!(dead.ok().contains("venue closed") && dead.stdout.contains("max_deliver"), "{}", dead.stdout);
    let replayed = run(&["dlq", "replay", "signals", "1"]);
    assert_eq!(replayed.ok().trim(), "dead letter 1 replayed as signals:3");
    assert!(run(&["dlq", "ls", "signals", "--json"]).json().as_array().is_some_and(Vec::is_empty));
    let next = run(&["consumer", "next", "signals", "executors", "--ack"]);
    assert!(next.ok().contains("market.signal.down.msft") && next.stdout.contains("delivery 1"), "{}", next.stdout);

    let info = run(&["stream", "info", "signals"]);
    assert!(
        info.ok().contains("messages      3") && info.stdout.contains("consumers     executors"),
        "{}",
        info.stdout
    );
    let list = run(&["stream", "ls"]);
    assert!(list.ok().contains("signals") && list.stdout.contains("market.signal.>"), "{}", list.stdout);
    let messages = run(&["stream", "messages", "signals", "--json"]);
    assert_eq!(messages.ok().lines().count(), 3);
    assert!(run(&["stream", "rm", "signals"]).ok().contains("deleted"));
    assert!(run(&["stream", "info", "signals"]).failed().contains("stream_not_found"));
    session.server.terminate();
}
