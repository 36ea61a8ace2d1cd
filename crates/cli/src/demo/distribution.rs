//! The demo's direct work (seed 004's `WorkDistributor` and `BatchCoordinator`): no bids; the market
//! hands work to the best eligible agent with room. Desk-1 invites its quants only (the swarm has
//! other agents able to assess risk), and they declare their capacities; desk-1
//! splits a batch of real work (the five tickers' returns in each month of the price file, one item
//! per month) over two of them with `task.announce_batch`, then announces two direct tasks in one
//! entry, priority 0 first: the priority-5 task is served first and takes the better agent. Every
//! assignment locks its price in escrow at once, and each is paid once the desk has recomputed the
//! result.
//!
//! The chapter predicts every assignment from what the server shows (reputations for performance,
//! load and capacity; the desk's completed tasks for affinity) with the market's documented order,
//! and fails the demo when the market chose otherwise: the report's "why" is checked, not told.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use colony_client::{Client, ClientError};
use colony_core::command::{AcceptTask, AnnounceBatch, AnnounceTask, SubmitResult, VerifyResult};
use colony_core::{AgentId, Command, EscrowState, Fraction};
use serde_json::{Value, json};

use super::DemoResult;
use super::market::Market;
use super::trading::UNIT;

/// The load units each quant takes on at once (`task.capacity`): two tasks for quant-1, one for the
/// others (quant-3's first result in the auctions was wrong; quant-2 is the slow one).
const CAPACITIES: &[(&str, u32)] = &[("quant-1", 4), ("quant-2", 3), ("quant-3", 2)];
/// The load of every task here, so that a quant with capacity 2 is full with one.
const LOAD: u32 = 2;
/// The agents the batch is split over.
const BATCH_AGENTS: u32 = 2;
/// A month with fewer trading days in the file (its partial last month) is left out of the batch.
const MONTH_DAYS_MIN: usize = 10;
/// Days in the direct tasks' volatility window.
const VOLATILITY_DAYS: usize = 20;
/// The direct tasks: priority, ticker. Announced in this order, in one entry.
const DIRECT: &[(u8, &str)] = &[(0, "MSFT"), (5, "AAPL")];

/// One assignment, for the report.
pub struct Assignment {
    /// The market's task number.
    pub task: u64,
    /// What the work was.
    pub what: String,
    /// The task's priority.
    pub priority: u8,
    /// Who got it.
    pub agent: String,
    /// Why, against the next agent in the market's order.
    pub why: String,
    /// The escrow its assignment locked.
    pub escrow: u64,
    /// How the escrow ended.
    pub ended: String,
    /// Whether it is a chunk of the batch (else a direct task).
    chunk: bool,
}

/// What the chapter did.
pub struct DistributionReport {
    /// The capacities declared.
    pub capacities: Vec<(String, u32)>,
    /// The batch's months.
    pub months: usize,
    /// The batch's chunks (the first assignments).
    pub chunks: usize,
    /// The batch's chunks, then the direct tasks in the order they were served.
    pub assignments: Vec<Assignment>,
}

/// A quant as the market ranks it for one kind of work.
#[derive(Clone)]
struct Standing {
    agent: String,
    affinity: bool,
    performance: Fraction,
    load: u64,
    capacity: u32,
}

impl Standing {
    /// The market's order (`colony_core::market::agent_order`): affinity, then higher performance,
    /// then lower load, then id.
    fn key(&self) -> (Reverse<bool>, Reverse<Fraction>, u64, String) {
        (Reverse(self.affinity), Reverse(self.performance), self.load, self.agent.clone())
    }

    fn has_room(&self) -> bool {
        self.load + u64::from(LOAD) <= u64::from(self.capacity)
    }
}

/// Why `winner` comes before `next` in the market's order, in words.
fn why(winner: &Standing, next: Option<&Standing>, full: &[&Standing]) -> String {
    let reason = match next {
        None => "the only one with room".to_owned(),
        Some(next) if winner.affinity != next.affinity => {
            format!("affinity: did this kind of work for desk-1, {} did not", next.agent)
        }
        Some(next) if winner.performance != next.performance => {
            format!("performance {} over {}'s {}", winner.performance, next.agent, next.performance)
        }
        Some(next) if winner.load != next.load => {
            format!("load {}/{} against {}'s {}/{}", winner.load, winner.capacity, next.agent, next.load, next.capacity)
        }
        Some(next) => format!("even with {}: the lower id", next.agent),
    };
    let full: Vec<String> = full
        .iter()
        .map(|standing| format!("{} full {}/{}", standing.agent, standing.load, standing.capacity))
        .collect();
    if full.is_empty() { reason } else { format!("{reason}; {}", full.join(", ")) }
}

/// The quants as the market sees them for `kind` of work from desk-1, best first, and those full.
async fn standings(desk: &Client, quants: &[AgentId], kind: &str) -> DemoResult<(Vec<Standing>, Vec<Standing>)> {
    let mut completed_by = BTreeSet::new();
    let mut after = String::new();
    loop {
        let page = desk.tasks(&format!("manager=desk-1&kind={kind}&state=completed&limit=100{after}")).await?;
        completed_by.extend(page.tasks.iter().filter_map(|task| task.winner.as_ref().map(ToString::to_string)));
        match page.next_after {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    let mut all = Vec::new();
    for quant in quants {
        let reputation = desk.reputation(quant).await?;
        all.push(Standing {
            agent: quant.to_string(),
            affinity: completed_by.contains(quant.as_str()),
            performance: reputation.performance_score,
            load: reputation.load,
            capacity: reputation.capacity,
        });
    }
    all.sort_by_key(Standing::key);
    Ok(all.into_iter().partition(Standing::has_room))
}

/// The months of the price file with enough trading days, and the first and last day of each.
fn months(market: &Market) -> BTreeMap<String, (usize, usize)> {
    let mut months: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for day in 0..market.len() {
        let month = market.date(day)[..7].to_owned();
        months.entry(month).and_modify(|(_, last)| *last = day).or_insert((day, day));
    }
    months.retain(|_, (first, last)| *last + 1 - *first >= MONTH_DAYS_MIN);
    months
}

/// The returns of every ticker in each of `items` (months), in basis points from the month's first
/// open to its last close: a chunk's result.
fn monthly_returns(market: &Market, items: &[String]) -> String {
    let months = months(market);
    let mut result = serde_json::Map::new();
    for month in items {
        let (first, last) = months[month];
        let returns: serde_json::Map<String, Value> = market
            .bars(first)
            .iter()
            .filter_map(|(ticker, first_bar)| {
                let close = market.bars(last).get(ticker)?.close;
                Some((ticker.clone(), json!((close - first_bar.open) * 10_000 / first_bar.open)))
            })
            .collect();
        result.insert(month.clone(), Value::Object(returns));
    }
    Value::Object(result).to_string()
}

/// The volatility of `ticker` on the file's last day: a direct task's result.
fn volatility(market: &Market, ticker: &str) -> String {
    let bps = market.volatility_bps(ticker, market.len() - 1, VOLATILITY_DAYS);
    json!({ "volatility_bps": bps }).to_string()
}

/// Runs the chapter: desk-1 and the quants of the task market, whose history gives them affinity
/// and performance.
pub async fn run(desk: &Client, quants: &[(AgentId, Client)]) -> DemoResult<DistributionReport> {
    let market = Market::load()?;
    let ids: Vec<AgentId> = quants.iter().map(|(id, _)| id.clone()).collect();
    let mut capacities = Vec::new();
    for (id, max_load) in CAPACITIES {
        let (_, client) = quants.iter().find(|(quant, _)| quant.as_str() == *id).ok_or("a quant of the market")?;
        client.declare_capacity(*max_load).await?;
        capacities.push(((*id).to_owned(), *max_load));
    }

    let items: Vec<String> = months(&market).into_keys().collect();
    let mut assignments = batch(desk, &ids, &items).await?;
    let chunks = assignments.len();
    assignments.extend(direct(desk, &ids).await?);
    for assignment in &mut assignments {
        let (_, client) = quants.iter().find(|(id, _)| id.as_str() == assignment.agent).ok_or("a quant")?;
        assignment.ended = carry_out(desk, client, &market, assignment.task, assignment.chunk).await?;
    }
    Ok(DistributionReport { capacities, months: items.len(), chunks, assignments })
}

/// The batch: one item per month, split over the best two quants with room; its chunks as assigned,
/// each checked against the market's order and seed 004's split.
async fn batch(desk: &Client, ids: &[AgentId], items: &[String]) -> DemoResult<Vec<Assignment>> {
    let (ranked, full) = standings(desk, ids, "analyze").await?;
    let k = ranked.len().min(BATCH_AGENTS as usize).min(items.len());
    let batch = json!({
        "batch_id": "monthly", "kind": "analyze", "required_capabilities": ["indicator.return"],
        "items": items, "batch_size": items.len(), "agents": BATCH_AGENTS,
        "max_cost_per_item": (UNIT / 10).to_string(), "deadline_ms": 60_000, "estimated_load": LOAD,
        "verify_window_ms": 60_000, "invited": ids,
    });
    let batch: AnnounceBatch = serde_json::from_str(&batch.to_string())?;
    let chunks = desk.announce_batch(batch).await?;
    if chunks.len() != k {
        return Err(format!("the batch was split into {} chunks, not {k}", chunks.len()).into());
    }
    let mut assignments = Vec::new();
    let full: Vec<&Standing> = full.iter().collect();
    for (index, task) in chunks.iter().enumerate() {
        let reason = why(&ranked[index], ranked.get(index + 1), &full);
        let assignment = assigned(desk, *task, 0, &ranked[index], reason, true).await?;
        // Seed 004's split: `len div k` items to each chunk, the remainder to the last.
        let share = items.len() / k + if index + 1 == k { items.len() % k } else { 0 };
        if !assignment.what.contains(&format!("({share} months)")) {
            return Err(format!("chunk {index} is not seed 004's share of {share} months: {}", assignment.what).into());
        }
        assignments.push(assignment);
    }
    Ok(assignments)
}

/// Two direct tasks in one entry, priority 0 first: the queue serves the higher priority first, each
/// to the best quant with room then. Their assignments, in the order served, checked.
async fn direct(desk: &Client, ids: &[AgentId]) -> DemoResult<Vec<Assignment>> {
    let (mut ranked, mut full) = standings(desk, ids, "monitor").await?;
    let commands = DIRECT
        .iter()
        .map(|(priority, ticker)| direct_task(*priority, ticker, ids))
        .collect::<Result<Vec<_>, ClientError>>()?;
    let response = desk.submit_batch(commands).await?;
    let mut tasks = Vec::new();
    for result in &response.results {
        match (result.task, &result.problem) {
            (Some(task), _) => tasks.push(task),
            (None, problem) => return Err(format!("a direct task was refused: {problem:?}").into()),
        }
    }
    let mut served: Vec<(u8, u64)> = DIRECT.iter().map(|(priority, _)| *priority).zip(tasks).collect();
    served.sort_by_key(|(priority, task)| (Reverse(*priority), *task));
    let mut assignments = Vec::new();
    for (priority, task) in served {
        let expected = ranked.first().ok_or("no quant with room for a direct task")?.clone();
        let reason = why(&expected, ranked.get(1), &full.iter().collect::<Vec<_>>());
        assignments.push(assigned(desk, task, priority, &expected, reason, false).await?);
        // Its load now counts, as in the market's pass; it may have no room left.
        ranked.remove(0);
        let mut now = expected;
        now.load += u64::from(LOAD);
        if now.has_room() {
            ranked.push(now);
            ranked.sort_by_key(Standing::key);
        } else {
            full.push(now);
        }
    }
    Ok(assignments)
}

/// A direct task of desk-1 for its quants (`invited`): the volatility of `ticker`, at `priority`.
fn direct_task(priority: u8, ticker: &str, invited: &[AgentId]) -> Result<Command, ClientError> {
    let terms = json!({
        "task_id": format!("volatility-{}", ticker.to_lowercase()), "kind": "monitor",
        "required_capabilities": ["risk.assess"], "distribution": "direct", "priority": priority,
        "estimated_load": LOAD, "max_cost": (UNIT / 2).to_string(), "deadline_ms": 60_000,
        "verify_window_ms": 60_000, "invited": invited,
        "payload": { "ticker": ticker, "window_days": VOLATILITY_DAYS },
    });
    let terms: AnnounceTask =
        serde_json::from_str(&terms.to_string()).map_err(|error| ClientError::Decode(error.to_string()))?;
    Ok(Command::AnnounceTask(terms))
}

/// The assignment of `task` as the market made it, checked against the agent the chapter expected.
async fn assigned(
    desk: &Client,
    task: u64,
    priority: u8,
    expected: &Standing,
    why: String,
    chunk: bool,
) -> DemoResult<Assignment> {
    let view = desk.task(task).await?;
    let attempt = view.attempts.last().ok_or_else(|| format!("task {task} was not assigned"))?;
    if attempt.winner.as_str() != expected.agent {
        return Err(format!(
            "task {task} went to {}, but the market's order gives it to {} ({why})",
            attempt.winner, expected.agent
        )
        .into());
    }
    let payload: Value = serde_json::from_str(view.terms.payload.as_ref().ok_or("a payload")?.as_str())?;
    let what = if chunk {
        let months: Vec<String> = serde_json::from_value(payload)?;
        let (first, last) = (months.first().ok_or("a month")?, months.last().ok_or("a month")?);
        format!("chunk: returns {first}..{last} ({} months)", months.len())
    } else {
        format!("{VOLATILITY_DAYS}-day volatility of {}", payload["ticker"].as_str().unwrap_or("?"))
    };
    Ok(Assignment {
        task,
        what,
        priority,
        agent: expected.agent.clone(),
        why,
        escrow: attempt.escrow,
        ended: String::new(),
        chunk,
    })
}

/// The quant accepts, computes the result from the task's own payload, and submits it; the desk
/// recomputes it and scores it; the escrow ends paid or the demo fails.
async fn carry_out(desk: &Client, quant: &Client, market: &Market, task: u64, chunk: bool) -> DemoResult<String> {
    let view = desk.task(task).await?;
    let payload: Value = serde_json::from_str(view.terms.payload.as_ref().ok_or("a payload")?.as_str())?;
    let compute = |payload: &Value| -> DemoResult<String> {
        if chunk {
            Ok(monthly_returns(market, &serde_json::from_value::<Vec<String>>(payload.clone())?))
        } else {
            Ok(volatility(market, payload["ticker"].as_str().ok_or("a ticker")?))
        }
    };
    quant.submit_one(Command::AcceptTask(AcceptTask { task })).await?;
    let result = compute(&payload)?;
    let price = view.attempts.last().ok_or("an attempt")?.price;
    quant
        .submit_one(Command::SubmitResult(SubmitResult {
            task,
            result: colony_core::bus::JsonText::parse(&result),
            reference: None,
            actual_cost: colony_core::Amount(price.0 / 2),
        }))
        .await?;
    let submitted = desk.task(task).await?;
    let delivered = submitted.attempts.last().and_then(|attempt| attempt.submission.as_ref());
    let delivered = delivered.and_then(|submission| submission.result.as_ref()).ok_or("a submitted result")?;
    let truth = colony_core::bus::JsonText::parse(&compute(&payload)?).ok_or("a JSON result")?;
    let score = if delivered.as_str() == truth.as_str() { "1" } else { "0.3" };
    desk.submit_one(Command::VerifyResult(VerifyResult { task, score: Fraction::parse(score).expect("a score") }))
        .await?;
    let escrow = desk.escrow(submitted.attempts.last().ok_or("an attempt")?.escrow).await?;
    if escrow.state != EscrowState::Released {
        return Err(format!("direct task {task}: its escrow {} is {}, not paid", escrow.id, escrow.state.name()).into());
    }
    Ok(format!("paid {}", super::units(u128::from(escrow.paid_to_payee.0))))
}
