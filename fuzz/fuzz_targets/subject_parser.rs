//! Subjects and patterns from arbitrary text: parsing never panics, and whatever parses behaves.
#![no_main]

use colony_core::bus::{Pattern, Subject};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let subject = Subject::new(text);
    let pattern = Pattern::new(text);
    if let Ok(subject) = subject {
        // Every subject is also a (literal) pattern, and that pattern matches exactly it.
        let pattern = pattern.expect("a valid subject is a valid pattern");
        assert!(pattern.is_literal());
        assert!(pattern.matches(&subject));
        assert_eq!(subject.tokens().collect::<Vec<_>>().join("."), text);
    } else if let Ok(pattern) = pattern {
        assert!(!pattern.is_literal(), "a pattern that is not a subject has a wildcard");
    }
});
