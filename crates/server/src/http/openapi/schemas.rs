//! `components/schemas`: the schemas the types derive (commands and what they carry, ephemeral
//! messages, the answers), gathered by one schemars generator whose references point into
//! `components/schemas` directly, beside the few schemas written here.
//!
//! One generator serves requests and answers alike, so each type has one schema under its name. It
//! describes what deserializing accepts: a field with a default is optional, which answers (that
//! always write it) satisfy too.

use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use colony_core::{Command, Signer, limits};
use colony_wire::Problem;

/// Where the document keeps its schemas, as a JSON pointer.
const SCHEMAS_POINTER: &str = "/components/schemas";

/// The document's schemas: those schemars derives, collected as they are referred to, and those
/// written by hand.
pub(super) struct Schemas {
    generator: SchemaGenerator,
    written: Map<String, Value>,
}

impl Schemas {
    pub(super) fn new() -> Schemas {
        let settings = SchemaSettings::draft2020_12()
            .with(|settings| {
                settings.definitions_path = SCHEMAS_POINTER.into();
                settings.meta_schema = None;
            })
            .with_transform(ForOpenApi);
        Schemas { generator: settings.into_generator(), written: Map::new() }
    }

    /// The schema of `T`: a reference to `components/schemas` for a named type, collected there.
    pub(super) fn of<T: JsonSchema>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    /// A reference to the schema named `name` (derived or written).
    pub(super) fn reference(name: &str) -> Value {
        json!({ "$ref": format!("#{SCHEMAS_POINTER}/{name}") })
    }

    /// Adds a schema written by hand.
    pub(super) fn add(&mut self, name: &str, schema: Value) {
        let previous = self.written.insert(name.to_owned(), schema);
        assert!(previous.is_none(), "the schema {name} is written twice");
    }

    /// Every schema, derived and written.
    pub(super) fn finish(mut self) -> Map<String, Value> {
        let mut schemas = self.generator.take_definitions(true);
        for (name, schema) in self.written {
            assert!(!schemas.contains_key(&name), "the written schema {name} has the name of a derived one");
            schemas.insert(name, schema);
        }
        schemas
    }
}

/// Shapes schemars' output for this document.
#[derive(Clone)]
struct ForOpenApi;

impl Transform for ForOpenApi {
    fn transform(&mut self, schema: &mut Schema) {
        if let Some(object) = schema.as_object_mut() {
            if let Some(Value::String(description)) = object.get_mut("description") {
                *description = reflow(description);
            }
            // schemars names integer widths with formats OpenAPI does not define (`uint32`); the
            // bounds say the same in plain JSON Schema.
            let maximum = object.get("format").and_then(Value::as_str).and_then(unsigned_maximum);
            if let Some(maximum) = maximum {
                object.remove("format");
                object.entry("maximum").or_insert(maximum.into());
            }
        }
        transform_subschemas(self, schema);
    }
}

/// The largest value of an unsigned integer format of schemars.
fn unsigned_maximum(format: &str) -> Option<u64> {
    match format {
        "uint8" => Some(u8::MAX.into()),
        "uint16" => Some(u16::MAX.into()),
        "uint32" => Some(u32::MAX.into()),
        "uint64" => Some(u64::MAX),
        "uint" => u64::try_from(usize::MAX).ok(),
        _ => None,
    }
}

/// A doc comment's text as prose: its lines, wrapped at the source's width, joined into paragraphs.
fn reflow(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| paragraph.split('\n').collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A non-negative integer that fits in 64 bits (ids, sequences, cursors).
pub(super) fn u64_schema() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
}

/// A signed envelope of at most `commands_max` commands.
fn envelope_schema(schemas: &mut Schemas, commands_max: usize) -> Value {
    let skew_seconds = std::time::Duration::from_millis(super::super::writes::ENVELOPE_NONCE_SKEW_MS).as_secs();
    json!({
        "type": "object", "required": ["signer", "nonce", "commands"], "additionalProperties": false,
        "properties": {
            "signer": schemas.of::<Signer>(),
            "nonce": { "type": "integer", "minimum": 1, "maximum": u64::MAX,
                "description": format!("Single use per signer: the current time in Unix microseconds, within {skew_seconds} seconds of the server's clock.") },
            "commands": { "type": "array", "minItems": 1, "maxItems": commands_max, "items": schemas.of::<Command>() }
        }
    })
}

/// The envelopes of writes and the problem document.
pub(super) fn add_core(schemas: &mut Schemas) {
    let envelope = envelope_schema(schemas, limits::COMMANDS_PER_ENVELOPE_MAX);
    schemas.add("Envelope", envelope);
    let single = envelope_schema(schemas, 1);
    schemas.add("SingleCommandEnvelope", single);
    let problem = schemas.of::<Problem>();
    assert_eq!(problem, Schemas::reference("Problem"), "problem responses refer to it by name");
}
