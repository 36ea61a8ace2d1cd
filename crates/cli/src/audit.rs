//! `colony audit verify` and `colony audit seals`: offline audits of a stopped server's data directory.

use std::io::Write as _;
use std::path::PathBuf;

use crate::CliResult;
use crate::output::thousands;

/// `colony audit …`.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Replay the whole log, re-verify every signature, recompute the state hash, check invariants.
    Verify {
        /// The data directory of a stopped server.
        #[arg(long, default_value = colony_server::server::DEFAULT_DATA_DIR)]
        data: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Instead of the full replay, check one receipt against the log: a JSON file holding the
        /// `sequence` and `chain_hash` a write was answered with (the saved response will do).
        #[arg(long, value_name = "FILE")]
        receipt: Option<PathBuf>,
    },
    /// Re-verify the chain of decisions: every seal recomputed and linked, every sealed ballot matched
    /// to the envelope its voter signed (signature re-verified).
    Seals {
        /// The data directory of a stopped server.
        #[arg(long, default_value = colony_server::server::DEFAULT_DATA_DIR)]
        data: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn audit_seals(data: &std::path::Path, json: bool) -> CliResult {
    let report =
        colony_server::audit::seals::audit_seals(data).map_err(|error| format!("seal audit FAILED at {error}"))?;
    if json {
        crate::output::print_json(&serde_json::json!({
            "ok": true,
            "entries": report.entries,
            "decisions": report.decisions,
            "ballots": report.ballots,
            "ballot_signatures": report.ballot_signatures,
            "actions": report.actions,
            "seal_head": report.seal_head,
        }));
    } else {
        println!("seals OK: {} decisions in {} entries of {}", report.decisions, report.entries, data.display());
        println!(
            "  ballots      {} sealed, each from an envelope its voter signed ({} verified)",
            report.ballots, report.ballot_signatures
        );
        println!("  actions      {} run by approved decisions", report.actions);
        println!("  chain head   {}", report.seal_head);
    }
    Ok(())
}

fn check_receipt(data: &std::path::Path, path: &std::path::Path, json: bool) -> CliResult {
    let receipt = crate::history::read_receipt(path)?;
    let chain = colony_log::ChainHash(receipt.chain_hash.0);
    let report = colony_server::audit::check_receipt(data, receipt.sequence, chain)
        .map_err(|error| format!("receipt check FAILED at {error}"))?;
    let covered = report.covered_by.map(|logged| (logged.record_sequence, logged.checkpoint.statement.sequence));
    if json {
        crate::output::print_json(&serde_json::json!({
            "ok": true,
            "sequence": report.sequence,
            "chain_hash": receipt.chain_hash,
            "checkpoint_entry": covered.map(|(record, _)| record),
            "log_head": report.head.sequence,
        }));
    } else {
        println!("receipt OK: entry {} has chain hash {} in {}", report.sequence, receipt.chain_hash, data.display());
        println!(
            "  history      verified from genesis to entry {} (chain, head, signed checkpoints)",
            report.head.sequence
        );
        match covered {
            Some((record, covers)) => {
                println!("  checkpoint   entry {record}, signed by the operator over entries 1..={covers}")
            }
            None => println!("  checkpoint   none after this entry yet (the next clean shutdown writes one)"),
        }
    }
    Ok(())
}

/// Runs an audit command.
pub fn run(command: AuditCommand) -> CliResult {
    let (data, json, receipt) = match command {
        AuditCommand::Verify { data, json, receipt } => (data, json, receipt),
        AuditCommand::Seals { data, json } => return audit_seals(&data, json),
    };
    if let Some(receipt) = receipt {
        return check_receipt(&data, &receipt, json);
    }
    let mut last_print = std::time::Instant::now();
    let mut printed_progress = false;
    let report = colony_server::audit::audit(&data, |done, total| {
        if !json && last_print.elapsed().as_millis() >= 500 {
            printed_progress = true;
            eprint!("\r  audited {} / {} entries", thousands(done), thousands(total));
            let _ = std::io::stderr().flush();
            last_print = std::time::Instant::now();
        }
    });
    if printed_progress {
        eprint!("\r\x1b[2K");
    }
    let report = report.map_err(|error| format!("audit FAILED at {error}"))?;
    let seconds = report.elapsed.as_secs_f64().max(1e-9);
    if json {
        crate::output::print_json(&serde_json::json!({
            "ok": true,
            "entries": report.entries,
            "commands": report.commands,
            "signatures": report.signatures,
            "snapshots_checked": report.snapshots_checked,
            "checkpoints_checked": report.checkpoints_checked,
            "chain_head": report.chain_head.to_hex(),
            "sequence": report.sequence,
            "agents": report.agents,
            "supply": report.supply.to_string(),
            "open_escrows": report.open_escrows,
            "state_hash": report.state_hash,
            "elapsed_ms": report.elapsed.as_millis() as u64,
            "entries_per_second": (report.entries as f64 / seconds) as u64,
            "commands_per_second": (report.commands as f64 / seconds) as u64,
        }));
    } else {
        println!("audit OK: {}", data.display());
        println!("  entries           {}", thousands(report.entries));
        println!("  commands          {}", thousands(report.commands));
        println!("  signatures        {} re-verified", thousands(report.signatures));
        println!("  snapshots         {} matched the replay", report.snapshots_checked);
        println!(
            "  history           one hash chain from genesis to its head {}; {} operator checkpoints verified",
            report.chain_head, report.checkpoints_checked
        );
        println!("  invariants        hold (registry, and the books: every transfer balanced, no wallet negative,");
        println!("                    escrow holding = open escrows)");
        println!("  money supply      {} minor units, {} open escrows", report.supply, report.open_escrows);
        println!("  agents            {}", thousands(report.agents));
        println!("  final state hash  {} (at entry {})", report.state_hash, report.sequence);
        println!(
            "  speed             {} entries/s, {} commands/s ({:.2?})",
            thousands((report.entries as f64 / seconds) as u64),
            thousands((report.commands as f64 / seconds) as u64),
            report.elapsed
        );
    }
    Ok(())
}
