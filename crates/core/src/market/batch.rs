//! A batch of items split across agents (seed 004's `BatchCoordinator`): `task.announce_batch`.
//!
//! The items are grouped into batches of `batch_size` in order. Each batch is split over `k`
//! eligible agents, `k = min(agents with room, agents asked, items in the batch)`, taken in the
//! direct-assignment order ([`super::agent_order`]), with the loads of the batch's earlier chunks
//! counted: each of the first `k − 1` agents gets `len div k` items, the last agent the rest (the
//! seed's arithmetic; `k` never exceeds the batch's items, so no chunk is empty). Each chunk is a
//! direct task of the manager, `<batch_id>.<batch>.<chunk>` (both from 0), with the batch's terms and
//! `max_cost = max_cost_per_item × its items`, assigned to its agent at once: its escrow is locked in
//! the same entry, as an award's, and a chunk whose escrow cannot be locked ends `unfunded`. From
//! there a chunk is an ordinary direct task: a decline or a retry goes to the next best agent.
//!
//! The whole batch is checked before anything changes: when some batch finds no eligible agent with
//! room, or any chunk's terms are refused, nothing is announced. The cheap refusals come before the
//! look for agents: the terms, the open-task limits for the fewest chunks the batch can make (one per
//! batch), and the funds, which are exact without a plan (the chunks' `max_cost`s add up to
//! `max_cost_per_item` × the items however they split). The look is the direct-assignment look
//! (`assignment.rs`), walking on past windows that find nobody with room until one finds someone or
//! the population was walked once; every agent it examines is charged to the envelope's budget
//! (`ASSIGNMENT_CANDIDATES_PER_ENVELOPE_MAX`), and a look the budget left cannot pay for in full
//! refuses the command (`limit_reached`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use sha2::{Digest as _, Sha256};

use super::assignment::{Candidate, Look, RankKey};
use super::commands::{AnnounceBatch, AnnounceTask};
use super::rejections::MarketRejection;
use super::{Distribution, ScoringWeights, TaskTerms};
use crate::amount::Amount;
use crate::bus::JsonText;
use crate::ids::{AgentId, Digest, Name};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, State};

/// Seed 004's split of one batch of `len` items over `k` agents (`k ≥ 1`): the index ranges of the
/// chunks, `len div k` items each and the remainder to the last.
pub fn split_batch(len: u32, k: u32) -> Vec<Range<u32>> {
    assert!(k >= 1, "a batch is split over at least one agent");
    let chunk = len / k;
    (0..k).map(|index| index * chunk..if index + 1 < k { (index + 1) * chunk } else { len }).collect()
}

/// One chunk, checked, before anything is filed.
struct PlannedChunk {
    agent: AgentId,
    from_window: bool,
    terms: TaskTerms,
    announcement: Digest,
}

impl AnnounceBatch {
    fn item_total(&self) -> Result<u32, Rejection> {
        match (&self.items, self.item_count, &self.reference) {
            (Some(items), None, None) if !items.is_empty() => {
                u32::try_from(items.len()).ok().filter(|count| *count <= limits::BATCH_ITEMS_MAX).ok_or_else(|| {
                    Rejection::LimitReached { limit: "batch_items", max: u64::from(limits::BATCH_ITEMS_MAX) }
                })
            }
            (None, Some(count), Some(reference)) => {
                super::auction::check_reference(Some(reference), "reference")?;
                if !(1..=limits::BATCH_ITEMS_MAX).contains(&count) {
                    return Err(Rejection::invalid(
                        "item_count",
                        format!("must be between 1 and {}", limits::BATCH_ITEMS_MAX),
                    ));
                }
                Ok(count)
            }
            _ => Err(Rejection::invalid("items", "give the items inline (not empty), or item_count and reference")),
        }
    }

    /// The chunk's payload: its items, or its index range in the referenced content.
    fn chunk_payload(&self, range: &Range<u32>) -> Result<JsonText, Rejection> {
        let text = match (&self.items, &self.reference) {
            (Some(items), _) => {
                let slice = &items[range.start as usize..range.end as usize];
                format!("[{}]", slice.iter().map(JsonText::as_str).collect::<Vec<_>>().join(","))
            }
            (None, Some(reference)) => format!(
                "{{\"batch\":{{\"uri\":{},\"sha256\":\"{}\"}},\"from\":{},\"to\":{}}}",
                JsonText::string(&reference.uri),
                reference.sha256.to_hex(),
                range.start,
                range.end
            ),
            (None, None) => unreachable!("item_total checked that the items are given"),
        };
        JsonText::parse(&text).ok_or_else(|| Rejection::invalid("items", "a chunk's items nest too deeply"))
    }

    /// The announcement of chunk `chunk` of batch `batch`, as a direct task.
    fn chunk_announcement(&self, batch: usize, chunk: usize, range: &Range<u32>) -> Result<AnnounceTask, Rejection> {
        let task_id = Name::new(format!("{}.{batch}.{chunk}", self.batch_id)).map_err(|_| {
            Rejection::invalid(
                "batch_id",
                format!("too long for its chunks' task ids (at most {} bytes in all)", limits::NAME_BYTES_MAX),
            )
        })?;
        let max_cost = self
            .max_cost_per_item
            .0
            .checked_mul(u64::from(range.end - range.start))
            .ok_or_else(|| Rejection::invalid("max_cost_per_item", "a chunk's price overflows"))?;
        Ok(AnnounceTask {
            task_id,
            kind: self.kind.clone(),
            required_capabilities: self.required_capabilities.clone(),
            payload: Some(self.chunk_payload(range)?),
            reference: None,
            max_cost: Amount(max_cost),
            deadline_ms: self.deadline_ms,
            bid_window_ms: self.bid_window_ms,
            weights: ScoringWeights::default(),
            verifier: self.verifier.clone(),
            arbiter: self.arbiter.clone(),
            min_score: self.min_score,
            max_retries: self.max_retries,
            priority: self.priority,
            depends_on: Vec::new(),
            on_dependency_failure: Default::default(),
            payer: self.payer.clone(),
            invited: self.invited.clone(),
            verify_window_ms: self.verify_window_ms,
            distribution: Distribution::Direct,
            estimated_load: self.estimated_load,
        })
    }
}

impl State {
    /// `task.announce_batch`.
    pub(crate) fn announce_batch(&mut self, context: &mut Context, command: &AnnounceBatch) -> CommandResult {
        let (manager, _) = Self::market_signer(context)?;
        let items = command.item_total()?;
        if !(1..=limits::BATCH_SIZE_MAX).contains(&command.batch_size) {
            return Err(Rejection::invalid("batch_size", format!("must be between 1 and {}", limits::BATCH_SIZE_MAX)));
        }
        if !(1..=limits::BATCH_AGENTS_MAX).contains(&command.agents) {
            return Err(Rejection::invalid("agents", format!("must be between 1 and {}", limits::BATCH_AGENTS_MAX)));
        }
        if command.max_cost_per_item == Amount::ZERO {
            return Err(Rejection::invalid("max_cost_per_item", "must be positive"));
        }
        let batches = items.div_ceil(command.batch_size);
        let most_chunks = u64::from(batches) * u64::from(command.agents.min(command.batch_size));
        if most_chunks > limits::BATCH_CHUNKS_MAX as u64 {
            return Err(Rejection::LimitReached { limit: "batch_chunks", max: limits::BATCH_CHUNKS_MAX as u64 });
        }
        // Who may take a chunk depends on the terms, not on the chunk's items: one item stands for all.
        let terms = self.validate_announcement(&manager, &command.chunk_announcement(0, 0, &(0..1))?)?;
        self.check_open_task_room(&manager, u64::from(batches))?;
        let total = u128::from(command.max_cost_per_item.0) * u128::from(items);
        self.check_funds_for(&terms.payer, total)?;
        let look = self.batch_look(&mut context.assignment_candidates_left, &manager, &terms)?;
        let plan = self.plan_batch(&manager, command, items, look)?;
        self.check_open_task_room(&manager, plan.len() as u64)?;

        let mut tasks = Vec::with_capacity(plan.len());
        for chunk in plan {
            let id = self.file_task(context, manager.clone(), chunk.terms, chunk.announcement);
            self.assign(context, id, chunk.agent, chunk.from_window);
            tasks.push(id);
        }
        self.evict_ended_tasks();
        Ok(Accepted::Batch { tasks })
    }

    /// Refuses `chunks` more open tasks of `manager` beyond its limit or the market's.
    fn check_open_task_room(&self, manager: &AgentId, chunks: u64) -> Result<(), Rejection> {
        let open_here = u64::from(self.market.open_per_manager.get(manager).copied().unwrap_or(0));
        if open_here + chunks > limits::OPEN_TASKS_PER_MANAGER_MAX as u64 {
            return Err(Rejection::LimitReached {
                limit: "open_tasks_per_manager",
                max: limits::OPEN_TASKS_PER_MANAGER_MAX as u64,
            });
        }
        if self.market.open_tasks + chunks > limits::OPEN_TASKS_MAX as u64 {
            return Err(Rejection::LimitReached { limit: "open_tasks", max: limits::OPEN_TASKS_MAX as u64 });
        }
        Ok(())
    }

    /// The look a batch plans with: from the market's window, and on to the next windows while they
    /// find nobody with room, until one finds someone or the windows cover the population. Each look
    /// is charged to `budget` before it runs, at the most it can examine; one the budget cannot pay
    /// for refuses the command.
    fn batch_look(&self, budget: &mut usize, manager: &AgentId, terms: &TaskTerms) -> Result<Look, Rejection> {
        let mut after = self.market.assignment_window_after;
        let mut walked = 0usize;
        loop {
            let cost = self.look_cost_bound(manager, terms);
            if cost > *budget {
                return Err(Rejection::LimitReached {
                    limit: "assignment_candidates_per_envelope",
                    max: limits::ASSIGNMENT_CANDIDATES_PER_ENVELOPE_MAX as u64,
                });
            }
            let look = self.look_after(manager, terms, &BTreeSet::new(), after);
            *budget -= look.examined;
            walked += limits::ASSIGNMENT_CANDIDATES_PER_TASK_MAX;
            match look.window_end {
                Some(end) if look.candidates.is_empty() && walked < look.population => after = Some(end),
                _ => return Ok(look),
            }
        }
    }

    /// Every chunk's agent and checked terms from `look`, changing nothing. The agents are ranked
    /// once; after each batch only the agents it chose move (their load grew) or leave (no room
    /// left), so a batch of many small batches costs one pass over the swarm, not one per batch.
    fn plan_batch(
        &self,
        manager: &AgentId,
        command: &AnnounceBatch,
        items: u32,
        look: Look,
    ) -> Result<Vec<PlannedChunk>, Rejection> {
        let mut ranked: BTreeMap<RankKey, Candidate> =
            look.candidates.into_iter().map(|candidate| (candidate.rank_key(), candidate)).collect();
        let chunk_load = u64::from(command.estimated_load);
        let mut plan = Vec::new();
        for (batch, start) in (0..items).step_by(command.batch_size as usize).enumerate() {
            let len = command.batch_size.min(items - start);
            let k = (ranked.len() as u32).min(command.agents).min(len);
            if k == 0 {
                return Err(Rejection::Market(MarketRejection::NoEligibleAgent { batch: batch as u32 }));
            }
            let chosen: Vec<Candidate> =
                (0..k).map(|_| ranked.pop_first().expect("k is at most the candidates").1).collect();
            for (chunk, (range, candidate)) in split_batch(len, k).into_iter().zip(&chosen).enumerate() {
                let range = start + range.start..start + range.end;
                let announcement = command.chunk_announcement(batch, chunk, &range)?;
                if let Some(existing) = self.market.task_by_manager(manager, &announcement.task_id) {
                    return Err(Rejection::Market(MarketRejection::TaskIdConflict {
                        task_id: announcement.task_id.clone(),
                        task: existing.id,
                    }));
                }
                let digest =
                    Digest(Sha256::digest(postcard::to_stdvec(&announcement).expect("commands always encode")).into());
                let terms = self.validate_announcement(manager, &announcement)?;
                plan.push(PlannedChunk {
                    agent: candidate.agent.clone(),
                    from_window: candidate.from_window,
                    terms,
                    announcement: digest,
                });
            }
            for mut candidate in chosen {
                candidate.load += chunk_load;
                if candidate.load + chunk_load <= u64::from(self.agent_capacity(&candidate.agent)) {
                    ranked.insert(candidate.rank_key(), candidate);
                }
            }
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::split_batch;

    #[test]
    fn the_seed_split_gives_the_remainder_to_the_last_agent() {
        assert_eq!(split_batch(100, 3), vec![0..33, 33..66, 66..100]);
        assert_eq!(split_batch(50, 3), vec![0..16, 16..32, 32..50]);
        assert_eq!(split_batch(7, 1), vec![0..7]);
        assert_eq!(split_batch(3, 3), vec![0..1, 1..2, 2..3]);
    }
}
