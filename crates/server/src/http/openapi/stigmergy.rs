//! Stigmergy's paths: pheromone maps, their strongest trails and one trail sensed.

use serde_json::{Value, json};

use colony_core::stigmergy::TaskSignalState;
use colony_core::{Intensity, Name, SignalKey};
use colony_wire::stigmergy::{PheromoneMapPage, PheromoneMapView, SignalView, TaskSignalPage, TopTrailsView};

use super::operations::{page_limit, read_operation};
use super::schemas::Schemas;
use crate::http::stigmergy::{MAPS_PAGE_DEFAULT, MAPS_PAGE_MAX, TOP_DEFAULT, TOP_MAX};

pub(super) fn stigmergy_paths(schemas: &mut Schemas) -> Value {
    let name = schemas.of::<Name>();
    let map = json!({ "name": "map", "in": "path", "required": true, "schema": name });
    let list_parameters = json!([
        { "name": "after", "in": "query", "schema": name, "description": "Pagination: the `next_after` of the previous page." },
        page_limit(MAPS_PAGE_MAX, MAPS_PAGE_DEFAULT)
    ]);
    let top_parameters = json!([
        map,
        { "name": "n", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": TOP_MAX, "default": TOP_DEFAULT } }
    ]);
    let sense_parameters = json!([
        map,
        { "name": "key", "in": "path", "required": true, "schema": schemas.of::<SignalKey>() },
        { "name": "min", "in": "query", "schema": schemas.of::<Intensity>(), "description": "The least intensity counted as sensed (0 unless given)." }
    ]);
    let task_parameters = json!([
        map,
        { "name": "state", "in": "query", "schema": schemas.of::<TaskSignalState>(), "description": "Only tasks in this state (`available`: an agent may claim them)." },
        { "name": "after", "in": "query", "schema": { "type": "string" }, "description": "Pagination: the `next_after` of the previous page." },
        page_limit(MAPS_PAGE_MAX, MAPS_PAGE_DEFAULT)
    ]);
    json!({
        "/v1/pheromones": { "get": read_operation("Pheromone maps by name", schemas.of::<PheromoneMapPage>(), list_parameters, &["400"]) },
        "/v1/pheromones/{map}": { "get": read_operation("One pheromone map: its decay model, levels, depositors and counts", schemas.of::<PheromoneMapView>(), json!([map]), &["400", "404"]) },
        "/v1/pheromones/{map}/top": { "get": read_operation("A map's strongest trails at the state's log time, strongest first", schemas.of::<TopTrailsView>(), top_parameters, &["400", "404"]) },
        "/v1/pheromones/{map}/signals/{key}": { "get": read_operation("One trail's intensity at the state's log time, and whether it reaches `min`", schemas.of::<SignalView>(), sense_parameters, &["400", "404"]) },
        "/v1/pheromones/{map}/tasks": { "get": read_operation("Typed task signals (`<task>:available`, `:claimed`, `:completed`, `:failed`) at the state's log time, by task id, with where each task stands", schemas.of::<TaskSignalPage>(), task_parameters, &["400", "404"]) }
    })
}
