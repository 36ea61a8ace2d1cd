//! Key pairs and the key-file format.
//!
//! A key file is JSON: `{"signer": "scout-1", "public_key": "<64 hex>", "secret_key": "<64 hex>"}`,
//! written with mode 0600. The signer name travels with the key so that a command-line user needs
//! only `--key FILE` to act as an agent.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use colony_core::{PublicKey, Signer};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// An Ed25519 key pair.
#[derive(Clone)]
pub struct KeyPair {
    signing_key: SigningKey,
}

impl KeyPair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> KeyPair {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system's random source is available");
        KeyPair::from_seed(seed)
    }

    /// The key with this 32-byte secret seed (deterministic; for tests and simulations).
    pub fn from_seed(seed: [u8; 32]) -> KeyPair {
        KeyPair { signing_key: SigningKey::from_bytes(&seed) }
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing_key.verifying_key().to_bytes())
    }

    /// The secret seed.
    pub fn seed(&self) -> [u8; 32] {
        self.signing_key.to_bytes()
    }

    /// The signing key, for sealing and opening payloads (`crate::sealed`).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing_key.sign(message).to_bytes()
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "KeyPair({})", self.public_key())
    }
}

/// Verifies an Ed25519 signature. Uses strict verification, which rejects the malleable and
/// small-order encodings that lenient verification accepts.
pub fn verify(public_key: &PublicKey, message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(verifying_key) = VerifyingKey::from_bytes(&public_key.0) else {
        return false;
    };
    verifying_key.verify_strict(message, &Signature::from_bytes(signature)).is_ok()
}

/// Decodes a public key for verification, once, so that checking many signatures by the same signer
/// does not decompress its key each time. `None` for bytes that are not a valid key.
pub fn decode_key(public_key: &PublicKey) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(&public_key.0).ok()
}

/// Verifies many signatures with already decoded keys; false if any is invalid.
pub fn verify_batch_decoded(messages: &[&[u8]], signatures: &[[u8; 64]], keys: &[VerifyingKey]) -> bool {
    let signatures: Vec<Signature> = signatures.iter().map(Signature::from_bytes).collect();
    ed25519_dalek::verify_batch(messages, &signatures, keys).is_ok()
}

/// Verifies one signature with an already decoded key (strict verification).
pub fn verify_decoded(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
    key.verify_strict(message, &Signature::from_bytes(signature)).is_ok()
}

pub use ed25519_dalek::VerifyingKey as DecodedKey;

/// Verifies many signatures at once, about three times faster per signature than one by one. Returns
/// false if any is invalid (then verify them one by one to find which).
pub fn verify_batch(messages: &[&[u8]], signatures: &[[u8; 64]], public_keys: &[PublicKey]) -> bool {
    let Ok(keys) = public_keys.iter().map(|key| VerifyingKey::from_bytes(&key.0)).collect::<Result<Vec<_>, _>>() else {
        return false;
    };
    let signatures: Vec<Signature> = signatures.iter().map(Signature::from_bytes).collect();
    ed25519_dalek::verify_batch(messages, &signatures, &keys).is_ok()
}

/// The JSON of a key file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Who this key signs as: `operator` or an agent id.
    pub signer: Signer,
    /// The public key, hex.
    pub public_key: PublicKey,
    /// The secret seed, hex.
    pub secret_key: colony_core::Digest,
}

/// A key file that cannot be read or written.
#[derive(Debug)]
pub enum KeyFileError {
    /// The file could not be read or written.
    Io(std::io::Error),
    /// The file is not a valid key file.
    Malformed(String),
    /// The public key in the file does not belong to its secret key.
    Inconsistent,
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Io(error) => write!(formatter, "{error}"),
            KeyFileError::Malformed(reason) => write!(formatter, "not a valid key file: {reason}"),
            KeyFileError::Inconsistent => formatter.write_str("the public key does not match the secret key"),
        }
    }
}

impl std::error::Error for KeyFileError {}

impl KeyFile {
    /// The key file for `key_pair` signing as `signer`.
    pub fn new(signer: Signer, key_pair: &KeyPair) -> KeyFile {
        KeyFile { signer, public_key: key_pair.public_key(), secret_key: colony_core::Digest(key_pair.seed()) }
    }

    /// The key pair in the file.
    pub fn key_pair(&self) -> Result<KeyPair, KeyFileError> {
        let key_pair = KeyPair::from_seed(self.secret_key.0);
        if key_pair.public_key() != self.public_key {
            return Err(KeyFileError::Inconsistent);
        }
        Ok(key_pair)
    }

    /// Reads and checks a key file.
    pub fn read(path: &Path) -> Result<KeyFile, KeyFileError> {
        let text = std::fs::read_to_string(path).map_err(KeyFileError::Io)?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|error| KeyFileError::Malformed(error.to_string()))?;
        file.key_pair()?;
        Ok(file)
    }

    /// Writes the key file, readable and writable by its owner only. Refuses to overwrite.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyFileError> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(KeyFileError::Io)?;
        let mut text = serde_json::to_string_pretty(self).expect("key files encode");
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(KeyFileError::Io)?;
        file.sync_all().map_err(KeyFileError::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let key = KeyPair::from_seed([7; 32]);
        let other = KeyPair::from_seed([8; 32]);
        let signature = key.sign(b"hello");
        assert!(verify(&key.public_key(), b"hello", &signature));
        assert!(!verify(&key.public_key(), b"hellp", &signature));
        assert!(!verify(&other.public_key(), b"hello", &signature));
        let messages: [&[u8]; 2] = [b"a", b"b"];
        let signatures = [key.sign(b"a"), other.sign(b"b")];
        assert!(verify_batch(&messages, &signatures, &[key.public_key(), other.public_key()]));
        assert!(!verify_batch(&messages, &signatures, &[other.public_key(), key.public_key()]));
    }

    #[test]
    fn key_files_round_trip_and_are_private() {
        let directory = std::env::temp_dir().join(format!("colony-keyfile-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("agent.key");
        let _ = std::fs::remove_file(&path);
        let key = KeyPair::generate();
        let file = KeyFile::new(Signer::parse("scout-1").unwrap(), &key);
        file.write_new(&path).unwrap();
        assert!(file.write_new(&path).is_err(), "key files are never overwritten");
        let read = KeyFile::read(&path).unwrap();
        assert_eq!(read.key_pair().unwrap().public_key(), key.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
