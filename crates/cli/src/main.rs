//! `colony`: the command-line tool for Colony, a coordination server for swarms of AI agents.
//!
//! # Layout
//! - `main.rs`: the command tree (clap) and dispatch.
//! - `serve.rs`: `colony serve`.
//! - `agent.rs`: `colony agent …`, `colony keygen`, `colony token …`, `colony status`.
//! - `events.rs`: `colony events tail`.
//! - `bus.rs`: `colony pub`, `sub`, `request`, `bus stats` (the ephemeral bus).
//! - `streams.rs`: `colony stream …`, `consumer …`, `dlq …` (durable streams).
//! - `market.rs`: `colony task …`, `colony agent reputation` (the task market).
//! - `governance.rs`: `colony proposal …` (proposals and ballots).
//! - `kv.rs`: `colony kv …` (namespaces of shared state, compare-and-swap, reads, watches).
//! - `pheromone.rs`: `colony pheromone …` (pheromone maps, deposits, the strongest trails).
//! - `coordination.rs`: `colony lease …` and `colony lock …` (leases, locks, fencing tokens).
//! - `barrier.rs`: `colony barrier …` (barriers, arrivals that wait until the barrier trips).
//! - `election.rs`: `colony elect …` (lease-based elections); `vote_election.rs`: `colony
//!   vote-election …` (seed 004's vote-based elections: rounds, votes, the majority's leader).
//! - `governance.rs`: `colony proposal …` (proposals and ballots) and `colony governance …`.
//! - `ledger.rs`: `colony mint`, `transfer`, `penalize`, `wallet …`, `escrow …`, `ledger`.
//! - `audit.rs`: `colony audit verify`.
//! - `a2a/`: `colony a2a`, the A2A gateway (agent card, JSON-RPC, task streams).
//! - `history.rs`: `colony log checkpoint`, `colony log proof`.
//! - `demo/`: `colony demo`, the living tour (registry, ledger and bus parts, on real prices).
//! - `output.rs`: tables and JSON output.

mod a2a;
mod agent;
mod audit;
mod barrier;
mod bus;
mod coordination;
mod demo;
mod election;
mod events;
mod governance;
mod history;
mod kv;
mod ledger;
mod market;
mod output;
mod pheromone;
mod serve;
mod streams;
mod vote_election;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use colony_client::{Client, ClientError, Identity};

/// Colony: a coordination server for swarms of AI agents.
#[derive(Debug, Parser)]
#[command(name = "colony", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: Commands,
}

/// How to reach and authenticate to a server.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// The server's URL.
    #[arg(long, global = true, env = "COLONY_SERVER", default_value = "http://127.0.0.1:7410")]
    pub server: String,
    /// The key file to sign with (`colony keygen`). Defaults to ./colony-data/operator.key when present.
    #[arg(long, global = true, env = "COLONY_KEY")]
    pub key: Option<PathBuf>,
    /// A read token (`colony token issue`) to read with instead of signing reads.
    #[arg(long, global = true, env = "COLONY_READ_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl Connection {
    /// A client with the identity and read token given.
    pub fn client(&self) -> Result<Client, ClientError> {
        let mut client = Client::new(self.server.clone());
        if let Some(path) = self.key_path() {
            client = client.with_identity(Identity::from_key_file(&path)?);
        }
        if let Some(token) = &self.token {
            client = client.with_read_token(token.clone());
        }
        Ok(client)
    }

    fn key_path(&self) -> Option<PathBuf> {
        self.key.clone().or_else(|| {
            let default = PathBuf::from(colony_server::server::DEFAULT_DATA_DIR)
                .join(colony_server::server::OPERATOR_KEY_FILE_NAME);
            default.exists().then_some(default)
        })
    }
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Run a server.
    Serve(serve::ServeArgs),
    /// Run the demo swarm against an embedded server (or --server) and print a report.
    Demo(demo::DemoArgs),
    /// Generate a key file for an agent (or the operator).
    Keygen(agent::KeygenArgs),
    /// Register, inspect and manage agents.
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Issue money into a wallet (operator key).
    Mint(ledger::PaymentArgs),
    /// Pay another agent.
    Transfer(ledger::PaymentArgs),
    /// Take up to an amount from an agent's wallet into the fee account (operator key, during
    /// bootstrap; after it, write the command as a proposal's action).
    Penalize(ledger::PenaltyArgs),
    /// Show and manage wallets.
    #[command(subcommand)]
    Wallet(ledger::WalletCommand),
    /// Lock, release, refund, dispute, resolve and inspect escrows.
    #[command(subcommand)]
    Escrow(ledger::EscrowCommand),
    /// Announce, bid on, award, carry out, verify and inspect tasks.
    #[command(subcommand)]
    Task(market::TaskCommand),
    /// Create, amend, cancel, veto and inspect proposals; cast ballots.
    #[command(subcommand)]
    Proposal(governance::ProposalCommand),
    /// Create pheromone maps, deposit on them, read their strongest trails.
    #[command(subcommand)]
    Pheromone(pheromone::PheromoneCommand),
    /// Take, keep alive, revoke and list leases.
    #[command(subcommand)]
    Lease(coordination::LeaseCommand),
    /// Acquire and release locks through leases; show holders, fencing tokens and queues.
    #[command(subcommand)]
    Lock(coordination::LockCommand),
    /// Acquire and release a semaphore's permits through leases.
    #[command(subcommand)]
    Semaphore(coordination::SemaphoreCommand),
    /// Stand for leader through a lease, resign, and see who leads in which term.
    #[command(subcommand)]
    Elect(election::ElectCommand),
    /// Seed 004's vote-based elections: members open rounds and vote; a majority elects the leader.
    #[command(subcommand)]
    VoteElection(vote_election::VoteElectionCommand),
    /// Make barriers, arrive at them (and wait until they trip), reset, remove and inspect them.
    #[command(subcommand)]
    Barrier(barrier::BarrierCommand),
    /// Shared state: namespaces, puts and deletes under compare-and-swap, reads, watches.
    #[command(subcommand)]
    Kv(kv::KvCommand),
    /// End bootstrap (operator).
    #[command(subcommand)]
    Governance(governance::GovernanceCommand),
    /// Show the books as a whole.
    Ledger(ledger::LedgerArgs),
    /// Issue read tokens (operator).
    #[command(subcommand)]
    Token(agent::TokenCommand),
    /// Show the server's status.
    Status(agent::StatusArgs),
    /// Follow the event stream.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Publish an ephemeral message (fan-out to subscribers; not logged).
    Pub(bus::PubArgs),
    /// Subscribe to subjects (NATS wildcards) and print messages as they come.
    Sub(bus::SubArgs),
    /// Publish a request and print the first reply.
    Request(bus::RequestArgs),
    /// Bus statistics.
    #[command(subcommand)]
    Bus(bus::BusCommand),
    /// Create, list, inspect and delete durable streams.
    #[command(subcommand)]
    Stream(streams::StreamCommand),
    /// Create and inspect durable consumers; pull and acknowledge messages.
    #[command(subcommand)]
    Consumer(streams::ConsumerCommand),
    /// List, replay and discard dead letters.
    #[command(subcommand)]
    Dlq(streams::DeadLetterCommand),
    /// Offline checks of a stopped server's data.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The log's signed checkpoints, and proofs that receipts are covered by them.
    #[command(subcommand)]
    Log(history::LogCommand),
    /// Serve an A2A (Agent2Agent v1) gateway for one agent: A2A messages become tasks in the market.
    A2a(a2a::A2aArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the async runtime starts");
    let result = runtime.block_on(async move {
        match cli.command {
            Commands::Serve(args) => serve::run(args).await,
            Commands::Demo(args) => demo::run(args, &cli.connection).await,
            Commands::Keygen(args) => agent::keygen(args),
            Commands::Agent(command) => agent::run(command, &cli.connection).await,
            Commands::Token(command) => agent::run_token(command, &cli.connection).await,
            Commands::Mint(args) => ledger::pay(args, true, &cli.connection).await,
            Commands::Transfer(args) => ledger::pay(args, false, &cli.connection).await,
            Commands::Penalize(args) => ledger::penalize(args, &cli.connection).await,
            Commands::Wallet(command) => ledger::wallet(command, &cli.connection).await,
            Commands::Escrow(command) => ledger::escrow(command, &cli.connection).await,
            Commands::Task(command) => market::run(command, &cli.connection).await,
            Commands::Proposal(command) => governance::run(command, &cli.connection).await,
            Commands::Pheromone(command) => pheromone::run(command, &cli.connection).await,
            Commands::Lease(command) => coordination::run_lease(command, &cli.connection).await,
            Commands::Lock(command) => coordination::run_lock(command, &cli.connection).await,
            Commands::Semaphore(command) => coordination::run_semaphore(command, &cli.connection).await,
            Commands::Elect(command) => election::run(command, &cli.connection).await,
            Commands::VoteElection(command) => vote_election::run(command, &cli.connection).await,
            Commands::Barrier(command) => barrier::run(command, &cli.connection).await,
            Commands::Kv(command) => kv::run(command, &cli.connection).await,
            Commands::Governance(command) => governance::run_governance(command, &cli.connection).await,
            Commands::Ledger(args) => ledger::ledger(args, &cli.connection).await,
            Commands::Status(args) => agent::status(args, &cli.connection).await,
            Commands::Events(command) => events::run(command, &cli.connection).await,
            Commands::Pub(args) => bus::publish(args, &cli.connection).await,
            Commands::Sub(args) => bus::subscribe(args, &cli.connection).await,
            Commands::Request(args) => bus::request(args, &cli.connection).await,
            Commands::Bus(command) => bus::run(command, &cli.connection).await,
            Commands::Stream(command) => streams::stream(command, &cli.connection).await,
            Commands::Consumer(command) => streams::consumer(command, &cli.connection).await,
            Commands::Dlq(command) => streams::dead_letters(command, &cli.connection).await,
            Commands::Audit(command) => audit::run(command),
            Commands::Log(command) => history::run(command, &cli.connection).await,
            Commands::A2a(args) => a2a::run(args, &cli.connection).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Any error a command reports: printed as `error: …` with exit code 1.
pub type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
