//! Events: the state changes an entry caused, in the order it caused them.
//!
//! Events are outputs of `apply`, so they are as deterministic as the state: replaying the log
//! produces the same events with the same sequence numbers. They feed the server's event stream.

use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, Name, Signer};

/// One state change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The sequence number of the entry that caused it.
    pub sequence: u64,
    /// The position of the event within its entry, from 0.
    pub index: u32,
    /// The entry's timestamp (log time, Unix milliseconds).
    pub timestamp_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. In JSON, `type` names the variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventKind {
    /// The swarm was created.
    #[serde(rename = "swarm.genesis")]
    Genesis {},
    /// The configuration was replaced.
    #[serde(rename = "config.changed")]
    ConfigChanged {},
    /// An agent joined.
    #[serde(rename = "agent.registered")]
    AgentRegistered {
        /// The agent.
        agent: AgentId,
        /// Its role.
        role: Name,
        /// Who signed the registration.
        by: Signer,
    },
    /// An agent's role, capabilities or weight changed.
    #[serde(rename = "agent.updated")]
    AgentUpdated {
        /// The agent.
        agent: AgentId,
    },
    /// An agent missed its heartbeat deadline.
    #[serde(rename = "agent.unresponsive")]
    AgentUnresponsive {
        /// The agent.
        agent: AgentId,
    },
    /// An unresponsive agent sent a heartbeat again.
    #[serde(rename = "agent.active")]
    AgentActive {
        /// The agent.
        agent: AgentId,
    },
    /// An agent was halted.
    #[serde(rename = "agent.halted")]
    AgentHalted {
        /// The agent.
        agent: AgentId,
        /// Who halted it.
        by: Signer,
        /// Why.
        reason: String,
    },
    /// A halt was lifted.
    #[serde(rename = "agent.resumed")]
    AgentResumed {
        /// The agent.
        agent: AgentId,
        /// Who lifted the halt.
        by: Signer,
    },
    /// An agent left the swarm.
    #[serde(rename = "agent.deregistered")]
    AgentDeregistered {
        /// The agent.
        agent: AgentId,
        /// Who removed it.
        by: Signer,
    },
    /// A read token was issued.
    #[serde(rename = "read_token.issued")]
    ReadTokenIssued {
        /// Its label.
        label: String,
    },
    /// A read token was revoked.
    #[serde(rename = "read_token.revoked")]
    ReadTokenRevoked {
        /// Its label.
        label: String,
    },
}

impl EventKind {
    /// The stable name of the event, as in its JSON `type`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Genesis {} => "swarm.genesis",
            EventKind::ConfigChanged {} => "config.changed",
            EventKind::AgentRegistered { .. } => "agent.registered",
            EventKind::AgentUpdated { .. } => "agent.updated",
            EventKind::AgentUnresponsive { .. } => "agent.unresponsive",
            EventKind::AgentActive { .. } => "agent.active",
            EventKind::AgentHalted { .. } => "agent.halted",
            EventKind::AgentResumed { .. } => "agent.resumed",
            EventKind::AgentDeregistered { .. } => "agent.deregistered",
            EventKind::ReadTokenIssued { .. } => "read_token.issued",
            EventKind::ReadTokenRevoked { .. } => "read_token.revoked",
        }
    }
}
