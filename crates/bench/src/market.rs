//! The `market` scenario, durable, in two parts measured beside PostgreSQL in the same run:
//!
//! 1. Full task lifecycles per second (announce, 10 bids from 10 bidder agents, award locking the
//!    price in escrow, submit, verify releasing it), run as waves over many tasks at once (see
//!    [`waves`]): through `DriverHandle::submit` (no HTTP, so no signature verification on the
//!    server), through `POST /v1/batch` with the Rust client (the server decodes and verifies), and
//!    the same lifecycles as SQL on the local PostgreSQL, shaped the same way (see [`postgres`]).
//! 2. 10,000 auctions open at once with 100 bids each, every window closing at the same log time
//!    (see [`auction`]): the resident memory and the award latency, beside the same bids in
//!    PostgreSQL awarded by one ranking statement (its tables' size and its time).
//!
//! PostgreSQL rows are skipped, with the reason, when no PostgreSQL answers at 127.0.0.1:5432. The
//! client predicts every winner and both sides are checked against it; afterwards the books are
//! checked: invariants, no escrow open, the fee account and every wallet exactly as the workload
//! implies.

mod auction;
mod postgres;
mod waves;
pub mod workload;

use std::sync::Arc;

use colony_core::AccountId;
use colony_core::Signer;
use colony_server::driver::{DriverSettings, Submission};
use colony_wire::Envelope;

use crate::Bench;
use crate::fixture::{self, BenchServer, Surface};
use crate::machine;
use crate::report::{Row, format_latency, human};
use workload::{Books, Layout, MarketAgents};

const SCENARIO: &str = "market";

/// Bids on each task of the lifecycle rows, each from its own bidder agent.
pub const BIDDERS: usize = 10;
/// Bids on each task of the auction row.
pub const AUCTION_BIDS: usize = 100;

/// Lifecycles per second through HTTP batches the market aims at.
const TARGET_HTTP: f64 = 20_000.0;
/// Colony should beat PostgreSQL, one transaction per command, by this much.
const GOAL_VS_POSTGRES: f64 = 50.0;
/// Tasks per wave and lane of the PostgreSQL row with one transaction per command: one round of
/// them over every lane, since that row runs at a few hundred lifecycles a second.
const PER_COMMAND_TASKS: usize = 100;

/// A finished Colony lifecycle run.
struct LifecycleRun {
    waves: waves::WaveRun,
    cpu: machine::CpuUse,
    entries: u64,
    summary: String,
}

/// Registers the agents and funds the managers, with operator batch envelopes.
fn set_up(bench: &Bench, server: &BenchServer, agents: &MarketAgents) -> Result<(), String> {
    let operator = server.operator_key()?;
    let driver = server.driver();
    for (index, chunk) in agents.setup_commands().chunks(5_000).enumerate() {
        let envelope = Envelope { signer: Signer::Operator, nonce: index as u64 + 1, commands: chunk.to_vec() };
        let signed = envelope.sign(&operator);
        let submission = Submission { envelope, signed, verified_key: operator.public_key() };
        let committed =
            bench.load.block_on(driver.submit(submission)).map_err(|error| format!("setting up: {error:?}"))?;
        if let Some(failure) = fixture::outcome_failure(&committed.outcome) {
            return Err(format!("setting up the agents: {failure}"));
        }
    }
    Ok(())
}

/// Starts a server with the agents registered and the managers funded.
fn start_server(bench: &Bench, agents: &MarketAgents) -> Result<(BenchServer, tempfile::TempDir), String> {
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let server = BenchServer::start(directory.path(), DriverSettings::default(), bench.threads)?;
    set_up(bench, &server, agents)?;
    Ok((server, directory))
}

/// Checks the server's books against `books`. Returns a one-line summary.
fn verify_books(server: &BenchServer, agents: &MarketAgents, books: &Books) -> Result<String, String> {
    let driver = server.driver();
    let state = driver.shared.state.read().expect("state lock");
    state.check_invariants().map_err(|error| format!("state invariants: {error}"))?;
    let ledger = state.ledger();
    ledger.check_invariants().map_err(|error| format!("ledger invariants: {error}"))?;
    if ledger.open_escrows() != 0 || state.balance(&AccountId::EscrowHolding) != 0 {
        return Err(format!("{} escrows still open", ledger.open_escrows()));
    }
    let fees = state.balance(&AccountId::Fees);
    if fees != books.fees as i128 {
        return Err(format!("the fee account holds {fees}, expected {}", books.fees));
    }
    for (index, id) in agents.ids.iter().enumerate() {
        let balance = state.balance(&AccountId::Wallet(id.clone()));
        if balance != books.expected_balance(agents, index) {
            return Err(format!("{id} holds {balance}, expected {}", books.expected_balance(agents, index)));
        }
    }
    Ok(format!(
        "books balance after {} lifecycles: invariants hold, 0 escrows open, fees {} = expected, all {} wallets = \
         expected, every award went to the predicted bid",
        human(books.lifecycles as f64),
        books.fees,
        agents.ids.len()
    ))
}

/// Runs the lifecycles on a fresh server through `surface_name` (`driver` or `http`).
fn run_colony(bench: &Bench, surface_name: &str, layout: Layout, seed: u64) -> Result<(LifecycleRun, u16), String> {
    let (lanes, rounds) = (bench.sizes.market_lanes, bench.sizes.market_rounds);
    let agents = Arc::new(MarketAgents::new(lanes, layout));
    crate::progress(SCENARIO, format!("{surface_name}: registering {} agents", agents.ids.len()));
    let (server, _directory) = start_server(bench, &agents)?;
    let fee_bps = server.driver().shared.state.read().expect("state lock").config().fee_bps;
    let plans = workload::generate(lanes, rounds, layout, seed);
    let books = Books::of(&plans, &agents, fee_bps);
    crate::progress(
        SCENARIO,
        format!(
            "{surface_name}: {} lifecycles, {lanes} lanes × {} tasks per wave",
            human(books.lifecycles as f64),
            layout.tasks
        ),
    );
    let surface = match surface_name {
        "driver" => Surface::Driver(server.driver()),
        _ => Surface::Http(colony_client::Client::new(server.base_url())),
    };
    let (sequence_before, _) = server.progress();
    let window = machine::CpuWindow::start();
    // Nonces start at the current time: the HTTP endpoints refuse those far from the server's clock.
    let waves = bench.load.block_on(waves::run(surface, Arc::clone(&agents), plans, fixture::now_us()));
    let cpu = window.finish();
    let (sequence_after, _) = server.progress();
    waves.measurement.check("task lifecycles")?;
    let summary = verify_books(&server, &agents, &books).map_err(|error| format!("market, {surface_name}: {error}"))?;
    crate::progress(SCENARIO, format!("{surface_name}: {summary}"));
    server.stop();
    Ok((LifecycleRun { waves, cpu, entries: sequence_after - sequence_before, summary }, fee_bps))
}

/// Runs the scenario and adds its rows to the report.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    // The auction row first: its resident memory is read with nothing of the other rows resident.
    run_auction(bench)?;
    let layout = Layout::new(bench.sizes.market_tasks_per_wave, BIDDERS);
    let (driver, fee_bps) = run_colony(bench, "driver", layout, 0x3a4e_0001)?;
    let (http, _) = run_colony(bench, "http", layout, 0x3a4e_0002)?;

    let lifecycles = driver.waves.measurement.commands;
    crate::progress(
        SCENARIO,
        format!("PostgreSQL: {} lanes (connections), a statement per agent step", postgres::CONNECTIONS),
    );
    let postgres = postgres::run(bench, layout, lifecycles, fee_bps, postgres::Shape::AgentStep);
    let postgres_rate = crate::postgres::rate(SCENARIO, &postgres)?;
    let per_command_layout = Layout::new(PER_COMMAND_TASKS, BIDDERS);
    let per_command_lifecycles = (postgres::CONNECTIONS * PER_COMMAND_TASKS) as u64;
    crate::progress(
        SCENARIO,
        format!(
            "PostgreSQL: {} lanes, a transaction per command, {per_command_lifecycles} lifecycles",
            postgres::CONNECTIONS
        ),
    );
    let per_command =
        postgres::run(bench, per_command_layout, per_command_lifecycles, fee_bps, postgres::Shape::Command);
    let per_command_rate = crate::postgres::rate(SCENARIO, &per_command)?;

    let shape = format!("{} lanes × {} tasks per wave", bench.sizes.market_lanes, layout.tasks);
    let mut notes = Vec::new();
    for (surface_name, run) in [("driver", &driver), ("http", &http)] {
        let measurement = &run.waves.measurement;
        let mut row = Row::new(SCENARIO, format!("{surface_name}, {shape}"), measurement.commands_per_s(), "task/s")
            .latency(measurement.latency_us(0.5), measurement.latency_us(0.99));
        if let Some(rate) = postgres_rate {
            row =
                row.reference(format!("PostgreSQL, a statement per agent step, {} lanes", postgres::CONNECTIONS), rate);
        }
        if let Some(rate) = per_command_rate {
            row =
                row.reference(format!("PostgreSQL, a transaction per command, {} lanes", postgres::CONNECTIONS), rate);
        }
        if surface_name == "http" {
            row = row.reference("target", TARGET_HTTP);
        }
        bench.report.row(row);
        let waves: Vec<String> = waves::WAVES
            .iter()
            .zip(&run.waves.waves_us)
            .map(|(wave, durations)| format!("{wave} {}", format_latency(fixture::nearest_rank(durations, 0.5))))
            .collect();
        notes.push(format!("{surface_name}: {}", run.summary));
        notes.push(format!(
            "{surface_name}: {} lifecycles, {} log entries in {:.2} s; median wave: {}; {} (wall time inside the \
             client's signing: {:.2})",
            measurement.commands,
            run.entries,
            measurement.elapsed.as_secs_f64(),
            waves.join(", "),
            run.cpu.summary(),
            run.waves.signing.as_secs_f64() / measurement.elapsed.as_secs_f64(),
        ));
    }
    let postgres_name = format!(
        "PostgreSQL, a statement per agent step, {} lanes × {} tasks per wave",
        postgres::CONNECTIONS,
        layout.tasks
    );
    if let Some(summary) =
        crate::postgres::add_row(&mut bench.report, SCENARIO, postgres_name, "task/s", &postgres, &[])
    {
        notes.push(format!("PostgreSQL, a statement per agent step: {summary}"));
    }
    let per_command_name =
        format!("PostgreSQL, a transaction per command, {} lanes × {PER_COMMAND_TASKS} tasks", postgres::CONNECTIONS);
    if let Some(summary) =
        crate::postgres::add_row(&mut bench.report, SCENARIO, per_command_name, "task/s", &per_command, &[])
    {
        notes.push(format!("PostgreSQL, a transaction per command: {summary}"));
    }
    for (surface_name, run) in [("driver", &driver), ("http", &http)] {
        let rate = run.waves.measurement.commands_per_s();
        if let Some(per_command) = per_command_rate {
            let ratio = rate / per_command;
            notes.push(format!(
                "{surface_name} / PostgreSQL with a transaction per command = {ratio:.1}×: {} the ≥ \
                 {GOAL_VS_POSTGRES:.0}× goal",
                if ratio >= GOAL_VS_POSTGRES { "meets" } else { "misses" }
            ));
        }
        if let Some(agent_step) = postgres_rate {
            notes.push(format!(
                "{surface_name} / PostgreSQL batched as Colony is (a statement per agent step) = {:.1}×",
                rate / agent_step
            ));
        }
    }
    notes.extend(shape_notes(http.waves.measurement.commands_per_s(), layout));
    for note in notes {
        bench.report.note(SCENARIO, note);
    }
    Ok(())
}

/// The notes on the target and on what a lifecycle is, on both sides.
fn shape_notes(http_rate: f64, layout: Layout) -> Vec<String> {
    let mut notes = Vec::new();
    notes.push(format!(
        "http: {} lifecycles/s {} the {} target ({:.0}% of it)",
        human(http_rate),
        if http_rate >= TARGET_HTTP { "meets" } else { "misses" },
        human(TARGET_HTTP),
        http_rate / TARGET_HTTP * 100.0
    ));
    notes.push(format!(
        "a lifecycle = task.announce (manager) → {BIDDERS} task.bid (distinct bidder agents) → task.award (manager: \
         best score wins, its price locked in escrow in the same entry) → task.submit (winner) → task.verify 0.9 \
         (manager, the verifier: escrow released, fee to the fee account); run as rounds of five waves over {} \
         tasks per lane: each agent signs one envelope per wave carrying its step on all its tasks ({} managers of \
         ≤ {} tasks, {} bidders of ≤ {} bids per lane, within the limits of 1,000 open tasks per manager and \
         1,000 live bids per bidder), all of a wave's envelopes in flight together; latency = one round (announce \
         wave sent → verify wave durable and applied); every envelope signed in the round",
        layout.tasks,
        layout.managers,
        workload::TASKS_PER_MANAGER,
        layout.bidders,
        workload::BIDS_PER_BIDDER,
    ));
    notes.push(
        "PostgreSQL lifecycle: the same lanes, rounds and waves, each agent's step one statement over arrays (its \
         own durable transaction, as each envelope is its own log entry), a wave's statements pipelined on the \
         lane's connection; bid validity checked in SQL; award + lock = each task's best bid by the same integer \
         score (DISTINCT ON), tasks marked awarded, the manager's wallet debited if it can pay, escrows inserted; \
         verify + release = tasks completed (score ≥ minimum), escrows released, payees and the fee account \
         credited with the ledger's floor split; the funding check at announce is not modelled (it favours \
         PostgreSQL)"
            .to_owned(),
    );
    notes.push(format!(
        "PostgreSQL, a transaction per command: the same statements over one task or one bid each (so 14 \
         durable transactions per lifecycle), awaited one after another on each of the {} lanes' connections, \
         as a service does when each agent's request is its own transaction; one round of {PER_COMMAND_TASKS} \
         tasks per lane",
        postgres::CONNECTIONS
    ));
    notes
}

/// The 10,000 open auctions × 100 bids: Colony's memory and award latency beside PostgreSQL's tables
/// and ranking statement.
fn run_auction(bench: &mut Bench) -> Result<(), String> {
    let tasks = bench.sizes.market_auction_tasks;
    let layout = Layout::new(tasks, AUCTION_BIDS);
    let agents = MarketAgents::new(1, layout);
    let specs: Vec<workload::TaskSpec> =
        workload::generate(1, 1, layout, 0x0a0c_7104).into_iter().flatten().flatten().collect();
    let shape = format!("{} open auctions × {AUCTION_BIDS} bids", human(tasks as f64));
    crate::progress(
        SCENARIO,
        format!(
            "auction: {shape} ({} managers, {} bidders), all windows closing at once",
            layout.managers, layout.bidders
        ),
    );
    let colony = auction::run_colony(bench, &agents, &specs)?;
    crate::progress(SCENARIO, format!("auction: PostgreSQL, the same {shape}"));
    let postgres = postgres::auction(bench, &agents, &specs);
    if let Err(crate::postgres::Failure::Broken(error)) = &postgres {
        return Err(format!("market auction, PostgreSQL: {error}"));
    }
    let postgres = postgres.ok();

    let award_ms = colony.award.as_secs_f64() * 1_000.0;
    let mut row = Row::new(SCENARIO, format!("award latency, {shape}, windows closing at once"), award_ms, "ms");
    if let Some(outcome) = &postgres {
        let postgres_ms = outcome.award.as_secs_f64() * 1_000.0;
        row = row.reference("PostgreSQL, one ranking statement, this run (lower is better)", postgres_ms);
    }
    bench.report.row(row);
    bench.report.row(Row::new(SCENARIO, format!("resident memory, {shape}"), colony.resident_mib, "MiB"));
    let mut row = Row::new(SCENARIO, "  growth since the server started", colony.growth_mib, "MiB");
    if let Some(outcome) = &postgres {
        let table_mib = outcome.table_bytes as f64 / (1 << 20) as f64;
        row = row.reference("PostgreSQL tables + indexes, this run (lower is better)", table_mib);
    }
    bench.report.row(row);
    let mut row = Row::new(SCENARIO, "  the state alone, in a process of its own", colony.state_mib, "MiB");
    if let Some(outcome) = &postgres {
        let table_mib = outcome.table_bytes as f64 / (1 << 20) as f64;
        row = row.reference("PostgreSQL tables + indexes, this run (lower is better)", table_mib);
    }
    bench.report.row(row);
    let bids = (tasks * AUCTION_BIDS) as f64;
    let mut notes = vec![format!(
        "auction: the state alone = the server's state with every task and bid open, decoded from its \
         snapshot by a process of its own that holds nothing else ({:.0} bytes per open bid, tasks and agents \
         included; maps rebuilt by decoding are packed fuller than maps grown bid by bid, so a server that took \
         the bids live can hold more); the growth above also counts the benchmark's client, its signed envelopes \
         and what the allocator kept after they were freed",
        colony.state_mib * (1 << 20) as f64 / bids
    )];
    notes.push(format!(
        "auction: {} managers (≤ {} open tasks each) and {} bidders (≤ {} live bids each), every window {} s, \
         closing at the same log time (the server's clock is a manual one, moved past the windows by the \
         benchmark); award latency = clock moved → every task awarded ({} log entries, the entry that carried \
         the new time included); every award went to the predicted bid; placing the bids (one envelope per \
         bidder, all in flight) took {:.2} s",
        layout.managers,
        workload::TASKS_PER_MANAGER,
        layout.bidders,
        workload::BIDS_PER_BIDDER,
        auction::BID_WINDOW_MS / 1_000,
        colony.award_entries,
        colony.bids.as_secs_f64(),
    ));
    match &postgres {
        Some(outcome) => notes.push(format!(
            "auction, {}: bids inserted in {:.2} s (one statement per bidder over {} connections); tables + indexes \
             {:.1} MiB; one statement ranked every bid (DISTINCT ON by the same integer score), marked the tasks \
             awarded, debited the managers and inserted the escrows in {:.0} ms; Colony's award latency / \
             PostgreSQL's = {:.2}×; Colony's resident growth / PostgreSQL's tables = {:.2}×; Colony's state \
             alone / PostgreSQL's tables = {:.2}×",
            outcome.settings,
            outcome.bids.as_secs_f64(),
            postgres::CONNECTIONS,
            outcome.table_bytes as f64 / (1 << 20) as f64,
            outcome.award.as_secs_f64() * 1_000.0,
            colony.award.as_secs_f64() / outcome.award.as_secs_f64(),
            colony.growth_mib / (outcome.table_bytes as f64 / (1 << 20) as f64),
            colony.state_mib / (outcome.table_bytes as f64 / (1 << 20) as f64),
        )),
        None => notes.push(format!("auction: PostgreSQL not reachable at {}", crate::postgres::ADDRESS)),
    }
    for note in notes {
        bench.report.note(SCENARIO, note);
    }
    Ok(())
}
