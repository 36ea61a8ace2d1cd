//! The testkit, for core's own integration tests.
//!
//! `colony-testkit` depends on `colony-core`, and core's manifest has no dev-dependency on it, so these
//! tests compile the testkit's module files directly (its modules only refer to each other through
//! `super::`, which makes that possible). With `colony-testkit = { workspace = true }` in core's
//! `[dev-dependencies]`, this file can become `pub use colony_testkit::*;`.

#![allow(dead_code, unused_imports)]

#[path = "../../../testkit/src/commands.rs"]
pub mod commands;
#[path = "../../../testkit/src/factory.rs"]
pub mod factory;
#[path = "../../../testkit/src/keys.rs"]
pub mod keys;
#[path = "../../../testkit/src/outcome.rs"]
pub mod outcome;
#[path = "../../../testkit/src/sim.rs"]
pub mod sim;
#[path = "../../../testkit/src/strategies.rs"]
pub mod strategies;

pub use factory::{DEFAULT_START_MS, EntryFactory};
pub use keys::{agent_id, digest_for, key_for, name, names, operator_key, wrong_key_for};
pub use outcome::OutcomeExt;
pub use sim::{Simulator, SwarmBuilder};
pub use strategies::{Stream, StreamConfig};
