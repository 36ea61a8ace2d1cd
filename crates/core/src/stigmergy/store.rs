//! A map's trails under any decay model: [`TrailMap`] for the multiplicative ones, [`LinearTrails`]
//! for seed 003's linear fade.
//!
//! A linear fade takes the same amount per second from a trail whatever its strength, so two trails
//! deposited at different times change order as they fade, and no single index serves top-N reads:
//! a linear map's top-N sorts its trails (at most `PHEROMONE_KEYS_PER_MAP_MAX`). Its pruning does
//! not walk them: each trail's fade below the pruning level is a log time known when it is
//! deposited, kept in an index by that time.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::decay::Decay;
use super::intensity::Intensity;
use super::key::SignalKey;
use super::trails::{TRAIL_CAP_MAX, TrailMap};

/// Trails under seed 003's linear fade: each as deposited, with the log time of its deposit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearTrails {
    decay: Decay,
    cap: Intensity,
    prune_at_or_below: Intensity,
    /// Key → (intensity at its last deposit, that deposit's log time).
    trails: BTreeMap<SignalKey, (Intensity, u64)>,
    /// `(log time from which the trail is at or below the pruning level, key)`.
    fading: BTreeSet<(u64, SignalKey)>,
}

impl LinearTrails {
    fn new(decay: Decay, cap: Intensity, prune_at_or_below: Intensity) -> Result<LinearTrails, &'static str> {
        decay.check()?;
        if cap == Intensity::ZERO || cap > TRAIL_CAP_MAX {
            return Err("the cap must be above 0 and at most 100");
        }
        if prune_at_or_below >= cap {
            return Err("the pruning level must be below the cap");
        }
        Ok(LinearTrails { decay, cap, prune_at_or_below, trails: BTreeMap::new(), fading: BTreeSet::new() })
    }

    fn read(&self, (intensity, at_ms): (Intensity, u64), now_ms: u64) -> Intensity {
        self.decay.decayed(intensity, now_ms.saturating_sub(at_ms))
    }

    /// The first log time at which `intensity` deposited at `at_ms` is at or below the pruning level:
    /// a search over the elapsed time, since the fade is floored and never rises.
    fn faded_at(&self, intensity: Intensity, at_ms: u64) -> u64 {
        let (mut low, mut high) = (0u64, 1u64);
        while self.decay.decayed(intensity, high) > self.prune_at_or_below {
            high = high.saturating_mul(2);
        }
        while low < high {
            let middle = low + (high - low) / 2;
            if self.decay.decayed(intensity, middle) > self.prune_at_or_below {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        at_ms.saturating_add(low)
    }
}

/// A map's trails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trails {
    /// Exponential or half-life: read strongest first by one index.
    Multiplicative(TrailMap<SignalKey>),
    /// Linear.
    Linear(LinearTrails),
}

impl Trails {
    /// An empty map of trails that begins at `origin_ms`; why not, for a model or levels that cannot
    /// be used.
    pub fn new(
        decay: Decay,
        cap: Intensity,
        prune_at_or_below: Intensity,
        origin_ms: u64,
    ) -> Result<Trails, &'static str> {
        match decay {
            Decay::Linear { .. } => LinearTrails::new(decay, cap, prune_at_or_below).map(Trails::Linear),
            _ => TrailMap::new(decay, cap, prune_at_or_below, origin_ms).map(Trails::Multiplicative),
        }
    }

    /// Trails stored, faint or not yet pruned.
    pub fn len(&self) -> usize {
        match self {
            Trails::Multiplicative(map) => map.len(),
            Trails::Linear(linear) => linear.trails.len(),
        }
    }

    /// Whether none is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `key` has a trail stored (faint or not).
    pub fn contains(&self, key: &SignalKey) -> bool {
        match self {
            Trails::Multiplicative(map) => map.contains(key),
            Trails::Linear(linear) => linear.trails.contains_key(key),
        }
    }

    /// Every stored key, in key order.
    pub fn keys(&self) -> Vec<SignalKey> {
        match self {
            Trails::Multiplicative(map) => map.keys().cloned().collect(),
            Trails::Linear(linear) => linear.trails.keys().cloned().collect(),
        }
    }

    /// A trail's intensity at `now_ms`: zero when it has none, or has faded to the pruning level.
    pub fn sense(&self, key: &SignalKey, now_ms: u64) -> Intensity {
        match self {
            Trails::Multiplicative(map) => {
                let intensity = map.sense(key, now_ms);
                if intensity <= self.prune_at_or_below() { Intensity::ZERO } else { intensity }
            }
            Trails::Linear(linear) => linear.trails.get(key).map_or(Intensity::ZERO, |trail| {
                let intensity = linear.read(*trail, now_ms);
                if intensity <= linear.prune_at_or_below { Intensity::ZERO } else { intensity }
            }),
        }
    }

    /// The trails at or below the pruning level at `now_ms`, which [`Trails::prune`] would remove.
    pub fn faint(&self, now_ms: u64) -> Vec<SignalKey> {
        match self {
            Trails::Multiplicative(map) => map.faint(now_ms),
            Trails::Linear(linear) => {
                linear.fading.iter().take_while(|(at, _)| *at <= now_ms).map(|(_, key)| key.clone()).collect()
            }
        }
    }

    /// Removes the trails at or below the pruning level at `now_ms`; returns their keys.
    pub fn prune(&mut self, now_ms: u64) -> Vec<SignalKey> {
        match self {
            Trails::Multiplicative(map) => map.prune(now_ms),
            Trails::Linear(linear) => linear.prune_through(now_ms),
        }
    }

    /// Seed 000's deposit, `min(cap, current + strength)`, after pruning: returns the trail's
    /// intensity, which is stored only when above the pruning level.
    pub fn deposit(&mut self, key: SignalKey, strength: Intensity, now_ms: u64) -> Intensity {
        match self {
            Trails::Multiplicative(map) => map.deposit(key, strength, now_ms),
            Trails::Linear(linear) => {
                linear.prune_through(now_ms);
                let current = linear.trails.get(&key).map_or(Intensity::ZERO, |trail| linear.read(*trail, now_ms));
                let deposited = current.deposit_capped(strength, linear.cap);
                if let Some((intensity, at)) = linear.trails.remove(&key) {
                    let faded_at = linear.faded_at(intensity, at);
                    linear.fading.remove(&(faded_at, key.clone()));
                }
                if deposited > linear.prune_at_or_below {
                    let faded_at = linear.faded_at(deposited, now_ms);
                    linear.fading.insert((faded_at, key.clone()));
                    linear.trails.insert(key, (deposited, now_ms));
                }
                deposited
            }
        }
    }

    /// The `n` strongest trails at `now_ms`, strongest first (equal ones by key), none at or below
    /// the pruning level.
    pub fn top(&self, n: usize, now_ms: u64) -> Vec<(SignalKey, Intensity)> {
        match self {
            Trails::Multiplicative(map) => map.top(n, now_ms),
            Trails::Linear(linear) => {
                let mut all: Vec<(SignalKey, Intensity)> = linear
                    .trails
                    .iter()
                    .map(|(key, trail)| (key.clone(), linear.read(*trail, now_ms)))
                    .filter(|(_, intensity)| *intensity > linear.prune_at_or_below)
                    .collect();
                all.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
                all.truncate(n);
                all
            }
        }
    }

    fn prune_at_or_below(&self) -> Intensity {
        match self {
            Trails::Multiplicative(map) => map.prune_at_or_below(),
            Trails::Linear(linear) => linear.prune_at_or_below,
        }
    }

    /// Checks each index against the other.
    pub fn check_invariants(&self) -> Result<(), String> {
        match self {
            Trails::Multiplicative(map) => map.check_invariants(),
            Trails::Linear(linear) => {
                linear.decay.check()?;
                if !matches!(linear.decay, Decay::Linear { .. }) || linear.prune_at_or_below >= linear.cap {
                    return Err("linear trails under another model, or pruned at their cap".to_owned());
                }
                if linear.fading.len() != linear.trails.len() {
                    return Err("a linear trail is missing from the fading index".to_owned());
                }
                for (key, (intensity, at)) in &linear.trails {
                    if *intensity > linear.cap
                        || !linear.fading.contains(&(linear.faded_at(*intensity, *at), key.clone()))
                    {
                        return Err(format!("linear trail '{key}' is above the cap or misplaced in the index"));
                    }
                }
                Ok(())
            }
        }
    }
}

impl LinearTrails {
    fn prune_through(&mut self, now_ms: u64) -> Vec<SignalKey> {
        let mut removed = Vec::new();
        while let Some((at, key)) = self.fading.first().cloned() {
            if at > now_ms {
                break;
            }
            self.fading.pop_first();
            self.trails.remove(&key);
            removed.push(key);
        }
        removed
    }
}
