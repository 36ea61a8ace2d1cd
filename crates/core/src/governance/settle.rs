//! Closing early: whether any way the silent voters could still vote would change the outcome.
//!
//! A completion gives each eligible voter who has not voted a ballot of any kind the type takes, or
//! none. The outcome is settled when every completion gives the same one. For the yes/no types and
//! the weighted ratio that is decided exactly from three completions, because every rule is
//! monotone: more ballots only help the quorum, more yes weight (a higher value) only helps
//! approval and more no weight only hurts it, so the completions "all silent", "all vote no" and
//! "all vote yes" bound every other. Option votes are never settled early.

use super::ballot::{Ballot, Quorum, VoteType};
use super::error::TallyError;
use super::ratio::Ratio;
use super::tally::{Counts, Outcome, ratio_decision, tally, yes_no_decision};
use crate::fraction::MICROS_ONE;

/// The outcome if it is settled whatever the voters who have not voted do; `None` while some
/// completion would change it (and always for option votes). A settled outcome is the one
/// [`tally`] gives now. Refuses what [`tally`] refuses.
pub fn settled_outcome(
    vote_type: &VoteType,
    quorum: Quorum,
    eligible: &[u64],
    ballots: &[Ballot],
) -> Result<Option<Outcome>, TallyError> {
    let now = tally(vote_type, quorum, eligible, ballots)?;
    let silent_voters = u32::try_from(eligible.len() - ballots.len()).unwrap_or(u32::MAX);
    let silent_weight = now.eligible_weight - now.cast_weight;
    if now.outcome == Outcome::NoQuorum {
        // Staying silent keeps it; it is settled only if even everyone voting would miss the quorum.
        let reachable =
            quorum.is_reached(now.ballots.saturating_add(silent_voters), now.eligible_weight, now.eligible_weight);
        return Ok(if reachable { None } else { Some(Outcome::NoQuorum) });
    }
    let settled = match &now.counts {
        Counts::YesNo(counts) => {
            let (yes, no) = (counts.yes_weight, counts.no_weight);
            // With no side taken yet, "all abstain" keeps it abstained while any silent weight could
            // still take a side: a zero threshold would make "all no" and "all yes" agree on approved.
            let sides_fixed = yes + no > 0 || silent_weight == 0;
            let all_no = yes_no_decision(vote_type, yes, no + silent_weight);
            let all_yes = yes_no_decision(vote_type, yes + silent_weight, no);
            sides_fixed && all_no == all_yes
        }
        Counts::WeightedRatio(counts) => {
            let VoteType::WeightedRatio { required } = vote_type else { unreachable!("counts match the type") };
            let micros = u128::from(MICROS_ONE);
            let all_yes = (counts.sided_weight + silent_weight > 0).then(|| {
                Ratio::new(counts.value_weight + silent_weight * micros, now.eligible_weight * micros)
                    .expect("each value is at most one")
            });
            ratio_decision(*required, counts.approval) == ratio_decision(*required, all_yes)
        }
        Counts::Options(_) | Counts::Ranked(_) => false,
    };
    Ok(settled.then_some(now.outcome))
}
