//! `colony mint`, `colony transfer`, `colony penalize`, `colony wallet …`, `colony escrow …`, `colony ledger`.
//!
//! Amounts are integers of minor units (by convention 1 unit = 1,000,000 minor units).

use colony_client::EscrowLock;
use colony_core::command::{ConfigureWallet, Mint, Penalize, Sweep, Transfer, Withdraw};
use colony_core::{AgentId, Amount, Command, EscrowResolution, Name};
use colony_wire::views::SubmitResponse;

use crate::output::{print_json, print_submitted, print_table, query_string};
use crate::{CliResult, Connection};

fn agent(text: &str, flag: &str) -> Result<AgentId, String> {
    AgentId::new(text).map_err(|error| format!("{flag} '{text}': {error}"))
}

fn amount(text: &str, flag: &str) -> Result<Amount, String> {
    text.parse::<u64>().map(Amount).map_err(|_| format!("{flag} '{text}': an amount is an integer of minor units"))
}

/// An optional amount where `none` clears the setting.
fn amount_or_none(text: &str, flag: &str) -> Result<Option<Amount>, String> {
    if text == "none" { Ok(None) } else { amount(text, flag).map(Some) }
}

/// The given transfer id, or one made from the current time.
fn transfer_id(given: Option<String>) -> Result<Name, String> {
    let text = given.unwrap_or_else(|| {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|duration| duration.as_micros())
            .unwrap_or(0);
        format!("cli-{micros}")
    });
    Name::new(text.as_str()).map_err(|error| format!("--id '{text}': {error}"))
}

fn report(response: &SubmitResponse) {
    let escrow = response.results.first().and_then(|result| result.escrow_id);
    print_submitted(response, false, escrow.map(|escrow| format!("escrow {escrow}")));
}

/// Arguments of `colony mint` and `colony transfer`: who is paid, how much, under which id.
#[derive(Debug, clap::Args)]
pub struct PaymentArgs {
    /// The wallet credited.
    #[arg(long)]
    to: String,
    /// Minor units.
    #[arg(long)]
    amount: String,
    /// The transfer id (idempotent); generated when absent.
    #[arg(long)]
    id: Option<String>,
}

/// Runs `colony mint` (operator key) or `colony transfer` (the payer's key).
pub async fn pay(args: PaymentArgs, mint: bool, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    let (transfer_id, to, amount) =
        (transfer_id(args.id)?, agent(&args.to, "--to")?, amount(&args.amount, "--amount")?);
    let command = if mint {
        Command::Mint(Mint { transfer_id, to, amount })
    } else {
        Command::Transfer(Transfer { transfer_id, to, amount })
    };
    report(&client.submit_one(command).await?);
    Ok(())
}

/// Arguments of `colony penalize`.
#[derive(Debug, clap::Args)]
pub struct PenaltyArgs {
    /// The agent penalized.
    agent: String,
    /// The most to take, in minor units (a wallet holding less is emptied).
    #[arg(long)]
    amount: String,
    /// Why, for the record.
    #[arg(long)]
    reason: String,
}

/// Runs `colony penalize` (operator key).
pub async fn penalize(args: PenaltyArgs, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    let (agent, amount) = (agent(&args.agent, "agent")?, amount(&args.amount, "--amount")?);
    report(&client.submit_one(Command::Penalize(Penalize { agent, amount, reason: args.reason })).await?);
    Ok(())
}

/// `colony wallet …`.
#[derive(Debug, clap::Subcommand)]
pub enum WalletCommand {
    /// Show an agent's wallet.
    Show {
        /// The agent.
        agent: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a wallet's policy (the agent's parent, or the operator).
    Configure {
        /// The agent.
        agent: String,
        /// Daily spending limit in minor units, or `none`.
        #[arg(long)]
        daily_limit: Option<String>,
        /// Forbid (true) or allow (false) moving money out of the swarm.
        #[arg(long)]
        no_withdraw: Option<bool>,
        /// Freeze (true) or unfreeze (false) spending.
        #[arg(long)]
        frozen: Option<bool>,
        /// Budget: halt the agent while its balance is below this (minor units), or `none`.
        #[arg(long)]
        minimum_balance: Option<String>,
    },
    /// Move money from a child's wallet back to the parent's (the parent's key).
    Sweep {
        /// The child.
        child: String,
        /// Minor units.
        #[arg(long)]
        amount: String,
        /// The transfer id; generated when absent.
        #[arg(long)]
        id: Option<String>,
    },
    /// Move money out of the swarm (the agent's key).
    Withdraw {
        /// Minor units.
        #[arg(long)]
        amount: String,
        /// The transfer id; generated when absent.
        #[arg(long)]
        id: Option<String>,
    },
}

/// Runs a wallet command.
pub async fn wallet(command: WalletCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        WalletCommand::Show { agent: id, json } => {
            let wallet = client.wallet(&agent(&id, "agent")?).await?;
            if json {
                print_json(&wallet);
            } else {
                let optional = |value: Option<Amount>| value.map_or("-".to_owned(), |amount| amount.to_string());
                println!("wallet of {}", wallet.agent);
                println!("  balance           {}", wallet.balance);
                println!("  held in escrow    {}", wallet.held_in_escrow);
                println!("  daily limit       {} (spent today {})", optional(wallet.daily_limit), wallet.spent_today);
                println!("  minimum balance   {}", optional(wallet.minimum_balance));
                println!("  no-withdraw       {}", wallet.no_withdraw);
                println!("  frozen            {}", wallet.frozen);
                println!(
                    "  spent / earned    {} / {} (fees paid {})",
                    wallet.spent_total, wallet.earned_total, wallet.fees_paid_total
                );
            }
        }
        WalletCommand::Configure { agent: id, daily_limit, no_withdraw, frozen, minimum_balance } => {
            let command = Command::ConfigureWallet(ConfigureWallet {
                agent: agent(&id, "agent")?,
                daily_limit: daily_limit.map(|text| amount_or_none(&text, "--daily-limit")).transpose()?,
                no_withdraw,
                frozen,
                minimum_balance: minimum_balance.map(|text| amount_or_none(&text, "--minimum-balance")).transpose()?,
            });
            report(&client.submit_one(command).await?);
        }
        WalletCommand::Sweep { child, amount: text, id } => {
            let command = Command::Sweep(Sweep {
                child: agent(&child, "child")?,
                transfer_id: transfer_id(id)?,
                amount: amount(&text, "--amount")?,
            });
            report(&client.submit_one(command).await?);
        }
        WalletCommand::Withdraw { amount: text, id } => {
            report(
                &client
                    .submit_one(Command::Withdraw(Withdraw {
                        transfer_id: transfer_id(id)?,
                        amount: amount(&text, "--amount")?,
                    }))
                    .await?,
            );
        }
    }
    Ok(())
}

/// Arguments of `colony ledger`.
#[derive(Debug, clap::Args)]
pub struct LedgerArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `colony ledger`: the books as a whole.
pub async fn ledger(args: LedgerArgs, connection: &Connection) -> CliResult {
    let books = connection.client()?.ledger().await?;
    if args.json {
        print_json(&books);
    } else {
        println!("supply            {}", books.supply);
        println!("  in wallets      {} ({} wallets)", books.wallets_total, books.wallets);
        println!("  in escrow       {} ({} open escrows)", books.escrow_held, books.open_escrows);
        println!("  fees collected  {}", books.fees);
        println!("books balance     {}", if books.balanced { "yes" } else { "NO" });
    }
    Ok(())
}

/// `colony escrow …`.
#[derive(Debug, clap::Subcommand)]
pub enum EscrowCommand {
    /// Lock funds for a payee (the payer's key).
    Lock {
        /// Who is paid on release.
        #[arg(long)]
        payee: String,
        /// Minor units.
        #[arg(long)]
        amount: String,
        /// Refund automatically after this many milliseconds (24 hours unless given).
        #[arg(long, default_value_t = colony_core::limits::ESCROW_TIMEOUT_MS_DEFAULT)]
        timeout_ms: u64,
        /// The payer's task id: locking again with it returns the same escrow.
        #[arg(long)]
        task_id: Option<String>,
        /// An arbiter who may release, refund and resolve disputes.
        #[arg(long)]
        arbiter: Option<String>,
        /// A referrer to credit instead of the registered one (by default the payee's).
        #[arg(long)]
        referrer: Option<String>,
        /// A secret whose SHA-256 becomes the hashlock (whoever knows the secret may release).
        #[arg(long)]
        secret: Option<String>,
        /// What the money is for (at most 256 bytes).
        #[arg(long)]
        description: Option<String>,
    },
    /// Pay out to the payee, minus the fee.
    Release {
        /// The escrow.
        id: u64,
        /// The hashlock's secret, when releasing as neither payer nor arbiter.
        #[arg(long)]
        preimage: Option<String>,
    },
    /// Give the funds back to the payer (payee or arbiter).
    Refund {
        /// The escrow.
        id: u64,
    },
    /// Give a locked escrow more time (payer): it expires this long from now, never earlier than before.
    Extend {
        /// The escrow.
        id: u64,
        /// The new timeout from now, in milliseconds (1 s to 90 days).
        #[arg(long)]
        timeout_ms: u64,
    },
    /// Freeze the escrow for the arbiter (payer or payee).
    Dispute {
        /// The escrow.
        id: u64,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Settle a dispute (arbiter; the operator when none is named).
    Resolve {
        /// The escrow.
        id: u64,
        /// `release`, `refund`, or the payee's share in basis points (`5000` for half).
        #[arg(long)]
        outcome: String,
    },
    /// Show one escrow.
    Show {
        /// The escrow.
        id: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List escrows.
    List {
        /// Only this payer.
        #[arg(long)]
        payer: Option<String>,
        /// Only this payee.
        #[arg(long)]
        payee: Option<String>,
        /// Only this state: locked, released, refunded, expired, disputed, resolved.
        #[arg(long)]
        state: Option<String>,
        /// Only this task id (with --payer: the look-up by task).
        #[arg(long)]
        task_id: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an escrow command.
pub async fn escrow(command: EscrowCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        EscrowCommand::Lock { payee, amount: text, timeout_ms, task_id, arbiter, referrer, secret, description } => {
            let mut lock =
                EscrowLock::new(agent(&payee, "--payee")?, amount(&text, "--amount")?).timeout_ms(timeout_ms);
            lock.description = description;
            lock.task_id = task_id;
            lock.arbiter = arbiter.map(|arbiter| agent(&arbiter, "--arbiter")).transpose()?;
            lock.referrer = referrer.map(|referrer| agent(&referrer, "--referrer")).transpose()?;
            lock.hashlock = secret.map(|secret| colony_wire::read_auth::token_sha256(&secret));
            let (id, existing) = client.lock_escrow(lock).await?;
            if existing {
                println!("escrow {id} already locked for this task (same terms)");
            } else {
                println!("escrow {id} locked");
            }
        }
        EscrowCommand::Release { id, preimage } => report(&client.release_escrow(id, preimage).await?),
        EscrowCommand::Refund { id } => report(&client.refund_escrow(id).await?),
        EscrowCommand::Extend { id, timeout_ms } => report(&client.extend_escrow(id, timeout_ms).await?),
        EscrowCommand::Dispute { id, reason } => report(&client.dispute_escrow(id, &reason).await?),
        EscrowCommand::Resolve { id, outcome } => {
            let resolution = match outcome.as_str() {
                "release" => EscrowResolution::Release,
                "refund" => EscrowResolution::Refund,
                share => EscrowResolution::Split {
                    payee_bps: share.parse().map_err(|_| "--outcome is release, refund, or basis points 0-10000")?,
                },
            };
            report(&client.resolve_escrow(id, resolution).await?);
        }
        EscrowCommand::Show { id, json } => {
            let escrow = client.escrow(id).await?;
            if json {
                print_json(&escrow);
            } else {
                print_escrows(std::slice::from_ref(&escrow));
            }
        }
        EscrowCommand::List { payer, payee, state, task_id, json } => {
            let query = query_string(&[
                ("limit", Some("1000".to_owned())),
                ("payer", payer),
                ("payee", payee),
                ("state", state),
                ("task_id", task_id),
            ]);
            let page = client.escrows(&query).await?;
            if json {
                print_json(&page.escrows);
            } else {
                print_escrows(&page.escrows);
                if page.next_after.is_some() {
                    println!("  (more: pass a narrower filter)");
                }
            }
        }
    }
    Ok(())
}

fn print_escrows(escrows: &[colony_core::Escrow]) {
    let rows: Vec<Vec<String>> = escrows
        .iter()
        .map(|escrow| {
            vec![
                escrow.id.to_string(),
                escrow.payer.to_string(),
                escrow.payee.to_string(),
                escrow.amount.to_string(),
                escrow.state.name().to_owned(),
                escrow.task_id.as_ref().map_or("-".to_owned(), ToString::to_string),
                escrow.paid_to_payee.to_string(),
                escrow.fees.to_string(),
                escrow.referral.to_string(),
                escrow.jury.map_or("-".to_owned(), |proposal| proposal.to_string()),
            ]
        })
        .collect();
    print_table(&["ESCROW", "PAYER", "PAYEE", "AMOUNT", "STATE", "TASK", "PAID", "FEES", "REFERRAL", "JURY"], &rows);
}
