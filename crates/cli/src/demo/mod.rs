//! `colony demo`: a swarm of the seed roles, each agent with its own key, running against an embedded
//! server (or `--server`), followed by a report and an offline audit of what it did.
//!
//! The demo is the living tour of Colony: every capability, as it lands, gets a part here.
//! Part 1 (`registry.rs`) is the registry: keys, registration, heartbeats, liveness, halts, attacks.
//! Part 2 (`trading.rs`) is the ledger: a trading team paid through escrow on real prices.
//! Part 3 (`signals.rs`) is the bus: real prices over WebSockets, scouts storing signals in a durable
//! stream, two executors sharing its consumer as a work queue (one crashes and its message is
//! redelivered to the other), exposures and alerts to the risk agent over server-sent events, a
//! request/reply and a direct inbox message.
//! Part 4 (`tasks.rs`) is the task market: auctions whose awards lock escrow, a failed verification
//! re-awarded, and a pipeline run as a task DAG.
//! Part 5 (`distribution.rs`) is direct work: capacities, a batch split over the quants, and direct
//! tasks served by priority to the best agent by affinity, performance and load.
//! Part 6 (`stigmergy.rs`) is stigmergy: scouts depositing momentum trails from the real prices on a
//! shared, fading pheromone map, executors choosing by its strongest trails.
//! Part 7 (`governance.rs`) is governance: seed 001's council voting with signed, weighted ballots,
//! decisions sealed into a hash chain, and a mint the operator may no longer make alone run as an
//! approved proposal's action.
//! Part 8 (`coordination.rs`) is coordination: a leader replaced, in a higher term, when it dies, and
//! agents meeting at a barrier, then a meeting that breaks when one does not come.
//! Part 9 (`shared_state.rs`) is the key-value store: the meeting's parties record their summaries
//! and add their returns to one total by compare-and-swap at once, losing no update, and a watcher
//! reconciles from the revision it read.
//! Then `report.rs` prints what the swarm did, and this file audits the stopped server's log.

mod coordination;
mod distribution;
mod governance;
mod market;
mod registry;
mod report;
mod shared_state;
mod signals;
mod stigmergy;
mod tasks;
mod trading;

use std::sync::Arc;
use std::time::{Duration, Instant};

use colony_client::{Client, Identity};
use colony_core::{Event, Signer, SwarmConfig};

use crate::output::thousands;
use crate::{CliResult, Connection};

/// What a part of the demo answers, or why it stopped.
type DemoResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

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

/// Runs the demo.
pub async fn run(args: DemoArgs, connection: &Connection) -> CliResult {
    let started = Instant::now();
    let server = DemoServer::open(&args, connection).await?;
    let operator = &server.operator;
    println!("Colony demo: a swarm of {} agents against {}", registry::AGENTS.len() + 1, server.url);
    if let Some(directory) = &server.directory {
        println!("  embedded server, data in {}", directory.path().display());
    }
    println!();
    let events = EventCollector::start(operator).await?;

    let swarm = registry::run(args.seconds, &server.url, operator).await?;

    // Part 2: the trading team. Heartbeats go back to a production TTL first.
    let mut config: SwarmConfig = operator.config().await?;
    config.heartbeat_ttl_ms = 30_000;
    operator.set_config(config).await?;
    let trading = trading::run(&server.url, operator, &swarm.client("oracle-1")).await?;
    let members = swarm.stop_heartbeats().await?;
    step(
        6,
        &format!(
            "trading team: orchestrator-1 spawned scanner-1, riskmgr-1 and trader-1 and paid {} stages through escrow over {} real trading days",
            trading.released,
            trading.days.len()
        ),
    );

    // Part 3: the bus. executor-2 is treasury-1's child from part 1.
    let clients = members.iter().map(|member| (member.id.to_string(), member.client.clone())).collect();
    let bus = signals::run(operator, &clients).await?;
    bus.print_steps(7);

    let (market, direct) = work(&server.url, operator).await?;

    // Part 6: stigmergy, among the members of part 1.
    let stigmergy = stigmergy::run(&clients).await?;

    // Part 7: governance, last because ending bootstrap takes the operator's unilateral powers away.
    let own_server = server.directory.is_some();
    let governance = governance::run(&server.url, operator, own_server).await?;

    // Part 8: coordination, among the members of part 1.
    let coordination = coordination::run(&clients).await?;

    // Part 9: shared state, among the parties of part 8's meeting.
    let shared_state = shared_state::run(&clients, &coordination.meeting).await?;

    // 18. An agent leaves.
    let analyst = members.iter().find(|member| member.id.as_str() == "analyst-1").expect("in AGENTS");
    analyst.client.deregister(analyst.id.clone()).await?;
    step(18, "analyst-1 deregistered itself (its id stays reserved, so its old envelopes can never be replayed)");

    let status = operator.status().await?;
    let events = events.until(status.sequence).await;
    report::print(
        operator,
        &events,
        &report::Parts { trading, bus, market, direct, stigmergy, governance, coordination, shared_state },
    )
    .await?;
    server.close_and_audit(&status).await?;
    println!();
    println!("demo finished in {:.1?}", started.elapsed());
    Ok(())
}

/// Parts 4 and 5, steps 11 and 12: the task market's auctions and DAG, then direct work and batches
/// by the market's desk and quants.
async fn work(
    server_url: &str,
    operator: &Client,
) -> DemoResult<(tasks::TasksReport, distribution::DistributionReport)> {
    let market_report = tasks::run(server_url, operator).await?;
    let disputes = market_report.tasks.iter().map(|task| task.awards.len() - 1).sum::<usize>();
    step(
        11,
        &format!(
            "task market: desk-1 announced {} tasks, {} quants bid on each, every award locked its price in escrow in the same entry; {disputes} result failed verification and was re-awarded; a scan → risk → execute pipeline ran as a task DAG",
            market_report.tasks.len(),
            market_report.bids_per_task
        ),
    );
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
    Ok((market_report, direct))
}

/// Every event from the demo's first entry on, collected in the background for the report.
struct EventCollector {
    events: Arc<std::sync::Mutex<Vec<Event>>>,
    task: tokio::task::JoinHandle<()>,
}

impl EventCollector {
    async fn start(operator: &Client) -> DemoResult<EventCollector> {
        let first_sequence = operator.status().await?.sequence + 1;
        let mut stream = operator.events(Some(first_sequence)).await?;
        let events: Arc<std::sync::Mutex<Vec<Event>>> = Arc::default();
        let collected = Arc::clone(&events);
        let task = tokio::spawn(async move {
            while let Some(Ok(event)) = stream.next().await {
                collected.lock().expect("events lock").push(event);
            }
        });
        Ok(EventCollector { events, task })
    }

    /// The events collected once the stream caught up with entry `sequence` (or after 5 s).
    async fn until(self, sequence: u64) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.events.lock().expect("events lock").last().is_none_or(|event| event.sequence < sequence)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.task.abort();
        self.events.lock().expect("events lock").clone()
    }
}

/// The server the demo runs against: embedded in a data directory of its own, or `--server`.
struct DemoServer {
    url: String,
    operator: Client,
    running: Option<colony_server::RunningServer>,
    directory: Option<DataDir>,
}

impl DemoServer {
    async fn open(args: &DemoArgs, connection: &Connection) -> DemoResult<DemoServer> {
        if std::env::args().any(|argument| argument.starts_with("--server"))
            || std::env::var_os("COLONY_SERVER").is_some()
        {
            let operator = connection.client()?;
            if !matches!(operator.identity().map(Identity::signer), Some(Signer::Operator)) {
                return Err("with --server, give the operator's key with --key".into());
            }
            return Ok(DemoServer { url: connection.server.clone(), operator, running: None, directory: None });
        }
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
        Ok(DemoServer { url, operator, running: Some(running), directory: Some(directory) })
    }

    /// Prints the log's figures and, for an embedded server, stops it and audits its log offline:
    /// the audit's state hash must equal the live server's.
    async fn close_and_audit(self, status: &colony_wire::views::StatusView) -> CliResult {
        let operator = &self.operator;
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
        if let (Some(running), Some(directory)) = (self.running, &self.directory) {
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
            let seals = colony_server::audit::seals::audit_seals(directory.path())?;
            println!(
                "  decisions         {} seals recomputed and chained to {}…; {} ballots matched to their \
                 signed envelopes; {} action run",
                seals.decisions,
                &seals.seal_head.to_hex()[..16],
                seals.ballots,
                seals.actions
            );
        }
        Ok(())
    }
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
