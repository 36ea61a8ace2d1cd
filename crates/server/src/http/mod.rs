//! The HTTP API under `/v1`.
//!
//! - Writes (`POST /v1/commands`, `POST /v1/batch`) take a signed envelope; see [`writes`].
//! - The ephemeral bus (`/v1/bus/…`): signed publishes and requests, subscriptions over SSE and
//!   WebSocket; see [`bus`] and [`bus_socket`].
//! - Reads take a signed read request or an operator-issued bearer token; see [`auth`].
//! - Errors are RFC 9457 problem documents with stable codes: every handler returns
//!   `Result<_, ApiError>` (see [`error`]), and query strings and path parameters arrive checked and
//!   typed through the extractors of [`extract`].
//! - `GET /v1/openapi.json` describes all of it; see [`openapi`].

pub mod auth;
pub mod body;
pub mod bus;
pub mod bus_socket;
pub mod coordination;
pub mod error;
pub mod extract;
pub mod governance;
pub mod kv;
pub mod ledger;
pub mod log;
pub mod market;
pub mod metrics;
pub mod openapi;
pub mod reads;
pub mod stigmergy;
pub mod streams;
pub mod waiting;
pub mod writes;

#[cfg(test)]
mod coordination_tests;
#[cfg(test)]
mod governance_tests;
#[cfg(test)]
mod kv_tests;
#[cfg(test)]
mod market_tests;
#[cfg(test)]
mod stigmergy_tests;
#[cfg(test)]
mod tests;

use std::sync::{Arc, RwLockReadGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use colony_core::State;
use colony_wire::problem::ServerCode;

pub use self::error::ApiError;
pub use self::extract::{ValidPath, ValidQuery};
use crate::clock::Clock;
use crate::driver::{DriverHandle, Shared};
use crate::server::ServerSettings;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The driver (writes) and the shared state (reads).
    pub driver: DriverHandle,
    /// The clock, for signed-read freshness.
    pub clock: Arc<dyn Clock>,
    /// Longest a write waits for its commit.
    pub request_timeout: Duration,
    /// Signers' keys, decompressed once for signature checks.
    pub keys: Arc<KeyCache>,
    /// Turns true when the server shuts down, so that endless event streams end and the graceful
    /// shutdown (which waits for every connection) can complete.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The ephemeral message bus.
    pub bus: Arc<crate::bus::EphemeralBus>,
    /// Requests waiting for something to happen (fetches with `colony-wait-ms`, key-value watches
    /// with `wait_ms`), bounded.
    pub waiting_requests: Arc<waiting::WaitingRequests>,
    /// When this server started (its clock). Signed stream opens and publishes stamped before it
    /// are refused: the windows that make them single-use live in memory and start empty, so
    /// without this a request captured before a restart could be replayed after it.
    pub started_at_ms: u64,
    /// Bytes of request bodies in flight across all connections, bounded.
    pub body_budget: Arc<body::BodyBudget>,
    /// A read-only connection to the log, for proofs.
    pub log_reader: Arc<std::sync::Mutex<log::LogReader>>,
}

/// Decompressed public keys by their bytes. Decompressing an Ed25519 key costs a fifth of a
/// verification, and the same few keys sign most requests. Bounded: it is cleared when it grows past
/// `KEY_CACHE_ENTRIES_MAX`.
#[derive(Default)]
pub struct KeyCache {
    keys: std::sync::RwLock<std::collections::HashMap<colony_core::PublicKey, colony_wire::keys::DecodedKey>>,
}

/// Keys the cache holds at most: about 25 MB of decompressed keys (some 250 bytes each with the map's
/// overhead). Not the agent limit: a million agents would make it a quarter of a gigabyte for a cache
/// whose worth is the few keys that sign most requests, and self-registrations claim keys of their
/// choosing, so its size must not follow what clients send. Clearing it only costs decompressions.
const KEY_CACHE_ENTRIES_MAX: usize = 100_000;

impl KeyCache {
    /// The decompressed key, or `None` for bytes that are not a valid key.
    pub fn get(&self, key: &colony_core::PublicKey) -> Option<colony_wire::keys::DecodedKey> {
        if let Some(decoded) = self.keys.read().expect("key cache lock").get(key) {
            return Some(*decoded);
        }
        let decoded = colony_wire::keys::decode_key(key)?;
        let mut keys = self.keys.write().expect("key cache lock");
        if keys.len() > KEY_CACHE_ENTRIES_MAX {
            keys.clear();
        }
        keys.insert(*key, decoded);
        Some(decoded)
    }

    /// Whether `signature` over `message` verifies with `key`.
    pub fn verify(&self, key: &colony_core::PublicKey, message: &[u8], signature: &[u8; 64]) -> bool {
        self.get(key).is_some_and(|decoded| colony_wire::keys::verify_decoded(&decoded, message, signature))
    }
}

impl AppState {
    /// The state, read-locked; see [`read_state`].
    pub fn state(&self) -> Result<RwLockReadGuard<'_, State>, ApiError> {
        read_state(&self.driver.shared)
    }

    /// The state for a server with these settings.
    pub fn new(
        driver: DriverHandle,
        settings: &ServerSettings,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> AppState {
        AppState {
            clock: Arc::clone(&settings.clock),
            request_timeout: settings.request_timeout,
            keys: Arc::new(KeyCache::default()),
            shutdown,
            bus: Arc::clone(&driver.shared.bus),
            waiting_requests: Arc::default(),
            started_at_ms: settings.clock.now_ms(),
            body_budget: Arc::new(body::BodyBudget::new(settings.body_budget_bytes)),
            log_reader: Arc::new(std::sync::Mutex::new(log::LogReader::new(
                settings.data_dir.join(crate::server::LOG_FILE_NAME),
            ))),
            driver,
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::new(ServerCode::NotFound, "no such endpoint; see /v1/openapi.json")
}

/// A known path with the wrong method: a problem document like every other error (axum keeps adding
/// the `Allow` header).
async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ServerCode::MethodNotAllowed,
        "this endpoint does not take this method; see the Allow header and /v1/openapi.json",
    )
}

/// The shared state, read-locked, or 503 `unavailable` if a writer panicked while holding the lock:
/// the state may then be half-changed, so it is refused to readers rather than served (or allowed to
/// panic every handler that reads it). Readiness already reports the stopped writer.
pub fn read_state(shared: &Shared) -> Result<RwLockReadGuard<'_, State>, ApiError> {
    shared.state.read().map_err(|_| ApiError::state_unavailable())
}

/// Every route, with its method: the OpenAPI test checks the document against this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/commands"),
    ("post", "/v1/batch"),
    ("get", "/v1/agents"),
    ("get", "/v1/agents/{id}"),
    ("get", "/v1/agents/{id}/costs"),
    ("get", "/v1/agents/{id}/reputation"),
    ("get", "/v1/wallets/{agent}"),
    ("get", "/v1/ledger"),
    ("get", "/v1/escrows"),
    ("get", "/v1/escrows/{id}"),
    ("get", "/v1/tasks"),
    ("get", "/v1/tasks/{id}"),
    ("get", "/v1/proposals"),
    ("get", "/v1/proposals/{id}"),
    ("get", "/v1/pheromones"),
    ("get", "/v1/pheromones/{map}"),
    ("get", "/v1/pheromones/{map}/top"),
    ("get", "/v1/pheromones/{map}/signals/{key}"),
    ("get", "/v1/pheromones/{map}/tasks"),
    ("get", "/v1/leases"),
    ("get", "/v1/locks"),
    ("get", "/v1/locks/{lock}"),
    ("get", "/v1/elections/{election}"),
    ("get", "/v1/barriers"),
    ("get", "/v1/barriers/{barrier}"),
    ("get", "/v1/vote-elections"),
    ("get", "/v1/vote-elections/{election}"),
    ("get", "/v1/kv"),
    ("get", "/v1/kv/{namespace}"),
    ("get", "/v1/kv/{namespace}/keys"),
    ("get", "/v1/kv/{namespace}/keys/{key}"),
    ("get", "/v1/kv/{namespace}/changes"),
    ("get", "/v1/config"),
    ("get", "/v1/status"),
    ("get", "/v1/state/hash"),
    ("get", "/v1/log/checkpoint"),
    ("get", "/v1/log/proof"),
    ("get", "/v1/events"),
    ("post", "/v1/bus/publish"),
    ("post", "/v1/bus/request"),
    ("get", "/v1/bus/subscribe"),
    ("get", "/v1/bus/ws"),
    ("get", "/v1/bus/stats"),
    ("get", "/v1/metrics"),
    ("get", "/v1/streams"),
    ("get", "/v1/streams/{name}"),
    ("get", "/v1/streams/{name}/messages"),
    ("get", "/v1/streams/{name}/consumers/{consumer}"),
    ("get", "/v1/streams/{name}/dead_letters"),
    ("get", "/v1/health/live"),
    ("get", "/v1/health/ready"),
    ("get", "/v1/openapi.json"),
];

/// The router.
pub fn router(state: AppState) -> Router {
    let authenticated_reads = Router::new()
        .route("/v1/agents", get(reads::list_agents))
        .route("/v1/agents/{id}", get(reads::get_agent))
        .route("/v1/agents/{id}/costs", get(ledger::get_costs))
        .route("/v1/agents/{id}/reputation", get(market::get_reputation))
        .route("/v1/wallets/{agent}", get(ledger::get_wallet))
        .route("/v1/ledger", get(ledger::get_ledger))
        .route("/v1/escrows", get(ledger::list_escrows))
        .route("/v1/escrows/{id}", get(ledger::get_escrow))
        .route("/v1/tasks", get(market::list_tasks))
        .route("/v1/tasks/{id}", get(market::get_task))
        .route("/v1/proposals", get(governance::list_proposals))
        .route("/v1/proposals/{id}", get(governance::get_proposal))
        .route("/v1/pheromones", get(stigmergy::list_maps))
        .route("/v1/pheromones/{map}", get(stigmergy::get_map))
        .route("/v1/pheromones/{map}/top", get(stigmergy::top_trails))
        .route("/v1/pheromones/{map}/signals/{key}", get(stigmergy::sense_signal))
        .route("/v1/pheromones/{map}/tasks", get(stigmergy::list_task_signals))
        .route("/v1/leases", get(coordination::list_leases))
        .route("/v1/locks", get(coordination::list_locks))
        .route("/v1/locks/{lock}", get(coordination::get_lock))
        .route("/v1/elections/{election}", get(coordination::get_election))
        .route("/v1/barriers", get(coordination::list_barriers))
        .route("/v1/barriers/{barrier}", get(coordination::get_barrier))
        .route("/v1/vote-elections", get(coordination::list_vote_elections))
        .route("/v1/vote-elections/{election}", get(coordination::get_vote_election))
        .route("/v1/kv", get(kv::list_namespaces))
        .route("/v1/kv/{namespace}", get(kv::get_namespace))
        .route("/v1/kv/{namespace}/keys", get(kv::list_entries))
        .route("/v1/kv/{namespace}/keys/{*key}", get(kv::get_entry))
        .route("/v1/kv/{namespace}/changes", get(kv::watch_changes))
        .route("/v1/config", get(reads::get_config))
        .route("/v1/status", get(reads::get_status))
        .route("/v1/state/hash", get(reads::get_state_hash))
        .route("/v1/log/checkpoint", get(log::get_checkpoint))
        .route("/v1/log/proof", get(log::get_proof))
        .route("/v1/events", get(reads::stream_events))
        .route("/v1/bus/subscribe", get(bus::subscribe))
        .route("/v1/bus/ws", get(bus_socket::upgrade))
        .route("/v1/bus/stats", get(bus::stats))
        .route("/v1/metrics", get(metrics::serve))
        .route("/v1/streams", get(streams::list_streams))
        .route("/v1/streams/{name}", get(streams::get_stream))
        .route("/v1/streams/{name}/messages", get(streams::list_messages))
        .route("/v1/streams/{name}/consumers/{consumer}", get(streams::get_consumer))
        .route("/v1/streams/{name}/dead_letters", get(streams::list_dead_letters))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_read_auth));
    Router::new()
        .route("/v1/commands", post(writes::submit_single))
        .route("/v1/batch", post(writes::submit_batch))
        .route("/v1/bus/publish", post(bus::publish))
        .route("/v1/bus/request", post(bus::request))
        .merge(authenticated_reads)
        .route("/v1/health/live", get(reads::live))
        .route("/v1/health/ready", get(reads::ready))
        .route("/v1/openapi.json", get(openapi::serve))
        // After every route: it applies to the routes present when it is called.
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}
