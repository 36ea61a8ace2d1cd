//! The history checker: the whole history the log holds, across every restart, held to plain
//! models of what locks, elections, semaphores and the key-value store promise, apart from core's
//! code and its invariants.
//!
//! The log's order is the linearization: every entry the replica replays is fed here with its
//! outcome. Locks: fencing tokens (and terms) rise strictly, an exclusive holder holds alone, a
//! semaphore never has more holders than permits, an election never has two leaders, and no hold
//! outlives, past its entry, the lease it was held through. A vote-based election opens its terms
//! one by one and elects at most one leader per term, in the term open. The key-value store: every accepted
//! compare-and-swap named the revision the model holds for its key, every write's revision is above
//! every earlier one, a put's version is one more than the key's, and a key that lives with a lease
//! is gone, at the next revisions, once the lease ends. A history that breaks one fails the run at
//! that entry.

use std::collections::{BTreeMap, BTreeSet};

use colony_core::coordination::LeaseEnd;
use colony_core::{Accepted, Command, Entry, EntryBody, EntryOutcome, EventKind, LockMode, Name, Signer};

/// A key's last put's revision, its version, and the lease (holder and name) it lives with.
type StoredKey = (u64, u64, Option<(Signer, Name)>);

/// What the history has shown so far.
#[derive(Default)]
pub struct HistoryChecker {
    /// Per lock, semaphore or election: its holders with their mode, lease and token.
    holders: BTreeMap<Name, BTreeMap<Signer, (LockMode, Name, u64)>>,
    /// The last fencing token (or term) granted on each name.
    last_token: BTreeMap<Name, u64>,
    /// The last token granted anywhere: one counter serves every lock.
    last_token_anywhere: u64,
    /// Permits of the names last acquired as semaphores.
    permits: BTreeMap<Name, u32>,
    /// Per namespace and key: the revision of its last put, its version, and the lease (holder and
    /// name) it lives with.
    keys: BTreeMap<(Name, String), StoredKey>,
    /// The last revision a write took.
    last_revision: u64,
    /// Per vote-based election: the last term a round opened for, and the last term that elected.
    vote_terms: BTreeMap<Name, (u64, u64)>,
    /// Grants and handovers checked.
    pub grants_checked: u64,
    /// Key-value writes checked, of which compare-and-swaps.
    pub writes_checked: (u64, u64),
}

impl HistoryChecker {
    /// Checks one replayed entry and its outcome.
    pub fn observe(&mut self, entry: &Entry, outcome: &EntryOutcome) {
        let sequence = entry.sequence;
        // Leases that ended by log time did so before the entry's commands: their keys went first.
        for event in &outcome.events {
            if let EventKind::LeaseEnded { holder, lease, reason: LeaseEnd::Expired | LeaseEnd::HolderSilent } =
                &event.kind
            {
                self.end_lease(holder, Some(lease));
            }
        }
        if let EntryBody::Signed(signed) = &entry.body {
            for (command, result) in signed.commands.iter().zip(&outcome.commands) {
                if let Ok(accepted) = result {
                    self.command(sequence, &signed.signer, command, accepted);
                }
            }
        }
        // The holds of leases that ended in the entry, each by its token: a lease of the same name
        // granted again later in the entry may hold the same lock anew, under a new token.
        let mut ended_holds: BTreeSet<(Name, Signer, u64)> = BTreeSet::new();
        for event in &outcome.events {
            self.event(sequence, &event.kind, &mut ended_holds);
        }
        for (name, holder, token) in ended_holds {
            let still = self.holders.get(&name).and_then(|holders| holders.get(&holder));
            assert!(
                still.is_none_or(|(_, _, held)| *held != token),
                "entry {sequence}: {holder} still holds {name} (token {token}) though its lease ended in it"
            );
        }
    }

    /// The keys that live with `holder`'s lease (every lease of the holder's when `None`) are
    /// deleted, a revision each.
    fn end_lease(&mut self, holder: &Signer, lease: Option<&Name>) {
        let before = self.keys.len();
        self.keys.retain(|_, (.., leased)| {
            !leased.as_ref().is_some_and(|(by, name)| by == holder && lease.is_none_or(|lease| lease == name))
        });
        self.last_revision += (before - self.keys.len()) as u64;
    }

    fn command(&mut self, sequence: u64, signer: &Signer, command: &Command, accepted: &Accepted) {
        match (command, accepted) {
            (Command::RevokeLease(revoke), Accepted::Done) => {
                let holder = revoke.holder.clone().map_or_else(|| signer.clone(), Signer::Agent);
                self.end_lease(&holder, Some(&revoke.lease));
            }
            (Command::DeregisterAgent(deregister), Accepted::Done) => {
                self.end_lease(&Signer::Agent(deregister.agent.clone()), None);
            }
            (Command::AcquireSemaphore(acquire), _) => {
                self.permits.insert(acquire.semaphore.clone(), acquire.permits);
            }
            (Command::AcquireLock(acquire), _) => {
                self.permits.remove(&acquire.lock);
            }
            (Command::PutValue(put), Accepted::KvPut { revision, version }) => {
                let key = (put.namespace.clone(), put.key.to_string());
                let (present, present_version) =
                    self.keys.get(&key).map_or((0, 0), |(revision, version, _)| (*revision, *version));
                if let Some(expected) = put.expected_revision {
                    assert_eq!(
                        expected, present,
                        "entry {sequence}: a swap on {key:?} expected {expected}, the key was at {present}"
                    );
                    self.writes_checked.1 += 1;
                }
                assert_eq!(*version, present_version + 1, "entry {sequence}: {key:?}'s version");
                self.write(sequence, *revision);
                let lease = put.lease.clone().map(|lease| (signer.clone(), lease));
                self.keys.insert(key, (*revision, *version, lease));
            }
            (Command::DeleteValue(delete), Accepted::KvDeleted { revision }) => {
                let key = (delete.namespace.clone(), delete.key.to_string());
                let present = self.keys.remove(&key).map(|(revision, ..)| revision);
                assert!(present.is_some(), "entry {sequence}: {key:?} was deleted but the model never held it");
                if let Some(expected) = delete.expected_revision {
                    assert_eq!(Some(expected), present, "entry {sequence}: a delete of {key:?} expected {expected}");
                    self.writes_checked.1 += 1;
                }
                self.write(sequence, *revision);
            }
            (Command::DeleteValue(delete), Accepted::Unchanged) => {
                let key = (delete.namespace.clone(), delete.key.to_string());
                assert!(
                    !self.keys.contains_key(&key),
                    "entry {sequence}: a delete of {key:?}, which exists, changed nothing"
                );
            }
            (Command::DeleteNamespace(delete), _) => {
                self.keys.retain(|(namespace, _), _| *namespace != delete.namespace);
            }
            (Command::CreateNamespace(_), Accepted::Done) => {
                // A creation takes a revision too, so the next write's is above it by more than one.
                self.last_revision += 1;
            }
            _ => {}
        }
    }

    fn write(&mut self, sequence: u64, revision: u64) {
        assert!(revision > self.last_revision, "entry {sequence}: revision {revision} after {}", self.last_revision);
        self.last_revision = revision;
        self.writes_checked.0 += 1;
    }

    fn grant(&mut self, sequence: u64, name: &Name, holder: &Signer, mode: LockMode, lease: &Name, token: u64) {
        let last = self.last_token.insert(name.clone(), token).unwrap_or(0);
        assert!(token > last, "entry {sequence}: {name} granted token {token} after {last}");
        assert!(token > self.last_token_anywhere, "entry {sequence}: token {token} drawn twice");
        self.last_token_anywhere = token;
        let holders = self.holders.entry(name.clone()).or_default();
        let twice = holders.insert(holder.clone(), (mode, lease.clone(), token)).is_some();
        assert!(!twice, "entry {sequence}: {holder} holds {name} twice");
        let exclusive = holders.values().any(|(mode, ..)| *mode == LockMode::Exclusive);
        assert!(
            !exclusive || holders.len() == 1,
            "entry {sequence}: {name} held exclusively beside others: {holders:?}"
        );
        if let Some(permits) = self.permits.get(name) {
            assert!(
                holders.len() <= *permits as usize,
                "entry {sequence}: {name} has more holders than its {permits} permits"
            );
        }
        self.grants_checked += 1;
    }

    fn leave(&mut self, sequence: u64, name: &Name, holder: &Signer) {
        let holders = self.holders.get_mut(name);
        let left = holders.and_then(|holders| holders.remove(holder));
        assert!(left.is_some(), "entry {sequence}: {holder} left {name}, which it did not hold");
        if self.holders.get(name).is_some_and(BTreeMap::is_empty) {
            self.holders.remove(name);
        }
    }

    fn event(&mut self, sequence: u64, event: &EventKind, ended_holds: &mut BTreeSet<(Name, Signer, u64)>) {
        match event {
            EventKind::LockGranted { lock, holder, lease, mode, fencing_token, .. } => {
                self.grant(sequence, lock, holder, *mode, lease, *fencing_token)
            }
            EventKind::ElectionLeader { election, leader, lease, term, .. } => {
                assert!(!self.holders.contains_key(election), "entry {sequence}: {election} has two leaders");
                self.grant(sequence, election, leader, LockMode::Exclusive, lease, *term)
            }
            EventKind::VoteElectionCreated { election, .. } => {
                self.vote_terms.insert(election.clone(), (0, 0));
            }
            EventKind::VoteElectionDeleted { election, .. } => {
                self.vote_terms.remove(election);
            }
            EventKind::VoteRoundOpened { election, term, .. } => {
                let (opened, _) = self.vote_terms.entry(election.clone()).or_default();
                assert_eq!(*term, *opened + 1, "entry {sequence}: {election} opened term {term} after {opened}");
                *opened = *term;
            }
            EventKind::VoteLeaderElected { election, leader, term, .. } => {
                let (opened, elected) = self.vote_terms.entry(election.clone()).or_default();
                assert!(
                    *term == *opened && *term > *elected,
                    "entry {sequence}: {election} elected {leader} for term {term} (opened {opened}, last elected {elected})"
                );
                *elected = *term;
                self.grants_checked += 1;
            }
            EventKind::LockReleased { lock, holder, .. } => self.leave(sequence, lock, holder),
            EventKind::ElectionTermEnded { election, leader, .. } => self.leave(sequence, election, leader),
            EventKind::LeaseEnded { holder, lease, .. } => {
                for (name, holders) in &self.holders {
                    if let Some((_, held_through, token)) = holders.get(holder)
                        && held_through == lease
                    {
                        ended_holds.insert((name.clone(), holder.clone(), *token));
                    }
                }
            }
            _ => {}
        }
    }
}
