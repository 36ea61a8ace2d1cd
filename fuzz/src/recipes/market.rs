//! Task market recipes: announcements (auctioned or direct), bids, awards, a winner's steps,
//! verdicts, cancels, batches and capacities.
//!
//! Tasks are named relative to the state ([`TaskRef`]): mostly one the signer has the part the
//! command needs in (so flows reach their end), sometimes any task or a missing one. Prices are small
//! against the prelude's funds, windows and deadlines short against the recipes' pauses, so that
//! windows close, awards lock escrows, deadlines pass and tasks are retried; a few terms are refused
//! on purpose (a zero price, a deadline of zero, weights that do not add up, an unknown kind).

use arbitrary::{Arbitrary, Result, Unstructured};
use colony_testkit::market::{
    AnnounceSpec, BatchSpec, MARKET_BATCH_IDS, MARKET_TASK_IDS, MarketSpec, TASK_KINDS, TaskRef,
};
use colony_testkit::strategies::{AgentRef, CAPABILITY_CANDIDATES, CommandSpec};

use super::{AgentRecipe, pick};

/// A task a command acts on.
#[derive(Debug, Clone, Copy)]
pub struct TaskRecipe(TaskRef);

impl<'a> Arbitrary<'a> for TaskRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        let index = usize::from(input.arbitrary::<u8>()?);
        Ok(TaskRecipe(match pick(input, &[12, 3, 1])? {
            0 => TaskRef::Part(index),
            1 => TaskRef::Any(index),
            _ => TaskRef::Missing,
        }))
    }
}

/// One market command.
#[derive(Debug)]
pub enum MarketCommand {
    /// `task.announce`.
    Announce(AnnounceRecipe),
    /// `task.bid`: price and time in thousandths of the task's own.
    Bid { task: TaskRecipe, cost_permille: u16, time_permille: u16, confidence_micros: u32 },
    /// `task.withdraw_bid`.
    Withdraw(TaskRecipe),
    /// `task.award`.
    Award(TaskRecipe),
    /// `task.accept`.
    Accept(TaskRecipe),
    /// `task.decline`.
    Decline(TaskRecipe),
    /// `task.progress`.
    Progress { task: TaskRecipe, percent: u8 },
    /// `task.submit`.
    Submit { task: TaskRecipe, inline: bool },
    /// `task.verify`.
    Verify { task: TaskRecipe, score_micros: u32 },
    /// `task.cancel`.
    Cancel(TaskRecipe),
    /// `task.announce_batch`.
    Batch(BatchRecipeSpec),
    /// `task.capacity`.
    Capacity(u8),
}

impl<'a> Arbitrary<'a> for MarketCommand {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        // Bids and a winner's steps come often: an announced task gets anywhere only through them.
        Ok(match pick(input, &[20, 20, 1, 6, 8, 3, 6, 8, 6, 2, 3, 2])? {
            0 => MarketCommand::Announce(input.arbitrary()?),
            1 => MarketCommand::Bid {
                task: input.arbitrary()?,
                cost_permille: input.int_in_range(0..=1_100)?,
                time_permille: input.int_in_range(0..=1_100)?,
                confidence_micros: input.int_in_range(0..=1_000_001)?,
            },
            2 => MarketCommand::Withdraw(input.arbitrary()?),
            3 => MarketCommand::Award(input.arbitrary()?),
            4 => MarketCommand::Accept(input.arbitrary()?),
            5 => MarketCommand::Decline(input.arbitrary()?),
            6 => MarketCommand::Progress { task: input.arbitrary()?, percent: input.int_in_range(0..=110)? },
            7 => MarketCommand::Submit { task: input.arbitrary()?, inline: input.arbitrary()? },
            8 => MarketCommand::Verify { task: input.arbitrary()?, score_micros: input.int_in_range(0..=1_000_001)? },
            9 => MarketCommand::Cancel(input.arbitrary()?),
            10 => MarketCommand::Batch(input.arbitrary()?),
            _ => MarketCommand::Capacity(input.arbitrary()?),
        })
    }
}

/// An announcement's terms.
#[derive(Debug, Arbitrary)]
pub struct AnnounceRecipe {
    task_id: u8,
    capability: u8,
    /// 0 is refused; most prices are small against the prelude's funds.
    max_cost: u16,
    /// In seconds; 0 is refused.
    deadline: u8,
    /// In seconds (pauses between entries are mostly shorter than a minute).
    window: u8,
    verifier: AgentRecipe,
    arbiter: AgentRecipe,
    min_score_micros: u32,
    max_retries: u8,
    depends_on: u8,
    skip_failed_dependencies: bool,
    payer: u8,
    invited: AgentRecipe,
    /// Which conditions apply: each of verifier, arbiter, dependency, child payer, invitation and
    /// capability one time in four, so that most announcements are plain ones bidders can take.
    conditions: u16,
    /// Weights that do not add up to one when 255.
    weights: u8,
    /// One of the configured kinds, or (one time in sixteen) a kind no configuration names.
    kind: u8,
    direct: bool,
    /// 1 to 8 units; 0 (refused) when the byte is 0.
    estimated_load: u8,
}

impl AnnounceRecipe {
    fn applies(&self, condition: u32) -> bool {
        (self.conditions >> (2 * condition)) & 3 == 0
    }

    fn spec(&self) -> AnnounceSpec {
        let kinds = TASK_KINDS.len() - 1;
        AnnounceSpec {
            task_id: usize::from(self.task_id) % MARKET_TASK_IDS.len(),
            capability: self.applies(5).then(|| usize::from(self.capability) % CAPABILITY_CANDIDATES.len()),
            max_cost: u64::from(self.max_cost),
            deadline_ms: u64::from(self.deadline) * 1_000,
            bid_window_ms: u64::from(self.window) * 1_000,
            verifier: self.applies(0).then(|| self.verifier.agent()),
            arbiter: self.applies(1).then(|| self.arbiter.agent()),
            min_score_micros: self.min_score_micros % 1_000_001,
            max_retries: u32::from(self.max_retries % 4),
            depends_on: self
                .applies(2)
                .then(|| usize::from(self.depends_on) % MARKET_TASK_IDS.len())
                .into_iter()
                .collect(),
            skip_failed_dependencies: self.skip_failed_dependencies,
            payer: self.applies(3).then(|| AgentRef::Child(usize::from(self.payer))),
            invited: self.applies(4).then(|| self.invited.agent()).into_iter().collect(),
            verify_window_ms: 3_600_000,
            valid_weights: self.weights != u8::MAX,
            kind: if self.kind % 16 == 15 { kinds } else { usize::from(self.kind) % kinds },
            direct: self.direct,
            estimated_load: if self.estimated_load == 0 { 0 } else { 1 + u32::from(self.estimated_load % 8) },
        }
    }
}

/// A batch's terms.
#[derive(Debug, Arbitrary)]
pub struct BatchRecipeSpec {
    batch_id: u8,
    items: u8,
    batch_size: u8,
    agents: u8,
    max_cost_per_item: u8,
    inline: bool,
    deadline: u8,
}

impl MarketCommand {
    pub(super) fn spec(&self) -> CommandSpec {
        let market = match self {
            MarketCommand::Announce(announce) => MarketSpec::Announce(announce.spec()),
            MarketCommand::Bid { task, cost_permille, time_permille, confidence_micros } => MarketSpec::Bid {
                task: task.0,
                cost_permille: u64::from(*cost_permille),
                time_permille: u64::from(*time_permille),
                confidence_micros: *confidence_micros,
            },
            MarketCommand::Withdraw(task) => MarketSpec::Withdraw { task: task.0 },
            MarketCommand::Award(task) => MarketSpec::Award { task: task.0 },
            MarketCommand::Accept(task) => MarketSpec::Accept { task: task.0 },
            MarketCommand::Decline(task) => MarketSpec::Decline { task: task.0 },
            MarketCommand::Progress { task, percent } => MarketSpec::Progress { task: task.0, percent: *percent },
            MarketCommand::Submit { task, inline } => MarketSpec::Submit { task: task.0, inline: *inline },
            MarketCommand::Verify { task, score_micros } => {
                MarketSpec::Verify { task: task.0, score_micros: *score_micros }
            }
            MarketCommand::Cancel(task) => MarketSpec::Cancel { task: task.0, reason: String::from("changed plans") },
            MarketCommand::Batch(batch) => MarketSpec::Batch(BatchSpec {
                batch_id: usize::from(batch.batch_id) % MARKET_BATCH_IDS.len(),
                items: u32::from(batch.items),
                batch_size: u32::from(batch.batch_size % 8),
                agents: u32::from(batch.agents % 5),
                max_cost_per_item: u64::from(batch.max_cost_per_item),
                inline: batch.inline,
                deadline_ms: u64::from(batch.deadline) * 1_000,
            }),
            MarketCommand::Capacity(max_load) => MarketSpec::Capacity { max_load: u32::from(*max_load) },
        };
        CommandSpec::Market(market)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use arbitrary::{Arbitrary, Unstructured};
    use colony_core::{EntryBody, State};

    use crate::checked;
    use crate::recipes::{StepRecipe, StreamRecipe};

    /// Streams built from deterministic pseudo-random bytes (what the fuzzer starts from before
    /// coverage steers it) pass every check, announce tasks and declare capacities. Carrying a
    /// task further takes steps in the right order, which coverage finds and random bytes rarely do.
    #[test]
    fn random_recipes_announce_tasks_and_keep_every_check() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut accepted = BTreeSet::new();
        for _ in 0..400 {
            let bytes: Vec<u8> = (0..32_768)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            // A derived `Vec` takes its length from the input's last bytes, which random bytes make
            // short; the fuzzer grows its streams, so build one of full length here.
            let mut input = Unstructured::new(&bytes);
            let Ok(genesis) = Arbitrary::arbitrary(&mut input) else { continue };
            let steps = (0..super::super::STEPS_MAX).map_while(|_| StepRecipe::arbitrary(&mut input).ok()).collect();
            let recipe = StreamRecipe { genesis, steps };
            let mut state = State::new();
            for entry in recipe.scenario().entries() {
                let Ok(outcome) = checked::apply(&mut state, &entry) else { continue };
                if let EntryBody::Signed(signed) = &entry.body {
                    for (command, result) in signed.commands.iter().zip(&outcome.commands) {
                        if result.is_ok() && command.kind().starts_with("task.") {
                            accepted.insert(command.kind());
                        }
                    }
                }
            }
        }
        let missing: Vec<&str> =
            ["task.announce", "task.capacity"].into_iter().filter(|kind| !accepted.contains(kind)).collect();
        assert!(missing.is_empty(), "market commands never accepted: {missing:?}");
    }
}
