//! The ledger over HTTP, through the Rust client: minting, transfers and their idempotent ids, linked
//! batches, withdrawals, amounts as JSON strings, child-wallet policies, budgets and cost roll-ups.
//!
//! Every server here runs on a clock that does not move unless the test says so, so no deadline can
//! pass (and no tick entry can appear) while a test compares the books before and after a refusal.

mod common;

use colony_client::Client;
use colony_core::command::{ConfigureWallet, Heartbeat, Mint, Sweep, TransferBatch, Withdraw};
use colony_core::{AccountId, Command, EventKind, TransferKind, TransferRequest};
use colony_wire::SignedEnvelope;
use common::*;

/// An envelope carrying `commands` (JSON objects, comma-separated, exactly as given) signed by
/// `client`'s identity with its next nonce: for amounts the client cannot even express.
fn raw_envelope(client: &Client, commands: &str) -> SignedEnvelope {
    let identity = client.identity().expect("a signing client");
    let body =
        format!(r#"{{"signer":"{}","nonce":{},"commands":[{commands}]}}"#, identity.signer(), identity.next_nonce());
    let signature = identity.key().sign(&colony_wire::envelope::signing_message(body.as_bytes()));
    SignedEnvelope { body: body.into_bytes(), signature }
}

/// A linked batch of `(transfer id, payee, amount)`.
fn linked(transfers: &[(&str, &str, u64)]) -> Command {
    Command::TransferBatch(TransferBatch {
        transfers: transfers
            .iter()
            .map(|(transfer_id, to, minor_units)| TransferRequest {
                transfer_id: name(transfer_id),
                to: id(to),
                amount: amount(*minor_units),
            })
            .collect(),
    })
}

fn withdraw(transfer_id: &str, minor_units: u64) -> Command {
    Command::Withdraw(Withdraw { transfer_id: name(transfer_id), amount: amount(minor_units) })
}

fn done() -> Vec<(bool, String)> {
    vec![(true, "done".to_owned())]
}

fn unchanged() -> Vec<(bool, String)> {
    vec![(true, "unchanged".to_owned())]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_mints_agents_pay_and_withdraw_and_transfer_ids_are_idempotent() {
    let directory = tempfile::tempdir().unwrap();
    let (server, _clock) = start_manual(directory.path()).await;
    let (alice, _) = server.self_registers("treasury-alice", "treasury", &[]).await;
    let (bob, _) = server.self_registers("executor-bob", "executor", &[]).await;
    server.self_registers("executor-carol", "executor", &[]).await;
    server.self_registers("executor-gone", "executor", &[]).await;
    server.operator.deregister(id("executor-gone")).await.unwrap();
    let wallets = ["treasury-alice", "executor-bob", "executor-carol"];
    let from = server.operator.status().await.unwrap().sequence + 1;
    let mut events = server.operator.events(Some(from)).await.unwrap();

    // The operator mints; the money shows in the wallet and the books.
    let minted = server.operator.mint("mint-1", id("treasury-alice"), amount(1_000_000)).await.unwrap();
    assert_eq!(outcomes(&minted), done());
    let event = next_event(&mut events).await;
    assert_eq!(event.sequence, minted.sequence);
    assert_eq!(
        event.kind,
        EventKind::TransferPosted {
            transfer_id: name("mint-1"),
            from: AccountId::Mint,
            to: AccountId::Wallet(id("treasury-alice")),
            amount: amount(1_000_000),
            kind: TransferKind::Mint,
        }
    );
    assert_eq!(server.balance("treasury-alice").await, 1_000_000);
    let ledger = server.balanced_ledger().await;
    assert_eq!((ledger.supply, ledger.wallets_total, ledger.fees, ledger.escrow_held), (1_000_000, 1_000_000, 0, 0));
    assert_eq!(ledger.wallets, 1);

    // Nobody else mints, nobody mints into a missing wallet, and the operator has no wallet to pay from.
    let before = server.books(&wallets).await;
    let self_mint = Command::Mint(Mint { transfer_id: name("self-mint"), to: id("treasury-alice"), amount: amount(5) });
    expect_problem(alice.submit_one(self_mint).await, 403, "unauthorized", None);
    expect_problem(server.operator.mint("mint-2", id("nobody"), amount(5)).await, 404, "agent_not_found", None);
    expect_problem(
        server.operator.mint("mint-2", id("executor-gone"), amount(5)).await,
        422,
        "invalid_field",
        Some("to"),
    );
    expect_problem(server.operator.transfer("op-pay", id("executor-bob"), amount(5)).await, 403, "unauthorized", None);
    expect_problem(server.operator.submit_one(withdraw("op-out", 5)).await, 403, "unauthorized", None);
    // A mint retried with its id is applied once; the id with another amount is a conflict.
    assert_eq!(
        outcomes(&server.operator.mint("mint-1", id("treasury-alice"), amount(1_000_000)).await.unwrap()),
        unchanged()
    );
    expect_problem(
        server.operator.mint("mint-1", id("treasury-alice"), amount(2_000_000)).await,
        409,
        "transfer_conflict",
        Some("transfer_id"),
    );
    assert_eq!(server.books(&wallets).await, before);

    // A transfer moves the money and counts as spending and earning.
    let paid = alice.transfer("pay-1", id("executor-bob"), amount(250_000)).await.unwrap();
    assert_eq!(outcomes(&paid), done());
    let alice_wallet = server.wallet("treasury-alice").await;
    assert_eq!(alice_wallet.balance, amount(750_000));
    assert_eq!((alice_wallet.spent_total, alice_wallet.spent_today, alice_wallet.earned_total), (250_000, 250_000, 0));
    let bob_wallet = server.wallet("executor-bob").await;
    assert_eq!(bob_wallet.balance, amount(250_000));
    assert_eq!((bob_wallet.spent_total, bob_wallet.earned_total), (0, 250_000));
    let event = next_event(&mut events).await;
    assert_eq!(event.sequence, paid.sequence);
    assert_eq!(
        event.kind,
        EventKind::TransferPosted {
            transfer_id: name("pay-1"),
            from: AccountId::Wallet(id("treasury-alice")),
            to: AccountId::Wallet(id("executor-bob")),
            amount: amount(250_000),
            kind: TransferKind::Transfer,
        }
    );

    // Retried with the same id and content (an answer lost on the way): applied once, "unchanged".
    let before = server.books(&wallets).await;
    let retry = alice.transfer("pay-1", id("executor-bob"), amount(250_000)).await.unwrap();
    assert_eq!(outcomes(&retry), unchanged());
    assert!(retry.sequence > paid.sequence, "the retry is a new entry that changes no money");
    // The same id with different content: 409 naming the id, and nothing moves.
    for (to, minor_units) in [("executor-bob", 250_001), ("executor-carol", 250_000)] {
        let problem = expect_problem(
            alice.transfer("pay-1", id(to), amount(minor_units)).await,
            409,
            "transfer_conflict",
            Some("transfer_id"),
        );
        assert!(problem.detail.contains("pay-1"), "{problem}");
    }
    // A withdrawal cannot reuse a transfer's id either.
    expect_problem(alice.submit_one(withdraw("pay-1", 250_000)).await, 409, "transfer_conflict", Some("transfer_id"));
    // Overdraft, paying oneself, nothing, a stranger or a deregistered agent.
    let problem = expect_problem(
        alice.transfer("pay-2", id("executor-bob"), amount(750_001)).await,
        409,
        "insufficient_funds",
        Some("amount"),
    );
    assert!(problem.detail.contains("750000 available, 750001 requested"), "{problem}");
    expect_problem(alice.transfer("pay-2", id("treasury-alice"), amount(1)).await, 422, "invalid_field", Some("to"));
    expect_problem(alice.transfer("pay-2", id("executor-bob"), amount(0)).await, 422, "invalid_field", Some("amount"));
    expect_problem(alice.transfer("pay-2", id("nobody"), amount(1)).await, 404, "agent_not_found", None);
    expect_problem(alice.transfer("pay-2", id("executor-gone"), amount(1)).await, 422, "invalid_field", Some("to"));
    expect_problem(
        alice.transfer("pay-2", id("executor-bob"), amount(u64::MAX)).await,
        409,
        "insufficient_funds",
        Some("amount"),
    );
    assert_eq!(server.books(&wallets).await, before, "refusals move no money");

    // Transfer ids belong to their creator: Bob may use "pay-1" for his own transfer.
    assert_eq!(outcomes(&bob.transfer("pay-1", id("executor-carol"), amount(50_000)).await.unwrap()), done());
    assert_eq!(server.balance("executor-carol").await, 50_000);

    // A withdrawal takes money out of the swarm: the supply shrinks with the wallet.
    let withdrawn = alice.submit_one(withdraw("out-1", 100_000)).await.unwrap();
    assert_eq!(outcomes(&withdrawn), done());
    let seen = events_until(&mut events, |event| event.sequence == withdrawn.sequence).await;
    assert_eq!(
        seen.last().unwrap().kind,
        EventKind::TransferPosted {
            transfer_id: name("out-1"),
            from: AccountId::Wallet(id("treasury-alice")),
            to: AccountId::Mint,
            amount: amount(100_000),
            kind: TransferKind::Withdraw,
        }
    );
    assert_eq!(outcomes(&alice.submit_one(withdraw("out-1", 100_000)).await.unwrap()), unchanged());
    let before = server.books(&wallets).await;
    expect_problem(alice.submit_one(withdraw("out-2", 650_001)).await, 409, "insufficient_funds", Some("amount"));
    expect_problem(alice.submit_one(withdraw("out-2", 0)).await, 422, "invalid_field", Some("amount"));
    assert_eq!(server.books(&wallets).await, before);
    assert_eq!(server.balance("treasury-alice").await, 650_000);
    assert_eq!(server.wallet("treasury-alice").await.spent_today, 350_000, "withdrawals count as spending today");

    let ledger = server.balanced_ledger().await;
    assert_eq!((ledger.supply, ledger.wallets_total, ledger.fees, ledger.escrow_held), (900_000, 900_000, 0, 0));
    assert_eq!(ledger.wallets, 3);
    drop(events);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linked_batch_applies_all_or_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let (server, _clock) = start_manual(directory.path()).await;
    let (alice, _) = server.self_registers("treasury-alice", "treasury", &[]).await;
    server.self_registers("executor-bob", "executor", &[]).await;
    server.self_registers("executor-carol", "executor", &[]).await;
    server.fund("mint-1", "treasury-alice", 1_000).await;
    let wallets = ["treasury-alice", "executor-bob", "executor-carol"];

    // The third transfer overdraws: the first two, which alone would succeed, are not applied either.
    let before = server.books(&wallets).await;
    let overdraw =
        linked(&[("b-1", "executor-bob", 300), ("b-2", "executor-carol", 300), ("b-3", "executor-bob", 600)]);
    let problem = expect_problem(alice.submit_one(overdraw).await, 409, "batch_failed", Some("transfers"));
    assert!(problem.detail.contains("transfer 2 of the linked batch failed"), "{problem}");
    assert!(problem.detail.contains("insufficient funds: 400 available, 600 requested"), "{problem}");
    // A failure takes the status of its cause: an invalid payee is 422.
    let to_self = linked(&[("b-1", "executor-bob", 300), ("b-2", "treasury-alice", 1)]);
    let problem = expect_problem(alice.submit_one(to_self).await, 422, "batch_failed", Some("transfers"));
    assert!(problem.detail.contains("transfer 1 of the linked batch failed"), "{problem}");
    expect_problem(alice.submit_one(linked(&[])).await, 422, "invalid_field", Some("transfers"));
    assert_eq!(server.books(&wallets).await, before, "a failed batch moves nothing");
    assert_eq!(server.wallet("treasury-alice").await.spent_today, 0);

    // The refused batches left their ids unused: a good batch with them applies, in one entry.
    let good = linked(&[("b-1", "executor-bob", 300), ("b-2", "executor-carol", 300)]);
    let applied = alice.submit_one(good.clone()).await.unwrap();
    assert_eq!(outcomes(&applied), done());
    let mut events = server.operator.events(Some(applied.sequence)).await.unwrap();
    for (index, (transfer_id, to)) in [("b-1", "executor-bob"), ("b-2", "executor-carol")].into_iter().enumerate() {
        let event = next_event(&mut events).await;
        assert_eq!((event.sequence, event.index), (applied.sequence, index as u32));
        assert!(
            matches!(&event.kind, EventKind::TransferPosted { transfer_id: posted, to: AccountId::Wallet(payee), .. }
                if posted == &name(transfer_id) && payee == &id(to)),
            "{event:?}"
        );
    }
    drop(events);
    let balances = [
        server.balance("treasury-alice").await,
        server.balance("executor-bob").await,
        server.balance("executor-carol").await,
    ];
    assert_eq!(balances, [400, 300, 300]);
    // Replayed whole, it is one batch applied once.
    assert_eq!(outcomes(&alice.submit_one(good).await.unwrap()), unchanged());

    // Reusing an id with another amount fails the batch at that transfer; the new one after it is
    // not applied.
    let before = server.books(&wallets).await;
    let reused = linked(&[("b-1", "executor-bob", 301), ("b-4", "executor-bob", 1)]);
    let problem = expect_problem(alice.submit_one(reused).await, 409, "batch_failed", Some("transfers"));
    assert!(problem.detail.contains("transfer 0 of the linked batch failed"), "{problem}");
    assert!(problem.detail.contains("transfer id 'b-1'"), "{problem}");
    // Inside a /v1/batch envelope the failed linked batch is one failed result; the command next to
    // it still applies on its own.
    let response = alice
        .submit_batch(vec![
            linked(&[("b-5", "executor-bob", 100), ("b-6", "executor-carol", 1_000)]),
            Command::Heartbeat(Heartbeat {}),
        ])
        .await
        .unwrap();
    assert!(!response.results[0].ok);
    let problem = response.results[0].problem.as_ref().unwrap();
    assert_eq!(
        (problem.code.as_str(), problem.status, problem.field.as_deref()),
        ("batch_failed", 409, Some("transfers"))
    );
    assert!(problem.detail.contains("transfer 1 of the linked batch failed"), "{problem}");
    assert!(response.results[1].ok);
    assert_eq!(server.books(&wallets).await, before);
    let ledger = server.balanced_ledger().await;
    assert_eq!((ledger.supply, ledger.wallets_total), (1_000, 1_000));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn amounts_are_json_strings_and_bad_amounts_are_refused_with_their_field() {
    let directory = tempfile::tempdir().unwrap();
    let (server, _clock) = start_manual(directory.path()).await;
    let (alice, _) = server.self_registers("treasury-alice", "treasury", &[]).await;
    server.self_registers("executor-bob", "executor", &[]).await;
    server.fund("mint-1", "treasury-alice", 5_000_000).await;
    let wallets = ["treasury-alice", "executor-bob"];

    // Responses carry amounts as strings of minor units.
    let wallet = server.signed_get_raw(&server.operator, "/v1/wallets/treasury-alice").await.json();
    assert_eq!(wallet["balance"], "5000000");
    assert_eq!(wallet["held_in_escrow"], "0");
    assert_eq!(wallet["spent_total"], "0");
    assert_eq!(wallet["daily_limit"], serde_json::Value::Null);
    let ledger = server.signed_get_raw(&server.operator, "/v1/ledger").await.json();
    assert_eq!(ledger["supply"], "5000000");
    assert_eq!(ledger["wallets_total"], "5000000");
    assert_eq!(ledger["fees"], "0");
    assert_eq!(ledger["balanced"], true);

    // On input a string is the form; a small JSON integer is taken too, as no client lost precision.
    let transfer = |transfer_id: &str, amount: &str| {
        format!(r#"{{"type":"ledger.transfer","transfer_id":"{transfer_id}","to":"executor-bob","amount":{amount}}}"#)
    };
    let raw = server.post_signed_raw("/v1/commands", &raw_envelope(&alice, &transfer("s-1", r#""1500""#))).await;
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    let raw = server.post_signed_raw("/v1/commands", &raw_envelope(&alice, &transfer("n-1", "2500"))).await;
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    assert_eq!(server.balance("executor-bob").await, 4_000);

    // Numbers above 2^53 − 1, negative, fractional or otherwise not minor units: refused before the
    // log, naming the field.
    let hash = server.hash().await;
    let books = server.books(&wallets).await;
    for (text, detail) in [
        ("9007199254740993", "2^53"),
        ("9007199254740992", "2^53"),
        // Past u64, JSON's parser falls back to a float: refused all the same.
        ("18446744073709551616", "integers of minor units"),
        ("-5", "negative"),
        ("1.5", "fractions"),
        ("1e3", "fractions"),
        (r#""-5""#, "decimal digits"),
        (r#""1.5""#, "decimal digits"),
        (r#""""#, "decimal digits"),
        (r#""1,000""#, "decimal digits"),
        (r#"" 1""#, "decimal digits"),
        (r#""18446744073709551616""#, "exceeds the largest amount"),
        ("null", "amount"),
    ] {
        for path in ["/v1/commands", "/v1/batch"] {
            let raw = server.post_signed_raw(path, &raw_envelope(&alice, &transfer("bad-1", text))).await;
            let problem = raw.expect_problem(400, "malformed_request", Some("commands[0].amount"));
            assert!(problem.detail.contains(detail), "amount {text}: {problem}");
        }
    }
    // The same in an escrow lock, a withdrawal and behind another command.
    let lock = r#"{"type":"escrow.lock","payee":"executor-bob","amount":9007199254740993,"timeout_ms":60000}"#;
    let raw = server.post_signed_raw("/v1/commands", &raw_envelope(&alice, lock)).await;
    raw.expect_problem(400, "malformed_request", Some("commands[0].amount"));
    let out = r#"{"type":"ledger.withdraw","transfer_id":"w-1","amount":-1}"#;
    let raw = server.post_signed_raw("/v1/commands", &raw_envelope(&alice, out)).await;
    raw.expect_problem(400, "malformed_request", Some("commands[0].amount"));
    let two = format!(r#"{{"type":"agent.heartbeat"}},{}"#, transfer("bad-2", "0.5"));
    let raw = server.post_signed_raw("/v1/batch", &raw_envelope(&alice, &two)).await;
    raw.expect_problem(400, "malformed_request", Some("commands[1].amount"));
    // Inside a linked batch the transfer list is to blame.
    let batch =
        r#"{"type":"ledger.transfer_batch","transfers":[{"transfer_id":"l-1","to":"executor-bob","amount":-3}]}"#;
    let raw = server.post_signed_raw("/v1/commands", &raw_envelope(&alice, batch)).await;
    let problem = raw.problem();
    assert_eq!((problem.status, problem.code.as_str()), (400, "malformed_request"), "{problem}");
    assert!(problem.field.as_deref().is_some_and(|field| field.starts_with("commands[0].transfers")), "{problem}");
    assert_eq!(server.hash().await, hash, "nothing reached the log");

    // "0" is a well-formed amount that no transfer may carry: the state machine refuses it.
    let raw = server.post_signed_raw("/v1/commands", &raw_envelope(&alice, &transfer("z-1", r#""0""#))).await;
    raw.expect_problem(422, "invalid_field", Some("amount"));
    let raw = server.post_signed_raw("/v1/commands", &raw_envelope(&alice, &transfer("z-2", "0"))).await;
    raw.expect_problem(422, "invalid_field", Some("amount"));
    let zero_lock = r#"{"type":"escrow.lock","payee":"executor-bob","amount":"0","timeout_ms":60000}"#;
    let raw = server.post_signed_raw("/v1/commands", &raw_envelope(&alice, zero_lock)).await;
    raw.expect_problem(422, "invalid_field", Some("amount"));
    assert_eq!(server.books(&wallets).await, books);

    // The largest amounts survive the round trip exactly, where a JSON number would not.
    server.fund("mint-2", "executor-bob", u64::MAX - 5_000_000).await;
    let wallet = server.signed_get_raw(&server.operator, "/v1/wallets/executor-bob").await.json();
    assert_eq!(wallet["balance"], "18446744073704555615");
    assert_eq!(server.balance("executor-bob").await, u64::MAX - 4_996_000);
    let ledger = server.balanced_ledger().await;
    assert_eq!(ledger.supply, u128::from(u64::MAX));
    let raw = server.signed_get_raw(&server.operator, "/v1/ledger").await.json();
    assert_eq!(raw["supply"], "18446744073709551615");
    // The money supply is a u64: no mint may push it past.
    let books = server.books(&wallets).await;
    let problem = expect_problem(
        server.operator.mint("mint-3", id("treasury-alice"), amount(1)).await,
        409,
        "limit_reached",
        None,
    );
    assert!(problem.detail.contains("money_supply"), "{problem}");
    let problem = expect_problem(
        alice.transfer("all", id("executor-bob"), amount(u64::MAX)).await,
        409,
        "insufficient_funds",
        Some("amount"),
    );
    assert!(problem.detail.contains("4996000 available, 18446744073709551615 requested"), "{problem}");
    assert_eq!(server.books(&wallets).await, books);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_limits_its_childs_wallet() {
    let directory = tempfile::tempdir().unwrap();
    let (server, _clock) = start_manual(directory.path()).await;
    let (parent, _) = server.self_registers("treasury-parent", "treasury", &[]).await;
    let (stranger, _) = server.self_registers("treasury-stranger", "treasury", &[]).await;
    server.self_registers("executor-shop", "executor", &[]).await;
    let (child, child_key) = server.new_agent("scout-child");
    parent
        .submit_one(register_related("scout-child", &child_key, "scout", Some("treasury-parent"), None))
        .await
        .unwrap();
    server.fund("mint-child", "scout-child", 10_000).await;
    let wallets = ["treasury-parent", "treasury-stranger", "executor-shop", "scout-child"];

    let policy = |daily_limit: Option<Option<u64>>, no_withdraw: Option<bool>, frozen: Option<bool>| {
        Command::ConfigureWallet(ConfigureWallet {
            agent: id("scout-child"),
            daily_limit: daily_limit.map(|limit| limit.map(amount)),
            no_withdraw,
            frozen,
            minimum_balance: None,
        })
    };

    // Only the parent (or the operator) sets the child's policy.
    let before = server.books(&wallets).await;
    expect_problem(stranger.submit_one(policy(Some(Some(1)), None, None)).await, 403, "unauthorized", None);
    expect_problem(child.submit_one(policy(Some(None), Some(false), None)).await, 403, "unauthorized", None);
    assert_eq!(server.books(&wallets).await, before);
    let configured = parent.submit_one(policy(Some(Some(1_000)), Some(true), None)).await.unwrap();
    assert_eq!(outcomes(&configured), done());
    assert_eq!(outcomes(&parent.submit_one(policy(Some(Some(1_000)), Some(true), None)).await.unwrap()), unchanged());
    let wallet = server.wallet("scout-child").await;
    assert_eq!((wallet.daily_limit, wallet.no_withdraw, wallet.frozen), (Some(amount(1_000)), true, false));

    // Within the limit the child pays; past it, nothing moves.
    child.transfer("c-1", id("executor-shop"), amount(600)).await.unwrap();
    let before = server.books(&wallets).await;
    let problem = expect_problem(
        child.transfer("c-2", id("executor-shop"), amount(401)).await,
        409,
        "daily_limit_exceeded",
        Some("amount"),
    );
    assert!(problem.detail.contains("daily limit of 1000") && problem.detail.contains("600 spent today"), "{problem}");
    // An escrow lock is spending too.
    let lock = colony_client::EscrowLock::new(id("executor-shop"), amount(401)).timeout_ms(60_000);
    expect_problem(child.lock_escrow(lock).await, 409, "daily_limit_exceeded", Some("amount"));
    // A no-withdraw child cannot move money out of the swarm, even within its limit.
    let problem = expect_problem(child.submit_one(withdraw("c-out", 10)).await, 409, "withdraw_forbidden", None);
    assert!(problem.detail.contains("scout-child"), "{problem}");
    assert_eq!(server.books(&wallets).await, before);
    assert_eq!(server.wallet("scout-child").await.spent_today, 600);
    // Exactly up to the limit is allowed.
    assert_eq!(outcomes(&child.transfer("c-3", id("executor-shop"), amount(400)).await.unwrap()), done());
    expect_problem(
        child.transfer("c-4", id("executor-shop"), amount(1)).await,
        409,
        "daily_limit_exceeded",
        Some("amount"),
    );
    assert_eq!(server.balance("scout-child").await, 9_000);

    // A frozen wallet receives but does not spend, and the parent cannot sweep it either.
    parent.submit_one(policy(Some(None), None, Some(true))).await.unwrap();
    let before = server.books(&wallets).await;
    let problem =
        expect_problem(child.transfer("c-5", id("executor-shop"), amount(1)).await, 409, "wallet_frozen", None);
    assert!(problem.detail.contains("scout-child"), "{problem}");
    assert_eq!(server.books(&wallets).await, before);
    assert_eq!(outcomes(&server.operator.mint("mint-more", id("scout-child"), amount(500)).await.unwrap()), done());
    let sweep = |transfer_id: &str, minor_units: u64| {
        Command::Sweep(Sweep { child: id("scout-child"), transfer_id: name(transfer_id), amount: amount(minor_units) })
    };
    let before = server.books(&wallets).await;
    expect_problem(stranger.submit_one(sweep("s-1", 100)).await, 403, "unauthorized", None);
    expect_problem(parent.submit_one(sweep("s-1", 100)).await, 409, "wallet_frozen", None);
    assert_eq!(server.books(&wallets).await, before);
    // Thawed by the parent that froze it, the wallet is swept back.
    parent.submit_one(policy(None, None, Some(false))).await.unwrap();
    expect_problem(parent.submit_one(sweep("s-1", 9_501)).await, 409, "insufficient_funds", Some("amount"));
    assert_eq!(server.balance("scout-child").await, 9_500);
    assert_eq!(outcomes(&parent.submit_one(sweep("s-1", 9_500)).await.unwrap()), done());
    assert_eq!((server.balance("scout-child").await, server.balance("treasury-parent").await), (0, 9_500));
    // The operator lifts the policy; the child spends again (what it has).
    server.operator.submit_one(policy(Some(None), Some(false), Some(false))).await.unwrap();
    parent.transfer("p-1", id("scout-child"), amount(2_000)).await.unwrap();
    assert_eq!(outcomes(&child.transfer("c-6", id("executor-shop"), amount(1_500)).await.unwrap()), done());
    assert_eq!(outcomes(&child.submit_one(withdraw("c-out", 500)).await.unwrap()), done());
    let ledger = server.balanced_ledger().await;
    assert_eq!(ledger.supply, 10_000);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_budget_halts_an_agent_below_its_minimum_and_funding_restores_it() {
    let directory = tempfile::tempdir().unwrap();
    let (server, _clock) = start_manual(directory.path()).await;
    let (spender, _) = server.self_registers("executor-spender", "executor", &[]).await;
    let (funder, _) = server.self_registers("treasury-funder", "treasury", &[]).await;
    server.fund("mint-1", "executor-spender", 1_000).await;
    server.fund("mint-2", "treasury-funder", 1_000).await;
    let budget = |minimum: Option<u64>| {
        Command::ConfigureWallet(ConfigureWallet {
            agent: id("executor-spender"),
            daily_limit: None,
            no_withdraw: None,
            frozen: None,
            minimum_balance: Some(minimum.map(amount)),
        })
    };
    // The agent itself may not set its own budget (it has no parent, so only the operator may).
    expect_problem(spender.submit_one(budget(None)).await, 403, "unauthorized", None);
    server.operator.submit_one(budget(Some(600))).await.unwrap();
    assert_eq!(server.wallet("executor-spender").await.minimum_balance, Some(amount(600)));
    assert_eq!(server.agent("executor-spender").await.status, "active");

    // Spending below the minimum is allowed once, and halts the agent.
    let from = server.operator.status().await.unwrap().sequence + 1;
    let mut events = server.operator.events(Some(from)).await.unwrap();
    let spent = spender.transfer("t-1", id("treasury-funder"), amount(500)).await.unwrap();
    assert_eq!(outcomes(&spent), done());
    let seen = events_until(&mut events, |event| matches!(event.kind, EventKind::AgentBudgetHalted { .. })).await;
    let halted = seen.last().unwrap();
    assert_eq!(halted.sequence, spent.sequence);
    assert_eq!(
        halted.kind,
        EventKind::AgentBudgetHalted {
            agent: id("executor-spender"),
            balance: amount(500),
            minimum_balance: amount(600)
        }
    );
    let view = server.agent("executor-spender").await;
    assert_eq!(view.status, "halted");
    assert!(view.budget_halted);
    assert!(view.halt.is_none(), "a budget halt is not an operator or parent halt");
    let wallets = ["executor-spender", "treasury-funder"];
    let before = server.books(&wallets).await;
    expect_problem(spender.transfer("t-2", id("treasury-funder"), amount(1)).await, 403, "agent_halted", None);
    let lock = colony_client::EscrowLock::new(id("treasury-funder"), amount(1)).timeout_ms(60_000);
    expect_problem(spender.lock_escrow(lock).await, 403, "agent_halted", None);
    expect_problem(spender.submit_one(withdraw("w-1", 1)).await, 403, "agent_halted", None);
    assert_eq!(server.books(&wallets).await, before);
    assert!(spender.heartbeat().await.unwrap().results[0].ok, "a halted agent still heartbeats");

    // Funding that stays below the minimum keeps it halted; reaching the minimum lifts the halt.
    funder.transfer("f-1", id("executor-spender"), amount(50)).await.unwrap();
    assert!(server.agent("executor-spender").await.budget_halted);
    let funded = funder.transfer("f-2", id("executor-spender"), amount(50)).await.unwrap();
    let seen = events_until(&mut events, |event| matches!(event.kind, EventKind::AgentBudgetRestored { .. })).await;
    let restored = seen.last().unwrap();
    assert_eq!(restored.sequence, funded.sequence);
    assert_eq!(restored.kind, EventKind::AgentBudgetRestored { agent: id("executor-spender"), balance: amount(600) });
    let view = server.agent("executor-spender").await;
    assert_eq!((view.status.as_str(), view.budget_halted), ("active", false));
    assert_eq!(outcomes(&spender.transfer("t-2", id("treasury-funder"), amount(1)).await.unwrap()), done());
    assert!(server.agent("executor-spender").await.budget_halted, "599 is below the minimum again");

    // Raising the minimum above the balance halts at once; the operator lowering it restores.
    server.operator.submit_one(budget(Some(100))).await.unwrap();
    assert_eq!(server.agent("executor-spender").await.status, "active");
    server.operator.submit_one(budget(Some(10_000))).await.unwrap();
    assert_eq!(server.agent("executor-spender").await.status, "halted");
    server.operator.submit_one(budget(None)).await.unwrap();
    assert_eq!(server.agent("executor-spender").await.status, "active");
    drop(events);
    server.balanced_ledger().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn costs_roll_up_over_an_agents_subtree() {
    let directory = tempfile::tempdir().unwrap();
    let (server, _clock) = start_manual(directory.path()).await;
    let (parent, _) = server.self_registers("orchestrator-p", "orchestrator", &[]).await;
    let (vendor, _) = server.self_registers("executor-vendor", "executor", &[]).await;
    let mut children = Vec::new();
    for child in ["scout-c1", "analyst-c2"] {
        let (client, key) = server.new_agent(child);
        let role = child.split('-').next().unwrap();
        parent.submit_one(register_related(child, &key, role, Some("orchestrator-p"), None)).await.unwrap();
        children.push(client);
    }
    let (c1, c2) = (&children[0], &children[1]);
    server.fund("mint-p", "orchestrator-p", 100_000).await;
    server.fund("mint-v", "executor-vendor", 5_000).await;

    // The parent funds both children; the first pays the vendor, the second pays the first and
    // earns from the vendor through an escrow (1% fee, no referrer).
    parent.transfer("p-1", id("scout-c1"), amount(30_000)).await.unwrap();
    parent.transfer("p-2", id("analyst-c2"), amount(20_000)).await.unwrap();
    c1.transfer("c1-1", id("executor-vendor"), amount(7_000)).await.unwrap();
    c2.transfer("c2-1", id("scout-c1"), amount(2_000)).await.unwrap();
    let (escrow, _) = vendor
        .lock_escrow(colony_client::EscrowLock::new(id("analyst-c2"), amount(4_000)).timeout_ms(60_000))
        .await
        .unwrap();
    vendor.release_escrow(escrow, None).await.unwrap();

    let p = server.wallet("orchestrator-p").await;
    let w1 = server.wallet("scout-c1").await;
    let w2 = server.wallet("analyst-c2").await;
    assert_eq!((p.balance.0, p.spent_total, p.earned_total), (50_000, 50_000, 0));
    assert_eq!((w1.balance.0, w1.spent_total, w1.earned_total), (25_000, 7_000, 32_000));
    assert_eq!((w2.balance.0, w2.spent_total, w2.earned_total, w2.fees_paid_total), (21_960, 2_000, 23_960, 40));

    let rollup = server.operator.costs(&id("orchestrator-p")).await.unwrap();
    assert_eq!(rollup.agent, id("orchestrator-p"));
    assert_eq!(rollup.agents, 3);
    assert_eq!(rollup.balance, 50_000 + 25_000 + 21_960);
    assert_eq!(rollup.spent, 50_000 + 7_000 + 2_000, "payments inside the subtree count on both sides");
    assert_eq!(rollup.earned, 32_000 + 23_960);
    assert_eq!(rollup.fees_paid, 40);
    // A leaf's roll-up is its own wallet; an outsider's is its own subtree.
    let leaf = c2.costs(&id("analyst-c2")).await.unwrap();
    assert_eq!((leaf.agents, leaf.balance, leaf.spent, leaf.earned, leaf.fees_paid), (1, 21_960, 2_000, 23_960, 40));
    let vendor_costs = server.operator.costs(&id("executor-vendor")).await.unwrap();
    assert_eq!(
        (vendor_costs.agents, vendor_costs.balance, vendor_costs.spent, vendor_costs.earned),
        (1, 8_000, 4_000, 7_000)
    );
    let raw = server.signed_get_raw(&server.operator, "/v1/agents/orchestrator-p/costs").await.json();
    assert_eq!(raw["balance"], "96960", "totals are strings like amounts");
    expect_problem(server.operator.costs(&id("nobody")).await, 404, "agent_not_found", None);
    let raw = server.signed_get_raw(&server.operator, "/v1/agents/Bad%20Id/costs").await;
    raw.expect_problem(400, "invalid_query", Some("id"));

    let ledger = server.balanced_ledger().await;
    assert_eq!((ledger.supply, ledger.fees, ledger.escrow_held), (105_000, 40, 0));
    server.shutdown().await;
}
