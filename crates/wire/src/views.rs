//! The JSON shapes of responses.

use std::collections::BTreeSet;

use colony_core::{Accepted, Agent, AgentId, Halt, Name, PublicKey, Rejection};
use serde::{Deserialize, Serialize};

use crate::problem::Problem;

/// An agent as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    /// The agent's id.
    pub id: AgentId,
    /// Its public key.
    pub public_key: PublicKey,
    /// Its role.
    pub role: Name,
    /// What it can do.
    pub capabilities: BTreeSet<Name>,
    /// Its voting weight.
    pub weight: u32,
    /// The agent that spawned it.
    pub parent: Option<AgentId>,
    /// The agent that earns referral income on it.
    pub referrer: Option<AgentId>,
    /// `active`, `unresponsive`, `halted` or `deregistered`.
    pub status: String,
    /// Whether heartbeats arrive within the TTL (independent of halts).
    pub responsive: bool,
    /// The halt in force.
    pub halt: Option<Halt>,
    /// Whether the agent is halted because its balance is below its budget minimum.
    #[serde(default)]
    pub budget_halted: bool,
    /// Registration time (log time, Unix ms).
    pub registered_at_ms: u64,
    /// Last heartbeat (log time, Unix ms).
    pub last_heartbeat_ms: u64,
    /// When it becomes unresponsive without another heartbeat.
    pub heartbeat_deadline_ms: u64,
    /// When it was deregistered.
    pub deregistered_at_ms: Option<u64>,
    /// The highest nonce it has used; a client that lost track of its nonces continues above this.
    pub highest_nonce: u64,
}

impl From<&Agent> for AgentView {
    fn from(agent: &Agent) -> AgentView {
        AgentView {
            id: agent.id.clone(),
            public_key: agent.public_key,
            role: agent.role.clone(),
            capabilities: agent.capabilities.clone(),
            weight: agent.weight,
            parent: agent.parent.clone(),
            referrer: agent.referrer.clone(),
            status: agent.status().to_owned(),
            responsive: agent.liveness == colony_core::Liveness::Active,
            halt: agent.halt.clone(),
            budget_halted: agent.budget_halted,
            registered_at_ms: agent.registered_at_ms,
            last_heartbeat_ms: agent.last_heartbeat_ms,
            heartbeat_deadline_ms: agent.heartbeat_deadline_ms,
            deregistered_at_ms: agent.deregistered_at_ms,
            highest_nonce: agent.highest_nonce(),
        }
    }
}

/// One page of agents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPage {
    /// The agents on this page, ordered by id.
    pub agents: Vec<AgentView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<AgentId>,
}

/// The result of one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResultView {
    /// Whether the command was applied.
    pub ok: bool,
    /// `done` or `unchanged` when applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why not, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// The escrow an `escrow.lock` created or (for a repeated task id) returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow_id: Option<u64>,
}

impl CommandResultView {
    /// The view of a core result.
    pub fn from_result(result: &Result<Accepted, Rejection>) -> CommandResultView {
        match result {
            Ok(accepted) => CommandResultView {
                ok: true,
                status: Some(accepted_word(accepted).to_owned()),
                problem: None,
                escrow_id: match accepted {
                    Accepted::Escrow { escrow_id, .. } => Some(*escrow_id),
                    _ => None,
                },
            },
            Err(rejection) => CommandResultView {
                ok: false,
                status: None,
                problem: Some(Problem::from_rejection(rejection)),
                escrow_id: None,
            },
        }
    }
}

/// `done`, `unchanged`, or for an escrow lock that found the task's escrow, `existing`.
pub fn accepted_word(accepted: &Accepted) -> &'static str {
    match accepted {
        Accepted::Unchanged => "unchanged",
        Accepted::Escrow { existing: true, .. } => "existing",
        _ => "done",
    }
}

/// The response to a write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitResponse {
    /// The log entry that recorded the envelope; durable when this response is sent.
    pub sequence: u64,
    /// The entry's timestamp (log time, Unix ms).
    pub timestamp_ms: u64,
    /// One result per command, in order.
    pub results: Vec<CommandResultView>,
}

/// The server's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    /// The server's version.
    pub version: String,
    /// The last applied (and durable) entry.
    pub sequence: u64,
    /// The log time of that entry.
    pub timestamp_ms: u64,
    /// Registered agents, tombstones included.
    pub agents: u64,
    /// Entries applied since genesis.
    pub entries: u64,
    /// Commands accepted since genesis.
    pub commands_accepted: u64,
    /// Commands rejected since genesis.
    pub commands_rejected: u64,
    /// The operator's public key.
    pub operator_key: Option<PublicKey>,
}

/// The state hash at a sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateHashView {
    /// The sequence number the hash is for.
    pub sequence: u64,
    /// SHA-256 of the canonical state encoding, hex.
    pub state_hash: colony_core::Digest,
}
