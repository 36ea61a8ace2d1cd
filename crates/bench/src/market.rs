//! The `market` scenario: full task lifecycles per second, durable, measured two ways in the same
//! run:
//!
//! 1. Colony through `DriverHandle::submit` (no HTTP, so no signature verification on the server).
//! 2. The same lifecycle as SQL transactions on the local PostgreSQL, the same number of lifecycles
//!    (skipped, with the reason, when no PostgreSQL answers at 127.0.0.1:5432).
//!
//! # One lifecycle
//!
//! A manager announces a task (`task.announce`, bidding window far beyond the run so that only the
//! manager closes it); 10 bidder agents bid at once (`task.bid`, one envelope each, all in flight
//! together); the manager awards it (`task.award`: the best bid by seed 000's score wins and its
//! price is locked from the manager's wallet in the same entry); the winner submits a result
//! (`task.submit`, which implies accepting); the manager, as verifier, scores it 0.9
//! (`task.verify`), which releases the escrow: the winner is paid, the fee account takes the fee.
//! Latency is one lifecycle: announce sent → verify durable and applied.
//!
//! Each of `groups` concurrent client tasks owns a manager and 10 bidders of its own (so each agent's
//! nonces reach the server in order) and runs its lifecycles one after another. Every envelope is
//! signed inside the loop (the task id comes from the announce's result), as a real client would;
//! the note says how much wall time that took. The client predicts the winner from the bids and
//! checks it against the award; afterwards the books are checked: invariants, no escrow open, the
//! fee account and every wallet exactly as the workload implies.

mod postgres;

use std::sync::Arc;
use std::time::{Duration, Instant};

use colony_core::bus::JsonText;
use colony_core::command::{AnnounceTask, AwardTask, Mint, PlaceBid, RegisterAgent, SubmitResult, VerifyResult};
use colony_core::{
    Accepted, AccountId, AgentId, Amount, Command, EscrowState, EventKind, FeeSplit, Fraction, Name, PublicKey, Signer,
    TaskState,
};
use colony_server::driver::{DriverHandle, DriverSettings, Submission};
use colony_wire::{Envelope, KeyPair};

use crate::Bench;
use crate::escrow::Rng;
use crate::fixture::{self, BenchServer, Measurement, Presigned, TaskTally};
use crate::machine;
use crate::report::{Row, human};

const SCENARIO: &str = "market";

/// Bidders per task, each its own agent.
pub const BIDDERS: usize = 10;

/// Every task's most it pays.
pub const MAX_COST: u64 = 1_000_000;
/// Every task's deadline from its award.
pub const DEADLINE_MS: u64 = 60_000;
/// The bidding window: far beyond any run, so that only `task.award` closes bidding.
const BID_WINDOW_MS: u64 = 3_600_000;
/// Seed 000's weights, in millionths: cost, time, confidence (reputation 0).
pub const WEIGHTS_MICROS: (u64, u64, u64) = (400_000, 300_000, 300_000);
/// Results scored below this are rejected (the default, 0.7).
pub const MIN_SCORE_MICROS: u64 = 700_000;
/// The verifier's score: a pass.
pub const VERIFY_SCORE_MICROS: u64 = 900_000;

/// What the operator mints to each manager before the lifecycles.
pub const MINT_PER_MANAGER: u64 = 10_000_000_000;

/// One bid of a lifecycle.
#[derive(Clone, Copy, Debug)]
pub struct BidSpec {
    /// What the bidder asks (distinct within a task, so no two bids tie).
    pub cost: u64,
    /// How long it says it needs.
    pub time_ms: u64,
    /// Its confidence, in millionths.
    pub confidence_micros: u64,
}

impl BidSpec {
    /// Seed 000's score, in millionths, exactly as the market computes it (floors of each term).
    pub fn score_micros(&self) -> u64 {
        let (cost, time, confidence) = WEIGHTS_MICROS;
        cost * (MAX_COST - self.cost) / MAX_COST
            + time * (DEADLINE_MS - self.time_ms) / DEADLINE_MS
            + confidence * self.confidence_micros / 1_000_000
    }
}

/// One lifecycle: its bids (bidder `b` of the group places `bids[b]`) and the winner they imply.
#[derive(Clone, Debug)]
pub struct LifecycleSpec {
    /// The bids, by bidder.
    pub bids: [BidSpec; BIDDERS],
    /// The bidder that must win: best score, then lowest cost.
    pub winner: usize,
}

impl LifecycleSpec {
    fn random(rng: &mut Rng) -> LifecycleSpec {
        // Distinct costs: ten slots of the upper 90% of the range, one bid in each, shuffled.
        let slot = MAX_COST * 9 / 10 / BIDDERS as u64;
        let mut slots: Vec<u64> = (0..BIDDERS as u64).collect();
        for index in (1..slots.len()).rev() {
            slots.swap(index, rng.below(index as u64 + 1) as usize);
        }
        let bids = std::array::from_fn(|bidder| BidSpec {
            cost: MAX_COST / 10 + slots[bidder] * slot + rng.below(slot),
            time_ms: rng.between(DEADLINE_MS / 10, DEADLINE_MS),
            confidence_micros: rng.between(500_000, 1_000_000),
        });
        let winner = best_bid(&bids);
        LifecycleSpec { bids, winner }
    }
}

/// The winning bid's index: highest score, then lowest cost.
pub fn best_bid(bids: &[BidSpec]) -> usize {
    (0..bids.len())
        .min_by_key(|&index| (std::cmp::Reverse(bids[index].score_micros()), bids[index].cost))
        .expect("at least one bid")
}

/// The agents: group `g` is manager `g * (BIDDERS + 1)` followed by its bidders.
pub struct MarketAgents {
    /// Agent ids.
    pub ids: Vec<AgentId>,
    /// Their keys.
    pub keys: Vec<KeyPair>,
    /// Their public keys.
    pub public_keys: Vec<PublicKey>,
    /// Groups.
    pub groups: usize,
}

impl MarketAgents {
    /// Agents for `groups` groups, with deterministic keys.
    pub fn new(groups: usize) -> MarketAgents {
        let ids: Vec<AgentId> = (0..groups)
            .flat_map(|group| {
                std::iter::once(format!("manager-{group:04}"))
                    .chain((0..BIDDERS).map(move |bidder| format!("bidder-{group:04}-{bidder:02}")))
            })
            .map(|id| AgentId::new(id).expect("a valid agent id"))
            .collect();
        let keys: Vec<KeyPair> = (0..ids.len())
            .map(|index| {
                let mut seed = [0x7au8; 32];
                seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
                KeyPair::from_seed(seed)
            })
            .collect();
        let public_keys = keys.iter().map(KeyPair::public_key).collect();
        MarketAgents { ids, keys, public_keys, groups }
    }

    /// The manager of `group`.
    pub fn manager(group: usize) -> usize {
        group * (BIDDERS + 1)
    }

    /// Bidder `bidder` of `group`.
    pub fn bidder(group: usize, bidder: usize) -> usize {
        MarketAgents::manager(group) + 1 + bidder
    }

    fn setup_commands(&self) -> Vec<Command> {
        let role = Name::new("scout").expect("a valid role");
        let registrations = (0..self.ids.len()).map(|index| {
            Command::RegisterAgent(RegisterAgent {
                agent: self.ids[index].clone(),
                public_key: self.public_keys[index],
                role: role.clone(),
                capabilities: Default::default(),
                weight: None,
                parent: None,
                referrer: None,
            })
        });
        let mints = (0..self.groups).map(|group| {
            Command::Mint(Mint {
                transfer_id: Name::new(format!("mint-{group:04}")).expect("a valid transfer id"),
                to: self.ids[MarketAgents::manager(group)].clone(),
                amount: Amount(MINT_PER_MANAGER),
            })
        });
        registrations.chain(mints).collect()
    }
}

/// Generates `rounds` lifecycles for each of `groups` groups.
pub fn generate(groups: usize, rounds: u64, seed: u64) -> Vec<Vec<LifecycleSpec>> {
    (0..groups)
        .map(|group| {
            let mut rng = Rng::new(seed ^ (group as u64).wrapping_mul(0xa24b_aed4_963e_e407));
            (0..rounds).map(|_| LifecycleSpec::random(&mut rng)).collect()
        })
        .collect()
}

/// What the books must say once every lifecycle is done: each agent's change, and the fees.
#[derive(Clone, Debug)]
pub struct Books {
    /// Change of each agent's wallet (agent order).
    pub deltas: Vec<i128>,
    /// Total kept by the fee account.
    pub fees: u128,
    /// Lifecycles.
    pub lifecycles: u64,
}

impl Books {
    /// The books `plans` imply under the fee share `fee_bps` (no referrers: the fee account keeps
    /// the whole fee).
    pub fn of(plans: &[Vec<LifecycleSpec>], agents: usize, fee_bps: u16) -> Books {
        let mut books = Books { deltas: vec![0; agents], fees: 0, lifecycles: 0 };
        for (group, plan) in plans.iter().enumerate() {
            for lifecycle in plan {
                let price = lifecycle.bids[lifecycle.winner].cost;
                let (to_payee, to_fees) = Books::split(price, fee_bps);
                books.deltas[MarketAgents::manager(group)] -= i128::from(price);
                books.deltas[MarketAgents::bidder(group, lifecycle.winner)] += i128::from(to_payee);
                books.fees += u128::from(to_fees);
                books.lifecycles += 1;
            }
        }
        books
    }

    /// One release's split without a referrer: (to the payee, to the fee account).
    pub fn split(amount: u64, fee_bps: u16) -> (u64, u64) {
        let split = FeeSplit::compute(Amount(amount), fee_bps, 0, false);
        (split.payee.0, split.fees.0)
    }
}

/// Signs `commands` as `agent` with its next nonce.
fn sign(agents: &MarketAgents, agent: usize, nonce: &mut u64, commands: Vec<Command>) -> Presigned {
    *nonce += 1;
    let envelope = Envelope { signer: Signer::Agent(agents.ids[agent].clone()), nonce: *nonce, commands };
    let signed = envelope.sign(&agents.keys[agent]);
    Presigned { envelope, signed, key: agents.public_keys[agent] }
}

/// Submits one envelope; returns its outcome's events, or why anything was refused.
async fn send(driver: &DriverHandle, presigned: Presigned) -> Result<(Vec<colony_core::Event>, Option<u64>), String> {
    let committed = driver.submit(presigned.into_submission()).await.map_err(|error| format!("{error:?}"))?;
    if let Some(failure) = fixture::outcome_failure(&committed.outcome) {
        return Err(failure);
    }
    let task = committed.outcome.commands.iter().find_map(|result| match result {
        Ok(Accepted::Task { task, .. }) => Some(*task),
        _ => None,
    });
    Ok((committed.outcome.events, task))
}

fn announce_command(task_id: Name) -> Command {
    Command::AnnounceTask(AnnounceTask {
        task_id,
        kind: Name::new("analyze").expect("a valid kind"),
        required_capabilities: Default::default(),
        payload: None,
        reference: None,
        max_cost: Amount(MAX_COST),
        deadline_ms: DEADLINE_MS,
        bid_window_ms: BID_WINDOW_MS,
        weights: Default::default(),
        verifier: None,
        arbiter: None,
        min_score: fraction(MIN_SCORE_MICROS),
        max_retries: 3,
        priority: 0,
        depends_on: Vec::new(),
        on_dependency_failure: Default::default(),
        payer: None,
        invited: Default::default(),
        verify_window_ms: colony_core::limits::VERIFY_WINDOW_MS_DEFAULT,
        distribution: Default::default(),
        estimated_load: colony_core::limits::TASK_LOAD_DEFAULT,
    })
}

fn fraction(micros: u64) -> Fraction {
    Fraction::from_micros(u32::try_from(micros).expect("millionths")).expect("at most one")
}

/// One group's agents and nonces, as its client task holds them.
struct Group {
    driver: DriverHandle,
    agents: Arc<MarketAgents>,
    group: usize,
    /// Next nonce of the manager, then each bidder.
    nonces: [u64; BIDDERS + 1],
    signing: Duration,
}

impl Group {
    fn sign(&mut self, slot: usize, commands: Vec<Command>) -> Presigned {
        let started = Instant::now();
        let agent = MarketAgents::manager(self.group) + slot;
        let presigned = sign(&self.agents, agent, &mut self.nonces[slot], commands);
        self.signing += started.elapsed();
        presigned
    }

    /// Runs one lifecycle; returns why it failed, if it did.
    async fn lifecycle(&mut self, name: Name, spec: &LifecycleSpec) -> Result<(), String> {
        let announce = self.sign(0, vec![announce_command(name)]);
        let (_, task) = send(&self.driver, announce).await.map_err(|error| format!("announce: {error}"))?;
        let task = task.ok_or("announce: no task id in the result")?;
        let bids: Vec<Presigned> = (0..BIDDERS)
            .map(|bidder| {
                let bid = spec.bids[bidder];
                self.sign(
                    1 + bidder,
                    vec![Command::PlaceBid(PlaceBid {
                        task,
                        estimated_cost: Amount(bid.cost),
                        estimated_time_ms: bid.time_ms,
                        confidence: fraction(bid.confidence_micros),
                        capability_proof: None,
                    })],
                )
            })
            .collect();
        let driver = &self.driver;
        futures_util::future::try_join_all(bids.into_iter().map(|bid| send(driver, bid)))
            .await
            .map_err(|error| format!("bid: {error}"))?;
        let award = self.sign(0, vec![Command::AwardTask(AwardTask { task })]);
        let (events, _) = send(&self.driver, award).await.map_err(|error| format!("award: {error}"))?;
        let (winner, price) = events
            .into_iter()
            .find_map(|event| match event.kind {
                EventKind::TaskAwarded { winner, price, .. } => Some((winner, price)),
                _ => None,
            })
            .ok_or("award: no task.awarded event")?;
        let expected = MarketAgents::bidder(self.group, spec.winner);
        if winner != self.agents.ids[expected] || price.0 != spec.bids[spec.winner].cost {
            return Err(format!("award: {winner} won at {price}, expected {}", self.agents.ids[expected]));
        }
        let submit = self.sign(
            1 + spec.winner,
            vec![Command::SubmitResult(SubmitResult {
                task,
                result: Some(JsonText::string("done")),
                reference: None,
                actual_cost: Amount(price.0 / 2),
            })],
        );
        send(&self.driver, submit).await.map_err(|error| format!("submit: {error}"))?;
        let verify =
            self.sign(0, vec![Command::VerifyResult(VerifyResult { task, score: fraction(VERIFY_SCORE_MICROS) })]);
        let (events, _) = send(&self.driver, verify).await.map_err(|error| format!("verify: {error}"))?;
        let completed = events.iter().any(|event| {
            matches!(event.kind, EventKind::TaskEnded { task: ended, state: TaskState::Completed, .. } if ended == task)
        });
        let released = events
            .iter()
            .any(|event| matches!(event.kind, EventKind::EscrowSettled { state: EscrowState::Released, .. }));
        if !(completed && released) {
            return Err("verify: the task did not complete with its escrow released".to_owned());
        }
        Ok(())
    }
}

async fn run_group(mut group: Group, load: u64, plan: Vec<LifecycleSpec>) -> (TaskTally, Duration) {
    let mut tally = TaskTally::default();
    tally.latencies_us.reserve(plan.len());
    for (round, spec) in plan.iter().enumerate() {
        let name = Name::new(format!("task-{load}-{round:05}")).expect("a valid task id");
        let started = Instant::now();
        match group.lifecycle(name, spec).await {
            Ok(()) => tally.success(started.elapsed(), 1),
            Err(error) => tally.failure(started.elapsed(), || error),
        }
    }
    (tally, group.signing)
}

/// A finished Colony load.
struct LifecycleRun {
    measurement: Measurement,
    signing: Duration,
    cores: Vec<(String, f64)>,
    others: Option<f64>,
    entries: u64,
}

/// Starts a server with the agents registered and the managers funded.
fn start_server(bench: &Bench, agents: &MarketAgents) -> Result<(BenchServer, tempfile::TempDir), String> {
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let server = BenchServer::start(directory.path(), DriverSettings::default(), bench.threads)?;
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
    Ok((server, directory))
}

fn run_colony(
    bench: &Bench,
    server: &BenchServer,
    agents: &Arc<MarketAgents>,
    plans: Vec<Vec<LifecycleSpec>>,
) -> Result<LifecycleRun, String> {
    let start_nonce = fixture::now_us();
    let (sequence_before, _) = server.progress();
    let (machine_before, threads_before) = (machine::CpuSample::now(), machine::ThreadCpu::now());
    let driver = server.driver();
    let (measurement, signing) = bench.load.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = plans
            .into_iter()
            .enumerate()
            .map(|(group, plan)| {
                let group = Group {
                    driver: driver.clone(),
                    agents: Arc::clone(agents),
                    group,
                    nonces: [start_nonce; BIDDERS + 1],
                    signing: Duration::ZERO,
                };
                tokio::spawn(run_group(group, 0, plan))
            })
            .collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        let mut signing = Duration::ZERO;
        for task in tasks {
            let (tally, task_signing) = task.await.expect("lifecycle task");
            tallies.push(tally);
            signing += task_signing;
        }
        (Measurement::from_tallies(started.elapsed(), tallies), signing)
    });
    let (sequence_after, _) = server.progress();
    let cores = threads_before.cores_until(&machine::ThreadCpu::now());
    let others = machine_before
        .zip(machine::CpuSample::now())
        .and_then(|(before, after)| before.shares_until(&after))
        .map(|(others, _)| others);
    measurement.check("task lifecycles")?;
    Ok(LifecycleRun { measurement, signing, cores, others, entries: sequence_after - sequence_before })
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
        let initial = if index.is_multiple_of(BIDDERS + 1) { i128::from(MINT_PER_MANAGER) } else { 0 };
        let balance = state.balance(&AccountId::Wallet(id.clone()));
        if balance != initial + books.deltas[index] {
            return Err(format!("{id} holds {balance}, expected {}", initial + books.deltas[index]));
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

/// Runs the scenario and adds its rows to the report.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    let (groups, rounds) = (bench.sizes.market_groups, bench.sizes.market_rounds);
    let lifecycles = groups as u64 * rounds;
    let agents = Arc::new(MarketAgents::new(groups.max(postgres::CONNECTIONS)));
    crate::progress(SCENARIO, format!("driver: registering {} agents, funding {groups} managers", agents.ids.len()));
    let (server, _directory) = start_server(bench, &agents)?;
    let fee_bps = server.driver().shared.state.read().expect("state lock").config().fee_bps;
    let plans = generate(groups, rounds, 0x3a4e_0001);
    let books = Books::of(&plans, agents.ids.len(), fee_bps);
    crate::progress(SCENARIO, format!("driver: {} lifecycles from {groups} groups", human(lifecycles as f64)));
    let colony = run_colony(bench, &server, &agents, plans)?;
    let summary = verify_books(&server, &agents, &books).map_err(|error| format!("market, driver: {error}"))?;
    crate::progress(SCENARIO, format!("driver: {summary}"));
    server.stop();

    crate::progress(SCENARIO, format!("PostgreSQL: {} connections", postgres::CONNECTIONS));
    let postgres = postgres::run(bench, &agents, lifecycles, fee_bps);
    let postgres_rate = match &postgres {
        Ok(outcome) => Some(outcome.measurement.commands_per_s()),
        Err(crate::escrow::postgres::Failure::Unreachable(_)) => None,
        Err(crate::escrow::postgres::Failure::Broken(error)) => return Err(format!("market, PostgreSQL: {error}")),
    };

    let driver_name = format!("driver, 10 bidders, {groups} tasks in flight");
    let measurement = &colony.measurement;
    let mut row = Row::new(SCENARIO, &driver_name, measurement.commands_per_s(), "task/s")
        .latency(measurement.latency_us(0.5), measurement.latency_us(0.99));
    if let Some(rate) = postgres_rate {
        row = row.reference(format!("PostgreSQL, {} connections (this run)", postgres::CONNECTIONS), rate);
    }
    bench.report.row(row);
    let postgres_name = format!("PostgreSQL, {} connections", postgres::CONNECTIONS);
    let mut notes = vec![format!("driver: {summary}")];
    match &postgres {
        Ok(outcome) => {
            let measurement = &outcome.measurement;
            bench.report.row(
                Row::new(SCENARIO, postgres_name, measurement.commands_per_s(), "task/s")
                    .latency(measurement.latency_us(0.5), measurement.latency_us(0.99)),
            );
            notes.push(format!("PostgreSQL: {}", outcome.summary));
            if let Some(rate) = postgres_rate {
                notes.push(format!("Colony / PostgreSQL = {:.1}×", colony.measurement.commands_per_s() / rate));
            }
        }
        Err(crate::escrow::postgres::Failure::Unreachable(reason)) => {
            let line = format!("skipped: PostgreSQL not reachable at {} ({reason})", crate::escrow::postgres::ADDRESS);
            crate::progress(SCENARIO, &line);
            bench.report.row(Row::skipped(SCENARIO, postgres_name, line));
        }
        Err(crate::escrow::postgres::Failure::Broken(_)) => unreachable!("returned above"),
    }
    let threads: Vec<String> = colony
        .cores
        .iter()
        .filter(|(_, cores)| *cores >= 0.01)
        .map(|(name, cores)| format!("{name} {cores:.2}"))
        .collect();
    notes.push(format!(
        "driver: {} lifecycles, {} log entries in {:.2} s; cores used: {} (wall time inside the client's signing: \
         {:.2}){}",
        measurement.commands,
        colony.entries,
        measurement.elapsed.as_secs_f64(),
        threads.join(", "),
        colony.signing.as_secs_f64() / measurement.elapsed.as_secs_f64(),
        colony
            .others
            .map_or_else(String::new, |others| format!("; other processes took {:.0}% of the machine", others * 100.0)),
    ));
    notes.push(
        "a lifecycle = task.announce (manager) → 10 task.bid at once (10 bidder agents, one envelope each) → \
         task.award (manager: best score wins, its price locked in escrow in the same entry) → task.submit (winner) \
         → task.verify 0.9 (manager, the verifier: escrow released, fee to the fee account); 14 durable envelopes, \
         5 sequential round trips; latency = announce sent → verify durable and applied; every envelope signed in \
         the loop"
            .to_owned(),
    );
    notes.push(
        "PostgreSQL lifecycle: the same steps, one transaction each (10 bids = 10 single-statement transactions \
         pipelined on the group's connection); bid validity (task open, not the manager's, cost within max_cost, \
         time within the deadline) checked in SQL; award + lock = the best bid by the same integer score, task \
         marked awarded, manager's wallet debited if it can pay, escrow inserted; release = task completed (score \
         ≥ minimum), escrow released, payee and fee account credited; synchronous_commit = on"
            .to_owned(),
    );
    for note in notes {
        bench.report.note(SCENARIO, note);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bids_never_tie_and_the_winner_has_the_best_score() {
        for plan in generate(4, 50, 9) {
            for lifecycle in plan {
                let mut costs: Vec<u64> = lifecycle.bids.iter().map(|bid| bid.cost).collect();
                costs.sort_unstable();
                costs.dedup();
                assert_eq!(costs.len(), BIDDERS);
                assert!(costs.iter().all(|&cost| 0 < cost && cost <= MAX_COST));
                let best = lifecycle.bids[lifecycle.winner].score_micros();
                assert!(lifecycle.bids.iter().all(|bid| bid.score_micros() <= best));
            }
        }
    }

    #[test]
    fn the_score_floors_each_weighted_term() {
        // 0.4 × (1 − 0.2) + 0.3 × (1 − 30 s / 60 s) + 0.3 × 0.9 = 0.32 + 0.15 + 0.27.
        let bid = BidSpec { cost: 200_000, time_ms: 30_000, confidence_micros: 900_000 };
        assert_eq!(bid.score_micros(), 740_000);
        // 0.4 × (1 − 333,333 / 1,000,000) = 0.2666668 floors to 266,666; a third of 0.3 floors to 100,000.
        let bid = BidSpec { cost: 333_333, time_ms: 40_000, confidence_micros: 0 };
        assert_eq!(bid.score_micros(), 266_666 + 100_000);
        let bid = BidSpec { cost: MAX_COST, time_ms: DEADLINE_MS, confidence_micros: 1_000_000 };
        assert_eq!(bid.score_micros(), 300_000);
    }

    #[test]
    fn the_books_conserve_money() {
        let plans = generate(3, 20, 5);
        let books = Books::of(&plans, MarketAgents::new(3).ids.len(), 100);
        assert_eq!(books.lifecycles, 60);
        assert_eq!(books.deltas.iter().sum::<i128>() + books.fees as i128, 0);
        let (payee, fees) = Books::split(123_456, 100);
        assert_eq!((payee, fees), (122_222, 1_234));
    }
}
