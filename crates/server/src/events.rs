//! The event hub: recent events for resumable streams, and live fan-out to subscribers.
//!
//! Events are derived from the log, so they are not stored separately: the hub keeps the most recent
//! ones in memory (rebuilt on start from the entries replayed after the newest snapshot) and hands
//! new ones to live subscribers. A subscriber asking for events older than the hub retains gets a
//! clear `events_expired` answer with the oldest sequence still available, never a silent gap.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use colony_core::Event;
use tokio::sync::broadcast;

/// Recent events plus live fan-out.
pub struct EventHub {
    inner: Mutex<Ring>,
    live: broadcast::Sender<Arc<Event>>,
}

struct Ring {
    events: VecDeque<Arc<Event>>,
    capacity: usize,
    /// Every event of every entry at or after this sequence is in `events` (or is yet to come).
    complete_from: u64,
}

/// A subscription: the retained backlog, then live events.
pub struct Subscription {
    /// Events already emitted, in order.
    pub backlog: Vec<Arc<Event>>,
    /// Events emitted from now on.
    pub live: broadcast::Receiver<Arc<Event>>,
}

impl EventHub {
    /// A hub retaining up to `capacity` events, complete from sequence `complete_from`.
    pub fn new(capacity: usize, complete_from: u64) -> EventHub {
        let (live, _) = broadcast::channel(65_536);
        EventHub {
            inner: Mutex::new(Ring { events: VecDeque::with_capacity(capacity.min(1 << 16)), capacity, complete_from }),
            live,
        }
    }

    /// Adds events (in order) and sends them to live subscribers.
    pub fn publish(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let mut ring = self.inner.lock().expect("event hub lock");
        for event in events {
            let event = Arc::new(event);
            if ring.events.len() == ring.capacity
                && let Some(evicted) = ring.events.pop_front()
            {
                ring.complete_from = ring.complete_from.max(evicted.sequence + 1);
            }
            ring.events.push_back(Arc::clone(&event));
            // Sending while holding the ring lock keeps the backlog and the live stream of a new
            // subscriber free of gaps and duplicates. No receiver is not an error.
            let _ = self.live.send(event);
        }
    }

    /// Subscribes from `from_sequence` (inclusive). Fails with the oldest available sequence when
    /// earlier events are no longer retained.
    pub fn subscribe(&self, from_sequence: u64) -> Result<Subscription, u64> {
        let ring = self.inner.lock().expect("event hub lock");
        if from_sequence < ring.complete_from {
            return Err(ring.complete_from);
        }
        let start = ring.events.partition_point(|event| event.sequence < from_sequence);
        let backlog = ring.events.range(start..).cloned().collect();
        Ok(Subscription { backlog, live: self.live.subscribe() })
    }

    /// The oldest sequence from which streams can start.
    pub fn complete_from(&self) -> u64 {
        self.inner.lock().expect("event hub lock").complete_from
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use colony_core::EventKind;

    fn event(sequence: u64) -> Event {
        Event { sequence, index: 0, timestamp_ms: sequence, kind: EventKind::ConfigChanged {} }
    }

    #[test]
    fn subscribers_get_the_backlog_then_live_events_and_old_ones_expire() {
        let hub = EventHub::new(3, 1);
        hub.publish((1..=3).map(event).collect());
        let mut subscription = hub.subscribe(2).unwrap();
        assert_eq!(subscription.backlog.iter().map(|event| event.sequence).collect::<Vec<_>>(), vec![2, 3]);
        hub.publish(vec![event(4)]);
        assert_eq!(subscription.live.try_recv().unwrap().sequence, 4);
        // 1 was evicted to make room for 4.
        assert_eq!(hub.subscribe(1).err(), Some(2));
        assert!(hub.subscribe(2).is_ok());
    }
}
