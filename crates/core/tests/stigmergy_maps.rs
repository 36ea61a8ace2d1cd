//! Pheromone maps as commands: seed 000's and seed 003's models through `State::apply`, checked
//! against a plain model that recomputes every trail's decay from its last deposit; the per-signer
//! limits against a hostile depositor; and every refusal, each changing no map.

mod support;

use std::collections::BTreeMap;

use colony_core::stigmergy::{Decay, Stigmergy, TaskSignalState, task_signals};
use colony_core::{Accepted, Intensity, Name, SignalKey, limits};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::commands::halt;
use support::market::command;
use support::{OutcomeExt, Simulator};

const CYCLE_MS: u64 = 300_000;

fn units(text: &str) -> Intensity {
    Intensity::parse(text).unwrap()
}

fn swarm() -> Simulator {
    let mut swarm = Simulator::new();
    for agent in ["scout-1", "scout-2", "executor", "hostile"] {
        assert!(swarm.register(agent, "scout").all_accepted());
    }
    swarm
}

fn deposit(map: &str, key: &str, strength: &str) -> Value {
    json!({"type": "pheromone.deposit", "map": map, "key": key, "strength": strength})
}

#[track_caller]
fn deposited(swarm: &mut Simulator, who: &str, value: Value) -> Intensity {
    match swarm.agent(who, vec![command(value)]).single() {
        Ok(Accepted::Deposited { intensity }) => *intensity,
        other => panic!("expected a deposit: {other:?}"),
    }
}

#[track_caller]
fn refused(swarm: &mut Simulator, who: &str, value: Value) -> &'static str {
    let before: Stigmergy = swarm.state().stigmergy().clone();
    let code = swarm.agent(who, vec![command(value)]).single_code().expect("refused");
    assert_eq!(*swarm.state().stigmergy(), before, "a refused command changes no map");
    code
}

fn map_name(name: &str) -> Name {
    Name::new(name).unwrap()
}

fn sense(swarm: &Simulator, map: &str, key: &str) -> Intensity {
    let state = swarm.state();
    state.stigmergy().map(&map_name(map)).unwrap().sense(&SignalKey::new(key).unwrap(), state.timestamp_ms())
}

fn top(swarm: &Simulator, map: &str, n: usize) -> Vec<(String, Intensity)> {
    let state = swarm.state();
    let map = state.stigmergy().map(&map_name(map)).unwrap();
    map.top(n, state.timestamp_ms()).into_iter().map(|(key, intensity)| (key.to_string(), intensity)).collect()
}

#[test]
fn seed_000_caps_deposits_and_its_trails_are_gone_after_135_cycles() {
    let mut swarm = swarm();
    let created = swarm.agent("scout-1", vec![command(json!({"type": "pheromone.map.create", "map": "signals"}))]);
    assert_eq!(created.single(), &Ok(Accepted::Done));
    let map = swarm.state().stigmergy().map(&map_name("signals")).unwrap().clone();
    assert_eq!(
        (map.terms.decay, map.terms.cap, map.terms.prune_at_or_below),
        (Decay::SEED_000, units("10"), units("0.01"))
    );
    assert_eq!(deposited(&mut swarm, "scout-1", deposit("signals", "BTC:long:momentum", "7")), units("7"));
    assert_eq!(deposited(&mut swarm, "scout-2", deposit("signals", "BTC:long:momentum", "7")), units("10"));
    assert_eq!(deposited(&mut swarm, "scout-2", deposit("signals", "ETH:short:reversal", "3")), units("3"));
    assert_eq!(
        top(&swarm, "signals", 5),
        [("BTC:long:momentum".to_owned(), units("10")), ("ETH:short:reversal".to_owned(), units("3"))]
    );
    // One cycle later both kept 0.95 of themselves.
    swarm.advance_ms(CYCLE_MS);
    swarm.tick();
    assert_eq!(sense(&swarm, "signals", "BTC:long:momentum"), units("9.5"));
    // 10.0 is above 0.01 after 134 cycles and gone after 135.
    swarm.advance_ms(133 * CYCLE_MS);
    swarm.tick();
    assert!(sense(&swarm, "signals", "BTC:long:momentum") > units("0.01"));
    assert_eq!(sense(&swarm, "signals", "ETH:short:reversal"), Intensity::ZERO);
    swarm.advance_ms(CYCLE_MS);
    swarm.tick();
    assert_eq!(sense(&swarm, "signals", "BTC:long:momentum"), Intensity::ZERO);
    assert!(top(&swarm, "signals", 5).is_empty());
    // Faded trails stay stored until the map is next written; a deposit prunes them.
    assert_eq!(swarm.state().stigmergy().keys(), 2);
    assert_eq!(deposited(&mut swarm, "executor", deposit("signals", "SOL:long:breakout", "1")), units("1"));
    assert_eq!(swarm.state().stigmergy().keys(), 1);
    assert_eq!(swarm.state().stigmergy().keys_opened_by(&"scout-1".parse().unwrap()), 0);
    swarm.state().check_invariants().unwrap();
}

#[test]
fn seed_003_signals_fade_linearly_and_change_order() {
    let mut swarm = swarm();
    let create =
        json!({"type": "pheromone.map.create", "map": "tasks", "decay": {"linear": {"lost_per_second": "0.1"}}});
    assert!(swarm.agent("scout-1", vec![command(create)]).all_accepted());
    assert_eq!(deposited(&mut swarm, "scout-1", deposit("tasks", "task-1:available", "1")), units("1"));
    swarm.advance_ms(5_000);
    assert_eq!(deposited(&mut swarm, "scout-2", deposit("tasks", "task-2:claimed", "0.8")), units("0.8"));
    // Five seconds took half of the first; the second is newer and now stronger.
    assert_eq!(
        top(&swarm, "tasks", 5),
        [("task-2:claimed".to_owned(), units("0.8")), ("task-1:available".to_owned(), units("0.5"))]
    );
    swarm.advance_ms(4_900);
    swarm.tick();
    assert_eq!(sense(&swarm, "tasks", "task-1:available"), Intensity::ZERO, "0.01 left: at the pruning level");
    assert_eq!(sense(&swarm, "tasks", "task-2:claimed"), units("0.408"));
    swarm.advance_ms(5_100);
    assert_eq!(deposited(&mut swarm, "executor", deposit("tasks", "task-2:completed", "1")), units("1"));
    assert_eq!(swarm.state().stigmergy().map(&map_name("tasks")).unwrap().keys(), 1, "both faded trails pruned");
    swarm.state().check_invariants().unwrap();
}

fn claim(task: &str) -> Value {
    json!({
        "type": "pheromone.deposit", "map": "tasks", "key": format!("{task}:claimed"), "strength": "1",
        "unless_present": [format!("{task}:claimed"), format!("{task}:completed")]
    })
}

fn task_states(swarm: &Simulator) -> Vec<(String, Option<TaskSignalState>)> {
    let state = swarm.state();
    let map = state.stigmergy().map(&map_name("tasks")).unwrap();
    task_signals(map, state.timestamp_ms()).into_iter().map(|(task, signals)| (task, signals.state())).collect()
}

#[test]
fn seed_003_claims_are_won_by_one_agent_and_live_while_reinforced() {
    let mut swarm = swarm();
    let create =
        json!({"type": "pheromone.map.create", "map": "tasks", "decay": {"linear": {"lost_per_second": "0.1"}}});
    assert!(swarm.agent("executor", vec![command(create)]).all_accepted());
    for task in ["doc-1", "doc-2", "doc-3"] {
        deposited(&mut swarm, "executor", deposit("tasks", &format!("{task}:available"), "1"));
    }
    assert_eq!(
        task_states(&swarm),
        [
            ("doc-1".to_owned(), Some(TaskSignalState::Available)),
            ("doc-2".to_owned(), Some(TaskSignalState::Available)),
            ("doc-3".to_owned(), Some(TaskSignalState::Available))
        ]
    );
    // Two scouts race for doc-1 in one entry: the first claim wins, the second is refused and
    // changes nothing.
    let race = swarm.factory().agent("scout-1", vec![command(claim("doc-1"))]);
    let other = swarm.factory().agent("scout-2", vec![command(claim("doc-1"))]);
    assert!(swarm.apply_ok(&race).all_accepted());
    let before = swarm.state().stigmergy().clone();
    let lost = swarm.apply_ok(&other);
    assert_eq!(lost.single_code(), Some("signal_present"));
    assert!(lost.single_rejection().to_string().contains("doc-1:claimed"));
    assert_eq!(*swarm.state().stigmergy(), before, "a refused claim deposits nothing");
    assert_eq!(task_states(&swarm)[0].1, Some(TaskSignalState::Claimed));
    // scout-1 keeps its claim alive by reinforcing it; scout-2 claims doc-2 and goes silent.
    deposited(&mut swarm, "scout-2", claim("doc-2"));
    swarm.advance_ms(6_000);
    deposited(&mut swarm, "scout-1", deposit("tasks", "doc-1:claimed", "1"));
    swarm.advance_ms(5_000);
    swarm.tick();
    // doc-2's claim faded (its available signal too, deposited earlier): it is nobody's now.
    assert_eq!(task_states(&swarm), [("doc-1".to_owned(), Some(TaskSignalState::Claimed))]);
    assert_eq!(refused(&mut swarm, "scout-2", claim("doc-1")), "signal_present", "still held");
    deposited(&mut swarm, "scout-2", claim("doc-2"));
    // A failure does not block a claim; a completion does.
    deposited(&mut swarm, "executor", deposit("tasks", "doc-3:available", "1"));
    deposited(&mut swarm, "executor", deposit("tasks", "doc-3:failed", "0.8"));
    assert_eq!(task_states(&swarm).last().unwrap().1, Some(TaskSignalState::Available));
    deposited(&mut swarm, "scout-1", deposit("tasks", "doc-1:completed", "1"));
    assert_eq!(refused(&mut swarm, "scout-2", claim("doc-1")), "signal_present", "completed");
    let many: Vec<String> = (0..=limits::PHEROMONE_UNLESS_KEYS_MAX).map(|index| format!("k{index}")).collect();
    let long =
        json!({"type": "pheromone.deposit", "map": "tasks", "key": "x", "strength": "1", "unless_present": many});
    assert_eq!(refused(&mut swarm, "scout-1", long), "invalid_field");
}

#[test]
fn only_depositors_deposit_and_only_creators_change_maps() {
    let mut swarm = swarm();
    let create = json!({"type": "pheromone.map.create", "map": "team", "depositors": {"agents": ["scout-2"]}});
    assert!(swarm.agent("scout-1", vec![command(create.clone())]).all_accepted());
    assert_eq!(swarm.agent("scout-1", vec![command(create)]).single(), &Ok(Accepted::Unchanged));
    let other = json!({"type": "pheromone.map.create", "map": "team", "cap": "5"});
    assert_eq!(refused(&mut swarm, "scout-1", other), "pheromone_map_exists");
    assert_eq!(refused(&mut swarm, "executor", deposit("team", "BTC:long", "1")), "not_depositor");
    assert_eq!(refused(&mut swarm, "executor", deposit("nowhere", "BTC:long", "1")), "pheromone_map_not_found");
    assert_eq!(refused(&mut swarm, "scout-2", deposit("team", "BTC:long", "0")), "invalid_field");
    assert_eq!(deposited(&mut swarm, "scout-2", deposit("team", "BTC:long", "1")), units("1"));
    assert_eq!(deposited(&mut swarm, "scout-1", deposit("team", "BTC:long", "1")), units("2"), "its creator may");
    let configure = json!({"type": "pheromone.map.configure", "map": "team", "depositors": "registered"});
    assert_eq!(refused(&mut swarm, "scout-2", configure.clone()), "not_map_creator");
    assert!(swarm.agent("scout-1", vec![command(configure)]).all_accepted());
    assert_eq!(deposited(&mut swarm, "executor", deposit("team", "BTC:long", "1")), units("3"));
    let bad_decay = json!({"type": "pheromone.map.create", "map": "bad", "decay": {"half_life": {"half_life_ms": 0}}});
    assert_eq!(refused(&mut swarm, "scout-1", bad_decay), "invalid_field");
    let bad_prune = json!({"type": "pheromone.map.create", "map": "bad", "cap": "1", "prune_at_or_below": "1"});
    assert_eq!(refused(&mut swarm, "scout-1", bad_prune), "invalid_field");
    // A halted agent deposits nothing.
    assert!(swarm.operator(vec![halt("executor", "misbehaving")]).all_accepted());
    assert_eq!(refused(&mut swarm, "executor", deposit("team", "BTC:long", "1")), "agent_halted");
    let delete = json!({"type": "pheromone.map.delete", "map": "team"});
    assert_eq!(refused(&mut swarm, "scout-2", delete.clone()), "not_map_creator");
    assert!(swarm.agent("scout-1", vec![command(delete)]).all_accepted());
    assert!(swarm.state().stigmergy().is_empty() && swarm.state().stigmergy().keys() == 0);
    swarm.state().check_invariants().unwrap();
}

#[test]
fn keys_outside_the_alphabet_do_not_decode() {
    for key in ["BTC long", "", "BTC/long", "clé", &"k".repeat(limits::SIGNAL_KEY_BYTES_MAX + 1)] {
        let value = deposit("signals", key, "1");
        assert!(serde_json::from_value::<colony_core::Command>(value).is_err(), "{key:?} decoded");
    }
}

#[test]
fn a_hostile_depositor_fills_its_own_share_and_others_still_deposit() {
    let mut swarm = swarm();
    assert!(
        swarm.agent("scout-1", vec![command(json!({"type": "pheromone.map.create", "map": "shared"}))]).all_accepted()
    );
    let flood: Vec<_> = (0..limits::PHEROMONE_KEYS_PER_SIGNER_MAX)
        .map(|index| command(deposit("shared", &format!("junk:{index}"), "10")))
        .collect();
    assert!(swarm.agent("hostile", flood).all_accepted());
    let outcome = swarm.agent("hostile", vec![command(deposit("shared", "junk:more", "10"))]);
    assert_eq!(outcome.single_code(), Some("limit_reached"));
    assert!(outcome.single_rejection().to_string().contains("pheromone_keys_per_signer"));
    let before = swarm.state().stigmergy().clone();
    assert_eq!(refused(&mut swarm, "hostile", deposit("shared", "junk:again", "1")), "limit_reached");
    assert_eq!(*swarm.state().stigmergy(), before);
    // Reinforcing its own trails opens none, so it is still taken; others deposit as before.
    assert_eq!(deposited(&mut swarm, "hostile", deposit("shared", "junk:0", "1")), units("10"));
    assert_eq!(deposited(&mut swarm, "scout-2", deposit("shared", "BTC:long:momentum", "4")), units("4"));
    assert_eq!(top(&swarm, "shared", 1001).len(), limits::PHEROMONE_KEYS_PER_SIGNER_MAX + 1);
    // Once its trails fade, the hostile agent's share comes back when the map is written.
    swarm.advance_ms(136 * CYCLE_MS);
    assert_eq!(deposited(&mut swarm, "hostile", deposit("shared", "junk:new", "1")), units("1"));
    assert_eq!(swarm.state().stigmergy().keys(), 1);
    // Maps per signer are bounded too.
    let creates: Vec<_> = (0..limits::PHEROMONE_MAPS_PER_SIGNER_MAX)
        .map(|index| command(json!({"type": "pheromone.map.create", "map": format!("m{index}")})))
        .collect();
    assert!(swarm.agent("hostile", creates).all_accepted());
    let one_more = json!({"type": "pheromone.map.create", "map": "m-extra"});
    assert_eq!(refused(&mut swarm, "hostile", one_more.clone()), "limit_reached");
    assert!(swarm.agent("scout-2", vec![command(one_more)]).all_accepted());
    swarm.state().check_invariants().unwrap();
}

/// The plain model: each trail as deposited, with when; its intensity now recomputed from scratch.
struct Model {
    decay: Decay,
    origin_ms: u64,
    trails: BTreeMap<String, (Intensity, u64)>,
}

impl Model {
    fn elapsed(&self, at_ms: u64, now_ms: u64) -> u64 {
        match self.decay {
            Decay::Exponential { cycle_ms, .. } => {
                ((now_ms - self.origin_ms) / cycle_ms - (at_ms - self.origin_ms) / cycle_ms) * cycle_ms
            }
            _ => now_ms - at_ms,
        }
    }

    fn read(&self, key: &str, now_ms: u64) -> Intensity {
        let Some((intensity, at)) = self.trails.get(key) else { return Intensity::ZERO };
        let now = self.decay.decayed(*intensity, self.elapsed(*at, now_ms));
        if now <= units("0.01") { Intensity::ZERO } else { now }
    }

    fn deposit(&mut self, key: &str, strength: Intensity, now_ms: u64) -> Intensity {
        let deposited = self.read(key, now_ms).deposit_capped(strength, units("10"));
        self.trails.insert(key.to_owned(), (deposited, now_ms));
        deposited
    }
}

/// Within `tolerance` billionths, where a trail within that of the pruning level may read as gone.
fn close(left: Intensity, right: Intensity, tolerance: u64) -> bool {
    let faint = |intensity: Intensity| intensity.nanos() <= units("0.01").nanos() + tolerance;
    left.nanos().abs_diff(right.nanos()) <= tolerance
        || (left == Intensity::ZERO && faint(right))
        || (right == Intensity::ZERO && faint(left))
}

fn decay_model(index: usize) -> (Value, Decay, u64) {
    match index {
        0 => (json!({"exponential": {"retained_per_cycle": "0.95", "cycle_ms": 300_000}}), Decay::SEED_000, 3),
        1 => (json!({"half_life": {"half_life_ms": 4_000_000}}), Decay::HalfLife { half_life_ms: 4_000_000 }, 3),
        _ => (
            json!({"linear": {"lost_per_second": "0.001"}}),
            Decay::Linear { lost_per_second: colony_core::Fraction::from_micros(1_000).unwrap() },
            0,
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Deposits and reads through `State::apply` against the plain model: every deposit's result and
    /// every trail read after it within a few billionths (exactly, for a linear fade), and the top
    /// trails the model's strongest.
    #[test]
    fn maps_match_a_model_that_recomputes_decay_from_scratch(
        model_index in 0usize..3,
        steps in proptest::collection::vec((0u64..900_000, 0usize..6, 1u64..12_000_000_000, 0usize..2), 1..40),
    ) {
        let (decay_json, decay, tolerance) = decay_model(model_index);
        let mut swarm = swarm();
        let create = json!({"type": "pheromone.map.create", "map": "model", "decay": decay_json});
        prop_assert!(swarm.agent("scout-1", vec![command(create)]).all_accepted());
        let mut model = Model { decay, origin_ms: swarm.state().timestamp_ms(), trails: BTreeMap::new() };
        let keys = ["BTC:long:momentum", "ETH:long", "SOL:short", "task-1:claimed", "task-2:available", "x"];
        for (advance_ms, key, strength, who) in steps {
            swarm.advance_ms(advance_ms);
            let strength = Intensity::from_nanos(strength);
            let value = deposit("model", keys[key], &strength.to_string());
            let got = deposited(&mut swarm, ["scout-1", "scout-2"][who], value);
            let now_ms = swarm.state().timestamp_ms();
            let expected = model.deposit(keys[key], strength, now_ms);
            prop_assert!(close(got, expected, tolerance), "deposit on {}: {got} against {expected}", keys[key]);
            for key in keys {
                let (got, expected) = (sense(&swarm, "model", key), model.read(key, now_ms));
                prop_assert!(close(got, expected, tolerance), "{key}: {got} against {expected}");
            }
            let strongest = top(&swarm, "model", 3);
            let mut expected: Vec<Intensity> = keys.iter().map(|key| model.read(key, now_ms)).filter(|intensity| *intensity > Intensity::ZERO).collect();
            expected.sort_by(|left, right| right.cmp(left));
            expected.truncate(3);
            prop_assert_eq!(strongest.len(), expected.len());
            for ((key, got), expected) in strongest.iter().zip(&expected) {
                prop_assert!(close(*got, *expected, tolerance), "top {key}: {got} against {expected}");
            }
            swarm.state().check_invariants().map_err(TestCaseError::fail)?;
        }
    }
}
