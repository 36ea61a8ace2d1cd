//! Snapshots from arbitrary bytes, and real snapshots with bytes flipped, replaced, inserted and cut:
//! decoding never panics, and whatever decodes is a state whose invariants hold, that keeps its hash
//! through its own snapshot, and that carries on (a tick past every deadline) without panicking.
//! Recovery loads the newest snapshot that decodes, so a damaged one that decodes to a broken state
//! would fail later, far from its cause; `decode_snapshot` must refuse it instead.
#![no_main]

use arbitrary::Arbitrary;
use colony_core::{Entry, EntryBody, State};
use colony_fuzz::checked;
use colony_fuzz::fixture::fixture;
use colony_fuzz::mutation::{self, Mutation};
use libfuzzer_sys::fuzz_target;

/// How far past the decoded state's time the tick lands: beyond every escrow timeout, ack wait and
/// heartbeat TTL the fixture uses, so that every deadline in the state passes at once.
const TICK_AFTER_MS: u64 = 100 * 24 * 3_600 * 1_000;

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any bytes.
    Raw(Vec<u8>),
    /// The fixture's snapshot, mutated.
    Mutated(Vec<Mutation>),
}

fuzz_target!(|input: Input| {
    let bytes = match input {
        Input::Raw(bytes) => bytes,
        Input::Mutated(mutations) => {
            let mut bytes = fixture().snapshot.clone();
            mutation::apply(&mut bytes, &mutations);
            bytes
        }
    };
    let Ok(mut state) = State::decode_snapshot(&bytes) else { return };
    if let Err(broken) = state.check_invariants() {
        panic!("a decoded snapshot breaks an invariant: {broken}");
    }
    let again = State::decode_snapshot(&state.encode_snapshot()).expect("a decoded state's own snapshot decodes");
    assert_eq!(again.state_hash(), state.state_hash(), "the snapshot round trip changed the state");
    let Some(sequence) = state.sequence().checked_add(1) else { return };
    let tick =
        Entry { sequence, timestamp_ms: state.timestamp_ms().saturating_add(TICK_AFTER_MS), body: EntryBody::Tick };
    // An empty state (sequence 0) takes only a genesis, so the tick is refused; checked::apply holds
    // it to changing nothing then.
    let _ = checked::apply(&mut state, &tick);
});
