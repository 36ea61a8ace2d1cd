//! Coordination's read views: leases by holder, and locks with their holders' fencing tokens and
//! their queues.

use colony_core::coordination::{LeaseRecord, LockMode, LockRecord};
use colony_core::{Name, Signer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LeaseView {
    /// Who holds it.
    pub holder: Signer,
    /// Its name, unique among its holder's leases.
    pub lease: Name,
    /// What each keep-alive extends it by.
    pub ttl_ms: u64,
    /// When it was granted (log time).
    pub granted_at_ms: u64,
    /// The last log time it is alive unless kept alive.
    pub expires_at_ms: u64,
    /// The locks held or awaited through it.
    pub locks: Vec<Name>,
}

impl LeaseView {
    /// The view of `lease`.
    pub fn new(lease: &LeaseRecord) -> LeaseView {
        LeaseView {
            holder: lease.holder.clone(),
            lease: lease.name.clone(),
            ttl_ms: lease.ttl_ms,
            granted_at_ms: lease.granted_at_ms,
            expires_at_ms: lease.expires_at_ms,
            locks: lease.locks.iter().cloned().collect(),
        }
    }
}

/// One page of leases, by holder then name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LeasePage {
    /// The leases on this page.
    pub leases: Vec<LeaseView>,
    /// Pass as `after_holder` and `after` to get the next page; absent on the last page.
    pub next_after: Option<LeaseCursor>,
}

/// Where the next page of leases starts: after this holder's lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LeaseCursor {
    /// The holder of the last lease listed.
    pub holder: Signer,
    /// Its name.
    pub lease: Name,
}

/// One holder of a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HolderView {
    /// Who holds it.
    pub holder: Signer,
    /// The lease it is held through.
    pub lease: Name,
    /// Alone or shared.
    pub mode: LockMode,
    /// The grant's fencing token: a resource refuses writes carrying a lower one.
    pub fencing_token: u64,
    /// When it was granted (log time).
    pub granted_at_ms: u64,
}

/// One waiter of a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WaiterView {
    /// Who waits.
    pub holder: Signer,
    /// The lease it waits through.
    pub lease: Name,
    /// The mode it asked for.
    pub mode: LockMode,
    /// When it joined the queue (log time).
    pub queued_at_ms: u64,
}

/// A lock in use: its holders and its queue, first come first served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LockView {
    /// Its name.
    pub lock: Name,
    /// Its holders, by signer.
    pub holders: Vec<HolderView>,
    /// Its waiters, in the order they will be served.
    pub queue: Vec<WaiterView>,
}

impl LockView {
    /// The view of `lock`.
    pub fn new(lock: &LockRecord) -> LockView {
        LockView {
            lock: lock.name.clone(),
            holders: lock
                .holders
                .iter()
                .map(|(holder, hold)| HolderView {
                    holder: holder.clone(),
                    lease: hold.lease.clone(),
                    mode: hold.mode,
                    fencing_token: hold.fencing_token,
                    granted_at_ms: hold.granted_at_ms,
                })
                .collect(),
            queue: lock
                .queue
                .iter()
                .map(|waiter| WaiterView {
                    holder: waiter.holder.clone(),
                    lease: waiter.lease.clone(),
                    mode: waiter.mode,
                    queued_at_ms: waiter.queued_at_ms,
                })
                .collect(),
        }
    }
}

/// One page of locks in use, by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LockPage {
    /// The locks on this page.
    pub locks: Vec<LockView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<Name>,
}
