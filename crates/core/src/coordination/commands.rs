//! Coordination's commands: grant, keep alive and revoke a lease; acquire and release a lock.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::book::LockMode;
use crate::command::Apply;
use crate::ids::{AgentId, Name};
use crate::limits;
use crate::outcome::CommandResult;
use crate::state::{Context, State};

/// The signer takes a lease: alive for `ttl_ms` of log time from now unless kept alive, and ended
/// early when it is revoked or its holder misses its heartbeat deadline or is deregistered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantLease {
    /// The lease's name, unique among the signer's leases.
    pub lease: Name,
    /// How long it lives without a keep-alive.
    #[schemars(range(min = limits::LEASE_TTL_MIN_MS, max = limits::LEASE_TTL_MAX_MS))]
    pub ttl_ms: u64,
}

impl Apply for GrantLease {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.grant_lease(context, self)
    }
}

/// The lease's holder extends it to now plus its TTL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeepLeaseAlive {
    /// One of the signer's leases.
    pub lease: Name,
}

impl Apply for KeepLeaseAlive {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.keep_lease_alive(context, self)
    }
}

/// The lease's holder (or the operator, naming the holder) ends it now: the locks held through it
/// are released and handed over, its waits leave their queues.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeLease {
    /// The lease.
    pub lease: Name,
    /// Whose lease: the signer's own when absent; only the operator names another agent.
    #[serde(default)]
    pub holder: Option<AgentId>,
}

impl Apply for RevokeLease {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.revoke_lease(context, self)
    }
}

/// The signer asks for a lock through one of its leases. Granted, with a fencing token, when the mode
/// is compatible with the holders and nobody queues ahead; otherwise queued (`wait`) or refused
/// `lock_held`. A wait that would close a cycle of waiting agents is refused `deadlock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcquireLock {
    /// The lock's name, shared by the swarm.
    pub lock: Name,
    /// `exclusive` or `shared`.
    pub mode: LockMode,
    /// The signer's lease the lock is held through: it is released when the lease ends.
    pub lease: Name,
    /// Whether to queue when the lock cannot be granted now.
    #[serde(default)]
    pub wait: bool,
}

impl Apply for AcquireLock {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.acquire_lock(context, self)
    }
}

/// The signer releases a lock it holds, or leaves its queue; the next waiters are granted at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseLock {
    /// The lock.
    pub lock: Name,
}

impl Apply for ReleaseLock {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.release_lock(context, self)
    }
}
