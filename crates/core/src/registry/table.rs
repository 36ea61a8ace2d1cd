//! The registry's table: every agent ever registered, stored densely by handle, and the intern index
//! from ids to handles.
//!
//! Ids are text chosen by clients (up to 64 bytes); comparing them is most of what a lookup in an
//! id-keyed tree costs, and every command looks its signer up several times. So an id is looked up
//! once, where a command names it, and everything after that (the signer's record, its liveness
//! deadline, its wallet) is reached through its [`AgentHandle`]: a `u32` that indexes a vector.
//!
//! Invariants (checked by [`Registry::check_invariants`]):
//! - handles are dense and assigned in log order: the n-th agent ever registered has handle n, and
//!   an agent keeps its handle for the life of the log (tombstones included), so replaying the same
//!   log assigns the same handles on every machine;
//! - `handles` names exactly the agents of `agents`, each under its own id;
//! - the liveness queue and the key index name handles, never ids.
//!
//! Snapshots carry the table as it is (the vector in handle order and the index), so that a restored
//! state hands out the same handles as the state it was taken from. They do not carry the capability
//! index ([`CapabilityIndex`]), which is derived from the agents and rebuilt when one is decoded.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::capabilities::CapabilityIndex;
use super::{Agent, Liveness};
use crate::ids::{AgentId, Name, PublicKey};
use crate::limits;

/// An agent's dense index in the registry: assigned in log order, never reused.
///
/// Handles never leave core's state: wire, views and events name agents by id. `AGENT_IDS_MAX` is far
/// below `u32::MAX`, so a handle always fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AgentHandle(u32);

const _: () = assert!(limits::AGENT_IDS_MAX < u32::MAX as usize, "every handle fits a u32");

impl AgentHandle {
    /// The handle's position in the registry: the number of agents registered before this one.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The handle at `position` in the registry's vector.
    pub(crate) fn at(position: usize) -> AgentHandle {
        AgentHandle(u32::try_from(position).expect("AGENT_IDS_MAX fits a u32"))
    }
}

/// All agents, their liveness deadlines and their keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// Every agent ever registered, by handle.
    agents: Vec<Agent>,
    /// The intern index: id → handle, ordered by id for listing and pagination.
    handles: BTreeMap<AgentId, AgentHandle>,
    /// `(deadline, agent)` for every active, registered agent: a priority queue ordered by deadline.
    pub(crate) liveness_deadlines: BTreeSet<(u64, AgentHandle)>,
    /// Agents not deregistered; `agents.len() - live` are tombstones.
    pub(crate) live: usize,
    /// The live agents' keys: one key names one live agent, so a registration cannot borrow another
    /// agent's key (and with it signed requests made for that agent).
    pub(crate) live_keys: BTreeMap<PublicKey, AgentHandle>,
    /// The registration pace (a generic cell rate algorithm): the log time at which the bucket of
    /// `registration_burst` registrations would be full again. A registration at `now` is allowed
    /// while this is at most `interval × (burst − 1)` ahead of `now`, and moves it one interval on.
    pub(crate) registration_paced_until_ms: u64,
    /// The agents that can take work, by capability: derived from `agents`, so neither hashed nor in
    /// snapshots.
    #[serde(skip)]
    capabilities: CapabilityIndex,
}

impl Registry {
    /// Looks an agent up.
    pub fn get(&self, id: &AgentId) -> Option<&Agent> {
        self.handle(id).map(|handle| self.by_handle(handle))
    }

    /// The handle of `id`, if it was ever registered.
    pub fn handle(&self, id: &AgentId) -> Option<AgentHandle> {
        self.handles.get(id).copied()
    }

    /// The agent behind a handle this registry gave out.
    ///
    /// # Panics
    /// For a handle of another registry (handles are never forged: core makes them all).
    pub fn by_handle(&self, handle: AgentHandle) -> &Agent {
        &self.agents[handle.index()]
    }

    pub(crate) fn by_handle_mut(&mut self, handle: AgentHandle) -> &mut Agent {
        &mut self.agents[handle.index()]
    }

    /// Looks an agent up for a change, returning its handle too.
    pub(crate) fn get_mut(&mut self, id: &AgentId) -> Option<(AgentHandle, &mut Agent)> {
        let handle = self.handle(id)?;
        Some((handle, self.by_handle_mut(handle)))
    }

    /// Whether `id` was ever registered (tombstones included).
    pub fn contains(&self, id: &AgentId) -> bool {
        self.handles.contains_key(id)
    }

    /// Adds a newly registered agent under the next handle.
    ///
    /// # Panics
    /// If the id is taken: registration checks that first.
    pub(crate) fn insert(&mut self, agent: Agent) -> AgentHandle {
        let handle = AgentHandle::at(self.agents.len());
        let previous = self.handles.insert(agent.id.clone(), handle);
        assert!(previous.is_none(), "an id is registered once");
        assert!(agent.deregistered_at_ms.is_none(), "an agent is registered live");
        if agent.can_take_work() {
            self.capabilities.add(handle, &agent);
        }
        self.agents.push(agent);
        handle
    }

    /// Gives a live agent a new set of capabilities, keeping the capability index exact: the one way
    /// an agent's capabilities change.
    pub(crate) fn set_capabilities(&mut self, handle: AgentHandle, capabilities: BTreeSet<Name>) {
        let agent = &mut self.agents[handle.index()];
        assert!(agent.deregistered_at_ms.is_none(), "only a live agent's capabilities change");
        if self.capabilities.contains(handle) {
            self.capabilities.change(handle, &agent.capabilities, &capabilities);
        }
        agent.capabilities = capabilities;
    }

    /// Gives a live agent a new role, keeping the role index exact: the one way an agent's role
    /// changes.
    pub(crate) fn set_role(&mut self, handle: AgentHandle, role: Name) {
        let agent = &mut self.agents[handle.index()];
        assert!(agent.deregistered_at_ms.is_none(), "only a live agent's role changes");
        if self.capabilities.contains(handle) {
            self.capabilities.change_role(handle, &agent.role, &role);
        }
        agent.role = role;
    }

    /// Changes what decides whether an agent can take work (its liveness, halt or budget halt) and
    /// brings the capability index along: the one way those fields change on a live agent. Answers
    /// whether the agent became able to take work, which the caller tells the market (a queued task
    /// may now find it: `State::agent_can_take_work`).
    pub(crate) fn update_availability(&mut self, handle: AgentHandle, change: impl FnOnce(&mut Agent)) -> bool {
        let agent = &mut self.agents[handle.index()];
        change(agent);
        match (self.capabilities.contains(handle), agent.can_take_work()) {
            (false, true) => {
                self.capabilities.add(handle, agent);
                return true;
            }
            (true, false) => self.capabilities.remove(handle, &agent.capabilities, &agent.role),
            _ => {}
        }
        false
    }

    /// Makes a live agent a tombstone at `now_ms`: it leaves the capability index and keeps no
    /// capabilities (a deregistered agent is offered nothing). The caller settles the rest (liveness
    /// deadline, key, parent's count).
    pub(crate) fn retire(&mut self, handle: AgentHandle, now_ms: u64) {
        let agent = &mut self.agents[handle.index()];
        assert!(agent.deregistered_at_ms.is_none(), "an agent is deregistered once");
        agent.deregistered_at_ms = Some(now_ms);
        let capabilities = std::mem::take(&mut agent.capabilities);
        if self.capabilities.contains(handle) {
            self.capabilities.remove(handle, &capabilities, &agent.role);
        }
    }

    /// Rebuilds the derived capability index from the agents (after a snapshot is decoded).
    pub(crate) fn rebuild_index(&mut self) {
        self.capabilities = CapabilityIndex::build(&self.agents);
    }

    /// The agents that can take work, by capability.
    pub fn capability_index(&self) -> &CapabilityIndex {
        &self.capabilities
    }

    /// All agents (tombstones included), ordered by id.
    pub fn iter(&self) -> impl Iterator<Item = &Agent> {
        self.handles.values().map(|handle| self.by_handle(*handle))
    }

    /// Agents with ids strictly after `after`, ordered by id: the pagination primitive.
    pub fn iter_after<'a>(&'a self, after: Option<&AgentId>) -> impl Iterator<Item = &'a Agent> + 'a {
        use std::ops::Bound;
        let lower = match after {
            Some(id) => Bound::Excluded(id.clone()),
            None => Bound::Unbounded,
        };
        self.handles.range((lower, Bound::Unbounded)).map(|(_, handle)| self.by_handle(*handle))
    }

    /// How many ids are taken (tombstones included).
    pub fn len(&self) -> usize {
        self.agents.len()
    }

    /// How many agents are live (not deregistered).
    pub fn live_len(&self) -> usize {
        self.live
    }

    /// The live agent holding `key`, if any.
    pub fn agent_with_key(&self, key: &PublicKey) -> Option<&AgentId> {
        self.live_keys.get(key).map(|handle| &self.by_handle(*handle).id)
    }

    /// Whether no agent was ever registered.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// The earliest heartbeat deadline, if any agent is active.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.liveness_deadlines.first().map(|(deadline, _)| *deadline)
    }

    /// Checks the registry's invariants; returns a description of the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.check_table()?;
        let live = self.agents.iter().filter(|agent| agent.deregistered_at_ms.is_none()).count();
        if live != self.live || live > limits::AGENTS_MAX {
            return Err(format!("{live} live agents, counted {}, limit {}", self.live, limits::AGENTS_MAX));
        }
        let mut expected_deadlines = BTreeSet::new();
        let mut children = vec![0_u32; self.agents.len()];
        let mut keys = BTreeMap::new();
        for (index, agent) in self.agents.iter().enumerate() {
            let handle = AgentHandle::at(index);
            let id = &agent.id;
            if agent.deregistered_at_ms.is_none() {
                if let Some(parent) = &agent.parent {
                    let parent = self.handle(parent).ok_or_else(|| format!("agent '{id}' names a missing parent"))?;
                    children[parent.index()] += 1;
                }
                if keys.insert(agent.public_key, handle).is_some() {
                    return Err(format!("agent '{id}' shares its key with another live agent"));
                }
            }
            if agent.deregistered_at_ms.is_none() && agent.liveness == Liveness::Active {
                expected_deadlines.insert((agent.heartbeat_deadline_ms, handle));
            }
            for (relation, other) in [("parent", &agent.parent), ("referrer", &agent.referrer)] {
                if let Some(other) = other
                    && !self.contains(other)
                {
                    return Err(format!("agent '{id}' names a missing {relation} '{other}'"));
                }
            }
            if agent.capabilities.len() > limits::CAPABILITIES_PER_AGENT_MAX {
                return Err(format!("agent '{id}' has too many capabilities"));
            }
            agent.replay.check_invariants().map_err(|reason| format!("agent '{id}': {reason}"))?;
        }
        if expected_deadlines != self.liveness_deadlines {
            return Err("liveness deadlines do not match the active agents".to_owned());
        }
        for (agent, counted) in self.agents.iter().zip(children) {
            if agent.live_children != counted || counted > limits::CHILDREN_PER_PARENT_MAX {
                return Err(format!(
                    "agent '{}' has {counted} live children, counted {}",
                    agent.id, agent.live_children
                ));
            }
        }
        if keys != self.live_keys {
            return Err("the key index does not match the live agents".to_owned());
        }
        self.capabilities.check(&self.agents)?;
        Ok(())
    }

    /// The intern table's own invariants: dense handles, one per agent, each under its own id.
    fn check_table(&self) -> Result<(), String> {
        if self.agents.len() > limits::AGENT_IDS_MAX {
            return Err(format!("{} ids exceed the limit", self.agents.len()));
        }
        if self.handles.len() != self.agents.len() {
            return Err(format!("{} handles for {} agents", self.handles.len(), self.agents.len()));
        }
        for (id, handle) in &self.handles {
            match self.agents.get(handle.index()) {
                Some(agent) if agent.id == *id => {}
                Some(_) => return Err(format!("agent '{id}' is stored under another id")),
                None => return Err(format!("agent '{id}' has a handle past the table")),
            }
        }
        Ok(())
    }
}
