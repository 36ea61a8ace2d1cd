//! The ephemeral bus against a real server: fan-out, wildcards, queue groups, ordering, WebSocket,
//! request/reply, private inboxes, halted publishers, slow-subscriber isolation and bad input.

mod common;

use colony_core::command::RevokeReadToken;
use std::collections::BTreeSet;
use std::time::Duration;

use colony_client::Client;
use colony_client::bus::{BusItem, BusSubscription};
use colony_wire::bus::{BusMessage, ClientFrame, EphemeralPublish, ServerFrame, ServerOp, publish_signing_message};
use common::*;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

async fn next_message(subscription: &mut BusSubscription) -> BusMessage {
    match tokio::time::timeout(WAIT, subscription.next()).await.expect("a message in time") {
        Some(Ok(BusItem::Message(message))) => *message,
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn next_frame(receiver: &mut colony_client::bus::BusConnection) -> ServerFrame {
    tokio::time::timeout(WAIT, receiver.next())
        .await
        .expect("a frame in time")
        .expect("the connection is open")
        .unwrap()
}

fn price(ticker: &str, close: f64) -> EphemeralPublish {
    EphemeralPublish::json(format!("market.price.{ticker}"), &json!({ "ticker": ticker, "close": close }))
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_fan_out_to_every_matching_subscriber_in_order_with_the_true_source() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (oracle, _) = server.self_registers("oracle-1", "oracle", &[]).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let (risk, _) = server.self_registers("risk-1", "risk", &[]).await;
    let mut everything = scout.subscribe("market.>", None).await.unwrap();
    let mut apple = risk.subscribe("market.price.aapl", None).await.unwrap();
    let mut signals = risk.subscribe("market.signal.*", None).await.unwrap();

    for index in 0..50 {
        let published = oracle.publish(price("aapl", 100.0 + f64::from(index))).await.unwrap();
        assert_eq!(published.delivered, 2, "market.> and market.price.aapl match");
    }
    let mut signal = EphemeralPublish::json("market.signal.spread", &json!({ "edge_bps": 12 }));
    signal.message_type = Some("market_signal".to_owned());
    signal.priority = colony_wire::bus::Priority::High;
    signal.correlation_id = Some("scan-7".to_owned());
    signal.headers.insert("strategy".to_owned(), "mean-reversion".to_owned());
    assert_eq!(scout.publish(signal).await.unwrap().delivered, 2);

    for index in 0..50 {
        for subscription in [&mut everything, &mut apple] {
            let message = next_message(subscription).await;
            assert_eq!(message.source, "oracle-1", "the server stamps the authenticated sender");
            assert_eq!(message.subject, "market.price.aapl");
            let payload: serde_json::Value = message.payload_as().unwrap().unwrap();
            assert_eq!(payload["close"], json!(100.0 + f64::from(index)), "messages on one subject keep their order");
        }
    }
    let message = next_message(&mut everything).await;
    assert_eq!((message.subject.as_str(), message.source.as_str()), ("market.signal.spread", "scout-1"));
    let message = next_message(&mut signals).await;
    assert_eq!(message.message_type.as_deref(), Some("market_signal"));
    assert_eq!(message.priority, colony_wire::bus::Priority::High);
    assert_eq!(message.correlation_id.as_deref(), Some("scan-7"));
    assert_eq!(message.headers["strategy"], "mean-reversion");
    assert!(message.timestamp_ms > 0 && !message.id.is_empty());

    assert_eq!(oracle.publish(price("msft", 1.0)).await.unwrap().delivered, 1, "only market.> matches");
    assert_eq!(next_message(&mut everything).await.subject, "market.price.msft");
    let nobody = oracle.publish(EphemeralPublish::json("weather.today", &json!("sunny"))).await.unwrap();
    assert_eq!(nobody.delivered, 0);
    let stats = server.operator.bus_stats().await.unwrap();
    assert_eq!(stats.published, 53);
    assert_eq!(stats.unmatched, 1);
    assert_eq!(stats.delivered, 50 * 2 + 2 + 1);
    assert_eq!(stats.subscriptions.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_group_hands_each_message_to_exactly_one_member() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let mut members = Vec::new();
    for index in 0..3 {
        let (executor, _) = server.self_registers(&format!("executor-{index}"), "executor", &[]).await;
        members.push(executor.subscribe("market.signal.>", Some("executors")).await.unwrap());
    }
    let (risk, _) = server.self_registers("risk-1", "risk", &[]).await;
    let mut watcher = risk.subscribe("market.signal.>", None).await.unwrap();
    let messages: Vec<EphemeralPublish> = (0..30)
        .map(|index| EphemeralPublish::json(format!("market.signal.s{}", index % 4), &json!({ "index": index })))
        .collect();
    let published = scout.publish_many(&messages).await.unwrap();
    assert!(published.iter().all(|view| view.delivered == 2), "one member and the watcher: {published:?}");

    let mut seen = BTreeSet::new();
    for member in &mut members {
        // Round robin over members with room: ten each.
        for _ in 0..10 {
            let message = next_message(member).await;
            let index = message.payload_as::<serde_json::Value>().unwrap().unwrap()["index"].as_u64().unwrap();
            assert!(seen.insert(index), "message {index} reached two members");
        }
    }
    assert_eq!(seen, (0..30).collect::<BTreeSet<u64>>());
    for _ in 0..30 {
        next_message(&mut watcher).await;
    }
    for member in &mut members {
        assert!(
            tokio::time::timeout(Duration::from_millis(200), member.next()).await.is_err(),
            "no member got more than its share"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_clients_subscribe_publish_and_ping_in_both_directions() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (oracle, _) = server.self_registers("oracle-1", "oracle", &[]).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let mut listener = scout.connect_bus().await.unwrap();
    listener.subscribe("prices", "market.price.*", None).await.unwrap();
    listener.subscribe("all", ">", None).await.unwrap();
    let mut publisher = oracle.connect_bus().await.unwrap();
    let frames: Vec<ClientFrame> =
        (0..200).map(|index| ClientFrame::publish(price("aapl", f64::from(index)))).collect();
    publisher.sender.send_all(&frames).await.unwrap();
    publisher.send(&ClientFrame::ping()).await.unwrap();
    assert_eq!(next_frame(&mut publisher).await.op, ServerOp::Pong, "no errors came before the pong");

    let mut closes = std::collections::BTreeMap::<String, Vec<f64>>::new();
    for _ in 0..400 {
        let frame = next_frame(&mut listener).await;
        assert_eq!(frame.op, ServerOp::Msg);
        let message = frame.message.unwrap();
        assert_eq!(message.source, "oracle-1");
        let close = message.payload_as::<serde_json::Value>().unwrap().unwrap()["close"].as_f64().unwrap();
        closes.entry(frame.sid.unwrap()).or_default().push(close);
    }
    let expected: Vec<f64> = (0..200).map(f64::from).collect();
    assert_eq!(closes["prices"], expected, "each subscription gets every message, in order");
    assert_eq!(closes["all"], expected);

    // Errors name what they are about and leave the connection usable.
    publisher
        .send(&ClientFrame { tag: Some("bad".to_owned()), ..ClientFrame::publish(EphemeralPublish::json("a..b", &1)) })
        .await
        .unwrap();
    let error = next_frame(&mut publisher).await;
    assert_eq!(error.op, ServerOp::Error);
    assert_eq!(error.about.as_deref(), Some("bad"));
    let problem = error.problem.unwrap();
    assert_eq!((problem.code.as_str(), problem.field.as_deref()), ("invalid_subject", Some("message.subject")));
    listener.send(&ClientFrame::subscribe("prices", "x", None)).await.unwrap();
    let error = next_frame(&mut listener).await;
    assert_eq!((error.op, error.about.as_deref()), (ServerOp::Error, Some("prices")), "a sid is open once");
    listener.send(&ClientFrame::unsubscribe("prices")).await.unwrap();
    listener.send(&ClientFrame::ping()).await.unwrap();
    assert_eq!(next_frame(&mut listener).await.op, ServerOp::Pong);
    oracle.publish(price("aapl", 1.0)).await.unwrap();
    let frame = next_frame(&mut listener).await;
    assert_eq!(frame.sid.as_deref(), Some("all"), "the unsubscribed sid gets nothing more");

    // A read token may listen but not publish.
    let token = colony_wire::read_auth::generate_token();
    server.operator.issue_read_token(&token, "dashboard", None).await.unwrap();
    let mut dashboard = Client::new(&server.url).with_read_token(&token).connect_bus().await.unwrap();
    dashboard.subscribe("d", "market.>", None).await.unwrap();
    dashboard.send(&ClientFrame::publish(price("aapl", 2.0))).await.unwrap();
    let error = next_frame(&mut dashboard).await;
    assert_eq!(error.problem.unwrap().code, "forbidden");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_get_the_first_reply_no_responders_at_once_or_a_timeout() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (trader, _) = server.self_registers("trader-1", "executor", &[]).await;
    let (risk, _) = server.self_registers("risk-1", "risk", &[]).await;

    let started = std::time::Instant::now();
    let refused = trader.request(EphemeralPublish::json("risk.check", &json!({ "size": 10 })), 5_000).await;
    expect_problem(refused, 503, "no_responders", Some("subject"));
    assert!(started.elapsed() < Duration::from_secs(2), "no responders is said at once, not after the timeout");

    // The risk agent answers over its WebSocket.
    let mut responder = risk.connect_bus().await.unwrap();
    responder.subscribe("checks", "risk.check", Some("risk-team")).await.unwrap();
    let answering = tokio::spawn(async move {
        let frame = next_frame(&mut responder).await;
        let request = frame.message.unwrap();
        let size = request.payload_as::<serde_json::Value>().unwrap().unwrap()["size"].as_u64().unwrap();
        let mut reply = EphemeralPublish::json(request.reply_to.clone().unwrap(), &json!({ "approved": size < 100 }));
        reply.correlation_id = Some("check-1".to_owned());
        responder.send(&ClientFrame::publish(reply)).await.unwrap();
        responder
    });
    let reply = trader.request(EphemeralPublish::json("risk.check", &json!({ "size": 10 })), 5_000).await.unwrap();
    assert_eq!(reply.source, "risk-1");
    assert_eq!(reply.payload_as::<serde_json::Value>().unwrap().unwrap(), json!({ "approved": true }));
    assert_eq!(reply.correlation_id.as_deref(), Some("check-1"));
    let mut responder = answering.await.unwrap();

    // Subscribed but silent: the request times out.
    let started = std::time::Instant::now();
    let silent = trader.request(EphemeralPublish::json("risk.check", &json!({ "size": 1 })), 300).await;
    expect_problem(silent, 504, "request_timeout", None);
    assert!(started.elapsed() >= Duration::from_millis(300));
    next_frame(&mut responder).await;

    // Requests over WebSocket too.
    let (asker, _) = server.self_registers("asker-1", "scout", &[]).await;
    let mut asking = asker.connect_bus().await.unwrap();
    asking.send(&ClientFrame::request("r1", 2_000, EphemeralPublish::json("nobody.here", &1))).await.unwrap();
    let frame = next_frame(&mut asking).await;
    assert_eq!((frame.op, frame.about.as_deref()), (ServerOp::Error, Some("r1")));
    assert_eq!(frame.problem.unwrap().code, "no_responders");
    asking
        .send(&ClientFrame::request("r2", 5_000, EphemeralPublish::json("risk.check", &json!({ "size": 500 }))))
        .await
        .unwrap();
    let request = next_frame(&mut responder).await.message.unwrap();
    let reply = EphemeralPublish::json(request.reply_to.unwrap(), &json!({ "approved": false }));
    responder.send(&ClientFrame::publish(reply)).await.unwrap();
    let frame = next_frame(&mut asking).await;
    assert_eq!((frame.op, frame.rid.as_deref()), (ServerOp::Reply, Some("r2")));
    assert_eq!(
        frame.message.unwrap().payload_as::<serde_json::Value>().unwrap().unwrap(),
        json!({ "approved": false })
    );

    // Nobody may listen in on reply subjects.
    let snooping = risk.subscribe("_INBOX.>", None).await;
    expect_problem(snooping, 403, "forbidden", Some("subject"));
}

#[tokio::test(flavor = "multi_thread")]
async fn inboxes_reach_only_their_agent() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (alice, _) = server.self_registers("alice", "scout", &[]).await;
    let (bob, _) = server.self_registers("bob", "scout", &[]).await;
    let (eve, _) = server.self_registers("eve", "scout", &[]).await;
    let mut inbox = bob.subscribe("agent.bob.inbox", None).await.unwrap();
    let mut snoop = eve.subscribe(">", None).await.unwrap();
    let mut all_inboxes = eve.subscribe("agent.*.inbox", None).await.unwrap();
    expect_problem(eve.subscribe("agent.bob.inbox", None).await, 403, "forbidden", Some("subject"));

    let direct = alice.publish(EphemeralPublish::json("agent.bob.inbox", &json!({ "hello": "bob" }))).await.unwrap();
    assert_eq!(direct.delivered, 1);
    let message = next_message(&mut inbox).await;
    assert_eq!((message.source.as_str(), message.subject.as_str()), ("alice", "agent.bob.inbox"));
    // A public message afterwards reaches eve's '>' first: nothing private came before it.
    alice.publish(EphemeralPublish::json("public.news", &1)).await.unwrap();
    assert_eq!(next_message(&mut snoop).await.subject, "public.news");
    assert!(tokio::time::timeout(Duration::from_millis(200), all_inboxes.next()).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn halted_agents_cannot_publish_until_resumed() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let mut socket = scout.connect_bus().await.unwrap();
    server.operator.halt(id("scout-1"), "misbehaving").await.unwrap();
    let refused = scout.publish(EphemeralPublish::json("market.signal.x", &1)).await;
    expect_problem(refused, 403, "agent_halted", None);
    socket.send(&ClientFrame::publish(EphemeralPublish::json("market.signal.x", &1))).await.unwrap();
    let frame = next_frame(&mut socket).await;
    assert_eq!(frame.problem.unwrap().code, "agent_halted", "an open connection is checked on every publish");
    server.operator.resume(id("scout-1")).await.unwrap();
    scout.publish(EphemeralPublish::json("market.signal.x", &1)).await.unwrap();
    let stats = server.operator.bus_stats().await.unwrap();
    assert_eq!(stats.published, 1, "the refused publishes were never routed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_subscriber_loses_only_its_own_oldest_messages_and_slows_nobody() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (oracle, _) = server.self_registers("oracle-1", "oracle", &[]).await;
    let (slow, _) = server.self_registers("slow-1", "scout", &[]).await;
    let (fast, _) = server.self_registers("fast-1", "scout", &[]).await;
    // The slow subscriber reads nothing while 32 MiB go past: more than the socket buffers between
    // it and the server hold, so its 8-message buffer on the server must overflow.
    let mut slow_subscription = slow.subscribe_with_buffer("feed", None, Some(8)).await.unwrap();
    let mut fast_subscription = fast.subscribe("feed", None).await.unwrap();
    let blob = "x".repeat(32 << 10);
    let total = 1_000u64;
    let reader = tokio::spawn(async move {
        for index in 0..total {
            let message = next_message(&mut fast_subscription).await;
            let payload = message.payload_as::<serde_json::Value>().unwrap().unwrap();
            assert_eq!(payload["index"].as_u64(), Some(index), "the fast subscriber gets everything in order");
        }
        fast_subscription
    });
    for chunk in 0..(total / 50) {
        let messages: Vec<EphemeralPublish> = (chunk * 50..(chunk + 1) * 50)
            .map(|index| EphemeralPublish::json("feed", &json!({ "index": index, "blob": blob })))
            .collect();
        tokio::time::timeout(WAIT, oracle.publish_many(&messages)).await.expect("publishing never waits").unwrap();
    }
    let _fast_subscription =
        tokio::time::timeout(Duration::from_secs(60), reader).await.expect("the fast subscriber keeps up").unwrap();

    let mut received = 0u64;
    let mut dropped_total = 0u64;
    let mut last_index = None;
    while received + dropped_total < total {
        match tokio::time::timeout(WAIT, slow_subscription.next()).await.expect("the slow subscriber catches up") {
            Some(Ok(BusItem::Message(message))) => {
                received += 1;
                let index = message.payload_as::<serde_json::Value>().unwrap().unwrap()["index"].as_u64().unwrap();
                assert!(last_index.is_none_or(|last| index > last), "what survives keeps its order");
                last_index = Some(index);
            }
            Some(Ok(BusItem::Dropped { count, total: so_far })) => {
                dropped_total += count;
                assert_eq!(so_far, dropped_total, "the running total adds up");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(dropped_total > 0, "the slow subscriber was told what it lost");
    assert_eq!(last_index, Some(total - 1), "the newest message survives; the oldest were dropped");
    let stats = server.operator.bus_stats().await.unwrap();
    assert_eq!(stats.dropped, dropped_total, "the server's counter matches what the subscriber was told");
    assert_eq!(stats.buffered_bytes, 0, "every byte buffered was read or dropped, and given back to the budget");
    let slow_view = stats.subscriptions.iter().find(|view| view.owner == "slow-1").unwrap();
    assert_eq!((slow_view.dropped, slow_view.capacity), (dropped_total, 8));
    assert_eq!(stats.subscriptions.iter().find(|view| view.owner == "fast-1").unwrap().dropped, 0);

    // Prometheus sees the same counts.
    let metrics = server.signed_get_raw(&server.operator, "/v1/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.as_deref().is_some_and(|value| value.starts_with("text/plain")));
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(text.contains(&format!("\ncolony_bus_dropped_total {dropped_total}\n")), "{text}");
    assert!(text.contains(&format!("\ncolony_bus_published_total {total}\n")), "{text}");
    let line = format!(
        "colony_bus_subscription_dropped_total{{id=\"{}\",owner=\"slow-1\",subject=\"feed\"}} {dropped_total}",
        slow_view.id
    );
    assert!(text.contains(&line), "{text}");
    assert!(!text.contains("owner=\"fast-1\""), "only dropping subscriptions are listed");
}

#[tokio::test(flavor = "multi_thread")]
async fn payload_signatures_and_encrypted_payloads_pass_through_untouched() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (oracle, oracle_key) = server.self_registers("oracle-1", "oracle", &[]).await;
    let (scout, scout_key) = server.self_registers("scout-1", "scout", &[]).await;
    let mut subscription = scout.subscribe("signed.>", None).await.unwrap();
    let mut message = EphemeralPublish::json("signed.price", &json!({ "close": 1.5 }));
    let signature = oracle_key.sign(&message.payload_bytes().unwrap());
    message.payload_signature = Some(hex::encode(signature));
    oracle.publish(message).await.unwrap();
    // Sealed to scout-1: the server routes it, anyone subscribed sees the message, only scout-1 reads it.
    let mut snoop = server.operator.subscribe("signed.>", None).await.unwrap();
    oracle.publish_sealed("signed.secret", &id("scout-1"), b"the spread closes at 3 bps").await.unwrap();

    let received = next_message(&mut subscription).await;
    let key = server.agent("oracle-1").await.public_key;
    let signature = colony_wire::envelope::parse_signature(received.payload_signature.as_deref().unwrap()).unwrap();
    assert!(
        colony_wire::keys::verify(&key, &received.payload_bytes().unwrap(), &signature),
        "the receiver verifies the sender's payload signature"
    );
    let received = next_message(&mut subscription).await;
    assert_eq!(received.encrypted_to.as_deref(), Some("scout-1"));
    assert_eq!(received.open(&scout_key).unwrap(), b"the spread closes at 3 bps");
    let intercepted = next_message(&mut snoop).await;
    assert_eq!(intercepted.subject, "signed.secret");
    assert!(intercepted.open(&server.operator_key).is_err(), "nobody else can open it, not even the operator");
    assert!(!String::from_utf8_lossy(&intercepted.payload_bytes().unwrap()).contains("spread"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_publishes_and_subscriptions_are_refused_with_the_field_to_blame() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, scout_key) = server.self_registers("scout-1", "scout", &[]).await;
    let scout_signer = colony_core::Signer::parse("scout-1").unwrap();
    let cases: Vec<(serde_json::Value, u16, &str, Option<&str>)> = vec![
        (json!({ "subject": "market.*.x", "payload": 1 }), 400, "invalid_subject", Some("subject")),
        (json!({ "subject": "", "payload": 1 }), 400, "invalid_subject", Some("subject")),
        (
            json!({ "subject": "a", "payload": 1, "payload_base64": "AA==" }),
            400,
            "invalid_message",
            Some("payload_base64"),
        ),
        (json!({ "subject": "a", "payload_base64": "not base64!" }), 400, "invalid_message", Some("payload_base64")),
        (json!({ "subject": "a", "payload": "x".repeat(70_000) }), 413, "payload_too_large", Some("payload")),
        (json!({ "subject": "a", "type": "Has Spaces" }), 400, "invalid_message", Some("type")),
        (json!({ "subject": "a", "reply_to": "a.>" }), 400, "invalid_subject", Some("reply_to")),
        (json!({ "subject": "a", "payload_signature": "abc" }), 400, "invalid_message", Some("payload_signature")),
        (
            json!({ "subject": "a", "encrypted_to": "scout-1", "payload": 1 }),
            400,
            "invalid_message",
            Some("encrypted_to"),
        ),
        (json!({ "subject": "a", "priority": "urgent" }), 400, "malformed_request", None),
        (json!({ "subject": "a", "surprise": true }), 400, "malformed_request", None),
        (json!([]), 400, "malformed_request", None),
        (json!([{ "subject": "ok" }, { "subject": "bad subject" }]), 400, "invalid_subject", Some("[1].subject")),
    ];
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>, signer: &str, nonce: u64, signature: String| {
        http.post(format!("{}/v1/bus/publish", server.url))
            .header("content-type", "application/json")
            .header("colony-signer", signer)
            .header("colony-nonce", nonce.to_string())
            .header("colony-signature", signature)
            .body(body)
            .send()
    };
    let counter = std::sync::atomic::AtomicU64::new(now_ms() * 1000);
    let nonce = || counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    for (body, status, code, field) in cases {
        let body = serde_json::to_vec(&body).unwrap();
        let nonce = nonce();
        let signature =
            hex::encode(scout_key.sign(&publish_signing_message(&scout_signer, "/v1/bus/publish", nonce, &body)));
        let response = raw(post(body, "scout-1", nonce, signature).await.unwrap()).await;
        response.expect_problem(status, code, field);
    }

    // Authentication: a bad signature, a signature for another path, a replayed nonce, a stale nonce.
    let body = serde_json::to_vec(&json!({ "subject": "a" })).unwrap();
    let fresh = nonce();
    let other_path =
        hex::encode(scout_key.sign(&publish_signing_message(&scout_signer, "/v1/bus/request", fresh, &body)));
    raw(post(body.clone(), "scout-1", fresh, other_path).await.unwrap()).await.expect_problem(
        401,
        "invalid_signature",
        Some("colony-signature"),
    );
    let signature =
        hex::encode(scout_key.sign(&publish_signing_message(&scout_signer, "/v1/bus/publish", fresh, &body)));
    assert_eq!(raw(post(body.clone(), "scout-1", fresh, signature.clone()).await.unwrap()).await.status, 200);
    raw(post(body.clone(), "scout-1", fresh, signature).await.unwrap()).await.expect_problem(
        409,
        "nonce_replayed",
        Some("colony-nonce"),
    );
    let stale = (now_ms() - 10 * 60 * 1000) * 1000;
    let signature =
        hex::encode(scout_key.sign(&publish_signing_message(&scout_signer, "/v1/bus/publish", stale, &body)));
    raw(post(body.clone(), "scout-1", stale, signature).await.unwrap()).await.expect_problem(
        401,
        "unauthenticated",
        None,
    );
    let (stranger, _) = server.new_agent("stranger");
    expect_problem(stranger.publish(EphemeralPublish::json("a", &1)).await, 401, "unknown_signer", None);

    // Subscriptions.
    expect_problem(scout.subscribe("a..b", None).await, 400, "invalid_subject", Some("subject"));
    expect_problem(scout.subscribe("a.>.b", None).await, 400, "invalid_subject", Some("subject"));
    expect_problem(scout.subscribe("a", Some("Bad Queue")).await, 400, "invalid_query", Some("queue"));
    expect_problem(scout.subscribe_with_buffer("a", None, Some(0)).await, 400, "invalid_query", Some("buffer"));
    server.get_raw("/v1/bus/subscribe?subject=a", None).await.expect_problem(401, "unauthenticated", None);
    expect_problem(scout.request(EphemeralPublish::json("a", &1), 0).await, 400, "invalid_query", Some("timeout_ms"));
    assert_eq!(server.operator.bus_stats().await.unwrap().published, 1, "only the one good publish was routed");
}

async fn raw(response: reqwest::Response) -> RawResponse {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|value| value.to_str().ok()).map(str::to_owned);
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    RawResponse { status, content_type, body, headers }
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribing_on_a_busy_connection_loses_none_of_its_messages() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (oracle, _) = server.self_registers("oracle-1", "oracle", &[]).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let mut connection = scout.connect_bus().await.unwrap();
    connection.subscribe("prices", "market.price.*", None).await.unwrap();
    let messages: Vec<EphemeralPublish> = (0..50).map(|index| price("aapl", f64::from(index))).collect();
    oracle.publish_many(&messages).await.unwrap();
    // The 50 messages are on their way (or already read off the socket) while the second subscription
    // waits for its answer: they are kept, not dropped.
    connection.subscribe("signals", "market.signal.*", None).await.unwrap();
    for index in 0..50 {
        let frame = next_frame(&mut connection).await;
        assert_eq!((frame.op, frame.sid.as_deref()), (ServerOp::Msg, Some("prices")));
        let close = frame.message.unwrap().payload_as::<serde_json::Value>().unwrap().unwrap()["close"].as_f64();
        assert_eq!(close, Some(f64::from(index)));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn browsers_subscribe_with_a_read_token_in_the_query_of_stream_endpoints_only() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (oracle, _) = server.self_registers("oracle-1", "oracle", &[]).await;
    let token = colony_wire::read_auth::generate_token();
    server.operator.issue_read_token(&token, "dashboard", None).await.unwrap();
    // An EventSource cannot set headers: the token rides in the query.
    let response = reqwest::Client::new()
        .get(format!("{}/v1/bus/subscribe?subject=market.%3E&access_token={token}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let stats = poll_until("the dashboard to subscribe", || async {
        let stats = server.operator.bus_stats().await.unwrap();
        (!stats.subscriptions.is_empty()).then_some(stats)
    })
    .await;
    assert_eq!(stats.subscriptions[0].owner, "read-token");
    oracle.publish(price("aapl", 1.0)).await.unwrap();
    let mut body = response;
    let mut received = String::new();
    while !received.contains("market.price.aapl") {
        let chunk = tokio::time::timeout(WAIT, body.chunk()).await.unwrap().unwrap().unwrap();
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(received.starts_with("event: message\ndata: {"), "{received}");
    // The event stream takes it too; other reads do not, and a wrong token is refused.
    let events =
        reqwest::Client::new().get(format!("{}/v1/events?access_token={token}", server.url)).send().await.unwrap();
    assert_eq!(events.status().as_u16(), 200, "the event stream opens (its body never ends, so it is not read)");
    server.get_raw(&format!("/v1/agents?access_token={token}"), None).await.expect_problem(
        401,
        "unauthenticated",
        None,
    );
    server.get_raw("/v1/bus/subscribe?subject=a&access_token=colony_wrong", None).await.expect_problem(
        401,
        "unauthenticated",
        None,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_captured_websocket_upgrade_cannot_open_a_second_connection() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let credentials = server.operator.authenticated_get("/v1/bus/ws").unwrap().build().unwrap();
    let upgrade = || {
        let mut request = format!("ws://{}/v1/bus/ws", server.addr).into_client_request().unwrap();
        for (name, value) in credentials.headers() {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        request
    };
    let (first, _) = tokio_tungstenite::connect_async(upgrade()).await.expect("the first upgrade is accepted");
    drop(first);
    match tokio_tungstenite::connect_async(upgrade()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 409);
            let problem: colony_wire::Problem = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(problem.code, "nonce_replayed");
        }
        other => panic!("a replayed upgrade must be refused, got {:?}", other.map(|_| ())),
    }
    // A fresh signature opens a connection as usual.
    assert!(server.operator.connect_bus().await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_end_when_their_credentials_stop_holding() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let token = colony_wire::read_auth::generate_token();
    server.operator.issue_read_token(&token, "dashboard", None).await.unwrap();
    let mut dashboard = Client::new(&server.url).with_read_token(&token).subscribe("market.>", None).await.unwrap();
    let mut socket = scout.connect_bus().await.unwrap();
    socket.subscribe("all", ">", None).await.unwrap();

    let token_sha256 = colony_wire::read_auth::token_sha256(&token);
    server.operator.submit_one(colony_core::Command::RevokeReadToken(RevokeReadToken { token_sha256 })).await.unwrap();
    server.operator.deregister(id("scout-1")).await.unwrap();

    let limit = colony_server::http::auth::CREDENTIALS_RECHECK * 3;
    let ended = tokio::time::timeout(limit, async {
        while let Some(item) = dashboard.next().await {
            assert!(item.is_err() || matches!(item, Ok(BusItem::Message(_))), "{item:?}");
        }
    })
    .await;
    assert!(ended.is_ok(), "the revoked token's event stream ended");
    let frame = tokio::time::timeout(limit, socket.next()).await.expect("a frame before the limit");
    let frame = frame.expect("a last frame").unwrap();
    assert_eq!((frame.op, frame.problem.unwrap().code.as_str()), (ServerOp::Error, "unauthenticated"));
    assert!(
        tokio::time::timeout(limit, socket.next()).await.unwrap().is_none_or(|frame| frame.is_err()),
        "then it closes"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pheromone_maps_changes_are_told_on_the_servers_own_subject_and_nobody_else_publishes_there() {
    use colony_core::stigmergy::{Decay, Depositors, SEED_000_CAP, SEED_000_PRUNE};
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let (executor, _) = server.self_registers("executor-1", "executor", &[]).await;
    let mut sensing = executor.subscribe("colony.pheromone.signals", None).await.unwrap();
    let map = colony_core::Name::new("signals").unwrap();
    let create = colony_core::command::CreateMap {
        map: map.clone(),
        decay: Decay::SEED_000,
        cap: SEED_000_CAP,
        prune_at_or_below: SEED_000_PRUNE,
        depositors: Depositors::Registered,
    };
    scout.create_pheromone_map(create).await.unwrap();
    let key = colony_core::SignalKey::new("BTC:long:momentum").unwrap();
    scout.deposit_pheromone(map.clone(), key.clone(), colony_core::Intensity::parse("7").unwrap()).await.unwrap();

    let created = next_message(&mut sensing).await;
    assert_eq!(
        (created.subject.as_str(), created.source.as_str(), created.message_type.as_deref()),
        ("colony.pheromone.signals", "scout-1", Some("pheromone.map_created"))
    );
    let deposited = next_message(&mut sensing).await;
    assert_eq!(
        (deposited.source.as_str(), deposited.message_type.as_deref()),
        ("scout-1", Some("pheromone.deposited"))
    );
    let event: serde_json::Value = deposited.payload_as().unwrap().unwrap();
    assert_eq!((event["key"].as_str(), event["intensity"].as_str()), (Some("BTC:long:momentum"), Some("7")));
    assert!(event["sequence"].as_u64().is_some_and(|sequence| sequence > 1), "{event}");

    // Nobody else publishes there, live or stored.
    let forged = scout.publish(EphemeralPublish::json("colony.pheromone.signals", &json!({"key": "fake"}))).await;
    let refusal = forged.expect_err("the server's own subject");
    assert_eq!(refusal.code(), Some("forbidden"), "{refusal}");
    let stream = colony_client::streams::stream_config(&["colony.>"]).unwrap();
    let capture = server.operator.create_stream("server-subjects", stream).await;
    assert_eq!(capture.expect_err("no stream captures colony.>").code(), Some("invalid_field"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_namespaces_changes_are_told_on_the_bus_and_a_private_ones_are_not() {
    use colony_core::kv::Access;
    use colony_core::{Name, StoreKey};
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (planner, _) = server.self_registers("planner-1", "scout", &[]).await;
    let (watcher, _) = server.self_registers("watcher-1", "scout", &[]).await;
    let mut changes = watcher.subscribe("colony.kv.>", None).await.unwrap();
    let (public, private) = (Name::new("pipeline").unwrap(), Name::new("secrets").unwrap());
    planner.create_namespace(public.clone(), Access::Registered, Access::Creator).await.unwrap();
    planner.create_namespace(private.clone(), Access::Creator, Access::Creator).await.unwrap();
    let value = colony_core::bus::JsonText::parse("1").unwrap();
    planner.put_value(private.clone(), StoreKey::new("api/token").unwrap(), value.clone(), None).await.unwrap();
    let put = planner.put_value(public.clone(), StoreKey::new("stage/1").unwrap(), value, Some(0)).await.unwrap();
    planner.delete_value(public, StoreKey::new("stage/1").unwrap(), None).await.unwrap();

    let told = next_message(&mut changes).await;
    assert_eq!(
        (told.subject.as_str(), told.source.as_str(), told.message_type.as_deref()),
        ("colony.kv.pipeline", "planner-1", Some("kv.put")),
        "the private namespace's put is not told"
    );
    let event: serde_json::Value = told.payload_as().unwrap().unwrap();
    assert_eq!((event["key"].as_str(), event["revision"].as_u64()), (Some("stage/1"), Some(put.revision)));
    assert!(event.get("value").is_none(), "events never carry values: {event}");
    let deleted = next_message(&mut changes).await;
    assert_eq!(deleted.message_type.as_deref(), Some("kv.deleted"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_elections_leaders_and_ends_of_terms_are_told_to_its_observers() {
    use colony_core::Name;
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (first, _) = server.self_registers("executor-1", "executor", &[]).await;
    let (second, _) = server.self_registers("executor-2", "executor", &[]).await;
    let (observer, _) = server.self_registers("observer-1", "scout", &[]).await;
    let mut told = observer.subscribe("colony.election.order-desk", None).await.unwrap();
    let (election, lease) = (Name::new("order-desk").unwrap(), Name::new("desk").unwrap());
    for candidate in [&first, &second] {
        candidate.grant_lease(lease.clone(), 60_000).await.unwrap();
        candidate.campaign(election.clone(), lease.clone()).await.unwrap();
    }
    first.resign(election.clone()).await.unwrap();

    let mut seen = Vec::new();
    let mut terms = Vec::new();
    for _ in 0..4 {
        let message = next_message(&mut told).await;
        let event: serde_json::Value = message.payload_as().unwrap().unwrap();
        terms.extend(event["term"].as_u64());
        seen.push(format!("{} {}", message.source, message.message_type.unwrap_or_default()));
    }
    assert_eq!(
        seen,
        [
            "executor-1 election.leader",
            "executor-2 election.campaigning",
            "executor-1 election.term_ended",
            "executor-2 election.leader"
        ]
    );
    assert!(terms.len() == 3 && terms[0] == terms[1] && terms[2] > terms[1], "the next term is higher: {terms:?}");

    // A vote-based election of the same name is told on the same subject.
    let members =
        vec![colony_core::AgentId::new("executor-1").unwrap(), colony_core::AgentId::new("executor-2").unwrap()];
    second.create_vote_election(election.clone(), members.clone(), 10_000).await.unwrap();
    second.start_vote_round(election.clone()).await.unwrap();
    second.vote_in_election(election.clone(), 1, members[1].clone()).await.unwrap();
    first.vote_in_election(election.clone(), 1, members[1].clone()).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let message = next_message(&mut told).await;
        seen.push(format!("{} {}", message.source, message.message_type.unwrap_or_default()));
    }
    assert_eq!(
        seen,
        [
            "executor-2 vote_election.round_opened",
            "executor-2 vote_election.voted",
            "executor-1 vote_election.voted",
            "executor-2 vote_election.elected"
        ]
    );
}
