//! The testkit's own tests: determinism of keys and entries, and coverage of the generators.

use std::collections::BTreeSet;

use colony_core::{ApplyError, Command, Entry, EntryBody, EventKind, Signer, State};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::commands::{heartbeat, register};
use super::strategies::{Stream, StreamConfig, stream};
use super::{EntryFactory, OutcomeExt, Simulator, SwarmBuilder, agent_id, key_for, operator_key, wrong_key_for};

#[test]
fn keys_are_stable_and_distinct() {
    assert_eq!(key_for("agent-0"), key_for("agent-0"));
    // Pinned, so that a change of the derivation (which would silently change every fixture) is noticed.
    assert_eq!(key_for("agent-0").to_hex(), KEY_AGENT_0);
    let keys: BTreeSet<_> =
        [key_for("agent-0"), key_for("agent-1"), wrong_key_for("agent-0"), operator_key(), wrong_key_for("operator")]
            .into_iter()
            .collect();
    assert_eq!(keys.len(), 5, "derived keys collide");
}

const KEY_AGENT_0: &str = "b142f2567deed360763780bda4e7aa894bc6ddd53baa5ed83ea6a46ddbae722e";

#[test]
fn the_factory_numbers_entries_and_nonces() {
    let mut factory = EntryFactory::new(1_000, operator_key());
    let genesis = factory.genesis(Default::default());
    assert_eq!((genesis.sequence, genesis.timestamp_ms), (1, 1_000));
    factory.advance_ms(250);
    let first = factory.operator(vec![]);
    let second = factory.agent("a", vec![heartbeat()]);
    let third = factory.operator(vec![]);
    assert_eq!([first.sequence, second.sequence, third.sequence], [2, 3, 4]);
    assert!([&first, &second, &third].iter().all(|entry| entry.timestamp_ms == 1_250));
    let nonce = |entry: &Entry| match &entry.body {
        EntryBody::Signed(signed) => (signed.signer.clone(), signed.nonce, signed.verified_key),
        other => panic!("not signed: {other:?}"),
    };
    assert_eq!(nonce(&first), (Signer::Operator, 1, operator_key()));
    assert_eq!(nonce(&second), (Signer::Agent(agent_id("a")), 1, key_for("a")));
    assert_eq!(nonce(&third).1, 2);
    // A nonce chosen by hand moves the counter past it.
    factory.signed(Signer::Operator, operator_key(), 40, vec![]);
    assert_eq!(factory.next_nonce(&Signer::Operator), 41);
    assert_eq!(factory.last_nonce(&Signer::Agent(agent_id("b"))), 0);
}

#[test]
fn the_simulator_applies_and_resynchronises() {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(5_000).build();
    assert_eq!(swarm.state().sequence(), 1);
    assert_eq!(swarm.state().config().heartbeat_ttl_ms, 5_000);
    assert!(swarm.register("a", "scout").all_accepted());
    // An entry from the future is refused, and the factory keeps numbering after the state's last entry.
    let bad = Entry { sequence: 9, timestamp_ms: swarm.now_ms(), body: EntryBody::Tick };
    assert_eq!(swarm.apply(&bad), Err(ApplyError::SequenceGap { expected: 3, found: 9 }));
    let outcome = swarm.agent("a", vec![heartbeat()]);
    assert!(outcome.all_accepted());
    assert_eq!(swarm.state().sequence(), 3);
    assert_eq!(swarm.replay_log().state_hash(), swarm.state().state_hash());
    assert_eq!(swarm.log().len(), 3);
}

fn sample_streams(config: &StreamConfig, seed: [u8; 32], count: usize) -> Vec<Stream> {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = stream(config.clone());
    (0..count).map(|_| strategy.new_tree(&mut runner).expect("streams always generate").current()).collect()
}

#[test]
fn streams_are_deterministic_given_the_seed() {
    let config = StreamConfig::default();
    let first: Vec<Vec<Entry>> = sample_streams(&config, [7; 32], 8).iter().map(Stream::entries).collect();
    let second: Vec<Vec<Entry>> = sample_streams(&config, [7; 32], 8).iter().map(Stream::entries).collect();
    assert_eq!(first, second);
    let other: Vec<Vec<Entry>> = sample_streams(&config, [8; 32], 8).iter().map(Stream::entries).collect();
    assert_ne!(first, other, "another seed should give other streams");
}

/// The generators are only useful if they reach every rule: this runs a fixed sample of streams and
/// checks that every command kind, every reachable rejection code and every event kind shows up.
#[test]
fn streams_cover_every_command_rejection_and_event() {
    let config = StreamConfig::default();
    let mut command_kinds = BTreeSet::new();
    let mut codes = BTreeSet::new();
    let mut events = BTreeSet::new();
    let mut accepted_kinds = BTreeSet::new();
    let mut self_registrations = 0;
    for stream in sample_streams(&config, [42; 32], 48) {
        let mut state = State::new();
        for entry in stream.entries() {
            let outcome = state.apply(&entry).expect("generated streams are well-formed logs");
            if let Some(code) = outcome.envelope_code() {
                codes.insert(code);
            }
            if let EntryBody::Signed(signed) = &entry.body {
                for (command, result) in signed.commands.iter().zip(&outcome.commands) {
                    match result {
                        Ok(_) => {
                            accepted_kinds.insert(command.kind());
                        }
                        Err(rejection) => {
                            codes.insert(rejection.code());
                        }
                    }
                }
                command_kinds.extend(signed.commands.iter().map(Command::kind));
            }
            for event in &outcome.events {
                if let EventKind::AgentRegistered { by: Signer::Agent(by), agent, .. } = &event.kind
                    && by == agent
                {
                    self_registrations += 1;
                }
                events.insert(serde_type(&event.kind));
            }
        }
    }
    let all_kinds = [
        "agent.register",
        "agent.update",
        "agent.heartbeat",
        "agent.halt",
        "agent.resume",
        "agent.deregister",
        "config.set",
        "read_token.issue",
        "read_token.revoke",
    ];
    assert_eq!(command_kinds, all_kinds.into_iter().collect(), "generated command kinds");
    assert_eq!(accepted_kinds, all_kinds.into_iter().collect(), "accepted command kinds");
    let expected_codes = [
        "unknown_signer",
        "key_mismatch",
        "nonce_replayed",
        "unauthorized",
        "agent_not_found",
        "agent_exists",
        "agent_deregistered",
        "agent_halted",
        "unknown_role",
        "invalid_field",
        "limit_reached",
        "read_token_not_found",
    ];
    let missing: Vec<_> = expected_codes.iter().filter(|code| !codes.contains(*code)).collect();
    assert!(missing.is_empty(), "rejection codes never generated: {missing:?}");
    let expected_events = [
        "swarm.genesis",
        "config.changed",
        "agent.registered",
        "agent.updated",
        "agent.unresponsive",
        "agent.active",
        "agent.halted",
        "agent.resumed",
        "agent.deregistered",
        "read_token.issued",
        "read_token.revoked",
    ];
    assert_eq!(events, expected_events.into_iter().collect(), "event kinds");
    assert!(self_registrations > 0, "no self-registration was ever accepted");
}

fn serde_type(kind: &EventKind) -> &'static str {
    kind.name()
}

#[test]
fn simulator_helpers_sign_as_expected() {
    let mut swarm = Simulator::new();
    let outcome = swarm.self_register("solo", "scout");
    assert!(outcome.all_accepted(), "{outcome:?}");
    assert_eq!(swarm.agent_state("solo").public_key, key_for("solo"));
    let outcome = swarm.operator(vec![register("solo", "scout")]);
    assert_eq!(outcome.single_code(), Some("agent_exists"));
}
