//! What the scenarios that compare Colony with the local PostgreSQL share: where PostgreSQL is
//! expected, opening the benchmark's database, durable sessions, describing errors, and adding the
//! PostgreSQL row (or the line saying why there is none) to the report.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use crate::fixture::Measurement;
use crate::report::{Report, Row};

/// Where the PostgreSQL server is expected.
pub const ADDRESS: &str = "127.0.0.1:5432";

/// The database the scenarios create (or reuse) and own.
pub const DATABASE: &str = "colony_bench";

/// Why there is no PostgreSQL figure.
pub enum Failure {
    /// No PostgreSQL to measure: the scenario goes on without it.
    Unreachable(String),
    /// PostgreSQL answered but the workload failed: an error of the benchmark.
    Broken(String),
}

impl Failure {
    /// A broken workload, from what failed and the error.
    pub fn broken(what: &str, error: &tokio_postgres::Error) -> Failure {
        Failure::Broken(format!("{what}: {}", describe(error)))
    }
}

/// A finished PostgreSQL run.
pub struct Outcome {
    /// The measurement; its `commands` are the scenario's unit (cycles, lifecycles).
    pub measurement: Measurement,
    /// What was checked afterwards and how PostgreSQL was set.
    pub summary: String,
}

fn connection_string(address: &str, database: &str) -> String {
    let (host, port) = address.split_once(':').expect("host:port");
    format!("host={host} port={port} user=postgres dbname={database} connect_timeout=3")
}

/// One connection, its I/O driven by a task of the current runtime.
pub async fn connect(address: &str, database: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(&connection_string(address, database), NoTls).await?;
    tokio::spawn(async move {
        // Ends when the client is dropped (or the server goes away: the client's calls then fail).
        let _ = connection.await;
    });
    Ok(client)
}

/// An error in one line: the SQL state and message, or the chain of causes.
pub fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

/// Connects to the benchmark's database at `address`, creating it if needed.
pub async fn open(address: &str) -> Result<Client, Failure> {
    match connect(address, DATABASE).await {
        Ok(client) => return Ok(client),
        Err(error) if error.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {}
        Err(error) => return Err(Failure::Unreachable(describe(&error))),
    }
    let admin = connect(address, "postgres").await.map_err(|error| Failure::Unreachable(describe(&error)))?;
    match admin.batch_execute(&format!("CREATE DATABASE {DATABASE}")).await {
        Ok(()) => {}
        Err(error) if error.code() == Some(&SqlState::DUPLICATE_DATABASE) => {}
        Err(error) => return Err(Failure::Unreachable(format!("creating database {DATABASE}: {}", describe(&error)))),
    }
    connect(address, DATABASE).await.map_err(|error| Failure::Unreachable(describe(&error)))
}

/// `count` sessions on the benchmark's database, every commit durable (`synchronous_commit = on`).
pub async fn durable_sessions(count: usize) -> Result<Vec<Client>, Failure> {
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        let client = connect(ADDRESS, DATABASE).await.map_err(|error| Failure::broken("connecting", &error))?;
        client
            .batch_execute("SET synchronous_commit = on")
            .await
            .map_err(|error| Failure::broken("settings", &error))?;
        sessions.push(client);
    }
    Ok(sessions)
}

/// How the server is set, for the notes: its version and `fsync`.
pub async fn settings(client: &Client) -> Result<String, Failure> {
    let row = client
        .query_one("SELECT current_setting('fsync'), current_setting('server_version')", &[])
        .await
        .map_err(|error| Failure::broken("reading settings", &error))?;
    let (fsync, version): (String, String) = (row.get(0), row.get(1));
    Ok(format!("PostgreSQL {version} (fsync={fsync}, synchronous_commit=on), database {DATABASE}"))
}

/// PostgreSQL's rate from a run: `None` when no PostgreSQL answered, an error when the workload broke.
pub fn rate(scenario: &str, result: &Result<Outcome, Failure>) -> Result<Option<f64>, String> {
    match result {
        Ok(outcome) => Ok(Some(outcome.measurement.commands_per_s())),
        Err(Failure::Unreachable(_)) => Ok(None),
        Err(Failure::Broken(error)) => Err(format!("{scenario}, PostgreSQL: {error}")),
    }
}

/// Adds PostgreSQL's row (with `references`), or the skipped row saying why there is none. Returns
/// the run's summary for the notes, if it ran. Call [`rate`] first: a broken run is not reported.
pub fn add_row(
    report: &mut Report,
    scenario: &'static str,
    name: String,
    unit: &'static str,
    result: &Result<Outcome, Failure>,
    references: &[(&str, f64)],
) -> Option<String> {
    match result {
        Ok(outcome) => {
            let measurement = &outcome.measurement;
            let mut row = Row::new(scenario, name, measurement.commands_per_s(), unit)
                .latency(measurement.latency_us(0.5), measurement.latency_us(0.99));
            for (label, value) in references {
                row = row.reference(*label, *value);
            }
            report.row(row);
            Some(outcome.summary.clone())
        }
        Err(Failure::Unreachable(reason)) => {
            let line = format!("skipped: PostgreSQL not reachable at {ADDRESS} ({reason})");
            crate::progress(scenario, &line);
            report.row(Row::skipped(scenario, name, line));
            None
        }
        Err(Failure::Broken(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_server_is_unreachable_not_an_error() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        // Port 1 (tcpmux) has no listener on a development machine: the connection is refused.
        match runtime.block_on(open("127.0.0.1:1")) {
            Err(Failure::Unreachable(reason)) => assert!(!reason.is_empty()),
            Err(Failure::Broken(reason)) => panic!("a missing server is not a broken benchmark: {reason}"),
            Ok(_) => panic!("something answers on 127.0.0.1:1"),
        }
    }
}
