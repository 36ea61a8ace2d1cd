//! Bus commands through the envelope decoder: any JSON payload is kept as canonical text in the order
//! given, and a bad bus field is blamed by its path.

use colony_core::Command;
use colony_core::command::Publish;
use colony_wire::envelope::{Envelope, EnvelopeError};

#[test]
fn a_publish_keeps_its_json_payload_as_canonical_text_in_the_order_given() {
    let body = br#"{"signer":"scout-1","nonce":1,"commands":[{"type":"bus.publish","subject":"orders.new",
        "payload": { "z" : [1, 2.50, "\u00e9"], "a" : {"nested": null} }, "headers": {"trace": "t-1"}}]}"#;
    let envelope = Envelope::decode(body).expect("decodes");
    let [Command::Publish(Publish { payload: Some(payload), headers, .. })] = envelope.commands.as_slice() else {
        panic!("{:?}", envelope.commands)
    };
    assert_eq!(payload.as_str(), r#"{"z":[1,2.5,"é"],"a":{"nested":null}}"#);
    assert_eq!(headers.len(), 1);
    // Decoding the same bytes again (as recovery and the audit do) gives the same text.
    assert_eq!(Envelope::decode(body).unwrap(), envelope);
}

#[test]
fn bad_bus_fields_are_blamed_by_path() {
    let cases: [(&[u8], &str); 3] = [
        (br#"{"signer":"scout-1","nonce":1,"commands":[{"type":"bus.publish","subject":"orders.*"}]}"#, "commands[0].subject"),
        (
            br#"{"signer":"scout-1","nonce":1,"commands":[{"type":"bus.publish","subject":"a","payload_signature":"zz"}]}"#,
            "commands[0].payload_signature",
        ),
        (
            br#"{"signer":"scout-1","nonce":1,"commands":[{"type":"consumer.ack","stream":"s","consumer":"c","sequences":[1],"kind":"maybe"}]}"#,
            "commands[0].kind",
        ),
    ];
    for (body, expected) in cases {
        match Envelope::decode(body) {
            Err(EnvelopeError::Malformed { path, .. }) => assert_eq!(path, expected),
            other => panic!("expected a malformed {expected}, got {other:?}"),
        }
    }
}

#[test]
fn ephemeral_payloads_are_held_to_the_durable_payload_rules() {
    use colony_wire::bus::EphemeralPublish;
    let message = |payload: &str| -> EphemeralPublish {
        serde_json::from_str(&format!(r#"{{"subject":"a.b","payload":{payload}}}"#)).unwrap()
    };
    for bad in [r#"{"a":1,"a":2}"#, "123456789012345678901234567890", "1e400", r#""\ud800""#] {
        let problem = message(bad).validate("").expect_err(bad);
        assert_eq!((problem.code.as_str(), problem.field.as_deref()), ("invalid_message", Some("payload")), "{bad}");
    }
    assert!(message(r#"{"a":[1,2.5,"x"],"b":18446744073709551615}"#).validate("").is_ok());
    // base64 is limited by the decoded length, exactly.
    use base64::Engine as _;
    let encode = |length: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; length]);
    let bytes = |encoded: String| -> EphemeralPublish {
        serde_json::from_str(&format!(r#"{{"subject":"a.b","payload_base64":"{encoded}"}}"#)).unwrap()
    };
    let limit = colony_core::limits::PAYLOAD_BYTES_MAX;
    assert!(bytes(encode(limit)).validate("").is_ok());
    for over in [limit + 1, limit + 2] {
        assert_eq!(bytes(encode(over)).validate("").unwrap_err().code, "payload_too_large", "{over} bytes");
    }
}
