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
    for file in std::fs::read_dir(from).unwrap() {
        let file = file.unwrap();
        std::fs::copy(file.path(), copy.path().join(file.file_name())).unwrap();
    }
    copy
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
