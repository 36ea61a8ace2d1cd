//! A message's JSON text as subscribers get it, and the budget of bytes all held messages share.
//!
//! An ephemeral message is encoded once by its publisher, before fan-out. A durable message (stored
//! in a stream by a committed entry) reaches the bus as core's value and is encoded by the first
//! subscriber that reads it: the writer thread, which every other write waits for, never spends time
//! on JSON, the encoding runs on the subscribers' tasks, and a message every subscriber dropped
//! unread is never encoded at all.
//!
//! Either way a message is charged to the [`ByteBudget`] for what it holds (its text, or until it is
//! encoded its stored size) and refunded when its last holder drops it, so a message held by a
//! thousand mailboxes counts once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use colony_core::Name;
use colony_core::bus::StoredMessage;
use colony_wire::bus::BusMessage;

/// A message as it is handed to subscribers: its JSON text, encoded once for all of them.
pub type Outgoing = Arc<BusText>;

/// A message's JSON text, charged to a [`ByteBudget`] for as long as anyone holds it.
pub struct BusText {
    content: Content,
    budget: Option<Arc<ByteBudget>>,
}

// Every publish and every take reads a message's size next to the counts of its `Arc`; kept this
// small, both sit on one cache line, which publisher and subscriber cores pass back and forth.
const _: () = assert!(std::mem::size_of::<BusText>() <= 24);

enum Content {
    /// Encoded when made: an ephemeral message.
    Encoded(Box<str>),
    /// A durable message, encoded by its first reader.
    Stored(Box<LazyText>),
}

struct LazyText {
    text: OnceLock<Box<str>>,
    /// The message until it is encoded.
    message: Mutex<Option<(Name, StoredMessage)>>,
    /// Its stored size: what it is charged until encoded, and what a mailbox counts it as (its text
    /// exceeds it by a bounded factor: field names, base64, escapes).
    stored_bytes: u64,
}

impl BusText {
    /// `text`, charged to `budget` until the last holder drops it.
    pub fn charged(text: String, budget: &Arc<ByteBudget>) -> Outgoing {
        budget.charge(text.len() as u64);
        Arc::new(BusText { content: Content::Encoded(text.into_boxed_str()), budget: Some(Arc::clone(budget)) })
    }

    /// `text`, charged to no budget (tests and benchmarks that keep their own messages).
    pub fn uncharged(text: impl Into<String>) -> Outgoing {
        Arc::new(BusText { content: Content::Encoded(text.into().into_boxed_str()), budget: None })
    }

    /// Durable message `message` of stream `stream`, encoded when first read and charged to `budget`
    /// (its stored size, then its text's length) until the last holder drops it.
    pub fn stored(stream: Name, message: StoredMessage, budget: &Arc<ByteBudget>) -> Outgoing {
        let stored_bytes = message.size_bytes();
        budget.charge(stored_bytes);
        let lazy = LazyText { text: OnceLock::new(), message: Mutex::new(Some((stream, message))), stored_bytes };
        Arc::new(BusText { content: Content::Stored(Box::new(lazy)), budget: Some(Arc::clone(budget)) })
    }

    /// The bytes a mailbox counts this message as, the same from push to take: its text's length,
    /// or for a durable message its stored size.
    #[inline]
    pub fn weight_bytes(&self) -> u64 {
        match &self.content {
            Content::Encoded(text) => text.len() as u64,
            Content::Stored(lazy) => lazy.stored_bytes,
        }
    }

    /// The JSON text, encoding a durable message on the first call.
    #[inline]
    pub fn text(&self) -> &str {
        match &self.content {
            Content::Encoded(text) => text,
            Content::Stored(lazy) => lazy.text(self.budget.as_deref()),
        }
    }

    /// Whether the text exists yet (a durable message nobody has read has none).
    #[cfg(test)]
    fn is_encoded(&self) -> bool {
        match &self.content {
            Content::Encoded(_) => true,
            Content::Stored(lazy) => lazy.text.get().is_some(),
        }
    }

    /// The bytes charged for it now.
    fn held_bytes(&self) -> u64 {
        match &self.content {
            Content::Encoded(text) => text.len() as u64,
            Content::Stored(lazy) => lazy.text.get().map_or(lazy.stored_bytes, |text| text.len() as u64),
        }
    }
}

impl LazyText {
    fn text(&self, budget: Option<&ByteBudget>) -> &str {
        self.text.get_or_init(|| {
            let taken = self.message.lock().expect("stored message lock").take();
            let (stream, message) = taken.expect("a stored message is encoded once");
            let text = encode_stored(&stream, &message);
            if let Some(budget) = budget {
                budget.charge(text.len() as u64);
                budget.refund(self.stored_bytes);
            }
            text.into_boxed_str()
        })
    }
}

/// A durable message as live subscribers see it: like a message fetched from its stream, without a
/// delivery count (no consumer delivered it).
pub fn encode_stored(stream: &Name, message: &StoredMessage) -> String {
    serde_json::to_string(&BusMessage::from_stored(stream, message, None)).expect("messages encode")
}

impl Drop for BusText {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.refund(self.held_bytes());
        }
    }
}

impl std::ops::Deref for BusText {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.text()
    }
}

impl std::fmt::Display for BusText {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.text())
    }
}

impl std::fmt::Debug for BusText {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.text(), formatter)
    }
}

impl PartialEq<str> for BusText {
    fn eq(&self, other: &str) -> bool {
        self.text() == other
    }
}

impl AsRef<[u8]> for BusText {
    fn as_ref(&self) -> &[u8] {
        self.text().as_bytes()
    }
}

/// The bytes of distinct messages a server may hold (in mailboxes, and in streams being written)
/// before slow subscribers stop growing.
pub struct ByteBudget {
    used: AtomicU64,
    limit: u64,
}

impl ByteBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<ByteBudget> {
        Arc::new(ByteBudget { used: AtomicU64::new(0), limit })
    }

    /// Bytes held now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether the bytes held reached the limit.
    pub fn spent(&self) -> bool {
        self.used() >= self.limit
    }

    fn charge(&self, bytes: u64) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    fn refund(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use colony_core::bus::{Payload, Priority, Subject};
    use colony_core::{AgentId, Signer};
    use tokio::sync::Notify;

    use super::*;
    use crate::bus::Mailbox;

    fn stored_message() -> StoredMessage {
        StoredMessage {
            sequence: 42,
            subject: Subject::new("signals.momentum").unwrap(),
            source: Signer::Agent(AgentId::new("analyst-1").unwrap()),
            published_at_ms: 1_700_000_000_000,
            message_id: Some(Name::new("m-1").unwrap()),
            message_type: None,
            priority: Priority::High,
            correlation_id: None,
            reply_to: None,
            headers: [(Name::new("desk").unwrap(), "a \"quoted\" desk".to_owned())].into_iter().collect(),
            payload: Some(Payload::Json(format!("{{\"score\":0.5,\"note\":\"{}\"}}", "x".repeat(300)))),
            payload_signature: None,
            encrypted_to: None,
        }
    }

    #[test]
    fn a_durable_message_is_encoded_by_its_first_reader_and_charged_for_what_it_holds() {
        let budget = ByteBudget::new(1 << 20);
        let stream = Name::new("signals").unwrap();
        let message = stored_message();
        let expected = encode_stored(&stream, &message);
        let text = BusText::stored(stream, message.clone(), &budget);
        assert_eq!(budget.used(), message.size_bytes(), "charged its stored size until encoded");

        let mailboxes: Vec<_> = (0..3).map(|_| Mailbox::new(4, Arc::new(Notify::new()))).collect();
        for mailbox in &mailboxes {
            mailbox.push(Arc::clone(&text));
            assert_eq!(mailbox.bytes(), message.size_bytes());
        }
        drop(text);
        let mut taken = Vec::new();
        mailboxes[0].take(&mut taken, 10);
        assert!(!taken[0].is_encoded(), "pushing and taking do not encode");
        assert_eq!(mailboxes[0].bytes(), 0, "taking counts what pushing counted");

        assert_eq!(taken[0].text(), expected);
        assert_eq!(budget.used(), expected.len() as u64, "charged its text, once, for every holder");
        let mut again = Vec::new();
        mailboxes[1].take(&mut again, 10);
        assert!(std::ptr::eq(again[0].text(), taken[0].text()), "later readers share the first one's text");
        drop((taken, again));
        mailboxes[2].close_and_clear();
        assert_eq!(budget.used(), 0, "refunded when the last holder lets go");
    }

    #[test]
    fn a_durable_message_dropped_unread_is_refunded_without_being_encoded() {
        let budget = ByteBudget::new(1 << 20);
        let text = BusText::stored(Name::new("signals").unwrap(), stored_message(), &budget);
        assert!(budget.used() > 0);
        drop(text);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn readers_racing_for_the_first_read_encode_once() {
        let budget = ByteBudget::new(1 << 20);
        let stream = Name::new("signals").unwrap();
        let expected = encode_stored(&stream, &stored_message());
        let text = BusText::stored(stream, stored_message(), &budget);
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..8).map(|_| scope.spawn(|| text.text().to_owned())).collect();
            for reader in readers {
                assert_eq!(reader.join().unwrap(), expected);
            }
        });
        assert_eq!(budget.used(), expected.len() as u64);
    }
}
