//! Log records: how entries are stored in the command log.
//!
//! The log stores `(sequence, timestamp_ms, kind, payload)`. The payload of a signed entry is the
//! 64-byte signature followed by the envelope body exactly as received, so the log is a faithful,
//! re-verifiable record of what each signer said. The key an entry was verified with is not stored:
//! it is a function of the state the entry is applied to (the signer's registered key, or for a
//! self-registration the key being registered), and ids are never reused.

use colony_core::{PublicKey, SwarmConfig};
use serde::{Deserialize, Serialize};

use crate::envelope::SignedEnvelope;

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// The genesis entry.
    Genesis = 1,
    /// A signed envelope.
    Signed = 2,
    /// A tick: time passes, nothing else.
    Tick = 3,
    /// A signed checkpoint (`crate::checkpoint`); for the state machine, a tick.
    Checkpoint = 4,
}

impl RecordKind {
    /// The kind for a stored byte.
    pub fn from_byte(byte: u8) -> Option<RecordKind> {
        match byte {
            1 => Some(RecordKind::Genesis),
            2 => Some(RecordKind::Signed),
            3 => Some(RecordKind::Tick),
            4 => Some(RecordKind::Checkpoint),
            _ => None,
        }
    }
}

/// The genesis payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisPayload {
    /// The rules version the log is written under (`colony_core::RULES_VERSION`). Absent from logs
    /// written before the genesis recorded it, which decode as 0: a version no binary applies, so
    /// such a log is refused rather than replayed under rules it was not written under.
    #[serde(default)]
    pub rules_version: u32,
    /// The operator's public key.
    pub operator_key: PublicKey,
    /// The initial configuration.
    pub config: SwarmConfig,
}

/// Encodes a genesis payload.
pub fn encode_genesis(payload: &GenesisPayload) -> Vec<u8> {
    serde_json::to_vec(payload).expect("genesis encodes")
}

/// Decodes a genesis payload.
pub fn decode_genesis(bytes: &[u8]) -> Result<GenesisPayload, String> {
    serde_json::from_slice(bytes).map_err(|error| error.to_string())
}

/// Encodes a signed envelope as a record payload.
pub fn encode_signed(envelope: &SignedEnvelope) -> Vec<u8> {
    let mut payload = Vec::with_capacity(64 + envelope.body.len());
    payload.extend_from_slice(&envelope.signature);
    payload.extend_from_slice(&envelope.body);
    payload
}

/// Splits a signed record payload into signature and body.
pub fn decode_signed(payload: &[u8]) -> Result<SignedEnvelope, String> {
    if payload.len() < 64 {
        return Err(format!("a signed record needs at least 64 bytes, found {}", payload.len()));
    }
    let (signature, body) = payload.split_at(64);
    Ok(SignedEnvelope { body: body.to_vec(), signature: signature.try_into().expect("64 bytes") })
}
