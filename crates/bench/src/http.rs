//! The `http` scenario: the same heartbeats through the HTTP API with the Rust client.
//!
//! Envelopes are signed before the clock starts and sent with `Client::post_signed`, so the client
//! still builds each request and decodes each response, but does not sign. The server decodes the
//! JSON body, verifies the signature, and submits to the driver. Client and server share this
//! machine's cores, so the figures are a lower bound of what a server alone would do.

use colony_client::Client;
use colony_server::driver::DriverSettings;

use crate::Bench;
use crate::ceiling::Spot;
use crate::fixture::{self, BATCH_COMMANDS, BenchServer, Measurement, Presigned, TaskTally};
use crate::report::Row;

const SCENARIO: &str = "http";

/// Posts every plan, one task per plan, and measures each request's round trip.
pub(crate) async fn post_plans(client: Client, path: &'static str, plans: Vec<Vec<Presigned>>) -> Measurement {
    let started = std::time::Instant::now();
    let tasks: Vec<_> = plans
        .into_iter()
        .map(|plan| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut tally = TaskTally::default();
                tally.latencies_us.reserve(plan.len());
                for presigned in plan {
                    let commands = presigned.commands();
                    let sent = std::time::Instant::now();
                    let result = client.post_signed(path, &presigned.signed).await;
                    let latency = sent.elapsed();
                    match result {
                        Ok(response) => match response.results.iter().find(|result| !result.ok) {
                            None if response.results.len() == commands => tally.success(latency, commands),
                            None => tally.failure(latency, || format!("{} results", response.results.len())),
                            Some(refused) => tally.failure(latency, || format!("command refused: {refused:?}")),
                        },
                        Err(error) => tally.failure(latency, || error.to_string()),
                    }
                }
                tally
            })
        })
        .collect();
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        tallies.push(task.await.expect("request task"));
    }
    Measurement::from_tallies(started.elapsed(), tallies)
}

/// Runs the scenario and adds its rows to the report.
pub fn run(bench: &mut Bench) -> Result<(), String> {
    let sizes = bench.sizes.clone();
    let threads = bench.threads;
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let server = BenchServer::start(directory.path(), DriverSettings::default(), threads)?;
    server.register(&bench.load, &bench.agents)?;
    let client = Client::new(server.base_url());
    let agent_count = bench.agents.len();

    for &concurrency in &sizes.http_concurrency {
        let plans = fixture::plans(&mut bench.agents, concurrency, agent_count, sizes.http_single_rounds, 1);
        let total = fixture::envelope_count(&plans);
        crate::progress(SCENARIO, format!("pre-signing {total} single-command envelopes"));
        let (signed, _) = fixture::presign(&bench.agents, &plans, threads);
        crate::progress(SCENARIO, format!("POST /v1/commands, {concurrency} requests in flight"));
        let before = bench.spot(Spot::Verify);
        let single = bench.load.block_on(post_plans(client.clone(), "/v1/commands", signed));
        let after = bench.spot(Spot::Verify);
        single.check("http, /v1/commands")?;
        bench.report.row(
            Row::new(
                SCENARIO,
                format!("single (/v1/commands), {concurrency} in flight"),
                single.commands_per_s(),
                "cmd/s",
            )
            .latency(single.latency_us(0.5), single.latency_us(0.99))
            .reference("target", 10_000.0)
            .reference(format!("verify_strict, {threads} thr, measured around it"), (before + after) / 2.0),
        );
        bench.report.note(
            SCENARIO,
            format!(
                "{concurrency} in flight: {} requests in {:.2} s; verify_strict ceiling {} sig/s just before, {} \
                 just after",
                single.envelopes,
                single.elapsed.as_secs_f64(),
                crate::report::human(before),
                crate::report::human(after)
            ),
        );
    }

    let tasks = sizes.http_batch_tasks;
    let plans = fixture::plans(&mut bench.agents, tasks, tasks, sizes.http_batch_rounds, BATCH_COMMANDS);
    let envelopes = fixture::envelope_count(&plans);
    crate::progress(SCENARIO, format!("pre-signing {envelopes} batch envelopes of {BATCH_COMMANDS} commands"));
    let (signed, _) = fixture::presign(&bench.agents, &plans, threads);
    crate::progress(SCENARIO, format!("POST /v1/batch, {tasks} requests in flight"));
    let batch = bench.load.block_on(post_plans(client, "/v1/batch", signed));
    batch.check("http, /v1/batch")?;
    bench.report.row(
        Row::new(
            SCENARIO,
            format!("batch (/v1/batch) ×{BATCH_COMMANDS} cmds, {tasks} in flight"),
            batch.commands_per_s(),
            "cmd/s",
        )
        .latency(batch.latency_us(0.5), batch.latency_us(0.99))
        .reference("target", 100_000.0),
    );
    bench.report.row(Row::new(SCENARIO, "  the same, in requests", batch.envelopes_per_s(), "req/s"));
    server.stop();
    bench.report.note(
        SCENARIO,
        format!(
            "the load generator (Rust client on its own {threads}-thread runtime) shares the {threads} cores with the \
             server: its HTTP and JSON work is included in these figures"
        ),
    );
    bench.report.note(
        SCENARIO,
        format!(
            "latency = request sent → response decoded (durable and applied); envelopes pre-signed; batch: {} \
             requests in {:.2} s",
            batch.envelopes,
            batch.elapsed.as_secs_f64()
        ),
    );
    Ok(())
}
