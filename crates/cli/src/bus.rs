//! `colony pub`, `colony sub`, `colony request` and `colony bus stats`: the ephemeral bus by hand.

use colony_client::bus::BusItem;
use colony_wire::bus::{BusMessage, EphemeralPublish, Priority};

use crate::output::{print_json, print_table};
use crate::{CliResult, Connection};

/// What a message carries, shared by `pub` and `request`.
#[derive(Debug, clap::Args)]
pub struct MessageArgs {
    /// The subject (`market.price.aapl`; no wildcards).
    pub subject: String,
    /// The payload: JSON (`'{"close": 187.2}'`); text that is not JSON is sent as a JSON string.
    #[arg(default_value = "null")]
    pub payload: String,
    /// The message type (`market_signal`).
    #[arg(long = "type")]
    pub message_type: Option<String>,
    /// low, normal, high or critical.
    #[arg(long, default_value = "normal", value_parser = parse_priority)]
    pub priority: Priority,
    /// Ties the message to another (a request it answers, a task).
    #[arg(long)]
    pub correlation_id: Option<String>,
    /// Where answers should go (for `pub`; `request` sets its own).
    #[arg(long)]
    pub reply_to: Option<String>,
    /// A header, `name=value` (repeatable).
    #[arg(long = "header", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Sign the payload with the sender's key, so receivers can verify it end to end.
    #[arg(long)]
    pub sign_payload: bool,
    /// Seal the payload to this agent: only it can read it (`colony sub --open`); the server routes
    /// it unread.
    #[arg(long, value_name = "AGENT")]
    pub seal_to: Option<String>,
}

/// `colony pub`.
#[derive(Debug, clap::Args)]
pub struct PubArgs {
    #[command(flatten)]
    message: MessageArgs,
    /// Store it durably in the stream that captures the subject (a signed command in the log).
    #[arg(long)]
    durable: bool,
    /// With --durable: the message id; the same id again within the stream's window is stored once.
    #[arg(long, requires = "durable")]
    id: Option<String>,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

/// `colony sub`.
#[derive(Debug, clap::Args)]
pub struct SubArgs {
    /// The subject pattern: `*` matches one token, `>` the rest (`market.>`).
    pub pattern: String,
    /// Join this queue group: each message goes to one member.
    #[arg(long)]
    queue: Option<String>,
    /// The server-side buffer (messages); beyond it the oldest are dropped and reported.
    #[arg(long)]
    buffer: Option<usize>,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// Print one JSON message per line.
    #[arg(long)]
    json: bool,
    /// Open payloads sealed to this identity (`--key`) and print them as text.
    #[arg(long)]
    open: bool,
}

/// `colony request`.
#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    #[command(flatten)]
    message: MessageArgs,
    /// How long to wait for the reply.
    #[arg(long, default_value_t = 5_000)]
    timeout_ms: u64,
    /// Print the reply as JSON.
    #[arg(long)]
    json: bool,
}

/// `colony bus …`.
#[derive(Debug, clap::Subcommand)]
pub enum BusCommand {
    /// Counters and open subscriptions (buffers, deliveries, drops).
    Stats {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_priority(text: &str) -> Result<Priority, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("'{text}' is not a priority: use low, normal, high or critical"))
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("'{text}' is not name=value"))
}

impl MessageArgs {
    async fn request(
        &self,
        connection: &Connection,
        durable: bool,
    ) -> Result<EphemeralPublish, Box<dyn std::error::Error + Send + Sync>> {
        if let Some(recipient) = &self.seal_to {
            let recipient =
                colony_core::AgentId::new(recipient.clone()).map_err(|error| format!("--seal-to: {error}"))?;
            let key = connection.client()?.agent(&recipient).await?.public_key;
            let mut request =
                EphemeralPublish::sealed(self.subject.clone(), &recipient, &key, self.payload.as_bytes())?;
            request.message_type = self.message_type.clone();
            request.priority = self.priority;
            request.correlation_id = self.correlation_id.clone();
            request.reply_to = self.reply_to.clone();
            request.headers = self.headers.iter().cloned().collect();
            return Ok(request);
        }
        // Valid JSON is sent exactly as typed (a payload signature covers those bytes); anything else
        // becomes a JSON string.
        let mut request = match serde_json::value::RawValue::from_string(self.payload.clone()) {
            Ok(raw) => {
                EphemeralPublish { subject: self.subject.clone(), payload: Some(raw), ..EphemeralPublish::default() }
            }
            Err(_) => EphemeralPublish::json(self.subject.clone(), &self.payload),
        };
        request.message_type = self.message_type.clone();
        request.priority = self.priority;
        request.correlation_id = self.correlation_id.clone();
        request.reply_to = self.reply_to.clone();
        request.headers = self.headers.iter().cloned().collect();
        if durable {
            // Durable streams store JSON payloads in canonical form; sign that form.
            request = request.canonical();
        }
        if self.sign_payload {
            let client = connection.client()?;
            let identity = client.identity().ok_or("--sign-payload needs a key (--key)")?;
            let bytes = request.payload_bytes().unwrap_or_default();
            request.payload_signature = Some(hex::encode(identity.key().sign(&bytes)));
        }
        Ok(request)
    }
}

/// Runs `colony pub`.
pub async fn publish(args: PubArgs, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    let message = args.message.request(connection, args.durable).await?;
    if args.durable {
        let stored = client.publish_durable(&message, args.id.as_deref()).await?;
        if args.json {
            print_json(&serde_json::json!({
                "stream": stored.stream, "sequence": stored.sequence, "duplicate": stored.duplicate
            }));
        } else if stored.duplicate {
            println!("duplicate: already stored as {}:{}", stored.stream, stored.sequence);
        } else {
            println!("stored as {}:{}", stored.stream, stored.sequence);
        }
        return Ok(());
    }
    let published = client.publish(message).await?;
    if args.json {
        print_json(&published);
    } else {
        println!("published {} to {} subscriber(s)", published.id, published.delivered);
    }
    Ok(())
}

/// Runs `colony request`.
pub async fn request(args: RequestArgs, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    let reply = client.request(args.message.request(connection, false).await?, args.timeout_ms).await?;
    if args.json {
        print_json(&reply);
    } else {
        print_message(&reply);
    }
    Ok(())
}

/// Runs `colony sub`.
pub async fn subscribe(args: SubArgs, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    let mut subscription = client.subscribe_with_buffer(&args.pattern, args.queue.as_deref(), args.buffer).await?;
    let mut printed = 0;
    while args.count.is_none_or(|count| printed < count) {
        let Some(item) = subscription.next().await else { break };
        match item? {
            BusItem::Message(mut message) => {
                if args.open && message.encrypted_to.is_some() {
                    let identity = client.identity().ok_or("--open needs the recipient's key (--key)")?;
                    match message.open(identity.key()) {
                        Ok(plaintext) => {
                            let text = String::from_utf8_lossy(&plaintext).into_owned();
                            message.payload_base64 = None;
                            message.payload = serde_json::value::to_raw_value(&text).ok();
                        }
                        Err(error) => eprintln!("warning: message {} cannot be opened: {error}", message.id),
                    }
                }
                if args.json {
                    println!("{}", serde_json::to_string(&message)?);
                } else {
                    print_message(&message);
                }
                printed += 1;
            }
            BusItem::Dropped { count, total } => {
                eprintln!(
                    "warning: the server dropped {count} message(s) this subscriber did not read in time ({total} in all)"
                );
            }
        }
    }
    Ok(())
}

/// Runs `colony bus …`.
pub async fn run(command: BusCommand, connection: &Connection) -> CliResult {
    let BusCommand::Stats { json } = command;
    let stats = connection.client()?.bus_stats().await?;
    if json {
        print_json(&stats);
        return Ok(());
    }
    println!(
        "published {}  delivered {}  dropped {}  unmatched {}",
        stats.published, stats.delivered, stats.dropped, stats.unmatched
    );
    let rows: Vec<Vec<String>> = stats
        .subscriptions
        .iter()
        .map(|subscription| {
            vec![
                subscription.id.to_string(),
                subscription.owner.clone(),
                subscription.subject.clone(),
                subscription.queue.clone().unwrap_or_default(),
                subscription.transport.clone(),
                format!("{}/{}", subscription.pending, subscription.capacity),
                subscription.delivered.to_string(),
                subscription.dropped.to_string(),
            ]
        })
        .collect();
    print_table(&["ID", "OWNER", "SUBJECT", "QUEUE", "TRANSPORT", "BUFFER", "DELIVERED", "DROPPED"], &rows);
    Ok(())
}

fn print_message(message: &BusMessage) {
    let payload = match (&message.payload, &message.payload_base64) {
        (Some(payload), _) => payload.get().to_owned(),
        (None, Some(encoded)) => format!("base64:{encoded}"),
        (None, None) => String::new(),
    };
    let mut extras = Vec::new();
    if let Some(message_type) = &message.message_type {
        extras.push(format!("type={message_type}"));
    }
    if message.priority != Priority::Normal {
        extras.push(format!(
            "priority={}",
            serde_json::to_value(message.priority).unwrap_or_default().as_str().unwrap_or("")
        ));
    }
    if let Some(correlation_id) = &message.correlation_id {
        extras.push(format!("correlation_id={correlation_id}"));
    }
    if let Some(reply_to) = &message.reply_to {
        extras.push(format!("reply_to={reply_to}"));
    }
    if message.payload_signature.is_some() {
        extras.push("signed".to_owned());
    }
    println!("{:<28} {:<14} {} {}", message.subject, message.source, payload, extras.join(" "));
}
