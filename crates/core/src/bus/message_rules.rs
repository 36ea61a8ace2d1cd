//! The rules every bus message's content follows, durable or ephemeral: one owner, so that the same
//! message is accepted or refused for the same reason whichever way it is published.
//!
//! Durable publishes (`bus.publish`) report a broken rule as a rejection; the server's ephemeral
//! publish reports it as a problem of its own (`invalid_message`, or `payload_too_large` when too
//! large), naming the same field.

use super::payload::{Payload, decode_base64, nesting_depth};
use crate::limits;
use crate::outcome::Rejection;

/// A broken rule of message content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageFault {
    /// The payload is larger than `PAYLOAD_BYTES_MAX` (`field` is `payload` or `payload_base64`).
    TooLarge {
        /// The field holding the payload.
        field: &'static str,
    },
    /// More headers than `HEADERS_PER_MESSAGE_MAX`: a named limit, as durable publishes report it.
    TooManyHeaders,
    /// A field breaks a rule.
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong, in a phrase that follows the field's name.
        reason: String,
    },
}

impl MessageFault {
    /// The field to blame.
    pub fn field(&self) -> &'static str {
        match self {
            MessageFault::TooLarge { field } | MessageFault::Invalid { field, .. } => field,
            MessageFault::TooManyHeaders => "headers",
        }
    }

    /// What is wrong, in a phrase that follows the field's name.
    pub fn reason(&self) -> String {
        match self {
            MessageFault::TooLarge { .. } => format!("must be at most {} bytes", limits::PAYLOAD_BYTES_MAX),
            MessageFault::TooManyHeaders => format!("may hold at most {} headers", limits::HEADERS_PER_MESSAGE_MAX),
            MessageFault::Invalid { reason, .. } => reason.clone(),
        }
    }
}

impl From<MessageFault> for Rejection {
    fn from(fault: MessageFault) -> Rejection {
        match fault {
            MessageFault::TooManyHeaders => {
                Rejection::LimitReached { limit: "headers_per_message", max: limits::HEADERS_PER_MESSAGE_MAX as u64 }
            }
            MessageFault::TooLarge { .. } | MessageFault::Invalid { .. } => {
                Rejection::invalid(fault.field(), fault.reason())
            }
        }
    }
}

/// Headers: at most `HEADERS_PER_MESSAGE_MAX`, each value at most `HEADER_VALUE_BYTES_MAX` bytes.
/// (Header names are `Name`s, checked where they are parsed.)
pub fn check_headers<'a>(count: usize, mut values: impl Iterator<Item = &'a str>) -> Result<(), MessageFault> {
    if count > limits::HEADERS_PER_MESSAGE_MAX {
        return Err(MessageFault::TooManyHeaders);
    }
    if values.any(|value| value.len() > limits::HEADER_VALUE_BYTES_MAX) {
        return Err(MessageFault::Invalid {
            field: "headers",
            reason: format!("values must be at most {} bytes", limits::HEADER_VALUE_BYTES_MAX),
        });
    }
    Ok(())
}

/// The payload, from its JSON text (already held to [`super::JsonText::check`]'s rules) or its
/// standard base64: exclusive, at most `PAYLOAD_BYTES_MAX` bytes (decoded bytes for base64), and
/// an encrypted payload is bytes.
pub fn decode_payload(
    json: Option<&str>,
    base64: Option<&str>,
    encrypted: bool,
) -> Result<Option<Payload>, MessageFault> {
    let payload = match (json, base64) {
        (Some(_), Some(_)) => {
            return Err(MessageFault::Invalid { field: "payload_base64", reason: "is exclusive with payload".into() });
        }
        (Some(text), None) if text.len() > limits::PAYLOAD_BYTES_MAX => {
            return Err(MessageFault::TooLarge { field: "payload" });
        }
        (Some(text), None) if nesting_depth(text) > limits::PAYLOAD_NESTING_MAX => {
            return Err(MessageFault::Invalid {
                field: "payload",
                reason: format!("nests deeper than {} levels", limits::PAYLOAD_NESTING_MAX),
            });
        }
        (Some(text), None) => Some(Payload::Json(text.to_owned())),
        (None, Some(text)) => {
            // Four characters carry three bytes: refuse what cannot fit before decoding it, then
            // check the decoded length, which is what the limit is about.
            if text.len() > limits::PAYLOAD_BYTES_MAX.div_ceil(3) * 4 {
                return Err(MessageFault::TooLarge { field: "payload_base64" });
            }
            let bytes = decode_base64(text).map_err(|error| MessageFault::Invalid {
                field: "payload_base64",
                reason: format!("is not standard base64: {error}"),
            })?;
            if bytes.len() > limits::PAYLOAD_BYTES_MAX {
                return Err(MessageFault::TooLarge { field: "payload_base64" });
            }
            Some(Payload::Bytes(bytes))
        }
        (None, None) => None,
    };
    if encrypted && !matches!(payload, Some(Payload::Bytes(_))) {
        return Err(MessageFault::Invalid {
            field: "encrypted_to",
            reason: "needs the ciphertext in payload_base64".into(),
        });
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_rules_hold_for_both_forms() {
        assert_eq!(decode_payload(Some("1"), None, false), Ok(Some(Payload::Json("1".into()))));
        assert_eq!(decode_payload(None, Some("AAEC"), true), Ok(Some(Payload::Bytes(vec![0, 1, 2]))));
        assert_eq!(decode_payload(Some("1"), Some("AA=="), false).unwrap_err().field(), "payload_base64");
        assert_eq!(decode_payload(Some("1"), None, true).unwrap_err().field(), "encrypted_to");
        let deep = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(decode_payload(Some(&deep(limits::PAYLOAD_NESTING_MAX)), None, false).is_ok());
        assert_eq!(
            decode_payload(Some(&deep(limits::PAYLOAD_NESTING_MAX + 1)), None, false).unwrap_err().field(),
            "payload"
        );
        assert_eq!(decode_payload(None, None, true).unwrap_err().field(), "encrypted_to");
        assert!(matches!(decode_payload(None, Some("!!"), false), Err(MessageFault::Invalid { .. })));
        let large = format!("\"{}\"", "x".repeat(limits::PAYLOAD_BYTES_MAX));
        assert_eq!(decode_payload(Some(&large), None, false), Err(MessageFault::TooLarge { field: "payload" }));
        // Exactly the limit in decoded bytes passes; one more does not, whatever the padding.
        let at_limit =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, vec![7u8; limits::PAYLOAD_BYTES_MAX]);
        assert!(decode_payload(None, Some(&at_limit), false).is_ok());
        let over = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            vec![7u8; limits::PAYLOAD_BYTES_MAX + 1],
        );
        assert_eq!(decode_payload(None, Some(&over), false), Err(MessageFault::TooLarge { field: "payload_base64" }));
    }

    #[test]
    fn header_rules_bound_count_and_value_size() {
        assert!(check_headers(1, ["v"].into_iter()).is_ok());
        let many = vec!["v"; limits::HEADERS_PER_MESSAGE_MAX + 1];
        assert!(check_headers(many.len(), many.into_iter()).is_err());
        let long = "v".repeat(limits::HEADER_VALUE_BYTES_MAX + 1);
        assert!(check_headers(1, [long.as_str()].into_iter()).is_err());
    }
}
