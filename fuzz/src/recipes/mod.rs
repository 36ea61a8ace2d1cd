//! Recipes of entry streams that the fuzzer builds from its bytes with `arbitrary`.
//!
//! A recipe names everything by a small index or a named case (the third pool agent, the signer's
//! newest open escrow, one unit more than the balance) rather than holding ids, amounts and names
//! itself, so that almost every input is a stream the state machine takes seriously: random bytes
//! would spell random strings, and nearly every command would stop at validation. Each recipe maps to
//! the testkit's abstract [`Step`]s and [`CommandSpec`]s, and the testkit's renderer
//! ([`Scenario::entries`]) resolves them against the state the entries before lead to, exactly as in
//! the property tests; only the choice of steps differs (coverage-guided here, random there).
//!
//! Every stream starts with a fixed prelude, so the fuzzer begins where the interesting states are:
//! the operator registers the first [`REGISTERED_IN_PRELUDE`] pool agents (two of them children of
//! others, one with a referrer) and funds them, then creates two streams with a consumer each. The
//! other pool agents are unknown signers until they register themselves or are registered.

mod commands;
mod market;
mod weights;

pub use commands::{BatchRecipe, BusCommand, CommandRecipe, EscrowCommand, LedgerCommand, RegistryCommand};
use weights::pick;

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use colony_core::ledger::LEDGER_DAY_MS;
use colony_core::{EscrowResolution, Name, RoleConfig, SwarmConfig, limits};
use colony_testkit::keys::numbered_capabilities;
use colony_testkit::name;
use colony_testkit::strategies::{
    AgentRef, AmountChoice, CAPABILITY_CANDIDATES, CONFIGURABLE_ROLES, CommandSpec, EnvelopeSpec, EscrowRef, KeyChoice,
    NonceChoice, PreimageChoice, Scenario, SignerRef, Step, TransferIdChoice, TransferSpec, UNKNOWN_ROLE, bus_prelude,
};

/// Agents signers and targets are drawn from: enough for parents, children, payees and arbiters to be
/// different agents, few enough that they meet again and again.
pub const AGENT_POOL: usize = 6;

/// Pool agents the prelude registers; the rest start unknown.
pub const REGISTERED_IN_PRELUDE: usize = 4;

/// Read tokens issues and revocations are drawn from.
pub const TOKEN_POOL: usize = 3;

/// Steps after the prelude, at most: long enough for escrows to be locked, disputed and resolved and
/// for deliveries to be redelivered and dead-lettered, short enough to run thousands of streams a
/// second.
pub const STEPS_MAX: usize = 96;

/// Commands per envelope, at most (apart from the one oversized envelope recipe): enough for commands
/// of one envelope to meet (a lock and its release, a fetch and its ack).
pub const COMMANDS_PER_ENVELOPE: usize = 4;

/// Transfers per linked batch, at most (apart from the batch one transfer too long).
pub const TRANSFERS_PER_BATCH: usize = 4;

/// Money each prelude agent starts with, in minor units.
pub const PRELUDE_FUNDS: u64 = 1_000_000;

/// A whole stream: the genesis configuration and the steps after the prelude.
#[derive(Arbitrary, Debug)]
pub struct StreamRecipe {
    /// The genesis configuration (always valid: an invalid one applies nothing at all).
    pub genesis: ValidConfigRecipe,
    /// What happens after the prelude, one entry each (at most [`STEPS_MAX`] are used).
    pub steps: Vec<StepRecipe>,
}

impl StreamRecipe {
    /// The testkit scenario: a valid genesis, the prelude, then the steps.
    pub fn scenario(&self) -> Scenario {
        let steps = prelude().into_iter().chain(self.steps.iter().take(STEPS_MAX).map(StepRecipe::step)).collect();
        Scenario { genesis: self.genesis.config(), steps }
    }
}

/// The prelude: registrations and funds, then the bus's two streams and consumers.
fn prelude() -> Vec<Step> {
    // (pool index, parent, referrer)
    let agents = [(0, None, None), (1, Some(0), None), (2, None, Some(0)), (3, Some(2), Some(1))];
    let mut steps: Vec<Step> = agents
        .into_iter()
        .take(REGISTERED_IN_PRELUDE)
        .map(|(index, parent, referrer)| {
            Step::Envelope(EnvelopeSpec {
                advance_ms: 0,
                signer: SignerRef::Operator,
                key: KeyChoice::Own,
                nonce: NonceChoice::Next,
                commands: vec![
                    CommandSpec::Register {
                        agent: AgentRef::Pool(index),
                        key: KeyChoice::Own,
                        role: name("scout"),
                        capabilities: BTreeSet::new(),
                        weight: None,
                        parent: parent.map(AgentRef::Pool),
                        referrer: referrer.map(AgentRef::Pool),
                    },
                    CommandSpec::Mint {
                        transfer_id: TransferIdChoice::Fresh,
                        to: AgentRef::Pool(index),
                        amount: AmountChoice::Exactly(PRELUDE_FUNDS),
                    },
                ],
            })
        })
        .collect();
    steps.push(bus_prelude());
    steps
}

/// How far the clock moves before an entry.
#[derive(Debug, Clone, Copy)]
pub enum Advance {
    /// Not at all.
    None,
    /// Up to a minute, in milliseconds.
    Milliseconds(u16),
    /// Up to 18 hours, in seconds.
    Seconds(u16),
    /// Exactly one of the usual timeouts (heartbeat TTLs, ack waits, escrow timeouts) or one
    /// millisecond more, so that entries land on a deadline and just after it.
    Deadline(u8),
    /// A ledger day: daily limits start over.
    LedgerDay,
}

impl Advance {
    fn milliseconds(self) -> u64 {
        const DEADLINES_MS: [u64; 8] = [1_000, 1_001, 2_000, 3_000, 5_000, 5_001, 30_000, 30_001];
        match self {
            Advance::None => 0,
            Advance::Milliseconds(milliseconds) => u64::from(milliseconds),
            Advance::Seconds(seconds) => u64::from(seconds) * 1_000,
            Advance::Deadline(index) => DEADLINES_MS[usize::from(index) % DEADLINES_MS.len()],
            Advance::LedgerDay => LEDGER_DAY_MS,
        }
    }
}

/// One entry.
#[derive(Debug)]
pub enum StepRecipe {
    /// Time passes, then a tick.
    Tick(Advance),
    /// Time passes, then an envelope of up to [`COMMANDS_PER_ENVELOPE`] commands.
    Envelope {
        /// How far the clock moves first.
        advance: Advance,
        /// Who signs.
        signer: SignerRecipe,
        /// The key it was verified with.
        key: KeyRecipe,
        /// Its nonce.
        nonce: NonceRecipe,
        /// Its commands.
        commands: Vec<CommandRecipe>,
    },
    /// A pool agent registers itself (the one envelope an unknown signer may send).
    SelfRegistration {
        /// How far the clock moves first.
        advance: Advance,
        /// The pool agent.
        agent: u8,
        /// Its nonce.
        nonce: NonceRecipe,
        /// Its role.
        role: RoleRecipe,
        /// Its capabilities.
        capabilities: CapabilitiesRecipe,
        /// A parent.
        parent: Option<AgentRecipe>,
    },
    /// An envelope one command over `COMMANDS_PER_ENVELOPE_MAX`.
    Oversized {
        /// How far the clock moves first.
        advance: Advance,
        /// Who signs.
        signer: SignerRecipe,
    },
}

impl StepRecipe {
    fn step(&self) -> Step {
        match self {
            StepRecipe::Tick(advance) => Step::Tick { advance_ms: advance.milliseconds() },
            StepRecipe::Envelope { advance, signer, key, nonce, commands } => Step::Envelope(EnvelopeSpec {
                advance_ms: advance.milliseconds(),
                signer: signer.signer(),
                key: key.key(),
                nonce: nonce.nonce(),
                commands: commands.iter().take(COMMANDS_PER_ENVELOPE).map(CommandRecipe::spec).collect(),
            }),
            StepRecipe::SelfRegistration { advance, agent, nonce, role, capabilities, parent } => {
                Step::Envelope(EnvelopeSpec {
                    advance_ms: advance.milliseconds(),
                    signer: SignerRef::Agent(pool_index(*agent)),
                    key: KeyChoice::Own,
                    nonce: nonce.nonce(),
                    commands: vec![CommandSpec::Register {
                        agent: AgentRef::Signer,
                        key: KeyChoice::Own,
                        role: role.name(),
                        capabilities: capabilities.names(),
                        weight: None,
                        parent: parent.map(AgentRecipe::agent),
                        referrer: None,
                    }],
                })
            }
            StepRecipe::Oversized { advance, signer } => {
                Step::Oversized { advance_ms: advance.milliseconds(), signer: signer.signer() }
            }
        }
    }
}

fn pool_index(index: u8) -> usize {
    usize::from(index) % AGENT_POOL
}

/// Who signs an envelope.
#[derive(Debug, Clone, Copy)]
pub enum SignerRecipe {
    /// The operator.
    Operator,
    /// A pool agent (registered, halted, deregistered or unknown, as the stream made it).
    Agent(u8),
}

impl SignerRecipe {
    fn signer(self) -> SignerRef {
        match self {
            SignerRecipe::Operator => SignerRef::Operator,
            SignerRecipe::Agent(index) => SignerRef::Agent(pool_index(index)),
        }
    }
}

/// The key an envelope was verified with, or an agent is registered with.
#[derive(Debug, Clone, Copy)]
pub enum KeyRecipe {
    /// Its own.
    Own,
    /// Nobody's.
    Wrong,
    /// A pool agent's.
    Pool(u8),
}

impl KeyRecipe {
    fn key(self) -> KeyChoice {
        match self {
            KeyRecipe::Own => KeyChoice::Own,
            KeyRecipe::Wrong => KeyChoice::Wrong,
            KeyRecipe::Pool(index) => KeyChoice::Pool(pool_index(index)),
        }
    }
}

/// An envelope's nonce, relative to the highest its signer used.
#[derive(Debug, Clone, Copy)]
pub enum NonceRecipe {
    /// The next one.
    Next,
    /// The highest again.
    Replay,
    /// A gap this wide.
    Skip(u8),
    /// This far below the highest.
    Old(u8),
    /// Zero, never fresh.
    Zero,
}

impl NonceRecipe {
    fn nonce(self) -> NonceChoice {
        match self {
            NonceRecipe::Next => NonceChoice::Next,
            NonceRecipe::Replay => NonceChoice::Replay,
            NonceRecipe::Skip(gap) => NonceChoice::Skip(u64::from(gap)),
            NonceRecipe::Old(distance) => NonceChoice::Old(u64::from(distance)),
            NonceRecipe::Zero => NonceChoice::Zero,
        }
    }
}

/// An agent a command names.
#[derive(Debug, Clone, Copy)]
pub enum AgentRecipe {
    /// The signer (pool agent 0 for the operator).
    Signer,
    /// A pool agent.
    Pool(u8),
    /// One of the signer's children.
    Child(u8),
    /// A pool agent other than the signer.
    Other(u8),
}

impl AgentRecipe {
    fn agent(self) -> AgentRef {
        match self {
            AgentRecipe::Signer => AgentRef::Signer,
            AgentRecipe::Pool(index) => AgentRef::Pool(pool_index(index)),
            AgentRecipe::Child(index) => AgentRef::Child(usize::from(index)),
            AgentRecipe::Other(index) => AgentRef::Other(usize::from(index) % (AGENT_POOL - 1)),
        }
    }
}

/// A role.
#[derive(Debug, Clone, Copy)]
pub enum RoleRecipe {
    /// One a configuration may define.
    Known(u8),
    /// One no configuration defines.
    Unknown,
}

impl RoleRecipe {
    fn name(self) -> Name {
        match self {
            RoleRecipe::Known(index) => name(CONFIGURABLE_ROLES[usize::from(index) % CONFIGURABLE_ROLES.len()]),
            RoleRecipe::Unknown => name(UNKNOWN_ROLE),
        }
    }
}

/// Capabilities.
#[derive(Debug, Clone, Copy)]
pub enum CapabilitiesRecipe {
    /// The candidates whose bits are set.
    Some(u8),
    /// One more than an agent may have.
    TooMany,
}

impl CapabilitiesRecipe {
    fn names(self) -> BTreeSet<Name> {
        match self {
            CapabilitiesRecipe::Some(bits) => CAPABILITY_CANDIDATES
                .iter()
                .enumerate()
                .filter(|(index, _)| bits & (1 << index) != 0)
                .map(|(_, capability)| name(capability))
                .collect(),
            CapabilitiesRecipe::TooMany => numbered_capabilities(limits::CAPABILITIES_PER_AGENT_MAX + 1),
        }
    }
}

/// An agent's weight.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum WeightRecipe {
    /// A small one.
    Small(u16),
    /// The largest allowed.
    Max,
    /// Above the largest allowed by this much (at least one).
    Above(u32),
}

impl WeightRecipe {
    fn weight(self) -> u32 {
        match self {
            WeightRecipe::Small(weight) => u32::from(weight),
            WeightRecipe::Max => limits::AGENT_WEIGHT_MAX,
            WeightRecipe::Above(excess) => limits::AGENT_WEIGHT_MAX.saturating_add(excess.max(1)),
        }
    }
}

/// A halt reason, dispute reason or token label.
#[derive(Debug, Clone, Copy)]
pub enum ReasonRecipe {
    /// Empty.
    Empty,
    /// A short one.
    Short,
    /// Exactly as long as allowed.
    AtLimit,
    /// One byte too long.
    OverLimit,
}

impl ReasonRecipe {
    fn text(self) -> String {
        match self {
            ReasonRecipe::Empty => String::new(),
            ReasonRecipe::Short => "maintenance".to_owned(),
            ReasonRecipe::AtLimit => "r".repeat(limits::REASON_BYTES_MAX),
            ReasonRecipe::OverLimit => "r".repeat(limits::REASON_BYTES_MAX + 1),
        }
    }
}

/// A swarm configuration: valid, or broken in one of the ways `SwarmConfig::validate` refuses.
#[derive(Debug, Clone, Copy)]
pub enum ConfigRecipe {
    /// A valid one (the only kind genesis uses).
    Valid(ValidConfigRecipe),
    /// A heartbeat TTL out of range.
    BadTtl(ValidConfigRecipe, bool),
    /// No roles.
    NoRoles(ValidConfigRecipe),
    /// Registrations in bursts of zero.
    ZeroBurst(ValidConfigRecipe),
    /// A registration interval above the maximum.
    SlowPace(ValidConfigRecipe),
    /// One role more than allowed.
    TooManyRoles(ValidConfigRecipe),
    /// A role weighing more than any agent may.
    HeavyRole(ValidConfigRecipe),
}

impl ConfigRecipe {
    /// The configuration.
    pub fn config(&self) -> SwarmConfig {
        match *self {
            ConfigRecipe::Valid(valid) => valid.config(),
            ConfigRecipe::BadTtl(valid, above) => SwarmConfig {
                heartbeat_ttl_ms: if above {
                    limits::HEARTBEAT_TTL_MS_MAX + 1
                } else {
                    limits::HEARTBEAT_TTL_MS_MIN - 1
                },
                ..valid.config()
            },
            ConfigRecipe::NoRoles(valid) => SwarmConfig { roles: BTreeMap::new(), ..valid.config() },
            ConfigRecipe::ZeroBurst(valid) => SwarmConfig { registration_burst: 0, ..valid.config() },
            ConfigRecipe::SlowPace(valid) => {
                SwarmConfig { registration_interval_ms: limits::REGISTRATION_INTERVAL_MS_MAX + 1, ..valid.config() }
            }
            ConfigRecipe::TooManyRoles(valid) => {
                let roles = (0..=limits::ROLES_MAX)
                    .map(|index| (name(&format!("role-{index}")), RoleConfig { default_weight: 1 }))
                    .collect();
                SwarmConfig { roles, ..valid.config() }
            }
            ConfigRecipe::HeavyRole(valid) => {
                let mut config = valid.config();
                config.roles.insert(name("scout"), RoleConfig { default_weight: limits::AGENT_WEIGHT_MAX + 1 });
                config
            }
        }
    }
}

/// A valid swarm configuration.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct ValidConfigRecipe {
    /// Which configurable roles exist besides `scout` (one bit each).
    roles: u8,
    /// Every role's default weight.
    role_weight: u16,
    /// The heartbeat TTL.
    ttl: TtlRecipe,
    /// Whether agents may register themselves.
    self_registration: bool,
    /// The escrow fee, in basis points (taken modulo 10,001).
    fee_bps: u16,
    /// The referrer's share of the fee, in basis points (likewise).
    referral_bps: u16,
    /// How registrations are paced.
    pace: PaceRecipe,
    /// Whether the payer's registered referrer earns the referral (else the payee's).
    referral_from_payer: bool,
}

impl ValidConfigRecipe {
    fn config(self) -> SwarmConfig {
        let roles = CONFIGURABLE_ROLES
            .iter()
            .enumerate()
            .filter(|(index, role)| self.roles & (1 << index) != 0 || **role == "scout")
            .map(|(_, role)| (name(role), RoleConfig { default_weight: u32::from(self.role_weight) }))
            .collect();
        let defaults = SwarmConfig::default();
        let (registration_interval_ms, registration_burst) = match self.pace {
            PaceRecipe::Usual => (defaults.registration_interval_ms, defaults.registration_burst),
            PaceRecipe::Unpaced => (0, 1),
            PaceRecipe::Tight { interval_ms, burst } => (u64::from(interval_ms).max(1), u32::from(burst % 3) + 1),
        };
        SwarmConfig {
            roles,
            heartbeat_ttl_ms: self.ttl.milliseconds(),
            self_registration: self.self_registration,
            fee_bps: self.fee_bps % 10_001,
            referral_bps: self.referral_bps % 10_001,
            registration_interval_ms,
            registration_burst,
            task_kinds: defaults.task_kinds,
            referral_from: if self.referral_from_payer {
                colony_core::ReferralFrom::Payer
            } else {
                colony_core::ReferralFrom::Payee
            },
            guarded: defaults.guarded,
        }
    }
}

/// A heartbeat TTL inside the accepted range.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum TtlRecipe {
    /// The shortest allowed.
    Min,
    /// Five seconds.
    Short,
    /// Thirty seconds.
    Usual,
    /// The shortest plus up to a minute (in milliseconds).
    Other(u16),
}

impl TtlRecipe {
    fn milliseconds(self) -> u64 {
        match self {
            TtlRecipe::Min => limits::HEARTBEAT_TTL_MS_MIN,
            TtlRecipe::Short => 5_000,
            TtlRecipe::Usual => 30_000,
            TtlRecipe::Other(extra) => limits::HEARTBEAT_TTL_MS_MIN + u64::from(extra),
        }
    }
}

/// How registrations are paced.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum PaceRecipe {
    /// The default pace.
    Usual,
    /// Not at all.
    Unpaced,
    /// Tight enough for registrations to run into it.
    Tight {
        /// Milliseconds per registration (at least one).
        interval_ms: u16,
        /// The burst, 1 to 3.
        burst: u8,
    },
}

/// An amount, absolute or relative to the balance (or, for a mint, to the room left in the supply).
#[derive(Debug, Clone, Copy)]
pub enum AmountRecipe {
    /// Nothing.
    Zero,
    /// Up to 65,535 units.
    Small(u16),
    /// Up to 4,294,967,295 units.
    Large(u32),
    /// All of it.
    All,
    /// One unit more than all of it.
    AllPlusOne,
    /// `u64::MAX` less this much.
    NearMax(u16),
}

impl AmountRecipe {
    fn amount(self) -> AmountChoice {
        match self {
            AmountRecipe::Zero => AmountChoice::Exactly(0),
            AmountRecipe::Small(units) => AmountChoice::Exactly(u64::from(units)),
            AmountRecipe::Large(units) => AmountChoice::Exactly(u64::from(units)),
            AmountRecipe::All => AmountChoice::All,
            AmountRecipe::AllPlusOne => AmountChoice::AllPlusOne,
            AmountRecipe::NearMax(less) => AmountChoice::Exactly(u64::MAX - u64::from(less)),
        }
    }
}

/// A transfer id: a fresh one, or the signer's last one again.
#[derive(Debug, Clone, Copy)]
pub enum TransferIdRecipe {
    /// Never used.
    Fresh,
    /// The signer's last.
    Last,
}

impl TransferIdRecipe {
    fn choice(self) -> TransferIdChoice {
        match self {
            TransferIdRecipe::Fresh => TransferIdChoice::Fresh,
            TransferIdRecipe::Last => TransferIdChoice::Last,
        }
    }
}

/// One transfer.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct TransferRecipe {
    transfer_id: TransferIdRecipe,
    to: AgentRecipe,
    amount: AmountRecipe,
}

impl TransferRecipe {
    fn spec(self) -> TransferSpec {
        TransferSpec { transfer_id: self.transfer_id.choice(), to: self.to.agent(), amount: self.amount.amount() }
    }
}

/// A daily limit or minimum balance.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum LimitRecipe {
    /// This many units.
    Units(u32),
    /// As much as there can be.
    Max,
}

impl LimitRecipe {
    fn units(self) -> u64 {
        match self {
            LimitRecipe::Units(units) => u64::from(units),
            LimitRecipe::Max => u64::MAX,
        }
    }
}

/// An escrow timeout.
#[derive(Debug, Clone, Copy)]
pub enum TimeoutRecipe {
    /// The shortest allowed.
    Min,
    /// The shortest plus up to 65,535 ms.
    Short(u16),
    /// The shortest plus up to 18 hours, in seconds.
    Long(u16),
    /// The longest allowed.
    Max,
    /// Zero, or one millisecond outside either bound.
    Outside(u8),
}

impl TimeoutRecipe {
    fn milliseconds(self) -> u64 {
        let outside = [0, limits::ESCROW_TIMEOUT_MS_MIN - 1, limits::ESCROW_TIMEOUT_MS_MAX + 1];
        match self {
            TimeoutRecipe::Min => limits::ESCROW_TIMEOUT_MS_MIN,
            TimeoutRecipe::Short(extra) => limits::ESCROW_TIMEOUT_MS_MIN + u64::from(extra),
            TimeoutRecipe::Long(seconds) => limits::ESCROW_TIMEOUT_MS_MIN + u64::from(seconds) * 1_000,
            TimeoutRecipe::Max => limits::ESCROW_TIMEOUT_MS_MAX,
            TimeoutRecipe::Outside(index) => outside[usize::from(index) % outside.len()],
        }
    }
}

/// An escrow, relative to the state.
#[derive(Debug, Clone, Copy)]
pub enum EscrowRecipe {
    /// This far below the newest.
    Recent(u8),
    /// An open one the signer is party to.
    Party(u8),
    /// Any open one.
    Open(u8),
    /// This id.
    Id(u8),
    /// One that cannot exist.
    Missing,
}

impl EscrowRecipe {
    fn escrow(self) -> EscrowRef {
        match self {
            EscrowRecipe::Recent(back) => EscrowRef::Recent(u64::from(back)),
            EscrowRecipe::Party(index) => EscrowRef::Party(usize::from(index)),
            EscrowRecipe::Open(index) => EscrowRef::Open(usize::from(index)),
            EscrowRecipe::Id(id) => EscrowRef::Id(u64::from(id)),
            EscrowRecipe::Missing => EscrowRef::Missing,
        }
    }
}

/// The preimage a release presents.
#[derive(Debug, Clone, Copy)]
pub enum PreimageRecipe {
    /// None.
    None,
    /// One of the secrets escrows are locked with.
    Secret(u8),
    /// One no escrow is locked with.
    Wrong,
    /// One byte too long.
    Oversized,
}

impl PreimageRecipe {
    fn preimage(self) -> PreimageChoice {
        match self {
            PreimageRecipe::None => PreimageChoice::None,
            PreimageRecipe::Secret(index) => PreimageChoice::Secret(usize::from(index)),
            PreimageRecipe::Wrong => PreimageChoice::Wrong,
            PreimageRecipe::Oversized => PreimageChoice::Oversized,
        }
    }
}

/// How an arbiter or the operator resolves a dispute.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ResolutionRecipe {
    /// Pay the payee.
    Release,
    /// Pay the payer back.
    Refund,
    /// Split, the payee's share in basis points (above 10,000 is refused).
    Split(u16),
}

impl ResolutionRecipe {
    fn resolution(self) -> EscrowResolution {
        match self {
            ResolutionRecipe::Release => EscrowResolution::Release,
            ResolutionRecipe::Refund => EscrowResolution::Refund,
            ResolutionRecipe::Split(payee_bps) => EscrowResolution::Split { payee_bps },
        }
    }
}

/// A stream configuration, relative to the pool stream's usual one.
#[derive(Debug, Clone, Copy)]
pub enum StreamVariantRecipe {
    /// The usual one.
    Usual,
    /// Another message limit.
    Other,
    /// Capturing private subjects.
    Private,
}

/// A consumer configuration, relative to the pool consumer's usual one.
#[derive(Debug, Clone, Copy)]
pub enum ConsumerVariantRecipe {
    /// The usual one.
    Usual,
    /// Another `max_deliver`.
    Other,
    /// A filter outside the stream.
    StrayFilter,
}

/// A durable message's payload.
#[derive(Debug, Clone, Copy)]
pub enum PayloadRecipe {
    /// Small JSON.
    Json,
    /// Valid base64.
    Bytes,
    /// Invalid base64.
    BadBase64,
    /// One byte over the limit.
    Oversized,
}

/// A delivery to acknowledge.
#[derive(Debug, Clone, Copy)]
pub enum DeliveryRecipe {
    /// One the signer holds (or any pending one).
    Held(u8),
    /// This stream sequence.
    Sequence(u8),
}

/// How to acknowledge.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum AckRecipe {
    /// Done.
    Ack,
    /// Redeliver after this many milliseconds.
    Nak(u16),
    /// Still working.
    InProgress,
    /// Give up: dead-letter it.
    Term,
}

/// A dead letter.
#[derive(Debug, Clone, Copy)]
pub enum DeadLetterRecipe {
    /// The stream's dead letter at this index.
    Index(u8),
    /// One that does not exist.
    Missing,
}
