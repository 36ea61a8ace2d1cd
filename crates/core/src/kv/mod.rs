//! The shared key-value store (seed 004's `DistributedStateManager`): namespaces of versioned keys
//! that agents read, write under compare-and-swap, and follow by the changes since a revision.
//!
//! One counter gives every change in the store its revision, so revisions order all changes and
//! are never reused. A key's entry carries the revision of its last put (what a compare-and-swap
//! names: unlike a per-key version, it cannot come back after a delete and a create) and its
//! version. A watch is a read of each key's last change above a revision, so a reader that was away
//! reconciles by reading only what changed, as seed 004's `reconcile_state` does; deletions are told
//! to watchers until a namespace has forgotten the oldest of its last
//! `KV_TOMBSTONES_PER_NAMESPACE_MAX`, after which a watch from before it is told to read the
//! namespace whole (etcd's compaction).
//!
//! - [`key`]: `StoreKey`, the alphabet of keys (paths, read by prefix).
//! - [`book`]: the state: namespaces, access lists, entries, the change index; invariants.
//! - [`commands`]: `kv.namespace.create`, `kv.namespace.configure`, `kv.namespace.delete`, `kv.put`,
//!   `kv.delete`.
//! - `store.rs`: their handlers, with the limits per namespace, per writer and in all.
//! - `leased.rs`: keys that live with a lease, deleted when it ends.
//! - [`rejections`]: refusals, `KvRejection`.

pub mod book;
pub mod commands;
pub mod key;
mod leased;
pub mod rejections;
mod store;

pub use book::{Access, Compacted, KeyValueStore, Namespace, StoreChange, StoreEntry};
pub use commands::{ConfigureNamespace, CreateNamespace, DeleteNamespace, DeleteValue, PutValue};
pub use key::StoreKey;
pub use rejections::KvRejection;
