//! Simulated clients: the operator and a changing crowd of agents, sending signed envelopes of every
//! command family, valid and not, picked with the run's generator against the state they can read.
//!
//! Every command kind has a generator here (`KIND_GENERATORS` lists them by kind, and a test holds
//! that list equal to `Command::KINDS`), so a command added later fails the simulator's coverage
//! check until it gets one.

use std::collections::BTreeMap;

use colony_core::bus::AckKind;
use colony_core::bus::JsonText;
use colony_core::command::{
    AcceptTask, AnnounceBatch, AnnounceTask, AwardTask, CancelTask, DeclareCapacity, DeclineTask, Penalize, PlaceBid,
    ReportProgress, SubmitResult, VerifyResult, WithdrawBid,
};
use colony_core::market::{DependencyFailure, Distribution, ScoringWeights};
use colony_core::{
    AgentId, Amount, Command, Escrow, EscrowResolution, EscrowState, Fraction, Name, Signer, State, Task, TaskState,
};
use colony_server::driver::Submission;
use colony_testkit::commands as make;
use colony_testkit::hashlock_for;
use colony_wire::{Envelope, KeyPair};

use super::rng::Rng;

#[path = "coordination.rs"]
mod coordination;
#[path = "governance.rs"]
mod governance;
#[path = "kv.rs"]
mod kv;
#[path = "stigmergy.rs"]
mod stigmergy;

/// Roles agents register with (all in the default configuration).
const ROLES: [&str; 4] = ["scout", "analyst", "executor", "risk"];
/// Durable streams the operator creates, with the subjects they capture.
const STREAMS: [(&str, &str); 3] = [("jobs", "jobs.>"), ("alerts", "alerts.>"), ("audit", "audit.>")];
/// Consumers made on those streams.
const CONSUMERS: [&str; 2] = ["workers", "checkers"];
/// Read tokens the operator issues and revokes.
const TOKENS: [&str; 3] = ["token-0", "token-1", "token-2"];
/// The hashlock secret escrows are sometimes locked with.
const SECRET: &str = "the-secret";
/// Escrows remembered to settle later, at most.
const ESCROWS_REMEMBERED: usize = 32;
/// Agents the crowd grows to before registrations stop.
const CROWD_SIZE: usize = 12;
/// Agents registered in one run at most; later registrations name an agent that exists (and are
/// refused), which keeps the registry, and the invariant checks after every entry, small.
const REGISTRATIONS_MAX: u64 = 24;

/// One simulated agent.
struct Member {
    id: AgentId,
    key: KeyPair,
    nonce: u64,
}

/// A generator of one command for a signer (`None`: the operator), against the state.
type Generator = fn(&mut Clients, &mut Rng, &State, Option<usize>) -> Command;

/// Who sends a kind of command.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Senders {
    Operator,
    Agents,
    Both,
}

impl Senders {
    fn include(self, operator_sends: bool) -> bool {
        match self {
            Senders::Operator => operator_sends,
            Senders::Agents => !operator_sends,
            Senders::Both => true,
        }
    }
}

use Senders::{Agents, Both, Operator};

/// Where `agent.register` is in [`KIND_GENERATORS`] (the order of `Command::KINDS`, which a test
/// holds): the crowd grows through it.
const REGISTER_GENERATOR: usize = 0;
/// Where `agent.heartbeat` is: agents keep themselves alive through it.
const HEARTBEAT_GENERATOR: usize = 2;

/// The generator of every command kind, by kind, and who sends it.
const KIND_GENERATORS: [(&str, Senders, Generator); 75] = [
    ("agent.register", Operator, Clients::register),
    ("agent.update", Operator, Clients::update),
    ("agent.heartbeat", Agents, |_, _, _, _| make::heartbeat()),
    ("agent.halt", Operator, Clients::halt),
    ("agent.resume", Operator, Clients::resume),
    ("agent.deregister", Operator, Clients::deregister),
    ("config.set", Operator, Clients::set_config),
    ("read_token.issue", Operator, |_, rng, _, _| make::issue_read_token(rng.pick_text(&TOKENS), "reader", None)),
    ("read_token.revoke", Operator, |_, rng, _, _| make::revoke_read_token(rng.pick_text(&TOKENS))),
    ("ledger.mint", Operator, Clients::mint),
    ("ledger.transfer", Agents, Clients::transfer),
    ("ledger.transfer_batch", Agents, Clients::transfer_batch),
    ("ledger.withdraw", Agents, Clients::withdraw),
    ("wallet.sweep", Agents, Clients::sweep),
    ("wallet.configure", Operator, Clients::configure_wallet),
    ("escrow.lock", Agents, Clients::lock),
    ("escrow.release", Agents, Clients::release),
    ("escrow.refund", Agents, |clients, rng, state, signer| {
        let escrow = clients.escrow_where(rng, state, signer, |escrow, signer| {
            escrow.state == EscrowState::Locked && (Some(&escrow.payee) == signer || escrow.arbiter.as_ref() == signer)
        });
        make::refund(escrow)
    }),
    ("escrow.extend", Agents, |clients, rng, state, signer| {
        let escrow = clients.escrow_where(rng, state, signer, |escrow, signer| {
            escrow.state == EscrowState::Locked && Some(&escrow.payer) == signer
        });
        make::extend(escrow, rng.between(60_000, 200_000))
    }),
    ("escrow.dispute", Agents, |clients, rng, state, signer| {
        let escrow = clients.escrow_where(rng, state, signer, |escrow, signer| {
            escrow.state == EscrowState::Locked && (Some(&escrow.payer) == signer || Some(&escrow.payee) == signer)
        });
        make::dispute(escrow, "not delivered")
    }),
    ("escrow.resolve", Both, Clients::resolve),
    ("stream.create", Operator, Clients::create_stream),
    ("stream.delete", Operator, |_, rng, _, _| {
        // Rarely the real thing, so that streams live long enough to be used.
        make::delete_stream(if rng.chance(1, 6) { rng.pick(&STREAMS).0 } else { "retired" })
    }),
    ("bus.publish", Agents, Clients::publish),
    ("consumer.create", Operator, Clients::create_consumer),
    ("consumer.delete", Operator, |_, rng, _, _| {
        let consumer = if rng.chance(1, 6) { rng.pick_text(&CONSUMERS) } else { "retired" };
        make::delete_consumer(rng.pick(&STREAMS).0, consumer)
    }),
    ("consumer.fetch", Agents, |_, rng, _, _| {
        make::fetch(rng.pick(&STREAMS).0, rng.pick_text(&CONSUMERS), rng.between(1, 4) as u32)
    }),
    ("consumer.ack", Agents, Clients::ack),
    ("dlq.replay", Operator, Clients::replay_dead_letters),
    ("dlq.discard", Operator, Clients::discard_dead_letters),
    ("task.announce", Agents, Clients::announce_task),
    ("task.bid", Agents, Clients::bid),
    ("task.withdraw_bid", Agents, |clients, rng, state, signer| {
        let task = clients.task_where(rng, state, signer, |task, signer| task.bids.contains_key(signer));
        Command::WithdrawBid(WithdrawBid { task })
    }),
    ("task.award", Agents, |clients, rng, state, signer| {
        let task = clients
            .task_where(rng, state, signer, |task, signer| &task.manager == signer && task.state == TaskState::Open);
        Command::AwardTask(AwardTask { task })
    }),
    ("task.accept", Agents, |clients, rng, state, signer| {
        let task = clients
            .task_where(rng, state, signer, |task, signer| task.state == TaskState::Awarded && won_by(task, signer));
        Command::AcceptTask(AcceptTask { task })
    }),
    ("task.decline", Agents, |clients, rng, state, signer| {
        let task = clients
            .task_where(rng, state, signer, |task, signer| task.state == TaskState::Awarded && won_by(task, signer));
        Command::DeclineTask(DeclineTask { task })
    }),
    ("task.progress", Agents, |clients, rng, state, signer| {
        let task = clients
            .task_where(rng, state, signer, |task, signer| task.state == TaskState::Running && won_by(task, signer));
        let percent = if rng.chance(1, 32) { 101 } else { rng.below(101) as u8 };
        Command::ReportProgress(ReportProgress { task, percent, note: "on it".to_owned() })
    }),
    ("task.submit", Agents, Clients::submit_result),
    ("task.verify", Agents, |clients, rng, state, signer| {
        let task = clients.task_where(rng, state, signer, |task, signer| {
            task.state == TaskState::Submitted && task.verifier() == signer
        });
        // Scores around the usual minimum of 0.7: most results pass, some are rejected.
        let score = Fraction::from_micros(rng.between(600_000, 1_000_000) as u32).expect("at most one");
        Command::VerifyResult(VerifyResult { task, score })
    }),
    ("task.cancel", Agents, |clients, rng, state, signer| {
        let task = clients.task_where(rng, state, signer, |task, signer| {
            &task.manager == signer && matches!(task.state, TaskState::Open | TaskState::Awarded)
        });
        Command::CancelTask(CancelTask { task, reason: "no longer needed".to_owned() })
    }),
    ("task.announce_batch", Agents, Clients::announce_batch),
    ("task.capacity", Agents, |_, rng, _, _| {
        let max_load =
            if rng.chance(1, 16) { colony_core::limits::AGENT_CAPACITY_MAX + 1 } else { rng.below(10) as u32 };
        Command::DeclareCapacity(DeclareCapacity { max_load })
    }),
    ("proposal.create", Both, Clients::create_proposal),
    ("proposal.amend", Agents, Clients::amend_proposal),
    ("proposal.cancel", Both, Clients::cancel_proposal),
    ("proposal.veto", Agents, Clients::veto_proposal),
    ("ballot.cast", Agents, Clients::cast_ballot),
    ("pheromone.map.create", Both, Clients::create_map),
    ("pheromone.map.configure", Both, Clients::configure_map),
    ("pheromone.map.delete", Both, Clients::delete_map),
    ("pheromone.deposit", Agents, Clients::deposit),
    ("governance.bootstrap_end", Both, Clients::end_bootstrap),
    ("ledger.penalize", Both, |clients, rng, _, _| {
        // Usually a small share of a wallet; now and then more than any wallet holds, which drains it.
        let amount = if rng.chance(1, 8) { u64::MAX } else { rng.between(1, 2_000) };
        let agent = AgentId::new(clients.member_id(rng)).expect("members' ids are valid");
        Command::Penalize(Penalize { agent, amount: Amount(amount), reason: "failed its audit".to_owned() })
    }),
    ("lease.grant", Both, Clients::grant_lease),
    ("lease.keep_alive", Both, Clients::keep_lease_alive),
    ("lease.revoke", Both, Clients::revoke_lease),
    ("lock.acquire", Both, Clients::acquire_lock),
    ("lock.release", Both, Clients::release_lock),
    ("semaphore.acquire", Both, Clients::acquire_semaphore),
    ("semaphore.release", Both, Clients::release_semaphore),
    ("election.campaign", Both, Clients::campaign),
    ("election.resign", Both, Clients::resign),
    ("barrier.create", Both, Clients::create_barrier),
    ("barrier.arrive", Both, Clients::arrive_at_barrier),
    ("barrier.reset", Both, Clients::reset_barrier),
    ("barrier.remove", Both, Clients::remove_barrier),
    ("vote_election.create", Both, Clients::create_vote_election),
    ("vote_election.start", Agents, Clients::start_vote_round),
    ("vote_election.vote", Agents, Clients::cast_election_vote),
    ("vote_election.delete", Both, Clients::delete_vote_election),
    ("kv.namespace.create", Both, Clients::create_namespace),
    ("kv.namespace.configure", Both, Clients::configure_namespace),
    ("kv.namespace.delete", Both, Clients::delete_namespace),
    ("kv.put", Both, Clients::put_value),
    ("kv.delete", Both, Clients::delete_value),
];

/// Whether `agent` holds the task's current award.
fn won_by(task: &Task, agent: &AgentId) -> bool {
    task.current_attempt().is_some_and(|attempt| &attempt.winner == agent)
}

/// The operator and the agents, with what they remember between envelopes.
pub struct Clients {
    operator: KeyPair,
    operator_nonce: u64,
    members: Vec<Member>,
    /// Seeds agents' keys, so that a run's keys follow from its seed.
    key_seed: u64,
    registered: u64,
    /// Makes transfer and message ids unique.
    serial: u64,
    escrows: Vec<u64>,
    /// Commands generated, by kind.
    pub generated: BTreeMap<&'static str, u64>,
}

impl Clients {
    /// The clients of a swarm whose operator holds `operator`.
    pub fn new(operator: KeyPair, key_seed: u64) -> Clients {
        Clients {
            operator,
            operator_nonce: 0,
            members: Vec::new(),
            key_seed,
            registered: 0,
            serial: 0,
            escrows: Vec::new(),
            generated: BTreeMap::new(),
        }
    }

    /// Every command kind a generator exists for.
    pub fn kinds() -> impl Iterator<Item = &'static str> {
        KIND_GENERATORS.iter().map(|(kind, _, _)| *kind)
    }

    /// One envelope from the operator or an agent, of one to three commands. Now and then the
    /// nonce is a replay of the signer's last, which the driver must refuse before the log.
    pub fn envelope(&mut self, rng: &mut Rng, state: &State) -> Submission {
        self.members.retain(|member| state.agent(&member.id).is_none_or(|agent| agent.deregistered_at_ms.is_none()));
        let operator_sends = self.members.len() < 3 || rng.chance(1, 4);
        let signer_index = if operator_sends { None } else { Some(rng.index(self.members.len())) };
        let generators: Vec<&(&str, Senders, Generator)> =
            KIND_GENERATORS.iter().filter(|(_, senders, _)| senders.include(operator_sends)).collect();
        let count = if rng.chance(3, 4) { 1 } else { rng.between(2, 3) };
        let mut commands = Vec::with_capacity(count as usize);
        for _ in 0..count {
            // Heartbeats keep agents alive: one in three agent commands.
            let (kind, _, generate) = if !operator_sends && rng.chance(1, 3) {
                &KIND_GENERATORS[HEARTBEAT_GENERATOR]
            } else if operator_sends && self.members.len() < CROWD_SIZE && rng.chance(1, 3) {
                &KIND_GENERATORS[REGISTER_GENERATOR]
            } else {
                *rng.pick(&generators)
            };
            *self.generated.entry(kind).or_default() += 1;
            commands.push(generate(self, rng, state, signer_index));
        }
        let replay = rng.chance(1, 64);
        let (signer, key, nonce) = match signer_index {
            None => {
                self.operator_nonce += u64::from(!replay || self.operator_nonce == 0);
                (Signer::Operator, &self.operator, self.operator_nonce)
            }
            Some(index) => {
                let member = &mut self.members[index];
                member.nonce += u64::from(!replay || member.nonce == 0);
                (Signer::Agent(member.id.clone()), &member.key, member.nonce)
            }
        };
        let envelope = Envelope { signer, nonce, commands };
        Submission { signed: envelope.sign(key), verified_key: key.public_key(), envelope }
    }

    /// Learns what an acknowledged result tells a client: the escrows it locked.
    pub fn observe(&mut self, outcome: &colony_core::EntryOutcome) {
        for result in &outcome.commands {
            if let Ok(colony_core::Accepted::Escrow { escrow_id, existing: false }) = result {
                if self.escrows.len() == ESCROWS_REMEMBERED {
                    self.escrows.remove(0);
                }
                self.escrows.push(*escrow_id);
            }
        }
    }

    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    fn member_id(&self, rng: &mut Rng) -> String {
        if self.members.is_empty() {
            return "nobody".to_owned();
        }
        self.members[rng.index(self.members.len())].id.to_string()
    }

    fn remembered_escrow(&self, rng: &mut Rng) -> u64 {
        if self.escrows.is_empty() { rng.between(1, 4) } else { *rng.pick(&self.escrows) }
    }

    /// A remembered escrow that `fits` the signer (`None`: the operator), mostly; now and then, or
    /// when none fits, any remembered escrow (which the signer may not touch).
    fn escrow_where(
        &self,
        rng: &mut Rng,
        state: &State,
        signer: Option<usize>,
        fits: impl Fn(&Escrow, Option<&AgentId>) -> bool,
    ) -> u64 {
        let signer = signer.map(|index| &self.members[index].id);
        let fitting: Vec<u64> = self
            .escrows
            .iter()
            .copied()
            .filter(|id| state.ledger().escrow(*id).is_some_and(|escrow| fits(escrow, signer)))
            .collect();
        if fitting.is_empty() || rng.chance(1, 8) { self.remembered_escrow(rng) } else { *rng.pick(&fitting) }
    }

    /// A task in which the signer has the part `fits` looks for, mostly; now and then, or when there is
    /// none, any recent task (which the signer may have no part in) or one that does not exist.
    fn task_where(
        &self,
        rng: &mut Rng,
        state: &State,
        signer: Option<usize>,
        fits: impl Fn(&Task, &AgentId) -> bool,
    ) -> u64 {
        let market = state.market();
        let fitting: Vec<u64> = match signer {
            Some(index) => {
                let signer = &self.members[index].id;
                market.tasks().filter(|task| fits(task, signer)).map(|task| task.id).collect()
            }
            None => Vec::new(),
        };
        if !fitting.is_empty() && !rng.chance(1, 10) {
            return *rng.pick(&fitting);
        }
        let recent: Vec<u64> = market.tasks().rev().take(8).map(|task| task.id).collect();
        if recent.is_empty() || rng.chance(1, 8) { rng.between(1, 1_000) } else { *rng.pick(&recent) }
    }

    /// A task with a small price, a bid window of a few seconds and a deadline well past it; now and
    /// then with a child paying, a capability nobody advertises, other bidders invited, or terms that
    /// are refused.
    fn announce_task(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let serial = self.next_serial();
        // Mostly a fresh task id; sometimes an earlier one (the same task, or a conflict).
        let task_id = if rng.chance(1, 8) { format!("job-{}", rng.below(4)) } else { format!("job-{serial}") };
        let manager = signer.map(|index| self.members[index].id.clone());
        let payer = manager.as_ref().and_then(|manager| {
            let child = state.registry().iter().find(|agent| agent.parent.as_ref() == Some(manager))?;
            rng.chance(1, 6).then(|| child.id.clone())
        });
        let invited = if rng.chance(1, 8) {
            (0..2).map(|_| colony_testkit::agent_id(&self.member_id(rng))).collect()
        } else {
            Default::default()
        };
        let required_capabilities =
            if rng.chance(1, 16) { [colony_testkit::name("quantum")].into() } else { Default::default() };
        Command::AnnounceTask(AnnounceTask {
            task_id: colony_testkit::name(&task_id),
            kind: colony_testkit::name(rng.pick_text(&["analyze", "execute", "monitor"])),
            required_capabilities,
            payload: Some(JsonText::parse(&format!("{{\"pair\":\"ETH/USDC\",\"n\":{serial}}}")).expect("JSON")),
            reference: None,
            max_cost: Amount(if rng.chance(1, 32) { 0 } else { rng.between(5, 200) }),
            deadline_ms: rng.between(20_000, 60_000),
            bid_window_ms: rng.between(3_000, 15_000),
            weights: ScoringWeights::default(),
            verifier: None,
            arbiter: None,
            min_score: Fraction::from_micros(700_000).expect("at most one"),
            max_retries: rng.below(3) as u32,
            priority: rng.below(4) as u8,
            depends_on: Vec::new(),
            on_dependency_failure: DependencyFailure::Fail,
            payer,
            invited,
            verify_window_ms: rng.between(10_000, 60_000),
            distribution: if rng.chance(1, 4) { Distribution::Direct } else { Distribution::Auction },
            estimated_load: if rng.chance(1, 32) { 0 } else { rng.between(1, 3) as u32 },
        })
    }

    /// A batch of a few items, inline, split over a few agents; sometimes one that is refused (no
    /// items, or a batch id announced before).
    fn announce_batch(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let serial = self.next_serial();
        let batch_id = if rng.chance(1, 8) { format!("sweep-{}", rng.below(2)) } else { format!("sweep-{serial}") };
        let items = if rng.chance(1, 32) { 0 } else { rng.between(1, 12) };
        Command::AnnounceBatch(AnnounceBatch {
            batch_id: colony_testkit::name(&batch_id),
            kind: colony_testkit::name(rng.pick_text(&["analyze", "execute", "monitor"])),
            required_capabilities: Default::default(),
            items: Some((0..items).map(|item| JsonText::parse(&item.to_string()).expect("JSON")).collect()),
            item_count: None,
            reference: None,
            batch_size: rng.between(1, 6) as u32,
            agents: rng.between(1, 3) as u32,
            max_cost_per_item: Amount(rng.between(1, 20)),
            deadline_ms: rng.between(20_000, 60_000),
            bid_window_ms: rng.between(3_000, 15_000),
            verifier: None,
            arbiter: None,
            min_score: Fraction::from_micros(700_000).expect("at most one"),
            max_retries: rng.below(3) as u32,
            priority: rng.below(4) as u8,
            payer: None,
            invited: Default::default(),
            verify_window_ms: rng.between(10_000, 60_000),
            estimated_load: 1,
        })
    }

    /// A bid inside the task's terms on an open task of another manager, mostly; sometimes above its
    /// price.
    fn bid(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let task = self.task_where(rng, state, signer, |task, signer| {
            task.state == TaskState::Open
                && &task.manager != signer
                && &task.terms.payer != signer
                && !task.excluded.contains(signer)
        });
        let (max_cost, deadline_ms) =
            state.market().task(task).map_or((100, 30_000), |task| (task.terms.max_cost.0, task.terms.deadline_ms));
        let estimated_cost =
            if rng.chance(1, 16) { max_cost.saturating_add(1) } else { rng.between(1, max_cost.max(1)) };
        Command::PlaceBid(PlaceBid {
            task,
            estimated_cost: Amount(estimated_cost),
            estimated_time_ms: rng.between(1, deadline_ms.max(1)),
            confidence: Fraction::from_micros(rng.between(300_000, 1_000_000) as u32).expect("at most one"),
            capability_proof: None,
        })
    }

    fn submit_result(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let task = self.task_where(rng, state, signer, |task, signer| {
            matches!(task.state, TaskState::Running | TaskState::Awarded) && won_by(task, signer)
        });
        let serial = self.next_serial();
        Command::SubmitResult(SubmitResult {
            task,
            result: Some(JsonText::parse(&format!("{{\"signal\":\"buy\",\"n\":{serial}}}")).expect("JSON")),
            reference: None,
            actual_cost: Amount(rng.between(1, 50)),
        })
    }

    fn register(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        if self.registered >= REGISTRATIONS_MAX {
            return make::register(&format!("agent-{}", rng.between(1, REGISTRATIONS_MAX)), rng.pick_text(&ROLES));
        }
        self.registered += 1;
        let id = format!("agent-{}", self.registered);
        let mut key_seed = [0; 32];
        key_seed[..8].copy_from_slice(&self.key_seed.to_le_bytes());
        key_seed[8..16].copy_from_slice(&self.registered.to_le_bytes());
        let key = KeyPair::from_seed(key_seed);
        let mut registration = make::Register::new(&id, rng.pick_text(&ROLES)).key(key.public_key());
        if !self.members.is_empty() && rng.chance(1, 3) {
            registration = registration.parent(&self.member_id(rng));
        }
        self.members.push(Member { id: colony_testkit::agent_id(&id), key, nonce: 0 });
        registration.build()
    }

    fn update(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        make::Update::new(&self.member_id(rng)).role(rng.pick_text(&ROLES)).build()
    }

    fn halt(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        make::halt(&self.member_id(rng), "suspicious trades")
    }

    fn resume(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        make::resume(&self.member_id(rng))
    }

    fn deregister(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        // Rarely the real thing: the crowd would otherwise be gone before it did anything.
        let target = if rng.chance(1, 8) { self.member_id(rng) } else { "agent-0".to_owned() };
        make::deregister(&target)
    }

    fn set_config(&mut self, rng: &mut Rng, state: &State, _: Option<usize>) -> Command {
        let mut config = state.config().clone();
        config.heartbeat_ttl_ms = rng.between(20_000, 120_000);
        make::set_config(config)
    }

    fn mint(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let transfer_id = format!("mint-{}", self.next_serial());
        make::mint(&transfer_id, &self.member_id(rng), rng.between(1_000, 1_000_000))
    }

    fn transfer(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let transfer_id = format!("pay-{}", self.next_serial());
        make::transfer(&transfer_id, &self.member_id(rng), rng.between(1, 5_000))
    }

    fn transfer_batch(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let transfers: Vec<_> = (0..rng.between(2, 3))
            .map(|_| {
                let transfer_id = format!("batch-{}", self.next_serial());
                make::transfer_request(&transfer_id, &self.member_id(rng), rng.between(1, 2_000))
            })
            .collect();
        make::transfer_batch(transfers)
    }

    fn withdraw(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        make::withdraw(&format!("out-{}", self.next_serial()), rng.between(1, 1_000))
    }

    fn sweep(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let signer_id = signer.map(|index| self.members[index].id.clone());
        let child = self
            .members
            .iter()
            .find(|member| state.agent(&member.id).is_some_and(|agent| agent.parent == signer_id))
            .map_or_else(|| self.member_id(rng), |member| member.id.to_string());
        make::sweep(&child, &format!("sweep-{}", self.next_serial()), rng.between(1, 1_000))
    }

    fn configure_wallet(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let mut policy = make::configure_wallet(&self.member_id(rng));
        if rng.chance(1, 2) {
            policy = policy.daily_limit(rng.between(10_000, 1_000_000));
        }
        if rng.chance(1, 8) {
            policy = policy.frozen(rng.chance(1, 2));
        }
        if rng.chance(1, 4) {
            policy = policy.no_withdraw(rng.chance(1, 2));
        }
        policy.build()
    }

    fn lock(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let mut lock =
            make::Lock::new(&self.member_id(rng), rng.between(1, 3_000)).timeout_ms(rng.between(2_000, 90_000));
        if rng.chance(1, 3) {
            lock = lock.hashlock(SECRET);
        }
        if rng.chance(1, 3) {
            lock = lock.arbiter(&self.member_id(rng));
        }
        if rng.chance(1, 4) {
            lock = lock.task_id(&format!("task-{}", rng.below(16)));
        }
        lock.build()
    }

    fn release(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let escrow = self.escrow_where(rng, state, signer, |escrow, signer| {
            escrow.state == EscrowState::Locked && Some(&escrow.payer) == signer
        });
        let locked = state.ledger().escrow(escrow).and_then(|escrow| escrow.hashlock);
        match locked {
            Some(hashlock) if hashlock == hashlock_for(SECRET) && rng.chance(7, 8) => {
                make::release_with_preimage(escrow, SECRET)
            }
            Some(_) => make::release_with_preimage(escrow, "a-guess"),
            None => make::release(escrow),
        }
    }

    fn resolve(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let escrow = self.escrow_where(rng, state, signer, |escrow, signer| {
            escrow.state == EscrowState::Disputed && escrow.arbiter.as_ref() == signer
        });
        let resolution = match rng.below(3) {
            0 => EscrowResolution::Release,
            1 => EscrowResolution::Refund,
            _ => EscrowResolution::Split { payee_bps: rng.below(10_001) as u16 },
        };
        make::resolve(escrow, resolution)
    }

    fn create_stream(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let (stream, subjects) = *rng.pick(&STREAMS);
        let mut create = make::CreateStreamBuilder::new(stream, [subjects]);
        match rng.below(4) {
            0 => create = create.max_messages(rng.between(4, 64)),
            1 => create = create.max_messages(rng.between(4, 64)).discard_new(),
            2 => create = create.max_age_ms(rng.between(5_000, 60_000)),
            _ => create = create.max_bytes(rng.between(2_048, 16_384)),
        }
        create.build()
    }

    fn create_consumer(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        make::CreateConsumerBuilder::new(rng.pick(&STREAMS).0, rng.pick_text(&CONSUMERS))
            .roles(ROLES)
            .ack_wait_ms(rng.between(1_000, 5_000))
            .max_deliver(rng.between(1, 3) as u32)
            .max_ack_pending(64)
            .build()
    }

    fn publish(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let subject = format!("{}.{}", rng.pick_text(&["jobs", "alerts", "audit", "chatter"]), rng.below(4));
        let serial = self.next_serial();
        let mut publish = make::PublishBuilder::new(&subject).json(&format!("{{\"n\":{serial},\"ok\":true}}"));
        if rng.chance(1, 4) {
            publish = publish.message_id(&format!("message-{}", rng.below(8)));
        }
        publish.build()
    }

    fn ack(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let holder = signer.map(|index| Signer::Agent(self.members[index].id.clone()));
        // The deliveries the signer holds, on whichever stream and consumer they are.
        let mut held: Vec<(&'static str, &'static str, Vec<u64>)> = Vec::new();
        for (stream, _) in STREAMS {
            let Some(found) = state.bus().stream(&Name::new(stream).expect("a stream name")) else { continue };
            for consumer in CONSUMERS {
                let Some(found) = found.consumer(&Name::new(consumer).expect("a consumer name")) else { continue };
                let sequences: Vec<u64> = found
                    .pending()
                    .iter()
                    .filter(|(_, pending)| {
                        Some(&pending.holder) == holder.as_ref() && pending.ack_deadline_ms.is_some()
                    })
                    .map(|(sequence, _)| *sequence)
                    .take(3)
                    .collect();
                if !sequences.is_empty() {
                    held.push((stream, consumer, sequences));
                }
            }
        }
        let (stream, consumer, sequences) = if held.is_empty() || rng.chance(1, 8) {
            (rng.pick(&STREAMS).0, rng.pick_text(&CONSUMERS), vec![rng.between(1, 8)])
        } else {
            held.swap_remove(rng.index(held.len()))
        };
        let kind = match rng.below(8) {
            0 => AckKind::Nak { delay_ms: rng.between(0, 3_000), error: Some("busy".to_owned()) },
            1 => AckKind::InProgress,
            2 => AckKind::Term { reason: None },
            _ => AckKind::Ack,
        };
        make::acknowledge(stream, consumer, &sequences, kind)
    }

    fn dead_letter_ids(rng: &mut Rng, state: &State) -> (&'static str, Vec<u64>) {
        let stream = rng.pick(&STREAMS).0;
        let ids: Vec<u64> = state
            .dead_letters(&Name::new(stream).expect("a stream name"), None, 3)
            .into_iter()
            .map(|dead_letter| dead_letter.id)
            .collect();
        (stream, if ids.is_empty() { vec![1] } else { ids })
    }

    fn replay_dead_letters(&mut self, rng: &mut Rng, state: &State, _: Option<usize>) -> Command {
        let (stream, ids) = Clients::dead_letter_ids(rng, state);
        make::replay_dead_letters(stream, &ids)
    }

    fn discard_dead_letters(&mut self, rng: &mut Rng, state: &State, _: Option<usize>) -> Command {
        let (stream, ids) = Clients::dead_letter_ids(rng, state);
        make::discard_dead_letters(stream, &ids)
    }
}
