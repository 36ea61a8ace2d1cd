//! Coordination's read views: leases by holder, locks with their holders' fencing tokens and their
//! queues, and barriers with the parties waiting at them.

use colony_core::coordination::{BarrierBreak, BarrierRecord, LeaseRecord, LockMode, LockRecord};
use colony_core::{AgentId, Name, Signer};
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
    /// The barriers it waits at: its end breaks them.
    pub barriers: Vec<Name>,
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
            barriers: lease.barriers.iter().cloned().collect(),
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

/// One party waiting at a barrier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ArrivalView {
    /// Who waits.
    pub party: Signer,
    /// The lease it arrived through: its end breaks the barrier.
    pub lease: Name,
    /// When it arrived (log time).
    pub arrived_at_ms: u64,
}

/// A barrier: its parties, its generation and who waits at it now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BarrierView {
    /// Its name.
    pub barrier: Name,
    /// Who made it, and may reset or remove it (with the operator).
    pub creator: Signer,
    /// Arrivals that trip it.
    pub parties: u32,
    /// The agents who may arrive; anyone when absent.
    pub members: Option<Vec<AgentId>>,
    /// How long a generation waits after its first arrival.
    pub timeout_ms: u64,
    /// When it was made (log time).
    pub created_at_ms: u64,
    /// The current generation, from 1: one more after each trip or reset.
    pub generation: u64,
    /// Those waiting in this generation, by signer.
    pub arrivals: Vec<ArrivalView>,
    /// The last log time this generation waits; absent before its first arrival.
    pub deadline_ms: Option<u64>,
    /// Why this generation broke; absent while it can still trip.
    pub broken: Option<BarrierBreak>,
    /// Generations that tripped.
    pub trips: u64,
    /// The last generation that tripped (0 before the first): a party that arrived in generation `g`
    /// was released together with the others if this is `g` or more.
    pub last_tripped_generation: u64,
}

impl BarrierView {
    /// The view of `barrier`.
    pub fn new(barrier: &BarrierRecord) -> BarrierView {
        BarrierView {
            barrier: barrier.name.clone(),
            creator: barrier.creator.clone(),
            parties: barrier.parties,
            members: barrier.members.as_ref().map(|members| members.iter().cloned().collect()),
            timeout_ms: barrier.timeout_ms,
            created_at_ms: barrier.created_at_ms,
            generation: barrier.generation,
            arrivals: barrier
                .arrivals
                .iter()
                .map(|(party, arrival)| ArrivalView {
                    party: party.clone(),
                    lease: arrival.lease.clone(),
                    arrived_at_ms: arrival.arrived_at_ms,
                })
                .collect(),
            deadline_ms: barrier.deadline_ms,
            broken: barrier.broken,
            trips: barrier.trips,
            last_tripped_generation: barrier.last_tripped_generation,
        }
    }
}

/// One page of barriers, by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BarrierPage {
    /// The barriers on this page.
    pub barriers: Vec<BarrierView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<Name>,
}
