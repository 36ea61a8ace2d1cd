//! Durable streams: named stores of the messages published to their subjects, with retention limits
//! and deduplication by message id.
//!
//! A subject belongs to at most one stream (stream subjects never overlap), so publishing is a look-up
//! in the bus's pattern tree. A stream numbers its messages from 1 without reuse. When a limit is
//! reached, a stream with discard `old` removes its oldest messages and one with discard `new`
//! refuses the publish (`stream_full`). Messages older than `max_age_ms` leave by log time, through a
//! deadline index like the escrows'.

use crate::outcome::BusRejection;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::commands::Publish;
use super::consumer::Consumer;
use super::dead_letter::DeadLetter;
use super::message_rules::{check_headers, decode_payload};
use super::payload::{JsonText, Payload};
use super::privacy::overlaps_private;
use super::subject::{Pattern, Subject};
use super::tree::SubjectTree;
use crate::event::EventKind;
use crate::ids::{AgentId, Name, Signature, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, State};

/// What a full stream does with a new message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Discard {
    /// Remove the oldest messages to make room.
    #[default]
    Old,
    /// Refuse the new message (`stream_full`): backpressure on publishers.
    New,
}

/// How urgent a message is. Core stores it for receivers; it does not reorder deliveries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Whenever convenient.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Before normal work.
    High,
    /// Now.
    Critical,
}

/// A stream's configuration, fixed at creation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StreamConfig {
    /// The subject patterns it captures.
    pub subjects: BTreeSet<Pattern>,
    /// Messages kept at most, if set.
    pub max_messages: Option<u64>,
    /// Bytes kept at most, if set.
    pub max_bytes: Option<u64>,
    /// Age at which messages leave, if set.
    pub max_age_ms: Option<u64>,
    /// What a full stream does.
    pub discard: Discard,
    /// How long message ids are remembered.
    pub duplicate_window_ms: u64,
}

impl StreamConfig {
    /// The message limit in force: `max_messages`, else the absolute maximum.
    pub fn message_limit(&self) -> u64 {
        self.max_messages.unwrap_or(limits::STREAM_MESSAGES_MAX)
    }

    /// The byte limit in force (and reserved against `BUS_BYTES_MAX`): `max_bytes`, else the default.
    pub fn byte_limit(&self) -> u64 {
        self.max_bytes.unwrap_or(limits::STREAM_BYTES_DEFAULT)
    }

    fn validate(&self) -> Result<(), Rejection> {
        if self.subjects.is_empty() {
            return Err(Rejection::invalid("subjects", "must name at least one subject pattern"));
        }
        if self.subjects.len() > limits::SUBJECTS_PER_STREAM_MAX {
            return Err(Rejection::LimitReached {
                limit: "subjects_per_stream",
                max: limits::SUBJECTS_PER_STREAM_MAX as u64,
            });
        }
        for pattern in &self.subjects {
            if overlaps_private(pattern) {
                return Err(Rejection::invalid(
                    "subjects",
                    format!(
                        "'{pattern}' overlaps the private agent.*.inbox or _INBOX.> subjects, which are never stored, \
                         or the server's own colony.> subjects"
                    ),
                ));
            }
        }
        let in_range = |field: &'static str, value: Option<u64>, max: u64| match value {
            Some(value) if value == 0 || value > max => {
                Err(Rejection::invalid(field, format!("must be between 1 and {max}")))
            }
            _ => Ok(()),
        };
        in_range("max_messages", self.max_messages, limits::STREAM_MESSAGES_MAX)?;
        in_range("max_bytes", self.max_bytes, limits::STREAM_BYTES_MAX)?;
        in_range("max_age_ms", self.max_age_ms, limits::STREAM_MAX_AGE_MS_MAX)?;
        if self.duplicate_window_ms > limits::DUPLICATE_WINDOW_MS_MAX {
            return Err(Rejection::invalid(
                "duplicate_window_ms",
                format!("must be at most {} milliseconds", limits::DUPLICATE_WINDOW_MS_MAX),
            ));
        }
        Ok(())
    }
}

/// A message as a stream stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Its stream sequence, from 1.
    pub sequence: u64,
    /// The subject it was published to.
    pub subject: Subject,
    /// Who published it: the envelope's authenticated signer.
    pub source: Signer,
    /// When it was stored (the entry's timestamp; for a replayed dead letter, the replay's).
    pub published_at_ms: u64,
    /// The publisher's id for it.
    pub message_id: Option<Name>,
    /// What kind of message it is.
    pub message_type: Option<Name>,
    /// How urgent it is.
    pub priority: Priority,
    /// Ties it to an earlier message.
    pub correlation_id: Option<Name>,
    /// Where replies go.
    pub reply_to: Option<Subject>,
    /// Free-form headers.
    pub headers: BTreeMap<Name, String>,
    /// The payload, if any.
    pub payload: Option<Payload>,
    /// The sender's signature over the payload bytes (core stores it; receivers verify it).
    pub payload_signature: Option<Signature>,
    /// The agent the payload is encrypted to.
    pub encrypted_to: Option<AgentId>,
}

impl StoredMessage {
    /// The bytes it counts against `max_bytes`: its content plus `MESSAGE_OVERHEAD_BYTES`.
    pub fn size_bytes(&self) -> u64 {
        let optional = |text: Option<&str>| text.map_or(0, str::len);
        let headers: usize = self.headers.iter().map(|(key, value)| key.as_str().len() + value.len()).sum();
        let content = self.subject.as_str().len()
            + optional(self.message_id.as_ref().map(Name::as_str))
            + optional(self.message_type.as_ref().map(Name::as_str))
            + optional(self.correlation_id.as_ref().map(Name::as_str))
            + optional(self.reply_to.as_ref().map(Subject::as_str))
            + optional(self.encrypted_to.as_ref().map(AgentId::as_str))
            + headers
            + self.payload.as_ref().map_or(0, Payload::len)
            + self.payload_signature.map_or(0, |_| Signature::LENGTH);
        limits::MESSAGE_OVERHEAD_BYTES + content as u64
    }
}

/// A durable stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    /// Its name.
    pub name: Name,
    /// Who created it (it may delete it and manage its dead letters).
    pub owner: Signer,
    /// Its configuration.
    pub config: StreamConfig,
    /// When it was created.
    pub created_at_ms: u64,
    pub(crate) messages: BTreeMap<u64, StoredMessage>,
    /// The sum of `size_bytes` over `messages`.
    pub(crate) bytes: u64,
    /// The highest sequence ever assigned (0 before the first message).
    pub(crate) last_sequence: u64,
    /// (publisher, message id) → (sequence, published_at_ms), for deduplication. Ids are scoped to
    /// their publisher: another agent publishing the same id first must not make a real message
    /// answer `duplicate` and vanish.
    pub(crate) dedupe: BTreeMap<(Signer, Name), (u64, u64)>,
    /// The same keys by publication time, oldest first, for forgetting them.
    pub(crate) dedupe_order: BTreeSet<(u64, Signer, Name)>,
    pub(crate) consumers: BTreeMap<Name, Consumer>,
    pub(crate) dead_letters: BTreeMap<u64, DeadLetter>,
    pub(crate) next_dead_letter_id: u64,
    /// Dead letters dropped because the stream held `DEAD_LETTERS_PER_STREAM_MAX`.
    pub(crate) dead_letters_dropped: u64,
    /// Messages removed by limits, ever.
    pub(crate) discarded_total: u64,
    /// When the oldest message ages out, while one can (its entry in the bus's age index).
    pub(crate) age_deadline_ms: Option<u64>,
}

impl Stream {
    /// Messages stored now.
    pub fn message_count(&self) -> u64 {
        self.messages.len() as u64
    }

    /// Bytes stored now (as counted against `max_bytes`).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The oldest stored sequence, if any.
    pub fn first_sequence(&self) -> Option<u64> {
        self.messages.keys().next().copied()
    }

    /// The highest sequence ever assigned (0 before the first message).
    pub fn last_sequence(&self) -> u64 {
        self.last_sequence
    }

    /// A stored message.
    pub fn message(&self, sequence: u64) -> Option<&StoredMessage> {
        self.messages.get(&sequence)
    }

    /// Stored messages from `from_sequence` on, in order.
    pub fn messages_from(&self, from_sequence: u64) -> impl Iterator<Item = &StoredMessage> {
        self.messages.range(from_sequence..).map(|(_, message)| message)
    }

    /// Its consumers, by name.
    pub fn consumers(&self) -> impl Iterator<Item = &Consumer> {
        self.consumers.values()
    }

    /// One consumer.
    pub fn consumer(&self, name: &Name) -> Option<&Consumer> {
        self.consumers.get(name)
    }

    /// Dead letters with ids above `after` (all when `None`), oldest first.
    pub fn dead_letters_after(&self, after: Option<u64>) -> impl Iterator<Item = &DeadLetter> {
        let start = after.map_or(0, |after| after.saturating_add(1));
        self.dead_letters.range(start..).map(|(_, dead_letter)| dead_letter)
    }

    /// Dead letters held now.
    pub fn dead_letter_count(&self) -> u64 {
        self.dead_letters.len() as u64
    }

    /// Dead letters dropped because too many were held.
    pub fn dead_letters_dropped(&self) -> u64 {
        self.dead_letters_dropped
    }

    /// Messages removed by limits, ever.
    pub fn discarded_total(&self) -> u64 {
        self.discarded_total
    }

    /// When the oldest message ages out: `max_age_ms` after its publication.
    fn oldest_expiry_ms(&self) -> Option<u64> {
        let max_age_ms = self.config.max_age_ms?;
        let oldest = self.messages.values().next()?;
        Some(oldest.published_at_ms.saturating_add(max_age_ms))
    }

    /// Whether messages of these sizes can be stored now: for discard `new`, all of them within the
    /// limits; for discard `old`, each alone within `max_bytes` (older messages make room for the rest).
    pub(crate) fn check_room(&self, sizes: &[u64]) -> Result<(), Rejection> {
        let byte_limit = self.config.byte_limit();
        let full = |limit: &'static str, max: u64| {
            Rejection::Bus(BusRejection::StreamFull { stream: self.name.clone(), limit, max })
        };
        if sizes.iter().any(|size| *size > byte_limit) {
            return Err(full("max_bytes", byte_limit));
        }
        if self.config.discard == Discard::New {
            let message_limit = self.config.message_limit();
            if self.message_count() + sizes.len() as u64 > message_limit {
                return Err(full("max_messages", message_limit));
            }
            if self.bytes + sizes.iter().sum::<u64>() > byte_limit {
                return Err(full("max_bytes", byte_limit));
            }
        }
        Ok(())
    }

    /// The original sequence of a message id `publisher` used within the duplicate window.
    fn duplicate_of(&self, publisher: &Signer, message_id: &Name, now_ms: u64) -> Option<u64> {
        let (sequence, published_at_ms) = self.dedupe.get(&(publisher.clone(), message_id.clone()))?;
        (now_ms < published_at_ms.saturating_add(self.config.duplicate_window_ms)).then_some(*sequence)
    }

    /// Forgets message ids whose window has ended.
    fn forget_expired_ids(&mut self, now_ms: u64) {
        while let Some((published_at_ms, ..)) = self.dedupe_order.first() {
            if now_ms < published_at_ms.saturating_add(self.config.duplicate_window_ms) {
                break;
            }
            let (_, publisher, id) = self.dedupe_order.pop_first().expect("just looked");
            self.dedupe.remove(&(publisher, id));
        }
    }

    /// Remembers a message id, forgetting the oldest beyond `DEDUPE_IDS_PER_STREAM_MAX`.
    fn remember_id(&mut self, publisher: &Signer, message_id: &Name, sequence: u64, now_ms: u64) {
        if self.config.duplicate_window_ms == 0 {
            return;
        }
        let key = (publisher.clone(), message_id.clone());
        if let Some((_, published_at_ms)) = self.dedupe.insert(key.clone(), (sequence, now_ms)) {
            self.dedupe_order.remove(&(published_at_ms, key.0.clone(), key.1.clone()));
        }
        self.dedupe_order.insert((now_ms, key.0, key.1));
        while self.dedupe.len() > limits::DEDUPE_IDS_PER_STREAM_MAX {
            let (_, publisher, id) = self.dedupe_order.pop_first().expect("as many entries as ids");
            self.dedupe.remove(&(publisher, id));
        }
    }
}

/// The stream patterns, as a pattern tree for publishing and as a map for snapshots: the tree is not
/// serialized, it is rebuilt from the map when a snapshot is decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SubjectIndex {
    /// Pattern → the stream capturing it. Patterns of different streams never overlap, so a pattern
    /// names one stream.
    patterns: BTreeMap<Pattern, Name>,
    tree: SubjectTree<Name>,
}

impl SubjectIndex {
    fn insert(&mut self, pattern: &Pattern, stream: &Name) {
        let previous = self.patterns.insert(pattern.clone(), stream.clone());
        assert!(previous.is_none(), "stream patterns never overlap, so never repeat");
        self.tree.insert(pattern, stream.clone());
    }

    fn remove(&mut self, pattern: &Pattern, stream: &Name) {
        let removed = self.patterns.remove(pattern);
        assert_eq!(removed.as_ref(), Some(stream), "a stream's patterns are indexed under it");
        self.tree.remove(pattern, stream);
    }

    /// The stream capturing `subject`, if any.
    pub(crate) fn capturing(&self, subject: &Subject) -> Option<&Name> {
        let found = self.tree.matches(subject);
        assert!(found.len() <= 1, "stream patterns never overlap");
        found.into_iter().next()
    }

    /// The stream one of whose patterns overlaps `pattern`, if any.
    fn overlapping(&self, pattern: &Pattern) -> Option<&Name> {
        self.patterns.iter().find(|(existing, _)| existing.overlaps(pattern)).map(|(_, stream)| stream)
    }
}

impl Serialize for SubjectIndex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.patterns.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SubjectIndex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let patterns = BTreeMap::<Pattern, Name>::deserialize(deserializer)?;
        let mut tree = SubjectTree::new();
        for (pattern, stream) in &patterns {
            tree.insert(pattern, stream.clone());
        }
        Ok(SubjectIndex { patterns, tree })
    }
}

/// The bus's durable state: streams with their messages, consumers and dead letters, and the indexes
/// of time-driven changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bus {
    pub(crate) streams: BTreeMap<Name, Stream>,
    pub(crate) subjects: SubjectIndex,
    /// `(deadline, stream, consumer, sequence)` of every held delivery.
    pub(crate) ack_deadlines: BTreeSet<(u64, Name, Name, u64)>,
    /// `(deadline, stream)`: when each stream with `max_age_ms` and messages next ages one out.
    pub(crate) age_deadlines: BTreeSet<(u64, Name)>,
    /// The sum of the streams' byte limits.
    pub(crate) reserved_bytes: u64,
}

impl Bus {
    /// Streams by name.
    pub fn streams(&self) -> impl Iterator<Item = &Stream> {
        self.streams.values()
    }

    /// One stream.
    pub fn stream(&self, name: &Name) -> Option<&Stream> {
        self.streams.get(name)
    }

    /// The stream capturing `subject`, if any.
    pub fn stream_for(&self, subject: &Subject) -> Option<&Stream> {
        self.subjects.capturing(subject).map(|name| &self.streams[name])
    }

    /// The earliest time-driven change: an ack deadline or a message ageing out.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let ack = self.ack_deadlines.first().map(|(deadline, ..)| *deadline);
        let age = self.age_deadlines.first().map(|(deadline, _)| *deadline);
        ack.into_iter().chain(age).min()
    }

    /// Records `stream`'s next age-out in the index, replacing the old entry.
    pub(crate) fn refresh_age_deadline(&mut self, name: &Name) {
        let stream = self.streams.get_mut(name).expect("the caller found the stream");
        let next = stream.oldest_expiry_ms();
        if stream.age_deadline_ms == next {
            return;
        }
        if let Some(old) = stream.age_deadline_ms.take() {
            let removed = self.age_deadlines.remove(&(old, name.clone()));
            assert!(removed, "a stream's age deadline is indexed");
        }
        if let Some(next) = next {
            self.age_deadlines.insert((next, name.clone()));
        }
        stream.age_deadline_ms = next;
    }

    /// Removes the oldest message of `name` (which must hold one), with every pending delivery of it.
    /// Returns the message.
    pub(crate) fn evict_oldest(&mut self, name: &Name) -> StoredMessage {
        let stream = self.streams.get_mut(name).expect("the caller found the stream");
        let (sequence, message) = stream.messages.pop_first().expect("the caller checked there is a message");
        stream.bytes -= message.size_bytes();
        stream.discarded_total += 1;
        for consumer in stream.consumers.values_mut() {
            if let Some(pending) = consumer.pending.remove(&sequence)
                && let Some(deadline_ms) = pending.ack_deadline_ms
            {
                let removed = self.ack_deadlines.remove(&(deadline_ms, name.clone(), consumer.name.clone(), sequence));
                assert!(removed, "a held delivery's deadline is indexed");
            }
        }
        message
    }

    /// Stores `message` in `name` under the next sequence, first removing the oldest messages while
    /// the stream (discard `old`) has no room. The caller checked the room with `check_room`.
    pub(crate) fn store(&mut self, context: &mut Context, name: &Name, mut message: StoredMessage) -> u64 {
        let size = message.size_bytes();
        let mut evicted = 0;
        loop {
            let stream = &self.streams[name];
            let fits = stream.message_count() < stream.config.message_limit()
                && stream.bytes + size <= stream.config.byte_limit();
            if fits {
                break;
            }
            assert!(stream.config.discard == Discard::Old, "check_room refuses what discard new cannot hold");
            self.evict_oldest(name);
            evicted += 1;
        }
        let stream = self.streams.get_mut(name).expect("the caller found the stream");
        stream.last_sequence += 1;
        let sequence = stream.last_sequence;
        message.sequence = sequence;
        stream.bytes += size;
        stream.messages.insert(sequence, message);
        if evicted > 0 {
            context.note_discarded(name, evicted);
        }
        self.refresh_age_deadline(name);
        sequence
    }

    /// Checks every invariant of the bus; returns the first one broken.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        if self.streams.len() > limits::STREAMS_MAX {
            return Err("too many streams".to_owned());
        }
        let mut reserved = 0u64;
        let mut patterns = 0usize;
        let mut ack_deadlines = BTreeSet::new();
        let mut age_deadlines = BTreeSet::new();
        for (name, stream) in &self.streams {
            let fail = |reason: String| Err(format!("stream '{name}': {reason}"));
            if &stream.name != name {
                return fail("filed under another name".to_owned());
            }
            reserved += stream.config.byte_limit();
            patterns += stream.config.subjects.len();
            for pattern in &stream.config.subjects {
                if self.subjects.patterns.get(pattern) != Some(name) {
                    return fail(format!("pattern '{pattern}' is not indexed under it"));
                }
            }
            let bytes: u64 = stream.messages.values().map(StoredMessage::size_bytes).sum();
            if bytes != stream.bytes {
                return fail(format!("{} bytes counted, {bytes} stored", stream.bytes));
            }
            if stream.message_count() > stream.config.message_limit() || stream.bytes > stream.config.byte_limit() {
                return fail("holds more than its limits".to_owned());
            }
            for (sequence, message) in &stream.messages {
                if message.sequence != *sequence || *sequence == 0 || *sequence > stream.last_sequence {
                    return fail(format!("message {sequence} is misnumbered"));
                }
                // A stored message's subject was captured by this stream, whose patterns never change.
                if !stream.config.subjects.iter().any(|pattern| pattern.matches(&message.subject)) {
                    return fail(format!("message {sequence}'s subject is not one the stream captures"));
                }
            }
            if stream.dedupe.len() != stream.dedupe_order.len()
                || stream.dedupe.len() > limits::DEDUPE_IDS_PER_STREAM_MAX
            {
                return fail("dedupe map and order disagree".to_owned());
            }
            for (published_at_ms, publisher, id) in &stream.dedupe_order {
                let key = (publisher.clone(), id.clone());
                if stream.dedupe.get(&key).map(|(_, at)| at) != Some(published_at_ms) {
                    return fail(format!("message id '{id}' of {publisher} is misfiled"));
                }
            }
            if stream.age_deadline_ms != stream.oldest_expiry_ms() {
                return fail("age deadline does not follow the oldest message".to_owned());
            }
            if let Some(deadline) = stream.age_deadline_ms {
                age_deadlines.insert((deadline, name.clone()));
            }
            if stream.consumers.len() > limits::CONSUMERS_PER_STREAM_MAX {
                return fail("too many consumers".to_owned());
            }
            for (consumer_name, consumer) in &stream.consumers {
                // Acks and ack deadlines reach a consumer by the name it holds, so it must be the one
                // it is filed under.
                if &consumer.name != consumer_name {
                    return fail(format!("consumer '{consumer_name}' is filed under another name"));
                }
                consumer
                    .check_invariants(stream, &mut ack_deadlines)
                    .map_err(|reason| format!("stream '{name}', consumer '{consumer_name}': {reason}"))?;
            }
            if stream.dead_letters.len() > limits::DEAD_LETTERS_PER_STREAM_MAX {
                return fail("too many dead letters".to_owned());
            }
            for (id, dead_letter) in &stream.dead_letters {
                if dead_letter.id != *id || *id >= stream.next_dead_letter_id {
                    return fail(format!("dead letter {id} is misnumbered"));
                }
            }
        }
        if patterns != self.subjects.patterns.len() || self.subjects.tree.len() != patterns {
            return Err("the subject index holds patterns of no stream".to_owned());
        }
        if reserved != self.reserved_bytes || reserved > limits::BUS_BYTES_MAX {
            return Err(format!("{} bytes reserved, streams' limits sum to {reserved}", self.reserved_bytes));
        }
        if ack_deadlines != self.ack_deadlines {
            return Err("the ack deadline index does not match the held deliveries".to_owned());
        }
        if age_deadlines != self.age_deadlines {
            return Err("the age deadline index does not match the streams".to_owned());
        }
        Ok(())
    }
}

impl State {
    /// The stream a command names, or the rejection saying there is none.
    pub(crate) fn stream_for_command(&self, name: &Name) -> Result<&Stream, Rejection> {
        self.bus.streams.get(name).ok_or_else(|| Rejection::Bus(BusRejection::StreamNotFound { stream: name.clone() }))
    }

    /// Whether the signer owns the stream or is the operator.
    pub(crate) fn require_stream_owner(
        context: &Context,
        stream: &Stream,
        reason: &'static str,
    ) -> Result<(), Rejection> {
        if *context.signer() == Signer::Operator || *context.signer() == stream.owner {
            Ok(())
        } else {
            Err(Rejection::Unauthorized { reason })
        }
    }

    /// `stream.create`.
    pub(crate) fn create_stream(&mut self, context: &mut Context, name: &Name, config: StreamConfig) -> CommandResult {
        if let Some(existing) = self.bus.streams.get(name) {
            return if existing.config == config {
                Ok(Accepted::Unchanged)
            } else {
                Err(Rejection::Bus(BusRejection::StreamConflict { stream: name.clone() }))
            };
        }
        config.validate()?;
        for pattern in &config.subjects {
            if let Some(other) = self.bus.subjects.overlapping(pattern) {
                return Err(Rejection::Bus(BusRejection::SubjectsOverlap {
                    pattern: pattern.clone(),
                    stream: other.clone(),
                }));
            }
        }
        if self.bus.streams.len() >= limits::STREAMS_MAX {
            return Err(Rejection::LimitReached { limit: "streams", max: limits::STREAMS_MAX as u64 });
        }
        if self.bus.reserved_bytes + config.byte_limit() > limits::BUS_BYTES_MAX {
            return Err(Rejection::LimitReached { limit: "bus_bytes", max: limits::BUS_BYTES_MAX });
        }
        if *context.signer() != Signer::Operator {
            // One agent may not take every stream, or the whole reservation, from the others.
            let owned = self.bus.streams.values().filter(|stream| stream.owner == *context.signer());
            let (count, bytes) =
                owned.fold((0usize, 0u64), |(count, bytes), stream| (count + 1, bytes + stream.config.byte_limit()));
            if count >= limits::STREAMS_PER_AGENT_MAX {
                return Err(Rejection::LimitReached {
                    limit: "streams_per_agent",
                    max: limits::STREAMS_PER_AGENT_MAX as u64,
                });
            }
            if bytes + config.byte_limit() > limits::STREAM_BYTES_PER_AGENT_MAX {
                return Err(Rejection::LimitReached {
                    limit: "stream_bytes_per_agent",
                    max: limits::STREAM_BYTES_PER_AGENT_MAX,
                });
            }
        }

        for pattern in &config.subjects {
            self.bus.subjects.insert(pattern, name);
        }
        self.bus.reserved_bytes += config.byte_limit();
        let stream = Stream {
            name: name.clone(),
            owner: context.signer().clone(),
            config,
            created_at_ms: context.now_ms,
            messages: BTreeMap::new(),
            bytes: 0,
            last_sequence: 0,
            dedupe: BTreeMap::new(),
            dedupe_order: BTreeSet::new(),
            consumers: BTreeMap::new(),
            dead_letters: BTreeMap::new(),
            next_dead_letter_id: 1,
            dead_letters_dropped: 0,
            discarded_total: 0,
            age_deadline_ms: None,
        };
        self.bus.streams.insert(name.clone(), stream);
        context.emit(EventKind::StreamCreated { stream: name.clone(), owner: context.signer().clone() });
        Ok(Accepted::Done)
    }

    /// `stream.delete`.
    pub(crate) fn delete_stream(&mut self, context: &mut Context, name: &Name) -> CommandResult {
        let stream = self.stream_for_command(name)?;
        Self::require_stream_owner(context, stream, "only the stream's owner or the operator deletes a stream")?;
        let stream = self.bus.streams.remove(name).expect("found above");
        for pattern in &stream.config.subjects {
            self.bus.subjects.remove(pattern, name);
        }
        self.bus.reserved_bytes -= stream.config.byte_limit();
        if let Some(deadline) = stream.age_deadline_ms {
            let removed = self.bus.age_deadlines.remove(&(deadline, name.clone()));
            assert!(removed, "a stream's age deadline is indexed");
        }
        for consumer in stream.consumers.values() {
            consumer.unindex_all(name, &mut self.bus.ack_deadlines);
        }
        context.emit(EventKind::StreamDeleted { stream: name.clone(), by: context.signer().clone() });
        Ok(Accepted::Done)
    }

    /// `bus.publish`.
    pub(crate) fn publish(&mut self, context: &mut Context, request: &Publish) -> CommandResult {
        let json_payload = request.payload.as_ref().map(JsonText::as_str);
        let payload = decode_payload(json_payload, request.payload_base64.as_deref(), request.encrypted_to.is_some())?;
        check_headers(request.headers.len(), request.headers.values().map(String::as_str))?;
        if let Some(recipient) = &request.encrypted_to {
            match self.registry.get(recipient) {
                None => return Err(Rejection::AgentNotFound { agent: recipient.clone() }),
                Some(agent) if agent.deregistered_at_ms.is_some() => {
                    return Err(Rejection::AgentDeregistered { agent: recipient.clone() });
                }
                Some(_) => {}
            }
        }
        let stream_name = self
            .bus
            .subjects
            .capturing(&request.subject)
            .ok_or_else(|| Rejection::Bus(BusRejection::NoStream { subject: request.subject.clone() }))?
            .clone();
        let stream = &self.bus.streams[&stream_name];
        if let Some(message_id) = &request.message_id
            && let Some(sequence) = stream.duplicate_of(context.signer(), message_id, context.now_ms)
        {
            return Ok(Accepted::Published { stream: stream_name, sequence, duplicate: true });
        }
        let message = StoredMessage {
            sequence: 0,
            subject: request.subject.clone(),
            source: context.signer().clone(),
            published_at_ms: context.now_ms,
            message_id: request.message_id.clone(),
            message_type: request.message_type.clone(),
            priority: request.priority,
            correlation_id: request.correlation_id.clone(),
            reply_to: request.reply_to.clone(),
            headers: request.headers.clone(),
            payload,
            payload_signature: request.payload_signature,
            encrypted_to: request.encrypted_to.clone(),
        };
        stream.check_room(&[message.size_bytes()])?;

        let sequence = self.bus.store(context, &stream_name, message);
        let stream = self.bus.streams.get_mut(&stream_name).expect("found above");
        stream.forget_expired_ids(context.now_ms);
        if let Some(message_id) = &request.message_id {
            stream.remember_id(context.signer(), message_id, sequence, context.now_ms);
        }
        Ok(Accepted::Published { stream: stream_name, sequence, duplicate: false })
    }

    /// Removes messages older than their stream's `max_age_ms`, oldest deadline first.
    pub(crate) fn expire_messages(&mut self, context: &mut Context) {
        let mut budget = limits::BUS_EXPIRIES_PER_ENTRY_MAX;
        while budget > 0 {
            let Some((deadline_ms, name)) = self.bus.age_deadlines.first().cloned() else { break };
            if deadline_ms >= context.now_ms {
                break;
            }
            let mut evicted = 0;
            while budget > 0 && self.bus.streams[&name].oldest_expiry_ms().is_some_and(|expiry| expiry < context.now_ms)
            {
                self.bus.evict_oldest(&name);
                evicted += 1;
                budget -= 1;
            }
            assert!(evicted > 0, "an age deadline that passed is the oldest message's");
            context.note_discarded(&name, evicted);
            self.bus.refresh_age_deadline(&name);
        }
    }
}
