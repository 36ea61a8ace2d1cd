//! The `kv` scenario: compare-and-swap puts and claim cycles per second, beside etcd and Redis in
//! the same run.
//!
//! Each client owns one key and replaces its value round after round, each put naming the revision
//! its previous put answered with, as a writer that keeps a record up to date does. Colony's put is a
//! `kv.put` envelope with `expected_revision`, signed by the client's agent and posted to
//! `/v1/commands`, answered once durable with the new revision. etcd's is the transaction its API
//! offers for this (`POST /v3/kv/txn`: compare the key's `mod_revision`, then put), through its JSON
//! gateway, answered once its Raft entry is on disk. Redis has no revision; its nearest single round
//! trip is a script that compares a version stored beside the value and sets both
//! (`EVAL`), on two `redis-server` processes, one unpersisted and one with `appendfsync always`.
//! Each side's rows are skipped, saying so, when its server cannot be started.
//!
//! A second row measures claims (seed 003's atomic claim of a task): a key stored only if absent and
//! living with the claimant's lease, then deleted, beside etcd's transaction on `create_revision`
//! with a lease and Redis's `SET NX PX` and `DEL`.

use std::sync::Arc;
use std::time::Instant;

use colony_client::Client;
use colony_core::bus::JsonText;
use colony_core::command::CreateNamespace;
use colony_core::kv::Access;
use colony_core::{Command, Name, Signer, StoreKey};
use colony_server::driver::{DriverSettings, Submission};
use colony_wire::Envelope;

use crate::Bench;
use crate::coordination::{EtcdProcess, RedisProcess, etcd_call};
use crate::fixture::{Agents, BenchServer, Measurement, TaskTally};
use crate::report::{Row, human};

const SCENARIO: &str = "kv";

/// The script Redis runs for a compare-and-swap: the version beside the value must be the one the
/// client read; then both are replaced.
const REDIS_CAS: &str = "if (redis.call('HGET', KEYS[1], 'version') or '0') == ARGV[1] then \
    redis.call('HSET', KEYS[1], 'version', ARGV[2], 'value', ARGV[3]) return 1 else return 0 end";

fn namespace() -> Name {
    Name::new("bench").expect("a valid namespace")
}

fn value(round: u64) -> String {
    format!(r#"{{"round":{round},"state":"running"}}"#)
}

/// One Colony client's puts: each names the revision the one before answered with.
async fn colony_worker(client: Client, worker: usize, rounds: u64) -> TaskTally {
    let key = StoreKey::new(format!("record/{worker}")).expect("a valid key");
    let mut expected = 0;
    let mut tally = TaskTally::default();
    for round in 0..rounds {
        let started = Instant::now();
        let stored = JsonText::parse(&value(round)).expect("JSON");
        match client.put_value(namespace(), key.clone(), stored, Some(expected)).await {
            Ok(write) => {
                expected = write.revision;
                tally.success(started.elapsed(), 1);
            }
            Err(error) => tally.failure(started.elapsed(), || format!("put: {error}")),
        }
    }
    tally
}

/// One Colony client's claims, as seed 003's agents claim a task: its key stored only if absent
/// (`expected_revision` 0, SET NX's test), living with the agent's lease (PX's expiry: the claim
/// dies with its holder), then deleted (the release). A cycle is the two round trips.
async fn colony_claimer(client: Client, worker: usize, rounds: u64) -> TaskTally {
    let lease = Name::new("claims").expect("a valid name");
    let key = StoreKey::new(format!("claim/{worker}")).expect("a valid key");
    let mut tally = TaskTally::default();
    let started = Instant::now();
    if let Err(error) = client.grant_lease(lease.clone(), colony_core::limits::LEASE_TTL_MAX_MS).await {
        tally.failure(started.elapsed(), || format!("lease: {error}"));
        return tally;
    }
    for round in 0..rounds {
        let started = Instant::now();
        let holder = JsonText::parse(&claim_value(worker, round)).expect("JSON");
        let claimed = client.put_leased_value(namespace(), key.clone(), holder, Some(0), lease.clone()).await;
        let released = match claimed {
            Ok(_) => client.delete_value(namespace(), key.clone(), None).await.map(|_| ()),
            Err(error) => Err(error),
        };
        match released {
            Ok(()) => tally.success(started.elapsed(), 1),
            Err(error) => tally.failure(started.elapsed(), || format!("claim: {error}")),
        }
    }
    tally
}

fn claim_value(worker: usize, round: u64) -> String {
    format!(r#"{{"holder":{worker},"round":{round}}}"#)
}

/// Colony's puts (or, with `claims`, claim cycles): a fresh server, a namespace every registered
/// agent writes, `clients` agents.
fn colony(bench: &mut Bench, clients: usize, rounds: u64, claims: bool) -> Result<Measurement, String> {
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let server = BenchServer::start(directory.path(), DriverSettings::default(), bench.threads)?;
    let agents = Agents::new(clients);
    server.register(&bench.load, &agents)?;
    let operator = server.operator_key()?;
    let create = Command::CreateNamespace(CreateNamespace {
        namespace: namespace(),
        readers: Access::Registered,
        writers: Access::Registered,
    });
    let envelope = Envelope { signer: Signer::Operator, nonce: 2, commands: vec![create] };
    let signed = envelope.sign(&operator);
    let submission = Submission { envelope, signed, verified_key: operator.public_key() };
    bench.load.block_on(server.driver().submit(submission)).map_err(|error| format!("namespace: {error:?}"))?;
    let base_url = server.base_url();
    let measurement = bench.load.block_on(async move {
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|worker| {
                let client = Client::new(base_url.clone()).with_identity(agents.identity(worker));
                if claims {
                    tokio::spawn(colony_claimer(client, worker, rounds))
                } else {
                    tokio::spawn(colony_worker(client, worker, rounds))
                }
            })
            .collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            tallies.push(task.await.expect("worker task"));
        }
        Measurement::from_tallies(started.elapsed(), tallies)
    });
    let stored =
        server.driver().shared.state.read().expect("state lock").kv().namespace(&namespace()).map(|found| found.keys());
    server.stop();
    measurement.check(SCENARIO)?;
    // Every put leaves its client's key; every claim is released.
    let expected = if claims { 0 } else { clients };
    if stored != Some(expected) {
        return Err(format!("{SCENARIO}: {stored:?} keys stored, {expected} expected"));
    }
    Ok(measurement)
}

/// One etcd connection's puts: a transaction comparing the key's `mod_revision` each round.
async fn etcd_worker(etcd: Arc<EtcdProcess>, worker: usize, rounds: u64) -> Result<TaskTally, String> {
    use base64::Engine as _;
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let http = reqwest::Client::new();
    let key = encode(&format!("record/{worker}"));
    let mut expected = 0u64;
    let mut tally = TaskTally::default();
    for round in 0..rounds {
        let started = Instant::now();
        let transaction = serde_json::json!({
            "compare": [{ "key": key, "target": "MOD", "result": "EQUAL", "mod_revision": expected.to_string() }],
            "success": [{ "request_put": { "key": key, "value": encode(&value(round)) } }]
        });
        match etcd_call(&http, &etcd, "/v3/kv/txn", transaction).await {
            Ok(answer) if answer["succeeded"] == true => {
                let revision = answer["header"]["revision"].as_str().and_then(|text| text.parse().ok());
                match revision {
                    Some(revision) => {
                        expected = revision;
                        tally.success(started.elapsed(), 1);
                    }
                    None => tally.failure(started.elapsed(), || format!("etcd answered without a revision: {answer}")),
                }
            }
            Ok(answer) => tally.failure(started.elapsed(), || format!("etcd's compare failed: {answer}")),
            Err(error) => tally.failure(started.elapsed(), || error),
        }
    }
    Ok(tally)
}

/// One etcd connection's claims: a lease granted once, then each round a transaction that puts the
/// key under the lease only if it was never created (`create_revision` 0), and its deletion.
async fn etcd_claimer(etcd: Arc<EtcdProcess>, worker: usize, rounds: u64) -> Result<TaskTally, String> {
    use base64::Engine as _;
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let http = reqwest::Client::new();
    let granted = etcd_call(&http, &etcd, "/v3/lease/grant", serde_json::json!({ "TTL": 3_600 })).await?;
    let lease = granted["ID"].as_str().ok_or_else(|| format!("etcd granted no lease: {granted}"))?.to_owned();
    let key = encode(&format!("claim/{worker}"));
    let mut tally = TaskTally::default();
    for round in 0..rounds {
        let started = Instant::now();
        let transaction = serde_json::json!({
            "compare": [{ "key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0" }],
            "success": [{ "request_put": { "key": key, "value": encode(&claim_value(worker, round)), "lease": lease } }]
        });
        let claimed = match etcd_call(&http, &etcd, "/v3/kv/txn", transaction).await {
            Ok(answer) if answer["succeeded"] == true => Ok(()),
            Ok(answer) => Err(format!("etcd's claim found the key: {answer}")),
            Err(error) => Err(error),
        };
        let released = match claimed {
            Ok(()) => {
                etcd_call(&http, &etcd, "/v3/kv/deleterange", serde_json::json!({ "key": key })).await.map(|_| ())
            }
            Err(error) => Err(error),
        };
        match released {
            Ok(()) => tally.success(started.elapsed(), 1),
            Err(error) => tally.failure(started.elapsed(), || error),
        }
    }
    Ok(tally)
}

/// One Redis connection's claims: `SET key value NX PX ttl`, then `DEL key`.
async fn redis_claimer(client: redis::Client, worker: usize, rounds: u64) -> Result<TaskTally, String> {
    let mut connection =
        client.get_multiplexed_async_connection().await.map_err(|error| format!("redis connection: {error}"))?;
    let key = format!("claim/{worker}");
    let mut tally = TaskTally::default();
    for round in 0..rounds {
        let started = Instant::now();
        let claimed: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(claim_value(worker, round))
            .arg("NX")
            .arg("PX")
            .arg(30_000)
            .query_async(&mut connection)
            .await
            .map_err(|error| format!("redis SET: {error}"))?;
        if claimed.is_none() {
            tally.failure(started.elapsed(), || "the key was claimed already".to_owned());
            continue;
        }
        let deleted: i64 = redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .map_err(|error| format!("redis DEL: {error}"))?;
        if deleted == 1 {
            tally.success(started.elapsed(), 1);
        } else {
            tally.failure(started.elapsed(), || "the claim was gone before its release".to_owned());
        }
    }
    Ok(tally)
}

/// One Redis connection's puts: the script, with the version the previous round set.
async fn redis_worker(client: redis::Client, worker: usize, rounds: u64) -> Result<TaskTally, String> {
    let mut connection =
        client.get_multiplexed_async_connection().await.map_err(|error| format!("redis connection: {error}"))?;
    let key = format!("record/{worker}");
    let mut tally = TaskTally::default();
    for round in 0..rounds {
        let started = Instant::now();
        // The script's text travels with each call (EVAL, not EVALSHA): about 170 bytes more.
        let swapped: i64 = redis::cmd("EVAL")
            .arg(REDIS_CAS)
            .arg(1)
            .arg(&key)
            .arg(round)
            .arg(round + 1)
            .arg(value(round))
            .query_async(&mut connection)
            .await
            .map_err(|error| format!("redis EVAL: {error}"))?;
        if swapped == 1 {
            tally.success(started.elapsed(), 1);
        } else {
            tally.failure(started.elapsed(), || "the script found another version".to_owned());
        }
    }
    Ok(tally)
}

fn run_clients<F, Fut>(bench: &Bench, clients: usize, worker: F, what: &str) -> Result<Measurement, String>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<TaskTally, String>> + Send + 'static,
{
    bench.load.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients).map(|index| tokio::spawn(worker(index))).collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            tallies.push(task.await.map_err(|error| format!("{what} worker: {error}"))??);
        }
        let measurement = Measurement::from_tallies(started.elapsed(), tallies);
        measurement.check(what)?;
        Ok(measurement)
    })
}

/// Runs the scenario and adds its row to the report.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    let (clients, rounds) = (bench.sizes.kv_clients, bench.sizes.kv_rounds);
    let puts = (clients as u64 * rounds) as f64;
    crate::progress(SCENARIO, format!("Colony: {} compare-and-swap puts, HTTP, {clients} clients", human(puts)));
    let measurement = colony(bench, clients, rounds, false)?;
    let rate = measurement.commands_per_s();
    let mut row =
        Row::new(SCENARIO, format!("compare-and-swap puts, 1 per round trip, HTTP, {clients} clients"), rate, "put/s")
            .latency(measurement.latency_us(0.5), measurement.latency_us(0.99));
    let mut notes = Vec::new();
    match EtcdProcess::start().map(Arc::new) {
        Ok(etcd) => {
            crate::progress(SCENARIO, format!("etcd: {} transactions", human(puts)));
            let etcd_rate = run_clients(bench, clients, |worker| etcd_worker(etcd.clone(), worker, rounds), "etcd")?
                .commands_per_s();
            row = row
                .reference(format!("etcd txn (compare mod_revision, put), JSON gateway, {clients} conns"), etcd_rate);
            notes.push(format!("Colony / etcd = {:.2}×", rate / etcd_rate));
        }
        Err(reason) => bench.report.row(Row::skipped(SCENARIO, "etcd", reason)),
    }
    for (label, persistence) in [
        ("unpersisted", &["--appendonly", "no"][..]),
        ("appendfsync always", &["--appendonly", "yes", "--appendfsync", "always"][..]),
    ] {
        match RedisProcess::start(persistence) {
            Ok(process) => {
                crate::progress(SCENARIO, format!("Redis {label}: {} scripted swaps", human(puts)));
                let client = redis::Client::open(process.url()).map_err(|error| format!("redis client: {error}"))?;
                let redis_rate =
                    run_clients(bench, clients, |worker| redis_worker(client.clone(), worker, rounds), "redis")?
                        .commands_per_s();
                row = row.reference(format!("Redis EVAL compare-and-set, {label}, {clients} conns"), redis_rate);
                notes.push(format!("Colony / Redis {label} = {:.2}×", rate / redis_rate));
            }
            Err(reason) => bench.report.row(Row::skipped(SCENARIO, format!("Redis {label}"), reason)),
        }
    }
    bench.report.row(row);
    notes.push(
        "each side's put is durable before its answer but Redis unpersisted's; Colony's carries the signer's \
         signature, checked before the log, and its revision is a compare-and-swap's token as etcd's mod_revision is"
            .to_owned(),
    );
    for note in notes {
        bench.report.note(SCENARIO, note);
    }
    claims(bench)
}

/// The claims row: Colony's leased put-if-absent and delete beside etcd's leased transaction and
/// delete, and Redis's SET NX PX and DEL.
fn claims(bench: &mut Bench) -> Result<(), String> {
    let (clients, rounds) = (bench.sizes.kv_clients, bench.sizes.kv_rounds);
    let cycles = (clients as u64 * rounds) as f64;
    crate::progress(SCENARIO, format!("Colony: {} claim cycles, HTTP, {clients} clients", human(cycles)));
    let measurement = colony(bench, clients, rounds, true)?;
    let rate = measurement.commands_per_s();
    let mut row = Row::new(
        SCENARIO,
        format!("claim cycles (put-if-absent under a lease, then delete), HTTP, {clients} clients"),
        rate,
        "cycle/s",
    )
    .latency(measurement.latency_us(0.5), measurement.latency_us(0.99));
    let mut notes = Vec::new();
    match EtcdProcess::start().map(Arc::new) {
        Ok(etcd) => {
            crate::progress(SCENARIO, format!("etcd: {} claim cycles", human(cycles)));
            let etcd_rate = run_clients(bench, clients, |worker| etcd_claimer(etcd.clone(), worker, rounds), "etcd")?
                .commands_per_s();
            row = row
                .reference(format!("etcd txn (create_revision 0, put with lease), delete, {clients} conns"), etcd_rate);
            notes.push(format!("claims: Colony / etcd = {:.2}×", rate / etcd_rate));
        }
        Err(reason) => bench.report.row(Row::skipped(SCENARIO, "etcd claims", reason)),
    }
    for (label, persistence) in [
        ("unpersisted", &["--appendonly", "no"][..]),
        ("appendfsync always", &["--appendonly", "yes", "--appendfsync", "always"][..]),
    ] {
        match RedisProcess::start(persistence) {
            Ok(process) => {
                crate::progress(SCENARIO, format!("Redis {label}: {} claim cycles", human(cycles)));
                let client = redis::Client::open(process.url()).map_err(|error| format!("redis client: {error}"))?;
                let redis_rate =
                    run_clients(bench, clients, |worker| redis_claimer(client.clone(), worker, rounds), "redis")?
                        .commands_per_s();
                row = row.reference(format!("Redis SET NX PX, DEL, {label}, {clients} conns"), redis_rate);
                notes.push(format!("claims: Colony / Redis {label} = {:.2}×", rate / redis_rate));
            }
            Err(reason) => bench.report.row(Row::skipped(SCENARIO, format!("Redis claims {label}"), reason)),
        }
    }
    bench.report.row(row);
    notes.push(
        "a claim cycle is two round trips on every side; Colony's claim is a key other agents can read and \
         watch, deleted with its holder's lease when the holder dies, as etcd's is with its lease and Redis's by PX"
            .to_owned(),
    );
    for note in notes {
        bench.report.note(SCENARIO, note);
    }
    Ok(())
}
