//! The offline audit: replay the whole log from genesis, re-verify every signature, recompute the
//! state hash, check every invariant, and check every stored snapshot against the replay.
//!
//! Signatures are verified in batches on all cores: entries are applied in order (the key of an
//! entry depends on the state before it), their signatures are collected, and each batch is checked
//! with Ed25519 batch verification while the next batch is read and replayed, so replay and
//! verification overlap. Each signer's key is decompressed once. A batch that fails is re-checked one
//! signature at a time to name the first bad entry.

use std::path::Path;
use std::time::{Duration, Instant};

use colony_core::{Digest, State};
use colony_log::{CommandLog, SqliteLog};
use colony_wire::envelope::signing_message;
use colony_wire::keys;

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
    /// The final state hash.
    pub state_hash: Digest,
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
        match self.sequence {
            Some(sequence) => write!(formatter, "entry {sequence}: {}", self.reason),
            None => formatter.write_str(&self.reason),
        }
    }
}

impl std::error::Error for AuditError {}

fn failure(sequence: Option<u64>, reason: impl Into<String>) -> AuditError {
    AuditError { sequence, reason: reason.into() }
}

/// Audits the log in the data directory `data_dir`. `progress` gets `(entries done, entries total)`.
pub fn audit(data_dir: &Path, mut progress: impl FnMut(u64, u64)) -> Result<AuditReport, AuditError> {
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
    let (snapshots, damaged) = log.snapshots().map_err(|error| failure(None, error.to_string()))?;
    if let Some(snapshot) = damaged.first() {
        return Err(failure(None, format!("snapshot at entry {} is damaged: {}", snapshot.sequence, snapshot.reason)));
    }
    let mut snapshots: Vec<_> = snapshots.into_iter().rev().collect();

    let mut state = State::new();
    let mut report = AuditReport {
        entries: 0,
        commands: 0,
        signatures: 0,
        snapshots_checked: 0,
        state_hash: Digest([0; 32]),
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
            for record in &records {
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
                while snapshots.first().is_some_and(|snapshot| snapshot.sequence == state.sequence()) {
                    let snapshot = snapshots.remove(0);
                    if Digest(snapshot.state_hash) != state.state_hash() {
                        return Err(failure(
                            Some(snapshot.sequence),
                            "the stored snapshot's state hash differs from the replayed state",
                        ));
                    }
                    report.snapshots_checked += 1;
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
    if let Some(snapshot) = snapshots.first() {
        return Err(failure(Some(snapshot.sequence), "a snapshot refers to an entry beyond the log"));
    }
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
