//! The key-value store's read endpoints, called in process: a key with `/` in it read by path, keys
//! by prefix and page, a compare-and-swap refused with the key's revision, a private namespace
//! refused to other readers, a watch that reconciles a copy, waits for the next change and is told
//! when its history is compacted, and bad queries.

use axum::body::Body;
use axum::http::Request;
use colony_core::Signer;
use colony_wire::keys::KeyPair;
use colony_wire::kv::{ChangePage, EntryPage, EntryView, NamespacePage, NamespaceView};
use colony_wire::read_auth::{READ_SIGNATURE_HEADER, READ_SIGNER_HEADER, READ_TIMESTAMP_HEADER, read_signing_message};
use serde_json::{Value, json};

use super::tests::{NOW_MS, TestApp, body_bytes, expect_problem, read, send, submit};

fn agent_get(path_and_query: &str, agent: &str, key: &KeyPair) -> Request<Body> {
    let signer: Signer = agent.parse().expect("a signer");
    let signature = key.sign(&read_signing_message(&signer, "GET", path_and_query, NOW_MS));
    Request::get(path_and_query)
        .header(READ_SIGNER_HEADER, signer.to_string())
        .header(READ_TIMESTAMP_HEADER, NOW_MS.to_string())
        .header(READ_SIGNATURE_HEADER, hex::encode(signature))
        .body(Body::empty())
        .expect("a request")
}

async fn register(test: &TestApp, agent: &str, seed: u8) -> KeyPair {
    let key = KeyPair::from_seed([seed; 32]);
    let command = json!({ "type": "agent.register", "agent": agent, "public_key": key.public_key(), "role": "scout" });
    submit(test, "operator", &test.operator, command).await;
    key
}

fn put(namespace: &str, key: &str, value: Value) -> Value {
    json!({ "type": "kv.put", "namespace": namespace, "key": key, "value": value })
}

/// Submits one envelope of `commands` signed by the operator; every command must be accepted.
async fn submit_all(test: &TestApp, commands: Vec<Value>) {
    let response = send(test, "operator", &test.operator, commands).await;
    let bytes = body_bytes(response).await;
    let answer: colony_wire::views::SubmitResponse =
        serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&bytes)));
    assert!(answer.results.iter().all(|result| result.ok), "every command accepted");
}

#[tokio::test]
async fn keys_are_read_by_path_and_prefix_and_a_stale_swap_is_refused_with_the_revision() {
    let test = TestApp::new();
    let planner = register(&test, "planner", 3).await;
    let created =
        submit(&test, "planner", &planner, json!({ "type": "kv.namespace.create", "namespace": "pipeline" })).await;
    assert_eq!(created.results[0].status.as_deref(), Some("done"));
    let first = submit(&test, "planner", &planner, put("pipeline", "stage/1/config", json!({"model": "a"}))).await;
    let write = first.results[0].kv.expect("a put's revision");
    assert_eq!(write.version, Some(1));
    for key in ["stage/2/config", "stage/10/config", "summary"] {
        submit(&test, "planner", &planner, put("pipeline", key, json!(key))).await;
    }

    let entry: EntryView = read(&test, "/v1/kv/pipeline/keys/stage/1/config").await;
    assert_eq!((entry.value.as_str(), entry.modified_revision, entry.version), (r#"{"model":"a"}"#, write.revision, 1));
    let mut swap = put("pipeline", "stage/1/config", json!({"model": "b"}));
    swap["expected_revision"] = json!(write.revision);
    let swapped = submit(&test, "planner", &planner, swap.clone()).await;
    let second = swapped.results[0].kv.expect("a put's revision");
    assert_eq!(second.version, Some(2));
    let stale = send(&test, "planner", &planner, vec![swap]).await;
    let problem = expect_problem(stale, 409, "kv_revision_mismatch", Some("expected_revision")).await;
    assert!(problem.detail.contains(&format!("revision {}", second.revision)), "{}", problem.detail);

    let page: EntryPage = read(&test, "/v1/kv/pipeline/keys?prefix=stage/&limit=2").await;
    let keys: Vec<&str> = page.entries.iter().map(|entry| entry.key.as_str()).collect();
    assert_eq!(keys, ["stage/1/config", "stage/10/config"], "in byte order");
    assert_eq!(page.revision, second.revision, "the store's revision when read: a refused swap takes none");
    let next: EntryPage = read(&test, "/v1/kv/pipeline/keys?prefix=stage/&after=stage/10/config").await;
    assert_eq!((next.entries.len(), next.entries[0].key.as_str(), next.next_after), (1, "stage/2/config", None));
    let namespace: NamespaceView = read(&test, "/v1/kv/pipeline").await;
    assert_eq!(
        (namespace.keys, namespace.revision, namespace.creator.to_string().as_str()),
        (4, second.revision, "planner")
    );
    let listed: NamespacePage = read(&test, "/v1/kv").await;
    assert_eq!(listed.namespaces.len(), 1);

    expect_problem(
        test.send(test.signed_get("/v1/kv/pipeline/keys/nothing/here")).await,
        404,
        "kv_key_not_found",
        Some("key"),
    )
    .await;
    expect_problem(
        test.send(test.signed_get("/v1/kv/nowhere")).await,
        404,
        "kv_namespace_not_found",
        Some("namespace"),
    )
    .await;
    expect_problem(test.send(test.signed_get("/v1/kv/pipeline/keys/a%20b")).await, 400, "invalid_query", Some("key"))
        .await;
    expect_problem(
        test.send(test.signed_get("/v1/kv/pipeline/keys?prefix=a%20b")).await,
        400,
        "invalid_query",
        Some("prefix"),
    )
    .await;
    expect_problem(
        test.send(test.signed_get("/v1/kv/pipeline/keys?limit=0")).await,
        400,
        "invalid_query",
        Some("limit"),
    )
    .await;
}

#[tokio::test]
async fn a_private_namespace_is_read_by_its_readers_only() {
    let test = TestApp::new();
    let planner = register(&test, "planner", 3).await;
    let hostile = register(&test, "hostile", 4).await;
    let create = json!({ "type": "kv.namespace.create", "namespace": "secrets", "readers": {"agents": ["planner"]} });
    submit(&test, "planner", &planner, create).await;
    submit(&test, "planner", &planner, put("secrets", "api/token", json!("s3cret"))).await;
    let created: NamespaceView = read(&test, "/v1/kv/secrets").await;
    let watch = format!("/v1/kv/secrets/changes?after_revision={}", created.created_revision);
    for path in ["/v1/kv/secrets/keys/api/token", "/v1/kv/secrets/keys", watch.as_str()] {
        let refused = test.send(agent_get(path, "hostile", &hostile)).await;
        let problem = expect_problem(refused, 403, "kv_not_reader", Some("namespace")).await;
        assert!(!problem.detail.contains("s3cret"));
        let allowed = test.send(agent_get(path, "planner", &planner)).await;
        assert_eq!(allowed.status().as_u16(), 200, "{path}");
    }
    // Its name and counts are public; its keys' names are not in the events.
    let namespace: NamespaceView = read(&test, "/v1/kv/secrets").await;
    assert_eq!(namespace.keys, 1);
    let hostile_write = send(&test, "hostile", &hostile, vec![put("secrets", "api/token", json!("mine"))]).await;
    expect_problem(hostile_write, 403, "kv_not_writer", Some("namespace")).await;
}

#[tokio::test]
async fn a_watch_reconciles_waits_for_the_next_change_and_is_told_when_compacted() {
    let test = TestApp::new();
    submit_all(&test, vec![json!({ "type": "kv.namespace.create", "namespace": "state" })]).await;
    let start: EntryPage = read(&test, "/v1/kv/state/keys").await;
    submit_all(&test, vec![put("state", "a", json!(1)), put("state", "b", json!(2)), put("state", "a", json!(3))])
        .await;
    let page: ChangePage = read(&test, &format!("/v1/kv/state/changes?after_revision={}", start.revision)).await;
    let changes: Vec<(&str, Option<&str>)> = page
        .changes
        .iter()
        .map(|change| (change.key.as_str(), change.entry.as_ref().map(|entry| entry.value.as_str())))
        .collect();
    assert_eq!(changes, [("b", Some("2")), ("a", Some("3"))], "each key once, at its last change");
    assert!(!page.more);
    let quiet: ChangePage =
        read(&test, &format!("/v1/kv/state/changes?after_revision={}", page.next_after_revision)).await;
    assert!(quiet.changes.is_empty());
    assert_eq!(quiet.next_after_revision, page.next_after_revision);

    // A waiting watch answers with the next change.
    let path = format!("/v1/kv/state/changes?after_revision={}&wait_ms=10000", page.next_after_revision);
    let waiting = tokio::spawn({
        let request = test.signed_get(&path);
        let router = test.router.clone();
        async move { tower::ServiceExt::oneshot(router, request).await.expect("an answer") }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    submit_all(&test, vec![json!({ "type": "kv.delete", "namespace": "state", "key": "b" })]).await;
    let answer =
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await.expect("answered").expect("ran");
    let woken: ChangePage = serde_json::from_slice(&body_bytes(answer).await).expect("a page");
    assert_eq!((woken.changes.len(), woken.changes[0].key.as_str(), woken.changes[0].entry.is_none()), (1, "b", true));

    // Deletions past the bound: a watch from before them is told to read again.
    let deletions = colony_core::limits::KV_TOMBSTONES_PER_NAMESPACE_MAX + 1;
    let mut churn = Vec::new();
    for index in 0..deletions {
        churn.push(put("state", &format!("tmp/{index}"), json!(index)));
        churn.push(json!({ "type": "kv.delete", "namespace": "state", "key": format!("tmp/{index}") }));
    }
    submit_all(&test, churn).await;
    let stale = test.send(test.signed_get(&format!("/v1/kv/state/changes?after_revision={}", start.revision))).await;
    let problem = expect_problem(stale, 409, "kv_compacted", Some("after_revision")).await;
    assert!(problem.detail.contains("read it whole"));
    let namespace: NamespaceView = read(&test, "/v1/kv/state").await;
    let resumed: ChangePage =
        read(&test, &format!("/v1/kv/state/changes?after_revision={}&limit=1000", namespace.compacted_revision)).await;
    assert!(resumed.more && resumed.changes.len() == 1_000);

    let beyond: ChangePage = read(&test, "/v1/kv/state/changes?after_revision=999999999").await;
    assert_eq!((beyond.changes.len(), beyond.next_after_revision), (0, 999_999_999), "nothing yet, from there on");
    expect_problem(
        test.send(test.signed_get("/v1/kv/state/changes")).await,
        400,
        "invalid_query",
        Some("after_revision"),
    )
    .await;
    let long = test.send(test.signed_get("/v1/kv/state/changes?after_revision=1&wait_ms=30001")).await;
    expect_problem(long, 400, "invalid_query", Some("wait_ms")).await;
}

/// An agent that holds as many watches open as it may is refused one more, while another reader
/// still waits; every place comes back once the watches are answered.
#[tokio::test]
async fn one_agent_cannot_hold_every_waiting_place() {
    use super::waiting::WAITING_REQUESTS_PER_READER_MAX;
    let test = TestApp::new();
    let hog = register(&test, "hog", 4).await;
    submit_all(&test, vec![json!({ "type": "kv.namespace.create", "namespace": "open" })]).await;
    let start: EntryPage = read(&test, "/v1/kv/open/keys").await;
    let path = &format!("/v1/kv/open/changes?after_revision={}&wait_ms=20000", start.revision);
    let spawn_watch = |request: Request<Body>| {
        let router = test.router.clone();
        tokio::spawn(async move { tower::ServiceExt::oneshot(router, request).await.expect("an answer") })
    };
    let held: Vec<_> =
        (0..WAITING_REQUESTS_PER_READER_MAX).map(|_| spawn_watch(agent_get(path, "hog", &hog))).collect();
    while test.app.waiting_requests.waiting() < WAITING_REQUESTS_PER_READER_MAX {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let refused = test.send(agent_get(path, "hog", &hog)).await;
    let problem = expect_problem(refused, 429, "too_many_waiting", None).await;
    assert!(problem.detail.contains("watch without waiting"), "{}", problem.detail);
    // Another reader still has a place.
    let other = spawn_watch(test.signed_get(path));
    while test.app.waiting_requests.waiting() < WAITING_REQUESTS_PER_READER_MAX + 1 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // The next change answers them all.
    submit_all(&test, vec![put("open", "counter", json!(1))]).await;
    for watch in held.into_iter().chain([other]) {
        let answer =
            tokio::time::timeout(std::time::Duration::from_secs(10), watch).await.expect("answered").expect("ran");
        assert_eq!(answer.status().as_u16(), 200);
    }
    assert_eq!(test.app.waiting_requests.waiting(), 0, "every place came back");
}

/// Large values page by bytes: however high the limit, a page carries about a mebibyte of them,
/// and following `next_after` (or `next_after_revision`) reads every key.
#[tokio::test]
async fn pages_of_large_values_are_bounded_by_bytes() {
    use super::kv::KV_PAGE_VALUE_BYTES_MAX;
    let test = TestApp::new();
    submit_all(&test, vec![json!({ "type": "kv.namespace.create", "namespace": "blobs" })]).await;
    let start: EntryPage = read(&test, "/v1/kv/blobs/keys").await;
    let value = "x".repeat(16_000);
    let keys = 100;
    submit_all(&test, (0..keys).map(|index| put("blobs", &format!("blob/{index:03}"), json!(value))).collect()).await;

    let mut read_keys = Vec::new();
    let mut after = String::new();
    loop {
        let page: EntryPage = read(&test, &format!("/v1/kv/blobs/keys?limit=1000{after}")).await;
        let bytes: usize = page.entries.iter().map(|entry| entry.value.as_str().len()).sum();
        assert!(bytes <= KV_PAGE_VALUE_BYTES_MAX && !page.entries.is_empty(), "{bytes} bytes");
        read_keys.extend(page.entries.into_iter().map(|entry| entry.key));
        match page.next_after {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    assert!(read_keys.len() == keys && read_keys.is_sorted(), "every key once, in order");

    let mut changed = 0;
    let mut after_revision = start.revision;
    loop {
        let page: ChangePage =
            read(&test, &format!("/v1/kv/blobs/changes?after_revision={after_revision}&limit=1000")).await;
        assert!(page.changes.len() < keys, "a page is cut by bytes, not by the limit");
        changed += page.changes.len();
        after_revision = page.next_after_revision;
        if !page.more {
            break;
        }
    }
    assert_eq!(changed, keys);
}
