//! The market's read endpoints, called in process over a task's whole life: listing with filters
//! and pages, one task with its ranked bids and dependencies, reputations, and the 404s.

use colony_wire::keys::KeyPair;
use colony_wire::views::{ReputationView, TaskPage, TaskView};
use serde_json::{Value, json};

use super::tests::{TestApp, expect_problem, read, submit};

fn ids(page: &TaskPage) -> Vec<u64> {
    page.tasks.iter().map(|task| task.id).collect()
}

/// A manager and two workers registered, the manager funded.
async fn market() -> (TestApp, KeyPair, KeyPair, KeyPair) {
    let test = TestApp::new();
    let keys = [KeyPair::from_seed([1; 32]), KeyPair::from_seed([2; 32]), KeyPair::from_seed([3; 32])];
    for ((agent, role), key) in
        [("manager", "orchestrator"), ("worker-a", "analyst"), ("worker-b", "analyst")].iter().zip(&keys)
    {
        let register =
            json!({ "type": "agent.register", "agent": agent, "public_key": key.public_key(), "role": role });
        submit(&test, "operator", &test.operator, register).await;
    }
    let mint = json!({ "type": "ledger.mint", "transfer_id": "funding", "to": "manager", "amount": "100" });
    submit(&test, "operator", &test.operator, mint).await;
    let [manager, worker_a, worker_b] = keys;
    (test, manager, worker_a, worker_b)
}

fn announce(task_id: &str, kind: &str, depends_on: &[&str]) -> Value {
    json!({ "type": "task.announce", "task_id": task_id, "kind": kind, "max_cost": "10", "deadline_ms": 1_000,
        "bid_window_ms": 60_000, "depends_on": depends_on })
}

#[tokio::test]
async fn a_task_is_listed_shown_with_ranked_bids_and_its_winner_gets_a_reputation() {
    let (test, manager, worker_a, worker_b) = market().await;
    let announced = submit(&test, "manager", &manager, announce("first", "analyze", &[])).await;
    assert_eq!(announced.results[0].task, Some(0), "task ids start at 0");
    let again = submit(&test, "manager", &manager, announce("first", "analyze", &[])).await;
    assert_eq!((again.results[0].task, again.results[0].status.as_deref()), (Some(0), Some("existing")));
    submit(&test, "manager", &manager, announce("second", "analyze", &[])).await;
    // Seed 000's example: 5 in 500 ms at 0.9 scores 0.62, 2 in 800 ms at 0.6 scores 0.56.
    let bid_b =
        json!({ "type": "task.bid", "task": 0, "estimated_cost": "2", "estimated_time_ms": 800, "confidence": "0.6" });
    submit(&test, "worker-b", &worker_b, bid_b).await;
    let bid_a =
        json!({ "type": "task.bid", "task": 0, "estimated_cost": "5", "estimated_time_ms": 500, "confidence": "0.9" });
    submit(&test, "worker-a", &worker_a, bid_a).await;
    let task: TaskView = read(&test, "/v1/tasks/0").await;
    let ranked: Vec<(String, String)> =
        task.bids.iter().map(|bid| (bid.bidder.to_string(), bid.score.to_string())).collect();
    assert_eq!(ranked, [("worker-a".to_owned(), "0.62".to_owned()), ("worker-b".to_owned(), "0.56".to_owned())]);
    assert_eq!((task.state.name(), task.terms.task_id.as_str()), ("open", "first"));

    submit(&test, "manager", &manager, json!({ "type": "task.award", "task": 0 })).await;
    let task: TaskView = read(&test, "/v1/tasks/0").await;
    assert_eq!(task.state.name(), "awarded");
    assert_eq!((task.attempts.len(), task.attempts[0].winner.as_str()), (1, "worker-a"));
    assert_eq!(task.attempts[0].score.to_string(), "0.62");

    let awarded: TaskPage = read(&test, "/v1/tasks?state=awarded").await;
    assert_eq!(ids(&awarded), [0]);
    let won: TaskPage = read(&test, "/v1/tasks?winner=worker-a").await;
    assert_eq!((ids(&won), won.tasks[0].winner.as_ref().map(|winner| winner.as_str())), (vec![0], Some("worker-a")));
    let lost: TaskPage = read(&test, "/v1/tasks?winner=worker-b").await;
    assert!(lost.tasks.is_empty());

    submit(&test, "worker-a", &worker_a, json!({ "type": "task.accept", "task": 0 })).await;
    let result = json!({ "type": "task.submit", "task": 0, "result": { "answer": 42 }, "actual_cost": "3" });
    submit(&test, "worker-a", &worker_a, result).await;
    submit(&test, "manager", &manager, json!({ "type": "task.verify", "task": 0, "score": "0.9" })).await;
    // A task depending on a completed one opens at once and shows what it delivered.
    submit(&test, "manager", &manager, announce("third", "monitor", &["first"])).await;
    let third: TaskView = read(&test, "/v1/tasks/2").await;
    assert_eq!(third.state.name(), "open");
    let dependency = &third.dependencies[0];
    assert_eq!((dependency.id, dependency.state.map(|state| state.name())), (0, Some("completed")));
    assert_eq!(dependency.result.as_ref().map(|result| result.to_string()), Some(r#"{"answer":42}"#.to_owned()));

    let monitors: TaskPage = read(&test, "/v1/tasks?kind=monitor&manager=manager").await;
    assert_eq!(ids(&monitors), [2]);
    let reputation: ReputationView = read(&test, "/v1/agents/worker-a/reputation").await;
    assert_eq!((reputation.tasks, reputation.succeeded, reputation.success_rate.as_str()), (1, 1, "1.000"));
    assert_eq!((reputation.total_cost, reputation.earned, reputation.on_time_rate.as_str()), (3, 5, "1.000"));
    // 1 × 0.8 + 0.9 × 0.2.
    assert_eq!(reputation.performance_score.to_string(), "0.98");
    let newcomer: ReputationView = read(&test, "/v1/agents/worker-b/reputation").await;
    assert_eq!((newcomer.tasks, newcomer.performance_score.to_string()), (0, "1".to_owned()));
}

#[tokio::test]
async fn tasks_come_in_pages_by_id() {
    let (test, manager, _, _) = market().await;
    for task_id in ["one", "two", "three"] {
        submit(&test, "manager", &manager, announce(task_id, "analyze", &[])).await;
    }
    let first: TaskPage = read(&test, "/v1/tasks?limit=2").await;
    assert_eq!((ids(&first), first.next_after), (vec![0, 1], Some(1)));
    let last: TaskPage = read(&test, "/v1/tasks?limit=2&after=1").await;
    assert_eq!((ids(&last), last.next_after), (vec![2], None));
    let exact: TaskPage = read(&test, "/v1/tasks?limit=3").await;
    assert_eq!((ids(&exact), exact.next_after), (vec![0, 1, 2], None));
    let after_first: TaskPage = read(&test, "/v1/tasks?after=0").await;
    assert_eq!(ids(&after_first), [1, 2]);
    let none: TaskPage = read(&test, "/v1/tasks?after=2").await;
    assert!(none.tasks.is_empty() && none.next_after.is_none());
}

#[tokio::test]
async fn a_missing_task_or_agent_is_404_and_a_bad_query_400() {
    let test = TestApp::new();
    expect_problem(test.send(test.signed_get("/v1/tasks/7")).await, 404, "task_not_found", Some("task")).await;
    expect_problem(test.send(test.signed_get("/v1/agents/nobody/reputation")).await, 404, "agent_not_found", None)
        .await;
    let cases = [
        ("/v1/tasks/seven", "id"),
        ("/v1/agents/No%20Body/reputation", "id"),
        ("/v1/tasks?state=sleeping", "state"),
        ("/v1/tasks?limit=0", "limit"),
        ("/v1/tasks?winner=a%2Fb", "winner"),
        ("/v1/tasks?kind=Big", "kind"),
        ("/v1/tasks?after=first", "query"),
    ];
    for (path, field) in cases {
        expect_problem(test.send(test.signed_get(path)).await, 400, "invalid_query", Some(field)).await;
    }
}

#[tokio::test]
async fn a_rare_filter_pages_through_a_bounded_scan() {
    use super::extract::QueryParameters;
    use super::market::{TaskFilter, TaskQuery, page_of_tasks};
    let (test, manager, _, _) = market().await;
    for (task_id, kind) in [("one", "analyze"), ("two", "analyze"), ("three", "analyze"), ("four", "monitor")] {
        submit(&test, "manager", &manager, announce(task_id, kind, &[])).await;
    }
    let filter = |query: Value| {
        let query: TaskQuery = serde_json::from_value(query).expect("a query");
        TaskFilter::validate(query).expect("a valid query")
    };
    let state = test.app.state().expect("the state");
    // Two tasks looked at per page: the monitor task (id 3) is found on the second page, after an
    // empty first page that still says where to go on.
    let first = page_of_tasks(&state, &filter(json!({ "kind": "monitor" })), 2);
    assert_eq!((ids(&first), first.next_after), (vec![], Some(1)));
    let second = page_of_tasks(&state, &filter(json!({ "kind": "monitor", "after": 1 })), 2);
    assert_eq!((ids(&second), second.next_after), (vec![3], None));
    // A scan that ends exactly at the last task says there is nothing more.
    let whole = page_of_tasks(&state, &filter(json!({ "kind": "analyze", "after": 1 })), 2);
    assert_eq!((ids(&whole), whole.next_after), (vec![2], None));
}
