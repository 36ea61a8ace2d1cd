//! Applying an entry with every check that must hold after it.
//!
//! The one comparison that needs care is "a refused command changes nothing": an entry always
//! changes some things, whatever its commands do. Its sequence and time move, time-driven expiries
//! run, an admitted envelope spends its nonce, and the counters count the refusals. So the entry is
//! compared with a reference entry applied to a copy of the state before: the same envelope with only
//! the commands that were accepted (a tick when the whole envelope was refused). Both must produce the
//! same events and the same results for those commands, and the same state, byte for byte, except for
//! the number of commands refused.

use colony_core::{ApplyError, Counters, Entry, EntryBody, EntryOutcome, SignedCommands, State};

/// Applies `entry` to `state`, then checks every invariant, and that the commands the entry refused
/// (or its whole envelope, if refused) changed nothing. An entry that does not apply at all must leave
/// the state as it was.
///
/// # Panics
/// When any of those checks fails: that is a bug in core for the fuzzer to report.
pub fn apply(state: &mut State, entry: &Entry) -> Result<EntryOutcome, ApplyError> {
    let before = state.clone();
    let outcome = match state.apply(entry) {
        Ok(outcome) => outcome,
        Err(error) => {
            assert!(*state == before, "entry {} did not apply ({error}) but changed the state", entry.sequence);
            return Err(error);
        }
    };
    if let Err(broken) = state.check_invariants() {
        panic!("invariant broken after entry {}: {broken}", entry.sequence);
    }
    if let EntryBody::Signed(signed) = &entry.body {
        check_refusals_changed_nothing(&before, entry, signed, &outcome, state);
    }
    Ok(outcome)
}

fn check_refusals_changed_nothing(
    before: &State,
    entry: &Entry,
    signed: &SignedCommands,
    outcome: &EntryOutcome,
    after: &State,
) {
    let refused = match outcome.envelope {
        Some(_) => signed.commands.len(),
        None => outcome.commands.iter().filter(|result| result.is_err()).count(),
    };
    if refused == 0 && outcome.envelope.is_none() {
        return;
    }
    let reference_body = match outcome.envelope {
        Some(_) => EntryBody::Tick,
        None => EntryBody::Signed(SignedCommands {
            commands: signed
                .commands
                .iter()
                .zip(&outcome.commands)
                .filter(|(_, result)| result.is_ok())
                .map(|(command, _)| command.clone())
                .collect(),
            ..signed.clone()
        }),
    };
    let mut reference = before.clone();
    let reference_outcome = reference
        .apply(&Entry { sequence: entry.sequence, timestamp_ms: entry.timestamp_ms, body: reference_body })
        .expect("the reference entry has the entry's sequence and time");
    let sequence = entry.sequence;
    assert_eq!(outcome.events, reference_outcome.events, "entry {sequence}: refused commands emitted events");
    let accepted: Vec<_> = outcome.commands.iter().filter(|result| result.is_ok()).cloned().collect();
    // A self-registration that was refused leaves an envelope of no commands from an unknown signer,
    // which is refused as a whole: no results either way.
    assert_eq!(accepted, reference_outcome.commands, "entry {sequence}: refused commands changed other results");
    let expected_counters = Counters {
        commands_rejected: reference.counters().commands_rejected.saturating_add(refused as u64),
        ..reference.counters().clone()
    };
    assert_eq!(after.counters(), &expected_counters, "entry {sequence}: counters");
    if without_counters(after) != without_counters(&reference) {
        // Name the part that differs, so that the report says where to look.
        assert_eq!(after.config(), reference.config(), "entry {sequence}: refused commands changed the configuration");
        assert_eq!(after.operator(), reference.operator(), "entry {sequence}: refused commands changed the operator");
        assert_eq!(after.registry(), reference.registry(), "entry {sequence}: refused commands changed the registry");
        assert_eq!(after.ledger(), reference.ledger(), "entry {sequence}: refused commands changed the ledger");
        assert_eq!(after.bus(), reference.bus(), "entry {sequence}: refused commands changed the bus");
        panic!("entry {sequence}: refused commands changed the read tokens");
    }
}

/// The state's snapshot without its counters (the last field, so the end of the encoding).
fn without_counters(state: &State) -> Vec<u8> {
    let mut bytes = state.encode_snapshot();
    let counters = postcard::to_stdvec(state.counters()).expect("counters encode");
    assert!(bytes.ends_with(&counters), "the counters are the last field of a snapshot");
    bytes.truncate(bytes.len() - counters.len());
    bytes
}
