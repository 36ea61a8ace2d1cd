//! The log's history under attack from someone holding the disk: every kind of damage is refused at
//! start-up, in the same words the offline audit uses, with the entries it touches, and nothing is
//! written onto the damaged file. Receipts a client was given expose a rewritten or truncated log.

mod common;

use std::path::Path;

use colony_log::{ChainHash, Record};
use colony_wire::views::SubmitResponse;
use common::*;

/// Entries between checkpoints in these tests, so that a short log holds several.
const CHECKPOINT_EVERY_ENTRIES: u64 = 8;

/// A stopped server's data directory whose log holds a genesis, 30 registrations (each with a
/// receipt) and checkpoints every few entries.
async fn written_data_dir() -> (tempfile::TempDir, Vec<SubmitResponse>) {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = settings(directory.path());
    settings.driver.checkpoint_every_entries = CHECKPOINT_EVERY_ENTRIES;
    let server = start(settings).await;
    let mut receipts = Vec::new();
    for index in 0..30 {
        let (_, key) = server.new_agent(&format!("scout-{index}"));
        let response = server.operator.submit_one(register(&format!("scout-{index}"), &key, "scout")).await.unwrap();
        receipts.push(response);
    }
    server.shutdown().await;
    (directory, receipts)
}

fn log_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join(colony_server::server::LOG_FILE_NAME)
}

fn copy_data_dir(from: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    copy_files(from, copy.path());
    copy
}

fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for file in std::fs::read_dir(from).unwrap() {
        let file = file.unwrap();
        if file.file_type().unwrap().is_dir() {
            copy_files(&file.path(), &to.join(file.file_name()));
        } else {
            std::fs::copy(file.path(), to.join(file.file_name())).unwrap();
        }
    }
}

/// The data directory's snapshot files, newest first.
fn snapshot_files(data_dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(data_dir.join(colony_server::server::SNAPSHOTS_DIR_NAME))
        .unwrap()
        .map(|file| file.unwrap().path())
        .collect();
    files.sort();
    files.reverse();
    files
}

fn tamper(data_dir: &Path, sql: &str) {
    rusqlite::Connection::open(log_path(data_dir)).unwrap().execute_batch(sql).unwrap();
}

fn row(data_dir: &Path, sequence: u64) -> (Record, ChainHash) {
    let connection = rusqlite::Connection::open(log_path(data_dir)).unwrap();
    connection
        .query_row(
            "SELECT timestamp_ms, kind, payload, chain FROM entries WHERE sequence = ?1",
            [sequence as i64],
            |row| {
                let chain: Vec<u8> = row.get(3)?;
                Ok((
                    Record {
                        sequence,
                        timestamp_ms: row.get::<_, i64>(0)? as u64,
                        kind: row.get(1)?,
                        payload: row.get(2)?,
                    },
                    ChainHash(chain.try_into().unwrap()),
                ))
            },
        )
        .unwrap()
}

/// Start-up's refusal and the audit's failure, after checking that they say the same thing and
/// that the refused start wrote nothing.
async fn refusals(data_dir: &Path) -> String {
    let before = std::fs::read(log_path(data_dir)).unwrap();
    let refused = match colony_server::start(settings(data_dir)).await {
        Err(error) => error.to_string(),
        Ok(_) => panic!("the server started on a damaged log"),
    };
    assert_eq!(std::fs::read(log_path(data_dir)).unwrap(), before, "a refused start wrote to the file");
    let audit = colony_server::audit::audit(data_dir, |_, _| {}).expect_err("the audit passes a damaged log");
    assert_eq!(audit.to_string(), refused, "start-up and the audit say the same");
    refused
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_damage_is_refused_at_start_up_and_located_by_the_audit() {
    let (original, receipts) = written_data_dir().await;
    let last = receipts.last().unwrap().sequence + 1; // the shutdown's checkpoint follows
    let audited = colony_server::audit::audit(original.path(), |_, _| {}).expect("the untouched log audits");
    assert_eq!(audited.sequence, last);
    assert!(audited.checkpoints_checked >= 30 / CHECKPOINT_EVERY_ENTRIES, "{}", audited.checkpoints_checked);

    // The last entry deleted: the log is consistent in every other way; its head is not.
    let copy = copy_data_dir(original.path());
    tamper(copy.path(), &format!("DELETE FROM entries WHERE sequence = {last}"));
    let message = refusals(copy.path()).await;
    assert!(message.contains(&format!("ends at entry {} but its head records entry {last}", last - 1)), "{message}");

    // A middle entry deleted.
    let copy = copy_data_dir(original.path());
    tamper(copy.path(), "DELETE FROM entries WHERE sequence = 12");
    assert!(refusals(copy.path()).await.contains("log entry 12 is missing"));

    // Two entries swapped, each with its own stored chain hash.
    let copy = copy_data_dir(original.path());
    tamper(
        copy.path(),
        "UPDATE entries SET sequence = -1 WHERE sequence = 14;
         UPDATE entries SET sequence = 14 WHERE sequence = 15;
         UPDATE entries SET sequence = 15 WHERE sequence = -1;",
    );
    let message = refusals(copy.path()).await;
    assert!(message.contains("log entry 14 is corrupt") && message.contains("reordered or substituted"), "{message}");

    // A byte of an entry flipped.
    let copy = copy_data_dir(original.path());
    tamper(copy.path(), "UPDATE entries SET payload = CAST(payload || 'x' AS BLOB) WHERE sequence = 20");
    assert!(refusals(copy.path()).await.contains("log entry 20 is corrupt"));

    // An entry substituted and the whole chain after it recomputed, head included: only the
    // operator's signed checkpoints can tell, and the first one after it does.
    let copy = copy_data_dir(original.path());
    let forged_at = (10..last).find(|sequence| row(copy.path(), *sequence).0.kind == 2).unwrap();
    let (mut forged, _) = row(copy.path(), forged_at);
    forged.payload[70] ^= 1;
    let mut chain = row(copy.path(), forged_at - 1).1;
    let mut script = String::from("BEGIN;");
    for sequence in forged_at..=last {
        let record = if sequence == forged_at { forged.clone() } else { row(copy.path(), sequence).0 };
        chain = chain.next(&record.digest());
        script += &format!(
            "UPDATE entries SET payload = x'{}', chain = x'{}' WHERE sequence = {sequence};",
            hex::encode(&record.payload),
            chain.to_hex()
        );
    }
    script += &format!("UPDATE head SET chain = x'{}'; COMMIT;", chain.to_hex());
    tamper(copy.path(), &script);
    let message = refusals(copy.path()).await;
    assert!(message.contains("was signed for another history"), "{message}");
    let checkpoint_entry: u64 =
        message.split("checkpoint at log entry ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(checkpoint_entry > forged_at && checkpoint_entry <= forged_at + CHECKPOINT_EVERY_ENTRIES + 1, "{message}");

    // A damaged page of the file: the entries it held are named. The page is the one that stores the
    // registration of scout-13 (its first byte is the page's type).
    let copy = copy_data_dir(original.path());
    let path = log_path(copy.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let page_size = 4_096;
    let needle = b"\"scout-13\"";
    let at = bytes.windows(needle.len()).position(|window| window == needle).expect("the entry is in the file");
    bytes[at / page_size * page_size] = 0x7f;
    std::fs::write(&path, &bytes).unwrap();
    let message = refusals(copy.path()).await;
    assert!(message.contains("unreadable, the file is damaged there"), "{message}");

    // A damaged snapshot: start-up skips it and replays the log from genesis (the log is whole, so
    // nothing is lost), saying so; the audit fails, naming it, since nothing stored may differ from
    // what was written.
    let copy = copy_data_dir(original.path());
    let files = snapshot_files(copy.path());
    assert_eq!(files.len(), 1, "the shutdown's snapshot: {files:?}");
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&files[0], &bytes).unwrap();
    let audit = colony_server::audit::audit(copy.path(), |_, _| {}).expect_err("the audit passes a damaged snapshot");
    let snapshot_sequence = last - 1; // the shutdown's checkpoint follows its snapshot
    assert!(audit.to_string().contains(&format!("the snapshot at entry {snapshot_sequence} is damaged")), "{audit}");
    let server = colony_server::start(settings(copy.path())).await.expect("start-up falls back to the log");
    assert_eq!(server.report.snapshot_sequence, 0, "recovered from genesis");
    assert_eq!(server.report.skipped_snapshots.len(), 1);
    assert!(server.report.skipped_snapshots[0].1.contains("do not hash to the state hash"), "{:?}", server.report);
    assert_eq!(server.driver().shared.state.read().unwrap().sequence(), last);
    server.shutdown().await;

    // A snapshot from another history (this swarm's file, with the chain hash of another log): skipped.
    let copy = copy_data_dir(original.path());
    let files = snapshot_files(copy.path());
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes[24] ^= 1; // the first byte of the header's chain hash
    std::fs::write(&files[0], &bytes).unwrap();
    let server = colony_server::start(settings(copy.path())).await.expect("start-up falls back to the log");
    assert!(server.report.skipped_snapshots[0].1.contains("another history"), "{:?}", server.report);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_verify_against_checkpoints_online_and_expose_a_truncated_log_offline() {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = settings(directory.path());
    settings.driver.checkpoint_every_entries = CHECKPOINT_EVERY_ENTRIES;
    let server = start(settings).await;
    let mut receipts = Vec::new();
    for index in 0..20 {
        let (_, key) = server.new_agent(&format!("scout-{index}"));
        receipts.push(server.operator.submit_one(register(&format!("scout-{index}"), &key, "scout")).await.unwrap());
    }
    let operator_key = server.operator_key.public_key();
    let checkpoint = server.operator.log_checkpoint().await.unwrap();
    assert_eq!(checkpoint.operator_key, operator_key);
    assert!(checkpoint.sequence >= 16, "checkpoints every {CHECKPOINT_EVERY_ENTRIES} entries: {checkpoint:?}");
    for receipt in receipts.iter().filter(|receipt| receipt.sequence <= checkpoint.sequence) {
        let proof = server.operator.log_proof(receipt.sequence).await.unwrap();
        assert_eq!(proof.chain_hash, receipt.chain_hash);
        let digests: Vec<[u8; 32]> = proof.record_digests.iter().map(|digest| digest.0).collect();
        assert_eq!(digests.len() as u64, proof.checkpoint.sequence - receipt.sequence);
        let folded = colony_log::chain::fold(ChainHash(receipt.chain_hash.0), &digests);
        assert_eq!(folded.0, proof.checkpoint.chain_hash.0, "the digests lead from the receipt to the checkpoint");
        assert!(proof.checkpoint.to_signed().unwrap().verify(&operator_key), "the operator signed it");
    }
    // Entries written after the first proof are proven too: the proofs' reader follows the log.
    let mut later = Vec::new();
    for index in 20..20 + 2 * CHECKPOINT_EVERY_ENTRIES {
        let (_, key) = server.new_agent(&format!("scout-{index}"));
        later.push(server.operator.submit_one(register(&format!("scout-{index}"), &key, "scout")).await.unwrap());
    }
    let newer = server.operator.log_checkpoint().await.unwrap();
    assert!(newer.sequence > checkpoint.record_sequence, "{newer:?} after {checkpoint:?}");
    let later_receipt = later.iter().find(|receipt| receipt.sequence < newer.sequence).expect("a covered receipt");
    let proof = server.operator.log_proof(later_receipt.sequence).await.expect("a proof of a later entry");
    assert_eq!(proof.chain_hash, later_receipt.chain_hash);
    let receipts: Vec<_> = receipts.into_iter().chain(later).collect();
    // Entries after the newest checkpoint are durable but not covered yet: 409 with Retry-After.
    let pending = server.operator.log_proof(checkpoint.record_sequence + 100).await;
    expect_problem(pending, 404, "not_found", None);
    let last = receipts.last().unwrap();
    if last.sequence > checkpoint.sequence {
        expect_problem(server.operator.log_proof(last.sequence).await, 409, "checkpoint_pending", None);
    }
    expect_problem(server.operator.log_proof(0).await, 400, "invalid_query", Some("sequence"));
    server.shutdown().await;

    // Offline: every receipt is in the stopped server's log, and a forged one is not.
    for receipt in &receipts {
        let report =
            colony_server::audit::check_receipt(directory.path(), receipt.sequence, ChainHash(receipt.chain_hash.0))
                .expect("the receipt is in the log");
        assert!(report.covered_by.is_some(), "the shutdown's checkpoint covers every entry");
    }
    let forged = colony_server::audit::check_receipt(directory.path(), last.sequence, ChainHash([1; 32]));
    assert!(forged.unwrap_err().to_string().contains("rewritten after the receipt was given"));

    // Truncated consistently (rows and head) by someone with the disk: the receipt exposes it.
    let head_sequence = last.sequence - 3;
    let (_, head_chain) = row(directory.path(), head_sequence);
    tamper(
        directory.path(),
        &format!(
            "DELETE FROM entries WHERE sequence > {head_sequence};
             UPDATE head SET sequence = {head_sequence}, chain = x'{}';",
            head_chain.to_hex()
        ),
    );
    let truncated = colony_server::audit::check_receipt(directory.path(), last.sequence, ChainHash(last.chain_hash.0));
    assert!(truncated.unwrap_err().to_string().contains("truncated after the receipt was given"));
}

/// A crowd of proof requests at once: each is answered with a proof or told to come back
/// (`overloaded`, 503), and every proof given is right. None waits behind another.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_proof_requests_are_proven_or_told_to_retry() {
    let directory = tempfile::tempdir().unwrap();
    let mut settings = settings(directory.path());
    settings.driver.checkpoint_every_entries = CHECKPOINT_EVERY_ENTRIES;
    let server = start(settings).await;
    let mut receipts = Vec::new();
    for index in 0..3 * CHECKPOINT_EVERY_ENTRIES {
        let (_, key) = server.new_agent(&format!("scout-{index}"));
        receipts.push(server.operator.submit_one(register(&format!("scout-{index}"), &key, "scout")).await.unwrap());
    }
    let checkpoint = server.operator.log_checkpoint().await.unwrap();
    let covered: Vec<_> = receipts.into_iter().filter(|receipt| receipt.sequence < checkpoint.sequence).collect();
    let requests = covered.iter().cycle().take(64).map(|receipt| {
        let client = server.operator.clone();
        let (sequence, chain_hash) = (receipt.sequence, receipt.chain_hash);
        tokio::spawn(async move { (chain_hash, client.log_proof(sequence).await) })
    });
    let (mut proven, mut retry) = (0, 0);
    for answer in futures_util::future::join_all(requests).await {
        match answer.unwrap() {
            (chain_hash, Ok(proof)) => {
                assert_eq!(proof.chain_hash, chain_hash);
                proven += 1;
            }
            (_, Err(colony_client::ClientError::Problem(problem))) => {
                assert_eq!((problem.status, problem.code.as_str()), (503, "overloaded"), "{problem}");
                retry += 1;
            }
            (_, Err(other)) => panic!("{other}"),
        }
    }
    assert_eq!(proven + retry, 64);
    assert!(proven >= 1, "at least the first request is proven");
    server.shutdown().await;
}
