//! Bus messages and WebSocket frames from arbitrary bytes: decoding and validation never panic, and a
//! valid message keeps its payload byte for byte through a round trip.
#![no_main]

use colony_wire::bus::{ClientFrame, EphemeralPublish};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(message) = serde_json::from_slice::<EphemeralPublish>(body)
        && message.validate("").is_ok()
    {
        let encoded = serde_json::to_vec(&message).expect("a message encodes");
        let again: EphemeralPublish = serde_json::from_slice(&encoded).expect("an encoded message decodes");
        assert_eq!(again.payload_bytes(), message.payload_bytes(), "the payload survives byte for byte");
        assert!(again.validate("").is_ok());
    }
    if let Ok(frame) = serde_json::from_slice::<ClientFrame>(body)
        && let Some(message) = &frame.message
    {
        let _ = message.validate("message.");
    }
});
