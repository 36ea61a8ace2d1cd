//! The one reader of signed request bodies (`/v1/commands`, `/v1/batch`, `/v1/bus/publish`,
//! `/v1/bus/request`). Before it reads a byte it checks what the head says: the media type, the
//! declared length against the endpoint's limit, a signer named in `colony-signer` and a signature
//! header. It reads more than [`UNREGISTERED_BODY_BYTES_MAX`] only for a registered, not deregistered
//! signer (a self-registration fits under it, so unknown agents can still register themselves), and
//! it counts every byte it holds against a budget shared by all connections, refusing with
//! `overloaded` rather than waiting when the budget is spent. The signature itself is checked by the
//! endpoint, which knows what it covers.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use colony_core::Signer;
use colony_wire::envelope::{SIGNATURE_HEADER, parse_signature};
use colony_wire::problem::ServerCode;
use colony_wire::read_auth::READ_SIGNER_HEADER;
use futures_util::StreamExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ApiError, AppState};

/// The most a signer that is not registered (unknown, or deregistered) may send: enough for a
/// self-registration envelope with every capability and a long reason, far below the batch limit,
/// so that a crowd of unauthenticated connections cannot pin memory.
pub const UNREGISTERED_BODY_BYTES_MAX: usize = 64 << 10;

/// The default budget of body bytes in flight across all connections: sixteen full batch bodies.
pub const BODY_BUDGET_BYTES_DEFAULT: usize = 256 << 20;

/// What a refused request is told to wait before it tries again, in seconds.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// The bytes of bodies in flight, shared by every connection.
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

impl BodyBudget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> BodyBudget {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget { bytes: Arc::new(Semaphore::new(total)), total }
    }

    /// Bytes not held by any request now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }
}

/// A body read in full, from a signer named in its head; its bytes count against the budget until
/// this is dropped.
pub struct SignedBody {
    /// The signer the head names (the endpoint checks it against the body and the signature).
    pub signer: Signer,
    /// The signature header, parsed.
    pub signature: [u8; 64],
    /// The body.
    pub bytes: Bytes,
    _held: Option<OwnedSemaphorePermit>,
}

/// Refuses a POST body that is not JSON (`application/json`, parameters such as `charset` allowed).
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        return Ok(());
    }
    Err(ApiError::new(
        ServerCode::UnsupportedMediaType,
        "the body must be JSON, sent as 'Content-Type: application/json'",
    )
    .with_field("content-type"))
}

fn too_large(bytes_max: usize, registered: bool) -> ApiError {
    let detail = if registered {
        format!("the body exceeds the limit of {bytes_max} bytes")
    } else {
        format!(
            "the body exceeds the limit of {bytes_max} bytes for a signer that is not registered \
             (larger bodies are read only from registered signers)"
        )
    };
    ApiError::new(ServerCode::PayloadTooLarge, detail)
}

/// Checks the head, then reads the body within `bytes_max` (the endpoint's limit), the signer's
/// allowance and the shared budget, in at most the request timeout.
pub async fn read_signed_body(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
    bytes_max: usize,
) -> Result<SignedBody, ApiError> {
    require_json(headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > bytes_max) {
        return Err(too_large(bytes_max, true));
    }
    let unauthenticated =
        |detail: String| ApiError::new(ServerCode::Unauthenticated, detail).with_field(READ_SIGNER_HEADER);
    let signer = headers.get(READ_SIGNER_HEADER).ok_or_else(|| {
        unauthenticated(format!("a signed request names its signer in the {READ_SIGNER_HEADER} header"))
    })?;
    let signer = signer
        .to_str()
        .ok()
        .and_then(|text| Signer::parse(text).ok())
        .ok_or_else(|| unauthenticated(format!("{READ_SIGNER_HEADER} must be 'operator' or an agent id")))?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_signature(value).ok())
        .ok_or_else(|| {
            ApiError::new(ServerCode::InvalidSignature, format!("{SIGNATURE_HEADER} must be 128 hex characters"))
                .with_field(SIGNATURE_HEADER)
        })?;
    let registered = {
        let state = app.state()?;
        match &signer {
            Signer::Operator => true,
            Signer::Agent(id) => state.agent(id).is_some_and(|agent| agent.deregistered_at_ms.is_none()),
        }
    };
    let limit = if registered { bytes_max } else { bytes_max.min(UNREGISTERED_BODY_BYTES_MAX) };
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit, registered));
    }
    // A client that trickles its body would otherwise hold a connection and a buffer forever.
    let (bytes, held) =
        tokio::time::timeout(app.request_timeout, read_within(&app.body_budget, body, declared, limit, registered))
            .await
            .map_err(|_| ApiError::new(ServerCode::BodyTimeout, "the request body did not arrive in time"))??;
    Ok(SignedBody { signer, signature, bytes, _held: held })
}

/// Reads `body` up to `limit` bytes, taking each chunk's bytes from the budget as it arrives. (A body
/// that fails to arrive for another reason, a client hanging up, gets an answer nobody then reads.)
async fn read_within(
    budget: &BodyBudget,
    body: Body,
    declared: Option<usize>,
    limit: usize,
    registered: bool,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), ApiError> {
    // Room for what is declared, up to the small allowance: a declared length is only a promise.
    let mut buffer = Vec::with_capacity(declared.unwrap_or(0).min(limit).min(UNREGISTERED_BODY_BYTES_MAX));
    let mut held: Option<OwnedSemaphorePermit> = None;
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::new(ServerCode::MalformedRequest, format!("the body could not be read: {error}"))
        })?;
        if buffer.len() + chunk.len() > limit {
            return Err(too_large(limit, registered));
        }
        let permits = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        let permit = Arc::clone(&budget.bytes).try_acquire_many_owned(permits).map_err(|_| {
            ApiError::new(
                ServerCode::Overloaded,
                format!(
                    "the server holds {} bytes of request bodies already; retry after {RETRY_AFTER_SECONDS} s",
                    budget.total
                ),
            )
        })?;
        match &mut held {
            Some(held) => held.merge(permit),
            None => held = Some(permit),
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok((Bytes::from(buffer), held))
}
