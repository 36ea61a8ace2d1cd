//! Commands: the only way to ask for a change of state.
//!
//! A command says what its signer wants; the state machine decides whether the signer may have it.
//! Nothing in a command is trusted: weights, statuses and times are computed by the state machine.
//!
//! Each command is a struct in its family's folder (`registry/commands.rs`, `config/commands.rs`,
//! `ledger/commands.rs`, `bus/commands.rs`, `market/commands.rs`, `governance/commands.rs`,
//! `stigmergy/commands.rs`, `coordination/commands.rs`, `kv/commands.rs`), next to the rules it follows,
//! and implements `Apply`.
//! The table at the bottom of this file names each one once: its JSON `type` and its variant. From
//! that one line come the variant of [`Command`], [`Command::KINDS`], [`Command::kind`], the dispatch
//! to `Apply::apply` and the conversion `From<Struct> for Command`, so nothing can be left out.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::bus::commands::{
    Ack, CreateConsumer, CreateStream, DeleteConsumer, DeleteStream, DiscardDeadLetters, Fetch, Publish,
    ReplayDeadLetters,
};
pub use crate::config::commands::{IssueReadToken, RevokeReadToken, SetConfig};
pub use crate::coordination::commands::{
    AcquireLock, AcquireSemaphore, ArriveAtBarrier, Campaign, CastElectionVote, CreateBarrier, CreateVoteElection,
    DeleteVoteElection, GrantLease, KeepLeaseAlive, ReleaseLock, ReleaseSemaphore, RemoveBarrier, ResetBarrier, Resign,
    RevokeLease, StartVoteRound,
};
pub use crate::governance::commands::{
    AmendProposal, CancelProposal, CastBallot, CreateProposal, EndBootstrap, VetoProposal,
};
pub use crate::kv::commands::{ConfigureNamespace, CreateNamespace, DeleteNamespace, DeleteValue, PutValue};
pub use crate::ledger::commands::{
    ConfigureWallet, DisputeEscrow, ExtendEscrow, LockEscrow, Mint, Penalize, RefundEscrow, ReleaseEscrow,
    ResolveEscrow, Sweep, Transfer, TransferBatch, Withdraw,
};
pub use crate::market::commands::{
    AcceptTask, AnnounceBatch, AnnounceTask, AwardTask, CancelTask, DeclareCapacity, DeclineTask, PlaceBid,
    ReportProgress, SubmitResult, VerifyResult, WithdrawBid,
};
pub use crate::registry::commands::{DeregisterAgent, HaltAgent, Heartbeat, RegisterAgent, ResumeAgent, UpdateAgent};
pub use crate::stigmergy::commands::{ConfigureMap, CreateMap, DeleteMap, Deposit};

use crate::outcome::CommandResult;
use crate::state::{Context, State};

/// What a command does to the state, in its family's folder.
///
/// `apply` runs after the envelope was admitted (known signer, its key, a fresh nonce) and, unless
/// [`Apply::ALLOWED_WHILE_HALTED`], after the signer was found free to act. It must validate fully
/// before its first change: a rejected command changes nothing.
pub(crate) trait Apply {
    /// Whether a halted agent may still send this command. Heartbeats, and settling escrows the agent
    /// is party to, so that a halt never strands funds.
    const ALLOWED_WHILE_HALTED: bool = false;

    /// Applies the command for `context`'s signer at `context`'s log time.
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult;
}

macro_rules! command_table {
    ($( $variant:ident = $kind:literal, )*) => {
        /// One requested change. In JSON, the `type` field names the variant (`"agent.register"`, ...)
        /// and the other fields are the command struct's.
        // The schema is derived here, so a command whose struct has no schema does not compile.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "type")]
        pub enum Command {
            $(
                #[doc = concat!("`", $kind, "`: see [`", stringify!($variant), "`].")]
                // The struct's own doc comment describes the command in its schema, not this line.
                #[schemars(description = "")]
                #[serde(rename = $kind)]
                $variant($variant),
            )*
        }

        impl Command {
            /// Every command's name, as `kind` returns it, in the table's order.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// The stable name of the command, as in its JSON `type`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Command::$variant(_) => $kind,)*
                }
            }

            /// Whether a halted agent may still send this command (see `Apply::ALLOWED_WHILE_HALTED`).
            pub fn allowed_while_halted(&self) -> bool {
                match self {
                    $(Command::$variant(_) => <$variant as Apply>::ALLOWED_WHILE_HALTED,)*
                }
            }

            /// Decodes a command of kind `kind` (as in its JSON `type`) from its other fields.
            ///
            /// For a reader that met the `type` field first and can hand over the rest of the object
            /// as it streams by: serde's derived decoding of an internally tagged enum cannot know
            /// where the tag is, so it buffers every field of the command in memory first. The result
            /// is the same; the derived decoding stays for objects whose `type` comes later.
            pub fn deserialize_kind<'de, D: serde::Deserializer<'de>>(
                kind: &str,
                fields: D,
            ) -> Result<Command, D::Error> {
                match kind {
                    $($kind => <$variant as Deserialize>::deserialize(fields).map(Command::$variant),)*
                    other => Err(serde::de::Error::unknown_variant(other, Command::KINDS)),
                }
            }

            /// Serializes the command's own fields, without its kind: the stored form of a proposal's
            /// action writes the kind beside them, since a format without field names (postcard)
            /// cannot find an internally tagged `type` again.
            pub fn serialize_fields<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Command::$variant(command) => command.serialize(serializer),)*
                }
            }

            pub(crate) fn apply_to(&self, state: &mut State, context: &mut Context) -> CommandResult {
                match self {
                    $(Command::$variant(command) => command.apply(state, context),)*
                }
            }
        }

        $(
            impl From<$variant> for Command {
                fn from(command: $variant) -> Command {
                    Command::$variant(command)
                }
            }
        )*
    };
}

// Adding a command: its struct (deriving `JsonSchema`, with each limit named beside its field) and
// `Apply` in the family's folder, and one line here.
command_table! {
    RegisterAgent = "agent.register",
    UpdateAgent = "agent.update",
    Heartbeat = "agent.heartbeat",
    HaltAgent = "agent.halt",
    ResumeAgent = "agent.resume",
    DeregisterAgent = "agent.deregister",
    SetConfig = "config.set",
    IssueReadToken = "read_token.issue",
    RevokeReadToken = "read_token.revoke",
    Mint = "ledger.mint",
    Transfer = "ledger.transfer",
    TransferBatch = "ledger.transfer_batch",
    Withdraw = "ledger.withdraw",
    Sweep = "wallet.sweep",
    ConfigureWallet = "wallet.configure",
    LockEscrow = "escrow.lock",
    ReleaseEscrow = "escrow.release",
    RefundEscrow = "escrow.refund",
    ExtendEscrow = "escrow.extend",
    DisputeEscrow = "escrow.dispute",
    ResolveEscrow = "escrow.resolve",
    CreateStream = "stream.create",
    DeleteStream = "stream.delete",
    Publish = "bus.publish",
    CreateConsumer = "consumer.create",
    DeleteConsumer = "consumer.delete",
    Fetch = "consumer.fetch",
    Ack = "consumer.ack",
    ReplayDeadLetters = "dlq.replay",
    DiscardDeadLetters = "dlq.discard",
    AnnounceTask = "task.announce",
    PlaceBid = "task.bid",
    WithdrawBid = "task.withdraw_bid",
    AwardTask = "task.award",
    AcceptTask = "task.accept",
    DeclineTask = "task.decline",
    ReportProgress = "task.progress",
    SubmitResult = "task.submit",
    VerifyResult = "task.verify",
    CancelTask = "task.cancel",
    AnnounceBatch = "task.announce_batch",
    DeclareCapacity = "task.capacity",
    CreateProposal = "proposal.create",
    AmendProposal = "proposal.amend",
    CancelProposal = "proposal.cancel",
    VetoProposal = "proposal.veto",
    CastBallot = "ballot.cast",
    CreateMap = "pheromone.map.create",
    ConfigureMap = "pheromone.map.configure",
    DeleteMap = "pheromone.map.delete",
    Deposit = "pheromone.deposit",
    EndBootstrap = "governance.bootstrap_end",
    Penalize = "ledger.penalize",
    GrantLease = "lease.grant",
    KeepLeaseAlive = "lease.keep_alive",
    RevokeLease = "lease.revoke",
    AcquireLock = "lock.acquire",
    ReleaseLock = "lock.release",
    AcquireSemaphore = "semaphore.acquire",
    ReleaseSemaphore = "semaphore.release",
    Campaign = "election.campaign",
    Resign = "election.resign",
    CreateBarrier = "barrier.create",
    ArriveAtBarrier = "barrier.arrive",
    ResetBarrier = "barrier.reset",
    RemoveBarrier = "barrier.remove",
    CreateVoteElection = "vote_election.create",
    StartVoteRound = "vote_election.start",
    CastElectionVote = "vote_election.vote",
    DeleteVoteElection = "vote_election.delete",
    CreateNamespace = "kv.namespace.create",
    ConfigureNamespace = "kv.namespace.configure",
    DeleteNamespace = "kv.namespace.delete",
    PutValue = "kv.put",
    DeleteValue = "kv.delete",
}
