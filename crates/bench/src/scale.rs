//! The `scale` scenario: a swarm at the registry's and the ledger's limits, and what it costs in
//! memory.
//!
//! A real server in this process registers `AGENTS_MAX` agents (the operator, in envelopes of
//! `COMMANDS_PER_ENVELOPE_MAX` registrations), funds a thousand payers, and has them lock
//! `OPEN_ESCROWS_MAX` escrows to payees spread over every agent (one envelope of a thousand locks per
//! payer). It reports the process's resident memory at the end beside the target, and the growth
//! since the server started (the benchmark's own keys and envelopes are in the baseline, except the
//! lock envelopes, which are signed and dropped as they go). `all` runs it first, while the process
//! holds nothing of other scenarios (memory freed by them stays resident). `--quick` uses 2% of the
//! sizes. `build_swarm` is shared with the `snapshots` scenario.

use std::collections::BTreeSet;
use std::time::Instant;

use colony_core::command::{LockEscrow, Mint};
use colony_core::{AgentId, Amount, Command, Name, PublicKey, Signer, limits};
use colony_server::driver::{DriverHandle, DriverSettings, Submission};
use colony_wire::{Envelope, KeyPair};

use crate::fixture::{BenchServer, now_us, outcome_failure};
use crate::report::{Row, human};
use crate::{Bench, machine, progress};

const SCENARIO: &str = "scale";

/// Agents that lock escrows; each signs one envelope of `escrows / PAYERS` locks.
const PAYERS: usize = 1_000;

/// The resident memory a swarm at the agent and escrow limits must stay under.
const TARGET_RESIDENT_MIB: f64 = 2_048.0;

/// A swarm built through the driver of a real server: every agent registered by the operator, the
/// first `PAYERS` funded, and each of them locking its share of the escrows.
pub struct Swarm {
    /// The server, still running.
    pub server: BenchServer,
    /// Its data directory (removed when dropped).
    pub directory: tempfile::TempDir,
    /// The payers' keys, in agent order.
    pub payer_keys: Vec<KeyPair>,
    /// Every agent's id, payers first.
    pub ids: Vec<AgentId>,
    /// The process's resident memory before the server started (the benchmark's keys and ids).
    pub baseline_mib: f64,
    /// How long registering and locking took.
    pub registered_s: f64,
    /// How long locking the escrows took.
    pub locked_s: f64,
}

/// Builds a swarm of `agents` agents and `escrows` open escrows, for `scenario`'s progress lines.
pub fn build_swarm(bench: &mut Bench, scenario: &'static str, agents: usize, escrows: usize) -> Result<Swarm, String> {
    let escrows_per_payer = escrows / PAYERS;
    assert!(agents > PAYERS, "payees besides the payers");
    assert!(escrows_per_payer <= limits::COMMANDS_PER_ENVELOPE_MAX, "one envelope per payer");

    progress(scenario, format!("deriving {agents} agent keys"));
    let payer_keys: Vec<KeyPair> = (0..PAYERS).map(agent_key).collect();
    let public_keys = public_keys(agents, bench.threads);
    let ids: Vec<AgentId> =
        (0..agents).map(|index| AgentId::new(format!("a{index:07}")).expect("a valid agent id")).collect();

    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let baseline_mib = machine::resident_mib().ok_or("no resident memory reading (/proc/self/status)")?;
    let server = BenchServer::start(directory.path(), DriverSettings::default(), bench.threads)?;
    let operator = server.operator_key()?;
    let driver = server.driver();
    let mut operator_nonce = now_us();

    let started = Instant::now();
    progress(scenario, format!("registering {agents} agents"));
    let registrations: Vec<Command> = ids
        .iter()
        .zip(&public_keys)
        .map(|(agent, public_key)| crate::fixture::scout_registration(agent, *public_key, BTreeSet::new(), None))
        .collect();
    for chunk in registrations.chunks(limits::COMMANDS_PER_ENVELOPE_MAX) {
        operator_nonce += 1;
        submit(bench, &driver, &operator, Signer::Operator, operator_nonce, chunk.to_vec(), "registering")?;
    }
    drop(registrations);
    let registered_s = started.elapsed().as_secs_f64();

    let funds: Vec<Command> = ids[..PAYERS]
        .iter()
        .enumerate()
        .map(|(index, payer)| {
            Command::Mint(Mint {
                transfer_id: Name::new(format!("fund-{index}")).expect("a valid transfer id"),
                to: payer.clone(),
                amount: Amount(escrows_per_payer as u64),
            })
        })
        .collect();
    operator_nonce += 1;
    submit(bench, &driver, &operator, Signer::Operator, operator_nonce, funds, "funding the payers")?;

    progress(scenario, format!("{PAYERS} payers lock {escrows} escrows"));
    let locking = Instant::now();
    lock_escrows(bench, &driver, &payer_keys, &ids, escrows_per_payer)?;
    let locked_s = locking.elapsed().as_secs_f64();

    {
        let state = driver.shared.state.read().map_err(|_| "the state lock is poisoned")?;
        if state.registry().live_len() != agents || state.ledger().open_escrows() != escrows as u64 {
            return Err(format!(
                "expected {agents} agents and {escrows} open escrows, found {} and {}",
                state.registry().live_len(),
                state.ledger().open_escrows()
            ));
        }
    }
    Ok(Swarm { server, directory, payer_keys, ids, baseline_mib, registered_s, locked_s })
}

/// The `scale` scenario.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    let (agents, escrows) = if bench.quick {
        (limits::AGENTS_MAX / 50, limits::OPEN_ESCROWS_MAX / 50)
    } else {
        (limits::AGENTS_MAX, limits::OPEN_ESCROWS_MAX)
    };
    let swarm = build_swarm(bench, SCENARIO, agents, escrows)?;
    let resident_mib = machine::resident_mib().ok_or("no resident memory reading")?;
    let peak_mib = machine::peak_resident_mib().unwrap_or(resident_mib);
    let label = format!("resident memory, {} agents + {} open escrows", human(agents as f64), human(escrows as f64));
    bench
        .report
        .row(Row::new(SCENARIO, label, resident_mib, "MiB").reference("target (lower is better)", TARGET_RESIDENT_MIB));
    bench.report.row(Row::new(SCENARIO, "  growth since the server started", resident_mib - swarm.baseline_mib, "MiB"));
    bench.report.row(Row::new(SCENARIO, "  peak resident memory", peak_mib, "MiB"));
    bench.report.note(
        SCENARIO,
        format!(
            "{agents} registrations (operator envelopes of {}) in {:.1} s, {escrows} locks ({PAYERS} envelopes) in \
             {:.1} s; the process held {:.0} MiB before the server started (the benchmark's keys and ids); every \
             figure is the whole process (server, log cache, event history, bench)",
            limits::COMMANDS_PER_ENVELOPE_MAX,
            swarm.registered_s,
            swarm.locked_s,
            swarm.baseline_mib
        ),
    );
    progress(SCENARIO, "stopping the server (final snapshot)");
    swarm.server.stop();
    Ok(())
}

/// Each payer locks `escrows_per_payer` escrows in one envelope, to payees spread over every agent.
fn lock_escrows(
    bench: &Bench,
    driver: &DriverHandle,
    payer_keys: &[KeyPair],
    ids: &[AgentId],
    escrows_per_payer: usize,
) -> Result<(), String> {
    let agents = ids.len();
    let nonce = now_us();
    for (payer, key) in payer_keys.iter().enumerate() {
        let locks = (0..escrows_per_payer)
            .map(|lock| {
                // Payees spread over every agent, never the payer itself.
                let payee = PAYERS + (payer * escrows_per_payer + lock) % (agents - PAYERS);
                Command::LockEscrow(LockEscrow {
                    payee: ids[payee].clone(),
                    amount: Amount(1),
                    timeout_ms: limits::ESCROW_TIMEOUT_MS_MAX,
                    task_id: None,
                    arbiter: None,
                    hashlock: None,
                    referrer: None,
                    description: None,
                })
            })
            .collect();
        submit(bench, driver, key, Signer::Agent(ids[payer].clone()), nonce, locks, "locking escrows")?;
    }
    Ok(())
}

/// Signs and submits one envelope, waiting until it is durable; refuses any refused command.
fn submit(
    bench: &Bench,
    driver: &DriverHandle,
    key: &KeyPair,
    signer: Signer,
    nonce: u64,
    commands: Vec<Command>,
    what: &str,
) -> Result<(), String> {
    let envelope = Envelope { signer, nonce, commands };
    let signed = envelope.sign(key);
    let submission = Submission { envelope, signed, verified_key: key.public_key() };
    let committed = bench.load.block_on(driver.submit(submission)).map_err(|error| format!("{what}: {error:?}"))?;
    match outcome_failure(&committed.outcome) {
        Some(failure) => Err(format!("{what}: {failure}")),
        None => Ok(()),
    }
}

/// A deterministic key for agent `index`.
fn agent_key(index: usize) -> KeyPair {
    let mut seed = [0xa5_u8; 32];
    seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
    KeyPair::from_seed(seed)
}

/// The public keys of agents `0..count`, derived on `threads` threads (a scalar multiplication each).
fn public_keys(count: usize, threads: usize) -> Vec<PublicKey> {
    let threads = threads.max(1);
    let per_thread = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    let range = (thread * per_thread)..((thread + 1) * per_thread).min(count);
                    range.map(|index| agent_key(index).public_key()).collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|part| part.join().expect("key derivation does not panic")).collect()
    })
}
