//! The PostgreSQL reference: the same ballots as one durable transaction each from [`CONNECTIONS`]
//! connections, and the close as one transaction.
//!
//! Schema: `gov_proposals(id, state)`, `gov_electorate(proposal, voter, weight)` (the electorate
//! frozen at creation, as Colony freezes it) and `gov_ballots(proposal, voter, approved, weight,
//! signature)` keyed by proposal and voter. A ballot is one statement, so one round trip and one
//! transaction: insert it if the voter is in the electorate and the proposal is open, taking the
//! weight from the electorate, or replace the voter's earlier ballot (a ballot may change until the
//! close, as in Colony). The signature is stored, not verified. The close, in one transaction: mark
//! the proposal closed (only if open), sum the approval weight per option, and digest every ballot
//! in voter order (SHA-256, Colony's seal), then commit.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::{OPTIONS, approved_options, expected_totals};
use crate::fixture::{Measurement, TaskTally};
use crate::postgres::{Failure, describe, durable_sessions, open, settings};

/// Client connections, each sending its ballots one after another.
pub const CONNECTIONS: usize = 16;

/// The proposal's id in the tables.
const PROPOSAL: i64 = 1;

/// A finished PostgreSQL run.
pub struct SqlRun {
    /// One command per ballot.
    pub ballots: Measurement,
    /// The closing transaction, from `BEGIN` to `COMMIT` answered.
    pub close: Duration,
    /// What was checked and how PostgreSQL was set.
    pub summary: String,
}

const SCHEMA: &str = "
    DROP TABLE IF EXISTS gov_ballots, gov_electorate, gov_proposals;
    CREATE TABLE gov_proposals (id bigint PRIMARY KEY, state text NOT NULL);
    CREATE TABLE gov_electorate (proposal bigint NOT NULL, voter text NOT NULL, weight bigint NOT NULL,
                                 PRIMARY KEY (proposal, voter));
    CREATE TABLE gov_ballots (proposal bigint NOT NULL, voter text NOT NULL, approved int[] NOT NULL,
                              weight bigint NOT NULL, signature bytea NOT NULL, PRIMARY KEY (proposal, voter));
";

const CAST: &str = "
    INSERT INTO gov_ballots (proposal, voter, approved, weight, signature)
    SELECT e.proposal, e.voter, $3, e.weight, $4 FROM gov_electorate e JOIN gov_proposals p ON p.id = e.proposal
    WHERE e.proposal = $1 AND e.voter = $2 AND p.state = 'open'
    ON CONFLICT (proposal, voter) DO UPDATE SET approved = excluded.approved, signature = excluded.signature";

const TALLY: &str = "
    SELECT option, sum(weight)::bigint FROM gov_ballots, unnest(approved) AS option
    WHERE proposal = $1 GROUP BY option ORDER BY option";

const DIGEST: &str = "
    SELECT sha256(string_agg(voter || ':' || array_to_string(approved, ',') || ':' || encode(signature, 'hex'),
                             ';' ORDER BY voter)::bytea), count(*)
    FROM gov_ballots WHERE proposal = $1";

fn voter_name(voter: usize) -> String {
    format!("agent-{voter:04}")
}

/// A stand-in for the voter's signature: 64 bytes, distinct per voter (stored, never verified).
fn signature(voter: usize) -> Vec<u8> {
    let mut bytes = vec![0x5au8; 64];
    bytes[..8].copy_from_slice(&(voter as u64).to_le_bytes());
    bytes
}

async fn set_up(client: &Client, voters: usize) -> Result<(), Failure> {
    client.batch_execute(SCHEMA).await.map_err(|error| Failure::broken("schema", &error))?;
    client
        .execute("INSERT INTO gov_proposals VALUES ($1, 'open')", &[&PROPOSAL])
        .await
        .map_err(|error| Failure::broken("proposal", &error))?;
    let names: Vec<String> = (0..voters).map(voter_name).collect();
    let weight = i64::from(colony_core::limits::WEIGHT_ONE);
    client
        .execute(
            "INSERT INTO gov_electorate SELECT $1, voter, $3 FROM unnest($2::text[]) AS voter",
            &[&PROPOSAL, &names, &weight],
        )
        .await
        .map_err(|error| Failure::broken("electorate", &error))?;
    Ok(())
}

/// Each connection casts the ballots of every [`CONNECTIONS`]th voter, one transaction each.
async fn cast_ballots(sessions: Vec<Client>, voters: usize) -> Result<Measurement, Failure> {
    let started = Instant::now();
    let lanes: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(lane, client)| {
            tokio::spawn(async move {
                let statement = client.prepare(CAST).await.map_err(|error| Failure::broken("prepare", &error))?;
                let mut tally = TaskTally::default();
                for voter in (lane..voters).step_by(CONNECTIONS) {
                    let approved: Vec<i32> = approved_options(voter).into_iter().map(|option| option as i32).collect();
                    let sent = Instant::now();
                    let result = client
                        .execute(&statement, &[&PROPOSAL, &voter_name(voter), &approved, &signature(voter)])
                        .await;
                    match result {
                        Ok(1) => tally.success(sent.elapsed(), 1),
                        Ok(rows) => tally.failure(sent.elapsed(), || format!("ballot of voter {voter}: {rows} rows")),
                        Err(error) => return Err(Failure::broken("ballot", &error)),
                    }
                }
                Ok(tally)
            })
        })
        .collect();
    let mut tallies = Vec::with_capacity(lanes.len());
    for lane in lanes {
        tallies.push(lane.await.map_err(|error| Failure::Broken(format!("ballot lane: {error}")))??);
    }
    Ok(Measurement::from_tallies(started.elapsed(), tallies))
}

/// The closing transaction; answers its duration, the totals and the digest's ballot count.
async fn close(client: &mut Client) -> Result<(Duration, Vec<u128>, i64), Failure> {
    let broken = |error: tokio_postgres::Error| Failure::broken("close", &error);
    let started = Instant::now();
    let transaction = client.transaction().await.map_err(broken)?;
    let marked = transaction
        .execute("UPDATE gov_proposals SET state = 'closed' WHERE id = $1 AND state = 'open'", &[&PROPOSAL])
        .await
        .map_err(broken)?;
    let rows = transaction.query(TALLY, &[&PROPOSAL]).await.map_err(broken)?;
    let digest = transaction.query_one(DIGEST, &[&PROPOSAL]).await.map_err(broken)?;
    transaction.commit().await.map_err(broken)?;
    let elapsed = started.elapsed();
    if marked != 1 {
        return Err(Failure::Broken("the proposal was not open at the close".to_owned()));
    }
    let mut totals = vec![0u128; OPTIONS as usize];
    for row in rows {
        let (option, total): (i32, i64) = (row.get(0), row.get(1));
        totals[option as usize] = total as u128;
    }
    let digest_bytes: Vec<u8> = digest.get(0);
    if digest_bytes.len() != 32 {
        return Err(Failure::Broken("the ballots' digest is not 32 bytes".to_owned()));
    }
    Ok((elapsed, totals, digest.get(1)))
}

/// Runs the PostgreSQL side for `voters` voters.
pub async fn run(voters: usize) -> Result<SqlRun, Failure> {
    let mut admin = open(crate::postgres::ADDRESS).await?;
    let settings = settings(&admin).await?;
    set_up(&admin, voters).await?;
    let sessions = durable_sessions(CONNECTIONS).await?;
    let ballots = cast_ballots(sessions, voters).await?;
    ballots.check("ballots").map_err(Failure::Broken)?;
    let (close, totals, digested) = close(&mut admin).await?;
    if totals != expected_totals(voters) || digested != voters as i64 {
        return Err(Failure::Broken(format!(
            "tally {totals:?} over {digested} ballots, expected {:?} over {voters}",
            expected_totals(voters)
        )));
    }
    admin
        .batch_execute("DROP TABLE gov_ballots, gov_electorate, gov_proposals")
        .await
        .map_err(|error| Failure::Broken(format!("dropping the tables: {}", describe(&error))))?;
    Ok(SqlRun { ballots, close, summary: format!("PostgreSQL tally as expected over {digested} ballots; {settings}") })
}
