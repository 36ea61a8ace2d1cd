//! The `escrow` scenario: full escrow cycles per second (lock, then release with the 1% fee and the
//! 15% referral share), durable, over 10,000 accounts with random payers and payees, measured three
//! ways in the same run:
//!
//! 1. Colony through `DriverHandle::submit` (no HTTP, so no signature verification on the server).
//! 2. Colony through `POST /v1/batch` with the Rust client (the server decodes and verifies).
//! 3. The same cycle as SQL transactions on the local PostgreSQL, 16 connections (skipped, with the
//!    reason, when no PostgreSQL answers at 127.0.0.1:5432).
//!
//! # The Colony workload
//!
//! 10,000 agents are registered by the operator in batch envelopes, each with a referrer (agent `i`
//! is referred by a random earlier agent; agent 0 by one extra root agent, which is never a payer or
//! payee), so that every release pays the referral leg. The operator then mints to every agent.
//!
//! Each of `tasks` concurrent client tasks owns a slice of the agents (so each agent's nonces reach
//! the server in order) and runs cycles one after another: pick a random agent it owns as the payer,
//! send one envelope signed by the payer with `k` `escrow.lock` commands to random payees, read the
//! escrow ids from the results, sign one envelope with the `k` matching `escrow.release` commands and
//! send it. The lock envelopes are signed before the clock starts; the release envelopes cannot be
//! (their escrow ids come from the locks' results), so the client signs them inside the measurement,
//! as a real client would, and the note says how much CPU that took. Latency is one cycle: lock
//! envelope sent → release envelope durable and applied.
//!
//! At the end of each Colony server's rows the books are checked: the ledger's invariants hold, no
//! escrow is open, the fee account holds exactly the expected fees, and every wallet holds exactly
//! what the workload implies (mint − locked + payouts + referral income).

pub(crate) mod postgres;

use colony_core::command::{LockEscrow, Mint, ReleaseEscrow};
use std::sync::Arc;
use std::time::{Duration, Instant};

use colony_client::Client;
use colony_core::{AccountId, AgentId, Amount, Command, Name, PublicKey, Signer};
use colony_server::driver::{DriverSettings, Submission};
use colony_wire::{Envelope, KeyPair};

use crate::Bench;
use crate::fixture::{self, BenchServer, Measurement, Presigned, Surface, TaskTally};
use crate::machine;
use crate::report::{Row, human};

const SCENARIO: &str = "escrow";

/// Payer and payee accounts.
pub const ACCOUNTS: usize = 10_000;

/// What the operator mints to each account before the cycles.
pub const MINT_PER_ACCOUNT: u64 = 10_000_000_000;

/// Escrow amounts are drawn uniformly from this range (so every fee and referral is non-zero).
const AMOUNT_MIN: u64 = 1_000;
const AMOUNT_MAX: u64 = 1_000_000;

/// Escrow timeout: far beyond any run, so nothing expires.
const TIMEOUT_MS: u64 = 3_600_000;

/// Commands per operator envelope while registering and minting.
const SETUP_COMMANDS_PER_ENVELOPE: usize = 5_000;

/// Targets.
const TARGET_DRIVER: f64 = 100_000.0;
const TARGET_HTTP: f64 = 50_000.0;
/// Colony through the driver should beat PostgreSQL by this much.
const GOAL_VS_POSTGRES: f64 = 50.0;

/// Cited from REFERENCES.md (not measured here): TigerBeetle's escrow cycle (pending transfer, then
/// linked post + fee + referral) and PostgreSQL's, on a machine of this kind.
const TIGERBEETLE_LOW: f64 = 33_000.0;
const TIGERBEETLE_HIGH: f64 = 58_000.0;
const POSTGRES_ANCHOR: f64 = 1_500.0;

/// One load shape: envelopes of `per_envelope` commands from `tasks` concurrent client tasks, each
/// running `rounds` cycles.
#[derive(Clone, Copy, Debug)]
pub struct EscrowLoad {
    /// Locks in one lock envelope (and releases in one release envelope).
    pub per_envelope: usize,
    /// Client tasks in flight.
    pub tasks: usize,
    /// Cycles (lock envelope + release envelope) per task.
    pub rounds: u64,
}

impl EscrowLoad {
    /// Escrow cycles in the whole load.
    pub fn cycles(&self) -> u64 {
        self.tasks as u64 * self.rounds * self.per_envelope as u64
    }
}

/// A small, seedable pseudo-random generator (SplitMix64): the workload is the same on every run.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        // Multiply-shift: unbiased enough for a workload generator.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }
}

/// The accounts: agents `0..ACCOUNTS` are payers and payees; index `ACCOUNTS` is the root referrer.
pub struct Accounts {
    /// Agent ids, root last.
    pub ids: Vec<AgentId>,
    /// Their keys.
    pub keys: Vec<KeyPair>,
    /// Their public keys.
    pub public_keys: Vec<PublicKey>,
    /// The referrer of each account (an index into `ids`).
    pub referrers: Vec<usize>,
}

impl Accounts {
    /// The root referrer's index.
    pub const ROOT: usize = ACCOUNTS;

    /// `ACCOUNTS` agents plus the root, with deterministic keys and referrers.
    pub fn new(threads: usize) -> Accounts {
        let mut ids: Vec<AgentId> =
            (0..ACCOUNTS).map(|index| AgentId::new(format!("payer-{index:05}")).expect("a valid agent id")).collect();
        ids.push(AgentId::new("referrer-root").expect("a valid agent id"));
        let seeds: Vec<usize> = (0..ids.len()).collect();
        let keys = parallel_map(&seeds, threads, |&index| {
            let mut seed = [0xe5u8; 32];
            seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
            KeyPair::from_seed(seed)
        });
        let public_keys = keys.iter().map(KeyPair::public_key).collect();
        let mut rng = Rng::new(0x5eed_0001);
        let referrers = (0..ACCOUNTS)
            .map(|index| if index == 0 { Accounts::ROOT } else { rng.below(index as u64) as usize })
            .collect();
        Accounts { ids, keys, public_keys, referrers }
    }

    /// The operator's commands registering every agent (the root first, then each agent after its
    /// referrer).
    fn registrations(&self) -> Vec<Command> {
        let register = |index: usize, referrer: Option<AgentId>| {
            crate::fixture::scout_registration(&self.ids[index], self.public_keys[index], Default::default(), referrer)
        };
        std::iter::once(register(Accounts::ROOT, None))
            .chain((0..ACCOUNTS).map(|index| register(index, Some(self.ids[self.referrers[index]].clone()))))
            .collect()
    }

    /// The operator's commands minting to every payer account.
    fn mints(&self) -> Vec<Command> {
        (0..ACCOUNTS)
            .map(|index| {
                Command::Mint(Mint {
                    transfer_id: Name::new(format!("mint-{index:05}")).expect("a valid transfer id"),
                    to: self.ids[index].clone(),
                    amount: Amount(MINT_PER_ACCOUNT),
                })
            })
            .collect()
    }
}

/// `f` over `items` on `threads` threads, in order.
fn parallel_map<T: Sync, U: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let chunk_length = items.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk_length)
            .map(|chunk| {
                let f = &f;
                scope.spawn(move || chunk.iter().map(f).collect::<Vec<U>>())
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("worker thread")).collect()
    })
}

/// One escrow of a cycle: its payee and amount.
#[derive(Clone, Copy, Debug)]
pub struct Lock {
    /// The payee's account index.
    pub payee: usize,
    /// The amount.
    pub amount: u64,
}

/// One cycle of one task: a payer locks `locks`, then releases them all.
#[derive(Clone, Debug)]
pub struct CycleSpec {
    /// The payer's account index.
    pub payer: usize,
    /// The lock envelope's nonce (the release envelope's is the next one).
    pub nonce: u64,
    /// The escrows.
    pub locks: Vec<Lock>,
}

/// What the books must say once every cycle is released.
#[derive(Clone, Debug)]
pub struct Books {
    /// Change of each account (`ids` order, root last) from its initial balance.
    pub deltas: Vec<i128>,
    /// Total kept by the fee account.
    pub fees: u128,
    /// Total paid to referrers.
    pub referral: u128,
    /// Escrow cycles.
    pub cycles: u64,
}

impl Books {
    fn new() -> Books {
        Books { deltas: vec![0; ACCOUNTS + 1], fees: 0, referral: 0, cycles: 0 }
    }

    /// The split of one release: (to the payee, to the fee account, to the referrer).
    pub fn split(amount: u64, fee_bps: u16, referral_bps: u16) -> (u64, u64, u64) {
        let fee = u64::try_from(u128::from(amount) * u128::from(fee_bps) / 10_000).expect("fee ≤ amount");
        let referral = u64::try_from(u128::from(fee) * u128::from(referral_bps) / 10_000).expect("referral ≤ fee");
        (amount - fee, fee - referral, referral)
    }

    fn record(&mut self, accounts: &Accounts, payer: usize, lock: Lock, fee_bps: u16, referral_bps: u16) {
        let (to_payee, to_fees, to_referrer) = Books::split(lock.amount, fee_bps, referral_bps);
        self.deltas[payer] -= i128::from(lock.amount);
        self.deltas[lock.payee] += i128::from(to_payee);
        // The payee bears the fee, so its referrer earns the share (the swarm's default `referral_from`).
        self.deltas[accounts.referrers[lock.payee]] += i128::from(to_referrer);
        self.fees += u128::from(to_fees);
        self.referral += u128::from(to_referrer);
        self.cycles += 1;
    }
}

/// Generates `load`: plans for its tasks (task `t` owns payers `t`, `t + tasks`, ...), taking nonces
/// from `next_nonce`, and adds what they do to `books`.
pub fn generate(
    accounts: &Accounts,
    load: EscrowLoad,
    seed: u64,
    next_nonce: &mut [u64],
    books: &mut Books,
    (fee_bps, referral_bps): (u16, u16),
) -> Vec<Vec<CycleSpec>> {
    assert!(0 < load.tasks && load.tasks <= ACCOUNTS && load.per_envelope > 0);
    // Nonces start at the current time: the HTTP endpoints refuse those far from the server's clock.
    let now_us = fixture::now_us();
    (0..load.tasks)
        .map(|task| {
            let mut rng = Rng::new(seed ^ (task as u64).wrapping_mul(0xa24b_aed4_963e_e407));
            let owned: Vec<usize> = (task..ACCOUNTS).step_by(load.tasks).collect();
            (0..load.rounds)
                .map(|_| {
                    let payer = owned[rng.below(owned.len() as u64) as usize];
                    let nonce = next_nonce[payer].max(now_us);
                    next_nonce[payer] = nonce + 2;
                    let locks: Vec<Lock> = (0..load.per_envelope)
                        .map(|_| {
                            // A payee other than the payer.
                            let mut payee = rng.below(ACCOUNTS as u64 - 1) as usize;
                            if payee >= payer {
                                payee += 1;
                            }
                            Lock { payee, amount: rng.between(AMOUNT_MIN, AMOUNT_MAX) }
                        })
                        .collect();
                    for &lock in &locks {
                        books.record(accounts, payer, lock, fee_bps, referral_bps);
                    }
                    CycleSpec { payer, nonce, locks }
                })
                .collect()
        })
        .collect()
}

/// A cycle ready to run: its lock envelope signed, and what the release envelope needs.
struct ReadyCycle {
    payer: usize,
    lock: Presigned,
    release_nonce: u64,
}

/// Signs every lock envelope of `plans` on `threads` threads.
fn presign_locks(accounts: &Accounts, plans: Vec<Vec<CycleSpec>>, threads: usize) -> Vec<Vec<ReadyCycle>> {
    let lengths: Vec<usize> = plans.iter().map(Vec::len).collect();
    let flat: Vec<CycleSpec> = plans.into_iter().flatten().collect();
    let mut signed = parallel_map(&flat, threads, |spec| {
        let envelope = Envelope {
            signer: Signer::Agent(accounts.ids[spec.payer].clone()),
            nonce: spec.nonce,
            commands: spec
                .locks
                .iter()
                .map(|lock| {
                    Command::LockEscrow(LockEscrow {
                        payee: accounts.ids[lock.payee].clone(),
                        amount: Amount(lock.amount),
                        timeout_ms: TIMEOUT_MS,
                        task_id: None,
                        arbiter: None,
                        hashlock: None,
                        referrer: None,
                        description: None,
                    })
                })
                .collect(),
        };
        let signed = envelope.sign(&accounts.keys[spec.payer]);
        ReadyCycle {
            payer: spec.payer,
            lock: Presigned { envelope, signed, key: accounts.public_keys[spec.payer] },
            release_nonce: spec.nonce + 1,
        }
    })
    .into_iter();
    lengths.into_iter().map(|length| signed.by_ref().take(length).collect()).collect()
}

/// Runs one task's cycles: lock envelope, escrow ids from its results, release envelope signed and
/// sent. Returns the tally (one success per cycle, counting its escrows) and the time spent signing.
async fn run_cycles(surface: Surface, accounts: Arc<Accounts>, plan: Vec<ReadyCycle>) -> (TaskTally, Duration) {
    let mut tally = TaskTally::default();
    tally.latencies_us.reserve(plan.len());
    let mut signing = Duration::ZERO;
    for cycle in plan {
        let locks = cycle.lock.commands();
        let started = Instant::now();
        let escrow_ids = match surface.send(cycle.lock).await {
            Ok(created) => created.into_iter().map(|created| created.escrow),
            Err(error) => {
                tally.failure(started.elapsed(), || format!("lock: {error}"));
                continue;
            }
        };
        let Some(escrow_ids) = escrow_ids.collect::<Option<Vec<u64>>>().filter(|ids| ids.len() == locks) else {
            tally.failure(started.elapsed(), || "lock: a result without an escrow id".to_owned());
            continue;
        };
        let signing_started = Instant::now();
        let envelope = Envelope {
            signer: Signer::Agent(accounts.ids[cycle.payer].clone()),
            nonce: cycle.release_nonce,
            commands: escrow_ids
                .into_iter()
                .map(|escrow| Command::ReleaseEscrow(ReleaseEscrow { escrow, preimage: None }))
                .collect(),
        };
        let signed = envelope.sign(&accounts.keys[cycle.payer]);
        signing += signing_started.elapsed();
        let release = Presigned { envelope, signed, key: accounts.public_keys[cycle.payer] };
        match surface.send(release).await {
            Ok(_) => tally.success(started.elapsed(), locks),
            Err(error) => tally.failure(started.elapsed(), || format!("release: {error}")),
        }
    }
    (tally, signing)
}

/// A finished Colony load: the measurement (commands = escrow cycles), the client's signing time,
/// and where the CPU went while it ran.
struct CycleRun {
    measurement: Measurement,
    signing: Duration,
    /// Where the CPU went.
    cpu: machine::CpuUse,
    /// Log entries written while it ran (envelopes, and any ticks).
    entries: u64,
    /// Periodic snapshots that fell inside it (estimated from the sequence numbers).
    snapshots: u64,
}

impl CycleRun {
    /// Where the CPU went, in words.
    fn cpu_summary(&self) -> String {
        let signing = self.signing.as_secs_f64() / self.measurement.elapsed.as_secs_f64();
        format!("{} (wall time inside the client's release signing: {signing:.2})", self.cpu.summary())
    }
}

async fn run_load(surface: Surface, accounts: Arc<Accounts>, plans: Vec<Vec<ReadyCycle>>) -> CycleRun {
    let started = Instant::now();
    let tasks: Vec<_> =
        plans.into_iter().map(|plan| tokio::spawn(run_cycles(surface.clone(), Arc::clone(&accounts), plan))).collect();
    let mut tallies = Vec::with_capacity(tasks.len());
    let mut signing = Duration::ZERO;
    for task in tasks {
        let (tally, task_signing) = task.await.expect("cycle task");
        tallies.push(tally);
        signing += task_signing;
    }
    CycleRun {
        measurement: Measurement::from_tallies(started.elapsed(), tallies),
        signing,
        cpu: machine::CpuUse::default(),
        entries: 0,
        snapshots: 0,
    }
}

/// A Colony server with the accounts registered, referred and funded.
struct EscrowServer {
    server: BenchServer,
    _directory: tempfile::TempDir,
    next_nonce: Vec<u64>,
    books: Books,
    fee_split: (u16, u16),
}

impl EscrowServer {
    fn start(bench: &Bench, accounts: &Accounts) -> Result<EscrowServer, String> {
        let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
        let server = BenchServer::start(directory.path(), DriverSettings::default(), bench.threads)?;
        let operator = server.operator_key()?;
        let driver = server.driver();
        let commands: Vec<Command> = accounts.registrations().into_iter().chain(accounts.mints()).collect();
        for (index, chunk) in commands.chunks(SETUP_COMMANDS_PER_ENVELOPE).enumerate() {
            let envelope = Envelope { signer: Signer::Operator, nonce: index as u64 + 1, commands: chunk.to_vec() };
            let signed = envelope.sign(&operator);
            let submission = Submission { envelope, signed, verified_key: operator.public_key() };
            let committed =
                bench.load.block_on(driver.submit(submission)).map_err(|error| format!("setting up: {error:?}"))?;
            if let Some(failure) = fixture::outcome_failure(&committed.outcome) {
                return Err(format!("setting up the accounts: {failure}"));
            }
        }
        let fee_split = {
            let state = driver.shared.state.read().expect("state lock");
            (state.config().fee_bps, state.config().referral_bps)
        };
        Ok(EscrowServer {
            server,
            _directory: directory,
            next_nonce: vec![1; ACCOUNTS + 1],
            books: Books::new(),
            fee_split,
        })
    }

    /// Checks the books against what the workload implies. Returns a one-line summary.
    fn verify_books(&self, accounts: &Accounts) -> Result<String, String> {
        let driver = self.server.driver();
        let state = driver.shared.state.read().expect("state lock");
        state.check_invariants().map_err(|error| format!("state invariants: {error}"))?;
        let ledger = state.ledger();
        ledger.check_invariants().map_err(|error| format!("ledger invariants: {error}"))?;
        if ledger.open_escrows() != 0 || state.balance(&AccountId::EscrowHolding) != 0 {
            return Err(format!(
                "{} escrows still open, {} held",
                ledger.open_escrows(),
                state.balance(&AccountId::EscrowHolding)
            ));
        }
        let fees = state.balance(&AccountId::Fees);
        if fees != self.books.fees as i128 {
            return Err(format!("the fee account holds {fees}, expected {}", self.books.fees));
        }
        let mut wrong = 0;
        let mut first_wrong = None;
        for (index, id) in accounts.ids.iter().enumerate() {
            let initial = if index == Accounts::ROOT { 0 } else { i128::from(MINT_PER_ACCOUNT) };
            let balance = state.balance(&AccountId::Wallet(id.clone()));
            if balance != initial + self.books.deltas[index] {
                wrong += 1;
                first_wrong.get_or_insert_with(|| {
                    format!("{id} holds {balance}, expected {}", initial + self.books.deltas[index])
                });
            }
        }
        if let Some(first) = first_wrong {
            return Err(format!("{wrong} wallets hold the wrong balance; first: {first}"));
        }
        let supply = ledger.supply();
        let expected_supply = u128::from(MINT_PER_ACCOUNT) * ACCOUNTS as u128;
        if supply != expected_supply {
            return Err(format!("supply {supply}, expected {expected_supply}"));
        }
        Ok(format!(
            "books balance after {} cycles: invariants hold, 0 escrows open, fees {} = expected, referral {} paid, \
             all {} wallets = expected",
            human(self.books.cycles as f64),
            self.books.fees,
            self.books.referral,
            accounts.ids.len()
        ))
    }
}

/// Runs one load on a server and returns its measurement.
fn run_colony_load(
    bench: &Bench,
    accounts: &Arc<Accounts>,
    server: &mut EscrowServer,
    surface: Surface,
    load: EscrowLoad,
    seed: u64,
) -> Result<CycleRun, String> {
    let plans = generate(accounts, load, seed, &mut server.next_nonce, &mut server.books, server.fee_split);
    let ready = presign_locks(accounts, plans, bench.threads);
    let (sequence_before, _) = server.server.progress();
    let window = machine::CpuWindow::start();
    let mut run = bench.load.block_on(run_load(surface, Arc::clone(accounts), ready));
    let (sequence_after, _) = server.server.progress();
    run.entries = sequence_after - sequence_before;
    let every = DriverSettings::default().snapshot_every_entries;
    run.snapshots = sequence_after / every - sequence_before / every;
    run.cpu = window.finish();
    run.measurement.check("escrow cycles")?;
    Ok(run)
}

fn load_name(surface: &str, load: EscrowLoad) -> String {
    let commands =
        if load.per_envelope == 1 { "1 cmd/env".to_owned() } else { format!("×{} cmds/env", load.per_envelope) };
    format!("{surface}, {commands}, {} in flight", load.tasks)
}

/// Runs the scenario and adds its rows to the report.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    let sizes = bench.sizes.clone();
    let threads = bench.threads;
    crate::progress(SCENARIO, format!("deriving keys for {ACCOUNTS} accounts"));
    let accounts = Arc::new(Accounts::new(threads));

    // PostgreSQL runs last, but its figure is a reference of every Colony row: the Colony rows are
    // collected first and added to the report afterwards.
    let mut colony_rows: Vec<(&'static str, EscrowLoad, CycleRun)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    // The fee and referral shares of the swarm's configuration, for PostgreSQL's cycles.
    let mut fee_split = (100, 1_500);

    for (surface_name, loads) in [("driver", &sizes.escrow_driver), ("http", &sizes.escrow_http)] {
        crate::progress(SCENARIO, format!("{surface_name}: registering and funding {ACCOUNTS} referred accounts"));
        let mut server = EscrowServer::start(bench, &accounts)?;
        fee_split = server.fee_split;
        let surface = match surface_name {
            "driver" => Surface::Driver(server.server.driver()),
            _ => Surface::Http(Client::new(server.server.base_url())),
        };
        for (index, &load) in loads.iter().enumerate() {
            crate::progress(
                SCENARIO,
                format!("{}: {} cycles", load_name(surface_name, load), human(load.cycles() as f64)),
            );
            let seed = 0xe5c0_0000 + index as u64 + if surface_name == "http" { 0x100 } else { 0 };
            let run = run_colony_load(bench, &accounts, &mut server, surface.clone(), load, seed)?;
            colony_rows.push((surface_name, load, run));
        }
        let summary = server.verify_books(&accounts).map_err(|error| format!("escrow, {surface_name}: {error}"))?;
        crate::progress(SCENARIO, format!("{surface_name}: {summary}"));
        notes.push(format!("{surface_name}: {summary}"));
        server.server.stop();
    }

    crate::progress(SCENARIO, format!("PostgreSQL: {} connections", postgres::CONNECTIONS));
    let postgres = postgres::run(bench, &accounts, sizes.escrow_postgres_rounds, fee_split);
    let postgres_rate = crate::postgres::rate(SCENARIO, &postgres)?;
    for (surface_name, load, run) in &colony_rows {
        let measurement = &run.measurement;
        let mut row = Row::new(SCENARIO, load_name(surface_name, *load), measurement.commands_per_s(), "cycle/s")
            .latency(measurement.latency_us(0.5), measurement.latency_us(0.99));
        let target = if *surface_name == "driver" { TARGET_DRIVER } else { TARGET_HTTP };
        if let Some(postgres_rate) = postgres_rate {
            row = row.reference("PostgreSQL, 16 connections (this run)", postgres_rate);
        }
        row = row.reference("target", target);
        if load.per_envelope > 1 {
            row = row
                .reference("TigerBeetle, low (cited: REFERENCES.md)", TIGERBEETLE_LOW)
                .reference("TigerBeetle, high (cited: REFERENCES.md)", TIGERBEETLE_HIGH);
        }
        bench.report.row(row);
    }
    let postgres_name = format!("PostgreSQL, {} connections", postgres::CONNECTIONS);
    let anchor = [("PostgreSQL anchor (REFERENCES.md)", POSTGRES_ANCHOR)];
    if let Some(summary) =
        crate::postgres::add_row(&mut bench.report, SCENARIO, postgres_name, "cycle/s", &postgres, &anchor)
    {
        notes.push(format!("PostgreSQL: {summary}"));
    }
    if let Some(postgres_rate) = postgres_rate
        && let Some((_, load, run)) = colony_rows
            .iter()
            .filter(|(surface, _, _)| *surface == "driver")
            .max_by(|a, b| a.2.measurement.commands_per_s().total_cmp(&b.2.measurement.commands_per_s()))
    {
        let ratio = run.measurement.commands_per_s() / postgres_rate;
        notes.push(format!(
            "best driver figure ({}) is {ratio:.0}× PostgreSQL: {} the ≥ {GOAL_VS_POSTGRES:.0}× goal",
            load_name("driver", *load),
            if ratio >= GOAL_VS_POSTGRES { "meets" } else { "misses" }
        ));
    }
    for (surface_name, load, run) in &colony_rows {
        let elapsed = run.measurement.elapsed.as_secs_f64();
        notes.push(format!(
            "{}: {} cycles, {} log entries ({}) in {elapsed:.2} s; {}",
            load_name(surface_name, *load),
            run.measurement.commands,
            run.entries,
            match run.snapshots {
                0 => "no periodic snapshot among them".to_owned(),
                count => format!("≈{count} periodic snapshots among them"),
            },
            run.cpu_summary(),
        ));
    }
    notes.push(format!(
        "a cycle = one escrow locked (escrow.lock, signed by its payer) then released (escrow.release: payee gets \
         99%, fee account 85% of the 1% fee, the payer's referrer 15% of it); {ACCOUNTS} accounts, random payers \
         and payees (seeded); latency = lock envelope sent → release envelope durable and applied, for all its \
         escrows; lock envelopes pre-signed, release envelopes signed in the loop (their ids come from the locks)"
    ));
    notes.push(
        "durable with the server's default settings: every answer follows an fsync'd group commit (SQLite WAL), and \
         the writer snapshots the whole state every 100,000 log entries, inside the measurements where they fall"
            .to_owned(),
    );
    notes.push(
        "driver rows skip signature verification (the HTTP layer does it); http rows include it, plus the Rust \
         client's HTTP and JSON work on the same cores"
            .to_owned(),
    );
    notes.push(
        "PostgreSQL cycle: lock = one statement (debit if the payer can pay + insert the escrow, one transaction); \
         release = BEGIN, mark released, credit payee, referrer and fee account (ascending ids, pipelined), then \
         COMMIT; every release updates the one fee-account row, so releases queue on its row lock for one durable \
         commit each"
            .to_owned(),
    );
    notes.push(format!(
        "TigerBeetle {}–{} cycles/s and PostgreSQL ≈{} cycles/s are cited from REFERENCES.md (measured on a machine \
         of this kind), not run here",
        human(TIGERBEETLE_LOW),
        human(TIGERBEETLE_HIGH),
        human(POSTGRES_ANCHOR)
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
    fn the_split_adds_up_and_matches_the_ledger() {
        for amount in [1_000, 12_345, 999_999, 1_000_000] {
            let (payee, fees, referral) = Books::split(amount, 100, 1_500);
            assert_eq!(payee + fees + referral, amount);
            let core = colony_core::FeeSplit::compute(Amount(amount), 100, 1_500, true);
            assert_eq!((core.payee.0, core.fees.0, core.referral.0), (payee, fees, referral));
        }
    }

    #[test]
    fn the_workload_is_deterministic_and_each_payer_belongs_to_one_task() {
        let accounts = Accounts::new(2);
        let load = EscrowLoad { per_envelope: 3, tasks: 7, rounds: 5 };
        let mut nonces = vec![1; ACCOUNTS + 1];
        let mut books = Books::new();
        let plans = generate(&accounts, load, 42, &mut nonces, &mut books, (100, 1_500));
        let mut again_nonces = vec![1; ACCOUNTS + 1];
        let again = generate(&accounts, load, 42, &mut again_nonces, &mut Books::new(), (100, 1_500));
        assert_eq!(books.cycles, load.cycles());
        assert_eq!(books.deltas.iter().sum::<i128>() + books.fees as i128, 0, "money is conserved");
        let mut last_nonce = std::collections::HashMap::new();
        for plan in &plans {
            for cycle in plan {
                let previous = last_nonce.insert(cycle.payer, cycle.nonce).unwrap_or(0);
                assert!(cycle.nonce >= previous + 2, "a payer's nonces grow, leaving room for the release");
            }
        }
        for (task, (plan, same)) in plans.iter().zip(&again).enumerate() {
            assert_eq!(plan.len(), 5);
            for (cycle, same) in plan.iter().zip(same) {
                assert_eq!(cycle.payer % load.tasks, task);
                // Nonces start at the clock, so only the payers repeat exactly.
                assert_eq!(cycle.payer, same.payer);
                assert!(cycle.locks.iter().all(|lock| lock.payee != cycle.payer && lock.payee < ACCOUNTS));
            }
        }
        // Referrers are registered before the agents they refer.
        assert_eq!(accounts.referrers[0], Accounts::ROOT);
        assert!(accounts.referrers.iter().enumerate().skip(1).all(|(index, &referrer)| referrer < index));
    }
}
