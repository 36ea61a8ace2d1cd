//! Commands: the only way to ask for a change of state.
//!
//! A command says what its signer wants; the state machine decides whether the signer may have it.
//! Nothing in a command is trusted: weights, statuses and times are computed by the state machine.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::config::SwarmConfig;
use crate::ids::{AgentId, Digest, Name, PublicKey};

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
}

impl Command {
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
        }
    }
}
