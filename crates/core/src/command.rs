//! Commands: the only way to ask for a change of state.
//!
//! A command says what its signer wants; the state machine decides whether the signer may have it.
//! Nothing in a command is trusted: weights, statuses and times are computed by the state machine.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::config::SwarmConfig;
use crate::ids::{AgentId, Digest, Name, PublicKey};
use crate::ledger::{EscrowResolution, TransferRequest};

/// Decodes a present field (even `null`) as `Some`, so that an absent field (`None`, via `default`)
/// means "leave as it is" and `null` means "clear".
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
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
