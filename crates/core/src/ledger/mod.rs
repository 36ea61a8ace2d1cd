//! The ledger: wallets, double-entry transfers, escrow, child-wallet policies and budgets.
//!
//! Every movement of money is a transfer from one account to another, recorded as a debit on the
//! first and a credit on the second, so the sum of all balances is always zero. Money enters the swarm
//! from the operator's mint account (whose balance is the negative of all money in circulation) and
//! leaves through it. Escrowed funds sit in the escrow-holding account: locking moves them from the
//! payer's wallet there; releasing, refunding or expiring moves them out again. So "funds held in
//! escrow equal the sum of open escrows" is a statement about one account's balance, checked after
//! every entry.
//!
//! # Layout
//! - `mod.rs`: accounts, wallets, the ledger's state, queries and invariants.
//! - `transfer.rs`: mint, transfer, linked batches, withdraw, the posting primitive.
//! - `escrow.rs`: lock, release (fee and referral split), refund, dispute, resolve, expiry.
//! - `wallet.rs`: child-wallet policies (daily limit, no-withdraw, freeze), sweeps and budgets.

pub mod commands;
mod escrow;
pub mod rejections;
mod transfer;
mod wallet;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::amount::{Amount, BASIS_POINTS_ONE};
use crate::ids::{AgentId, Digest, Name, Signer};
use crate::registry::AgentHandle;
use crate::state::State;

pub(crate) use escrow::LockRequest;
pub use escrow::{Escrow, EscrowResolution, EscrowState};
pub use transfer::{TransferKind, TransferRecord, TransferRequest};
pub(crate) use wallet::PolicyChange;

/// Milliseconds in a ledger day: daily limits reset when `timestamp_ms / LEDGER_DAY_MS` changes, that
/// is at midnight UTC in log time.
pub const LEDGER_DAY_MS: u64 = 86_400_000;

/// An account that can hold money.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum AccountId {
    /// An agent's wallet.
    Wallet(AgentId),
    /// The operator's mint: money enters and leaves the swarm here. Its balance is negative.
    Mint,
    /// Escrow fees collected by the swarm.
    Fees,
    /// Funds locked in open escrows.
    EscrowHolding,
}

/// An account as the ledger posts to it: wallets by their agent's registry handle, so that moving
/// money never compares ids.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PostingAccount {
    Wallet(AgentHandle),
    Mint,
    Fees,
    EscrowHolding,
}

impl fmt::Display for AccountId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountId::Wallet(agent) => formatter.write_str(agent.as_str()),
            AccountId::Mint => formatter.write_str("@mint"),
            AccountId::Fees => formatter.write_str("@fees"),
            AccountId::EscrowHolding => formatter.write_str("@escrow"),
        }
    }
}

impl Serialize for AccountId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "@mint" => Ok(AccountId::Mint),
            "@fees" => Ok(AccountId::Fees),
            "@escrow" => Ok(AccountId::EscrowHolding),
            _ => AgentId::new(text).map(AccountId::Wallet).map_err(serde::de::Error::custom),
        }
    }
}

/// One of the swarm's own accounts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SystemAccount {
    /// The operator's mint: its balance is minus the money supply.
    Mint,
    /// Escrow fees collected by the swarm.
    Fees,
    /// Funds locked in open escrows.
    EscrowHolding,
}

/// Debits and credits of one account. The balance is `credits − debits`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Total ever debited (money out).
    pub debits: u128,
    /// Total ever credited (money in).
    pub credits: u128,
}

impl Account {
    /// `credits − debits`.
    pub fn balance(&self) -> i128 {
        i128::try_from(self.credits).expect("totals fit in i128")
            - i128::try_from(self.debits).expect("totals fit in i128")
    }

    /// The balance of an account that may not go negative.
    pub fn balance_non_negative(&self) -> Amount {
        let balance = self.balance();
        assert!(balance >= 0, "a wallet balance is never negative");
        Amount(u64::try_from(balance).expect("balances are bounded by the money supply, a u64"))
    }
}

/// An agent's wallet: its account plus the policies a parent or the operator set on it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    /// The money.
    pub account: Account,
    /// The sum of open escrows this agent locked as payer (already moved to escrow holding).
    pub held_as_payer: u128,
    /// Spending per ledger day at most, when set (by the parent that opened the wallet as a child).
    pub daily_limit: Option<Amount>,
    /// When true, the agent may pay swarm members but never withdraw money out of the swarm.
    pub no_withdraw: bool,
    /// A frozen wallet can receive but not spend, and its parent cannot sweep it.
    pub frozen: bool,
    /// Set while the operator's freeze or no-withdraw is in force: then only the operator changes
    /// `frozen` and `no_withdraw`, so a parent cannot lift what the operator imposed.
    pub operator_hold: bool,
    /// The ledger day `spent_today` counts for.
    pub spent_day: u64,
    /// What the agent spent on `spent_day` (transfers, withdrawals and escrow locks).
    pub spent_today: u128,
    /// When the balance falls below this, the agent is halted until funded above it again.
    pub minimum_balance: Option<Amount>,
    /// Paid to other agents (transfers out, escrows released to others), for cost roll-ups.
    pub spent_total: u128,
    /// Received from other agents (transfers in, escrow payouts net of fees, referral income).
    pub earned_total: u128,
    /// Escrow fees deducted from this agent's payouts.
    pub fees_paid_total: u128,
}

impl Wallet {
    /// The spendable balance.
    pub fn balance(&self) -> Amount {
        self.account.balance_non_negative()
    }
}

/// The ledger's whole state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Wallets by their agent's handle: only agents that ever held money or a wallet policy.
    pub(crate) wallets: BTreeMap<AgentHandle, Wallet>,
    pub(crate) mint: Account,
    pub(crate) fees: Account,
    pub(crate) escrow_holding: Account,
    /// Transfers by `(creator, transfer id)`, for idempotency; the oldest are forgotten past a limit.
    pub(crate) transfers: BTreeMap<(Signer, Name), TransferRecord>,
    /// Retention order of `transfers`: insertion number → key.
    pub(crate) transfer_order: BTreeMap<u64, (Signer, Name)>,
    pub(crate) next_transfer_number: u64,
    /// Boxed: ids only grow, so the map's nodes stay about half full, and a node of eleven 288-byte
    /// escrows in place wastes half of its 3 KiB. Boxed, and with ids held inline (`ids.rs`), the
    /// `scale` benchmark's million agents and million escrows take 856 MiB instead of 1,336 MiB
    /// (`cargo run --release -p colony-bench -- scale`). The encoding is the same.
    pub(crate) escrows: BTreeMap<u64, Box<Escrow>>,
    pub(crate) next_escrow_id: u64,
    /// `(payer, task id)` → escrow, for idempotent locks.
    pub(crate) escrows_by_task: BTreeMap<(AgentId, Name), u64>,
    /// `(timeout, escrow)` for every escrow in state `locked`.
    pub(crate) escrow_deadlines: BTreeSet<(u64, u64)>,
    /// Settled escrows in id order, the candidates for eviction past the retention limit.
    pub(crate) settled_escrows: BTreeSet<u64>,
    pub(crate) open_escrows: u64,
    /// The sum of every wallet's balance, kept by `Ledger::post`, so that a read of the ledger's
    /// totals costs nothing however many wallets there are.
    pub(crate) wallets_total: u128,
}

impl Ledger {
    /// The wallet of the agent behind `handle`, if it ever held money.
    pub fn wallet_of(&self, handle: AgentHandle) -> Option<&Wallet> {
        self.wallets.get(&handle)
    }

    /// Locked escrows that a task's award made.
    pub(crate) fn escrows_locked_for_tasks(&self) -> impl Iterator<Item = u64> + '_ {
        self.escrow_deadlines
            .iter()
            .map(|(_, id)| &self.escrows[id])
            .filter(|escrow| escrow.for_task.is_some())
            .map(|escrow| escrow.id)
    }

    /// The balance of the swarm's own accounts: the mint (negative: the money supply), the fees, and
    /// what open escrows hold.
    pub fn system_balance(&self, account: SystemAccount) -> i128 {
        match account {
            SystemAccount::Mint => self.mint.balance(),
            SystemAccount::Fees => self.fees.balance(),
            SystemAccount::EscrowHolding => self.escrow_holding.balance(),
        }
    }

    fn account_mut(&mut self, account: PostingAccount) -> &mut Account {
        match account {
            PostingAccount::Wallet(handle) => &mut self.wallets.entry(handle).or_default().account,
            PostingAccount::Mint => &mut self.mint,
            PostingAccount::Fees => &mut self.fees,
            PostingAccount::EscrowHolding => &mut self.escrow_holding,
        }
    }

    /// Moves `amount` from `from` to `to`. The caller has validated everything; this only posts.
    pub(crate) fn post(&mut self, from: PostingAccount, to: PostingAccount, amount: Amount) {
        let amount = u128::from(amount.0);
        if matches!(from, PostingAccount::Wallet(_)) {
            self.wallets_total -= amount;
        }
        if matches!(to, PostingAccount::Wallet(_)) {
            self.wallets_total += amount;
        }
        self.account_mut(from).debits += amount;
        self.account_mut(to).credits += amount;
    }

    /// The sum of every wallet's balance (kept as money moves, not recounted).
    pub fn wallets_total(&self) -> u128 {
        self.wallets_total
    }

    /// How many wallets exist (agents that ever held money or a wallet policy).
    pub fn wallet_count(&self) -> usize {
        self.wallets.len()
    }

    /// Money in circulation: everything the mint ever issued minus what left through it.
    pub fn supply(&self) -> u128 {
        u128::try_from(-self.mint.balance()).expect("the mint's balance is never positive")
    }

    /// One escrow.
    pub fn escrow(&self, id: u64) -> Option<&Escrow> {
        self.escrows.get(&id).map(|escrow| &**escrow)
    }

    /// The escrow a payer locked for a task.
    pub fn escrow_by_task(&self, payer: &AgentId, task_id: &Name) -> Option<&Escrow> {
        self.escrows_by_task.get(&(payer.clone(), task_id.clone())).and_then(|id| self.escrow(*id))
    }

    /// Escrows with ids after `after`, in id order.
    pub fn escrows_after(&self, after: Option<u64>) -> impl Iterator<Item = &Escrow> {
        let start = after.map_or(0, |after| after.saturating_add(1));
        self.escrows.range(start..).map(|(_, escrow)| &**escrow)
    }

    /// Open escrows (locked or disputed).
    pub fn open_escrows(&self) -> u64 {
        self.open_escrows
    }

    /// A transfer by its creator and id, while it is retained.
    pub fn transfer(&self, creator: &Signer, transfer_id: &Name) -> Option<&TransferRecord> {
        self.transfers.get(&(creator.clone(), transfer_id.clone()))
    }

    /// The earliest escrow timeout.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.escrow_deadlines.first().map(|(deadline, _)| *deadline)
    }

    /// Checks the ledger's invariants: double entry balances, no negative wallet, escrow holding
    /// equals open escrows, indexes consistent.
    pub fn check_invariants(&self) -> Result<(), String> {
        // Balances are computed in i128 from the u128 totals, which postings of u64 amounts keep far
        // below i128::MAX; only a corrupt snapshot holds more, and the checks must refuse it, not
        // panic on it. Likewise the sums below are checked.
        let overflow = || "the ledger's totals overflow".to_owned();
        let mut debits: u128 = 0;
        let mut credits: u128 = 0;
        let system = [&self.mint, &self.fees, &self.escrow_holding];
        for account in system.into_iter().chain(self.wallets.values().map(|wallet| &wallet.account)) {
            if i128::try_from(account.debits).is_err() || i128::try_from(account.credits).is_err() {
                return Err(overflow());
            }
            debits = debits.checked_add(account.debits).ok_or_else(overflow)?;
            credits = credits.checked_add(account.credits).ok_or_else(overflow)?;
        }
        if self.mint.balance() < -i128::from(u64::MAX) {
            return Err("the money supply exceeds u64::MAX".to_owned());
        }
        let mut wallets_total: u128 = 0;
        for (handle, wallet) in &self.wallets {
            let balance = wallet.account.balance();
            if balance < 0 {
                return Err(format!("wallet {handle:?} is negative"));
            }
            if balance > i128::from(u64::MAX) {
                return Err(format!("wallet {handle:?} holds more than u64::MAX"));
            }
            wallets_total += u128::from(wallet.balance().0);
        }
        if wallets_total != self.wallets_total {
            return Err(format!("wallets hold {wallets_total}, counted {}", self.wallets_total));
        }
        if debits != credits {
            return Err(format!("double entry broken: debits {debits} ≠ credits {credits}"));
        }
        if self.fees.balance() < 0 || self.escrow_holding.balance() < 0 {
            return Err("a system account other than the mint is negative".to_owned());
        }
        if self.mint.balance() > 0 {
            return Err("the mint holds money".to_owned());
        }
        let mut open_sum: u128 = 0;
        let mut open_count = 0;
        let mut expected_deadlines = BTreeSet::new();
        for (id, escrow) in &self.escrows {
            if escrow.id != *id {
                return Err(format!("escrow {id} is stored under another id"));
            }
            // Settling splits the released amount by these shares, which must be parts of a whole.
            if u64::from(escrow.fee_bps) > BASIS_POINTS_ONE || u64::from(escrow.referral_bps) > BASIS_POINTS_ONE {
                return Err(format!("escrow {id} has a fee share above 10,000 basis points"));
            }
            if escrow.state.is_open() {
                open_sum += u128::from(escrow.amount.0);
                open_count += 1;
                if self.settled_escrows.contains(id) {
                    return Err(format!("open escrow {id} is listed as settled"));
                }
            } else if !self.settled_escrows.contains(id) {
                return Err(format!("settled escrow {id} is not listed as settled"));
            }
            if escrow.state == EscrowState::Locked {
                expected_deadlines.insert((escrow.timeout_at_ms, *id));
            }
        }
        if i128::try_from(open_sum).ok() != Some(self.escrow_holding.balance()) {
            return Err(format!(
                "escrow holding is {} but open escrows sum to {open_sum}",
                self.escrow_holding.balance()
            ));
        }
        if open_count != self.open_escrows {
            return Err("the open-escrow count is wrong".to_owned());
        }
        if expected_deadlines != self.escrow_deadlines {
            return Err("escrow deadlines do not match the locked escrows".to_owned());
        }
        for ((payer, _), id) in &self.escrows_by_task {
            if self.escrows.get(id).is_none_or(|escrow| &escrow.payer != payer) {
                return Err(format!("the task index names escrow {id}, which is not the payer's"));
            }
        }
        if self.transfers.len() != self.transfer_order.len() {
            return Err("the transfer retention order does not match the transfers".to_owned());
        }
        Ok(())
    }
}

impl State {
    /// An agent's wallet, if it ever held money or a wallet policy.
    pub fn wallet(&self, agent: &AgentId) -> Option<&Wallet> {
        self.ledger.wallet_of(self.registry.handle(agent)?)
    }

    /// Every wallet with its agent, in registration order.
    pub fn wallets(&self) -> impl Iterator<Item = (&AgentId, &Wallet)> {
        self.ledger.wallets.iter().map(|(handle, wallet)| (&self.registry.by_handle(*handle).id, wallet))
    }

    /// The balance of any account (wallets of agents that never held money are zero).
    pub fn balance(&self, account: &AccountId) -> i128 {
        match account {
            AccountId::Wallet(agent) => self.wallet(agent).map_or(0, |wallet| wallet.account.balance()),
            AccountId::Mint => self.ledger.system_balance(SystemAccount::Mint),
            AccountId::Fees => self.ledger.system_balance(SystemAccount::Fees),
            AccountId::EscrowHolding => self.ledger.system_balance(SystemAccount::EscrowHolding),
        }
    }

    /// The ledger's invariants that need the registry: every party of an open escrow is registered
    /// (settling reaches their wallets by handle), and every wallet belongs to a registered agent and
    /// holds as payer exactly what its open escrows lock.
    pub(crate) fn check_wallet_owners(&self) -> Result<(), String> {
        let mut held_by_payer: BTreeMap<AgentHandle, u128> = BTreeMap::new();
        for escrow in self.ledger.escrows.values().filter(|escrow| escrow.state.is_open()) {
            let parties = [Some(&escrow.payer), Some(&escrow.payee), escrow.referrer.as_ref(), escrow.arbiter.as_ref()];
            if let Some(stranger) = parties.into_iter().flatten().find(|party| !self.registry.contains(party)) {
                return Err(format!("escrow {} names '{stranger}', who was never registered", escrow.id));
            }
            let payer = self.registry.handle(&escrow.payer).expect("checked above");
            *held_by_payer.entry(payer).or_default() += u128::from(escrow.amount.0);
        }
        for (handle, wallet) in &self.ledger.wallets {
            if handle.index() >= self.registry.len() {
                return Err(format!("wallet {handle:?} belongs to no registered agent"));
            }
            if held_by_payer.remove(handle).unwrap_or(0) != wallet.held_as_payer {
                return Err(format!("wallet '{}' holds a wrong escrow total", self.registry.by_handle(*handle).id));
            }
        }
        if let Some((handle, _)) = held_by_payer.first_key_value() {
            return Err(format!("'{}' locked escrows but has no wallet", self.registry.by_handle(*handle).id));
        }
        Ok(())
    }
}

/// Hashlock digests are SHA-256 of the preimage.
pub(crate) fn hashlock_of(preimage: &[u8]) -> Digest {
    use sha2::Digest as _;
    Digest(sha2::Sha256::digest(preimage).into())
}
