//! Direct assignment (seed 004's `WorkDistributor`): a `direct` task takes no bids; the market gives
//! it to the best eligible agent with room, at the task's `max_cost`, through the award's own escrow
//! lock.
//!
//! # Eligible
//! Registered, not halted, responsive, with every required capability (the bid checks), no part in
//! the task (manager, payer, verifier, arbiter), within `invited` when given, not excluded (it had
//! the task before), and with room: its load plus the task's `estimated_load` within its capacity.
//!
//! # Load and capacity
//! An agent's load is the sum of the `estimated_load` of every task whose current attempt is its,
//! auctions' and direct tasks' alike: held from the award until the attempt ends (accepted, submitted
//! and unscored work still occupies the worker). Its capacity is `AGENT_CAPACITY_DEFAULT` until it
//! declares its own with `task.capacity` (0 to take no direct work).
//!
//! # Who is looked at
//! The invited agents, when the task names some. Otherwise the manager's affinities for the task's
//! kind (at most `AFFINITIES_PER_MANAGER_MAX`), always, and the population: the live agents holding
//! the task's rarest required capability (the registry's capability index), or every live agent when
//! it requires none. A population of more than `ASSIGNMENT_CANDIDATES_PER_TASK_MAX` agents is not
//! walked whole: the look takes a window of that many, in handle order, starting after
//! `Market::assignment_window_after` and wrapping around. That cursor moves to the agent a direct
//! assignment goes to when the look found it in such a window (never to an invited agent, nor to an
//! affinity outside the window, nor to a winner of a population walked whole: a manager picks those,
//! and must not steer where everyone's next window starts), and to the end of a window that found
//! nobody with room, so the windows move on and a large population shares the work instead of its
//! first agents always winning.
//!
//! A pass whose windowed look found nobody stays due, so the next entry (a tick the driver writes at
//! once) looks at the next window, and so on, until someone is assigned or the windows that found
//! nobody since the last change that could free room (a task queued, load freed, a capacity declared)
//! add up to the largest population looked at: each such change buys one walk around the population,
//! never an endless series of ticks when nobody anywhere has room. The queued tasks share that walk,
//! each look moving the one cursor. Batches plan with the same look, walking on past windows that find
//! nobody within the envelope's budget of agents examined (see `batch.rs`).
//!
//! # The best agent
//! [`agent_order`]: affinity first (it completed a task of the same kind for this manager before),
//! then the higher performance score, then the lower load, then the agent id. Deterministic: no
//! clock, no hashing, integers only.
//!
//! # The queue
//! An open direct task waits in the assignment queue, ordered by priority (highest first), then task
//! id. A pass over the queue runs at the end of an entry when something may have changed (a task
//! joined the queue, load was freed, a capacity was declared) or a window found nobody (above), from
//! the highest priority down; it stops after `ASSIGNMENTS_PER_ENTRY_MAX` tasks or
//! `ASSIGNMENT_CANDIDATES_PER_ENTRY_MAX` agents examined, and the next entry (a tick the driver
//! writes at once) resumes where it stopped; a new change restarts it from the top. The task's `bid_window_ms` is how long it may wait: when its
//! window closes still queued it ends `unassigned` (or `failed` after earlier attempts). A decline or
//! a retry queues it again for a new window, excluding its earlier holders.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet};

use super::commands::DeclareCapacity;
use super::{Distribution, Task, TaskState, TaskTerms};
use crate::event::EventKind;
use crate::fraction::Fraction;
use crate::ids::{AgentId, Name};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::registry::{AgentHandle, window};
use crate::state::{Context, State};

/// What one look for agents found: the eligible agents with room, best first, and what it cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Look {
    /// The eligible agents with room for the task's load, in [`agent_order`].
    pub candidates: Vec<Candidate>,
    /// How many agents the look examined (invited ones, or affinities and a window of the population).
    pub examined: usize,
    /// The last agent of the window when the population was larger than
    /// `ASSIGNMENT_CANDIDATES_PER_TASK_MAX` (so the look saw only part of it); `None` when it saw all.
    pub(crate) window_end: Option<AgentHandle>,
    /// How many agents the population held (0 for invited agents).
    pub(crate) population: usize,
}

/// An eligible agent, with what ranks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The agent.
    pub agent: AgentId,
    /// Whether it completed a task of the same kind for the same manager before.
    pub affinity: bool,
    /// Its performance score.
    pub performance: Fraction,
    /// Its load now, in units.
    pub load: u64,
    /// Whether the look found it in a window over a population larger than the window (not as an
    /// invited agent, nor only as an affinity): the window's cursor moves only to such an agent.
    pub from_window: bool,
}

/// What [`agent_order`] sorts by, as a key for ordered collections.
pub type RankKey = (Reverse<bool>, Reverse<Fraction>, u64, AgentId);

impl Candidate {
    /// The key of the one order of candidates (see [`agent_order`]).
    pub fn rank_key(&self) -> RankKey {
        (Reverse(self.affinity), Reverse(self.performance), self.load, self.agent.clone())
    }
}

/// The one order of candidates for direct work, best first: affinity, then higher performance,
/// then lower load, then id.
pub fn agent_order(left: &Candidate, right: &Candidate) -> Ordering {
    left.rank_key().cmp(&right.rank_key())
}

/// Refuses a load outside `1..=TASK_LOAD_MAX`.
pub(super) fn check_estimated_load(estimated_load: u32) -> Result<(), Rejection> {
    if !(1..=limits::TASK_LOAD_MAX).contains(&estimated_load) {
        return Err(Rejection::invalid("estimated_load", format!("must be between 1 and {}", limits::TASK_LOAD_MAX)));
    }
    Ok(())
}

fn queue_key(task: &Task) -> (u8, u64) {
    (u8::MAX - task.terms.priority, task.id)
}

impl super::Market {
    /// Load accounting equals the sum over tasks under way, the queue holds exactly the open direct
    /// tasks, and the other bounds hold.
    pub(super) fn check_assignment_invariants(&self) -> Result<(), String> {
        let mut load: BTreeMap<&AgentId, u64> = BTreeMap::new();
        let mut queued = 0usize;
        for task in self.tasks.values() {
            if let Some(attempt) = task.current_attempt() {
                *load.entry(&attempt.winner).or_default() += u64::from(task.terms.estimated_load);
            }
            let waiting = task.state == TaskState::Open && task.terms.distribution == Distribution::Direct;
            if waiting != self.assignment_queue.contains(&queue_key(task)) {
                return Err(format!("task {} is {} but the assignment queue disagrees", task.id, task.state.name()));
            }
            queued += usize::from(waiting);
        }
        if queued != self.assignment_queue.len() {
            return Err("the assignment queue holds tasks that are not waiting for an agent".to_owned());
        }
        if load.len() != self.load_per_agent.len()
            || load.iter().any(|(agent, units)| self.load_per_agent.get(*agent) != Some(units))
        {
            return Err("load per agent disagrees with the tasks under way".to_owned());
        }
        if self.capacities.values().any(|capacity| *capacity > limits::AGENT_CAPACITY_MAX) {
            return Err("a declared capacity is above the limit".to_owned());
        }
        self.affinities.check(limits::AFFINITIES_PER_MANAGER_MAX, limits::AFFINITIES_MAX)?;
        if self.assignment_cursor.is_some() && self.assignments_due_at_ms.is_none() {
            return Err("the assignment pass has a cursor but nothing due".to_owned());
        }
        Ok(())
    }
}

impl State {
    /// An agent's load now, in units.
    pub fn agent_load(&self, agent: &AgentId) -> u64 {
        self.market.load_per_agent.get(agent).copied().unwrap_or(0)
    }

    /// An agent's capacity, declared or the default, in units.
    pub fn agent_capacity(&self, agent: &AgentId) -> u32 {
        self.market.capacities.get(agent).copied().unwrap_or(limits::AGENT_CAPACITY_DEFAULT)
    }

    /// How many agents declared a capacity other than the default (one entry each at most).
    pub fn declared_capacities(&self) -> usize {
        self.market.capacities.len()
    }

    /// How many affinities the market keeps (at most `AFFINITIES_MAX`).
    pub fn affinity_count(&self) -> usize {
        self.market.affinities.len()
    }

    /// Whether `worker` completed a task of `kind` for `manager` (and the market kept it).
    pub fn has_affinity(&self, manager: &AgentId, kind: &Name, worker: &AgentId) -> bool {
        self.market.affinities.contains(&(manager.clone(), kind.clone(), worker.clone()))
    }

    /// Open direct tasks waiting for an agent, in the order they are served.
    pub fn assignment_queue(&self) -> impl Iterator<Item = u64> + '_ {
        self.market.assignment_queue.iter().map(|(_, id)| *id)
    }

    /// Something may let a queued task find an agent: the next pass starts from the top, and the
    /// windows that found nobody may be walked around once more.
    fn assignments_due(&mut self, now_ms: u64) {
        self.market.assignment_window_misses = 0;
        if !self.market.assignment_queue.is_empty() {
            self.market.assignments_due_at_ms = Some(now_ms);
            self.market.assignment_cursor = None;
        }
    }

    /// An agent can take work it could not before (registered, heard from again, resumed, back
    /// within its budget, or holding new capabilities): a queued task that found nobody may find it.
    /// Without this, such a task would wait for the next completion, announcement or capacity change
    /// however long the newly available agent idled.
    pub(crate) fn agent_can_take_work(&mut self, now_ms: u64) {
        self.assignments_due(now_ms);
    }

    /// The current attempt's winner now holds the task's load.
    pub(super) fn hold_load(&mut self, id: u64, winner: &AgentId) {
        let load = u64::from(self.market.tasks[&id].terms.estimated_load);
        *self.market.load_per_agent.entry(winner.clone()).or_default() += load;
    }

    /// The current attempt is ending: its winner's load is freed and, when it completed, its affinity
    /// for the manager's kind of work recorded.
    pub(super) fn attempt_ending(&mut self, context: &Context, id: u64, completed: bool) {
        let task = &self.market.tasks[&id];
        let winner = task.current_attempt().expect("the caller ends the current attempt").winner.clone();
        let load = u64::from(task.terms.estimated_load);
        let affinity = (task.manager.clone(), task.terms.kind.clone(), winner.clone());
        let units = self.market.load_per_agent.get_mut(&winner).expect("a winner holds its task's load");
        *units -= load;
        if *units == 0 {
            self.market.load_per_agent.remove(&winner);
        }
        if completed {
            self.market.affinities.record(affinity, limits::AFFINITIES_PER_MANAGER_MAX, limits::AFFINITIES_MAX);
        }
        self.assignments_due(context.now_ms);
    }

    /// A task opened: a direct one joins the queue.
    pub(super) fn queue_if_direct(&mut self, id: u64, now_ms: u64) {
        let task = &self.market.tasks[&id];
        if task.terms.distribution == Distribution::Direct {
            let key = queue_key(task);
            self.market.assignment_queue.insert(key);
            self.assignments_due(now_ms);
        }
    }

    /// A task left the queue or ended.
    pub(super) fn unqueue(&mut self, id: u64) {
        let key = queue_key(&self.market.tasks[&id]);
        self.market.assignment_queue.remove(&key);
    }

    /// The award step of a direct task: its window closed while it waited (it ends), or its attempt
    /// ended (it waits again, for a new window).
    pub(super) fn award_direct(&mut self, context: &mut Context, id: u64) {
        let task = &self.market.tasks[&id];
        if task.state == TaskState::Open {
            self.unqueue(id);
            if self.market.tasks[&id].attempts.is_empty() {
                let reason = "no eligible agent had room within the window".to_owned();
                self.end_task(context, id, TaskState::Unassigned, Some(reason));
            } else {
                self.end_task(context, id, TaskState::Failed, Some("no eligible agent left".to_owned()));
            }
        } else if task.rounds as usize >= limits::BID_ROUNDS_PER_TASK_MAX {
            self.end_task(context, id, TaskState::Failed, Some("no eligible agent left".to_owned()));
        } else {
            self.open_round(context, id);
        }
    }

    /// The manager's affinities for the task's kind: the workers that completed one for it.
    fn affine_workers(&self, manager: &AgentId, kind: &Name) -> BTreeSet<&AgentId> {
        self.market.affinities.workers(manager, kind).collect()
    }

    /// The most agents a look for work under `terms` can examine now: what it is charged before it
    /// runs, so that a budget is never overdrawn.
    pub(super) fn look_cost_bound(&self, manager: &AgentId, terms: &TaskTerms) -> usize {
        if !terms.invited.is_empty() {
            return terms.invited.len();
        }
        let population = self.registry.capability_index().population(&terms.required_capabilities);
        let window = population.len().min(limits::ASSIGNMENT_CANDIDATES_PER_TASK_MAX);
        self.affine_workers(manager, &terms.kind).len() + window
    }

    /// The agents a look for work under `terms` examines and which of them are eligible with room
    /// (see the module's comment, "Who is looked at"), its window starting at the market's cursor.
    pub(super) fn eligible_agents(&self, manager: &AgentId, terms: &TaskTerms, excluded: &BTreeSet<AgentId>) -> Look {
        self.look_after(manager, terms, excluded, self.market.assignment_window_after)
    }

    /// [`State::eligible_agents`] with the window over a large population starting after `after`.
    pub(super) fn look_after(
        &self,
        manager: &AgentId,
        terms: &TaskTerms,
        excluded: &BTreeSet<AgentId>,
        after: Option<AgentHandle>,
    ) -> Look {
        let affine = self.affine_workers(manager, &terms.kind);
        let mut look = Look::default();
        let consider = |look: &mut Look, handle: AgentHandle, from_window: bool| {
            look.examined += 1;
            let record = self.registry.by_handle(handle);
            let agent = &record.id;
            if Self::is_party_to(manager, terms, agent)
                || excluded.contains(agent)
                || Self::agent_fit(terms, record).is_err()
            {
                return;
            }
            let load = self.agent_load(agent);
            if load + u64::from(terms.estimated_load) > u64::from(self.agent_capacity(agent)) {
                return;
            }
            let performance = self.performance_at(handle);
            let affinity = affine.contains(agent);
            look.candidates.push(Candidate { agent: agent.clone(), affinity, performance, load, from_window });
        };
        if terms.invited.is_empty() {
            let population = self.registry.capability_index().population(&terms.required_capabilities);
            let size = limits::ASSIGNMENT_CANDIDATES_PER_TASK_MAX;
            let windowed = population.len() > size;
            let (mut last, mut affine_in_window) = (None, BTreeSet::new());
            for handle in window(population, after, size) {
                last = Some(handle);
                let agent = &self.registry.by_handle(handle).id;
                if affine.contains(agent) {
                    affine_in_window.insert(agent);
                }
                consider(&mut look, handle, windowed);
            }
            // The affinities the window did not hold are looked at all the same.
            for agent in affine.difference(&affine_in_window) {
                consider(&mut look, self.registry.handle(agent).expect("an affinity names registered agents"), false);
            }
            look.window_end = last.filter(|_| windowed);
            look.population = population.len();
        } else {
            for agent in &terms.invited {
                match self.registry.handle(agent) {
                    Some(handle) => consider(&mut look, handle, false),
                    None => look.examined += 1,
                }
            }
        }
        look.candidates.sort_by(agent_order);
        look
    }

    /// What a look for an agent for queued direct task `id` finds now: the agents it would be offered
    /// to, best first, and how many agents the look examines. `None` unless the task is queued.
    pub fn direct_candidates(&self, id: u64) -> Option<Look> {
        let task = self.market.task(id)?;
        let key = queue_key(task);
        self.market
            .assignment_queue
            .contains(&key)
            .then(|| self.eligible_agents(&task.manager, &task.terms, &task.excluded))
    }

    /// Assigns a queued task to `agent` at its `max_cost`, or ends it `unfunded`. `from_window`: the
    /// look found the agent in a window over a large population, which the next window starts after.
    pub(super) fn assign(&mut self, context: &mut Context, id: u64, agent: AgentId, from_window: bool) {
        self.unqueue(id);
        let task = &self.market.tasks[&id];
        if let Err(reason) = self.payer_can_act(task) {
            self.end_task(context, id, TaskState::Unfunded, Some(reason));
            return;
        }
        let (price, estimated_time_ms) = (task.terms.max_cost, task.terms.deadline_ms);
        let performance = self.performance_of(&agent);
        if from_window {
            self.market.assignment_window_after = self.registry.handle(&agent);
        }
        // Someone had room: the windows that found nobody before this count for nothing now.
        self.market.assignment_window_misses = 0;
        self.lock_award(context, id, agent, price, performance, estimated_time_ms);
    }

    /// The pass over the assignment queue at the end of an entry (see the module's comment).
    pub(crate) fn assign_queued_tasks(&mut self, context: &mut Context) {
        if self.market.assignments_due_at_ms.take().is_none() {
            return;
        }
        let mut cursor = self.market.assignment_cursor.take();
        let (mut tasks_examined, mut agents_examined) = (0usize, 0usize);
        // The largest population a look of this pass walked only a window of, and found nobody in.
        let mut largest_missed = 0usize;
        loop {
            let next = match cursor {
                None => self.market.assignment_queue.first().copied(),
                Some(after) => self
                    .market
                    .assignment_queue
                    .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
                    .next()
                    .copied(),
            };
            let Some(key) = next else {
                self.look_at_next_windows(context.now_ms, largest_missed);
                return;
            };
            if tasks_examined >= limits::ASSIGNMENTS_PER_ENTRY_MAX
                || agents_examined >= limits::ASSIGNMENT_CANDIDATES_PER_ENTRY_MAX
            {
                // Something that happened during this pass restarts it from the top; else resume.
                if self.market.assignments_due_at_ms.is_none() {
                    self.market.assignment_cursor = cursor;
                }
                self.market.assignments_due_at_ms = Some(context.now_ms);
                return;
            }
            tasks_examined += 1;
            let task = &self.market.tasks[&key.1];
            let look = self.eligible_agents(&task.manager, &task.terms, &task.excluded);
            agents_examined += look.examined;
            match look.candidates.into_iter().next() {
                Some(best) => self.assign(context, key.1, best.agent, best.from_window),
                // Nobody in this window: the next look walks the next one.
                None if look.window_end.is_some() => {
                    self.market.assignment_window_after = look.window_end;
                    self.market.assignment_window_misses = self.market.assignment_window_misses.saturating_add(1);
                    largest_missed = largest_missed.max(look.population);
                }
                None => {}
            }
            cursor = Some(key);
        }
    }

    /// The end of a pass: when a look found nobody in its window, the pass stays due (the next entry
    /// looks at the next windows) until the windows that found nobody since the last change that
    /// could free room cover the largest population looked at.
    fn look_at_next_windows(&mut self, now_ms: u64, largest_missed: usize) {
        let walked =
            (self.market.assignment_window_misses as usize).saturating_mul(limits::ASSIGNMENT_CANDIDATES_PER_TASK_MAX);
        if largest_missed > 0 && walked < largest_missed && self.market.assignments_due_at_ms.is_none() {
            self.market.assignments_due_at_ms = Some(now_ms);
        }
    }

    /// `task.capacity`.
    pub(crate) fn declare_capacity(&mut self, context: &mut Context, command: &DeclareCapacity) -> CommandResult {
        let (agent, _) = Self::market_signer(context)?;
        if command.max_load > limits::AGENT_CAPACITY_MAX {
            return Err(Rejection::invalid("max_load", format!("must be at most {}", limits::AGENT_CAPACITY_MAX)));
        }
        if self.agent_capacity(&agent) == command.max_load {
            return Ok(Accepted::Unchanged);
        }
        if command.max_load == limits::AGENT_CAPACITY_DEFAULT {
            self.market.capacities.remove(&agent);
        } else {
            self.market.capacities.insert(agent.clone(), command.max_load);
        }
        self.assignments_due(context.now_ms);
        context.emit(EventKind::TaskCapacityDeclared { agent, max_load: command.max_load });
        Ok(Accepted::Done)
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::AgentHandle;
    use crate::state::State;

    #[test]
    fn the_window_cursor_names_an_agent_of_the_registry() {
        let mut state = State::new();
        state.check_invariants().expect("the empty state");
        state.market.assignment_window_after = Some(AgentHandle::at(0));
        let broken = state.check_invariants().expect_err("no agent has handle 0 yet");
        assert!(broken.contains("window"), "{broken}");
    }
}
