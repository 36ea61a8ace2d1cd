//! The key a trail is deposited under.

use std::borrow::Cow;
use std::fmt;

use compact_str::CompactString;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::IdError;
use crate::limits;

/// The bytes a key may hold, as a regular-expression class (the schema's; a test holds it equal to
/// the validator).
pub const SIGNAL_KEY_CLASS: &str = "[A-Za-z0-9_.:-]";

/// A trail's key: `BTC:long:momentum`, `task-17:claimed`. The seeds write market symbols in upper
/// case and separate a key's parts with `:`, which names refuse, so keys have an alphabet of their
/// own: ASCII letters of both cases, digits, `:`, `_`, `-` and `.`, 1 to
/// [`limits::SIGNAL_KEY_BYTES_MAX`] bytes. Two keys differing only by case are two trails.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct SignalKey(CompactString);

impl SignalKey {
    /// Validates `text` as a key.
    pub fn new(text: impl AsRef<str>) -> Result<SignalKey, IdError> {
        let text = text.as_ref();
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        if text.len() > limits::SIGNAL_KEY_BYTES_MAX {
            return Err(IdError::TooLong { max: limits::SIGNAL_KEY_BYTES_MAX });
        }
        if !text.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b':' | b'_' | b'-' | b'.')) {
            return Err(IdError::InvalidKeyCharacter);
        }
        Ok(SignalKey(CompactString::new(text)))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SignalKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::str::FromStr for SignalKey {
    type Err = IdError;
    fn from_str(text: &str) -> Result<SignalKey, IdError> {
        SignalKey::new(text)
    }
}

impl Serialize for SignalKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SignalKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SignalKey, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        SignalKey::new(&*text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for SignalKey {
    fn schema_name() -> Cow<'static, str> {
        "SignalKey".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": format!("^{SIGNAL_KEY_CLASS}{{1,{}}}$", limits::SIGNAL_KEY_BYTES_MAX),
            "description": "A pheromone trail's key: ASCII letters of both cases, digits, ':', '_', '-' and '.'.",
            "examples": ["BTC:long:momentum"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_keys_are_keys_and_the_schema_alphabet_is_the_validators() {
        for key in ["BTC:long:momentum", "task-17:claimed", "eth_usd.v2"] {
            assert_eq!(SignalKey::new(key).expect("a seed's key").as_str(), key);
        }
        let class: Vec<u8> =
            (0..=127u8).filter(|byte| byte.is_ascii_alphanumeric() || b":_-.".contains(byte)).collect();
        for byte in 0..=127u8 {
            let text = char::from(byte).to_string();
            assert_eq!(SignalKey::new(&text).is_ok(), class.contains(&byte), "{text:?}");
        }
        assert_eq!(SIGNAL_KEY_CLASS, "[A-Za-z0-9_.:-]");
        assert_eq!(SignalKey::new(""), Err(IdError::Empty));
        let longest = "k".repeat(limits::SIGNAL_KEY_BYTES_MAX);
        assert!(SignalKey::new(&longest).is_ok());
        assert!(SignalKey::new(format!("{longest}k")).is_err());
        let refused = serde_json::from_str::<SignalKey>("\"BTC long\"").expect_err("a space is not in a key");
        assert!(refused.to_string().contains("letters of either case"), "the key's own alphabet: {refused}");
    }
}
