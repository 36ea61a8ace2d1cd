//! Events: the state changes an entry caused, in the order it caused them.
//!
//! Events are outputs of `apply`, so they are as deterministic as the state: replaying the log
//! produces the same events with the same sequence numbers. They feed the server's event stream.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::bus::DeadLetterReason;
use crate::coordination::{BarrierBreak, LeaseEnd, LockMode, LockRelease};
use crate::fraction::Fraction;
use crate::governance::{Choice, Closure, Outcome, Verdict};
use crate::ids::Digest;
use crate::ids::{AgentId, Name, Signer};
use crate::kv::StoreKey;
use crate::ledger::{AccountId, EscrowState, TransferKind};
use crate::market::{AttemptOutcome, Distribution, TaskState};
use crate::stigmergy::{Decay, Intensity, SignalKey};

/// One state change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    /// The sequence number of the entry that caused it.
    pub sequence: u64,
    /// The position of the event within its entry, from 0.
    pub index: u32,
    /// The entry's timestamp (log time, Unix milliseconds).
    pub timestamp_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. In JSON, `type` names the variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum EventKind {
    /// The swarm was created.
    #[serde(rename = "swarm.genesis")]
    Genesis {},
    /// The configuration was replaced.
    #[serde(rename = "config.changed")]
    ConfigChanged {},
    /// An agent joined.
    #[serde(rename = "agent.registered")]
    AgentRegistered {
        /// The agent.
        agent: AgentId,
        /// Its role.
        role: Name,
        /// Who signed the registration.
        by: Signer,
    },
    /// An agent's role, capabilities or weight changed.
    #[serde(rename = "agent.updated")]
    AgentUpdated {
        /// The agent.
        agent: AgentId,
    },
    /// An agent missed its heartbeat deadline.
    #[serde(rename = "agent.unresponsive")]
    AgentUnresponsive {
        /// The agent.
        agent: AgentId,
    },
    /// An unresponsive agent sent a heartbeat again.
    #[serde(rename = "agent.active")]
    AgentActive {
        /// The agent.
        agent: AgentId,
    },
    /// An agent was halted.
    #[serde(rename = "agent.halted")]
    AgentHalted {
        /// The agent.
        agent: AgentId,
        /// Who halted it.
        by: Signer,
        /// Why.
        reason: String,
    },
    /// A halt was lifted.
    #[serde(rename = "agent.resumed")]
    AgentResumed {
        /// The agent.
        agent: AgentId,
        /// Who lifted the halt.
        by: Signer,
    },
    /// An agent left the swarm.
    #[serde(rename = "agent.deregistered")]
    AgentDeregistered {
        /// The agent.
        agent: AgentId,
        /// Who removed it.
        by: Signer,
    },
    /// A read token was issued.
    #[serde(rename = "read_token.issued")]
    ReadTokenIssued {
        /// Its label.
        label: String,
    },
    /// A read token was revoked.
    #[serde(rename = "read_token.revoked")]
    ReadTokenRevoked {
        /// Its label.
        label: String,
    },
    /// Money moved between accounts (mint, transfer, withdraw, sweep).
    #[serde(rename = "ledger.transfer")]
    TransferPosted {
        /// The creator's transfer id.
        transfer_id: Name,
        /// The account debited.
        from: AccountId,
        /// The account credited.
        to: AccountId,
        /// How much.
        amount: Amount,
        /// Why.
        kind: TransferKind,
    },
    /// Funds were locked in escrow.
    #[serde(rename = "escrow.locked")]
    EscrowLocked {
        /// The escrow.
        escrow: u64,
        /// Who locked.
        payer: AgentId,
        /// Who is to be paid.
        payee: AgentId,
        /// How much.
        amount: Amount,
        /// The payer's task id.
        task_id: Option<Name>,
        /// When it expires.
        timeout_at_ms: u64,
        /// What the money is for.
        description: Option<String>,
    },
    /// A locked escrow's payer moved its timeout later.
    #[serde(rename = "escrow.extended")]
    EscrowExtended {
        /// The escrow.
        escrow: u64,
        /// When it now expires.
        timeout_at_ms: u64,
    },
    /// An escrow was disputed; its timeout stopped.
    #[serde(rename = "escrow.disputed")]
    EscrowDisputed {
        /// The escrow.
        escrow: u64,
        /// The party that disputed.
        by: AgentId,
        /// Why.
        reason: String,
    },
    /// An escrow ended: released, refunded, expired or resolved.
    #[serde(rename = "escrow.settled")]
    EscrowSettled {
        /// The escrow.
        escrow: u64,
        /// How it ended.
        state: EscrowState,
        /// Who ended it (absent for an expiry).
        by: Option<Signer>,
        /// Paid to the payee, net of fees.
        paid_to_payee: Amount,
        /// Returned to the payer.
        refunded_to_payer: Amount,
        /// Kept by the fee account.
        fees: Amount,
        /// Paid to the referrer.
        referral: Amount,
        /// The referrer paid.
        referrer: Option<AgentId>,
    },
    /// A wallet's policy changed.
    #[serde(rename = "wallet.configured")]
    WalletConfigured {
        /// The wallet's agent.
        agent: AgentId,
        /// The daily limit now.
        daily_limit: Option<Amount>,
        /// Whether withdrawals are forbidden now.
        no_withdraw: bool,
        /// Whether the wallet is frozen now.
        frozen: bool,
        /// The budget minimum now.
        minimum_balance: Option<Amount>,
    },
    /// An agent's balance fell below its budget minimum; it is halted until funded.
    #[serde(rename = "agent.budget_halted")]
    AgentBudgetHalted {
        /// The agent.
        agent: AgentId,
        /// Its balance.
        balance: Amount,
        /// Its minimum.
        minimum_balance: Amount,
    },
    /// An agent's balance is back at or above its budget minimum; the budget halt is lifted.
    #[serde(rename = "agent.budget_restored")]
    AgentBudgetRestored {
        /// The agent.
        agent: AgentId,
        /// Its balance.
        balance: Amount,
    },
    /// A durable stream was created.
    #[serde(rename = "stream.created")]
    StreamCreated {
        /// The stream.
        stream: Name,
        /// Its owner (the creator).
        owner: Signer,
    },
    /// A stream was deleted, with its messages, consumers and dead letters.
    #[serde(rename = "stream.deleted")]
    StreamDeleted {
        /// The stream.
        stream: Name,
        /// Who deleted it.
        by: Signer,
    },
    /// Messages were removed by a stream's limits (`max_messages`, `max_bytes` with discard `old`, or
    /// `max_age_ms`): one event per stream and entry, with the count, never one per message.
    #[serde(rename = "stream.messages_discarded")]
    MessagesDiscarded {
        /// The stream.
        stream: Name,
        /// How many messages this entry removed from it.
        count: u64,
    },
    /// A consumer was created on a stream.
    #[serde(rename = "consumer.created")]
    ConsumerCreated {
        /// The stream.
        stream: Name,
        /// The consumer.
        consumer: Name,
        /// Its creator.
        by: Signer,
    },
    /// A consumer was deleted (deleting a stream deletes its consumers without this event).
    #[serde(rename = "consumer.deleted")]
    ConsumerDeleted {
        /// The stream.
        stream: Name,
        /// The consumer.
        consumer: Name,
        /// Who deleted it.
        by: Signer,
    },
    /// A consumer gave up on a message: it moved to the stream's dead letters.
    #[serde(rename = "message.dead_lettered")]
    MessageDeadLettered {
        /// The stream.
        stream: Name,
        /// The consumer that gave up.
        consumer: Name,
        /// The message's stream sequence.
        sequence: u64,
        /// The dead letter's id.
        dead_letter: u64,
        /// How many times it was delivered.
        delivery_count: u32,
        /// Why: deliveries exhausted, or terminated by a consumer.
        reason: DeadLetterReason,
    },
    /// A dead letter was published again.
    #[serde(rename = "dead_letter.replayed")]
    DeadLetterReplayed {
        /// The stream whose dead letter it was.
        stream: Name,
        /// The dead letter's id.
        dead_letter: u64,
        /// The stream that captured it now.
        to_stream: Name,
        /// Its new sequence there.
        sequence: u64,
    },
    /// A task was announced.
    #[serde(rename = "task.announced")]
    TaskAnnounced {
        /// The task.
        task: u64,
        /// Who announced it.
        manager: AgentId,
        /// The manager's id for it.
        task_id: Name,
        /// Its kind.
        kind: Name,
    },
    /// A task opened for bids (its first round, or a new round after a retry found no bid left).
    #[serde(rename = "task.opened")]
    TaskOpened {
        /// The task.
        task: u64,
        /// When bidding closes (log time).
        closes_at_ms: u64,
        /// The round, from 1.
        round: u32,
    },
    /// A bid was placed or replaced.
    #[serde(rename = "task.bid")]
    TaskBid {
        /// The task.
        task: u64,
        /// The bidder.
        bidder: AgentId,
        /// Its price.
        estimated_cost: Amount,
        /// Its time.
        estimated_time_ms: u64,
        /// Its confidence.
        confidence: Fraction,
        /// Whether it replaced the bidder's earlier bid.
        replaced: bool,
    },
    /// A bid was withdrawn.
    #[serde(rename = "task.bid_withdrawn")]
    TaskBidWithdrawn {
        /// The task.
        task: u64,
        /// The bidder.
        bidder: AgentId,
    },
    /// A task was awarded and its price locked in escrow.
    #[serde(rename = "task.awarded")]
    TaskAwarded {
        /// The task.
        task: u64,
        /// The manager's id for it.
        task_id: Name,
        /// Who won.
        winner: AgentId,
        /// The escrow holding the price.
        escrow: u64,
        /// The price.
        price: Amount,
        /// The winning bid's score; for a direct assignment, the winner's performance score.
        score: Fraction,
        /// The result is due by then (log time).
        due_at_ms: u64,
        /// `auction` (the best bid won) or `direct` (assigned, at the task's `max_cost`).
        distribution: Distribution,
    },
    /// An agent declared how much load it takes on (`task.capacity`).
    #[serde(rename = "task.capacity_declared")]
    TaskCapacityDeclared {
        /// The agent.
        agent: AgentId,
        /// Its capacity, in load units.
        max_load: u32,
    },
    /// The winner accepted.
    #[serde(rename = "task.accepted")]
    TaskAccepted {
        /// The task.
        task: u64,
        /// The winner.
        winner: AgentId,
    },
    /// The winner reported progress.
    #[serde(rename = "task.progress")]
    TaskProgress {
        /// The task.
        task: u64,
        /// The winner.
        winner: AgentId,
        /// Percent done.
        percent: u8,
        /// Its note.
        note: String,
    },
    /// The winner submitted a result.
    #[serde(rename = "task.submitted")]
    TaskSubmitted {
        /// The task.
        task: u64,
        /// The winner.
        winner: AgentId,
        /// Unscored by then, the result is paid (log time).
        verify_by_ms: u64,
    },
    /// The verifier scored a result.
    #[serde(rename = "task.verified")]
    TaskVerified {
        /// The task.
        task: u64,
        /// The verifier.
        verifier: AgentId,
        /// The score.
        score: Fraction,
        /// Whether it reached the task's minimum.
        passed: bool,
    },
    /// An award ended: completed, declined, late, rejected, cancelled or disputed.
    #[serde(rename = "task.attempt_ended")]
    TaskAttemptEnded {
        /// The task.
        task: u64,
        /// The winner of that award.
        winner: AgentId,
        /// Its escrow.
        escrow: u64,
        /// How it ended.
        outcome: AttemptOutcome,
    },
    /// A task ended.
    #[serde(rename = "task.ended")]
    TaskEnded {
        /// The task.
        task: u64,
        /// Its final state.
        state: TaskState,
        /// Why, when it did not complete.
        reason: Option<String>,
    },
    /// A proposal was put to its electorate.
    #[serde(rename = "proposal.created")]
    ProposalCreated {
        /// The proposal.
        proposal: u64,
        /// Who created it.
        proposer: Signer,
        /// The proposer's id for it.
        proposal_id: Name,
        /// Its title.
        title: String,
        /// Voters in its frozen electorate.
        voters: u32,
        /// Ballots are taken through this log time.
        closes_at_ms: u64,
    },
    /// A proposal's terms changed before any ballot.
    #[serde(rename = "proposal.amended")]
    ProposalAmended {
        /// The proposal.
        proposal: u64,
        /// Amendments so far.
        amendments: u32,
        /// Its deadline now.
        closes_at_ms: u64,
    },
    /// A proposal was withdrawn.
    #[serde(rename = "proposal.cancelled")]
    ProposalCancelled {
        /// The proposal.
        proposal: u64,
        /// The proposer or the operator.
        by: Signer,
        /// Why, if given.
        reason: Option<String>,
    },
    /// A voter cast or replaced its ballot.
    #[serde(rename = "ballot.cast")]
    BallotCast {
        /// The proposal.
        proposal: u64,
        /// The voter.
        voter: AgentId,
        /// Its choice.
        choice: Choice,
        /// Whether it replaced an earlier ballot.
        changed: bool,
    },
    /// A proposal was decided and its decision sealed.
    #[serde(rename = "proposal.closed")]
    ProposalClosed {
        /// The proposal.
        proposal: u64,
        /// The outcome.
        outcome: Outcome,
        /// What closed it.
        closure: Closure,
        /// Ballots counted.
        ballots: u32,
        /// The decision's seal, now the chain's head.
        seal: Digest,
        /// Its position in the chain of seals, from 1.
        chain_position: u64,
    },
    /// A pheromone map was created.
    #[serde(rename = "pheromone.map_created")]
    PheromoneMapCreated {
        /// The map.
        map: Name,
        /// Its creator.
        by: Signer,
        /// How its trails fade.
        decay: Decay,
        /// The most a trail holds.
        cap: Intensity,
        /// Trails at or below this are gone.
        prune_at_or_below: Intensity,
    },
    /// Who may deposit on a map changed.
    #[serde(rename = "pheromone.map_configured")]
    PheromoneMapConfigured {
        /// The map.
        map: Name,
        /// Its creator or the operator.
        by: Signer,
    },
    /// A map was deleted with its trails.
    #[serde(rename = "pheromone.map_deleted")]
    PheromoneMapDeleted {
        /// The map.
        map: Name,
        /// Its creator or the operator.
        by: Signer,
        /// Trails it still stored.
        keys: u32,
    },
    /// A trail was reinforced.
    #[serde(rename = "pheromone.deposited")]
    PheromoneDeposited {
        /// The map.
        map: Name,
        /// The trail.
        key: SignalKey,
        /// The depositor.
        by: Signer,
        /// What was added.
        strength: Intensity,
        /// The trail's intensity after the deposit: `min(cap, current + strength)`.
        intensity: Intensity,
    },
    /// An approved proposal's action ran, every command of it, in the entry that closed it (its
    /// commands' own events come just before).
    #[serde(rename = "proposal.executed")]
    ProposalExecuted {
        /// The proposal.
        proposal: u64,
        /// Commands applied.
        commands: u32,
    },
    /// An approved proposal's action was refused at its close: nothing of it applied.
    #[serde(rename = "proposal.action_failed")]
    ProposalActionFailed {
        /// The proposal.
        proposal: u64,
        /// The refused command's position in the action, from 0.
        index: u32,
        /// The refusal's stable code.
        code: String,
    },
    /// The operator ended bootstrap: guarded kinds now run only as approved proposals' actions.
    #[serde(rename = "governance.bootstrap_ended")]
    BootstrapEnded {},
    /// The operator, or an approved proposal, took money from an agent's wallet into the fee account.
    #[serde(rename = "ledger.penalized")]
    AgentPenalized {
        /// The agent penalized.
        agent: AgentId,
        /// The most the penalty asked for.
        requested: Amount,
        /// What the wallet held of it and gave up.
        taken: Amount,
        /// Why.
        reason: String,
    },
    /// A dispute of an escrow without an arbiter opened a jury.
    #[serde(rename = "jury.opened")]
    JuryOpened {
        /// The jury's proposal.
        proposal: u64,
        /// The disputed escrow.
        escrow: u64,
        /// Jurors drawn.
        jurors: u32,
        /// When it stops taking ballots (log time).
        closes_at_ms: u64,
    },
    /// A jury's verdict settled its escrow (its `escrow.settled` comes just before).
    #[serde(rename = "jury.settled")]
    JurySettled {
        /// The jury's proposal; none when no juror could be drawn and the escrow was refunded at once.
        proposal: Option<u64>,
        /// The escrow.
        escrow: u64,
        /// What was decided.
        verdict: Verdict,
        /// Whether it is the default refund (no quorum, a tie, nothing approved, no juror) rather than
        /// a winning option.
        default: bool,
    },
    /// A lease was granted.
    #[serde(rename = "lease.granted")]
    LeaseGranted {
        /// Its holder.
        holder: Signer,
        /// Its name.
        lease: Name,
        /// What each keep-alive extends it by.
        ttl_ms: u64,
        /// The last log time it is alive unless kept alive.
        expires_at_ms: u64,
    },
    /// A lease was kept alive.
    #[serde(rename = "lease.kept_alive")]
    LeaseKeptAlive {
        /// Its holder.
        holder: Signer,
        /// Its name.
        lease: Name,
        /// Its new deadline.
        expires_at_ms: u64,
    },
    /// A lease ended; the releases of its locks and their handovers follow.
    #[serde(rename = "lease.ended")]
    LeaseEnded {
        /// Its holder.
        holder: Signer,
        /// Its name.
        lease: Name,
        /// Revoked, expired, or its holder fell silent or was deregistered.
        reason: LeaseEnd,
    },
    /// A lock request joined the lock's queue.
    #[serde(rename = "lock.queued")]
    LockQueued {
        /// The lock.
        lock: Name,
        /// Who waits.
        holder: Signer,
        /// The lease it waits through.
        lease: Name,
        /// The mode it asked for.
        mode: LockMode,
        /// Its place in the queue, from 1.
        position: u32,
    },
    /// A lock was granted: at once, or (`waited`) handed over to a waiter as holders left.
    #[serde(rename = "lock.granted")]
    LockGranted {
        /// The lock.
        lock: Name,
        /// The new holder.
        holder: Signer,
        /// The lease it holds the lock through.
        lease: Name,
        /// Alone or shared.
        mode: LockMode,
        /// Above every token granted on this lock before.
        fencing_token: u64,
        /// Whether it waited in the queue.
        waited: bool,
    },
    /// A holder stopped holding a lock.
    #[serde(rename = "lock.released")]
    LockReleased {
        /// The lock.
        lock: Name,
        /// The former holder.
        holder: Signer,
        /// The lease it held the lock through.
        lease: Name,
        /// The token its grant carried, no longer valid.
        fencing_token: u64,
        /// Released, or its lease ended.
        reason: LockRelease,
    },
    /// A waiter left a lock's queue without being granted.
    #[serde(rename = "lock.left_queue")]
    LockLeftQueue {
        /// The lock.
        lock: Name,
        /// The former waiter.
        holder: Signer,
        /// The lease it waited through.
        lease: Name,
        /// It gave up, or its lease ended.
        reason: LockRelease,
    },
    /// A candidate joined an election's queue behind the leader and earlier candidates.
    #[serde(rename = "election.campaigning")]
    ElectionCampaigning {
        /// The election.
        election: Name,
        /// Who stands.
        candidate: Signer,
        /// The lease it stands through.
        lease: Name,
        /// Its place among the candidates, from 1.
        position: u32,
    },
    /// An election has a new leader: at once, or (`waited`) as the previous leader's term ended.
    #[serde(rename = "election.leader")]
    ElectionLeader {
        /// The election.
        election: Name,
        /// The new leader.
        leader: Signer,
        /// The lease it leads through.
        lease: Name,
        /// Its term: above every term of this election before, and a fencing token.
        term: u64,
        /// Whether it waited as a candidate.
        waited: bool,
    },
    /// A leader's term ended: it resigned, or its lease ended (revoked, expired, holder silent or
    /// deregistered). `election.leader` follows in the same entry when a candidate waits.
    #[serde(rename = "election.term_ended")]
    ElectionTermEnded {
        /// The election.
        election: Name,
        /// The former leader.
        leader: Signer,
        /// The lease it led through.
        lease: Name,
        /// The term that ended.
        term: u64,
        /// Resigned, or its lease ended.
        reason: LockRelease,
    },
    /// A candidate left an election's queue without being elected.
    #[serde(rename = "election.withdrawn")]
    ElectionWithdrawn {
        /// The election.
        election: Name,
        /// The former candidate.
        candidate: Signer,
        /// The lease it stood through.
        lease: Name,
        /// It resigned, or its lease ended.
        reason: LockRelease,
    },
    /// A barrier was made.
    #[serde(rename = "barrier.created")]
    BarrierCreated {
        /// The barrier.
        barrier: Name,
        /// Who made it.
        creator: Signer,
        /// Arrivals that trip it.
        parties: u32,
        /// How long a generation waits after its first arrival.
        timeout_ms: u64,
    },
    /// A party arrived at a barrier; when it completes the count, `barrier.tripped` follows.
    #[serde(rename = "barrier.arrived")]
    BarrierArrived {
        /// The barrier.
        barrier: Name,
        /// Who arrived.
        party: Signer,
        /// The generation it arrived in.
        generation: u64,
        /// Parties arrived in this generation, this one included.
        arrived: u32,
        /// Arrivals that trip it.
        parties: u32,
    },
    /// Every party of a generation arrived: all are released together, and the next generation opens.
    #[serde(rename = "barrier.tripped")]
    BarrierTripped {
        /// The barrier.
        barrier: Name,
        /// The generation that tripped.
        generation: u64,
        /// The parties released.
        parties: u32,
    },
    /// A generation broke with parties waiting: they go on knowing the others did not all come.
    #[serde(rename = "barrier.broken")]
    BarrierBroken {
        /// The barrier.
        barrier: Name,
        /// The generation that broke.
        generation: u64,
        /// Timed out, a waiting party's lease ended, or it was reset or removed.
        reason: BarrierBreak,
        /// Parties that were waiting.
        arrived: u32,
    },
    /// A barrier's creator or the operator opened its next generation.
    #[serde(rename = "barrier.reset")]
    BarrierReset {
        /// The barrier.
        barrier: Name,
        /// The generation now open.
        generation: u64,
    },
    /// A barrier was removed.
    #[serde(rename = "barrier.removed")]
    BarrierRemoved {
        /// The barrier.
        barrier: Name,
    },
    /// A vote-based election was made.
    #[serde(rename = "vote_election.created")]
    VoteElectionCreated {
        /// The election.
        election: Name,
        /// Who made it.
        creator: Signer,
        /// Its members.
        members: u32,
    },
    /// A member opened a round: the term went up by one, and the last leader's term ended.
    #[serde(rename = "vote_election.round_opened")]
    VoteRoundOpened {
        /// The election.
        election: Name,
        /// The term it elects for.
        term: u64,
        /// The member that opened it.
        by: AgentId,
        /// The members healthy when it opened: they vote and may be chosen.
        candidates: u32,
        /// The votes a candidate needs: more than half of `candidates`.
        majority: u32,
        /// The last log time it stays open.
        deadline_ms: u64,
    },
    /// A candidate voted.
    #[serde(rename = "vote_election.voted")]
    VoteCast {
        /// The election.
        election: Name,
        /// The round's term.
        term: u64,
        /// Who voted.
        voter: AgentId,
        /// For whom.
        candidate: AgentId,
        /// The votes that candidate holds now.
        votes: u32,
    },
    /// A candidate won more than half of the candidates' votes: it leads for the term.
    #[serde(rename = "vote_election.elected")]
    VoteLeaderElected {
        /// The election.
        election: Name,
        /// The leader.
        leader: AgentId,
        /// Its term, a fencing token higher than every earlier leader's.
        term: u64,
        /// The votes it won with.
        votes: u32,
        /// Candidates in its round.
        candidates: u32,
    },
    /// A round's timeout passed without a majority: no leader for its term; a member opens the next.
    #[serde(rename = "vote_election.round_failed")]
    VoteRoundFailed {
        /// The election.
        election: Name,
        /// The term that elected nobody.
        term: u64,
        /// Votes cast in it.
        votes: u32,
    },
    /// The leader fell silent or was deregistered: it leads no more, and the members open a round.
    #[serde(rename = "vote_election.leader_lost")]
    VoteLeaderLost {
        /// The election.
        election: Name,
        /// The leader lost.
        leader: AgentId,
        /// Its term.
        term: u64,
    },
    /// A vote-based election was deleted.
    #[serde(rename = "vote_election.deleted")]
    VoteElectionDeleted {
        /// The election.
        election: Name,
        /// Who deleted it.
        by: Signer,
    },
    /// A namespace of the key-value store was created.
    #[serde(rename = "kv.namespace_created")]
    KvNamespaceCreated {
        /// The namespace.
        namespace: Name,
        /// Its creator.
        by: Signer,
        /// The revision of its creation: a watch may start from it.
        revision: u64,
    },
    /// Who may read or write a namespace changed.
    #[serde(rename = "kv.namespace_configured")]
    KvNamespaceConfigured {
        /// The namespace.
        namespace: Name,
        /// Its creator or the operator.
        by: Signer,
    },
    /// A namespace was deleted with its keys.
    #[serde(rename = "kv.namespace_deleted")]
    KvNamespaceDeleted {
        /// The namespace.
        namespace: Name,
        /// Its creator or the operator.
        by: Signer,
        /// Keys it still held.
        keys: u32,
    },
    /// A value was stored. Events never carry values, since every reader of the event stream sees
    /// them; the key is named only when every registered agent may read the namespace.
    #[serde(rename = "kv.put")]
    KvPut {
        /// The namespace.
        namespace: Name,
        /// The key, unless the namespace's readers are restricted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<StoreKey>,
        /// The put's revision.
        revision: u64,
        /// The key's version after it.
        version: u64,
        /// The writer.
        by: Signer,
    },
    /// A key was deleted.
    #[serde(rename = "kv.deleted")]
    KvDeleted {
        /// The namespace.
        namespace: Name,
        /// The key, unless the namespace's readers are restricted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<StoreKey>,
        /// The deletion's revision.
        revision: u64,
        /// The writer.
        by: Signer,
    },
}

impl EventKind {
    /// Every event's name, as `name` returns it (checked by the testkit's coverage test and the
    /// OpenAPI test, like `Command::KINDS`).
    pub const NAMES: &'static [&'static str] = &[
        "swarm.genesis",
        "config.changed",
        "agent.registered",
        "agent.updated",
        "agent.unresponsive",
        "agent.active",
        "agent.halted",
        "agent.resumed",
        "agent.deregistered",
        "read_token.issued",
        "read_token.revoked",
        "ledger.transfer",
        "escrow.locked",
        "escrow.extended",
        "escrow.disputed",
        "escrow.settled",
        "wallet.configured",
        "agent.budget_halted",
        "agent.budget_restored",
        "stream.created",
        "stream.deleted",
        "stream.messages_discarded",
        "consumer.created",
        "consumer.deleted",
        "message.dead_lettered",
        "dead_letter.replayed",
        "task.announced",
        "task.opened",
        "task.bid",
        "task.bid_withdrawn",
        "task.awarded",
        "task.accepted",
        "task.progress",
        "task.submitted",
        "task.verified",
        "task.attempt_ended",
        "task.ended",
        "task.capacity_declared",
        "proposal.created",
        "proposal.amended",
        "proposal.cancelled",
        "ballot.cast",
        "proposal.closed",
        "pheromone.map_created",
        "pheromone.map_configured",
        "pheromone.map_deleted",
        "pheromone.deposited",
        "proposal.executed",
        "proposal.action_failed",
        "governance.bootstrap_ended",
        "ledger.penalized",
        "jury.opened",
        "jury.settled",
        "lease.granted",
        "lease.kept_alive",
        "lease.ended",
        "lock.queued",
        "lock.granted",
        "lock.released",
        "lock.left_queue",
        "election.campaigning",
        "election.leader",
        "election.term_ended",
        "election.withdrawn",
        "barrier.created",
        "barrier.arrived",
        "barrier.tripped",
        "barrier.broken",
        "barrier.reset",
        "barrier.removed",
        "vote_election.created",
        "vote_election.round_opened",
        "vote_election.voted",
        "vote_election.elected",
        "vote_election.round_failed",
        "vote_election.leader_lost",
        "vote_election.deleted",
        "kv.namespace_created",
        "kv.namespace_configured",
        "kv.namespace_deleted",
        "kv.put",
        "kv.deleted",
    ];

    /// The stable name of the event, as in its JSON `type`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Genesis {} => "swarm.genesis",
            EventKind::ConfigChanged {} => "config.changed",
            EventKind::AgentRegistered { .. } => "agent.registered",
            EventKind::AgentUpdated { .. } => "agent.updated",
            EventKind::AgentUnresponsive { .. } => "agent.unresponsive",
            EventKind::AgentActive { .. } => "agent.active",
            EventKind::AgentHalted { .. } => "agent.halted",
            EventKind::AgentResumed { .. } => "agent.resumed",
            EventKind::AgentDeregistered { .. } => "agent.deregistered",
            EventKind::ReadTokenIssued { .. } => "read_token.issued",
            EventKind::ReadTokenRevoked { .. } => "read_token.revoked",
            EventKind::TransferPosted { .. } => "ledger.transfer",
            EventKind::EscrowLocked { .. } => "escrow.locked",
            EventKind::EscrowExtended { .. } => "escrow.extended",
            EventKind::EscrowDisputed { .. } => "escrow.disputed",
            EventKind::EscrowSettled { .. } => "escrow.settled",
            EventKind::WalletConfigured { .. } => "wallet.configured",
            EventKind::AgentBudgetHalted { .. } => "agent.budget_halted",
            EventKind::AgentBudgetRestored { .. } => "agent.budget_restored",
            EventKind::StreamCreated { .. } => "stream.created",
            EventKind::StreamDeleted { .. } => "stream.deleted",
            EventKind::MessagesDiscarded { .. } => "stream.messages_discarded",
            EventKind::ConsumerCreated { .. } => "consumer.created",
            EventKind::ConsumerDeleted { .. } => "consumer.deleted",
            EventKind::MessageDeadLettered { .. } => "message.dead_lettered",
            EventKind::DeadLetterReplayed { .. } => "dead_letter.replayed",
            EventKind::TaskAnnounced { .. } => "task.announced",
            EventKind::TaskOpened { .. } => "task.opened",
            EventKind::TaskBid { .. } => "task.bid",
            EventKind::TaskBidWithdrawn { .. } => "task.bid_withdrawn",
            EventKind::TaskAwarded { .. } => "task.awarded",
            EventKind::TaskAccepted { .. } => "task.accepted",
            EventKind::TaskProgress { .. } => "task.progress",
            EventKind::TaskSubmitted { .. } => "task.submitted",
            EventKind::TaskVerified { .. } => "task.verified",
            EventKind::TaskAttemptEnded { .. } => "task.attempt_ended",
            EventKind::TaskEnded { .. } => "task.ended",
            EventKind::TaskCapacityDeclared { .. } => "task.capacity_declared",
            EventKind::ProposalCreated { .. } => "proposal.created",
            EventKind::ProposalAmended { .. } => "proposal.amended",
            EventKind::ProposalCancelled { .. } => "proposal.cancelled",
            EventKind::BallotCast { .. } => "ballot.cast",
            EventKind::ProposalClosed { .. } => "proposal.closed",
            EventKind::PheromoneMapCreated { .. } => "pheromone.map_created",
            EventKind::PheromoneMapConfigured { .. } => "pheromone.map_configured",
            EventKind::PheromoneMapDeleted { .. } => "pheromone.map_deleted",
            EventKind::PheromoneDeposited { .. } => "pheromone.deposited",
            EventKind::ProposalExecuted { .. } => "proposal.executed",
            EventKind::ProposalActionFailed { .. } => "proposal.action_failed",
            EventKind::BootstrapEnded {} => "governance.bootstrap_ended",
            EventKind::AgentPenalized { .. } => "ledger.penalized",
            EventKind::JuryOpened { .. } => "jury.opened",
            EventKind::JurySettled { .. } => "jury.settled",
            EventKind::LeaseGranted { .. } => "lease.granted",
            EventKind::LeaseKeptAlive { .. } => "lease.kept_alive",
            EventKind::LeaseEnded { .. } => "lease.ended",
            EventKind::LockQueued { .. } => "lock.queued",
            EventKind::LockGranted { .. } => "lock.granted",
            EventKind::LockReleased { .. } => "lock.released",
            EventKind::LockLeftQueue { .. } => "lock.left_queue",
            EventKind::ElectionCampaigning { .. } => "election.campaigning",
            EventKind::ElectionLeader { .. } => "election.leader",
            EventKind::ElectionTermEnded { .. } => "election.term_ended",
            EventKind::ElectionWithdrawn { .. } => "election.withdrawn",
            EventKind::BarrierCreated { .. } => "barrier.created",
            EventKind::BarrierArrived { .. } => "barrier.arrived",
            EventKind::BarrierTripped { .. } => "barrier.tripped",
            EventKind::BarrierBroken { .. } => "barrier.broken",
            EventKind::BarrierReset { .. } => "barrier.reset",
            EventKind::BarrierRemoved { .. } => "barrier.removed",
            EventKind::VoteElectionCreated { .. } => "vote_election.created",
            EventKind::VoteRoundOpened { .. } => "vote_election.round_opened",
            EventKind::VoteCast { .. } => "vote_election.voted",
            EventKind::VoteLeaderElected { .. } => "vote_election.elected",
            EventKind::VoteRoundFailed { .. } => "vote_election.round_failed",
            EventKind::VoteLeaderLost { .. } => "vote_election.leader_lost",
            EventKind::VoteElectionDeleted { .. } => "vote_election.deleted",
            EventKind::KvNamespaceCreated { .. } => "kv.namespace_created",
            EventKind::KvNamespaceConfigured { .. } => "kv.namespace_configured",
            EventKind::KvNamespaceDeleted { .. } => "kv.namespace_deleted",
            EventKind::KvPut { .. } => "kv.put",
            EventKind::KvDeleted { .. } => "kv.deleted",
        }
    }
}
