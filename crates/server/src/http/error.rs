//! [`ApiError`]: the one error type of every handler, extractor and middleware of the API.
//!
//! It is an RFC 9457 problem document (`application/problem+json`, with Colony's stable `code` and
//! the offending `field`) plus the headers the problem calls for, so a handler only decides which
//! problem it has and `?` does the rest.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use colony_core::Rejection;
use colony_wire::Problem;
use colony_wire::problem::{PROBLEM_CONTENT_TYPE, ServerCode};

use super::body::RETRY_AFTER_SECONDS;

/// A problem on its way to the client.
///
/// Boxed: handlers return `Result<_, ApiError>` on every path, and the problem's strings would
/// otherwise make every success value as large as an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError(Box<ErrorParts>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct ErrorParts {
    problem: Problem,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// A problem the server answers with of itself: `code`, with its status, and `detail`.
    pub fn new(code: ServerCode, detail: impl Into<String>) -> ApiError {
        ApiError::from(Problem::new(code, detail))
    }

    /// The problem for a state-machine rejection.
    pub fn from_rejection(rejection: &Rejection) -> ApiError {
        ApiError::from(Problem::from_rejection(rejection))
    }

    /// A query parameter (or path segment) that is not valid: `invalid_query`, blaming `field`.
    pub fn invalid_query(field: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(ServerCode::InvalidQuery, detail).with_field(field)
    }

    /// The shared state cannot be read: a writer panicked while changing it (a broken invariant),
    /// so what it holds may be half-applied and must not be served.
    pub fn state_unavailable() -> ApiError {
        ApiError::new(
            ServerCode::Unavailable,
            "the state is unavailable after a writer failure; see the server log (a restart recovers it from the log)",
        )
    }

    /// The same problem, blaming `field`.
    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.0.problem.field = Some(field.into());
        self
    }

    /// The same problem, answered with one more header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> ApiError {
        self.0.headers.push((name, value));
        self
    }

    /// The problem document.
    pub fn problem(&self) -> &Problem {
        &self.0.problem
    }

    /// The problem document alone, for answers that are not HTTP responses (WebSocket frames).
    pub fn into_problem(self) -> Problem {
        self.0.problem
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> ApiError {
        ApiError(Box::new(ErrorParts { problem, headers: Vec::new() }))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.problem.fmt(formatter)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ErrorParts { problem, headers } = *self.0;
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // An overloaded server is busy, not broken: it says when a retry has a chance.
        let overloaded = problem.has_code(ServerCode::Overloaded);
        let body = serde_json::to_vec(&problem).expect("problems encode");
        let mut response = (status, body).into_response();
        let response_headers = response.headers_mut();
        response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        if overloaded {
            response_headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        for (name, value) in headers {
            response_headers.insert(name, value);
        }
        response
    }
}
