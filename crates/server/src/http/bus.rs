//! The ephemeral bus over HTTP: publish, request/reply, a server-sent event subscription, statistics.
//!
//! Publishes are signed like envelopes but are not logged: the headers `colony-signer`,
//! `colony-nonce` (Unix microseconds, increasing per signer) and `colony-signature` (over
//! `colony-publish-v2\n<signer>\n<path?query>\n<nonce>\n` followed by the exact body). Subscriptions are reads and
//! take read credentials.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use colony_core::bus::Pattern;
use colony_core::{Name, Signer};
use colony_wire::bus::{
    EphemeralPublish, MESSAGES_PER_PUBLISH_MAX, PUBLISH_NONCE_HEADER, PUBLISH_SKEW_MS, PublishResponse,
    REQUEST_TIMEOUT_MS_DEFAULT, REQUEST_TIMEOUT_MS_MAX, publish_signing_message,
};
use colony_wire::problem::ServerCode;
use colony_wire::read_auth::{READ_SIGNATURE_HEADER, READ_SIGNER_HEADER};
use futures_util::StreamExt as _;
use serde::Deserialize;
use tokio::sync::Notify;

use super::auth::Reader;
use super::body::{SignedBody, read_signed_body};
use super::extract::QueryParameters;
use super::{ApiError, AppState, ValidQuery};
use crate::bus::router::{BUFFER_MESSAGES_DEFAULT, STALLED_READER_TIMEOUT};
use crate::bus::{SubscribeRequest, Transport, check_may_publish};
use colony_core::bus::REPLY_PREFIX;

/// Bodies of `POST /v1/bus/publish` are at most this large (a thousand messages of a few KiB).
pub const PUBLISH_BODY_BYTES_MAX: usize = 4 << 20;
/// Messages an event stream takes from its buffer at a time.
const SSE_BATCH_MESSAGES_MAX: usize = 32;
/// Replies a request keeps until it takes the first.
const REPLIES_BUFFERED: usize = 8;
/// Messages a subscriber takes from its buffer per write.
pub(crate) const BATCH_MESSAGES_MAX: usize = 256;

/// `POST /v1/bus/publish`: one message (a JSON object) or several (an array).
pub async fn publish(State(app): State<AppState>, request: Request) -> Result<Json<PublishResponse>, ApiError> {
    let body = authenticate_publish(&app, request).await?;
    let signer = body.signer.clone();
    let body = &body.bytes;
    let messages = decode_messages(body)?;
    let is_array = body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[');
    let mut subjects = Vec::with_capacity(messages.len());
    for (index, message) in messages.iter().enumerate() {
        let prefix = if is_array { format!("[{index}].") } else { String::new() };
        subjects.push(message.validate(&prefix)?);
    }
    let now_ms = app.clock.now_ms();
    let published = messages
        .into_iter()
        .zip(subjects)
        .map(|(message, subject)| app.bus.publish(&signer, now_ms, &subject, message))
        .collect();
    Ok(Json(PublishResponse { messages: published }))
}

/// Query of `POST /v1/bus/request`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestQuery {
    timeout_ms: Option<u64>,
}

/// How long `POST /v1/bus/request` waits for a reply, checked.
#[derive(Debug)]
pub struct RequestTimeout {
    timeout_ms: u64,
}

impl QueryParameters for RequestTimeout {
    type Decoded = RequestQuery;
    const UNDECODABLE_FIELD: &'static str = "timeout_ms";

    fn validate(query: RequestQuery) -> Result<RequestTimeout, ApiError> {
        let timeout_ms = query.timeout_ms.unwrap_or(REQUEST_TIMEOUT_MS_DEFAULT);
        check_timeout(timeout_ms)?;
        Ok(RequestTimeout { timeout_ms })
    }
}

/// `POST /v1/bus/request?timeout_ms=N`: publishes the message with a fresh reply subject and answers
/// with the first reply. `no_responders` (503) at once when nobody is subscribed to the subject;
/// `request_timeout` (504) when nobody answers in time.
pub async fn request(
    State(app): State<AppState>,
    // Checked before the signature's nonce is spent, so a bad timeout costs the caller nothing.
    ValidQuery(RequestTimeout { timeout_ms }): ValidQuery<RequestTimeout>,
    request: Request,
) -> Result<Response, ApiError> {
    let body = authenticate_publish(&app, request).await?;
    let message: EphemeralPublish = serde_json::from_slice(&body.bytes)
        .map_err(|error| ApiError::new(ServerCode::MalformedRequest, error.to_string()))?;
    let signer = body.signer.clone();
    // The body's bytes leave the budget before the wait for a reply.
    drop(body);
    let reply = request_reply(&app, &signer, message, timeout_ms).await?;
    // The reply is already JSON text, sent as it is rather than decoded and encoded again.
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], reply.to_string()).into_response())
}

/// Publishes `message` as a request from `signer` and waits for the first reply (its JSON text).
pub(crate) async fn request_reply(
    app: &AppState,
    signer: &Signer,
    mut message: EphemeralPublish,
    timeout_ms: u64,
) -> Result<crate::bus::Outgoing, ApiError> {
    check_timeout(timeout_ms)?;
    let subject = message.validate("")?;
    check_may_publish(&*app.state()?, signer)?;
    let reply_subject = colony_wire::bus::reply_subject();
    debug_assert!(reply_subject.starts_with(REPLY_PREFIX));
    let reply_pattern = Pattern::new(reply_subject.clone()).expect("reply subjects are valid");
    let notify = Arc::new(Notify::new());
    let waiter = app.bus.router.subscribe(
        SubscribeRequest {
            owner: Some(signer.clone()),
            pattern: reply_pattern,
            queue: None,
            // Room for several replies, so that a second responder cannot push the first reply out
            // of the buffer (it drops its oldest when full) before the waiter takes it.
            buffer_messages: REPLIES_BUFFERED,
            transport: Transport::Request,
        },
        notify,
    )?;
    message.reply_to = Some(reply_subject);
    let published = app.bus.publish(signer, app.clock.now_ms(), &subject, message);
    if published.delivered == 0 {
        return Err(ApiError::new(
            ServerCode::NoResponders,
            format!("nobody is subscribed to '{subject}'; nothing can answer this request"),
        )
        .with_field("subject"));
    }
    let mut replies = Vec::with_capacity(REPLIES_BUFFERED);
    let waited = tokio::time::timeout(Duration::from_millis(timeout_ms), async {
        loop {
            match waiter.subscriber().mailbox().recv(&mut replies, 1).await {
                Some(_) if !replies.is_empty() => return Some(replies.swap_remove(0)),
                Some(_) => continue,
                None => return None,
            }
        }
    })
    .await;
    match waited {
        Ok(Some(reply)) => Ok(reply),
        _ => Err(ApiError::new(
            ServerCode::RequestTimeout,
            format!("no reply within {timeout_ms} ms (the request reached {} subscriber(s))", published.delivered),
        )),
    }
}

fn check_timeout(timeout_ms: u64) -> Result<(), ApiError> {
    if timeout_ms == 0 || timeout_ms > REQUEST_TIMEOUT_MS_MAX {
        return Err(ApiError::invalid_query(
            "timeout_ms",
            format!("timeout_ms must be between 1 and {REQUEST_TIMEOUT_MS_MAX}"),
        ));
    }
    Ok(())
}

/// Query of `GET /v1/bus/subscribe`. Its fields are checked with the reader's own (who may listen
/// where), by `subscribe_request`, which WebSocket subscriptions share.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeQuery {
    subject: String,
    queue: Option<String>,
    buffer: Option<usize>,
    /// A read token, for browsers' `EventSource` (checked by the authentication layer).
    #[allow(dead_code)]
    access_token: Option<String>,
}

impl QueryParameters for SubscribeQuery {
    type Decoded = SubscribeQuery;
    const UNDECODABLE_FIELD: &'static str = "subject";

    fn validate(query: SubscribeQuery) -> Result<SubscribeQuery, ApiError> {
        Ok(query)
    }
}

/// `GET /v1/bus/subscribe?subject=market.>&queue=…&buffer=…`: messages as server-sent events
/// (`message`), and `dropped` events (`{"count": N, "total": M}`) when the buffer overflowed.
pub async fn subscribe(
    State(app): State<AppState>,
    axum::Extension(reader): axum::Extension<Reader>,
    ValidQuery(query): ValidQuery<SubscribeQuery>,
) -> Result<Response, ApiError> {
    let request = subscribe_request(&reader, &query.subject, query.queue.as_deref(), query.buffer, Transport::Sse)?;
    let handle = app.bus.router.subscribe(request, Arc::new(Notify::new()))?;
    // A reader that stops reading: the server stops polling its stream (the socket is full), so a
    // watchdog outside it closes the subscription and gives its buffer back to the bus.
    let watchdog = {
        let router = Arc::clone(&app.bus.router);
        let mailbox_id = handle.subscriber().id();
        let subscriber = handle.subscriber_arc();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(STALLED_READER_CHECK).await;
                if subscriber.mailbox().is_closed() {
                    return;
                }
                if subscriber.mailbox().stalled_for() >= STALLED_READER_TIMEOUT {
                    router.evict(mailbox_id);
                    return;
                }
            }
        })
    };
    let stream = futures_util::stream::unfold(
        (handle, Vec::with_capacity(SSE_BATCH_MESSAGES_MAX), std::collections::VecDeque::new()),
        |(handle, mut taken, mut ready)| async move {
            loop {
                if let Some(chunk) = ready.pop_front() {
                    return Some((Ok::<Bytes, Infallible>(chunk), (handle, taken, ready)));
                }
                // Few at a time, and as chunks that own the messages: a message stays charged to the
                // bus's budget until it is written, so slow event streams cannot hold memory the
                // budget does not see.
                let batch = handle.subscriber().mailbox().recv(&mut taken, SSE_BATCH_MESSAGES_MAX).await?;
                if batch.dropped > 0 {
                    ready.push_back(Bytes::from(format!(
                        "event: dropped\ndata: {{\"count\":{},\"total\":{}}}\n\n",
                        batch.dropped, batch.dropped_total
                    )));
                }
                for message in taken.drain(..) {
                    push_sse_message(&mut ready, message);
                }
            }
        },
    );
    let mut shutdown = app.shutdown.clone();
    let lapse = super::auth::credentials_lapse(app.clone(), reader);
    let stream = futures_util::StreamExt::take_until(stream, async move {
        // The stream ends with the server, or when its reader's credentials stop holding (the agent
        // deregistered, the token revoked or expired).
        tokio::select! {
            _ = shutdown.wait_for(|stopping| *stopping) => {}
            _ = lapse => {}
        }
        watchdog.abort();
    });
    let keep_alive = futures_util::stream::unfold(
        tokio::time::interval_at(tokio::time::Instant::now() + SSE_KEEP_ALIVE, SSE_KEEP_ALIVE),
        |mut interval| async move {
            interval.tick().await;
            Some((Some(Ok::<Bytes, Infallible>(Bytes::from_static(b": keep-alive\n\n"))), interval))
        },
    );
    // The messages end with a `None` that ends the whole body, keep-alive comments included.
    let messages = stream.map(Some).chain(futures_util::stream::once(std::future::ready(None)));
    let stream = futures_util::stream::select(messages, keep_alive)
        .take_while(|item| std::future::ready(item.is_some()))
        .filter_map(std::future::ready);
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    Ok((headers, axum::body::Body::from_stream(stream)).into_response())
}

/// How long an idle event stream waits before a keep-alive comment.
const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an event stream's watchdog looks for a reader that stopped.
const STALLED_READER_CHECK: Duration = Duration::from_secs(5);

/// Appends a `message` event for `message` to `ready`, without copying its text when it has no line
/// breaks (JSON from the encoder has none, a raw payload kept byte for byte may).
fn push_sse_message(ready: &mut std::collections::VecDeque<Bytes>, message: crate::bus::Outgoing) {
    if message.bytes().any(|byte| byte == b'\n' || byte == b'\r') {
        let mut event = String::from("event: message\n");
        for line in message.split(['\n', '\r']) {
            event.push_str("data: ");
            event.push_str(line);
            event.push('\n');
        }
        event.push('\n');
        ready.push_back(Bytes::from(event));
        return;
    }
    ready.push_back(Bytes::from_static(b"event: message\ndata: "));
    ready.push_back(Bytes::from_owner(MessageBytes(message)));
    ready.push_back(Bytes::from_static(b"\n\n"));
}

/// A message's text as the bytes of a response chunk, keeping the message (and its charge on the
/// bus's budget) alive until the chunk is written.
struct MessageBytes(crate::bus::Outgoing);

impl AsRef<[u8]> for MessageBytes {
    fn as_ref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

/// `GET /v1/bus/stats`: counters and the open subscriptions: all of them for the operator, the
/// reader's own for anyone else (a read token sees those of read tokens).
pub async fn stats(
    State(app): State<AppState>,
    axum::Extension(reader): axum::Extension<Reader>,
) -> Json<colony_wire::bus::BusStatsView> {
    let owner = match &reader {
        Reader::Signer(signer) => Some(signer.clone()),
        Reader::Token { .. } => None,
    };
    Json(app.bus.router.stats_for(Some(&owner)))
}

/// Checks a subscription's fields for `reader`.
pub(crate) fn subscribe_request(
    reader: &Reader,
    subject: &str,
    queue: Option<&str>,
    buffer: Option<usize>,
    transport: Transport,
) -> Result<SubscribeRequest, ApiError> {
    let pattern = Pattern::new(subject)
        .map_err(|error| ApiError::new(ServerCode::InvalidSubject, error.to_string()).with_field("subject"))?;
    let queue = queue
        .map(|queue| Name::new(queue).map_err(|error| ApiError::invalid_query("queue", format!("queue: {error}"))))
        .transpose()?;
    let buffer_messages = buffer.unwrap_or(BUFFER_MESSAGES_DEFAULT);
    if buffer_messages == 0 || buffer_messages > crate::bus::router::BUFFER_MESSAGES_MAX {
        return Err(ApiError::invalid_query(
            "buffer",
            format!("buffer must be between 1 and {}", crate::bus::router::BUFFER_MESSAGES_MAX),
        ));
    }
    let owner = match reader {
        Reader::Signer(signer) => Some(signer.clone()),
        Reader::Token { .. } => None,
    };
    Ok(SubscribeRequest { owner, pattern, queue, buffer_messages, transport })
}

/// Decodes a publish body: one message or an array of them.
fn decode_messages(body: &[u8]) -> Result<Vec<EphemeralPublish>, ApiError> {
    let malformed = |error: serde_json::Error| ApiError::new(ServerCode::MalformedRequest, error.to_string());
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    let messages: Vec<EphemeralPublish> = if first == Some(&b'[') {
        serde_json::from_slice(body).map_err(malformed)?
    } else {
        vec![serde_json::from_slice(body).map_err(malformed)?]
    };
    if messages.is_empty() {
        return Err(ApiError::new(ServerCode::MalformedRequest, "no messages to publish"));
    }
    if messages.len() > MESSAGES_PER_PUBLISH_MAX {
        return Err(ApiError::new(
            ServerCode::MalformedRequest,
            format!("at most {MESSAGES_PER_PUBLISH_MAX} messages per publish, got {}", messages.len()),
        ));
    }
    Ok(messages)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Reads the body and checks the publish signature, the nonce and that the signer may publish.
async fn authenticate_publish(app: &AppState, request: Request) -> Result<SignedBody, ApiError> {
    let (parts, body) = request.into_parts();
    let path_and_query = parts.uri.path_and_query().map_or("/", |value| value.as_str()).to_owned();
    let unauthenticated = |detail: String| ApiError::new(ServerCode::Unauthenticated, detail);
    if header(&parts.headers, READ_SIGNER_HEADER).is_none() {
        return Err(unauthenticated(format!(
            "a publish needs the headers {READ_SIGNER_HEADER}, {PUBLISH_NONCE_HEADER} and {READ_SIGNATURE_HEADER}"
        )));
    }
    let nonce_us: u64 = header(&parts.headers, PUBLISH_NONCE_HEADER)
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| unauthenticated(format!("{PUBLISH_NONCE_HEADER} must be Unix microseconds")))?;
    if (nonce_us / 1000).abs_diff(app.clock.now_ms()) > PUBLISH_SKEW_MS {
        return Err(unauthenticated(format!(
            "{PUBLISH_NONCE_HEADER} is more than {} s from the server's clock",
            PUBLISH_SKEW_MS / 1000
        )));
    }
    // The nonce windows start empty with the server: a publish stamped before it started could be
    // one captured earlier.
    if nonce_us / 1000 < app.started_at_ms {
        return Err(unauthenticated(format!(
            "{PUBLISH_NONCE_HEADER} is before the server started; sign the publish again"
        )));
    }
    let body = read_signed_body(app, &parts.headers, body, PUBLISH_BODY_BYTES_MAX).await?;
    let signer = &body.signer;
    let key = {
        let state = app.state()?;
        check_may_publish(&state, signer)?;
        state.signer_key(signer).ok_or_else(|| unauthenticated(format!("'{signer}' is not a registered signer")))?
    };
    if !app.keys.verify(&key, &publish_signing_message(signer, &path_and_query, nonce_us, &body.bytes), &body.signature)
    {
        return Err(ApiError::new(ServerCode::InvalidSignature, "the publish signature does not verify")
            .with_field(READ_SIGNATURE_HEADER));
    }
    if !app.bus.spend_nonce(signer, nonce_us) {
        return Err(ApiError::from_rejection(&colony_core::Rejection::NonceReplayed { nonce: nonce_us })
            .with_field(PUBLISH_NONCE_HEADER));
    }
    Ok(body)
}
