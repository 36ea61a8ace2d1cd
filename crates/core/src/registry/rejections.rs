//! Why the registry refuses a command.

use std::fmt;

use crate::ids::AgentId;
use crate::outcome::RejectionClass;

/// A refusal particular to the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryRejection {
    /// The id is taken (ids of deregistered agents stay taken).
    AgentExists {
        /// The id asked for.
        agent: AgentId,
    },
    /// The role is not in the swarm configuration.
    UnknownRole {
        /// The role asked for.
        role: String,
    },
    /// The role admits agents by the operator only (its `admission` is `operator`).
    RoleClosed {
        /// The role asked for.
        role: String,
    },
}

impl RegistryRejection {
    /// The stable machine code, in `snake_case`.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryRejection::AgentExists { .. } => "agent_exists",
            RegistryRejection::UnknownRole { .. } => "unknown_role",
            RegistryRejection::RoleClosed { .. } => "role_closed",
        }
    }

    /// A short, fixed summary of the code.
    pub fn title(&self) -> &'static str {
        match self {
            RegistryRejection::AgentExists { .. } => "Agent id taken",
            RegistryRejection::UnknownRole { .. } => "Unknown role",
            RegistryRejection::RoleClosed { .. } => "Role closed",
        }
    }

    /// What kind of refusal this is.
    pub fn class(&self) -> RejectionClass {
        match self {
            RegistryRejection::AgentExists { .. } => RejectionClass::Conflict,
            RegistryRejection::UnknownRole { .. } => RejectionClass::Invalid,
            RegistryRejection::RoleClosed { .. } => RejectionClass::Forbidden,
        }
    }

    /// The input field to blame.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            RegistryRejection::AgentExists { .. } => Some("agent"),
            RegistryRejection::UnknownRole { .. } | RegistryRejection::RoleClosed { .. } => Some("role"),
        }
    }
}

impl fmt::Display for RegistryRejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryRejection::AgentExists { agent } => write!(formatter, "agent id '{agent}' is already taken"),
            RegistryRejection::UnknownRole { role } => {
                write!(formatter, "role '{role}' is not in the swarm configuration")
            }
            RegistryRejection::RoleClosed { role } => {
                write!(formatter, "role '{role}' admits agents by the operator only (or an approved proposal's action)")
            }
        }
    }
}
