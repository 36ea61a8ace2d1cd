//! A subscriber's bounded buffer.
//!
//! Publishers never wait for subscribers: a message is pushed into each matching subscriber's
//! mailbox and the publisher moves on. When a mailbox is full the oldest message in it is dropped
//! and counted, so one slow subscriber loses its own oldest messages and slows nobody else. The
//! subscriber learns how many it lost with its next batch.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// A message as it is handed to subscribers: its JSON text, encoded once for all of them.
pub type Outgoing = Arc<str>;

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

impl Mailbox {
    /// A mailbox holding at most `capacity` messages (at least one), waking `notify` on pushes.
    pub fn new(capacity: usize, notify: Arc<Notify>) -> Mailbox {
        let capacity = capacity.max(1);
        Mailbox {
            queue: Mutex::new(Queue {
                messages: VecDeque::with_capacity(capacity.min(1024)),
                dropped_total: 0,
                dropped_unreported: 0,
                closed: false,
            }),
            capacity,
            notify,
        }
    }

    /// Adds a message, dropping the oldest if the mailbox is full. Returns whether one was dropped.
    /// A closed mailbox takes nothing (and reports no drop: nobody is reading it).
    pub fn push(&self, message: Outgoing) -> bool {
        let dropped = {
            let mut queue = self.queue.lock().expect("mailbox lock");
            if queue.closed {
                return false;
            }
            let dropped = queue.messages.len() >= self.capacity;
            if dropped {
                queue.messages.pop_front();
                queue.dropped_total += 1;
                queue.dropped_unreported += 1;
            }
            queue.messages.push_back(message);
            dropped
        };
        self.notify.notify_one();
        dropped
    }

    /// Whether a push now would drop a message.
    pub fn is_full(&self) -> bool {
        self.queue.lock().expect("mailbox lock").messages.len() >= self.capacity
    }

    /// Moves up to `max` messages into `out` without waiting. `None` once the mailbox is closed and
    /// empty.
    pub fn take(&self, out: &mut Vec<Outgoing>, max: usize) -> Option<Batch> {
        let mut queue = self.queue.lock().expect("mailbox lock");
        if queue.closed && queue.messages.is_empty() {
            return None;
        }
        let count = queue.messages.len().min(max);
        out.extend(queue.messages.drain(..count));
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
        let mailbox = Mailbox::new(2, Arc::new(Notify::new()));
        assert!(!mailbox.push(text("1")));
        assert!(!mailbox.push(text("2")));
        assert!(mailbox.is_full());
        assert!(mailbox.push(text("3")), "the third push drops the oldest");
        let mut out = Vec::new();
        let batch = mailbox.take(&mut out, 10).unwrap();
        assert_eq!(out.iter().map(|message| &**message).collect::<Vec<_>>(), vec!["2", "3"]);
        assert_eq!(batch, Batch { dropped: 1, dropped_total: 1 });
        out.clear();
        assert_eq!(mailbox.take(&mut out, 10).unwrap(), Batch { dropped: 0, dropped_total: 1 }, "reported once");
    }

    #[test]
    fn a_closed_mailbox_drains_then_ends_and_takes_nothing_new() {
        let mailbox = Mailbox::new(4, Arc::new(Notify::new()));
        mailbox.push(text("1"));
        mailbox.close();
        assert!(!mailbox.push(text("2")));
        let mut out = Vec::new();
        assert!(mailbox.take(&mut out, 10).is_some());
        assert_eq!(out.len(), 1);
        assert!(mailbox.take(&mut out, 10).is_none());
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
        assert_eq!(&*out[0], "hello");
    }
}
