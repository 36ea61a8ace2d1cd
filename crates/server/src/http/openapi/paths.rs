//! The paths of writes, of the registry's and the ledger's reads, of the event stream and of the
//! server's own endpoints.

use serde_json::{Value, json};

use colony_core::{AgentId, Escrow, Name, SwarmConfig, limits};
use colony_wire::views::{
    AgentPage, AgentView, CheckpointView, CostRollupView, EscrowPage, LedgerView, LogProofView, StateHashView,
    StatusView, WalletView,
};

use super::operations::{merge, page_limit, problem_responses, read_operation, sse_event, sse_other, write_operation};
use super::schemas::{Schemas, u64_schema};
use crate::http::{ledger, reads};

/// Digits every value of an unsigned type whose largest value is `maximum` may have without
/// reaching past it: one fewer than the largest has.
fn digits_below(maximum: u64) -> u32 {
    maximum.ilog10()
}

/// The event stream's `Last-Event-ID`: `<sequence>-<index>`, as the stream sent it, or empty.
fn last_event_id_pattern() -> String {
    let sequence_digits = digits_below(u64::MAX);
    let index_digits = digits_below(u32::MAX.into());
    format!("^([1-9][0-9]{{0,{}}}-[0-9]{{1,{index_digits}}})?$", sequence_digits - 1)
}

pub(super) fn core_paths(schemas: &mut Schemas) -> Value {
    let agent_id = schemas.of::<AgentId>();
    let name = schemas.of::<Name>();
    let list_parameters = json!([
        { "name": "role", "in": "query", "schema": name },
        { "name": "status", "in": "query", "schema": { "enum": colony_wire::views::AGENT_STATUSES } },
        { "name": "capability", "in": "query", "schema": name },
        { "name": "after", "in": "query", "schema": agent_id, "description": "Pagination: the `next_after` of the previous page." },
        page_limit(reads::AGENTS_PAGE_MAX, reads::AGENTS_PAGE_DEFAULT)
    ]);
    let event_stream_event = sse_event(
        json!({ "enum": colony_core::EventKind::NAMES }),
        schemas.of::<colony_core::Event>(),
        vec![sse_other(
            "lagged",
            json!({ "type": "object", "required": ["missed"], "properties": { "missed": { "type": "integer" }, "detail": { "type": "string" } } }),
        )],
    );
    schemas.add("EventStreamEvent", event_stream_event);
    let by_id = |parameter: &str, schema: &Value| json!([{ "name": parameter, "in": "path", "required": true, "schema": schema }]);
    json!({
        "/v1/commands": { "post": write_operation(schemas, "Submit one command", "The envelope must carry exactly one command. A refused command is answered with its problem document.", "SingleCommandEnvelope") },
        "/v1/batch": { "post": write_operation(schemas, "Submit many commands in one envelope",
            &format!("Up to {} commands, one signature; each command succeeds or fails on its own.", limits::COMMANDS_PER_ENVELOPE_MAX), "Envelope") },
        "/v1/agents": { "get": read_operation("List agents, ordered by id", schemas.of::<AgentPage>(), list_parameters, &["400"]) },
        "/v1/agents/{id}": { "get": read_operation("One agent", schemas.of::<AgentView>(), by_id("id", &agent_id), &["400", "404"]) },
        "/v1/agents/{id}/costs": { "get": read_operation("What an agent and everything it spawned spent and earned", schemas.of::<CostRollupView>(), by_id("id", &agent_id), &["400", "404"]) },
        "/v1/wallets/{agent}": { "get": read_operation("An agent's wallet", schemas.of::<WalletView>(), by_id("agent", &agent_id), &["400", "404"]) },
        "/v1/ledger": { "get": read_operation("The books as a whole, and whether they balance (totals kept as money moves); with verify=true, the operator's full check of every invariant", schemas.of::<LedgerView>(), json!([
            { "name": "verify", "in": "query", "schema": { "type": "boolean", "default": false }, "description": "Check every wallet and escrow (the operator only; it reads the whole ledger)." } ]), &["400", "403"]) },
        "/v1/escrows": { "get": read_operation("Escrows by id, filtered; with payer and task_id, the look-up by task", schemas.of::<EscrowPage>(), json!([
            { "name": "payer", "in": "query", "schema": agent_id }, { "name": "payee", "in": "query", "schema": agent_id },
            { "name": "state", "in": "query", "schema": { "enum": ["locked", "released", "refunded", "expired", "disputed", "resolved"] } },
            { "name": "task_id", "in": "query", "schema": name }, { "name": "after", "in": "query", "schema": u64_schema() },
            page_limit(ledger::ESCROWS_PAGE_MAX, ledger::ESCROWS_PAGE_DEFAULT) ]), &["400"]) },
        "/v1/escrows/{id}": { "get": read_operation("One escrow", schemas.of::<Escrow>(), by_id("id", &u64_schema()), &["400", "404"]) },
        "/v1/config": { "get": read_operation("The swarm configuration", schemas.of::<SwarmConfig>(), json!([]), &[]) },
        "/v1/status": { "get": read_operation("Server status and counters", schemas.of::<StatusView>(), json!([]), &[]) },
        "/v1/state/hash": { "get": read_operation("The canonical state hash", schemas.of::<StateHashView>(), json!([]), &[]) },
        "/v1/log/checkpoint": { "get": read_operation("The newest checkpoint the operator signed over the log's chain hash", schemas.of::<CheckpointView>(), json!([]), &["404"]) },
        "/v1/log/proof": { "get": read_operation("The record digests from an entry to the first signed checkpoint after it: folded onto the entry's chain hash (a write's receipt), they give the checkpoint's", schemas.of::<LogProofView>(), json!([
            { "name": "sequence", "in": "query", "required": true, "schema": { "type": "integer", "minimum": 1, "maximum": u64::MAX }, "description": "The entry to prove (a write's `sequence`)." } ]), &["400", "404", "409"]) },
        "/v1/events": { "get": {
            "summary": "Server-sent events of state changes, resumable",
            "security": [{ "readToken": [] }, { "signedRead": [] }],
            "parameters": [
                { "name": "from", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": u64::MAX }, "description": "First entry sequence to include (entries are numbered from 1). One whose events are no longer retained is answered with 410." },
                { "name": "access_token", "in": "query", "schema": { "type": "string" }, "description": "A read token, for clients that cannot set headers (a browser's EventSource)." },
                { "name": "Last-Event-ID", "in": "header", "schema": { "type": "string", "pattern": last_event_id_pattern() }, "description": "Resume after this event id (`<sequence>-<index>`, as the stream sent it); empty when none was received." }
            ],
            "responses": merge(json!({ "200": { "description": "An event stream; each event's data is an Event", "content": { "text/event-stream": { "schema": Schemas::reference("EventStreamEvent") } } } }),
                problem_responses(&["400", "401", "409", "410", "503"]))
        } },
        "/v1/health/live": { "get": { "summary": "Liveness", "responses": { "200": { "description": "The process answers" } } } },
        "/v1/health/ready": { "get": { "summary": "Readiness", "responses": merge(json!({ "200": { "description": "Accepting writes" } }), problem_responses(&["503"])) } },
        "/v1/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": format!("OpenAPI {}", super::OPENAPI_VERSION) } } } }
    })
}
