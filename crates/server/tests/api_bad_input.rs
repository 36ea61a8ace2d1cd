//! Bad input: every refusal is a problem document with a stable code, the right HTTP status and the
//! offending field, and changes nothing.
//!
//! Two kinds of refusal are checked differently. An envelope refused before the log (bad signature,
//! replay, unknown signer, malformed body, wrong size) leaves the state hash and sequence untouched. A
//! command refused by the state machine is logged (its signer's nonce is spent and `sequence`
//! advances), so there the registry and configuration are compared instead.

mod common;

use colony_client::Client;
use colony_core::command::{DeregisterAgent, HaltAgent, Heartbeat, RegisterAgent, ResumeAgent, SetConfig, UpdateAgent};
use colony_core::{Command, Signer, SwarmConfig};
use colony_wire::views::AgentView;
use colony_wire::{Envelope, KeyPair, SignedEnvelope};
use common::*;

/// Signs `commands` as `client`'s identity with a fresh nonce.
fn sign(client: &Client, commands: Vec<Command>) -> SignedEnvelope {
    client.identity().expect("a signing client").sign(commands)
}

/// The registry with every agent's spent nonces hidden: what a refused command must not change.
async fn registry(server: &TestServer) -> Vec<AgentView> {
    let mut agents = server.all_agents().await;
    for agent in &mut agents {
        agent.highest_nonce = 0;
    }
    agents
}

/// Everything a refused command could have touched.
async fn observable(server: &TestServer) -> (Vec<AgentView>, SwarmConfig) {
    (registry(server).await, server.operator.config().await.unwrap())
}

/// `body`, exactly as given, signed with `key`.
fn signed_by(key: &KeyPair, body: &str) -> SignedEnvelope {
    SignedEnvelope {
        body: body.as_bytes().to_vec(),
        signature: key.sign(&colony_wire::envelope::signing_message(body.as_bytes())),
    }
}

/// Who sends what, and the refusal expected: status, code and field.
type RefusalCase<'a> = (&'a Client, Vec<Command>, u16, &'static str, Option<&'static str>);

fn heartbeat() -> Vec<Command> {
    vec![Command::Heartbeat(Heartbeat {})]
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_signatures_are_refused_before_the_log() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, scout_key) = server.self_registers("scout-1", "scout", &[]).await;
    let before = server.hash().await;

    // The operator's envelope, signed with another key.
    let (_, new_key) = server.new_agent("analyst-1");
    let envelope = Envelope {
        signer: Signer::Operator,
        nonce: now_ms() * 1_000,
        commands: vec![register("analyst-1", &new_key, "analyst")],
    };
    let forged = envelope.sign(&KeyPair::generate());
    let raw = server.post_signed_raw("/v1/commands", &forged).await;
    raw.expect_problem(401, "invalid_signature", Some("colony-signature"));
    expect_problem(
        server.operator.post_signed("/v1/batch", &forged).await,
        401,
        "invalid_signature",
        Some("colony-signature"),
    );

    // An agent's envelope signed by someone else, and a genuine signature over a tampered body.
    let impostor = server.agent_client("scout-1", &KeyPair::generate());
    let raw = server.post_signed_raw("/v1/commands", &sign(&impostor, heartbeat())).await;
    raw.expect_problem(401, "invalid_signature", Some("colony-signature"));
    let mut tampered = sign(&scout, vec![Command::DeregisterAgent(DeregisterAgent { agent: id("scout-1") })]);
    let text = String::from_utf8(tampered.body.clone()).unwrap().replace("scout-1\"}", "scout-2\"}");
    assert_ne!(text.as_bytes(), tampered.body.as_slice());
    tampered.body = text.into_bytes();
    let raw = server.post_signed_raw("/v1/commands", &tampered).await;
    raw.expect_problem(401, "invalid_signature", Some("colony-signature"));

    // A self-registration signed with a key other than the one it registers.
    let (_, claimed_key) = server.new_agent("oracle-1");
    let envelope = Envelope {
        signer: Signer::Agent(id("oracle-1")),
        nonce: 1,
        commands: vec![register("oracle-1", &claimed_key, "oracle")],
    };
    let raw = server.post_signed_raw("/v1/commands", &envelope.sign(&KeyPair::generate())).await;
    raw.expect_problem(401, "invalid_signature", Some("colony-signature"));

    // No signature, or one that is not 128 hex characters.
    let genuine = sign(&scout, heartbeat());
    let raw = server.post_raw("/v1/commands", genuine.body.clone(), None).await;
    raw.expect_problem(401, "invalid_signature", Some("colony-signature"));
    let raw = server.post_raw("/v1/commands", genuine.body.clone(), Some("abc".to_owned())).await;
    raw.expect_problem(401, "invalid_signature", Some("colony-signature"));

    assert_eq!(server.hash().await, before, "nothing reached the log");
    expect_problem(server.operator.agent(&id("analyst-1")).await, 404, "agent_not_found", None);
    assert_eq!(server.agent("scout-1").await.public_key, scout_key.public_key());
    // The genuine envelope, never accepted above, still goes through.
    server.post_signed_raw("/v1/commands", &genuine).await;
    assert_eq!(server.hash().await.sequence, before.sequence + 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replayed_envelopes_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.new_agent("scout-1");
    let registration = sign(&scout, vec![register("scout-1", scout.identity().unwrap().key(), "scout")]);
    let raw = server.post_signed_raw("/v1/commands", &registration).await;
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    let after_registration = server.hash().await;
    let agent_before = server.agent("scout-1").await;

    // The same bytes again, to either endpoint: refused, not logged.
    let raw = server.post_signed_raw("/v1/commands", &registration).await;
    raw.expect_problem(409, "nonce_replayed", Some("nonce"));
    let raw = server.post_signed_raw("/v1/batch", &registration).await;
    raw.expect_problem(409, "nonce_replayed", Some("nonce"));
    assert_eq!(server.hash().await, after_registration);

    let beat = sign(&scout, heartbeat());
    assert_eq!(server.post_signed_raw("/v1/commands", &beat).await.status, 200);
    let after_heartbeat = server.hash().await;
    expect_problem(scout.post_signed("/v1/commands", &beat).await, 409, "nonce_replayed", Some("nonce"));
    assert_eq!(server.hash().await, after_heartbeat);
    let agent_after = server.agent("scout-1").await;
    assert_eq!(agent_after.registered_at_ms, agent_before.registered_at_ms);

    // A new envelope carrying an already spent nonce is a replay too, whatever it says.
    let spent = Envelope::decode(&beat.body).unwrap().nonce;
    let reused = Envelope {
        signer: Signer::Agent(id("scout-1")),
        nonce: spent,
        commands: vec![Command::DeregisterAgent(DeregisterAgent { agent: id("scout-1") })],
    }
    .sign(scout.identity().unwrap().key());
    server.post_signed_raw("/v1/commands", &reused).await.expect_problem(409, "nonce_replayed", Some("nonce"));
    assert_eq!(server.hash().await, after_heartbeat);
    assert_eq!(server.agent("scout-1").await.status, "active");

    // The operator's envelopes are protected the same way.
    let operator_halt =
        sign(&server.operator, vec![Command::HaltAgent(HaltAgent { agent: id("scout-1"), reason: "x".into() })]);
    assert_eq!(server.post_signed_raw("/v1/commands", &operator_halt).await.status, 200);
    server.operator.resume(id("scout-1")).await.unwrap();
    let resumed = server.hash().await;
    server.post_signed_raw("/v1/commands", &operator_halt).await.expect_problem(409, "nonce_replayed", Some("nonce"));
    assert_eq!(server.hash().await, resumed);
    assert_eq!(server.agent("scout-1").await.status, "active", "the replayed halt did not take effect");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_signers_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    server.operator_registers("scout-1", "scout").await;
    let before = server.hash().await;
    let (ghost, ghost_key) = server.new_agent("ghost");

    let raw = server.post_signed_raw("/v1/commands", &sign(&ghost, heartbeat())).await;
    raw.expect_problem(401, "unknown_signer", Some("signer"));
    // An unknown signer may only register itself, not someone else.
    let (_, other_key) = server.new_agent("scout-2");
    let raw =
        server.post_signed_raw("/v1/commands", &sign(&ghost, vec![register("scout-2", &other_key, "scout")])).await;
    raw.expect_problem(401, "unknown_signer", Some("signer"));
    // Nor may it put its registration in a batch with anything else.
    let commands = vec![register("ghost", &ghost_key, "scout"), Command::Heartbeat(Heartbeat {})];
    let raw = server.post_signed_raw("/v1/batch", &sign(&ghost, commands)).await;
    raw.expect_problem(401, "unknown_signer", Some("signer"));
    expect_problem(ghost.heartbeat().await, 401, "unknown_signer", Some("signer"));

    assert_eq!(server.hash().await, before);
    assert_eq!(server.all_agents().await.len(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_by_the_state_machine_change_nothing_but_the_log() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &["dex.scan"]).await;
    let (executor, _) = server.self_registers("executor-1", "executor", &[]).await;
    server.operator.halt(id("executor-1"), "frozen").await.unwrap();

    let cases: Vec<RefusalCase> = vec![
        // A halted agent writing anything but a heartbeat.
        (
            &executor,
            vec![Command::UpdateAgent(UpdateAgent {
                agent: id("executor-1"),
                role: None,
                capabilities: Some(names(&["dex.swap"])),
                weight: None,
            })],
            403,
            "agent_halted",
            None,
        ),
        (
            &executor,
            vec![Command::DeregisterAgent(DeregisterAgent { agent: id("executor-1") })],
            403,
            "agent_halted",
            None,
        ),
        // A taken id.
        (
            &server.operator,
            vec![register("scout-1", &KeyPair::generate(), "scout")],
            409,
            "agent_exists",
            Some("agent"),
        ),
        (
            &server.operator,
            vec![register("executor-1", &KeyPair::generate(), "risk")],
            409,
            "agent_exists",
            Some("agent"),
        ),
        // Out-of-range fields.
        (
            &server.operator,
            vec![Command::UpdateAgent(UpdateAgent {
                agent: id("scout-1"),
                role: None,
                capabilities: None,
                weight: Some(colony_core::limits::AGENT_WEIGHT_MAX + 1),
            })],
            422,
            "invalid_field",
            Some("weight"),
        ),
        (
            &server.operator,
            vec![Command::HaltAgent(HaltAgent { agent: id("scout-1"), reason: "x".repeat(257) })],
            422,
            "invalid_field",
            Some("reason"),
        ),
        (&server.operator, vec![register("risk-1", &KeyPair::generate(), "wizard")], 422, "unknown_role", Some("role")),
        // Not allowed.
        (
            &scout,
            vec![Command::HaltAgent(HaltAgent { agent: id("executor-1"), reason: String::new() })],
            403,
            "unauthorized",
            None,
        ),
        (
            &scout,
            vec![Command::UpdateAgent(UpdateAgent {
                agent: id("scout-1"),
                role: None,
                capabilities: None,
                weight: Some(1),
            })],
            403,
            "unauthorized",
            None,
        ),
        (
            &server.operator,
            vec![Command::ResumeAgent(ResumeAgent { agent: id("nobody") })],
            404,
            "agent_not_found",
            None,
        ),
    ];
    for (client, commands, status, code, field) in cases {
        let before = observable(&server).await;
        let sequence = server.hash().await.sequence;
        let raw = server.post_signed_raw("/v1/commands", &sign(client, commands.clone())).await;
        raw.expect_problem(status, code, field);
        assert_eq!(observable(&server).await, before, "{code}: nothing but the log changed");
        assert_eq!(server.hash().await.sequence, sequence + 1, "{code}: the refused command is logged");
    }

    // Out-of-range weight at registration: refused, and the agent does not exist.
    let Command::RegisterAgent(RegisterAgent { agent, public_key, role, capabilities, parent, referrer, .. }) =
        register("risk-1", &KeyPair::generate(), "risk")
    else {
        unreachable!()
    };
    let heavy = Command::RegisterAgent(RegisterAgent {
        agent,
        public_key,
        role,
        capabilities,
        weight: Some(colony_core::limits::AGENT_WEIGHT_MAX + 1),
        parent,
        referrer,
    });
    let before = observable(&server).await;
    let raw = server.post_signed_raw("/v1/commands", &sign(&server.operator, vec![heavy.clone()])).await;
    let problem = raw.expect_problem(422, "invalid_field", Some("weight"));
    assert!(problem.detail.contains("1000000000"), "the detail says the limit: {problem}");
    expect_problem(server.operator.submit_one(heavy).await, 422, "invalid_field", Some("weight"));
    expect_problem(server.operator.agent(&id("risk-1")).await, 404, "agent_not_found", None);
    assert_eq!(observable(&server).await, before);

    // Out-of-range heartbeat TTL: refused, and the configuration stays as it was.
    let mut config = server.operator.config().await.unwrap();
    config.heartbeat_ttl_ms = 10;
    let raw = server
        .post_signed_raw(
            "/v1/commands",
            &sign(&server.operator, vec![Command::SetConfig(SetConfig { config: config.clone() })]),
        )
        .await;
    raw.expect_problem(422, "invalid_field", Some("heartbeat_ttl_ms"));
    config.heartbeat_ttl_ms = 8 * 24 * 3_600 * 1_000;
    expect_problem(server.operator.set_config(config).await, 422, "invalid_field", Some("heartbeat_ttl_ms"));
    assert_eq!(observable(&server).await, before);
    assert_eq!(server.operator.config().await.unwrap().heartbeat_ttl_ms, 30_000);

    // A self-registration that tries to set its own weight.
    let (climber, climber_key) = server.new_agent("scout-2");
    let Command::RegisterAgent(RegisterAgent { agent, public_key, role, capabilities, parent, referrer, .. }) =
        register("scout-2", &climber_key, "scout")
    else {
        unreachable!()
    };
    let weighted = Command::RegisterAgent(RegisterAgent {
        agent,
        public_key,
        role,
        capabilities,
        weight: Some(1),
        parent,
        referrer,
    });
    expect_problem(climber.submit_one(weighted).await, 403, "unauthorized", None);
    assert_eq!(observable(&server).await, before);

    // A deregistered agent may write nothing at all.
    server.operator.deregister(id("scout-1")).await.unwrap();
    let before = observable(&server).await;
    let raw = server.post_signed_raw("/v1/commands", &sign(&scout, heartbeat())).await;
    raw.expect_problem(409, "agent_deregistered", None);
    assert_eq!(observable(&server).await, before);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_name_the_offending_field() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    server.operator_registers("scout-1", "scout").await;
    let before = server.hash().await;
    let key = &server.operator_key;
    let some_signature = Some("00".repeat(64));

    // Not JSON at all, truncated JSON, the wrong JSON type, an empty body: the document is to blame.
    // (A syntax error inside an object is reported at `?`, serde's "somewhere in here".)
    for (body, field) in [
        (&b"{not json"[..], "?"),
        (br#"{"signer":"operator","nonce":1,"#, "?"),
        (b"[]", "."),
        (b"", "."),
        (b"null", "."),
    ] {
        let raw = server.post_raw("/v1/commands", body.to_vec(), some_signature.clone()).await;
        let problem = raw.expect_problem(400, "malformed_request", Some(field));
        assert!(problem.detail.contains("malformed envelope"), "{problem}");
    }

    // Well-formed JSON with bad values, signed properly: the field is named by its path, down to the
    // field inside a command.
    let cases = [
        (r#"{"signer":"operator","nonce":1,"commands":[{"type":"agent.fly"}]}"#, "commands[0].type", "unknown variant"),
        (r#"{"signer":"operator","nonce":1,"commands":[{"agent":"scout-1"}]}"#, "commands[0]", "missing field `type`"),
        (
            r#"{"signer":"operator","nonce":1,"commands":[{"type":"agent.halt","agent":"Scout-1"}]}"#,
            "commands[0].agent",
            "lowercase",
        ),
        (
            r#"{"signer":"operator","nonce":1,"commands":[{"type":"agent.heartbeat"},{"type":"agent.halt","agent":"a b"}]}"#,
            "commands[1].agent",
            "lowercase",
        ),
        (
            r#"{"signer":"operator","nonce":1,"commands":[{"type":"agent.register","agent":"scout-2","public_key":"zz","role":"scout"}]}"#,
            "commands[0].public_key",
            "64 hex characters",
        ),
        (
            r#"{"signer":"operator","nonce":1,"commands":[{"type":"agent.halt","agent":"scout-1","color":"red"}]}"#,
            "commands[0].color",
            "unknown field `color`",
        ),
        (r#"{"signer":"operator","nonce":-1,"commands":[{"type":"agent.heartbeat"}]}"#, "nonce", "expected u64"),
        (r#"{"signer":"Operator","nonce":1,"commands":[{"type":"agent.heartbeat"}]}"#, "signer", "lowercase"),
        (r#"{"signer":"operator","nonce":1,"commands":[]}"#, "commands", "no commands"),
        (r#"{"signer":"operator","nonce":1}"#, ".", "missing field `commands`"),
        (
            r#"{"signer":"operator","nonce":1,"commands":[{"type":"agent.heartbeat"}],"extra":true}"#,
            "extra",
            "unknown field",
        ),
    ];
    for (body, field, detail) in cases {
        for path in ["/v1/commands", "/v1/batch"] {
            let raw = server.post_signed_raw(path, &signed_by(key, body)).await;
            let problem = raw.expect_problem(400, "malformed_request", Some(field));
            assert!(problem.detail.contains(detail), "{body} to {path}: {problem}");
        }
    }

    assert_eq!(server.hash().await, before, "nothing reached the log");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_single_command_endpoint_takes_one_command_and_small_bodies() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let (scout, _) = server.self_registers("scout-1", "scout", &[]).await;
    let before = server.hash().await;

    // Two commands to /v1/commands.
    let two = sign(&scout, vec![Command::Heartbeat(Heartbeat {}), Command::Heartbeat(Heartbeat {})]);
    let raw = server.post_signed_raw("/v1/commands", &two).await;
    let problem = raw.expect_problem(400, "single_command_expected", Some("commands"));
    assert!(problem.detail.contains("/v1/batch"), "the detail points to the batch endpoint: {problem}");
    assert_eq!(server.hash().await, before);

    // A valid, signed, single-command envelope padded past 256 KiB with whitespace.
    let envelope = Envelope { signer: Signer::Agent(id("scout-1")), nonce: now_ms() * 1_000, commands: heartbeat() };
    let mut body = serde_json::to_vec(&envelope).unwrap();
    body.extend(std::iter::repeat_n(b' ', 256 << 10));
    let padded = SignedEnvelope {
        signature: scout.identity().unwrap().key().sign(&colony_wire::envelope::signing_message(&body)),
        body,
    };
    assert!(Envelope::decode(&padded.body).is_ok(), "the padding is only whitespace");
    // Refused from its Content-Length alone, before a byte of it is read. (Only the head is sent: an
    // HTTP/1 server that answers early and closes may otherwise reset the connection under a client
    // still writing, which would make the test depend on socket buffer sizes.)
    let head = |path: &str, length: usize| {
        format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\
             colony-signature: {}\r\nconnection: close\r\n\r\n",
            server.addr,
            hex::encode(padded.signature)
        )
    };
    let raw = server.exchange_raw(head("/v1/commands", padded.body.len()), Vec::new()).await;
    let problem = raw.expect_problem(413, "payload_too_large", None);
    assert!(problem.detail.contains("262144"), "the detail says the limit: {problem}");
    // Without a Content-Length (chunked), the body is refused as soon as it grows past the limit.
    let chunked = format!(
        "POST /v1/commands HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\ncolony-signer: scout-1\r\ncolony-signature: {}\r\nconnection: close\r\n\r\n{:x}\r\n",
        server.addr,
        hex::encode(padded.signature),
        padded.body.len()
    );
    let raw = server.exchange_raw(chunked, padded.body[..(256 << 10) + 1].to_vec()).await;
    raw.expect_problem(413, "payload_too_large", None);
    assert_eq!(server.hash().await, before);
    // The batch endpoint allows larger bodies: the very same envelope is accepted there.
    let raw = server.post_signed_raw("/v1/batch", &padded).await;
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    assert_eq!(server.hash().await.sequence, before.sequence + 1);
    // Past its own limit (16 MiB), the batch endpoint refuses too.
    let raw = server.exchange_raw(head("/v1/batch", (16 << 20) + 1), Vec::new()).await;
    let problem = raw.expect_problem(413, "payload_too_large", None);
    assert!(problem.detail.contains("16777216"), "{problem}");
    assert_eq!(server.hash().await.sequence, before.sequence + 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_reads_and_unknown_endpoints_are_problems_too() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    server.operator_registers("scout-1", "scout").await;
    let before = server.hash().await;

    for path in ["/v2/agents", "/v1/agent", "/v1/agents/scout-1/extra", "/", "/v1/commands/x"] {
        let raw = server.get_raw(path, None).await;
        raw.expect_problem(404, "not_found", None);
    }
    let raw = server.post_raw("/v1/nothing", b"{}".to_vec(), None).await;
    raw.expect_problem(404, "not_found", None);

    let queries = [
        ("/v1/agents?limit=0", "limit"),
        ("/v1/agents?limit=1001", "limit"),
        ("/v1/agents?limit=many", "query"),
        ("/v1/agents?status=sleepy", "status"),
        ("/v1/agents?role=Scout", "role"),
        ("/v1/agents?capability=a%20b", "capability"),
        ("/v1/agents?after=Scout-1", "after"),
        ("/v1/agents?colour=red", "query"),
        ("/v1/agents/Scout-1", "id"),
    ];
    for (path, field) in queries {
        let raw = server.signed_get_raw(&server.operator, path).await;
        raw.expect_problem(400, "invalid_query", Some(field));
    }
    let raw = server.signed_get_raw(&server.operator, "/v1/agents/nobody").await;
    raw.expect_problem(404, "agent_not_found", None);

    // Signed reads are bound to their path and to the present.
    let client = &server.operator;
    let request = client.authenticated_get("/v1/status").unwrap();
    let moved = request.try_clone().unwrap().build().unwrap();
    let headers = moved.headers().clone();
    let raw =
        reqwest::Client::new().get(format!("{}/v1/config", server.url)).headers(headers.clone()).send().await.unwrap();
    assert_eq!(raw.status().as_u16(), 401, "a read signature for /v1/status does not open /v1/config");
    let mut stale = headers;
    stale.insert(
        colony_wire::read_auth::READ_TIMESTAMP_HEADER,
        (now_ms() - 10 * 60 * 1_000).to_string().parse().unwrap(),
    );
    let raw = reqwest::Client::new().get(format!("{}/v1/status", server.url)).headers(stale).send().await.unwrap();
    assert_eq!(raw.status().as_u16(), 401, "a read signed ten minutes ago is refused");
    assert_eq!(
        raw.headers().get("content-type").and_then(|value| value.to_str().ok()),
        Some("application/problem+json")
    );
    let raw = server.get_raw("/v1/status", Some("")).await;
    raw.expect_problem(401, "unauthenticated", None);

    assert_eq!(server.hash().await, before);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_methods_are_problems_too() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    server.operator_registers("scout-1", "scout").await;
    let before = server.hash().await;
    for (method, path, allowed) in [
        (reqwest::Method::GET, "/v1/commands", "POST"),
        (reqwest::Method::PUT, "/v1/batch", "POST"),
        (reqwest::Method::DELETE, "/v1/agents/scout-1", "GET,HEAD"),
        (reqwest::Method::POST, "/v1/agents", "GET,HEAD"),
        (reqwest::Method::POST, "/v1/openapi.json", "GET,HEAD"),
    ] {
        let raw = server.request_raw(method.clone(), path).await;
        raw.expect_problem(405, "method_not_allowed", None);
        let allow = raw.headers.get("allow").and_then(|value| value.to_str().ok()).unwrap_or_default().replace(' ', "");
        assert_eq!(allow, allowed, "{method} {path} says which methods it takes");
    }
    assert_eq!(server.agent("scout-1").await.status, "active");
    assert_eq!(server.hash().await, before);
    server.shutdown().await;
}

/// An invalid value inside a command is blamed on its own field (`commands[0].agent`), although
/// commands are an internally tagged enum whose decoding loses the path.
#[tokio::test(flavor = "multi_thread")]
async fn the_path_reaches_inside_commands() {
    let directory = tempfile::tempdir().unwrap();
    let server = start_in(directory.path()).await;
    let body = r#"{"signer":"operator","nonce":1,"commands":[{"type":"agent.halt","agent":"Scout-1"}]}"#;
    let raw = server.post_signed_raw("/v1/commands", &signed_by(&server.operator_key, body)).await;
    raw.expect_problem(400, "malformed_request", Some("commands[0].agent"));
    server.shutdown().await;
}
