//! `colony a2a`: an Agent2Agent (A2A v1) gateway beside one agent, so that any A2A client can hand
//! work to the swarm. A message announces a task in Colony's market, signed here with the agent's
//! key (keys never leave this process); the task's state, result and changes are read back from the
//! server through the client.
//!
//! - `auth.rs`: bearer tokens (who may use the gateway), checked before any JSON-RPC request.
//! - `browser.rs`: web pages kept out (the `Host`, `Origin` and `Content-Type` checks).
//! - `card.rs`: the agent card, the swarm's capabilities as skills, and how to authenticate.
//! - `rpc.rs`: JSON-RPC 2.0 dispatch of A2A's methods, and errors with A2A's codes.
//! - `announce.rs`: a message as `task.announce` (terms, payload, the idempotent task id).
//! - `state.rs`: Colony's task states as A2A's (the one table), results as artifacts.
//! - `stream.rs`: a task's changes as server-sent events.
//! - `protocol.rs`: A2A's objects in JSON.

mod announce;
mod auth;
mod browser;
mod card;
mod protocol;
mod rpc;
mod state;
mod stream;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
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

/// Bytes of a bearer token at least. A token is guessed online, one request per guess; 32 bytes
/// (`openssl rand -hex 32` gives 64 characters, 256 bits) puts guessing beyond any attacker, while a
/// short, memorable string would not be.
pub const TOKEN_BYTES_MIN: usize = 32;

/// Bytes of a bearer token at most. It travels in a header of every request, which proxies and
/// servers cap at a few KiB; a token file longer than this was given by mistake (a key, a log).
pub const TOKEN_BYTES_MAX: usize = 1024;

/// Arguments of `colony a2a` (the agent's key and the server come from `--key` and `--server`).
#[derive(Debug, clap::Args)]
pub struct A2aArgs {
    /// Where to listen for A2A clients.
    #[arg(long, default_value = "127.0.0.1:7420")]
    listen: SocketAddr,
    /// The URL clients reach this gateway at, for the agent card (the request's host unless given);
    /// its host is the one requests may name besides loopback.
    #[arg(long)]
    public_url: Option<String>,
    /// Listen on an address other machines reach. Needs a token (--token-file or COLONY_A2A_TOKEN):
    /// whoever calls the gateway announces tasks paid from its agent's wallet; and --public-url, whose
    /// host is the one, beside loopback, that requests may name.
    #[arg(long)]
    allow_remote: bool,
    /// A file holding the bearer token every JSON-RPC request must carry (at least 32 bytes; the
    /// file its owner's only, mode 0600). The environment variable COLONY_A2A_TOKEN may hold it instead.
    #[arg(long)]
    token_file: Option<PathBuf>,
}

/// Refuses to serve other machines unless asked for, and then only with a token: every message the
/// gateway takes spends its agent's money. Without a token only this machine's users can reach it.
/// Other machines need `--public-url` too: requests must name a loopback host or its host.
pub fn check_listen(
    listen: SocketAddr,
    allow_remote: bool,
    has_token: bool,
    has_public_url: bool,
) -> Result<(), String> {
    if allow_remote && !has_token {
        return Err(format!(
            "--allow-remote needs a token (--token-file or {}): whoever reaches the gateway spends its agent's \
             money, so it serves other machines only callers who present the token",
            auth::TOKEN_ENV
        ));
    }
    if allow_remote && !has_public_url {
        return Err("--allow-remote needs --public-url: its host is the one, beside loopback, that requests may \
                    name (any other is refused, so that no web page can reach the gateway under a name of its own)"
            .to_owned());
    }
    if listen.ip().is_loopback() || allow_remote {
        return Ok(());
    }
    Err(format!(
        "{listen} is reachable from other machines, and whoever reaches the gateway spends its agent's money: \
         listen on a loopback address, or set a token and pass --allow-remote \
         (and let the gateway speak for a child agent with a daily limit)"
    ))
}

/// What every request shares: the signing client, the agent it speaks for, and the limits' state.
pub struct Gateway {
    client: Client,
    agent: AgentId,
    listen: SocketAddr,
    public_url: Option<String>,
    public_host: Option<String>,
    card_cache: Mutex<Option<card::CachedSkills>>,
    streams: Arc<Semaphore>,
    token: Option<auth::Token>,
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
        let public_host = public_url.as_deref().map(browser::public_host).transpose()?;
        Ok(Gateway {
            client,
            agent,
            listen,
            public_url,
            public_host,
            card_cache: Mutex::new(None),
            streams: Arc::new(Semaphore::new(CONCURRENT_STREAMS_MAX)),
            token: None,
        })
    }

    /// The gateway, requiring `token` of every JSON-RPC request when there is one.
    pub fn with_token(mut self, token: Option<auth::Token>) -> Gateway {
        self.token = token;
        self
    }

    /// The host of `--public-url`, which requests may name besides loopback.
    pub fn public_host(&self) -> Option<&str> {
        self.public_host.as_deref()
    }
}

/// The gateway's routes: JSON-RPC at the root (the card's interface URL), closed to web pages and
/// behind the token if one is set, and the card, public; both only for the hosts the gateway knows.
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/", post(rpc::dispatch))
        .route_layer(from_fn_with_state(Arc::clone(&gateway), auth::require_token))
        .route_layer(from_fn(browser::refuse_pages))
        .route("/.well-known/agent-card.json", get(card::agent_card))
        .layer(from_fn_with_state(Arc::clone(&gateway), browser::require_known_host))
        .with_state(gateway)
}

/// Runs `colony a2a` until interrupted.
pub async fn run(args: A2aArgs, connection: &Connection) -> CliResult {
    let env_token = match std::env::var(auth::TOKEN_ENV) {
        Ok(text) => Some(text),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => return Err(format!("{} is not UTF-8", auth::TOKEN_ENV).into()),
    };
    let token = auth::token_from(args.token_file.as_deref(), env_token.as_deref())?;
    check_listen(args.listen, args.allow_remote, token.is_some(), args.public_url.is_some())?;
    let client = connection.client()?;
    let access = if token.is_some() { "bearer token required" } else { "no token: this machine only" };
    let gateway = Gateway::new(client, args.listen, args.public_url)?.with_token(token);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
    let address = listener.local_addr()?;
    println!(
        "colony a2a listening on http://{address} (agent {}, server {}, {access})",
        gateway.agent, connection.server
    );
    // Stops at once: the gateway keeps nothing of its own, and a client that sends its message again
    // finds the task the first send announced. (Waiting for open streams could take a task's life.)
    tokio::select! {
        served = axum::serve(listener, router(Arc::new(gateway))) => served?,
        () = crate::serve::wait_for_signal() => println!("stopped"),
    }
    Ok(())
}
