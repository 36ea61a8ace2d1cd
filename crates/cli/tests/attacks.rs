//! Adversarial scenarios against the real `colony serve` binary, run like benchmarks: each prints
//! what it measured (the server's resident memory, health-check latency during the attack) and
//! asserts only generous bounds and that the server keeps answering. Traffic goes only to
//! 127.0.0.1; every scenario is bounded in connections and in time (well under 30 s).
//!
//! Run with `cargo test -p colony --test attacks -- --nocapture` to see the figures.

mod common;

/// What every scenario needs: a server in a temporary directory, its resident memory, and a
/// sampler of health-check latency. New scenarios go below, built on these.
mod harness {
    use std::io::{Read as _, Write as _};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use crate::common::ServerProcess;

    /// A server under attack and the directory it lives in (removed when dropped).
    pub struct Target {
        /// The server process (killed when dropped).
        pub server: ServerProcess,
        _directory: tempfile::TempDir,
    }

    impl Target {
        /// Starts `colony serve` in a fresh temporary directory with `extra_args`.
        pub fn start(extra_args: &[&str]) -> Target {
            let directory = tempfile::tempdir().expect("a temporary directory");
            let server =
                ServerProcess::start(&directory.path().join("data"), &directory.path().join("logs"), extra_args);
            Target { server, _directory: directory }
        }

        /// The address the server listens on.
        pub fn addr(&self) -> SocketAddr {
            SocketAddr::from(([127, 0, 0, 1], self.server.port))
        }

        /// The server's resident memory now, in MiB.
        pub fn rss_mib(&self) -> f64 {
            rss_mib(self.server.pid())
        }
    }

    /// The resident memory (`VmRSS` of `/proc/<pid>/status`) of process `pid`, in MiB.
    pub fn rss_mib(pid: u32) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    }

    /// A TCP connection to `addr` from the loopback address `source` (127.0.0.x), so that a prober
    /// can be a different peer from the attackers. std cannot bind before connecting; tokio can.
    pub fn connect_from(source: [u8; 4], addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from((source, 0)))?;
            let stream = tokio::time::timeout(timeout, socket.connect(addr))
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
            let stream = stream.into_std()?;
            stream.set_nonblocking(false)?;
            Ok(stream)
        })
    }

    /// One `GET /v1/health/live` from `source`: its latency if it was answered 200.
    pub fn health_check(source: [u8; 4], addr: SocketAddr, timeout: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut stream = connect_from(source, addr, timeout).ok()?;
        stream.set_read_timeout(Some(timeout)).ok()?;
        stream.set_write_timeout(Some(timeout)).ok()?;
        stream.write_all(b"GET /v1/health/live HTTP/1.1\r\nhost: colony\r\nconnection: close\r\n\r\n").ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).ok()?;
        (&head == b"HTTP/1.1 200").then(|| started.elapsed())
    }

    /// Health checks made every 100 ms on a thread of their own until stopped.
    pub struct HealthSampler {
        stop: Arc<AtomicBool>,
        thread: std::thread::JoinHandle<Vec<Option<Duration>>>,
    }

    /// What a sampler saw: one latency per answered check, `None` per unanswered one.
    pub struct HealthReport {
        /// Every check, in order.
        pub samples: Vec<Option<Duration>>,
    }

    impl HealthReport {
        /// Checks that got no answer in time.
        pub fn failures(&self) -> usize {
            self.samples.iter().filter(|sample| sample.is_none()).count()
        }

        /// The `quantile` (0 to 1) of answered checks' latency.
        pub fn quantile(&self, quantile: f64) -> Duration {
            let mut answered: Vec<Duration> = self.samples.iter().flatten().copied().collect();
            answered.sort();
            if answered.is_empty() {
                return Duration::ZERO;
            }
            answered[((answered.len() - 1) as f64 * quantile).round() as usize]
        }

        /// One line for the scenario's output.
        pub fn summary(&self) -> String {
            format!(
                "{} health checks, {} unanswered, latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
                self.samples.len(),
                self.failures(),
                self.quantile(0.5),
                self.quantile(0.99),
                self.quantile(1.0)
            )
        }
    }

    impl HealthSampler {
        /// Starts checking `addr` from `source`, each check given `timeout`.
        pub fn start(source: [u8; 4], addr: SocketAddr, timeout: Duration) -> HealthSampler {
            let stop = Arc::new(AtomicBool::new(false));
            let stopping = Arc::clone(&stop);
            let thread = std::thread::spawn(move || {
                let mut samples = Vec::new();
                while !stopping.load(Ordering::SeqCst) {
                    samples.push(health_check(source, addr, timeout));
                    std::thread::sleep(Duration::from_millis(100));
                }
                samples
            });
            HealthSampler { stop, thread }
        }

        /// Stops and reports.
        pub fn stop(self) -> HealthReport {
            self.stop.store(true, Ordering::SeqCst);
            HealthReport { samples: self.thread.join().expect("the sampler ran") }
        }
    }

    /// The soft limit of open files of this process (`/proc/self/limits`), to size attacks to it.
    pub fn own_file_limit() -> usize {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        limits
            .lines()
            .find(|line| line.starts_with("Max open files"))
            .and_then(|line| line.split_whitespace().nth(3))
            .and_then(|soft| soft.parse().ok())
            .unwrap_or(1_024)
    }

    /// Whether the server has closed `stream` (end of stream or an error), without waiting.
    pub fn is_closed(stream: &TcpStream) -> bool {
        let mut reader = stream;
        if stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut buffer = [0u8; 1024];
        let closed = loop {
            match reader.read(&mut buffer) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break false,
                Err(_) => break true,
            }
        };
        let _ = stream.set_nonblocking(false);
        closed
    }
}

use colony_core::command::Fetch;
use std::io::Write as _;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use harness::{HealthSampler, Target};

/// 150 connections each declare a 16 MiB batch, send most of it and hold back the end, as signers
/// that are not registered: the server must refuse them from their heads and the first 64 KiB, not
/// buffer 2.4 GiB.
#[test]
fn bodies_held_back_by_unregistered_signers_do_not_pin_memory() {
    const CONNECTIONS: usize = 150;
    const DECLARED: usize = 16 << 20;
    const HOLD: Duration = Duration::from_secs(8);
    let target = Target::start(&[]);
    let addr = target.addr();
    let before = target.rss_mib();
    let sampler = HealthSampler::start([127, 0, 0, 1], addr, Duration::from_secs(10));
    let started = Instant::now();
    let attackers: Vec<_> = (0..CONNECTIONS)
        .map(|index| {
            std::thread::spawn(move || {
                let chunk = vec![b' '; 64 << 10];
                let Ok(mut stream) = TcpStream::connect(addr) else { return 0usize };
                // Half declare the length, half send chunks of unknown total length.
                let chunked = index % 2 == 1;
                let length = if chunked {
                    "transfer-encoding: chunked\r\n".to_owned()
                } else {
                    format!("content-length: {DECLARED}\r\n")
                };
                let head = format!(
                    "POST /v1/batch HTTP/1.1\r\nhost: colony\r\ncontent-type: application/json\r\n{length}\
                     colony-signer: ghost-{index}\r\ncolony-signature: {}\r\n\r\n",
                    "00".repeat(64)
                );
                if stream.write_all(head.as_bytes()).is_err() {
                    return 0;
                }
                let mut sent = 0;
                while sent + chunk.len() < DECLARED - 4096 && started.elapsed() < HOLD {
                    let written = if chunked {
                        stream
                            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                            .and_then(|()| stream.write_all(&chunk))
                            .and_then(|()| stream.write_all(b"\r\n"))
                    } else {
                        stream.write_all(&chunk)
                    };
                    if written.is_err() {
                        break;
                    }
                    sent += chunk.len();
                }
                // Hold the connection (and the last bytes) until the attack ends.
                std::thread::sleep(HOLD.saturating_sub(started.elapsed()));
                sent
            })
        })
        .collect();
    let mut peak = before;
    while started.elapsed() < HOLD {
        peak = peak.max(target.rss_mib());
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent: usize = attackers.into_iter().map(|attacker| attacker.join().unwrap_or(0)).sum();
    peak = peak.max(target.rss_mib());
    let health = sampler.stop();
    std::thread::sleep(Duration::from_secs(1));
    let after = target.rss_mib();
    println!(
        "bodies: {CONNECTIONS} connections declaring {} MiB each wrote {:.1} MiB in all (into socket buffers, mostly) before the server closed them",
        DECLARED >> 20,
        sent as f64 / f64::from(1 << 20)
    );
    println!("bodies: server RSS before {before:.1} MiB, peak during {peak:.1} MiB, after {after:.1} MiB");
    println!("bodies: during the attack, {}", health.summary());
    assert!(peak < 400.0, "the server's memory stays bounded: peak {peak:.1} MiB");
    assert!(!health.samples.is_empty() && health.failures() == 0, "health checks answer: {}", health.summary());
}

/// About 2,000 idle connections and 2,000 slowloris ones (a header line every 500 ms, never
/// finished) against a server capped at 512 connections, 256 per peer, with a 2 s header-read
/// timeout: another peer's health checks keep answering, and every attacking socket is closed.
#[test]
fn idle_and_slowloris_crowds_are_capped_and_closed() {
    const HEADER_TIMEOUT_SECS: u64 = 2;
    let per_kind = 2_000usize.min(harness::own_file_limit().saturating_sub(256) / 2);
    let target = Target::start(&[
        "--max-connections",
        "512",
        "--max-connections-per-ip",
        "256",
        "--header-read-timeout-secs",
        &HEADER_TIMEOUT_SECS.to_string(),
    ]);
    let addr = target.addr();
    let before = target.rss_mib();
    let sampler = HealthSampler::start([127, 0, 0, 2], addr, Duration::from_secs(5));
    let started = Instant::now();
    let idle: Vec<TcpStream> = (0..per_kind).filter_map(|_| TcpStream::connect(addr).ok()).collect();
    let mut slowloris: Vec<TcpStream> = (0..per_kind)
        .filter_map(|_| {
            let mut stream = TcpStream::connect(addr).ok()?;
            let _ = stream.write_all(b"GET /v1/health/live HTTP/1.1\r\nhost: colony\r\n");
            Some(stream)
        })
        .collect();
    let opened = started.elapsed();
    let mut peak = before;
    let mut line = 0;
    // Trickle for three times the timeout, then see who is still connected.
    while started.elapsed() < Duration::from_secs(HEADER_TIMEOUT_SECS * 3) {
        for stream in &mut slowloris {
            let _ = stream.write_all(format!("x-slow-{line}: y\r\n").as_bytes());
        }
        line += 1;
        peak = peak.max(target.rss_mib());
        std::thread::sleep(Duration::from_millis(500));
    }
    let health = sampler.stop();
    // On a loaded machine the server may close the last of them a little late: give it a bounded
    // while more (the figure printed says how long it took).
    let still_open = || {
        let idle_open = idle.iter().filter(|stream| !harness::is_closed(stream)).count();
        let slowloris_open = slowloris.iter().filter(|stream| !harness::is_closed(stream)).count();
        (idle_open, slowloris_open)
    };
    let grace = Instant::now() + Duration::from_secs(HEADER_TIMEOUT_SECS * 10);
    let (idle_open, slowloris_open) = loop {
        let open = still_open();
        if open == (0, 0) || Instant::now() >= grace {
            break open;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let after = target.rss_mib();
    println!(
        "connections: opened {} idle and {} slowloris connections in {opened:.1?} (cap 512, 256 per peer)",
        idle.len(),
        slowloris.len()
    );
    println!("connections: server RSS before {before:.1} MiB, peak during {peak:.1} MiB, after {after:.1} MiB");
    println!("connections: another peer during the attack, {}", health.summary());
    println!(
        "connections: after {:.1?}, {idle_open} idle and {slowloris_open} slowloris connections still open",
        started.elapsed()
    );
    assert!(!health.samples.is_empty() && health.failures() == 0, "health checks answer: {}", health.summary());
    assert!(health.quantile(1.0) < Duration::from_secs(3), "health checks answer within seconds: {}", health.summary());
    assert_eq!((idle_open, slowloris_open), (0, 0), "the server closed every attacking connection");
    assert!(peak < 400.0, "the server's memory stays bounded: peak {peak:.1} MiB");
}

/// A signed client for `target`, registering itself as `agent` with `role`.
fn registered_agent(runtime: &tokio::runtime::Runtime, target: &Target, agent: &str, role: &str) -> Agent {
    let key = colony_wire::KeyPair::generate();
    let signer = colony_core::Signer::parse(agent).expect("a valid id");
    let client = colony_client::Client::new(target.server.url())
        .with_identity(colony_client::Identity::new(signer.clone(), key.clone()));
    runtime
        .block_on(client.register_self(colony_core::Name::new(role).expect("a valid role"), &[]))
        .expect("the agent registers itself");
    Agent { client, key, signer }
}

struct Agent {
    client: colony_client::Client,
    key: colony_wire::KeyPair,
    signer: colony_core::Signer,
}

/// One signed envelope of fetches from many consumers of a stream of large messages: the answer
/// must stay within the per-envelope budget (8 MiB), not the 150 MiB the envelope asks for, and the
/// server's memory with it, even with several such envelopes at once.
#[test]
fn an_envelope_of_fetches_cannot_make_the_server_build_a_huge_answer() {
    use colony_core::{Command, Name, limits};
    const CONSUMERS: usize = 40;
    const MESSAGES: usize = 150;
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let target = Target::start(&[]);
    let owner = registered_agent(&runtime, &target, "owner-1", "scout");
    let client = &owner.client;
    let mut stream = colony_client::streams::stream_config(&["bulk.>"]).expect("a valid subject");
    stream.max_bytes = Some(limits::STREAM_BYTES_MAX);
    runtime.block_on(client.create_stream("bulk", stream)).expect("the stream");
    for index in 0..CONSUMERS {
        let config = colony_client::streams::consumer_config();
        runtime.block_on(client.create_consumer("bulk", &format!("c{index}"), config)).expect("a consumer");
    }
    let big = "x".repeat(60 << 10);
    for chunk in 0..MESSAGES / 30 {
        let messages: Vec<_> = (0..30)
            .map(|index| (colony_wire::bus::EphemeralPublish::json(format!("bulk.{chunk}.{index}"), &big), None))
            .collect();
        runtime.block_on(client.publish_durable_many(&messages)).expect("the messages are stored");
    }
    let before = target.rss_mib();
    let sampler = HealthSampler::start([127, 0, 0, 1], target.addr(), Duration::from_secs(10));
    // Four envelopes at once, ten consumers each: each asks for 10 × 256 messages of 60 KiB.
    let envelopes: Vec<Vec<Command>> = (0..4)
        .map(|envelope| {
            (0..10)
                .map(|index| {
                    Command::Fetch(Fetch {
                        stream: Name::new("bulk").unwrap(),
                        consumer: Name::new(format!("c{}", envelope * 10 + index)).unwrap(),
                        batch: limits::FETCH_BATCH_MAX,
                        max_bytes: None,
                    })
                })
                .collect()
        })
        .collect();
    let peak_watch = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let watching = std::sync::Arc::clone(&peak_watch);
        let pid = target.server.pid();
        std::thread::spawn(move || {
            let mut peak = 0f64;
            while watching.load(std::sync::atomic::Ordering::SeqCst) {
                peak = peak.max(harness::rss_mib(pid));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    let answers = runtime.block_on(async {
        let requests = envelopes.into_iter().map(|commands| client.submit_batch(commands));
        futures_util::future::join_all(requests).await
    });
    peak_watch.store(false, std::sync::atomic::Ordering::SeqCst);
    let peak = watcher.join().expect("the watcher ran").max(before);
    let health = sampler.stop();
    let mut largest = 0usize;
    let mut delivered = 0usize;
    for answer in answers {
        let answer = answer.expect("the envelope is answered");
        largest = largest.max(serde_json::to_vec(&answer).expect("answers encode").len());
        delivered += answer.results.iter().map(|result| result.deliveries.as_ref().map_or(0, Vec::len)).sum::<usize>();
    }
    println!(
        "fetches: 4 envelopes of 10 fetches × 256 messages of 60 KiB (asking for 600 MiB) answered {delivered} messages, the largest answer {:.1} MiB",
        largest as f64 / f64::from(1 << 20)
    );
    println!("fetches: server RSS before {before:.1} MiB, peak during {peak:.1} MiB");
    println!("fetches: during the fetches, {}", health.summary());
    assert!(largest < (limits::FETCH_BYTES_PER_ENVELOPE_MAX as usize) * 11 / 10, "the answer is bounded: {largest}");
    assert!(peak < before + 300.0, "the server's memory stays bounded: {before:.1} → {peak:.1} MiB");
    assert!(health.failures() == 0, "health checks answer: {}", health.summary());
}

/// One agent opens hundreds of event-stream subscriptions that never read, while two publishers
/// send 64 KiB messages: what the server holds stays within the bus's budget (here 64 MiB), not a
/// copy per subscriber, and comes back when the subscribers go.
#[test]
fn idle_subscribers_cannot_make_the_bus_hold_more_than_its_budget() {
    const SUBSCRIBERS: usize = 300;
    const MESSAGES: usize = 1_600;
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let target = Target::start(&["--bus-budget-mib", "64"]);
    let idler = registered_agent(&runtime, &target, "idler-1", "scout");
    let publishers: Vec<Agent> =
        (0..2).map(|index| registered_agent(&runtime, &target, &format!("oracle-{index}"), "oracle")).collect();
    let before = target.rss_mib();
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let mut idle = Vec::with_capacity(SUBSCRIBERS);
    for index in 0..SUBSCRIBERS {
        // Each request is signed with its own timestamp: stream requests are single-use.
        let path = "/v1/bus/subscribe?subject=prices.*&buffer=4096";
        let timestamp_ms = stamp + index as u64;
        let message = colony_wire::read_auth::read_signing_message(&idler.signer, "GET", path, timestamp_ms);
        let signature = hex::encode(idler.key.sign(&message));
        let mut stream = TcpStream::connect(target.addr()).expect("a connection");
        let head = format!(
            "GET {path} HTTP/1.1\r\nhost: colony\r\ncolony-signer: idler-1\r\ncolony-timestamp-ms: {timestamp_ms}\r\n\
             colony-signature: {signature}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("the request is sent");
        idle.push(stream);
    }
    std::thread::sleep(Duration::from_millis(500));
    let sampler = HealthSampler::start([127, 0, 0, 1], target.addr(), Duration::from_secs(10));
    let payload = "y".repeat((64 << 10) - 100);
    let mut peak = target.rss_mib();
    let started = Instant::now();
    for round in 0..MESSAGES / 16 {
        let requests = publishers.iter().enumerate().map(|(publisher, agent)| {
            let messages: Vec<_> = (0..8)
                .map(|index| {
                    colony_wire::bus::EphemeralPublish::json(
                        format!("prices.p{publisher}"),
                        &format!("{round}-{index}-{payload}"),
                    )
                })
                .collect();
            async move { agent.client.publish_many(&messages).await }
        });
        for published in runtime.block_on(futures_util::future::join_all(requests)) {
            published.expect("the publish is answered");
        }
        peak = peak.max(target.rss_mib());
    }
    let publishing = started.elapsed();
    let stats = runtime.block_on(idler.client.bus_stats()).expect("the bus's counters");
    peak = peak.max(target.rss_mib());
    let health = sampler.stop();
    drop(idle);
    // The server notices a closed connection when it next writes to it, or when the stalled-reader
    // watchdog ends it (30 s): wait for that, bounded.
    let left = Instant::now();
    let stats_after = loop {
        let stats = runtime.block_on(idler.client.bus_stats()).expect("the bus's counters");
        if stats.buffered_bytes == 0 || left.elapsed() > Duration::from_secs(45) {
            break stats;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let given_back = left.elapsed();
    let after = target.rss_mib();
    println!(
        "subscribers: {SUBSCRIBERS} idle event streams, {MESSAGES} messages of 64 KiB from 2 publishers in {publishing:.1?} ({:.0} MiB fanned out)",
        (SUBSCRIBERS * MESSAGES * 64) as f64 / 1024.0
    );
    println!(
        "subscribers: bus held {:.1} MiB at the end (budget 64 MiB), {} deliveries dropped for subscribers behind",
        stats.buffered_bytes as f64 / f64::from(1 << 20),
        stats.dropped
    );
    println!(
        "subscribers: server RSS before {before:.1} MiB, peak during {peak:.1} MiB, after they left {after:.1} MiB; \
         the bus held nothing {given_back:.1?} after they left"
    );
    println!("subscribers: during the attack, {}", health.summary());
    assert!(stats.buffered_bytes <= (64 << 20) + (SUBSCRIBERS as u64 * (64 << 10)), "{}", stats.buffered_bytes);
    assert!(peak < before + 400.0, "the server's memory stays bounded: {before:.1} → {peak:.1} MiB");
    assert_eq!(stats_after.buffered_bytes, 0, "every byte comes back when the subscribers leave");
    assert!(health.failures() == 0, "health checks answer: {}", health.summary());
}
