//! The 10,000-auction row: `tasks` tasks open at once (over as many managers as the limit of open
//! tasks per manager needs), `bids_per_task` bids on each (over as many bidders as the limit of live
//! bids per bidder needs), every bidding window closing at the same log time. The server's clock is
//! a manual one: it stands still while the tasks are announced and bid on (so every window closes
//! at once), and the benchmark moves it past the windows. Measured: the process's resident memory
//! with everything open, and the award latency, from the moment the clock passes the windows until
//! every task is awarded (core ranks at most `AWARD_BIDS_PER_ENTRY_MAX` bids per entry, so the
//! awards spread over several entries, which the writer appends one after another).

use std::sync::Arc;
use std::time::{Duration, Instant};

use colony_core::command::{Heartbeat, PlaceBid};
use colony_core::{Amount, Command, Name, Signer, TaskState};
use colony_server::driver::{DriverHandle, DriverSettings};
use colony_server::{Clock, ManualClock, SystemClock};
use colony_wire::Envelope;

use super::workload::{MarketAgents, TaskSpec, announce_command, fraction};
use crate::Bench;
use crate::fixture::{self, BenchServer, Presigned, Surface};
use crate::machine;

/// Every auction's bidding window; the clock stands still until the benchmark moves it past it.
/// Shorter than the default heartbeat TTL (30 s), so that the bidders, heard from when they bid, are
/// still live when the windows close (an unresponsive bidder's bid is dropped).
pub const BID_WINDOW_MS: u64 = 10_000;

/// How long the benchmark waits for the awards before it calls the run broken.
const AWARD_WAIT_MAX: Duration = Duration::from_secs(300);

/// What the Colony side measured.
pub struct AuctionRun {
    /// The process's resident memory with every task and bid open.
    pub resident_mib: f64,
    /// Its growth since just before the server started.
    pub growth_mib: f64,
    /// The state alone, decoded from its snapshot in a process of its own.
    pub state_mib: f64,
    /// Placing every bid (one envelope per bidder, all in flight).
    pub bids: Duration,
    /// From the clock passing the windows until every task was awarded.
    pub award: Duration,
    /// Log entries the awards took.
    pub award_entries: u64,
}

/// Signs `commands` as the agent at `index` with `nonce` (each agent sends at most two envelopes
/// here, numbered by the caller).
fn sign(agents: &MarketAgents, index: usize, nonce: u64, commands: Vec<Command>) -> Presigned {
    let envelope = Envelope { signer: Signer::Agent(agents.ids[index].clone()), nonce, commands };
    let signed = envelope.sign(&agents.keys[index]);
    Presigned { envelope, signed, key: agents.public_keys[index] }
}

/// Tasks still open (not yet awarded).
fn open_auctions(driver: &DriverHandle) -> usize {
    let state = driver.shared.state.read().expect("state lock");
    state.market().tasks().filter(|task| task.state == TaskState::Open).count()
}

/// Sends every envelope at once; returns what each command created, envelope by envelope.
async fn send_all(surface: &Surface, envelopes: Vec<Presigned>) -> Result<Vec<Vec<fixture::Created>>, String> {
    futures_util::future::try_join_all(envelopes.into_iter().map(|presigned| surface.send(presigned))).await
}

/// Announces every task (one envelope per manager, all in flight); returns their ids.
fn announce(bench: &Bench, surface: &Surface, agents: &MarketAgents, tasks: usize) -> Result<Vec<u64>, String> {
    let layout = agents.layout;
    let mut announces: Vec<Vec<usize>> = vec![Vec::new(); layout.managers];
    for task in 0..tasks {
        announces[layout.manager(task)].push(task);
    }
    let envelopes = announces
        .iter()
        .enumerate()
        .map(|(manager, tasks)| {
            let commands = tasks
                .iter()
                .map(|task| {
                    let name = Name::new(format!("auction-{task:05}")).expect("a valid task id");
                    announce_command(name, BID_WINDOW_MS)
                })
                .collect();
            sign(agents, manager, 1, commands)
        })
        .collect();
    let created = bench.load.block_on(send_all(surface, envelopes)).map_err(|error| format!("announce: {error}"))?;
    let mut ids = vec![0u64; tasks];
    for (tasks, created) in announces.iter().zip(created) {
        for (&task, created) in tasks.iter().zip(created) {
            ids[task] = created.task.ok_or("announce: no task id in the result")?;
        }
    }
    Ok(ids)
}

/// Places every bid (one envelope per bidder, all in flight); returns how long that took.
fn place_bids(
    bench: &Bench,
    surface: &Surface,
    agents: &MarketAgents,
    specs: &[TaskSpec],
    ids: &[u64],
) -> Result<Duration, String> {
    let layout = agents.layout;
    let mut bids: Vec<Vec<Command>> = vec![Vec::new(); layout.agents()];
    for (task, spec) in specs.iter().enumerate() {
        for (slot, bid) in spec.bids.iter().enumerate() {
            bids[layout.bidder(task, slot)].push(Command::PlaceBid(PlaceBid {
                task: ids[task],
                estimated_cost: Amount(bid.cost),
                estimated_time_ms: bid.time_ms,
                confidence: fraction(bid.confidence_micros),
                capability_proof: None,
            }));
        }
    }
    let envelopes: Vec<Presigned> = bids
        .into_iter()
        .enumerate()
        .filter(|(_, commands)| !commands.is_empty())
        .map(|(bidder, commands)| sign(agents, bidder, 1, commands))
        .collect();
    let started = Instant::now();
    bench.load.block_on(send_all(surface, envelopes)).map_err(|error| format!("bid: {error}"))?;
    Ok(started.elapsed())
}

/// Checks that everything is open: every task and every bid.
fn check_open(driver: &DriverHandle, specs: &[TaskSpec]) -> Result<(), String> {
    let state = driver.shared.state.read().expect("state lock");
    let expected_bids: usize = specs.iter().map(|spec| spec.bids.len()).sum();
    let market = state.market();
    if market.open_tasks() != specs.len() as u64 || market.live_bids() != expected_bids as u64 {
        return Err(format!(
            "{} tasks and {} bids open, expected {} and {expected_bids}",
            market.open_tasks(),
            market.live_bids(),
            specs.len()
        ));
    }
    Ok(())
}

/// Moves the clock past every window and waits until every task is awarded; returns how long that
/// took.
fn close_windows(
    bench: &Bench,
    surface: &Surface,
    agents: &MarketAgents,
    clock: &ManualClock,
) -> Result<Duration, String> {
    let Surface::Driver(driver) = surface else { unreachable!("the auction row runs on the driver") };
    let mut applied = driver.shared.applied.subscribe();
    let started = Instant::now();
    // A window closes once log time is past it.
    clock.advance_ms(BID_WINDOW_MS + 1);
    // Any entry carries the new time, so the writer need not wait for its idle wake-up to notice.
    let wake = sign(agents, 0, 2, vec![Command::Heartbeat(Heartbeat {})]);
    let woken = bench.load.spawn({
        let surface = surface.clone();
        async move { surface.send(wake).await }
    });
    let awarded = async {
        while open_auctions(driver) > 0 {
            if applied.changed().await.is_err() {
                return Err("the server stopped".to_owned());
            }
        }
        Ok(started.elapsed())
    };
    let award = bench
        .load
        .block_on(async { tokio::time::timeout(AWARD_WAIT_MAX, awarded).await })
        .map_err(|_| format!("{} tasks still open after {AWARD_WAIT_MAX:?}", open_auctions(driver)))??;
    let woken = bench.load.block_on(woken).map_err(|error| format!("wake-up: {error}"))?;
    woken.map_err(|error| format!("wake-up: {error}"))?;
    Ok(award)
}

/// Checks every task's winner and price against the prediction.
fn check_winners(driver: &DriverHandle, agents: &MarketAgents, specs: &[TaskSpec], ids: &[u64]) -> Result<(), String> {
    let state = driver.shared.state.read().expect("state lock");
    for (task, spec) in specs.iter().enumerate() {
        let attempt = state.market().task(ids[task]).and_then(|task| task.current_attempt());
        let expected = &agents.ids[agents.layout.bidder(task, spec.winner)];
        match attempt {
            Some(attempt) if &attempt.winner == expected && attempt.price.0 == spec.winning().cost => {}
            other => {
                return Err(format!(
                    "task {} was not awarded to {expected} at {}: {:?}",
                    ids[task],
                    spec.winning().cost,
                    other.map(|attempt| (&attempt.winner, attempt.price))
                ));
            }
        }
    }
    Ok(())
}

/// Runs the Colony side; `specs` are the tasks, lane 0 of `agents`.
pub fn run_colony(bench: &Bench, agents: &MarketAgents, specs: &[TaskSpec]) -> Result<AuctionRun, String> {
    let baseline_mib = machine::resident_mib().ok_or("no resident memory reading (/proc/self/status)")?;
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let clock = ManualClock::new(SystemClock.now_ms());
    let server = BenchServer::start_with_clock(
        directory.path(),
        DriverSettings::default(),
        bench.threads,
        colony_log::Durability::Full,
        Arc::new(clock.clone()),
    )?;
    super::set_up(bench, &server, agents)?;
    let driver = server.driver();
    let surface = Surface::Driver(driver.clone());
    let ids = announce(bench, &surface, agents, specs.len())?;
    let bids = place_bids(bench, &surface, agents, specs, &ids)?;
    check_open(&driver, specs)?;
    let resident_mib = machine::resident_mib().ok_or("no resident memory reading")?;
    let snapshot = driver.shared.state.read().expect("state lock").encode_snapshot();
    let state_mib = machine::state_resident_mib(&snapshot)?;
    drop(snapshot);
    let (sequence_before, _) = server.progress();
    let award = close_windows(bench, &surface, agents, &clock)?;
    let (sequence_after, _) = server.progress();
    check_winners(&driver, agents, specs, &ids)?;
    server.stop();
    Ok(AuctionRun {
        resident_mib,
        growth_mib: resident_mib - baseline_mib,
        state_mib,
        bids,
        award,
        award_entries: sequence_after - sequence_before,
    })
}
