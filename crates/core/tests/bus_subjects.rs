//! Subject matching checked against a reference matcher written the simplest way, and the pattern
//! tree checked against testing every pattern one by one.

use std::collections::BTreeSet;

use colony_core::bus::{Pattern, Subject, SubjectTree};
use proptest::prelude::*;

/// The reference: a direct recursive reading of the NATS rules.
fn reference_matches(pattern: &[&str], subject: &[&str]) -> bool {
    match (pattern.split_first(), subject.split_first()) {
        (None, None) => true,
        (Some((&">", _)), Some(_)) => true,
        (Some((&"*", pattern_rest)), Some((_, subject_rest))) => reference_matches(pattern_rest, subject_rest),
        (Some((literal, pattern_rest)), Some((token, subject_rest))) => {
            literal == token && reference_matches(pattern_rest, subject_rest)
        }
        _ => false,
    }
}

fn subject_tokens() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]).prop_map(str::to_owned), 1..5)
}

fn pattern_tokens() -> impl Strategy<Value = Vec<String>> {
    (prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*"]).prop_map(str::to_owned), 0..4), any::<bool>())
        .prop_filter_map("a pattern has at least one token", |(mut tokens, rest)| {
            if rest {
                tokens.push(">".to_owned());
            }
            (!tokens.is_empty()).then_some(tokens)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matching_agrees_with_the_reference(pattern in pattern_tokens(), subject in subject_tokens()) {
        let compiled = Pattern::new(pattern.join(".")).unwrap();
        let published = Subject::new(subject.join(".")).unwrap();
        let pattern: Vec<&str> = pattern.iter().map(String::as_str).collect();
        let subject: Vec<&str> = subject.iter().map(String::as_str).collect();
        prop_assert_eq!(compiled.matches(&published), reference_matches(&pattern, &subject));
    }

    #[test]
    fn the_tree_finds_what_testing_every_pattern_finds(
        patterns in prop::collection::vec(pattern_tokens(), 0..24),
        removed in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        subjects in prop::collection::vec(subject_tokens(), 1..16),
    ) {
        let patterns: Vec<Pattern> = patterns.iter().map(|tokens| Pattern::new(tokens.join(".")).unwrap()).collect();
        let mut tree = SubjectTree::new();
        let mut live: BTreeSet<usize> = BTreeSet::new();
        for (value, pattern) in patterns.iter().enumerate() {
            tree.insert(pattern, value);
            live.insert(value);
        }
        if !patterns.is_empty() {
            for index in removed {
                let value = index.index(patterns.len());
                prop_assert_eq!(tree.remove(&patterns[value], &value), live.remove(&value));
            }
        }
        prop_assert_eq!(tree.len(), live.len());
        for tokens in subjects {
            let subject = Subject::new(tokens.join(".")).unwrap();
            let from_tree: BTreeSet<usize> = tree.matches(&subject).into_iter().copied().collect();
            let one_by_one: BTreeSet<usize> =
                live.iter().copied().filter(|value| patterns[*value].matches(&subject)).collect();
            prop_assert_eq!(from_tree, one_by_one);
        }
    }

    /// Two patterns overlap exactly when some subject matches both. Patterns use the tokens a, b, c;
    /// every witness can be spelled with those and one other token (d), and needs no more tokens than
    /// the longer pattern has, so trying every such subject decides the question.
    #[test]
    fn overlap_agrees_with_trying_every_subject(first in pattern_tokens(), second in pattern_tokens()) {
        let compiled_first = Pattern::new(first.join(".")).unwrap();
        let compiled_second = Pattern::new(second.join(".")).unwrap();
        let longest = first.len().max(second.len());
        let mut subjects: Vec<Vec<&str>> = vec![Vec::new()];
        let mut witness = false;
        for _ in 0..longest {
            subjects = subjects
                .into_iter()
                .flat_map(|prefix| ["a", "b", "c", "d"].into_iter().map(move |token| {
                    let mut subject = prefix.clone();
                    subject.push(token);
                    subject
                }))
                .collect();
            let first_tokens: Vec<&str> = first.iter().map(String::as_str).collect();
            let second_tokens: Vec<&str> = second.iter().map(String::as_str).collect();
            witness |= subjects.iter().any(|subject| {
                reference_matches(&first_tokens, subject) && reference_matches(&second_tokens, subject)
            });
        }
        prop_assert_eq!(compiled_first.overlaps(&compiled_second), witness, "{:?} / {:?}", first, second);
        prop_assert_eq!(compiled_second.overlaps(&compiled_first), witness, "overlap is symmetric");
    }

    #[test]
    fn parsing_never_panics_and_valid_subjects_round_trip(text in "[a-c*>. $]{0,12}") {
        if let Ok(subject) = Subject::new(text.clone()) {
            prop_assert_eq!(subject.as_str(), text.as_str());
            prop_assert!(Pattern::new(text.clone()).is_ok(), "every subject is also a pattern");
        }
        let _ = Pattern::new(text);
    }
}
