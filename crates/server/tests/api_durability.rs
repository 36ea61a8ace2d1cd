//! Durability: what a server answered survives a graceful restart on the same data directory, and the
//! offline audit agrees with the server.

mod common;

use colony_core::command::{HaltAgent, RegisterAgent};
use std::sync::Arc;

use colony_core::{Command, EventKind};
use colony_server::ManualClock;
use colony_wire::read_auth::generate_token;
use colony_wire::views::StatusView;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn everything_survives_a_restart_and_the_audit_agrees() {
    let directory = tempfile::tempdir().unwrap();
    // A clock that does not move: no deadline can pass while the test runs, so nothing but the test's
    // own writes changes the state.
    let clock = ManualClock::new(now_ms());
    let settings = {
        let mut settings = settings(directory.path());
        settings.clock = Arc::new(clock.clone());
        settings
    };

    let server = start(settings.clone()).await;
    let first_report = server_report_created(&server);
    assert!(first_report, "the first start creates the swarm");
    let mut keys = Vec::new();
    for role in SEED_ROLES {
        let agent = format!("{role}-1");
        let (_, key) = server.self_registers(&agent, role, &["seed.work"]).await;
        keys.push((agent, key));
    }
    let (parent, _) = server.self_registers("analyst-parent", "analyst", &[]).await;
    let (_, child_key) = server.new_agent("scout-child");
    let Command::RegisterAgent(RegisterAgent { agent, public_key, role, capabilities, weight, referrer, .. }) =
        register("scout-child", &child_key, "scout")
    else {
        unreachable!()
    };
    parent
        .submit_one(Command::RegisterAgent(RegisterAgent {
            agent,
            public_key,
            role,
            capabilities,
            weight,
            parent: Some(id("analyst-parent")),
            referrer,
        }))
        .await
        .unwrap();
    server.operator.halt(id("risk-1"), "kept across restarts").await.unwrap();
    server.operator.deregister(id("oracle-1")).await.unwrap();
    let mut config = server.operator.config().await.unwrap();
    config.heartbeat_ttl_ms = 45_000;
    server.operator.set_config(config.clone()).await.unwrap();
    let token = generate_token();
    server.operator.issue_read_token(&token, "dashboard", None).await.unwrap();
    // A refused command is logged too, and must replay to the same refusal.
    let refused = server
        .operator
        .submit_batch(vec![Command::HaltAgent(HaltAgent { agent: id("nobody"), reason: String::new() })])
        .await;
    assert_eq!(outcomes(&refused.unwrap()), [(false, "agent_not_found".to_owned())]);

    let hash_before = server.hash().await;
    let agents_before = server.all_agents().await;
    let status_before = server.operator.status().await.unwrap();
    assert_eq!(agents_before.len(), 8);
    assert_eq!(hash_before.sequence, status_before.sequence);
    let url_before = server.url.clone();
    server.shutdown().await;

    // The same data directory, a new process-like start (and a new port).
    let server = start(settings.clone()).await;
    assert!(!server_report_created(&server), "the second start recovers the existing swarm");
    assert_ne!(server.url, url_before, "port 0 picked a fresh port");
    // A clean shutdown's last entry is the operator's checkpoint over everything before it, naming
    // the state hash the final snapshot computed: the state before the shutdown, exactly.
    let hash_after = server.hash().await;
    assert_eq!(hash_after.sequence, hash_before.sequence + 1, "one entry more: the shutdown's checkpoint");
    let checkpoint = server.operator.log_checkpoint().await.unwrap();
    assert_eq!((checkpoint.record_sequence, checkpoint.sequence), (hash_after.sequence, hash_before.sequence));
    assert_eq!((checkpoint.state_sequence, checkpoint.state_hash), (hash_before.sequence, hash_before.state_hash));
    assert_eq!(server.all_agents().await, agents_before);
    assert_eq!(server.operator.config().await.unwrap(), config);
    let status_after = server.operator.status().await.unwrap();
    assert_eq!(
        StatusView { sequence: status_before.sequence, entries: status_before.entries, ..status_after.clone() },
        status_before,
        "only the checkpoint's entry differs"
    );
    assert_eq!(server.agent("risk-1").await.halt.unwrap().reason, "kept across restarts");
    assert_eq!(server.agent("oracle-1").await.status, "deregistered");
    assert_eq!(server.agent("scout-child").await.parent, Some(id("analyst-parent")));

    // Keys, nonces and tokens still work: agents continue where they left off, replays stay refused.
    let dashboard = server.anonymous().with_read_token(token);
    assert_eq!(dashboard.state_hash().await.unwrap(), hash_after);
    for (agent, key) in &keys {
        let client = server.agent_client(agent, key);
        let result = client.heartbeat().await;
        match agent.as_str() {
            "oracle-1" => {
                expect_problem(result, 409, "agent_deregistered", None);
            }
            _ => assert!(result.unwrap().results[0].ok, "{agent} writes after the restart"),
        }
    }
    assert_eq!(
        server.agent("scout-1").await.heartbeat_deadline_ms - server.agent("scout-1").await.last_heartbeat_ms,
        45_000
    );
    let mut stream = server.operator.events(Some(status_before.sequence + 1)).await.unwrap();
    server.operator.resume(id("risk-1")).await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!(event.kind, EventKind::AgentResumed { agent: id("risk-1"), by: colony_core::Signer::Operator });
    assert!(event.sequence > status_before.sequence, "sequence numbers continue after the restart");
    drop(stream);
    let hash_final = server.hash().await;
    assert_ne!(hash_final, hash_before);
    server.shutdown().await;

    // The offline audit replays the whole log, re-verifies every signature and reaches the same hash.
    // It ends at the shutdown's checkpoint; the state after the last write is the one read live.
    let report = colony_server::audit::audit_at(directory.path(), Some(hash_final.sequence), |_, _| {})
        .expect("the audit passes");
    assert_eq!(report.probed_state_hash, Some((hash_final.sequence, hash_final.state_hash)));
    assert_eq!(report.sequence, hash_final.sequence + 1);
    assert_eq!(report.entries, report.sequence);
    assert_eq!(report.agents, 8);
    assert!(report.checkpoints_checked >= 2, "a checkpoint at each clean shutdown");
    assert_eq!(
        report.signatures,
        report.entries - 1 - report.checkpoints_checked,
        "every entry but the genesis and the checkpoints is signed (no ticks here)"
    );
    assert!(report.snapshots_checked >= 1, "the shutdown snapshots were checked against the replay");

    // And a third start still agrees.
    let server = start(settings).await;
    let hash_third = server.hash().await;
    assert_eq!((hash_third.sequence, hash_third.state_hash), (report.sequence, report.state_hash));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_reports_the_hash_of_a_running_then_stopped_server() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    server.operator_registers("scout-1", "scout").await;
    let hash = server.hash().await;
    server.shutdown().await;
    let report =
        colony_server::audit::audit_at(directory.path(), Some(hash.sequence), |_, _| {}).expect("the audit passes");
    // The shutdown's checkpoint follows the last write; the audit replayed it and found the state
    // hash it names equal to the replayed state's at that entry.
    assert_eq!(report.probed_state_hash, Some((hash.sequence, hash.state_hash)));
    assert_eq!(report.sequence, hash.sequence + 1);
    assert_eq!((report.entries, report.commands, report.signatures, report.checkpoints_checked), (3, 1, 1, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_cannot_share_a_data_directory() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    match colony_server::start(settings(directory.path())).await {
        Err(colony_server::StartError::Locked(path)) => assert_eq!(path, directory.path()),
        Err(other) => panic!("expected the lock error, got {other}"),
        Ok(_) => panic!("a second server must not start on a data directory in use"),
    }
    server.shutdown().await;
    // Once the first has stopped, the lock is free again.
    let server = start_in(directory.path()).await;
    server.shutdown().await;
}

fn server_report_created(server: &TestServer) -> bool {
    server.report().created
}

/// The value of one unlabelled series in a `/v1/metrics` scrape.
fn metric_value(scrape: &str, name: &str) -> u64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the scrape:\n{scrape}"))
}

/// Periodic snapshots are made by the snapshotter while writes go on, reported in `/v1/metrics`,
/// pruned to the newest two, and a restart starts from the newest one the shutdown took.
#[tokio::test(flavor = "multi_thread")]
async fn periodic_snapshots_are_made_beside_the_writer_and_reported() {
    const EVERY: u64 = 10;
    let directory = tempfile::tempdir().unwrap();
    let mut settings = settings(directory.path());
    settings.driver.snapshot_every_entries = EVERY;
    let server = start(settings.clone()).await;
    for index in 0..40 {
        let (_, key) = server.new_agent(&format!("scout-{index}"));
        server.operator.submit_one(register(&format!("scout-{index}"), &key, "scout")).await.unwrap();
    }
    let scrape = poll_until("two periodic snapshots", || async {
        let scrape = String::from_utf8(server.signed_get_raw(&server.operator, "/v1/metrics").await.body).unwrap();
        (metric_value(&scrape, "colony_snapshots_taken_total") >= 2).then_some(scrape)
    })
    .await;
    assert_eq!(metric_value(&scrape, "colony_snapshots_failed_total"), 0);
    assert!(metric_value(&scrape, "colony_snapshot_sequence") >= EVERY, "{scrape}");
    assert!(metric_value(&scrape, "colony_snapshot_bytes") > 0, "{scrape}");
    let snapshots = directory.path().join(colony_server::server::SNAPSHOTS_DIR_NAME);
    let count = || std::fs::read_dir(&snapshots).unwrap().count();
    server.shutdown().await;
    assert_eq!(count(), colony_server::driver::SNAPSHOTS_KEPT, "pruned to the newest ones");

    let server = start(settings).await;
    assert_eq!(server.report().entries_replayed, 1, "only the shutdown's checkpoint follows its snapshot");
    let report = colony_server::audit::audit(directory.path(), |_, _| {}).expect("the audit passes");
    assert_eq!(server.hash().await.state_hash, report.state_hash, "the restart's state is the full replay's");
    assert_eq!(report.snapshots_checked, colony_server::driver::SNAPSHOTS_KEPT as u64);
    server.shutdown().await;
}
