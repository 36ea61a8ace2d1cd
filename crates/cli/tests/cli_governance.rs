//! Governance and pheromone maps through the `colony` binary, as a user drives them: seed 001's
//! council deciding by signed ballots, a guarded mint refused to the operator after bootstrap and run
//! as an approved action, the seal chain audited offline; a shared map deposited on, ranked, sensed,
//! closed to one depositor and deleted.

mod common;

use common::CliSession;

#[test]
fn a_council_decides_and_seals_through_the_cli() {
    let session = CliSession::start();
    let operator = session.operator.clone();
    let run = |args: &[&str]| session.run(args);
    let architect = session.agent("architect-1", "architect", &[]);
    let security = session.agent("security-1", "security", &[]);
    session.agent("developer-1", "developer", &[]);
    let auditor = session.agent("auditor-1", "auditor", &[]);
    let council = ["--voter", "architect-1", "--voter", "developer-1", "--voter", "security-1", "--voter", "auditor-1"];
    let threshold = ["--vote-type", r#"{"threshold":{"yes_weight":4000000}}"#, "--quorum", "none"];

    // Seed 001: the architect (2.5) and the auditor (1.5) reach 4.0, which closes it approved.
    let create = |id: &str, voting_ms: &str| {
        let mut args = vec!["proposal", "create", "--id", id, "--title", "Rotate the keys", "--voting-ms", voting_ms];
        args.extend_from_slice(&threshold);
        args.extend_from_slice(&council);
        args.extend_from_slice(&["--json", "--key", &architect]);
        run(&args).json()
    };
    let created = create("rotate-keys", "60000");
    assert_eq!(created["results"][0]["status"], "done", "{created}");
    let again = create("rotate-keys", "60000");
    assert_eq!(again["results"][0]["status"], "existing", "the same id and terms are one proposal: {again}");
    run(&["proposal", "cast", "0", "yes", "--key", &architect]).ok();
    let open = run(&["proposal", "show", "0", "--json", "--key", &operator]).json();
    assert_eq!(open["state"], "open", "2.5 of 4.0: {open}");
    let late_voter = run(&["proposal", "cast", "0", "yes", "--key", &operator]);
    assert!(late_voter.failed().contains("not_eligible"), "the operator is not in the council: {}", late_voter.stderr);
    run(&["proposal", "cast", "0", "yes", "--key", &auditor]).ok();
    let closed = run(&["proposal", "show", "0", "--json", "--key", &operator]).json();
    assert_eq!(closed["state"], "closed", "{closed}");
    assert_eq!(closed["decision"]["outcome"], "approved", "{closed}");
    assert_eq!(closed["decision"]["chain_position"], 1, "{closed}");
    let shown = run(&["proposal", "show", "0", "--key", &operator]);
    assert!(shown.ok().contains("2 of 4 voters have voted"), "{}", shown.stdout);
    let after_close = run(&["proposal", "cast", "0", "no", "--key", &security]);
    assert!(after_close.failed().contains("proposal_state"), "{}", after_close.stderr);

    // After bootstrap the operator's mint is refused; the same mint as an action runs once approved.
    run(&["governance", "end-bootstrap", "--key", &operator]).ok();
    let direct = run(&["mint", "--to", "developer-1", "--amount", "500", "--id", "grant-direct", "--key", &operator]);
    assert!(direct.failed().contains("guarded"), "{}", direct.stderr);
    let action = session.work.join("grant.json");
    std::fs::write(&action, r#"{"type":"ledger.mint","transfer_id":"grant-1","to":"developer-1","amount":"500"}"#)
        .unwrap();
    let mut grant =
        vec!["proposal", "create", "--id", "grant", "--title", "Fund the developer", "--voting-ms", "60000"];
    grant.extend_from_slice(&[
        "--vote-type",
        r#"{"threshold":{"yes_weight":4000000}}"#,
        "--quorum",
        r#"{"ballots":2}"#,
    ]);
    grant.extend_from_slice(&["--role", "architect", "--role", "developer", "--role", "security", "--role", "auditor"]);
    grant.extend_from_slice(&["--action", action.to_str().unwrap(), "--key", &architect]);
    run(&grant).ok();
    run(&["proposal", "cast", "1", "yes", "--key", &architect]).ok();
    run(&["proposal", "cast", "1", "yes", "--key", &security]).ok();
    let granted = run(&["proposal", "show", "1", "--json", "--key", &operator]).json();
    assert_eq!(granted["decision"]["action_result"], serde_json::json!({"executed": {"commands": 1}}), "{granted}");
    let wallet = run(&["wallet", "show", "developer-1", "--json", "--key", &operator]).json();
    assert_eq!(wallet["balance"], "500");
    let listed = run(&["proposal", "list", "--state", "closed", "--json", "--key", &operator]).json();
    assert_eq!(listed["proposals"].as_array().map(Vec::len), Some(2), "{listed}");

    // The chain of seals, recomputed offline from the stopped server's log.
    let CliSession { mut server, data, work, .. } = session;
    server.terminate();
    let seals = common::colony(&work, &["audit", "seals", "--data", data.to_str().unwrap(), "--json"]).json();
    assert_eq!(seals["decisions"], 2, "{seals}");
    assert_eq!(seals["ballots"], 4, "{seals}");
    assert_eq!(seals["actions"], 1, "{seals}");
    assert_eq!(seals["seal_head"], granted["decision"]["seal"], "{seals}");
}

#[test]
fn a_pheromone_map_is_shared_ranked_and_closed_through_the_cli() {
    let session = CliSession::start();
    let run = |args: &[&str]| session.run(args);
    let scout = session.agent("scout-1", "scout", &[]);
    let other = session.agent("scout-2", "scout", &[]);
    let executor = session.agent("executor-1", "executor", &[]);

    run(&["pheromone", "create", "momentum", "--key", &scout]).ok();
    let deposit = |who: &str, key: &str, strength: &str| {
        run(&["pheromone", "deposit", "momentum", key, strength, "--json", "--key", who])
    };
    deposit(&scout, "BTC:long:momentum", "4").ok();
    let reinforced = deposit(&other, "BTC:long:momentum", "7.5").json();
    assert_eq!(reinforced["results"][0]["intensity"], "10", "capped at seed 000's 10: {reinforced}");
    deposit(&scout, "ETH:short:momentum", "2").ok();

    let top = run(&["pheromone", "top", "momentum", "--n", "5", "--json", "--key", &executor]).json();
    let keys: Vec<&str> =
        top["trails"].as_array().unwrap().iter().map(|trail| trail["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["BTC:long:momentum", "ETH:short:momentum"], "{top}");
    let sensed =
        run(&["pheromone", "sense", "momentum", "ETH:short:momentum", "--min", "3", "--json", "--key", &executor])
            .json();
    assert_eq!(sensed["sensed"], false, "2 is below the minimum of 3: {sensed}");
    let bad_min = run(&["pheromone", "sense", "momentum", "ETH:short:momentum", "--min", "lots", "--key", &executor]);
    assert!(bad_min.failed().contains("--min"), "{}", bad_min.stderr);

    // Closed to scout-1: scout-2 is refused, and only the creator may reopen or delete it.
    let closed =
        run(&["pheromone", "configure", "momentum", "--depositor", "scout-1", "--json", "--key", &scout]).json();
    assert_eq!(closed["results"][0]["status"], "done", "{closed}");
    assert!(deposit(&other, "BTC:long:momentum", "1").failed().contains("not_depositor"));
    let hijack = run(&["pheromone", "configure", "momentum", "--key", &other]);
    assert!(hijack.failed().contains("not_map_creator"), "{}", hijack.stderr);
    let listed = run(&["pheromone", "list", "--json", "--key", &executor]).json();
    assert_eq!(listed["maps"][0]["depositors"], serde_json::json!({"agents": ["scout-1"]}), "{listed}");
    run(&["pheromone", "configure", "momentum", "--key", &scout]).ok();
    deposit(&other, "SOL:long:momentum", "1").ok();

    assert!(run(&["pheromone", "delete", "momentum", "--key", &other]).failed().contains("not_map_creator"));
    run(&["pheromone", "delete", "momentum", "--key", &scout]).ok();
    let gone = run(&["pheromone", "top", "momentum", "--key", &executor]);
    assert!(gone.failed().contains("pheromone_map_not_found"), "{}", gone.stderr);
}

#[test]
fn seed_003s_tasks_are_claimed_by_one_agent_and_listed_through_the_cli() {
    let session = CliSession::start();
    let run = |args: &[&str]| session.run(args);
    let planner = session.agent("planner-1", "executor", &[]);
    let first = session.agent("worker-1", "scout", &[]);
    let second = session.agent("worker-2", "scout", &[]);
    let decay = r#"{"linear":{"lost_per_second":"0.1"}}"#;
    run(&["pheromone", "create", "work", "--decay", decay, "--key", &planner]).ok();
    for task in ["doc-1", "doc-2"] {
        run(&["pheromone", "deposit", "work", &format!("{task}:available"), "1", "--key", &planner]).ok();
    }
    let won = run(&["pheromone", "claim", "work", "doc-1", "--json", "--key", &first]).json();
    assert_eq!(won["results"][0]["intensity"], "1", "{won}");
    let lost = run(&["pheromone", "claim", "work", "doc-1", "--key", &second]);
    assert!(lost.failed().contains("signal_present"), "{}", lost.stderr);
    let unless =
        run(&["pheromone", "deposit", "work", "doc-2:claimed", "1", "--unless", "doc-2:completed", "--key", &second]);
    assert!(unless.ok().starts_with("done"), "{}", unless.stdout);

    let available = run(&["pheromone", "tasks", "work", "--state", "available", "--json", "--key", &planner]).json();
    assert_eq!(available["tasks"], serde_json::json!([]), "both claimed: {available}");
    let table = run(&["pheromone", "tasks", "work", "--key", &planner]);
    let rows: Vec<&str> = table.ok().lines().filter(|line| line.starts_with("  doc-")).collect();
    assert_eq!(rows.len(), 2, "{}", table.stdout);
    assert!(rows.iter().all(|row| row.contains("claimed")), "{}", table.stdout);
}
