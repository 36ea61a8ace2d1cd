//! Creating, configuring and deleting namespaces; puts and deletes. Each is checked whole before its
//! first change.

use std::collections::{BTreeMap, BTreeSet};

use super::book::{Namespace, StoreEntry};
use super::commands::{ConfigureNamespace, CreateNamespace, DeleteNamespace, DeleteValue, PutValue};
use super::key::StoreKey;
use super::rejections::KvRejection;
use crate::event::EventKind;
use crate::ids::{Name, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, State};

fn add<T: Copy + std::ops::AddAssign + Default>(counts: &mut BTreeMap<Signer, T>, signer: &Signer, amount: T) {
    *counts.entry(signer.clone()).or_default() += amount;
}

/// Counts drop out at zero, so that the counts are a function of the namespaces alone.
fn subtract<T: Copy + std::ops::SubAssign + Default + PartialEq>(
    counts: &mut BTreeMap<Signer, T>,
    signer: &Signer,
    amount: T,
) {
    let count = counts.get_mut(signer).expect("a counted signer");
    *count -= amount;
    if *count == T::default() {
        counts.remove(signer);
    }
}

fn limit(limit: &'static str, max: u64) -> Rejection {
    Rejection::LimitReached { limit, max }
}

fn not_found(namespace: &Name) -> Rejection {
    KvRejection::NamespaceNotFound { namespace: namespace.clone() }.into()
}

impl State {
    /// The namespace, when the signer created it or is the operator.
    fn namespace_to_change(&self, context: &Context, namespace: &Name) -> Result<&Namespace, Rejection> {
        let found = self.kv.namespaces.get(namespace).ok_or_else(|| not_found(namespace))?;
        if found.creator != *context.signer() && *context.signer() != Signer::Operator {
            return Err(KvRejection::NotNamespaceCreator { namespace: namespace.clone() }.into());
        }
        Ok(found)
    }

    /// The namespace, when the signer may write it.
    fn namespace_to_write(&self, context: &Context, namespace: &Name) -> Result<&Namespace, Rejection> {
        let found = self.kv.namespaces.get(namespace).ok_or_else(|| not_found(namespace))?;
        if !found.writers.admits(context.signer(), &found.creator) {
            return Err(KvRejection::NotWriter { namespace: namespace.clone() }.into());
        }
        Ok(found)
    }

    pub(crate) fn create_namespace(&mut self, context: &mut Context, command: &CreateNamespace) -> CommandResult {
        command.readers.check("readers")?;
        command.writers.check("writers")?;
        let signer = context.signer().clone();
        if let Some(existing) = self.kv.namespaces.get(&command.namespace) {
            if existing.creator == signer && existing.readers == command.readers && existing.writers == command.writers
            {
                return Ok(Accepted::Unchanged);
            }
            return Err(KvRejection::NamespaceExists { namespace: command.namespace.clone() }.into());
        }
        if self.kv.namespaces_created_by(&signer) as usize >= limits::KV_NAMESPACES_PER_SIGNER_MAX {
            return Err(limit("kv_namespaces_per_signer", limits::KV_NAMESPACES_PER_SIGNER_MAX as u64));
        }
        if self.kv.namespaces.len() >= limits::KV_NAMESPACES_MAX {
            return Err(limit("kv_namespaces", limits::KV_NAMESPACES_MAX as u64));
        }
        self.kv.revision += 1;
        let revision = self.kv.revision;
        let namespace = Namespace {
            name: command.namespace.clone(),
            creator: signer.clone(),
            readers: command.readers.clone(),
            writers: command.writers.clone(),
            created_at_ms: context.now_ms,
            created_revision: revision,
            compacted_revision: revision,
            entries: BTreeMap::new(),
            changes: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            deletions: BTreeSet::new(),
            bytes: 0,
        };
        self.kv.namespaces.insert(command.namespace.clone(), namespace);
        add(&mut self.kv.namespaces_by_creator, &signer, 1);
        context.emit(EventKind::KvNamespaceCreated { namespace: command.namespace.clone(), by: signer, revision });
        Ok(Accepted::Done)
    }

    pub(crate) fn configure_namespace(&mut self, context: &mut Context, command: &ConfigureNamespace) -> CommandResult {
        if command.readers.is_none() && command.writers.is_none() {
            return Err(Rejection::invalid("readers", "name the readers, the writers or both"));
        }
        if let Some(readers) = &command.readers {
            readers.check("readers")?;
        }
        if let Some(writers) = &command.writers {
            writers.check("writers")?;
        }
        let found = self.namespace_to_change(context, &command.namespace)?;
        let readers = command.readers.clone().unwrap_or_else(|| found.readers.clone());
        let writers = command.writers.clone().unwrap_or_else(|| found.writers.clone());
        if readers == found.readers && writers == found.writers {
            return Ok(Accepted::Unchanged);
        }
        let namespace = self.kv.namespaces.get_mut(&command.namespace).expect("found above");
        namespace.readers = readers;
        namespace.writers = writers;
        context.emit(EventKind::KvNamespaceConfigured {
            namespace: command.namespace.clone(),
            by: context.signer().clone(),
        });
        Ok(Accepted::Done)
    }

    pub(crate) fn delete_namespace(&mut self, context: &mut Context, command: &DeleteNamespace) -> CommandResult {
        let found = self.namespace_to_change(context, &command.namespace)?;
        let leased: Vec<(Signer, Name, StoreKey)> = found
            .entries
            .iter()
            .filter_map(|(key, entry)| Some((entry.modified_by.clone(), entry.lease.clone()?, key.clone())))
            .collect();
        for (holder, lease, key) in leased {
            self.detach_key_from_lease(&holder, &lease, &command.namespace, &key);
        }
        let kv = &mut self.kv;
        let namespace = kv.namespaces.remove(&command.namespace).expect("found above");
        subtract(&mut kv.namespaces_by_creator, &namespace.creator, 1);
        for (key, entry) in &namespace.entries {
            subtract(&mut kv.keys_by_writer, &entry.modified_by, 1);
            subtract(&mut kv.bytes_by_writer, &entry.modified_by, StoreEntry::charged_bytes(key, &entry.value));
        }
        kv.bytes -= namespace.bytes;
        context.emit(EventKind::KvNamespaceDeleted {
            namespace: command.namespace.clone(),
            by: context.signer().clone(),
            keys: u32::try_from(namespace.entries.len()).expect("keys per namespace fit in u32"),
        });
        Ok(Accepted::Done)
    }

    pub(crate) fn put_value(&mut self, context: &mut Context, command: &PutValue) -> CommandResult {
        let signer = context.signer().clone();
        let value_bytes = command.value.as_str().len();
        if value_bytes > limits::KV_VALUE_BYTES_MAX {
            return Err(Rejection::invalid(
                "value",
                format!("is {value_bytes} bytes of JSON; at most {} are stored", limits::KV_VALUE_BYTES_MAX),
            ));
        }
        if let Some(lease) = &command.lease {
            self.check_lease_takes_key(&signer, lease, &command.namespace, &command.key)?;
        }
        let namespace = self.namespace_to_write(context, &command.namespace)?;
        let existing = namespace.entries.get(&command.key);
        check_expected(&command.namespace, &command.key, command.expected_revision, existing)?;
        let charged = StoreEntry::charged_bytes(&command.key, &command.value);
        let replaced = existing.map_or(0, |entry| StoreEntry::charged_bytes(&command.key, &entry.value));
        // The signer's share after the put: the key moves to it from its last writer.
        let (signer_keys, signer_bytes) = self.kv.written_by(&signer);
        let (signer_keys, signer_bytes) = match existing {
            Some(entry) if entry.modified_by == signer => (signer_keys as usize, signer_bytes - replaced + charged),
            _ => (signer_keys as usize + 1, signer_bytes + charged),
        };
        if existing.is_none() && namespace.entries.len() >= limits::KV_KEYS_PER_NAMESPACE_MAX {
            return Err(limit("kv_keys_per_namespace", limits::KV_KEYS_PER_NAMESPACE_MAX as u64));
        }
        if namespace.bytes - replaced + charged > limits::KV_NAMESPACE_BYTES_MAX {
            return Err(limit("kv_namespace_bytes", limits::KV_NAMESPACE_BYTES_MAX));
        }
        if signer_keys > limits::KV_KEYS_PER_SIGNER_MAX {
            return Err(limit("kv_keys_per_signer", limits::KV_KEYS_PER_SIGNER_MAX as u64));
        }
        if signer_bytes > limits::KV_BYTES_PER_SIGNER_MAX {
            return Err(limit("kv_bytes_per_signer", limits::KV_BYTES_PER_SIGNER_MAX));
        }
        if self.kv.bytes - replaced + charged > limits::KV_BYTES_MAX {
            return Err(limit("kv_bytes", limits::KV_BYTES_MAX));
        }
        let previous_lease = existing.and_then(|entry| Some((entry.modified_by.clone(), entry.lease.clone()?)));
        if let Some((holder, lease)) = previous_lease {
            self.detach_key_from_lease(&holder, &lease, &command.namespace, &command.key);
        }
        if let Some(lease) = &command.lease {
            self.attach_key_to_lease(&signer, lease, &command.namespace, &command.key);
        }
        let kv = &mut self.kv;
        kv.revision += 1;
        let revision = kv.revision;
        let namespace = kv.namespaces.get_mut(&command.namespace).expect("found above");
        let (version, created_revision) = match namespace.entries.get(&command.key) {
            Some(entry) => {
                namespace.changes.remove(&entry.modified_revision);
                subtract(&mut kv.keys_by_writer, &entry.modified_by, 1);
                subtract(&mut kv.bytes_by_writer, &entry.modified_by, replaced);
                (entry.version + 1, entry.created_revision)
            }
            None => {
                if let Some(deleted_at) = namespace.tombstones.remove(&command.key) {
                    namespace.changes.remove(&deleted_at);
                    namespace.deletions.remove(&deleted_at);
                }
                (1, revision)
            }
        };
        namespace.changes.insert(revision, command.key.clone());
        namespace.entries.insert(
            command.key.clone(),
            StoreEntry {
                value: command.value.clone(),
                version,
                created_revision,
                modified_revision: revision,
                modified_by: signer.clone(),
                modified_at_ms: context.now_ms,
                lease: command.lease.clone(),
            },
        );
        namespace.bytes = namespace.bytes - replaced + charged;
        kv.bytes = kv.bytes - replaced + charged;
        add(&mut kv.keys_by_writer, &signer, 1);
        add(&mut kv.bytes_by_writer, &signer, charged);
        let key = namespace.readers.admits_anyone().then(|| command.key.clone());
        context.emit(EventKind::KvPut { namespace: command.namespace.clone(), key, revision, version, by: signer });
        Ok(Accepted::KvPut { revision, version })
    }

    pub(crate) fn delete_value(&mut self, context: &mut Context, command: &DeleteValue) -> CommandResult {
        let namespace = self.namespace_to_write(context, &command.namespace)?;
        let existing = namespace.entries.get(&command.key);
        check_expected(&command.namespace, &command.key, command.expected_revision, existing)?;
        let Some(entry) = existing else { return Ok(Accepted::Unchanged) };
        if let Some(lease) = entry.lease.clone() {
            let holder = entry.modified_by.clone();
            self.detach_key_from_lease(&holder, &lease, &command.namespace, &command.key);
        }
        let by = context.signer().clone();
        let revision = self.remove_entry(context, &command.namespace, &command.key, by);
        Ok(Accepted::KvDeleted { revision })
    }

    /// Deletes a stored key (its lease, if any, already let go of it): a tombstone for watchers,
    /// the oldest forgotten past the bound, the counts, and `kv.deleted` naming `by`. Answers the
    /// deletion's revision.
    pub(super) fn remove_entry(&mut self, context: &mut Context, namespace: &Name, key: &StoreKey, by: Signer) -> u64 {
        let kv = &mut self.kv;
        kv.revision += 1;
        let revision = kv.revision;
        let found = kv.namespaces.get_mut(namespace).expect("a key to delete is stored");
        let entry = found.entries.remove(key).expect("a key to delete is stored");
        let charged = StoreEntry::charged_bytes(key, &entry.value);
        found.changes.remove(&entry.modified_revision);
        found.changes.insert(revision, key.clone());
        found.tombstones.insert(key.clone(), revision);
        found.deletions.insert(revision);
        if found.tombstones.len() > limits::KV_TOMBSTONES_PER_NAMESPACE_MAX {
            // Forget the oldest deletion: watches from before it can no longer be answered whole.
            let forgotten_at = found.deletions.pop_first().expect("a deletion is kept");
            let forgotten = found.changes.remove(&forgotten_at).expect("a deletion is indexed");
            found.tombstones.remove(&forgotten);
            found.compacted_revision = forgotten_at;
        }
        found.bytes -= charged;
        kv.bytes -= charged;
        subtract(&mut kv.keys_by_writer, &entry.modified_by, 1);
        subtract(&mut kv.bytes_by_writer, &entry.modified_by, charged);
        let told_key = found.readers.admits_anyone().then(|| key.clone());
        context.emit(EventKind::KvDeleted { namespace: namespace.clone(), key: told_key, revision, by });
        revision
    }
}

fn check_expected(
    namespace: &Name,
    key: &StoreKey,
    expected: Option<u64>,
    existing: Option<&StoreEntry>,
) -> Result<(), Rejection> {
    let Some(expected) = expected else { return Ok(()) };
    let actual = existing.map_or(0, |entry| entry.modified_revision);
    if actual != expected {
        return Err(
            KvRejection::RevisionMismatch { namespace: namespace.clone(), key: key.clone(), expected, actual }.into()
        );
    }
    Ok(())
}
