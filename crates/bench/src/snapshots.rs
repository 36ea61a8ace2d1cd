//! The `snapshots` scenario: what a snapshot costs the writes of a large swarm (100,000 agents and
//! 1,000,000 open escrows, built as `scale` builds its swarm), and how long a restart takes at that
//! size. `--quick` uses 2% of the sizes.
//!
//! Eight clients send single signed heartbeats, each waiting for its answer (every answer is
//! durable, so each is an fsync'd group commit), first while nothing else happens, then while the
//! snapshotter makes a snapshot from the log: the first from genesis (nothing to start from, the
//! longest case), the second from the first (the steady state). The write latencies of the two
//! windows are compared: a write that waited on a snapshot shows in the p99.9 and the maximum.
//! Then the server stops (its final snapshot, on the writer: nothing is written any more) and starts
//! again on the same directory, which is the restart time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use colony_core::command::Heartbeat;
use colony_core::{AgentId, Command, Signer};
use colony_server::driver::{DriverHandle, Submission};
use colony_wire::{Envelope, KeyPair};

use crate::fixture::{BenchServer, now_us, outcome_failure};
use crate::machine::{self, CpuSample};
use crate::report::Row;
use crate::{Bench, progress};

const SCENARIO: &str = "snapshots";
/// Agents and open escrows of the swarm.
const AGENTS: usize = 100_000;
const ESCROWS: usize = 1_000_000;
/// Clients writing at once, each waiting for its answer before the next write.
const CLIENTS: usize = 8;
/// The p99.9 write latency that a snapshot must not push past.
const TARGET_P999_MS: f64 = 50.0;
/// The restart time a swarm at the limits must stay under.
const TARGET_RESTART_MS: f64 = 1_000.0;

/// The write latencies of one window, sorted, in microseconds.
struct Window {
    latencies_us: Vec<u32>,
    elapsed: Duration,
}

impl Window {
    fn quantile_ms(&self, quantile: f64) -> f64 {
        crate::fixture::nearest_rank(&self.latencies_us, quantile) / 1_000.0
    }

    fn max_ms(&self) -> f64 {
        self.latencies_us.last().map_or(0.0, |&max| f64::from(max) / 1_000.0)
    }

    fn describe(&self) -> String {
        format!(
            "{} writes in {:.1} s: p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
            self.latencies_us.len(),
            self.elapsed.as_secs_f64(),
            self.quantile_ms(0.5),
            self.quantile_ms(0.99),
            self.quantile_ms(0.999),
            self.max_ms()
        )
    }
}

/// The `snapshots` scenario.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    let scale = if bench.quick { 50 } else { 1 };
    let swarm = crate::scale::build_swarm(bench, SCENARIO, AGENTS / scale, ESCROWS / scale)?;
    let (server, keys, ids) = (swarm.server, &swarm.payer_keys, &swarm.ids[..swarm.payer_keys.len()]);
    let data_dir = swarm.directory.path();
    let driver = server.driver();
    let quiet_s = if bench.quick { 1 } else { 5 };
    progress(SCENARIO, format!("{CLIENTS} clients write single heartbeats for {quiet_s} s, no snapshot"));
    let cpu_before = CpuSample::now();
    let quiet = writes_while(bench, &driver, keys, ids, async {
        tokio::time::sleep(Duration::from_secs(quiet_s)).await;
        Ok(())
    })?;

    progress(SCENARIO, "the same while the snapshotter makes a snapshot from genesis, then one from it");
    let resident_before_mib = machine::resident_mib().unwrap_or(0.0);
    let sampler = ResidentSampler::start();
    let mut snapshot_times = Vec::new();
    let snapshotting = writes_while(bench, &driver, keys, ids, async {
        for _ in 0..2 {
            let started = Instant::now();
            driver.snapshot().await?;
            snapshot_times.push(started.elapsed());
        }
        Ok(())
    })?;
    let cpu_after = CpuSample::now();
    let peak_mib = sampler.stop();
    let statistics = *driver.shared.snapshots.lock().map_err(|_| "the snapshot statistics lock is poisoned")?;

    let p999 = snapshotting.quantile_ms(0.999);
    bench.report.row(
        Row::new(SCENARIO, "write p99.9 during a snapshot (lower is better)", p999, "ms")
            .reference("without a snapshot", quiet.quantile_ms(0.999))
            .reference("target", TARGET_P999_MS),
    );
    bench.report.row(
        Row::new(SCENARIO, "  write max during a snapshot", snapshotting.max_ms(), "ms")
            .reference("without a snapshot", quiet.max_ms()),
    );
    bench.report.row(Row::new(SCENARIO, "  snapshot size", statistics.bytes as f64 / 1_048_576.0, "MiB"));
    bench.report.row(Row::new(SCENARIO, "  snapshot encode", statistics.encode_ms as f64, "ms"));
    bench.report.row(
        Row::new(SCENARIO, "  resident memory while one is made", peak_mib, "MiB")
            .reference("before", resident_before_mib),
    );
    bench.report.note(
        SCENARIO,
        format!(
            "{CLIENTS} clients, single signed heartbeats, each waiting for its durable answer. Without a snapshot: {}. \
             During two snapshots: {}. The snapshots took {} (asked for until stored); the second rebuilt its state \
             in {} ms (decode of the first, replay since), encoded it in {} ms and wrote and synced {:.0} MiB in {} \
             ms. The writer's state is never read by the snapshotter: resident memory {:.0} MiB before, at most \
             {:.0} MiB while they were made (the snapshotter's second state, sampled every 10 ms){}",
            quiet.describe(),
            snapshotting.describe(),
            snapshot_times.iter().map(|time| format!("{:.2} s", time.as_secs_f64())).collect::<Vec<_>>().join(" and "),
            statistics.rebuild_ms,
            statistics.encode_ms,
            statistics.bytes as f64 / 1_048_576.0,
            statistics.write_ms,
            resident_before_mib,
            peak_mib,
            other_processes(cpu_before, cpu_after),
        ),
    );
    if p999 >= TARGET_P999_MS {
        progress(
            SCENARIO,
            format!("write p99.9 during a snapshot is {p999:.1} ms, above the {TARGET_P999_MS} ms target"),
        );
    }

    measure_restart(bench, server, data_dir)
}

/// Stops `server` (its final snapshot) and starts it again on `data_dir`: the restart time.
fn measure_restart(bench: &mut Bench, server: BenchServer, data_dir: &std::path::Path) -> Result<(), String> {
    progress(SCENARIO, "stopping the server (final snapshot) and starting it again");
    let stopping = Instant::now();
    server.stop();
    let stop_s = stopping.elapsed().as_secs_f64();
    let starting = Instant::now();
    let restarted = BenchServer::start(data_dir, colony_server::driver::DriverSettings::default(), bench.threads)?;
    let restart_ms = starting.elapsed().as_secs_f64() * 1_000.0;
    let report = restarted.report().clone();
    restarted.stop();
    bench.report.row(
        Row::new(SCENARIO, "restart at this size (lower is better)", restart_ms, "ms")
            .reference("target", TARGET_RESTART_MS),
    );
    bench.report.note(
        SCENARIO,
        format!(
            "stop (final snapshot on the writer) {stop_s:.2} s; restart {restart_ms:.0} ms, of which recovery (decode \
             the snapshot at entry {}, replay {} entries) {:.0} ms, the history verified beside it",
            report.snapshot_sequence,
            report.entries_replayed,
            report.recovery_elapsed.as_secs_f64() * 1_000.0
        ),
    );
    Ok(())
}

/// Runs `CLIENTS` writers until `until` finishes; returns their latencies.
fn writes_while(
    bench: &Bench,
    driver: &DriverHandle,
    keys: &[KeyPair],
    ids: &[AgentId],
    until: impl std::future::Future<Output = Result<(), String>>,
) -> Result<Window, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let (latencies, result) = bench.load.block_on(async {
        let writers: Vec<_> = (0..CLIENTS)
            .map(|client| {
                // Each client writes for its own agents, so each signer's nonces rise in order.
                let agents: Vec<(KeyPair, AgentId)> = (client..keys.len())
                    .step_by(CLIENTS)
                    .map(|index| (keys[index].clone(), ids[index].clone()))
                    .collect();
                tokio::spawn(write_heartbeats(driver.clone(), agents, Arc::clone(&stop)))
            })
            .collect();
        let result = until.await;
        stop.store(true, Ordering::Release);
        let mut latencies = Vec::new();
        for writer in writers {
            match writer.await {
                Ok(Ok(mut some)) => latencies.append(&mut some),
                Ok(Err(error)) => return (latencies, Err(error)),
                Err(error) => return (latencies, Err(format!("a writer panicked: {error}"))),
            }
        }
        (latencies, result)
    });
    result?;
    let mut latencies_us = latencies;
    latencies_us.sort_unstable();
    Ok(Window { latencies_us, elapsed: started.elapsed() })
}

async fn write_heartbeats(
    driver: DriverHandle,
    agents: Vec<(KeyPair, AgentId)>,
    stop: Arc<AtomicBool>,
) -> Result<Vec<u32>, String> {
    let mut latencies = Vec::new();
    for (key, agent) in agents.iter().cycle() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let envelope = Envelope {
            signer: Signer::Agent(agent.clone()),
            nonce: now_us(),
            commands: vec![Command::Heartbeat(Heartbeat {})],
        };
        let signed = envelope.sign(key);
        let submission = Submission { envelope, signed, verified_key: key.public_key() };
        let started = Instant::now();
        let committed = driver.submit(submission).await.map_err(|error| format!("a heartbeat: {error:?}"))?;
        latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        if let Some(failure) = outcome_failure(&committed.outcome) {
            return Err(format!("a heartbeat: {failure}"));
        }
    }
    Ok(latencies)
}

fn other_processes(before: Option<CpuSample>, after: Option<CpuSample>) -> String {
    match before.zip(after).and_then(|(before, after)| before.shares_until(&after)) {
        Some((others, own)) => {
            format!("; other processes took {:.0}% of the machine's CPU, this one {:.0}%", others * 100.0, own * 100.0)
        }
        None => String::new(),
    }
}

/// The highest resident memory seen, sampled on a thread of its own until stopped.
struct ResidentSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<f64>,
}

impl ResidentSampler {
    fn start() -> ResidentSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut highest: f64 = 0.0;
            while !stopping.load(Ordering::Acquire) {
                highest = highest.max(machine::resident_mib().unwrap_or(0.0));
                std::thread::sleep(Duration::from_millis(10));
            }
            highest
        });
        ResidentSampler { stop, thread }
    }

    fn stop(self) -> f64 {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or(0.0)
    }
}
