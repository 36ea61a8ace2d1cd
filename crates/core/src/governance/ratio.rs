//! Exact rationals from 0 to 1: vote shares, thresholds and quorum shares.
//!
//! A [`Ratio`] keeps its numerator and denominator as they were counted (weights summed in `u128`),
//! unreduced, and compares by cross-multiplication in 256 bits, so no comparison can overflow or
//! round, whatever the weights. The one rounding is [`Ratio::thousandths_half_up`], for display.

use std::cmp::Ordering;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::fraction::{Fraction, MICROS_ONE};

/// A rational number in `[0, 1]`: `numerator / denominator`, `denominator > 0`, never reduced.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RatioParts", deny_unknown_fields)]
pub struct Ratio {
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    numerator: u128,
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    denominator: u128,
}

/// A ratio as it arrives, before [`Ratio::new`] checks it.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Ratio", description = "An exact rational from 0 to 1: numerator <= denominator, denominator > 0.")]
struct RatioParts {
    /// At most the denominator.
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    numerator: u128,
    /// Above zero.
    #[serde(with = "super::wide")]
    #[schemars(with = "String")]
    denominator: u128,
}

impl TryFrom<RatioParts> for Ratio {
    type Error = String;

    fn try_from(parts: RatioParts) -> Result<Ratio, String> {
        Ratio::new(parts.numerator, parts.denominator)
            .ok_or_else(|| "a ratio needs 0 <= numerator <= denominator and denominator > 0".to_owned())
    }
}

impl Ratio {
    /// Zero.
    pub const ZERO: Ratio = Ratio { numerator: 0, denominator: 1 };
    /// One.
    pub const ONE: Ratio = Ratio { numerator: 1, denominator: 1 };
    /// One half: the line a plurality must pass.
    pub const HALF: Ratio = Ratio { numerator: 1, denominator: 2 };
    /// Two thirds, exactly.
    pub const TWO_THIRDS: Ratio = Ratio { numerator: 2, denominator: 3 };

    /// `numerator / denominator`; `None` unless `denominator > 0` and the ratio is at most one.
    pub const fn new(numerator: u128, denominator: u128) -> Option<Ratio> {
        if denominator > 0 && numerator <= denominator { Some(Ratio { numerator, denominator }) } else { None }
    }

    /// The fraction's millionths over a million: `0.667` is `667000 / 1000000`, not two thirds.
    pub fn from_fraction(fraction: Fraction) -> Ratio {
        Ratio { numerator: u128::from(fraction.micros()), denominator: u128::from(MICROS_ONE) }
    }

    /// The numerator, as counted.
    pub const fn numerator(self) -> u128 {
        self.numerator
    }

    /// The denominator, as counted.
    pub const fn denominator(self) -> u128 {
        self.denominator
    }

    /// The ratio in thousandths, rounded half up on the exact rational: the `k` in `0..=1000` with
    /// `(2k − 1) / 2000 <= self < (2k + 1) / 2000`. So `2/3` is 667, `1/8` is 125, `1/2000` is 1 and
    /// `1/2001` is 0.
    pub fn thousandths_half_up(self) -> u16 {
        // The largest k whose lower bound (2k − 1) / 2000 the ratio reaches; k = 0 always qualifies.
        // A binary search on exact comparisons, so no division of the (possibly huge) parts rounds.
        let reaches = |k: u16| {
            let lower = Ratio { numerator: 2 * u128::from(k) - 1, denominator: 2000 };
            self >= lower
        };
        let (mut low, mut high) = (0u16, 1000u16);
        while low < high {
            let middle = (low + high).div_ceil(2);
            if reaches(middle) { low = middle } else { high = middle - 1 }
        }
        low
    }

    /// [`Ratio::thousandths_half_up`] as a decimal with three places: `"0.667"`, `"1.000"`.
    pub fn three_decimals(self) -> String {
        let thousandths = self.thousandths_half_up();
        format!("{}.{:03}", thousandths / 1000, thousandths % 1000)
    }
}

impl PartialEq for Ratio {
    fn eq(&self, other: &Ratio) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ratio {}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Ratio) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    /// By value (`1/2 == 2/4`): `a/b` against `c/d` is `a·d` against `c·b`, in 256 bits.
    fn cmp(&self, other: &Ratio) -> Ordering {
        wide_product(self.numerator, other.denominator).cmp(&wide_product(other.numerator, self.denominator))
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.numerator, self.denominator)
    }
}

/// The exact product of two `u128`s as (high, low) halves of a 256-bit number, which compare as a
/// tuple in the number's order.
pub(crate) fn wide_product(left: u128, right: u128) -> (u128, u128) {
    const LOW: u128 = u64::MAX as u128;
    let (left_high, left_low) = (left >> 64, left & LOW);
    let (right_high, right_low) = (right >> 64, right & LOW);
    // Each partial product of two 64-bit halves fits in 128 bits.
    let low_low = left_low * right_low;
    let low_high = left_low * right_high;
    let high_low = left_high * right_low;
    let high_high = left_high * right_high;
    // The middle 64-bit column with its carries: at most 3 · (2^64 − 1), so it fits too.
    let middle = (low_low >> 64) + (low_high & LOW) + (high_low & LOW);
    let low = (low_low & LOW) | (middle << 64);
    let high = high_high + (low_high >> 64) + (high_low >> 64) + (middle >> 64);
    (high, low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_products_are_exact() {
        assert_eq!(wide_product(u128::MAX, u128::MAX), (u128::MAX - 1, 1));
        assert_eq!(wide_product(u128::MAX, 2), (1, u128::MAX - 1));
        assert_eq!(wide_product(1 << 64, 1 << 64), (1, 0));
        assert_eq!(wide_product(12_345, 678_910), (0, 12_345 * 678_910));
    }

    #[test]
    fn ratios_compare_by_value_without_overflow() {
        let big = Ratio::new(u128::MAX - 1, u128::MAX).unwrap();
        assert!(big < Ratio::ONE);
        assert!(Ratio::new(u128::MAX / 2, u128::MAX).unwrap() < Ratio::HALF);
        assert!(Ratio::new(u128::MAX / 2 + 1, u128::MAX).unwrap() > Ratio::HALF);
        assert_eq!(Ratio::new(2, 4).unwrap(), Ratio::HALF);
        assert!(Ratio::new(3, 2).is_none());
        assert!(Ratio::new(0, 0).is_none());
    }
}
