//! The crowd's key-value store commands: namespaces open to every registered writer or to a few
//! members, puts and deletes on a few keys, blind or under a compare-and-swap that names the present
//! revision or a stale one, some living with a lease, and changes to namespaces by their creators
//! and, sometimes, by others.

use colony_core::bus::JsonText;
use colony_core::command::{ConfigureNamespace, CreateNamespace, DeleteNamespace, DeleteValue, PutValue};
use colony_core::kv::Access;
use colony_core::{Command, Name, Signer, State, StoreKey};

use super::Clients;
use crate::rng::Rng;

/// Namespace names: few, so that creates repeat and writes find namespaces.
const NAMESPACES: [&str; 3] = ["pipeline", "shared-config", "scratch"];
/// Keys puts and deletes name.
const KEYS: [&str; 5] = ["config", "plan/step-1", "plan/step-2", "leader", "checkpoint"];

impl Clients {
    fn namespace_name(rng: &mut Rng) -> Name {
        Name::new(rng.pick_text(&NAMESPACES)).expect("a valid name")
    }

    fn access(&self, rng: &mut Rng) -> Access {
        if self.members.is_empty() || rng.chance(1, 2) {
            Access::Registered
        } else if rng.chance(1, 3) {
            Access::Creator
        } else {
            Access::Agents(
                (0..rng.between(1, 4)).map(|_| self.members[rng.index(self.members.len())].id.clone()).collect(),
            )
        }
    }

    /// A namespace most may write, or a few members.
    pub(super) fn create_namespace(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let readers = if rng.chance(3, 4) { Access::Registered } else { self.access(rng) };
        Command::CreateNamespace(CreateNamespace {
            namespace: Self::namespace_name(rng),
            readers,
            writers: self.access(rng),
        })
    }

    /// A namespace the signer created, mostly.
    fn own_namespace(&self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Name {
        let signer = match signer {
            Some(index) => Signer::Agent(self.members[index].id.clone()),
            None => Signer::Operator,
        };
        let mine: Vec<Name> = NAMESPACES
            .iter()
            .map(|namespace| Name::new(*namespace).expect("a valid name"))
            .filter(|namespace| state.kv().namespace(namespace).is_some_and(|found| found.creator == signer))
            .collect();
        if mine.is_empty() || rng.chance(1, 6) { Self::namespace_name(rng) } else { rng.pick(&mine).clone() }
    }

    pub(super) fn configure_namespace(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let namespace = self.own_namespace(rng, state, signer);
        let readers = rng.chance(1, 4).then(|| self.access(rng));
        Command::ConfigureNamespace(ConfigureNamespace { namespace, readers, writers: Some(self.access(rng)) })
    }

    pub(super) fn delete_namespace(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        // Rarely: a deletion takes every key with it.
        let namespace = if rng.chance(1, 4) {
            self.own_namespace(rng, state, signer)
        } else {
            Name::new("nowhere").expect("a valid name")
        };
        Command::DeleteNamespace(DeleteNamespace { namespace })
    }

    /// The revision a write names: none, the key's present one (which succeeds unless another write
    /// comes first), or one behind it.
    fn expected_revision(rng: &mut Rng, state: &State, namespace: &Name, key: &StoreKey) -> Option<u64> {
        let present =
            state.kv().namespace(namespace).and_then(|found| found.get(key)).map_or(0, |entry| entry.modified_revision);
        match rng.below(8) {
            0..=3 => None,
            4..=6 => Some(present),
            _ => Some(present.saturating_sub(1)),
        }
    }

    pub(super) fn put_value(&mut self, rng: &mut Rng, state: &State, _: Option<usize>) -> Command {
        let namespace = Self::namespace_name(rng);
        let key = StoreKey::new(rng.pick_text(&KEYS)).expect("a valid key");
        let expected_revision = Self::expected_revision(rng, state, &namespace, &key);
        let value = JsonText::parse(&format!(r#"{{"step":{},"by":"crowd"}}"#, rng.below(1_000))).expect("JSON");
        // A quarter of the keys live with one of the writer's leases, held or not.
        let lease = rng.chance(1, 4).then(|| super::coordination::lease_name(rng));
        Command::PutValue(PutValue { namespace, key, value, expected_revision, lease })
    }

    pub(super) fn delete_value(&mut self, rng: &mut Rng, state: &State, _: Option<usize>) -> Command {
        let namespace = Self::namespace_name(rng);
        let key = StoreKey::new(rng.pick_text(&KEYS)).expect("a valid key");
        let expected_revision = Self::expected_revision(rng, state, &namespace, &key);
        Command::DeleteValue(DeleteValue { namespace, key, expected_revision })
    }
}
