//! Coordination's commands: grant, keep alive and revoke a lease; acquire and release a lock or a
//! semaphore; campaign in and resign from an election; make, arrive at, reset and remove a barrier.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::book::{LockKind, LockMode};
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
        state.release(context, &self.lock, LockKind::Lock)
    }
}

/// The signer asks for one of a semaphore's permits through one of its leases. The first acquire
/// of a semaphore nobody uses sets its permits; every later one must name the same count (a
/// mismatch is refused `lock_kind_mismatch`, so two parts of a swarm cannot silently disagree on
/// the bound). Granted, with a fencing token, while fewer than `permits` hold it and nobody queues
/// ahead; otherwise queued (`wait`) or refused `lock_held`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcquireSemaphore {
    /// The semaphore's name, in the locks' namespace.
    pub semaphore: Name,
    /// Holders at once.
    #[schemars(range(min = 1, max = limits::SEMAPHORE_PERMITS_MAX))]
    pub permits: u32,
    /// The signer's lease the permit is held through: it is given back when the lease ends.
    pub lease: Name,
    /// Whether to queue when no permit is free.
    #[serde(default)]
    pub wait: bool,
}

impl Apply for AcquireSemaphore {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.acquire_semaphore(context, self)
    }
}

/// The signer gives back its permit, or leaves the semaphore's queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSemaphore {
    /// The semaphore.
    pub semaphore: Name,
}

impl Apply for ReleaseSemaphore {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.release(context, &self.semaphore, LockKind::Semaphore { permits: 0 })
    }
}

/// The signer stands for leader of an election through one of its leases: elected at once, with
/// its term, when nobody leads; otherwise it queues behind the leader and the earlier candidates,
/// and is elected when they resign or their leases end. A term is the leader's fencing token:
/// strictly increasing per election, so a deposed leader's writes can be refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// The election's name, in the locks' namespace.
    pub election: Name,
    /// The signer's lease it leads through: leadership ends when the lease does.
    pub lease: Name,
}

impl Apply for Campaign {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.campaign(context, self)
    }
}

/// The leader steps down (the next candidate is elected at once), or a candidate withdraws.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resign {
    /// The election.
    pub election: Name,
}

impl Apply for Resign {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.release(context, &self.election, LockKind::Election)
    }
}

/// The signer makes a barrier: it trips when `parties` have arrived, releasing them together, and
/// opens its next generation; a generation still missing parties `timeout_ms` after its first
/// arrival breaks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBarrier {
    /// The barrier's name, shared by the swarm.
    pub barrier: Name,
    /// Arrivals that trip it.
    #[schemars(range(min = 2, max = limits::BARRIER_PARTIES_MAX))]
    pub parties: u32,
    /// How long a generation waits after its first arrival before it breaks.
    #[schemars(range(min = limits::BARRIER_TIMEOUT_MIN_MS, max = limits::BARRIER_TIMEOUT_MAX_MS))]
    pub timeout_ms: u64,
    /// The agents who may arrive, at least `parties` of them; anyone may when absent.
    #[serde(default)]
    #[schemars(length(max = limits::BARRIER_PARTIES_MAX))]
    pub members: Option<Vec<AgentId>>,
}

impl Apply for CreateBarrier {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.create_barrier(context, self)
    }
}

/// The signer arrives at a barrier through one of its leases and waits there until the barrier
/// trips (`barrier.tripped`) or breaks (`barrier.broken`); the arrival that completes the count trips
/// it at once. The lease's end while waiting breaks the barrier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArriveAtBarrier {
    /// The barrier.
    pub barrier: Name,
    /// The signer's lease it waits through.
    pub lease: Name,
}

impl Apply for ArriveAtBarrier {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.arrive_at_barrier(context, self)
    }
}

/// The barrier's creator (or the operator) opens its next generation: waiting parties are told the
/// current one broke, and a broken barrier takes arrivals again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBarrier {
    /// The barrier.
    pub barrier: Name,
}

impl Apply for ResetBarrier {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.reset_barrier(context, self)
    }
}

/// The barrier's creator (or the operator) removes it; waiting parties are told it broke.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveBarrier {
    /// The barrier.
    pub barrier: Name,
}

impl Apply for RemoveBarrier {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.remove_barrier(context, self)
    }
}

/// The signer makes a vote-based election (seed 004's `LeaderElection`) among `members`: a member
/// opens a round, the healthy members vote, and more than half of them elect the leader of a term.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVoteElection {
    /// Its name, apart from `election.campaign`'s.
    pub election: Name,
    /// The registered agents who open rounds, stand and vote: 1 to `VOTE_ELECTION_MEMBERS_MAX`.
    pub members: Vec<AgentId>,
    /// How long a round stays open without a majority, from `VOTE_ROUND_TIMEOUT_MIN_MS` to
    /// `VOTE_ROUND_TIMEOUT_MAX_MS`.
    pub round_timeout_ms: u64,
}

impl Apply for CreateVoteElection {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.create_vote_election(context, self)
    }
}

/// A healthy member opens the next round when there is no leader (or the leader, to step down):
/// the term goes up by one, the last leader's term ends, and the members healthy now (registered,
/// heard from, not halted) are the candidates. Refused while a round is open, and to other members
/// while the leader is healthy (`leader_healthy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartVoteRound {
    /// The election.
    pub election: Name,
}

impl Apply for StartVoteRound {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.start_vote_round(context, self)
    }
}

/// A candidate of the open round votes, once per term, for one of the candidates (itself
/// included). The vote that gives a candidate more than half of the candidates' votes elects it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CastElectionVote {
    /// The election.
    pub election: Name,
    /// The term of the round voted in: a vote meant for an earlier round is refused `stale_term`.
    pub term: u64,
    /// The candidate chosen.
    pub candidate: AgentId,
}

impl Apply for CastElectionVote {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.cast_election_vote(context, self)
    }
}

/// The creator (or the operator) deletes a vote-based election, with its round and leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteVoteElection {
    /// The election.
    pub election: Name,
}

impl Apply for DeleteVoteElection {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.delete_vote_election(context, self)
    }
}
