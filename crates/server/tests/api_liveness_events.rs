//! Liveness driven by an injected clock, and the event stream, against a real server.

mod common;

use colony_core::command::{HaltAgent, ResumeAgent};
use std::sync::Arc;

use colony_core::{Event, EventKind, Signer};
use colony_server::ManualClock;
use common::*;

/// A server whose clock starts at the current real time (so that signed reads stay within their
/// allowed skew) and moves only when the test says so.
async fn start_with_manual_clock(data_dir: &std::path::Path) -> (TestServer, ManualClock) {
    let clock = ManualClock::new(now_ms());
    let mut settings = settings(data_dir);
    settings.clock = Arc::new(clock.clone());
    // Checkpoints due by clock time would land between the entries whose count these tests assert,
    // before or after them depending on the writer's timing; they are tested on their own.
    settings.driver.checkpoint_every_ms = u64::MAX;
    (start(settings).await, clock)
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_become_unresponsive_without_heartbeats_and_active_again_with_one() {
    let directory = tempfile::tempdir().unwrap();
    let (server, clock) = start_with_manual_clock(directory.path()).await;
    let (quiet, _) = server.self_registers("scout-quiet", "scout", &[]).await;
    let (chatty, _) = server.self_registers("scout-chatty", "scout", &[]).await;
    let registered = server.agent("scout-quiet").await;
    let from = server.operator.status().await.unwrap().sequence + 1;
    let mut events = server.operator.events(Some(from)).await.unwrap();

    // 20 s on, the chatty agent heartbeats; 15 s later only the quiet one has missed its deadline.
    clock.advance_ms(20_000);
    chatty.heartbeat().await.unwrap();
    // Nothing expires early, even though the driver wakes up several times in between.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.agent("scout-quiet").await.status, "active");
    let sequence_before = server.operator.status().await.unwrap().sequence;
    clock.advance_ms(15_000);

    let unresponsive = poll_until("scout-quiet to become unresponsive", || async {
        let view = server.agent("scout-quiet").await;
        (view.status == "unresponsive").then_some(view)
    })
    .await;
    assert!(!unresponsive.responsive);
    assert_eq!(unresponsive.last_heartbeat_ms, registered.last_heartbeat_ms);
    assert_eq!(server.agent("scout-chatty").await.status, "active", "its deadline has not passed");
    assert_eq!(server.operator.agents("status=unresponsive").await.unwrap().agents.len(), 1);
    // Nobody wrote: the driver appended a tick entry of its own.
    let status = server.operator.status().await.unwrap();
    assert_eq!(status.sequence, sequence_before + 1);
    assert!(status.timestamp_ms > registered.heartbeat_deadline_ms);

    let seen = events_until(&mut events, |event| matches!(event.kind, EventKind::AgentUnresponsive { .. })).await;
    let expired = seen.last().unwrap();
    assert_eq!(expired.kind, EventKind::AgentUnresponsive { agent: id("scout-quiet") });
    assert_eq!(expired.sequence, status.sequence);
    assert!(expired.timestamp_ms > registered.heartbeat_deadline_ms);
    assert!(
        !seen.iter().any(|event| event.kind == EventKind::AgentUnresponsive { agent: id("scout-chatty") }),
        "the agent that heartbeated stays active: {seen:?}"
    );

    // An unresponsive agent may still write; its heartbeat makes it active again.
    let heartbeat = quiet.heartbeat().await.unwrap();
    let view = server.agent("scout-quiet").await;
    assert_eq!(view.status, "active");
    assert!(view.responsive);
    assert_eq!(view.last_heartbeat_ms, heartbeat.timestamp_ms);
    assert_eq!(view.heartbeat_deadline_ms, heartbeat.timestamp_ms + 30_000);
    let active = next_event(&mut events).await;
    assert_eq!(active.kind, EventKind::AgentActive { agent: id("scout-quiet") });
    assert_eq!(active.sequence, heartbeat.sequence);

    // Later, the chatty agent expires too, on its own deadline.
    clock.advance_ms(20_000);
    let expired = next_event(&mut events).await;
    assert_eq!(expired.kind, EventKind::AgentUnresponsive { agent: id("scout-chatty") });
    assert_eq!(server.agent("scout-quiet").await.status, "active", "its deadline moved with the heartbeat");
    drop(events);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn halted_and_deregistered_agents_follow_liveness_rules() {
    let directory = tempfile::tempdir().unwrap();
    let (server, clock) = start_with_manual_clock(directory.path()).await;
    server.self_registers("risk-halted", "risk", &[]).await;
    server.self_registers("risk-gone", "risk", &[]).await;
    server.operator.halt(id("risk-halted"), "audit").await.unwrap();
    server.operator.deregister(id("risk-gone")).await.unwrap();

    clock.advance_ms(31_000);
    let view = poll_until("risk-halted to miss its deadline", || async {
        let view = server.agent("risk-halted").await;
        (!view.responsive).then_some(view)
    })
    .await;
    // Halted takes precedence over unresponsive in the status; deregistered agents have no deadline.
    assert_eq!(view.status, "halted");
    assert_eq!(server.agent("risk-gone").await.status, "deregistered");
    let mut events = server.operator.events(Some(1)).await.unwrap();
    let seen = events_until(&mut events, |event| matches!(event.kind, EventKind::AgentUnresponsive { .. })).await;
    assert_eq!(seen.last().unwrap().kind, EventKind::AgentUnresponsive { agent: id("risk-halted") });
    drop(events);
    server.shutdown().await;
}

fn positions(events: &[Event]) -> Vec<(u64, u32)> {
    events.iter().map(|event| (event.sequence, event.index)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_is_ordered_and_resumable_from_any_sequence() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let mut writes = Vec::new();
    for role in ["scout", "analyst", "executor"] {
        let (_, key) = server.new_agent(&format!("{role}-1"));
        writes.push(server.operator.submit_one(register(&format!("{role}-1"), &key, role)).await.unwrap());
    }
    // One entry with several events: they share the sequence and count up the index.
    let batch = server
        .operator
        .submit_batch(vec![
            colony_core::Command::HaltAgent(HaltAgent { agent: id("scout-1"), reason: "a".into() }),
            colony_core::Command::HaltAgent(HaltAgent { agent: id("nobody"), reason: "refused, no event".into() }),
            colony_core::Command::HaltAgent(HaltAgent { agent: id("analyst-1"), reason: "b".into() }),
            colony_core::Command::ResumeAgent(ResumeAgent { agent: id("scout-1") }),
        ])
        .await
        .unwrap();
    let last_sequence = batch.sequence;

    // From genesis: everything, in order.
    let mut stream = server.operator.events(Some(1)).await.unwrap();
    let mut all = Vec::new();
    for _ in 0..7 {
        all.push(next_event(&mut stream).await);
    }
    drop(stream);
    assert_eq!(all[0].kind, EventKind::Genesis {});
    assert_eq!(positions(&all), [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (5, 1), (5, 2)]);
    assert!(positions(&all).windows(2).all(|pair| pair[0] < pair[1]), "strictly increasing (sequence, index)");
    assert!(all.windows(2).all(|pair| pair[0].timestamp_ms <= pair[1].timestamp_ms), "time never goes back");
    for (event, write) in all[1..4].iter().zip(&writes) {
        assert_eq!(event.sequence, write.sequence);
        assert_eq!(event.timestamp_ms, write.timestamp_ms);
        assert!(matches!(&event.kind, EventKind::AgentRegistered { by: Signer::Operator, .. }));
    }
    assert_eq!(
        all[4..].iter().map(|event| event.kind.clone()).collect::<Vec<_>>(),
        [
            EventKind::AgentHalted { agent: id("scout-1"), by: Signer::Operator, reason: "a".into() },
            EventKind::AgentHalted { agent: id("analyst-1"), by: Signer::Operator, reason: "b".into() },
            EventKind::AgentResumed { agent: id("scout-1"), by: Signer::Operator },
        ]
    );
    assert!(all[4..].iter().all(|event| event.sequence == last_sequence));

    // Resuming from any sequence gives exactly the tail from that sequence on.
    for from in 1..=last_sequence {
        let mut stream = server.operator.events(Some(from)).await.unwrap();
        let expected: Vec<&Event> = all.iter().filter(|event| event.sequence >= from).collect();
        for wanted in expected {
            assert_eq!(&next_event(&mut stream).await, wanted, "stream from {from}");
        }
    }

    // A stream from beyond the end waits for new events, which arrive live and in order.
    let mut live = server.operator.events(Some(last_sequence + 1)).await.unwrap();
    let mut fresh = server.operator.events(None).await.unwrap();
    let (scout, _) = server.self_registers("scout-2", "scout", &[]).await;
    scout.heartbeat().await.unwrap();
    server.operator.deregister(id("scout-2")).await.unwrap();
    let mut tail = Vec::new();
    for _ in 0..2 {
        tail.push(next_event(&mut live).await);
    }
    assert_eq!(positions(&tail), [(last_sequence + 1, 0), (last_sequence + 3, 0)], "a heartbeat emits nothing");
    assert!(matches!(&tail[0].kind, EventKind::AgentRegistered { agent, by: Signer::Agent(by), .. }
        if agent.as_str() == "scout-2" && by.as_str() == "scout-2"));
    assert!(matches!(&tail[1].kind, EventKind::AgentDeregistered { by: Signer::Operator, .. }));
    assert_eq!(next_event(&mut fresh).await, tail[0], "a stream without `from` starts with new events");
    assert_eq!(next_event(&mut fresh).await, tail[1]);
    drop((live, fresh));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_from_before_the_retained_events_are_refused_clearly() {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = settings(directory.path());
    settings.events_retained = 2;
    let server = start(settings).await;
    for agent in ["scout-1", "scout-2", "scout-3"] {
        server.operator_registers(agent, "scout").await;
    }
    // Events 1..=4 were emitted; only the last two (entries 3 and 4) are kept.
    let problem = match server.operator.events(Some(1)).await {
        Err(error) => error,
        Ok(_) => panic!("a stream from an evicted sequence must be refused"),
    };
    let problem = expect_problem(Err::<(), _>(problem), 410, "events_expired", Some("from"));
    assert!(problem.detail.contains("entry 3"), "the answer names the oldest sequence available: {problem}");
    let mut stream = server.operator.events(Some(3)).await.unwrap();
    assert_eq!(next_event(&mut stream).await.sequence, 3);
    assert_eq!(next_event(&mut stream).await.sequence, 4);
    drop(stream);
    // An invalid `from` is a clear error too.
    let raw = server.signed_get_raw(&server.operator, "/v1/events?from=soon").await;
    raw.expect_problem(400, "invalid_query", Some("from"));
    server.shutdown().await;
}

/// Reads the ids of the next `count` events of a raw SSE response.
async fn sse_ids(response: &mut reqwest::Response, count: usize) -> Vec<String> {
    let mut text = String::new();
    let mut ids = Vec::new();
    while ids.len() < count {
        let chunk = tokio::time::timeout(WAIT, response.chunk()).await.expect("an event in time").unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk.expect("the stream stays open")));
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            ids.extend(frame.lines().filter_map(|line| line.strip_prefix("id:")).map(|id| id.trim().to_owned()));
        }
    }
    ids.truncate(count);
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reconnecting_stream_resumes_after_its_last_event_id() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    server.operator_registers("scout-1", "scout").await;
    server.operator_registers("scout-2", "scout").await;
    server
        .operator
        .submit_batch(vec![
            colony_core::Command::HaltAgent(HaltAgent { agent: id("scout-1"), reason: String::new() }),
            colony_core::Command::HaltAgent(HaltAgent { agent: id("scout-2"), reason: String::new() }),
        ])
        .await
        .unwrap();

    let mut response = server.operator.authenticated_get("/v1/events?from=1").unwrap().send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(sse_ids(&mut response, 5).await, ["1-0", "2-0", "3-0", "4-0", "4-1"]);
    drop(response);

    // Last-Event-ID wins over `from` and resumes strictly after that event, even inside an entry.
    let mut response = server
        .operator
        .authenticated_get("/v1/events?from=1")
        .unwrap()
        .header("last-event-id", "4-0")
        .send()
        .await
        .unwrap();
    assert_eq!(sse_ids(&mut response, 1).await, ["4-1"]);
    server.operator.deregister(id("scout-1")).await.unwrap();
    assert_eq!(sse_ids(&mut response, 1).await, ["5-0"], "then live events follow");
    drop(response);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_from_entry_zero_or_after_a_malformed_event_id_is_refused_with_a_problem() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let refused = |response: reqwest::Response| async move {
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        problem["field"].as_str().unwrap().to_owned()
    };
    // Entries are numbered from 1.
    let response = server.operator.authenticated_get("/v1/events?from=0").unwrap().send().await.unwrap();
    assert_eq!(refused(response).await, "from");
    for malformed in ["0-0", "x", "4", "4-", "-1"] {
        let response = server
            .operator
            .authenticated_get("/v1/events?from=1")
            .unwrap()
            .header("last-event-id", malformed)
            .send()
            .await
            .unwrap();
        assert_eq!(refused(response).await, "last-event-id", "{malformed}");
    }
    // An empty one names no event: the stream starts at `from`.
    let mut response = server
        .operator
        .authenticated_get("/v1/events?from=1")
        .unwrap()
        .header("last-event-id", "")
        .send()
        .await
        .unwrap();
    assert_eq!(sse_ids(&mut response, 1).await, ["1-0"]);
    drop(response);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_websocket_endpoint_answers_a_plain_request_with_a_problem() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let response = server.operator.authenticated_get("/v1/bus/ws").unwrap().send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(problem["code"], "malformed_request");
    server.shutdown().await;
}
