//! The task market's read endpoints: tasks (listed and in full) and agents' records as workers.

use axum::Json;
use axum::extract::State;
use colony_core::market::TaskState;
use colony_core::market::rejections::MarketRejection;
use colony_core::{AgentId, Name, Rejection, Task};
use colony_wire::views::{DependencyView, RankedBidView, ReputationView, TaskPage, TaskSummaryView, TaskView};
use serde::Deserialize;

use super::extract::QueryParameters;
use super::{ApiError, AppState, ValidPath, ValidQuery};

/// Tasks per page when the client does not say.
pub(crate) const TASKS_PAGE_DEFAULT: usize = 100;
/// Tasks per page at most.
pub(crate) const TASKS_PAGE_MAX: usize = 1_000;
/// Tasks one request looks at, matching or not: a rare filter over the 300,000 tasks the market may
/// hold would otherwise keep the state's read lock for the whole scan. A page cut short by it still
/// carries `next_after`, so the client goes on from there.
pub(crate) const TASKS_SCANNED_PER_PAGE_MAX: usize = 10_000;

/// Every task state, in the order the schema lists them.
pub(crate) const TASK_STATES: [TaskState; 11] = [
    TaskState::Waiting,
    TaskState::Open,
    TaskState::Awarded,
    TaskState::Running,
    TaskState::Submitted,
    TaskState::Completed,
    TaskState::Failed,
    TaskState::Cancelled,
    TaskState::Unassigned,
    TaskState::Unfunded,
    TaskState::Disputed,
];

/// Query of `GET /v1/tasks`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    state: Option<String>,
    manager: Option<String>,
    winner: Option<String>,
    kind: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

/// Query of `GET /v1/tasks`, checked.
#[derive(Debug)]
pub struct TaskFilter {
    state: Option<TaskState>,
    manager: Option<AgentId>,
    winner: Option<AgentId>,
    kind: Option<Name>,
    after: Option<u64>,
    limit: usize,
}

impl TaskFilter {
    fn admits(&self, task: &Task) -> bool {
        self.state.is_none_or(|state| task.state == state)
            && self.manager.as_ref().is_none_or(|manager| task.manager == *manager)
            && self.kind.as_ref().is_none_or(|kind| task.terms.kind == *kind)
            && self.winner.as_ref().is_none_or(|winner| task.attempts.iter().any(|attempt| attempt.winner == *winner))
    }
}

impl QueryParameters for TaskFilter {
    type Decoded = TaskQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: TaskQuery) -> Result<TaskFilter, ApiError> {
        let limit = query.limit.unwrap_or(TASKS_PAGE_DEFAULT);
        if limit == 0 || limit > TASKS_PAGE_MAX {
            return Err(ApiError::invalid_query("limit", format!("must be between 1 and {TASKS_PAGE_MAX}")));
        }
        let invalid =
            |field: &'static str| move |error: colony_core::IdError| ApiError::invalid_query(field, error.to_string());
        let state = match query.state.as_deref() {
            None => None,
            Some(text) => Some(TASK_STATES.into_iter().find(|state| state.name() == text).ok_or_else(|| {
                let names: Vec<&str> = TASK_STATES.iter().map(|state| state.name()).collect();
                ApiError::invalid_query("state", format!("must be one of {}", names.join(", ")))
            })?),
        };
        Ok(TaskFilter {
            state,
            manager: query.manager.map(AgentId::new).transpose().map_err(invalid("manager"))?,
            winner: query.winner.map(AgentId::new).transpose().map_err(invalid("winner"))?,
            kind: query.kind.map(Name::new).transpose().map_err(invalid("kind"))?,
            after: query.after,
            limit,
        })
    }
}

/// `GET /v1/tasks?state=&manager=&winner=&kind=&after=&limit=`: tasks by id, one page at a time.
/// `winner` matches any award of the task, the current one or an earlier attempt's. A page looks at
/// no more than `TASKS_SCANNED_PER_PAGE_MAX` tasks, so it may hold fewer than `limit` (even none)
/// and still name `next_after`: the list ends only when `next_after` is absent.
pub async fn list_tasks(
    State(app): State<AppState>,
    ValidQuery(filter): ValidQuery<TaskFilter>,
) -> Result<Json<TaskPage>, ApiError> {
    let state = app.state()?;
    Ok(Json(page_of_tasks(&state, &filter, TASKS_SCANNED_PER_PAGE_MAX)))
}

/// One page of tasks matching `filter`, looking at no more than `scan_max` tasks.
pub(crate) fn page_of_tasks(state: &colony_core::State, filter: &TaskFilter, scan_max: usize) -> TaskPage {
    // Task ids start at 0, so only a page after the first names where it starts.
    let from: Box<dyn Iterator<Item = &Task>> = match filter.after {
        Some(after) => Box::new(state.market().tasks_after(after)),
        None => Box::new(state.market().tasks()),
    };
    let mut tasks = Vec::new();
    let mut last_scanned = None;
    let mut scanned = from.take(scan_max).peekable();
    while tasks.len() < filter.limit
        && let Some(task) = scanned.next()
    {
        last_scanned = Some(task.id);
        if filter.admits(task) {
            tasks.push(TaskSummaryView::new(task));
        }
    }
    // More may follow when the page filled up before the scan ended, or the scan hit its bound.
    let more =
        scanned.peek().is_some() || last_scanned.is_some_and(|last| state.market().tasks_after(last).next().is_some());
    let next_after = if more { last_scanned } else { None };
    TaskPage { tasks, next_after }
}

/// `GET /v1/tasks/{id}`: the task with its terms, its live bids ranked as an award would take them,
/// its attempts, and its dependencies with the results of those that completed.
pub async fn get_task(State(app): State<AppState>, ValidPath(id): ValidPath<u64>) -> Result<Json<TaskView>, ApiError> {
    let state = app.state()?;
    let Some(task) = state.market().task(id) else {
        return Err(ApiError::from_rejection(&Rejection::Market(MarketRejection::TaskNotFound { task: id })));
    };
    let bids: Vec<RankedBidView> = state
        .ranked_bids(task)
        .into_iter()
        .map(|ranked| RankedBidView { bidder: ranked.bidder.clone(), score: ranked.score, bid: ranked.bid.clone() })
        .collect();
    let dependencies = task
        .terms
        .depends_on
        .iter()
        .map(|dependency| {
            let found = state.market().task(*dependency);
            let result = found.and_then(Task::result);
            DependencyView {
                id: *dependency,
                task_id: found.map(|found| found.terms.task_id.clone()),
                state: found.map(|found| found.state),
                result: result.and_then(|submission| submission.result.clone()),
                reference: result.and_then(|submission| submission.reference.clone()),
            }
        })
        .collect();
    Ok(Json(TaskView {
        id: task.id,
        manager: task.manager.clone(),
        state: task.state,
        terms: task.terms.clone(),
        bids,
        attempts: task.attempts.clone(),
        dependencies,
        excluded: task.excluded.clone(),
        rounds: task.rounds,
        retries: task.retries,
        reason: task.reason.clone(),
        announced_at_ms: task.announced_at_ms,
        closes_at_ms: task.closes_at_ms,
        deadline_at_ms: task.deadline_at_ms,
        ended_at_ms: task.ended_at_ms,
    }))
}

/// `GET /v1/agents/{id}/reputation`: the agent's record as a worker (a newcomer's when it has none).
pub async fn get_reputation(
    State(app): State<AppState>,
    ValidPath(agent): ValidPath<AgentId>,
) -> Result<Json<ReputationView>, ApiError> {
    let state = app.state()?;
    if state.agent(&agent).is_none() {
        return Err(ApiError::from_rejection(&Rejection::AgentNotFound { agent }));
    }
    let view = ReputationView::new(&agent, state.reputation(&agent));
    Ok(Json(view.with_load(state.agent_load(&agent), state.agent_capacity(&agent))))
}
