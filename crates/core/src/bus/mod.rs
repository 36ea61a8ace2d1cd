//! The message bus's deterministic parts: subjects and the patterns that match them, and durable
//! streams with pull consumers and dead letters (the JetStream-like part of the bus).
//!
//! Subjects follow the conventions of NATS: dot-separated tokens (`market.spread.detected`); in a
//! pattern `*` matches exactly one token and `>` (last only) matches one or more. The server's
//! ephemeral fan-out and core's durable streams both match through [`SubjectTree`].
//!
//! Durable streams are state like any other: created, published to, consumed and acknowledged only by
//! commands in log entries, so they survive crashes and replay with the rest of the swarm.
//!
//! # Layout
//! - `commands.rs`: the bus's commands and how each is applied.
//! - `subject.rs`, `tree.rs`: subjects, patterns (and whether two overlap), the pattern tree.
//! - `message_rules.rs`: the rules of message content (headers, payload size and form), shared by
//!   durable and ephemeral publishes.
//! - `privacy.rs`: the private subjects (agents' inboxes, request replies): who receives them, who
//!   may subscribe, and that no stream captures them.
//! - `payload.rs`: payloads, and the capture of any JSON value as canonical text.
//! - `stream.rs`: streams, stored messages, retention (limits, discard policy, age), deduplication.
//! - `consumer.rs`: pull consumers, fetch, ack/nak/in-progress/term, ack deadlines.
//! - `dead_letter.rs`: dead letters, replay and discard.

pub mod commands;
mod consumer;
mod dead_letter;
pub mod message_rules;
mod payload;
pub mod privacy;
pub mod rejections;
mod stream;
mod subject;
mod tree;

pub use consumer::{ACK_WAIT_EXPIRED, AckKind, Consumer, ConsumerConfig, DeliverPolicy, Delivery, Pending};
pub use dead_letter::{DeadLetter, DeadLetterReason};
pub use payload::{JsonText, Payload, decode_base64};
pub use privacy::{Privacy, REPLY_PREFIX, RESERVED_PATTERNS, SERVER_PREFIX, server_only};
pub use stream::{Bus, Discard, Priority, StoredMessage, Stream, StreamConfig};
pub use subject::{Pattern, SUBJECT_BYTES_MAX, SUBJECT_TOKENS_MAX, Subject, SubjectError};
pub use tree::SubjectTree;

use crate::state::{Context, State};

impl State {
    /// The bus's time-driven changes: aged messages leave first (a message that is gone is neither
    /// redelivered nor dead-lettered), then passed ack deadlines are handled.
    pub(crate) fn expire_bus(&mut self, context: &mut Context) {
        self.expire_messages(context);
        self.expire_ack_deadlines(context);
    }
}

/// A stream as the server reports it: configuration, owner and counts, without the messages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct StreamInfo {
    /// The stream's name.
    pub name: crate::ids::Name,
    /// Its owner.
    pub owner: crate::ids::Signer,
    /// Its configuration.
    pub config: StreamConfig,
    /// When it was created.
    pub created_at_ms: u64,
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored (as counted against `max_bytes`).
    pub bytes: u64,
    /// The oldest stored sequence, if any.
    pub first_sequence: Option<u64>,
    /// The highest sequence ever assigned.
    pub last_sequence: u64,
    /// Messages removed by limits, ever.
    pub discarded: u64,
    /// Dead letters held.
    pub dead_letters: u64,
    /// Dead letters dropped because too many were held.
    pub dead_letters_dropped: u64,
    /// Its consumers' names.
    pub consumers: Vec<crate::ids::Name>,
}

/// A consumer as the server reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ConsumerInfo {
    /// The stream.
    pub stream: crate::ids::Name,
    /// The consumer's name.
    pub name: crate::ids::Name,
    /// Its creator.
    pub creator: crate::ids::Signer,
    /// Its configuration.
    pub config: ConsumerConfig,
    /// When it was created.
    pub created_at_ms: u64,
    /// The next sequence considered for a first delivery.
    pub cursor: u64,
    /// Every sequence up to this one is done with.
    pub ack_floor: u64,
    /// Deliveries not yet done with (held or waiting for redelivery).
    pub pending: u64,
    /// Of those, waiting for redelivery.
    pub waiting: u64,
    /// Held deliveries per holder.
    pub pending_by_holder: std::collections::BTreeMap<crate::ids::Signer, u64>,
    /// Deliveries handed out, ever.
    pub delivered: u64,
    /// Redeliveries handed out, ever.
    pub redelivered: u64,
    /// Messages acked, ever.
    pub acked: u64,
    /// Messages dead-lettered, ever.
    pub dead_lettered: u64,
}

impl State {
    /// Every stream, by name.
    pub fn streams(&self) -> impl Iterator<Item = &Stream> {
        self.bus.streams()
    }

    /// One stream.
    pub fn stream(&self, name: &crate::ids::Name) -> Option<&Stream> {
        self.bus.stream(name)
    }

    /// A stream's configuration, owner and counts.
    pub fn stream_info(&self, name: &crate::ids::Name) -> Option<StreamInfo> {
        let stream = self.bus.stream(name)?;
        Some(StreamInfo {
            name: stream.name.clone(),
            owner: stream.owner.clone(),
            config: stream.config.clone(),
            created_at_ms: stream.created_at_ms,
            messages: stream.message_count(),
            bytes: stream.bytes(),
            first_sequence: stream.first_sequence(),
            last_sequence: stream.last_sequence(),
            discarded: stream.discarded_total(),
            dead_letters: stream.dead_letter_count(),
            dead_letters_dropped: stream.dead_letters_dropped(),
            consumers: stream.consumers().map(|consumer| consumer.name.clone()).collect(),
        })
    }

    /// A stored message by its stream sequence.
    pub fn stream_message(&self, stream: &crate::ids::Name, sequence: u64) -> Option<&StoredMessage> {
        self.bus.stream(stream)?.message(sequence)
    }

    /// Up to `limit` stored messages from `from_sequence` on, in order (empty for an unknown stream).
    pub fn stream_messages(&self, stream: &crate::ids::Name, from_sequence: u64, limit: usize) -> Vec<&StoredMessage> {
        self.bus
            .stream(stream)
            .map_or_else(Vec::new, |stream| stream.messages_from(from_sequence).take(limit).collect())
    }

    /// A consumer's configuration, position and counts.
    pub fn consumer_info(&self, stream: &crate::ids::Name, consumer: &crate::ids::Name) -> Option<ConsumerInfo> {
        let found = self.bus.stream(stream)?.consumer(consumer)?;
        Some(ConsumerInfo {
            stream: stream.clone(),
            name: found.name.clone(),
            creator: found.creator.clone(),
            config: found.config.clone(),
            created_at_ms: found.created_at_ms,
            cursor: found.cursor(),
            ack_floor: found.ack_floor(),
            pending: found.pending().len() as u64,
            waiting: found.pending().values().filter(|pending| pending.ack_deadline_ms.is_none()).count() as u64,
            pending_by_holder: found.pending_by_holder(),
            delivered: found.delivered_total(),
            redelivered: found.redelivered_total(),
            acked: found.acked_total(),
            dead_lettered: found.dead_lettered_total(),
        })
    }

    /// Whether a `consumer.fetch` at log time `now_ms` would deliver anything; `None` for an unknown
    /// stream or consumer (a fetch would be refused).
    pub fn fetch_is_due(&self, stream: &crate::ids::Name, consumer: &crate::ids::Name, now_ms: u64) -> Option<bool> {
        let found = self.bus.stream(stream)?;
        Some(found.consumer(consumer)?.has_due(found, now_ms))
    }

    /// Up to `limit` of a stream's dead letters with ids above `after` (from the first when `None`),
    /// oldest first: pass the last id of a page as `after` for the next.
    pub fn dead_letters(&self, stream: &crate::ids::Name, after: Option<u64>, limit: usize) -> Vec<&DeadLetter> {
        self.bus.stream(stream).map_or_else(Vec::new, |stream| stream.dead_letters_after(after).take(limit).collect())
    }
}
