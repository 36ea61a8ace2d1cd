//! The JSON shapes of responses.

use std::collections::BTreeSet;

use colony_core::{Accepted, Agent, AgentId, Halt, Name, PublicKey, Rejection};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::problem::Problem;

/// The statuses an agent can be in, as `Agent::status` names them.
pub const AGENT_STATUSES: [&str; 4] = ["active", "unresponsive", "halted", "deregistered"];

/// An agent as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentView {
    /// The agent's id.
    pub id: AgentId,
    /// Its public key.
    pub public_key: PublicKey,
    /// Its role.
    pub role: Name,
    /// What it can do.
    pub capabilities: BTreeSet<Name>,
    /// Its voting weight.
    pub weight: u32,
    /// The agent that spawned it.
    pub parent: Option<AgentId>,
    /// The agent that earns referral income on it.
    pub referrer: Option<AgentId>,
    /// `active`, `unresponsive`, `halted` or `deregistered`.
    #[schemars(extend("enum" = AGENT_STATUSES))]
    pub status: String,
    /// Whether heartbeats arrive within the TTL (independent of halts).
    pub responsive: bool,
    /// The halt in force.
    pub halt: Option<Halt>,
    /// Whether the agent is halted because its balance is below its budget minimum.
    #[serde(default)]
    pub budget_halted: bool,
    /// Registration time (log time, Unix ms).
    pub registered_at_ms: u64,
    /// Last heartbeat (log time, Unix ms).
    pub last_heartbeat_ms: u64,
    /// When it becomes unresponsive without another heartbeat.
    pub heartbeat_deadline_ms: u64,
    /// When it was deregistered.
    pub deregistered_at_ms: Option<u64>,
    /// The highest nonce it has used; a client that lost track of its nonces continues above this.
    pub highest_nonce: u64,
}

impl From<&Agent> for AgentView {
    fn from(agent: &Agent) -> AgentView {
        AgentView {
            id: agent.id.clone(),
            public_key: agent.public_key,
            role: agent.role.clone(),
            capabilities: agent.capabilities.clone(),
            weight: agent.weight,
            parent: agent.parent.clone(),
            referrer: agent.referrer.clone(),
            status: agent.status().to_owned(),
            responsive: agent.liveness == colony_core::Liveness::Active,
            halt: agent.halt.clone(),
            budget_halted: agent.budget_halted,
            registered_at_ms: agent.registered_at_ms,
            last_heartbeat_ms: agent.last_heartbeat_ms,
            heartbeat_deadline_ms: agent.heartbeat_deadline_ms,
            deregistered_at_ms: agent.deregistered_at_ms,
            highest_nonce: agent.highest_nonce(),
        }
    }
}

/// One page of agents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentPage {
    /// The agents on this page, ordered by id.
    pub agents: Vec<AgentView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<AgentId>,
}

/// The result of one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommandResultView {
    /// Whether the command was applied.
    pub ok: bool,
    /// When applied, how: one of [`ACCEPTED_WORDS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ACCEPTED_WORDS))]
    pub status: Option<String>,
    /// Why not, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// The escrow an `escrow.lock` created or (for a repeated task id) returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow_id: Option<u64>,
    /// The task a `task.announce` created or (for a repeated task id) returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<u64>,
    /// The stream that stored a `bus.publish`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// The stream sequence of a `bus.publish` (for a duplicate, the original's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_sequence: Option<u64>,
    /// The messages a `consumer.fetch` delivered (each with its `delivery_count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<crate::bus::BusMessage>>,
    /// Where each dead letter a `dlq.replay` published went: `[stream, sequence]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed: Option<Vec<(String, u64)>>,
    /// The tasks a `task.announce_batch` created, batch by batch, chunk by chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<u64>>,
    /// The proposal a `proposal.create` created or (for a repeated proposal id) returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal: Option<u64>,
    /// The trail's intensity after a `pheromone.deposit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intensity: Option<colony_core::Intensity>,
    /// The lease's new deadline after a `lease.grant` or `lease.keep_alive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    /// The grant's fencing token after a `lock.acquire` granted at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fencing_token: Option<u64>,
    /// The place in the lock's queue (from 1) after a `lock.acquire` that waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u32>,
    /// What a `barrier.arrive` found: the generation joined, the count, whether it tripped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barrier_arrival: Option<BarrierArrivalView>,
    /// What a `kv.put` or `kv.delete` that changed a key did: its revision, and after a put the
    /// key's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv: Option<KvWriteView>,
}

/// The result of a `kv.put` or `kv.delete`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KvWriteView {
    /// The change's revision: a compare-and-swap on the key names it next.
    pub revision: u64,
    /// The key's version after a put (1 when the put created it); absent after a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// The result of a `barrier.arrive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BarrierArrivalView {
    /// The generation arrived in: the signer is released when it trips (`barrier.tripped`).
    pub generation: u64,
    /// Parties arrived in it, the signer included.
    pub arrived: u32,
    /// Whether this arrival completed the count and tripped the barrier.
    pub tripped: bool,
}

impl CommandResultView {
    /// The view of a core result.
    pub fn from_result(result: &Result<Accepted, Rejection>) -> CommandResultView {
        match result {
            Ok(accepted) => {
                let mut view = CommandResultView {
                    ok: true,
                    status: Some(accepted_word(accepted).to_owned()),
                    problem: None,
                    escrow_id: None,
                    task: None,
                    stream: None,
                    stream_sequence: None,
                    deliveries: None,
                    replayed: None,
                    tasks: None,
                    proposal: None,
                    intensity: None,
                    expires_at_ms: None,
                    fencing_token: None,
                    queue_position: None,
                    barrier_arrival: None,
                    kv: None,
                };
                match accepted {
                    Accepted::Escrow { escrow_id, .. } => view.escrow_id = Some(*escrow_id),
                    Accepted::Task { task, .. } => view.task = Some(*task),
                    Accepted::Published { stream, sequence, .. } => {
                        view.stream = Some(stream.to_string());
                        view.stream_sequence = Some(*sequence);
                    }
                    Accepted::Fetched { stream, deliveries } => {
                        view.stream = Some(stream.to_string());
                        view.deliveries = Some(
                            deliveries
                                .iter()
                                .map(|delivery| {
                                    crate::bus::BusMessage::from_stored(
                                        stream,
                                        &delivery.message,
                                        Some(delivery.delivery_count),
                                    )
                                })
                                .collect(),
                        );
                    }
                    Accepted::Replayed { messages } => {
                        view.replayed =
                            Some(messages.iter().map(|(stream, sequence)| (stream.to_string(), *sequence)).collect());
                    }
                    Accepted::Batch { tasks } => view.tasks = Some(tasks.clone()),
                    Accepted::Proposal { proposal, .. } => view.proposal = Some(*proposal),
                    Accepted::Deposited { intensity } => view.intensity = Some(*intensity),
                    Accepted::Lease { expires_at_ms } => view.expires_at_ms = Some(*expires_at_ms),
                    Accepted::LockGranted { fencing_token } => view.fencing_token = Some(*fencing_token),
                    Accepted::LockQueued { position } => view.queue_position = Some(*position),
                    Accepted::BarrierArrived { generation, arrived, tripped } => {
                        view.barrier_arrival =
                            Some(BarrierArrivalView { generation: *generation, arrived: *arrived, tripped: *tripped })
                    }
                    Accepted::KvPut { revision, version } => {
                        view.kv = Some(KvWriteView { revision: *revision, version: Some(*version) })
                    }
                    Accepted::KvDeleted { revision } => {
                        view.kv = Some(KvWriteView { revision: *revision, version: None })
                    }
                    _ => {}
                }
                view
            }
            Err(rejection) => CommandResultView {
                ok: false,
                status: None,
                problem: Some(Problem::from_rejection(rejection)),
                escrow_id: None,
                task: None,
                stream: None,
                stream_sequence: None,
                deliveries: None,
                replayed: None,
                tasks: None,
                proposal: None,
                intensity: None,
                expires_at_ms: None,
                fencing_token: None,
                queue_position: None,
                barrier_arrival: None,
                kv: None,
            },
        }
    }
}

/// Every word [`accepted_word`] answers with.
pub const ACCEPTED_WORDS: [&str; 4] = ["done", "unchanged", "existing", "duplicate"];

/// `done`, `unchanged`, for an escrow lock that found the task's escrow, an announce that found
/// the manager's task or a create that found the proposer's proposal `existing`, and for a durable
/// publish whose message id was seen `duplicate`.
pub fn accepted_word(accepted: &Accepted) -> &'static str {
    match accepted {
        Accepted::Unchanged => "unchanged",
        Accepted::Escrow { existing: true, .. }
        | Accepted::Task { existing: true, .. }
        | Accepted::Proposal { existing: true, .. } => "existing",
        Accepted::Published { duplicate: true, .. } => "duplicate",
        _ => "done",
    }
}

/// The response to a write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubmitResponse {
    /// The log entry that recorded the envelope; durable when this response is sent.
    pub sequence: u64,
    /// The chain hash of the log up to and including that entry (hex). With `sequence`, a receipt:
    /// keep it, and check it later against a signed checkpoint (`GET /v1/log/proof`) or a copy of
    /// the log (`colony audit verify --receipt`).
    pub chain_hash: colony_core::Digest,
    /// The entry's timestamp (log time, Unix ms).
    pub timestamp_ms: u64,
    /// One result per command, in order.
    pub results: Vec<CommandResultView>,
}

/// The server's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatusView {
    /// The server's version.
    pub version: String,
    /// The rules version the log was written under, which is the one this server applies (a log of
    /// other rules is refused at start-up). 0 when the server is older than the field, so that a new
    /// client still reads an old server's status; no server applies version 0.
    #[serde(default)]
    pub rules_version: u32,
    /// The last applied (and durable) entry.
    pub sequence: u64,
    /// The log time of that entry.
    pub timestamp_ms: u64,
    /// Registered agents, tombstones included.
    pub agents: u64,
    /// Entries applied since genesis.
    pub entries: u64,
    /// Commands accepted since genesis.
    pub commands_accepted: u64,
    /// Commands rejected since genesis.
    pub commands_rejected: u64,
    /// The operator's public key.
    pub operator_key: Option<PublicKey>,
    /// When the operator ended bootstrap (log time); absent while it may still act alone on guarded
    /// kinds (the configuration's `guarded`), which after it run only as approved proposals' actions.
    #[serde(default)]
    pub bootstrap_ended_at_ms: Option<u64>,
}

/// A signed checkpoint: the operator's statement that the log up to `sequence` has `chain_hash`.
/// The signature is Ed25519 by `operator_key` over `colony-checkpoint-v1\n` ‖ sequence ‖ chain
/// hash ‖ state sequence ‖ state hash (integers as 8 bytes little-endian, hashes as 32 raw bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckpointView {
    /// The log entry that stores the checkpoint (the one after `sequence`).
    pub record_sequence: u64,
    /// The last entry covered.
    pub sequence: u64,
    /// The chain hash of the log up to and including `sequence`.
    pub chain_hash: colony_core::Digest,
    /// The entry `state_hash` is for (0: none was known when the checkpoint was written).
    pub state_sequence: u64,
    /// The state hash after `state_sequence`.
    pub state_hash: colony_core::Digest,
    /// The operator's signature, hex.
    pub signature: String,
    /// The operator's key (the genesis entry names it).
    pub operator_key: PublicKey,
}

impl CheckpointView {
    /// The view of a checkpoint stored at `record_sequence`.
    pub fn new(
        record_sequence: u64,
        checkpoint: &crate::checkpoint::SignedCheckpoint,
        operator_key: PublicKey,
    ) -> CheckpointView {
        let statement = checkpoint.statement;
        CheckpointView {
            record_sequence,
            sequence: statement.sequence,
            chain_hash: colony_core::Digest(statement.chain),
            state_sequence: statement.state_sequence,
            state_hash: colony_core::Digest(statement.state_hash),
            signature: hex::encode(checkpoint.signature),
            operator_key,
        }
    }

    /// The signed checkpoint this view shows, if its signature is well-formed hex.
    pub fn to_signed(&self) -> Option<crate::checkpoint::SignedCheckpoint> {
        let mut signature = [0; 64];
        hex::decode_to_slice(&self.signature, &mut signature).ok()?;
        Some(crate::checkpoint::SignedCheckpoint {
            statement: crate::checkpoint::CheckpointStatement {
                sequence: self.sequence,
                chain: self.chain_hash.0,
                state_sequence: self.state_sequence,
                state_hash: self.state_hash.0,
            },
            signature,
        })
    }
}

/// A proof that an entry is in the history a signed checkpoint vouches for: fold the digests onto
/// the entry's chain hash, one by one (`SHA-256("colony-chain-v1\n" ‖ chain ‖ digest)`), and the
/// result is the checkpoint's chain hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LogProofView {
    /// The entry proven.
    pub sequence: u64,
    /// Its chain hash in this log: compare it with the receipt's.
    pub chain_hash: colony_core::Digest,
    /// The record digests of entries `sequence + 1 ..= checkpoint.sequence`, in order.
    pub record_digests: Vec<colony_core::Digest>,
    /// The first checkpoint that covers the entry.
    pub checkpoint: CheckpointView,
}

/// The state hash at a sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StateHashView {
    /// The sequence number the hash is for.
    pub sequence: u64,
    /// SHA-256 of the canonical state encoding, hex.
    pub state_hash: colony_core::Digest,
}

/// Serializes wide (`u128`) totals as decimal strings, like amounts.
pub mod wide_amount {
    use schemars::{Schema, SchemaGenerator, json_schema};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Digits of the largest total.
    const DIGITS_MAX: u32 = u128::MAX.ilog10() + 1;

    /// The schema of a total: a string of decimal digits, as wide as the largest.
    pub fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": format!("^[0-9]{{1,{DIGITS_MAX}}}$"),
            "description": "Minor units as a string of decimal digits."
        })
    }

    /// Writes the total as a string.
    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    /// Reads the total from a string.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An agent's wallet as the API shows it. Amounts are strings of minor units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WalletView {
    /// The wallet's agent.
    pub agent: AgentId,
    /// Spendable balance.
    pub balance: colony_core::Amount,
    /// Locked in open escrows this agent pays.
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub held_in_escrow: u128,
    /// The daily spending limit, if any.
    pub daily_limit: Option<colony_core::Amount>,
    /// Spent in the current ledger day (UTC, log time).
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub spent_today: u128,
    /// Whether moving money out of the swarm is forbidden.
    pub no_withdraw: bool,
    /// Whether spending is frozen.
    pub frozen: bool,
    /// The budget minimum, if any.
    pub minimum_balance: Option<colony_core::Amount>,
    /// Paid to other agents, ever.
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub spent_total: u128,
    /// Received from other agents, ever (net of fees).
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub earned_total: u128,
    /// Escrow fees deducted from this agent's payouts, ever.
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub fees_paid_total: u128,
}

impl WalletView {
    /// The view of `agent`'s wallet at log time `now_ms` (an agent that never held money has an
    /// empty one).
    pub fn new(agent: &AgentId, wallet: Option<&colony_core::Wallet>, now_ms: u64) -> WalletView {
        let empty = colony_core::Wallet::default();
        let wallet = wallet.unwrap_or(&empty);
        let today = now_ms / colony_core::ledger::LEDGER_DAY_MS;
        WalletView {
            agent: agent.clone(),
            balance: wallet.balance(),
            held_in_escrow: wallet.held_as_payer,
            daily_limit: wallet.daily_limit,
            spent_today: if wallet.spent_day == today { wallet.spent_today } else { 0 },
            no_withdraw: wallet.no_withdraw,
            frozen: wallet.frozen,
            minimum_balance: wallet.minimum_balance,
            spent_total: wallet.spent_total,
            earned_total: wallet.earned_total,
            fees_paid_total: wallet.fees_paid_total,
        }
    }
}

/// The books as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LedgerView {
    /// Money in circulation (issued by the mint, minus withdrawn).
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub supply: u128,
    /// The sum of all wallet balances.
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub wallets_total: u128,
    /// Fees collected.
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub fees: u128,
    /// Funds held in open escrows.
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub escrow_held: u128,
    /// Open escrows.
    pub open_escrows: u64,
    /// Wallets that exist: funded at some point, or given a policy.
    pub wallets: u64,
    /// Whether the books balance: supply = wallets + fees + escrow held, and every invariant holds.
    pub balanced: bool,
}

/// One page of escrows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EscrowPage {
    /// The escrows on this page, by id.
    pub escrows: Vec<colony_core::Escrow>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<u64>,
}

/// What a subtree of agents (an agent and everything it spawned) spent and earned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CostRollupView {
    /// The subtree's root.
    pub agent: AgentId,
    /// Agents in the subtree, the root included.
    pub agents: u64,
    /// The subtree's balances together.
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub balance: u128,
    /// Paid to other agents (payments inside the subtree count on both sides).
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub spent: u128,
    /// Received from other agents.
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub earned: u128,
    /// Escrow fees deducted from the subtree's payouts.
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub fees_paid: u128,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_word_is_listed_and_every_listed_word_is_used() {
        let stream = Name::new("orders").unwrap();
        let accepted = [
            Accepted::Done,
            Accepted::Unchanged,
            Accepted::Escrow { escrow_id: 1, existing: false },
            Accepted::Escrow { escrow_id: 1, existing: true },
            Accepted::Published { stream: stream.clone(), sequence: 1, duplicate: false },
            Accepted::Published { stream: stream.clone(), sequence: 1, duplicate: true },
            Accepted::Fetched { stream, deliveries: Vec::new() },
            Accepted::Replayed { messages: Vec::new() },
            Accepted::Task { task: 3, existing: false },
            Accepted::Task { task: 3, existing: true },
            Accepted::Proposal { proposal: 4, existing: false },
            Accepted::Proposal { proposal: 4, existing: true },
            Accepted::Deposited { intensity: colony_core::Intensity::from_nanos(10) },
        ];
        let words: BTreeSet<&str> = accepted.iter().map(accepted_word).collect();
        assert_eq!(words, ACCEPTED_WORDS.into_iter().collect());
        let announced = CommandResultView::from_result(&Ok(Accepted::Task { task: 3, existing: true }));
        assert_eq!((announced.task, announced.status.as_deref()), (Some(3), Some("existing")));
        let proposed = CommandResultView::from_result(&Ok(Accepted::Proposal { proposal: 4, existing: false }));
        assert_eq!((proposed.proposal, proposed.status.as_deref()), (Some(4), Some("done")));
    }
}

/// A task as listed: who, what, where it stands and who has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskSummaryView {
    /// The market's id for the task.
    pub id: u64,
    /// The manager's own id for it.
    pub task_id: Name,
    /// Who announced it.
    pub manager: AgentId,
    /// What kind of work.
    pub kind: Name,
    /// Where it stands.
    pub state: colony_core::TaskState,
    /// The most the manager pays.
    pub max_cost: colony_core::Amount,
    /// The winner of the newest award, if any.
    pub winner: Option<AgentId>,
    /// Live bids.
    pub bids: u64,
    /// Awards so far.
    pub attempts: u64,
    /// When it was announced (log time).
    pub announced_at_ms: u64,
    /// When it ended.
    pub ended_at_ms: Option<u64>,
    /// `auction` or `direct`.
    pub distribution: colony_core::market::Distribution,
}

impl TaskSummaryView {
    /// The summary of `task`.
    pub fn new(task: &colony_core::Task) -> TaskSummaryView {
        TaskSummaryView {
            id: task.id,
            task_id: task.terms.task_id.clone(),
            manager: task.manager.clone(),
            kind: task.terms.kind.clone(),
            state: task.state,
            max_cost: task.terms.max_cost,
            winner: task.attempts.last().map(|attempt| attempt.winner.clone()),
            bids: task.bids.len() as u64,
            attempts: task.attempts.len() as u64,
            announced_at_ms: task.announced_at_ms,
            ended_at_ms: task.ended_at_ms,
            distribution: task.terms.distribution,
        }
    }
}

/// One page of tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskPage {
    /// The tasks on this page, by id.
    pub tasks: Vec<TaskSummaryView>,
    /// Pass as `after` to get the next page; absent on the last page. A page may hold fewer tasks than
    /// asked (even none) and still name it: a request looks at a bounded number of tasks.
    pub next_after: Option<u64>,
}

/// A live bid with the score it has now (the bidder's performance score moves it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RankedBidView {
    /// Who bid.
    pub bidder: AgentId,
    /// Its score under the task's weights; the first bid listed wins an award now.
    pub score: colony_core::Fraction,
    /// The bid.
    #[serde(flatten)]
    pub bid: colony_core::Bid,
}

/// A task this one depends on, and what it delivered once completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DependencyView {
    /// The market's id of the dependency.
    pub id: u64,
    /// Its manager's id for it; absent when it is no longer retained.
    pub task_id: Option<Name>,
    /// Where it stands; absent when it is no longer retained.
    pub state: Option<colony_core::TaskState>,
    /// Its result inline, once completed.
    pub result: Option<colony_core::bus::JsonText>,
    /// Or where its result is, once completed.
    pub reference: Option<colony_core::market::ContentReference>,
}

/// One task in full: its terms, its live bids ranked by score, its awards and its dependencies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskView {
    /// The market's id for the task.
    pub id: u64,
    /// Who announced it.
    pub manager: AgentId,
    /// Where it stands.
    pub state: colony_core::TaskState,
    /// What was announced.
    pub terms: colony_core::market::TaskTerms,
    /// Live bids, best first (the order an award takes them in).
    pub bids: Vec<RankedBidView>,
    /// Every award, the current one last.
    pub attempts: Vec<colony_core::Attempt>,
    /// The tasks it depends on, in the order announced.
    pub dependencies: Vec<DependencyView>,
    /// Agents that had the task and may not have it again.
    pub excluded: BTreeSet<AgentId>,
    /// Bidding rounds opened so far.
    pub rounds: u32,
    /// Retries used.
    pub retries: u32,
    /// Why it ended, when it did not complete.
    pub reason: Option<String>,
    /// When it was announced (log time).
    pub announced_at_ms: u64,
    /// When bidding closes (while open).
    pub closes_at_ms: Option<u64>,
    /// The time-driven change it waits for, if any.
    pub deadline_at_ms: Option<u64>,
    /// When it ended.
    pub ended_at_ms: Option<u64>,
}

/// An agent's record as a worker, in the shape of a performance summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReputationView {
    /// The agent.
    pub agent: AgentId,
    /// The exponentially weighted mean of its scored outcomes (1 before any).
    pub performance_score: colony_core::Fraction,
    /// Tasks it took on whose outcome was scored.
    pub tasks: u64,
    /// Of those, completed and paid.
    pub succeeded: u64,
    /// `succeeded / tasks` to three decimals ("0.000" before any task).
    pub success_rate: String,
    /// Completed tasks delivered within the winning bid's time, over completed tasks, to three
    /// decimals ("0.000" before any).
    pub on_time_rate: String,
    /// Mean award-to-submission time of completed tasks, rounded to the millisecond.
    pub mean_completion_ms: u64,
    /// What its completed tasks cost it, as it reported.
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub total_cost: u128,
    /// Awards it declined before accepting.
    pub declined: u64,
    /// What it was paid for completed tasks (the prices locked).
    #[serde(with = "wide_amount")]
    #[schemars(schema_with = "wide_amount::schema")]
    pub earned: u128,
    /// Load units it holds now: the `estimated_load` of every task whose current award is its.
    pub load: u64,
    /// The load it takes on, declared (`task.capacity`) or the default; direct tasks go to it while
    /// its load plus theirs fits.
    pub capacity: u32,
}

impl ReputationView {
    /// The view of `agent`'s record (an agent without one has the record of a newcomer).
    pub fn new(agent: &AgentId, reputation: Option<&colony_core::Reputation>) -> ReputationView {
        let newcomer = colony_core::Reputation::default();
        let reputation = reputation.unwrap_or(&newcomer);
        let mean_completion_ms = match u128::from(reputation.succeeded) {
            0 => 0,
            succeeded => {
                let rounded = (reputation.completion_ms_total + succeeded / 2) / succeeded;
                u64::try_from(rounded).unwrap_or(u64::MAX)
            }
        };
        ReputationView {
            agent: agent.clone(),
            performance_score: reputation.performance,
            tasks: reputation.tasks,
            succeeded: reputation.succeeded,
            success_rate: ratio_to_thousandths(reputation.succeeded, reputation.tasks),
            on_time_rate: ratio_to_thousandths(reputation.on_time, reputation.succeeded),
            mean_completion_ms,
            total_cost: reputation.cost_total,
            declined: reputation.declined,
            earned: reputation.earned_total,
            load: 0,
            capacity: colony_core::limits::AGENT_CAPACITY_DEFAULT,
        }
    }

    /// The view with the agent's current load and capacity.
    pub fn with_load(self, load: u64, capacity: u32) -> ReputationView {
        ReputationView { load, capacity, ..self }
    }
}

/// `part / whole` rounded half up to three decimals, as text ("0.667"); "0.000" when `whole` is 0.
pub fn ratio_to_thousandths(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0.000".to_owned();
    }
    let thousandths = (u128::from(part) * 1_000 + u128::from(whole) / 2) / u128::from(whole);
    format!("{}.{:03}", thousandths / 1_000, thousandths % 1_000)
}

#[cfg(test)]
mod status_view_tests {
    use super::*;

    #[test]
    fn a_status_without_a_rules_version_reads_as_unknown() {
        let old_server = serde_json::json!({
            "version": "0.1.0", "sequence": 7, "timestamp_ms": 1_000, "agents": 2, "entries": 7,
            "commands_accepted": 6, "commands_rejected": 1, "operator_key": null,
        });
        let status: StatusView = serde_json::from_value(old_server).expect("an older server's status");
        assert_eq!((status.rules_version, status.sequence, status.agents), (0, 7, 2));
        let mut current = serde_json::to_value(&status).expect("encodes");
        current["rules_version"] = 3.into();
        let status: StatusView = serde_json::from_value(current).expect("a current status");
        assert_eq!(status.rules_version, 3);
    }
}

#[cfg(test)]
mod market_view_tests {
    use super::*;

    #[test]
    fn rates_round_half_up_to_three_decimals() {
        assert_eq!(ratio_to_thousandths(2, 3), "0.667");
        assert_eq!(ratio_to_thousandths(1, 3), "0.333");
        assert_eq!(ratio_to_thousandths(1, 8), "0.125");
        assert_eq!(ratio_to_thousandths(1, 2_000), "0.001");
        assert_eq!(ratio_to_thousandths(3, 3), "1.000");
        assert_eq!(ratio_to_thousandths(0, 0), "0.000");
    }

    #[test]
    fn the_mean_completion_time_is_rounded_and_a_newcomer_scores_one() {
        let agent: AgentId = "worker-1".parse().unwrap();
        let newcomer = ReputationView::new(&agent, None);
        assert_eq!(
            (newcomer.performance_score, newcomer.tasks, newcomer.mean_completion_ms),
            (colony_core::Fraction::ONE, 0, 0)
        );
        let record = colony_core::Reputation {
            tasks: 3,
            succeeded: 2,
            on_time: 1,
            completion_ms_total: 3,
            ..Default::default()
        };
        let view = ReputationView::new(&agent, Some(&record));
        assert_eq!(
            (view.success_rate.as_str(), view.on_time_rate.as_str(), view.mean_completion_ms),
            ("0.667", "0.500", 2)
        );
    }
}
