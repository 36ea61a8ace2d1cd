//! A subscriber's bounded buffer.
//!
//! Publishers never wait for subscribers: a message is pushed into each matching subscriber's
//! mailbox and the publisher moves on. When a mailbox is full the oldest message in it is dropped
//! and counted, so one slow subscriber loses its own oldest messages and slows nobody else. The
//! subscriber learns how many it lost with its next batch.
//!
//! Memory is bounded three ways: a mailbox holds at most its capacity in messages and
//! [`MAILBOX_BYTES_MAX`] in bytes, and all mailboxes of a server together share a [`ByteBudget`].
//! Once the budget is spent, a mailbox that already holds messages makes room for each new one by
//! dropping its oldest, so slow subscribers stop growing while subscribers that keep up (whose
//! mailboxes are empty) are not affected.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// A message as it is handed to subscribers: its JSON text, encoded once for all of them.
pub type Outgoing = Arc<str>;

/// One mailbox holds at most this many bytes of messages, whatever its capacity in messages.
pub const MAILBOX_BYTES_MAX: u64 = 16 << 20;
/// Once the shared budget is spent, a mailbox holding more than this stops growing; one holding
/// less (a subscriber a little behind) is left alone. The budget counts a message once per mailbox
/// holding it, so without this a few idle subscribers of the same traffic could spend it and take
/// every other subscriber's buffer away.
pub const MAILBOX_FAIR_SHARE_BYTES: u64 = 1 << 20;

/// The bytes all mailboxes of a server may hold together before slow subscribers stop growing.
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

    fn spent(&self) -> bool {
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
    budget: Arc<ByteBudget>,
}

struct Queue {
    messages: VecDeque<Outgoing>,
    bytes: u64,
    dropped_total: u64,
    dropped_unreported: u64,
    closed: bool,
}

/// What a reader took from a mailbox.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Messages dropped since the previous batch, because the mailbox was full.
    pub dropped: u64,
    /// Messages dropped since the subscription began.
    pub dropped_total: u64,
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // Whatever nobody read goes back to the budget.
        let bytes = self.queue.get_mut().map_or(0, |queue| queue.bytes);
        self.budget.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Mailbox {
    /// A mailbox holding at most `capacity` messages (at least one), waking `notify` on pushes and
    /// drawing on `budget`.
    pub fn new(capacity: usize, notify: Arc<Notify>, budget: Arc<ByteBudget>) -> Mailbox {
        let capacity = capacity.max(1);
        Mailbox {
            queue: Mutex::new(Queue {
                messages: VecDeque::with_capacity(capacity.min(1024)),
                bytes: 0,
                dropped_total: 0,
                dropped_unreported: 0,
                closed: false,
            }),
            capacity,
            notify,
            budget,
        }
    }

    /// Adds a message, dropping the oldest while the mailbox is full (in messages or bytes, or the
    /// server's budget is spent). Returns how many were dropped. A closed mailbox takes nothing (and
    /// reports no drop: nobody is reading it).
    pub fn push(&self, message: Outgoing) -> u64 {
        let size = message.len() as u64;
        let dropped = {
            let mut queue = self.queue.lock().expect("mailbox lock");
            if queue.closed {
                return 0;
            }
            let budget_spent = self.budget.spent();
            let mut dropped = 0u64;
            let mut freed = 0u64;
            while let Some(oldest) = queue.messages.front() {
                let over_count = queue.messages.len() >= self.capacity;
                let over_bytes = queue.bytes + size > MAILBOX_BYTES_MAX;
                // With the budget spent, this mailbox may not grow: it frees at least what it adds.
                let over_budget = budget_spent && queue.bytes > MAILBOX_FAIR_SHARE_BYTES && freed < size;
                if !(over_count || over_bytes || over_budget) {
                    break;
                }
                let length = oldest.len() as u64;
                queue.messages.pop_front();
                queue.bytes -= length;
                freed += length;
                dropped += 1;
            }
            queue.dropped_total += dropped;
            queue.dropped_unreported += dropped;
            queue.messages.push_back(message);
            queue.bytes += size;
            self.budget.used.fetch_add(size, Ordering::Relaxed);
            self.budget.used.fetch_sub(freed, Ordering::Relaxed);
            dropped
        };
        self.notify.notify_one();
        dropped
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
        self.budget.used.fetch_sub(taken, Ordering::Relaxed);
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
        Arc::from(value)
    }

    #[test]
    fn a_full_mailbox_drops_its_oldest_message_and_reports_the_count_once() {
        let mailbox = Mailbox::new(2, Arc::new(Notify::new()), ByteBudget::new(u64::MAX));
        assert_eq!(mailbox.push(text("1")), 0);
        assert_eq!(mailbox.push(text("2")), 0);
        assert!(mailbox.is_full());
        assert_eq!(mailbox.push(text("3")), 1, "the third push drops the oldest");
        let mut out = Vec::new();
        let batch = mailbox.take(&mut out, 10).unwrap();
        assert_eq!(out.iter().map(|message| &**message).collect::<Vec<_>>(), vec!["2", "3"]);
        assert_eq!(batch, Batch { dropped: 1, dropped_total: 1 });
        out.clear();
        assert_eq!(mailbox.take(&mut out, 10).unwrap(), Batch { dropped: 0, dropped_total: 1 }, "reported once");
    }

    #[test]
    fn a_closed_mailbox_drains_then_ends_and_takes_nothing_new() {
        let mailbox = Mailbox::new(4, Arc::new(Notify::new()), ByteBudget::new(u64::MAX));
        mailbox.push(text("1"));
        mailbox.close();
        assert_eq!(mailbox.push(text("2")), 0);
        let mut out = Vec::new();
        assert!(mailbox.take(&mut out, 10).is_some());
        assert_eq!(out.len(), 1);
        assert!(mailbox.take(&mut out, 10).is_none());
    }

    #[test]
    fn a_spent_budget_stops_large_mailboxes_growing_but_not_small_ones() {
        let chunk: Outgoing = Arc::from("x".repeat(256 << 10).as_str());
        let budget = ByteBudget::new(2 << 20);
        let slow = Mailbox::new(1_000, Arc::new(Notify::new()), Arc::clone(&budget));
        let behind = Mailbox::new(1_000, Arc::new(Notify::new()), Arc::clone(&budget));
        for _ in 0..8 {
            assert_eq!(slow.push(Arc::clone(&chunk)), 0);
        }
        assert_eq!(budget.used(), 2 << 20, "the budget is spent");
        // Past its fair share, the slow mailbox now replaces its oldest message with each new one.
        assert_eq!(slow.push(Arc::clone(&chunk)), 1);
        assert_eq!((slow.pending(), budget.used()), (8, 2 << 20));
        // A subscriber a few messages behind keeps its backlog and gives it back when it reads.
        for _ in 0..3 {
            assert_eq!(behind.push(Arc::clone(&chunk)), 0);
        }
        let mut out = Vec::new();
        behind.take(&mut out, 10);
        assert_eq!(out.len(), 3);
        assert_eq!(budget.used(), 2 << 20);
        drop(slow);
        assert_eq!(budget.used(), 0, "a dropped mailbox returns its bytes");
    }

    #[test]
    fn a_mailbox_never_holds_more_than_its_byte_limit() {
        let mailbox = Mailbox::new(1_000, Arc::new(Notify::new()), ByteBudget::new(u64::MAX));
        let big: Outgoing = Arc::from("x".repeat(1 << 20).as_str());
        for _ in 0..20 {
            mailbox.push(Arc::clone(&big));
        }
        assert_eq!(mailbox.bytes(), MAILBOX_BYTES_MAX);
        assert_eq!(mailbox.dropped_total(), 4);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_push() {
        let mailbox = Arc::new(Mailbox::new(4, Arc::new(Notify::new()), ByteBudget::new(u64::MAX)));
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
        assert_eq!(&*out[0], "hello");
    }
}
