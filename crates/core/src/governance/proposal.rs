//! Creating, amending and cancelling proposals, and freezing their electorates.

use sha2::{Digest as _, Sha256};

use super::action::{check_action, check_action_rule, check_action_vote_type};
use super::ballot::{Quorum, VoteType};
use super::book::{Eligibility, Opening, Proposal, ProposalState, ProposalTerms, Voter, WeightSource};
use super::commands::{AmendProposal, CancelProposal, CreateProposal};
use super::error::TallyError;
use super::rejections::GovernanceRejection;
use super::tally::tally;
use crate::event::EventKind;
use crate::ids::{AgentId, Digest, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, RegistryRejection, Rejection};
use crate::registry::Agent;
use crate::state::{Context, State};

/// A title: one line of 1 to `PROPOSAL_TITLE_BYTES_MAX` bytes without control characters.
fn check_title(title: &str) -> Result<(), Rejection> {
    if title.is_empty() || title.len() > limits::PROPOSAL_TITLE_BYTES_MAX || title.chars().any(char::is_control) {
        return Err(Rejection::invalid(
            "title",
            format!("must be 1 to {} bytes without control characters", limits::PROPOSAL_TITLE_BYTES_MAX),
        ));
    }
    Ok(())
}

/// A description: at most `PROPOSAL_DESCRIPTION_BYTES_MAX` bytes; newlines and tabs are its only
/// control characters.
fn check_description(description: Option<&str>) -> Result<(), Rejection> {
    let Some(description) = description else { return Ok(()) };
    let stray_control =
        description.chars().any(|character| character.is_control() && !matches!(character, '\n' | '\t'));
    if description.len() > limits::PROPOSAL_DESCRIPTION_BYTES_MAX || stray_control {
        return Err(Rejection::invalid(
            "description",
            format!(
                "must be at most {} bytes without control characters but newlines and tabs",
                limits::PROPOSAL_DESCRIPTION_BYTES_MAX
            ),
        ));
    }
    Ok(())
}

fn check_voting_ms(voting_ms: u64) -> Result<(), Rejection> {
    if !(1..=limits::PROPOSAL_VOTING_MS_MAX).contains(&voting_ms) {
        return Err(Rejection::invalid(
            "voting_ms",
            format!("must be between 1 and {} milliseconds", limits::PROPOSAL_VOTING_MS_MAX),
        ));
    }
    Ok(())
}

/// Checks a vote type by tallying no ballots: an option vote's option count is the one thing that
/// can be wrong before anyone votes, whatever the electorate and quorum.
fn check_vote_type(vote_type: &VoteType) -> Result<(), Rejection> {
    match tally(vote_type, Quorum::None, &[], &[]) {
        Ok(_) => Ok(()),
        Err(TallyError::OptionCount { options }) => Err(Rejection::invalid(
            "vote_type",
            format!("{options} options: an option vote takes 1 to {}", limits::TALLY_OPTIONS_MAX),
        )),
        Err(other) => unreachable!("a tally of no ballots refuses only option counts, not {other}"),
    }
}

/// Refuses a proposal that is not open for `action`, or whose deadline has passed though the entry
/// that closes it has not run yet (closes wait their turn when many fall due at once).
pub(super) fn check_open(proposal: &Proposal, now_ms: u64, action: &'static str) -> Result<(), Rejection> {
    let state = match proposal.state {
        ProposalState::Open if now_ms > proposal.terms.closes_at_ms => "past its deadline",
        ProposalState::Open => return Ok(()),
        other => other.name(),
    };
    Err(GovernanceRejection::ProposalState { proposal: proposal.id, state, action }.into())
}

/// A voter's weight from `source`. A role the configuration no longer names weighs one.
fn voter_weight(state: &State, agent: &Agent, source: WeightSource) -> u64 {
    let weight = match source {
        WeightSource::Role => {
            state.config.roles.get(&agent.role).map_or(limits::WEIGHT_ONE, |role| role.default_weight)
        }
        WeightSource::Agent => agent.weight,
        WeightSource::Equal => limits::WEIGHT_ONE,
    };
    u64::from(weight)
}

impl State {
    pub(crate) fn create_proposal(&mut self, context: &mut Context, command: &CreateProposal) -> CommandResult {
        let proposer = context.signer().clone();
        let creation = Digest(Sha256::digest(postcard::to_stdvec(command).expect("commands always encode")).into());
        if let Some(existing) = self.governance.proposal_by_proposer(&proposer, &command.proposal_id) {
            return if existing.creation == creation {
                Ok(Accepted::Proposal { proposal: existing.id, existing: true })
            } else {
                Err(GovernanceRejection::ProposalIdConflict {
                    proposal_id: command.proposal_id.clone(),
                    proposal: existing.id,
                }
                .into())
            };
        }
        if proposer == Signer::Operator && command.proposal_id.as_str().starts_with("jury-") {
            return Err(Rejection::invalid(
                "proposal_id",
                "the operator's ids starting `jury-` are the swarm's juries'",
            ));
        }
        check_title(&command.title)?;
        check_description(command.description.as_deref())?;
        check_voting_ms(command.voting_ms)?;
        // The option count before the electorate's walk, which costs far more.
        check_vote_type(&command.vote_type)?;
        check_action(&command.action, &command.vote_type)?;
        self.check_veto_holders(command)?;
        let open_mine = self.governance.open_per_proposer.get(&proposer).copied().unwrap_or(0);
        if open_mine as usize >= limits::OPEN_PROPOSALS_PER_PROPOSER_MAX {
            let max = limits::OPEN_PROPOSALS_PER_PROPOSER_MAX as u64;
            return Err(Rejection::LimitReached { limit: "open_proposals_per_proposer", max });
        }
        if self.governance.open_proposals() >= limits::OPEN_PROPOSALS_MAX {
            return Err(Rejection::LimitReached { limit: "open_proposals", max: limits::OPEN_PROPOSALS_MAX as u64 });
        }
        let electorate = self.resolve_electorate(context, &command.eligible, command.weight_source)?;
        let voters = u32::try_from(electorate.len()).expect("electorates are bounded far below u32");
        let quorum = command.quorum.unwrap_or_else(|| Quorum::half_of_electorate(voters));

        let closes_at_ms = context.now_ms.saturating_add(command.voting_ms);
        let terms = ProposalTerms {
            title: command.title.clone(),
            description: command.description.clone(),
            vote_type: command.vote_type.clone(),
            quorum,
            eligible: command.eligible.clone(),
            weight_source: command.weight_source,
            veto_holders: command.veto_holders.clone(),
            closes_at_ms,
            action: command.action.clone(),
        };
        check_action_rule(&terms, &electorate)?;

        let opening = Opening {
            proposer: proposer.clone(),
            proposal_id: command.proposal_id.clone(),
            creation,
            terms,
            electorate,
            jury: None,
        };
        let id = self.governance.open(opening, context.now_ms);
        context.emit(EventKind::ProposalCreated {
            proposal: id,
            proposer,
            proposal_id: command.proposal_id.clone(),
            title: command.title.clone(),
            voters,
            closes_at_ms,
        });
        Ok(Accepted::Proposal { proposal: id, existing: false })
    }

    fn check_veto_holders(&self, command: &CreateProposal) -> Result<(), Rejection> {
        if command.veto_holders.len() > limits::VETO_HOLDERS_MAX {
            return Err(Rejection::LimitReached { limit: "veto_holders", max: limits::VETO_HOLDERS_MAX as u64 });
        }
        command.veto_holders.iter().try_for_each(|holder| self.check_live_agent(holder))
    }

    /// A named agent must be registered and not deregistered.
    fn check_live_agent(&self, id: &AgentId) -> Result<(), Rejection> {
        let agent = self.registry.get(id).ok_or_else(|| Rejection::AgentNotFound { agent: id.clone() })?;
        if agent.deregistered_at_ms.is_some() {
            return Err(Rejection::AgentDeregistered { agent: id.clone() });
        }
        Ok(())
    }

    /// The voters `eligible` names now, sorted by id, with their weights from `source`. A walk over the
    /// live agents (for roles and all active agents) is charged to the envelope's scan budget.
    fn resolve_electorate(
        &self,
        context: &mut Context,
        eligible: &Eligibility,
        source: WeightSource,
    ) -> Result<Vec<Voter>, Rejection> {
        let too_many = || Rejection::LimitReached { limit: "electorate", max: limits::ELECTORATE_MAX as u64 };
        let mut electorate = Vec::new();
        match eligible {
            Eligibility::Agents(agents) => {
                if agents.is_empty() {
                    return Err(GovernanceRejection::EmptyElectorate.into());
                }
                if agents.len() > limits::ELECTORATE_MAX {
                    return Err(too_many());
                }
                for id in agents {
                    self.check_live_agent(id)?;
                    let agent = self.registry.get(id).expect("checked");
                    electorate.push(Voter { agent: id.clone(), weight: voter_weight(self, agent, source) });
                }
            }
            Eligibility::AllActive | Eligibility::Roles(_) => {
                let index = self.registry.capability_index();
                let populations: Vec<_> = match eligible {
                    Eligibility::Roles(roles) => {
                        if roles.is_empty() || roles.len() > limits::ROLES_MAX {
                            let message = format!("names 1 to {} roles", limits::ROLES_MAX);
                            return Err(Rejection::invalid("eligible", message));
                        }
                        if let Some(unknown) = roles.iter().find(|role| !self.config.roles.contains_key(*role)) {
                            return Err(RegistryRejection::UnknownRole { role: unknown.to_string() }.into());
                        }
                        roles.iter().map(|role| index.with_role(role)).collect()
                    }
                    _ => vec![index.available()],
                };
                // An agent has one role, so the populations are disjoint and their sizes add up to
                // the electorate's: an electorate too large is refused before any agent is walked.
                let size: usize = populations.iter().map(|population| population.len()).sum();
                if size > limits::ELECTORATE_MAX {
                    return Err(too_many());
                }
                if size > context.electorate_scan_left {
                    let max = limits::ELECTORATE_SCAN_PER_ENVELOPE_MAX as u64;
                    return Err(Rejection::LimitReached { limit: "electorate_scan_per_envelope", max });
                }
                context.electorate_scan_left -= size;
                for &handle in populations.into_iter().flatten() {
                    let agent = self.registry.by_handle(handle);
                    debug_assert!(agent.can_take_work(), "the index holds active agents only");
                    electorate.push(Voter { agent: agent.id.clone(), weight: voter_weight(self, agent, source) });
                }
                electorate.sort_by(|left, right| left.agent.cmp(&right.agent));
            }
        }
        if electorate.is_empty() {
            return Err(GovernanceRejection::EmptyElectorate.into());
        }
        Ok(electorate)
    }

    pub(crate) fn amend_proposal(&mut self, context: &mut Context, command: &AmendProposal) -> CommandResult {
        let proposal = self.find_proposal(command.proposal)?;
        if *context.signer() != proposal.proposer {
            return Err(Rejection::Unauthorized { reason: "only the proposer may amend a proposal" });
        }
        Self::check_not_jury(proposal)?;
        check_open(proposal, context.now_ms, "be amended")?;
        if !proposal.ballots.is_empty() {
            let ballots = u32::try_from(proposal.ballots.len()).expect("bounded by the electorate");
            return Err(GovernanceRejection::ProposalHasBallots { proposal: proposal.id, ballots }.into());
        }
        if let Some(title) = &command.title {
            check_title(title)?;
        }
        check_description(command.description.as_deref())?;
        if let Some(voting_ms) = command.voting_ms {
            check_voting_ms(voting_ms)?;
        }
        let mut terms = proposal.terms.clone();
        terms.title = command.title.clone().unwrap_or(terms.title);
        terms.description = command.description.clone().or(terms.description);
        terms.vote_type = command.vote_type.clone().unwrap_or(terms.vote_type);
        terms.quorum = command.quorum.unwrap_or(terms.quorum);
        if let Some(voting_ms) = command.voting_ms {
            terms.closes_at_ms = context.now_ms.saturating_add(voting_ms);
        }
        check_vote_type(&terms.vote_type)?;
        if !terms.action.is_empty() {
            check_action_vote_type(&terms.vote_type)?;
        }
        check_action_rule(&terms, &proposal.electorate)?;
        if terms == proposal.terms {
            return Ok(Accepted::Unchanged);
        }
        let id = proposal.id;
        self.governance.move_deadline(id, terms.closes_at_ms);
        let proposal = self.governance.proposals.get_mut(&id).expect("found above");
        proposal.terms = terms;
        proposal.amendments += 1;
        let closes_at_ms = proposal.terms.closes_at_ms;
        context.emit(EventKind::ProposalAmended { proposal: id, amendments: proposal.amendments, closes_at_ms });
        Ok(Accepted::Done)
    }

    pub(crate) fn cancel_proposal(&mut self, context: &mut Context, command: &CancelProposal) -> CommandResult {
        let proposal = self.find_proposal(command.proposal)?;
        let signer = context.signer();
        if *signer != proposal.proposer && *signer != Signer::Operator {
            return Err(Rejection::Unauthorized { reason: "only the proposer or the operator may cancel a proposal" });
        }
        Self::check_not_jury(proposal)?;
        check_open(proposal, context.now_ms, "be cancelled")?;
        if let Some(reason) = &command.reason
            && (reason.len() > limits::REASON_BYTES_MAX || reason.chars().any(char::is_control))
        {
            return Err(Rejection::invalid(
                "reason",
                format!("must be at most {} bytes without control characters", limits::REASON_BYTES_MAX),
            ));
        }
        let by = signer.clone();
        self.governance.end(command.proposal, context.now_ms, None);
        context.emit(EventKind::ProposalCancelled { proposal: command.proposal, by, reason: command.reason.clone() });
        Ok(Accepted::Done)
    }

    /// A retained proposal.
    pub(super) fn find_proposal(&self, id: u64) -> Result<&Proposal, Rejection> {
        self.governance.proposal(id).ok_or_else(|| GovernanceRejection::ProposalNotFound { proposal: id }.into())
    }
}
