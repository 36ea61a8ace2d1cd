//! Colony's server: the single-writer driver, recovery, the offline audit, and the HTTP API.
//!
//! # Layout
//! - [`server`]: start and stop a server over a data directory.
//! - [`driver`]: the single writer: group commit to the log, then apply, then answer.
//! - [`recovery`]: newest valid snapshot plus replay.
//! - [`audit`]: the offline audit (`colony audit verify`).
//! - [`log_records`]: log records decoded back into core entries.
//! - [`events`]: recent events and live fan-out for the event stream.
//! - [`bus`]: the ephemeral message bus (subscriptions, queue groups, bounded buffers, fan-out).
//! - [`http`]: routes, authentication, problem responses, the OpenAPI document.
//! - [`clock`]: the injected clock.
//!
//! # Architecture invariant
//! Only this crate knows HTTP. Core sees decoded, authenticated entries; the log sees opaque records.

// The OpenAPI document (`http/openapi.rs`) is one large `json!` literal.
#![recursion_limit = "256"]

pub mod audit;
pub mod bus;
pub mod clock;
pub mod driver;
pub mod events;
pub mod history;
pub mod http;
pub mod listener;
pub mod log_records;
pub mod recovery;
pub mod server;

pub use clock::{Clock, ManualClock, SystemClock};
pub use server::{RunningServer, ServerSettings, StartError, StartReport, start, verify_and_recover};
