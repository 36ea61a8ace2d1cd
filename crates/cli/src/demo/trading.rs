//! The demo's trading team (the orchestrator-and-workers pattern): an orchestrator spawns a scanner,
//! a risk manager and a trader as its children, and pays each stage of each trading day through
//! escrow, on real daily prices. The fee on each payment is deducted from the worker's payout, and
//! the orchestrator, as the workers' referrer, earns the referral share of it (seed 002's 15%). The
//! workers buy price data from the oracle, also through escrow. One execution fails verification and
//! its escrow ends in a timeout refund; the trader's child wallet runs into its daily limit.

use colony_core::command::{ConfigureWallet, RegisterAgent, Withdraw};
use std::time::{Duration, Instant};

use colony_client::{Client, ClientError, EscrowLock, Identity};
use colony_core::{AgentId, Amount, Command, EscrowState, Name, Signer};
use colony_wire::KeyPair;

use super::market::{self, Market, SHARES_PER_TRADE, Signal};

/// One unit of money: 1,000,000 minor units.
pub const UNIT: u64 = 1_000_000;
/// Trading days the team works.
const TRADING_DAYS: usize = 15;
/// The first trading day (an index into the price file, after enough history for volatility).
const FIRST_DAY: usize = 60;
/// What the orchestrator pays per stage.
const SCAN_FEE: Amount = Amount(UNIT / 10);
const RISK_FEE: Amount = Amount(UNIT * 15 / 100);
const EXECUTION_FEE: Amount = Amount(UNIT / 4);
/// What the oracle charges for a day of prices.
const DATA_PRICE_SCANNER: Amount = Amount(UNIT / 50);
const DATA_PRICE_TRADER: Amount = Amount(UNIT / 20);
/// The trader's child-wallet daily limit: enough for seven data purchases.
const TRADER_DAILY_LIMIT: Amount = Amount(UNIT * 35 / 100);
/// Execution escrows time out quickly, so the failed one is refunded within the demo.
const EXECUTION_TIMEOUT_MS: u64 = 1_500;
const STAGE_TIMEOUT_MS: u64 = 60_000;
/// The execution (counting from 1) whose fill report is wrong.
const FAULTY_EXECUTION: usize = 2;

/// One trading day, for the report.
pub struct DayRow {
    /// The date.
    pub date: String,
    /// Signals the scanner found.
    pub signals: usize,
    /// Signals the risk manager approved.
    pub approved: usize,
    /// What happened to the execution.
    pub execution: String,
    /// The day's P&L in 1/1000 USD.
    pub pnl_milli: i64,
}

/// What the trading team did.
pub struct TradingReport {
    /// Per day.
    pub days: Vec<DayRow>,
    /// Stage escrows released.
    pub released: u64,
    /// The escrow that expired after the failed verification.
    pub expired_escrow: Option<u64>,
    /// The refusal the trader got at its daily limit.
    pub daily_limit_refusal: Option<String>,
    /// The refusal the trader got trying to withdraw.
    pub withdraw_refusal: Option<String>,
    /// The orchestrator's referral income, in minor units.
    pub referral_income: u128,
}

struct Member {
    id: AgentId,
    client: Client,
}

fn id(text: &str) -> Result<AgentId, ClientError> {
    AgentId::new(text).map_err(|error| ClientError::Invalid(error.to_string()))
}

fn name(text: &str) -> Result<Name, ClientError> {
    Name::new(text).map_err(|error| ClientError::Invalid(error.to_string()))
}

fn code(error: &ClientError) -> String {
    error.code().map_or_else(|| error.to_string(), str::to_owned)
}

/// Runs the trading team against `server_url`. `oracle` is the demo's oracle agent.
pub async fn run(
    server_url: &str,
    operator: &Client,
    oracle: &Client,
) -> Result<TradingReport, Box<dyn std::error::Error + Send + Sync>> {
    let market = Market::load()?;
    let oracle_id =
        oracle.identity().and_then(|identity| identity.signer().agent().cloned()).ok_or("the oracle has an id")?;
    let member = |text: &str| -> Result<Member, ClientError> {
        let id = id(text)?;
        let client =
            Client::new(server_url).with_identity(Identity::new(Signer::Agent(id.clone()), KeyPair::generate()));
        Ok(Member { id, client })
    };
    let orchestrator = member("orchestrator-1")?;
    orchestrator.client.register_self(name("orchestrator")?, &["task.dispatch", "escrow.lock"]).await?;
    operator.mint("mint-orchestrator-1", orchestrator.id.clone(), Amount(100 * UNIT)).await?;

    // The orchestrator spawns its workers: it signs their registration (naming itself as parent and
    // referrer); each worker gets its own key.
    let scanner = member("scanner-1")?;
    let risk = member("riskmgr-1")?;
    let trader = member("trader-1")?;
    for (worker, role, capabilities) in [
        (&scanner, "scout", &["market.scan"][..]),
        (&risk, "risk", &["risk.assess"][..]),
        (&trader, "executor", &["order.execute"][..]),
    ] {
        orchestrator
            .client
            .submit_one(Command::RegisterAgent(RegisterAgent {
                agent: worker.id.clone(),
                public_key: worker.client.identity().ok_or("has a key")?.key().public_key(),
                role: name(role)?,
                capabilities: capabilities.iter().map(|capability| name(capability)).collect::<Result<_, _>>()?,
                weight: None,
                parent: Some(orchestrator.id.clone()),
                referrer: Some(orchestrator.id.clone()),
            }))
            .await?;
        orchestrator.client.transfer(&format!("seed-{}", worker.id), worker.id.clone(), Amount(UNIT / 5)).await?;
    }
    // The trader's wallet is a child wallet: a daily limit, and no money out of the swarm.
    orchestrator
        .client
        .submit_one(Command::ConfigureWallet(ConfigureWallet {
            agent: trader.id.clone(),
            daily_limit: Some(Some(TRADER_DAILY_LIMIT)),
            no_withdraw: Some(true),
            frozen: None,
            minimum_balance: None,
        }))
        .await?;
    let withdraw_refusal = match trader
        .client
        .submit_one(Command::Withdraw(Withdraw { transfer_id: name("cash-out")?, amount: Amount(UNIT / 100) }))
        .await
    {
        Ok(_) => Some("ACCEPTED?!".to_owned()),
        Err(error) => Some(code(&error)),
    };

    let mut report = TradingReport {
        days: Vec::new(),
        released: 0,
        expired_escrow: None,
        daily_limit_refusal: None,
        withdraw_refusal,
        referral_income: 0,
    };
    let mut executions = 0;
    for day in FIRST_DAY..(FIRST_DAY + TRADING_DAYS).min(market.len() - 1) {
        let date = market.date(day).to_owned();
        let stage = |stage: &str, payee: &AgentId, amount: Amount, timeout_ms: u64| {
            let mut lock = EscrowLock::new(payee.clone(), amount).timeout_ms(timeout_ms);
            lock.task_id = Some(format!("{stage}-{date}"));
            lock
        };

        // Stage 1: the scanner, paid by the orchestrator, buys the day's prices from the oracle.
        let (scan_escrow, _) =
            orchestrator.client.lock_escrow(stage("scan", &scanner.id, SCAN_FEE, STAGE_TIMEOUT_MS)).await?;
        buy_data(&scanner.client, &oracle_id, DATA_PRICE_SCANNER, &format!("data-{date}")).await?;
        let signals = market::scan(&market, day);
        // Verification: the orchestrator spot-checks the scan against the prices.
        if signals == market::scan(&market, day) {
            orchestrator.client.release_escrow(scan_escrow, None).await?;
            report.released += 1;
        }
        let mut row =
            DayRow { date: date.clone(), signals: signals.len(), approved: 0, execution: "-".to_owned(), pnl_milli: 0 };
        if signals.is_empty() {
            report.days.push(row);
            continue;
        }

        // Stage 2: the risk manager keeps the calm tickers.
        let (risk_escrow, _) =
            orchestrator.client.lock_escrow(stage("risk", &risk.id, RISK_FEE, STAGE_TIMEOUT_MS)).await?;
        let approved = market::assess(&market, day, &signals);
        if approved.iter().all(|signal| signals.contains(signal)) {
            orchestrator.client.release_escrow(risk_escrow, None).await?;
            report.released += 1;
        }
        row.approved = approved.len();
        if approved.is_empty() {
            report.days.push(row);
            continue;
        }

        // Stage 3: the trader buys the next day's prices and trades at the open.
        let (execution_escrow, _) =
            orchestrator.client.lock_escrow(stage("exec", &trader.id, EXECUTION_FEE, EXECUTION_TIMEOUT_MS)).await?;
        if let Err(error) = buy_data(&trader.client, &oracle_id, DATA_PRICE_TRADER, &format!("data-next-{date}")).await
        {
            // Its child wallet hit the daily limit: it cannot do the job, so it hands the escrow back.
            report.daily_limit_refusal.get_or_insert_with(|| code(&error));
            trader.client.refund_escrow(execution_escrow).await?;
            row.execution = format!("refunded by trader ({})", code(&error));
            report.days.push(row);
            continue;
        }
        executions += 1;
        let next = market.bars(day + 1);
        let fills: Vec<(&Signal, i64)> = approved
            .iter()
            .filter_map(|signal| {
                let bar = next.get(&signal.ticker)?;
                // The faulty execution reports fills 5% above the open: outside the day's range.
                let fill = if executions == FAULTY_EXECUTION { bar.high + bar.open / 20 } else { bar.open };
                Some((signal, fill))
            })
            .collect();
        let verified = fills
            .iter()
            .all(|(signal, fill)| next.get(&signal.ticker).is_some_and(|bar| (bar.low..=bar.high).contains(fill)));
        if verified {
            orchestrator.client.release_escrow(execution_escrow, None).await?;
            report.released += 1;
            row.pnl_milli = fills
                .iter()
                .map(|(signal, fill)| (next[&signal.ticker].close - fill) * signal.direction * SHARES_PER_TRADE)
                .sum();
            row.execution = format!("{} {} filled", fills.len(), if fills.len() == 1 { "trade" } else { "trades" });
        } else {
            // Verification failed: the orchestrator does not release, and the escrow times out.
            report.expired_escrow = Some(execution_escrow);
            row.execution = format!("fills outside the day's range: escrow {execution_escrow} left to time out");
        }
        report.days.push(row);
    }

    // Wait for the failed execution's escrow to expire and refund the orchestrator.
    if let Some(escrow) = report.expired_escrow {
        let deadline = Instant::now() + Duration::from_millis(EXECUTION_TIMEOUT_MS * 4);
        while operator.escrow(escrow).await?.state != EscrowState::Expired && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let referrals = operator.escrows("limit=1000").await?;
    report.referral_income = referrals
        .escrows
        .iter()
        .filter(|escrow| escrow.payer == orchestrator.id)
        .map(|escrow| u128::from(escrow.referral.0))
        .sum();
    Ok(report)
}

/// A worker buys prices from the oracle through escrow: lock, the oracle delivers, the buyer releases.
async fn buy_data(buyer: &Client, oracle: &AgentId, price: Amount, task_id: &str) -> Result<(), ClientError> {
    let mut lock = EscrowLock::new(oracle.clone(), price).timeout_ms(STAGE_TIMEOUT_MS);
    lock.task_id = Some(task_id.to_owned());
    let (escrow, _) = buyer.lock_escrow(lock).await?;
    buyer.release_escrow(escrow, None).await?;
    Ok(())
}
