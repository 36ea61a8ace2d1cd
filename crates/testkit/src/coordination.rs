//! Lease, lock, semaphore, election and barrier commands for generated streams.
//!
//! Leases, locks and barriers are named from small pools ([`LEASE_NAMES`], [`LOCK_NAMES`],
//! [`BARRIER_NAMES`]) so that agents grant the same lease twice, acquire locks others hold (waiting or
//! not, closing cycles of waits), take a name as a semaphore or an election while it is a lock,
//! release locks they never held, revoke each other's leases, make
//! barriers that exist, arrive twice and reset others' barriers; short TTLs, timeouts and pauses let
//! leases expire, hand their locks over and break the barriers they wait at.

use colony_core::command::{
    AcquireLock, AcquireSemaphore, ArriveAtBarrier, Campaign, CastElectionVote, CreateBarrier, CreateVoteElection,
    DeleteVoteElection, GrantLease, KeepLeaseAlive, ReleaseLock, ReleaseSemaphore, RemoveBarrier, ResetBarrier, Resign,
    RevokeLease, StartVoteRound,
};
use colony_core::{AgentId, Command, LockMode, State, limits};
use proptest::prelude::*;

use super::keys::name;
use super::strategies::{AgentRef, CommandSpec, agent_ref};

/// The names leases are granted under.
pub const LEASE_NAMES: [&str; 2] = ["lease-0", "lease-1"];

/// Leases locks are acquired through: mostly the first, so that acquires find a lease.
fn acquire_lease() -> BoxedStrategy<usize> {
    prop_oneof![6 => Just(0usize), 1 => Just(1usize)].boxed()
}

/// The names locks are acquired under.
pub const LOCK_NAMES: [&str; 2] = ["lock-0", "lock-1"];

/// The names barriers are made under.
pub const BARRIER_NAMES: [&str; 2] = ["barrier-0", "barrier-1"];

/// A lease, lock or barrier command, abstractly.
#[derive(Clone, Debug)]
pub enum CoordinationSpec {
    /// `lease.grant`; a TTL below the minimum is refused.
    Grant {
        /// The index of its name in [`LEASE_NAMES`].
        lease: usize,
        /// Its TTL.
        ttl_ms: u64,
    },
    /// `lease.keep_alive`.
    KeepAlive {
        /// The index of its name in [`LEASE_NAMES`].
        lease: usize,
    },
    /// `lease.revoke`, of the signer's own lease or (naming a holder) another's.
    Revoke {
        /// The index of its name in [`LEASE_NAMES`].
        lease: usize,
        /// The holder named, if any.
        holder: Option<AgentRef>,
    },
    /// `lock.acquire`.
    Acquire {
        /// The index of its name in [`LOCK_NAMES`].
        lock: usize,
        /// The index of the lease in [`LEASE_NAMES`].
        lease: usize,
        /// Exclusive or shared.
        exclusive: bool,
        /// Whether to queue.
        wait: bool,
    },
    /// `lock.release`.
    Release {
        /// The index of its name in [`LOCK_NAMES`].
        lock: usize,
    },
    /// `semaphore.acquire`, on the locks' names; 0 permits are refused.
    AcquireSemaphore {
        /// The index of its name in [`LOCK_NAMES`].
        lock: usize,
        /// The index of the lease in [`LEASE_NAMES`].
        lease: usize,
        /// Holders at once.
        permits: u32,
        /// Whether to queue.
        wait: bool,
    },
    /// `semaphore.release`.
    ReleaseSemaphore {
        /// The index of its name in [`LOCK_NAMES`].
        lock: usize,
    },
    /// `election.campaign`, on the locks' names.
    Campaign {
        /// The index of its name in [`LOCK_NAMES`].
        lock: usize,
        /// The index of the lease in [`LEASE_NAMES`].
        lease: usize,
    },
    /// `election.resign`.
    Resign {
        /// The index of its name in [`LOCK_NAMES`].
        lock: usize,
    },
    /// `barrier.create`; a party count of 1 is refused, and with `members` only the first two pool
    /// agents may arrive (so a count of 3 is refused).
    CreateBarrier {
        /// The index of its name in [`BARRIER_NAMES`].
        barrier: usize,
        /// Arrivals that trip it.
        parties: u32,
        /// How long a generation waits after its first arrival.
        timeout_ms: u64,
        /// Whether it names the first two pool agents as its members.
        members: bool,
    },
    /// `barrier.arrive`.
    Arrive {
        /// The index of its name in [`BARRIER_NAMES`].
        barrier: usize,
        /// The index of the lease in [`LEASE_NAMES`].
        lease: usize,
    },
    /// `barrier.reset`.
    ResetBarrier {
        /// The index of its name in [`BARRIER_NAMES`].
        barrier: usize,
    },
    /// `barrier.remove`.
    RemoveBarrier {
        /// The index of its name in [`BARRIER_NAMES`].
        barrier: usize,
    },
    /// `vote_election.create`; no members is refused.
    CreateVoteElection {
        /// The index of its name in [`VOTE_ELECTION_NAMES`].
        election: usize,
        /// Its members (repeats are refused).
        members: Vec<AgentRef>,
        /// How long a round stays open; below the minimum, refused.
        round_timeout_ms: u64,
    },
    /// `vote_election.start`.
    StartVoteRound {
        /// The index of its name in [`VOTE_ELECTION_NAMES`].
        election: usize,
    },
    /// `vote_election.vote`.
    Vote {
        /// The index of its name in [`VOTE_ELECTION_NAMES`].
        election: usize,
        /// The candidate voted for.
        candidate: AgentRef,
        /// Whether the vote names the term before the open round's (refused `stale_term`).
        stale: bool,
    },
    /// `vote_election.delete`.
    DeleteVoteElection {
        /// The index of its name in [`VOTE_ELECTION_NAMES`].
        election: usize,
    },
}

/// The names vote-based elections are made under: one, so that rounds and votes find the election.
pub const VOTE_ELECTION_NAMES: [&str; 1] = ["council-0"];

/// Weighted generators of lease and lock commands.
pub fn coordination_commands(pool: usize) -> Vec<(u32, BoxedStrategy<CommandSpec>)> {
    let ttl_ms = prop_oneof![1 => Just(limits::LEASE_TTL_MIN_MS - 1), 12 => limits::LEASE_TTL_MIN_MS..=30_000];
    let grant = (0..LEASE_NAMES.len(), ttl_ms).prop_map(|(lease, ttl_ms)| CoordinationSpec::Grant { lease, ttl_ms });
    let keep_alive = (0..LEASE_NAMES.len()).prop_map(|lease| CoordinationSpec::KeepAlive { lease });
    let holder = prop_oneof![3 => Just(None), 1 => agent_ref(pool).prop_map(Some)];
    let revoke = (0..LEASE_NAMES.len(), holder).prop_map(|(lease, holder)| CoordinationSpec::Revoke { lease, holder });
    let acquire = (0..LOCK_NAMES.len(), acquire_lease(), any::<bool>(), proptest::bool::weighted(0.6))
        .prop_map(|(lock, lease, exclusive, wait)| CoordinationSpec::Acquire { lock, lease, exclusive, wait });
    let release = (0..LOCK_NAMES.len()).prop_map(|lock| CoordinationSpec::Release { lock });
    let permits = prop_oneof![1 => Just(0u32), 6 => Just(1u32), 6 => Just(2u32)];
    let acquire_semaphore = (0..LOCK_NAMES.len(), acquire_lease(), permits, proptest::bool::weighted(0.6))
        .prop_map(|(lock, lease, permits, wait)| CoordinationSpec::AcquireSemaphore { lock, lease, permits, wait });
    let release_semaphore = (0..LOCK_NAMES.len()).prop_map(|lock| CoordinationSpec::ReleaseSemaphore { lock });
    let campaign =
        (0..LOCK_NAMES.len(), acquire_lease()).prop_map(|(lock, lease)| CoordinationSpec::Campaign { lock, lease });
    let resign = (0..LOCK_NAMES.len()).prop_map(|lock| CoordinationSpec::Resign { lock });
    let parties = prop_oneof![1 => Just(1u32), 8 => Just(2u32), 3 => Just(3u32)];
    let timeout_ms = prop_oneof![1 => Just(limits::BARRIER_TIMEOUT_MIN_MS), 3 => 1_000u64..=20_000];
    let create = (0..BARRIER_NAMES.len(), parties, timeout_ms, proptest::bool::weighted(0.3)).prop_map(
        |(barrier, parties, timeout_ms, members)| CoordinationSpec::CreateBarrier {
            barrier,
            parties,
            timeout_ms,
            members,
        },
    );
    let arrive = (0..BARRIER_NAMES.len(), acquire_lease())
        .prop_map(|(barrier, lease)| CoordinationSpec::Arrive { barrier, lease });
    let reset = (0..BARRIER_NAMES.len()).prop_map(|barrier| CoordinationSpec::ResetBarrier { barrier });
    let remove = (0..BARRIER_NAMES.len()).prop_map(|barrier| CoordinationSpec::RemoveBarrier { barrier });
    // Mostly with the signer among the members, so that its rounds and votes are accepted.
    let members = prop_oneof![
        1 => proptest::collection::vec(agent_ref(pool), 0..=4),
        3 => proptest::collection::vec(agent_ref(pool), 1..=3).prop_map(|mut members| {
            members.push(AgentRef::Signer);
            members
        }),
    ];
    // Mostly long enough for votes in later envelopes to find the round open.
    let round_timeout_ms = prop_oneof![
        1 => Just(limits::VOTE_ROUND_TIMEOUT_MIN_MS - 1),
        2 => limits::VOTE_ROUND_TIMEOUT_MIN_MS..=5_000,
        6 => 5_000u64..=60_000,
    ];
    let create_vote =
        (0..VOTE_ELECTION_NAMES.len(), members, round_timeout_ms).prop_map(|(election, members, round_timeout_ms)| {
            CoordinationSpec::CreateVoteElection { election, members, round_timeout_ms }
        });
    let start = (0..VOTE_ELECTION_NAMES.len()).prop_map(|election| CoordinationSpec::StartVoteRound { election });
    // The signer or the first pool agent mostly, so that votes meet on a candidate and rounds elect
    // (and then other members are refused a round while the leader is healthy).
    let candidate = prop_oneof![2 => Just(AgentRef::Signer), 2 => Just(AgentRef::Pool(0)), 1 => agent_ref(pool)];
    let vote = (0..VOTE_ELECTION_NAMES.len(), candidate, proptest::bool::weighted(0.1))
        .prop_map(|(election, candidate, stale)| CoordinationSpec::Vote { election, candidate, stale });
    let delete_vote =
        (0..VOTE_ELECTION_NAMES.len()).prop_map(|election| CoordinationSpec::DeleteVoteElection { election });
    vec![
        (5, create_vote.prop_map(CommandSpec::Coordination).boxed()),
        (6, start.prop_map(CommandSpec::Coordination).boxed()),
        (12, vote.prop_map(CommandSpec::Coordination).boxed()),
        (1, delete_vote.prop_map(CommandSpec::Coordination).boxed()),
        (4, create.prop_map(CommandSpec::Coordination).boxed()),
        (14, arrive.prop_map(CommandSpec::Coordination).boxed()),
        (2, reset.prop_map(CommandSpec::Coordination).boxed()),
        (1, remove.prop_map(CommandSpec::Coordination).boxed()),
        (6, grant.prop_map(CommandSpec::Coordination).boxed()),
        (3, keep_alive.prop_map(CommandSpec::Coordination).boxed()),
        (2, revoke.prop_map(CommandSpec::Coordination).boxed()),
        (14, acquire.prop_map(CommandSpec::Coordination).boxed()),
        (4, release.prop_map(CommandSpec::Coordination).boxed()),
        (5, acquire_semaphore.prop_map(CommandSpec::Coordination).boxed()),
        (1, release_semaphore.prop_map(CommandSpec::Coordination).boxed()),
        (5, campaign.prop_map(CommandSpec::Coordination).boxed()),
        (1, resign.prop_map(CommandSpec::Coordination).boxed()),
    ]
}

/// The command `spec` describes, against `state` (a vote names the open round's term).
pub fn render_coordination(state: &State, spec: &CoordinationSpec, resolve: &dyn Fn(AgentRef) -> AgentId) -> Command {
    match spec {
        CoordinationSpec::CreateVoteElection { election, members, round_timeout_ms } => {
            Command::CreateVoteElection(CreateVoteElection {
                election: name(VOTE_ELECTION_NAMES[*election]),
                // Each member once: the pool is small, and repeats (refused) would leave few elections.
                members: members.iter().fold(Vec::new(), |mut unique, member| {
                    let member = resolve(*member);
                    if !unique.contains(&member) {
                        unique.push(member);
                    }
                    unique
                }),
                round_timeout_ms: *round_timeout_ms,
            })
        }
        CoordinationSpec::StartVoteRound { election } => {
            Command::StartVoteRound(StartVoteRound { election: name(VOTE_ELECTION_NAMES[*election]) })
        }
        CoordinationSpec::Vote { election, candidate, stale } => {
            let election = name(VOTE_ELECTION_NAMES[*election]);
            let term = state.coordination().vote_elections().get(&election).map_or(1, |found| found.term);
            let term = if *stale { term.saturating_sub(1) } else { term };
            Command::CastElectionVote(CastElectionVote { election, term, candidate: resolve(*candidate) })
        }
        CoordinationSpec::DeleteVoteElection { election } => {
            Command::DeleteVoteElection(DeleteVoteElection { election: name(VOTE_ELECTION_NAMES[*election]) })
        }
        CoordinationSpec::Grant { lease, ttl_ms } => {
            Command::GrantLease(GrantLease { lease: name(LEASE_NAMES[*lease]), ttl_ms: *ttl_ms })
        }
        CoordinationSpec::KeepAlive { lease } => {
            Command::KeepLeaseAlive(KeepLeaseAlive { lease: name(LEASE_NAMES[*lease]) })
        }
        CoordinationSpec::Revoke { lease, holder } => {
            Command::RevokeLease(RevokeLease { lease: name(LEASE_NAMES[*lease]), holder: holder.map(resolve) })
        }
        CoordinationSpec::Acquire { lock, lease, exclusive, wait } => Command::AcquireLock(AcquireLock {
            lock: name(LOCK_NAMES[*lock]),
            mode: if *exclusive { LockMode::Exclusive } else { LockMode::Shared },
            lease: name(LEASE_NAMES[*lease]),
            wait: *wait,
        }),
        CoordinationSpec::Release { lock } => Command::ReleaseLock(ReleaseLock { lock: name(LOCK_NAMES[*lock]) }),
        CoordinationSpec::AcquireSemaphore { lock, lease, permits, wait } => {
            Command::AcquireSemaphore(AcquireSemaphore {
                semaphore: name(LOCK_NAMES[*lock]),
                permits: *permits,
                lease: name(LEASE_NAMES[*lease]),
                wait: *wait,
            })
        }
        CoordinationSpec::ReleaseSemaphore { lock } => {
            Command::ReleaseSemaphore(ReleaseSemaphore { semaphore: name(LOCK_NAMES[*lock]) })
        }
        CoordinationSpec::Campaign { lock, lease } => {
            Command::Campaign(Campaign { election: name(LOCK_NAMES[*lock]), lease: name(LEASE_NAMES[*lease]) })
        }
        CoordinationSpec::Resign { lock } => Command::Resign(Resign { election: name(LOCK_NAMES[*lock]) }),
        CoordinationSpec::CreateBarrier { barrier, parties, timeout_ms, members } => {
            Command::CreateBarrier(CreateBarrier {
                barrier: name(BARRIER_NAMES[*barrier]),
                parties: *parties,
                timeout_ms: *timeout_ms,
                members: members.then(|| vec![resolve(AgentRef::Pool(0)), resolve(AgentRef::Pool(1))]),
            })
        }
        CoordinationSpec::Arrive { barrier, lease } => Command::ArriveAtBarrier(ArriveAtBarrier {
            barrier: name(BARRIER_NAMES[*barrier]),
            lease: name(LEASE_NAMES[*lease]),
        }),
        CoordinationSpec::ResetBarrier { barrier } => {
            Command::ResetBarrier(ResetBarrier { barrier: name(BARRIER_NAMES[*barrier]) })
        }
        CoordinationSpec::RemoveBarrier { barrier } => {
            Command::RemoveBarrier(RemoveBarrier { barrier: name(BARRIER_NAMES[*barrier]) })
        }
    }
}
