//! Stigmergy's arithmetic: pheromone intensities and how they fade, pure and exact.
//!
//! No map, command or state yet: [`Intensity`] is a fixed-point strength (billionths), and
//! [`Decay`] turns an intensity and an elapsed log time into what is left, under seed 000's
//! exponential evaporation, seed 003's linear fading or a half-life, with the same bits on every
//! machine. Pheromone maps, deposits, sensing and top-N are built on it.
//!
//! - [`intensity`]: the fixed-point intensity and its decimal text.
//! - [`decay`]: the decay models.

pub mod decay;
pub mod intensity;

pub use decay::{Decay, FACTOR_ONE};
pub use intensity::{Intensity, NANOS_ONE};
