//! The read endpoints and the event stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use colony_core::{AgentId, Name, SwarmConfig};
use colony_wire::problem::ServerCode;
use colony_wire::views::{AGENT_STATUSES, AgentPage, AgentView, StateHashView, StatusView};
use futures_util::StreamExt as _;
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::extract::QueryParameters;
use super::{ApiError, AppState, ValidPath, ValidQuery};

/// Agents per page when the client does not say.
pub(crate) const AGENTS_PAGE_DEFAULT: usize = 100;
/// Agents per page at most.
pub(crate) const AGENTS_PAGE_MAX: usize = 1_000;

/// Query of `GET /v1/agents`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentQuery {
    role: Option<String>,
    status: Option<String>,
    capability: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// Query of `GET /v1/agents`, checked.
#[derive(Debug)]
pub struct AgentFilter {
    role: Option<Name>,
    status: Option<&'static str>,
    capability: Option<Name>,
    after: Option<AgentId>,
    limit: usize,
}

impl QueryParameters for AgentFilter {
    type Decoded = AgentQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: AgentQuery) -> Result<AgentFilter, ApiError> {
        let limit = query.limit.unwrap_or(AGENTS_PAGE_DEFAULT);
        if limit == 0 || limit > AGENTS_PAGE_MAX {
            return Err(ApiError::invalid_query("limit", format!("must be between 1 and {AGENTS_PAGE_MAX}")));
        }
        let status = match query.status {
            None => None,
            Some(status) => Some(AGENT_STATUSES.into_iter().find(|known| *known == status).ok_or_else(|| {
                ApiError::invalid_query("status", "must be one of active, unresponsive, halted, deregistered")
            })?),
        };
        let invalid =
            |field: &'static str| move |error: colony_core::IdError| ApiError::invalid_query(field, error.to_string());
        Ok(AgentFilter {
            role: query.role.map(Name::new).transpose().map_err(invalid("role"))?,
            status,
            capability: query.capability.map(Name::new).transpose().map_err(invalid("capability"))?,
            after: query.after.map(AgentId::new).transpose().map_err(invalid("after"))?,
            limit,
        })
    }
}

/// `GET /v1/agents?role=&status=&capability=&after=&limit=`: agents ordered by id, one page at a time.
pub async fn list_agents(
    State(app): State<AppState>,
    ValidQuery(filter): ValidQuery<AgentFilter>,
) -> Result<Json<AgentPage>, ApiError> {
    let state = app.state()?;
    let mut matching = state.registry().iter_after(filter.after.as_ref()).filter(|agent| {
        filter.role.as_ref().is_none_or(|role| agent.role == *role)
            && filter.status.is_none_or(|status| agent.status() == status)
            && filter.capability.as_ref().is_none_or(|capability| agent.capabilities.contains(capability))
    });
    let agents: Vec<AgentView> = matching.by_ref().take(filter.limit).map(AgentView::from).collect();
    let next_after = if agents.len() == filter.limit && matching.next().is_some() {
        agents.last().map(|agent| agent.id.clone())
    } else {
        None
    };
    Ok(Json(AgentPage { agents, next_after }))
}

/// `GET /v1/agents/{id}`.
pub async fn get_agent(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<AgentId>,
) -> Result<Json<AgentView>, ApiError> {
    let state = app.state()?;
    match state.agent(&id) {
        Some(agent) => Ok(Json(AgentView::from(agent))),
        None => Err(ApiError::from_rejection(&colony_core::Rejection::AgentNotFound { agent: id })),
    }
}

/// `GET /v1/config`.
pub async fn get_config(State(app): State<AppState>) -> Result<Json<SwarmConfig>, ApiError> {
    Ok(Json(app.state()?.config().clone()))
}

/// `GET /v1/status`.
pub async fn get_status(State(app): State<AppState>) -> Result<Json<StatusView>, ApiError> {
    let state = app.state()?;
    let counters = state.counters();
    Ok(Json(StatusView {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        rules_version: state.rules_version(),
        sequence: state.sequence(),
        timestamp_ms: state.timestamp_ms(),
        agents: state.registry().len() as u64,
        entries: counters.entries,
        commands_accepted: counters.commands_accepted,
        commands_rejected: counters.commands_rejected,
        operator_key: state.operator().map(|operator| operator.public_key),
        bootstrap_ended_at_ms: state.governance().bootstrap_ended_at_ms(),
    }))
}

/// `GET /v1/state/hash`: the canonical state hash at the current sequence.
///
/// Hashing encodes the whole state under the read lock, so it is done at most once per sequence
/// (later readers of the same sequence get the cached hash) and on a blocking thread.
pub async fn get_state_hash(State(app): State<AppState>) -> Result<Json<StateHashView>, ApiError> {
    let shared = std::sync::Arc::clone(&app.driver.shared);
    let hashed = tokio::task::spawn_blocking(move || {
        // One computation at a time: a crowd of readers waits for the first and takes its answer.
        // (The cache is only ever a whole pair: one left by a panicking holder is still valid.)
        let mut cached = shared.state_hash.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = super::read_state(&shared)?;
        let sequence = state.sequence();
        if let Some((cached_sequence, state_hash)) = *cached
            && cached_sequence == sequence
        {
            return Ok(StateHashView { sequence, state_hash });
        }
        let state_hash = state.state_hash();
        *cached = Some((sequence, state_hash));
        shared.remember_state_hash(sequence, state_hash);
        Ok(StateHashView { sequence, state_hash })
    })
    .await;
    match hashed {
        Ok(view) => view.map(Json),
        Err(_) => Err(ApiError::new(ServerCode::Unavailable, "the state hash could not be computed")),
    }
}

/// `GET /v1/health/live`: the process answers.
pub async fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "live" }))
}

/// `GET /v1/health/ready`: the writer is running and accepts writes.
pub async fn ready(State(app): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    if app.driver.is_running() {
        Ok(Json(serde_json::json!({ "status": "ready" })))
    } else {
        Err(ApiError::new(ServerCode::Unavailable, "the writer is not running"))
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

impl QueryParameters for EventQuery {
    type Decoded = EventQuery;
    const UNDECODABLE_FIELD: &'static str = "from";

    fn validate(query: EventQuery) -> Result<EventQuery, ApiError> {
        if query.from == Some(0) {
            return Err(ApiError::invalid_query("from", "entries are numbered from 1"));
        }
        Ok(query)
    }
}

/// `GET /v1/events?from=SEQ`: server-sent events, one per state change, from entry `SEQ` (inclusive),
/// or after the `Last-Event-ID` a reconnecting client sends. Each event's id is `<sequence>-<index>`.
/// Without either, the stream starts with new events.
pub async fn stream_events(
    State(app): State<AppState>,
    axum::Extension(reader): axum::Extension<super::auth::Reader>,
    headers: HeaderMap,
    ValidQuery(query): ValidQuery<EventQuery>,
) -> Result<impl IntoResponse, ApiError> {
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
                return Err(ApiError::invalid_query(
                    "last-event-id",
                    "Last-Event-ID must be an event id as the stream sent it: <sequence>-<index>",
                ));
            }
        },
    };
    let from = match (resume_after, query.from) {
        (Some((sequence, _)), _) => sequence,
        (None, Some(from)) => from,
        (None, None) => app.state()?.sequence() + 1,
    };
    let subscription = match app.driver.shared.events.subscribe(from) {
        Ok(subscription) => subscription,
        Err(oldest) => {
            return Err(ApiError::new(
                ServerCode::EventsExpired,
                format!(
                    "events before entry {oldest} are no longer retained; read current state and stream from {oldest}"
                ),
            )
            .with_field("from"));
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
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
