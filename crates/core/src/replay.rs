//! Replay protection: each signer's envelopes carry a nonce that may be used once.
//!
//! A strictly increasing counter per signer would reject honest envelopes that overtake each other
//! on the way to the writer (two concurrent requests from one agent). Instead each signer has a
//! floor and a small set of recently used nonces above it: a nonce is fresh if it is above the floor
//! and not in the set. When the set is full, its smallest member becomes the new floor. Envelopes may
//! therefore arrive up to `REPLAY_WINDOW_NONCES` positions out of order, and the memory per signer is
//! bounded. Clients use the current time in microseconds (or any larger number) as the nonce, so
//! nonces also keep increasing across client restarts.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::limits;

/// One signer's used nonces.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayWindow {
    /// Every nonce at or below this is spent.
    floor: u64,
    /// Spent nonces above the floor; at most `REPLAY_WINDOW_NONCES`.
    recent: BTreeSet<u64>,
}

impl ReplayWindow {
    /// Whether `nonce` has not been used yet.
    pub fn is_fresh(&self, nonce: u64) -> bool {
        nonce > self.floor && !self.recent.contains(&nonce)
    }

    /// Forgets the recent nonces, keeping only the floor (for a signer that will sign nothing again).
    pub(crate) fn forget_recent(&mut self) {
        if let Some(highest) = self.recent.last() {
            self.floor = *highest;
        }
        self.recent.clear();
    }

    /// Marks `nonce` as used. The caller has checked that it is fresh.
    pub fn consume(&mut self, nonce: u64) {
        assert!(self.is_fresh(nonce), "consume() of a spent nonce");
        self.recent.insert(nonce);
        if self.recent.len() > limits::REPLAY_WINDOW_NONCES {
            let smallest = self.recent.pop_first().expect("the set is not empty");
            self.floor = smallest;
        }
        assert!(self.recent.len() <= limits::REPLAY_WINDOW_NONCES);
    }

    /// Checks the window's shape (for snapshots from outside): bounded, and every recent nonce above
    /// the floor.
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.recent.len() > limits::REPLAY_WINDOW_NONCES {
            return Err(format!("a nonce window holds {} nonces", self.recent.len()));
        }
        if self.recent.first().is_some_and(|smallest| *smallest <= self.floor) {
            return Err("a nonce window holds a nonce at or below its floor".to_owned());
        }
        Ok(())
    }

    /// The highest nonce used so far, so clients can pick the next one.
    pub fn highest(&self) -> u64 {
        self.recent.last().copied().unwrap_or(self.floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_single_use_and_may_arrive_out_of_order() {
        let mut window = ReplayWindow::default();
        assert!(!window.is_fresh(0), "zero is at the initial floor");
        window.consume(10);
        window.consume(5);
        assert!(!window.is_fresh(10));
        assert!(!window.is_fresh(5));
        assert!(window.is_fresh(7));
        assert_eq!(window.highest(), 10);
    }

    #[test]
    fn the_floor_rises_when_the_window_is_full() {
        let mut window = ReplayWindow::default();
        for nonce in 1..=(limits::REPLAY_WINDOW_NONCES as u64 + 1) {
            window.consume(nonce * 10);
        }
        // The smallest (10) was evicted and became the floor: 5 is now too old even though unused.
        assert!(!window.is_fresh(5));
        assert!(!window.is_fresh(10));
        assert!(window.is_fresh(15));
    }
}
