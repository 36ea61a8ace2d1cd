//! The testkit's own tests: determinism of keys and entries, and coverage of the generators.

use colony_core::LedgerRejection;
use colony_core::command::{
    ConfigureWallet, DisputeEscrow, Fetch, LockEscrow, Mint, Publish, ReleaseEscrow, ResolveEscrow, Sweep, Transfer,
    TransferBatch, Withdraw,
};
use colony_core::rejection_samples::rejection_samples;
use std::collections::BTreeSet;

use colony_core::{Accepted, ApplyError, Command, Entry, EntryBody, EscrowState, EventKind, Rejection, Signer, State};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::commands::{heartbeat, register};
use super::strategies::{Scenario, ScenarioConfig, scenario};
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

const KEY_AGENT_0: &str = "658d76d220c158de0f18155c1e23abda6523033214fe91c73a52d75655a24072";

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

fn sample_streams(config: &ScenarioConfig, seed: [u8; 32], count: usize) -> Vec<Scenario> {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = scenario(config.clone());
    (0..count).map(|_| strategy.new_tree(&mut runner).expect("streams always generate").current()).collect()
}

#[test]
fn streams_are_deterministic_given_the_seed() {
    let config = ScenarioConfig::default();
    let first: Vec<Vec<Entry>> = sample_streams(&config, [7; 32], 8).iter().map(Scenario::entries).collect();
    let second: Vec<Vec<Entry>> = sample_streams(&config, [7; 32], 8).iter().map(Scenario::entries).collect();
    assert_eq!(first, second);
    let other: Vec<Vec<Entry>> = sample_streams(&config, [8; 32], 8).iter().map(Scenario::entries).collect();
    assert_ne!(first, other, "another seed should give other streams");
}

/// Rejection codes that no generated stream can produce, each for a reason that lies in what a
/// stream is rather than in a gap of the generators.
const CODES_NO_STREAM_REACHES: &[&str] = &[
    // Refuses the operator's envelopes before the genesis, and every stream begins with its
    // genesis (an entry before it is a malformed log, which `apply` reports as an error instead).
    "genesis",
    // A cycle of waits needs two agents each holding one lock through a live lease and each waiting
    // for the other's, four acquires lined up across envelopes before either lease ends: random
    // envelopes of a few commands each do not get there. `crates/core/tests/coordination_locks.rs`
    // closes two- and three-cycles, and `coordination_model.rs` checks every refusal against a model.
    "deadlock",
    // Needs a round that elected (a majority of one group's members voting alike, across envelopes,
    // before the round's timeout) and then another member of that group, heard from, opening a round
    // while the leader still is: the streams elect a dozen times and never line the rest up.
    // `crates/core/tests/coordination_votes.rs` refuses it.
    "leader_healthy",
    // A jury is the swarm's proposal, opened by a dispute in a ledger stream, while amends and cancels
    // come from the governance streams and name proposals of their own; a cancel of a jury is the
    // operator's deliberate act, not a random one. `crates/core/tests/governance_juries.rs` refuses
    // both.
    "jury_fixed",
    // Refusals of reads (`GET /v1/kv/…`), which no command gives: a reader outside a namespace's
    // readers, a key not stored, a watch from before what a namespace remembers.
    // `crates/server/src/http/kv_tests.rs` reaches each.
    "kv_not_reader",
    "kv_key_not_found",
    "kv_compacted",
];

/// Events the sample streams do not reach, each for a reason in the rules rather than a gap of the
/// generators; a dedicated test drives each.
const EVENTS_NO_STREAM_REACHES: &[&str] = &[
    // An action runs only when a majority of an electorate the proposer cannot pick one by one votes
    // yes with a quorum of half of it (`governance::action::check_action_rule`): random ballots
    // spread over random proposals do not get there. `crates/core/tests/governance_actions.rs` runs
    // and fails actions.
    "proposal.executed",
    "proposal.action_failed",
];

/// The generators are only useful if they reach every rule: this runs a fixed sample of streams and
/// checks that every command kind is generated and accepted, and that every reachable rejection code
/// and every event kind shows up, along with the ledger situations the rules single out.
#[test]
fn streams_cover_every_command_rejection_and_event() {
    let config = ScenarioConfig::default();
    let mut command_kinds = BTreeSet::new();
    let mut codes = BTreeSet::new();
    let mut events = BTreeSet::new();
    let mut accepted_kinds = BTreeSet::new();
    let mut situations: BTreeSet<&'static str> = BTreeSet::new();
    let mut self_registrations = 0;
    // The ledger's and the bus's situations are rare enough that diluting their streams with other
    // commands would lose some, so the sample is ledger streams alone (as generated before the bus
    // and the market existed), streams with the bus, streams with the market, and streams with
    // governance.
    let only = ScenarioConfig {
        bus: false,
        market: false,
        governance: false,
        stigmergy: false,
        coordination: false,
        kv: false,
        ..config.clone()
    };
    let ledger_only = only.clone();
    let with_bus = ScenarioConfig { bus: true, ..only.clone() };
    let with_market = ScenarioConfig { market: true, ..only.clone() };
    let with_governance = ScenarioConfig { governance: true, ..only.clone() };
    let with_stigmergy = ScenarioConfig { stigmergy: true, ..only.clone() };
    let with_coordination = ScenarioConfig { coordination: true, ..only.clone() };
    let with_kv = ScenarioConfig { kv: true, ..only.clone() };
    let samples = sample_streams(&ledger_only, [42; 32], 240)
        .into_iter()
        .chain(sample_streams(&with_bus, [42; 32], 400))
        .chain(sample_streams(&with_market, [42; 32], 200))
        .chain(sample_streams(&with_governance, [42; 32], 100))
        .chain(sample_streams(&with_stigmergy, [42; 32], 40))
        .chain(sample_streams(&with_coordination, [42; 32], 160))
        .chain(sample_streams(&with_kv, [42; 32], 40));
    for stream in samples {
        let mut state = State::new();
        for entry in stream.entries() {
            let outcome = state.apply(&entry).expect("generated streams are well-formed logs");
            if let Some(code) = outcome.envelope_code() {
                codes.insert(code);
            }
            if let EntryBody::Signed(signed) = &entry.body {
                for (command, result) in signed.commands.iter().zip(&outcome.commands) {
                    match result {
                        Ok(accepted) => {
                            accepted_kinds.insert(command.kind());
                            situations.extend(accepted_situation(&state, &signed.signer, command, accepted));
                        }
                        Err(rejection) => {
                            codes.insert(rejection.code());
                            situations.extend(rejected_situation(command, rejection));
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
                situations.extend(event_situation(&event.kind));
                events.insert(event.kind.name());
            }
            if state.ledger().supply() == u128::from(u64::MAX) {
                situations.insert("u64::MAX supply");
            }
        }
    }
    let all_kinds = Command::KINDS.iter().copied();
    assert_eq!(command_kinds, all_kinds.clone().collect(), "generated command kinds");
    assert_eq!(accepted_kinds, all_kinds.collect(), "accepted command kinds");
    let samples = rejection_samples();
    let expected_codes: Vec<&str> =
        samples.iter().map(Rejection::code).filter(|code| !CODES_NO_STREAM_REACHES.contains(code)).collect();
    let missing: Vec<_> = expected_codes.iter().filter(|code| !codes.contains(*code)).collect();
    let reached_anyway: Vec<_> = CODES_NO_STREAM_REACHES.iter().filter(|code| codes.contains(*code)).collect();
    assert!(reached_anyway.is_empty(), "codes said to be out of reach but generated: {reached_anyway:?}");
    assert!(missing.is_empty(), "rejection codes never generated: {missing:?}");
    let expected_events = EventKind::NAMES.iter().copied().filter(|name| !EVENTS_NO_STREAM_REACHES.contains(name));
    assert_eq!(events, expected_events.collect(), "event kinds");
    assert!(self_registrations > 0, "no self-registration was ever accepted");
    let expected_situations = [
        "transfer retried (unchanged)",
        "lock retried (existing escrow)",
        "transfer to self",
        "transfer to an unknown agent",
        "transfer to a deregistered agent",
        "zero amount",
        "money supply overflow",
        "batch failed after its first transfer",
        "batch too long",
        "sweep by a non-parent",
        "sweep by the parent",
        "wallet policy by a stranger",
        "wallet policy by the parent",
        "wallet policy by the operator",
        "escrow timeout out of range",
        "release with the preimage",
        "release with a wrong preimage",
        "release after settlement",
        "dispute after settlement",
        "resolve by a wrong signer",
        "resolved by the operator",
        "resolved by an arbiter",
        "escrow released",
        "escrow refunded",
        "escrow expired",
        "escrow resolved",
        "referral paid",
        "u64::MAX supply",
        "u64::MAX refused",
        "duplicate publish",
        "redelivery fetched",
        "dead-lettered after max_deliver",
        "dead-lettered by term",
    ];
    let missing: Vec<_> = expected_situations.iter().filter(|situation| !situations.contains(*situation)).collect();
    assert!(missing.is_empty(), "ledger and bus situations never generated: {missing:?}");
}

/// The ledger situation an accepted command stands for, if any (`state` is the state after it).
fn accepted_situation(state: &State, signer: &Signer, command: &Command, accepted: &Accepted) -> Option<&'static str> {
    match (command, accepted) {
        (
            Command::Transfer(Transfer { .. }) | Command::Mint(Mint { .. }) | Command::Withdraw(Withdraw { .. }),
            Accepted::Unchanged,
        ) => Some("transfer retried (unchanged)"),
        (Command::LockEscrow(LockEscrow { .. }), Accepted::Escrow { existing: true, .. }) => {
            Some("lock retried (existing escrow)")
        }
        (Command::Sweep(Sweep { .. }), Accepted::Done) => Some("sweep by the parent"),
        (Command::ConfigureWallet(ConfigureWallet { .. }), Accepted::Done) if *signer == Signer::Operator => {
            Some("wallet policy by the operator")
        }
        (Command::ConfigureWallet(ConfigureWallet { .. }), Accepted::Done) => Some("wallet policy by the parent"),
        (Command::Publish(Publish { .. }), Accepted::Published { duplicate: true, .. }) => Some("duplicate publish"),
        (Command::Fetch(Fetch { .. }), Accepted::Fetched { deliveries, .. })
            if deliveries.iter().any(|d| d.delivery_count > 1) =>
        {
            Some("redelivery fetched")
        }
        (Command::ReleaseEscrow(ReleaseEscrow { escrow, preimage: Some(_) }), _) => {
            let escrow = state.ledger().escrow(*escrow).expect("a released escrow is retained");
            let party =
                signer.agent().is_some_and(|agent| *agent == escrow.payer || Some(agent) == escrow.arbiter.as_ref());
            (!party).then_some("release with the preimage")
        }
        _ => None,
    }
}

/// The ledger situation a refused command stands for, if any.
fn rejected_situation(command: &Command, rejection: &Rejection) -> Option<&'static str> {
    let reason = rejection.to_string();
    match (command, rejection) {
        (_, Rejection::InvalidField { field: "amount", .. }) => Some("zero amount"),
        (_, Rejection::Ledger(LedgerRejection::InsufficientFunds { requested, .. })) if requested.0 == u64::MAX => {
            Some("u64::MAX refused")
        }
        (Command::Transfer(Transfer { .. }), Rejection::InvalidField { field: "to", .. })
            if reason.contains("itself") =>
        {
            Some("transfer to self")
        }
        (Command::Transfer(Transfer { .. }), Rejection::InvalidField { field: "to", .. })
            if reason.contains("deregistered") =>
        {
            Some("transfer to a deregistered agent")
        }
        (Command::Transfer(Transfer { .. }), Rejection::AgentNotFound { .. }) => Some("transfer to an unknown agent"),
        (Command::Mint(Mint { .. }), Rejection::LimitReached { limit: "money_supply", .. }) => {
            Some("money supply overflow")
        }
        (
            Command::TransferBatch(TransferBatch { .. }),
            Rejection::Ledger(LedgerRejection::BatchFailed { index, .. }),
        ) if *index > 0 => Some("batch failed after its first transfer"),
        (
            Command::TransferBatch(TransferBatch { .. }),
            Rejection::LimitReached { limit: "transfers_per_batch", .. },
        ) => Some("batch too long"),
        (Command::Sweep(Sweep { .. }), Rejection::Unauthorized { .. }) => Some("sweep by a non-parent"),
        (Command::ConfigureWallet(ConfigureWallet { .. }), Rejection::Unauthorized { .. }) => {
            Some("wallet policy by a stranger")
        }
        (Command::LockEscrow(LockEscrow { .. }), Rejection::InvalidField { field: "timeout_ms", .. }) => {
            Some("escrow timeout out of range")
        }
        (Command::ReleaseEscrow(ReleaseEscrow { .. }), Rejection::Ledger(LedgerRejection::HashlockMismatch { .. })) => {
            Some("release with a wrong preimage")
        }
        (
            Command::ReleaseEscrow(ReleaseEscrow { .. }),
            Rejection::Ledger(LedgerRejection::EscrowState { state, .. }),
        ) if *state != "disputed" => Some("release after settlement"),
        (
            Command::DisputeEscrow(DisputeEscrow { .. }),
            Rejection::Ledger(LedgerRejection::EscrowState { state, .. }),
        ) if *state != "disputed" => Some("dispute after settlement"),
        (Command::ResolveEscrow(ResolveEscrow { .. }), Rejection::Unauthorized { .. }) => {
            Some("resolve by a wrong signer")
        }
        _ => None,
    }
}

/// The ledger situations an event stands for: how an escrow settled, by whom, with a referral.
fn event_situation(kind: &EventKind) -> Vec<&'static str> {
    if let EventKind::MessageDeadLettered { reason, .. } = kind {
        return vec![match reason {
            colony_core::bus::DeadLetterReason::MaxDeliver => "dead-lettered after max_deliver",
            colony_core::bus::DeadLetterReason::Terminated => "dead-lettered by term",
        }];
    }
    let EventKind::EscrowSettled { state, by, referral, .. } = kind else { return Vec::new() };
    let mut situations = vec![match state {
        EscrowState::Released => "escrow released",
        EscrowState::Refunded => "escrow refunded",
        EscrowState::Expired => "escrow expired",
        EscrowState::Resolved => "escrow resolved",
        EscrowState::Locked | EscrowState::Disputed => "an open escrow settled",
    }];
    if *state == EscrowState::Resolved {
        situations.push(if *by == Some(Signer::Operator) {
            "resolved by the operator"
        } else {
            "resolved by an arbiter"
        });
    }
    if referral.0 > 0 {
        situations.push("referral paid");
    }
    situations
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

#[test]
fn hashlocks_are_real_sha256() {
    assert_eq!(
        super::hashlock_for("abc").to_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "SHA-256 of 'abc'"
    );
}

#[test]
fn ledger_helpers_fund_lock_and_read_back() {
    use super::commands::{Lock, release_with_preimage};

    let mut swarm = Simulator::new();
    swarm.register_all(&["payer", "payee"], "scout");
    swarm.fund("payer", 1_000);
    swarm.fund("payer", 500);
    assert_eq!((swarm.balance("payer"), swarm.balance("payee")), (1_500, 0));
    assert_eq!(swarm.ledger().supply(), 1_500);
    let outcome = swarm.agent("payer", vec![Lock::new("payee", 1_000).hashlock("secret").task_id("t").into()]);
    let escrow = outcome.escrow_id();
    assert_eq!(swarm.escrow(escrow).hashlock, Some(super::hashlock_for("secret")));
    assert_eq!(
        swarm.agent("payer", vec![Lock::new("payee", 1_000).hashlock("secret").task_id("t").into()]).escrow_lock(),
        (escrow, true)
    );
    let outcome = swarm.agent("payee", vec![release_with_preimage(escrow, "wrong")]);
    assert_eq!(outcome.single_rejection().code(), "hashlock_mismatch");
    assert!(swarm.agent("payee", vec![release_with_preimage(escrow, "secret")]).all_accepted());
    assert_eq!(swarm.balance("payee"), 990);
    assert_eq!(swarm.wallet("payer").map(|wallet| wallet.held_as_payer), Some(0));
}

/// Every command of a kind a proposal's action may hold, as the streams generate them, reads back
/// from the stored (postcard) form of an action exactly: the form snapshots and seals hold.
#[test]
fn actionable_commands_survive_the_stored_encoding() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Stored(#[serde(with = "colony_core::governance::action::stored")] Vec<Command>);
    let mut kinds = BTreeSet::new();
    for stream in sample_streams(&ScenarioConfig::default(), [7; 32], 120) {
        for entry in stream.entries() {
            let EntryBody::Signed(signed) = &entry.body else { continue };
            let action: Vec<Command> = signed
                .commands
                .iter()
                .filter(|command| colony_core::governance::is_actionable(command.kind()))
                .cloned()
                .collect();
            kinds.extend(action.iter().map(Command::kind));
            let bytes = postcard::to_stdvec(&Stored(action.clone())).expect("encodes");
            let back: Stored = postcard::from_bytes(&bytes).expect("decodes");
            assert_eq!(back.0, action);
        }
    }
    let actionable = Command::KINDS.iter().filter(|kind| colony_core::governance::is_actionable(kind)).count();
    assert_eq!(kinds.len(), actionable, "every actionable kind was checked: {kinds:?}");
}
