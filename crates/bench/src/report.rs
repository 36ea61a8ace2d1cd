//! Results: rows of figures, each beside its references, printed as a table or as JSON.

use std::fmt::Write as _;

/// A figure to compare a result with: a target, a ceiling measured in the same run, or a published
/// anchor from `crates/bench/REFERENCES.md`.
#[derive(Clone, Debug)]
pub struct Reference {
    /// What the reference is, for the reader.
    pub label: String,
    /// Its value, in the row's unit.
    pub value: f64,
}

/// One measured figure.
#[derive(Clone, Debug)]
pub struct Row {
    /// The scenario that measured it (`driver`, `http`, ...).
    pub scenario: &'static str,
    /// What was measured.
    pub name: String,
    /// The figure.
    pub value: f64,
    /// Its unit (`cmd/s`, `sig/s`, `ms`, ...).
    pub unit: &'static str,
    /// Median latency, in microseconds, where latencies were recorded.
    pub p50_us: Option<f64>,
    /// 99th-percentile latency, in microseconds.
    pub p99_us: Option<f64>,
    /// What to compare the figure with; the table prints `value / reference` for each.
    pub references: Vec<Reference>,
    /// Why the measurement did not run, when it did not (the value is then meaningless).
    pub skipped: Option<String>,
}

impl Row {
    /// A row without latencies or references.
    pub fn new(scenario: &'static str, name: impl Into<String>, value: f64, unit: &'static str) -> Row {
        Row {
            scenario,
            name: name.into(),
            value,
            unit,
            p50_us: None,
            p99_us: None,
            references: Vec::new(),
            skipped: None,
        }
    }

    /// A row for a measurement that could not run, with the line to print instead of a figure.
    pub fn skipped(scenario: &'static str, name: impl Into<String>, line: impl Into<String>) -> Row {
        Row { skipped: Some(line.into()), ..Row::new(scenario, name, 0.0, "") }
    }

    /// The same row with median and 99th-percentile latencies (microseconds).
    pub fn latency(mut self, p50_us: f64, p99_us: f64) -> Row {
        self.p50_us = Some(p50_us);
        self.p99_us = Some(p99_us);
        self
    }

    /// The same row with one more reference.
    pub fn reference(mut self, label: impl Into<String>, value: f64) -> Row {
        self.references.push(Reference { label: label.into(), value });
        self
    }
}

/// Every row and note of a run.
#[derive(Debug)]
pub struct Report {
    /// Whether the run used `--quick` sizes.
    pub quick: bool,
    /// Hardware threads of the machine.
    pub threads: usize,
    rows: Vec<Row>,
    notes: Vec<(&'static str, String)>,
}

/// One-line descriptions of the scenarios, printed as section headings.
fn scenario_title(scenario: &str) -> &'static str {
    match scenario {
        "verify-ceiling" => "raw Ed25519 (ed25519-dalek) on this machine, now: the reference for everything below",
        "driver" => "signed heartbeats through DriverHandle::submit, no HTTP; durable group commit (SQLite, fsync)",
        "http" => "the same through HTTP with the Rust client (pre-signed envelopes)",
        "recovery" => "replaying the log from genesis with recovery::recover (no snapshot)",
        "audit" => "audit::audit: replay from genesis + re-verify every signature (batched, all threads)",
        "escrow" => {
            "full escrow cycles (lock, then release: 1% fee, 15% of it to the referrer), 10,000 accounts, durable"
        }
        "market" => "full task lifecycles (announce, 10 bids, award + lock, submit, verify + release), durable",
        "bus" => "the ephemeral message bus: fan-out and latency, 256-byte payloads, beside NATS core and JetStream",
        "scale" => "a swarm at the limits: every agent registered, every escrow open, and the memory it takes",
        "snapshots" => "100k agents, 1M open escrows: write latency while snapshots are made, and the restart time",
        _ => "",
    }
}

impl Report {
    /// An empty report.
    pub fn new(quick: bool, threads: usize) -> Report {
        Report { quick, threads, rows: Vec::new(), notes: Vec::new() }
    }

    /// Adds a row.
    pub fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Adds a note printed under a scenario's rows.
    pub fn note(&mut self, scenario: &'static str, text: impl Into<String>) {
        self.notes.push((scenario, text.into()));
    }

    /// The rows so far.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    fn scenarios(&self) -> Vec<&'static str> {
        let mut scenarios: Vec<&'static str> = Vec::new();
        for scenario in self.rows.iter().map(|row| row.scenario).chain(self.notes.iter().map(|(scenario, _)| *scenario))
        {
            if !scenarios.contains(&scenario) {
                scenarios.push(scenario);
            }
        }
        scenarios
    }

    /// The readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let mode = if self.quick { "quick (smoke-test sizes; figures are noisy)" } else { "full" };
        let _ = writeln!(out, "Colony benchmarks: {mode}; {} hardware threads.", self.threads);
        let _ = writeln!(
            out,
            "The load generators run in this process on the same cores as the server: every figure includes their CPU."
        );
        let _ = writeln!(
            out,
            "ratio = result / reference (above 1.00× beats the reference, unless it says lower is better)."
        );
        let header = format!(
            "  {:<46} {:>16} {:>9} {:>9}   {:<56} {:>6}",
            "measurement", "result", "p50", "p99", "reference", "ratio"
        );
        for scenario in self.scenarios() {
            let _ = writeln!(out);
            let _ = writeln!(out, "== {scenario}: {}", scenario_title(scenario));
            let _ = writeln!(out, "{header}");
            for row in self.rows.iter().filter(|row| row.scenario == scenario) {
                if let Some(line) = &row.skipped {
                    let _ = writeln!(out, "  {:<46} {line}", row.name);
                    continue;
                }
                let p50 = row.p50_us.map_or_else(|| "-".to_owned(), format_latency);
                let p99 = row.p99_us.map_or_else(|| "-".to_owned(), format_latency);
                let (first_label, first_ratio) = match row.references.first() {
                    Some(reference) => (reference_label(reference, row.unit), format_ratio(row.value, reference.value)),
                    None => (String::new(), String::new()),
                };
                let _ = writeln!(
                    out,
                    "  {:<46} {:>16} {:>9} {:>9}   {:<56} {:>6}",
                    row.name,
                    format_value(row.value, row.unit),
                    p50,
                    p99,
                    first_label,
                    first_ratio
                );
                for reference in row.references.iter().skip(1) {
                    let _ = writeln!(
                        out,
                        "  {:<46} {:>16} {:>9} {:>9}   {:<56} {:>6}",
                        "",
                        "",
                        "",
                        "",
                        reference_label(reference, row.unit),
                        format_ratio(row.value, reference.value)
                    );
                }
            }
            for (_, note) in self.notes.iter().filter(|(note_scenario, _)| *note_scenario == scenario) {
                let _ = writeln!(out, "  note: {note}");
            }
        }
        out
    }

    /// The whole report as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                let references: Vec<serde_json::Value> = row
                    .references
                    .iter()
                    .map(|reference| {
                        serde_json::json!({
                            "label": reference.label,
                            "value": reference.value,
                            "ratio": ratio(row.value, reference.value),
                        })
                    })
                    .collect();
                serde_json::json!({
                    "scenario": row.scenario,
                    "name": row.name,
                    "value": if row.skipped.is_some() { None } else { Some(row.value) },
                    "skipped": row.skipped,
                    "unit": row.unit,
                    "p50_us": row.p50_us,
                    "p99_us": row.p99_us,
                    "references": references,
                })
            })
            .collect();
        let notes: Vec<serde_json::Value> = self
            .notes
            .iter()
            .map(|(scenario, text)| serde_json::json!({ "scenario": scenario, "text": text }))
            .collect();
        serde_json::json!({
            "quick": self.quick,
            "threads": self.threads,
            "load_generator_shares_cores": true,
            "rows": rows,
            "notes": notes,
        })
    }
}

fn ratio(value: f64, reference: f64) -> Option<f64> {
    (reference > 0.0).then(|| value / reference)
}

fn format_ratio(value: f64, reference: f64) -> String {
    ratio(value, reference).map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.2}×"))
}

fn reference_label(reference: &Reference, unit: &str) -> String {
    format!("{}: {}", reference.label, format_value(reference.value, unit))
}

/// A rate or count with a k/M suffix: `1.23M`, `45.6k`, `789`.
pub fn human(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e4 {
        format!("{:.1}k", value / 1e3)
    } else if value >= 1e3 {
        format!("{:.2}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// A value with its unit: rates get k/M suffixes, times one decimal.
pub fn format_value(value: f64, unit: &str) -> String {
    if unit.ends_with("/s") { format!("{} {unit}", human(value)) } else { format!("{value:.1} {unit}") }
}

/// A latency given in microseconds, in µs, ms or s.
pub fn format_latency(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.1} ms", us / 1_000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_latencies_format_readably() {
        assert_eq!(human(1_234_567.0), "1.23M");
        assert_eq!(human(45_600.0), "45.6k");
        assert_eq!(human(2_500.0), "2.50k");
        assert_eq!(format_value(98_765.0, "cmd/s"), "98.8k cmd/s");
        assert_eq!(format_value(12.34, "ms"), "12.3 ms");
        assert_eq!(format_latency(850.0), "850 µs");
        assert_eq!(format_latency(12_300.0), "12.3 ms");
        assert_eq!(format_ratio(50.0, 100.0), "0.50×");
    }

    #[test]
    fn the_table_groups_rows_by_scenario_and_prints_every_reference() {
        let mut report = Report::new(true, 2);
        report.row(
            Row::new("driver", "batch", 150_000.0, "cmd/s")
                .latency(900.0, 2_000.0)
                .reference("target", 100_000.0)
                .reference("other", 300_000.0),
        );
        report.note("driver", "a note");
        let table = report.table();
        assert!(table.contains("== driver"));
        assert!(table.contains("1.50×"));
        assert!(table.contains("0.50×"));
        assert!(table.contains("note: a note"));
        report.row(Row::skipped("escrow", "PostgreSQL", "skipped: PostgreSQL not reachable (refused)"));
        assert!(report.table().contains("skipped: PostgreSQL not reachable (refused)"));
        assert!(report.json()["rows"][1]["value"].is_null());
        let json = report.json();
        assert_eq!(json["rows"][0]["references"][0]["ratio"], 1.5);
    }
}
