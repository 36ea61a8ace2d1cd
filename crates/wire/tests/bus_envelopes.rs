//! Bus commands through the envelope decoder: any JSON payload is kept as canonical text in the order
//! given, and a bad bus field is blamed by its path.

use colony_core::Command;
use colony_wire::envelope::{Envelope, EnvelopeError};

#[test]
fn a_publish_keeps_its_json_payload_as_canonical_text_in_the_order_given() {
    let body = br#"{"signer":"scout-1","nonce":1,"commands":[{"type":"bus.publish","subject":"orders.new",
        "payload": { "z" : [1, 2.50, "\u00e9"], "a" : {"nested": null} }, "headers": {"trace": "t-1"}}]}"#;
    let envelope = Envelope::decode(body).expect("decodes");
    let [Command::Publish { payload: Some(payload), headers, .. }] = envelope.commands.as_slice() else {
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
