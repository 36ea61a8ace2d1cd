//! The auditor: what every client was told, and a replay of the log of its own to hold it to.
//!
//! It records every acknowledged result (sequence, chain hash, outcome). It follows the log with a
//! state of its own, rebuilt from the log's records alone (the replica), checking core's invariants
//! after every entry and that each acknowledged outcome is the one the log's entry gives. It checks
//! each snapshot's state hash, and each checkpoint's, against the replica's at that entry, and each
//! receipt's chain hash against the chain it computes itself. After a restart it checks that the log
//! still holds the history it followed and that the recovered state is the replica's; at the end of
//! a run, a fresh replay of the whole log finds every acknowledged entry with its receipt.

use std::collections::BTreeMap;

use colony_core::{Digest, EntryOutcome, State};

use crate::history::HistoryChecker;
use colony_log::{ChainHash, CommandLog, LogHead};
use colony_server::driver::Committed;
use colony_server::log_records::decode_record;
use colony_wire::checkpoint::SignedCheckpoint;
use colony_wire::record::RecordKind;

/// Records read at once.
const READ_BATCH_RECORDS: usize = 4_096;

/// Every how many entries the replay checks every invariant. The check walks the whole state (and
/// recomputes every governance decision's seal), so after every entry it took two thirds of a seed's
/// time, growing with the state; every fourth entry, and at every snapshot, keeps a broken
/// invariant's entry within three of where it is found. The testkit's property streams check after
/// every entry.
const INVARIANT_CHECK_INTERVAL_ENTRIES: u64 = 4;

/// Holds the simulated server to what it told its clients.
pub struct Auditor {
    /// The chain hash each acknowledged entry's client was given.
    receipts: BTreeMap<u64, ChainHash>,
    /// Acknowledged outcomes the replica has not reached yet.
    outcomes: BTreeMap<u64, EntryOutcome>,
    replica: State,
    replica_head: LogHead,
    /// State hashes and chain hashes snapshots claim, for entries the replica has not reached yet.
    snapshot_claims: BTreeMap<u64, ([u8; 32], ChainHash)>,
    /// The replica's state hash at each entry a snapshot was taken at.
    known_hashes: BTreeMap<u64, [u8; 32]>,
    /// Entries the replica applied (with invariants checked after each).
    pub entries_checked: u64,
    /// Checkpoints whose state hash was checked.
    pub checkpoints_checked: u64,
    /// Snapshots whose state hash was checked.
    pub snapshots_checked: u64,
    /// The whole history, held to the plain models of locks and the key-value store.
    pub history: HistoryChecker,
}

impl Auditor {
    /// An auditor of a log about to be written from its genesis.
    pub fn new() -> Auditor {
        Auditor {
            receipts: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            replica: State::new(),
            replica_head: LogHead::default(),
            snapshot_claims: BTreeMap::new(),
            known_hashes: BTreeMap::new(),
            entries_checked: 0,
            checkpoints_checked: 0,
            snapshots_checked: 0,
            history: HistoryChecker::default(),
        }
    }

    /// Records what a client was told.
    pub fn acknowledge(&mut self, committed: &Committed) {
        let previous = self.receipts.insert(committed.sequence, committed.chain);
        assert!(previous.is_none(), "entry {} was acknowledged twice", committed.sequence);
        self.outcomes.insert(committed.sequence, committed.outcome.clone());
    }

    /// Notes a snapshot's claim of the state hash and chain hash at `sequence`, checked when the
    /// replica gets there (snapshots are taken at the log's head, so never behind the replica).
    pub fn expect_snapshot(&mut self, sequence: u64, state_hash: [u8; 32], chain: ChainHash) {
        if sequence > self.replica.sequence() {
            self.snapshot_claims.insert(sequence, (state_hash, chain));
            return;
        }
        assert_eq!(sequence, self.replica.sequence(), "a snapshot at entry {sequence} appeared behind the replay");
        assert_eq!(chain, self.replica_head.chain, "the snapshot at entry {sequence} belongs to another history");
        if let Err(broken) = self.replica.check_invariants() {
            panic!("invariant broken at the snapshot of entry {sequence}: {broken}");
        }
        let known = *self.known_hashes.entry(sequence).or_insert_with(|| self.replica.state_hash().0);
        assert_eq!(known, state_hash, "the snapshot at entry {sequence} claims another state hash");
        self.snapshots_checked += 1;
    }

    /// Applies the log's entries the replica has not applied yet, checking each.
    pub fn follow(&mut self, log: &dyn CommandLog) {
        let head = log.head();
        while self.replica_head.sequence < head.sequence {
            let records = log
                .read(self.replica_head.sequence + 1, READ_BATCH_RECORDS)
                .unwrap_or_else(|error| panic!("the auditor cannot read the log: {error}"));
            assert!(!records.is_empty(), "the log ends before its head");
            for chained in records {
                let record = &chained.record;
                assert_eq!(
                    chained.chain,
                    self.replica_head.chain.next(&record.digest()),
                    "entry {} does not follow the history the auditor saw",
                    record.sequence
                );
                if record.kind == RecordKind::Checkpoint as u8 {
                    self.check_checkpoint(record.sequence, &record.payload);
                }
                let entry = decode_record(record, &self.replica)
                    .unwrap_or_else(|error| panic!("the auditor cannot decode entry {}: {error}", record.sequence))
                    .entry;
                let outcome = self
                    .replica
                    .apply(&entry)
                    .unwrap_or_else(|error| panic!("entry {} does not apply on replay: {error}", record.sequence));
                if record.sequence % INVARIANT_CHECK_INTERVAL_ENTRIES == 0
                    && let Err(broken) = self.replica.check_invariants()
                {
                    panic!("invariant broken after entry {}: {broken}", record.sequence);
                }
                self.history.observe(&entry, &outcome);
                if let Some(receipt) = self.receipts.get(&record.sequence) {
                    assert_eq!(*receipt, chained.chain, "entry {}: the receipt's chain hash", record.sequence);
                }
                if let Some(acknowledged) = self.outcomes.remove(&record.sequence) {
                    assert_eq!(acknowledged, outcome, "entry {}: the client was told another outcome", record.sequence);
                }
                self.replica_head = LogHead { sequence: record.sequence, chain: chained.chain };
                self.entries_checked += 1;
                if let Some((state_hash, chain)) = self.snapshot_claims.remove(&record.sequence) {
                    self.expect_snapshot(record.sequence, state_hash, chain);
                }
            }
        }
        assert!(self.outcomes.is_empty(), "acknowledged entries {:?} are not in the log", self.outcomes.keys());
    }

    /// A checkpoint's statement names the chain of the entry before it (checked by start-up's
    /// history verification) and a state hash, which must be the replica's at that entry.
    fn check_checkpoint(&mut self, sequence: u64, payload: &[u8]) {
        let checkpoint = SignedCheckpoint::decode(payload).expect("a logged checkpoint decodes");
        let statement = checkpoint.statement;
        assert_eq!(statement.sequence, sequence - 1, "checkpoint {sequence} covers another entry");
        assert_eq!(statement.chain, self.replica_head.chain.0, "checkpoint {sequence} signs another chain");
        if statement.state_sequence > 0 {
            let known = self.known_hashes.get(&statement.state_sequence);
            assert_eq!(
                known,
                Some(&statement.state_hash),
                "checkpoint {sequence} names a state hash for entry {} that the replay does not give",
                statement.state_sequence
            );
            self.checkpoints_checked += 1;
        }
    }

    /// After a restart: the log still holds the history the replica followed (the chain hash the
    /// replica computed itself at its last entry is the log's there; every earlier receipt was
    /// compared as the replica passed it, and the chain commits to every entry before it), and the
    /// recovered state is the replica's once it has caught up with what became durable without being
    /// acknowledged. The receipts are compared one by one again by [`Auditor::check_fresh_replay`].
    pub fn check_restart(&mut self, log: &dyn CommandLog, recovered: &State) {
        if self.replica_head.sequence > 0 {
            let at_replica = log.read(self.replica_head.sequence, 1).expect("a recovered log reads");
            assert_eq!(
                at_replica.first().map(|chained| chained.chain),
                Some(self.replica_head.chain),
                "the log lost or changed entries up to {} across a restart",
                self.replica_head.sequence
            );
        }
        self.follow(log);
        assert_eq!(recovered.sequence(), log.head().sequence, "recovery stopped short of the log's head");
        assert_eq!(
            recovered.state_hash(),
            self.replica.state_hash(),
            "the recovered state differs from a replay of the log at entry {}",
            recovered.sequence()
        );
    }

    /// A replay of the whole log from its genesis into a fresh state, whose hash must be the
    /// replica's and the recovered state's, with the chain recomputed from the records and every
    /// acknowledged entry still there with its receipt's chain hash.
    pub fn check_fresh_replay(&self, log: &dyn CommandLog) -> Digest {
        let mut state = State::new();
        let mut chain = ChainHash::EMPTY;
        let mut receipts = self.receipts.iter().peekable();
        let mut next = 1;
        loop {
            let records = log.read(next, READ_BATCH_RECORDS).expect("the log reads");
            if records.is_empty() {
                break;
            }
            for chained in &records {
                chain = chain.next(&chained.record.digest());
                assert_eq!(chain, chained.chain, "entry {}: the chain recomputed", chained.record.sequence);
                if let Some((_, receipt)) = receipts.next_if(|(sequence, _)| **sequence == chained.record.sequence) {
                    assert_eq!(*receipt, chain, "entry {}: the receipt's chain hash", chained.record.sequence);
                }
                let entry = decode_record(&chained.record, &state).expect("an entry decodes").entry;
                state.apply(&entry).expect("an entry applies on a fresh replay");
            }
            next += records.len() as u64;
        }
        assert!(receipts.next().is_none(), "acknowledged entries are gone from the end of the log");
        assert_eq!(state.state_hash(), self.replica.state_hash(), "a fresh replay differs from the replica");
        state.state_hash()
    }
}
