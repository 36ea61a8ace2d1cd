//! How reads are authenticated.
//!
//! Reads change nothing and are not logged, so most do not need single-use nonces: a signed read
//! carries a timestamp and is accepted within [`READ_SIGNATURE_SKEW_MS`] of the server's clock. The signature covers the signer, the method, the
//! path with its query exactly as sent (percent-encoding included) and the timestamp, so it cannot
//! be moved to another request or claimed by another agent. Reads that open a stream (events, bus
//! subscriptions, WebSockets) are single-use: the server spends their timestamp like a nonce, and
//! refuses them when stamped before it started (it remembers spent timestamps in memory only). Alternatively, the operator issues bearer read tokens (`read_token.issue`) for
//! dashboards and `curl`; the server stores only their SHA-256.

use sha2::{Digest as _, Sha256};

/// Header naming the signer of a read.
pub const READ_SIGNER_HEADER: &str = "colony-signer";
/// Header carrying the read's timestamp (Unix milliseconds).
pub const READ_TIMESTAMP_HEADER: &str = "colony-timestamp-ms";
/// Header carrying the read's signature (hex).
pub const READ_SIGNATURE_HEADER: &str = "colony-signature";
/// How far a signed read's timestamp may be from the server's clock.
pub const READ_SIGNATURE_SKEW_MS: u64 = 5 * 60 * 1_000;

/// The bytes a read signature covers.
pub fn read_signing_message(
    signer: &colony_core::Signer,
    method: &str,
    path_and_query: &str,
    timestamp_ms: u64,
) -> Vec<u8> {
    format!("colony-read-v2\n{signer}\n{method}\n{path_and_query}\n{timestamp_ms}").into_bytes()
}

/// The fingerprint under which a read token is stored.
pub fn token_sha256(token: &str) -> colony_core::Digest {
    colony_core::Digest(Sha256::digest(token.as_bytes()).into())
}

/// A fresh random read token: `colony_` followed by 32 random bytes in hex.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    format!("colony_{}", hex::encode(bytes))
}
