//! `colony lease …` and `colony lock …`: take, keep alive and revoke leases; acquire and release
//! locks through them, and read who holds what with which fencing token.

use colony_client::LockAcquired;
use colony_core::command::{AcquireLock, AcquireSemaphore};
use colony_core::{AgentId, Command, LockMode, Name};
use colony_wire::coordination::LockKindName;
use colony_wire::views::SubmitResponse;

use crate::output::{name, print_json, print_submitted, print_table, query_string};
use crate::{CliResult, Connection};

/// The lease commands.
#[derive(Debug, clap::Subcommand)]
pub enum LeaseCommand {
    /// Take a lease that lives `--ttl-ms` of log time unless kept alive.
    Grant {
        /// The lease's name, unique among the signer's leases.
        lease: String,
        /// How long it lives without a keep-alive.
        #[arg(long)]
        ttl_ms: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Extend one of the signer's leases to now plus its TTL.
    KeepAlive {
        /// The lease.
        lease: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// End a lease now, releasing its locks to their queues.
    Revoke {
        /// The lease.
        lease: String,
        /// Whose lease (the operator only); the signer's own unless given.
        #[arg(long)]
        holder: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Leases by holder, then name.
    List {
        /// Only this holder's leases.
        #[arg(long)]
        holder: Option<String>,
        /// Start after this holder's lease `--after` (the previous page's `next_after.holder`).
        #[arg(long)]
        after_holder: Option<String>,
        /// Start after this lease (the previous page's `next_after.lease`).
        #[arg(long)]
        after: Option<String>,
        /// Leases per page.
        #[arg(long)]
        limit: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The lock commands.
#[derive(Debug, clap::Subcommand)]
pub enum LockCommand {
    /// Ask for a lock through one of the signer's leases.
    Acquire {
        /// The lock's name.
        lock: String,
        /// The signer's lease it is held through.
        #[arg(long)]
        lease: String,
        /// Share it with other shared holders instead of holding it alone.
        #[arg(long)]
        shared: bool,
        /// Queue when it cannot be granted now, instead of being refused `lock_held`.
        #[arg(long)]
        wait: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Release a lock the signer holds, or leave its queue.
    Release {
        /// The lock.
        lock: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One lock's holders with their fencing tokens, and its queue.
    Show {
        /// The lock.
        lock: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Locks in use by name.
    List {
        /// Start after this lock (the previous page's `next_after`).
        #[arg(long)]
        after: Option<String>,
        /// Locks per page.
        #[arg(long)]
        limit: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn report(response: &SubmitResponse, json: bool) {
    let result = response.results.first();
    let detail = match result.map(|result| (result.expires_at_ms, result.fencing_token, result.queue_position)) {
        Some((Some(expires_at_ms), _, _)) => Some(format!("alive until {expires_at_ms} ms (log time)")),
        Some((None, Some(fencing_token), _)) => Some(format!("granted, fencing token {fencing_token}")),
        Some((None, None, Some(position))) => Some(format!("queued, place {position}")),
        _ => None,
    };
    print_submitted(response, json, detail);
}

/// The semaphore commands; `colony lock show` and `colony lock list` read semaphores too.
#[derive(Debug, clap::Subcommand)]
pub enum SemaphoreCommand {
    /// Take one of a semaphore's permits through one of the signer's leases.
    Acquire {
        /// The semaphore's name (in the locks' namespace).
        semaphore: String,
        /// Holders at once; every acquirer names the same count.
        #[arg(long)]
        permits: u32,
        /// The signer's lease the permit is held through.
        #[arg(long)]
        lease: String,
        /// Queue when no permit is free, instead of being refused `lock_held`.
        #[arg(long)]
        wait: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give back the signer's permit, or leave the queue.
    Release {
        /// The semaphore.
        semaphore: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a semaphore command.
pub async fn run_semaphore(command: SemaphoreCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        SemaphoreCommand::Acquire { semaphore, permits, lease, wait, json } => {
            let (semaphore, lease) = (name(&semaphore, "semaphore")?, name(&lease, "lease")?);
            if json {
                let acquire = AcquireSemaphore { semaphore, permits, lease, wait };
                print_json(&client.submit_one(Command::AcquireSemaphore(acquire)).await?);
                return Ok(());
            }
            match client.acquire_semaphore(semaphore, permits, lease, wait).await? {
                LockAcquired::Granted { fencing_token } => println!("granted: fencing token {fencing_token}"),
                LockAcquired::Queued { position } => println!("queued: place {position}"),
            }
        }
        SemaphoreCommand::Release { semaphore, json } => {
            report(&client.release_semaphore(name(&semaphore, "semaphore")?).await?, json)
        }
    }
    Ok(())
}

/// Runs a lease command.
pub async fn run_lease(command: LeaseCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        LeaseCommand::Grant { lease, ttl_ms, json } => {
            let grant = colony_core::command::GrantLease { lease: name(&lease, "lease")?, ttl_ms };
            report(&client.submit_one(Command::GrantLease(grant)).await?, json);
        }
        LeaseCommand::KeepAlive { lease, json } => {
            let keep = colony_core::command::KeepLeaseAlive { lease: name(&lease, "lease")? };
            report(&client.submit_one(Command::KeepLeaseAlive(keep)).await?, json);
        }
        LeaseCommand::Revoke { lease, holder, json } => {
            let holder = holder.map(|text| AgentId::new(&text).map_err(|error| format!("--holder '{text}': {error}")));
            report(&client.revoke_lease(name(&lease, "lease")?, holder.transpose()?).await?, json);
        }
        LeaseCommand::List { holder, after_holder, after, limit, json } => {
            let query = query_string(&[
                ("holder", holder),
                ("after_holder", after_holder),
                ("after", after),
                ("limit", limit.map(|limit| limit.to_string())),
            ]);
            let page = client.leases(&query).await?;
            if json {
                print_json(&page);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .leases
                .iter()
                .map(|lease| {
                    let locks: Vec<String> = lease.locks.iter().map(Name::to_string).collect();
                    vec![
                        lease.holder.to_string(),
                        lease.lease.to_string(),
                        lease.ttl_ms.to_string(),
                        lease.expires_at_ms.to_string(),
                        locks.join(","),
                    ]
                })
                .collect();
            print_table(&["HOLDER", "LEASE", "TTL_MS", "EXPIRES_AT_MS", "LOCKS"], &rows);
            if let Some(next) = page.next_after {
                println!("  more: --after-holder {} --after {}", next.holder, next.lease);
            }
        }
    }
    Ok(())
}

/// Runs a lock command.
pub async fn run_lock(command: LockCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        LockCommand::Acquire { lock, lease, shared, wait, json } => {
            let mode = if shared { LockMode::Shared } else { LockMode::Exclusive };
            let (lock, lease) = (name(&lock, "lock")?, name(&lease, "lease")?);
            if json {
                let acquire = AcquireLock { lock, mode, lease, wait };
                print_json(&client.submit_one(Command::AcquireLock(acquire)).await?);
                return Ok(());
            }
            match client.acquire_lock(lock, mode, lease, wait).await? {
                LockAcquired::Granted { fencing_token } => println!("granted: fencing token {fencing_token}"),
                LockAcquired::Queued { position } => println!("queued: place {position}"),
            }
        }
        LockCommand::Release { lock, json } => report(&client.release_lock(name(&lock, "lock")?).await?, json),
        LockCommand::Show { lock, json } => {
            let view = client.lock(&name(&lock, "lock")?).await?;
            if json {
                print_json(&view);
                return Ok(());
            }
            let mode = |mode: LockMode| if mode == LockMode::Exclusive { "exclusive" } else { "shared" };
            let mut rows: Vec<Vec<String>> = view
                .holders
                .iter()
                .map(|hold| {
                    let token = hold.fencing_token.to_string();
                    vec![
                        "holds".to_owned(),
                        hold.holder.to_string(),
                        hold.lease.to_string(),
                        mode(hold.mode).to_owned(),
                        token,
                    ]
                })
                .collect();
            rows.extend(view.queue.iter().enumerate().map(|(index, waiter)| {
                let place = format!("waits #{}", index + 1);
                vec![
                    place,
                    waiter.holder.to_string(),
                    waiter.lease.to_string(),
                    mode(waiter.mode).to_owned(),
                    String::new(),
                ]
            }));
            match (view.kind, view.permits) {
                (Some(LockKindName::Semaphore), Some(permits)) => {
                    println!("semaphore {}: {} of {permits} permits held", view.lock, view.holders.len())
                }
                (Some(LockKindName::Election), _) => println!("election {} (its fencing tokens are terms)", view.lock),
                _ => println!("lock {}", view.lock),
            }
            print_table(&["STATE", "HOLDER", "LEASE", "MODE", "FENCING_TOKEN"], &rows);
        }
        LockCommand::List { after, limit, json } => {
            let query = query_string(&[("after", after), ("limit", limit.map(|limit| limit.to_string()))]);
            let page = client.locks(&query).await?;
            if json {
                print_json(&page);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .locks
                .iter()
                .map(|lock| {
                    let holders: Vec<String> =
                        lock.holders.iter().map(|hold| format!("{}#{}", hold.holder, hold.fencing_token)).collect();
                    vec![lock.lock.to_string(), holders.join(","), lock.queue.len().to_string()]
                })
                .collect();
            print_table(&["LOCK", "HOLDERS#TOKEN", "QUEUED"], &rows);
            if let Some(next) = page.next_after {
                println!("  more: --after {next}");
            }
        }
    }
    Ok(())
}
