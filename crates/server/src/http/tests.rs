//! The router's error paths, called in process (`tower::ServiceExt::oneshot`, no listener), over a
//! driver and state built the way `server::start` builds them.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use colony_core::{Signer, SwarmConfig};
use colony_log::{Durability, SqliteLog};
use colony_wire::Problem;
use colony_wire::envelope::SIGNATURE_HEADER;
use colony_wire::keys::KeyPair;
use colony_wire::problem::{PROBLEM_CONTENT_TYPE, ServerCode};
use colony_wire::read_auth::{READ_SIGNATURE_HEADER, READ_SIGNER_HEADER, READ_TIMESTAMP_HEADER, read_signing_message};
use colony_wire::views::StatusView;
use tower::ServiceExt as _;

use super::auth::{Reader, credentials_hold};
use super::{ApiError, AppState};
use crate::bus::EphemeralBus;
use crate::clock::ManualClock;
use crate::driver::{self, DriverSettings};
use crate::events::EventHub;
use crate::server::ServerSettings;

/// The test clock's time: signed reads are stamped with it.
pub(super) const NOW_MS: u64 = 1_750_000_000_000;

/// A server's router and state over a fresh log holding only the genesis entry.
pub(super) struct TestApp {
    pub(super) router: Router,
    pub(super) app: AppState,
    pub(super) operator: KeyPair,
    _shutdown: tokio::sync::watch::Sender<bool>,
    _directory: tempfile::TempDir,
}

impl TestApp {
    pub(super) fn new() -> TestApp {
        TestApp::with_settings(|_| {})
    }

    /// A test app whose server settings `adjust` changes from the defaults.
    fn with_settings(adjust: impl FnOnce(&mut ServerSettings)) -> TestApp {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let mut log =
            SqliteLog::open_with(&directory.path().join("log.db"), Durability::Relaxed).expect("the log opens");
        let operator = KeyPair::from_seed([7; 32]);
        driver::write_genesis(&mut log, operator.public_key(), SwarmConfig::default(), NOW_MS)
            .expect("the genesis entry is written");
        let snapshots = Arc::new(colony_log::MemorySnapshots::default());
        let recovered = crate::recovery::recover(&log, &*snapshots, 16, |_, _| {}).expect("the log recovers");
        let events = EventHub::new(16, recovered.events_complete_from);
        let clock = Arc::new(ManualClock::new(NOW_MS));
        let storage = driver::Storage { log: Box::new(log), snapshots, snapshot_sequence: 0 };
        let (driver, _writer) = driver::start(
            storage,
            recovered.state,
            events,
            Arc::new(EphemeralBus::new(NOW_MS)),
            clock.clone(),
            DriverSettings::default(),
        )
        .expect("the driver starts");
        let mut settings = ServerSettings::new(directory.path(), "127.0.0.1:0".parse().expect("an address"));
        settings.clock = clock;
        adjust(&mut settings);
        let (shutdown, shutdown_receiver) = tokio::sync::watch::channel(false);
        let app = AppState::new(driver, &settings, shutdown_receiver);
        TestApp { router: super::router(app.clone()), app, operator, _shutdown: shutdown, _directory: directory }
    }

    pub(super) async fn send(&self, request: Request<Body>) -> Response {
        self.router.clone().oneshot(request).await.expect("the router answers every request")
    }

    /// A GET signed by the operator.
    pub(super) fn signed_get(&self, path_and_query: &str) -> Request<Body> {
        let signature = self.operator.sign(&read_signing_message(&Signer::Operator, "GET", path_and_query, NOW_MS));
        Request::get(path_and_query)
            .header(READ_SIGNER_HEADER, Signer::Operator.to_string())
            .header(READ_TIMESTAMP_HEADER, NOW_MS.to_string())
            .header(READ_SIGNATURE_HEADER, hex::encode(signature))
            .body(Body::empty())
            .expect("a request")
    }

    /// Leaves the state's lock poisoned, as a writer that panicked while applying an entry does.
    fn poison_state(&self) {
        let shared = Arc::clone(&self.app.driver.shared);
        let panicked = std::thread::spawn(move || {
            let _changing = shared.state.write().expect("the lock is not poisoned yet");
            panic!("a writer fails halfway through a change (this panic is the test's)");
        })
        .join();
        assert!(panicked.is_err());
        assert!(self.app.driver.shared.state.is_poisoned());
    }
}

pub(super) async fn body_bytes(response: Response) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("the body arrives").to_vec()
}

/// Checks that `response` is the problem document with `status`, `code` and `field`; returns it.
pub(super) async fn expect_problem(response: Response, status: u16, code: &str, field: Option<&str>) -> Problem {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    assert_eq!(content_type, Some(PROBLEM_CONTENT_TYPE));
    let problem: Problem = serde_json::from_slice(&body_bytes(response).await).expect("a problem document");
    assert_eq!((problem.status, problem.code.as_str(), problem.field.as_deref()), (status, code, field), "{problem}");
    assert_eq!(problem.problem_type, format!("urn:colony:problem:{code}"));
    problem
}

pub(super) fn json_post(path: &str) -> axum::http::request::Builder {
    Request::post(path).header(header::CONTENT_TYPE, "application/json")
}

#[tokio::test]
async fn an_unknown_route_is_404_not_found() {
    let test = TestApp::new();
    for path in ["/v2/agents", "/v1/agents/operator/extra", "/"] {
        let response = test.send(Request::get(path).body(Body::empty()).unwrap()).await;
        expect_problem(response, 404, ServerCode::NotFound.code(), None).await;
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_the_allowed_ones() {
    let test = TestApp::new();
    let response = test.send(Request::get("/v1/commands").body(Body::empty()).unwrap()).await;
    let allow = response.headers().get(header::ALLOW).and_then(|value| value.to_str().ok()).map(str::to_owned);
    expect_problem(response, 405, ServerCode::MethodNotAllowed.code(), None).await;
    assert_eq!(allow.as_deref(), Some("POST"));
    let response = test.send(Request::builder().method(Method::DELETE).uri("/v1/status").body(Body::empty()).unwrap());
    expect_problem(response.await, 405, ServerCode::MethodNotAllowed.code(), None).await;
}

#[tokio::test]
async fn a_bad_query_is_400_invalid_query_blaming_its_parameter() {
    let test = TestApp::new();
    let cases = [
        ("/v1/agents?limit=0", "limit"),
        ("/v1/agents?status=sleepy", "status"),
        ("/v1/agents?role=Scout", "role"),
        // Undecodable: the decoder does not say which parameter, so the endpoint's field is blamed.
        ("/v1/agents?limit=many", "query"),
        ("/v1/agents?colour=red", "query"),
        ("/v1/escrows?state=bogus", "state"),
        ("/v1/escrows?payee=a%2Fb", "payee"),
        ("/v1/ledger?verify=perhaps", "verify"),
        ("/v1/events?from=0", "from"),
        ("/v1/streams/orders/messages?limit=0", "limit"),
        ("/v1/streams/orders/dead_letters?after=last", "after"),
    ];
    for (path, field) in cases {
        expect_problem(test.send(test.signed_get(path)).await, 400, ServerCode::InvalidQuery.code(), Some(field)).await;
    }
}

#[tokio::test]
async fn a_bad_path_parameter_is_400_invalid_query_blaming_it_by_its_route_name() {
    let test = TestApp::new();
    let cases = [
        ("/v1/agents/Scout-1", "id"),
        ("/v1/agents/Scout-1/costs", "id"),
        ("/v1/wallets/a%20b", "agent"),
        ("/v1/escrows/abc", "id"),
        ("/v1/streams/Orders", "name"),
        ("/v1/streams/orders/consumers/Bad%20Name", "consumer"),
        ("/v1/streams/Orders/consumers/fine", "name"),
    ];
    for (path, field) in cases {
        let problem =
            expect_problem(test.send(test.signed_get(path)).await, 400, ServerCode::InvalidQuery.code(), Some(field));
        assert!(problem.await.detail.starts_with(&format!("{field}: ")), "{path}");
    }
    // A valid id that names nothing is the state's answer, not the extractor's.
    let response = test.send(test.signed_get("/v1/agents/nobody")).await;
    expect_problem(response, 404, "agent_not_found", None).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let test = TestApp::new();
    let request = Request::post("/v1/commands").header(header::CONTENT_TYPE, "text/plain").body(Body::from("{}"));
    let response = test.send(request.unwrap()).await;
    expect_problem(response, 415, ServerCode::UnsupportedMediaType.code(), Some("content-type")).await;
}

#[tokio::test]
async fn a_write_without_its_signer_or_signature_is_401() {
    let test = TestApp::new();
    let response = test.send(json_post("/v1/commands").body(Body::from("{}")).unwrap()).await;
    expect_problem(response, 401, ServerCode::Unauthenticated.code(), Some(READ_SIGNER_HEADER)).await;
    let request = json_post("/v1/batch").header(READ_SIGNER_HEADER, "operator").body(Body::from("{}"));
    let response = test.send(request.unwrap()).await;
    expect_problem(response, 401, ServerCode::InvalidSignature.code(), Some(SIGNATURE_HEADER)).await;
}

#[tokio::test]
async fn an_unsigned_read_is_401_unauthenticated_with_the_scheme_to_use() {
    let test = TestApp::new();
    let response = test.send(Request::get("/v1/status").body(Body::empty()).unwrap()).await;
    let challenge = response.headers().get(header::WWW_AUTHENTICATE).map(|value| value.as_bytes().to_vec());
    expect_problem(response, 401, ServerCode::Unauthenticated.code(), None).await;
    assert_eq!(challenge.as_deref(), Some(&b"Bearer realm=\"colony\""[..]));
    let request = Request::get("/v1/status").header(header::AUTHORIZATION, "Bearer not-a-token").body(Body::empty());
    expect_problem(test.send(request.unwrap()).await, 401, ServerCode::Unauthenticated.code(), None).await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_before_it_is_read() {
    let test = TestApp::new();
    let declared = super::writes::SINGLE_BODY_BYTES_MAX + 1;
    let request = json_post("/v1/commands").header(header::CONTENT_LENGTH, declared.to_string()).body(Body::empty());
    let problem =
        expect_problem(test.send(request.unwrap()).await, 413, ServerCode::PayloadTooLarge.code(), None).await;
    assert!(problem.detail.contains(&super::writes::SINGLE_BODY_BYTES_MAX.to_string()), "{problem}");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408_body_timeout_not_the_write_timeout() {
    let test = TestApp::with_settings(|settings| settings.request_timeout = std::time::Duration::from_millis(50));
    let never = futures_util::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
    let request = json_post("/v1/commands")
        .header(READ_SIGNER_HEADER, "operator")
        .header(SIGNATURE_HEADER, "00".repeat(64))
        .body(Body::from_stream(never));
    let problem = expect_problem(test.send(request.unwrap()).await, 408, ServerCode::BodyTimeout.code(), None).await;
    assert!(!problem.has_code(ServerCode::Timeout), "nothing was applied, unlike an unconfirmed write");
}

#[tokio::test]
async fn a_handshake_the_connection_cannot_upgrade_is_400_malformed_request() {
    let test = TestApp::new();
    // A complete handshake, sent without a connection that could be upgraded (as over HTTP/1.0),
    // which axum alone would answer with 426.
    let mut request = test.signed_get("/v1/bus/ws");
    for (name, value) in [
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ] {
        request.headers_mut().insert(name, value.parse().expect("a header value"));
    }
    let problem =
        expect_problem(test.send(request).await, 400, ServerCode::MalformedRequest.code(), Some("upgrade")).await;
    assert!(problem.detail.contains("WebSocket handshake"), "{problem}");
}

#[tokio::test]
async fn a_poisoned_state_lock_answers_503_unavailable_and_ends_streams() {
    let test = TestApp::new();
    test.poison_state();
    // Through the authentication layer, which reads the signer's key from the state.
    let problem =
        expect_problem(test.send(test.signed_get("/v1/status")).await, 503, ServerCode::Unavailable.code(), None);
    assert!(problem.await.detail.contains("writer failure"));
    let request = Request::get("/v1/status").header(header::AUTHORIZATION, "Bearer some-token").body(Body::empty());
    expect_problem(test.send(request.unwrap()).await, 503, ServerCode::Unavailable.code(), None).await;
    // A write, whose body reader looks the signer up before it reads more than a little.
    let request = json_post("/v1/commands")
        .header(READ_SIGNER_HEADER, "operator")
        .header(SIGNATURE_HEADER, "00".repeat(64))
        .body(Body::from("{}"));
    expect_problem(test.send(request.unwrap()).await, 503, ServerCode::Unavailable.code(), None).await;
    // Open streams stop: nothing says their reader's credentials still hold.
    assert!(!credentials_hold(&test.app, &Reader::Signer(Signer::Operator)));
    // What does not read the state still answers.
    let response = test.send(Request::get("/v1/health/live").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_signed_read_is_answered_with_json() {
    let test = TestApp::new();
    assert!(credentials_hold(&test.app, &Reader::Signer(Signer::Operator)));
    let response = test.send(test.signed_get("/v1/status")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get(header::CONTENT_TYPE).unwrap(), "application/json");
    let status: StatusView = serde_json::from_slice(&body_bytes(response).await).expect("a status document");
    assert_eq!((status.sequence, status.agents), (1, 0));
    assert_eq!(status.operator_key, Some(test.operator.public_key()));
    assert_eq!(status.rules_version, colony_core::RULES_VERSION);
}

#[tokio::test]
async fn an_overloaded_answer_says_when_to_retry() {
    let response = ApiError::new(ServerCode::Overloaded, "the write queue is full").into_response();
    assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
    let response = ApiError::state_unavailable().into_response();
    assert_eq!(response.headers().get(header::RETRY_AFTER), None);
    expect_problem(response, 503, ServerCode::Unavailable.code(), None).await;
}

/// Nonces in microseconds of the test clock's time, one more for each envelope.
pub(super) static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(NOW_MS * 1_000);

/// Submits `command` signed by `signer` with `key`; the envelope must be taken (the command may be
/// refused: its result says).
pub(super) async fn submit(
    test: &TestApp,
    signer: &str,
    key: &KeyPair,
    command: serde_json::Value,
) -> colony_wire::views::SubmitResponse {
    let command: colony_core::Command = serde_json::from_value(command).expect("a command");
    let signer: Signer = signer.parse().expect("a signer");
    let nonce = NONCE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let signed = colony_wire::Envelope { signer: signer.clone(), nonce, commands: vec![command] }.sign(key);
    let request = json_post("/v1/commands")
        .header(READ_SIGNER_HEADER, signer.to_string())
        .header(SIGNATURE_HEADER, hex::encode(signed.signature))
        .body(Body::from(signed.body))
        .expect("a request");
    let response = test.send(request).await;
    let status = response.status();
    let bytes = body_bytes(response).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    serde_json::from_slice(&bytes).expect("a submit response")
}

/// Sends one envelope of `commands` signed by `signer` with `key`: to `/v1/commands` when it holds
/// one (a refusal is then the answer's problem), to `/v1/batch` otherwise.
pub(super) async fn send(
    test: &TestApp,
    signer: &str,
    key: &KeyPair,
    commands: Vec<serde_json::Value>,
) -> axum::response::Response {
    let commands: Vec<colony_core::Command> =
        commands.into_iter().map(|command| serde_json::from_value(command).expect("a command")).collect();
    let signer: Signer = signer.parse().expect("a signer");
    let nonce = NONCE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = if commands.len() == 1 { "/v1/commands" } else { "/v1/batch" };
    let signed = colony_wire::Envelope { signer: signer.clone(), nonce, commands }.sign(key);
    let request = json_post(path)
        .header(READ_SIGNER_HEADER, signer.to_string())
        .header(SIGNATURE_HEADER, hex::encode(signed.signature))
        .body(Body::from(signed.body))
        .expect("a request");
    test.send(request).await
}

/// Reads `path` as the operator; the answer must be a success.
pub(super) async fn read<T: serde::de::DeserializeOwned>(test: &TestApp, path: &str) -> T {
    let response = test.send(test.signed_get(path)).await;
    let status = response.status();
    let bytes = body_bytes(response).await;
    assert_eq!(status, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&bytes));
    serde_json::from_slice(&bytes).expect("the endpoint's view")
}
