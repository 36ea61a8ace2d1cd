//! The decoders that take untrusted bytes (envelopes, bus messages, WebSocket frames, subjects) never
//! panic, and what they accept survives a round trip. The same properties drive the coverage-guided
//! fuzz targets in `fuzz/`; here they run on random bytes and on mutations of valid documents, so
//! every test run exercises them.

use colony_core::bus::{Pattern, Subject};
use colony_wire::Envelope;
use colony_wire::bus::{ClientFrame, EphemeralPublish};
use proptest::prelude::*;

/// Valid documents to mutate: an envelope with several commands, bus messages and frames.
const SEEDS: &[&str] = &[
    r#"{"signer":"scout-1","nonce":17,"commands":[{"type":"agent.heartbeat"},{"type":"ledger.transfer","transfer_id":"t-1","to":"oracle-1","amount":"1500"},{"type":"escrow.lock","payee":"x","amount":"10","timeout_ms":5000,"task_id":"job:1"}]}"#,
    r#"{"signer":"scout-1","nonce":18,"commands":[{"transfer_id":"t-2","type":"ledger.transfer","to":"oracle-1","amount":"7"},{"type":"agent.heartbeat"}]}"#,
    r#"{"signer":"operator","nonce":1,"commands":[{"type":"agent.register","agent":"a","public_key":"0000000000000000000000000000000000000000000000000000000000000000","role":"scout","capabilities":["x.y"]}]}"#,
    r#"{"subject":"market.price.aapl","type":"price","priority":"high","correlation_id":"c-1","reply_to":"agent.a.inbox","headers":{"k":"v"},"payload":{"close":187.25,"tags":["a","\u00e9"],"nested":{"n":null}}}"#,
    r#"{"subject":"blob","payload_base64":"AAECAwQ=","encrypted_to":"bob"}"#,
    r#"{"op":"sub","sid":"1","subject":"market.>","queue":"g"}"#,
    r#"{"op":"request","rid":"r","timeout_ms":100,"message":{"subject":"risk.check","payload":[1,2,3]}}"#,
];

/// The envelope as serde's derived decoding of the command enum reads it, which buffers each command
/// before choosing its variant: the reference for the streaming decoder `Envelope::decode` uses.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DerivedEnvelope {
    #[allow(dead_code)]
    signer: colony_core::Signer,
    #[allow(dead_code)]
    nonce: u64,
    commands: Vec<colony_core::Command>,
}

fn check_envelope(body: &[u8]) {
    let derived = serde_json::from_slice::<DerivedEnvelope>(body);
    match Envelope::decode(body) {
        Ok(envelope) => {
            let derived = derived.expect("what the streaming decoder accepts, the derived decoding accepts");
            assert_eq!(envelope.commands, derived.commands, "both decoders read the same commands");
            let encoded = serde_json::to_vec(&envelope).expect("a decoded envelope encodes");
            assert_eq!(Envelope::decode(&encoded).expect("its encoding decodes"), envelope);
        }
        Err(colony_wire::EnvelopeError::Malformed { .. }) => {
            assert!(derived.is_err(), "the derived decoding accepts what the streaming decoder refused");
        }
        Err(_) => {}
    }
}

fn check_bus(body: &[u8]) {
    if let Ok(message) = serde_json::from_slice::<EphemeralPublish>(body)
        && message.validate("").is_ok()
    {
        let encoded = serde_json::to_vec(&message).expect("a message encodes");
        let again: EphemeralPublish = serde_json::from_slice(&encoded).expect("its encoding decodes");
        assert_eq!(again.payload_bytes(), message.payload_bytes(), "the payload survives byte for byte");
        assert!(again.validate("").is_ok());
    }
    if let Ok(frame) = serde_json::from_slice::<ClientFrame>(body)
        && let Some(message) = &frame.message
    {
        let _ = message.validate("message.");
    }
}

fn check_subject(text: &str) {
    match (Subject::new(text), Pattern::new(text)) {
        (Ok(subject), Ok(pattern)) => {
            assert!(pattern.is_literal() && pattern.matches(&subject));
            assert_eq!(subject.tokens().collect::<Vec<_>>().join("."), text);
        }
        (Ok(_), Err(error)) => panic!("a valid subject must be a valid pattern: {error}"),
        (Err(_), Ok(pattern)) => assert!(!pattern.is_literal(), "only wildcards make a pattern that is not a subject"),
        (Err(_), Err(_)) => {}
    }
}

/// A seed with some bytes flipped, removed or inserted.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (0..SEEDS.len(), proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..3), 1..8)).prop_map(|(seed, edits)| {
        let mut bytes = SEEDS[seed].as_bytes().to_vec();
        for (position, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let index = usize::from(position) % bytes.len();
            match kind {
                0 => bytes[index] = byte,
                1 => {
                    bytes.remove(index);
                }
                _ => bytes.insert(index, byte),
            }
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_documents_never_panic_the_decoders(bytes in mutated()) {
        check_envelope(&bytes);
        check_bus(&bytes);
    }

    #[test]
    fn random_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_envelope(&bytes);
        check_bus(&bytes);
    }

    #[test]
    fn payload_numbers_have_one_canonical_form_on_the_client_and_in_the_log(
        integer in "-?(0|[1-9][0-9]{0,20})",
        fraction in proptest::option::of("[0-9]{1,24}"),
        exponent in proptest::option::of("[eE][+-]?[0-9]{1,3}"),
    ) {
        let text = format!("[{integer}{}{}]", fraction.map(|digits| format!(".{digits}")).unwrap_or_default(), exponent.unwrap_or_default());
        let client = colony_core::bus::JsonText::parse(&text);
        let log = serde_json::from_str::<colony_core::bus::JsonText>(&text);
        match (client, log) {
            (Some(client), Ok(log)) => prop_assert_eq!(client.as_str(), log.as_str(), "for {}", text),
            // Numbers beyond f64 (1e999) are refused by both.
            (None, Err(_)) => {}
            (client, log) => prop_assert!(false, "{text}: client {client:?}, log {log:?}"),
        }
    }

    #[test]
    fn subjects_and_patterns_parse_consistently(text in "[a-z*>.$:_-]{0,12}|\\PC{0,40}") {
        check_subject(&text);
    }
}

#[test]
fn awkward_numbers_have_one_canonical_form() {
    for text in [
        "[-0]",
        "[-0.0]",
        "[1.00000000000000011102230246251565404236316680908203125]",
        "[1e21]",
        "[123456789012345678901]",
        "[5e-324]",
        "[1e999]",
        "[-1e999]",
    ] {
        let client = colony_core::bus::JsonText::parse(text).map(|json| json.as_str().to_owned());
        let log = serde_json::from_str::<colony_core::bus::JsonText>(text).ok().map(|json| json.as_str().to_owned());
        assert_eq!(client, log, "{text}");
        if let Some(canonical) = client {
            assert!(serde_json::from_str::<serde_json::Value>(&canonical).is_ok(), "{text} → {canonical} is JSON");
        }
    }
}

#[test]
fn the_seeds_themselves_decode() {
    assert!(Envelope::decode(SEEDS[0].as_bytes()).is_ok());
    assert!(Envelope::decode(SEEDS[1].as_bytes()).is_ok());
    assert!(Envelope::decode(SEEDS[2].as_bytes()).is_ok());
    for seed in &SEEDS[3..5] {
        let message: EphemeralPublish = serde_json::from_str(seed).unwrap();
        message.validate("").unwrap();
    }
    for seed in &SEEDS[5..] {
        serde_json::from_str::<ClientFrame>(seed).unwrap();
    }
}
