//! Starting and stopping a server: data directory, operator key, recovery, driver, HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use colony_core::{Signer, SwarmConfig};
use colony_log::{CommandLog, FileSnapshots, SnapshotStore, SqliteLog};
use colony_wire::{KeyFile, KeyPair};
use tokio::net::TcpListener;

use crate::bus::EphemeralBus;
use crate::clock::{Clock, SystemClock};
use crate::driver::{self, DriverHandle, DriverSettings};
use crate::events::EventHub;
use crate::http;
use crate::listener::{self, ConnectionLimits};
use crate::recovery;

/// The command log's file name inside the data directory.
pub const LOG_FILE_NAME: &str = "colony.db";
/// The directory of snapshots inside the data directory.
pub const SNAPSHOTS_DIR_NAME: &str = "snapshots";
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
    /// Whether the writer appends checkpoints signed with the operator's key (every 4,096 entries,
    /// a second after the first entry none covers, at clean shutdown). Each is an entry of the log
    /// (a tick for the state machine), so a clean restart returns one entry more than the stop
    /// saw: the shutdown's checkpoint, which names the state hash of the entry before it.
    pub sign_checkpoints: bool,
    /// The configuration a new swarm starts with.
    pub genesis_config: SwarmConfig,
    /// Longest a request may take before it is answered with `timeout`; also the longest a request
    /// body may take to arrive.
    pub request_timeout: Duration,
    /// Connections open at once. `None` derives it from the limit of open files (raised to its hard
    /// limit at start), less [`crate::listener::FILE_DESCRIPTOR_RESERVE`] for the log, snapshots and
    /// the runtime, at most [`crate::listener::MAX_CONNECTIONS_CEILING`]: past the file limit every
    /// accept fails, health checks included. Connections over the cap are accepted and closed at once.
    pub max_connections: Option<usize>,
    /// Connections open at once from one IP address. `None`: half of the cap, so that one peer can
    /// never take every place and others (an operator's health check, another host) find room.
    pub max_connections_per_ip: Option<usize>,
    /// How long a client may take to send a request's head (slowloris clients trickle it), which is
    /// also how long an idle keep-alive connection stays open: hyper starts the same timer when a
    /// connection waits for its next request. 10 s is ample for any real client on any network.
    pub header_read_timeout: Duration,
    /// Request bodies in flight across all connections, in bytes, at most: bytes are counted as they
    /// arrive and given back when the request is answered; past it requests get `overloaded`
    /// (see [`crate::http::body`]). 256 MiB: sixteen of the largest batch bodies at once.
    pub body_budget_bytes: usize,
    /// Bytes of distinct messages the ephemeral bus holds for subscribers that are behind, before
    /// those subscribers stop getting new ones (see `bus::router::SubjectRouter::publish`).
    pub bus_buffered_bytes_max: u64,
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
            sign_checkpoints: true,
            genesis_config: SwarmConfig::default(),
            request_timeout: Duration::from_secs(30),
            max_connections: None,
            max_connections_per_ip: None,
            header_read_timeout: Duration::from_secs(10),
            body_budget_bytes: crate::http::body::BODY_BUDGET_BYTES_DEFAULT,
            bus_buffered_bytes_max: crate::bus::router::BUFFERED_BYTES_MAX,
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
    /// The snapshot directory could not be opened.
    Snapshots(colony_log::SnapshotStoreError),
    /// Recovery failed: the log or a snapshot is damaged beyond what recovery may skip.
    Recovery(recovery::RecoveryError),
    /// The log's history does not verify (chain, head or signed checkpoints).
    History(crate::history::HistoryError),
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
            StartError::Snapshots(error) => write!(formatter, "{error}"),
            StartError::Recovery(error) => write!(formatter, "recovery failed: {error}"),
            // The audit reports the same damage in the same words (`audit::history_failure`).
            StartError::History(error) => write!(formatter, "the command log is damaged: {error}"),
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
    /// The soft limit of open files after raising it.
    pub file_limit: u64,
    /// The connection limits in force.
    pub connections: ConnectionLimits,
}

/// A running server.
pub struct RunningServer {
    /// What startup found.
    pub report: StartReport,
    driver: DriverHandle,
    bus: Arc<EphemeralBus>,
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
    pub fn bus(&self) -> Arc<EphemeralBus> {
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

/// The operator's key, to sign checkpoints with, if the data directory holds it and it is the key the
/// log's genesis names. A checkpoint signed by another key would make the log fail its own
/// verification, so without the right key the server writes none (and says so).
fn checkpoint_signer(data_dir: &Path, operator_key: &colony_core::PublicKey) -> Option<driver::CheckpointSigner> {
    let path = data_dir.join(OPERATOR_KEY_FILE_NAME);
    let key = KeyFile::read(&path).ok().and_then(|file| file.key_pair().ok());
    match key {
        Some(key) if key.public_key() == *operator_key => Some(driver::CheckpointSigner(Arc::new(key))),
        Some(_) => {
            tracing::warn!(path = %path.display(), "the operator key file is not the genesis operator's; no checkpoints");
            None
        }
        None => {
            tracing::warn!(path = %path.display(), "no operator key file; the log gets no signed checkpoints");
            None
        }
    }
}

/// The data directory's mode: only the server's user may list or open anything in it. SQLite creates
/// the WAL and shared-memory files later, with the umask's mode, so the directory is what really
/// keeps others out; the files are tightened too.
#[cfg(unix)]
const DATA_DIR_MODE: u32 = 0o700;
/// The mode of every file in the data directory.
#[cfg(unix)]
const DATA_FILE_MODE: u32 = 0o600;

/// Creates the data directory (mode 0700) or tightens an existing one.
fn prepare_data_dir(data_dir: &Path) -> Result<(), StartError> {
    let failed = |error: std::io::Error| StartError::DataDir(format!("{}: {error}", data_dir.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        std::fs::DirBuilder::new().recursive(true).mode(DATA_DIR_MODE).create(data_dir).map_err(failed)?;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(DATA_DIR_MODE)).map_err(failed)?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(data_dir).map_err(failed)?;
    Ok(())
}

/// Sets the files of the data directory (the log and its WAL and shared memory, the lock, the key) to
/// mode 0600, those that exist.
fn tighten_data_files(data_dir: &Path) -> Result<(), StartError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let wal = format!("{LOG_FILE_NAME}-wal");
        let shm = format!("{LOG_FILE_NAME}-shm");
        for name in [LOG_FILE_NAME, wal.as_str(), shm.as_str(), LOCK_FILE_NAME, OPERATOR_KEY_FILE_NAME] {
            let path = data_dir.join(name);
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(DATA_FILE_MODE)) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(StartError::DataDir(format!("{}: {error}", path.display()))),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = data_dir;
    Ok(())
}

/// Start-up's checks of an opened log and the state it holds: the whole history is verified on a
/// read-only handle of its own (on another thread) while recovery replays the tail from the newest
/// usable snapshot in `snapshots`, so that a damaged or rewritten log is refused before anything is
/// written onto it, at the cost of the longer of the two rather than their sum. The history's
/// refusal comes first, as it names the damage whatever recovery met.
pub fn verify_and_recover(
    log: &dyn CommandLog,
    snapshots: &dyn SnapshotStore,
    events_retained: usize,
) -> Result<(crate::history::VerifiedHistory, recovery::Recovered), StartError> {
    let reader = log.open_reader().map_err(StartError::Log)?;
    let (verified, recovered) = std::thread::scope(|scope| {
        let verifier =
            scope.spawn(move || crate::history::verify_history(&*reader, |_, _| {}).map_err(StartError::History));
        let recovered = recovery::recover(log, snapshots, events_retained.max(1), |done, last| {
            tracing::debug!(done, last, "recovering");
        });
        (verifier.join().expect("history verifier"), recovered)
    });
    Ok((verified?, recovered.map_err(StartError::Recovery)?))
}

/// Opens the data directory, recovers, and starts serving.
pub async fn start(settings: ServerSettings) -> Result<RunningServer, StartError> {
    prepare_data_dir(&settings.data_dir)?;
    let mut lock_options = std::fs::OpenOptions::new();
    lock_options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut lock_options, DATA_FILE_MODE);
    let lock = lock_options
        .open(settings.data_dir.join(LOCK_FILE_NAME))
        .map_err(|error| StartError::DataDir(error.to_string()))?;
    lock.try_lock().map_err(|_| StartError::Locked(settings.data_dir.clone()))?;

    let log_path = settings.data_dir.join(LOG_FILE_NAME);
    let mut log = SqliteLog::open_with(&log_path, settings.durability).map_err(StartError::Log)?;
    tighten_data_files(&settings.data_dir)?;
    let snapshots = FileSnapshots::open(&settings.data_dir.join(SNAPSHOTS_DIR_NAME)).map_err(StartError::Snapshots)?;
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

    let (verified, recovered) =
        tokio::task::block_in_place(|| verify_and_recover(&log, &snapshots, settings.events_retained))?;
    let operator_key = recovered.state.operator().expect("genesis applied").public_key;
    let events = EventHub::new(settings.events_retained.max(1), recovered.events_complete_from);
    events.publish(recovered.events);

    let file_limit = listener::raise_file_limit();
    let max_connections =
        settings.max_connections.unwrap_or_else(|| ConnectionLimits::default_max_connections(file_limit)).max(1);
    let connections = ConnectionLimits {
        max_connections,
        max_connections_per_ip: settings.max_connections_per_ip.unwrap_or(max_connections.div_ceil(2)).max(1),
        header_read_timeout: settings.header_read_timeout,
    };
    let listener = TcpListener::bind(settings.listen).await.map_err(StartError::Bind)?;
    let local_addr = listener.local_addr().map_err(StartError::Bind)?;
    let mut driver_settings = settings.driver.clone();
    if settings.sign_checkpoints {
        driver_settings.checkpoint_signer = checkpoint_signer(&settings.data_dir, &operator_key);
    }
    let storage = driver::Storage {
        log: Box::new(log),
        snapshots: Arc::new(snapshots),
        snapshot_sequence: recovered.snapshot_sequence,
    };
    let (driver, writer_thread) = driver::start(
        storage,
        recovered.state,
        events,
        Arc::new(EphemeralBus::with_budget(settings.clock.now_ms(), settings.bus_buffered_bytes_max)),
        Arc::clone(&settings.clock),
        driver_settings,
    )
    .map_err(StartError::Log)?;
    if let Some((sequence, state_hash)) = recovered.snapshot_state_hash {
        driver.remember_state_hash(sequence, state_hash);
    }
    if let Some(checkpoint) = verified.checkpoints.last() {
        driver.remember_checkpoint(*checkpoint);
    }

    let (shutdown, _) = tokio::sync::watch::channel(false);
    let app = http::AppState::new(driver.clone(), &settings, shutdown.subscribe());
    let bus = Arc::clone(&app.bus);
    let router = http::router(app);
    let http_task = tokio::spawn(listener::serve(listener, router, connections, shutdown.subscribe()));
    Ok(RunningServer {
        report: StartReport {
            local_addr,
            operator_key,
            created,
            snapshot_sequence: recovered.snapshot_sequence,
            entries_replayed: recovered.entries_replayed,
            recovery_elapsed: recovered.elapsed,
            skipped_snapshots: recovered.skipped_snapshots,
            file_limit,
            connections,
        },
        driver,
        bus,
        shutdown,
        http_task,
        writer_thread: Some(writer_thread),
        _lock: lock,
    })
}
