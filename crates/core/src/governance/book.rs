//! Governance's state: proposals, their frozen electorates and ballots, and the chain of seals.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ballot::{Ballot, Choice, Quorum, VoteType};
use super::seal::{SealInput, seal};
use super::tally::{Outcome, Tally};
use crate::ids::{AgentId, Digest, Name, Signer};
use crate::limits;

/// Where a proposal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    /// Taking ballots until its deadline, a settled outcome or a veto.
    Open,
    /// Decided: the decision and its seal are on the proposal.
    Closed,
    /// Withdrawn by its proposer or the operator before it closed; never sealed.
    Cancelled,
}

impl ProposalState {
    /// The state's name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ProposalState::Open => "open",
            ProposalState::Closed => "closed",
            ProposalState::Cancelled => "cancelled",
        }
    }
}

/// Who may vote, as the proposer asked; resolved to a list of voters when the proposal is created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Eligibility {
    /// Every agent active when the proposal is created (registered, not halted, heartbeating).
    #[default]
    AllActive,
    /// The agents of these roles (1 to `ROLES_MAX`) active when the proposal is created.
    Roles(BTreeSet<Name>),
    /// These agents (1 to `ELECTORATE_MAX`), whatever their state (each must be registered and not
    /// deregistered).
    Agents(BTreeSet<AgentId>),
}

/// Where each voter's weight comes from, read once when the proposal is created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WeightSource {
    /// The configuration's weight for the voter's role (seed 001's role weights by default).
    #[default]
    Role,
    /// The voter's own registered weight: its role's, unless the operator set another.
    Agent,
    /// One each (`1000000` millionths).
    Equal,
}

/// A voter and the weight frozen for it, in millionths.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Voter {
    /// The voter.
    pub agent: AgentId,
    /// Its weight, in millionths.
    pub weight: u64,
}

/// What the voters are asked and how it is decided; changed only by `proposal.amend`, before the
/// first ballot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProposalTerms {
    /// One line.
    pub title: String,
    /// More, if given.
    pub description: Option<String>,
    /// How ballots become an outcome.
    pub vote_type: VoteType,
    /// How many must take part.
    pub quorum: Quorum,
    /// Who may vote, as asked.
    pub eligible: Eligibility,
    /// Where the weights came from.
    pub weight_source: WeightSource,
    /// Agents any one of whom may veto the proposal while it is open.
    pub veto_holders: BTreeSet<AgentId>,
    /// Ballots are taken through this log time; the first entry after it closes the proposal.
    pub closes_at_ms: u64,
    /// The commands the close that approves it runs (none for a question without an action).
    #[serde(default, with = "super::action::stored")]
    #[schemars(with = "Vec<crate::command::Command>")]
    pub action: Vec<crate::command::Command>,
}

/// A voter's live ballot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LiveBallot {
    /// What it chose.
    pub choice: Choice,
    /// The entry that cast it (or last changed it).
    pub sequence: u64,
    /// When (log time).
    pub cast_at_ms: u64,
}

/// What closed a proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Closure {
    /// Its deadline passed.
    Deadline,
    /// The voters yet to vote could no longer change the outcome.
    Settled,
    /// A veto holder vetoed it: the outcome is `rejected`, whatever the ballots say.
    Vetoed {
        /// The veto holder.
        by: AgentId,
    },
}

/// How a proposal was decided, sealed into the chain of decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Decision {
    /// The outcome: the tally's, or `rejected` after a veto.
    pub outcome: Outcome,
    /// The tally of the ballots at the close.
    pub tally: Tally,
    /// What closed it.
    pub closure: Closure,
    /// The entry that closed it.
    pub sequence: u64,
    /// When (log time).
    pub closed_at_ms: u64,
    /// The seal before this one in the chain (all zeros for the first decision).
    pub previous_seal: Digest,
    /// SHA-256 over the decision's canonical encoding and `previous_seal` (see `seal.rs`).
    pub seal: Digest,
    /// Its position in the chain of seals, from 1.
    pub chain_position: u64,
    /// What became of its action: set exactly when it was approved with one.
    #[serde(default)]
    pub action_result: Option<super::action::ActionResult>,
}

/// What a new proposal is made of, before it has a number, ballots or a state.
pub(crate) struct Opening {
    pub proposer: Signer,
    pub proposal_id: Name,
    pub creation: Digest,
    pub terms: ProposalTerms,
    pub electorate: Vec<Voter>,
    pub jury: Option<super::jury::Jury>,
}

/// One proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Proposal {
    /// Assigned by governance, increasing.
    pub id: u64,
    /// Who created it.
    pub proposer: Signer,
    /// The proposer's own id for it (creating it again returns it).
    pub proposal_id: Name,
    /// SHA-256 of the creating command, to tell a repeated create from a conflicting one.
    pub creation: Digest,
    /// What is asked and how it is decided.
    pub terms: ProposalTerms,
    /// The voters, by id, with their weights: frozen at creation.
    pub electorate: Vec<Voter>,
    /// Live ballots by the voter's position in the electorate.
    pub ballots: BTreeMap<u32, LiveBallot>,
    /// Where it stands.
    pub state: ProposalState,
    /// When it was created (log time).
    pub created_at_ms: u64,
    /// Amendments so far.
    pub amendments: u32,
    /// When it closed or was cancelled.
    pub ended_at_ms: Option<u64>,
    /// The decision, once closed.
    pub decision: Option<Decision>,
    /// The dispute it judges, when the swarm opened it as a jury.
    #[serde(default)]
    pub jury: Option<super::jury::Jury>,
}

impl Proposal {
    /// A voter's position in the electorate.
    pub fn voter_position(&self, agent: &AgentId) -> Option<u32> {
        let position = self.electorate.binary_search_by(|voter| voter.agent.cmp(agent)).ok()?;
        Some(u32::try_from(position).expect("electorates are bounded far below u32"))
    }

    /// The electorate's weights, by position, as `tally` takes them.
    pub fn weights(&self) -> Vec<u64> {
        self.electorate.iter().map(|voter| voter.weight).collect()
    }

    /// The live ballots in voter order, as `tally` takes them.
    pub fn tally_ballots(&self) -> Vec<Ballot> {
        self.ballots.iter().map(|(&voter, cast)| Ballot { voter, choice: cast.choice.clone() }).collect()
    }

    /// The ballots in voter order as a seal covers them: the voter, its weight, its choice and the
    /// entry that cast it.
    pub fn sealed_ballots(&self) -> Vec<(&Voter, &LiveBallot)> {
        self.ballots.iter().map(|(&voter, cast)| (&self.electorate[voter as usize], cast)).collect()
    }

    /// The seal of this proposal's decision recomputed from the proposal as stored, or `None` while
    /// it is undecided. Equal to `decision.seal` for every stored proposal.
    pub fn recompute_seal(&self) -> Option<Digest> {
        let decision = self.decision.as_ref()?;
        Some(seal(&SealInput::of(self, decision)))
    }
}

/// Governance's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Governance {
    /// Boxed: a proposal holds its electorate, and map nodes stay small.
    pub(crate) proposals: BTreeMap<u64, Box<Proposal>>,
    pub(crate) next_proposal: u64,
    /// `(proposer, proposal id)` → proposal, for idempotent creates.
    pub(crate) by_proposer: BTreeMap<(Signer, Name), u64>,
    /// `(closes_at_ms, proposal)` for every open proposal.
    pub(crate) deadlines: BTreeSet<(u64, u64)>,
    /// Open proposals per proposer (bounded by `OPEN_PROPOSALS_PER_PROPOSER_MAX`).
    pub(crate) open_per_proposer: BTreeMap<Signer, u32>,
    /// Ended proposals in id order, the candidates for eviction past the retention limit.
    pub(crate) ended: BTreeSet<u64>,
    /// The newest seal: every decision's seal covers the one before, so this covers them all.
    pub(crate) seal_head: Digest,
    /// Decisions sealed so far, forgotten proposals included.
    pub(crate) seals: u64,
    /// When the operator ended bootstrap (log time); `None` while the operator may still act alone on
    /// guarded kinds.
    pub(crate) bootstrap_ended_at_ms: Option<u64>,
    /// Open juries by the party whose dispute opened them (bounded by `OPEN_JURIES_PER_DISPUTER_MAX`);
    /// juries are not counted against their proposer, the operator.
    pub(crate) open_juries: BTreeMap<AgentId, u32>,
}

impl Default for Governance {
    fn default() -> Governance {
        Governance {
            proposals: BTreeMap::new(),
            next_proposal: 0,
            by_proposer: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            open_per_proposer: BTreeMap::new(),
            ended: BTreeSet::new(),
            seal_head: Digest([0; 32]),
            seals: 0,
            bootstrap_ended_at_ms: None,
            open_juries: BTreeMap::new(),
        }
    }
}

impl Governance {
    /// One proposal.
    pub fn proposal(&self, id: u64) -> Option<&Proposal> {
        self.proposals.get(&id).map(|proposal| &**proposal)
    }

    /// A proposer's proposal by its own proposal id.
    pub fn proposal_by_proposer(&self, proposer: &Signer, proposal_id: &Name) -> Option<&Proposal> {
        self.by_proposer.get(&(proposer.clone(), proposal_id.clone())).and_then(|id| self.proposal(*id))
    }

    /// Every retained proposal in id order.
    pub fn proposals(&self) -> impl DoubleEndedIterator<Item = &Proposal> {
        self.proposals.values().map(|proposal| &**proposal)
    }

    /// Proposals with ids above `after`, in id order.
    pub fn proposals_after(&self, after: u64) -> impl Iterator<Item = &Proposal> {
        self.proposals.range(after.saturating_add(1)..).map(|(_, proposal)| &**proposal)
    }

    /// Proposals open now.
    pub fn open_proposals(&self) -> usize {
        self.deadlines.len()
    }

    /// The newest seal of the chain of decisions (all zeros before the first).
    pub fn seal_head(&self) -> Digest {
        self.seal_head
    }

    /// Decisions sealed so far.
    pub fn seals(&self) -> u64 {
        self.seals
    }

    /// When the operator ended bootstrap (log time), or `None` while it may act alone on guarded kinds.
    pub fn bootstrap_ended_at_ms(&self) -> Option<u64> {
        self.bootstrap_ended_at_ms
    }

    /// The earliest proposal deadline (the proposal closes once log time passes it).
    pub(crate) fn next_deadline_ms(&self) -> Option<u64> {
        self.deadlines.first().map(|(deadline_ms, _)| *deadline_ms)
    }

    /// Opens a new proposal under the next number, which it returns: the one place a proposal is
    /// made, for the commands' proposals and the swarm's juries alike.
    pub(crate) fn open(&mut self, opening: Opening, now_ms: u64) -> u64 {
        let Opening { proposer, proposal_id, creation, terms, electorate, jury } = opening;
        let id = self.next_proposal;
        self.next_proposal += 1;
        self.by_proposer.insert((proposer.clone(), proposal_id.clone()), id);
        match &jury {
            Some(jury) => *self.open_juries.entry(jury.disputer.clone()).or_default() += 1,
            None => *self.open_per_proposer.entry(proposer.clone()).or_default() += 1,
        }
        self.deadlines.insert((terms.closes_at_ms, id));
        let proposal = Proposal {
            id,
            proposer,
            proposal_id,
            creation,
            terms,
            electorate,
            ballots: Default::default(),
            state: ProposalState::Open,
            created_at_ms: now_ms,
            amendments: 0,
            ended_at_ms: None,
            decision: None,
            jury,
        };
        self.proposals.insert(id, Box::new(proposal));
        id
    }

    /// Moves an open proposal's deadline.
    pub(crate) fn move_deadline(&mut self, id: u64, closes_at_ms: u64) {
        let proposal = self.proposals.get_mut(&id).expect("the caller found the proposal");
        assert!(self.deadlines.remove(&(proposal.terms.closes_at_ms, id)), "an open proposal's deadline is indexed");
        proposal.terms.closes_at_ms = closes_at_ms;
        self.deadlines.insert((closes_at_ms, id));
    }

    /// Ends an open proposal: closed with its decision, or cancelled. Unfiles it from the open
    /// indexes and forgets the oldest ended proposals past the retention limit.
    pub(crate) fn end(&mut self, id: u64, now_ms: u64, decision: Option<Decision>) {
        let proposal = self.proposals.get_mut(&id).expect("the caller found the proposal");
        assert_eq!(proposal.state, ProposalState::Open, "only an open proposal ends");
        assert!(self.deadlines.remove(&(proposal.terms.closes_at_ms, id)), "an open proposal's deadline is indexed");
        match &proposal.jury {
            Some(jury) => uncount(&mut self.open_juries, &jury.disputer),
            None => uncount(&mut self.open_per_proposer, &proposal.proposer),
        }
        if let Some(decision) = &decision {
            self.seal_head = decision.seal;
            self.seals += 1;
        }
        proposal.state = if decision.is_some() { ProposalState::Closed } else { ProposalState::Cancelled };
        proposal.decision = decision;
        proposal.ended_at_ms = Some(now_ms);
        self.ended.insert(id);
        while self.ended.len() > limits::PROPOSALS_RETAINED_MAX {
            let oldest = self.ended.pop_first().expect("more than the limit");
            let forgotten = self.proposals.remove(&oldest).expect("ended proposals are stored");
            self.by_proposer.remove(&(forgotten.proposer, forgotten.proposal_id));
        }
    }

    /// Checks the indexes, counts, limits and seals against the proposals.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let mut per_proposer: BTreeMap<&Signer, u32> = BTreeMap::new();
        let mut per_disputer: BTreeMap<&AgentId, u32> = BTreeMap::new();
        let mut open = 0usize;
        for (id, proposal) in &self.proposals {
            if proposal.id != *id || *id >= self.next_proposal {
                return Err(format!("proposal {id} is stored under the wrong id"));
            }
            if self.by_proposer.get(&(proposal.proposer.clone(), proposal.proposal_id.clone())) != Some(id) {
                return Err(format!("proposal {id} is missing from the proposer index"));
            }
            check_proposal(proposal)?;
            let is_open = proposal.state == ProposalState::Open;
            if is_open != self.deadlines.contains(&(proposal.terms.closes_at_ms, *id)) {
                return Err(format!("proposal {id}'s deadline index disagrees with its state"));
            }
            if is_open == self.ended.contains(id) {
                return Err(format!("proposal {id}'s ended index disagrees with its state"));
            }
            if is_open {
                open += 1;
                match &proposal.jury {
                    Some(jury) => *per_disputer.entry(&jury.disputer).or_default() += 1,
                    None => *per_proposer.entry(&proposal.proposer).or_default() += 1,
                }
            }
        }
        if open != self.deadlines.len() || self.by_proposer.len() != self.proposals.len() {
            return Err("governance's indexes hold proposals it does not".to_owned());
        }
        if open > limits::OPEN_PROPOSALS_MAX || self.ended.len() > limits::PROPOSALS_RETAINED_MAX {
            return Err(format!("{open} open and {} ended proposals are past their limits", self.ended.len()));
        }
        let counts_agree = per_proposer.len() == self.open_per_proposer.len()
            && per_proposer.iter().all(|(proposer, count)| self.open_per_proposer.get(*proposer) == Some(count));
        if !counts_agree || per_proposer.values().any(|&count| count as usize > limits::OPEN_PROPOSALS_PER_PROPOSER_MAX)
        {
            return Err("open proposals per proposer disagree with the proposals, or pass the limit".to_owned());
        }
        let juries_agree = per_disputer.len() == self.open_juries.len()
            && per_disputer.iter().all(|(disputer, count)| self.open_juries.get(*disputer) == Some(count));
        if !juries_agree || per_disputer.values().any(|&count| count as usize > limits::OPEN_JURIES_PER_DISPUTER_MAX) {
            return Err("open juries per disputer disagree with the proposals, or pass the limit".to_owned());
        }
        self.check_seal_chain()
    }

    /// The retained decisions link in chain order, the newest is the head, and every seal is
    /// recomputed from its proposal.
    fn check_seal_chain(&self) -> Result<(), String> {
        let mut decisions: Vec<(&Proposal, &Decision)> = self
            .proposals()
            .filter_map(|proposal| proposal.decision.as_ref().map(|decision| (proposal, decision)))
            .collect();
        decisions.sort_by_key(|(_, decision)| decision.chain_position);
        for pair in decisions.windows(2) {
            let (earlier, later) = (pair[0].1, pair[1].1);
            if later.chain_position == earlier.chain_position + 1 && later.previous_seal != earlier.seal {
                return Err(format!("seal {} does not follow seal {}", later.chain_position, earlier.chain_position));
            }
        }
        for (proposal, decision) in &decisions {
            if proposal.recompute_seal() != Some(decision.seal) || decision.chain_position > self.seals {
                return Err(format!("proposal {}'s seal does not recompute from it", proposal.id));
            }
        }
        match decisions.last() {
            Some((_, newest)) if newest.chain_position == self.seals && newest.seal != self.seal_head => {
                Err("the newest decision's seal is not the chain head".to_owned())
            }
            None if self.seals == 0 && self.seal_head != Digest([0; 32]) => {
                Err("a chain without seals has a head".to_owned())
            }
            _ => Ok(()),
        }
    }
}

/// One proposal's own consistency: electorate sorted and bounded, ballots by voters in it, a
/// decision exactly when closed.
fn check_proposal(proposal: &Proposal) -> Result<(), String> {
    let id = proposal.id;
    if proposal.electorate.is_empty() || proposal.electorate.len() > limits::ELECTORATE_MAX {
        return Err(format!("proposal {id} has {} voters", proposal.electorate.len()));
    }
    if proposal.electorate.windows(2).any(|pair| pair[0].agent >= pair[1].agent) {
        return Err(format!("proposal {id}'s electorate is not sorted by id without repeats"));
    }
    if proposal.electorate.iter().any(|voter| voter.weight > u64::from(limits::AGENT_WEIGHT_MAX)) {
        return Err(format!("proposal {id} has a voter above the weight limit"));
    }
    if proposal.ballots.keys().next_back().is_some_and(|&last| last as usize >= proposal.electorate.len()) {
        return Err(format!("proposal {id} has a ballot from outside its electorate"));
    }
    let decided = proposal.decision.is_some();
    let consistent = match proposal.state {
        ProposalState::Open => !decided && proposal.ended_at_ms.is_none(),
        ProposalState::Closed => decided && proposal.ended_at_ms.is_some(),
        ProposalState::Cancelled => !decided && proposal.ended_at_ms.is_some(),
    };
    if !consistent {
        return Err(format!("proposal {id} is {} with decision {decided}", proposal.state.name()));
    }
    if let Some(decision) = &proposal.decision {
        let runs = decision.outcome == super::tally::Outcome::Approved && !proposal.terms.action.is_empty();
        if runs != decision.action_result.is_some() {
            return Err(format!("proposal {id}'s action result disagrees with its outcome and action"));
        }
    }
    Ok(())
}

/// Takes one from an open count, forgetting the key at zero so that the map holds only the open.
fn uncount<K: Ord>(counts: &mut BTreeMap<K, u32>, key: &K) {
    let open = counts.get_mut(key).expect("an open proposal is counted");
    *open -= 1;
    if *open == 0 {
        counts.remove(key);
    }
}
