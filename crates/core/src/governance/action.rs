//! Guarded actions: commands a proposal carries and runs, with the operator's authority, when the swarm
//! approves it (seed 001: "No privileged command is executed directly by any single agent").
//!
//! A proposal's action is a short list of commands, the same bodies an envelope carries, checked when
//! the proposal is created (kinds that may be actions, a bounded size, a yes/no vote type) and kept in
//! its terms, so its seal covers them byte for byte. The close that approves it runs them in that same
//! entry, all or none, and records the result in the decision before sealing it: so an action runs at
//! most once (a proposal closes once), exactly as proposed (nothing can amend it once a ballot is
//! cast), and its result is part of the chain of seals.
//!
//! The operator's guarded kinds: after bootstrap, a command of a kind the configuration names guarded,
//! signed by the operator, is refused (`guarded`); the same command as an approved proposal's action
//! runs. The guard applies to the operator alone: an agent's own rights (a parent halting its child,
//! an arbiter resolving a dispute) are not unilateral power over the swarm.

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use schemars::JsonSchema;

use super::ballot::{Quorum, VoteType};
use super::book::{Eligibility, ProposalTerms, Voter};
use super::commands::EndBootstrap;
use super::ratio::Ratio;
use crate::command::{Apply, Command};
use crate::event::EventKind;
use crate::fraction::MICROS_ONE;
use crate::ids::Signer;
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, State};

/// What became of an approved proposal's action, sealed with its decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionResult {
    /// Every command applied, in order, in the entry that closed the proposal.
    Executed {
        /// Commands applied.
        commands: u32,
    },
    /// A command was refused, so none applied; the proposal is still closed and sealed.
    Failed {
        /// The refused command's position in the action, from 0.
        index: u32,
        /// The refusal's stable code.
        code: String,
    },
}

/// Kinds an action may not hold. Governance's own: an action that creates, votes on or ends proposals
/// would nest decisions inside decisions. And those whose stored form does not read back in a format
/// without field names (they leave out absent fields), or whose answer nobody would read (a fetch).
const NOT_ACTIONS: &[&str] = &[
    "proposal.create",
    "proposal.amend",
    "proposal.cancel",
    "proposal.veto",
    "ballot.cast",
    "governance.bootstrap_end",
    "wallet.configure",
    "consumer.create",
    "consumer.fetch",
];

/// Whether a command of `kind` may be part of a proposal's action.
pub fn is_actionable(kind: &str) -> bool {
    !NOT_ACTIONS.contains(&kind)
}

/// Checks an action before a proposal holding it is filed: a bounded list of commands of kinds that may
/// be actions, bounded in stored bytes, under a vote type whose outcome is approved or not.
pub(crate) fn check_action(action: &[Command], vote_type: &VoteType) -> Result<(), Rejection> {
    if action.is_empty() {
        return Ok(());
    }
    if action.len() > limits::ACTION_COMMANDS_MAX {
        return Err(Rejection::LimitReached { limit: "action_commands", max: limits::ACTION_COMMANDS_MAX as u64 });
    }
    if let Some((index, command)) = action.iter().enumerate().find(|(_, command)| !is_actionable(command.kind())) {
        return Err(Rejection::invalid(
            "action",
            format!("action[{index}] is a `{}`, which cannot be a proposal's action", command.kind()),
        ));
    }
    if stored_size(action) > limits::ACTION_BYTES_MAX {
        return Err(Rejection::LimitReached { limit: "action_bytes", max: limits::ACTION_BYTES_MAX as u64 });
    }
    check_action_vote_type(vote_type)
}

/// Who decides an action, and by how much. A proposer chooses its proposal's electorate, vote type
/// and quorum; were they free for an action, an agent could name itself (or itself and a child it
/// registered) the only voters, or set a quorum of none and a threshold its own weight reaches, and
/// run a mint with the operator's authority: the single agent seed 001 forbids. So an action is
/// decided by an electorate the proposer does not pick one by one (every active agent, or the
/// active agents of some roles), of at least two voters, under a rule that needs a majority (a yes
/// share above one half of the votes cast, a threshold of at least half the electorate's weight, or
/// a ratio of at least one half) and a quorum of at least half the electorate (by count, seed 000's
/// `max(2, n div 2)` ballots, the default; by weight; or by share).
pub(crate) fn check_action_rule(terms: &ProposalTerms, electorate: &[Voter]) -> Result<(), Rejection> {
    if terms.action.is_empty() {
        return Ok(());
    }
    if matches!(terms.eligible, Eligibility::Agents(_)) {
        return Err(Rejection::invalid(
            "eligible",
            "a proposal with an action is decided by every active agent or the active agents of some roles, not a list",
        ));
    }
    if electorate.len() < 2 {
        return Err(Rejection::invalid("eligible", "a proposal with an action needs at least two voters"));
    }
    let eligible_weight: u128 = electorate.iter().map(|voter| u128::from(voter.weight)).sum();
    let majority = match &terms.vote_type {
        VoteType::Plurality | VoteType::Consensus => true,
        VoteType::Supermajority { threshold } => *threshold >= Ratio::HALF,
        VoteType::Threshold { yes_weight } => 2 * u128::from(*yes_weight) >= eligible_weight,
        VoteType::WeightedRatio { required } => 2 * u64::from(required.micros()) >= u64::from(MICROS_ONE),
        _ => false,
    };
    if !majority {
        return Err(Rejection::invalid(
            "vote_type",
            "a proposal with an action needs a majority: a threshold of at least half the electorate's weight, a share or ratio of at least one half",
        ));
    }
    let quorum = match terms.quorum {
        Quorum::None => false,
        // Seed 000's "half": `max(2, n div 2)` ballots, the default quorum.
        Quorum::Ballots(count) => count >= 2 && count as usize >= electorate.len() / 2,
        Quorum::Weight(weight) => 2 * u128::from(weight) >= eligible_weight,
        Quorum::Share(share) => share >= Ratio::HALF,
    };
    if !quorum {
        return Err(Rejection::invalid(
            "quorum",
            "a proposal with an action needs a quorum of at least half the electorate (and two ballots)",
        ));
    }
    Ok(())
}

/// Only an approval runs an action: an option vote has no outcome that means "do it".
pub(crate) fn check_action_vote_type(vote_type: &VoteType) -> Result<(), Rejection> {
    if vote_type.options().is_some() {
        return Err(Rejection::invalid("vote_type", "a proposal with an action is decided by a yes/no vote type"));
    }
    Ok(())
}

/// Bytes of an action's stored encoding, as snapshots and seals hold it.
fn stored_size(action: &[Command]) -> usize {
    #[derive(Serialize)]
    struct Action<'a>(#[serde(with = "stored")] &'a [Command]);
    postcard::to_stdvec(&Action(action)).expect("commands always encode").len()
}

impl State {
    /// Runs an approved proposal's action with the operator's authority, all or none: a command
    /// refused undoes those before it (a refused command changes nothing of itself, so an action of
    /// one command needs no copy; a longer one restores a copy of the state taken before it, a cost
    /// paid only at the rare close of an approved action of several commands).
    pub(crate) fn run_action(&mut self, context: &mut Context, action: &[Command]) -> ActionResult {
        let before = (action.len() > 1).then(|| self.clone());
        let operator_key = self.operator().expect("a proposal closes after genesis").public_key;
        let frame = context.enter_action(operator_key);
        let refused = action
            .iter()
            .enumerate()
            .find_map(|(index, command)| command.apply_to(self, context).err().map(|rejection| (index, rejection)));
        context.leave_action(frame, refused.is_some());
        match refused {
            None => ActionResult::Executed { commands: action.len() as u32 },
            Some((index, rejection)) => {
                if let Some(before) = before {
                    *self = before;
                }
                ActionResult::Failed { index: index as u32, code: rejection.code().to_owned() }
            }
        }
    }

    /// Refuses a guarded kind signed by the operator once bootstrap has ended.
    pub(crate) fn check_guarded(&self, context: &Context, command: &Command) -> Result<(), Rejection> {
        if self.governance.bootstrap_ended_at_ms.is_none() || *context.signer() != Signer::Operator {
            return Ok(());
        }
        let kind = command.kind();
        if self.config.guarded.iter().any(|guarded| guarded.as_str() == kind) {
            return Err(super::rejections::GovernanceRejection::Guarded { kind }.into());
        }
        Ok(())
    }
}

impl Apply for EndBootstrap {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        context.require_operator()?;
        if state.governance.bootstrap_ended_at_ms.is_some() {
            return Ok(Accepted::Unchanged);
        }
        state.governance.bootstrap_ended_at_ms = Some(context.now_ms);
        context.emit(EventKind::BootstrapEnded {});
        Ok(Accepted::Done)
    }
}

/// An action as the state stores it: in JSON, the commands as an envelope carries them; in a format
/// without field names (snapshots, seals), each command as its kind and then its fields, since an
/// internally tagged `type` cannot be found again there. For `#[serde(with = "stored")]`.
pub mod stored {
    use super::*;

    /// Writes an action in its stored form.
    pub fn serialize<S: Serializer>(action: &[Command], serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return action.serialize(serializer);
        }
        let mut sequence = serializer.serialize_seq(Some(action.len()))?;
        for command in action {
            sequence.serialize_element(&Stored(command))?;
        }
        sequence.end()
    }

    /// Reads an action written by [`serialize`].
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Command>, D::Error> {
        if deserializer.is_human_readable() {
            return Vec::<Command>::deserialize(deserializer);
        }
        Ok(Vec::<Owned>::deserialize(deserializer)?.into_iter().map(|owned| owned.0).collect())
    }
}

struct Stored<'a>(&'a Command);

impl Serialize for Stored<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Fields<'a>(&'a Command);
        impl Serialize for Fields<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.0.serialize_fields(serializer)
            }
        }
        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element(self.0.kind())?;
        tuple.serialize_element(&Fields(self.0))?;
        tuple.end()
    }
}

struct Owned(Command);

impl<'de> Deserialize<'de> for Owned {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Owned, D::Error> {
        deserializer.deserialize_tuple(2, OwnedVisitor)
    }
}

struct OwnedVisitor;

impl<'de> Visitor<'de> for OwnedVisitor {
    type Value = Owned;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a command's kind and fields")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Owned, A::Error> {
        let kind: String = sequence.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let command =
            sequence.next_element_seed(KindSeed(&kind))?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok(Owned(command))
    }
}

struct KindSeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KindSeed<'_> {
    type Value = Command;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Command, D::Error> {
        Command::deserialize_kind(self.0, deserializer)
    }
}
