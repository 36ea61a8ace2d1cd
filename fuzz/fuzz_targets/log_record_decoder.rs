//! Log records from arbitrary bytes, and valid records (a genesis, a tick, an envelope of each
//! command) with bytes mutated, decoded against a small populated state as recovery and the audit do:
//! decoding never panics, and a record that decodes into the state's next entry applies with every
//! invariant holding and its refused commands changing nothing. Applying matters here: a record's
//! signature is verified by the caller, so whatever JSON a registered agent signs reaches core as it
//! decodes. The genesis payload decoder gets every payload too: what it decodes survives a round trip,
//! and applies to an empty state exactly when its configuration is valid.
#![no_main]

use arbitrary::Arbitrary;
use colony_core::{Entry, EntryBody, Genesis, RULES_VERSION, State};
use colony_fuzz::checked;
use colony_fuzz::fixture::fixture;
use colony_fuzz::mutation::{self, Mutation};
use colony_log::Record;
use colony_server::log_records::decode_record;
use colony_wire::record::{decode_genesis, encode_genesis};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any record at all.
    Raw { sequence: u64, timestamp_ms: u64, kind: u8, payload: Vec<u8> },
    /// One of the fixture's valid records as the state's next entry, `step_ms` later, mutated.
    Mutated { template: u8, step_ms: u16, mutations: Vec<Mutation> },
}

fuzz_target!(|input: Input| {
    let fixture = fixture();
    let record = match input {
        Input::Raw { sequence, timestamp_ms, kind, payload } => Record { sequence, timestamp_ms, kind, payload },
        Input::Mutated { template, step_ms, mutations } => {
            let template = &fixture.records[usize::from(template) % fixture.records.len()];
            let mut payload = template.payload.clone();
            mutation::apply(&mut payload, &mutations);
            Record {
                sequence: fixture.state.sequence() + 1,
                timestamp_ms: fixture.state.timestamp_ms() + u64::from(step_ms),
                kind: template.kind as u8,
                payload,
            }
        }
    };

    if let Ok(genesis) = decode_genesis(&record.payload) {
        let again = decode_genesis(&encode_genesis(&genesis)).expect("an encoded genesis decodes");
        assert_eq!(again, genesis, "the genesis payload round trip changed it");
        let valid = genesis.rules_version == RULES_VERSION && genesis.config.validate().is_ok();
        let body = EntryBody::Genesis(Genesis {
            rules_version: genesis.rules_version,
            operator_key: genesis.operator_key,
            config: genesis.config,
        });
        let applied = checked::apply(&mut State::new(), &Entry { sequence: 1, timestamp_ms: 0, body });
        assert_eq!(
            applied.is_ok(),
            valid,
            "a genesis applies exactly when it names this binary's rules and its configuration is valid"
        );
    }

    let Ok(decoded) = decode_record(&record, &fixture.state) else { return };
    assert_eq!((decoded.entry.sequence, decoded.entry.timestamp_ms), (record.sequence, record.timestamp_ms));
    let mut state = fixture.state.clone();
    let _ = checked::apply(&mut state, &decoded.entry);
});
