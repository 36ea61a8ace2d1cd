//! The ephemeral message bus: authenticated publishes fanned out to subscribers in memory.
//!
//! Ephemeral messages do not enter the command log: they are for signals whose value is in their
//! freshness (prices, heartbeats of work, requests), at rates a durable log could not carry. What
//! the bus guarantees is who sent a message (the server stamps the authenticated signer as its
//! source), that a halted agent cannot send, and that a slow subscriber only hurts itself. Durable
//! streams, which survive crashes, are state in core, fed by the log.
//!
//! - [`mailbox`]: a subscriber's bounded, drop-oldest buffer.
//! - [`router`]: subscriptions by pattern, queue groups, private subjects, fan-out, counters.
//! - [`state_changes`]: the state's changes (pheromone maps') told on the server's own subjects.
//! - [`text`]: a message's JSON text (durable messages encoded by their first reader) and the byte
//!   budget all held messages share.

// Problems are built only on the way out of a request, so their size on the error path does not matter.
#![allow(clippy::result_large_err)]

pub mod mailbox;
pub mod router;
pub mod state_changes;
pub mod text;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use colony_core::bus::Subject;
use colony_core::replay::ReplayWindow;
use colony_core::{Signer, State};
use colony_wire::Problem;
use colony_wire::bus::{BusMessage, EphemeralPublish, PublishedView};

pub use mailbox::{Batch, BusText, Mailbox, Outgoing};
pub use router::{SubjectRouter, SubscribeRequest, SubscriptionHandle, Transport};

/// The server's bus: the router plus what publishing needs (replay protection, message ids).
pub struct EphemeralBus {
    /// Subscriptions and fan-out.
    pub router: Arc<SubjectRouter>,
    /// Per-signer windows of publish nonces. They live in memory only (ephemeral messages are not
    /// logged), so the HTTP layer refuses publishes stamped before the server started: a publish
    /// captured before a restart cannot be replayed after it. Durable publishes go through the log
    /// and are protected like every envelope.
    nonces: Mutex<HashMap<Signer, ReplayWindow>>,
    /// Per-signer windows of the signed reads that opened streams (events, subscriptions, WebSocket
    /// connections): a stream goes on delivering what its signer may see, and a WebSocket publishes
    /// as its signer, so the signed read that opens one is single-use, like a nonce.
    stream_opens: Mutex<HashMap<Signer, ReplayWindow>>,
    /// Message ids are `<prefix>-<counter>`: the prefix (the start time) keeps ids unique across
    /// restarts of the server.
    id_prefix: String,
    next_message: AtomicU64,
}

impl EphemeralBus {
    /// A bus for a server started at `started_at_ms`, holding at most `BUFFERED_BYTES_MAX` for
    /// subscribers that are behind.
    pub fn new(started_at_ms: u64) -> EphemeralBus {
        EphemeralBus::with_budget(started_at_ms, router::BUFFERED_BYTES_MAX)
    }

    /// A bus holding at most `buffered_bytes_max` bytes of messages for subscribers that are behind.
    pub fn with_budget(started_at_ms: u64, buffered_bytes_max: u64) -> EphemeralBus {
        EphemeralBus {
            router: SubjectRouter::with_budget(buffered_bytes_max),
            nonces: Mutex::new(HashMap::new()),
            stream_opens: Mutex::new(HashMap::new()),
            id_prefix: format!("{started_at_ms:x}"),
            next_message: AtomicU64::new(0),
        }
    }

    /// Spends `nonce` for `signer`; false if it was already used (or is below the signer's window).
    pub fn spend_nonce(&self, signer: &Signer, nonce: u64) -> bool {
        EphemeralBus::spend(&self.nonces, signer, nonce)
    }

    /// Spends `nonce`, which stands for the signed read that opens a stream for `signer` (its
    /// timestamp and part of its signature, see `http::auth`); false if that signed read was already
    /// used.
    pub fn spend_stream_open(&self, signer: &Signer, nonce: u64) -> bool {
        EphemeralBus::spend(&self.stream_opens, signer, nonce)
    }

    fn spend(windows: &Mutex<HashMap<Signer, ReplayWindow>>, signer: &Signer, nonce: u64) -> bool {
        let mut nonces = windows.lock().expect("bus nonce lock");
        if nonces.len() > colony_core::limits::AGENTS_MAX && !nonces.contains_key(signer) {
            // Every signer is a registered agent, so this only happens after many deregistrations:
            // forgetting old windows is safe because the clock-skew check still bounds replays.
            nonces.clear();
        }
        let window = nonces.entry(signer.clone()).or_default();
        if !window.is_fresh(nonce) {
            return false;
        }
        window.consume(nonce);
        true
    }

    /// A fresh message id.
    pub fn next_message_id(&self) -> String {
        let counter = self.next_message.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}-{counter}", self.id_prefix)
    }

    /// Publishes a validated message from `source` and says how many subscribers received it.
    pub fn publish(&self, source: &Signer, now_ms: u64, subject: &Subject, content: EphemeralPublish) -> PublishedView {
        let id = self.next_message_id();
        let message = BusMessage::new(id.clone(), now_ms, source, content);
        let json: Outgoing = self.router.encode(serde_json::to_string(&message).expect("messages encode"));
        let delivered = self.router.publish(subject, &json);
        PublishedView { id, delivered }
    }
}

/// Whether `signer` may publish now: the operator always; an agent that is registered, not
/// deregistered, and not halted (by the operator, its parent, or its budget).
pub fn check_may_publish(state: &State, signer: &Signer) -> Result<(), Problem> {
    state.check_may_act(signer).map_err(|rejection| Problem::from_rejection(&rejection))
}
