//! Proptest strategies for random streams of log entries.
//!
//! A [`Stream`] is a genesis configuration and a list of abstract [`Step`]s. Steps name agents by
//! their index in a small pool (`agent-0`, `agent-1`, ...) and say *how* to pick keys and nonces
//! ("the signer's own key", "replay the last nonce") rather than holding the values, so that shrinking
//! keeps a failing stream meaningful. [`Stream::entries`] renders the steps into concrete [`Entry`]
//! values with an [`EntryFactory`]; rendering is a pure function of the stream, so a stream (and thus
//! the proptest seed) fully determines the entries.
//!
//! The pool is small on purpose: agents are registered, re-registered, halted and deregistered by
//! each other over and over, so streams hit the rejection paths as often as the happy ones. Streams
//! cover every [`Command`] variant, valid and invalid: unknown agents and signers, wrong keys,
//! signers that are halted or deregistered, replayed and stale nonces, out-of-range weights, too many
//! capabilities, over-long reasons and labels, unknown roles, invalid configurations, configuration
//! changes with other heartbeat TTLs, envelopes with too many commands, and ticks and pauses long
//! enough for heartbeat deadlines to pass.

use std::collections::{BTreeMap, BTreeSet};

use colony_core::limits;
use colony_core::{AgentId, Command, Digest, Entry, Name, PublicKey, RoleConfig, Signer, SwarmConfig};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, Union};

use super::factory::{DEFAULT_START_MS, EntryFactory};
use super::keys::{agent_id, digest_for, key_for, name, numbered_capabilities, operator_key, wrong_key_for};

/// Roles a generated configuration may define.
pub const CONFIGURABLE_ROLES: [&str; 8] =
    ["scout", "analyst", "executor", "oracle", "risk", "treasury", "orchestrator", "scribe"];

/// A role no generated configuration defines.
pub const UNKNOWN_ROLE: &str = "ghost";

/// Capabilities generated agents advertise.
pub const CAPABILITY_CANDIDATES: [&str; 6] = ["dex.scan", "price:feed", "trade", "vote", "audit", "relay"];

/// What streams look like.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// Steps after the genesis, at most.
    pub max_steps: usize,
    /// Agents in the pool that signers and targets are drawn from.
    pub agent_pool: usize,
    /// Read tokens in the pool that issues and revocations are drawn from.
    pub token_pool: usize,
    /// Whether envelopes may carry nonce 0 (always refused, as every nonce window's floor is 0).
    pub zero_nonces: bool,
    /// Whether streams may hold envelopes with more than `COMMANDS_PER_ENVELOPE_MAX` commands.
    pub oversized_envelopes: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig { max_steps: 200, agent_pool: 6, token_pool: 4, zero_nonces: true, oversized_envelopes: true }
    }
}

/// The id of the pool agent at `index`: `agent-<index>`.
pub fn pool_agent(index: usize) -> AgentId {
    agent_id(&pool_agent_name(index))
}

/// The text of the pool agent's id at `index`.
pub fn pool_agent_name(index: usize) -> String {
    format!("agent-{index}")
}

/// The fingerprint of the pool's read token at `index`.
pub fn pool_token(index: usize) -> Digest {
    digest_for(&format!("token-{index}"))
}

/// A generated stream: a genesis configuration and the steps after it.
#[derive(Clone, Debug)]
pub struct Stream {
    /// The genesis configuration (always valid).
    pub genesis: SwarmConfig,
    /// What happens after the genesis, one entry per step.
    pub steps: Vec<Step>,
}

/// One entry's worth of activity.
#[derive(Clone, Debug)]
pub enum Step {
    /// Time passes, then a tick entry.
    Tick {
        /// How far the clock moves first.
        advance_ms: u64,
    },
    /// Time passes, then a signed envelope.
    Envelope(EnvelopeSpec),
    /// Time passes, then an envelope with `COMMANDS_PER_ENVELOPE_MAX + 1` heartbeats from a signer with
    /// its own key and next nonce.
    Oversized {
        /// How far the clock moves first.
        advance_ms: u64,
        /// Who signs it.
        signer: SignerRef,
    },
}

/// A signed envelope, abstractly.
#[derive(Clone, Debug)]
pub struct EnvelopeSpec {
    /// How far the clock moves before the envelope.
    pub advance_ms: u64,
    /// Who the envelope says signed it.
    pub signer: SignerRef,
    /// Which key it was verified with, relative to the signer.
    pub key: KeyChoice,
    /// How its nonce is picked.
    pub nonce: NonceChoice,
    /// Its commands.
    pub commands: Vec<CommandSpec>,
}

/// A signer: the operator or a pool agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignerRef {
    /// The operator.
    Operator,
    /// The pool agent at this index.
    Agent(usize),
}

/// An agent a command acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentRef {
    /// The envelope's signer (pool agent 0 when the operator signs).
    Signer,
    /// The pool agent at this index.
    Pool(usize),
}

/// A key, relative to whoever it is for (the envelope's signer, or the agent being registered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyChoice {
    /// Their own key ([`key_for`] of their id, or the operator's key).
    Own,
    /// A key that is nobody's ([`wrong_key_for`]).
    Wrong,
    /// The key of the pool agent at this index (someone else's, usually).
    Pool(usize),
}

/// How an envelope's nonce is picked, relative to the highest nonce handed out to its signer so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceChoice {
    /// One above the highest: fresh unless the window moved past it.
    Next,
    /// The highest again: a replay if that envelope was admitted.
    Replay,
    /// This much above the highest (a gap, later filled by out-of-order `Old` nonces or never).
    Skip(u64),
    /// This much below the highest (at least 1): fresh if unused and inside the window, else refused.
    Old(u64),
    /// Nonce 0, which is never fresh.
    Zero,
}

/// A command, abstractly.
#[derive(Clone, Debug)]
pub enum CommandSpec {
    /// `agent.register`.
    Register {
        /// The agent to register.
        agent: AgentRef,
        /// Its key, relative to the agent.
        key: KeyChoice,
        /// Its role (possibly unknown).
        role: Name,
        /// Its capabilities (possibly too many).
        capabilities: BTreeSet<Name>,
        /// Its weight (possibly out of range).
        weight: Option<u32>,
        /// Its parent.
        parent: Option<AgentRef>,
        /// Its referrer.
        referrer: Option<AgentRef>,
    },
    /// `agent.update`.
    Update {
        /// The agent to change.
        agent: AgentRef,
        /// A new role.
        role: Option<Name>,
        /// New capabilities.
        capabilities: Option<BTreeSet<Name>>,
        /// A new weight.
        weight: Option<u32>,
    },
    /// `agent.heartbeat`.
    Heartbeat,
    /// `agent.halt`.
    Halt {
        /// The agent to halt.
        agent: AgentRef,
        /// Why (possibly too long).
        reason: String,
    },
    /// `agent.resume`.
    Resume {
        /// The agent to resume.
        agent: AgentRef,
    },
    /// `agent.deregister`.
    Deregister {
        /// The agent to remove.
        agent: AgentRef,
    },
    /// `config.set`.
    SetConfig {
        /// The new configuration (possibly invalid).
        config: SwarmConfig,
    },
    /// `read_token.issue`.
    IssueReadToken {
        /// The pool token's index.
        token: usize,
        /// Its label (possibly too long).
        label: String,
        /// When it expires.
        expires_at_ms: Option<u64>,
    },
    /// `read_token.revoke`.
    RevokeReadToken {
        /// The pool token's index.
        token: usize,
    },
}

impl Stream {
    /// The entries: the genesis (entry 1 at [`DEFAULT_START_MS`], operator key [`operator_key`]) and
    /// one entry per step.
    pub fn entries(&self) -> Vec<Entry> {
        let mut factory = EntryFactory::new(DEFAULT_START_MS, operator_key());
        let mut entries = Vec::with_capacity(self.steps.len() + 1);
        entries.push(factory.genesis(self.genesis.clone()));
        for step in &self.steps {
            entries.push(render_step(&mut factory, step));
        }
        entries
    }
}

fn render_step(factory: &mut EntryFactory, step: &Step) -> Entry {
    match step {
        Step::Tick { advance_ms } => {
            factory.advance_ms(*advance_ms);
            factory.tick()
        }
        Step::Oversized { advance_ms, signer } => {
            factory.advance_ms(*advance_ms);
            let signer_value = signer_of(*signer);
            let key = envelope_key(*signer, KeyChoice::Own);
            let nonce = factory.next_nonce(&signer_value);
            let commands = vec![Command::Heartbeat {}; limits::COMMANDS_PER_ENVELOPE_MAX + 1];
            factory.signed(signer_value, key, nonce, commands)
        }
        Step::Envelope(spec) => {
            factory.advance_ms(spec.advance_ms);
            let signer = signer_of(spec.signer);
            let key = envelope_key(spec.signer, spec.key);
            let nonce = pick_nonce(factory, &signer, spec.nonce);
            let commands = spec.commands.iter().map(|command| render_command(spec.signer, command)).collect();
            factory.signed(signer, key, nonce, commands)
        }
    }
}

fn signer_of(signer: SignerRef) -> Signer {
    match signer {
        SignerRef::Operator => Signer::Operator,
        SignerRef::Agent(index) => Signer::Agent(pool_agent(index)),
    }
}

fn envelope_key(signer: SignerRef, choice: KeyChoice) -> PublicKey {
    match (signer, choice) {
        (SignerRef::Operator, KeyChoice::Own) => operator_key(),
        (SignerRef::Operator, KeyChoice::Wrong) => wrong_key_for(super::keys::OPERATOR_KEY_NAME),
        (SignerRef::Agent(index), KeyChoice::Own) => key_for(&pool_agent_name(index)),
        (SignerRef::Agent(index), KeyChoice::Wrong) => wrong_key_for(&pool_agent_name(index)),
        (_, KeyChoice::Pool(index)) => key_for(&pool_agent_name(index)),
    }
}

fn pick_nonce(factory: &mut EntryFactory, signer: &Signer, choice: NonceChoice) -> u64 {
    let last = factory.last_nonce(signer);
    match choice {
        NonceChoice::Next => factory.next_nonce(signer),
        NonceChoice::Replay if last == 0 => factory.next_nonce(signer),
        NonceChoice::Replay => last,
        NonceChoice::Skip(gap) => last.saturating_add(gap.max(1)),
        NonceChoice::Old(distance) => last.saturating_sub(distance).max(1),
        NonceChoice::Zero => 0,
    }
}

fn resolve(signer: SignerRef, agent: AgentRef) -> AgentId {
    match (agent, signer) {
        (AgentRef::Signer, SignerRef::Agent(index)) | (AgentRef::Pool(index), _) => pool_agent(index),
        (AgentRef::Signer, SignerRef::Operator) => pool_agent(0),
    }
}

fn render_command(signer: SignerRef, command: &CommandSpec) -> Command {
    match command {
        CommandSpec::Register { agent, key, role, capabilities, weight, parent, referrer } => {
            let agent = resolve(signer, *agent);
            let public_key = match key {
                KeyChoice::Own => key_for(agent.as_str()),
                KeyChoice::Wrong => wrong_key_for(agent.as_str()),
                KeyChoice::Pool(index) => key_for(&pool_agent_name(*index)),
            };
            Command::RegisterAgent {
                agent,
                public_key,
                role: role.clone(),
                capabilities: capabilities.clone(),
                weight: *weight,
                parent: parent.map(|parent| resolve(signer, parent)),
                referrer: referrer.map(|referrer| resolve(signer, referrer)),
            }
        }
        CommandSpec::Update { agent, role, capabilities, weight } => Command::UpdateAgent {
            agent: resolve(signer, *agent),
            role: role.clone(),
            capabilities: capabilities.clone(),
            weight: *weight,
        },
        CommandSpec::Heartbeat => Command::Heartbeat {},
        CommandSpec::Halt { agent, reason } => {
            Command::HaltAgent { agent: resolve(signer, *agent), reason: reason.clone() }
        }
        CommandSpec::Resume { agent } => Command::ResumeAgent { agent: resolve(signer, *agent) },
        CommandSpec::Deregister { agent } => Command::DeregisterAgent { agent: resolve(signer, *agent) },
        CommandSpec::SetConfig { config } => Command::SetConfig { config: config.clone() },
        CommandSpec::IssueReadToken { token, label, expires_at_ms } => Command::IssueReadToken {
            token_sha256: pool_token(*token),
            label: label.clone(),
            expires_at_ms: *expires_at_ms,
        },
        CommandSpec::RevokeReadToken { token } => Command::RevokeReadToken { token_sha256: pool_token(*token) },
    }
}

/// Random streams (see the module documentation).
pub fn stream(config: StreamConfig) -> impl Strategy<Value = Stream> {
    (valid_config(), vec(step(&config), 0..=config.max_steps)).prop_map(|(genesis, steps)| Stream { genesis, steps })
}

/// One step: mostly envelopes, some ticks, some self-registrations, rarely an oversized envelope.
pub fn step(config: &StreamConfig) -> BoxedStrategy<Step> {
    let pool = config.agent_pool;
    let mut choices: Vec<(u32, BoxedStrategy<Step>)> = vec![
        (12, advance_ms().prop_map(|advance_ms| Step::Tick { advance_ms }).boxed()),
        (76, envelope(config).prop_map(Step::Envelope).boxed()),
        (12, self_registration(config).prop_map(Step::Envelope).boxed()),
    ];
    if config.oversized_envelopes {
        let oversized = (advance_ms(), signer_ref(pool))
            .prop_map(|(advance_ms, signer)| Step::Oversized { advance_ms, signer })
            .boxed();
        choices.push((1, oversized));
    }
    Union::new_weighted(choices).boxed()
}

/// An envelope of up to three random commands (sometimes none) from a random signer.
pub fn envelope(config: &StreamConfig) -> BoxedStrategy<EnvelopeSpec> {
    let commands = prop_oneof![1 => Just(Vec::new()), 19 => vec(command(config), 1..=3)];
    (
        advance_ms(),
        signer_ref(config.agent_pool),
        key_choice(config.agent_pool),
        nonce_choice(config.zero_nonces),
        commands,
    )
        .prop_map(|(advance_ms, signer, key, nonce, commands)| EnvelopeSpec {
            advance_ms,
            signer,
            key,
            nonce,
            commands,
        })
        .boxed()
}

/// A pool agent registering itself: one `agent.register` naming the signer, with the signer's own key
/// on both sides (the only envelope an unknown signer may send), sometimes with a parent.
pub fn self_registration(config: &StreamConfig) -> BoxedStrategy<EnvelopeSpec> {
    let pool = config.agent_pool;
    (
        advance_ms(),
        0..pool,
        nonce_choice(config.zero_nonces),
        role(),
        capabilities(),
        proptest::option::weighted(0.2, agent_ref(pool)),
    )
        .prop_map(|(advance_ms, index, nonce, role, capabilities, parent)| EnvelopeSpec {
            advance_ms,
            signer: SignerRef::Agent(index),
            key: KeyChoice::Own,
            nonce,
            commands: vec![CommandSpec::Register {
                agent: AgentRef::Signer,
                key: KeyChoice::Own,
                role,
                capabilities,
                weight: None,
                parent,
                referrer: None,
            }],
        })
        .boxed()
}

/// Any command, valid or not, weighted towards the common ones.
pub fn command(config: &StreamConfig) -> BoxedStrategy<CommandSpec> {
    let pool = config.agent_pool;
    let tokens = config.token_pool.max(1);
    let register = (
        agent_ref(pool),
        prop_oneof![18 => Just(KeyChoice::Own), 1 => Just(KeyChoice::Wrong), 1 => (0..pool).prop_map(KeyChoice::Pool)],
        role(),
        capabilities(),
        weight(),
        prop_oneof![6 => Just(None), 3 => Just(Some(AgentRef::Signer)), 2 => agent_ref(pool).prop_map(Some)],
        proptest::option::weighted(0.2, agent_ref(pool)),
    )
        .prop_map(|(agent, key, role, capabilities, weight, parent, referrer)| CommandSpec::Register {
            agent,
            key,
            role,
            capabilities,
            weight,
            parent,
            referrer,
        });
    let update = (
        agent_ref(pool),
        proptest::option::weighted(0.3, role()),
        proptest::option::weighted(0.6, capabilities()),
        proptest::option::weighted(0.2, weight().prop_map(|weight| weight.unwrap_or(1))),
    )
        .prop_map(|(agent, role, capabilities, weight)| CommandSpec::Update { agent, role, capabilities, weight });
    let halt = (agent_ref(pool), reason()).prop_map(|(agent, reason)| CommandSpec::Halt { agent, reason });
    let resume = agent_ref(pool).prop_map(|agent| CommandSpec::Resume { agent });
    let deregister = agent_ref(pool).prop_map(|agent| CommandSpec::Deregister { agent });
    let set_config = any_config().prop_map(|config| CommandSpec::SetConfig { config });
    let expires = proptest::option::weighted(0.5, DEFAULT_START_MS..DEFAULT_START_MS + 10_000_000);
    let issue = (0..tokens, reason(), expires).prop_map(|(token, label, expires_at_ms)| CommandSpec::IssueReadToken {
        token,
        label,
        expires_at_ms,
    });
    let revoke = (0..tokens).prop_map(|token| CommandSpec::RevokeReadToken { token });
    prop_oneof![
        20 => register,
        10 => update,
        25 => Just(CommandSpec::Heartbeat),
        6 => halt,
        7 => resume,
        3 => deregister,
        3 => set_config,
        4 => issue,
        3 => revoke,
    ]
    .boxed()
}

/// How far the clock moves before an entry: often not at all or a little, sometimes past a typical
/// heartbeat TTL, occasionally by minutes; and sometimes by exactly one of the usual TTLs or one
/// millisecond more, so that entries land exactly on a deadline and just after it.
pub fn advance_ms() -> BoxedStrategy<u64> {
    prop_oneof![
        4 => Just(0u64),
        8 => 1..=2_000u64,
        3 => 2_001..=40_000u64,
        1 => 40_001..=200_000u64,
        2 => select([1_000u64, 1_001, 5_000, 5_001, 30_000, 30_001].as_slice()),
    ]
    .boxed()
}

/// The operator (30%) or a pool agent.
pub fn signer_ref(pool: usize) -> BoxedStrategy<SignerRef> {
    prop_oneof![3 => Just(SignerRef::Operator), 7 => (0..pool).prop_map(SignerRef::Agent)].boxed()
}

/// The signer (one time in five) or a pool agent.
pub fn agent_ref(pool: usize) -> BoxedStrategy<AgentRef> {
    prop_oneof![1 => Just(AgentRef::Signer), 4 => (0..pool).prop_map(AgentRef::Pool)].boxed()
}

/// Mostly the signer's own key; sometimes a wrong one or another agent's.
pub fn key_choice(pool: usize) -> BoxedStrategy<KeyChoice> {
    prop_oneof![
        30 => Just(KeyChoice::Own),
        1 => Just(KeyChoice::Wrong),
        1 => (0..pool).prop_map(KeyChoice::Pool),
    ]
    .boxed()
}

/// Mostly the next nonce; sometimes replays, gaps and old nonces; nonce 0 only if `zero` is set.
pub fn nonce_choice(zero: bool) -> BoxedStrategy<NonceChoice> {
    let mut choices: Vec<(u32, BoxedStrategy<NonceChoice>)> = vec![
        (32, Just(NonceChoice::Next).boxed()),
        (3, Just(NonceChoice::Replay).boxed()),
        (2, (2..100u64).prop_map(NonceChoice::Skip).boxed()),
        (2, (1..100u64).prop_map(NonceChoice::Old).boxed()),
    ];
    if zero {
        choices.push((1, Just(NonceChoice::Zero).boxed()));
    }
    Union::new_weighted(choices).boxed()
}

/// A configurable role, or rarely the unknown one.
pub fn role() -> BoxedStrategy<Name> {
    prop_oneof![
        12 => select(CONFIGURABLE_ROLES.as_slice()).prop_map(name),
        1 => Just(name(UNKNOWN_ROLE)),
    ]
    .boxed()
}

/// A few capabilities, or rarely one more than allowed.
pub fn capabilities() -> BoxedStrategy<BTreeSet<Name>> {
    prop_oneof![
        20 => proptest::collection::btree_set(select(CAPABILITY_CANDIDATES.as_slice()).prop_map(name), 0..=3),
        1 => Just(numbered_capabilities(limits::CAPABILITIES_PER_AGENT_MAX + 1)),
    ]
    .boxed()
}

/// No weight mostly; otherwise small, exactly the maximum, or above it.
pub fn weight() -> BoxedStrategy<Option<u32>> {
    prop_oneof![
        10 => Just(None),
        3 => (0..=1_000u32).prop_map(Some),
        1 => Just(Some(limits::AGENT_WEIGHT_MAX)),
        1 => (limits::AGENT_WEIGHT_MAX + 1..=u32::MAX).prop_map(Some),
    ]
    .boxed()
}

/// A halt reason or token label: empty, short, exactly at the limit, or one byte over it.
pub fn reason() -> BoxedStrategy<String> {
    prop_oneof![
        3 => Just(String::new()),
        6 => select(["misbehaving", "maintenance", "rotating keys"].as_slice()).prop_map(str::to_owned),
        1 => Just("r".repeat(limits::REASON_BYTES_MAX)),
        1 => Just("r".repeat(limits::REASON_BYTES_MAX + 1)),
    ]
    .boxed()
}

/// A heartbeat TTL inside the accepted range, biased towards short ones so that deadlines pass.
pub fn valid_ttl_ms() -> BoxedStrategy<u64> {
    prop_oneof![
        2 => Just(limits::HEARTBEAT_TTL_MS_MIN),
        2 => Just(5_000u64),
        2 => Just(30_000u64),
        3 => limits::HEARTBEAT_TTL_MS_MIN..=120_000u64,
    ]
    .boxed()
}

/// A valid configuration: a non-empty subset of [`CONFIGURABLE_ROLES`] (always with `scout`) with
/// valid weights, a valid TTL, and self-registration on or off.
pub fn valid_config() -> BoxedStrategy<SwarmConfig> {
    let weights = vec(prop_oneof![Just(100u32), Just(150u32), 0..=limits::AGENT_WEIGHT_MAX], CONFIGURABLE_ROLES.len());
    let fees = (prop_oneof![Just(100u16), 0..=10_000u16], prop_oneof![Just(1_500u16), 0..=10_000u16]);
    (vec(any::<bool>(), CONFIGURABLE_ROLES.len()), weights, valid_ttl_ms(), any::<bool>(), fees)
        .prop_map(|(included, weights, heartbeat_ttl_ms, self_registration, (fee_bps, referral_bps))| {
            let roles: BTreeMap<Name, RoleConfig> = CONFIGURABLE_ROLES
                .iter()
                .zip(included.iter().zip(weights))
                .filter(|(role, (included, _))| **included || **role == "scout")
                .map(|(role, (_, default_weight))| (name(role), RoleConfig { default_weight }))
                .collect();
            SwarmConfig { roles, heartbeat_ttl_ms, self_registration, fee_bps, referral_bps }
        })
        .boxed()
}

/// A configuration that `SwarmConfig::validate` refuses: a TTL out of range, no roles, too many
/// roles, or a role weight above the maximum.
pub fn invalid_config() -> BoxedStrategy<SwarmConfig> {
    let bad_ttl =
        prop_oneof![Just(0u64), Just(limits::HEARTBEAT_TTL_MS_MIN - 1), Just(limits::HEARTBEAT_TTL_MS_MAX + 1),];
    prop_oneof![
        (valid_config(), bad_ttl).prop_map(|(config, heartbeat_ttl_ms)| SwarmConfig { heartbeat_ttl_ms, ..config }),
        valid_config().prop_map(|config| SwarmConfig { roles: BTreeMap::new(), ..config }),
        valid_config().prop_map(|config| {
            let roles = (0..=limits::ROLES_MAX)
                .map(|index| (name(&format!("role-{index}")), RoleConfig { default_weight: 1 }))
                .collect();
            SwarmConfig { roles, ..config }
        }),
        valid_config().prop_map(|mut config| {
            config.roles.insert(name("scout"), RoleConfig { default_weight: limits::AGENT_WEIGHT_MAX + 1 });
            config
        }),
    ]
    .boxed()
}

/// Mostly valid configurations, sometimes invalid ones.
pub fn any_config() -> BoxedStrategy<SwarmConfig> {
    prop_oneof![5 => valid_config(), 1 => invalid_config()].boxed()
}
