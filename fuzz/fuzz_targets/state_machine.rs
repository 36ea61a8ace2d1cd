//! The state machine under coverage-guided entry streams: commands of every family (registry, ledger,
//! escrow, wallet policies, configuration, read tokens, durable streams, consumers, dead letters, the
//! task market) from
//! a few known agents, unknown signers and the operator, with wrong keys, replayed nonces and time
//! moving forward by arbitrary steps. After every entry every invariant holds and the commands it
//! refused changed nothing (see `colony_fuzz::checked`); at the end the state survives a snapshot round
//! trip. The property tests draw such streams at random; the fuzzer steers towards streams that reach
//! code they have not reached yet, and keeps the ones that do.
#![no_main]

use colony_core::State;
use colony_fuzz::checked;
use colony_fuzz::recipes::StreamRecipe;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|recipe: StreamRecipe| {
    // Rendering resolves each step against the state the entries before lead to, so it applies them
    // too; the checks below apply them again, from scratch.
    let entries = recipe.scenario().entries();
    let mut state = State::new();
    for entry in &entries {
        if let Err(error) = checked::apply(&mut state, entry) {
            panic!("entry {} of a well-formed stream did not apply: {error}", entry.sequence);
        }
    }
    let restored = State::decode_snapshot(&state.encode_snapshot()).expect("a state's own snapshot decodes");
    assert_eq!(restored.state_hash(), state.state_hash(), "the snapshot round trip changed the state");
});
