//! Keys that live with a lease: deleted, with a deletion watchers see, in the entry that ends the
//! lease (expired by log time, revoked, its holder silent or deregistered); detached by a put
//! without the lease, another writer's put, a delete or the namespace's deletion; refused on a
//! lease the writer does not hold or that holds its share of keys, changing nothing.

mod support;

use colony_core::kv::StoreChange;
use colony_core::{Accepted, EventKind, Name, StoreKey, limits};
use serde_json::{Value, json};
use support::market::command;
use support::{OutcomeExt, Simulator, SwarmBuilder};

const HEARTBEAT_TTL_MS: u64 = 60_000;

fn swarm() -> Simulator {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(HEARTBEAT_TTL_MS).build();
    swarm.register_all(&["service-a", "service-b", "hostile"], "scout");
    accepted(
        &mut swarm,
        "operator",
        json!({"type": "kv.namespace.create", "namespace": "services", "writers": "registered"}),
    );
    swarm
}

fn grant(lease: &str, ttl_ms: u64) -> Value {
    json!({"type": "lease.grant", "lease": lease, "ttl_ms": ttl_ms})
}

fn put(key: &str, value: Value, lease: Option<&str>) -> Value {
    let mut command = json!({"type": "kv.put", "namespace": "services", "key": key, "value": value});
    if let Some(lease) = lease {
        command["lease"] = json!(lease);
    }
    command
}

#[track_caller]
fn accepted(swarm: &mut Simulator, who: &str, value: Value) -> Accepted {
    let outcome =
        if who == "operator" { swarm.operator(vec![command(value)]) } else { swarm.agent(who, vec![command(value)]) };
    outcome.single().clone().unwrap_or_else(|rejection| panic!("refused: {rejection}"))
}

fn stored(swarm: &Simulator, key: &str) -> Option<Option<Name>> {
    let namespace = swarm.state().kv().namespace(&Name::new("services").unwrap())?;
    namespace.get(&StoreKey::new(key).unwrap()).map(|entry| entry.lease.clone())
}

fn deleted_keys(events: &[colony_core::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::KvDeleted { key: Some(key), by, .. } => Some(format!("{key} by {by}")),
            _ => None,
        })
        .collect()
}

#[test]
fn a_key_lives_with_its_lease_and_is_deleted_when_the_lease_expires() {
    let mut swarm = swarm();
    accepted(&mut swarm, "service-a", grant("presence", 5_000));
    accepted(&mut swarm, "service-a", put("services/a", json!({"endpoint": "10.0.0.1:80"}), Some("presence")));
    accepted(&mut swarm, "service-a", put("services/a/health", json!("ok"), Some("presence")));
    accepted(&mut swarm, "service-a", put("services/a/config", json!(1), None));
    assert_eq!(stored(&swarm, "services/a"), Some(Some(Name::new("presence").unwrap())));
    let before = swarm.state().kv().revision();

    // Kept alive, the keys stay.
    swarm.advance_ms(4_000);
    accepted(&mut swarm, "service-a", json!({"type": "lease.keep_alive", "lease": "presence"}));
    swarm.tick_after(4_000);
    assert!(stored(&swarm, "services/a").is_some());

    // Silent past its deadline, the lease ends and its keys go in the same entry; the rest stays.
    let outcome = swarm.tick_after(1_001);
    assert!(outcome.events.iter().any(|event| matches!(event.kind, EventKind::LeaseEnded { .. })));
    assert_eq!(deleted_keys(&outcome.events), ["services/a by service-a", "services/a/health by service-a"]);
    assert_eq!((stored(&swarm, "services/a"), stored(&swarm, "services/a/health")), (None, None));
    assert_eq!(stored(&swarm, "services/a/config"), Some(None));

    // A watcher from before sees the deletions.
    let namespace = swarm.state().kv().namespace(&Name::new("services").unwrap()).unwrap();
    let deletions: Vec<String> = namespace
        .changes_after(before, usize::MAX)
        .unwrap()
        .into_iter()
        .filter_map(|change| match change {
            StoreChange::Deleted { key, .. } => Some(key.to_string()),
            StoreChange::Put { .. } => None,
        })
        .collect();
    assert_eq!(deletions, ["services/a", "services/a/health"]);
    assert_eq!(swarm.state().kv().revision(), before + 2, "each deletion takes a revision");
}

#[test]
fn revocation_silence_and_deregistration_delete_a_holders_leased_keys() {
    let mut swarm = swarm();
    for agent in ["service-a", "service-b"] {
        accepted(&mut swarm, agent, grant("presence", 3_600_000));
        accepted(&mut swarm, agent, put(&format!("services/{agent}"), json!(agent), Some("presence")));
    }
    // The operator revokes service-a's lease: its key goes.
    let revoke = json!({"type": "lease.revoke", "lease": "presence", "holder": "service-a"});
    accepted(&mut swarm, "operator", revoke);
    assert_eq!(stored(&swarm, "services/service-a"), None);
    assert!(stored(&swarm, "services/service-b").is_some());

    // service-b falls silent: the liveness pass ends its leases, and its key goes with them.
    accepted(&mut swarm, "service-a", grant("presence", 3_600_000));
    accepted(&mut swarm, "service-a", put("services/service-a", json!("back"), Some("presence")));
    swarm.advance_ms(HEARTBEAT_TTL_MS / 2);
    accepted(&mut swarm, "service-a", json!({"type": "agent.heartbeat"}));
    swarm.tick_after(HEARTBEAT_TTL_MS / 2 + 1);
    assert_eq!(stored(&swarm, "services/service-b"), None);
    assert!(stored(&swarm, "services/service-a").is_some());

    // service-a deregisters: its key goes too.
    accepted(&mut swarm, "operator", json!({"type": "agent.deregister", "agent": "service-a"}));
    assert_eq!(stored(&swarm, "services/service-a"), None);
    assert_eq!(swarm.state().kv().namespace(&Name::new("services").unwrap()).unwrap().keys(), 0);
}

#[test]
fn a_put_without_the_lease_another_writers_put_a_delete_or_the_namespaces_end_detach_the_key() {
    let mut swarm = swarm();
    accepted(&mut swarm, "service-a", grant("presence", 3_600_000));
    accepted(&mut swarm, "service-b", grant("presence", 3_600_000));
    for key in ["kept", "taken", "deleted", "moved"] {
        accepted(&mut swarm, "service-a", put(key, json!(key), Some("presence")));
    }
    accepted(&mut swarm, "service-a", put("kept", json!("no longer leased"), None));
    accepted(&mut swarm, "service-b", put("taken", json!("b's now"), None));
    accepted(&mut swarm, "service-b", put("moved", json!("b's lease now"), Some("presence")));
    accepted(&mut swarm, "service-a", json!({"type": "kv.delete", "namespace": "services", "key": "deleted"}));
    let lease = swarm.state().coordination().lease(&"service-a".parse().unwrap(), &Name::new("presence").unwrap());
    assert!(lease.unwrap().keys.is_empty(), "every key left service-a's lease");

    accepted(&mut swarm, "service-a", json!({"type": "lease.revoke", "lease": "presence"}));
    assert_eq!((stored(&swarm, "kept"), stored(&swarm, "taken")), (Some(None), Some(None)));
    assert!(stored(&swarm, "moved").is_some(), "service-b's lease holds it");

    // The namespace deleted with a leased key in it, the lease ends later without it.
    accepted(&mut swarm, "operator", json!({"type": "kv.namespace.delete", "namespace": "services"}));
    let outcome = swarm.agent("service-b", vec![command(json!({"type": "lease.revoke", "lease": "presence"}))]);
    assert!(outcome.all_accepted());
    assert!(deleted_keys(&outcome.events).is_empty());
}

#[test]
fn a_lease_the_writer_does_not_hold_or_that_is_full_is_refused_and_changes_nothing() {
    let mut swarm = swarm();
    accepted(&mut swarm, "service-a", grant("presence", 3_600_000));
    // Another agent's lease is not the writer's to put keys under.
    let before = (swarm.state().kv().clone(), swarm.state().coordination().clone());
    let code = swarm.agent("hostile", vec![command(put("services/a", json!("fake"), Some("presence")))]).single_code();
    assert_eq!(code, Some("lease_not_found"));
    assert_eq!((swarm.state().kv().clone(), swarm.state().coordination().clone()), before);

    for index in 0..limits::KV_KEYS_PER_LEASE_MAX {
        accepted(&mut swarm, "service-a", put(&format!("k/{index}"), json!(index), Some("presence")));
    }
    // Writing a key the lease holds already takes no more of its share.
    accepted(&mut swarm, "service-a", put("k/0", json!("again"), Some("presence")));
    let before = (swarm.state().kv().clone(), swarm.state().coordination().clone());
    let outcome = swarm.agent("service-a", vec![command(put("k/one-more", json!(1), Some("presence")))]);
    assert_eq!(outcome.single_code(), Some("limit_reached"));
    assert_eq!((swarm.state().kv().clone(), swarm.state().coordination().clone()), before);
    // Without the lease, the key is stored.
    accepted(&mut swarm, "service-a", put("k/one-more", json!(1), None));
}
