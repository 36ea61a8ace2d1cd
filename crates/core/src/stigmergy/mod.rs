//! Stigmergy: shared pheromone maps that agents deposit on and sense, fading with log time.
//!
//! Agents coordinate through the environment rather than by messages: a scout reinforces the trail
//! `BTC:long:momentum` on a map, an executor reads the strongest trails, and what nobody reinforces
//! fades away. The arithmetic is pure and exact: [`Intensity`] is a fixed-point strength
//! (billionths), and [`Decay`] turns an intensity and an elapsed log time into what is left, under
//! seed 000's exponential evaporation, seed 003's linear fading or a half-life, with the same bits
//! on every machine. Reads are computed at the state's log time, never a clock's.
//!
//! - [`intensity`]: the fixed-point intensity and its decimal text.
//! - [`decay`]: the decay models.
//! - [`trails`]: seed 000's pheromone map, read strongest first without rewriting it as time passes.
//! - [`store`]: a map's trails under any model (a linear fade is indexed by when each trail fades).
//! - [`key`]: `SignalKey`, the alphabet of trail keys.
//! - [`tasks`]: seed 003's typed task signals (`<task>:available`, `:claimed`, `:completed`,
//!   `:failed`) read off a map, and which tasks are available.
//! - [`book`]: the state: maps, their creators and depositors, who opened each trail; invariants.
//! - [`commands`]: `pheromone.map.create`, `pheromone.map.configure`, `pheromone.map.delete`,
//!   `pheromone.deposit`.
//! - `maps.rs`: their handlers, with the per-signer limits.
//! - [`rejections`]: refusals, `StigmergyRejection`.

pub mod book;
pub mod commands;
pub mod decay;
pub mod intensity;
pub mod key;
mod maps;
pub mod rejections;
pub mod store;
pub mod tasks;
pub mod trails;

pub use book::{Depositors, MapTerms, PheromoneMap, Stigmergy};
pub use commands::{ConfigureMap, CreateMap, DeleteMap, Deposit, SEED_000_CAP, SEED_000_PRUNE};
pub use decay::{Decay, FACTOR_ONE};
pub use intensity::{Intensity, NANOS_ONE};
pub use key::SignalKey;
pub use rejections::StigmergyRejection;
pub use tasks::{TaskSignal, TaskSignalState, TaskSignals, task_signals};
pub use trails::TrailMap;
