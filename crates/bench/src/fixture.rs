//! Shared set-up: the agents and their keys, pre-signed envelopes, an in-process server on its own
//! runtime, and measuring many concurrent submissions.
//!
//! Every workload is a list of *plans*, one per concurrent task; a plan is the ordered list of
//! envelopes its task sends, one at a time. A task owns its agents outright, so each agent's nonces
//! reach the server in increasing order and no envelope is refused as a replay.

use colony_core::command::{Heartbeat, RegisterAgent};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use colony_core::{Accepted, AgentId, Command, EntryOutcome, Name, PublicKey, Signer};
use colony_server::driver::{DriverHandle, DriverSettings, Submission};
use colony_server::{Clock, RunningServer, SystemClock};
use colony_wire::{Envelope, KeyFile, KeyPair, SignedEnvelope};

/// Agents registered on every benchmark server.
pub const AGENTS: usize = 1_000;

/// Commands in one batch envelope.
pub const BATCH_COMMANDS: usize = 1_000;

/// The benchmark's agents: ids, keys, and the next unused nonce of each.
pub struct Agents {
    ids: Vec<AgentId>,
    keys: Vec<KeyPair>,
    public_keys: Vec<PublicKey>,
    next_nonce: Vec<u64>,
}

impl Agents {
    /// `count` agents with deterministic keys.
    pub fn new(count: usize) -> Agents {
        let ids: Vec<AgentId> =
            (0..count).map(|index| AgentId::new(format!("agent-{index:04}")).expect("a valid agent id")).collect();
        let keys: Vec<KeyPair> = (0..count)
            .map(|index| {
                let mut seed = [0x5au8; 32];
                seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
                KeyPair::from_seed(seed)
            })
            .collect();
        let public_keys = keys.iter().map(KeyPair::public_key).collect();
        Agents { ids, keys, public_keys, next_nonce: vec![1; count] }
    }

    /// How many agents there are.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// A client identity signing as agent `index` (registered on every benchmark server).
    pub fn identity(&self, index: usize) -> colony_client::Identity {
        colony_client::Identity::new(Signer::Agent(self.ids[index].clone()), self.keys[index].clone())
    }

    /// Agent `index`'s id.
    pub fn id(&self, index: usize) -> &AgentId {
        &self.ids[index]
    }

    /// Agent `index`'s key.
    pub fn key(&self, index: usize) -> &KeyPair {
        &self.keys[index]
    }

    /// Reserves `count` consecutive nonces of agent `index`; returns the first. Nonces only grow, so
    /// one set of agents serves every server of a run, and start at the current time in microseconds
    /// (the HTTP endpoints refuse nonces more than 5 minutes from the server's clock).
    pub fn take_nonces(&mut self, index: usize, count: u64) -> u64 {
        let first = self.next_nonce[index].max(now_us());
        self.next_nonce[index] = first + count;
        first
    }

    /// The operator's commands registering every agent as a scout.
    pub fn registrations(&self) -> Vec<Command> {
        let capabilities: BTreeSet<Name> = [Name::new("dex.scan").expect("a valid capability")].into();
        self.ids
            .iter()
            .zip(&self.public_keys)
            .map(|(agent, public_key)| scout_registration(agent, *public_key, capabilities.clone(), None))
            .collect()
    }
}

/// The operator's command registering `agent` as a scout with `capabilities` (and `referrer`), as
/// every scenario sets up its agents.
pub fn scout_registration(
    agent: &AgentId,
    public_key: PublicKey,
    capabilities: BTreeSet<Name>,
    referrer: Option<AgentId>,
) -> Command {
    Command::RegisterAgent(RegisterAgent {
        agent: agent.clone(),
        public_key,
        role: Name::new("scout").expect("a valid role"),
        capabilities,
        weight: None,
        parent: None,
        referrer,
    })
}

/// One envelope to sign: `commands` heartbeats from agent `agent` with nonce `nonce`.
#[derive(Clone, Copy, Debug)]
pub struct EnvelopeSpec {
    /// The agent's index.
    pub agent: usize,
    /// Its nonce.
    pub nonce: u64,
    /// Heartbeats in the envelope.
    pub commands: usize,
}

/// Plans for `tasks` concurrent tasks over agents `0..agent_count`: task `k` owns agents `k`,
/// `k + tasks`, ..., and sends `rounds` envelopes of `commands` heartbeats for each, round by round.
pub fn plans(
    agents: &mut Agents,
    tasks: usize,
    agent_count: usize,
    rounds: u64,
    commands: usize,
) -> Vec<Vec<EnvelopeSpec>> {
    assert!(0 < tasks && tasks <= agent_count && agent_count <= agents.len());
    let first_nonces: Vec<u64> = (0..agent_count).map(|agent| agents.take_nonces(agent, rounds)).collect();
    let first_nonces = &first_nonces;
    (0..tasks)
        .map(|task| {
            let owned: Vec<usize> = (task..agent_count).step_by(tasks).collect();
            let mut plan = Vec::with_capacity(owned.len() * rounds as usize);
            for round in 0..rounds {
                plan.extend(owned.iter().map(|&agent| EnvelopeSpec {
                    agent,
                    nonce: first_nonces[agent] + round,
                    commands,
                }));
            }
            plan
        })
        .collect()
}

/// An envelope signed ahead of the measurement.
pub struct Presigned {
    /// The decoded envelope (what the HTTP layer would have decoded).
    pub envelope: Envelope,
    /// Its bytes and signature.
    pub signed: SignedEnvelope,
    /// The key it verifies with.
    pub key: PublicKey,
}

impl Presigned {
    /// Commands in the envelope.
    pub fn commands(&self) -> usize {
        self.envelope.commands.len()
    }

    /// The driver submission for it (as the HTTP layer builds it after verifying the signature).
    pub fn into_submission(self) -> Submission {
        Submission { envelope: self.envelope, signed: self.signed, verified_key: self.key }
    }
}

/// Encodes and signs every envelope of every plan, on `threads` threads. Returns the signed plans
/// and the time signing took.
pub fn presign(agents: &Agents, plans: &[Vec<EnvelopeSpec>], threads: usize) -> (Vec<Vec<Presigned>>, Duration) {
    let started = Instant::now();
    let sign = |spec: &EnvelopeSpec| {
        let envelope = Envelope {
            signer: Signer::Agent(agents.ids[spec.agent].clone()),
            nonce: spec.nonce,
            commands: vec![Command::Heartbeat(Heartbeat {}); spec.commands],
        };
        let signed = envelope.sign(&agents.keys[spec.agent]);
        Presigned { envelope, signed, key: agents.public_keys[spec.agent] }
    };
    // Split the envelopes themselves (not the plans) between threads, so that a few long plans still
    // use every thread.
    let specs: Vec<(usize, EnvelopeSpec)> =
        plans.iter().enumerate().flat_map(|(plan, specs)| specs.iter().map(move |spec| (plan, *spec))).collect();
    let chunk_length = specs.len().div_ceil(threads.max(1)).max(1);
    let signed: Vec<Vec<(usize, Presigned)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = specs
            .chunks(chunk_length)
            .map(|chunk| {
                let sign = &sign;
                scope.spawn(move || chunk.iter().map(|(plan, spec)| (*plan, sign(spec))).collect::<Vec<_>>())
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("signing thread")).collect()
    });
    let mut signed_plans: Vec<Vec<Presigned>> = plans.iter().map(|specs| Vec::with_capacity(specs.len())).collect();
    for (plan, presigned) in signed.into_iter().flatten() {
        signed_plans[plan].push(presigned);
    }
    (signed_plans, started.elapsed())
}

/// What one accepted command created, as both the driver and the HTTP answer name it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Created {
    /// The escrow an `escrow.lock` created.
    pub escrow: Option<u64>,
    /// The task a `task.announce` created.
    pub task: Option<u64>,
}

/// Where envelopes go: the driver directly, or the HTTP batch endpoint (which decodes the envelope
/// and verifies its signature first).
#[derive(Clone)]
pub enum Surface {
    /// `DriverHandle::submit`.
    Driver(DriverHandle),
    /// `POST /v1/batch` with the Rust client.
    Http(colony_client::Client),
}

impl Surface {
    /// Submits one envelope and waits until it is durable and applied. Returns what each command
    /// created, or why anything was refused.
    pub async fn send(&self, presigned: Presigned) -> Result<Vec<Created>, String> {
        match self {
            Surface::Driver(driver) => {
                let committed =
                    driver.submit(presigned.into_submission()).await.map_err(|error| format!("{error:?}"))?;
                if let Some(failure) = outcome_failure(&committed.outcome) {
                    return Err(failure);
                }
                Ok(committed
                    .outcome
                    .commands
                    .iter()
                    .map(|result| match result {
                        Ok(Accepted::Escrow { escrow_id, .. }) => Created { escrow: Some(*escrow_id), task: None },
                        Ok(Accepted::Task { task, .. }) => Created { escrow: None, task: Some(*task) },
                        _ => Created::default(),
                    })
                    .collect())
            }
            Surface::Http(client) => {
                let response =
                    client.post_signed("/v1/batch", &presigned.signed).await.map_err(|error| error.to_string())?;
                if let Some(refused) = response.results.iter().find(|result| !result.ok) {
                    return Err(format!("command refused: {refused:?}"));
                }
                Ok(response
                    .results
                    .iter()
                    .map(|result| Created { escrow: result.escrow_id, task: result.task })
                    .collect())
            }
        }
    }
}

/// Envelopes in a set of plans.
pub fn envelope_count<T>(plans: &[Vec<T>]) -> usize {
    plans.iter().map(Vec::len).sum()
}

/// A Colony server in this process, on a runtime of its own so that its threads are distinct from
/// the load generator's (they still share the machine's cores).
pub struct BenchServer {
    runtime: tokio::runtime::Runtime,
    running: Option<RunningServer>,
    data_dir: PathBuf,
}

impl BenchServer {
    /// Starts a server on `data_dir` listening on a free local port, every commit fsync'd.
    pub fn start(data_dir: &Path, driver: DriverSettings, threads: usize) -> Result<BenchServer, String> {
        BenchServer::start_with(data_dir, driver, threads, colony_log::Durability::Full)
    }

    /// Starts a server with the given log durability.
    pub fn start_with(
        data_dir: &Path,
        driver: DriverSettings,
        threads: usize,
        durability: colony_log::Durability,
    ) -> Result<BenchServer, String> {
        BenchServer::start_with_clock(data_dir, driver, threads, durability, std::sync::Arc::new(SystemClock))
    }

    /// Starts a server whose log time comes from `clock` (a manual clock moves only when told to).
    pub fn start_with_clock(
        data_dir: &Path,
        driver: DriverSettings,
        threads: usize,
        durability: colony_log::Durability,
        clock: std::sync::Arc<dyn Clock>,
    ) -> Result<BenchServer, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("colony-server")
            .enable_all()
            .build()
            .map_err(|error| format!("server runtime: {error}"))?;
        let mut settings =
            colony_server::ServerSettings::new(data_dir, "127.0.0.1:0".parse().expect("a valid socket address"));
        settings.driver = driver;
        settings.durability = durability;
        settings.clock = clock;
        let running = runtime
            .block_on(async move { tokio::spawn(colony_server::start(settings)).await })
            .map_err(|error| format!("server start panicked: {error}"))?
            .map_err(|error| format!("server start: {error}"))?;
        Ok(BenchServer { runtime, running: Some(running), data_dir: data_dir.to_owned() })
    }

    fn running(&self) -> &RunningServer {
        self.running.as_ref().expect("the server is running until stopped")
    }

    /// What the server's start found (recovery time, the snapshot it started from).
    pub fn report(&self) -> &colony_server::StartReport {
        &self.running().report
    }

    /// The driver, for direct submissions.
    pub fn driver(&self) -> DriverHandle {
        self.running().driver().clone()
    }

    /// The server's ephemeral message bus, for in-process publishing and its counters.
    pub fn bus(&self) -> std::sync::Arc<colony_server::bus::EphemeralBus> {
        self.running().bus()
    }

    /// The server's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.running().local_addr())
    }

    /// The operator's key, from the data directory.
    pub fn operator_key(&self) -> Result<KeyPair, String> {
        let path = self.data_dir.join(colony_server::server::OPERATOR_KEY_FILE_NAME);
        KeyFile::read(&path)
            .and_then(|file| file.key_pair())
            .map_err(|error| format!("operator key {}: {error}", path.display()))
    }

    /// The last applied sequence number and the commands applied so far (accepted or refused).
    pub fn progress(&self) -> (u64, u64) {
        let driver = self.driver();
        let state = driver.shared.state.read().expect("state lock");
        let counters = state.counters();
        (state.sequence(), counters.commands_accepted + counters.commands_rejected)
    }

    /// Registers every agent with one operator batch envelope.
    pub fn register(&self, load: &tokio::runtime::Runtime, agents: &Agents) -> Result<(), String> {
        let operator = self.operator_key()?;
        let envelope = Envelope { signer: Signer::Operator, nonce: 1, commands: agents.registrations() };
        let signed = envelope.sign(&operator);
        let driver = self.driver();
        let submission = Submission { envelope, signed, verified_key: operator.public_key() };
        let committed =
            load.block_on(driver.submit(submission)).map_err(|error| format!("registering agents: {error:?}"))?;
        match outcome_failure(&committed.outcome) {
            Some(failure) => Err(format!("registering agents: {failure}")),
            None => Ok(()),
        }
    }

    /// Graceful shutdown (which takes a final snapshot).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.shutdown());
        }
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Why an applied entry is not a full success, if it is not.
pub fn outcome_failure(outcome: &EntryOutcome) -> Option<String> {
    if let Some(rejection) = &outcome.envelope {
        return Some(format!("envelope refused: {rejection}"));
    }
    outcome
        .commands
        .iter()
        .find_map(|result| result.as_ref().err())
        .map(|rejection| format!("command refused: {rejection}"))
}

/// What one task of a measurement saw.
#[derive(Default)]
pub struct TaskTally {
    /// Latency of each envelope, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Envelopes committed without any refusal.
    pub envelopes: u64,
    /// Commands in them.
    pub commands: u64,
    /// Envelopes that failed or had a refused command.
    pub failures: u64,
    /// The first failure, described.
    pub first_failure: Option<String>,
}

impl TaskTally {
    /// Records a successful envelope.
    pub fn success(&mut self, latency: Duration, commands: usize) {
        self.latencies_us.push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        self.envelopes += 1;
        self.commands += commands as u64;
    }

    /// Records a failed envelope.
    pub fn failure(&mut self, latency: Duration, reason: impl FnOnce() -> String) {
        self.latencies_us.push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        self.failures += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(reason());
        }
    }
}

/// A finished measurement: totals over all tasks and the latency distribution.
pub struct Measurement {
    /// Wall time from the first submission to the last answer.
    pub elapsed: Duration,
    /// Envelopes committed.
    pub envelopes: u64,
    /// Commands in them.
    pub commands: u64,
    /// Envelopes that failed.
    pub failures: u64,
    /// The first failure, described.
    pub first_failure: Option<String>,
    /// Latencies in microseconds, sorted.
    latencies_us: Vec<u32>,
}

impl Measurement {
    /// Totals of the tasks' tallies.
    pub fn from_tallies(elapsed: Duration, tallies: Vec<TaskTally>) -> Measurement {
        let mut measurement = Measurement {
            elapsed,
            envelopes: 0,
            commands: 0,
            failures: 0,
            first_failure: None,
            latencies_us: Vec::new(),
        };
        for tally in tallies {
            measurement.envelopes += tally.envelopes;
            measurement.commands += tally.commands;
            measurement.failures += tally.failures;
            measurement.first_failure = measurement.first_failure.or(tally.first_failure);
            measurement.latencies_us.extend(tally.latencies_us);
        }
        measurement.latencies_us.sort_unstable();
        measurement
    }

    /// Committed commands per second.
    pub fn commands_per_s(&self) -> f64 {
        self.commands as f64 / self.elapsed.as_secs_f64()
    }

    /// Committed envelopes per second.
    pub fn envelopes_per_s(&self) -> f64 {
        self.envelopes as f64 / self.elapsed.as_secs_f64()
    }

    /// The `quantile` (0..=1) latency, in microseconds.
    pub fn latency_us(&self, quantile: f64) -> f64 {
        nearest_rank(&self.latencies_us, quantile)
    }

    /// An error if anything failed: a benchmark of refused writes measures nothing useful.
    pub fn check(&self, what: &str) -> Result<(), String> {
        if self.failures == 0 {
            return Ok(());
        }
        Err(format!(
            "{what}: {} of {} envelopes failed; first: {}",
            self.failures,
            self.failures + self.envelopes,
            self.first_failure.as_deref().unwrap_or("?")
        ))
    }
}

/// Submits every plan straight to the driver, one task per plan, and measures submit → committed.
pub async fn submit_plans(driver: DriverHandle, plans: Vec<Vec<Presigned>>) -> Measurement {
    let started = Instant::now();
    let tasks: Vec<_> = plans
        .into_iter()
        .map(|plan| {
            let driver = driver.clone();
            tokio::spawn(async move {
                let mut tally = TaskTally::default();
                tally.latencies_us.reserve(plan.len());
                for presigned in plan {
                    let commands = presigned.commands();
                    let sent = Instant::now();
                    let result = driver.submit(presigned.into_submission()).await;
                    let latency = sent.elapsed();
                    match result {
                        Ok(committed) => match outcome_failure(&committed.outcome) {
                            None => tally.success(latency, commands),
                            Some(failure) => tally.failure(latency, || failure),
                        },
                        Err(error) => tally.failure(latency, || format!("{error:?}")),
                    }
                }
                tally
            })
        })
        .collect();
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        tallies.push(task.await.expect("submission task"));
    }
    Measurement::from_tallies(started.elapsed(), tallies)
}

/// The `quantile` (0..=1) of sorted values by the nearest rank (0 when there are none).
pub fn nearest_rank(sorted: &[u32], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1])
}

/// The current time in Unix microseconds: where nonces of envelopes sent over HTTP start.
pub fn now_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_give_each_agent_to_one_task_with_increasing_nonces() {
        let mut agents = Agents::new(10);
        let plans = plans(&mut agents, 3, 10, 2, 1);
        assert_eq!(plans.len(), 3);
        assert_eq!(envelope_count(&plans), 20);
        for plan in &plans {
            let mut last: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
            for spec in plan {
                if let Some(previous) = last.insert(spec.agent, spec.nonce) {
                    assert!(spec.nonce > previous);
                }
            }
        }
        let owners: BTreeSet<(usize, usize)> =
            plans.iter().enumerate().flat_map(|(task, plan)| plan.iter().map(move |spec| (spec.agent, task))).collect();
        assert_eq!(owners.len(), 10, "each agent belongs to exactly one task");
        let used = plans.iter().flatten().filter(|spec| spec.agent == 0).map(|spec| spec.nonce).max().unwrap();
        assert!(agents.take_nonces(0, 1) > used, "the nonces used are reserved");
    }

    #[test]
    fn presigned_envelopes_verify_and_keep_their_plan_order() {
        let mut agents = Agents::new(4);
        let plans = plans(&mut agents, 2, 4, 3, 2);
        let (signed, _) = presign(&agents, &plans, 3);
        for (specs, signed) in plans.iter().zip(&signed) {
            assert_eq!(specs.len(), signed.len());
            for (spec, presigned) in specs.iter().zip(signed) {
                assert_eq!(presigned.envelope.nonce, spec.nonce);
                assert_eq!(presigned.commands(), 2);
                assert!(presigned.signed.verify(&presigned.key));
            }
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let tally = TaskTally { latencies_us: (1..=100).rev().collect(), ..TaskTally::default() };
        let measurement = Measurement::from_tallies(Duration::from_secs(1), vec![tally]);
        assert_eq!(measurement.latency_us(0.5), 50.0);
        assert_eq!(measurement.latency_us(0.99), 99.0);
        assert_eq!(measurement.latency_us(1.0), 100.0);
    }
}
