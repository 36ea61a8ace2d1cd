//! Bearer tokens: who may use the gateway. Every message it takes spends its agent's money, so once
//! a token is set every JSON-RPC request must carry `Authorization: Bearer <token>`; the agent card
//! stays public, because A2A clients read it to learn how to authenticate.
//!
//! The token comes from `--token-file` or `COLONY_A2A_TOKEN`, is refused when it could be guessed
//! or read by others, and is kept only as its SHA-256.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use colony_wire::{Problem, ServerCode};
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::rpc::RpcError;
use super::{Gateway, TOKEN_BYTES_MAX, TOKEN_BYTES_MIN};

/// The environment variable that may hold the token instead of a file.
pub const TOKEN_ENV: &str = "COLONY_A2A_TOKEN";

/// The name of the card's security scheme.
pub const SCHEME_NAME: &str = "bearer";

/// The token clients must present, as its SHA-256 (the token itself is not kept).
pub struct Token {
    sha256: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Token(…)")
    }
}

impl Token {
    /// A token from its text, if it is long enough and fits in a bearer header.
    pub fn new(text: &str) -> Result<Token, String> {
        if text.len() < TOKEN_BYTES_MIN {
            return Err(format!(
                "the token has {} bytes; it must have at least {TOKEN_BYTES_MIN} (e.g. `openssl rand -hex 32`)",
                text.len()
            ));
        }
        if text.len() > TOKEN_BYTES_MAX {
            return Err(format!("the token has {} bytes; it must have at most {TOKEN_BYTES_MAX}", text.len()));
        }
        if !is_b64token(text) {
            return Err("the token must be a bearer token (RFC 6750): letters, digits and -._~+/, \
                        then any number of =; hex or base64 will do"
                .to_owned());
        }
        Ok(Token { sha256: colony_wire::read_auth::token_sha256(text).0 })
    }

    /// Whether `presented` is this token. Both sides are hashed first, so the comparison takes the
    /// same time whatever the presented token's length; the digests are compared in constant time,
    /// so how long a request takes tells nothing of how much of a guess was right.
    pub fn matches(&self, presented: &str) -> bool {
        let presented = colony_wire::read_auth::token_sha256(presented).0;
        self.sha256.ct_eq(&presented).into()
    }
}

/// RFC 6750's `b64token`: what a bearer token may hold, so that any token accepted here can be sent.
fn is_b64token(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
}

/// The token from `--token-file` (`file`) or the environment (`env`), if either is given; both is
/// an error, since one would silently win.
pub fn token_from(file: Option<&Path>, env: Option<&str>) -> Result<Option<Token>, String> {
    match (file, env) {
        (Some(_), Some(_)) => Err(format!("give the token once: --token-file or {TOKEN_ENV}, not both")),
        (Some(path), None) => read_token_file(path).map(Some),
        (None, Some(text)) => Token::new(text).map(Some).map_err(|error| format!("{TOKEN_ENV}: {error}")),
        (None, None) => Ok(None),
    }
}

/// Bytes of a token file at most: a token and a line ending (`\r\n`). Anything longer is not a
/// token file but a wrong path (a key, a log), not something to read whole.
const TOKEN_FILE_BYTES_MAX: usize = TOKEN_BYTES_MAX + 2;

/// Reads the token file: one token, surrounding whitespace (a final newline) ignored. The file is
/// opened once and every check is of what was opened, so nobody can swap the path's target between
/// the checks and the read.
fn read_token_file(path: &Path) -> Result<Token, String> {
    let shown = path.display();
    let cannot = |error: std::io::Error| format!("cannot read the token file {shown}: {error}");
    let file = open_without_waiting(path).map_err(cannot)?;
    let metadata = file.metadata().map_err(cannot)?;
    if !metadata.is_file() {
        return Err(format!(
            "the token file {shown} is not a regular file (a directory, a FIFO or a device): give the file \
             that holds the token"
        ));
    }
    check_private(path, &metadata)?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(TOKEN_FILE_BYTES_MAX).expect("a small limit");
    file.take(limit + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() > TOKEN_FILE_BYTES_MAX {
        return Err(format!(
            "{shown} has more than {TOKEN_FILE_BYTES_MAX} bytes: it is not a token file (a token has at most \
             {TOKEN_BYTES_MAX})"
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| format!("{shown}: the token file is not UTF-8 text"))?;
    Token::new(text.trim()).map_err(|error| format!("{shown}: {error}"))
}

/// Opens `path` to read. Without `O_NONBLOCK` opening a FIFO waits for a writer, and the gateway
/// would hang at start instead of refusing it; for a regular file the flag changes nothing.
#[cfg(unix)]
fn open_without_waiting(path: &Path) -> std::io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    Ok(std::fs::File::from(rustix::fs::open(path, flags, Mode::empty())?))
}

#[cfg(not(unix))]
fn open_without_waiting(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// Refuses a token file that anyone but this process's user could read or change: whoever reads
/// the token spends the agent's money, and whoever writes it chooses who may. So the file must be
/// the effective user's own (its owner may always change its mode) and carry no permission bit
/// beyond 0600 (execute included: a token is not a program, and such a mode is a mistake).
#[cfg(unix)]
fn check_private(path: &Path, metadata: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let shown = path.display();
    let (owner, user) = (metadata.uid(), rustix::process::geteuid().as_raw());
    if owner != user {
        return Err(format!(
            "the token file {shown} is owned by user {owner}, not by this process's user {user}: its owner \
             may change it; keep the token in a file of your own (chmod 600)"
        ));
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o177 != 0 {
        return Err(format!(
            "the token file {shown} has mode {mode:03o}: only its owner may read and write it, nothing more \
             (chmod 600 {shown})"
        ));
    }
    Ok(())
}

/// Elsewhere the file's access is the operating system's business.
#[cfg(not(unix))]
fn check_private(_path: &Path, _metadata: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive (RFC 9110).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// Middleware of the JSON-RPC route: with a token set, a request without it is answered 401 before
/// its body is read.
pub async fn require_token(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    let Some(token) = &gateway.token else {
        return next.run(request).await;
    };
    match bearer_token(request.headers()) {
        Some(presented) if token.matches(presented) => next.run(request).await,
        Some(_) => unauthenticated("the bearer token is not this gateway's", Some("invalid_token")),
        None => unauthenticated("this gateway needs 'Authorization: Bearer <token>'", None),
    }
}

/// 401 with `WWW-Authenticate: Bearer` (naming RFC 6750's error when a token was given but wrong)
/// and a JSON-RPC error, so that a client reading either learns what is missing. The id is null:
/// the body of a request that proved nothing is not read.
fn unauthenticated(detail: &str, error: Option<&str>) -> Response {
    let challenge = match error {
        Some(error) => format!("Bearer realm=\"colony-a2a\", error=\"{error}\""),
        None => "Bearer realm=\"colony-a2a\"".to_owned(),
    };
    let mut rpc_error = RpcError::new(RpcError::INVALID_REQUEST, detail);
    rpc_error.colony = Some(Box::new(Problem::new(ServerCode::Unauthenticated, detail)));
    let mut response = (StatusCode::UNAUTHORIZED, Json(rpc_error.response(&Value::Null))).into_response();
    let challenge = HeaderValue::from_str(&challenge).expect("a challenge of fixed ASCII text");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    response
}
