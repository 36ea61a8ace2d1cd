//! Why the durable bus refuses a command.

use std::fmt;

use super::{Pattern, Subject};
use crate::ids::Name;
use crate::outcome::RejectionClass;

/// A refusal particular to durable streams, consumers and dead letters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusRejection {
    /// No stream has this name.
    StreamNotFound {
        /// The name asked for.
        stream: Name,
    },
    /// A stream with this name exists with another configuration.
    StreamConflict {
        /// The stream.
        stream: Name,
    },
    /// A subject pattern overlaps one of another stream's: some subject would belong to both.
    SubjectsOverlap {
        /// The pattern asked for.
        pattern: Pattern,
        /// The stream it overlaps.
        stream: Name,
    },
    /// No stream captures the subject published to.
    NoStream {
        /// The subject.
        subject: Subject,
    },
    /// The stream is full and discards new messages (backpressure: retry after consumers catch up), or
    /// the message alone is larger than the stream may hold.
    StreamFull {
        /// The stream.
        stream: Name,
        /// Which of its limits: `max_messages` or `max_bytes`.
        limit: &'static str,
        /// Its value.
        max: u64,
    },
    /// The stream has no consumer with this name.
    ConsumerNotFound {
        /// The stream.
        stream: Name,
        /// The name asked for.
        consumer: Name,
    },
    /// A consumer with this name exists on the stream with another configuration.
    ConsumerConflict {
        /// The stream.
        stream: Name,
        /// The consumer.
        consumer: Name,
    },
    /// The sequence has no delivery in a state that allows this (never delivered, already done, or,
    /// for a nak or an in-progress, not currently held).
    DeliveryNotPending {
        /// The stream sequence.
        sequence: u64,
        /// What was attempted.
        action: &'static str,
    },
    /// The stream has no dead letter with this id.
    DeadLetterNotFound {
        /// The stream.
        stream: Name,
        /// The id asked for.
        dead_letter: u64,
    },
}

impl BusRejection {
    /// The stable machine code, in `snake_case`.
    pub fn code(&self) -> &'static str {
        match self {
            BusRejection::StreamNotFound { .. } => "stream_not_found",
            BusRejection::StreamConflict { .. } => "stream_conflict",
            BusRejection::SubjectsOverlap { .. } => "subjects_overlap",
            BusRejection::NoStream { .. } => "no_stream",
            BusRejection::StreamFull { .. } => "stream_full",
            BusRejection::ConsumerNotFound { .. } => "consumer_not_found",
            BusRejection::ConsumerConflict { .. } => "consumer_conflict",
            BusRejection::DeliveryNotPending { .. } => "delivery_not_pending",
            BusRejection::DeadLetterNotFound { .. } => "dead_letter_not_found",
        }
    }

    /// A short, fixed summary of the code.
    pub fn title(&self) -> &'static str {
        match self {
            BusRejection::StreamNotFound { .. } => "Stream not found",
            BusRejection::StreamConflict { .. } => "Stream conflict",
            BusRejection::SubjectsOverlap { .. } => "Subjects overlap",
            BusRejection::NoStream { .. } => "No stream for the subject",
            BusRejection::StreamFull { .. } => "Stream full",
            BusRejection::ConsumerNotFound { .. } => "Consumer not found",
            BusRejection::ConsumerConflict { .. } => "Consumer conflict",
            BusRejection::DeliveryNotPending { .. } => "Delivery not pending",
            BusRejection::DeadLetterNotFound { .. } => "Dead letter not found",
        }
    }

    /// What kind of refusal this is.
    pub fn class(&self) -> RejectionClass {
        match self {
            BusRejection::StreamNotFound { .. }
            | BusRejection::NoStream { .. }
            | BusRejection::ConsumerNotFound { .. }
            | BusRejection::DeadLetterNotFound { .. } => RejectionClass::NotFound,
            BusRejection::StreamConflict { .. }
            | BusRejection::SubjectsOverlap { .. }
            | BusRejection::ConsumerConflict { .. }
            | BusRejection::DeliveryNotPending { .. } => RejectionClass::Conflict,
            // Backpressure: the stream refuses new messages until consumers make room, so the client
            // should slow down and retry.
            BusRejection::StreamFull { .. } => RejectionClass::RetryLater,
        }
    }

    /// The input field to blame.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            BusRejection::StreamNotFound { .. } => Some("stream"),
            BusRejection::StreamConflict { .. } | BusRejection::ConsumerConflict { .. } => Some("name"),
            BusRejection::SubjectsOverlap { .. } => Some("subjects"),
            BusRejection::NoStream { .. } | BusRejection::StreamFull { .. } => Some("subject"),
            BusRejection::ConsumerNotFound { .. } => Some("consumer"),
            BusRejection::DeliveryNotPending { .. } => Some("sequences"),
            BusRejection::DeadLetterNotFound { .. } => Some("dead_letters"),
        }
    }
}

impl fmt::Display for BusRejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusRejection::StreamNotFound { stream } => write!(formatter, "no stream '{stream}'"),
            BusRejection::StreamConflict { stream } => {
                write!(formatter, "stream '{stream}' already exists with another configuration")
            }
            BusRejection::SubjectsOverlap { pattern, stream } => {
                write!(formatter, "subject pattern '{pattern}' overlaps the subjects of stream '{stream}'")
            }
            BusRejection::NoStream { subject } => write!(formatter, "no stream captures subject '{subject}'"),
            BusRejection::StreamFull { stream, limit, max } => write!(
                formatter,
                "stream '{stream}' has no room under its {limit} of {max}; a stream that discards new messages refuses them while full (retry after consumers catch up)"
            ),
            BusRejection::ConsumerNotFound { stream, consumer } => {
                write!(formatter, "stream '{stream}' has no consumer '{consumer}'")
            }
            BusRejection::ConsumerConflict { stream, consumer } => write!(
                formatter,
                "consumer '{consumer}' of stream '{stream}' already exists with another configuration"
            ),
            BusRejection::DeliveryNotPending { sequence, action } => {
                write!(formatter, "sequence {sequence} has no delivery that can {action}")
            }
            BusRejection::DeadLetterNotFound { stream, dead_letter } => {
                write!(formatter, "stream '{stream}' has no dead letter {dead_letter}")
            }
        }
    }
}
