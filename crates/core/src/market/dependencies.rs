//! Tasks that wait for others (seed 004's TaskDependencyManager), as a DAG.
//!
//! A task names the manager's earlier tasks it depends on; they must exist when it is announced and
//! may not include itself, so no cycle can ever form: the dependency graph is ordered by task id. A
//! waiting task opens for bids when its last pending dependency completes. A dependency that ends
//! any other way fails the task (`fail`, the default, cascading to its own dependents that say
//! `fail`) or counts as done (`skip`). Retrying a dependency is the dependency's own business: its
//! `max_retries`.

use super::rejections::MarketRejection;
use super::{DependencyFailure, TaskState, TaskTerms};
use crate::outcome::Rejection;
use crate::state::{Context, State};

impl State {
    /// The dependencies a new task must wait for; refuses one that already failed when the task says
    /// `fail` (the task could never run).
    pub(super) fn pending_dependencies(&self, terms: &TaskTerms) -> Result<Vec<u64>, Rejection> {
        let mut pending = Vec::new();
        for &dependency in &terms.depends_on {
            let task = &self.market.tasks[&dependency];
            match task.state {
                TaskState::Completed => {}
                state if state.is_terminal() => {
                    if terms.on_dependency_failure == DependencyFailure::Fail {
                        return Err(Rejection::Market(MarketRejection::TaskState {
                            task: dependency,
                            state: state.name(),
                            action: "be depended on (it ended without completing)",
                        }));
                    }
                }
                _ => pending.push(dependency),
            }
        }
        Ok(pending)
    }

    /// A task ended: its waiting dependents open when nothing else holds them, or fail with it. Returns
    /// the dependents to end, for the caller's work list (a long chain must not recurse).
    pub(super) fn release_dependents(
        &mut self,
        context: &mut Context,
        id: u64,
        completed: bool,
    ) -> Vec<(u64, TaskState, Option<String>)> {
        let dependents: Vec<u64> =
            self.market.dependents.range((id, 0)..=(id, u64::MAX)).map(|(_, dependent)| *dependent).collect();
        let mut to_end = Vec::new();
        for dependent in dependents {
            self.market.dependents.remove(&(id, dependent));
            let task = &self.market.tasks[&dependent];
            if !completed && task.terms.on_dependency_failure == DependencyFailure::Fail {
                let reason = format!("dependency {id} ended without completing");
                // Unhooked now, so that another failed dependency in the same cascade cannot end it twice.
                for dependency in task.terms.depends_on.clone() {
                    self.market.dependents.remove(&(dependency, dependent));
                }
                to_end.push((dependent, TaskState::Failed, Some(reason)));
                continue;
            }
            let still_waiting = task
                .terms
                .depends_on
                .iter()
                .any(|dependency| self.market.dependents.contains(&(*dependency, dependent)));
            if !still_waiting {
                self.open_round(context, dependent);
            }
        }
        to_end
    }
}
