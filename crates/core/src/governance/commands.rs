//! Governance's commands: create, amend, cancel and veto a proposal; cast a ballot.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ballot::{Choice, Quorum, VoteType};
use super::book::{Eligibility, WeightSource};
use crate::command::Apply;
use crate::ids::{AgentId, Name};
use crate::limits;
use crate::outcome::CommandResult;
use crate::state::{Context, State};

/// The signer (an agent or the operator) puts a question to a frozen electorate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProposal {
    /// The proposer's id for the proposal: creating it again with the same fields returns it;
    /// other fields under the same id are refused.
    pub proposal_id: Name,
    /// One line, without control characters.
    #[schemars(length(min = 1, max = limits::PROPOSAL_TITLE_BYTES_MAX))]
    pub title: String,
    /// More, if needed (no control characters but newlines and tabs).
    #[serde(default)]
    #[schemars(length(max = limits::PROPOSAL_DESCRIPTION_BYTES_MAX))]
    pub description: Option<String>,
    /// How ballots become an outcome. Weights are in millionths, so a `threshold`'s `yes_weight`
    /// of seed 001's 4.0 is `4000000`.
    pub vote_type: VoteType,
    /// How many must take part; seed 000's `max(2, voters / 2)` ballots unless given.
    #[serde(default)]
    pub quorum: Option<Quorum>,
    /// Who may vote: `"all_active"` (the default), `{"roles": […]}` or `{"agents": […]}`; resolved to
    /// a list of at most 10,000 voters and frozen, with their weights, when the proposal is created.
    #[serde(default)]
    pub eligible: Eligibility,
    /// Where the weights come from: `role` (the default: the configuration's role weights), `agent`
    /// (each voter's registered weight) or `equal`.
    #[serde(default)]
    pub weight_source: WeightSource,
    /// How long ballots are taken, in log time from now.
    #[schemars(range(min = 1, max = limits::PROPOSAL_VOTING_MS_MAX))]
    pub voting_ms: u64,
    /// Agents any one of whom may veto the proposal while it is open (none unless given).
    #[serde(default)]
    #[schemars(length(max = limits::VETO_HOLDERS_MAX))]
    pub veto_holders: BTreeSet<AgentId>,
    /// Commands to run, with the operator's authority, all or none, at the close that approves the
    /// proposal (at most 8, 16 KiB stored; no governance commands): the way a guarded kind runs once
    /// bootstrap has ended. A proposal with an action takes a yes/no vote type.
    #[serde(default, with = "super::action::stored")]
    #[schemars(with = "Vec<crate::command::Command>", length(max = limits::ACTION_COMMANDS_MAX))]
    pub action: Vec<crate::command::Command>,
}

impl Apply for CreateProposal {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.create_proposal(context, self)
    }
}

/// The proposer changes an open proposal's terms before anyone has voted on them. The electorate
/// and its weights never change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendProposal {
    /// The proposal.
    pub proposal: u64,
    /// A new title.
    #[serde(default)]
    #[schemars(length(min = 1, max = limits::PROPOSAL_TITLE_BYTES_MAX))]
    pub title: Option<String>,
    /// A new description.
    #[serde(default)]
    #[schemars(length(max = limits::PROPOSAL_DESCRIPTION_BYTES_MAX))]
    pub description: Option<String>,
    /// A new vote type.
    #[serde(default)]
    pub vote_type: Option<VoteType>,
    /// A new quorum.
    #[serde(default)]
    pub quorum: Option<Quorum>,
    /// A new deadline: ballots are taken for this long from now.
    #[serde(default)]
    #[schemars(range(min = 1, max = limits::PROPOSAL_VOTING_MS_MAX))]
    pub voting_ms: Option<u64>,
}

impl Apply for AmendProposal {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.amend_proposal(context, self)
    }
}

/// The proposer or the operator withdraws an open proposal. It is never sealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelProposal {
    /// The proposal.
    pub proposal: u64,
    /// Why, in a sentence.
    #[serde(default)]
    #[schemars(length(max = limits::REASON_BYTES_MAX))]
    pub reason: Option<String>,
}

impl Apply for CancelProposal {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.cancel_proposal(context, self)
    }
}

/// The signing voter casts its ballot on an open proposal, or replaces the one it cast: one live
/// ballot per voter, changeable until the proposal closes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CastBallot {
    /// The proposal.
    pub proposal: u64,
    /// The choice, of a kind the proposal's vote type takes: `"yes"`, `"no"`, `"abstain"`,
    /// `{"value": "0.8"}`, `{"approve": [0, 2]}`, `{"rank": [2, 0]}`, `{"credits": [{"option": 0,
    /// "credits": 9}]}` or `{"split": [{"option": 0, "part": "0.5"}, …]}`.
    pub choice: Choice,
}

impl Apply for CastBallot {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.cast_ballot(context, self)
    }
}

/// A veto holder closes an open proposal as rejected, whatever its ballots say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VetoProposal {
    /// The proposal.
    pub proposal: u64,
}

impl Apply for VetoProposal {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.veto_proposal(context, self)
    }
}

/// The operator ends bootstrap, for good: from then on a guarded kind (named by the configuration)
/// signed by the operator is refused, and runs only as an approved proposal's action. Until then the
/// operator acts alone, as a swarm with no voters yet must.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndBootstrap {}
