//! `colony a2a`: an Agent2Agent (A2A v1) gateway beside one agent, so that any A2A client can hand
//! work to the swarm. A message announces a task in Colony's market, signed here with the agent's
//! key (keys never leave this process); the task's state, result and changes are read back from the
//! server through the client.
//!
//! - `card.rs`: the agent card, the swarm's capabilities as skills.
//! - `rpc.rs`: JSON-RPC 2.0 dispatch of A2A's methods, and errors with A2A's codes.
//! - `announce.rs`: a message as `task.announce` (terms, payload, the idempotent task id).
//! - `state.rs`: Colony's task states as A2A's (the one table), results as artifacts.
//! - `stream.rs`: a task's changes as server-sent events.
//! - `protocol.rs`: A2A's objects in JSON.

mod announce;
mod card;
mod protocol;
mod rpc;
mod state;
mod stream;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use colony_client::Client;
use colony_core::{AgentId, Signer};
use tokio::sync::{Mutex, Semaphore};

use crate::{CliResult, Connection};

/// Bytes of one JSON-RPC request at most. A message's payload is at most 4 KiB inline
/// (`TASK_PAYLOAD_BYTES_MAX`) and its terms a few KiB more (100 invited agents, 32 dependencies);
/// 64 KiB holds any announce Colony accepts with room for A2A's wrapping, and is what the server
/// itself reads from a client that has proved nothing.
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;

/// Task streams open at once. Each holds an event stream on the Colony server, which caps the
/// connections of one address: the gateway keeps well inside that cap so that its own reads and
/// writes always find a connection.
pub const CONCURRENT_STREAMS_MAX: usize = 64;

/// How long the card's skills (read from the whole registry) are reused: a client that fetches the
/// card in a loop costs the server one registry read per period, not one per fetch.
pub const CARD_REFRESH_MS: u64 = 5_000;

/// Arguments of `colony a2a` (the agent's key and the server come from `--key` and `--server`).
#[derive(Debug, clap::Args)]
pub struct A2aArgs {
    /// Where to listen for A2A clients.
    #[arg(long, default_value = "127.0.0.1:7420")]
    listen: SocketAddr,
    /// The URL clients reach this gateway at, for the agent card (the request's host unless given).
    #[arg(long)]
    public_url: Option<String>,
    /// Listen on an address other machines reach. The gateway has no authentication of its own:
    /// whoever reaches it announces tasks paid from its agent's wallet.
    #[arg(long)]
    allow_remote: bool,
}

/// Refuses a listening address other machines could reach unless asked for: every message the
/// gateway takes spends its agent's money, and it checks no credentials.
pub fn check_listen(listen: SocketAddr, allow_remote: bool) -> Result<(), String> {
    if listen.ip().is_loopback() || allow_remote {
        return Ok(());
    }
    Err(format!(
        "{listen} is reachable from other machines, and whoever reaches the gateway spends its agent's money: \
         listen on a loopback address, or pass --allow-remote behind authentication of your own \
         (and let the gateway speak for a child agent with a daily limit)"
    ))
}

/// What every request shares: the signing client, the agent it speaks for, and the limits' state.
pub struct Gateway {
    client: Client,
    agent: AgentId,
    listen: SocketAddr,
    public_url: Option<String>,
    card_cache: Mutex<Option<card::CachedSkills>>,
    streams: Arc<Semaphore>,
}

impl Gateway {
    /// A gateway for the agent `client` signs as.
    pub fn new(client: Client, listen: SocketAddr, public_url: Option<String>) -> Result<Gateway, String> {
        let agent = match client.identity().map(|identity| identity.signer()) {
            Some(Signer::Agent(agent)) => agent.clone(),
            Some(Signer::Operator) => {
                return Err("the gateway speaks for an agent: give an agent's key with --key".into());
            }
            None => return Err("give the key of the agent the gateway speaks for with --key".into()),
        };
        Ok(Gateway {
            client,
            agent,
            listen,
            public_url,
            card_cache: Mutex::new(None),
            streams: Arc::new(Semaphore::new(CONCURRENT_STREAMS_MAX)),
        })
    }
}

/// The gateway's routes: the card, and JSON-RPC at the root (the card's interface URL).
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/.well-known/agent-card.json", get(card::agent_card))
        .route("/", post(rpc::dispatch))
        .with_state(gateway)
}

/// Runs `colony a2a` until interrupted.
pub async fn run(args: A2aArgs, connection: &Connection) -> CliResult {
    check_listen(args.listen, args.allow_remote)?;
    let client = connection.client()?;
    let gateway = Gateway::new(client, args.listen, args.public_url)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
    let address = listener.local_addr()?;
    println!("colony a2a listening on http://{address} (agent {}, server {})", gateway.agent, connection.server);
    // Stops at once: the gateway keeps nothing of its own, and a client that sends its message again
    // finds the task the first send announced. (Waiting for open streams could take a task's life.)
    tokio::select! {
        served = axum::serve(listener, router(Arc::new(gateway))) => served?,
        () = crate::serve::wait_for_signal() => println!("stopped"),
    }
    Ok(())
}
