//! The `recovery` and `audit` scenarios, over two logs built through the driver:
//!
//! - the *batched* log: envelopes of 1,000 heartbeats (the target case for replay: commands per
//!   second);
//! - the *single* log: one heartbeat per envelope (the target case for the audit: one signature per
//!   command, so the audit is bound by signature verification).
//!
//! Both are built with periodic snapshots disabled. A clean shutdown still takes a final snapshot,
//! so to measure replay from genesis the recovery scenario recovers with an empty snapshot store
//! (the files stay, for the restart figure).

use std::path::Path;
use std::time::Instant;

use colony_log::{FileSnapshots, MemorySnapshots, SnapshotStore, SqliteLog};
use colony_server::driver::DriverSettings;
use colony_server::server::{LOG_FILE_NAME, SNAPSHOTS_DIR_NAME};

use crate::Bench;
use crate::ceiling::Spot;
use crate::fixture::{self, BATCH_COMMANDS, BenchServer};
use crate::report::Row;

/// Events recovery keeps, as the server's default `events_retained`.
const KEEP_EVENTS: usize = 100_000;

/// A log built for the benchmark, in its own temporary data directory.
pub struct BuiltLog {
    /// What the log holds, for the table.
    pub label: &'static str,
    /// The data directory (removed when dropped).
    pub directory: tempfile::TempDir,
    /// Entries in the log.
    pub entries: u64,
    /// Commands in them.
    pub commands: u64,
    /// Replay rate from genesis in commands per second, once the recovery scenario has measured it.
    pub replay_commands_per_s: Option<f64>,
}

/// The two logs of a run.
pub struct Logs {
    /// Envelopes of 1,000 commands.
    pub batched: BuiltLog,
    /// One command per envelope.
    pub single: BuiltLog,
}

/// Builds a log: a server with periodic snapshots off, every agent registered, then the plans.
fn build(
    bench: &mut Bench,
    label: &'static str,
    tasks: usize,
    agent_count: usize,
    rounds: u64,
    commands: usize,
) -> Result<BuiltLog, String> {
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let settings = DriverSettings { snapshot_every_entries: u64::MAX, ..DriverSettings::default() };
    let server = BenchServer::start(directory.path(), settings, bench.threads)?;
    server.register(&bench.load, &bench.agents)?;
    let plans = fixture::plans(&mut bench.agents, tasks, agent_count, rounds, commands);
    crate::progress(
        "logs",
        format!("building the {label}: {} envelopes of {commands} command(s)", fixture::envelope_count(&plans)),
    );
    let (signed, _) = fixture::presign(&bench.agents, &plans, bench.threads);
    let measurement = bench.load.block_on(fixture::submit_plans(server.driver(), signed));
    measurement.check(label)?;
    let (_, commands) = server.progress();
    server.stop();
    // The stop appends the operator's checkpoint: the log's own head is the entry count.
    use colony_log::CommandLog as _;
    let entries = SqliteLog::open_read_only(&log_path(directory.path()))
        .map_err(|error| format!("reopening the {label}: {error}"))?
        .last_sequence();
    crate::progress(
        "logs",
        format!(
            "built the {label}: {entries} entries, {commands} commands in {:.1} s",
            measurement.elapsed.as_secs_f64()
        ),
    );
    Ok(BuiltLog { label, directory, entries, commands, replay_commands_per_s: None })
}

/// Builds both logs.
pub fn build_logs(bench: &mut Bench) -> Result<Logs, String> {
    let sizes = bench.sizes.clone();
    let batched_tasks = sizes.log_batched_tasks;
    let batched = build(bench, "batched log", batched_tasks, batched_tasks, sizes.log_batched_rounds, BATCH_COMMANDS)?;
    let agent_count = bench.agents.len();
    let single = build(bench, "single-command log", agent_count, agent_count, sizes.log_single_rounds, 1)?;
    Ok(Logs { batched, single })
}

fn log_path(directory: &Path) -> std::path::PathBuf {
    directory.join(LOG_FILE_NAME)
}

/// Recovers the log in `directory` as a server start would, from its snapshots or (`from_genesis`)
/// from none.
fn recover(directory: &Path, from_genesis: bool) -> Result<colony_server::recovery::Recovered, String> {
    let log = SqliteLog::open(&log_path(directory)).map_err(|error| format!("opening the log: {error}"))?;
    let snapshots: Box<dyn SnapshotStore> = if from_genesis {
        Box::new(MemorySnapshots::default())
    } else {
        Box::new(
            FileSnapshots::open(&directory.join(SNAPSHOTS_DIR_NAME))
                .map_err(|error| format!("opening the snapshots: {error}"))?,
        )
    };
    colony_server::recovery::recover(&log, &*snapshots, KEEP_EVENTS, |_, _| {})
        .map_err(|error| format!("recovery: {error}"))
}

/// The `recovery` scenario.
pub fn run_recovery(bench: &mut Bench) -> Result<(), String> {
    const SCENARIO: &str = "recovery";
    let mut logs = bench.take_logs()?;
    for log in [&mut logs.batched, &mut logs.single] {
        // What a restart does: the final snapshot of the clean shutdown, nothing to replay.
        let from_snapshot = recover(log.directory.path(), false)?;
        crate::progress(SCENARIO, format!("replaying the {} from genesis", log.label));
        let started = Instant::now();
        let replayed = recover(log.directory.path(), true)?;
        let elapsed = started.elapsed().as_secs_f64();
        if replayed.snapshot_sequence != 0 || replayed.entries_replayed != log.entries {
            return Err(format!(
                "the {} replayed {} entries from snapshot {}; expected {} from genesis",
                log.label, replayed.entries_replayed, replayed.snapshot_sequence, log.entries
            ));
        }
        if replayed.state.state_hash() != from_snapshot.state.state_hash() {
            return Err(format!("the {}: replay and snapshot disagree on the state hash", log.label));
        }
        let commands_per_s = log.commands as f64 / elapsed;
        log.replay_commands_per_s = Some(commands_per_s);
        bench.report.row(
            Row::new(SCENARIO, format!("replay from genesis, {}", log.label), commands_per_s, "cmd/s")
                .reference("target", 1_000_000.0),
        );
        let replay_entries_per_s = log.entries as f64 / elapsed;
        bench.report.row(Row::new(SCENARIO, "  the same, in entries", replay_entries_per_s, "entries/s"));
        // What start-up does beside recovery, on a second thread: the whole history against its
        // hash chain (two SHA-256 per entry) and its head.
        let reader =
            SqliteLog::open_read_only(&log_path(log.directory.path())).map_err(|error| format!("the log: {error}"))?;
        let started = Instant::now();
        let history = colony_server::history::verify_history(&reader, |_, _| {})
            .map_err(|error| format!("the {}: {error}", log.label))?;
        let verified_per_s = history.head.sequence as f64 / started.elapsed().as_secs_f64();
        bench.report.row(
            Row::new(SCENARIO, "  history verification (chain, head), same log", verified_per_s, "entries/s")
                .reference("replay", replay_entries_per_s),
        );
        bench.report.row(Row::new(
            SCENARIO,
            "  restart from the final snapshot instead",
            from_snapshot.elapsed.as_secs_f64() * 1_000.0,
            "ms",
        ));
        bench.report.note(
            SCENARIO,
            format!(
                "{}: {} entries, {} commands replayed in {:.2} s (log file in the page cache)",
                log.label, log.entries, log.commands, elapsed
            ),
        );
    }
    bench.report.note(
        SCENARIO,
        "replay from genesis recovers with an empty snapshot store; the restart figure uses the final snapshot of the \
         clean shutdown, from the snapshots directory",
    );
    bench.put_logs(logs);
    Ok(())
}

/// The `audit` scenario.
pub fn run_audit(bench: &mut Bench) -> Result<(), String> {
    const SCENARIO: &str = "audit";
    let threads = bench.threads;
    let logs = bench.take_logs()?;
    for (log, single) in [(&logs.single, true), (&logs.batched, false)] {
        crate::progress(SCENARIO, format!("auditing the {}", log.label));
        // The single-command log is compared with the batch-verification ceiling, measured again
        // just before and just after it.
        let before = if single { bench.spot(Spot::Batch) } else { 0.0 };
        let report = colony_server::audit::audit(log.directory.path(), |_, _| {})
            .map_err(|error| format!("audit of the {}: {error}", log.label))?;
        let after = if single { bench.spot(Spot::Batch) } else { 0.0 };
        if report.entries != log.entries || report.commands != log.commands {
            return Err(format!(
                "the audit of the {} saw {} entries and {} commands; the log has {} and {}",
                log.label, report.entries, report.commands, log.entries, log.commands
            ));
        }
        let elapsed = report.elapsed.as_secs_f64();
        let signatures_per_s = report.signatures as f64 / elapsed;
        let commands_per_s = report.commands as f64 / elapsed;
        let mut note = format!(
            "{}: {} entries, {} commands, {} signatures, {} snapshot(s) checked in {elapsed:.2} s",
            log.label, report.entries, report.commands, report.signatures, report.snapshots_checked
        );
        if single {
            let ceiling = (before + after) / 2.0;
            bench.report.row(
                Row::new(SCENARIO, format!("{}: signatures", log.label), signatures_per_s, "sig/s")
                    .reference(format!("target: 80% of verify_batch, {threads} thr"), 0.8 * ceiling)
                    .reference(format!("verify_batch, {threads} thr, measured around it"), ceiling),
            );
            bench.report.row(Row::new(SCENARIO, "  the same, in commands", commands_per_s, "cmd/s"));
            note.push_str(&format!(
                "; verify_batch ceiling {} sig/s just before, {} just after",
                crate::report::human(before),
                crate::report::human(after)
            ));
        } else {
            let mut row = Row::new(SCENARIO, format!("{}: commands", log.label), commands_per_s, "cmd/s");
            if let Some(replay) = log.replay_commands_per_s {
                row = row.reference("replay of the same log (above)", replay);
            }
            bench.report.row(row);
            bench.report.row(Row::new(SCENARIO, "  the same, in signatures", signatures_per_s, "sig/s"));
        }
        bench.report.note(SCENARIO, note);
    }
    bench.put_logs(logs);
    Ok(())
}
