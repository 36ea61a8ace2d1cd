//! The gateway's routes called without a listener (`oneshot`), against a real Colony server started
//! in the process: the card, each method's answers and errors, and a task's stream.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use colony_client::{Client, Identity};
use colony_core::command::{PlaceBid, SubmitResult};
use colony_core::{AgentId, Amount, Fraction, Name, Signer};
use colony_wire::KeyPair;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{Gateway, REQUEST_BODY_BYTES_MAX, router};

/// A server with a funded manager (the gateway's agent), two workers offering `dex.scan`, and a
/// deregistered agent whose capability must not be offered.
struct Swarm {
    _data: tempfile::TempDir,
    server: Option<colony_server::RunningServer>,
    manager: Client,
    workers: Vec<Client>,
    gateway: Arc<Gateway>,
}

impl Swarm {
    async fn start() -> Swarm {
        let data = tempfile::tempdir().expect("a temporary directory");
        let settings = colony_server::ServerSettings::new(data.path(), "127.0.0.1:0".parse().expect("an address"));
        let server = colony_server::start(settings).await.expect("the server starts");
        let url = format!("http://{}", server.local_addr());
        let key_path = data.path().join(colony_server::server::OPERATOR_KEY_FILE_NAME);
        let operator =
            Client::new(url.clone()).with_identity(Identity::from_key_file(&key_path).expect("operator key"));
        let agent = |id: &str| {
            let signer = Signer::Agent(AgentId::new(id).expect("an agent id"));
            Client::new(url.clone()).with_identity(Identity::new(signer, KeyPair::generate()))
        };
        let manager = agent("manager");
        manager.register_self(Name::new("orchestrator").expect("a role"), &[]).await.expect("register the manager");
        let mut workers = Vec::new();
        for id in ["worker-a", "worker-b"] {
            let worker = agent(id);
            worker.register_self(Name::new("analyst").expect("a role"), &["dex.scan"]).await.expect("register");
            workers.push(worker);
        }
        let gone = agent("gone");
        gone.register_self(Name::new("analyst").expect("a role"), &["gone.skill"]).await.expect("register");
        gone.deregister(AgentId::new("gone").expect("an id")).await.expect("deregister");
        let manager_id = AgentId::new("manager").expect("an id");
        operator.mint("funding", manager_id, Amount(1_000_000)).await.expect("fund the manager");
        // worker-b also manages a task of its own in one test; announcing needs funds for it.
        let worker_b = AgentId::new("worker-b").expect("an id");
        operator.mint("funding-b", worker_b, Amount(1_000)).await.expect("fund a worker");
        let listen = "127.0.0.1:7420".parse().expect("an address");
        let gateway = Arc::new(Gateway::new(manager.clone(), listen, None).expect("an agent's gateway"));
        Swarm { _data: data, server: Some(server), manager, workers, gateway }
    }

    async fn stop(mut self) {
        self.server.take().expect("running").shutdown().await;
    }

    /// One JSON-RPC call; the HTTP status must be 200 whatever the outcome.
    async fn call(&self, method: &str, params: Value) -> Value {
        let body = json!({ "jsonrpc": "2.0", "id": "call-1", "method": method, "params": params });
        let response = self.post(Body::from(body.to_string()), None).await;
        assert_eq!(response.status(), StatusCode::OK);
        body_json(response).await
    }

    async fn post(&self, body: Body, version: Option<&str>) -> axum::response::Response {
        let mut request =
            Request::post("/").header("content-type", "application/json").header("host", "127.0.0.1:7420");
        if let Some(version) = version {
            request = request.header("a2a-version", version);
        }
        router(Arc::clone(&self.gateway)).oneshot(request.body(body).expect("a request")).await.expect("an answer")
    }

    /// Bids by both workers, the award, acceptance, a result and its verification.
    async fn carry_out(&self, task: u64, result: Value) {
        self.start_work(task).await;
        self.finish_work(task, result).await;
    }

    /// Bids by both workers, the award to the cheaper, its acceptance and a progress report at 50%.
    async fn start_work(&self, task: u64) {
        for (worker, cost) in self.workers.iter().zip([300, 500]) {
            let bid = PlaceBid {
                task,
                estimated_cost: Amount(cost),
                estimated_time_ms: 60_000,
                confidence: Fraction::parse("0.9").expect("a fraction"),
                capability_proof: None,
            };
            worker.place_bid(bid).await.expect("bid");
        }
        self.manager.award_task(task).await.expect("award");
        let winner = &self.workers[0];
        winner.accept_task(task).await.expect("accept");
        winner.report_progress(task, 50, "half").await.expect("progress");
    }

    /// The winner of [`Swarm::start_work`] submits `result` and the manager verifies it.
    async fn finish_work(&self, task: u64, result: Value) {
        let winner = &self.workers[0];
        let submission = SubmitResult {
            task,
            result: Some(serde_json::from_value(result).expect("a JSON result")),
            reference: None,
            actual_cost: Amount(100),
        };
        winner.submit_result(submission).await.expect("submit");
        self.manager.verify_result(task, Fraction::parse("0.9").expect("a score")).await.expect("verify");
    }
}

async fn body_json(response: axum::response::Response) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("the body");
    serde_json::from_slice(&bytes).expect("a JSON body")
}

fn message(message_id: &str, terms: Value) -> Value {
    json!({ "message": {
        "messageId": message_id,
        "role": "ROLE_USER",
        "parts": [{ "text": "scan ETH/USDC" }, { "data": terms }],
    }})
}

fn scan_terms() -> Value {
    json!({ "kind": "analyze", "max_cost": "1000", "deadline_ms": 600_000, "bid_window_ms": 600_000,
            "required_capabilities": ["dex.scan"] })
}

/// The JSON-RPC error code of an answer, and Colony's code in its details if any.
fn error_of(answer: &Value) -> (i64, Option<String>) {
    let error = &answer["error"];
    let code = error["code"].as_i64().unwrap_or_else(|| panic!("an error answer: {answer}"));
    let colony = error["data"][0]["metadata"]["colonyCode"].as_str().map(str::to_owned);
    (code, colony)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_offers_the_capabilities_of_live_agents_and_the_json_rpc_url() {
    let swarm = Swarm::start().await;
    let request = Request::get("/.well-known/agent-card.json").header("host", "localhost:9000");
    let response =
        router(Arc::clone(&swarm.gateway)).oneshot(request.body(Body::empty()).expect("a request")).await.expect("ok");
    assert_eq!(response.status(), StatusCode::OK);
    let card = body_json(response).await;
    assert_eq!(
        card["supportedInterfaces"],
        json!([{ "url": "http://localhost:9000/", "protocolBinding": "JSONRPC", "protocolVersion": "1.0" }])
    );
    assert_eq!(card["capabilities"]["streaming"], true);
    assert!(card.get("securitySchemes").is_none(), "without a token the card asks for none: {card}");
    assert_eq!(card["capabilities"]["extendedAgentCard"], false, "the public card is already whole");
    for required in ["name", "description", "version", "defaultInputModes", "defaultOutputModes"] {
        assert!(!card[required].is_null(), "the card has {required}");
    }
    let skills: Vec<&str> =
        card["skills"].as_array().expect("skills").iter().filter_map(|skill| skill["id"].as_str()).collect();
    assert_eq!(skills, ["colony.task", "dex.scan"], "a deregistered agent's capability is not offered");
    let scan = &card["skills"][1];
    assert!(scan["description"].as_str().expect("a description").contains("2 registered agents"), "{scan}");
    assert_eq!(scan["tags"], json!(["dex.scan", "analyst"]));
    swarm.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_announces_one_task_that_completes_with_its_result_as_an_artifact() {
    let swarm = Swarm::start().await;
    let sent = swarm.call("SendMessage", message("5d0c7a52-1111-4c3b-9e0a-000000000001", scan_terms())).await;
    let task = &sent["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_SUBMITTED", "{sent}");
    assert_eq!(task["contextId"], "5d0c7a52-1111-4c3b-9e0a-000000000001");
    let id = task["id"].as_str().expect("a task id").to_owned();
    let market_id: u64 = id.parse().expect("the market's id");
    let view = swarm.manager.task(market_id).await.expect("the task in Colony");
    assert_eq!(view.terms.payload.expect("a payload").as_str(), r#""scan ETH/USDC""#);

    let again = swarm.call("SendMessage", message("5d0c7a52-1111-4c3b-9e0a-000000000001", scan_terms())).await;
    assert_eq!(again["result"]["task"]["id"], id, "a retried message finds its task");
    let conflicting = json!({ "kind": "analyze", "max_cost": "2000", "deadline_ms": 600_000 });
    let conflict = swarm.call("SendMessage", message("5d0c7a52-1111-4c3b-9e0a-000000000001", conflicting)).await;
    assert_eq!(error_of(&conflict), (-32_602, Some("task_id_conflict".to_owned())), "{conflict}");

    swarm.carry_out(market_id, json!({ "spread_bps": 12 })).await;
    let got = swarm.call("GetTask", json!({ "id": id })).await;
    let task = &got["result"];
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{got}");
    assert_eq!(task["status"]["message"]["parts"][0]["text"], "completed by worker-a");
    assert_eq!(
        task["artifacts"],
        json!([{ "artifactId": "result", "name": "result",
                 "parts": [{ "data": { "spread_bps": 12 }, "mediaType": "application/json" }] }])
    );
    assert_eq!(task["metadata"]["colony"]["state"], "completed");
    swarm.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_ends_an_open_task_and_refusals_carry_a2a_codes() {
    let swarm = Swarm::start().await;
    let sent = swarm.call("SendMessage", message("to-cancel", scan_terms())).await;
    let id = sent["result"]["task"]["id"].as_str().expect("a task id").to_owned();
    let cancelled = swarm.call("CancelTask", json!({ "id": id })).await;
    assert_eq!(cancelled["result"]["status"]["state"], "TASK_STATE_CANCELED", "{cancelled}");
    assert_eq!(error_of(&swarm.call("CancelTask", json!({ "id": id })).await).0, -32_002);
    assert_eq!(error_of(&swarm.call("SubscribeToTask", json!({ "id": id })).await).0, -32_004);

    assert_eq!(error_of(&swarm.call("GetTask", json!({ "id": "999999" })).await).0, -32_001);
    assert_eq!(error_of(&swarm.call("GetTask", json!({ "id": "not-a-task" })).await).0, -32_001);
    assert_eq!(error_of(&swarm.call("GetTask", json!({})).await).0, -32_602);
    assert_eq!(error_of(&swarm.call("ListTasks", json!({})).await).0, -32_004);
    assert_eq!(error_of(&swarm.call("CreateTaskPushNotificationConfig", json!({})).await).0, -32_003);
    assert_eq!(error_of(&swarm.call("Frobnicate", json!({})).await).0, -32_601);
    let no_terms = json!({ "message": { "messageId": "m-2", "role": "ROLE_USER", "parts": [{ "text": "hi" }] } });
    assert_eq!(error_of(&swarm.call("SendMessage", no_terms).await).0, -32_602);
    let zero_deadline = json!({ "kind": "analyze", "max_cost": "10", "deadline_ms": 0 });
    let (code, colony) = error_of(&swarm.call("SendMessage", message("m-3", zero_deadline)).await);
    assert_eq!(code, -32_602);
    assert!(colony.is_some_and(|code| !code.is_empty()), "Colony's refusal names its code");

    // Another manager's task is none of this gateway's business.
    let other = swarm.workers[1].announce_task(
        serde_json::from_value(
            json!({ "task_id": "theirs", "kind": "analyze", "max_cost": "10", "deadline_ms": 1000 }),
        )
        .expect("terms"),
    );
    let (theirs, _) = other.await.expect("announce");
    assert_eq!(error_of(&swarm.call("GetTask", json!({ "id": theirs.to_string() })).await).0, -32_001);

    let parse_error = body_json(swarm.post(Body::from("{not json"), None).await).await;
    assert_eq!((error_of(&parse_error).0, &parse_error["id"]), (-32_700, &Value::Null));
    let old_version = json!({ "jsonrpc": "2.0", "id": 7, "method": "GetTask", "params": { "id": id } });
    let answer = body_json(swarm.post(Body::from(old_version.to_string()), Some("0.3")).await).await;
    assert_eq!((error_of(&answer).0, &answer["id"]), (-32_009, &json!(7)));
    let too_large = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{{"id":"{}"}}}}"#,
        "9".repeat(REQUEST_BODY_BYTES_MAX)
    );
    assert_eq!(error_of(&body_json(swarm.post(Body::from(too_large), None).await).await).0, -32_600);
    swarm.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_streams_each_change_then_the_result_and_ends() {
    let swarm = Swarm::start().await;
    let sent = swarm.call("SendMessage", message("streamed", scan_terms())).await;
    let id = sent["result"]["task"]["id"].as_str().expect("a task id").to_owned();
    let body = json!({ "jsonrpc": "2.0", "id": 3, "method": "SubscribeToTask", "params": { "id": id } });
    let response = swarm.post(Body::from(body.to_string()), None).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.into_body().into_data_stream();
    let mut text = String::new();
    let read_all = async {
        // The first frame (the task as it stands) before the task moves, then every frame to the end.
        while !text.contains("\n\n") {
            let chunk = stream.next().await.expect("the first frame").expect("a chunk");
            text.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
        // The gateway reports each change as the task stands when it reads it, so a progress
        // report followed at once by the result may be read as the result alone: the result waits
        // until the progress was streamed.
        let task = id.parse().expect("a market id");
        swarm.start_work(task).await;
        while !text.contains("50% done") {
            let chunk = stream.next().await.expect("the progress frame").expect("a chunk");
            text.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
        swarm.finish_work(task, json!("done")).await;
        while let Some(chunk) = stream.next().await {
            text.push_str(std::str::from_utf8(&chunk.expect("a chunk")).expect("UTF-8"));
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), read_all).await.expect("the stream ends");
    let items: Vec<Value> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| serde_json::from_str::<Value>(data.trim()).expect("a JSON-RPC frame"))
        .inspect(|frame| assert_eq!(frame["id"], 3))
        .map(|frame| frame["result"].clone())
        .collect();
    let kinds: Vec<String> = items
        .iter()
        .map(|item| {
            if let Some(task) = item.get("task") {
                format!("task {}", task["status"]["state"].as_str().unwrap_or_default())
            } else if let Some(update) = item.get("statusUpdate") {
                format!("status {}", update["status"]["state"].as_str().unwrap_or_default())
            } else {
                "artifact".to_owned()
            }
        })
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("task TASK_STATE_SUBMITTED"), "{kinds:?}");
    assert!(kinds.iter().any(|kind| kind == "status TASK_STATE_WORKING"), "{kinds:?}");
    assert_eq!(kinds[kinds.len() - 2..], ["artifact", "status TASK_STATE_COMPLETED"], "{kinds:?}");
    let artifact = &items[items.len() - 2]["artifactUpdate"];
    assert_eq!(artifact["artifact"]["parts"][0]["data"], "done");
    let notes: Vec<&str> = items
        .iter()
        .filter_map(|item| item["statusUpdate"]["status"]["message"]["parts"][0]["text"].as_str())
        .collect();
    assert!(notes.contains(&"worker-a is working on it (50% done: half)"), "{notes:?}");
    swarm.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_beyond_the_limit_are_refused_until_one_closes() {
    let swarm = Swarm::start().await;
    let sent = swarm.call("SendMessage", message("limited", scan_terms())).await;
    let id = sent["result"]["task"]["id"].as_str().expect("a task id").to_owned();
    let all = u32::try_from(super::CONCURRENT_STREAMS_MAX).expect("a small limit");
    let held = Arc::clone(&swarm.gateway.streams).acquire_many_owned(all).await.expect("every stream slot");
    let refused = swarm.call("SubscribeToTask", json!({ "id": id })).await;
    assert_eq!(error_of(&refused).0, -32_603, "{refused}");
    assert!(refused["error"]["message"].as_str().expect("a message").contains("streams are open"), "{refused}");
    drop(held);
    let body = json!({ "jsonrpc": "2.0", "id": 4, "method": "SubscribeToTask", "params": { "id": id } });
    let response = swarm.post(Body::from(body.to_string()), None).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    swarm.stop().await;
}

#[test]
fn a_reachable_address_needs_to_be_asked_for_and_a_token() {
    let loopback = "127.0.0.1:7420".parse().expect("an address");
    let loopback_v6 = "[::1]:7420".parse().expect("an address");
    let everywhere = "0.0.0.0:7420".parse().expect("an address");
    assert_eq!(super::check_listen(loopback, false, false, false), Ok(()), "this machine only, as before tokens");
    assert_eq!(super::check_listen(loopback_v6, false, false, false), Ok(()));
    assert_eq!(super::check_listen(loopback, false, true, false), Ok(()));
    let refusal = super::check_listen(everywhere, false, true, true).expect_err("refused without --allow-remote");
    assert!(refusal.contains("--allow-remote") && refusal.contains("money"), "{refusal}");
    let refusal = super::check_listen(everywhere, true, false, true).expect_err("remote without a token is refused");
    assert!(refusal.contains("needs a token") && refusal.contains("COLONY_A2A_TOKEN"), "{refusal}");
    assert!(super::check_listen(loopback, true, false, true).is_err(), "--allow-remote always needs a token");
    assert_eq!(super::check_listen(everywhere, true, true, true), Ok(()));
    let refusal = super::check_listen(everywhere, true, true, false).expect_err("remote without a public URL");
    assert!(refusal.contains("--public-url"), "{refusal}");
}

/// A JSON-RPC post of `body` with `headers`, to a gateway without a token.
async fn post_with(swarm: &Swarm, body: &Value, headers: &[(&str, &str)]) -> axum::response::Response {
    let mut request = Request::post("/");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::from(body.to_string())).expect("a request");
    router(Arc::clone(&swarm.gateway)).oneshot(request).await.expect("an answer")
}

/// A refusal before the body is read: `status`, a JSON-RPC error with a null id and Colony's `code`.
async fn assert_refused(response: axum::response::Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    let answer = body_json(response).await;
    assert_eq!(answer["id"], Value::Null, "{answer}");
    assert_eq!(error_of(&answer), (-32_600, Some(code.to_owned())), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pages_cannot_announce_through_a_gateway_without_a_token() {
    let swarm = Swarm::start().await;
    let send = json!({ "jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": message("page", scan_terms()) });
    let json = ("content-type", "application/json");
    let loopback = ("host", "127.0.0.1:7420");
    // The "simple" post a page may send without asking first.
    let plain = post_with(&swarm, &send, &[("content-type", "text/plain;charset=UTF-8"), loopback]).await;
    assert_refused(plain, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    assert_refused(
        post_with(&swarm, &send, &[loopback]).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let from_page = post_with(&swarm, &send, &[json, loopback, ("origin", "https://evil.example")]).await;
    assert_refused(from_page, StatusCode::FORBIDDEN, "forbidden_origin").await;
    let null_origin = post_with(&swarm, &send, &[json, loopback, ("origin", "null")]).await;
    assert_refused(null_origin, StatusCode::FORBIDDEN, "forbidden_origin").await;
    // DNS rebinding: the page's own name, resolved to this machine.
    let rebound = post_with(&swarm, &send, &[json, ("host", "evil.example:7420")]).await;
    assert_refused(rebound, StatusCode::FORBIDDEN, "forbidden_host").await;
    assert_refused(post_with(&swarm, &send, &[json]).await, StatusCode::FORBIDDEN, "forbidden_host").await;
    let card = Request::get("/.well-known/agent-card.json").header("host", "evil.example");
    let card = router(Arc::clone(&swarm.gateway)).oneshot(card.body(Body::empty()).expect("a request")).await;
    assert_refused(card.expect("an answer"), StatusCode::FORBIDDEN, "forbidden_host").await;
    assert!(swarm.manager.task(0).await.is_err(), "no refused request announced anything");

    for host in ["localhost:7420", "127.0.0.1:7420", "[::1]:9"] {
        let headers = [("content-type", "application/json; charset=utf-8"), ("host", host)];
        let answer = post_with(&swarm, &send, &headers).await;
        assert_eq!(answer.status(), StatusCode::OK, "{host}");
        assert_eq!(body_json(answer).await["result"]["task"]["id"], "0", "{host}: the same message, one task");
    }
    swarm.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_url_names_the_one_other_host_requests_may_name() {
    let swarm = Swarm::start().await;
    let token = super::auth::Token::new(TOKEN).expect("a token");
    let listen = "0.0.0.0:7420".parse().expect("an address");
    assert_eq!(super::check_listen(listen, true, true, true), Ok(()));
    let public = Some("https://A2A.example.org/".to_owned());
    let gateway = Gateway::new(swarm.manager.clone(), listen, public).expect("a gateway").with_token(Some(token));
    let gateway = Arc::new(gateway);
    let get = json!({ "jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": { "id": "0" } });
    let bearer = format!("Bearer {TOKEN}");
    for (host, status) in [
        ("a2a.example.org", StatusCode::OK),
        ("a2a.example.org:443", StatusCode::OK),
        ("127.0.0.1:7420", StatusCode::OK),
        ("other.example.org", StatusCode::FORBIDDEN),
    ] {
        let request = Request::post("/")
            .header("content-type", "application/json")
            .header("host", host)
            .header("authorization", &bearer)
            .body(Body::from(get.to_string()))
            .expect("a request");
        let answer = send_to(&gateway, request).await;
        assert_eq!(answer.status(), status, "{host}");
        if status == StatusCode::OK {
            assert_eq!(error_of(&body_json(answer).await).0, -32_001, "{host}: read, no such task");
        }
    }
    let refusal = Gateway::new(swarm.manager.clone(), listen, Some("a2a.example.org".to_owned()));
    assert!(refusal.is_err(), "a public URL without a scheme names no host");
    swarm.stop().await;
}

const TOKEN: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// A request to `gateway` with an `Authorization` header when given.
async fn send_to(gateway: &Arc<Gateway>, request: Request<Body>) -> axum::response::Response {
    router(Arc::clone(gateway)).oneshot(request).await.expect("an answer")
}

fn rpc_request(body: &Value, authorization: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/").header("content-type", "application/json").header("host", "localhost:7420");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.body(Body::from(body.to_string())).expect("a request")
}

/// A 401 with the bearer challenge and a JSON-RPC error naming Colony's `unauthenticated`.
async fn assert_unauthenticated(response: axum::response::Response, challenge_error: Option<&str>) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().expect("ASCII").to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert_eq!(challenge.contains("error=\"invalid_token\""), challenge_error.is_some(), "{challenge}");
    let answer = body_json(response).await;
    assert_eq!(answer["id"], Value::Null, "{answer}");
    assert_eq!(error_of(&answer), (-32_600, Some("unauthenticated".to_owned())), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_every_json_rpc_request_must_bear_it_but_the_card_is_public() {
    let swarm = Swarm::start().await;
    let token = super::auth::Token::new(TOKEN).expect("a token");
    let listen = "127.0.0.1:7420".parse().expect("an address");
    let gateway = Gateway::new(swarm.manager.clone(), listen, None).expect("a gateway").with_token(Some(token));
    let gateway = Arc::new(gateway);
    let send =
        json!({ "jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": message("guarded", scan_terms()) });
    let streaming = json!({ "jsonrpc": "2.0", "id": 2, "method": "SendStreamingMessage",
                            "params": message("guarded-stream", scan_terms()) });

    assert_unauthenticated(send_to(&gateway, rpc_request(&send, None)).await, None).await;
    assert_unauthenticated(send_to(&gateway, rpc_request(&streaming, None)).await, None).await;
    let wrong = format!("Bearer {}", TOKEN.replace('9', "8"));
    assert_unauthenticated(send_to(&gateway, rpc_request(&send, Some(&wrong))).await, Some("invalid_token")).await;
    let prefix = format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]);
    assert_unauthenticated(send_to(&gateway, rpc_request(&send, Some(&prefix))).await, Some("invalid_token")).await;
    let basic = format!("Basic {TOKEN}");
    assert_unauthenticated(send_to(&gateway, rpc_request(&send, Some(&basic))).await, None).await;
    assert!(swarm.manager.task(0).await.is_err(), "no refused request announced anything");

    let right = format!("bearer {TOKEN}");
    let answer = send_to(&gateway, rpc_request(&send, Some(&right))).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let answer = body_json(answer).await;
    assert_eq!(answer["result"]["task"]["id"], "0", "{answer}");
    let answer = send_to(&gateway, rpc_request(&streaming, Some(&right))).await;
    assert_eq!(answer.headers()["content-type"], "text/event-stream");

    let card_request = Request::get("/.well-known/agent-card.json")
        .header("host", "[::1]:7420")
        .body(Body::empty())
        .expect("a request");
    let card = send_to(&gateway, card_request).await;
    assert_eq!(card.status(), StatusCode::OK, "the card needs no token");
    let card = body_json(card).await;
    assert_eq!(
        card["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["scheme"], "Bearer",
        "{}",
        card["securitySchemes"]
    );
    assert_eq!(card["securityRequirements"], json!([{ "schemes": { "bearer": { "list": [] } } }]));
    // The public card does not map the swarm: the generic skill only, and the extended card declared.
    let skills = |card: &Value| -> Vec<String> {
        card["skills"]
            .as_array()
            .expect("skills")
            .iter()
            .filter_map(|skill| skill["id"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(skills(&card), ["colony.task"], "{card}");
    assert_eq!(card["capabilities"]["extendedAgentCard"], true);
    // The extended card needs the token, and names every capability offered.
    let extended = json!({ "jsonrpc": "2.0", "id": 3, "method": "GetExtendedAgentCard", "params": {} });
    assert_unauthenticated(send_to(&gateway, rpc_request(&extended, None)).await, None).await;
    let answer = body_json(send_to(&gateway, rpc_request(&extended, Some(&right))).await).await;
    assert_eq!(skills(&answer["result"]), ["colony.task", "dex.scan"], "{answer}");
    assert_eq!(answer["result"]["securitySchemes"], card["securitySchemes"]);
    swarm.stop().await;
}

#[test]
fn a_token_must_be_long_well_formed_given_once_and_kept_private() {
    use super::auth::{Token, token_from};
    assert!(Token::new(&TOKEN[..31]).expect_err("31 bytes").contains("at least 32"));
    assert!(Token::new(&format!("{} x", &TOKEN[..40])).expect_err("a space").contains("RFC 6750"));
    assert!(Token::new(&"a".repeat(super::TOKEN_BYTES_MAX + 1)).is_err());
    let base64 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=";
    assert!(Token::new(base64).expect("base64 with padding").matches(base64));
    let token = Token::new(TOKEN).expect("hex");
    assert!(token.matches(TOKEN));
    assert!(!token.matches(&TOKEN[..TOKEN.len() - 1]) && !token.matches(""));

    let directory = tempfile::tempdir().expect("a directory");
    let path = directory.path().join("a2a.token");
    std::fs::write(&path, format!("{TOKEN}\n")).expect("write the token");
    set_mode(&path, 0o600);
    let from_file = token_from(Some(&path), None).expect("a private file").expect("a token");
    assert!(from_file.matches(TOKEN), "the final newline is not part of the token");
    let both = token_from(Some(&path), Some(TOKEN)).expect_err("two sources");
    assert!(both.contains("not both"), "{both}");
    assert!(token_from(None, Some(TOKEN)).expect("from the environment").expect("a token").matches(TOKEN));
    assert!(token_from(None, Some("")).expect_err("an empty variable").contains("COLONY_A2A_TOKEN"));
    assert!(token_from(None, None).expect("no token").is_none());
    if cfg!(unix) {
        set_mode(&path, 0o640);
        let refusal = token_from(Some(&path), None).expect_err("readable by the group");
        assert!(refusal.contains("640") && refusal.contains("chmod 600"), "{refusal}");
        set_mode(&path, 0o602);
        assert!(token_from(Some(&path), None).is_err(), "writable by others");
    }
    let missing = token_from(Some(&directory.path().join("none")), None).expect_err("no file");
    assert!(missing.contains("cannot read the token file"), "{missing}");
}

#[cfg(unix)]
#[test]
fn a_token_file_must_be_a_regular_file_of_this_user_with_mode_0600_at_most() {
    use super::auth::token_from;
    let directory = tempfile::tempdir().expect("a directory");
    let refusal = token_from(Some(directory.path()), None).expect_err("a directory");
    assert!(refusal.contains("not a regular file"), "{refusal}");
    let fifo = directory.path().join("a2a.fifo");
    let private = rustix::fs::Mode::from_raw_mode(0o600);
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, private, 0).expect("a FIFO");
    // Refused at once: opening it must not wait for a writer that never comes.
    let refusal = token_from(Some(&fifo), None).expect_err("a FIFO");
    assert!(refusal.contains("not a regular file"), "{refusal}");

    let path = directory.path().join("a2a.token");
    std::fs::write(&path, format!("{TOKEN}\n")).expect("write the token");
    set_mode(&path, 0o700);
    let refusal = token_from(Some(&path), None).expect_err("executable");
    assert!(refusal.contains("700") && refusal.contains("chmod 600"), "{refusal}");
    set_mode(&path, 0o400);
    assert!(token_from(Some(&path), None).expect("read-only for its owner").is_some());
    std::fs::write(&path, format!("{TOKEN}\n{}", "x".repeat(super::TOKEN_BYTES_MAX))).expect("write");
    set_mode(&path, 0o600);
    assert!(token_from(Some(&path), None).expect_err("too long").contains("not a token file"));
    if rustix::process::geteuid().is_root() {
        std::fs::write(&path, format!("{TOKEN}\n")).expect("write the token");
        std::os::unix::fs::chown(&path, Some(1), None).expect("give the file away");
        let refusal = token_from(Some(&path), None).expect_err("another user's");
        assert!(refusal.contains("owned by user 1"), "{refusal}");
    }
}

#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(not(unix))]
fn set_mode(_path: &std::path::Path, _mode: u32) {}
