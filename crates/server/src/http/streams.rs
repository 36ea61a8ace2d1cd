//! Durable streams' read endpoints: streams, their messages, consumers and dead letters.
//!
//! Changes to streams (create, publish, fetch, ack, replay) are commands in signed envelopes, like
//! every durable write; see `POST /v1/commands` and `/v1/batch`.

use std::sync::RwLockReadGuard;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use colony_core::BusRejection;
use colony_core::{Name, Rejection};
use colony_wire::bus::{BusMessage, DeadLetterPage, DeadLetterView, StreamMessagesPage};
use serde::Deserialize;

use super::extract::QueryParameters;
use super::{ApiError, AppState, ValidPath, ValidQuery};

/// Messages or dead letters per page when the client does not say.
pub(crate) const PAGE_DEFAULT: usize = 100;
/// Messages or dead letters per page at most.
pub(crate) const PAGE_MAX: usize = 1_000;
/// Bytes of messages (as `size_bytes` counts them) one page holds at most, whatever its `limit`: a
/// thousand messages of 64 KiB would be a 64 MiB answer built in memory. A page that reaches it ends
/// early (with at least one message), and its cursor says where the next starts.
pub const PAGE_BYTES_MAX: u64 = 4 << 20;

/// The first of `items` that fit in [`PAGE_BYTES_MAX`] (at least one), and whether some were left out.
fn within_page_bytes<T>(items: Vec<T>, size_bytes: impl Fn(&T) -> u64) -> (Vec<T>, bool) {
    let mut bytes = 0u64;
    let mut kept = Vec::with_capacity(items.len());
    let total = items.len();
    for item in items {
        bytes = bytes.saturating_add(size_bytes(&item));
        if !kept.is_empty() && bytes > PAGE_BYTES_MAX {
            break;
        }
        kept.push(item);
    }
    let truncated = kept.len() < total;
    (kept, truncated)
}

/// The page size asked for, within its bounds.
fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(PAGE_DEFAULT);
    if limit == 0 || limit > PAGE_MAX {
        return Err(ApiError::invalid_query("limit", format!("limit must be between 1 and {PAGE_MAX}")));
    }
    Ok(limit)
}

/// The state, read-locked, once `name` is known to be a stream.
fn read_stream<'a>(app: &'a AppState, name: &Name) -> Result<RwLockReadGuard<'a, colony_core::State>, ApiError> {
    let state = app.state()?;
    if state.stream(name).is_none() {
        return Err(stream_not_found(name.clone()));
    }
    Ok(state)
}

fn stream_not_found(stream: Name) -> ApiError {
    ApiError::from_rejection(&Rejection::Bus(BusRejection::StreamNotFound { stream }))
}

/// `GET /v1/streams`: every stream with its configuration and counts.
pub async fn list_streams(State(app): State<AppState>) -> Result<Response, ApiError> {
    let state = app.state()?;
    let streams: Vec<_> = state.streams().filter_map(|stream| state.stream_info(&stream.name)).collect();
    Ok(Json(serde_json::json!({ "streams": streams })).into_response())
}

/// `GET /v1/streams/{name}`.
pub async fn get_stream(State(app): State<AppState>, ValidPath(name): ValidPath<Name>) -> Result<Response, ApiError> {
    match app.state()?.stream_info(&name) {
        Some(info) => Ok(Json(info).into_response()),
        None => Err(stream_not_found(name)),
    }
}

/// Query of `GET /v1/streams/{name}/messages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    from: Option<u64>,
    limit: Option<usize>,
}

/// Query of `GET /v1/streams/{name}/messages`, checked.
#[derive(Debug)]
pub struct MessagesPage {
    from: u64,
    limit: usize,
}

impl QueryParameters for MessagesPage {
    type Decoded = MessagesQuery;
    const UNDECODABLE_FIELD: &'static str = "from";

    fn validate(query: MessagesQuery) -> Result<MessagesPage, ApiError> {
        Ok(MessagesPage { from: query.from.unwrap_or(1), limit: page_limit(query.limit)? })
    }
}

/// `GET /v1/streams/{name}/messages?from=&limit=`: stored messages by sequence (reading changes no
/// consumer's position).
pub async fn list_messages(
    State(app): State<AppState>,
    ValidPath(name): ValidPath<Name>,
    ValidQuery(MessagesPage { from, limit }): ValidQuery<MessagesPage>,
) -> Result<Json<StreamMessagesPage>, ApiError> {
    let state = read_stream(&app, &name)?;
    let (stored, truncated) =
        within_page_bytes(state.stream_messages(&name, from, limit), |message| message.size_bytes());
    let messages: Vec<BusMessage> =
        stored.into_iter().map(|message| BusMessage::from_stored(&name, message, None)).collect();
    // The writer waits for this lock: encode after letting it go.
    drop(state);
    let next_from = if truncated || messages.len() == limit {
        messages.last().and_then(|message| message.stream_sequence)
    } else {
        None
    };
    Ok(Json(StreamMessagesPage { messages, next_from: next_from.map(|last| last + 1) }))
}

/// `GET /v1/streams/{name}/consumers/{consumer}`: a consumer's configuration, position and counts.
pub async fn get_consumer(
    State(app): State<AppState>,
    ValidPath((name, consumer)): ValidPath<(Name, Name)>,
) -> Result<Response, ApiError> {
    match read_stream(&app, &name)?.consumer_info(&name, &consumer) {
        Some(info) => Ok(Json(info).into_response()),
        None => {
            Err(ApiError::from_rejection(&Rejection::Bus(BusRejection::ConsumerNotFound { stream: name, consumer })))
        }
    }
}

/// Query of `GET /v1/streams/{name}/dead_letters`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

/// Query of `GET /v1/streams/{name}/dead_letters`, checked.
#[derive(Debug)]
pub struct DeadLettersPage {
    after: Option<u64>,
    limit: usize,
}

impl QueryParameters for DeadLettersPage {
    type Decoded = DeadLetterQuery;
    const UNDECODABLE_FIELD: &'static str = "after";

    fn validate(query: DeadLetterQuery) -> Result<DeadLettersPage, ApiError> {
        Ok(DeadLettersPage { after: query.after, limit: page_limit(query.limit)? })
    }
}

/// `GET /v1/streams/{name}/dead_letters?after=&limit=`: the messages consumers gave up on, oldest
/// first, each with its delivery count and last error.
pub async fn list_dead_letters(
    State(app): State<AppState>,
    ValidPath(name): ValidPath<Name>,
    ValidQuery(DeadLettersPage { after, limit }): ValidQuery<DeadLettersPage>,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let state = read_stream(&app, &name)?;
    let (stored, truncated) =
        within_page_bytes(state.dead_letters(&name, after, limit), |dead_letter| dead_letter.message.size_bytes());
    let dead_letters: Vec<DeadLetterView> =
        stored.into_iter().map(|dead_letter| DeadLetterView::new(&name, dead_letter)).collect();
    drop(state);
    let next_after =
        if truncated || dead_letters.len() == limit { dead_letters.last().map(|view| view.id) } else { None };
    Ok(Json(DeadLetterPage { dead_letters, next_after }))
}
