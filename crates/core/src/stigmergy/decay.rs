//! How a pheromone fades with log time, in integers only.
//!
//! Seed 000 multiplies every trail by 0.95 once per whole cycle of 300 s; seed 003 takes 10% of a
//! signal's deposit away per second of its age; a half-life is the continuous form of the first.
//! Each must give the same bits on every machine, so nothing here touches a float: factors are
//! integers on the scale [`FACTOR_ONE`] (10¹⁸), every product is taken in `u128` and floored, and the
//! constants a half-life needs are computed by integer square roots at compile time.
//!
//! Precision, for intensities up to [`DECAY_EXACT_UP_TO`]: the result is the exact value's floor, or
//! one billionth below it (the tests check exact rationals where they fit in 128 bits, and the
//! seeds' own figures: 10.0 under seed 000's model is above 0.01 after 134 cycles and at or below it
//! after 135, a half-life of about 13.5 cycles).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::intensity::Intensity;
use crate::fraction::{Fraction, MICROS_ONE};

/// A decay factor of one: factors are integers on this scale.
pub const FACTOR_ONE: u128 = 1_000_000_000_000_000_000;

/// Intensities up to this many billionths (a million units) decay within one billionth of the exact
/// value; maps cap their intensities far below it.
pub const DECAY_EXACT_UP_TO: u64 = 1_000_000 * super::intensity::NANOS_ONE;

/// `FACTOR_ONE` over a millionth: the scale step from a [`Fraction`] to a factor.
const FACTOR_PER_MICRO: u128 = FACTOR_ONE / MICROS_ONE as u128;

/// Bits of a half-life's fractional exponent that are used (2⁻⁶⁰ of a half-life is far below a
/// millisecond for any half-life a map may have).
const EXPONENT_BITS: usize = 60;

/// `ROOTS[k]` = 2^(−2^−(k+1)) on the factor scale: 2^(−1/2), 2^(−1/4), …, each the floored integer
/// square root of the one before (times `FACTOR_ONE`), so no constant is typed in by hand.
const ROOTS: [u128; EXPONENT_BITS] = {
    let mut roots = [0u128; EXPONENT_BITS];
    roots[0] = (FACTOR_ONE * FACTOR_ONE / 2).isqrt();
    let mut index = 1;
    while index < EXPONENT_BITS {
        roots[index] = (roots[index - 1] * FACTOR_ONE).isqrt();
        index += 1;
    }
    roots
};

/// How a map's intensities fade, chosen when the map is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Decay {
    /// Seed 000's evaporation: multiplied by `retained_per_cycle` once per whole `cycle_ms` elapsed
    /// (the seed: 0.95 per 300,000 ms).
    Exponential {
        /// The share kept at each cycle, above zero and below one.
        retained_per_cycle: Fraction,
        /// The cycle's length in log time.
        cycle_ms: u64,
    },
    /// Seed 003's fading: `max(0, deposit × (1 − lost_per_second × age in seconds))`, the age in
    /// milliseconds (the seed: 0.1 per second, so every signal is gone after 10 s).
    Linear {
        /// The share of the deposit lost per second, above zero.
        lost_per_second: Fraction,
    },
    /// Halved every `half_life_ms`, continuously: `intensity × 2^(−elapsed / half_life)`.
    HalfLife {
        /// The half-life in log time.
        half_life_ms: u64,
    },
}

impl Decay {
    /// Seed 000's model: 0.95 kept per cycle of 300 s.
    pub const SEED_000: Decay = Decay::Exponential {
        retained_per_cycle: match Fraction::from_micros(950_000) {
            Some(fraction) => fraction,
            None => unreachable!(),
        },
        cycle_ms: 300_000,
    };

    /// Seed 003's model: 10% of the deposit lost per second.
    pub const SEED_003: Decay = Decay::Linear {
        lost_per_second: match Fraction::from_micros(100_000) {
            Some(fraction) => fraction,
            None => unreachable!(),
        },
    };

    /// Why the model cannot be used, if it cannot: a factor of zero or one, or a zero period.
    pub fn check(&self) -> Result<(), &'static str> {
        match *self {
            Decay::Exponential { retained_per_cycle, cycle_ms } => {
                if retained_per_cycle == Fraction::ZERO || retained_per_cycle == Fraction::ONE {
                    return Err("retained_per_cycle must be above 0 and below 1");
                }
                if cycle_ms == 0 {
                    return Err("cycle_ms must be at least 1");
                }
            }
            Decay::Linear { lost_per_second } => {
                if lost_per_second == Fraction::ZERO {
                    return Err("lost_per_second must be above 0");
                }
            }
            Decay::HalfLife { half_life_ms } => {
                if half_life_ms == 0 {
                    return Err("half_life_ms must be at least 1");
                }
            }
        }
        Ok(())
    }

    /// What `intensity` has become `elapsed_ms` of log time later. Never more than `intensity`, and
    /// never more for a longer time. Panics on a model that fails [`Decay::check`] (a bug: models are
    /// checked when a map is created).
    pub fn decayed(&self, intensity: Intensity, elapsed_ms: u64) -> Intensity {
        self.check().expect("decay models are checked when their map is created");
        let nanos = u128::from(intensity.nanos());
        let decayed = match *self {
            Decay::Exponential { retained_per_cycle, cycle_ms } => {
                let factor = power(u128::from(retained_per_cycle.micros()) * FACTOR_PER_MICRO, elapsed_ms / cycle_ms);
                nanos * factor / FACTOR_ONE
            }
            Decay::Linear { lost_per_second } => {
                // Kept share on the scale of millionths per second times milliseconds (10⁹).
                let whole = u128::from(MICROS_ONE) * 1_000;
                let lost = u128::from(lost_per_second.micros()) * u128::from(elapsed_ms);
                nanos * whole.saturating_sub(lost) / whole
            }
            Decay::HalfLife { half_life_ms } => {
                let halvings = elapsed_ms / half_life_ms;
                if halvings >= 64 {
                    0
                } else {
                    let rest = u128::from(elapsed_ms % half_life_ms);
                    let bits = (rest << EXPONENT_BITS) / u128::from(half_life_ms);
                    let factor = fractional_halving(bits);
                    nanos * factor / (FACTOR_ONE << halvings)
                }
            }
        };
        Intensity::from_nanos(u64::try_from(decayed).expect("never more than the intensity"))
    }
}

/// `base^exponent` on the factor scale (`base` at most `FACTOR_ONE`), by squaring, each product
/// floored.
fn power(base: u128, exponent: u64) -> u128 {
    let (mut result, mut square, mut exponent) = (FACTOR_ONE, base, exponent);
    while exponent > 0 && result > 0 {
        if exponent & 1 == 1 {
            result = result * square / FACTOR_ONE;
        }
        exponent >>= 1;
        if exponent > 0 {
            square = square * square / FACTOR_ONE;
        }
    }
    result
}

/// 2^(−bits / 2^60) on the factor scale: the product of the roots named by the bits, the largest
/// first.
fn fractional_halving(bits: u128) -> u128 {
    let mut factor = FACTOR_ONE;
    for (index, root) in ROOTS.iter().enumerate() {
        if bits >> (EXPONENT_BITS - 1 - index) & 1 == 1 {
            factor = factor * root / FACTOR_ONE;
        }
    }
    factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roots_are_the_powers_of_two_they_name() {
        // 2^(−1/2) = 0.70710678118654752440…; 2^(−1/4) = 0.84089641525371454303…
        // Each is floored from a floored one: within a unit of the last place.
        assert!(ROOTS[0].abs_diff(707_106_781_186_547_524) <= 1);
        assert!(ROOTS[1].abs_diff(840_896_415_253_714_543) <= 1);
        for window in ROOTS.windows(2) {
            assert!(window[0] < window[1] && window[1] < FACTOR_ONE);
            let squared = window[1] * window[1] / FACTOR_ONE;
            assert!(squared.abs_diff(window[0]) <= 2, "each root squared is the one before it");
        }
    }

    #[test]
    fn powers_by_squaring_match_repeated_multiplication() {
        let base = 950_000 * FACTOR_PER_MICRO;
        let mut repeated = FACTOR_ONE;
        for exponent in 0..200u64 {
            let squared = power(base, exponent);
            assert!(squared.abs_diff(repeated) <= 200, "0.95^{exponent}: {squared} against {repeated}");
            repeated = repeated * base / FACTOR_ONE;
        }
    }
}
