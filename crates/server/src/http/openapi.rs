//! The OpenAPI 3.1 document, served at `GET /v1/openapi.json`.
//!
//! Written by hand next to the routes it describes; a test checks that every route in
//! [`super::ROUTES`] is documented and nothing else is, so the two cannot drift apart silently.

use axum::Json;
use serde_json::{Value, json};

use colony_core::bus::{SUBJECT_BYTES_MAX, SUBJECT_TOKENS_MAX};
use colony_core::limits;

/// `GET /v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}

fn problem_responses(codes: &[&str]) -> Value {
    let mut responses = serde_json::Map::new();
    for code in codes {
        responses.insert(
            (*code).to_owned(),
            json!({ "description": "A problem (RFC 9457)", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }),
        );
    }
    Value::Object(responses)
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

fn ok_json(schema: &str, description: &str) -> Value {
    json!({ "200": { "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } } })
}

/// Problems a signed write can be answered with: a malformed envelope (400), no valid signature or an
/// unknown signer (401), a refused command (403, 404, 409, 422, 429), a body that did not arrive in
/// time (408), too large (413) or not JSON (415), a server that cannot take it now (503).
const WRITE_STATUSES: &[&str] = &["400", "401", "403", "404", "408", "409", "413", "415", "422", "429", "503"];

fn write_operation(summary: &str, description: &str, envelope: &str) -> Value {
    json!({
        "summary": summary,
        "description": description,
        "security": [{ "envelopeSignature": [] }],
        "parameters": [{
            "name": "colony-signer", "in": "header", "required": true,
            "description": "`operator` or an agent id: the envelope's signer. Bodies over 64 KiB are read only from registered signers.",
            "schema": signer_schema()
        }, {
            "name": "colony-signature", "in": "header", "required": true,
            "description": "Ed25519 signature (128 hex characters) over `colony-envelope-v1\\n` followed by the exact body bytes.",
            "schema": { "type": "string", "pattern": "^[0-9a-fA-F]{128}$" }
        }],
        "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{envelope}") } } } },
        "responses": merge(ok_json("SubmitResponse", "Durable and applied"), problem_responses(WRITE_STATUSES))
    })
}

/// A read: `statuses` are the problems it can answer with besides 401 (no valid credentials) and 503
/// (the state unreadable after a writer failure).
fn read_operation(summary: &str, schema: &str, parameters: Value, statuses: &[&str]) -> Value {
    let mut statuses = statuses.to_vec();
    statuses.extend(["401", "503"]);
    json!({
        "summary": summary,
        "security": [{ "readToken": [] }, { "signedRead": [] }],
        "parameters": parameters,
        "responses": merge(ok_json(schema, "OK"), problem_responses(&statuses))
    })
}

/// An agent id: lowercase ASCII letters, digits, `-` and `_`, starting with a letter or digit; not a
/// reserved id.
fn agent_id_schema() -> Value {
    let reserved: Vec<&str> = colony_core::RESERVED_AGENT_IDS.to_vec();
    json!({ "type": "string", "pattern": format!("^[a-z0-9][a-z0-9_-]{{0,{}}}$", limits::AGENT_ID_BYTES_MAX - 1), "not": { "enum": reserved } })
}

/// A signer: `operator` or an agent id.
fn signer_schema() -> Value {
    let reserved: Vec<&str> =
        colony_core::RESERVED_AGENT_IDS.iter().copied().filter(|id| *id != colony_core::ids::OPERATOR_NAME).collect();
    json!({ "type": "string", "pattern": format!("^[a-z0-9][a-z0-9_-]{{0,{}}}$", limits::AGENT_ID_BYTES_MAX - 1), "not": { "enum": reserved },
        "description": "`operator` or an agent id." })
}

/// A role, capability, stream, consumer or other name.
fn name_schema() -> Value {
    json!({ "type": "string", "pattern": format!("^[a-z0-9_.:-]{{1,{}}}$", limits::NAME_BYTES_MAX) })
}

/// One token of a subject.
const SUBJECT_TOKEN: &str = "[A-Za-z0-9_:$-]+";

/// A subject messages are published to: dot-separated tokens, no wildcards.
fn subject_schema() -> Value {
    json!({ "type": "string", "maxLength": SUBJECT_BYTES_MAX,
        "pattern": format!("^({SUBJECT_TOKEN}\\.){{0,{}}}{SUBJECT_TOKEN}$", SUBJECT_TOKENS_MAX - 1),
        "description": "Dot-separated tokens of ASCII letters, digits and `-_:$`, without wildcards." })
}

/// A subject pattern: `*` matches one token, a final `>` one or more.
fn pattern_schema() -> Value {
    json!({ "type": "string", "maxLength": SUBJECT_BYTES_MAX,
        "pattern": format!("^((\\*|{SUBJECT_TOKEN})\\.){{0,{}}}(\\*|>|{SUBJECT_TOKEN})$", SUBJECT_TOKENS_MAX - 1),
        "description": "A subject pattern: '*' matches one token, a final '>' one or more." })
}

/// A non-negative integer that fits in 64 bits (ids, sequences, cursors).
fn u64_schema() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
}

/// One server-sent event (its `id`, `event` and `data` fields) whose data, for the event names in
/// `kinds`, is JSON matching `data`; `others` lists the other events the stream may send.
fn sse_event(kinds: Value, data: Value, others: Vec<Value>) -> Value {
    let mut variants = vec![
        json!({ "properties": { "event": kinds, "data": { "contentMediaType": "application/json", "contentSchema": data } } }),
    ];
    variants.extend(others);
    json!({ "type": "object", "required": ["data"], "properties": {
        "id": { "type": "string" }, "event": { "type": "string" }, "data": { "type": "string" } },
        "oneOf": variants })
}

/// An event named `name` whose data is JSON matching `data`.
fn sse_other(name: &str, data: Value) -> Value {
    json!({ "required": ["event"], "properties": { "event": { "const": name }, "data": { "contentMediaType": "application/json", "contentSchema": data } } })
}

/// `schema`, or `null` (a field the server writes as `null` when it has no value).
fn nullable(mut schema: Value) -> Value {
    match schema.get("type").cloned() {
        Some(Value::String(kind)) => {
            schema["type"] = json!([kind, "null"]);
            schema
        }
        _ => json!({ "oneOf": [schema, { "type": "null" }] }),
    }
}

/// A signed envelope of at most `commands_max` commands.
fn envelope_schema(commands_max: usize) -> Value {
    json!({
        "type": "object", "required": ["signer", "nonce", "commands"], "additionalProperties": false,
        "properties": {
            "signer": signer_schema(),
            "nonce": { "type": "integer", "minimum": 1, "maximum": u64::MAX, "description": "Single use per signer: the current time in Unix microseconds, within 5 minutes of the server's clock." },
            "commands": { "type": "array", "minItems": 1, "maxItems": commands_max, "items": { "$ref": "#/components/schemas/Command" } }
        }
    })
}

fn command_schema(kind: &str, description: &str, required: &[&str], properties: Value) -> Value {
    let mut required: Vec<&str> = required.to_vec();
    required.insert(0, "type");
    let properties = merge(json!({ "type": { "const": kind } }), properties);
    json!({ "type": "object", "description": description, "required": required, "properties": properties, "additionalProperties": false })
}

/// The whole document.
pub fn document() -> Value {
    let agent_id = agent_id_schema();
    let name = name_schema();
    let hex32 = json!({ "type": "string", "pattern": "^[0-9a-f]{64}$" });
    let subject = subject_schema();
    let pattern = pattern_schema();
    let amount = json!({ "type": "string", "pattern": "^[0-9]{1,20}$", "description": "Minor units as a decimal string (1 unit = 1,000,000 minor units by convention)." });
    let commands = vec![
        command_schema(
            "agent.register",
            "Register an agent (self, parent or operator).",
            &["agent", "public_key", "role"],
            json!({
            "agent": agent_id, "public_key": hex32, "role": name,
            "capabilities": { "type": "array", "items": name, "maxItems": 32 },
            "weight": { "type": "integer", "minimum": 0, "maximum": 1000000, "description": "Operator only." },
            "parent": agent_id, "referrer": agent_id }),
        ),
        command_schema(
            "agent.update",
            "Change role (parent/operator), capabilities (self/parent/operator) or weight (operator).",
            &["agent"],
            json!({
            "agent": agent_id, "role": name, "capabilities": { "type": "array", "items": name }, "weight": { "type": "integer" } }),
        ),
        command_schema("agent.heartbeat", "The signing agent is alive.", &[], json!({})),
        command_schema(
            "agent.halt",
            "Halt an agent (operator or parent).",
            &["agent"],
            json!({ "agent": agent_id, "reason": { "type": "string", "maxLength": 256 } }),
        ),
        command_schema("agent.resume", "Lift a halt.", &["agent"], json!({ "agent": agent_id })),
        command_schema(
            "agent.deregister",
            "Remove an agent for good (self, parent or operator).",
            &["agent"],
            json!({ "agent": agent_id }),
        ),
        command_schema(
            "config.set",
            "Replace the swarm configuration (operator).",
            &["config"],
            json!({ "config": { "$ref": "#/components/schemas/SwarmConfig" } }),
        ),
        command_schema(
            "read_token.issue",
            "Authorise a bearer read token by its SHA-256 (operator).",
            &["token_sha256"],
            json!({
            "token_sha256": hex32, "label": { "type": "string" }, "expires_at_ms": { "type": "integer" } }),
        ),
        command_schema(
            "read_token.revoke",
            "Withdraw a read token (operator).",
            &["token_sha256"],
            json!({ "token_sha256": hex32 }),
        ),
        command_schema(
            "ledger.mint",
            "Issue money into a wallet (operator).",
            &["transfer_id", "to", "amount"],
            json!({
            "transfer_id": name, "to": agent_id, "amount": amount }),
        ),
        command_schema(
            "ledger.transfer",
            "Pay another agent. The same transfer_id with the same content is one transfer.",
            &["transfer_id", "to", "amount"],
            json!({
            "transfer_id": name, "to": agent_id, "amount": amount }),
        ),
        command_schema(
            "ledger.transfer_batch",
            "Linked transfers: all or nothing; the failing index is reported.",
            &["transfers"],
            json!({
            "transfers": { "type": "array", "maxItems": 1000, "items": { "type": "object", "required": ["transfer_id", "to", "amount"],
                "properties": { "transfer_id": name, "to": agent_id, "amount": amount } } } }),
        ),
        command_schema(
            "ledger.withdraw",
            "Move money out of the swarm (refused for no-withdraw wallets).",
            &["transfer_id", "amount"],
            json!({
            "transfer_id": name, "amount": amount }),
        ),
        command_schema(
            "wallet.sweep",
            "A parent moves money from its child's wallet back to its own.",
            &["child", "transfer_id", "amount"],
            json!({
            "child": agent_id, "transfer_id": name, "amount": amount }),
        ),
        command_schema(
            "wallet.configure",
            "Set a wallet's policy (parent or operator). Absent fields stay; null clears a limit.",
            &["agent"],
            json!({
            "agent": agent_id, "daily_limit": { "oneOf": [amount, { "type": "null" }] }, "no_withdraw": { "type": "boolean" },
            "frozen": { "type": "boolean" }, "minimum_balance": { "oneOf": [amount, { "type": "null" }] } }),
        ),
        command_schema(
            "escrow.lock",
            "Lock funds for a payee. A repeated lock with the same task_id returns the existing escrow.",
            &["payee", "amount", "timeout_ms"],
            json!({
            "payee": agent_id, "amount": amount, "timeout_ms": { "type": "integer", "minimum": 1000, "maximum": 7776000000u64 },
            "task_id": name, "arbiter": agent_id, "hashlock": hex32, "referrer": agent_id }),
        ),
        command_schema(
            "escrow.release",
            "Pay out to the payee minus the fee (payer, arbiter, or hashlock preimage holder).",
            &["escrow"],
            json!({
            "escrow": { "type": "integer" }, "preimage": { "type": "string", "maxLength": 256 } }),
        ),
        command_schema(
            "escrow.refund",
            "Give the funds back to the payer (payee or arbiter).",
            &["escrow"],
            json!({ "escrow": { "type": "integer" } }),
        ),
        command_schema(
            "escrow.dispute",
            "Freeze the escrow for the arbiter (payer or payee, before the timeout).",
            &["escrow"],
            json!({
            "escrow": { "type": "integer" }, "reason": { "type": "string", "maxLength": 256 } }),
        ),
        command_schema(
            "escrow.resolve",
            "Settle a dispute (arbiter; the operator when none is named or it left).",
            &["escrow", "resolution"],
            json!({
            "escrow": { "type": "integer" },
            "resolution": { "oneOf": [ { "enum": ["release", "refund"] },
                { "type": "object", "required": ["split"], "properties": { "split": { "type": "object", "required": ["payee_bps"],
                    "properties": { "payee_bps": { "type": "integer", "minimum": 0, "maximum": 10000 } } } } } ] } }),
        ),
        command_schema(
            "stream.create",
            "Create a durable stream capturing subject patterns (any agent or the operator; the creator owns it). The same name and configuration again is unchanged.",
            &["name", "subjects"],
            json!({
            "name": name, "subjects": { "type": "array", "minItems": 1, "maxItems": 16, "items": pattern, "description": "Must not overlap another stream's, agent.*.inbox or _INBOX.>." },
            "max_messages": { "type": "integer", "minimum": 1, "maximum": 1000000 },
            "max_bytes": { "type": "integer", "minimum": 1, "maximum": 268435456, "description": "Default 16 MiB; reserved against the bus total of 2 GiB." },
            "max_age_ms": { "type": "integer", "minimum": 1, "maximum": 31536000000u64 },
            "discard": { "enum": ["old", "new"], "default": "old" },
            "duplicate_window_ms": { "type": "integer", "minimum": 0, "maximum": 86400000, "default": 120000 } }),
        ),
        command_schema(
            "stream.delete",
            "Delete a stream with its consumers and dead letters (owner or operator).",
            &["name"],
            json!({ "name": name }),
        ),
        command_schema(
            "bus.publish",
            "Store a message in the stream capturing the subject (no_stream if none; stream_full when a discard-new stream is full). A message_id seen within the duplicate window returns the original sequence.",
            &["subject"],
            json!({
            "subject": subject, "message_id": name, "message_type": name,
            "priority": { "enum": ["low", "normal", "high", "critical"], "default": "normal" },
            "correlation_id": name, "reply_to": subject,
            "headers": { "type": "object", "maxProperties": 32, "additionalProperties": { "type": "string", "maxLength": 1024 } },
            "payload": { "description": "Any JSON value (at most 64 KiB as canonical JSON)." },
            "payload_base64": { "type": "string", "description": "Bytes in standard base64 (at most 64 KiB decoded); exclusive with payload." },
            "payload_signature": { "type": "string", "pattern": "^[0-9a-f]{128}$", "description": "The sender's Ed25519 signature over the payload bytes; receivers verify it." },
            "encrypted_to": agent_id }),
        ),
        command_schema(
            "consumer.create",
            "Create a pull consumer on a stream. The same name and configuration again is unchanged. Only its creator, the stream's owner, the operator and the agents and roles it names may fetch from it.",
            &["stream", "name"],
            json!({
            "stream": name, "name": name, "filter": pattern,
            "deliver": { "oneOf": [ { "enum": ["all", "new"] },
                { "type": "object", "required": ["from_sequence"], "properties": { "from_sequence": { "type": "integer", "minimum": 1 } } },
                { "type": "object", "required": ["from_time_ms"], "properties": { "from_time_ms": { "type": "integer" } } } ], "default": "all" },
            "ack_wait_ms": { "type": "integer", "minimum": 1000, "maximum": 43200000, "default": 30000 },
            "max_deliver": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 5 },
            "backoff_ms": { "type": "array", "maxItems": 16, "items": { "type": "integer", "minimum": 1000, "maximum": 43200000 }, "description": "The ack wait of delivery n is backoff_ms[min(n-1, len-1)]." },
            "max_ack_pending": { "type": "integer", "minimum": 1, "maximum": 10000, "default": 1000 },
            "agents": { "type": "array", "uniqueItems": true, "items": agent_id, "maxItems": colony_core::limits::CONSUMER_MEMBERS_MAX,
                "description": "Agents that may fetch from it besides its creator, the stream's owner and the operator (agents and roles together at most CONSUMER_MEMBERS_MAX)." },
            "roles": { "type": "array", "uniqueItems": true, "items": name, "maxItems": colony_core::limits::CONSUMER_MEMBERS_MAX,
                "description": "Roles whose agents may fetch from it." } }),
        ),
        command_schema(
            "consumer.delete",
            "Delete a consumer (its creator, the stream's owner or the operator).",
            &["stream", "name"],
            json!({ "stream": name, "name": name }),
        ),
        command_schema(
            "consumer.fetch",
            "Pull up to batch messages: due redeliveries first, then new ones; never beyond max_ack_pending.",
            &["stream", "consumer", "batch"],
            json!({ "stream": name, "consumer": name, "batch": { "type": "integer", "minimum": 1, "maximum": 256 },
                "max_bytes": { "type": "integer", "minimum": 1, "description": "Bytes of messages at most (at least one message is returned); the envelope's fetches together return at most FETCH_BYTES_PER_ENVELOPE_MAX (8 MiB)." } }),
        ),
        command_schema(
            "consumer.ack",
            "Acknowledge held deliveries (the holder or the operator): ack, nak (redeliver after a delay), in_progress (restart the ack wait) or term (dead-letter now).",
            &["stream", "consumer", "sequences", "kind"],
            json!({
            "stream": name, "consumer": name, "sequences": { "type": "array", "minItems": 1, "maxItems": 1000, "items": { "type": "integer", "minimum": 1 } },
            "kind": { "oneOf": [ { "enum": ["ack", "in_progress"] },
                { "type": "object", "required": ["nak"], "properties": { "nak": { "type": "object", "properties": {
                    "delay_ms": { "type": "integer", "minimum": 0, "maximum": 43200000 }, "error": { "type": "string", "maxLength": 256 } } } } },
                { "type": "object", "required": ["term"], "properties": { "term": { "type": "object", "properties": {
                    "reason": { "type": "string", "maxLength": 256 } } } } } ] } }),
        ),
        command_schema(
            "dlq.replay",
            "Publish dead letters again into their subjects and remove them (the stream's owner or the operator); all or nothing.",
            &["stream", "dead_letters"],
            json!({ "stream": name, "dead_letters": { "type": "array", "minItems": 1, "maxItems": 1000, "items": { "type": "integer" } } }),
        ),
        command_schema(
            "dlq.discard",
            "Remove dead letters (the stream's owner or the operator).",
            &["stream", "dead_letters"],
            json!({ "stream": name, "dead_letters": { "type": "array", "minItems": 1, "maxItems": 1000, "items": { "type": "integer" } } }),
        ),
    ];
    let list_parameters = json!([
        { "name": "role", "in": "query", "schema": name },
        { "name": "status", "in": "query", "schema": { "enum": ["active", "unresponsive", "halted", "deregistered"] } },
        { "name": "capability", "in": "query", "schema": name },
        { "name": "after", "in": "query", "schema": agent_id, "description": "Pagination: the `next_after` of the previous page." },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }
    ]);
    let event_stream_event = sse_event(
        json!({ "enum": colony_core::EventKind::NAMES }),
        json!({ "$ref": "#/components/schemas/Event" }),
        vec![sse_other(
            "lagged",
            json!({ "type": "object", "required": ["missed"], "properties": { "missed": { "type": "integer" }, "detail": { "type": "string" } } }),
        )],
    );
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Colony",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Coordination server for swarms of AI agents. Every write is a signed envelope; every read is authenticated."
        },
        "paths": {
            "/v1/commands": { "post": write_operation("Submit one command", "The envelope must carry exactly one command. A refused command is answered with its problem document.", "SingleCommandEnvelope") },
            "/v1/batch": { "post": write_operation("Submit many commands in one envelope", "Up to 10,000 commands, one signature; each command succeeds or fails on its own.", "Envelope") },
            "/v1/agents": { "get": read_operation("List agents, ordered by id", "AgentPage", list_parameters, &["400"]) },
            "/v1/agents/{id}": { "get": read_operation("One agent", "Agent", json!([{ "name": "id", "in": "path", "required": true, "schema": agent_id }]), &["400", "404"]) },
            "/v1/agents/{id}/costs": { "get": read_operation("What an agent and everything it spawned spent and earned", "CostRollup", json!([{ "name": "id", "in": "path", "required": true, "schema": agent_id }]), &["400", "404"]) },
            "/v1/wallets/{agent}": { "get": read_operation("An agent's wallet", "Wallet", json!([{ "name": "agent", "in": "path", "required": true, "schema": agent_id }]), &["400", "404"]) },
            "/v1/ledger": { "get": read_operation("The books as a whole, and whether they balance (totals kept as money moves); with verify=true, the operator's full check of every invariant", "Ledger", json!([
                { "name": "verify", "in": "query", "schema": { "type": "boolean", "default": false }, "description": "Check every wallet and escrow (the operator only; it reads the whole ledger)." } ]), &["400", "403"]) },
            "/v1/escrows": { "get": read_operation("Escrows by id, filtered; with payer and task_id, the look-up by task", "EscrowPage", json!([
                { "name": "payer", "in": "query", "schema": agent_id }, { "name": "payee", "in": "query", "schema": agent_id },
                { "name": "state", "in": "query", "schema": { "enum": ["locked", "released", "refunded", "expired", "disputed", "resolved"] } },
                { "name": "task_id", "in": "query", "schema": name }, { "name": "after", "in": "query", "schema": u64_schema() },
                { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } } ]), &["400"]) },
            "/v1/escrows/{id}": { "get": read_operation("One escrow", "Escrow", json!([{ "name": "id", "in": "path", "required": true, "schema": u64_schema() }]), &["400", "404"]) },
            "/v1/config": { "get": read_operation("The swarm configuration", "SwarmConfig", json!([]), &[]) },
            "/v1/status": { "get": read_operation("Server status and counters", "Status", json!([]), &[]) },
            "/v1/state/hash": { "get": read_operation("The canonical state hash", "StateHash", json!([]), &[]) },
            "/v1/events": { "get": {
                "summary": "Server-sent events of state changes, resumable",
                "security": [{ "readToken": [] }, { "signedRead": [] }],
                "parameters": [
                    { "name": "from", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": u64::MAX }, "description": "First entry sequence to include (entries are numbered from 1). One whose events are no longer retained is answered with 410." },
                    { "name": "access_token", "in": "query", "schema": { "type": "string" }, "description": "A read token, for clients that cannot set headers (a browser's EventSource)." },
                    { "name": "Last-Event-ID", "in": "header", "schema": { "type": "string", "pattern": "^([1-9][0-9]{0,18}-[0-9]{1,9})?$" }, "description": "Resume after this event id (`<sequence>-<index>`, as the stream sent it); empty when none was received." }
                ],
                "responses": merge(json!({ "200": { "description": "An event stream; each event's data is an Event", "content": { "text/event-stream": { "schema": { "$ref": "#/components/schemas/EventStreamEvent" } } } } }),
                    problem_responses(&["400", "401", "409", "410", "503"]))
            } },
            "/v1/health/live": { "get": { "summary": "Liveness", "responses": { "200": { "description": "The process answers" } } } },
            "/v1/health/ready": { "get": { "summary": "Readiness", "responses": merge(json!({ "200": { "description": "Accepting writes" } }), problem_responses(&["503"])) } },
            "/v1/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3.1" } } } }
        },
        "components": {
            "securitySchemes": {
                "envelopeSignature": { "type": "apiKey", "in": "header", "name": "colony-signature", "description": "Ed25519 over the envelope body; the signer is named in the body and in the colony-signer header." },
                "readToken": { "type": "http", "scheme": "bearer", "description": "A token issued by the operator with read_token.issue." },
                "signedRead": { "type": "apiKey", "in": "header", "name": "colony-signature", "description": "With colony-signer and colony-timestamp-ms: Ed25519 over `colony-read-v2\\n<signer>\\n<METHOD>\\n<path?query>\\n<timestamp_ms>`, within 5 minutes of the server clock; single-use on stream endpoints (and not stamped before the server started)." }
            },
            "schemas": {
                "Envelope": envelope_schema(limits::COMMANDS_PER_ENVELOPE_MAX),
                "SingleCommandEnvelope": envelope_schema(1),
                "Command": { "oneOf": commands, "discriminator": { "propertyName": "type" } },
                "SubmitResponse": {
                    "type": "object", "required": ["sequence", "timestamp_ms", "results"],
                    "properties": {
                        "sequence": { "type": "integer" }, "timestamp_ms": { "type": "integer" },
                        "results": { "type": "array", "items": { "type": "object", "required": ["ok"], "properties": {
                            "ok": { "type": "boolean" }, "status": { "enum": ["done", "unchanged", "existing", "duplicate"] },
                            "problem": { "$ref": "#/components/schemas/Problem" }, "escrow_id": { "type": "integer" },
                            "stream": { "type": "string" }, "stream_sequence": { "type": "integer" },
                            "deliveries": { "type": "array", "items": { "$ref": "#/components/schemas/BusMessage" } },
                            "replayed": { "type": "array", "items": { "type": "array", "prefixItems": [{ "type": "string" }, { "type": "integer" }] } } } } }
                    }
                },
                "Problem": {
                    "type": "object", "required": ["type", "title", "status", "detail", "code"],
                    "properties": {
                        "type": { "type": "string", "description": "urn:colony:problem:<code>" },
                        "title": { "type": "string" }, "status": { "type": "integer" }, "detail": { "type": "string" },
                        "code": { "type": "string", "description": "Stable machine code." },
                        "field": { "type": "string", "description": "The offending input, when one is to blame." }
                    }
                },
                "Agent": {
                    "type": "object",
                    "properties": {
                        "id": agent_id, "public_key": hex32, "role": name, "capabilities": { "type": "array", "items": name },
                        "weight": { "type": "integer" }, "parent": nullable(agent_id.clone()), "referrer": nullable(agent_id.clone()),
                        "status": { "enum": ["active", "unresponsive", "halted", "deregistered"] },
                        "responsive": { "type": "boolean" },
                        "halt": { "type": ["object", "null"], "properties": { "by": signer_schema(), "reason": { "type": "string" }, "at_ms": { "type": "integer" } } },
                        "budget_halted": { "type": "boolean" },
                        "registered_at_ms": { "type": "integer" }, "last_heartbeat_ms": { "type": "integer" },
                        "heartbeat_deadline_ms": { "type": "integer" }, "deregistered_at_ms": { "type": ["integer", "null"] },
                        "highest_nonce": { "type": "integer" }
                    }
                },
                "AgentPage": { "type": "object", "properties": { "agents": { "type": "array", "items": { "$ref": "#/components/schemas/Agent" } }, "next_after": nullable(agent_id.clone()) } },
                "SwarmConfig": {
                    "type": "object", "required": ["roles", "heartbeat_ttl_ms", "self_registration"], "additionalProperties": false,
                    "properties": {
                        "roles": { "type": "object", "additionalProperties": { "type": "object", "properties": { "default_weight": { "type": "integer" } } } },
                        "heartbeat_ttl_ms": { "type": "integer", "minimum": 1000, "maximum": 604800000 },
                        "self_registration": { "type": "boolean" },
                        "fee_bps": { "type": "integer", "minimum": 0, "maximum": 10000, "default": 100, "description": "Escrow fee in basis points." },
                        "referral_bps": { "type": "integer", "minimum": 0, "maximum": 10000, "default": 1500, "description": "The referrer's share of the fee in basis points." },
                        "registration_interval_ms": { "type": "integer", "minimum": 0, "maximum": colony_core::limits::REGISTRATION_INTERVAL_MS_MAX, "default": 1000, "description": "Registrations by agents are paced swarm-wide: one per this many milliseconds of log time after a burst." },
                        "registration_burst": { "type": "integer", "minimum": 1, "maximum": colony_core::limits::REGISTRATION_BURST_MAX, "default": 1000, "description": "Registrations by agents that may come at once." }
                    }
                },
                "Status": { "type": "object", "properties": {
                    "version": { "type": "string" }, "sequence": { "type": "integer" }, "timestamp_ms": { "type": "integer" },
                    "agents": { "type": "integer" }, "entries": { "type": "integer" }, "commands_accepted": { "type": "integer" },
                    "commands_rejected": { "type": "integer" }, "operator_key": nullable(hex32.clone()) } },
                "Wallet": { "type": "object", "properties": {
                    "agent": agent_id, "balance": amount, "held_in_escrow": amount, "daily_limit": { "oneOf": [amount, { "type": "null" }] },
                    "spent_today": amount, "no_withdraw": { "type": "boolean" }, "frozen": { "type": "boolean" },
                    "minimum_balance": { "oneOf": [amount, { "type": "null" }] }, "spent_total": amount, "earned_total": amount, "fees_paid_total": amount } },
                "Ledger": { "type": "object", "properties": {
                    "supply": amount, "wallets_total": amount, "fees": amount, "escrow_held": amount,
                    "open_escrows": { "type": "integer" }, "wallets": { "type": "integer" }, "balanced": { "type": "boolean" } } },
                "Escrow": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "payer": agent_id, "payee": agent_id, "amount": amount,
                    "fee_bps": { "type": "integer" }, "referral_bps": { "type": "integer" }, "referrer": nullable(agent_id.clone()), "arbiter": nullable(agent_id.clone()),
                    "hashlock": nullable(hex32.clone()), "task_id": nullable(name.clone()), "timeout_at_ms": { "type": "integer" }, "created_at_ms": { "type": "integer" },
                    "state": { "enum": ["locked", "released", "refunded", "expired", "disputed", "resolved"] },
                    "dispute": { "type": ["array", "null"] }, "settled_at_ms": { "type": ["integer", "null"] },
                    "paid_to_payee": amount, "refunded_to_payer": amount, "fees": amount, "referral": amount } },
                "EscrowPage": { "type": "object", "properties": { "escrows": { "type": "array", "items": { "$ref": "#/components/schemas/Escrow" } }, "next_after": { "type": ["integer", "null"] } } },
                "CostRollup": { "type": "object", "properties": {
                    "agent": agent_id, "agents": { "type": "integer" }, "balance": amount, "spent": amount, "earned": amount, "fees_paid": amount } },
                "StateHash": { "type": "object", "properties": { "sequence": { "type": "integer" }, "state_hash": hex32 } },
                "EventStreamEvent": event_stream_event,
                "Event": { "type": "object", "required": ["sequence", "index", "timestamp_ms", "type"], "properties": {
                    "sequence": { "type": "integer" }, "index": { "type": "integer" }, "timestamp_ms": { "type": "integer" },
                    "type": { "enum": ["swarm.genesis", "config.changed", "agent.registered", "agent.updated", "agent.unresponsive", "agent.active", "agent.halted", "agent.resumed", "agent.deregistered", "read_token.issued", "read_token.revoked", "ledger.transfer", "escrow.locked", "escrow.disputed", "escrow.settled", "wallet.configured", "agent.budget_halted", "agent.budget_restored", "stream.created", "stream.deleted", "stream.messages_discarded", "consumer.created", "consumer.deleted", "message.dead_lettered", "dead_letter.replayed"] } } }
            }
        }
    });
    add_bus(&mut document);
    document
}

/// The ephemeral bus's paths and schemas.
fn add_bus(document: &mut Value) {
    let publish_parameters = json!([
        { "name": "colony-signer", "in": "header", "required": true, "schema": signer_schema(), "description": "`operator` or an agent id." },
        { "name": "colony-nonce", "in": "header", "required": true, "schema": { "type": "integer", "minimum": 0, "maximum": u64::MAX }, "description": "Unix microseconds, increasing per signer, within 5 minutes of the server clock and not before it started." },
        { "name": "colony-signature", "in": "header", "required": true, "schema": { "type": "string", "pattern": "^[0-9a-fA-F]{128}$" },
          "description": "Ed25519 over `colony-publish-v2\\n<signer>\\n<path?query>\\n<nonce>\\n` followed by the exact body." }
    ]);
    let paths = json!({
        "/v1/bus/publish": { "post": {
            "summary": "Publish ephemeral messages (fan-out in memory, not logged)",
            "description": "One message (an object) or up to 1,000 (an array). The server stamps id, timestamp and the authenticated source. Halted agents are refused.",
            "security": [{ "publishSignature": [] }],
            "parameters": publish_parameters,
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "oneOf": [
                { "$ref": "#/components/schemas/EphemeralPublish" },
                { "type": "array", "maxItems": 1000, "items": { "$ref": "#/components/schemas/EphemeralPublish" } } ] } } } },
            "responses": merge(ok_json("PublishResponse", "Handed to the subscribers"), problem_responses(&["400", "401", "403", "408", "409", "413", "415", "503"]))
        } },
        "/v1/bus/request": { "post": {
            "summary": "Publish a request and wait for the first reply",
            "description": "The server sets `reply_to` to a fresh `_INBOX.…` subject that only it can read. 503 `no_responders` at once when nobody is subscribed; 504 `request_timeout` when no reply comes in time.",
            "security": [{ "publishSignature": [] }],
            "parameters": merge_array(publish_parameters.clone(), json!([{ "name": "timeout_ms", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": colony_wire::bus::REQUEST_TIMEOUT_MS_MAX, "default": colony_wire::bus::REQUEST_TIMEOUT_MS_DEFAULT } }])),
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/EphemeralPublish" } } } },
            "responses": merge(ok_json("BusMessage", "The reply"), problem_responses(&["400", "401", "403", "408", "409", "413", "415", "429", "503", "504"]))
        } },
        "/v1/bus/subscribe": { "get": {
            "summary": "Subscribe as server-sent events",
            "description": "Each `message` event's data is a BusMessage. When this subscriber's buffer overflowed, a `dropped` event says how many of its oldest messages were lost (`{\"count\": N, \"total\": M}`). `agent.<id>.inbox` reaches only `<id>`.",
            "security": [{ "readToken": [] }, { "signedRead": [] }],
            "parameters": [
                { "name": "subject", "in": "query", "required": true, "schema": pattern_schema(), "description": "A NATS pattern: `*` one token, `>` the rest." },
                { "name": "queue", "in": "query", "schema": name_schema(), "description": "A queue group: each message goes to one member." },
                { "name": "buffer", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 65536, "default": 4096 } },
                { "name": "access_token", "in": "query", "schema": { "type": "string" }, "description": "A read token, for clients that cannot set headers (a browser's EventSource)." }
            ],
            "responses": merge(json!({ "200": { "description": "An event stream", "content": { "text/event-stream": { "schema": { "$ref": "#/components/schemas/BusStreamEvent" } } } } }), problem_responses(&["400", "401", "403", "409", "429", "503"]))
        } },
        "/v1/bus/ws": { "get": {
            "summary": "The bus over WebSocket",
            "description": "Authenticated once at the upgrade (read credentials; a read token may subscribe but not publish). Client frames: `{\"op\":\"sub\",\"sid\",\"subject\",\"queue\"?}`, `{\"op\":\"unsub\",\"sid\"}`, `{\"op\":\"pub\",\"tag\"?,\"message\"}`, `{\"op\":\"request\",\"rid\",\"timeout_ms\"?,\"message\"}`, `{\"op\":\"ping\"}`. Server frames: `ok`, `msg` (sid, message), `dropped` (sid, count, total), `reply` (rid, message), `error` (about, problem), `pong`.",
            "security": [{ "readToken": [] }, { "signedRead": [] }],
            "responses": merge(json!({ "101": { "description": "Switching to the WebSocket protocol" } }), problem_responses(&["400", "401", "409", "426", "503"]))
        } },
        "/v1/bus/stats": { "get": read_operation("Bus counters and open subscriptions (buffers, deliveries, drops)", "BusStats", json!([]), &[]) },
        "/v1/streams": { "get": read_operation("Every durable stream with its configuration and counts", "StreamList", json!([]), &[]) },
        "/v1/streams/{name}": { "get": read_operation("One stream", "StreamInfo", json!([{ "name": "name", "in": "path", "required": true, "schema": name_schema() }]), &["400", "404"]) },
        "/v1/streams/{name}/messages": { "get": read_operation("Stored messages by sequence (changes no consumer)", "StreamMessagesPage", json!([
            { "name": "name", "in": "path", "required": true, "schema": name_schema() },
            { "name": "from", "in": "query", "schema": merge(u64_schema(), json!({ "default": 1 })) },
            { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } } ]), &["400", "404"]) },
        "/v1/streams/{name}/consumers/{consumer}": { "get": read_operation("A consumer's configuration, position and counts", "ConsumerInfo", json!([
            { "name": "name", "in": "path", "required": true, "schema": name_schema() },
            { "name": "consumer", "in": "path", "required": true, "schema": name_schema() } ]), &["400", "404"]) },
        "/v1/streams/{name}/dead_letters": { "get": read_operation("Messages consumers gave up on, with delivery counts and last errors", "DeadLetterPage", json!([
            { "name": "name", "in": "path", "required": true, "schema": name_schema() },
            { "name": "after", "in": "query", "schema": u64_schema() },
            { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } } ]), &["400", "404"]) },
        "/v1/metrics": { "get": {
            "summary": "Counters in the Prometheus text format (entries, commands, bus deliveries and drops)",
            "security": [{ "readToken": [] }, { "signedRead": [] }],
            "responses": merge(json!({ "200": { "description": "Prometheus text exposition format 0.0.4", "content": { "text/plain": { "schema": { "type": "string" } } } } }), problem_responses(&["401", "503"]))
        } }
    });
    let subject = subject_schema();
    let publish_properties = json!({
        "subject": subject,
        "type": { "type": "string", "pattern": "^[a-z0-9_.:-]{1,64}$" },
        "priority": { "enum": ["low", "normal", "high", "critical"], "default": "normal" },
        "correlation_id": { "type": "string", "pattern": "^[a-z0-9_.:-]{1,64}$" },
        "reply_to": subject,
        "headers": { "type": "object", "maxProperties": 32, "additionalProperties": { "type": "string", "maxLength": 1024 } },
        "payload": { "description": "Any JSON value, at most 64 KiB of text." },
        "payload_base64": { "type": "string", "description": "Bytes instead of JSON (standard base64, at most 64 KiB decoded)." },
        "payload_signature": { "type": "string", "pattern": "^[0-9a-fA-F]{128}$", "description": "The sender's Ed25519 signature over the payload bytes; receivers verify it." },
        "encrypted_to": { "type": "string", "description": "The recipient agent; the payload (base64) is ciphertext the server only routes." }
    });
    let schemas = json!({
        "BusStreamEvent": sse_event(json!({ "const": "message" }), json!({ "$ref": "#/components/schemas/BusMessage" }),
            vec![sse_other("dropped", json!({ "type": "object", "required": ["count", "total"], "properties": { "count": { "type": "integer" }, "total": { "type": "integer" } } }))]),
        "EphemeralPublish": { "type": "object", "required": ["subject"], "additionalProperties": false, "properties": publish_properties.clone() },
        "BusMessage": { "type": "object", "required": ["id", "timestamp_ms", "source", "subject", "priority"], "properties": merge(publish_properties, json!({
            "id": { "type": "string" }, "timestamp_ms": { "type": "integer" }, "source": { "type": "string", "description": "The authenticated sender." },
            "stream": { "type": "string" }, "stream_sequence": { "type": "integer" }, "delivery_count": { "type": "integer" } })) },
        "StreamList": { "type": "object", "properties": { "streams": { "type": "array", "items": { "$ref": "#/components/schemas/StreamInfo" } } } },
        "StreamInfo": { "type": "object", "properties": {
            "name": { "type": "string" }, "owner": { "type": "string" },
            "config": { "type": "object", "properties": { "subjects": { "type": "array", "items": { "type": "string" } },
                "max_messages": { "type": ["integer", "null"] }, "max_bytes": { "type": ["integer", "null"] }, "max_age_ms": { "type": ["integer", "null"] },
                "discard": { "enum": ["old", "new"] }, "duplicate_window_ms": { "type": "integer" } } },
            "created_at_ms": { "type": "integer" }, "messages": { "type": "integer" }, "bytes": { "type": "integer" },
            "first_sequence": { "type": ["integer", "null"] }, "last_sequence": { "type": "integer" }, "discarded": { "type": "integer" },
            "dead_letters": { "type": "integer" }, "dead_letters_dropped": { "type": "integer" }, "consumers": { "type": "array", "items": { "type": "string" } } } },
        "ConsumerInfo": { "type": "object", "properties": {
            "stream": { "type": "string" }, "name": { "type": "string" }, "creator": { "type": "string" },
            "config": { "type": "object" }, "created_at_ms": { "type": "integer" }, "cursor": { "type": "integer" }, "ack_floor": { "type": "integer" },
            "pending": { "type": "integer" }, "waiting": { "type": "integer" }, "pending_by_holder": { "type": "object", "additionalProperties": { "type": "integer" } },
            "delivered": { "type": "integer" }, "redelivered": { "type": "integer" }, "acked": { "type": "integer" }, "dead_lettered": { "type": "integer" } } },
        "StreamMessagesPage": { "type": "object", "properties": { "messages": { "type": "array", "items": { "$ref": "#/components/schemas/BusMessage" } },
            "next_from": { "type": "integer" } } },
        "DeadLetterPage": { "type": "object", "properties": { "dead_letters": { "type": "array", "items": { "type": "object", "properties": {
            "id": { "type": "integer" }, "consumer": { "type": "string" }, "delivery_count": { "type": "integer" }, "last_error": { "type": "string" },
            "reason": { "enum": ["max_deliver", "terminated"] }, "dead_at_ms": { "type": "integer" }, "message": { "$ref": "#/components/schemas/BusMessage" } } } },
            "next_after": { "type": "integer" } } },
        "PublishResponse": { "type": "object", "properties": { "messages": { "type": "array", "items": { "type": "object", "properties": {
            "id": { "type": "string" }, "delivered": { "type": "integer", "description": "Subscribers (a queue group counting once) it was handed to." } } } } } },
        "BusStats": { "type": "object", "properties": {
            "published": { "type": "integer" }, "delivered": { "type": "integer" }, "dropped": { "type": "integer" }, "unmatched": { "type": "integer" },
            "subscriptions": { "type": "array", "items": { "type": "object", "properties": {
                "id": { "type": "integer" }, "owner": { "type": "string" }, "subject": { "type": "string" }, "queue": { "type": "string" },
                "transport": { "enum": ["sse", "websocket", "request", "in_process"] }, "pending": { "type": "integer" }, "capacity": { "type": "integer" },
                "delivered": { "type": "integer" }, "dropped": { "type": "integer" } } } } } }
    });
    if let (Some(target), Value::Object(paths)) = (document["paths"].as_object_mut(), paths) {
        target.extend(paths);
    }
    if let (Some(target), Value::Object(schemas)) = (document["components"]["schemas"].as_object_mut(), schemas) {
        target.extend(schemas);
    }
    if let Some(schemes) = document["components"]["securitySchemes"].as_object_mut() {
        schemes.insert("publishSignature".to_owned(), json!({ "type": "apiKey", "in": "header", "name": "colony-signature",
            "description": "With colony-signer and colony-nonce: Ed25519 over `colony-publish-v2\\n<signer>\\n<path?query>\\n<nonce>\\n` followed by the body." }));
    }
}

fn merge_array(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Array(extra)) = (base.as_array_mut(), extra) {
        base.extend(extra);
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let document = document();
        let paths = document["paths"].as_object().unwrap();
        let mut documented: Vec<(String, String)> = paths
            .iter()
            .flat_map(|(path, operations)| {
                operations.as_object().unwrap().keys().map(move |method| (method.clone(), path.clone()))
            })
            .collect();
        let mut routes: Vec<(String, String)> =
            crate::http::ROUTES.iter().map(|(method, path)| ((*method).to_owned(), (*path).to_owned())).collect();
        documented.sort();
        routes.sort();
        assert_eq!(documented, routes);
    }

    #[test]
    fn every_command_and_event_is_documented_and_nothing_else() {
        let document = document();
        let mut documented: Vec<&str> = document["components"]["schemas"]["Command"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|schema| schema["properties"]["type"]["const"].as_str().unwrap())
            .collect();
        let mut kinds = colony_core::Command::KINDS.to_vec();
        documented.sort_unstable();
        kinds.sort_unstable();
        assert_eq!(documented, kinds, "the commands the document describes");
        let mut events: Vec<&str> = document["components"]["schemas"]["Event"]["properties"]["type"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| name.as_str().unwrap())
            .collect();
        let mut names = colony_core::EventKind::NAMES.to_vec();
        events.sort_unstable();
        names.sort_unstable();
        assert_eq!(events, names, "the events the document lists");
    }
}
