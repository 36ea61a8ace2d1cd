//! `colony pheromone …`: create and delete pheromone maps, deposit on them, and read their
//! strongest trails or one trail.
//!
//! Intensities are decimal strings (`7`, `0.01`); a decay model is written as in the command's JSON
//! (`'{"linear":{"lost_per_second":"0.1"}}'`), seed 000's when none is given.

use colony_core::command::CreateMap;
use colony_core::stigmergy::{Decay, Depositors, SEED_000_CAP, SEED_000_PRUNE};
use colony_core::{AgentId, Intensity, SignalKey};
use colony_wire::views::SubmitResponse;

use crate::output::{name, print_json, print_submitted, print_table, query_string};
use crate::{CliResult, Connection};

/// The pheromone commands.
#[derive(Debug, clap::Subcommand)]
pub enum PheromoneCommand {
    /// Create a shared map (seed 000's model unless `--decay` is given).
    Create {
        /// The map's name.
        map: String,
        /// The decay model as JSON: `'{"linear":{"lost_per_second":"0.1"}}'`,
        /// `'{"half_life":{"half_life_ms":4050000}}'`, …
        #[arg(long)]
        decay: Option<String>,
        /// The most a trail holds.
        #[arg(long)]
        cap: Option<String>,
        /// Trails at or below this are gone.
        #[arg(long)]
        prune_at_or_below: Option<String>,
        /// Only these agents deposit (repeat); every registered agent unless given.
        #[arg(long = "depositor")]
        depositors: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reinforce a trail: it becomes `min(cap, current + strength)`.
    Deposit {
        /// The map.
        map: String,
        /// The trail's key (`BTC:long:momentum`); named apart from the global `--key`, the key file.
        #[arg(value_name = "KEY")]
        trail: String,
        /// What is added.
        strength: String,
        /// Deposit only if this trail is absent (repeat): refused `signal_present` otherwise.
        #[arg(long = "unless")]
        unless_present: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Claim a task by seed 003's signals: deposit `<task>:claimed` unless `<task>:claimed` or
    /// `<task>:completed` is present, so one agent wins a race; reinforce it to keep the claim.
    Claim {
        /// The map.
        map: String,
        /// The task's id (its signals' keys without `:<type>`).
        task: String,
        /// What the claim deposits.
        #[arg(long, default_value = "1")]
        strength: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Tasks by seed 003's signals (`<task>:available`, `:claimed`, `:completed`, `:failed`), with
    /// where each stands now.
    Tasks {
        /// The map.
        map: String,
        /// Only tasks in this state: available, claimed, completed or failed.
        #[arg(long)]
        state: Option<String>,
        /// Start after this task (the previous page's `next_after`).
        #[arg(long)]
        after: Option<String>,
        /// Tasks per page.
        #[arg(long)]
        limit: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The strongest trails now, strongest first.
    Top {
        /// The map.
        map: String,
        /// How many.
        #[arg(short = 'n', long, default_value_t = 5)]
        n: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One trail's intensity now.
    Sense {
        /// The map.
        map: String,
        /// The trail's key.
        #[arg(value_name = "KEY")]
        trail: String,
        /// The least intensity counted as sensed.
        #[arg(long, default_value = "0")]
        min: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Maps by name.
    List {
        /// Start after this map (the previous page's `next_after`).
        #[arg(long)]
        after: Option<String>,
        /// Maps per page.
        #[arg(long)]
        limit: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change who may deposit on a map (its creator or the operator): the agents given, or every
    /// registered agent when none is.
    Configure {
        /// The map.
        map: String,
        /// Only these agents deposit from now on (repeat); every registered agent unless given.
        #[arg(long = "depositor")]
        depositors: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a map with its trails (its creator or the operator).
    Delete {
        /// The map.
        map: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn report(response: &SubmitResponse, json: bool) {
    let intensity = response.results.first().and_then(|result| result.intensity);
    print_submitted(response, json, intensity.map(|intensity| format!("intensity {intensity}")));
}

fn signal_key(text: &str) -> Result<SignalKey, String> {
    SignalKey::new(text).map_err(|error| format!("key '{text}': {error}"))
}

fn intensity(text: &str, flag: &str) -> Result<Intensity, String> {
    Intensity::parse(text).map_err(|error| format!("{flag}: {error}"))
}

/// `--depositor` flags as a map's depositors: none given means every registered agent.
fn depositors_of(depositors: &[String]) -> Result<Depositors, String> {
    if depositors.is_empty() {
        return Ok(Depositors::Registered);
    }
    let agent = |text: &String| AgentId::new(text).map_err(|error| format!("--depositor '{text}': {error}"));
    Ok(Depositors::Agents(depositors.iter().map(agent).collect::<Result<_, _>>()?))
}

fn create_command(
    map: &str,
    decay: Option<&str>,
    cap: Option<&str>,
    prune_at_or_below: Option<&str>,
    depositors: &[String],
) -> Result<CreateMap, String> {
    let decay = match decay {
        Some(text) => serde_json::from_str::<Decay>(text).map_err(|error| format!("--decay '{text}': {error}"))?,
        None => Decay::SEED_000,
    };
    let depositors = depositors_of(depositors)?;
    Ok(CreateMap {
        map: name(map, "map")?,
        decay,
        cap: cap.map(|text| intensity(text, "--cap")).transpose()?.unwrap_or(SEED_000_CAP),
        prune_at_or_below: prune_at_or_below
            .map(|text| intensity(text, "--prune-at-or-below"))
            .transpose()?
            .unwrap_or(SEED_000_PRUNE),
        depositors,
    })
}

/// Runs a pheromone command.
pub async fn run(command: PheromoneCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        PheromoneCommand::Create { map, decay, cap, prune_at_or_below, depositors, json } => {
            let create =
                create_command(&map, decay.as_deref(), cap.as_deref(), prune_at_or_below.as_deref(), &depositors)?;
            report(&client.create_pheromone_map(create).await?, json);
        }
        PheromoneCommand::Deposit { map, trail, strength, unless_present, json } => {
            let deposit = colony_core::command::Deposit {
                map: name(&map, "map")?,
                key: signal_key(&trail)?,
                strength: intensity(&strength, "strength")?,
                unless_present: unless_present.iter().map(|key| signal_key(key)).collect::<Result<_, _>>()?,
            };
            report(&client.submit_one(colony_core::Command::Deposit(deposit)).await?, json);
        }
        PheromoneCommand::Claim { map, task, strength, json } => {
            let key = |suffix: &str| signal_key(&format!("{task}:{suffix}"));
            let deposit = colony_core::command::Deposit {
                map: name(&map, "map")?,
                key: key("claimed")?,
                strength: intensity(&strength, "--strength")?,
                unless_present: vec![key("claimed")?, key("completed")?],
            };
            report(&client.submit_one(colony_core::Command::Deposit(deposit)).await?, json);
        }
        PheromoneCommand::Tasks { map, state, after, limit, json } => {
            let query =
                query_string(&[("state", state), ("after", after), ("limit", limit.map(|limit| limit.to_string()))]);
            let page = client.task_signals(&name(&map, "map")?, &query).await?;
            if json {
                print_json(&page);
                return Ok(());
            }
            println!("map {} at {} ms (log time)", page.map, page.as_of_ms);
            let rows: Vec<Vec<String>> = page
                .tasks
                .iter()
                .map(|task| {
                    let state =
                        serde_json::to_value(task.state).ok().and_then(|value| value.as_str().map(str::to_owned));
                    vec![
                        task.task.clone(),
                        state.unwrap_or_default(),
                        task.signals.available.to_string(),
                        task.signals.claimed.to_string(),
                        task.signals.completed.to_string(),
                        task.signals.failed.to_string(),
                    ]
                })
                .collect();
            print_table(&["TASK", "STATE", "AVAILABLE", "CLAIMED", "COMPLETED", "FAILED"], &rows);
            if let Some(next) = page.next_after {
                println!("  more: --after {next}");
            }
        }
        PheromoneCommand::Top { map, n, json } => {
            let top = client.top_trails(&name(&map, "map")?, n).await?;
            if json {
                print_json(&top);
                return Ok(());
            }
            println!("map {} at {} ms (log time)", top.map, top.as_of_ms);
            let rows: Vec<Vec<String>> =
                top.trails.iter().map(|trail| vec![trail.key.to_string(), trail.intensity.to_string()]).collect();
            print_table(&["KEY", "INTENSITY"], &rows);
        }
        PheromoneCommand::Sense { map, trail, min, json } => {
            let signal =
                client.sense_trail(&name(&map, "map")?, &signal_key(&trail)?, intensity(&min, "--min")?).await?;
            if json {
                print_json(&signal);
                return Ok(());
            }
            let sensed = if signal.sensed { "sensed" } else { "not sensed" };
            println!(
                "{} on {}: {} at {} ms (log time), {sensed}",
                signal.key, signal.map, signal.intensity, signal.as_of_ms
            );
        }
        PheromoneCommand::List { after, limit, json } => {
            let query = query_string(&[("after", after), ("limit", limit.map(|limit| limit.to_string()))]);
            let page = client.pheromone_maps(&query).await?;
            if json {
                print_json(&page);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .maps
                .iter()
                .map(|map| {
                    let decay = serde_json::to_string(&map.decay).expect("a decay model encodes");
                    vec![
                        map.name.to_string(),
                        map.creator.to_string(),
                        decay,
                        map.keys.to_string(),
                        map.deposits.to_string(),
                    ]
                })
                .collect();
            print_table(&["MAP", "CREATOR", "DECAY", "TRAILS", "DEPOSITS"], &rows);
            if let Some(next) = page.next_after {
                println!("  more: --after {next}");
            }
        }
        PheromoneCommand::Configure { map, depositors, json } => {
            report(&client.configure_pheromone_map(name(&map, "map")?, depositors_of(&depositors)?).await?, json)
        }
        PheromoneCommand::Delete { map, json } => report(&client.delete_pheromone_map(name(&map, "map")?).await?, json),
    }
    Ok(())
}
