//! `colony stream …`, `colony consumer …` and `colony dlq …`: durable streams by hand.

use colony_client::streams::{consumer_config, stream_config};
use colony_core::bus::{AckKind, DeliverPolicy, Discard, Pattern};
use colony_wire::bus::BusMessage;

use crate::output::{print_json, print_table};
use crate::{CliResult, Connection};

/// `colony stream …`.
#[derive(Debug, clap::Subcommand)]
pub enum StreamCommand {
    /// Create a stream that stores every message published durably to its subjects.
    Create {
        /// The stream's name.
        name: String,
        /// A subject pattern it captures (repeatable): `market.signal.>`.
        #[arg(long = "subject", required = true)]
        subjects: Vec<String>,
        /// Keep at most this many messages.
        #[arg(long)]
        max_messages: Option<u64>,
        /// Keep at most this many bytes.
        #[arg(long)]
        max_bytes: Option<u64>,
        /// Remove messages older than this (log time).
        #[arg(long)]
        max_age_ms: Option<u64>,
        /// When full: drop the oldest (`old`) or refuse new messages (`new`, backpressure).
        #[arg(long, default_value = "old", value_parser = parse_discard)]
        discard: Discard,
        /// How long a message id is remembered for deduplication.
        #[arg(long, default_value_t = colony_core::limits::DUPLICATE_WINDOW_MS_DEFAULT)]
        duplicate_window_ms: u64,
    },
    /// List the streams.
    Ls {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one stream.
    Info {
        /// The stream.
        name: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print stored messages (changes no consumer).
    Messages {
        /// The stream.
        name: String,
        /// From this sequence.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON message per line.
        #[arg(long)]
        json: bool,
    },
    /// Delete a stream with its messages, consumers and dead letters.
    Rm {
        /// The stream.
        name: String,
    },
}

/// `colony consumer …`.
#[derive(Debug, clap::Subcommand)]
pub enum ConsumerCommand {
    /// Create a pull consumer; agents fetching from it share its messages.
    Create {
        /// The stream.
        stream: String,
        /// The consumer's name.
        name: String,
        /// Only messages whose subject matches.
        #[arg(long)]
        filter: Option<String>,
        /// Where to start: `all`, `new`, `sequence:N` or `time:UNIX_MS`.
        #[arg(long, default_value = "all", value_parser = parse_deliver)]
        deliver: DeliverPolicy,
        /// How long a delivery is held before it is redelivered unless acked.
        #[arg(long, default_value_t = colony_core::limits::ACK_WAIT_MS_DEFAULT)]
        ack_wait_ms: u64,
        /// Deliveries of one message at most, then it becomes a dead letter.
        #[arg(long, default_value_t = colony_core::limits::MAX_DELIVER_DEFAULT)]
        max_deliver: u32,
        /// Ack waits of successive deliveries instead of --ack-wait-ms (`1000,5000,30000`).
        #[arg(long, value_delimiter = ',')]
        backoff_ms: Vec<u64>,
        /// Deliveries outstanding at most (flow control).
        #[arg(long, default_value_t = colony_core::limits::MAX_ACK_PENDING_DEFAULT)]
        max_ack_pending: u32,
        /// An agent that may fetch from it besides you and the stream's owner (repeatable).
        #[arg(long = "agent")]
        agents: Vec<String>,
        /// A role whose agents may fetch from it (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Show a consumer's position and counts.
    Info {
        /// The stream.
        stream: String,
        /// The consumer.
        name: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pull messages (redeliveries first) and print them; they are held by you until acked.
    Next {
        /// The stream.
        stream: String,
        /// The consumer.
        name: String,
        /// At most this many.
        #[arg(long, default_value_t = 1)]
        batch: u32,
        /// Ack what was printed.
        #[arg(long)]
        ack: bool,
        /// When nothing is due, wait up to this long for a message (at most 30,000).
        #[arg(long, default_value_t = 0)]
        wait_ms: u64,
        /// At most this many bytes of messages (at least one message is printed when any is due).
        #[arg(long)]
        max_bytes: Option<u64>,
        /// One JSON message per line.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge deliveries by stream sequence (ack unless told otherwise).
    Ack {
        /// The stream.
        stream: String,
        /// The consumer.
        name: String,
        /// The stream sequences.
        #[arg(required = true)]
        sequences: Vec<u64>,
        /// Not done: deliver again (after --delay-ms).
        #[arg(long, conflicts_with_all = ["in_progress", "term"])]
        nak: bool,
        /// With --nak: wait this long before redelivering.
        #[arg(long, default_value_t = 0, requires = "nak")]
        delay_ms: u64,
        /// With --nak: what went wrong (kept as the last error).
        #[arg(long, requires = "nak")]
        error: Option<String>,
        /// Still working: restart the ack wait.
        #[arg(long, conflicts_with = "term")]
        in_progress: bool,
        /// Never deliver again: dead-letter now.
        #[arg(long)]
        term: bool,
        /// With --term: why.
        #[arg(long, requires = "term")]
        reason: Option<String>,
    },
    /// Delete a consumer.
    Rm {
        /// The stream.
        stream: String,
        /// The consumer.
        name: String,
    },
}

/// `colony dlq …`.
#[derive(Debug, clap::Subcommand)]
pub enum DeadLetterCommand {
    /// List a stream's dead letters, with delivery counts and last errors.
    Ls {
        /// The stream.
        stream: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Publish dead letters again into their original subjects.
    Replay {
        /// The stream.
        stream: String,
        /// Dead-letter ids (as `colony dlq ls` shows them).
        #[arg(required = true)]
        ids: Vec<u64>,
    },
    /// Remove dead letters.
    Discard {
        /// The stream.
        stream: String,
        /// Dead-letter ids.
        #[arg(required = true)]
        ids: Vec<u64>,
    },
}

fn parse_discard(text: &str) -> Result<Discard, String> {
    match text {
        "old" => Ok(Discard::Old),
        "new" => Ok(Discard::New),
        _ => Err(format!("'{text}' is not a discard policy: use old or new")),
    }
}

fn parse_deliver(text: &str) -> Result<DeliverPolicy, String> {
    let number = |value: &str| value.parse::<u64>().map_err(|_| format!("'{value}' is not a number"));
    match text.split_once(':') {
        None if text == "all" => Ok(DeliverPolicy::All),
        None if text == "new" => Ok(DeliverPolicy::New),
        Some(("sequence", value)) => Ok(DeliverPolicy::FromSequence(number(value)?)),
        Some(("time", value)) => Ok(DeliverPolicy::FromTimeMs(number(value)?)),
        _ => Err(format!("'{text}' is not a deliver policy: use all, new, sequence:N or time:UNIX_MS")),
    }
}

fn status_line(response: &colony_wire::views::SubmitResponse) -> String {
    let result = &response.results[0];
    format!("{} (entry {})", result.status.as_deref().unwrap_or("done"), response.sequence)
}

/// Runs `colony stream …`.
pub async fn stream(command: StreamCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        StreamCommand::Create { name, subjects, max_messages, max_bytes, max_age_ms, discard, duplicate_window_ms } => {
            let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
            let mut config = stream_config(&subjects)?;
            config.max_messages = max_messages;
            config.max_bytes = max_bytes;
            config.max_age_ms = max_age_ms;
            config.discard = discard;
            config.duplicate_window_ms = duplicate_window_ms;
            let response = client.create_stream(&name, config).await?;
            println!("stream {name}: {}", status_line(&response));
        }
        StreamCommand::Ls { json } => {
            let streams = client.streams().await?;
            if json {
                print_json(&streams);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = streams
                .iter()
                .map(|stream| {
                    vec![
                        stream.name.to_string(),
                        stream.config.subjects.iter().map(Pattern::as_str).collect::<Vec<_>>().join(" "),
                        stream.messages.to_string(),
                        stream.bytes.to_string(),
                        stream.last_sequence.to_string(),
                        stream.consumers.len().to_string(),
                        stream.dead_letters.to_string(),
                        stream.owner.to_string(),
                    ]
                })
                .collect();
            print_table(&["NAME", "SUBJECTS", "MESSAGES", "BYTES", "LAST", "CONSUMERS", "DEAD", "OWNER"], &rows);
        }
        StreamCommand::Info { name, json } => {
            let info = client.stream_info(&name).await?;
            if json {
                print_json(&info);
                return Ok(());
            }
            println!("stream {} (owner {})", info.name, info.owner);
            println!(
                "  subjects      {}",
                info.config.subjects.iter().map(Pattern::as_str).collect::<Vec<_>>().join(" ")
            );
            let limit = |value: Option<u64>| value.map_or("none".to_owned(), |value| value.to_string());
            println!(
                "  limits        messages {}, bytes {}, age {} ms, discard {}",
                limit(info.config.max_messages),
                limit(info.config.max_bytes),
                limit(info.config.max_age_ms),
                if info.config.discard == Discard::New { "new" } else { "old" }
            );
            println!(
                "  messages      {} ({} bytes), sequences {}..{}",
                info.messages,
                info.bytes,
                info.first_sequence.map_or("-".to_owned(), |first| first.to_string()),
                info.last_sequence
            );
            println!("  discarded     {}", info.discarded);
            println!("  dead letters  {} ({} dropped)", info.dead_letters, info.dead_letters_dropped);
            println!(
                "  consumers     {}",
                info.consumers.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
            );
        }
        StreamCommand::Messages { name, from, limit, json } => {
            let page = client.stream_messages(&name, from, limit).await?;
            for message in &page.messages {
                print_message(message, json)?;
            }
        }
        StreamCommand::Rm { name } => {
            let response = client.delete_stream(&name).await?;
            println!("stream {name} deleted: {}", status_line(&response));
        }
    }
    Ok(())
}

/// Runs `colony consumer …`.
pub async fn consumer(command: ConsumerCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        ConsumerCommand::Create {
            stream,
            name,
            filter,
            deliver,
            ack_wait_ms,
            max_deliver,
            backoff_ms,
            max_ack_pending,
            agents,
            roles,
        } => {
            let mut config = consumer_config();
            for agent in agents {
                config
                    .agents
                    .insert(colony_core::AgentId::new(&agent).map_err(|error| format!("--agent {agent}: {error}"))?);
            }
            for role in roles {
                config.roles.insert(colony_core::Name::new(&role).map_err(|error| format!("--role {role}: {error}"))?);
            }
            config.filter = filter.map(Pattern::new).transpose().map_err(|error| format!("--filter: {error}"))?;
            config.deliver = deliver;
            config.ack_wait_ms = ack_wait_ms;
            config.max_deliver = max_deliver;
            config.backoff_ms = backoff_ms;
            config.max_ack_pending = max_ack_pending;
            let response = client.create_consumer(&stream, &name, config).await?;
            println!("consumer {stream}/{name}: {}", status_line(&response));
        }
        ConsumerCommand::Info { stream, name, json } => {
            let info = client.consumer_info(&stream, &name).await?;
            if json {
                print_json(&info);
                return Ok(());
            }
            println!("consumer {}/{} (created by {})", info.stream, info.name, info.creator);
            println!(
                "  ack wait {} ms, max deliver {}, max ack pending {}",
                info.config.ack_wait_ms, info.config.max_deliver, info.config.max_ack_pending
            );
            println!("  cursor {}, ack floor {}", info.cursor, info.ack_floor);
            println!("  pending {} ({} waiting for redelivery)", info.pending, info.waiting);
            for (holder, count) in &info.pending_by_holder {
                println!("    held by {holder}: {count}");
            }
            println!(
                "  delivered {}, redelivered {}, acked {}, dead-lettered {}",
                info.delivered, info.redelivered, info.acked, info.dead_lettered
            );
        }
        ConsumerCommand::Next { stream, name, batch, ack, wait_ms, max_bytes, json } => {
            if wait_ms > 0 && max_bytes.is_some() {
                return Err("--max-bytes does not go with --wait-ms".into());
            }
            let messages = if wait_ms > 0 {
                client.fetch_wait(&stream, &name, batch, wait_ms).await?
            } else {
                client.fetch_bytes(&stream, &name, batch, max_bytes).await?
            };
            for message in &messages {
                print_message(message, json)?;
            }
            if messages.is_empty() && !json {
                eprintln!("no message is due");
            }
            if ack && !messages.is_empty() {
                let sequences: Vec<u64> = messages.iter().filter_map(|message| message.stream_sequence).collect();
                client.ack(&stream, &name, &sequences, AckKind::Ack).await?;
            }
        }
        ConsumerCommand::Ack { stream, name, sequences, nak, delay_ms, error, in_progress, term, reason } => {
            let kind = if nak {
                AckKind::Nak { delay_ms, error }
            } else if in_progress {
                AckKind::InProgress
            } else if term {
                AckKind::Term { reason }
            } else {
                AckKind::Ack
            };
            let response = client.ack(&stream, &name, &sequences, kind).await?;
            println!("{} sequence(s): {}", sequences.len(), status_line(&response));
        }
        ConsumerCommand::Rm { stream, name } => {
            let response = client.delete_consumer(&stream, &name).await?;
            println!("consumer {stream}/{name} deleted: {}", status_line(&response));
        }
    }
    Ok(())
}

/// Runs `colony dlq …`.
pub async fn dead_letters(command: DeadLetterCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        DeadLetterCommand::Ls { stream, json } => {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = client.dead_letters(&stream, after, 1_000).await?;
                all.extend(page.dead_letters);
                match page.next_after {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            if json {
                print_json(&all);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|dead| {
                    vec![
                        dead.id.to_string(),
                        dead.message.stream_sequence.map_or(String::new(), |sequence| sequence.to_string()),
                        dead.message.subject.clone(),
                        dead.consumer.clone(),
                        dead.delivery_count.to_string(),
                        dead.reason.clone(),
                        dead.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(&["ID", "SEQUENCE", "SUBJECT", "CONSUMER", "DELIVERIES", "REASON", "LAST ERROR"], &rows);
        }
        DeadLetterCommand::Replay { stream, ids } => {
            let replayed = client.replay_dead_letters(&stream, &ids).await?;
            for (id, (target, sequence)) in ids.iter().zip(replayed) {
                println!("dead letter {id} replayed as {target}:{sequence}");
            }
        }
        DeadLetterCommand::Discard { stream, ids } => {
            let response = client.discard_dead_letters(&stream, &ids).await?;
            println!("{} dead letter(s) discarded: {}", ids.len(), status_line(&response));
        }
    }
    Ok(())
}

fn print_message(message: &BusMessage, json: bool) -> CliResult {
    if json {
        println!("{}", serde_json::to_string(message)?);
        return Ok(());
    }
    let payload = match (&message.payload, &message.payload_base64) {
        (Some(payload), _) => payload.get().to_owned(),
        (None, Some(encoded)) => format!("base64:{encoded}"),
        (None, None) => String::new(),
    };
    let delivery = message.delivery_count.map_or(String::new(), |count| format!(" delivery {count}"));
    println!(
        "{:>6} {:<28} {:<14} {}{}",
        message.stream_sequence.unwrap_or_default(),
        message.subject,
        message.source,
        payload,
        delivery
    );
    Ok(())
}
