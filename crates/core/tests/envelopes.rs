//! Whole entries: the genesis, log consistency (`ApplyError`), and envelope admission (signers, keys,
//! nonces).

mod support;

use colony_core::RegistryRejection;
use colony_core::{
    Accepted, ApplyError, Entry, EntryBody, EventKind, Genesis, RULES_VERSION, Rejection, SignedCommands, Signer,
    State, SwarmConfig,
};
use support::commands::{Update, config_with_ttl, heartbeat, register};
use support::{
    DEFAULT_START_MS, OutcomeExt, Simulator, SwarmBuilder, agent_id, key_for, names, operator_key, wrong_key_for,
};

fn agent(text: &str) -> Signer {
    Signer::Agent(agent_id(text))
}

fn signed(signer: Signer, verified_key: colony_core::PublicKey, nonce: u64) -> EntryBody {
    EntryBody::Signed(SignedCommands { signer, verified_key, nonce, commands: vec![heartbeat()] })
}

// ----- genesis and log consistency -----

#[test]
fn the_genesis_fixes_the_operator_and_the_configuration() {
    let config = config_with_ttl(5_000);
    let mut factory = SwarmBuilder::new().factory();
    let mut state = State::new();
    let outcome = state.apply(&factory.genesis(config.clone())).expect("genesis applies");
    assert_eq!(outcome.envelope, None);
    assert!(outcome.commands.is_empty());
    assert_eq!(outcome.event_kinds(), [&EventKind::Genesis {}]);
    assert_eq!((outcome.events[0].sequence, outcome.events[0].timestamp_ms), (1, DEFAULT_START_MS));
    assert_eq!(state.operator().map(|operator| operator.public_key), Some(operator_key()));
    assert_eq!(state.signer_key(&Signer::Operator), Some(operator_key()));
    assert_eq!(state.config(), &config);
    assert_eq!((state.sequence(), state.timestamp_ms()), (1, DEFAULT_START_MS));
    assert_eq!((state.counters().entries, state.counters().events), (1, 1));
    assert!(state.check_invariants().is_ok());
}

#[test]
fn the_genesis_records_the_rules_it_was_applied_under() {
    let mut state = State::new();
    assert_eq!(state.rules_version(), 0, "no rules before the genesis");
    state.apply(&SwarmBuilder::new().factory().genesis(SwarmConfig::default())).expect("genesis applies");
    assert_eq!(state.rules_version(), RULES_VERSION);
}

/// A log written under other rules would replay to a state other than the one its writer served and
/// signed: its genesis is refused, whatever else it holds, and nothing changes.
#[test]
fn a_genesis_under_other_rules_is_refused_and_changes_nothing() {
    let mut factory = SwarmBuilder::new().factory();
    let valid = factory.genesis(SwarmConfig::default());
    let no_roles = SwarmConfig { roles: Default::default(), ..SwarmConfig::default() };
    let invalid = SwarmBuilder::new().factory().genesis(no_roles);
    for version in [0, RULES_VERSION + 1, u32::MAX] {
        for template in [&valid, &invalid] {
            let mut entry = template.clone();
            let EntryBody::Genesis(genesis) = &mut entry.body else { panic!("a genesis") };
            genesis.rules_version = version;
            let mut state = State::new();
            let error = state.apply(&entry).expect_err("a genesis of other rules applies");
            // The rules come first: under other rules even the configuration's validity may differ.
            assert_eq!(error, ApplyError::RulesVersionMismatch { log: version, binary: RULES_VERSION });
            assert_eq!(state, State::new(), "a refused genesis changes nothing");
            assert_eq!(
                error.to_string(),
                format!(
                    "this log was written under rules version {version}; this binary applies version {RULES_VERSION}; \
                     replay it with the binary that wrote it, or start a new log"
                )
            );
        }
    }
    assert!(matches!(State::new().apply(&invalid), Err(ApplyError::InvalidGenesis { .. })));
    assert!(State::new().apply(&valid).is_ok());
}

#[test]
fn the_first_entry_must_be_the_genesis_and_only_the_first() {
    let mut state = State::new();
    let empty_hash = state.state_hash();
    for body in [EntryBody::Tick, signed(Signer::Operator, operator_key(), 1)] {
        let entry = Entry { sequence: 1, timestamp_ms: DEFAULT_START_MS, body };
        assert_eq!(state.apply(&entry), Err(ApplyError::GenesisMisplaced { sequence: 1 }));
        assert_eq!(state.state_hash(), empty_hash, "a refused entry changes nothing");
        assert_eq!(state, State::new());
    }

    let mut swarm = Simulator::new();
    let hash = swarm.state().state_hash();
    let second = Entry {
        sequence: 2,
        timestamp_ms: swarm.now_ms(),
        body: EntryBody::Genesis(Genesis {
            rules_version: RULES_VERSION,
            operator_key: wrong_key_for("operator"),
            config: SwarmConfig::default(),
        }),
    };
    assert_eq!(swarm.apply(&second), Err(ApplyError::GenesisMisplaced { sequence: 2 }));
    assert_eq!(swarm.state().state_hash(), hash);
    assert_eq!(swarm.state().signer_key(&Signer::Operator), Some(operator_key()));
}

#[test]
fn sequence_numbers_must_follow_without_gaps() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    let hash = swarm.state().state_hash();
    let now = swarm.now_ms();
    for found in [0, 2, 4, 100] {
        let entry = Entry { sequence: found, timestamp_ms: now, body: EntryBody::Tick };
        assert_eq!(swarm.apply(&entry), Err(ApplyError::SequenceGap { expected: 3, found }));
        assert_eq!(swarm.state().state_hash(), hash, "entry {found} changed the state");
    }
    // Applying the last entry again is a gap too (a duplicate delivery), and does not replay it.
    let last = swarm.log().last().expect("the log is not empty").clone();
    assert_eq!(swarm.apply(&last), Err(ApplyError::SequenceGap { expected: 3, found: 2 }));
    assert_eq!(swarm.state().state_hash(), hash);
    assert_eq!(swarm.state().sequence(), 2);
    // The right entry still applies.
    assert!(swarm.apply(&Entry { sequence: 3, timestamp_ms: now, body: EntryBody::Tick }).is_ok());
}

#[test]
fn time_must_not_go_backwards() {
    let mut swarm = Simulator::new();
    swarm.advance_ms(1_000);
    assert!(swarm.register("a", "scout").all_accepted());
    let hash = swarm.state().state_hash();
    let now = swarm.now_ms();
    let earlier = Entry { sequence: 3, timestamp_ms: now - 1, body: signed(agent("a"), key_for("a"), 1) };
    assert_eq!(swarm.apply(&earlier), Err(ApplyError::TimeWentBackwards { previous_ms: now, found_ms: now - 1 }));
    assert_eq!(swarm.state().state_hash(), hash);
    assert!(swarm.state().nonce_is_fresh(&agent("a"), 1), "a refused entry spends no nonce");
    // The same timestamp is fine: several entries may share a millisecond.
    let same = Entry { sequence: 3, timestamp_ms: now, body: signed(agent("a"), key_for("a"), 1) };
    let outcome = swarm.apply(&same).expect("same time is allowed");
    assert!(outcome.all_accepted());
}

// ----- signers and keys -----

#[test]
fn an_unknown_signer_is_refused_as_a_whole() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    let registry = swarm.state().registry().clone();
    let counters = swarm.state().counters().clone();
    let outcome = swarm.agent("stranger", vec![heartbeat(), Update::new("a").capabilities(["trade"]).into()]);
    assert_eq!(outcome.envelope, Some(Rejection::UnknownSigner));
    assert!(outcome.commands.is_empty());
    assert!(outcome.events.is_empty());
    assert_eq!(swarm.state().registry(), &registry);
    assert_eq!(swarm.state().counters().commands_rejected, counters.commands_rejected + 2);
    assert_eq!(swarm.state().counters().commands_accepted, counters.commands_accepted);
}

#[test]
fn an_unknown_signer_may_only_register_itself_with_the_key_it_signed_with() {
    let mut swarm = Simulator::new();
    let cases: Vec<(colony_core::PublicKey, Vec<colony_core::Command>)> = vec![
        // The envelope was verified with another key than the one being registered.
        (wrong_key_for("solo"), vec![register("solo", "scout")]),
        // Registering someone else.
        (key_for("solo"), vec![register("friend", "scout")]),
        // More than the registration.
        (key_for("solo"), vec![register("solo", "scout"), heartbeat()]),
        // Nothing at all.
        (key_for("solo"), vec![]),
    ];
    for (key, commands) in cases {
        let nonce = swarm.factory().next_nonce(&agent("solo"));
        let outcome = swarm.signed(agent("solo"), key, nonce, commands.clone());
        assert_eq!(outcome.envelope, Some(Rejection::UnknownSigner), "{commands:?}");
        assert!(swarm.state().registry().is_empty());
    }
    assert!(swarm.self_register("solo", "scout").all_accepted());
}

#[test]
fn an_envelope_verified_with_another_key_is_refused() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["a", "b"], "scout");
    let registry = swarm.state().registry().clone();
    for (signer, key) in [
        (agent("a"), wrong_key_for("a")),
        (agent("a"), key_for("b")),
        (Signer::Operator, wrong_key_for("operator")),
        (Signer::Operator, key_for("a")),
    ] {
        let nonce = swarm.factory().next_nonce(&signer);
        let outcome = swarm.signed(signer.clone(), key, nonce, vec![heartbeat()]);
        assert_eq!(outcome.envelope, Some(Rejection::KeyMismatch), "{signer} with {key:?}");
        assert!(outcome.commands.is_empty());
        assert!(swarm.state().nonce_is_fresh(&signer, nonce), "a refused envelope spends no nonce");
    }
    assert_eq!(swarm.state().registry(), &registry);

    // The key is checked before the tombstone: a deregistered agent's forged envelope is a key mismatch.
    assert!(swarm.agent("a", vec![support::commands::deregister("a")]).all_accepted());
    let outcome = swarm.signed(agent("a"), wrong_key_for("a"), 100, vec![heartbeat()]);
    assert_eq!(outcome.envelope, Some(Rejection::KeyMismatch));
}

#[test]
fn a_registered_agent_re_registering_with_another_key_is_a_key_mismatch() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    let outcome = swarm.agent("a", vec![support::commands::Register::new("a", "scout").key(wrong_key_for("a")).into()]);
    assert_eq!(outcome.single(), &Err(Rejection::KeyMismatch));
    let outcome = swarm.agent("a", vec![register("a", "scout")]);
    assert_eq!(outcome.single(), &Err(Rejection::Registry(RegistryRejection::AgentExists { agent: agent_id("a") })));
    assert_eq!(swarm.agent_state("a").public_key, key_for("a"));
}

// ----- nonces -----

#[test]
fn a_replayed_nonce_is_refused_and_changes_nothing_the_envelope_asked_for() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    let outcome = swarm.signed(agent("a"), key_for("a"), 7, vec![Update::new("a").capabilities(["trade"]).into()]);
    assert!(outcome.all_accepted());

    swarm.advance_ms(100);
    let state_before = swarm.state().clone();
    let agent_before = swarm.agent_state("a").clone();
    let outcome =
        swarm.signed(agent("a"), key_for("a"), 7, vec![Update::new("a").capabilities(["vote"]).into(), heartbeat()]);
    assert_eq!(outcome.envelope, Some(Rejection::NonceReplayed { nonce: 7 }));
    assert_eq!(outcome.envelope.as_ref().and_then(Rejection::field), Some("nonce"));
    assert!(outcome.commands.is_empty() && outcome.events.is_empty());

    // A refused envelope is still an entry of the log: the state's sequence number, timestamp and
    // counters advance, so the state hash does change. What must not change is everything the envelope
    // asked for: the registry (agents, their fields, liveness deadlines and nonce windows) and the
    // configuration.
    let state = swarm.state();
    assert_ne!(state.state_hash(), state_before.state_hash());
    assert_eq!(state.sequence(), state_before.sequence() + 1);
    assert_eq!(state.counters().commands_rejected, state_before.counters().commands_rejected + 2);
    assert_eq!(swarm.agent_state("a"), &agent_before);
    assert_eq!(agent_before.capabilities, names(["trade"]));
    assert_eq!(state.registry(), state_before.registry());
    assert_eq!(state.config(), state_before.config());
    // Precisely: the result is the state a tick at that time would have produced, apart from the
    // counters of refused commands.
    let mut ticked = state_before.clone();
    ticked
        .apply(&Entry { sequence: state.sequence(), timestamp_ms: state.timestamp_ms(), body: EntryBody::Tick })
        .unwrap();
    assert_eq!(ticked.registry(), state.registry());
    assert_eq!(ticked.operator(), state.operator());
    assert_eq!(ticked.counters().entries, state.counters().entries);
}

#[test]
fn nonces_may_arrive_out_of_order_within_the_window() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    let mut send = |nonce: u64| swarm.signed(agent("a"), key_for("a"), nonce, vec![heartbeat()]).envelope_code();
    assert_eq!(send(10), None);
    assert_eq!(send(5), None, "an older but unused nonce is fine");
    assert_eq!(send(5), Some("nonce_replayed"));
    assert_eq!(send(10), Some("nonce_replayed"));
    assert_eq!(send(0), Some("nonce_replayed"), "0 is at the initial floor");
    assert_eq!(send(7), None);
    // 64 more nonces push the floor past 5, 7 and 10: an unused old nonce below it is now refused too.
    for nonce in 100..164 {
        assert_eq!(send(nonce), None);
    }
    assert_eq!(send(6), Some("nonce_replayed"));
    assert_eq!(send(99), None, "still above the floor, and unused");
    assert_eq!(swarm.state().highest_nonce(&agent("a")), 163);
}

#[test]
fn the_operator_and_each_agent_have_their_own_nonces() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["a", "b"], "scout");
    let operator_nonce = swarm.state().highest_nonce(&Signer::Operator);
    assert_eq!(operator_nonce, 2);
    for signer in [agent("a"), agent("b")] {
        let key = swarm.state().signer_key(&signer).unwrap();
        let outcome = swarm.signed(signer.clone(), key, operator_nonce, vec![heartbeat()]);
        assert!(outcome.all_accepted(), "{signer}: {outcome:?}");
    }
    let outcome = swarm.signed(Signer::Operator, operator_key(), operator_nonce, vec![]);
    assert_eq!(outcome.envelope_code(), Some("nonce_replayed"));
    let outcome = swarm.signed(Signer::Operator, operator_key(), 0, vec![]);
    assert_eq!(outcome.envelope_code(), Some("nonce_replayed"));
}

#[test]
fn a_self_registration_cannot_be_replayed() {
    let mut swarm = Simulator::new();
    let entry = swarm.factory().agent("solo", vec![register("solo", "scout")]);
    assert!(swarm.apply(&entry).unwrap().all_accepted());
    let registered = swarm.agent_state("solo").clone();
    swarm.advance_ms(10);
    let again = swarm.factory().signed(agent("solo"), key_for("solo"), 1, vec![register("solo", "scout")]);
    let outcome = swarm.apply(&again).unwrap();
    assert_eq!(outcome.envelope, Some(Rejection::NonceReplayed { nonce: 1 }));
    assert_eq!(swarm.agent_state("solo"), &registered);
}

#[test]
fn an_unadmitted_self_registration_spends_no_nonce() {
    let mut swarm = SwarmBuilder::new().self_registration(false).build();
    let outcome = swarm.signed(agent("solo"), key_for("solo"), 1, vec![register("solo", "scout")]);
    assert_eq!(outcome.single_code(), Some("unauthorized"));
    assert!(swarm.state().agent(&agent_id("solo")).is_none());
    assert!(swarm.state().nonce_is_fresh(&agent("solo"), 1));
}

/// Core bug (see the report): an unknown signer's self-registration is admitted without a nonce check
/// (`state.rs`, `admit()`, the `None =>` arm), and `register()` then calls `replay.consume(context.nonce)`
/// on a fresh window. Nonce 0 is never fresh (the floor starts at 0), so `ReplayWindow::consume`'s
/// `assert!(self.is_fresh(nonce), "consume() of a spent nonce")` panics inside `State::apply`: any
/// client can crash the writer, and since the entry is in the log, every replay of the log crashes too.
#[test]

fn a_self_registration_with_nonce_zero_is_refused_not_a_panic() {
    let mut swarm = Simulator::new();
    let entry = swarm.factory().signed(agent("solo"), key_for("solo"), 0, vec![register("solo", "scout")]);
    let outcome = swarm.apply(&entry).expect("the entry is well-formed");
    assert_eq!(outcome.envelope, Some(Rejection::NonceReplayed { nonce: 0 }));
    assert!(swarm.state().agent(&agent_id("solo")).is_none());
}

#[test]
fn a_halted_agents_envelope_is_admitted_and_spends_its_nonce() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    assert!(swarm.operator(vec![support::commands::halt("a", "")]).all_accepted());
    let outcome = swarm.signed(agent("a"), key_for("a"), 3, vec![Update::new("a").capabilities(["x"]).into()]);
    assert_eq!(outcome.envelope, None);
    assert_eq!(outcome.single(), &Err(Rejection::AgentHalted { agent: agent_id("a") }));
    assert!(!swarm.state().nonce_is_fresh(&agent("a"), 3));
    let outcome = swarm.signed(agent("a"), key_for("a"), 3, vec![heartbeat()]);
    assert_eq!(outcome.envelope_code(), Some("nonce_replayed"));
    let outcome = swarm.signed(agent("a"), key_for("a"), 4, vec![heartbeat()]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
}
