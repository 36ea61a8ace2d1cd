//! Contract Net auctions: announce, bid, withdraw, and the award that locks the winner's price in
//! escrow in the same entry.
//!
//! # The score
//! `score = w_cost·(1 − cost/max_cost) + w_time·(1 − time/deadline) + w_confidence·confidence +
//! w_reputation·performance`, each term rounded down to a millionth (the weights add up to exactly
//! one, so the score is a [`Fraction`]). Seed 000's example comes out as the seed says: with
//! `max_cost` 10 and a deadline of 1,000 ms, a bid of 5 in 500 ms at confidence 0.9 scores 0.62
//! and beats a bid of 2 in 800 ms at 0.6, which scores 0.56. Ties go to the lower cost, then the
//! earlier bid, then the lower id.

use std::cmp::Reverse;

use sha2::{Digest as _, Sha256};

use super::commands::{AnnounceTask, PlaceBid};
use super::rejections::MarketRejection;
use super::{Attempt, AttemptOutcome, Bid, Distribution, ScoringWeights, Task, TaskState, TaskTerms};
use crate::amount::Amount;
use crate::event::EventKind;
use crate::fraction::{Fraction, MICROS_ONE};
use crate::ids::{AgentId, Digest, Name};
use crate::ledger::LockRequest;
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::registry::{Agent, AgentHandle, Liveness};
use crate::state::{Context, State};

/// A live bid with its score under its task's terms.
#[derive(Clone, Copy, Debug)]
pub struct RankedBid<'a> {
    /// Who bid.
    pub bidder: &'a AgentId,
    /// The bid.
    pub bid: &'a Bid,
    /// Its score, the bidder's performance included.
    pub score: Fraction,
}

/// A bid's score under a task's terms, given the bidder's performance score.
pub fn bid_score(terms: &TaskTerms, bid: &Bid, performance: Fraction) -> Fraction {
    let weights = &terms.weights;
    let max_cost = terms.max_cost.0;
    let cost_headroom = max_cost.saturating_sub(bid.estimated_cost.0);
    let time_headroom = terms.deadline_ms.saturating_sub(bid.estimated_time_ms);
    let micros = weights.cost.of_ratio_floor(cost_headroom, max_cost)
        + weights.time.of_ratio_floor(time_headroom, terms.deadline_ms)
        + weights.confidence.of_ratio_floor(u64::from(bid.confidence.micros()), u64::from(MICROS_ONE))
        + weights.reputation.of_ratio_floor(u64::from(performance.micros()), u64::from(MICROS_ONE));
    Fraction::from_micros(micros).expect("weights that add up to one give a score of at most one")
}

fn check_weights(weights: &ScoringWeights) -> Result<(), Rejection> {
    let sum = [weights.cost, weights.time, weights.confidence, weights.reputation]
        .iter()
        .map(|weight| u64::from(weight.micros()))
        .sum::<u64>();
    if sum != u64::from(MICROS_ONE) {
        return Err(Rejection::invalid(
            "weights",
            format!(
                "must add up to exactly 1 (these add up to {})",
                Fraction::from_micros(sum as u32).map_or_else(|| format!("{sum} millionths"), |sum| sum.to_string())
            ),
        ));
    }
    Ok(())
}

pub(super) fn check_reference(
    reference: Option<&super::ContentReference>,
    field: &'static str,
) -> Result<(), Rejection> {
    if let Some(reference) = reference
        && (reference.uri.is_empty()
            || reference.uri.len() > limits::TASK_REFERENCE_BYTES_MAX
            || reference.uri.chars().any(char::is_control))
    {
        return Err(Rejection::invalid(
            field,
            format!("uri must be 1 to {} bytes without control characters", limits::TASK_REFERENCE_BYTES_MAX),
        ));
    }
    Ok(())
}

/// Refuses inline content above `limit` bytes.
pub(super) fn check_inline(
    content: Option<&crate::bus::JsonText>,
    field: &'static str,
    limit: usize,
) -> Result<(), Rejection> {
    if content.is_some_and(|content| content.as_str().len() > limit) {
        return Err(Rejection::invalid(field, format!("must be at most {limit} bytes of JSON")));
    }
    Ok(())
}

impl State {
    pub(super) fn task_for(&self, id: u64) -> Result<&Task, Rejection> {
        self.market.task(id).ok_or(Rejection::Market(MarketRejection::TaskNotFound { task: id }))
    }

    pub(super) fn task_state_error(task: &Task, action: &'static str) -> Rejection {
        Rejection::Market(MarketRejection::TaskState { task: task.id, state: task.state.name(), action })
    }

    /// The signing agent and its handle, for market commands (the operator has no wallet and does no
    /// work).
    pub(super) fn market_signer(context: &Context) -> Result<(AgentId, AgentHandle), Rejection> {
        Self::signing_agent(context)
            .map_err(|_| Rejection::Unauthorized { reason: "only agents take part in the task market" })
    }

    /// `task.announce`.
    pub(crate) fn announce_task(&mut self, context: &mut Context, command: &AnnounceTask) -> CommandResult {
        let (manager, _) = Self::market_signer(context)?;
        let announcement = Digest(Sha256::digest(postcard::to_stdvec(command).expect("commands always encode")).into());
        if let Some(existing) = self.market.task_by_manager(&manager, &command.task_id) {
            return if existing.announcement == announcement {
                Ok(Accepted::Task { task: existing.id, existing: true })
            } else {
                Err(Rejection::Market(MarketRejection::TaskIdConflict {
                    task_id: command.task_id.clone(),
                    task: existing.id,
                }))
            };
        }
        let terms = self.validate_announcement(&manager, command)?;
        let pending = self.pending_dependencies(&terms)?;
        let open_here = self.market.open_per_manager.get(&manager).copied().unwrap_or(0);
        if open_here as usize >= limits::OPEN_TASKS_PER_MANAGER_MAX {
            return Err(Rejection::LimitReached {
                limit: "open_tasks_per_manager",
                max: limits::OPEN_TASKS_PER_MANAGER_MAX as u64,
            });
        }
        if self.market.open_tasks >= limits::OPEN_TASKS_MAX as u64 {
            return Err(Rejection::LimitReached { limit: "open_tasks", max: limits::OPEN_TASKS_MAX as u64 });
        }
        self.check_funds_for(&terms.payer, u128::from(terms.max_cost.0))?;

        let id = self.file_task(context, manager, terms, announcement);
        if pending.is_empty() {
            self.open_round(context, id);
        } else {
            for dependency in pending {
                self.market.dependents.insert((dependency, id));
            }
        }
        self.evict_ended_tasks();
        Ok(Accepted::Task { task: id, existing: false })
    }

    /// Refuses new tasks costing `max_cost` at most, together, that would take the paying wallet's
    /// committed funds beyond its balance. Announcing costs nothing otherwise, so without this a fresh
    /// agent could fill the market with tasks nobody could ever be paid for; the award still checks
    /// the funds it locks.
    pub(super) fn check_funds_for(&self, payer: &AgentId, max_cost: u128) -> Result<(), Rejection> {
        let committed = self.market.committed_funds(payer).saturating_add(max_cost);
        let balance = self.wallet(payer).map_or(Amount::ZERO, |wallet| wallet.balance());
        if committed > u128::from(balance.0) {
            return Err(Rejection::Market(MarketRejection::AnnounceBeyondFunds {
                payer: payer.clone(),
                committed,
                balance,
            }));
        }
        Ok(())
    }

    /// Files a new task, validated, as waiting, counted as open; the caller opens it or hooks it under
    /// its dependencies.
    pub(super) fn file_task(
        &mut self,
        context: &mut Context,
        manager: AgentId,
        terms: TaskTerms,
        announcement: Digest,
    ) -> u64 {
        let id = self.market.next_task_id;
        self.market.next_task_id += 1;
        let (task_id, kind) = (terms.task_id.clone(), terms.kind.clone());
        let task = Task {
            id,
            manager: manager.clone(),
            terms,
            announcement,
            state: TaskState::Waiting,
            announced_at_ms: context.now_ms,
            closes_at_ms: None,
            rounds: 0,
            bids: Default::default(),
            excluded: Default::default(),
            attempts: Vec::new(),
            retries: 0,
            reason: None,
            ended_at_ms: None,
            deadline_at_ms: None,
        };
        self.market.insert_announced(task);
        context.emit(EventKind::TaskAnnounced { task: id, manager, task_id, kind });
        id
    }

    /// Checks an announcement fully and returns its terms.
    pub(super) fn validate_announcement(
        &self,
        manager: &AgentId,
        command: &AnnounceTask,
    ) -> Result<TaskTerms, Rejection> {
        if command.max_cost == Amount::ZERO {
            return Err(Rejection::invalid("max_cost", "must be positive"));
        }
        if !self.config.task_kinds.contains(&command.kind) {
            return Err(Rejection::Market(MarketRejection::UnknownTaskKind { kind: command.kind.clone() }));
        }
        if !(1..=limits::TASK_DEADLINE_MS_MAX).contains(&command.deadline_ms) {
            return Err(Rejection::invalid(
                "deadline_ms",
                format!("must be between 1 and {} milliseconds", limits::TASK_DEADLINE_MS_MAX),
            ));
        }
        if command.bid_window_ms > limits::BID_WINDOW_MS_MAX {
            return Err(Rejection::invalid(
                "bid_window_ms",
                format!("must be at most {} milliseconds", limits::BID_WINDOW_MS_MAX),
            ));
        }
        if !(1..=limits::VERIFY_WINDOW_MS_MAX).contains(&command.verify_window_ms) {
            return Err(Rejection::invalid(
                "verify_window_ms",
                format!("must be between 1 and {} milliseconds", limits::VERIFY_WINDOW_MS_MAX),
            ));
        }
        check_weights(&command.weights)?;
        super::assignment::check_estimated_load(command.estimated_load)?;
        if command.max_retries > limits::TASK_RETRIES_MAX {
            return Err(Rejection::invalid("max_retries", format!("must be at most {}", limits::TASK_RETRIES_MAX)));
        }
        if command.required_capabilities.len() > limits::REQUIRED_CAPABILITIES_MAX {
            return Err(Rejection::LimitReached {
                limit: "required_capabilities",
                max: limits::REQUIRED_CAPABILITIES_MAX as u64,
            });
        }
        if command.payload.is_some() && command.reference.is_some() {
            return Err(Rejection::invalid("reference", "give the payload inline or by reference, not both"));
        }
        check_inline(command.payload.as_ref(), "payload", limits::TASK_PAYLOAD_BYTES_MAX)?;
        check_reference(command.reference.as_ref(), "reference")?;
        if command.invited.len() > limits::INVITED_PER_TASK_MAX {
            return Err(Rejection::LimitReached {
                limit: "invited_per_task",
                max: limits::INVITED_PER_TASK_MAX as u64,
            });
        }
        let payer = command.payer.clone().unwrap_or_else(|| manager.clone());
        if &payer != manager {
            let child = self.live_payee(&payer, "payer")?;
            if self.registry.by_handle(child).parent.as_ref() != Some(manager) {
                return Err(Rejection::invalid("payer", "must be the manager or one of its children"));
            }
        }
        if let Some(verifier) = &command.verifier {
            self.live_payee(verifier, "verifier")?;
        }
        if let Some(arbiter) = &command.arbiter {
            self.live_payee(arbiter, "arbiter")?;
            if arbiter == manager || arbiter == &payer {
                return Err(Rejection::invalid("arbiter", "must be neither the manager nor the paying wallet"));
            }
        }
        for invited in &command.invited {
            self.live_payee(invited, "invited")?;
            let party = invited == manager
                || invited == &payer
                || Some(invited) == command.verifier.as_ref()
                || Some(invited) == command.arbiter.as_ref();
            if party {
                return Err(Rejection::invalid(
                    "invited",
                    format!("'{invited}' has a part in the task and may not bid"),
                ));
            }
        }
        if command.depends_on.len() > limits::DEPENDENCIES_PER_TASK_MAX {
            return Err(Rejection::LimitReached {
                limit: "dependencies_per_task",
                max: limits::DEPENDENCIES_PER_TASK_MAX as u64,
            });
        }
        let mut depends_on = Vec::with_capacity(command.depends_on.len());
        for (index, task_id) in command.depends_on.iter().enumerate() {
            if task_id == &command.task_id {
                return Err(Rejection::Market(MarketRejection::DependencyCycle { task_id: task_id.clone() }));
            }
            if command.depends_on[..index].contains(task_id) {
                return Err(Rejection::invalid("depends_on", format!("'{task_id}' is named twice")));
            }
            let dependency = self
                .market
                .task_by_manager(manager, task_id)
                .ok_or_else(|| Rejection::Market(MarketRejection::DependencyNotFound { task_id: task_id.clone() }))?;
            depends_on.push(dependency.id);
        }
        Ok(TaskTerms {
            task_id: command.task_id.clone(),
            kind: command.kind.clone(),
            required_capabilities: command.required_capabilities.clone(),
            payload: command.payload.clone(),
            reference: command.reference.clone(),
            max_cost: command.max_cost,
            deadline_ms: command.deadline_ms,
            bid_window_ms: command.bid_window_ms,
            weights: command.weights,
            verifier: command.verifier.clone(),
            arbiter: command.arbiter.clone(),
            min_score: command.min_score,
            max_retries: command.max_retries,
            priority: command.priority,
            depends_on,
            on_dependency_failure: command.on_dependency_failure,
            payer,
            invited: command.invited.clone(),
            verify_window_ms: command.verify_window_ms,
            distribution: command.distribution,
            estimated_load: command.estimated_load,
        })
    }

    /// Opens a bidding round on a task: now until `bid_window_ms` from now.
    pub(super) fn open_round(&mut self, context: &mut Context, id: u64) {
        let closes_at_ms = context.now_ms.saturating_add(self.market.tasks[&id].terms.bid_window_ms);
        self.market.set_state(id, TaskState::Open);
        let task = self.market.tasks.get_mut(&id).expect("the caller found it");
        task.rounds += 1;
        task.closes_at_ms = Some(closes_at_ms);
        let round = task.rounds;
        self.set_task_deadline(id, Some(closes_at_ms));
        self.queue_if_direct(id, context.now_ms);
        context.emit(EventKind::TaskOpened { task: id, closes_at_ms, round });
    }

    /// Moves a task's entry in the deadline index.
    pub(super) fn set_task_deadline(&mut self, id: u64, deadline_ms: Option<u64>) {
        let task = self.market.tasks.get_mut(&id).expect("the caller found it");
        if let Some(previous) = task.deadline_at_ms.take() {
            let removed = self.market.deadlines.remove(&(previous, id));
            assert!(removed, "a task's deadline is indexed");
        }
        task.deadline_at_ms = deadline_ms;
        if let Some(deadline_ms) = deadline_ms {
            self.market.deadlines.insert((deadline_ms, id));
        }
    }

    /// Whether `agent` has a part in `task` that forbids it to bid: manager, payer, verifier, arbiter.
    fn is_party(task: &Task, agent: &AgentId) -> bool {
        Self::is_party_to(&task.manager, &task.terms, agent)
    }

    /// Whether `agent` is the manager, payer, verifier or arbiter under these terms.
    pub(super) fn is_party_to(manager: &AgentId, terms: &TaskTerms, agent: &AgentId) -> bool {
        agent == manager
            || agent == &terms.payer
            || Some(agent) == terms.verifier.as_ref()
            || Some(agent) == terms.arbiter.as_ref()
    }

    /// Whether `agent` could be awarded `task` now: live, not halted, responsive, capable.
    pub(super) fn bidder_fit(&self, terms: &TaskTerms, agent: &AgentId) -> Result<(), Rejection> {
        let handle = self.registry.handle(agent).ok_or_else(|| Rejection::AgentNotFound { agent: agent.clone() })?;
        Self::agent_fit(terms, self.registry.by_handle(handle))
    }

    /// [`State::bidder_fit`] for an agent already looked up.
    pub(super) fn agent_fit(terms: &TaskTerms, record: &Agent) -> Result<(), Rejection> {
        let agent = &record.id;
        if record.deregistered_at_ms.is_some() {
            return Err(Rejection::AgentDeregistered { agent: agent.clone() });
        }
        if record.halt.is_some() || record.budget_halted {
            return Err(Rejection::AgentHalted { agent: agent.clone() });
        }
        if record.liveness == Liveness::Unresponsive {
            return Err(Rejection::Market(MarketRejection::BidderUnresponsive { agent: agent.clone() }));
        }
        if let Some(missing) = terms.required_capabilities.difference(&record.capabilities).next() {
            return Err(Rejection::Market(MarketRejection::MissingCapability { capability: missing.clone() }));
        }
        Ok(())
    }

    /// `task.bid`.
    pub(crate) fn place_bid(&mut self, context: &mut Context, command: &PlaceBid) -> CommandResult {
        let (bidder, bidder_handle) = Self::market_signer(context)?;
        let task = self.task_for(command.task)?;
        let id = task.id;
        match task.state {
            TaskState::Open if task.closes_at_ms.is_some_and(|closes| context.now_ms <= closes) => {}
            TaskState::Waiting => {
                return Err(Self::task_state_error(task, "take bids before its dependencies complete"));
            }
            _ => return Err(Rejection::Market(MarketRejection::BiddingClosed { task: id })),
        }
        if task.terms.distribution == Distribution::Direct {
            return Err(Rejection::Market(MarketRejection::DirectTask { task: id }));
        }
        if Self::is_party(task, &bidder) {
            return Err(Rejection::Market(MarketRejection::OwnTask { task: id }));
        }
        if !task.terms.invited.is_empty() && !task.terms.invited.contains(&bidder) {
            return Err(Rejection::Market(MarketRejection::NotInvited { task: id }));
        }
        if task.excluded.contains(&bidder) {
            return Err(Rejection::Market(MarketRejection::BidderExcluded { task: id }));
        }
        Self::agent_fit(&task.terms, self.registry.by_handle(bidder_handle))?;
        if command.estimated_cost == Amount::ZERO {
            return Err(Rejection::invalid("estimated_cost", "must be positive"));
        }
        if command.estimated_cost > task.terms.max_cost {
            return Err(Rejection::Market(MarketRejection::BidAboveMaxCost { max_cost: task.terms.max_cost }));
        }
        if command.estimated_time_ms > task.terms.deadline_ms {
            return Err(Rejection::Market(MarketRejection::BidBeyondDeadline { deadline_ms: task.terms.deadline_ms }));
        }
        let replaced = task.bids.contains_key(&bidder);
        if !replaced {
            if task.bids.len() >= limits::BIDS_PER_TASK_MAX {
                return Err(Rejection::LimitReached { limit: "bids_per_task", max: limits::BIDS_PER_TASK_MAX as u64 });
            }
            let live_here = self.market.live_bids_per_agent.get(&bidder).copied().unwrap_or(0);
            if live_here as usize >= limits::LIVE_BIDS_PER_AGENT_MAX {
                return Err(Rejection::LimitReached {
                    limit: "live_bids_per_agent",
                    max: limits::LIVE_BIDS_PER_AGENT_MAX as u64,
                });
            }
            if self.market.live_bids >= limits::LIVE_BIDS_MAX as u64 {
                return Err(Rejection::LimitReached { limit: "live_bids", max: limits::LIVE_BIDS_MAX as u64 });
            }
        }

        let bid = Bid {
            estimated_cost: command.estimated_cost,
            estimated_time_ms: command.estimated_time_ms,
            confidence: command.confidence,
            capability_proof: command.capability_proof,
            placed_at_sequence: context.sequence(),
            placed_at_ms: context.now_ms,
        };
        let task = self.market.tasks.get_mut(&id).expect("found above");
        task.bids.insert(bidder.clone(), bid);
        let everyone_invited_bid =
            !task.terms.invited.is_empty() && task.terms.invited.iter().all(|invited| task.bids.contains_key(invited));
        if !replaced {
            *self.market.live_bids_per_agent.entry(bidder.clone()).or_default() += 1;
            self.market.live_bids += 1;
        }
        context.emit(EventKind::TaskBid {
            task: id,
            bidder,
            estimated_cost: command.estimated_cost,
            estimated_time_ms: command.estimated_time_ms,
            confidence: command.confidence,
            replaced,
        });
        if everyone_invited_bid {
            self.award(context, id);
        }
        Ok(Accepted::Done)
    }

    /// `task.withdraw_bid`: a bid may be withdrawn until the task ends; an award already made stands.
    pub(crate) fn withdraw_bid(&mut self, context: &mut Context, id: u64) -> CommandResult {
        let (bidder, _) = Self::market_signer(context)?;
        let task = self.task_for(id)?;
        if !task.bids.contains_key(&bidder) {
            return Err(Rejection::Market(MarketRejection::BidNotFound { task: id }));
        }
        self.drop_bid(id, &bidder);
        context.emit(EventKind::TaskBidWithdrawn { task: id, bidder });
        Ok(Accepted::Done)
    }

    /// Removes a live bid and its counts.
    pub(super) fn drop_bid(&mut self, id: u64, bidder: &AgentId) {
        let task = self.market.tasks.get_mut(&id).expect("the caller found it");
        if task.bids.remove(bidder).is_none() {
            return;
        }
        self.market.live_bids -= 1;
        let count = self.market.live_bids_per_agent.get_mut(bidder).expect("a live bid is counted");
        *count -= 1;
        if *count == 0 {
            self.market.live_bids_per_agent.remove(bidder);
        }
    }

    /// `task.award`: the manager closes bidding now.
    pub(crate) fn award_now(&mut self, context: &mut Context, id: u64) -> CommandResult {
        let task = self.task_for(id)?;
        if context.signer().agent() != Some(&task.manager) {
            return Err(Rejection::Unauthorized { reason: "only the task's manager awards it early" });
        }
        if task.state != TaskState::Open {
            return Err(Self::task_state_error(task, "be awarded"));
        }
        if task.terms.distribution == Distribution::Direct {
            return Err(Rejection::Market(MarketRejection::DirectTask { task: id }));
        }
        self.award(context, id);
        Ok(Accepted::Done)
    }

    /// Awards a task to its best fit bid, locking the price from the paying wallet in the same entry.
    /// Bids whose bidder can no longer do the work are dropped. Ends the task `unfunded` when the payer
    /// cannot pay, `unassigned` when nobody ever bid; after earlier attempts with no bid left, opens
    /// a new round.
    pub(super) fn award(&mut self, context: &mut Context, id: u64) {
        if self.market.tasks[&id].terms.distribution == Distribution::Direct {
            self.award_direct(context, id);
            return;
        }
        let task = &self.market.tasks[&id];
        if let Err(reason) = self.payer_can_act(task) {
            self.end_task(context, id, TaskState::Unfunded, Some(reason));
            return;
        }
        let mut best = None;
        let mut unfit = Vec::new();
        for ranked in self.ranked_bids(task) {
            if self.bidder_fit(&task.terms, ranked.bidder).is_err() {
                unfit.push(ranked.bidder.clone());
            } else if best.is_none() {
                best = Some((ranked.score, ranked.bid.estimated_cost, ranked.bidder.clone()));
            }
        }
        for bidder in unfit {
            self.drop_bid(id, &bidder);
        }
        let Some((score, price, winner)) = best else {
            let task = &self.market.tasks[&id];
            if task.attempts.is_empty() {
                self.end_task(context, id, TaskState::Unassigned, Some("no bids".to_owned()));
            } else if task.rounds as usize >= limits::BID_ROUNDS_PER_TASK_MAX {
                self.end_task(context, id, TaskState::Failed, Some("no bidder left".to_owned()));
            } else {
                self.open_round(context, id);
            }
            return;
        };
        let estimated_time_ms = self.market.tasks[&id].bids[&winner].estimated_time_ms;
        self.lock_award(context, id, winner, price, score, estimated_time_ms);
    }

    /// Locks `price` from the paying wallet for `winner` and records the award (an auction's or a
    /// direct assignment's); ends the task `unfunded` when the escrow cannot be locked.
    pub(super) fn lock_award(
        &mut self,
        context: &mut Context,
        id: u64,
        winner: AgentId,
        price: Amount,
        score: Fraction,
        estimated_time_ms: u64,
    ) {
        let task = &self.market.tasks[&id];
        let payer = task.terms.payer.clone();
        let payer_handle = self.registry.handle(&payer).expect("checked by payer_can_act");
        let timeout_ms = task
            .terms
            .deadline_ms
            .saturating_add(task.terms.verify_window_ms)
            .saturating_add(limits::TASK_ESCROW_GRACE_MS);
        let arbiter = task.terms.arbiter.clone();
        let description = format!("task {id} '{}' ({})", task.terms.task_id, task.terms.kind);
        let request = LockRequest {
            payee: &winner,
            amount: price,
            timeout_ms,
            task_id: None,
            arbiter: arbiter.as_ref(),
            hashlock: None,
            referrer: None,
            description: Some(&description),
            for_task: Some(id),
        };
        let escrow = match self.lock_escrow_from(context, &payer, payer_handle, request) {
            Ok((escrow, _)) => escrow,
            Err(rejection) => {
                // Funds, a freeze, a daily limit, the open-escrow limit, or an arbiter that has left
                // the swarm since the announce: the task cannot be paid as announced.
                let reason = format!("the award's escrow could not be locked: {rejection}");
                self.end_task(context, id, TaskState::Unfunded, Some(reason));
                return;
            }
        };
        self.drop_bid(id, &winner);
        let due_at_ms = context.now_ms.saturating_add(self.market.tasks[&id].terms.deadline_ms);
        self.market.set_state(id, TaskState::Awarded);
        let task = self.market.tasks.get_mut(&id).expect("found above");
        task.closes_at_ms = None;
        task.attempts.push(Attempt {
            winner: winner.clone(),
            escrow,
            price,
            score,
            estimated_time_ms,
            awarded_at_ms: context.now_ms,
            due_at_ms,
            accepted_at_ms: None,
            progress: None,
            submission: None,
            outcome: AttemptOutcome::Current,
            ended_at_ms: None,
        });
        let (task_id, distribution): (Name, _) = (task.terms.task_id.clone(), task.terms.distribution);
        self.set_task_deadline(id, Some(due_at_ms));
        self.hold_load(id, &winner);
        context.emit(EventKind::TaskAwarded {
            task: id,
            task_id,
            winner,
            escrow,
            price,
            score,
            due_at_ms,
            distribution,
        });
    }

    /// A task's live bids in the order an award takes them: higher score, then lower cost, then the
    /// earlier bid, then the lower id. The award and every view of a task rank through this.
    pub fn ranked_bids<'a>(&'a self, task: &'a Task) -> Vec<RankedBid<'a>> {
        let mut ranked: Vec<RankedBid<'a>> = task
            .bids
            .iter()
            .map(|(bidder, bid)| RankedBid {
                bidder,
                bid,
                score: bid_score(&task.terms, bid, self.performance_of(bidder)),
            })
            .collect();
        ranked.sort_unstable_by_key(|ranked| {
            (Reverse(ranked.score), ranked.bid.estimated_cost, ranked.bid.placed_at_sequence, ranked.bidder)
        });
        ranked
    }

    /// Whether the task's manager and paying wallet can still commit money: both live and not halted.
    pub(super) fn payer_can_act(&self, task: &Task) -> Result<(), String> {
        for agent in [&task.manager, &task.terms.payer] {
            let handle = self.registry.handle(agent).expect("a task's parties are registered");
            let record = self.registry.by_handle(handle);
            if record.deregistered_at_ms.is_some() {
                return Err(format!("'{agent}' left the swarm"));
            }
            if record.halt.is_some() || record.budget_halted {
                return Err(format!("'{agent}' is halted"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::{ContentReference, DependencyFailure};
    use std::collections::BTreeSet;

    fn terms(max_cost: u64, deadline_ms: u64) -> TaskTerms {
        TaskTerms {
            task_id: Name::new("t").unwrap(),
            kind: Name::new("analyze").unwrap(),
            required_capabilities: BTreeSet::new(),
            payload: None,
            reference: None::<ContentReference>,
            max_cost: Amount(max_cost),
            deadline_ms,
            bid_window_ms: 2_000,
            weights: ScoringWeights::default(),
            verifier: None,
            arbiter: None,
            min_score: Fraction::from_micros(700_000).unwrap(),
            max_retries: 3,
            priority: 0,
            depends_on: Vec::new(),
            on_dependency_failure: DependencyFailure::Fail,
            payer: AgentId::new("manager").unwrap(),
            invited: BTreeSet::new(),
            verify_window_ms: 1,
            distribution: Distribution::Auction,
            estimated_load: 1,
        }
    }

    fn bid(cost: u64, time_ms: u64, confidence: &str) -> Bid {
        Bid {
            estimated_cost: Amount(cost),
            estimated_time_ms: time_ms,
            confidence: Fraction::parse(confidence).unwrap(),
            capability_proof: None,
            placed_at_sequence: 1,
            placed_at_ms: 0,
        }
    }

    #[test]
    fn seed_000_scoring_example() {
        let terms = terms(10, 1_000);
        let fast_and_sure = bid_score(&terms, &bid(5, 500, "0.9"), Fraction::ONE);
        let cheap_and_slow = bid_score(&terms, &bid(2, 800, "0.6"), Fraction::ONE);
        assert_eq!(fast_and_sure.to_string(), "0.62");
        assert_eq!(cheap_and_slow.to_string(), "0.56");
        assert!(fast_and_sure > cheap_and_slow);
    }

    #[test]
    fn scores_stay_within_one_at_the_extremes() {
        let terms = terms(u64::MAX, u64::MAX);
        // floor(0.4 × (max − 1) / max) = 0.399999, then 0.3 and 0.3.
        assert_eq!(bid_score(&terms, &bid(1, 0, "1"), Fraction::ONE).micros(), 999_999);
        let terms = super::super::TaskTerms {
            weights: ScoringWeights {
                reputation: Fraction::parse("0.1").unwrap(),
                confidence: Fraction::parse("0.2").unwrap(),
                ..ScoringWeights::default()
            },
            ..terms
        };
        assert!(bid_score(&terms, &bid(u64::MAX, u64::MAX, "0"), Fraction::ZERO) == Fraction::ZERO);
    }
}
