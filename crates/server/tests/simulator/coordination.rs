//! The crowd's lease, lock, semaphore, election and barrier commands: leases of a few names granted,
//! kept alive and revoked (sometimes another's), locks, semaphores and elections on the same few
//! names acquired or stood for through them, waiting or not, and released; barriers of a few names made, arrived at, reset and removed. Leases that are not kept
//! alive expire, hand their locks over and break the barriers they wait at. Vote-based elections of
//! a few names among a few members: rounds opened, votes mostly for the first candidate (so that
//! majorities form), some stale, and rounds left to fail.

use colony_core::command::{
    AcquireLock, AcquireSemaphore, ArriveAtBarrier, Campaign, CastElectionVote, CreateBarrier, CreateVoteElection,
    DeleteVoteElection, GrantLease, KeepLeaseAlive, ReleaseLock, ReleaseSemaphore, RemoveBarrier, ResetBarrier, Resign,
    RevokeLease, StartVoteRound,
};
use colony_core::{AgentId, Command, LockMode, Name, State};

use super::Clients;
use crate::rng::Rng;

/// Lease names: few, so that grants repeat and acquires find leases.
const LEASES: [&str; 2] = ["work", "batch"];
/// Lock names: few, so that agents contend.
const LOCKS: [&str; 3] = ["export", "ledger-sync", "index"];

pub(super) fn lease_name(rng: &mut Rng) -> Name {
    Name::new(rng.pick_text(&LEASES)).expect("a valid name")
}

fn lock_name(rng: &mut Rng) -> Name {
    Name::new(rng.pick_text(&LOCKS)).expect("a valid name")
}

/// Barrier names: few, so that agents meet at them and make them twice.
const BARRIERS: [&str; 2] = ["phase", "checkpoint"];

fn barrier_name(rng: &mut Rng) -> Name {
    Name::new(rng.pick_text(&BARRIERS)).expect("a valid name")
}

impl Clients {
    /// A lease of one to sixty seconds; now and then of too short a TTL, which is refused.
    pub(super) fn grant_lease(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let ttl_ms = if rng.chance(1, 20) { 10 } else { rng.between(1_000, 60_000) };
        Command::GrantLease(GrantLease { lease: lease_name(rng), ttl_ms })
    }

    pub(super) fn keep_lease_alive(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        Command::KeepLeaseAlive(KeepLeaseAlive { lease: lease_name(rng) })
    }

    /// The signer's own lease, or now and then a member's (refused unless the operator sends it).
    pub(super) fn revoke_lease(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let holder = if self.members.is_empty() || rng.chance(3, 4) {
            None
        } else {
            Some(self.members[rng.index(self.members.len())].id.clone())
        };
        Command::RevokeLease(RevokeLease { lease: lease_name(rng), holder })
    }

    pub(super) fn acquire_lock(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let mode = if rng.chance(1, 2) { LockMode::Exclusive } else { LockMode::Shared };
        Command::AcquireLock(AcquireLock { lock: lock_name(rng), mode, lease: lease_name(rng), wait: rng.chance(2, 3) })
    }

    pub(super) fn release_lock(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        Command::ReleaseLock(ReleaseLock { lock: lock_name(rng) })
    }

    /// Two or three permits, on the locks' names (so a name in use as a lock is refused); now and
    /// then none, which is refused.
    pub(super) fn acquire_semaphore(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let permits = if rng.chance(1, 20) { 0 } else { rng.between(2, 3) as u32 };
        let semaphore = lock_name(rng);
        Command::AcquireSemaphore(AcquireSemaphore {
            semaphore,
            permits,
            lease: lease_name(rng),
            wait: rng.chance(2, 3),
        })
    }

    pub(super) fn release_semaphore(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        Command::ReleaseSemaphore(ReleaseSemaphore { semaphore: lock_name(rng) })
    }

    pub(super) fn campaign(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        Command::Campaign(Campaign { election: lock_name(rng), lease: lease_name(rng) })
    }

    pub(super) fn resign(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        Command::Resign(Resign { election: lock_name(rng) })
    }

    /// A barrier of two or three parties (now and then one, refused), waiting one to ten seconds; one
    /// time in four only for two members of the crowd.
    pub(super) fn create_barrier(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let parties = if rng.chance(1, 20) { 1 } else { rng.between(2, 3) as u32 };
        let members = (self.members.len() >= 3 && rng.chance(1, 4)).then(|| {
            let first = rng.index(self.members.len());
            let second = (first + 1 + rng.index(self.members.len() - 1)) % self.members.len();
            let id = |index: usize| self.members[index].id.clone();
            vec![id(first), id(second)]
        });
        let timeout_ms = rng.between(1_000, 10_000);
        Command::CreateBarrier(CreateBarrier { barrier: barrier_name(rng), parties, timeout_ms, members })
    }

    pub(super) fn arrive_at_barrier(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        Command::ArriveAtBarrier(ArriveAtBarrier { barrier: barrier_name(rng), lease: lease_name(rng) })
    }

    pub(super) fn reset_barrier(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        Command::ResetBarrier(ResetBarrier { barrier: barrier_name(rng) })
    }

    pub(super) fn remove_barrier(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        Command::RemoveBarrier(RemoveBarrier { barrier: barrier_name(rng) })
    }

    /// A vote-based election among three to six members of the crowd (now and then none, refused),
    /// with rounds of one to sixty seconds.
    pub(super) fn create_vote_election(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let count = if self.members.is_empty() || rng.chance(1, 20) { 0 } else { rng.between(3, 6) as usize };
        let mut members: Vec<AgentId> = Vec::new();
        for _ in 0..count {
            let member = self.members[rng.index(self.members.len())].id.clone();
            if !members.contains(&member) {
                members.push(member);
            }
        }
        // Long enough, mostly, for the members' votes to come in before the round fails.
        let round_timeout_ms = if rng.chance(1, 4) { rng.between(1_000, 10_000) } else { rng.between(10_000, 60_000) };
        Command::CreateVoteElection(CreateVoteElection { election: vote_election_name(rng), members, round_timeout_ms })
    }

    pub(super) fn start_vote_round(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        Command::StartVoteRound(StartVoteRound { election: vote_election_name(rng) })
    }

    /// A vote in the open round's term (now and then the one before) for one of its candidates,
    /// mostly the first, so that majorities form; now and then for anyone in the crowd.
    pub(super) fn cast_election_vote(&mut self, rng: &mut Rng, state: &State, _: Option<usize>) -> Command {
        let election = vote_election_name(rng);
        let round = state.coordination().vote_elections().get(&election).and_then(|found| found.round.as_ref());
        let term = round.map_or(1, |round| round.term);
        let term = if rng.chance(1, 10) { term.saturating_sub(1) } else { term };
        let candidates: Vec<AgentId> =
            round.map(|round| round.candidates.iter().cloned().collect()).unwrap_or_default();
        let candidate = if !candidates.is_empty() && rng.chance(9, 10) {
            if rng.chance(2, 3) { candidates[0].clone() } else { rng.pick(&candidates).clone() }
        } else if self.members.is_empty() {
            AgentId::new("nobody").expect("a valid id")
        } else {
            self.members[rng.index(self.members.len())].id.clone()
        };
        Command::CastElectionVote(CastElectionVote { election, term, candidate })
    }

    pub(super) fn delete_vote_election(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        // Rarely: a deletion takes the group's round and leader with it.
        let election = if rng.chance(1, 20) { vote_election_name(rng) } else { Name::new("nowhere").expect("a name") };
        Command::DeleteVoteElection(DeleteVoteElection { election })
    }
}

/// Vote-based election names: few, so that creates repeat and votes find rounds.
const VOTE_ELECTIONS: [&str; 2] = ["council", "review-board"];

fn vote_election_name(rng: &mut Rng) -> Name {
    Name::new(rng.pick_text(&VOTE_ELECTIONS)).expect("a valid name")
}
