//! Fan-out inside the process: `SubjectRouter::publish` of a running server's bus, with messages
//! encoded before the clock starts, and one consumer task per subscriber draining its mailbox
//! meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use colony_core::Signer;
use colony_core::bus::{Pattern, Subject};
use colony_server::bus::router::BUFFER_MESSAGES_DEFAULT;
use colony_server::bus::{BusText, EphemeralBus, Outgoing, SubscribeRequest, Transport};
use colony_wire::bus::{BusMessage, EphemeralPublish};
use serde_json::value::RawValue;
use tokio::sync::Notify;

use super::{CREDIT_WINDOW, Credit, FanOut, MEASUREMENT_LIMIT, PUBLISH_BATCH, SUBJECT, payload};

/// Distinct encoded messages the publisher cycles through (more than the credit window, so a
/// subscriber's buffer never holds the same message twice).
const POOL_MESSAGES: usize = 4_096;

/// Messages a consumer takes from its mailbox at once (what a WebSocket writer takes).
const TAKE_MESSAGES: usize = 256;

/// Encoded messages as `EphemeralBus::publish` would hand them to the router.
fn encoded_pool() -> Vec<Outgoing> {
    (0..POOL_MESSAGES)
        .map(|index| {
            let content = EphemeralPublish {
                subject: SUBJECT.to_owned(),
                payload: Some(RawValue::from_string(payload(index as u64)).expect("payloads are JSON")),
                ..EphemeralPublish::default()
            };
            let message = BusMessage::new(format!("bench-{index}"), 0, &Signer::Operator, content);
            BusText::uncharged(serde_json::to_string(&message).expect("messages encode"))
        })
        .collect()
}

/// Publishes `messages` messages to `subscribers` subscribers of `bus` and measures deliveries.
pub async fn fan_out(bus: Arc<EphemeralBus>, subscribers: usize, messages: u64) -> Result<FanOut, String> {
    let router = Arc::clone(&bus.router);
    let subject = Subject::new(SUBJECT).expect("a valid subject");
    let pool = encoded_pool();
    let credit = Credit::new(subscribers);
    let dropped_before = router.stats().dropped;
    let deadline = Instant::now() + MEASUREMENT_LIMIT;

    let mut consumers = Vec::with_capacity(subscribers);
    for index in 0..subscribers {
        let handle = router
            .subscribe(
                SubscribeRequest {
                    owner: Some(Signer::Operator),
                    pattern: Pattern::new(SUBJECT).expect("a valid pattern"),
                    queue: None,
                    buffer_messages: BUFFER_MESSAGES_DEFAULT,
                    transport: Transport::InProcess,
                },
                Arc::new(Notify::new()),
            )
            .map_err(|problem| format!("subscribing: {}", problem.detail))?;
        let credit = Arc::clone(&credit);
        consumers.push(tokio::spawn(async move {
            let mut taken: Vec<Outgoing> = Vec::with_capacity(TAKE_MESSAGES);
            let (mut delivered, mut dropped) = (0u64, 0u64);
            while delivered + dropped < messages {
                let remaining = deadline.saturating_duration_since(Instant::now());
                let batch = match tokio::time::timeout(
                    remaining,
                    handle.subscriber().mailbox().recv(&mut taken, TAKE_MESSAGES),
                )
                .await
                {
                    Ok(Some(batch)) => batch,
                    Ok(None) | Err(_) => break,
                };
                let count = taken.len() as u64;
                // Touch each message as a reader would (its length), so that nothing is optimised away.
                let bytes: usize = taken.iter().map(|message| message.len()).sum();
                std::hint::black_box(bytes);
                taken.clear();
                delivered += count;
                dropped += batch.dropped;
                credit.add(index, count + batch.dropped);
            }
            (delivered, dropped, Instant::now())
        }));
    }

    let started = Instant::now();
    let publisher = {
        let credit = Arc::clone(&credit);
        tokio::spawn(async move {
            let mut published = 0u64;
            let mut publishing = Duration::ZERO;
            while published < messages {
                let batch = (PUBLISH_BATCH as u64).min(messages - published);
                credit.wait_for_room(published + batch, CREDIT_WINDOW, deadline).await?;
                let handing = Instant::now();
                for offset in 0..batch {
                    router.publish(&subject, &pool[((published + offset) as usize) % pool.len()]);
                }
                publishing += handing.elapsed();
                published += batch;
                // Let consumers that share this worker thread run between batches.
                tokio::task::yield_now().await;
            }
            Ok::<(u64, Duration), String>((published, publishing))
        })
    };
    let (published, publishing) = publisher.await.map_err(|error| format!("publisher task: {error}"))??;
    let mut delivered = 0;
    let mut dropped = 0;
    let mut finished = started;
    for consumer in consumers {
        let (count, lost, at) = consumer.await.map_err(|error| format!("consumer task: {error}"))?;
        delivered += count;
        dropped += lost;
        finished = finished.max(at);
    }
    let counted_dropped = bus.router.stats().dropped - dropped_before;
    let fan_out = FanOut {
        subscribers,
        published,
        delivered,
        dropped: dropped.max(counted_dropped),
        elapsed: finished - started,
        publishing,
    };
    if delivered + dropped < published * subscribers as u64 {
        return Err(format!("in process, 1 → {subscribers}: messages went missing: {}", fan_out.counts()));
    }
    Ok(fan_out)
}
