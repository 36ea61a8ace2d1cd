//! Fractions between 0 and 1 in fixed point: confidences, verification scores, scoring weights,
//! reputations.
//!
//! A [`Fraction`] counts millionths (`1.0` is 1,000,000), so every decision that depends on one (who
//! wins an auction, whether a result passes) comes out the same on every machine: no float is ever
//! involved. Six decimals are what the seeds use and more: their scores print with two or three.
//! In JSON a fraction is a decimal string such as `"0.85"` (at most six decimals); a JSON number is
//! refused, because it would pass through a binary float on the way in.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Millionths in one whole.
pub const MICROS_ONE: u32 = 1_000_000;

/// A number in `[0, 1]` with six decimals, held as millionths.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fraction(u32);

impl Fraction {
    /// Zero.
    pub const ZERO: Fraction = Fraction(0);
    /// One.
    pub const ONE: Fraction = Fraction(MICROS_ONE);

    /// The fraction of `micros` millionths; `None` above one.
    pub const fn from_micros(micros: u32) -> Option<Fraction> {
        if micros <= MICROS_ONE { Some(Fraction(micros)) } else { None }
    }

    /// Its millionths.
    pub const fn micros(self) -> u32 {
        self.0
    }

    /// `floor(self × numerator / denominator)` in millionths, for a ratio `numerator / denominator`
    /// at most one. The product is taken in `u128`, so any `u64` operands are exact.
    pub fn of_ratio_floor(self, numerator: u64, denominator: u64) -> u32 {
        assert!(denominator > 0 && numerator <= denominator, "a ratio of at most one");
        let product = u128::from(self.0) * u128::from(numerator) / u128::from(denominator);
        u32::try_from(product).expect("at most the fraction itself")
    }

    /// Parses `0`, `1`, `0.85`, `1.000000`: digits, at most six decimals, at most one.
    pub fn parse(text: &str) -> Result<Fraction, String> {
        let invalid = || format!("'{text}' is not a fraction: use a decimal string from \"0\" to \"1\", e.g. \"0.85\"");
        let (whole, decimals) = text.split_once('.').unwrap_or((text, ""));
        if !matches!(whole, "0" | "1") || (text.contains('.') && decimals.is_empty()) {
            return Err(invalid());
        }
        if decimals.len() > 6 || !decimals.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(format!("'{text}' has more than six decimals or a character that is not a digit"));
        }
        let mut micros: u32 = if whole == "1" { MICROS_ONE } else { 0 };
        let mut scale = MICROS_ONE / 10;
        for digit in decimals.bytes() {
            micros += u32::from(digit - b'0') * scale;
            scale /= 10;
        }
        Fraction::from_micros(micros).ok_or_else(invalid)
    }
}

impl fmt::Display for Fraction {
    /// The shortest decimal that reads back as the same fraction: `0.62`, `1`, `0.000001`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / MICROS_ONE;
        let decimals = self.0 % MICROS_ONE;
        if decimals == 0 {
            return write!(formatter, "{whole}");
        }
        let text = format!("{decimals:06}");
        write!(formatter, "{whole}.{}", text.trim_end_matches('0'))
    }
}

impl fmt::Debug for Fraction {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Fraction({self})")
    }
}

impl Serialize for Fraction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() { serializer.collect_str(self) } else { serializer.serialize_u32(self.0) }
    }
}

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            let micros = u32::deserialize(deserializer)?;
            return Fraction::from_micros(micros).ok_or_else(|| serde::de::Error::custom("a fraction above one"));
        }
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Fraction;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a fraction as a decimal string from \"0\" to \"1\", e.g. \"0.85\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Fraction, E> {
                Fraction::parse(text).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Fraction, E> {
                match value {
                    0 => Ok(Fraction::ZERO),
                    1 => Ok(Fraction::ONE),
                    _ => Err(E::custom("a fraction is at most 1")),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Fraction, E> {
                Err(E::custom("a fraction is between 0 and 1"))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Fraction, E> {
                Err(E::custom("fractions are decimal strings such as \"0.85\", never JSON numbers with decimals"))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl JsonSchema for Fraction {
    fn schema_name() -> Cow<'static, str> {
        "Fraction".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(0(\\.[0-9]{1,6})?|1(\\.0{1,6})?)$",
            "description": "A number from 0 to 1 as a decimal string with at most six decimals, e.g. \"0.85\"."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_shortest_form() {
        for (text, micros, printed) in [
            ("0", 0, "0"),
            ("1", 1_000_000, "1"),
            ("0.85", 850_000, "0.85"),
            ("0.000001", 1, "0.000001"),
            ("1.000000", 1_000_000, "1"),
            ("0.700", 700_000, "0.7"),
        ] {
            let fraction = Fraction::parse(text).unwrap();
            assert_eq!(fraction.micros(), micros, "{text}");
            assert_eq!(fraction.to_string(), printed);
            assert_eq!(Fraction::parse(&fraction.to_string()), Ok(fraction));
        }
        for bad in ["", ".5", "0.", "1.5", "1.0000001", "0.0000001", "2", "-0", "0.5x", "00.5", "0,5", " 0.5"] {
            assert!(Fraction::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn json_takes_strings_and_the_integers_zero_and_one_only() {
        assert_eq!(serde_json::from_str::<Fraction>("\"0.9\"").unwrap().micros(), 900_000);
        assert_eq!(serde_json::from_str::<Fraction>("1").unwrap(), Fraction::ONE);
        assert!(serde_json::from_str::<Fraction>("0.9").is_err());
        assert!(serde_json::from_str::<Fraction>("2").is_err());
        assert_eq!(serde_json::to_string(&Fraction::parse("0.62").unwrap()).unwrap(), "\"0.62\"");
    }

    #[test]
    fn ratios_round_down() {
        let weight = Fraction::parse("0.4").unwrap();
        assert_eq!(weight.of_ratio_floor(5, 10), 200_000);
        assert_eq!(weight.of_ratio_floor(1, 3), 133_333);
        assert_eq!(Fraction::ONE.of_ratio_floor(u64::MAX - 1, u64::MAX), 999_999);
    }
}
