//! The accept loop: HTTP/1 connections served by hyper under axum's router, with a cap on open
//! connections (in all and per peer IP address), a header-read timeout that also closes idle
//! keep-alive connections, back-off on accept errors, and graceful shutdown.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// Files the server keeps open besides its connections: the log's SQLite files (database, WAL,
/// shared memory), a snapshot being written, the lock file, standard streams, the runtime's event
/// queue and wakers, the threads of blocking tasks. The default connection cap leaves this many
/// descriptors free, so that a server full of connections can still write its log and snapshots.
pub const FILE_DESCRIPTOR_RESERVE: u64 = 256;

/// The default cap never exceeds this many connections, however high the file limit: every open
/// connection holds buffers (8 KiB to read a head, more for a body), so a fixed bound keeps the
/// memory an idle crowd can pin predictable (16,384 × ~16 KiB ≈ 256 MiB at worst).
pub const MAX_CONNECTIONS_CEILING: usize = 16_384;

/// The least the default cap may be, even under a tiny file limit.
const MAX_CONNECTIONS_FLOOR: usize = 64;

/// The first pause after an accept error that is not about one connection (out of descriptors,
/// out of memory); it doubles up to [`ACCEPT_BACKOFF_MAX`] while the errors last.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest pause between accepts while they keep failing.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How often refusals over the cap are reported in the log, at most.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The connection limits the accept loop enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_connections_per_ip: usize,
    /// How long a client may take to send a request's head; also how long a keep-alive connection
    /// may wait for its next request (hyper starts the same timer when a connection goes idle).
    pub header_read_timeout: Duration,
}

impl ConnectionLimits {
    /// The default cap for a soft file limit of `file_limit` descriptors.
    pub fn default_max_connections(file_limit: u64) -> usize {
        let available = file_limit.saturating_sub(FILE_DESCRIPTOR_RESERVE);
        usize::try_from(available).unwrap_or(usize::MAX).clamp(MAX_CONNECTIONS_FLOOR, MAX_CONNECTIONS_CEILING)
    }
}

/// Raises the soft limit of open files to the hard limit (the default soft limit, often 1,024, is
/// what a crowd of idle sockets exhausts first). Returns the soft limit in force afterwards.
pub fn raise_file_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    // An unlimited hard limit cannot be the soft limit of open files; Linux's default ceiling is.
    let wanted = limit.maximum.unwrap_or(1 << 20);
    if wanted > current {
        let raised = rustix::process::Rlimit { current: Some(wanted), maximum: limit.maximum };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => return wanted,
            Err(error) => tracing::warn!(%error, current, wanted, "could not raise the limit of open files"),
        }
    }
    current
}

/// Open connections per peer address, and the cap on all of them.
struct Admission {
    slots: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_per_ip: usize,
}

/// A connection's place, given back when the connection ends.
struct Admitted {
    admission: Arc<Admission>,
    ip: IpAddr,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut per_ip = self.admission.per_ip.lock().expect("admission lock");
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    Full,
    PeerFull,
}

impl Admission {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refusal> {
        let slot = Arc::clone(&self.slots).try_acquire_owned().map_err(|_| Refusal::Full)?;
        let mut per_ip = self.per_ip.lock().expect("admission lock");
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= self.max_per_ip {
            return Err(Refusal::PeerFull);
        }
        *count += 1;
        Ok(Admitted { admission: Arc::clone(self), ip, _slot: slot })
    }
}

/// Whether an accept error concerns only the connection being accepted (the peer gave up), so the
/// next accept may follow at once.
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionRefused
            | ErrorKind::Interrupted
    )
}

/// Accepts and serves connections until `shutdown` turns true; then stops accepting, lets each
/// connection finish the request it is serving (idle ones close at once) and returns when all have
/// ended. Streams that never end by themselves (events, bus subscriptions) watch the same signal.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let admission = Arc::new(Admission {
        slots: Arc::new(Semaphore::new(limits.max_connections)),
        per_ip: Mutex::new(HashMap::new()),
        max_per_ip: limits.max_connections_per_ip.max(1),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let builder = Arc::new(builder);
    // Every connection task holds a receiver; when the last is dropped, every connection has ended.
    let (connections_done, connection_token) = watch::channel(());
    let mut backoff = ACCEPT_BACKOFF_MIN;
    let mut failing = false;
    let mut refused_since_report: u64 = 0;
    let mut last_report: Option<tokio::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                if failing {
                    tracing::info!("accepting connections again");
                    failing = false;
                }
                backoff = ACCEPT_BACKOFF_MIN;
                accepted
            }
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // Out of descriptors (EMFILE, ENFILE) or memory: the pending connection stays in the
                // backlog, so accepting again at once would spin. Pause, report once per burst.
                if !failing {
                    tracing::warn!(%error, "accepting connections failed; backing off until it works again");
                    failing = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        let admitted = match admission.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                // Accepted and closed at once: the kernel's backlog never fills with connections
                // nobody will serve, and the peer learns at once that there is no room.
                drop(stream);
                refused_since_report += 1;
                let now = tokio::time::Instant::now();
                if last_report.is_none_or(|last| now.duration_since(last) >= REFUSAL_LOG_INTERVAL) {
                    tracing::warn!(
                        refused = refused_since_report,
                        reason = ?refusal,
                        %peer,
                        max_connections = limits.max_connections,
                        max_connections_per_ip = limits.max_connections_per_ip,
                        "connections over the cap closed at once"
                    );
                    refused_since_report = 0;
                    last_report = Some(now);
                }
                continue;
            }
        };
        serve_connection(
            stream,
            peer,
            router.clone(),
            Arc::clone(&builder),
            admitted,
            shutdown.clone(),
            connection_token.clone(),
        );
    }
    drop(listener);
    drop(connection_token);
    connections_done.closed().await;
}

fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    builder: Arc<hyper::server::conn::http1::Builder>,
    admitted: Admitted,
    mut shutdown: watch::Receiver<bool>,
    token: watch::Receiver<()>,
) {
    // Streams (bus messages, events) write many small frames: without TCP_NODELAY each waits for the
    // peer's delayed acknowledgement, which costs up to 40 ms of latency per frame.
    let _ = stream.set_nodelay(true);
    tokio::spawn(async move {
        let service = TowerToHyperService::new(router);
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let mut connection = std::pin::pin!(connection);
        let mut stopping = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                    break;
                }
                _ = shutdown.wait_for(|stop| *stop), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
        drop(admitted);
        drop(token);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_a_reserve_and_stays_within_bounds() {
        assert_eq!(ConnectionLimits::default_max_connections(1_024), 768);
        assert_eq!(ConnectionLimits::default_max_connections(100), MAX_CONNECTIONS_FLOOR);
        assert_eq!(ConnectionLimits::default_max_connections(1 << 20), MAX_CONNECTIONS_CEILING);
    }

    #[test]
    fn a_peer_over_its_cap_is_refused_and_its_places_come_back() {
        let admission = Arc::new(Admission {
            slots: Arc::new(Semaphore::new(3)),
            per_ip: Mutex::new(HashMap::new()),
            max_per_ip: 2,
        });
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let two: IpAddr = "10.0.0.2".parse().unwrap();
        let first = admission.admit(one).unwrap();
        let _second = admission.admit(one).unwrap();
        assert!(matches!(admission.admit(one), Err(Refusal::PeerFull)));
        let _third = admission.admit(two).unwrap();
        assert!(matches!(admission.admit(two), Err(Refusal::Full)));
        drop(first);
        let _fourth = admission.admit(one).unwrap();
        assert_eq!(admission.slots.available_permits(), 0);
    }
}
