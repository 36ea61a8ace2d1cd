//! Log entries as the state machine sees them: already decoded and already authenticated.
//!
//! The log keeps each envelope's exact bytes and signature; the driver decodes them, verifies the
//! signature against a key, and hands core an [`Entry`] that names the signer and the key it was
//! verified with. Core then decides, from its own state, whether that key is the signer's.

use crate::command::Command;
use crate::config::SwarmConfig;
use crate::ids::{PublicKey, Signer};

/// One log entry, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Position in the log, from 1, without gaps.
    pub sequence: u64,
    /// When the driver accepted it (Unix milliseconds, never decreasing). The only clock core knows.
    pub timestamp_ms: u64,
    /// What the entry carries.
    pub body: EntryBody,
}

/// What an entry carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryBody {
    /// The first entry of every log: fixes the operator's key and the initial configuration.
    Genesis(Genesis),
    /// Commands from one signed envelope.
    Signed(SignedCommands),
    /// Advances log time with no commands, so that deadlines pass even when nobody writes.
    Tick,
}

/// The first entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    /// The rules the log is written under ([`crate::state::RULES_VERSION`] of the binary that wrote
    /// it). Only a binary that applies the same rules replays the log.
    pub rules_version: u32,
    /// The operator's public key: the root of all authority in the swarm.
    pub operator_key: PublicKey,
    /// The initial configuration.
    pub config: SwarmConfig,
}

/// The commands of one envelope, with the identity that signed them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCommands {
    /// Who the envelope says signed it.
    pub signer: Signer,
    /// The key the signature was verified with.
    pub verified_key: PublicKey,
    /// The envelope's nonce (see `replay.rs`).
    pub nonce: u64,
    /// The commands, applied in order; each succeeds or fails on its own.
    pub commands: Vec<Command>,
}
