//! `colony audit verify` on real data: it passes on a cleanly stopped server's log, and it fails, naming
//! the entry, when one byte of one entry is flipped, whether through SQL (a payload changed behind the
//! chain's back) or in the raw database file. A server started on a damaged log refuses to start,
//! naming the entry, whether or not a snapshot covers it, and never silently starts empty. A log written
//! under other rules is refused by both, in words that say what to do.

mod common;

use std::path::Path;

use colony_client::{Client, Identity};
use colony_core::{AgentId, Name, RULES_VERSION, Signer, SwarmConfig};
use colony_log::{CommandLog as _, Record, SqliteLog};
use colony_wire::KeyPair;
use colony_wire::record::{GenesisPayload, RecordKind, encode_genesis};
use common::{ServerProcess, audit_ok, colony, copy_data_dir, names_entry};
use rusqlite::{Connection, OptionalExtension as _};

/// A capability only one registration uses, so its bytes in the database file belong to one entry.
const MARKER_CAPABILITY: &str = "flipme.capability";

/// Self-registers `id` with `capabilities`; returns the entry that recorded it.
async fn register(url: &str, id: &str, capabilities: &[&str]) -> u64 {
    let identity = Identity::new(Signer::Agent(AgentId::new(id).expect("an id")), KeyPair::generate());
    let client = Client::new(url).with_identity(identity);
    let response = client.register_self(Name::new("scout").expect("a role"), capabilities).await.expect("register");
    assert!(response.results[0].ok, "{response:?}");
    response.sequence
}

/// The payload of one entry.
fn payload(database: &Path, sequence: u64) -> Vec<u8> {
    let connection = Connection::open(database).expect("open the log");
    connection
        .query_row("SELECT payload FROM entries WHERE sequence = ?1", [sequence as i64], |row| row.get(0))
        .optional()
        .expect("query the log")
        .unwrap_or_else(|| panic!("entry {sequence} is in the log"))
}

/// The highest sequence number in the log.
fn last_sequence(database: &Path) -> u64 {
    let connection = Connection::open(database).expect("open the log");
    let last: i64 = connection.query_row("SELECT MAX(sequence) FROM entries", [], |row| row.get(0)).expect("query");
    last as u64
}

/// Flips one byte of entry `sequence`'s payload through SQL, leaving its checksum as it was.
fn flip_payload_byte_with_sql(database: &Path, sequence: u64) {
    let mut bytes = payload(database, sequence);
    let position = 64 + (bytes.len() - 64) / 2; // inside the envelope body, after the signature
    bytes[position] ^= 0x01;
    let connection = Connection::open(database).expect("open the log");
    let changed = connection
        .execute("UPDATE entries SET payload = ?1 WHERE sequence = ?2", rusqlite::params![bytes, sequence as i64])
        .expect("update the payload");
    assert_eq!(changed, 1, "one row changed");
}

/// Checkpoints the write-ahead log into the database file, so that every entry's bytes are in the file.
fn checkpoint(database: &Path) {
    let connection = Connection::open(database).expect("open the log");
    let (busy, _, _): (i64, i64, i64) = connection
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .expect("checkpoint");
    assert_eq!(busy, 0, "the checkpoint completed");
    drop(connection);
    let wal = database.with_extension("db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(0, |metadata| metadata.len()) == 0,
        "the write-ahead log is empty after the checkpoint"
    );
}

/// Flips one byte of `needle` where it occurs in the raw database file inside entry `sequence`, and
/// returns the entry's payload as SQLite now reads it. Occurrences that are not the live row (stale copies
/// in free space) are tried and put back.
fn flip_byte_in_file(database: &Path, sequence: u64, needle: &[u8]) -> Vec<u8> {
    let original = payload(database, sequence);
    let file = std::fs::read(database).expect("read the database file");
    let occurrences: Vec<usize> =
        file.windows(needle.len()).enumerate().filter(|(_, window)| *window == needle).map(|(at, _)| at).collect();
    assert!(!occurrences.is_empty(), "the marker is in the database file");
    for at in occurrences {
        let position = at + needle.len() / 2;
        let mut damaged = file.clone();
        damaged[position] ^= 0x01;
        std::fs::write(database, &damaged).expect("write the database file");
        let now = payload(database, sequence);
        if now != original {
            let differing = now.iter().zip(&original).filter(|(a, b)| a != b).count();
            assert_eq!((now.len(), differing), (original.len(), 1), "exactly one byte of the entry changed");
            return now;
        }
        std::fs::write(database, &file).expect("restore the database file");
    }
    panic!("no occurrence of the marker belongs to entry {sequence}");
}

/// `colony audit verify` on `data` must fail naming entry `sequence`.
fn audit_fails_at(work: &Path, data: &Path, sequence: u64) {
    let data_arg = data.to_str().expect("a UTF-8 path");
    for json in [false, true] {
        let mut args = vec!["audit", "verify", "--data", data_arg];
        if json {
            args.push("--json");
        }
        let output = colony(work, &args);
        let stderr = output.failed();
        assert!(stderr.contains("audit FAILED"), "the audit says it failed:\n{stderr}");
        assert!(names_entry(stderr, sequence), "the audit names entry {sequence}:\n{stderr}");
        assert!(!output.stdout.contains("\"ok\": true"), "no success report:\n{}", output.stdout);
    }
}

/// A server started on a log whose entry `sequence` is damaged after the newest snapshot must refuse to
/// start, name the entry, and leave the log as it was.
fn server_refuses(data: &Path, logs: &Path, sequence: u64) {
    let database = data.join("colony.db");
    let last_before = last_sequence(&database);
    let genesis_before = payload(&database, 1);
    match ServerProcess::try_start(data, logs, &[]) {
        Ok(server) => panic!("a server started on a log damaged at entry {sequence} (port {})", server.port),
        Err(failure) => {
            assert!(!failure.status.success(), "exit status {}", failure.status);
            assert!(failure.stderr.contains("the command log is damaged"), "a clear reason:\n{}", failure.stderr);
            assert!(names_entry(&failure.stderr, sequence), "names entry {sequence}:\n{}", failure.stderr);
            assert!(!failure.stdout.contains("listening"), "it never listened:\n{}", failure.stdout);
        }
    }
    assert_eq!(last_sequence(&database), last_before, "the refused start wrote nothing");
    assert_eq!(payload(&database, 1), genesis_before, "the genesis is untouched");
}

#[test]
fn the_audit_finds_a_flipped_byte_and_a_server_refuses_a_damaged_log() {
    let temp = tempfile::tempdir().expect("a temporary directory");
    let work = temp.path().join("work");
    std::fs::create_dir_all(&work).expect("create the working directory");
    let logs = temp.path().join("logs");
    let clean = temp.path().join("clean");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");

    // A log with some agents, stopped cleanly.
    let mut server = ServerProcess::start(&clean, &logs, &[]);
    let url = server.url();
    let mut sequences = Vec::new();
    let mut marker_sequence = 0;
    runtime.block_on(async {
        for index in 1..=8 {
            let id = format!("agent-{index}");
            let sequence = if index == 6 {
                marker_sequence = register(&url, &id, &[MARKER_CAPABILITY, "market.scan"]).await;
                marker_sequence
            } else {
                register(&url, &id, &["market.scan"]).await
            };
            sequences.push(sequence);
        }
    });
    assert_eq!(sequences, (2..=9).collect::<Vec<u64>>(), "one entry per registration after the genesis");
    assert_eq!(marker_sequence, 7);
    let exit = server.terminate();
    assert!(exit.success(), "a clean stop, got {exit}");
    drop(server);

    let audit = colony(&work, &["audit", "verify", "--data", clean.to_str().expect("a UTF-8 path")]);
    let report = audit.ok();
    assert!(report.contains("audit OK"), "{report}");
    // Entry 10 is the operator's checkpoint the clean stop wrote over entries 1..=9.
    assert!(report.contains("final state hash") && report.contains("(at entry 10)"), "{report}");
    let expected = audit_ok(&work, &clean);
    assert_eq!(expected["sequence"], 10);
    assert_eq!(expected["checkpoints_checked"], 1);
    assert_eq!(expected["agents"], 8);
    assert_eq!(expected["signatures"], 8, "every registration's signature was re-verified");
    let hash = expected["state_hash"].as_str().expect("a hash").to_owned();
    assert_eq!(hash.len(), 64, "a SHA-256 in hex: {hash}");
    assert!(report.contains(&hash), "the text report prints the final hash:\n{report}");

    // 1. Bit rot behind the checksum's back: entry 5's payload changed through SQL.
    let sql_flip = temp.path().join("sql-flip");
    copy_data_dir(&clean, &sql_flip);
    flip_payload_byte_with_sql(&sql_flip.join("colony.db"), 5);
    audit_fails_at(&work, &sql_flip, 5);
    // The final snapshot covers entry 5, but start-up verifies the whole history all the same.
    server_refuses(&sql_flip, &logs, 5);

    // 2. A flipped byte in the raw database file, inside the one envelope that carries the marker.
    let file_flip = temp.path().join("file-flip");
    copy_data_dir(&clean, &file_flip);
    let database = file_flip.join("colony.db");
    checkpoint(&database);
    let original = payload(&database, marker_sequence);
    let needle = format!("\"{MARKER_CAPABILITY}\"");
    assert!(
        original.windows(needle.len()).any(|window| window == needle.as_bytes()),
        "the marker is in entry {marker_sequence}'s envelope"
    );
    for sequence in 1..=9 {
        if sequence != marker_sequence {
            let other = payload(&database, sequence);
            assert!(!other.windows(needle.len()).any(|window| window == needle.as_bytes()), "entry {sequence}");
        }
    }
    flip_byte_in_file(&database, marker_sequence, needle.as_bytes());
    audit_fails_at(&work, &file_flip, marker_sequence);
    server_refuses(&file_flip, &logs, marker_sequence);

    // 3. Damage after the newest snapshot: the server must replay it, so it must refuse to start.
    let tail = temp.path().join("tail");
    copy_data_dir(&clean, &tail);
    let mut server = ServerProcess::start(&tail, &logs, &[]);
    let url = server.url();
    let tail_sequences: Vec<u64> = runtime.block_on(async {
        let mut sequences = Vec::new();
        for index in 9..=11 {
            sequences.push(register(&url, &format!("agent-{index}"), &["late.joiner"]).await);
        }
        sequences
    });
    // (A checkpoint may fall between them on a slow machine: they follow entry 10, in order.)
    assert!(tail_sequences[0] > 10 && tail_sequences.is_sorted(), "{tail_sequences:?}");
    server.kill(); // no final snapshot: these entries exist only in the log
    drop(server);
    let tail_audit = audit_ok(&work, &tail);
    let tail_last = tail_audit["sequence"].as_u64().expect("a sequence");
    assert!(tail_last >= tail_sequences[2], "{tail_audit}");
    let damaged = tail_sequences[1];

    let tail_flip = temp.path().join("tail-flip");
    copy_data_dir(&tail, &tail_flip);
    flip_payload_byte_with_sql(&tail_flip.join("colony.db"), damaged);
    audit_fails_at(&work, &tail_flip, damaged);
    server_refuses(&tail_flip, &logs, damaged);

    // 4. A missing entry after the newest snapshot.
    let tail_gap = temp.path().join("tail-gap");
    copy_data_dir(&tail, &tail_gap);
    let connection = Connection::open(tail_gap.join("colony.db")).expect("open the log");
    let deleted = connection.execute("DELETE FROM entries WHERE sequence = ?1", [damaged as i64]).expect("delete");
    assert_eq!(deleted, 1);
    drop(connection);
    audit_fails_at(&work, &tail_gap, damaged);
    server_refuses(&tail_gap, &logs, damaged);

    // The undamaged copy still recovers everything: the final snapshot (entry 9) and the entries after it.
    let server = ServerProcess::start(&tail, &logs, &[]);
    let recovered = format!("recovered from snapshot 9 + {} entries", tail_last - 9);
    assert!(server.stdout().contains(&recovered), "{recovered}:\n{}", server.stdout());
    drop(server);
}

/// A log from before the genesis recorded its rules (its genesis has no `rules_version`), then a tick.
fn write_log_without_rules_version(data: &Path) {
    std::fs::create_dir_all(data).expect("create the data directory");
    let mut log = SqliteLog::open(&data.join("colony.db")).expect("create the log");
    let genesis = GenesisPayload {
        rules_version: RULES_VERSION,
        operator_key: KeyPair::generate().public_key(),
        config: SwarmConfig::default(),
    };
    let mut payload: serde_json::Value = serde_json::from_slice(&encode_genesis(&genesis)).expect("JSON");
    payload.as_object_mut().expect("an object").remove("rules_version").expect("the field was written");
    let payload = serde_json::to_vec(&payload).expect("encodes");
    let records = [
        Record { sequence: 1, timestamp_ms: 1_000, kind: RecordKind::Genesis as u8, payload },
        Record { sequence: 2, timestamp_ms: 2_000, kind: RecordKind::Tick as u8, payload: Vec::new() },
    ];
    log.append(&records).expect("append");
}

#[test]
fn a_log_of_other_rules_is_refused_by_the_audit_and_the_server_saying_what_to_do() {
    let temp = tempfile::tempdir().expect("a temporary directory");
    let data = temp.path().join("old");
    write_log_without_rules_version(&data);
    let database = data.join("colony.db");
    let before = std::fs::read(&database).expect("read the log");
    let reason = format!(
        "entry 1: this log was written under rules version 0; this binary applies version {RULES_VERSION}; replay it \
         with the binary that wrote it, or start a new log"
    );

    let audit = colony(temp.path(), &["audit", "verify", "--data", data.to_str().expect("a UTF-8 path")]);
    let stderr = audit.failed();
    assert!(stderr.contains(&format!("audit FAILED at {reason}")), "{stderr}");

    match ServerProcess::try_start(&data, &temp.path().join("logs"), &[]) {
        Ok(server) => panic!("a server started on a log of other rules (port {})", server.port),
        Err(failure) => {
            assert!(!failure.status.success(), "exit status {}", failure.status);
            assert!(failure.stderr.contains(&format!("recovery failed: log {reason}")), "{}", failure.stderr);
        }
    }
    assert_eq!(std::fs::read(&database).expect("read the log"), before, "nothing was written");
}

/// `colony audit seals`: on a cleanly stopped log it recomputes and links every seal and matches each
/// sealed ballot to its voter's signed envelope; with one byte of a ballot's entry flipped it fails,
/// naming the entry.
#[test]
fn the_seal_audit_verifies_the_chain_and_names_a_flipped_ballot() {
    use colony_core::governance::{Choice, Eligibility, Quorum, VoteType, WeightSource};
    let temp = tempfile::tempdir().expect("a temporary directory");
    let work = temp.path().join("work");
    std::fs::create_dir_all(&work).expect("create the working directory");
    let (logs, clean) = (temp.path().join("logs"), temp.path().join("clean"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let mut server = ServerProcess::start(&clean, &logs, &[]);
    let url = server.url();
    let ballot_entry = runtime.block_on(async {
        let voter = |id: &str| {
            let identity = Identity::new(Signer::Agent(AgentId::new(id).expect("an id")), KeyPair::generate());
            Client::new(&url).with_identity(identity)
        };
        let (first, second) = (voter("voter-1"), voter("voter-2"));
        for client in [&first, &second] {
            let response = client.register_self(Name::new("scout").expect("a role"), &[]).await.expect("register");
            assert!(response.results[0].ok, "{response:?}");
        }
        let mint = colony_core::Command::Mint(colony_core::command::Mint {
            transfer_id: Name::new("grant").expect("a name"),
            to: AgentId::new("voter-1").expect("an id"),
            amount: colony_core::Amount(500),
        });
        let create = colony_core::command::CreateProposal {
            proposal_id: Name::new("grant").expect("a name"),
            title: "Grant voter-1 its budget".to_owned(),
            description: None,
            vote_type: VoteType::Plurality,
            quorum: Some(Quorum::Ballots(2)),
            eligible: Eligibility::AllActive,
            weight_source: WeightSource::Equal,
            voting_ms: 600_000,
            veto_holders: Default::default(),
            action: vec![mint],
        };
        let (proposal, _) = first.create_proposal(create).await.expect("create");
        first.cast_ballot(proposal, Choice::Yes).await.expect("cast");
        let closing = second.cast_ballot(proposal, Choice::Yes).await.expect("cast");
        let shown = first.proposal(proposal).await.expect("read");
        let decision = shown.decision.expect("closed by the second ballot");
        assert!(matches!(
            decision.action_result,
            Some(colony_core::governance::ActionResult::Executed { commands: 1 })
        ));
        closing.sequence
    });
    assert!(server.terminate().success());
    drop(server);

    let data = clean.to_str().expect("a UTF-8 path");
    let report = colony(&work, &["audit", "seals", "--data", data, "--json"]).json();
    assert_eq!((report["ok"].clone(), report["decisions"].clone()), (true.into(), 1.into()), "{report}");
    assert_eq!((report["ballots"].clone(), report["actions"].clone()), (2.into(), 1.into()), "{report}");
    assert!(colony(&work, &["audit", "seals", "--data", data]).ok().contains("seals OK"));

    let flipped = temp.path().join("flipped");
    copy_data_dir(&clean, &flipped);
    flip_payload_byte_with_sql(&flipped.join("colony.db"), ballot_entry);
    let output = colony(&work, &["audit", "seals", "--data", flipped.to_str().expect("a UTF-8 path")]);
    let stderr = output.failed();
    assert!(stderr.contains("seal audit FAILED"), "{stderr}");
    assert!(names_entry(stderr, ballot_entry), "names entry {ballot_entry}:\n{stderr}");
}
