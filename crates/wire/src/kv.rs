//! The key-value store's read views: namespaces, entries by key or prefix, and the changes since a
//! revision that a watcher reconciles from.

use colony_core::bus::JsonText;
use colony_core::kv::{Access, Namespace, StoreChange, StoreEntry};
use colony_core::{Name, Signer, StoreKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A namespace: its access lists and how much it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamespaceView {
    /// Its name.
    pub name: Name,
    /// Its creator.
    pub creator: Signer,
    /// Who may read its keys besides its creator and the operator.
    pub readers: Access,
    /// Who may write it besides its creator and the operator.
    pub writers: Access,
    /// When it was created (log time).
    pub created_at_ms: u64,
    /// The revision of its creation.
    pub created_revision: u64,
    /// The revision of its last change (its creation's if none).
    pub revision: u64,
    /// A watch may resume from this revision or later.
    pub compacted_revision: u64,
    /// Keys stored.
    pub keys: usize,
    /// Bytes stored, as the limits count them (keys, values and a fixed overhead per key).
    pub bytes: u64,
    /// Deleted keys still told to watchers.
    pub deletions_kept: usize,
}

impl NamespaceView {
    /// The view of `namespace`.
    pub fn new(namespace: &Namespace) -> NamespaceView {
        NamespaceView {
            name: namespace.name.clone(),
            creator: namespace.creator.clone(),
            readers: namespace.readers.clone(),
            writers: namespace.writers.clone(),
            created_at_ms: namespace.created_at_ms,
            created_revision: namespace.created_revision,
            revision: namespace.revision(),
            compacted_revision: namespace.compacted_revision,
            keys: namespace.keys(),
            bytes: namespace.bytes(),
            deletions_kept: namespace.tombstones(),
        }
    }
}

/// One page of namespaces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamespacePage {
    /// The namespaces on this page, by name.
    pub namespaces: Vec<NamespaceView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<Name>,
}

/// A stored key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EntryView {
    /// The key.
    pub key: StoreKey,
    /// Its value, as stored (canonical JSON).
    pub value: JsonText,
    /// Puts since the key was created (1 at its creation).
    pub version: u64,
    /// The revision that created it.
    pub created_revision: u64,
    /// The revision of its last put: pass it as `expected_revision` to swap it.
    pub modified_revision: u64,
    /// Who wrote it last.
    pub modified_by: Signer,
    /// When it was written last (log time).
    pub modified_at_ms: u64,
    /// The lease of `modified_by`'s it lives with: the key is deleted when that lease ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Name>,
}

impl EntryView {
    /// The view of `key`'s `entry`.
    pub fn new(key: &StoreKey, entry: &StoreEntry) -> EntryView {
        EntryView {
            key: key.clone(),
            value: entry.value.clone(),
            version: entry.version,
            created_revision: entry.created_revision,
            modified_revision: entry.modified_revision,
            modified_by: entry.modified_by.clone(),
            modified_at_ms: entry.modified_at_ms,
            lease: entry.lease.clone(),
        }
    }
}

/// A page of a namespace's keys, in key order, as of one revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EntryPage {
    /// The namespace.
    pub namespace: Name,
    /// The store's revision when read: a watch from it (`after_revision`) tells every change since.
    pub revision: u64,
    /// The entries on this page.
    pub entries: Vec<EntryView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<StoreKey>,
}

/// One key's last change since the revision a watch named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeView {
    /// The key.
    pub key: StoreKey,
    /// The change's revision.
    pub revision: u64,
    /// The key as it is now; absent when the change deleted it.
    pub entry: Option<EntryView>,
}

impl ChangeView {
    /// The view of `change`.
    pub fn new(change: &StoreChange<'_>) -> ChangeView {
        match change {
            StoreChange::Put { key, entry } => ChangeView {
                key: (*key).clone(),
                revision: entry.modified_revision,
                entry: Some(EntryView::new(key, entry)),
            },
            StoreChange::Deleted { key, revision } => {
                ChangeView { key: (*key).clone(), revision: *revision, entry: None }
            }
        }
    }
}

/// The changes to a namespace's keys after a revision, oldest first, each key once at its last
/// change: applied in order, they bring a copy read at that revision to `next_after_revision`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChangePage {
    /// The namespace.
    pub namespace: Name,
    /// The changes on this page.
    pub changes: Vec<ChangeView>,
    /// Pass as `after_revision` to watch on: the last change's revision, or the store's revision
    /// when this page is the last (nothing in the namespace changed between them).
    pub next_after_revision: u64,
    /// Whether more changes follow at once (this page was full).
    pub more: bool,
}
