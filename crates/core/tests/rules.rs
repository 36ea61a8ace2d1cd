//! The rules of each command: who may do what, what it changes, which events it emits, and how it
//! is refused.

mod support;

use colony_core::limits;
use colony_core::{Accepted, EventKind, Halt, Liveness, Rejection, RoleAdmission, RoleConfig, Signer, SwarmConfig};
use colony_core::{ConfigRejection, RegistryRejection};
use support::commands::{
    Register, Update, config_with_ttl, deregister, halt, heartbeat, issue_read_token, register, resume,
    revoke_read_token, set_config,
};
use support::keys::numbered_capabilities;
use support::{OutcomeExt, Simulator, SwarmBuilder, agent_id, digest_for, key_for, name, names};

fn agent(text: &str) -> Signer {
    Signer::Agent(agent_id(text))
}

// ----- agent.register -----

#[test]
fn the_operator_registers_agents_with_their_role_default_weight() {
    let mut swarm = Simulator::new();
    let now = swarm.now_ms();
    let outcome = swarm.operator(vec![register("scout-1", "scout"), register("risk-1", "risk")]);
    assert_eq!(outcome.envelope, None);
    assert_eq!(outcome.commands, vec![Ok(Accepted::Done), Ok(Accepted::Done)]);
    assert_eq!(
        outcome.event_kinds(),
        [
            &EventKind::AgentRegistered { agent: agent_id("scout-1"), role: name("scout"), by: Signer::Operator },
            &EventKind::AgentRegistered { agent: agent_id("risk-1"), role: name("risk"), by: Signer::Operator },
        ]
    );
    for (index, event) in outcome.events.iter().enumerate() {
        assert_eq!((event.sequence, event.index, event.timestamp_ms), (2, index as u32, now));
    }

    let scout = swarm.agent_state("scout-1");
    assert_eq!(scout.public_key, key_for("scout-1"));
    assert_eq!(scout.role, name("scout"));
    assert_eq!(scout.weight, limits::WEIGHT_ONE);
    assert_eq!(scout.liveness, Liveness::Active);
    assert_eq!(scout.halt, None);
    assert_eq!((scout.parent.clone(), scout.referrer.clone()), (None, None));
    assert_eq!((scout.registered_at_ms, scout.last_heartbeat_ms), (now, now));
    assert_eq!(scout.heartbeat_deadline_ms, now + 30_000);
    assert_eq!(scout.deregistered_at_ms, None);
    assert_eq!(scout.status(), "active");
    assert_eq!(swarm.agent_state("risk-1").weight, limits::WEIGHT_ONE);
    assert_eq!(swarm.state().registry().len(), 2);
}

#[test]
fn only_the_operator_sets_a_weight_and_only_within_range() {
    let mut swarm = Simulator::new();
    let outcome = swarm.operator(vec![
        Register::new("light", "scout").weight(0).into(),
        Register::new("heavy", "scout").weight(limits::AGENT_WEIGHT_MAX).into(),
        Register::new("too-heavy", "scout").weight(limits::AGENT_WEIGHT_MAX + 1).into(),
    ]);
    assert_eq!(outcome.codes(), [None, None, Some("invalid_field")]);
    assert_eq!(outcome.commands[2].as_ref().unwrap_err().field(), Some("weight"));
    assert_eq!(swarm.agent_state("light").weight, 0);
    assert_eq!(swarm.agent_state("heavy").weight, limits::AGENT_WEIGHT_MAX);
    assert!(swarm.state().agent(&agent_id("too-heavy")).is_none());

    // An agent registering its child may not choose the child's weight, not even the default one.
    let outcome = swarm.agent("light", vec![Register::new("child", "scout").parent("light").weight(100).into()]);
    assert_eq!(
        outcome.single(),
        &Err(Rejection::Unauthorized { reason: "only the operator may set an agent's weight" })
    );
    // Nor may a self-registering agent.
    let outcome = swarm.agent("solo", vec![Register::new("solo", "scout").weight(1).into()]);
    assert_eq!(outcome.single_code(), Some("unauthorized"));
    assert!(swarm.state().agent(&agent_id("child")).is_none());
    assert!(swarm.state().agent(&agent_id("solo")).is_none());
}

#[test]
fn an_agent_registers_itself_when_the_swarm_allows_it() {
    let mut swarm = Simulator::new();
    let outcome = swarm.self_register("solo", "analyst");
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::AgentRegistered { agent: agent_id("solo"), role: name("analyst"), by: agent("solo") }]
    );
    // The registration envelope's nonce is the agent's first spent nonce.
    assert_eq!(swarm.state().highest_nonce(&agent("solo")), 1);
    assert!(!swarm.state().nonce_is_fresh(&agent("solo"), 1));
    assert!(swarm.state().nonce_is_fresh(&agent("solo"), 2));
    assert_eq!(swarm.agent_state("solo").public_key, key_for("solo"));
}

#[test]
fn self_registration_is_refused_when_the_swarm_forbids_it() {
    let mut swarm = SwarmBuilder::new().self_registration(false).build();
    let outcome = swarm.self_register("solo", "scout");
    assert_eq!(outcome.single_code(), Some("unauthorized"));
    assert!(swarm.state().registry().is_empty());

    // The operator and parents still may.
    assert!(swarm.register("parent", "orchestrator").all_accepted());
    let outcome = swarm.agent("parent", vec![Register::new("child", "scout").parent("parent").into()]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(swarm.state().registry().len(), 2);
}

#[test]
fn an_agent_registers_only_children_that_name_it_as_parent() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["parent", "other"], "orchestrator");
    let outcome = swarm.agent(
        "parent",
        vec![
            Register::new("child", "executor").parent("parent").capabilities(["trade"]).into(),
            register("orphan", "scout"),
            Register::new("foster", "scout").parent("other").into(),
        ],
    );
    assert_eq!(outcome.codes(), [None, Some("unauthorized"), Some("unauthorized")]);
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::AgentRegistered { agent: agent_id("child"), role: name("executor"), by: agent("parent") }]
    );
    let child = swarm.agent_state("child");
    assert_eq!(child.parent, Some(agent_id("parent")));
    assert_eq!(child.public_key, key_for("child"));
    assert_eq!(child.capabilities, names(["trade"]));
    // The child's nonces are its own: the parent's envelope spent none of them.
    assert_eq!(child.highest_nonce(), 0);
    assert_eq!(swarm.state().registry().len(), 3);
}

#[test]
fn a_self_registration_may_not_name_a_parent() {
    // A parent sweeps its child's wallet and sets its policies, so an agent claiming a parent without
    // the parent's signature could hand its money to anyone, or escape a freeze through that parent.
    let mut swarm = Simulator::new();
    swarm.register_all(&["parent"], "orchestrator");
    let before = swarm.state().registry().clone();
    let outcome = swarm.agent("stray", vec![Register::new("stray", "scout").parent("parent").into()]);
    assert_eq!(outcome.single_code(), Some("unauthorized"));
    assert_eq!(swarm.state().registry(), &before, "a refused registration changes nothing");
    assert!(swarm.state().agent(&agent_id("stray")).is_none());
    // The parent registers it instead (the child's own key, the parent's signature).
    assert!(swarm.agent("parent", vec![Register::new("stray", "scout").parent("parent").into()]).all_accepted());
    assert_eq!(swarm.agent_state("parent").live_children, 1);
}

#[test]
fn ids_that_name_the_server_or_its_readers_are_reserved() {
    for reserved in colony_core::RESERVED_AGENT_IDS {
        assert!(colony_core::AgentId::new(*reserved).is_err(), "{reserved}");
        assert!(Signer::parse(reserved).is_err() || *reserved == "operator", "{reserved}");
    }
    assert!(colony_core::AgentId::new("read-tokens").is_ok());
}

#[test]
fn a_key_registers_one_live_agent_and_unusable_keys_none() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("first", "scout").all_accepted());
    let borrowed = swarm.operator(vec![Register::new("second", "scout").key(key_for("first")).into()]);
    assert_eq!(borrowed.single_code(), Some("invalid_field"));
    assert_eq!(borrowed.single().as_ref().unwrap_err().field(), Some("public_key"));
    let operators = swarm.operator(vec![Register::new("second", "scout").key(support::keys::operator_key()).into()]);
    assert_eq!(operators.single_code(), Some("invalid_field"));
    let unusable = swarm.operator(vec![Register::new("second", "scout").key(support::keys::unusable_key()).into()]);
    assert_eq!(unusable.single_code(), Some("invalid_field"));
    // Once the first agent is gone, its key may be registered again under a new id.
    assert!(swarm.operator(vec![deregister("first")]).all_accepted());
    assert!(swarm.operator(vec![Register::new("second", "scout").key(key_for("first")).into()]).all_accepted());
    assert_eq!(swarm.state().registry().agent_with_key(&key_for("first")), Some(&agent_id("second")));
}

#[test]
fn registrations_by_agents_are_paced_and_the_operators_are_not() {
    let config = SwarmConfig { registration_interval_ms: 1_000, registration_burst: 3, ..SwarmConfig::default() };
    let mut swarm = SwarmBuilder::new().config(config).build();
    for index in 0..3 {
        assert!(swarm.self_register(&format!("a{index}"), "scout").all_accepted(), "the burst of three");
    }
    let before = swarm.state().registry().clone();
    let outcome = swarm.self_register("a3", "scout");
    assert_eq!(
        outcome.single(),
        &Err(Rejection::RateLimited { limit: "registration_interval_ms", retry_after_ms: 1_000 })
    );
    assert_eq!(swarm.state().registry(), &before);
    // A parent's registrations share the same pace; the operator's do not.
    let outcome = swarm.agent("a0", vec![Register::new("child", "scout").parent("a0").into()]);
    assert_eq!(outcome.single_code(), Some("rate_limited"));
    assert!(swarm.register("by-operator", "scout").all_accepted());
    swarm.advance_ms(1_000);
    assert!(swarm.self_register("a3", "scout").all_accepted(), "one interval later, one more");
    assert_eq!(swarm.self_register("a4", "scout").single_code(), Some("rate_limited"));
    swarm.advance_ms(3_000);
    for index in 4..7 {
        assert!(swarm.self_register(&format!("a{index}"), "scout").all_accepted(), "the burst refilled");
    }
}

#[test]
fn a_parent_has_a_bounded_number_of_live_children() {
    let config = SwarmConfig { registration_interval_ms: 0, ..SwarmConfig::default() };
    let mut swarm = SwarmBuilder::new().config(config).build();
    assert!(swarm.register("parent", "orchestrator").all_accepted());
    let children: Vec<_> = (0..limits::CHILDREN_PER_PARENT_MAX)
        .map(|index| Register::new(&format!("c{index}"), "scout").parent("parent").into())
        .collect();
    assert!(swarm.agent("parent", children).all_accepted());
    let over = swarm.agent("parent", vec![Register::new("one-more", "scout").parent("parent").into()]);
    assert_eq!(over.single(), &Err(Rejection::LimitReached { limit: "children_per_parent", max: 1_000 }));
    // The operator may not pass it either: the bound is what the registry's invariants check.
    let by_operator = swarm.operator(vec![Register::new("one-more", "scout").parent("parent").into()]);
    assert_eq!(by_operator.single_code(), Some("limit_reached"));
    // A deregistered child gives its place back; its id stays taken.
    assert!(swarm.agent("parent", vec![deregister("c0")]).all_accepted());
    assert!(swarm.agent("parent", vec![Register::new("one-more", "scout").parent("parent").into()]).all_accepted());
    assert_eq!(
        swarm.agent("parent", vec![Register::new("c0", "scout").parent("parent").into()]).single_code(),
        Some("agent_exists")
    );
}

#[test]
fn tombstones_do_not_count_against_the_live_limit() {
    let mut swarm = Simulator::new();
    assert!(swarm.operator(vec![Register::new("a", "scout").capabilities(["trade"]).into()]).all_accepted());
    assert!(swarm.register("b", "scout").all_accepted());
    assert!(swarm.operator(vec![deregister("a")]).all_accepted());
    let registry = swarm.state().registry();
    assert_eq!((registry.len(), registry.live_len()), (2, 1));
    let tombstone = swarm.agent_state("a");
    assert!(tombstone.capabilities.is_empty(), "a tombstone keeps its id, not its capabilities");
}

#[test]
fn the_operator_may_name_any_live_parent_and_referrer() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["parent", "referrer", "gone"], "scout");
    assert!(swarm.operator(vec![deregister("gone")]).all_accepted());
    let outcome = swarm.operator(vec![
        Register::new("child", "scout").parent("parent").referrer("referrer").into(),
        Register::new("a", "scout").parent("nobody").into(),
        Register::new("b", "scout").referrer("gone").into(),
        Register::new("c", "scout").parent("gone").into(),
    ]);
    assert_eq!(outcome.codes(), [None, Some("invalid_field"), Some("invalid_field"), Some("invalid_field")]);
    let fields: Vec<_> = outcome.commands.iter().map(|result| result.as_ref().err().and_then(|r| r.field())).collect();
    assert_eq!(fields, [None, Some("parent"), Some("referrer"), Some("parent")]);
    let child = swarm.agent_state("child");
    assert_eq!((child.parent.clone(), child.referrer.clone()), (Some(agent_id("parent")), Some(agent_id("referrer"))));
    for missing in ["a", "b", "c"] {
        assert!(swarm.state().agent(&agent_id(missing)).is_none());
    }
}

#[test]
fn an_id_is_never_reused_not_even_after_deregistration() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    let outcome = swarm.register("a", "analyst");
    assert_eq!(outcome.single(), &Err(Rejection::Registry(RegistryRejection::AgentExists { agent: agent_id("a") })));
    assert_eq!(outcome.single().as_ref().unwrap_err().field(), Some("agent"));
    assert_eq!(swarm.agent_state("a").role, name("scout"));

    assert!(swarm.operator(vec![deregister("a")]).all_accepted());
    let tombstone = swarm.agent_state("a").clone();
    let outcome = swarm.operator(vec![Register::new("a", "scout").key(key_for("someone-else")).into()]);
    assert_eq!(outcome.single_code(), Some("agent_exists"));
    // The old agent cannot come back by itself either: its envelopes are refused as deregistered.
    let outcome = swarm.self_register("a", "scout");
    assert_eq!(outcome.envelope, Some(Rejection::AgentDeregistered { agent: agent_id("a") }));
    assert_eq!(swarm.agent_state("a"), &tombstone);
    assert_eq!(swarm.state().registry().len(), 1);
}

#[test]
fn a_closed_role_admits_agents_by_the_operator_alone() {
    // A role that votes with weight, open to self-registration, lets a crowd of newcomers vote in
    // every electorate of that role; closed, only the operator (or an approved action) puts agents in it.
    let mut config = SwarmConfig::default();
    config.roles.get_mut(&name("auditor")).unwrap().admission = RoleAdmission::Operator;
    let mut swarm = Simulator::new();
    assert!(swarm.operator(vec![set_config(config)]).all_accepted());
    swarm.register_all(&["parent"], "orchestrator");
    let before = swarm.state().registry().clone();
    let closed = |outcome: &colony_core::EntryOutcome| {
        assert_eq!(
            outcome.single(),
            &Err(Rejection::Registry(RegistryRejection::RoleClosed { role: "auditor".to_owned() }))
        );
    };
    closed(&swarm.self_register("crowd-1", "auditor"));
    assert_eq!(swarm.state().registry(), &before, "a refused registration changes nothing");
    closed(&swarm.agent("parent", vec![Register::new("child", "auditor").parent("parent").into()]));
    assert!(swarm.state().agent(&agent_id("child")).is_none());
    assert_eq!(swarm.agent_state("parent").live_children, 0);

    // A parent's child in an open role may not be moved into it either; the operator may do both.
    assert!(swarm.agent("parent", vec![Register::new("child", "scout").parent("parent").into()]).all_accepted());
    closed(&swarm.agent("parent", vec![Update::new("child").role("auditor").into()]));
    assert_eq!(swarm.agent_state("child").role, name("scout"));
    assert!(swarm.operator(vec![Update::new("child").role("auditor").into()]).all_accepted());
    assert!(swarm.register("auditor-1", "auditor").all_accepted());
    assert_eq!(swarm.agent_state("auditor-1").role, name("auditor"));
    // Other roles stay open to everyone the registry allows.
    assert!(swarm.self_register("scout-9", "scout").all_accepted());
}

#[test]
fn a_role_must_be_in_the_configuration() {
    let mut swarm = Simulator::new();
    let outcome = swarm.register("a", "ghost");
    assert_eq!(
        outcome.single(),
        &Err(Rejection::Registry(RegistryRejection::UnknownRole { role: "ghost".to_owned() }))
    );
    assert_eq!(outcome.single().as_ref().unwrap_err().field(), Some("role"));
    assert!(swarm.state().registry().is_empty());
    assert!(outcome.events.is_empty());
}

#[test]
fn capabilities_are_limited_per_agent() {
    let mut swarm = Simulator::new();
    let max = limits::CAPABILITIES_PER_AGENT_MAX;
    let outcome = swarm.operator(vec![
        Register::new("full", "scout").capability_set(numbered_capabilities(max)).into(),
        Register::new("overfull", "scout").capability_set(numbered_capabilities(max + 1)).into(),
    ]);
    assert_eq!(outcome.codes(), [None, Some("limit_reached")]);
    assert_eq!(outcome.commands[1], Err(Rejection::LimitReached { limit: "capabilities_per_agent", max: max as u64 }));
    assert_eq!(swarm.agent_state("full").capabilities.len(), max);
    assert!(swarm.state().agent(&agent_id("overfull")).is_none());

    let outcome = swarm.agent("full", vec![Update::new("full").capability_set(numbered_capabilities(max + 1)).into()]);
    assert_eq!(outcome.single_code(), Some("limit_reached"));
    assert_eq!(swarm.agent_state("full").capabilities, numbered_capabilities(max));
}

#[test]
fn commands_of_one_envelope_succeed_or_fail_on_their_own() {
    let mut swarm = Simulator::new();
    let before = swarm.state().counters().clone();
    let outcome = swarm.operator(vec![
        register("a", "scout"),
        register("a", "scout"),
        register("b", "ghost"),
        register("c", "risk"),
    ]);
    assert_eq!(outcome.codes(), [None, Some("agent_exists"), Some("unknown_role"), None]);
    let registered: Vec<_> = outcome
        .events
        .iter()
        .map(|event| match &event.kind {
            EventKind::AgentRegistered { agent, .. } => (event.index, agent.clone()),
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(registered, [(0, agent_id("a")), (1, agent_id("c"))]);
    let counters = swarm.state().counters();
    assert_eq!(counters.entries, before.entries + 1);
    assert_eq!(counters.commands_accepted, before.commands_accepted + 2);
    assert_eq!(counters.commands_rejected, before.commands_rejected + 2);
    assert_eq!(counters.events, before.events + 2);
}

// ----- agent.update -----

#[test]
fn an_agent_may_change_its_own_capabilities_but_not_its_role_or_weight() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    let outcome = swarm.agent("a", vec![Update::new("a").capabilities(["trade", "vote"]).into()]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(outcome.event_kinds(), [&EventKind::AgentUpdated { agent: agent_id("a") }]);
    assert_eq!(swarm.agent_state("a").capabilities, names(["trade", "vote"]));

    let outcome = swarm.agent(
        "a",
        vec![
            Update::new("a").role("risk").into(),
            Update::new("a").weight(500).into(),
            // All or nothing: the capabilities in a command that also asks for a weight are not applied.
            Update::new("a").capabilities(["audit"]).weight(500).into(),
        ],
    );
    assert_eq!(outcome.codes(), [Some("unauthorized"); 3]);
    assert!(outcome.events.is_empty());
    let a = swarm.agent_state("a");
    assert_eq!(
        (a.role.clone(), a.weight, a.capabilities.clone()),
        (name("scout"), limits::WEIGHT_ONE, names(["trade", "vote"]))
    );
}

#[test]
fn a_parent_may_change_role_and_capabilities_and_only_the_operator_the_weight() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("parent", "orchestrator").all_accepted());
    assert!(swarm.agent("parent", vec![Register::new("child", "scout").parent("parent").into()]).all_accepted());

    let outcome = swarm.agent("parent", vec![Update::new("child").role("executor").capabilities(["trade"]).into()]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    let child = swarm.agent_state("child");
    assert_eq!((child.role.clone(), child.capabilities.clone()), (name("executor"), names(["trade"])));
    // A role change does not change the weight: the weight was fixed at registration.
    assert_eq!(child.weight, limits::WEIGHT_ONE);

    let outcome = swarm.agent("parent", vec![Update::new("child").weight(7).into()]);
    assert_eq!(outcome.single_code(), Some("unauthorized"));
    let outcome = swarm.operator(vec![
        Update::new("child").weight(7).into(),
        Update::new("child").weight(limits::AGENT_WEIGHT_MAX + 1).into(),
    ]);
    assert_eq!(outcome.codes(), [None, Some("invalid_field")]);
    assert_eq!(outcome.commands[1].as_ref().unwrap_err().field(), Some("weight"));
    assert_eq!(swarm.agent_state("child").weight, 7);
}

#[test]
fn other_agents_may_not_update_an_agent() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["a", "b"], "scout");
    let outcome =
        swarm.agent("b", vec![Update::new("a").capabilities(["trade"]).into(), Update::new("a").role("risk").into()]);
    assert_eq!(outcome.codes(), [Some("unauthorized"), Some("unauthorized")]);
    let a = swarm.agent_state("a");
    assert!(a.capabilities.is_empty());
    assert_eq!(a.role, name("scout"));
}

#[test]
fn updates_are_validated_and_no_op_updates_are_unchanged() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["a", "gone"], "scout");
    assert!(swarm.operator(vec![deregister("gone")]).all_accepted());
    let outcome = swarm.operator(vec![
        Update::new("a").role("ghost").into(),
        Update::new("a").role("scout").weight(limits::WEIGHT_ONE).capabilities([]).into(),
        Update::new("a").into(),
        Update::new("nobody").weight(1).into(),
        Update::new("gone").weight(1).into(),
    ]);
    assert_eq!(
        outcome.commands,
        vec![
            Err(Rejection::Registry(RegistryRejection::UnknownRole { role: "ghost".to_owned() })),
            Ok(Accepted::Unchanged),
            Ok(Accepted::Unchanged),
            Err(Rejection::AgentNotFound { agent: agent_id("nobody") }),
            Err(Rejection::AgentDeregistered { agent: agent_id("gone") }),
        ]
    );
    assert!(outcome.events.is_empty(), "unchanged updates emit nothing: {:?}", outcome.events);
}

// ----- agent.halt / agent.resume -----

#[test]
fn a_halted_agent_may_heartbeat_but_not_write() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["a", "b"], "scout");
    swarm.advance_ms(500);
    let halted_at = swarm.now_ms();
    let outcome = swarm.operator(vec![halt("a", "misbehaving")]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::AgentHalted { agent: agent_id("a"), by: Signer::Operator, reason: "misbehaving".to_owned() }]
    );
    assert_eq!(
        swarm.agent_state("a").halt,
        Some(Halt { by: Signer::Operator, reason: "misbehaving".to_owned(), at_ms: halted_at })
    );
    assert_eq!(swarm.agent_state("a").status(), "halted");

    swarm.advance_ms(500);
    let outcome = swarm.agent(
        "a",
        vec![
            heartbeat(),
            Update::new("a").capabilities(["trade"]).into(),
            Register::new("child", "scout").parent("a").into(),
            deregister("a"),
            halt("b", ""),
        ],
    );
    assert_eq!(outcome.commands[0], Ok(Accepted::Done));
    for result in &outcome.commands[1..] {
        assert_eq!(result, &Err(Rejection::AgentHalted { agent: agent_id("a") }));
    }
    let a = swarm.agent_state("a");
    assert_eq!(a.last_heartbeat_ms, swarm.now_ms());
    assert!(a.capabilities.is_empty());
    assert_eq!(a.deregistered_at_ms, None);
    assert!(a.halt.is_some());
    assert!(swarm.state().agent(&agent_id("child")).is_none());
    assert_eq!(swarm.agent_state("b").halt, None);
}

#[test]
fn a_parent_halts_and_resumes_its_child() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("parent", "orchestrator").all_accepted());
    assert!(swarm.agent("parent", vec![Register::new("child", "scout").parent("parent").into()]).all_accepted());
    let outcome = swarm.agent("parent", vec![halt("child", "rebalancing")]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(swarm.agent_state("child").halt.as_ref().map(|halt| halt.by.clone()), Some(agent("parent")));

    let outcome = swarm.agent("parent", vec![resume("child")]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(outcome.event_kinds(), [&EventKind::AgentResumed { agent: agent_id("child"), by: agent("parent") }]);
    assert_eq!(swarm.agent_state("child").halt, None);
    assert_eq!(swarm.agent_state("child").status(), "active");
}

#[test]
fn a_parent_cannot_lift_the_operators_halt_but_the_operator_lifts_any() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("parent", "orchestrator").all_accepted());
    assert!(
        swarm
            .agent(
                "parent",
                vec![
                    Register::new("child", "scout").parent("parent").into(),
                    Register::new("sibling", "scout").parent("parent").into(),
                ]
            )
            .all_accepted()
    );
    assert!(swarm.operator(vec![halt("child", "compliance")]).all_accepted());
    let outcome = swarm.agent("parent", vec![resume("child")]);
    assert_eq!(
        outcome.single(),
        &Err(Rejection::Unauthorized { reason: "a halt imposed by the operator can only be lifted by the operator" })
    );
    assert!(outcome.events.is_empty());
    assert_eq!(swarm.agent_state("child").halt.as_ref().map(|halt| halt.by.clone()), Some(Signer::Operator));

    assert!(swarm.agent("parent", vec![halt("sibling", "")]).all_accepted());
    let outcome = swarm.operator(vec![resume("child"), resume("sibling")]);
    assert_eq!(outcome.commands, vec![Ok(Accepted::Done), Ok(Accepted::Done)]);
    assert_eq!(swarm.agent_state("child").halt, None);
    assert_eq!(swarm.agent_state("sibling").halt, None);
}

#[test]
fn only_the_operator_or_the_parent_may_halt_or_resume() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["a", "b"], "scout");
    let outcome = swarm.agent("b", vec![halt("a", ""), resume("a")]);
    assert_eq!(outcome.codes(), [Some("unauthorized"), Some("unauthorized")]);
    // Not even the agent itself.
    let outcome = swarm.agent("a", vec![halt("a", "")]);
    assert_eq!(outcome.single_code(), Some("unauthorized"));
    assert_eq!(swarm.agent_state("a").halt, None);
    // And a halted agent cannot lift its own halt: the halt check comes first.
    assert!(swarm.operator(vec![halt("a", "")]).all_accepted());
    let outcome = swarm.agent("a", vec![resume("a")]);
    assert_eq!(outcome.single(), &Err(Rejection::AgentHalted { agent: agent_id("a") }));
}

#[test]
fn halting_a_halted_agent_or_resuming_a_running_one_is_unchanged() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    let outcome = swarm.operator(vec![resume("a"), halt("a", "first"), halt("a", "second")]);
    assert_eq!(outcome.commands, vec![Ok(Accepted::Unchanged), Ok(Accepted::Done), Ok(Accepted::Unchanged)]);
    assert_eq!(outcome.events.len(), 1);
    assert_eq!(swarm.agent_state("a").halt.as_ref().map(|halt| halt.reason.as_str()), Some("first"));
}

#[test]
fn halt_reasons_are_limited_and_targets_must_exist() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["a", "b", "gone"], "scout");
    assert!(swarm.operator(vec![deregister("gone")]).all_accepted());
    let at_limit = "r".repeat(limits::REASON_BYTES_MAX);
    let over_limit = "r".repeat(limits::REASON_BYTES_MAX + 1);
    let outcome = swarm.operator(vec![
        halt("a", &over_limit),
        halt("b", &at_limit),
        halt("nobody", ""),
        halt("gone", ""),
        resume("nobody"),
        resume("gone"),
    ]);
    assert_eq!(
        outcome.codes(),
        [
            Some("invalid_field"),
            None,
            Some("agent_not_found"),
            Some("agent_deregistered"),
            Some("agent_not_found"),
            Some("agent_deregistered")
        ]
    );
    assert_eq!(outcome.commands[0].as_ref().unwrap_err().field(), Some("reason"));
    assert_eq!(swarm.agent_state("a").halt, None);
    assert_eq!(swarm.agent_state("b").halt.as_ref().map(|halt| halt.reason.len()), Some(limits::REASON_BYTES_MAX));
}

/// Core bug (see the report): when a parent has halted its child, the operator's own halt of the child
/// is `Unchanged` and the halt stays recorded as the parent's, so the parent can lift a halt the
/// operator asked for. `registry.rs`, `halt()`: `if target.halt.is_some() { return Ok(Accepted::Unchanged); }`.
#[test]

fn an_operator_halt_over_a_parents_halt_cannot_be_lifted_by_the_parent() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("parent", "orchestrator").all_accepted());
    assert!(swarm.agent("parent", vec![Register::new("child", "scout").parent("parent").into()]).all_accepted());
    assert!(swarm.agent("parent", vec![halt("child", "parent's reason")]).all_accepted());
    assert!(swarm.operator(vec![halt("child", "operator's reason")]).all_accepted());
    let outcome = swarm.agent("parent", vec![resume("child")]);
    assert_eq!(outcome.single_code(), Some("unauthorized"), "the parent lifted the operator's halt");
    assert!(swarm.agent_state("child").halt.is_some());
}

// ----- agent.deregister -----

#[test]
fn an_agent_may_deregister_itself_for_good() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    swarm.advance_ms(10);
    let now = swarm.now_ms();
    let outcome = swarm.agent("a", vec![deregister("a")]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(outcome.event_kinds(), [&EventKind::AgentDeregistered { agent: agent_id("a"), by: agent("a") }]);
    let a = swarm.agent_state("a");
    assert_eq!(a.deregistered_at_ms, Some(now));
    assert_eq!(a.status(), "deregistered");
    assert_eq!(swarm.state().next_deadline_ms(), None, "a tombstone has no heartbeat deadline");

    let outcome = swarm.agent("a", vec![heartbeat()]);
    assert_eq!(outcome.envelope, Some(Rejection::AgentDeregistered { agent: agent_id("a") }));
    assert!(outcome.commands.is_empty());
    let outcome = swarm.operator(vec![deregister("a"), Update::new("a").weight(1).into()]);
    assert_eq!(outcome.codes(), [Some("agent_deregistered"), Some("agent_deregistered")]);
}

#[test]
fn the_parent_or_the_operator_may_deregister_an_agent_others_may_not() {
    let mut swarm = Simulator::new();
    swarm.register_all(&["parent", "stranger"], "orchestrator");
    assert!(
        swarm
            .agent(
                "parent",
                vec![
                    Register::new("child-1", "scout").parent("parent").into(),
                    Register::new("child-2", "scout").parent("parent").into(),
                ]
            )
            .all_accepted()
    );
    let outcome = swarm.agent("stranger", vec![deregister("child-1")]);
    assert_eq!(outcome.single_code(), Some("unauthorized"));
    assert_eq!(swarm.agent_state("child-1").deregistered_at_ms, None);

    let outcome = swarm.agent("parent", vec![deregister("child-1")]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    let outcome = swarm.operator(vec![deregister("child-2")]);
    assert_eq!(
        outcome.event_kinds(),
        [&EventKind::AgentDeregistered { agent: agent_id("child-2"), by: Signer::Operator }]
    );
    assert_eq!(swarm.agent_state("child-2").status(), "deregistered");
}

// ----- config.set -----

#[test]
fn only_the_operator_replaces_the_configuration() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    let new_config = SwarmConfig { heartbeat_ttl_ms: 5_000, self_registration: false, ..SwarmConfig::default() };
    let outcome = swarm.agent("a", vec![set_config(new_config.clone())]);
    assert_eq!(outcome.single(), &Err(Rejection::Unauthorized { reason: "only the operator may do this" }));
    assert_eq!(swarm.state().config(), &SwarmConfig::default());

    let outcome = swarm.operator(vec![set_config(new_config.clone())]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(outcome.event_kinds(), [&EventKind::ConfigChanged {}]);
    assert_eq!(swarm.state().config(), &new_config);

    let outcome = swarm.operator(vec![set_config(new_config)]);
    assert_eq!(outcome.single(), &Ok(Accepted::Unchanged));
    assert!(outcome.events.is_empty());
}

#[test]
fn invalid_configurations_are_refused() {
    let mut swarm = Simulator::new();
    let many_roles = |count: usize| SwarmConfig {
        roles: (0..count)
            .map(|index| {
                (name(&format!("role-{index}")), RoleConfig { default_weight: 1, admission: RoleAdmission::Open })
            })
            .collect(),
        ..SwarmConfig::default()
    };
    let mut heavy = SwarmConfig::default();
    heavy.roles.insert(
        name("scout"),
        RoleConfig { default_weight: limits::AGENT_WEIGHT_MAX + 1, admission: RoleAdmission::Open },
    );
    let outcome = swarm.operator(vec![
        set_config(config_with_ttl(limits::HEARTBEAT_TTL_MS_MIN - 1)),
        set_config(config_with_ttl(limits::HEARTBEAT_TTL_MS_MAX + 1)),
        set_config(SwarmConfig { roles: Default::default(), ..SwarmConfig::default() }),
        set_config(many_roles(limits::ROLES_MAX + 1)),
        set_config(heavy),
    ]);
    assert_eq!(
        outcome.commands.iter().map(|result| result.as_ref().err().map(|r| (r.code(), r.field()))).collect::<Vec<_>>(),
        [
            Some(("invalid_field", Some("heartbeat_ttl_ms"))),
            Some(("invalid_field", Some("heartbeat_ttl_ms"))),
            Some(("invalid_field", Some("roles"))),
            Some(("limit_reached", None)),
            Some(("invalid_field", Some("roles"))),
        ]
    );
    assert_eq!(outcome.commands[3], Err(Rejection::LimitReached { limit: "roles", max: limits::ROLES_MAX as u64 }));
    assert!(outcome.events.is_empty());
    assert_eq!(swarm.state().config(), &SwarmConfig::default());

    // The bounds themselves are accepted.
    for config in [
        config_with_ttl(limits::HEARTBEAT_TTL_MS_MIN),
        config_with_ttl(limits::HEARTBEAT_TTL_MS_MAX),
        many_roles(limits::ROLES_MAX),
    ] {
        let outcome = swarm.operator(vec![set_config(config.clone())]);
        assert_eq!(outcome.single(), &Ok(Accepted::Done));
        assert_eq!(swarm.state().config(), &config);
    }
}

#[test]
fn a_removed_role_stays_with_its_agents_but_no_longer_registers() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "oracle").all_accepted());
    let mut config = SwarmConfig::default();
    config.roles.remove(&name("oracle"));
    assert!(swarm.operator(vec![set_config(config)]).all_accepted());
    assert_eq!(swarm.agent_state("a").role, name("oracle"));
    assert_eq!(swarm.register("b", "oracle").single_code(), Some("unknown_role"));
    // Even "changing" to the role it already has is refused: the role is checked before the no-op check.
    let outcome = swarm.operator(vec![Update::new("a").role("oracle").into()]);
    assert_eq!(
        outcome.single(),
        &Err(Rejection::Registry(RegistryRejection::UnknownRole { role: "oracle".to_owned() }))
    );
}

// ----- read tokens -----

#[test]
fn read_tokens_are_issued_and_revoked_by_the_operator() {
    let mut swarm = Simulator::new();
    let now = swarm.now_ms();
    let outcome = swarm.operator(vec![issue_read_token("secret", "dashboard", Some(now + 60_000))]);
    assert_eq!(outcome.single(), &Ok(Accepted::Done));
    assert_eq!(outcome.event_kinds(), [&EventKind::ReadTokenIssued { label: "dashboard".to_owned() }]);
    let token = swarm.state().read_token(&digest_for("secret")).expect("issued").clone();
    assert_eq!((token.label.as_str(), token.issued_at_ms, token.expires_at_ms), ("dashboard", now, Some(now + 60_000)));
    assert!(swarm.state().read_token(&digest_for("other")).is_none());

    let outcome = swarm.operator(vec![issue_read_token("secret", "again", None)]);
    assert_eq!(outcome.single_code(), Some("invalid_field"));
    assert_eq!(outcome.single().as_ref().unwrap_err().field(), Some("token_sha256"));
    assert_eq!(swarm.state().read_token(&digest_for("secret")).map(|token| token.label.as_str()), Some("dashboard"));

    let outcome = swarm.operator(vec![revoke_read_token("secret"), revoke_read_token("secret")]);
    assert_eq!(outcome.commands, vec![Ok(Accepted::Done), Err(Rejection::Config(ConfigRejection::ReadTokenNotFound))]);
    assert_eq!(outcome.event_kinds(), [&EventKind::ReadTokenRevoked { label: "dashboard".to_owned() }]);
    assert!(swarm.state().read_token(&digest_for("secret")).is_none());
}

#[test]
fn agents_may_not_manage_read_tokens_and_labels_and_count_are_limited() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    assert!(swarm.operator(vec![issue_read_token("operator-token", "", None)]).all_accepted());
    let outcome = swarm.agent("a", vec![issue_read_token("mine", "", None), revoke_read_token("operator-token")]);
    assert_eq!(outcome.codes(), [Some("unauthorized"), Some("unauthorized")]);
    assert!(swarm.state().read_token(&digest_for("mine")).is_none());
    assert!(swarm.state().read_token(&digest_for("operator-token")).is_some());

    let outcome = swarm.operator(vec![
        issue_read_token("long", &"l".repeat(limits::REASON_BYTES_MAX + 1), None),
        issue_read_token("exact", &"l".repeat(limits::REASON_BYTES_MAX), None),
    ]);
    assert_eq!(outcome.codes(), [Some("invalid_field"), None]);
    assert_eq!(outcome.commands[0].as_ref().unwrap_err().field(), Some("label"));

    // Two are issued; fill up to the limit, then one more.
    let room = limits::READ_TOKENS_MAX - 2;
    let commands = (0..=room).map(|index| issue_read_token(&format!("bulk-{index}"), "", None)).collect();
    let outcome = swarm.operator(commands);
    assert!(outcome.commands[..room].iter().all(Result::is_ok));
    assert_eq!(
        outcome.commands[room],
        Err(Rejection::LimitReached { limit: "read_tokens", max: limits::READ_TOKENS_MAX as u64 })
    );
    assert!(swarm.state().read_token(&digest_for(&format!("bulk-{room}"))).is_none());
    // Revoking makes room again.
    assert!(swarm.operator(vec![revoke_read_token("exact"), issue_read_token("late", "", None)]).all_accepted());
}

// ----- envelope size -----

#[test]
fn an_envelope_holds_at_most_the_command_limit() {
    let mut swarm = Simulator::new();
    assert!(swarm.register("a", "scout").all_accepted());
    let max = limits::COMMANDS_PER_ENVELOPE_MAX;
    let outcome = swarm.agent("a", vec![heartbeat(); max]);
    assert_eq!(outcome.commands.len(), max);
    assert!(outcome.all_accepted());

    let before = swarm.state().counters().clone();
    let nonce = swarm.factory().next_nonce(&agent("a"));
    let outcome = swarm.signed(agent("a"), key_for("a"), nonce, vec![heartbeat(); max + 1]);
    assert_eq!(outcome.envelope, Some(Rejection::LimitReached { limit: "commands_per_envelope", max: max as u64 }));
    assert!(outcome.commands.is_empty() && outcome.events.is_empty());
    // Refused before the nonce check: the nonce is not spent, and every command counts as rejected.
    assert!(swarm.state().nonce_is_fresh(&agent("a"), nonce));
    assert_eq!(swarm.state().counters().commands_rejected, before.commands_rejected + max as u64 + 1);
    assert_eq!(swarm.state().counters().commands_accepted, before.commands_accepted);
}
