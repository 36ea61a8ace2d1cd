//! The `stigmergy` scenario: pheromone deposits and top-N reads per second, beside Redis's sorted
//! sets in the same run.
//!
//! Deposits: a few workers each post envelopes of 256 `pheromone.deposit` commands on one shared
//! map under seed 000's model (capped, fading, pruned), over 1,000 keys, to `POST /v1/batch`,
//! answered once durable. Redis's are pipelines of 256 `ZINCRBY` on one sorted set, on two
//! `redis-server` processes the run starts, one unpersisted and one with `appendfsync always`
//! (nothing fades or is capped there). Reads: 64 clients each asking for the 5 strongest trails
//! (`GET /v1/pheromones/{map}/top?n=5`, a signed read computed at the state's log time) beside
//! `ZREVRANGE key 0 4 WITHSCORES`. Redis's rows are skipped, saying so, when no `redis-server` can be
//! started.

use std::time::Instant;

use colony_client::Client;
use colony_core::command::{CreateMap, Deposit};
use colony_core::stigmergy::{Decay, Depositors, SEED_000_CAP, SEED_000_PRUNE};
use colony_core::{Command, Intensity, Name, SignalKey, Signer};
use colony_server::driver::{DriverSettings, Submission};
use colony_wire::Envelope;

use crate::Bench;
use crate::coordination::RedisProcess;
use crate::fixture::{Agents, BenchServer, Measurement, Presigned, Surface, TaskTally};
use crate::report::{Row, human};

const SCENARIO: &str = "stigmergy";

/// Deposits per envelope (and per Redis pipeline).
const DEPOSITS_PER_ROUND_TRIP: usize = 256;

/// Trail keys the deposits spread over.
const KEYS: usize = 1_000;

/// Clients reading the strongest trails (and Redis connections for the same).
const READERS: usize = 64;

/// Trails a read asks for: seed 000's `top_signals(n = 5)`.
const TOP: usize = 5;

fn map() -> Name {
    Name::new("bench-signals").expect("a valid map name")
}

fn key(index: usize) -> String {
    format!("T{index:04}:long:momentum")
}

/// What a deposit adds: a tenth, so trails take a hundred deposits to reach the cap.
fn strength() -> Intensity {
    Intensity::parse("0.1").expect("an intensity")
}

fn plan(agents: &mut Agents, workers: usize, rounds: u64) -> Vec<Vec<Presigned>> {
    (0..workers)
        .map(|worker| {
            let first = agents.take_nonces(worker, rounds);
            (0..rounds)
                .map(|round| {
                    let commands = (0..DEPOSITS_PER_ROUND_TRIP)
                        .map(|index| {
                            let spread = (worker * 7919 + round as usize * 257 + index * 13) % KEYS;
                            Command::Deposit(Deposit {
                                map: map(),
                                key: SignalKey::new(key(spread)).expect("a valid key"),
                                strength: strength(),
                                unless_present: Vec::new(),
                            })
                        })
                        .collect();
                    let envelope =
                        Envelope { signer: Signer::Agent(agents.id(worker).clone()), nonce: first + round, commands };
                    let signed = envelope.sign(agents.key(worker));
                    Presigned { envelope, signed, key: agents.key(worker).public_key() }
                })
                .collect()
        })
        .collect()
}

async fn deposit_worker(surface: Surface, envelopes: Vec<Presigned>) -> TaskTally {
    let mut tally = TaskTally::default();
    for envelope in envelopes {
        let commands = envelope.commands();
        let started = Instant::now();
        match surface.send(envelope).await {
            Ok(_) => tally.success(started.elapsed(), commands),
            Err(error) => tally.failure(started.elapsed(), || format!("deposit: {error}")),
        }
    }
    tally
}

async fn read_worker(client: Client, rounds: u64) -> TaskTally {
    let mut tally = TaskTally::default();
    for _ in 0..rounds {
        let started = Instant::now();
        match client.top_trails(&map(), TOP).await {
            Ok(top) if top.trails.len() == TOP => tally.success(started.elapsed(), 1),
            Ok(top) => tally.failure(started.elapsed(), || format!("{} trails read, {TOP} expected", top.trails.len())),
            Err(error) => tally.failure(started.elapsed(), || format!("top: {error}")),
        }
    }
    tally
}

async fn gather(tasks: Vec<tokio::task::JoinHandle<TaskTally>>, started: Instant) -> Measurement {
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        tallies.push(task.await.expect("worker task"));
    }
    Measurement::from_tallies(started.elapsed(), tallies)
}

/// Colony's deposits, then its reads of the map they made, on a fresh server.
fn colony(
    bench: &mut Bench,
    workers: usize,
    rounds: u64,
    read_rounds: u64,
) -> Result<(Measurement, Measurement), String> {
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let server = BenchServer::start(directory.path(), DriverSettings::default(), bench.threads)?;
    let mut agents = Agents::new(workers.max(READERS));
    server.register(&bench.load, &agents)?;
    let operator = server.operator_key()?;
    let create = Command::CreateMap(CreateMap {
        map: map(),
        decay: Decay::SEED_000,
        cap: SEED_000_CAP,
        prune_at_or_below: SEED_000_PRUNE,
        depositors: Depositors::Registered,
    });
    let envelope = Envelope { signer: Signer::Operator, nonce: 2, commands: vec![create] };
    let signed = envelope.sign(&operator);
    let submission = Submission { envelope, signed, verified_key: operator.public_key() };
    bench.load.block_on(server.driver().submit(submission)).map_err(|error| format!("map: {error:?}"))?;
    let plans = plan(&mut agents, workers, rounds);
    let surface = Surface::Http(Client::new(server.base_url()));
    let deposits = bench.load.block_on(async move {
        let started = Instant::now();
        let tasks =
            plans.into_iter().map(|envelopes| tokio::spawn(deposit_worker(surface.clone(), envelopes))).collect();
        gather(tasks, started).await
    });
    let base_url = server.base_url();
    let clients: Vec<Client> =
        (0..READERS).map(|reader| Client::new(base_url.clone()).with_identity(agents.identity(reader))).collect();
    let reads = bench.load.block_on(async move {
        let started = Instant::now();
        let tasks = clients.into_iter().map(|client| tokio::spawn(read_worker(client, read_rounds))).collect();
        gather(tasks, started).await
    });
    let trails = server.driver().shared.state.read().expect("state lock").stigmergy().keys();
    server.stop();
    deposits.check(SCENARIO)?;
    reads.check(SCENARIO)?;
    if trails != KEYS as u64 {
        return Err(format!("{SCENARIO}: {trails} trails stored, {KEYS} expected"));
    }
    Ok((deposits, reads))
}

/// One Redis connection's pipelines of `ZINCRBY`.
async fn redis_depositor(client: redis::Client, worker: usize, rounds: u64) -> Result<TaskTally, String> {
    let mut connection =
        client.get_multiplexed_async_connection().await.map_err(|error| format!("redis connection: {error}"))?;
    let mut tally = TaskTally::default();
    for round in 0..rounds {
        let started = Instant::now();
        let mut pipeline = redis::pipe();
        for index in 0..DEPOSITS_PER_ROUND_TRIP {
            let spread = (worker * 7919 + round as usize * 257 + index * 13) % KEYS;
            pipeline.cmd("ZINCRBY").arg("bench-signals").arg(0.1).arg(key(spread));
        }
        let _: Vec<f64> =
            pipeline.query_async(&mut connection).await.map_err(|error| format!("redis ZINCRBY: {error}"))?;
        tally.success(started.elapsed(), DEPOSITS_PER_ROUND_TRIP);
    }
    Ok(tally)
}

/// One Redis connection's reads of the strongest members.
async fn redis_reader(client: redis::Client, rounds: u64) -> Result<TaskTally, String> {
    let mut connection =
        client.get_multiplexed_async_connection().await.map_err(|error| format!("redis connection: {error}"))?;
    let mut tally = TaskTally::default();
    for _ in 0..rounds {
        let started = Instant::now();
        let top: Vec<(String, f64)> = redis::cmd("ZREVRANGE")
            .arg("bench-signals")
            .arg(0)
            .arg(TOP - 1)
            .arg("WITHSCORES")
            .query_async(&mut connection)
            .await
            .map_err(|error| format!("redis ZREVRANGE: {error}"))?;
        if top.len() == TOP {
            tally.success(started.elapsed(), 1);
        } else {
            tally.failure(started.elapsed(), || format!("{} members read", top.len()));
        }
    }
    Ok(tally)
}

fn redis_run<F, Fut>(bench: &Bench, tasks: usize, task: F) -> Result<Measurement, String>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<TaskTally, String>> + Send + 'static,
{
    bench.load.block_on(async {
        let started = Instant::now();
        let handles: Vec<_> = (0..tasks).map(|index| tokio::spawn(task(index))).collect();
        let mut tallies = Vec::with_capacity(handles.len());
        for handle in handles {
            tallies.push(handle.await.map_err(|error| format!("redis task: {error}"))??);
        }
        let measurement = Measurement::from_tallies(started.elapsed(), tallies);
        measurement.check("redis")?;
        Ok(measurement)
    })
}

/// Runs the scenario and adds its rows to the report.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    let (workers, rounds, read_rounds) =
        (bench.sizes.stigmergy_workers, bench.sizes.stigmergy_rounds, bench.sizes.stigmergy_read_rounds);
    let deposits = (workers as u64 * rounds) as f64 * DEPOSITS_PER_ROUND_TRIP as f64;
    crate::progress(
        SCENARIO,
        format!(
            "Colony: {} deposits through /v1/batch, then {} top-{TOP} reads",
            human(deposits),
            human((READERS as u64 * read_rounds) as f64)
        ),
    );
    let (colony_deposits, colony_reads) = colony(bench, workers, rounds, read_rounds)?;
    let (deposit_rate, read_rate) = (colony_deposits.commands_per_s(), colony_reads.commands_per_s());
    let mut deposit_row = Row::new(
        SCENARIO,
        format!("deposits, {DEPOSITS_PER_ROUND_TRIP} per round trip, /v1/batch, {workers} workers"),
        deposit_rate,
        "deposit/s",
    )
    .latency(colony_deposits.latency_us(0.5), colony_deposits.latency_us(0.99));
    let mut read_row = Row::new(SCENARIO, format!("top-{TOP} reads, signed, {READERS} clients"), read_rate, "read/s")
        .latency(colony_reads.latency_us(0.5), colony_reads.latency_us(0.99));
    let mut notes = Vec::new();
    for (label, persistence) in [
        ("unpersisted", &["--appendonly", "no"][..]),
        ("appendfsync always", &["--appendonly", "yes", "--appendfsync", "always"][..]),
    ] {
        let process = match RedisProcess::start(persistence) {
            Ok(process) => process,
            Err(reason) => {
                bench.report.row(Row::skipped(SCENARIO, format!("Redis {label}"), reason));
                continue;
            }
        };
        let client = redis::Client::open(process.url()).map_err(|error| format!("redis client: {error}"))?;
        crate::progress(SCENARIO, format!("Redis {label}: ZINCRBY pipelines, then ZREVRANGE"));
        let redis_deposits =
            redis_run(bench, workers, |worker| redis_depositor(client.clone(), worker, rounds))?.commands_per_s();
        let redis_reads = redis_run(bench, READERS, |_| redis_reader(client.clone(), read_rounds))?.commands_per_s();
        deposit_row = deposit_row.reference(
            format!("Redis ZINCRBY pipelines of {DEPOSITS_PER_ROUND_TRIP}, {label}, {workers} conns"),
            redis_deposits,
        );
        read_row = read_row.reference(format!("Redis ZREVRANGE 0 4, {label}, {READERS} conns"), redis_reads);
        notes.push(format!("deposits: Colony / Redis {label} = {:.2}×", deposit_rate / redis_deposits));
        notes.push(format!("reads: Colony / Redis {label} = {:.2}×", read_rate / redis_reads));
    }
    bench.report.row(deposit_row);
    bench.report.row(read_row);
    notes.push(
        "Colony's deposits are signed, fsync'd before the answer, capped and fading by seed 000's model (exact \
         fixed point); Redis's ZINCRBY adds a float, caps nothing and fades nothing; Colony's reads are signed and \
         computed at the state's log time"
            .to_owned(),
    );
    for note in notes {
        bench.report.note(SCENARIO, note);
    }
    Ok(())
}
