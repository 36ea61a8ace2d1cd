//! Commands: the only way to ask for a change of state.
//!
//! A command says what its signer wants; the state machine decides whether the signer may have it.
//! Nothing in a command is trusted: weights, statuses and times are computed by the state machine.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::bus::{AckKind, DeliverPolicy, Discard, JsonText, Pattern, Priority, Subject};
use crate::config::SwarmConfig;
use crate::ids::{AgentId, Digest, Name, PublicKey, Signature};
use crate::ledger::{EscrowResolution, TransferRequest};
use crate::limits;

/// Decodes a present field (even `null`) as `Some`, so that an absent field (`None`, via `default`)
/// means "leave as it is" and `null` means "clear".
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

fn default_duplicate_window_ms() -> u64 {
    limits::DUPLICATE_WINDOW_MS_DEFAULT
}

fn default_ack_wait_ms() -> u64 {
    limits::ACK_WAIT_MS_DEFAULT
}

fn default_max_deliver() -> u32 {
    limits::MAX_DELIVER_DEFAULT
}

fn default_max_ack_pending() -> u32 {
    limits::MAX_ACK_PENDING_DEFAULT
}

/// One requested change. In JSON, the `type` field names the variant (`"agent.register"`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Command {
    /// Registers an agent. Signed by the agent itself (when the swarm allows self-registration), by its
    /// parent (which must be the signer), or by the operator.
    #[serde(rename = "agent.register")]
    RegisterAgent {
        /// The new agent's id; never reused once taken.
        agent: AgentId,
        /// The Ed25519 key that will sign the agent's envelopes.
        public_key: PublicKey,
        /// One of the roles in the swarm configuration.
        role: Name,
        /// What the agent can do, for task routing.
        #[serde(default)]
        capabilities: BTreeSet<Name>,
        /// The voting weight. Only the operator may set it; otherwise the role's default applies.
        #[serde(default)]
        weight: Option<u32>,
        /// The agent that spawned this one. When a non-operator agent signs, it must name itself.
        #[serde(default)]
        parent: Option<AgentId>,
        /// The agent that earns referral income on this agent's activity.
        #[serde(default)]
        referrer: Option<AgentId>,
    },
    /// Changes an agent's role, capabilities or weight. The agent itself may change its capabilities;
    /// its parent also its role; the operator anything.
    #[serde(rename = "agent.update")]
    UpdateAgent {
        /// The agent to change.
        agent: AgentId,
        /// A new role.
        #[serde(default)]
        role: Option<Name>,
        /// A new, complete set of capabilities.
        #[serde(default)]
        capabilities: Option<BTreeSet<Name>>,
        /// A new weight (operator only).
        #[serde(default)]
        weight: Option<u32>,
    },
    /// Tells the swarm the signing agent is alive.
    #[serde(rename = "agent.heartbeat")]
    Heartbeat {},
    /// Stops an agent's writes (other than heartbeats). Operator or the agent's parent.
    #[serde(rename = "agent.halt")]
    HaltAgent {
        /// The agent to halt.
        agent: AgentId,
        /// Why, for the record.
        #[serde(default)]
        reason: String,
    },
    /// Lifts a halt. The operator lifts any halt; a parent lifts only halts it imposed itself.
    #[serde(rename = "agent.resume")]
    ResumeAgent {
        /// The agent to resume.
        agent: AgentId,
    },
    /// Removes an agent from the swarm for good. The agent itself, its parent, or the operator.
    #[serde(rename = "agent.deregister")]
    DeregisterAgent {
        /// The agent to remove.
        agent: AgentId,
    },
    /// Replaces the swarm configuration. Operator only.
    #[serde(rename = "config.set")]
    SetConfig {
        /// The new configuration, whole.
        config: SwarmConfig,
    },
    /// Authorises a bearer token for reads. The token itself never enters the log: only its SHA-256.
    /// Operator only.
    #[serde(rename = "read_token.issue")]
    IssueReadToken {
        /// SHA-256 of the token's text.
        token_sha256: Digest,
        /// A label for the operator's records.
        #[serde(default)]
        label: String,
        /// When the token stops working (log time, Unix milliseconds).
        #[serde(default)]
        expires_at_ms: Option<u64>,
    },
    /// Withdraws a read token. Operator only.
    #[serde(rename = "read_token.revoke")]
    RevokeReadToken {
        /// SHA-256 of the token's text.
        token_sha256: Digest,
    },
    /// Issues money into an agent's wallet from the mint. Operator only.
    #[serde(rename = "ledger.mint")]
    Mint {
        /// The operator's id for this transfer (idempotent).
        transfer_id: Name,
        /// The wallet credited.
        to: AgentId,
        /// How much.
        amount: Amount,
    },
    /// The signing agent pays another agent.
    #[serde(rename = "ledger.transfer")]
    Transfer {
        /// The payer's id for this transfer: the same id with the same content is one transfer.
        transfer_id: Name,
        /// The payee.
        to: AgentId,
        /// How much.
        amount: Amount,
    },
    /// Several payments by the signing agent, applied all or nothing.
    #[serde(rename = "ledger.transfer_batch")]
    TransferBatch {
        /// The transfers, in order.
        transfers: Vec<TransferRequest>,
    },
    /// The signing agent moves money out of the swarm (to the mint).
    #[serde(rename = "ledger.withdraw")]
    Withdraw {
        /// The agent's id for this transfer.
        transfer_id: Name,
        /// How much.
        amount: Amount,
    },
    /// A parent moves money from its child's wallet back to its own.
    #[serde(rename = "wallet.sweep")]
    Sweep {
        /// The child.
        child: AgentId,
        /// The parent's id for this transfer.
        transfer_id: Name,
        /// How much.
        amount: Amount,
    },
    /// Sets an agent's wallet policy: its parent (opening a child wallet) or the operator. Absent
    /// fields are left as they are; `null` clears a limit.
    #[serde(rename = "wallet.configure")]
    ConfigureWallet {
        /// The agent whose wallet this is.
        agent: AgentId,
        /// Spending per ledger day at most.
        #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
        daily_limit: Option<Option<Amount>>,
        /// Forbid moving money out of the swarm.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        no_withdraw: Option<bool>,
        /// Freeze spending.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frozen: Option<bool>,
        /// Halt the agent while its balance is below this.
        #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
        minimum_balance: Option<Option<Amount>>,
    },
    /// The signing agent locks funds for a payee.
    #[serde(rename = "escrow.lock")]
    LockEscrow {
        /// Who is paid on release.
        payee: AgentId,
        /// How much.
        amount: Amount,
        /// Refund to the payer automatically after this long (log time).
        timeout_ms: u64,
        /// The payer's task id: locking again with the same task id returns the same escrow.
        #[serde(default)]
        task_id: Option<Name>,
        /// Who may also release, refund, and resolve disputes.
        #[serde(default)]
        arbiter: Option<AgentId>,
        /// SHA-256 of a secret; whoever presents the secret may release.
        #[serde(default)]
        hashlock: Option<Digest>,
        /// The referrer to credit (else the payer's registered referrer).
        #[serde(default)]
        referrer: Option<AgentId>,
    },
    /// Pays an escrow out to its payee, minus the fee.
    #[serde(rename = "escrow.release")]
    ReleaseEscrow {
        /// The escrow.
        escrow: u64,
        /// The hashlock's secret, for a release by someone other than the payer or arbiter.
        #[serde(default)]
        preimage: Option<String>,
    },
    /// The payee (or arbiter) gives an escrow back to its payer.
    #[serde(rename = "escrow.refund")]
    RefundEscrow {
        /// The escrow.
        escrow: u64,
    },
    /// A party freezes an escrow for the arbiter.
    #[serde(rename = "escrow.dispute")]
    DisputeEscrow {
        /// The escrow.
        escrow: u64,
        /// Why.
        #[serde(default)]
        reason: String,
    },
    /// The arbiter (or the operator, when none is named) settles a disputed escrow.
    #[serde(rename = "escrow.resolve")]
    ResolveEscrow {
        /// The escrow.
        escrow: u64,
        /// `"release"`, `"refund"` or `{"split": {"payee_bps": N}}`.
        resolution: EscrowResolution,
    },
    /// Creates a durable stream that stores every message published to its subjects. Any registered
    /// agent or the operator; the creator owns it. The same name with the same configuration again is
    /// `Unchanged`.
    #[serde(rename = "stream.create")]
    CreateStream {
        /// The stream's name.
        name: Name,
        /// The subject patterns it captures: none may overlap another stream's, or the private
        /// `agent.*.inbox` and `_INBOX.>` subjects.
        subjects: BTreeSet<Pattern>,
        /// Messages kept at most (else `STREAM_MESSAGES_MAX`).
        #[serde(default)]
        max_messages: Option<u64>,
        /// Bytes kept at most (else `STREAM_BYTES_DEFAULT`); reserved against `BUS_BYTES_MAX`.
        #[serde(default)]
        max_bytes: Option<u64>,
        /// Messages older than this (log time) are removed.
        #[serde(default)]
        max_age_ms: Option<u64>,
        /// What a full stream does: drop its oldest messages (`"old"`) or refuse new ones (`"new"`).
        #[serde(default)]
        discard: Discard,
        /// How long a message id is remembered for deduplication (0: not at all).
        #[serde(default = "default_duplicate_window_ms")]
        duplicate_window_ms: u64,
    },
    /// Deletes a stream with its messages, consumers and dead letters. Its owner or the operator.
    #[serde(rename = "stream.delete")]
    DeleteStream {
        /// The stream.
        name: Name,
    },
    /// Publishes a message into the stream that captures its subject. The source is the signer.
    #[serde(rename = "bus.publish")]
    Publish {
        /// Where it goes.
        subject: Subject,
        /// The publisher's id for the message: the same id again within the stream's duplicate window
        /// stores nothing and returns the original sequence.
        #[serde(default)]
        message_id: Option<Name>,
        /// What kind of message this is, for receivers. (Named `message_type`, not `type`, because
        /// `type` names the command.)
        #[serde(default)]
        message_type: Option<Name>,
        /// How urgent (`normal` unless told).
        #[serde(default)]
        priority: Priority,
        /// Ties a reply or a follow-up to an earlier message.
        #[serde(default)]
        correlation_id: Option<Name>,
        /// Where replies go.
        #[serde(default)]
        reply_to: Option<Subject>,
        /// Free-form headers.
        #[serde(default)]
        headers: BTreeMap<Name, String>,
        /// A JSON payload (`null` counts as none).
        #[serde(default)]
        payload: Option<JsonText>,
        /// A binary payload in standard base64; exclusive with `payload`.
        #[serde(default)]
        payload_base64: Option<String>,
        /// The sender's Ed25519 signature over the payload bytes, for receivers to verify.
        #[serde(default)]
        payload_signature: Option<Signature>,
        /// The agent the payload is encrypted to (`payload_base64` is then ciphertext).
        #[serde(default)]
        encrypted_to: Option<AgentId>,
    },
    /// Creates a pull consumer on a stream. Any registered agent or the operator. The same name with
    /// the same configuration again is `Unchanged`.
    #[serde(rename = "consumer.create")]
    CreateConsumer {
        /// The stream.
        stream: Name,
        /// The consumer's name, unique in the stream.
        name: Name,
        /// Only messages whose subject matches (must overlap the stream's subjects).
        #[serde(default)]
        filter: Option<Pattern>,
        /// Where delivery starts: `"all"`, `"new"`, `{"from_sequence": N}` or `{"from_time_ms": T}`.
        #[serde(default)]
        deliver: DeliverPolicy,
        /// How long a delivery is held before it is redelivered, unless acked.
        #[serde(default = "default_ack_wait_ms")]
        ack_wait_ms: u64,
        /// Deliveries of one message at most; after the last, it is dead-lettered.
        #[serde(default = "default_max_deliver")]
        max_deliver: u32,
        /// The ack wait of delivery n is `backoff_ms[min(n - 1, len - 1)]` instead of `ack_wait_ms`.
        #[serde(default)]
        backoff_ms: Vec<u64>,
        /// Deliveries outstanding (not yet acked or dead-lettered) at most.
        #[serde(default = "default_max_ack_pending")]
        max_ack_pending: u32,
        /// Agents that may fetch from it besides its creator, the stream's owner and the operator.
        #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
        agents: BTreeSet<AgentId>,
        /// Roles whose agents may fetch from it.
        #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
        roles: BTreeSet<Name>,
    },
    /// Deletes a consumer. Its creator, the stream's owner or the operator.
    #[serde(rename = "consumer.delete")]
    DeleteConsumer {
        /// The stream.
        stream: Name,
        /// The consumer.
        name: Name,
    },
    /// Pulls messages from a consumer: due redeliveries first, then new messages. Any registered agent;
    /// agents fetching from one consumer share its messages (a work queue).
    #[serde(rename = "consumer.fetch")]
    Fetch {
        /// The stream.
        stream: Name,
        /// The consumer.
        consumer: Name,
        /// Messages wanted at most (1 to `FETCH_BATCH_MAX`).
        batch: u32,
        /// Bytes of messages wanted at most (as `size_bytes` counts them); the fetch stops before
        /// the message that would pass it, but returns at least one. The envelope's fetches
        /// together are bounded by `FETCH_BYTES_PER_ENVELOPE_MAX` whatever this says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_bytes: Option<u64>,
    },
    /// Acknowledges deliveries: done, not done (nak), still working, or never (term). Only the holder
    /// of each delivery, or the operator.
    #[serde(rename = "consumer.ack")]
    Ack {
        /// The stream.
        stream: Name,
        /// The consumer.
        consumer: Name,
        /// The stream sequences acknowledged.
        sequences: Vec<u64>,
        /// `"ack"`, `{"nak": {"delay_ms"?, "error"?}}`, `"in_progress"` or `{"term": {"reason"?}}`.
        kind: AckKind,
    },
    /// Publishes dead letters again into their original subjects and removes them from the stream's
    /// dead letters. The stream's owner or the operator.
    #[serde(rename = "dlq.replay")]
    ReplayDeadLetters {
        /// The stream whose dead letters these are.
        stream: Name,
        /// Their ids.
        dead_letters: Vec<u64>,
    },
    /// Removes dead letters. The stream's owner or the operator.
    #[serde(rename = "dlq.discard")]
    DiscardDeadLetters {
        /// The stream whose dead letters these are.
        stream: Name,
        /// Their ids.
        dead_letters: Vec<u64>,
    },
}

impl Command {
    /// Every command's name, as `kind` returns it. Adding a command means adding it here: the testkit's
    /// coverage test checks that the generators produce exactly these kinds, and the OpenAPI test that
    /// the document describes exactly these.
    pub const KINDS: &'static [&'static str] = &[
        "agent.register",
        "agent.update",
        "agent.heartbeat",
        "agent.halt",
        "agent.resume",
        "agent.deregister",
        "config.set",
        "read_token.issue",
        "read_token.revoke",
        "ledger.mint",
        "ledger.transfer",
        "ledger.transfer_batch",
        "ledger.withdraw",
        "wallet.sweep",
        "wallet.configure",
        "escrow.lock",
        "escrow.release",
        "escrow.refund",
        "escrow.dispute",
        "escrow.resolve",
        "stream.create",
        "stream.delete",
        "bus.publish",
        "consumer.create",
        "consumer.delete",
        "consumer.fetch",
        "consumer.ack",
        "dlq.replay",
        "dlq.discard",
    ];

    /// The stable name of the command, as in its JSON `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::RegisterAgent { .. } => "agent.register",
            Command::UpdateAgent { .. } => "agent.update",
            Command::Heartbeat {} => "agent.heartbeat",
            Command::HaltAgent { .. } => "agent.halt",
            Command::ResumeAgent { .. } => "agent.resume",
            Command::DeregisterAgent { .. } => "agent.deregister",
            Command::SetConfig { .. } => "config.set",
            Command::IssueReadToken { .. } => "read_token.issue",
            Command::RevokeReadToken { .. } => "read_token.revoke",
            Command::Mint { .. } => "ledger.mint",
            Command::Transfer { .. } => "ledger.transfer",
            Command::TransferBatch { .. } => "ledger.transfer_batch",
            Command::Withdraw { .. } => "ledger.withdraw",
            Command::Sweep { .. } => "wallet.sweep",
            Command::ConfigureWallet { .. } => "wallet.configure",
            Command::LockEscrow { .. } => "escrow.lock",
            Command::ReleaseEscrow { .. } => "escrow.release",
            Command::RefundEscrow { .. } => "escrow.refund",
            Command::DisputeEscrow { .. } => "escrow.dispute",
            Command::ResolveEscrow { .. } => "escrow.resolve",
            Command::CreateStream { .. } => "stream.create",
            Command::DeleteStream { .. } => "stream.delete",
            Command::Publish { .. } => "bus.publish",
            Command::CreateConsumer { .. } => "consumer.create",
            Command::DeleteConsumer { .. } => "consumer.delete",
            Command::Fetch { .. } => "consumer.fetch",
            Command::Ack { .. } => "consumer.ack",
            Command::ReplayDeadLetters { .. } => "dlq.replay",
            Command::DiscardDeadLetters { .. } => "dlq.discard",
        }
    }

    /// Whether a halted agent may still send this command: heartbeats, and settling escrows it is
    /// already party to (as payer, payee or arbiter), so that a halt never strands funds. A disputed
    /// escrow's timeout no longer runs and only its arbiter may resolve it, so a halted arbiter must
    /// still be able to.
    pub fn allowed_while_halted(&self) -> bool {
        matches!(
            self,
            Command::Heartbeat {}
                | Command::ReleaseEscrow { .. }
                | Command::RefundEscrow { .. }
                | Command::DisputeEscrow { .. }
                | Command::ResolveEscrow { .. }
        )
    }
}
