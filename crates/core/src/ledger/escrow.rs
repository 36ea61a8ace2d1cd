//! Escrow: a payer locks funds for a payee; they are released (minus the fee, part of which goes to
//! a referrer), refunded, expired, or frozen by a dispute until an arbiter resolves it.
//!
//! States and who moves them:
//!
//! ```text
//!            release (payer, arbiter, or hashlock preimage)   → released
//! locked ──  refund (payee or arbiter)                        → refunded
//!            timeout passes (log time)                        → expired (refunded to the payer)
//!            dispute (payer or payee, before the timeout)     → disputed ── resolve (arbiter) → resolved
//!                                                                        └─ its jury's close → resolved
//! ```
//!
//! A dispute of an escrow without an arbiter opens a jury in the same entry (`governance/jury.rs`),
//! whose close settles it; the operator resolves only escrows whose named arbiter left the swarm.
//!
//! The referrer of a release is the one named on the escrow, else the registered referrer of the
//! party the swarm's `referral_from` named when the escrow was locked: by default the payee, who
//! bears the fee (it is deducted from the payout), so that an agent that brings workers in earns
//! from their work; `payer` keeps the earlier rule. A referrer that is deregistered by then gets
//! nothing (its share stays with the fee account).

use crate::config::ReferralFrom;
use crate::outcome::LedgerRejection;
use serde::{Deserialize, Serialize};

use super::PostingAccount;
use crate::amount::{Amount, BASIS_POINTS_ONE, FeeSplit};
use crate::event::EventKind;
use crate::ids::{AgentId, Digest, Name, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, State};

/// Where an escrow stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EscrowState {
    /// Funds held; the timeout runs.
    Locked,
    /// Paid out to the payee (minus fees).
    Released,
    /// Given back to the payer by the payee or arbiter.
    Refunded,
    /// Given back to the payer because the timeout passed.
    Expired,
    /// Frozen by a dispute; the timeout no longer runs.
    Disputed,
    /// Settled by the arbiter (or operator) after a dispute.
    Resolved,
}

impl EscrowState {
    /// Whether funds are still held.
    pub fn is_open(self) -> bool {
        matches!(self, EscrowState::Locked | EscrowState::Disputed)
    }

    /// The state's name.
    pub fn name(self) -> &'static str {
        match self {
            EscrowState::Locked => "locked",
            EscrowState::Released => "released",
            EscrowState::Refunded => "refunded",
            EscrowState::Expired => "expired",
            EscrowState::Disputed => "disputed",
            EscrowState::Resolved => "resolved",
        }
    }
}

/// How an arbiter settles a dispute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EscrowResolution {
    /// Pay the payee, as a release would.
    Release,
    /// Give everything back to the payer.
    Refund,
    /// The payee gets this share (basis points) of the amount, minus the fee on that share; the payer
    /// gets the rest back.
    Split {
        /// The payee's share in basis points (0–10,000).
        #[schemars(range(max = crate::amount::BASIS_POINTS_ONE))]
        payee_bps: u16,
    },
}

/// One escrow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Escrow {
    /// Assigned by the ledger, increasing.
    pub id: u64,
    /// Who locked the funds.
    pub payer: AgentId,
    /// Who gets them on release.
    pub payee: AgentId,
    /// How much is held.
    pub amount: Amount,
    /// The fee, fixed when locked (configuration changes do not touch open escrows).
    pub fee_bps: u16,
    /// The referrer's share of the fee, fixed when locked.
    pub referral_bps: u16,
    /// A referrer named on the escrow (takes precedence over a registered referrer).
    pub referrer: Option<AgentId>,
    /// Whose registered referrer is paid when none is named, fixed when locked.
    pub referral_from: ReferralFrom,
    /// What the money is for.
    pub description: Option<String>,
    /// Who may release, refund and resolve disputes besides the parties.
    pub arbiter: Option<AgentId>,
    /// SHA-256 of a secret whose holder may release.
    pub hashlock: Option<Digest>,
    /// The payer's task id, unique per payer among retained escrows.
    pub task_id: Option<Name>,
    /// The market task whose award locked it: while locked, only that task's commands settle it.
    pub for_task: Option<u64>,
    /// When it expires (log time).
    pub timeout_at_ms: u64,
    /// When it was locked.
    pub created_at_ms: u64,
    /// Where it stands.
    pub state: EscrowState,
    /// Who disputed it and why.
    pub dispute: Option<(AgentId, String)>,
    /// When it was settled.
    pub settled_at_ms: Option<u64>,
    /// What the payee received (net of fees), once settled.
    pub paid_to_payee: Amount,
    /// What went back to the payer, once settled.
    pub refunded_to_payer: Amount,
    /// Fees kept by the swarm, once settled.
    pub fees: Amount,
    /// Referral paid, once settled.
    pub referral: Amount,
    /// The jury judging its dispute (a proposal), when it was disputed without an arbiter.
    #[serde(default)]
    pub jury: Option<u64>,
}

/// Escrow timeouts are between `ESCROW_TIMEOUT_MS_MIN` and `ESCROW_TIMEOUT_MS_MAX`, on a lock as on an
/// extension.
fn check_timeout(timeout_ms: u64) -> Result<(), Rejection> {
    if !(limits::ESCROW_TIMEOUT_MS_MIN..=limits::ESCROW_TIMEOUT_MS_MAX).contains(&timeout_ms) {
        return Err(Rejection::invalid(
            "timeout_ms",
            format!(
                "must be between {} and {} milliseconds",
                limits::ESCROW_TIMEOUT_MS_MIN,
                limits::ESCROW_TIMEOUT_MS_MAX
            ),
        ));
    }
    Ok(())
}

/// A lock request, as carried by `escrow.lock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LockRequest<'a> {
    pub payee: &'a AgentId,
    pub amount: Amount,
    pub timeout_ms: u64,
    pub task_id: Option<&'a Name>,
    pub arbiter: Option<&'a AgentId>,
    pub hashlock: Option<Digest>,
    pub referrer: Option<&'a AgentId>,
    pub description: Option<&'a str>,
    /// The market task locking it.
    pub for_task: Option<u64>,
}

impl State {
    fn escrow_for(&self, id: u64) -> Result<&super::Escrow, Rejection> {
        self.ledger.escrow(id).ok_or(Rejection::Ledger(LedgerRejection::EscrowNotFound { escrow: id }))
    }

    fn require_escrow_state(escrow: &Escrow, expected: EscrowState, action: &'static str) -> Result<(), Rejection> {
        if escrow.state != expected {
            return Err(Rejection::Ledger(LedgerRejection::EscrowState {
                escrow: escrow.id,
                state: escrow.state.name(),
                action,
            }));
        }
        Ok(())
    }

    /// `escrow.lock`.
    pub(crate) fn lock_escrow(&mut self, context: &mut Context, request: LockRequest<'_>) -> CommandResult {
        let Ok((payer, payer_handle)) = Self::signing_agent(context) else {
            return Err(Rejection::Unauthorized { reason: "the operator has no wallet to lock from" });
        };
        self.lock_escrow_from(context, &payer, payer_handle, request)
            .map(|(escrow_id, existing)| Accepted::Escrow { escrow_id, existing })
    }

    /// Locks an escrow from `payer`'s wallet: for `escrow.lock`, its signer; for a task's award, the
    /// task's paying wallet. Returns the escrow and whether it existed already (an idempotent lock).
    pub(crate) fn lock_escrow_from(
        &mut self,
        context: &mut Context,
        payer: &AgentId,
        payer_handle: crate::registry::AgentHandle,
        request: LockRequest<'_>,
    ) -> Result<(u64, bool), Rejection> {
        let payer = payer.clone();
        super::transfer::check_positive(request.amount)?;
        if let Some(task_id) = request.task_id
            && let Some(existing) = self.ledger.escrows_by_task.get(&(payer.clone(), task_id.clone()))
        {
            // A repeated lock for the same task (a payer restarting after a crash) returns the escrow
            // it already has; a different lock under the same task id is a conflict.
            let escrow = &self.ledger.escrows[existing];
            let same = escrow.payee == *request.payee
                && escrow.amount == request.amount
                && escrow.arbiter.as_ref() == request.arbiter
                && escrow.hashlock == request.hashlock
                && escrow.referrer.as_ref() == request.referrer
                && escrow.description.as_deref() == request.description;
            return if same {
                Ok((escrow.id, true))
            } else {
                Err(Rejection::Ledger(LedgerRejection::EscrowTaskConflict {
                    task_id: task_id.clone(),
                    escrow: escrow.id,
                }))
            };
        }
        if request.payee == &payer {
            return Err(Rejection::invalid("payee", "an agent cannot escrow to itself"));
        }
        self.live_payee(request.payee, "payee")?;
        for (field, other) in [("arbiter", request.arbiter), ("referrer", request.referrer)] {
            if let Some(other) = other {
                self.live_payee(other, field)?;
            }
        }
        if request.arbiter.is_some_and(|arbiter| arbiter == &payer || arbiter == request.payee) {
            return Err(Rejection::invalid("arbiter", "the arbiter must be neither payer nor payee"));
        }
        // A party naming itself as referrer would take back part of the fee it owes the swarm.
        if request.referrer.is_some_and(|referrer| referrer == &payer || referrer == request.payee) {
            return Err(Rejection::invalid("referrer", "the referrer must be neither payer nor payee"));
        }
        check_timeout(request.timeout_ms)?;
        if let Some(description) = request.description
            && (description.len() > limits::ESCROW_DESCRIPTION_BYTES_MAX || description.chars().any(char::is_control))
        {
            return Err(Rejection::invalid(
                "description",
                format!("must be at most {} bytes without control characters", limits::ESCROW_DESCRIPTION_BYTES_MAX),
            ));
        }
        if self.ledger.open_escrows >= limits::OPEN_ESCROWS_MAX as u64 {
            return Err(Rejection::LimitReached { limit: "open_escrows", max: limits::OPEN_ESCROWS_MAX as u64 });
        }
        self.check_spend(payer_handle, request.amount, context.now_ms)?;

        let id = self.ledger.next_escrow_id;
        self.ledger.next_escrow_id += 1;
        let timeout_at_ms = context.now_ms.saturating_add(request.timeout_ms);
        self.ledger.post(PostingAccount::Wallet(payer_handle), PostingAccount::EscrowHolding, request.amount);
        self.record_spend(payer_handle, request.amount, context.now_ms);
        self.ledger.wallets.get_mut(&payer_handle).expect("just debited").held_as_payer += u128::from(request.amount.0);
        let escrow = Escrow {
            id,
            payer: payer.clone(),
            payee: request.payee.clone(),
            amount: request.amount,
            fee_bps: self.config.fee_bps,
            referral_bps: self.config.referral_bps,
            referrer: request.referrer.cloned(),
            referral_from: self.config.referral_from,
            description: request.description.map(str::to_owned),
            arbiter: request.arbiter.cloned(),
            hashlock: request.hashlock,
            task_id: request.task_id.cloned(),
            for_task: request.for_task,
            timeout_at_ms,
            created_at_ms: context.now_ms,
            state: EscrowState::Locked,
            dispute: None,
            settled_at_ms: None,
            paid_to_payee: Amount::ZERO,
            refunded_to_payer: Amount::ZERO,
            fees: Amount::ZERO,
            referral: Amount::ZERO,
            jury: None,
        };
        if let Some(task_id) = request.task_id {
            self.ledger.escrows_by_task.insert((payer.clone(), task_id.clone()), id);
        }
        self.ledger.escrow_deadlines.insert((timeout_at_ms, id));
        self.ledger.escrows.insert(id, Box::new(escrow));
        self.ledger.open_escrows += 1;
        context.emit(EventKind::EscrowLocked {
            escrow: id,
            payer: payer.clone(),
            payee: request.payee.clone(),
            amount: request.amount,
            task_id: request.task_id.cloned(),
            timeout_at_ms,
            description: request.description.map(str::to_owned),
        });
        self.apply_budget(context, payer_handle);
        self.evict_settled_escrows();
        Ok((id, false))
    }

    /// Refuses to settle a locked escrow that belongs to a task by the escrow's own commands.
    fn refuse_task_escrow(escrow: &Escrow) -> Result<(), Rejection> {
        match escrow.for_task {
            Some(task) if escrow.state == EscrowState::Locked => {
                Err(Rejection::Market(crate::market::rejections::MarketRejection::EscrowOwnedByTask {
                    escrow: escrow.id,
                    task,
                }))
            }
            _ => Ok(()),
        }
    }

    /// `escrow.release`.
    pub(crate) fn release_escrow(&mut self, context: &mut Context, id: u64, preimage: Option<&str>) -> CommandResult {
        let escrow = self.escrow_for(id)?;
        Self::require_escrow_state(escrow, EscrowState::Locked, "release")?;
        Self::refuse_task_escrow(escrow)?;
        let by_party = match context.signer() {
            Signer::Agent(signer) => signer == &escrow.payer || Some(signer) == escrow.arbiter.as_ref(),
            Signer::Operator => false,
        };
        if !by_party {
            match (escrow.hashlock, preimage) {
                (Some(hashlock), Some(preimage)) => {
                    if super::hashlock_of(preimage.as_bytes()) != hashlock {
                        return Err(Rejection::Ledger(LedgerRejection::HashlockMismatch { escrow: id }));
                    }
                }
                _ => {
                    return Err(Rejection::Unauthorized {
                        reason: "only the payer, the arbiter, or a holder of the hashlock preimage releases an escrow",
                    });
                }
            }
        }
        self.settle(context, id, EscrowState::Released, BASIS_POINTS_ONE as u16);
        Ok(Accepted::Done)
    }

    /// `escrow.refund`: the payee (or arbiter) gives the money back.
    pub(crate) fn refund_escrow(&mut self, context: &mut Context, id: u64) -> CommandResult {
        let escrow = self.escrow_for(id)?;
        Self::require_escrow_state(escrow, EscrowState::Locked, "refund")?;
        Self::refuse_task_escrow(escrow)?;
        let allowed = matches!(context.signer(), Signer::Agent(signer) if signer == &escrow.payee || Some(signer) == escrow.arbiter.as_ref());
        if !allowed {
            return Err(Rejection::Unauthorized { reason: "only the payee or the arbiter refunds an escrow" });
        }
        self.settle(context, id, EscrowState::Refunded, 0);
        Ok(Accepted::Done)
    }

    /// `escrow.extend`: the payer moves a locked escrow's timeout later.
    pub(crate) fn extend_escrow(&mut self, context: &mut Context, id: u64, timeout_ms: u64) -> CommandResult {
        let escrow = self.escrow_for(id)?;
        Self::require_escrow_state(escrow, EscrowState::Locked, "extend")?;
        Self::refuse_task_escrow(escrow)?;
        if context.signer().agent() != Some(&escrow.payer) {
            return Err(Rejection::Unauthorized { reason: "only the payer extends an escrow" });
        }
        check_timeout(timeout_ms)?;
        let timeout_at_ms = context.now_ms.saturating_add(timeout_ms);
        if timeout_at_ms == escrow.timeout_at_ms {
            return Ok(Accepted::Unchanged);
        }
        if timeout_at_ms < escrow.timeout_at_ms {
            // Shortening would let a payer take back, by expiry, money it promised until a later time.
            return Err(Rejection::invalid("timeout_ms", "an extension may not bring the timeout earlier"));
        }
        let escrow = self.ledger.escrows.get_mut(&id).expect("checked above");
        let removed = self.ledger.escrow_deadlines.remove(&(escrow.timeout_at_ms, id));
        assert!(removed, "a locked escrow has a deadline");
        escrow.timeout_at_ms = timeout_at_ms;
        self.ledger.escrow_deadlines.insert((timeout_at_ms, id));
        context.emit(EventKind::EscrowExtended { escrow: id, timeout_at_ms });
        Ok(Accepted::Done)
    }

    /// `escrow.dispute`: a party freezes the escrow before its timeout.
    pub(crate) fn dispute_escrow(&mut self, context: &mut Context, id: u64, reason: &str) -> CommandResult {
        let escrow = self.escrow_for(id)?;
        Self::require_escrow_state(escrow, EscrowState::Locked, "dispute")?;
        let Signer::Agent(signer) = context.signer().clone() else {
            return Err(Rejection::Unauthorized { reason: "only the payer or the payee disputes an escrow" });
        };
        if signer != escrow.payer && signer != escrow.payee {
            return Err(Rejection::Unauthorized { reason: "only the payer or the payee disputes an escrow" });
        }
        if reason.len() > limits::REASON_BYTES_MAX {
            return Err(Rejection::invalid("reason", format!("must be at most {} bytes", limits::REASON_BYTES_MAX)));
        }
        let for_task = escrow.for_task;
        let jury = match &escrow.arbiter {
            None => Some(self.draw_jury(context, id, &escrow.payer.clone(), &escrow.payee.clone(), &signer)?),
            Some(_) => None,
        };
        self.freeze_escrow(context, id, signer, reason.to_owned());
        if let Some(task) = for_task {
            self.task_escrow_disputed(context, task, id);
        }
        if let Some(jury) = jury {
            self.open_jury(context, jury);
        }
        Ok(Accepted::Done)
    }

    /// Freezes a locked escrow for its arbiter: a party's dispute, or a task's verifier rejecting
    /// the result.
    pub(crate) fn freeze_escrow(&mut self, context: &mut Context, id: u64, by: AgentId, reason: String) {
        let escrow = self.ledger.escrows.get_mut(&id).expect("the caller found it");
        assert_eq!(escrow.state, EscrowState::Locked, "only a locked escrow is disputed");
        let removed = self.ledger.escrow_deadlines.remove(&(escrow.timeout_at_ms, id));
        assert!(removed, "a locked escrow has a deadline");
        escrow.state = EscrowState::Disputed;
        escrow.dispute = Some((by.clone(), reason.clone()));
        context.emit(EventKind::EscrowDisputed { escrow: id, by, reason });
    }

    /// `escrow.resolve`: the arbiter (or the operator, when the arbiter left the swarm) settles a
    /// dispute; an escrow under a jury is the jury's.
    pub(crate) fn resolve_escrow(
        &mut self,
        context: &mut Context,
        id: u64,
        resolution: EscrowResolution,
    ) -> CommandResult {
        let escrow = self.escrow_for(id)?;
        Self::require_escrow_state(escrow, EscrowState::Disputed, "resolve")?;
        if let Some(jury) = escrow.jury {
            return Err(Rejection::Ledger(LedgerRejection::EscrowUnderJury { escrow: id, proposal: jury }));
        }
        // The named arbiter resolves; the operator resolves when none is named, or when the named one
        // has left the swarm (a disputed escrow has no timer, so otherwise its funds would be stuck).
        let arbiter_gone =
            |arbiter: &AgentId| self.registry.get(arbiter).is_none_or(|agent| agent.deregistered_at_ms.is_some());
        let allowed = match (&escrow.arbiter, context.signer()) {
            (Some(arbiter), Signer::Agent(signer)) => arbiter == signer,
            (Some(arbiter), Signer::Operator) => arbiter_gone(arbiter),
            (None, Signer::Operator) => true,
            (None, Signer::Agent(_)) => false,
        };
        if !allowed {
            return Err(Rejection::Unauthorized {
                reason: "the escrow's arbiter resolves its dispute (the operator, when none is named or it left the swarm)",
            });
        }
        let payee_bps = match resolution {
            EscrowResolution::Release => BASIS_POINTS_ONE as u16,
            EscrowResolution::Refund => 0,
            EscrowResolution::Split { payee_bps } => {
                if u64::from(payee_bps) > BASIS_POINTS_ONE {
                    return Err(Rejection::invalid("resolution", "payee_bps must be at most 10000"));
                }
                payee_bps
            }
        };
        self.settle(context, id, EscrowState::Resolved, payee_bps);
        Ok(Accepted::Done)
    }

    /// Expires every locked escrow whose timeout has passed, refunding its payer.
    pub(crate) fn expire_escrows(&mut self, context: &mut Context) {
        for _ in 0..limits::EXPIRIES_PER_ENTRY_MAX {
            let Some(&(deadline_ms, id)) = self.ledger.escrow_deadlines.first() else { break };
            if deadline_ms >= context.now_ms {
                break;
            }
            let for_task = self.ledger.escrows[&id].for_task;
            self.settle(context, id, EscrowState::Expired, 0);
            if let Some(task) = for_task {
                self.task_escrow_expired(context, task, id);
            }
        }
    }

    /// Pays out an open escrow: `payee_bps` of it to the payee (minus the fee, split with the
    /// referrer), the rest back to the payer. Used by every way an escrow ends.
    pub(crate) fn settle(&mut self, context: &mut Context, id: u64, new_state: EscrowState, payee_bps: u16) {
        let escrow = self.ledger.escrows.get(&id).expect("the caller found it");
        assert!(escrow.state.is_open(), "only open escrows settle");
        let (amount, state, timeout_at_ms) = (escrow.amount, escrow.state, escrow.timeout_at_ms);
        let (fee_bps, referral_bps, referral_from) = (escrow.fee_bps, escrow.referral_bps, escrow.referral_from);
        // Parties are registered for the life of the log (tombstones keep their handles).
        let payer = self.registry.handle(&escrow.payer).expect("an escrow's payer is registered");
        let payee = self.registry.handle(&escrow.payee).expect("an escrow's payee is registered");
        let named_referrer = escrow
            .referrer
            .as_ref()
            .map(|referrer| self.registry.handle(referrer).expect("an escrow's referrer is registered"));
        if state == EscrowState::Locked {
            let removed = self.ledger.escrow_deadlines.remove(&(timeout_at_ms, id));
            assert!(removed, "a locked escrow has a deadline");
        }
        let to_payee = amount.share_floor(payee_bps);
        let to_payer = amount.checked_sub(to_payee).expect("a share is at most the whole");
        let referred = match referral_from {
            ReferralFrom::Payee => payee,
            ReferralFrom::Payer => payer,
        };
        let referrer = named_referrer
            .or_else(|| self.registry.by_handle(referred).referrer.as_ref().and_then(|id| self.registry.handle(id)))
            .filter(|referrer| self.registry.by_handle(*referrer).deregistered_at_ms.is_none());
        let split = FeeSplit::compute(to_payee, fee_bps, referral_bps, referrer.is_some());

        let holding = PostingAccount::EscrowHolding;
        if split.payee > Amount::ZERO {
            self.ledger.post(holding, PostingAccount::Wallet(payee), split.payee);
        }
        if split.fees > Amount::ZERO {
            self.ledger.post(holding, PostingAccount::Fees, split.fees);
        }
        if let Some(referrer) = referrer
            && split.referral > Amount::ZERO
        {
            self.ledger.post(holding, PostingAccount::Wallet(referrer), split.referral);
            self.ledger.wallets.get_mut(&referrer).expect("just credited").earned_total += u128::from(split.referral.0);
        }
        if to_payer > Amount::ZERO {
            self.ledger.post(holding, PostingAccount::Wallet(payer), to_payer);
        }
        let payer_wallet = self.ledger.wallets.get_mut(&payer).expect("the payer locked from its wallet");
        payer_wallet.held_as_payer -= u128::from(amount.0);
        payer_wallet.spent_total += u128::from(to_payee.0);
        if to_payee > Amount::ZERO {
            let payee_wallet = self.ledger.wallets.entry(payee).or_default();
            payee_wallet.earned_total += u128::from(split.payee.0);
            payee_wallet.fees_paid_total += u128::from(split.fees.0) + u128::from(split.referral.0);
        }

        let record = self.ledger.escrows.get_mut(&id).expect("found above");
        record.state = new_state;
        record.settled_at_ms = Some(context.now_ms);
        record.paid_to_payee = split.payee;
        record.refunded_to_payer = to_payer;
        record.fees = split.fees;
        record.referral = split.referral;
        self.ledger.open_escrows -= 1;
        self.ledger.settled_escrows.insert(id);
        let referrer = referrer.filter(|_| split.referral > Amount::ZERO);
        let referrer_id = referrer.map(|handle| self.registry.by_handle(handle).id.clone());
        context.emit(EventKind::EscrowSettled {
            escrow: id,
            state: new_state,
            by: context.acting_signer(),
            paid_to_payee: split.payee,
            refunded_to_payer: to_payer,
            fees: split.fees,
            referral: split.referral,
            referrer: referrer_id,
        });
        for agent in [Some(payer), Some(payee), referrer].into_iter().flatten() {
            self.apply_budget(context, agent);
        }
    }

    /// Forgets the oldest settled escrows beyond the retention limit (open escrows are never
    /// forgotten). Their task ids become free again.
    fn evict_settled_escrows(&mut self) {
        while self.ledger.escrows.len() > limits::ESCROWS_RETAINED_MAX {
            let Some(oldest) = self.ledger.settled_escrows.pop_first() else { break };
            let escrow = self.ledger.escrows.remove(&oldest).expect("settled escrows are stored");
            if let Some(task_id) = escrow.task_id {
                self.ledger.escrows_by_task.remove(&(escrow.payer, task_id));
            }
        }
    }
}
