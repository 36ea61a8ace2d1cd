//! The swarm configuration: lives in state, changes only through `config.set` (the operator's alone
//! during bootstrap; after it, `config.set` is guarded by default, so an approved proposal's action).

pub mod commands;
pub mod rejections;

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::amount::BASIS_POINTS_ONE;
use crate::ids::Name;
use crate::limits;
use crate::outcome::Rejection;

/// What a role means to the swarm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// The weight an agent of this role gets unless the operator sets another, in millionths
    /// (`1000000` is a weight of one).
    #[schemars(range(max = limits::AGENT_WEIGHT_MAX))]
    pub default_weight: u32,
    /// Who may put an agent in this role: `open` (the default: the agent itself when the swarm
    /// allows self-registration, a parent for its child, the operator) or `operator` (the operator
    /// alone, and so, once bootstrap has ended, an approved proposal's action). A role that votes
    /// with weight, closed, cannot be joined by a crowd of self-registered agents.
    #[serde(default)]
    pub admission: RoleAdmission,
}

/// Who may put an agent in a role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleAdmission {
    /// The agent itself, its parent, or the operator.
    #[default]
    Open,
    /// The operator only.
    Operator,
}

/// Per-swarm settings. Every field has a default taken from the seed documents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwarmConfig {
    /// The roles agents may register with, and their default weights.
    #[schemars(extend("minProperties" = 1, "maxProperties" = limits::ROLES_MAX))]
    pub roles: BTreeMap<Name, RoleConfig>,
    /// An agent with no heartbeat for this long becomes `unresponsive`.
    #[schemars(range(min = limits::HEARTBEAT_TTL_MS_MIN, max = limits::HEARTBEAT_TTL_MS_MAX))]
    pub heartbeat_ttl_ms: u64,
    /// Whether an agent may register itself (sign its own registration). When false, only the
    /// operator or an existing agent (registering its child) may register agents.
    pub self_registration: bool,
    /// The escrow fee in basis points of the released amount (seed default: 1%).
    #[serde(default = "default_fee_bps")]
    #[schemars(range(max = BASIS_POINTS_ONE))]
    pub fee_bps: u16,
    /// The referrer's share of the fee in basis points (seed default: 15%).
    #[serde(default = "default_referral_bps")]
    #[schemars(range(max = BASIS_POINTS_ONE))]
    pub referral_bps: u16,
    /// How fast agents other than the operator may register agents, swarm-wide: one registration
    /// per this many milliseconds of log time on average, with bursts of `registration_burst`.
    /// Keys cost nothing to make, so this is what keeps self-registration from filling the registry;
    /// the operator's registrations are never limited.
    #[serde(default = "default_registration_interval_ms")]
    #[schemars(range(max = limits::REGISTRATION_INTERVAL_MS_MAX))]
    pub registration_interval_ms: u64,
    /// Registrations that may come at once before `registration_interval_ms` paces them.
    #[serde(default = "default_registration_burst")]
    #[schemars(range(min = 1, max = limits::REGISTRATION_BURST_MAX))]
    pub registration_burst: u32,
    /// The kinds of work the task market takes (seed 000: `analyze`, `execute`, `monitor`). A swarm
    /// names its own so that workers can rely on a closed vocabulary.
    #[serde(default = "default_task_kinds")]
    #[schemars(length(min = 1, max = limits::TASK_KINDS_MAX))]
    pub task_kinds: BTreeSet<Name>,
    /// Whose registered referrer earns the referral share of an escrow's fee when the escrow names
    /// none. Fixed on each escrow when it is locked.
    #[serde(default)]
    pub referral_from: ReferralFrom,
    /// Command kinds the operator cannot sign alone once bootstrap has ended: they run only as the
    /// action of an approved proposal (seed 001: no privileged command is executed directly by any
    /// single agent). By default minting, configuration changes (this set among them), role and
    /// weight changes (`agent.update`), halts, dispute resolution and penalties.
    #[serde(default = "default_guarded")]
    #[schemars(length(max = limits::GUARDED_KINDS_MAX))]
    pub guarded: BTreeSet<Name>,
    /// How long a jury takes ballots, from the dispute that opens it (default a day: jurors are
    /// agents that heartbeat every few seconds, and a day lets one that was down come back to vote).
    #[serde(default = "default_jury_voting_ms")]
    #[schemars(range(min = 1, max = limits::PROPOSAL_VOTING_MS_MAX))]
    pub jury_voting_ms: u64,
    /// Ballots a jury needs before its verdict counts (default three: more than one juror must
    /// agree to take money from either party); fewer, and the escrow is refunded to the payer.
    #[serde(default = "default_jury_quorum")]
    #[schemars(range(min = 1, max = limits::JURY_SIZE_MAX))]
    pub jury_quorum: u32,
}

fn default_jury_voting_ms() -> u64 {
    86_400_000
}

fn default_jury_quorum() -> u32 {
    3
}

fn default_guarded() -> BTreeSet<Name> {
    ["ledger.mint", "config.set", "agent.update", "agent.halt", "escrow.resolve", "ledger.penalize"]
        .into_iter()
        .map(|kind| Name::new(kind).expect("command kinds are valid names"))
        .collect()
}

/// Whose registered referrer an escrow's referral share goes to, when the escrow names no referrer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferralFrom {
    /// The payee's: the fee is deducted from the payee's payout, so the payee bears it, and the
    /// agent that brought the payee in (seed 002's orchestrator, for its workers) earns from it.
    #[default]
    Payee,
    /// The payer's: the agent that brought in whoever spends the money.
    Payer,
}

fn default_task_kinds() -> BTreeSet<Name> {
    ["analyze", "execute", "monitor"]
        .into_iter()
        .map(|kind| Name::new(kind).expect("built-in task kinds are valid names"))
        .collect()
}

fn default_registration_interval_ms() -> u64 {
    1_000
}

fn default_registration_burst() -> u32 {
    1_000
}

fn default_fee_bps() -> u16 {
    100
}

fn default_referral_bps() -> u16 {
    1_500
}

impl Default for SwarmConfig {
    fn default() -> Self {
        // The six roles of the seed taxonomy, the orchestrator of the trading-team seed, and seed 001's
        // four with its weights (architect 2.5, developer 1.0, security 2.0, auditor 1.5); every other
        // role weighs one, in millionths.
        let one = limits::WEIGHT_ONE;
        let roles = [
            ("scout", one),
            ("analyst", one),
            ("executor", one),
            ("oracle", one),
            ("risk", one),
            ("treasury", one),
            ("orchestrator", one),
            ("architect", one * 5 / 2),
            ("developer", one),
            ("security", one * 2),
            ("auditor", one * 3 / 2),
        ]
        .into_iter()
        .map(|(name, default_weight)| {
            (
                Name::new(name).expect("built-in role names are valid"),
                RoleConfig { default_weight, admission: RoleAdmission::Open },
            )
        })
        .collect();
        SwarmConfig {
            roles,
            heartbeat_ttl_ms: 30_000,
            self_registration: true,
            fee_bps: default_fee_bps(),
            referral_bps: default_referral_bps(),
            registration_interval_ms: default_registration_interval_ms(),
            registration_burst: default_registration_burst(),
            task_kinds: default_task_kinds(),
            referral_from: ReferralFrom::default(),
            guarded: default_guarded(),
            jury_voting_ms: default_jury_voting_ms(),
            jury_quorum: default_jury_quorum(),
        }
    }
}

impl SwarmConfig {
    /// Checks that the configuration is within limits and self-consistent.
    pub fn validate(&self) -> Result<(), Rejection> {
        if self.roles.is_empty() {
            return Err(Rejection::invalid("roles", "at least one role is required"));
        }
        if self.roles.len() > limits::ROLES_MAX {
            return Err(Rejection::LimitReached { limit: "roles", max: limits::ROLES_MAX as u64 });
        }
        if let Some((name, _)) = self.roles.iter().find(|(_, role)| role.default_weight > limits::AGENT_WEIGHT_MAX) {
            return Err(Rejection::invalid(
                "roles",
                format!("role '{name}' has a default weight above {}", limits::AGENT_WEIGHT_MAX),
            ));
        }
        if !(limits::HEARTBEAT_TTL_MS_MIN..=limits::HEARTBEAT_TTL_MS_MAX).contains(&self.heartbeat_ttl_ms) {
            return Err(Rejection::invalid(
                "heartbeat_ttl_ms",
                format!(
                    "must be between {} and {} milliseconds",
                    limits::HEARTBEAT_TTL_MS_MIN,
                    limits::HEARTBEAT_TTL_MS_MAX
                ),
            ));
        }
        if self.registration_interval_ms > limits::REGISTRATION_INTERVAL_MS_MAX {
            return Err(Rejection::invalid(
                "registration_interval_ms",
                format!("must be at most {} milliseconds", limits::REGISTRATION_INTERVAL_MS_MAX),
            ));
        }
        if !(1..=limits::REGISTRATION_BURST_MAX).contains(&self.registration_burst) {
            return Err(Rejection::invalid(
                "registration_burst",
                format!("must be between 1 and {}", limits::REGISTRATION_BURST_MAX),
            ));
        }
        if self.task_kinds.is_empty() {
            return Err(Rejection::invalid("task_kinds", "at least one task kind is required"));
        }
        if self.task_kinds.len() > limits::TASK_KINDS_MAX {
            return Err(Rejection::LimitReached { limit: "task_kinds", max: limits::TASK_KINDS_MAX as u64 });
        }
        for (field, value) in [("fee_bps", self.fee_bps), ("referral_bps", self.referral_bps)] {
            if u64::from(value) > BASIS_POINTS_ONE {
                return Err(Rejection::invalid(field, "must be at most 10000 basis points"));
            }
        }
        if !(1..=limits::PROPOSAL_VOTING_MS_MAX).contains(&self.jury_voting_ms) {
            return Err(Rejection::invalid(
                "jury_voting_ms",
                format!("must be between 1 and {} milliseconds", limits::PROPOSAL_VOTING_MS_MAX),
            ));
        }
        if !(1..=limits::JURY_SIZE_MAX).contains(&self.jury_quorum) {
            return Err(Rejection::invalid("jury_quorum", format!("must be between 1 and {}", limits::JURY_SIZE_MAX)));
        }
        if self.guarded.len() > limits::GUARDED_KINDS_MAX {
            return Err(Rejection::LimitReached { limit: "guarded", max: limits::GUARDED_KINDS_MAX as u64 });
        }
        if let Some(unknown) = self.guarded.iter().find(|kind| !crate::command::Command::KINDS.contains(&kind.as_str()))
        {
            return Err(Rejection::invalid("guarded", format!("'{unknown}' is not a command kind")));
        }
        Ok(())
    }
}
