//! Stigmergy's commands: create, configure and delete a pheromone map; deposit on one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::book::Depositors;
use super::decay::Decay;
use super::intensity::{Intensity, NANOS_ONE};
use super::key::SignalKey;
use crate::command::Apply;
use crate::ids::Name;
use crate::limits;
use crate::outcome::CommandResult;
use crate::state::{Context, State};

/// Seed 000's cap: no trail holds more than 10.
pub const SEED_000_CAP: Intensity = Intensity::from_nanos(10 * NANOS_ONE);

/// Seed 000's pruning level: a trail at or below 0.01 is gone.
pub const SEED_000_PRUNE: Intensity = Intensity::from_nanos(NANOS_ONE / 100);

fn seed_000_decay() -> Decay {
    Decay::SEED_000
}

fn seed_000_cap() -> Intensity {
    SEED_000_CAP
}

fn seed_000_prune() -> Intensity {
    SEED_000_PRUNE
}

/// The signer creates a shared pheromone map. Its decay model and levels are fixed for its life;
/// unless given they are seed 000's: 0.95 kept per 300 s cycle, a cap of 10, trails gone at 0.01.
/// Creating it again with the same terms changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMap {
    /// The map's name, unique in the swarm.
    pub map: Name,
    /// How trails fade: `{"exponential": {"retained_per_cycle": "0.95", "cycle_ms": 300000}}`,
    /// `{"linear": {"lost_per_second": "0.1"}}` (seed 003) or `{"half_life": {"half_life_ms": …}}`.
    #[serde(default = "seed_000_decay")]
    pub decay: Decay,
    /// The most a trail may hold (above 0, at most 100).
    #[serde(default = "seed_000_cap")]
    pub cap: Intensity,
    /// A trail at or below this is gone (below the cap).
    #[serde(default = "seed_000_prune")]
    pub prune_at_or_below: Intensity,
    /// Who may deposit besides the creator: `"registered"` (the default) or `{"agents": […]}`.
    #[serde(default)]
    pub depositors: Depositors,
}

impl Apply for CreateMap {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.create_pheromone_map(context, self)
    }
}

/// The map's creator (or the operator) changes who may deposit on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureMap {
    /// The map.
    pub map: Name,
    /// Who may deposit from now on.
    pub depositors: Depositors,
}

impl Apply for ConfigureMap {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.configure_pheromone_map(context, self)
    }
}

/// The map's creator (or the operator) deletes it with every trail on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMap {
    /// The map.
    pub map: Name,
}

impl Apply for DeleteMap {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.delete_pheromone_map(context, self)
    }
}

/// A depositor reinforces a trail: it becomes `min(cap, current + strength)`, as of the entry's log
/// time. The result carries the trail's new intensity. With `unless_present`, the deposit is made
/// only if none of those trails is above the map's pruning level at that time, in the same entry:
/// seed 003's claim (`task-17:claimed` unless `task-17:claimed` or `task-17:completed`) can then be
/// won by one agent only, and lives while its holder reinforces it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deposit {
    /// The map.
    pub map: Name,
    /// The trail's key.
    pub key: SignalKey,
    /// What is added (above 0).
    pub strength: Intensity,
    /// Trails that must be absent (at or below the pruning level) for the deposit to be made;
    /// refused `signal_present` otherwise.
    #[serde(default)]
    #[schemars(length(max = limits::PHEROMONE_UNLESS_KEYS_MAX))]
    pub unless_present: Vec<SignalKey>,
}

impl Apply for Deposit {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.deposit_pheromone(context, self)
    }
}
