//! Stigmergy's read endpoints, called in process: seed 000's map with deposits capped, its trails
//! listed strongest first and sensed against a minimum, maps paged by name, the 404s and bad
//! queries, and a key outside the alphabet refused before the log.

use axum::body::Body;
use colony_core::Intensity;
use colony_wire::envelope::{SIGNATURE_HEADER, signing_message};
use colony_wire::keys::KeyPair;
use colony_wire::read_auth::READ_SIGNER_HEADER;
use colony_wire::stigmergy::{PheromoneMapPage, PheromoneMapView, SignalView, TopTrailsView};
use serde_json::json;

use super::tests::{TestApp, expect_problem, json_post, read, submit};

fn units(text: &str) -> Intensity {
    Intensity::parse(text).unwrap()
}

#[tokio::test]
async fn seed_000s_map_is_read_strongest_first_and_sensed_against_a_minimum() {
    let test = TestApp::new();
    let scout = KeyPair::from_seed([3; 32]);
    let register =
        json!({ "type": "agent.register", "agent": "scout-1", "public_key": scout.public_key(), "role": "scout" });
    submit(&test, "operator", &test.operator, register).await;
    for map in ["signals", "claims"] {
        let created = submit(&test, "scout-1", &scout, json!({ "type": "pheromone.map.create", "map": map })).await;
        assert_eq!(created.results[0].status.as_deref(), Some("done"));
    }
    let deposit = |key: &str, strength: &str| json!({ "type": "pheromone.deposit", "map": "signals", "key": key, "strength": strength });
    for (key, strength, intensity) in [
        ("BTC:long:momentum", "7", "7"),
        ("BTC:long:momentum", "7", "10"),
        ("ETH:short", "3", "3"),
        ("SOL:long", "3", "3"),
    ] {
        let response = submit(&test, "scout-1", &scout, deposit(key, strength)).await;
        assert_eq!(response.results[0].intensity, Some(units(intensity)), "{key} {strength}");
    }

    let top: TopTrailsView = read(&test, "/v1/pheromones/signals/top?n=2").await;
    let trails: Vec<(&str, Intensity)> = top.trails.iter().map(|trail| (trail.key.as_str(), trail.intensity)).collect();
    assert_eq!(trails, [("BTC:long:momentum", units("10")), ("ETH:short", units("3"))], "equal ones by key");
    let default: TopTrailsView = read(&test, "/v1/pheromones/signals/top").await;
    assert_eq!(default.trails.len(), 3);
    let state_time = test.app.state().map(|state| state.timestamp_ms()).unwrap_or_default();
    assert_eq!(top.as_of_ms, state_time, "computed at the state's log time");

    let sensed: SignalView = read(&test, "/v1/pheromones/signals/signals/ETH:short?min=2.5").await;
    assert_eq!((sensed.intensity, sensed.sensed), (units("3"), true));
    let weak: SignalView = read(&test, "/v1/pheromones/signals/signals/ETH:short?min=3.5").await;
    assert_eq!((weak.intensity, weak.sensed), (units("3"), false));
    let none: SignalView = read(&test, "/v1/pheromones/signals/signals/DOGE:long").await;
    assert_eq!((none.intensity, none.sensed), (Intensity::ZERO, false));

    let map: PheromoneMapView = read(&test, "/v1/pheromones/signals").await;
    assert_eq!((map.keys, map.deposits, map.cap, map.creator.to_string().as_str()), (3, 4, units("10"), "scout-1"));
    let page: PheromoneMapPage = read(&test, "/v1/pheromones?limit=1").await;
    assert_eq!(
        (page.maps[0].name.as_str(), page.next_after.as_ref().map(|name| name.as_str())),
        ("claims", Some("claims"))
    );
    let page: PheromoneMapPage = read(&test, "/v1/pheromones?after=claims").await;
    assert_eq!((page.maps.len(), page.maps[0].name.as_str(), page.next_after), (1, "signals", None));

    let missing = test.send(test.signed_get("/v1/pheromones/nowhere/top")).await;
    expect_problem(missing, 404, "pheromone_map_not_found", Some("map")).await;
    expect_problem(
        test.send(test.signed_get("/v1/pheromones/nowhere")).await,
        404,
        "pheromone_map_not_found",
        Some("map"),
    )
    .await;
    expect_problem(test.send(test.signed_get("/v1/pheromones/signals/top?n=0")).await, 400, "invalid_query", Some("n"))
        .await;
    let bad_min = test.send(test.signed_get("/v1/pheromones/signals/signals/ETH:short?min=-1")).await;
    expect_problem(bad_min, 400, "invalid_query", Some("min")).await;
    let bad_key = test.send(test.signed_get("/v1/pheromones/signals/signals/ETH%20short")).await;
    expect_problem(bad_key, 400, "invalid_query", Some("key")).await;
}

#[tokio::test]
async fn a_key_outside_the_alphabet_is_refused_before_the_log() {
    let test = TestApp::new();
    let created =
        submit(&test, "operator", &test.operator, json!({ "type": "pheromone.map.create", "map": "signals" })).await;
    assert_eq!(created.results[0].status.as_deref(), Some("done"));
    let hash_before = test.app.state().map(|state| state.state_hash()).ok();
    let body = json!({ "signer": "operator", "nonce": 1, "commands": [
        { "type": "pheromone.deposit", "map": "signals", "key": "BTC long", "strength": "1" }
    ] })
    .to_string();
    let signature = test.operator.sign(&signing_message(body.as_bytes()));
    let request = json_post("/v1/commands")
        .header(READ_SIGNER_HEADER, "operator")
        .header(SIGNATURE_HEADER, hex::encode(signature))
        .body(Body::from(body))
        .expect("a request");
    expect_problem(test.send(request).await, 400, "malformed_request", Some("commands[0].key")).await;
    assert_eq!(test.app.state().map(|state| state.state_hash()).ok(), hash_before, "nothing changed");
}

#[tokio::test]
async fn seed_003s_task_signals_are_listed_with_their_state_and_a_second_claim_is_refused() {
    let test = TestApp::new();
    let create =
        json!({ "type": "pheromone.map.create", "map": "work", "decay": {"linear": {"lost_per_second": "0.1"}} });
    submit(&test, "operator", &test.operator, create).await;
    let deposit = |key: &str| json!({ "type": "pheromone.deposit", "map": "work", "key": key, "strength": "1" });
    for key in ["doc-1:available", "doc-2:available", "doc-3:available", "doc-3:completed", "doc-4:failed", "other"] {
        submit(&test, "operator", &test.operator, deposit(key)).await;
    }
    let claim = json!({ "type": "pheromone.deposit", "map": "work", "key": "doc-2:claimed", "strength": "1",
        "unless_present": ["doc-2:claimed", "doc-2:completed"] });
    let won = submit(&test, "operator", &test.operator, claim.clone()).await;
    assert!(won.results[0].ok);

    let all: colony_wire::stigmergy::TaskSignalPage = read(&test, "/v1/pheromones/work/tasks").await;
    let states: Vec<(&str, String)> = all
        .tasks
        .iter()
        .map(|task| (task.task.as_str(), serde_json::to_value(task.state).unwrap().as_str().unwrap().to_owned()))
        .collect();
    let expected = [("doc-1", "available"), ("doc-2", "claimed"), ("doc-3", "completed"), ("doc-4", "failed")];
    assert_eq!(states, expected.map(|(task, state)| (task, state.to_owned())), "a key without a type is no task");
    assert_eq!(all.tasks[1].signals.claimed, units("1"));
    let available: colony_wire::stigmergy::TaskSignalPage =
        read(&test, "/v1/pheromones/work/tasks?state=available").await;
    assert_eq!(available.tasks.iter().map(|task| task.task.as_str()).collect::<Vec<_>>(), ["doc-1"]);
    let page: colony_wire::stigmergy::TaskSignalPage = read(&test, "/v1/pheromones/work/tasks?limit=2").await;
    assert_eq!((page.tasks.len(), page.next_after.as_deref()), (2, Some("doc-2")));
    let next: colony_wire::stigmergy::TaskSignalPage = read(&test, "/v1/pheromones/work/tasks?after=doc-2").await;
    assert_eq!((next.tasks[0].task.as_str(), next.next_after), ("doc-3", None));

    let second = super::tests::send(&test, "operator", &test.operator, vec![claim]).await;
    expect_problem(second, 409, "signal_present", Some("unless_present")).await;
    expect_problem(
        test.send(test.signed_get("/v1/pheromones/work/tasks?state=lost")).await,
        400,
        "invalid_query",
        Some("query"),
    )
    .await;
    expect_problem(
        test.send(test.signed_get("/v1/pheromones/nowhere/tasks")).await,
        404,
        "pheromone_map_not_found",
        Some("map"),
    )
    .await;
}
