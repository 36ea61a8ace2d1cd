//! What the fuzz targets share.
//!
//! # Layout
//! - [`checked`]: [`checked::apply`], which applies an entry and checks what must hold after every
//!   entry: every invariant, an entry that does not apply changes nothing, and commands that were
//!   refused changed nothing.
//! - [`recipes`]: entry streams built from the fuzzer's bytes (the state machine's target).
//! - [`mutation`]: byte mutations of a valid document (snapshots, log records).
//! - [`fixture`]: a small swarm with something of everything in it, for the decoders' targets.

pub mod checked;
pub mod fixture;
pub mod mutation;
pub mod recipes;
