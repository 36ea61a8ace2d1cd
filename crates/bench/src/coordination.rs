//! The `coordination` scenario: lock cycles per second, beside Redis in the same run.
//!
//! A cycle is what a worker does around a critical section: take the lock, then release it, each in a
//! round trip of its own (the work between them is left out). Colony's cycle is a `lock.acquire`
//! envelope through the worker's lease, answered with a fencing token once durable, then a
//! `lock.release` envelope; every agent takes locks of its own, so no cycle waits for another's. Redis's
//! is the usual `SET key token NX PX ttl` then `DEL key` on the same keys, on two `redis-server`
//! processes the run starts on loopback ports: one unpersisted (`--appendonly no`, what a swarm gets
//! by default), one with `--appendonly yes --appendfsync always` (every write on disk before the
//! answer, as Colony's). Redis's rows are skipped, saying so, when no `redis-server` can be started.
//!
//! etcd's cycle, beside Colony's over HTTP, is the one its lock service offers: `POST /v3/lock/lock`
//! through the worker's lease, answered with the lock's key once the Raft entry is on disk, then
//! `POST /v3/lock/unlock` of that key, through etcd's JSON gateway (the etcd this run starts from
//! Debian's `etcd-server` package on loopback ports, fsyncing as it does by default; its row is
//! skipped, saying so, when no `etcd` can be started).
//!
//! Shapes, the same on both sides: one lock per round trip with many workers in flight (through the
//! driver, and over HTTP with as many clients as Redis and etcd get connections), and 16 locks per
//! round trip (a lease's most; a Redis pipeline of 16 commands) from a few workers, through the
//! driver (no HTTP) and through `POST /v1/batch`.

use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use colony_core::command::{AcquireLock, GrantLease, ReleaseLock};
use colony_core::{Command, LockMode, Name, Signer};
use colony_server::driver::DriverSettings;
use colony_wire::Envelope;

use crate::Bench;
use crate::fixture::{Agents, BenchServer, Measurement, Presigned, Surface, TaskTally};
use crate::report::{Row, human};

const SCENARIO: &str = "coordination";

/// Locks per round trip in the batched shape: a lease holds or awaits at most this many.
const LOCKS_PER_ROUND_TRIP: usize = colony_core::limits::LOCKS_PER_LEASE_MAX;

/// The workers' lease: far longer than any run, so nothing expires.
const LEASE_TTL_MS: u64 = 3_600_000;

/// What Redis's `PX` gives each lock: longer than any cycle.
const REDIS_LOCK_TTL_MS: u64 = 30_000;

/// Redis connections in the single-lock shape: Redis serves one command at a time, so more only
/// queue. Also etcd's connections, and Colony's HTTP clients in the single-lock HTTP shape.
const REDIS_CONNECTIONS: usize = 64;

/// What etcd's lease gives each worker's locks: longer than any run.
const ETCD_LEASE_TTL_S: u64 = 3_600;

/// One load shape: `workers` in flight, each running `rounds` cycles of `locks` locks.
#[derive(Clone, Copy, Debug)]
pub struct LockLoad {
    /// Workers in flight (Colony agents, or Redis connections).
    pub workers: usize,
    /// Cycles per worker.
    pub rounds: u64,
    /// Locks per round trip.
    pub locks: usize,
}

impl LockLoad {
    fn cycles(&self) -> u64 {
        self.workers as u64 * self.rounds * self.locks as u64
    }
}

fn lock_name(agent: usize, lock: usize) -> Name {
    Name::new(format!("lock-{agent}-{lock}")).expect("a valid lock name")
}

fn lease_name() -> Name {
    Name::new("worker").expect("a valid lease name")
}

/// One worker's cycles, signed ahead: an acquire envelope and its release envelope per round.
type Cycles = Vec<(Presigned, Presigned)>;

fn sign(agents: &Agents, agent: usize, nonce: u64, commands: Vec<Command>) -> Presigned {
    let envelope = Envelope { signer: Signer::Agent(agents.id(agent).clone()), nonce, commands };
    let signed = envelope.sign(agents.key(agent));
    Presigned { envelope, signed, key: agents.key(agent).public_key() }
}

fn plan(agents: &mut Agents, load: LockLoad) -> Vec<Cycles> {
    (0..load.workers)
        .map(|agent| {
            let first = agents.take_nonces(agent, 2 * load.rounds);
            (0..load.rounds)
                .map(|round| {
                    let acquire = (0..load.locks)
                        .map(|lock| {
                            Command::AcquireLock(AcquireLock {
                                lock: lock_name(agent, lock),
                                mode: LockMode::Exclusive,
                                lease: lease_name(),
                                wait: false,
                            })
                        })
                        .collect();
                    let release =
                        (0..load.locks).map(|lock| Command::ReleaseLock(ReleaseLock { lock: lock_name(agent, lock) }));
                    (
                        sign(agents, agent, first + 2 * round, acquire),
                        sign(agents, agent, first + 2 * round + 1, release.collect()),
                    )
                })
                .collect()
        })
        .collect()
}

async fn run_worker(surface: Surface, cycles: Cycles) -> TaskTally {
    let mut tally = TaskTally::default();
    for (acquire, release) in cycles {
        let locks = acquire.commands();
        let started = Instant::now();
        if let Err(error) = surface.send(acquire).await {
            tally.failure(started.elapsed(), || format!("acquire: {error}"));
            continue;
        }
        match surface.send(release).await {
            Ok(_) => tally.success(started.elapsed(), locks),
            Err(error) => tally.failure(started.elapsed(), || format!("release: {error}")),
        }
    }
    tally
}

/// Colony's cycles of `load` through `surface`, on a fresh server whose agents hold their leases.
fn colony(bench: &mut Bench, load: LockLoad, http: bool) -> Result<Measurement, String> {
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let server = BenchServer::start(directory.path(), DriverSettings::default(), bench.threads)?;
    let mut agents = Agents::new(load.workers);
    server.register(&bench.load, &agents)?;
    let driver = server.driver();
    let grants: Vec<Presigned> = (0..load.workers)
        .map(|agent| {
            let nonce = agents.take_nonces(agent, 1);
            let grant = Command::GrantLease(GrantLease { lease: lease_name(), ttl_ms: LEASE_TTL_MS });
            sign(&agents, agent, nonce, vec![grant])
        })
        .collect();
    let granted = bench.load.block_on(async {
        let surface = Surface::Driver(driver.clone());
        for grant in grants {
            surface.send(grant).await?;
        }
        Ok::<_, String>(())
    });
    granted.map_err(|error| format!("{SCENARIO}: granting leases: {error}"))?;
    let plans = plan(&mut agents, load);
    let surface = if http {
        Surface::Http(colony_client::Client::new(server.base_url()))
    } else {
        Surface::Driver(driver.clone())
    };
    let measurement = bench.load.block_on(async move {
        let started = Instant::now();
        let tasks: Vec<_> = plans.into_iter().map(|cycles| tokio::spawn(run_worker(surface.clone(), cycles))).collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            tallies.push(task.await.expect("worker task"));
        }
        Measurement::from_tallies(started.elapsed(), tallies)
    });
    let left = driver.shared.state.read().expect("state lock").coordination().lock_count();
    server.stop();
    measurement.check(SCENARIO)?;
    if left != 0 {
        return Err(format!("{SCENARIO}: {left} locks still held after every release"));
    }
    Ok(measurement)
}

/// A `redis-server` this run started, stopped when dropped.
pub(crate) struct RedisProcess {
    child: Child,
    port: u16,
    _directory: tempfile::TempDir,
}

impl RedisProcess {
    /// Starts `redis-server` on a free loopback port with `persistence` arguments; `Err` with the
    /// reason when it cannot be started or does not answer.
    pub(crate) fn start(persistence: &[&str]) -> Result<RedisProcess, String> {
        let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("a free port: {error}"))?
            .port();
        let child = Process::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", ""])
            .args(persistence)
            .arg("--dir")
            .arg(directory.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("redis-server could not be started: {error}"))?;
        let process = RedisProcess { child, port, _directory: directory };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("redis-server did not listen within 5 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(process)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One Redis connection's cycles: `SET NX PX` on its keys (pipelined when there are several), then
/// `DEL` of the same keys.
async fn redis_worker(client: redis::Client, worker: usize, load: LockLoad) -> Result<TaskTally, String> {
    let mut connection =
        client.get_multiplexed_async_connection().await.map_err(|error| format!("redis connection: {error}"))?;
    let keys: Vec<String> = (0..load.locks).map(|lock| format!("lock-{worker}-{lock}")).collect();
    let token = format!("worker-{worker}");
    let mut tally = TaskTally::default();
    for _ in 0..load.rounds {
        let started = Instant::now();
        let mut acquire = redis::pipe();
        for key in &keys {
            acquire.cmd("SET").arg(key).arg(&token).arg("NX").arg("PX").arg(REDIS_LOCK_TTL_MS);
        }
        let granted: Vec<Option<String>> =
            acquire.query_async(&mut connection).await.map_err(|error| format!("redis SET: {error}"))?;
        if granted.iter().any(Option::is_none) {
            tally.failure(started.elapsed(), || "SET NX found a lock held".to_owned());
            continue;
        }
        let mut release = redis::pipe();
        for key in &keys {
            release.cmd("DEL").arg(key);
        }
        let deleted: Vec<i64> =
            release.query_async(&mut connection).await.map_err(|error| format!("redis DEL: {error}"))?;
        if deleted.iter().all(|count| *count == 1) {
            tally.success(started.elapsed(), load.locks);
        } else {
            tally.failure(started.elapsed(), || "DEL found a lock gone".to_owned());
        }
    }
    Ok(tally)
}

/// Redis's cycles of `load` on `process`.
fn redis_cycles(bench: &Bench, process: &RedisProcess, load: LockLoad) -> Result<Measurement, String> {
    let client = redis::Client::open(process.url()).map_err(|error| format!("redis client: {error}"))?;
    bench.load.block_on(async move {
        let started = Instant::now();
        let tasks: Vec<_> =
            (0..load.workers).map(|worker| tokio::spawn(redis_worker(client.clone(), worker, load))).collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            tallies.push(task.await.map_err(|error| format!("redis worker: {error}"))??);
        }
        let measurement = Measurement::from_tallies(started.elapsed(), tallies);
        measurement.check("redis")?;
        Ok(measurement)
    })
}

/// An `etcd` this run started, stopped when dropped.
pub(crate) struct EtcdProcess {
    child: Child,
    client_port: u16,
    _directory: tempfile::TempDir,
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("a free port: {error}"))
}

impl EtcdProcess {
    /// Starts a one-member `etcd` on free loopback ports with its data in a temporary directory;
    /// `Err` with the reason when it cannot be started or does not answer.
    pub(crate) fn start() -> Result<EtcdProcess, String> {
        let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
        let (client_port, peer_port) = (free_port()?, free_port()?);
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let child = Process::new("etcd")
            .args(["--name", "bench", "--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("bench={peer_url}")])
            .arg("--data-dir")
            .arg(directory.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| {
                format!("etcd could not be started ({error}); Debian's etcd-server package provides it")
            })?;
        let process = EtcdProcess { child, client_port, _directory: directory };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", client_port)).is_err() {
            if Instant::now() > deadline {
                return Err("etcd did not listen within 10 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(process)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.client_port)
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One call to etcd's JSON gateway: the answer's body, or why there is none.
pub(crate) async fn etcd_call(
    http: &reqwest::Client,
    etcd: &EtcdProcess,
    path: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let response = http
        .post(etcd.url(path))
        .body(body.to_string())
        .send()
        .await
        .map_err(|error| format!("etcd {path}: {error}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|error| format!("etcd {path}: {error}"))?;
    if !status.is_success() {
        return Err(format!("etcd {path}: {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|error| format!("etcd {path}: {error}: {text}"))
}

/// One etcd connection's cycles: a lease, then `lock` and `unlock` of its own lock each round.
async fn etcd_worker(etcd: std::sync::Arc<EtcdProcess>, worker: usize, rounds: u64) -> Result<TaskTally, String> {
    use base64::Engine as _;
    let http = reqwest::Client::new();
    let lease = etcd_call(&http, &etcd, "/v3/lease/grant", serde_json::json!({ "TTL": ETCD_LEASE_TTL_S })).await?;
    let lease = lease["ID"].as_str().ok_or("etcd granted a lease without an ID")?.to_owned();
    let name = base64::engine::general_purpose::STANDARD.encode(format!("lock-{worker}"));
    let mut tally = TaskTally::default();
    for _ in 0..rounds {
        let started = Instant::now();
        let locked =
            etcd_call(&http, &etcd, "/v3/lock/lock", serde_json::json!({ "name": name, "lease": lease })).await;
        let key = match locked.map(|answer| answer["key"].as_str().map(str::to_owned)) {
            Ok(Some(key)) => key,
            Ok(None) => {
                tally.failure(started.elapsed(), || "etcd locked without a key".to_owned());
                continue;
            }
            Err(error) => {
                tally.failure(started.elapsed(), || error);
                continue;
            }
        };
        match etcd_call(&http, &etcd, "/v3/lock/unlock", serde_json::json!({ "key": key })).await {
            Ok(_) => tally.success(started.elapsed(), 1),
            Err(error) => tally.failure(started.elapsed(), || error),
        }
    }
    Ok(tally)
}

/// etcd's lock cycles: `connections` workers of `rounds` cycles each.
fn etcd_cycles(
    bench: &Bench,
    etcd: &std::sync::Arc<EtcdProcess>,
    connections: usize,
    rounds: u64,
) -> Result<Measurement, String> {
    bench.load.block_on(async move {
        let started = Instant::now();
        let tasks: Vec<_> =
            (0..connections).map(|worker| tokio::spawn(etcd_worker(etcd.clone(), worker, rounds))).collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            tallies.push(task.await.map_err(|error| format!("etcd worker: {error}"))??);
        }
        let measurement = Measurement::from_tallies(started.elapsed(), tallies);
        measurement.check("etcd")?;
        Ok(measurement)
    })
}

/// Runs the scenario and adds its rows to the report.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    let sizes = bench.sizes.clone();
    let single = LockLoad { workers: sizes.coordination_workers, rounds: sizes.coordination_rounds, locks: 1 };
    let batched = LockLoad {
        workers: sizes.coordination_batch_workers,
        rounds: sizes.coordination_rounds,
        locks: LOCKS_PER_ROUND_TRIP,
    };
    let redis_single =
        LockLoad { workers: REDIS_CONNECTIONS, rounds: single.cycles() / REDIS_CONNECTIONS as u64, locks: 1 };
    // Over HTTP, Colony gets as many clients as Redis and etcd get connections.
    let http_single = redis_single;
    let unpersisted = RedisProcess::start(&["--appendonly", "no"]);
    let always = RedisProcess::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let etcd = EtcdProcess::start().map(std::sync::Arc::new);
    let mut notes = Vec::new();
    let shapes = [
        (
            single,
            redis_single,
            false,
            format!("1 lock per round trip, driver, {} workers", human(single.workers as f64)),
        ),
        (http_single, redis_single, true, format!("1 lock per round trip, HTTP, {} clients", http_single.workers)),
        (
            batched,
            batched,
            false,
            format!("{LOCKS_PER_ROUND_TRIP} locks per round trip, driver, {} workers", batched.workers),
        ),
        (
            batched,
            batched,
            true,
            format!("{LOCKS_PER_ROUND_TRIP} locks per round trip, /v1/batch, {} workers", batched.workers),
        ),
    ];
    for (load, redis_load, http, shape) in shapes {
        crate::progress(SCENARIO, format!("Colony: {} lock cycles, {shape}", human(load.cycles() as f64)));
        let measurement = colony(bench, load, http)?;
        let rate = measurement.commands_per_s();
        let mut row = Row::new(SCENARIO, format!("lock cycles (acquire, release), {shape}"), rate, "cycle/s")
            .latency(measurement.latency_us(0.5), measurement.latency_us(0.99));
        for (label, process) in [("unpersisted", &unpersisted), ("appendfsync always", &always)] {
            let Ok(process) = process else { continue };
            crate::progress(SCENARIO, format!("Redis {label}: {} cycles", human(redis_load.cycles() as f64)));
            let redis = redis_cycles(bench, process, redis_load)?;
            let redis_rate = redis.commands_per_s();
            let connections = redis_load.workers;
            row = row.reference(format!("Redis SET NX PX / DEL, {label}, {connections} conns"), redis_rate);
            notes.push(format!("{shape}: Colony / Redis {label} = {:.2}×", rate / redis_rate));
        }
        if let (true, 1, Ok(etcd)) = (http, load.locks, &etcd) {
            crate::progress(SCENARIO, format!("etcd: {} lock cycles", human(load.cycles() as f64)));
            let etcd_rate = etcd_cycles(bench, etcd, load.workers, load.rounds)?.commands_per_s();
            row = row.reference(format!("etcd lock / unlock (JSON gateway), {} conns", load.workers), etcd_rate);
            notes.push(format!("{shape}: Colony / etcd = {:.1}×", rate / etcd_rate));
        }
        bench.report.row(row);
    }
    if let Err(reason) = &etcd {
        bench.report.row(Row::skipped(SCENARIO, "etcd", reason.clone()));
    }
    for (label, process) in [("unpersisted", &unpersisted), ("appendfsync always", &always)] {
        if let Err(reason) = process {
            bench.report.row(Row::skipped(SCENARIO, format!("Redis {label}"), reason.clone()));
        }
    }
    notes.push(
        "Colony's cycles are durable (each answer follows an fsync'd group commit) and each grant carries a fencing \
         token; etcd's too (each answer follows its Raft entry's fsync, and its key's revision fences); the \
         redis-server and etcd processes are this run's own, on loopback, and count among the other processes"
            .to_owned(),
    );
    for note in notes {
        bench.report.note(SCENARIO, note);
    }
    Ok(())
}
