//! JSON Schemas of the validated types that commands carry, built from the same limits and alphabets
//! their constructors enforce, so that a published schema cannot promise what the decoder refuses.
//!
//! Structs and enums derive their schemas (`schemars::JsonSchema`) next to their definitions; the
//! types here validate their text by hand, so their schemas are written by hand too. Only the schema
//! is described here: which format carries it is the server's business.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::amount::Amount;
use crate::bus::{JsonText, Pattern, SUBJECT_BYTES_MAX, SUBJECT_TOKENS_MAX, Subject};
use crate::ids::{AgentId, Digest, Name, OPERATOR_NAME, PublicKey, RESERVED_AGENT_IDS, Signature, Signer};
use crate::ledger::AccountId;
use crate::limits;

/// The first byte of an agent id, as a regular-expression class.
const AGENT_ID_FIRST_CLASS: &str = "[a-z0-9]";
/// Any later byte of an agent id.
const AGENT_ID_CLASS: &str = "[a-z0-9_-]";
/// Any byte of a role, capability or other name.
const NAME_CLASS: &str = "[a-z0-9_.:-]";
/// Any byte of a subject's token.
const SUBJECT_TOKEN_CLASS: &str = "[A-Za-z0-9_:$-]";
/// Digits of the largest amount: an amount's text is at most this long.
const AMOUNT_DIGITS_MAX: u32 = u64::MAX.ilog10() + 1;

/// The pattern of an agent id, and so of a signer that is not the operator.
fn agent_id_pattern() -> String {
    format!("^{AGENT_ID_FIRST_CLASS}{AGENT_ID_CLASS}{{0,{}}}$", limits::AGENT_ID_BYTES_MAX - 1)
}

impl JsonSchema for AgentId {
    fn schema_name() -> Cow<'static, str> {
        "AgentId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": agent_id_pattern(),
            "not": { "enum": RESERVED_AGENT_IDS },
            "description": format!(
                "An agent's id: lowercase ASCII letters, digits, '-' and '_', starting with a letter or digit, at most {} bytes; never one of the reserved ids.",
                limits::AGENT_ID_BYTES_MAX
            )
        })
    }
}

impl JsonSchema for Signer {
    fn schema_name() -> Cow<'static, str> {
        "Signer".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let reserved: Vec<&str> = RESERVED_AGENT_IDS.iter().copied().filter(|id| *id != OPERATOR_NAME).collect();
        json_schema!({
            "type": "string",
            "pattern": agent_id_pattern(),
            "not": { "enum": reserved },
            "description": format!("`{OPERATOR_NAME}` or an agent id.")
        })
    }
}

impl JsonSchema for Name {
    fn schema_name() -> Cow<'static, str> {
        "Name".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": format!("^{NAME_CLASS}{{1,{}}}$", limits::NAME_BYTES_MAX),
            "description": "A role, capability, stream, consumer or other name: lowercase ASCII letters, digits, '-', '_', '.' and ':'."
        })
    }
}

impl JsonSchema for AccountId {
    fn schema_name() -> Cow<'static, str> {
        "AccountId".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let accounts: Vec<String> =
            [AccountId::Mint, AccountId::Fees, AccountId::EscrowHolding].iter().map(AccountId::to_string).collect();
        json_schema!({
            "anyOf": [generator.subschema_for::<AgentId>(), { "enum": accounts }],
            "description": "An agent's wallet by the agent's id, or one of the swarm's own accounts: the mint, the fees, the escrow holding."
        })
    }
}

/// Declares the schema of a fixed-size byte string: hex text of twice its length in bytes, in either
/// case, as its `from_hex` reads it.
macro_rules! hex_schema {
    ($name:ident, $description:literal) => {
        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": format!("^[0-9a-fA-F]{{{}}}$", $name::LENGTH * 2),
                    "description": format!("{} ({} bytes as hex).", $description, $name::LENGTH)
                })
            }
        }
    };
}

hex_schema!(PublicKey, "An Ed25519 public key");
hex_schema!(Digest, "A SHA-256 digest");
hex_schema!(Signature, "An Ed25519 signature");

impl JsonSchema for Amount {
    fn schema_name() -> Cow<'static, str> {
        "Amount".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": format!("^[0-9]{{1,{AMOUNT_DIGITS_MAX}}}$"),
            "description": "Minor units as a string of decimal digits (1 unit = 1,000,000 minor units by convention)."
        })
    }
}

/// One token of a subject or pattern, without wildcards.
fn subject_token() -> String {
    format!("{SUBJECT_TOKEN_CLASS}+")
}

impl JsonSchema for Subject {
    fn schema_name() -> Cow<'static, str> {
        "Subject".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let token = subject_token();
        json_schema!({
            "type": "string",
            "maxLength": SUBJECT_BYTES_MAX,
            "pattern": format!("^({token}\\.){{0,{}}}{token}$", SUBJECT_TOKENS_MAX - 1),
            "description": "Dot-separated tokens of ASCII letters, digits and `-_:$`, without wildcards."
        })
    }
}

impl JsonSchema for Pattern {
    fn schema_name() -> Cow<'static, str> {
        "Pattern".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let token = subject_token();
        json_schema!({
            "type": "string",
            "maxLength": SUBJECT_BYTES_MAX,
            "pattern": format!("^((\\*|{token})\\.){{0,{}}}(\\*|>|{token})$", SUBJECT_TOKENS_MAX - 1),
            "description": "A subject pattern: '*' matches one token, a final '>' one or more."
        })
    }
}

/// The schema of a message's headers, durable or ephemeral: a map from names to text, as bounded as
/// the message rules check it.
pub fn message_headers(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "maxProperties": limits::HEADERS_PER_MESSAGE_MAX,
        "propertyNames": generator.subschema_for::<Name>(),
        "additionalProperties": { "type": "string", "maxLength": limits::HEADER_VALUE_BYTES_MAX }
    })
}

impl JsonSchema for JsonText {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "JsonText".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": format!(
                "Any JSON value, at most {} bytes as canonical JSON and nested at most {} levels deep.",
                limits::PAYLOAD_BYTES_MAX,
                limits::PAYLOAD_NESTING_MAX
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASCII bytes a simple regular-expression class (`[a-z0-9_-]`: ranges and single bytes, a
    /// `-` last taken literally) admits.
    fn class_bytes(class: &str) -> Vec<u8> {
        let inner = class.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).expect("a class in brackets");
        let bytes = inner.as_bytes();
        let mut admitted = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            if index + 2 < bytes.len() && bytes[index + 1] == b'-' {
                admitted.extend(bytes[index]..=bytes[index + 2]);
                index += 3;
            } else {
                admitted.push(bytes[index]);
                index += 1;
            }
        }
        admitted
    }

    /// Every ASCII byte that `accepts` takes (in a text that is otherwise valid), as `class` should.
    fn assert_class_matches(class: &str, accepts: impl Fn(char) -> bool) {
        let admitted = class_bytes(class);
        for byte in 0..=127u8 {
            assert_eq!(
                accepts(char::from(byte)),
                admitted.contains(&byte),
                "{class} and the validator disagree on {:?}",
                char::from(byte)
            );
        }
    }

    #[test]
    fn the_schema_alphabets_are_the_validators() {
        assert_class_matches(AGENT_ID_FIRST_CLASS, |byte| AgentId::new(format!("{byte}a")).is_ok());
        assert_class_matches(AGENT_ID_CLASS, |byte| AgentId::new(format!("a{byte}")).is_ok());
        assert_class_matches(NAME_CLASS, |byte| Name::new(format!("{byte}")).is_ok());
        // A dot separates tokens and `*`, `>` are wildcards: what a token may hold is the rest.
        assert_class_matches(SUBJECT_TOKEN_CLASS, |byte| byte != '.' && Subject::new(format!("a{byte}")).is_ok());
    }

    #[test]
    fn amounts_are_as_long_as_the_schema_says() {
        let longest = "9".repeat(AMOUNT_DIGITS_MAX as usize - 1);
        assert!(serde_json::from_str::<Amount>(&format!("\"{longest}\"")).is_ok());
        assert!(serde_json::from_str::<Amount>(&format!("\"{}\"", u64::MAX)).is_ok());
        assert!(serde_json::from_str::<Amount>(&format!("\"0{}\"", u64::MAX)).is_err());
    }
}
