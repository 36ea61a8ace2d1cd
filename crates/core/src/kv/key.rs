//! The key a value is stored under.

use std::borrow::Cow;
use std::fmt;

use compact_str::CompactString;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::IdError;
use crate::limits;

/// The bytes a key may hold, as a regular-expression class (the schema's; a test holds it equal to
/// the validator).
pub const STORE_KEY_CLASS: &str = "[A-Za-z0-9_.:/-]";

/// A key in the shared store: `pipeline/stage-2/config`, `BTC:position`. A signal key's alphabet
/// (ASCII letters of both cases, digits, `:`, `_`, `-`, `.`) and `/`, so that keys can be paths read
/// by prefix; 1 to [`limits::KV_KEY_BYTES_MAX`] bytes. Keys are ordered by their bytes, which is the
/// order of a range read.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct StoreKey(CompactString);

impl StoreKey {
    /// Validates `text` as a key.
    pub fn new(text: impl AsRef<str>) -> Result<StoreKey, IdError> {
        let text = text.as_ref();
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        if text.len() > limits::KV_KEY_BYTES_MAX {
            return Err(IdError::TooLong { max: limits::KV_KEY_BYTES_MAX });
        }
        if !text.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b':' | b'_' | b'-' | b'.' | b'/')) {
            return Err(IdError::InvalidStoreKeyCharacter);
        }
        Ok(StoreKey(CompactString::new(text)))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: a key has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for StoreKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A key compares, orders and hashes as its text, so a map of keys can be ranged by a text prefix.
impl std::borrow::Borrow<str> for StoreKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for StoreKey {
    type Err = IdError;
    fn from_str(text: &str) -> Result<StoreKey, IdError> {
        StoreKey::new(text)
    }
}

impl Serialize for StoreKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for StoreKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StoreKey, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        StoreKey::new(&*text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for StoreKey {
    fn schema_name() -> Cow<'static, str> {
        "StoreKey".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": format!("^{STORE_KEY_CLASS}{{1,{}}}$", limits::KV_KEY_BYTES_MAX),
            "description": "A key in the shared store: ASCII letters of both cases, digits, ':', '_', '-', '.' and '/'.",
            "examples": ["pipeline/stage-2/config"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_keys_and_the_schema_alphabet_is_the_validators() {
        for key in ["pipeline/stage-2/config", "BTC:position", "a", "agents/scout_1.v2"] {
            assert_eq!(StoreKey::new(key).expect("a key").as_str(), key);
        }
        let class: Vec<u8> =
            (0..=127u8).filter(|byte| byte.is_ascii_alphanumeric() || b":_-./".contains(byte)).collect();
        for byte in 0..=127u8 {
            let text = char::from(byte).to_string();
            assert_eq!(StoreKey::new(&text).is_ok(), class.contains(&byte), "{text:?}");
        }
        assert_eq!(STORE_KEY_CLASS, "[A-Za-z0-9_.:/-]");
        assert_eq!(StoreKey::new(""), Err(IdError::Empty));
        let longest = "k".repeat(limits::KV_KEY_BYTES_MAX);
        assert!(StoreKey::new(&longest).is_ok());
        assert!(StoreKey::new(format!("{longest}k")).is_err());
        let refused = serde_json::from_str::<StoreKey>("\"a b\"").expect_err("a space is not in a key");
        assert!(refused.to_string().contains("'.' and '/'"), "the key's own alphabet: {refused}");
    }
}
