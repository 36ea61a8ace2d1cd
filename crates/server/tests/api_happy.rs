//! Happy paths of the HTTP API, through the Rust client against a real server on an ephemeral port.

mod common;

use colony_core::command::{HaltAgent, Heartbeat, RegisterAgent, ResumeAgent, UpdateAgent};
use std::collections::BTreeSet;

use colony_core::{Command, EventKind, Signer};
use colony_wire::KeyPair;
use colony_wire::read_auth::generate_token;
use common::*;

/// Registers each seed role twice: `<role>-op` by the operator, `<role>-self` by the agent itself.
async fn register_seed_roles(server: &TestServer) {
    for role in SEED_ROLES {
        server.operator_registers(&format!("{role}-op"), role).await;
        server.self_registers(&format!("{role}-self"), role, &["seed.work", &format!("{role}.task")]).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_six_seed_roles_register_by_operator_and_by_themselves() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;

    let mut keys = Vec::new();
    for role in SEED_ROLES {
        let by_operator = format!("{role}-op");
        let (_, operator_key) = server.operator_registers(&by_operator, role).await;
        let by_itself = format!("{role}-self");
        let (_, own_key) = server.self_registers(&by_itself, role, &["seed.work", &format!("{role}.task")]).await;
        assert_ne!(operator_key.public_key(), own_key.public_key(), "every agent has its own key");
        keys.push((by_operator, operator_key, BTreeSet::new()));
        keys.push((by_itself, own_key, names(&["seed.work", &format!("{role}.task")])));
    }

    let agents = server.all_agents().await;
    assert_eq!(agents.len(), 12);
    for (agent, key, capabilities) in &keys {
        let view = server.agent(agent).await;
        let role = agent.rsplit_once('-').unwrap().0;
        assert_eq!(view.id.as_str(), agent);
        assert_eq!(view.public_key, key.public_key());
        assert_eq!(view.role.as_str(), role);
        assert_eq!(&view.capabilities, capabilities);
        assert_eq!(view.weight, colony_core::limits::WEIGHT_ONE, "{agent} gets its role's default weight");
        assert_eq!(view.status, "active");
        assert!(view.responsive);
        assert_eq!(view.parent, None);
        assert_eq!(view.halt, None);
        assert_eq!(view.deregistered_at_ms, None);
        assert_eq!(view.heartbeat_deadline_ms, view.registered_at_ms + 30_000, "default TTL is 30 s");
        assert!(view.highest_nonce > 0 || agent.ends_with("-op"), "a self-registration spends the agent's nonce");
        assert!(agents.contains(&view), "the listing shows the same agent");
    }
    // A self-registered agent has spent its registration nonce; one registered by the operator has not.
    assert!(server.agent("scout-self").await.highest_nonce > 0);
    assert_eq!(server.agent("scout-op").await.highest_nonce, 0);

    // The operator alone may choose a weight.
    let (_, key) = server.new_agent("risk-heavy");
    let Command::RegisterAgent(RegisterAgent { agent, public_key, role, capabilities, parent, referrer, .. }) =
        register("risk-heavy", &key, "risk")
    else {
        unreachable!()
    };
    let heavy = Command::RegisterAgent(RegisterAgent {
        agent,
        public_key,
        role,
        capabilities,
        weight: Some(500),
        parent,
        referrer,
    });
    server.operator.submit_one(heavy).await.unwrap();
    assert_eq!(server.agent("risk-heavy").await.weight, 500);

    // Status counts what happened.
    let status = server.operator.status().await.unwrap();
    assert_eq!(status.agents, 13);
    assert_eq!(status.commands_accepted, 13);
    assert_eq!(status.commands_rejected, 0);
    assert_eq!(status.operator_key, Some(server.operator_key.public_key()));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_are_listed_filtered_and_paginated() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    register_seed_roles(&server).await;
    server.operator.halt(id("oracle-op"), "maintenance").await.unwrap();
    server.operator.deregister(id("executor-op")).await.unwrap();
    let reader = &server.operator;

    let everyone = reader.agents("").await.unwrap();
    assert_eq!(everyone.agents.len(), 12);
    assert_eq!(everyone.next_after, None);
    let ids: Vec<String> = everyone.agents.iter().map(|agent| agent.id.to_string()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "agents are ordered by id");

    let scouts = reader.agents("role=scout").await.unwrap();
    let scout_ids: Vec<&str> = scouts.agents.iter().map(|agent| agent.id.as_str()).collect();
    assert_eq!(scout_ids, ["scout-op", "scout-self"]);

    let halted = reader.agents("status=halted").await.unwrap();
    assert_eq!(halted.agents.iter().map(|agent| agent.id.as_str()).collect::<Vec<_>>(), ["oracle-op"]);
    let gone = reader.agents("status=deregistered").await.unwrap();
    assert_eq!(gone.agents.iter().map(|agent| agent.id.as_str()).collect::<Vec<_>>(), ["executor-op"]);
    let active = reader.agents("status=active").await.unwrap();
    assert_eq!(active.agents.len(), 10);
    assert!(active.agents.iter().all(|agent| agent.status == "active"));
    assert!(reader.agents("status=unresponsive").await.unwrap().agents.is_empty());

    let combined = reader.agents("role=oracle&status=active").await.unwrap();
    assert_eq!(combined.agents.iter().map(|agent| agent.id.as_str()).collect::<Vec<_>>(), ["oracle-self"]);
    let capable = reader.agents("capability=risk.task").await.unwrap();
    assert_eq!(capable.agents.iter().map(|agent| agent.id.as_str()).collect::<Vec<_>>(), ["risk-self"]);

    // Pages of 5: 5, 5, 2, each continuing after the last id of the previous one.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let query = match &after {
            Some(after) => format!("limit=5&after={after}"),
            None => "limit=5".to_owned(),
        };
        let page = reader.agents(&query).await.unwrap();
        pages.push(page.agents.len());
        paged.extend(page.agents.iter().map(|agent| agent.id.to_string()));
        match page.next_after {
            Some(next) => {
                assert_eq!(Some(&next), page.agents.last().map(|agent| &agent.id), "next_after is the last id");
                after = Some(next.to_string());
            }
            None => break,
        }
    }
    assert_eq!(pages, [5, 5, 2]);
    assert_eq!(paged, ids, "the pages together are the whole list, once each");

    // A page that ends exactly at the last agent says there is no next page.
    let exact = reader.agents("limit=12").await.unwrap();
    assert_eq!(exact.agents.len(), 12);
    assert_eq!(exact.next_after, None);
    let exact_second = reader.agents("limit=6&after=oracle-op").await.unwrap();
    assert_eq!(exact_second.agents.len(), 6, "oracle-self, risk-op, risk-self, scout-op, scout-self, treasury-op");
    assert_eq!(exact_second.next_after.as_ref().map(|id| id.as_str()), Some("treasury-op"));
    // Filters and pages compose: the next page of scouts after the first.
    let first_scout = reader.agents("role=scout&limit=1").await.unwrap();
    assert_eq!(first_scout.next_after.as_ref().map(|id| id.as_str()), Some("scout-op"));
    let second_scout = reader.agents("role=scout&limit=1&after=scout-op").await.unwrap();
    assert_eq!(second_scout.agents[0].id.as_str(), "scout-self");
    assert_eq!(second_scout.next_after, None);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_move_the_deadline_and_spend_nonces() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let before = server.agent("scout-1").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let response = scout.heartbeat().await.unwrap();
    assert_eq!(outcomes(&response), [(true, "done".to_owned())]);
    let after = server.agent("scout-1").await;
    assert_eq!(after.last_heartbeat_ms, response.timestamp_ms);
    assert!(after.last_heartbeat_ms > before.last_heartbeat_ms);
    assert_eq!(after.heartbeat_deadline_ms, after.last_heartbeat_ms + 30_000);
    assert!(after.highest_nonce > before.highest_nonce);
    assert_eq!(after.status, "active");
    let status = server.operator.status().await.unwrap();
    assert_eq!(status.sequence, response.sequence);

    // The operator is not an agent and has nothing to heartbeat.
    expect_problem(server.operator.heartbeat().await, 403, "unauthorized", None);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_halts_and_resumes_agents() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (executor, _) = server.self_registers("executor-1", "executor", &["dex.swap"]).await;
    let mut events = server.operator.events(None).await.unwrap();

    let halt = server.operator.halt(id("executor-1"), "suspicious volume").await.unwrap();
    assert_eq!(outcomes(&halt), [(true, "done".to_owned())]);
    let view = server.agent("executor-1").await;
    assert_eq!(view.status, "halted");
    assert!(view.responsive, "a halt does not touch liveness");
    let halt_record = view.halt.expect("a halt in force");
    assert_eq!(halt_record.by, Signer::Operator);
    assert_eq!(halt_record.reason, "suspicious volume");
    assert_eq!(halt_record.at_ms, halt.timestamp_ms);
    // Halting again changes nothing.
    let again = server.operator.halt(id("executor-1"), "again").await.unwrap();
    assert_eq!(outcomes(&again), [(true, "unchanged".to_owned())]);
    assert_eq!(server.agent("executor-1").await.halt.unwrap().reason, "suspicious volume");

    // A halted agent still heartbeats, but may do nothing else.
    executor.heartbeat().await.unwrap();
    let update = Command::UpdateAgent(UpdateAgent {
        agent: id("executor-1"),
        role: None,
        capabilities: Some(names(&[])),
        weight: None,
    });
    expect_problem(executor.submit_one(update).await, 403, "agent_halted", None);

    let resume = server.operator.resume(id("executor-1")).await.unwrap();
    assert_eq!(outcomes(&resume), [(true, "done".to_owned())]);
    let view = server.agent("executor-1").await;
    assert_eq!(view.status, "active");
    assert_eq!(view.halt, None);
    let update = Command::UpdateAgent(UpdateAgent {
        agent: id("executor-1"),
        role: None,
        capabilities: Some(names(&[])),
        weight: None,
    });
    executor.submit_one(update).await.expect("a resumed agent writes again");
    let resumed_again = server.operator.resume(id("executor-1")).await.unwrap();
    assert_eq!(outcomes(&resumed_again), [(true, "unchanged".to_owned())]);

    let kinds: Vec<EventKind> =
        [next_event(&mut events).await, next_event(&mut events).await, next_event(&mut events).await]
            .into_iter()
            .map(|event| event.kind)
            .collect();
    assert_eq!(
        kinds,
        [
            EventKind::AgentHalted {
                agent: id("executor-1"),
                by: Signer::Operator,
                reason: "suspicious volume".into()
            },
            EventKind::AgentResumed { agent: id("executor-1"), by: Signer::Operator },
            EventKind::AgentUpdated { agent: id("executor-1") },
        ]
    );
    drop(events);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_registers_halts_resumes_and_deregisters_its_child() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (parent, _) = server.self_registers("analyst-1", "analyst", &[]).await;
    let (child, child_key) = server.new_agent("scout-child");

    let Command::RegisterAgent(RegisterAgent { agent, public_key, role, capabilities, weight, referrer, .. }) =
        register("scout-child", &child_key, "scout")
    else {
        unreachable!()
    };
    let spawn = Command::RegisterAgent(RegisterAgent {
        agent,
        public_key,
        role,
        capabilities,
        weight,
        parent: Some(id("analyst-1")),
        referrer,
    });
    parent.submit_one(spawn).await.expect("a parent registers its child");
    let view = server.agent("scout-child").await;
    assert_eq!(view.parent, Some(id("analyst-1")));
    assert_eq!(view.public_key, child_key.public_key());
    assert_eq!(view.role.as_str(), "scout");
    child.heartbeat().await.expect("the child signs with its own key");

    parent.halt(id("scout-child"), "runaway loop").await.unwrap();
    let view = server.agent("scout-child").await;
    assert_eq!(view.status, "halted");
    assert_eq!(view.halt.unwrap().by, Signer::Agent(id("analyst-1")));
    parent.resume(id("scout-child")).await.unwrap();
    assert_eq!(server.agent("scout-child").await.status, "active");

    // A parent cannot lift the operator's halt; the operator can.
    server.operator.halt(id("scout-child"), "operator says stop").await.unwrap();
    expect_problem(parent.resume(id("scout-child")).await, 403, "unauthorized", None);
    assert_eq!(server.agent("scout-child").await.status, "halted");
    server.operator.resume(id("scout-child")).await.unwrap();

    // Another agent is not the parent and may neither halt nor deregister the child.
    let (stranger, _) = server.self_registers("risk-1", "risk", &[]).await;
    expect_problem(stranger.halt(id("scout-child"), "mine now").await, 403, "unauthorized", None);
    expect_problem(stranger.deregister(id("scout-child")).await, 403, "unauthorized", None);
    assert_eq!(server.agent("scout-child").await.status, "active");

    let deregistered = parent.deregister(id("scout-child")).await.unwrap();
    let view = server.agent("scout-child").await;
    assert_eq!(view.status, "deregistered");
    assert_eq!(view.deregistered_at_ms, Some(deregistered.timestamp_ms));
    // A tombstone can neither write nor read, and its id stays taken.
    expect_problem(child.heartbeat().await, 409, "agent_deregistered", None);
    expect_problem(child.status().await, 401, "unauthenticated", None);
    let (_, other_key) = server.new_agent("scout-child");
    expect_problem(
        server.operator.submit_one(register("scout-child", &other_key, "scout")).await,
        409,
        "agent_exists",
        Some("agent"),
    );
    assert_eq!(server.agent("scout-child").await.public_key, child_key.public_key());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_deregister_themselves() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (oracle, _) = server.self_registers("oracle-1", "oracle", &[]).await;
    oracle.deregister(id("oracle-1")).await.unwrap();
    assert_eq!(server.agent("oracle-1").await.status, "deregistered");
    assert!(server.operator.agents("status=active").await.unwrap().agents.is_empty());
    // The operator deregisters anyone.
    server.operator_registers("oracle-2", "oracle").await;
    server.operator.deregister(id("oracle-2")).await.unwrap();
    assert_eq!(server.agent("oracle-2").await.status, "deregistered");
    expect_problem(server.operator.deregister(id("oracle-2")).await, 409, "agent_deregistered", None);
    expect_problem(server.operator.deregister(id("nobody")).await, 404, "agent_not_found", None);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_update_their_capabilities() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &["dex.scan"]).await;

    let update = |capabilities: &[&str]| {
        Command::UpdateAgent(UpdateAgent {
            agent: id("scout-1"),
            role: None,
            capabilities: Some(names(capabilities)),
            weight: None,
        })
    };
    let response = scout.submit_one(update(&["dex.scan", "price:feed"])).await.unwrap();
    assert_eq!(outcomes(&response), [(true, "done".to_owned())]);
    let view = server.agent("scout-1").await;
    assert_eq!(view.capabilities, names(&["dex.scan", "price:feed"]));
    assert_eq!(view.role.as_str(), "scout");
    assert_eq!(view.weight, colony_core::limits::WEIGHT_ONE);
    let found = server.operator.agents("capability=price:feed").await.unwrap();
    assert_eq!(found.agents.len(), 1);

    let same = scout.submit_one(update(&["price:feed", "dex.scan"])).await.unwrap();
    assert_eq!(outcomes(&same), [(true, "unchanged".to_owned())]);

    // An agent may not change its own role or weight; the operator may.
    let promote = Command::UpdateAgent(UpdateAgent {
        agent: id("scout-1"),
        role: Some(name("analyst")),
        capabilities: None,
        weight: None,
    });
    expect_problem(scout.submit_one(promote.clone()).await, 403, "unauthorized", None);
    let heavier =
        Command::UpdateAgent(UpdateAgent { agent: id("scout-1"), role: None, capabilities: None, weight: Some(7) });
    expect_problem(scout.submit_one(heavier.clone()).await, 403, "unauthorized", None);
    server.operator.submit_one(promote).await.unwrap();
    server.operator.submit_one(heavier).await.unwrap();
    let view = server.agent("scout-1").await;
    assert_eq!((view.role.as_str(), view.weight), ("analyst", 7));
    assert_eq!(view.capabilities, names(&["dex.scan", "price:feed"]));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_changes_the_heartbeat_ttl() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (early, _) = server.self_registers("scout-early", "scout", &[]).await;

    let mut config = server.operator.config().await.unwrap();
    assert_eq!(config.heartbeat_ttl_ms, 30_000);
    let role_names: BTreeSet<&str> = config.roles.keys().map(|role| role.as_str()).collect();
    for role in SEED_ROLES {
        assert!(role_names.contains(role), "the default configuration has the seed role {role}");
    }
    config.heartbeat_ttl_ms = 90_000;
    let response = server.operator.set_config(config.clone()).await.unwrap();
    assert_eq!(outcomes(&response), [(true, "done".to_owned())]);
    assert_eq!(server.operator.config().await.unwrap(), config);
    let unchanged = server.operator.set_config(config.clone()).await.unwrap();
    assert_eq!(outcomes(&unchanged), [(true, "unchanged".to_owned())]);

    // New registrations and heartbeats use the new TTL.
    server.self_registers("scout-late", "scout", &[]).await;
    let late = server.agent("scout-late").await;
    assert_eq!(late.heartbeat_deadline_ms - late.registered_at_ms, 90_000);
    early.heartbeat().await.unwrap();
    let view = server.agent("scout-early").await;
    assert_eq!(view.heartbeat_deadline_ms - view.last_heartbeat_ms, 90_000);

    // Only the operator sets the configuration.
    config.heartbeat_ttl_ms = 5_000;
    expect_problem(early.set_config(config).await, 403, "unauthorized", None);
    assert_eq!(server.operator.config().await.unwrap().heartbeat_ttl_ms, 90_000);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn self_registration_can_be_switched_off() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let mut config = server.operator.config().await.unwrap();
    config.self_registration = false;
    server.operator.set_config(config).await.unwrap();
    let (client, _) = server.new_agent("scout-1");
    expect_problem(client.register_self(name("scout"), &[]).await, 403, "unauthorized", None);
    expect_problem(server.operator.agent(&id("scout-1")).await, 404, "agent_not_found", None);
    server.operator_registers("scout-2", "scout").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_answers_each_command_on_its_own() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (_, existing_key) = server.operator_registers("scout-1", "scout").await;
    let (_, new_key) = server.new_agent("analyst-1");
    let (_, other_key) = server.new_agent("scout-1");

    let Command::RegisterAgent(RegisterAgent { agent, public_key, role, capabilities, parent, referrer, .. }) =
        register("risk-1", &KeyPair::generate(), "risk")
    else {
        unreachable!()
    };
    let too_heavy = Command::RegisterAgent(RegisterAgent {
        agent,
        public_key,
        role,
        capabilities,
        weight: Some(colony_core::limits::AGENT_WEIGHT_MAX + 1),
        parent,
        referrer,
    });
    let commands = vec![
        register("analyst-1", &new_key, "analyst"),
        register("scout-1", &other_key, "scout"),
        Command::HaltAgent(HaltAgent { agent: id("nobody"), reason: String::new() }),
        too_heavy,
        register("oracle-1", &KeyPair::generate(), "wizard"),
        Command::HaltAgent(HaltAgent { agent: id("analyst-1"), reason: "halted in the same batch".into() }),
        Command::Heartbeat(Heartbeat {}),
        Command::ResumeAgent(ResumeAgent { agent: id("scout-1") }),
    ];
    let before = server.operator.status().await.unwrap();
    let response = server.operator.submit_batch(commands).await.unwrap();
    assert_eq!(
        outcomes(&response),
        [
            (true, "done".to_owned()),
            (false, "agent_exists".to_owned()),
            (false, "agent_not_found".to_owned()),
            (false, "invalid_field".to_owned()),
            (false, "unknown_role".to_owned()),
            (true, "done".to_owned()),
            (false, "unauthorized".to_owned()),
            (true, "unchanged".to_owned()),
        ]
    );
    let problems: Vec<_> = response.results.iter().filter_map(|result| result.problem.as_ref()).collect();
    assert_eq!(
        problems.iter().map(|problem| (problem.status, problem.field.as_deref())).collect::<Vec<_>>(),
        [(409, Some("agent")), (404, None), (422, Some("weight")), (422, Some("role")), (403, None)]
    );
    assert_eq!(response.sequence, before.sequence + 1, "one envelope, one entry");

    // Only the accepted commands changed anything.
    let agents = server.all_agents().await;
    assert_eq!(agents.iter().map(|agent| agent.id.as_str()).collect::<Vec<_>>(), ["analyst-1", "scout-1"]);
    assert_eq!(agents[0].status, "halted");
    assert_eq!(agents[1].public_key, existing_key.public_key());
    let after = server.operator.status().await.unwrap();
    assert_eq!(after.commands_accepted - before.commands_accepted, 3);
    assert_eq!(after.commands_rejected - before.commands_rejected, 5);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn read_tokens_authorise_reads() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    server.operator_registers("scout-1", "scout").await;
    let token = generate_token();
    assert!(token.starts_with("colony_"));
    let response = server.operator.issue_read_token(&token, "dashboard", None).await.unwrap();
    assert_eq!(outcomes(&response), [(true, "done".to_owned())]);

    let dashboard = server.anonymous().with_read_token(token.clone());
    let status = dashboard.status().await.unwrap();
    assert_eq!(status.agents, 1);
    assert_eq!(dashboard.agent(&id("scout-1")).await.unwrap().role.as_str(), "scout");
    assert_eq!(dashboard.agents("role=scout").await.unwrap().agents.len(), 1);
    assert_eq!(dashboard.config().await.unwrap().heartbeat_ttl_ms, 30_000);
    assert_eq!(dashboard.state_hash().await.unwrap(), server.hash().await);
    let mut events = dashboard.events(Some(1)).await.unwrap();
    assert_eq!(next_event(&mut events).await.kind, EventKind::Genesis {});
    drop(events);
    // Issuing the same token twice is refused.
    expect_problem(
        server.operator.issue_read_token(&token, "again", None).await,
        422,
        "invalid_field",
        Some("token_sha256"),
    );

    // An unknown token, an expired one and an agent-issued one do not read.
    let stranger = server.anonymous().with_read_token(generate_token());
    let problem = expect_problem(stranger.status().await, 401, "unauthenticated", None);
    assert!(problem.detail.contains("unknown read token"), "{problem}");
    let raw = server.get_raw("/v1/status", Some(&generate_token())).await;
    raw.expect_problem(401, "unauthenticated", None);
    let expired = generate_token();
    server.operator.issue_read_token(&expired, "expired", Some(now_ms() - 1_000)).await.unwrap();
    let problem =
        expect_problem(server.anonymous().with_read_token(expired).status().await, 401, "unauthenticated", None);
    assert!(problem.detail.contains("expired"), "{problem}");
    let (scout, _) = server.self_registers("scout-2", "scout", &[]).await;
    let agent_token = generate_token();
    expect_problem(scout.issue_read_token(&agent_token, "mine", None).await, 403, "unauthorized", None);
    expect_problem(server.anonymous().with_read_token(agent_token).status().await, 401, "unauthenticated", None);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_reads_work_and_reads_without_credentials_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, scout_key) = server.self_registers("scout-1", "scout", &[]).await;

    // Any registered signer reads by signing the request.
    assert_eq!(scout.agent(&id("scout-1")).await.unwrap().public_key, scout_key.public_key());
    assert_eq!(scout.status().await.unwrap().agents, 1);
    assert_eq!(scout.state_hash().await.unwrap(), server.hash().await);
    assert_eq!(server.operator.agents("limit=1").await.unwrap().agents.len(), 1);

    for path in ["/v1/agents", "/v1/agents/scout-1", "/v1/config", "/v1/status", "/v1/state/hash", "/v1/events"] {
        let raw = server.get_raw(path, None).await;
        raw.expect_problem(401, "unauthenticated", None);
    }
    // Signing with a key that is not the signer's, or as an unregistered signer, is refused too.
    let impostor = server.agent_client("scout-1", &KeyPair::generate());
    let problem = expect_problem(impostor.status().await, 401, "unauthenticated", None);
    assert!(problem.detail.contains("does not verify"), "{problem}");
    let (ghost, _) = server.new_agent("ghost");
    expect_problem(ghost.status().await, 401, "unauthenticated", None);
    let forged_operator =
        server.anonymous().with_identity(colony_client::Identity::new(Signer::Operator, KeyPair::generate()));
    expect_problem(forged_operator.status().await, 401, "unauthenticated", None);
    // A client with no credentials at all cannot even build the request.
    assert!(matches!(server.anonymous().status().await, Err(colony_client::ClientError::NoIdentity)));

    // Health and the API description need no credentials.
    assert_eq!(server.get_raw("/v1/health/live", None).await.status, 200);
    assert!(server.anonymous().ready().await);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_is_served_without_credentials() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let raw = server.get_raw("/v1/openapi.json", None).await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.content_type.as_deref(), Some("application/json"));
    let document = raw.json();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    for (method, path) in colony_server::http::ROUTES {
        assert!(paths.get(*path).and_then(|operations| operations.get(*method)).is_some(), "{method} {path}");
    }
    server.shutdown().await;
}
