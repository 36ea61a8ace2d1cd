//! Durable streams against a real server: publish through the log, a work queue shared by two
//! members, ack-wait redelivery by log time, max-deliver to dead letters and their replay,
//! deduplication, backpressure, live subscribers seeing committed messages, and restarts.

mod common;

use colony_core::command::Heartbeat;
use std::time::Duration;

use colony_client::bus::BusItem;
use colony_client::streams::{consumer_config, stream_config};
use colony_core::bus::{AckKind, Discard};
use colony_wire::bus::EphemeralPublish;
use common::*;
use serde_json::json;

fn signal(ticker: &str, edge_bps: i64) -> EphemeralPublish {
    EphemeralPublish::json(format!("market.signal.{ticker}"), &json!({ "ticker": ticker, "edge_bps": edge_bps }))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_work_queue_redelivers_what_a_crashed_member_held_and_dead_letters_what_nobody_finishes() {
    let directory = tempfile::tempdir().unwrap();
    let (server, clock) = start_manual(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let (first, _) = server.self_registers("executor-1", "executor", &[]).await;
    let (second, _) = server.self_registers("executor-2", "executor", &[]).await;
    scout.create_stream("signals", stream_config(&["market.signal.>"]).unwrap()).await.unwrap();
    let mut config = consumer_config();
    config.ack_wait_ms = 2_000;
    config.max_deliver = 2;
    config.roles.insert(name("executor"));
    scout.create_consumer("signals", "executors", config).await.unwrap();

    for (index, ticker) in ["aapl", "msft", "goog", "amzn"].iter().enumerate() {
        let stored = scout.publish_durable(&signal(ticker, 150 + index as i64), None).await.unwrap();
        assert_eq!((stored.stream.as_str(), stored.sequence, stored.duplicate), ("signals", index as u64 + 1, false));
    }
    // Members share the consumer: each message goes to one of them.
    let taken_by_first = first.fetch("signals", "executors", 2).await.unwrap();
    let taken_by_second = second.fetch("signals", "executors", 10).await.unwrap();
    let sequences = |messages: &[colony_wire::bus::BusMessage]| {
        messages.iter().map(|message| message.stream_sequence.unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(sequences(&taken_by_first), vec![1, 2]);
    assert_eq!(sequences(&taken_by_second), vec![3, 4]);
    let message = &taken_by_first[0];
    assert_eq!((message.source.as_str(), message.subject.as_str()), ("scout-1", "market.signal.aapl"));
    assert_eq!((message.stream.as_deref(), message.delivery_count), (Some("signals"), Some(1)));
    assert_eq!(
        message.payload_as::<serde_json::Value>().unwrap().unwrap(),
        json!({ "ticker": "aapl", "edge_bps": 150 })
    );

    // executor-1 finishes its work; executor-2 "crashes" holding 3 and 4 and acks nothing. Another
    // member cannot ack what it does not hold.
    first.ack("signals", "executors", &[1, 2], AckKind::Ack).await.unwrap();
    expect_problem(first.ack("signals", "executors", &[3], AckKind::Ack).await, 403, "unauthorized", None);
    assert!(first.fetch("signals", "executors", 10).await.unwrap().is_empty(), "nothing is due yet");

    // After the ack wait (log time), the driver's tick makes 3 and 4 due again.
    clock.advance_ms(2_500);
    let redelivered = poll_until("the crashed member's messages to be redelivered", || async {
        let fetched = first.fetch("signals", "executors", 10).await.unwrap();
        (!fetched.is_empty()).then_some(fetched)
    })
    .await;
    assert_eq!(sequences(&redelivered), vec![3, 4]);
    assert!(redelivered.iter().all(|message| message.delivery_count == Some(2)));
    first.ack("signals", "executors", &[3], AckKind::Ack).await.unwrap();
    first
        .ack(
            "signals",
            "executors",
            &[4],
            AckKind::Nak { delay_ms: 0, error: Some("broker rejected the order".to_owned()) },
        )
        .await
        .unwrap();

    // 4 was nakked on its last allowed delivery: it is a dead letter with its count and last error.
    let page = scout.dead_letters("signals", None, 10).await.unwrap();
    assert_eq!(page.dead_letters.len(), 1);
    let dead = &page.dead_letters[0];
    assert_eq!((dead.message.stream_sequence, dead.delivery_count, dead.reason.as_str()), (Some(4), 2, "max_deliver"));
    assert_eq!(dead.last_error.as_deref(), Some("broker rejected the order"));
    assert_eq!(dead.consumer, "executors");
    let info = scout.consumer_info("signals", "executors").await.unwrap();
    assert_eq!((info.acked, info.dead_lettered, info.redelivered, info.pending), (3, 1, 2, 0));

    // Replayed into its subject, it is a new message that the consumer delivers afresh.
    let replayed = scout.replay_dead_letters("signals", &[dead.id]).await.unwrap();
    assert_eq!(replayed, vec![("signals".to_owned(), 5)]);
    assert!(scout.dead_letters("signals", None, 10).await.unwrap().dead_letters.is_empty());
    let again = second.fetch("signals", "executors", 10).await.unwrap();
    assert_eq!(sequences(&again), vec![5]);
    assert_eq!(again[0].subject, "market.signal.amzn");
    assert_eq!(again[0].delivery_count, Some(1));
    // A term goes straight to the dead letters, with its reason.
    second.ack("signals", "executors", &[5], AckKind::Term { reason: Some("stale signal".to_owned()) }).await.unwrap();
    let dead = scout.dead_letters("signals", None, 10).await.unwrap().dead_letters;
    assert_eq!((dead[0].reason.as_str(), dead[0].last_error.as_deref()), ("terminated", Some("stale signal")));

    // Everything above is in the log: a restart finds the same streams, and the audit agrees.
    let before = server.hash().await;
    let stream_before = scout.stream_info("signals").await.unwrap();
    server.shutdown().await;
    let server = start_in(directory.path()).await;
    // The clean stop's checkpoint is the one entry more, and it names the state read before the stop.
    assert_eq!(server.hash().await.sequence, before.sequence + 1);
    let checkpoint = server.operator.log_checkpoint().await.unwrap();
    assert_eq!((checkpoint.state_sequence, checkpoint.state_hash), (before.sequence, before.state_hash));
    assert_eq!(server.operator.stream_info("signals").await.unwrap(), stream_before);
    let page = server.operator.stream_messages("signals", 1, 100).await.unwrap();
    assert_eq!(page.messages.len(), 5);
    server.shutdown().await;
    let report = colony_server::audit::audit_at(directory.path(), Some(before.sequence), |_, _| {}).unwrap();
    assert_eq!(report.probed_state_hash, Some((before.sequence, before.state_hash)));
}

#[tokio::test(flavor = "multi_thread")]
async fn publishes_deduplicate_apply_backpressure_and_reach_live_subscribers() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (oracle, oracle_key) = server.self_registers("oracle-1", "oracle", &[]).await;
    let (risk, _) = server.self_registers("risk-1", "risk", &[]).await;
    let mut config = stream_config(&["orders.>"]).unwrap();
    config.max_messages = Some(3);
    config.discard = Discard::New;
    oracle.create_stream("orders", config.clone()).await.unwrap();
    let unchanged = oracle.create_stream("orders", config.clone()).await.unwrap();
    assert_eq!(unchanged.results[0].status.as_deref(), Some("unchanged"));
    let mut other = config;
    other.max_messages = Some(4);
    expect_problem(oracle.create_stream("orders", other).await, 409, "stream_conflict", Some("name"));
    expect_problem(
        oracle.create_stream("shadow", stream_config(&["orders.*"]).unwrap()).await,
        409,
        "subjects_overlap",
        Some("subjects"),
    );

    // A live subscriber sees committed durable messages, with their stream and sequence.
    let mut live = risk.subscribe("orders.>", None).await.unwrap();
    let mut order = EphemeralPublish::json("orders.buy", &json!({ "ticker": "aapl", "shares": 100 })).canonical();
    order.payload_signature = Some(hex::encode(oracle_key.sign(&order.payload_bytes().unwrap())));
    let stored = oracle.publish_durable(&order, Some("order-1")).await.unwrap();
    let duplicate = oracle.publish_durable(&order, Some("order-1")).await.unwrap();
    assert_eq!(
        (duplicate.sequence, duplicate.duplicate),
        (stored.sequence, true),
        "the publisher learns it was a duplicate"
    );
    let seen = match tokio::time::timeout(Duration::from_secs(10), live.next()).await.unwrap() {
        Some(Ok(BusItem::Message(message))) => message,
        other => panic!("expected a message, got {other:?}"),
    };
    assert_eq!((seen.stream.as_deref(), seen.stream_sequence), (Some("orders"), Some(stored.sequence)));
    assert_eq!(seen.message_id.as_deref(), Some("order-1"));
    let key = server.agent("oracle-1").await.public_key;
    let signature = colony_wire::envelope::parse_signature(seen.payload_signature.as_deref().unwrap()).unwrap();
    assert!(
        colony_wire::keys::verify(&key, &seen.payload_bytes().unwrap(), &signature),
        "the signature verifies as delivered"
    );

    // Discard-new: a full stream refuses with a clear backpressure error and stores nothing.
    oracle.publish_durable(&EphemeralPublish::json("orders.sell", &1), None).await.unwrap();
    oracle.publish_durable(&EphemeralPublish::json("orders.sell", &2), None).await.unwrap();
    let full = oracle.publish_durable(&EphemeralPublish::json("orders.sell", &3), None).await;
    let problem = expect_problem(full, 429, "stream_full", Some("subject"));
    assert!(problem.detail.contains("max_messages"), "{problem}");
    assert_eq!(server.operator.stream_info("orders").await.unwrap().messages, 3);

    // Subjects no stream captures, and bad messages, are refused with the field to blame.
    expect_problem(
        oracle.publish_durable(&EphemeralPublish::json("weather.today", &1), None).await,
        404,
        "no_stream",
        Some("subject"),
    );
    let bad = EphemeralPublish::json("orders.buy", &"x".repeat(70_000));
    expect_problem(oracle.publish_durable(&bad, None).await, 413, "payload_too_large", Some("payload"));

    // A halted agent cannot publish durably either.
    server.operator.halt(id("oracle-1"), "paused").await.unwrap();
    expect_problem(
        oracle.publish_durable(&EphemeralPublish::json("orders.buy", &1), None).await,
        403,
        "agent_halted",
        None,
    );

    // Reads: unknown streams and consumers are 404s naming the field.
    expect_problem(server.operator.stream_info("nope").await, 404, "stream_not_found", Some("stream"));
    expect_problem(server.operator.consumer_info("orders", "nope").await, 404, "consumer_not_found", Some("consumer"));
    let streams = server.operator.streams().await.unwrap();
    assert_eq!(streams.iter().map(|stream| stream.name.as_str()).collect::<Vec<_>>(), vec!["orders"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_waiting_fetch_returns_as_soon_as_a_message_is_stored_and_writes_nothing_meanwhile() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let (worker, _) = server.self_registers("executor-1", "executor", &[]).await;
    scout.create_stream("signals", stream_config(&["market.signal.>"]).unwrap()).await.unwrap();
    let mut config = consumer_config();
    config.filter = Some(colony_core::bus::Pattern::new("market.signal.up.*").unwrap());
    worker.create_consumer("signals", "executors", config).await.unwrap();

    // Nothing is due: the fetch waits. A message its filter skips does not wake it for good.
    let waiting = {
        let worker = worker.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let fetched = worker.fetch_wait("signals", "executors", 10, 10_000).await.unwrap();
            (fetched, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sequence_before = server.operator.status().await.unwrap().sequence;
    scout.publish_durable(&signal("down.msft", -200), None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a message outside the filter is not something to fetch");
    scout.publish_durable(&signal("up.aapl", 180), None).await.unwrap();
    let (fetched, waited) = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].subject, "market.signal.up.aapl");
    assert!(waited >= Duration::from_millis(600) && waited < Duration::from_secs(5), "waited {waited:?}");
    // While it waited, only the two publishes were written, then the fetch itself: no polling.
    assert_eq!(server.operator.status().await.unwrap().sequence, sequence_before + 3);

    // The same worker keeps writing while a fetch of its own waits (acks from another task, say):
    // more envelopes than its nonce window holds, and the held fetch still goes through.
    let waiting = {
        let worker = worker.clone();
        tokio::spawn(async move { worker.fetch_wait("signals", "executors", 10, 10_000).await })
    };
    for _ in 0..(colony_core::limits::REPLAY_WINDOW_NONCES + 6) {
        worker.heartbeat().await.unwrap();
    }
    scout.publish_durable(&signal("up.msft", 170), None).await.unwrap();
    let fetched = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap().unwrap();
    assert_eq!(fetched.len(), 1, "the held fetch was not pushed out of the nonce window");

    // With nothing coming, it returns empty when its wait is over.
    let started = std::time::Instant::now();
    assert!(worker.fetch_wait("signals", "executors", 10, 300).await.unwrap().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Only fetches may wait, and not forever.
    let raw = reqwest::Client::new();
    let identity = colony_client::Identity::new(colony_core::Signer::Operator, server.operator_key.clone());
    let signed = identity.sign(vec![colony_core::Command::Heartbeat(Heartbeat {})]);
    let response = raw
        .post(format!("{}/v1/commands", server.url))
        .header("content-type", "application/json")
        .header("colony-signer", "operator")
        .header("colony-signature", hex::encode(signed.signature))
        .header("colony-wait-ms", "100")
        .body(signed.body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let problem: colony_wire::Problem = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((problem.code.as_str(), problem.field.as_deref()), ("malformed_request", Some("colony-wait-ms")));
    expect_problem(
        worker.fetch_wait("signals", "executors", 10, 30_001).await,
        400,
        "malformed_request",
        Some("colony-wait-ms"),
    );
}
