//! The signed envelope: how every write reaches Colony.
//!
//! The HTTP body of a write is the JSON of an [`Envelope`]; the `Colony-Signature` header carries the
//! Ed25519 signature, in hex, over [`ENVELOPE_DOMAIN`] followed by the exact body bytes. The server
//! never re-encodes the body: the log keeps those bytes and that signature, so anyone holding the log
//! can re-verify every write offline. The domain prefix keeps a Colony signature from being valid in
//! any other protocol that signs JSON with the same key.

use std::fmt;

use colony_core::{Command, Signer, limits};
use serde::{Deserialize, Serialize};

use crate::keys::KeyPair;

/// Prefixed to the body before signing.
pub const ENVELOPE_DOMAIN: &[u8] = b"colony-envelope-v1\n";

/// The HTTP header that carries an envelope's signature.
pub const SIGNATURE_HEADER: &str = "colony-signature";

/// A write request: who signs, a single-use nonce, and the commands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// `operator` or an agent id.
    pub signer: Signer,
    /// Single use per signer; clients use the current time in microseconds (see core's `replay.rs`).
    pub nonce: u64,
    /// The commands, applied in order; each succeeds or fails on its own.
    #[serde(deserialize_with = "crate::commands::deserialize")]
    pub commands: Vec<Command>,
}

/// An envelope's exact bytes and their signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEnvelope {
    /// The JSON body, exactly as signed.
    pub body: Vec<u8>,
    /// Ed25519 over `ENVELOPE_DOMAIN || body`.
    pub signature: [u8; 64],
}

/// Why an envelope was refused before reaching the state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The body is not a valid envelope; `path` names the offending field (`commands[0].agent`).
    Malformed {
        /// Where in the document, or `.` for the document itself.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The envelope carries no commands.
    Empty,
    /// More commands than `COMMANDS_PER_ENVELOPE_MAX`.
    TooManyCommands {
        /// How many it carries.
        count: usize,
    },
    /// The signature header is missing or not 128 hex characters.
    SignatureMissing,
    /// The signature does not verify with the signer's key.
    SignatureInvalid,
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::Malformed { path, message } => {
                write!(formatter, "malformed envelope at '{path}': {message}")
            }
            EnvelopeError::Empty => formatter.write_str("the envelope carries no commands"),
            EnvelopeError::TooManyCommands { count } => write!(
                formatter,
                "the envelope carries {count} commands; at most {} are allowed",
                limits::COMMANDS_PER_ENVELOPE_MAX
            ),
            EnvelopeError::SignatureMissing => {
                write!(formatter, "the '{SIGNATURE_HEADER}' header must hold a 128-hex-character Ed25519 signature")
            }
            EnvelopeError::SignatureInvalid => {
                formatter.write_str("the signature does not verify with the signer's key")
            }
        }
    }
}

impl std::error::Error for EnvelopeError {}

impl Envelope {
    /// Encodes and signs the envelope.
    pub fn sign(&self, key: &KeyPair) -> SignedEnvelope {
        let body = serde_json::to_vec(self).expect("envelopes always encode");
        let signature = key.sign(&signing_message(&body));
        SignedEnvelope { body, signature }
    }

    /// Decodes and checks an envelope body (not its signature).
    pub fn decode(body: &[u8]) -> Result<Envelope, EnvelopeError> {
        // The plain decoder is the fast path (recovery and the audit decode every logged envelope);
        // only a body that fails is decoded again with path tracking, to name the offending field.
        let envelope: Envelope = match serde_json::from_slice(body) {
            Ok(envelope) => envelope,
            Err(plain_error) => {
                let deserializer = &mut serde_json::Deserializer::from_slice(body);
                let error = match serde_path_to_error::deserialize::<_, Envelope>(deserializer) {
                    Err(error) => error,
                    // The document itself parsed; what is wrong is after it (trailing bytes).
                    Ok(_) => {
                        return Err(EnvelopeError::Malformed {
                            path: ".".to_owned(),
                            message: plain_error.to_string(),
                        });
                    }
                };
                let path = error.path().to_string();
                let path = refine_command_path(body, &path).unwrap_or(path);
                return Err(EnvelopeError::Malformed { path, message: error.into_inner().to_string() });
            }
        };
        if envelope.commands.is_empty() {
            return Err(EnvelopeError::Empty);
        }
        if envelope.commands.len() > limits::COMMANDS_PER_ENVELOPE_MAX {
            return Err(EnvelopeError::TooManyCommands { count: envelope.commands.len() });
        }
        Ok(envelope)
    }
}

/// Commands are tagged by a `type` field inside the object, which serde decodes from a buffer, so the
/// path of a bad value stops at the command (`commands[3]`). On that (slow, error-only) path, this
/// finds the field to blame: the one whose removal either lets the command decode or turns the error
/// into "missing field" for that very field. Any other field's removal leaves the first error in
/// place, because a bad value is reported while the object is read, before missing fields are.
fn refine_command_path(body: &[u8], path: &str) -> Option<String> {
    let index: usize = path.strip_prefix("commands[")?.strip_suffix(']')?.parse().ok()?;
    let document: serde_json::Value = serde_json::from_slice(body).ok()?;
    let command = document.get("commands")?.get(index)?.as_object()?;
    command.get("type")?;
    for field in command.keys().filter(|key| key.as_str() != "type") {
        let mut without = command.clone();
        without.remove(field);
        let blamed = match serde_json::from_value::<Command>(serde_json::Value::Object(without)) {
            Ok(_) => true,
            Err(error) => error.to_string().starts_with(&format!("missing field `{field}`")),
        };
        if blamed {
            return Some(format!("{path}.{field}"));
        }
    }
    None
}

impl SignedEnvelope {
    /// The `signer` the body names, read without decoding the commands, for the signer header a
    /// write carries ([`crate::read_auth::READ_SIGNER_HEADER`]). `None` if the body names none.
    pub fn signer(&self) -> Option<String> {
        // `Envelope::sign` writes `signer` first, and a signer (`operator` or an agent id) has no
        // character JSON escapes, so a body that starts this way names its signer right there, and
        // the commands after it need not be scanned again on every request.
        const PREFIX: &[u8] = b"{\"signer\":\"";
        if let Some(rest) = self.body.strip_prefix(PREFIX)
            && let Some(end) = rest.iter().position(|byte| *byte == b'"' || *byte == b'\\')
            && rest[end] == b'"'
            && let Ok(signer) = std::str::from_utf8(&rest[..end])
        {
            return Some(signer.to_owned());
        }
        #[derive(Deserialize)]
        struct SignerOnly {
            signer: String,
        }
        serde_json::from_slice::<SignerOnly>(&self.body).ok().map(|only| only.signer)
    }

    /// Whether the signature verifies with `public_key`.
    pub fn verify(&self, public_key: &colony_core::PublicKey) -> bool {
        crate::keys::verify(public_key, &signing_message(&self.body), &self.signature)
    }
}

/// The bytes a signature covers: the domain prefix, then the body.
pub fn signing_message(body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(ENVELOPE_DOMAIN.len() + body.len());
    message.extend_from_slice(ENVELOPE_DOMAIN);
    message.extend_from_slice(body);
    message
}

/// Parses a hex signature header.
pub fn parse_signature(text: &str) -> Result<[u8; 64], EnvelopeError> {
    let mut signature = [0u8; 64];
    hex::decode_to_slice(text.trim(), &mut signature).map_err(|_| EnvelopeError::SignatureMissing)?;
    Ok(signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use colony_core::command::Heartbeat;

    #[test]
    fn a_signed_envelope_verifies_and_any_flipped_byte_breaks_it() {
        let key = KeyPair::from_seed([1; 32]);
        let envelope = Envelope {
            signer: Signer::parse("scout-1").unwrap(),
            nonce: 5,
            commands: vec![Command::Heartbeat(Heartbeat {})],
        };
        let signed = envelope.sign(&key);
        assert!(signed.verify(&key.public_key()));
        assert_eq!(Envelope::decode(&signed.body).unwrap(), envelope);
        for position in 0..signed.body.len() {
            let mut tampered = signed.clone();
            tampered.body[position] ^= 1;
            assert!(!tampered.verify(&key.public_key()), "flipping byte {position} must break the signature");
        }
    }

    #[test]
    fn the_signer_is_read_from_a_signed_body_and_from_any_other_order() {
        let key = KeyPair::generate();
        let envelope = Envelope {
            signer: Signer::parse("scout-1").unwrap(),
            nonce: 3,
            commands: vec![Command::Heartbeat(Heartbeat {})],
        };
        let signed = envelope.sign(&key);
        assert_eq!(signed.signer().as_deref(), Some("scout-1"));
        for (body, signer) in [
            (r#"{"nonce":1,"signer":"operator","commands":[]}"#, Some("operator")),
            (r#"{"signer":"sc\u006fut-1","nonce":1,"commands":[]}"#, Some("scout-1")),
            (r#"{"signer":"unterminated"#, None),
            (r#"{"nonce":1}"#, None),
        ] {
            let signed = SignedEnvelope { body: body.as_bytes().to_vec(), signature: [0; 64] };
            assert_eq!(signed.signer().as_deref(), signer, "{body}");
        }
    }

    #[test]
    fn decoding_names_the_offending_field() {
        let body = br#"{"signer":"scout-1","nonce":1,"commands":[{"type":"agent.halt","agent":"Bad Id"}]}"#;
        match Envelope::decode(body) {
            Err(EnvelopeError::Malformed { path, .. }) => assert_eq!(path, "commands[0].agent"),
            other => panic!("expected a malformed-field error, got {other:?}"),
        }
        let unknown = br#"{"signer":"scout-1","nonce":1,"commands":[{"type":"agent.fly"}]}"#;
        assert!(matches!(Envelope::decode(unknown), Err(EnvelopeError::Malformed { .. })));
        let empty = br#"{"signer":"scout-1","nonce":1,"commands":[]}"#;
        assert_eq!(Envelope::decode(empty), Err(EnvelopeError::Empty));
        let trailing = br#"{"signer":"scout-1","nonce":1,"commands":[{"type":"agent.heartbeat"}]} x"#;
        assert!(matches!(Envelope::decode(trailing), Err(EnvelopeError::Malformed { path, .. }) if path == "."));
        let extra = br#"{"signer":"scout-1","nonce":1,"commands":[{"type":"agent.heartbeat"}],"x":1}"#;
        assert!(matches!(Envelope::decode(extra), Err(EnvelopeError::Malformed { .. })));
    }
}
