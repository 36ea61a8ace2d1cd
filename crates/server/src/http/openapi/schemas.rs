//! `components/schemas`: the schemas core's types derive (commands, the swarm configuration, ids,
//! names, keys, amounts, subjects), gathered by one schemars generator whose references point into
//! `components/schemas` directly, beside the response shapes written here.

use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use colony_core::{AgentId, Amount, Command, Digest, Name, PublicKey, Signer, SwarmConfig, limits};

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

/// `schema`, or `null` (a field the server writes as `null` when it has no value).
pub(super) fn nullable(schema: Value) -> Value {
    json!({ "oneOf": [schema, { "type": "null" }] })
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

/// The envelopes, results and problems of writes, and the registry's and ledger's reads.
pub(super) fn add_core(schemas: &mut Schemas) {
    let envelope = envelope_schema(schemas, limits::COMMANDS_PER_ENVELOPE_MAX);
    schemas.add("Envelope", envelope);
    let single = envelope_schema(schemas, 1);
    schemas.add("SingleCommandEnvelope", single);
    let agent_id = schemas.of::<AgentId>();
    let signer = schemas.of::<Signer>();
    let name = schemas.of::<Name>();
    let digest = schemas.of::<Digest>();
    let public_key = schemas.of::<PublicKey>();
    let amount = schemas.of::<Amount>();
    let swarm_config = schemas.of::<SwarmConfig>();
    debug_assert_eq!(swarm_config, Schemas::reference("SwarmConfig"), "GET /v1/config refers to it by name");
    let problem = Schemas::reference("Problem");
    let bus_message = Schemas::reference("BusMessage");
    schemas.add("SubmitResponse", json!({
        "type": "object", "required": ["sequence", "timestamp_ms", "results"],
        "properties": {
            "sequence": { "type": "integer" }, "timestamp_ms": { "type": "integer" },
            "results": { "type": "array", "items": { "type": "object", "required": ["ok"], "properties": {
                "ok": { "type": "boolean" }, "status": { "enum": ["done", "unchanged", "existing", "duplicate"] },
                "problem": problem, "escrow_id": { "type": "integer" },
                "stream": { "type": "string" }, "stream_sequence": { "type": "integer" },
                "deliveries": { "type": "array", "items": bus_message },
                "replayed": { "type": "array", "items": { "type": "array", "prefixItems": [{ "type": "string" }, { "type": "integer" }] } } } } }
        }
    }));
    schemas.add(
        "Problem",
        json!({
            "type": "object", "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": { "type": "string", "description": "urn:colony:problem:<code>" },
                "title": { "type": "string" }, "status": { "type": "integer" }, "detail": { "type": "string" },
                "code": { "type": "string", "description": "Stable machine code." },
                "field": { "type": "string", "description": "The offending input, when one is to blame." }
            }
        }),
    );
    schemas.add("Agent", json!({
        "type": "object",
        "properties": {
            "id": agent_id, "public_key": public_key, "role": name, "capabilities": { "type": "array", "items": name },
            "weight": { "type": "integer" }, "parent": nullable(agent_id.clone()), "referrer": nullable(agent_id.clone()),
            "status": { "enum": ["active", "unresponsive", "halted", "deregistered"] },
            "responsive": { "type": "boolean" },
            "halt": { "type": ["object", "null"], "properties": { "by": signer, "reason": { "type": "string" }, "at_ms": { "type": "integer" } } },
            "budget_halted": { "type": "boolean" },
            "registered_at_ms": { "type": "integer" }, "last_heartbeat_ms": { "type": "integer" },
            "heartbeat_deadline_ms": { "type": "integer" }, "deregistered_at_ms": { "type": ["integer", "null"] },
            "highest_nonce": { "type": "integer" }
        }
    }));
    schemas.add("AgentPage", json!({ "type": "object", "properties": {
        "agents": { "type": "array", "items": Schemas::reference("Agent") }, "next_after": nullable(agent_id.clone()) } }));
    schemas.add(
        "Status",
        json!({ "type": "object", "properties": {
        "version": { "type": "string" }, "sequence": { "type": "integer" }, "timestamp_ms": { "type": "integer" },
        "agents": { "type": "integer" }, "entries": { "type": "integer" }, "commands_accepted": { "type": "integer" },
        "commands_rejected": { "type": "integer" }, "operator_key": nullable(public_key) } }),
    );
    schemas.add("Wallet", json!({ "type": "object", "properties": {
        "agent": agent_id, "balance": amount, "held_in_escrow": amount, "daily_limit": nullable(amount.clone()),
        "spent_today": amount, "no_withdraw": { "type": "boolean" }, "frozen": { "type": "boolean" },
        "minimum_balance": nullable(amount.clone()), "spent_total": amount, "earned_total": amount, "fees_paid_total": amount } }));
    schemas.add(
        "Ledger",
        json!({ "type": "object", "properties": {
        "supply": amount, "wallets_total": amount, "fees": amount, "escrow_held": amount,
        "open_escrows": { "type": "integer" }, "wallets": { "type": "integer" }, "balanced": { "type": "boolean" } } }),
    );
    schemas.add("Escrow", json!({ "type": "object", "properties": {
        "id": { "type": "integer" }, "payer": agent_id, "payee": agent_id, "amount": amount,
        "fee_bps": { "type": "integer" }, "referral_bps": { "type": "integer" }, "referrer": nullable(agent_id.clone()), "arbiter": nullable(agent_id.clone()),
        "hashlock": nullable(digest.clone()), "task_id": nullable(name.clone()), "timeout_at_ms": { "type": "integer" }, "created_at_ms": { "type": "integer" },
        "state": { "enum": ["locked", "released", "refunded", "expired", "disputed", "resolved"] },
        "dispute": { "type": ["array", "null"] }, "settled_at_ms": { "type": ["integer", "null"] },
        "paid_to_payee": amount, "refunded_to_payer": amount, "fees": amount, "referral": amount } }));
    schemas.add("EscrowPage", json!({ "type": "object", "properties": {
        "escrows": { "type": "array", "items": Schemas::reference("Escrow") }, "next_after": { "type": ["integer", "null"] } } }));
    schemas.add("CostRollup", json!({ "type": "object", "properties": {
        "agent": agent_id, "agents": { "type": "integer" }, "balance": amount, "spent": amount, "earned": amount, "fees_paid": amount } }));
    schemas.add(
        "StateHash",
        json!({ "type": "object", "properties": { "sequence": { "type": "integer" }, "state_hash": digest } }),
    );
    schemas.add(
        "Event",
        json!({ "type": "object", "required": ["sequence", "index", "timestamp_ms", "type"], "properties": {
        "sequence": { "type": "integer" }, "index": { "type": "integer" }, "timestamp_ms": { "type": "integer" },
        "type": { "enum": colony_core::EventKind::NAMES } } }),
    );
}
