//! Decoding an envelope's commands as the bytes stream by.
//!
//! A command is an object tagged by its `type` field. Serde's derived decoding of such an enum
//! cannot know where the tag is, so it first copies every field of the command into an in-memory
//! tree and then decodes the variant from the tree: an allocation per field and per string, for
//! every command of every write, and again for every entry replayed at start-up or by the audit.
//! Every client Colony ships writes `type` first, so this decoder reads the first key, and when it
//! is `type` hands the rest of the object straight to the variant's own decoder
//! ([`Command::deserialize_kind`]). An object whose `type` comes later is collected and decoded the
//! derived way, so any valid JSON order is accepted and decodes to the same command.

use std::fmt;

use colony_core::Command;
use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// `deserialize_with` for `Envelope::commands`.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Command>, D::Error> {
    deserializer.deserialize_seq(CommandsVisitor)
}

struct CommandsVisitor;

impl<'de> Visitor<'de> for CommandsVisitor {
    type Value = Vec<Command>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a sequence of commands")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Vec<Command>, A::Error> {
        // No size hint is trusted: JSON gives none, and the body's size limit bounds the count.
        let mut commands = Vec::new();
        while let Some(command) = sequence.next_element_seed(CommandSeed)? {
            commands.push(command);
        }
        Ok(commands)
    }
}

struct CommandSeed;

impl<'de> DeserializeSeed<'de> for CommandSeed {
    type Value = Command;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Command, D::Error> {
        deserializer.deserialize_map(CommandVisitor)
    }
}

struct CommandVisitor;

impl<'de> Visitor<'de> for CommandVisitor {
    type Value = Command;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a command object with a `type`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Command, A::Error> {
        match map.next_key_seed(FirstKey)? {
            Some(FirstKeyName::Type) => {
                let kind = map.next_value_seed(KindSeed)?;
                Command::deserialize_kind(kind, de::value::MapAccessDeserializer::new(map))
            }
            Some(FirstKeyName::Other(first)) => {
                let mut fields = serde_json::Map::new();
                fields.insert(first, map.next_value()?);
                while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                    fields.insert(key, value);
                }
                decode_collected(fields)
            }
            None => decode_collected(serde_json::Map::new()),
        }
    }
}

/// The derived decoding, for an object whose `type` is not its first field (or that has none).
fn decode_collected<E: de::Error>(fields: serde_json::Map<String, serde_json::Value>) -> Result<Command, E> {
    serde_json::from_value(serde_json::Value::Object(fields)).map_err(E::custom)
}

enum FirstKeyName {
    Type,
    Other(String),
}

struct FirstKey;

impl<'de> DeserializeSeed<'de> for FirstKey {
    type Value = FirstKeyName;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<FirstKeyName, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FirstKey {
    type Value = FirstKeyName;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<FirstKeyName, E> {
        Ok(if key == "type" { FirstKeyName::Type } else { FirstKeyName::Other(key.to_owned()) })
    }
}

/// Reads a command's `type` as the table's own name, without allocating.
struct KindSeed;

impl<'de> DeserializeSeed<'de> for KindSeed {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<&'static str, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KindSeed {
    type Value = &'static str;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a command type")
    }

    fn visit_str<E: de::Error>(self, kind: &str) -> Result<&'static str, E> {
        Command::KINDS
            .iter()
            .copied()
            .find(|known| *known == kind)
            .ok_or_else(|| E::unknown_variant(kind, Command::KINDS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Commands(#[serde(deserialize_with = "deserialize")] Vec<Command>);

    fn streamed(json: &str) -> Result<Vec<Command>, String> {
        serde_json::from_str::<Commands>(json).map(|commands| commands.0).map_err(|error| error.to_string())
    }

    fn derived(json: &str) -> Result<Vec<Command>, String> {
        serde_json::from_str::<Vec<Command>>(json).map_err(|error| error.to_string())
    }

    #[test]
    fn type_first_or_later_decodes_to_the_same_commands_as_the_derived_decoding() {
        let written = r#"[{"type":"agent.heartbeat"},{"type":"ledger.transfer","transfer_id":"t-1","to":"oracle-1","amount":"1500"}]"#;
        let commands = derived(written).unwrap();
        assert_eq!(commands.len(), 2);
        assert_eq!(streamed(written).unwrap(), commands);
        assert_eq!(serde_json::to_string(&commands).unwrap(), written, "clients write the type first");
        let type_later = r#"[{"type":"agent.heartbeat"},{"transfer_id":"t-1","to":"oracle-1","type":"ledger.transfer","amount":"1500"}]"#;
        assert_eq!(streamed(type_later).unwrap(), commands);
    }

    #[test]
    fn refusals_read_as_the_derived_decoding_reads_them() {
        for json in [
            r#"[{"type":"agent.nonsense","agent":"a"}]"#,
            r#"[{"agent":"a"}]"#,
            r#"[{}]"#,
            r#"[{"type":5}]"#,
            r#"[{"type":"ledger.transfer","to":"oracle-1","amount":"1500"}]"#,
            r#"[{"type":"agent.heartbeat","extra":1}]"#,
            r#"[{"type":"agent.heartbeat","type":"agent.heartbeat"}]"#,
            r#"[7]"#,
        ] {
            let streamed = streamed(json);
            assert!(streamed.is_err(), "{json} decoded: {streamed:?}");
            assert!(derived(json).is_err(), "{json}");
        }
        let unknown = streamed(r#"[{"type":"agent.nonsense","agent":"a"}]"#).unwrap_err();
        assert!(unknown.contains("unknown variant `agent.nonsense`"), "{unknown}");
        let missing = streamed(r#"[{"agent":"a"}]"#).unwrap_err();
        assert!(missing.contains("missing field `type`"), "{missing}");
        let missing = streamed(r#"[{}]"#).unwrap_err();
        assert!(missing.contains("missing field `type`"), "{missing}");
    }
}
