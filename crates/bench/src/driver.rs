//! The `driver` scenario: signed commands through `DriverHandle::submit`, no HTTP.
//!
//! Envelopes are encoded, signed and decoded before the clock starts, so the figures are the
//! driver's alone: queueing, the durable group commit (SQLite WAL, `synchronous=FULL`), applying, and
//! answering. The driver does not verify signatures (the HTTP layer does), so these rates are what
//! the writer can sustain once verification is out of the way.

use colony_server::driver::DriverSettings;

use crate::Bench;
use crate::fixture::{self, BATCH_COMMANDS, BenchServer};
use crate::report::Row;

const SCENARIO: &str = "driver";

/// Runs the scenario and adds its rows to the report.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    let ceiling = bench.ceiling().clone();
    let sizes = bench.sizes.clone();
    let threads = bench.threads;
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let server = BenchServer::start(directory.path(), DriverSettings::default(), threads)?;
    server.register(&bench.load, &bench.agents)?;

    // (a) Single-command envelopes: a heartbeat from each of the agents, each agent in its own task.
    let agent_count = bench.agents.len();
    let plans = fixture::plans(&mut bench.agents, agent_count, agent_count, sizes.driver_single_rounds, 1);
    let total = fixture::envelope_count(&plans);
    crate::progress(SCENARIO, format!("pre-signing {total} single-command envelopes"));
    let (signed, sign_elapsed) = fixture::presign(&bench.agents, &plans, threads);
    crate::progress(SCENARIO, format!("submitting them from {agent_count} concurrent tasks"));
    let single = bench.load.block_on(fixture::submit_plans(server.driver(), signed));
    single.check("driver, single-command envelopes")?;
    bench.report.row(
        Row::new(
            SCENARIO,
            format!("single-command envelopes, {agent_count} in flight"),
            single.commands_per_s(),
            "cmd/s",
        )
        .latency(single.latency_us(0.5), single.latency_us(0.99))
        .reference("single-HTTP target", 10_000.0)
        .reference(format!("verify_strict, {threads} thr (this run)"), ceiling.verify_all_threads),
    );

    // (b) Batch envelopes: 1,000 heartbeats each, from a few agents at a time.
    let tasks = sizes.driver_batch_tasks;
    let plans = fixture::plans(&mut bench.agents, tasks, tasks, sizes.driver_batch_rounds, BATCH_COMMANDS);
    let envelopes = fixture::envelope_count(&plans);
    crate::progress(SCENARIO, format!("pre-signing {envelopes} batch envelopes of {BATCH_COMMANDS} commands"));
    let (signed, _) = fixture::presign(&bench.agents, &plans, threads);
    crate::progress(SCENARIO, format!("submitting them from {tasks} concurrent tasks"));
    let batch = bench.load.block_on(fixture::submit_plans(server.driver(), signed));
    batch.check("driver, batch envelopes")?;
    bench.report.row(
        Row::new(
            SCENARIO,
            format!("batch envelopes ×{BATCH_COMMANDS} cmds, {tasks} in flight"),
            batch.commands_per_s(),
            "cmd/s",
        )
        .latency(batch.latency_us(0.5), batch.latency_us(0.99))
        .reference("target", 100_000.0),
    );
    bench.report.row(Row::new(SCENARIO, "  the same, in envelopes", batch.envelopes_per_s(), "env/s"));

    bench.report.row(
        Row::new(
            SCENARIO,
            format!("(client) encode + sign 1-cmd envelopes, {threads} thr"),
            total as f64 / sign_elapsed.as_secs_f64(),
            "env/s",
        )
        .reference(format!("sign, 1 thread × {threads} (this run)"), ceiling.sign_one_thread * threads as f64),
    );
    let (sequence, _) = server.progress();
    server.stop();
    bench.report.note(
        SCENARIO,
        format!(
            "{} single envelopes in {:.2} s; {} batch envelopes ({} commands) in {:.2} s; {sequence} log entries; \
             latency = submit → durable and applied; envelopes pre-signed and pre-decoded (signing shown \
             separately, not in the figures)",
            single.envelopes,
            single.elapsed.as_secs_f64(),
            batch.envelopes,
            batch.commands,
            batch.elapsed.as_secs_f64(),
        ),
    );
    Ok(())
}
