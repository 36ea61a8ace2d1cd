//! Shared helpers for the HTTP integration tests: a real server on an ephemeral port, clients that sign
//! as the operator or as agents, and raw requests for what the client will not send.

#![allow(dead_code)]

use colony_core::command::RegisterAgent;
use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use colony_client::{Client, ClientError, EventStream, Identity};
use colony_core::{AgentId, Command, Event, Name, Signer};
use colony_server::{RunningServer, ServerSettings, StartReport};
use colony_wire::problem::PROBLEM_CONTENT_TYPE;
use colony_wire::views::{AgentView, StateHashView, SubmitResponse};
use colony_wire::{KeyFile, KeyPair, Problem, SignedEnvelope};

/// The six roles of the seed taxonomy.
pub const SEED_ROLES: [&str; 6] = ["scout", "analyst", "executor", "risk", "oracle", "treasury"];

/// How long any wait for the server may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Wall-clock time in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis() as u64
}

/// An agent id (panics on invalid text: tests use literal ids).
pub fn id(text: &str) -> AgentId {
    AgentId::new(text).expect("a valid agent id")
}

/// A role or capability name.
pub fn name(text: &str) -> Name {
    Name::new(text).expect("a valid name")
}

/// A set of capability names.
pub fn names(texts: &[&str]) -> BTreeSet<Name> {
    texts.iter().map(|text| name(text)).collect()
}

/// A registration command with no capabilities, weight, parent or referrer.
pub fn register(agent: &str, key: &KeyPair, role: &str) -> Command {
    Command::RegisterAgent(RegisterAgent {
        agent: id(agent),
        public_key: key.public_key(),
        role: name(role),
        capabilities: BTreeSet::new(),
        weight: None,
        parent: None,
        referrer: None,
    })
}

/// Settings for a server on an ephemeral port over `data_dir`.
pub fn settings(data_dir: &Path) -> ServerSettings {
    ServerSettings::new(data_dir, "127.0.0.1:0".parse().expect("an address"))
}

/// A running server and an operator client for it.
pub struct TestServer {
    server: RunningServer,
    /// The address the server listens on.
    pub addr: std::net::SocketAddr,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The operator's key, as the server wrote it.
    pub operator_key: KeyPair,
    /// A client signing as the operator.
    pub operator: Client,
    raw: reqwest::Client,
}

/// Starts a server with `settings` and reads the operator key it wrote.
pub async fn start(settings: ServerSettings) -> TestServer {
    let data_dir = settings.data_dir.clone();
    let server = colony_server::start(settings).await.expect("the server starts");
    let url = format!("http://{}", server.local_addr());
    let operator_key = KeyFile::read(&data_dir.join("operator.key"))
        .expect("the server wrote the operator key")
        .key_pair()
        .expect("a consistent key file");
    assert_eq!(operator_key.public_key(), server.report.operator_key);
    let operator = Client::new(&url).with_identity(Identity::new(Signer::Operator, operator_key.clone()));
    let addr = server.local_addr();
    TestServer { server, addr, url, data_dir, operator_key, operator, raw: reqwest::Client::new() }
}

/// Starts a server with default settings over `data_dir`.
pub async fn start_in(data_dir: &Path) -> TestServer {
    start(settings(data_dir)).await
}

/// A raw HTTP answer.
#[derive(Debug)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
    /// Every header.
    pub headers: reqwest::header::HeaderMap,
}

impl RawResponse {
    /// The body as a problem document, checking the content type and that the document's status is
    /// the HTTP status.
    pub fn problem(&self) -> Problem {
        assert_eq!(
            self.content_type.as_deref(),
            Some(PROBLEM_CONTENT_TYPE),
            "an error (status {}) must be a problem document: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        let problem: Problem = serde_json::from_slice(&self.body).expect("a problem document");
        assert_eq!(problem.status, self.status, "the document's status is the HTTP status");
        assert_eq!(problem.problem_type, format!("urn:colony:problem:{}", problem.code));
        assert!(!problem.detail.is_empty(), "a problem explains itself");
        problem
    }

    /// Checks that this is a problem with `status`, `code` and `field`; returns it.
    pub fn expect_problem(&self, status: u16, code: &str, field: Option<&str>) -> Problem {
        assert_eq!(self.status, status, "status, body: {}", String::from_utf8_lossy(&self.body));
        let problem = self.problem();
        assert_eq!(problem.code, code, "code of {problem}");
        assert_eq!(problem.field.as_deref(), field, "field of {problem}");
        problem
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

impl TestServer {
    /// The server's ephemeral bus, for in-process subscribers.
    pub fn bus(&self) -> std::sync::Arc<colony_server::bus::EphemeralBus> {
        self.server.bus()
    }

    /// What startup found.
    pub fn report(&self) -> &StartReport {
        &self.server.report
    }

    /// A client with no credentials.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.url)
    }

    /// A client signing as agent `agent` with `key`.
    pub fn agent_client(&self, agent: &str, key: &KeyPair) -> Client {
        Client::new(&self.url).with_identity(Identity::new(Signer::Agent(id(agent)), key.clone()))
    }

    /// A fresh key and a client signing as `agent` with it (the agent is not registered).
    pub fn new_agent(&self, agent: &str) -> (Client, KeyPair) {
        let key = KeyPair::generate();
        (self.agent_client(agent, &key), key)
    }

    /// Registers `agent` with a fresh key through the operator; returns a client signing as it.
    pub async fn operator_registers(&self, agent: &str, role: &str) -> (Client, KeyPair) {
        let (client, key) = self.new_agent(agent);
        let response = self.operator.submit_one(register(agent, &key, role)).await.expect("the operator registers");
        assert!(response.results[0].ok);
        (client, key)
    }

    /// Registers `agent` by itself with a fresh key; returns its client.
    pub async fn self_registers(&self, agent: &str, role: &str, capabilities: &[&str]) -> (Client, KeyPair) {
        let (client, key) = self.new_agent(agent);
        let response = client.register_self(name(role), capabilities).await.expect("the agent registers itself");
        assert!(response.results[0].ok);
        (client, key)
    }

    /// Waits until the log's head is the operator's checkpoint over everything before it. The writer
    /// appends a checkpoint when one is due by clock time, right after the entry that made it due;
    /// with a manual clock standing still it then appends nothing more, so what a test reads next
    /// is not overtaken by a late checkpoint entry.
    pub async fn settled(&self) {
        poll_until("a checkpoint over the log's head", || async {
            let head = self.operator.status().await.ok()?.sequence;
            let checkpoint = self.operator.log_checkpoint().await.ok()?;
            (checkpoint.record_sequence == head).then_some(())
        })
        .await;
    }

    /// The state hash, read as the operator.
    pub async fn hash(&self) -> StateHashView {
        self.operator.state_hash().await.expect("the state hash")
    }

    /// One agent, read as the operator.
    pub async fn agent(&self, agent: &str) -> AgentView {
        self.operator.agent(&id(agent)).await.expect("the agent exists")
    }

    /// Every agent, read as the operator.
    pub async fn all_agents(&self) -> Vec<AgentView> {
        self.operator.all_agents().await.expect("the agent list")
    }

    /// Posts `body` to `path` with `signature` (hex) in the signature header, if any. The signer header
    /// names the body's `signer`, or the operator when the body names no valid one, so that the server
    /// reads the body and judges it.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>, signature: Option<String>) -> RawResponse {
        let signer = SignedEnvelope { body: body.clone(), signature: [0; 64] }
            .signer()
            .filter(|signer| Signer::parse(signer).is_ok())
            .unwrap_or_else(|| "operator".to_owned());
        let mut request = self
            .raw
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .header(colony_wire::read_auth::READ_SIGNER_HEADER, signer)
            .body(body);
        if let Some(signature) = signature {
            request = request.header(colony_wire::envelope::SIGNATURE_HEADER, signature);
        }
        into_raw(request.send().await.expect("the server answers")).await
    }

    /// Posts a signed envelope to `path`.
    pub async fn post_signed_raw(&self, path: &str, signed: &SignedEnvelope) -> RawResponse {
        self.post_raw(path, signed.body.clone(), Some(hex::encode(signed.signature))).await
    }

    /// A GET without credentials, or with a bearer token.
    pub async fn get_raw(&self, path: &str, bearer: Option<&str>) -> RawResponse {
        let mut request = self.raw.get(format!("{}{path}", self.url));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        into_raw(request.send().await.expect("the server answers")).await
    }

    /// A request with any method and no credentials.
    pub async fn request_raw(&self, method: reqwest::Method, path: &str) -> RawResponse {
        let request = self.raw.request(method, format!("{}{path}", self.url));
        into_raw(request.send().await.expect("the server answers")).await
    }

    /// A signed GET as `client`'s identity, answered raw.
    pub async fn signed_get_raw(&self, client: &Client, path: &str) -> RawResponse {
        let request = client.authenticated_get(path).expect("the client can sign");
        into_raw(request.send().await.expect("the server answers")).await
    }

    /// Writes `head` (the request line and headers, ending in an empty line) and `body` to a plain TCP
    /// connection and reads the answer until the server closes it: for requests no HTTP client sends,
    /// such as a body that is announced but never sent. Write errors are ignored (the server may
    /// answer and close before reading everything).
    pub async fn exchange_raw(&self, head: String, body: Vec<u8>) -> RawResponse {
        use std::io::{Read as _, Write as _};
        let addr = self.addr;
        let bytes = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(addr).expect("connect");
            stream.set_read_timeout(Some(WAIT)).expect("a read timeout");
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
            let mut bytes = Vec::new();
            stream.read_to_end(&mut bytes).expect("the server answers and closes the connection");
            bytes
        })
        .await
        .expect("the exchange ran");
        let end = bytes.windows(4).position(|window| window == b"\r\n\r\n").expect("a complete head");
        let head = String::from_utf8(bytes[..end].to_vec()).expect("an ASCII head");
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|line| line.split(' ').nth(1)).and_then(|code| code.parse().ok());
        let mut headers = reqwest::header::HeaderMap::new();
        for line in lines {
            let (name, value) = line.split_once(':').expect("a header line");
            headers.append(
                reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).expect("a header name"),
                value.trim().parse().expect("a header value"),
            );
        }
        let mut body = bytes[end + 4..].to_vec();
        if let Some(length) = headers.get("content-length").and_then(|value| value.to_str().ok()?.parse().ok()) {
            body.truncate(length);
        }
        let content_type = headers.get("content-type").and_then(|value| value.to_str().ok()).map(str::to_owned);
        RawResponse { status: status.expect("a status line"), content_type, body, headers }
    }

    /// Graceful shutdown.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

async fn into_raw(response: reqwest::Response) -> RawResponse {
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|value| value.to_str().ok()).map(|value| value.to_owned());
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("the body arrives").to_vec();
    RawResponse { status, content_type, body, headers }
}

/// Checks that `result` is a refusal with `status`, `code` and `field`; returns the problem.
pub fn expect_problem<T: std::fmt::Debug>(
    result: Result<T, ClientError>,
    status: u16,
    code: &str,
    field: Option<&str>,
) -> Problem {
    match result {
        Err(ClientError::Problem(problem)) => {
            // Works whether the client boxes the problem or not.
            let problem = Problem::clone(&problem);
            assert_eq!(problem.code, code, "code of {problem}");
            assert_eq!(problem.status, status, "status of {problem}");
            assert_eq!(problem.field.as_deref(), field, "field of {problem}");
            problem
        }
        other => panic!("expected the problem {code} ({status}), got {other:?}"),
    }
}

/// The results of a write as `(ok, status or problem code)` pairs, for compact assertions.
pub fn outcomes(response: &SubmitResponse) -> Vec<(bool, String)> {
    response
        .results
        .iter()
        .map(|result| match (&result.status, &result.problem) {
            (Some(status), _) => (result.ok, status.clone()),
            (None, Some(problem)) => (result.ok, problem.code.clone()),
            (None, None) => panic!("a result says neither status nor problem: {result:?}"),
        })
        .collect()
}

/// The next event of `stream`, failing the test if none comes within [`WAIT`].
pub async fn next_event(stream: &mut EventStream) -> Event {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("an event arrives in time")
        .expect("the stream stays open")
        .expect("the event decodes")
}

/// Reads events until one satisfies `wanted`; returns every event read, the wanted one last.
pub async fn events_until(stream: &mut EventStream, wanted: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(stream).await;
        let done = wanted(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// Polls `check` every 20 ms until it returns `Some`, failing the test after [`WAIT`].
pub async fn poll_until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ----- Ledger helpers -----

/// An amount of minor units.
pub fn amount(minor_units: u64) -> colony_core::Amount {
    colony_core::Amount(minor_units)
}

/// A server whose clock starts at the current real time (so that signed reads stay within their
/// allowed skew) and moves only when the test says so.
pub async fn start_manual(data_dir: &Path) -> (TestServer, colony_server::ManualClock) {
    let clock = colony_server::ManualClock::new(now_ms());
    let mut settings = settings(data_dir);
    settings.clock = std::sync::Arc::new(clock.clone());
    (start(settings).await, clock)
}

/// A registration command with a parent and a referrer.
pub fn register_related(
    agent: &str,
    key: &KeyPair,
    role: &str,
    parent: Option<&str>,
    referrer: Option<&str>,
) -> Command {
    Command::RegisterAgent(RegisterAgent {
        agent: id(agent),
        public_key: key.public_key(),
        role: name(role),
        capabilities: BTreeSet::new(),
        weight: None,
        parent: parent.map(id),
        referrer: referrer.map(id),
    })
}

/// Everything money-related a refused command must leave alone: the named wallets, the books, and
/// every escrow.
#[derive(Debug, PartialEq, Eq)]
pub struct Books {
    /// The wallets, in the order asked for.
    pub wallets: Vec<colony_wire::views::WalletView>,
    /// `/v1/ledger`.
    pub ledger: colony_wire::views::LedgerView,
    /// Every escrow, by id.
    pub escrows: Vec<colony_core::Escrow>,
}

impl TestServer {
    /// Registers `agent` through the operator with a fresh key, a parent and a referrer.
    pub async fn operator_registers_related(
        &self,
        agent: &str,
        role: &str,
        parent: Option<&str>,
        referrer: Option<&str>,
    ) -> (Client, KeyPair) {
        let (client, key) = self.new_agent(agent);
        let command = register_related(agent, &key, role, parent, referrer);
        let response = self.operator.submit_one(command).await.expect("the operator registers");
        assert!(response.results[0].ok);
        (client, key)
    }

    /// Mints `minor_units` into `agent`'s wallet as the operator.
    pub async fn fund(&self, transfer_id: &str, agent: &str, minor_units: u64) {
        let response = self.operator.mint(transfer_id, id(agent), amount(minor_units)).await.expect("the mint");
        assert_eq!(outcomes(&response), [(true, "done".to_owned())]);
    }

    /// An agent's wallet, read as the operator.
    pub async fn wallet(&self, agent: &str) -> colony_wire::views::WalletView {
        self.operator.wallet(&id(agent)).await.expect("the wallet")
    }

    /// An agent's spendable balance in minor units.
    pub async fn balance(&self, agent: &str) -> u64 {
        self.wallet(agent).await.balance.0
    }

    /// `/v1/ledger`, checking that the books balance: supply = wallets + fees + escrow held.
    pub async fn balanced_ledger(&self) -> colony_wire::views::LedgerView {
        let ledger = self.operator.ledger().await.expect("the ledger");
        assert!(ledger.balanced, "the books balance: {ledger:?}");
        assert_eq!(ledger.supply, ledger.wallets_total + ledger.fees + ledger.escrow_held, "{ledger:?}");
        ledger
    }

    /// Every escrow, following pages.
    pub async fn all_escrows(&self) -> Vec<colony_core::Escrow> {
        let mut escrows = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let query = match after {
                Some(after) => format!("limit=1000&after={after}"),
                None => "limit=1000".to_owned(),
            };
            let page = self.operator.escrows(&query).await.expect("the escrow list");
            escrows.extend(page.escrows);
            match page.next_after {
                Some(next) => after = Some(next),
                None => return escrows,
            }
        }
    }

    /// The wallets of `agents`, the books and every escrow.
    pub async fn books(&self, agents: &[&str]) -> Books {
        let mut wallets = Vec::new();
        for agent in agents {
            wallets.push(self.wallet(agent).await);
        }
        Books { wallets, ledger: self.balanced_ledger().await, escrows: self.all_escrows().await }
    }
}
