//! The registry's commands: what agents and their parents ask of the registry.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::command::Apply;
use crate::ids::{AgentId, Name, PublicKey};
use crate::limits;
use crate::outcome::CommandResult;
use crate::state::{Context, State};

/// Registers an agent. Signed by the agent itself (when the swarm allows self-registration), by its
/// parent (which must be the signer), or by the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgent {
    /// The new agent's id; never reused once taken.
    pub agent: AgentId,
    /// The Ed25519 key that will sign the agent's envelopes.
    pub public_key: PublicKey,
    /// One of the roles in the swarm configuration.
    pub role: Name,
    /// What the agent can do, for task routing.
    #[serde(default)]
    #[schemars(length(max = limits::CAPABILITIES_PER_AGENT_MAX))]
    pub capabilities: BTreeSet<Name>,
    /// The voting weight in millionths (`1000000` is one). Only the operator may set it; otherwise the
    /// role's default applies.
    #[serde(default)]
    #[schemars(range(max = limits::AGENT_WEIGHT_MAX))]
    pub weight: Option<u32>,
    /// The agent that spawned this one. When a non-operator agent signs, it must name itself.
    #[serde(default)]
    pub parent: Option<AgentId>,
    /// The agent that earns referral income on this agent's activity.
    #[serde(default)]
    pub referrer: Option<AgentId>,
}

impl Apply for RegisterAgent {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        let RegisterAgent { agent, public_key, role, capabilities, weight, parent, referrer } = self;
        state.register(context, agent, *public_key, role, capabilities, *weight, parent, referrer)
    }
}

/// Changes an agent's role, capabilities or weight. The agent itself may change its capabilities; its
/// parent also its role; the operator anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    /// The agent to change.
    pub agent: AgentId,
    /// A new role.
    #[serde(default)]
    pub role: Option<Name>,
    /// A new, complete set of capabilities.
    #[serde(default)]
    #[schemars(length(max = limits::CAPABILITIES_PER_AGENT_MAX))]
    pub capabilities: Option<BTreeSet<Name>>,
    /// A new weight in millionths (operator only).
    #[serde(default)]
    #[schemars(range(max = limits::AGENT_WEIGHT_MAX))]
    pub weight: Option<u32>,
}

impl Apply for UpdateAgent {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        let UpdateAgent { agent, role, capabilities, weight } = self;
        state.update(context, agent, role.as_ref(), capabilities.as_ref(), *weight)
    }
}

/// Tells the swarm the signing agent is alive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {}

impl Apply for Heartbeat {
    const ALLOWED_WHILE_HALTED: bool = true;

    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.heartbeat(context)
    }
}

/// Stops an agent's writes (other than heartbeats). Operator or the agent's parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HaltAgent {
    /// The agent to halt.
    pub agent: AgentId,
    /// Why, for the record.
    #[serde(default)]
    #[schemars(length(max = limits::REASON_BYTES_MAX))]
    pub reason: String,
}

impl Apply for HaltAgent {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.halt(context, &self.agent, &self.reason)
    }
}

/// Lifts a halt. The operator lifts any halt; a parent lifts only halts it imposed itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeAgent {
    /// The agent to resume.
    pub agent: AgentId,
}

impl Apply for ResumeAgent {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.resume(context, &self.agent)
    }
}

/// Removes an agent from the swarm for good. The agent itself, its parent, or the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeregisterAgent {
    /// The agent to remove.
    pub agent: AgentId,
}

impl Apply for DeregisterAgent {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.deregister(context, &self.agent)
    }
}
