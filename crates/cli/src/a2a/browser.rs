//! Web pages in a browser on the gateway's machine: they must not reach it. A page may post to any
//! address, loopback included, and on loopback the gateway may need no token; so a page could
//! announce tasks paid from the agent's wallet. Three checks keep pages out, none of which an A2A
//! client (which is no browser) notices:
//!
//! - `Host`: only loopback names and addresses (any port) and the host of `--public-url`. A page
//!   that gets its own name resolved to 127.0.0.1 (DNS rebinding) still sends its own name.
//! - `Origin`: browsers send it on cross-origin posts; a request bearing one is refused (no CORS).
//! - `Content-Type: application/json`: a page may post without asking first only as `text/plain`
//!   or a form, which a JSON-RPC request must not be.
//!
//! Each refusal is a JSON-RPC error with Colony's code, like the token's 401 (`auth.rs`), before the
//! body is read.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use colony_wire::{Problem, ServerCode};
use serde_json::Value;

use super::Gateway;
use super::rpc::RpcError;

/// The code of a request from a page of another origin.
pub const FORBIDDEN_ORIGIN: &str = "forbidden_origin";

/// The code of a request naming a host the gateway does not answer for.
pub const FORBIDDEN_HOST: &str = "forbidden_host";

/// The host of `--public-url` (lowercase, an IPv6 address in brackets), which clients name besides
/// loopback; refused at start when the URL has none.
pub fn public_host(public_url: &str) -> Result<String, String> {
    let uri: axum::http::Uri =
        public_url.parse().map_err(|error| format!("--public-url {public_url} is not a URL: {error}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(host.to_ascii_lowercase()),
        _ => Err(format!("--public-url {public_url} must be an http:// or https:// URL with a host")),
    }
}

/// Middleware of every route: the request must name a host the gateway answers for.
pub async fn require_known_host(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    // An absolute request target names the host too, and wins over the header (RFC 9112): both must pass.
    let from_target = request.uri().authority().map(|authority| authority.as_str().to_owned());
    let headers = request.headers().get_all(header::HOST).iter().collect::<Vec<_>>();
    let from_header = match headers.as_slice() {
        [] => None,
        [value] => Some(value.to_str().unwrap_or_default().to_owned()),
        _ => return refused(StatusCode::FORBIDDEN, FORBIDDEN_HOST, "a request names one Host"),
    };
    let named: Vec<String> = from_target.into_iter().chain(from_header).collect();
    let known = |authority: &String| host_of(authority).is_some_and(|host| is_known(&host, gateway.public_host()));
    if named.is_empty() || !named.iter().all(known) {
        let mut known = "localhost, 127.0.0.1 (any of 127.0.0.0/8) or [::1]".to_owned();
        if let Some(host) = gateway.public_host() {
            known.push_str(&format!(", or {host}"));
        }
        let detail = format!(
            "this gateway answers requests for {known} (any port), not {}: a page that had its own name \
             resolved to this machine is refused; name the host clients use with --public-url",
            named.first().map_or("a request without a Host", String::as_str)
        );
        return refused(StatusCode::FORBIDDEN, FORBIDDEN_HOST, &detail);
    }
    next.run(request).await
}

/// Middleware of the JSON-RPC route: no `Origin`, and a JSON body.
pub async fn refuse_pages(request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let detail = format!(
            "a request from a web page ({}) is refused: the gateway spends its agent's money and offers no CORS",
            origin.to_str().unwrap_or("an origin")
        );
        return refused(StatusCode::FORBIDDEN, FORBIDDEN_ORIGIN, &detail);
    }
    if !is_json(request.headers()) {
        let code = ServerCode::UnsupportedMediaType.code();
        let detail = "a JSON-RPC request is sent with Content-Type: application/json";
        return refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, code, detail);
    }
    next.run(request).await
}

/// Whether the body is declared `application/json` (parameters such as `charset` allowed).
fn is_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let essence = value.to_str().unwrap_or_default().split(';').next().unwrap_or_default();
    essence.trim().eq_ignore_ascii_case("application/json")
}

/// The host of an authority (`host[:port]`), lowercase, an IPv6 address in brackets; none when it
/// is not one (user information, a port that is not a number, nothing before the port).
fn host_of(authority: &str) -> Option<String> {
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        (&authority[..=end], authority[end + 1..].strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port_ok = port.is_none_or(|port| port.bytes().all(|byte| byte.is_ascii_digit()));
    let rest_ok = authority.starts_with('[') || !host.contains(':');
    let bracket_ok = !authority.starts_with('[') || authority.len() == host.len() || port.is_some();
    (!host.is_empty() && port_ok && rest_ok && bracket_ok).then(|| host.to_ascii_lowercase())
}

/// Whether `host` (as [`host_of`] gives it) is loopback or the public URL's host.
fn is_known(host: &str, public_host: Option<&str>) -> bool {
    let loopback = host == "localhost"
        || host.parse::<Ipv4Addr>().is_ok_and(|address| address.is_loopback())
        || host
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
            .is_some_and(|address| address.is_loopback());
    loopback || public_host == Some(host)
}

/// `status` with a JSON-RPC error naming `code`; the id is null, since the body is not read.
fn refused(status: StatusCode, code: &str, detail: &str) -> Response {
    let problem = Problem {
        problem_type: format!("urn:colony:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Refused").to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
        code: code.to_owned(),
        field: None,
    };
    let mut error = RpcError::new(RpcError::INVALID_REQUEST, detail);
    error.colony = Some(Box::new(problem));
    (status, Json(error.response(&Value::Null))).into_response()
}

#[cfg(test)]
mod tests {
    use super::{host_of, is_known};

    #[test]
    fn loopback_names_with_any_port_and_the_public_host_are_known() {
        for authority in ["localhost", "LocalHost:7420", "127.0.0.1", "127.3.4.5:80", "[::1]", "[::1]:7420"] {
            let host = host_of(authority).unwrap_or_else(|| panic!("{authority} has a host"));
            assert!(is_known(&host, None), "{authority}");
        }
        for authority in ["evil.example", "evil.example:7420", "localhost.evil.example", "10.0.0.1:7420", "[::2]"] {
            let host = host_of(authority).unwrap_or_else(|| panic!("{authority} has a host"));
            assert!(!is_known(&host, None), "{authority}");
        }
        for malformed in ["user@localhost", "localhost:x", "[::1", "[::1]x", ":7420", "::1"] {
            assert!(host_of(malformed).is_none_or(|host| !is_known(&host, None)), "{malformed}");
        }
        assert!(is_known(&host_of("A2A.example.org:443").expect("a host"), Some("a2a.example.org")));
        assert_eq!(super::public_host("https://A2A.example.org/").as_deref(), Ok("a2a.example.org"));
        assert!(super::public_host("a2a.example.org").is_err(), "a URL names its scheme");
    }
}
