//! `colony demo` end to end: the binary runs the whole tour against its embedded server and the
//! report says what each part did: the registry, the trading team paid through escrow, the bus
//! (prices, durable signals, a work queue with a crashed executor, risk alerts), direct work and
//! batches, stigmergy (momentum trails read by executors), governance (seed 001's council, sealed
//! decisions, a guarded mint), and the audit.

mod common;

use common::colony;

/// The report line that starts with `prefix` (after the table indentation).
fn line<'a>(report: &'a str, prefix: &str) -> &'a str {
    report
        .lines()
        .find(|line| line.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with '{prefix}' in the report:\n{report}"))
}

/// The cells of the first table row that begins with the cells `first`.
fn row<'a>(report: &'a str, first: &[&str]) -> Vec<&'a str> {
    report
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.starts_with(first))
        .unwrap_or_else(|| panic!("no row {first:?} in the report:\n{report}"))
}

/// The number right after `prefix` in `text`.
fn number_after(text: &str, prefix: &str) -> u64 {
    let start = text.find(prefix).unwrap_or_else(|| panic!("no '{prefix}' in '{text}'")) + prefix.len();
    let digits: String = text[start..].chars().take_while(|character| character.is_ascii_digit()).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after '{prefix}' in '{text}'"))
}

#[test]
fn the_demo_runs_every_part_and_reports_it() {
    let work = tempfile::tempdir().expect("a temporary directory");
    let output = colony(work.path(), &["demo"]);
    let report = output.ok();

    // Parts 1 and 2, and the audit.
    assert!(report.contains("refused with `agent_halted`"), "{report}");
    assert!(report.contains("the books balance"), "{report}");
    assert!(report.contains(": matches the live server's"), "{report}");
    let checkpoints = number_after(line(report, "history "), "; ");
    assert!(checkpoints >= 1, "at least the stop's checkpoint: {report}");

    // Part 3: prices reached both scouts over WebSockets, nothing was dropped.
    let published = number_after(line(report, "oracle-1 published "), "oracle-1 published ");
    assert!(published > 0, "{report}");
    for scout in ["scout-1", "scout-2"] {
        let cells = row(report, &[scout, "market.price.*"]);
        let delivered = published.to_string();
        assert_eq!(
            cells[1..5],
            ["market.price.*", "websocket", delivered.as_str(), "0"],
            "every price, no drop: {cells:?}"
        );
    }
    assert!(line(report, "the scouts' signals").contains("are exactly the scanner's rule"), "{report}");

    // Signals were stored durably, and the deliberate re-send was refused as a duplicate.
    let stream = line(report, "stream `signals`: ");
    let stored = number_after(stream, "stream `signals`: ");
    assert!(stored > 0, "{stream}");
    assert!(stream.contains("got `duplicate`"), "{stream}");

    // The crashed executor's message came back to the other one, on its second delivery.
    let redelivery = line(report, "redelivery: ");
    assert!(redelivery.contains("held by executor-2 when it crashed went to executor-1"), "{redelivery}");
    assert!(redelivery.contains("delivery count 2"), "{redelivery}");
    assert!(
        report
            .lines()
            .any(|line| line.trim_start().starts_with("executor-2") && line.contains("crashed holding signals:")),
        "{report}"
    );

    // Every signal was acked exactly once; nothing became a dead letter or was lost.
    let consumer = line(report, "consumer `executors`: ");
    assert_eq!(number_after(consumer, "deliveries ("), 1, "one redelivery: {consumer}");
    assert_eq!(number_after(consumer, "redelivered), "), stored, "every stored signal acked: {consumer}");
    assert!(consumer.contains("0 pending; dead letters: 0"), "{consumer}");

    // risk-1 answered the request and raised alerts; the inbox message arrived; the bus dropped nothing.
    assert!(line(report, "request/reply: ").contains("and risk-1 answered {\"approved\":"), "{report}");
    assert!(line(report, "inbox: ").contains("delivered to 1, received by treasury-1"), "{report}");
    let bus = line(report, "bus: published ");
    assert!(bus.contains("dropped 0"), "{bus}");
    assert!(report.contains("risk.alert."), "{report}");

    // Part 5: the batch's chunks and the direct tasks were assigned as the market's order says (the
    // demo checks each against the reputations it read) and each was paid from its escrow.
    let direct = line(report, "12. direct work: ");
    assert!(direct.contains("in one task.announce_batch"), "{direct}");
    let rows: Vec<&str> =
        report.lines().filter(|line| line.contains(" volatility of ") || line.contains("chunk: ")).collect();
    assert_eq!(rows.len(), 4, "two chunks and two direct tasks: {report}");
    assert!(rows.iter().all(|row| row.contains(" paid ")), "every escrow released: {rows:?}");
    let served: Vec<&str> = rows[2..].iter().map(|row| row.split_whitespace().nth(5).unwrap_or("")).collect();
    assert_eq!(served, ["5", "0"], "the priority-5 task is served first: {rows:?}");
    assert!(rows[2].contains("load 0/3 against quant-1's 2/4"), "the less loaded quant: {rows:?}");
    assert!(rows[3].contains("the only one with room"), "capacity decides the last: {rows:?}");

    // Stigmergy: three reads of the strongest trails, keys as the seeds write them, the outsider refused.
    assert!(line(report, "13. stigmergy").contains("executor-2's deposit was refused (`not_depositor`)"), "{report}");
    let pheromones = &report[report.find("Pheromones: ").expect("a pheromone table")..];
    let reads: Vec<&str> = pheromones.lines().skip(3).take_while(|line| line.starts_with("  2012-")).collect();
    assert_eq!(reads.len(), 3, "{pheromones}");
    for read in reads {
        // Up to three trails, strongest first (how many are left above 0.01 depends on the log time
        // that passed, which a loaded machine stretches).
        let strengths: Vec<f64> = read
            .split(", ")
            .map(|trail| trail.rsplit(' ').next().and_then(|number| number.parse().ok()).expect("a strength"))
            .collect();
        assert!((1..=3).contains(&strengths.len()), "{read}");
        assert!(strengths.windows(2).all(|pair| pair[0] >= pair[1]), "strongest first: {read}");
        assert!(read.contains(":momentum "), "keys as the seeds write them: {read}");
    }

    // Governance: seed 001's three cases, then the guarded mint, in one chain of four seals.
    let decisions = &report[report.find("Decisions, in the order").expect("a decisions table")..];
    let decided = |position: &str| row(decisions, &[position]);
    for (position, voters, weight, outcome) in [
        ("1", "architect-1 + security-1", "4.5", "approved"),
        ("2", "architect-1 + auditor-1", "4.0", "approved"),
        ("3", "security-1 + auditor-1", "3.5", "rejected"),
        ("4", "architect-1 + security-1", "4.5", "approved"),
    ] {
        let cells = decided(position).join(" ");
        assert!(cells.contains(&format!("{voters} {weight} {outcome}")), "seal #{position}: {cells}");
    }
    assert!(line(report, "15. bootstrap ended").contains("refused with `guarded`"), "{report}");
    assert!(line(report, "after bootstrap").contains("minted 250.000000 to developer-1"), "{report}");
    let seals = line(report, "decisions ");
    assert!(seals.trim_start().trim_start_matches("decisions").trim_start().starts_with("4 seals"), "{seals}");
    assert!(seals.contains("8 ballots matched to their signed envelopes; 1 action run"), "{seals}");

    // Coordination: the next leader elected within the dead leader's lease TTL and 100 ms, in a higher
    // term; five parties released together; the meeting one missed broke at its timeout.
    let coordination = line(report, "16. coordination");
    let first_term = number_after(coordination, "led the order desk (term ");
    let handover_ms = number_after(coordination, "was elected ");
    assert!((1_000..=1_100).contains(&handover_ms), "{coordination}");
    assert!(number_after(coordination, "keep-alive (term ") > first_term, "{coordination}");
    assert!(coordination.contains("5 agents summarised 60 real trading days each"), "{coordination}");
    assert!(coordination.contains("telling the 4 that had (`timed_out`)"), "{coordination}");
    assert!(coordination.contains("was elected in term 1 by 3 of 5 votes"), "{coordination}");
    let meeting = &report[report.find("barrier close-of-day").expect("a barrier table")..];
    let arrivals: Vec<&str> =
        meeting.lines().skip(3).take(5).map(|line| line.split_whitespace().next().unwrap_or("")).collect();
    assert_eq!(arrivals, ["1", "2", "3", "4", "5"], "{meeting}");

    // Shared state: five additions by compare-and-swap at once, none lost, and a watcher's copy
    // reconciled from the revision it read.
    let shared = line(report, "17. shared state");
    assert!(shared.contains("is the sum of the returns (version 6)"), "{shared}");
    assert!(shared.contains("by reading 6 changes"), "{shared}");
    let total = line(report, "book/net-return-bps = ");
    let (_, value) = total.split_once("book/net-return-bps = ").expect("the total");
    let (reached, rest) = value.split_once(" (the returns sum to ").expect("the sum");
    assert_eq!(Some(reached), rest.split_once(')').map(|(sum, _)| sum), "{total}");
    assert!(line(report, "a watcher reconciled").contains("the namespace's 6 keys"), "{report}");
}
