//! `colony demo`: a swarm of the seed roles, each agent with its own key, running against an embedded
//! server (or `--server`), followed by a report and an offline audit of what it did.
//!
//! The demo is the living tour of Colony: every capability, as it lands, gets a part here.
//! Part 1 (this file) is the registry: keys, registration, heartbeats, liveness, halts, attacks.
//! Part 2 (`trading.rs`) is the ledger: a trading team paid through escrow on real prices.
//! Part 3 (`signals.rs`) is the bus: real prices over WebSockets, scouts storing signals in a durable
//! stream, two executors sharing its consumer as a work queue (one crashes and its message is
//! redelivered to the other), exposures and alerts to the risk agent over server-sent events, a
//! request/reply and a direct inbox message.
//! Part 4 (`tasks.rs`) is the task market: auctions whose awards lock escrow, a failed verification
//! re-awarded, and a pipeline run as a task DAG.
//! Part 5 (`distribution.rs`) is direct work: capacities, a batch split over the quants, and direct
//! tasks served by priority to the best agent by affinity, performance and load.

mod distribution;
mod market;
mod signals;
mod tasks;
mod trading;

use colony_core::command::{Heartbeat, RegisterAgent, UpdateAgent};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use colony_client::{Client, ClientError, Identity};
use colony_core::{AgentId, Command, Event, Name, Signer, SwarmConfig};
use colony_wire::{Envelope, KeyPair};

use crate::agent::print_agents;
use crate::output::{print_table, thousands};
use crate::{CliResult, Connection};

/// Arguments of `colony demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How long the swarm runs, in seconds.
    #[arg(long, default_value_t = 4)]
    seconds: u64,
    /// Keep the embedded server's data directory here instead of a temporary one.
    #[arg(long)]
    keep_data: Option<std::path::PathBuf>,
}

/// The swarm: the six roles of the seed taxonomy, plus a child executor spawned by the treasury.
const AGENTS: &[(&str, &str, &[&str])] = &[
    ("oracle-1", "oracle", &["price.feed", "price.verify"]),
    ("scout-1", "scout", &["market.scan", "signal.momentum"]),
    ("scout-2", "scout", &["market.scan", "signal.spread"]),
    ("analyst-1", "analyst", &["research.deep", "report.structured"]),
    ("executor-1", "executor", &["order.route", "order.slippage"]),
    ("risk-1", "risk", &["portfolio.monitor", "stop.loss"]),
    ("treasury-1", "treasury", &["capital.allocate", "escrow.lock"]),
];

/// Log-time TTL the demo configures, so that a silent agent is noticed within seconds.
const DEMO_HEARTBEAT_TTL_MS: u64 = 1_000;
/// Time between heartbeats of one agent.
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(200);

struct Member {
    id: AgentId,
    client: Client,
}

/// Runs the demo.
pub async fn run(args: DemoArgs, connection: &Connection) -> CliResult {
    let started = Instant::now();
    let embedded_dir;
    let (server_url, operator, running) = if std::env::args().any(|argument| argument.starts_with("--server"))
        || std::env::var_os("COLONY_SERVER").is_some()
    {
        let operator = connection.client()?;
        if !matches!(operator.identity().map(Identity::signer), Some(Signer::Operator)) {
            return Err("with --server, give the operator's key with --key".into());
        }
        embedded_dir = None;
        (connection.server.clone(), operator, None)
    } else {
        let directory = match &args.keep_data {
            Some(path) => {
                std::fs::create_dir_all(path)?;
                DataDir::Kept(path.clone())
            }
            None => DataDir::Temporary(tempfile::tempdir()?),
        };
        let settings = colony_server::ServerSettings::new(directory.path(), "127.0.0.1:0".parse()?);
        let running = colony_server::start(settings).await?;
        let url = format!("http://{}", running.local_addr());
        let key_path = directory.path().join(colony_server::server::OPERATOR_KEY_FILE_NAME);
        let operator = Client::new(url.clone()).with_identity(Identity::from_key_file(&key_path)?);
        embedded_dir = Some(directory);
        (url, operator, Some(running))
    };

    println!("Colony demo: a swarm of {} agents against {server_url}", AGENTS.len() + 1);
    if let Some(directory) = &embedded_dir {
        println!("  embedded server, data in {}", directory.path().display());
    }
    println!();

    // Collect every event from here on, in the background, for the report.
    let first_sequence = operator.status().await?.sequence + 1;
    let mut stream = operator.events(Some(first_sequence)).await?;
    let events: Arc<std::sync::Mutex<Vec<Event>>> = Arc::default();
    let collector = {
        let events = Arc::clone(&events);
        tokio::spawn(async move {
            while let Some(Ok(event)) = stream.next().await {
                events.lock().expect("events lock").push(event);
            }
        })
    };

    // 1. The operator tightens the heartbeat TTL so the liveness part runs in seconds.
    let mut config: SwarmConfig = operator.config().await?;
    config.heartbeat_ttl_ms = DEMO_HEARTBEAT_TTL_MS;
    operator.set_config(config).await?;
    step(
        1,
        &format!(
            "operator set the heartbeat TTL to {} ms (config.set, signed by the operator key)",
            DEMO_HEARTBEAT_TTL_MS
        ),
    );

    // 2. Each agent generates its own key and registers itself.
    let mut members = Vec::new();
    for (id, role, capabilities) in AGENTS {
        let id = AgentId::new(*id)?;
        let key = KeyPair::generate();
        let client = Client::new(server_url.clone()).with_identity(Identity::new(Signer::Agent(id.clone()), key));
        client.register_self(Name::new(*role)?, capabilities).await?;
        members.push(Member { id, client });
    }
    // The treasury spawns a child executor: the treasury signs the registration, names itself as
    // parent and referrer, and the child gets its own key.
    let treasury = members.iter().find(|member| member.id.as_str() == "treasury-1").expect("in AGENTS").client.clone();
    let child_key = KeyPair::generate();
    let child_id = AgentId::new("executor-2")?;
    treasury
        .submit_one(Command::RegisterAgent(RegisterAgent {
            agent: child_id.clone(),
            public_key: child_key.public_key(),
            role: Name::new("executor")?,
            capabilities: ["order.route"].into_iter().map(Name::new).collect::<Result<_, _>>()?,
            weight: None,
            parent: Some(AgentId::new("treasury-1")?),
            referrer: Some(AgentId::new("treasury-1")?),
        }))
        .await?;
    members.push(Member {
        id: child_id.clone(),
        client: Client::new(server_url.clone())
            .with_identity(Identity::new(Signer::Agent(child_id.clone()), child_key)),
    });
    step(
        2,
        &format!(
            "{} agents registered, each signing with its own Ed25519 key; treasury-1 spawned executor-2 as its child",
            members.len()
        ),
    );

    // 3. Everyone heartbeats concurrently; risk-1 "crashes" mid-run and comes back.
    //    They keep heartbeating until the end of the demo.
    let heartbeats = Arc::new(AtomicU64::new(0));
    let stop_heartbeats = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let heartbeat_started = Instant::now();
    let mut tasks = Vec::new();
    for member in &members {
        let client = member.client.clone();
        let heartbeats = Arc::clone(&heartbeats);
        let stop = Arc::clone(&stop_heartbeats);
        let crashes = member.id.as_str() == "risk-1";
        tasks.push(tokio::spawn(async move {
            let mut crashed = false;
            while !stop.load(Ordering::Relaxed) {
                if crashes && !crashed && heartbeat_started.elapsed() >= Duration::from_millis(600) {
                    // Silent for longer than the TTL, as if the process died and was restarted.
                    crashed = true;
                    tokio::time::sleep(Duration::from_millis(DEMO_HEARTBEAT_TTL_MS * 2)).await;
                }
                client.heartbeat().await?;
                heartbeats.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(HEARTBEAT_INTERVAL).await;
            }
            Ok::<(), ClientError>(())
        }));
    }

    // 4. Meanwhile the operator halts scout-2, which then tries to act; then resumes it. The treasury
    //    halts and resumes its own child.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let scout_2 = members.iter().find(|member| member.id.as_str() == "scout-2").expect("in AGENTS").client.clone();
    operator.halt(AgentId::new("scout-2")?, "duplicate signals on the same pair").await?;
    let refused = scout_2
        .submit_one(Command::UpdateAgent(UpdateAgent {
            agent: AgentId::new("scout-2")?,
            role: None,
            capabilities: Some(["market.scan"].into_iter().map(Name::new).collect::<Result<_, _>>()?),
            weight: None,
        }))
        .await;
    let halted_code =
        refused.err().and_then(|error| error.code().map(str::to_owned)).unwrap_or_else(|| "ACCEPTED?!".to_owned());
    operator.resume(AgentId::new("scout-2")?).await?;
    treasury.halt(child_id.clone(), "budget review").await?;
    treasury.resume(child_id.clone()).await?;

    // 5. Attacks: a replayed envelope, a forged signature, an impersonation.
    let scout_1 = members.iter().find(|member| member.id.as_str() == "scout-1").expect("in AGENTS").client.clone();
    let captured = scout_1.identity().expect("has a key").sign(vec![Command::Heartbeat(Heartbeat {})]);
    scout_1.post_signed("/v1/commands", &captured).await?;
    let replay = scout_1.post_signed("/v1/commands", &captured).await;
    let mut forged = captured.clone();
    forged.signature[0] ^= 0x55;
    let forged = scout_1.post_signed("/v1/commands", &forged).await;
    let impersonation = Envelope {
        signer: Signer::Agent(AgentId::new("treasury-1")?),
        nonce: 1,
        commands: vec![Command::Heartbeat(Heartbeat {})],
    }
    .sign(scout_1.identity().expect("has a key").key());
    let impersonation = scout_1.post_signed("/v1/commands", &impersonation).await;
    let attack_code = |result: Result<_, ClientError>| match result {
        Ok(_) => "ACCEPTED?!".to_owned(),
        Err(error) => error.code().unwrap_or("transport").to_owned(),
    };
    let attacks = [
        ("replayed heartbeat envelope of scout-1", attack_code(replay)),
        ("scout-1's envelope with a flipped signature byte", attack_code(forged)),
        ("scout-1 signing as treasury-1", attack_code(impersonation)),
    ];

    // Let risk-1's silence be noticed and its return too.
    tokio::time::sleep(
        (heartbeat_started + Duration::from_secs(args.seconds.max(3))).saturating_duration_since(Instant::now()),
    )
    .await;
    step(
        3,
        &format!(
            "{} heartbeats from {} agents in {:.1?} (they go on in the background); risk-1 went silent for {} ms mid-run",
            heartbeats.load(Ordering::Relaxed),
            members.len(),
            heartbeat_started.elapsed(),
            DEMO_HEARTBEAT_TTL_MS * 2
        ),
    );
    step(
        4,
        &format!(
            "operator halted scout-2; its next write was refused with `{halted_code}`; resumed. treasury-1 halted and resumed its child executor-2"
        ),
    );
    step(5, "attacks, each refused with a stable error code and no state change:");
    for (attack, code) in &attacks {
        println!("       - {attack}: {code}");
    }

    // Part 2: the trading team. Heartbeats go back to a production TTL first.
    let mut config: SwarmConfig = operator.config().await?;
    config.heartbeat_ttl_ms = 30_000;
    operator.set_config(config).await?;
    let oracle = members.iter().find(|member| member.id.as_str() == "oracle-1").expect("in AGENTS").client.clone();
    let trading = trading::run(&server_url, &operator, &oracle).await?;
    stop_heartbeats.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }

    step(
        6,
        &format!(
            "trading team: orchestrator-1 spawned scanner-1, riskmgr-1 and trader-1 and paid {} stages through escrow over {} real trading days",
            trading.released,
            trading.days.len()
        ),
    );

    // Part 3: the bus. executor-2 is treasury-1's child from part 1.
    let clients: BTreeMap<String, Client> =
        members.iter().map(|member| (member.id.to_string(), member.client.clone())).collect();
    let bus = signals::run(&operator, &clients).await?;
    bus.print_steps(7);

    // 11. The task market.
    let market_report = tasks::run(&server_url, &operator).await?;
    let disputes = market_report.tasks.iter().map(|task| task.awards.len() - 1).sum::<usize>();
    step(
        11,
        &format!(
            "task market: desk-1 announced {} tasks, {} quants bid on each, every award locked its price in escrow in the same entry; {disputes} result failed verification and was re-awarded; a scan → risk → execute pipeline ran as a task DAG",
            market_report.tasks.len(),
            market_report.bids_per_task
        ),
    );

    // 12. Direct work and batches, by the task market's desk and quants.
    let direct = distribution::run(&market_report.desk, &market_report.quants).await?;
    let capacities: Vec<String> =
        direct.capacities.iter().map(|(agent, capacity)| format!("{agent} {capacity}")).collect();
    step(
        12,
        &format!(
            "direct work: the quants declared capacities ({}); desk-1 split {} months of returns over {} quants \
             in one task.announce_batch, then announced a priority-0 and a priority-5 direct task in one entry: \
             no bids, each went to the best quant with room, its price locked in escrow at once",
            capacities.join(", "),
            direct.months,
            direct.chunks
        ),
    );

    // 13. An agent leaves.
    members
        .iter()
        .find(|member| member.id.as_str() == "analyst-1")
        .expect("in AGENTS")
        .client
        .deregister(AgentId::new("analyst-1")?)
        .await?;
    step(13, "analyst-1 deregistered itself (its id stays reserved, so its old envelopes can never be replayed)");

    // Let the event stream catch up with the last write.
    let status = operator.status().await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while events.lock().expect("events lock").last().is_none_or(|event| event.sequence < status.sequence)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    collector.abort();
    let events = events.lock().expect("events lock").clone();

    println!();
    println!("Agents");
    print_agents(&operator.all_agents().await?);

    println!();
    println!("Liveness, from the event stream (log time, relative to the first event)");
    let origin = events.first().map_or(0, |event| event.timestamp_ms);
    let liveness: Vec<Vec<String>> = events
        .iter()
        .filter(|event| {
            matches!(
                event.kind.name(),
                "agent.unresponsive" | "agent.active" | "agent.halted" | "agent.resumed" | "agent.deregistered"
            )
        })
        .map(|event| {
            let detail = serde_json::to_value(&event.kind).unwrap_or_default();
            vec![
                format!("+{} ms", event.timestamp_ms - origin),
                format!("{}", event.sequence),
                event.kind.name().to_owned(),
                detail["agent"].as_str().unwrap_or("-").to_owned(),
                detail["by"].as_str().map_or(String::new(), |by| format!("by {by}")),
            ]
        })
        .collect();
    print_table(&["TIME", "ENTRY", "EVENT", "AGENT", ""], &liveness);

    println!();
    println!("Events by type");
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for event in &events {
        *counts.entry(event.kind.name()).or_default() += 1;
    }
    print_table(
        &["EVENT", "COUNT"],
        &counts.iter().map(|(name, count)| vec![(*name).to_owned(), count.to_string()]).collect::<Vec<_>>(),
    );

    println!();
    println!("Trading team: each stage paid through escrow; workers buy prices from oracle-1 through escrow");
    let rows: Vec<Vec<String>> = trading
        .days
        .iter()
        .map(|day| {
            vec![
                day.date.clone(),
                day.signals.to_string(),
                day.approved.to_string(),
                if day.execution.ends_with("filled") {
                    format!("{:+.2}", day.pnl_milli as f64 / 1_000.0)
                } else {
                    "-".to_owned()
                },
                day.execution.clone(),
            ]
        })
        .collect();
    print_table(&["DAY", "SIGNALS", "APPROVED", "P&L USD", "EXECUTION"], &rows);
    let total_pnl: i64 = trading.days.iter().map(|day| day.pnl_milli).sum();
    println!(
        "  simulated P&L over the period: {:+.2} USD ({} shares per trade)",
        total_pnl as f64 / 1_000.0,
        market::SHARES_PER_TRADE
    );
    if let Some(escrow) = trading.expired_escrow {
        let escrow = operator.escrow(escrow).await?;
        println!(
            "  failed verification: escrow {} is {} and {} went back to {}",
            escrow.id,
            escrow.state.name(),
            units(u128::from(escrow.refunded_to_payer.0)),
            escrow.payer
        );
    }
    if let Some(code) = &trading.daily_limit_refusal {
        println!("  trader-1's child wallet hit its daily limit: its data purchase was refused with `{code}`");
    }
    if let Some(code) = &trading.withdraw_refusal {
        println!("  trader-1 (no-withdraw child wallet) tried to move money out of the swarm: `{code}`");
    }
    println!(
        "  orchestrator-1 earned {} in referral fees: its workers' share of the fee on every escrow that paid them",
        units(trading.referral_income)
    );

    println!();
    println!("Task market: each award's escrow and how it ended (the desk verifies by recomputing on real prices)");
    let task_rows: Vec<Vec<String>> = market_report
        .tasks
        .iter()
        .flat_map(|task| {
            task.awards.iter().enumerate().map(move |(index, (winner, escrow, ended))| {
                let first = index == 0;
                vec![
                    if first { task.task.to_string() } else { String::new() },
                    if first { task.what.clone() } else { String::new() },
                    winner.clone(),
                    escrow.to_string(),
                    ended.clone(),
                    if index + 1 == task.awards.len() { task.result.clone() } else { String::new() },
                ]
            })
        })
        .collect();
    print_table(&["TASK", "WHAT", "WINNER", "ESCROW", "ENDED", "RESULT"], &task_rows);

    println!();
    println!(
        "Direct work: who got what and why (the market's order: affinity, performance, load; only agents with room)"
    );
    let direct_rows: Vec<Vec<String>> = direct
        .assignments
        .iter()
        .map(|assignment| {
            vec![
                assignment.task.to_string(),
                assignment.what.clone(),
                assignment.priority.to_string(),
                assignment.agent.clone(),
                assignment.escrow.to_string(),
                assignment.ended.clone(),
                assignment.why.clone(),
            ]
        })
        .collect();
    print_table(&["TASK", "WHAT", "PRIORITY", "AGENT", "ESCROW", "ENDED", "WHY"], &direct_rows);
    println!(
        "  the priority-5 task was announced after the priority-0 one, in the same entry, and served first; \
         every assignment matched the market's order as the quants' reputations and capacities showed it"
    );

    println!();
    println!("Balances (units; 1 unit = 1,000,000 minor units)");
    let mut balance_rows = Vec::new();
    for agent in operator.all_agents().await? {
        let wallet = operator.wallet(&agent.id).await?;
        if wallet.balance.0 == 0 && wallet.spent_total == 0 && wallet.earned_total == 0 {
            continue;
        }
        balance_rows.push(vec![
            agent.id.to_string(),
            units(u128::from(wallet.balance.0)),
            units(wallet.earned_total),
            units(wallet.spent_total),
            units(wallet.fees_paid_total),
        ]);
    }
    let books = operator.ledger().await?;
    balance_rows.push(vec!["@fees (swarm)".to_owned(), units(books.fees), "".to_owned(), "".to_owned(), "".to_owned()]);
    balance_rows.push(vec![
        "@escrow (held)".to_owned(),
        units(books.escrow_held),
        "".to_owned(),
        "".to_owned(),
        "".to_owned(),
    ]);
    print_table(&["ACCOUNT", "BALANCE", "EARNED", "SPENT", "FEES PAID"], &balance_rows);
    println!(
        "  supply {} = wallets {} + fees {} + escrow {}: the books {}",
        units(books.supply),
        units(books.wallets_total),
        units(books.fees),
        units(books.escrow_held),
        if books.balanced { "balance" } else { "DO NOT BALANCE" }
    );
    if !books.balanced {
        return Err("the books do not balance".into());
    }
    let costs = operator.costs(&AgentId::new("orchestrator-1")?).await?;
    println!(
        "  orchestrator-1 and its {} children: balance {}, spent {}, earned {}",
        costs.agents - 1,
        units(costs.balance),
        units(costs.spent),
        units(costs.earned)
    );

    bus.print_report();

    let live_hash = operator.state_hash().await?;
    println!();
    println!("Log");
    println!("  entries           {}", thousands(status.sequence));
    println!(
        "  commands          {} accepted, {} refused by the state machine",
        thousands(status.commands_accepted),
        thousands(status.commands_rejected)
    );
    println!("  state hash        {} (at entry {})", live_hash.state_hash, live_hash.sequence);

    if let (Some(running), Some(directory)) = (running, &embedded_dir) {
        running.shutdown().await;
        let report = colony_server::audit::audit_at(directory.path(), Some(live_hash.sequence), |_, _| {})?;
        let matches = report.probed_state_hash == Some((live_hash.sequence, live_hash.state_hash));
        println!();
        println!("Offline audit of the stopped server's log");
        println!("  entries replayed  {}", thousands(report.entries));
        println!("  signatures        {} re-verified", thousands(report.signatures));
        println!(
            "  history           one hash chain to {}; {} operator checkpoints verified (the last written at the stop)",
            report.chain_head, report.checkpoints_checked
        );
        println!("  invariants        hold");
        println!(
            "  state hash        at entry {}: {}",
            live_hash.sequence,
            if matches { "matches the live server's" } else { "DIFFERS from the live server's" }
        );
        if !matches {
            return Err("the audit's state hash differs from the live server's".into());
        }
    }
    println!();
    println!("demo finished in {:.1?}", started.elapsed());
    Ok(())
}

/// Minor units as units with six decimals.
fn units(minor: u128) -> String {
    format!("{}.{:06}", minor / 1_000_000, minor % 1_000_000)
}

fn step(number: u32, text: &str) {
    println!("  {number}. {text}");
}

enum DataDir {
    Temporary(tempfile::TempDir),
    Kept(std::path::PathBuf),
}

impl DataDir {
    fn path(&self) -> &std::path::Path {
        match self {
            DataDir::Temporary(directory) => directory.path(),
            DataDir::Kept(path) => path,
        }
    }
}
