//! A subscriber's bounded buffer.
//!
//! Publishers never wait for subscribers: a message is pushed into each matching subscriber's
//! mailbox and the publisher moves on. When a mailbox is full the oldest message in it is dropped
//! and counted, so one slow subscriber loses its own oldest messages and slows nobody else. The
//! subscriber learns how many it lost with its next batch.
//!
//! Memory is bounded twice: a mailbox holds at most its capacity in messages and
//! [`MAILBOX_BYTES_MAX`] in bytes, and all messages a server holds share a [`ByteBudget`]. The
//! budget counts each message once, however many mailboxes (or event streams being written) hold
//! it: a message is charged when it is encoded and refunded when its last holder lets it go. Once
//! the budget is spent, the router stops handing new messages to mailboxes that are not empty (see
//! `SubjectRouter::publish`), so slow subscribers stop growing while subscribers that keep up (whose
//! mailboxes are empty) are not affected.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// A message as it is handed to subscribers: its JSON text, encoded once for all of them.
pub type Outgoing = Arc<BusText>;

/// A message's JSON text, charged to a [`ByteBudget`] for as long as anyone holds it.
pub struct BusText {
    text: Box<str>,
    budget: Option<Arc<ByteBudget>>,
}

impl BusText {
    /// `text`, charged to `budget` until the last holder drops it.
    pub fn charged(text: String, budget: &Arc<ByteBudget>) -> Outgoing {
        budget.used.fetch_add(text.len() as u64, Ordering::Relaxed);
        Arc::new(BusText { text: text.into_boxed_str(), budget: Some(Arc::clone(budget)) })
    }

    /// `text`, charged to no budget (tests and benchmarks that keep their own messages).
    pub fn uncharged(text: impl Into<String>) -> Outgoing {
        Arc::new(BusText { text: text.into().into_boxed_str(), budget: None })
    }
}

impl Drop for BusText {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.used.fetch_sub(self.text.len() as u64, Ordering::Relaxed);
        }
    }
}

impl std::ops::Deref for BusText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for BusText {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.text)
    }
}

impl std::fmt::Debug for BusText {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.text, formatter)
    }
}

impl PartialEq<str> for BusText {
    fn eq(&self, other: &str) -> bool {
        &*self.text == other
    }
}

impl AsRef<[u8]> for BusText {
    fn as_ref(&self) -> &[u8] {
        self.text.as_bytes()
    }
}

/// One mailbox holds at most this many bytes of messages, whatever its capacity in messages.
pub const MAILBOX_BYTES_MAX: u64 = 16 << 20;
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
}

/// A bounded, drop-oldest queue with one reader.
pub struct Mailbox {
    queue: Mutex<Queue>,
    capacity: usize,
    /// Woken on every push and on close. A WebSocket connection shares one among all its
    /// subscriptions, so that a single writer task can sleep until any of them has work.
    notify: Arc<Notify>,
}

struct Queue {
    messages: VecDeque<Outgoing>,
    bytes: u64,
    dropped_total: u64,
    dropped_unreported: u64,
    closed: bool,
    /// Since when something has waited for the reader without it taking anything: set when the
    /// mailbox stops being empty and each time the reader takes, to find readers that stopped.
    waiting_since: std::time::Instant,
}

impl Queue {
    /// Whether nothing waits for the reader: no message, no drop to report.
    fn is_idle(&self) -> bool {
        self.messages.is_empty() && self.dropped_unreported == 0
    }
}

/// What a reader took from a mailbox.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Messages dropped since the previous batch, because the mailbox was full.
    pub dropped: u64,
    /// Messages dropped since the subscription began.
    pub dropped_total: u64,
}

impl Mailbox {
    /// A mailbox holding at most `capacity` messages (at least one), waking `notify` on pushes.
    pub fn new(capacity: usize, notify: Arc<Notify>) -> Mailbox {
        let capacity = capacity.max(1);
        Mailbox {
            queue: Mutex::new(Queue {
                messages: VecDeque::with_capacity(capacity.min(1024)),
                bytes: 0,
                dropped_total: 0,
                dropped_unreported: 0,
                closed: false,
                waiting_since: std::time::Instant::now(),
            }),
            capacity,
            notify,
        }
    }

    /// Adds a message, dropping the oldest while the mailbox is full (in messages or bytes).
    /// Returns how many were dropped. A closed mailbox takes nothing (and reports no drop: nobody is
    /// reading it).
    pub fn push(&self, message: Outgoing) -> u64 {
        let size = message.len() as u64;
        let dropped = {
            let mut queue = self.queue.lock().expect("mailbox lock");
            if queue.closed {
                return 0;
            }
            if queue.is_idle() {
                queue.waiting_since = std::time::Instant::now();
            }
            let mut dropped = 0u64;
            while let Some(oldest) = queue.messages.front() {
                let over_count = queue.messages.len() >= self.capacity;
                let over_bytes = queue.bytes + size > MAILBOX_BYTES_MAX;
                if !(over_count || over_bytes) {
                    break;
                }
                let length = oldest.len() as u64;
                queue.messages.pop_front();
                queue.bytes -= length;
                dropped += 1;
            }
            queue.dropped_total += dropped;
            queue.dropped_unreported += dropped;
            queue.messages.push_back(message);
            queue.bytes += size;
            dropped
        };
        self.notify.notify_one();
        dropped
    }

    /// Counts a message this mailbox did not get (the server's budget was spent while it was
    /// behind), reported with the next batch like a drop.
    pub fn skip(&self) {
        let mut queue = self.queue.lock().expect("mailbox lock");
        if queue.closed {
            return;
        }
        if queue.is_idle() {
            queue.waiting_since = std::time::Instant::now();
        }
        queue.dropped_total += 1;
        queue.dropped_unreported += 1;
        drop(queue);
        self.notify.notify_one();
    }

    /// Whether the mailbox was closed (its subscription ended).
    pub fn is_closed(&self) -> bool {
        self.queue.lock().expect("mailbox lock").closed
    }

    /// Whether messages are waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.lock().expect("mailbox lock").messages.is_empty()
    }

    /// How long messages (or news of dropped ones) have waited without the reader taking any (zero
    /// when nothing waits).
    pub fn stalled_for(&self) -> std::time::Duration {
        let queue = self.queue.lock().expect("mailbox lock");
        if queue.is_idle() { std::time::Duration::ZERO } else { queue.waiting_since.elapsed() }
    }

    /// Closes the mailbox and lets go of what it holds, for a reader that stopped reading: its
    /// messages go back to the budget now rather than when its connection ends.
    pub fn close_and_clear(&self) {
        let mut queue = self.queue.lock().expect("mailbox lock");
        queue.closed = true;
        queue.messages.clear();
        queue.bytes = 0;
        drop(queue);
        self.notify.notify_one();
    }

    /// Whether a push now would drop a message.
    pub fn is_full(&self) -> bool {
        let queue = self.queue.lock().expect("mailbox lock");
        queue.messages.len() >= self.capacity || queue.bytes >= MAILBOX_BYTES_MAX
    }

    /// Moves up to `max` messages into `out` without waiting. `None` once the mailbox is closed and
    /// empty.
    pub fn take(&self, out: &mut Vec<Outgoing>, max: usize) -> Option<Batch> {
        let mut queue = self.queue.lock().expect("mailbox lock");
        if queue.closed && queue.messages.is_empty() {
            return None;
        }
        let count = queue.messages.len().min(max);
        let first = out.len();
        out.extend(queue.messages.drain(..count));
        let taken: u64 = out[first..].iter().map(|message| message.len() as u64).sum();
        queue.bytes -= taken;
        queue.waiting_since = std::time::Instant::now();
        let batch = Batch { dropped: queue.dropped_unreported, dropped_total: queue.dropped_total };
        queue.dropped_unreported = 0;
        Some(batch)
    }

    /// Waits until there is something to take (or a drop to report), then takes up to `max`
    /// messages. `None` once the mailbox is closed and empty.
    pub async fn recv(&self, out: &mut Vec<Outgoing>, max: usize) -> Option<Batch> {
        loop {
            // Registering interest before looking means a push between the look and the wait still
            // wakes us: `notify_one` leaves a permit when nobody waits.
            let notified = self.notify.notified();
            let batch = self.take(out, max)?;
            if !out.is_empty() || batch.dropped > 0 {
                return Some(batch);
            }
            notified.await;
        }
    }

    /// Stops taking messages and wakes the reader, which drains what is left and then sees the end.
    pub fn close(&self) {
        self.queue.lock().expect("mailbox lock").closed = true;
        self.notify.notify_one();
    }

    /// Bytes of messages waiting now.
    pub fn bytes(&self) -> u64 {
        self.queue.lock().expect("mailbox lock").bytes
    }

    /// Messages waiting now.
    pub fn pending(&self) -> usize {
        self.queue.lock().expect("mailbox lock").messages.len()
    }

    /// The most messages it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Messages dropped since the subscription began.
    pub fn dropped_total(&self) -> u64 {
        self.queue.lock().expect("mailbox lock").dropped_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Outgoing {
        BusText::uncharged(value)
    }

    #[test]
    fn a_full_mailbox_drops_its_oldest_message_and_reports_the_count_once() {
        let mailbox = Mailbox::new(2, Arc::new(Notify::new()));
        assert_eq!(mailbox.push(text("1")), 0);
        assert_eq!(mailbox.push(text("2")), 0);
        assert!(mailbox.is_full());
        assert_eq!(mailbox.push(text("3")), 1, "the third push drops the oldest");
        let mut out = Vec::new();
        let batch = mailbox.take(&mut out, 10).unwrap();
        assert_eq!(out.iter().map(|message| &***message).collect::<Vec<_>>(), vec!["2", "3"]);
        assert_eq!(batch, Batch { dropped: 1, dropped_total: 1 });
        out.clear();
        assert_eq!(mailbox.take(&mut out, 10).unwrap(), Batch { dropped: 0, dropped_total: 1 }, "reported once");
    }

    #[test]
    fn a_closed_mailbox_drains_then_ends_and_takes_nothing_new() {
        let mailbox = Mailbox::new(4, Arc::new(Notify::new()));
        mailbox.push(text("1"));
        mailbox.close();
        assert_eq!(mailbox.push(text("2")), 0);
        let mut out = Vec::new();
        assert!(mailbox.take(&mut out, 10).is_some());
        assert_eq!(out.len(), 1);
        assert!(mailbox.take(&mut out, 10).is_none());
    }

    #[test]
    fn the_budget_counts_a_message_once_until_its_last_holder_lets_go() {
        let budget = ByteBudget::new(1 << 20);
        let one = Mailbox::new(10, Arc::new(Notify::new()));
        let two = Mailbox::new(10, Arc::new(Notify::new()));
        let message = BusText::charged("x".repeat(1_000), &budget);
        one.push(Arc::clone(&message));
        two.push(Arc::clone(&message));
        drop(message);
        assert_eq!(budget.used(), 1_000, "held by two mailboxes, counted once");
        let mut out = Vec::new();
        one.take(&mut out, 10);
        out.clear();
        assert_eq!(budget.used(), 1_000, "still held by the second");
        two.close_and_clear();
        assert_eq!(budget.used(), 0, "given back when the last holder lets go");
        assert!(two.take(&mut out, 10).is_none(), "a cleared mailbox is closed");
    }

    #[test]
    fn a_reader_that_takes_nothing_while_messages_or_drops_wait_is_stalled() {
        let mailbox = Mailbox::new(4, Arc::new(Notify::new()));
        assert_eq!(mailbox.stalled_for(), std::time::Duration::ZERO, "nothing waits");
        mailbox.skip();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(mailbox.stalled_for() >= std::time::Duration::from_millis(20), "news of a drop waits");
        let mut out = Vec::new();
        mailbox.take(&mut out, 10);
        assert_eq!(mailbox.stalled_for(), std::time::Duration::ZERO, "taken");
        mailbox.push(text("x"));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(mailbox.stalled_for() >= std::time::Duration::from_millis(20), "a message waits");
        mailbox.take(&mut out, 10);
        std::thread::sleep(std::time::Duration::from_millis(20));
        mailbox.push(text("y"));
        assert!(mailbox.stalled_for() < std::time::Duration::from_millis(20), "an idle stretch is not a stall");
    }

    #[test]
    fn a_mailbox_never_holds_more_than_its_byte_limit() {
        let mailbox = Mailbox::new(1_000, Arc::new(Notify::new()));
        let big: Outgoing = BusText::uncharged("x".repeat(1 << 20));
        for _ in 0..20 {
            mailbox.push(Arc::clone(&big));
        }
        assert_eq!(mailbox.bytes(), MAILBOX_BYTES_MAX);
        assert_eq!(mailbox.dropped_total(), 4);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_push() {
        let mailbox = Arc::new(Mailbox::new(4, Arc::new(Notify::new())));
        let reader = {
            let mailbox = Arc::clone(&mailbox);
            tokio::spawn(async move {
                let mut out = Vec::new();
                mailbox.recv(&mut out, 10).await.map(|_| out)
            })
        };
        tokio::task::yield_now().await;
        mailbox.push(text("hello"));
        let out = reader.await.unwrap().unwrap();
        assert_eq!(&**out[0], "hello");
    }
}
