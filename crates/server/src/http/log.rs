//! The log's history over HTTP: the newest signed checkpoint, and proofs that an entry is in the
//! history a checkpoint vouches for. Together with the receipt every write answers with (sequence and
//! chain hash), they let an agent check, long after the fact, that the log still holds what it was
//! told; see `crate::history` for what that proves and what it does not.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use colony_log::{CommandLog, SqliteLog};
use colony_wire::problem::ServerCode;
use colony_wire::record::RecordKind;
use colony_wire::views::{CheckpointView, LogProofView};
use serde::Deserialize;

use super::body::RETRY_AFTER_SECONDS;
use super::extract::QueryParameters;
use super::{ApiError, AppState, ValidQuery};
use crate::history::LoggedCheckpoint;

/// Records one proof reads at most. A checkpoint follows at most every 4,096 entries by default,
/// plus one group commit (at most 4,096 envelopes), so the first checkpoint after any entry is
/// within this many; a server configured with rarer checkpoints answers `unavailable` rather than
/// read without bound.
const PROOF_RECORDS_MAX: usize = 16_384;

/// `GET /v1/log/checkpoint`: the newest signed checkpoint.
pub async fn get_checkpoint(State(app): State<AppState>) -> Result<Json<CheckpointView>, ApiError> {
    let (newest, operator_key) = newest_checkpoint(&app)?;
    let newest = newest.ok_or_else(|| {
        ApiError::new(ServerCode::NotFound, "no checkpoint has been written yet; one follows the first entries")
    })?;
    Ok(Json(CheckpointView::new(newest.record_sequence, &newest.checkpoint, operator_key)))
}

fn newest_checkpoint(app: &AppState) -> Result<(Option<LoggedCheckpoint>, colony_core::PublicKey), ApiError> {
    let operator_key = app
        .state()?
        .operator()
        .map(|operator| operator.public_key)
        .ok_or_else(|| ApiError::new(ServerCode::Unavailable, "the log has no genesis yet"))?;
    let newest = *app.driver.shared.checkpoint.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok((newest, operator_key))
}

/// Query of `GET /v1/log/proof`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofQuery {
    sequence: Option<u64>,
}

/// Query of `GET /v1/log/proof`, checked.
#[derive(Debug)]
pub struct ProofTarget {
    sequence: u64,
}

impl QueryParameters for ProofTarget {
    type Decoded = ProofQuery;
    const UNDECODABLE_FIELD: &'static str = "sequence";

    fn validate(query: ProofQuery) -> Result<ProofTarget, ApiError> {
        match query.sequence {
            Some(sequence) if sequence >= 1 => Ok(ProofTarget { sequence }),
            Some(_) => Err(ApiError::invalid_query("sequence", "entries are numbered from 1")),
            None => Err(ApiError::invalid_query("sequence", "name the entry to prove: ?sequence=N")),
        }
    }
}

/// `GET /v1/log/proof?sequence=N`: the digests from entry N to the first checkpoint after it, and
/// that checkpoint.
pub async fn get_proof(
    State(app): State<AppState>,
    ValidQuery(ProofTarget { sequence }): ValidQuery<ProofTarget>,
) -> Result<Json<LogProofView>, ApiError> {
    let head = app.state()?.sequence();
    if sequence > head {
        return Err(ApiError::new(ServerCode::NotFound, format!("the log holds entries 1..={head}")));
    }
    let (newest, operator_key) = newest_checkpoint(&app)?;
    if newest.is_none_or(|newest| newest.checkpoint.statement.sequence < sequence) {
        return Err(ApiError::new(
            ServerCode::CheckpointPending,
            format!("entry {sequence} is durable but no checkpoint covers it yet; retry in a second"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS)));
    }
    let reader = std::sync::Arc::clone(&app.log_reader);
    let proof = tokio::task::spawn_blocking(move || {
        // One proof at a time on one read-only connection: this bounds the memory and the file
        // handles they take. Others are told to come back rather than queue a blocking thread each,
        // so a crowd of requests cannot pile up behind the one being built.
        let mut reader = match reader.try_lock() {
            Ok(reader) => reader,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(ApiError::new(ServerCode::Overloaded, "another proof is being built; retry shortly")
                    .with_header(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS)));
            }
        };
        let log = reader.open()?;
        prove(log, sequence, operator_key)
    })
    .await
    .map_err(|_| ApiError::new(ServerCode::Unavailable, "the proof could not be built"))??;
    Ok(Json(proof))
}

fn prove(log: &SqliteLog, sequence: u64, operator_key: colony_core::PublicKey) -> Result<LogProofView, ApiError> {
    let unreadable = |error: colony_log::ReadError| {
        tracing::error!(%error, "reading the log for a proof");
        ApiError::new(ServerCode::Unavailable, "the log cannot be read; see the server log")
    };
    let records = log.read(sequence, PROOF_RECORDS_MAX).map_err(unreadable)?;
    let Some(proven) = records.first() else {
        return Err(ApiError::new(ServerCode::Unavailable, "the entry is not in the log's file yet"));
    };
    let covering = records.iter().skip(1).find(|chained| chained.record.kind == RecordKind::Checkpoint as u8);
    let Some(covering) = covering else {
        return Err(ApiError::new(
            ServerCode::Unavailable,
            format!("no checkpoint within {PROOF_RECORDS_MAX} entries of entry {sequence}"),
        ));
    };
    let checkpoint = colony_wire::checkpoint::SignedCheckpoint::decode(&covering.record.payload).map_err(|reason| {
        tracing::error!(%reason, sequence = covering.record.sequence, "a checkpoint in the log does not decode");
        ApiError::new(ServerCode::Unavailable, "the log holds a damaged checkpoint; see the server log")
    })?;
    let between = (covering.record.sequence - sequence - 1) as usize;
    let record_digests =
        records[1..=between].iter().map(|chained| colony_core::Digest(chained.record.digest())).collect();
    Ok(LogProofView {
        sequence,
        chain_hash: colony_core::Digest(proven.chain.0),
        record_digests,
        checkpoint: CheckpointView::new(covering.record.sequence, &checkpoint, operator_key),
    })
}

/// A read-only connection to the log's file, opened on first use.
pub struct LogReader {
    path: std::path::PathBuf,
    log: Option<SqliteLog>,
}

impl LogReader {
    /// A reader of the log at `path`.
    pub fn new(path: std::path::PathBuf) -> LogReader {
        LogReader { path, log: None }
    }

    /// The reader, its head moved to the log's current one: a handle reads only up to the head it
    /// last read, and a proof is asked for an entry written since.
    fn open(&mut self) -> Result<&SqliteLog, ApiError> {
        let unavailable = |error: &dyn std::fmt::Display| {
            tracing::error!(%error, "opening the log for proofs");
            ApiError::new(ServerCode::Unavailable, "the log cannot be opened for reading; see the server log")
        };
        let log = match &mut self.log {
            Some(log) => {
                log.reload_head().map_err(|error| unavailable(&error))?;
                log
            }
            empty => empty.insert(SqliteLog::open_read_only(&self.path).map_err(|error| unavailable(&error))?),
        };
        Ok(log)
    }
}
