//! `colony-bench`: Colony's throughput, latency, recovery and audit benchmarks.
//!
//! # Running
//!
//! Always in release mode (a debug build measures the compiler, not Colony):
//!
//! ```text
//! cargo run --release -p colony-bench -- all              # every scenario, full sizes (a few minutes)
//! cargo run --release -p colony-bench -- all --quick      # smoke test, well under 20 s
//! cargo run --release -p colony-bench -- driver           # one scenario
//! cargo run --release -p colony-bench -- all --json       # JSON on stdout, the table on stderr
//! ```
//!
//! Progress goes to stderr; the table (or, with `--json`, one JSON document) to stdout.
//!
//! # Scenarios
//!
//! - `verify-ceiling`: raw Ed25519 on this machine, now: `verify_strict` one by one and
//!   `verify_batch` in batches of 1,024, on one thread and on all threads. Machines drift, so every
//!   other scenario is compared with these figures from the same run, not with published ones.
//! - `driver`: signed heartbeats straight into `DriverHandle::submit` (no HTTP) of a real server on
//!   a temporary directory: single-command envelopes from 1,000 agents at once, then envelopes of
//!   1,000 commands. Durable: every answer follows an fsync'd group commit.
//! - `http`: the same through `POST /v1/commands` (64 and 256 requests in flight) and
//!   `POST /v1/batch`, with the Rust client and pre-signed envelopes.
//! - `recovery`: builds a log of 2M commands in batches (and one of 500k single-command envelopes)
//!   and times `recovery::recover` replaying it from genesis (with an empty snapshot store).
//! - `audit`: `audit::audit` over the same logs: commands/s and signatures/s against the
//!   batch-verification ceiling.
//! - `escrow`: full escrow cycles (lock, then release with the fee and the referral share) over
//!   10,000 referred accounts with random payers and payees, durable: through the driver and through
//!   `POST /v1/batch` (1, 10 and 100 commands per envelope), and the same cycle as SQL transactions on
//!   the local PostgreSQL (127.0.0.1:5432, 16 connections; skipped with the reason when none answers).
//!   Every figure is set beside PostgreSQL's from the same run and the targets; the books are checked
//!   afterwards.
//! - `market`: full task lifecycles (announce, 10 bids from 10 bidder agents, `task.award` by the
//!   manager locking the price in escrow, submit, verify releasing it), durable, run as waves over
//!   many tasks at once (each agent's envelope carries its step on all its tasks; managers and
//!   bidders spread so that none nears the market's limits): through the driver, through
//!   `POST /v1/batch`, and the same waves as SQL on the local PostgreSQL (127.0.0.1:5432, 16 lanes;
//!   skipped with the reason when none answers), with the ratios between them. Then 10,000 auctions
//!   open at once with 100 bids each, every window closing at the same log time (a manual clock):
//!   the resident memory and the award latency, beside the same bids in PostgreSQL awarded by one
//!   ranking statement (its tables' size and its time). The winners are predicted by the client and
//!   checked on every side; the books are checked afterwards.
//! - `governance`: one approval vote open to 10,000 voters (`ELECTORATE_MAX`; `--quick`: 1,000), each
//!   signing one `ballot.cast` envelope posted to `/v1/commands` (64 in flight), beside the
//!   batch-verification ceiling measured just before and after and the same ballots as one durable
//!   transaction each on the local PostgreSQL (16 connections; skipped with the reason when none
//!   answers); then the close latency (a manual clock moved past the deadline → tallied and sealed)
//!   beside PostgreSQL's closing transaction. Both tallies are checked against the expected totals.
//! - `coordination`: lock cycles (an acquire envelope answered with a fencing token once durable, then a
//!   release envelope), every agent with locks of its own: one lock per round trip from 1,024 agents in
//!   flight, and 16 per round trip (a lease's most) from 16, through the driver and `POST /v1/batch`;
//!   beside Redis's `SET NX PX` / `DEL` on the same shapes (64 connections for the single-lock one), on
//!   two `redis-server` processes the run starts on loopback ports, one unpersisted and one with
//!   `appendfsync always` (skipped with the reason when none can be started).
//! - `kv`: compare-and-swap puts, each naming the revision the client's previous put answered with, 64
//!   clients each replacing one key of its own through `POST /v1/commands`; beside etcd's transaction
//!   (compare `mod_revision`, put) through its JSON gateway and a Redis script comparing a version
//!   kept beside the value (`EVAL`), unpersisted and with `appendfsync always`, on servers the run
//!   starts on loopback ports (each skipped with the reason when it cannot be started).
//! - `stigmergy`: pheromone deposits on one map under seed 000's model, 256 per envelope from 16
//!   workers through `POST /v1/batch`, then top-5 reads from 64 signed clients; beside Redis's
//!   `ZINCRBY` pipelines of 256 and `ZREVRANGE 0 4 WITHSCORES`, unpersisted and with `appendfsync
//!   always` (skipped with the reason when no `redis-server` can be started).
//! - `bus`: the ephemeral message bus beside NATS core (127.0.0.1:4222, `async-nats`; skipped with the
//!   reason when none answers), 256-byte JSON payloads: delivered messages/s in process
//!   (`SubjectRouter::publish` of pre-encoded messages, consumer tasks draining the mailboxes) and over
//!   WebSocket (one publisher connection, `send_all` batches; 1 → 1 and 1 → 100 subscriber
//!   connections), publishers held within a credit window of their slowest subscriber so that
//!   nothing is dropped (drops are still counted and reported); publish → deliver p50/p99 at 50k
//!   msgs/s, 1 → 1; NATS core in the same shapes; and the durable reference for later scenarios,
//!   JetStream R1 with file storage (async publish with 1,000 in flight, then a pull consumer with
//!   explicit acks, on a stream created and deleted by the run). The notes time each step of one
//!   message's path through the server.
//! - `scale`: `AGENTS_MAX` (1,000,000) agents registered and `OPEN_ESCROWS_MAX` (1,000,000) escrows
//!   locked between them through the driver; the process's resident memory beside the 2 GiB target
//!   (`--quick`: 2% of the sizes).
//! - `snapshots`: 100,000 agents and 1,000,000 open escrows built the same way; 8 clients'
//!   single-heartbeat write latency (p99.9, max) while the snapshotter makes two snapshots, beside
//!   the same without a snapshot and the 50 ms target; the snapshot's size, encode time and the
//!   memory it takes while made; the restart time beside the 1 s target (`--quick`: 2% of the sizes).
//!
//! Every figure is printed beside its target or reference with the ratio between them. All
//! envelopes are signed before the clock starts; the load generators run in this process, on their
//! own runtime but on the same cores as the server, which the output says.
//!
//! # Noise
//!
//! Benchmark machines are shared and drift (up to 5×). Ratios against a verification ceiling use a
//! ceiling measured again just before and just after the measurement, and each scenario notes how
//! much of the machine's CPU other processes took while it ran (from `/proc/stat`). Figures from a
//! run where others took a large share understate Colony; run again on a quiet machine.

mod bus;
mod ceiling;
mod coordination;
mod driver;
mod escrow;
mod fixture;
mod governance;
mod http;
mod kv;
mod logs;
mod machine;
mod market;
mod postgres;
mod report;
mod scale;
mod snapshots;
mod stigmergy;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

use crate::ceiling::{Ceiling, Spot};
use crate::escrow::EscrowLoad;
use crate::fixture::Agents;
use crate::logs::Logs;
use crate::report::Report;

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(name = "colony-bench", about = "Colony's benchmarks: run with `cargo run --release -p colony-bench -- all`")]
struct Cli {
    /// Which scenario to run.
    #[arg(value_enum)]
    scenario: Scenario,
    /// Small sizes and short runs: a smoke test (under ~20 s in release mode). Figures are noisy.
    #[arg(long)]
    quick: bool,
    /// Print the results as one JSON document on stdout (the table then goes to stderr).
    #[arg(long)]
    json: bool,
}

/// The scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Every scenario below, in order.
    All,
    /// Raw Ed25519 verification rates: the reference for the others.
    VerifyCeiling,
    /// Signed commands through the driver, without HTTP.
    Driver,
    /// Signed commands through HTTP with the Rust client.
    Http,
    /// Replay of a large log from genesis.
    Recovery,
    /// The offline audit of the same log.
    Audit,
    /// Full escrow cycles: Colony (driver, HTTP batch) beside PostgreSQL.
    Escrow,
    /// The ephemeral message bus (in process and over WebSocket) beside NATS core and JetStream.
    Bus,
    /// Full task lifecycles (announce, 10 bids, award, submit, verify): Colony beside PostgreSQL.
    Market,
    /// Signed ballots through HTTP and the close of a 10,000-voter proposal, beside PostgreSQL.
    Governance,
    /// Lock cycles (acquire, release) beside Redis's SET NX PX / DEL, unpersisted and fsync'd.
    Coordination,
    /// Compare-and-swap puts beside etcd's transactions and a Redis script, and claim cycles (a
    /// leased put-if-absent, then a delete) beside etcd's leased transaction and Redis's SET NX PX.
    Kv,
    /// Pheromone deposits and top-N reads beside Redis's ZINCRBY and ZREVRANGE.
    Stigmergy,
    /// A million agents and a million open escrows: the resident memory they take.
    Scale,
    /// Write latency during snapshots, and the restart time, at 100,000 agents and a million escrows.
    Snapshots,
}

/// How much work each scenario does.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// How long each ceiling rate is measured.
    pub ceiling_duration: Duration,
    /// How long a ceiling is measured again just before and after a measurement compared with it.
    pub spot_duration: Duration,
    /// Single-command envelopes per agent in the driver scenario (1,000 agents, all in flight).
    pub driver_single_rounds: u64,
    /// Batch envelopes in flight in the driver scenario.
    pub driver_batch_tasks: usize,
    /// Batch envelopes per in-flight task in the driver scenario.
    pub driver_batch_rounds: u64,
    /// Requests in flight for `/v1/commands`, one measurement each.
    pub http_concurrency: Vec<usize>,
    /// Single-command envelopes per agent and per concurrency level in the HTTP scenario.
    pub http_single_rounds: u64,
    /// Batch requests in flight in the HTTP scenario.
    pub http_batch_tasks: usize,
    /// Batch requests per in-flight task in the HTTP scenario.
    pub http_batch_rounds: u64,
    /// Concurrent tasks (and agents) building the batched log.
    pub log_batched_tasks: usize,
    /// Batch envelopes per task in the batched log.
    pub log_batched_rounds: u64,
    /// Single-command envelopes per agent in the single-command log.
    pub log_single_rounds: u64,
    /// Escrow cycles through the driver, one measurement per load.
    pub escrow_driver: Vec<escrow::EscrowLoad>,
    /// Escrow cycles through `POST /v1/batch`, one measurement per load.
    pub escrow_http: Vec<escrow::EscrowLoad>,
    /// Escrow cycles per PostgreSQL connection.
    pub escrow_postgres_rounds: u64,
    /// Deliveries per in-process fan-out measurement (messages × subscribers).
    pub bus_in_process_deliveries: u64,
    /// Deliveries per WebSocket (and NATS core) fan-out measurement.
    pub bus_websocket_deliveries: u64,
    /// How long each paced latency measurement publishes.
    pub bus_latency_duration: Duration,
    /// Concurrent lanes of lifecycles (each its own managers and bidders) in the market scenario.
    pub market_lanes: usize,
    /// Tasks each lane runs through one round of waves.
    pub market_tasks_per_wave: usize,
    /// Rounds per lane.
    pub market_rounds: usize,
    /// Auctions open at once in the market's auction row (100 bids each).
    pub market_auction_tasks: usize,
    /// Voters of the governance scenario's proposal, each casting one signed ballot.
    pub governance_voters: usize,
    /// Workers (agents, each with its own locks) in flight in the coordination scenario's single-lock shape.
    pub coordination_workers: usize,
    /// Workers in its batched shape (16 locks per round trip).
    pub coordination_batch_workers: usize,
    /// Lock cycles per worker.
    pub coordination_rounds: u64,
    /// Clients in the key-value scenario (as many connections as etcd and Redis get).
    pub kv_clients: usize,
    /// Compare-and-swap puts per client.
    pub kv_rounds: u64,
    /// Workers posting deposit envelopes in the stigmergy scenario.
    pub stigmergy_workers: usize,
    /// Deposit envelopes per worker.
    pub stigmergy_rounds: u64,
    /// Top-N reads per reading client.
    pub stigmergy_read_rounds: u64,
    /// Messages published to and consumed from JetStream.
    pub bus_jetstream_messages: u64,
    /// Repetitions of each timed step of one message's path through the server.
    pub bus_path_cost_messages: u64,
}

impl Sizes {
    /// The sizes for a full or a `--quick` run.
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                ceiling_duration: Duration::from_millis(250),
                spot_duration: Duration::from_millis(150),
                driver_single_rounds: 50,
                driver_batch_tasks: 16,
                driver_batch_rounds: 5,
                http_concurrency: vec![64, 256],
                http_single_rounds: 5,
                http_batch_tasks: 8,
                http_batch_rounds: 10,
                log_batched_tasks: 20,
                log_batched_rounds: 10,
                log_single_rounds: 30,
                escrow_driver: vec![
                    EscrowLoad { per_envelope: 1, tasks: 500, rounds: 4 },
                    EscrowLoad { per_envelope: 10, tasks: 100, rounds: 4 },
                    EscrowLoad { per_envelope: 100, tasks: 20, rounds: 3 },
                ],
                escrow_http: vec![
                    EscrowLoad { per_envelope: 1, tasks: 128, rounds: 4 },
                    EscrowLoad { per_envelope: 10, tasks: 64, rounds: 3 },
                    EscrowLoad { per_envelope: 100, tasks: 16, rounds: 3 },
                ],
                escrow_postgres_rounds: 20,
                bus_in_process_deliveries: 200_000,
                bus_websocket_deliveries: 40_000,
                bus_latency_duration: Duration::from_millis(300),
                market_lanes: 4,
                market_tasks_per_wave: 200,
                market_rounds: 3,
                market_auction_tasks: 1_000,
                governance_voters: 1_000,
                coordination_workers: 128,
                coordination_batch_workers: 16,
                coordination_rounds: 4,
                kv_clients: 64,
                kv_rounds: 4,
                stigmergy_workers: 4,
                stigmergy_rounds: 4,
                stigmergy_read_rounds: 4,
                bus_jetstream_messages: 5_000,
                bus_path_cost_messages: 2_000,
            }
        } else {
            Sizes {
                ceiling_duration: Duration::from_millis(1_500),
                spot_duration: Duration::from_millis(500),
                driver_single_rounds: 500,
                driver_batch_tasks: 16,
                driver_batch_rounds: 125,
                http_concurrency: vec![64, 256],
                http_single_rounds: 100,
                http_batch_tasks: 8,
                http_batch_rounds: 250,
                log_batched_tasks: 20,
                log_batched_rounds: 100,
                log_single_rounds: 500,
                escrow_driver: vec![
                    EscrowLoad { per_envelope: 1, tasks: 1_000, rounds: 100 },
                    EscrowLoad { per_envelope: 10, tasks: 200, rounds: 150 },
                    EscrowLoad { per_envelope: 100, tasks: 40, rounds: 100 },
                ],
                escrow_http: vec![
                    EscrowLoad { per_envelope: 1, tasks: 256, rounds: 80 },
                    EscrowLoad { per_envelope: 10, tasks: 64, rounds: 200 },
                    EscrowLoad { per_envelope: 100, tasks: 16, rounds: 200 },
                ],
                escrow_postgres_rounds: 400,
                bus_in_process_deliveries: 4_000_000,
                bus_websocket_deliveries: 1_000_000,
                bus_latency_duration: Duration::from_secs(5),
                market_lanes: 8,
                market_tasks_per_wave: 1_000,
                market_rounds: 10,
                market_auction_tasks: 10_000,
                governance_voters: colony_core::limits::ELECTORATE_MAX,
                coordination_workers: 1_024,
                coordination_batch_workers: 16,
                coordination_rounds: 40,
                kv_clients: 64,
                kv_rounds: 100,
                stigmergy_workers: 16,
                stigmergy_rounds: 40,
                stigmergy_read_rounds: 200,
                bus_jetstream_messages: 200_000,
                bus_path_cost_messages: 50_000,
            }
        }
    }
}

/// Everything the scenarios share in one run.
pub struct Bench {
    /// Whether this is a `--quick` run.
    pub quick: bool,
    /// Hardware threads.
    pub threads: usize,
    /// Work sizes.
    pub sizes: Sizes,
    /// The load generator's runtime (servers run on runtimes of their own).
    pub load: tokio::runtime::Runtime,
    /// The agents every server registers.
    pub agents: Agents,
    /// The results.
    pub report: Report,
    ceiling: Option<Ceiling>,
    logs: Option<Logs>,
}

impl Bench {
    fn new(quick: bool) -> Result<Bench, String> {
        let threads = std::thread::available_parallelism().map_or(1, |count| count.get());
        let load = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("bench-load")
            .enable_all()
            .build()
            .map_err(|error| format!("load runtime: {error}"))?;
        Ok(Bench {
            quick,
            threads,
            sizes: Sizes::new(quick),
            load,
            agents: Agents::new(fixture::AGENTS),
            report: Report::new(quick, threads),
            ceiling: None,
            logs: None,
        })
    }

    /// The verification ceiling of this run, measured (and added to the report) on first use.
    pub fn ceiling(&mut self) -> &Ceiling {
        if self.ceiling.is_none() {
            progress("verify-ceiling", "measuring Ed25519 sign / verify / verify_batch rates");
            let ceiling = ceiling::measure(self.threads, self.sizes.ceiling_duration);
            ceiling.add_rows(&mut self.report);
            self.ceiling = Some(ceiling);
        }
        self.ceiling.as_ref().expect("measured above")
    }

    /// Measures one all-threads verification rate again, now.
    pub fn spot(&self, kind: Spot) -> f64 {
        ceiling::spot(kind, self.threads, self.sizes.spot_duration)
    }

    /// The logs of the recovery and audit scenarios, built on first use. Give them back with
    /// [`Bench::put_logs`] so that later scenarios reuse them.
    pub fn take_logs(&mut self) -> Result<Logs, String> {
        match self.logs.take() {
            Some(logs) => Ok(logs),
            None => logs::build_logs(self),
        }
    }

    /// Keeps the logs for later scenarios.
    pub fn put_logs(&mut self, logs: Logs) {
        self.logs = Some(logs);
    }
}

/// Prints a progress line to stderr.
pub fn progress(scenario: &str, message: impl AsRef<str>) {
    eprintln!("[{scenario}] {}", message.as_ref());
}

fn run(cli: &Cli) -> Result<Report, String> {
    let mut bench = Bench::new(cli.quick)?;
    let scenarios = match cli.scenario {
        Scenario::All => {
            // Scale first: the resident memory it reports is the whole process's, which later
            // scenarios would leave holding what they freed.
            vec![
                Scenario::Scale,
                Scenario::Snapshots,
                Scenario::VerifyCeiling,
                Scenario::Driver,
                Scenario::Http,
                Scenario::Recovery,
                Scenario::Audit,
                Scenario::Escrow,
                Scenario::Market,
                Scenario::Governance,
                Scenario::Coordination,
                Scenario::Kv,
                Scenario::Stigmergy,
                Scenario::Bus,
            ]
        }
        one => vec![one],
    };
    for scenario in scenarios {
        let name = match scenario {
            Scenario::All => unreachable!("expanded above"),
            Scenario::VerifyCeiling => "verify-ceiling",
            Scenario::Driver => "driver",
            Scenario::Http => "http",
            Scenario::Recovery => "recovery",
            Scenario::Audit => "audit",
            Scenario::Escrow => "escrow",
            Scenario::Bus => "bus",
            Scenario::Market => "market",
            Scenario::Governance => "governance",
            Scenario::Coordination => "coordination",
            Scenario::Kv => "kv",
            Scenario::Stigmergy => "stigmergy",
            Scenario::Scale => "scale",
            Scenario::Snapshots => "snapshots",
        };
        let started = Instant::now();
        let cpu_before = machine::CpuSample::now();
        match scenario {
            Scenario::All => unreachable!("expanded above"),
            Scenario::VerifyCeiling => {
                bench.ceiling();
            }
            Scenario::Driver => driver::run(&mut bench)?,
            Scenario::Http => http::run(&mut bench)?,
            Scenario::Recovery => logs::run_recovery(&mut bench)?,
            Scenario::Audit => logs::run_audit(&mut bench)?,
            Scenario::Escrow => escrow::run(&mut bench)?,
            Scenario::Bus => bus::run(&mut bench)?,
            Scenario::Market => market::run(&mut bench)?,
            Scenario::Governance => governance::run(&mut bench)?,
            Scenario::Coordination => coordination::run(&mut bench)?,
            Scenario::Kv => kv::run(&mut bench)?,
            Scenario::Stigmergy => stigmergy::run(&mut bench)?,
            Scenario::Scale => scale::run(&mut bench)?,
            Scenario::Snapshots => snapshots::run(&mut bench)?,
        }
        if let (Some(before), Some(after)) = (cpu_before, machine::CpuSample::now())
            && let Some((others, own)) = before.shares_until(&after)
        {
            bench.report.note(
                name,
                format!(
                    "machine CPU during this scenario: other processes {:.0}%, this benchmark {:.0}%, idle {:.0}%",
                    others * 100.0,
                    own * 100.0,
                    (1.0 - others - own).max(0.0) * 100.0
                ),
            );
        }
        progress(name, format!("done in {:.1} s", started.elapsed().as_secs_f64()));
    }
    Ok(bench.report)
}

fn main() -> ExitCode {
    let arguments: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if arguments.get(1).is_some_and(|argument| argument == machine::STATE_MEMORY_ARGUMENT) {
        let path = arguments.get(2).map(std::path::PathBuf::from).unwrap_or_default();
        return match machine::measure_state_resident(&path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; run with `cargo run --release -p colony-bench` for real figures");
    }
    let started = Instant::now();
    let result = run(&cli);
    match result {
        Ok(report) => {
            eprintln!("finished in {:.1} s", started.elapsed().as_secs_f64());
            if cli.json {
                eprint!("{}", report.table());
                println!("{}", serde_json::to_string_pretty(&report.json()).expect("JSON encodes"));
            } else {
                print!("{}", report.table());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("colony-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
