//! After the award: accept, decline, progress, submit, verify, cancel; the deadlines that run in log
//! time; retries; and the end of a task.

use super::commands::{ReportProgress, SubmitResult};
use super::{AttemptOutcome, Submission, Task, TaskState};
use crate::amount::BASIS_POINTS_ONE;
use crate::event::EventKind;
use crate::fraction::Fraction;
use crate::ledger::EscrowState;
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, State};

/// What happens to the current attempt's escrow when the attempt ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EscrowEnd {
    /// Paid to the winner (minus the fee).
    Release,
    /// Back to the payer.
    Refund,
    /// Frozen for the arbiter, with a reason.
    Dispute,
    /// Already settled by the ledger (it expired, or a party disputed it).
    Settled,
}

/// The reason seed 000 gives a dispute: `Low quality score: 0.xx`, the score rounded half up to two
/// decimals.
pub fn low_score_reason(score: Fraction) -> String {
    let hundredths = (score.micros() + 5_000) / 10_000;
    format!("Low quality score: {}.{:02}", hundredths / 100, hundredths % 100)
}

impl State {
    /// The task, when the signer is its current winner and it is in one of `states`.
    fn winner_task(
        &self,
        context: &Context,
        id: u64,
        states: &[TaskState],
        action: &'static str,
    ) -> Result<&Task, Rejection> {
        let task = self.task_for(id)?;
        let winner = task.current_attempt().map(|attempt| &attempt.winner);
        if winner.is_none() || context.signer().agent() != winner {
            return Err(Rejection::Unauthorized { reason: "only the task's current winner does this" });
        }
        if !states.contains(&task.state) {
            return Err(Self::task_state_error(task, action));
        }
        Ok(task)
    }

    /// `task.accept`.
    pub(crate) fn accept_task(&mut self, context: &mut Context, id: u64) -> CommandResult {
        let task = self.winner_task(context, id, &[TaskState::Awarded, TaskState::Running], "be accepted")?;
        if task.state == TaskState::Running {
            return Ok(Accepted::Unchanged);
        }
        self.market.set_state(id, TaskState::Running);
        let task = self.market.tasks.get_mut(&id).expect("found above");
        let attempt = task.attempts.last_mut().expect("a current attempt");
        attempt.accepted_at_ms = Some(context.now_ms);
        let winner = attempt.winner.clone();
        context.emit(EventKind::TaskAccepted { task: id, winner });
        Ok(Accepted::Done)
    }

    /// `task.decline`: before accepting, at no cost to the winner's reputation; after, as a failure.
    pub(crate) fn decline_task(&mut self, context: &mut Context, id: u64) -> CommandResult {
        let task = self.winner_task(context, id, &[TaskState::Awarded, TaskState::Running], "be declined")?;
        let counts_as_failure = task.state == TaskState::Running;
        self.end_attempt(context, id, AttemptOutcome::Declined, EscrowEnd::Refund);
        if counts_as_failure {
            self.retry_or_fail(context, id);
        } else {
            self.award_next(context, id);
        }
        Ok(Accepted::Done)
    }

    /// `task.progress`.
    pub(crate) fn report_progress(&mut self, context: &mut Context, command: &ReportProgress) -> CommandResult {
        self.winner_task(context, command.task, &[TaskState::Running], "take progress reports")?;
        if command.percent > 100 {
            return Err(Rejection::invalid("percent", "must be at most 100"));
        }
        if command.note.len() > limits::REASON_BYTES_MAX {
            return Err(Rejection::invalid("note", format!("must be at most {} bytes", limits::REASON_BYTES_MAX)));
        }
        let task = self.market.tasks.get_mut(&command.task).expect("found above");
        let attempt = task.attempts.last_mut().expect("a current attempt");
        attempt.progress = Some((command.percent, command.note.clone()));
        let winner = attempt.winner.clone();
        context.emit(EventKind::TaskProgress {
            task: command.task,
            winner,
            percent: command.percent,
            note: command.note.clone(),
        });
        Ok(Accepted::Done)
    }

    /// `task.submit`: accepting is implied when the winner submits straight away.
    pub(crate) fn submit_result(&mut self, context: &mut Context, command: &SubmitResult) -> CommandResult {
        let id = command.task;
        self.winner_task(context, id, &[TaskState::Awarded, TaskState::Running], "take a result")?;
        match (&command.result, &command.reference) {
            (None, None) => return Err(Rejection::invalid("result", "give the result inline or by reference")),
            (Some(_), Some(_)) => {
                return Err(Rejection::invalid("reference", "give the result inline or by reference, not both"));
            }
            _ => {}
        }
        super::auction::check_inline(command.result.as_ref(), "result", limits::TASK_RESULT_BYTES_MAX)?;
        super::auction::check_reference(command.reference.as_ref(), "reference")?;
        let verify_by_ms = context.now_ms.saturating_add(self.market.tasks[&id].terms.verify_window_ms);
        self.market.set_state(id, TaskState::Submitted);
        let task = self.market.tasks.get_mut(&id).expect("found above");
        let attempt = task.attempts.last_mut().expect("a current attempt");
        attempt.accepted_at_ms.get_or_insert(context.now_ms);
        attempt.submission = Some(Submission {
            result: command.result.clone(),
            reference: command.reference.clone(),
            actual_cost: command.actual_cost,
            submitted_at_ms: context.now_ms,
        });
        let winner = attempt.winner.clone();
        self.set_task_deadline(id, Some(verify_by_ms));
        context.emit(EventKind::TaskSubmitted { task: id, winner, verify_by_ms });
        Ok(Accepted::Done)
    }

    /// `task.verify`.
    pub(crate) fn verify_result(&mut self, context: &mut Context, id: u64, score: Fraction) -> CommandResult {
        let task = self.task_for(id)?;
        if context.signer().agent() != Some(task.verifier()) {
            return Err(Rejection::Unauthorized { reason: "only the task's verifier scores its result" });
        }
        if task.state != TaskState::Submitted {
            return Err(Self::task_state_error(task, "be verified"));
        }
        let passed = score >= task.terms.min_score;
        let verifier = task.verifier().clone();
        context.emit(EventKind::TaskVerified { task: id, verifier, score, passed });
        if passed {
            self.end_attempt(context, id, AttemptOutcome::Completed { score: Some(score) }, EscrowEnd::Release);
            self.end_task(context, id, TaskState::Completed, None);
        } else {
            self.end_attempt(context, id, AttemptOutcome::Rejected { score }, EscrowEnd::Dispute);
            self.retry_or_fail(context, id);
        }
        Ok(Accepted::Done)
    }

    /// `task.cancel`: before anyone accepted the task.
    pub(crate) fn cancel_task(&mut self, context: &mut Context, id: u64, reason: &str) -> CommandResult {
        let task = self.task_for(id)?;
        if context.signer().agent() != Some(&task.manager) {
            return Err(Rejection::Unauthorized { reason: "only the task's manager cancels it" });
        }
        if reason.len() > limits::REASON_BYTES_MAX {
            return Err(Rejection::invalid("reason", format!("must be at most {} bytes", limits::REASON_BYTES_MAX)));
        }
        match task.state {
            TaskState::Waiting | TaskState::Open => {}
            TaskState::Awarded => self.end_attempt(context, id, AttemptOutcome::Cancelled, EscrowEnd::Refund),
            _ => return Err(Self::task_state_error(task, "be cancelled (cancel before the winner accepts)")),
        }
        let reason = if reason.is_empty() { "cancelled by its manager".to_owned() } else { reason.to_owned() };
        self.end_task(context, id, TaskState::Cancelled, Some(reason));
        Ok(Accepted::Done)
    }

    /// Runs the market's deadlines that passed: bidding windows close, late work is refunded and
    /// retried, unscored results are paid.
    pub(crate) fn expire_market(&mut self, context: &mut Context) {
        // Awards rank every bid, so an entry stops after ranking about this many (the rest wait for
        // the next entry, which the driver writes at once since they are due).
        let mut bids_ranked = 0usize;
        for _ in 0..limits::TASK_DEADLINES_PER_ENTRY_MAX {
            let Some(&(deadline_ms, id)) = self.market.deadlines.first() else { break };
            if deadline_ms >= context.now_ms || bids_ranked >= limits::AWARD_BIDS_PER_ENTRY_MAX {
                break;
            }
            bids_ranked += self.market.tasks[&id].bids.len().max(1);
            self.set_task_deadline(id, None);
            match self.market.tasks[&id].state {
                TaskState::Open => self.award(context, id),
                TaskState::Awarded | TaskState::Running => {
                    self.end_attempt(context, id, AttemptOutcome::MissedDeadline, EscrowEnd::Refund);
                    self.retry_or_fail(context, id);
                }
                TaskState::Submitted => {
                    self.end_attempt(context, id, AttemptOutcome::Completed { score: None }, EscrowEnd::Release);
                    self.end_task(context, id, TaskState::Completed, None);
                }
                other => unreachable!("a {} task has no deadline", other.name()),
            }
        }
    }

    /// The ledger's hook: a party disputed a task's escrow. The task ends `disputed`; the arbiter
    /// settles the money.
    pub(crate) fn task_escrow_disputed(&mut self, context: &mut Context, id: u64, escrow: u64) {
        let is_current =
            self.market.task(id).and_then(Task::current_attempt).is_some_and(|attempt| attempt.escrow == escrow);
        if is_current {
            self.end_attempt(context, id, AttemptOutcome::Disputed, EscrowEnd::Settled);
            self.end_task(context, id, TaskState::Disputed, Some(format!("escrow {escrow} was disputed")));
        }
    }

    /// The ledger's hook: a task's escrow expired before the market's own deadline ran (only when
    /// deadlines pile up beyond what one entry handles). Treated as a missed deadline.
    pub(crate) fn task_escrow_expired(&mut self, context: &mut Context, id: u64, escrow: u64) {
        let is_current =
            self.market.task(id).and_then(Task::current_attempt).is_some_and(|attempt| attempt.escrow == escrow);
        if is_current {
            self.end_attempt(context, id, AttemptOutcome::MissedDeadline, EscrowEnd::Settled);
            self.retry_or_fail(context, id);
        }
    }

    /// Ends the current attempt: settles its escrow, records the outcome and the winner's reputation,
    /// and excludes the winner from the task unless it completed it.
    fn end_attempt(&mut self, context: &mut Context, id: u64, outcome: AttemptOutcome, escrow_end: EscrowEnd) {
        let task = &self.market.tasks[&id];
        let attempt = task.current_attempt().expect("the caller checked there is one");
        let (escrow, winner) = (attempt.escrow, attempt.winner.clone());
        let was_running = task.state != TaskState::Awarded;
        match escrow_end {
            EscrowEnd::Release => self.settle(context, escrow, EscrowState::Released, BASIS_POINTS_ONE as u16),
            EscrowEnd::Refund => self.settle(context, escrow, EscrowState::Refunded, 0),
            EscrowEnd::Dispute => {
                let AttemptOutcome::Rejected { score } = outcome else { unreachable!("only rejections dispute") };
                let verifier = task.verifier().clone();
                self.freeze_escrow(context, escrow, verifier, low_score_reason(score));
            }
            EscrowEnd::Settled => {}
        }
        self.attempt_ending(context, id, matches!(outcome, AttemptOutcome::Completed { .. }));
        self.record_reputation(id, &outcome, was_running);
        let task = self.market.tasks.get_mut(&id).expect("found above");
        let attempt = task.attempts.last_mut().expect("found above");
        attempt.outcome = outcome.clone();
        attempt.ended_at_ms = Some(context.now_ms);
        if !matches!(outcome, AttemptOutcome::Completed { .. }) {
            task.excluded.insert(winner.clone());
        }
        self.set_task_deadline(id, None);
        context.emit(EventKind::TaskAttemptEnded { task: id, winner, escrow, outcome });
    }

    /// After a failed attempt: award again, unless the retries are used up.
    fn retry_or_fail(&mut self, context: &mut Context, id: u64) {
        let task = self.market.tasks.get_mut(&id).expect("the caller found it");
        task.retries += 1;
        if task.retries > task.terms.max_retries {
            let reason = format!("failed {} times", task.retries);
            self.end_task(context, id, TaskState::Failed, Some(reason));
        } else {
            self.award_next(context, id);
        }
    }

    /// Awards the next-best bid, unless the task has had as many attempts as it may.
    fn award_next(&mut self, context: &mut Context, id: u64) {
        if self.market.tasks[&id].attempts.len() >= limits::ATTEMPTS_PER_TASK_MAX {
            let reason = format!("awarded {} times without a result", limits::ATTEMPTS_PER_TASK_MAX);
            self.end_task(context, id, TaskState::Failed, Some(reason));
        } else {
            self.award(context, id);
        }
    }

    /// Ends a task for good: drops its bids and deadline, files it as ended, and lets the tasks that
    /// wait for it go on (or fail with it).
    pub(super) fn end_task(&mut self, context: &mut Context, id: u64, state: TaskState, reason: Option<String>) {
        assert!(state.is_terminal(), "a task ends in a terminal state");
        let mut worklist = vec![(id, state, reason)];
        while let Some((id, state, reason)) = worklist.pop() {
            let task = &self.market.tasks[&id];
            assert!(!task.state.is_terminal(), "a task ends once");
            assert!(task.current_attempt().is_none(), "the current attempt ends before its task");
            let bidders: Vec<_> = task.bids.keys().cloned().collect();
            let (manager, waiting_on) = (task.manager.clone(), task.terms.depends_on.clone());
            let was_waiting = task.state == TaskState::Waiting;
            for bidder in bidders {
                self.drop_bid(id, &bidder);
            }
            self.set_task_deadline(id, None);
            self.unqueue(id);
            if was_waiting {
                for dependency in waiting_on {
                    self.market.dependents.remove(&(dependency, id));
                }
            }
            self.market.set_state(id, state);
            let task = self.market.tasks.get_mut(&id).expect("found above");
            task.closes_at_ms = None;
            task.reason = reason.clone();
            task.ended_at_ms = Some(context.now_ms);
            self.market.ended.insert(id);
            self.market.open_tasks -= 1;
            let count = self.market.open_per_manager.get_mut(&manager).expect("an open task is counted");
            *count -= 1;
            if *count == 0 {
                self.market.open_per_manager.remove(&manager);
            }
            context.emit(EventKind::TaskEnded { task: id, state, reason });
            worklist.extend(self.release_dependents(context, id, state == TaskState::Completed));
        }
    }
}
