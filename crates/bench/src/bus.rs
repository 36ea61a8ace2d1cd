//! The `bus` scenario: the ephemeral message bus's fan-out rate and latency, side by side with NATS
//! core on the same machine in the same run.
//!
//! 1. In process: [`SubjectRouter::publish`](colony_server::bus::SubjectRouter::publish) of a
//!    running server's bus with messages already encoded as `Outgoing` JSON text (256-byte JSON
//!    payloads), one consumer task per subscriber draining its mailbox concurrently; 1 → 1 and
//!    1 → 100 subscribers.
//! 2. Over WebSocket against the same server on a loopback ephemeral port: one publisher connection
//!    sending `pub` frames in batches with `BusSender::send_all`, every subscriber on a connection of
//!    its own (1 → 1, and 1 → 100 with 100 subscriber connections).
//! 3. Latency over WebSocket, 1 → 1, with the publisher paced at a fixed rate: each payload carries
//!    its send time in nanoseconds of a monotonic clock shared by the publisher and the subscriber
//!    (both run in this process).
//! 4. The reference: NATS core on 127.0.0.1:4222 through `async-nats`, the same payloads, shapes and
//!    pacing (skipped, with the reason, when nothing answers there).
//! 5. The durable reference for later scenarios: JetStream R1 with file storage (see [`jetstream`]).
//!
//! # What is counted
//!
//! Only messages that reached a subscriber count as delivered. Publishers are throttled by a credit
//! window ([`Credit`]): a publisher may be at most [`CREDIT_WINDOW`] messages ahead of its slowest
//! subscriber. The window is smaller than a subscriber's buffer on the server (4,096 messages), so
//! a drop-oldest buffer can never overflow and the figures are rates at which nothing is lost, not
//! rates at which messages are thrown away. Drops are still counted, separately: the `dropped`
//! notices subscribers receive and the bus's own counter. The same window throttles the NATS
//! publisher, so both systems are measured the same way.

pub mod durable;
mod in_process;
pub mod jetstream;
mod nats;
mod websocket;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::Bench;
use crate::fixture::{BenchServer, Measurement};
use crate::machine;
use crate::report::{Row, human};

const SCENARIO: &str = "bus";

/// Every payload is a JSON object of exactly this many bytes.
pub const PAYLOAD_BYTES: usize = 256;

/// The subject every measurement publishes to (each NATS measurement adds a unique suffix).
const SUBJECT: &str = "bench.bus.fanout";

/// A publisher may be at most this many messages ahead of its slowest subscriber. Half of the
/// server's default subscriber buffer (4,096 messages): the buffer can never overflow.
pub const CREDIT_WINDOW: u64 = 2_048;

/// Messages a publisher hands over at once (one `send_all` over WebSocket).
const PUBLISH_BATCH: usize = 256;

/// The subscriber counts of the fan-out measurements.
const FAN_OUTS: [usize; 2] = [1, 100];

/// Targets.
const TARGET_IN_PROCESS: f64 = 1_000_000.0;
const TARGET_WEBSOCKET: f64 = 200_000.0;
const TARGET_P99_MS: f64 = 2.0;

/// Cited from REFERENCES.md: NATS 2.9.10 core, publish with one subscriber, on a machine of this kind.
const NATS_ANCHOR: f64 = 800_000.0;

/// The latency measurements publish at this rate (messages per second).
pub const PACED_RATE: f64 = 50_000.0;

/// A second, low rate for the Colony latency measurement.
const LOW_PACED_RATE: f64 = 1_000.0;

/// How long any one measurement may take before it is abandoned as stalled.
const MEASUREMENT_LIMIT: Duration = Duration::from_secs(120);

/// A JSON payload of exactly [`PAYLOAD_BYTES`] bytes carrying `sent_ns` (`{"sent_ns":…,"pad":"xx…"}`).
pub fn payload(sent_ns: u64) -> String {
    let head = format!("{{\"sent_ns\":{sent_ns},\"pad\":\"");
    let tail = "\"}";
    let pad_bytes = PAYLOAD_BYTES.saturating_sub(head.len() + tail.len());
    let mut text = String::with_capacity(PAYLOAD_BYTES);
    text.push_str(&head);
    text.extend(std::iter::repeat_n('x', pad_bytes));
    text.push_str(tail);
    text
}

/// The send time a [`payload`] carries.
pub fn sent_ns(payload: &[u8]) -> Option<u64> {
    let rest = payload.strip_prefix(b"{\"sent_ns\":")?;
    let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// A monotonic clock shared by the publishers and subscribers of this process: nanoseconds since
/// one instant.
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock starting now.
    pub fn new() -> MonotonicClock {
        MonotonicClock { origin: Instant::now() }
    }

    /// Nanoseconds since the clock started.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// How many messages each subscriber has received (or learnt were dropped), so that a publisher can
/// stay within [`CREDIT_WINDOW`] of the slowest one.
pub struct Credit {
    received: Vec<AtomicU64>,
    progress: Notify,
}

impl Credit {
    /// Counters for `subscribers` subscribers.
    pub fn new(subscribers: usize) -> Arc<Credit> {
        Arc::new(Credit { received: (0..subscribers).map(|_| AtomicU64::new(0)).collect(), progress: Notify::new() })
    }

    /// Records that `subscriber` received (or was told it lost) `count` more messages.
    pub fn add(&self, subscriber: usize, count: u64) {
        self.received[subscriber].fetch_add(count, Ordering::Relaxed);
        self.progress.notify_one();
    }

    /// Messages the slowest subscriber has received.
    pub fn slowest(&self) -> u64 {
        self.received.iter().map(|count| count.load(Ordering::Relaxed)).min().unwrap_or(0)
    }

    /// Waits until `published` messages would be at most `window` ahead of the slowest subscriber, or
    /// fails at `deadline`.
    pub async fn wait_for_room(&self, published: u64, window: u64, deadline: Instant) -> Result<(), String> {
        loop {
            // A notification between the check and the wait leaves a permit, so the wait cannot miss it.
            let notified = self.progress.notified();
            let slowest = self.slowest();
            if slowest + window >= published {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "stalled: the slowest subscriber received {slowest} messages, {published} were to be published"
                ));
            }
            // Re-checked at least every 20 ms, so a lost wake-up costs time, never the measurement.
            let _ = tokio::time::timeout((deadline - now).min(Duration::from_millis(20)), notified).await;
        }
    }
}

/// Paces a publisher at a fixed rate: how many messages are due now.
pub struct Pacer {
    started: Instant,
    rate: f64,
    total: u64,
    /// Messages handed over so far.
    pub sent: u64,
}

impl Pacer {
    /// A pacer for `total` messages at `rate` messages per second, starting now.
    pub fn new(rate: f64, total: u64) -> Pacer {
        Pacer { started: Instant::now(), rate, total, sent: 0 }
    }

    /// Whether every message has been handed over.
    pub fn finished(&self) -> bool {
        self.sent >= self.total
    }

    /// Waits until at least one message is due and returns how many are (at most `most`). The
    /// schedule is fixed from the start: a publisher that fell behind catches up.
    pub async fn due(&mut self, most: u64) -> u64 {
        loop {
            let elapsed = self.started.elapsed().as_secs_f64();
            let owed = ((elapsed * self.rate) as u64).min(self.total);
            if owed > self.sent {
                return (owed - self.sent).min(most);
            }
            let next = self.started + Duration::from_secs_f64((self.sent + 1) as f64 / self.rate);
            tokio::time::sleep_until(next.into()).await;
        }
    }
}

/// One fan-out measurement: what was published, what subscribers received, and how long it took.
#[derive(Clone, Debug)]
pub struct FanOut {
    /// Subscribers.
    pub subscribers: usize,
    /// Messages published.
    pub published: u64,
    /// Messages received by subscribers, all of them together.
    pub delivered: u64,
    /// Messages subscribers were told were dropped, or that the system's counters say it dropped.
    pub dropped: u64,
    /// From the first publish to the last delivery.
    pub elapsed: Duration,
    /// Wall time the publisher spent handing messages over (not waiting for credit).
    pub publishing: Duration,
}

impl FanOut {
    /// Delivered messages per second.
    pub fn delivered_per_s(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }

    /// A one-line account of the counts.
    pub fn counts(&self) -> String {
        format!(
            "published {}, delivered {} (expected {}), dropped {}, in {:.2} s; publisher busy {:.0}% of it ({:.0} ns \
             per published message)",
            self.published,
            self.delivered,
            self.published * self.subscribers as u64,
            self.dropped,
            self.elapsed.as_secs_f64(),
            100.0 * self.publishing.as_secs_f64() / self.elapsed.as_secs_f64(),
            self.publishing.as_secs_f64() * 1e9 / self.published.max(1) as f64,
        )
    }
}

/// One paced latency measurement.
pub struct Paced {
    /// Messages published.
    pub published: u64,
    /// Messages received.
    pub delivered: u64,
    /// Messages dropped.
    pub dropped: u64,
    /// From the first publish to the last delivery.
    pub elapsed: Duration,
    /// Publish → deliver latencies.
    pub latencies: Measurement,
}

impl Paced {
    /// Delivered messages per second.
    pub fn delivered_per_s(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }

    /// A one-line account of the counts.
    pub fn counts(&self) -> String {
        format!(
            "published {}, delivered {}, dropped {}, in {:.2} s ({} msg/s achieved)",
            self.published,
            self.delivered,
            self.dropped,
            self.elapsed.as_secs_f64(),
            human(self.delivered_per_s())
        )
    }
}

/// The name of the benchmark server's runtime threads, as `/proc` shows it.
const SERVER_THREADS: &str = "colony-server";

/// The cores each thread group used during a measurement, and the share other processes took.
struct CpuUse {
    threads: machine::ThreadCpu,
    machine: Option<machine::CpuSample>,
}

impl CpuUse {
    fn start() -> CpuUse {
        CpuUse { threads: machine::ThreadCpu::now(), machine: machine::CpuSample::now() }
    }

    /// The summary, and the cores the server's threads used on average.
    fn summary_and_server_cores(&self) -> (String, f64) {
        let cores = self.threads.cores_until(&machine::ThreadCpu::now());
        let server_cores = cores.iter().filter(|(name, _)| name == SERVER_THREADS).map(|(_, cores)| cores).sum();
        (self.describe(&cores), server_cores)
    }

    fn summary(&self) -> String {
        self.describe(&self.threads.cores_until(&machine::ThreadCpu::now()))
    }

    fn describe(&self, cores: &[(String, f64)]) -> String {
        let threads: Vec<String> = cores
            .iter()
            .filter(|(_, cores)| *cores >= 0.01)
            .map(|(name, cores)| format!("{name} {cores:.2}"))
            .collect();
        let others = self
            .machine
            .zip(machine::CpuSample::now())
            .and_then(|(before, after)| before.shares_until(&after))
            .map_or_else(String::new, |(others, _)| {
                format!("; other processes took {:.0}% of the machine", others * 100.0)
            });
        format!("cores used: {}{others}", threads.join(", "))
    }
}

fn fan_out_name(surface: &str, subscribers: usize) -> String {
    format!("{surface}, 1 → {subscribers}")
}

fn latency_name(surface: &str, rate: f64) -> String {
    format!("{surface} 1 → 1 at {} msg/s: p99", human(rate))
}

/// A latency row: the p99 in milliseconds, with p50 and p99 in their columns.
fn latency_row(name: String, paced: &Paced) -> Row {
    Row::new(SCENARIO, name, paced.latencies.latency_us(0.99) / 1_000.0, "ms")
        .latency(paced.latencies.latency_us(0.5), paced.latencies.latency_us(0.99))
        .reference("target (lower is better)", TARGET_P99_MS)
}

/// Runs the scenario and adds its rows to the report.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    let sizes = bench.sizes.clone();
    let mut notes: Vec<String> = Vec::new();
    let nats_reachable = nats::reachable();
    if let Err(reason) = &nats_reachable {
        crate::progress(SCENARIO, format!("skipped: NATS not reachable at {} ({reason})", nats::ADDRESS));
    }
    let nats_up = nats_reachable.is_ok();

    crate::progress(SCENARIO, "starting a Colony server and registering its agents");
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let server = BenchServer::start(directory.path(), Default::default(), bench.threads)?;
    server.register(&bench.load, &bench.agents)?;

    let mut in_process: Vec<FanOut> = Vec::new();
    for subscribers in FAN_OUTS {
        let messages = sizes.bus_in_process_deliveries / subscribers as u64;
        crate::progress(SCENARIO, format!("in process: 1 → {subscribers}, {messages} messages"));
        let cpu = CpuUse::start();
        let fan_out = bench.load.block_on(in_process::fan_out(server.bus(), subscribers, messages))?;
        notes.push(format!("{}: {}; {}", fan_out_name("in process", subscribers), fan_out.counts(), cpu.summary()));
        in_process.push(fan_out);
    }

    // Each NATS measurement runs just before the Colony measurement of the same shape, so that both
    // see the machine in much the same state (it is shared, and drifts).
    let mut websocket: Vec<FanOut> = Vec::new();
    let mut nats_fan_outs: Vec<FanOut> = Vec::new();
    for subscribers in FAN_OUTS {
        let messages = sizes.bus_websocket_deliveries / subscribers as u64;
        if nats_up {
            crate::progress(SCENARIO, format!("NATS core: 1 → {subscribers}, {messages} messages"));
            let cpu = CpuUse::start();
            let fan_out = bench.load.block_on(nats::fan_out(subscribers, messages))?;
            notes.push(format!("{}: {}; {}", fan_out_name("NATS core", subscribers), fan_out.counts(), cpu.summary()));
            nats_fan_outs.push(fan_out);
        }
        crate::progress(SCENARIO, format!("WebSocket: 1 → {subscribers}, {messages} messages"));
        let cpu = CpuUse::start();
        let fan_out = bench.load.block_on(websocket::fan_out(&server, &bench.agents, subscribers, messages))?;
        let (cpu_summary, server_cores) = cpu.summary_and_server_cores();
        notes.push(format!(
            "{}: {}; {cpu_summary}; the server's threads spent {:.2} µs of CPU per delivered message",
            fan_out_name("WebSocket", subscribers),
            fan_out.counts(),
            server_cores * 1e6 / fan_out.delivered_per_s()
        ));
        websocket.push(fan_out);
    }

    let nats_paced = if nats_up {
        let total = (PACED_RATE * sizes.bus_latency_duration.as_secs_f64()) as u64;
        crate::progress(SCENARIO, format!("NATS core: 1 → 1 paced at {} msg/s", human(PACED_RATE)));
        let cpu = CpuUse::start();
        let paced = bench.load.block_on(nats::paced(total))?;
        notes.push(format!(
            "NATS core paced 1 → 1 at {} msg/s: {}; {}",
            human(PACED_RATE),
            paced.counts(),
            cpu.summary()
        ));
        Some(paced)
    } else {
        None
    };
    // The low rate separates what every message waits (wake-ups, flushes, the network stack) from
    // queueing behind other messages.
    let mut websocket_paced: Vec<(f64, Paced)> = Vec::new();
    for rate in [PACED_RATE, LOW_PACED_RATE] {
        let total = (rate * sizes.bus_latency_duration.as_secs_f64()) as u64;
        crate::progress(SCENARIO, format!("WebSocket: 1 → 1 paced at {} msg/s", human(rate)));
        let cpu = CpuUse::start();
        let paced = bench.load.block_on(websocket::paced(&server, &bench.agents, rate, total))?;
        notes.push(format!("WebSocket paced 1 → 1 at {} msg/s: {}; {}", human(rate), paced.counts(), cpu.summary()));
        websocket_paced.push((rate, paced));
    }

    let stats = server.bus().router.stats();
    notes.push(format!(
        "Colony's bus counters after every measurement: published {}, delivered {}, dropped {}, unmatched {}",
        stats.published, stats.delivered, stats.dropped, stats.unmatched
    ));
    server.stop();

    crate::progress(SCENARIO, "timing the steps of one message's path through the server");
    notes.extend(websocket::path_costs(sizes.bus_path_cost_messages));

    crate::progress(SCENARIO, "JetStream R1 (file storage): async publish, then pull consume + ack");
    let mut jetstream_figures = None;
    let jetstream_rows = match jetstream::run(&bench.load, sizes.bus_jetstream_messages) {
        Ok(outcome) => {
            notes.push(format!("JetStream: {}", outcome.summary));
            jetstream_figures = Some((outcome.publishes_per_s, outcome.consumes_per_s));
            outcome.rows(SCENARIO)
        }
        Err(jetstream::Failure::Unavailable(reason)) => {
            let line = format!("skipped: {reason}");
            crate::progress(SCENARIO, &line);
            vec![Row::skipped(SCENARIO, "JetStream R1, file storage", line)]
        }
        Err(jetstream::Failure::Broken(error)) => return Err(format!("bus, JetStream: {error}")),
    };

    let nats_rate = |subscribers: usize| {
        nats_fan_outs.iter().find(|fan_out| fan_out.subscribers == subscribers).map(FanOut::delivered_per_s)
    };
    for fan_out in &in_process {
        let mut row = Row::new(
            SCENARIO,
            fan_out_name("in process (SubjectRouter::publish)", fan_out.subscribers),
            fan_out.delivered_per_s(),
            "msg/s",
        )
        .reference("target", TARGET_IN_PROCESS);
        if let Some(nats) = nats_rate(fan_out.subscribers) {
            row = row.reference(format!("NATS core 1 → {}, over TCP (this run)", fan_out.subscribers), nats);
        }
        bench.report.row(row);
    }
    for fan_out in &websocket {
        let mut row =
            Row::new(SCENARIO, fan_out_name("WebSocket", fan_out.subscribers), fan_out.delivered_per_s(), "msg/s")
                .reference("target", TARGET_WEBSOCKET);
        if let Some(nats) = nats_rate(fan_out.subscribers) {
            row = row.reference(format!("NATS core 1 → {} (this run)", fan_out.subscribers), nats);
        }
        bench.report.row(row);
    }
    for (rate, paced) in &websocket_paced {
        let mut row = latency_row(latency_name("WebSocket", *rate), paced);
        if *rate == PACED_RATE
            && let Some(nats) = &nats_paced
        {
            row = row.reference("NATS core p99 (this run; lower is better)", nats.latencies.latency_us(0.99) / 1_000.0);
        }
        bench.report.row(row);
    }
    match &nats_reachable {
        Err(reason) => bench.report.row(Row::skipped(
            SCENARIO,
            "NATS core (the reference)",
            format!("skipped: NATS not reachable at {} ({reason})", nats::ADDRESS),
        )),
        Ok(()) => {
            for fan_out in &nats_fan_outs {
                let mut row = Row::new(
                    SCENARIO,
                    fan_out_name("NATS core", fan_out.subscribers),
                    fan_out.delivered_per_s(),
                    "msg/s",
                );
                if fan_out.subscribers == 1 {
                    row = row.reference("NATS core anchor, 1 → 1 (REFERENCES.md)", NATS_ANCHOR);
                }
                bench.report.row(row);
            }
            if let Some(paced) = &nats_paced {
                bench.report.row(latency_row(latency_name("NATS core", PACED_RATE), paced));
            }
        }
    }
    for row in jetstream_rows {
        bench.report.row(row);
    }

    // Colony's durable streams beside JetStream: fsync'd, and with JetStream's own (relaxed) durability.
    for (durability, route, label) in [
        (colony_log::Durability::Full, durable::Route::Driver, "fsync'd"),
        (colony_log::Durability::Relaxed, durable::Route::Driver, "relaxed, like JetStream"),
        (colony_log::Durability::Full, durable::Route::Http, "fsync'd, HTTP /v1/batch"),
    ] {
        crate::progress(SCENARIO, format!("Colony durable stream ({label}): publish, then fetch + ack"));
        let cpu = CpuUse::start();
        let outcome = durable::run(&bench.load, bench.threads, sizes.bus_jetstream_messages, durability, route)
            .map_err(|error| format!("bus, durable ({label}): {error}"))?;
        notes.push(format!("Colony durable ({label}): {}; {}", outcome.summary, cpu.summary()));
        let mut publish = Row::new(
            SCENARIO,
            format!("Colony durable ({label}): publish, envelopes of {}", durable::PUBLISH_BATCH),
            outcome.publishes_per_s,
            "msg/s",
        );
        let mut consume = Row::new(
            SCENARIO,
            format!("Colony durable ({label}): fetch + ack, {} workers", durable::LANES),
            outcome.consumes_per_s,
            "msg/s",
        );
        if let Some((jetstream_publish, jetstream_consume)) = jetstream_figures {
            publish = publish.reference("JetStream async publish (this run; target 1×)", jetstream_publish);
            consume = consume.reference("JetStream consume + ack (this run; target 1×)", jetstream_consume);
        }
        bench.report.row(publish);
        bench.report.row(consume);
    }

    notes.push(format!(
        "every payload is a {PAYLOAD_BYTES}-byte JSON object; publishers stay within {CREDIT_WINDOW} messages of \
         their slowest subscriber (half the server's 4,096-message subscriber buffer), so the rates are rates at \
         which nothing is dropped; delivered = messages counted at the subscribers"
    ));
    notes.push(format!(
        "WebSocket: one publisher connection sending batches of {PUBLISH_BATCH} `pub` frames with send_all; each \
         subscriber on its own connection, reading with BusReceiver::next (which decodes every frame into a \
         ServerFrame); the client decodes, the server and all {} subscriber connections share this machine's {} \
         cores",
        FAN_OUTS[FAN_OUTS.len() - 1],
        bench.threads
    ));
    notes.push(
        "NATS core: async-nats, one connection per subscriber and one for the publisher, the same payload bytes; a \
         NATS message carries only the payload, a Colony message frame also carries the id, timestamp, source and \
         subject (about 410 bytes on the wire for a 256-byte payload); nats-server's own CPU is a separate \
         process, counted among the other processes"
            .to_owned(),
    );
    notes.push(format!(
        "latency: the publisher sends the messages due every millisecond (tokio's timer granularity) to hold the \
         rate ({} msg/s: about 50 per send_all; {} msg/s: one); each payload carries the monotonic send time in ns \
         taken just before the batch is encoded and sent; latency = arrival at the subscriber (after decoding) − \
         send time; for latency rows (unit ms) a ratio below 1.00× beats the reference",
        human(PACED_RATE),
        human(LOW_PACED_RATE)
    ));
    for note in notes {
        bench.report.note(SCENARIO, note);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_the_size_and_carry_the_send_time() {
        for sent in [0, 7, 123_456_789, u64::MAX] {
            let text = payload(sent);
            assert_eq!(text.len(), PAYLOAD_BYTES);
            assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "valid JSON");
            assert_eq!(sent_ns(text.as_bytes()), Some(sent));
        }
        assert_eq!(sent_ns(b"{\"other\":1}"), None);
    }

    #[tokio::test]
    async fn credit_holds_the_publisher_within_the_window_of_the_slowest_subscriber() {
        let credit = Credit::new(2);
        let deadline = Instant::now() + Duration::from_secs(5);
        credit.wait_for_room(10, 10, deadline).await.unwrap();
        credit.add(0, 5);
        assert_eq!(credit.slowest(), 0);
        assert!(credit.wait_for_room(11, 10, Instant::now()).await.is_err(), "the other subscriber is behind");
        credit.add(1, 3);
        credit.wait_for_room(13, 10, deadline).await.unwrap();
    }

    #[tokio::test]
    async fn the_pacer_hands_over_every_message_and_no_more() {
        let mut pacer = Pacer::new(10_000.0, 50);
        let started = Instant::now();
        while !pacer.finished() {
            pacer.sent += pacer.due(1_000).await;
        }
        assert_eq!(pacer.sent, 50);
        assert!(started.elapsed() >= Duration::from_millis(4), "50 messages at 10k/s take about 5 ms");
    }
}
