//! Builders for [`Command`] values with test-friendly defaults.
//!
//! Every builder takes plain `&str` ids and names and panics on invalid ones, so that test code stays
//! short; the key of a registered agent defaults to [`key_for`] of its id.

use std::collections::BTreeSet;

use colony_core::{AgentId, Amount, Command, Digest, EscrowResolution, Name, PublicKey, SwarmConfig, TransferRequest};

use super::keys::{agent_id, digest_for, hashlock_for, key_for, name, names};

/// An `agent.register` command under construction. Defaults: the key is `key_for(agent)`, no
/// capabilities, no weight (the role's default applies), no parent, no referrer.
#[derive(Clone, Debug)]
pub struct Register {
    agent: AgentId,
    public_key: PublicKey,
    role: Name,
    capabilities: BTreeSet<Name>,
    weight: Option<u32>,
    parent: Option<AgentId>,
    referrer: Option<AgentId>,
}

impl Register {
    /// Registers `agent` with `role`.
    #[track_caller]
    pub fn new(agent: &str, role: &str) -> Register {
        Register {
            agent: agent_id(agent),
            public_key: key_for(agent),
            role: name(role),
            capabilities: BTreeSet::new(),
            weight: None,
            parent: None,
            referrer: None,
        }
    }

    /// Uses `public_key` instead of `key_for(agent)`.
    pub fn key(mut self, public_key: PublicKey) -> Register {
        self.public_key = public_key;
        self
    }

    /// Sets the capabilities.
    #[track_caller]
    pub fn capabilities<'a>(mut self, capabilities: impl IntoIterator<Item = &'a str>) -> Register {
        self.capabilities = names(capabilities);
        self
    }

    /// Sets the capabilities from an already built set.
    pub fn capability_set(mut self, capabilities: BTreeSet<Name>) -> Register {
        self.capabilities = capabilities;
        self
    }

    /// Asks for a weight (only the operator may).
    pub fn weight(mut self, weight: u32) -> Register {
        self.weight = Some(weight);
        self
    }

    /// Names a parent.
    #[track_caller]
    pub fn parent(mut self, parent: &str) -> Register {
        self.parent = Some(agent_id(parent));
        self
    }

    /// Names a referrer.
    #[track_caller]
    pub fn referrer(mut self, referrer: &str) -> Register {
        self.referrer = Some(agent_id(referrer));
        self
    }

    /// The command.
    pub fn build(self) -> Command {
        Command::RegisterAgent {
            agent: self.agent,
            public_key: self.public_key,
            role: self.role,
            capabilities: self.capabilities,
            weight: self.weight,
            parent: self.parent,
            referrer: self.referrer,
        }
    }
}

impl From<Register> for Command {
    fn from(register: Register) -> Command {
        register.build()
    }
}

/// An `agent.update` command under construction; by default it changes nothing.
#[derive(Clone, Debug)]
pub struct Update {
    agent: AgentId,
    role: Option<Name>,
    capabilities: Option<BTreeSet<Name>>,
    weight: Option<u32>,
}

impl Update {
    /// Updates `agent`.
    #[track_caller]
    pub fn new(agent: &str) -> Update {
        Update { agent: agent_id(agent), role: None, capabilities: None, weight: None }
    }

    /// Asks for a new role.
    #[track_caller]
    pub fn role(mut self, role: &str) -> Update {
        self.role = Some(name(role));
        self
    }

    /// Asks for a new, complete set of capabilities.
    #[track_caller]
    pub fn capabilities<'a>(mut self, capabilities: impl IntoIterator<Item = &'a str>) -> Update {
        self.capabilities = Some(names(capabilities));
        self
    }

    /// Asks for a new set of capabilities, already built.
    pub fn capability_set(mut self, capabilities: BTreeSet<Name>) -> Update {
        self.capabilities = Some(capabilities);
        self
    }

    /// Asks for a new weight.
    pub fn weight(mut self, weight: u32) -> Update {
        self.weight = Some(weight);
        self
    }

    /// The command.
    pub fn build(self) -> Command {
        Command::UpdateAgent {
            agent: self.agent,
            role: self.role,
            capabilities: self.capabilities,
            weight: self.weight,
        }
    }
}

impl From<Update> for Command {
    fn from(update: Update) -> Command {
        update.build()
    }
}

/// `agent.register` of `agent` with `role` and all defaults (see [`Register`]).
#[track_caller]
pub fn register(agent: &str, role: &str) -> Command {
    Register::new(agent, role).build()
}

/// `agent.heartbeat`.
pub fn heartbeat() -> Command {
    Command::Heartbeat {}
}

/// `agent.halt` of `agent`, with a reason.
#[track_caller]
pub fn halt(agent: &str, reason: &str) -> Command {
    Command::HaltAgent { agent: agent_id(agent), reason: reason.to_owned() }
}

/// `agent.resume` of `agent`.
#[track_caller]
pub fn resume(agent: &str) -> Command {
    Command::ResumeAgent { agent: agent_id(agent) }
}

/// `agent.deregister` of `agent`.
#[track_caller]
pub fn deregister(agent: &str) -> Command {
    Command::DeregisterAgent { agent: agent_id(agent) }
}

/// `config.set`.
pub fn set_config(config: SwarmConfig) -> Command {
    Command::SetConfig { config }
}

/// `read_token.issue` of the token whose text is `token_text` (fingerprinted with [`digest_for`]).
pub fn issue_read_token(token_text: &str, label: &str, expires_at_ms: Option<u64>) -> Command {
    Command::IssueReadToken { token_sha256: digest_for(token_text), label: label.to_owned(), expires_at_ms }
}

/// `read_token.revoke` of the token whose text is `token_text`.
pub fn revoke_read_token(token_text: &str) -> Command {
    Command::RevokeReadToken { token_sha256: digest_for(token_text) }
}

/// The default configuration with another heartbeat TTL.
pub fn config_with_ttl(heartbeat_ttl_ms: u64) -> SwarmConfig {
    SwarmConfig { heartbeat_ttl_ms, ..SwarmConfig::default() }
}

// ----- Ledger -----

/// The escrow timeout [`Lock`] uses unless told otherwise: one minute.
pub const DEFAULT_ESCROW_TIMEOUT_MS: u64 = 60_000;

/// `ledger.mint` of `amount` minor units into `to`'s wallet, under the operator's `transfer_id`.
#[track_caller]
pub fn mint(transfer_id: &str, to: &str, amount: u64) -> Command {
    Command::Mint { transfer_id: name(transfer_id), to: agent_id(to), amount: Amount(amount) }
}

/// `ledger.transfer` of `amount` to `to`, under the signer's `transfer_id`.
#[track_caller]
pub fn transfer(transfer_id: &str, to: &str, amount: u64) -> Command {
    Command::Transfer { transfer_id: name(transfer_id), to: agent_id(to), amount: Amount(amount) }
}

/// One member of a linked batch (see [`transfer_batch`]).
#[track_caller]
pub fn transfer_request(transfer_id: &str, to: &str, amount: u64) -> TransferRequest {
    TransferRequest { transfer_id: name(transfer_id), to: agent_id(to), amount: Amount(amount) }
}

/// `ledger.transfer_batch`: the transfers, applied all or nothing.
pub fn transfer_batch(transfers: impl IntoIterator<Item = TransferRequest>) -> Command {
    Command::TransferBatch { transfers: transfers.into_iter().collect() }
}

/// `ledger.withdraw` of `amount` out of the swarm, under the signer's `transfer_id`.
#[track_caller]
pub fn withdraw(transfer_id: &str, amount: u64) -> Command {
    Command::Withdraw { transfer_id: name(transfer_id), amount: Amount(amount) }
}

/// `wallet.sweep` of `amount` from `child`'s wallet to the signer's (its parent's).
#[track_caller]
pub fn sweep(child: &str, transfer_id: &str, amount: u64) -> Command {
    Command::Sweep { child: agent_id(child), transfer_id: name(transfer_id), amount: Amount(amount) }
}

/// A `wallet.configure` command under construction; by default it changes nothing (every field
/// absent).
#[derive(Clone, Debug)]
pub struct WalletPolicy {
    agent: AgentId,
    daily_limit: Option<Option<Amount>>,
    no_withdraw: Option<bool>,
    frozen: Option<bool>,
    minimum_balance: Option<Option<Amount>>,
}

impl WalletPolicy {
    /// Configures `agent`'s wallet.
    #[track_caller]
    pub fn new(agent: &str) -> WalletPolicy {
        WalletPolicy {
            agent: agent_id(agent),
            daily_limit: None,
            no_withdraw: None,
            frozen: None,
            minimum_balance: None,
        }
    }

    /// Sets a daily spending limit.
    pub fn daily_limit(mut self, limit: u64) -> WalletPolicy {
        self.daily_limit = Some(Some(Amount(limit)));
        self
    }

    /// Clears the daily limit (`null` on the wire).
    pub fn clear_daily_limit(mut self) -> WalletPolicy {
        self.daily_limit = Some(None);
        self
    }

    /// Forbids (or allows again) withdrawals.
    pub fn no_withdraw(mut self, no_withdraw: bool) -> WalletPolicy {
        self.no_withdraw = Some(no_withdraw);
        self
    }

    /// Freezes (or unfreezes) the wallet.
    pub fn frozen(mut self, frozen: bool) -> WalletPolicy {
        self.frozen = Some(frozen);
        self
    }

    /// Sets a budget minimum.
    pub fn minimum_balance(mut self, minimum: u64) -> WalletPolicy {
        self.minimum_balance = Some(Some(Amount(minimum)));
        self
    }

    /// Clears the budget minimum.
    pub fn clear_minimum_balance(mut self) -> WalletPolicy {
        self.minimum_balance = Some(None);
        self
    }

    /// The command.
    pub fn build(self) -> Command {
        Command::ConfigureWallet {
            agent: self.agent,
            daily_limit: self.daily_limit,
            no_withdraw: self.no_withdraw,
            frozen: self.frozen,
            minimum_balance: self.minimum_balance,
        }
    }
}

impl From<WalletPolicy> for Command {
    fn from(policy: WalletPolicy) -> Command {
        policy.build()
    }
}

/// `wallet.configure` of `agent` (a [`WalletPolicy`] that changes nothing until told to).
#[track_caller]
pub fn configure_wallet(agent: &str) -> WalletPolicy {
    WalletPolicy::new(agent)
}

/// An `escrow.lock` command under construction. Defaults: a timeout of
/// [`DEFAULT_ESCROW_TIMEOUT_MS`], no task id, arbiter, hashlock or referrer.
#[derive(Clone, Debug)]
pub struct Lock {
    payee: AgentId,
    amount: Amount,
    timeout_ms: u64,
    task_id: Option<Name>,
    arbiter: Option<AgentId>,
    hashlock: Option<Digest>,
    referrer: Option<AgentId>,
}

impl Lock {
    /// Locks `amount` for `payee`.
    #[track_caller]
    pub fn new(payee: &str, amount: u64) -> Lock {
        Lock {
            payee: agent_id(payee),
            amount: Amount(amount),
            timeout_ms: DEFAULT_ESCROW_TIMEOUT_MS,
            task_id: None,
            arbiter: None,
            hashlock: None,
            referrer: None,
        }
    }

    /// Sets the timeout.
    pub fn timeout_ms(mut self, timeout_ms: u64) -> Lock {
        self.timeout_ms = timeout_ms;
        self
    }

    /// Sets the payer's task id.
    #[track_caller]
    pub fn task_id(mut self, task_id: &str) -> Lock {
        self.task_id = Some(name(task_id));
        self
    }

    /// Names an arbiter.
    #[track_caller]
    pub fn arbiter(mut self, arbiter: &str) -> Lock {
        self.arbiter = Some(agent_id(arbiter));
        self
    }

    /// Locks with the hashlock of `preimage` (its SHA-256, see [`hashlock_for`]).
    pub fn hashlock(mut self, preimage: &str) -> Lock {
        self.hashlock = Some(hashlock_for(preimage));
        self
    }

    /// Locks with a hashlock given as a digest.
    pub fn hashlock_digest(mut self, hashlock: Digest) -> Lock {
        self.hashlock = Some(hashlock);
        self
    }

    /// Names a referrer.
    #[track_caller]
    pub fn referrer(mut self, referrer: &str) -> Lock {
        self.referrer = Some(agent_id(referrer));
        self
    }

    /// The command.
    pub fn build(self) -> Command {
        Command::LockEscrow {
            payee: self.payee,
            amount: self.amount,
            timeout_ms: self.timeout_ms,
            task_id: self.task_id,
            arbiter: self.arbiter,
            hashlock: self.hashlock,
            referrer: self.referrer,
        }
    }
}

impl From<Lock> for Command {
    fn from(lock: Lock) -> Command {
        lock.build()
    }
}

/// `escrow.lock` of `amount` for `payee` with all defaults (see [`Lock`]).
#[track_caller]
pub fn lock(payee: &str, amount: u64) -> Command {
    Lock::new(payee, amount).build()
}

/// `escrow.release` of `escrow`, without a preimage (the payer or arbiter signs).
pub fn release(escrow: u64) -> Command {
    Command::ReleaseEscrow { escrow, preimage: None }
}

/// `escrow.release` of `escrow` presenting the hashlock's `preimage`.
pub fn release_with_preimage(escrow: u64, preimage: &str) -> Command {
    Command::ReleaseEscrow { escrow, preimage: Some(preimage.to_owned()) }
}

/// `escrow.refund` of `escrow`.
pub fn refund(escrow: u64) -> Command {
    Command::RefundEscrow { escrow }
}

/// `escrow.dispute` of `escrow`, with a reason.
pub fn dispute(escrow: u64, reason: &str) -> Command {
    Command::DisputeEscrow { escrow, reason: reason.to_owned() }
}

/// `escrow.resolve` of `escrow`.
pub fn resolve(escrow: u64, resolution: EscrowResolution) -> Command {
    Command::ResolveEscrow { escrow, resolution }
}

/// `escrow.resolve` of `escrow` giving the payee `payee_bps` basis points of it.
pub fn resolve_split(escrow: u64, payee_bps: u16) -> Command {
    resolve(escrow, EscrowResolution::Split { payee_bps })
}
