//! Coordination's read views: leases by holder, locks and semaphores with their holders' fencing
//! tokens and their queues, elections with their leader and candidates, and barriers with the
//! parties waiting at them.

use colony_core::coordination::{
    BarrierBreak, BarrierRecord, ElectedLeader, LeaseRecord, LockKind, LockMode, LockRecord, VoteElection,
};
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

/// What a name in the locks' namespace is used as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LockKindName {
    /// One exclusive holder or any number of shared ones.
    Lock,
    /// Up to its permits of holders.
    Semaphore,
    /// One leader, whose fencing token is its term.
    Election,
}

/// A lock, semaphore or election in use: its holders and its queue, first come first served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LockView {
    /// Its name.
    pub lock: Name,
    /// `lock`, `semaphore` or `election`; absent when nobody uses the name.
    pub kind: Option<LockKindName>,
    /// A semaphore's permits; absent for a lock or an election.
    pub permits: Option<u32>,
    /// Its holders, by signer.
    pub holders: Vec<HolderView>,
    /// Its waiters, in the order they will be served.
    pub queue: Vec<WaiterView>,
}

impl LockView {
    /// The view of `lock`.
    pub fn new(lock: &LockRecord) -> LockView {
        let (kind, permits) = match lock.kind {
            LockKind::Lock => (LockKindName::Lock, None),
            LockKind::Semaphore { permits } => (LockKindName::Semaphore, Some(permits)),
            LockKind::Election => (LockKindName::Election, None),
        };
        LockView {
            lock: lock.name.clone(),
            kind: Some(kind),
            permits,
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

/// An election's leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LeaderView {
    /// Who leads.
    pub leader: Signer,
    /// The lease it leads through: leadership ends with it.
    pub lease: Name,
    /// Its term, above every earlier term of the election: a fencing token.
    pub term: u64,
    /// When it was elected (log time).
    pub elected_at_ms: u64,
}

/// A candidate waiting to lead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CandidateView {
    /// Who stands.
    pub candidate: Signer,
    /// The lease it stands through.
    pub lease: Name,
    /// When it began to campaign (log time).
    pub campaigning_since_ms: u64,
}

/// An election: its leader, if any, and the candidates in the order they would lead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ElectionView {
    /// Its name.
    pub election: Name,
    /// Who leads; absent when nobody campaigns.
    pub leader: Option<LeaderView>,
    /// The candidates waiting, first to lead first.
    pub candidates: Vec<CandidateView>,
}

impl ElectionView {
    /// The view of an election in use (`lock` is an election's record).
    pub fn new(lock: &LockRecord) -> ElectionView {
        let leader = lock.holders.iter().next().map(|(leader, hold)| LeaderView {
            leader: leader.clone(),
            lease: hold.lease.clone(),
            term: hold.fencing_token,
            elected_at_ms: hold.granted_at_ms,
        });
        let candidates = lock
            .queue
            .iter()
            .map(|waiter| CandidateView {
                candidate: waiter.holder.clone(),
                lease: waiter.lease.clone(),
                campaigning_since_ms: waiter.queued_at_ms,
            })
            .collect();
        ElectionView { election: lock.name.clone(), leader, candidates }
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

/// A vote-based election: its members, its term, its leader and its open round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VoteElectionView {
    /// Its name.
    pub election: Name,
    /// Who made it, and may delete it (with the operator).
    pub creator: Signer,
    /// The agents who open rounds, stand and vote.
    pub members: Vec<AgentId>,
    /// How long a round stays open without a majority.
    pub round_timeout_ms: u64,
    /// When it was made (log time).
    pub created_at_ms: u64,
    /// The last term a round opened for (0 before the first).
    pub term: u64,
    /// The leader, with the term it leads; absent before the first election, while a round is
    /// open, and once the leader fell silent, was halted or left.
    pub leader: Option<ElectedLeader>,
    /// The round open, if any.
    pub round: Option<VoteRoundView>,
}

/// An open round of a vote-based election.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VoteRoundView {
    /// The term it elects for.
    pub term: u64,
    /// The members healthy when it opened: they alone vote and may be chosen.
    pub candidates: Vec<AgentId>,
    /// The votes a candidate needs: more than half of the candidates.
    pub majority: u32,
    /// Who voted for whom, by voter.
    pub votes: Vec<VoteView>,
    /// When it opened (log time).
    pub opened_at_ms: u64,
    /// The last log time it stays open.
    pub deadline_ms: u64,
}

/// One vote of an open round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VoteView {
    /// Who voted.
    pub voter: AgentId,
    /// For whom.
    pub candidate: AgentId,
}

impl VoteElectionView {
    /// The view of `election`.
    pub fn new(election: &VoteElection) -> VoteElectionView {
        VoteElectionView {
            election: election.name.clone(),
            creator: election.creator.clone(),
            members: election.members.iter().cloned().collect(),
            round_timeout_ms: election.round_timeout_ms,
            created_at_ms: election.created_at_ms,
            term: election.term,
            leader: election.leader.clone(),
            round: election.round.as_ref().map(|round| VoteRoundView {
                term: round.term,
                candidates: round.candidates.iter().cloned().collect(),
                majority: round.majority(),
                votes: round
                    .votes
                    .iter()
                    .map(|(voter, candidate)| VoteView { voter: voter.clone(), candidate: candidate.clone() })
                    .collect(),
                opened_at_ms: round.opened_at_ms,
                deadline_ms: round.deadline_ms,
            }),
        }
    }
}

/// One page of vote-based elections, by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VoteElectionPage {
    /// The elections on this page.
    pub elections: Vec<VoteElectionView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<Name>,
}
