//! Builders for [`Command`] values with test-friendly defaults.
//!
//! Every builder takes plain `&str` ids and names and panics on invalid ones, so that test code stays
//! short; the key of a registered agent defaults to [`key_for`] of its id.

use std::collections::BTreeSet;

use colony_core::{AgentId, Command, Name, PublicKey, SwarmConfig};

use super::keys::{agent_id, digest_for, key_for, name, names};

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
