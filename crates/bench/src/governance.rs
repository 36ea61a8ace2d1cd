//! The `governance` scenario: signed ballots on one proposal through HTTP, and the close of that
//! proposal, beside PostgreSQL in the same run and beside this machine's batch-verification ceiling
//! measured around the ballots.
//!
//! One proposal, an approval vote over [`OPTIONS`] options, open to every registered agent (10,000
//! in a full run, the largest electorate a proposal may have) with equal weights. Every voter signs
//! one envelope holding its `ballot.cast` (a ballot is its voter's signed command, so there is one
//! signature per ballot), all signed before the clock starts and posted to `/v1/commands` with
//! [`IN_FLIGHT`] requests in flight: the server decodes each envelope, verifies its signature and
//! applies it. An option vote is never settled early, so the proposal stays open until the
//! benchmark moves the server's manual clock past its deadline; the close latency runs from that
//! moment until the proposal is closed, tallied and sealed (the SHA-256 over every ballot, chained).
//!
//! PostgreSQL (see [`postgres`]): the same ballots as one durable transaction each over 16
//! connections, each checked against an electorate table, and the close as one transaction that
//! marks the proposal closed, tallies the options and digests every ballot in voter order.
//! PostgreSQL verifies no signature, which favours it. Both tallies are checked against the
//! expected totals.

mod postgres;

use std::sync::Arc;
use std::time::{Duration, Instant};

use colony_core::governance::Counts;
use colony_core::{Command, ProposalState, Signer, limits};
use colony_server::driver::{DriverHandle, DriverSettings};
use colony_server::{Clock, ManualClock, SystemClock};
use colony_wire::Envelope;

use crate::Bench;
use crate::ceiling::Spot;
use crate::fixture::{Agents, BenchServer, Presigned, Surface};
use crate::report::{Row, human};

const SCENARIO: &str = "governance";

/// Options of the approval vote.
pub const OPTIONS: u32 = 4;
/// Requests in flight while the ballots are posted.
const IN_FLIGHT: usize = 64;
/// The proposal's voting time; the manual clock stands still until the benchmark moves it past.
const VOTING_MS: u64 = 600_000;
/// Ballots per second through HTTP should reach this share of the batch-verification ceiling.
const TARGET_SHARE_OF_BATCH_CEILING: f64 = 0.6;
/// How long the benchmark waits for the close before it calls the run broken.
const CLOSE_WAIT_MAX: Duration = Duration::from_secs(120);

/// The options voter `voter` approves: a non-empty subset that cycles through all fifteen.
pub fn approved_options(voter: usize) -> Vec<u32> {
    let mask = voter % 15 + 1;
    (0..OPTIONS).filter(|option| mask & (1 << option) != 0).collect()
}

/// The approval weight each option must end with: equal weights, one per approving voter.
pub fn expected_totals(voters: usize) -> Vec<u128> {
    let mut totals = vec![0u128; OPTIONS as usize];
    for voter in 0..voters {
        for option in approved_options(voter) {
            totals[option as usize] += u128::from(limits::WEIGHT_ONE);
        }
    }
    totals
}

fn command(value: serde_json::Value) -> Command {
    serde_json::from_value(value).expect("a well-formed command")
}

fn sign(agents: &mut Agents, voter: usize, commands: Vec<Command>) -> Presigned {
    let nonce = agents.take_nonces(voter, 1);
    let envelope = Envelope { signer: Signer::Agent(agents.id(voter).clone()), nonce, commands };
    let signed = envelope.sign(agents.key(voter));
    Presigned { envelope, signed, key: agents.key(voter).public_key() }
}

/// What the Colony side measured.
struct ColonyRun {
    ballots: crate::fixture::Measurement,
    /// The batch-verification ceiling just before and just after the ballots.
    ceiling_before: f64,
    ceiling_after: f64,
    close: Duration,
    close_entries: u64,
    seal: String,
}

/// Creates the proposal as voter 0 and answers its id.
fn create_proposal(bench: &Bench, driver: &DriverHandle, agents: &mut Agents) -> Result<u64, String> {
    let create = command(serde_json::json!({
        "type": "proposal.create", "proposal_id": "bench", "title": "Which strategies get capital",
        "vote_type": {"approval": {"options": OPTIONS}}, "quorum": "none", "weight_source": "equal",
        "voting_ms": VOTING_MS
    }));
    let presigned = sign(agents, 0, vec![create]);
    bench.load.block_on(Surface::Driver(driver.clone()).send(presigned)).map_err(|error| format!("create: {error}"))?;
    let state = driver.shared.state.read().expect("state lock");
    let proposal = state.governance().proposals().next_back().ok_or("no proposal after proposal.create")?;
    if proposal.electorate.len() != agents.len() {
        return Err(format!("an electorate of {} for {} agents", proposal.electorate.len(), agents.len()));
    }
    Ok(proposal.id)
}

/// Every voter's ballot envelope, dealt round-robin into [`IN_FLIGHT`] plans.
fn ballot_plans(agents: &mut Agents, proposal: u64) -> Vec<Vec<Presigned>> {
    let mut plans: Vec<Vec<Presigned>> = (0..IN_FLIGHT).map(|_| Vec::new()).collect();
    for voter in 0..agents.len() {
        let ballot = command(serde_json::json!({
            "type": "ballot.cast", "proposal": proposal, "choice": {"approve": approved_options(voter)}
        }));
        plans[voter % IN_FLIGHT].push(sign(agents, voter, vec![ballot]));
    }
    plans
}

fn proposal_state(driver: &DriverHandle, proposal: u64) -> Option<(ProposalState, usize)> {
    let state = driver.shared.state.read().expect("state lock");
    state.governance().proposal(proposal).map(|proposal| (proposal.state, proposal.ballots.len()))
}

/// Moves the clock past the deadline and waits until the proposal is closed; returns how long that
/// took and the log entries it spanned.
fn close(
    bench: &Bench,
    server: &BenchServer,
    clock: &ManualClock,
    agents: &mut Agents,
    proposal: u64,
) -> Result<(Duration, u64), String> {
    let driver = server.driver();
    let mut applied = driver.shared.applied.subscribe();
    let (sequence_before, _) = server.progress();
    let started = Instant::now();
    clock.advance_ms(VOTING_MS + 1);
    // Any entry carries the new time, so the writer need not wait for its idle wake-up to notice.
    let wake = sign(agents, 0, vec![command(serde_json::json!({"type": "agent.heartbeat"}))]);
    let woken = bench.load.spawn({
        let surface = Surface::Driver(driver.clone());
        async move { surface.send(wake).await }
    });
    let closed = async {
        while proposal_state(&driver, proposal).is_some_and(|(state, _)| state == ProposalState::Open) {
            if applied.changed().await.is_err() {
                return Err("the server stopped".to_owned());
            }
        }
        Ok(started.elapsed())
    };
    let elapsed = bench
        .load
        .block_on(async { tokio::time::timeout(CLOSE_WAIT_MAX, closed).await })
        .map_err(|_| format!("the proposal is still open after {CLOSE_WAIT_MAX:?}"))??;
    bench.load.block_on(woken).map_err(|error| format!("wake-up: {error}"))??;
    let (sequence_after, _) = server.progress();
    Ok((elapsed, sequence_after - sequence_before))
}

/// Checks the sealed tally against the expected totals; answers the seal.
fn check_decision(driver: &DriverHandle, proposal: u64, voters: usize) -> Result<String, String> {
    let state = driver.shared.state.read().expect("state lock");
    let proposal = state.governance().proposal(proposal).ok_or("the proposal is gone")?;
    let decision = proposal.decision.as_ref().ok_or("closed without a decision")?;
    let Counts::Options(counts) = &decision.tally.counts else {
        return Err(format!("an approval vote tallied as {:?}", decision.tally.counts));
    };
    if counts.totals != expected_totals(voters) || decision.tally.ballots as usize != voters {
        return Err(format!(
            "tally {:?} over {} ballots, expected {:?} over {voters}",
            counts.totals,
            decision.tally.ballots,
            expected_totals(voters)
        ));
    }
    Ok(decision.seal.to_string())
}

fn run_colony(bench: &Bench, agents: &mut Agents) -> Result<ColonyRun, String> {
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let clock = ManualClock::new(SystemClock.now_ms());
    let server = BenchServer::start_with_clock(
        directory.path(),
        DriverSettings::default(),
        bench.threads,
        colony_log::Durability::Full,
        Arc::new(clock.clone()),
    )?;
    server.register(&bench.load, agents)?;
    let driver = server.driver();
    let proposal = create_proposal(bench, &driver, agents)?;
    crate::progress(SCENARIO, format!("signing {} ballots", human(agents.len() as f64)));
    let plans = ballot_plans(agents, proposal);
    crate::progress(SCENARIO, format!("POST /v1/commands, {IN_FLIGHT} in flight"));
    let client = colony_client::Client::new(server.base_url());
    let ceiling_before = bench.spot(Spot::Batch);
    let ballots = bench.load.block_on(crate::http::post_plans(client, "/v1/commands", plans));
    let ceiling_after = bench.spot(Spot::Batch);
    ballots.check("governance, ballots")?;
    match proposal_state(&driver, proposal) {
        Some((ProposalState::Open, cast)) if cast == agents.len() => {}
        other => return Err(format!("after the ballots the proposal is {other:?}, expected open with every ballot")),
    }
    crate::progress(SCENARIO, "closing the proposal");
    let (close, close_entries) = close(bench, &server, &clock, agents, proposal)?;
    let seal = check_decision(&driver, proposal, agents.len())?;
    server.stop();
    Ok(ColonyRun { ballots, ceiling_before, ceiling_after, close, close_entries, seal })
}

/// Runs the scenario and adds its rows to the report.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    let voters = bench.sizes.governance_voters;
    let mut agents = Agents::new(voters);
    crate::progress(SCENARIO, format!("{} voters, approval over {OPTIONS} options", human(voters as f64)));
    let colony = run_colony(bench, &mut agents)?;
    crate::progress(SCENARIO, format!("PostgreSQL: the same ballots, {} connections", postgres::CONNECTIONS));
    let sql = bench.load.block_on(postgres::run(voters));
    let sql_rate = match &sql {
        Ok(run) => Some(run.ballots.commands_per_s()),
        Err(crate::postgres::Failure::Unreachable(_)) => None,
        Err(crate::postgres::Failure::Broken(error)) => return Err(format!("{SCENARIO}, PostgreSQL: {error}")),
    };

    let ceiling = (colony.ceiling_before + colony.ceiling_after) / 2.0;
    let measurement = &colony.ballots;
    let rate = measurement.commands_per_s();
    let shape = format!("{} voters, {IN_FLIGHT} in flight", human(voters as f64));
    let mut row = Row::new(SCENARIO, format!("signed ballots (/v1/commands), {shape}"), rate, "ballot/s")
        .latency(measurement.latency_us(0.5), measurement.latency_us(0.99));
    if let Some(sql_rate) = sql_rate {
        row = row.reference(format!("PostgreSQL, a transaction per ballot, {} conns", postgres::CONNECTIONS), sql_rate);
    }
    row = row.reference(format!("verify_batch, {} thr, measured around it", bench.threads), ceiling);
    row = row.reference("target: 60% of that ceiling", ceiling * TARGET_SHARE_OF_BATCH_CEILING);
    bench.report.row(row);
    let close_ms = colony.close.as_secs_f64() * 1_000.0;
    let mut row =
        Row::new(SCENARIO, format!("close latency, {} voters, tally + seal", human(voters as f64)), close_ms, "ms");
    if let Ok(run) = &sql {
        row = row.reference("PostgreSQL, one closing transaction (lower is better)", run.close.as_secs_f64() * 1_000.0);
    }
    bench.report.row(row);

    let mut notes = vec![
        format!(
            "ballots: {} envelopes of one ballot.cast each, every one signed by its voter and verified by the server \
             (verify_strict, one by one), in {:.2} s; {:.0}% of the batch-verification ceiling ({} sig/s just \
             before, {} just after): {} the {:.0}% target",
            measurement.envelopes,
            measurement.elapsed.as_secs_f64(),
            rate / ceiling * 100.0,
            human(colony.ceiling_before),
            human(colony.ceiling_after),
            if rate >= ceiling * TARGET_SHARE_OF_BATCH_CEILING { "meets" } else { "misses" },
            TARGET_SHARE_OF_BATCH_CEILING * 100.0
        ),
        format!(
            "close: the clock moved past the deadline → the proposal closed, tallied ({OPTIONS} options) and sealed \
             (SHA-256 over every ballot with its entry, chained to the previous seal) in {} log entries; totals as \
             expected; seal {}",
            colony.close_entries,
            &colony.seal[..16]
        ),
    ];
    match &sql {
        Ok(run) => {
            if let Some(sql_rate) = sql_rate {
                notes.push(format!("ballots: Colony / PostgreSQL = {:.1}×", rate / sql_rate));
            }
            notes.push(format!(
                "close: Colony / PostgreSQL = {:.2}× (lower is better for Colony); {}",
                colony.close.as_secs_f64() / run.close.as_secs_f64(),
                run.summary
            ));
        }
        Err(crate::postgres::Failure::Unreachable(reason)) => {
            notes.push(format!("PostgreSQL not reachable at {} ({reason})", crate::postgres::ADDRESS));
        }
        Err(crate::postgres::Failure::Broken(_)) => unreachable!("a broken run is an error above"),
    }
    for note in notes {
        bench.report.note(SCENARIO, note);
    }
    Ok(())
}
