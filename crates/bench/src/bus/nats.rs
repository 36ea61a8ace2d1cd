//! The reference: NATS core (nats-server on 127.0.0.1:4222) through `async-nats`, with the same
//! payloads, fan-out shapes, credit window and pacing as the Colony measurements.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::{Client, ConnectOptions, Event, Subject};
use futures_util::StreamExt as _;

use super::{
    CREDIT_WINDOW, Credit, FanOut, MEASUREMENT_LIMIT, MonotonicClock, PUBLISH_BATCH, Paced, Pacer, SUBJECT, payload,
    sent_ns,
};
use crate::fixture::{Measurement, TaskTally};

/// Where the NATS server is expected.
pub const ADDRESS: &str = "127.0.0.1:4222";

/// How long the reachability check waits for a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Messages a subscription buffers in the client before the client drops them as a slow consumer
/// (async-nats' default).
const SUBSCRIPTION_CAPACITY: usize = 64 * 1024;

/// Whether something accepts TCP connections at [`ADDRESS`]; the reason when not.
pub fn reachable() -> Result<(), String> {
    reachable_at(ADDRESS)
}

/// Whether something accepts TCP connections at `address` (`host:port`); the reason when not.
fn reachable_at(address: &str) -> Result<(), String> {
    let address = address.parse().map_err(|error| format!("{address}: {error}"))?;
    std::net::TcpStream::connect_timeout(&address, CONNECT_TIMEOUT).map(drop).map_err(|error| error.to_string())
}

/// A connection that counts the messages the client dropped as a slow consumer into `dropped`.
async fn connect(dropped: &Arc<AtomicU64>) -> Result<Client, String> {
    let dropped = Arc::clone(dropped);
    ConnectOptions::new()
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        .event_callback(move |event| {
            let dropped = Arc::clone(&dropped);
            async move {
                if let Event::SlowConsumer(_) = event {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .connect(ADDRESS)
        .await
        .map_err(|error| format!("connecting to NATS at {ADDRESS}: {error}"))
}

/// A subject no other run uses, so that concurrent runs do not see each other's messages.
fn unique_subject() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_nanos());
    format!("{SUBJECT}.{}.{nanos}", std::process::id())
}

/// Publishes `messages` messages from one connection to `subscribers` subscriber connections.
pub async fn fan_out(subscribers: usize, messages: u64) -> Result<FanOut, String> {
    let subject = unique_subject();
    let slow_consumer_events = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + MEASUREMENT_LIMIT;
    let credit = Credit::new(subscribers);

    let mut readers = Vec::with_capacity(subscribers);
    for index in 0..subscribers {
        let client = connect(&slow_consumer_events).await?;
        let mut subscription =
            client.subscribe(subject.clone()).await.map_err(|error| format!("subscribing: {error}"))?;
        // The flush's round trip means the server has processed the subscription.
        client.flush().await.map_err(|error| format!("flushing the subscription: {error}"))?;
        let credit = Arc::clone(&credit);
        readers.push(tokio::spawn(async move {
            let mut delivered = 0u64;
            while delivered < messages {
                let remaining = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(remaining, subscription.next()).await {
                    Ok(Some(message)) => {
                        std::hint::black_box(message.payload.len());
                        delivered += 1;
                        credit.add(index, 1);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            drop(client);
            (delivered, Instant::now())
        }));
    }

    let publisher = connect(&slow_consumer_events).await?;
    let body = bytes::Bytes::from(payload(0));
    let subject: Subject = subject.into();
    let started = Instant::now();
    let mut published = 0u64;
    let mut publishing = Duration::ZERO;
    while published < messages {
        let batch = (PUBLISH_BATCH as u64).min(messages - published);
        credit.wait_for_room(published + batch, CREDIT_WINDOW, deadline).await?;
        let handing = Instant::now();
        for _ in 0..batch {
            publisher.publish(subject.clone(), body.clone()).await.map_err(|error| format!("publishing: {error}"))?;
        }
        publishing += handing.elapsed();
        published += batch;
    }
    let mut delivered = 0;
    let mut finished = started;
    for reader in readers {
        let (count, at) = reader.await.map_err(|error| format!("subscriber task: {error}"))?;
        delivered += count;
        finished = finished.max(at);
    }
    let expected = published * subscribers as u64;
    let fan_out = FanOut {
        subscribers,
        published,
        delivered,
        // NATS reports no counts of what it dropped: what did not arrive was dropped (by the client as a
        // slow consumer, or by the server).
        dropped: expected - delivered.min(expected),
        elapsed: finished - started,
        publishing,
    };
    if delivered < expected {
        return Err(format!(
            "NATS, 1 → {subscribers}: messages went missing ({} slow-consumer events): {}",
            slow_consumer_events.load(Ordering::Relaxed),
            fan_out.counts()
        ));
    }
    Ok(fan_out)
}

/// Publishes `total` messages at the paced rate to one subscriber and records publish → deliver
/// latencies.
pub async fn paced(total: u64) -> Result<Paced, String> {
    let subject = unique_subject();
    let slow_consumer_events = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + MEASUREMENT_LIMIT;
    let clock = MonotonicClock::new();

    let client = connect(&slow_consumer_events).await?;
    let mut subscription = client.subscribe(subject.clone()).await.map_err(|error| format!("subscribing: {error}"))?;
    client.flush().await.map_err(|error| format!("flushing the subscription: {error}"))?;
    let reader = tokio::spawn(async move {
        let mut tally = TaskTally::default();
        tally.latencies_us.reserve(total as usize);
        while tally.commands < total {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let message = match tokio::time::timeout(remaining, subscription.next()).await {
                Ok(Some(message)) => message,
                Ok(None) | Err(_) => break,
            };
            let arrived_ns = clock.now_ns();
            let sent = sent_ns(&message.payload).ok_or("a message without its send time")?;
            tally.success(Duration::from_nanos(arrived_ns.saturating_sub(sent)), 1);
        }
        drop(client);
        Ok::<_, String>((tally, Instant::now()))
    });

    let publisher = connect(&slow_consumer_events).await?;
    let subject: Subject = subject.into();
    let started = Instant::now();
    let mut pacer = Pacer::new(super::PACED_RATE, total);
    while !pacer.finished() && Instant::now() < deadline {
        let due = pacer.due(PUBLISH_BATCH as u64).await;
        let body = bytes::Bytes::from(payload(clock.now_ns()));
        for _ in 0..due {
            publisher.publish(subject.clone(), body.clone()).await.map_err(|error| format!("publishing: {error}"))?;
        }
        pacer.sent += due;
    }
    let (tally, finished) = reader.await.map_err(|error| format!("subscriber task: {error}"))??;
    let delivered = tally.commands;
    Ok(Paced {
        published: pacer.sent,
        delivered,
        dropped: pacer.sent - delivered.min(pacer.sent),
        elapsed: finished - started,
        latencies: Measurement::from_tallies(finished - started, vec![tally]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_server_is_a_reason_to_skip_not_an_error() {
        // Port 1 (tcpmux) has no listener on a development machine: the connection is refused.
        let reason = reachable_at("127.0.0.1:1").expect_err("something answers on 127.0.0.1:1");
        assert!(!reason.is_empty());
    }
}
