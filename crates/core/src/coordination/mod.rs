//! Coordination: leases, locks on named resources handed over with fencing tokens, semaphores,
//! elections, and barriers where parties meet.
//!
//! A lease is a holder's promise to stay alive: it lasts its TTL from its grant or last keep-alive,
//! by log time, and ends early when it is revoked or when its holder falls silent (misses its
//! heartbeat deadline) or is deregistered. Locks are held through a lease, so a holder that dies
//! releases them at its lease's end, and the queued waiters are granted in the same time-driven pass.
//! Every grant carries a fencing token, so a resource can refuse the writes of a holder that lost
//! its lock without knowing it. A semaphore is a lock with a number of permits, an election a lock
//! whose holder is the leader and whose fencing tokens are its terms: the three share the queues,
//! handover, fencing and deadlock check. Parties arrive at barriers through leases too, so a party that dies
//! while it waits breaks the barrier for the others at once. A vote-based election is apart: its
//! leader is the candidate a majority of the healthy members voted for.
//!
//! - [`book`]: the state: leases by holder and name, their deadlines, locks with holders and queues,
//!   the fencing counter, barriers with their arrivals; invariants.
//! - [`commands`]: `lease.grant`, `lease.keep_alive`, `lease.revoke`, `lock.acquire`, `lock.release`,
//!   `semaphore.acquire`, `semaphore.release`, `election.campaign`, `election.resign`, `barrier.create`, `barrier.arrive`, `barrier.reset`, `barrier.remove`.
//! - `leases.rs`: the leases' handlers, their ends and expiry.
//! - `locks.rs`: the handlers of locks, semaphores and elections: compatibility, FIFO queues,
//!   handover, deadlock detection.
//! - `barriers.rs`: the barriers' handlers: arrivals, trips, breaks by timeout or a party's end.
//! - `votes.rs`: seed 004's vote-based elections: members, terms, rounds whose majority of healthy
//!   members elects a leader, rounds failed by timeout, leaders lost to silence; their state too.
//! - [`rejections`]: refusals, `CoordinationRejection`.

mod barriers;
pub mod book;
pub mod commands;
mod leases;
mod locks;
pub mod rejections;
mod votes;

pub use book::{
    Arrival, BarrierBreak, BarrierRecord, Coordination, Hold, LeaseEnd, LeaseRecord, LockKind, LockMode, LockRecord,
    LockRelease, Waiter,
};
pub use commands::{
    AcquireLock, AcquireSemaphore, ArriveAtBarrier, Campaign, CastElectionVote, CreateBarrier, CreateVoteElection,
    DeleteVoteElection, GrantLease, KeepLeaseAlive, ReleaseLock, ReleaseSemaphore, RemoveBarrier, ResetBarrier, Resign,
    RevokeLease, StartVoteRound,
};
pub use rejections::CoordinationRejection;
pub use votes::{ElectedLeader, VoteElection, VoteElections, VoteRound};
