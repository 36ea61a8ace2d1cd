//! The agents that can take work, by capability and by role: who direct assignment walks, and who
//! an electorate of roles is drawn from, instead of the whole registry.
//!
//! A direct task with required capabilities can only go to an agent holding all of them, so the
//! agents worth looking at are the holders of the rarest one; a task requiring none can go to any
//! agent. Only agents that can take work now ([`Agent::can_take_work`]: live, not halted, responsive)
//! are indexed: a crowd of silent or halted agents holding a common capability would otherwise fill
//! every window a look walks, and spend each task's budget of agents examined on agents that cannot
//! be chosen. Both populations are kept here, ordered by handle (log order), so that a walk can start
//! anywhere in them and wrap around (see `market/assignment.rs`'s window).
//!
//! The same agents are kept by role, because an electorate of "the active architects" must cost what
//! the architects number, not what the registry does: without it, a crowd of agents of another role
//! would make every such proposal walk them all.
//!
//! The index is derived state: it is a function of the agents' records (whether each can take work,
//! and its capabilities), so it is neither hashed nor carried by snapshots; decoding a snapshot
//! rebuilds it ([`CapabilityIndex::build`]) and `Registry::check_invariants` holds it equal to a
//! rebuild ([`CapabilityIndex::check`]). Keeping it out of snapshots costs one pass over the agents
//! when a snapshot is decoded, and spares every snapshot and every state hash the bytes of a second
//! copy of every capability.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::{Agent, AgentHandle};
use crate::ids::Name;

/// No agent: the population of a capability nobody holds.
static NOBODY: BTreeSet<AgentHandle> = BTreeSet::new();

/// The agents that can take work, by capability, by role and all of them, by handle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapabilityIndex {
    /// Capability → the available agents holding it. No entry is empty.
    holders: BTreeMap<Name, BTreeSet<AgentHandle>>,
    /// Role → the available agents in it. No entry is empty.
    by_role: BTreeMap<Name, BTreeSet<AgentHandle>>,
    /// Every agent that can take work.
    available: BTreeSet<AgentHandle>,
}

impl CapabilityIndex {
    /// The index of `agents`, stored by handle: what every change kept it equal to.
    pub(crate) fn build(agents: &[Agent]) -> CapabilityIndex {
        let mut index = CapabilityIndex::default();
        for (position, agent) in agents.iter().enumerate() {
            if agent.can_take_work() {
                index.add(AgentHandle::at(position), agent);
            }
        }
        index
    }

    /// Whether the agent behind `handle` is indexed.
    pub(crate) fn contains(&self, handle: AgentHandle) -> bool {
        self.available.contains(&handle)
    }

    /// An agent becomes able to take work, with its capabilities and role.
    pub(crate) fn add(&mut self, handle: AgentHandle, agent: &Agent) {
        let added = self.available.insert(handle);
        assert!(added, "an agent is indexed once");
        for capability in &agent.capabilities {
            self.holders.entry(capability.clone()).or_default().insert(handle);
        }
        self.by_role.entry(agent.role.clone()).or_default().insert(handle);
    }

    /// An indexed agent can no longer take work (halted, silent or deregistered), with the
    /// capabilities and role it had.
    pub(crate) fn remove(&mut self, handle: AgentHandle, capabilities: &BTreeSet<Name>, role: &Name) {
        let removed = self.available.remove(&handle);
        assert!(removed, "only an indexed agent leaves the index");
        self.drop_capabilities(handle, capabilities.iter());
        self.drop_role(handle, role);
    }

    /// An indexed agent's role changes from `old` to `new`.
    pub(crate) fn change_role(&mut self, handle: AgentHandle, old: &Name, new: &Name) {
        assert!(self.available.contains(&handle), "only an indexed agent's role changes here");
        self.drop_role(handle, old);
        self.by_role.entry(new.clone()).or_default().insert(handle);
    }

    fn drop_role(&mut self, handle: AgentHandle, role: &Name) {
        let members = self.by_role.get_mut(role).expect("an indexed agent's role is indexed");
        members.remove(&handle);
        if members.is_empty() {
            self.by_role.remove(role);
        }
    }

    /// An indexed agent's capabilities change from `old` to `new`.
    pub(crate) fn change(&mut self, handle: AgentHandle, old: &BTreeSet<Name>, new: &BTreeSet<Name>) {
        assert!(self.available.contains(&handle), "only an indexed agent's memberships change");
        self.drop_capabilities(handle, old.difference(new));
        for capability in new.difference(old) {
            self.holders.entry(capability.clone()).or_default().insert(handle);
        }
    }

    fn drop_capabilities<'a>(&mut self, handle: AgentHandle, capabilities: impl Iterator<Item = &'a Name>) {
        for capability in capabilities {
            let holders = self.holders.get_mut(capability).expect("an agent's capability is indexed");
            holders.remove(&handle);
            if holders.is_empty() {
                self.holders.remove(capability);
            }
        }
    }

    /// Checks that the index is what [`CapabilityIndex::build`] would make of `agents`, without
    /// building a second one: every agent that can take work is in `available` under each of its
    /// capabilities, no other agent is, and the index holds no more memberships than that.
    pub(crate) fn check(&self, agents: &[Agent]) -> Result<(), String> {
        let (mut memberships, mut available_agents) = (0usize, 0usize);
        for (position, agent) in agents.iter().enumerate() {
            let handle = AgentHandle::at(position);
            let available = agent.can_take_work();
            if agent.deregistered_at_ms.is_some() && !agent.capabilities.is_empty() {
                return Err(format!("the tombstone '{}' keeps capabilities", agent.id));
            }
            if self.available.contains(&handle) != available {
                return Err(format!("the capability index disagrees on whether '{}' can take work", agent.id));
            }
            if !available {
                continue;
            }
            available_agents += 1;
            if let Some(missing) = agent.capabilities.iter().find(|held| !self.holders(held).contains(&handle)) {
                return Err(format!("the capability index misses '{}' holding '{missing}'", agent.id));
            }
            memberships += agent.capabilities.len();
            if !self.with_role(&agent.role).contains(&handle) {
                return Err(format!("the role index misses '{}' as '{}'", agent.id, agent.role));
            }
        }
        let indexed: usize = self.holders.values().map(BTreeSet::len).sum();
        if indexed != memberships || self.holders.values().any(BTreeSet::is_empty) {
            return Err(format!("the capability index holds {indexed} memberships for {memberships} held"));
        }
        let in_roles: usize = self.by_role.values().map(BTreeSet::len).sum();
        if in_roles != available_agents || self.by_role.values().any(BTreeSet::is_empty) {
            return Err(format!("the role index holds {in_roles} agents for {available_agents} available"));
        }
        if self.available.len() != available_agents {
            return Err("the capability index names agents past the table".to_owned());
        }
        Ok(())
    }

    /// The agents that can take work holding `capability`, by handle.
    pub fn holders(&self, capability: &Name) -> &BTreeSet<AgentHandle> {
        self.holders.get(capability).unwrap_or(&NOBODY)
    }

    /// The agents that can take work in `role`, by handle.
    pub fn with_role(&self, role: &Name) -> &BTreeSet<AgentHandle> {
        self.by_role.get(role).unwrap_or(&NOBODY)
    }

    /// Every agent that can take work, by handle.
    pub fn available(&self) -> &BTreeSet<AgentHandle> {
        &self.available
    }

    /// The agents that may hold every capability of `required`: the holders of the rarest one (the
    /// first by name among equally rare ones), or every available agent when nothing is required.
    pub fn population(&self, required: &BTreeSet<Name>) -> &BTreeSet<AgentHandle> {
        required
            .iter()
            .map(|capability| self.holders(capability))
            .min_by_key(|holders| holders.len())
            .unwrap_or(&self.available)
    }
}

/// Up to `size` agents of `population`, starting after `after` (from the first when `None`) and
/// wrapping around to the first agents: a window that moves on as `after` does, so a population larger
/// than the window shares the work over time instead of its first agents always being looked at.
pub fn window(
    population: &BTreeSet<AgentHandle>,
    after: Option<AgentHandle>,
    size: usize,
) -> impl Iterator<Item = AgentHandle> + '_ {
    let (tail, head) = match after {
        Some(after) => (population.range((Bound::Excluded(after), Bound::Unbounded)), population.range(..=after)),
        None => (population.range(..), population.range(..AgentHandle::at(0))),
    };
    tail.chain(head).copied().take(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AgentId, PublicKey};
    use crate::registry::{Halt, Liveness, Registry};
    use crate::replay::ReplayWindow;

    const DEADLINE_MS: u64 = 1_000;

    fn names(texts: &[&str]) -> BTreeSet<Name> {
        texts.iter().map(|text| Name::new(*text).expect("a valid name")).collect()
    }

    /// A registry of active agents with these capabilities, each with its liveness deadline.
    fn registry(capabilities: &[&[&str]]) -> Registry {
        let mut registry = Registry::default();
        for (index, held) in capabilities.iter().enumerate() {
            let public_key = PublicKey([index as u8 + 1; 32]);
            let handle = registry.insert(Agent {
                id: AgentId::new(format!("agent-{index}")).expect("a valid id"),
                public_key,
                role: Name::new("worker").expect("a valid name"),
                capabilities: names(held),
                weight: 1,
                parent: None,
                referrer: None,
                liveness: Liveness::Active,
                halt: None,
                budget_halted: false,
                registered_at_ms: 0,
                last_heartbeat_ms: 0,
                heartbeat_deadline_ms: DEADLINE_MS,
                deregistered_at_ms: None,
                live_children: 0,
                replay: ReplayWindow::default(),
            });
            registry.live += 1;
            registry.liveness_deadlines.insert((DEADLINE_MS, handle));
            registry.live_keys.insert(public_key, handle);
        }
        registry
    }

    #[test]
    fn the_index_follows_every_change_and_the_check_catches_a_change_behind_its_back() {
        let mut registry = registry(&[&["a", "b"], &["b"], &[]]);
        registry.check_invariants().expect("kept exact on insert");
        let index = registry.capability_index();
        assert_eq!(index.holders(&Name::new("b").unwrap()), &handles(&[0, 1]));
        assert_eq!(index.population(&names(&["a", "b"])), &handles(&[0]), "the rarest");

        registry.set_capabilities(AgentHandle::at(1), names(&["a", "c"]));
        registry.check_invariants().expect("kept exact on a change");
        let index = registry.capability_index();
        assert_eq!(index.holders(&Name::new("a").unwrap()), &handles(&[0, 1]));
        assert_eq!(index.holders(&Name::new("b").unwrap()), &handles(&[0]));

        registry.retire(AgentHandle::at(0), 5);
        registry.liveness_deadlines.remove(&(DEADLINE_MS, AgentHandle::at(0)));
        let public_key = registry.by_handle(AgentHandle::at(0)).public_key;
        registry.live -= 1;
        registry.live_keys.remove(&public_key);
        registry.check_invariants().expect("kept exact on deregistration");
        let index = registry.capability_index();
        assert!(index.holders(&Name::new("b").unwrap()).is_empty(), "an empty entry is dropped");
        assert_eq!(index.available(), &handles(&[1, 2]));
        assert_eq!(index.population(&BTreeSet::new()), &handles(&[1, 2]));

        registry.by_handle_mut(AgentHandle::at(2)).capabilities = names(&["d"]);
        let broken = registry.check_invariants().expect_err("the index no longer matches");
        assert!(broken.contains("capability index"), "{broken}");
        registry.by_handle_mut(AgentHandle::at(2)).capabilities = BTreeSet::new();
        registry.check_invariants().expect("as it was");
        registry.by_handle_mut(AgentHandle::at(1)).capabilities = names(&["a"]);
        let broken = registry.check_invariants().expect_err("an extra membership");
        assert!(broken.contains("memberships"), "{broken}");
        registry.rebuild_index();
        registry.check_invariants().expect("a rebuild restores it");
    }

    #[test]
    fn only_agents_that_can_take_work_are_indexed_and_they_come_back_with_their_capabilities() {
        let mut registry = registry(&[&["a"], &["a", "b"], &["b"]]);
        let (first, second, third) = (AgentHandle::at(0), AgentHandle::at(1), AgentHandle::at(2));
        let halt = Halt { by: crate::ids::Signer::Operator, reason: "audit".to_owned(), at_ms: 3 };
        registry.update_availability(first, |agent| agent.halt = Some(halt));
        registry.update_availability(second, |agent| agent.budget_halted = true);
        registry.liveness_deadlines.remove(&(DEADLINE_MS, third));
        registry.update_availability(third, |agent| agent.liveness = Liveness::Unresponsive);
        registry.check_invariants().expect("kept exact as agents stop being able to take work");
        let index = registry.capability_index();
        assert!(index.available().is_empty());
        assert!(index.holders(&Name::new("a").unwrap()).is_empty() && index.population(&BTreeSet::new()).is_empty());

        // A capability change while unavailable is remembered by the agent, not the index.
        registry.set_capabilities(first, names(&["c"]));
        registry.check_invariants().expect("an unavailable agent's capabilities stay out of the index");
        registry.update_availability(first, |agent| agent.halt = None);
        registry.update_availability(second, |agent| agent.budget_halted = false);
        registry.check_invariants().expect("kept exact as agents come back");
        let index = registry.capability_index();
        assert_eq!(index.available(), &handles(&[0, 1]));
        assert_eq!(index.holders(&Name::new("c").unwrap()), &handles(&[0]));
        assert_eq!(index.holders(&Name::new("b").unwrap()), &handles(&[1]), "the silent agent is not offered work");

        // A change that leaves availability as it was touches nothing.
        registry.update_availability(second, |agent| agent.weight = 7);
        registry.check_invariants().expect("unchanged");
        // A change behind the registry's back is caught.
        registry.by_handle_mut(first).halt =
            Some(Halt { by: crate::ids::Signer::Operator, reason: String::new(), at_ms: 4 });
        let broken = registry.check_invariants().expect_err("the halted agent is still indexed");
        assert!(broken.contains("can take work"), "{broken}");
    }

    fn handles(indexes: &[usize]) -> BTreeSet<AgentHandle> {
        indexes.iter().map(|index| AgentHandle::at(*index)).collect()
    }

    fn walk(population: &BTreeSet<AgentHandle>, after: Option<usize>, size: usize) -> Vec<usize> {
        window(population, after.map(AgentHandle::at), size).map(AgentHandle::index).collect()
    }

    #[test]
    fn a_window_starts_after_the_cursor_and_wraps_around() {
        let population = handles(&[1, 3, 5, 7, 9]);
        assert_eq!(walk(&population, None, 3), vec![1, 3, 5]);
        assert_eq!(walk(&population, Some(3), 3), vec![5, 7, 9]);
        assert_eq!(walk(&population, Some(7), 3), vec![9, 1, 3]);
        // A cursor between members, or past them all (an agent outside the population).
        assert_eq!(walk(&population, Some(4), 2), vec![5, 7]);
        assert_eq!(walk(&population, Some(10), 2), vec![1, 3]);
        // A population within the window is walked whole, each agent once, wherever it starts.
        assert_eq!(walk(&population, Some(5), 10), vec![7, 9, 1, 3, 5]);
        assert_eq!(walk(&BTreeSet::new(), Some(5), 10), Vec::<usize>::new());
    }
}
