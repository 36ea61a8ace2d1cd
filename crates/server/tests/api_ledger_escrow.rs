//! Escrow over HTTP, through the Rust client: the full cycle with the exact fee and referral split,
//! idempotent locks by task id, listings, refunds, expiry on the server's own tick, disputes,
//! hashlocks, and the attacks, each refused with a clear problem and no money moved.
//!
//! Every server here runs on a clock that moves only when the test says so.

mod common;

use colony_client::{Client, EscrowLock};
use colony_core::command::LockEscrow;
use colony_core::{Command, EscrowResolution, EscrowState, EventKind, Signer};
use colony_wire::read_auth::token_sha256;
use common::*;

const MINUTE_MS: u64 = 60_000;

fn lock(payee: &str, minor_units: u64) -> EscrowLock {
    EscrowLock::new(id(payee), amount(minor_units)).timeout_ms(MINUTE_MS)
}

fn lock_for_task(payee: &str, minor_units: u64, task_id: &str) -> EscrowLock {
    let description = Some(format!("work on {task_id}"));
    EscrowLock { task_id: Some(task_id.to_owned()), description, ..lock(payee, minor_units) }
}

fn lock_with_arbiter(payee: &str, minor_units: u64, arbiter: &str) -> EscrowLock {
    EscrowLock { arbiter: Some(id(arbiter)), ..lock(payee, minor_units) }
}

/// Locks and returns the new escrow's id.
async fn locked(client: &Client, terms: EscrowLock) -> u64 {
    let (escrow, existing) = client.lock_escrow(terms).await.expect("the lock");
    assert!(!existing, "a new escrow");
    escrow
}

fn done() -> Vec<(bool, String)> {
    vec![(true, "done".to_owned())]
}

/// What an escrow paid out: `(payee, payer, fees, referral)`.
fn payout(escrow: &colony_core::Escrow) -> (u64, u64, u64, u64) {
    (escrow.paid_to_payee.0, escrow.refunded_to_payer.0, escrow.fees.0, escrow.referral.0)
}

fn settled_event(event: &EventKind) -> bool {
    matches!(event, EventKind::EscrowSettled { .. })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_pays_the_payee_net_of_the_fee_and_the_referrer_its_share() {
    let directory = tempfile::tempdir().unwrap();
    let (server, _clock) = start_manual(directory.path()).await;
    server.operator_registers("oracle-ref", "oracle").await;
    server.operator_registers("scout-named", "scout").await;
    // The payee bears the fee, so its registered referrer earns the referral share.
    let (payer, _) = server.operator_registers("treasury-payer", "treasury").await;
    let (plain, _) = server.operator_registers("treasury-plain", "treasury").await;
    let (payee, _) = server.operator_registers_related("executor-payee", "executor", None, Some("oracle-ref")).await;
    server.operator_registers("executor-plain", "executor").await;
    server.fund("mint-1", "treasury-payer", 2_000_000).await;
    server.fund("mint-2", "treasury-plain", 100_000).await;
    let wallets = ["treasury-payer", "treasury-plain", "executor-payee", "executor-plain", "oracle-ref", "scout-named"];
    let from = server.operator.status().await.unwrap().sequence + 1;
    let mut events = server.operator.events(Some(from)).await.unwrap();

    // The lock moves the money from the payer's wallet to escrow holding.
    let (escrow_id, existing) = payer.lock_escrow(lock_for_task("executor-payee", 1_000_000, "task-1")).await.unwrap();
    assert!(!existing);
    let escrow = server.operator.escrow(escrow_id).await.unwrap();
    assert_eq!(
        (escrow.id, escrow.payer.as_str(), escrow.payee.as_str()),
        (escrow_id, "treasury-payer", "executor-payee")
    );
    assert_eq!(
        (escrow.amount, escrow.state, escrow.fee_bps, escrow.referral_bps),
        (amount(1_000_000), EscrowState::Locked, 100, 1_500)
    );
    assert_eq!(escrow.task_id, Some(name("task-1")));
    assert_eq!(escrow.description.as_deref(), Some("work on task-1"));
    assert_eq!((escrow.referrer.as_ref(), escrow.arbiter.as_ref(), escrow.hashlock), (None, None, None));
    assert_eq!(escrow.timeout_at_ms, escrow.created_at_ms + MINUTE_MS);
    assert_eq!((escrow.settled_at_ms, payout(&escrow)), (None, (0, 0, 0, 0)));
    let event = next_event(&mut events).await;
    assert_eq!(
        event.kind,
        EventKind::EscrowLocked {
            escrow: escrow_id,
            payer: id("treasury-payer"),
            payee: id("executor-payee"),
            amount: amount(1_000_000),
            task_id: Some(name("task-1")),
            timeout_at_ms: escrow.timeout_at_ms,
            description: Some("work on task-1".to_owned()),
        }
    );
    let wallet = server.wallet("treasury-payer").await;
    assert_eq!((wallet.balance, wallet.held_in_escrow, wallet.spent_today), (amount(1_000_000), 1_000_000, 1_000_000));
    let ledger = server.balanced_ledger().await;
    assert_eq!((ledger.supply, ledger.escrow_held, ledger.open_escrows), (2_100_000, 1_000_000, 1));

    // The same lock again (a payer restarting after a crash) returns the same escrow, status
    // "existing", and locks nothing more; other terms under the task id are a conflict.
    let before = server.books(&wallets).await;
    let repeated = payer
        .submit_one(Command::LockEscrow(LockEscrow {
            payee: id("executor-payee"),
            amount: amount(1_000_000),
            timeout_ms: MINUTE_MS,
            task_id: Some(name("task-1")),
            arbiter: None,
            hashlock: None,
            referrer: None,
            description: Some("work on task-1".to_owned()),
        }))
        .await
        .unwrap();
    assert_eq!(outcomes(&repeated), [(true, "existing".to_owned())]);
    assert_eq!(repeated.results[0].escrow_id, Some(escrow_id));
    assert_eq!(
        payer.lock_escrow(lock_for_task("executor-payee", 1_000_000, "task-1")).await.unwrap(),
        (escrow_id, true)
    );
    let problem = expect_problem(
        payer.lock_escrow(lock_for_task("executor-payee", 999_999, "task-1")).await,
        409,
        "escrow_task_conflict",
        Some("task_id"),
    );
    assert!(problem.detail.contains(&format!("escrow {escrow_id}")), "{problem}");
    assert_eq!(server.books(&wallets).await, before);
    // The look-up by task finds it; task ids belong to their payer.
    let page = server.operator.escrows("payer=treasury-payer&task_id=task-1").await.unwrap();
    assert_eq!(page.escrows, std::slice::from_ref(&escrow));
    assert_eq!(page.next_after, None);
    assert!(server.operator.escrows("payer=treasury-plain&task_id=task-1").await.unwrap().escrows.is_empty());
    assert!(server.operator.escrows("payer=treasury-payer&task_id=task-2").await.unwrap().escrows.is_empty());

    // Only the payer (or an arbiter, or a holder of a hashlock secret) releases.
    expect_problem(payee.release_escrow(escrow_id, None).await, 403, "unauthorized", None);
    expect_problem(server.operator.release_escrow(escrow_id, None).await, 403, "unauthorized", None);
    assert_eq!(server.books(&wallets).await, before);

    // Released: 1% fee, 15% of it to the payee's registered referrer.
    let released = payer.release_escrow(escrow_id, None).await.unwrap();
    assert_eq!(outcomes(&released), done());
    let escrow = server.operator.escrow(escrow_id).await.unwrap();
    assert_eq!(escrow.state, EscrowState::Released);
    assert_eq!(escrow.settled_at_ms, Some(released.timestamp_ms));
    assert_eq!(payout(&escrow), (990_000, 0, 8_500, 1_500));
    let seen = events_until(&mut events, |event| settled_event(&event.kind)).await;
    assert_eq!(seen.last().unwrap().sequence, released.sequence);
    assert_eq!(
        seen.last().unwrap().kind,
        EventKind::EscrowSettled {
            escrow: escrow_id,
            state: EscrowState::Released,
            by: Some(Signer::Agent(id("treasury-payer"))),
            paid_to_payee: amount(990_000),
            refunded_to_payer: amount(0),
            fees: amount(8_500),
            referral: amount(1_500),
            referrer: Some(id("oracle-ref")),
        }
    );
    let payee_wallet = server.wallet("executor-payee").await;
    assert_eq!(
        (payee_wallet.balance.0, payee_wallet.earned_total, payee_wallet.fees_paid_total),
        (990_000, 990_000, 10_000)
    );
    let referrer_wallet = server.wallet("oracle-ref").await;
    assert_eq!((referrer_wallet.balance.0, referrer_wallet.earned_total), (1_500, 1_500));
    let payer_wallet = server.wallet("treasury-payer").await;
    assert_eq!(
        (payer_wallet.balance.0, payer_wallet.held_in_escrow, payer_wallet.spent_total),
        (1_000_000, 0, 1_000_000)
    );
    let ledger = server.balanced_ledger().await;
    assert_eq!((ledger.fees, ledger.escrow_held, ledger.open_escrows), (8_500, 0, 0));

    // A referrer named on the escrow takes precedence; an amount that does not divide rounds down for
    // the fee, then for the referral (12,345 → fee 123, referral 18).
    let named = EscrowLock { referrer: Some(id("scout-named")), ..lock("executor-payee", 12_345) };
    let escrow_id = locked(&payer, named).await;
    payer.release_escrow(escrow_id, None).await.unwrap();
    assert_eq!(payout(&server.operator.escrow(escrow_id).await.unwrap()), (12_222, 0, 105, 18));
    assert_eq!(server.balance("scout-named").await, 18);
    assert_eq!(server.balance("oracle-ref").await, 1_500, "the registered referrer gets nothing this time");
    // Without any referrer, the whole fee stays with the swarm.
    let escrow_id = locked(&plain, lock("executor-plain", 12_345)).await;
    plain.release_escrow(escrow_id, None).await.unwrap();
    assert_eq!(payout(&server.operator.escrow(escrow_id).await.unwrap()), (12_222, 0, 123, 0));
    let seen = events_until(
        &mut events,
        |event| matches!(event.kind, EventKind::EscrowSettled { escrow, .. } if escrow == escrow_id),
    )
    .await;
    assert!(
        matches!(&seen.last().unwrap().kind, EventKind::EscrowSettled { referrer: None, referral, .. } if referral.0 == 0)
    );
    // A referrer deregistered by the time of the release gets nothing; its share stays a fee.
    let escrow_id = locked(&payer, lock("executor-payee", 10_000)).await;
    server.operator.deregister(id("oracle-ref")).await.unwrap();
    payer.release_escrow(escrow_id, None).await.unwrap();
    assert_eq!(payout(&server.operator.escrow(escrow_id).await.unwrap()), (9_900, 0, 100, 0));
    assert_eq!(server.balance("oracle-ref").await, 1_500);

    assert_eq!(server.balance("executor-payee").await, 990_000 + 12_222 + 9_900);
    assert_eq!(server.balance("executor-plain").await, 12_222);
    let ledger = server.balanced_ledger().await;
    assert_eq!((ledger.supply, ledger.fees, ledger.escrow_held), (2_100_000, 8_500 + 105 + 123 + 100, 0));
    assert_eq!(ledger.wallets_total, 2_100_000 - ledger.fees);
    drop(events);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn escrows_are_listed_by_payer_payee_and_state_one_page_at_a_time() {
    let directory = tempfile::tempdir().unwrap();
    let (server, _clock) = start_manual(directory.path()).await;
    let (alice, _) = server.operator_registers("treasury-alice", "treasury").await;
    let (dave, _) = server.operator_registers("treasury-dave", "treasury").await;
    let (bob, _) = server.operator_registers("executor-bob", "executor").await;
    let (carol, _) = server.operator_registers("executor-carol", "executor").await;
    server.fund("mint-a", "treasury-alice", 100_000).await;
    server.fund("mint-d", "treasury-dave", 100_000).await;
    let mut alices = Vec::new();
    for index in 0..5 {
        alices.push(locked(&alice, lock("executor-bob", 1_000 + index)).await);
    }
    let mut to_carol = Vec::new();
    for index in 0..2 {
        to_carol.push(locked(&alice, lock("executor-carol", 2_000 + index)).await);
    }
    alices.extend(&to_carol);
    let daves = locked(&dave, lock("executor-bob", 3_000)).await;
    assert!(alices.windows(2).all(|pair| pair[0] < pair[1]) && daves > alices[6], "ids increase");

    // The payee refunds: everything back to the payer, no fee. The payer may not refund itself, nor
    // may another payee.
    let wallets = ["treasury-alice", "treasury-dave", "executor-bob", "executor-carol"];
    let before = server.books(&wallets).await;
    expect_problem(alice.refund_escrow(alices[2]).await, 403, "unauthorized", None);
    expect_problem(carol.refund_escrow(alices[1]).await, 403, "unauthorized", None);
    assert_eq!(server.books(&wallets).await, before);
    let alice_before = server.wallet("treasury-alice").await;
    assert_eq!(outcomes(&bob.refund_escrow(alices[1]).await.unwrap()), done());
    let refunded = server.operator.escrow(alices[1]).await.unwrap();
    assert_eq!((refunded.state, payout(&refunded)), (EscrowState::Refunded, (0, 1_001, 0, 0)));
    let alice_after = server.wallet("treasury-alice").await;
    assert_eq!(alice_after.balance.0, alice_before.balance.0 + 1_001);
    assert_eq!(alice_after.held_in_escrow, alice_before.held_in_escrow - 1_001);
    assert_eq!(alice_after.spent_total, 0, "a refund is not spending");
    assert_eq!(server.balance("executor-bob").await, 0);
    alice.release_escrow(alices[0], None).await.unwrap();

    // By payer, two at a time: four pages, the last without a continuation.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let query = match after {
            Some(after) => format!("payer=treasury-alice&limit=2&after={after}"),
            None => "payer=treasury-alice&limit=2".to_owned(),
        };
        let page = server.operator.escrows(&query).await.unwrap();
        assert!(page.escrows.iter().all(|escrow| escrow.payer == id("treasury-alice")));
        pages.push(page.escrows.iter().map(|escrow| escrow.id).collect::<Vec<_>>());
        match page.next_after {
            Some(next) => {
                assert_eq!(Some(next), page.escrows.last().map(|escrow| escrow.id));
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2, 1]);
    assert_eq!(pages.concat(), alices);
    let exact = server.operator.escrows("payer=treasury-alice&limit=7").await.unwrap();
    assert_eq!((exact.escrows.len(), exact.next_after), (7, None), "a full last page has no continuation");

    let ids =
        |page: colony_wire::views::EscrowPage| page.escrows.into_iter().map(|escrow| escrow.id).collect::<Vec<_>>();
    let to_bob: Vec<u64> = alices[..5].iter().copied().chain([daves]).collect();
    assert_eq!(ids(server.operator.escrows("payee=executor-bob").await.unwrap()), to_bob);
    assert_eq!(ids(server.operator.escrows("payee=executor-bob&payer=treasury-dave").await.unwrap()), [daves]);
    assert_eq!(ids(server.operator.escrows("state=released").await.unwrap()), [alices[0]]);
    assert_eq!(ids(server.operator.escrows("state=refunded&payee=executor-bob").await.unwrap()), [alices[1]]);
    let open: Vec<u64> = alices[2..].iter().copied().chain([daves]).collect();
    assert_eq!(ids(server.operator.escrows("state=locked").await.unwrap()), open);
    assert!(server.operator.escrows("state=disputed").await.unwrap().escrows.is_empty());
    let first = server.operator.escrows("state=locked&payee=executor-carol&limit=1").await.unwrap();
    assert_eq!((ids(first.clone()), first.next_after), (vec![to_carol[0]], Some(to_carol[0])));
    let second = server
        .operator
        .escrows(&format!("state=locked&payee=executor-carol&limit=1&after={}", to_carol[0]))
        .await
        .unwrap();
    assert_eq!((ids(second.clone()), second.next_after), (vec![to_carol[1]], None));
    // Any agent may read the escrows, with a signed read.
    assert_eq!(ids(dave.escrows("payer=treasury-dave").await.unwrap()), [daves]);

    // Bad queries name their parameter.
    for (query, field) in [
        ("state=bogus", "state"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("payer=Bad%20Id", "payer"),
        ("payee=a%2Fb", "payee"),
        ("colour=red", "query"),
        ("after=minus-one", "query"),
    ] {
        expect_problem(server.operator.escrows(query).await, 400, "invalid_query", Some(field));
    }
    let raw = server.signed_get_raw(&server.operator, "/v1/escrows/abc").await;
    raw.expect_problem(400, "invalid_query", Some("id"));
    expect_problem(server.operator.escrow(999_999).await, 404, "escrow_not_found", Some("escrow"));
    server.get_raw("/v1/escrows", None).await.expect_problem(401, "unauthenticated", None);
    server.balanced_ledger().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_escrow_expires_on_the_servers_tick_and_refunds_the_payer() {
    let directory = tempfile::tempdir().unwrap();
    let (server, clock) = start_manual(directory.path()).await;
    let (payer, _) = server.operator_registers("treasury-payer", "treasury").await;
    let (payee, _) = server.operator_registers("executor-payee", "executor").await;
    server.operator_registers("risk-arbiter", "risk").await;
    server.fund("mint-1", "treasury-payer", 10_000).await;
    let short = EscrowLock { timeout_ms: 1_000, ..lock("executor-payee", 1_000) };
    let expiring = locked(&payer, short.clone()).await;
    // With an arbiter, so that the dispute freezes it (without one, and no other agent to sit on a
    // jury, it would be refunded at once).
    let arbitrated = lock_with_arbiter("executor-payee", 2_000, "risk-arbiter");
    let disputed = locked(&payer, EscrowLock { timeout_ms: 1_000, ..arbitrated }).await;
    payee.dispute_escrow(disputed, "the timeout must not settle this").await.unwrap();
    let long = locked(&payer, lock("executor-payee", 3_000)).await;
    // Timeouts outside the allowed range are refused.
    for timeout_ms in [0, 999, 90 * 24 * 3_600 * 1_000 + 1] {
        let terms = EscrowLock { timeout_ms, ..lock("executor-payee", 1) };
        expect_problem(payer.lock_escrow(terms).await, 422, "invalid_field", Some("timeout_ms"));
    }
    let deadline = server.operator.escrow(expiring).await.unwrap().timeout_at_ms;
    let status = server.operator.status().await.unwrap();
    let mut events = server.operator.events(Some(status.sequence + 1)).await.unwrap();

    // At the deadline itself nothing happens; once time is past it the server's tick expires it.
    clock.advance_ms(1_000);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.operator.escrow(expiring).await.unwrap().state, EscrowState::Locked);
    // Nothing is due; only the operator's checkpoint over the writes above may have followed them (a
    // second of clock time after the first), and it changes nothing.
    let quiet = server.operator.status().await.unwrap().sequence;
    if quiet != status.sequence {
        assert_eq!(quiet, status.sequence + 1);
        assert_eq!(server.operator.log_checkpoint().await.unwrap().record_sequence, quiet);
    }
    clock.advance_ms(500);
    let escrow = poll_until("the escrow to expire", || async {
        let escrow = server.operator.escrow(expiring).await.unwrap();
        (escrow.state == EscrowState::Expired).then_some(escrow)
    })
    .await;
    assert_eq!(payout(&escrow), (0, 1_000, 0, 0));
    assert!(escrow.settled_at_ms.unwrap() > deadline);
    let event = next_event(&mut events).await;
    assert_eq!(
        event.kind,
        EventKind::EscrowSettled {
            escrow: expiring,
            state: EscrowState::Expired,
            by: None,
            paid_to_payee: amount(0),
            refunded_to_payer: amount(1_000),
            fees: amount(0),
            referral: amount(0),
            referrer: None,
        }
    );
    // Nobody wrote: the expiry is the server's own tick entry.
    let after = server.operator.status().await.unwrap();
    assert_eq!((event.sequence, after.sequence), (quiet + 1, quiet + 1));
    assert_eq!(
        server.operator.escrow(disputed).await.unwrap().state,
        EscrowState::Disputed,
        "a dispute stops the timeout"
    );
    assert_eq!(server.operator.escrow(long).await.unwrap().state, EscrowState::Locked);
    let wallet = server.wallet("treasury-payer").await;
    assert_eq!((wallet.balance.0, wallet.held_in_escrow), (5_000, 5_000));
    assert_eq!(server.balance("executor-payee").await, 0);
    let ledger = server.balanced_ledger().await;
    assert_eq!((ledger.escrow_held, ledger.open_escrows), (5_000, 2));

    // An expired escrow is settled: no release, refund or dispute; the same task id is not reused
    // here (the lock had none), and a new lock works as usual.
    let wallets = ["treasury-payer", "executor-payee"];
    let before = server.books(&wallets).await;
    let problem = expect_problem(payer.release_escrow(expiring, None).await, 409, "escrow_state", Some("escrow"));
    assert!(problem.detail.contains("is expired"), "{problem}");
    expect_problem(payee.refund_escrow(expiring).await, 409, "escrow_state", Some("escrow"));
    expect_problem(payee.dispute_escrow(expiring, "too late").await, 409, "escrow_state", Some("escrow"));
    assert_eq!(server.books(&wallets).await, before);
    drop(events);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dispute_freezes_the_escrow_until_its_arbiter_or_else_a_jury_settles_it() {
    let directory = tempfile::tempdir().unwrap();
    let (server, _clock) = start_manual(directory.path()).await;
    server.operator_registers("oracle-ref", "oracle").await;
    let (payer, _) = server.operator_registers("treasury-payer", "treasury").await;
    let (payee, _) = server.operator_registers_related("executor-payee", "executor", None, Some("oracle-ref")).await;
    let (arbiter, _) = server.operator_registers("risk-arbiter", "risk").await;
    let (stranger, _) = server.operator_registers("scout-stranger", "scout").await;
    server.fund("mint-1", "treasury-payer", 100_000).await;
    let wallets = ["treasury-payer", "executor-payee", "risk-arbiter", "scout-stranger", "oracle-ref"];
    let split = |payee_bps| EscrowResolution::Split { payee_bps };

    // With an arbiter: the payee disputes; nobody else may.
    let first = locked(&payer, lock_with_arbiter("executor-payee", 10_000, "risk-arbiter")).await;
    let from = server.operator.status().await.unwrap().sequence + 1;
    let mut events = server.operator.events(Some(from)).await.unwrap();
    expect_problem(stranger.dispute_escrow(first, "me too").await, 403, "unauthorized", None);
    expect_problem(arbiter.dispute_escrow(first, "me too").await, 403, "unauthorized", None);
    let disputed = payee.dispute_escrow(first, "the work was delivered").await.unwrap();
    assert_eq!(outcomes(&disputed), done());
    let escrow = server.operator.escrow(first).await.unwrap();
    assert_eq!(escrow.state, EscrowState::Disputed);
    assert_eq!(escrow.dispute, Some((id("executor-payee"), "the work was delivered".to_owned())));
    let event = next_event(&mut events).await;
    assert_eq!(
        (event.sequence, event.kind),
        (
            disputed.sequence,
            EventKind::EscrowDisputed {
                escrow: first,
                by: id("executor-payee"),
                reason: "the work was delivered".to_owned()
            }
        )
    );

    // Frozen: no release, refund or second dispute; only the arbiter resolves, and only sensibly.
    let before = server.books(&wallets).await;
    let problem = expect_problem(payer.release_escrow(first, None).await, 409, "escrow_state", Some("escrow"));
    assert!(problem.detail.contains("is disputed; it cannot release"), "{problem}");
    expect_problem(arbiter.release_escrow(first, None).await, 409, "escrow_state", Some("escrow"));
    expect_problem(payee.refund_escrow(first).await, 409, "escrow_state", Some("escrow"));
    expect_problem(payer.dispute_escrow(first, "again").await, 409, "escrow_state", Some("escrow"));
    expect_problem(server.operator.resolve_escrow(first, EscrowResolution::Release).await, 403, "unauthorized", None);
    expect_problem(payee.resolve_escrow(first, EscrowResolution::Release).await, 403, "unauthorized", None);
    expect_problem(payer.resolve_escrow(first, EscrowResolution::Refund).await, 403, "unauthorized", None);
    expect_problem(arbiter.resolve_escrow(first, split(10_001)).await, 422, "invalid_field", Some("resolution"));
    assert_eq!(server.books(&wallets).await, before);

    // A split: the payee's quarter net of the fee (25, of which 3 to the referrer), the rest back.
    let resolved = arbiter.resolve_escrow(first, split(2_500)).await.unwrap();
    assert_eq!(outcomes(&resolved), done());
    let escrow = server.operator.escrow(first).await.unwrap();
    assert_eq!((escrow.state, payout(&escrow)), (EscrowState::Resolved, (2_475, 7_500, 22, 3)));
    let event = next_event(&mut events).await;
    assert_eq!(
        event.kind,
        EventKind::EscrowSettled {
            escrow: first,
            state: EscrowState::Resolved,
            by: Some(Signer::Agent(id("risk-arbiter"))),
            paid_to_payee: amount(2_475),
            refunded_to_payer: amount(7_500),
            fees: amount(22),
            referral: amount(3),
            referrer: Some(id("oracle-ref")),
        }
    );
    expect_problem(arbiter.resolve_escrow(first, EscrowResolution::Refund).await, 409, "escrow_state", Some("escrow"));
    assert_eq!(server.balance("risk-arbiter").await, 0, "the arbiter is paid nothing");

    // Without an arbiter a dispute goes to a jury of the other agents, whose close (a day away)
    // settles it: nobody resolves it meanwhile, the operator included.
    let second = locked(&payer, lock("executor-payee", 10_000)).await;
    let third = locked(&payer, lock("executor-payee", 10_000)).await;
    expect_problem(
        server.operator.resolve_escrow(second, EscrowResolution::Refund).await,
        409,
        "escrow_state",
        Some("escrow"),
    );
    payer.dispute_escrow(second, "nothing was delivered").await.unwrap();
    payee.dispute_escrow(third, "the payer will not release").await.unwrap();
    for resolver in [&arbiter, &payer] {
        let refused = resolver.resolve_escrow(second, EscrowResolution::Refund).await;
        expect_problem(refused, 409, "escrow_under_jury", Some("escrow"));
    }
    for escrow in [second, third] {
        expect_problem(
            server.operator.resolve_escrow(escrow, EscrowResolution::Refund).await,
            409,
            "escrow_under_jury",
            Some("escrow"),
        );
        let view = server.operator.escrow(escrow).await.unwrap();
        assert_eq!((view.state, view.jury.is_some()), (EscrowState::Disputed, true), "{view:?}");
    }

    // An arbiter may also release or refund a locked escrow directly.
    let fourth = locked(&payer, lock_with_arbiter("executor-payee", 1_000, "risk-arbiter")).await;
    let fifth = locked(&payer, lock_with_arbiter("executor-payee", 1_000, "risk-arbiter")).await;
    arbiter.release_escrow(fourth, None).await.unwrap();
    arbiter.refund_escrow(fifth).await.unwrap();
    assert_eq!(server.operator.escrow(fourth).await.unwrap().state, EscrowState::Released);
    assert_eq!(payout(&server.operator.escrow(fourth).await.unwrap()), (990, 0, 9, 1));
    assert_eq!(payout(&server.operator.escrow(fifth).await.unwrap()), (0, 1_000, 0, 0));

    // A halted arbiter still resolves its disputes: nobody else may, and a disputed escrow never
    // times out, so refusing it would strand the funds.
    let sixth = locked(&payer, lock_with_arbiter("executor-payee", 3_000, "risk-arbiter")).await;
    payer.dispute_escrow(sixth, "late").await.unwrap();
    server.operator.halt(id("risk-arbiter"), "on leave").await.unwrap();
    expect_problem(arbiter.lock_escrow(lock("executor-payee", 1)).await, 403, "agent_halted", None);
    assert_eq!(outcomes(&arbiter.resolve_escrow(sixth, EscrowResolution::Refund).await.unwrap()), done());
    assert_eq!(payout(&server.operator.escrow(sixth).await.unwrap()), (0, 3_000, 0, 0));

    assert_eq!(server.balance("executor-payee").await, 2_475 + 990);
    assert_eq!(server.balance("oracle-ref").await, 3 + 1);
    assert_eq!(server.balance("treasury-payer").await, 100_000 - 2_500 - 20_000 - 1_000);
    let ledger = server.balanced_ledger().await;
    assert_eq!(
        (ledger.fees, ledger.escrow_held, ledger.open_escrows),
        (22 + 9, 20_000, 2),
        "two escrows before juries"
    );
    drop(events);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hashlock_lets_whoever_holds_the_secret_release() {
    let directory = tempfile::tempdir().unwrap();
    let (server, _clock) = start_manual(directory.path()).await;
    let (payer, _) = server.operator_registers("treasury-payer", "treasury").await;
    let (payee, _) = server.operator_registers("executor-payee", "executor").await;
    let (courier, _) = server.operator_registers("scout-courier", "scout").await;
    server.fund("mint-1", "treasury-payer", 50_000).await;
    let secret = "the parcel arrived at 12:04";
    let terms = EscrowLock { hashlock: Some(token_sha256(secret)), ..lock("executor-payee", 20_000) };
    let escrow_id = locked(&payer, terms).await;
    assert_eq!(server.operator.escrow(escrow_id).await.unwrap().hashlock, Some(token_sha256(secret)));
    let plain_id = locked(&payer, lock("executor-payee", 20_000)).await;

    // A wrong secret, no secret, or a secret for an escrow without a hashlock: refused.
    let wallets = ["treasury-payer", "executor-payee", "scout-courier"];
    let before = server.books(&wallets).await;
    let problem = expect_problem(
        courier.release_escrow(escrow_id, Some("the parcel arrived at 12:05".to_owned())).await,
        409,
        "hashlock_mismatch",
        Some("preimage"),
    );
    assert!(problem.detail.contains(&escrow_id.to_string()), "{problem}");
    expect_problem(
        payee.release_escrow(escrow_id, Some(String::new())).await,
        409,
        "hashlock_mismatch",
        Some("preimage"),
    );
    expect_problem(courier.release_escrow(escrow_id, None).await, 403, "unauthorized", None);
    expect_problem(courier.release_escrow(plain_id, Some(secret.to_owned())).await, 403, "unauthorized", None);
    assert_eq!(server.books(&wallets).await, before);

    // A third agent holding the secret releases; the payee is paid, the courier gets nothing.
    let from = server.operator.status().await.unwrap().sequence + 1;
    let mut events = server.operator.events(Some(from)).await.unwrap();
    assert_eq!(outcomes(&courier.release_escrow(escrow_id, Some(secret.to_owned())).await.unwrap()), done());
    let escrow = server.operator.escrow(escrow_id).await.unwrap();
    assert_eq!((escrow.state, payout(&escrow)), (EscrowState::Released, (19_800, 0, 200, 0)));
    let event = next_event(&mut events).await;
    assert!(
        matches!(&event.kind, EventKind::EscrowSettled { escrow, by: Some(Signer::Agent(by)), .. }
            if *escrow == escrow_id && by == &id("scout-courier")),
        "{event:?}"
    );
    assert_eq!(
        (
            server.balance("executor-payee").await,
            server.balance("scout-courier").await,
            server.balance("treasury-payer").await
        ),
        (19_800, 0, 10_000)
    );
    // The secret does not release twice.
    expect_problem(
        courier.release_escrow(escrow_id, Some(secret.to_owned())).await,
        409,
        "escrow_state",
        Some("escrow"),
    );
    drop(events);
    server.balanced_ledger().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn attacks_on_escrows_are_refused_and_move_no_money() {
    let directory = tempfile::tempdir().unwrap();
    let (server, _clock) = start_manual(directory.path()).await;
    let (payer, _) = server.operator_registers("treasury-payer", "treasury").await;
    let (payee, _) = server.operator_registers("executor-payee", "executor").await;
    let (thief, _) = server.operator_registers("scout-thief", "scout").await;
    server.operator_registers("scout-gone", "scout").await;
    server.operator.deregister(id("scout-gone")).await.unwrap();
    server.fund("mint-1", "treasury-payer", 10_000).await;
    let wallets = ["treasury-payer", "executor-payee", "scout-thief"];

    // Bad locks: overdraft, nothing, more than exists, to oneself, to nobody, odd arbiters and
    // referrers, and the operator (which has no wallet).
    let before = server.books(&wallets).await;
    let problem = expect_problem(
        payer.lock_escrow(lock("executor-payee", 10_001)).await,
        409,
        "insufficient_funds",
        Some("amount"),
    );
    assert!(problem.detail.contains("10000 available, 10001 requested"), "{problem}");
    expect_problem(payer.lock_escrow(lock("executor-payee", 0)).await, 422, "invalid_field", Some("amount"));
    expect_problem(
        payer.lock_escrow(lock("executor-payee", u64::MAX)).await,
        409,
        "insufficient_funds",
        Some("amount"),
    );
    expect_problem(payer.lock_escrow(lock("treasury-payer", 1)).await, 422, "invalid_field", Some("payee"));
    expect_problem(payer.lock_escrow(lock("nobody", 1)).await, 404, "agent_not_found", None);
    expect_problem(payer.lock_escrow(lock("scout-gone", 1)).await, 422, "invalid_field", Some("payee"));
    for arbiter in ["executor-payee", "treasury-payer"] {
        expect_problem(
            payer.lock_escrow(lock_with_arbiter("executor-payee", 1, arbiter)).await,
            422,
            "invalid_field",
            Some("arbiter"),
        );
    }
    expect_problem(
        payer.lock_escrow(lock_with_arbiter("executor-payee", 1, "scout-gone")).await,
        422,
        "invalid_field",
        Some("arbiter"),
    );
    let referred = EscrowLock { referrer: Some(id("scout-gone")), ..lock("executor-payee", 1) };
    expect_problem(payer.lock_escrow(referred).await, 422, "invalid_field", Some("referrer"));
    expect_problem(server.operator.lock_escrow(lock("executor-payee", 1)).await, 403, "unauthorized", None);
    assert_eq!(server.books(&wallets).await, before);

    // Someone else's escrow: nobody but the payer (or arbiter, or secret holder) releases it, nobody
    // but the payee (or arbiter) refunds it, nobody but the parties disputes it.
    let target = locked(&payer, lock("executor-payee", 4_000)).await;
    let before = server.books(&wallets).await;
    expect_problem(thief.release_escrow(target, None).await, 403, "unauthorized", None);
    expect_problem(thief.release_escrow(target, Some("guess".to_owned())).await, 403, "unauthorized", None);
    expect_problem(payee.release_escrow(target, None).await, 403, "unauthorized", None);
    expect_problem(server.operator.release_escrow(target, None).await, 403, "unauthorized", None);
    expect_problem(thief.refund_escrow(target).await, 403, "unauthorized", None);
    expect_problem(payer.refund_escrow(target).await, 403, "unauthorized", None);
    expect_problem(server.operator.refund_escrow(target).await, 403, "unauthorized", None);
    expect_problem(thief.dispute_escrow(target, "mine").await, 403, "unauthorized", None);
    expect_problem(thief.resolve_escrow(target, EscrowResolution::Release).await, 409, "escrow_state", Some("escrow"));
    expect_problem(thief.release_escrow(target + 1_000, None).await, 404, "escrow_not_found", Some("escrow"));
    assert_eq!(server.books(&wallets).await, before);

    // Settled escrows stay settled: no double release, no refund or dispute after a release, no
    // release after a refund.
    payer.release_escrow(target, None).await.unwrap();
    let refunded = locked(&payer, lock("executor-payee", 1_000)).await;
    payee.refund_escrow(refunded).await.unwrap();
    let before = server.books(&wallets).await;
    let problem = expect_problem(payer.release_escrow(target, None).await, 409, "escrow_state", Some("escrow"));
    assert!(problem.detail.contains(&format!("escrow {target} is released; it cannot release")), "{problem}");
    expect_problem(payee.refund_escrow(target).await, 409, "escrow_state", Some("escrow"));
    expect_problem(payer.dispute_escrow(target, "changed my mind").await, 409, "escrow_state", Some("escrow"));
    expect_problem(payee.dispute_escrow(target, "want more").await, 409, "escrow_state", Some("escrow"));
    let problem = expect_problem(payer.release_escrow(refunded, None).await, 409, "escrow_state", Some("escrow"));
    assert!(problem.detail.contains("is refunded"), "{problem}");
    expect_problem(payee.refund_escrow(refunded).await, 409, "escrow_state", Some("escrow"));
    assert_eq!(server.books(&wallets).await, before);
    assert_eq!(server.balance("executor-payee").await, 3_960);

    // A halted agent locks nothing new, but its open escrows still settle both ways, so a halt never
    // strands funds.
    let open = locked(&payer, lock("executor-payee", 2_000)).await;
    let to_refund = locked(&payer, lock("executor-payee", 500)).await;
    server.operator.halt(id("treasury-payer"), "investigation").await.unwrap();
    server.operator.halt(id("executor-payee"), "investigation").await.unwrap();
    let before = server.books(&wallets).await;
    expect_problem(payer.lock_escrow(lock("executor-payee", 1)).await, 403, "agent_halted", None);
    expect_problem(payer.transfer("t-1", id("executor-payee"), amount(1)).await, 403, "agent_halted", None);
    expect_problem(payee.lock_escrow(lock("treasury-payer", 1)).await, 403, "agent_halted", None);
    assert_eq!(server.books(&wallets).await, before);
    assert_eq!(outcomes(&payer.release_escrow(open, None).await.unwrap()), done());
    assert_eq!(outcomes(&payee.refund_escrow(to_refund).await.unwrap()), done());
    assert_eq!(server.operator.escrow(open).await.unwrap().state, EscrowState::Released);
    assert_eq!(server.operator.escrow(to_refund).await.unwrap().state, EscrowState::Refunded);
    assert_eq!(server.balance("executor-payee").await, 3_960 + 1_980, "a halted payee is still paid");
    assert_eq!(server.balance("treasury-payer").await, 10_000 - 4_000 - 2_000);
    assert_eq!(server.balance("scout-thief").await, 0);
    let ledger = server.balanced_ledger().await;
    assert_eq!((ledger.supply, ledger.fees, ledger.escrow_held, ledger.open_escrows), (10_000, 60, 0, 0));
    server.shutdown().await;
}
