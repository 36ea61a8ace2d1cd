//! `colony kv …`: namespaces of shared state, puts and deletes (blind or under a compare-and-swap),
//! reads by key or prefix, and a watch that prints each change as it comes.
//!
//! Values are JSON (`'{"model":"a"}'`, `42`, `'"text"'`); `--string` stores the argument as a JSON
//! string instead. An access list is `registered`, `creator`, or agents separated by commas.

use colony_core::bus::JsonText;
use colony_core::kv::Access;
use colony_core::{AgentId, StoreKey};
use colony_wire::kv::{ChangePage, EntryView};
use colony_wire::views::SubmitResponse;

use crate::output::{name, print_json, print_submitted, print_table, query_string};
use crate::{CliResult, Connection};

/// The key-value store's commands.
#[derive(Debug, clap::Subcommand)]
pub enum KvCommand {
    /// Create a namespace: readable by every registered agent and writable by its creator unless
    /// `--read-by` or `--write-by` say otherwise.
    Create {
        /// The namespace's name.
        namespace: String,
        /// Who may read its keys: `registered`, `creator`, or agents separated by commas.
        #[arg(long, default_value = "registered")]
        read_by: String,
        /// Who may write it: `creator`, `registered`, or agents separated by commas.
        #[arg(long, default_value = "creator")]
        write_by: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change who may read or write a namespace (its creator or the operator).
    Configure {
        /// The namespace.
        namespace: String,
        /// New readers: `registered`, `creator`, or agents separated by commas.
        #[arg(long)]
        read_by: Option<String>,
        /// New writers: `registered`, `creator`, or agents separated by commas.
        #[arg(long)]
        write_by: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a namespace with every key in it (its creator or the operator).
    Drop {
        /// The namespace.
        namespace: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Store a value; with `--expect-revision`, only if the key's last put has that revision (0: only
    /// if the key does not exist).
    Put {
        /// The namespace.
        namespace: String,
        /// The key (`pipeline/stage-2/config`); named apart from the global `--key`, the key file.
        #[arg(value_name = "KEY")]
        entry: String,
        /// The value, as JSON (or text with `--string`).
        value: String,
        /// Store the value as a JSON string, as it is written.
        #[arg(long)]
        string: bool,
        /// The revision the key must be at.
        #[arg(long)]
        expect_revision: Option<u64>,
        /// One of your leases (`colony lease grant`): the key is deleted when it ends.
        #[arg(long)]
        lease: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read one key, with the revision a compare-and-swap names.
    Get {
        /// The namespace.
        namespace: String,
        /// The key.
        #[arg(value_name = "KEY")]
        entry: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a key; with `--expect-revision`, only if its last put has that revision.
    Delete {
        /// The namespace.
        namespace: String,
        /// The key.
        #[arg(value_name = "KEY")]
        entry: String,
        /// The revision the key must be at.
        #[arg(long)]
        expect_revision: Option<u64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Keys starting with a prefix, in key order.
    List {
        /// The namespace.
        namespace: String,
        /// Only keys starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Start after this key (the previous page's `next_after`).
        #[arg(long)]
        after: Option<String>,
        /// Keys per page.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print each key's changes after a revision (the store's present one unless given); with
    /// `--follow`, keep waiting for more until interrupted.
    Watch {
        /// The namespace.
        namespace: String,
        /// The revision to watch from (a list's `revision`); now unless given.
        #[arg(long)]
        after_revision: Option<u64>,
        /// Keep watching.
        #[arg(long)]
        follow: bool,
        /// Print one JSON page per line.
        #[arg(long)]
        json: bool,
    },
    /// Namespaces by name.
    Namespaces {
        /// Start after this namespace (the previous page's `next_after`).
        #[arg(long)]
        after: Option<String>,
        /// Namespaces per page.
        #[arg(long)]
        limit: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One namespace: its access lists, revisions and counts.
    Show {
        /// The namespace.
        namespace: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// An access list given on the command line.
fn access(text: &str, flag: &str) -> Result<Access, String> {
    match text {
        "registered" => Ok(Access::Registered),
        "creator" => Ok(Access::Creator),
        agents => {
            let agent = |text: &str| AgentId::new(text).map_err(|error| format!("{flag} '{text}': {error}"));
            Ok(Access::Agents(agents.split(',').map(str::trim).map(agent).collect::<Result<_, _>>()?))
        }
    }
}

fn store_key(text: &str) -> Result<StoreKey, String> {
    StoreKey::new(text).map_err(|error| format!("key '{text}': {error}"))
}

fn value(text: &str, string: bool) -> Result<JsonText, String> {
    if string {
        return Ok(JsonText::string(text));
    }
    JsonText::parse(text).ok_or_else(|| format!("value '{text}' is not JSON; pass --string to store it as text"))
}

fn report(response: &SubmitResponse, json: bool) {
    let detail = response.results.first().and_then(|result| result.kv).map(|write| match write.version {
        Some(version) => format!("revision {}, version {version}", write.revision),
        None => format!("deleted at revision {}", write.revision),
    });
    print_submitted(response, json, detail);
}

fn entry_row(entry: &EntryView) -> Vec<String> {
    let mut value = entry.value.as_str().to_owned();
    if value.len() > 60 {
        value.truncate(value.floor_char_boundary(57));
        value.push_str("...");
    }
    vec![entry.key.to_string(), entry.modified_revision.to_string(), entry.version.to_string(), value]
}

fn print_changes(page: &ChangePage, json: bool) {
    if json {
        println!("{}", serde_json::to_string(page).expect("a page encodes"));
        return;
    }
    for change in &page.changes {
        match &change.entry {
            Some(entry) => println!("{} put {} = {}", change.revision, change.key, entry.value.as_str()),
            None => println!("{} deleted {}", change.revision, change.key),
        }
    }
}

/// Runs a key-value store command.
pub async fn run(command: KvCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        KvCommand::Create { namespace, read_by, write_by, json } => {
            let (readers, writers) = (access(&read_by, "--read-by")?, access(&write_by, "--write-by")?);
            report(&client.create_namespace(name(&namespace, "namespace")?, readers, writers).await?, json);
        }
        KvCommand::Configure { namespace, read_by, write_by, json } => {
            let readers = read_by.map(|text| access(&text, "--read-by")).transpose()?;
            let writers = write_by.map(|text| access(&text, "--write-by")).transpose()?;
            report(&client.configure_namespace(name(&namespace, "namespace")?, readers, writers).await?, json);
        }
        KvCommand::Drop { namespace, json } => {
            report(&client.delete_namespace(name(&namespace, "namespace")?).await?, json)
        }
        KvCommand::Put { namespace, entry, value: text, string, expect_revision, lease, json } => {
            let command = colony_core::command::PutValue {
                namespace: name(&namespace, "namespace")?,
                key: store_key(&entry)?,
                value: value(&text, string)?,
                expected_revision: expect_revision,
                lease: lease.map(|lease| name(&lease, "lease")).transpose()?,
            };
            report(&client.submit_one(colony_core::Command::PutValue(command)).await?, json);
        }
        KvCommand::Get { namespace, entry, json } => {
            let found = client.value(&name(&namespace, "namespace")?, &store_key(&entry)?).await?;
            if json {
                print_json(&found);
                return Ok(());
            }
            println!("{}", found.value.as_str());
            println!(
                "  revision {} (pass it to --expect-revision), version {}, written by {} at {} ms (log time)",
                found.modified_revision, found.version, found.modified_by, found.modified_at_ms
            );
            if let Some(lease) = &found.lease {
                println!("  lives with {}'s lease {lease}: deleted when it ends", found.modified_by);
            }
        }
        KvCommand::Delete { namespace, entry, expect_revision, json } => {
            let command = colony_core::command::DeleteValue {
                namespace: name(&namespace, "namespace")?,
                key: store_key(&entry)?,
                expected_revision: expect_revision,
            };
            report(&client.submit_one(colony_core::Command::DeleteValue(command)).await?, json);
        }
        KvCommand::List { namespace, prefix, after, limit, json } => {
            let after = after.as_deref().map(store_key).transpose()?;
            let page = client.values(&name(&namespace, "namespace")?, &prefix, after.as_ref(), limit).await?;
            if json {
                print_json(&page);
                return Ok(());
            }
            println!("namespace {} at revision {}", page.namespace, page.revision);
            let rows: Vec<Vec<String>> = page.entries.iter().map(entry_row).collect();
            print_table(&["KEY", "REVISION", "VERSION", "VALUE"], &rows);
            if let Some(next) = page.next_after {
                println!("  more: --after {next}");
            }
        }
        KvCommand::Watch { namespace, after_revision, follow, json } => {
            let namespace = name(&namespace, "namespace")?;
            let mut after = match after_revision {
                Some(revision) => revision,
                None => client.values(&namespace, "", None, 1).await?.revision,
            };
            loop {
                let wait_ms = if follow { 25_000 } else { 0 };
                let page = client.changes(&namespace, after, 1_000, wait_ms).await?;
                print_changes(&page, json);
                after = page.next_after_revision;
                if !follow && !page.more {
                    break;
                }
            }
        }
        KvCommand::Namespaces { after, limit, json } => {
            let query = query_string(&[("after", after), ("limit", limit.map(|limit| limit.to_string()))]);
            let page = client.namespaces(&query).await?;
            if json {
                print_json(&page);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .namespaces
                .iter()
                .map(|namespace| {
                    vec![
                        namespace.name.to_string(),
                        namespace.creator.to_string(),
                        namespace.keys.to_string(),
                        namespace.revision.to_string(),
                    ]
                })
                .collect();
            print_table(&["NAMESPACE", "CREATOR", "KEYS", "REVISION"], &rows);
            if let Some(next) = page.next_after {
                println!("  more: --after {next}");
            }
        }
        KvCommand::Show { namespace, json } => {
            let found = client.namespace(&name(&namespace, "namespace")?).await?;
            if json {
                print_json(&found);
                return Ok(());
            }
            let list = |access: &Access| serde_json::to_string(access).expect("an access list encodes");
            println!("namespace {} by {}", found.name, found.creator);
            println!("  readers {}, writers {}", list(&found.readers), list(&found.writers));
            println!(
                "  {} keys, {} bytes; revision {} (created {}, watches from {} on)",
                found.keys, found.bytes, found.revision, found.created_revision, found.compacted_revision
            );
        }
    }
    Ok(())
}
