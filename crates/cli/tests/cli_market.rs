//! The task market through the `colony` binary, against a real server: a task announced, two bids
//! ranked by score, the award locking the winner's price in escrow, accept, submit, verify, and the
//! release of the escrow, then the task shown and listed and the winner's reputation.

mod common;

use common::CliSession;

/// A server with a funded manager and two workers offering `dex.scan`.
fn market_session() -> CliSession {
    let session = CliSession::start();
    session.agent("manager", "orchestrator", &[]);
    for worker in ["worker-a", "worker-b"] {
        session.agent(worker, "analyst", &["--capability", "dex.scan"]);
    }
    session.mint("manager", "1000000", "funding");
    session
}

#[test]
fn a_task_goes_from_announce_to_payment_through_the_cli() {
    let mut session = market_session();
    let run = |args: &[&str]| session.run(args);
    let key = |name: &str| session.key(name);

    let manager = key("manager");
    let announce = [
        "task",
        "announce",
        "--id",
        "scan-eth",
        "--kind",
        "analyze",
        "--max-cost",
        "1000",
        "--deadline-ms",
        "600000",
        "--bid-window-ms",
        "600000",
        "--capability",
        "dex.scan",
        "--payload",
        r#"{"pair":"ETH/USDC"}"#,
        "--min-score",
        "0.7",
        "--max-retries",
        "1",
        "--json",
        "--key",
        &manager,
    ];
    let announced = run(&announce).json();
    let task = announced["results"][0]["task"].as_u64().expect("the announce names its task");
    let task_text = task.to_string();
    let again = run(&announce).json();
    assert_eq!(
        (again["results"][0]["task"].as_u64(), again["results"][0]["status"].as_str()),
        (Some(task), Some("existing"))
    );

    // Seed 000's example, scaled: 500 in half the deadline at 0.9 scores 0.62, 200 in 80% at 0.6 scores 0.56.
    let bid = |worker: &str, cost: &str, time_ms: &str, confidence: &str| {
        let args = ["task", "bid", &task_text, "--cost", cost, "--time-ms", time_ms, "--confidence", confidence];
        let output = run(&[&args[..], &["--key", &key(worker)]].concat());
        assert!(output.ok().starts_with("done"), "{}", output.stdout);
    };
    bid("worker-b", "200", "480000", "0.6");
    bid("worker-a", "500", "300000", "0.9");
    let open = run(&["task", "show", &task_text, "--json", "--key", &manager]).json();
    assert_eq!(open["state"], "open");
    let ranked: Vec<(&str, &str)> = open["bids"]
        .as_array()
        .expect("bids")
        .iter()
        .map(|bid| (bid["bidder"].as_str().unwrap(), bid["score"].as_str().unwrap()))
        .collect();
    assert_eq!(ranked, [("worker-a", "0.62"), ("worker-b", "0.56")]);
    let shown = run(&["task", "show", &task_text, "--key", &manager]);
    assert!(shown.ok().contains("bids (best first)") && shown.stdout.contains("0.62"), "{}", shown.stdout);

    let stolen = run(&["task", "award", &task_text, "--key", &key("worker-a")]);
    assert!(!stolen.failed().is_empty(), "only the manager awards");
    run(&["task", "award", &task_text, "--key", &manager]).ok();
    let awarded = run(&["task", "show", &task_text, "--json", "--key", &manager]).json();
    assert_eq!(
        (awarded["state"].as_str(), awarded["attempts"][0]["winner"].as_str()),
        (Some("awarded"), Some("worker-a"))
    );
    let escrow = awarded["attempts"][0]["escrow"].as_u64().expect("the award's escrow").to_string();
    let locked = run(&["escrow", "show", &escrow, "--json", "--key", &session.operator]).json();
    assert_eq!((locked["state"].as_str(), locked["amount"].as_str()), (Some("locked"), Some("500")));
    assert_eq!(locked["description"], format!("task {task} 'scan-eth' (analyze)"));

    let worker = key("worker-a");
    run(&["task", "accept", &task_text, "--key", &worker]).ok();
    run(&["task", "progress", &task_text, "--percent", "50", "--note", "half", "--key", &worker]).ok();
    let result = r#"{"spread":"0.3%"}"#;
    run(&["task", "submit", &task_text, "--result", result, "--actual-cost", "300", "--key", &worker]).ok();
    let verified = run(&["task", "verify", &task_text, "--score", "0.9", "--json", "--key", &manager]).json();
    assert_eq!(verified["results"][0]["ok"], true);

    let completed = run(&["task", "show", &task_text, "--json", "--key", &manager]).json();
    assert_eq!(completed["state"], "completed");
    assert_eq!(completed["attempts"][0]["outcome"]["completed"]["score"], "0.9");
    assert_eq!(completed["attempts"][0]["submission"]["result"], serde_json::json!({ "spread": "0.3%" }));
    let released = run(&["escrow", "show", &escrow, "--json", "--key", &session.operator]).json();
    assert_eq!(released["state"], "released");
    let manager_wallet = run(&["wallet", "show", "manager", "--json", "--key", &session.operator]).json();
    assert_eq!(manager_wallet["balance"], "999500");

    let listed =
        run(&["task", "list", "--state", "completed", "--winner", "worker-a", "--json", "--key", &manager]).json();
    assert_eq!(listed["tasks"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed["tasks"][0]["id"].as_u64(), Some(task));
    let none = run(&["task", "list", "--winner", "worker-b", "--json", "--key", &manager]).json();
    assert_eq!(none["tasks"].as_array().map(Vec::len), Some(0), "{none}");
    let table = run(&["task", "list", "--key", &manager]);
    assert!(table.ok().contains("scan-eth") && table.stdout.contains("completed"), "{}", table.stdout);

    let reputation = run(&["agent", "reputation", "worker-a", "--json", "--key", &manager]).json();
    assert_eq!((reputation["tasks"].as_u64(), reputation["succeeded"].as_u64()), (Some(1), Some(1)));
    assert_eq!((reputation["success_rate"].as_str(), reputation["earned"].as_str()), (Some("1.000"), Some("500")));
    assert_eq!(
        (reputation["total_cost"].as_str(), reputation["performance_score"].as_str()),
        (Some("300"), Some("0.98"))
    );
    let newcomer = run(&["agent", "reputation", "worker-b", "--json", "--key", &manager]).json();
    assert_eq!((newcomer["tasks"].as_u64(), newcomer["performance_score"].as_str()), (Some(0), Some("1")));
    session.server.terminate();
}

/// Direct assignment and a batch through the binary: capacities declared, a direct task assigned at
/// once at its price, a batch split over the workers with room, and load shown beside reputation.
#[test]
fn direct_tasks_and_batches_are_assigned_through_the_cli() {
    let mut session = market_session();
    let run = |args: &[&str]| session.run(args);
    let key = |name: &str| session.key(name);
    let manager = key("manager");

    let declared = run(&["task", "capacity", "3", "--key", &key("worker-a")]);
    assert!(declared.ok().starts_with("done"), "{}", declared.stdout);
    let direct = [
        "task",
        "announce",
        "--id",
        "vwap",
        "--kind",
        "analyze",
        "--capability",
        "dex.scan",
        "--direct",
        "--load",
        "2",
        "--max-cost",
        "700",
        "--deadline-ms",
        "600000",
        "--json",
        "--key",
        &manager,
    ];
    let task = run(&direct).json()["results"][0]["task"].as_u64().expect("the announce names its task").to_string();
    let shown = run(&["task", "show", &task, "--json", "--key", &manager]).json();
    assert_eq!(shown["terms"]["distribution"], "direct");
    assert_eq!(
        (shown["state"].as_str(), shown["attempts"][0]["winner"].as_str(), shown["attempts"][0]["price"].as_str()),
        (Some("awarded"), Some("worker-a"), Some("700"))
    );
    let bid =
        run(&["task", "bid", &task, "--cost", "1", "--time-ms", "1", "--confidence", "0.5", "--key", &key("worker-b")]);
    assert!(!bid.failed().is_empty(), "a direct task takes no bids");

    // worker-a has 1 unit of room left, worker-b the default 8: 5 items in batches of 5 over 2 agents.
    let batch = [
        "task",
        "batch",
        "--id",
        "sweep",
        "--kind",
        "analyze",
        "--capability",
        "dex.scan",
        "--items",
        "[1,2,3,4,5]",
        "--batch-size",
        "5",
        "--agents",
        "2",
        "--max-cost-per-item",
        "10",
        "--deadline-ms",
        "600000",
        "--json",
        "--key",
        &manager,
    ];
    let tasks = run(&batch).json()["results"][0]["tasks"].as_array().expect("the batch's tasks").clone();
    assert_eq!(tasks.len(), 2);
    let chunk = |index: usize| {
        let id = tasks[index].as_u64().expect("a task id").to_string();
        let shown = run(&["task", "show", &id, "--json", "--key", &manager]).json();
        (shown["attempts"][0]["winner"].as_str().map(str::to_owned), shown["terms"]["payload"].clone())
    };
    assert_eq!(chunk(0), (Some("worker-b".to_owned()), serde_json::json!([1, 2])), "the lower load first");
    assert_eq!(chunk(1), (Some("worker-a".to_owned()), serde_json::json!([3, 4, 5])));

    let reputation = run(&["agent", "reputation", "worker-a", "--json", "--key", &manager]).json();
    assert_eq!((reputation["load"].as_u64(), reputation["capacity"].as_u64()), (Some(3), Some(3)));
    let text = run(&["agent", "reputation", "worker-a", "--key", &manager]);
    assert!(text.ok().contains("load                3 of 3"), "{}", text.stdout);
    session.server.terminate();
}
