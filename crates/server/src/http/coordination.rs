//! Coordination's read endpoints: leases by holder, locks in use with their holders' fencing tokens
//! and their queues, barriers with the parties waiting at them, vote-based elections with their
//! rounds. Every change is a command.

use axum::Json;
use axum::extract::State;
use colony_core::coordination::CoordinationRejection;
use colony_core::coordination::LockKind;
use colony_core::{Name, Signer};
use colony_wire::coordination::{
    BarrierPage, BarrierView, ElectionView, LeaseCursor, LeasePage, LeaseView, LockPage, LockView, VoteElectionPage,
    VoteElectionView,
};
use serde::Deserialize;

use super::extract::QueryParameters;
use super::{ApiError, AppState, ValidPath, ValidQuery};

/// Leases, locks or barriers per page when the client does not say.
pub(crate) const COORDINATION_PAGE_DEFAULT: usize = 100;
/// Leases, locks or barriers per page at most.
pub(crate) const COORDINATION_PAGE_MAX: usize = 1_000;

fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(COORDINATION_PAGE_DEFAULT);
    if limit == 0 || limit > COORDINATION_PAGE_MAX {
        return Err(ApiError::invalid_query("limit", format!("must be between 1 and {COORDINATION_PAGE_MAX}")));
    }
    Ok(limit)
}

fn name(field: &'static str, text: Option<String>) -> Result<Option<Name>, ApiError> {
    text.map(Name::new).transpose().map_err(|error| ApiError::invalid_query(field, error.to_string()))
}

fn signer(field: &'static str, text: Option<String>) -> Result<Option<Signer>, ApiError> {
    text.map(|text| Signer::parse(&text)).transpose().map_err(|error| ApiError::invalid_query(field, error.to_string()))
}

/// Query of `GET /v1/leases`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseQuery {
    holder: Option<String>,
    after_holder: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// Query of `GET /v1/leases`, checked.
#[derive(Debug)]
pub struct LeaseFilter {
    holder: Option<Signer>,
    after: Option<(Signer, Name)>,
    limit: usize,
}

impl QueryParameters for LeaseFilter {
    type Decoded = LeaseQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: LeaseQuery) -> Result<LeaseFilter, ApiError> {
        let limit = page_limit(query.limit)?;
        let holder = signer("holder", query.holder)?;
        let after_holder = signer("after_holder", query.after_holder)?;
        let after = match (after_holder.or_else(|| holder.clone()), name("after", query.after)?) {
            (Some(after_holder), Some(after)) => Some((after_holder, after)),
            // Holders sort with the operator first, so an `after` without its holder reads against
            // the operator's leases: a cursor missing its first half still pages forward.
            (None, Some(after)) => Some((Signer::Operator, after)),
            (_, None) => None,
        };
        Ok(LeaseFilter { holder, after, limit })
    }
}

/// `GET /v1/leases?holder=&after_holder=&after=&limit=`: leases by holder then name, one page at a time.
pub async fn list_leases(
    State(app): State<AppState>,
    ValidQuery(filter): ValidQuery<LeaseFilter>,
) -> Result<Json<LeasePage>, ApiError> {
    let state = app.state()?;
    let after = filter.after.as_ref().map(|(holder, lease)| (holder, lease));
    // One more than the page, to know whether another follows.
    let found = state.coordination().leases_after(filter.holder.as_ref(), after, filter.limit + 1);
    let more = found.len() > filter.limit;
    let leases: Vec<LeaseView> = found.into_iter().take(filter.limit).map(LeaseView::new).collect();
    let next_after = if more {
        leases.last().map(|last| LeaseCursor { holder: last.holder.clone(), lease: last.lease.clone() })
    } else {
        None
    };
    Ok(Json(LeasePage { leases, next_after }))
}

/// Query of `GET /v1/locks`, as it decodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// Query of `GET /v1/locks`, checked.
#[derive(Debug)]
pub struct LockFilter {
    after: Option<Name>,
    limit: usize,
}

impl QueryParameters for LockFilter {
    type Decoded = LockQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: LockQuery) -> Result<LockFilter, ApiError> {
        Ok(LockFilter { after: name("after", query.after)?, limit: page_limit(query.limit)? })
    }
}

/// `GET /v1/locks?after=&limit=`: locks in use by name, with holders and queues.
pub async fn list_locks(
    State(app): State<AppState>,
    ValidQuery(filter): ValidQuery<LockFilter>,
) -> Result<Json<LockPage>, ApiError> {
    let state = app.state()?;
    let found = state.coordination().locks_after(filter.after.as_ref(), filter.limit + 1);
    let more = found.len() > filter.limit;
    let locks: Vec<LockView> = found.into_iter().take(filter.limit).map(LockView::new).collect();
    let next_after = if more { locks.last().map(|last| last.lock.clone()) } else { None };
    Ok(Json(LockPage { locks, next_after }))
}

/// `GET /v1/locks/{lock}`: its holders with their fencing tokens, and its queue. A lock nobody
/// holds or awaits has no record: it is free, with no holder and an empty queue.
pub async fn get_lock(
    State(app): State<AppState>,
    ValidPath(lock): ValidPath<Name>,
) -> Result<Json<LockView>, ApiError> {
    let state = app.state()?;
    Ok(Json(match state.coordination().lock(&lock) {
        Some(found) => LockView::new(found),
        None => LockView { lock, kind: None, permits: None, holders: Vec::new(), queue: Vec::new() },
    }))
}

/// `GET /v1/elections/{election}`: its leader with its term, and the candidates in the order they
/// would lead. An election nobody campaigns in has no leader; a name in use as a lock or semaphore
/// is refused `lock_kind_mismatch`.
pub async fn get_election(
    State(app): State<AppState>,
    ValidPath(election): ValidPath<Name>,
) -> Result<Json<ElectionView>, ApiError> {
    let state = app.state()?;
    match state.coordination().lock(&election) {
        Some(found) if found.kind == LockKind::Election => Ok(Json(ElectionView::new(found))),
        Some(found) => {
            let rejection = CoordinationRejection::LockKindMismatch { lock: election, kind: found.kind };
            Err(ApiError::from_rejection(&rejection.into()))
        }
        None => Ok(Json(ElectionView { election, leader: None, candidates: Vec::new() })),
    }
}

/// `GET /v1/barriers?after=&limit=`: barriers by name, with their generations and the parties waiting.
/// The query is the locks' (a name to start after, a page size).
pub async fn list_barriers(
    State(app): State<AppState>,
    ValidQuery(filter): ValidQuery<LockFilter>,
) -> Result<Json<BarrierPage>, ApiError> {
    let state = app.state()?;
    let found = state.coordination().barriers_after(filter.after.as_ref(), filter.limit + 1);
    let more = found.len() > filter.limit;
    let barriers: Vec<BarrierView> = found.into_iter().take(filter.limit).map(BarrierView::new).collect();
    let next_after = if more { barriers.last().map(|last| last.barrier.clone()) } else { None };
    Ok(Json(BarrierPage { barriers, next_after }))
}

/// `GET /v1/barriers/{barrier}`: its generation, its count, who waits and whether it broke.
pub async fn get_barrier(
    State(app): State<AppState>,
    ValidPath(barrier): ValidPath<Name>,
) -> Result<Json<BarrierView>, ApiError> {
    let state = app.state()?;
    match state.coordination().barrier(&barrier) {
        Some(found) => Ok(Json(BarrierView::new(found))),
        None => Err(ApiError::from_rejection(&CoordinationRejection::BarrierNotFound { barrier }.into())),
    }
}

/// `GET /v1/vote-elections?after=&limit=`: vote-based elections by name, with their terms, leaders
/// and open rounds. The query is the locks'.
pub async fn list_vote_elections(
    State(app): State<AppState>,
    ValidQuery(filter): ValidQuery<LockFilter>,
) -> Result<Json<VoteElectionPage>, ApiError> {
    let state = app.state()?;
    let found = state.coordination().vote_elections().after(filter.after.as_ref(), filter.limit + 1);
    let more = found.len() > filter.limit;
    let elections: Vec<VoteElectionView> = found.into_iter().take(filter.limit).map(VoteElectionView::new).collect();
    let next_after = if more { elections.last().map(|last| last.election.clone()) } else { None };
    Ok(Json(VoteElectionPage { elections, next_after }))
}

/// `GET /v1/vote-elections/{election}`: its members, its term, its leader and who voted for whom in
/// the open round.
pub async fn get_vote_election(
    State(app): State<AppState>,
    ValidPath(election): ValidPath<Name>,
) -> Result<Json<VoteElectionView>, ApiError> {
    let state = app.state()?;
    match state.coordination().vote_elections().get(&election) {
        Some(found) => Ok(Json(VoteElectionView::new(found))),
        None => Err(ApiError::from_rejection(&CoordinationRejection::VoteElectionNotFound { election }.into())),
    }
}
