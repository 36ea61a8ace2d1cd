//! RFC 9457 problem details, with Colony's stable machine codes.
//!
//! Every error response is `application/problem+json`: `type` is `urn:colony:problem:<code>`, `code`
//! repeats the code for clients that prefer a plain field, and `field` names the offending input when
//! one is to blame. Codes are part of the API: they are never renamed.

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
    /// The stable machine code.
    pub code: String,
    /// The offending input field, when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    /// A problem with the given code, status and detail.
    pub fn new(code: &str, status: u16, detail: impl Into<String>) -> Problem {
        Problem {
            problem_type: format!("urn:colony:problem:{code}"),
            title: title_for(code).to_owned(),
            status,
            detail: detail.into(),
            code: code.to_owned(),
            field: None,
        }
    }

    /// The same problem, blaming `field`.
    pub fn with_field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }

    /// The problem for a state-machine rejection.
    pub fn from_rejection(rejection: &Rejection) -> Problem {
        let mut problem = Problem::new(rejection.code(), status_for_rejection(rejection), rejection.to_string());
        problem.title = rejection.title().to_owned();
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

/// The HTTP status for a rejection: one per class, so that every code has exactly one status.
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

/// Codes the server produces before a request reaches the state machine.
pub mod codes {
    /// The body is not valid JSON or not a valid envelope.
    pub const MALFORMED_REQUEST: &str = "malformed_request";
    /// The signature is missing, malformed or does not verify.
    pub const INVALID_SIGNATURE: &str = "invalid_signature";
    /// A read carries no valid credentials.
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    /// The body exceeds the size limit.
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// The server's write queue is full; retry later.
    pub const OVERLOADED: &str = "overloaded";
    /// The request did not complete in time. A write may still have been applied.
    pub const TIMEOUT: &str = "timeout";
    /// No such resource.
    pub const NOT_FOUND: &str = "not_found";
    /// Events before the requested sequence are no longer retained.
    pub const EVENTS_EXPIRED: &str = "events_expired";
    /// The server is shutting down or its log failed.
    pub const UNAVAILABLE: &str = "unavailable";
    /// A query parameter is invalid.
    pub const INVALID_QUERY: &str = "invalid_query";
    /// The single-command endpoint got several commands.
    pub const SINGLE_COMMAND_EXPECTED: &str = "single_command_expected";
    /// The endpoint exists but not with this HTTP method.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// A bus message has an invalid field.
    pub const INVALID_MESSAGE: &str = "invalid_message";
    /// A subject or subject pattern is not valid NATS syntax.
    pub const INVALID_SUBJECT: &str = "invalid_subject";
    /// The caller may not do this on the bus (publish while halted, read another agent's inbox).
    pub const FORBIDDEN: &str = "forbidden";
    /// A request found nobody subscribed to its subject.
    pub const NO_RESPONDERS: &str = "no_responders";
    /// A request's reply did not come in time.
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    /// A limit of the bus was reached (subscriptions per connection, say).
    pub const BUS_LIMIT_REACHED: &str = "bus_limit_reached";
    /// A POST body is not `application/json`.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    /// The envelope's `signer` is not the signer named in the `colony-signer` header.
    pub const SIGNER_MISMATCH: &str = "signer_mismatch";
    /// An envelope's nonce is not Unix microseconds within the allowed skew of the server's clock.
    pub const NONCE_OUT_OF_WINDOW: &str = "nonce_out_of_window";
}

fn title_for(code: &str) -> &'static str {
    match code {
        codes::MALFORMED_REQUEST => "Malformed request",
        codes::INVALID_SIGNATURE => "Invalid signature",
        codes::UNAUTHENTICATED => "Unauthenticated",
        codes::PAYLOAD_TOO_LARGE => "Payload too large",
        codes::OVERLOADED => "Overloaded",
        codes::TIMEOUT => "Timeout",
        codes::NOT_FOUND => "Not found",
        codes::EVENTS_EXPIRED => "Events expired",
        codes::UNAVAILABLE => "Unavailable",
        codes::INVALID_QUERY => "Invalid query",
        codes::SINGLE_COMMAND_EXPECTED => "Single command expected",
        codes::METHOD_NOT_ALLOWED => "Method not allowed",
        codes::INVALID_MESSAGE => "Invalid message",
        codes::INVALID_SUBJECT => "Invalid subject",
        codes::FORBIDDEN => "Forbidden",
        codes::NO_RESPONDERS => "No responders",
        codes::REQUEST_TIMEOUT => "Request timed out",
        codes::BUS_LIMIT_REACHED => "Bus limit reached",
        codes::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type",
        codes::SIGNER_MISMATCH => "Signer mismatch",
        codes::NONCE_OUT_OF_WINDOW => "Nonce out of window",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use colony_core::BusRejection;
    use colony_core::bus::Subject;
    use colony_core::{Name, Rejection};

    use super::*;

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
