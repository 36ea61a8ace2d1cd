//! The ledger's read endpoints: wallets, the books, escrows, and cost roll-ups.

use colony_core::LedgerRejection;
use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use colony_core::{AgentId, EscrowState, Name, Rejection};
use colony_wire::Problem;
use colony_wire::problem::codes;
use colony_wire::views::{CostRollupView, EscrowPage, LedgerView, WalletView};
use serde::Deserialize;

use super::{AppState, json_response, problem_response};

/// Escrows per page when the client does not say.
pub(crate) const ESCROWS_PAGE_DEFAULT: usize = 100;
/// Escrows per page at most.
pub(crate) const ESCROWS_PAGE_MAX: usize = 1_000;

fn invalid_query(field: &str, detail: impl Into<String>) -> Response {
    problem_response(Problem::new(codes::INVALID_QUERY, 400, detail).with_field(field))
}

/// An agent id from a path or query parameter, or the reason it is not one.
fn parse_agent(text: String) -> Result<AgentId, String> {
    AgentId::new(text).map_err(|error| error.to_string())
}

/// `GET /v1/wallets/{agent}`.
pub async fn get_wallet(State(app): State<AppState>, Path(agent): Path<String>) -> Response {
    let agent = match parse_agent(agent) {
        Ok(agent) => agent,
        Err(reason) => return invalid_query("agent", reason),
    };
    let state = app.driver.shared.state.read().expect("state lock");
    if state.agent(&agent).is_none() {
        return problem_response(Problem::from_rejection(&Rejection::AgentNotFound { agent }));
    }
    json_response(StatusCode::OK, &WalletView::new(&agent, state.ledger().wallet(&agent), state.timestamp_ms()))
}

/// `GET /v1/ledger`: the books as a whole, and whether they balance.
///
/// The totals are kept as money moves, so this costs the same at a hundred wallets or a million and
/// never holds up the writer: `balanced` says that supply = wallets + fees + escrow held. The full
/// check of every invariant (every wallet, every escrow) is `?verify=true`: the operator's only,
/// run on a blocking thread, since it reads the whole ledger under the state's read lock.
pub async fn get_ledger(
    State(app): State<AppState>,
    axum::Extension(reader): axum::Extension<super::auth::Reader>,
    query: Result<Query<LedgerQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let verify = match query {
        Ok(Query(query)) => query.verify.unwrap_or(false),
        Err(rejection) => return invalid_query("verify", rejection.body_text()),
    };
    if verify {
        if reader != super::auth::Reader::Signer(colony_core::Signer::Operator) {
            return problem_response(
                Problem::new(
                    colony_wire::problem::codes::FORBIDDEN,
                    403,
                    "only the operator may ask for the full check of the ledger (it reads every wallet and escrow)",
                )
                .with_field("verify"),
            );
        }
        let shared = std::sync::Arc::clone(&app.driver.shared);
        let checked = tokio::task::spawn_blocking(move || {
            let state = shared.state.read().expect("state lock");
            state.ledger().check_invariants()
        })
        .await;
        if let Ok(Err(broken)) = checked {
            tracing::error!(%broken, "a ledger invariant is broken");
            return json_response(StatusCode::OK, &ledger_view(&app, Some(false)));
        }
        return json_response(StatusCode::OK, &ledger_view(&app, Some(checked.is_ok())));
    }
    json_response(StatusCode::OK, &ledger_view(&app, None))
}

/// Query of `GET /v1/ledger`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    verify: Option<bool>,
}

/// The ledger's totals; `invariants_hold` is the full check's answer when one was made.
fn ledger_view(app: &AppState, invariants_hold: Option<bool>) -> LedgerView {
    let state = app.driver.shared.state.read().expect("state lock");
    let ledger = state.ledger();
    let wallets_total = ledger.wallets_total();
    let fees = u128::try_from(ledger.balance(&colony_core::AccountId::Fees)).unwrap_or(0);
    let escrow_held = u128::try_from(ledger.balance(&colony_core::AccountId::EscrowHolding)).unwrap_or(0);
    let balanced = ledger.supply() == wallets_total + fees + escrow_held && invariants_hold != Some(false);
    LedgerView {
        supply: ledger.supply(),
        wallets_total,
        fees,
        escrow_held,
        open_escrows: ledger.open_escrows(),
        wallets: ledger.wallet_count() as u64,
        balanced,
    }
}

/// `GET /v1/escrows/{id}`.
pub async fn get_escrow(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return invalid_query("id", "an escrow id is a number");
    };
    let state = app.driver.shared.state.read().expect("state lock");
    match state.ledger().escrow(id) {
        Some(escrow) => json_response(StatusCode::OK, escrow),
        None => problem_response(Problem::from_rejection(&Rejection::Ledger(LedgerRejection::EscrowNotFound {
            escrow: id,
        }))),
    }
}

/// Query of `GET /v1/escrows`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscrowQuery {
    payer: Option<String>,
    payee: Option<String>,
    state: Option<String>,
    task_id: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

/// `GET /v1/escrows?payer=&payee=&state=&task_id=&after=&limit=`: escrows by id, one page at a time.
/// With `payer` and `task_id`, this is the look-up by task.
pub async fn list_escrows(
    State(app): State<AppState>,
    query: Result<Query<EscrowQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return invalid_query("query", rejection.body_text()),
    };
    let limit = query.limit.unwrap_or(ESCROWS_PAGE_DEFAULT);
    if limit == 0 || limit > ESCROWS_PAGE_MAX {
        return invalid_query("limit", format!("must be between 1 and {ESCROWS_PAGE_MAX}"));
    }
    let payer = match query.payer.map(parse_agent).transpose() {
        Ok(payer) => payer,
        Err(reason) => return invalid_query("payer", reason),
    };
    let payee = match query.payee.map(parse_agent).transpose() {
        Ok(payee) => payee,
        Err(reason) => return invalid_query("payee", reason),
    };
    let task_id = match query.task_id.map(Name::new).transpose() {
        Ok(task_id) => task_id,
        Err(error) => return invalid_query("task_id", error.to_string()),
    };
    let wanted_state = match query.state.as_deref() {
        None => None,
        Some(text) => match [
            EscrowState::Locked,
            EscrowState::Released,
            EscrowState::Refunded,
            EscrowState::Expired,
            EscrowState::Disputed,
            EscrowState::Resolved,
        ]
        .into_iter()
        .find(|state| state.name() == text)
        {
            Some(state) => Some(state),
            None => {
                return invalid_query(
                    "state",
                    "must be one of locked, released, refunded, expired, disputed, resolved",
                );
            }
        },
    };
    let state = app.driver.shared.state.read().expect("state lock");
    let ledger = state.ledger();
    if let (Some(payer), Some(task_id)) = (&payer, &task_id) {
        let escrows: Vec<_> = ledger.escrow_by_task(payer, task_id).into_iter().cloned().collect();
        return json_response(StatusCode::OK, &EscrowPage { escrows, next_after: None });
    }
    let mut matching = ledger.escrows_after(query.after).filter(|escrow| {
        payer.as_ref().is_none_or(|payer| escrow.payer == *payer)
            && payee.as_ref().is_none_or(|payee| escrow.payee == *payee)
            && wanted_state.is_none_or(|wanted| escrow.state == wanted)
            && task_id.as_ref().is_none_or(|task_id| escrow.task_id.as_ref() == Some(task_id))
    });
    let escrows: Vec<_> = matching.by_ref().take(limit).cloned().collect();
    let next_after =
        if escrows.len() == limit && matching.next().is_some() { escrows.last().map(|escrow| escrow.id) } else { None };
    json_response(StatusCode::OK, &EscrowPage { escrows, next_after })
}

/// `GET /v1/agents/{id}/costs`: what the agent and everything it spawned spent and earned.
pub async fn get_costs(State(app): State<AppState>, Path(agent): Path<String>) -> Response {
    let root = match parse_agent(agent) {
        Ok(agent) => agent,
        Err(reason) => return invalid_query("id", reason),
    };
    let state = app.driver.shared.state.read().expect("state lock");
    if state.agent(&root).is_none() {
        return problem_response(Problem::from_rejection(&Rejection::AgentNotFound { agent: root }));
    }
    // One pass to index children by parent, then a walk of the subtree: O(agents).
    let mut children: BTreeMap<&AgentId, Vec<&AgentId>> = BTreeMap::new();
    for agent in state.registry().iter() {
        if let Some(parent) = &agent.parent {
            children.entry(parent).or_default().push(&agent.id);
        }
    }
    let mut rollup = CostRollupView { agent: root.clone(), agents: 0, balance: 0, spent: 0, earned: 0, fees_paid: 0 };
    let mut pending = vec![&root];
    while let Some(agent) = pending.pop() {
        rollup.agents += 1;
        if let Some(wallet) = state.ledger().wallet(agent) {
            rollup.balance += u128::from(wallet.balance().0);
            rollup.spent += wallet.spent_total;
            rollup.earned += wallet.earned_total;
            rollup.fees_paid += wallet.fees_paid_total;
        }
        if let Some(descendants) = children.get(agent) {
            pending.extend(descendants.iter().copied());
        }
    }
    json_response(StatusCode::OK, &rollup)
}
