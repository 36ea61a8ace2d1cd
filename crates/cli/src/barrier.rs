//! `colony barrier …`: make a barrier, arrive at it (and with `--wait` stay until it trips or
//! breaks), reset or remove it, and read who waits at which generation.

use std::time::Duration;

use colony_client::Client;
use colony_core::command::ArriveAtBarrier;
use colony_core::{AgentId, Command, Name};
use colony_wire::coordination::BarrierView;

use crate::output::{name, print_json, print_submitted, print_table, query_string};
use crate::{CliResult, Connection};

/// How often `arrive --wait` reads the barrier: a tenth of a second keeps a meeting of agents on one
/// machine within a few reads of the trip without loading the server.
const WAIT_POLL_INTERVAL_MS: u64 = 100;

/// The barrier commands.
#[derive(Debug, clap::Subcommand)]
pub enum BarrierCommand {
    /// Make a barrier that trips when `--parties` have arrived.
    Create {
        /// The barrier's name, shared by the swarm.
        barrier: String,
        /// Arrivals that trip it (2 or more).
        #[arg(long)]
        parties: u32,
        /// How long a generation waits after its first arrival before it breaks.
        #[arg(long)]
        timeout_ms: u64,
        /// An agent who may arrive (repeat it); anyone may when none is given.
        #[arg(long = "member")]
        members: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Arrive at a barrier through one of the signer's leases.
    Arrive {
        /// The barrier.
        barrier: String,
        /// The signer's lease: its end while waiting breaks the barrier.
        #[arg(long)]
        lease: String,
        /// Stay until the generation trips (exit 0) or breaks (exit 1).
        #[arg(long)]
        wait: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open the next generation, breaking the current one if parties wait (its creator or the operator).
    Reset {
        /// The barrier.
        barrier: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a barrier, breaking it if parties wait (its creator or the operator).
    Remove {
        /// The barrier.
        barrier: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One barrier: its generation and who waits at it.
    Show {
        /// The barrier.
        barrier: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Barriers by name.
    List {
        /// Start after this barrier (the previous page's `next_after`).
        #[arg(long)]
        after: Option<String>,
        /// Barriers per page.
        #[arg(long)]
        limit: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn broken_reason(view: &BarrierView) -> String {
    let reason = view.broken.map(|reason| serde_json::to_value(reason).expect("a reason serializes"));
    reason.and_then(|reason| reason.as_str().map(str::to_owned)).unwrap_or_default()
}

fn print_barrier(view: &BarrierView) {
    let state = if view.broken.is_some() { format!("broken ({})", broken_reason(view)) } else { "open".to_owned() };
    let members = view.members.as_ref().map_or_else(
        || "anyone".to_owned(),
        |members| members.iter().map(AgentId::to_string).collect::<Vec<_>>().join(","),
    );
    println!(
        "barrier {}: generation {}, {}/{} arrived, {state}; {} trips; made by {}; members: {members}",
        view.barrier,
        view.generation,
        view.arrivals.len(),
        view.parties,
        view.trips,
        view.creator,
    );
    let rows: Vec<Vec<String>> = view
        .arrivals
        .iter()
        .map(|arrival| vec![arrival.party.to_string(), arrival.lease.to_string(), arrival.arrived_at_ms.to_string()])
        .collect();
    print_table(&["PARTY", "LEASE", "ARRIVED_AT_MS"], &rows);
}

/// Reads the barrier until generation `joined`, which the signer arrived in at log time
/// `arrived_at_ms`, has tripped (`Ok`) or broken (an error saying why): generations only grow, and
/// `last_tripped_generation` tells a trip from a break and reset. A barrier removed and made again
/// under the same name starts over at generation 1, so the read also checks it is still the barrier
/// arrived at: one made after the arrival, or one still in the joined generation that no longer
/// counts the signer, replaced it.
async fn wait_for_release(client: &Client, barrier: &Name, joined: u64, arrived_at_ms: u64) -> CliResult {
    let signer = client.identity().map(|identity| identity.signer().clone());
    let removed = || format!("barrier '{barrier}' was removed before generation {joined} tripped");
    loop {
        let view = match client.barrier(barrier).await {
            Ok(view) => view,
            Err(error) if error.code() == Some("barrier_not_found") => return Err(removed().into()),
            Err(error) => return Err(error.into()),
        };
        let waiting_here = view.generation == joined && view.broken.is_none() && view.last_tripped_generation < joined;
        let counted = view.arrivals.iter().any(|arrival| Some(&arrival.party) == signer.as_ref());
        if view.created_at_ms > arrived_at_ms || (waiting_here && !counted) {
            return Err(removed().into());
        }
        if view.last_tripped_generation >= joined {
            return Ok(());
        }
        if view.generation > joined || view.broken.is_some() {
            let why = if view.generation == joined { broken_reason(&view) } else { "reset".to_owned() };
            return Err(format!("barrier '{barrier}' broke in generation {joined} ({why})").into());
        }
        tokio::time::sleep(Duration::from_millis(WAIT_POLL_INTERVAL_MS)).await;
    }
}

/// Runs a barrier command.
pub async fn run(command: BarrierCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        BarrierCommand::Create { barrier, parties, timeout_ms, members, json } => {
            let members = members
                .iter()
                .map(|text| AgentId::new(text).map_err(|error| format!("--member '{text}': {error}")))
                .collect::<Result<Vec<_>, _>>()?;
            let members = if members.is_empty() { None } else { Some(members) };
            let response = client.create_barrier(name(&barrier, "barrier")?, parties, timeout_ms, members).await?;
            print_submitted(&response, json, Some(format!("barrier {barrier}: trips at {parties} arrivals")));
        }
        BarrierCommand::Arrive { barrier, lease, wait, json } => {
            let (barrier, lease) = (name(&barrier, "barrier")?, name(&lease, "lease")?);
            if json && !wait {
                let arrive = ArriveAtBarrier { barrier, lease };
                print_json(&client.submit_one(Command::ArriveAtBarrier(arrive)).await?);
                return Ok(());
            }
            let arrive = ArriveAtBarrier { barrier: barrier.clone(), lease };
            let response = client.submit_one(Command::ArriveAtBarrier(arrive)).await?;
            let arrival = response.results.first().and_then(|result| result.barrier_arrival);
            let arrival = arrival.ok_or("the arrival's result carries no generation")?;
            if !json {
                println!(
                    "arrived: generation {}, {} arrived{}",
                    arrival.generation,
                    arrival.arrived,
                    if arrival.tripped { ", tripped" } else { "" }
                );
            }
            if wait && !arrival.tripped {
                wait_for_release(&client, &barrier, arrival.generation, response.timestamp_ms).await?;
                if !json {
                    println!("released: generation {} tripped", arrival.generation);
                }
            }
            if json {
                print_json(&arrival);
            }
        }
        BarrierCommand::Reset { barrier, json } => {
            print_submitted(&client.reset_barrier(name(&barrier, "barrier")?).await?, json, None);
        }
        BarrierCommand::Remove { barrier, json } => {
            print_submitted(&client.remove_barrier(name(&barrier, "barrier")?).await?, json, None);
        }
        BarrierCommand::Show { barrier, json } => {
            let view = client.barrier(&name(&barrier, "barrier")?).await?;
            if json {
                print_json(&view);
            } else {
                print_barrier(&view);
            }
        }
        BarrierCommand::List { after, limit, json } => {
            let query = query_string(&[("after", after), ("limit", limit.map(|limit| limit.to_string()))]);
            let page = client.barriers(&query).await?;
            if json {
                print_json(&page);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .barriers
                .iter()
                .map(|view| {
                    let state = if view.broken.is_some() { broken_reason(view) } else { "open".to_owned() };
                    vec![
                        view.barrier.to_string(),
                        view.generation.to_string(),
                        format!("{}/{}", view.arrivals.len(), view.parties),
                        state,
                        view.trips.to_string(),
                    ]
                })
                .collect();
            print_table(&["BARRIER", "GENERATION", "ARRIVED", "STATE", "TRIPS"], &rows);
            if let Some(next) = page.next_after {
                println!("  more: --after {next}");
            }
        }
    }
    Ok(())
}
