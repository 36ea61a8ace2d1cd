//! The ledger through the `colony` binary, as a user drives it: mint, transfer, escrow lock (twice
//! with one task id), release with the fee and referral split, a child wallet at its daily limit, a
//! refused withdrawal, the books, the cost roll-up, and an audit of the result.

mod common;

use common::{CliSession, audit_ok};

#[test]
fn a_user_moves_money_through_the_cli() {
    let mut session = CliSession::start();
    let operator = session.operator.clone();
    let run = |args: &[&str]| session.run(args);
    let key = |name: &str| session.key(name);

    // A payer, a worker whose referrer is the orchestrator (the worker bears the fee, so its
    // referrer earns the share), and the orchestrator.
    session.agent("orch-1", "orchestrator", &[]);
    session.agent("payer-1", "treasury", &[]);
    session.agent("worker-1", "executor", &["--referrer", "orch-1"]);
    // The escrow below also names orch-1 as its referrer, which would take precedence.

    run(&["mint", "--to", "payer-1", "--amount", "5000000", "--id", "mint-1", "--key", &operator]).ok();
    let again = run(&["mint", "--to", "payer-1", "--amount", "5000000", "--id", "mint-1", "--key", &operator]);
    assert!(again.ok().starts_with("unchanged"), "a repeated transfer id is one transfer:\n{}", again.stdout);
    let conflict = run(&["mint", "--to", "payer-1", "--amount", "7", "--id", "mint-1", "--key", &operator]);
    assert!(conflict.failed().contains("transfer_conflict"), "{}", conflict.stderr);

    // Escrow: the same task id twice is one escrow.
    let payer_key = key("payer-1");
    let lock = |args: &[&str]| {
        let mut full = vec!["escrow", "lock", "--key", &payer_key, "--payee", "worker-1", "--amount", "1000000"];
        full.extend_from_slice(args);
        run(&full)
    };
    let terms = ["--task-id", "scan-42", "--referrer", "orch-1", "--description", "scan of 42 pairs"];
    let first = lock(&terms);
    assert_eq!(first.ok().trim(), "escrow 0 locked");
    let second = lock(&terms);
    assert!(second.ok().contains("escrow 0 already locked"), "{}", second.stdout);
    let other_terms = lock(&["--task-id", "scan-42"]);
    assert!(other_terms.failed().contains("escrow_task_conflict"), "{}", other_terms.stderr);
    // The payer gives it more time (the lock took the default 24 h; now 48 h); the payee may not.
    let before = run(&["escrow", "show", "0", "--json", "--key", &operator]).json()["timeout_at_ms"].as_u64();
    let extended = run(&["escrow", "extend", "0", "--timeout-ms", "172800000", "--key", &payer_key]);
    assert!(extended.ok().starts_with("done"), "{}", extended.stdout);
    let after = run(&["escrow", "show", "0", "--json", "--key", &operator]).json()["timeout_at_ms"].as_u64();
    assert!(after > before, "{before:?} → {after:?}");
    let by_payee = run(&["escrow", "extend", "0", "--timeout-ms", "259200000", "--key", &key("worker-1")]);
    assert!(by_payee.failed().contains("unauthorized"), "{}", by_payee.stderr);
    // Only the payer (or arbiter, or a preimage holder) releases.
    let stolen = run(&["escrow", "release", "0", "--key", &key("worker-1")]);
    assert!(stolen.failed().contains("unauthorized"), "{}", stolen.stderr);
    run(&["escrow", "release", "0", "--key", &key("payer-1")]).ok();
    let twice = run(&["escrow", "release", "0", "--key", &key("payer-1")]);
    assert!(twice.failed().contains("escrow_state"), "{}", twice.stderr);

    let escrow = run(&["escrow", "show", "0", "--json", "--key", &operator]).json();
    assert_eq!(escrow["state"], "released");
    assert_eq!(escrow["paid_to_payee"], "990000");
    assert_eq!(escrow["fees"], "8500");
    assert_eq!(escrow["referral"], "1500");
    assert_eq!(escrow["description"], "scan of 42 pairs");
    let by_task =
        run(&["escrow", "list", "--payer", "payer-1", "--task-id", "scan-42", "--json", "--key", &operator]).json();
    assert_eq!(by_task.as_array().map(Vec::len), Some(1), "{by_task}");
    let worker = run(&["wallet", "show", "worker-1", "--json", "--key", &operator]).json();
    assert_eq!(worker["balance"], "990000");
    let orchestrator = run(&["wallet", "show", "orch-1", "--json", "--key", &operator]).json();
    assert_eq!(orchestrator["balance"], "1500");

    // A child wallet: the worker, registered by payer-1 as its child, gets a daily limit and no-withdraw.
    run(&["keygen", "--signer", "child-1", "--out", &key("child-1")]).ok();
    let child_public = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(key("child-1")).unwrap())
        .unwrap()["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    run(&[
        "agent",
        "register",
        "--id",
        "child-1",
        "--role",
        "executor",
        "--public-key",
        &child_public,
        "--parent",
        "payer-1",
        "--key",
        &key("payer-1"),
    ])
    .ok();
    run(&["transfer", "--to", "child-1", "--amount", "300000", "--key", &key("payer-1")]).ok();
    run(&[
        "wallet",
        "configure",
        "child-1",
        "--daily-limit",
        "100000",
        "--no-withdraw",
        "true",
        "--key",
        &key("payer-1"),
    ])
    .ok();
    run(&["transfer", "--to", "worker-1", "--amount", "60000", "--key", &key("child-1")]).ok();
    let over = run(&["transfer", "--to", "worker-1", "--amount", "60000", "--key", &key("child-1")]);
    assert!(over.failed().contains("daily_limit_exceeded"), "{}", over.stderr);
    let withdraw = run(&["wallet", "withdraw", "--amount", "1", "--key", &key("child-1")]);
    assert!(withdraw.failed().contains("withdraw_forbidden"), "{}", withdraw.stderr);
    run(&["wallet", "sweep", "child-1", "--amount", "240000", "--key", &key("payer-1")]).ok();
    let child = run(&["wallet", "show", "child-1", "--json", "--key", &operator]).json();
    assert_eq!(child["balance"], "0");
    assert_eq!(child["daily_limit"], "100000");

    // The books balance, and the payer's subtree adds up.
    let books = run(&["ledger", "--json", "--key", &operator]).json();
    assert_eq!(books["balanced"], true, "{books}");
    assert_eq!(books["supply"], "5000000");
    assert_eq!(books["fees"], "8500");
    let costs = run(&["agent", "costs", "payer-1", "--json", "--key", &operator]).json();
    assert_eq!(costs["agents"], 2, "payer-1 and its child: {costs}");

    let live_hash = run(&["status", "--json", "--key", &operator]).json()["sequence"].clone();
    assert!(session.server.terminate().success(), "a clean stop");
    let report = audit_ok(&session.work, &session.data);
    // Every entry, and after them the stop's signed checkpoint (and perhaps one a second after them).
    let live_sequence = live_hash.as_u64().expect("a sequence");
    let audited = report["sequence"].as_u64().expect("a sequence");
    assert!(audited > live_sequence && audited <= live_sequence + 2, "the audit replays every entry: {report}");
    assert!(report["checkpoints_checked"].as_u64() >= Some(1), "{report}");
    assert_eq!(report["supply"], "5000000");
}
