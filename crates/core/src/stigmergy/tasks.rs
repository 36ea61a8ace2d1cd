//! Seed 003's typed task signals, read off a map's trails: a trail keyed `<task>:<type>`, the type
//! one of `available`, `claimed`, `completed`, `failed`, is that signal of that task. A task is
//! available when its `available` signal is present and neither `claimed` nor `completed` is, as
//! seed 003's `get_available_tasks` has it; a signal is present while above the map's pruning level
//! (seed 003's 0.01). Claims are made atomic by a deposit with `unless_present`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::book::PheromoneMap;
use super::intensity::Intensity;

/// A task signal's type, the last part of its trail's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskSignal {
    /// Work waiting for an agent.
    Available,
    /// An agent is on it.
    Claimed,
    /// Done.
    Completed,
    /// Tried and failed (it does not make a task unavailable).
    Failed,
}

impl TaskSignal {
    /// Every type, in the order of [`TaskSignals`]' fields.
    pub const ALL: [TaskSignal; 4] =
        [TaskSignal::Available, TaskSignal::Claimed, TaskSignal::Completed, TaskSignal::Failed];

    /// The suffix of its trails' keys.
    pub fn suffix(self) -> &'static str {
        match self {
            TaskSignal::Available => "available",
            TaskSignal::Claimed => "claimed",
            TaskSignal::Completed => "completed",
            TaskSignal::Failed => "failed",
        }
    }

    fn parse(suffix: &str) -> Option<TaskSignal> {
        TaskSignal::ALL.into_iter().find(|signal| signal.suffix() == suffix)
    }
}

/// Where a task stands by its signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskSignalState {
    /// `completed` is present.
    Completed,
    /// `claimed` is present (and not `completed`).
    Claimed,
    /// `available` is present, and neither `claimed` nor `completed`: an agent may take it.
    Available,
    /// Only `failed` is present.
    Failed,
}

/// A task's signals' intensities now (zero: absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskSignals {
    /// Its `available` signal.
    pub available: Intensity,
    /// Its `claimed` signal.
    pub claimed: Intensity,
    /// Its `completed` signal.
    pub completed: Intensity,
    /// Its `failed` signal.
    pub failed: Intensity,
}

impl TaskSignals {
    fn slot(&mut self, signal: TaskSignal) -> &mut Intensity {
        match signal {
            TaskSignal::Available => &mut self.available,
            TaskSignal::Claimed => &mut self.claimed,
            TaskSignal::Completed => &mut self.completed,
            TaskSignal::Failed => &mut self.failed,
        }
    }

    /// Where the task stands; `None` when no signal is present.
    pub fn state(&self) -> Option<TaskSignalState> {
        let present = |intensity: Intensity| intensity > Intensity::ZERO;
        if present(self.completed) {
            Some(TaskSignalState::Completed)
        } else if present(self.claimed) {
            Some(TaskSignalState::Claimed)
        } else if present(self.available) {
            Some(TaskSignalState::Available)
        } else if present(self.failed) {
            Some(TaskSignalState::Failed)
        } else {
            None
        }
    }
}

/// Every task with a signal present on `map` at `now_ms`, by task id.
pub fn task_signals(map: &PheromoneMap, now_ms: u64) -> BTreeMap<String, TaskSignals> {
    let mut tasks: BTreeMap<String, TaskSignals> = BTreeMap::new();
    for key in map.trails.keys() {
        let Some((task, suffix)) = key.as_str().rsplit_once(':') else { continue };
        let Some(signal) = TaskSignal::parse(suffix) else { continue };
        let intensity = map.sense(&key, now_ms);
        if intensity > Intensity::ZERO {
            *tasks.entry(task.to_owned()).or_default().slot(signal) = intensity;
        }
    }
    tasks
}
