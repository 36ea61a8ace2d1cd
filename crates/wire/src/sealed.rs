//! Sealed payloads: end-to-end encryption of a bus message to one agent's key, which the server
//! routes without being able to read.
//!
//! Every agent already has an Ed25519 key in the registry, so a sender seals to that key rather than
//! to a second key the swarm would have to distribute and trust: the recipient's Ed25519 public key is
//! mapped to its X25519 (Montgomery) form, the sender makes a fresh X25519 key for each message,
//! and the shared secret keys ChaCha20-Poly1305 through HKDF-SHA-256. Using one key pair for both
//! signatures and this kind of key exchange is a studied construction (the X25519 scalar is the one
//! Ed25519 derives from its seed); a fresh sender key per message means a nonce is never reused.
//!
//! The sealed form is `version (1 byte) ‖ the sender's one-time X25519 public key (32) ‖ ciphertext
//! with its 16-byte tag`, carried as `payload_base64` with `encrypted_to` naming the recipient. The
//! recipient and the subject are authenticated with it (associated data), so a sealed payload
//! cannot be moved to another subject or recipient unnoticed. A sealed message says nothing about
//! who sealed it: the bus's `source` (authenticated by the server) and an optional
//! `payload_signature` over the sealed bytes say that. The sender takes the recipient's key from
//! the registry; pin it out of band if the server itself is not to be trusted with that.

use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use colony_core::PublicKey;
use curve25519_dalek::montgomery::MontgomeryPoint;
use ed25519_dalek::VerifyingKey;
use sha2::Sha256;

use crate::keys::KeyPair;

/// The format version, first byte of every sealed payload.
const SEALED_VERSION: u8 = 1;
/// Bytes a sealed payload adds to its plaintext: version, one-time key, authentication tag.
pub const SEALED_OVERHEAD_BYTES: usize = 1 + 32 + 16;
/// Binds the derived key to this use.
const KEY_INFO: &[u8] = b"colony-sealed-v1";

/// Why a sealed payload could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Too short, or an unknown version.
    Malformed,
    /// Not sealed to this key, or altered on the way.
    Forged,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Malformed => formatter.write_str("not a sealed payload (too short or an unknown version)"),
            OpenError::Forged => formatter.write_str("the payload was not sealed to this key, or was altered"),
        }
    }
}

impl std::error::Error for OpenError {}

/// Why a payload could not be sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealError {
    /// The recipient's key is not a valid Ed25519 public key.
    InvalidRecipientKey,
}

impl std::fmt::Display for SealError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("the recipient's key is not a valid Ed25519 public key")
    }
}

impl std::error::Error for SealError {}

fn cipher(shared: &MontgomeryPoint, one_time: &MontgomeryPoint, recipient: &MontgomeryPoint) -> ChaCha20Poly1305 {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(one_time.as_bytes());
    salt[32..].copy_from_slice(recipient.as_bytes());
    let mut key = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes())
        .expand(KEY_INFO, &mut key)
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

/// What a sealed payload is bound to: its recipient and its subject.
pub fn binding(recipient: &str, subject: &str) -> Vec<u8> {
    format!("colony-sealed-v1\n{recipient}\n{subject}").into_bytes()
}

/// Seals `plaintext` to the agent whose registered key is `recipient`, bound to `binding` (see
/// [`binding`]).
pub fn seal(recipient: &PublicKey, binding: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
    let recipient = VerifyingKey::from_bytes(&recipient.0).map_err(|_| SealError::InvalidRecipientKey)?.to_montgomery();
    let mut one_time_secret = [0u8; 32];
    getrandom::fill(&mut one_time_secret).expect("the operating system's random source is available");
    let one_time = MontgomeryPoint::mul_base_clamped(one_time_secret);
    let shared = recipient.mul_clamped(one_time_secret);
    // The key is fresh for every message (a fresh one-time key), so a fixed nonce is never reused.
    let ciphertext = cipher(&shared, &one_time, &recipient)
        .encrypt(Nonce::from_slice(&[0u8; 12]), Payload { msg: plaintext, aad: binding })
        .expect("encryption into memory cannot fail");
    let mut sealed = Vec::with_capacity(SEALED_OVERHEAD_BYTES + plaintext.len());
    sealed.push(SEALED_VERSION);
    sealed.extend_from_slice(one_time.as_bytes());
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// Opens a payload sealed to `key` with `binding`.
pub fn open(key: &KeyPair, binding: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
    if sealed.len() < SEALED_OVERHEAD_BYTES || sealed[0] != SEALED_VERSION {
        return Err(OpenError::Malformed);
    }
    let one_time = MontgomeryPoint(sealed[1..33].try_into().expect("32 bytes"));
    let own = key.signing_key().verifying_key().to_montgomery();
    let shared = one_time.mul_clamped(key.signing_key().to_scalar_bytes());
    // A small-order one-time key gives an all-zero shared secret; nobody sealing honestly sends one.
    if shared.as_bytes() == &[0u8; 32] {
        return Err(OpenError::Forged);
    }
    cipher(&shared, &one_time, &own)
        .decrypt(Nonce::from_slice(&[0u8; 12]), Payload { msg: &sealed[33..], aad: binding })
        .map_err(|_| OpenError::Forged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_recipient_opens_and_any_change_is_detected() {
        let bob = KeyPair::generate();
        let eve = KeyPair::generate();
        let bound = binding("bob", "agent.bob.inbox");
        let sealed = seal(&bob.public_key(), &bound, b"buy 100 aapl at 187.20").unwrap();
        assert_eq!(sealed.len(), SEALED_OVERHEAD_BYTES + 22);
        assert_eq!(open(&bob, &bound, &sealed).unwrap(), b"buy 100 aapl at 187.20");
        assert_eq!(open(&eve, &bound, &sealed), Err(OpenError::Forged));
        assert_eq!(open(&bob, &binding("bob", "market.orders"), &sealed), Err(OpenError::Forged), "moved subject");
        for index in [0, 1, 20, 40, sealed.len() - 1] {
            let mut altered = sealed.clone();
            altered[index] ^= 1;
            assert!(open(&bob, &bound, &altered).is_err(), "flipping byte {index} is detected");
        }
        assert_eq!(open(&bob, &bound, &sealed[..10]), Err(OpenError::Malformed));
        let again = seal(&bob.public_key(), &bound, b"buy 100 aapl at 187.20").unwrap();
        assert_ne!(again, sealed, "every seal uses a fresh one-time key");
    }
}
