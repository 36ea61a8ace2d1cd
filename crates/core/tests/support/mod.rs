//! The testkit, for core's own integration tests.

#![allow(unused_imports)]

pub use colony_testkit::*;

pub mod market;
