//! Colony's durable streams, measured the way [`super::jetstream`] measures JetStream: publish a
//! number of messages into a fresh stream, then consume and acknowledge all of them through a pull
//! consumer; messages per second for each half.
//!
//! Everything goes through the server's single writer (`DriverHandle::submit`, no HTTP), as signed
//! envelopes in the log, each answered after its group commit: with [`Durability::Full`] that is an
//! fsync, with [`Durability::Relaxed`] the operating system's cache (what JetStream does by default).
//! Publishing: envelopes of [`PUBLISH_BATCH`] `bus.publish` commands, signed before the clock starts,
//! [`LANES`] in flight. Consuming: [`LANES`] workers (agents) sharing one consumer, each sending one
//! envelope at a time that acks what its previous fetch returned and fetches the next
//! [`FETCHES_PER_ENVELOPE`] × 256 messages; those envelopes are signed as the run goes, since what
//! they ack is only known then. Afterwards the consumer's ack floor must be the stream's last
//! sequence with nothing pending, or the run fails.

use colony_core::command::{Ack, CreateConsumer, CreateStream, Fetch, Publish};
use std::time::{Duration, Instant};

use colony_core::bus::{AckKind, DeliverPolicy, Discard, JsonText, Pattern, Priority, Subject};
use colony_core::{Accepted, Command, Name, Signer, limits};
use colony_log::Durability;
use colony_server::driver::{DriverSettings, Submission};
use colony_wire::Envelope;

use crate::fixture::{Agents, BenchServer, outcome_failure};

/// Messages in one publish envelope.
pub const PUBLISH_BATCH: usize = 1_000;
/// Envelopes in flight, and workers sharing the consumer.
pub const LANES: usize = 8;
/// Fetch commands (of the largest batch) in one consume envelope.
pub const FETCHES_PER_ENVELOPE: usize = 4;
/// How long either half may take before it is abandoned as stalled.
const PHASE_LIMIT: Duration = Duration::from_secs(120);

/// How envelopes reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `DriverHandle::submit`: the writer alone, no HTTP.
    Driver,
    /// `POST /v1/batch` with the Rust client: HTTP, JSON answers carrying every delivered message.
    Http,
}

/// What one command of an envelope came to.
enum Answer {
    /// A publish stored a new message.
    Stored,
    /// A fetch delivered these sequences.
    Fetched(Vec<u64>),
    /// Anything else accepted.
    Done,
    /// Refused, or not what was asked (a duplicate).
    Unexpected(String),
}

/// A route bound to a running server.
#[derive(Clone)]
enum Submitter {
    Driver(colony_server::driver::DriverHandle),
    Http(colony_client::Client),
}

impl Submitter {
    async fn submit(&self, submission: Submission) -> Result<Vec<Answer>, String> {
        match self {
            Submitter::Driver(driver) => {
                let committed = driver.submit(submission).await.map_err(|error| format!("{error:?}"))?;
                if let Some(rejection) = &committed.outcome.envelope {
                    return Err(format!("envelope refused: {rejection}"));
                }
                Ok(committed
                    .outcome
                    .commands
                    .iter()
                    .map(|result| match result {
                        Ok(Accepted::Published { duplicate: false, .. }) => Answer::Stored,
                        Ok(Accepted::Fetched { deliveries, .. }) => {
                            Answer::Fetched(deliveries.iter().map(|delivery| delivery.sequence).collect())
                        }
                        Ok(Accepted::Published { duplicate: true, .. }) => Answer::Unexpected("a duplicate".to_owned()),
                        Ok(_) => Answer::Done,
                        Err(rejection) => Answer::Unexpected(rejection.to_string()),
                    })
                    .collect())
            }
            Submitter::Http(client) => {
                let response =
                    client.post_signed("/v1/batch", &submission.signed).await.map_err(|error| error.to_string())?;
                Ok(response
                    .results
                    .into_iter()
                    .map(|result| {
                        match (result.ok, result.status.as_deref(), result.deliveries, result.stream_sequence) {
                            (false, ..) => Answer::Unexpected(format!("{:?}", result.problem)),
                            (true, _, Some(deliveries), _) => Answer::Fetched(
                                deliveries.iter().filter_map(|message| message.stream_sequence).collect(),
                            ),
                            (true, Some("done"), None, Some(_)) => Answer::Stored,
                            (true, Some("duplicate"), ..) => Answer::Unexpected("a duplicate".to_owned()),
                            (true, ..) => Answer::Done,
                        }
                    })
                    .collect())
            }
        }
    }
}

/// A finished run.
pub struct Outcome {
    /// Durable publishes per second.
    pub publishes_per_s: f64,
    /// Messages fetched and acknowledged per second.
    pub consumes_per_s: f64,
    /// What was checked.
    pub summary: String,
}

fn name(text: &str) -> Name {
    Name::new(text).expect("a valid name")
}

/// Measures `messages` messages with `durability` through `route`, on a fresh server in a
/// temporary directory.
pub fn run(
    load: &tokio::runtime::Runtime,
    threads: usize,
    messages: u64,
    durability: Durability,
    route: Route,
) -> Result<Outcome, String> {
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let server = BenchServer::start_with(directory.path(), DriverSettings::default(), threads, durability)?;
    let mut agents = Agents::new(1 + LANES);
    server.register(load, &agents)?;
    let driver = server.driver();
    let submitter = match route {
        Route::Driver => Submitter::Driver(driver.clone()),
        Route::Http => Submitter::Http(colony_client::Client::new(server.base_url())),
    };
    let payload = JsonText::parse(&super::payload(0)).expect("the payload is JSON");
    let messages = messages.max(1);

    // The stream and its consumer, from the publisher (agent 0) and the first worker.
    let setup = |agents: &mut Agents, agent: usize, command: Command| {
        let nonce = agents.take_nonces(agent, 1);
        sign(agents, agent, nonce, vec![command])
    };
    let create_stream = setup(
        &mut agents,
        0,
        Command::CreateStream(CreateStream {
            name: name("bench"),
            subjects: [Pattern::new("bench.>").expect("a valid pattern")].into(),
            max_messages: Some(messages.min(limits::STREAM_MESSAGES_MAX)),
            max_bytes: Some(limits::STREAM_BYTES_MAX),
            max_age_ms: None,
            discard: Discard::New,
            duplicate_window_ms: 0,
        }),
    );
    let create_consumer = setup(
        &mut agents,
        1,
        Command::CreateConsumer(CreateConsumer {
            stream: name("bench"),
            name: name("workers"),
            filter: None,
            deliver: DeliverPolicy::All,
            ack_wait_ms: limits::ACK_WAIT_MS_MAX,
            max_deliver: limits::MAX_DELIVER_DEFAULT,
            backoff_ms: Vec::new(),
            max_ack_pending: limits::MAX_ACK_PENDING_MAX,
            agents: Default::default(),
            roles: [name("scout")].into(),
        }),
    );
    for submission in [create_stream, create_consumer] {
        let committed = load.block_on(driver.submit(submission)).map_err(|error| format!("setup: {error:?}"))?;
        if let Some(failure) = outcome_failure(&committed.outcome) {
            return Err(format!("setup: {failure}"));
        }
    }

    // Publish: presigned envelopes, LANES in flight.
    let envelopes = messages.div_ceil(PUBLISH_BATCH as u64) as usize;
    let first_nonce = agents.take_nonces(0, envelopes as u64);
    let mut remaining = messages;
    let mut presigned = Vec::with_capacity(envelopes);
    for index in 0..envelopes {
        let count = remaining.min(PUBLISH_BATCH as u64);
        remaining -= count;
        let commands = (0..count)
            .map(|number| {
                Command::Publish(Publish {
                    subject: Subject::new(format!("bench.durable.s{}", number % 8)).expect("a valid subject"),
                    message_id: None,
                    message_type: None,
                    priority: Priority::Normal,
                    correlation_id: None,
                    reply_to: None,
                    headers: Default::default(),
                    payload: Some(payload.clone()),
                    payload_base64: None,
                    payload_signature: None,
                    encrypted_to: None,
                })
            })
            .collect();
        presigned.push(sign(&agents, 0, first_nonce + index as u64, commands));
    }
    let publishing = load.block_on(async {
        let started = Instant::now();
        let mut lanes: Vec<Vec<Submission>> = (0..LANES).map(|_| Vec::new()).collect();
        for (index, submission) in presigned.into_iter().enumerate() {
            lanes[index % LANES].push(submission);
        }
        let tasks: Vec<_> = lanes
            .into_iter()
            .map(|lane| {
                let submitter = submitter.clone();
                tokio::spawn(async move {
                    let mut stored = 0u64;
                    for submission in lane {
                        for answer in submitter.submit(submission).await? {
                            match answer {
                                Answer::Stored => stored += 1,
                                Answer::Unexpected(what) => return Err(format!("a publish was not stored: {what}")),
                                Answer::Fetched(_) | Answer::Done => return Err("a publish was not stored".to_owned()),
                            }
                        }
                    }
                    Ok::<u64, String>(stored)
                })
            })
            .collect();
        let mut stored = 0;
        for task in tasks {
            stored += tokio::time::timeout(PHASE_LIMIT, task)
                .await
                .map_err(|_| "publishing stalled".to_owned())?
                .map_err(|error| format!("publish task: {error}"))??;
        }
        Ok::<(u64, Duration), String>((stored, started.elapsed()))
    })?;
    let (stored, publish_elapsed) = publishing;
    if stored != messages {
        return Err(format!("{stored} of {messages} publishes were stored"));
    }

    // Consume: LANES workers share the consumer; each envelope acks the previous fetch and fetches more.
    let worker_nonces: Vec<u64> = (1..=LANES).map(|agent| agents.take_nonces(agent, 1_000_000)).collect();
    let agents = std::sync::Arc::new(agents);
    let consuming = load.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (1..=LANES)
            .map(|agent| {
                let submitter = submitter.clone();
                let agents = std::sync::Arc::clone(&agents);
                let mut nonce = worker_nonces[agent - 1];
                tokio::spawn(async move {
                    let mut held: Vec<u64> = Vec::new();
                    let mut acked = 0u64;
                    loop {
                        let mut commands: Vec<Command> = held
                            .chunks(limits::ACK_SEQUENCES_MAX)
                            .map(|chunk| {
                                Command::Ack(Ack {
                                    stream: name("bench"),
                                    consumer: name("workers"),
                                    sequences: chunk.to_vec(),
                                    kind: AckKind::Ack,
                                })
                            })
                            .collect();
                        let acks = commands.len();
                        commands.extend((0..FETCHES_PER_ENVELOPE).map(|_| {
                            Command::Fetch(Fetch {
                                stream: name("bench"),
                                consumer: name("workers"),
                                batch: limits::FETCH_BATCH_MAX,
                                max_bytes: None,
                            })
                        }));
                        let submission = sign(&agents, agent, nonce, commands);
                        nonce += 1;
                        let answers = submitter.submit(submission).await?;
                        if let Some(Answer::Unexpected(what)) =
                            answers.iter().find(|answer| matches!(answer, Answer::Unexpected(_)))
                        {
                            return Err(format!("consume envelope: {what}"));
                        }
                        acked += held.len() as u64;
                        held.clear();
                        for answer in answers.into_iter().skip(acks) {
                            if let Answer::Fetched(sequences) = answer {
                                held.extend(sequences);
                            }
                        }
                        if held.is_empty() {
                            return Ok::<u64, String>(acked);
                        }
                    }
                })
            })
            .collect();
        let mut acked = 0;
        for task in tasks {
            acked += tokio::time::timeout(PHASE_LIMIT, task)
                .await
                .map_err(|_| "consuming stalled".to_owned())?
                .map_err(|error| format!("consume task: {error}"))??;
        }
        Ok::<(u64, Duration), String>((acked, started.elapsed()))
    })?;
    let (acked, consume_elapsed) = consuming;
    {
        let state = driver.shared.state.read().expect("state lock");
        let info = state.consumer_info(&name("bench"), &name("workers")).ok_or("the consumer is gone")?;
        let stream = state.stream_info(&name("bench")).ok_or("the stream is gone")?;
        if acked != messages || info.ack_floor != stream.last_sequence || info.pending != 0 || info.redelivered != 0 {
            return Err(format!(
                "after consuming: {acked} of {messages} acked, ack floor {} of {}, {} pending, {} redelivered",
                info.ack_floor, stream.last_sequence, info.pending, info.redelivered
            ));
        }
    }
    server.stop();
    Ok(Outcome {
        publishes_per_s: messages as f64 / publish_elapsed.as_secs_f64(),
        consumes_per_s: messages as f64 / consume_elapsed.as_secs_f64(),
        summary: format!(
            "{durability:?} durability, through {}: {messages} messages of {} bytes published in envelopes of {PUBLISH_BATCH} \
             ({LANES} in flight, presigned) in {:.2} s, then fetched and acked by {LANES} workers sharing one \
             consumer ({FETCHES_PER_ENVELOPE} × {} per envelope, acks in the next) in {:.2} s; checked: every \
             publish stored, ack floor at the last sequence, nothing pending or redelivered",
            match route {
                Route::Driver => "the writer (no HTTP)",
                Route::Http => "POST /v1/batch",
            },
            super::PAYLOAD_BYTES,
            publish_elapsed.as_secs_f64(),
            limits::FETCH_BATCH_MAX,
            consume_elapsed.as_secs_f64()
        ),
    })
}

/// Signs an envelope of `commands` from agent `agent`.
fn sign(agents: &Agents, agent: usize, nonce: u64, commands: Vec<Command>) -> Submission {
    let envelope = Envelope { signer: Signer::Agent(agents.id(agent).clone()), nonce, commands };
    let signed = envelope.sign(agents.key(agent));
    Submission { envelope, signed, verified_key: agents.key(agent).public_key() }
}
