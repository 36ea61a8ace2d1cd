//! Governance's read views: proposals listed and in full, with ballots named by voter.

use colony_core::governance::{
    Decision, Jury, LiveBallot, Proposal, ProposalState, ProposalTerms, Tally, Voter, tally,
};
use colony_core::{AgentId, Digest, Name, Signer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A proposal in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProposalSummaryView {
    /// The proposal's number.
    pub id: u64,
    /// Who created it.
    pub proposer: Signer,
    /// The proposer's id for it.
    pub proposal_id: Name,
    /// Its title.
    pub title: String,
    /// Where it stands.
    pub state: ProposalState,
    /// Voters in its frozen electorate.
    pub voters: usize,
    /// Live ballots.
    pub ballots: usize,
    /// Ballots are taken through this log time.
    pub closes_at_ms: u64,
    /// The decision's seal, once closed.
    pub seal: Option<Digest>,
}

impl ProposalSummaryView {
    /// The summary of `proposal`.
    pub fn new(proposal: &Proposal) -> ProposalSummaryView {
        ProposalSummaryView {
            id: proposal.id,
            proposer: proposal.proposer.clone(),
            proposal_id: proposal.proposal_id.clone(),
            title: proposal.terms.title.clone(),
            state: proposal.state,
            voters: proposal.electorate.len(),
            ballots: proposal.ballots.len(),
            closes_at_ms: proposal.terms.closes_at_ms,
            seal: proposal.decision.as_ref().map(|decision| decision.seal),
        }
    }
}

/// One page of proposals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProposalPage {
    /// The proposals on this page, by number.
    pub proposals: Vec<ProposalSummaryView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<u64>,
}

/// A live ballot, named by its voter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BallotView {
    /// The voter.
    pub voter: AgentId,
    /// Its frozen weight, in millionths.
    pub weight: u64,
    /// The ballot, with the entry that cast it.
    #[serde(flatten)]
    pub ballot: LiveBallot,
}

/// One proposal in full: what the seal of its decision covers, and the decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProposalView {
    /// The proposal's number.
    pub id: u64,
    /// Who created it.
    pub proposer: Signer,
    /// The proposer's id for it.
    pub proposal_id: Name,
    /// Where it stands.
    pub state: ProposalState,
    /// What is asked and how it is decided.
    pub terms: ProposalTerms,
    /// The voters, by id, with their frozen weights (in millionths).
    pub electorate: Vec<Voter>,
    /// The live ballots, in voter order.
    pub ballots: Vec<BallotView>,
    /// The tally of the live ballots now (for a closed proposal, the decision's).
    pub tally: Tally,
    /// How it was decided and sealed, once closed.
    pub decision: Option<Decision>,
    /// When it was created (log time).
    pub created_at_ms: u64,
    /// Amendments made before the first ballot.
    pub amendments: u32,
    /// When it closed or was cancelled.
    pub ended_at_ms: Option<u64>,
    /// The dispute it judges, when the swarm opened it as a jury (its verdict settles that escrow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jury: Option<Jury>,
}

impl ProposalView {
    /// The view of `proposal`.
    pub fn new(proposal: &Proposal) -> ProposalView {
        let tally = match &proposal.decision {
            Some(decision) => decision.tally.clone(),
            None => {
                tally(&proposal.terms.vote_type, proposal.terms.quorum, &proposal.weights(), &proposal.tally_ballots())
                    .expect("every live ballot was checked when cast")
            }
        };
        let ballots = proposal
            .sealed_ballots()
            .into_iter()
            .map(|(voter, ballot)| BallotView {
                voter: voter.agent.clone(),
                weight: voter.weight,
                ballot: ballot.clone(),
            })
            .collect();
        ProposalView {
            id: proposal.id,
            proposer: proposal.proposer.clone(),
            proposal_id: proposal.proposal_id.clone(),
            state: proposal.state,
            terms: proposal.terms.clone(),
            electorate: proposal.electorate.clone(),
            ballots,
            tally,
            decision: proposal.decision.clone(),
            created_at_ms: proposal.created_at_ms,
            amendments: proposal.amendments,
            ended_at_ms: proposal.ended_at_ms,
            jury: proposal.jury.clone(),
        }
    }
}
