//! The ledger's read endpoints: wallets, the books, escrows, and cost roll-ups.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use colony_core::{AgentId, Escrow, EscrowState, LedgerRejection, Name, Rejection};
use colony_wire::problem::ServerCode;
use colony_wire::views::{CostRollupView, EscrowPage, LedgerView, WalletView};
use serde::Deserialize;

use super::auth::Reader;
use super::extract::QueryParameters;
use super::{ApiError, AppState, ValidPath, ValidQuery};

/// Escrows per page when the client does not say.
pub(crate) const ESCROWS_PAGE_DEFAULT: usize = 100;
/// Escrows per page at most.
pub(crate) const ESCROWS_PAGE_MAX: usize = 1_000;

/// `GET /v1/wallets/{agent}`.
pub async fn get_wallet(
    State(app): State<AppState>,
    ValidPath(agent): ValidPath<AgentId>,
) -> Result<Json<WalletView>, ApiError> {
    let state = app.state()?;
    if state.agent(&agent).is_none() {
        return Err(ApiError::from_rejection(&Rejection::AgentNotFound { agent }));
    }
    Ok(Json(WalletView::new(&agent, state.wallet(&agent), state.timestamp_ms())))
}

/// `GET /v1/ledger`: the books as a whole, and whether they balance.
///
/// The totals are kept as money moves, so this costs the same at a hundred wallets or a million and
/// never holds up the writer: `balanced` says that supply = wallets + fees + escrow held. The full
/// check of every invariant (every wallet, every escrow) is `?verify=true`: the operator's only,
/// run on a blocking thread, since it reads the whole ledger under the state's read lock.
pub async fn get_ledger(
    State(app): State<AppState>,
    axum::Extension(reader): axum::Extension<Reader>,
    ValidQuery(query): ValidQuery<LedgerQuery>,
) -> Result<Json<LedgerView>, ApiError> {
    if !query.verify.unwrap_or(false) {
        return ledger_view(&app, None).map(Json);
    }
    if reader != Reader::Signer(colony_core::Signer::Operator) {
        return Err(ApiError::new(
            ServerCode::Forbidden,
            "only the operator may ask for the full check of the ledger (it reads every wallet and escrow)",
        )
        .with_field("verify"));
    }
    let shared = std::sync::Arc::clone(&app.driver.shared);
    let checked =
        tokio::task::spawn_blocking(move || super::read_state(&shared).map(|state| state.ledger().check_invariants()))
            .await;
    let invariants_hold = match checked {
        Ok(Err(unavailable)) => return Err(unavailable),
        Ok(Ok(Err(broken))) => {
            tracing::error!(%broken, "a ledger invariant is broken");
            false
        }
        Ok(Ok(Ok(()))) => true,
        // The check itself panicked: as broken as an invariant that failed.
        Err(_) => false,
    };
    ledger_view(&app, Some(invariants_hold)).map(Json)
}

/// Query of `GET /v1/ledger`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    verify: Option<bool>,
}

impl QueryParameters for LedgerQuery {
    type Decoded = LedgerQuery;
    const UNDECODABLE_FIELD: &'static str = "verify";

    fn validate(query: LedgerQuery) -> Result<LedgerQuery, ApiError> {
        Ok(query)
    }
}

/// The ledger's totals; `invariants_hold` is the full check's answer when one was made.
fn ledger_view(app: &AppState, invariants_hold: Option<bool>) -> Result<LedgerView, ApiError> {
    let state = app.state()?;
    let ledger = state.ledger();
    let wallets_total = ledger.wallets_total();
    let fees = u128::try_from(ledger.system_balance(colony_core::SystemAccount::Fees)).unwrap_or(0);
    let escrow_held = u128::try_from(ledger.system_balance(colony_core::SystemAccount::EscrowHolding)).unwrap_or(0);
    let balanced = ledger.supply() == wallets_total + fees + escrow_held && invariants_hold != Some(false);
    Ok(LedgerView {
        supply: ledger.supply(),
        wallets_total,
        fees,
        escrow_held,
        open_escrows: ledger.open_escrows(),
        wallets: ledger.wallet_count() as u64,
        balanced,
    })
}

/// `GET /v1/escrows/{id}`.
pub async fn get_escrow(State(app): State<AppState>, ValidPath(id): ValidPath<u64>) -> Result<Json<Escrow>, ApiError> {
    match app.state()?.ledger().escrow(id) {
        Some(escrow) => Ok(Json(escrow.clone())),
        None => Err(ApiError::from_rejection(&Rejection::Ledger(LedgerRejection::EscrowNotFound { escrow: id }))),
    }
}

/// Query of `GET /v1/escrows`, as it decodes.
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

/// Query of `GET /v1/escrows`, checked.
#[derive(Debug)]
pub struct EscrowFilter {
    payer: Option<AgentId>,
    payee: Option<AgentId>,
    state: Option<EscrowState>,
    task_id: Option<Name>,
    after: Option<u64>,
    limit: usize,
}

impl QueryParameters for EscrowFilter {
    type Decoded = EscrowQuery;
    const UNDECODABLE_FIELD: &'static str = "query";

    fn validate(query: EscrowQuery) -> Result<EscrowFilter, ApiError> {
        let limit = query.limit.unwrap_or(ESCROWS_PAGE_DEFAULT);
        if limit == 0 || limit > ESCROWS_PAGE_MAX {
            return Err(ApiError::invalid_query("limit", format!("must be between 1 and {ESCROWS_PAGE_MAX}")));
        }
        let invalid =
            |field: &'static str| move |error: colony_core::IdError| ApiError::invalid_query(field, error.to_string());
        let payer = query.payer.map(AgentId::new).transpose().map_err(invalid("payer"))?;
        let payee = query.payee.map(AgentId::new).transpose().map_err(invalid("payee"))?;
        let task_id = query.task_id.map(Name::new).transpose().map_err(invalid("task_id"))?;
        let state = match query.state.as_deref() {
            None => None,
            Some(text) => Some(
                [
                    EscrowState::Locked,
                    EscrowState::Released,
                    EscrowState::Refunded,
                    EscrowState::Expired,
                    EscrowState::Disputed,
                    EscrowState::Resolved,
                ]
                .into_iter()
                .find(|state| state.name() == text)
                .ok_or_else(|| {
                    ApiError::invalid_query(
                        "state",
                        "must be one of locked, released, refunded, expired, disputed, resolved",
                    )
                })?,
            ),
        };
        Ok(EscrowFilter { payer, payee, state, task_id, after: query.after, limit })
    }
}

/// `GET /v1/escrows?payer=&payee=&state=&task_id=&after=&limit=`: escrows by id, one page at a time.
/// With `payer` and `task_id`, this is the look-up by task.
pub async fn list_escrows(
    State(app): State<AppState>,
    ValidQuery(filter): ValidQuery<EscrowFilter>,
) -> Result<Json<EscrowPage>, ApiError> {
    let state = app.state()?;
    let ledger = state.ledger();
    if let (Some(payer), Some(task_id)) = (&filter.payer, &filter.task_id) {
        let escrows: Vec<_> = ledger.escrow_by_task(payer, task_id).into_iter().cloned().collect();
        return Ok(Json(EscrowPage { escrows, next_after: None }));
    }
    let mut matching = ledger.escrows_after(filter.after).filter(|escrow| {
        filter.payer.as_ref().is_none_or(|payer| escrow.payer == *payer)
            && filter.payee.as_ref().is_none_or(|payee| escrow.payee == *payee)
            && filter.state.is_none_or(|wanted| escrow.state == wanted)
            && filter.task_id.as_ref().is_none_or(|task_id| escrow.task_id.as_ref() == Some(task_id))
    });
    let escrows: Vec<_> = matching.by_ref().take(filter.limit).cloned().collect();
    let next_after = if escrows.len() == filter.limit && matching.next().is_some() {
        escrows.last().map(|escrow| escrow.id)
    } else {
        None
    };
    Ok(Json(EscrowPage { escrows, next_after }))
}

/// `GET /v1/agents/{id}/costs`: what the agent and everything it spawned spent and earned.
pub async fn get_costs(
    State(app): State<AppState>,
    ValidPath(root): ValidPath<AgentId>,
) -> Result<Json<CostRollupView>, ApiError> {
    let state = app.state()?;
    if state.agent(&root).is_none() {
        return Err(ApiError::from_rejection(&Rejection::AgentNotFound { agent: root }));
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
        if let Some(wallet) = state.wallet(agent) {
            rollup.balance += u128::from(wallet.balance().0);
            rollup.spent += wallet.spent_total;
            rollup.earned += wallet.earned_total;
            rollup.fees_paid += wallet.fees_paid_total;
        }
        if let Some(descendants) = children.get(agent) {
            pending.extend(descendants.iter().copied());
        }
    }
    Ok(Json(rollup))
}
