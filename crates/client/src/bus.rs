//! The ephemeral bus from the client's side: publish, request/reply, subscriptions over SSE, and a
//! WebSocket connection for high rates in both directions.
//!
//! ```no_run
//! # async fn example(client: colony_client::Client) -> Result<(), colony_client::ClientError> {
//! use colony_client::bus::BusItem;
//! use colony_wire::bus::EphemeralPublish;
//! let mut prices = client.subscribe("market.price.*", None).await?;
//! client.publish(EphemeralPublish::json("market.price.aapl", &serde_json::json!({ "close": 187.2 }))).await?;
//! if let Some(Ok(BusItem::Message(message))) = prices.next().await {
//!     println!("{} from {}", message.subject, message.source);
//! }
//! # Ok(()) }
//! ```

use colony_wire::bus::{
    BusMessage, ClientFrame, EphemeralPublish, PUBLISH_NONCE_HEADER, PublishResponse, PublishedView, ServerFrame,
    publish_signing_message,
};
use colony_wire::read_auth::{READ_SIGNATURE_HEADER, READ_SIGNER_HEADER};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::events::SseFrames;
use crate::{Client, ClientError, problem_from};

impl Client {
    /// Publishes one ephemeral message; says how many subscribers received it.
    pub async fn publish(&self, message: EphemeralPublish) -> Result<PublishedView, ClientError> {
        let body = serde_json::to_vec(&message).map_err(|error| ClientError::Invalid(error.to_string()))?;
        let mut response: PublishResponse = self.post_publish("/v1/bus/publish", "", body).await?;
        response.messages.pop().ok_or_else(|| ClientError::Decode("the server answered no message".to_owned()))
    }

    /// Publishes `plaintext` sealed to agent `recipient` (its key is read from the registry), so
    /// that only that agent can read it; the server routes it unread.
    pub async fn publish_sealed(
        &self,
        subject: &str,
        recipient: &colony_core::AgentId,
        plaintext: &[u8],
    ) -> Result<PublishedView, ClientError> {
        let key = self.agent(recipient).await?.public_key;
        let message = EphemeralPublish::sealed(subject, recipient, &key, plaintext)
            .map_err(|error| ClientError::Invalid(error.to_string()))?;
        self.publish(message).await
    }

    /// Publishes several ephemeral messages in one request (at most 1,000).
    pub async fn publish_many(&self, messages: &[EphemeralPublish]) -> Result<Vec<PublishedView>, ClientError> {
        let body = serde_json::to_vec(messages).map_err(|error| ClientError::Invalid(error.to_string()))?;
        let response: PublishResponse = self.post_publish("/v1/bus/publish", "", body).await?;
        Ok(response.messages)
    }

    /// Publishes `message` as a request and waits up to `timeout_ms` for the first reply. Fails with
    /// `no_responders` when nobody listens on the subject, `request_timeout` when nobody answers.
    pub async fn request(&self, message: EphemeralPublish, timeout_ms: u64) -> Result<BusMessage, ClientError> {
        let body = serde_json::to_vec(&message).map_err(|error| ClientError::Invalid(error.to_string()))?;
        self.post_publish("/v1/bus/request", &format!("?timeout_ms={timeout_ms}"), body).await
    }

    async fn post_publish<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let identity = self.identity_or_error()?;
        let nonce = identity.next_nonce();
        let path_and_query = format!("{path}{query}");
        let signature = identity.key().sign(&publish_signing_message(identity.signer(), &path_and_query, nonce, &body));
        let request = self
            .http
            .post(format!("{}{path_and_query}", self.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(READ_SIGNER_HEADER, identity.signer().to_string())
            .header(PUBLISH_NONCE_HEADER, nonce.to_string())
            .header(READ_SIGNATURE_HEADER, hex::encode(signature))
            .body(body);
        self.send(request).await
    }

    /// Subscribes over server-sent events to `pattern` (NATS wildcards), optionally as a member of
    /// `queue`.
    pub async fn subscribe(&self, pattern: &str, queue: Option<&str>) -> Result<BusSubscription, ClientError> {
        self.subscribe_with_buffer(pattern, queue, None).await
    }

    /// [`Client::subscribe`] with the server-side buffer size (messages; the oldest are dropped
    /// beyond it).
    pub async fn subscribe_with_buffer(
        &self,
        pattern: &str,
        queue: Option<&str>,
        buffer: Option<usize>,
    ) -> Result<BusSubscription, ClientError> {
        let mut path = format!("/v1/bus/subscribe?subject={}", encode_query(pattern));
        if let Some(queue) = queue {
            path.push_str(&format!("&queue={}", encode_query(queue)));
        }
        if let Some(buffer) = buffer {
            path.push_str(&format!("&buffer={buffer}"));
        }
        let response =
            self.authenticated_get(&path)?.send().await.map_err(|error| ClientError::Transport(error.to_string()))?;
        if !response.status().is_success() {
            return Err(problem_from(response).await);
        }
        Ok(BusSubscription { frames: SseFrames::new(response) })
    }

    /// Bus counters and open subscriptions.
    pub async fn bus_stats(&self) -> Result<colony_wire::bus::BusStatsView, ClientError> {
        self.get("/v1/bus/stats").await
    }

    /// Opens a WebSocket to the bus, authenticated as this client's identity (or read token, which
    /// may subscribe but not publish).
    pub async fn connect_bus(&self) -> Result<BusConnection, ClientError> {
        let path = "/v1/bus/ws";
        let url = format!("{}{path}", self.base_url.replacen("http", "ws", 1));
        let mut request = url.into_client_request().map_err(|error| ClientError::Invalid(error.to_string()))?;
        // The upgrade is a GET with read credentials: copy them from an authenticated reqwest request.
        let credentials =
            self.authenticated_get(path)?.build().map_err(|error| ClientError::Invalid(error.to_string()))?;
        for (name, value) in credentials.headers() {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        // Nagle's algorithm off: a bus connection sends many small frames, which would otherwise wait
        // for the server's delayed acknowledgements.
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(request, None, true).await.map_err(|error| match error {
                tokio_tungstenite::tungstenite::Error::Http(response) => {
                    let body = response.body().as_deref().unwrap_or_default();
                    match serde_json::from_slice::<colony_wire::Problem>(body) {
                        Ok(problem) => ClientError::Problem(Box::new(problem)),
                        Err(_) => ClientError::Transport(format!("the upgrade was refused: {}", response.status())),
                    }
                }
                other => ClientError::Transport(other.to_string()),
            })?;
        let (sender, receiver) = socket.split();
        Ok(BusConnection {
            sender: BusSender { sink: sender },
            receiver: BusReceiver { stream: receiver, kept: std::collections::VecDeque::new() },
        })
    }
}

/// What a subscription yields.
#[derive(Debug)]
pub enum BusItem {
    /// A message.
    Message(Box<BusMessage>),
    /// The server dropped this many of the subscription's oldest messages because its buffer was
    /// full (`total` since it began).
    Dropped {
        /// Since the last notice.
        count: u64,
        /// In all.
        total: u64,
    },
}

/// A subscription over server-sent events.
pub struct BusSubscription {
    frames: SseFrames,
}

impl std::fmt::Debug for BusSubscription {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("BusSubscription")
    }
}

impl BusSubscription {
    /// The next message or drop notice; `None` when the server ends the stream.
    pub async fn next(&mut self) -> Option<Result<BusItem, ClientError>> {
        let (kind, data) = match self.frames.next().await? {
            Ok(frame) => frame,
            Err(error) => return Some(Err(error)),
        };
        let decode = |error: serde_json::Error| ClientError::Decode(error.to_string());
        Some(if kind == "dropped" {
            #[derive(serde::Deserialize)]
            struct Dropped {
                count: u64,
                total: u64,
            }
            serde_json::from_str::<Dropped>(&data)
                .map(|dropped| BusItem::Dropped { count: dropped.count, total: dropped.total })
                .map_err(decode)
        } else {
            serde_json::from_str::<BusMessage>(&data).map(|message| BusItem::Message(Box::new(message))).map_err(decode)
        })
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket connection to the bus. Split it to send and receive from different tasks.
pub struct BusConnection {
    /// The sending half.
    pub sender: BusSender,
    /// The receiving half.
    pub receiver: BusReceiver,
}

impl BusConnection {
    /// Sends one frame.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        self.sender.send(frame).await
    }

    /// The next frame from the server.
    pub async fn next(&mut self) -> Option<Result<ServerFrame, ClientError>> {
        self.receiver.next().await
    }

    /// Subscribes and waits for the server's `ok` (or its error). Frames arriving meanwhile (messages
    /// of other subscriptions, say) are kept, in order, for the following calls to `next`.
    pub async fn subscribe(&mut self, sid: &str, pattern: &str, queue: Option<&str>) -> Result<(), ClientError> {
        self.send(&ClientFrame::subscribe(sid, pattern, queue.map(str::to_owned))).await?;
        loop {
            let frame = self
                .receiver
                .read()
                .await
                .ok_or_else(|| ClientError::Transport("the connection closed".to_owned()))??;
            match frame.op {
                colony_wire::bus::ServerOp::Ok if frame.sid.as_deref() == Some(sid) => return Ok(()),
                colony_wire::bus::ServerOp::Error if frame.about.as_deref() == Some(sid) => {
                    return Err(match frame.problem {
                        Some(problem) => ClientError::Problem(Box::new(problem)),
                        None => ClientError::Decode(format!("an error frame about '{sid}' without a problem document")),
                    });
                }
                _ => self.receiver.kept.push_back(frame),
            }
        }
    }

    /// Splits the connection into its halves.
    pub fn split(self) -> (BusSender, BusReceiver) {
        (self.sender, self.receiver)
    }
}

/// The sending half of a bus connection.
pub struct BusSender {
    sink: futures_util::stream::SplitSink<Socket, Message>,
}

impl BusSender {
    /// Sends one frame.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        let text = serde_json::to_string(frame).map_err(|error| ClientError::Invalid(error.to_string()))?;
        self.sink.send(Message::text(text)).await.map_err(|error| ClientError::Transport(error.to_string()))
    }

    /// Sends several frames and flushes once: the fast path for many publishes.
    pub async fn send_all(&mut self, frames: &[ClientFrame]) -> Result<(), ClientError> {
        for frame in frames {
            let text = serde_json::to_string(frame).map_err(|error| ClientError::Invalid(error.to_string()))?;
            self.sink.feed(Message::text(text)).await.map_err(|error| ClientError::Transport(error.to_string()))?;
        }
        self.sink.flush().await.map_err(|error| ClientError::Transport(error.to_string()))
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.sink.close().await;
    }
}

/// The receiving half of a bus connection.
pub struct BusReceiver {
    stream: futures_util::stream::SplitStream<Socket>,
    /// Frames read while `BusConnection::subscribe` waited for its answer, not yet handed out.
    kept: std::collections::VecDeque<ServerFrame>,
}

impl BusReceiver {
    /// The next frame from the server; `None` when the connection ends.
    pub async fn next(&mut self) -> Option<Result<ServerFrame, ClientError>> {
        if let Some(frame) = self.kept.pop_front() {
            return Some(Ok(frame));
        }
        self.read().await
    }

    /// The next frame off the socket.
    async fn read(&mut self) -> Option<Result<ServerFrame, ClientError>> {
        loop {
            return match self.stream.next().await? {
                Ok(Message::Text(text)) => {
                    Some(serde_json::from_str(&text).map_err(|error| ClientError::Decode(error.to_string())))
                }
                Ok(Message::Close(_)) => None,
                Ok(_) => continue,
                Err(error) => Some(Err(ClientError::Transport(error.to_string()))),
            };
        }
    }
}

/// Percent-encodes a query value (subjects hold `>` and `*`; names hold `:`).
fn encode_query(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
