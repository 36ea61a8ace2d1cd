//! Subjects and patterns: validated once, then matched token by token.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Bytes in a subject or pattern at most.
pub const SUBJECT_BYTES_MAX: usize = 256;
/// Tokens in a subject or pattern at most.
pub const SUBJECT_TOKENS_MAX: usize = 16;

/// Why text is not a valid subject or pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubjectError {
    /// Empty text.
    Empty,
    /// Longer than `SUBJECT_BYTES_MAX`.
    TooLong,
    /// More tokens than `SUBJECT_TOKENS_MAX`.
    TooManyTokens,
    /// An empty token (`a..b`, a leading or trailing dot).
    EmptyToken {
        /// Its position, from 0.
        position: usize,
    },
    /// A character outside the token alphabet.
    InvalidCharacter {
        /// The token's position.
        position: usize,
    },
    /// A wildcard in a subject that is published to.
    WildcardInSubject {
        /// The token's position.
        position: usize,
    },
    /// `>` anywhere but last, or a wildcard mixed with other characters in one token.
    MisplacedWildcard {
        /// The token's position.
        position: usize,
    },
}

impl fmt::Display for SubjectError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectError::Empty => formatter.write_str("a subject needs at least one token"),
            SubjectError::TooLong => write!(formatter, "a subject is at most {SUBJECT_BYTES_MAX} bytes"),
            SubjectError::TooManyTokens => write!(formatter, "a subject has at most {SUBJECT_TOKENS_MAX} tokens"),
            SubjectError::EmptyToken { position } => write!(formatter, "token {position} is empty"),
            SubjectError::InvalidCharacter { position } => write!(
                formatter,
                "token {position} holds a character other than ASCII letters, digits, '-', '_', ':' or '$'"
            ),
            SubjectError::WildcardInSubject { position } => {
                write!(formatter, "token {position} is a wildcard, which only subscriptions may use")
            }
            SubjectError::MisplacedWildcard { position } => {
                write!(formatter, "token {position}: '*' must be a whole token, and '>' a whole token at the end")
            }
        }
    }
}

impl std::error::Error for SubjectError {}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b':' | b'$')
}

fn check_shape(text: &str) -> Result<(), SubjectError> {
    if text.is_empty() {
        return Err(SubjectError::Empty);
    }
    if text.len() > SUBJECT_BYTES_MAX {
        return Err(SubjectError::TooLong);
    }
    if text.split('.').count() > SUBJECT_TOKENS_MAX {
        return Err(SubjectError::TooManyTokens);
    }
    Ok(())
}

/// A subject messages are published to: no wildcards.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subject(String);

impl Subject {
    /// Validates `text` as a subject.
    pub fn new(text: impl Into<String>) -> Result<Subject, SubjectError> {
        let text = text.into();
        check_shape(&text)?;
        for (position, token) in text.split('.').enumerate() {
            if token.is_empty() {
                return Err(SubjectError::EmptyToken { position });
            }
            if token == "*" || token == ">" || token.contains(['*', '>']) {
                return Err(SubjectError::WildcardInSubject { position });
            }
            if !token.bytes().all(is_token_byte) {
                return Err(SubjectError::InvalidCharacter { position });
            }
        }
        Ok(Subject(text))
    }

    /// The subject as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its tokens.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }
}

impl TryFrom<String> for Subject {
    type Error = SubjectError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Subject::new(text)
    }
}

impl From<Subject> for String {
    fn from(subject: Subject) -> String {
        subject.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Subject({})", self.0)
    }
}

/// One token of a pattern.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PatternToken {
    /// Exactly this token.
    Literal(String),
    /// Any one token (`*`).
    One,
    /// One or more tokens (`>`), last only.
    Rest,
}

/// A subscription pattern: a subject that may hold `*` tokens and end with `>`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pattern(String);

impl Pattern {
    /// Validates `text` as a pattern.
    pub fn new(text: impl Into<String>) -> Result<Pattern, SubjectError> {
        let text = text.into();
        check_shape(&text)?;
        let count = text.split('.').count();
        for (position, token) in text.split('.').enumerate() {
            if token.is_empty() {
                return Err(SubjectError::EmptyToken { position });
            }
            match token {
                "*" => {}
                ">" if position + 1 == count => {}
                _ if token.contains(['*', '>']) => return Err(SubjectError::MisplacedWildcard { position }),
                _ if !token.bytes().all(is_token_byte) => return Err(SubjectError::InvalidCharacter { position }),
                _ => {}
            }
        }
        Ok(Pattern(text))
    }

    /// The pattern as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn tokens(&self) -> impl Iterator<Item = PatternToken> + '_ {
        self.0.split('.').map(|token| match token {
            "*" => PatternToken::One,
            ">" => PatternToken::Rest,
            literal => PatternToken::Literal(literal.to_owned()),
        })
    }

    /// Whether the pattern has no wildcard (it then matches exactly one subject).
    pub fn is_literal(&self) -> bool {
        !self.0.split('.').any(|token| token == "*" || token == ">")
    }

    /// Whether `subject` matches.
    pub fn matches(&self, subject: &Subject) -> bool {
        let mut subject_tokens = subject.tokens();
        for token in self.0.split('.') {
            match token {
                ">" => return subject_tokens.next().is_some(),
                "*" => {
                    if subject_tokens.next().is_none() {
                        return false;
                    }
                }
                literal => {
                    if subject_tokens.next() != Some(literal) {
                        return false;
                    }
                }
            }
        }
        subject_tokens.next().is_none()
    }
}

impl Pattern {
    /// Whether some subject matches both patterns. Two streams whose patterns overlap would both claim
    /// that subject, so stream subjects must not overlap; a consumer's filter must overlap its stream's
    /// subjects, or it could never deliver anything.
    pub fn overlaps(&self, other: &Pattern) -> bool {
        let mine: Vec<PatternToken> = self.tokens().collect();
        let theirs: Vec<PatternToken> = other.tokens().collect();
        tokens_overlap(&mine, &theirs)
    }
}

/// Token by token: `>` meets any non-empty rest (it matches one or more tokens, and a non-empty
/// pattern rest matches at least one subject of one or more tokens); `*` meets any single token;
/// literals meet only themselves.
fn tokens_overlap(first: &[PatternToken], second: &[PatternToken]) -> bool {
    match (first.split_first(), second.split_first()) {
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some((PatternToken::Rest, _)), Some(_)) | (Some(_), Some((PatternToken::Rest, _))) => true,
        (Some((PatternToken::Literal(a), first_rest)), Some((PatternToken::Literal(b), second_rest))) => {
            a == b && tokens_overlap(first_rest, second_rest)
        }
        (Some((_, first_rest)), Some((_, second_rest))) => tokens_overlap(first_rest, second_rest),
    }
}

impl TryFrom<String> for Pattern {
    type Error = SubjectError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Pattern::new(text)
    }
}

impl From<Pattern> for String {
    fn from(pattern: Pattern) -> String {
        pattern.0
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Pattern({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(text: &str) -> Subject {
        Subject::new(text).unwrap()
    }

    #[test]
    fn wildcards_match_as_in_nats() {
        let pattern = |text: &str| Pattern::new(text).unwrap();
        assert!(pattern("market.spread.detected").matches(&subject("market.spread.detected")));
        assert!(pattern("market.*.detected").matches(&subject("market.spread.detected")));
        assert!(!pattern("market.*").matches(&subject("market.spread.detected")));
        assert!(pattern("market.>").matches(&subject("market.spread.detected")));
        assert!(!pattern("market.>").matches(&subject("market")), "'>' needs at least one token");
        assert!(pattern(">").matches(&subject("a")));
        assert!(pattern("*.*").matches(&subject("a.b")));
        assert!(!pattern("*.*").matches(&subject("a")));
    }

    #[test]
    fn invalid_text_is_refused_with_its_reason() {
        assert_eq!(Subject::new(""), Err(SubjectError::Empty));
        assert_eq!(Subject::new("a..b"), Err(SubjectError::EmptyToken { position: 1 }));
        assert_eq!(Subject::new(".a"), Err(SubjectError::EmptyToken { position: 0 }));
        assert_eq!(Subject::new("a.*"), Err(SubjectError::WildcardInSubject { position: 1 }));
        assert_eq!(Subject::new("a b"), Err(SubjectError::InvalidCharacter { position: 0 }));
        assert_eq!(Pattern::new("a.>.b"), Err(SubjectError::MisplacedWildcard { position: 1 }));
        assert_eq!(Pattern::new("a.b*"), Err(SubjectError::MisplacedWildcard { position: 1 }));
        assert_eq!(Subject::new("a.".repeat(20) + "a"), Err(SubjectError::TooManyTokens));
        assert_eq!(Subject::new("a".repeat(300)), Err(SubjectError::TooLong));
    }
}
