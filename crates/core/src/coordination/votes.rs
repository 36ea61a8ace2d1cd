//! Seed 004's vote-based leader election: a fixed group of members, terms, and rounds of votes.
//!
//! A member opens a round when the election has no leader (none yet, the last round failed, or the
//! leader was lost), or the leader opens one to step down: the term goes up by one, the previous
//! leader's term is over, and the members healthy at that moment (registered, heard from, not
//! halted) are the round's candidates.
//! Each candidate votes once in the term, for one candidate (itself included). The first candidate
//! to hold more than half of the candidates' votes (seed 004's `votes > len(candidates) // 2`) is
//! elected in that entry and leads for the term; a round whose timeout passes by log time without a
//! majority fails, and a member opens the next one (the seed's restart, left to the members so that
//! an abandoned group writes nothing). A leader that falls silent, is halted or is deregistered
//! loses the leadership in the entry that finds it, and the members open a new round.
//!
//! Unlike `election.campaign` (the first live candidate leads, by lease), the leader here is whom a
//! majority of the healthy members chose. Each command is checked whole before its first change.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::commands::{CastElectionVote, CreateVoteElection, DeleteVoteElection, StartVoteRound};
use super::rejections::CoordinationRejection;
use crate::event::EventKind;
use crate::ids::{AgentId, Name, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::registry::Liveness;
use crate::state::{Context, State};

/// A vote-based election.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteElection {
    /// Its name.
    pub name: Name,
    /// Who made it: only it and the operator delete it.
    pub creator: Signer,
    /// The agents who may open rounds, stand and vote.
    pub members: BTreeSet<AgentId>,
    /// How long a round stays open without a majority.
    pub round_timeout_ms: u64,
    /// When it was made (log time).
    pub created_at_ms: u64,
    /// The last term a round was opened for (0 before the first).
    pub term: u64,
    /// The leader of the last term that elected one, while it is healthy and no round is open.
    pub leader: Option<ElectedLeader>,
    /// The round open, if any.
    pub round: Option<VoteRound>,
}

/// The leader a round elected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ElectedLeader {
    /// The agent.
    pub agent: AgentId,
    /// The term it leads: a fencing token, higher for every later leader of the election.
    pub term: u64,
    /// The votes it won with.
    pub votes: u32,
    /// Candidates in its round.
    pub candidates: u32,
    /// When it was elected (log time).
    pub elected_at_ms: u64,
}

/// A round of votes for one term.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteRound {
    /// The term it elects for.
    pub term: u64,
    /// The members healthy when it opened: they alone vote and may be chosen.
    pub candidates: BTreeSet<AgentId>,
    /// Each voter's choice.
    pub votes: BTreeMap<AgentId, AgentId>,
    /// When it opened (log time).
    pub opened_at_ms: u64,
    /// The last log time it stays open.
    pub deadline_ms: u64,
}

impl VoteRound {
    /// Votes a candidate needs: more than half of the candidates.
    pub fn majority(&self) -> u32 {
        u32::try_from(self.candidates.len() / 2 + 1).expect("bounded by VOTE_ELECTION_MEMBERS_MAX")
    }

    /// Votes cast for `candidate`.
    pub fn votes_for(&self, candidate: &AgentId) -> u32 {
        let votes = self.votes.values().filter(|chosen| *chosen == candidate).count();
        u32::try_from(votes).expect("bounded by VOTE_ELECTION_MEMBERS_MAX")
    }
}

/// Every vote-based election, the quota counts, and the open rounds' deadlines.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteElections {
    pub(crate) elections: BTreeMap<Name, VoteElection>,
    /// Elections each signer made and that still exist.
    pub(crate) by_creator: BTreeMap<Signer, usize>,
    /// Every open round by the last log time it stays open.
    pub(crate) round_deadlines: BTreeSet<(u64, Name)>,
}

impl VoteElections {
    /// One election.
    pub fn get(&self, name: &Name) -> Option<&VoteElection> {
        self.elections.get(name)
    }

    /// Up to `limit` elections after `after`, in name order.
    pub fn after(&self, after: Option<&Name>, limit: usize) -> Vec<&VoteElection> {
        let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        self.elections
            .range::<Name, _>((start, std::ops::Bound::Unbounded))
            .take(limit)
            .map(|(_, found)| found)
            .collect()
    }

    /// Elections in all.
    pub fn len(&self) -> usize {
        self.elections.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.elections.is_empty()
    }

    /// Every round's deadline is indexed, every leader is a member with a term already opened, and
    /// no round and leader stand together; the creators' counts match a recount.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut deadlines = BTreeSet::new();
        let mut creators: BTreeMap<Signer, usize> = BTreeMap::new();
        for (name, election) in &self.elections {
            if *name != election.name
                || election.members.is_empty()
                || election.members.len() > limits::VOTE_ELECTION_MEMBERS_MAX
            {
                return Err(format!("vote election '{name}' is misfiled or has a member count it may not have"));
            }
            *creators.entry(election.creator.clone()).or_default() += 1;
            if let Some(round) = &election.round {
                deadlines.insert((round.deadline_ms, name.clone()));
                let strangers = round.candidates.iter().any(|candidate| !election.members.contains(candidate));
                let stray_votes = round
                    .votes
                    .iter()
                    .any(|(voter, chosen)| !round.candidates.contains(voter) || !round.candidates.contains(chosen));
                if round.term != election.term || round.candidates.is_empty() || strangers || stray_votes {
                    return Err(format!("vote election '{name}': its round's term, candidates or votes are wrong"));
                }
                if election.leader.is_some() {
                    return Err(format!("vote election '{name}' has a leader while a round is open"));
                }
                if round.candidates.iter().any(|candidate| round.votes_for(candidate) >= round.majority()) {
                    return Err(format!("vote election '{name}': a majority was reached but nobody was elected"));
                }
            }
            if let Some(leader) = &election.leader
                && (leader.term > election.term || leader.term == 0 || !election.members.contains(&leader.agent))
            {
                return Err(format!("vote election '{name}' is led by a non-member or from a term not opened"));
            }
        }
        if deadlines != self.round_deadlines {
            return Err("the vote rounds' deadlines differ from the open rounds".to_owned());
        }
        if creators != self.by_creator || self.elections.len() > limits::VOTE_ELECTIONS_MAX {
            return Err("vote elections counted by creator differ from a recount, or are too many".to_owned());
        }
        Ok(())
    }
}

fn not_found(election: &Name) -> Rejection {
    CoordinationRejection::VoteElectionNotFound { election: election.clone() }.into()
}

impl State {
    /// Whether `agent` can take part in a round now: registered, heard from, not halted.
    fn healthy(&self, agent: &AgentId) -> bool {
        self.registry.get(agent).is_some_and(|found| {
            found.deregistered_at_ms.is_none() && found.liveness == Liveness::Active && found.halt.is_none()
        })
    }

    pub(crate) fn create_vote_election(
        &mut self,
        context: &mut Context,
        command: &CreateVoteElection,
    ) -> CommandResult {
        let members: BTreeSet<AgentId> = command.members.iter().cloned().collect();
        if members.len() != command.members.len() {
            return Err(Rejection::invalid("members", "must not name an agent twice"));
        }
        if members.is_empty() || members.len() > limits::VOTE_ELECTION_MEMBERS_MAX {
            return Err(Rejection::invalid(
                "members",
                format!("must name 1 to {} agents", limits::VOTE_ELECTION_MEMBERS_MAX),
            ));
        }
        let timeouts = limits::VOTE_ROUND_TIMEOUT_MIN_MS..=limits::VOTE_ROUND_TIMEOUT_MAX_MS;
        if !timeouts.contains(&command.round_timeout_ms) {
            return Err(Rejection::invalid(
                "round_timeout_ms",
                format!("must be from {} to {}", timeouts.start(), timeouts.end()),
            ));
        }
        if let Some(unknown) = members.iter().find(|member| self.registry.get(member).is_none()) {
            return Err(Rejection::AgentNotFound { agent: unknown.clone() });
        }
        let elections = &self.coordination.vote_elections;
        if elections.elections.contains_key(&command.election) {
            return Err(CoordinationRejection::VoteElectionExists { election: command.election.clone() }.into());
        }
        let creator = context.signer().clone();
        if elections.by_creator.get(&creator).copied().unwrap_or(0) >= limits::VOTE_ELECTIONS_PER_CREATOR_MAX {
            return Err(Rejection::LimitReached {
                limit: "vote_elections_per_creator",
                max: limits::VOTE_ELECTIONS_PER_CREATOR_MAX as u64,
            });
        }
        if elections.elections.len() >= limits::VOTE_ELECTIONS_MAX {
            return Err(Rejection::LimitReached { limit: "vote_elections", max: limits::VOTE_ELECTIONS_MAX as u64 });
        }
        let election = VoteElection {
            name: command.election.clone(),
            creator: creator.clone(),
            members,
            round_timeout_ms: command.round_timeout_ms,
            created_at_ms: context.now_ms,
            term: 0,
            leader: None,
            round: None,
        };
        let members = u32::try_from(election.members.len()).expect("bounded by VOTE_ELECTION_MEMBERS_MAX");
        let elections = &mut self.coordination.vote_elections;
        elections.elections.insert(command.election.clone(), election);
        *elections.by_creator.entry(creator.clone()).or_default() += 1;
        context.emit(EventKind::VoteElectionCreated { election: command.election.clone(), creator, members });
        Ok(Accepted::Done)
    }

    pub(crate) fn start_vote_round(&mut self, context: &mut Context, command: &StartVoteRound) -> CommandResult {
        let election =
            self.coordination.vote_elections.get(&command.election).ok_or_else(|| not_found(&command.election))?;
        let starter = context.signer().agent().filter(|agent| election.members.contains(*agent)).cloned();
        let Some(starter) = starter else {
            return Err(CoordinationRejection::NotElectionMember { election: command.election.clone() }.into());
        };
        if let Some(round) = &election.round {
            let term = round.term;
            return Err(CoordinationRejection::VoteRoundOpen { election: command.election.clone(), term }.into());
        }
        // A leader in the election is healthy (one that is not was lost in the entry that found it):
        // only it may end its term early, so that no member deposes it at will.
        if let Some(leader) = election.leader.as_ref().filter(|leader| leader.agent != starter) {
            let (leader, term) = (leader.agent.clone(), leader.term);
            return Err(
                CoordinationRejection::LeaderHealthy { election: command.election.clone(), leader, term }.into()
            );
        }
        if !self.healthy(&starter) {
            return Err(CoordinationRejection::HolderUnresponsive.into());
        }
        let candidates: BTreeSet<AgentId> =
            election.members.iter().filter(|member| self.healthy(member)).cloned().collect();
        let term = election.term + 1;
        let deadline_ms = context.now_ms.saturating_add(election.round_timeout_ms);
        let majority = u32::try_from(candidates.len() / 2 + 1).expect("bounded by VOTE_ELECTION_MEMBERS_MAX");
        let count = u32::try_from(candidates.len()).expect("bounded by VOTE_ELECTION_MEMBERS_MAX");
        let elections = &mut self.coordination.vote_elections;
        let election = elections.elections.get_mut(&command.election).expect("found above");
        election.term = term;
        election.leader = None;
        election.round =
            Some(VoteRound { term, candidates, votes: BTreeMap::new(), opened_at_ms: context.now_ms, deadline_ms });
        elections.round_deadlines.insert((deadline_ms, command.election.clone()));
        context.emit(EventKind::VoteRoundOpened {
            election: command.election.clone(),
            term,
            by: starter,
            candidates: count,
            majority,
            deadline_ms,
        });
        Ok(Accepted::Done)
    }

    pub(crate) fn cast_election_vote(&mut self, context: &mut Context, command: &CastElectionVote) -> CommandResult {
        let name = &command.election;
        let election = self.coordination.vote_elections.get(name).ok_or_else(|| not_found(name))?;
        let Some(round) = &election.round else {
            return Err(CoordinationRejection::NoVoteRound { election: name.clone() }.into());
        };
        if command.term != round.term {
            let current = round.term;
            return Err(CoordinationRejection::StaleTerm { election: name.clone(), term: command.term, current }.into());
        }
        let voter = context.signer().agent().filter(|agent| round.candidates.contains(*agent)).cloned();
        let Some(voter) = voter else {
            return Err(CoordinationRejection::NotVoter { election: name.clone(), term: round.term }.into());
        };
        if !round.candidates.contains(&command.candidate) {
            let candidate = command.candidate.clone();
            return Err(CoordinationRejection::NotCandidate { election: name.clone(), candidate }.into());
        }
        if round.votes.contains_key(&voter) {
            return Err(CoordinationRejection::AlreadyVoted { election: name.clone(), term: round.term }.into());
        }
        let elections = &mut self.coordination.vote_elections;
        let election = elections.elections.get_mut(name).expect("found above");
        let round = election.round.as_mut().expect("found above");
        round.votes.insert(voter.clone(), command.candidate.clone());
        let (term, votes, majority) = (round.term, round.votes_for(&command.candidate), round.majority());
        context.emit(EventKind::VoteCast {
            election: name.clone(),
            term,
            voter,
            candidate: command.candidate.clone(),
            votes,
        });
        if votes >= majority {
            let round = election.round.take().expect("found above");
            elections.round_deadlines.remove(&(round.deadline_ms, name.clone()));
            let candidates = u32::try_from(round.candidates.len()).expect("bounded by VOTE_ELECTION_MEMBERS_MAX");
            let leader = ElectedLeader {
                agent: command.candidate.clone(),
                term,
                votes,
                candidates,
                elected_at_ms: context.now_ms,
            };
            election.leader = Some(leader);
            context.emit(EventKind::VoteLeaderElected {
                election: name.clone(),
                leader: command.candidate.clone(),
                term,
                votes,
                candidates,
            });
        }
        Ok(Accepted::Done)
    }

    pub(crate) fn delete_vote_election(
        &mut self,
        context: &mut Context,
        command: &DeleteVoteElection,
    ) -> CommandResult {
        let election =
            self.coordination.vote_elections.get(&command.election).ok_or_else(|| not_found(&command.election))?;
        if election.creator != *context.signer() && *context.signer() != Signer::Operator {
            return Err(CoordinationRejection::NotVoteElectionCreator { election: command.election.clone() }.into());
        }
        let elections = &mut self.coordination.vote_elections;
        let election = elections.elections.remove(&command.election).expect("found above");
        if let Some(round) = &election.round {
            elections.round_deadlines.remove(&(round.deadline_ms, command.election.clone()));
        }
        let count = elections.by_creator.get_mut(&election.creator).expect("a creator is counted");
        *count -= 1;
        if *count == 0 {
            elections.by_creator.remove(&election.creator);
        }
        context
            .emit(EventKind::VoteElectionDeleted { election: command.election.clone(), by: context.signer().clone() });
        Ok(Accepted::Done)
    }

    /// Fails the rounds whose timeout passed without a majority, earliest first, at most
    /// `VOTE_ROUND_FAILURES_PER_ENTRY_MAX` of them; the rest fail in the next entries, due at once.
    pub(crate) fn expire_vote_rounds(&mut self, context: &mut Context) {
        for _ in 0..limits::VOTE_ROUND_FAILURES_PER_ENTRY_MAX {
            let elections = &mut self.coordination.vote_elections;
            let Some((deadline_ms, name)) = elections.round_deadlines.first().cloned() else { break };
            if deadline_ms >= context.now_ms {
                break;
            }
            elections.round_deadlines.pop_first();
            let election = elections.elections.get_mut(&name).expect("a round's election exists");
            let round = election.round.take().expect("an indexed round is open");
            let votes = u32::try_from(round.votes.len()).expect("bounded by VOTE_ELECTION_MEMBERS_MAX");
            context.emit(EventKind::VoteRoundFailed { election: name, term: round.term, votes });
        }
    }

    /// The agent led elections but fell silent, was halted or was deregistered: it leads them no
    /// more.
    pub(crate) fn lose_vote_leaderships(&mut self, context: &mut Context, agent: &AgentId) {
        for election in self.coordination.vote_elections.elections.values_mut() {
            let Some(leader) = &election.leader else { continue };
            if leader.agent != *agent {
                continue;
            }
            let term = leader.term;
            election.leader = None;
            context.emit(EventKind::VoteLeaderLost { election: election.name.clone(), leader: agent.clone(), term });
        }
    }
}
