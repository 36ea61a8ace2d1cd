//! The agent registry: who is in the swarm, what each can do, and whether each is alive.
//!
//! Liveness is driven by log time only. Every active agent has a heartbeat deadline in
//! `liveness_deadlines`; when an entry's timestamp passes it, the agent becomes `unresponsive` and
//! an event says so. The next heartbeat makes it `active` again. Halting is a separate, orthogonal
//! flag: a halted agent keeps heartbeating but may not write anything else.
//!
//! Deregistered agents stay in the map as tombstones so that their ids are never reused: an id names
//! one key for the whole life of the log, which keeps history unambiguous and old envelopes
//! unreplayable.

mod capabilities;
pub mod commands;
pub mod rejections;
mod table;

pub use capabilities::{CapabilityIndex, window};
pub use table::{AgentHandle, Registry};

use crate::outcome::RegistryRejection;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::coordination::LeaseEnd;
use crate::event::EventKind;
use crate::ids::{AgentId, Name, PublicKey, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::replay::ReplayWindow;
use crate::state::{Context, State};

/// Whether an agent has been heard from within its heartbeat TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Liveness {
    /// Heartbeats arrive in time.
    Active,
    /// The last heartbeat is older than the TTL.
    Unresponsive,
}

/// A halt in force on an agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Halt {
    /// Who imposed it.
    pub by: Signer,
    /// Why.
    pub reason: String,
    /// When (log time).
    pub at_ms: u64,
}

/// One registered agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// The agent's id.
    pub id: AgentId,
    /// The key its envelopes must be signed with.
    pub public_key: PublicKey,
    /// Its role, one of the configuration's.
    pub role: Name,
    /// What it can do.
    pub capabilities: BTreeSet<Name>,
    /// Its voting weight in millionths, computed by the swarm (role default or operator's choice).
    pub weight: u32,
    /// The agent that spawned it.
    pub parent: Option<AgentId>,
    /// The agent that earns referral income on its activity.
    pub referrer: Option<AgentId>,
    /// Alive or not.
    pub liveness: Liveness,
    /// The halt in force, if any.
    pub halt: Option<Halt>,
    /// Whether the agent's balance is below its budget minimum, which halts it until funded.
    pub budget_halted: bool,
    /// When it was registered (log time).
    pub registered_at_ms: u64,
    /// When its last heartbeat (or registration) was applied.
    pub last_heartbeat_ms: u64,
    /// When it becomes unresponsive without another heartbeat (meaningful while active).
    pub heartbeat_deadline_ms: u64,
    /// When it was deregistered; a deregistered agent is a tombstone.
    pub deregistered_at_ms: Option<u64>,
    /// Its live (not deregistered) children, bounded by `CHILDREN_PER_PARENT_MAX`.
    pub live_children: u32,
    /// Its spent nonces.
    pub(crate) replay: ReplayWindow,
}

impl Agent {
    /// The agent's status as one word: `deregistered`, `halted`, `unresponsive` or `active`, in that
    /// order of precedence.
    pub fn status(&self) -> &'static str {
        if self.deregistered_at_ms.is_some() {
            "deregistered"
        } else if self.halt.is_some() || self.budget_halted {
            "halted"
        } else if self.liveness == Liveness::Unresponsive {
            "unresponsive"
        } else {
            "active"
        }
    }

    /// Whether the agent may be offered work: live, not halted (by anyone or by its budget) and
    /// responsive. The capability index holds exactly these agents.
    pub fn can_take_work(&self) -> bool {
        self.status() == "active"
    }

    /// The highest nonce this agent has used.
    pub fn highest_nonce(&self) -> u64 {
        self.replay.highest()
    }
}

fn check_capabilities(capabilities: &BTreeSet<Name>) -> Result<(), Rejection> {
    if capabilities.len() > limits::CAPABILITIES_PER_AGENT_MAX {
        return Err(Rejection::LimitReached {
            limit: "capabilities_per_agent",
            max: limits::CAPABILITIES_PER_AGENT_MAX as u64,
        });
    }
    Ok(())
}

fn check_weight(weight: u32) -> Result<(), Rejection> {
    if weight > limits::AGENT_WEIGHT_MAX {
        return Err(Rejection::invalid("weight", format!("must be at most {}", limits::AGENT_WEIGHT_MAX)));
    }
    Ok(())
}

fn check_reason(reason: &str) -> Result<(), Rejection> {
    if reason.len() > limits::REASON_BYTES_MAX {
        return Err(Rejection::invalid("reason", format!("must be at most {} bytes", limits::REASON_BYTES_MAX)));
    }
    Ok(())
}

impl State {
    /// Refuses a registration that the swarm's pace does not allow at `now_ms`.
    fn check_registration_pace(&self, now_ms: u64) -> Result<(), Rejection> {
        let interval_ms = self.config.registration_interval_ms;
        let tolerance_ms = interval_ms.saturating_mul(u64::from(self.config.registration_burst.max(1) - 1));
        let ahead_ms = self.registry.registration_paced_until_ms.saturating_sub(now_ms);
        if ahead_ms > tolerance_ms {
            return Err(Rejection::RateLimited {
                limit: "registration_interval_ms",
                retry_after_ms: ahead_ms - tolerance_ms,
            });
        }
        Ok(())
    }

    /// Where the registration pace stands after one more registration at `now_ms`.
    fn registration_paced_after(&self, now_ms: u64) -> u64 {
        self.registry.registration_paced_until_ms.max(now_ms).saturating_add(self.config.registration_interval_ms)
    }

    /// Marks every agent whose deadline has passed as unresponsive, then ends its leases. Stops at
    /// `EXPIRIES_PER_ENTRY_MAX` agents, or before the agent whose leases would take the ends past
    /// `LEASE_EXPIRIES_PER_ENTRY_MAX`: the rest are due at once in the next entries.
    pub(crate) fn expire_liveness(&mut self, context: &mut Context) {
        let mut silent = Vec::new();
        let mut lease_ends = 0;
        for _ in 0..limits::EXPIRIES_PER_ENTRY_MAX {
            let Some((deadline_ms, handle)) = self.registry.liveness_deadlines.first() else { break };
            if *deadline_ms >= context.now_ms {
                break;
            }
            let holder = Signer::Agent(self.registry.by_handle(*handle).id.clone());
            let leases = self.coordination.leases_held_by(&holder) as usize;
            if lease_ends + leases > limits::LEASE_EXPIRIES_PER_ENTRY_MAX {
                break;
            }
            lease_ends += leases;
            let (_, handle) = self.registry.liveness_deadlines.pop_first().expect("checked above");
            self.registry.update_availability(handle, |agent| {
                assert_eq!(agent.liveness, Liveness::Active, "only active agents have deadlines");
                agent.liveness = Liveness::Unresponsive;
            });
            let agent = self.registry.by_handle(handle).id.clone();
            context.emit(EventKind::AgentUnresponsive { agent: agent.clone() });
            silent.push(agent);
        }
        // Every expiry is reported first; then the silent agents' leases end, in the same order.
        for agent in silent {
            self.lose_vote_leaderships(context, &agent);
            self.end_leases_of(context, &Signer::Agent(agent), LeaseEnd::HolderSilent);
        }
    }

    /// Looks up a live (not deregistered) agent for a command that acts on it.
    fn live_agent(&self, id: &AgentId) -> Result<(AgentHandle, &Agent), Rejection> {
        let handle = self.registry.handle(id).ok_or_else(|| Rejection::AgentNotFound { agent: id.clone() })?;
        let agent = self.registry.by_handle(handle);
        if agent.deregistered_at_ms.is_some() {
            return Err(Rejection::AgentDeregistered { agent: id.clone() });
        }
        Ok((handle, agent))
    }

    /// The role's configuration, when it exists and `signer` may put an agent in it: a role whose
    /// admission is `operator` takes agents from the operator alone (so, after bootstrap, from an
    /// approved proposal's action), never from the agent itself or a parent.
    fn check_role_admission(&self, signer: &Signer, role: &Name) -> Result<&crate::config::RoleConfig, Rejection> {
        let role_config = self
            .config
            .roles
            .get(role)
            .ok_or_else(|| Rejection::Registry(RegistryRejection::UnknownRole { role: role.to_string() }))?;
        if role_config.admission == crate::config::RoleAdmission::Operator && *signer != Signer::Operator {
            return Err(Rejection::Registry(RegistryRejection::RoleClosed { role: role.to_string() }));
        }
        Ok(role_config)
    }

    /// Whether the signer is the operator or `target`'s parent.
    fn is_operator_or_parent(context: &Context, target: &Agent) -> bool {
        match context.signer() {
            Signer::Operator => true,
            Signer::Agent(signer) => target.parent.as_ref() == Some(signer),
        }
    }

    /// Every check of a registration, without changing anything; returns the weight the agent gets.
    /// The driver runs it before logging a self-registration, so that a refused one never reaches the
    /// log (an unknown signer has no nonce window that could refuse a replay of it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check_registration(
        &self,
        now_ms: u64,
        signer_of_envelope: &Signer,
        verified_key: PublicKey,
        id: &AgentId,
        public_key: PublicKey,
        role: &Name,
        capabilities: &BTreeSet<Name>,
        weight: Option<u32>,
        parent: &Option<AgentId>,
        referrer: &Option<AgentId>,
    ) -> Result<u32, Rejection> {
        // Authorization first: who may bring this agent into the swarm.
        match signer_of_envelope {
            Signer::Operator => {}
            Signer::Agent(signer) if signer == id => {
                if !self.config.self_registration {
                    return Err(Rejection::Unauthorized {
                        reason: "this swarm does not allow self-registration; ask the operator or a parent agent",
                    });
                }
                if public_key != verified_key {
                    return Err(Rejection::KeyMismatch);
                }
                // A parent may sweep its child's wallet, set its policies and halt it: a link that
                // grants that much needs the parent's own signature, so the parent (or the
                // operator) registers the child, never the child alone.
                if parent.is_some() {
                    return Err(Rejection::Unauthorized {
                        reason: "a self-registration may not name a parent: the parent (or the operator) registers its \
                                 child",
                    });
                }
            }
            Signer::Agent(signer) => {
                if parent.as_ref() != Some(signer) {
                    return Err(Rejection::Unauthorized {
                        reason: "an agent may only register agents that name it as their parent",
                    });
                }
            }
        }
        if weight.is_some() && *signer_of_envelope != Signer::Operator {
            return Err(Rejection::Unauthorized { reason: "only the operator may set an agent's weight" });
        }
        if self.registry.contains(id) {
            return Err(Rejection::Registry(RegistryRejection::AgentExists { agent: id.clone() }));
        }
        if !public_key.is_usable() {
            return Err(Rejection::invalid(
                "public_key",
                "is not a usable Ed25519 key (off the curve or of small order)",
            ));
        }
        let operator_key = self.operator().map(|operator| operator.public_key);
        if self.registry.live_keys.contains_key(&public_key) || operator_key == Some(public_key) {
            return Err(Rejection::invalid("public_key", "is the key of another live agent or of the operator"));
        }
        if self.registry.live >= limits::AGENTS_MAX {
            return Err(Rejection::LimitReached { limit: "agents", max: limits::AGENTS_MAX as u64 });
        }
        if self.registry.len() >= limits::AGENT_IDS_MAX {
            return Err(Rejection::LimitReached { limit: "agent_ids", max: limits::AGENT_IDS_MAX as u64 });
        }
        if let Some(parent) = parent
            && self.registry.get(parent).is_some_and(|agent| agent.live_children >= limits::CHILDREN_PER_PARENT_MAX)
        {
            return Err(Rejection::LimitReached {
                limit: "children_per_parent",
                max: u64::from(limits::CHILDREN_PER_PARENT_MAX),
            });
        }
        if *signer_of_envelope != Signer::Operator {
            if self.registry.len() - self.registry.live >= limits::TOMBSTONES_MAX {
                return Err(Rejection::LimitReached { limit: "tombstones", max: limits::TOMBSTONES_MAX as u64 });
            }
            self.check_registration_pace(now_ms)?;
        }
        let role_config = self.check_role_admission(signer_of_envelope, role)?;
        check_capabilities(capabilities)?;
        let weight = weight.unwrap_or(role_config.default_weight);
        check_weight(weight)?;
        for (field, other) in [("parent", parent), ("referrer", referrer)] {
            if let Some(other) = other {
                self.live_agent(other).map_err(|_| {
                    Rejection::invalid(field, format!("names '{other}', which is not a registered agent"))
                })?;
            }
        }
        Ok(weight)
    }

    #[allow(clippy::too_many_arguments)]
    fn register(
        &mut self,
        context: &mut Context,
        id: &AgentId,
        public_key: PublicKey,
        role: &Name,
        capabilities: &BTreeSet<Name>,
        weight: Option<u32>,
        parent: &Option<AgentId>,
        referrer: &Option<AgentId>,
    ) -> CommandResult {
        let weight = self.check_registration(
            context.now_ms,
            context.signer(),
            context.verified_key,
            id,
            public_key,
            role,
            capabilities,
            weight,
            parent,
            referrer,
        )?;

        let now_ms = context.now_ms;
        let mut replay = ReplayWindow::default();
        if *context.signer() == Signer::Agent(id.clone()) {
            // A self-registration is the agent's first envelope: its nonce is spent here, since the
            // agent had no window when the envelope was admitted.
            replay.consume(context.nonce);
        }
        let heartbeat_deadline_ms = now_ms.saturating_add(self.config.heartbeat_ttl_ms);
        let agent = Agent {
            id: id.clone(),
            public_key,
            role: role.clone(),
            capabilities: capabilities.clone(),
            weight,
            parent: parent.clone(),
            referrer: referrer.clone(),
            liveness: Liveness::Active,
            halt: None,
            budget_halted: false,
            registered_at_ms: now_ms,
            last_heartbeat_ms: now_ms,
            heartbeat_deadline_ms,
            deregistered_at_ms: None,
            live_children: 0,
            replay,
        };
        if *context.signer() != Signer::Operator {
            self.registry.registration_paced_until_ms = self.registration_paced_after(context.now_ms);
        }
        if let Some(parent) = parent {
            self.registry.get_mut(parent).expect("checked: a live parent").1.live_children += 1;
        }
        self.registry.live += 1;
        let handle = self.registry.insert(agent);
        if self.registry.by_handle(handle).can_take_work() {
            self.agent_can_take_work(now_ms);
        }
        self.registry.live_keys.insert(public_key, handle);
        self.registry.liveness_deadlines.insert((heartbeat_deadline_ms, handle));
        context.emit(EventKind::AgentRegistered {
            agent: id.clone(),
            role: role.clone(),
            by: context.signer().clone(),
        });
        Ok(Accepted::Done)
    }

    fn update(
        &mut self,
        context: &mut Context,
        id: &AgentId,
        role: Option<&Name>,
        capabilities: Option<&BTreeSet<Name>>,
        weight: Option<u32>,
    ) -> CommandResult {
        let (handle, target) = self.live_agent(id)?;
        let is_self = context.signer().agent() == Some(id);
        let is_operator = *context.signer() == Signer::Operator;
        let is_parent_or_operator = Self::is_operator_or_parent(context, target);
        if !(is_self || is_parent_or_operator) {
            return Err(Rejection::Unauthorized { reason: "only the agent, its parent or the operator may update it" });
        }
        if capabilities.is_some() && !(is_self || is_parent_or_operator) {
            return Err(Rejection::Unauthorized {
                reason: "only the agent, its parent or the operator may change its capabilities",
            });
        }
        if role.is_some() && !is_parent_or_operator {
            return Err(Rejection::Unauthorized {
                reason: "only the agent's parent or the operator may change its role",
            });
        }
        if weight.is_some() && !is_operator {
            return Err(Rejection::Unauthorized { reason: "only the operator may set an agent's weight" });
        }
        if let Some(role) = role {
            self.check_role_admission(context.signer(), role)?;
        }
        if let Some(capabilities) = capabilities {
            check_capabilities(capabilities)?;
        }
        if let Some(weight) = weight {
            check_weight(weight)?;
        }
        let unchanged = role.is_none_or(|role| *role == target.role)
            && capabilities.is_none_or(|capabilities| *capabilities == target.capabilities)
            && weight.is_none_or(|weight| weight == target.weight);
        if unchanged {
            return Ok(Accepted::Unchanged);
        }
        if let Some(capabilities) = capabilities {
            let gained = !capabilities.is_subset(&target.capabilities);
            self.registry.set_capabilities(handle, capabilities.clone());
            if gained && self.registry.by_handle(handle).can_take_work() {
                self.agent_can_take_work(context.now_ms);
            }
        }
        if let Some(role) = role {
            self.registry.set_role(handle, role.clone());
        }
        let target = self.registry.by_handle_mut(handle);
        if let Some(weight) = weight {
            target.weight = weight;
        }
        context.emit(EventKind::AgentUpdated { agent: id.clone() });
        Ok(Accepted::Done)
    }

    fn heartbeat(&mut self, context: &mut Context) -> CommandResult {
        let Signer::Agent(id) = context.signer() else {
            return Err(Rejection::Unauthorized { reason: "only agents send heartbeats" });
        };
        // Every command but a self-registration comes from an admitted, registered signer.
        let handle = context.signer_handle().ok_or_else(|| Rejection::AgentNotFound { agent: id.clone() })?;
        if self.registry.by_handle(handle).deregistered_at_ms.is_some() {
            return Err(Rejection::AgentDeregistered { agent: id.clone() });
        }
        let deadline_ms = context.now_ms.saturating_add(self.config.heartbeat_ttl_ms);
        let agent = self.registry.by_handle(handle);
        let was_active = agent.liveness == Liveness::Active;
        let previous_deadline_ms = agent.heartbeat_deadline_ms;
        let back = self.registry.update_availability(handle, |agent| {
            agent.liveness = Liveness::Active;
            agent.last_heartbeat_ms = context.now_ms;
            agent.heartbeat_deadline_ms = deadline_ms;
        });
        if back {
            self.agent_can_take_work(context.now_ms);
        }
        if was_active {
            let removed = self.registry.liveness_deadlines.remove(&(previous_deadline_ms, handle));
            assert!(removed, "an active agent has a deadline");
        } else {
            let agent = self.registry.by_handle(handle).id.clone();
            context.emit(EventKind::AgentActive { agent });
        }
        self.registry.liveness_deadlines.insert((deadline_ms, handle));
        Ok(Accepted::Done)
    }

    fn halt(&mut self, context: &mut Context, id: &AgentId, reason: &str) -> CommandResult {
        let (handle, target) = self.live_agent(id)?;
        if !Self::is_operator_or_parent(context, target) {
            return Err(Rejection::Unauthorized { reason: "only the operator or the agent's parent may halt it" });
        }
        check_reason(reason)?;
        // An operator's halt supersedes a parent's (so the parent cannot lift it); any other repeated
        // halt changes nothing.
        let supersedes = *context.signer() == Signer::Operator
            && target.halt.as_ref().is_some_and(|halt| halt.by != Signer::Operator);
        if target.halt.is_some() && !supersedes {
            return Ok(Accepted::Unchanged);
        }
        let halt = Halt { by: context.signer().clone(), reason: reason.to_owned(), at_ms: context.now_ms };
        self.registry.update_availability(handle, |target| target.halt = Some(halt));
        context.emit(EventKind::AgentHalted {
            agent: id.clone(),
            by: context.signer().clone(),
            reason: reason.to_owned(),
        });
        // A halted agent is not healthy: it leads no vote-based election.
        self.lose_vote_leaderships(context, id);
        Ok(Accepted::Done)
    }

    fn resume(&mut self, context: &mut Context, id: &AgentId) -> CommandResult {
        let (handle, target) = self.live_agent(id)?;
        if !Self::is_operator_or_parent(context, target) {
            return Err(Rejection::Unauthorized { reason: "only the operator or the agent's parent may resume it" });
        }
        let Some(halt) = &target.halt else {
            return Ok(Accepted::Unchanged);
        };
        if halt.by == Signer::Operator && *context.signer() != Signer::Operator {
            return Err(Rejection::Unauthorized {
                reason: "a halt imposed by the operator can only be lifted by the operator",
            });
        }
        if self.registry.update_availability(handle, |target| target.halt = None) {
            self.agent_can_take_work(context.now_ms);
        }
        context.emit(EventKind::AgentResumed { agent: id.clone(), by: context.signer().clone() });
        Ok(Accepted::Done)
    }

    fn deregister(&mut self, context: &mut Context, id: &AgentId) -> CommandResult {
        let (handle, target) = self.live_agent(id)?;
        let is_self = context.signer().agent() == Some(id);
        if !(is_self || Self::is_operator_or_parent(context, target)) {
            return Err(Rejection::Unauthorized {
                reason: "only the agent, its parent or the operator may deregister it",
            });
        }
        if target.liveness == Liveness::Active {
            let deadline = (target.heartbeat_deadline_ms, handle);
            let removed = self.registry.liveness_deadlines.remove(&deadline);
            assert!(removed, "an active agent has a deadline");
        }
        // A tombstone only keeps its id (and key, for the history): what it could do and which
        // nonces it spent no longer matter, since a deregistered agent signs nothing.
        self.registry.retire(handle, context.now_ms);
        self.market.affinities.forget_agent(id);
        let target = self.registry.by_handle_mut(handle);
        target.replay.forget_recent();
        let (key, parent) = (target.public_key, target.parent.clone());
        self.registry.live -= 1;
        self.registry.live_keys.remove(&key);
        if let Some(parent) = parent {
            let (_, parent) = self.registry.get_mut(&parent).expect("a parent is never removed");
            parent.live_children -= 1;
        }
        context.emit(EventKind::AgentDeregistered { agent: id.clone(), by: context.signer().clone() });
        self.lose_vote_leaderships(context, id);
        self.end_leases_of(context, &Signer::Agent(id.clone()), LeaseEnd::HolderDeregistered);
        Ok(Accepted::Done)
    }
}
