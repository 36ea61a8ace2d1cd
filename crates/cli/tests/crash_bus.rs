//! Crash test of durable streams in the real `colony serve`: a publisher stores batches of messages
//! while two workers pull from one consumer, ack some deliveries and hold others as if they had
//! crashed mid-task; the server is killed with SIGKILL at a random moment, and after every kill:
//! - `colony audit verify` on the killed server's data passes;
//! - every publish whose answer arrived is in the stream at the sequence it was given;
//! - publishes whose answer was lost are sent again with the same message id: the stream's
//!   deduplication either finds them (they were applied) or stores them now, never twice;
//! - the stream holds each message id exactly once.
//!
//! At the end the workers drain the consumer. Every stored message must then have been delivered and
//! acked, every delivery a worker held without acking must have been delivered again (at least once),
//! and the consumer's position must agree. `COLONY_BUS_CRASH_ROUNDS` changes the number of kills,
//! `COLONY_BUS_CRASH_SEED` reruns a printed seed.

mod common;

use colony_core::command::RegisterAgent;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use colony_client::streams::{consumer_config, stream_config};
use colony_client::{Client, Identity};
use colony_core::bus::AckKind;
use colony_core::{AgentId, Signer, limits};
use colony_wire::KeyPair;
use colony_wire::bus::EphemeralPublish;
use common::{Rng, ServerProcess, audit_ok};

/// Kills at least this many times.
const DEFAULT_ROUNDS: usize = 12;
/// Messages per publish envelope.
const BATCH: usize = 20;
/// The kill comes this long after the load starts, at random in this range.
const KILL_DELAY_MS: std::ops::RangeInclusive<u64> = 80..=400;
/// Snapshots often, so that recovery also starts from snapshots holding streams and consumers.
const SNAPSHOT_EVERY: &str = "40";
/// The shortest ack wait, so that held deliveries come back quickly.
const ACK_WAIT_MS: u64 = limits::ACK_WAIT_MS_MIN;
/// How long the final drain may take.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(90);

/// What the test knows, shared by the load tasks.
#[derive(Default)]
struct Ledger {
    /// Message id → the sequence its acknowledged publish was given.
    acknowledged: BTreeMap<String, u64>,
    /// Message ids whose publish answer was lost.
    unknown: BTreeSet<String>,
    /// Every (sequence, delivery count) a worker was handed.
    delivered: BTreeSet<(u64, u32)>,
    /// Sequences a worker held and deliberately never acked.
    held: BTreeSet<u64>,
    /// Sequences whose ack was answered (acks whose answer was lost are applied too, unseen).
    acked: BTreeSet<u64>,
}

struct Swarm {
    publisher: KeyPair,
    workers: Vec<(String, KeyPair)>,
}

impl Swarm {
    fn client(url: &str, agent: &str, key: &KeyPair) -> Client {
        Client::new(url).with_identity(Identity::new(Signer::Agent(AgentId::new(agent).unwrap()), key.clone()))
    }
}

fn message(id: &str) -> EphemeralPublish {
    EphemeralPublish::json(format!("jobs.{}", if id.ends_with('0') { "urgent" } else { "routine" }), &id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_publishes_survive_sigkill_and_held_deliveries_come_back() {
    let rounds: usize =
        std::env::var("COLONY_BUS_CRASH_ROUNDS").ok().and_then(|value| value.parse().ok()).unwrap_or(DEFAULT_ROUNDS);
    let seed: u64 =
        std::env::var("COLONY_BUS_CRASH_SEED").ok().and_then(|value| value.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        });
    println!("bus crash test: {rounds} rounds, seed {seed} (COLONY_BUS_CRASH_SEED={seed} reruns it)");
    let mut rng = Rng(seed);
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let logs = temp.path().join("logs");
    let mut server = ServerProcess::start(&data, &logs, &["--snapshot-every", SNAPSHOT_EVERY]);
    let operator_key = colony_wire::KeyFile::read(&data.join("operator.key")).unwrap().key_pair().unwrap();
    let operator = |url: &str| Client::new(url).with_identity(Identity::new(Signer::Operator, operator_key.clone()));

    let swarm = Swarm {
        publisher: KeyPair::generate(),
        workers: vec![("worker-1".to_owned(), KeyPair::generate()), ("worker-2".to_owned(), KeyPair::generate())],
    };
    let setup = operator(&server.url());
    let register = |agent: &str, key: &KeyPair| {
        colony_core::Command::RegisterAgent(RegisterAgent {
            agent: AgentId::new(agent).unwrap(),
            public_key: key.public_key(),
            role: "executor".parse().unwrap(),
            capabilities: BTreeSet::new(),
            weight: None,
            parent: None,
            referrer: None,
        })
    };
    let mut commands = vec![register("publisher-1", &swarm.publisher)];
    commands.extend(swarm.workers.iter().map(|(agent, key)| register(agent, key)));
    setup.submit_batch(commands).await.unwrap();
    let mut stream = stream_config(&["jobs.>"]).unwrap();
    stream.duplicate_window_ms = limits::DUPLICATE_WINDOW_MS_MAX;
    setup.create_stream("jobs", stream).await.unwrap();
    let mut consumer = consumer_config();
    consumer.ack_wait_ms = ACK_WAIT_MS;
    consumer.max_deliver = limits::MAX_DELIVER_MAX;
    consumer.max_ack_pending = limits::MAX_ACK_PENDING_MAX;
    consumer.roles.insert("executor".parse().unwrap());
    setup.create_consumer("jobs", "workers", consumer).await.unwrap();

    let known = Arc::new(Mutex::new(Ledger::default()));
    let mut next_message = 0u64;
    for round in 0..rounds {
        let url = server.url();
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        {
            // The publisher: batches of messages with fresh ids.
            let client = Swarm::client(&url, "publisher-1", &swarm.publisher);
            let known = Arc::clone(&known);
            let stop = Arc::clone(&stop);
            let first = next_message;
            tasks.push(tokio::spawn(async move {
                let mut number = first;
                while !stop.load(Ordering::Relaxed) && number < first + 100_000 {
                    let batch: Vec<(EphemeralPublish, Option<String>)> = (number..number + BATCH as u64)
                        .map(|index| {
                            let id = format!("m-{index}");
                            (message(&id), Some(id))
                        })
                        .collect();
                    number += BATCH as u64;
                    match client.publish_durable_many(&batch).await {
                        Ok(response) => {
                            let mut known = known.lock().unwrap();
                            for ((_, id), result) in batch.iter().zip(&response.results) {
                                assert!(result.ok, "a publish was refused: {result:?}");
                                known.acknowledged.insert(id.clone().unwrap(), result.stream_sequence.unwrap());
                            }
                        }
                        Err(_) => {
                            known.lock().unwrap().unknown.extend(batch.into_iter().map(|(_, id)| id.unwrap()));
                            break;
                        }
                    }
                }
                number
            }));
        }
        for (agent, key) in &swarm.workers {
            // A worker acks the deliveries with even sequence numbers and "crashes" holding the rest.
            let client = Swarm::client(&url, agent, key);
            let known = Arc::clone(&known);
            let stop = Arc::clone(&stop);
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(fetched) = client.fetch("jobs", "workers", 16).await else { break };
                    let mut finished = Vec::new();
                    {
                        let mut known = known.lock().unwrap();
                        for delivery in &fetched {
                            let sequence = delivery.stream_sequence.unwrap();
                            known.delivered.insert((sequence, delivery.delivery_count.unwrap()));
                            if sequence % 2 == 0 || delivery.delivery_count.unwrap() > 1 {
                                finished.push(sequence);
                            } else {
                                known.held.insert(sequence);
                            }
                        }
                    }
                    if !finished.is_empty() {
                        match client.ack("jobs", "workers", &finished, AckKind::Ack).await {
                            Ok(response) => {
                                assert!(response.results[0].ok, "an ack was refused: {:?}", response.results[0]);
                                known.lock().unwrap().acked.extend(finished);
                            }
                            Err(_) => break,
                        }
                    }
                    if fetched.is_empty() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                0
            }));
        }
        tokio::time::sleep(Duration::from_millis(rng.in_range(KILL_DELAY_MS))).await;
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for (index, task) in tasks.into_iter().enumerate() {
            let reached =
                tokio::time::timeout(Duration::from_secs(30), task).await.expect("a load task stops").unwrap();
            if index == 0 {
                next_message = reached;
            }
        }
        audit_ok(temp.path(), &data);

        server = ServerProcess::start(&data, &logs, &["--snapshot-every", SNAPSHOT_EVERY]);
        let url = server.url();
        // Lost answers: the same message id again is a duplicate if it was applied, a new message if not.
        let unknown: Vec<String> = std::mem::take(&mut known.lock().unwrap().unknown).into_iter().collect();
        let mut duplicates = 0;
        if !unknown.is_empty() {
            let publisher = Swarm::client(&url, "publisher-1", &swarm.publisher);
            let batch: Vec<(EphemeralPublish, Option<String>)> =
                unknown.iter().map(|id| (message(id), Some(id.clone()))).collect();
            let response = publisher.publish_durable_many(&batch).await.unwrap();
            let mut known = known.lock().unwrap();
            for (id, result) in unknown.iter().zip(&response.results) {
                assert!(result.ok, "a re-sent publish was refused: {result:?}");
                duplicates += usize::from(result.status.as_deref() == Some("duplicate"));
                known.acknowledged.insert(id.clone(), result.stream_sequence.unwrap());
            }
        }
        let stored = stored_ids(&operator(&url)).await;
        let known = known.lock().unwrap();
        for (id, sequence) in &known.acknowledged {
            assert_eq!(
                stored.get(id),
                Some(sequence),
                "round {round}: acknowledged publish {id} is not at its sequence"
            );
        }
        assert_eq!(
            stored.len(),
            known.acknowledged.len(),
            "round {round}: the stream holds exactly the known messages"
        );
        println!(
            "round {round}: {} messages stored, {} deliveries so far; {} answers lost in the kill, {duplicates} of them applied",
            stored.len(),
            known.delivered.len(),
            unknown.len()
        );
    }

    // Drain: the workers now ack everything, including redeliveries of what they held.
    let url = server.url();
    let started = Instant::now();
    let operator_client = operator(&url);
    loop {
        let mut fetched_any = false;
        for (agent, key) in &swarm.workers {
            let client = Swarm::client(&url, agent, key);
            let fetched = client.fetch("jobs", "workers", 256).await.unwrap();
            fetched_any |= !fetched.is_empty();
            let sequences: Vec<u64> = fetched.iter().map(|delivery| delivery.stream_sequence.unwrap()).collect();
            {
                let mut known = known.lock().unwrap();
                for delivery in &fetched {
                    known.delivered.insert((delivery.stream_sequence.unwrap(), delivery.delivery_count.unwrap()));
                }
            }
            if !sequences.is_empty() {
                client.ack("jobs", "workers", &sequences, AckKind::Ack).await.unwrap();
                known.lock().unwrap().acked.extend(sequences);
            }
        }
        let info = operator_client.consumer_info("jobs", "workers").await.unwrap();
        let stream = operator_client.stream_info("jobs").await.unwrap();
        if info.pending == 0 && info.ack_floor == stream.last_sequence && !fetched_any {
            break;
        }
        assert!(started.elapsed() < DRAIN_TIMEOUT, "the consumer did not drain: {info:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored = stored_ids(&operator_client).await;
    let info = operator_client.consumer_info("jobs", "workers").await.unwrap();
    let stream = operator_client.stream_info("jobs").await.unwrap();
    let known = known.lock().unwrap();
    let delivered: BTreeSet<u64> = known.delivered.iter().map(|(sequence, _)| *sequence).collect();
    for (id, sequence) in &stored {
        assert!(delivered.contains(sequence), "message {id} (sequence {sequence}) was never delivered");
    }
    // Acks whose answer was lost in a kill were applied all the same, so the consumer's own position
    // is what proves that everything was acked: the floor at the last sequence, nothing pending, and
    // nothing given up on.
    assert_eq!((info.ack_floor, info.pending, info.dead_lettered), (stream.last_sequence, 0, 0));
    assert_eq!(stream.messages as usize, stored.len());
    assert!(known.acked.len() <= stored.len());
    for sequence in &known.held {
        assert!(
            known.delivered.iter().any(|(delivered, count)| delivered == sequence && *count > 1),
            "held delivery {sequence} was never delivered again"
        );
    }
    assert!(!known.held.is_empty(), "the workers held some deliveries");
    println!(
        "{} messages, {} deliveries, {} held and redelivered, {} rounds",
        stored.len(),
        known.delivered.len(),
        known.held.len(),
        rounds
    );
    server.terminate();
    audit_ok(temp.path(), &data);
}

/// Every stored message: its id and sequence. Panics if an id is stored twice.
async fn stored_ids(client: &Client) -> BTreeMap<String, u64> {
    let mut stored = BTreeMap::new();
    let mut from = 1;
    loop {
        let page = client.stream_messages("jobs", from, 1_000).await.unwrap();
        for message in &page.messages {
            let id = message.message_id.clone().expect("every test message has an id");
            let sequence = message.stream_sequence.unwrap();
            assert!(stored.insert(id.clone(), sequence).is_none(), "message id {id} is stored twice");
        }
        match page.next_from {
            Some(next) => from = next,
            None => return stored,
        }
    }
}
