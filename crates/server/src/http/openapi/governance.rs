//! Governance's paths: proposals listed and in full.

use serde_json::{Value, json};

use colony_core::Signer;

use colony_wire::governance::{ProposalPage, ProposalView};

use super::operations::{page_limit, read_operation};
use super::schemas::{Schemas, u64_schema};
use crate::http::governance::{PROPOSAL_STATES, PROPOSALS_PAGE_DEFAULT, PROPOSALS_PAGE_MAX};

pub(super) fn governance_paths(schemas: &mut Schemas) -> Value {
    let states: Vec<&str> = PROPOSAL_STATES.iter().map(|state| state.name()).collect();
    let list_parameters = json!([
        { "name": "state", "in": "query", "schema": { "enum": states } },
        { "name": "proposer", "in": "query", "schema": schemas.of::<Signer>(), "description": "An agent id, or `operator`." },
        { "name": "after", "in": "query", "schema": u64_schema(), "description": "Pagination: the `next_after` of the previous page." },
        page_limit(PROPOSALS_PAGE_MAX, PROPOSALS_PAGE_DEFAULT)
    ]);
    let by_id = json!([{ "name": "id", "in": "path", "required": true, "schema": u64_schema() }]);
    json!({
        "/v1/proposals": { "get": read_operation("Proposals by number, filtered", schemas.of::<ProposalPage>(), list_parameters, &["400"]) },
        "/v1/proposals/{id}": { "get": read_operation("One proposal: its terms, frozen electorate, ballots with the entries that cast them, tally, and its decision with the seal", schemas.of::<ProposalView>(), by_id, &["400", "404"]) }
    })
}
