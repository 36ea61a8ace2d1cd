//! Builders for [`Command`] values with test-friendly defaults.
//!
//! Every builder takes plain `&str` ids and names and panics on invalid ones, so that test code stays
//! short; the key of a registered agent defaults to [`key_for`] of its id.

use std::collections::{BTreeMap, BTreeSet};

use colony_core::bus::{AckKind, DeliverPolicy, Discard, JsonText, Pattern, Priority, Subject};
use colony_core::{
    AgentId, Amount, Command, Digest, EscrowResolution, Name, PublicKey, Signature, SwarmConfig, TransferRequest,
};

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
        Command::RegisterAgent(colony_core::command::RegisterAgent {
            agent: self.agent,
            public_key: self.public_key,
            role: self.role,
            capabilities: self.capabilities,
            weight: self.weight,
            parent: self.parent,
            referrer: self.referrer,
        })
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
        Command::UpdateAgent(colony_core::command::UpdateAgent {
            agent: self.agent,
            role: self.role,
            capabilities: self.capabilities,
            weight: self.weight,
        })
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
    Command::Heartbeat(colony_core::command::Heartbeat {})
}

/// `agent.halt` of `agent`, with a reason.
#[track_caller]
pub fn halt(agent: &str, reason: &str) -> Command {
    Command::HaltAgent(colony_core::command::HaltAgent { agent: agent_id(agent), reason: reason.to_owned() })
}

/// `agent.resume` of `agent`.
#[track_caller]
pub fn resume(agent: &str) -> Command {
    Command::ResumeAgent(colony_core::command::ResumeAgent { agent: agent_id(agent) })
}

/// `agent.deregister` of `agent`.
#[track_caller]
pub fn deregister(agent: &str) -> Command {
    Command::DeregisterAgent(colony_core::command::DeregisterAgent { agent: agent_id(agent) })
}

/// `config.set`.
pub fn set_config(config: SwarmConfig) -> Command {
    Command::SetConfig(colony_core::command::SetConfig { config })
}

/// `read_token.issue` of the token whose text is `token_text` (fingerprinted with [`digest_for`]).
pub fn issue_read_token(token_text: &str, label: &str, expires_at_ms: Option<u64>) -> Command {
    Command::IssueReadToken(colony_core::command::IssueReadToken {
        token_sha256: digest_for(token_text),
        label: label.to_owned(),
        expires_at_ms,
    })
}

/// `read_token.revoke` of the token whose text is `token_text`.
pub fn revoke_read_token(token_text: &str) -> Command {
    Command::RevokeReadToken(colony_core::command::RevokeReadToken { token_sha256: digest_for(token_text) })
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
    Command::Mint(colony_core::command::Mint {
        transfer_id: name(transfer_id),
        to: agent_id(to),
        amount: Amount(amount),
    })
}

/// `ledger.transfer` of `amount` to `to`, under the signer's `transfer_id`.
#[track_caller]
pub fn transfer(transfer_id: &str, to: &str, amount: u64) -> Command {
    Command::Transfer(colony_core::command::Transfer {
        transfer_id: name(transfer_id),
        to: agent_id(to),
        amount: Amount(amount),
    })
}

/// One member of a linked batch (see [`transfer_batch`]).
#[track_caller]
pub fn transfer_request(transfer_id: &str, to: &str, amount: u64) -> TransferRequest {
    TransferRequest { transfer_id: name(transfer_id), to: agent_id(to), amount: Amount(amount) }
}

/// `ledger.transfer_batch`: the transfers, applied all or nothing.
pub fn transfer_batch(transfers: impl IntoIterator<Item = TransferRequest>) -> Command {
    Command::TransferBatch(colony_core::command::TransferBatch { transfers: transfers.into_iter().collect() })
}

/// `ledger.withdraw` of `amount` out of the swarm, under the signer's `transfer_id`.
#[track_caller]
pub fn withdraw(transfer_id: &str, amount: u64) -> Command {
    Command::Withdraw(colony_core::command::Withdraw { transfer_id: name(transfer_id), amount: Amount(amount) })
}

/// `wallet.sweep` of `amount` from `child`'s wallet to the signer's (its parent's).
#[track_caller]
pub fn sweep(child: &str, transfer_id: &str, amount: u64) -> Command {
    Command::Sweep(colony_core::command::Sweep {
        child: agent_id(child),
        transfer_id: name(transfer_id),
        amount: Amount(amount),
    })
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
        Command::ConfigureWallet(colony_core::command::ConfigureWallet {
            agent: self.agent,
            daily_limit: self.daily_limit,
            no_withdraw: self.no_withdraw,
            frozen: self.frozen,
            minimum_balance: self.minimum_balance,
        })
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
    description: Option<String>,
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
            description: None,
        }
    }

    /// Says what the money is for.
    pub fn description(mut self, description: &str) -> Lock {
        self.description = Some(description.to_owned());
        self
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
        Command::LockEscrow(colony_core::command::LockEscrow {
            payee: self.payee,
            amount: self.amount,
            timeout_ms: self.timeout_ms,
            task_id: self.task_id,
            arbiter: self.arbiter,
            hashlock: self.hashlock,
            referrer: self.referrer,
            description: self.description,
        })
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
    Command::ReleaseEscrow(colony_core::command::ReleaseEscrow { escrow, preimage: None })
}

/// `escrow.release` of `escrow` presenting the hashlock's `preimage`.
pub fn release_with_preimage(escrow: u64, preimage: &str) -> Command {
    Command::ReleaseEscrow(colony_core::command::ReleaseEscrow { escrow, preimage: Some(preimage.to_owned()) })
}

/// `escrow.extend`: the escrow now expires `timeout_ms` from the entry's time.
pub fn extend(escrow: u64, timeout_ms: u64) -> Command {
    Command::ExtendEscrow(colony_core::command::ExtendEscrow { escrow, timeout_ms })
}

/// `escrow.refund` of `escrow`.
pub fn refund(escrow: u64) -> Command {
    Command::RefundEscrow(colony_core::command::RefundEscrow { escrow })
}

/// `escrow.dispute` of `escrow`, with a reason.
pub fn dispute(escrow: u64, reason: &str) -> Command {
    Command::DisputeEscrow(colony_core::command::DisputeEscrow { escrow, reason: reason.to_owned() })
}

/// `escrow.resolve` of `escrow`.
pub fn resolve(escrow: u64, resolution: EscrowResolution) -> Command {
    Command::ResolveEscrow(colony_core::command::ResolveEscrow { escrow, resolution })
}

/// `escrow.resolve` of `escrow` giving the payee `payee_bps` basis points of it.
pub fn resolve_split(escrow: u64, payee_bps: u16) -> Command {
    resolve(escrow, EscrowResolution::Split { payee_bps })
}

// ----- Bus: durable streams -----

/// A `stream.create` command under construction. Defaults: no message, byte or age limits (the
/// absolute maxima and defaults apply), discard `old`, the default duplicate window.
#[derive(Clone, Debug)]
pub struct CreateStreamBuilder {
    name: Name,
    subjects: BTreeSet<Pattern>,
    max_messages: Option<u64>,
    max_bytes: Option<u64>,
    max_age_ms: Option<u64>,
    discard: Discard,
    duplicate_window_ms: u64,
}

impl CreateStreamBuilder {
    /// Creates stream `name` capturing `subjects` (patterns).
    #[track_caller]
    pub fn new<'a>(name_text: &str, subjects: impl IntoIterator<Item = &'a str>) -> CreateStreamBuilder {
        CreateStreamBuilder {
            name: name(name_text),
            subjects: subjects.into_iter().map(pattern).collect(),
            max_messages: None,
            max_bytes: None,
            max_age_ms: None,
            discard: Discard::Old,
            duplicate_window_ms: colony_core::limits::DUPLICATE_WINDOW_MS_DEFAULT,
        }
    }

    /// Keeps at most this many messages.
    pub fn max_messages(mut self, max_messages: u64) -> CreateStreamBuilder {
        self.max_messages = Some(max_messages);
        self
    }

    /// Keeps at most this many bytes.
    pub fn max_bytes(mut self, max_bytes: u64) -> CreateStreamBuilder {
        self.max_bytes = Some(max_bytes);
        self
    }

    /// Removes messages older than this.
    pub fn max_age_ms(mut self, max_age_ms: u64) -> CreateStreamBuilder {
        self.max_age_ms = Some(max_age_ms);
        self
    }

    /// Refuses new messages when full instead of dropping old ones.
    pub fn discard_new(mut self) -> CreateStreamBuilder {
        self.discard = Discard::New;
        self
    }

    /// Sets the duplicate window.
    pub fn duplicate_window_ms(mut self, duplicate_window_ms: u64) -> CreateStreamBuilder {
        self.duplicate_window_ms = duplicate_window_ms;
        self
    }

    /// The command.
    pub fn build(self) -> Command {
        Command::CreateStream(colony_core::command::CreateStream {
            name: self.name,
            subjects: self.subjects,
            max_messages: self.max_messages,
            max_bytes: self.max_bytes,
            max_age_ms: self.max_age_ms,
            discard: self.discard,
            duplicate_window_ms: self.duplicate_window_ms,
        })
    }
}

impl From<CreateStreamBuilder> for Command {
    fn from(create: CreateStreamBuilder) -> Command {
        create.build()
    }
}

/// `stream.create` of `name` capturing `subjects`, with all defaults (see [`CreateStreamBuilder`]).
#[track_caller]
pub fn create_stream<'a>(name_text: &str, subjects: impl IntoIterator<Item = &'a str>) -> Command {
    CreateStreamBuilder::new(name_text, subjects).build()
}

/// `stream.delete` of `name`.
#[track_caller]
pub fn delete_stream(name_text: &str) -> Command {
    Command::DeleteStream(colony_core::command::DeleteStream { name: name(name_text) })
}

/// Parses a subject; panics on an invalid one.
#[track_caller]
pub fn subject(text: &str) -> Subject {
    Subject::new(text).unwrap_or_else(|error| panic!("'{text}' is not a valid subject: {error}"))
}

/// Parses a pattern; panics on an invalid one.
#[track_caller]
pub fn pattern(text: &str) -> Pattern {
    Pattern::new(text).unwrap_or_else(|error| panic!("'{text}' is not a valid pattern: {error}"))
}

/// A `bus.publish` command under construction; by default no id, type, headers or payload.
#[derive(Clone, Debug)]
pub struct PublishBuilder {
    subject: Subject,
    message_id: Option<Name>,
    message_type: Option<Name>,
    priority: Priority,
    correlation_id: Option<Name>,
    reply_to: Option<Subject>,
    headers: BTreeMap<Name, String>,
    payload: Option<JsonText>,
    payload_base64: Option<String>,
    payload_signature: Option<Signature>,
    encrypted_to: Option<AgentId>,
}

impl PublishBuilder {
    /// Publishes to `subject`.
    #[track_caller]
    pub fn new(subject_text: &str) -> PublishBuilder {
        PublishBuilder {
            subject: subject(subject_text),
            message_id: None,
            message_type: None,
            priority: Priority::Normal,
            correlation_id: None,
            reply_to: None,
            headers: BTreeMap::new(),
            payload: None,
            payload_base64: None,
            payload_signature: None,
            encrypted_to: None,
        }
    }

    /// Sets the message id (for deduplication).
    #[track_caller]
    pub fn message_id(mut self, message_id: &str) -> PublishBuilder {
        self.message_id = Some(name(message_id));
        self
    }

    /// Sets the message type.
    #[track_caller]
    pub fn message_type(mut self, message_type: &str) -> PublishBuilder {
        self.message_type = Some(name(message_type));
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: Priority) -> PublishBuilder {
        self.priority = priority;
        self
    }

    /// Sets the correlation id.
    #[track_caller]
    pub fn correlation_id(mut self, correlation_id: &str) -> PublishBuilder {
        self.correlation_id = Some(name(correlation_id));
        self
    }

    /// Sets the reply subject.
    #[track_caller]
    pub fn reply_to(mut self, reply_to: &str) -> PublishBuilder {
        self.reply_to = Some(subject(reply_to));
        self
    }

    /// Adds a header.
    #[track_caller]
    pub fn header(mut self, key: &str, value: &str) -> PublishBuilder {
        self.headers.insert(name(key), value.to_owned());
        self
    }

    /// Sets a JSON payload from JSON text; panics when it is not JSON.
    #[track_caller]
    pub fn json(mut self, text: &str) -> PublishBuilder {
        self.payload = Some(JsonText::parse(text).unwrap_or_else(|| panic!("{text:?} is not JSON")));
        self
    }

    /// Sets a binary payload as base64 text (not checked, so tests can send bad base64).
    pub fn base64(mut self, text: &str) -> PublishBuilder {
        self.payload_base64 = Some(text.to_owned());
        self
    }

    /// Sets the payload signature.
    pub fn signature(mut self, signature: Signature) -> PublishBuilder {
        self.payload_signature = Some(signature);
        self
    }

    /// Marks the payload as encrypted to `agent`.
    #[track_caller]
    pub fn encrypted_to(mut self, agent: &str) -> PublishBuilder {
        self.encrypted_to = Some(agent_id(agent));
        self
    }

    /// The command.
    pub fn build(self) -> Command {
        Command::Publish(colony_core::command::Publish {
            subject: self.subject,
            message_id: self.message_id,
            message_type: self.message_type,
            priority: self.priority,
            correlation_id: self.correlation_id,
            reply_to: self.reply_to,
            headers: self.headers,
            payload: self.payload,
            payload_base64: self.payload_base64,
            payload_signature: self.payload_signature,
            encrypted_to: self.encrypted_to,
        })
    }
}

impl From<PublishBuilder> for Command {
    fn from(publish: PublishBuilder) -> Command {
        publish.build()
    }
}

/// `bus.publish` to `subject` with a JSON payload.
#[track_caller]
pub fn publish(subject_text: &str, json: &str) -> Command {
    PublishBuilder::new(subject_text).json(json).build()
}

/// A `consumer.create` command under construction, with JetStream's defaults: deliver all, ack wait
/// 30 s, 5 deliveries, no backoff, 1,000 pending.
#[derive(Clone, Debug)]
pub struct CreateConsumerBuilder {
    stream: Name,
    name: Name,
    filter: Option<Pattern>,
    deliver: DeliverPolicy,
    ack_wait_ms: u64,
    max_deliver: u32,
    backoff_ms: Vec<u64>,
    max_ack_pending: u32,
    agents: BTreeSet<AgentId>,
    roles: BTreeSet<Name>,
}

impl CreateConsumerBuilder {
    /// Creates consumer `name` on `stream`.
    #[track_caller]
    pub fn new(stream: &str, name_text: &str) -> CreateConsumerBuilder {
        CreateConsumerBuilder {
            stream: name(stream),
            name: name(name_text),
            filter: None,
            deliver: DeliverPolicy::All,
            ack_wait_ms: colony_core::limits::ACK_WAIT_MS_DEFAULT,
            max_deliver: colony_core::limits::MAX_DELIVER_DEFAULT,
            backoff_ms: Vec::new(),
            max_ack_pending: colony_core::limits::MAX_ACK_PENDING_DEFAULT,
            agents: BTreeSet::new(),
            roles: BTreeSet::new(),
        }
    }

    /// Lets these agents fetch from the consumer too.
    #[track_caller]
    pub fn agents<'a>(mut self, agents: impl IntoIterator<Item = &'a str>) -> CreateConsumerBuilder {
        self.agents.extend(agents.into_iter().map(agent_id));
        self
    }

    /// Lets agents of these roles fetch from the consumer too.
    #[track_caller]
    pub fn roles<'a>(mut self, roles: impl IntoIterator<Item = &'a str>) -> CreateConsumerBuilder {
        self.roles.extend(roles.into_iter().map(name));
        self
    }

    /// Delivers only messages matching `filter`.
    #[track_caller]
    pub fn filter(mut self, filter: &str) -> CreateConsumerBuilder {
        self.filter = Some(pattern(filter));
        self
    }

    /// Sets where delivery starts.
    pub fn deliver(mut self, deliver: DeliverPolicy) -> CreateConsumerBuilder {
        self.deliver = deliver;
        self
    }

    /// Sets the ack wait.
    pub fn ack_wait_ms(mut self, ack_wait_ms: u64) -> CreateConsumerBuilder {
        self.ack_wait_ms = ack_wait_ms;
        self
    }

    /// Sets the deliveries per message at most.
    pub fn max_deliver(mut self, max_deliver: u32) -> CreateConsumerBuilder {
        self.max_deliver = max_deliver;
        self
    }

    /// Sets the backoff steps.
    pub fn backoff_ms(mut self, backoff_ms: impl IntoIterator<Item = u64>) -> CreateConsumerBuilder {
        self.backoff_ms = backoff_ms.into_iter().collect();
        self
    }

    /// Sets the pending deliveries at most.
    pub fn max_ack_pending(mut self, max_ack_pending: u32) -> CreateConsumerBuilder {
        self.max_ack_pending = max_ack_pending;
        self
    }

    /// The command.
    pub fn build(self) -> Command {
        Command::CreateConsumer(colony_core::command::CreateConsumer {
            stream: self.stream,
            name: self.name,
            filter: self.filter,
            deliver: self.deliver,
            ack_wait_ms: self.ack_wait_ms,
            max_deliver: self.max_deliver,
            backoff_ms: self.backoff_ms,
            max_ack_pending: self.max_ack_pending,
            agents: self.agents,
            roles: self.roles,
        })
    }
}

impl From<CreateConsumerBuilder> for Command {
    fn from(create: CreateConsumerBuilder) -> Command {
        create.build()
    }
}

/// `consumer.create` of `name` on `stream` with all defaults (see [`CreateConsumerBuilder`]).
#[track_caller]
pub fn create_consumer(stream: &str, name_text: &str) -> Command {
    CreateConsumerBuilder::new(stream, name_text).build()
}

/// `consumer.delete`.
#[track_caller]
pub fn delete_consumer(stream: &str, name_text: &str) -> Command {
    Command::DeleteConsumer(colony_core::command::DeleteConsumer { stream: name(stream), name: name(name_text) })
}

/// `consumer.fetch` of up to `batch` messages.
#[track_caller]
pub fn fetch(stream: &str, consumer: &str, batch: u32) -> Command {
    Command::Fetch(colony_core::command::Fetch {
        stream: name(stream),
        consumer: name(consumer),
        batch,
        max_bytes: None,
    })
}

/// `consumer.fetch` of up to `batch` messages and `max_bytes` bytes.
#[track_caller]
pub fn fetch_bytes(stream: &str, consumer: &str, batch: u32, max_bytes: u64) -> Command {
    Command::Fetch(colony_core::command::Fetch {
        stream: name(stream),
        consumer: name(consumer),
        batch,
        max_bytes: Some(max_bytes),
    })
}

/// `consumer.ack` of `sequences` with `kind`.
#[track_caller]
pub fn acknowledge(stream: &str, consumer: &str, sequences: &[u64], kind: AckKind) -> Command {
    Command::Ack(colony_core::command::Ack {
        stream: name(stream),
        consumer: name(consumer),
        sequences: sequences.to_vec(),
        kind,
    })
}

/// `consumer.ack` (done) of `sequences`.
#[track_caller]
pub fn ack(stream: &str, consumer: &str, sequences: &[u64]) -> Command {
    acknowledge(stream, consumer, sequences, AckKind::Ack)
}

/// `consumer.ack` with a nak: redeliver after `delay_ms`, recording `error`.
#[track_caller]
pub fn nak(stream: &str, consumer: &str, sequences: &[u64], delay_ms: u64, error: Option<&str>) -> Command {
    acknowledge(stream, consumer, sequences, AckKind::Nak { delay_ms, error: error.map(str::to_owned) })
}

/// `consumer.ack` marking `sequences` in progress.
#[track_caller]
pub fn in_progress(stream: &str, consumer: &str, sequences: &[u64]) -> Command {
    acknowledge(stream, consumer, sequences, AckKind::InProgress)
}

/// `consumer.ack` terminating `sequences`.
#[track_caller]
pub fn term(stream: &str, consumer: &str, sequences: &[u64], reason: Option<&str>) -> Command {
    acknowledge(stream, consumer, sequences, AckKind::Term { reason: reason.map(str::to_owned) })
}

/// `dlq.replay` of dead letters `ids` of `stream`.
#[track_caller]
pub fn replay_dead_letters(stream: &str, ids: &[u64]) -> Command {
    Command::ReplayDeadLetters(colony_core::command::ReplayDeadLetters {
        stream: name(stream),
        dead_letters: ids.to_vec(),
    })
}

/// `dlq.discard` of dead letters `ids` of `stream`.
#[track_caller]
pub fn discard_dead_letters(stream: &str, ids: &[u64]) -> Command {
    Command::DiscardDeadLetters(colony_core::command::DiscardDeadLetters {
        stream: name(stream),
        dead_letters: ids.to_vec(),
    })
}
