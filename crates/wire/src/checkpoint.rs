//! Signed checkpoints: the operator's statement that the log, up to an entry, has a given chain hash.
//!
//! A checkpoint is stored in the log itself, as a record of its own (so it is chained like any entry
//! and travels with the log), and covers the entry just before it. It also names the newest state
//! hash the server had computed when it was written (the state hash costs a full encoding of the
//! state, so it is taken at snapshots, not at every checkpoint); `audit verify` replays to that entry
//! and compares.
//!
//! The signed bytes are fixed-width, so there is exactly one encoding to sign and to check:
//! `colony-checkpoint-v1\n` ‖ sequence ‖ chain hash ‖ state sequence ‖ state hash (integers
//! little-endian). The record's payload is those 80 bytes of fields followed by the 64-byte
//! Ed25519 signature.

use colony_core::PublicKey;

use crate::keys::{self, KeyPair};

const DOMAIN: &[u8] = b"colony-checkpoint-v1\n";
const FIELDS_LENGTH: usize = 8 + 32 + 8 + 32;
/// The length of a checkpoint record's payload.
pub const PAYLOAD_LENGTH: usize = FIELDS_LENGTH + 64;

/// What the operator vouches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointStatement {
    /// The last entry covered.
    pub sequence: u64,
    /// The chain hash of the log up to and including that entry.
    pub chain: [u8; 32],
    /// The entry the state hash is for (at or before `sequence`; 0 when none was known).
    pub state_sequence: u64,
    /// The state hash after that entry.
    pub state_hash: [u8; 32],
}

/// A statement and the operator's signature over it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The statement.
    pub statement: CheckpointStatement,
    /// Ed25519 over [`CheckpointStatement::signing_message`].
    pub signature: [u8; 64],
}

impl CheckpointStatement {
    fn fields(&self) -> [u8; FIELDS_LENGTH] {
        let mut fields = [0; FIELDS_LENGTH];
        fields[..8].copy_from_slice(&self.sequence.to_le_bytes());
        fields[8..40].copy_from_slice(&self.chain);
        fields[40..48].copy_from_slice(&self.state_sequence.to_le_bytes());
        fields[48..].copy_from_slice(&self.state_hash);
        fields
    }

    /// The exact bytes the operator signs.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut message = Vec::with_capacity(DOMAIN.len() + FIELDS_LENGTH);
        message.extend_from_slice(DOMAIN);
        message.extend_from_slice(&self.fields());
        message
    }

    /// Signs the statement.
    pub fn sign(self, operator: &KeyPair) -> SignedCheckpoint {
        SignedCheckpoint { signature: operator.sign(&self.signing_message()), statement: self }
    }
}

impl SignedCheckpoint {
    /// Whether the signature is the operator's.
    pub fn verify(&self, operator_key: &PublicKey) -> bool {
        keys::verify(operator_key, &self.statement.signing_message(), &self.signature)
    }

    /// The record payload: the fields, then the signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(PAYLOAD_LENGTH);
        payload.extend_from_slice(&self.statement.fields());
        payload.extend_from_slice(&self.signature);
        payload
    }

    /// Decodes a record payload written by [`SignedCheckpoint::encode`].
    pub fn decode(payload: &[u8]) -> Result<SignedCheckpoint, String> {
        if payload.len() != PAYLOAD_LENGTH {
            return Err(format!("a checkpoint is {PAYLOAD_LENGTH} bytes, found {}", payload.len()));
        }
        let u64_at = |at: usize| u64::from_le_bytes(payload[at..at + 8].try_into().expect("8 bytes"));
        let array_at = |at: usize| -> [u8; 32] { payload[at..at + 32].try_into().expect("32 bytes") };
        let statement = CheckpointStatement {
            sequence: u64_at(0),
            chain: array_at(8),
            state_sequence: u64_at(40),
            state_hash: array_at(48),
        };
        if statement.state_sequence > statement.sequence {
            return Err(format!(
                "its state hash is for entry {}, after the entry {} it covers",
                statement.state_sequence, statement.sequence
            ));
        }
        Ok(SignedCheckpoint { statement, signature: payload[FIELDS_LENGTH..].try_into().expect("64 bytes") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement() -> CheckpointStatement {
        CheckpointStatement { sequence: 4_096, chain: [7; 32], state_sequence: 4_000, state_hash: [9; 32] }
    }

    #[test]
    fn a_signed_checkpoint_round_trips_and_verifies_only_under_its_key() {
        let operator = KeyPair::from_seed([1; 32]);
        let signed = statement().sign(&operator);
        let decoded = SignedCheckpoint::decode(&signed.encode()).unwrap();
        assert_eq!(decoded, signed);
        assert!(decoded.verify(&operator.public_key()));
        assert!(!decoded.verify(&KeyPair::from_seed([2; 32]).public_key()));
    }

    #[test]
    fn every_field_is_covered_by_the_signature() {
        let operator = KeyPair::from_seed([1; 32]);
        let signed = statement().sign(&operator);
        let payload = signed.encode();
        for index in 0..FIELDS_LENGTH {
            let mut changed = payload.clone();
            changed[index] ^= 1;
            if let Ok(decoded) = SignedCheckpoint::decode(&changed) {
                assert!(!decoded.verify(&operator.public_key()), "byte {index} is not signed");
            }
        }
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let operator = KeyPair::from_seed([1; 32]);
        assert!(SignedCheckpoint::decode(&[0; PAYLOAD_LENGTH - 1]).is_err());
        let ahead = CheckpointStatement { state_sequence: 5_000, ..statement() }.sign(&operator);
        assert!(SignedCheckpoint::decode(&ahead.encode()).is_err());
    }
}
