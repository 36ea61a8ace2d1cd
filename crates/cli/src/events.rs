//! `colony events tail`: follow the event stream.

use crate::{CliResult, Connection};

/// `colony events …`.
#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// Print events as they happen.
    Tail {
        /// Start from this entry (inclusive) instead of new events only.
        #[arg(long)]
        from: Option<u64>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an events command.
pub async fn run(command: EventsCommand, connection: &Connection) -> CliResult {
    let EventsCommand::Tail { from, count, json } = command;
    let client = connection.client()?;
    let mut stream = client.events(from).await?;
    let mut printed = 0;
    while count.is_none_or(|count| printed < count) {
        let Some(event) = stream.next().await else { break };
        let event = event?;
        if json {
            println!("{}", serde_json::to_string(&event)?);
        } else {
            let detail = serde_json::to_value(&event.kind)?;
            let mut fields: Vec<String> = detail
                .as_object()
                .map(|object| {
                    object
                        .iter()
                        .filter(|(key, _)| key.as_str() != "type")
                        .map(|(key, value)| {
                            format!("{key}={}", value.as_str().map_or(value.to_string(), str::to_owned))
                        })
                        .collect()
                })
                .unwrap_or_default();
            fields.sort();
            println!("{:>8}.{:<3} {:<20} {}", event.sequence, event.index, event.kind.name(), fields.join(" "));
        }
        printed += 1;
    }
    Ok(())
}
