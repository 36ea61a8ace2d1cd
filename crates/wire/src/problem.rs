//! RFC 9457 problem details, with Colony's stable machine codes.
//!
//! Every error response is `application/problem+json`: `type` is `urn:colony:problem:<code>`, `code`
//! repeats the code for clients that prefer a plain field, and `field` names the offending input when
//! one is to blame. Codes are part of the API: they are never renamed.
//!
//! A code is of one of two kinds: a state machine's refusal ([`Problem::from_rejection`], its status
//! from the rejection's class) or a [`ServerCode`], the server's own ([`Problem::new`]). Either way
//! the status follows from the code, never from the caller.

use colony_core::{Rejection, RejectionClass};
use serde::{Deserialize, Serialize};

/// The content type of problem responses.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// A problem details document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Problem {
    /// `urn:colony:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short, fixed summary of the code.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this case.
    pub detail: String,
    /// The stable machine code. Codes are never renamed; a later version may add codes, so a client
    /// should take one it does not know by its HTTP status.
    #[schemars(schema_with = "code_schema")]
    pub code: String,
    /// The offending input field, when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    /// A problem the server answers with of itself: `code`'s status and title, and `detail`.
    pub fn new(code: ServerCode, detail: impl Into<String>) -> Problem {
        Problem::with_code(code.code(), code.title(), code.status(), detail.into())
    }

    fn with_code(code: &str, title: &str, status: u16, detail: String) -> Problem {
        Problem {
            problem_type: format!("urn:colony:problem:{code}"),
            title: title.to_owned(),
            status,
            detail,
            code: code.to_owned(),
            field: None,
        }
    }

    /// Whether this is a problem with `code`.
    pub fn has_code(&self, code: ServerCode) -> bool {
        self.code == code.code()
    }

    /// The same problem, blaming `field`.
    pub fn with_field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }

    /// The problem for a state-machine rejection.
    pub fn from_rejection(rejection: &Rejection) -> Problem {
        let problem = Problem::with_code(
            rejection.code(),
            rejection.title(),
            status_for_rejection(rejection),
            rejection.to_string(),
        );
        match rejection.field() {
            Some(field) => problem.with_field(field),
            None => problem,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} ({}): {}", self.code, self.status, self.detail)?;
        if let Some(field) = &self.field {
            write!(formatter, " [field: {field}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

/// The HTTP status for a rejection: one per class, so that every code has one status (a failed linked
/// batch is of the class of the transfer that failed it, and has its status).
pub fn status_for_rejection(rejection: &Rejection) -> u16 {
    status_for_class(rejection.class())
}

/// The HTTP status of a class of rejections.
pub fn status_for_class(class: RejectionClass) -> u16 {
    match class {
        RejectionClass::Invalid => 422,
        RejectionClass::Unauthenticated => 401,
        RejectionClass::Forbidden => 403,
        RejectionClass::NotFound => 404,
        // A limit is a conflict with the state: the same command succeeds once something is freed.
        RejectionClass::Conflict | RejectionClass::Limit => 409,
        RejectionClass::RetryLater => 429,
    }
}

/// The codes the server answers with of itself, apart from the state machine's rejections
/// ([`Rejection::code`]): a request it cannot read, credentials that do not hold, a server that
/// cannot take the request now, and the ephemeral bus, which never reaches the state machine.
///
/// Each code has one HTTP status ([`ServerCode::status`]), so a client may branch on either. The
/// codes of the two kinds never coincide (a test holds them apart), and they are part of the API:
/// a code is never renamed, and later versions may add codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, schemars::JsonSchema)]
#[schemars(rename_all = "snake_case")]
pub enum ServerCode {
    /// 400: the body is not valid JSON or not a valid envelope or message, a header the request
    /// needs is malformed (`colony-wait-ms`), a WebSocket frame cannot be read, or a request to the
    /// WebSocket endpoint is not a handshake the server can upgrade. Every failed handshake is
    /// answered alike, a plain request as much as one the connection cannot upgrade: the client
    /// has the same thing to fix, its request.
    MalformedRequest,
    /// 401: a write's or a publish's signature is missing, malformed or does not verify.
    InvalidSignature,
    /// 401: a read carries no valid credentials (no signature, an unknown signer, a stale
    /// timestamp, an unknown, revoked or expired read token), or a connection's credentials
    /// stopped holding.
    Unauthenticated,
    /// 413: the body, or a field of a bus message, is over its size limit.
    PayloadTooLarge,
    /// 415: a POST body is not sent as `application/json`.
    UnsupportedMediaType,
    /// 400: the envelope's `signer` is not the signer named in the `colony-signer` header.
    SignerMismatch,
    /// 400: an envelope's nonce is not the current time in Unix microseconds within the allowed
    /// skew of the server's clock.
    NonceOutOfWindow,
    /// 400: `POST /v1/commands` got an envelope of several commands (`/v1/batch` takes them).
    SingleCommandExpected,
    /// 400: a query parameter or a path segment is not valid.
    InvalidQuery,
    /// 404: no such endpoint, or no such subscription on a WebSocket connection.
    NotFound,
    /// 405: the endpoint exists but does not take this method (the `Allow` header lists those it
    /// takes).
    MethodNotAllowed,
    /// 410: events before the sequence asked for are no longer retained; read the current state and
    /// stream from the oldest retained event.
    EventsExpired,
    /// 408: the request's body did not arrive within the request timeout. Nothing of it was read,
    /// so nothing was applied, and the same request may be sent again. Apart from [`Timeout`]
    /// (whose write may have been applied) because a client must retry the two differently.
    ///
    /// [`Timeout`]: ServerCode::Timeout
    BodyTimeout,
    /// 503: the write reached the server but was not confirmed in time; it may still be applied
    /// (check the agent or the event stream before sending a new envelope). A 503 rather than 408:
    /// the client sent everything in time and the server is the one that is slow.
    Timeout,
    /// 503: the server holds as much as it takes now (its write queue is full, the budget of request
    /// bodies is spent, too many fetches wait); answered with `Retry-After`.
    Overloaded,
    /// 503: the server is shutting down, its log failed, or its state cannot be read after a
    /// writer failure.
    Unavailable,
    /// 400: a field of a bus message is invalid (its type, correlation id, headers, payload).
    InvalidMessage,
    /// 400: a subject or subject pattern is not valid NATS syntax.
    InvalidSubject,
    /// 403: the caller may not do this on the bus or with these credentials: read another
    /// agent's inbox, join a queue group or publish with a read token, or check the whole ledger
    /// without being the operator.
    Forbidden,
    /// 503: a request found nobody subscribed to its subject, so nothing can answer it.
    NoResponders,
    /// 504: a request's reply did not come within its timeout.
    RequestTimeout,
    /// 429: a limit of the ephemeral bus is reached (subscriptions per connection, per owner or in
    /// all, replies awaited at once on a connection).
    BusLimitReached,
    /// 409: the entry asked for is durable but no signed checkpoint covers it yet; one follows
    /// within about a second while entries are written (answered with `Retry-After`).
    CheckpointPending,
    /// 429: the reader already has as many requests waiting (fetches with `colony-wait-ms`,
    /// key-value watches with `wait_ms`) as one reader may; let one of them answer first, or ask
    /// without waiting. Apart from [`Overloaded`], which is the server's to clear, because this
    /// one is the caller's.
    ///
    /// [`Overloaded`]: ServerCode::Overloaded
    TooManyWaiting,
}

impl ServerCode {
    /// Every code, in the order declared.
    pub const ALL: [ServerCode; 24] = [
        ServerCode::MalformedRequest,
        ServerCode::InvalidSignature,
        ServerCode::Unauthenticated,
        ServerCode::PayloadTooLarge,
        ServerCode::UnsupportedMediaType,
        ServerCode::SignerMismatch,
        ServerCode::NonceOutOfWindow,
        ServerCode::SingleCommandExpected,
        ServerCode::InvalidQuery,
        ServerCode::NotFound,
        ServerCode::MethodNotAllowed,
        ServerCode::EventsExpired,
        ServerCode::BodyTimeout,
        ServerCode::Timeout,
        ServerCode::Overloaded,
        ServerCode::Unavailable,
        ServerCode::InvalidMessage,
        ServerCode::InvalidSubject,
        ServerCode::Forbidden,
        ServerCode::NoResponders,
        ServerCode::RequestTimeout,
        ServerCode::BusLimitReached,
        ServerCode::CheckpointPending,
        ServerCode::TooManyWaiting,
    ];

    /// The stable machine code, in `snake_case`.
    pub fn code(self) -> &'static str {
        match self {
            ServerCode::MalformedRequest => "malformed_request",
            ServerCode::InvalidSignature => "invalid_signature",
            ServerCode::Unauthenticated => "unauthenticated",
            ServerCode::PayloadTooLarge => "payload_too_large",
            ServerCode::UnsupportedMediaType => "unsupported_media_type",
            ServerCode::SignerMismatch => "signer_mismatch",
            ServerCode::NonceOutOfWindow => "nonce_out_of_window",
            ServerCode::SingleCommandExpected => "single_command_expected",
            ServerCode::InvalidQuery => "invalid_query",
            ServerCode::NotFound => "not_found",
            ServerCode::MethodNotAllowed => "method_not_allowed",
            ServerCode::EventsExpired => "events_expired",
            ServerCode::BodyTimeout => "body_timeout",
            ServerCode::Timeout => "timeout",
            ServerCode::Overloaded => "overloaded",
            ServerCode::Unavailable => "unavailable",
            ServerCode::InvalidMessage => "invalid_message",
            ServerCode::InvalidSubject => "invalid_subject",
            ServerCode::Forbidden => "forbidden",
            ServerCode::NoResponders => "no_responders",
            ServerCode::RequestTimeout => "request_timeout",
            ServerCode::BusLimitReached => "bus_limit_reached",
            ServerCode::CheckpointPending => "checkpoint_pending",
            ServerCode::TooManyWaiting => "too_many_waiting",
        }
    }

    /// A short, fixed summary of the code.
    pub fn title(self) -> &'static str {
        match self {
            ServerCode::MalformedRequest => "Malformed request",
            ServerCode::InvalidSignature => "Invalid signature",
            ServerCode::Unauthenticated => "Unauthenticated",
            ServerCode::PayloadTooLarge => "Payload too large",
            ServerCode::UnsupportedMediaType => "Unsupported media type",
            ServerCode::SignerMismatch => "Signer mismatch",
            ServerCode::NonceOutOfWindow => "Nonce out of window",
            ServerCode::SingleCommandExpected => "Single command expected",
            ServerCode::InvalidQuery => "Invalid query",
            ServerCode::NotFound => "Not found",
            ServerCode::MethodNotAllowed => "Method not allowed",
            ServerCode::EventsExpired => "Events expired",
            ServerCode::BodyTimeout => "Body not received in time",
            ServerCode::Timeout => "Timeout",
            ServerCode::Overloaded => "Overloaded",
            ServerCode::Unavailable => "Unavailable",
            ServerCode::InvalidMessage => "Invalid message",
            ServerCode::InvalidSubject => "Invalid subject",
            ServerCode::Forbidden => "Forbidden",
            ServerCode::NoResponders => "No responders",
            ServerCode::RequestTimeout => "Request timed out",
            ServerCode::BusLimitReached => "Bus limit reached",
            ServerCode::CheckpointPending => "Checkpoint pending",
            ServerCode::TooManyWaiting => "Too many requests waiting",
        }
    }

    /// The HTTP status the code is answered with, always the same.
    pub fn status(self) -> u16 {
        match self {
            ServerCode::MalformedRequest
            | ServerCode::SignerMismatch
            | ServerCode::NonceOutOfWindow
            | ServerCode::SingleCommandExpected
            | ServerCode::InvalidQuery
            | ServerCode::InvalidMessage
            | ServerCode::InvalidSubject => 400,
            ServerCode::InvalidSignature | ServerCode::Unauthenticated => 401,
            ServerCode::Forbidden => 403,
            ServerCode::NotFound => 404,
            ServerCode::MethodNotAllowed => 405,
            ServerCode::CheckpointPending => 409,
            ServerCode::BodyTimeout => 408,
            ServerCode::EventsExpired => 410,
            ServerCode::PayloadTooLarge => 413,
            ServerCode::UnsupportedMediaType => 415,
            ServerCode::BusLimitReached | ServerCode::TooManyWaiting => 429,
            ServerCode::Timeout | ServerCode::Overloaded | ServerCode::Unavailable | ServerCode::NoResponders => 503,
            ServerCode::RequestTimeout => 504,
        }
    }

    /// The code named `code`, if the server answers with it of itself.
    pub fn from_code(code: &str) -> Option<ServerCode> {
        ServerCode::ALL.into_iter().find(|server_code| server_code.code() == code)
    }
}

/// The schema of [`Problem::code`]: a string, listing every code this version answers with.
fn code_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let server_codes = ServerCode::ALL.map(ServerCode::code);
    let samples = colony_core::rejection_samples::rejection_samples();
    let codes: Vec<&str> = server_codes.into_iter().chain(samples.iter().map(Rejection::code)).collect();
    schemars::json_schema!({ "type": "string", "enum": codes })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use colony_core::BusRejection;
    use colony_core::bus::Subject;
    use colony_core::{Name, Rejection};

    use super::*;

    /// The values of a derived schema of a unit enum: `enum`, or each `oneOf` variant's `const` when
    /// the variants have doc comments.
    fn enumerated(schema: &serde_json::Value) -> Vec<String> {
        let from_enum = schema["enum"].as_array().into_iter().flatten();
        let from_one_of = schema["oneOf"].as_array().into_iter().flatten().map(|variant| &variant["const"]);
        from_enum.chain(from_one_of).map(|value| value.as_str().expect("a code").to_owned()).collect()
    }

    #[test]
    fn all_lists_every_server_code_once_under_its_variant_name() {
        // The derived schema enumerates every variant (in snake case), whether `ALL` does or not.
        let declared = enumerated(&schemars::schema_for!(ServerCode).to_value());
        let listed: Vec<String> = ServerCode::ALL.iter().map(|code| code.code().to_owned()).collect();
        assert_eq!(listed, declared);
        for code in ServerCode::ALL {
            assert_eq!(ServerCode::from_code(code.code()), Some(code));
        }
        assert_eq!(ServerCode::from_code("agent_exists"), None);
    }

    #[test]
    fn server_codes_and_rejection_codes_never_coincide() {
        let samples = colony_core::rejection_samples::rejection_samples();
        let clashes: Vec<&str> =
            samples.iter().map(Rejection::code).filter(|code| ServerCode::from_code(code).is_some()).collect();
        assert!(clashes.is_empty(), "codes of both kinds: {clashes:?}");
    }

    #[test]
    fn a_server_problem_takes_its_status_and_title_from_its_code() {
        let problem = Problem::new(ServerCode::BodyTimeout, "the body did not arrive").with_field("body");
        assert_eq!(
            (problem.problem_type.as_str(), problem.title.as_str(), problem.status, problem.code.as_str()),
            ("urn:colony:problem:body_timeout", "Body not received in time", 408, "body_timeout")
        );
        assert!(problem.has_code(ServerCode::BodyTimeout) && !problem.has_code(ServerCode::Timeout));
        let statuses: BTreeSet<u16> = ServerCode::ALL.iter().map(|code| code.status()).collect();
        assert!(statuses.iter().all(|status| (400..600).contains(status)), "{statuses:?}");
    }

    #[test]
    fn the_code_schema_lists_every_code_of_both_kinds() {
        let schema = schemars::schema_for!(Problem).to_value();
        let listed: BTreeSet<String> = enumerated(&schema["properties"]["code"]).into_iter().collect();
        let samples = colony_core::rejection_samples::rejection_samples();
        let every: BTreeSet<String> = ServerCode::ALL
            .iter()
            .map(|code| code.code().to_owned())
            .chain(samples.iter().map(|rejection| rejection.code().to_owned()))
            .collect();
        assert_eq!(listed, every);
        assert_eq!(schema["properties"]["code"]["type"], "string");
    }

    #[test]
    fn stream_rejections_map_to_their_statuses_with_a_title_and_the_field() {
        let stream = Name::new("orders").unwrap();
        let full = Problem::from_rejection(&Rejection::Bus(BusRejection::StreamFull {
            stream: stream.clone(),
            limit: "max_messages",
            max: 2,
        }));
        assert_eq!((full.status, full.code.as_str(), full.title.as_str()), (429, "stream_full", "Stream full"));
        assert!(full.detail.contains("max_messages"), "{}", full.detail);
        let missing =
            Problem::from_rejection(&Rejection::Bus(BusRejection::NoStream { subject: Subject::new("a.b").unwrap() }));
        assert_eq!((missing.status, missing.field.as_deref()), (404, Some("subject")));
        let conflict = Problem::from_rejection(&Rejection::Bus(BusRejection::StreamConflict { stream }));
        assert_eq!((conflict.status, conflict.title.as_str()), (409, "Stream conflict"));
        let pending = Problem::from_rejection(&Rejection::Bus(BusRejection::DeliveryNotPending {
            sequence: 3,
            action: "be acked",
        }));
        assert_eq!((pending.status, pending.field.as_deref()), (409, Some("sequences")));
    }
}
