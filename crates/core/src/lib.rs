//! Colony's deterministic core: the swarm's state and the one function that changes it.
//!
//! # Layout
//! - [`state`]: [`State`] and [`State::apply`], snapshots and the state hash.
//! - [`entry`]: log entries as core sees them (decoded, authenticated).
//! - [`command`]: what signers can ask for.
//! - [`outcome`]: per-command results; rejections are data.
//! - [`rejection_samples`]: one rejection of every variant, for checks that must cover them all.
//! - [`event`]: what changed, for the event stream.
//! - [`registry`]: agents, liveness, halts.
//! - [`ledger`]: wallets, transfers, escrow, child-wallet policies, budgets.
//! - [`market`]: the task market: auctions, awards that lock escrow, verification, reputation.
//! - [`fraction`]: fractions from 0 to 1 in millionths (scores, confidences, weights).
//! - [`governance`]: proposals, ballots and sealed decisions, on the exact tally of votes (yes/no,
//!   weighted ratio, approval, quadratic, ranked, split).
//! - [`stigmergy`]: pheromone maps: deposits capped, trails fading with log time, the strongest read.
//! - [`coordination`]: leases, and locks handed over with fencing tokens, FIFO, without deadlocks.
//! - [`kv`]: the shared key-value store: namespaces, compare-and-swap, changes since a revision.
//! - [`amount`]: money in integer minor units, and the fee rounding rule.
//! - [`bus`]: subjects, patterns and the pattern tree of the message bus.
//! - [`config`]: the swarm configuration.
//! - [`replay`]: nonce windows against replayed envelopes.
//! - [`ids`]: validated ids, names and keys.
//! - [`limits`]: every limit, in one place.
//! - [`schema`]: the JSON Schemas of validated ids, names, keys, amounts, subjects and payloads.
//!
//! # Architecture invariant
//! This crate never reads a clock, a random source, a file or the network, and knows no wire format:
//! time arrives as each entry's timestamp, authentication arrives as the key an envelope was verified
//! with. Applying the same entries to the same state gives the same state, bit for bit, everywhere.

pub mod amount;
pub mod bus;
pub mod command;
pub mod config;
pub mod coordination;
mod draw;
pub mod entry;
pub mod event;
pub mod fraction;
pub mod governance;
pub mod ids;
pub mod kv;
pub mod ledger;
pub mod limits;
pub mod market;
pub mod outcome;
pub mod registry;
pub mod rejection_samples;
pub mod replay;
pub mod schema;
pub mod state;
pub mod stigmergy;

pub use amount::{Amount, FeeSplit};
pub use command::Command;
pub use config::{ReferralFrom, RoleAdmission, RoleConfig, SwarmConfig};
pub use coordination::{Coordination, LeaseRecord, LockMode, LockRecord};
pub use entry::{Entry, EntryBody, Genesis, SignedCommands};
pub use event::{Event, EventKind};
pub use fraction::Fraction;
pub use governance::{Governance, Proposal, ProposalState};
pub use ids::{AgentId, Digest, IdError, Name, PublicKey, RESERVED_AGENT_IDS, Signature, Signer};
pub use kv::{KeyValueStore, StoreKey};
pub use ledger::{
    AccountId, Escrow, EscrowResolution, EscrowState, Ledger, SystemAccount, TransferKind, TransferRequest, Wallet,
};
pub use market::{Attempt, AttemptOutcome, Bid, Reputation, Task, TaskState};
pub use outcome::{
    Accepted, ApplyError, BusRejection, CommandResult, ConfigRejection, CoordinationRejection, EntryOutcome,
    GovernanceRejection, KvRejection, LedgerRejection, MarketRejection, RegistryRejection, Rejection, RejectionClass,
    StigmergyRejection,
};
pub use registry::{Agent, AgentHandle, Halt, Liveness, Registry};
pub use state::{Counters, Operator, RULES_VERSION, ReadToken, SnapshotError, State};
pub use stigmergy::{Intensity, PheromoneMap, SignalKey, Stigmergy};
