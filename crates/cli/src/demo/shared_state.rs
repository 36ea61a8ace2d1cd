//! Part 9: shared state. The five parties of part 8's meeting record their summaries of the real
//! prices in a namespace only they may write, and add their returns to one shared total by
//! compare-and-swap, all at once: a writer whose read went stale is refused `kv_revision_mismatch`,
//! reads again and retries, so no addition is lost. A watcher that read the namespace before any of
//! it then reconciles by reading only what changed since its revision.

use std::collections::BTreeMap;

use colony_client::Client;
use colony_core::bus::JsonText;
use colony_core::kv::Access;
use colony_core::{AgentId, Name, StoreKey};

use super::coordination::Party;
use super::{DemoResult, step};

/// The namespace.
const NAMESPACE: &str = "close-of-day";

/// The key of the shared total.
const TOTAL_KEY: &str = "book/net-return-bps";

/// What the part did, for the report.
pub struct SharedStateReport {
    /// The summaries stored, by key, with their revisions.
    pub summaries: Vec<(String, u64)>,
    /// The total the swaps reached, and the sum of the returns it must equal.
    pub total_bps: i64,
    /// The sum of the parties' returns.
    pub expected_bps: i64,
    /// Swaps that won, and those refused as stale and retried.
    pub swaps: u32,
    /// Stale swaps, each refused and retried.
    pub retries: u32,
    /// Changes the watcher read to reconcile, and the keys its copy then held.
    pub reconciled: (usize, usize),
    /// The total's revision and version at the end.
    pub total_revision: u64,
    /// The total's version: one put to create it and one per winning swap.
    pub total_version: u64,
}

/// Adds `return_bps` to the total by compare-and-swap, retrying on a stale read; returns how many
/// times it was refused.
async fn add_to_total(client: &Client, return_bps: i64) -> DemoResult<u32> {
    let (namespace, key) = (Name::new(NAMESPACE)?, StoreKey::new(TOTAL_KEY)?);
    let mut refused = 0;
    loop {
        let current = client.value(&namespace, &key).await?;
        let total: i64 = serde_json::from_str(current.value.as_str())?;
        let next = JsonText::parse(&(total + return_bps).to_string()).ok_or("a total is JSON")?;
        match client.put_value(namespace.clone(), key.clone(), next, Some(current.modified_revision)).await {
            Ok(_) => return Ok(refused),
            Err(error) if error.code() == Some("kv_revision_mismatch") => refused += 1,
            Err(error) => return Err(error.into()),
        }
        if refused > 100 {
            return Err("a swap lost a hundred races in a row".into());
        }
    }
}

/// Runs the part with the swarm's members, by id, and part 8's meeting.
pub async fn run(clients: &BTreeMap<String, Client>, meeting: &[Party]) -> DemoResult<SharedStateReport> {
    let client = |id: &str| clients.get(id).cloned().ok_or_else(|| format!("{id} is not in the swarm"));
    let creator = client("risk-1")?;
    let watcher = client("oracle-1")?;
    let namespace = Name::new(NAMESPACE)?;
    let writers: Vec<AgentId> = meeting.iter().map(|party| AgentId::new(party.agent)).collect::<Result<_, _>>()?;
    creator
        .create_namespace(namespace.clone(), Access::Registered, Access::Agents(writers.into_iter().collect()))
        .await?;
    // The watcher reads the namespace while it is empty; its copy is as of this revision.
    let before = watcher.values(&namespace, "", None, 1_000).await?;
    creator
        .put_value(namespace.clone(), StoreKey::new(TOTAL_KEY)?, JsonText::parse("0").ok_or("JSON")?, Some(0))
        .await?;

    let mut writing = Vec::new();
    for party in meeting {
        let client = client(party.agent)?;
        let (ticker, return_bps, namespace) = (party.ticker.to_uppercase(), party.return_bps, namespace.clone());
        writing.push(tokio::spawn(async move {
            let key = StoreKey::new(format!("summary/{ticker}"))?;
            let summary = serde_json::json!({ "ticker": ticker, "return_bps": return_bps, "days": 60 }).to_string();
            let value = JsonText::parse(&summary).ok_or("a summary is JSON")?;
            let stored = client.put_value(namespace, key.clone(), value, Some(0)).await?;
            let refused = add_to_total(&client, return_bps).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((key.to_string(), stored.revision, refused))
        }));
    }
    let mut summaries = Vec::new();
    let mut retries = 0;
    for writer in writing {
        let (key, revision, refused) = writer.await??;
        summaries.push((key, revision));
        retries += refused;
    }
    summaries.sort();

    let total = watcher.value(&namespace, &StoreKey::new(TOTAL_KEY)?).await?;
    let total_bps: i64 = serde_json::from_str(total.value.as_str())?;
    let expected_bps: i64 = meeting.iter().map(|party| party.return_bps).sum();
    if total_bps != expected_bps {
        return Err(format!(
            "the shared total is {total_bps} bps, the returns sum to {expected_bps}: an update was lost"
        )
        .into());
    }
    // The watcher reconciles its empty copy from the changes since its read.
    let mut copy: BTreeMap<String, String> = BTreeMap::new();
    let mut after = before.revision;
    let mut changes = 0;
    loop {
        let page = watcher.changes(&namespace, after, 1_000, 0).await?;
        changes += page.changes.len();
        for change in &page.changes {
            match &change.entry {
                Some(entry) => copy.insert(change.key.to_string(), entry.value.as_str().to_owned()),
                None => copy.remove(change.key.as_str()),
            };
        }
        after = page.next_after_revision;
        if !page.more {
            break;
        }
    }
    let now = watcher.values(&namespace, "", None, 1_000).await?;
    let present: BTreeMap<String, String> =
        now.entries.iter().map(|entry| (entry.key.to_string(), entry.value.as_str().to_owned())).collect();
    if copy != present {
        return Err("the watcher's reconciled copy differs from the namespace".into());
    }
    let report = SharedStateReport {
        summaries,
        total_bps,
        expected_bps,
        swaps: meeting.len() as u32,
        retries,
        reconciled: (changes, copy.len()),
        total_revision: total.modified_revision,
        total_version: total.version,
    };
    step(
        17,
        &format!(
            "shared state: the {} parties stored their summaries in namespace {NAMESPACE} and added their returns to \
             {TOTAL_KEY} by compare-and-swap at once: {} stale swaps were refused with `kv_revision_mismatch` and \
             retried, and the total, {} bps, is the sum of the returns (version {}); oracle-1 reconciled its copy from \
             revision {} by reading {} changes",
            meeting.len(),
            report.retries,
            report.total_bps,
            report.total_version,
            before.revision,
            report.reconciled.0,
        ),
    );
    Ok(report)
}
