//! The crowd's governance commands: proposals to every active agent or a few named ones, ballots
//! (mostly well formed), vetoes, amendments and cancellations, against the proposals the state holds.

use colony_core::command::{
    AmendProposal, CancelProposal, CastBallot, CreateProposal, EndBootstrap, Heartbeat, Mint, VetoProposal,
};
use colony_core::governance::{Choice, Eligibility, Proposal, ProposalState, Quorum, VoteType, WeightSource};
use colony_core::{AgentId, Amount, Command, Name, State};

use super::Clients;
use crate::rng::Rng;

/// Proposal ids proposers create under: few, so that some creates repeat (the same or a conflict).
const PROPOSAL_IDS: [&str; 3] = ["question-0", "question-1", "question-2"];

/// Entries a run takes before its operator may end bootstrap.
const BOOTSTRAP_ENTRIES: u64 = 1_500;

impl Clients {
    /// A proposal with a voting period of a few seconds: to every active agent or to a few members,
    /// by plurality, seed 001's threshold or approval, sometimes with a veto holder.
    pub(super) fn create_proposal(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let eligible = if self.members.is_empty() || rng.chance(1, 2) {
            Eligibility::AllActive
        } else {
            let count = rng.between(1, 3) as usize;
            Eligibility::Agents((0..count).map(|_| self.member(rng)).collect())
        };
        let vote_type = match rng.below(3) {
            0 => VoteType::Plurality,
            1 => VoteType::Threshold { yes_weight: 4_000_000 },
            _ => VoteType::Approval { options: 3 },
        };
        let veto = !self.members.is_empty() && rng.chance(1, 4);
        // Now and then a mint to a member as the action, run if the vote approves it.
        let action = if self.members.is_empty() || vote_type.options().is_some() || rng.chance(3, 4) {
            Vec::new()
        } else {
            let transfer_id = Name::new(format!("sim-action-{}", rng.below(64))).expect("a valid name");
            vec![Command::Mint(Mint { transfer_id, to: self.member(rng), amount: Amount(rng.between(1, 1_000)) })]
        };
        // An action is decided by every active agent, by a majority with at least half voting.
        let (vote_type, quorum, eligible) = if action.is_empty() {
            (vote_type, rng.chance(1, 2).then_some(Quorum::None), eligible)
        } else {
            (VoteType::Plurality, None, Eligibility::AllActive)
        };
        Command::CreateProposal(CreateProposal {
            proposal_id: Name::new(rng.pick_text(&PROPOSAL_IDS)).expect("a valid name"),
            title: "keep the reserve above its floor".to_owned(),
            description: None,
            vote_type,
            quorum,
            eligible,
            weight_source: if rng.chance(1, 4) { WeightSource::Equal } else { WeightSource::Role },
            voting_ms: rng.between(500, 5_000),
            veto_holders: if veto { [self.member(rng)].into() } else { Default::default() },
            action,
        })
    }

    /// The operator ends bootstrap once a run is well under way (before, it funds and governs the
    /// crowd alone; after, its guarded commands are refused); an agent's attempt is refused.
    pub(super) fn end_bootstrap(&mut self, _: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        if signer.is_none() && state.sequence() < BOOTSTRAP_ENTRIES {
            return Command::Heartbeat(Heartbeat {});
        }
        Command::EndBootstrap(EndBootstrap {})
    }

    /// A ballot on an open proposal the signer may vote on, mostly; a choice its type takes, mostly.
    pub(super) fn cast_ballot(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let proposal = self.proposal_where(rng, state, signer, |proposal, signer| {
            proposal.state == ProposalState::Open && proposal.voter_position(signer).is_some()
        });
        let is_option_vote =
            state.governance().proposal(proposal).is_some_and(|found| found.terms.vote_type.options().is_some());
        let choice = match (is_option_vote, rng.below(8)) {
            (_, 0) => Choice::Abstain,
            (true, 1) | (false, 7) => Choice::Approve(vec![0, 5]),
            (true, _) => Choice::Approve(vec![rng.below(3) as u32]),
            (false, pick) if pick % 3 == 0 => Choice::No,
            (false, _) => Choice::Yes,
        };
        Command::CastBallot(CastBallot { proposal, choice })
    }

    pub(super) fn veto_proposal(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let proposal = self.proposal_where(rng, state, signer, |proposal, signer| {
            proposal.state == ProposalState::Open && proposal.terms.veto_holders.contains(signer)
        });
        Command::VetoProposal(VetoProposal { proposal })
    }

    pub(super) fn amend_proposal(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let proposal = self.proposal_where(rng, state, signer, proposed_by);
        let voting_ms = Some(rng.between(500, 5_000));
        Command::AmendProposal(AmendProposal {
            proposal,
            title: None,
            description: None,
            vote_type: None,
            quorum: None,
            voting_ms,
        })
    }

    pub(super) fn cancel_proposal(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let proposal = self.proposal_where(rng, state, signer, proposed_by);
        Command::CancelProposal(CancelProposal { proposal, reason: Some("overtaken by events".to_owned()) })
    }

    fn member(&self, rng: &mut Rng) -> AgentId {
        self.members[rng.index(self.members.len())].id.clone()
    }

    /// A proposal in which the signer has the part `fits` looks for, mostly; now and then, or when
    /// there is none, a recent proposal or one that does not exist.
    fn proposal_where(
        &self,
        rng: &mut Rng,
        state: &State,
        signer: Option<usize>,
        fits: impl Fn(&Proposal, &AgentId) -> bool,
    ) -> u64 {
        let governance = state.governance();
        let fitting: Vec<u64> = match signer {
            Some(index) => {
                let signer = &self.members[index].id;
                governance.proposals().filter(|proposal| fits(proposal, signer)).map(|proposal| proposal.id).collect()
            }
            None => Vec::new(),
        };
        if !fitting.is_empty() && !rng.chance(1, 10) {
            return *rng.pick(&fitting);
        }
        let recent: Vec<u64> = governance.proposals().rev().take(8).map(|proposal| proposal.id).collect();
        if recent.is_empty() || rng.chance(1, 8) { rng.between(1_000, 2_000) } else { *rng.pick(&recent) }
    }
}

/// Whether the signer proposed the open proposal (the operator's proposals are its own).
fn proposed_by(proposal: &Proposal, signer: &AgentId) -> bool {
    proposal.state == ProposalState::Open && proposal.proposer.agent() == Some(signer)
}
