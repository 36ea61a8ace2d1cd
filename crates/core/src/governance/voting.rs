//! Ballots, vetoes and closes: when a proposal is decided and how its decision is sealed.
//!
//! A voter has one live ballot per proposal and may replace it until the proposal closes (the
//! replacement takes the entry that cast it; casting the same choice again changes nothing). A
//! proposal closes at the first of: log time passing its deadline (run from `State::apply`'s
//! time-driven part, at most `PROPOSAL_CLOSES_PER_ENTRY_MAX` per entry), a ballot after which
//! [`settled_outcome`] says the voters yet to vote can no longer change the outcome (checked for the
//! yes/no types and the weighted ratio; option votes are never settled early), or a veto. Ballots are
//! refused from the moment the deadline has passed, even before the entry that closes it runs.

use super::action::ActionResult;
use super::ballot::Ballot;
use super::book::{Closure, Decision, LiveBallot};
use super::commands::{CastBallot, VetoProposal};
use super::error::TallyError;
use super::proposal::check_open;
use super::rejections::GovernanceRejection;
use super::seal::{SealInput, seal};
use super::settle::settled_outcome;
use super::tally::{Outcome, tally};
use crate::event::EventKind;
use crate::ids::Signer;
use crate::limits;
use crate::outcome::{Accepted, CommandResult};
use crate::state::{Context, State};

/// The same error about `voter` instead of the position it was checked under.
fn for_voter(error: TallyError, voter: u32) -> TallyError {
    match error {
        TallyError::UnknownVoter { .. } => TallyError::UnknownVoter { voter },
        TallyError::DuplicateVoter { .. } => TallyError::DuplicateVoter { voter },
        TallyError::WrongChoice { .. } => TallyError::WrongChoice { voter },
        TallyError::OptionCount { options } => TallyError::OptionCount { options },
        TallyError::UnknownOption { option, .. } => TallyError::UnknownOption { voter, option },
        TallyError::DuplicateOption { option, .. } => TallyError::DuplicateOption { voter, option },
        TallyError::SplitNotWhole { micros, .. } => TallyError::SplitNotWhole { voter, micros },
        TallyError::CreditsOverBudget { credits, budget, .. } => {
            TallyError::CreditsOverBudget { voter, credits, budget }
        }
    }
}

impl State {
    pub(crate) fn cast_ballot(&mut self, context: &mut Context, command: &CastBallot) -> CommandResult {
        let proposal = self.find_proposal(command.proposal)?;
        check_open(proposal, context.now_ms, "take ballots")?;
        self.check_not_jury_party(proposal, context.signer())?;
        let not_eligible = || GovernanceRejection::NotEligible { proposal: command.proposal };
        let Signer::Agent(voter_id) = context.signer() else { return Err(not_eligible().into()) };
        let voter = proposal.voter_position(voter_id).ok_or_else(not_eligible)?;
        // The ballot alone, against the voter's weight alone: every check of a ballot's shape, at the
        // cost of the ballot rather than the electorate.
        let weight = proposal.electorate[voter as usize].weight;
        let alone = [Ballot { voter: 0, choice: command.choice.clone() }];
        if let Err(error) = tally(&proposal.terms.vote_type, proposal.terms.quorum, &[weight], &alone) {
            let error = for_voter(error, voter);
            return Err(GovernanceRejection::MalformedBallot { proposal: command.proposal, error }.into());
        }
        if proposal.ballots.get(&voter).is_some_and(|live| live.choice == command.choice) {
            return Ok(Accepted::Unchanged);
        }
        let voter_id = voter_id.clone();
        let id = command.proposal;
        let proposal = self.governance.proposals.get_mut(&id).expect("found above");
        let live =
            LiveBallot { choice: command.choice.clone(), sequence: context.sequence(), cast_at_ms: context.now_ms };
        let changed = proposal.ballots.insert(voter, live).is_some();
        context.emit(EventKind::BallotCast { proposal: id, voter: voter_id, choice: command.choice.clone(), changed });
        self.close_if_settled(context, id);
        Ok(Accepted::Done)
    }

    /// Closes a proposal whose outcome the voters yet to vote can no longer change.
    fn close_if_settled(&mut self, context: &mut Context, id: u64) {
        let proposal = self.governance.proposal(id).expect("the caller found the proposal");
        if proposal.terms.vote_type.options().is_some() {
            return;
        }
        let (weights, ballots) = (proposal.weights(), proposal.tally_ballots());
        let settled = settled_outcome(&proposal.terms.vote_type, proposal.terms.quorum, &weights, &ballots)
            .expect("every live ballot was checked when cast");
        if settled.is_some() {
            self.close_proposal(context, id, Closure::Settled);
        }
    }

    pub(crate) fn veto_proposal(&mut self, context: &mut Context, command: &VetoProposal) -> CommandResult {
        let proposal = self.find_proposal(command.proposal)?;
        check_open(proposal, context.now_ms, "be vetoed")?;
        let holder = match context.signer() {
            Signer::Agent(id) if proposal.terms.veto_holders.contains(id) => id.clone(),
            _ => return Err(GovernanceRejection::NotVetoHolder { proposal: command.proposal }.into()),
        };
        self.close_proposal(context, command.proposal, Closure::Vetoed { by: holder });
        Ok(Accepted::Done)
    }

    /// Decides an open proposal: tallies its live ballots, runs its action if it is approved with one,
    /// seals the decision (and what became of the action) onto the chain and ends the proposal.
    pub(crate) fn close_proposal(&mut self, context: &mut Context, id: u64, closure: Closure) {
        let proposal = self.governance.proposal(id).expect("the caller found the proposal");
        let (weights, ballots) = (proposal.weights(), proposal.tally_ballots());
        let tally = tally(&proposal.terms.vote_type, proposal.terms.quorum, &weights, &ballots)
            .expect("every live ballot was checked when cast, and the terms do not change once one is");
        let outcome = match closure {
            Closure::Vetoed { .. } => Outcome::Rejected,
            Closure::Deadline | Closure::Settled => tally.outcome.clone(),
        };
        let jury = proposal.jury.clone();
        let action =
            (outcome == Outcome::Approved && !proposal.terms.action.is_empty()).then(|| proposal.terms.action.clone());
        let action_result = action.map(|action| {
            let result = self.run_action(context, &action);
            context.emit(match &result {
                ActionResult::Executed { commands } => {
                    EventKind::ProposalExecuted { proposal: id, commands: *commands }
                }
                ActionResult::Failed { index, code } => {
                    EventKind::ProposalActionFailed { proposal: id, index: *index, code: code.clone() }
                }
            });
            result
        });
        if let Some(jury) = jury {
            self.settle_jury(context, id, &jury, &outcome);
        }
        let proposal = self.governance.proposal(id).expect("an action never touches proposals");
        let previous_seal = self.governance.seal_head;
        let input = SealInput::new(proposal, &tally, &outcome, &closure, previous_seal);
        let sealed = seal(&input.with_action_result(action_result.as_ref()));
        let chain_position = self.governance.seals + 1;
        context.emit(EventKind::ProposalClosed {
            proposal: id,
            outcome: outcome.clone(),
            closure: closure.clone(),
            ballots: tally.ballots,
            seal: sealed,
            chain_position,
        });
        let decision = Decision {
            outcome,
            tally,
            closure,
            sequence: context.sequence(),
            closed_at_ms: context.now_ms,
            previous_seal,
            seal: sealed,
            chain_position,
            action_result,
        };
        self.governance.end(id, context.now_ms, Some(decision));
    }

    /// Closes the proposals whose deadline log time has passed, oldest deadline first, at most
    /// `PROPOSAL_CLOSES_PER_ENTRY_MAX` per entry.
    pub(crate) fn expire_proposals(&mut self, context: &mut Context) {
        for _ in 0..limits::PROPOSAL_CLOSES_PER_ENTRY_MAX {
            let Some(&(deadline_ms, id)) = self.governance.deadlines.first() else { break };
            if deadline_ms >= context.now_ms {
                break;
            }
            self.close_proposal(context, id, Closure::Deadline);
        }
    }
}
