//! Governance against a plain reference model: random proposals of every vote type, ballots (well
//! formed or not, changed or repeated), vetoes, amendments, cancellations and time advancing. The
//! model keeps each proposal as a plain record, decides every command's result by the rules written
//! out again, closes proposals by recomputing the tally with `tally` from scratch, and seals them
//! with `seal`; after every entry each retained proposal, its decision and seal, and the chain head
//! must be exactly the model's, and every refusal's code the model's.

use std::collections::BTreeMap;

use colony_core::command::{AmendProposal, CancelProposal, CastBallot, CreateProposal, VetoProposal};
use colony_core::governance::{
    Ballot, Choice, Closure, Decision, Eligibility, LiveBallot, OptionCredits, OptionPart, Outcome, Proposal,
    ProposalState, ProposalTerms, Quorum, Ratio, SealInput, VoteType, Voter, WeightSource, seal, settled_outcome,
    tally,
};
use colony_core::{Accepted, AgentId, Command, Digest, EntryOutcome, Fraction, Signer, State};
use colony_testkit::{Simulator, SwarmBuilder, agent_id, name};
use proptest::prelude::*;

/// Seed 001's four roles and one of weight one: 2.5, 1.0, 2.0, 1.5, 1.0.
const AGENTS: [(&str, &str); 5] = [
    ("agent-0", "architect"),
    ("agent-1", "developer"),
    ("agent-2", "security"),
    ("agent-3", "auditor"),
    ("agent-4", "scout"),
];
const WEIGHTS: [u64; 5] = [2_500_000, 1_000_000, 2_000_000, 1_500_000, 1_000_000];

#[derive(Clone, Debug)]
enum Step {
    Create {
        proposer: usize,
        slot: usize,
        vote_type: usize,
        voters: u8,
        quorum: usize,
        voting_ms: u64,
        veto: Option<usize>,
    },
    Cast {
        voter: usize,
        proposal: usize,
        choice: usize,
    },
    Veto {
        agent: usize,
        proposal: usize,
    },
    Cancel {
        agent: usize,
        proposal: usize,
    },
    Amend {
        agent: usize,
        proposal: usize,
        voting_ms: u64,
        vote_type: Option<usize>,
    },
    Tick {
        advance_ms: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let agent = 0..AGENTS.len();
    prop_oneof![
        2 => (agent.clone(), 0..3usize, 0..VOTE_TYPES, 0..32u8, 0..3usize, 1..5_000u64, proptest::option::of(agent.clone()))
            .prop_map(|(proposer, slot, vote_type, voters, quorum, voting_ms, veto)| Step::Create {
                proposer, slot, vote_type, voters, quorum, voting_ms, veto
            }),
        8 => (agent.clone(), 0..6usize, 0..CHOICES).prop_map(|(voter, proposal, choice)| Step::Cast { voter, proposal, choice }),
        1 => (agent.clone(), 0..6usize).prop_map(|(agent, proposal)| Step::Veto { agent, proposal }),
        1 => (agent.clone(), 0..6usize).prop_map(|(agent, proposal)| Step::Cancel { agent, proposal }),
        1 => (agent, 0..6usize, 1..5_000u64, proptest::option::of(0..VOTE_TYPES))
            .prop_map(|(agent, proposal, voting_ms, vote_type)| Step::Amend { agent, proposal, voting_ms, vote_type }),
        3 => prop_oneof![3 => 0..=1_000u64, 1 => 1_000..=6_000u64].prop_map(|advance_ms| Step::Tick { advance_ms }),
    ]
}

const VOTE_TYPES: usize = 9;

fn vote_type(index: usize) -> VoteType {
    match index {
        0 => VoteType::Plurality,
        1 => VoteType::Supermajority { threshold: Ratio::TWO_THIRDS },
        2 => VoteType::Consensus,
        3 => VoteType::Threshold { yes_weight: 4_000_000 },
        4 => VoteType::WeightedRatio { required: Fraction::from_micros(500_000).unwrap() },
        5 => VoteType::Approval { options: 3 },
        6 => VoteType::RankedChoice { options: 3 },
        7 => VoteType::Quadratic { options: 3, budget: 9 },
        _ => VoteType::WeightedSplit { options: 2 },
    }
}

fn quorum(index: usize) -> Quorum {
    match index {
        0 => Quorum::None,
        1 => Quorum::Ballots(2),
        _ => Quorum::Share(Ratio::HALF),
    }
}

const CHOICES: usize = 12;

/// Choices of every shape, some of which each vote type refuses.
fn choice(index: usize) -> Choice {
    let fraction = |micros| Fraction::from_micros(micros).unwrap();
    match index {
        0 => Choice::Yes,
        1 => Choice::No,
        2 => Choice::Abstain,
        3 => Choice::Value(fraction(800_000)),
        4 => Choice::Approve(vec![0, 2]),
        5 => Choice::Approve(vec![1, 1]),
        6 => Choice::Rank(vec![2, 0, 1]),
        7 => Choice::Rank(vec![1]),
        8 => Choice::Credits(vec![OptionCredits { option: 0, credits: 4 }, OptionCredits { option: 2, credits: 5 }]),
        9 => Choice::Credits(vec![OptionCredits { option: 1, credits: 10 }]),
        10 => Choice::Split(vec![
            OptionPart { option: 0, part: fraction(250_000) },
            OptionPart { option: 1, part: fraction(750_000) },
        ]),
        _ => Choice::Split(vec![OptionPart { option: 0, part: fraction(500_000) }]),
    }
}

/// The model: each proposal as the state should hold it, the creating commands, the chain.
#[derive(Default)]
struct Model {
    proposals: BTreeMap<u64, Proposal>,
    creates: BTreeMap<(usize, usize), (u64, CreateProposal)>,
    next_proposal: u64,
    seal_head: Option<Digest>,
    seals: u64,
}

impl Model {
    fn proposal_id(&self, index: usize) -> u64 {
        if self.next_proposal == 0 { u64::MAX } else { index as u64 % (self.next_proposal + 1) }
    }

    /// Closes every open proposal whose deadline is before `now_ms`, by deadline then id.
    fn expire(&mut self, now_ms: u64, sequence: u64) {
        let mut due: Vec<(u64, u64)> = self
            .proposals
            .values()
            .filter(|proposal| proposal.state == ProposalState::Open && proposal.terms.closes_at_ms < now_ms)
            .map(|proposal| (proposal.terms.closes_at_ms, proposal.id))
            .collect();
        due.sort();
        for (_, id) in due {
            self.close(id, Closure::Deadline, now_ms, sequence);
        }
    }

    fn close(&mut self, id: u64, closure: Closure, now_ms: u64, sequence: u64) {
        let previous_seal = self.seal_head.unwrap_or(Digest([0; 32]));
        let proposal = self.proposals.get_mut(&id).unwrap();
        let weights: Vec<u64> = proposal.electorate.iter().map(|voter| voter.weight).collect();
        let ballots: Vec<Ballot> =
            proposal.ballots.iter().map(|(&voter, live)| Ballot { voter, choice: live.choice.clone() }).collect();
        let tally = tally(&proposal.terms.vote_type, proposal.terms.quorum, &weights, &ballots).unwrap();
        let outcome = if matches!(closure, Closure::Vetoed { .. }) { Outcome::Rejected } else { tally.outcome.clone() };
        let sealed = seal(&SealInput::new(proposal, &tally, &outcome, &closure, previous_seal));
        self.seals += 1;
        self.seal_head = Some(sealed);
        proposal.state = ProposalState::Closed;
        proposal.ended_at_ms = Some(now_ms);
        proposal.decision = Some(Decision {
            outcome,
            tally,
            closure,
            sequence,
            closed_at_ms: now_ms,
            previous_seal,
            seal: sealed,
            chain_position: self.seals,
            action_result: None,
        });
    }

    /// What the command `step` makes, and the result the model expects of it, applying it to the
    /// model.
    fn apply(&mut self, step: &Step, now_ms: u64, sequence: u64) -> (usize, Command, Result<Accepted, &'static str>) {
        match *step {
            Step::Create { proposer, slot, vote_type: kind, voters, quorum: q, voting_ms, veto } => {
                let agents: Vec<AgentId> = (0..AGENTS.len())
                    .filter(|index| voters & (1 << index) != 0)
                    .map(|index| agent_id(AGENTS[index].0))
                    .collect();
                let command = CreateProposal {
                    proposal_id: name(&format!("p-{slot}")),
                    title: format!("question {slot}"),
                    description: None,
                    vote_type: vote_type(kind),
                    quorum: Some(quorum(q)),
                    eligible: Eligibility::Agents(agents.iter().cloned().collect()),
                    weight_source: WeightSource::Role,
                    voting_ms,
                    veto_holders: veto.map(|index| agent_id(AGENTS[index].0)).into_iter().collect(),
                    action: Vec::new(),
                };
                let result = self.create(proposer, slot, &command, now_ms);
                (proposer, command.into(), result)
            }
            Step::Cast { voter, proposal, choice: index } => {
                let id = self.proposal_id(proposal);
                let choice = choice(index);
                let result = self.cast(voter, id, &choice, now_ms, sequence);
                (voter, CastBallot { proposal: id, choice }.into(), result)
            }
            Step::Veto { agent, proposal } => {
                let id = self.proposal_id(proposal);
                let result = self.find_open(id, now_ms).and_then(|proposal| {
                    if proposal.terms.veto_holders.contains(&agent_id(AGENTS[agent].0)) {
                        Ok(())
                    } else {
                        Err("not_veto_holder")
                    }
                });
                if result.is_ok() {
                    self.close(id, Closure::Vetoed { by: agent_id(AGENTS[agent].0) }, now_ms, sequence);
                }
                (agent, VetoProposal { proposal: id }.into(), result.map(|()| Accepted::Done))
            }
            Step::Cancel { agent, proposal } => {
                let id = self.proposal_id(proposal);
                let result = self.check_proposer(agent, id).and_then(|()| self.find_open(id, now_ms).map(|_| ()));
                if result.is_ok() {
                    let proposal = self.proposals.get_mut(&id).unwrap();
                    proposal.state = ProposalState::Cancelled;
                    proposal.ended_at_ms = Some(now_ms);
                }
                (agent, CancelProposal { proposal: id, reason: None }.into(), result.map(|()| Accepted::Done))
            }
            Step::Amend { agent, proposal, voting_ms, vote_type: kind } => {
                let id = self.proposal_id(proposal);
                let command = AmendProposal {
                    proposal: id,
                    title: None,
                    description: None,
                    vote_type: kind.map(vote_type),
                    quorum: None,
                    voting_ms: Some(voting_ms),
                };
                let result = self.amend(agent, &command, now_ms);
                (agent, command.into(), result)
            }
            Step::Tick { .. } => unreachable!("ticks carry no command"),
        }
    }

    fn create(
        &mut self,
        proposer: usize,
        slot: usize,
        command: &CreateProposal,
        now_ms: u64,
    ) -> Result<Accepted, &'static str> {
        if let Some((id, earlier)) = self.creates.get(&(proposer, slot)) {
            return if earlier == command {
                Ok(Accepted::Proposal { proposal: *id, existing: true })
            } else {
                Err("proposal_id_conflict")
            };
        }
        let Eligibility::Agents(agents) = &command.eligible else { unreachable!() };
        if agents.is_empty() {
            return Err("empty_electorate");
        }
        let electorate: Vec<Voter> = agents
            .iter()
            .map(|agent| {
                let index = AGENTS.iter().position(|(id, _)| *id == agent.as_str()).unwrap();
                Voter { agent: agent.clone(), weight: WEIGHTS[index] }
            })
            .collect();
        let id = self.next_proposal;
        self.next_proposal += 1;
        self.creates.insert((proposer, slot), (id, command.clone()));
        self.proposals.insert(
            id,
            Proposal {
                id,
                proposer: Signer::Agent(agent_id(AGENTS[proposer].0)),
                proposal_id: command.proposal_id.clone(),
                creation: Digest([0; 32]),
                terms: ProposalTerms {
                    title: command.title.clone(),
                    description: None,
                    vote_type: command.vote_type.clone(),
                    quorum: command.quorum.unwrap(),
                    eligible: command.eligible.clone(),
                    weight_source: WeightSource::Role,
                    veto_holders: command.veto_holders.clone(),
                    closes_at_ms: now_ms + command.voting_ms,
                    action: Vec::new(),
                },
                electorate,
                ballots: BTreeMap::new(),
                state: ProposalState::Open,
                created_at_ms: now_ms,
                amendments: 0,
                ended_at_ms: None,
                decision: None,
                jury: None,
            },
        );
        Ok(Accepted::Proposal { proposal: id, existing: false })
    }

    fn find_open(&self, id: u64, now_ms: u64) -> Result<&Proposal, &'static str> {
        let proposal = self.proposals.get(&id).ok_or("proposal_not_found")?;
        if proposal.state != ProposalState::Open || now_ms > proposal.terms.closes_at_ms {
            return Err("proposal_state");
        }
        Ok(proposal)
    }

    fn check_proposer(&self, agent: usize, id: u64) -> Result<(), &'static str> {
        let proposal = self.proposals.get(&id).ok_or("proposal_not_found")?;
        if proposal.proposer != Signer::Agent(agent_id(AGENTS[agent].0)) { Err("unauthorized") } else { Ok(()) }
    }

    fn cast(
        &mut self,
        voter: usize,
        id: u64,
        choice: &Choice,
        now_ms: u64,
        sequence: u64,
    ) -> Result<Accepted, &'static str> {
        let proposal = self.find_open(id, now_ms)?;
        let position = proposal
            .electorate
            .iter()
            .position(|entry| entry.agent.as_str() == AGENTS[voter].0)
            .ok_or("not_eligible")? as u32;
        let alone = [Ballot { voter: 0, choice: choice.clone() }];
        if tally(&proposal.terms.vote_type, Quorum::None, &[1], &alone).is_err() {
            return Err("malformed_ballot");
        }
        if proposal.ballots.get(&position).is_some_and(|live| live.choice == *choice) {
            return Ok(Accepted::Unchanged);
        }
        let proposal = self.proposals.get_mut(&id).unwrap();
        proposal.ballots.insert(position, LiveBallot { choice: choice.clone(), sequence, cast_at_ms: now_ms });
        if proposal.terms.vote_type.options().is_none() {
            let weights: Vec<u64> = proposal.electorate.iter().map(|voter| voter.weight).collect();
            let ballots: Vec<Ballot> =
                proposal.ballots.iter().map(|(&voter, live)| Ballot { voter, choice: live.choice.clone() }).collect();
            if settled_outcome(&proposal.terms.vote_type, proposal.terms.quorum, &weights, &ballots).unwrap().is_some()
            {
                self.close(id, Closure::Settled, now_ms, sequence);
            }
        }
        Ok(Accepted::Done)
    }

    fn amend(&mut self, agent: usize, command: &AmendProposal, now_ms: u64) -> Result<Accepted, &'static str> {
        self.check_proposer(agent, command.proposal)?;
        let proposal = self.find_open(command.proposal, now_ms)?;
        if !proposal.ballots.is_empty() {
            return Err("proposal_has_ballots");
        }
        let mut terms = proposal.terms.clone();
        if let Some(vote_type) = &command.vote_type {
            terms.vote_type = vote_type.clone();
        }
        terms.closes_at_ms = now_ms + command.voting_ms.unwrap();
        if terms == proposal.terms {
            return Ok(Accepted::Unchanged);
        }
        let proposal = self.proposals.get_mut(&command.proposal).unwrap();
        proposal.terms = terms;
        proposal.amendments += 1;
        Ok(Accepted::Done)
    }
}

fn check(model: &Model, state: &State) -> Result<(), TestCaseError> {
    if let Err(broken) = state.check_invariants() {
        return Err(TestCaseError::fail(broken));
    }
    let governance = state.governance();
    prop_assert_eq!(governance.proposals().count(), model.proposals.len());
    for expected in model.proposals.values() {
        let actual = governance.proposal(expected.id).expect("every model proposal is retained");
        let mut expected = expected.clone();
        expected.creation = actual.creation;
        prop_assert_eq!(actual, &expected);
    }
    prop_assert_eq!(governance.seals(), model.seals);
    prop_assert_eq!(governance.seal_head(), model.seal_head.unwrap_or(Digest([0; 32])));
    Ok(())
}

fn swarm() -> Simulator {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(colony_core::limits::HEARTBEAT_TTL_MS_MAX).build();
    for (agent, role) in AGENTS {
        assert!(
            swarm.operator(vec![colony_testkit::commands::register(agent, role)]).commands.iter().all(Result::is_ok)
        );
    }
    swarm
}

fn result_code(outcome: &EntryOutcome) -> Result<Accepted, &'static str> {
    outcome.commands[0].clone().map_err(|rejection| rejection.code())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn governance_keeps_to_the_model(steps in proptest::collection::vec(step(), 1..80)) {
        let mut model = Model::default();
        let mut swarm = swarm();
        for step in &steps {
            let outcome = match step {
                Step::Tick { advance_ms } => {
                    swarm.advance_ms(*advance_ms);
                    model.expire(swarm.now_ms(), swarm.state().sequence() + 1);
                    swarm.tick()
                }
                _ => {
                    swarm.advance_ms(100);
                    let (now_ms, sequence) = (swarm.now_ms(), swarm.state().sequence() + 1);
                    model.expire(now_ms, sequence);
                    let (agent, command, expected) = model.apply(step, now_ms, sequence);
                    let outcome = swarm.agent(AGENTS[agent].0, vec![command]);
                    prop_assert_eq!(result_code(&outcome), expected, "step {:?}", step);
                    outcome
                }
            };
            prop_assert!(outcome.envelope.is_none());
            check(&model, swarm.state())?;
        }
    }
}
