//! The PostgreSQL reference: the same lifecycles as SQL on the local PostgreSQL, shaped as Colony's
//! are: [`CONNECTIONS`] lanes (one connection each) run rounds of five waves, and within a wave each
//! agent's step is one statement (so one durable transaction, as each agent's envelope is one log
//! entry), all of a wave's statements pipelined on the lane's connection.
//!
//! Schema `market`: `wallets(id, balance)` (one row per agent, then the fee account, the largest
//! id), `tasks`, `bids` (one per task and bidder) and `escrows`. The statements take arrays, so one
//! statement carries an agent's step on all its tasks:
//!
//! - announce (per manager): one `INSERT` of its tasks with their terms and weights;
//! - bid (per bidder): one `INSERT` of its bids, each only if the task is open, the bidder is not
//!   its manager, the cost is positive and within `max_cost`, the time within the deadline and the
//!   confidence within one;
//! - award + lock (per manager): one statement that picks each task's best bid by the same integer
//!   score as the market (floors of each weighted term; then the lowest cost), marks the tasks
//!   awarded, debits the manager's wallet by their prices if it can pay, and inserts the escrows;
//! - submit (per winner): one `UPDATE` of its tasks, only those awarded to it;
//! - verify + release (per manager): one statement that completes its tasks (only if submitted, by
//!   their verifier, score at least their minimum), releases their escrows, and credits each payee
//!   and the fee account with the same floor split as the ledger.
//!
//! The 10,000-auction row reuses the schema, the bid statement and the award statement.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, Statement};

use super::workload::{Books, DEADLINE_MS, Layout, MAX_COST, MINT_PER_MANAGER, MarketAgents, TaskSpec};
use super::workload::{MIN_SCORE_MICROS, VERIFY_SCORE_MICROS, WEIGHTS_MICROS};
use crate::Bench;
use crate::fixture::{Measurement, TaskTally};
use crate::postgres::{ADDRESS, Failure, Outcome, describe, durable_sessions, open, settings};

/// Client connections: one lane each.
pub const CONNECTIONS: usize = 16;

/// The prepared statements of one connection.
pub struct Statements {
    announce: Statement,
    pub(super) bid: Statement,
    pub(super) award: Statement,
    submit: Statement,
    verify: Statement,
}

impl Statements {
    /// Prepares them on `client`.
    pub async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        let (cost, time, confidence) = WEIGHTS_MICROS;
        Ok(Statements {
            announce: client
                .prepare(&format!(
                    "INSERT INTO market.tasks (manager, payer, verifier, task_name, max_cost, deadline_ms, weight_cost, \
                     weight_time, weight_confidence, min_score, state) \
                     SELECT $1, $1, $1, u.name, {MAX_COST}, {DEADLINE_MS}, {cost}, {time}, {confidence}, \
                     {MIN_SCORE_MICROS}, 'open' FROM unnest($2::text[]) AS u(name) RETURNING id, task_name"
                ))
                .await?,
            bid: client
                .prepare(
                    "INSERT INTO market.bids (task, bidder, cost, time_ms, confidence) \
                     SELECT t.id, $1, u.cost, u.time_ms, u.confidence \
                     FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(task, cost, time_ms, confidence) \
                     JOIN market.tasks t ON t.id = u.task \
                     WHERE t.state = 'open' AND t.manager <> $1 AND u.cost > 0 AND u.cost <= t.max_cost \
                     AND u.time_ms <= t.deadline_ms AND u.confidence BETWEEN 0 AND 1000000 \
                     ON CONFLICT (task, bidder) DO UPDATE SET cost = excluded.cost, time_ms = excluded.time_ms, \
                     confidence = excluded.confidence",
                )
                .await?,
            award: client
                .prepare(
                    "WITH best AS (SELECT DISTINCT ON (b.task) b.task, b.bidder, b.cost \
                         FROM market.bids b JOIN market.tasks t ON t.id = b.task \
                         WHERE b.task = ANY($1::bigint[]) AND t.state = 'open' AND t.manager = ANY($2::bigint[]) \
                         ORDER BY b.task, t.weight_cost * (t.max_cost - b.cost) / t.max_cost \
                                  + t.weight_time * (t.deadline_ms - b.time_ms) / t.deadline_ms \
                                  + t.weight_confidence * b.confidence / 1000000 DESC, b.cost, b.id), \
                     awarded AS (UPDATE market.tasks t SET state = 'awarded', winner = best.bidder, price = best.cost \
                         FROM best WHERE t.id = best.task AND t.state = 'open' \
                         RETURNING t.id, t.payer, t.winner, t.price), \
                     totals AS (SELECT payer, sum(price)::bigint AS total FROM awarded GROUP BY payer), \
                     debit AS (UPDATE market.wallets w SET balance = w.balance - totals.total FROM totals \
                         WHERE w.id = totals.payer AND w.balance >= totals.total RETURNING w.id) \
                     INSERT INTO market.escrows (task, payer, payee, amount, state) \
                         SELECT a.id, a.payer, a.winner, a.price, 'locked' FROM awarded a JOIN debit d ON d.id = a.payer \
                         RETURNING task, payee",
                )
                .await?,
            submit: client
                .prepare(
                    "UPDATE market.tasks t SET state = 'submitted', result = '\"done\"', actual_cost = t.price / 2 \
                     FROM unnest($2::bigint[]) AS u(task) WHERE t.id = u.task AND t.state = 'awarded' AND t.winner = $1",
                )
                .await?,
            verify: client
                .prepare(&format!(
                    "WITH done AS (UPDATE market.tasks t SET state = 'completed', score = {VERIFY_SCORE_MICROS} \
                         FROM unnest($2::bigint[]) AS u(task) WHERE t.id = u.task AND t.state = 'submitted' \
                         AND t.verifier = $1 AND {VERIFY_SCORE_MICROS} >= t.min_score RETURNING t.id), \
                     released AS (UPDATE market.escrows e SET state = 'released' FROM done \
                         WHERE e.task = done.id AND e.state = 'locked' RETURNING e.payee, e.amount), \
                     shares AS (SELECT payee AS id, sum(amount - amount * $3 / 10000)::bigint AS credit \
                             FROM released GROUP BY payee \
                         UNION ALL SELECT $4, sum(amount * $3 / 10000)::bigint FROM released), \
                     credited AS (UPDATE market.wallets w SET balance = w.balance + s.credit FROM shares s \
                         WHERE w.id = s.id RETURNING w.id) \
                     SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM released), (SELECT count(*) FROM credited)"
                ))
                .await?,
        })
    }
}

/// One lane: a connection, its statements, and where its agents' wallet rows are.
struct Lane {
    client: Arc<Client>,
    statements: Arc<Statements>,
    agents: Arc<MarketAgents>,
    lane: usize,
    fee_account: i64,
    fee_bps: i64,
}

/// `items` grouped by the lane's agent each belongs to (agents in order).
fn by_agent<T>(items: impl Iterator<Item = (usize, T)>) -> BTreeMap<usize, Vec<T>> {
    let mut grouped: BTreeMap<usize, Vec<T>> = BTreeMap::new();
    for (agent, item) in items {
        grouped.entry(agent).or_default().push(item);
    }
    grouped
}

impl Lane {
    fn row(&self, agent: usize) -> i64 {
        self.agents.index(self.lane, agent) as i64
    }

    async fn round(&self, round: usize, specs: &[TaskSpec]) -> Result<(), String> {
        let (client, statements, layout) = (&*self.client, &*self.statements, self.agents.layout);
        let failed = |wave: &str, error: tokio_postgres::Error| format!("{wave}: {}", describe(&error));

        let names = by_agent((0..specs.len()).map(|task| (layout.manager(task), format!("task-{round:05}-{task:05}"))));
        let rows = futures_util::future::try_join_all(names.iter().map(|(&manager, names)| {
            let manager = self.row(manager);
            async move { client.query(&statements.announce, &[&manager, names]).await }
        }))
        .await
        .map_err(|error| failed("announce", error))?;
        let mut ids = vec![0i64; specs.len()];
        for row in rows.iter().flatten() {
            let (id, name): (i64, String) = (row.get(0), row.get(1));
            let task: usize = name[name.len() - 5..].parse().map_err(|_| format!("announce: task name {name}"))?;
            ids[task] = id;
        }

        let bids = by_agent(specs.iter().enumerate().flat_map(|(task, spec)| {
            spec.bids.iter().enumerate().map(move |(slot, bid)| (layout.bidder(task, slot), (task, *bid)))
        }));
        let columns: Vec<(i64, [Vec<i64>; 4])> = bids
            .iter()
            .map(|(&bidder, bids)| {
                let column =
                    |value: &dyn Fn(&(usize, super::workload::BidSpec)) -> i64| bids.iter().map(value).collect();
                (
                    self.row(bidder),
                    [
                        column(&|(task, _)| ids[*task]),
                        column(&|(_, bid)| bid.cost as i64),
                        column(&|(_, bid)| bid.time_ms as i64),
                        column(&|(_, bid)| bid.confidence_micros as i64),
                    ],
                )
            })
            .collect();
        let placed = futures_util::future::try_join_all(columns.iter().map(
            |(bidder, [tasks, costs, times, confidences])| async move {
                client.execute(&statements.bid, &[bidder, tasks, costs, times, confidences]).await
            },
        ))
        .await
        .map_err(|error| failed("bid", error))?;
        let expected_bids: usize = specs.iter().map(|spec| spec.bids.len()).sum();
        if placed.iter().sum::<u64>() != expected_bids as u64 {
            return Err(format!("bid: {} of {expected_bids} bids placed", placed.iter().sum::<u64>()));
        }

        let owned = by_agent((0..specs.len()).map(|task| (layout.manager(task), ids[task])));
        let awarded = futures_util::future::try_join_all(owned.iter().map(|(&manager, tasks)| {
            let managers = vec![self.row(manager)];
            async move { client.query(&statements.award, &[tasks, &managers]).await }
        }))
        .await
        .map_err(|error| failed("award", error))?;
        let index_of: BTreeMap<i64, usize> = ids.iter().enumerate().map(|(task, id)| (*id, task)).collect();
        let mut awards = 0;
        for row in awarded.iter().flatten() {
            let (id, payee): (i64, i64) = (row.get(0), row.get(1));
            let task = index_of[&id];
            let expected = self.row(layout.bidder(task, specs[task].winner));
            if payee != expected {
                return Err(format!("award: wallet {payee} won task {id}, expected {expected}"));
            }
            awards += 1;
        }
        if awards != specs.len() {
            return Err(format!("award: {awards} of {} tasks awarded with their price locked", specs.len()));
        }

        let won = by_agent(specs.iter().enumerate().map(|(task, spec)| (layout.bidder(task, spec.winner), ids[task])));
        let submitted = futures_util::future::try_join_all(won.iter().map(|(&winner, tasks)| {
            let winner = self.row(winner);
            async move { client.execute(&statements.submit, &[&winner, tasks]).await }
        }))
        .await
        .map_err(|error| failed("submit", error))?;
        if submitted.iter().sum::<u64>() != specs.len() as u64 {
            return Err(format!("submit: {} of {} results submitted", submitted.iter().sum::<u64>(), specs.len()));
        }

        let verified =
            futures_util::future::try_join_all(owned.iter().map(|(&manager, tasks)| {
                let manager = self.row(manager);
                async move {
                    client.query_one(&statements.verify, &[&manager, tasks, &self.fee_bps, &self.fee_account]).await
                }
            }))
            .await
            .map_err(|error| failed("verify", error))?;
        let (mut completed, mut released) = (0, 0);
        for row in &verified {
            let (done, freed): (i64, i64) = (row.get(0), row.get(1));
            completed += done;
            released += freed;
        }
        if completed != specs.len() as i64 || released != specs.len() as i64 {
            return Err(format!("verify: {completed} completed, {released} released of {}", specs.len()));
        }
        Ok(())
    }

    async fn run(self, rounds: Vec<Vec<TaskSpec>>) -> TaskTally {
        let mut tally = TaskTally::default();
        for (round, specs) in rounds.iter().enumerate() {
            let started = Instant::now();
            match self.round(round, specs).await {
                Ok(()) => tally.success(started.elapsed(), specs.len()),
                Err(error) => tally.failure(started.elapsed(), || error),
            }
        }
        tally
    }
}

/// Creates the schema afresh and funds the managers as Colony's are funded; the fee account is the
/// row after the last agent.
pub async fn create_schema(client: &Client, agents: &MarketAgents) -> Result<(), tokio_postgres::Error> {
    let fee_account = agents.ids.len();
    let (stride, managers) = (agents.layout.agents(), agents.layout.managers);
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS market CASCADE; CREATE SCHEMA market;
             CREATE TABLE market.wallets (id bigint PRIMARY KEY, balance bigint NOT NULL);
             CREATE TABLE market.tasks (id bigserial PRIMARY KEY, manager bigint NOT NULL, payer bigint NOT NULL,
                 verifier bigint NOT NULL, task_name text NOT NULL, max_cost bigint NOT NULL,
                 deadline_ms bigint NOT NULL, weight_cost bigint NOT NULL, weight_time bigint NOT NULL,
                 weight_confidence bigint NOT NULL, min_score bigint NOT NULL, state text NOT NULL, winner bigint,
                 price bigint, result text, actual_cost bigint, score bigint, UNIQUE (manager, task_name));
             CREATE TABLE market.bids (id bigserial PRIMARY KEY, task bigint NOT NULL REFERENCES market.tasks,
                 bidder bigint NOT NULL REFERENCES market.wallets, cost bigint NOT NULL, time_ms bigint NOT NULL,
                 confidence bigint NOT NULL, UNIQUE (task, bidder));
             CREATE TABLE market.escrows (id bigserial PRIMARY KEY, task bigint NOT NULL REFERENCES market.tasks,
                 payer bigint NOT NULL, payee bigint NOT NULL, amount bigint NOT NULL, state text NOT NULL);
             CREATE INDEX ON market.escrows (task);
             INSERT INTO market.wallets (id, balance)
                 SELECT g, CASE WHEN g < {fee_account} AND g % {stride} < {managers} THEN {MINT_PER_MANAGER} ELSE 0 END
                 FROM generate_series(0, {fee_account}) AS g;"
        ))
        .await?;
    client.batch_execute("VACUUM ANALYZE market.wallets").await
}

/// Checks the tables against the books; returns a summary.
async fn verify(client: &Client, books: &Books, agents: &MarketAgents) -> Result<String, String> {
    let counts = client
        .query_one(
            "SELECT (SELECT count(*) FILTER (WHERE state = 'completed') FROM market.tasks),
                    (SELECT count(*) FROM market.tasks),
                    (SELECT count(*) FILTER (WHERE state = 'released') FROM market.escrows)",
            &[],
        )
        .await
        .map_err(|error| describe(&error))?;
    let (completed, tasks, released): (i64, i64, i64) = (counts.get(0), counts.get(1), counts.get(2));
    let expected = books.lifecycles as i64;
    if completed != expected || tasks != expected || released != expected {
        return Err(format!(
            "{completed} of {tasks} tasks completed, {released} escrows released; expected {expected}"
        ));
    }
    let rows = client
        .query("SELECT id, balance FROM market.wallets ORDER BY id", &[])
        .await
        .map_err(|error| describe(&error))?;
    for row in &rows {
        let (id, balance): (i64, i64) = (row.get(0), row.get(1));
        let index = id as usize;
        let expected =
            if index == agents.ids.len() { books.fees as i128 } else { books.expected_balance(agents, index) };
        if i128::from(balance) != expected {
            return Err(format!("wallet {id} holds {balance}, expected {expected}"));
        }
    }
    Ok(format!(
        "{tasks} tasks completed, {released} escrows released; fee account {} = expected; all {} balances = expected",
        books.fees,
        rows.len()
    ))
}

/// Runs at least `lifecycles` lifecycles on PostgreSQL in rounds of `layout`, over [`CONNECTIONS`]
/// lanes.
pub fn run(bench: &Bench, layout: Layout, lifecycles: u64, fee_bps: u16) -> Result<Outcome, Failure> {
    let rounds = (lifecycles as usize).div_ceil(CONNECTIONS * layout.tasks).max(1);
    let agents = Arc::new(MarketAgents::new(CONNECTIONS, layout));
    let plans = super::workload::generate(CONNECTIONS, rounds, layout, 0x9057_3a4e);
    let books = Books::of(&plans, &agents, fee_bps);
    bench.load.block_on(async move {
        let admin = open(ADDRESS).await?;
        create_schema(&admin, &agents).await.map_err(|error| Failure::broken("creating the tables", &error))?;
        let settings = settings(&admin).await?;
        let mut lanes = Vec::with_capacity(CONNECTIONS);
        for (lane, client) in durable_sessions(CONNECTIONS).await?.into_iter().enumerate() {
            let statements =
                Statements::prepare(&client).await.map_err(|error| Failure::broken("preparing", &error))?;
            lanes.push(Lane {
                client: Arc::new(client),
                statements: Arc::new(statements),
                agents: Arc::clone(&agents),
                lane,
                fee_account: agents.ids.len() as i64,
                fee_bps: i64::from(fee_bps),
            });
        }
        let started = Instant::now();
        let tasks: Vec<_> = lanes.into_iter().zip(plans).map(|(lane, plan)| tokio::spawn(lane.run(plan))).collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            tallies.push(task.await.map_err(|error| Failure::Broken(format!("lane task: {error}")))?);
        }
        let measurement = Measurement::from_tallies(started.elapsed(), tallies);
        measurement.check("PostgreSQL lifecycles").map_err(Failure::Broken)?;
        let checked = verify(&admin, &books, &agents).await.map_err(Failure::Broken)?;
        Ok(Outcome {
            summary: format!(
                "{settings}, schema market: {} lifecycles in {:.2} s; {checked}; every award went to the predicted \
                 bid",
                measurement.commands,
                measurement.elapsed.as_secs_f64()
            ),
            measurement,
        })
    })
}

/// A timed step of the auction row on PostgreSQL.
pub struct AuctionOutcome {
    /// Inserting every bid (statements per bidder over [`CONNECTIONS`] connections).
    pub bids: Duration,
    /// The tables' size on disk with everything open (tasks and bids, with their indexes).
    pub table_bytes: i64,
    /// Awarding every task with one ranking statement (debits and escrows included).
    pub award: Duration,
    /// How PostgreSQL was set.
    pub settings: String,
}

/// The 10,000 open auctions on PostgreSQL: the tasks announced, every bid inserted, then all awarded
/// at once by one statement. Checks every winner against `specs`.
pub fn auction(bench: &Bench, agents: &MarketAgents, specs: &[TaskSpec]) -> Result<AuctionOutcome, Failure> {
    let layout = agents.layout;
    bench.load.block_on(async move {
        let admin = open(ADDRESS).await?;
        create_schema(&admin, agents).await.map_err(|error| Failure::broken("creating the tables", &error))?;
        let settings = settings(&admin).await?;
        let mut sessions = Vec::with_capacity(CONNECTIONS);
        for client in durable_sessions(CONNECTIONS).await? {
            let statements =
                Statements::prepare(&client).await.map_err(|error| Failure::broken("preparing", &error))?;
            sessions.push((client, statements));
        }
        let names = by_agent((0..specs.len()).map(|task| (layout.manager(task), format!("task-00000-{task:05}"))));
        let mut ids = vec![0i64; specs.len()];
        let (client, statements) = &sessions[0];
        for (manager, names) in &names {
            let rows = client
                .query(&statements.announce, &[&(*manager as i64), names])
                .await
                .map_err(|error| Failure::broken("announce", &error))?;
            for row in rows {
                let (id, name): (i64, String) = (row.get(0), row.get(1));
                ids[name[name.len() - 5..].parse::<usize>().expect("a task index")] = id;
            }
        }
        let bids = by_agent(specs.iter().enumerate().flat_map(|(task, spec)| {
            spec.bids.iter().enumerate().map(move |(slot, bid)| (layout.bidder(task, slot), (task, *bid)))
        }));
        let columns: Vec<(i64, [Vec<i64>; 4])> = bids
            .iter()
            .map(|(&bidder, bids)| {
                (
                    bidder as i64,
                    [
                        bids.iter().map(|(task, _)| ids[*task]).collect(),
                        bids.iter().map(|(_, bid)| bid.cost as i64).collect(),
                        bids.iter().map(|(_, bid)| bid.time_ms as i64).collect(),
                        bids.iter().map(|(_, bid)| bid.confidence_micros as i64).collect(),
                    ],
                )
            })
            .collect();
        let started = Instant::now();
        let placed = futures_util::future::try_join_all(columns.iter().enumerate().map(
            |(index, (bidder, [tasks, costs, times, confidences]))| {
                let (client, statements) = &sessions[index % sessions.len()];
                async move { client.execute(&statements.bid, &[bidder, tasks, costs, times, confidences]).await }
            },
        ))
        .await
        .map_err(|error| Failure::broken("bid", &error))?;
        let bids_elapsed = started.elapsed();
        let expected_bids: usize = specs.iter().map(|spec| spec.bids.len()).sum();
        if placed.iter().sum::<u64>() != expected_bids as u64 {
            return Err(Failure::Broken(format!("{} of {expected_bids} bids placed", placed.iter().sum::<u64>())));
        }
        admin
            .batch_execute("ANALYZE market.tasks; ANALYZE market.bids")
            .await
            .map_err(|error| Failure::broken("analyze", &error))?;
        let table_bytes: i64 = admin
            .query_one("SELECT pg_total_relation_size('market.tasks') + pg_total_relation_size('market.bids')", &[])
            .await
            .map_err(|error| Failure::broken("table sizes", &error))?
            .get(0);
        let managers: Vec<i64> = names.keys().map(|&manager| manager as i64).collect();
        let started = Instant::now();
        let awarded = client
            .query(&statements.award, &[&ids, &managers])
            .await
            .map_err(|error| Failure::broken("award", &error))?;
        let award = started.elapsed();
        let index_of: BTreeMap<i64, usize> = ids.iter().enumerate().map(|(task, id)| (*id, task)).collect();
        for row in &awarded {
            let (id, payee): (i64, i64) = (row.get(0), row.get(1));
            let task = index_of[&id];
            if payee != layout.bidder(task, specs[task].winner) as i64 {
                return Err(Failure::Broken(format!("award: wallet {payee} won task {id}")));
            }
        }
        if awarded.len() != specs.len() {
            return Err(Failure::Broken(format!("{} of {} tasks awarded", awarded.len(), specs.len())));
        }
        Ok(AuctionOutcome { bids: bids_elapsed, table_bytes, award, settings })
    })
}
