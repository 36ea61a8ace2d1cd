//! Money: integer minor units, checked arithmetic, and the fee rounding rule.
//!
//! An [`Amount`] is a count of minor units in a `u64`. Colony does not fix what a unit is worth; the
//! convention in the docs and the demo is 1 unit = 1,000,000 minor units (six decimals, like USDC),
//! so `"1500000"` is 1.50. In JSON an amount is a string of decimal digits: JSON numbers above 2^53
//! lose precision in JavaScript clients, and a string cannot. (A JSON integer is also accepted on
//! input when it is at most 2^53 − 1, where no client can have lost precision.)
//!
//! There is no float anywhere near a balance. Sums across accounts use `u128`, which cannot overflow
//! for any number of `u64` amounts the limits allow.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of money in minor units.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub u64);

/// Basis points (1/10,000) in `0..=10_000`.
pub const BASIS_POINTS_ONE: u64 = 10_000;

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// The amount in minor units.
    pub fn minor_units(self) -> u64 {
        self.0
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// `self − other`, or `None` when it would go below zero.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// `floor(self × basis_points / 10,000)`. Never overflows (the product is computed in `u128`
    /// and the result is at most `self`).
    pub fn share_floor(self, basis_points: u16) -> Amount {
        assert!(u64::from(basis_points) <= BASIS_POINTS_ONE, "basis points are at most 10,000");
        let product = u128::from(self.0) * u128::from(basis_points);
        Amount(u64::try_from(product / u128::from(BASIS_POINTS_ONE)).expect("a share is at most the whole"))
    }
}

/// How a released amount is divided: what the payee, the fee account and the referrer get.
///
/// The rounding rule: `fee = floor(amount × fee_bps / 10,000)`, `referral = floor(fee × referral_bps
/// / 10,000)`; the payee gets `amount − fee` and the fee account `fee − referral`. Rounding down both
/// times favours the worker (payee) and then the swarm (fee account) over the referrer; the three
/// parts always add up to the amount exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeSplit {
    /// What the payee receives.
    pub payee: Amount,
    /// What the fee account receives.
    pub fees: Amount,
    /// What the referrer receives (zero when there is none).
    pub referral: Amount,
}

impl FeeSplit {
    /// Splits `amount` with a fee of `fee_bps` of which `referral_bps` goes to a referrer (when
    /// `has_referrer`; otherwise the whole fee goes to the fee account).
    pub fn compute(amount: Amount, fee_bps: u16, referral_bps: u16, has_referrer: bool) -> FeeSplit {
        let fee = amount.share_floor(fee_bps);
        let referral = if has_referrer { fee.share_floor(referral_bps) } else { Amount::ZERO };
        let split = FeeSplit {
            payee: amount.checked_sub(fee).expect("fee ≤ amount"),
            fees: fee.checked_sub(referral).expect("referral ≤ fee"),
            referral,
        };
        assert_eq!(
            u128::from(split.payee.0) + u128::from(split.fees.0) + u128::from(split.referral.0),
            u128::from(amount.0),
            "a split adds up to the amount"
        );
        split
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Amount({})", self.0)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() { serializer.collect_str(&self.0) } else { serializer.serialize_u64(self.0) }
    }
}

/// The largest integer a JSON number can carry exactly in every client.
const JSON_SAFE_INTEGER_MAX: u64 = (1 << 53) - 1;

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return u64::deserialize(deserializer).map(Amount);
        }
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Amount;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an amount in minor units as a string of decimal digits, e.g. \"1500000\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Amount, E> {
                if text.is_empty() || text.len() > 20 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
                    return Err(E::custom(format!(
                        "'{text}' is not an amount: use decimal digits only, e.g. \"1500000\""
                    )));
                }
                text.parse::<u64>()
                    .map(Amount)
                    .map_err(|_| E::custom(format!("'{text}' exceeds the largest amount {}", u64::MAX)))
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Amount, E> {
                if value > JSON_SAFE_INTEGER_MAX {
                    return Err(E::custom("amounts above 2^53 - 1 must be strings, as JSON numbers lose precision"));
                }
                Ok(Amount(value))
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Amount, E> {
                u64::try_from(value)
                    .map_err(|_| E::custom("amounts cannot be negative"))
                    .and_then(|value| self.visit_u64(value))
            }
            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Amount, E> {
                // JSON parsers hand integers too large for u64 over as floats.
                if value.fract() == 0.0 && value >= JSON_SAFE_INTEGER_MAX as f64 {
                    Err(E::custom(
                        "amounts are integers of minor units up to 18446744073709551615; above 2^53 - 1 they must be strings of digits",
                    ))
                } else {
                    Err(E::custom("amounts are non-negative integers of minor units, never fractions or exponents"))
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_rounding_at_the_edges() {
        // One minor unit: the fee rounds down to zero, the payee gets everything.
        assert_eq!(
            FeeSplit::compute(Amount(1), 100, 1_500, true),
            FeeSplit { payee: Amount(1), fees: Amount(0), referral: Amount(0) }
        );
        // 99 units at 1%: fee floor(0.99) = 0.
        assert_eq!(FeeSplit::compute(Amount(99), 100, 1_500, true).payee, Amount(99));
        // 1,000,000 at 1% with 15% referral: 990,000 / 8,500 / 1,500.
        assert_eq!(
            FeeSplit::compute(Amount(1_000_000), 100, 1_500, true),
            FeeSplit { payee: Amount(990_000), fees: Amount(8_500), referral: Amount(1_500) }
        );
        // An amount that does not divide: 12,345 → fee 123, referral floor(18.45) = 18.
        assert_eq!(
            FeeSplit::compute(Amount(12_345), 100, 1_500, true),
            FeeSplit { payee: Amount(12_222), fees: Amount(105), referral: Amount(18) }
        );
        // Without a referrer, the whole fee goes to the fee account.
        assert_eq!(FeeSplit::compute(Amount(12_345), 100, 1_500, false).fees, Amount(123));
        // The largest amount: no overflow, parts add up.
        let split = FeeSplit::compute(Amount(u64::MAX), 10_000, 10_000, true);
        assert_eq!(split.payee, Amount(0));
        assert_eq!(split.referral, Amount(u64::MAX));
        let split = FeeSplit::compute(Amount(u64::MAX), 100, 1_500, true);
        assert_eq!(split.payee.0 as u128 + split.fees.0 as u128 + split.referral.0 as u128, u64::MAX as u128);
    }
}
