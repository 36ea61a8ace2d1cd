//! Each agent's record as a worker: seed 000's `performance_score` and `performance_summary`.
//!
//! The performance score starts at 1 and moves toward each scored outcome by an exponentially
//! weighted mean: `score ← floor((score × (1 − α) + sample × α))` in millionths, with α = 0.2, so
//! the last five outcomes weigh about two thirds. The sample is the verifier's score for a
//! verified result (a result paid unscored counts at the task's minimum score), and 0 for a missed
//! deadline or a task abandoned after accepting it. Declining before accepting is honest and moves
//! nothing but the count of declines.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::AttemptOutcome;
use crate::fraction::{Fraction, MICROS_ONE};
use crate::ids::AgentId;
use crate::registry::AgentHandle;
use crate::state::State;

/// The weight of the newest outcome in the performance score, in millionths (0.2).
pub const PERFORMANCE_SMOOTHING_MICROS: u32 = 200_000;

/// An agent's record as a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reputation {
    /// The exponentially weighted mean of its scored outcomes (1 before any).
    pub performance: Fraction,
    /// Tasks it took on (accepted) whose outcome was scored: completed, rejected, late or abandoned.
    pub tasks: u64,
    /// Of those, completed and paid.
    pub succeeded: u64,
    /// Of those completed, delivered within the time the winning bid estimated.
    pub on_time: u64,
    /// Awards it declined before accepting.
    pub declined: u64,
    /// Sum of award-to-submission times of its completed tasks, in milliseconds.
    pub completion_ms_total: u128,
    /// Sum of the actual costs it reported for its completed tasks, in minor units.
    pub cost_total: u128,
    /// Sum of what it was paid for completed tasks (the prices locked), in minor units.
    pub earned_total: u128,
}

impl Default for Reputation {
    fn default() -> Self {
        Reputation {
            performance: Fraction::ONE,
            tasks: 0,
            succeeded: 0,
            on_time: 0,
            declined: 0,
            completion_ms_total: 0,
            cost_total: 0,
            earned_total: 0,
        }
    }
}

impl Reputation {
    /// Moves the performance score toward `sample`.
    pub fn observe(&mut self, sample: Fraction) {
        let keep = u64::from(self.performance.micros()) * u64::from(MICROS_ONE - PERFORMANCE_SMOOTHING_MICROS);
        let take = u64::from(sample.micros()) * u64::from(PERFORMANCE_SMOOTHING_MICROS);
        let micros = (keep + take) / u64::from(MICROS_ONE);
        self.performance =
            Fraction::from_micros(u32::try_from(micros).expect("a mean of fractions")).expect("a mean of fractions");
    }
}

impl State {
    /// An agent's performance score (1 for an agent with no record).
    pub(super) fn performance_of(&self, agent: &AgentId) -> Fraction {
        self.registry.handle(agent).map_or(Fraction::ONE, |handle| self.performance_at(handle))
    }

    /// [`State::performance_of`] for an agent already looked up.
    pub(super) fn performance_at(&self, handle: AgentHandle) -> Fraction {
        self.market.reputations.get(&handle).map_or(Fraction::ONE, |reputation| reputation.performance)
    }

    /// An agent's record as a worker, if it has one.
    pub fn reputation(&self, agent: &AgentId) -> Option<&Reputation> {
        self.registry.handle(agent).and_then(|handle| self.market.reputations.get(&handle))
    }

    /// Records the current attempt's outcome in its winner's reputation.
    pub(super) fn record_reputation(&mut self, id: u64, outcome: &AttemptOutcome, was_running: bool) {
        let task = &self.market.tasks[&id];
        let attempt = task.current_attempt().expect("the caller ends the current attempt");
        let handle = self.registry.handle(&attempt.winner).expect("a winner is registered for the life of the log");
        let min_score = task.terms.min_score;
        let (price, awarded_at_ms, estimated_time_ms) =
            (attempt.price, attempt.awarded_at_ms, attempt.estimated_time_ms);
        let submission = attempt.submission.clone();
        let reputation = self.market.reputations.entry(handle).or_default();
        match outcome {
            AttemptOutcome::Completed { score } => {
                let submission = submission.expect("a completed attempt has a submission");
                let took_ms = submission.submitted_at_ms.saturating_sub(awarded_at_ms);
                reputation.tasks += 1;
                reputation.succeeded += 1;
                reputation.on_time += u64::from(took_ms <= estimated_time_ms);
                reputation.completion_ms_total += u128::from(took_ms);
                reputation.cost_total += u128::from(submission.actual_cost.0);
                reputation.earned_total += u128::from(price.0);
                reputation.observe(score.unwrap_or(min_score));
            }
            AttemptOutcome::Rejected { score } => {
                reputation.tasks += 1;
                reputation.observe(*score);
            }
            AttemptOutcome::MissedDeadline => {
                reputation.tasks += 1;
                reputation.observe(Fraction::ZERO);
            }
            AttemptOutcome::Declined if was_running => {
                reputation.tasks += 1;
                reputation.observe(Fraction::ZERO);
            }
            AttemptOutcome::Declined => reputation.declined += 1,
            AttemptOutcome::Cancelled | AttemptOutcome::Disputed => {}
            AttemptOutcome::Current => unreachable!("an ending attempt has an outcome"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_moves_a_fifth_of_the_way() {
        let mut reputation = Reputation::default();
        reputation.observe(Fraction::ZERO);
        assert_eq!(reputation.performance.to_string(), "0.8");
        reputation.observe(Fraction::parse("0.5").unwrap());
        assert_eq!(reputation.performance.to_string(), "0.74");
        for _ in 0..200 {
            reputation.observe(Fraction::ONE);
        }
        // Rounding down stops short of 1 by at most a few millionths, never above it.
        assert!(reputation.performance.micros() >= 999_995);
    }
}
