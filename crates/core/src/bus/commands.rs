//! The durable bus's commands: streams, durable publishes, pull consumers and dead letters.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::consumer::ConsumerRequest;
use super::{AckKind, ConsumerConfig, DeliverPolicy, Discard, JsonText, Pattern, Priority, StreamConfig, Subject};
use crate::command::Apply;
use crate::ids::{AgentId, Name, Signature};
use crate::limits;
use crate::outcome::CommandResult;
use crate::state::{Context, State};

fn default_duplicate_window_ms() -> u64 {
    limits::DUPLICATE_WINDOW_MS_DEFAULT
}

fn default_ack_wait_ms() -> u64 {
    limits::ACK_WAIT_MS_DEFAULT
}

fn default_max_deliver() -> u32 {
    limits::MAX_DELIVER_DEFAULT
}

fn default_max_ack_pending() -> u32 {
    limits::MAX_ACK_PENDING_DEFAULT
}

/// Creates a durable stream that stores every message published to its subjects. Any registered agent
/// or the operator; the creator owns it. The same name with the same configuration again is
/// `Unchanged`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStream {
    /// The stream's name.
    pub name: Name,
    /// The subject patterns it captures: none may overlap another stream's, or the private
    /// `agent.*.inbox` and `_INBOX.>` subjects.
    #[schemars(length(min = 1, max = limits::SUBJECTS_PER_STREAM_MAX))]
    pub subjects: BTreeSet<Pattern>,
    /// Messages kept at most (else `STREAM_MESSAGES_MAX`).
    #[serde(default)]
    #[schemars(range(min = 1, max = limits::STREAM_MESSAGES_MAX))]
    pub max_messages: Option<u64>,
    /// Bytes kept at most (else `STREAM_BYTES_DEFAULT`); reserved against `BUS_BYTES_MAX`.
    #[serde(default)]
    #[schemars(range(min = 1, max = limits::STREAM_BYTES_MAX))]
    pub max_bytes: Option<u64>,
    /// Messages older than this (log time) are removed.
    #[serde(default)]
    #[schemars(range(min = 1, max = limits::STREAM_MAX_AGE_MS_MAX))]
    pub max_age_ms: Option<u64>,
    /// What a full stream does: drop its oldest messages (`"old"`) or refuse new ones (`"new"`).
    #[serde(default)]
    pub discard: Discard,
    /// How long a message id is remembered for deduplication (0: not at all).
    #[serde(default = "default_duplicate_window_ms")]
    #[schemars(range(max = limits::DUPLICATE_WINDOW_MS_MAX))]
    pub duplicate_window_ms: u64,
}

impl Apply for CreateStream {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        let config = StreamConfig {
            subjects: self.subjects.clone(),
            max_messages: self.max_messages,
            max_bytes: self.max_bytes,
            max_age_ms: self.max_age_ms,
            discard: self.discard,
            duplicate_window_ms: self.duplicate_window_ms,
        };
        state.create_stream(context, &self.name, config)
    }
}

/// Deletes a stream with its messages, consumers and dead letters. Its owner or the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteStream {
    /// The stream.
    pub name: Name,
}

impl Apply for DeleteStream {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.delete_stream(context, &self.name)
    }
}

/// Publishes a message into the stream that captures its subject. The source is the signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// Where it goes.
    pub subject: Subject,
    /// The publisher's id for the message: the same id again within the stream's duplicate window
    /// stores nothing and returns the original sequence.
    #[serde(default)]
    pub message_id: Option<Name>,
    /// What kind of message this is, for receivers. (Named `message_type`, not `type`, because `type`
    /// names the command.)
    #[serde(default)]
    pub message_type: Option<Name>,
    /// How urgent (`normal` unless told).
    #[serde(default)]
    pub priority: Priority,
    /// Ties a reply or a follow-up to an earlier message.
    #[serde(default)]
    pub correlation_id: Option<Name>,
    /// Where replies go.
    #[serde(default)]
    pub reply_to: Option<Subject>,
    /// Free-form headers.
    #[serde(default)]
    #[schemars(schema_with = "crate::schema::message_headers")]
    pub headers: BTreeMap<Name, String>,
    /// A JSON payload (`null` counts as none).
    #[serde(default)]
    pub payload: Option<JsonText>,
    /// A binary payload in standard base64; exclusive with `payload`.
    #[serde(default)]
    pub payload_base64: Option<String>,
    /// The sender's Ed25519 signature over the payload bytes, for receivers to verify.
    #[serde(default)]
    pub payload_signature: Option<Signature>,
    /// The agent the payload is encrypted to (`payload_base64` is then ciphertext).
    #[serde(default)]
    pub encrypted_to: Option<AgentId>,
}

impl Apply for Publish {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.publish(context, self)
    }
}

/// Creates a pull consumer on a stream. Any registered agent or the operator. The same name with the
/// same configuration again is `Unchanged`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConsumer {
    /// The stream.
    pub stream: Name,
    /// The consumer's name, unique in the stream.
    pub name: Name,
    /// Only messages whose subject matches (must overlap the stream's subjects).
    #[serde(default)]
    pub filter: Option<Pattern>,
    /// Where delivery starts: `"all"`, `"new"`, `{"from_sequence": N}` or `{"from_time_ms": T}`.
    #[serde(default)]
    pub deliver: DeliverPolicy,
    /// How long a delivery is held before it is redelivered, unless acked.
    #[serde(default = "default_ack_wait_ms")]
    #[schemars(range(min = limits::ACK_WAIT_MS_MIN, max = limits::ACK_WAIT_MS_MAX))]
    pub ack_wait_ms: u64,
    /// Deliveries of one message at most; after the last, it is dead-lettered.
    #[serde(default = "default_max_deliver")]
    #[schemars(range(min = 1, max = limits::MAX_DELIVER_MAX))]
    pub max_deliver: u32,
    /// The ack wait of delivery n is `backoff_ms[min(n - 1, len - 1)]` instead of `ack_wait_ms`.
    #[serde(default)]
    #[schemars(length(max = limits::BACKOFF_STEPS_MAX))]
    #[schemars(inner(range(min = limits::ACK_WAIT_MS_MIN, max = limits::ACK_WAIT_MS_MAX)))]
    pub backoff_ms: Vec<u64>,
    /// Deliveries outstanding (not yet acked or dead-lettered) at most.
    #[serde(default = "default_max_ack_pending")]
    #[schemars(range(min = 1, max = limits::MAX_ACK_PENDING_MAX))]
    pub max_ack_pending: u32,
    /// Agents that may fetch from it besides its creator, the stream's owner and the operator
    /// (agents and roles together at most `CONSUMER_MEMBERS_MAX`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    #[schemars(length(max = limits::CONSUMER_MEMBERS_MAX))]
    pub agents: BTreeSet<AgentId>,
    /// Roles whose agents may fetch from it.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    #[schemars(length(max = limits::CONSUMER_MEMBERS_MAX))]
    pub roles: BTreeSet<Name>,
}

impl Apply for CreateConsumer {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        let config = ConsumerConfig {
            filter: self.filter.clone(),
            deliver: self.deliver,
            ack_wait_ms: self.ack_wait_ms,
            max_deliver: self.max_deliver,
            backoff_ms: self.backoff_ms.clone(),
            max_ack_pending: self.max_ack_pending,
            agents: self.agents.clone(),
            roles: self.roles.clone(),
        };
        state.create_consumer(context, ConsumerRequest { stream: &self.stream, name: &self.name, config })
    }
}

/// Deletes a consumer. Its creator, the stream's owner or the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteConsumer {
    /// The stream.
    pub stream: Name,
    /// The consumer.
    pub name: Name,
}

impl Apply for DeleteConsumer {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.delete_consumer(context, &self.stream, &self.name)
    }
}

/// Pulls messages from a consumer: due redeliveries first, then new messages. Any registered agent;
/// agents fetching from one consumer share its messages (a work queue).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fetch {
    /// The stream.
    pub stream: Name,
    /// The consumer.
    pub consumer: Name,
    /// Messages wanted at most (1 to `FETCH_BATCH_MAX`).
    #[schemars(range(min = 1, max = limits::FETCH_BATCH_MAX))]
    pub batch: u32,
    /// Bytes of messages wanted at most (as `size_bytes` counts them); the fetch stops before the
    /// message that would pass it, but returns at least one. The envelope's fetches together are
    /// bounded by `FETCH_BYTES_PER_ENVELOPE_MAX` whatever this says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_bytes: Option<u64>,
}

impl Apply for Fetch {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.fetch(context, &self.stream, &self.consumer, self.batch, self.max_bytes)
    }
}

/// Acknowledges deliveries: done, not done (nak), still working, or never (term). Only the holder of
/// each delivery, or the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    /// The stream.
    pub stream: Name,
    /// The consumer.
    pub consumer: Name,
    /// The stream sequences acknowledged, each once.
    #[schemars(length(min = 1, max = limits::ACK_SEQUENCES_MAX), extend("uniqueItems" = true))]
    #[schemars(inner(range(min = 1)))]
    pub sequences: Vec<u64>,
    /// `"ack"`, `{"nak": {"delay_ms"?, "error"?}}`, `"in_progress"` or `{"term": {"reason"?}}`.
    pub kind: AckKind,
}

impl Apply for Ack {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.ack(context, &self.stream, &self.consumer, &self.sequences, &self.kind)
    }
}

/// Publishes dead letters again into their original subjects and removes them from the stream's dead
/// letters. The stream's owner or the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayDeadLetters {
    /// The stream whose dead letters these are.
    pub stream: Name,
    /// Their ids, each once.
    #[schemars(length(min = 1, max = limits::DEAD_LETTERS_PER_COMMAND_MAX), extend("uniqueItems" = true))]
    pub dead_letters: Vec<u64>,
}

impl Apply for ReplayDeadLetters {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.replay_dead_letters(context, &self.stream, &self.dead_letters)
    }
}

/// Removes dead letters. The stream's owner or the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscardDeadLetters {
    /// The stream whose dead letters these are.
    pub stream: Name,
    /// Their ids, each once.
    #[schemars(length(min = 1, max = limits::DEAD_LETTERS_PER_COMMAND_MAX), extend("uniqueItems" = true))]
    pub dead_letters: Vec<u64>,
}

impl Apply for DiscardDeadLetters {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.discard_dead_letters(context, &self.stream, &self.dead_letters)
    }
}
