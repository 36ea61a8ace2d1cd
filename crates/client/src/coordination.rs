//! Typed helpers for leases, locks, semaphores, elections and barriers: grants, keep-alives,
//! revocations, acquires and releases, campaigns and resignations, arrivals, and the reads (leases by
//! holder, locks with their holders' fencing tokens and queues, elections with their leader and
//! candidates, barriers with their waiting parties).

use colony_core::command::{
    AcquireLock, AcquireSemaphore, ArriveAtBarrier, Campaign, CastElectionVote, CreateBarrier, CreateVoteElection,
    DeleteVoteElection, GrantLease, KeepLeaseAlive, ReleaseLock, ReleaseSemaphore, RemoveBarrier, ResetBarrier, Resign,
    RevokeLease, StartVoteRound,
};
use colony_core::{AgentId, Command, LockMode, Name};
use colony_wire::coordination::{
    BarrierPage, BarrierView, ElectionView, LeasePage, LockPage, LockView, VoteElectionPage, VoteElectionView,
};
use colony_wire::views::{BarrierArrivalView, SubmitResponse};

use crate::{Client, ClientError};

fn acquired(response: &SubmitResponse) -> Result<LockAcquired, ClientError> {
    let result = response.results.first();
    match (result.and_then(|result| result.fencing_token), result.and_then(|result| result.queue_position)) {
        (Some(fencing_token), _) => Ok(LockAcquired::Granted { fencing_token }),
        (None, Some(position)) => Ok(LockAcquired::Queued { position }),
        (None, None) => Err(ClientError::Decode("the acquire's result carries no token or place".to_owned())),
    }
}

/// What a lock, semaphore or campaign request got: the hold, or a place in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockAcquired {
    /// Granted now, with this fencing token.
    Granted {
        /// Send it with every write to the resource; the resource refuses lower ones.
        fencing_token: u64,
    },
    /// Queued at this place (from 1); the grant comes as a `lock.granted` event.
    Queued {
        /// The place in the queue.
        position: u32,
    },
}

impl Client {
    /// Takes a lease of `ttl_ms`; returns the last log time it is alive unless kept alive.
    pub async fn grant_lease(&self, lease: Name, ttl_ms: u64) -> Result<u64, ClientError> {
        let response = self.submit_one(Command::GrantLease(GrantLease { lease, ttl_ms })).await?;
        lease_deadline(&response)
    }

    /// Extends one of the signer's leases to now plus its TTL; returns its new deadline.
    pub async fn keep_lease_alive(&self, lease: Name) -> Result<u64, ClientError> {
        let response = self.submit_one(Command::KeepLeaseAlive(KeepLeaseAlive { lease })).await?;
        lease_deadline(&response)
    }

    /// Ends a lease now (the signer's own, or as the operator an agent's), releasing its locks.
    pub async fn revoke_lease(&self, lease: Name, holder: Option<AgentId>) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::RevokeLease(RevokeLease { lease, holder })).await
    }

    /// Asks for a lock through one of the signer's leases.
    pub async fn acquire_lock(
        &self,
        lock: Name,
        mode: LockMode,
        lease: Name,
        wait: bool,
    ) -> Result<LockAcquired, ClientError> {
        let response = self.submit_one(Command::AcquireLock(AcquireLock { lock, mode, lease, wait })).await?;
        acquired(&response)
    }

    /// Asks for one of a semaphore's `permits` through one of the signer's leases; every acquirer
    /// names the same count.
    pub async fn acquire_semaphore(
        &self,
        semaphore: Name,
        permits: u32,
        lease: Name,
        wait: bool,
    ) -> Result<LockAcquired, ClientError> {
        let acquire = AcquireSemaphore { semaphore, permits, lease, wait };
        acquired(&self.submit_one(Command::AcquireSemaphore(acquire)).await?)
    }

    /// Gives back the signer's permit, or leaves the semaphore's queue.
    pub async fn release_semaphore(&self, semaphore: Name) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::ReleaseSemaphore(ReleaseSemaphore { semaphore })).await
    }

    /// Stands for leader through one of the signer's leases: `Granted` carries the term (elected
    /// now), `Queued` the place among the candidates (elected later, told by `election.leader`).
    pub async fn campaign(&self, election: Name, lease: Name) -> Result<LockAcquired, ClientError> {
        acquired(&self.submit_one(Command::Campaign(Campaign { election, lease })).await?)
    }

    /// Steps down as leader, or withdraws as a candidate.
    pub async fn resign(&self, election: Name) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::Resign(Resign { election })).await
    }

    /// An election's leader with its term, and its candidates.
    pub async fn election(&self, election: &Name) -> Result<ElectionView, ClientError> {
        self.get(&format!("/v1/elections/{election}")).await
    }

    /// Releases a lock the signer holds, or leaves its queue.
    pub async fn release_lock(&self, lock: Name) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::ReleaseLock(ReleaseLock { lock })).await
    }

    /// One page of leases. `query` is a URL query string without `?` (`holder=scout-1&limit=10`).
    pub async fn leases(&self, query: &str) -> Result<LeasePage, ClientError> {
        let path = if query.is_empty() { "/v1/leases".to_owned() } else { format!("/v1/leases?{query}") };
        self.get(&path).await
    }

    /// One page of locks in use. `query` is a URL query string without `?` (`after=export`).
    pub async fn locks(&self, query: &str) -> Result<LockPage, ClientError> {
        let path = if query.is_empty() { "/v1/locks".to_owned() } else { format!("/v1/locks?{query}") };
        self.get(&path).await
    }

    /// One lock's holders with their fencing tokens, and its queue.
    pub async fn lock(&self, lock: &Name) -> Result<LockView, ClientError> {
        self.get(&format!("/v1/locks/{lock}")).await
    }

    /// Makes a barrier that trips when `parties` have arrived; only `members` may arrive when given.
    pub async fn create_barrier(
        &self,
        barrier: Name,
        parties: u32,
        timeout_ms: u64,
        members: Option<Vec<AgentId>>,
    ) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::CreateBarrier(CreateBarrier { barrier, parties, timeout_ms, members })).await
    }

    /// Arrives at a barrier through one of the signer's leases; returns the generation joined, the
    /// count, and whether this arrival tripped it. Otherwise the release comes as `barrier.tripped`
    /// (or `barrier.broken`), or is seen on [`barrier`](Client::barrier) as `last_tripped_generation`.
    pub async fn arrive_at_barrier(&self, barrier: Name, lease: Name) -> Result<BarrierArrivalView, ClientError> {
        let response = self.submit_one(Command::ArriveAtBarrier(ArriveAtBarrier { barrier, lease })).await?;
        response
            .results
            .first()
            .and_then(|result| result.barrier_arrival)
            .ok_or_else(|| ClientError::Decode("the arrival's result carries no generation".to_owned()))
    }

    /// Opens a barrier's next generation (its creator or the operator).
    pub async fn reset_barrier(&self, barrier: Name) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::ResetBarrier(ResetBarrier { barrier })).await
    }

    /// Removes a barrier (its creator or the operator).
    pub async fn remove_barrier(&self, barrier: Name) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::RemoveBarrier(RemoveBarrier { barrier })).await
    }

    /// One page of barriers. `query` is a URL query string without `?` (`after=phase-1&limit=10`).
    pub async fn barriers(&self, query: &str) -> Result<BarrierPage, ClientError> {
        let path = if query.is_empty() { "/v1/barriers".to_owned() } else { format!("/v1/barriers?{query}") };
        self.get(&path).await
    }

    /// One barrier: its generation, who waits, whether it broke.
    pub async fn barrier(&self, barrier: &Name) -> Result<BarrierView, ClientError> {
        self.get(&format!("/v1/barriers/{barrier}")).await
    }

    /// Makes a vote-based election among `members`, whose rounds stay open `round_timeout_ms`.
    pub async fn create_vote_election(
        &self,
        election: Name,
        members: Vec<AgentId>,
        round_timeout_ms: u64,
    ) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::CreateVoteElection(CreateVoteElection { election, members, round_timeout_ms })).await
    }

    /// Opens the election's next round (as a healthy member); read its term from
    /// [`vote_election`](Client::vote_election).
    pub async fn start_vote_round(&self, election: Name) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::StartVoteRound(StartVoteRound { election })).await
    }

    /// Votes for `candidate` in the round of `term` (as one of its candidates).
    pub async fn vote_in_election(
        &self,
        election: Name,
        term: u64,
        candidate: AgentId,
    ) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::CastElectionVote(CastElectionVote { election, term, candidate })).await
    }

    /// Deletes a vote-based election (as its creator or the operator).
    pub async fn delete_vote_election(&self, election: Name) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::DeleteVoteElection(DeleteVoteElection { election })).await
    }

    /// One vote-based election: its term, its leader, its open round.
    pub async fn vote_election(&self, election: &Name) -> Result<VoteElectionView, ClientError> {
        self.get(&format!("/v1/vote-elections/{election}")).await
    }

    /// One page of vote-based elections. `query` is a URL query string without `?`.
    pub async fn vote_elections(&self, query: &str) -> Result<VoteElectionPage, ClientError> {
        let path =
            if query.is_empty() { "/v1/vote-elections".to_owned() } else { format!("/v1/vote-elections?{query}") };
        self.get(&path).await
    }
}

fn lease_deadline(response: &SubmitResponse) -> Result<u64, ClientError> {
    response
        .results
        .first()
        .and_then(|result| result.expires_at_ms)
        .ok_or_else(|| ClientError::Decode("the lease's result carries no deadline".to_owned()))
}
