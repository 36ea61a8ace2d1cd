//! The hash chain: each record commits to every record before it.
//!
//! `chain(n) = SHA-256("colony-chain-v1\n" ‖ chain(n − 1) ‖ digest(n))`, with `chain(0)` all zeros and
//! `digest(n) = SHA-256("colony-record-v1\n" ‖ sequence ‖ timestamp_ms ‖ kind ‖ payload)` (integers
//! little-endian). So the chain hash of entry n names the whole log up to n: change, drop, reorder or
//! substitute any earlier record and every later chain hash changes, whatever checksum was recomputed.
//!
//! The record's digest is a step of its own so that proving "entry n is in the log up to entry m"
//! takes the 32-byte digests of entries n + 1 ..= m, not their payloads. The sequence number is in
//! the digest so that two identical records (two ticks at the same millisecond) still differ.

use sha2::{Digest as _, Sha256};

use crate::Record;

const RECORD_DOMAIN: &[u8] = b"colony-record-v1\n";
const CHAIN_DOMAIN: &[u8] = b"colony-chain-v1\n";

/// A position in the hash chain: the hash of the log up to and including one entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The chain hash before the first entry.
    pub const EMPTY: ChainHash = ChainHash([0; 32]);

    /// The chain hash of the entry whose record digest is `record_digest`, following `self`.
    pub fn next(&self, record_digest: &[u8; 32]) -> ChainHash {
        let mut hasher = Sha256::new();
        hasher.update(CHAIN_DOMAIN);
        hasher.update(self.0);
        hasher.update(record_digest);
        ChainHash(hasher.finalize().into())
    }

    /// Lower-case hex, as receipts and reports show it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<ChainHash> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(ChainHash(bytes))
    }
}

impl std::fmt::Display for ChainHash {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

impl Record {
    /// The record's digest: what the chain commits to for this entry.
    pub fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(RECORD_DOMAIN);
        hasher.update(self.sequence.to_le_bytes());
        hasher.update(self.timestamp_ms.to_le_bytes());
        hasher.update([self.kind]);
        hasher.update(&self.payload);
        hasher.finalize().into()
    }
}

/// The newest entry of a log and its chain hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogHead {
    /// The last entry (0: the log is empty).
    pub sequence: u64,
    /// Its chain hash ([`ChainHash::EMPTY`] for an empty log).
    pub chain: ChainHash,
}

/// Folds record digests onto a chain hash: what a client holding a receipt for one entry does with
/// the digests of the entries after it, to reach a later checkpoint's chain hash.
pub fn fold(start: ChainHash, record_digests: &[[u8; 32]]) -> ChainHash {
    record_digests.iter().fold(start, |chain, digest| chain.next(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sequence: u64, payload: &[u8]) -> Record {
        Record { sequence, timestamp_ms: 1_000, kind: 3, payload: payload.to_vec() }
    }

    #[test]
    fn every_field_of_a_record_changes_its_digest() {
        let base = record(1, b"tick");
        let digests = [
            base.digest(),
            record(2, b"tick").digest(),
            Record { timestamp_ms: 1_001, ..base.clone() }.digest(),
            Record { kind: 2, ..base.clone() }.digest(),
            record(1, b"tock").digest(),
        ];
        for (index, digest) in digests.iter().enumerate() {
            for other in &digests[index + 1..] {
                assert_ne!(digest, other);
            }
        }
    }

    #[test]
    fn the_chain_depends_on_order_and_on_every_earlier_record() {
        let (first, second) = (record(1, b"a").digest(), record(2, b"b").digest());
        let forward = fold(ChainHash::EMPTY, &[first, second]);
        assert_eq!(forward, ChainHash::EMPTY.next(&first).next(&second));
        assert_ne!(forward, fold(ChainHash::EMPTY, &[second, first]));
        assert_ne!(forward, fold(ChainHash::EMPTY, &[record(1, b"x").digest(), second]));
        assert_ne!(forward, fold(ChainHash::EMPTY, &[second]));
    }

    #[test]
    fn hex_round_trips_and_refuses_bad_text() {
        let chain = fold(ChainHash::EMPTY, &[record(1, b"a").digest()]);
        assert_eq!(ChainHash::from_hex(&chain.to_hex()), Some(chain));
        assert_eq!(ChainHash::from_hex("zz"), None);
        assert_eq!(ChainHash::from_hex(&"0".repeat(63)), None);
    }
}
