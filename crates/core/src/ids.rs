//! Identifiers and keys: the names state is keyed by, validated once at the boundary.

use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits;

/// The reserved signer name of the operator. No agent may take it.
pub const OPERATOR_NAME: &str = "operator";

/// Names that mean the server itself or a kind of reader in statistics, logs and metrics
/// (`read-token` labels what bearer-token readers hold together): an agent taking one would be
/// mistaken for them, or share their quotas.
pub const RESERVED_AGENT_IDS: &[&str] = &[OPERATOR_NAME, "read-token", "colony", "server", "system", "anonymous"];

/// An agent's id: 1 to 64 bytes of lowercase ASCII letters, digits, `-` and `_`, starting with a
/// letter or digit.
///
/// Dots are excluded because ids are embedded in dotted subjects (`agent.<id>.inbox`); uppercase is
/// excluded so that two ids never differ only by case in URLs and logs.
///
/// Held inline (up to 24 bytes, no allocation): a million escrows name two agents each, and with
/// ids on the heap each of those names cost an allocation of its own (see `Ledger::escrows` for
/// what this and boxed escrows save, measured by `colony-bench scale`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgentId(CompactString);

impl AgentId {
    /// Validates `text` as an agent id.
    pub fn new(text: impl Into<String>) -> Result<AgentId, IdError> {
        AgentId::from_text(&text.into())
    }

    fn from_text(text: &str) -> Result<AgentId, IdError> {
        validate_name(text, limits::AGENT_ID_BYTES_MAX)?;
        if RESERVED_AGENT_IDS.contains(&text) {
            return Err(IdError::Reserved);
        }
        Ok(AgentId(CompactString::new(text)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Below every valid id (it is empty): the lower bound of a range over keys that start with an
    /// id. Never an agent's id.
    pub(crate) fn below_all() -> AgentId {
        AgentId(CompactString::const_new(""))
    }
}

impl TryFrom<String> for AgentId {
    type Error = IdError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        AgentId::new(text)
    }
}

impl From<AgentId> for String {
    fn from(id: AgentId) -> String {
        id.0.into_string()
    }
}

impl Serialize for AgentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AgentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor { expecting: "an agent id", parse: AgentId::from_text })
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for AgentId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "AgentId({})", self.0)
    }
}

/// A role or capability name: the same alphabet as agent ids, plus `.` and `:` so that capabilities can
/// be namespaced (`dex.scan`, `price:feed`).
///
/// Held inline up to 24 bytes, as [`AgentId`] is.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Name(CompactString);

impl Name {
    /// Below every valid name (it is empty): the lower bound of a range over keys that continue with
    /// a name. Never a valid name.
    pub(crate) fn below_all() -> Name {
        Name(CompactString::const_new(""))
    }

    /// Validates `text` as a role or capability name.
    pub fn new(text: impl Into<String>) -> Result<Name, IdError> {
        Name::from_text(&text.into())
    }

    fn from_text(text: &str) -> Result<Name, IdError> {
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        if text.len() > limits::NAME_BYTES_MAX {
            return Err(IdError::TooLong { max: limits::NAME_BYTES_MAX });
        }
        let valid = text.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'-' | b'_' | b'.' | b':')
        });
        if !valid {
            return Err(IdError::InvalidCharacter);
        }
        Ok(Name(CompactString::new(text)))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = IdError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Name::new(text)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0.into_string()
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor { expecting: "a name", parse: Name::from_text })
    }
}

/// Validates text as it is decoded, borrowed where the format allows, so that an id costs no
/// allocation on its way in (the string serde would otherwise make first).
struct TextVisitor<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, IdError>,
}

impl<T> serde::de::Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.expecting)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        (self.parse)(text).map_err(E::custom)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

fn validate_name(text: &str, bytes_max: usize) -> Result<(), IdError> {
    let Some(first) = text.bytes().next() else {
        return Err(IdError::Empty);
    };
    if text.len() > bytes_max {
        return Err(IdError::TooLong { max: bytes_max });
    }
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Err(IdError::InvalidCharacter);
    }
    let valid =
        text.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_');
    if !valid {
        return Err(IdError::InvalidCharacter);
    }
    Ok(())
}

/// Why a piece of text is not a valid id or name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdError {
    /// The text is empty.
    Empty,
    /// The text is longer than allowed.
    TooLong {
        /// The largest length allowed, in bytes.
        max: usize,
    },
    /// The text holds a character outside the allowed alphabet.
    InvalidCharacter,
    /// A signal key holds a character outside its alphabet (wider than names': upper case too).
    InvalidKeyCharacter,
    /// A key-value store's key holds a character outside its alphabet (a signal key's, and `/`).
    InvalidStoreKeyCharacter,
    /// The text is a name reserved by Colony.
    Reserved,
}

impl fmt::Display for IdError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Empty => formatter.write_str("must not be empty"),
            IdError::TooLong { max } => write!(formatter, "must be at most {max} bytes"),
            IdError::InvalidCharacter => formatter.write_str(
                "may hold only lowercase ASCII letters, digits, '-' and '_' (names also '.' and ':'), starting with a letter or digit",
            ),
            IdError::InvalidKeyCharacter => {
                formatter.write_str("may hold only ASCII letters of either case, digits, ':', '_', '-' and '.'")
            }
            IdError::InvalidStoreKeyCharacter => formatter
                .write_str("may hold only ASCII letters of either case, digits, ':', '_', '-', '.' and '/'"),
            IdError::Reserved => {
                write!(formatter, "is reserved (reserved ids: {})", RESERVED_AGENT_IDS.join(", "))
            }
        }
    }
}

impl std::error::Error for IdError {}

/// Who signed an envelope: the operator, or a (possibly not yet registered) agent.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Signer {
    /// The swarm's operator, whose key is fixed at genesis.
    Operator,
    /// An agent, by id.
    Agent(AgentId),
}

impl Signer {
    /// Parses `operator` or an agent id.
    pub fn parse(text: &str) -> Result<Signer, IdError> {
        if text == OPERATOR_NAME { Ok(Signer::Operator) } else { AgentId::new(text).map(Signer::Agent) }
    }

    /// The agent id, unless the signer is the operator.
    pub fn agent(&self) -> Option<&AgentId> {
        match self {
            Signer::Operator => None,
            Signer::Agent(id) => Some(id),
        }
    }
}

impl fmt::Display for Signer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::Operator => formatter.write_str(OPERATOR_NAME),
            Signer::Agent(id) => formatter.write_str(id.as_str()),
        }
    }
}

impl Serialize for Signer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Signer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Signer::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Declares a fixed-size byte string that is hex text in human-readable formats (JSON) and raw bytes
/// in binary ones (snapshots), so that JSON stays readable and snapshots stay compact.
macro_rules! fixed_bytes {
    ($(#[$meta:meta])* $name:ident, $length:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $length]);

        impl $name {
            /// The length in bytes.
            pub const LENGTH: usize = $length;

            /// Parses lowercase or uppercase hex of exactly the right length.
            pub fn from_hex(text: &str) -> Result<Self, hex::FromHexError> {
                let mut bytes = [0u8; $length];
                hex::decode_to_slice(text, &mut bytes)?;
                Ok($name(bytes))
            }

            /// Lowercase hex.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    serializer.serialize_str(&self.to_hex())
                } else {
                    serializer.serialize_bytes(&self.0)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                if deserializer.is_human_readable() {
                    let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
                    $name::from_hex(&text).map_err(|error| {
                        serde::de::Error::custom(format!("expected {} hex characters: {error}", $length * 2))
                    })
                } else {
                    let bytes: &[u8] = <&[u8]>::deserialize(deserializer)?;
                    let array: [u8; $length] = bytes
                        .try_into()
                        .map_err(|_| serde::de::Error::invalid_length(bytes.len(), &stringify!($length)))?;
                    Ok($name(array))
                }
            }
        }
    };
}

fixed_bytes!(
    /// An Ed25519 public key (32 bytes). Core compares keys; it never verifies signatures.
    PublicKey,
    32
);

fixed_bytes!(
    /// A SHA-256 digest, used for the state hash and for read-token fingerprints.
    Digest,
    32
);

fixed_bytes!(
    /// An Ed25519 signature (64 bytes). Core stores signatures that travel with messages; receivers
    /// verify them, core never does.
    Signature,
    64
);

impl std::str::FromStr for AgentId {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        AgentId::new(text)
    }
}

impl std::str::FromStr for Name {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Name::new(text)
    }
}

impl std::str::FromStr for Signer {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Signer::parse(text)
    }
}

impl PublicKey {
    /// Whether these bytes are a key someone can sign with: a point on the curve, not of small
    /// order. A small-order key "verifies" signatures that nobody made, and bytes off the curve
    /// verify nothing, so neither may be registered.
    pub fn is_usable(&self) -> bool {
        curve25519_dalek::edwards::CompressedEdwardsY(self.0).decompress().is_some_and(|point| !point.is_small_order())
    }
}
