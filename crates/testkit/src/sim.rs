//! [`SwarmBuilder`] and [`Simulator`]: a swarm in memory, driven entry by entry.

use colony_core::{
    AccountId, Agent, ApplyError, Command, Entry, EntryOutcome, Escrow, Ledger, PublicKey, Signer, State, SwarmConfig,
    Wallet,
};

use super::commands::{mint, register};
use super::factory::{DEFAULT_START_MS, EntryFactory};
use super::keys::{agent_id, key_for, operator_key};

/// Configures a [`Simulator`]: the genesis configuration, the start time and the operator's key.
#[derive(Clone, Debug)]
pub struct SwarmBuilder {
    config: SwarmConfig,
    start_ms: u64,
    operator_key: PublicKey,
}

impl Default for SwarmBuilder {
    fn default() -> Self {
        SwarmBuilder::new()
    }
}

impl SwarmBuilder {
    /// The default configuration, starting at [`DEFAULT_START_MS`], with [`operator_key`].
    pub fn new() -> SwarmBuilder {
        SwarmBuilder { config: SwarmConfig::default(), start_ms: DEFAULT_START_MS, operator_key: operator_key() }
    }

    /// Uses `config` as the genesis configuration.
    pub fn config(mut self, config: SwarmConfig) -> SwarmBuilder {
        self.config = config;
        self
    }

    /// Sets the genesis configuration's heartbeat TTL.
    pub fn heartbeat_ttl_ms(mut self, heartbeat_ttl_ms: u64) -> SwarmBuilder {
        self.config.heartbeat_ttl_ms = heartbeat_ttl_ms;
        self
    }

    /// Allows or forbids self-registration in the genesis configuration.
    pub fn self_registration(mut self, allowed: bool) -> SwarmBuilder {
        self.config.self_registration = allowed;
        self
    }

    /// Sets the genesis timestamp.
    pub fn start_ms(mut self, start_ms: u64) -> SwarmBuilder {
        self.start_ms = start_ms;
        self
    }

    /// Uses another operator key.
    pub fn operator_key(mut self, operator_key: PublicKey) -> SwarmBuilder {
        self.operator_key = operator_key;
        self
    }

    /// An entry factory for this swarm, before genesis (for tests that apply entries themselves).
    pub fn factory(&self) -> EntryFactory {
        EntryFactory::new(self.start_ms, self.operator_key)
    }

    /// The genesis configuration.
    pub fn genesis_config(&self) -> &SwarmConfig {
        &self.config
    }

    /// A simulator with the genesis applied.
    #[track_caller]
    pub fn build(self) -> Simulator {
        let mut simulator =
            Simulator { factory: self.factory(), state: State::new(), log: Vec::new(), checks_paused: false };
        let genesis = simulator.factory.genesis(self.config);
        simulator.apply(&genesis).expect("the genesis applies to an empty state");
        simulator
    }
}

/// A swarm in memory: a [`State`], the log applied to it, and an [`EntryFactory`] to make more.
///
/// The convenience methods ([`operator`](Simulator::operator), [`agent`](Simulator::agent),
/// [`tick`](Simulator::tick), ...) make an entry at the current time, apply it, check every
/// invariant afterwards, and panic if the entry could not be applied at all: they are for tests that
/// exercise commands, not the log's consistency. [`apply`](Simulator::apply) hands back
/// [`ApplyError`]s.
#[derive(Clone, Debug)]
pub struct Simulator {
    factory: EntryFactory,
    state: State,
    log: Vec<Entry>,
    /// While true, entries are applied without the invariant check (see [`Simulator::in_bulk`]).
    checks_paused: bool,
}

impl Default for Simulator {
    fn default() -> Self {
        Simulator::new()
    }
}

impl Simulator {
    /// A swarm with the default configuration (see [`SwarmBuilder::new`]).
    pub fn new() -> Simulator {
        SwarmBuilder::new().build()
    }

    /// The state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The entries applied so far, genesis first.
    pub fn log(&self) -> &[Entry] {
        &self.log
    }

    /// The factory, for entries the convenience methods do not make.
    pub fn factory(&mut self) -> &mut EntryFactory {
        &mut self.factory
    }

    /// Runs `setup` with the invariants checked once at its end instead of after each entry: for
    /// set-ups of thousands of envelopes over a large state, where a check per entry would cost
    /// the square of the state's size.
    #[track_caller]
    pub fn in_bulk<T>(&mut self, setup: impl FnOnce(&mut Simulator) -> T) -> T {
        assert!(!self.checks_paused, "bulk set-ups do not nest");
        self.checks_paused = true;
        let value = setup(self);
        self.checks_paused = false;
        if let Err(broken) = self.state.check_invariants() {
            panic!("invariant broken by the bulk set-up ending at entry {}: {broken}", self.state.sequence());
        }
        value
    }

    /// The time the next entry will carry.
    pub fn now_ms(&self) -> u64 {
        self.factory.now_ms()
    }

    /// Moves the clock forward (no entry is made: see [`tick`](Simulator::tick)).
    #[track_caller]
    pub fn advance_ms(&mut self, milliseconds: u64) {
        self.factory.advance_ms(milliseconds);
    }

    /// Applies `entry`. On success the entry joins the log and the invariants are checked (a broken
    /// invariant panics). Either way the factory is resynchronised with the state, so entries made
    /// afterwards follow the state's last entry.
    #[track_caller]
    pub fn apply(&mut self, entry: &Entry) -> Result<EntryOutcome, ApplyError> {
        let result = self.state.apply(entry);
        if result.is_ok() {
            self.log.push(entry.clone());
            if self.checks_paused {
                // Checked once at the end of the bulk.
            } else if let Err(broken) = self.state.check_invariants() {
                panic!("invariant broken after entry {}: {broken}", entry.sequence);
            }
        }
        self.factory.set_next_sequence(self.state.sequence() + 1);
        if self.factory.now_ms() < self.state.timestamp_ms() {
            self.factory.set_now_ms(self.state.timestamp_ms());
        }
        result
    }

    /// Applies `entry`, panicking on an [`ApplyError`].
    #[track_caller]
    pub fn apply_ok(&mut self, entry: &Entry) -> EntryOutcome {
        match self.apply(entry) {
            Ok(outcome) => outcome,
            Err(error) => panic!("entry {} did not apply: {error}", entry.sequence),
        }
    }

    /// Applies a tick at the current time.
    #[track_caller]
    pub fn tick(&mut self) -> EntryOutcome {
        let entry = self.factory.tick();
        self.apply_ok(&entry)
    }

    /// Moves the clock forward by `milliseconds` and applies a tick.
    #[track_caller]
    pub fn tick_after(&mut self, milliseconds: u64) -> EntryOutcome {
        self.advance_ms(milliseconds);
        self.tick()
    }

    /// Applies an envelope of `commands` from the operator (its key, its next nonce).
    #[track_caller]
    pub fn operator(&mut self, commands: Vec<Command>) -> EntryOutcome {
        let entry = self.factory.operator(commands);
        self.apply_ok(&entry)
    }

    /// Applies an envelope of `commands` from agent `agent` (`key_for(agent)`, its next nonce).
    #[track_caller]
    pub fn agent(&mut self, agent: &str, commands: Vec<Command>) -> EntryOutcome {
        let entry = self.factory.agent(agent, commands);
        self.apply_ok(&entry)
    }

    /// Applies an envelope with everything chosen by the caller.
    #[track_caller]
    pub fn signed(
        &mut self,
        signer: Signer,
        verified_key: PublicKey,
        nonce: u64,
        commands: Vec<Command>,
    ) -> EntryOutcome {
        let entry = self.factory.signed(signer, verified_key, nonce, commands);
        self.apply_ok(&entry)
    }

    /// The operator registers `agent` with `role` and all defaults.
    #[track_caller]
    pub fn register(&mut self, agent: &str, role: &str) -> EntryOutcome {
        self.operator(vec![register(agent, role)])
    }

    /// `agent` registers itself with `role` (one command, signed with `key_for(agent)`).
    #[track_caller]
    pub fn self_register(&mut self, agent: &str, role: &str) -> EntryOutcome {
        self.agent(agent, vec![register(agent, role)])
    }

    /// The operator registers each of `agents` with `role`, one envelope each, and asserts that each
    /// registration was accepted.
    #[track_caller]
    pub fn register_all(&mut self, agents: &[&str], role: &str) {
        for agent in agents {
            let outcome = self.register(agent, role);
            assert!(
                outcome.envelope.is_none() && outcome.commands.iter().all(Result::is_ok),
                "registering '{agent}' failed: {outcome:?}"
            );
        }
    }

    /// The agent `agent`; panics if it was never registered.
    #[track_caller]
    pub fn agent_state(&self, agent: &str) -> &Agent {
        self.state.agent(&agent_id(agent)).unwrap_or_else(|| panic!("no agent '{agent}'"))
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        self.state.ledger()
    }

    /// The wallet of `agent`, if it ever held money or had a policy set.
    #[track_caller]
    pub fn wallet(&self, agent: &str) -> Option<&Wallet> {
        self.state.wallet(&agent_id(agent))
    }

    /// The spendable balance of `agent`'s wallet (0 when it has none).
    #[track_caller]
    pub fn balance(&self, agent: &str) -> u64 {
        let balance = self.state.balance(&AccountId::Wallet(agent_id(agent)));
        u64::try_from(balance).unwrap_or_else(|_| panic!("the wallet of '{agent}' holds {balance}"))
    }

    /// The balance of a system account (the mint's is negative).
    pub fn account_balance(&self, account: &AccountId) -> i128 {
        self.state.balance(account)
    }

    /// The escrow `id`; panics if there is none.
    #[track_caller]
    pub fn escrow(&self, id: u64) -> &Escrow {
        self.state.ledger().escrow(id).unwrap_or_else(|| panic!("no escrow {id}"))
    }

    /// The operator mints `amount` into `agent`'s wallet (transfer id `fund-<sequence>`, unique per
    /// entry) and asserts that it was accepted.
    #[track_caller]
    pub fn fund(&mut self, agent: &str, amount: u64) -> EntryOutcome {
        let transfer_id = format!("fund-{}", self.factory.next_sequence());
        let outcome = self.operator(vec![mint(&transfer_id, agent, amount)]);
        assert!(
            outcome.envelope.is_none() && outcome.commands.iter().all(Result::is_ok),
            "minting {amount} for '{agent}' failed: {outcome:?}"
        );
        outcome
    }

    /// The signer for agent `agent`.
    #[track_caller]
    pub fn signer(agent: &str) -> Signer {
        Signer::Agent(agent_id(agent))
    }

    /// The key `agent` signs with.
    pub fn key(agent: &str) -> PublicKey {
        key_for(agent)
    }

    /// Applies the whole log to a fresh state, as a restarted node would.
    #[track_caller]
    pub fn replay_log(&self) -> State {
        let mut state = State::new();
        for entry in &self.log {
            if let Err(error) = state.apply(entry) {
                panic!("entry {} did not apply on replay: {error}", entry.sequence);
            }
        }
        state
    }
}
