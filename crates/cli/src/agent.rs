//! `colony keygen`, `colony agent …`, `colony token …` and `colony status`.

use colony_core::command::{RegisterAgent, UpdateAgent};
use std::collections::BTreeSet;
use std::path::PathBuf;

use colony_core::{AgentId, Command, Name, PublicKey, Signer};
use colony_wire::views::{AgentView, SubmitResponse};
use colony_wire::{KeyFile, KeyPair};

use crate::output::{print_json, print_submitted, print_table, query_string};
use crate::{CliResult, Connection};

/// Arguments of `colony keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Who the key signs as: an agent id, or `operator`.
    #[arg(long)]
    signer: String,
    /// Where to write the key file (mode 0600; never overwritten).
    #[arg(long)]
    out: PathBuf,
}

/// Runs `colony keygen`.
pub fn keygen(args: KeygenArgs) -> CliResult {
    let signer = Signer::parse(&args.signer).map_err(|error| format!("--signer: {error}"))?;
    let key = KeyPair::generate();
    KeyFile::new(signer.clone(), &key)
        .write_new(&args.out)
        .map_err(|error| format!("{}: {error}", args.out.display()))?;
    println!("wrote {} for '{signer}'", args.out.display());
    println!("public key: {}", key.public_key());
    Ok(())
}

/// `colony agent …`.
#[derive(Debug, clap::Subcommand)]
pub enum AgentCommand {
    /// Register an agent. Without --public-key, the --key file's own agent registers itself;
    /// with it, the --key holder (operator or parent) registers another agent.
    Register {
        /// The agent's id (defaults to the key file's signer).
        #[arg(long)]
        id: Option<String>,
        /// The agent's role.
        #[arg(long)]
        role: String,
        /// A capability (repeatable).
        #[arg(long = "capability")]
        capabilities: Vec<String>,
        /// The new agent's public key (hex), when registering someone else.
        #[arg(long)]
        public_key: Option<String>,
        /// The parent agent.
        #[arg(long)]
        parent: Option<String>,
        /// The referrer.
        #[arg(long)]
        referrer: Option<String>,
        /// The weight in millionths, 1000000 being one (operator only).
        #[arg(long)]
        weight: Option<u32>,
    },
    /// List agents.
    List {
        /// Only this role.
        #[arg(long)]
        role: Option<String>,
        /// Only this status: active, unresponsive, halted, deregistered.
        #[arg(long)]
        status: Option<String>,
        /// Only agents with this capability.
        #[arg(long)]
        capability: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one agent.
    Show {
        /// The agent.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send a heartbeat for the --key file's agent.
    Heartbeat,
    /// Change an agent's role, capabilities or weight.
    Update {
        /// The agent.
        id: String,
        /// A new role (parent or operator).
        #[arg(long)]
        role: Option<String>,
        /// The new set of capabilities (repeatable; replaces the old set).
        #[arg(long = "capability")]
        capabilities: Vec<String>,
        /// A new weight in millionths, 1000000 being one (operator).
        #[arg(long)]
        weight: Option<u32>,
    },
    /// Halt an agent (operator or parent).
    Halt {
        /// The agent.
        id: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a halt.
    Resume {
        /// The agent.
        id: String,
    },
    /// Remove an agent for good.
    Deregister {
        /// The agent.
        id: String,
    },
    /// What an agent and everything it spawned spent and earned.
    Costs {
        /// The agent.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// An agent's record as a worker in the task market.
    Reputation {
        /// The agent.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn agent_id(text: &str, flag: &str) -> Result<AgentId, String> {
    AgentId::new(text).map_err(|error| format!("{flag} '{text}': {error}"))
}

fn names(texts: &[String], flag: &str) -> Result<BTreeSet<Name>, String> {
    texts.iter().map(|text| Name::new(text.as_str()).map_err(|error| format!("{flag} '{text}': {error}"))).collect()
}

fn report(response: &SubmitResponse) {
    print_submitted(response, false, None);
}

/// Runs an agent command.
pub async fn run(command: AgentCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        AgentCommand::Register { id, role, capabilities, public_key, parent, referrer, weight } => {
            let identity = client.identity().ok_or("registering needs --key")?;
            let agent = match (id, identity.signer()) {
                (Some(id), _) => agent_id(&id, "--id")?,
                (None, Signer::Agent(id)) => id.clone(),
                (None, Signer::Operator) => {
                    return Err("the operator registers agents with --id and --public-key".into());
                }
            };
            let public_key = match public_key {
                Some(text) => PublicKey::from_hex(&text).map_err(|error| format!("--public-key: {error}"))?,
                None => identity.key().public_key(),
            };
            let command = Command::RegisterAgent(RegisterAgent {
                agent,
                public_key,
                role: Name::new(role.as_str()).map_err(|error| format!("--role '{role}': {error}"))?,
                capabilities: names(&capabilities, "--capability")?,
                weight,
                parent: parent.map(|parent| agent_id(&parent, "--parent")).transpose()?,
                referrer: referrer.map(|referrer| agent_id(&referrer, "--referrer")).transpose()?,
            });
            report(&client.submit_one(command).await?);
        }
        AgentCommand::List { role, status, capability, json } => {
            let mut agents: Vec<AgentView> = Vec::new();
            let mut after: Option<AgentId> = None;
            loop {
                let page_query = query_string(&[
                    ("limit", Some("1000".to_owned())),
                    ("role", role.clone()),
                    ("status", status.clone()),
                    ("capability", capability.clone()),
                    ("after", after.as_ref().map(AgentId::to_string)),
                ]);
                let page = client.agents(&page_query).await?;
                agents.extend(page.agents);
                match page.next_after {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            if json {
                print_json(&agents);
            } else {
                print_agents(&agents);
            }
        }
        AgentCommand::Show { id, json } => {
            let agent = client.agent(&agent_id(&id, "id")?).await?;
            if json {
                print_json(&agent);
            } else {
                print_agents(std::slice::from_ref(&agent));
                if let Some(halt) = &agent.halt {
                    println!("  halted by {} at {}: {}", halt.by, halt.at_ms, halt.reason);
                }
                println!("  public key {}", agent.public_key);
            }
        }
        AgentCommand::Heartbeat => report(&client.heartbeat().await?),
        AgentCommand::Update { id, role, capabilities, weight } => {
            let capabilities = if capabilities.is_empty() { None } else { Some(names(&capabilities, "--capability")?) };
            let role =
                role.map(|role| Name::new(role.as_str()).map_err(|error| format!("--role: {error}"))).transpose()?;
            report(
                &client
                    .submit_one(Command::UpdateAgent(UpdateAgent {
                        agent: agent_id(&id, "id")?,
                        role,
                        capabilities,
                        weight,
                    }))
                    .await?,
            );
        }
        AgentCommand::Halt { id, reason } => report(&client.halt(agent_id(&id, "id")?, &reason).await?),
        AgentCommand::Resume { id } => report(&client.resume(agent_id(&id, "id")?).await?),
        AgentCommand::Deregister { id } => report(&client.deregister(agent_id(&id, "id")?).await?),
        AgentCommand::Reputation { id, json } => return crate::market::reputation(&id, json, connection).await,
        AgentCommand::Costs { id, json } => {
            let costs = client.costs(&agent_id(&id, "id")?).await?;
            if json {
                print_json(&costs);
            } else {
                println!("subtree of {} ({} agents)", costs.agent, costs.agents);
                println!("  balance    {}", costs.balance);
                println!("  spent      {}", costs.spent);
                println!("  earned     {}", costs.earned);
                println!("  fees paid  {}", costs.fees_paid);
            }
        }
    }
    Ok(())
}

/// Prints agents as a table.
pub fn print_agents(agents: &[AgentView]) {
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|agent| {
            vec![
                agent.id.to_string(),
                agent.role.to_string(),
                agent.status.clone(),
                agent.weight.to_string(),
                agent.parent.as_ref().map_or("-".to_owned(), ToString::to_string),
                agent.referrer.as_ref().map_or("-".to_owned(), ToString::to_string),
                agent.capabilities.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            ]
        })
        .collect();
    print_table(&["AGENT", "ROLE", "STATUS", "WEIGHT", "PARENT", "REFERRER", "CAPABILITIES"], &rows);
}

/// `colony token …`.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Issue a bearer token for reads (operator key). Prints the token once; only its SHA-256 is stored.
    Issue {
        /// A label for the operator's records.
        #[arg(long, default_value = "")]
        label: String,
        /// Hours until it expires (never, if absent).
        #[arg(long)]
        ttl_hours: Option<u64>,
    },
}

/// Runs a token command.
pub async fn run_token(command: TokenCommand, connection: &Connection) -> CliResult {
    let TokenCommand::Issue { label, ttl_hours } = command;
    let client = connection.client()?;
    let token = colony_wire::read_auth::generate_token();
    let expires_at_ms = ttl_hours.map(|hours| {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|duration| duration.as_millis() as u64)
            .unwrap_or(0);
        now_ms + hours * 3_600_000
    });
    client.issue_read_token(&token, &label, expires_at_ms).await?;
    println!("{token}");
    Ok(())
}

/// Arguments of `colony status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `colony status`.
pub async fn status(args: StatusArgs, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    let status = client.status().await?;
    if args.json {
        print_json(&status);
    } else {
        println!("colony {} at {}", status.version, client.base_url());
        match status.rules_version {
            // An older server does not report it; no server applies version 0.
            0 => println!("  rules version     unknown (the server does not say)"),
            version => println!("  rules version     {version}"),
        }
        println!("  entry             {} (log time {} ms)", status.sequence, status.timestamp_ms);
        println!("  agents            {}", status.agents);
        println!("  commands          {} accepted, {} rejected", status.commands_accepted, status.commands_rejected);
        if let Some(key) = status.operator_key {
            println!("  operator          {key}");
        }
    }
    Ok(())
}
