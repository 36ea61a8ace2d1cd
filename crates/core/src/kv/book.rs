//! The key-value store's state: namespaces with their access lists, their entries, and the index of
//! each key's last change that a watch reads; the counts the limits read.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::key::StoreKey;
use crate::bus::JsonText;
use crate::ids::{AgentId, Name, Signer};
use crate::limits;

/// Who may read, or write, a namespace besides its creator and the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Nobody else.
    Creator,
    /// Every registered agent (and, for reads, every holder of a read token).
    Registered,
    /// These agents only (1 to `KV_ACCESS_AGENTS_MAX`).
    Agents(BTreeSet<AgentId>),
}

impl Access {
    /// Whether `signer` passes this list on a namespace of `creator`'s.
    pub fn admits(&self, signer: &Signer, creator: &Signer) -> bool {
        match (self, signer) {
            (_, Signer::Operator) => true,
            _ if signer == creator => true,
            (Access::Creator, _) => false,
            (Access::Registered, _) => true,
            (Access::Agents(agents), Signer::Agent(agent)) => agents.contains(agent),
        }
    }

    /// Whether a reader that is no signer (a read token) passes this list.
    pub fn admits_anyone(&self) -> bool {
        *self == Access::Registered
    }

    pub(crate) fn check(&self, field: &'static str) -> Result<(), crate::outcome::Rejection> {
        if let Access::Agents(agents) = self
            && (agents.is_empty() || agents.len() > limits::KV_ACCESS_AGENTS_MAX)
        {
            return Err(crate::outcome::Rejection::invalid(
                field,
                format!("must name 1 to {} agents", limits::KV_ACCESS_AGENTS_MAX),
            ));
        }
        Ok(())
    }
}

/// A stored value with what a compare-and-swap and a reader need to know of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreEntry {
    /// The value, canonical JSON.
    pub value: JsonText,
    /// Puts since the key was created (1 at its creation); a deleted and recreated key starts again.
    pub version: u64,
    /// The revision that created the key.
    pub created_revision: u64,
    /// The revision of its last put: what a compare-and-swap names, unique over the store's life.
    pub modified_revision: u64,
    /// Who wrote it last: its bytes count against that signer's share.
    pub modified_by: Signer,
    /// When it was written last (log time).
    pub modified_at_ms: u64,
    /// The lease of its last writer's it lives with: when that lease ends (revoked, expired, or its
    /// holder silent or gone), the key is deleted. A put without a lease detaches it.
    pub lease: Option<Name>,
}

impl StoreEntry {
    /// What the entry counts for in the byte limits: its key, its value and a fixed overhead.
    pub fn charged_bytes(key: &StoreKey, value: &JsonText) -> u64 {
        key.len() as u64 + value.as_str().len() as u64 + limits::KV_ENTRY_OVERHEAD_BYTES
    }
}

/// A key's last change as a watch reports it: its present value, or its deletion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreChange<'a> {
    /// The key holds this entry; `entry.modified_revision` is the change's revision.
    Put {
        /// The key.
        key: &'a StoreKey,
        /// What it holds.
        entry: &'a StoreEntry,
    },
    /// The key was deleted at `revision`.
    Deleted {
        /// The key.
        key: &'a StoreKey,
        /// The deletion's revision.
        revision: u64,
    },
}

/// A watch asked to resume from before what the namespace still remembers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compacted {
    /// The oldest revision a watch may resume from.
    pub compacted_revision: u64,
}

/// One namespace of shared state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// Its name.
    pub name: Name,
    /// Who created it: the one who may configure or delete it, with the operator.
    pub creator: Signer,
    /// Who may read it.
    pub readers: Access,
    /// Who may write it.
    pub writers: Access,
    /// When it was created (log time).
    pub created_at_ms: u64,
    /// The revision of its creation.
    pub created_revision: u64,
    /// A watch may resume from this revision or later: it is the creation's until a deletion is
    /// forgotten (`KV_TOMBSTONES_PER_NAMESPACE_MAX`), then that deletion's.
    pub compacted_revision: u64,
    pub(crate) entries: BTreeMap<StoreKey, StoreEntry>,
    /// Every key's last change, live or deleted, by its revision: the order a watch reads.
    pub(crate) changes: BTreeMap<u64, StoreKey>,
    /// Deleted keys still told to watchers, with their deletion's revision.
    pub(crate) tombstones: BTreeMap<StoreKey, u64>,
    /// The revisions of those deletions, oldest first: the next to forget.
    pub(crate) deletions: BTreeSet<u64>,
    pub(crate) bytes: u64,
}

impl Namespace {
    /// A key's entry.
    pub fn get(&self, key: &StoreKey) -> Option<&StoreEntry> {
        self.entries.get(key)
    }

    /// Up to `limit` entries whose keys start with `prefix`, after `after`, in key order.
    pub fn range(&self, prefix: &str, after: Option<&StoreKey>, limit: usize) -> Vec<(&StoreKey, &StoreEntry)> {
        let start = match after {
            Some(after) if after.as_str() >= prefix => Bound::Excluded(after.as_str()),
            _ => Bound::Included(prefix),
        };
        self.entries
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(key, _)| key.as_str().starts_with(prefix))
            .take(limit)
            .collect()
    }

    /// Up to `limit` keys' last changes with revisions above `after_revision`, oldest first. Each key
    /// appears once, at its last change, so applying them in order brings a copy as of
    /// `after_revision` to the namespace's present for those keys. Refused when deletions after
    /// `after_revision` may have been forgotten.
    pub fn changes_after(&self, after_revision: u64, limit: usize) -> Result<Vec<StoreChange<'_>>, Compacted> {
        if after_revision < self.compacted_revision {
            return Err(Compacted { compacted_revision: self.compacted_revision });
        }
        Ok(self
            .changes
            .range((Bound::Excluded(after_revision), Bound::Unbounded))
            .take(limit)
            .map(|(revision, key)| match self.entries.get(key) {
                Some(entry) => StoreChange::Put { key, entry },
                None => StoreChange::Deleted { key, revision: *revision },
            })
            .collect())
    }

    /// Keys stored.
    pub fn keys(&self) -> usize {
        self.entries.len()
    }

    /// Bytes stored, as the limits count them.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Deletions still told to watchers.
    pub fn tombstones(&self) -> usize {
        self.tombstones.len()
    }

    /// The revision of its last change (its creation's if none).
    pub fn revision(&self) -> u64 {
        self.changes.last_key_value().map_or(self.created_revision, |(revision, _)| *revision)
    }

    fn check_invariants(&self) -> Result<(), String> {
        let name = &self.name;
        let mut bytes = 0u64;
        for (key, entry) in &self.entries {
            if self.changes.get(&entry.modified_revision) != Some(key) || self.tombstones.contains_key(key) {
                return Err(format!("namespace '{name}': key '{key}' is not indexed at its last change"));
            }
            if entry.version == 0
                || entry.created_revision > entry.modified_revision
                || entry.created_revision <= self.created_revision
            {
                return Err(format!("namespace '{name}': key '{key}' has impossible versions or revisions"));
            }
            bytes += StoreEntry::charged_bytes(key, &entry.value);
        }
        for (key, revision) in &self.tombstones {
            if self.changes.get(revision) != Some(key) || *revision <= self.compacted_revision {
                return Err(format!("namespace '{name}': deleted key '{key}' is not indexed at its deletion"));
            }
        }
        if self.deletions.len() != self.tombstones.len()
            || self.tombstones.values().any(|revision| !self.deletions.contains(revision))
        {
            return Err(format!("namespace '{name}': deletions indexed by revision differ from the deleted keys"));
        }
        if self.changes.len() != self.entries.len() + self.tombstones.len() {
            return Err(format!("namespace '{name}': the change index holds keys that are neither live nor deleted"));
        }
        if bytes != self.bytes || bytes > limits::KV_NAMESPACE_BYTES_MAX {
            return Err(format!("namespace '{name}': {} bytes counted but {bytes} stored", self.bytes));
        }
        if self.entries.len() > limits::KV_KEYS_PER_NAMESPACE_MAX
            || self.tombstones.len() > limits::KV_TOMBSTONES_PER_NAMESPACE_MAX
        {
            return Err(format!("namespace '{name}' holds more keys or deletions than a namespace may"));
        }
        if self.compacted_revision < self.created_revision {
            return Err(format!("namespace '{name}' is compacted to before its creation"));
        }
        Ok(())
    }
}

/// Every namespace, by name, with the one revision counter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValueStore {
    pub(crate) namespaces: BTreeMap<Name, Namespace>,
    /// Namespaces each signer created and still holds.
    pub(crate) namespaces_by_creator: BTreeMap<Signer, u32>,
    /// Stored keys by their last writer.
    pub(crate) keys_by_writer: BTreeMap<Signer, u32>,
    /// Stored bytes by the last writer of each key.
    pub(crate) bytes_by_writer: BTreeMap<Signer, u64>,
    /// Bytes stored in all.
    pub(crate) bytes: u64,
    /// The last revision given. Every namespace's creation and every change takes the next, so
    /// revisions order every change in the store and are never reused, even by a namespace deleted
    /// and created again.
    pub(crate) revision: u64,
}

impl KeyValueStore {
    /// One namespace.
    pub fn namespace(&self, name: &Name) -> Option<&Namespace> {
        self.namespaces.get(name)
    }

    /// Up to `limit` namespaces after `after`, in name order.
    pub fn namespaces_after(&self, after: Option<&Name>, limit: usize) -> Vec<&Namespace> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.namespaces.range::<Name, _>((start, Bound::Unbounded)).take(limit).map(|(_, found)| found).collect()
    }

    /// Namespaces in all.
    pub fn len(&self) -> usize {
        self.namespaces.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
    }

    /// The last revision given.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Bytes stored in all.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Namespaces `signer` created that still exist.
    pub fn namespaces_created_by(&self, signer: &Signer) -> u32 {
        self.namespaces_by_creator.get(signer).copied().unwrap_or(0)
    }

    /// Keys whose last writer is `signer`, and their bytes.
    pub fn written_by(&self, signer: &Signer) -> (u32, u64) {
        (self.keys_by_writer.get(signer).copied().unwrap_or(0), self.bytes_by_writer.get(signer).copied().unwrap_or(0))
    }

    /// Checks every namespace's indexes and recounts namespaces, keys and bytes by signer.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut creators: BTreeMap<&Signer, u32> = BTreeMap::new();
        let mut keys: BTreeMap<&Signer, u32> = BTreeMap::new();
        let mut bytes_by_writer: BTreeMap<&Signer, u64> = BTreeMap::new();
        let mut bytes = 0u64;
        for (name, namespace) in &self.namespaces {
            if *name != namespace.name {
                return Err(format!("namespace '{}' is filed under '{name}'", namespace.name));
            }
            namespace.check_invariants()?;
            namespace.readers.check("readers").map_err(|_| format!("namespace '{name}': readers out of bounds"))?;
            namespace.writers.check("writers").map_err(|_| format!("namespace '{name}': writers out of bounds"))?;
            if namespace.revision() > self.revision {
                return Err(format!("namespace '{name}' holds a revision not given yet"));
            }
            *creators.entry(&namespace.creator).or_insert(0) += 1;
            for (key, entry) in &namespace.entries {
                *keys.entry(&entry.modified_by).or_insert(0) += 1;
                *bytes_by_writer.entry(&entry.modified_by).or_insert(0) += StoreEntry::charged_bytes(key, &entry.value);
            }
            bytes += namespace.bytes;
        }
        if creators != by_reference(&self.namespaces_by_creator) || keys != by_reference(&self.keys_by_writer) {
            return Err("namespaces or keys counted by signer differ from a recount".to_owned());
        }
        if bytes_by_writer != by_reference(&self.bytes_by_writer) {
            return Err("the store's bytes counted by writer differ from a recount".to_owned());
        }
        if bytes != self.bytes || bytes > limits::KV_BYTES_MAX || self.namespaces.len() > limits::KV_NAMESPACES_MAX {
            return Err(format!("{} store bytes counted but {bytes} stored", self.bytes));
        }
        Ok(())
    }
}

fn by_reference<T: Copy>(counts: &BTreeMap<Signer, T>) -> BTreeMap<&Signer, T> {
    counts.iter().map(|(signer, count)| (signer, *count)).collect()
}
