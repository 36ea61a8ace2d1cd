//! Crash test of the real `colony serve`: concurrent writes through the Rust client, SIGKILL at a
//! random moment, then the offline audit of the killed server's data, a restart on the same data, and
//! checks that every acknowledged write survived.
//!
//! A write is *acknowledged* when the client got a response with its entry's sequence number; the
//! server answers only after the entry is durable, so an acknowledged write must survive any crash. A
//! write whose request failed in transport (the server died under it) is *unknown*: it may or may not
//! be in the log, and the checks count it neither way. After every kill:
//! - `colony audit verify --json` on the killed server's data exits 0 and reports ok;
//! - the log holds every acknowledged write at the sequence number it was acknowledged with, byte for
//!   byte (signature and envelope as signed);
//! - sequence numbers and the number of agents never go down;
//! - the restarted server reports the state hash the audit computed, at the same entry;
//! - every acknowledged registration exists, every acknowledged halt or resume is in force (unless a
//!   later one is unknown), every acknowledged heartbeat is reflected, and no agent exists that nobody
//!   tried to register.
//!
//! The kill delay comes from a seeded PRNG; the seed is printed (`COLONY_CRASH_SEED` reruns it).
//! `COLONY_CRASH_ROUNDS` changes the number of kills.

mod common;

use colony_core::command::{HaltAgent, Heartbeat, RegisterAgent, ResumeAgent, SetConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use colony_client::{Client, ClientError, Identity};
use colony_core::{AgentId, Command, Name, Signer, limits};
use colony_wire::KeyPair;
use colony_wire::problem::ServerCode;
use colony_wire::views::{AgentView, SubmitResponse};
use common::{Rng, ServerProcess, audit_ok};

/// Kills at least this many times (CI runs the default).
const DEFAULT_ROUNDS: usize = 30;
/// The kill comes this long after the load starts, at random in this range.
const KILL_DELAY_MS: std::ops::RangeInclusive<u64> = 50..=400;
/// A snapshot every this many entries, so that kills also land around snapshots and recovery starts
/// from snapshots.
const SNAPSHOT_EVERY: &str = "40";
/// Self-registering agents in parallel.
const SELF_REGISTRARS: usize = 2;
/// Agents heartbeating in parallel.
const HEARTBEATERS: usize = 2;
/// How long the load tasks may take to notice the kill.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// An agent whose registration was acknowledged.
struct KnownAgent {
    identity: Arc<Identity>,
    /// Whether it is halted; `None` while the outcome of a halt or resume is unknown.
    halted: Option<bool>,
    /// The log time of its last acknowledged heartbeat.
    heartbeat_ms: u64,
}

/// What the test knows about the server's state, from acknowledged writes only.
#[derive(Default)]
struct Model {
    agents: BTreeMap<AgentId, KnownAgent>,
    /// Registrations whose outcome is unknown; resolved by looking after the restart.
    unknown_registrations: Vec<(AgentId, Arc<Identity>)>,
    /// Registrations the server refused: they must never appear.
    refused_registrations: BTreeSet<AgentId>,
    /// Every acknowledged write: its sequence number and the record payload (signature, then body).
    acks: Vec<(u64, Vec<u8>)>,
    /// Acknowledged writes by kind.
    acked: BTreeMap<&'static str, u64>,
    /// Writes refused with a definite answer.
    refused: u64,
    /// Writes with an unknown outcome.
    unknown: u64,
}

impl Model {
    fn max_acked_sequence(&self) -> u64 {
        self.acks.iter().map(|(sequence, _)| *sequence).max().unwrap_or(0)
    }

    fn total_acked(&self) -> u64 {
        self.acked.values().sum()
    }
}

/// Everything a load task needs.
struct Load {
    round: usize,
    /// A client without identity: the tasks sign their envelopes themselves, to know their exact bytes.
    http: Client,
    operator: Arc<Identity>,
    model: Arc<Mutex<Model>>,
    stop: AtomicBool,
}

enum Outcome {
    Acked(SubmitResponse),
    Refused,
    Unknown,
}

impl Load {
    fn model(&self) -> std::sync::MutexGuard<'_, Model> {
        self.model.lock().expect("the model lock")
    }

    /// Signs and posts an envelope; records it if acknowledged.
    async fn submit(&self, kind: &'static str, path: &str, identity: &Identity, commands: Vec<Command>) -> Outcome {
        let signed = identity.sign(commands);
        match self.http.post_signed(path, &signed).await {
            Ok(response) => {
                let mut model = self.model();
                model.acks.push((response.sequence, colony_wire::record::encode_signed(&signed)));
                *model.acked.entry(kind).or_default() += 1;
                Outcome::Acked(response)
            }
            // "timeout" and "unavailable" (the log failed) leave the write's durability unknown.
            Err(ClientError::Problem(problem))
                if !problem.has_code(ServerCode::Timeout) && !problem.has_code(ServerCode::Unavailable) =>
            {
                self.model().refused += 1;
                Outcome::Refused
            }
            Err(_) => {
                self.model().unknown += 1;
                Outcome::Unknown
            }
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Agents register themselves, each then sends one heartbeat.
    async fn self_registrar(self: Arc<Self>, task: usize) {
        for index in 0.. {
            if self.stopped() {
                return;
            }
            let id = agent_id(&format!("r{}-s{task}-{index}", self.round));
            let key = KeyPair::generate();
            let identity = Arc::new(Identity::new(Signer::Agent(id.clone()), key.clone()));
            let command = registration(&id, &key, "scout");
            match self.submit("self-registration", "/v1/commands", &identity, vec![command]).await {
                Outcome::Acked(response) => {
                    assert_eq!(response.results[0].status.as_deref(), Some("done"), "{response:?}");
                    let agent = KnownAgent { identity: Arc::clone(&identity), halted: Some(false), heartbeat_ms: 0 };
                    self.model().agents.insert(id.clone(), agent);
                }
                Outcome::Refused => {
                    self.model().refused_registrations.insert(id);
                    continue;
                }
                Outcome::Unknown => {
                    self.model().unknown_registrations.push((id, identity));
                    return;
                }
            }
            if !self.heartbeat(&id, &identity).await {
                return;
            }
        }
    }

    /// One heartbeat; false when its outcome is unknown (the server is gone).
    async fn heartbeat(&self, id: &AgentId, identity: &Identity) -> bool {
        match self.submit("heartbeat", "/v1/commands", identity, vec![Command::Heartbeat(Heartbeat {})]).await {
            Outcome::Acked(response) => {
                if let Some(agent) = self.model().agents.get_mut(id) {
                    agent.heartbeat_ms = agent.heartbeat_ms.max(response.timestamp_ms);
                }
                true
            }
            Outcome::Refused => true,
            Outcome::Unknown => false,
        }
    }

    /// Known agents send heartbeats, picked at random.
    async fn heartbeater(self: Arc<Self>, mut rng: Rng) {
        while !self.stopped() {
            let picked = {
                let model = self.model();
                let count = model.agents.len();
                (count > 0).then(|| {
                    let (id, agent) = model.agents.iter().nth(rng.below(count as u64) as usize).expect("in range");
                    (id.clone(), Arc::clone(&agent.identity))
                })
            };
            let Some((id, identity)) = picked else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            if !self.heartbeat(&id, &identity).await {
                return;
            }
        }
    }

    /// The operator registers agents in batches through `/v1/batch`.
    async fn batcher(self: Arc<Self>, mut rng: Rng) {
        for batch in 0.. {
            if self.stopped() {
                return;
            }
            let size = 1 + rng.below(6) as usize;
            let agents: Vec<(AgentId, KeyPair)> = (0..size)
                .map(|index| (agent_id(&format!("r{}-b{batch}-{index}", self.round)), KeyPair::generate()))
                .collect();
            let commands = agents.iter().map(|(id, key)| registration(id, key, "analyst")).collect();
            match self.submit("batch", "/v1/batch", &self.operator, commands).await {
                Outcome::Acked(response) => {
                    assert_eq!(response.results.len(), size, "{response:?}");
                    let mut model = self.model();
                    for ((id, key), result) in agents.into_iter().zip(&response.results) {
                        if result.ok {
                            let identity = Arc::new(Identity::new(Signer::Agent(id.clone()), key));
                            model.agents.insert(id, KnownAgent { identity, halted: Some(false), heartbeat_ms: 0 });
                        } else {
                            model.refused_registrations.insert(id);
                        }
                    }
                }
                Outcome::Refused => {
                    self.model().refused_registrations.extend(agents.into_iter().map(|(id, _)| id));
                }
                Outcome::Unknown => {
                    let mut model = self.model();
                    for (id, key) in agents {
                        let identity = Arc::new(Identity::new(Signer::Agent(id.clone()), key));
                        model.unknown_registrations.push((id, identity));
                    }
                    return;
                }
            }
        }
    }

    /// The operator halts and resumes known agents. This is the only task that does, so the last
    /// acknowledged halt or resume of an agent decides its state.
    async fn halter(self: Arc<Self>, mut rng: Rng) {
        while !self.stopped() {
            let picked = {
                let mut model = self.model();
                let candidates: Vec<AgentId> =
                    model.agents.iter().filter(|(_, agent)| agent.halted.is_some()).map(|(id, _)| id.clone()).collect();
                (!candidates.is_empty()).then(|| {
                    let id = candidates[rng.below(candidates.len() as u64) as usize].clone();
                    let agent = model.agents.get_mut(&id).expect("a known agent");
                    let halted = agent.halted.take().expect("a known halt state");
                    (id, halted)
                })
            };
            let Some((id, halted)) = picked else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let (kind, command) = if halted {
                ("resume", Command::ResumeAgent(ResumeAgent { agent: id.clone() }))
            } else {
                (
                    "halt",
                    Command::HaltAgent(HaltAgent {
                        agent: id.clone(),
                        reason: format!("crash test round {}", self.round),
                    }),
                )
            };
            match self.submit(kind, "/v1/commands", &self.operator, vec![command]).await {
                Outcome::Acked(response) => {
                    assert_eq!(response.results[0].status.as_deref(), Some("done"), "{kind} {id}: {response:?}");
                    self.model().agents.get_mut(&id).expect("a known agent").halted = Some(!halted);
                }
                Outcome::Refused => {
                    self.model().agents.get_mut(&id).expect("a known agent").halted = Some(halted);
                }
                Outcome::Unknown => return, // the state stays unknown until the restart shows it
            }
        }
    }
}

fn agent_id(text: &str) -> AgentId {
    AgentId::new(text).expect("a valid agent id")
}

fn registration(id: &AgentId, key: &KeyPair, role: &str) -> Command {
    Command::RegisterAgent(RegisterAgent {
        agent: id.clone(),
        public_key: key.public_key(),
        role: Name::new(role).expect("a role"),
        capabilities: [Name::new("crash.test").expect("a capability")].into_iter().collect(),
        weight: None,
        parent: None,
        referrer: None,
    })
}

/// A client that reads as the operator (signed reads with the key in the data directory).
fn operator_reader(server: &ServerProcess) -> Client {
    let identity = Identity::from_key_file(&server.data.join("operator.key")).expect("the operator key");
    Client::new(server.url()).with_identity(identity)
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(text.trim().parse().unwrap_or_else(|_| panic!("{name} must be a number, got {text:?}")))
}

/// What the audit of the killed server reported.
struct AuditSummary {
    sequence: u64,
    agents: u64,
    state_hash: serde_json::Value,
}

/// Checks the killed server's data before anything else touches it: the audit passes, and the log
/// holds every acknowledged write byte for byte at its sequence number.
fn check_killed_data(work: &Path, data: &Path, model: &Model, previous: &AuditSummary) -> AuditSummary {
    let report = audit_ok(work, data);
    let summary = AuditSummary {
        sequence: report["sequence"].as_u64().expect("a sequence"),
        agents: report["agents"].as_u64().expect("an agent count"),
        state_hash: report["state_hash"].clone(),
    };
    assert!(summary.sequence >= previous.sequence, "the log went backwards: {report}");
    assert!(summary.agents >= previous.agents, "agents were lost: {report}");
    assert!(
        summary.sequence >= model.max_acked_sequence(),
        "entry {} was acknowledged but the log ends before it: {report}",
        model.max_acked_sequence()
    );

    let connection = rusqlite::Connection::open_with_flags(
        data.join("colony.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the killed server's log read-only");
    let last: i64 = connection.query_row("SELECT MAX(sequence) FROM entries", [], |row| row.get(0)).expect("query");
    assert_eq!(last as u64, summary.sequence, "the audit replayed the whole log");
    let mut select = connection.prepare("SELECT payload FROM entries WHERE sequence = ?1").expect("prepare");
    for (sequence, payload) in &model.acks {
        let stored: Vec<u8> = select
            .query_row([*sequence as i64], |row| row.get(0))
            .unwrap_or_else(|error| panic!("acknowledged entry {sequence} is not in the log: {error}"));
        assert!(stored == *payload, "entry {sequence} is not the write that was acknowledged with that number");
    }
    summary
}

/// Checks the restarted server against the audit and the model, then resolves what was unknown.
async fn check_restarted(operator: &Client, audit: &AuditSummary, model: &mut Model) {
    let hash = operator.state_hash().await.expect("the state hash");
    assert_eq!(hash.sequence, audit.sequence, "the restarted server is at the audited entry");
    assert_eq!(
        serde_json::to_value(hash.state_hash).expect("a hash encodes"),
        audit.state_hash,
        "the restarted server's state hash differs from the audit's, at entry {}",
        audit.sequence
    );
    let status = operator.status().await.expect("the status");
    assert_eq!((status.sequence, status.agents), (audit.sequence, audit.agents), "{status:?}");

    let listed: BTreeMap<AgentId, AgentView> =
        operator.all_agents().await.expect("the agents").into_iter().map(|agent| (agent.id.clone(), agent)).collect();
    assert_eq!(listed.len() as u64, audit.agents, "every agent is listed");
    for (id, agent) in &mut model.agents {
        let view = listed.get(id).unwrap_or_else(|| panic!("acknowledged registration of {id} is lost"));
        assert_eq!(view.public_key, agent.identity.key().public_key(), "{id}'s key");
        let halted = view.halt.is_some();
        if let Some(expected) = agent.halted {
            assert_eq!(halted, expected, "{id}: the last acknowledged halt or resume is not in force: {view:?}");
        }
        agent.halted = Some(halted);
        assert!(
            view.last_heartbeat_ms >= agent.heartbeat_ms,
            "{id}: an acknowledged heartbeat at {} is lost: {view:?}",
            agent.heartbeat_ms
        );
    }
    for id in &model.refused_registrations {
        assert!(!listed.contains_key(id), "the refused registration of {id} was applied");
    }
    for (id, identity) in std::mem::take(&mut model.unknown_registrations) {
        if let Some(view) = listed.get(&id) {
            assert_eq!(view.public_key, identity.key().public_key(), "{id}'s key");
            let agent = KnownAgent { identity, halted: Some(view.halt.is_some()), heartbeat_ms: 0 };
            model.agents.insert(id, agent);
        }
    }
    let phantoms: Vec<&AgentId> = listed.keys().filter(|id| !model.agents.contains_key(*id)).collect();
    assert!(phantoms.is_empty(), "agents nobody tried to register: {phantoms:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let started = Instant::now();
    let seed = env_number("COLONY_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_nanos() as u64
    });
    let rounds = env_number("COLONY_CRASH_ROUNDS").map_or(DEFAULT_ROUNDS, |rounds| rounds as usize);
    println!("crash test: seed {seed} (rerun with COLONY_CRASH_SEED={seed}), {rounds} kills");
    let mut rng = Rng(seed);

    let temp = tempfile::tempdir().expect("a temporary directory");
    let data: PathBuf = temp.path().join("data");
    let logs = temp.path().join("logs");
    let work = temp.path().join("work");
    std::fs::create_dir_all(&work).expect("create the working directory");
    let serve_args = ["--snapshot-every", SNAPSHOT_EVERY, "--log", "warn"];
    let mut server = tokio::task::block_in_place(|| ServerProcess::start(&data, &logs, &serve_args));

    let operator = Arc::new(Identity::from_key_file(&data.join("operator.key")).expect("the operator key"));
    let model = Arc::new(Mutex::new(Model::default()));

    // No heartbeat deadline may pass during the test: a tick entry appended on restart would move the
    // state past the audited entry before the hash can be compared.
    {
        let load = Load {
            round: 0,
            http: Client::new(server.url()),
            operator: Arc::clone(&operator),
            model: Arc::clone(&model),
            stop: AtomicBool::new(false),
        };
        let reader = operator_reader(&server);
        let mut config = reader.config().await.expect("the configuration");
        config.heartbeat_ttl_ms = limits::HEARTBEAT_TTL_MS_MAX;
        let set =
            load.submit("config", "/v1/commands", &operator, vec![Command::SetConfig(SetConfig { config })]).await;
        assert!(matches!(set, Outcome::Acked(_)), "the operator sets the configuration");
    }

    let genesis = operator_reader(&server).status().await.expect("the status");
    assert_eq!((genesis.sequence, genesis.agents), (2, 0), "the genesis and the configuration: {genesis:?}");
    let mut previous = AuditSummary { sequence: genesis.sequence, agents: 0, state_hash: serde_json::Value::Null };
    let mut rounds_with_unknown = 0;
    let mut rounds_with_acks = 0;
    let mut durable_unacknowledged = 0;
    for round in 1..=rounds {
        let round_started = Instant::now();
        let (acked_before, unknown_before, acks_before) = {
            let model = model.lock().expect("the model lock");
            (model.total_acked(), model.unknown, model.acks.len())
        };
        let load = Arc::new(Load {
            round,
            http: Client::new(server.url()),
            operator: Arc::clone(&operator),
            model: Arc::clone(&model),
            stop: AtomicBool::new(false),
        });
        let mut tasks = Vec::new();
        for task in 0..SELF_REGISTRARS {
            tasks.push(tokio::spawn(Arc::clone(&load).self_registrar(task)));
        }
        for _ in 0..HEARTBEATERS {
            tasks.push(tokio::spawn(Arc::clone(&load).heartbeater(rng.fork())));
        }
        tasks.push(tokio::spawn(Arc::clone(&load).batcher(rng.fork())));
        tasks.push(tokio::spawn(Arc::clone(&load).halter(rng.fork())));

        let delay = rng.in_range(KILL_DELAY_MS);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let status = tokio::task::block_in_place(|| server.kill());
        assert!(!status.success(), "the server died of SIGKILL, not of its own accord: {status}");
        load.stop.store(true, Ordering::SeqCst);
        for task in tasks {
            tokio::time::timeout(DRAIN_TIMEOUT, task)
                .await
                .expect("the load notices the kill")
                .expect("a load task failed");
        }

        let audit = {
            let model = model.lock().expect("the model lock");
            tokio::task::block_in_place(|| check_killed_data(&work, &data, &model, &previous))
        };
        server = tokio::task::block_in_place(|| ServerProcess::start(&data, &logs, &serve_args));
        let reader = operator_reader(&server);
        let mut model_now = std::mem::take(&mut *model.lock().expect("the model lock"));
        check_restarted(&reader, &audit, &mut model_now).await;
        let (acked, unknown) = (model_now.total_acked(), model_now.unknown);
        for (sequence, _) in &model_now.acks[acks_before..] {
            assert!(
                (previous.sequence + 1..=audit.sequence).contains(sequence),
                "entry {sequence} was acknowledged after a restart at entry {}",
                previous.sequence
            );
        }
        *model.lock().expect("the model lock") = model_now;

        let acked_now = acked - acked_before;
        let unknown_now = unknown - unknown_before;
        rounds_with_acks += usize::from(acked_now > 0);
        rounds_with_unknown += usize::from(unknown_now > 0);
        // Entries of this round nobody got an answer for: the kill fell between commit and response.
        let unanswered = audit.sequence - previous.sequence - acked_now;
        durable_unacknowledged += unanswered;
        println!(
            "round {round:>2}: kill after {delay:>3} ms: {acked_now:>3} acknowledged, {unknown_now} unknown \
             ({unanswered} of them durable); log at entry {}, {} agents; round took {:.1?}",
            audit.sequence,
            audit.agents,
            round_started.elapsed()
        );
        previous = audit;
    }

    // A graceful stop after all the crashes, and a final audit that agrees with the server.
    let reader = operator_reader(&server);
    let last_hash = reader.state_hash().await.expect("the state hash");
    let exit = tokio::task::block_in_place(|| server.terminate());
    assert!(exit.success(), "SIGTERM stops the server cleanly after the crashes: {exit}");
    let report = tokio::task::block_in_place(|| audit_ok(&work, &data));
    assert_eq!(report["sequence"], last_hash.sequence, "{report}");
    assert_eq!(report["state_hash"], serde_json::to_value(last_hash.state_hash).expect("encodes"), "{report}");
    assert!(report["snapshots_checked"].as_u64() >= Some(1), "snapshots were taken and checked: {report}");

    let model = model.lock().expect("the model lock");
    println!(
        "crash test: {rounds} kills in {:.1?}; acknowledged {:?}; {} refused, {} unknown ({} of them durable); \
         {} agents",
        started.elapsed(),
        model.acked,
        model.refused,
        model.unknown,
        durable_unacknowledged,
        model.agents.len()
    );
    // The test must have exercised what it claims to.
    for kind in ["self-registration", "heartbeat", "batch", "halt", "resume"] {
        assert!(model.acked.get(kind).copied().unwrap_or(0) > 0, "no acknowledged {kind} at all");
    }
    assert!(rounds_with_acks * 2 >= rounds, "only {rounds_with_acks} of {rounds} rounds had acknowledged writes");
    assert!(rounds_with_unknown * 2 >= rounds, "only {rounds_with_unknown} of {rounds} kills hit writes in flight");
}
