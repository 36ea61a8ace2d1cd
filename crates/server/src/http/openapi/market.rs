//! The task market's paths: tasks listed and in full, and agents' records as workers.

use serde_json::{Value, json};

use colony_core::{AgentId, Name};
use colony_wire::views::{ReputationView, TaskPage, TaskView};

use super::operations::{page_limit, read_operation};
use super::schemas::{Schemas, u64_schema};
use crate::http::market::{TASK_STATES, TASKS_PAGE_DEFAULT, TASKS_PAGE_MAX};

pub(super) fn market_paths(schemas: &mut Schemas) -> Value {
    let agent_id = schemas.of::<AgentId>();
    let name = schemas.of::<Name>();
    let states: Vec<&str> = TASK_STATES.iter().map(|state| state.name()).collect();
    let list_parameters = json!([
        { "name": "state", "in": "query", "schema": { "enum": states } },
        { "name": "manager", "in": "query", "schema": agent_id },
        { "name": "winner", "in": "query", "schema": agent_id, "description": "An agent awarded the task, now or in an earlier attempt." },
        { "name": "kind", "in": "query", "schema": name },
        { "name": "after", "in": "query", "schema": u64_schema(), "description": "Pagination: the `next_after` of the previous page." },
        page_limit(TASKS_PAGE_MAX, TASKS_PAGE_DEFAULT)
    ]);
    let by_id = |schema: &Value| json!([{ "name": "id", "in": "path", "required": true, "schema": schema }]);
    json!({
        "/v1/tasks": { "get": read_operation("Tasks by id, filtered", schemas.of::<TaskPage>(), list_parameters, &["400"]) },
        "/v1/tasks/{id}": { "get": read_operation("One task: its terms, live bids ranked by score, attempts, and its dependencies with the results of those completed", schemas.of::<TaskView>(), by_id(&u64_schema()), &["400", "404"]) },
        "/v1/agents/{id}/reputation": { "get": read_operation("An agent's record as a worker: performance score, tasks, success and on-time rates, mean completion time, cost and earnings; its load and capacity for direct work", schemas.of::<ReputationView>(), by_id(&agent_id), &["400", "404"]) }
    })
}
