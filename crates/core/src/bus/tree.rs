//! A tree of patterns, for finding every pattern that matches a subject without testing them one by
//! one: the cost of a match grows with the subject's length and the number of matching branches, not
//! with the number of subscriptions.

use std::collections::{BTreeMap, BTreeSet};

use super::subject::{Pattern, PatternToken, Subject};

/// Values (subscriptions, streams) indexed by the patterns they listen on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectTree<T: Ord + Clone> {
    root: Node<T>,
    len: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Node<T: Ord + Clone> {
    literals: BTreeMap<String, Node<T>>,
    one: Option<Box<Node<T>>>,
    /// Values of patterns ending here with `>`.
    rest: BTreeSet<T>,
    /// Values of patterns ending exactly here.
    here: BTreeSet<T>,
}

impl<T: Ord + Clone> Default for Node<T> {
    fn default() -> Self {
        Node { literals: BTreeMap::new(), one: None, rest: BTreeSet::new(), here: BTreeSet::new() }
    }
}

impl<T: Ord + Clone> Node<T> {
    fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.one.is_none() && self.rest.is_empty() && self.here.is_empty()
    }
}

impl<T: Ord + Clone> Default for SubjectTree<T> {
    fn default() -> Self {
        SubjectTree { root: Node::default(), len: 0 }
    }
}

impl<T: Ord + Clone> SubjectTree<T> {
    /// An empty tree.
    pub fn new() -> SubjectTree<T> {
        SubjectTree::default()
    }

    /// How many (pattern, value) pairs the tree holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `value` under `pattern`; false if it was already there.
    pub fn insert(&mut self, pattern: &Pattern, value: T) -> bool {
        let mut node = &mut self.root;
        for token in pattern.tokens() {
            match token {
                PatternToken::Literal(literal) => node = node.literals.entry(literal).or_default(),
                PatternToken::One => node = node.one.get_or_insert_with(Box::default),
                PatternToken::Rest => {
                    let added = node.rest.insert(value);
                    self.len += usize::from(added);
                    return added;
                }
            }
        }
        let added = node.here.insert(value);
        self.len += usize::from(added);
        added
    }

    /// Removes `value` from under `pattern`; false if it was not there. Empty branches are pruned.
    pub fn remove(&mut self, pattern: &Pattern, value: &T) -> bool {
        let tokens: Vec<PatternToken> = pattern.tokens().collect();
        let removed = Self::remove_at(&mut self.root, &tokens, value);
        self.len -= usize::from(removed);
        removed
    }

    fn remove_at(node: &mut Node<T>, tokens: &[PatternToken], value: &T) -> bool {
        let Some((first, rest)) = tokens.split_first() else {
            return node.here.remove(value);
        };
        match first {
            PatternToken::Rest => node.rest.remove(value),
            PatternToken::One => {
                let Some(child) = node.one.as_mut() else { return false };
                let removed = Self::remove_at(child, rest, value);
                if child.is_empty() {
                    node.one = None;
                }
                removed
            }
            PatternToken::Literal(literal) => {
                let Some(child) = node.literals.get_mut(literal) else { return false };
                let removed = Self::remove_at(child, rest, value);
                if child.is_empty() {
                    node.literals.remove(literal);
                }
                removed
            }
        }
    }

    /// Every value whose pattern matches `subject`, each once, in order.
    pub fn matches(&self, subject: &Subject) -> BTreeSet<&T> {
        let tokens: Vec<&str> = subject.tokens().collect();
        let mut found = BTreeSet::new();
        Self::collect(&self.root, &tokens, &mut found);
        found
    }

    /// Calls `visit` with every value whose pattern matches `subject`, without allocating: the hot path
    /// of fan-out. A value held under several matching patterns is visited once per pattern.
    pub fn for_each_match(&self, subject: &Subject, mut visit: impl FnMut(&T)) {
        let mut tokens = [""; super::subject::SUBJECT_TOKENS_MAX];
        let mut count = 0;
        for token in subject.tokens() {
            // `Subject` guarantees at most SUBJECT_TOKENS_MAX tokens.
            tokens[count] = token;
            count += 1;
        }
        Self::visit(&self.root, &tokens[..count], &mut visit);
    }

    fn visit(node: &Node<T>, tokens: &[&str], visit: &mut impl FnMut(&T)) {
        let Some((first, rest)) = tokens.split_first() else {
            node.here.iter().for_each(&mut *visit);
            return;
        };
        node.rest.iter().for_each(&mut *visit);
        if let Some(child) = node.literals.get(*first) {
            Self::visit(child, rest, visit);
        }
        if let Some(child) = &node.one {
            Self::visit(child, rest, visit);
        }
    }

    fn collect<'a>(node: &'a Node<T>, tokens: &[&str], found: &mut BTreeSet<&'a T>) {
        let Some((first, rest)) = tokens.split_first() else {
            found.extend(node.here.iter());
            return;
        };
        // `>` matches the one or more tokens that remain.
        found.extend(node.rest.iter());
        if let Some(child) = node.literals.get(*first) {
            Self::collect(child, rest, found);
        }
        if let Some(child) = &node.one {
            Self::collect(child, rest, found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_finds_exactly_the_matching_patterns_and_prunes_on_removal() {
        let mut tree = SubjectTree::new();
        let patterns = ["market.price.aapl", "market.price.*", "market.>", "risk.>", "*.price.*", ">"];
        for (value, pattern) in patterns.iter().enumerate() {
            assert!(tree.insert(&Pattern::new(*pattern).unwrap(), value));
        }
        assert!(!tree.insert(&Pattern::new("market.>").unwrap(), 2), "a pair is held once");
        let found: Vec<usize> =
            tree.matches(&Subject::new("market.price.aapl").unwrap()).into_iter().copied().collect();
        assert_eq!(found, vec![0, 1, 2, 4, 5]);
        let mut visited = Vec::new();
        tree.for_each_match(&Subject::new("market.price.aapl").unwrap(), |value| visited.push(*value));
        visited.sort();
        assert_eq!(visited, vec![0, 1, 2, 4, 5], "the visitor sees what `matches` returns");
        let found: Vec<usize> = tree.matches(&Subject::new("risk").unwrap()).into_iter().copied().collect();
        assert_eq!(found, vec![5], "'risk.>' needs a token after 'risk'");
        for (value, pattern) in patterns.iter().enumerate() {
            assert!(tree.remove(&Pattern::new(*pattern).unwrap(), &value));
        }
        assert!(tree.is_empty());
        assert!(tree.root.is_empty(), "every branch was pruned");
    }
}
