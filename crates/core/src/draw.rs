//! The swarm's draw seed: where a sample that no party may aim (a jury's jurors) takes its chance
//! from, in a state machine that has no randomness of its own.
//!
//! Every entry folds its sequence, its timestamp and, for an envelope, its signer, key and nonce into
//! a SHA-256 chain kept in the state. A draw made in an entry reads the chain as of that entry, its own
//! envelope included. To aim a draw, a party would have to know the chain just before its entry and the
//! millisecond the server will stamp its envelope with. The first takes every earlier envelope's nonce
//! since genesis, and an agent sees only its own; the second is the server's. So an agent can neither
//! compute its draw in advance nor retry it cheaply: each dispute spends an escrow, and open juries are
//! bounded per disputer.
//!
//! What it is not: a draw the operator cannot predict (the operator reads the log, and is the root of
//! the swarm's authority already), nor one an outsider can verify without the log. Given the log,
//! anyone replays the chain and checks that every draw followed these rules.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::entry::{Entry, EntryBody};
use crate::ids::Signer;

/// The chain's current link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawSeed([u8; 32]);

impl DrawSeed {
    /// Folds `entry` into the chain. Called once per entry, before anything in it can draw.
    pub(crate) fn fold(&mut self, entry: &Entry) {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(entry.sequence.to_le_bytes());
        hasher.update(entry.timestamp_ms.to_le_bytes());
        match &entry.body {
            EntryBody::Genesis(genesis) => hasher.update(genesis.operator_key.0),
            EntryBody::Tick => {}
            EntryBody::Signed(signed) => {
                match &signed.signer {
                    Signer::Operator => hasher.update([0]),
                    // Length-prefixed, so that no two signers fold the same bytes.
                    Signer::Agent(agent) => {
                        hasher.update([1, agent.as_str().len() as u8]);
                        hasher.update(agent.as_str().as_bytes());
                    }
                }
                hasher.update(signed.verified_key.0);
                hasher.update(signed.nonce.to_le_bytes());
            }
        }
        self.0 = hasher.finalize().into();
    }

    /// An endless stream of numbers for one draw. `domain` and `subject` name the draw, so that two
    /// draws in one entry (two disputes in one envelope) do not repeat each other.
    pub(crate) fn numbers(&self, domain: &'static str, subject: u64) -> impl Iterator<Item = u64> {
        let seed = self.0;
        (0u64..).flat_map(move |block| {
            let mut hasher = Sha256::new();
            hasher.update(seed);
            hasher.update([domain.len() as u8]);
            hasher.update(domain.as_bytes());
            hasher.update(subject.to_le_bytes());
            hasher.update(block.to_le_bytes());
            let digest: [u8; 32] = hasher.finalize().into();
            (0..4).map(move |word| u64::from_le_bytes(digest[word * 8..word * 8 + 8].try_into().expect("eight bytes")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_by_domain_subject_and_seed() {
        let seed = DrawSeed::default();
        let first: Vec<u64> = seed.numbers("jury", 1).take(6).collect();
        assert_eq!(first, seed.numbers("jury", 1).take(6).collect::<Vec<_>>(), "a draw replays");
        assert_ne!(first, seed.numbers("jury", 2).take(6).collect::<Vec<_>>());
        assert_ne!(first, seed.numbers("jurz", 1).take(6).collect::<Vec<_>>());
        let mut next = seed;
        next.fold(&Entry { sequence: 2, timestamp_ms: 5, body: EntryBody::Tick });
        assert_ne!(first, next.numbers("jury", 1).take(6).collect::<Vec<_>>());
        let mut later = seed;
        later.fold(&Entry { sequence: 2, timestamp_ms: 6, body: EntryBody::Tick });
        assert_ne!(next, later, "the millisecond an entry is stamped with changes the chain");
    }
}
