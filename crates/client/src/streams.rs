//! Durable streams from the client's side: create streams and consumers, publish durably, pull,
//! acknowledge, and inspect and replay dead letters. Every change is a signed command in the log.
//!
//! ```no_run
//! # async fn example(client: colony_client::Client) -> Result<(), colony_client::ClientError> {
//! use colony_client::streams::{consumer_config, stream_config};
//! use colony_core::bus::AckKind;
//! use colony_wire::bus::EphemeralPublish;
//! client.create_stream("signals", stream_config(&["market.signal.>"])?).await?;
//! client.create_consumer("signals", "executors", consumer_config()).await?;
//! let stored = client.publish_durable(&EphemeralPublish::json("market.signal.spread", &12), Some("s-1")).await?;
//! for message in client.fetch("signals", "executors", 10).await? {
//!     client.ack("signals", "executors", &[message.stream_sequence.unwrap()], AckKind::Ack).await?;
//! }
//! # let _ = stored; Ok(()) }
//! ```

use colony_core::bus::{
    AckKind, ConsumerConfig, ConsumerInfo, DeliverPolicy, Discard, Pattern, StreamConfig, StreamInfo,
};
use colony_core::command::{
    Ack, CreateConsumer, CreateStream, DeleteConsumer, DeleteStream, DiscardDeadLetters, Fetch, ReplayDeadLetters,
};
use colony_core::{Command, Name, limits};
use colony_wire::bus::{BusMessage, DeadLetterPage, EphemeralPublish, StreamMessagesPage};
use colony_wire::views::{CommandResultView, SubmitResponse};

use crate::{Client, ClientError};

/// A stream configuration capturing `subjects`, with the defaults: no message, byte or age limit
/// beyond the server's, discard the oldest when full, two-minute deduplication window.
pub fn stream_config(subjects: &[&str]) -> Result<StreamConfig, ClientError> {
    let subjects = subjects
        .iter()
        .map(|subject| {
            Pattern::new(*subject).map_err(|error| ClientError::Invalid(format!("subject '{subject}': {error}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(StreamConfig {
        subjects,
        max_messages: None,
        max_bytes: None,
        max_age_ms: None,
        discard: Discard::Old,
        duplicate_window_ms: limits::DUPLICATE_WINDOW_MS_DEFAULT,
    })
}

/// A consumer configuration with the defaults: deliver everything stored, 30 s ack wait, five
/// deliveries at most, no backoff, 1,000 pending at most.
pub fn consumer_config() -> ConsumerConfig {
    ConsumerConfig {
        filter: None,
        deliver: DeliverPolicy::All,
        ack_wait_ms: limits::ACK_WAIT_MS_DEFAULT,
        max_deliver: limits::MAX_DELIVER_DEFAULT,
        backoff_ms: Vec::new(),
        max_ack_pending: limits::MAX_ACK_PENDING_DEFAULT,
        agents: Default::default(),
        roles: Default::default(),
    }
}

/// Where a durable publish was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The stream that captured the subject.
    pub stream: String,
    /// Its sequence there (for a duplicate, the original's).
    pub sequence: u64,
    /// Whether the message id had been seen within the stream's duplicate window (nothing was
    /// stored again).
    pub duplicate: bool,
}

impl Stored {
    /// Reads a `bus.publish` result.
    pub fn from_view(view: &CommandResultView) -> Result<Stored, ClientError> {
        match (&view.stream, view.stream_sequence) {
            (Some(stream), Some(sequence)) => {
                Ok(Stored { stream: stream.clone(), sequence, duplicate: view.status.as_deref() == Some("duplicate") })
            }
            _ => Err(ClientError::Decode(format!("a publish result without its stream: {view:?}"))),
        }
    }
}

fn name(field: &str, text: &str) -> Result<Name, ClientError> {
    Name::new(text).map_err(|error| ClientError::Invalid(format!("{field} '{text}': {error}")))
}

fn single(response: SubmitResponse) -> Result<CommandResultView, ClientError> {
    response.results.into_iter().next().ok_or_else(|| ClientError::Decode("a write answered no result".to_owned()))
}

impl Client {
    /// Creates a stream (the same configuration again is `unchanged`).
    pub async fn create_stream(&self, stream: &str, config: StreamConfig) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::CreateStream(CreateStream {
            name: name("stream", stream)?,
            subjects: config.subjects,
            max_messages: config.max_messages,
            max_bytes: config.max_bytes,
            max_age_ms: config.max_age_ms,
            discard: config.discard,
            duplicate_window_ms: config.duplicate_window_ms,
        }))
        .await
    }

    /// Deletes a stream with its messages, consumers and dead letters.
    pub async fn delete_stream(&self, stream: &str) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::DeleteStream(DeleteStream { name: name("stream", stream)? })).await
    }

    /// Publishes durably: the stream capturing the subject stores the message once the write is
    /// durable. With `message_id`, a repeat within the stream's duplicate window stores nothing.
    pub async fn publish_durable(
        &self,
        message: &EphemeralPublish,
        message_id: Option<&str>,
    ) -> Result<Stored, ClientError> {
        let command = message.to_command(message_id).map_err(|problem| ClientError::Problem(Box::new(problem)))?;
        Stored::from_view(&single(self.submit_one(command).await?)?)
    }

    /// Publishes many messages durably in one envelope (one signature, one log entry); each is
    /// stored or refused on its own.
    pub async fn publish_durable_many(
        &self,
        messages: &[(EphemeralPublish, Option<String>)],
    ) -> Result<SubmitResponse, ClientError> {
        let mut commands = Vec::with_capacity(messages.len());
        for (message, message_id) in messages {
            commands.push(
                message.to_command(message_id.as_deref()).map_err(|problem| ClientError::Problem(Box::new(problem)))?,
            );
        }
        self.submit_batch(commands).await
    }

    /// Creates a pull consumer (the same configuration again is `unchanged`).
    pub async fn create_consumer(
        &self,
        stream: &str,
        consumer: &str,
        config: ConsumerConfig,
    ) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::CreateConsumer(CreateConsumer {
            stream: name("stream", stream)?,
            name: name("consumer", consumer)?,
            filter: config.filter,
            deliver: config.deliver,
            ack_wait_ms: config.ack_wait_ms,
            max_deliver: config.max_deliver,
            backoff_ms: config.backoff_ms,
            max_ack_pending: config.max_ack_pending,
            agents: config.agents,
            roles: config.roles,
        }))
        .await
    }

    /// Deletes a consumer.
    pub async fn delete_consumer(&self, stream: &str, consumer: &str) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::DeleteConsumer(DeleteConsumer {
            stream: name("stream", stream)?,
            name: name("consumer", consumer)?,
        }))
        .await
    }

    /// Pulls up to `batch` messages (redeliveries first); each is held by this client's identity until
    /// it acks it or its ack wait passes. Returns at once, possibly with none.
    pub async fn fetch(&self, stream: &str, consumer: &str, batch: u32) -> Result<Vec<BusMessage>, ClientError> {
        self.fetch_bytes(stream, consumer, batch, None).await
    }

    /// [`Client::fetch`] of at most `max_bytes` of messages (at least one message is returned when
    /// any is due); what does not fit stays for the next fetch.
    pub async fn fetch_bytes(
        &self,
        stream: &str,
        consumer: &str,
        batch: u32,
        max_bytes: Option<u64>,
    ) -> Result<Vec<BusMessage>, ClientError> {
        let command = Command::Fetch(Fetch {
            stream: name("stream", stream)?,
            consumer: name("consumer", consumer)?,
            batch,
            max_bytes,
        });
        Ok(single(self.submit_one(command).await?)?.deliveries.unwrap_or_default())
    }

    /// Like [`Client::fetch`], but when nothing is due the server holds the request until something
    /// is (a new message, a redelivery) or `wait_ms` passes (at most 30,000), then fetches: a long
    /// poll, so an idle worker needs neither a loop of empty fetches nor their log entries.
    pub async fn fetch_wait(
        &self,
        stream: &str,
        consumer: &str,
        batch: u32,
        wait_ms: u64,
    ) -> Result<Vec<BusMessage>, ClientError> {
        let command = Command::Fetch(Fetch {
            stream: name("stream", stream)?,
            consumer: name("consumer", consumer)?,
            batch,
            max_bytes: None,
        });
        let identity = self.identity_or_error()?;
        // The server holds this envelope before it is logged. Its nonce is taken from the end of the
        // wait, beyond what this identity will use meanwhile, so that the envelopes it sends while it
        // waits (acks from another task, say) cannot push it out of the server's nonce window.
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|duration| duration.as_micros() as u64)
            .unwrap_or(0);
        let nonce = identity.next_nonce().max(now_us + wait_ms.min(30_000) * 1_000 + 1);
        let signed = colony_wire::Envelope { signer: identity.signer().clone(), nonce, commands: vec![command] }
            .sign(identity.key());
        let request = self
            .http
            .post(format!("{}/v1/commands", self.base_url))
            .header("content-type", "application/json")
            .header(colony_wire::read_auth::READ_SIGNER_HEADER, identity.signer().to_string())
            .header(colony_wire::envelope::SIGNATURE_HEADER, hex::encode(signed.signature))
            .header("colony-wait-ms", wait_ms.to_string())
            .body(signed.body);
        let response: SubmitResponse = self.send(request).await?;
        Ok(single(response)?.deliveries.unwrap_or_default())
    }

    /// Acknowledges deliveries by stream sequence: `Ack`, `Nak`, `InProgress` or `Term`.
    pub async fn ack(
        &self,
        stream: &str,
        consumer: &str,
        sequences: &[u64],
        kind: AckKind,
    ) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::Ack(Ack {
            stream: name("stream", stream)?,
            consumer: name("consumer", consumer)?,
            sequences: sequences.to_vec(),
            kind,
        }))
        .await
    }

    /// Publishes dead letters again into their original subjects; returns where each went.
    pub async fn replay_dead_letters(&self, stream: &str, ids: &[u64]) -> Result<Vec<(String, u64)>, ClientError> {
        let command = Command::ReplayDeadLetters(ReplayDeadLetters {
            stream: name("stream", stream)?,
            dead_letters: ids.to_vec(),
        });
        Ok(single(self.submit_one(command).await?)?.replayed.unwrap_or_default())
    }

    /// Removes dead letters.
    pub async fn discard_dead_letters(&self, stream: &str, ids: &[u64]) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::DiscardDeadLetters(DiscardDeadLetters {
            stream: name("stream", stream)?,
            dead_letters: ids.to_vec(),
        }))
        .await
    }

    /// Every stream.
    pub async fn streams(&self) -> Result<Vec<StreamInfo>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Streams {
            streams: Vec<StreamInfo>,
        }
        Ok(self.get::<Streams>("/v1/streams").await?.streams)
    }

    /// One stream's configuration and counts.
    pub async fn stream_info(&self, stream: &str) -> Result<StreamInfo, ClientError> {
        self.get(&format!("/v1/streams/{}", name("stream", stream)?)).await
    }

    /// Stored messages from sequence `from`, at most `limit`.
    pub async fn stream_messages(
        &self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<StreamMessagesPage, ClientError> {
        self.get(&format!("/v1/streams/{}/messages?from={from}&limit={limit}", name("stream", stream)?)).await
    }

    /// A consumer's position and counts.
    pub async fn consumer_info(&self, stream: &str, consumer: &str) -> Result<ConsumerInfo, ClientError> {
        self.get(&format!("/v1/streams/{}/consumers/{}", name("stream", stream)?, name("consumer", consumer)?)).await
    }

    /// A page of dead letters with ids above `after`.
    pub async fn dead_letters(
        &self,
        stream: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<DeadLetterPage, ClientError> {
        let after = after.map_or(String::new(), |after| format!("&after={after}"));
        self.get(&format!("/v1/streams/{}/dead_letters?limit={limit}{after}", name("stream", stream)?)).await
    }
}
