//! The bus's paths and schemas: ephemeral publishes, requests and subscriptions, the WebSocket
//! endpoint, and the reads of durable streams.

use serde_json::{Value, json};

use colony_core::bus::{ConsumerInfo, Pattern, StreamInfo};
use colony_core::{Name, Signature, Signer};
use colony_wire::bus::{self as wire_bus, BusStatsView, DeadLetterPage, StreamMessagesPage};

use super::operations::{
    merge, merge_array, ok_json, page_limit, problem_responses, read_operation, sse_event, sse_other,
};
use super::schemas::{Schemas, u64_schema};
use crate::bus::router::{BUFFER_MESSAGES_DEFAULT, BUFFER_MESSAGES_MAX};
use crate::http::streams;

/// The headers that sign an ephemeral publish.
fn publish_parameters(schemas: &mut Schemas) -> Value {
    let skew_seconds = std::time::Duration::from_millis(wire_bus::PUBLISH_SKEW_MS).as_secs();
    json!([
        { "name": "colony-signer", "in": "header", "required": true, "schema": schemas.of::<Signer>(), "description": "`operator` or an agent id." },
        { "name": wire_bus::PUBLISH_NONCE_HEADER, "in": "header", "required": true, "schema": u64_schema(),
          "description": format!("Unix microseconds, increasing per signer, within {skew_seconds} seconds of the server clock and not before it started.") },
        { "name": "colony-signature", "in": "header", "required": true, "schema": schemas.of::<Signature>(),
          "description": "Ed25519 over `colony-publish-v2\\n<signer>\\n<path?query>\\n<nonce>\\n` followed by the exact body." }
    ])
}

pub(super) fn bus_paths(schemas: &mut Schemas) -> Value {
    let name = schemas.of::<Name>();
    let publish_parameters = publish_parameters(schemas);
    let request_timeout = json!([{ "name": "timeout_ms", "in": "query", "schema": { "type": "integer", "minimum": 1,
        "maximum": wire_bus::REQUEST_TIMEOUT_MS_MAX, "default": wire_bus::REQUEST_TIMEOUT_MS_DEFAULT } }]);
    let stream_name = json!({ "name": "name", "in": "path", "required": true, "schema": name });
    let ephemeral_publish = schemas.of::<wire_bus::EphemeralPublish>();
    json!({
        "/v1/bus/publish": { "post": {
            "summary": "Publish ephemeral messages (fan-out in memory, not logged)",
            "description": format!("One message (an object) or up to {} (an array). The server stamps id, timestamp and the authenticated source. Halted agents are refused.", wire_bus::MESSAGES_PER_PUBLISH_MAX),
            "security": [{ "publishSignature": [] }],
            "parameters": publish_parameters,
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "oneOf": [
                ephemeral_publish.clone(),
                { "type": "array", "maxItems": wire_bus::MESSAGES_PER_PUBLISH_MAX, "items": ephemeral_publish.clone() } ] } } } },
            "responses": merge(ok_json(schemas.of::<wire_bus::PublishResponse>(), "Handed to the subscribers"), problem_responses(&["400", "401", "403", "408", "409", "413", "415", "503"]))
        } },
        "/v1/bus/request": { "post": {
            "summary": "Publish a request and wait for the first reply",
            "description": "The server sets `reply_to` to a fresh `_INBOX.…` subject that only it can read. 503 `no_responders` at once when nobody is subscribed; 504 `request_timeout` when no reply comes in time.",
            "security": [{ "publishSignature": [] }],
            "parameters": merge_array(publish_parameters.clone(), request_timeout),
            "requestBody": { "required": true, "content": { "application/json": { "schema": ephemeral_publish.clone() } } },
            "responses": merge(ok_json(schemas.of::<wire_bus::BusMessage>(), "The reply"), problem_responses(&["400", "401", "403", "408", "409", "413", "415", "429", "503", "504"]))
        } },
        "/v1/bus/subscribe": { "get": {
            "summary": "Subscribe as server-sent events",
            "description": "Each `message` event's data is a BusMessage. When this subscriber's buffer overflowed, a `dropped` event says how many of its oldest messages were lost (`{\"count\": N, \"total\": M}`). `agent.<id>.inbox` reaches only `<id>`.",
            "security": [{ "readToken": [] }, { "signedRead": [] }],
            "parameters": [
                { "name": "subject", "in": "query", "required": true, "schema": schemas.of::<Pattern>(), "description": "A NATS pattern: `*` one token, `>` the rest." },
                { "name": "queue", "in": "query", "schema": name, "description": "A queue group: each message goes to one member." },
                { "name": "buffer", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": BUFFER_MESSAGES_MAX, "default": BUFFER_MESSAGES_DEFAULT } },
                { "name": "access_token", "in": "query", "schema": { "type": "string" }, "description": "A read token, for clients that cannot set headers (a browser's EventSource)." }
            ],
            "responses": merge(json!({ "200": { "description": "An event stream", "content": { "text/event-stream": { "schema": Schemas::reference("BusStreamEvent") } } } }), problem_responses(&["400", "401", "403", "409", "429", "503"]))
        } },
        "/v1/bus/ws": { "get": {
            "summary": "The bus over WebSocket",
            "description": "Authenticated once at the upgrade (read credentials; a read token may subscribe but not publish). Client frames: `{\"op\":\"sub\",\"sid\",\"subject\",\"queue\"?}`, `{\"op\":\"unsub\",\"sid\"}`, `{\"op\":\"pub\",\"tag\"?,\"message\"}`, `{\"op\":\"request\",\"rid\",\"timeout_ms\"?,\"message\"}`, `{\"op\":\"ping\"}`. Server frames: `ok`, `msg` (sid, message), `dropped` (sid, count, total), `reply` (rid, message), `error` (about, problem), `pong`.",
            "security": [{ "readToken": [] }, { "signedRead": [] }],
            "responses": merge(json!({ "101": { "description": "Switching to the WebSocket protocol" } }), problem_responses(&["400", "401", "409", "503"]))
        } },
        "/v1/bus/stats": { "get": read_operation("Bus counters and open subscriptions (buffers, deliveries, drops)", schemas.of::<BusStatsView>(), json!([]), &[]) },
        "/v1/streams": { "get": read_operation("Every durable stream with its configuration and counts", Schemas::reference("StreamList"), json!([]), &[]) },
        "/v1/streams/{name}": { "get": read_operation("One stream", schemas.of::<StreamInfo>(), json!([stream_name]), &["400", "404"]) },
        "/v1/streams/{name}/messages": { "get": read_operation("Stored messages by sequence (changes no consumer)", schemas.of::<StreamMessagesPage>(), json!([
            stream_name,
            { "name": "from", "in": "query", "schema": merge(u64_schema(), json!({ "default": 1 })) },
            page_limit(streams::PAGE_MAX, streams::PAGE_DEFAULT) ]), &["400", "404"]) },
        "/v1/streams/{name}/consumers/{consumer}": { "get": read_operation("A consumer's configuration, position and counts", schemas.of::<ConsumerInfo>(), json!([
            stream_name,
            { "name": "consumer", "in": "path", "required": true, "schema": name } ]), &["400", "404"]) },
        "/v1/streams/{name}/dead_letters": { "get": read_operation("Messages consumers gave up on, with delivery counts and last errors", schemas.of::<DeadLetterPage>(), json!([
            stream_name,
            { "name": "after", "in": "query", "schema": u64_schema() },
            page_limit(streams::PAGE_MAX, streams::PAGE_DEFAULT) ]), &["400", "404"]) },
        "/v1/metrics": { "get": {
            "summary": "Counters in the Prometheus text format (entries, commands, bus deliveries and drops)",
            "security": [{ "readToken": [] }, { "signedRead": [] }],
            "responses": merge(json!({ "200": { "description": "Prometheus text exposition format 0.0.4", "content": { "text/plain": { "schema": { "type": "string" } } } } }), problem_responses(&["401", "503"]))
        } }
    })
}

/// The schemas the derived ones leave out: the events of a subscription and the list of streams.
pub(super) fn add_bus(schemas: &mut Schemas) {
    let bus_message = schemas.of::<wire_bus::BusMessage>();
    let stream_info = schemas.of::<StreamInfo>();
    schemas.add("BusStreamEvent", sse_event(json!({ "const": "message" }), bus_message,
        vec![sse_other("dropped", json!({ "type": "object", "required": ["count", "total"], "properties": { "count": { "type": "integer" }, "total": { "type": "integer" } } }))]));
    schemas.add("StreamList", json!({ "type": "object", "required": ["streams"], "properties": { "streams": { "type": "array", "items": stream_info } } }));
}
