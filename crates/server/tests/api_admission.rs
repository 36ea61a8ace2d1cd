//! What never reaches the log, and how the server starts and stops around its data: refused
//! self-registrations are not logged (so they cannot be replayed to grow it), a shutdown completes
//! with event streams open, and a data directory whose log is gone is not silently restarted empty.

mod common;

use std::time::Duration;

use colony_core::SwarmConfig;
use common::{register, settings, start, start_in};

#[tokio::test(flavor = "multi_thread")]
async fn refused_self_registrations_never_reach_the_log() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let before = server.hash().await;

    // An unknown role: refused before the log, every time the same bytes are sent.
    let (client, key) = server.new_agent("drifter");
    let signed = client.identity().unwrap().sign(vec![register("drifter", &key, "astronaut")]);
    for _ in 0..3 {
        server.post_signed_raw("/v1/commands", &signed).await.expect_problem(422, "unknown_role", Some("role"));
    }
    assert_eq!(server.hash().await, before, "nothing was logged");

    // Self-registration switched off: the same.
    let mut config: SwarmConfig = server.operator.config().await.unwrap();
    config.self_registration = false;
    server.operator.set_config(config).await.unwrap();
    let after_config = server.hash().await;
    let signed = client.identity().unwrap().sign(vec![register("drifter", &key, "scout")]);
    for _ in 0..3 {
        server.post_signed_raw("/v1/commands", &signed).await.expect_problem(403, "unauthorized", None);
    }
    assert_eq!(server.hash().await, after_config, "nothing was logged");
    assert_eq!(after_config.sequence, before.sequence + 1, "only the configuration change");

    // Someone else claiming an existing id with their own key: refused, not logged.
    server.operator_registers("scout-1", "scout").await;
    let before_claim = server.hash().await;
    let (impostor, impostor_key) = server.new_agent("scout-1");
    let signed = impostor.identity().unwrap().sign(vec![register("scout-1", &impostor_key, "scout")]);
    server.post_signed_raw("/v1/commands", &signed).await.expect_problem(401, "key_mismatch", None);
    assert_eq!(server.hash().await, before_claim, "nothing was logged");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shutdown_completes_while_event_streams_are_open() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let mut stream = server.operator.events(Some(1)).await.unwrap();
    assert!(stream.next().await.is_some(), "the stream is live");
    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .expect("the graceful shutdown does not wait for the event stream forever");
    // The stream ends rather than hanging.
    let ended =
        tokio::time::timeout(Duration::from_secs(5), async { while let Some(Ok(_)) = stream.next().await {} }).await;
    assert!(ended.is_ok(), "the event stream ended with the server");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_directory_whose_log_is_gone_is_not_restarted_empty() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    server.operator_registers("scout-1", "scout").await;
    server.shutdown().await;
    for file in ["colony.db", "colony.db-wal", "colony.db-shm"] {
        let _ = std::fs::remove_file(directory.path().join(file));
    }
    let error = match colony_server::start(settings(directory.path())).await {
        Ok(_) => panic!("a server started an empty swarm over a lost log"),
        Err(error) => error.to_string(),
    };
    assert!(error.contains("operator key but no command log"), "{error}");
    // Removing the key is the explicit way to start over.
    std::fs::remove_file(directory.path().join("operator.key")).unwrap();
    let fresh = start(settings(directory.path())).await;
    assert!(fresh.all_agents().await.is_empty());
    fresh.shutdown().await;
}
