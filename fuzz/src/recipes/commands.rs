//! Command recipes, one enum per family.
//!
//! The families are chosen first and their commands evenly within each, so that the bus's eight
//! commands and the escrow's six are not drowned by the registry's nine: streams get to fetch, ack and
//! dead-letter, and escrows to be disputed and resolved.

use arbitrary::{Arbitrary, Result, Unstructured};
use colony_core::limits;
use colony_testkit::strategies::{
    AckChoice, BUS_STREAMS, CommandSpec, ConsumerVariant, DeadLetterRef, DeliveryRef, PayloadChoice, StreamVariant,
    TASK_IDS,
};

use super::{
    AckRecipe, AgentRecipe, AmountRecipe, CapabilitiesRecipe, ConfigRecipe, ConsumerVariantRecipe, DeadLetterRecipe,
    DeliveryRecipe, EscrowRecipe, LimitRecipe, PayloadRecipe, PreimageRecipe, ReasonRecipe, ResolutionRecipe,
    RoleRecipe, StreamVariantRecipe, TOKEN_POOL, TRANSFERS_PER_BATCH, TimeoutRecipe, TransferIdRecipe, TransferRecipe,
    WeightRecipe, pick,
};

/// One command, of any family.
#[derive(Debug)]
pub enum CommandRecipe {
    /// Agents, the configuration and read tokens.
    Registry(RegistryCommand),
    /// Mints, transfers, withdrawals, sweeps and wallet policies.
    Ledger(LedgerCommand),
    /// Escrows, from lock to settlement.
    Escrow(EscrowCommand),
    /// Durable streams, consumers and dead letters.
    Bus(BusCommand),
    /// The task market: auctions, direct tasks, batches, a winner's steps and verdicts.
    Market(super::market::MarketCommand),
}

impl<'a> Arbitrary<'a> for CommandRecipe {
    fn arbitrary(input: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match pick(input, &[30, 20, 20, 30, 30])? {
            0 => CommandRecipe::Bus(input.arbitrary()?),
            1 => CommandRecipe::Ledger(input.arbitrary()?),
            2 => CommandRecipe::Escrow(input.arbitrary()?),
            3 => CommandRecipe::Registry(input.arbitrary()?),
            _ => CommandRecipe::Market(input.arbitrary()?),
        })
    }
}

impl CommandRecipe {
    pub(super) fn spec(&self) -> CommandSpec {
        match self {
            CommandRecipe::Registry(command) => command.spec(),
            CommandRecipe::Ledger(command) => command.spec(),
            CommandRecipe::Escrow(command) => command.spec(),
            CommandRecipe::Bus(command) => command.spec(),
            CommandRecipe::Market(command) => command.spec(),
        }
    }
}

/// A command of the registry's family. Each variant is the command of the same name; its fields are
/// the recipes of its choices.
#[derive(Arbitrary, Debug)]
#[allow(missing_docs)]
pub enum RegistryCommand {
    Heartbeat,
    Register {
        agent: AgentRecipe,
        key: super::KeyRecipe,
        role: RoleRecipe,
        capabilities: CapabilitiesRecipe,
        weight: Option<WeightRecipe>,
        parent: Option<AgentRecipe>,
        referrer: Option<AgentRecipe>,
    },
    Update {
        agent: AgentRecipe,
        role: Option<RoleRecipe>,
        capabilities: Option<CapabilitiesRecipe>,
        weight: Option<WeightRecipe>,
    },
    Halt {
        agent: AgentRecipe,
        reason: ReasonRecipe,
    },
    Resume {
        agent: AgentRecipe,
    },
    Deregister {
        agent: AgentRecipe,
    },
    SetConfig(ConfigRecipe),
    IssueReadToken {
        token: u8,
        label: ReasonRecipe,
        /// Milliseconds after the stream's start, if it expires.
        expires_after_ms: Option<u32>,
    },
    RevokeReadToken {
        token: u8,
    },
}

impl RegistryCommand {
    fn spec(&self) -> CommandSpec {
        match self {
            RegistryCommand::Heartbeat => CommandSpec::Heartbeat,
            RegistryCommand::Register { agent, key, role, capabilities, weight, parent, referrer } => {
                CommandSpec::Register {
                    agent: agent.agent(),
                    key: key.key(),
                    role: role.name(),
                    capabilities: capabilities.names(),
                    weight: weight.map(WeightRecipe::weight),
                    parent: parent.map(AgentRecipe::agent),
                    referrer: referrer.map(AgentRecipe::agent),
                }
            }
            RegistryCommand::Update { agent, role, capabilities, weight } => CommandSpec::Update {
                agent: agent.agent(),
                role: role.map(RoleRecipe::name),
                capabilities: capabilities.map(CapabilitiesRecipe::names),
                weight: weight.map(WeightRecipe::weight),
            },
            RegistryCommand::Halt { agent, reason } => {
                CommandSpec::Halt { agent: agent.agent(), reason: reason.text() }
            }
            RegistryCommand::Resume { agent } => CommandSpec::Resume { agent: agent.agent() },
            RegistryCommand::Deregister { agent } => CommandSpec::Deregister { agent: agent.agent() },
            RegistryCommand::SetConfig(config) => CommandSpec::SetConfig { config: config.config() },
            RegistryCommand::IssueReadToken { token, label, expires_after_ms } => CommandSpec::IssueReadToken {
                token: usize::from(*token) % TOKEN_POOL,
                label: label.text(),
                expires_at_ms: expires_after_ms.map(|after_ms| colony_testkit::DEFAULT_START_MS + u64::from(after_ms)),
            },
            RegistryCommand::RevokeReadToken { token } => {
                CommandSpec::RevokeReadToken { token: usize::from(*token) % TOKEN_POOL }
            }
        }
    }
}

/// A command of the ledger's family (escrows apart).
#[derive(Arbitrary, Debug)]
#[allow(missing_docs)]
pub enum LedgerCommand {
    Transfer(TransferRecipe),
    Mint {
        transfer_id: TransferIdRecipe,
        to: AgentRecipe,
        amount: AmountRecipe,
    },
    TransferBatch(BatchRecipe),
    Withdraw {
        transfer_id: TransferIdRecipe,
        amount: AmountRecipe,
    },
    Sweep {
        child: AgentRecipe,
        transfer_id: TransferIdRecipe,
        amount: AmountRecipe,
    },
    ConfigureWallet {
        agent: AgentRecipe,
        daily_limit: Option<Option<LimitRecipe>>,
        no_withdraw: Option<bool>,
        frozen: Option<bool>,
        minimum_balance: Option<Option<LimitRecipe>>,
    },
    /// The signer's last money-moving command again, verbatim.
    Repeat,
}

impl LedgerCommand {
    fn spec(&self) -> CommandSpec {
        match self {
            LedgerCommand::Transfer(transfer) => CommandSpec::Transfer(transfer.spec()),
            LedgerCommand::Mint { transfer_id, to, amount } => {
                CommandSpec::Mint { transfer_id: transfer_id.choice(), to: to.agent(), amount: amount.amount() }
            }
            LedgerCommand::TransferBatch(BatchRecipe::Transfers(transfers)) => CommandSpec::TransferBatch {
                transfers: transfers.iter().take(TRANSFERS_PER_BATCH).map(|transfer| transfer.spec()).collect(),
            },
            LedgerCommand::TransferBatch(BatchRecipe::OneTooLong(transfer)) => {
                CommandSpec::TransferBatch { transfers: vec![transfer.spec(); limits::TRANSFERS_PER_BATCH_MAX + 1] }
            }
            LedgerCommand::Withdraw { transfer_id, amount } => {
                CommandSpec::Withdraw { transfer_id: transfer_id.choice(), amount: amount.amount() }
            }
            LedgerCommand::Sweep { child, transfer_id, amount } => {
                CommandSpec::Sweep { child: child.agent(), transfer_id: transfer_id.choice(), amount: amount.amount() }
            }
            LedgerCommand::ConfigureWallet { agent, daily_limit, no_withdraw, frozen, minimum_balance } => {
                CommandSpec::ConfigureWallet {
                    agent: agent.agent(),
                    daily_limit: daily_limit.map(|limit| limit.map(LimitRecipe::units)),
                    no_withdraw: *no_withdraw,
                    frozen: *frozen,
                    minimum_balance: minimum_balance.map(|minimum| minimum.map(LimitRecipe::units)),
                }
            }
            LedgerCommand::Repeat => CommandSpec::Repeat,
        }
    }
}

/// The transfers of a linked batch.
#[derive(Debug)]
pub enum BatchRecipe {
    /// Up to [`TRANSFERS_PER_BATCH`] transfers.
    Transfers(Vec<TransferRecipe>),
    /// `TRANSFERS_PER_BATCH_MAX + 1` copies of one transfer.
    OneTooLong(TransferRecipe),
}

/// A command of the escrow's family.
#[derive(Arbitrary, Debug)]
#[allow(missing_docs)]
pub enum EscrowCommand {
    Lock {
        payee: AgentRecipe,
        amount: AmountRecipe,
        timeout: TimeoutRecipe,
        task: Option<u8>,
        arbiter: Option<AgentRecipe>,
        hashlock: Option<u8>,
        referrer: Option<AgentRecipe>,
    },
    Release {
        escrow: EscrowRecipe,
        preimage: PreimageRecipe,
    },
    Refund {
        escrow: EscrowRecipe,
    },
    Extend {
        escrow: EscrowRecipe,
        timeout: TimeoutRecipe,
    },
    Dispute {
        escrow: EscrowRecipe,
        reason: ReasonRecipe,
    },
    Resolve {
        escrow: EscrowRecipe,
        resolution: ResolutionRecipe,
    },
}

impl EscrowCommand {
    fn spec(&self) -> CommandSpec {
        match self {
            EscrowCommand::Lock { payee, amount, timeout, task, arbiter, hashlock, referrer } => {
                CommandSpec::LockEscrow {
                    payee: payee.agent(),
                    amount: amount.amount(),
                    timeout_ms: timeout.milliseconds(),
                    task: task.map(|task| usize::from(task) % TASK_IDS.len()),
                    arbiter: arbiter.map(AgentRecipe::agent),
                    hashlock: hashlock.map(usize::from),
                    referrer: referrer.map(AgentRecipe::agent),
                }
            }
            EscrowCommand::Release { escrow, preimage } => {
                CommandSpec::ReleaseEscrow { escrow: escrow.escrow(), preimage: preimage.preimage() }
            }
            EscrowCommand::Refund { escrow } => CommandSpec::RefundEscrow { escrow: escrow.escrow() },
            EscrowCommand::Extend { escrow, timeout } => {
                CommandSpec::ExtendEscrow { escrow: escrow.escrow(), timeout_ms: timeout.milliseconds() }
            }
            EscrowCommand::Dispute { escrow, reason } => {
                CommandSpec::DisputeEscrow { escrow: escrow.escrow(), reason: reason.text() }
            }
            EscrowCommand::Resolve { escrow, resolution } => {
                CommandSpec::ResolveEscrow { escrow: escrow.escrow(), resolution: resolution.resolution() }
            }
        }
    }
}

/// A command of the bus's family. Streams and consumers are the testkit's pools (`BUS_STREAMS`,
/// `BUS_CONSUMERS`), by index.
#[derive(Arbitrary, Debug)]
#[allow(missing_docs)]
pub enum BusCommand {
    Publish {
        /// The pool stream whose subjects it goes to; past the pool, a subject no stream captures.
        stream: u8,
        topic: u8,
        message_id: Option<u8>,
        payload: PayloadRecipe,
    },
    Fetch {
        stream: u8,
        consumer: u8,
        batch: u8,
        max_bytes: Option<u16>,
    },
    Ack {
        stream: u8,
        consumer: u8,
        target: DeliveryRecipe,
        kind: AckRecipe,
    },
    CreateStream {
        stream: u8,
        variant: StreamVariantRecipe,
    },
    DeleteStream {
        stream: u8,
    },
    CreateConsumer {
        stream: u8,
        consumer: u8,
        variant: ConsumerVariantRecipe,
    },
    DeleteConsumer {
        stream: u8,
        consumer: u8,
    },
    DeadLetters {
        stream: u8,
        target: DeadLetterRecipe,
        discard: bool,
    },
}

impl BusCommand {
    fn spec(&self) -> CommandSpec {
        match self {
            BusCommand::Publish { stream, topic, message_id, payload } => CommandSpec::Publish {
                stream: usize::from(*stream) % BUS_STREAMS.len(),
                topic: usize::from(*topic),
                message_id: message_id.map(usize::from),
                payload: match payload {
                    PayloadRecipe::Json => PayloadChoice::Json,
                    PayloadRecipe::Bytes => PayloadChoice::Bytes,
                    PayloadRecipe::BadBase64 => PayloadChoice::BadBase64,
                    PayloadRecipe::Oversized => PayloadChoice::Oversized,
                },
            },
            BusCommand::Fetch { stream, consumer, batch, max_bytes } => CommandSpec::Fetch {
                stream: usize::from(*stream),
                consumer: usize::from(*consumer),
                batch: u32::from(*batch),
                max_bytes: max_bytes.map(u64::from),
            },
            BusCommand::Ack { stream, consumer, target, kind } => CommandSpec::Ack {
                stream: usize::from(*stream),
                consumer: usize::from(*consumer),
                target: match target {
                    DeliveryRecipe::Held(index) => DeliveryRef::Held(usize::from(*index)),
                    DeliveryRecipe::Sequence(sequence) => DeliveryRef::Sequence(u64::from(*sequence)),
                },
                kind: match kind {
                    AckRecipe::Ack => AckChoice::Ack,
                    AckRecipe::Nak(delay_ms) => AckChoice::Nak(u64::from(*delay_ms)),
                    AckRecipe::InProgress => AckChoice::InProgress,
                    AckRecipe::Term => AckChoice::Term,
                },
            },
            BusCommand::CreateStream { stream, variant } => CommandSpec::CreateStream {
                stream: usize::from(*stream),
                variant: match variant {
                    StreamVariantRecipe::Usual => StreamVariant::Usual,
                    StreamVariantRecipe::Other => StreamVariant::Other,
                    StreamVariantRecipe::Private => StreamVariant::Private,
                },
            },
            BusCommand::DeleteStream { stream } => CommandSpec::DeleteStream { stream: usize::from(*stream) },
            BusCommand::CreateConsumer { stream, consumer, variant } => CommandSpec::CreateConsumer {
                stream: usize::from(*stream),
                consumer: usize::from(*consumer),
                variant: match variant {
                    ConsumerVariantRecipe::Usual => ConsumerVariant::Usual,
                    ConsumerVariantRecipe::Other => ConsumerVariant::Other,
                    ConsumerVariantRecipe::StrayFilter => ConsumerVariant::StrayFilter,
                },
            },
            BusCommand::DeleteConsumer { stream, consumer } => {
                CommandSpec::DeleteConsumer { stream: usize::from(*stream), consumer: usize::from(*consumer) }
            }
            BusCommand::DeadLetters { stream, target, discard } => CommandSpec::DeadLetters {
                stream: usize::from(*stream),
                target: match target {
                    DeadLetterRecipe::Index(index) => DeadLetterRef::Index(usize::from(*index)),
                    DeadLetterRecipe::Missing => DeadLetterRef::Missing,
                },
                discard: *discard,
            },
        }
    }
}
