//! Hostile agents against a real server: what one request may make the server build, replays of
//! signed requests, and what one reader may learn of others.

mod common;

use colony_client::streams::{consumer_config, stream_config};
use colony_core::command::Fetch;
use colony_core::{Command, limits};
use colony_wire::bus::EphemeralPublish;
use colony_wire::read_auth::{READ_SIGNATURE_HEADER, READ_SIGNER_HEADER, READ_TIMESTAMP_HEADER, read_signing_message};
use common::*;

/// The answer to one envelope of fetches is bounded, whatever the envelope asks for: ten fetches of
/// 256 messages of 60 KiB each would be 150 MiB; the server answers at most its per-envelope budget,
/// and the next envelope goes on where this one stopped.
#[tokio::test(flavor = "multi_thread")]
async fn one_envelope_of_fetches_cannot_make_the_server_build_a_huge_answer() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (owner, _) = server.self_registers("owner-1", "scout", &[]).await;
    let mut config = stream_config(&["bulk.>"]).unwrap();
    config.max_bytes = Some(limits::STREAM_BYTES_MAX);
    owner.create_stream("bulk", config).await.unwrap();
    let consumers: Vec<String> = (0..10).map(|index| format!("c{index}")).collect();
    for consumer in &consumers {
        owner.create_consumer("bulk", consumer, consumer_config()).await.unwrap();
    }
    let big = "x".repeat(60 << 10);
    for chunk in 0..3 {
        let messages: Vec<_> =
            (0..50).map(|index| (EphemeralPublish::json(format!("bulk.{chunk}.{index}"), &big), None)).collect();
        owner.publish_durable_many(&messages).await.unwrap();
    }
    let fetches: Vec<Command> = consumers
        .iter()
        .map(|consumer| {
            Command::Fetch(Fetch {
                stream: name("bulk"),
                consumer: name(consumer),
                batch: limits::FETCH_BATCH_MAX,
                max_bytes: None,
            })
        })
        .collect();
    let answer = owner.submit_batch(fetches).await.unwrap();
    let body = serde_json::to_vec(&answer).unwrap();
    let delivered: usize = answer.results.iter().map(|result| result.deliveries.as_ref().map_or(0, Vec::len)).sum();
    println!("answer to 10 fetches of 256 × 60 KiB: {} KiB, {delivered} messages", body.len() >> 10);
    assert!(body.len() < (limits::FETCH_BYTES_PER_ENVELOPE_MAX as usize) * 11 / 10, "{} bytes", body.len());
    assert!(delivered > 100 && delivered < 150, "{delivered} messages");
    // What the first consumer left is there for the next fetch.
    let rest = owner.fetch("bulk", "c0", limits::FETCH_BATCH_MAX).await.unwrap();
    assert_eq!(rest.len(), 150 - answer.results[0].deliveries.as_ref().unwrap().len());
    // Pages of stored messages are bounded in bytes too, and their cursors cover everything.
    let (mut from, mut seen, mut pages) = (1, 0, 0);
    loop {
        let page = owner.stream_messages("bulk", from, 1_000).await.unwrap();
        let bytes = serde_json::to_vec(&page).unwrap().len();
        assert!(bytes < (colony_server::http::streams::PAGE_BYTES_MAX as usize) * 11 / 10, "{bytes} bytes");
        seen += page.messages.len();
        pages += 1;
        match page.next_from {
            Some(next) => from = next,
            None => break,
        }
    }
    assert_eq!(seen, 150, "every message in {pages} pages");
    assert!(pages >= 3, "a 1,000-message page of 9 MiB is split: {pages} pages");
    server.shutdown().await;
}

/// Signed requests that open streams are single-use; signed requests stamped before the server
/// started are refused (their single-use windows started empty with it).
#[tokio::test(flavor = "multi_thread")]
async fn signed_streams_open_once_and_requests_from_before_the_start_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, key) = server.self_registers("scout-1", "scout", &[]).await;
    let signer = colony_core::Signer::parse("scout-1").unwrap();
    let http = reqwest::Client::new();
    let signed_get = |path: &str, timestamp_ms: u64| {
        let signature = hex::encode(key.sign(&read_signing_message(&signer, "GET", path, timestamp_ms)));
        http.get(format!("{}{path}", server.url))
            .header(READ_SIGNER_HEADER, "scout-1")
            .header(READ_TIMESTAMP_HEADER, timestamp_ms.to_string())
            .header(READ_SIGNATURE_HEADER, signature)
    };
    let path = "/v1/bus/subscribe?subject=agent.scout-1.inbox";
    let stamp = now_ms();
    let first = signed_get(path, stamp).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 200, "the first use opens the stream");
    let replayed = signed_get(path, stamp).send().await.unwrap();
    assert_eq!(replayed.status().as_u16(), 409, "a captured subscription request opens nothing");
    let replayed = signed_get("/v1/events?from=1", stamp + 1).send().await.unwrap();
    assert_eq!(replayed.status().as_u16(), 200);
    let replayed = signed_get("/v1/events?from=1", stamp + 1).send().await.unwrap();
    assert_eq!(replayed.status().as_u16(), 409, "nor does a captured event stream request");
    // Ordinary reads are not single-use, but a stream request stamped before the start is refused.
    assert_eq!(signed_get("/v1/status", stamp + 2).send().await.unwrap().status().as_u16(), 200);
    assert_eq!(signed_get("/v1/status", stamp + 2).send().await.unwrap().status().as_u16(), 200);
    let old = signed_get("/v1/events?from=1", stamp - 60_000).send().await.unwrap();
    assert_eq!(old.status().as_u16(), 401);
    // The signature names its signer: the same bytes under another signer's name do not verify.
    let (_other, _) = server.self_registers("scout-2", "scout", &[]).await;
    let signature = hex::encode(key.sign(&read_signing_message(&signer, "GET", "/v1/status", stamp + 3)));
    let moved = http
        .get(format!("{}/v1/status", server.url))
        .header(READ_SIGNER_HEADER, "scout-2")
        .header(READ_TIMESTAMP_HEADER, (stamp + 3).to_string())
        .header(READ_SIGNATURE_HEADER, signature)
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status().as_u16(), 401);
    drop(scout);
    server.shutdown().await;
}

/// `/v1/metrics` shows a reader only its own subscriptions, as `/v1/bus/stats` does.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_each_reader_only_its_own_subscriptions() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (watcher, _) = server.self_registers("watcher-1", "scout", &[]).await;
    let (snoop, _) = server.self_registers("snoop-1", "scout", &[]).await;
    let (oracle, _) = server.self_registers("oracle-1", "oracle", &[]).await;
    // A subscription of watcher-1's that never reads (held in process, so that it surely drops
    // messages: only dropping subscriptions get a series of their own).
    let _subscription = server
        .bus()
        .router
        .subscribe(
            colony_server::bus::SubscribeRequest {
                owner: Some(colony_core::Signer::parse("watcher-1").unwrap()),
                pattern: colony_core::bus::Pattern::new("secret.plans").unwrap(),
                queue: None,
                buffer_messages: 1,
                transport: colony_server::bus::Transport::InProcess,
            },
            std::sync::Arc::new(tokio::sync::Notify::new()),
        )
        .unwrap();
    for index in 0..5 {
        oracle.publish(EphemeralPublish::json("secret.plans", &index)).await.unwrap();
    }
    let metrics = |client: colony_client::Client| async move {
        client.authenticated_get("/v1/metrics").unwrap().send().await.unwrap().text().await.unwrap()
    };
    let seen_by_operator = metrics(server.operator.clone()).await;
    assert!(seen_by_operator.contains("secret.plans"), "{seen_by_operator}");
    let seen_by_owner = metrics(watcher.clone()).await;
    assert!(seen_by_owner.contains("secret.plans"), "{seen_by_owner}");
    let seen_by_snoop = metrics(snoop.clone()).await;
    assert!(!seen_by_snoop.contains("secret.plans") && !seen_by_snoop.contains("watcher-1"), "{seen_by_snoop}");
    server.shutdown().await;
}

/// Registrations by agents are paced: past the burst, `rate_limited` (429) says when to retry.
#[tokio::test(flavor = "multi_thread")]
async fn self_registrations_past_the_burst_are_rate_limited() {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = settings(directory.path());
    settings.genesis_config.registration_burst = 2;
    settings.genesis_config.registration_interval_ms = 60_000;
    let server = start(settings).await;
    server.self_registers("a-1", "scout", &[]).await;
    server.self_registers("a-2", "scout", &[]).await;
    let (third, _) = server.new_agent("a-3");
    let problem = expect_problem(third.register_self(name("scout"), &[]).await, 429, "rate_limited", None);
    assert!(problem.detail.contains("retry in"), "{problem}");
    server.operator_registers("by-operator", "scout").await;
    server.shutdown().await;
}

/// A publish and a signed subscription captured before a restart cannot be replayed after it: the
/// windows that make them single-use start empty with the server, so it refuses anything stamped
/// before it started.
#[tokio::test(flavor = "multi_thread")]
async fn a_publish_captured_before_a_restart_is_refused_after_it() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (_scout, key) = server.self_registers("scout-1", "scout", &[]).await;
    let signer = colony_core::Signer::parse("scout-1").unwrap();
    let body = serde_json::to_vec(&EphemeralPublish::json("market.signal.x", &1)).unwrap();
    let nonce_us = now_ms() * 1_000;
    let signature =
        hex::encode(key.sign(&colony_wire::bus::publish_signing_message(&signer, "/v1/bus/publish", nonce_us, &body)));
    let send = |url: String| {
        let (body, signature) = (body.clone(), signature.clone());
        async move {
            reqwest::Client::new()
                .post(format!("{url}/v1/bus/publish"))
                .header("content-type", "application/json")
                .header(READ_SIGNER_HEADER, "scout-1")
                .header(colony_wire::bus::PUBLISH_NONCE_HEADER, nonce_us.to_string())
                .header(READ_SIGNATURE_HEADER, signature)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(send(server.url.clone()).await.status().as_u16(), 200, "the original publish");
    assert_eq!(send(server.url.clone()).await.status().as_u16(), 409, "a replay while the server runs");
    server.shutdown().await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let restarted = start_in(directory.path()).await;
    let replayed = send(restarted.url.clone()).await;
    assert_eq!(replayed.status().as_u16(), 401, "a replay after the restart");
    let problem: colony_wire::Problem = serde_json::from_slice(&replayed.bytes().await.unwrap()).unwrap();
    assert!(problem.detail.contains("before the server started"), "{problem}");
    restarted.shutdown().await;
}

/// Reads that would read the whole state under its lock (and so hold up the writer) are either
/// kept incrementally, computed once per sequence, or the operator's alone.
#[tokio::test(flavor = "multi_thread")]
async fn whole_state_reads_are_incremental_cached_or_the_operators() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    server.self_registers("scout-2", "scout", &[]).await;
    server.fund("m-1", "scout-1", 5_000).await;
    scout.transfer("t-1", id("scout-2"), amount(1_200)).await.unwrap();
    let ledger = server.balanced_ledger().await;
    assert_eq!((ledger.supply, ledger.wallets_total, ledger.wallets), (5_000, 5_000, 2));
    let verify = |client: colony_client::Client| async move {
        client.authenticated_get("/v1/ledger?verify=true").unwrap().send().await.unwrap()
    };
    assert_eq!(verify(scout.clone()).await.status().as_u16(), 403, "an agent may not run the full check");
    let checked = verify(server.operator.clone()).await;
    assert_eq!(checked.status().as_u16(), 200);
    let checked: colony_wire::views::LedgerView = serde_json::from_slice(&checked.bytes().await.unwrap()).unwrap();
    assert!(checked.balanced);
    let first = server.hash().await;
    let again = server.hash().await;
    assert_eq!((first.sequence, first.state_hash), (again.sequence, again.state_hash));
    server.fund("m-2", "scout-2", 1).await;
    let after = server.hash().await;
    assert!(after.sequence > first.sequence && after.state_hash != first.state_hash, "a new sequence, a new hash");
    server.shutdown().await;
}

/// A subject that does not parse is one mistake with one code, whichever path it takes: an ephemeral
/// publish, a subscription, or a durable publish inside an envelope.
#[tokio::test(flavor = "multi_thread")]
async fn a_bad_subject_is_invalid_subject_on_every_path() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, key) = server.self_registers("scout-1", "scout", &[]).await;
    let ephemeral = expect_problem(
        scout.publish(EphemeralPublish::json("bad subject", &1)).await,
        400,
        "invalid_subject",
        Some("subject"),
    );
    let subscription = expect_problem(scout.subscribe("a..b", None).await, 400, "invalid_subject", Some("subject"));
    let body = format!(
        r#"{{"signer":"scout-1","nonce":{},"commands":[{{"type":"bus.publish","subject":"bad subject"}}]}}"#,
        now_ms() * 1_000
    );
    let signed = colony_wire::SignedEnvelope {
        body: body.clone().into_bytes(),
        signature: key.sign(&colony_wire::envelope::signing_message(body.as_bytes())),
    };
    let durable = server.post_signed_raw("/v1/commands", &signed).await.expect_problem(
        400,
        "invalid_subject",
        Some("commands[0].subject"),
    );
    for problem in [ephemeral, subscription, durable] {
        assert_eq!(problem.title, "Invalid subject");
    }
    server.shutdown().await;
}
