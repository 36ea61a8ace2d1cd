//! The message bus on the wire: what a publisher sends, what a subscriber receives, and how an
//! ephemeral publish is signed.
//!
//! A message follows the swarm's standard envelope: an id, a timestamp, the source agent, a subject,
//! a type, a priority, a correlation id, a reply-to subject, headers and a payload (any JSON value, or
//! bytes in base64), optionally signed by the sender and optionally encrypted to one recipient. The
//! server fills in the id, the timestamp and the source (the authenticated signer), so a receiver
//! always learns who really sent a message; it routes an encrypted payload without reading it.

// Problems are built only on the way out of a request, so their size on the error path does not matter.
#![allow(clippy::result_large_err)]

use colony_core::command::Publish;
use std::collections::BTreeMap;

use base64::Engine as _;
use colony_core::bus::{DeadLetter, Payload, StoredMessage, Subject};
use colony_core::{AgentId, Name, Signer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use colony_core::bus::message_rules::{MessageFault, check_headers, decode_payload};

use crate::problem::{Problem, ServerCode};

/// One publish request carries at most this many messages.
pub const MESSAGES_PER_PUBLISH_MAX: usize = 1_000;

/// Header carrying the publish nonce: Unix microseconds, increasing per signer.
pub const PUBLISH_NONCE_HEADER: &str = "colony-nonce";
/// How far a publish nonce (as a time) may be from the server's clock.
pub const PUBLISH_SKEW_MS: u64 = 5 * 60 * 1_000;

/// The bytes an ephemeral publish's signature covers: the signer (so another agent holding the same
/// key cannot claim it), the path with its query exactly as sent (so a signature for
/// `/v1/bus/publish` cannot be moved to `/v1/bus/request`, nor a request's `timeout_ms` changed),
/// the nonce and the exact body.
pub fn publish_signing_message(
    signer: &colony_core::Signer,
    path_and_query: &str,
    nonce_us: u64,
    body: &[u8],
) -> Vec<u8> {
    let mut message = format!("colony-publish-v2\n{signer}\n{path_and_query}\n{nonce_us}\n").into_bytes();
    message.extend_from_slice(body);
    message
}

/// A fresh reply subject for a request: `_INBOX.` and 128 random bits in hex, so that it cannot be
/// guessed by those who do not see the request. Whoever receives the request sees its `reply_to` and
/// could answer in the real responder's place: a requester that cares who answered checks the
/// reply's `source`, which the server vouches for.
pub fn reply_subject() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    format!("_INBOX.{}", hex::encode(bytes))
}

/// How urgent a message is (the seeds' four levels): the same type durable streams store.
pub use colony_core::bus::Priority;

fn is_normal(priority: &Priority) -> bool {
    *priority == Priority::Normal
}

/// A message as a publisher sends it to the ephemeral bus (`POST /v1/bus/publish`, a WebSocket `pub`
/// frame). The server adds the id, the timestamp and the source. [`EphemeralPublish::to_command`] turns
/// the same message into a durable publish command.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EphemeralPublish {
    /// Where the message goes (`market.price.aapl`); no wildcards.
    #[schemars(with = "Subject")]
    pub subject: String,
    /// What kind of message this is (`market_signal`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Name>")]
    pub message_type: Option<String>,
    /// How urgent it is.
    #[serde(default, skip_serializing_if = "is_normal")]
    pub priority: Priority,
    /// Ties a reply or a follow-up to the message it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Name>")]
    pub correlation_id: Option<String>,
    /// Where answers should go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Subject>")]
    pub reply_to: Option<String>,
    /// Free-form headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "colony_core::schema::message_headers")]
    pub headers: BTreeMap<String, String>,
    /// The content, as any JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<colony_core::bus::JsonText>")]
    pub payload: Option<Box<RawValue>>,
    /// The content as bytes, in standard base64 (instead of `payload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
    /// The sender's Ed25519 signature (hex) over the payload bytes: the JSON text exactly as sent, or
    /// the decoded bytes. The server passes it on; receivers verify it with the sender's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<colony_core::Signature>")]
    pub payload_signature: Option<String>,
    /// The agent the payload is encrypted to (then `payload_base64` is ciphertext the server cannot
    /// read and only routes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<AgentId>")]
    pub encrypted_to: Option<String>,
}

impl EphemeralPublish {
    /// A message with a JSON payload. Panics if `payload` cannot be encoded as JSON (a map with
    /// non-string keys, say); see [`EphemeralPublish::try_json`].
    pub fn json(subject: impl Into<String>, payload: &impl Serialize) -> EphemeralPublish {
        EphemeralPublish::try_json(subject, payload).expect("the payload encodes as JSON")
    }

    /// A message with a JSON payload, or why the payload cannot be encoded.
    pub fn try_json(
        subject: impl Into<String>,
        payload: &impl Serialize,
    ) -> Result<EphemeralPublish, serde_json::Error> {
        let text = serde_json::to_string(payload)?;
        Ok(EphemeralPublish {
            subject: subject.into(),
            payload: Some(RawValue::from_string(text)?),
            ..EphemeralPublish::default()
        })
    }

    /// A message whose payload is `plaintext` sealed to agent `recipient` (whose registered key is
    /// `recipient_key`): only that agent can open it; the server routes it unread.
    pub fn sealed(
        subject: impl Into<String>,
        recipient: &AgentId,
        recipient_key: &colony_core::PublicKey,
        plaintext: &[u8],
    ) -> Result<EphemeralPublish, crate::sealed::SealError> {
        let subject = subject.into();
        let binding = crate::sealed::binding(recipient.as_str(), &subject);
        let sealed = crate::sealed::seal(recipient_key, &binding, plaintext)?;
        Ok(EphemeralPublish {
            subject,
            payload_base64: Some(base64::engine::general_purpose::STANDARD.encode(sealed)),
            encrypted_to: Some(recipient.to_string()),
            ..EphemeralPublish::default()
        })
    }

    /// Checks every field; the problem names the first offending one (prefixed with `field_prefix`,
    /// such as `messages[3].`). Returns the parsed subject.
    pub fn validate(&self, field_prefix: &str) -> Result<Subject, Problem> {
        let invalid = |field: &str, detail: String| {
            Problem::new(ServerCode::InvalidMessage, detail).with_field(format!("{field_prefix}{field}"))
        };
        // A bad subject is `invalid_subject` wherever it is given: here, in a subscription, in a
        // durable publish.
        let invalid_subject = |field: &str, detail: String| {
            Problem::new(ServerCode::InvalidSubject, detail).with_field(format!("{field_prefix}{field}"))
        };
        let subject =
            Subject::new(self.subject.clone()).map_err(|error| invalid_subject("subject", error.to_string()))?;
        if colony_core::bus::server_only(&subject) {
            return Err(Problem::new(
                ServerCode::Forbidden,
                format!(
                    "subjects under {}. are the server's own (pheromone maps' changes); publish elsewhere",
                    colony_core::bus::SERVER_PREFIX
                ),
            )
            .with_field(format!("{field_prefix}subject")));
        }
        if let Some(message_type) = &self.message_type {
            Name::new(message_type.clone()).map_err(|error| invalid("type", format!("type: {error}")))?;
        }
        if let Some(correlation_id) = &self.correlation_id {
            Name::new(correlation_id.clone())
                .map_err(|error| invalid("correlation_id", format!("correlation_id: {error}")))?;
        }
        if let Some(reply_to) = &self.reply_to {
            Subject::new(reply_to.clone()).map_err(|error| invalid_subject("reply_to", error.to_string()))?;
        }
        for key in self.headers.keys() {
            Name::new(key.clone()).map_err(|error| invalid("headers", format!("header name '{key}': {error}")))?;
        }
        // The content rules are core's, the same for a durable publish; only the code differs.
        let fault = |fault: MessageFault| match fault {
            MessageFault::TooLarge { field } => {
                Problem::new(ServerCode::PayloadTooLarge, format!("{field} {}", fault.reason()))
                    .with_field(format!("{field_prefix}{field}"))
            }
            MessageFault::TooManyHeaders | MessageFault::Invalid { .. } => {
                invalid(fault.field(), format!("{} {}", fault.field(), fault.reason()))
            }
        };
        check_headers(self.headers.len(), self.headers.values().map(String::as_str)).map_err(fault)?;
        if let (Some(payload), None) = (&self.payload, &self.payload_base64)
            && payload.get().len() <= colony_core::limits::PAYLOAD_BYTES_MAX
        {
            // Kept byte for byte (payload signatures cover these bytes), but held to the same rules as
            // a durable payload, whose canonical form core decodes.
            colony_core::bus::JsonText::check(payload.get()).map_err(|problem| invalid("payload", problem))?;
        }
        decode_payload(
            self.payload.as_ref().map(|payload| payload.get()),
            self.payload_base64.as_deref(),
            self.encrypted_to.is_some(),
        )
        .map_err(fault)?;
        if let Some(signature) = &self.payload_signature
            && crate::envelope::parse_signature(signature).is_err()
        {
            return Err(invalid("payload_signature", "must be 128 hex characters (an Ed25519 signature)".to_owned()));
        }
        if let Some(recipient) = &self.encrypted_to {
            AgentId::new(recipient.clone())
                .map_err(|error| invalid("encrypted_to", format!("encrypted_to: {error}")))?;
        }
        Ok(subject)
    }

    /// The payload's bytes as the payload signature covers them.
    pub fn payload_bytes(&self) -> Option<Vec<u8>> {
        match (&self.payload, &self.payload_base64) {
            (Some(payload), _) => Some(payload.get().as_bytes().to_vec()),
            (None, Some(encoded)) => base64::engine::general_purpose::STANDARD.decode(encoded).ok(),
            (None, None) => None,
        }
    }

    /// The same message with a JSON payload rewritten in the canonical form durable streams store
    /// (compact, members in the order given, numbers in their shortest form). Sign the payload of a
    /// durable message after this, so that the signature covers exactly what receivers get.
    pub fn canonical(mut self) -> EphemeralPublish {
        if let Some(payload) = &self.payload
            && let Some(canonical) = colony_core::bus::JsonText::parse(payload.get())
        {
            self.payload = RawValue::from_string(canonical.into_string()).ok();
        }
        self
    }

    /// The durable `bus.publish` command for this message (stored by the stream that captures its
    /// subject), deduplicated by `message_id` when given.
    pub fn to_command(&self, message_id: Option<&str>) -> Result<colony_core::Command, Problem> {
        let subject = self.validate("")?;
        let invalid = |field: &str, detail: String| Problem::new(ServerCode::InvalidMessage, detail).with_field(field);
        let name = |field: &str, text: &Option<String>| {
            text.as_ref()
                .map(|text| Name::new(text.clone()).map_err(|error| invalid(field, format!("{field}: {error}"))))
                .transpose()
        };
        let headers = self
            .headers
            .iter()
            .map(|(key, value)| {
                Name::new(key.clone())
                    .map(|key| (key, value.clone()))
                    .map_err(|error| invalid("headers", format!("header name '{key}': {error}")))
            })
            .collect::<Result<_, _>>()?;
        let payload = match &self.payload {
            Some(payload) => Some(
                colony_core::bus::JsonText::parse(payload.get())
                    .ok_or_else(|| invalid("payload", "not a JSON value".to_owned()))?,
            ),
            None => None,
        };
        let payload_signature = match &self.payload_signature {
            Some(signature) => Some(colony_core::Signature(
                crate::envelope::parse_signature(signature)
                    .map_err(|_| invalid("payload_signature", "must be 128 hex characters".to_owned()))?,
            )),
            None => None,
        };
        Ok(colony_core::Command::Publish(Publish {
            subject,
            message_id: name("message_id", &message_id.map(str::to_owned))?,
            message_type: name("type", &self.message_type)?,
            priority: self.priority,
            correlation_id: name("correlation_id", &self.correlation_id)?,
            reply_to: self
                .reply_to
                .as_ref()
                .map(|reply_to| Subject::new(reply_to.clone()))
                .transpose()
                .map_err(|error| invalid("reply_to", error.to_string()))?,
            headers,
            payload,
            payload_base64: self.payload_base64.clone(),
            payload_signature,
            encrypted_to: self
                .encrypted_to
                .as_ref()
                .map(|agent| AgentId::new(agent.clone()))
                .transpose()
                .map_err(|error| invalid("encrypted_to", format!("encrypted_to: {error}")))?,
        }))
    }
}

/// A message as subscribers receive it: the publisher's fields plus what the server vouches for.
///
/// (The fields are spelled out rather than flattened from [`EphemeralPublish`]: serde cannot carry a
/// raw JSON payload through a flattened or internally tagged structure.)
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct BusMessage {
    /// Unique per message, assigned by the server.
    pub id: String,
    /// When the server accepted it (Unix milliseconds).
    pub timestamp_ms: u64,
    /// The authenticated sender: an agent id or `operator`.
    #[schemars(with = "Signer")]
    pub source: String,
    /// Where the message went.
    #[schemars(with = "Subject")]
    pub subject: String,
    /// What kind of message this is.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Name>")]
    pub message_type: Option<String>,
    /// How urgent it is.
    #[serde(default)]
    pub priority: Priority,
    /// Ties a reply or a follow-up to the message it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Name>")]
    pub correlation_id: Option<String>,
    /// Where answers should go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Subject>")]
    pub reply_to: Option<String>,
    /// Free-form headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "colony_core::schema::message_headers")]
    pub headers: BTreeMap<String, String>,
    /// The content, as the JSON text the publisher sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<colony_core::bus::JsonText>")]
    pub payload: Option<Box<RawValue>>,
    /// The content as base64 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
    /// The sender's signature over the payload bytes (hex), as the sender gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<colony_core::Signature>")]
    pub payload_signature: Option<String>,
    /// The agent the payload is encrypted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<AgentId>")]
    pub encrypted_to: Option<String>,
    /// The publisher's id for a durable message (what deduplication compares).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Name>")]
    pub message_id: Option<String>,
    /// The durable stream that stored the message, for messages delivered from a stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Name>")]
    pub stream: Option<String>,
    /// The message's sequence number in that stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_sequence: Option<u64>,
    /// How many times a durable consumer has delivered it (1 for the first delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_count: Option<u32>,
}

/// Equal when every field is, the payload compared as the exact JSON text (a raw JSON value has no
/// equality of its own).
impl PartialEq for BusMessage {
    fn eq(&self, other: &BusMessage) -> bool {
        self.id == other.id
            && self.timestamp_ms == other.timestamp_ms
            && self.source == other.source
            && self.subject == other.subject
            && self.message_type == other.message_type
            && self.priority == other.priority
            && self.correlation_id == other.correlation_id
            && self.reply_to == other.reply_to
            && self.headers == other.headers
            && self.payload.as_ref().map(|payload| payload.get()) == other.payload.as_ref().map(|payload| payload.get())
            && self.payload_base64 == other.payload_base64
            && self.payload_signature == other.payload_signature
            && self.encrypted_to == other.encrypted_to
            && self.message_id == other.message_id
            && self.stream == other.stream
            && self.stream_sequence == other.stream_sequence
            && self.delivery_count == other.delivery_count
    }
}

impl Eq for BusMessage {}

impl BusMessage {
    /// A message stored in durable stream `stream`; `id` is `<stream>:<sequence>`, unique in the
    /// swarm for the life of the log.
    pub fn from_stored(stream: &Name, message: &StoredMessage, delivery_count: Option<u32>) -> BusMessage {
        let (payload, payload_base64) = match &message.payload {
            Some(Payload::Json(text)) => (RawValue::from_string(text.clone()).ok(), None),
            Some(Payload::Bytes(bytes)) => (None, Some(base64::engine::general_purpose::STANDARD.encode(bytes))),
            None => (None, None),
        };
        BusMessage {
            id: format!("{stream}:{}", message.sequence),
            timestamp_ms: message.published_at_ms,
            source: message.source.to_string(),
            subject: message.subject.as_str().to_owned(),
            message_type: message.message_type.as_ref().map(ToString::to_string),
            priority: message.priority,
            correlation_id: message.correlation_id.as_ref().map(ToString::to_string),
            reply_to: message.reply_to.as_ref().map(ToString::to_string),
            headers: message.headers.iter().map(|(key, value)| (key.to_string(), value.clone())).collect(),
            payload,
            payload_base64,
            payload_signature: message.payload_signature.map(|signature| hex::encode(signature.0)),
            encrypted_to: message.encrypted_to.as_ref().map(ToString::to_string),
            message_id: message.message_id.as_ref().map(ToString::to_string),
            stream: Some(stream.to_string()),
            stream_sequence: Some(message.sequence),
            delivery_count,
        }
    }

    /// A message just accepted from `source`.
    pub fn new(id: String, timestamp_ms: u64, source: &Signer, content: EphemeralPublish) -> BusMessage {
        BusMessage {
            id,
            timestamp_ms,
            source: source.to_string(),
            subject: content.subject,
            message_type: content.message_type,
            priority: content.priority,
            correlation_id: content.correlation_id,
            reply_to: content.reply_to,
            headers: content.headers,
            payload: content.payload,
            payload_base64: content.payload_base64,
            payload_signature: content.payload_signature,
            encrypted_to: content.encrypted_to,
            message_id: None,
            stream: None,
            stream_sequence: None,
            delivery_count: None,
        }
    }

    /// The payload decoded as `T`, when it is JSON.
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self) -> Option<Result<T, serde_json::Error>> {
        self.payload.as_ref().map(|payload| serde_json::from_str(payload.get()))
    }

    /// Opens a payload sealed to `key` (see [`EphemeralPublish::sealed`]); it must have been sealed
    /// for this message's recipient and subject.
    pub fn open(&self, key: &crate::KeyPair) -> Result<Vec<u8>, crate::sealed::OpenError> {
        let sealed = self.payload_bytes().ok_or(crate::sealed::OpenError::Malformed)?;
        let recipient = self.encrypted_to.as_deref().ok_or(crate::sealed::OpenError::Malformed)?;
        crate::sealed::open(key, &crate::sealed::binding(recipient, &self.subject), &sealed)
    }

    /// The payload's bytes as the payload signature covers them.
    pub fn payload_bytes(&self) -> Option<Vec<u8>> {
        match (&self.payload, &self.payload_base64) {
            (Some(payload), _) => Some(payload.get().as_bytes().to_vec()),
            (None, Some(encoded)) => base64::engine::general_purpose::STANDARD.decode(encoded).ok(),
            (None, None) => None,
        }
    }
}

/// A dead letter: a message a durable consumer gave up on, and why.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeadLetterView {
    /// Its id among the stream's dead letters (what `dlq.replay` and `dlq.discard` name).
    pub id: u64,
    /// The consumer that gave up.
    pub consumer: String,
    /// How many times it was delivered.
    pub delivery_count: u32,
    /// The last error: a nak's, `ack wait expired`, or a termination's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// `max_deliver` or `terminated`.
    #[schemars(with = "colony_core::bus::DeadLetterReason")]
    pub reason: String,
    /// When (log time).
    pub dead_at_ms: u64,
    /// The message.
    pub message: BusMessage,
}

impl DeadLetterView {
    /// The view of a dead letter of `stream`.
    pub fn new(stream: &Name, dead_letter: &DeadLetter) -> DeadLetterView {
        DeadLetterView {
            id: dead_letter.id,
            consumer: dead_letter.consumer.to_string(),
            delivery_count: dead_letter.delivery_count,
            last_error: dead_letter.last_error.clone(),
            reason: match dead_letter.reason {
                colony_core::bus::DeadLetterReason::MaxDeliver => "max_deliver",
                colony_core::bus::DeadLetterReason::Terminated => "terminated",
            }
            .to_owned(),
            dead_at_ms: dead_letter.dead_at_ms,
            message: BusMessage::from_stored(stream, &dead_letter.message, Some(dead_letter.delivery_count)),
        }
    }
}

/// One page of a stream's messages.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct StreamMessagesPage {
    /// The messages, by sequence.
    pub messages: Vec<BusMessage>,
    /// Pass as `from` for the next page; absent when there is none yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_from: Option<u64>,
}

/// One page of a stream's dead letters.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeadLetterPage {
    /// The dead letters, oldest first.
    pub dead_letters: Vec<DeadLetterView>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

/// The answer to a publish: one entry per message, in order.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct PublishResponse {
    /// What happened to each message.
    pub messages: Vec<PublishedView>,
}

/// What happened to one published message.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct PublishedView {
    /// The id the server gave it.
    pub id: String,
    /// How many subscribers (a queue group counting once) it was handed to.
    pub delivered: u64,
}

/// The default wait for a reply.
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 5_000;
/// The longest wait for a reply.
pub const REQUEST_TIMEOUT_MS_MAX: u64 = 60_000;

/// Counters of the ephemeral bus, for `GET /v1/bus/stats`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct BusStatsView {
    /// Messages accepted for fan-out since the server started.
    pub published: u64,
    /// Messages handed to subscribers (one per subscriber or queue group).
    pub delivered: u64,
    /// Messages dropped from full subscriber buffers (oldest first).
    pub dropped: u64,
    /// Published messages that no subscriber matched.
    pub unmatched: u64,
    /// Bytes of messages waiting in subscribers' buffers now (all of them share one budget).
    #[serde(default)]
    pub buffered_bytes: u64,
    /// The subscriptions open now.
    pub subscriptions: Vec<SubscriptionView>,
}

/// One open subscription.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SubscriptionView {
    /// The server's id for it.
    pub id: u64,
    /// Who subscribed.
    pub owner: String,
    /// The subject pattern.
    pub subject: String,
    /// The queue group, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// `sse`, `websocket` or `request`.
    pub transport: String,
    /// Messages waiting in its buffer.
    pub pending: u64,
    /// Its buffer's size.
    pub capacity: u64,
    /// Messages delivered to it.
    pub delivered: u64,
    /// Messages dropped because its buffer was full.
    pub dropped: u64,
}

/// What a WebSocket client's frame asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientOp {
    /// Subscribe `sid` to `subject` (optionally in `queue`).
    Sub,
    /// End subscription `sid`.
    Unsub,
    /// Publish `message`; there is no answer unless it is refused (an `error` naming `tag`).
    Pub,
    /// Publish `message` as a request and answer with the first reply (`rid` names it).
    Request,
    /// Answered with `pong` once every earlier frame has been handled.
    Ping,
}

/// A frame a WebSocket client sends, as JSON text: `{"op": "sub", "sid": "1", "subject": "a.>"}`.
///
/// One flat shape for every operation (rather than a tagged enum) so that a raw JSON payload can be
/// carried inside `message` without being parsed twice.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientFrame {
    /// What the frame asks for.
    pub op: ClientOp,
    /// The client's id for a subscription (`sub`, `unsub`), echoed on every message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The subject pattern (`sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The queue group (`sub`): each message goes to one member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// A tag echoed in an error about this frame (`pub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The client's id for a request (`request`), echoed on the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    /// How long to wait for a reply (`request`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The message (`pub`, `request`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<EphemeralPublish>,
}

impl ClientFrame {
    fn empty(op: ClientOp) -> ClientFrame {
        ClientFrame { op, sid: None, subject: None, queue: None, tag: None, rid: None, timeout_ms: None, message: None }
    }

    /// `sub`.
    pub fn subscribe(sid: impl Into<String>, subject: impl Into<String>, queue: Option<String>) -> ClientFrame {
        ClientFrame { sid: Some(sid.into()), subject: Some(subject.into()), queue, ..ClientFrame::empty(ClientOp::Sub) }
    }

    /// `unsub`.
    pub fn unsubscribe(sid: impl Into<String>) -> ClientFrame {
        ClientFrame { sid: Some(sid.into()), ..ClientFrame::empty(ClientOp::Unsub) }
    }

    /// `pub`.
    pub fn publish(message: EphemeralPublish) -> ClientFrame {
        ClientFrame { message: Some(message), ..ClientFrame::empty(ClientOp::Pub) }
    }

    /// `request`.
    pub fn request(rid: impl Into<String>, timeout_ms: u64, message: EphemeralPublish) -> ClientFrame {
        ClientFrame {
            rid: Some(rid.into()),
            timeout_ms: Some(timeout_ms),
            message: Some(message),
            ..ClientFrame::empty(ClientOp::Request)
        }
    }

    /// `ping`.
    pub fn ping() -> ClientFrame {
        ClientFrame::empty(ClientOp::Ping)
    }
}

/// What a server frame says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerOp {
    /// Subscription `sid` is open.
    Ok,
    /// `message` for subscription `sid`.
    Msg,
    /// `count` messages were dropped from subscription `sid`'s full buffer since the last notice
    /// (`total` in all).
    Dropped,
    /// `message` answers request `rid`.
    Reply,
    /// A frame was refused: `problem` says why, `about` names the subscription, request or tag.
    Error,
    /// The answer to `ping`.
    Pong,
}

/// A frame the server sends a WebSocket client, as JSON text.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerFrame {
    /// What the frame says.
    pub op: ServerOp,
    /// The subscription (`ok`, `msg`, `dropped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The request (`reply`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    /// The subscription, request or tag an error is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    /// Messages dropped since the last notice (`dropped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Messages dropped in all (`dropped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// The message (`msg`, `reply`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<BusMessage>,
    /// Why a frame was refused (`error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

impl ServerFrame {
    /// A frame saying `op` with nothing else.
    pub fn new(op: ServerOp) -> ServerFrame {
        ServerFrame { op, sid: None, rid: None, about: None, count: None, total: None, message: None, problem: None }
    }

    /// An `error` frame.
    pub fn error(about: Option<String>, problem: Problem) -> ServerFrame {
        ServerFrame { about, problem: Some(problem), ..ServerFrame::new(ServerOp::Error) }
    }
}
