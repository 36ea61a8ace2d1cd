//! The rules version: a log records in its genesis the rules it is written under; start-up and the
//! audit refuse a log of other rules, saying so, rather than replay it into a state its writer never
//! served; a snapshot of other rules is skipped like a damaged one.

mod common;

use std::path::Path;

use colony_core::{RULES_VERSION, State, SwarmConfig};
use colony_log::{CommandLog as _, FileSnapshots, Record, SnapshotStore as _, SqliteLog};
use colony_server::server::{LOG_FILE_NAME, SNAPSHOTS_DIR_NAME};
use colony_wire::KeyPair;
use colony_wire::record::{GenesisPayload, RecordKind, decode_genesis, encode_genesis};
use common::*;

/// What both start-up and the audit say of a log written under `version`.
fn refusal(version: u32) -> String {
    format!(
        "this log was written under rules version {version}; this binary applies version {RULES_VERSION}; replay it \
         with the binary that wrote it, or start a new log"
    )
}

/// A data directory holding a log another binary wrote: a genesis naming `version` (no version at all
/// for `None`, as every genesis before the field), then a few ticks.
fn data_dir_written_under(version: Option<u32>) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let mut log = SqliteLog::open(&directory.path().join(LOG_FILE_NAME)).unwrap();
    let genesis = GenesisPayload {
        rules_version: version.unwrap_or(0),
        operator_key: KeyPair::generate().public_key(),
        config: SwarmConfig::default(),
    };
    let mut payload: serde_json::Value = serde_json::from_slice(&encode_genesis(&genesis)).unwrap();
    if version.is_none() {
        payload.as_object_mut().unwrap().remove("rules_version").expect("the field was written");
    }
    let payload = serde_json::to_vec(&payload).unwrap();
    let time = now_ms();
    let mut records = vec![Record { sequence: 1, timestamp_ms: time, kind: RecordKind::Genesis as u8, payload }];
    records.extend((2..=4).map(|sequence| Record {
        sequence,
        timestamp_ms: time + sequence,
        kind: RecordKind::Tick as u8,
        payload: Vec::new(),
    }));
    log.append(&records).unwrap();
    directory
}

fn log_bytes(data_dir: &Path) -> Vec<u8> {
    std::fs::read(data_dir.join(LOG_FILE_NAME)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_of_other_rules_is_refused_at_start_up_and_by_the_audit() {
    for version in [None, Some(RULES_VERSION + 1)] {
        let directory = data_dir_written_under(version);
        let expected = refusal(version.unwrap_or(0));
        let before = log_bytes(directory.path());
        let refused = match colony_server::start(settings(directory.path())).await {
            Err(error) => error.to_string(),
            Ok(_) => panic!("the server started on a log of rules {version:?}"),
        };
        assert_eq!(refused, format!("recovery failed: log entry 1: {expected}"));
        assert_eq!(log_bytes(directory.path()), before, "a refused start wrote to the log");
        let audit = colony_server::audit::audit(directory.path(), |_, _| {}).expect_err("the audit passed");
        assert_eq!(audit.sequence, Some(1));
        assert_eq!(audit.to_string(), format!("entry 1: {expected}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_log_records_this_binarys_rules_and_restarts_under_them() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    server.operator_registers("scout-1", "scout").await;
    assert_eq!(server.operator.status().await.unwrap().rules_version, RULES_VERSION);
    server.shutdown().await;

    let log = SqliteLog::open_read_only(&directory.path().join(LOG_FILE_NAME)).unwrap();
    let genesis = log.read(1, 1).unwrap().remove(0).record;
    assert_eq!(genesis.kind, RecordKind::Genesis as u8);
    assert_eq!(decode_genesis(&genesis.payload).unwrap().rules_version, RULES_VERSION);
    drop(log);

    // Once from the clean shutdown's snapshot, once from genesis.
    for from_genesis in [false, true] {
        if from_genesis {
            std::fs::remove_dir_all(directory.path().join(SNAPSHOTS_DIR_NAME)).unwrap();
        }
        let server = start_in(directory.path()).await;
        assert_eq!(server.report().snapshot_sequence == 0, from_genesis);
        assert_eq!(server.operator.status().await.unwrap().rules_version, RULES_VERSION);
        assert_eq!(server.agent("scout-1").await.status, "active");
        server.shutdown().await;
    }
    let audited = colony_server::audit::audit(directory.path(), |_, _| {}).expect("the log audits");
    assert!(audited.sequence > 2, "{}", audited.sequence);
}

/// A snapshot whose state was reached under other rules, though whole and of this history, is not
/// restored: start-up skips it, says why, and replays from genesis.
#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_of_other_rules_is_skipped_at_start_up() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    server.operator_registers("scout-1", "scout").await;
    server.shutdown().await;

    let store = FileSnapshots::open(&directory.path().join(SNAPSHOTS_DIR_NAME)).unwrap();
    let sequence = *store.list().unwrap().first().expect("the clean shutdown took a snapshot");
    let mut snapshot = store.read(sequence).unwrap();
    let state = State::decode_snapshot(&snapshot.body).unwrap();
    // After the 12-byte header, the state's sequence and time (varints), then its rules version.
    let at = 12 + varint_length(state.sequence()) + varint_length(state.timestamp_ms());
    assert_eq!(u32::from(snapshot.body[at]), RULES_VERSION);
    snapshot.body[at] = u8::try_from(RULES_VERSION + 1).unwrap();
    snapshot.state_hash = State::snapshot_state_hash(&snapshot.body).0;
    store.save(&snapshot, 2).unwrap();

    let server = start_in(directory.path()).await;
    let report = server.report();
    assert_eq!(report.snapshot_sequence, 0, "replayed from genesis");
    assert_eq!(
        report.skipped_snapshots,
        [(
            sequence,
            format!("taken under rules version {}; this binary applies version {RULES_VERSION}", RULES_VERSION + 1)
        )]
    );
    assert_eq!(server.agent("scout-1").await.status, "active");
    server.shutdown().await;
}

/// The bytes postcard writes `value` in: seven bits a byte.
fn varint_length(value: u64) -> usize {
    (64 - value.leading_zeros() as usize).div_ceil(7).max(1)
}
