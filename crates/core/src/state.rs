//! The state machine: `State::apply` is the only way state changes.

use crate::command::RegisterAgent;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::bus::Bus;
use crate::command::Command;
use crate::config::SwarmConfig;
use crate::coordination::Coordination;
use crate::draw::DrawSeed;
use crate::entry::{Entry, EntryBody, Genesis, SignedCommands};
use crate::event::{Event, EventKind};
use crate::governance::Governance;
use crate::ids::{AgentId, Digest, PublicKey, Signer};
use crate::kv::KeyValueStore;
use crate::ledger::Ledger;
use crate::limits;
use crate::market::Market;
use crate::outcome::{ApplyError, CommandResult, EntryOutcome, Rejection};
use crate::registry::{Agent, AgentHandle, Registry};
use crate::replay::ReplayWindow;
use crate::stigmergy::Stigmergy;

/// The operator's identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// The operator's key, fixed at genesis.
    pub public_key: PublicKey,
    replay: ReplayWindow,
}

/// A bearer token the operator authorised for reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadToken {
    /// The operator's label for it.
    pub label: String,
    /// When it was issued (log time).
    pub issued_at_ms: u64,
    /// When it stops working, if ever.
    pub expires_at_ms: Option<u64>,
}

/// Running totals, kept in state so they are as deterministic as everything else.
///
/// They saturate at `u64::MAX` rather than overflow. No log comes near that many entries, commands or
/// events, but a state restored from a damaged snapshot may hold any count, and the invariants cannot
/// tell a wrong count from a right one (except `entries`, which is the sequence number).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Entries applied.
    pub entries: u64,
    /// Commands applied (including `Unchanged`).
    pub commands_accepted: u64,
    /// Commands refused, including every command of a refused envelope.
    pub commands_rejected: u64,
    /// Events emitted.
    pub events: u64,
}

/// The whole state of a swarm.
///
/// Every collection is ordered (`BTreeMap`/`BTreeSet`, or a `Vec` in log order), so that iteration,
/// snapshots and the state hash are identical on every machine and after every restore.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    sequence: u64,
    timestamp_ms: u64,
    /// The rules the state was reached under, from the genesis (0 before it). Kept in the state, so in
    /// snapshots and the state hash, so that a snapshot is refused by a binary of other rules even when
    /// the snapshot's format did not change.
    rules_version: u32,
    operator: Option<Operator>,
    pub(crate) config: SwarmConfig,
    pub(crate) registry: Registry,
    pub(crate) ledger: Ledger,
    pub(crate) bus: Bus,
    pub(crate) market: Market,
    pub(crate) governance: Governance,
    pub(crate) stigmergy: Stigmergy,
    pub(crate) coordination: Coordination,
    pub(crate) kv: KeyValueStore,
    pub(crate) read_tokens: BTreeMap<Digest, ReadToken>,
    /// The chain every entry folds into, where draws no party may aim take their chance from.
    pub(crate) draw_seed: DrawSeed,
    counters: Counters,
}

/// What a command handler knows about the entry it runs in, and where it puts its events.
pub(crate) struct Context {
    /// Who signed the commands being applied; `None` while time-driven changes run, so that nothing
    /// done on a deadline can be taken for an act of the operator or of any agent.
    signer: Option<Signer>,
    /// The signer's handle when it is a registered agent (not for the operator, nor for an agent
    /// registering itself): looked up once per envelope, at admission.
    signer_handle: Option<AgentHandle>,
    pub verified_key: PublicKey,
    pub nonce: u64,
    pub now_ms: u64,
    sequence: u64,
    events: Vec<Event>,
    /// Messages removed from each stream by its limits during this entry, reported as one event per
    /// stream at the end of the entry rather than one per message.
    discarded: BTreeMap<crate::ids::Name, u64>,
    /// Bytes the entry's remaining fetches may still return (`FETCH_BYTES_PER_ENVELOPE_MAX`).
    pub fetch_bytes_left: u64,
    /// Agents the entry's remaining commands may still examine looking for agents
    /// (`ASSIGNMENT_CANDIDATES_PER_ENVELOPE_MAX`).
    pub assignment_candidates_left: usize,
    /// Voters the entry's remaining commands may still draw into electorates
    /// (`ELECTORATE_SCAN_PER_ENVELOPE_MAX`).
    pub electorate_scan_left: usize,
}

impl Context {
    fn new(sequence: u64, now_ms: u64) -> Context {
        Context {
            signer: None,
            signer_handle: None,
            verified_key: PublicKey([0; 32]),
            nonce: 0,
            now_ms,
            sequence,
            events: Vec::new(),
            discarded: BTreeMap::new(),
            fetch_bytes_left: crate::limits::FETCH_BYTES_PER_ENVELOPE_MAX,
            assignment_candidates_left: crate::limits::ASSIGNMENT_CANDIDATES_PER_ENVELOPE_MAX,
            electorate_scan_left: crate::limits::ELECTORATE_SCAN_PER_ENVELOPE_MAX,
        }
    }

    /// The entry's sequence number.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The signer of the commands being applied.
    ///
    /// # Panics
    /// While time-driven changes run: code on a deadline acts for nobody.
    pub fn signer(&self) -> &Signer {
        self.signer.as_ref().expect("only commands have a signer")
    }

    /// The signer's registry handle, when the signer is an agent that was registered when its envelope
    /// was admitted.
    pub fn signer_handle(&self) -> Option<AgentHandle> {
        self.signer_handle
    }

    /// The signer, while commands run; `None` for time-driven changes.
    pub fn acting_signer(&self) -> Option<Signer> {
        self.signer.clone()
    }

    /// Refuses anyone but the operator.
    pub fn require_operator(&self) -> Result<(), Rejection> {
        if *self.signer() == Signer::Operator {
            Ok(())
        } else {
            Err(Rejection::Unauthorized { reason: "only the operator may do this" })
        }
    }

    /// How many events were emitted so far (for undoing a linked batch).
    pub fn events_len(&self) -> usize {
        self.events.len()
    }

    /// Drops events emitted after `length` (a linked batch that failed emits nothing).
    pub fn truncate_events(&mut self, length: usize) {
        self.events.truncate(length);
    }

    /// Counts messages a stream's limits removed, for the entry's `stream.messages_discarded` events.
    pub fn note_discarded(&mut self, stream: &crate::ids::Name, count: u64) {
        if count > 0 {
            *self.discarded.entry(stream.clone()).or_insert(0) += count;
        }
    }

    /// Emits the discard counts noted during the entry, one event per stream.
    fn flush_discarded(&mut self) {
        for (stream, count) in std::mem::take(&mut self.discarded) {
            self.emit(EventKind::MessagesDiscarded { stream, count });
        }
    }

    /// Makes the operator the signer while an approved proposal's action runs, and remembers what to
    /// give back (or undo) in [`Context::leave_action`].
    pub(crate) fn enter_action(&mut self, operator_key: PublicKey) -> ActionFrame {
        ActionFrame {
            signer: self.signer.replace(Signer::Operator),
            signer_handle: self.signer_handle.take(),
            verified_key: std::mem::replace(&mut self.verified_key, operator_key),
            nonce: std::mem::take(&mut self.nonce),
            events: self.events.len(),
            discarded: self.discarded.clone(),
        }
    }

    /// Gives the entry its own signer back; for an action that was refused, also drops what its
    /// commands reported, since none of it stands.
    pub(crate) fn leave_action(&mut self, frame: ActionFrame, undo: bool) {
        self.signer = frame.signer;
        self.signer_handle = frame.signer_handle;
        self.verified_key = frame.verified_key;
        self.nonce = frame.nonce;
        if undo {
            self.events.truncate(frame.events);
            self.discarded = frame.discarded;
        }
    }

    /// Records an event of this entry.
    pub fn emit(&mut self, kind: EventKind) {
        let index = u32::try_from(self.events.len()).expect("events per entry fit in u32");
        self.events.push(Event { sequence: self.sequence, index, timestamp_ms: self.now_ms, kind });
    }
}

/// What an action's run borrowed from its entry's context.
pub(crate) struct ActionFrame {
    signer: Option<Signer>,
    signer_handle: Option<AgentHandle>,
    verified_key: PublicKey,
    nonce: u64,
    events: usize,
    discarded: BTreeMap<crate::ids::Name, u64>,
}

/// How an envelope was admitted.
enum Admission {
    /// From the operator, with a fresh nonce.
    Operator,
    /// From a registered agent, with a fresh nonce.
    Agent(AgentHandle),
    /// From an unknown signer registering itself.
    SelfRegistration,
}

/// A snapshot that cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// The bytes do not start with the snapshot magic.
    NotASnapshot,
    /// The snapshot was written by an unknown format version.
    UnsupportedVersion(u32),
    /// The snapshot's state was reached under rules other than [`RULES_VERSION`] (the version it names).
    RulesVersionMismatch(u32),
    /// The body does not decode.
    Malformed(String),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::NotASnapshot => formatter.write_str("not a Colony snapshot"),
            SnapshotError::UnsupportedVersion(version) => write!(formatter, "unsupported snapshot version {version}"),
            SnapshotError::RulesVersionMismatch(version) => {
                write!(formatter, "taken under rules version {version}; this binary applies version {RULES_VERSION}")
            }
            SnapshotError::Malformed(reason) => write!(formatter, "malformed snapshot: {reason}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// The version of the rules `State::apply` applies: how each command and each time-driven change
/// (expiries, deadlines, the assignment pass) changes the state, and the defaults a genesis's
/// configuration is filled in with when it decodes. The genesis records the version the log is written
/// under, and a log or snapshot of another version is refused rather than replayed: replayed under other
/// rules, a log would silently reach a state other than the one its writer served, acknowledged and
/// signed in its checkpoints.
///
/// Bump it with any change that makes an existing log replay differently: a command or a time-driven
/// change applied another way (a new check, a different amount, event or order), a limit that refuses
/// what was accepted, or a default that decoding a genesis fills in (`SwarmConfig`'s serde defaults).
/// A new command kind alone does not need it (no existing log holds one), nor does a change of what
/// the server does around core. Bumping it needs no snapshot version bump: snapshots carry the rules
/// version of their state.
///
/// 0 is what a genesis without the field decodes as: logs written before the genesis recorded a
/// version, under rules that changed several times unrecorded, so no one version describes them. 1 is
/// the first recorded: the rules of the market's funds check at announce, per-agent limits,
/// `referral_from` defaulting to the payee, and the default task kinds.
/// 2: a queued direct task is offered to an agent in the entry that lets it take work (registered,
/// heard from again, resumed, back within its budget, given a capability), the commands of one
/// envelope draw at most `ELECTORATE_SCAN_PER_ENVELOPE_MAX` voters into electorates, the
/// configuration names guarded kinds (filled in by default), and proposals run actions.
/// 3: `ledger.penalize` is among the default guarded kinds, and a dispute of an escrow with no
/// arbiter opens a jury that settles it.
/// 4: a jury's jurors are drawn by the draw seed, spread over the active agents, rather than walked
/// from a start the escrow's number set; the liveness pass stops before the agent whose leases would
/// take an entry's silence-driven lease ends past `LEASE_EXPIRIES_PER_ENTRY_MAX`; barriers joined the
/// coordination commands.
/// 5: subjects under `colony.` are the server's: no stream may capture them, so no agent stores a
/// message there that subscribers could take for the server's.
pub const RULES_VERSION: u32 = 5;

const SNAPSHOT_MAGIC: &[u8; 8] = b"COLONYSS";
// 2: the task market joined the state.
// 3: the market counts the funds its open tasks commit and assigns tasks directly (terms' distribution
//    and load, the market's load, capacities, affinities and assignment queue); escrows carry a
//    description and the referral rule they were locked under; the configuration names task kinds
//    and the referral rule.
// 4: the market keeps where direct assignment's next window over a large population starts and how
//    many windows found nobody since room last changed, and the state records the rules version of
//    its log.
// 5: the market's affinities carry their renewal order and an index by worker, for eviction of the
//    stalest and for deregistration.
// 6: governance joined the state: proposals, their electorates and ballots, and the chain of seals.
// 7: stigmergy joined the state: pheromone maps, their trails and who opened each.
// 8: proposals carry actions and decisions their results; governance records the end of bootstrap.
// 9: coordination joined the state: leases, locks with their holders and queues, the fencing counter;
//    a role in the configuration says who may put agents in it (`admission`); escrows and proposals
//    name their jury; governance counts open juries per disputer.
// 10: the state keeps the draw seed, the chain every entry folds into; coordination keeps barriers,
//     and each lease the barriers it waits at.
// 11: each lock record says whether it is a lock, a semaphore (with its permits) or an election.
// 12: the key-value store joined the state: namespaces, entries, deletions kept for watchers.
// 13: a stored key names the lease it lives with, and each lease lists its keys; coordination keeps
//     vote-based elections with their rounds and the rounds' deadlines.
const SNAPSHOT_VERSION: u32 = 13;

impl State {
    /// An empty state, before genesis.
    pub fn new() -> State {
        State::default()
    }

    /// Applies one entry. This is the only way state changes.
    ///
    /// Returns an error only when the entry cannot follow the current state at all (a gap in
    /// sequence numbers, time going backwards, a misplaced genesis); such an entry changes nothing.
    /// Everything a client can cause is an ordinary outcome inside [`EntryOutcome`].
    pub fn apply(&mut self, entry: &Entry) -> Result<EntryOutcome, ApplyError> {
        let expected = self.sequence + 1;
        if entry.sequence != expected {
            return Err(ApplyError::SequenceGap { expected, found: entry.sequence });
        }
        if entry.timestamp_ms < self.timestamp_ms {
            return Err(ApplyError::TimeWentBackwards { previous_ms: self.timestamp_ms, found_ms: entry.timestamp_ms });
        }
        let is_genesis = matches!(entry.body, EntryBody::Genesis(_));
        if is_genesis != (entry.sequence == 1) {
            return Err(ApplyError::GenesisMisplaced { sequence: entry.sequence });
        }
        if let EntryBody::Genesis(genesis) = &entry.body {
            // First: under other rules even the configuration's validity may differ.
            if genesis.rules_version != RULES_VERSION {
                return Err(ApplyError::RulesVersionMismatch { log: genesis.rules_version, binary: RULES_VERSION });
            }
            if let Err(rejection) = genesis.config.validate() {
                return Err(ApplyError::InvalidGenesis { reason: rejection.to_string() });
            }
        }

        self.sequence = entry.sequence;
        self.timestamp_ms = entry.timestamp_ms;
        self.counters.entries = self.counters.entries.saturating_add(1);
        self.draw_seed.fold(entry);
        let mut context = Context::new(entry.sequence, entry.timestamp_ms);
        // Time-driven changes happen first, so that commands in this entry see the world as of its
        // timestamp (an agent whose deadline passed is unresponsive before its own late heartbeat; an
        // escrow whose timeout passed is refunded before anyone can release it).
        self.expire_liveness(&mut context);
        // The market's deadlines before the ledger's: a task's escrow is settled by its task.
        self.expire_market(&mut context);
        self.expire_escrows(&mut context);
        self.expire_bus(&mut context);
        self.expire_proposals(&mut context);
        // After liveness: a silent holder's leases already ended there, with the reason that says so.
        self.expire_leases(&mut context);
        // After leases: a barrier a dead party waited at broke at its lease's end, saying so.
        self.expire_barriers(&mut context);
        self.expire_vote_rounds(&mut context);

        let mut outcome = EntryOutcome::default();
        match &entry.body {
            EntryBody::Genesis(genesis) => self.apply_genesis(&mut context, genesis),
            EntryBody::Tick => {}
            EntryBody::Signed(signed) => match self.admit(signed) {
                Err(rejection) => {
                    self.counters.commands_rejected =
                        self.counters.commands_rejected.saturating_add(signed.commands.len() as u64);
                    outcome.envelope = Some(rejection);
                }
                Ok(signer_handle) => {
                    context.signer = Some(signed.signer.clone());
                    context.signer_handle = signer_handle;
                    context.verified_key = signed.verified_key;
                    context.nonce = signed.nonce;
                    outcome.commands.reserve(signed.commands.len());
                    for command in &signed.commands {
                        let result = self.apply_command(&mut context, command);
                        match result {
                            Ok(_) => {
                                self.counters.commands_accepted = self.counters.commands_accepted.saturating_add(1)
                            }
                            Err(_) => {
                                self.counters.commands_rejected = self.counters.commands_rejected.saturating_add(1)
                            }
                        }
                        outcome.commands.push(result);
                    }
                }
            },
        }
        // Direct tasks find their agents once the entry's changes are in, highest priority first.
        self.assign_queued_tasks(&mut context);
        context.flush_discarded();
        self.counters.events = self.counters.events.saturating_add(context.events.len() as u64);
        outcome.events = context.events;
        Ok(outcome)
    }

    fn apply_genesis(&mut self, context: &mut Context, genesis: &Genesis) {
        assert!(self.operator.is_none(), "genesis is only ever entry 1");
        // The driver writes genesis from a validated configuration; `apply` checked it again before
        // calling this, so an invalid one here is a bug.
        assert!(genesis.config.validate().is_ok(), "genesis configuration is valid");
        self.operator = Some(Operator { public_key: genesis.operator_key, replay: ReplayWindow::default() });
        self.config = genesis.config.clone();
        self.rules_version = genesis.rules_version;
        context.emit(EventKind::Genesis {});
    }

    /// Checks the envelope as a whole: a known signer, its registered key, a fresh nonce. Spends the
    /// nonce when admitted, so a replay of the same envelope is refused.
    /// Returns the signer's handle when it is a registered agent.
    fn admit(&mut self, signed: &SignedCommands) -> Result<Option<AgentHandle>, Rejection> {
        match self.admission(signed)? {
            // The registration handler spends a self-registration's nonce, in the new agent's window.
            Admission::SelfRegistration => Ok(None),
            Admission::Operator => {
                self.operator.as_mut().expect("admitted").replay.consume(signed.nonce);
                Ok(None)
            }
            Admission::Agent(handle) => {
                self.registry.by_handle_mut(handle).replay.consume(signed.nonce);
                Ok(Some(handle))
            }
        }
    }

    /// The envelope-level checks shared by `admit` and `check_admission`, changing nothing.
    fn admission(&self, signed: &SignedCommands) -> Result<Admission, Rejection> {
        if signed.commands.len() > limits::COMMANDS_PER_ENVELOPE_MAX {
            return Err(Rejection::LimitReached {
                limit: "commands_per_envelope",
                max: limits::COMMANDS_PER_ENVELOPE_MAX as u64,
            });
        }
        let (replay, admission) = match &signed.signer {
            Signer::Operator => {
                let operator =
                    self.operator.as_ref().ok_or(Rejection::Genesis { reason: "the swarm has no operator yet" })?;
                if operator.public_key != signed.verified_key {
                    return Err(Rejection::KeyMismatch);
                }
                (&operator.replay, Admission::Operator)
            }
            Signer::Agent(id) => match self.registry.handle(id) {
                Some(handle) => {
                    let agent = self.registry.by_handle(handle);
                    if agent.public_key != signed.verified_key {
                        return Err(Rejection::KeyMismatch);
                    }
                    if agent.deregistered_at_ms.is_some() {
                        return Err(Rejection::AgentDeregistered { agent: id.clone() });
                    }
                    (&agent.replay, Admission::Agent(handle))
                }
                None => {
                    // The one thing an unknown signer may do is register itself with the key it signed
                    // with; the new agent's window starts empty, so its nonce must be fresh for that.
                    return match self_registration_key(&signed.signer, &signed.commands) {
                        Some(key) if key == signed.verified_key => {
                            if ReplayWindow::default().is_fresh(signed.nonce) {
                                Ok(Admission::SelfRegistration)
                            } else {
                                Err(Rejection::NonceReplayed { nonce: signed.nonce })
                            }
                        }
                        _ => Err(Rejection::UnknownSigner),
                    };
                }
            },
        };
        if !replay.is_fresh(signed.nonce) {
            return Err(Rejection::NonceReplayed { nonce: signed.nonce });
        }
        Ok(admission)
    }

    fn apply_command(&mut self, context: &mut Context, command: &Command) -> CommandResult {
        if !command.allowed_while_halted() {
            let may_act = match context.signer_handle {
                Some(handle) => self.check_agent_may_act(handle),
                None => self.check_may_act(context.signer()),
            };
            match may_act {
                // Only a self-registration, admitted as such, has a signer the registry does not know.
                Ok(()) | Err(Rejection::UnknownSigner) => {}
                Err(rejection) => return Err(rejection),
            }
        }
        self.check_guarded(context, command)?;
        command.apply_to(self, context)
    }

    // ----- Queries -----

    /// The sequence number of the last applied entry (0 before genesis).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The timestamp of the last applied entry: the state's notion of now.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The operator, once genesis is applied.
    pub fn operator(&self) -> Option<&Operator> {
        self.operator.as_ref()
    }

    /// The rules version the log was written under (0 before genesis); once genesis is applied, always
    /// [`RULES_VERSION`].
    pub fn rules_version(&self) -> u32 {
        self.rules_version
    }

    /// The swarm configuration.
    pub fn config(&self) -> &SwarmConfig {
        &self.config
    }

    /// The agent registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The message bus's durable state: streams, consumers, dead letters (see [`crate::bus`] and the
    /// stream queries below).
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The task market.
    pub fn market(&self) -> &Market {
        &self.market
    }

    /// Governance: proposals, ballots, decisions and the chain of seals.
    pub fn governance(&self) -> &Governance {
        &self.governance
    }

    /// Stigmergy: the pheromone maps and their trails.
    pub fn stigmergy(&self) -> &Stigmergy {
        &self.stigmergy
    }

    /// Coordination: leases, and locks with their holders, fencing tokens and queues.
    pub fn coordination(&self) -> &Coordination {
        &self.coordination
    }

    /// The shared key-value store: namespaces, their keys and the changes a watch reads.
    pub fn kv(&self) -> &KeyValueStore {
        &self.kv
    }

    /// One agent.
    pub fn agent(&self, id: &AgentId) -> Option<&Agent> {
        self.registry.get(id)
    }

    /// A read token by its SHA-256.
    pub fn read_token(&self, token_sha256: &Digest) -> Option<&ReadToken> {
        self.read_tokens.get(token_sha256)
    }

    /// Running totals.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The key a signer's envelopes must be verified with, if the signer is known.
    pub fn signer_key(&self, signer: &Signer) -> Option<PublicKey> {
        match signer {
            Signer::Operator => self.operator.as_ref().map(|operator| operator.public_key),
            Signer::Agent(id) => self.registry.get(id).map(|agent| agent.public_key),
        }
    }

    /// Whether `signer` may act now: the operator always; an agent that is registered, not
    /// deregistered, and not halted (by the operator, its parent, or its budget). The one rule for
    /// commands (other than those a halted agent may still send) and for ephemeral publishes.
    pub fn check_may_act(&self, signer: &Signer) -> Result<(), Rejection> {
        let Signer::Agent(id) = signer else { return Ok(()) };
        let handle = self.registry.handle(id).ok_or(Rejection::UnknownSigner)?;
        self.check_agent_may_act(handle)
    }

    /// [`State::check_may_act`] for a registered agent.
    fn check_agent_may_act(&self, handle: AgentHandle) -> Result<(), Rejection> {
        let agent = self.registry.by_handle(handle);
        if agent.deregistered_at_ms.is_some() {
            return Err(Rejection::AgentDeregistered { agent: agent.id.clone() });
        }
        if agent.halt.is_some() || agent.budget_halted {
            return Err(Rejection::AgentHalted { agent: agent.id.clone() });
        }
        Ok(())
    }

    /// The key an envelope of `commands` signed by `signer` must verify with: for a self-registration
    /// the key it registers, whatever the state (so the key an entry was verified with never depends on
    /// entries that shared its group commit, and a replay computes the same key as the live writer);
    /// otherwise the signer's registered key. `None` for an unknown signer that does not register
    /// itself. (Anyone else claiming a taken id that way is refused with `key_mismatch`.)
    pub fn expected_key(&self, signer: &Signer, commands: &[Command]) -> Option<PublicKey> {
        self_registration_key(signer, commands).or_else(|| self.signer_key(signer))
    }

    /// Whether `apply` would admit this envelope now, without changing anything: a known signer with
    /// its registered key and a fresh nonce, or an unknown one registering itself in a way that would
    /// succeed. The driver calls this before logging, so that nothing refused at the envelope level,
    /// and no self-registration that would fail, ever grows the log.
    pub fn check_admission(&self, signed: &SignedCommands, now_ms: u64) -> Result<(), Rejection> {
        if let Admission::SelfRegistration = self.admission(signed)?
            && let [
                Command::RegisterAgent(RegisterAgent {
                    agent,
                    public_key,
                    role,
                    capabilities,
                    weight,
                    parent,
                    referrer,
                }),
            ] = signed.commands.as_slice()
        {
            self.check_registration(
                now_ms,
                &signed.signer,
                signed.verified_key,
                agent,
                *public_key,
                role,
                capabilities,
                *weight,
                parent,
                referrer,
            )?;
        }
        Ok(())
    }

    /// Whether `nonce` would be fresh for `signer` now (for the driver's pre-check; `apply` decides).
    pub fn nonce_is_fresh(&self, signer: &Signer, nonce: u64) -> bool {
        match signer {
            Signer::Operator => self.operator.as_ref().is_some_and(|operator| operator.replay.is_fresh(nonce)),
            Signer::Agent(id) => match self.registry.get(id) {
                Some(agent) => agent.replay.is_fresh(nonce),
                None => ReplayWindow::default().is_fresh(nonce),
            },
        }
    }

    /// The highest nonce a signer has used (0 if none), so that clients can resume after a restart.
    pub fn highest_nonce(&self, signer: &Signer) -> u64 {
        match signer {
            Signer::Operator => self.operator.as_ref().map_or(0, |operator| operator.replay.highest()),
            Signer::Agent(id) => self.registry.get(id).map_or(0, |agent| agent.replay.highest()),
        }
    }

    /// The earliest log time at which a time-driven change is due: the driver appends a tick entry
    /// then, so deadlines pass even when nobody writes.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        // A deadline passes once time is strictly beyond it.
        let liveness = self.registry.next_deadline_ms();
        let escrow = self.ledger.next_deadline_ms();
        let bus = self.bus.next_deadline_ms();
        let market = self.market.next_deadline_ms();
        let proposals = self.governance.next_deadline_ms();
        let leases = self.coordination.next_deadline_ms();
        let deadlines = liveness.into_iter().chain(escrow).chain(bus).chain(market).chain(proposals).chain(leases);
        deadlines.min().map(|deadline| deadline.saturating_add(1))
    }

    // ----- Integrity -----

    /// Checks every invariant; returns a description of the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.sequence > 0 && self.operator.is_none() {
            return Err("entries were applied but there is no operator".to_owned());
        }
        if self.read_tokens.len() > limits::READ_TOKENS_MAX {
            return Err("too many read tokens".to_owned());
        }
        if let Some(operator) = &self.operator {
            operator.replay.check_invariants().map_err(|reason| format!("operator: {reason}"))?;
        }
        // Commands read the configuration as valid (fee shares, TTLs), as `config.set` leaves it.
        if let Err(rejection) = self.config.validate() {
            return Err(format!("the configuration is invalid: {rejection}"));
        }
        if self.counters.entries != self.sequence {
            return Err(format!("{} entries counted but the sequence is {}", self.counters.entries, self.sequence));
        }
        self.registry.check_invariants()?;
        self.ledger.check_invariants()?;
        self.bus.check_invariants()?;
        self.market.check_invariants()?;
        if self.market.assignment_window_after.is_some_and(|handle| handle.index() >= self.registry.len()) {
            return Err("direct assignment's window starts after an agent past the registry".to_owned());
        }
        self.check_task_escrows()?;
        self.governance.check_invariants()?;
        self.stigmergy.check_invariants()?;
        self.coordination.check_invariants()?;
        self.kv.check_invariants()?;
        self.check_lease_holders()?;
        self.check_leased_keys()?;
        self.check_wallet_owners()?;
        Ok(())
    }

    /// The canonical hash of the whole state: SHA-256 over its snapshot encoding. Two states are equal
    /// exactly when their hashes are (up to SHA-256 collisions).
    pub fn state_hash(&self) -> Digest {
        let bytes = postcard::to_stdvec(self).expect("state always encodes");
        Digest(Sha256::digest(&bytes).into())
    }

    /// Encodes the state as a self-describing snapshot.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(1 << 16);
        bytes.extend_from_slice(SNAPSHOT_MAGIC);
        bytes.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        postcard::to_io(self, &mut bytes).expect("writing to a Vec cannot fail");
        bytes
    }

    /// The state hash of the state a snapshot holds, from its bytes, without decoding it: the hash is
    /// over the encoding the snapshot carries after its header. So a snapshot and the state hash it
    /// claims are checked against each other in one pass over the bytes; decoding then gives that
    /// state, because decoding and encoding are inverse (`tests/snapshots.rs`, the fuzz targets).
    pub fn snapshot_state_hash(snapshot: &[u8]) -> Digest {
        let header_length = SNAPSHOT_MAGIC.len() + 4;
        Digest(Sha256::digest(snapshot.get(header_length..).unwrap_or_default()).into())
    }

    /// Decodes a snapshot written by [`State::encode_snapshot`], from any source: the decoded state
    /// must pass every invariant.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<State, SnapshotError> {
        let state = State::decode_snapshot_body(bytes)?;
        state.check_invariants().map_err(SnapshotError::Malformed)?;
        Ok(state)
    }

    /// Decodes a snapshot whose bytes must hash to `state_hash`, the hash recorded beside it when a
    /// server encoded it from the state it was serving. Recovery's path: the hash proves the bytes
    /// are the ones encoded, so the invariant check of [`State::decode_snapshot`], which takes as
    /// long again as the decode at a million escrows, would only re-prove what held of the state
    /// they were encoded from (the audit still checks every invariant from genesis).
    pub fn decode_snapshot_with_hash(bytes: &[u8], state_hash: Digest) -> Result<State, SnapshotError> {
        if State::snapshot_state_hash(bytes) != state_hash {
            return Err(SnapshotError::Malformed("its bytes do not hash to the state hash it records".to_owned()));
        }
        State::decode_snapshot_body(bytes)
    }

    fn decode_snapshot_body(bytes: &[u8]) -> Result<State, SnapshotError> {
        let header_length = SNAPSHOT_MAGIC.len() + 4;
        if bytes.len() < header_length || &bytes[..SNAPSHOT_MAGIC.len()] != SNAPSHOT_MAGIC {
            return Err(SnapshotError::NotASnapshot);
        }
        let version = u32::from_le_bytes(bytes[SNAPSHOT_MAGIC.len()..header_length].try_into().expect("4 bytes"));
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError::UnsupportedVersion(version));
        }
        let (mut state, rest): (State, &[u8]) = postcard::take_from_bytes(&bytes[header_length..])
            .map_err(|error| SnapshotError::Malformed(error.to_string()))?;
        if !rest.is_empty() {
            return Err(SnapshotError::Malformed(format!("{} trailing bytes", rest.len())));
        }
        // Before the genesis a state has no rules yet (0); from it on, the rules it records.
        if state.sequence == 0 && state.rules_version != 0 {
            return Err(SnapshotError::Malformed(format!(
                "a state before the genesis records rules version {}",
                state.rules_version
            )));
        }
        if state.sequence > 0 && state.rules_version != RULES_VERSION {
            return Err(SnapshotError::RulesVersionMismatch(state.rules_version));
        }
        state.registry.rebuild_index();
        Ok(state)
    }
}

/// The key a self-registration registers: an envelope whose only command registers its own signer.
fn self_registration_key(signer: &Signer, commands: &[Command]) -> Option<PublicKey> {
    match (signer, commands) {
        (Signer::Agent(id), [Command::RegisterAgent(RegisterAgent { agent, public_key, .. })]) if agent == id => {
            Some(*public_key)
        }
        _ => None,
    }
}
