//! Keys that live with a lease (etcd's leased keys, ZooKeeper's ephemeral nodes): an agent puts its
//! registration, health or endpoint under one of its leases, and the key is deleted in the entry
//! that ends the lease, whether revoked, expired by log time, or ended by its holder's silence or
//! deregistration. Watchers see a deletion like any other. The lease lists its keys and each key
//! names its lease, so either end finds the other; a put without a lease, a delete, or the
//! namespace's deletion detaches the key first.

use super::key::StoreKey;
use crate::ids::{Name, Signer};
use crate::limits;
use crate::outcome::Rejection;
use crate::state::{Context, State};

impl State {
    /// Whether `holder`'s lease `lease` may take one more key (a key it holds already counts once).
    pub(super) fn check_lease_takes_key(
        &self,
        holder: &Signer,
        lease: &Name,
        namespace: &Name,
        key: &StoreKey,
    ) -> Result<(), Rejection> {
        let found = self.held_lease(holder, lease)?;
        let entry = (namespace.clone(), key.clone());
        if !found.keys.contains(&entry) && found.keys.len() >= limits::KV_KEYS_PER_LEASE_MAX {
            return Err(Rejection::LimitReached {
                limit: "kv_keys_per_lease",
                max: limits::KV_KEYS_PER_LEASE_MAX as u64,
            });
        }
        Ok(())
    }

    pub(super) fn attach_key_to_lease(&mut self, holder: &Signer, lease: &Name, namespace: &Name, key: &StoreKey) {
        let found = self.coordination.lease_mut(holder, lease).expect("a lease checked before the put");
        found.keys.insert((namespace.clone(), key.clone()));
    }

    pub(super) fn detach_key_from_lease(&mut self, holder: &Signer, lease: &Name, namespace: &Name, key: &StoreKey) {
        let found = self.coordination.lease_mut(holder, lease).expect("a leased key's lease is held");
        let removed = found.keys.remove(&(namespace.clone(), key.clone()));
        assert!(removed, "a leased key is listed by its lease");
    }

    /// Deletes the keys of a lease that ended (taken off it already), each with its `kv.deleted`
    /// event naming the holder.
    pub(crate) fn delete_keys_of_lease(
        &mut self,
        context: &mut Context,
        holder: &Signer,
        keys: &std::collections::BTreeSet<(Name, StoreKey)>,
    ) {
        for (namespace, key) in keys {
            self.remove_entry(context, namespace, key, holder.clone());
        }
    }

    /// Every leased key names a lease its last writer holds, which lists it, and every key a lease
    /// lists is stored under that lease, its writer the lease's holder.
    pub(crate) fn check_leased_keys(&self) -> Result<(), String> {
        let mut leased = 0usize;
        for (name, namespace) in &self.kv.namespaces {
            for (key, entry) in &namespace.entries {
                let Some(lease) = &entry.lease else { continue };
                leased += 1;
                let listed = self
                    .coordination
                    .lease(&entry.modified_by, lease)
                    .is_some_and(|found| found.keys.contains(&(name.clone(), key.clone())));
                if !listed {
                    return Err(format!(
                        "key '{key}' of namespace '{name}' names lease '{lease}', which does not list it"
                    ));
                }
            }
        }
        let mut listed = 0usize;
        for (holder, leases) in &self.coordination.leases {
            for (lease_name, lease) in leases {
                if lease.keys.len() > limits::KV_KEYS_PER_LEASE_MAX {
                    return Err(format!("lease '{lease_name}' of {holder} lists more keys than a lease may"));
                }
                for (namespace, key) in &lease.keys {
                    let entry = self.kv.namespaces.get(namespace).and_then(|found| found.entries.get(key));
                    let stored = entry
                        .is_some_and(|entry| entry.lease.as_ref() == Some(lease_name) && entry.modified_by == *holder);
                    if !stored {
                        return Err(format!("lease '{lease_name}' of {holder} lists key '{key}', not stored under it"));
                    }
                    listed += 1;
                }
            }
        }
        if leased != listed {
            return Err(format!("{leased} keys name a lease but leases list {listed}"));
        }
        Ok(())
    }
}
