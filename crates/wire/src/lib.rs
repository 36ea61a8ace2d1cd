//! Colony's wire formats: the JSON of the HTTP API, signed envelopes, log records and key files.
//!
//! # Layout
//! - [`envelope`]: the signed write request, how it is signed and verified; `commands.rs` decodes
//!   its commands as the bytes stream by.
//! - [`read_auth`]: how reads are authenticated (signed read requests, bearer tokens).
//! - [`keys`]: key pairs and the key-file format.
//! - [`record`]: how log entries are encoded as records of the command log.
//! - [`checkpoint`]: the operator's signed statements about the log's chain hash.
//! - [`views`]: the JSON shapes of responses.
//! - [`problem`]: RFC 9457 problem details and the stable error codes.
//!
//! # API boundary
//! This crate and the server are the only places that know JSON. Core types derive serde's traits so
//! that they can be carried here, but core never chooses a format for them.

pub mod bus;
pub mod checkpoint;
mod commands;
pub mod coordination;
pub mod envelope;
pub mod governance;
pub mod keys;
pub mod kv;
pub mod problem;
pub mod read_auth;
pub mod record;
pub mod sealed;
pub mod stigmergy;
pub mod views;

pub use envelope::{Envelope, EnvelopeError, SignedEnvelope};
pub use keys::{KeyFile, KeyFileError, KeyPair};
pub use problem::{Problem, ServerCode};
