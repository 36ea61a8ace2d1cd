//! The PostgreSQL reference: the same lifecycles as SQL on the local PostgreSQL, in two shapes (see
//! [`Shape`]). Both run [`CONNECTIONS`] lanes (one connection each) through rounds of five waves.
//!
//! - A statement per agent step, as Colony's envelopes are shaped: within a wave each agent's step on
//!   all its tasks is one statement over arrays (so one durable transaction, as each agent's envelope
//!   is one log entry), all of a wave's statements pipelined on the lane's connection. Batching helps
//!   PostgreSQL as much as it helps Colony: this is the strict comparison.
//! - A transaction per command: the same statements over one task (or one bid) each, awaited one
//!   after another on the lane's connection, as a service does when each agent's request is its own
//!   transaction on a pooled connection. This is the shape of the escrow scenario's reference.
//!
//! Schema `market`: `wallets(id, balance)` (one row per agent, then the fee account, the largest
//! id), `tasks`, `bids` (one per task and bidder) and `escrows`. The statements take arrays, so one
//! statement carries an agent's step on all its tasks (or, a transaction per command, on one):
//!
//! - announce (per manager): one `INSERT` of its tasks with their terms and weights;
//! - bid (per bidder): one `INSERT` of its bids, each only if the task is open, the bidder is not
//!   its manager, the cost is positive and within `max_cost`, the time within the deadline and the
//!   confidence within one;
//! - award + lock (per manager): one statement that picks each task's best bid by the same integer
//!   score as the market (floors of each weighted term; then the lowest cost), marks the tasks
//!   awarded, debits the manager's wallet by their prices if it can pay, and inserts the escrows;
//! - submit (per winner): one `UPDATE` of its tasks, only those awarded to it;
//! - verify + release (per manager): one transaction: one statement that completes its tasks (only
//!   if submitted, by their verifier, score at least their minimum), releases their escrows and
//!   credits each payee, then one that credits the fee account, with the same floor split as the
//!   ledger; pipelined, then `COMMIT`.
//!
//! The 10,000-auction row reuses the schema, the bid statement and the award statement.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use super::workload::{BidSpec, Books, DEADLINE_MS, Layout, MAX_COST, MINT_PER_MANAGER, MarketAgents, TaskSpec};
use super::workload::{MIN_SCORE_MICROS, VERIFY_SCORE_MICROS, WEIGHTS_MICROS};
use crate::Bench;
use crate::fixture::{Measurement, TaskTally};
use crate::postgres::{ADDRESS, Failure, Outcome, describe, durable_sessions, open, settings};

/// Client connections: one lane each.
pub const CONNECTIONS: usize = 16;

/// How much one statement carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One statement per agent and wave, over arrays (Colony's envelopes carry the same), a wave's
    /// statements pipelined on the lane's connection.
    AgentStep,
    /// One transaction per command (one task announced, one bid, one award, one submit, one verify),
    /// each awaited before the next on the lane's connection: what a service gets when each agent's
    /// request is its own transaction on a pooled connection, and the shape of the escrow scenario's
    /// reference.
    Command,
}

impl Shape {
    /// `groups` as statements: as they are, or split into one item each.
    fn statements<T>(self, groups: BTreeMap<usize, Vec<T>>) -> Vec<(usize, Vec<T>)> {
        match self {
            Shape::AgentStep => groups.into_iter().collect(),
            Shape::Command => groups
                .into_iter()
                .flat_map(|(agent, items)| items.into_iter().map(move |item| (agent, vec![item])))
                .collect(),
        }
    }

    /// Runs `statements` pipelined (`AgentStep`) or one after another (`Command`).
    async fn run<T, F>(self, statements: impl IntoIterator<Item = F>) -> Result<Vec<T>, tokio_postgres::Error>
    where
        F: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        match self {
            Shape::AgentStep => futures_util::future::try_join_all(statements).await,
            Shape::Command => {
                let mut results = Vec::new();
                for statement in statements {
                    results.push(statement.await?);
                }
                Ok(results)
            }
        }
    }
}

/// The prepared statements of one connection.
pub struct Statements {
    announce: Statement,
    pub(super) bid: Statement,
    pub(super) award: Statement,
    submit: Statement,
    verify: Statement,
    credit_fees: Statement,
    begin: Statement,
    commit: Statement,
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
                             FROM released GROUP BY payee), \
                     credited AS (UPDATE market.wallets w SET balance = w.balance + s.credit FROM shares s \
                         WHERE w.id = s.id RETURNING w.id) \
                     SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM released), (SELECT count(*) FROM credited)"
                ))
                .await?,
            credit_fees: client
                .prepare(
                    "UPDATE market.wallets SET balance = balance + (SELECT coalesce(sum(amount * $3 / 10000), 0) \
                     FROM market.escrows WHERE task = ANY($2::bigint[]) AND state = 'released')::bigint WHERE id = $1",
                )
                .await?,
            begin: client.prepare("BEGIN").await?,
            commit: client.prepare("COMMIT").await?,
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
    shape: Shape,
}

/// `items` grouped by the lane's agent each belongs to (agents in order).
fn by_agent<T>(items: impl Iterator<Item = (usize, T)>) -> BTreeMap<usize, Vec<T>> {
    let mut grouped: BTreeMap<usize, Vec<T>> = BTreeMap::new();
    for (agent, item) in items {
        grouped.entry(agent).or_default().push(item);
    }
    grouped
}

/// The names of `tasks` tasks of `round`, by manager; the last five characters are the task's index.
fn task_names(layout: Layout, round: usize, tasks: usize) -> BTreeMap<usize, Vec<String>> {
    by_agent((0..tasks).map(|task| (layout.manager(task), format!("task-{round:05}-{task:05}"))))
}

/// The task ids of the announce statements' rows (`id`, `task_name`), by task index.
fn read_ids(rows: &[Row], tasks: usize) -> Result<Vec<i64>, String> {
    let mut ids = vec![0i64; tasks];
    for row in rows {
        let (id, name): (i64, String) = (row.get(0), row.get(1));
        let task: usize = name[name.len() - 5..].parse().map_err(|_| format!("announce: task name {name}"))?;
        ids[task] = id;
    }
    Ok(ids)
}

/// Each bidder's wallet row (from `wallet`) and its bids as columns: task ids, costs, times,
/// confidences.
fn bid_columns(
    layout: Layout,
    specs: &[TaskSpec],
    ids: &[i64],
    wallet: impl Fn(usize) -> i64,
    shape: Shape,
) -> Vec<(i64, [Vec<i64>; 4])> {
    let bids = by_agent(specs.iter().enumerate().flat_map(|(task, spec)| {
        spec.bids.iter().enumerate().map(move |(slot, bid)| (layout.bidder(task, slot), (task, *bid)))
    }));
    bids.iter()
        .flat_map(|(&bidder, bids)| match shape {
            Shape::AgentStep => vec![(bidder, bids.clone())],
            Shape::Command => bids.iter().map(|bid| (bidder, vec![*bid])).collect(),
        })
        .map(|(bidder, bids)| {
            let column = |value: &dyn Fn(&(usize, BidSpec)) -> i64| bids.iter().map(value).collect();
            (
                wallet(bidder),
                [
                    column(&|(task, _)| ids[*task]),
                    column(&|(_, bid)| bid.cost as i64),
                    column(&|(_, bid)| bid.time_ms as i64),
                    column(&|(_, bid)| bid.confidence_micros as i64),
                ],
            )
        })
        .collect()
}

/// Checks the award statements' rows (`task`, `payee`): every task awarded, each to the predicted
/// bidder's wallet (from `wallet`).
fn check_awards(
    rows: &[Row],
    layout: Layout,
    specs: &[TaskSpec],
    ids: &[i64],
    wallet: impl Fn(usize) -> i64,
) -> Result<(), String> {
    let index_of: BTreeMap<i64, usize> = ids.iter().enumerate().map(|(task, id)| (*id, task)).collect();
    for row in rows {
        let (id, payee): (i64, i64) = (row.get(0), row.get(1));
        let task = index_of[&id];
        let expected = wallet(layout.bidder(task, specs[task].winner));
        if payee != expected {
            return Err(format!("award: wallet {payee} won task {id}, expected {expected}"));
        }
    }
    if rows.len() != specs.len() {
        return Err(format!("award: {} of {} tasks awarded with their price locked", rows.len(), specs.len()));
    }
    Ok(())
}

fn failed(wave: &str, error: tokio_postgres::Error) -> String {
    format!("{wave}: {}", describe(&error))
}

impl Lane {
    fn row(&self, agent: usize) -> i64 {
        self.agents.index(self.lane, agent) as i64
    }

    async fn announce(&self, round: usize, tasks: usize) -> Result<Vec<i64>, String> {
        let (client, statements) = (&*self.client, &*self.statements);
        let names = self.shape.statements(task_names(self.agents.layout, round, tasks));
        let rows = (self.shape)
            .run(names.into_iter().map(|(manager, names)| {
                let manager = self.row(manager);
                async move { client.query(&statements.announce, &[&manager, &names]).await }
            }))
            .await
            .map_err(|error| failed("announce", error))?;
        read_ids(&rows.concat(), tasks)
    }

    async fn bid(&self, specs: &[TaskSpec], ids: &[i64]) -> Result<(), String> {
        let (client, statements) = (&*self.client, &*self.statements);
        let columns = bid_columns(self.agents.layout, specs, ids, |agent| self.row(agent), self.shape);
        let placed = (self.shape)
            .run(columns.into_iter().map(|(bidder, [tasks, costs, times, confidences])| async move {
                client.execute(&statements.bid, &[&bidder, &tasks, &costs, &times, &confidences]).await
            }))
            .await
            .map_err(|error| failed("bid", error))?;
        let expected_bids: usize = specs.iter().map(|spec| spec.bids.len()).sum();
        if placed.iter().sum::<u64>() != expected_bids as u64 {
            return Err(format!("bid: {} of {expected_bids} bids placed", placed.iter().sum::<u64>()));
        }
        Ok(())
    }

    async fn award(&self, specs: &[TaskSpec], owned: &BTreeMap<usize, Vec<i64>>, ids: &[i64]) -> Result<(), String> {
        let (client, statements) = (&*self.client, &*self.statements);
        let awarded = (self.shape)
            .run(self.shape.statements(owned.clone()).into_iter().map(|(manager, tasks)| {
                let managers = vec![self.row(manager)];
                async move { client.query(&statements.award, &[&tasks, &managers]).await }
            }))
            .await
            .map_err(|error| failed("award", error))?;
        check_awards(&awarded.concat(), self.agents.layout, specs, ids, |agent| self.row(agent))
    }

    async fn submit(&self, specs: &[TaskSpec], ids: &[i64]) -> Result<(), String> {
        let (client, statements, layout) = (&*self.client, &*self.statements, self.agents.layout);
        let won = by_agent(specs.iter().enumerate().map(|(task, spec)| (layout.bidder(task, spec.winner), ids[task])));
        let submitted = (self.shape)
            .run(self.shape.statements(won).into_iter().map(|(winner, tasks)| {
                let winner = self.row(winner);
                async move { client.execute(&statements.submit, &[&winner, &tasks]).await }
            }))
            .await
            .map_err(|error| failed("submit", error))?;
        if submitted.iter().sum::<u64>() != specs.len() as u64 {
            return Err(format!("submit: {} of {} results submitted", submitted.iter().sum::<u64>(), specs.len()));
        }
        Ok(())
    }

    /// Each manager's verify + release is one transaction: its tasks completed, their escrows released
    /// and the payees credited by one statement, then the fee account (the row every lane shares)
    /// credited by a plain update, which stays correct when another lane's transaction holds the
    /// row. `BEGIN` to `COMMIT` are pipelined (a failed statement turns the `COMMIT` into a rollback),
    /// and so are the managers' transactions, one after another on the lane's connection.
    async fn verify(&self, tasks: usize, owned: &BTreeMap<usize, Vec<i64>>) -> Result<(), String> {
        let (client, statements) = (&*self.client, &*self.statements);
        let verified = (self.shape)
            .run(self.shape.statements(owned.clone()).into_iter().map(|(manager, tasks)| {
                let manager = self.row(manager);
                async move {
                    let verify_params: [&(dyn ToSql + Sync); 3] = [&manager, &tasks, &self.fee_bps];
                    let fee_params: [&(dyn ToSql + Sync); 3] = [&self.fee_account, &tasks, &self.fee_bps];
                    let (_, counts, credited, _) = tokio::try_join!(
                        biased;
                        client.execute(&statements.begin, &[]),
                        client.query_one(&statements.verify, &verify_params),
                        client.execute(&statements.credit_fees, &fee_params),
                        client.execute(&statements.commit, &[]),
                    )?;
                    Ok::<_, tokio_postgres::Error>((counts.get::<_, i64>(0), counts.get::<_, i64>(1), credited))
                }
            }))
            .await
            .map_err(|error| failed("verify", error))?;
        let (mut completed, mut released) = (0, 0);
        for (done, freed, credited) in verified {
            if credited != 1 {
                return Err(format!("verify: {credited} fee accounts credited"));
            }
            completed += done;
            released += freed;
        }
        if completed != tasks as i64 || released != tasks as i64 {
            return Err(format!("verify: {completed} completed, {released} released of {tasks}"));
        }
        Ok(())
    }

    /// One round: the five waves over `specs`.
    async fn round(&self, round: usize, specs: &[TaskSpec]) -> Result<(), String> {
        let layout = self.agents.layout;
        let ids = self.announce(round, specs.len()).await?;
        self.bid(specs, &ids).await?;
        let owned = by_agent((0..specs.len()).map(|task| (layout.manager(task), ids[task])));
        self.award(specs, &owned, &ids).await?;
        self.submit(specs, &ids).await?;
        self.verify(specs.len(), &owned).await
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
/// lanes, each statement carrying what `shape` says.
pub fn run(bench: &Bench, layout: Layout, lifecycles: u64, fee_bps: u16, shape: Shape) -> Result<Outcome, Failure> {
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
                shape,
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
        let names = task_names(layout, 0, specs.len());
        let (client, statements) = &sessions[0];
        let mut rows = Vec::with_capacity(specs.len());
        for (manager, names) in &names {
            let announced = client.query(&statements.announce, &[&(*manager as i64), names]).await;
            rows.extend(announced.map_err(|error| Failure::broken("announce", &error))?);
        }
        let ids = read_ids(&rows, specs.len()).map_err(Failure::Broken)?;
        let columns = bid_columns(layout, specs, &ids, |agent| agent as i64, Shape::AgentStep);
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
        check_awards(&awarded, layout, specs, &ids, |agent| agent as i64).map_err(Failure::Broken)?;
        Ok(AuctionOutcome { bids: bids_elapsed, table_bytes, award, settings })
    })
}
