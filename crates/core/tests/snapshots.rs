//! Snapshots: exact round trips, and typed errors (never panics) for bytes that are not a snapshot.

mod support;

use colony_core::{RULES_VERSION, SnapshotError, State, SwarmConfig};
use proptest::prelude::*;
use support::commands::{
    CreateConsumerBuilder, Register, create_stream, deregister, fetch, halt, heartbeat, issue_read_token, lock, publish,
};
use support::{OutcomeExt, Simulator, SwarmBuilder, key_for};

const HEADER_BYTES: usize = 12;

/// A state with a bit of everything: agents in every status, a parent, a referrer, a read token,
/// pheromone maps under both kinds of model, an escrow before its jury.
fn busy_swarm() -> Simulator {
    let mut swarm = Simulator::new();
    swarm.register_all(&["parent", "referrer"], "orchestrator");
    let outcome = swarm.agent(
        "parent",
        vec![
            Register::new("child", "scout").parent("parent").referrer("referrer").capabilities(["dex.scan"]).into(),
            Register::new("halted", "risk").parent("parent").into(),
        ],
    );
    assert!(outcome.all_accepted());
    assert!(swarm.self_register("gone", "analyst").all_accepted());
    assert!(swarm.agent("gone", vec![deregister("gone")]).all_accepted());
    assert!(swarm.operator(vec![halt("halted", "audit"), issue_read_token("t", "dashboard", None)]).all_accepted());
    let pheromones = [
        r#"{"type": "pheromone.map.create", "map": "signals"}"#,
        r#"{"type": "pheromone.map.create", "map": "tasks", "decay": {"linear": {"lost_per_second": "0.01"}}}"#,
        r#"{"type": "pheromone.deposit", "map": "signals", "key": "BTC:long:momentum", "strength": "7"}"#,
        r#"{"type": "pheromone.deposit", "map": "tasks", "key": "task-1:claimed", "strength": "1"}"#,
    ];
    let pheromones = pheromones.iter().map(|text| serde_json::from_str(text).expect("a command")).collect();
    assert!(swarm.agent("parent", pheromones).all_accepted());
    let coordination = [
        r#"{"type": "lease.grant", "lease": "work", "ttl_ms": 600000}"#,
        r#"{"type": "lock.acquire", "lock": "export", "mode": "exclusive", "lease": "work"}"#,
        r#"{"type": "semaphore.acquire", "semaphore": "gpu", "permits": 3, "lease": "work"}"#,
        r#"{"type": "election.campaign", "election": "desk", "lease": "work"}"#,
    ];
    let coordination: Vec<_> = coordination.iter().map(|text| serde_json::from_str(text).expect("a command")).collect();
    assert!(swarm.agent("parent", coordination.clone()).all_accepted());
    let wait = r#"{"type": "lock.acquire", "lock": "export", "mode": "shared", "lease": "work", "wait": true}"#;
    let waiting = vec![coordination[0].clone(), serde_json::from_str(wait).expect("a command")];
    assert!(swarm.agent("child", waiting).all_accepted());
    let shared_state = [
        r#"{"type": "kv.namespace.create", "namespace": "pipeline", "writers": {"agents": ["child"]}}"#,
        r#"{"type": "kv.put", "namespace": "pipeline", "key": "stage/1", "value": {"model": "a", "ok": true}}"#,
        r#"{"type": "kv.put", "namespace": "pipeline", "key": "gone", "value": 1}"#,
        r#"{"type": "kv.delete", "namespace": "pipeline", "key": "gone"}"#,
        // Goes when the parent falls silent below, and its lease ends.
        r#"{"type": "kv.put", "namespace": "pipeline", "key": "workers/parent", "value": "up", "lease": "work"}"#,
    ];
    let shared_state = shared_state.iter().map(|text| serde_json::from_str(text).expect("a command")).collect();
    assert!(swarm.agent("parent", shared_state).all_accepted());
    let leased =
        r#"{"type": "kv.put", "namespace": "pipeline", "key": "workers/child", "value": "up", "lease": "work"}"#;
    assert!(swarm.agent("child", vec![serde_json::from_str(leased).expect("a command")]).all_accepted());
    // A disputed escrow without an arbiter, before its jury (the only agent outside the case).
    swarm.register_all(&["juror"], "scout");
    let escrow = [
        r#"{"type": "ledger.mint", "transfer_id": "m", "to": "parent", "amount": "100"}"#,
        r#"{"type": "escrow.lock", "payee": "referrer", "amount": "40", "timeout_ms": 3600000}"#,
        r#"{"type": "escrow.dispute", "escrow": 0, "reason": "not delivered"}"#,
    ];
    let [mint, lock, dispute] = escrow.map(|text| serde_json::from_str(text).expect("a command"));
    assert!(swarm.operator(vec![mint]).all_accepted());
    assert!(swarm.agent("parent", vec![lock, dispute]).all_accepted());
    assert_eq!(swarm.state().ledger().escrow(0).and_then(|escrow| escrow.jury), Some(0));
    swarm.advance_ms(20_000);
    assert!(swarm.agent("child", vec![heartbeat()]).all_accepted());
    swarm.tick_after(15_000);
    assert_eq!(swarm.agent_state("parent").status(), "unresponsive");
    let pipeline = swarm.state().kv().namespace(&colony_core::Name::new("pipeline").unwrap()).unwrap();
    let workers: Vec<String> = pipeline.range("workers/", None, 10).iter().map(|(key, _)| key.to_string()).collect();
    assert_eq!(workers, ["workers/child"], "the silent parent's leased key went with its lease");
    swarm
}

#[test]
fn a_snapshot_round_trips_exactly_and_the_restored_state_carries_on_identically() {
    let mut swarm = busy_swarm();
    let bytes = swarm.state().encode_snapshot();
    assert_eq!(&bytes[..8], b"COLONYSS");
    assert_eq!(&bytes[8..HEADER_BYTES], &13u32.to_le_bytes());
    let mut restored = State::decode_snapshot(&bytes).expect("a fresh snapshot decodes");
    assert_eq!(&restored, swarm.state());
    assert_eq!(restored.state_hash(), swarm.state().state_hash());
    assert_eq!(restored.encode_snapshot(), bytes, "encoding is canonical");
    assert_eq!(State::snapshot_state_hash(&bytes), swarm.state().state_hash(), "the hash read off the bytes");
    let mut flipped = bytes.clone();
    *flipped.last_mut().expect("not empty") ^= 1;
    assert_ne!(State::snapshot_state_hash(&flipped), swarm.state().state_hash());
    let state_hash = swarm.state().state_hash();
    assert_eq!(&State::decode_snapshot_with_hash(&bytes, state_hash).expect("its own hash"), swarm.state());
    assert!(State::decode_snapshot_with_hash(&flipped, state_hash).is_err(), "a changed byte is refused");
    assert!(State::decode_snapshot_with_hash(&bytes, colony_core::Digest([0; 32])).is_err(), "another hash");

    // Nonce windows are part of the snapshot: a nonce spent before the snapshot stays spent after it,
    // and both states carry on with the same outcomes and the same hash.
    swarm.advance_ms(1_000);
    let child = Simulator::signer("child");
    let spent = swarm.state().highest_nonce(&child);
    let fresh = swarm.factory().agent("child", vec![heartbeat()]);
    let replay = swarm.factory().signed(child, key_for("child"), spent, vec![heartbeat()]);
    for entry in [&fresh, &replay] {
        let restored_outcome = restored.apply(entry).expect("applies to the restored state");
        assert_eq!(swarm.apply(entry).expect("applies to the original"), restored_outcome);
    }
    assert_eq!(restored.apply(&fresh).unwrap_err(), swarm.apply(&fresh).unwrap_err());
    let replayed = swarm.log().last().cloned().expect("the replay was logged");
    assert_eq!(replayed, replay);
    assert_eq!(restored.state_hash(), swarm.state().state_hash());
    let mut check = State::decode_snapshot(&bytes).expect("decodes again");
    check.apply(&fresh).expect("applies");
    assert_eq!(check.apply(&replay).expect("applies").envelope_code(), Some("nonce_replayed"));
}

#[test]
fn the_empty_state_round_trips() {
    let empty = State::new();
    let restored = State::decode_snapshot(&empty.encode_snapshot()).expect("decodes");
    assert_eq!(restored, empty);
}

#[test]
fn bytes_without_the_magic_are_not_a_snapshot() {
    let bytes = busy_swarm().state().encode_snapshot();
    let mut wrong_magic = bytes.clone();
    wrong_magic[0] = b'X';
    for candidate in [&wrong_magic[..], &[], b"COLONYSS", &bytes[..HEADER_BYTES - 1], b"{\"sequence\": 1}"] {
        assert_eq!(State::decode_snapshot(candidate), Err(SnapshotError::NotASnapshot), "{candidate:?}");
    }
    assert_eq!(SnapshotError::NotASnapshot.to_string(), "not a Colony snapshot");
}

#[test]
fn an_unknown_version_is_refused_by_number() {
    let bytes = busy_swarm().state().encode_snapshot();
    for version in [0u32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, u32::MAX] {
        let mut other = bytes.clone();
        other[8..HEADER_BYTES].copy_from_slice(&version.to_le_bytes());
        let error = State::decode_snapshot(&other).unwrap_err();
        assert_eq!(error, SnapshotError::UnsupportedVersion(version));
        assert_eq!(error.to_string(), format!("unsupported snapshot version {version}"));
    }
}

/// A snapshot carries the rules version of its log, so a binary of other rules refuses it even when the
/// snapshot format is the same: restored, its state would go on under rules it was not reached by.
#[test]
fn a_snapshot_taken_under_other_rules_is_refused_by_number() {
    let swarm = busy_swarm();
    let bytes = swarm.state().encode_snapshot();
    let restored = State::decode_snapshot(&bytes).expect("a snapshot of this binary's rules decodes");
    assert_eq!(restored.rules_version(), RULES_VERSION);
    // The state starts with its sequence number, its time, then its rules version (one byte).
    let state = swarm.state();
    let start = [
        varint(u128::from(state.sequence())),
        varint(u128::from(state.timestamp_ms())),
        varint(u128::from(RULES_VERSION)),
    ]
    .concat();
    assert!(bytes[HEADER_BYTES..].starts_with(&start));
    let at = HEADER_BYTES + start.len() - 1;
    for version in [0u8, 1, 2, 127] {
        let mut other = bytes.clone();
        other[at] = version;
        let expected = SnapshotError::RulesVersionMismatch(u32::from(version));
        assert_eq!(State::decode_snapshot(&other), Err(expected.clone()));
        // Recovery's path, which trusts the bytes' hash instead of the invariants, refuses it too.
        assert_eq!(State::decode_snapshot_with_hash(&other, State::snapshot_state_hash(&other)), Err(expected.clone()));
        assert_eq!(
            expected.to_string(),
            format!("taken under rules version {version}; this binary applies version {RULES_VERSION}")
        );
    }
}

#[test]
fn a_state_before_the_genesis_records_no_rules_version() {
    let bytes = State::new().encode_snapshot();
    assert_eq!(State::decode_snapshot(&bytes).map(|state| state.rules_version()), Ok(0));
    // Sequence 0, time 0, then the rules version: a state before the genesis has none.
    assert_eq!(&bytes[HEADER_BYTES..HEADER_BYTES + 3], &[0, 0, 0]);
    for version in [1u8, 2] {
        let mut other = bytes.clone();
        other[HEADER_BYTES + 2] = version;
        let refused = State::decode_snapshot_with_hash(&other, State::snapshot_state_hash(&other));
        assert!(
            matches!(&refused, Err(SnapshotError::Malformed(reason)) if reason.contains("before the genesis")),
            "{refused:?}"
        );
        assert!(State::decode_snapshot(&other).is_err());
    }
}

#[test]
fn every_truncation_is_a_typed_error() {
    let bytes = busy_swarm().state().encode_snapshot();
    for length in 0..bytes.len() {
        let result = State::decode_snapshot(&bytes[..length]);
        match result {
            Err(SnapshotError::NotASnapshot) => assert!(length < HEADER_BYTES, "length {length}"),
            Err(SnapshotError::Malformed(_)) => assert!(length >= HEADER_BYTES, "length {length}"),
            other => panic!("a snapshot cut to {length} of {} bytes gave {other:?}", bytes.len()),
        }
    }
}

#[test]
fn trailing_bytes_are_malformed() {
    let mut bytes = busy_swarm().state().encode_snapshot();
    bytes.push(0);
    assert_eq!(State::decode_snapshot(&bytes), Err(SnapshotError::Malformed("1 trailing bytes".to_owned())));
}

#[test]
fn a_snapshot_that_breaks_an_invariant_is_malformed() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["a"], "scout");
    let mut bytes = swarm.state().encode_snapshot();
    // The body starts with the sequence number, a one-byte varint this early in the log.
    assert_eq!(bytes[HEADER_BYTES], 2);
    bytes[HEADER_BYTES] = 3;
    match State::decode_snapshot(&bytes) {
        Err(SnapshotError::Malformed(reason)) => {
            assert_eq!(reason, "2 entries counted but the sequence is 3");
        }
        other => panic!("expected a broken invariant, got {other:?}"),
    }
}

/// Found by the `snapshot_decoder` fuzz target: a snapshot whose consumer is filed under another name
/// than its own decoded, and the next entry past the consumer's ack deadline panicked, looking the
/// consumer up by the name the deadline index holds.
#[test]
fn a_consumer_filed_under_another_name_is_malformed() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["worker"], "scout");
    let consumer = CreateConsumerBuilder::new("jobs", "pool").agents(["worker"]).build();
    let setup = vec![create_stream("jobs", ["jobs.>"]), consumer, publish("jobs.a", "1")];
    assert!(swarm.operator(setup).all_accepted());
    assert!(swarm.agent("worker", vec![fetch("jobs", "pool", 1)]).all_accepted());
    let mut bytes = swarm.state().encode_snapshot();
    // The consumers map holds the name as its key, then the consumer, which starts with its name.
    let filed = b"\x04pool\x04pool";
    let at = bytes.windows(filed.len()).position(|window| window == filed).expect("the consumer is in the snapshot");
    bytes[at + 1..at + 5].copy_from_slice(b"loop");
    assert_eq!(
        State::decode_snapshot(&bytes),
        Err(SnapshotError::Malformed("stream 'jobs': consumer 'loop' is filed under another name".to_owned()))
    );
}

/// A swarm whose configuration takes fees of 1,234 and referral shares of 4,321 basis points (numbers
/// that stand out in a snapshot: varints `d2 09` and `e1 21`), with an open escrow that copied them.
fn swarm_with_distinct_fees() -> Simulator {
    let config = SwarmConfig { fee_bps: 1_234, referral_bps: 4_321, ..SwarmConfig::default() };
    let mut swarm = SwarmBuilder::new().config(config).build();
    swarm.register_all(&["payer", "payee"], "scout");
    swarm.fund("payer", 1_000);
    assert!(swarm.agent("payer", vec![lock("payee", 1_000)]).all_accepted());
    swarm
}

/// The positions of the fee shares (`fee_bps`, then `referral_bps`) in a snapshot of
/// [`swarm_with_distinct_fees`]: the configuration's, then the escrow's.
fn fee_share_positions(bytes: &[u8]) -> Vec<usize> {
    let shares = [0xd2, 0x09, 0xe1, 0x21];
    (0..bytes.len() - shares.len()).filter(|at| bytes[*at..].starts_with(&shares)).collect()
}

/// 10,001 as a varint, the same length as 1,234's.
const TOO_MANY_BASIS_POINTS: [u8; 2] = [0x91, 0x4e];

/// Found by the `snapshot_decoder` fuzz target: a snapshot whose open escrow takes a fee above the
/// whole decoded, and the escrow's expiry panicked computing the fee.
#[test]
fn an_escrow_with_a_fee_share_above_the_whole_is_malformed() {
    let swarm = swarm_with_distinct_fees();
    let mut bytes = swarm.state().encode_snapshot();
    let positions = fee_share_positions(&bytes);
    assert_eq!(positions.len(), 2, "the configuration's shares, then the escrow's");
    bytes[positions[1]..positions[1] + 2].copy_from_slice(&TOO_MANY_BASIS_POINTS);
    assert_eq!(
        State::decode_snapshot(&bytes),
        Err(SnapshotError::Malformed("escrow 0 has a fee share above 10,000 basis points".to_owned()))
    );
}

/// Of the same kind: a snapshot whose configuration is invalid decoded, and the next escrow locked took
/// its fee share from it.
#[test]
fn an_invalid_configuration_is_malformed() {
    let swarm = swarm_with_distinct_fees();
    let mut bytes = swarm.state().encode_snapshot();
    let configuration = fee_share_positions(&bytes)[0];
    bytes[configuration..configuration + 2].copy_from_slice(&TOO_MANY_BASIS_POINTS);
    match State::decode_snapshot(&bytes) {
        Err(SnapshotError::Malformed(reason)) => {
            assert!(reason.starts_with("the configuration is invalid: "), "{reason}");
            assert!(reason.contains("fee_bps"), "{reason}");
        }
        other => panic!("expected an invalid configuration, got {other:?}"),
    }
}

/// `value` as postcard writes it: seven bits per byte, low bits first, the top bit set on all but the
/// last byte.
fn varint(mut value: u128) -> Vec<u8> {
    let mut bytes = Vec::new();
    while value >= 0x80 {
        bytes.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    bytes.push(value as u8);
    bytes
}

/// Found by the `snapshot_decoder` fuzz target: a snapshot whose wallet was credited more than a u64
/// panicked in the invariant checks themselves (computing the balance), instead of being refused.
#[test]
fn a_wallet_credited_beyond_any_balance_is_malformed() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["rich"], "scout");
    swarm.fund("rich", 1_234_567);
    let bytes = swarm.state().encode_snapshot();
    // Wallets come first in the ledger: the wallet's debits (0), then its credits.
    let credited = [&[0][..], &varint(1_234_567)].concat();
    let at = bytes.windows(credited.len()).position(|window| window == credited).expect("the wallet is there") + 1;
    for (credits, reason) in
        [(1u128 << 70, "wallet AgentHandle(0) holds more than u64::MAX"), (u128::MAX, "the ledger's totals overflow")]
    {
        let corrupted = [&bytes[..at], &varint(credits), &bytes[at + credited.len() - 1..]].concat();
        assert_eq!(State::decode_snapshot(&corrupted), Err(SnapshotError::Malformed(reason.to_owned())));
    }
}

/// Found by the `snapshot_decoder` fuzz target: a snapshot whose event counter was at `u64::MAX`
/// decoded (no invariant can tell a wrong count), and the next event overflowed it.
#[test]
fn counters_saturate_instead_of_overflowing() {
    let mut swarm = busy_swarm();
    let bytes = swarm.state().encode_snapshot();
    // The counters are the snapshot's last field, and the events their last.
    let events = varint(u128::from(swarm.state().counters().events));
    assert!(bytes.ends_with(&events));
    let corrupted = [&bytes[..bytes.len() - events.len()], &varint(u128::from(u64::MAX))].concat();
    let mut state = State::decode_snapshot(&corrupted).expect("a count is not an invariant");
    // The parent is unresponsive: its heartbeat makes it active again, an event.
    let heartbeat = swarm.factory().agent("parent", vec![heartbeat()]);
    let outcome = state.apply(&heartbeat).expect("applies");
    assert!(outcome.all_accepted() && !outcome.events.is_empty());
    assert_eq!(state.counters().events, u64::MAX);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Corrupting bytes anywhere never panics: the result is an error, or a state that passes every
    /// invariant (a corrupted byte can land in, say, a timestamp).
    #[test]
    fn corrupted_snapshots_decode_to_errors_or_valid_states(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = busy_swarm_snapshot().to_vec();
        for (position, value) in edits {
            let position = position.index(bytes.len());
            bytes[position] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(state) = State::decode_snapshot(&bytes) {
            prop_assert_eq!(state.check_invariants(), Ok(()));
        }
    }
}

fn busy_swarm_snapshot() -> &'static [u8] {
    static SNAPSHOT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SNAPSHOT.get_or_init(|| busy_swarm().state().encode_snapshot())
}
