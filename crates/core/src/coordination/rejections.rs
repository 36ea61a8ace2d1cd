//! Why coordination refuses a lease's grant, keep-alive or revocation, a lock's acquire or release, a
//! barrier's creation, arrival, reset or removal, or a vote-based election's command.

use std::fmt;

use super::book::{BarrierBreak, LockKind};
use crate::ids::{AgentId, Name};
use crate::outcome::RejectionClass;

/// A refusal particular to leases and locks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoordinationRejection {
    /// The holder has no lease of that name (leases are named per holder, so another's is never found).
    LeaseNotFound {
        /// The name asked for.
        lease: Name,
    },
    /// The signer already holds a lease of that name.
    LeaseExists {
        /// The name.
        lease: Name,
    },
    /// Only a lease's holder (or the operator) may revoke it.
    NotLeaseHolder {
        /// The lease.
        lease: Name,
    },
    /// The signer missed its heartbeat deadline: it must be heard from again before it takes a lease.
    HolderUnresponsive,
    /// The lock is held incompatibly, or others queue for it, and the signer would not wait.
    LockHeld {
        /// The lock.
        lock: Name,
    },
    /// The signer already holds or awaits the lock.
    LockAlreadyHeld {
        /// The lock.
        lock: Name,
    },
    /// The signer neither holds nor awaits the lock.
    LockNotHeld {
        /// The lock.
        lock: Name,
    },
    /// The name is in use as another kind: a lock, a semaphore (of other permits), or an election.
    LockKindMismatch {
        /// The name.
        lock: Name,
        /// What it is in use as.
        kind: LockKind,
    },
    /// Waiting would close a cycle of agents waiting for each other.
    Deadlock {
        /// The lock.
        lock: Name,
    },
    /// No barrier of that name.
    BarrierNotFound {
        /// The name asked for.
        barrier: Name,
    },
    /// A barrier of that name exists.
    BarrierExists {
        /// The name.
        barrier: Name,
    },
    /// Only a barrier's creator (or the operator) may reset or remove it.
    NotBarrierCreator {
        /// The barrier.
        barrier: Name,
    },
    /// The barrier names its members and the signer is not among them.
    NotBarrierMember {
        /// The barrier.
        barrier: Name,
    },
    /// The barrier's generation broke: nobody arrives until its creator resets it.
    BarrierBroken {
        /// The barrier.
        barrier: Name,
        /// The generation that broke.
        generation: u64,
        /// Why it broke.
        reason: BarrierBreak,
    },
    /// The signer already waits at the barrier in this generation.
    AlreadyArrived {
        /// The barrier.
        barrier: Name,
        /// The generation.
        generation: u64,
    },
    /// No vote-based election of that name.
    VoteElectionNotFound {
        /// The name asked for.
        election: Name,
    },
    /// A vote-based election of that name exists.
    VoteElectionExists {
        /// The name.
        election: Name,
    },
    /// Only a vote-based election's creator (or the operator) may delete it.
    NotVoteElectionCreator {
        /// The election.
        election: Name,
    },
    /// Only the election's members open its rounds.
    NotElectionMember {
        /// The election.
        election: Name,
    },
    /// A round is open already: vote in it, or wait for it to elect or fail.
    VoteRoundOpen {
        /// The election.
        election: Name,
        /// The open round's term.
        term: u64,
    },
    /// The election has a healthy leader: only it may open a new round.
    LeaderHealthy {
        /// The election.
        election: Name,
        /// The leader.
        leader: AgentId,
        /// Its term.
        term: u64,
    },
    /// No round is open: a member opens one first.
    NoVoteRound {
        /// The election.
        election: Name,
    },
    /// The vote names a term other than the open round's.
    StaleTerm {
        /// The election.
        election: Name,
        /// The term the vote named.
        term: u64,
        /// The open round's term.
        current: u64,
    },
    /// The signer is not a candidate of the open round (not a member, or not healthy when it opened).
    NotVoter {
        /// The election.
        election: Name,
        /// The open round's term.
        term: u64,
    },
    /// The agent voted for is not a candidate of the open round.
    NotCandidate {
        /// The election.
        election: Name,
        /// The agent named.
        candidate: AgentId,
    },
    /// The signer voted in this term already.
    AlreadyVoted {
        /// The election.
        election: Name,
        /// The term.
        term: u64,
    },
}

impl CoordinationRejection {
    /// The stable machine code, in `snake_case`.
    pub fn code(&self) -> &'static str {
        match self {
            CoordinationRejection::LeaseNotFound { .. } => "lease_not_found",
            CoordinationRejection::LeaseExists { .. } => "lease_exists",
            CoordinationRejection::NotLeaseHolder { .. } => "not_lease_holder",
            CoordinationRejection::HolderUnresponsive => "holder_unresponsive",
            CoordinationRejection::LockHeld { .. } => "lock_held",
            CoordinationRejection::LockAlreadyHeld { .. } => "lock_already_held",
            CoordinationRejection::LockNotHeld { .. } => "lock_not_held",
            CoordinationRejection::LockKindMismatch { .. } => "lock_kind_mismatch",
            CoordinationRejection::Deadlock { .. } => "deadlock",
            CoordinationRejection::BarrierNotFound { .. } => "barrier_not_found",
            CoordinationRejection::BarrierExists { .. } => "barrier_exists",
            CoordinationRejection::NotBarrierCreator { .. } => "not_barrier_creator",
            CoordinationRejection::NotBarrierMember { .. } => "not_barrier_member",
            CoordinationRejection::BarrierBroken { .. } => "barrier_broken",
            CoordinationRejection::AlreadyArrived { .. } => "barrier_already_arrived",
            CoordinationRejection::VoteElectionNotFound { .. } => "vote_election_not_found",
            CoordinationRejection::VoteElectionExists { .. } => "vote_election_exists",
            CoordinationRejection::NotVoteElectionCreator { .. } => "not_vote_election_creator",
            CoordinationRejection::NotElectionMember { .. } => "not_election_member",
            CoordinationRejection::VoteRoundOpen { .. } => "vote_round_open",
            CoordinationRejection::LeaderHealthy { .. } => "leader_healthy",
            CoordinationRejection::NoVoteRound { .. } => "no_vote_round",
            CoordinationRejection::StaleTerm { .. } => "stale_term",
            CoordinationRejection::NotVoter { .. } => "not_voter",
            CoordinationRejection::NotCandidate { .. } => "not_candidate",
            CoordinationRejection::AlreadyVoted { .. } => "already_voted",
        }
    }

    /// A short, fixed summary of the code.
    pub fn title(&self) -> &'static str {
        match self {
            CoordinationRejection::LeaseNotFound { .. } => "Lease not found",
            CoordinationRejection::LeaseExists { .. } => "Lease exists",
            CoordinationRejection::NotLeaseHolder { .. } => "Not the lease's holder",
            CoordinationRejection::HolderUnresponsive => "Holder unresponsive",
            CoordinationRejection::LockHeld { .. } => "Lock held",
            CoordinationRejection::LockAlreadyHeld { .. } => "Lock already held",
            CoordinationRejection::LockNotHeld { .. } => "Lock not held",
            CoordinationRejection::LockKindMismatch { .. } => "In use as another kind",
            CoordinationRejection::Deadlock { .. } => "Deadlock",
            CoordinationRejection::BarrierNotFound { .. } => "Barrier not found",
            CoordinationRejection::BarrierExists { .. } => "Barrier exists",
            CoordinationRejection::NotBarrierCreator { .. } => "Not the barrier's creator",
            CoordinationRejection::NotBarrierMember { .. } => "Not a member of the barrier",
            CoordinationRejection::BarrierBroken { .. } => "Barrier broken",
            CoordinationRejection::AlreadyArrived { .. } => "Already arrived",
            CoordinationRejection::VoteElectionNotFound { .. } => "Vote election not found",
            CoordinationRejection::VoteElectionExists { .. } => "Vote election exists",
            CoordinationRejection::NotVoteElectionCreator { .. } => "Not the vote election's creator",
            CoordinationRejection::NotElectionMember { .. } => "Not a member of the election",
            CoordinationRejection::VoteRoundOpen { .. } => "Round open",
            CoordinationRejection::LeaderHealthy { .. } => "Leader healthy",
            CoordinationRejection::NoVoteRound { .. } => "No round open",
            CoordinationRejection::StaleTerm { .. } => "Stale term",
            CoordinationRejection::NotVoter { .. } => "Not a voter",
            CoordinationRejection::NotCandidate { .. } => "Not a candidate",
            CoordinationRejection::AlreadyVoted { .. } => "Already voted",
        }
    }

    /// What kind of refusal this is.
    pub fn class(&self) -> RejectionClass {
        match self {
            CoordinationRejection::LeaseNotFound { .. }
            | CoordinationRejection::LockNotHeld { .. }
            | CoordinationRejection::BarrierNotFound { .. }
            | CoordinationRejection::VoteElectionNotFound { .. } => RejectionClass::NotFound,
            CoordinationRejection::NotLeaseHolder { .. }
            | CoordinationRejection::NotBarrierCreator { .. }
            | CoordinationRejection::NotBarrierMember { .. }
            | CoordinationRejection::NotVoteElectionCreator { .. }
            | CoordinationRejection::NotElectionMember { .. }
            | CoordinationRejection::NotVoter { .. } => RejectionClass::Forbidden,
            CoordinationRejection::LeaseExists { .. }
            | CoordinationRejection::HolderUnresponsive
            | CoordinationRejection::LockHeld { .. }
            | CoordinationRejection::LockAlreadyHeld { .. }
            | CoordinationRejection::LockKindMismatch { .. }
            | CoordinationRejection::Deadlock { .. }
            | CoordinationRejection::BarrierExists { .. }
            | CoordinationRejection::BarrierBroken { .. }
            | CoordinationRejection::AlreadyArrived { .. }
            | CoordinationRejection::VoteElectionExists { .. }
            | CoordinationRejection::VoteRoundOpen { .. }
            | CoordinationRejection::LeaderHealthy { .. }
            | CoordinationRejection::NoVoteRound { .. }
            | CoordinationRejection::StaleTerm { .. }
            | CoordinationRejection::NotCandidate { .. }
            | CoordinationRejection::AlreadyVoted { .. } => RejectionClass::Conflict,
        }
    }

    /// The input field to blame.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            CoordinationRejection::LeaseNotFound { .. }
            | CoordinationRejection::LeaseExists { .. }
            | CoordinationRejection::NotLeaseHolder { .. } => Some("lease"),
            CoordinationRejection::HolderUnresponsive => None,
            CoordinationRejection::LockHeld { .. }
            | CoordinationRejection::LockAlreadyHeld { .. }
            | CoordinationRejection::LockNotHeld { .. }
            | CoordinationRejection::LockKindMismatch { .. }
            | CoordinationRejection::Deadlock { .. } => Some("lock"),
            CoordinationRejection::BarrierNotFound { .. }
            | CoordinationRejection::BarrierExists { .. }
            | CoordinationRejection::NotBarrierCreator { .. }
            | CoordinationRejection::NotBarrierMember { .. }
            | CoordinationRejection::BarrierBroken { .. }
            | CoordinationRejection::AlreadyArrived { .. } => Some("barrier"),
            CoordinationRejection::VoteElectionNotFound { .. }
            | CoordinationRejection::VoteElectionExists { .. }
            | CoordinationRejection::NotVoteElectionCreator { .. }
            | CoordinationRejection::NotElectionMember { .. }
            | CoordinationRejection::VoteRoundOpen { .. }
            | CoordinationRejection::LeaderHealthy { .. }
            | CoordinationRejection::NoVoteRound { .. }
            | CoordinationRejection::NotVoter { .. }
            | CoordinationRejection::AlreadyVoted { .. } => Some("election"),
            CoordinationRejection::StaleTerm { .. } => Some("term"),
            CoordinationRejection::NotCandidate { .. } => Some("candidate"),
        }
    }
}

impl fmt::Display for CoordinationRejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoordinationRejection::LeaseNotFound { lease } => write!(formatter, "no lease '{lease}' of this holder"),
            CoordinationRejection::LeaseExists { lease } => {
                write!(formatter, "the signer already holds lease '{lease}'")
            }
            CoordinationRejection::NotLeaseHolder { lease } => {
                write!(formatter, "only the holder of lease '{lease}' or the operator may revoke it")
            }
            CoordinationRejection::HolderUnresponsive => {
                formatter.write_str("the signer missed its heartbeat deadline; send a heartbeat first")
            }
            CoordinationRejection::LockHeld { lock } => {
                write!(formatter, "lock '{lock}' is held or awaited by others and the signer would not wait")
            }
            CoordinationRejection::LockAlreadyHeld { lock } => {
                write!(formatter, "the signer already holds or awaits lock '{lock}'")
            }
            CoordinationRejection::LockNotHeld { lock } => {
                write!(formatter, "the signer neither holds nor awaits lock '{lock}'")
            }
            CoordinationRejection::LockKindMismatch { lock, kind } => match kind {
                LockKind::Lock => write!(formatter, "'{lock}' is in use as a lock"),
                LockKind::Semaphore { permits } => {
                    write!(formatter, "'{lock}' is in use as a semaphore of {permits} permits")
                }
                LockKind::Election => write!(formatter, "'{lock}' is in use as an election"),
            },
            CoordinationRejection::Deadlock { lock } => {
                write!(formatter, "waiting for lock '{lock}' would close a cycle of agents waiting for each other")
            }
            CoordinationRejection::BarrierNotFound { barrier } => write!(formatter, "no barrier '{barrier}'"),
            CoordinationRejection::BarrierExists { barrier } => write!(formatter, "barrier '{barrier}' exists"),
            CoordinationRejection::NotBarrierCreator { barrier } => {
                write!(formatter, "only the creator of barrier '{barrier}' or the operator may reset or remove it")
            }
            CoordinationRejection::NotBarrierMember { barrier } => {
                write!(formatter, "barrier '{barrier}' names its members and the signer is not among them")
            }
            CoordinationRejection::BarrierBroken { barrier, generation, reason } => {
                let reason = match reason {
                    BarrierBreak::TimedOut => "timed out",
                    BarrierBreak::PartyLeaseEnded => "a waiting party's lease ended",
                    BarrierBreak::Reset => "it was reset",
                    BarrierBreak::Removed => "it was removed",
                };
                write!(
                    formatter,
                    "generation {generation} of barrier '{barrier}' broke ({reason}); its creator must reset it"
                )
            }
            CoordinationRejection::AlreadyArrived { barrier, generation } => {
                write!(formatter, "the signer already waits at barrier '{barrier}' in generation {generation}")
            }
            CoordinationRejection::VoteElectionNotFound { election } => {
                write!(formatter, "no vote-based election '{election}'")
            }
            CoordinationRejection::VoteElectionExists { election } => {
                write!(formatter, "vote-based election '{election}' exists")
            }
            CoordinationRejection::NotVoteElectionCreator { election } => {
                write!(formatter, "only the creator of vote-based election '{election}' or the operator may delete it")
            }
            CoordinationRejection::NotElectionMember { election } => {
                write!(formatter, "the signer is not a member of vote-based election '{election}'")
            }
            CoordinationRejection::VoteRoundOpen { election, term } => {
                write!(formatter, "the round of term {term} of '{election}' is open: vote in it, or wait for it to end")
            }
            CoordinationRejection::LeaderHealthy { election, leader, term } => write!(
                formatter,
                "'{leader}' leads '{election}' in term {term} and is healthy: only it may open a new round"
            ),
            CoordinationRejection::NoVoteRound { election } => {
                write!(formatter, "no round of '{election}' is open; a member opens one with vote_election.start")
            }
            CoordinationRejection::StaleTerm { election, term, current } => {
                write!(formatter, "the vote names term {term} but the open round of '{election}' is term {current}")
            }
            CoordinationRejection::NotVoter { election, term } => write!(
                formatter,
                "the signer is not a candidate of term {term} of '{election}' (not a member, or not healthy when it opened)"
            ),
            CoordinationRejection::NotCandidate { election, candidate } => {
                write!(formatter, "'{candidate}' is not a candidate of the open round of '{election}'")
            }
            CoordinationRejection::AlreadyVoted { election, term } => {
                write!(formatter, "the signer already voted in term {term} of '{election}'")
            }
        }
    }
}
