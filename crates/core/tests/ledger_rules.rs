//! The ledger's rules, command by command: who may move money, what each movement changes, which
//! events it emits, and how it is refused. Every refusal is checked to leave the ledger exactly as it
//! was while still taking its place in the log.

mod support;

use colony_core::LedgerRejection;
use colony_core::command::SetConfig;
use colony_core::ledger::LEDGER_DAY_MS;
use colony_core::limits;
use colony_core::{
    Accepted, AccountId, Amount, Command, EntryOutcome, EscrowResolution, EscrowState, EventKind, ReferralFrom,
    Rejection, Signer, TransferKind, TransferRequest,
};
use support::commands::{
    Lock, Register, configure_wallet, deregister, dispute, extend, halt, heartbeat, lock, mint, refund, release,
    release_with_preimage, resolve, resolve_split, resume, sweep, transfer, transfer_batch, transfer_request, withdraw,
};
use support::{OutcomeExt, Simulator, agent_id, hashlock_for, name};

/// Who signs, in the helpers below: an agent id, or this for the operator.
const OPERATOR: &str = "operator";

fn agent(text: &str) -> Signer {
    Signer::Agent(agent_id(text))
}

fn wallet(text: &str) -> AccountId {
    AccountId::Wallet(agent_id(text))
}

/// Applies `commands` from `who` (an agent id or [`OPERATOR`]).
#[track_caller]
fn send(swarm: &mut Simulator, who: &str, commands: Vec<Command>) -> EntryOutcome {
    if who == OPERATOR { swarm.operator(commands) } else { swarm.agent(who, commands) }
}

/// Applies one command from `who` and asserts that it was accepted.
#[track_caller]
fn ok(swarm: &mut Simulator, who: &str, command: Command) -> EntryOutcome {
    let outcome = send(swarm, who, vec![command]);
    assert!(outcome.single().is_ok(), "expected acceptance: {outcome:?}");
    outcome
}

/// Applies one command from `who` and asserts that it was refused with `code`, that it changed nothing
/// in the ledger (nor any agent's halts) and emitted nothing but liveness expiries, and that the entry
/// still took its place in the log. Returns the rejection for closer inspection.
#[track_caller]
fn refused(swarm: &mut Simulator, who: &str, command: Command, code: &str) -> Rejection {
    let ledger = swarm.ledger().clone();
    let halts: Vec<_> =
        swarm.state().registry().iter().map(|agent| (agent.halt.clone(), agent.budget_halted)).collect();
    let sequence = swarm.state().sequence();
    let outcome = send(swarm, who, vec![command]);
    let rejection = outcome.single_rejection().clone();
    assert_eq!(rejection.code(), code, "refused for another reason: {rejection}");
    assert_eq!(swarm.ledger(), &ledger, "a refused command changed the ledger ({rejection})");
    let halts_after: Vec<_> =
        swarm.state().registry().iter().map(|agent| (agent.halt.clone(), agent.budget_halted)).collect();
    assert_eq!(halts_after, halts, "a refused command changed a halt ({rejection})");
    assert!(
        outcome.events.iter().all(|event| matches!(event.kind, EventKind::AgentUnresponsive { .. })),
        "a refused command emitted {:?}",
        outcome.events
    );
    assert_eq!(swarm.state().sequence(), sequence + 1, "the refused entry is still in the log");
    rejection
}

/// A swarm with `payer` (holding `funds`), `payee`, `arbiter`, `stranger` and `referrer`, all scouts.
fn swarm_with(funds: u64) -> Simulator {
    let mut swarm = Simulator::new();
    swarm.register_all(&["payer", "payee", "arbiter", "stranger", "referrer"], "scout");
    if funds > 0 {
        swarm.fund("payer", funds);
    }
    swarm
}

/// A swarm where `parent` (holding 10,000) registered `child` (holding 10,000), plus `member` and
/// `stranger`.
fn family() -> Simulator {
    let mut swarm = Simulator::new();
    swarm.register_all(&["parent", "member", "stranger"], "scout");
    let outcome = swarm.agent("parent", vec![Register::new("child", "scout").parent("parent").into()]);
    assert!(outcome.all_accepted(), "{outcome:?}");
    swarm.fund("parent", 10_000);
    swarm.fund("child", 10_000);
    swarm
}

/// The escrow settlement event of an outcome (exactly one expected).
#[track_caller]
fn settlement(outcome: &EntryOutcome) -> &EventKind {
    let settled: Vec<&EventKind> =
        outcome.event_kinds().into_iter().filter(|kind| matches!(kind, EventKind::EscrowSettled { .. })).collect();
    assert_eq!(settled.len(), 1, "expected one settlement: {:?}", outcome.events);
    settled[0]
}

/// Every account's balance, to check that money only moved where expected.
fn balances(swarm: &Simulator, agents: &[&str]) -> Vec<i128> {
    let mut balances: Vec<i128> = agents.iter().map(|agent| swarm.account_balance(&wallet(agent))).collect();
    balances.extend([AccountId::Mint, AccountId::Fees, AccountId::EscrowHolding].map(|a| swarm.account_balance(&a)));
    balances
}

// ----- ledger.mint and ledger.withdraw -----

#[test]
fn minting_moves_money_from_the_mint_into_a_wallet() {
    let mut swarm = swarm_with(0);
    let now = swarm.now_ms();
    let outcome = ok(&mut swarm, OPERATOR, mint("m-1", "payer", 1_500_000));
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::TransferPosted {
            transfer_id: name("m-1"),
            from: AccountId::Mint,
            to: wallet("payer"),
            amount: Amount(1_500_000),
            kind: TransferKind::Mint,
        }]
    );
    assert_eq!(swarm.balance("payer"), 1_500_000);
    assert_eq!(swarm.account_balance(&AccountId::Mint), -1_500_000);
    assert_eq!(swarm.ledger().supply(), 1_500_000);
    let record = swarm.ledger().transfer(&Signer::Operator, &name("m-1")).expect("remembered");
    assert_eq!(
        (record.amount, record.kind, record.sequence),
        (Amount(1_500_000), TransferKind::Mint, swarm.state().sequence())
    );
    assert_eq!(outcome.events[0].timestamp_ms, now);
}

#[test]
fn only_the_operator_mints_and_only_into_live_wallets() {
    let mut swarm = swarm_with(0);
    let rejection = refused(&mut swarm, "payer", mint("m-1", "payer", 10), "unauthorized");
    assert_eq!(rejection, Rejection::Unauthorized { reason: "only the operator mints" });
    let rejection = refused(&mut swarm, OPERATOR, mint("m-1", "nobody", 10), "agent_not_found");
    assert_eq!(rejection, Rejection::AgentNotFound { agent: agent_id("nobody") });
    ok(&mut swarm, "stranger", deregister("stranger"));
    let rejection = refused(&mut swarm, OPERATOR, mint("m-2", "stranger", 10), "invalid_field");
    assert_eq!(rejection.field(), Some("to"));
    assert_eq!(swarm.ledger().supply(), 0);
}

#[test]
fn the_money_supply_never_passes_u64_max() {
    let mut swarm = swarm_with(0);
    ok(&mut swarm, OPERATOR, mint("m-1", "payer", u64::MAX - 5));
    let rejection = refused(&mut swarm, OPERATOR, mint("m-2", "payee", 6), "limit_reached");
    assert_eq!(rejection, Rejection::LimitReached { limit: "money_supply", max: u64::MAX });
    // Exactly up to the limit is fine; beyond it, even by one unit, is not.
    ok(&mut swarm, OPERATOR, mint("m-3", "payee", 5));
    assert_eq!(swarm.ledger().supply(), u128::from(u64::MAX));
    assert_eq!(swarm.account_balance(&AccountId::Mint), -i128::from(u64::MAX));
    refused(&mut swarm, OPERATOR, mint("m-4", "payee", 1), "limit_reached");
    refused(&mut swarm, OPERATOR, mint("m-5", "payee", u64::MAX), "limit_reached");
    // Money that leaves makes room again.
    ok(&mut swarm, "payee", withdraw("w-1", 5));
    ok(&mut swarm, OPERATOR, mint("m-6", "stranger", 5));
    assert_eq!((swarm.balance("payer"), swarm.balance("payee"), swarm.balance("stranger")), (u64::MAX - 5, 0, 5));
}

#[test]
fn a_wallet_can_hold_and_move_the_whole_u64_range() {
    let mut swarm = swarm_with(0);
    ok(&mut swarm, OPERATOR, mint("m-1", "payer", u64::MAX));
    ok(&mut swarm, "payer", transfer("t-1", "payee", u64::MAX));
    assert_eq!((swarm.balance("payer"), swarm.balance("payee")), (0, u64::MAX));
    refused(&mut swarm, "payer", transfer("t-2", "payee", 1), "insufficient_funds");
    ok(&mut swarm, "payee", withdraw("w-1", u64::MAX));
    assert_eq!((swarm.balance("payee"), swarm.ledger().supply()), (0, 0));
}

#[test]
fn withdrawals_move_money_out_through_the_mint() {
    let mut swarm = swarm_with(1_000);
    let outcome = ok(&mut swarm, "payer", withdraw("w-1", 400));
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::TransferPosted {
            transfer_id: name("w-1"),
            from: wallet("payer"),
            to: AccountId::Mint,
            amount: Amount(400),
            kind: TransferKind::Withdraw,
        }]
    );
    assert_eq!((swarm.balance("payer"), swarm.ledger().supply()), (600, 600));
    let rejection = refused(&mut swarm, "payer", withdraw("w-2", 601), "insufficient_funds");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::InsufficientFunds { available: Amount(600), requested: Amount(601) })
    );
    let rejection = refused(&mut swarm, OPERATOR, withdraw("w-3", 1), "unauthorized");
    assert_eq!(rejection, Rejection::Unauthorized { reason: "the operator has no wallet" });
}

// ----- ledger.transfer -----

#[test]
fn a_transfer_moves_money_between_wallets() {
    let mut swarm = swarm_with(1_000);
    let outcome = ok(&mut swarm, "payer", transfer("t-1", "payee", 300));
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::TransferPosted {
            transfer_id: name("t-1"),
            from: wallet("payer"),
            to: wallet("payee"),
            amount: Amount(300),
            kind: TransferKind::Transfer,
        }]
    );
    assert_eq!((swarm.balance("payer"), swarm.balance("payee")), (700, 300));
    assert_eq!(swarm.wallet("payer").unwrap().spent_total, 300);
    assert_eq!(swarm.wallet("payee").unwrap().earned_total, 300);
    assert_eq!(swarm.ledger().supply(), 1_000, "a transfer neither creates nor destroys money");
}

#[test]
fn an_overdraft_is_refused_with_insufficient_funds() {
    let mut swarm = swarm_with(1_000);
    let rejection = refused(&mut swarm, "payer", transfer("t-1", "payee", 1_001), "insufficient_funds");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::InsufficientFunds { available: Amount(1_000), requested: Amount(1_001) })
    );
    assert_eq!(rejection.field(), Some("amount"));
    refused(&mut swarm, "payer", Lock::new("payee", 1_001).into(), "insufficient_funds");
    refused(&mut swarm, "payer", withdraw("w-1", u64::MAX), "insufficient_funds");
    // An agent that never held money has nothing to spend.
    let rejection = refused(&mut swarm, "payee", transfer("t-2", "payer", 1), "insufficient_funds");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::InsufficientFunds { available: Amount(0), requested: Amount(1) })
    );
    // The whole balance is fine.
    ok(&mut swarm, "payer", transfer("t-3", "payee", 1_000));
    assert_eq!(swarm.balance("payer"), 0);
}

#[test]
fn a_zero_amount_is_refused_as_an_invalid_amount() {
    let mut swarm = family();
    let zero_amounts: [(&str, Command); 6] = [
        (OPERATOR, mint("z-1", "child", 0)),
        ("parent", transfer("z-2", "member", 0)),
        ("parent", withdraw("z-3", 0)),
        ("parent", sweep("child", "z-4", 0)),
        ("parent", lock("member", 0)),
        ("parent", Lock::new("member", 0).task_id("task").into()),
    ];
    for (who, command) in zero_amounts {
        let rejection = refused(&mut swarm, who, command, "invalid_field");
        assert_eq!(rejection.field(), Some("amount"), "{rejection}");
    }
    // In a batch, the member is named.
    let rejection = refused(
        &mut swarm,
        "parent",
        transfer_batch([transfer_request("z-5", "member", 1), transfer_request("z-6", "member", 0)]),
        "batch_failed",
    );
    let Rejection::Ledger(LedgerRejection::BatchFailed { index: 1, reason }) = rejection else {
        panic!("{rejection:?}")
    };
    assert_eq!(reason.field(), Some("amount"));
}

#[test]
fn transfers_go_only_to_other_live_agents() {
    let mut swarm = swarm_with(1_000);
    let rejection = refused(&mut swarm, "payer", transfer("t-1", "payer", 10), "invalid_field");
    assert_eq!(rejection.field(), Some("to"));
    let rejection = refused(&mut swarm, "payer", transfer("t-2", "nobody", 10), "agent_not_found");
    assert_eq!(rejection, Rejection::AgentNotFound { agent: agent_id("nobody") });
    ok(&mut swarm, OPERATOR, deregister("stranger"));
    let rejection = refused(&mut swarm, "payer", transfer("t-3", "stranger", 10), "invalid_field");
    assert_eq!(rejection.field(), Some("to"));
    let rejection = refused(&mut swarm, OPERATOR, transfer("t-4", "payee", 10), "unauthorized");
    assert_eq!(rejection, Rejection::Unauthorized { reason: "the operator has no wallet; it mints instead" });
    assert_eq!(swarm.balance("payer"), 1_000);
}

#[test]
fn transfer_ids_are_idempotent_per_creator() {
    let mut swarm = swarm_with(1_000);
    ok(&mut swarm, OPERATOR, mint("m-payee", "payee", 1_000));
    ok(&mut swarm, "payer", transfer("t-1", "payee", 100));
    let ledger = swarm.ledger().clone();
    // The same id with the same content is the same transfer: nothing happens again.
    let outcome = send(&mut swarm, "payer", vec![transfer("t-1", "payee", 100)]);
    assert_eq!(outcome.single(), &Ok(Accepted::Unchanged));
    assert!(outcome.events.is_empty());
    assert_eq!(swarm.ledger(), &ledger);
    // The same id with other content is a conflict, whatever differs.
    for conflicting in [transfer("t-1", "payee", 101), transfer("t-1", "stranger", 100), withdraw("t-1", 100)] {
        let rejection = refused(&mut swarm, "payer", conflicting, "transfer_conflict");
        assert_eq!(rejection, Rejection::Ledger(LedgerRejection::TransferConflict { transfer_id: name("t-1") }));
        assert_eq!(rejection.field(), Some("transfer_id"));
    }
    // Ids are per creator: another payer may use the same id.
    ok(&mut swarm, "payee", transfer("t-1", "payer", 100));
    assert_eq!((swarm.balance("payer"), swarm.balance("payee")), (1_000, 1_000));
    // A retry is recognised even when it could no longer be applied.
    ok(&mut swarm, "payer", transfer("t-2", "payee", 1_000));
    let outcome = send(&mut swarm, "payer", vec![transfer("t-1", "payee", 100)]);
    assert_eq!(outcome.single(), &Ok(Accepted::Unchanged));
    // Mints are idempotent the same way.
    let outcome = send(&mut swarm, OPERATOR, vec![mint("m-payee", "payee", 1_000)]);
    assert_eq!(outcome.single(), &Ok(Accepted::Unchanged));
    refused(&mut swarm, OPERATOR, mint("m-payee", "payee", 999), "transfer_conflict");
    assert_eq!(swarm.balance("payee"), 2_000);
}

// ----- ledger.transfer_batch -----

#[test]
fn a_linked_batch_whose_third_transfer_fails_applies_nothing() {
    let mut swarm = swarm_with(1_000);
    let batch = transfer_batch([
        transfer_request("b-1", "payee", 100),
        transfer_request("b-2", "arbiter", 200),
        transfer_request("b-3", "nobody", 300),
        transfer_request("b-4", "stranger", 400),
    ]);
    let rejection = refused(&mut swarm, "payer", batch, "batch_failed");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::BatchFailed {
            index: 2,
            reason: Box::new(Rejection::AgentNotFound { agent: agent_id("nobody") })
        })
    );
    assert_eq!(rejection.field(), Some("transfers"));
    assert!(rejection.to_string().contains("transfer 2 of the linked batch failed"), "{rejection}");
    // Nothing of it is remembered either: the ids of the first two are free for other transfers.
    assert!(swarm.ledger().transfer(&agent("payer"), &name("b-1")).is_none());
    let outcome = send(&mut swarm, "payer", vec![transfer("b-1", "stranger", 50)]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!((swarm.balance("payer"), swarm.balance("payee"), swarm.balance("stranger")), (950, 0, 50));
}

#[test]
fn a_linked_batch_checks_each_transfer_against_what_the_previous_left() {
    let mut swarm = swarm_with(1_000);
    let batch = || transfer_batch([transfer_request("b-1", "payee", 600), transfer_request("b-2", "arbiter", 600)]);
    let rejection = refused(&mut swarm, "payer", batch(), "batch_failed");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::BatchFailed {
            index: 1,
            reason: Box::new(Rejection::Ledger(LedgerRejection::InsufficientFunds {
                available: Amount(400),
                requested: Amount(600)
            })),
        })
    );
    // A batch paying the same wallet twice, and one paying back to the payer, also unwind completely.
    let batch_to_same = transfer_batch([
        transfer_request("c-1", "payee", 100),
        transfer_request("c-2", "payee", 100),
        transfer_request("c-3", "payee", 100),
        transfer_request("c-4", "payer", 1),
    ]);
    let rejection = refused(&mut swarm, "payer", batch_to_same, "batch_failed");
    assert!(matches!(rejection, Rejection::Ledger(LedgerRejection::BatchFailed { index: 3, .. })), "{rejection:?}");
    assert!(swarm.wallet("payee").is_none(), "the payee's wallet was never opened");
}

#[test]
fn a_linked_batch_that_succeeds_applies_every_transfer_and_is_idempotent() {
    let mut swarm = swarm_with(1_000);
    let batch = || {
        transfer_batch([
            transfer_request("b-1", "payee", 100),
            transfer_request("b-2", "arbiter", 200),
            transfer_request("b-3", "stranger", 300),
            transfer_request("b-4", "payee", 400),
        ])
    };
    let outcome = ok(&mut swarm, "payer", batch());
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(outcome.events.len(), 4);
    assert_eq!(
        (swarm.balance("payer"), swarm.balance("payee"), swarm.balance("arbiter"), swarm.balance("stranger")),
        (0, 500, 200, 300)
    );
    let ledger = swarm.ledger().clone();
    let outcome = ok(&mut swarm, "payer", batch());
    assert_eq!(outcome.single(), &Ok(Accepted::Unchanged));
    assert!(outcome.events.is_empty());
    assert_eq!(swarm.ledger(), &ledger);
}

#[test]
fn a_linked_batch_is_neither_empty_nor_too_long() {
    let mut swarm = swarm_with(1_000_000);
    let rejection = refused(&mut swarm, "payer", transfer_batch([]), "invalid_field");
    assert_eq!(rejection.field(), Some("transfers"));
    let too_many = (0..=limits::TRANSFERS_PER_BATCH_MAX)
        .map(|index| transfer_request(&format!("b-{index}"), "payee", 1))
        .collect::<Vec<TransferRequest>>();
    let rejection = refused(&mut swarm, "payer", transfer_batch(too_many.clone()), "limit_reached");
    assert_eq!(
        rejection,
        Rejection::LimitReached { limit: "transfers_per_batch", max: limits::TRANSFERS_PER_BATCH_MAX as u64 }
    );
    ok(&mut swarm, "payer", transfer_batch(too_many[..limits::TRANSFERS_PER_BATCH_MAX].to_vec()));
    assert_eq!(swarm.balance("payee"), limits::TRANSFERS_PER_BATCH_MAX as u64);
}

// ----- wallet.configure and wallet.sweep -----

#[test]
fn only_the_parent_or_the_operator_sets_a_wallet_policy() {
    let mut swarm = family();
    for who in ["stranger", "child", "member"] {
        let rejection = refused(&mut swarm, who, configure_wallet("child").daily_limit(10).into(), "unauthorized");
        assert_eq!(
            rejection,
            Rejection::Unauthorized { reason: "only the agent's parent or the operator sets its wallet policy" }
        );
    }
    let outcome = ok(&mut swarm, "parent", configure_wallet("child").daily_limit(10).no_withdraw(true).into());
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::WalletConfigured {
            agent: agent_id("child"),
            daily_limit: Some(Amount(10)),
            no_withdraw: true,
            frozen: false,
            minimum_balance: None,
        }]
    );
    // Absent fields stay as they are; a cleared one goes.
    ok(&mut swarm, OPERATOR, configure_wallet("child").clear_daily_limit().frozen(true).into());
    let child = swarm.wallet("child").unwrap();
    assert_eq!((child.daily_limit, child.no_withdraw, child.frozen), (None, true, true));
    // Asking for what is already so changes nothing.
    let outcome = send(&mut swarm, "parent", vec![configure_wallet("child").frozen(true).into()]);
    assert_eq!(outcome.single(), &Ok(Accepted::Unchanged));
    assert!(outcome.events.is_empty());
    refused(&mut swarm, OPERATOR, configure_wallet("nobody").frozen(true).into(), "agent_not_found");
    ok(&mut swarm, OPERATOR, deregister("member"));
    refused(&mut swarm, OPERATOR, configure_wallet("member").frozen(true).into(), "agent_deregistered");
}

#[test]
fn a_child_over_its_daily_limit_is_refused_until_the_next_utc_day() {
    let mut swarm = family();
    ok(&mut swarm, "parent", configure_wallet("child").daily_limit(1_000).into());
    ok(&mut swarm, "child", transfer("t-1", "member", 600));
    let rejection = refused(&mut swarm, "child", transfer("t-2", "member", 401), "daily_limit_exceeded");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::DailyLimitExceeded {
            limit: Amount(1_000),
            spent_today: Amount(600),
            requested: Amount(401)
        })
    );
    assert_eq!(rejection.field(), Some("amount"));
    // Withdrawals and escrow locks count against the same allowance.
    refused(&mut swarm, "child", withdraw("w-1", 401), "daily_limit_exceeded");
    refused(&mut swarm, "child", lock("member", 401), "daily_limit_exceeded");
    let escrow = ok(&mut swarm, "child", lock("member", 300)).escrow_id();
    ok(&mut swarm, "child", withdraw("w-2", 100));
    refused(&mut swarm, "child", transfer("t-3", "member", 1), "daily_limit_exceeded");
    // A refund gives the money back but not the allowance.
    ok(&mut swarm, "member", refund(escrow));
    refused(&mut swarm, "child", transfer("t-4", "member", 1), "daily_limit_exceeded");
    // A sweep by the parent is not the child spending.
    ok(&mut swarm, "parent", sweep("child", "s-1", 100));

    // Days are UTC days of log time: one millisecond before midnight the day is still spent, at
    // midnight a new allowance starts.
    let midnight = (swarm.now_ms() / LEDGER_DAY_MS + 1) * LEDGER_DAY_MS;
    swarm.factory().set_now_ms(midnight - 1);
    refused(&mut swarm, "child", transfer("t-5", "member", 1), "daily_limit_exceeded");
    swarm.factory().set_now_ms(midnight);
    ok(&mut swarm, "child", transfer("t-6", "member", 1_000));
    let rejection = refused(&mut swarm, "child", transfer("t-7", "member", 1), "daily_limit_exceeded");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::DailyLimitExceeded {
            limit: Amount(1_000),
            spent_today: Amount(1_000),
            requested: Amount(1)
        })
    );
    // Without a limit, the child spends freely again.
    ok(&mut swarm, "parent", configure_wallet("child").clear_daily_limit().into());
    ok(&mut swarm, "child", transfer("t-8", "member", 5_000));
}

#[test]
fn a_no_withdraw_child_cannot_withdraw_but_still_pays_swarm_members() {
    let mut swarm = family();
    ok(&mut swarm, "parent", configure_wallet("child").no_withdraw(true).into());
    let rejection = refused(&mut swarm, "child", withdraw("w-1", 1), "withdraw_forbidden");
    assert_eq!(rejection, Rejection::Ledger(LedgerRejection::WithdrawForbidden { agent: agent_id("child") }));
    ok(&mut swarm, "child", transfer("t-1", "member", 1_000));
    ok(&mut swarm, "child", lock("member", 1_000));
    assert_eq!(swarm.balance("child"), 8_000);
    assert_eq!(swarm.ledger().supply(), 20_000, "no money left the swarm");
    ok(&mut swarm, "parent", configure_wallet("child").no_withdraw(false).into());
    ok(&mut swarm, "child", withdraw("w-2", 1));
}

#[test]
fn a_frozen_wallet_receives_but_does_not_spend() {
    let mut swarm = family();
    ok(&mut swarm, OPERATOR, configure_wallet("child").frozen(true).into());
    for command in [transfer("t-1", "member", 1), withdraw("w-1", 1), lock("member", 1)] {
        let rejection = refused(&mut swarm, "child", command, "wallet_frozen");
        assert_eq!(rejection, Rejection::Ledger(LedgerRejection::WalletFrozen { agent: agent_id("child") }));
    }
    refused(
        &mut swarm,
        "child",
        transfer_batch([transfer_request("b-1", "member", 1), transfer_request("b-2", "parent", 1)]),
        "batch_failed",
    );
    ok(&mut swarm, "parent", transfer("t-2", "child", 500));
    // A freeze holds the money where it is, for the parent too.
    refused(&mut swarm, "parent", sweep("child", "s-1", 200), "wallet_frozen");
    assert_eq!(swarm.balance("child"), 10_500);
    // What the operator froze, only the operator thaws; the parent cannot lift it to sweep.
    refused(&mut swarm, "parent", configure_wallet("child").frozen(false).into(), "unauthorized");
    refused(&mut swarm, "parent", configure_wallet("child").no_withdraw(false).frozen(false).into(), "unauthorized");
    ok(&mut swarm, "parent", configure_wallet("child").daily_limit(1_000).into());
    ok(&mut swarm, OPERATOR, configure_wallet("child").frozen(false).into());
    ok(&mut swarm, "child", transfer("t-3", "member", 1));
    // A freeze of the parent's own is the parent's to lift.
    ok(&mut swarm, "parent", configure_wallet("child").frozen(true).into());
    refused(&mut swarm, "parent", sweep("child", "s-2", 1), "wallet_frozen");
    ok(&mut swarm, "parent", configure_wallet("child").frozen(false).into());
    ok(&mut swarm, "parent", sweep("child", "s-2", 1));
}

#[test]
fn only_the_parent_sweeps_a_child_and_only_what_it_holds() {
    let mut swarm = family();
    let rejection = refused(&mut swarm, "stranger", sweep("child", "s-1", 10), "unauthorized");
    assert_eq!(rejection, Rejection::Unauthorized { reason: "only the child's parent sweeps its wallet" });
    refused(&mut swarm, "child", sweep("parent", "s-1", 10), "unauthorized");
    refused(&mut swarm, OPERATOR, sweep("child", "s-1", 10), "unauthorized");
    refused(&mut swarm, "parent", sweep("nobody", "s-1", 10), "agent_not_found");
    let rejection = refused(&mut swarm, "parent", sweep("child", "s-1", 10_001), "insufficient_funds");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::InsufficientFunds { available: Amount(10_000), requested: Amount(10_001) })
    );
    let outcome = ok(&mut swarm, "parent", sweep("child", "s-1", 10_000));
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::TransferPosted {
            transfer_id: name("s-1"),
            from: wallet("child"),
            to: wallet("parent"),
            amount: Amount(10_000),
            kind: TransferKind::Sweep,
        }]
    );
    assert_eq!((swarm.balance("child"), swarm.balance("parent")), (0, 20_000));
}

// ----- Budgets -----

#[test]
fn paying_below_the_minimum_balance_halts_the_agent_until_it_is_funded_again() {
    let mut swarm = swarm_with(5_000);
    ok(&mut swarm, OPERATOR, configure_wallet("payer").minimum_balance(1_000).into());
    assert!(!swarm.agent_state("payer").budget_halted);

    let outcome = ok(&mut swarm, "payer", transfer("t-1", "payee", 4_500));
    assert_eq!(
        outcome.event_kinds()[1],
        &EventKind::AgentBudgetHalted {
            agent: agent_id("payer"),
            balance: Amount(500),
            minimum_balance: Amount(1_000)
        }
    );
    assert!(swarm.agent_state("payer").budget_halted);
    assert_eq!(swarm.agent_state("payer").status(), "halted");
    let rejection = refused(&mut swarm, "payer", transfer("t-2", "payee", 1), "agent_halted");
    assert_eq!(rejection, Rejection::AgentHalted { agent: agent_id("payer") });
    refused(&mut swarm, "payer", lock("payee", 1), "agent_halted");
    refused(&mut swarm, "payer", withdraw("w-1", 1), "agent_halted");
    ok(&mut swarm, "payer", heartbeat());

    // Funding up to one unit short changes nothing; reaching the minimum restores the agent.
    let outcome = swarm.fund("payer", 499);
    assert_eq!(outcome.events.len(), 1, "{:?}", outcome.events);
    assert!(swarm.agent_state("payer").budget_halted);
    let outcome = swarm.fund("payer", 1);
    assert_eq!(
        outcome.event_kinds()[1],
        &EventKind::AgentBudgetRestored { agent: agent_id("payer"), balance: Amount(1_000) }
    );
    assert!(!swarm.agent_state("payer").budget_halted);
    ok(&mut swarm, "payer", transfer("t-3", "payee", 1));
    assert!(swarm.agent_state("payer").budget_halted, "back below the minimum");
}

#[test]
fn a_minimum_above_the_balance_halts_at_once_and_clearing_it_restores() {
    let mut swarm = family();
    let outcome = ok(&mut swarm, "parent", configure_wallet("child").minimum_balance(10_001).into());
    assert_eq!(
        outcome.event_kinds()[1],
        &EventKind::AgentBudgetHalted {
            agent: agent_id("child"),
            balance: Amount(10_000),
            minimum_balance: Amount(10_001)
        }
    );
    refused(&mut swarm, "child", transfer("t-1", "member", 1), "agent_halted");
    // Being budget-halted is separate from a parent's halt: resuming does not lift it.
    let outcome = send(&mut swarm, "parent", vec![resume("child")]);
    assert_eq!(outcome.single(), &Ok(Accepted::Unchanged));
    assert!(swarm.agent_state("child").budget_halted);
    let outcome = ok(&mut swarm, "parent", configure_wallet("child").clear_minimum_balance().into());
    assert_eq!(
        outcome.event_kinds()[1],
        &EventKind::AgentBudgetRestored { agent: agent_id("child"), balance: Amount(10_000) }
    );
    ok(&mut swarm, "child", transfer("t-1", "member", 1));
}

#[test]
fn a_halted_agent_cannot_lock_but_its_open_escrows_still_settle() {
    let mut swarm = swarm_with(10_000);
    let escrows: Vec<u64> = (0..4)
        .map(|index| {
            let command =
                if index == 2 { Lock::new("payee", 1_000).arbiter("arbiter").into() } else { lock("payee", 1_000) };
            ok(&mut swarm, "payer", command).escrow_id()
        })
        .collect();
    let expiring = ok(&mut swarm, "payer", Lock::new("payee", 1_000).timeout_ms(5_000).into()).escrow_id();
    assert_eq!(swarm.balance("payer"), 5_000);
    ok(&mut swarm, OPERATOR, configure_wallet("payer").minimum_balance(100_000).into());
    assert!(swarm.agent_state("payer").budget_halted);
    refused(&mut swarm, "payer", lock("payee", 1), "agent_halted");

    // The payer still releases and disputes; the payee still refunds; the timer still runs; the
    // arbiter still resolves.
    ok(&mut swarm, "payer", release(escrows[0]));
    ok(&mut swarm, "payee", refund(escrows[1]));
    ok(&mut swarm, "payer", dispute(escrows[2], "late"));
    ok(&mut swarm, "arbiter", resolve(escrows[2], EscrowResolution::Refund));
    let outcome = swarm.tick_after(5_001);
    assert!(matches!(settlement(&outcome), EventKind::EscrowSettled { state: EscrowState::Expired, .. }));
    assert_eq!(swarm.escrow(expiring).state, EscrowState::Expired);
    assert_eq!(swarm.escrow(escrows[0]).state, EscrowState::Released);
    assert_eq!(swarm.escrow(escrows[1]).state, EscrowState::Refunded);
    assert_eq!(swarm.balance("payer"), 8_000);
    assert!(swarm.agent_state("payer").budget_halted, "still below its minimum");

    // The same holds under an operator's halt.
    ok(&mut swarm, OPERATOR, configure_wallet("payer").clear_minimum_balance().into());
    ok(&mut swarm, OPERATOR, halt("payer", "audit"));
    refused(&mut swarm, "payer", lock("payee", 1), "agent_halted");
    ok(&mut swarm, "payer", release(escrows[3]));
    assert_eq!(swarm.ledger().open_escrows(), 0);
}

// ----- escrow.lock -----

#[test]
fn locking_moves_funds_into_escrow_holding() {
    let mut swarm = swarm_with(10_000);
    let now = swarm.now_ms();
    let described = Lock::new("payee", 4_000).timeout_ms(30_000).task_id("job-1").description("a day of prices");
    let outcome = ok(&mut swarm, "payer", described.into());
    assert_eq!(outcome.single(), &Ok(Accepted::Escrow { escrow_id: 0, existing: false }));
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::EscrowLocked {
            escrow: 0,
            payer: agent_id("payer"),
            payee: agent_id("payee"),
            amount: Amount(4_000),
            task_id: Some(name("job-1")),
            timeout_at_ms: now + 30_000,
            description: Some("a day of prices".to_owned()),
        }]
    );
    assert_eq!(swarm.balance("payer"), 6_000);
    assert_eq!(swarm.account_balance(&AccountId::EscrowHolding), 4_000);
    assert_eq!(swarm.wallet("payer").unwrap().held_as_payer, 4_000);
    let escrow = swarm.escrow(0);
    assert_eq!((escrow.state, escrow.created_at_ms, escrow.timeout_at_ms), (EscrowState::Locked, now, now + 30_000));
    assert_eq!((escrow.fee_bps, escrow.referral_bps), (100, 1_500));
    assert_eq!(swarm.ledger().open_escrows(), 1);
    assert_eq!(swarm.ledger().next_deadline_ms(), Some(now + 30_000));
    assert_eq!(swarm.ledger().escrow_by_task(&agent_id("payer"), &name("job-1")).map(|escrow| escrow.id), Some(0));
    let second = ok(&mut swarm, "payer", lock("payee", 1)).escrow_id();
    assert_eq!(second, 1, "ids increase");
}

#[test]
fn a_lock_needs_a_live_payee_distinct_parties_and_a_timeout_in_range() {
    let mut swarm = swarm_with(10_000);
    ok(&mut swarm, OPERATOR, deregister("stranger"));
    let cases: [(Command, &str, Option<&str>); 10] = [
        (lock("payer", 1), "invalid_field", Some("payee")),
        (lock("nobody", 1), "agent_not_found", None),
        (lock("stranger", 1), "invalid_field", Some("payee")),
        (Lock::new("payee", 1).arbiter("payer").into(), "invalid_field", Some("arbiter")),
        (Lock::new("payee", 1).arbiter("payee").into(), "invalid_field", Some("arbiter")),
        (Lock::new("payee", 1).arbiter("stranger").into(), "invalid_field", Some("arbiter")),
        (Lock::new("payee", 1).referrer("stranger").into(), "invalid_field", Some("referrer")),
        (
            Lock::new("payee", 1).timeout_ms(limits::ESCROW_TIMEOUT_MS_MIN - 1).into(),
            "invalid_field",
            Some("timeout_ms"),
        ),
        (
            Lock::new("payee", 1).timeout_ms(limits::ESCROW_TIMEOUT_MS_MAX + 1).into(),
            "invalid_field",
            Some("timeout_ms"),
        ),
        (Lock::new("payee", 1).timeout_ms(0).into(), "invalid_field", Some("timeout_ms")),
    ];
    for (command, code, field) in cases {
        let rejection = refused(&mut swarm, "payer", command, code);
        assert_eq!(rejection.field(), field, "{rejection}");
    }
    let rejection = refused(&mut swarm, OPERATOR, lock("payee", 1), "unauthorized");
    assert_eq!(rejection, Rejection::Unauthorized { reason: "the operator has no wallet to lock from" });
    // Both bounds themselves are fine.
    for timeout_ms in [limits::ESCROW_TIMEOUT_MS_MIN, limits::ESCROW_TIMEOUT_MS_MAX] {
        ok(&mut swarm, "payer", Lock::new("payee", 1).timeout_ms(timeout_ms).into());
    }
}

#[test]
fn a_lock_without_a_timeout_expires_after_the_default_24_hours() {
    let mut swarm = swarm_with(10_000);
    let now = swarm.now_ms();
    let command: Command = serde_json::from_str(r#"{"type":"escrow.lock","payee":"payee","amount":"1000"}"#)
        .expect("a lock without timeout_ms");
    let Command::LockEscrow(terms) = &command else { panic!("not a lock: {command:?}") };
    assert_eq!(terms.timeout_ms, limits::ESCROW_TIMEOUT_MS_DEFAULT);
    assert_eq!(limits::ESCROW_TIMEOUT_MS_DEFAULT, 86_400_000);
    ok(&mut swarm, "payer", command);
    assert_eq!(swarm.escrow(0).timeout_at_ms, now + 86_400_000);
}

#[test]
fn a_repeated_lock_for_the_same_task_returns_the_same_escrow() {
    let mut swarm = swarm_with(10_000);
    let terms = || Lock::new("payee", 1_000).task_id("job-1").arbiter("arbiter").hashlock("s").referrer("referrer");
    let (id, existing) = ok(&mut swarm, "payer", terms().into()).escrow_lock();
    assert!(!existing);
    let ledger = swarm.ledger().clone();
    swarm.advance_ms(1_000);
    // The same terms (a payer retrying after a crash): the same escrow, nothing locked twice. The
    // terms are payee, amount, arbiter, hashlock and referrer; the timeout is relative to when the
    // lock arrives, so a retry's may differ and the escrow keeps its own.
    let outcome = ok(&mut swarm, "payer", terms().timeout_ms(120_000).into());
    assert_eq!(outcome.single(), &Ok(Accepted::Escrow { escrow_id: id, existing: true }));
    assert!(outcome.events.is_empty());
    assert_eq!(swarm.ledger(), &ledger);
    assert_eq!(swarm.escrow(id).timeout_at_ms, swarm.escrow(id).created_at_ms + 60_000);
    // Other terms under the same task id: a conflict naming the escrow.
    for conflicting in [
        terms().referrer("stranger"),
        Lock::new("payee", 1_001).task_id("job-1").arbiter("arbiter").hashlock("s").referrer("referrer"),
        Lock::new("stranger", 1_000).task_id("job-1").arbiter("arbiter").hashlock("s").referrer("referrer"),
        Lock::new("payee", 1_000).task_id("job-1").hashlock("s").referrer("referrer"),
        terms().hashlock("t"),
    ] {
        let rejection = refused(&mut swarm, "payer", conflicting.into(), "escrow_task_conflict");
        assert_eq!(
            rejection,
            Rejection::Ledger(LedgerRejection::EscrowTaskConflict { task_id: name("job-1"), escrow: id })
        );
        assert_eq!(rejection.field(), Some("task_id"));
    }
    // Task ids are per payer.
    swarm.fund("stranger", 1_000);
    let other = ok(&mut swarm, "stranger", Lock::new("payee", 1_000).task_id("job-1").into()).escrow_id();
    assert_ne!(other, id);
    // A retry after the escrow settled still finds it, so it never pays twice.
    ok(&mut swarm, "payer", release(id));
    let outcome = ok(&mut swarm, "payer", terms().into());
    assert_eq!(outcome.single(), &Ok(Accepted::Escrow { escrow_id: id, existing: true }));
    assert_eq!(swarm.balance("payer"), 9_000);
}

// ----- escrow.release, escrow.refund -----

#[test]
fn releasing_someone_elses_escrow_is_unauthorized() {
    let mut swarm = swarm_with(10_000);
    let id = ok(&mut swarm, "payer", Lock::new("payee", 1_000).arbiter("arbiter").into()).escrow_id();
    for who in ["stranger", "payee", "referrer", OPERATOR] {
        let rejection = refused(&mut swarm, who, release(id), "unauthorized");
        assert_eq!(
            rejection,
            Rejection::Unauthorized {
                reason: "only the payer, the arbiter, or a holder of the hashlock preimage releases an escrow"
            }
        );
    }
    // A preimage is no key to an escrow without a hashlock.
    refused(&mut swarm, "stranger", release_with_preimage(id, "anything"), "unauthorized");
    refused(&mut swarm, "payer", release(99), "escrow_not_found");
    // The arbiter may release.
    let outcome = ok(&mut swarm, "arbiter", release(id));
    assert!(matches!(
        settlement(&outcome),
        EventKind::EscrowSettled { state: EscrowState::Released, by: Some(by), .. } if *by == agent("arbiter")
    ));
}

#[test]
fn an_escrow_is_released_only_once_and_nothing_follows_a_settlement() {
    let mut swarm = swarm_with(10_000);
    let id = ok(&mut swarm, "payer", Lock::new("payee", 1_000).arbiter("arbiter").into()).escrow_id();
    ok(&mut swarm, "payer", release(id));
    let rejection = refused(&mut swarm, "payer", release(id), "escrow_state");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::EscrowState { escrow: id, state: "released", action: "release" })
    );
    assert_eq!(rejection.field(), Some("escrow"));
    let rejection = refused(&mut swarm, "payee", dispute(id, "too late"), "escrow_state");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::EscrowState { escrow: id, state: "released", action: "dispute" })
    );
    refused(&mut swarm, "payee", refund(id), "escrow_state");
    refused(&mut swarm, "arbiter", resolve(id, EscrowResolution::Refund), "escrow_state");
}

#[test]
fn release_after_a_refund_or_an_expiry_is_refused() {
    let mut swarm = swarm_with(10_000);
    let refunded = ok(&mut swarm, "payer", lock("payee", 1_000)).escrow_id();
    let expiring = ok(&mut swarm, "payer", Lock::new("payee", 1_000).timeout_ms(1_000).into()).escrow_id();
    let outcome = ok(&mut swarm, "payee", refund(refunded));
    assert!(matches!(
        settlement(&outcome),
        EventKind::EscrowSettled {
            state: EscrowState::Refunded,
            refunded_to_payer: Amount(1_000),
            fees: Amount(0),
            ..
        }
    ));
    let rejection = refused(&mut swarm, "payer", release(refunded), "escrow_state");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::EscrowState { escrow: refunded, state: "refunded", action: "release" })
    );
    swarm.tick_after(1_001);
    let rejection = refused(&mut swarm, "payer", release(expiring), "escrow_state");
    assert_eq!(
        rejection,
        Rejection::Ledger(LedgerRejection::EscrowState { escrow: expiring, state: "expired", action: "release" })
    );
    refused(&mut swarm, "payer", dispute(expiring, "x"), "escrow_state");
    assert_eq!(swarm.balance("payer"), 10_000);
    assert_eq!(swarm.balance("payee"), 0);
}

#[test]
fn refunds_come_from_the_payee_or_the_arbiter() {
    let mut swarm = swarm_with(10_000);
    let by_payee = ok(&mut swarm, "payer", Lock::new("payee", 1_000).arbiter("arbiter").into()).escrow_id();
    let by_arbiter = ok(&mut swarm, "payer", Lock::new("payee", 1_000).arbiter("arbiter").into()).escrow_id();
    for who in ["payer", "stranger", OPERATOR] {
        let rejection = refused(&mut swarm, who, refund(by_payee), "unauthorized");
        assert_eq!(rejection, Rejection::Unauthorized { reason: "only the payee or the arbiter refunds an escrow" });
    }
    ok(&mut swarm, "payee", refund(by_payee));
    ok(&mut swarm, "arbiter", refund(by_arbiter));
    assert_eq!(swarm.balance("payer"), 10_000);
    assert_eq!(swarm.wallet("payer").unwrap().held_as_payer, 0);
    assert_eq!(swarm.account_balance(&AccountId::EscrowHolding), 0);
}

// ----- Fees and referrals -----

/// Locks `amount` from `payer` (funded with exactly `amount`) to `payee`, with `referrer` registered
/// as the payee's referrer when given (the payee bears the fee), releases it, and checks every
/// account against the expected split.
#[track_caller]
fn release_and_check(amount: u64, with_referrer: bool, expected: (u64, u64, u64)) {
    let (to_payee, to_fees, to_referrer) = expected;
    assert_eq!(u128::from(to_payee) + u128::from(to_fees) + u128::from(to_referrer), u128::from(amount));
    let mut swarm = Simulator::new();
    swarm.register_all(&["payer", "referrer"], "scout");
    let payee = if with_referrer {
        Register::new("payee", "scout").referrer("referrer")
    } else {
        Register::new("payee", "scout")
    };
    assert!(swarm.operator(vec![payee.into()]).all_accepted());
    swarm.fund("payer", amount);
    let id = ok(&mut swarm, "payer", lock("payee", amount)).escrow_id();
    assert_eq!(swarm.account_balance(&AccountId::EscrowHolding), i128::from(amount));
    let outcome = ok(&mut swarm, "payer", release(id));
    assert_eq!(
        settlement(&outcome),
        &EventKind::EscrowSettled {
            escrow: id,
            state: EscrowState::Released,
            by: Some(agent("payer")),
            paid_to_payee: Amount(to_payee),
            refunded_to_payer: Amount(0),
            fees: Amount(to_fees),
            referral: Amount(to_referrer),
            referrer: (to_referrer > 0).then(|| agent_id("referrer")),
        }
    );
    assert_eq!(swarm.balance("payee"), to_payee);
    assert_eq!(swarm.account_balance(&AccountId::Fees), i128::from(to_fees));
    assert_eq!(swarm.balance("referrer"), to_referrer);
    assert_eq!(swarm.balance("payer"), 0);
    assert_eq!(swarm.account_balance(&AccountId::EscrowHolding), 0);
    assert_eq!(swarm.account_balance(&AccountId::Mint), -i128::from(amount));
    let escrow = swarm.escrow(id);
    assert_eq!(
        (escrow.paid_to_payee, escrow.fees, escrow.referral, escrow.refunded_to_payer),
        (Amount(to_payee), Amount(to_fees), Amount(to_referrer), Amount(0))
    );
    let payee = swarm.wallet("payee").unwrap();
    assert_eq!((payee.earned_total, payee.fees_paid_total), (u128::from(to_payee), u128::from(to_fees + to_referrer)));
}

#[test]
fn a_release_splits_one_unit_without_fees() {
    // floor(1 × 100 / 10,000) = 0: the payee gets everything.
    release_and_check(1, true, (1, 0, 0));
    release_and_check(1, false, (1, 0, 0));
}

#[test]
fn a_release_of_12_345_rounds_the_fee_and_the_referral_down() {
    // fee = floor(123.45) = 123; referral = floor(123 × 0.15) = floor(18.45) = 18.
    release_and_check(12_345, true, (12_222, 105, 18));
    release_and_check(12_345, false, (12_222, 123, 0));
}

#[test]
fn a_release_of_1_000_000_pays_990_000_8_500_and_1_500() {
    release_and_check(1_000_000, true, (990_000, 8_500, 1_500));
    release_and_check(1_000_000, false, (990_000, 10_000, 0));
}

#[test]
fn a_release_of_u64_max_splits_without_overflow() {
    // fee = floor((2^64 − 1) / 100) = 184,467,440,737,095,516; referral = floor(fee × 0.15).
    let fee: u64 = 184_467_440_737_095_516;
    let referral: u64 = 27_670_116_110_564_327;
    assert_eq!(u128::from(fee), u128::from(u64::MAX) / 100);
    assert_eq!(u128::from(referral), u128::from(fee) * 15 / 100);
    release_and_check(u64::MAX, true, (u64::MAX - fee, fee - referral, referral));
    release_and_check(u64::MAX, false, (u64::MAX - fee, fee, 0));
}

#[test]
fn the_escrows_named_referrer_takes_precedence_over_the_payees_registered_one() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["payer", "registered", "named"], "scout");
    assert!(swarm.operator(vec![Register::new("payee", "scout").referrer("registered").into()]).all_accepted());
    swarm.fund("payer", 2_000_000);
    let named = ok(&mut swarm, "payer", Lock::new("payee", 1_000_000).referrer("named").into()).escrow_id();
    let unnamed = ok(&mut swarm, "payer", lock("payee", 1_000_000)).escrow_id();
    let outcome = ok(&mut swarm, "payer", release(named));
    let EventKind::EscrowSettled { referral, referrer, .. } = settlement(&outcome) else { unreachable!() };
    assert_eq!((*referral, referrer.clone()), (Amount(1_500), Some(agent_id("named"))));
    assert_eq!((swarm.balance("named"), swarm.balance("registered")), (1_500, 0));
    ok(&mut swarm, "payer", release(unnamed));
    assert_eq!((swarm.balance("named"), swarm.balance("registered")), (1_500, 1_500));
    assert_eq!(swarm.account_balance(&AccountId::Fees), 17_000);
}

#[test]
fn a_deregistered_referrer_gets_nothing_and_its_share_stays_with_the_fees() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["payer", "registered", "named"], "scout");
    assert!(swarm.operator(vec![Register::new("payee", "scout").referrer("registered").into()]).all_accepted());
    swarm.fund("payer", 2_000_000);
    let by_registered = ok(&mut swarm, "payer", lock("payee", 1_000_000)).escrow_id();
    let by_named = ok(&mut swarm, "payer", Lock::new("payee", 1_000_000).referrer("named").into()).escrow_id();
    ok(&mut swarm, OPERATOR, deregister("registered"));
    ok(&mut swarm, OPERATOR, deregister("named"));
    for id in [by_registered, by_named] {
        let outcome = ok(&mut swarm, "payer", release(id));
        assert!(matches!(
            settlement(&outcome),
            EventKind::EscrowSettled {
                paid_to_payee: Amount(990_000),
                fees: Amount(10_000),
                referral: Amount(0),
                referrer: None,
                ..
            }
        ));
    }
    assert_eq!((swarm.balance("registered"), swarm.balance("named")), (0, 0));
    assert_eq!(swarm.account_balance(&AccountId::Fees), 20_000);
}

#[test]
fn fees_are_fixed_when_the_escrow_is_locked() {
    let mut swarm = swarm_with(2_000_000);
    let before = ok(&mut swarm, "payer", lock("payee", 1_000_000)).escrow_id();
    let config = colony_core::SwarmConfig { fee_bps: 1_000, ..swarm.state().config().clone() };
    ok(&mut swarm, OPERATOR, Command::SetConfig(SetConfig { config }));
    let after = ok(&mut swarm, "payer", lock("payee", 1_000_000)).escrow_id();
    ok(&mut swarm, "payer", release(before));
    assert_eq!(swarm.escrow(before).fees, Amount(10_000));
    ok(&mut swarm, "payer", release(after));
    assert_eq!(swarm.escrow(after).fees, Amount(100_000));
    assert_eq!(swarm.balance("payee"), 990_000 + 900_000);
}

#[test]
fn the_referral_follows_the_rule_fixed_when_the_escrow_was_locked() {
    // Seed 002: the orchestrator brought its worker in, pays it, and earns the referral share of the
    // fee its worker bears. A swarm that says `payer` pays the payer's referrer instead; an escrow
    // keeps the rule it was locked under.
    let mut swarm = Simulator::new();
    swarm.register_all(&["orchestrator", "patron"], "scout");
    let registrations = vec![
        Register::new("worker", "scout").referrer("orchestrator").into(),
        Register::new("client", "scout").referrer("patron").into(),
    ];
    assert!(swarm.operator(registrations).all_accepted());
    swarm.fund("orchestrator", 1_000_000);
    swarm.fund("client", 2_000_000);
    let to_worker = ok(&mut swarm, "orchestrator", lock("worker", 1_000_000)).escrow_id();
    assert_eq!(swarm.escrow(to_worker).referral_from, ReferralFrom::Payee);
    let under_payee_rule = ok(&mut swarm, "client", lock("orchestrator", 1_000_000)).escrow_id();
    let config = colony_core::SwarmConfig { referral_from: ReferralFrom::Payer, ..swarm.state().config().clone() };
    ok(&mut swarm, OPERATOR, Command::SetConfig(SetConfig { config }));
    let under_payer_rule = ok(&mut swarm, "client", lock("orchestrator", 1_000_000)).escrow_id();
    assert_eq!(swarm.escrow(under_payer_rule).referral_from, ReferralFrom::Payer);
    for (payer, escrow) in [("orchestrator", to_worker), ("client", under_payee_rule), ("client", under_payer_rule)] {
        ok(&mut swarm, payer, release(escrow));
    }
    // The worker's escrow: 1,500 back to the orchestrator as its referrer. The orchestrator has no
    // referrer, so the client's first escrow pays none; the second pays the client's referrer.
    assert_eq!(swarm.escrow(to_worker).referral, Amount(1_500));
    assert_eq!(swarm.escrow(under_payee_rule).referral, Amount(0));
    assert_eq!(swarm.escrow(under_payer_rule).referral, Amount(1_500));
    assert_eq!(swarm.balance("patron"), 1_500);
    assert_eq!(swarm.balance("orchestrator"), 1_500 + 990_000 * 2);
}

#[test]
fn an_escrow_keeps_its_description_and_refuses_a_long_one() {
    let mut swarm = swarm_with(10_000);
    let described = Lock::new("payee", 1_000).description("a day of BTC prices").into();
    let id = ok(&mut swarm, "payer", described).escrow_id();
    assert_eq!(swarm.escrow(id).description.as_deref(), Some("a day of BTC prices"));
    // `refused` checks that the ledger did not change.
    for description in ["x".repeat(limits::ESCROW_DESCRIPTION_BYTES_MAX + 1), "two\nlines".to_owned()] {
        let rejection =
            refused(&mut swarm, "payer", Lock::new("payee", 1_000).description(&description).into(), "invalid_field");
        assert_eq!(rejection.field(), Some("description"));
    }
}

// ----- Hashlocks -----

#[test]
fn a_third_party_with_the_right_preimage_releases_a_hashlocked_escrow() {
    let mut swarm = swarm_with(10_000);
    let id = ok(&mut swarm, "payer", Lock::new("payee", 1_000).hashlock("open sesame").into()).escrow_id();
    assert_eq!(swarm.escrow(id).hashlock, Some(hashlock_for("open sesame")));
    let rejection = refused(&mut swarm, "stranger", release_with_preimage(id, "open sesame!"), "hashlock_mismatch");
    assert_eq!(rejection, Rejection::Ledger(LedgerRejection::HashlockMismatch { escrow: id }));
    assert_eq!(rejection.field(), Some("preimage"));
    refused(&mut swarm, "stranger", release(id), "unauthorized");
    let rejection = refused(
        &mut swarm,
        "stranger",
        release_with_preimage(id, &"x".repeat(limits::PREIMAGE_BYTES_MAX + 1)),
        "invalid_field",
    );
    assert_eq!(rejection.field(), Some("preimage"));
    let outcome = ok(&mut swarm, "stranger", release_with_preimage(id, "open sesame"));
    assert!(matches!(
        settlement(&outcome),
        EventKind::EscrowSettled { state: EscrowState::Released, by: Some(by), paid_to_payee: Amount(990), .. }
            if *by == agent("stranger")
    ));
    assert_eq!((swarm.balance("payee"), swarm.balance("stranger")), (990, 0));
    // The payee may open it too, and so may the operator: the secret is the key.
    let second = ok(&mut swarm, "payer", Lock::new("payee", 1_000).hashlock("k").into()).escrow_id();
    ok(&mut swarm, "payee", release_with_preimage(second, "k"));
    let third = ok(&mut swarm, "payer", Lock::new("payee", 1_000).hashlock("k").into()).escrow_id();
    refused(&mut swarm, OPERATOR, release_with_preimage(third, "K"), "hashlock_mismatch");
    ok(&mut swarm, OPERATOR, release_with_preimage(third, "k"));
}

// ----- Disputes and resolutions -----

#[test]
fn a_dispute_stops_the_timer_until_the_arbiter_resolves() {
    let mut swarm = swarm_with(10_000);
    let id = ok(&mut swarm, "payer", Lock::new("payee", 1_000).arbiter("arbiter").timeout_ms(5_000).into()).escrow_id();
    for who in ["stranger", "arbiter", OPERATOR] {
        let rejection = refused(&mut swarm, who, dispute(id, "mine"), "unauthorized");
        assert_eq!(rejection, Rejection::Unauthorized { reason: "only the payer or the payee disputes an escrow" });
    }
    refused(&mut swarm, "arbiter", resolve(id, EscrowResolution::Release), "escrow_state");
    let outcome = ok(&mut swarm, "payee", dispute(id, "work delivered"));
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::EscrowDisputed { escrow: id, by: agent_id("payee"), reason: "work delivered".to_owned() }]
    );
    assert_eq!(swarm.escrow(id).dispute, Some((agent_id("payee"), "work delivered".to_owned())));
    assert_eq!(swarm.ledger().next_deadline_ms(), None, "the timer stopped");
    let outcome = swarm.tick_after(100_000);
    assert!(!outcome.event_kinds().iter().any(|kind| matches!(kind, EventKind::EscrowSettled { .. })));
    assert_eq!(swarm.escrow(id).state, EscrowState::Disputed);
    // Nobody but the arbiter settles it now: not a release, not a refund, not a second dispute.
    refused(&mut swarm, "payer", release(id), "escrow_state");
    refused(&mut swarm, "payee", refund(id), "escrow_state");
    refused(&mut swarm, "payer", dispute(id, "again"), "escrow_state");
    for who in ["payer", "payee", "stranger", OPERATOR] {
        let rejection = refused(&mut swarm, who, resolve(id, EscrowResolution::Release), "unauthorized");
        assert_eq!(
            rejection,
            Rejection::Unauthorized {
                reason: "the escrow's arbiter resolves its dispute (the operator, when none is named or it left the swarm)"
            }
        );
    }
    let rejection = refused(&mut swarm, "arbiter", resolve_split(id, 10_001), "invalid_field");
    assert_eq!(rejection.field(), Some("resolution"));
    let outcome = ok(&mut swarm, "arbiter", resolve(id, EscrowResolution::Release));
    assert!(matches!(
        settlement(&outcome),
        EventKind::EscrowSettled { state: EscrowState::Resolved, paid_to_payee: Amount(990), fees: Amount(10), .. }
    ));
    refused(&mut swarm, "arbiter", resolve(id, EscrowResolution::Release), "escrow_state");
}

#[test]
fn without_an_arbiter_a_jury_resolves_and_nobody_else() {
    let mut swarm = swarm_with(10_000);
    let id = ok(&mut swarm, "payer", lock("payee", 1_000)).escrow_id();
    ok(&mut swarm, "payer", dispute(id, "not delivered"));
    for who in ["payer", "payee", "arbiter", OPERATOR] {
        refused(&mut swarm, who, resolve(id, EscrowResolution::Refund), "escrow_under_jury");
    }
    // Nobody votes: at the jury's deadline the payer is refunded by default.
    let outcome = swarm.tick_after(colony_core::SwarmConfig::default().jury_voting_ms + 1);
    assert_eq!(
        settlement(&outcome),
        &EventKind::EscrowSettled {
            escrow: id,
            state: EscrowState::Resolved,
            by: None,
            paid_to_payee: Amount(0),
            refunded_to_payer: Amount(1_000),
            fees: Amount(0),
            referral: Amount(0),
            referrer: None,
        }
    );
    assert_eq!(swarm.balance("payer"), 10_000);
}

#[test]
fn a_split_resolution_pays_the_payees_share_minus_its_fee_and_refunds_the_rest() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["payer", "arbiter", "referrer"], "scout");
    assert!(swarm.operator(vec![Register::new("payee", "scout").referrer("referrer").into()]).all_accepted());
    swarm.fund("payer", 1_000_000);
    let id = ok(&mut swarm, "payer", Lock::new("payee", 1_000_000).arbiter("arbiter").into()).escrow_id();
    ok(&mut swarm, "payer", dispute(id, "half done"));
    let outcome = ok(&mut swarm, "arbiter", resolve_split(id, 2_500));
    // 25% = 250,000 to the payee's side: fee 2,500 (referral 375), payee 247,500; 750,000 back.
    assert_eq!(
        settlement(&outcome),
        &EventKind::EscrowSettled {
            escrow: id,
            state: EscrowState::Resolved,
            by: Some(agent("arbiter")),
            paid_to_payee: Amount(247_500),
            refunded_to_payer: Amount(750_000),
            fees: Amount(2_125),
            referral: Amount(375),
            referrer: Some(agent_id("referrer")),
        }
    );
    assert_eq!(balances(&swarm, &["payer", "payee", "referrer"]), [750_000, 247_500, 375, -1_000_000, 2_125, 0]);
}

#[test]
fn split_resolutions_at_the_bounds_are_a_refund_and_a_release() {
    let mut swarm = swarm_with(2_000);
    let refunded = ok(&mut swarm, "payer", Lock::new("payee", 1_000).arbiter("arbiter").into()).escrow_id();
    let released = ok(&mut swarm, "payer", Lock::new("payee", 1_000).arbiter("arbiter").into()).escrow_id();
    ok(&mut swarm, "payee", dispute(refunded, ""));
    ok(&mut swarm, "payee", dispute(released, ""));
    ok(&mut swarm, "arbiter", resolve_split(refunded, 0));
    ok(&mut swarm, "arbiter", resolve_split(released, 10_000));
    let (refunded, released) = (swarm.escrow(refunded), swarm.escrow(released));
    assert_eq!(
        (refunded.refunded_to_payer, refunded.paid_to_payee, refunded.fees),
        (Amount(1_000), Amount(0), Amount(0))
    );
    assert_eq!(
        (released.refunded_to_payer, released.paid_to_payee, released.fees),
        (Amount(0), Amount(990), Amount(10))
    );
}

#[test]
fn an_uneven_split_rounds_the_payees_share_down() {
    let mut swarm = swarm_with(12_345);
    let id = ok(&mut swarm, "payer", Lock::new("payee", 12_345).arbiter("arbiter").into()).escrow_id();
    ok(&mut swarm, "payer", dispute(id, ""));
    ok(&mut swarm, "arbiter", resolve_split(id, 3_333));
    // The payee's side: floor(12,345 × 0.3333) = floor(4,114.5885) = 4,114; its fee floor(41.14) = 41.
    let escrow = swarm.escrow(id);
    assert_eq!(
        (escrow.paid_to_payee, escrow.fees, escrow.referral, escrow.refunded_to_payer),
        (Amount(4_073), Amount(41), Amount(0), Amount(8_231))
    );
    assert_eq!(balances(&swarm, &["payer", "payee"]), [8_231, 4_073, -12_345, 41, 0]);
}

// ----- Expiry -----

#[test]
fn an_escrow_expires_when_log_time_passes_its_timeout_not_at_it() {
    let mut swarm = swarm_with(10_000);
    let locked_at = swarm.now_ms();
    let released = ok(&mut swarm, "payer", Lock::new("payee", 1_000).timeout_ms(5_000).into()).escrow_id();
    let expiring = ok(&mut swarm, "payer", Lock::new("payee", 2_000).timeout_ms(5_000).into()).escrow_id();
    assert_eq!(swarm.escrow(expiring).timeout_at_ms, locked_at + 5_000);
    assert_eq!(swarm.state().next_deadline_ms(), Some(locked_at + 5_001), "a tick is due just after the timeout");
    // At the timeout itself the escrow is still open: it can still be released (or disputed).
    swarm.factory().set_now_ms(locked_at + 5_000);
    let outcome = swarm.tick();
    assert!(!outcome.event_kinds().iter().any(|kind| matches!(kind, EventKind::EscrowSettled { .. })));
    assert_eq!(swarm.escrow(expiring).state, EscrowState::Locked);
    ok(&mut swarm, "payer", release(released));
    // One millisecond later, the first entry expires it before anything else it carries.
    swarm.advance_ms(1);
    let outcome = send(&mut swarm, "payer", vec![release(expiring)]);
    assert_eq!(
        outcome.single_rejection(),
        &Rejection::Ledger(LedgerRejection::EscrowState { escrow: expiring, state: "expired", action: "release" })
    );
    assert_eq!(
        settlement(&outcome),
        &EventKind::EscrowSettled {
            escrow: expiring,
            state: EscrowState::Expired,
            by: None,
            paid_to_payee: Amount(0),
            refunded_to_payer: Amount(2_000),
            fees: Amount(0),
            referral: Amount(0),
            referrer: None,
        }
    );
    let escrow = swarm.escrow(expiring);
    assert_eq!((escrow.state, escrow.settled_at_ms), (EscrowState::Expired, Some(locked_at + 5_001)));
    assert_eq!(swarm.balance("payer"), 9_000);
    assert_eq!(swarm.ledger().open_escrows(), 0);
    assert_eq!(swarm.ledger().next_deadline_ms(), None);
}

#[test]
fn only_the_payer_extends_a_locked_escrow_and_only_to_a_later_timeout() {
    let mut swarm = swarm_with(10_000);
    let locked_at = swarm.now_ms();
    let id = ok(&mut swarm, "payer", Lock::new("payee", 1_000).timeout_ms(5_000).into()).escrow_id();
    for who in ["payee", "arbiter", "stranger", OPERATOR] {
        refused(&mut swarm, who, extend(id, 60_000), "unauthorized");
    }
    refused(&mut swarm, "payer", extend(id, limits::ESCROW_TIMEOUT_MS_MAX + 1), "invalid_field");
    refused(&mut swarm, "payer", extend(999, 60_000), "escrow_not_found");
    // An extension may not bring the timeout earlier.
    refused(&mut swarm, "payer", extend(id, limits::ESCROW_TIMEOUT_MS_MIN), "invalid_field");

    let outcome = ok(&mut swarm, "payer", extend(id, 60_000));
    let extended_at = swarm.now_ms();
    assert_eq!(outcome.event_kinds(), [&EventKind::EscrowExtended { escrow: id, timeout_at_ms: extended_at + 60_000 }]);
    assert_eq!(swarm.escrow(id).timeout_at_ms, extended_at + 60_000);
    assert_eq!(swarm.ledger().next_deadline_ms(), Some(extended_at + 60_000), "the deadline moved with it");

    // The old timeout passes and nothing happens; the new one expires it.
    swarm.factory().set_now_ms(locked_at + 5_001);
    swarm.tick();
    assert_eq!(swarm.escrow(id).state, EscrowState::Locked);
    swarm.factory().set_now_ms(extended_at + 60_001);
    swarm.tick();
    assert_eq!(swarm.escrow(id).state, EscrowState::Expired);
    assert_eq!(swarm.balance("payer"), 10_000);
    refused(&mut swarm, "payer", extend(id, 60_000), "escrow_state");
}

#[test]
fn escrows_expire_in_deadline_order_in_one_entry() {
    let mut swarm = swarm_with(10_000);
    let late = ok(&mut swarm, "payer", Lock::new("payee", 1).timeout_ms(3_000).into()).escrow_id();
    let early = ok(&mut swarm, "payer", Lock::new("payee", 2).timeout_ms(2_000).into()).escrow_id();
    let disputed = ok(&mut swarm, "payer", Lock::new("payee", 3).timeout_ms(1_000).into()).escrow_id();
    ok(&mut swarm, "payee", dispute(disputed, ""));
    let outcome = swarm.tick_after(10_000);
    let expired: Vec<u64> = outcome
        .event_kinds()
        .into_iter()
        .filter_map(|kind| match kind {
            EventKind::EscrowSettled { escrow, state: EscrowState::Expired, .. } => Some(*escrow),
            _ => None,
        })
        .collect();
    assert_eq!(expired, [early, late]);
    assert_eq!(swarm.escrow(disputed).state, EscrowState::Disputed);
}

#[test]
fn a_halted_arbiter_still_resolves_its_disputes() {
    let mut swarm = swarm_with(1_000);
    let id = ok(&mut swarm, "payer", Lock::new("payee", 1_000).arbiter("arbiter").into()).escrow_id();
    ok(&mut swarm, "payee", dispute(id, "late"));
    ok(&mut swarm, OPERATOR, halt("arbiter", "audit"));
    refused(&mut swarm, "arbiter", transfer("t-1", "payee", 1), "agent_halted");
    ok(&mut swarm, "arbiter", resolve_split(id, 5_000));
    assert_eq!((swarm.balance("payer"), swarm.balance("payee")), (500, 495));
}

#[test]
fn a_dispute_is_possible_up_to_the_timeout_and_not_after() {
    let mut swarm = swarm_with(2_000);
    let start = swarm.now_ms();
    let on_time = ok(&mut swarm, "payer", Lock::new("payee", 1_000).timeout_ms(1_000).into()).escrow_id();
    let too_late = ok(&mut swarm, "payer", Lock::new("payee", 1_000).timeout_ms(1_000).into()).escrow_id();
    swarm.factory().set_now_ms(start + 1_000);
    ok(&mut swarm, "payee", dispute(on_time, "at the deadline"));
    swarm.factory().set_now_ms(start + 1_001);
    let outcome = send(&mut swarm, "payee", vec![dispute(too_late, "after it")]);
    assert_eq!(
        outcome.single_rejection(),
        &Rejection::Ledger(LedgerRejection::EscrowState { escrow: too_late, state: "expired", action: "dispute" })
    );
    assert_eq!(swarm.escrow(on_time).state, EscrowState::Disputed);
}
