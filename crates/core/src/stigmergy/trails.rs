//! Seed 000's pheromone map: trails by key that all fade by the same factor, with deposits capped,
//! faint trails pruned, and the strongest read in order.
//!
//! Under a multiplicative decay (exponential or half-life) every trail fades by the same factor over
//! the same time, so time alone never changes their order. Trails are therefore stored as they stood
//! at a reference time, scaled up by the inverse of the decay since then: a deposit divides by the
//! decay so far, a read multiplies by it. Reading the top N is a walk down one ordered index,
//! whatever the number of trails, and nothing is rewritten as time passes, until the stored values
//! would outgrow 128 bits and every trail is brought to the present once ([`TrailMap::rebase`]).
//!
//! Exactness: a deposit stores the smallest value that reads back as exactly `min(cap, current +
//! strength)` (rounding up, by less than the stored scale's unit), so a deposit followed by a read
//! gives the seed's formula to the billionth; between deposits a trail decays as
//! [`Decay::decayed`] does, within a billionth.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::decay::{Decay, FACTOR_ONE};
use super::intensity::Intensity;

/// Extra precision of stored values beyond a billionth: stored = nanos × `STORED_PER_NANO` ÷ decay.
const STORED_PER_NANO: u128 = 1_000_000_000;

/// When the decay since the reference falls below this (on the factor scale, 10⁻⁵), the map is
/// brought to the present. The decay is computed to about 10⁻¹⁶, so down to 10⁻⁵ a trail is read to
/// about 10⁻¹¹ of itself: within a billionth at the largest cap. For seed 000's 0.95 per cycle that
/// is one pass over the map every 224 cycles (18.7 hours).
const REBASE_BELOW: u128 = FACTOR_ONE / 100_000;

/// The highest cap a map may set (100 units; seed 000's is 10): `cap × STORED_PER_NANO ×
/// FACTOR_ONE` (10³⁸) must fit in 128 bits when a deposit is scaled.
pub const TRAIL_CAP_MAX: Intensity = Intensity::from_nanos(100 * super::intensity::NANOS_ONE);

/// Trails that fade together; `K` is the key (`BTC:long:momentum`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailMap<K: Ord + Clone> {
    decay: Decay,
    cap: Intensity,
    prune_at_or_below: Intensity,
    /// When the map began: an exponential decay's cycles are counted from here.
    origin_ms: u64,
    /// The log time stored values are relative to (for an exponential decay, a cycle boundary).
    reference_ms: u64,
    stored: BTreeMap<K, u128>,
    /// `(stored value, key)`: the strongest last.
    order: BTreeSet<(u128, K)>,
}

impl<K: Ord + Clone> TrailMap<K> {
    /// An empty map that began at `origin_ms`. `decay` must be multiplicative (exponential or
    /// half-life; a linear fade changes the order of trails with time) and pass `Decay::check`.
    pub fn new(
        decay: Decay,
        cap: Intensity,
        prune_at_or_below: Intensity,
        origin_ms: u64,
    ) -> Result<Self, &'static str> {
        decay.check()?;
        if matches!(decay, Decay::Linear { .. }) {
            return Err("a linear fade changes the order of trails over time: use it for signals, not trails");
        }
        if cap == Intensity::ZERO || cap > TRAIL_CAP_MAX {
            return Err("the cap must be above 0 and at most 100");
        }
        if prune_at_or_below >= cap {
            return Err("the pruning level must be below the cap");
        }
        Ok(TrailMap {
            decay,
            cap,
            prune_at_or_below,
            origin_ms,
            reference_ms: origin_ms,
            stored: BTreeMap::new(),
            order: BTreeSet::new(),
        })
    }

    /// Trails above the pruning level as of the last change (pruning happens when the map is
    /// touched: [`TrailMap::prune`]).
    pub fn len(&self) -> usize {
        self.stored.len()
    }

    /// Whether `key` has a trail stored (faint or not).
    pub fn contains(&self, key: &K) -> bool {
        self.stored.contains_key(key)
    }

    /// The level at or below which trails are pruned.
    pub fn prune_at_or_below(&self) -> Intensity {
        self.prune_at_or_below
    }

    /// Whether no trail is left.
    pub fn is_empty(&self) -> bool {
        self.stored.is_empty()
    }

    /// The decay from the reference to `now_ms`, on the factor scale.
    fn decay_since_reference(&self, now_ms: u64) -> u128 {
        assert!(now_ms >= self.reference_ms, "log time never goes back");
        let elapsed = match self.decay {
            // Whole cycles since the origin, less those before the reference (a cycle boundary).
            Decay::Exponential { cycle_ms, .. } => {
                ((now_ms - self.origin_ms) / cycle_ms - (self.reference_ms - self.origin_ms) / cycle_ms) * cycle_ms
            }
            _ => now_ms - self.reference_ms,
        };
        let unit = Intensity::from_nanos(1_000_000_000_000_000_000);
        u128::from(self.decay.decayed(unit, elapsed).nanos())
    }

    fn read_stored(stored: u128, decay: u128) -> Intensity {
        let nanos = stored * decay / (STORED_PER_NANO * FACTOR_ONE);
        Intensity::from_nanos(u64::try_from(nanos).expect("at most the cap"))
    }

    /// A trail's intensity at `now_ms` (zero when it has none).
    pub fn sense(&self, key: &K, now_ms: u64) -> Intensity {
        let decay = self.decay_since_reference(now_ms);
        self.stored.get(key).map_or(Intensity::ZERO, |stored| Self::read_stored(*stored, decay))
    }

    /// Seed 000's deposit: the trail becomes `min(cap, current + strength)`. Returns it.
    pub fn deposit(&mut self, key: K, strength: Intensity, now_ms: u64) -> Intensity {
        self.prune(now_ms);
        let mut decay = self.decay_since_reference(now_ms);
        if decay < REBASE_BELOW {
            self.rebase(now_ms);
            decay = self.decay_since_reference(now_ms);
        }
        let current = self.stored.get(&key).map_or(Intensity::ZERO, |stored| Self::read_stored(*stored, decay));
        let deposited = current.deposit_capped(strength, self.cap);
        if let Some(old) = self.stored.remove(&key) {
            self.order.remove(&(old, key.clone()));
        }
        if deposited > self.prune_at_or_below {
            // The smallest stored value that reads back as `deposited` exactly.
            let scaled = u128::from(deposited.nanos()) * STORED_PER_NANO * FACTOR_ONE;
            let stored = scaled.div_ceil(decay);
            debug_assert_eq!(Self::read_stored(stored, decay), deposited);
            self.stored.insert(key.clone(), stored);
            self.order.insert((stored, key));
        }
        deposited
    }

    /// The trails at or below the pruning level at `now_ms`, the weakest first, without removing
    /// them: what [`TrailMap::prune`] would remove, for checks that must change nothing.
    pub fn faint(&self, now_ms: u64) -> Vec<K> {
        let decay = self.decay_since_reference(now_ms);
        self.order
            .iter()
            .take_while(|(stored, _)| Self::read_stored(*stored, decay) <= self.prune_at_or_below)
            .map(|(_, key)| key.clone())
            .collect()
    }

    /// Removes trails at or below the pruning level at `now_ms`: the weakest first, so the work is
    /// the number removed. Returns their keys.
    pub fn prune(&mut self, now_ms: u64) -> Vec<K> {
        let decay = self.decay_since_reference(now_ms);
        let mut removed = Vec::new();
        while let Some((stored, key)) = self.order.first().cloned() {
            if Self::read_stored(stored, decay) > self.prune_at_or_below {
                break;
            }
            self.order.pop_first();
            self.stored.remove(&key);
            removed.push(key);
        }
        removed
    }

    /// Every key with a trail stored, faint or not, in key order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.stored.keys()
    }

    /// The `n` strongest trails at `now_ms`, strongest first (equal ones by key); those at or below
    /// the pruning level are left out.
    pub fn top(&self, n: usize, now_ms: u64) -> Vec<(K, Intensity)> {
        let decay = self.decay_since_reference(now_ms);
        let mut strongest: Vec<(K, Intensity)> = Vec::with_capacity(n.min(self.order.len()));
        // Equal stored values are walked from the largest key down; they are re-ordered by key below.
        for (stored, key) in self.order.iter().rev() {
            let intensity = Self::read_stored(*stored, decay);
            if intensity <= self.prune_at_or_below
                || (strongest.len() >= n && strongest.last().is_some_and(|last| last.1 > intensity))
            {
                break;
            }
            strongest.push((key.clone(), intensity));
        }
        strongest.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
        strongest.truncate(n);
        strongest
    }

    /// Brings every trail to `now_ms` (floored to a billionth) and makes that the reference: the
    /// one pass over all trails, needed when the decay since the reference nears 10⁻⁹.
    pub fn rebase(&mut self, now_ms: u64) {
        let decay = self.decay_since_reference(now_ms);
        let reference_ms = match self.decay {
            Decay::Exponential { cycle_ms, .. } => self.origin_ms + (now_ms - self.origin_ms) / cycle_ms * cycle_ms,
            _ => now_ms,
        };
        let mut stored = BTreeMap::new();
        let mut order = BTreeSet::new();
        for (key, value) in std::mem::take(&mut self.stored) {
            let intensity = Self::read_stored(value, decay);
            if intensity > self.prune_at_or_below {
                let value = u128::from(intensity.nanos()) * STORED_PER_NANO;
                order.insert((value, key.clone()));
                stored.insert(key, value);
            }
        }
        self.reference_ms = reference_ms;
        self.stored = stored;
        self.order = order;
    }

    /// Checks that the key index and the order index hold the same trails, under a usable model.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.decay.check()?;
        if matches!(self.decay, Decay::Linear { .. }) || self.cap == Intensity::ZERO || self.cap > TRAIL_CAP_MAX {
            return Err("a trail map holds a linear model or a cap out of range".to_owned());
        }
        if self.reference_ms < self.origin_ms || self.prune_at_or_below >= self.cap {
            return Err("a trail map's reference precedes its origin or it prunes at its cap".to_owned());
        }
        if self.stored.len() != self.order.len() {
            return Err(format!("{} trails but {} in the order", self.stored.len(), self.order.len()));
        }
        for (key, stored) in &self.stored {
            if !self.order.contains(&(*stored, key.clone())) {
                return Err("a trail is missing from the order".to_owned());
            }
        }
        Ok(())
    }
}
