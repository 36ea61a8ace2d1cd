//! Wallet policies: child wallets (daily limit, no-withdraw, freeze) and budgets that halt an agent.
//!
//! A parent "opens a wallet for a child" by setting the child's policy; only the child's parent (or
//! the operator) may change it. A freeze or no-withdraw the operator set is lifted only by the
//! operator. The daily limit counts transfers, withdrawals and escrow locks in one
//! ledger day (log time, UTC days); refunds do not give the allowance back.
//!
//! A budget is a minimum balance. When an agent's balance falls below it, the agent is halted (a
//! budget halt, separate from operator and parent halts) and an event says so; when money arrives and
//! the balance is at or above the minimum again, the budget halt lifts by itself. A halted agent can
//! still receive money and settle its open escrows, so a halt never strands funds.

use crate::amount::Amount;
use crate::event::EventKind;
use crate::ids::{AgentId, Signer};
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::registry::AgentHandle;
use crate::state::{Context, State};

/// The changes `wallet.configure` may make; `None` leaves a setting as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PolicyChange {
    pub daily_limit: Option<Option<Amount>>,
    pub no_withdraw: Option<bool>,
    pub frozen: Option<bool>,
    pub minimum_balance: Option<Option<Amount>>,
}

impl State {
    /// `wallet.configure`: the agent's parent or the operator sets its wallet policy.
    pub(crate) fn configure_wallet(
        &mut self,
        context: &mut Context,
        agent: &AgentId,
        change: PolicyChange,
    ) -> CommandResult {
        let handle = self.registry.handle(agent).ok_or_else(|| Rejection::AgentNotFound { agent: agent.clone() })?;
        let target = self.registry.by_handle(handle);
        if target.deregistered_at_ms.is_some() {
            return Err(Rejection::AgentDeregistered { agent: agent.clone() });
        }
        let allowed = match context.signer() {
            Signer::Operator => true,
            Signer::Agent(signer) => target.parent.as_ref() == Some(signer),
        };
        if !allowed {
            return Err(Rejection::Unauthorized {
                reason: "only the agent's parent or the operator sets its wallet policy",
            });
        }
        // Decide on a copy first: a change that changes nothing must not even open an empty wallet.
        let current = self.ledger.wallets.get(&handle).cloned().unwrap_or_default();
        let is_operator = *context.signer() == Signer::Operator;
        let touches_hold = change.frozen.is_some_and(|frozen| frozen != current.frozen)
            || change.no_withdraw.is_some_and(|no_withdraw| no_withdraw != current.no_withdraw);
        if current.operator_hold && !is_operator && touches_hold {
            return Err(Rejection::Unauthorized {
                reason: "the operator froze this wallet or forbade its withdrawals; only the operator lifts that",
            });
        }
        let before = (current.daily_limit, current.no_withdraw, current.frozen, current.minimum_balance);
        let after = (
            change.daily_limit.unwrap_or(before.0),
            change.no_withdraw.unwrap_or(before.1),
            change.frozen.unwrap_or(before.2),
            change.minimum_balance.unwrap_or(before.3),
        );
        // The operator's settings are the operator's to lift: a hold while either is in force.
        let hold = if is_operator { after.1 || after.2 } else { current.operator_hold };
        if before == after && hold == current.operator_hold {
            return Ok(Accepted::Unchanged);
        }
        let wallet = self.ledger.wallets.entry(handle).or_default();
        (wallet.daily_limit, wallet.no_withdraw, wallet.frozen, wallet.minimum_balance) = after;
        wallet.operator_hold = hold;
        context.emit(EventKind::WalletConfigured {
            agent: agent.clone(),
            daily_limit: after.0,
            no_withdraw: after.1,
            frozen: after.2,
            minimum_balance: after.3,
        });
        self.reconcile_budget(context, handle);
        Ok(Accepted::Done)
    }

    /// Halts or resumes `agent` according to its budget, after its balance changed. Most wallets have
    /// no budget, and every payment calls this for payer, payee and referrer, so they return at once:
    /// without a minimum there is no budget halt to change (`reconcile_budget` lifts one when a minimum
    /// is removed).
    pub(crate) fn apply_budget(&mut self, context: &mut Context, agent: AgentHandle) {
        if self.ledger.wallets.get(&agent).is_none_or(|wallet| wallet.minimum_balance.is_none()) {
            return;
        }
        self.reconcile_budget(context, agent);
    }

    /// Halts or resumes `agent` according to its budget, whatever changed.
    fn reconcile_budget(&mut self, context: &mut Context, agent: AgentHandle) {
        let Some(wallet) = self.ledger.wallets.get(&agent) else { return };
        let balance = wallet.balance();
        let below = wallet.minimum_balance.is_some_and(|minimum| balance < minimum);
        let minimum = wallet.minimum_balance;
        let record = self.registry.by_handle(agent);
        if record.deregistered_at_ms.is_some() || record.budget_halted == below {
            return;
        }
        if self.registry.update_availability(agent, |record| record.budget_halted = below) {
            self.agent_can_take_work(context.now_ms);
        }
        let agent = self.registry.by_handle(agent).id.clone();
        if below {
            context.emit(EventKind::AgentBudgetHalted {
                agent,
                balance,
                minimum_balance: minimum.expect("below a minimum"),
            });
        } else {
            context.emit(EventKind::AgentBudgetRestored { agent, balance });
        }
    }
}
