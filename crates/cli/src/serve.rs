//! `colony serve`: run a server until Ctrl-C or SIGTERM, then shut down gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;

use colony_server::server::{DEFAULT_DATA_DIR, DEFAULT_LISTEN, OPERATOR_KEY_FILE_NAME};
use colony_server::{ServerSettings, start};

use crate::CliResult;

/// Arguments of `colony serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Where the command log, snapshots and operator key live.
    #[arg(long, env = "COLONY_DATA", default_value = DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// The address to listen on.
    #[arg(long, env = "COLONY_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Take a snapshot every this many log entries.
    #[arg(long, default_value_t = 100_000)]
    snapshot_every: u64,
    /// Write no signed checkpoints (by default the operator's key signs one every 4,096 entries, a
    /// second after the first uncovered entry, and at clean shutdown; receipts are proven against them).
    #[arg(long)]
    no_checkpoints: bool,
    /// `full`: every group commit is fsync'd (survives power loss). `relaxed`: commits are left to the
    /// operating system's cache (survives a killed process, not a power loss), for throughput.
    #[arg(long, default_value = "full", value_parser = parse_durability)]
    durability: colony_log::Durability,
    /// Connections open at once; over it, new connections are accepted and closed at once. Default: the
    /// limit of open files (raised to its hard limit) less a reserve for the log and snapshots, at most
    /// 16,384.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Connections open at once from one IP address. Default: half of --max-connections.
    #[arg(long)]
    max_connections_per_ip: Option<usize>,
    /// Seconds a client may take to send a request's head; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Seconds a request body may take to arrive, and a write to be confirmed.
    #[arg(long, default_value_t = 30)]
    request_timeout_secs: u64,
    /// MiB of request bodies held at once across all connections; past it requests get `overloaded`.
    #[arg(long, default_value_t = 256)]
    body_budget_mib: usize,
    /// Memory the ephemeral bus may hold for subscribers that are behind, in MiB: past it, a
    /// subscriber with messages waiting gets no new ones (and is told how many it missed).
    #[arg(long, default_value_t = colony_server::bus::router::BUFFERED_BYTES_MAX >> 20)]
    bus_budget_mib: u64,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, env = "COLONY_LOG", default_value = "info")]
    log: tracing_subscriber::filter::LevelFilter,
}

/// Runs `colony serve`.
pub async fn run(args: ServeArgs) -> CliResult {
    tracing_subscriber::fmt().with_max_level(args.log).with_target(false).init();
    let mut settings = ServerSettings::new(&args.data, args.listen);
    settings.driver.snapshot_every_entries = args.snapshot_every.max(1);
    settings.sign_checkpoints = !args.no_checkpoints;
    settings.durability = args.durability;
    settings.max_connections = args.max_connections;
    settings.max_connections_per_ip = args.max_connections_per_ip;
    settings.header_read_timeout = std::time::Duration::from_secs(args.header_read_timeout_secs.max(1));
    settings.request_timeout = std::time::Duration::from_secs(args.request_timeout_secs.max(1));
    settings.body_budget_bytes = args.body_budget_mib.max(1).saturating_mul(1 << 20);
    settings.bus_buffered_bytes_max = args.bus_budget_mib.max(1).saturating_mul(1 << 20);
    let running = start(settings).await?;
    let report = &running.report;
    if report.created {
        println!(
            "created a new swarm in {}; operator key: {} (public id {})",
            args.data.display(),
            args.data.join(OPERATOR_KEY_FILE_NAME).display(),
            report.operator_key
        );
    }
    for (sequence, reason) in &report.skipped_snapshots {
        println!("warning: skipped damaged snapshot at entry {sequence}: {reason}");
    }
    println!(
        "colony listening on http://{} (data {}, operator {}, recovered from snapshot {} + {} entries in {:.1?})",
        report.local_addr,
        args.data.display(),
        report.operator_key,
        report.snapshot_sequence,
        report.entries_replayed,
        report.recovery_elapsed
    );
    println!(
        "limits: {} connections, {} per IP address (open files {}), {:?} to send a request head or stay idle",
        report.connections.max_connections,
        report.connections.max_connections_per_ip,
        report.file_limit,
        report.connections.header_read_timeout
    );
    wait_for_signal().await;
    println!("shutting down: draining writes and taking a final snapshot");
    running.shutdown().await;
    println!("stopped");
    Ok(())
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn parse_durability(text: &str) -> Result<colony_log::Durability, String> {
    match text {
        "full" => Ok(colony_log::Durability::Full),
        "relaxed" => Ok(colony_log::Durability::Relaxed),
        _ => Err(format!("'{text}' is not a durability: use full or relaxed")),
    }
}
