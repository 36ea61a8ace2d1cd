//! Governance's read endpoints: proposals, listed and in full (terms, electorate, ballots, tally,
//! decision and seal). Their writes are commands.

use axum::Json;
use axum::extract::State;
use colony_core::governance::ProposalState;
use colony_core::governance::rejections::GovernanceRejection;
use colony_core::{Proposal, Rejection, Signer};
use colony_wire::governance::{ProposalPage, ProposalSummaryView, ProposalView};
use serde::Deserialize;

use super::extract::QueryParameters;
use super::{ApiError, AppState, ValidPath, ValidQuery};

/// Proposals per page when the client does not say.
pub(crate) const PROPOSALS_PAGE_DEFAULT: usize = 100;
/// Proposals per page at most: the state keeps at most 256 open and 256 ended, so one page of this
/// many holds them all, and a page costs no more than one pass over them.
pub(crate) const PROPOSALS_PAGE_MAX: usize = 512;

/// Every proposal state, in the order the schema lists them.
pub(crate) const PROPOSAL_STATES: [ProposalState; 3] =
    [ProposalState::Open, ProposalState::Closed, ProposalState::Cancelled];

/// Query of `GET /v1/proposals`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalQuery {
    state: Option<String>,
    proposer: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

/// Query of `GET /v1/proposals`, checked.
#[derive(Debug)]
pub struct ProposalFilter {
    state: Option<ProposalState>,
    proposer: Option<Signer>,
    after: Option<u64>,
    limit: usize,
}

impl ProposalFilter {
    fn admits(&self, proposal: &Proposal) -> bool {
        self.state.is_none_or(|state| proposal.state == state)
            && self.proposer.as_ref().is_none_or(|proposer| proposal.proposer == *proposer)
    }
}

impl QueryParameters for ProposalFilter {
    type Decoded = ProposalQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: ProposalQuery) -> Result<ProposalFilter, ApiError> {
        let limit = query.limit.unwrap_or(PROPOSALS_PAGE_DEFAULT);
        if limit == 0 || limit > PROPOSALS_PAGE_MAX {
            return Err(ApiError::invalid_query("limit", format!("must be between 1 and {PROPOSALS_PAGE_MAX}")));
        }
        let state = match query.state.as_deref() {
            None => None,
            Some(text) => Some(PROPOSAL_STATES.into_iter().find(|state| state.name() == text).ok_or_else(|| {
                let names: Vec<&str> = PROPOSAL_STATES.iter().map(|state| state.name()).collect();
                ApiError::invalid_query("state", format!("must be one of {}", names.join(", ")))
            })?),
        };
        let proposer = query
            .proposer
            .map(|text| Signer::parse(&text))
            .transpose()
            .map_err(|error| ApiError::invalid_query("proposer", error.to_string()))?;
        Ok(ProposalFilter { state, proposer, after: query.after, limit })
    }
}

/// `GET /v1/proposals?state=&proposer=&after=&limit=`: proposals by number, one page at a time.
pub async fn list_proposals(
    State(app): State<AppState>,
    ValidQuery(filter): ValidQuery<ProposalFilter>,
) -> Result<Json<ProposalPage>, ApiError> {
    let state = app.state()?;
    let governance = state.governance();
    let from: Box<dyn Iterator<Item = &Proposal>> = match filter.after {
        Some(after) => Box::new(governance.proposals_after(after)),
        None => Box::new(governance.proposals()),
    };
    let mut matching = from.filter(|proposal| filter.admits(proposal)).peekable();
    let mut proposals = Vec::new();
    while proposals.len() < filter.limit
        && let Some(proposal) = matching.next()
    {
        proposals.push(ProposalSummaryView::new(proposal));
    }
    let next_after = matching.peek().and(proposals.last().map(|last| last.id));
    Ok(Json(ProposalPage { proposals, next_after }))
}

/// `GET /v1/proposals/{id}`: the proposal with its terms, electorate, ballots, tally and decision.
pub async fn get_proposal(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<u64>,
) -> Result<Json<ProposalView>, ApiError> {
    let state = app.state()?;
    let Some(proposal) = state.governance().proposal(id) else {
        return Err(ApiError::from_rejection(&Rejection::Governance(GovernanceRejection::ProposalNotFound {
            proposal: id,
        })));
    };
    Ok(Json(ProposalView::new(proposal)))
}
