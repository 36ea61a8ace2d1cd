//! Key-value store commands for generated streams.
//!
//! Namespaces are named by a small pool ([`NAMESPACE_NAMES`]) so that signers create them again (the
//! same access lists or others: a conflict), write in each other's namespaces (some open to every
//! registered writer, some to named agents, some to the creator alone) and try to change ones they
//! did not create. Keys come from a small pool too, so puts replace each other and compare-and-swaps
//! name the present revision, a stale one, or none.

use std::collections::BTreeSet;

use colony_core::bus::JsonText;
use colony_core::command::{ConfigureNamespace, CreateNamespace, DeleteNamespace, DeleteValue, PutValue};
use colony_core::kv::Access;
use colony_core::{AgentId, Command, Name, State, StoreKey};
use proptest::collection::vec;
use proptest::prelude::*;

use super::coordination::LEASE_NAMES;
use super::keys::name;
use super::strategies::{AgentRef, CommandSpec, agent_ref};

/// The names namespaces are created under; the last is never created.
pub const NAMESPACE_NAMES: [&str; 4] = ["state-0", "state-1", "state-2", "nowhere"];

/// Keys puts and deletes name. Some puts name one of the writer's leases ([`LEASE_NAMES`]), held
/// or not, so that leases end with keys on them.
pub const STORE_KEYS: [&str; 4] = ["config", "plan/step-1", "plan/step-2", "leader"];

/// An access list, abstractly.
#[derive(Clone, Debug)]
pub enum AccessSpec {
    /// The creator alone.
    Creator,
    /// Every registered agent.
    Registered,
    /// These agents (none: refused as empty).
    Agents(Vec<AgentRef>),
}

/// The revision a compare-and-swap names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedRevision {
    /// None: a blind write.
    Blind,
    /// The key's present revision (0 when it does not exist): succeeds.
    Present,
    /// One below the present (a stale read): refused unless the key is absent and it names 0.
    Stale,
    /// 0: only if the key does not exist.
    Absent,
}

/// A key-value store command, abstractly.
#[derive(Clone, Debug)]
pub enum KvSpec {
    /// `kv.namespace.create`.
    Create {
        /// The index of its name in [`NAMESPACE_NAMES`] (never the last).
        namespace: usize,
        /// Its readers.
        readers: AccessSpec,
        /// Its writers.
        writers: AccessSpec,
    },
    /// `kv.namespace.configure`: new writers, and sometimes new readers.
    Configure {
        /// The index of its name in [`NAMESPACE_NAMES`].
        namespace: usize,
        /// New readers, if any.
        readers: Option<AccessSpec>,
        /// New writers, if any (neither: refused).
        writers: Option<AccessSpec>,
    },
    /// `kv.namespace.delete`.
    Delete {
        /// The index of its name in [`NAMESPACE_NAMES`].
        namespace: usize,
    },
    /// `kv.put`.
    Put {
        /// The index of its namespace in [`NAMESPACE_NAMES`].
        namespace: usize,
        /// The index of its key in [`STORE_KEYS`].
        key: usize,
        /// The value: a number, or (`None`) a string longer than a value may be.
        value: Option<u32>,
        /// The compare-and-swap.
        expected: ExpectedRevision,
        /// The index in [`LEASE_NAMES`] of the lease the key lives with (the writer may hold none).
        lease: Option<usize>,
    },
    /// `kv.delete`.
    Remove {
        /// The index of its namespace in [`NAMESPACE_NAMES`].
        namespace: usize,
        /// The index of its key in [`STORE_KEYS`].
        key: usize,
        /// The compare-and-swap.
        expected: ExpectedRevision,
    },
}

fn access_spec(pool: usize) -> BoxedStrategy<AccessSpec> {
    prop_oneof![
        2 => Just(AccessSpec::Creator),
        3 => Just(AccessSpec::Registered),
        2 => vec(agent_ref(pool), 0..=2).prop_map(AccessSpec::Agents),
    ]
    .boxed()
}

fn expected() -> BoxedStrategy<ExpectedRevision> {
    prop_oneof![
        4 => Just(ExpectedRevision::Blind),
        4 => Just(ExpectedRevision::Present),
        1 => Just(ExpectedRevision::Stale),
        1 => Just(ExpectedRevision::Absent),
    ]
    .boxed()
}

/// Weighted generators of key-value store commands.
pub fn kv_commands(pool: usize) -> Vec<(u32, BoxedStrategy<CommandSpec>)> {
    let create = (0..NAMESPACE_NAMES.len() - 1, access_spec(pool), access_spec(pool))
        .prop_map(|(namespace, readers, writers)| KvSpec::Create { namespace, readers, writers });
    let configure = (
        0..NAMESPACE_NAMES.len(),
        proptest::option::weighted(0.3, access_spec(pool)),
        proptest::option::weighted(0.9, access_spec(pool)),
    )
        .prop_map(|(namespace, readers, writers)| KvSpec::Configure { namespace, readers, writers });
    let delete = (0..NAMESPACE_NAMES.len()).prop_map(|namespace| KvSpec::Delete { namespace });
    let value = prop_oneof![30 => (0..1_000u32).prop_map(Some), 1 => Just(None)];
    let lease = proptest::option::weighted(0.3, 0..LEASE_NAMES.len());
    let put = (0..NAMESPACE_NAMES.len(), 0..STORE_KEYS.len(), value, expected(), lease)
        .prop_map(|(namespace, key, value, expected, lease)| KvSpec::Put { namespace, key, value, expected, lease });
    let remove = (0..NAMESPACE_NAMES.len(), 0..STORE_KEYS.len(), expected())
        .prop_map(|(namespace, key, expected)| KvSpec::Remove { namespace, key, expected });
    vec![
        (4, create.prop_map(CommandSpec::Kv).boxed()),
        (2, configure.prop_map(CommandSpec::Kv).boxed()),
        (1, delete.prop_map(CommandSpec::Kv).boxed()),
        (14, put.prop_map(CommandSpec::Kv).boxed()),
        (4, remove.prop_map(CommandSpec::Kv).boxed()),
    ]
}

fn access(spec: &AccessSpec, resolve: &dyn Fn(AgentRef) -> AgentId) -> Access {
    match spec {
        AccessSpec::Creator => Access::Creator,
        AccessSpec::Registered => Access::Registered,
        AccessSpec::Agents(agents) => {
            Access::Agents(agents.iter().map(|agent| resolve(*agent)).collect::<BTreeSet<_>>())
        }
    }
}

fn expected_revision(state: &State, namespace: &Name, key: &StoreKey, expected: ExpectedRevision) -> Option<u64> {
    let present =
        || state.kv().namespace(namespace).and_then(|found| found.get(key)).map_or(0, |entry| entry.modified_revision);
    match expected {
        ExpectedRevision::Blind => None,
        ExpectedRevision::Present => Some(present()),
        ExpectedRevision::Stale => Some(present().saturating_sub(1)),
        ExpectedRevision::Absent => Some(0),
    }
}

/// The command `spec` describes, against `state`.
pub fn render_kv(state: &State, spec: &KvSpec, resolve: &dyn Fn(AgentRef) -> AgentId) -> Command {
    match spec {
        KvSpec::Create { namespace, readers, writers } => Command::CreateNamespace(CreateNamespace {
            namespace: name(NAMESPACE_NAMES[*namespace]),
            readers: access(readers, resolve),
            writers: access(writers, resolve),
        }),
        KvSpec::Configure { namespace, readers, writers } => Command::ConfigureNamespace(ConfigureNamespace {
            namespace: name(NAMESPACE_NAMES[*namespace]),
            readers: readers.as_ref().map(|spec| access(spec, resolve)),
            writers: writers.as_ref().map(|spec| access(spec, resolve)),
        }),
        KvSpec::Delete { namespace } => {
            Command::DeleteNamespace(DeleteNamespace { namespace: name(NAMESPACE_NAMES[*namespace]) })
        }
        KvSpec::Put { namespace, key, value, expected, lease } => {
            let (namespace, key) = (name(NAMESPACE_NAMES[*namespace]), StoreKey::new(STORE_KEYS[*key]).expect("a key"));
            let value = match value {
                Some(number) => JsonText::parse(&number.to_string()).expect("a number"),
                None => JsonText::string(&"x".repeat(colony_core::limits::KV_VALUE_BYTES_MAX)),
            };
            let expected_revision = expected_revision(state, &namespace, &key, *expected);
            let lease = lease.map(|index| name(LEASE_NAMES[index]));
            Command::PutValue(PutValue { namespace, key, value, expected_revision, lease })
        }
        KvSpec::Remove { namespace, key, expected } => {
            let (namespace, key) = (name(NAMESPACE_NAMES[*namespace]), StoreKey::new(STORE_KEYS[*key]).expect("a key"));
            let expected_revision = expected_revision(state, &namespace, &key, *expected);
            Command::DeleteValue(DeleteValue { namespace, key, expected_revision })
        }
    }
}
