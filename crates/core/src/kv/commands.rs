//! The key-value store's commands: create, configure and delete a namespace; put and delete a key,
//! either under a compare-and-swap.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::book::Access;
use super::key::StoreKey;
use crate::bus::JsonText;
use crate::command::Apply;
use crate::ids::Name;
use crate::outcome::CommandResult;
use crate::state::{Context, State};

fn registered() -> Access {
    Access::Registered
}

fn creator() -> Access {
    Access::Creator
}

/// The signer creates a namespace of shared state. By default every registered agent may read it
/// and only its creator (and the operator) may write it. Creating it again with the same access
/// lists changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNamespace {
    /// The namespace's name, unique in the swarm.
    pub namespace: Name,
    /// Who may read it besides its creator and the operator: `"registered"` (the default, read
    /// tokens included), `"creator"`, or `{"agents": […]}`.
    #[serde(default = "registered")]
    pub readers: Access,
    /// Who may write it besides its creator and the operator: `"creator"` (the default),
    /// `"registered"`, or `{"agents": […]}`.
    #[serde(default = "creator")]
    pub writers: Access,
}

impl Apply for CreateNamespace {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.create_namespace(context, self)
    }
}

/// The namespace's creator (or the operator) changes who may read or write it from now on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureNamespace {
    /// The namespace.
    pub namespace: Name,
    /// Its new readers; unchanged when absent.
    #[serde(default)]
    pub readers: Option<Access>,
    /// Its new writers; unchanged when absent.
    #[serde(default)]
    pub writers: Option<Access>,
}

impl Apply for ConfigureNamespace {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.configure_namespace(context, self)
    }
}

/// The namespace's creator (or the operator) deletes it with every key in it. Its watchers are
/// told nothing more: a namespace created again under the name starts at a later revision, so a
/// watch resuming from the old one is told its history is compacted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteNamespace {
    /// The namespace.
    pub namespace: Name,
}

impl Apply for DeleteNamespace {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.delete_namespace(context, self)
    }
}

/// A writer stores a value under a key. With `expected_revision` it is a compare-and-swap: stored
/// only if the key's last put has that revision (`0`: only if the key does not exist), refused with
/// `kv_revision_mismatch` otherwise. The result carries the put's revision and the key's version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PutValue {
    /// The namespace.
    pub namespace: Name,
    /// The key.
    pub key: StoreKey,
    /// Any JSON value, at most `KV_VALUE_BYTES_MAX` bytes of canonical text.
    pub value: JsonText,
    /// The revision the key must be at (its last put's), or `0` for a key that must not exist.
    #[serde(default)]
    pub expected_revision: Option<u64>,
    /// One of the writer's leases: the key lives with it, deleted when it ends (at most
    /// `KV_KEYS_PER_LEASE_MAX` keys per lease). Without one, the key stays until deleted, and a
    /// put without a lease on a leased key detaches it.
    #[serde(default)]
    pub lease: Option<Name>,
}

impl Apply for PutValue {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.put_value(context, self)
    }
}

/// A writer deletes a key. With `expected_revision`, only if the key's last put has that revision.
/// Deleting a key that does not exist changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteValue {
    /// The namespace.
    pub namespace: Name,
    /// The key.
    pub key: StoreKey,
    /// The revision the key must be at.
    #[serde(default)]
    pub expected_revision: Option<u64>,
}

impl Apply for DeleteValue {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        state.delete_value(context, self)
    }
}
