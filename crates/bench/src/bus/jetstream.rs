//! The durable reference: NATS JetStream, one replica with file storage, on the local nats-server.
//!
//! Each run creates a stream of its own (named after the process and the time, so runs never
//! share one), publishes asynchronously with [`IN_FLIGHT`] publishes waiting for their
//! acknowledgement at most, then consumes everything through a durable pull consumer with explicit
//! acknowledgement, and deletes the stream, whatever happened in between. Two figures come out:
//! acknowledged publishes per second, and messages consumed and acknowledged per second.
//!
//! Everything it needs is here, so that the durable scenarios to come can set their figures beside
//! these with one call to [`run`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::context::{ContextBuilder, PublishAckFuture};
use async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use futures_util::StreamExt as _;

use super::nats::{ADDRESS, reachable};
use crate::report::{Row, human};

/// Publishes waiting for their acknowledgement at most.
pub const IN_FLIGHT: usize = 1_000;

/// Messages the pull consumer asks for at once.
const PULL_BATCH: usize = 1_000;

/// Every message's payload, in bytes (the bus scenario's payload size).
const PAYLOAD_BYTES: usize = super::PAYLOAD_BYTES;

/// How long either half may take before it is abandoned as stalled.
const PHASE_LIMIT: Duration = Duration::from_secs(120);

/// Cited from REFERENCES.md (JetStream R1, file storage, on a machine of this kind).
const ANCHOR_ASYNC_PUBLISH: f64 = 135_000.0;
const ANCHOR_CONSUME_ACK: f64 = 183_000.0;

/// Why there are no JetStream figures.
pub enum Failure {
    /// Nothing to measure (no server, or JetStream not enabled in it): the scenario goes on without it.
    Unavailable(String),
    /// JetStream answered but the workload failed: an error of the benchmark.
    Broken(String),
}

/// A finished run.
pub struct Outcome {
    /// Acknowledged publishes per second.
    pub publishes_per_s: f64,
    /// Messages consumed and acknowledged per second.
    pub consumes_per_s: f64,
    /// What was checked and how the stream was set up.
    pub summary: String,
}

impl Outcome {
    /// The report's rows for these figures, beside the anchors of REFERENCES.md.
    pub fn rows(&self, scenario: &'static str) -> Vec<Row> {
        vec![
            Row::new(
                scenario,
                format!("JetStream R1: async publish, {IN_FLIGHT} in flight"),
                self.publishes_per_s,
                "msg/s",
            )
            .reference("JetStream anchor (REFERENCES.md)", ANCHOR_ASYNC_PUBLISH),
            Row::new(scenario, "JetStream R1: pull consume + explicit ack", self.consumes_per_s, "msg/s")
                .reference("JetStream anchor (REFERENCES.md)", ANCHOR_CONSUME_ACK),
        ]
    }
}

/// Publishes `messages` messages to a fresh stream and consumes them all, on `runtime`.
pub fn run(runtime: &tokio::runtime::Runtime, messages: u64) -> Result<Outcome, Failure> {
    reachable().map_err(|reason| Failure::Unavailable(format!("NATS not reachable at {ADDRESS} ({reason})")))?;
    runtime.block_on(measure(messages.max(1)))
}

async fn measure(messages: u64) -> Result<Outcome, Failure> {
    let client = async_nats::connect(ADDRESS)
        .await
        .map_err(|error| Failure::Unavailable(format!("connecting to NATS at {ADDRESS}: {error}")))?;
    let context = ContextBuilder::new().max_ack_inflight(IN_FLIGHT).build(client.clone());
    let unique = format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_millis())
    );
    let name = format!("COLONY_BENCH_{unique}");
    let subject = format!("colony-bench.jetstream.{unique}");
    let mut stream = context
        .create_stream(StreamConfig {
            name: name.clone(),
            subjects: vec![subject.clone()],
            storage: StorageType::File,
            num_replicas: 1,
            ..StreamConfig::default()
        })
        .await
        .map_err(|error| {
            Failure::Unavailable(format!("JetStream unavailable at {ADDRESS}: creating a stream: {error}"))
        })?;

    let outcome = async {
        let (published, publishing) = publish_all(&context, &subject, messages).await?;
        let info = stream.info().await.map_err(|error| format!("stream info: {error}"))?;
        if info.state.messages != published {
            return Err(format!("the stream holds {} messages, {published} were acknowledged", info.state.messages));
        }
        let (consumed, consuming, ack_pending) = consume_all(&stream, messages).await?;
        Ok(Outcome {
            publishes_per_s: published as f64 / publishing.as_secs_f64(),
            consumes_per_s: consumed as f64 / consuming.as_secs_f64(),
            summary: format!(
                "stream {name} (R1, file storage, created for this run and deleted after it): {} publishes \
                 acknowledged in {:.2} s, then {} messages pulled (batches of {PULL_BATCH}) and acknowledged in \
                 {:.2} s; {ack_pending} acknowledgements still pending at the end; payload {PAYLOAD_BYTES} bytes",
                human(published as f64),
                publishing.as_secs_f64(),
                human(consumed as f64),
                consuming.as_secs_f64(),
            ),
        })
    }
    .await;
    // The stream goes whatever happened: a failed run must not leave its messages on the server's disk.
    let deleted = context.delete_stream(&name).await;
    let outcome = outcome.map_err(Failure::Broken)?;
    deleted.map_err(|error| Failure::Broken(format!("deleting stream {name}: {error}")))?;
    Ok(outcome)
}

/// Publishes `messages` messages with at most [`IN_FLIGHT`] awaiting acknowledgement; returns how
/// many were acknowledged and the time from the first publish to the last acknowledgement.
async fn publish_all(
    context: &async_nats::jetstream::Context,
    subject: &str,
    messages: u64,
) -> Result<(u64, Duration), String> {
    let body = bytes::Bytes::from(super::payload(0));
    let subject = async_nats::Subject::from(subject);
    let started = Instant::now();
    let deadline = started + PHASE_LIMIT;
    let mut waiting: VecDeque<PublishAckFuture> = VecDeque::with_capacity(IN_FLIGHT);
    let mut acknowledged = 0u64;
    for _ in 0..messages {
        if waiting.len() >= IN_FLIGHT {
            let oldest = waiting.pop_front().expect("the queue is full");
            oldest.await.map_err(|error| format!("publish acknowledgement: {error}"))?;
            acknowledged += 1;
        }
        if Instant::now() >= deadline {
            return Err(format!("stalled: {acknowledged} of {messages} publishes acknowledged"));
        }
        let future =
            context.publish(subject.clone(), body.clone()).await.map_err(|error| format!("publishing: {error}"))?;
        waiting.push_back(future);
    }
    for future in waiting {
        future.await.map_err(|error| format!("publish acknowledgement: {error}"))?;
        acknowledged += 1;
    }
    Ok((acknowledged, started.elapsed()))
}

/// Consumes `messages` messages through a new durable pull consumer, acknowledging each; returns how
/// many, the time it took, and the acknowledgements the server still counted pending afterwards.
async fn consume_all(
    stream: &async_nats::jetstream::stream::Stream,
    messages: u64,
) -> Result<(u64, Duration, usize), String> {
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("colony-bench".to_owned()),
            ack_policy: AckPolicy::Explicit,
            ..pull::Config::default()
        })
        .await
        .map_err(|error| format!("creating the consumer: {error}"))?;
    let started = Instant::now();
    let deadline = started + PHASE_LIMIT;
    let mut incoming = consumer
        .stream()
        .max_messages_per_batch(PULL_BATCH)
        .messages()
        .await
        .map_err(|error| format!("pulling: {error}"))?;
    let mut consumed = 0u64;
    while consumed < messages {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let message = match tokio::time::timeout(remaining, incoming.next()).await {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(error))) => return Err(format!("pulling: {error}")),
            Ok(None) => return Err(format!("the consumer ended after {consumed} of {messages} messages")),
            Err(_) => return Err(format!("stalled: {consumed} of {messages} messages consumed")),
        };
        message.ack().await.map_err(|error| format!("acknowledging: {error}"))?;
        consumed += 1;
    }
    let elapsed = started.elapsed();
    drop(incoming);
    // Acknowledgements are sent without waiting for the server; its count says whether they all landed.
    let mut ack_pending = usize::MAX;
    for _ in 0..20 {
        ack_pending = consumer.get_info().await.map_err(|error| format!("consumer info: {error}"))?.num_ack_pending;
        if ack_pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((consumed, elapsed, ack_pending))
}
