//! Properties of `State::apply` over random entry streams (see the testkit's `strategies` module for
//! what the streams hold).

mod support;

use colony_core::command::Heartbeat;
use colony_core::{Agent, AgentId, Command, Entry, EntryBody, EntryOutcome, EventKind, Liveness, Signer, State};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use support::strategies::{Scenario, ScenarioConfig, pool_token, scenario};

/// Cases per property: together they keep this binary at a few seconds in a debug build.
const CASES: u32 = 128;

fn config() -> ProptestConfig {
    ProptestConfig { cases: CASES, ..ProptestConfig::default() }
}

fn streams() -> impl Strategy<Value = Scenario> {
    scenario(ScenarioConfig::default())
}

/// Applies every entry; generated streams are well-formed logs, so an `ApplyError` fails the property.
fn run(state: &mut State, entries: &[Entry]) -> Result<Vec<EntryOutcome>, TestCaseError> {
    entries
        .iter()
        .map(|entry| {
            state.apply(entry).map_err(|error| TestCaseError::fail(format!("entry {}: {error}", entry.sequence)))
        })
        .collect()
}

/// The agent as clients see it: every field except its nonce window.
fn visible(agent: &Agent) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        (&agent.id, &agent.public_key, &agent.role, &agent.capabilities, agent.weight, &agent.parent, &agent.referrer),
        (
            agent.liveness,
            &agent.halt,
            agent.registered_at_ms,
            agent.last_heartbeat_ms,
            agent.heartbeat_deadline_ms,
            agent.deregistered_at_ms,
        ),
    )
}

/// The agents that expire when an entry at `now_ms` is applied to `state`, in the order they must:
/// by deadline, then id.
/// Agents whose heartbeat deadline `now_ms` passes: in deadline order, ties in registration order
/// (the order of registry handles, assigned as agents register).
fn due(state: &State, now_ms: u64) -> Vec<AgentId> {
    let mut due: Vec<(u64, colony_core::AgentHandle, AgentId)> = state
        .registry()
        .iter()
        .filter(|agent| {
            agent.deregistered_at_ms.is_none()
                && agent.liveness == Liveness::Active
                && agent.heartbeat_deadline_ms < now_ms
        })
        .map(|agent| {
            let handle = state.registry().handle(&agent.id).expect("a listed agent has a handle");
            (agent.heartbeat_deadline_ms, handle, agent.id.clone())
        })
        .collect();
    due.sort();
    due.into_iter().map(|(_, _, id)| id).collect()
}

proptest! {
    #![proptest_config(config())]

    /// (a) The same stream applied to two fresh states gives the same outcomes, events and hashes,
    /// entry by entry.
    #[test]
    fn apply_is_deterministic(stream in streams()) {
        let entries = stream.entries();
        let mut first = State::new();
        let mut second = State::new();
        for entry in &entries {
            let first_outcome = first.apply(entry);
            let second_outcome = second.apply(entry);
            prop_assert_eq!(&first_outcome, &second_outcome);
            prop_assert!(first_outcome.is_ok());
            prop_assert_eq!(first.state_hash(), second.state_hash());
        }
        prop_assert_eq!(first, second);
    }

    /// (b) Snapshotting after any prefix and carrying on from the decoded snapshot gives the same
    /// outcomes and the same final state as running straight through.
    #[test]
    fn a_snapshot_anywhere_changes_nothing(stream in streams(), split in any::<Index>()) {
        let entries = stream.entries();
        let split = split.index(entries.len() + 1);
        let mut straight = State::new();
        let straight_outcomes = run(&mut straight, &entries)?;

        let mut prefix = State::new();
        run(&mut prefix, &entries[..split])?;
        let snapshot = prefix.encode_snapshot();
        let mut restored = State::decode_snapshot(&snapshot)
            .map_err(|error| TestCaseError::fail(format!("snapshot after {split} entries: {error}")))?;
        prop_assert_eq!(&restored, &prefix);
        prop_assert_eq!(restored.state_hash(), prefix.state_hash());
        let rest_outcomes = run(&mut restored, &entries[split..])?;
        prop_assert_eq!(&rest_outcomes[..], &straight_outcomes[split..]);
        prop_assert_eq!(restored.state_hash(), straight.state_hash());
    }

    /// (c) Every invariant holds after every entry; outcomes have the documented shape; events are
    /// numbered within their entry; the counters add up.
    #[test]
    fn invariants_hold_after_every_entry(stream in streams()) {
        let entries = stream.entries();
        let mut state = State::new();
        let (mut accepted, mut rejected, mut events) = (0u64, 0u64, 0u64);
        for entry in &entries {
            let outcome = state.apply(entry).map_err(|error| TestCaseError::fail(error.to_string()))?;
            if let Err(broken) = state.check_invariants() {
                return Err(TestCaseError::fail(format!("after entry {}: {broken}", entry.sequence)));
            }
            match &entry.body {
                EntryBody::Signed(signed) if outcome.envelope.is_some() => {
                    prop_assert!(outcome.commands.is_empty());
                    rejected += signed.commands.len() as u64;
                }
                EntryBody::Signed(signed) => {
                    prop_assert_eq!(outcome.commands.len(), signed.commands.len());
                    accepted += outcome.commands.iter().filter(|result| result.is_ok()).count() as u64;
                    rejected += outcome.commands.iter().filter(|result| result.is_err()).count() as u64;
                }
                EntryBody::Genesis(_) | EntryBody::Tick => {
                    prop_assert!(outcome.envelope.is_none() && outcome.commands.is_empty());
                }
            }
            for (index, event) in outcome.events.iter().enumerate() {
                prop_assert_eq!(
                    (event.sequence, event.index, event.timestamp_ms),
                    (entry.sequence, index as u32, entry.timestamp_ms)
                );
            }
            events += outcome.events.len() as u64;
            prop_assert_eq!((state.sequence(), state.timestamp_ms()), (entry.sequence, entry.timestamp_ms));
        }
        let counters = state.counters();
        prop_assert_eq!(counters.entries, entries.len() as u64);
        prop_assert_eq!((counters.commands_accepted, counters.commands_rejected, counters.events), (accepted, rejected, events));
    }

    /// (d) An entry whose every command was refused changes nothing but log time: its state equals
    /// that of a tick at the same time, except that an admitted envelope spends its signer's nonce
    /// (and the counters count the refusals).
    #[test]
    fn refused_commands_change_nothing(stream in streams()) {
        let entries = stream.entries();
        let mut state = State::new();
        let mut checked = 0;
        for entry in &entries {
            let before = state.clone();
            let outcome = state.apply(entry).map_err(|error| TestCaseError::fail(error.to_string()))?;
            let EntryBody::Signed(signed) = &entry.body else { continue };
            if !outcome.commands.iter().all(Result::is_err) {
                continue;
            }
            checked += 1;
            let mut ticked = before.clone();
            let tick = Entry { body: EntryBody::Tick, ..entry.clone() };
            let tick_outcome = ticked.apply(&tick).map_err(|error| TestCaseError::fail(error.to_string()))?;
            prop_assert_eq!(&outcome.events, &tick_outcome.events, "entry {}: only expiries may happen", entry.sequence);
            prop_assert_eq!(state.config(), ticked.config());
            for token in 0..ScenarioConfig::default().token_pool {
                prop_assert_eq!(state.read_token(&pool_token(token)), ticked.read_token(&pool_token(token)));
            }
            prop_assert_eq!(state.registry().len(), ticked.registry().len());
            prop_assert_eq!(state.registry().next_deadline_ms(), ticked.registry().next_deadline_ms());
            if outcome.envelope.is_some() {
                // Refused as a whole: not even a nonce is spent.
                prop_assert_eq!(state.registry(), ticked.registry(), "entry {}", entry.sequence);
                prop_assert_eq!(state.operator(), ticked.operator());
                continue;
            }
            for (agent, ticked_agent) in state.registry().iter().zip(ticked.registry().iter()) {
                if signed.signer == Signer::Agent(agent.id.clone()) {
                    prop_assert_eq!(visible(agent), visible(ticked_agent), "entry {}", entry.sequence);
                    prop_assert!(!state.nonce_is_fresh(&signed.signer, signed.nonce));
                } else {
                    prop_assert_eq!(agent, ticked_agent, "entry {}", entry.sequence);
                }
            }
            match &signed.signer {
                Signer::Operator => {
                    prop_assert_eq!(state.signer_key(&Signer::Operator), ticked.signer_key(&Signer::Operator));
                    prop_assert!(!state.nonce_is_fresh(&Signer::Operator, signed.nonce));
                }
                Signer::Agent(_) => prop_assert_eq!(state.operator(), ticked.operator()),
            }
        }
        // Streams are mostly rejections of one kind or another; make sure this property bites.
        prop_assert!(entries.len() < 20 || checked > 0, "no entry had all its commands refused");
    }

    /// (e) Liveness follows log time exactly: an entry first expires every active agent whose deadline
    /// it passed (in deadline order, ties in registration order, before anything else), every active agent afterwards has a deadline
    /// not yet passed, and an agent becomes active again exactly when one of its heartbeats is accepted
    /// while it is unresponsive.
    #[test]
    fn liveness_follows_log_time(stream in streams()) {
        let entries = stream.entries();
        let mut state = State::new();
        for entry in &entries {
            let due = due(&state, entry.timestamp_ms);
            let before = state.clone();
            let outcome = state.apply(entry).map_err(|error| TestCaseError::fail(error.to_string()))?;
            let expired: Vec<AgentId> = outcome
                .events
                .iter()
                .take(due.len())
                .filter_map(|event| match &event.kind {
                    EventKind::AgentUnresponsive { agent } => Some(agent.clone()),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(&expired, &due, "entry {}", entry.sequence);
            let later_expiries = outcome.events[due.len()..]
                .iter()
                .filter(|event| matches!(event.kind, EventKind::AgentUnresponsive { .. }))
                .count();
            prop_assert_eq!(later_expiries, 0);
            // Handles are dense and follow the log: the n-th registration ever gets handle n.
            let registered = outcome.events.iter().filter_map(|event| match &event.kind {
                EventKind::AgentRegistered { agent, .. } => Some(agent),
                _ => None,
            });
            for (offset, agent) in registered.enumerate() {
                let expected = before.registry().len() + offset;
                let handle = state.registry().handle(agent).expect("a registered agent has a handle");
                prop_assert_eq!(handle.index(), expected, "entry {}", entry.sequence);
            }
            for agent in state.registry().iter() {
                if agent.deregistered_at_ms.is_none() && agent.liveness == Liveness::Active {
                    prop_assert!(agent.heartbeat_deadline_ms >= entry.timestamp_ms, "{:?}", agent);
                }
            }

            let revived: Vec<&AgentId> = outcome
                .events
                .iter()
                .filter_map(|event| match &event.kind {
                    EventKind::AgentActive { agent } => Some(agent),
                    _ => None,
                })
                .collect();
            let expected: Vec<&AgentId> = match &entry.body {
                EntryBody::Signed(signed) => {
                    let heartbeat_accepted = signed
                        .commands
                        .iter()
                        .zip(&outcome.commands)
                        .any(|(command, result)| matches!(command, Command::Heartbeat(Heartbeat {})) && result.is_ok());
                    let signer = signed.signer.agent();
                    let was_unresponsive = signer.is_some_and(|id| {
                        due.contains(id)
                            || before.agent(id).is_some_and(|agent| agent.liveness == Liveness::Unresponsive)
                    });
                    signer.filter(|_| heartbeat_accepted && was_unresponsive).into_iter().collect()
                }
                _ => Vec::new(),
            };
            prop_assert_eq!(revived, expected, "entry {}", entry.sequence);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The same as (c) with nonce 0 in the mix: finds the self-registration panic described in
    /// `envelopes.rs`.
    #[test]

    fn streams_with_nonce_zero_never_panic(
        stream in scenario(ScenarioConfig { zero_nonces: true, oversized_envelopes: false, ..ScenarioConfig::default() })
    ) {
        let mut state = State::new();
        run(&mut state, &stream.entries())?;
        prop_assert_eq!(state.check_invariants(), Ok(()));
    }
}
