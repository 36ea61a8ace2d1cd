//! The read endpoints and the event stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use colony_core::{AgentId, Name};
use colony_wire::Problem;
use colony_wire::problem::codes;
use colony_wire::views::{AgentPage, AgentView, StateHashView, StatusView};
use futures_util::StreamExt as _;
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::{AppState, json_response, problem_response};

/// Agents per page when the client does not say.
pub(crate) const AGENTS_PAGE_DEFAULT: usize = 100;
/// Agents per page at most.
pub(crate) const AGENTS_PAGE_MAX: usize = 1_000;

/// Query of `GET /v1/agents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentQuery {
    role: Option<String>,
    status: Option<String>,
    capability: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

fn invalid_query(field: &str, detail: impl Into<String>) -> Response {
    problem_response(Problem::new(codes::INVALID_QUERY, 400, detail).with_field(field))
}

/// `GET /v1/agents?role=&status=&capability=&after=&limit=`: agents ordered by id, one page at a time.
pub async fn list_agents(
    State(app): State<AppState>,
    query: Result<Query<AgentQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return invalid_query("query", rejection.body_text()),
    };
    let limit = query.limit.unwrap_or(AGENTS_PAGE_DEFAULT);
    if limit == 0 || limit > AGENTS_PAGE_MAX {
        return invalid_query("limit", format!("must be between 1 and {AGENTS_PAGE_MAX}"));
    }
    if let Some(status) = &query.status
        && !["active", "unresponsive", "halted", "deregistered"].contains(&status.as_str())
    {
        return invalid_query("status", "must be one of active, unresponsive, halted, deregistered");
    }
    let role = match query.role.map(Name::new).transpose() {
        Ok(role) => role,
        Err(error) => return invalid_query("role", error.to_string()),
    };
    let capability = match query.capability.map(Name::new).transpose() {
        Ok(capability) => capability,
        Err(error) => return invalid_query("capability", error.to_string()),
    };
    let after = match query.after.map(AgentId::new).transpose() {
        Ok(after) => after,
        Err(error) => return invalid_query("after", error.to_string()),
    };
    let state = app.driver.shared.state.read().expect("state lock");
    let mut matching = state.registry().iter_after(after.as_ref()).filter(|agent| {
        role.as_ref().is_none_or(|role| agent.role == *role)
            && query.status.as_deref().is_none_or(|status| agent.status() == status)
            && capability.as_ref().is_none_or(|capability| agent.capabilities.contains(capability))
    });
    let agents: Vec<AgentView> = matching.by_ref().take(limit).map(AgentView::from).collect();
    let next_after = if agents.len() == limit && matching.next().is_some() {
        agents.last().map(|agent| agent.id.clone())
    } else {
        None
    };
    json_response(StatusCode::OK, &AgentPage { agents, next_after })
}

/// `GET /v1/agents/{id}`.
pub async fn get_agent(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let id = match AgentId::new(id) {
        Ok(id) => id,
        Err(error) => return invalid_query("id", error.to_string()),
    };
    let state = app.driver.shared.state.read().expect("state lock");
    match state.agent(&id) {
        Some(agent) => json_response(StatusCode::OK, &AgentView::from(agent)),
        None => problem_response(Problem::from_rejection(&colony_core::Rejection::AgentNotFound { agent: id })),
    }
}

/// `GET /v1/config`.
pub async fn get_config(State(app): State<AppState>) -> Response {
    let state = app.driver.shared.state.read().expect("state lock");
    json_response(StatusCode::OK, state.config())
}

/// `GET /v1/status`.
pub async fn get_status(State(app): State<AppState>) -> Response {
    let state = app.driver.shared.state.read().expect("state lock");
    let counters = state.counters();
    json_response(
        StatusCode::OK,
        &StatusView {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            sequence: state.sequence(),
            timestamp_ms: state.timestamp_ms(),
            agents: state.registry().len() as u64,
            entries: counters.entries,
            commands_accepted: counters.commands_accepted,
            commands_rejected: counters.commands_rejected,
            operator_key: state.operator().map(|operator| operator.public_key),
        },
    )
}

/// `GET /v1/state/hash`: the canonical state hash at the current sequence.
///
/// Hashing encodes the whole state under the read lock, so it is done at most once per sequence
/// (later readers of the same sequence get the cached hash) and on a blocking thread.
pub async fn get_state_hash(State(app): State<AppState>) -> Response {
    let shared = std::sync::Arc::clone(&app.driver.shared);
    let hashed = tokio::task::spawn_blocking(move || {
        // One computation at a time: a crowd of readers waits for the first and takes its answer.
        let mut cached = shared.state_hash.lock().expect("state hash lock");
        let state = shared.state.read().expect("state lock");
        let sequence = state.sequence();
        if let Some((cached_sequence, hash)) = *cached
            && cached_sequence == sequence
        {
            return (sequence, hash);
        }
        let hash = state.state_hash();
        *cached = Some((sequence, hash));
        (sequence, hash)
    })
    .await;
    match hashed {
        Ok((sequence, state_hash)) => json_response(StatusCode::OK, &StateHashView { sequence, state_hash }),
        Err(_) => problem_response(Problem::new(codes::UNAVAILABLE, 503, "the state hash could not be computed")),
    }
}

/// `GET /v1/health/live`: the process answers.
pub async fn live() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "live" }))
}

/// `GET /v1/health/ready`: the writer is running and accepts writes.
pub async fn ready(State(app): State<AppState>) -> Response {
    if app.driver.is_running() {
        json_response(StatusCode::OK, &serde_json::json!({ "status": "ready" }))
    } else {
        problem_response(Problem::new(codes::UNAVAILABLE, 503, "the writer is not running"))
    }
}

/// Query of `GET /v1/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    from: Option<u64>,
    /// A read token, for clients that cannot set headers (checked by the authentication layer).
    #[allow(dead_code)]
    access_token: Option<String>,
}

/// `GET /v1/events?from=SEQ`: server-sent events, one per state change, from entry `SEQ` (inclusive),
/// or after the `Last-Event-ID` a reconnecting client sends. Each event's id is `<sequence>-<index>`.
/// Without either, the stream starts with new events.
pub async fn stream_events(
    State(app): State<AppState>,
    axum::Extension(reader): axum::Extension<super::auth::Reader>,
    headers: HeaderMap,
    query: Result<Query<EventQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return invalid_query("from", rejection.body_text()),
    };
    if query.from == Some(0) {
        return invalid_query("from", "entries are numbered from 1");
    }
    // An event id as the stream sent it: `<sequence>-<index>`, the sequence from 1. An empty one
    // names no event (a client that received none yet).
    let resume_after = match headers.get("last-event-id").filter(|value| !value.as_bytes().trim_ascii().is_empty()) {
        None => None,
        Some(value) => match value
            .to_str()
            .ok()
            .and_then(|value| value.split_once('-'))
            .and_then(|(sequence, index)| Some((sequence.parse::<u64>().ok()?, index.parse::<u32>().ok()?)))
            .filter(|(sequence, _)| *sequence > 0)
        {
            Some(position) => Some(position),
            None => {
                return invalid_query(
                    "last-event-id",
                    "Last-Event-ID must be an event id as the stream sent it: <sequence>-<index>",
                );
            }
        },
    };
    let from = match (resume_after, query.from) {
        (Some((sequence, _)), _) => sequence,
        (None, Some(from)) => from,
        (None, None) => app.driver.shared.state.read().expect("state lock").sequence() + 1,
    };
    let subscription = match app.driver.shared.events.subscribe(from) {
        Ok(subscription) => subscription,
        Err(oldest) => {
            return problem_response(
                Problem::new(
                    codes::EVENTS_EXPIRED,
                    410,
                    format!("events before entry {oldest} are no longer retained; read current state and stream from {oldest}"),
                )
                .with_field("from"),
            );
        }
    };
    // Both the backlog and live events start at `from` (a `from` in the future waits for it).
    let is_new = move |event: &colony_core::Event| match resume_after {
        Some(position) => (event.sequence, event.index) > position,
        None => event.sequence >= from,
    };
    let backlog =
        futures_util::stream::iter(subscription.backlog).filter(move |event| std::future::ready(is_new(event)));
    let live = BroadcastStream::new(subscription.live).filter(move |item| {
        std::future::ready(match item {
            Ok(event) => is_new(event),
            Err(_) => true,
        })
    });
    // A subscriber that falls behind the live channel is told so and the stream ends: a silent gap
    // would be worse than a reconnect, which resumes exactly where it left off via Last-Event-ID.
    let stream = backlog.map(Ok::<_, BroadcastStreamRecvError>).chain(live).scan(false, |ended, item| {
        if *ended {
            return std::future::ready(None);
        }
        let sse = match item {
            Ok(event) => SseEvent::default()
                .id(format!("{}-{}", event.sequence, event.index))
                .event(event.kind.name())
                .data(serde_json::to_string(&*event).expect("events encode")),
            Err(BroadcastStreamRecvError::Lagged(missed)) => {
                *ended = true;
                SseEvent::default().event("lagged").data(format!(
                    "{{\"missed\":{missed},\"detail\":\"this subscriber fell behind; reconnect with Last-Event-ID to resume\"}}"
                ))
            }
        };
        std::future::ready(Some(Ok::<_, Infallible>(sse)))
    });
    let mut shutdown = app.shutdown.clone();
    let lapse = super::auth::credentials_lapse(app.clone(), reader);
    let stream = stream.take_until(async move {
        // With the server, or when the reader's credentials stop holding.
        tokio::select! {
            _ = shutdown.wait_for(|stopping| *stopping) => {}
            _ = lapse => {}
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}
