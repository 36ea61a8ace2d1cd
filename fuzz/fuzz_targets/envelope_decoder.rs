//! Envelope bodies from arbitrary bytes: decoding never panics, and what decodes survives a round
//! trip through its own encoding unchanged.
#![no_main]

use colony_wire::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(envelope) = Envelope::decode(body) {
        let encoded = serde_json::to_vec(&envelope).expect("a decoded envelope encodes");
        let again = Envelope::decode(&encoded).expect("an encoded envelope decodes");
        assert_eq!(again, envelope);
    }
});
