//! Test support for Colony: deterministic keys, well-formed log entries, an in-memory swarm, and
//! proptest strategies for random entry streams.
//!
//! # Layout
//! - [`keys`]: keys, digests, ids and names derived deterministically from text. Core never verifies
//!   signatures, so a test key is just a stable 32-byte value per name.
//! - [`coordination`]: lease and lock commands for generated streams.
//! - [`commands`]: builders for every [`Command`](colony_core::Command) with test-friendly defaults.
//! - [`factory`]: [`EntryFactory`], which makes entries with consecutive sequence numbers, a clock
//!   that moves only when told to, and increasing nonces per signer.
//! - [`sim`]: [`SwarmBuilder`] and [`Simulator`], a [`State`](colony_core::State) driven entry by
//!   entry, with invariants checked after each one.
//! - [`outcome`]: [`OutcomeExt`], one-line accessors for assertions on outcomes.
//! - [`kv`]: key-value store commands for generated streams.
//! - [`stigmergy`]: pheromone map commands for generated streams.
//! - [`strategies`]: proptest strategies for random, deterministic (given the seed) streams of valid
//!   and invalid entries covering every command.
//!
//! # Example
//! ```
//! use colony_testkit::{OutcomeExt, Simulator, commands};
//!
//! let mut swarm = Simulator::new();
//! assert!(swarm.register("scout-1", "scout").all_accepted());
//! swarm.advance_ms(1_000);
//! assert!(swarm.agent("scout-1", vec![commands::heartbeat()]).all_accepted());
//! assert_eq!(swarm.agent_state("scout-1").last_heartbeat_ms, swarm.now_ms());
//! ```
//!
//! Modules refer to each other with `super::` paths only, so that a crate that cannot depend on this
//! one (core's own integration tests) can include the module files with `#[path]`.

pub mod commands;
pub mod coordination;
pub mod factory;
pub mod governance;
pub mod keys;
pub mod kv;
pub mod market;
pub mod outcome;
pub mod sim;
pub mod stigmergy;
pub mod strategies;

pub use factory::{DEFAULT_START_MS, EntryFactory};
pub use keys::{agent_id, digest_for, hashlock_for, key_for, name, names, operator_key, wrong_key_for};
pub use outcome::OutcomeExt;
pub use sim::{Simulator, SwarmBuilder};
pub use strategies::{Scenario, ScenarioConfig};

#[cfg(test)]
mod tests;
