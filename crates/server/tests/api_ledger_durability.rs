//! The ledger survives a restart: after a graceful shutdown, a server started on the same data
//! directory shows the same books, wallets, escrows and roll-ups, keeps its idempotency memory, and
//! the offline audit replays the log to the same state hash.

mod common;

use colony_core::command::{ConfigureWallet, TransferBatch, Withdraw};
use std::sync::Arc;

use colony_client::EscrowLock;
use colony_core::{Command, EscrowResolution, EscrowState, TransferRequest};
use colony_server::ManualClock;
use common::*;

const AGENTS: [&str; 6] =
    ["oracle-ref", "treasury-payer", "executor-payee", "risk-arbiter", "orchestrator-p", "scout-child"];

/// Everything about money the API shows.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    books: Books,
    costs: colony_wire::views::CostRollupView,
    agents: Vec<colony_wire::views::AgentView>,
    hash: colony_wire::views::StateHashView,
}

async fn observe(server: &TestServer) -> Observed {
    Observed {
        books: server.books(&AGENTS).await,
        costs: server.operator.costs(&id("orchestrator-p")).await.unwrap(),
        agents: server.all_agents().await,
        hash: server.hash().await,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_survives_a_restart_and_the_audit_agrees() {
    let directory = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(now_ms());
    let settings = {
        let mut settings = settings(directory.path());
        settings.clock = Arc::new(clock.clone());
        settings
    };
    let server = start(settings.clone()).await;
    server.operator_registers("oracle-ref", "oracle").await;
    let (payer, payer_key) = server.operator_registers("treasury-payer", "treasury").await;
    let (payee, _) = server.operator_registers_related("executor-payee", "executor", None, Some("oracle-ref")).await;
    let (arbiter, arbiter_key) = server.operator_registers("risk-arbiter", "risk").await;
    let (parent, _) = server.self_registers("orchestrator-p", "orchestrator", &[]).await;
    let (child, child_key) = server.new_agent("scout-child");
    parent
        .submit_one(register_related("scout-child", &child_key, "scout", Some("orchestrator-p"), None))
        .await
        .unwrap();
    server.fund("mint-payer", "treasury-payer", 1_000_000).await;
    server.fund("mint-parent", "orchestrator-p", 50_000).await;

    // Transfers, a linked batch (one applied, one refused), a withdrawal.
    payer.transfer("t-1", id("orchestrator-p"), amount(10_000)).await.unwrap();
    let batch = |second: u64| {
        Command::TransferBatch(TransferBatch {
            transfers: vec![
                TransferRequest { transfer_id: name("b-1"), to: id("executor-payee"), amount: amount(1_000) },
                TransferRequest { transfer_id: name("b-2"), to: id("risk-arbiter"), amount: amount(second) },
            ],
        })
    };
    expect_problem(payer.submit_one(batch(10_000_000)).await, 409, "batch_failed", Some("transfers"));
    payer.submit_one(batch(2_000)).await.unwrap();
    payer.submit_one(Command::Withdraw(Withdraw { transfer_id: name("w-1"), amount: amount(7_000) })).await.unwrap();
    // A child wallet with a policy, and a refusal that must replay as a refusal.
    parent
        .submit_one(Command::ConfigureWallet(ConfigureWallet {
            agent: id("scout-child"),
            daily_limit: Some(Some(amount(5_000))),
            no_withdraw: Some(true),
            frozen: None,
            minimum_balance: None,
        }))
        .await
        .unwrap();
    parent.transfer("p-1", id("scout-child"), amount(20_000)).await.unwrap();
    child.transfer("c-1", id("executor-payee"), amount(4_000)).await.unwrap();
    expect_problem(
        child.transfer("c-2", id("executor-payee"), amount(4_000)).await,
        409,
        "daily_limit_exceeded",
        Some("amount"),
    );
    // A budget halt on the arbiter.
    server
        .operator
        .submit_one(Command::ConfigureWallet(ConfigureWallet {
            agent: id("risk-arbiter"),
            daily_limit: None,
            no_withdraw: None,
            frozen: None,
            minimum_balance: Some(Some(amount(1_000_000))),
        }))
        .await
        .unwrap();
    assert!(server.agent("risk-arbiter").await.budget_halted);

    // Escrows in every state: released (with referral), refunded, resolved, expired, disputed, locked.
    let terms = |minor_units: u64| EscrowLock::new(id("executor-payee"), amount(minor_units)).timeout_ms(60_000);
    let (released, _) = payer.lock_escrow(terms(100_000)).await.unwrap();
    payer.release_escrow(released, None).await.unwrap();
    let (refunded, _) = payer.lock_escrow(terms(20_000)).await.unwrap();
    payee.refund_escrow(refunded).await.unwrap();
    let (resolved, _) =
        payer.lock_escrow(EscrowLock { arbiter: Some(id("risk-arbiter")), ..terms(30_000) }).await.unwrap();
    payer.dispute_escrow(resolved, "half done").await.unwrap();
    arbiter.resolve_escrow(resolved, EscrowResolution::Split { payee_bps: 5_000 }).await.unwrap();
    let (expired, _) = payer.lock_escrow(EscrowLock { timeout_ms: 1_000, ..terms(40_000) }).await.unwrap();
    // Named arbiter: without one a dispute goes to a jury, which would sit through the restart.
    let (disputed, _) =
        payer.lock_escrow(EscrowLock { arbiter: Some(id("risk-arbiter")), ..terms(50_000) }).await.unwrap();
    payee.dispute_escrow(disputed, "unpaid").await.unwrap();
    let task = EscrowLock { task_id: Some("task-7".to_owned()), ..terms(60_000) };
    let (open, _) = payer.lock_escrow(task.clone()).await.unwrap();
    clock.advance_ms(2_000);
    poll_until("the escrow to expire", || async {
        (server.operator.escrow(expired).await.unwrap().state == EscrowState::Expired).then_some(())
    })
    .await;
    // The expiry's tick made a checkpoint due: observe after it lands, not before.
    server.settled().await;

    let before = observe(&server).await;
    let states: Vec<EscrowState> = before.books.escrows.iter().map(|escrow| escrow.state).collect();
    use EscrowState::*;
    assert_eq!(states, [Released, Refunded, Resolved, Expired, Disputed, Locked]);
    assert_eq!(
        before.books.escrows.iter().map(|escrow| escrow.id).collect::<Vec<_>>(),
        [released, refunded, resolved, expired, disputed, open]
    );
    let ledger = &before.books.ledger;
    assert_eq!((ledger.supply, ledger.escrow_held, ledger.open_escrows), (1_043_000, 110_000, 2));
    // The release's 1,000 fee less 150 referral; the split's 150 fee less 22 referral.
    assert_eq!(ledger.fees, 850 + 128);
    server.shutdown().await;

    // The same data directory: identical books, wallets, escrows, roll-ups, agents and hash.
    let server = start(settings.clone()).await;
    assert!(!server.report().created);
    let after = observe(&server).await;
    assert_eq!(after, before);
    assert_eq!(server.operator.escrows("payer=treasury-payer&task_id=task-7").await.unwrap().escrows[0].id, open);

    // Idempotency survived: the lock by task id and the transfer id are remembered.
    let payer = server.agent_client("treasury-payer", &payer_key);
    assert_eq!(payer.lock_escrow(task).await.unwrap(), (open, true));
    assert_eq!(
        outcomes(&payer.transfer("t-1", id("orchestrator-p"), amount(10_000)).await.unwrap()),
        [(true, "unchanged".to_owned())]
    );
    expect_problem(
        payer.transfer("t-1", id("orchestrator-p"), amount(1)).await,
        409,
        "transfer_conflict",
        Some("transfer_id"),
    );
    assert_eq!(server.books(&AGENTS).await, before.books);
    // And money keeps moving.
    payer.release_escrow(open, None).await.unwrap();
    let arbiter = server.agent_client("risk-arbiter", &arbiter_key);
    arbiter.resolve_escrow(disputed, EscrowResolution::Refund).await.unwrap();
    let ledger = server.balanced_ledger().await;
    assert_eq!((ledger.escrow_held, ledger.open_escrows), (0, 0));
    let hash_final = server.hash().await;
    server.shutdown().await;

    // The offline audit replays everything (ticks included) and reaches the server's hash.
    // (It ends one entry later, at the stop's checkpoint, which it checked.)
    let report = colony_server::audit::audit_at(directory.path(), Some(hash_final.sequence), |_, _| {})
        .expect("the audit passes");
    assert_eq!(report.probed_state_hash, Some((hash_final.sequence, hash_final.state_hash)));
    assert_eq!(report.sequence, hash_final.sequence + 1);
    assert_eq!(report.agents, 6);
    assert!(report.snapshots_checked >= 1 && report.checkpoints_checked >= 1);
    assert_eq!(report.entries, report.sequence);
    assert!(report.signatures <= report.entries - 2, "the genesis and the expiry tick are unsigned entries");

    // A third start agrees too.
    let server = start(settings).await;
    let hash_third = server.hash().await;
    assert_eq!((hash_third.sequence, hash_third.state_hash), (report.sequence, report.state_hash));
    server.balanced_ledger().await;
    server.shutdown().await;
}
