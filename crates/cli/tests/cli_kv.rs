//! The shared key-value store through the `colony` binary, as a user drives it: a namespace made,
//! values put and read back with their revisions, a compare-and-swap that wins and one that loses,
//! keys listed by prefix, a watch that prints what changed since a revision, a private namespace
//! refused to another agent, and bad input refused before anything is sent.

mod common;

use common::CliSession;

#[test]
fn values_are_put_swapped_listed_and_watched_through_the_cli() {
    let session = CliSession::start();
    let run = |args: &[&str]| session.run(args);
    let planner = session.agent("planner", "executor", &[]);
    let worker = session.agent("worker-1", "executor", &[]);

    let created = run(&["kv", "create", "pipeline", "--write-by", "planner,worker-1", "--key", &planner]);
    assert!(created.ok().starts_with("done"), "{}", created.stdout);
    let first = run(&[
        "kv",
        "put",
        "pipeline",
        "stage/1",
        r#"{"model":"a"}"#,
        "--expect-revision",
        "0",
        "--json",
        "--key",
        &planner,
    ])
    .json();
    let revision = first["results"][0]["kv"]["revision"].as_u64().expect("a revision");
    assert_eq!(first["results"][0]["kv"]["version"], 1, "{first}");
    let text = run(&["kv", "put", "pipeline", "notes", "ship it", "--string", "--key", &worker]);
    assert!(text.ok().contains("version 1"), "{}", text.stdout);
    let not_json = run(&["kv", "put", "pipeline", "notes", "ship it", "--key", &worker]);
    assert!(not_json.failed().contains("--string"), "{}", not_json.stderr);

    let read = run(&["kv", "get", "pipeline", "stage/1", "--key", &worker]);
    assert!(
        read.ok().contains(r#"{"model":"a"}"#) && read.stdout.contains(&format!("revision {revision}")),
        "{}",
        read.stdout
    );
    let revision_text = revision.to_string();
    let swap =
        ["kv", "put", "pipeline", "stage/1", r#"{"model":"b"}"#, "--expect-revision", revision_text.as_str(), "--key"];
    let won = run(&[&swap[..], &[worker.as_str()]].concat());
    assert!(won.ok().contains("version 2"), "{}", won.stdout);
    let lost = run(&[&swap[..], &[planner.as_str()]].concat());
    assert!(lost.failed().contains("kv_revision_mismatch"), "{}", lost.stderr);

    let listed = run(&["kv", "list", "pipeline", "--prefix", "stage/", "--json", "--key", &worker]).json();
    assert_eq!(listed["entries"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed["entries"][0]["value"]["model"], "b", "{listed}");
    let watched = run(&["kv", "watch", "pipeline", "--after-revision", revision_text.as_str(), "--key", &worker]);
    let lines: Vec<&str> = watched.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{}", watched.stdout);
    assert!(
        lines[0].contains("put notes") && lines[1].contains(r#"put stage/1 = {"model":"b"}"#),
        "{}",
        watched.stdout
    );
    let deleted = run(&["kv", "delete", "pipeline", "notes", "--key", &planner]);
    assert!(deleted.ok().contains("deleted at revision"), "{}", deleted.stdout);

    let shown = run(&["kv", "show", "pipeline", "--json", "--key", &worker]).json();
    assert_eq!((shown["keys"].as_u64(), shown["creator"].as_str()), (Some(1), Some("planner")), "{shown}");
    let names = run(&["kv", "namespaces", "--key", &worker]);
    assert!(names.ok().contains("pipeline"), "{}", names.stdout);

    // A key that lives with a lease goes when the lease is revoked.
    run(&["lease", "grant", "presence", "--ttl-ms", "60000", "--key", &worker]).ok();
    run(&["kv", "put", "pipeline", "workers/worker-1", "up", "--string", "--lease", "presence", "--key", &worker]).ok();
    let leased = run(&["kv", "get", "pipeline", "workers/worker-1", "--key", &planner]);
    assert!(leased.ok().contains("lease presence"), "{}", leased.stdout);
    let not_held = run(&["kv", "put", "pipeline", "workers/x", "1", "--lease", "presence", "--key", &planner]);
    assert!(not_held.failed().contains("lease_not_found"), "{}", not_held.stderr);
    run(&["lease", "revoke", "presence", "--key", &worker]).ok();
    let gone = run(&["kv", "get", "pipeline", "workers/worker-1", "--key", &planner]);
    assert!(gone.failed().contains("kv_key_not_found"), "{}", gone.stderr);

    // A private namespace: its keys are refused to another reader, and so are writes.
    run(&["kv", "create", "secrets", "--read-by", "creator", "--key", &planner]).ok();
    run(&["kv", "put", "secrets", "api/token", "s3cret", "--string", "--key", &planner]).ok();
    let peek = run(&["kv", "get", "secrets", "api/token", "--key", &worker]);
    assert!(peek.failed().contains("kv_not_reader") && !peek.stderr.contains("s3cret"), "{}", peek.stderr);
    let write = run(&["kv", "put", "secrets", "api/token", "1", "--key", &worker]);
    assert!(write.failed().contains("kv_not_writer"), "{}", write.stderr);
    let bad_key = run(&["kv", "put", "pipeline", "a b", "1", "--key", &planner]);
    assert!(bad_key.failed().contains("key 'a b'"), "{}", bad_key.stderr);
    let bad_list = run(&["kv", "create", "x", "--read-by", "Not An Agent", "--key", &planner]);
    assert!(bad_list.failed().contains("--read-by"), "{}", bad_list.stderr);
}
