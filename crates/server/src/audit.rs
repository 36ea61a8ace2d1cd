//! The offline audit: verify the log's history (its hash chain, its head and the operator's signed
//! checkpoints, as start-up does), then replay the whole log from genesis, re-verify every signature,
//! recompute the state hash, check every invariant, and check every stored snapshot and every state
//! hash a checkpoint names against the replay.
//!
//! Signatures are verified in batches on all cores: entries are applied in order (the key of an
//! entry depends on the state before it), their signatures are collected, and each batch is checked
//! with Ed25519 batch verification while the next batch is read and replayed, so replay and
//! verification overlap. Each signer's key is decompressed once. A batch that fails is re-checked one
//! signature at a time to name the first bad entry.

pub mod seals;

use std::path::Path;
use std::time::{Duration, Instant};

use colony_core::{Digest, State};
use colony_log::{CommandLog, FileSnapshots, SnapshotStore as _, SqliteLog};
use colony_wire::envelope::signing_message;
use colony_wire::keys;

use crate::history::verify_history;
use crate::log_records::decode_record;

/// Records read (and signatures verified) per batch.
const AUDIT_BATCH_RECORDS: usize = 8_192;
/// Full invariant checks happen at least this often (in entries), and at the end.
const INVARIANT_CHECK_EVERY_ENTRIES: u64 = 65_536;

/// What the audit found.
#[derive(Clone, Debug)]
pub struct AuditReport {
    /// Entries replayed.
    pub entries: u64,
    /// Commands in them.
    pub commands: u64,
    /// Signatures re-verified.
    pub signatures: u64,
    /// Snapshots compared with the replay.
    pub snapshots_checked: u64,
    /// Signed checkpoints verified (signature and chain hash; their state hashes against the replay).
    pub checkpoints_checked: u64,
    /// The chain hash of the last entry: the whole history in 32 bytes.
    pub chain_head: colony_log::ChainHash,
    /// The final state hash.
    pub state_hash: Digest,
    /// The state hash after the entry [`audit_at`] was asked about, if it is in the log.
    pub probed_state_hash: Option<(u64, Digest)>,
    /// The final sequence number.
    pub sequence: u64,
    /// Registered agents at the end.
    pub agents: u64,
    /// Money in circulation at the end (the books balance: the invariants were checked).
    pub supply: u128,
    /// Escrows open at the end.
    pub open_escrows: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// A failed audit, naming the entry at fault where there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditError {
    /// The entry at fault.
    pub sequence: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for AuditError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.reason)
    }
}

impl std::error::Error for AuditError {}

fn failure(sequence: Option<u64>, reason: impl Into<String>) -> AuditError {
    let reason = reason.into();
    match sequence {
        Some(sequence) => AuditError { sequence: Some(sequence), reason: format!("entry {sequence}: {reason}") },
        None => AuditError { sequence, reason },
    }
}

/// A damaged history, in the words start-up uses for it.
pub fn history_failure(error: &crate::history::HistoryError) -> AuditError {
    AuditError { sequence: error.sequence(), reason: format!("the command log is damaged: {error}") }
}

/// Audits the log in the data directory `data_dir`. `progress` gets `(entries done, entries total)`.
pub fn audit(data_dir: &Path, progress: impl FnMut(u64, u64)) -> Result<AuditReport, AuditError> {
    audit_at(data_dir, None, progress)
}

/// Audits like [`audit`], and also reports the replayed state hash after entry `probe`: what a
/// client that read the state hash of a running server (at some entry) compares with, since the
/// log goes on after it (a clean stop adds the operator's checkpoint).
pub fn audit_at(
    data_dir: &Path,
    probe: Option<u64>,
    mut progress: impl FnMut(u64, u64),
) -> Result<AuditReport, AuditError> {
    let started = Instant::now();
    let path = data_dir.join(crate::server::LOG_FILE_NAME);
    if !path.exists() {
        return Err(failure(None, format!("no command log at {}", path.display())));
    }
    let log = SqliteLog::open_read_only(&path).map_err(|error| failure(None, error.to_string()))?;
    let last = log.last_sequence();
    if last == 0 {
        return Err(failure(None, "the command log is empty"));
    }
    let history = verify_history(&log, |_, _| {}).map_err(|error| history_failure(&error))?;
    // State hashes the checkpoints name, by the entry they are for, to compare as the replay passes.
    let mut named_state_hashes: Vec<(u64, [u8; 32], u64)> = history
        .checkpoints
        .iter()
        .filter(|logged| logged.checkpoint.statement.state_sequence > 0)
        .map(|logged| {
            let statement = logged.checkpoint.statement;
            (statement.state_sequence, statement.state_hash, logged.record_sequence)
        })
        .collect();
    named_state_hashes.sort_by_key(|(sequence, _, _)| *sequence);
    let mut named_state_hashes = named_state_hashes.into_iter().peekable();
    let mut snapshots = stored_snapshots(data_dir, &log)?.into_iter().peekable();

    let mut state = State::new();
    let mut report = AuditReport {
        entries: 0,
        commands: 0,
        signatures: 0,
        snapshots_checked: 0,
        checkpoints_checked: history.checkpoints.len() as u64,
        chain_head: history.head.chain,
        state_hash: Digest([0; 32]),
        probed_state_hash: None,
        sequence: 0,
        agents: 0,
        supply: 0,
        open_escrows: 0,
        elapsed: Duration::ZERO,
    };
    let mut next = 1;
    let mut since_invariant_check = 0;
    let mut decoded_keys: std::collections::HashMap<colony_core::PublicKey, keys::DecodedKey> =
        std::collections::HashMap::new();
    let mut verifier: Option<std::thread::JoinHandle<Result<(), AuditError>>> = None;
    // The replay runs in a closure so that, whatever it stops on, the verification still running in
    // the background is joined and the earliest failure (by entry) is the one reported.
    let mut replay = || -> Result<(), AuditError> {
        while next <= last {
            let records = log.read(next, AUDIT_BATCH_RECORDS).map_err(|error| match error {
                colony_log::ReadError::Corrupt { sequence, reason } => failure(Some(sequence), reason),
                colony_log::ReadError::Missing { sequence } => failure(Some(sequence), "missing from the log"),
                other => failure(None, other.to_string()),
            })?;
            if records.is_empty() {
                return Err(failure(Some(next), "missing from the log"));
            }
            let mut pending = Vec::with_capacity(records.len());
            for chained in &records {
                let record = &chained.record;
                let decoded =
                    decode_record(record, &state).map_err(|error| failure(Some(error.sequence), error.reason))?;
                let entry = decoded.entry;
                if let Some(check) = decoded.signature {
                    let key = check
                        .expected_key
                        .ok_or_else(|| failure(Some(record.sequence), "signed by an unknown signer"))?;
                    let key = match decoded_keys.get(&key) {
                        Some(decoded) => *decoded,
                        None => {
                            let decoded = keys::decode_key(&key)
                                .ok_or_else(|| failure(Some(record.sequence), "the signer's key is not a valid key"))?;
                            decoded_keys.insert(key, decoded);
                            decoded
                        }
                    };
                    pending.push((
                        record.sequence,
                        signing_message(&check.envelope.body),
                        check.envelope.signature,
                        key,
                    ));
                }
                if let colony_core::EntryBody::Signed(commands) = &entry.body {
                    report.commands += commands.commands.len() as u64;
                }
                state.apply(&entry).map_err(|error| failure(Some(record.sequence), error.to_string()))?;
                while let Some((sequence, state_hash)) =
                    snapshots.next_if(|(sequence, _)| *sequence == state.sequence())
                {
                    if Digest(state_hash) != state.state_hash() {
                        return Err(failure(
                            Some(sequence),
                            "the stored snapshot's state hash differs from the replayed state",
                        ));
                    }
                    report.snapshots_checked += 1;
                }
                if probe == Some(state.sequence()) {
                    report.probed_state_hash = Some((state.sequence(), state.state_hash()));
                }
                if named_state_hashes.peek().is_some_and(|(sequence, _, _)| *sequence == state.sequence()) {
                    let computed = state.state_hash();
                    while let Some((_, named, checkpoint)) =
                        named_state_hashes.next_if(|(sequence, _, _)| *sequence == state.sequence())
                    {
                        if Digest(named) != computed {
                            return Err(failure(
                                Some(state.sequence()),
                                format!(
                                    "the checkpoint at entry {checkpoint} names a state hash that differs from the \
                                     replayed state's"
                                ),
                            ));
                        }
                    }
                }
            }
            // Verify this batch in the background while the next one is read and replayed.
            if let Some(previous) = verifier.take() {
                previous.join().expect("verifier thread")?;
            }
            report.signatures += pending.len() as u64;
            verifier = Some(std::thread::spawn(move || verify_signatures(&pending)));
            report.entries += records.len() as u64;
            since_invariant_check += records.len() as u64;
            if since_invariant_check >= INVARIANT_CHECK_EVERY_ENTRIES {
                state.check_invariants().map_err(|reason| failure(Some(state.sequence()), reason))?;
                since_invariant_check = 0;
            }
            next += records.len() as u64;
            progress(report.entries, last);
        }
        Ok(())
    };
    let replayed = replay();
    let verified = verifier.take().map_or(Ok(()), |previous| previous.join().expect("verifier thread"));
    match (replayed, verified) {
        (Err(replay_error), Err(signature_error)) => {
            return Err(if signature_error.sequence <= replay_error.sequence { signature_error } else { replay_error });
        }
        (Err(error), Ok(())) | (Ok(()), Err(error)) => return Err(error),
        (Ok(()), Ok(())) => {}
    }
    state.check_invariants().map_err(|reason| failure(Some(state.sequence()), reason))?;
    report.state_hash = state.state_hash();
    report.sequence = state.sequence();
    report.agents = state.registry().len() as u64;
    report.supply = state.ledger().supply();
    report.open_escrows = state.ledger().open_escrows();
    report.elapsed = started.elapsed();
    Ok(report)
}

type PendingSignature = (u64, Vec<u8>, [u8; 64], keys::DecodedKey);

/// Verifies signatures in parallel batches; names the first bad entry.
fn verify_signatures(pending: &[PendingSignature]) -> Result<(), AuditError> {
    if pending.is_empty() {
        return Ok(());
    }
    let threads = std::thread::available_parallelism().map_or(1, |count| count.get()).min(pending.len());
    let chunk_length = pending.len().div_ceil(threads);
    let all_valid = std::thread::scope(|scope| {
        let workers: Vec<_> = pending
            .chunks(chunk_length)
            .map(|chunk| {
                scope.spawn(move || {
                    let messages: Vec<&[u8]> = chunk.iter().map(|(_, message, _, _)| message.as_slice()).collect();
                    let signatures: Vec<[u8; 64]> = chunk.iter().map(|(_, _, signature, _)| *signature).collect();
                    let decoded: Vec<_> = chunk.iter().map(|(_, _, _, key)| *key).collect();
                    keys::verify_batch_decoded(&messages, &signatures, &decoded)
                })
            })
            .collect();
        workers.into_iter().all(|worker| worker.join().expect("verifier thread"))
    });
    if all_valid {
        return Ok(());
    }
    for (sequence, message, signature, key) in pending {
        if !keys::verify_decoded(key, message, signature) {
            return Err(failure(Some(*sequence), "the signature does not verify"));
        }
    }
    // Batch verification is stricter about some non-canonical encodings than single verification;
    // report the batch rather than pass it.
    Err(failure(Some(pending[0].0), "a signature in this batch is not canonical"))
}

/// What checking a receipt against a log found.
#[derive(Clone, Debug)]
pub struct ReceiptReport {
    /// The entry the receipt is for.
    pub sequence: u64,
    /// The first signed checkpoint after it, which vouches for it, if one was written.
    pub covered_by: Option<crate::history::LoggedCheckpoint>,
    /// The log's head.
    pub head: colony_log::LogHead,
}

/// Checks a receipt (an entry's sequence and chain hash, as a write was answered) against the log in
/// `data_dir`, offline: the history must verify (as at start-up) and hold that chain hash at that
/// entry. A log that does not was truncated or rewritten after the receipt was given.
pub fn check_receipt(
    data_dir: &Path,
    sequence: u64,
    chain: colony_log::ChainHash,
) -> Result<ReceiptReport, AuditError> {
    let path = data_dir.join(crate::server::LOG_FILE_NAME);
    if !path.exists() {
        return Err(failure(None, format!("no command log at {}", path.display())));
    }
    let log = SqliteLog::open_read_only(&path).map_err(|error| failure(None, error.to_string()))?;
    let history = verify_history(&log, |_, _| {}).map_err(|error| history_failure(&error))?;
    if sequence == 0 || sequence > history.head.sequence {
        return Err(failure(
            Some(sequence),
            format!(
                "the receipt is for an entry this log does not hold (it ends at entry {}): the log was truncated after \
                 the receipt was given, or the receipt is of another log",
                history.head.sequence
            ),
        ));
    }
    let found = log.read(sequence, 1).map_err(|error| failure(Some(sequence), error.to_string()))?;
    let found = found.first().ok_or_else(|| failure(Some(sequence), "missing from the log"))?;
    if found.chain != chain {
        return Err(failure(
            Some(sequence),
            format!(
                "the log's chain hash here is {}, the receipt's is {chain}: the history up to this entry was \
                 rewritten after the receipt was given, or the receipt is of another log",
                found.chain
            ),
        ));
    }
    let covered_by = history.checkpoints.iter().find(|logged| logged.record_sequence > sequence).copied();
    Ok(ReceiptReport { sequence, covered_by, head: history.head })
}

/// The stored snapshots, oldest first, as (entry, state hash), each checked whole: its bytes hash to
/// the state hash it records and it belongs to this log's history. The replay then compares each
/// state hash with its own. Any damage fails the audit, even though recovery would fall back to an
/// older snapshot: the audit reports everything that is not as written.
fn stored_snapshots(data_dir: &Path, log: &dyn CommandLog) -> Result<Vec<(u64, [u8; 32])>, AuditError> {
    let directory = data_dir.join(crate::server::SNAPSHOTS_DIR_NAME);
    if !directory.exists() {
        return Ok(Vec::new());
    }
    let store = FileSnapshots::open_read_only(&directory).map_err(|error| failure(None, error.to_string()))?;
    let mut checked = Vec::new();
    for sequence in store.list().map_err(|error| failure(None, error.to_string()))? {
        let damaged = |reason: String| failure(None, format!("the snapshot at entry {sequence} is damaged: {reason}"));
        let snapshot = match store.read(sequence) {
            Ok(snapshot) => snapshot,
            // Pruned by a running server between the listing and the read.
            Err(colony_log::SnapshotStoreError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
                continue;
            }
            Err(error) => return Err(damaged(error.to_string())),
        };
        if sequence > log.last_sequence() {
            return Err(failure(
                None,
                format!(
                    "the snapshot at entry {sequence} is newer than the log, which ends at entry {}: the log lost its \
                     end, or the snapshot belongs to another swarm",
                    log.last_sequence()
                ),
            ));
        }
        if State::snapshot_state_hash(&snapshot.body) != Digest(snapshot.state_hash) {
            return Err(damaged("its bytes do not hash to the state hash it records".to_owned()));
        }
        let chain = log.read(sequence, 1).map_err(|error| failure(Some(sequence), error.to_string()))?;
        if chain.first().map(|record| record.chain) != Some(snapshot.chain) {
            return Err(damaged(
                "its chain hash is not the log's at its entry: it belongs to another history".to_owned(),
            ));
        }
        checked.push((sequence, snapshot.state_hash));
    }
    checked.reverse();
    Ok(checked)
}
