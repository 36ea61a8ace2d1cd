//! Stigmergy's state: the pheromone maps, who opened each trail, and the counts the limits read.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::decay::Decay;
use super::intensity::Intensity;
use super::key::SignalKey;
use super::store::Trails;
use crate::ids::{AgentId, Name, Signer};
use crate::limits;

/// Who may deposit on a map besides its creator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Depositors {
    /// Every registered agent that may act (and the operator).
    #[default]
    Registered,
    /// These agents only (1 to `PHEROMONE_DEPOSITORS_MAX`).
    Agents(BTreeSet<AgentId>),
}

impl Depositors {
    /// Whether `signer` may deposit on a map of `creator`'s with these depositors.
    pub fn admit(&self, signer: &Signer, creator: &Signer) -> bool {
        match (self, signer) {
            _ if signer == creator => true,
            (Depositors::Registered, _) => true,
            (Depositors::Agents(agents), Signer::Agent(agent)) => agents.contains(agent),
            (Depositors::Agents(_), Signer::Operator) => false,
        }
    }
}

/// A map's terms, fixed when it is created (but its depositors, which its creator may change).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapTerms {
    /// How its trails fade.
    pub decay: Decay,
    /// The most a trail may hold.
    pub cap: Intensity,
    /// Trails at or below this are gone.
    pub prune_at_or_below: Intensity,
}

/// One shared environment of trails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PheromoneMap {
    /// Its name.
    pub name: Name,
    /// Who created it: the one who may configure or delete it, with the operator.
    pub creator: Signer,
    /// Its model and levels.
    pub terms: MapTerms,
    /// Who may deposit.
    pub depositors: Depositors,
    /// When it was created (log time).
    pub created_at_ms: u64,
    /// Deposits accepted on it.
    pub deposits: u64,
    pub(crate) trails: Trails,
    /// The signer whose deposit opened each stored trail (its key count bears it until the trail is
    /// pruned or the map deleted).
    pub(crate) openers: BTreeMap<SignalKey, Signer>,
}

impl PheromoneMap {
    /// Trails stored (those faded to the pruning level are removed when the map is next written).
    pub fn keys(&self) -> usize {
        self.openers.len()
    }

    /// A trail's intensity at `now_ms` (zero when it has none or it has faded away).
    pub fn sense(&self, key: &SignalKey, now_ms: u64) -> Intensity {
        self.trails.sense(key, now_ms)
    }

    /// The `n` strongest trails at `now_ms`, strongest first, equal ones by key.
    pub fn top(&self, n: usize, now_ms: u64) -> Vec<(SignalKey, Intensity)> {
        self.trails.top(n, now_ms)
    }
}

/// Every pheromone map, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stigmergy {
    pub(crate) maps: BTreeMap<Name, PheromoneMap>,
    /// Maps each signer created and still holds.
    pub(crate) maps_by_creator: BTreeMap<Signer, u32>,
    /// Trails each signer opened that are still stored.
    pub(crate) keys_by_opener: BTreeMap<Signer, u32>,
    /// Trails stored in all maps.
    pub(crate) keys: u64,
}

impl Stigmergy {
    /// One map.
    pub fn map(&self, name: &Name) -> Option<&PheromoneMap> {
        self.maps.get(name)
    }

    /// Up to `limit` maps after `after`, in name order.
    pub fn maps_after(&self, after: Option<&Name>, limit: usize) -> Vec<&PheromoneMap> {
        let range = match after {
            Some(after) => self.maps.range::<Name, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => self.maps.range::<Name, _>(..),
        };
        range.take(limit).map(|(_, map)| map).collect()
    }

    /// Maps in all.
    pub fn len(&self) -> usize {
        self.maps.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }

    /// Trails stored in all maps.
    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// Trails `signer` opened that are still stored.
    pub fn keys_opened_by(&self, signer: &Signer) -> u32 {
        self.keys_by_opener.get(signer).copied().unwrap_or(0)
    }

    /// Maps `signer` created that still exist.
    pub fn maps_created_by(&self, signer: &Signer) -> u32 {
        self.maps_by_creator.get(signer).copied().unwrap_or(0)
    }

    /// Checks every map's indexes and recounts maps and trails by signer.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut creators: BTreeMap<&Signer, u32> = BTreeMap::new();
        let mut openers: BTreeMap<&Signer, u32> = BTreeMap::new();
        let mut keys = 0u64;
        for (name, map) in &self.maps {
            if *name != map.name {
                return Err(format!("pheromone map '{}' is filed under '{name}'", map.name));
            }
            map.trails.check_invariants().map_err(|reason| format!("pheromone map '{name}': {reason}"))?;
            if map.trails.keys() != map.openers.keys().cloned().collect::<Vec<_>>() {
                return Err(format!("pheromone map '{name}': its trails and their openers differ"));
            }
            if map.openers.len() > limits::PHEROMONE_KEYS_PER_MAP_MAX {
                return Err(format!("pheromone map '{name}' holds more trails than a map may"));
            }
            if let Depositors::Agents(agents) = &map.depositors
                && (agents.is_empty() || agents.len() > limits::PHEROMONE_DEPOSITORS_MAX)
            {
                return Err(format!("pheromone map '{name}' names a depositor list of a size it may not"));
            }
            *creators.entry(&map.creator).or_insert(0) += 1;
            for opener in map.openers.values() {
                *openers.entry(opener).or_insert(0) += 1;
            }
            keys += map.openers.len() as u64;
        }
        if creators != by_reference(&self.maps_by_creator) || openers != by_reference(&self.keys_by_opener) {
            return Err("pheromone maps or trails counted by signer differ from a recount".to_owned());
        }
        if keys != self.keys || keys > limits::PHEROMONE_KEYS_MAX as u64 {
            return Err(format!("{} pheromone trails counted but {keys} stored", self.keys));
        }
        Ok(())
    }
}

fn by_reference(counts: &BTreeMap<Signer, u32>) -> BTreeMap<&Signer, u32> {
    counts.iter().map(|(signer, count)| (signer, *count)).collect()
}
