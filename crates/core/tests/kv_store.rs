//! The shared key-value store through `State::apply`: versions and compare-and-swap on the last
//! put's revision, watches that reconcile a copy from any revision, compaction of deletions, access
//! lists, the limits against a hostile writer, every refusal changing nothing, and a reference model
//! that replays every step.

mod support;

use std::collections::BTreeMap;

use colony_core::kv::{KeyValueStore, StoreChange};
use colony_core::{Accepted, EventKind, Name, StoreKey, limits};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::market::command;
use support::{OutcomeExt, Simulator};

fn swarm() -> Simulator {
    let mut swarm = Simulator::new();
    for agent in ["planner", "worker-1", "worker-2", "hostile"] {
        assert!(swarm.register(agent, "scout").all_accepted());
    }
    swarm
}

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

fn key(text: &str) -> StoreKey {
    StoreKey::new(text).unwrap()
}

fn create(namespace: &str) -> Value {
    json!({"type": "kv.namespace.create", "namespace": namespace})
}

fn put(namespace: &str, key: &str, value: Value, expected: Option<u64>) -> Value {
    let mut command = json!({"type": "kv.put", "namespace": namespace, "key": key, "value": value});
    if let Some(expected) = expected {
        command["expected_revision"] = json!(expected);
    }
    command
}

fn delete(namespace: &str, key: &str, expected: Option<u64>) -> Value {
    let mut command = json!({"type": "kv.delete", "namespace": namespace, "key": key});
    if let Some(expected) = expected {
        command["expected_revision"] = json!(expected);
    }
    command
}

#[track_caller]
fn accepted(swarm: &mut Simulator, who: &str, value: Value) -> Accepted {
    let outcome = swarm.agent(who, vec![command(value)]);
    match outcome.single() {
        Ok(accepted) => accepted.clone(),
        Err(rejection) => panic!("expected acceptance: {rejection}"),
    }
}

/// The put's revision and the key's version.
#[track_caller]
fn stored(swarm: &mut Simulator, who: &str, value: Value) -> (u64, u64) {
    match accepted(swarm, who, value) {
        Accepted::KvPut { revision, version } => (revision, version),
        other => panic!("expected a put: {other:?}"),
    }
}

#[track_caller]
fn refused(swarm: &mut Simulator, who: &str, value: Value) -> &'static str {
    let before: KeyValueStore = swarm.state().kv().clone();
    let code = swarm.agent(who, vec![command(value)]).single_code().expect("refused");
    assert_eq!(*swarm.state().kv(), before, "a refused command changes nothing in the store");
    code
}

fn value_of(swarm: &Simulator, namespace: &str, key_text: &str) -> Option<String> {
    let found = swarm.state().kv().namespace(&name(namespace))?.get(&key(key_text))?;
    Some(found.value.as_str().to_owned())
}

#[test]
fn a_compare_and_swap_names_the_last_puts_revision_which_never_comes_back() {
    let mut swarm = swarm();
    assert_eq!(accepted(&mut swarm, "planner", create("pipeline")), Accepted::Done);
    assert_eq!(accepted(&mut swarm, "planner", create("pipeline")), Accepted::Unchanged, "created again alike");
    let (first, version) = stored(&mut swarm, "planner", put("pipeline", "stage/1", json!({"model": "a"}), Some(0)));
    assert_eq!(version, 1);
    assert_eq!(refused(&mut swarm, "planner", put("pipeline", "stage/1", json!(1), Some(0))), "kv_revision_mismatch");
    let (second, version) =
        stored(&mut swarm, "planner", put("pipeline", "stage/1", json!({"model": "b"}), Some(first)));
    assert_eq!(version, 2);
    assert!(second > first);
    assert_eq!(
        refused(&mut swarm, "planner", put("pipeline", "stage/1", json!(3), Some(first))),
        "kv_revision_mismatch"
    );
    assert_eq!(refused(&mut swarm, "planner", delete("pipeline", "stage/1", Some(first))), "kv_revision_mismatch");
    assert_eq!(value_of(&swarm, "pipeline", "stage/1").as_deref(), Some(r#"{"model":"b"}"#));
    assert!(matches!(
        accepted(&mut swarm, "planner", delete("pipeline", "stage/1", Some(second))),
        Accepted::KvDeleted { .. }
    ));
    assert_eq!(accepted(&mut swarm, "planner", delete("pipeline", "stage/1", None)), Accepted::Unchanged);
    // Created again, the key starts at version 1 with a new revision: a swap that read the old key
    // cannot succeed on the new one (no ABA), though its version is the same.
    let (third, version) = stored(&mut swarm, "planner", put("pipeline", "stage/1", json!({"model": "a"}), None));
    assert_eq!(version, 1);
    assert!(third > second);
    assert_eq!(
        refused(&mut swarm, "planner", put("pipeline", "stage/1", json!(4), Some(first))),
        "kv_revision_mismatch"
    );
    let entry = swarm.state().kv().namespace(&name("pipeline")).unwrap().get(&key("stage/1")).unwrap().clone();
    assert_eq!((entry.created_revision, entry.modified_revision, entry.version), (third, third, 1));
    let refusal = swarm.agent("planner", vec![command(put("pipeline", "stage/1", json!(4), Some(first)))]);
    assert!(
        refusal.single_rejection().to_string().contains(&format!("revision {third}")),
        "the refusal names the key's revision"
    );
}

#[test]
fn a_watch_from_any_revision_brings_a_copy_to_the_present() {
    let mut swarm = swarm();
    accepted(&mut swarm, "planner", create("state"));
    let created_at = swarm.state().kv().namespace(&name("state")).unwrap().created_revision;
    let mut copies: Vec<(u64, BTreeMap<String, String>)> = vec![(created_at, BTreeMap::new())];
    let mut present: BTreeMap<String, String> = BTreeMap::new();
    let steps: Vec<(&str, Option<Value>)> = vec![
        ("a", Some(json!(1))),
        ("b/x", Some(json!("two"))),
        ("a", Some(json!(3))),
        ("c", Some(json!([4]))),
        ("b/x", None),
        ("d", Some(json!({"five": 5}))),
        ("c", None),
        ("b/x", Some(json!(6))),
    ];
    for (key_text, value) in steps {
        let revision = match &value {
            Some(value) => stored(&mut swarm, "planner", put("state", key_text, value.clone(), None)).0,
            None => match accepted(&mut swarm, "planner", delete("state", key_text, None)) {
                Accepted::KvDeleted { revision } => revision,
                other => panic!("{other:?}"),
            },
        };
        match value {
            Some(value) => present.insert(key_text.to_owned(), value.to_string()),
            None => present.remove(key_text),
        };
        copies.push((revision, present.clone()));
    }
    let namespace = swarm.state().kv().namespace(&name("state")).unwrap();
    for (revision, copy) in &copies {
        let mut copy = copy.clone();
        let changes = namespace.changes_after(*revision, usize::MAX).expect("nothing is compacted");
        let revisions: Vec<u64> = changes
            .iter()
            .map(|change| match change {
                StoreChange::Put { entry, .. } => entry.modified_revision,
                StoreChange::Deleted { revision, .. } => *revision,
            })
            .collect();
        assert!(revisions.windows(2).all(|pair| pair[0] < pair[1]) && revisions.iter().all(|seen| seen > revision));
        for change in changes {
            match change {
                StoreChange::Put { key, entry } => copy.insert(key.to_string(), entry.value.as_str().to_owned()),
                StoreChange::Deleted { key, .. } => copy.remove(key.as_str()),
            };
        }
        assert_eq!(copy, present, "a copy as of revision {revision} reconciled");
    }
    // Each key once, at its last change: from the creation, four changes (a, d, b/x live; c deleted).
    assert_eq!(namespace.changes_after(created_at, usize::MAX).unwrap().len(), 4);
    assert_eq!(namespace.changes_after(created_at, 2).unwrap().len(), 2, "a page");
    let prefixed: Vec<&str> = namespace.range("b/", None, 10).iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(prefixed, ["b/x"]);
    let all: Vec<&str> = namespace.range("", None, 10).iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(all, ["a", "b/x", "d"]);
    let after: Vec<&str> = namespace.range("", Some(&key("a")), 10).iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(after, ["b/x", "d"]);
}

#[test]
fn deletions_beyond_the_bound_compact_the_history_and_a_stale_watch_is_told() {
    let mut swarm = swarm();
    accepted(&mut swarm, "planner", create("churn"));
    let created_at = swarm.state().kv().namespace(&name("churn")).unwrap().created_revision;
    let deletions = limits::KV_TOMBSTONES_PER_NAMESPACE_MAX + 3;
    let mut deleted_at = Vec::new();
    swarm.in_bulk(|swarm| {
        for index in 0..deletions {
            let key_text = format!("k{index}");
            stored(swarm, "planner", put("churn", &key_text, json!(index), None));
            match accepted(swarm, "planner", delete("churn", &key_text, None)) {
                Accepted::KvDeleted { revision } => deleted_at.push(revision),
                other => panic!("{other:?}"),
            }
        }
    });
    let namespace = swarm.state().kv().namespace(&name("churn")).unwrap();
    assert_eq!(namespace.tombstones(), limits::KV_TOMBSTONES_PER_NAMESPACE_MAX);
    // The three oldest deletions are forgotten: the third's revision is the oldest a watch may start from.
    assert_eq!(namespace.compacted_revision, deleted_at[2]);
    let stale = namespace.changes_after(created_at, 10).expect_err("its history is compacted");
    assert_eq!(stale.compacted_revision, deleted_at[2]);
    let resumed = namespace.changes_after(deleted_at[2], usize::MAX).expect("from the compacted revision");
    assert_eq!(resumed.len(), limits::KV_TOMBSTONES_PER_NAMESPACE_MAX);
    assert!(matches!(resumed[0], StoreChange::Deleted { revision, .. } if revision == deleted_at[3]));
    // A put on a key deleted and remembered replaces its deletion.
    stored(&mut swarm, "planner", put("churn", &format!("k{}", deletions - 1), json!("back"), None));
    assert_eq!(
        swarm.state().kv().namespace(&name("churn")).unwrap().tombstones(),
        limits::KV_TOMBSTONES_PER_NAMESPACE_MAX - 1
    );
}

#[test]
fn access_lists_decide_who_writes_and_only_the_creator_or_operator_changes_them() {
    let mut swarm = swarm();
    accepted(&mut swarm, "planner", create("plan"));
    assert_eq!(refused(&mut swarm, "hostile", put("plan", "goal", json!("mine"), None)), "kv_not_writer");
    assert_eq!(refused(&mut swarm, "worker-1", put("plan", "goal", json!("x"), None)), "kv_not_writer");
    let writers = json!({"type": "kv.namespace.configure", "namespace": "plan", "writers": {"agents": ["worker-1"]}});
    assert_eq!(refused(&mut swarm, "hostile", writers.clone()), "not_namespace_creator");
    assert_eq!(accepted(&mut swarm, "planner", writers.clone()), Accepted::Done);
    assert_eq!(accepted(&mut swarm, "planner", writers), Accepted::Unchanged);
    stored(&mut swarm, "worker-1", put("plan", "goal", json!("ship"), None));
    assert_eq!(refused(&mut swarm, "worker-2", delete("plan", "goal", None)), "kv_not_writer");
    assert_eq!(
        refused(&mut swarm, "hostile", json!({"type": "kv.namespace.delete", "namespace": "plan"})),
        "not_namespace_creator"
    );
    assert_eq!(refused(&mut swarm, "hostile", create("plan")), "kv_namespace_exists", "a name is its creator's");
    // The operator may do all of it.
    let outcome = swarm.operator(vec![command(put("plan", "goal", json!("halt"), None))]);
    assert!(outcome.all_accepted());
    // A namespace whose readers are restricted has its puts announced without their keys.
    let private = json!({"type": "kv.namespace.create", "namespace": "secrets", "readers": "creator"});
    accepted(&mut swarm, "planner", private);
    let outcome = swarm.agent("planner", vec![command(put("secrets", "api/token", json!("s3cret"), None))]);
    let kinds = outcome.event_kinds();
    assert!(
        kinds.iter().any(|kind| matches!(kind, EventKind::KvPut { key: None, .. })),
        "no key in the event: {kinds:?}"
    );
    let outcome = swarm.agent("planner", vec![command(put("plan", "next", json!(1), None))]);
    assert!(outcome.event_kinds().iter().any(|kind| matches!(kind, EventKind::KvPut { key: Some(_), .. })));
    let readers = &swarm.state().kv().namespace(&name("secrets")).unwrap().readers;
    let hostile = colony_core::Signer::Agent(colony_core::AgentId::new("hostile").unwrap());
    let planner = colony_core::Signer::Agent(colony_core::AgentId::new("planner").unwrap());
    assert!(!readers.admits(&hostile, &planner) && readers.admits(&planner, &planner) && !readers.admits_anyone());
    let deleted = swarm.agent("planner", vec![command(json!({"type": "kv.namespace.delete", "namespace": "plan"}))]);
    assert!(deleted.all_accepted());
    assert_eq!(refused(&mut swarm, "worker-1", put("plan", "goal", json!(1), None)), "kv_namespace_not_found");
}

#[test]
fn bad_input_is_refused_with_its_field_and_changes_nothing() {
    let mut swarm = swarm();
    accepted(&mut swarm, "planner", create("inputs"));
    let large = "x".repeat(limits::KV_VALUE_BYTES_MAX);
    let code = refused(&mut swarm, "planner", put("inputs", "big", json!(large), None));
    assert_eq!(code, "invalid_field", "a value of more than the bound (its quotes count)");
    let empty = json!({"type": "kv.namespace.create", "namespace": "lists", "writers": {"agents": []}});
    assert_eq!(refused(&mut swarm, "planner", empty), "invalid_field");
    let configure = json!({"type": "kv.namespace.configure", "namespace": "inputs"});
    assert_eq!(refused(&mut swarm, "planner", configure), "invalid_field");
    for bad in [json!("a b"), json!(""), json!("k".repeat(limits::KV_KEY_BYTES_MAX + 1)), json!("é")] {
        let text = json!({"type": "kv.put", "namespace": "inputs", "key": bad, "value": 1});
        assert!(serde_json::from_value::<colony_core::Command>(text).is_err(), "{bad} is not a key");
    }
    assert_eq!(refused(&mut swarm, "planner", put("nowhere", "a", json!(1), None)), "kv_namespace_not_found");
}

#[test]
fn a_hostile_writer_fills_only_its_share_of_an_open_namespace() {
    let mut swarm = swarm();
    let open = json!({"type": "kv.namespace.create", "namespace": "board", "writers": "registered"});
    accepted(&mut swarm, "planner", open);
    swarm.in_bulk(|swarm| {
        for index in 0..limits::KV_KEYS_PER_SIGNER_MAX {
            stored(swarm, "hostile", put("board", &format!("spam/{index}"), json!(0), None));
        }
    });
    assert_eq!(refused(&mut swarm, "hostile", put("board", "spam/more", json!(0), None)), "limit_reached");
    // Rewriting its own keys stays possible, and the others still write.
    stored(&mut swarm, "hostile", put("board", "spam/0", json!(1), None));
    stored(&mut swarm, "worker-1", put("board", "result", json!("done"), None));
    // Overwriting another writer's key moves the key to the new writer's share.
    stored(&mut swarm, "worker-2", put("board", "spam/1", json!("mine now"), None));
    let hostile = colony_core::Signer::Agent(colony_core::AgentId::new("hostile").unwrap());
    assert_eq!(swarm.state().kv().written_by(&hostile).0 as usize, limits::KV_KEYS_PER_SIGNER_MAX - 1);
    stored(&mut swarm, "hostile", put("board", "spam/more", json!(0), None));
    // Bytes are bounded too: a writer of large values stops at its byte share.
    let large = "y".repeat(limits::KV_VALUE_BYTES_MAX - 2);
    let mut refusal = None;
    swarm.in_bulk(|swarm| {
        for index in 0.. {
            let outcome =
                swarm.agent("worker-1", vec![command(put("board", &format!("big/{index}"), json!(large), None))]);
            if let Some(code) = outcome.single_code() {
                refusal = Some((index, code));
                break;
            }
        }
    });
    let (index, code) = refusal.unwrap();
    assert_eq!(code, "limit_reached");
    let per_value = (limits::KV_VALUE_BYTES_MAX as u64) + 5 + limits::KV_ENTRY_OVERHEAD_BYTES;
    assert_eq!(index as u64, limits::KV_BYTES_PER_SIGNER_MAX / per_value, "refused at the first put past the share");
    // A namespace per signer up to the bound.
    for index in 1..limits::KV_NAMESPACES_PER_SIGNER_MAX {
        accepted(&mut swarm, "hostile", create(&format!("mine-{index}")));
    }
    accepted(&mut swarm, "hostile", create("mine-0"));
    assert_eq!(refused(&mut swarm, "hostile", create("one-too-many")), "limit_reached");
    accepted(&mut swarm, "worker-1", create("still-free"));
}

/// A key in the model: its value, version, created revision, modified revision, and the writer
/// whose lease it lives with.
type ModelEntry = (String, u64, u64, u64, Option<&'static str>);

/// The reference: namespaces of key → (value, version, created, modified), the one revision counter,
/// and each namespace's contents after every revision, to reconcile copies from.
#[derive(Default)]
struct Model {
    revision: u64,
    namespaces: BTreeMap<String, BTreeMap<String, ModelEntry>>,
    history: Vec<(String, u64, BTreeMap<String, String>)>,
}

impl Model {
    fn contents(&self, namespace: &str) -> BTreeMap<String, String> {
        self.namespaces[namespace].iter().map(|(key, (value, ..))| (key.clone(), value.clone())).collect()
    }

    /// What the store must answer for an operation, and the model after it.
    fn step(
        &mut self,
        namespace: &str,
        key: &str,
        value: Option<String>,
        expected: Option<u64>,
        leased_by: Option<&'static str>,
    ) -> Result<Option<(u64, u64)>, &'static str> {
        let Some(entries) = self.namespaces.get_mut(namespace) else { return Err("kv_namespace_not_found") };
        let actual = entries.get(key).map_or(0, |entry| entry.3);
        if expected.is_some_and(|expected| expected != actual) {
            return Err("kv_revision_mismatch");
        }
        let result = match value {
            Some(value) => {
                self.revision += 1;
                let (version, created) = entries.get(key).map_or((1, self.revision), |entry| (entry.1 + 1, entry.2));
                entries.insert(key.to_owned(), (value, version, created, self.revision, leased_by));
                Some((self.revision, version))
            }
            None if entries.remove(key).is_some() => {
                self.revision += 1;
                Some((self.revision, 0))
            }
            None => None,
        };
        if result.is_some() {
            let contents = self.contents(namespace);
            self.history.push((namespace.to_owned(), self.revision, contents));
        }
        Ok(result)
    }

    /// The writer's lease ends: its keys are deleted, by namespace then key, a revision each.
    fn end_lease(&mut self, writer: &str) {
        let names: Vec<String> = self.namespaces.keys().cloned().collect();
        for namespace in names {
            let entries = self.namespaces.get_mut(&namespace).unwrap();
            let leased: Vec<String> =
                entries.iter().filter(|(_, entry)| entry.4 == Some(writer)).map(|(key, _)| key.clone()).collect();
            for key in leased {
                self.step(&namespace, &key, None, None, None).unwrap();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Puts and deletes, blind or under a compare-and-swap that is right or stale, some puts under
    /// the writer's lease and some leases revoked, on two namespaces and five keys: every result
    /// against the model's, every entry equal after each step, and from every revision reached, a
    /// copy reconciled by the watch equal to the present.
    #[test]
    fn the_store_matches_a_model_and_every_watch_reconciles(
        steps in proptest::collection::vec((0usize..2, 0usize..5, 0u32..100, 0usize..6, 0u64..3), 1..60),
    ) {
        let mut swarm = swarm();
        let writers = ["planner", "worker-1"];
        let grant = json!({"type": "lease.grant", "lease": "presence", "ttl_ms": 3_600_000});
        for writer in writers {
            prop_assert!(swarm.agent(writer, vec![command(grant.clone())]).all_accepted());
        }
        let mut model = Model::default();
        let namespaces = ["alpha", "beta"];
        for namespace in namespaces {
            let open = json!({"type": "kv.namespace.create", "namespace": namespace, "writers": {"agents": ["worker-1"]}});
            prop_assert!(swarm.agent("planner", vec![command(open)]).all_accepted());
            model.revision += 1;
            model.namespaces.insert(namespace.to_owned(), BTreeMap::new());
            model.history.push((namespace.to_owned(), model.revision, BTreeMap::new()));
        }
        let keys = ["a", "a/b", "b", "config/x", "z"];
        for (namespace, key_index, value, operation, stale_by) in steps {
            let (namespace, key_text) = (namespaces[namespace], keys[key_index]);
            let writer = writers[value as usize % 2];
            if operation == 5 {
                // The writer's lease revoked and granted again: its keys go.
                let revoke = json!({"type": "lease.revoke", "lease": "presence"});
                prop_assert!(swarm.agent(writer, vec![command(revoke), command(grant.clone())]).all_accepted());
                model.end_lease(writer);
                prop_assert_eq!(swarm.state().kv().revision(), model.revision);
                continue;
            }
            let current = model.namespaces[namespace].get(key_text).map_or(0, |entry| entry.3);
            // 0: a blind put; 1: a put expecting the present revision (or one `stale_by` behind);
            // 2: a delete expecting it; 3: a blind delete; 4: a blind put under the writer's lease.
            let expected = match operation {
                1 | 2 => Some(current.saturating_sub(stale_by)),
                _ => None,
            };
            let stored_value = (operation < 2 || operation == 4).then(|| json!({"v": value}).to_string());
            let mut command_value = match &stored_value {
                Some(_) => put(namespace, key_text, json!({"v": value}), expected),
                None => delete(namespace, key_text, expected),
            };
            let leased_by = (operation == 4).then_some(writer);
            if leased_by.is_some() {
                command_value["lease"] = json!("presence");
            }
            let outcome = swarm.agent(writer, vec![command(command_value)]);
            let expected_result = model.step(namespace, key_text, stored_value, expected, leased_by);
            match (outcome.single(), expected_result) {
                (Ok(Accepted::KvPut { revision, version }), Ok(Some((model_revision, model_version)))) => {
                    prop_assert_eq!((*revision, *version), (model_revision, model_version));
                }
                (Ok(Accepted::KvDeleted { revision }), Ok(Some((model_revision, 0)))) => prop_assert_eq!(*revision, model_revision),
                (Ok(Accepted::Unchanged), Ok(None)) => {}
                (Err(rejection), Err(code)) => prop_assert_eq!(rejection.code(), code),
                (got, expected) => prop_assert!(false, "store {:?} against model {:?}", got, expected),
            }
            prop_assert_eq!(swarm.state().kv().revision(), model.revision);
            for namespace in namespaces {
                let found = swarm.state().kv().namespace(&name(namespace)).unwrap();
                for (key_text, (value, version, created, modified, leased_by)) in &model.namespaces[namespace] {
                    let entry = found.get(&key(key_text)).unwrap();
                    prop_assert_eq!(
                        (entry.value.as_str(), entry.version, entry.created_revision, entry.modified_revision),
                        (value.as_str(), *version, *created, *modified)
                    );
                    let lease_holder = entry.lease.as_ref().map(|_| entry.modified_by.to_string());
                    prop_assert_eq!(lease_holder.as_deref(), *leased_by);
                }
                prop_assert_eq!(found.keys(), model.namespaces[namespace].len());
            }
        }
        for (namespace, revision, contents) in &model.history {
            let found = swarm.state().kv().namespace(&name(namespace)).unwrap();
            let mut copy = contents.clone();
            for change in found.changes_after(*revision, usize::MAX).unwrap() {
                match change {
                    StoreChange::Put { key, entry } => copy.insert(key.to_string(), entry.value.as_str().to_owned()),
                    StoreChange::Deleted { key, .. } => copy.remove(key.as_str()),
                };
            }
            prop_assert_eq!(copy, model.contents(namespace), "{} reconciled from revision {}", namespace, revision);
        }
    }
}

#[test]
fn a_crowd_of_sybils_fills_namespaces_only_up_to_the_global_bound_and_the_operator_frees_one() {
    let mut swarm = swarm();
    let sybils = limits::KV_NAMESPACES_MAX / limits::KV_NAMESPACES_PER_SIGNER_MAX;
    swarm.in_bulk(|swarm| {
        for sybil in 0..sybils {
            let agent = format!("sybil-{sybil}");
            assert!(swarm.register(&agent, "scout").all_accepted());
            let creates = (0..limits::KV_NAMESPACES_PER_SIGNER_MAX)
                .map(|index| command(create(&format!("s{sybil}-{index}"))))
                .collect();
            assert!(swarm.agent(&agent, creates).all_accepted());
        }
    });
    assert_eq!(swarm.state().kv().len(), limits::KV_NAMESPACES_MAX);
    let refusal = swarm.agent("planner", vec![command(create("honest"))]);
    assert_eq!(refusal.single_code(), Some("limit_reached"));
    assert!(refusal.single_rejection().to_string().contains("kv_namespaces"), "{}", refusal.single_rejection());
    // The operator removes a squatter's namespace, and an honest agent takes the place.
    let removal = swarm.operator(vec![command(json!({"type": "kv.namespace.delete", "namespace": "s0-0"}))]);
    assert!(removal.all_accepted());
    accepted(&mut swarm, "planner", create("honest"));
}
