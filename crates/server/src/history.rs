//! The log's history, verified: the hash chain, the recorded head, and the operator's signed
//! checkpoints. Start-up and `audit verify` both run [`verify_history`] before anything else, so a
//! damaged or rewritten log is refused at start-up with the same words the audit uses, and nothing
//! is ever written onto it.
//!
//! What this proves: the log is one unbroken chain from genesis to its head (nothing changed,
//! missing, reordered or substituted, unless the chain was recomputed); the head is where the log
//! last committed (nothing removed from the end, unless the head was rewritten too); and every
//! checkpoint the operator signed matches the chain (so a recomputed chain is caught at the first
//! checkpoint after the change). What it cannot prove alone: that someone holding the operator's key
//! did not rewrite history and re-sign it. Receipts and checkpoints kept by agents expose that: the
//! chain hash an agent was given for its entry, or a checkpoint it fetched, no longer matches.

use colony_core::PublicKey;
use colony_log::{ChainHash, ChainedRecord, CommandLog, LogHead, ReadError};
use colony_wire::checkpoint::SignedCheckpoint;
use colony_wire::record::{self, RecordKind};

/// A checkpoint found in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoggedCheckpoint {
    /// The record that holds it.
    pub record_sequence: u64,
    /// The statement and its signature.
    pub checkpoint: SignedCheckpoint,
}

/// What a verified history is.
#[derive(Clone, Debug)]
pub struct VerifiedHistory {
    /// The last entry and its chain hash.
    pub head: LogHead,
    /// The operator's key, from genesis.
    pub operator_key: PublicKey,
    /// Every checkpoint, in log order.
    pub checkpoints: Vec<LoggedCheckpoint>,
}

/// Why a history is refused, with the entries it concerns.
#[derive(Debug)]
pub enum HistoryError {
    /// The log itself is damaged: a record changed, missing, unreadable, or its end removed.
    Log(ReadError),
    /// The first entry is not a genesis, or another entry claims to be one.
    Genesis {
        /// The entry.
        sequence: u64,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint is malformed or not signed by the operator.
    Checkpoint {
        /// The checkpoint's entry.
        sequence: u64,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint signed another chain hash than the log has: an entry between the previous
    /// checkpoint and this one was changed and the chain recomputed over it.
    Rewritten {
        /// The first entry that may have been changed (after the last checkpoint that held).
        first: u64,
        /// The last entry the failing checkpoint covers.
        last: u64,
        /// The checkpoint's entry.
        checkpoint: u64,
    },
}

impl HistoryError {
    /// The first entry concerned, where there is one.
    pub fn sequence(&self) -> Option<u64> {
        match self {
            HistoryError::Log(error) => error.sequence(),
            HistoryError::Genesis { sequence, .. } | HistoryError::Checkpoint { sequence, .. } => Some(*sequence),
            HistoryError::Rewritten { first, .. } => Some(*first),
        }
    }
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HistoryError::Log(error) => write!(formatter, "{error}"),
            HistoryError::Genesis { sequence, reason } => write!(formatter, "log entry {sequence}: {reason}"),
            HistoryError::Checkpoint { sequence, reason } => {
                write!(formatter, "log entry {sequence} (a checkpoint): {reason}")
            }
            HistoryError::Rewritten { first, last, checkpoint } => write!(
                formatter,
                "the checkpoint at log entry {checkpoint} was signed for another history: entries {first}..={last} \
                 were changed and the chain recomputed"
            ),
        }
    }
}

impl std::error::Error for HistoryError {}

impl From<ReadError> for HistoryError {
    fn from(error: ReadError) -> Self {
        HistoryError::Log(error)
    }
}

/// Verifies the whole history of `log`. `progress` gets `(entries verified, entries in all)`.
pub fn verify_history(
    log: &dyn CommandLog,
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifiedHistory, HistoryError> {
    let total = log.head().sequence;
    let mut operator_key = None;
    let mut checkpoints = Vec::new();
    let mut previous = ChainHash::EMPTY;
    // The entry after the last checkpoint that held: where a rewrite can have started.
    let mut trusted_through = 0;
    let head = colony_log::verify(log, |chained: &ChainedRecord| {
        let record = &chained.record;
        let kind = RecordKind::from_byte(record.kind);
        match (record.sequence, kind) {
            (1, Some(RecordKind::Genesis)) => {
                let genesis = record::decode_genesis(&record.payload)
                    .map_err(|reason| HistoryError::Genesis { sequence: 1, reason })?;
                operator_key = Some(genesis.operator_key);
            }
            (1, _) => {
                return Err(HistoryError::Genesis { sequence: 1, reason: "the first entry is not a genesis".into() });
            }
            (sequence, Some(RecordKind::Genesis)) => {
                return Err(HistoryError::Genesis { sequence, reason: "a second genesis".into() });
            }
            (sequence, Some(RecordKind::Checkpoint)) => {
                let checkpoint = SignedCheckpoint::decode(&record.payload)
                    .map_err(|reason| HistoryError::Checkpoint { sequence, reason })?;
                let operator_key = operator_key.expect("genesis comes first");
                if !checkpoint.verify(&operator_key) {
                    return Err(HistoryError::Checkpoint {
                        sequence,
                        reason: "its signature is not the operator's".into(),
                    });
                }
                if checkpoint.statement.sequence != sequence - 1 {
                    return Err(HistoryError::Checkpoint {
                        sequence,
                        reason: format!("it covers entry {}, not the entry before it", checkpoint.statement.sequence),
                    });
                }
                if checkpoint.statement.chain != previous.0 {
                    return Err(HistoryError::Rewritten {
                        first: trusted_through + 1,
                        last: sequence - 1,
                        checkpoint: sequence,
                    });
                }
                trusted_through = sequence;
                checkpoints.push(LoggedCheckpoint { record_sequence: sequence, checkpoint });
            }
            _ => {}
        }
        previous = chained.chain;
        if record.sequence.is_multiple_of(65_536) {
            progress(record.sequence, total);
        }
        Ok(())
    })?;
    progress(head.sequence, total);
    let operator_key = operator_key.ok_or(HistoryError::Genesis { sequence: 1, reason: "the log is empty".into() })?;
    Ok(VerifiedHistory { head, operator_key, checkpoints })
}

/// Checks a proof (`GET /v1/log/proof`) as its receiver would: it has one digest per entry from the
/// proven one to the checkpoint, the digests fold from the entry's chain hash to the checkpoint's,
/// and the checkpoint is signed by `operator_key` (the key the receiver trusts, not the one the
/// proof names). A receipt's chain hash, if given, must be the proven entry's.
pub fn verify_proof(
    proof: &colony_wire::views::LogProofView,
    operator_key: &PublicKey,
    receipt_chain: Option<colony_core::Digest>,
) -> Result<(), String> {
    let checkpoint = &proof.checkpoint;
    if let Some(receipt_chain) = receipt_chain
        && receipt_chain != proof.chain_hash
    {
        return Err(format!(
            "the log's chain hash for entry {} is {}, the receipt's is {receipt_chain}: the history was rewritten \
             after the receipt was given, or the receipt is of another log",
            proof.sequence, proof.chain_hash
        ));
    }
    let expected_digests =
        checkpoint.sequence.checked_sub(proof.sequence).ok_or("the checkpoint is before the entry")?;
    if proof.record_digests.len() as u64 != expected_digests {
        return Err(format!(
            "{} digests for entries {}..={}, which are {expected_digests}",
            proof.record_digests.len(),
            proof.sequence + 1,
            checkpoint.sequence
        ));
    }
    let digests: Vec<[u8; 32]> = proof.record_digests.iter().map(|digest| digest.0).collect();
    let folded = colony_log::chain::fold(ChainHash(proof.chain_hash.0), &digests);
    if folded.0 != checkpoint.chain_hash.0 {
        return Err("the digests do not lead from the entry's chain hash to the checkpoint's".to_owned());
    }
    let signed = checkpoint.to_signed().ok_or("the checkpoint's signature is not 64 bytes of hex")?;
    if !signed.verify(operator_key) {
        return Err(format!("the checkpoint is not signed by the operator key {operator_key}"));
    }
    Ok(())
}
