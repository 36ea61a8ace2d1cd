//! The pieces operations are made of: responses, the signed write, the authenticated read, and the
//! events of a server-sent event stream.

use serde_json::{Value, json};

use colony_core::{Signature, Signer};
use colony_wire::views::SubmitResponse;

use super::schemas::Schemas;
use crate::http::body::UNREGISTERED_BODY_BYTES_MAX;

/// A problem document (RFC 9457) for each status in `statuses`.
pub(super) fn problem_responses(statuses: &[&str]) -> Value {
    let mut responses = serde_json::Map::new();
    for status in statuses {
        responses.insert(
            (*status).to_owned(),
            json!({ "description": "A problem (RFC 9457)", "content": { "application/problem+json": { "schema": Schemas::reference("Problem") } } }),
        );
    }
    Value::Object(responses)
}

/// `base` with the members of `extra` added (both objects).
pub(super) fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// `base` with the items of `extra` appended (both arrays).
pub(super) fn merge_array(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Array(extra)) = (base.as_array_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// A 200 answer of JSON matching `schema`.
pub(super) fn ok_json(schema: Value, description: &str) -> Value {
    json!({ "200": { "description": description, "content": { "application/json": { "schema": schema } } } })
}

/// Problems a signed write can be answered with: a malformed envelope (400), no valid signature or an
/// unknown signer (401), a refused command (403, 404, 409, 422, 429), a body that did not arrive in
/// time (408), too large (413) or not JSON (415), a server that cannot take it now (503).
const WRITE_STATUSES: &[&str] = &["400", "401", "403", "404", "408", "409", "413", "415", "422", "429", "503"];

/// A signed write of the envelope schema named `envelope`.
pub(super) fn write_operation(schemas: &mut Schemas, summary: &str, description: &str, envelope: &str) -> Value {
    json!({
        "summary": summary,
        "description": description,
        "security": [{ "envelopeSignature": [] }],
        "parameters": [{
            "name": "colony-signer", "in": "header", "required": true,
            "description": format!("`operator` or an agent id: the envelope's signer. Bodies over {UNREGISTERED_BODY_BYTES_MAX} bytes are read only from registered signers."),
            "schema": schemas.of::<Signer>()
        }, {
            "name": "colony-signature", "in": "header", "required": true,
            "description": "Ed25519 signature (hex) over `colony-envelope-v1\\n` followed by the exact body bytes.",
            "schema": schemas.of::<Signature>()
        }],
        "requestBody": { "required": true, "content": { "application/json": { "schema": Schemas::reference(envelope) } } },
        "responses": merge(ok_json(schemas.of::<SubmitResponse>(), "Durable and applied"), problem_responses(WRITE_STATUSES))
    })
}

/// A read: `statuses` are the problems it can answer with besides 401 (no valid credentials) and 503
/// (the state unreadable after a writer failure).
pub(super) fn read_operation(summary: &str, schema: Value, parameters: Value, statuses: &[&str]) -> Value {
    let mut statuses = statuses.to_vec();
    statuses.extend(["401", "503"]);
    json!({
        "summary": summary,
        "security": [{ "readToken": [] }, { "signedRead": [] }],
        "parameters": parameters,
        "responses": merge(ok_json(schema, "OK"), problem_responses(&statuses))
    })
}

/// A `limit` query parameter: page sizes from 1 to `maximum`, `default` when absent.
pub(super) fn page_limit(maximum: usize, default: usize) -> Value {
    json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": maximum, "default": default } })
}

/// One server-sent event (its `id`, `event` and `data` fields) whose data, for the event names in
/// `kinds`, is JSON matching `data`; `others` lists the other events the stream may send.
pub(super) fn sse_event(kinds: Value, data: Value, others: Vec<Value>) -> Value {
    let mut variants = vec![
        json!({ "properties": { "event": kinds, "data": { "contentMediaType": "application/json", "contentSchema": data } } }),
    ];
    variants.extend(others);
    json!({ "type": "object", "required": ["data"], "properties": {
        "id": { "type": "string" }, "event": { "type": "string" }, "data": { "type": "string" } },
        "oneOf": variants })
}

/// An event named `name` whose data is JSON matching `data`.
pub(super) fn sse_other(name: &str, data: Value) -> Value {
    json!({ "required": ["event"], "properties": { "event": { "const": name }, "data": { "contentMediaType": "application/json", "contentSchema": data } } })
}
