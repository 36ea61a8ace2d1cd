//! A tour of the `colony` binary as a user drives it: a background server, key generation,
//! registration, reads with the operator key and with a read token, heartbeats, halts and resumes,
//! status, the event stream, the error paths, and a graceful stop and restart.

mod common;

use common::{ServerProcess, colony};
use serde_json::Value;

#[test]
fn a_user_drives_a_server_through_the_cli() {
    let temp = tempfile::tempdir().expect("a temporary directory");
    let data = temp.path().join("data");
    let work = temp.path().join("work");
    std::fs::create_dir_all(&work).expect("create the working directory");
    let logs = temp.path().join("logs");
    let mut server = ServerProcess::start(&data, &logs, &[]);
    assert!(server.stdout().contains("created a new swarm"), "first start creates the swarm:\n{}", server.stdout());
    let url = server.url();
    let operator_key = data.join("operator.key");
    assert!(operator_key.is_file(), "the server wrote the operator key");
    let operator = operator_key.to_str().expect("a UTF-8 path");
    let scout_key_path = temp.path().join("scout-1.key");
    let scout = scout_key_path.to_str().expect("a UTF-8 path");
    let run = |args: &[&str]| {
        let mut full = vec!["--server", url.as_str()];
        full.extend_from_slice(args);
        colony(&work, &full)
    };

    // Key generation.
    let keygen = run(&["keygen", "--signer", "scout-1", "--out", scout]);
    assert!(keygen.ok().contains("public key: "), "keygen prints the public key:\n{}", keygen.stdout);
    let key_file: Value = serde_json::from_str(&std::fs::read_to_string(&scout_key_path).expect("read the key file"))
        .expect("the key file is JSON");
    assert_eq!(key_file["signer"], "scout-1");
    let public_key = key_file["public_key"].as_str().expect("a public key").to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&scout_key_path).expect("key file metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key files are private");
    }

    // Self-registration with the agent's own key.
    let register = run(&["agent", "register", "--role", "scout", "--capability", "market.scan", "--key", scout]);
    assert!(register.ok().starts_with("done (entry "), "register reports the entry:\n{}", register.stdout);

    // Reads: with the operator key, and with a read token issued by the operator.
    let listed = run(&["agent", "list", "--json", "--key", operator]).json();
    let agents = listed.as_array().expect("a JSON array of agents");
    assert_eq!(agents.len(), 1, "exactly the one agent: {listed}");
    assert_eq!(agents[0]["id"], "scout-1");
    assert_eq!(agents[0]["role"], "scout");
    assert_eq!(agents[0]["status"], "active");
    assert_eq!(agents[0]["public_key"], public_key.as_str());
    assert_eq!(agents[0]["capabilities"], serde_json::json!(["market.scan"]));

    let issued = run(&["token", "issue", "--label", "cli-test", "--key", operator]);
    let token = issued.ok().trim().to_owned();
    assert!(!token.is_empty() && !token.contains(char::is_whitespace), "token issue prints one token: {token:?}");
    let by_token = run(&["agent", "list", "--json", "--token", &token]).json();
    assert_eq!(by_token, listed, "a read token sees the same agents as the operator");
    let without_credentials = run(&["agent", "list", "--json"]);
    assert!(
        ["unauthenticated", "must be signed"].iter().any(|word| without_credentials.failed().contains(word)),
        "reads without credentials are refused:\n{}",
        without_credentials.stderr
    );
    let bad_token = run(&["agent", "list", "--json", "--token", "not-a-token"]);
    assert!(bad_token.failed().contains("unauthenticated"), "an unknown token is refused:\n{}", bad_token.stderr);

    // Heartbeat, halt, show, resume.
    let before = run(&["agent", "show", "scout-1", "--json", "--token", &token]).json();
    let heartbeat = run(&["agent", "heartbeat", "--key", scout]);
    assert!(heartbeat.ok().starts_with("done (entry "), "heartbeat:\n{}", heartbeat.stdout);
    let after = run(&["agent", "show", "scout-1", "--json", "--key", scout]).json();
    assert!(
        after["last_heartbeat_ms"].as_u64() >= before["last_heartbeat_ms"].as_u64()
            && after["highest_nonce"].as_u64() > before["highest_nonce"].as_u64(),
        "the heartbeat was recorded: before {before}, after {after}"
    );

    run(&["agent", "halt", "scout-1", "--reason", "x", "--key", operator]).ok();
    let halted = run(&["agent", "show", "scout-1", "--json", "--key", operator]).json();
    assert_eq!(halted["status"], "halted", "{halted}");
    assert_eq!(halted["halt"]["reason"], "x", "{halted}");
    assert_eq!(halted["halt"]["by"], "operator", "{halted}");
    let table = run(&["agent", "show", "scout-1", "--key", operator]);
    assert!(table.ok().contains("halted by operator"), "the table shows the halt:\n{}", table.stdout);

    // An agent cannot lift the operator's halt on itself: refused, exit non-zero.
    let self_resume = run(&["agent", "resume", "scout-1", "--key", scout]);
    assert!(self_resume.failed().starts_with("error: "), "{}", self_resume.stderr);

    run(&["agent", "resume", "scout-1", "--key", operator]).ok();
    let resumed = run(&["agent", "show", "scout-1", "--json", "--key", operator]).json();
    assert_eq!(resumed["status"], "active", "{resumed}");
    assert_eq!(resumed["halt"], Value::Null, "{resumed}");

    // Status.
    let status = run(&["status", "--json", "--key", operator]).json();
    assert_eq!(status["agents"], 1, "{status}");
    // Entries: genesis, register, token, heartbeat, halt, the agent's refused resume (logged, not
    // applied), the operator's resume.
    assert_eq!(status["sequence"], 7, "every write is an entry: {status}");
    assert_eq!(status["commands_rejected"], 1, "the agent's own resume was refused: {status}");
    assert_eq!(status["operator_key"], read_public_key(&operator_key), "{status}");
    assert_eq!(status["rules_version"], colony_core::RULES_VERSION, "{status}");

    // The event stream from the beginning: exactly three JSON lines, in log order.
    let events = run(&["events", "tail", "--from", "1", "--count", "3", "--json", "--key", operator]);
    let lines: Vec<&str> = events.ok().lines().collect();
    assert_eq!(lines.len(), 3, "three events:\n{}", events.stdout);
    let events: Vec<Value> =
        lines.iter().map(|line| serde_json::from_str(line).expect("each line is a JSON event")).collect();
    let positions: Vec<(u64, u64)> = events
        .iter()
        .map(|event| (event["sequence"].as_u64().expect("a sequence"), event["index"].as_u64().expect("an index")))
        .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "events in log order: {positions:?}");
    assert!(positions[0].0 >= 1, "{positions:?}");
    assert!(events.iter().all(|event| event["type"].is_string()), "every event names its type: {events:?}");
    assert!(
        events.iter().any(|event| event["type"] == "agent.registered" && event["agent"] == "scout-1"),
        "the registration is among the first events: {events:?}"
    );

    // Errors: the same id twice, and keygen over an existing file.
    let twice = run(&["agent", "register", "--role", "scout", "--key", scout]);
    assert!(twice.failed().contains("agent_exists"), "a second registration is refused:\n{}", twice.stderr);
    let key_before = std::fs::read(&scout_key_path).expect("read the key file");
    let overwrite = run(&["keygen", "--signer", "scout-1", "--out", scout]);
    assert!(overwrite.failed().contains(scout), "keygen names the file it refuses:\n{}", overwrite.stderr);
    assert_eq!(std::fs::read(&scout_key_path).expect("read the key file"), key_before, "the key file is untouched");
    let bad_signer = run(&["keygen", "--signer", "Not An Id", "--out", "other.key"]);
    assert!(bad_signer.failed().contains("--signer"), "{}", bad_signer.stderr);
    assert!(!work.join("other.key").exists(), "no key file for an invalid signer");

    // A graceful stop: exit 0 after a final snapshot. First every entry is covered by a signed
    // checkpoint (one follows a second after the first uncovered entry), so the stop adds none and
    // the restart must return exactly the state read here.
    let covering = wait_until_checkpointed(&url, operator);
    let final_agent = run(&["agent", "show", "scout-1", "--json", "--key", operator]).json();
    assert_eq!(final_agent["status"], "active", "{final_agent}");
    let final_status = run(&["status", "--json", "--key", operator]).json();
    let final_hash = state_hash(&url, operator);
    let exit = server.terminate();
    assert!(exit.success(), "SIGTERM stops the server cleanly, got {exit}\nstdout:\n{}", server.stdout());
    let stdout = server.stdout();
    assert!(stdout.contains("shutting down") && stdout.contains("stopped"), "graceful shutdown:\n{stdout}");
    let unreachable = run(&["status", "--json", "--key", operator]);
    assert!(unreachable.failed().contains("cannot reach the server"), "{}", unreachable.stderr);

    // The audit of the stopped server's data agrees with what the server reported.
    let audit = common::audit_ok(&work, &data);
    assert_eq!(audit["sequence"], final_status["sequence"], "{audit}");
    assert_eq!(audit["state_hash"], final_hash, "{audit}");
    assert!(audit["snapshots_checked"].as_u64() >= Some(1), "the final snapshot was checked: {audit}");

    // Restart on the same data: recovered from the final snapshot, the agent is still there.
    let restarted = ServerProcess::start(&data, &logs, &[]);
    assert!(!restarted.stdout().contains("created a new swarm"), "a restart creates nothing:\n{}", restarted.stdout());
    let url = restarted.url();
    let run = |args: &[&str]| {
        let mut full = vec!["--server", url.as_str()];
        full.extend_from_slice(args);
        colony(&work, &full)
    };
    let shown = run(&["agent", "show", "scout-1", "--json", "--key", operator]).json();
    assert_eq!(shown, final_agent, "the agent survived the restart unchanged");
    assert_eq!(newest_checkpoint(&url, operator), covering, "the checkpoint survived the restart");
    let status = run(&["status", "--json", "--token", &token]).json();
    assert_eq!(status["sequence"], final_status["sequence"], "the read token survived too: {status}");
    assert_eq!(state_hash(&url, operator), final_hash, "the same state after the restart");
    let heartbeat = run(&["agent", "heartbeat", "--key", scout]);
    assert!(heartbeat.ok().starts_with("done (entry "), "the agent keeps working:\n{}", heartbeat.stdout);

    // The write's answer is a receipt: entry and chain hash. Once a checkpoint covers it, the proof
    // checks out against the operator's key, and a forged receipt does not.
    let answer = heartbeat.stdout.trim();
    let entry: u64 = answer["done (entry ".len()..].split(',').next().expect("an entry").parse().expect("a number");
    let chain = answer.rsplit("chain hash ").next().expect("a chain hash").trim_end_matches(')');
    assert_eq!(chain.len(), 64, "{answer}");
    let receipt = work.join("receipt.json");
    std::fs::write(&receipt, serde_json::json!({ "sequence": entry, "chain_hash": chain }).to_string()).unwrap();
    wait_until_checkpointed(&url, operator);
    let checkpoint = run(&["log", "checkpoint", "--json", "--key", operator]).json();
    assert!(checkpoint["sequence"].as_u64() >= Some(entry), "{checkpoint}");
    let receipt_path = receipt.to_str().expect("a UTF-8 path");
    let proof = run(&["log", "proof", "--receipt", receipt_path, "--json", "--key", operator]).json();
    assert_eq!(proof["ok"], true, "{proof}");
    assert_eq!(proof["proof"]["chain_hash"], chain, "{proof}");
    let forged = work.join("forged.json");
    std::fs::write(&forged, serde_json::json!({ "sequence": entry, "chain_hash": "00".repeat(32) }).to_string())
        .unwrap();
    let refused = run(&["log", "proof", "--receipt", forged.to_str().expect("a UTF-8 path"), "--key", operator]);
    assert!(refused.failed().contains("the history was rewritten"), "{}", refused.stderr);
}

/// The operator's public key, from its key file.
fn read_public_key(path: &std::path::Path) -> Value {
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read the key file")).expect("a JSON key file");
    file["public_key"].clone()
}

/// `GET /v1/state/hash` through the Rust client (the CLI has no command for it).
/// `GET /v1/log/checkpoint` through the Rust client.
fn newest_checkpoint(url: &str, operator_key: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let identity =
            colony_client::Identity::from_key_file(std::path::Path::new(operator_key)).expect("the operator key");
        let client = colony_client::Client::new(url).with_identity(identity);
        client.log_checkpoint().await.map_or(Value::Null, |view| serde_json::to_value(view).expect("encodes"))
    })
}

/// Waits (10 s at most) until the log's last entry is a checkpoint: every entry before it is covered.
fn wait_until_checkpointed(url: &str, operator_key: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let identity =
        colony_client::Identity::from_key_file(std::path::Path::new(operator_key)).expect("the operator key");
    let client = colony_client::Client::new(url).with_identity(identity);
    for _ in 0..100 {
        let sequence = runtime.block_on(client.status()).expect("the status").sequence;
        let checkpoint = newest_checkpoint(url, operator_key);
        if checkpoint["record_sequence"] == sequence {
            assert_eq!(checkpoint["sequence"], sequence - 1, "it covers every entry before it: {checkpoint}");
            return checkpoint;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no checkpoint covered the log's entries within 10 s");
}

fn state_hash(url: &str, operator_key: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let identity =
            colony_client::Identity::from_key_file(std::path::Path::new(operator_key)).expect("the operator key");
        let client = colony_client::Client::new(url).with_identity(identity);
        let view = client.state_hash().await.expect("the state hash");
        serde_json::to_value(view.state_hash).expect("a hash encodes")
    })
}
