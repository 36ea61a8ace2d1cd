//! The ledger's commands: minting, payments, withdrawals, child wallets, and escrow.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{EscrowResolution, LockRequest, PolicyChange, TransferRequest};
use crate::amount::Amount;
use crate::command::Apply;
use crate::ids::{AgentId, Digest, Name};
use crate::limits;
use crate::outcome::{CommandResult, Rejection};
use crate::state::{Context, State};

/// Decodes a present field (even `null`) as `Some`, so that an absent field (`None`, via `default`)
/// means "leave as it is" and `null` means "clear".
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Issues money into an agent's wallet from the mint. Operator only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mint {
    /// The operator's id for this transfer (idempotent).
    pub transfer_id: Name,
    /// The wallet credited.
    pub to: AgentId,
    /// How much.
    pub amount: Amount,
}

impl Apply for Mint {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.mint(context, &self.transfer_id, &self.to, self.amount)
    }
}

/// Takes up to `amount` from an agent's wallet into the swarm's fee account (seed 001: an agent that
/// fails an audit has its credit balance drained). Operator only, and guarded by default, so after
/// bootstrap it runs only as an approved proposal's action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Penalize {
    /// The agent penalized.
    pub agent: AgentId,
    /// The most to take; a wallet holding less is emptied.
    pub amount: Amount,
    /// Why, for the record.
    #[schemars(length(min = 1, max = limits::REASON_BYTES_MAX))]
    pub reason: String,
}

impl Apply for Penalize {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.penalize(context, &self.agent, self.amount, &self.reason)
    }
}

/// The signing agent pays another agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// The payer's id for this transfer: the same id with the same content is one transfer.
    pub transfer_id: Name,
    /// The payee.
    pub to: AgentId,
    /// How much.
    pub amount: Amount,
}

impl Apply for Transfer {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        let request =
            TransferRequest { transfer_id: self.transfer_id.clone(), to: self.to.clone(), amount: self.amount };
        state.transfer(context, &request, None)
    }
}

/// Several payments by the signing agent, applied all or nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBatch {
    /// The transfers, in order.
    #[schemars(length(min = 1, max = limits::TRANSFERS_PER_BATCH_MAX))]
    pub transfers: Vec<TransferRequest>,
}

impl Apply for TransferBatch {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.transfer_batch(context, &self.transfers)
    }
}

/// The signing agent moves money out of the swarm (to the mint).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Withdraw {
    /// The agent's id for this transfer.
    pub transfer_id: Name,
    /// How much.
    pub amount: Amount,
}

impl Apply for Withdraw {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.withdraw(context, &self.transfer_id, self.amount)
    }
}

/// A parent moves money from its child's wallet back to its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// The child.
    pub child: AgentId,
    /// The parent's id for this transfer.
    pub transfer_id: Name,
    /// How much.
    pub amount: Amount,
}

impl Apply for Sweep {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.sweep(context, &self.child, &self.transfer_id, self.amount)
    }
}

/// Sets an agent's wallet policy: its parent (opening a child wallet) or the operator. Absent fields are
/// left as they are; `null` clears a limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureWallet {
    /// The agent whose wallet this is.
    pub agent: AgentId,
    /// Spending per ledger day at most.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub daily_limit: Option<Option<Amount>>,
    /// Forbid moving money out of the swarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_withdraw: Option<bool>,
    /// Freeze spending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen: Option<bool>,
    /// Halt the agent while its balance is below this.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub minimum_balance: Option<Option<Amount>>,
}

impl Apply for ConfigureWallet {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        let change = PolicyChange {
            daily_limit: self.daily_limit,
            no_withdraw: self.no_withdraw,
            frozen: self.frozen,
            minimum_balance: self.minimum_balance,
        };
        state.configure_wallet(context, &self.agent, change)
    }
}

/// The signing agent locks funds for a payee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockEscrow {
    /// Who is paid on release.
    pub payee: AgentId,
    /// How much.
    pub amount: Amount,
    /// Refund to the payer automatically after this long (log time); 24 hours when omitted.
    #[serde(default = "escrow_timeout_ms_default")]
    #[schemars(range(min = limits::ESCROW_TIMEOUT_MS_MIN, max = limits::ESCROW_TIMEOUT_MS_MAX))]
    pub timeout_ms: u64,
    /// The payer's task id: locking again with the same task id returns the same escrow.
    #[serde(default)]
    pub task_id: Option<Name>,
    /// Who may also release, refund, and resolve disputes.
    #[serde(default)]
    pub arbiter: Option<AgentId>,
    /// SHA-256 of a secret; whoever presents the secret may release.
    #[serde(default)]
    pub hashlock: Option<Digest>,
    /// The referrer to credit (else the registered referrer of the party the configuration's
    /// `referral_from` names: by default the payee, who bears the fee).
    #[serde(default)]
    pub referrer: Option<AgentId>,
    /// What the money is for, in a line of free text.
    #[serde(default)]
    #[schemars(length(max = limits::ESCROW_DESCRIPTION_BYTES_MAX))]
    pub description: Option<String>,
}

fn escrow_timeout_ms_default() -> u64 {
    limits::ESCROW_TIMEOUT_MS_DEFAULT
}

impl Apply for LockEscrow {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        let request = LockRequest {
            payee: &self.payee,
            amount: self.amount,
            timeout_ms: self.timeout_ms,
            task_id: self.task_id.as_ref(),
            arbiter: self.arbiter.as_ref(),
            hashlock: self.hashlock,
            referrer: self.referrer.as_ref(),
            description: self.description.as_deref(),
            for_task: None,
        };
        state.lock_escrow(context, request)
    }
}

/// Pays an escrow out to its payee, minus the fee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseEscrow {
    /// The escrow.
    pub escrow: u64,
    /// The hashlock's secret, for a release by someone other than the payer or arbiter.
    #[serde(default)]
    #[schemars(length(max = limits::PREIMAGE_BYTES_MAX))]
    pub preimage: Option<String>,
}

// Settling an escrow the signer is party to stays open to a halted agent, so that a halt never strands
// funds; a disputed escrow's timeout no longer runs and only its arbiter may resolve it, so a halted
// arbiter must still be able to.
impl Apply for ReleaseEscrow {
    const ALLOWED_WHILE_HALTED: bool = true;

    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        if self.preimage.as_ref().is_some_and(|preimage| preimage.len() > limits::PREIMAGE_BYTES_MAX) {
            return Err(Rejection::invalid(
                "preimage",
                format!("must be at most {} bytes", limits::PREIMAGE_BYTES_MAX),
            ));
        }
        state.release_escrow(context, self.escrow, self.preimage.as_deref())
    }
}

/// The payer gives a locked escrow more time: its timeout becomes `timeout_ms` from now, which must be
/// later than the current one. For work that runs longer than planned, without a refund and a new lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendEscrow {
    /// The escrow.
    pub escrow: u64,
    /// The new timeout, from now (log time).
    #[schemars(range(min = limits::ESCROW_TIMEOUT_MS_MIN, max = limits::ESCROW_TIMEOUT_MS_MAX))]
    pub timeout_ms: u64,
}

impl Apply for ExtendEscrow {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.extend_escrow(context, self.escrow, self.timeout_ms)
    }
}

/// The payee (or arbiter) gives an escrow back to its payer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundEscrow {
    /// The escrow.
    pub escrow: u64,
}

impl Apply for RefundEscrow {
    const ALLOWED_WHILE_HALTED: bool = true;

    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.refund_escrow(context, self.escrow)
    }
}

/// A party freezes an escrow for the arbiter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeEscrow {
    /// The escrow.
    pub escrow: u64,
    /// Why.
    #[serde(default)]
    #[schemars(length(max = limits::REASON_BYTES_MAX))]
    pub reason: String,
}

impl Apply for DisputeEscrow {
    const ALLOWED_WHILE_HALTED: bool = true;

    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.dispute_escrow(context, self.escrow, &self.reason)
    }
}

/// The arbiter (or the operator, when none is named) settles a disputed escrow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveEscrow {
    /// The escrow.
    pub escrow: u64,
    /// `"release"`, `"refund"` or `{"split": {"payee_bps": N}}`.
    pub resolution: EscrowResolution,
}

impl Apply for ResolveEscrow {
    const ALLOWED_WHILE_HALTED: bool = true;

    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.resolve_escrow(context, self.escrow, self.resolution)
    }
}
