//! Stigmergy's read endpoints: pheromone maps, their strongest trails, one trail sensed. Every
//! intensity is computed at the log time of the state read (its last entry), so that two readers of
//! the same state see the same numbers whenever they ask. Deposits and maps' changes are commands.

use axum::Json;
use axum::extract::State;
use colony_core::stigmergy::{StigmergyRejection, TaskSignalState, task_signals};
use colony_core::{Intensity, Name, Rejection, SignalKey};
use colony_wire::stigmergy::{
    PheromoneMapPage, PheromoneMapView, SignalView, TaskSignalPage, TaskSignalView, TopTrailsView, TrailView,
};
use serde::Deserialize;

use super::extract::{PathSegment, QueryParameters};
use super::{ApiError, AppState, ValidPath, ValidQuery};

/// Maps per page when the client does not say.
pub(crate) const MAPS_PAGE_DEFAULT: usize = 100;
/// Maps per page at most.
pub(crate) const MAPS_PAGE_MAX: usize = 1_000;
/// Trails a top read returns when the client does not say: seed 000's `top_signals(n=5)`.
pub(crate) const TOP_DEFAULT: usize = 5;
/// Trails a top read returns at most: a page, not a dump of the map.
pub(crate) const TOP_MAX: usize = 1_000;

impl PathSegment for SignalKey {
    fn parse_segment(text: &str) -> Result<SignalKey, String> {
        SignalKey::new(text).map_err(|error| error.to_string())
    }
}

fn map_not_found(map: Name) -> ApiError {
    ApiError::from_rejection(&Rejection::Stigmergy(StigmergyRejection::MapNotFound { map }))
}

/// Query of `GET /v1/pheromones`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// Query of `GET /v1/pheromones`, checked.
#[derive(Debug)]
pub struct MapFilter {
    after: Option<Name>,
    limit: usize,
}

impl QueryParameters for MapFilter {
    type Decoded = MapQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: MapQuery) -> Result<MapFilter, ApiError> {
        let limit = query.limit.unwrap_or(MAPS_PAGE_DEFAULT);
        if limit == 0 || limit > MAPS_PAGE_MAX {
            return Err(ApiError::invalid_query("limit", format!("must be between 1 and {MAPS_PAGE_MAX}")));
        }
        let after = query
            .after
            .map(Name::new)
            .transpose()
            .map_err(|error| ApiError::invalid_query("after", error.to_string()))?;
        Ok(MapFilter { after, limit })
    }
}

/// `GET /v1/pheromones?after=&limit=`: maps by name, one page at a time.
pub async fn list_maps(
    State(app): State<AppState>,
    ValidQuery(filter): ValidQuery<MapFilter>,
) -> Result<Json<PheromoneMapPage>, ApiError> {
    let state = app.state()?;
    // One more than the page, to know whether another follows.
    let found = state.stigmergy().maps_after(filter.after.as_ref(), filter.limit + 1);
    let more = found.len() > filter.limit;
    let maps: Vec<PheromoneMapView> = found.into_iter().take(filter.limit).map(PheromoneMapView::new).collect();
    let next_after = if more { maps.last().map(|last| last.name.clone()) } else { None };
    Ok(Json(PheromoneMapPage { maps, next_after }))
}

/// `GET /v1/pheromones/{map}`: the map's terms and counts.
pub async fn get_map(
    State(app): State<AppState>,
    ValidPath(map): ValidPath<Name>,
) -> Result<Json<PheromoneMapView>, ApiError> {
    let state = app.state()?;
    match state.stigmergy().map(&map) {
        Some(found) => Ok(Json(PheromoneMapView::new(found))),
        None => Err(map_not_found(map)),
    }
}

/// Query of `GET /v1/pheromones/{map}/top`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopQuery {
    n: Option<usize>,
}

/// How many trails a top read returns.
#[derive(Debug)]
pub struct TopCount(usize);

impl QueryParameters for TopCount {
    type Decoded = TopQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: TopQuery) -> Result<TopCount, ApiError> {
        let n = query.n.unwrap_or(TOP_DEFAULT);
        if n == 0 || n > TOP_MAX {
            return Err(ApiError::invalid_query("n", format!("must be between 1 and {TOP_MAX}")));
        }
        Ok(TopCount(n))
    }
}

/// `GET /v1/pheromones/{map}/top?n=5`: the strongest trails now, strongest first.
pub async fn top_trails(
    State(app): State<AppState>,
    ValidPath(map): ValidPath<Name>,
    ValidQuery(TopCount(n)): ValidQuery<TopCount>,
) -> Result<Json<TopTrailsView>, ApiError> {
    let state = app.state()?;
    let as_of_ms = state.timestamp_ms();
    let Some(found) = state.stigmergy().map(&map) else { return Err(map_not_found(map)) };
    let trails = found.top(n, as_of_ms).into_iter().map(|(key, intensity)| TrailView { key, intensity }).collect();
    Ok(Json(TopTrailsView { map, as_of_ms, trails }))
}

/// Query of `GET /v1/pheromones/{map}/signals/{key}`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenseQuery {
    min: Option<String>,
}

/// The least intensity a sense read counts as sensed.
#[derive(Debug)]
pub struct SenseThreshold(Intensity);

impl QueryParameters for SenseThreshold {
    type Decoded = SenseQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: SenseQuery) -> Result<SenseThreshold, ApiError> {
        match query.min {
            None => Ok(SenseThreshold(Intensity::ZERO)),
            Some(text) => {
                Intensity::parse(&text).map(SenseThreshold).map_err(|reason| ApiError::invalid_query("min", reason))
            }
        }
    }
}

/// `GET /v1/pheromones/{map}/signals/{key}?min=0.01`: one trail's intensity now, and whether it
/// reaches `min`.
pub async fn sense_signal(
    State(app): State<AppState>,
    ValidPath((map, key)): ValidPath<(Name, SignalKey)>,
    ValidQuery(SenseThreshold(min)): ValidQuery<SenseThreshold>,
) -> Result<Json<SignalView>, ApiError> {
    let state = app.state()?;
    let as_of_ms = state.timestamp_ms();
    let Some(found) = state.stigmergy().map(&map) else { return Err(map_not_found(map)) };
    let intensity = found.sense(&key, as_of_ms);
    let sensed = intensity > Intensity::ZERO && intensity >= min;
    Ok(Json(SignalView { map, key, as_of_ms, intensity, sensed }))
}

/// Query of `GET /v1/pheromones/{map}/tasks`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    state: Option<TaskSignalState>,
    after: Option<String>,
    limit: Option<usize>,
}

/// Query of `GET /v1/pheromones/{map}/tasks`, checked.
#[derive(Debug)]
pub struct TaskFilter {
    state: Option<TaskSignalState>,
    after: Option<String>,
    limit: usize,
}

impl QueryParameters for TaskFilter {
    type Decoded = TaskQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: TaskQuery) -> Result<TaskFilter, ApiError> {
        let limit = query.limit.unwrap_or(MAPS_PAGE_DEFAULT);
        if limit == 0 || limit > MAPS_PAGE_MAX {
            return Err(ApiError::invalid_query("limit", format!("must be between 1 and {MAPS_PAGE_MAX}")));
        }
        Ok(TaskFilter { state: query.state, after: query.after, limit })
    }
}

/// `GET /v1/pheromones/{map}/tasks?state=available&after=&limit=`: seed 003's task signals
/// (`<task>:available`, `:claimed`, `:completed`, `:failed`) read off the map at the state's log time,
/// by task id, with where each task stands; `state` keeps those in one state only.
pub async fn list_task_signals(
    State(app): State<AppState>,
    ValidPath(map): ValidPath<Name>,
    ValidQuery(filter): ValidQuery<TaskFilter>,
) -> Result<Json<TaskSignalPage>, ApiError> {
    let state = app.state()?;
    let as_of_ms = state.timestamp_ms();
    let Some(found) = state.stigmergy().map(&map) else { return Err(map_not_found(map)) };
    let mut tasks: Vec<TaskSignalView> = task_signals(found, as_of_ms)
        .into_iter()
        .filter(|(task, _)| filter.after.as_ref().is_none_or(|after| task > after))
        .filter_map(|(task, signals)| signals.state().map(|state| TaskSignalView { task, state, signals }))
        .filter(|view| filter.state.is_none_or(|state| view.state == state))
        .take(filter.limit + 1)
        .collect();
    let more = tasks.len() > filter.limit;
    tasks.truncate(filter.limit);
    let next_after = if more { tasks.last().map(|last| last.task.clone()) } else { None };
    Ok(Json(TaskSignalPage { map, as_of_ms, tasks, next_after }))
}
