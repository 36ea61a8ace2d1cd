//! `u128` counts as decimal strings in JSON, like amounts: sums of `u64` weights pass 2^53, beyond
//! which a JSON number is not exact in every reader. Binary formats keep the integer.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// For a `u128` field: `#[serde(with = "wide")]` with `#[schemars(with = "String")]`.
pub(crate) fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() { serializer.collect_str(value) } else { value.serialize(serializer) }
}

/// Reads what [`serialize`] writes.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
    if !deserializer.is_human_readable() {
        return u128::deserialize(deserializer);
    }
    let text = String::deserialize(deserializer)?;
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) || (text.len() > 1 && text.starts_with('0')) {
        return Err(D::Error::custom(format!("'{text}' is not a count: decimal digits without leading zeros")));
    }
    text.parse().map_err(|_| D::Error::custom(format!("'{text}' is above 2^128 - 1")))
}

/// The same for a `Vec<u128>`.
pub(crate) mod list {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(serde::Serialize, Deserialize)]
    #[serde(transparent)]
    struct Count(#[serde(with = "super")] u128);

    pub(crate) fn serialize<S: Serializer>(values: &[u128], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(|&value| Count(value)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u128>, D::Error> {
        Ok(Vec::<Count>::deserialize(deserializer)?.into_iter().map(|count| count.0).collect())
    }
}
