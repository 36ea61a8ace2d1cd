//! Read authentication: a signed read request, or an operator-issued bearer token.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use colony_core::{Rejection, Signer};
use colony_wire::Problem;
use colony_wire::problem::ServerCode;
use colony_wire::read_auth::{
    READ_SIGNATURE_HEADER, READ_SIGNATURE_SKEW_MS, READ_SIGNER_HEADER, READ_TIMESTAMP_HEADER, read_signing_message,
    token_sha256,
};

use super::{ApiError, AppState};

/// Who a read was authenticated as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reader {
    /// A signer (operator or agent) that signed the request.
    Signer(Signer),
    /// A bearer token.
    Token {
        /// Its label, for the records.
        label: String,
        /// Its SHA-256, to check later that it still holds.
        token_sha256: colony_core::Digest,
    },
}

/// How often a long-lived stream (SSE, WebSocket) checks that its credentials still hold.
pub const CREDENTIALS_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether `reader`'s credentials still hold: an agent not deregistered, a token not revoked and
/// not expired. Streams opened with them end when they stop holding, and when the state can no
/// longer be read (a writer failure), since nothing then says that they still hold.
pub fn credentials_hold(app: &AppState, reader: &Reader) -> bool {
    let Ok(state) = app.state() else { return false };
    match reader {
        Reader::Signer(Signer::Operator) => true,
        Reader::Signer(Signer::Agent(id)) => state.agent(id).is_some_and(|agent| agent.deregistered_at_ms.is_none()),
        Reader::Token { token_sha256, .. } => state
            .read_token(token_sha256)
            .is_some_and(|record| record.expires_at_ms.is_none_or(|expires| expires > app.clock.now_ms())),
    }
}

/// Resolves once `reader`'s credentials stop holding (checked every [`CREDENTIALS_RECHECK`]).
pub async fn credentials_lapse(app: AppState, reader: Reader) {
    loop {
        tokio::time::sleep(CREDENTIALS_RECHECK).await;
        if !credentials_hold(&app, &reader) {
            return;
        }
    }
}

/// Middleware: lets the request through only with valid read credentials.
pub async fn require_read_auth(
    State(app): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path_and_query = request.uri().path_and_query().map_or("/", |value| value.as_str()).to_owned();
    let reader = authenticate(&app, request.method().as_str(), &path_and_query, request.headers())?;
    request.extensions_mut().insert(reader);
    Ok(next.run(request).await)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The query parameter that may carry a read token (RFC 6750's name) where a client cannot set
/// headers: a browser's `EventSource` and `WebSocket`. Only stream endpoints accept it, since a URL
/// may end up in logs.
pub const TOKEN_QUERY_PARAMETER: &str = "access_token";

/// The stream endpoints: paths whose GET requests may carry the read token in the query, and whose
/// signed requests are single-use.
const STREAM_PATHS: &[&str] = &["/v1/events", "/v1/bus/subscribe", "/v1/bus/ws"];

/// What a signed stream request spends in its signer's window: its timestamp, with 16 bits of its
/// signature below it. Two processes of one signer opening different streams in the same
/// millisecond sign different bytes, so they do not collide (but for one chance in 65,536); the
/// same request sent twice is the same signature, and the second is refused. The timestamp stays in
/// the high bits, so the window's order is still the clock's.
fn stream_open_nonce(timestamp_ms: u64, signature: &[u8; 64]) -> u64 {
    (timestamp_ms << 16) | u64::from(u16::from_le_bytes([signature[0], signature[1]]))
}

/// A read without valid credentials: 401 `unauthenticated`, naming the schemes that would do.
fn unauthenticated(detail: String) -> ApiError {
    ApiError::new(ServerCode::Unauthenticated, detail)
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"colony\""))
}

/// A signed stream request that was already used: its timestamp is spent like an envelope's nonce,
/// so it is refused as a replayed nonce is (core's `nonce_replayed`, with its status), blaming the
/// timestamp.
fn replayed(timestamp_ms: u64) -> ApiError {
    let mut problem = Problem::from_rejection(&Rejection::NonceReplayed { nonce: timestamp_ms });
    problem.detail =
        format!("this signed stream request was already used; sign a new one (a fresh {READ_TIMESTAMP_HEADER})");
    ApiError::from(problem.with_field(READ_TIMESTAMP_HEADER))
}

/// A read token given as `access_token=…` in the query of a stream endpoint.
fn token_from_query(method: &str, path_and_query: &str) -> Option<String> {
    let (path, query) = path_and_query.split_once('?')?;
    if method != "GET" || !STREAM_PATHS.contains(&path) {
        return None;
    }
    query.split('&').find_map(|pair| pair.strip_prefix("access_token=")).map(str::to_owned)
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive (RFC 9110).
fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

fn authenticate(app: &AppState, method: &str, path_and_query: &str, headers: &HeaderMap) -> Result<Reader, ApiError> {
    let query_token = token_from_query(method, path_and_query);
    let authorization =
        header(headers, "authorization").map(str::to_owned).or(query_token.map(|token| format!("Bearer {token}")));
    if let Some(authorization) = authorization.as_deref() {
        let token = bearer_token(authorization)
            .ok_or_else(|| unauthenticated("the Authorization header must be 'Bearer <read token>'".to_owned()))?;
        let state = app.state()?;
        let digest = token_sha256(token.trim());
        let record = state.read_token(&digest).ok_or_else(|| unauthenticated("unknown read token".to_owned()))?;
        if record.expires_at_ms.is_some_and(|expires| expires <= app.clock.now_ms()) {
            return Err(unauthenticated("the read token has expired".to_owned()));
        }
        return Ok(Reader::Token { label: record.label.clone(), token_sha256: digest });
    }
    let Some(signer) = header(headers, READ_SIGNER_HEADER) else {
        return Err(unauthenticated(format!(
            "reads need credentials: 'Authorization: Bearer <read token>', or the headers {READ_SIGNER_HEADER}, \
             {READ_TIMESTAMP_HEADER} and {READ_SIGNATURE_HEADER}"
        )));
    };
    let signer = Signer::parse(signer).map_err(|error| unauthenticated(format!("{READ_SIGNER_HEADER}: {error}")))?;
    let timestamp_ms: u64 = header(headers, READ_TIMESTAMP_HEADER)
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| unauthenticated(format!("{READ_TIMESTAMP_HEADER} must be Unix milliseconds")))?;
    let signature = header(headers, READ_SIGNATURE_HEADER)
        .and_then(|value| colony_wire::envelope::parse_signature(value).ok())
        .ok_or_else(|| unauthenticated(format!("{READ_SIGNATURE_HEADER} must be 128 hex characters")))?;
    if timestamp_ms.abs_diff(app.clock.now_ms()) > READ_SIGNATURE_SKEW_MS {
        return Err(unauthenticated(format!(
            "{READ_TIMESTAMP_HEADER} is more than {} s from the server's clock",
            READ_SIGNATURE_SKEW_MS / 1000
        )));
    }
    // Single-use requests (stream opens) are remembered in memory only, from the server's start: one
    // stamped before it could have been used already. (Plain reads are not single-use, so a client
    // whose clock is behind the server's is not locked out of them after a restart.)
    let path = path_and_query.split_once('?').map_or(path_and_query, |(path, _)| path);
    let opens_stream = STREAM_PATHS.contains(&path);
    if opens_stream && timestamp_ms < app.started_at_ms {
        return Err(unauthenticated(format!(
            "{READ_TIMESTAMP_HEADER} is before the server started; sign the request again"
        )));
    }
    let key = {
        let state = app.state()?;
        if let Signer::Agent(id) = &signer
            && state.agent(id).is_some_and(|agent| agent.deregistered_at_ms.is_some())
        {
            return Err(unauthenticated(format!("agent '{id}' is deregistered")));
        }
        state.signer_key(&signer).ok_or_else(|| unauthenticated(format!("'{signer}' is not a registered signer")))?
    };
    let message = read_signing_message(&signer, method, path_and_query, timestamp_ms);
    if !app.keys.verify(&key, &message, &signature) {
        return Err(unauthenticated("the read signature does not verify".to_owned()));
    }
    // A stream goes on delivering for as long as it is open: a captured request that opens one must
    // not open a second, so its timestamp is spent like a nonce (after the signature verified, so
    // that nobody can spend another signer's timestamps).
    if opens_stream && !app.bus.spend_stream_open(&signer, stream_open_nonce(timestamp_ms, &signature)) {
        return Err(replayed(timestamp_ms));
    }
    Ok(Reader::Signer(signer))
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for header in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR abc"] {
            assert_eq!(bearer_token(header), Some("abc"), "{header}");
        }
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
