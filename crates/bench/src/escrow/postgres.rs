//! The PostgreSQL reference: the same escrow cycle as SQL transactions on the local PostgreSQL, from
//! [`CONNECTIONS`] connections, durable (`synchronous_commit = on`, set for each session).
//!
//! Schema: `accounts(id, balance)` with one row per account (ids `0..10,000` the payers and payees,
//! `10,000` the root referrer, `10,001` the fee account) and `escrows(id, payer, payee, amount,
//! state)`. Each cycle is two transactions, written the way a careful client would write them:
//!
//! - lock: one statement, so one round trip and one transaction: debit the payer if it can pay
//!   (`UPDATE accounts SET balance = balance - $amount WHERE id = $payer AND balance >= $amount`) and
//!   insert the escrow, returning its id;
//! - release: `BEGIN`, mark the escrow released (only if it is locked), credit the payee
//!   `amount − fee` and the referrer the referral, credit the fee account `fee − referral`, pipelined
//!   in one round trip; then `COMMIT` (or `ROLLBACK` if the escrow was not locked). Rows are updated in
//!   ascending id order, the fee account (the largest id, the row every release touches) last, so
//!   transactions never deadlock and the hot row is held as briefly as this design allows.
//!
//! The client computes the fee split and knows each payee's referrer (the same referrers Colony
//! registers), which saves PostgreSQL a lookup: the comparison favours PostgreSQL, if anything.

use std::sync::Arc;
use std::time::Instant;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::{ACCOUNTS, Accounts, Books, CycleSpec, EscrowLoad, MINT_PER_ACCOUNT};
use crate::Bench;
use crate::fixture::{Measurement, TaskTally};
use crate::postgres::{ADDRESS, Failure, Outcome, describe, durable_sessions, open, settings};

/// Client connections, each running cycles one after another.
pub const CONNECTIONS: usize = 16;

/// The root referrer's row.
const ROOT_ACCOUNT: i64 = ACCOUNTS as i64;
/// The fee account's row: the largest id, so that it is always locked last.
const FEE_ACCOUNT: i64 = ACCOUNTS as i64 + 1;

/// The prepared statements of one connection.
struct Statements {
    lock: Statement,
    begin: Statement,
    mark_released: Statement,
    credit: Statement,
    commit: Statement,
    rollback: Statement,
}

impl Statements {
    async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        Ok(Statements {
            lock: client
                .prepare(
                    "WITH debit AS (UPDATE accounts SET balance = balance - $3 WHERE id = $1 AND balance >= $3 \
                     RETURNING id) INSERT INTO escrows (payer, payee, amount, state) SELECT $1, $2, $3, 'locked' \
                     FROM debit RETURNING id",
                )
                .await?,
            begin: client.prepare("BEGIN").await?,
            mark_released: client
                .prepare("UPDATE escrows SET state = 'released' WHERE id = $1 AND state = 'locked'")
                .await?,
            credit: client.prepare("UPDATE accounts SET balance = balance + $2 WHERE id = $1").await?,
            commit: client.prepare("COMMIT").await?,
            rollback: client.prepare("ROLLBACK").await?,
        })
    }
}

/// One cycle as the connection runs it: payer, payee, amount, and the release's credits.
struct SqlCycle {
    payer: i64,
    payee: i64,
    amount: i64,
    /// (account, amount) for the payee and the referrer, in ascending account order.
    credits: [(i64, i64); 2],
    fee: i64,
}

impl SqlCycle {
    fn new(accounts: &Accounts, spec: &CycleSpec, fee_split: (u16, u16)) -> SqlCycle {
        let lock = spec.locks[0];
        let (to_payee, to_fees, to_referrer) = Books::split(lock.amount, fee_split.0, fee_split.1);
        let payee = (lock.payee as i64, to_payee as i64);
        let referrer = (accounts.referrers[lock.payee] as i64, to_referrer as i64);
        let credits = if payee.0 <= referrer.0 { [payee, referrer] } else { [referrer, payee] };
        SqlCycle { payer: spec.payer as i64, payee: payee.0, amount: lock.amount as i64, credits, fee: to_fees as i64 }
    }
}

/// Runs one connection's cycles.
async fn run_connection(client: Arc<Client>, statements: Arc<Statements>, cycles: Vec<SqlCycle>) -> TaskTally {
    let mut tally = TaskTally::default();
    tally.latencies_us.reserve(cycles.len());
    for cycle in cycles {
        let started = Instant::now();
        let escrow: i64 = match client.query_opt(&statements.lock, &[&cycle.payer, &cycle.payee, &cycle.amount]).await {
            Ok(Some(row)) => row.get(0),
            Ok(None) => {
                tally.failure(started.elapsed(), || format!("lock: account {} cannot pay", cycle.payer));
                continue;
            }
            Err(error) => {
                tally.failure(started.elapsed(), || format!("lock: {}", describe(&error)));
                continue;
            }
        };
        let [(first, first_amount), (second, second_amount)] = cycle.credits;
        let mark_params: [&(dyn ToSql + Sync); 1] = [&escrow];
        let first_params: [&(dyn ToSql + Sync); 2] = [&first, &first_amount];
        let second_params: [&(dyn ToSql + Sync); 2] = [&second, &second_amount];
        let fee_params: [&(dyn ToSql + Sync); 2] = [&FEE_ACCOUNT, &cycle.fee];
        // Sent in this order (`biased` polls in order, and a request leaves on its first poll), all
        // before the first answer comes back.
        let release = tokio::try_join!(
            biased;
            client.execute(&statements.begin, &[]),
            client.execute(&statements.mark_released, &mark_params),
            client.execute(&statements.credit, &first_params),
            client.execute(&statements.credit, &second_params),
            client.execute(&statements.credit, &fee_params),
        );
        let outcome = match release {
            Ok((_, 1, 1, 1, 1)) => {
                client.execute(&statements.commit, &[]).await.map(|_| ()).map_err(|error| describe(&error))
            }
            Ok((_, marked, ..)) => Err(format!("release: escrow {escrow} not locked ({marked} rows)")),
            Err(error) => Err(format!("release: {}", describe(&error))),
        };
        match outcome {
            Ok(()) => tally.success(started.elapsed(), 1),
            Err(reason) => {
                let _ = client.execute(&statements.rollback, &[]).await;
                tally.failure(started.elapsed(), || reason);
            }
        }
    }
    tally
}

/// Creates the tables afresh and funds the accounts as Colony's are funded.
async fn create_schema(client: &Client) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS escrows; DROP TABLE IF EXISTS accounts;
             CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL);
             CREATE TABLE escrows (id bigserial PRIMARY KEY, payer bigint NOT NULL, payee bigint NOT NULL,
                                   amount bigint NOT NULL, state text NOT NULL);
             INSERT INTO accounts (id, balance)
                 SELECT g, CASE WHEN g < {ACCOUNTS} THEN {MINT_PER_ACCOUNT} ELSE 0 END
                 FROM generate_series(0, {FEE_ACCOUNT}) AS g;"
        ))
        .await?;
    client.batch_execute("VACUUM ANALYZE accounts").await
}

/// Checks the tables against the books; returns a summary.
async fn verify(client: &Client, books: &Books) -> Result<String, String> {
    let counts = client
        .query_one("SELECT count(*) FILTER (WHERE state = 'locked'), count(*) FROM escrows", &[])
        .await
        .map_err(|error| describe(&error))?;
    let (open, total): (i64, i64) = (counts.get(0), counts.get(1));
    if open != 0 || total as u64 != books.cycles {
        return Err(format!("{open} escrows still locked, {total} in all; expected 0 and {}", books.cycles));
    }
    let rows =
        client.query("SELECT id, balance FROM accounts ORDER BY id", &[]).await.map_err(|error| describe(&error))?;
    let mut wrong = 0;
    let mut first_wrong = None;
    for row in &rows {
        let (id, balance): (i64, i64) = (row.get(0), row.get(1));
        let expected = match id {
            FEE_ACCOUNT => books.fees as i128,
            ROOT_ACCOUNT => books.deltas[Accounts::ROOT],
            _ => i128::from(MINT_PER_ACCOUNT) + books.deltas[id as usize],
        };
        if i128::from(balance) != expected {
            wrong += 1;
            first_wrong.get_or_insert_with(|| format!("account {id} holds {balance}, expected {expected}"));
        }
    }
    if rows.len() != ACCOUNTS + 2 {
        return Err(format!("{} account rows, expected {}", rows.len(), ACCOUNTS + 2));
    }
    if let Some(first) = first_wrong {
        return Err(format!("{wrong} accounts hold the wrong balance; first: {first}"));
    }
    Ok(format!(
        "{total} escrows all released; fee account {} = expected; all {} balances = expected",
        books.fees,
        rows.len()
    ))
}

/// Runs the PostgreSQL cycles: `rounds` per connection.
pub fn run(bench: &Bench, accounts: &Accounts, rounds: u64, fee_split: (u16, u16)) -> Result<Outcome, Failure> {
    let load = EscrowLoad { per_envelope: 1, tasks: CONNECTIONS, rounds };
    let mut books = Books::new();
    let mut nonces = vec![1; ACCOUNTS + 1];
    let plans = super::generate(accounts, load, 0x9057_9e50, &mut nonces, &mut books, fee_split);
    let plans: Vec<Vec<SqlCycle>> =
        plans.iter().map(|plan| plan.iter().map(|spec| SqlCycle::new(accounts, spec, fee_split)).collect()).collect();
    bench.load.block_on(async move {
        let admin = open(ADDRESS).await?;
        create_schema(&admin).await.map_err(|error| Failure::broken("creating the tables", &error))?;
        let settings = settings(&admin).await?;
        let mut connections = Vec::with_capacity(CONNECTIONS);
        for client in durable_sessions(CONNECTIONS).await? {
            let statements =
                Statements::prepare(&client).await.map_err(|error| Failure::broken("preparing", &error))?;
            connections.push((Arc::new(client), Arc::new(statements)));
        }
        let started = Instant::now();
        let tasks: Vec<_> = connections
            .iter()
            .zip(plans)
            .map(|((client, statements), plan)| {
                tokio::spawn(run_connection(Arc::clone(client), Arc::clone(statements), plan))
            })
            .collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            tallies.push(task.await.map_err(|error| Failure::Broken(format!("connection task: {error}")))?);
        }
        let measurement = Measurement::from_tallies(started.elapsed(), tallies);
        measurement.check("PostgreSQL cycles").map_err(Failure::Broken)?;
        let checked = verify(&admin, &books).await.map_err(Failure::Broken)?;
        Ok(Outcome {
            summary: format!(
                "{settings}: {} cycles in {:.2} s; {checked}",
                measurement.commands,
                measurement.elapsed.as_secs_f64()
            ),
            measurement,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_credits_are_in_ascending_account_order() {
        let accounts = Accounts::new(2);
        let load = EscrowLoad { per_envelope: 1, tasks: 4, rounds: 50 };
        let mut books = Books::new();
        let plans = super::super::generate(&accounts, load, 7, &mut vec![1; ACCOUNTS + 1], &mut books, (100, 1_500));
        for spec in plans.iter().flatten() {
            let cycle = SqlCycle::new(&accounts, spec, (100, 1_500));
            assert!(cycle.credits[0].0 <= cycle.credits[1].0);
            assert!(cycle.credits[1].0 < FEE_ACCOUNT, "the fee account is locked last");
            let credited: i64 = cycle.credits.iter().map(|(_, amount)| amount).sum::<i64>() + cycle.fee;
            assert_eq!(credited, cycle.amount);
        }
    }
}
