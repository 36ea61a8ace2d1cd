//! Stigmergy's arithmetic: pheromone intensities and how they fade, pure and exact.
//!
//! No command or state yet: [`Intensity`] is a fixed-point strength (billionths), and
//! [`Decay`] turns an intensity and an elapsed log time into what is left, under seed 000's
//! exponential evaporation, seed 003's linear fading or a half-life, with the same bits on every
//! machine. Pheromone maps, deposits, sensing and top-N are built on it.
//!
//! - [`intensity`]: the fixed-point intensity and its decimal text.
//! - [`decay`]: the decay models.
//! - [`trails`]: seed 000's pheromone map, read strongest first without rewriting it as time passes.

pub mod decay;
pub mod intensity;
pub mod trails;

pub use decay::{Decay, FACTOR_ONE};
pub use intensity::{Intensity, NANOS_ONE};
pub use trails::TrailMap;
