//! `colony log checkpoint` and `colony log proof`: the log's signed checkpoints, and proofs that a
//! write's receipt is in the history one of them vouches for, checked here rather than trusted.

use std::path::PathBuf;

use colony_core::{Digest, PublicKey};

use crate::output::print_json;
use crate::{CliResult, Connection};

/// `colony log …`.
#[derive(Debug, clap::Subcommand)]
pub enum LogCommand {
    /// Show the newest checkpoint the operator signed over the log.
    Checkpoint {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetch and check the proof that an entry is covered by a signed checkpoint.
    Proof {
        /// The entry (a write's `sequence`); or give `--receipt`.
        #[arg(long, required_unless_present = "receipt")]
        sequence: Option<u64>,
        /// A saved write response (or any JSON with `sequence` and `chain_hash`): its chain hash must
        /// be the log's.
        #[arg(long, value_name = "FILE")]
        receipt: Option<PathBuf>,
        /// The operator key to trust (hex); by default the one the server's status names.
        #[arg(long, value_parser = parse_public_key)]
        operator_key: Option<PublicKey>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_public_key(text: &str) -> Result<PublicKey, String> {
    PublicKey::from_hex(text).map_err(|error| format!("not a key in hex (64 digits): {error}"))
}

/// The fields of a receipt file; anything else in it (a whole write response) is ignored.
#[derive(serde::Deserialize)]
pub struct Receipt {
    /// The entry.
    pub sequence: u64,
    /// Its chain hash.
    pub chain_hash: Digest,
}

/// Reads a receipt file.
pub fn read_receipt(path: &std::path::Path) -> Result<Receipt, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|error| format!("{}: not a receipt (sequence and chain_hash expected): {error}", path.display()))
}

/// Runs a `colony log` command.
pub async fn run(command: LogCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        LogCommand::Checkpoint { json } => {
            let checkpoint = client.log_checkpoint().await?;
            if json {
                print_json(&checkpoint);
            } else {
                println!("checkpoint at entry {}", checkpoint.record_sequence);
                println!("  covers       entries 1..={}", checkpoint.sequence);
                println!("  chain hash   {}", checkpoint.chain_hash);
                println!("  state hash   {} (at entry {})", checkpoint.state_hash, checkpoint.state_sequence);
                println!("  signed by    {}", checkpoint.operator_key);
            }
        }
        LogCommand::Proof { sequence, receipt, operator_key, json } => {
            let receipt = receipt.as_deref().map(read_receipt).transpose()?;
            let sequence = receipt.as_ref().map_or_else(|| sequence.expect("clap requires one"), |r| r.sequence);
            let operator_key = match operator_key {
                Some(key) => key,
                None => client.status().await?.operator_key.ok_or("the server names no operator key")?,
            };
            let proof = client.log_proof(sequence).await?;
            colony_server::history::verify_proof(&proof, &operator_key, receipt.map(|receipt| receipt.chain_hash))
                .map_err(|reason| format!("proof of entry {sequence} FAILED: {reason}"))?;
            if json {
                print_json(&serde_json::json!({ "ok": true, "proof": proof }));
            } else {
                println!("proof OK: entry {sequence} (chain hash {})", proof.chain_hash);
                println!(
                    "  {} digests lead to the checkpoint at entry {}, signed by {operator_key}",
                    proof.record_digests.len(),
                    proof.checkpoint.record_sequence
                );
            }
        }
    }
    Ok(())
}
