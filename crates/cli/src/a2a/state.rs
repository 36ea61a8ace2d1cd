//! Colony's task states as A2A's, in one table, and a Colony task as an A2A task: its status with
//! the reason in words, its result as an artifact.
//!
//! | Colony                              | A2A         | why                                                  |
//! |-------------------------------------|-------------|------------------------------------------------------|
//! | `waiting`, `open`                   | `submitted` | received; nobody has taken it on yet                 |
//! | `awarded`, `running`, `submitted`   | `working`   | a winner holds it (paid in escrow) until it is scored |
//! | `completed`                         | `completed` | scored (or unscored in time) and paid; the result    |
//! | `unassigned`                        | `rejected`  | nobody in the swarm bid: the swarm declined the work |
//! | `failed`, `unfunded`, `disputed`    | `failed`    | wanted, but no result: out of retries, a dependency  |
//! |                                     |             | failed, the payer could not pay, a party disputed    |
//! | `cancelled`                         | `canceled`  | its client (the manager) cancelled it                |

use colony_core::TaskState as ColonyState;
use colony_wire::views::TaskView;
use serde_json::json;

use super::protocol::{Artifact, Message, Part, Task, TaskState, TaskStatus};

/// The A2A state of a Colony task state: the one place the two are matched.
pub fn a2a_state(state: ColonyState) -> TaskState {
    match state {
        ColonyState::Waiting | ColonyState::Open => TaskState::Submitted,
        ColonyState::Awarded | ColonyState::Running | ColonyState::Submitted => TaskState::Working,
        ColonyState::Completed => TaskState::Completed,
        ColonyState::Unassigned => TaskState::Rejected,
        ColonyState::Failed | ColonyState::Unfunded | ColonyState::Disputed => TaskState::Failed,
        ColonyState::Cancelled => TaskState::Canceled,
    }
}

/// The A2A id of a Colony task: the market's id, in decimal.
pub fn a2a_task_id(view: &TaskView) -> String {
    view.id.to_string()
}

/// The A2A context of a Colony task: the manager's own id for it (the message id that announced it,
/// unless the terms named one), which every retry of that message shares.
pub fn a2a_context_id(view: &TaskView) -> String {
    view.terms.task_id.to_string()
}

/// The task in A2A's terms.
pub fn task_from_view(view: &TaskView) -> Task {
    Task {
        id: a2a_task_id(view),
        context_id: a2a_context_id(view),
        status: status_of(view),
        artifacts: result_artifact(view).into_iter().collect(),
        metadata: json!({
            "colony": {
                "task": view.id,
                "taskId": view.terms.task_id,
                "state": view.state.name(),
                "manager": view.manager,
                "kind": view.terms.kind,
                "maxCost": view.terms.max_cost,
            }
        }),
    }
}

/// The task's status: its A2A state, what is going on in a sentence, and when it last changed.
pub fn status_of(view: &TaskView) -> TaskStatus {
    let text = status_text(view);
    let message = Message {
        message_id: format!("{}-{}-{}", view.terms.task_id, view.state.name(), last_change_ms(view)),
        context_id: Some(a2a_context_id(view)),
        task_id: Some(a2a_task_id(view)),
        role: "ROLE_AGENT".to_owned(),
        parts: vec![Part { text: Some(text), ..Part::default() }],
        metadata: None,
    };
    TaskStatus {
        state: a2a_state(view.state),
        message: Some(message),
        timestamp: Some(rfc3339_from_ms(last_change_ms(view))),
    }
}

/// What is going on, in words: the reason when the task ended without a result.
fn status_text(view: &TaskView) -> String {
    let attempt = view.attempts.last();
    let winner = attempt.map_or_else(|| "its winner".to_owned(), |attempt| attempt.winner.to_string());
    match view.state {
        ColonyState::Waiting => format!("waiting for {} tasks it depends on", view.dependencies.len()),
        ColonyState::Open => format!("open for bids (round {}, {} bids so far)", view.rounds, view.bids.len()),
        ColonyState::Awarded => format!("awarded to {winner}, who has not accepted yet"),
        ColonyState::Running => match attempt.and_then(|attempt| attempt.progress.as_ref()) {
            Some((percent, note)) if note.is_empty() => format!("{winner} is working on it ({percent}% done)"),
            Some((percent, note)) => format!("{winner} is working on it ({percent}% done: {note})"),
            None => format!("{winner} is working on it"),
        },
        ColonyState::Submitted => format!("{winner} submitted a result; its verifier scores it"),
        ColonyState::Completed => format!("completed by {winner}"),
        ended => view.reason.clone().unwrap_or_else(|| ended.name().to_owned()),
    }
}

/// When the task last changed, as far as its view tells (log time).
fn last_change_ms(view: &TaskView) -> u64 {
    let attempt_times = view.attempts.iter().flat_map(|attempt| {
        [
            Some(attempt.awarded_at_ms),
            attempt.accepted_at_ms,
            attempt.submission.as_ref().map(|submission| submission.submitted_at_ms),
            attempt.ended_at_ms,
        ]
    });
    attempt_times.chain([Some(view.announced_at_ms), view.ended_at_ms]).flatten().max().unwrap_or(view.announced_at_ms)
}

/// A completed task's result: inline JSON as a data part, a reference as a file part with its URL
/// and, in the part's metadata, the SHA-256 of the content there.
pub fn result_artifact(view: &TaskView) -> Option<Artifact> {
    if view.state != ColonyState::Completed {
        return None;
    }
    let submission = view.attempts.last()?.submission.as_ref()?;
    let mut parts = Vec::new();
    if let Some(result) = &submission.result {
        let data = serde_json::from_str(result.as_str()).expect("a stored result is JSON");
        parts.push(Part { data: Some(data), media_type: Some("application/json".to_owned()), ..Part::default() });
    }
    if let Some(reference) = &submission.reference {
        parts.push(Part {
            url: Some(reference.uri.clone()),
            metadata: Some(json!({ "sha256": reference.sha256 })),
            ..Part::default()
        });
    }
    Some(Artifact { artifact_id: "result".to_owned(), name: "result".to_owned(), parts })
}

/// Unix milliseconds as an RFC 3339 UTC timestamp (`2026-12-06T03:31:50.123Z`).
pub fn rfc3339_from_ms(unix_ms: u64) -> String {
    const MS_PER_DAY: u64 = 86_400_000;
    let (days, ms_of_day) = (unix_ms / MS_PER_DAY, unix_ms % MS_PER_DAY);
    let (year, month, day) = civil_date(days);
    let (hours, minutes) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
    let (seconds, millis) = (ms_of_day / 1_000 % 60, ms_of_day % 1_000);
    format!("{year:04}-{month:02}-{day:02}T{hours:02}:{minutes:02}:{seconds:02}.{millis:03}Z")
}

/// The proleptic Gregorian date `days` after 1970-01-01. Counts in 400-year eras (146,097 days
/// each) of years that start on 1 March, so that the leap day falls at the end of a year.
fn civil_date(days: u64) -> (u64, u64, u64) {
    const DAYS_PER_ERA: u64 = 146_097;
    // 1970-01-01 is day 719,468 counted from 0000-03-01.
    let shifted = days + 719_468;
    let (era, day_of_era) = (shifted / DAYS_PER_ERA, shifted % DAYS_PER_ERA);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March, each five of which take 153 days.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_colony_state_has_its_a2a_state() {
        let expected = [
            (ColonyState::Waiting, TaskState::Submitted),
            (ColonyState::Open, TaskState::Submitted),
            (ColonyState::Awarded, TaskState::Working),
            (ColonyState::Running, TaskState::Working),
            (ColonyState::Submitted, TaskState::Working),
            (ColonyState::Completed, TaskState::Completed),
            (ColonyState::Failed, TaskState::Failed),
            (ColonyState::Cancelled, TaskState::Canceled),
            (ColonyState::Unassigned, TaskState::Rejected),
            (ColonyState::Unfunded, TaskState::Failed),
            (ColonyState::Disputed, TaskState::Failed),
        ];
        for (colony, a2a) in expected {
            assert_eq!(a2a_state(colony), a2a, "{}", colony.name());
            let a2a_ended = !matches!(a2a, TaskState::Submitted | TaskState::Working);
            assert_eq!(a2a_ended, colony.is_terminal(), "{} ends in both or neither", colony.name());
        }
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        assert_eq!(rfc3339_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_from_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_from_ms(1_796_527_910_123), "2026-12-06T03:31:50.123Z");
        assert_eq!(rfc3339_from_ms(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }
}
