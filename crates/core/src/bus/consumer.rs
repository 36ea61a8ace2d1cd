//! Pull consumers: a cursor over a stream, the deliveries it has handed out, and the JetStream ack
//! vocabulary (ack, nak, in-progress, term) with ack waits, backoff, and a bound on redeliveries.
//!
//! A delivery is pending from its fetch until it is acked, terminated or dead-lettered. While held, it
//! has an ack deadline in the bus's index; when the deadline passes (log time) the message becomes
//! due for redelivery, or, if it was delivered `max_deliver` times, it moves to the stream's dead
//! letters. A nak makes it due after a delay. So every message the consumer reaches is, eventually,
//! acked or dead-lettered: at-least-once delivery, as long as the message stays in the stream.
//!
//! Everything before the cursor that is not pending is done (acked, terminated, dead-lettered, or not
//! matching the filter), so the ack floor is derived rather than stored.

use crate::outcome::BusRejection;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::dead_letter::DeadLetterReason;
use super::stream::{StoredMessage, Stream};
use super::subject::Pattern;
use crate::event::EventKind;
use crate::ids::{AgentId, Name, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, State};

/// The last error recorded when an ack deadline passes.
pub const ACK_WAIT_EXPIRED: &str = "ack wait expired";

/// Where a new consumer starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliverPolicy {
    /// From the oldest stored message.
    #[default]
    All,
    /// From the next message published.
    New,
    /// From this stream sequence.
    FromSequence(#[schemars(range(min = 1))] u64),
    /// From the first message stored at or after this log time.
    FromTimeMs(u64),
}

/// How a delivery is acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AckKind {
    /// Done: never deliver it again.
    Ack,
    /// Not done: deliver it again after `delay_ms` (dead-lettered if this was the last delivery).
    Nak {
        /// How long to wait before redelivering.
        #[serde(default)]
        #[schemars(range(max = limits::ACK_WAIT_MS_MAX))]
        delay_ms: u64,
        /// What went wrong, kept as the delivery's last error.
        #[serde(default)]
        #[schemars(length(max = limits::REASON_BYTES_MAX))]
        error: Option<String>,
    },
    /// Still working: the ack deadline restarts.
    InProgress,
    /// Never deliver it again: move it to the dead letters now.
    Term {
        /// Why, kept on the dead letter.
        #[serde(default)]
        #[schemars(length(max = limits::REASON_BYTES_MAX))]
        reason: Option<String>,
    },
}

impl AckKind {
    fn action(&self) -> &'static str {
        match self {
            AckKind::Ack => "be acked",
            AckKind::Nak { .. } => "be nakked",
            AckKind::InProgress => "be marked in progress",
            AckKind::Term { .. } => "be terminated",
        }
    }
}

/// A consumer's configuration, fixed at creation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConsumerConfig {
    /// Only messages whose subject matches, if set.
    pub filter: Option<Pattern>,
    /// Where delivery started.
    pub deliver: DeliverPolicy,
    /// How long a delivery is held unless acked.
    pub ack_wait_ms: u64,
    /// Deliveries of one message at most.
    pub max_deliver: u32,
    /// Per-delivery ack waits (JetStream `BackOff`), if set.
    pub backoff_ms: Vec<u64>,
    /// Pending deliveries at most.
    pub max_ack_pending: u32,
    /// Agents that may fetch from the consumer (and so hold and settle its deliveries) besides its
    /// creator, the stream's owner and the operator.
    #[serde(default)]
    pub agents: BTreeSet<AgentId>,
    /// Roles whose agents may fetch from the consumer.
    #[serde(default)]
    pub roles: BTreeSet<Name>,
}

impl ConsumerConfig {
    /// The ack wait of the `delivery_count`-th delivery (from 1): `backoff_ms[min(n - 1, len - 1)]`,
    /// or `ack_wait_ms` without a backoff.
    pub fn ack_wait_for(&self, delivery_count: u32) -> u64 {
        match self.backoff_ms.len() {
            0 => self.ack_wait_ms,
            steps => {
                let index = (delivery_count.max(1) as usize - 1).min(steps - 1);
                self.backoff_ms[index]
            }
        }
    }

    fn validate(&self, stream: &Stream) -> Result<(), Rejection> {
        if let Some(filter) = &self.filter
            && !stream.config.subjects.iter().any(|pattern| pattern.overlaps(filter))
        {
            return Err(Rejection::invalid("filter", "matches no subject the stream captures"));
        }
        let wait_range = limits::ACK_WAIT_MS_MIN..=limits::ACK_WAIT_MS_MAX;
        let wait_reason =
            || format!("must be between {} and {} milliseconds", limits::ACK_WAIT_MS_MIN, limits::ACK_WAIT_MS_MAX);
        if !wait_range.contains(&self.ack_wait_ms) {
            return Err(Rejection::invalid("ack_wait_ms", wait_reason()));
        }
        if self.backoff_ms.len() > limits::BACKOFF_STEPS_MAX {
            return Err(Rejection::LimitReached { limit: "backoff_steps", max: limits::BACKOFF_STEPS_MAX as u64 });
        }
        if self.backoff_ms.iter().any(|step| !wait_range.contains(step)) {
            return Err(Rejection::invalid("backoff_ms", format!("steps {}", wait_reason())));
        }
        if !(1..=limits::MAX_DELIVER_MAX).contains(&self.max_deliver) {
            return Err(Rejection::invalid(
                "max_deliver",
                format!("must be between 1 and {}", limits::MAX_DELIVER_MAX),
            ));
        }
        if !(1..=limits::MAX_ACK_PENDING_MAX).contains(&self.max_ack_pending) {
            return Err(Rejection::invalid(
                "max_ack_pending",
                format!("must be between 1 and {}", limits::MAX_ACK_PENDING_MAX),
            ));
        }
        if let DeliverPolicy::FromSequence(0) = self.deliver {
            return Err(Rejection::invalid("deliver", "sequences start at 1"));
        }
        if self.agents.len() + self.roles.len() > limits::CONSUMER_MEMBERS_MAX {
            return Err(Rejection::LimitReached {
                limit: "consumer_members",
                max: limits::CONSUMER_MEMBERS_MAX as u64,
            });
        }
        Ok(())
    }
}

impl Consumer {
    /// Whether `signer` may fetch from this consumer of `stream` (its role looked up in `registry`):
    /// the operator, the consumer's creator, the stream's owner, and the agents and roles it names.
    /// A consumer shares work among those who fetch from it, so an agent outside that list taking
    /// deliveries would take work, and the power to hold or drop it, from those it was meant for.
    pub(crate) fn may_fetch(&self, stream: &Stream, signer: &Signer, registry: &crate::registry::Registry) -> bool {
        let Signer::Agent(agent) = signer else { return true };
        *signer == self.creator
            || *signer == stream.owner
            || self.config.agents.contains(agent)
            || registry.get(agent).is_some_and(|record| self.config.roles.contains(&record.role))
    }
}

/// A delivery not yet done with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Who the last delivery went to.
    pub holder: Signer,
    /// How many times it was delivered.
    pub delivery_count: u32,
    /// While held: when it is redelivered unless acked. `None` while waiting for redelivery.
    pub ack_deadline_ms: Option<u64>,
    /// While waiting: the earliest log time it is redelivered.
    pub redeliver_at_ms: u64,
    /// The last error (a nak's, or an expired ack wait).
    pub last_error: Option<String>,
}

/// A pull consumer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    /// Its name, unique in its stream.
    pub name: Name,
    /// Who created it.
    pub creator: Signer,
    /// Its configuration.
    pub config: ConsumerConfig,
    /// When it was created.
    pub created_at_ms: u64,
    /// The next stream sequence to consider for a first delivery.
    pub(crate) cursor: u64,
    /// Deliveries not yet done with, by stream sequence.
    pub(crate) pending: BTreeMap<u64, Pending>,
    pub(crate) delivered_total: u64,
    pub(crate) redelivered_total: u64,
    pub(crate) acked_total: u64,
    pub(crate) dead_lettered_total: u64,
}

impl Consumer {
    /// The next stream sequence considered for a first delivery.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Whether a fetch at log time `now_ms` would deliver anything: a redelivery that is due, or a
    /// stored message past the cursor that matches the filter while fewer than `max_ack_pending`
    /// deliveries are outstanding. It mirrors the selection of `consumer.fetch` without changing
    /// anything, so that the server can hold a waiting fetch until there is something to fetch.
    pub fn has_due(&self, stream: &super::Stream, now_ms: u64) -> bool {
        // A held delivery whose ack deadline passed is due too: the entry carrying the fetch expires
        // it first.
        let due = |pending: &Pending| match pending.ack_deadline_ms {
            None => pending.redeliver_at_ms <= now_ms,
            Some(deadline_ms) => deadline_ms < now_ms,
        };
        if self.pending.values().any(due) {
            return true;
        }
        if self.pending.len() >= self.config.max_ack_pending as usize {
            return false;
        }
        // A fetch moves the cursor over at most FETCH_SCAN_MAX messages it skips; when that many
        // lie ahead, a fetch makes progress even if none of them matches, so it is worth sending.
        let mut ahead = stream.messages.range(self.cursor..);
        for _ in 0..limits::FETCH_SCAN_MAX {
            match ahead.next() {
                None => return false,
                Some((_, message)) => {
                    if self.config.filter.as_ref().is_none_or(|filter| filter.matches(&message.subject)) {
                        return true;
                    }
                }
            }
        }
        true
    }

    /// Every sequence up to this one is done with (acked, dead-lettered, filtered out or evicted).
    pub fn ack_floor(&self) -> u64 {
        self.pending.keys().next().map_or(self.cursor, |first| *first) - 1
    }

    /// Deliveries not yet done with, by stream sequence.
    pub fn pending(&self) -> &BTreeMap<u64, Pending> {
        &self.pending
    }

    /// Held deliveries per holder.
    pub fn pending_by_holder(&self) -> BTreeMap<Signer, u64> {
        let mut by_holder = BTreeMap::new();
        for pending in self.pending.values().filter(|pending| pending.ack_deadline_ms.is_some()) {
            *by_holder.entry(pending.holder.clone()).or_insert(0) += 1;
        }
        by_holder
    }

    /// Deliveries handed out, first deliveries and redeliveries.
    pub fn delivered_total(&self) -> u64 {
        self.delivered_total
    }

    /// Redeliveries handed out.
    pub fn redelivered_total(&self) -> u64 {
        self.redelivered_total
    }

    /// Messages acked.
    pub fn acked_total(&self) -> u64 {
        self.acked_total
    }

    /// Messages dead-lettered.
    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered_total
    }

    /// Removes every held deadline of this consumer from the index (the consumer is going away).
    pub(crate) fn unindex_all(&self, stream: &Name, ack_deadlines: &mut BTreeSet<(u64, Name, Name, u64)>) {
        for (sequence, pending) in &self.pending {
            if let Some(deadline_ms) = pending.ack_deadline_ms {
                let removed = ack_deadlines.remove(&(deadline_ms, stream.clone(), self.name.clone(), *sequence));
                assert!(removed, "a held delivery's deadline is indexed");
            }
        }
    }

    /// Checks the consumer against its stream, collecting its held deadlines into `ack_deadlines`.
    pub(crate) fn check_invariants(
        &self,
        stream: &Stream,
        ack_deadlines: &mut BTreeSet<(u64, Name, Name, u64)>,
    ) -> Result<(), String> {
        if self.cursor == 0 || self.cursor > stream.last_sequence() + 1 {
            return Err(format!("cursor {} is outside the stream", self.cursor));
        }
        if self.pending.len() > self.config.max_ack_pending as usize {
            return Err("more pending deliveries than max_ack_pending".to_owned());
        }
        for (sequence, pending) in &self.pending {
            if *sequence >= self.cursor {
                return Err(format!("sequence {sequence} is pending but at or after the cursor"));
            }
            if stream.message(*sequence).is_none() {
                return Err(format!("sequence {sequence} is pending but not stored"));
            }
            if pending.delivery_count == 0 || pending.delivery_count > self.config.max_deliver {
                return Err(format!("sequence {sequence} was delivered {} times", pending.delivery_count));
            }
            match pending.ack_deadline_ms {
                Some(deadline_ms) => {
                    ack_deadlines.insert((deadline_ms, stream.name.clone(), self.name.clone(), *sequence));
                }
                None if pending.delivery_count >= self.config.max_deliver => {
                    return Err(format!("sequence {sequence} waits for a delivery beyond max_deliver"));
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// One message handed out by a fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The stream sequence (what acks name).
    pub sequence: u64,
    /// Which delivery of this message this is, from 1.
    pub delivery_count: u32,
    /// When it is redelivered unless acked.
    pub ack_deadline_ms: u64,
    /// The message.
    pub message: StoredMessage,
}

/// A consumer creation, as carried by `consumer.create`.
pub(crate) struct ConsumerRequest<'a> {
    pub stream: &'a Name,
    pub name: &'a Name,
    pub config: ConsumerConfig,
}

impl State {
    fn consumer_for_command(&self, stream: &Name, consumer: &Name) -> Result<(&Stream, &Consumer), Rejection> {
        let found = self.stream_for_command(stream)?;
        let consumer = found.consumers.get(consumer).ok_or_else(|| {
            Rejection::Bus(BusRejection::ConsumerNotFound { stream: stream.clone(), consumer: consumer.clone() })
        })?;
        Ok((found, consumer))
    }

    /// `consumer.create`.
    pub(crate) fn create_consumer(&mut self, context: &mut Context, request: ConsumerRequest<'_>) -> CommandResult {
        let stream = self.stream_for_command(request.stream)?;
        if let Some(existing) = stream.consumers.get(request.name) {
            return if existing.config == request.config {
                Ok(Accepted::Unchanged)
            } else {
                Err(Rejection::Bus(BusRejection::ConsumerConflict {
                    stream: request.stream.clone(),
                    consumer: request.name.clone(),
                }))
            };
        }
        request.config.validate(stream)?;
        if stream.consumers.len() >= limits::CONSUMERS_PER_STREAM_MAX {
            return Err(Rejection::LimitReached {
                limit: "consumers_per_stream",
                max: limits::CONSUMERS_PER_STREAM_MAX as u64,
            });
        }
        let next = stream.last_sequence() + 1;
        let cursor = match request.config.deliver {
            DeliverPolicy::All => 1,
            DeliverPolicy::New => next,
            DeliverPolicy::FromSequence(sequence) => sequence.min(next),
            DeliverPolicy::FromTimeMs(time_ms) => stream
                .messages_from(1)
                .find(|message| message.published_at_ms >= time_ms)
                .map_or(next, |message| message.sequence),
        };
        let consumer = Consumer {
            name: request.name.clone(),
            creator: context.signer().clone(),
            config: request.config,
            created_at_ms: context.now_ms,
            cursor,
            pending: BTreeMap::new(),
            delivered_total: 0,
            redelivered_total: 0,
            acked_total: 0,
            dead_lettered_total: 0,
        };
        let stream = self.bus.streams.get_mut(request.stream).expect("found above");
        stream.consumers.insert(request.name.clone(), consumer);
        context.emit(EventKind::ConsumerCreated {
            stream: request.stream.clone(),
            consumer: request.name.clone(),
            by: context.signer().clone(),
        });
        Ok(Accepted::Done)
    }

    /// `consumer.delete`.
    pub(crate) fn delete_consumer(&mut self, context: &mut Context, stream_name: &Name, name: &Name) -> CommandResult {
        let (stream, consumer) = self.consumer_for_command(stream_name, name)?;
        let allowed = *context.signer() == Signer::Operator
            || *context.signer() == stream.owner
            || *context.signer() == consumer.creator;
        if !allowed {
            return Err(Rejection::Unauthorized {
                reason: "only the consumer's creator, the stream's owner or the operator deletes a consumer",
            });
        }
        let stream = self.bus.streams.get_mut(stream_name).expect("found above");
        let consumer = stream.consumers.remove(name).expect("found above");
        consumer.unindex_all(stream_name, &mut self.bus.ack_deadlines);
        context.emit(EventKind::ConsumerDeleted {
            stream: stream_name.clone(),
            consumer: name.clone(),
            by: context.signer().clone(),
        });
        Ok(Accepted::Done)
    }

    /// `consumer.fetch`: due redeliveries (lowest sequence first), then new messages from the cursor
    /// that match the filter, never beyond `max_ack_pending` pending deliveries.
    pub(crate) fn fetch(
        &mut self,
        context: &mut Context,
        stream_name: &Name,
        name: &Name,
        batch: u32,
        max_bytes: Option<u64>,
    ) -> CommandResult {
        if !(1..=limits::FETCH_BATCH_MAX).contains(&batch) {
            return Err(Rejection::invalid("batch", format!("must be between 1 and {}", limits::FETCH_BATCH_MAX)));
        }
        if max_bytes == Some(0) {
            return Err(Rejection::invalid("max_bytes", "must be at least 1"));
        }
        let (stream, consumer) = self.consumer_for_command(stream_name, name)?;
        if !consumer.may_fetch(stream, context.signer(), &self.registry) {
            return Err(Rejection::Unauthorized {
                reason: "only the consumer's creator, the stream's owner, the operator and the agents and roles the \
                         consumer names may fetch from it",
            });
        }
        let now_ms = context.now_ms;
        let holder = context.signer().clone();
        let bus = &mut self.bus;
        let stream = bus.streams.get_mut(stream_name).expect("found above");
        let consumer = stream.consumers.get_mut(name).expect("found above");
        let batch = batch as usize;
        let mut deliveries = Vec::new();
        // What this fetch may return: its own `max_bytes` and what the envelope has left, but at
        // least one message while the envelope has any budget, so that a large message never blocks
        // a consumer. Messages left out stay where they are, for the next fetch.
        let bytes_max = max_bytes.unwrap_or(u64::MAX).min(context.fetch_bytes_left);
        let mut bytes = 0u64;
        let room_for = |deliveries: &Vec<Delivery>, bytes: u64, size: u64| {
            if deliveries.is_empty() { bytes_max > 0 } else { bytes.saturating_add(size) <= bytes_max }
        };

        let due: Vec<u64> = consumer
            .pending
            .iter()
            .filter(|(_, pending)| pending.ack_deadline_ms.is_none() && pending.redeliver_at_ms <= now_ms)
            .map(|(sequence, _)| *sequence)
            .take(batch)
            .collect();
        let mut bytes_limited = false;
        for sequence in due {
            let size = stream.messages.get(&sequence).expect("pending deliveries are of stored messages").size_bytes();
            if !room_for(&deliveries, bytes, size) {
                bytes_limited = true;
                break;
            }
            bytes += size;
            let pending = consumer.pending.get_mut(&sequence).expect("just listed");
            pending.delivery_count += 1;
            let deadline_ms = now_ms.saturating_add(consumer.config.ack_wait_for(pending.delivery_count));
            pending.ack_deadline_ms = Some(deadline_ms);
            pending.holder = holder.clone();
            bus.ack_deadlines.insert((deadline_ms, stream_name.clone(), name.clone(), sequence));
            consumer.delivered_total += 1;
            consumer.redelivered_total += 1;
            let message = stream.messages.get(&sequence).expect("pending deliveries are of stored messages").clone();
            deliveries.push(Delivery {
                sequence,
                delivery_count: pending.delivery_count,
                ack_deadline_ms: deadline_ms,
                message,
            });
        }

        let mut exhausted = true;
        for (examined, (sequence, message)) in stream.messages.range(consumer.cursor..).enumerate() {
            if bytes_limited
                || deliveries.len() >= batch
                || consumer.pending.len() >= consumer.config.max_ack_pending as usize
                || examined >= limits::FETCH_SCAN_MAX
            {
                exhausted = false;
                break;
            }
            if consumer.config.filter.as_ref().is_some_and(|filter| !filter.matches(&message.subject)) {
                consumer.cursor = sequence + 1;
                continue;
            }
            let size = message.size_bytes();
            if !room_for(&deliveries, bytes, size) {
                exhausted = false;
                break;
            }
            bytes += size;
            consumer.cursor = sequence + 1;
            let deadline_ms = now_ms.saturating_add(consumer.config.ack_wait_for(1));
            consumer.pending.insert(
                *sequence,
                Pending {
                    holder: holder.clone(),
                    delivery_count: 1,
                    ack_deadline_ms: Some(deadline_ms),
                    redeliver_at_ms: now_ms,
                    last_error: None,
                },
            );
            bus.ack_deadlines.insert((deadline_ms, stream_name.clone(), name.clone(), *sequence));
            consumer.delivered_total += 1;
            deliveries.push(Delivery {
                sequence: *sequence,
                delivery_count: 1,
                ack_deadline_ms: deadline_ms,
                message: message.clone(),
            });
        }
        if exhausted {
            // Nothing stored lies beyond: the cursor moves past sequences that were evicted too.
            consumer.cursor = consumer.cursor.max(stream.last_sequence + 1);
        }
        context.fetch_bytes_left = context.fetch_bytes_left.saturating_sub(bytes);
        Ok(Accepted::Fetched { stream: stream_name.clone(), deliveries })
    }

    /// `consumer.ack`. Every sequence is checked before anything changes: it must have a delivery
    /// held by the signer (or the operator), or, for an ack, have been its last holder's while it
    /// waits for redelivery; an ack of a sequence already done with is a no-op.
    pub(crate) fn ack(
        &mut self,
        context: &mut Context,
        stream_name: &Name,
        name: &Name,
        sequences: &[u64],
        kind: &AckKind,
    ) -> CommandResult {
        if sequences.is_empty() {
            return Err(Rejection::invalid("sequences", "must name at least one sequence"));
        }
        if sequences.len() > limits::ACK_SEQUENCES_MAX {
            return Err(Rejection::LimitReached { limit: "ack_sequences", max: limits::ACK_SEQUENCES_MAX as u64 });
        }
        let distinct: BTreeSet<u64> = sequences.iter().copied().collect();
        if distinct.len() != sequences.len() {
            return Err(Rejection::invalid("sequences", "names a sequence twice"));
        }
        match kind {
            AckKind::Nak { delay_ms, error } => {
                if *delay_ms > limits::ACK_WAIT_MS_MAX {
                    return Err(Rejection::invalid(
                        "kind",
                        format!("a nak delay must be at most {} milliseconds", limits::ACK_WAIT_MS_MAX),
                    ));
                }
                check_text(error.as_deref())?;
            }
            AckKind::Term { reason } => check_text(reason.as_deref())?,
            AckKind::Ack | AckKind::InProgress => {}
        }
        let (_, consumer) = self.consumer_for_command(stream_name, name)?;
        let mut changes = 0;
        for sequence in sequences {
            match consumer.pending.get(sequence) {
                Some(pending) => {
                    if *context.signer() != Signer::Operator && *context.signer() != pending.holder {
                        return Err(Rejection::Unauthorized {
                            reason: "only the holder of a delivery (or the operator) acknowledges it",
                        });
                    }
                    let held = pending.ack_deadline_ms.is_some();
                    if !held && matches!(kind, AckKind::Nak { .. } | AckKind::InProgress) {
                        return Err(Rejection::Bus(BusRejection::DeliveryNotPending {
                            sequence: *sequence,
                            action: kind.action(),
                        }));
                    }
                    changes += 1;
                }
                None if *kind == AckKind::Ack && *sequence >= 1 && *sequence < consumer.cursor => {}
                None => {
                    return Err(Rejection::Bus(BusRejection::DeliveryNotPending {
                        sequence: *sequence,
                        action: kind.action(),
                    }));
                }
            }
        }
        if changes == 0 {
            return Ok(Accepted::Unchanged);
        }

        let now_ms = context.now_ms;
        for sequence in sequences {
            let consumer = &self.bus.streams[stream_name].consumers[name];
            let Some(pending) = consumer.pending.get(sequence) else { continue };
            let ack_wait_ms = consumer.config.ack_wait_for(pending.delivery_count);
            let last_delivery = pending.delivery_count >= consumer.config.max_deliver;
            let previous_error = pending.last_error.clone();
            match kind {
                AckKind::Ack => {
                    self.take_pending(stream_name, name, *sequence);
                    let consumer = self.consumer_mut(stream_name, name);
                    consumer.acked_total += 1;
                }
                AckKind::Term { reason } => {
                    let last_error = reason.clone().or(previous_error);
                    self.dead_letter(context, stream_name, name, *sequence, DeadLetterReason::Terminated, last_error);
                }
                AckKind::Nak { delay_ms, error } => {
                    let error = Some(error.clone().unwrap_or_else(|| "nak".to_owned()));
                    if last_delivery {
                        self.dead_letter(context, stream_name, name, *sequence, DeadLetterReason::MaxDeliver, error);
                    } else {
                        let mut pending = self.take_pending(stream_name, name, *sequence);
                        pending.ack_deadline_ms = None;
                        pending.redeliver_at_ms = now_ms.saturating_add(*delay_ms);
                        pending.last_error = error;
                        self.consumer_mut(stream_name, name).pending.insert(*sequence, pending);
                    }
                }
                AckKind::InProgress => {
                    let mut pending = self.take_pending(stream_name, name, *sequence);
                    let deadline_ms = now_ms.saturating_add(ack_wait_ms);
                    pending.ack_deadline_ms = Some(deadline_ms);
                    self.bus.ack_deadlines.insert((deadline_ms, stream_name.clone(), name.clone(), *sequence));
                    self.consumer_mut(stream_name, name).pending.insert(*sequence, pending);
                }
            }
        }
        Ok(Accepted::Done)
    }

    /// A consumer the caller already found.
    pub(crate) fn consumer_mut(&mut self, stream: &Name, name: &Name) -> &mut Consumer {
        self.bus
            .streams
            .get_mut(stream)
            .and_then(|stream| stream.consumers.get_mut(name))
            .expect("the caller found the consumer")
    }

    /// Removes a pending delivery (and its deadline from the index, if held) and returns it.
    pub(crate) fn take_pending(&mut self, stream: &Name, name: &Name, sequence: u64) -> Pending {
        let pending = self.consumer_mut(stream, name).pending.remove(&sequence).expect("the caller found it");
        if let Some(deadline_ms) = pending.ack_deadline_ms {
            let removed = self.bus.ack_deadlines.remove(&(deadline_ms, stream.clone(), name.clone(), sequence));
            assert!(removed, "a held delivery's deadline is indexed");
        }
        pending
    }

    /// Handles every ack deadline that has passed: the message is due for redelivery now, or, after
    /// its last allowed delivery, dead-lettered.
    pub(crate) fn expire_ack_deadlines(&mut self, context: &mut Context) {
        for _ in 0..limits::BUS_EXPIRIES_PER_ENTRY_MAX {
            let Some((deadline_ms, stream, consumer, sequence)) = self.bus.ack_deadlines.first().cloned() else {
                break;
            };
            if deadline_ms >= context.now_ms {
                break;
            }
            let found = &self.bus.streams[&stream].consumers[&consumer];
            let max_deliver = found.config.max_deliver;
            let pending = &found.pending[&sequence];
            assert_eq!(pending.ack_deadline_ms, Some(deadline_ms), "the index matches the held delivery");
            if pending.delivery_count >= max_deliver {
                let last_error = Some(ACK_WAIT_EXPIRED.to_owned());
                self.dead_letter(context, &stream, &consumer, sequence, DeadLetterReason::MaxDeliver, last_error);
            } else {
                let mut pending = self.take_pending(&stream, &consumer, sequence);
                pending.ack_deadline_ms = None;
                pending.redeliver_at_ms = deadline_ms;
                pending.last_error = Some(ACK_WAIT_EXPIRED.to_owned());
                self.consumer_mut(&stream, &consumer).pending.insert(sequence, pending);
            }
        }
    }
}

fn check_text(text: Option<&str>) -> Result<(), Rejection> {
    if text.is_some_and(|text| text.len() > limits::REASON_BYTES_MAX) {
        return Err(Rejection::invalid("kind", format!("texts must be at most {} bytes", limits::REASON_BYTES_MAX)));
    }
    Ok(())
}
