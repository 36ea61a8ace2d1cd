//! Regressions of two ledger bugs: an unchanged wallet policy opened an empty wallet, and a dispute
//! whose arbiter left the swarm could never be resolved.

mod support;

use colony_core::{Accepted, EscrowResolution, EscrowState};
use support::commands::{Lock, configure_wallet, deregister, dispute, release, resolve};
use support::{OutcomeExt, Simulator};

/// Bug 1: `wallet.configure` that changes nothing answers `Unchanged` but opens an empty wallet.
#[test]
fn an_unchanged_wallet_policy_changes_no_state() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["payer"], "scout");
    let ledger = swarm.ledger().clone();
    for command in [configure_wallet("payer").build(), configure_wallet("payer").frozen(false).build()] {
        let outcome = swarm.operator(vec![command]);
        assert_eq!(outcome.single(), &Ok(Accepted::Unchanged));
        assert_eq!(swarm.ledger(), &ledger, "Unchanged means the state did not change");
    }
}

/// Bug 2: once the named arbiter is deregistered, a disputed escrow can never be settled.
#[test]
fn a_dispute_whose_arbiter_left_can_still_be_resolved() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["payer", "payee", "arbiter"], "scout");
    swarm.fund("payer", 1_000);
    let id = swarm.agent("payer", vec![Lock::new("payee", 1_000).arbiter("arbiter").into()]).escrow_id();
    assert!(swarm.agent("payee", vec![dispute(id, "")]).all_accepted());
    assert!(swarm.agent("arbiter", vec![deregister("arbiter")]).all_accepted());
    // No timer runs, the parties may not release or refund a disputed escrow, the arbiter cannot
    // sign any more, and the operator may not step in because an arbiter is named.
    swarm.tick_after(100 * 24 * 3_600 * 1_000);
    assert_eq!(swarm.agent("payer", vec![release(id)]).single_code(), Some("escrow_state"));
    let outcome = swarm.operator(vec![resolve(id, EscrowResolution::Refund)]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done), "the operator steps in for an arbiter that left");
    assert_eq!(swarm.escrow(id).state, EscrowState::Resolved);
}
