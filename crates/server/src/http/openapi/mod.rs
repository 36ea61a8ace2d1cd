//! The OpenAPI 3.1 document, served at `GET /v1/openapi.json`.
//!
//! The schemas of the commands and of what they carry (ids, names, keys, amounts, subjects, the
//! swarm configuration), of ephemeral messages and of the answers (wire's views and problems, core's
//! escrows and stream reports) are derived from the Rust types with schemars, limits included, so
//! the document says what the decoders accept and the server writes. Routes, parameters, envelopes
//! and event streams are written here beside the routes they describe, every number in them named
//! by a constant. Tests check that every route in [`super::ROUTES`] is documented and nothing else
//! is, that every command and event is, and that no number is written out in these files.
//!
//! - `schemas.rs`: the schema generator, the envelopes and the events.
//! - `paths.rs`: the paths of writes, the registry's and the ledger's reads and the event stream.
//! - `market.rs`: the task market's paths.
//! - `governance.rs`: governance's paths.
//! - `stigmergy.rs`: pheromone maps' paths.
//! - `coordination.rs`: leases', locks' and barriers' paths.
//! - `kv.rs`: the key-value store's paths.
//! - `bus.rs`: the bus's and the durable streams' paths, and the schemas no type derives there.
//! - `operations.rs`: the pieces operations are made of.

mod bus;
mod coordination;
mod governance;
mod kv;
mod market;
mod operations;
mod paths;
mod schemas;
mod stigmergy;
#[cfg(test)]
mod tests;

use axum::Json;
use serde_json::{Value, json};

use colony_wire::read_auth::READ_SIGNATURE_SKEW_MS;
use schemas::Schemas;

/// The version of the OpenAPI specification the document follows.
const OPENAPI_VERSION: &str = "3.1.0";

/// `GET /v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}

/// The whole document.
pub fn document() -> Value {
    let mut schemas = Schemas::new();
    let mut paths = paths::core_paths(&mut schemas);
    let bus_paths = bus::bus_paths(&mut schemas);
    let market_paths = market::market_paths(&mut schemas);
    let governance_paths = governance::governance_paths(&mut schemas);
    let stigmergy_paths = stigmergy::stigmergy_paths(&mut schemas);
    let coordination_paths = coordination::coordination_paths(&mut schemas);
    let kv_paths = kv::kv_paths(&mut schemas);
    for more in [bus_paths, market_paths, governance_paths, stigmergy_paths, coordination_paths, kv_paths] {
        if let (Some(paths), Value::Object(more)) = (paths.as_object_mut(), more) {
            paths.extend(more);
        }
    }
    schemas::add_core(&mut schemas);
    bus::add_bus(&mut schemas);
    let skew_seconds = std::time::Duration::from_millis(READ_SIGNATURE_SKEW_MS).as_secs();
    json!({
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Colony",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Coordination server for swarms of AI agents. Every write is a signed envelope; every read is authenticated."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "envelopeSignature": { "type": "apiKey", "in": "header", "name": "colony-signature", "description": "Ed25519 over the envelope body; the signer is named in the body and in the colony-signer header." },
                "readToken": { "type": "http", "scheme": "bearer", "description": "A token issued by the operator with read_token.issue." },
                "signedRead": { "type": "apiKey", "in": "header", "name": "colony-signature",
                    "description": format!("With colony-signer and colony-timestamp-ms: Ed25519 over `colony-read-v2\\n<signer>\\n<METHOD>\\n<path?query>\\n<timestamp_ms>`, within {skew_seconds} seconds of the server clock; single-use on stream endpoints (and not stamped before the server started).") },
                "publishSignature": { "type": "apiKey", "in": "header", "name": "colony-signature",
                    "description": "With colony-signer and colony-nonce: Ed25519 over `colony-publish-v2\\n<signer>\\n<path?query>\\n<nonce>\\n` followed by the body." }
            },
            "schemas": schemas.finish()
        }
    })
}
