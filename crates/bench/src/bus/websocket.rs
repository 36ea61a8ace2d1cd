//! Fan-out and latency over WebSocket, against a real server on a loopback ephemeral port, with the
//! Rust client: `Client::connect_bus`, `BusSender::send_all`, `BusReceiver::next`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use colony_client::Client;
use colony_client::bus::{BusReceiver, BusSender};
use colony_core::Signer;
use colony_wire::bus::{BusMessage, ClientFrame, EphemeralPublish, ServerFrame, ServerOp};
use serde_json::value::RawValue;

use super::{
    CREDIT_WINDOW, Credit, FanOut, MEASUREMENT_LIMIT, MonotonicClock, PUBLISH_BATCH, Paced, Pacer, SUBJECT, payload,
    sent_ns,
};
use crate::fixture::{Agents, BenchServer, Measurement, TaskTally};

/// The subscription id every subscriber connection uses.
const SID: &str = "fan-out";

/// The agent that publishes; subscribers are the agents after it.
const PUBLISHER_AGENT: usize = 0;

/// A `pub` frame with a 256-byte payload carrying `sent_ns`.
fn publish_frame(sent_ns: u64) -> ClientFrame {
    ClientFrame::publish(EphemeralPublish {
        subject: SUBJECT.to_owned(),
        payload: Some(RawValue::from_string(payload(sent_ns)).expect("payloads are JSON")),
        ..EphemeralPublish::default()
    })
}

/// Opens a subscriber connection for agent `agent`, subscribed to the scenario's subject.
async fn subscriber(base_url: &str, agents: &Agents, agent: usize) -> Result<(BusSender, BusReceiver), String> {
    let client = Client::new(base_url).with_identity(agents.identity(agent));
    let mut connection = client.connect_bus().await.map_err(|error| format!("subscriber connection: {error}"))?;
    connection.subscribe(SID, SUBJECT, None).await.map_err(|error| format!("subscribing: {error}"))?;
    Ok(connection.split())
}

/// Reads the publisher's own connection, where the server reports refused publishes, until it ends.
/// Returns the refusals and the first one's reason.
fn watch_refusals(mut receiver: BusReceiver, deadline: Instant) -> tokio::task::JoinHandle<(u64, Option<String>)> {
    tokio::spawn(async move {
        let mut refused = 0u64;
        let mut first = None;
        while let Ok(Some(frame)) =
            tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), receiver.next()).await
        {
            match frame {
                Ok(frame) if frame.op == ServerOp::Error => {
                    refused += 1;
                    first.get_or_insert_with(|| format!("{:?}", frame.problem));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        (refused, first)
    })
}

/// Closes the publisher and collects what its watcher saw; fails if any publish was refused.
async fn finish_publisher(
    sender: BusSender,
    watcher: tokio::task::JoinHandle<(u64, Option<String>)>,
) -> Result<(), String> {
    sender.close().await;
    // The server closes its side in answer; a watcher still waiting after that is abandoned.
    let outcome = tokio::time::timeout(Duration::from_secs(5), watcher).await;
    match outcome {
        Ok(Ok((0, _))) => Ok(()),
        Ok(Ok((refused, first))) => Err(format!("{refused} publishes refused; first: {}", first.unwrap_or_default())),
        Ok(Err(error)) => Err(format!("publisher watcher: {error}")),
        Err(_) => Ok(()),
    }
}

/// Publishes `messages` messages from one connection to `subscribers` subscriber connections.
pub async fn fan_out(
    server: &BenchServer,
    agents: &Agents,
    subscribers: usize,
    messages: u64,
) -> Result<FanOut, String> {
    assert!(PUBLISHER_AGENT + subscribers < agents.len(), "enough registered agents");
    let base_url = server.base_url();
    let bus = server.bus();
    let before = bus.router.stats();
    let deadline = Instant::now() + MEASUREMENT_LIMIT;
    let credit = Credit::new(subscribers);

    let mut readers = Vec::with_capacity(subscribers);
    for index in 0..subscribers {
        let (sender, mut receiver) = subscriber(&base_url, agents, PUBLISHER_AGENT + 1 + index).await?;
        let credit = Arc::clone(&credit);
        readers.push(tokio::spawn(async move {
            let (mut delivered, mut dropped) = (0u64, 0u64);
            while delivered + dropped < messages {
                let remaining = deadline.saturating_duration_since(Instant::now());
                let frame = match tokio::time::timeout(remaining, receiver.next()).await {
                    Ok(Some(Ok(frame))) => frame,
                    Ok(Some(Err(error))) => return Err(format!("subscriber {index}: {error}")),
                    Ok(None) | Err(_) => break,
                };
                match frame.op {
                    ServerOp::Msg => {
                        delivered += 1;
                        credit.add(index, 1);
                    }
                    ServerOp::Dropped => {
                        let count = frame.count.unwrap_or(0);
                        dropped += count;
                        credit.add(index, count);
                    }
                    _ => {}
                }
            }
            // The connection stays open until here, so the subscription lasts the whole measurement.
            drop((sender, receiver));
            Ok((delivered, dropped, Instant::now()))
        }));
    }

    let client = Client::new(&base_url).with_identity(agents.identity(PUBLISHER_AGENT));
    let (mut sender, receiver) =
        client.connect_bus().await.map_err(|error| format!("publisher connection: {error}"))?.split();
    let watcher = watch_refusals(receiver, deadline);
    let frames: Vec<ClientFrame> = vec![publish_frame(0); PUBLISH_BATCH];

    let started = Instant::now();
    let mut published = 0u64;
    let mut publishing = Duration::ZERO;
    while published < messages {
        let batch = (PUBLISH_BATCH as u64).min(messages - published);
        credit.wait_for_room(published + batch, CREDIT_WINDOW, deadline).await?;
        let handing = Instant::now();
        sender.send_all(&frames[..batch as usize]).await.map_err(|error| format!("publishing: {error}"))?;
        publishing += handing.elapsed();
        published += batch;
    }
    let mut delivered = 0;
    let mut dropped = 0;
    let mut finished = started;
    for reader in readers {
        let (count, lost, at) = reader.await.map_err(|error| format!("subscriber task: {error}"))??;
        delivered += count;
        dropped += lost;
        finished = finished.max(at);
    }
    finish_publisher(sender, watcher).await?;
    let after = bus.router.stats();
    let fan_out = FanOut {
        subscribers,
        published,
        delivered,
        dropped: dropped.max(after.dropped - before.dropped),
        elapsed: finished - started,
        publishing,
    };
    if after.published - before.published != published {
        return Err(format!(
            "WebSocket: the server accepted {} publishes, {published} were sent",
            after.published - before.published
        ));
    }
    if delivered + dropped < published * subscribers as u64 {
        return Err(format!("WebSocket, 1 → {subscribers}: messages went missing: {}", fan_out.counts()));
    }
    Ok(fan_out)
}

/// Publishes `total` messages at `rate` messages per second to one subscriber and records publish →
/// deliver latencies.
pub async fn paced(server: &BenchServer, agents: &Agents, rate: f64, total: u64) -> Result<Paced, String> {
    let base_url = server.base_url();
    let bus = server.bus();
    let dropped_before = bus.router.stats().dropped;
    let deadline = Instant::now() + MEASUREMENT_LIMIT;
    let clock = MonotonicClock::new();

    let (subscriber_sender, mut receiver) = subscriber(&base_url, agents, PUBLISHER_AGENT + 1).await?;
    let reader = tokio::spawn(async move {
        let mut tally = TaskTally::default();
        tally.latencies_us.reserve(total as usize);
        let mut dropped = 0u64;
        while tally.commands + dropped < total {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let frame: ServerFrame = match tokio::time::timeout(remaining, receiver.next()).await {
                Ok(Some(Ok(frame))) => frame,
                Ok(Some(Err(error))) => return Err(format!("subscriber: {error}")),
                Ok(None) | Err(_) => break,
            };
            let arrived_ns = clock.now_ns();
            match frame.op {
                ServerOp::Msg => {
                    let sent = frame
                        .message
                        .as_ref()
                        .and_then(|message| message.payload.as_ref())
                        .and_then(|payload| sent_ns(payload.get().as_bytes()))
                        .ok_or("a message without its send time")?;
                    tally.success(Duration::from_nanos(arrived_ns.saturating_sub(sent)), 1);
                }
                ServerOp::Dropped => dropped += frame.count.unwrap_or(0),
                _ => {}
            }
        }
        drop(subscriber_sender);
        Ok::<_, String>((tally, dropped, Instant::now()))
    });

    let client = Client::new(&base_url).with_identity(agents.identity(PUBLISHER_AGENT));
    let (mut sender, publisher_receiver) =
        client.connect_bus().await.map_err(|error| format!("publisher connection: {error}"))?.split();
    let watcher = watch_refusals(publisher_receiver, deadline);
    let started = Instant::now();
    let mut pacer = Pacer::new(rate, total);
    while !pacer.finished() && Instant::now() < deadline {
        let due = pacer.due(PUBLISH_BATCH as u64).await;
        let frames = vec![publish_frame(clock.now_ns()); due as usize];
        sender.send_all(&frames).await.map_err(|error| format!("publishing: {error}"))?;
        pacer.sent += due;
    }
    let (tally, dropped, finished) = reader.await.map_err(|error| format!("subscriber task: {error}"))??;
    finish_publisher(sender, watcher).await?;
    let delivered = tally.commands;
    let counted_dropped = bus.router.stats().dropped - dropped_before;
    Ok(Paced {
        published: pacer.sent,
        delivered,
        dropped: dropped.max(counted_dropped),
        elapsed: finished - started,
        latencies: Measurement::from_tallies(finished - started, vec![tally]),
    })
}

/// Times, on this thread, each step one message takes through the WebSocket path, `messages` times
/// each, and describes the results (one note per line).
pub fn path_costs(messages: u64) -> Vec<String> {
    let count = messages.max(1);
    let frame = publish_frame(1_234_567_890);
    let text = serde_json::to_string(&frame).expect("frames encode");
    let signer = Signer::Operator;
    let mut steps = [Duration::ZERO; 6];
    let mut frame_bytes = 0usize;
    for index in 0..count {
        // 1. The client encodes a `pub` frame (BusSender::send_all).
        let mark = Instant::now();
        let encoded = serde_json::to_string(&frame).expect("frames encode");
        steps[0] += mark.elapsed();
        std::hint::black_box(&encoded);
        // 2. The server decodes it.
        let mark = Instant::now();
        let decoded: ClientFrame = serde_json::from_str(&text).expect("frames decode");
        steps[1] += mark.elapsed();
        let message = decoded.message.expect("a pub frame carries a message");
        // 3. It validates the message.
        let mark = Instant::now();
        let subject = message.validate("message.").expect("the message is valid");
        steps[2] += mark.elapsed();
        std::hint::black_box(&subject);
        // 4. EphemeralBus::publish: a message id, the message the subscribers receive, encoded once.
        let mark = Instant::now();
        let id = format!("{:x}-{index}", 0x19a_u64);
        let outgoing: Arc<str> =
            Arc::from(serde_json::to_string(&BusMessage::new(id, 1, &signer, message)).expect("messages encode"));
        steps[3] += mark.elapsed();
        // 5. Each subscriber's writer wraps it in a `msg` frame.
        let mark = Instant::now();
        let server_frame = format!("{{\"op\":\"msg\",\"sid\":\"{SID}\",\"message\":{outgoing}}}");
        steps[4] += mark.elapsed();
        frame_bytes = server_frame.len();
        // 6. Each subscriber decodes it (BusReceiver::next).
        let mark = Instant::now();
        let received: ServerFrame = serde_json::from_str(&server_frame).expect("frames decode");
        steps[5] += mark.elapsed();
        std::hint::black_box(&received);
    }
    let mean_us = |step: usize| steps[step].as_secs_f64() * 1e6 / count as f64;
    let server_per_publish = mean_us(1) + mean_us(2) + mean_us(3);
    vec![
        format!(
            "one message's path, mean of {count} on one thread (payload {} bytes, `msg` frame {frame_bytes} bytes): \
             client encodes the pub frame {:.2} µs; server decodes it {:.2} µs, validates {:.2} µs, builds and \
             encodes the BusMessage {:.2} µs; per subscriber: server wraps it in a msg frame {:.2} µs, client \
             decodes it {:.2} µs",
            super::PAYLOAD_BYTES,
            mean_us(0),
            mean_us(1),
            mean_us(2),
            mean_us(3),
            mean_us(4),
            mean_us(5),
        ),
        format!(
            "so the reader task of a publishing connection spends ≈{server_per_publish:.2} µs of JSON work per \
             publish (≤ {} publishes/s on one core before reading the socket, the state lock and fan-out), and every \
             delivery costs ≈{:.2} µs of framing on the server and {:.2} µs of decoding in a Rust client",
            crate::report::human(1e6 / server_per_publish),
            mean_us(4),
            mean_us(5),
        ),
    ]
}
