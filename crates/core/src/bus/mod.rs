//! The message bus's deterministic parts: subjects and the patterns that match them.
//!
//! Subjects follow the conventions of NATS: dot-separated tokens (`market.spread.detected`); in a
//! pattern `*` matches exactly one token and `>` (last only) matches one or more. The server's
//! ephemeral fan-out and core's durable streams both match through [`SubjectTree`].

mod subject;
mod tree;

pub use subject::{Pattern, Subject, SubjectError};
pub use tree::SubjectTree;
