//! Governance commands for generated streams.
//!
//! Proposals are named by a small pool of proposal ids ([`PROPOSAL_IDS`]) so that proposers create
//! them again (the same fields or others: a conflict). Commands name the proposal they act on
//! relative to the state the stream has reached ([`ProposalRef`]): mostly one the signer has the
//! right part in (an open proposal it may vote on, veto, amend or cancel), sometimes any proposal or
//! one that does not exist, so that flows reach their close and every refusal shows up too. Voting
//! periods are a few generated pauses long, so that proposals are amended and voted on before their
//! deadlines pass.

use colony_core::command::{AmendProposal, CancelProposal, CastBallot, CreateProposal, HaltAgent, Mint, VetoProposal};
use colony_core::governance::{
    Choice, Eligibility, OptionCredits, OptionPart, Proposal, ProposalState, Quorum, Ratio, VoteType, WeightSource,
    is_actionable,
};
use colony_core::{AgentId, Command, Fraction, State};
use proptest::collection::vec;
use proptest::prelude::*;

use super::keys::name;
use super::strategies::{AgentRef, CONFIGURABLE_ROLES, CommandSpec, agent_ref};

/// Proposal ids proposers create under.
pub const PROPOSAL_IDS: [&str; 3] = ["question-0", "question-1", "question-2"];

/// A proposal a governance command acts on, relative to the state the entries before lead to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposalRef {
    /// The one at this index (wrapping, in id order) among the proposals in which the signer has the
    /// part the command needs (see [`GovernanceSpec`]); any proposal when there is none.
    Part(usize),
    /// The one at this index (wrapping) among all proposals, newest first.
    Any(usize),
    /// A proposal number never handed out.
    Missing,
}

/// Who may vote, abstractly.
#[derive(Clone, Debug)]
pub enum ElectorateSpec {
    /// Every active agent.
    AllActive,
    /// The active agents of a role of [`CONFIGURABLE_ROLES`].
    Role(usize),
    /// These agents (possibly none, which is refused).
    Agents(Vec<AgentRef>),
}

/// A governance command, abstractly. The part a [`ProposalRef::Part`] looks for: an open proposal
/// whose electorate holds the signer (cast), whose veto holders do (veto), or that the signer
/// proposed (amend, cancel; an amend looks among those with or without ballots).
#[derive(Clone, Debug)]
pub enum GovernanceSpec {
    /// `proposal.create`.
    Create {
        /// The index of its id in [`PROPOSAL_IDS`].
        proposal_id: usize,
        /// The index of its vote type in [`vote_type`].
        vote_type: usize,
        /// Who may vote.
        electorate: ElectorateSpec,
        /// How long ballots are taken (0 is refused).
        voting_ms: u64,
        /// A veto holder.
        veto: Option<AgentRef>,
        /// A seed 000 quorum (`None`) or none at all.
        quorum: bool,
        /// Equal weights instead of the roles'.
        equal: bool,
        /// Its action, by index in [`action`]: none, a mint to the proposer, a mint and a halt that
        /// fails (so neither applies), or a nested create (refused).
        action: usize,
    },
    /// `ballot.cast`.
    Cast {
        /// The proposal.
        proposal: ProposalRef,
        /// The index of the choice in [`choice`], some of which each vote type refuses.
        choice: usize,
    },
    /// `proposal.veto`.
    Veto {
        /// The proposal.
        proposal: ProposalRef,
    },
    /// `proposal.amend`.
    Amend {
        /// The proposal.
        proposal: ProposalRef,
        /// Whether a [`ProposalRef::Part`] looks among the signer's open proposals without ballots
        /// (which it may amend) or among those with ballots (which it may not).
        fresh: bool,
        /// The new voting period from now.
        voting_ms: u64,
    },
    /// `proposal.cancel`.
    Cancel {
        /// The proposal.
        proposal: ProposalRef,
    },
}

const VOTE_TYPES: usize = 6;

/// The vote types proposals ask for: yes/no types that settle early, the weighted ratio, and option
/// votes that run to their deadline.
pub fn vote_type(index: usize) -> VoteType {
    match index % VOTE_TYPES {
        0 => VoteType::Plurality,
        1 => VoteType::Supermajority { threshold: Ratio::TWO_THIRDS },
        2 => VoteType::Threshold { yes_weight: 4_000_000 },
        3 => VoteType::WeightedRatio { required: Fraction::from_micros(500_000).expect("at most one") },
        4 => VoteType::Approval { options: 3 },
        _ => VoteType::Quadratic { options: 2, budget: 9 },
    }
}

const ACTIONS: usize = 4;

/// The action of a generated proposal (see [`GovernanceSpec::Create`]).
pub fn action(index: usize, proposer: &AgentId) -> Vec<Command> {
    let mint = |amount| {
        Command::Mint(Mint {
            transfer_id: name(&format!("action-{index}")),
            to: proposer.clone(),
            amount: colony_core::Amount(amount),
        })
    };
    match index % ACTIONS {
        0 => Vec::new(),
        1 => vec![mint(1_000)],
        2 => vec![
            mint(7),
            Command::HaltAgent(HaltAgent {
                agent: AgentId::new("never-registered").expect("a valid id"),
                reason: "the action fails here".to_owned(),
            }),
        ],
        _ => vec![Command::CreateProposal(CreateProposal {
            proposal_id: name("nested"),
            title: "nested".to_owned(),
            description: None,
            vote_type: VoteType::Plurality,
            quorum: None,
            eligible: Eligibility::AllActive,
            weight_source: WeightSource::Equal,
            voting_ms: 1_000,
            veto_holders: Default::default(),
            action: Vec::new(),
        })],
    }
}

const CHOICES: usize = 7;

/// Choices of several shapes: yes and no most often, and some no vote type takes.
pub fn choice(index: usize) -> Choice {
    match index % CHOICES {
        0 | 1 => Choice::Yes,
        2 => Choice::No,
        3 => Choice::Abstain,
        4 => Choice::Approve(vec![0, 2]),
        5 => Choice::Credits(vec![OptionCredits { option: 1, credits: 4 }]),
        _ => Choice::Split(vec![OptionPart { option: 0, part: Fraction::from_micros(1).expect("at most one") }]),
    }
}

/// Mostly a proposal the signer has a part in, sometimes any, rarely a missing one.
pub fn proposal_ref() -> BoxedStrategy<ProposalRef> {
    prop_oneof![
        10 => (0..4usize).prop_map(ProposalRef::Part),
        3 => (0..4usize).prop_map(ProposalRef::Any),
        1 => Just(ProposalRef::Missing),
    ]
    .boxed()
}

fn electorate(pool: usize) -> BoxedStrategy<ElectorateSpec> {
    prop_oneof![
        6 => Just(ElectorateSpec::AllActive),
        1 => (0..CONFIGURABLE_ROLES.len()).prop_map(ElectorateSpec::Role),
        2 => vec(agent_ref(pool), 0..=3).prop_map(ElectorateSpec::Agents),
    ]
    .boxed()
}

fn create_spec(pool: usize) -> BoxedStrategy<CommandSpec> {
    (
        0..PROPOSAL_IDS.len(),
        0..VOTE_TYPES,
        electorate(pool),
        prop_oneof![12 => 1_000..=30_000u64, 1 => Just(0u64)],
        // Often the proposer itself, which is sure to be registered and to come back to veto.
        proptest::option::weighted(0.5, prop_oneof![2 => Just(AgentRef::Signer), 1 => agent_ref(pool)]),
        proptest::bool::weighted(0.3),
        proptest::bool::weighted(0.2),
        prop_oneof![4 => Just(0usize), 2 => Just(1usize), 3 => Just(2usize), 1 => Just(3usize)],
    )
        .prop_map(|(proposal_id, vote_type, electorate, voting_ms, veto, quorum, equal, action)| {
            CommandSpec::Governance(GovernanceSpec::Create {
                proposal_id,
                vote_type,
                electorate,
                voting_ms,
                veto,
                quorum,
                equal,
                action,
            })
        })
        .boxed()
}

/// The governance commands, weighted.
pub fn governance_commands(pool: usize) -> Vec<(u32, BoxedStrategy<CommandSpec>)> {
    let governance = |strategy: BoxedStrategy<GovernanceSpec>| strategy.prop_map(CommandSpec::Governance).boxed();
    vec![
        (6, create_spec(pool)),
        (
            8,
            governance(
                (proposal_ref(), 0..CHOICES)
                    .prop_map(|(proposal, choice)| GovernanceSpec::Cast { proposal, choice })
                    .boxed(),
            ),
        ),
        (4, governance(proposal_ref().prop_map(|proposal| GovernanceSpec::Veto { proposal }).boxed())),
        (
            4,
            governance(
                (proposal_ref(), proptest::bool::weighted(0.5), 1_000..=30_000u64)
                    .prop_map(|(proposal, fresh, voting_ms)| GovernanceSpec::Amend { proposal, fresh, voting_ms })
                    .boxed(),
            ),
        ),
        (1, governance(proposal_ref().prop_map(|proposal| GovernanceSpec::Cancel { proposal }).boxed())),
    ]
}

/// Renders a governance command against `state`, signed by `signer` (an agent, or `None` for the
/// operator), with `resolve` turning agent references into ids.
pub fn render_governance(
    state: &State,
    signer: Option<&AgentId>,
    spec: &GovernanceSpec,
    resolve: &dyn Fn(AgentRef) -> AgentId,
) -> Command {
    let open = |proposal: &Proposal| proposal.state == ProposalState::Open;
    let mine = |proposal: &Proposal, agent: &AgentId| open(proposal) && proposal.proposer.agent() == Some(agent);
    match spec {
        GovernanceSpec::Create {
            proposal_id,
            vote_type: kind,
            electorate,
            voting_ms,
            veto,
            quorum,
            equal,
            action: index,
        } => {
            let eligible = match electorate {
                ElectorateSpec::AllActive => Eligibility::AllActive,
                ElectorateSpec::Role(role) => Eligibility::Roles([name(CONFIGURABLE_ROLES[*role])].into()),
                ElectorateSpec::Agents(agents) => {
                    Eligibility::Agents(agents.iter().map(|agent| resolve(*agent)).collect())
                }
            };
            let action = action(*index, &resolve(AgentRef::Signer));
            // A runnable action is decided by active agents of a role, by a majority with half voting
            // (the rule `proposal.create` holds actions to); the rest keep the generated terms.
            let runnable = !action.is_empty() && action.iter().all(|command| is_actionable(command.kind()));
            // The signer's own role keeps the electorate small enough for generated ballots to
            // reach its quorum now and then.
            let own_role = signer.and_then(|signer| state.registry().get(signer)).map(|agent| agent.role.clone());
            let (vote_type, quorum, eligible) = if runnable {
                let eligible = own_role.map_or(Eligibility::AllActive, |role| Eligibility::Roles([role].into()));
                (VoteType::Plurality, None, eligible)
            } else {
                (vote_type(*kind), (!quorum).then_some(Quorum::None), eligible)
            };
            Command::CreateProposal(CreateProposal {
                proposal_id: name(PROPOSAL_IDS[*proposal_id]),
                title: format!("question {proposal_id}"),
                description: None,
                vote_type,
                quorum,
                eligible,
                weight_source: if *equal { WeightSource::Equal } else { WeightSource::Role },
                voting_ms: *voting_ms,
                veto_holders: veto.iter().map(|holder| resolve(*holder)).collect(),
                action,
            })
        }
        GovernanceSpec::Cast { proposal, choice: index } => Command::CastBallot(CastBallot {
            proposal: resolve_proposal(state, signer, *proposal, &|proposal, agent| {
                open(proposal) && proposal.voter_position(agent).is_some()
            }),
            choice: choice(*index),
        }),
        GovernanceSpec::Veto { proposal } => Command::VetoProposal(VetoProposal {
            proposal: resolve_proposal(state, signer, *proposal, &|proposal, agent| {
                open(proposal) && proposal.terms.veto_holders.contains(agent)
            }),
        }),
        GovernanceSpec::Amend { proposal, fresh, voting_ms } => Command::AmendProposal(AmendProposal {
            proposal: resolve_proposal(state, signer, *proposal, &|proposal, agent| {
                mine(proposal, agent) && proposal.ballots.is_empty() == *fresh
            }),
            title: None,
            description: None,
            vote_type: None,
            quorum: None,
            voting_ms: Some(*voting_ms),
        }),
        GovernanceSpec::Cancel { proposal } => Command::CancelProposal(CancelProposal {
            proposal: resolve_proposal(state, signer, *proposal, &mine),
            reason: None,
        }),
    }
}

fn resolve_proposal(
    state: &State,
    signer: Option<&AgentId>,
    proposal: ProposalRef,
    part: &dyn Fn(&Proposal, &AgentId) -> bool,
) -> u64 {
    let governance = state.governance();
    let newest_first: Vec<u64> = governance.proposals().rev().map(|proposal| proposal.id).collect();
    let any = |index: usize| match newest_first.len() {
        0 => 0,
        count => newest_first[index % count],
    };
    match proposal {
        ProposalRef::Missing => u64::MAX,
        ProposalRef::Any(index) => any(index),
        ProposalRef::Part(index) => {
            let Some(signer) = signer else { return any(index) };
            let candidates: Vec<u64> =
                governance.proposals().filter(|proposal| part(proposal, signer)).map(|proposal| proposal.id).collect();
            match candidates.len() {
                0 => any(index),
                count => candidates[index % count],
            }
        }
    }
}
