//! Typed helpers for governance: proposals, ballots, vetoes, and their reads.

use colony_core::Command;
use colony_core::command::{AmendProposal, CancelProposal, CastBallot, CreateProposal, EndBootstrap, VetoProposal};
use colony_core::governance::Choice;
use colony_wire::governance::{ProposalPage, ProposalView};
use colony_wire::views::SubmitResponse;

use crate::{Client, ClientError};

impl Client {
    /// Creates a proposal (as its proposer); returns its number and whether it already existed
    /// (created before under the same proposal id and fields).
    pub async fn create_proposal(&self, create: CreateProposal) -> Result<(u64, bool), ClientError> {
        let response = self.submit_one(Command::CreateProposal(create)).await?;
        let result = response.results.first();
        let existing = result.and_then(|result| result.status.as_deref()) == Some("existing");
        result
            .and_then(|result| result.proposal)
            .map(|proposal| (proposal, existing))
            .ok_or_else(|| ClientError::Decode("the create's result carries no proposal".to_owned()))
    }

    /// Amends a proposal's terms (as its proposer, before any ballot).
    pub async fn amend_proposal(&self, amend: AmendProposal) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::AmendProposal(amend)).await
    }

    /// Cancels an open proposal (as its proposer or the operator).
    pub async fn cancel_proposal(&self, proposal: u64, reason: Option<String>) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::CancelProposal(CancelProposal { proposal, reason })).await
    }

    /// Vetoes an open proposal (as one of its veto holders).
    pub async fn veto_proposal(&self, proposal: u64) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::VetoProposal(VetoProposal { proposal })).await
    }

    /// Casts or changes the client's ballot.
    pub async fn cast_ballot(&self, proposal: u64, choice: Choice) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::CastBallot(CastBallot { proposal, choice })).await
    }

    /// Ends bootstrap, for good (operator): guarded kinds then run only as approved proposals' actions.
    pub async fn end_bootstrap(&self) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::EndBootstrap(EndBootstrap {})).await
    }

    /// One page of proposals. `query` is a URL query string without `?` (`state=open&limit=10`).
    pub async fn proposals(&self, query: &str) -> Result<ProposalPage, ClientError> {
        let path = if query.is_empty() { "/v1/proposals".to_owned() } else { format!("/v1/proposals?{query}") };
        self.get(&path).await
    }

    /// One proposal in full: terms, electorate, ballots, tally, decision and seal.
    pub async fn proposal(&self, id: u64) -> Result<ProposalView, ClientError> {
        self.get(&format!("/v1/proposals/{id}")).await
    }
}
