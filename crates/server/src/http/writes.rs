//! The write endpoints: a signed envelope in, durable results out.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use colony_core::Rejection;
use colony_core::command::Fetch;
use colony_wire::envelope::SIGNATURE_HEADER;
use colony_wire::problem::ServerCode;
use colony_wire::read_auth::READ_SIGNER_HEADER;
use colony_wire::views::{CommandResultView, SubmitResponse};
use colony_wire::{Envelope, EnvelopeError, SignedEnvelope};

use super::body::read_signed_body;
use super::{ApiError, AppState};
use crate::driver::{Committed, Submission, SubmitError};

/// Bodies of the single-command endpoint are at most this large.
pub const SINGLE_BODY_BYTES_MAX: usize = 256 << 10;
/// Bodies of the batch endpoint are at most this large.
pub const BATCH_BODY_BYTES_MAX: usize = 16 << 20;

/// `POST /v1/commands`: exactly one command. A refused command is answered with its problem and the
/// HTTP status for it.
pub async fn submit_single(State(app): State<AppState>, request: Request) -> Result<Json<SubmitResponse>, ApiError> {
    let committed = receive(&app, request, SINGLE_BODY_BYTES_MAX, true).await?;
    match committed.outcome.commands.first() {
        Some(Err(rejection)) => Err(ApiError::from_rejection(rejection)),
        _ => Ok(Json(submit_response(&committed))),
    }
}

/// `POST /v1/batch`: many commands, one envelope, one signature. Each command succeeds or fails on its
/// own; the response has one result per command.
pub async fn submit_batch(State(app): State<AppState>, request: Request) -> Result<Json<SubmitResponse>, ApiError> {
    let committed = receive(&app, request, BATCH_BODY_BYTES_MAX, false).await?;
    Ok(Json(submit_response(&committed)))
}

fn submit_response(committed: &Committed) -> SubmitResponse {
    SubmitResponse {
        sequence: committed.sequence,
        chain_hash: colony_core::Digest(committed.chain.0),
        timestamp_ms: committed.timestamp_ms,
        results: committed.outcome.commands.iter().map(CommandResultView::from_result).collect(),
    }
}

fn envelope_problem(error: EnvelopeError) -> ApiError {
    let detail = error.to_string();
    match error {
        // A subject that does not parse is the same mistake here as on the ephemeral bus.
        EnvelopeError::Malformed { path, .. } if names_a_subject(&path) => {
            ApiError::new(ServerCode::InvalidSubject, detail).with_field(path)
        }
        EnvelopeError::Malformed { path, .. } => ApiError::new(ServerCode::MalformedRequest, detail).with_field(path),
        EnvelopeError::Empty | EnvelopeError::TooManyCommands { .. } => {
            ApiError::new(ServerCode::MalformedRequest, detail).with_field("commands")
        }
        EnvelopeError::SignatureMissing | EnvelopeError::SignatureInvalid => {
            ApiError::new(ServerCode::InvalidSignature, detail).with_field(SIGNATURE_HEADER)
        }
    }
}

/// Whether a command field's path (`commands[0].subject`, `commands[2].subjects[1]`) holds a subject or
/// a subject pattern.
fn names_a_subject(path: &str) -> bool {
    let field = path.rsplit('.').next().unwrap_or(path);
    let field = field.split('[').next().unwrap_or(field);
    matches!(field, "subject" | "subjects" | "reply_to" | "filter")
}

/// How far an envelope's nonce (Unix microseconds) may be from the server's clock, either way: a
/// signed envelope is good for this long, so one captured but held back cannot be played later.
/// (A waiting fetch's nonce is up to [`FETCH_WAIT_MS_MAX`] ahead, well within it.)
pub const ENVELOPE_NONCE_SKEW_MS: u64 = 5 * 60 * 1_000;

/// Reads, checks, verifies and submits an envelope; answers with the committed entry.
async fn receive(app: &AppState, request: Request, body_bytes_max: usize, single: bool) -> Result<Committed, ApiError> {
    let (parts, body) = request.into_parts();
    let body = read_signed_body(app, &parts.headers, body, body_bytes_max).await?;
    let envelope = Envelope::decode(&body.bytes).map_err(envelope_problem)?;
    if envelope.signer != body.signer {
        return Err(ApiError::new(
            ServerCode::SignerMismatch,
            format!(
                "the envelope's signer '{}' is not the {READ_SIGNER_HEADER} header's '{}'",
                envelope.signer, body.signer
            ),
        )
        .with_field("signer"));
    }
    if single && envelope.commands.len() != 1 {
        return Err(ApiError::new(
            ServerCode::SingleCommandExpected,
            format!("/v1/commands takes exactly one command, got {}; use /v1/batch", envelope.commands.len()),
        )
        .with_field("commands"));
    }
    let key = crate::log_records::expected_key(&*app.state()?, &envelope);
    let Some(key) = key else {
        return Err(ApiError::from_rejection(&Rejection::UnknownSigner).with_field("signer"));
    };
    let signed = SignedEnvelope { body: body.bytes.to_vec(), signature: body.signature };
    if !app.keys.verify(&key, &colony_wire::envelope::signing_message(&signed.body), &signed.signature) {
        return Err(envelope_problem(EnvelopeError::SignatureInvalid));
    }
    let now_ms = app.clock.now_ms();
    if (envelope.nonce / 1_000).abs_diff(now_ms) > ENVELOPE_NONCE_SKEW_MS {
        return Err(ApiError::new(
            ServerCode::NonceOutOfWindow,
            format!(
                "the nonce must be the current time in Unix microseconds, within {} s of the server's clock \
                 (the server's time is {})",
                ENVELOPE_NONCE_SKEW_MS / 1_000,
                now_ms * 1_000
            ),
        )
        .with_field("nonce"));
    }
    if let Some(wait) = fetch_wait(&parts.headers, &envelope)? {
        // A replay is refused before it is held, not after the wait.
        let fresh = app.state()?.nonce_is_fresh(&envelope.signer, envelope.nonce);
        if !fresh {
            return Err(ApiError::from_rejection(&Rejection::NonceReplayed { nonce: envelope.nonce }));
        }
        let _place = app.waiting_requests.enter(envelope.signer.to_string(), "retry, or fetch without waiting")?;
        wait_until_fetch_is_due(app, &envelope, wait).await?;
    }
    let submission = Submission { envelope, signed, verified_key: key };
    let committed = match tokio::time::timeout(app.request_timeout, app.driver.submit(submission)).await {
        Err(_) => {
            return Err(ApiError::new(
                ServerCode::Timeout,
                "the write was not confirmed in time; it may still be applied (check the agent or the event stream)",
            ));
        }
        Ok(Err(SubmitError::Rejected(rejection))) => return Err(ApiError::from_rejection(&rejection)),
        Ok(Err(SubmitError::Overloaded)) => {
            return Err(ApiError::new(ServerCode::Overloaded, "the write queue is full; retry with backoff"));
        }
        Ok(Err(SubmitError::Unavailable(reason))) => return Err(ApiError::new(ServerCode::Unavailable, reason)),
        Ok(Ok(committed)) => committed,
    };
    if let Some(rejection) = &committed.outcome.envelope {
        return Err(ApiError::from_rejection(rejection));
    }
    Ok(committed)
}

/// Header asking the server to hold an envelope of `consumer.fetch` commands until one of them has
/// something to deliver, for at most this many milliseconds (a long poll).
pub const FETCH_WAIT_HEADER: &str = "colony-wait-ms";
/// The longest a fetch may wait.
pub const FETCH_WAIT_MS_MAX: u64 = 30_000;
/// How often a waiting fetch looks again even when nothing was written (a nak's delay passes by the
/// clock alone, without an entry).
const FETCH_RECHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// The wait a request asks for, checked: only envelopes made only of fetches may wait.
fn fetch_wait(headers: &HeaderMap, envelope: &Envelope) -> Result<Option<std::time::Duration>, ApiError> {
    let Some(value) = headers.get(FETCH_WAIT_HEADER) else { return Ok(None) };
    let invalid = |detail: String| ApiError::new(ServerCode::MalformedRequest, detail).with_field(FETCH_WAIT_HEADER);
    let wait_ms: u64 = value
        .to_str()
        .ok()
        .and_then(|text| text.parse().ok())
        .filter(|wait_ms| *wait_ms <= FETCH_WAIT_MS_MAX)
        .ok_or_else(|| invalid(format!("{FETCH_WAIT_HEADER} must be milliseconds, at most {FETCH_WAIT_MS_MAX}")))?;
    if !envelope.commands.iter().all(|command| matches!(command, colony_core::Command::Fetch(Fetch { .. }))) {
        return Err(invalid(format!("only an envelope of consumer.fetch commands may carry {FETCH_WAIT_HEADER}")));
    }
    Ok(Some(std::time::Duration::from_millis(wait_ms)))
}

/// Holds a fetch until one of its consumers has something due, the wait is over, or the server
/// stops. The fetch is then submitted as usual (and may still deliver nothing).
async fn wait_until_fetch_is_due(
    app: &AppState,
    envelope: &Envelope,
    wait: std::time::Duration,
) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut applied = app.driver.shared.applied.subscribe();
    let mut shutdown = app.shutdown.clone();
    loop {
        let due = {
            let state = app.state()?;
            let now_ms = app.clock.now_ms();
            envelope.commands.iter().any(|command| match command {
                // An unknown stream or consumer is not worth waiting for: the fetch will be refused.
                colony_core::Command::Fetch(Fetch { stream, consumer, .. }) => {
                    state.fetch_is_due(stream, consumer, now_ms).unwrap_or(true)
                }
                _ => true,
            })
        };
        let now = tokio::time::Instant::now();
        if due || now >= deadline || *shutdown.borrow() {
            return Ok(());
        }
        let next_look = (now + FETCH_RECHECK).min(deadline);
        tokio::select! {
            _ = applied.changed() => {}
            _ = tokio::time::sleep_until(next_look) => {}
            _ = shutdown.changed() => {}
        }
    }
}
