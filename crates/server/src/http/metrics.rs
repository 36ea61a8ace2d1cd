//! `GET /v1/metrics`: counters in the Prometheus text exposition format, for scrapers.
//!
//! Read-authenticated like every read (Prometheus sends a bearer token with `authorization`
//! settings). Everything here is already known to the server, so a scrape takes the state's read
//! lock only long enough to copy a few counters.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// At most this many subscriptions are listed one by one (those that dropped messages), so that a
/// server with many subscribers does not produce an unbounded scrape.
const DROPPING_SUBSCRIPTIONS_LISTED_MAX: usize = 1_000;

/// `GET /v1/metrics`. The per-subscription series follow `/v1/bus/stats`'s rule: the operator sees
/// every subscription, anyone else only their own (a read token those of read tokens), so that a
/// reader cannot learn who listens to what.
pub async fn serve(
    State(app): State<AppState>,
    axum::Extension(reader): axum::Extension<super::auth::Reader>,
) -> Result<Response, ApiError> {
    let mut text = String::with_capacity(4096);
    {
        let state = app.state()?;
        let counters = state.counters();
        metric(&mut text, "colony_entries_total", "counter", "Log entries applied.", counters.entries);
        metric(&mut text, "colony_commands_accepted_total", "counter", "Commands applied.", counters.commands_accepted);
        metric(&mut text, "colony_commands_rejected_total", "counter", "Commands refused.", counters.commands_rejected);
        metric(&mut text, "colony_events_total", "counter", "Events emitted.", counters.events);
        metric(&mut text, "colony_sequence", "gauge", "The last applied entry.", state.sequence());
        metric(
            &mut text,
            "colony_agents",
            "gauge",
            "Live agents (registered, not deregistered).",
            state.registry().live_len() as u64,
        );
        metric(
            &mut text,
            "colony_agent_tombstones",
            "gauge",
            "Deregistered agents, whose ids stay reserved.",
            (state.registry().len() - state.registry().live_len()) as u64,
        );
    }
    snapshot_metrics(&mut text, &app.driver.shared.snapshots.lock().expect("snapshot statistics lock"));
    let owner = match &reader {
        super::auth::Reader::Signer(signer) => Some(signer.clone()),
        super::auth::Reader::Token { .. } => None,
    };
    let bus = app.bus.router.stats_for(Some(&owner));
    metric(&mut text, "colony_bus_published_total", "counter", "Ephemeral messages published.", bus.published);
    metric(&mut text, "colony_bus_delivered_total", "counter", "Messages handed to subscribers.", bus.delivered);
    metric(
        &mut text,
        "colony_bus_dropped_total",
        "counter",
        "Messages dropped from full subscriber buffers.",
        bus.dropped,
    );
    metric(
        &mut text,
        "colony_bus_unmatched_total",
        "counter",
        "Published messages no subscriber matched.",
        bus.unmatched,
    );
    metric(&mut text, "colony_bus_subscriptions", "gauge", "Open subscriptions.", bus.subscriptions.len() as u64);
    metric(
        &mut text,
        "colony_bus_buffered_bytes",
        "gauge",
        "Bytes waiting in subscribers' buffers.",
        bus.buffered_bytes,
    );
    let _ =
        writeln!(text, "# HELP colony_bus_subscription_dropped_total Messages dropped from one subscription's buffer.");
    let _ = writeln!(text, "# TYPE colony_bus_subscription_dropped_total counter");
    for subscription in
        bus.subscriptions.iter().filter(|subscription| subscription.dropped > 0).take(DROPPING_SUBSCRIPTIONS_LISTED_MAX)
    {
        let _ = writeln!(
            text,
            "colony_bus_subscription_dropped_total{{id=\"{}\",owner=\"{}\",subject=\"{}\"}} {}",
            subscription.id,
            escape(&subscription.owner),
            escape(&subscription.subject),
            subscription.dropped
        );
    }
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], text)
        .into_response())
}

/// What the snapshotter reports, so an operator sees a snapshot's cost (size, time, the memory of a
/// second state while it is made) and whether snapshots keep failing.
fn snapshot_metrics(text: &mut String, snapshots: &crate::driver::SnapshotStatistics) {
    metric(text, "colony_snapshots_taken_total", "counter", "Snapshots written since start-up.", snapshots.taken);
    metric(text, "colony_snapshots_failed_total", "counter", "Snapshots that failed since start-up.", snapshots.failed);
    metric(text, "colony_snapshot_sequence", "gauge", "The entry the newest snapshot covers.", snapshots.sequence);
    metric(text, "colony_snapshot_bytes", "gauge", "The newest snapshot's size.", snapshots.bytes);
    metric(
        text,
        "colony_snapshot_rebuild_milliseconds",
        "gauge",
        "Time to rebuild the newest snapshot's state from the previous snapshot and the log.",
        snapshots.rebuild_ms,
    );
    metric(
        text,
        "colony_snapshot_encode_milliseconds",
        "gauge",
        "Time to encode the newest snapshot.",
        snapshots.encode_ms,
    );
    metric(
        text,
        "colony_snapshot_write_milliseconds",
        "gauge",
        "Time to write and sync the newest snapshot.",
        snapshots.write_ms,
    );
}

fn metric(text: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
}

/// Escapes a label value (owners and subjects never hold these characters today; this keeps the
/// format valid if they ever do).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
