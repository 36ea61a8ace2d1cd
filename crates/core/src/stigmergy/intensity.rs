//! A pheromone's strength, in fixed point.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Billionths in one unit of intensity.
pub const NANOS_ONE: u64 = 1_000_000_000;

/// Decimals an intensity keeps: nine, so that seed 000's pruning level (0.01) and seed 003's
/// smallest deposits (0.8) are exact, and a deposit decayed over hundreds of cycles keeps seven
/// significant digits before it is pruned.
pub const INTENSITY_DECIMALS: usize = 9;

/// Whole digits an intensity's text may have: ten, so that every text the schema allows fits in
/// the billionths a `u64` holds (9,999,999,999.999999999 < 18,446,744,073.7) and a valid-looking
/// number is never refused for overflow. Far above any cap a map may set (100).
pub const INTENSITY_WHOLE_DIGITS_MAX: usize = 10;
const _: () = assert!(9_999_999_999u64.checked_mul(NANOS_ONE).unwrap().checked_add(NANOS_ONE - 1).is_some());

/// A non-negative intensity with nine decimals, held as billionths: at most about 18.4 billion
/// units, far above any cap a map may set. In JSON a decimal string (`"10"`, `"0.01"`); a JSON number
/// is refused, because it would pass through a binary float on the way in.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Intensity(u64);

impl Intensity {
    /// Nothing left.
    pub const ZERO: Intensity = Intensity(0);

    /// The intensity of `nanos` billionths.
    pub const fn from_nanos(nanos: u64) -> Intensity {
        Intensity(nanos)
    }

    /// `units` whole units; `None` beyond the range.
    pub const fn from_units(units: u64) -> Option<Intensity> {
        match units.checked_mul(NANOS_ONE) {
            Some(nanos) => Some(Intensity(nanos)),
            None => None,
        }
    }

    /// Its billionths.
    pub const fn nanos(self) -> u64 {
        self.0
    }

    /// `min(cap, self + deposit)`: seed 000's deposit, which never overflows.
    pub fn deposit_capped(self, deposit: Intensity, cap: Intensity) -> Intensity {
        Intensity(self.0.saturating_add(deposit.0).min(cap.0))
    }

    /// Parses `10`, `0.01`, `2.500000000`: at most ten digits, at most nine decimals.
    pub fn parse(text: &str) -> Result<Intensity, String> {
        let invalid = || format!("'{text}' is not an intensity: use a decimal string such as \"1.5\"");
        let (whole, decimals) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || !whole.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(invalid());
        }
        if whole.len() > INTENSITY_WHOLE_DIGITS_MAX {
            return Err(format!("'{text}' has more than {INTENSITY_WHOLE_DIGITS_MAX} digits before the point"));
        }
        if text.contains('.') && decimals.is_empty() {
            return Err(invalid());
        }
        if decimals.len() > INTENSITY_DECIMALS || !decimals.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(format!("'{text}' has more than nine decimals or a character that is not a digit"));
        }
        let whole: u64 = whole.parse().map_err(|_| invalid())?;
        // Ten digits times a billion stays below u64::MAX, so neither this nor the sum below overflows.
        let mut nanos = whole * NANOS_ONE;
        let mut scale = NANOS_ONE / 10;
        for digit in decimals.bytes() {
            nanos += u64::from(digit - b'0') * scale;
            scale /= 10;
        }
        Ok(Intensity(nanos))
    }
}

impl fmt::Display for Intensity {
    /// The shortest decimal that reads back as the same intensity: `10`, `0.0098`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / NANOS_ONE;
        let decimals = self.0 % NANOS_ONE;
        if decimals == 0 {
            return write!(formatter, "{whole}");
        }
        let text = format!("{decimals:09}");
        write!(formatter, "{whole}.{}", text.trim_end_matches('0'))
    }
}

impl fmt::Debug for Intensity {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

impl Serialize for Intensity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() { serializer.collect_str(self) } else { serializer.serialize_u64(self.0) }
    }
}

impl<'de> Deserialize<'de> for Intensity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Intensity, D::Error> {
        if deserializer.is_human_readable() {
            let text = Cow::<str>::deserialize(deserializer)?;
            Intensity::parse(&text).map_err(serde::de::Error::custom)
        } else {
            u64::deserialize(deserializer).map(Intensity)
        }
    }
}

impl JsonSchema for Intensity {
    fn schema_name() -> Cow<'static, str> {
        "Intensity".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]{1,10}(\\.[0-9]{1,9})?$",
            "description": "A non-negative decimal with at most ten digits before the point and nine after, as a string.",
            "examples": ["10", "0.01"]
        })
    }
}
