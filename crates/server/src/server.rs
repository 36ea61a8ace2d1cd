//! Starting and stopping a server: data directory, operator key, recovery, driver, HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use colony_core::{Signer, SwarmConfig};
use colony_log::{CommandLog, SqliteLog};
use colony_wire::{KeyFile, KeyPair};
use tokio::net::TcpListener;

use crate::bus::Bus;
use crate::clock::{Clock, SystemClock};
use crate::driver::{self, DriverHandle, DriverSettings};
use crate::events::EventHub;
use crate::http;
use crate::recovery;

/// The command log's file name inside the data directory.
pub const LOG_FILE_NAME: &str = "colony.db";
/// The operator key's file name inside the data directory.
pub const OPERATOR_KEY_FILE_NAME: &str = "operator.key";
/// A lock file that keeps two servers off one data directory.
const LOCK_FILE_NAME: &str = "colony.lock";

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7410";
/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./colony-data";

/// Everything a server needs to start.
#[derive(Clone)]
pub struct ServerSettings {
    /// Where the log, snapshots and operator key live.
    pub data_dir: PathBuf,
    /// Where to listen (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The clock that stamps entries.
    pub clock: Arc<dyn Clock>,
    /// Driver settings (queue, snapshots).
    pub driver: DriverSettings,
    /// The configuration a new swarm starts with.
    pub genesis_config: SwarmConfig,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may take before it is answered with `timeout`.
    pub request_timeout: Duration,
    /// Events kept in memory for resumable streams.
    pub events_retained: usize,
    /// Whether each group commit is fsync'd (`Full`, the default) or left to the operating system
    /// (`Relaxed`: survives a killed process, not a power loss).
    pub durability: colony_log::Durability,
}

impl ServerSettings {
    /// Defaults for a data directory and listen address.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> ServerSettings {
        ServerSettings {
            data_dir: data_dir.into(),
            listen,
            clock: Arc::new(SystemClock),
            driver: DriverSettings::default(),
            genesis_config: SwarmConfig::default(),
            body_limit_bytes: 16 << 20,
            request_timeout: Duration::from_secs(30),
            events_retained: 100_000,
            durability: colony_log::Durability::Full,
        }
    }
}

/// Why a server did not start.
#[derive(Debug)]
pub enum StartError {
    /// The data directory or a file in it is unusable.
    DataDir(String),
    /// Another server holds the data directory.
    Locked(PathBuf),
    /// The log could not be opened.
    Log(colony_log::OpenError),
    /// Recovery failed: the log or a snapshot is damaged beyond what recovery may skip.
    Recovery(recovery::RecoveryError),
    /// The listen address could not be bound.
    Bind(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::DataDir(reason) => write!(formatter, "data directory: {reason}"),
            StartError::Locked(path) => {
                write!(formatter, "another Colony server is using {} (lock file {LOCK_FILE_NAME})", path.display())
            }
            StartError::Log(error) => write!(formatter, "{error}"),
            StartError::Recovery(error) => write!(formatter, "recovery failed: {error}"),
            StartError::Bind(error) => write!(formatter, "cannot listen: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

/// What startup found, for the operator.
#[derive(Clone, Debug)]
pub struct StartReport {
    /// The address the server listens on.
    pub local_addr: SocketAddr,
    /// The operator's public key.
    pub operator_key: colony_core::PublicKey,
    /// Whether this start created the swarm (a new operator key and genesis).
    pub created: bool,
    /// The snapshot recovery started from.
    pub snapshot_sequence: u64,
    /// Entries replayed after it.
    pub entries_replayed: u64,
    /// Time recovery took.
    pub recovery_elapsed: Duration,
    /// Damaged snapshots that were skipped.
    pub skipped_snapshots: Vec<(u64, String)>,
}

/// A running server.
pub struct RunningServer {
    /// What startup found.
    pub report: StartReport,
    driver: DriverHandle,
    bus: Arc<Bus>,
    shutdown: tokio::sync::watch::Sender<bool>,
    http_task: tokio::task::JoinHandle<()>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    _lock: std::fs::File,
}

impl RunningServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.report.local_addr
    }

    /// The driver, for in-process use (benchmarks, the embedded demo).
    pub fn driver(&self) -> &DriverHandle {
        &self.driver
    }

    /// The ephemeral message bus the HTTP routes publish to, for in-process use (benchmarks that
    /// measure fan-out without HTTP, and read its counters).
    pub fn bus(&self) -> Arc<Bus> {
        Arc::clone(&self.bus)
    }

    /// Graceful shutdown: stop accepting, finish in-flight requests, drain the writer, take a final
    /// snapshot.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let _ = (&mut self.http_task).await;
        self.driver.stop().await;
        if let Some(thread) = self.writer_thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Reads the operator key from the data directory, creating it (mode 0600) on first start.
fn load_or_create_operator_key(data_dir: &Path) -> Result<(KeyPair, bool), StartError> {
    let path = data_dir.join(OPERATOR_KEY_FILE_NAME);
    if path.exists() {
        let file = KeyFile::read(&path).map_err(|error| StartError::DataDir(format!("{}: {error}", path.display())))?;
        let key = file.key_pair().map_err(|error| StartError::DataDir(error.to_string()))?;
        return Ok((key, false));
    }
    let key = KeyPair::generate();
    KeyFile::new(Signer::Operator, &key)
        .write_new(&path)
        .map_err(|error| StartError::DataDir(format!("{}: {error}", path.display())))?;
    Ok((key, true))
}

/// Opens the data directory, recovers, and starts serving.
pub async fn start(settings: ServerSettings) -> Result<RunningServer, StartError> {
    std::fs::create_dir_all(&settings.data_dir)
        .map_err(|error| StartError::DataDir(format!("{}: {error}", settings.data_dir.display())))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(settings.data_dir.join(LOCK_FILE_NAME))
        .map_err(|error| StartError::DataDir(error.to_string()))?;
    lock.try_lock().map_err(|_| StartError::Locked(settings.data_dir.clone()))?;

    let log_path = settings.data_dir.join(LOG_FILE_NAME);
    let mut log = SqliteLog::open_with(&log_path, settings.durability).map_err(StartError::Log)?;
    let mut created = false;
    if log.last_sequence() == 0 {
        // An operator key without a log means the log was lost (deleted, or a wrong directory): a new
        // genesis would silently start an empty swarm under the old identity.
        if settings.data_dir.join(OPERATOR_KEY_FILE_NAME).exists() {
            return Err(StartError::DataDir(format!(
                "{} holds an operator key but no command log ({LOG_FILE_NAME}); refusing to start an empty swarm. \
                 Restore the log, or remove {OPERATOR_KEY_FILE_NAME} to create a new swarm",
                settings.data_dir.display()
            )));
        }
        let (operator, new_key) = load_or_create_operator_key(&settings.data_dir)?;
        created = new_key;
        driver::write_genesis(
            &mut log,
            operator.public_key(),
            settings.genesis_config.clone(),
            settings.clock.now_ms(),
        )
        .map_err(|error| StartError::DataDir(error.to_string()))?;
    }

    let recovered = tokio::task::block_in_place(|| {
        recovery::recover(&log, settings.events_retained.max(1), |done, last| {
            tracing::debug!(done, last, "recovering");
        })
    })
    .map_err(StartError::Recovery)?;
    for (sequence, reason) in &recovered.skipped_snapshots {
        tracing::warn!(sequence, %reason, "skipped a damaged snapshot");
    }
    let operator_key = recovered.state.operator().expect("genesis applied").public_key;
    let events = EventHub::new(settings.events_retained.max(1), recovered.events_complete_from);
    events.publish(recovered.events);

    let listener = TcpListener::bind(settings.listen).await.map_err(StartError::Bind)?;
    let local_addr = listener.local_addr().map_err(StartError::Bind)?;
    let (driver, writer_thread) = driver::start(
        Box::new(log) as Box<dyn CommandLog>,
        recovered.state,
        events,
        Arc::new(crate::bus::Bus::new(settings.clock.now_ms())),
        Arc::clone(&settings.clock),
        settings.driver.clone(),
    );

    let (shutdown, mut shutdown_signal) = tokio::sync::watch::channel(false);
    let app = http::AppState::new(driver.clone(), &settings, shutdown.subscribe());
    let bus = Arc::clone(&app.bus);
    let router = http::router(app);
    let http_task = tokio::spawn(async move {
        // Streams (bus messages, events) write many small frames: without TCP_NODELAY each waits
        // for the peer's delayed acknowledgement, which costs up to 40 ms of latency per frame.
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream: &mut tokio::net::TcpStream| {
            let _ = stream.set_nodelay(true);
        });
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = shutdown_signal.wait_for(|stop| *stop).await;
        });
        if let Err(error) = serve.await {
            tracing::error!(%error, "HTTP server failed");
        }
    });
    Ok(RunningServer {
        report: StartReport {
            local_addr,
            operator_key,
            created,
            snapshot_sequence: recovered.snapshot_sequence,
            entries_replayed: recovered.entries_replayed,
            recovery_elapsed: recovered.elapsed,
            skipped_snapshots: recovered.skipped_snapshots,
        },
        driver,
        bus,
        shutdown,
        http_task,
        writer_thread: Some(writer_thread),
        _lock: lock,
    })
}
