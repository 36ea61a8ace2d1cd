//! Colony's Rust client: builds, signs and submits envelopes, and authenticates reads.
//!
//! ```no_run
//! # async fn example() -> Result<(), colony_client::ClientError> {
//! use colony_client::{Client, Identity};
//! use colony_wire::KeyPair;
//! let key = KeyPair::generate();
//! let identity = Identity::new("scout-1".parse().unwrap(), key.clone());
//! let client = Client::new("http://127.0.0.1:7410").with_identity(identity);
//! client.register_self("scout".parse().unwrap(), &["dex.scan"]).await?;
//! client.heartbeat().await?;
//! # Ok(()) }
//! ```

pub mod bus;
mod coordination;
mod events;
mod governance;
mod kv;
mod market;
mod stigmergy;
pub mod streams;

use colony_core::command::{
    DeregisterAgent, DisputeEscrow, ExtendEscrow, HaltAgent, Heartbeat, IssueReadToken, LockEscrow, Mint, RefundEscrow,
    RegisterAgent, ReleaseEscrow, ResolveEscrow, ResumeAgent, SetConfig, Transfer,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use colony_core::{AgentId, Command, Name, Signer, SwarmConfig};
use colony_wire::envelope::SIGNATURE_HEADER;
use colony_wire::read_auth::{READ_SIGNATURE_HEADER, READ_SIGNER_HEADER, READ_TIMESTAMP_HEADER, read_signing_message};
use colony_wire::views::{
    AgentPage, AgentView, CostRollupView, EscrowPage, LedgerView, StateHashView, StatusView, SubmitResponse, WalletView,
};
use colony_wire::{Envelope, KeyFile, KeyPair, Problem, SignedEnvelope};
pub use coordination::LockAcquired;
pub use events::EventStream;

/// Who the client signs as.
#[derive(Debug)]
pub struct Identity {
    signer: Signer,
    key: KeyPair,
    last_nonce: AtomicU64,
    last_read_ms: AtomicU64,
}

impl Identity {
    /// An identity signing as `signer` with `key`.
    pub fn new(signer: Signer, key: KeyPair) -> Identity {
        Identity { signer, key, last_nonce: AtomicU64::new(0), last_read_ms: AtomicU64::new(0) }
    }

    /// The identity in a key file.
    pub fn from_key_file(path: &std::path::Path) -> Result<Identity, ClientError> {
        let file = KeyFile::read(path).map_err(|error| ClientError::Key(format!("{}: {error}", path.display())))?;
        let key = file.key_pair().map_err(|error| ClientError::Key(error.to_string()))?;
        Ok(Identity::new(file.signer, key))
    }

    /// The signer.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The key pair.
    pub fn key(&self) -> &KeyPair {
        &self.key
    }

    /// The next nonce: the current time in microseconds, or one more than the last nonce if the clock
    /// has not moved on, so that nonces keep increasing within and across processes.
    pub fn next_nonce(&self) -> u64 {
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|duration| duration.as_micros() as u64)
            .unwrap_or(0);
        let previous = self
            .last_nonce
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(now_us.max(last + 1)))
            .expect("the update always succeeds");
        now_us.max(previous + 1)
    }

    /// The timestamp of the next signed read: the current time in milliseconds, or one more than the
    /// last, so that no two signed reads of this identity are alike (the server refuses a WebSocket
    /// upgrade whose signed read it has seen before).
    pub fn next_read_timestamp_ms(&self) -> u64 {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|duration| duration.as_millis() as u64)
            .unwrap_or(0);
        let previous = self
            .last_read_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(now_ms.max(last + 1)))
            .expect("the update always succeeds");
        now_ms.max(previous + 1)
    }

    /// Signs an envelope of `commands` with a fresh nonce.
    pub fn sign(&self, commands: Vec<Command>) -> SignedEnvelope {
        Envelope { signer: self.signer.clone(), nonce: self.next_nonce(), commands }.sign(&self.key)
    }
}

/// What can go wrong talking to Colony.
#[derive(Debug)]
pub enum ClientError {
    /// The server refused, with a problem document (stable `code`, `detail`, `field`).
    Problem(Box<Problem>),
    /// The request did not reach the server or the answer did not come back.
    Transport(String),
    /// The answer could not be understood.
    Decode(String),
    /// A key could not be loaded.
    Key(String),
    /// An argument is not valid (an id or name with characters outside its alphabet, say).
    Invalid(String),
    /// The call needs an identity (to sign) and the client has none.
    NoIdentity,
}

impl ClientError {
    /// The problem's machine code, when the server refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Problem(problem) => Some(&problem.code),
            _ => None,
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Problem(problem) => write!(formatter, "{problem}"),
            ClientError::Transport(reason) => write!(formatter, "cannot reach the server: {reason}"),
            ClientError::Decode(reason) => write!(formatter, "unexpected answer: {reason}"),
            ClientError::Key(reason) => write!(formatter, "key: {reason}"),
            ClientError::Invalid(reason) => write!(formatter, "invalid input: {reason}"),
            ClientError::NoIdentity => formatter.write_str("this call must be signed: give the client a key"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A Colony client. Cheap to clone; clones share connections and the identity's nonce counter.
#[derive(Clone)]
pub struct Client {
    base_url: String,
    http: reqwest::Client,
    identity: Option<Arc<Identity>>,
    read_token: Option<String>,
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:7410`).
    pub fn new(base_url: impl Into<String>) -> Client {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .expect("the HTTP client builds");
        Client { base_url: base_url.into().trim_end_matches('/').to_owned(), http, identity: None, read_token: None }
    }

    /// The same client, signing as `identity`.
    pub fn with_identity(mut self, identity: Identity) -> Client {
        self.identity = Some(Arc::new(identity));
        self
    }

    /// The same client, reading with a bearer token instead of signed reads.
    pub fn with_read_token(mut self, token: impl Into<String>) -> Client {
        self.read_token = Some(token.into());
        self
    }

    /// The identity, if any.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_deref()
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn identity_or_error(&self) -> Result<&Identity, ClientError> {
        self.identity.as_deref().ok_or(ClientError::NoIdentity)
    }

    // ----- Writes -----

    /// Signs and submits one command through `/v1/commands`. A refused command is an error.
    pub async fn submit_one(&self, command: Command) -> Result<SubmitResponse, ClientError> {
        let signed = self.identity_or_error()?.sign(vec![command]);
        self.post_signed("/v1/commands", &signed).await
    }

    /// Signs and submits many commands in one envelope through `/v1/batch`. Each command's result is
    /// in the response; only envelope-level refusals are errors.
    pub async fn submit_batch(&self, commands: Vec<Command>) -> Result<SubmitResponse, ClientError> {
        let signed = self.identity_or_error()?.sign(commands);
        self.post_signed("/v1/batch", &signed).await
    }

    /// Posts an already signed envelope (for replays, forgeries and other tests of the server). The
    /// `colony-signer` header names the signer the body names: the server reads a large body only
    /// from a registered signer, and refuses a body whose signer differs from the header.
    pub async fn post_signed(&self, path: &str, signed: &SignedEnvelope) -> Result<SubmitResponse, ClientError> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, hex::encode(signed.signature));
        if let Some(signer) = signed.signer().and_then(|signer| reqwest::header::HeaderValue::from_str(&signer).ok()) {
            request = request.header(READ_SIGNER_HEADER, signer);
        }
        let request = request.body(signed.body.clone());
        self.send(request).await
    }

    /// Registers the client's own agent (self-registration).
    pub async fn register_self(&self, role: Name, capabilities: &[&str]) -> Result<SubmitResponse, ClientError> {
        let identity = self.identity_or_error()?;
        let Signer::Agent(agent) = identity.signer().clone() else {
            return Err(ClientError::Key("the operator is not an agent".to_owned()));
        };
        let capabilities = parse_names(capabilities)?;
        self.submit_one(Command::RegisterAgent(RegisterAgent {
            agent,
            public_key: identity.key().public_key(),
            role,
            capabilities,
            weight: None,
            parent: None,
            referrer: None,
        }))
        .await
    }

    /// Sends a heartbeat for the client's own agent.
    pub async fn heartbeat(&self) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::Heartbeat(Heartbeat {})).await
    }

    /// Halts an agent (operator or parent).
    pub async fn halt(&self, agent: AgentId, reason: &str) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::HaltAgent(HaltAgent { agent, reason: reason.to_owned() })).await
    }

    /// Lifts a halt.
    pub async fn resume(&self, agent: AgentId) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::ResumeAgent(ResumeAgent { agent })).await
    }

    /// Deregisters an agent.
    pub async fn deregister(&self, agent: AgentId) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::DeregisterAgent(DeregisterAgent { agent })).await
    }

    /// Replaces the swarm configuration (operator).
    pub async fn set_config(&self, config: SwarmConfig) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::SetConfig(SetConfig { config })).await
    }

    /// Authorises `token` for reads (operator). Only its SHA-256 is sent.
    pub async fn issue_read_token(
        &self,
        token: &str,
        label: &str,
        expires_at_ms: Option<u64>,
    ) -> Result<SubmitResponse, ClientError> {
        let token_sha256 = colony_wire::read_auth::token_sha256(token);
        self.submit_one(Command::IssueReadToken(IssueReadToken {
            token_sha256,
            label: label.to_owned(),
            expires_at_ms,
        }))
        .await
    }

    /// Mints `amount` into `to`'s wallet (operator).
    pub async fn mint(
        &self,
        transfer_id: &str,
        to: AgentId,
        amount: colony_core::Amount,
    ) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::Mint(Mint { transfer_id: name(transfer_id)?, to, amount })).await
    }

    /// Pays another agent.
    pub async fn transfer(
        &self,
        transfer_id: &str,
        to: AgentId,
        amount: colony_core::Amount,
    ) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::Transfer(Transfer { transfer_id: name(transfer_id)?, to, amount })).await
    }

    /// Locks funds in escrow for `payee`; returns the escrow id and whether it already existed (a
    /// repeated lock with the same task id).
    pub async fn lock_escrow(&self, lock: EscrowLock) -> Result<(u64, bool), ClientError> {
        let response = self
            .submit_one(Command::LockEscrow(LockEscrow {
                payee: lock.payee,
                amount: lock.amount,
                timeout_ms: lock.timeout_ms,
                task_id: lock.task_id.as_deref().map(name).transpose()?,
                arbiter: lock.arbiter,
                hashlock: lock.hashlock,
                referrer: lock.referrer,
                description: lock.description,
            }))
            .await?;
        let result = response.results.first();
        let existing = result.and_then(|result| result.status.as_deref()) == Some("existing");
        result
            .and_then(|result| result.escrow_id)
            .map(|id| (id, existing))
            .ok_or_else(|| ClientError::Decode("the lock's result carries no escrow id".to_owned()))
    }

    /// Releases an escrow (payer, arbiter, or with the hashlock's preimage).
    pub async fn release_escrow(&self, escrow: u64, preimage: Option<String>) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::ReleaseEscrow(ReleaseEscrow { escrow, preimage })).await
    }

    /// Refunds an escrow to its payer (payee or arbiter).
    pub async fn refund_escrow(&self, escrow: u64) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::RefundEscrow(RefundEscrow { escrow })).await
    }

    /// Gives a locked escrow more time (payer): it now expires `timeout_ms` from the server's log time.
    pub async fn extend_escrow(&self, escrow: u64, timeout_ms: u64) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::ExtendEscrow(ExtendEscrow { escrow, timeout_ms })).await
    }

    /// Disputes an escrow (payer or payee).
    pub async fn dispute_escrow(&self, escrow: u64, reason: &str) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::DisputeEscrow(DisputeEscrow { escrow, reason: reason.to_owned() })).await
    }

    /// Resolves a disputed escrow (arbiter, or the operator when none is named).
    pub async fn resolve_escrow(
        &self,
        escrow: u64,
        resolution: colony_core::EscrowResolution,
    ) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::ResolveEscrow(ResolveEscrow { escrow, resolution })).await
    }

    // ----- Reads -----

    /// An agent's wallet.
    pub async fn wallet(&self, agent: &AgentId) -> Result<WalletView, ClientError> {
        self.get(&format!("/v1/wallets/{agent}")).await
    }

    /// The books as a whole.
    pub async fn ledger(&self) -> Result<LedgerView, ClientError> {
        self.get("/v1/ledger").await
    }

    /// One escrow.
    pub async fn escrow(&self, id: u64) -> Result<colony_core::Escrow, ClientError> {
        self.get(&format!("/v1/escrows/{id}")).await
    }

    /// A page of escrows. `query` is a URL query string without `?` (`payer=a&state=locked`).
    pub async fn escrows(&self, query: &str) -> Result<EscrowPage, ClientError> {
        let path = if query.is_empty() { "/v1/escrows".to_owned() } else { format!("/v1/escrows?{query}") };
        self.get(&path).await
    }

    /// What an agent and everything it spawned spent and earned.
    pub async fn costs(&self, agent: &AgentId) -> Result<CostRollupView, ClientError> {
        self.get(&format!("/v1/agents/{agent}/costs")).await
    }

    /// One page of agents. `query` is a URL query string without `?` (`role=scout&limit=10`).
    pub async fn agents(&self, query: &str) -> Result<AgentPage, ClientError> {
        let path = if query.is_empty() { "/v1/agents".to_owned() } else { format!("/v1/agents?{query}") };
        self.get(&path).await
    }

    /// Every agent, following pages.
    pub async fn all_agents(&self) -> Result<Vec<AgentView>, ClientError> {
        let mut agents = Vec::new();
        let mut after: Option<AgentId> = None;
        loop {
            let query = match &after {
                Some(after) => format!("limit=1000&after={after}"),
                None => "limit=1000".to_owned(),
            };
            let page = self.agents(&query).await?;
            agents.extend(page.agents);
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(agents),
            }
        }
    }

    /// One agent.
    pub async fn agent(&self, id: &AgentId) -> Result<AgentView, ClientError> {
        self.get(&format!("/v1/agents/{id}")).await
    }

    /// Server status.
    pub async fn status(&self) -> Result<StatusView, ClientError> {
        self.get("/v1/status").await
    }

    /// The swarm configuration.
    pub async fn config(&self) -> Result<SwarmConfig, ClientError> {
        self.get("/v1/config").await
    }

    /// The state hash.
    pub async fn state_hash(&self) -> Result<StateHashView, ClientError> {
        self.get("/v1/state/hash").await
    }

    /// The newest checkpoint the operator signed over the log.
    pub async fn log_checkpoint(&self) -> Result<colony_wire::views::CheckpointView, ClientError> {
        self.get("/v1/log/checkpoint").await
    }

    /// The proof that entry `sequence` is in the history the first checkpoint after it vouches for.
    pub async fn log_proof(&self, sequence: u64) -> Result<colony_wire::views::LogProofView, ClientError> {
        self.get(&format!("/v1/log/proof?sequence={sequence}")).await
    }

    /// Whether the server is ready for writes.
    pub async fn ready(&self) -> bool {
        let url = format!("{}/v1/health/ready", self.base_url);
        matches!(self.http.get(url).send().await, Ok(response) if response.status().is_success())
    }

    /// The event stream from entry `from` (inclusive), or new events only.
    pub async fn events(&self, from: Option<u64>) -> Result<EventStream, ClientError> {
        let path = match from {
            Some(from) => format!("/v1/events?from={from}"),
            None => "/v1/events".to_owned(),
        };
        let request = self.authenticated_get(&path)?;
        let response = request.send().await.map_err(|error| ClientError::Transport(error.to_string()))?;
        if !response.status().is_success() {
            return Err(problem_from(response).await);
        }
        Ok(EventStream::new(response))
    }

    /// A GET with read credentials.
    pub fn authenticated_get(&self, path: &str) -> Result<reqwest::RequestBuilder, ClientError> {
        let request = self.http.get(format!("{}{path}", self.base_url));
        if let Some(token) = &self.read_token {
            return Ok(request.bearer_auth(token));
        }
        let identity = self.identity_or_error()?;
        let timestamp_ms = identity.next_read_timestamp_ms();
        let signature = identity.key().sign(&read_signing_message(identity.signer(), "GET", path, timestamp_ms));
        Ok(request
            .header(READ_SIGNER_HEADER, identity.signer().to_string())
            .header(READ_TIMESTAMP_HEADER, timestamp_ms.to_string())
            .header(READ_SIGNATURE_HEADER, hex::encode(signature)))
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let request = self.authenticated_get(path)?;
        self.send(request).await
    }

    async fn send<T: serde::de::DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ClientError> {
        let response = request.send().await.map_err(|error| ClientError::Transport(error.to_string()))?;
        if !response.status().is_success() {
            return Err(problem_from(response).await);
        }
        let bytes = response.bytes().await.map_err(|error| ClientError::Transport(error.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|error| ClientError::Decode(error.to_string()))
    }
}

async fn problem_from(response: reqwest::Response) -> ClientError {
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(bytes) => match serde_json::from_slice::<Problem>(&bytes) {
            Ok(problem) => ClientError::Problem(Box::new(problem)),
            Err(_) => ClientError::Decode(format!("status {status}: {}", String::from_utf8_lossy(&bytes))),
        },
        Err(error) => ClientError::Transport(error.to_string()),
    }
}

/// The terms of an escrow lock.
#[derive(Clone, Debug)]
pub struct EscrowLock {
    /// Who is paid on release.
    pub payee: AgentId,
    /// How much.
    pub amount: colony_core::Amount,
    /// Refund automatically after this long (24 hours unless set).
    pub timeout_ms: u64,
    /// The payer's task id (a repeated lock with it returns the same escrow).
    pub task_id: Option<String>,
    /// Who may also release, refund and resolve.
    pub arbiter: Option<AgentId>,
    /// SHA-256 of a secret whose holder may release.
    pub hashlock: Option<colony_core::Digest>,
    /// The referrer to credit.
    pub referrer: Option<AgentId>,
    /// What the money is for.
    pub description: Option<String>,
}

impl EscrowLock {
    /// A lock of `amount` for `payee`, expiring after the server's default of 24 hours, with nothing
    /// else set.
    pub fn new(payee: AgentId, amount: colony_core::Amount) -> EscrowLock {
        EscrowLock {
            payee,
            amount,
            timeout_ms: colony_core::limits::ESCROW_TIMEOUT_MS_DEFAULT,
            task_id: None,
            arbiter: None,
            hashlock: None,
            referrer: None,
            description: None,
        }
    }

    /// The same lock, refunded automatically after `timeout_ms` instead.
    pub fn timeout_ms(self, timeout_ms: u64) -> EscrowLock {
        EscrowLock { timeout_ms, ..self }
    }
}

fn name(text: &str) -> Result<Name, ClientError> {
    Name::new(text).map_err(|error| ClientError::Invalid(format!("'{text}': {error}")))
}

fn parse_names(names: &[&str]) -> Result<std::collections::BTreeSet<Name>, ClientError> {
    names
        .iter()
        .map(|name| Name::new(*name).map_err(|error| ClientError::Invalid(format!("capability '{name}': {error}"))))
        .collect()
}
