//! Coordination's paths: leases by holder, locks and semaphores with their holders and queues,
//! elections, barriers, and vote-based elections.

use serde_json::{Value, json};

use colony_core::{Name, Signer};
use colony_wire::coordination::{
    BarrierPage, BarrierView, ElectionView, LeasePage, LockPage, LockView, VoteElectionPage, VoteElectionView,
};

use super::operations::{page_limit, read_operation};
use super::schemas::Schemas;
use crate::http::coordination::{COORDINATION_PAGE_DEFAULT, COORDINATION_PAGE_MAX};

pub(super) fn coordination_paths(schemas: &mut Schemas) -> Value {
    let name = schemas.of::<Name>();
    let signer = schemas.of::<Signer>();
    let lease_parameters = json!([
        { "name": "holder", "in": "query", "schema": signer, "description": "Only this holder's leases (`operator` or an agent id)." },
        { "name": "after_holder", "in": "query", "schema": signer, "description": "Pagination: the `next_after.holder` of the previous page." },
        { "name": "after", "in": "query", "schema": name, "description": "Pagination: the `next_after.lease` of the previous page (of `after_holder`, else of `holder`, else of the operator, the first holder in order)." },
        page_limit(COORDINATION_PAGE_MAX, COORDINATION_PAGE_DEFAULT)
    ]);
    let lock_parameters = json!([
        { "name": "after", "in": "query", "schema": name, "description": "Pagination: the `next_after` of the previous page." },
        page_limit(COORDINATION_PAGE_MAX, COORDINATION_PAGE_DEFAULT)
    ]);
    let lock = json!({ "name": "lock", "in": "path", "required": true, "schema": name });
    let election = json!({ "name": "election", "in": "path", "required": true, "schema": name });
    let barrier = json!({ "name": "barrier", "in": "path", "required": true, "schema": name });
    json!({
        "/v1/leases": { "get": read_operation("Leases by holder, then name", schemas.of::<LeasePage>(), lease_parameters, &["400"]) },
        "/v1/locks": { "get": read_operation("Locks, semaphores and elections in use by name, with their holders' fencing tokens and their queues", schemas.of::<LockPage>(), lock_parameters.clone(), &["400"]) },
        "/v1/locks/{lock}": { "get": read_operation("One lock, semaphore or election: its kind, its holders with their fencing tokens and its queue, in the order it is served (empty when free)", schemas.of::<LockView>(), json!([lock]), &["400"]) },
        "/v1/elections/{election}": { "get": read_operation("One election: its leader with its term, and the candidates in the order they would lead (no leader when nobody campaigns)", schemas.of::<ElectionView>(), json!([election]), &["400", "409"]) },
        "/v1/barriers": { "get": read_operation("Barriers by name, with their generations and the parties waiting", schemas.of::<BarrierPage>(), lock_parameters.clone(), &["400"]) },
        "/v1/barriers/{barrier}": { "get": read_operation("One barrier: its generation, who waits at it, whether it broke and how many generations tripped", schemas.of::<BarrierView>(), json!([barrier]), &["400", "404"]) },
        "/v1/vote-elections": { "get": read_operation("Vote-based elections by name, with their terms, leaders and open rounds", schemas.of::<VoteElectionPage>(), lock_parameters.clone(), &["400"]) },
        "/v1/vote-elections/{election}": { "get": read_operation("One vote-based election: its members, its term, its leader, and who voted for whom in the open round", schemas.of::<VoteElectionView>(), json!([election]), &["400", "404"]) }
    })
}
