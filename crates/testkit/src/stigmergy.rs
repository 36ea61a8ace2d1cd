//! Pheromone map commands for generated streams.
//!
//! Maps are named by a small pool ([`MAP_NAMES`]) so that signers create them again (the same terms
//! or others: a conflict), deposit on each other's maps (some of which name their depositors) and
//! try to change maps they did not create. Keys come from a small pool too, so trails are reinforced
//! up to their cap; pauses between envelopes let some fade and be pruned.

use std::collections::BTreeSet;

use colony_core::command::{ConfigureMap, CreateMap, DeleteMap, Deposit};
use colony_core::stigmergy::{Decay, Depositors, SEED_000_CAP, SEED_000_PRUNE};
use colony_core::{AgentId, Command, Fraction, Intensity, Name, SignalKey, State};
use proptest::collection::vec;
use proptest::prelude::*;

use super::keys::name;
use super::strategies::{AgentRef, CommandSpec, agent_ref};

/// The names maps are created under; the last is never created.
pub const MAP_NAMES: [&str; 4] = ["trails-0", "trails-1", "trails-2", "nowhere"];

/// Keys deposits name.
pub const SIGNAL_KEYS: [&str; 4] = ["BTC:long:momentum", "ETH:short", "task-1:claimed", "task-2:available"];

/// A map a command names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapRef {
    /// One the signer created (in the state the entries before lead to), the one at this index,
    /// wrapping; the pool's name at this index when it created none.
    Mine(usize),
    /// The pool's name at this index (the last is never created).
    Pool(usize),
}

/// A pheromone map command, abstractly.
#[derive(Clone, Debug)]
pub enum StigmergySpec {
    /// `pheromone.map.create`.
    Create {
        /// The index of its name in [`MAP_NAMES`] (never the last).
        map: usize,
        /// The index of its model in [`decay`].
        decay: usize,
        /// Depositors named, or every registered agent.
        depositors: Option<Vec<AgentRef>>,
    },
    /// `pheromone.map.configure`.
    Configure {
        /// The map.
        map: MapRef,
        /// Depositors named, or every registered agent.
        depositors: Option<Vec<AgentRef>>,
    },
    /// `pheromone.map.delete`.
    Delete {
        /// The map.
        map: MapRef,
    },
    /// `pheromone.deposit`.
    Deposit {
        /// The index of the map's name in [`MAP_NAMES`].
        map: usize,
        /// The index of the key in [`SIGNAL_KEYS`].
        key: usize,
        /// Billionths deposited (0 is refused).
        strength: u64,
        /// Whether the deposit is made only while its own trail is absent (a claim).
        conditional: bool,
    },
}

/// The decay models maps are created with: seed 000's, seed 003's, a half-life, and one refused.
pub fn decay(index: usize) -> Decay {
    match index % 4 {
        0 => Decay::SEED_000,
        1 => Decay::Linear { lost_per_second: Fraction::from_micros(100_000).expect("at most one") },
        2 => Decay::HalfLife { half_life_ms: 2_000 },
        _ => Decay::HalfLife { half_life_ms: 0 },
    }
}

fn depositors_spec(pool: usize) -> BoxedStrategy<Option<Vec<AgentRef>>> {
    prop_oneof![2 => Just(None), 1 => vec(agent_ref(pool), 1..=2).prop_map(Some)].boxed()
}

fn map_ref() -> BoxedStrategy<MapRef> {
    prop_oneof![3 => (0..4usize).prop_map(MapRef::Mine), 1 => (0..MAP_NAMES.len()).prop_map(MapRef::Pool)].boxed()
}

/// Weighted generators of pheromone map commands.
pub fn stigmergy_commands(pool: usize) -> Vec<(u32, BoxedStrategy<CommandSpec>)> {
    let create = (0..MAP_NAMES.len() - 1, 0..4usize, depositors_spec(pool))
        .prop_map(|(map, decay, depositors)| StigmergySpec::Create { map, decay, depositors });
    let configure =
        (map_ref(), depositors_spec(pool)).prop_map(|(map, depositors)| StigmergySpec::Configure { map, depositors });
    let delete = map_ref().prop_map(|map| StigmergySpec::Delete { map });
    let strength = prop_oneof![1 => Just(0u64), 12 => 1u64..=4_000_000_000];
    let deposit = (0..MAP_NAMES.len(), 0..SIGNAL_KEYS.len(), strength, proptest::bool::weighted(0.25))
        .prop_map(|(map, key, strength, conditional)| StigmergySpec::Deposit { map, key, strength, conditional });
    vec![
        (4, create.prop_map(CommandSpec::Stigmergy).boxed()),
        (2, configure.prop_map(CommandSpec::Stigmergy).boxed()),
        (1, delete.prop_map(CommandSpec::Stigmergy).boxed()),
        (12, deposit.prop_map(CommandSpec::Stigmergy).boxed()),
    ]
}

fn resolve_map(state: &State, signer: Option<&AgentId>, map: MapRef) -> Name {
    match map {
        MapRef::Pool(index) => name(MAP_NAMES[index % MAP_NAMES.len()]),
        MapRef::Mine(index) => {
            let mine: Vec<Name> = MAP_NAMES
                .iter()
                .map(|map| name(map))
                .filter(|map| {
                    let creator = state.stigmergy().map(map).map(|found| found.creator.clone());
                    signer.is_some_and(|signer| creator.as_ref().and_then(|creator| creator.agent()) == Some(signer))
                })
                .collect();
            match mine.len() {
                0 => name(MAP_NAMES[index % MAP_NAMES.len()]),
                count => mine[index % count].clone(),
            }
        }
    }
}

fn depositors(spec: &Option<Vec<AgentRef>>, resolve: &dyn Fn(AgentRef) -> AgentId) -> Depositors {
    match spec {
        None => Depositors::Registered,
        Some(agents) => Depositors::Agents(agents.iter().map(|agent| resolve(*agent)).collect::<BTreeSet<_>>()),
    }
}

/// The command `spec` describes, against `state`, for `signer` (`None`: the operator).
pub fn render_stigmergy(
    state: &State,
    signer: Option<&AgentId>,
    spec: &StigmergySpec,
    resolve: &dyn Fn(AgentRef) -> AgentId,
) -> Command {
    match spec {
        StigmergySpec::Create { map, decay: model, depositors: spec } => Command::CreateMap(CreateMap {
            map: name(MAP_NAMES[*map]),
            decay: decay(*model),
            cap: SEED_000_CAP,
            prune_at_or_below: SEED_000_PRUNE,
            depositors: depositors(spec, resolve),
        }),
        StigmergySpec::Configure { map, depositors: spec } => Command::ConfigureMap(ConfigureMap {
            map: resolve_map(state, signer, *map),
            depositors: depositors(spec, resolve),
        }),
        StigmergySpec::Delete { map } => Command::DeleteMap(DeleteMap { map: resolve_map(state, signer, *map) }),
        StigmergySpec::Deposit { map, key, strength, conditional } => {
            let key = SignalKey::new(SIGNAL_KEYS[*key]).expect("a valid key");
            Command::Deposit(Deposit {
                map: name(MAP_NAMES[*map]),
                unless_present: if *conditional { vec![key.clone()] } else { Vec::new() },
                key,
                strength: Intensity::from_nanos(*strength),
            })
        }
    }
}
