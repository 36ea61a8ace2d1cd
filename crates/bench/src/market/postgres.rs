//! The PostgreSQL reference: the same task lifecycle as SQL transactions on the local PostgreSQL, one
//! transaction per step, from [`CONNECTIONS`] connections, durable (`synchronous_commit = on`).
//!
//! Schema `market`: `wallets(id, balance)` (one row per agent, then the fee account, the largest
//! id), `tasks`, `bids` (one per task and bidder) and `escrows`. Each connection is one group (a
//! manager and its 10 bidders) and runs its lifecycles one after another:
//!
//! - announce: one `INSERT` of the task with its terms and weights;
//! - bids: 10 single-statement transactions pipelined on the connection, each inserting the bid only
//!   if the task is open, the bidder is not its manager, the cost is positive and within `max_cost`,
//!   the time within the deadline and the confidence within one;
//! - award + lock: `BEGIN`, one statement that picks the best bid by the same integer score as the
//!   market (floors of each weighted term; then the lowest cost), marks the task awarded, debits the
//!   manager's wallet if it can pay and inserts the escrow; `COMMIT` (or `ROLLBACK` when any part
//!   found nothing);
//! - submit: one `UPDATE` of the task, only if it is awarded to that bidder;
//! - verify + release: `BEGIN`, the task completed (only if submitted, by its verifier, score at
//!   least its minimum), the escrow released, the payee and then the fee account credited, pipelined;
//!   `COMMIT`.
//!
//! The client computes the fee split, which saves PostgreSQL the arithmetic.

use std::sync::Arc;
use std::time::Instant;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::{BIDDERS, Books, DEADLINE_MS, LifecycleSpec, MAX_COST, MINT_PER_MANAGER, MarketAgents, WEIGHTS_MICROS};
use super::{MIN_SCORE_MICROS, VERIFY_SCORE_MICROS};
use crate::Bench;
use crate::escrow::postgres::{ADDRESS, DATABASE, Failure, connect, describe, open};
use crate::fixture::{Measurement, TaskTally};

/// Client connections, each one group running lifecycles one after another.
pub const CONNECTIONS: usize = 16;

/// A finished PostgreSQL run.
pub struct Outcome {
    /// The measurement; its `commands` are lifecycles.
    pub measurement: Measurement,
    /// What was checked afterwards and how PostgreSQL was set.
    pub summary: String,
}

struct Statements {
    announce: Statement,
    bid: Statement,
    begin: Statement,
    award: Statement,
    submit: Statement,
    complete: Statement,
    release: Statement,
    credit: Statement,
    commit: Statement,
    rollback: Statement,
}

impl Statements {
    async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        let (cost, time, confidence) = WEIGHTS_MICROS;
        Ok(Statements {
            announce: client
                .prepare(&format!(
                    "INSERT INTO market.tasks (manager, payer, verifier, task_name, max_cost, deadline_ms, weight_cost, \
                     weight_time, weight_confidence, min_score, state) VALUES ($1, $1, $1, $2, $3, $4, {cost}, {time}, \
                     {confidence}, {MIN_SCORE_MICROS}, 'open') RETURNING id"
                ))
                .await?,
            bid: client
                .prepare(
                    "INSERT INTO market.bids (task, bidder, cost, time_ms, confidence) SELECT t.id, $2::bigint, $3::bigint, $4::bigint, $5::bigint \
                     FROM market.tasks t WHERE t.id = $1 AND t.state = 'open' AND t.manager <> $2 AND $3 > 0 \
                     AND $3 <= t.max_cost AND $4 <= t.deadline_ms AND $5 BETWEEN 0 AND 1000000 \
                     ON CONFLICT (task, bidder) DO UPDATE SET cost = excluded.cost, time_ms = excluded.time_ms, \
                     confidence = excluded.confidence RETURNING id",
                )
                .await?,
            begin: client.prepare("BEGIN").await?,
            award: client
                .prepare(
                    "WITH best AS (SELECT b.bidder, b.cost FROM market.bids b JOIN market.tasks t ON t.id = b.task \
                         WHERE b.task = $1 AND t.state = 'open' AND t.manager = $2 \
                         ORDER BY t.weight_cost * (t.max_cost - b.cost) / t.max_cost \
                                  + t.weight_time * (t.deadline_ms - b.time_ms) / t.deadline_ms \
                                  + t.weight_confidence * b.confidence / 1000000 DESC, b.cost, b.id LIMIT 1), \
                     awarded AS (UPDATE market.tasks t SET state = 'awarded', winner = best.bidder, price = best.cost \
                         FROM best WHERE t.id = $1 AND t.state = 'open' RETURNING t.payer, t.winner, t.price), \
                     debit AS (UPDATE market.wallets w SET balance = w.balance - a.price FROM awarded a \
                         WHERE w.id = a.payer AND w.balance >= a.price RETURNING w.id) \
                     INSERT INTO market.escrows (task, payer, payee, amount, state) \
                         SELECT $1, a.payer, a.winner, a.price, 'locked' FROM awarded a, debit \
                         RETURNING id, payee, amount",
                )
                .await?,
            submit: client
                .prepare(
                    "UPDATE market.tasks SET state = 'submitted', result = $3, actual_cost = $4 \
                     WHERE id = $1 AND state = 'awarded' AND winner = $2",
                )
                .await?,
            complete: client
                .prepare(
                    "UPDATE market.tasks SET state = 'completed', score = $3 \
                     WHERE id = $1 AND state = 'submitted' AND verifier = $2 AND $3 >= min_score",
                )
                .await?,
            release: client
                .prepare("UPDATE market.escrows SET state = 'released' WHERE id = $1 AND state = 'locked'")
                .await?,
            credit: client.prepare("UPDATE market.wallets SET balance = balance + $2 WHERE id = $1").await?,
            commit: client.prepare("COMMIT").await?,
            rollback: client.prepare("ROLLBACK").await?,
        })
    }
}

/// One connection's group: its agents' rows and what it needs to run.
struct Connection {
    client: Arc<Client>,
    statements: Arc<Statements>,
    group: usize,
    fee_account: i64,
    fee_bps: u16,
}

impl Connection {
    async fn lifecycle(&self, round: usize, spec: &LifecycleSpec) -> Result<(), String> {
        let (client, statements) = (&self.client, &self.statements);
        let manager = MarketAgents::manager(self.group) as i64;
        let (max_cost, deadline_ms) = (MAX_COST as i64, DEADLINE_MS as i64);
        let name = format!("task-{round:05}");
        let task: i64 = client
            .query_one(&statements.announce, &[&manager, &name, &max_cost, &deadline_ms])
            .await
            .map_err(|error| format!("announce: {}", describe(&error)))?
            .get(0);
        let bids: Vec<[i64; 4]> = (0..BIDDERS)
            .map(|bidder| {
                let bid = spec.bids[bidder];
                [
                    MarketAgents::bidder(self.group, bidder) as i64,
                    bid.cost as i64,
                    bid.time_ms as i64,
                    bid.confidence_micros as i64,
                ]
            })
            .collect();
        // Sent in order before the first answer comes back: each is a transaction of its own.
        let bid_params: Vec<[&(dyn ToSql + Sync); 5]> = bids
            .iter()
            .map(|[bidder, cost, time_ms, confidence]| {
                [&task as &(dyn ToSql + Sync), bidder, cost, time_ms, confidence]
            })
            .collect();
        let placed = futures_util::future::try_join_all(
            bid_params.iter().map(|params| client.query_opt(&statements.bid, params)),
        )
        .await
        .map_err(|error| format!("bid: {}", describe(&error)))?;
        if placed.iter().any(Option::is_none) {
            return Err("bid: refused".to_owned());
        }
        let award_params: [&(dyn ToSql + Sync); 2] = [&task, &manager];
        let (_, awarded) = tokio::try_join!(
            biased;
            client.execute(&statements.begin, &[]),
            client.query_opt(&statements.award, &award_params),
        )
        .map_err(|error| format!("award: {}", describe(&error)))?;
        let Some(awarded) = awarded else {
            let _ = client.execute(&statements.rollback, &[]).await;
            return Err("award: no fit bid, or the manager cannot pay".to_owned());
        };
        client.execute(&statements.commit, &[]).await.map_err(|error| format!("award: {}", describe(&error)))?;
        let (escrow, winner, price): (i64, i64, i64) = (awarded.get(0), awarded.get(1), awarded.get(2));
        let expected = MarketAgents::bidder(self.group, spec.winner) as i64;
        if winner != expected {
            return Err(format!("award: agent {winner} won, expected {expected}"));
        }
        let (result, actual_cost) = ("\"done\"", price / 2);
        let submitted = client
            .execute(&statements.submit, &[&task, &winner, &result, &actual_cost])
            .await
            .map_err(|error| format!("submit: {}", describe(&error)))?;
        if submitted != 1 {
            return Err("submit: the task is not awarded to this bidder".to_owned());
        }
        let (to_payee, to_fees) = Books::split(price as u64, self.fee_bps);
        let (to_payee, to_fees, score) = (to_payee as i64, to_fees as i64, VERIFY_SCORE_MICROS as i64);
        let complete_params: [&(dyn ToSql + Sync); 3] = [&task, &manager, &score];
        let release_params: [&(dyn ToSql + Sync); 1] = [&escrow];
        let payee_params: [&(dyn ToSql + Sync); 2] = [&winner, &to_payee];
        let fee_params: [&(dyn ToSql + Sync); 2] = [&self.fee_account, &to_fees];
        let release = tokio::try_join!(
            biased;
            client.execute(&statements.begin, &[]),
            client.execute(&statements.complete, &complete_params),
            client.execute(&statements.release, &release_params),
            client.execute(&statements.credit, &payee_params),
            client.execute(&statements.credit, &fee_params),
        );
        let outcome = match release {
            Ok((_, 1, 1, 1, 1)) => {
                client.execute(&statements.commit, &[]).await.map(|_| ()).map_err(|error| describe(&error))
            }
            Ok((_, completed, released, ..)) => {
                Err(format!("{completed} tasks completed, {released} escrows released; expected 1 and 1"))
            }
            Err(error) => Err(describe(&error)),
        };
        if let Err(reason) = outcome {
            let _ = client.execute(&statements.rollback, &[]).await;
            return Err(format!("verify: {reason}"));
        }
        Ok(())
    }

    async fn run(self, plan: Vec<LifecycleSpec>) -> TaskTally {
        let mut tally = TaskTally::default();
        for (round, spec) in plan.iter().enumerate() {
            let started = Instant::now();
            match self.lifecycle(round, spec).await {
                Ok(()) => tally.success(started.elapsed(), 1),
                Err(error) => tally.failure(started.elapsed(), || error),
            }
        }
        tally
    }
}

/// Creates the schema afresh and funds the managers as Colony's are funded.
async fn create_schema(client: &Client, agents: usize) -> Result<(), tokio_postgres::Error> {
    let fee_account = agents;
    let stride = BIDDERS + 1;
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
             INSERT INTO market.wallets (id, balance)
                 SELECT g, CASE WHEN g < {fee_account} AND g % {stride} = 0 THEN {MINT_PER_MANAGER} ELSE 0 END
                 FROM generate_series(0, {fee_account}) AS g;"
        ))
        .await?;
    client.batch_execute("VACUUM ANALYZE market.wallets").await
}

/// Checks the tables against the books; returns a summary.
async fn verify(client: &Client, books: &Books, agents: usize) -> Result<String, String> {
    let counts = client
        .query_one(
            "SELECT (SELECT count(*) FILTER (WHERE state = 'completed') FROM market.tasks),
                    (SELECT count(*) FROM market.tasks),
                    (SELECT count(*) FILTER (WHERE state = 'released') FROM market.escrows),
                    (SELECT count(*) FROM market.bids)",
            &[],
        )
        .await
        .map_err(|error| describe(&error))?;
    let (completed, tasks, released, bids): (i64, i64, i64, i64) =
        (counts.get(0), counts.get(1), counts.get(2), counts.get(3));
    let expected = books.lifecycles as i64;
    if completed != expected || tasks != expected || released != expected || bids != expected * BIDDERS as i64 {
        return Err(format!(
            "{completed} of {tasks} tasks completed, {released} escrows released, {bids} bids; expected {expected}"
        ));
    }
    let rows = client
        .query("SELECT id, balance FROM market.wallets ORDER BY id", &[])
        .await
        .map_err(|error| describe(&error))?;
    for row in &rows {
        let (id, balance): (i64, i64) = (row.get(0), row.get(1));
        let index = id as usize;
        let expected = if index == agents {
            books.fees as i128
        } else {
            let initial = if index.is_multiple_of(BIDDERS + 1) { i128::from(MINT_PER_MANAGER) } else { 0 };
            initial + books.deltas[index]
        };
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

/// Runs `lifecycles` lifecycles on PostgreSQL, spread over [`CONNECTIONS`] groups.
pub fn run(bench: &Bench, agents: &MarketAgents, lifecycles: u64, fee_bps: u16) -> Result<Outcome, Failure> {
    let rounds = lifecycles.div_ceil(CONNECTIONS as u64);
    let mut plans = super::generate(CONNECTIONS, rounds, 0x9057_3a4e);
    // Exactly `lifecycles`: the last groups run one fewer when they do not divide evenly.
    let mut surplus = rounds * CONNECTIONS as u64 - lifecycles;
    for plan in plans.iter_mut().rev() {
        if surplus == 0 {
            break;
        }
        plan.pop();
        surplus -= 1;
    }
    let agent_count = agents.ids.len();
    let books = Books::of(&plans, agent_count, fee_bps);
    bench.load.block_on(async move {
        let admin = open(ADDRESS).await?;
        let broken =
            |what: &str, error: tokio_postgres::Error| Failure::Broken(format!("{what}: {}", describe(&error)));
        create_schema(&admin, agent_count).await.map_err(|error| broken("creating the tables", error))?;
        let settings = admin
            .query_one("SELECT current_setting('fsync'), current_setting('server_version')", &[])
            .await
            .map_err(|error| broken("reading settings", error))?;
        let (fsync, version): (String, String) = (settings.get(0), settings.get(1));
        let mut connections = Vec::with_capacity(CONNECTIONS);
        for group in 0..CONNECTIONS {
            let client = connect(ADDRESS, DATABASE).await.map_err(|error| broken("connecting", error))?;
            client.batch_execute("SET synchronous_commit = on").await.map_err(|error| broken("settings", error))?;
            let statements = Statements::prepare(&client).await.map_err(|error| broken("preparing", error))?;
            connections.push(Connection {
                client: Arc::new(client),
                statements: Arc::new(statements),
                group,
                fee_account: agent_count as i64,
                fee_bps,
            });
        }
        let started = Instant::now();
        let tasks: Vec<_> =
            connections.into_iter().zip(plans).map(|(connection, plan)| tokio::spawn(connection.run(plan))).collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            tallies.push(task.await.map_err(|error| Failure::Broken(format!("connection task: {error}")))?);
        }
        let measurement = Measurement::from_tallies(started.elapsed(), tallies);
        measurement.check("PostgreSQL lifecycles").map_err(Failure::Broken)?;
        let checked = verify(&admin, &books, agent_count).await.map_err(Failure::Broken)?;
        Ok(Outcome {
            summary: format!(
                "PostgreSQL {version} (fsync={fsync}, synchronous_commit=on), database {DATABASE}, schema market: {} \
                 lifecycles in {:.2} s; {checked}; every award went to the predicted bid",
                measurement.commands,
                measurement.elapsed.as_secs_f64()
            ),
            measurement,
        })
    })
}
