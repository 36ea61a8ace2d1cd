//! Part 8: coordination. The leader of the order desk dies, and the candidate queued behind it is
//! elected when the leader's lease ends by log time, in a higher term; then five agents that each summarise
//! one stock's real prices meet at a barrier and go on together, and a second meeting, which one of
//! them misses, breaks at its timeout and tells the four that came; last, the five elect the desk's
//! lead by votes, each for the other party whose stock rose most.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use colony_client::{Client, LockAcquired};
use colony_core::coordination::BarrierBreak;
use colony_core::{AgentId, Name, Signer};

use super::market::Market;
use super::{DemoResult, step};

/// The dying leader's lease: a second, the shortest there is, so the handover comes quickly.
pub const LEASE_TTL_MS: u64 = 1_000;

/// The longest a handover may take after the leader's last keep-alive: its TTL and a tenth of a
/// second for the driver's tick and the election.
const HANDOVER_BOUND_MS: u64 = LEASE_TTL_MS + 100;

/// The parties of the meetings, each summarising one ticker.
const PARTIES: [&str; 5] = ["scout-1", "scout-2", "executor-1", "executor-2", "risk-1"];

/// How long a meeting waits after its first arrival before it breaks.
pub const BARRIER_TIMEOUT_MS: u64 = 2_000;

/// Trading days each party summarises.
const DAYS: usize = 60;

/// The election's handover.
pub struct Handover {
    /// The first leader's term.
    pub first_term: u64,
    /// The next leader's, above it.
    pub next_term: u64,
    /// Log time from the dead leader's last keep-alive to the next leader's election.
    pub handover_ms: u64,
}

/// One party of the first meeting.
pub struct Party {
    /// The agent.
    pub agent: &'static str,
    /// The ticker it summarised.
    pub ticker: String,
    /// The ticker's move over [`DAYS`] days, in basis points.
    pub return_bps: i64,
    /// Its place among the arrivals, from 1.
    pub arrived: u32,
    /// Wall time from its arrival to its release.
    pub waited: Duration,
}

/// The vote-based election of the desk's lead among the meeting's parties.
pub struct DeskVote {
    /// The agent elected.
    pub leader: String,
    /// Its ticker and that ticker's move, in basis points.
    pub ticker: String,
    /// The move.
    pub return_bps: i64,
    /// The term it was elected for.
    pub term: u64,
    /// The votes that elected it, and the candidates.
    pub votes: u32,
    /// Candidates in the round.
    pub candidates: u32,
}

/// What the part did, for the report.
pub struct CoordinationReport {
    /// The election's handover.
    pub handover: Handover,
    /// The first meeting's parties, in arrival order.
    pub meeting: Vec<Party>,
    /// The second meeting: how many came before it broke, and why it broke.
    pub missed: (u32, BarrierBreak),
    /// The desk lead the parties voted for.
    pub vote: DeskVote,
}

/// Runs the part with the swarm's members, by id.
pub async fn run(clients: &BTreeMap<String, Client>) -> DemoResult<CoordinationReport> {
    let client = |id: &str| clients.get(id).cloned().ok_or_else(|| format!("{id} is not in the swarm"));
    for party in PARTIES {
        // Heartbeats stopped after part 2: each party is heard from again before it takes a lease.
        client(party)?.heartbeat().await?;
    }
    let handover = hand_over(&client("executor-1")?, &client("executor-2")?).await?;
    let clients: Vec<(&'static str, Client)> =
        PARTIES.iter().map(|party| Ok((*party, client(party)?))).collect::<DemoResult<_>>()?;
    let (meeting, missed) = meet(&clients).await?;
    let vote = elect_desk_lead(&clients, &meeting).await?;
    let report = CoordinationReport { handover, meeting, missed, vote };
    step(
        16,
        &format!(
            "coordination: executor-1 led the order desk (term {}) through a {LEASE_TTL_MS} ms lease and died; \
             executor-2, the next candidate, was elected {} ms of log time after executor-1's last keep-alive \
             (term {}); then {} agents summarised {DAYS} real trading days each and met at a barrier, released together; at the \
             next meeting risk-1 did not come, and the barrier broke after {BARRIER_TIMEOUT_MS} ms, telling the {} \
             that had (`{}`); then the {} voted for a desk lead, each for the other party whose stock rose most, \
             and {} ({}) was elected in term {} by {} of {} votes",
            report.handover.first_term,
            report.handover.handover_ms,
            report.handover.next_term,
            report.meeting.len(),
            report.missed.0,
            break_name(report.missed.1),
            report.vote.candidates,
            report.vote.leader,
            report.vote.ticker.to_uppercase(),
            report.vote.term,
            report.vote.votes,
            report.vote.candidates,
        ),
    );
    Ok(report)
}

/// The name of a break's reason, as the events and the API spell it.
pub fn break_name(reason: BarrierBreak) -> String {
    serde_json::to_value(reason).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

/// executor-1 is elected leader through a short lease and stops keeping it alive; executor-2
/// campaigns behind it.
async fn hand_over(leader: &Client, candidate: &Client) -> DemoResult<Handover> {
    let (election, lease) = (Name::new("order-desk")?, Name::new("desk")?);
    let expires_at_ms = leader.grant_lease(lease.clone(), LEASE_TTL_MS).await?;
    let first_term = match leader.campaign(election.clone(), lease.clone()).await? {
        LockAcquired::Granted { fencing_token } => fencing_token,
        LockAcquired::Queued { .. } => return Err("the order desk already had a leader".into()),
    };
    candidate.grant_lease(lease.clone(), 30_000).await?;
    if !matches!(candidate.campaign(election.clone(), lease.clone()).await?, LockAcquired::Queued { .. }) {
        return Err("executor-2 was elected while executor-1 led".into());
    }
    let next = Signer::Agent(AgentId::new("executor-2")?);
    let deadline = Instant::now() + Duration::from_secs(10);
    let elected = loop {
        let view = candidate.election(&election).await?;
        if let Some(leader) = view.leader.filter(|leader| leader.leader == next) {
            break leader;
        }
        if Instant::now() > deadline {
            return Err("executor-2 was never elected after executor-1 died".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let handover_ms = elected.elected_at_ms.saturating_sub(expires_at_ms - LEASE_TTL_MS);
    if elected.term <= first_term || handover_ms > HANDOVER_BOUND_MS {
        return Err(format!("the handover took {handover_ms} ms, to term {}", elected.term).into());
    }
    candidate.resign(election).await?;
    candidate.revoke_lease(lease, None).await?;
    Ok(Handover { first_term, next_term: elected.term, handover_ms })
}

/// Two meetings at one barrier: all five, then four.
async fn meet(parties: &[(&'static str, Client)]) -> DemoResult<(Vec<Party>, (u32, BarrierBreak))> {
    let (barrier, lease) = (Name::new("close-of-day")?, Name::new("meeting")?);
    let members: Vec<AgentId> = parties.iter().map(|(agent, _)| AgentId::new(*agent)).collect::<Result<_, _>>()?;
    let (_, creator) = &parties[parties.len() - 1];
    creator.create_barrier(barrier.clone(), parties.len() as u32, BARRIER_TIMEOUT_MS, Some(members)).await?;
    for (_, client) in parties {
        client.grant_lease(lease.clone(), 60_000).await?;
    }
    let market = Market::load()?;
    let tickers: Vec<String> = market.bars(DAYS).keys().take(parties.len()).cloned().collect();
    let mut waiting = Vec::new();
    for (index, ((agent, client), ticker)) in parties.iter().zip(tickers).enumerate() {
        let first = market.bars(0).get(&ticker).ok_or_else(|| format!("no {ticker} price on the first day"))?.close;
        let last = market.bars(DAYS)[&ticker].close;
        let return_bps = (last - first) * 10_000 / first;
        let (agent, client, barrier, lease) = (*agent, client.clone(), barrier.clone(), lease.clone());
        waiting.push(tokio::spawn(async move {
            // Each party works for a different time before it arrives.
            tokio::time::sleep(Duration::from_millis(40 * index as u64)).await;
            let arrival = client.arrive_at_barrier(barrier.clone(), lease).await?;
            let arrived_at = Instant::now();
            released(&client, &barrier, arrival.generation).await?;
            let waited = arrived_at.elapsed();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Party {
                agent,
                ticker,
                return_bps,
                arrived: arrival.arrived,
                waited,
            })
        }));
    }
    let mut meeting = Vec::new();
    for party in waiting {
        meeting.push(party.await??);
    }
    meeting.sort_by_key(|party| party.arrived);

    // The second meeting: the last party does not come.
    for (_, client) in &parties[..parties.len() - 1] {
        client.arrive_at_barrier(barrier.clone(), lease.clone()).await?;
    }
    let deadline = Instant::now() + Duration::from_millis(BARRIER_TIMEOUT_MS) + Duration::from_secs(10);
    let broken = loop {
        let view = creator.barrier(&barrier).await?;
        if let Some(reason) = view.broken {
            break reason;
        }
        if Instant::now() > deadline {
            return Err("the second meeting never broke".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    creator.remove_barrier(barrier).await?;
    for (_, client) in parties {
        client.revoke_lease(lease.clone(), None).await?;
    }
    Ok((meeting, ((parties.len() - 1) as u32, broken)))
}

/// The parties elect the desk's lead by votes (seed 004's vote-based election): each votes for the
/// other party whose stock rose most over the days summarised, and the vote that passes half of the
/// five elects. The parties vote in arrival order until one is elected.
async fn elect_desk_lead(parties: &[(&'static str, Client)], meeting: &[Party]) -> DemoResult<DeskVote> {
    let election = Name::new("desk-lead")?;
    let members: Vec<AgentId> = parties.iter().map(|(agent, _)| AgentId::new(*agent)).collect::<Result<_, _>>()?;
    let (_, creator) = &parties[parties.len() - 1];
    creator.create_vote_election(election.clone(), members, 10_000).await?;
    let (_, opener) = &parties[0];
    opener.start_vote_round(election.clone()).await?;
    let term = opener.vote_election(&election).await?.term;
    let best_other = |voter: &str| {
        meeting.iter().filter(|party| party.agent != voter).max_by_key(|party| (party.return_bps, party.agent))
    };
    for party in meeting {
        let choice = best_other(party.agent).ok_or("a meeting of one")?;
        let client = &parties.iter().find(|(agent, _)| *agent == party.agent).ok_or("a party left")?.1;
        client.vote_in_election(election.clone(), term, AgentId::new(choice.agent)?).await?;
        let view = client.vote_election(&election).await?;
        if let Some(leader) = view.leader {
            let elected = meeting.iter().find(|party| party.agent == leader.agent.as_str()).ok_or("a stranger led")?;
            creator.delete_vote_election(election).await?;
            return Ok(DeskVote {
                leader: leader.agent.to_string(),
                ticker: elected.ticker.clone(),
                return_bps: elected.return_bps,
                term: leader.term,
                votes: leader.votes,
                candidates: leader.candidates,
            });
        }
    }
    Err("every party voted and nobody was elected".into())
}

/// Waits until the generation the party arrived in has tripped.
async fn released(client: &Client, barrier: &Name, generation: u64) -> DemoResult<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let view = client.barrier(barrier).await?;
        if view.last_tripped_generation >= generation {
            return Ok(());
        }
        if view.broken.is_some() || Instant::now() > deadline {
            return Err(format!("the meeting at {barrier} broke or never came together").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
