//! `colony elect …`: stand for leader through a lease (and with `--wait` stay until elected), resign,
//! and observe who leads in which term.

use std::time::Duration;

use colony_client::{Client, LockAcquired};
use colony_core::command::Campaign;
use colony_core::{Command, Name, Signer};
use colony_wire::coordination::ElectionView;

use crate::output::{name, print_json, print_submitted, print_table};
use crate::{CliResult, Connection};

/// How often `campaign --wait` reads the election: as `barrier arrive --wait` does.
const WAIT_POLL_INTERVAL_MS: u64 = 100;

/// The election commands.
#[derive(Debug, clap::Subcommand)]
pub enum ElectCommand {
    /// Stand for leader through one of the signer's leases: elected now, or queued behind the
    /// leader and earlier candidates.
    Campaign {
        /// The election's name, shared by the swarm.
        election: String,
        /// The signer's lease: leadership (or candidacy) ends with it, so keep it alive.
        #[arg(long)]
        lease: String,
        /// Stay until elected (exit 0, printing the term) or no longer a candidate (exit 1).
        #[arg(long)]
        wait: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Step down as leader (the next candidate leads at once), or withdraw as a candidate.
    Resign {
        /// The election.
        election: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Who leads, in which term, and the candidates in the order they would lead.
    Show {
        /// The election.
        election: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Reads the election until the signer leads (returning its term) or is no longer among the
/// candidates.
async fn wait_until_elected(
    client: &Client,
    election: &Name,
    signer: &Signer,
) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    loop {
        let view = client.election(election).await?;
        if let Some(leader) = view.leader.as_ref().filter(|leader| leader.leader == *signer) {
            return Ok(leader.term);
        }
        if !view.candidates.iter().any(|candidate| candidate.candidate == *signer) {
            let why = format!("no longer a candidate in election '{election}' (resigned, or its lease ended)");
            return Err(why.into());
        }
        tokio::time::sleep(Duration::from_millis(WAIT_POLL_INTERVAL_MS)).await;
    }
}

fn print_election(view: &ElectionView) {
    let mut rows: Vec<Vec<String>> = view
        .leader
        .iter()
        .map(|leader| {
            let state = format!("leads, term {}", leader.term);
            vec![state, leader.leader.to_string(), leader.lease.to_string(), leader.elected_at_ms.to_string()]
        })
        .collect();
    rows.extend(view.candidates.iter().enumerate().map(|(index, candidate)| {
        vec![
            format!("candidate #{}", index + 1),
            candidate.candidate.to_string(),
            candidate.lease.to_string(),
            candidate.campaigning_since_ms.to_string(),
        ]
    }));
    println!("election {}", view.election);
    if rows.is_empty() {
        println!("  nobody campaigns");
        return;
    }
    print_table(&["STATE", "AGENT", "LEASE", "SINCE_MS"], &rows);
}

/// Runs an election command.
pub async fn run(command: ElectCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        ElectCommand::Campaign { election, lease, wait, json } => {
            let (election, lease) = (name(&election, "election")?, name(&lease, "lease")?);
            if json && !wait {
                print_json(&client.submit_one(Command::Campaign(Campaign { election, lease })).await?);
                return Ok(());
            }
            let term = match client.campaign(election.clone(), lease).await? {
                LockAcquired::Granted { fencing_token } => fencing_token,
                LockAcquired::Queued { position } if wait => {
                    if !json {
                        println!("campaigning: candidate #{position}");
                    }
                    let identity = client.identity().ok_or("campaigning needs a key (--key)")?;
                    wait_until_elected(&client, &election, identity.signer()).await?
                }
                LockAcquired::Queued { position } => {
                    println!("campaigning: candidate #{position}");
                    return Ok(());
                }
            };
            if json {
                print_json(&client.election(&election).await?);
            } else {
                println!("elected: term {term}");
            }
        }
        ElectCommand::Resign { election, json } => {
            print_submitted(&client.resign(name(&election, "election")?).await?, json, None)
        }
        ElectCommand::Show { election, json } => {
            let view = client.election(&name(&election, "election")?).await?;
            if json {
                print_json(&view);
            } else {
                print_election(&view);
            }
        }
    }
    Ok(())
}
