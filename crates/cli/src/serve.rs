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
    /// `full`: every group commit is fsync'd (survives power loss). `relaxed`: commits are left to the
    /// operating system's cache (survives a killed process, not a power loss), for throughput.
    #[arg(long, default_value = "full", value_parser = parse_durability)]
    durability: colony_log::Durability,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, env = "COLONY_LOG", default_value = "info")]
    log: tracing_subscriber::filter::LevelFilter,
}

/// Runs `colony serve`.
pub async fn run(args: ServeArgs) -> CliResult {
    tracing_subscriber::fmt().with_max_level(args.log).with_target(false).init();
    let mut settings = ServerSettings::new(&args.data, args.listen);
    settings.driver.snapshot_every_entries = args.snapshot_every.max(1);
    settings.durability = args.durability;
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
    wait_for_signal().await;
    println!("shutting down: draining writes and taking a final snapshot");
    running.shutdown().await;
    println!("stopped");
    Ok(())
}

async fn wait_for_signal() {
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
