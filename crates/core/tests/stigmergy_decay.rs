//! The decay models against the seeds' own figures, exact rationals where they fit in 128 bits, and
//! a float reference elsewhere (floats only here, as the yardstick; core never uses one).

use colony_core::fraction::Fraction;
use colony_core::stigmergy::decay::DECAY_EXACT_UP_TO;
use colony_core::stigmergy::{Decay, Intensity, NANOS_ONE};
use proptest::prelude::*;

const CYCLE_MS: u64 = 300_000;

fn units(text: &str) -> Intensity {
    Intensity::parse(text).unwrap()
}

#[test]
fn seed_000_ten_falls_to_the_pruning_level_after_135_cycles() {
    let ten = units("10");
    let pruning_level = units("0.01");
    let after = |cycles: u64| Decay::SEED_000.decayed(ten, cycles * CYCLE_MS);
    assert!(after(134) > pruning_level, "after 134 cycles: {}", after(134));
    assert!(after(135) <= pruning_level, "after 135 cycles: {}", after(135));
    // The seed counts whole cycles only.
    assert_eq!(Decay::SEED_000.decayed(ten, CYCLE_MS - 1), ten);
    assert_eq!(Decay::SEED_000.decayed(ten, CYCLE_MS), units("9.5"));
    assert_eq!(Decay::SEED_000.decayed(ten, 2 * CYCLE_MS + 299_999), units("9.025"));
    // Its half-life is about 13.5 cycles: above half after 13, below after 14.
    assert!(after(13) > units("5") && after(14) < units("5"));
}

#[test]
fn a_half_life_halves_and_matches_seed_000_at_its_own_half_life() {
    let model = Decay::HalfLife { half_life_ms: 1_000 };
    let eight = units("8");
    for (elapsed, expected) in [(0, "8"), (1_000, "4"), (2_000, "2"), (3_000, "1"), (64_000, "0")] {
        let decayed = model.decayed(eight, elapsed);
        assert!(decayed.nanos().abs_diff(units(expected).nanos()) <= 1, "{elapsed} ms: {decayed}");
    }
    // ln 2 / ln(1/0.95) = 13.5134… cycles of 300 s.
    let seed_half_life_ms = 4_054_022;
    let continuous = Decay::HalfLife { half_life_ms: seed_half_life_ms };
    for cycles in [1u64, 10, 50, 135] {
        let stepwise = Decay::SEED_000.decayed(units("10"), cycles * CYCLE_MS).nanos() as f64;
        let smooth = continuous.decayed(units("10"), cycles * CYCLE_MS).nanos() as f64;
        assert!((stepwise - smooth).abs() <= stepwise * 1e-6 + 2.0, "{cycles} cycles: {stepwise} against {smooth}");
    }
}

#[test]
fn seed_003_loses_a_tenth_of_the_deposit_per_second() {
    let one = units("1");
    let at = |elapsed: u64| Decay::SEED_003.decayed(one, elapsed);
    assert_eq!(at(5_000), units("0.5"));
    assert_eq!(at(9_900), units("0.01"), "still sensed at the seed's default minimum");
    assert!(at(9_901) < units("0.01"));
    assert_eq!(at(10_000), Intensity::ZERO);
    assert_eq!(at(u64::MAX), Intensity::ZERO);
    assert_eq!(Decay::SEED_003.decayed(units("0.8"), 2_500), units("0.6"));
}

#[test]
fn unusable_models_are_refused() {
    let fraction = |micros| Fraction::from_micros(micros).unwrap();
    for model in [
        Decay::Exponential { retained_per_cycle: Fraction::ONE, cycle_ms: 1 },
        Decay::Exponential { retained_per_cycle: Fraction::ZERO, cycle_ms: 1 },
        Decay::Exponential { retained_per_cycle: fraction(500_000), cycle_ms: 0 },
        Decay::Linear { lost_per_second: Fraction::ZERO },
        Decay::HalfLife { half_life_ms: 0 },
    ] {
        assert!(model.check().is_err(), "{model:?}");
    }
    assert!(Decay::SEED_000.check().is_ok() && Decay::SEED_003.check().is_ok());
}

#[test]
fn intensities_read_and_print_as_decimals() {
    for (text, nanos) in
        [("10", 10 * NANOS_ONE), ("0.01", 10_000_000), ("2.500000000", 2_500_000_000), ("0.000000001", 1)]
    {
        assert_eq!(Intensity::parse(text).unwrap().nanos(), nanos, "{text}");
    }
    assert_eq!(Intensity::from_nanos(2_500_000_000).to_string(), "2.5");
    assert_eq!(Intensity::parse("9999999999.999999999").unwrap().nanos(), 9_999_999_999_999_999_999);
    for bad in ["", ".5", "1.", "-1", "1e3", "0.0000000001", "x", "99999999999999999999", "94522526767", "00000000001"]
    {
        assert!(Intensity::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(serde_json::to_string(&units("0.25")).unwrap(), "\"0.25\"");
    assert!(serde_json::from_str::<Intensity>("0.25").is_err(), "a JSON number would pass through a float");
    assert_eq!(units("9.5").deposit_capped(units("1"), units("10")), units("10"));
}

const INTENSITY_TEXT: &str = "[0-9]{1,10}(\\.[0-9]{1,9})?";

#[test]
fn the_published_schema_is_the_pattern_the_property_draws_from() {
    let schema = serde_json::to_value(schemars::schema_for!(Intensity)).unwrap();
    assert_eq!(schema["pattern"], format!("^{INTENSITY_TEXT}$"));
}

proptest! {
    /// Every text the published schema allows (`^[0-9]{1,10}(\.[0-9]{1,9})?$`) is an intensity, and
    /// prints back as the same value: a client that follows the schema is never refused.
    #[test]
    fn every_text_the_schema_allows_parses(text in INTENSITY_TEXT) {
        let intensity = Intensity::parse(&text).unwrap();
        prop_assert_eq!(Intensity::parse(&intensity.to_string()).unwrap(), intensity);
    }
}

fn model() -> impl Strategy<Value = Decay> {
    prop_oneof![
        (1u32..1_000_000, 1u64..1_000_000).prop_map(|(micros, cycle_ms)| Decay::Exponential {
            retained_per_cycle: Fraction::from_micros(micros).unwrap(),
            cycle_ms,
        }),
        (1u32..=1_000_000).prop_map(|micros| Decay::Linear { lost_per_second: Fraction::from_micros(micros).unwrap() }),
        (1u64..10_000_000).prop_map(|half_life_ms| Decay::HalfLife { half_life_ms }),
    ]
}

fn float_reference(model: Decay, intensity: f64, elapsed_ms: u64) -> f64 {
    match model {
        Decay::Exponential { retained_per_cycle, cycle_ms } => {
            intensity * (f64::from(retained_per_cycle.micros()) / 1e6).powf((elapsed_ms / cycle_ms) as f64)
        }
        Decay::Linear { lost_per_second } => {
            intensity * (1.0 - f64::from(lost_per_second.micros()) / 1e6 * elapsed_ms as f64 / 1e3).max(0.0)
        }
        Decay::HalfLife { half_life_ms } => intensity * (-(elapsed_ms as f64) / half_life_ms as f64).exp2(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn decay_never_grows_and_never_recovers(
        model in model(),
        nanos in 0..=DECAY_EXACT_UP_TO,
        earlier in 0u64..100_000_000,
        later in 0u64..100_000_000,
    ) {
        let (earlier, later) = (earlier.min(later), earlier.max(later));
        let intensity = Intensity::from_nanos(nanos);
        let first = model.decayed(intensity, earlier);
        prop_assert!(first <= intensity);
        prop_assert!(model.decayed(intensity, later) <= first, "{model:?}: {earlier} → {later} ms grew");
    }

    #[test]
    fn decay_is_within_a_billionth_of_the_exact_value(
        micros in 1u32..1_000_000,
        nanos in 0..=DECAY_EXACT_UP_TO,
        cycles in 0u32..=3,
    ) {
        // The exact value, nanos × micros^k / 10^6k, fits in 128 bits for k ≤ 3.
        let model = Decay::Exponential { retained_per_cycle: Fraction::from_micros(micros).unwrap(), cycle_ms: 1 };
        let decayed = model.decayed(Intensity::from_nanos(nanos), u64::from(cycles)).nanos();
        let exact = u128::from(nanos) * u128::from(micros).pow(cycles) / 1_000_000u128.pow(cycles);
        let exact = u64::try_from(exact).unwrap();
        prop_assert!(decayed == exact || decayed + 1 == exact, "{micros}^{cycles} of {nanos}: {decayed}, exact {exact}");
    }

    #[test]
    fn seed_000_decay_is_within_a_billionth_of_the_exact_value(nanos in 0..=DECAY_EXACT_UP_TO, cycles in 0u32..=11) {
        // 0.95^k = 95^k / 100^k, which fits with the intensity for k ≤ 11.
        let decayed = Decay::SEED_000.decayed(Intensity::from_nanos(nanos), u64::from(cycles) * CYCLE_MS).nanos();
        let exact = u64::try_from(u128::from(nanos) * 95u128.pow(cycles) / 100u128.pow(cycles)).unwrap();
        prop_assert!(decayed == exact || decayed + 1 == exact, "0.95^{cycles} of {nanos}: {decayed}, exact {exact}");
    }

    #[test]
    fn decay_agrees_with_a_float_reference(model in model(), nanos in 0..=DECAY_EXACT_UP_TO, elapsed in 0u64..100_000_000) {
        let decayed = model.decayed(Intensity::from_nanos(nanos), elapsed).nanos() as f64;
        let reference = float_reference(model, nanos as f64, elapsed);
        prop_assert!((decayed - reference).abs() <= reference * 1e-9 + 2.0, "{model:?} {nanos} {elapsed}: {decayed} against {reference}");
    }
}

mod trails {
    use super::*;
    use colony_core::stigmergy::TrailMap;
    use std::collections::BTreeMap;

    fn seed_map() -> TrailMap<String> {
        TrailMap::new(Decay::SEED_000, units("10"), units("0.01"), 0).unwrap()
    }

    #[test]
    fn seed_000_deposits_cap_decay_prune_and_rank() {
        let mut map = seed_map();
        assert_eq!(map.deposit("BTC:long:momentum".to_owned(), units("6"), 0), units("6"));
        assert_eq!(map.deposit("BTC:long:momentum".to_owned(), units("6"), 1), units("10"), "capped at 10");
        map.deposit("ETH:short:mean-reversion".to_owned(), units("3"), 2);
        map.deposit("SOL:long:breakout".to_owned(), units("3"), 3);
        assert_eq!(map.sense(&"BTC:long:momentum".to_owned(), CYCLE_MS), units("9.5"));
        let top = map.top(2, CYCLE_MS);
        assert_eq!(
            top,
            vec![
                ("BTC:long:momentum".to_owned(), units("9.5")),
                ("ETH:short:mean-reversion".to_owned(), units("2.85"))
            ],
            "strongest first, equal ones by key"
        );
        // Reinforcing within a cycle adds to what is left of it.
        assert_eq!(map.deposit("SOL:long:breakout".to_owned(), units("1"), CYCLE_MS + 5), units("3.85"));
        assert_eq!(map.top(1, CYCLE_MS + 6)[0].0, "BTC:long:momentum");
        // Nothing is left of the 3.0 trail after 135 cycles, nor of the 10.0 one.
        assert_eq!(map.prune(136 * CYCLE_MS).len(), 3);
        assert!(map.is_empty() && map.top(5, 136 * CYCLE_MS).is_empty());
        map.check_invariants().unwrap();
        assert!(TrailMap::<String>::new(Decay::SEED_003, units("10"), units("0.01"), 0).is_err());
        assert!(TrailMap::<String>::new(Decay::SEED_000, units("1000"), units("0.01"), 0).is_err());
    }

    #[derive(Debug, Clone)]
    enum Step {
        Deposit(u8, u64),
        Top(usize),
        Prune,
    }

    fn step() -> impl Strategy<Value = (Step, u64)> {
        (
            prop_oneof![
                4 => (0u8..12, 1u64..=12 * NANOS_ONE).prop_map(|(key, nanos)| Step::Deposit(key, nanos)),
                2 => (1usize..6).prop_map(Step::Top),
                1 => Just(Step::Prune),
            ],
            prop_oneof![Just(0u64), 0u64..CYCLE_MS, 0u64..40 * CYCLE_MS],
        )
    }

    fn reference_models() -> impl Strategy<Value = Decay> {
        prop_oneof![
            Just(Decay::SEED_000),
            (500_000u32..999_999).prop_map(|micros| Decay::Exponential {
                retained_per_cycle: Fraction::from_micros(micros).unwrap(),
                cycle_ms: CYCLE_MS
            }),
            (CYCLE_MS..20 * CYCLE_MS).prop_map(|half_life_ms| Decay::HalfLife { half_life_ms }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Against the plain model: each key's intensity and the time it was set, decayed on every
        /// read; the map reads the same to a few billionths, ranks the same, prunes the same.
        #[test]
        fn the_map_reads_as_the_plain_model(decay in reference_models(), steps in proptest::collection::vec(step(), 1..120)) {
            let cap = units("10");
            let level = units("0.01");
            let mut map = TrailMap::new(decay, cap, level, 0).unwrap();
            let mut model: BTreeMap<u8, (Intensity, u64)> = BTreeMap::new();
            let elapsed = |from: u64, to: u64| match decay {
                Decay::Exponential { cycle_ms, .. } => (to / cycle_ms - from / cycle_ms) * cycle_ms,
                _ => to - from,
            };
            let tolerance = |intensity: Intensity| 4 + intensity.nanos() / 1_000_000_000;
            let mut now = 0u64;
            for (step, advance) in steps {
                now += advance;
                match step {
                    Step::Deposit(key, nanos) => {
                        let current = model.get(&key).map_or(Intensity::ZERO, |(value, at)| decay.decayed(*value, elapsed(*at, now)));
                        let strength = Intensity::from_nanos(nanos);
                        let deposited = map.deposit(format!("k{key:02}"), strength, now);
                        // A trail at or below the pruning level is gone; near it, either reading is right.
                        let kept = current.deposit_capped(strength, cap);
                        let gone = Intensity::ZERO.deposit_capped(strength, cap);
                        let near_level = current.nanos() <= level.nanos() + tolerance(current);
                        let matches = |expected: Intensity| deposited.nanos().abs_diff(expected.nanos()) <= tolerance(expected);
                        prop_assert!(
                            if current <= level { matches(gone) } else { matches(kept) || (near_level && matches(gone)) },
                            "deposit: {deposited} against {kept} (or {gone})"
                        );
                        if deposited > level {
                            model.insert(key, (deposited, now));
                        } else {
                            model.remove(&key);
                        }
                    }
                    Step::Top(n) => {
                        let top = map.top(n, now);
                        let mut expected: Vec<(String, Intensity)> = model
                            .iter()
                            .map(|(key, (value, at))| (format!("k{key:02}"), decay.decayed(*value, elapsed(*at, now))))
                            .filter(|(_, intensity)| *intensity > level)
                            .collect();
                        expected.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
                        for ((key, intensity), (expected_key, expected_intensity)) in top.iter().zip(&expected) {
                            prop_assert!(intensity.nanos().abs_diff(expected_intensity.nanos()) <= tolerance(*expected_intensity));
                            if key != expected_key {
                                // Only trails within the tolerance of each other may swap places.
                                let other = expected.iter().find(|(candidate, _)| candidate == key).map(|(_, value)| *value);
                                prop_assert!(other.is_some_and(|other| other.nanos().abs_diff(expected_intensity.nanos()) <= 2 * tolerance(other)), "{key} ranked where {expected_key} should be");
                            }
                        }
                        prop_assert!(top.len() <= n && top.len().abs_diff(expected.len().min(n)) <= 1);
                    }
                    Step::Prune => {
                        map.prune(now);
                    }
                }
                map.check_invariants().unwrap();
                for (key, (value, at)) in &model {
                    let expected = decay.decayed(*value, elapsed(*at, now));
                    let sensed = map.sense(&format!("k{key:02}"), now);
                    if expected.nanos() > level.nanos() + tolerance(expected) {
                        prop_assert!(sensed.nanos().abs_diff(expected.nanos()) <= tolerance(expected), "k{key:02}: {sensed} against {expected}");
                    }
                }
            }
        }
    }
}
