//! [`EntryFactory`]: well-formed log entries with consecutive sequence numbers, a controllable clock
//! and per-signer nonces.

use std::collections::BTreeMap;

use colony_core::{Command, Entry, EntryBody, Genesis, PublicKey, SignedCommands, Signer, SwarmConfig};

use super::keys::{agent_id, key_for};

/// Log time of the first entry unless a test picks another (2023-11-14, in Unix milliseconds).
pub const DEFAULT_START_MS: u64 = 1_700_000_000_000;

/// Makes entries the way a driver would: sequence numbers from 1 without gaps, timestamps from a clock
/// that only moves when told to ([`advance_ms`](EntryFactory::advance_ms)), and for each signer nonces
/// that increase by one per envelope.
///
/// The factory does not apply anything; it only remembers what it handed out. Entries for the
/// operator are verified with the factory's operator key, entries for an agent with
/// [`key_for`] of its id; [`signed`](EntryFactory::signed) makes any other combination.
#[derive(Clone, Debug)]
pub struct EntryFactory {
    next_sequence: u64,
    now_ms: u64,
    operator_key: PublicKey,
    highest_nonces: BTreeMap<Signer, u64>,
}

impl EntryFactory {
    /// A factory whose first entry will be entry 1 at `start_ms`.
    pub fn new(start_ms: u64, operator_key: PublicKey) -> EntryFactory {
        EntryFactory { next_sequence: 1, now_ms: start_ms, operator_key, highest_nonces: BTreeMap::new() }
    }

    /// The sequence number the next entry will get.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Makes the next entry get `sequence` (to resynchronise after entries made elsewhere).
    pub fn set_next_sequence(&mut self, sequence: u64) {
        self.next_sequence = sequence;
    }

    /// The timestamp the next entry will get.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Moves the clock forward.
    #[track_caller]
    pub fn advance_ms(&mut self, milliseconds: u64) {
        self.now_ms = self.now_ms.checked_add(milliseconds).expect("the test clock overflowed");
    }

    /// Moves the clock to `now_ms`, which must not be in the past.
    #[track_caller]
    pub fn set_now_ms(&mut self, now_ms: u64) {
        assert!(now_ms >= self.now_ms, "the test clock only moves forward ({now_ms} < {})", self.now_ms);
        self.now_ms = now_ms;
    }

    /// The operator's key.
    pub fn operator_key(&self) -> PublicKey {
        self.operator_key
    }

    /// The highest nonce handed out for `signer` so far (0 if none).
    pub fn last_nonce(&self, signer: &Signer) -> u64 {
        self.highest_nonces.get(signer).copied().unwrap_or(0)
    }

    /// A nonce above every nonce handed out for `signer`, and remembers it.
    pub fn next_nonce(&mut self, signer: &Signer) -> u64 {
        let nonce = self.last_nonce(signer) + 1;
        self.note_nonce(signer, nonce);
        nonce
    }

    /// Remembers that `nonce` was used by `signer`, so that later nonces are above it.
    pub fn note_nonce(&mut self, signer: &Signer, nonce: u64) {
        let highest = self.highest_nonces.entry(signer.clone()).or_insert(0);
        *highest = (*highest).max(nonce);
    }

    /// The genesis entry, with the factory's operator key.
    pub fn genesis(&mut self, config: SwarmConfig) -> Entry {
        let operator_key = self.operator_key;
        self.entry(EntryBody::Genesis(Genesis { rules_version: colony_core::RULES_VERSION, operator_key, config }))
    }

    /// A tick: an entry with no commands, that only moves log time.
    pub fn tick(&mut self) -> Entry {
        self.entry(EntryBody::Tick)
    }

    /// An envelope signed by the operator with its key and the next nonce.
    pub fn operator(&mut self, commands: Vec<Command>) -> Entry {
        let nonce = self.next_nonce(&Signer::Operator);
        let key = self.operator_key;
        self.signed(Signer::Operator, key, nonce, commands)
    }

    /// An envelope signed by agent `agent` with `key_for(agent)` and its next nonce.
    #[track_caller]
    pub fn agent(&mut self, agent: &str, commands: Vec<Command>) -> Entry {
        let signer = Signer::Agent(agent_id(agent));
        let nonce = self.next_nonce(&signer);
        self.signed(signer, key_for(agent), nonce, commands)
    }

    /// An envelope with everything chosen by the caller (wrong keys, replayed nonces, ...). The nonce
    /// is remembered, so later [`next_nonce`](EntryFactory::next_nonce)s stay above it.
    pub fn signed(&mut self, signer: Signer, verified_key: PublicKey, nonce: u64, commands: Vec<Command>) -> Entry {
        self.note_nonce(&signer, nonce);
        self.entry(EntryBody::Signed(SignedCommands { signer, verified_key, nonce, commands }))
    }

    /// An entry with the next sequence number and the current time.
    pub fn entry(&mut self, body: EntryBody) -> Entry {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        Entry { sequence, timestamp_ms: self.now_ms, body }
    }
}
