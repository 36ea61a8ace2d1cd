//! Transfers: the posting primitive, mint, transfer, linked batches and withdrawals.

use crate::outcome::LedgerRejection;
use serde::{Deserialize, Serialize};

use super::{AccountId, LEDGER_DAY_MS, PostingAccount, Wallet};
use crate::amount::Amount;
use crate::event::EventKind;
use crate::ids::{AgentId, Name, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::registry::AgentHandle;
use crate::state::{Context, State};

/// Why money moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// The operator issued money into a wallet.
    Mint,
    /// One agent paid another.
    Transfer,
    /// An agent moved money out of the swarm.
    Withdraw,
    /// A parent moved money back from its child's wallet.
    Sweep,
}

/// A transfer as remembered for idempotency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecord {
    /// The account debited.
    pub from: AccountId,
    /// The account credited.
    pub to: AccountId,
    /// How much.
    pub amount: Amount,
    /// Why.
    pub kind: TransferKind,
    /// The entry that applied it.
    pub sequence: u64,
}

/// One transfer of a linked batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The client-chosen id, unique per signer.
    pub transfer_id: Name,
    /// The payee.
    pub to: AgentId,
    /// How much.
    pub amount: Amount,
}

/// Undo information for a linked batch: the wallets and transfers as they were before it.
#[derive(Default)]
pub(crate) struct Undo {
    wallets: Vec<(AgentHandle, Option<Wallet>)>,
    transfers: Vec<(Signer, Name)>,
    next_transfer_number: u64,
    wallets_total: u128,
    events: usize,
}

impl State {
    /// The handle of the agent that signs the commands being applied, which must be an agent.
    pub(crate) fn signing_agent(context: &Context) -> Result<(AgentId, AgentHandle), Rejection> {
        match (context.signer(), context.signer_handle()) {
            (Signer::Agent(id), Some(handle)) => Ok((id.clone(), handle)),
            (Signer::Agent(_), None) => Err(Rejection::UnknownSigner),
            (Signer::Operator, _) => Err(Rejection::Unauthorized { reason: "the operator has no wallet" }),
        }
    }

    /// Checks that `payer` may spend `amount` now: enough money, not frozen, within its daily limit.
    pub(crate) fn check_spend(&self, payer: AgentHandle, amount: Amount, now_ms: u64) -> Result<(), Rejection> {
        let wallet = self.ledger.wallets.get(&payer);
        // A frozen wallet says so whatever the amount: that is the reason it cannot pay.
        if wallet.is_some_and(|wallet| wallet.frozen) {
            let agent = self.registry.by_handle(payer).id.clone();
            return Err(Rejection::Ledger(LedgerRejection::WalletFrozen { agent }));
        }
        let balance = wallet.map_or(Amount::ZERO, Wallet::balance);
        if balance < amount {
            return Err(Rejection::Ledger(LedgerRejection::InsufficientFunds {
                available: balance,
                requested: amount,
            }));
        }
        let Some(wallet) = wallet else { return Ok(()) };
        if let Some(limit) = wallet.daily_limit {
            let spent_today = if wallet.spent_day == now_ms / LEDGER_DAY_MS { wallet.spent_today } else { 0 };
            if spent_today + u128::from(amount.0) > u128::from(limit.0) {
                return Err(Rejection::Ledger(LedgerRejection::DailyLimitExceeded {
                    limit,
                    spent_today: Amount(u64::try_from(spent_today).unwrap_or(u64::MAX)),
                    requested: amount,
                }));
            }
        }
        Ok(())
    }

    /// Counts `amount` against the payer's daily limit.
    pub(crate) fn record_spend(&mut self, payer: AgentHandle, amount: Amount, now_ms: u64) {
        let wallet = self.ledger.wallets.entry(payer).or_default();
        let day = now_ms / LEDGER_DAY_MS;
        if wallet.spent_day != day {
            wallet.spent_day = day;
            wallet.spent_today = 0;
        }
        wallet.spent_today += u128::from(amount.0);
    }

    /// The live (registered, not deregistered) agent `id`, for a field named `field`.
    pub(crate) fn live_payee(&self, id: &AgentId, field: &'static str) -> Result<AgentHandle, Rejection> {
        let handle = self.registry.handle(id).ok_or_else(|| Rejection::AgentNotFound { agent: id.clone() })?;
        if self.registry.by_handle(handle).deregistered_at_ms.is_some() {
            return Err(Rejection::invalid(field, format!("'{id}' is deregistered")));
        }
        Ok(handle)
    }

    /// Returns `Some(Unchanged)` when this transfer was already applied, an error when the id was used
    /// for a different transfer, `None` when it is new.
    fn replayed_transfer(
        &self,
        creator: &Signer,
        transfer_id: &Name,
        from: &AccountId,
        to: &AccountId,
        amount: Amount,
        kind: TransferKind,
    ) -> Option<CommandResult> {
        let existing = self.ledger.transfers.get(&(creator.clone(), transfer_id.clone()))?;
        if existing.from == *from && existing.to == *to && existing.amount == amount && existing.kind == kind {
            Some(Ok(Accepted::Unchanged))
        } else {
            Some(Err(Rejection::Ledger(LedgerRejection::TransferConflict { transfer_id: transfer_id.clone() })))
        }
    }

    fn remember_transfer(
        &mut self,
        creator: &Signer,
        transfer_id: &Name,
        record: TransferRecord,
        undo: Option<&mut Undo>,
    ) {
        let key = (creator.clone(), transfer_id.clone());
        let number = self.ledger.next_transfer_number;
        self.ledger.next_transfer_number += 1;
        self.ledger.transfers.insert(key.clone(), record);
        self.ledger.transfer_order.insert(number, key.clone());
        match undo {
            // Inside a linked batch nothing is forgotten until the batch is known to succeed, so that
            // undoing it leaves the remembered transfers exactly as they were.
            Some(undo) => undo.transfers.push(key),
            None => self.forget_old_transfers(),
        }
    }

    /// Idempotency is remembered for the most recent transfers only; a retry of an older one is a new
    /// transfer. The limit is documented with the API.
    fn forget_old_transfers(&mut self) {
        while self.ledger.transfers.len() > limits::TRANSFERS_RETAINED_MAX {
            let (_, oldest) = self.ledger.transfer_order.pop_first().expect("orders match transfers");
            self.ledger.transfers.remove(&oldest);
        }
    }

    /// `ledger.mint`: the operator issues money into a wallet.
    pub(crate) fn mint(
        &mut self,
        context: &mut Context,
        transfer_id: &Name,
        to: &AgentId,
        amount: Amount,
    ) -> CommandResult {
        if *context.signer() != Signer::Operator {
            return Err(Rejection::Unauthorized { reason: "only the operator mints" });
        }
        check_positive(amount)?;
        let (from, to_account) = (AccountId::Mint, AccountId::Wallet(to.clone()));
        if let Some(result) =
            self.replayed_transfer(context.signer(), transfer_id, &from, &to_account, amount, TransferKind::Mint)
        {
            return result;
        }
        let payee = self.live_payee(to, "to")?;
        if self.ledger.supply() + u128::from(amount.0) > u128::from(u64::MAX) {
            return Err(Rejection::LimitReached { limit: "money_supply", max: u64::MAX });
        }
        self.ledger.post(PostingAccount::Mint, PostingAccount::Wallet(payee), amount);
        let record =
            TransferRecord { from, to: to_account, amount, kind: TransferKind::Mint, sequence: context.sequence() };
        self.emit_transfer(context, transfer_id, &record);
        self.remember_transfer(context.signer(), transfer_id, record, None);
        self.apply_budget(context, payee);
        Ok(Accepted::Done)
    }

    /// `ledger.transfer`: the signing agent pays another agent.
    pub(crate) fn transfer(
        &mut self,
        context: &mut Context,
        request: &TransferRequest,
        undo: Option<&mut Undo>,
    ) -> CommandResult {
        if *context.signer() == Signer::Operator {
            return Err(Rejection::Unauthorized { reason: "the operator has no wallet; it mints instead" });
        }
        let (payer, payer_handle) = Self::signing_agent(context)?;
        check_positive(request.amount)?;
        let (from, to) = (AccountId::Wallet(payer.clone()), AccountId::Wallet(request.to.clone()));
        if let Some(result) = self.replayed_transfer(
            context.signer(),
            &request.transfer_id,
            &from,
            &to,
            request.amount,
            TransferKind::Transfer,
        ) {
            return result;
        }
        if request.to == payer {
            return Err(Rejection::invalid("to", "an agent cannot pay itself"));
        }
        let payee_handle = self.live_payee(&request.to, "to")?;
        self.check_spend(payer_handle, request.amount, context.now_ms)?;
        let parties = (payer_handle, payee_handle);
        if let Some(undo) = undo {
            for handle in [payer_handle, payee_handle] {
                undo.wallets.push((handle, self.ledger.wallets.get(&handle).cloned()));
            }
            self.post_transfer(context, parties, (from, to), request, Some(undo));
        } else {
            self.post_transfer(context, parties, (from, to), request, None);
            self.apply_budget(context, payer_handle);
            self.apply_budget(context, payee_handle);
        }
        Ok(Accepted::Done)
    }

    fn post_transfer(
        &mut self,
        context: &mut Context,
        (payer, payee): (AgentHandle, AgentHandle),
        (from, to): (AccountId, AccountId),
        request: &TransferRequest,
        undo: Option<&mut Undo>,
    ) {
        self.ledger.post(PostingAccount::Wallet(payer), PostingAccount::Wallet(payee), request.amount);
        self.record_spend(payer, request.amount, context.now_ms);
        self.ledger.wallets.get_mut(&payer).expect("just debited").spent_total += u128::from(request.amount.0);
        self.ledger.wallets.get_mut(&payee).expect("just credited").earned_total += u128::from(request.amount.0);
        let record = TransferRecord {
            from,
            to,
            amount: request.amount,
            kind: TransferKind::Transfer,
            sequence: context.sequence(),
        };
        self.emit_transfer(context, &request.transfer_id, &record);
        self.remember_transfer(context.signer(), &request.transfer_id, record, undo);
    }

    /// `ledger.transfer_batch`: linked transfers, all or nothing. The first failure is reported with
    /// its position, and nothing of the batch is applied.
    pub(crate) fn transfer_batch(&mut self, context: &mut Context, requests: &[TransferRequest]) -> CommandResult {
        if requests.is_empty() {
            return Err(Rejection::invalid("transfers", "a linked batch needs at least one transfer"));
        }
        if requests.len() > limits::TRANSFERS_PER_BATCH_MAX {
            return Err(Rejection::LimitReached {
                limit: "transfers_per_batch",
                max: limits::TRANSFERS_PER_BATCH_MAX as u64,
            });
        }
        let mut undo = Undo {
            next_transfer_number: self.ledger.next_transfer_number,
            wallets_total: self.ledger.wallets_total,
            events: context.events_len(),
            ..Undo::default()
        };
        let mut applied_any = false;
        for (index, request) in requests.iter().enumerate() {
            match self.transfer(context, request, Some(&mut undo)) {
                Ok(Accepted::Done) => applied_any = true,
                Ok(_) => {}
                Err(rejection) => {
                    self.undo(context, undo);
                    return Err(Rejection::Ledger(LedgerRejection::BatchFailed {
                        index: index as u32,
                        reason: Box::new(rejection),
                    }));
                }
            }
        }
        self.forget_old_transfers();
        let mut touched: Vec<AgentHandle> = undo.wallets.into_iter().map(|(handle, _)| handle).collect();
        touched.sort();
        touched.dedup();
        for handle in touched {
            self.apply_budget(context, handle);
        }
        Ok(if applied_any { Accepted::Done } else { Accepted::Unchanged })
    }

    fn undo(&mut self, context: &mut Context, undo: Undo) {
        // Restore in reverse, so a wallet touched twice ends as it was before the first touch.
        for (handle, wallet) in undo.wallets.into_iter().rev() {
            match wallet {
                Some(wallet) => {
                    self.ledger.wallets.insert(handle, wallet);
                }
                None => {
                    self.ledger.wallets.remove(&handle);
                }
            }
        }
        for key in undo.transfers {
            self.ledger.transfers.remove(&key);
        }
        self.ledger.wallets_total = undo.wallets_total;
        while self.ledger.next_transfer_number > undo.next_transfer_number {
            self.ledger.next_transfer_number -= 1;
            self.ledger.transfer_order.remove(&self.ledger.next_transfer_number);
        }
        context.truncate_events(undo.events);
    }

    /// `ledger.withdraw`: the signing agent moves money out of the swarm.
    pub(crate) fn withdraw(&mut self, context: &mut Context, transfer_id: &Name, amount: Amount) -> CommandResult {
        let (payer, payer_handle) = Self::signing_agent(context)?;
        check_positive(amount)?;
        let (from, to) = (AccountId::Wallet(payer.clone()), AccountId::Mint);
        if let Some(result) =
            self.replayed_transfer(context.signer(), transfer_id, &from, &to, amount, TransferKind::Withdraw)
        {
            return result;
        }
        if self.ledger.wallets.get(&payer_handle).is_some_and(|wallet| wallet.no_withdraw) {
            return Err(Rejection::Ledger(LedgerRejection::WithdrawForbidden { agent: payer }));
        }
        self.check_spend(payer_handle, amount, context.now_ms)?;
        self.ledger.post(PostingAccount::Wallet(payer_handle), PostingAccount::Mint, amount);
        self.record_spend(payer_handle, amount, context.now_ms);
        let record = TransferRecord { from, to, amount, kind: TransferKind::Withdraw, sequence: context.sequence() };
        self.emit_transfer(context, transfer_id, &record);
        self.remember_transfer(context.signer(), transfer_id, record, None);
        self.apply_budget(context, payer_handle);
        Ok(Accepted::Done)
    }

    /// `ledger.penalize`: the operator (or an approved proposal) takes up to `amount` from an agent's
    /// wallet into the fee account, the swarm's own. Money held in escrow is not the wallet's and is
    /// not taken; a frozen wallet is penalized too, since a freeze stops the agent spending, not the
    /// swarm collecting.
    pub(crate) fn penalize(
        &mut self,
        context: &mut Context,
        agent: &AgentId,
        amount: Amount,
        reason: &str,
    ) -> CommandResult {
        if *context.signer() != Signer::Operator {
            return Err(Rejection::Unauthorized { reason: "only the operator (or an approved proposal) penalizes" });
        }
        check_positive(amount)?;
        if reason.is_empty() || reason.len() > limits::REASON_BYTES_MAX || reason.chars().any(char::is_control) {
            return Err(Rejection::invalid(
                "reason",
                format!("must be 1 to {} bytes without control characters", limits::REASON_BYTES_MAX),
            ));
        }
        let handle = self.registry.handle(agent).ok_or_else(|| Rejection::AgentNotFound { agent: agent.clone() })?;
        let balance = self.ledger.wallets.get(&handle).map_or(Amount::ZERO, |wallet| wallet.balance());
        let taken = amount.min(balance);
        if taken > Amount::ZERO {
            self.ledger.post(PostingAccount::Wallet(handle), PostingAccount::Fees, taken);
        }
        context.emit(EventKind::AgentPenalized {
            agent: agent.clone(),
            requested: amount,
            taken,
            reason: reason.to_owned(),
        });
        self.apply_budget(context, handle);
        Ok(Accepted::Done)
    }

    /// `wallet.sweep`: a parent moves money back from its child's wallet. The child's daily limit
    /// does not apply (the parent is acting) and the money stays in the swarm, but a frozen wallet
    /// pays nobody: a freeze holds the money where it is, for the parent too.
    pub(crate) fn sweep(
        &mut self,
        context: &mut Context,
        child: &AgentId,
        transfer_id: &Name,
        amount: Amount,
    ) -> CommandResult {
        let Ok((parent, parent_handle)) = Self::signing_agent(context) else {
            return Err(Rejection::Unauthorized { reason: "only the child's parent sweeps its wallet" });
        };
        check_positive(amount)?;
        let (from, to) = (AccountId::Wallet(child.clone()), AccountId::Wallet(parent.clone()));
        if let Some(result) =
            self.replayed_transfer(context.signer(), transfer_id, &from, &to, amount, TransferKind::Sweep)
        {
            return result;
        }
        let child_handle =
            self.registry.handle(child).ok_or_else(|| Rejection::AgentNotFound { agent: child.clone() })?;
        if self.registry.by_handle(child_handle).parent.as_ref() != Some(&parent) {
            return Err(Rejection::Unauthorized { reason: "only the child's parent sweeps its wallet" });
        }
        let wallet = self.ledger.wallets.get(&child_handle);
        if wallet.is_some_and(|wallet| wallet.frozen) {
            return Err(Rejection::Ledger(LedgerRejection::WalletFrozen { agent: child.clone() }));
        }
        let balance = wallet.map_or(Amount::ZERO, Wallet::balance);
        if balance < amount {
            return Err(Rejection::Ledger(LedgerRejection::InsufficientFunds {
                available: balance,
                requested: amount,
            }));
        }
        self.ledger.post(PostingAccount::Wallet(child_handle), PostingAccount::Wallet(parent_handle), amount);
        let record = TransferRecord { from, to, amount, kind: TransferKind::Sweep, sequence: context.sequence() };
        self.emit_transfer(context, transfer_id, &record);
        self.remember_transfer(context.signer(), transfer_id, record, None);
        self.apply_budget(context, child_handle);
        self.apply_budget(context, parent_handle);
        Ok(Accepted::Done)
    }

    fn emit_transfer(&self, context: &mut Context, transfer_id: &Name, record: &TransferRecord) {
        context.emit(EventKind::TransferPosted {
            transfer_id: transfer_id.clone(),
            from: record.from.clone(),
            to: record.to.clone(),
            amount: record.amount,
            kind: record.kind,
        });
    }
}

/// Amounts in commands must be positive.
pub(crate) fn check_positive(amount: Amount) -> Result<(), Rejection> {
    if amount == Amount::ZERO {
        return Err(Rejection::invalid("amount", "must be greater than zero"));
    }
    Ok(())
}
