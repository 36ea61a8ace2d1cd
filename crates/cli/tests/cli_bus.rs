//! The ephemeral bus through the `colony` binary: `sub` with a wildcard and a queue group, `pub`
//! with a type, priority, header and payload signature, `request` with no responders, `bus stats`,
//! and refusals of bad subjects.

mod common;

use std::time::{Duration, Instant};

use common::{ServerProcess, colony};

#[test]
fn a_user_publishes_and_subscribes_through_the_cli() {
    let temp = tempfile::tempdir().expect("a temporary directory");
    let data = temp.path().join("data");
    let work = temp.path().join("work");
    std::fs::create_dir_all(&work).expect("create the working directory");
    let mut server = ServerProcess::start(&data, &temp.path().join("logs"), &[]);
    let url = server.url();
    let operator = data.join("operator.key").to_str().expect("a UTF-8 path").to_owned();
    let run = {
        let url = url.clone();
        let work = work.clone();
        let operator = operator.clone();
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
    assert!(bad.failed().contains("invalid_message") && bad.stderr.contains("subject"), "{}", bad.stderr);
    let bad = run(&["sub", "a.>.b"]);
    assert!(bad.failed().contains("invalid_subject"), "{}", bad.stderr);
    let bad = run(&["pub", "a", "1", "--priority", "urgent"]);
    assert!(bad.failed().contains("not a priority"), "{}", bad.stderr);

    let stats = run(&["bus", "stats"]);
    assert!(stats.ok().contains("published 3  delivered 3  dropped 0  unmatched 1"), "{}", stats.stdout);
    server.terminate();
}
