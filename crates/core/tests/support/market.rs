//! Market commands written as JSON, as a client sends them, and the two outcomes the market's tests
//! check: accepted, or refused with a code having changed neither the market nor the ledger.

#![allow(dead_code)]

use colony_core::{Command, EntryOutcome, Rejection};
use colony_testkit::{OutcomeExt, Simulator};
use serde_json::Value;

/// The command `value` spells.
pub fn command(value: Value) -> Command {
    serde_json::from_value(value.clone()).unwrap_or_else(|error| panic!("{value} is not a command: {error}"))
}

/// Sends `value` signed by `who`; it must be accepted.
#[track_caller]
pub fn ok(swarm: &mut Simulator, who: &str, value: Value) -> EntryOutcome {
    let outcome = swarm.agent(who, vec![command(value)]);
    assert!(outcome.single().is_ok(), "expected acceptance: {outcome:?}");
    outcome
}

/// Sends `value` signed by `who`; it must be refused with `code`, changing nothing in the market or
/// the ledger.
#[track_caller]
pub fn refused(swarm: &mut Simulator, who: &str, value: Value, code: &str) -> Rejection {
    let (market, ledger) = (swarm.state().market().clone(), swarm.ledger().clone());
    let outcome = swarm.agent(who, vec![command(value)]);
    let rejection = outcome.single_rejection().clone();
    assert_eq!(rejection.code(), code, "refused for another reason: {rejection}");
    assert_eq!(swarm.state().market(), &market, "a refused command changed the market");
    assert_eq!(swarm.ledger(), &ledger, "a refused command changed the ledger");
    rejection
}
