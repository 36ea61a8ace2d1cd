//! The demo's report, printed once the swarm is done: agents, liveness and events from the event
//! stream, the trading team's days, the task market's escrows, direct work, balances and the bus.

use std::collections::BTreeMap;

use colony_client::Client;
use colony_core::stigmergy::NANOS_ONE;
use colony_core::{AgentId, Event};

use super::coordination::{self, CoordinationReport};
use super::distribution::DistributionReport;
use super::governance::{self, GovernanceReport};
use super::shared_state::SharedStateReport;
use super::signals::SignalsReport;
use super::stigmergy::StigmergyReport;
use super::tasks::TasksReport;
use super::trading::TradingReport;
use super::{market, units};
use crate::CliResult;
use crate::agent::print_agents;
use crate::output::print_table;

/// What each part of the demo reported.
pub(super) struct Parts {
    pub(super) trading: TradingReport,
    pub(super) bus: SignalsReport,
    pub(super) market: TasksReport,
    pub(super) direct: DistributionReport,
    pub(super) stigmergy: StigmergyReport,
    pub(super) governance: GovernanceReport,
    pub(super) coordination: CoordinationReport,
    pub(super) shared_state: SharedStateReport,
}

pub(super) async fn print(operator: &Client, events: &[Event], parts: &Parts) -> CliResult {
    println!();
    println!("Agents");
    print_agents(&operator.all_agents().await?);
    print_events(events);
    print_trading(operator, &parts.trading).await?;
    print_market(&parts.market);
    print_direct(&parts.direct);
    print_stigmergy(&parts.stigmergy);
    print_governance(&parts.governance);
    print_coordination(&parts.coordination);
    print_shared_state(&parts.shared_state);
    print_balances(operator).await?;
    parts.bus.print_report();
    Ok(())
}

/// Liveness changes in log time, and every event by type.
fn print_events(events: &[Event]) {
    println!();
    println!("Liveness, from the event stream (log time, relative to the first event)");
    let origin = events.first().map_or(0, |event| event.timestamp_ms);
    let liveness: Vec<Vec<String>> = events
        .iter()
        .filter(|event| {
            matches!(
                event.kind.name(),
                "agent.unresponsive" | "agent.active" | "agent.halted" | "agent.resumed" | "agent.deregistered"
            )
        })
        .map(|event| {
            let detail = serde_json::to_value(&event.kind).unwrap_or_default();
            vec![
                format!("+{} ms", event.timestamp_ms - origin),
                format!("{}", event.sequence),
                event.kind.name().to_owned(),
                detail["agent"].as_str().unwrap_or("-").to_owned(),
                detail["by"].as_str().map_or(String::new(), |by| format!("by {by}")),
            ]
        })
        .collect();
    print_table(&["TIME", "ENTRY", "EVENT", "AGENT", ""], &liveness);

    println!();
    println!("Events by type");
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for event in events {
        *counts.entry(event.kind.name()).or_default() += 1;
    }
    print_table(
        &["EVENT", "COUNT"],
        &counts.iter().map(|(name, count)| vec![(*name).to_owned(), count.to_string()]).collect::<Vec<_>>(),
    );
}

/// The trading team's days, its failed verification, refusals and referral income.
async fn print_trading(operator: &Client, trading: &TradingReport) -> CliResult {
    println!();
    println!("Trading team: each stage paid through escrow; workers buy prices from oracle-1 through escrow");
    let rows: Vec<Vec<String>> = trading
        .days
        .iter()
        .map(|day| {
            vec![
                day.date.clone(),
                day.signals.to_string(),
                day.approved.to_string(),
                if day.execution.ends_with("filled") {
                    format!("{:+.2}", day.pnl_milli as f64 / 1_000.0)
                } else {
                    "-".to_owned()
                },
                day.execution.clone(),
            ]
        })
        .collect();
    print_table(&["DAY", "SIGNALS", "APPROVED", "P&L USD", "EXECUTION"], &rows);
    let total_pnl: i64 = trading.days.iter().map(|day| day.pnl_milli).sum();
    println!(
        "  simulated P&L over the period: {:+.2} USD ({} shares per trade)",
        total_pnl as f64 / 1_000.0,
        market::SHARES_PER_TRADE
    );
    if let Some(escrow) = trading.expired_escrow {
        let escrow = operator.escrow(escrow).await?;
        println!(
            "  failed verification: escrow {} is {} and {} went back to {}",
            escrow.id,
            escrow.state.name(),
            units(u128::from(escrow.refunded_to_payer.0)),
            escrow.payer
        );
    }
    if let Some(code) = &trading.daily_limit_refusal {
        println!("  trader-1's child wallet hit its daily limit: its data purchase was refused with `{code}`");
    }
    if let Some(code) = &trading.withdraw_refusal {
        println!("  trader-1 (no-withdraw child wallet) tried to move money out of the swarm: `{code}`");
    }
    println!(
        "  orchestrator-1 earned {} in referral fees: its workers' share of the fee on every escrow that paid them",
        units(trading.referral_income)
    );
    Ok(())
}

/// Each award's escrow and how it ended.
fn print_market(market_report: &TasksReport) {
    println!();
    println!("Task market: each award's escrow and how it ended (the desk verifies by recomputing on real prices)");
    let task_rows: Vec<Vec<String>> = market_report
        .tasks
        .iter()
        .flat_map(|task| {
            task.awards.iter().enumerate().map(move |(index, (winner, escrow, ended))| {
                let first = index == 0;
                vec![
                    if first { task.task.to_string() } else { String::new() },
                    if first { task.what.clone() } else { String::new() },
                    winner.clone(),
                    escrow.to_string(),
                    ended.clone(),
                    if index + 1 == task.awards.len() { task.result.clone() } else { String::new() },
                ]
            })
        })
        .collect();
    print_table(&["TASK", "WHAT", "WINNER", "ESCROW", "ENDED", "RESULT"], &task_rows);
}

/// Who got each direct task and why.
fn print_coordination(report: &CoordinationReport) {
    println!();
    println!("Coordination");
    let handover = &report.handover;
    println!(
        "  election order-desk: executor-1 led in term {}, its {} ms lease ran out, and executor-2 was elected in \
         term {} after {} ms of log time from executor-1's last keep-alive",
        handover.first_term,
        coordination::LEASE_TTL_MS,
        handover.next_term,
        handover.handover_ms
    );
    println!("  barrier close-of-day, first meeting (released together when the last arrived):");
    let rows: Vec<Vec<String>> = report
        .meeting
        .iter()
        .map(|party| {
            vec![
                party.arrived.to_string(),
                party.agent.to_owned(),
                party.ticker.to_uppercase(),
                format!(
                    "{}{}.{:02}%",
                    if party.return_bps < 0 { "-" } else { "+" },
                    party.return_bps.unsigned_abs() / 100,
                    party.return_bps.unsigned_abs() % 100
                ),
                format!("{} ms", party.waited.as_millis()),
            ]
        })
        .collect();
    print_table(&["ARRIVED", "PARTY", "TICKER", "RETURN", "WAITED"], &rows);
    println!(
        "  second meeting: {} of {} came; it broke after {} ms of log time ({})",
        report.missed.0,
        report.meeting.len(),
        coordination::BARRIER_TIMEOUT_MS,
        coordination::break_name(report.missed.1)
    );
    let vote = &report.vote;
    println!(
        "  vote-based election desk-lead: {} ({} {}{}.{:02}%) elected in term {} by {} of {} votes",
        vote.leader,
        vote.ticker.to_uppercase(),
        if vote.return_bps < 0 { "-" } else { "+" },
        vote.return_bps.unsigned_abs() / 100,
        vote.return_bps.unsigned_abs() % 100,
        vote.term,
        vote.votes,
        vote.candidates
    );
}

fn print_shared_state(report: &SharedStateReport) {
    println!();
    println!("Shared state (namespace close-of-day)");
    let rows: Vec<Vec<String>> =
        report.summaries.iter().map(|(key, revision)| vec![key.clone(), revision.to_string()]).collect();
    print_table(&["KEY", "REVISION"], &rows);
    println!(
        "  book/net-return-bps = {} (the returns sum to {}): {} swaps won, {} refused as stale and retried; \
         version {}, revision {}",
        report.total_bps,
        report.expected_bps,
        report.swaps,
        report.retries,
        report.total_version,
        report.total_revision
    );
    println!(
        "  a watcher reconciled its copy by reading {} changes; it then held the namespace's {} keys",
        report.reconciled.0, report.reconciled.1
    );
}

fn print_stigmergy(report: &StigmergyReport) {
    println!();
    println!(
        "Pheromones: the strongest momentum trails as executor-1 read them ({} to {}; strength = the day's move in %, halved every {} ms of log time)",
        report.dates.0,
        report.dates.1,
        super::stigmergy::HALF_LIFE_MS
    );
    let rows: Vec<Vec<String>> = report
        .reads
        .iter()
        .map(|(date, trails)| {
            let strongest: Vec<String> = trails
                .iter()
                .map(|(key, intensity)| {
                    format!(
                        "{key} {}.{:02}",
                        intensity.nanos() / NANOS_ONE,
                        intensity.nanos() % NANOS_ONE / (NANOS_ONE / 100)
                    )
                })
                .collect();
            vec![date.clone(), strongest.join(", ")]
        })
        .collect();
    print_table(&["DAY", "STRONGEST TRAILS"], &rows);
    let deposits: Vec<String> = report.deposits.iter().map(|(scout, count)| format!("{scout} {count}")).collect();
    println!(
        "  deposits: {}; executor-2, not a depositor, was refused (`{}`)",
        deposits.join(", "),
        report.outsider_refusal
    );
}

fn print_governance(report: &GovernanceReport) {
    println!();
    println!("Decisions, in the order they were sealed (seed 001: approved when the yes weight reaches 4.0)");
    let rows: Vec<Vec<String>> = report
        .decisions
        .iter()
        .map(|decision| {
            vec![
                decision.chain_position.to_string(),
                decision.title.clone(),
                decision.voters.join(" + "),
                governance::weight(decision.yes_weight_millionths),
                governance::outcome(&decision.outcome).to_owned(),
                format!("{}…", &decision.seal[..16]),
            ]
        })
        .collect();
    print_table(&["SEAL #", "PROPOSAL", "YES", "WEIGHT", "OUTCOME", "SEAL"], &rows);
    if let Some(mint) = &report.guarded {
        println!(
            "  after bootstrap the operator's own mint was refused (`{}`); the approved proposal's action minted {} to {}",
            mint.operator_refusal,
            units(mint.minted_minor),
            mint.to
        );
    }
}

fn print_direct(direct: &DistributionReport) {
    println!();
    println!(
        "Direct work: who got what and why (the market's order: affinity, performance, load; only agents with room)"
    );
    let direct_rows: Vec<Vec<String>> = direct
        .assignments
        .iter()
        .map(|assignment| {
            vec![
                assignment.task.to_string(),
                assignment.what.clone(),
                assignment.priority.to_string(),
                assignment.agent.clone(),
                assignment.escrow.to_string(),
                assignment.ended.clone(),
                assignment.why.clone(),
            ]
        })
        .collect();
    print_table(&["TASK", "WHAT", "PRIORITY", "AGENT", "ESCROW", "ENDED", "WHY"], &direct_rows);
    println!(
        "  the priority-5 task was announced after the priority-0 one, in the same entry, and served first; \
         every assignment matched the market's order as the quants' reputations and capacities showed it"
    );
}

/// Every wallet that moved, the swarm's accounts, and whether the books balance.
async fn print_balances(operator: &Client) -> CliResult {
    println!();
    println!("Balances (units; 1 unit = 1,000,000 minor units)");
    let mut balance_rows = Vec::new();
    for agent in operator.all_agents().await? {
        let wallet = operator.wallet(&agent.id).await?;
        if wallet.balance.0 == 0 && wallet.spent_total == 0 && wallet.earned_total == 0 {
            continue;
        }
        balance_rows.push(vec![
            agent.id.to_string(),
            units(u128::from(wallet.balance.0)),
            units(wallet.earned_total),
            units(wallet.spent_total),
            units(wallet.fees_paid_total),
        ]);
    }
    let books = operator.ledger().await?;
    balance_rows.push(vec!["@fees (swarm)".to_owned(), units(books.fees), "".to_owned(), "".to_owned(), "".to_owned()]);
    balance_rows.push(vec![
        "@escrow (held)".to_owned(),
        units(books.escrow_held),
        "".to_owned(),
        "".to_owned(),
        "".to_owned(),
    ]);
    print_table(&["ACCOUNT", "BALANCE", "EARNED", "SPENT", "FEES PAID"], &balance_rows);
    println!(
        "  supply {} = wallets {} + fees {} + escrow {}: the books {}",
        units(books.supply),
        units(books.wallets_total),
        units(books.fees),
        units(books.escrow_held),
        if books.balanced { "balance" } else { "DO NOT BALANCE" }
    );
    if !books.balanced {
        return Err("the books do not balance".into());
    }
    let costs = operator.costs(&AgentId::new("orchestrator-1")?).await?;
    println!(
        "  orchestrator-1 and its {} children: balance {}, spent {}, earned {}",
        costs.agents - 1,
        units(costs.balance),
        units(costs.spent),
        units(costs.earned)
    );
    Ok(())
}
