//! Dead letters: messages a consumer gave up on, kept per stream (bounded, oldest dropped and
//! counted) until the stream's owner replays them into their subjects or discards them.

use crate::outcome::BusRejection;
use serde::{Deserialize, Serialize};

use super::stream::StoredMessage;
use super::subject::Subject;
use crate::event::EventKind;
use crate::ids::Name;
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, State};

/// Why a message was dead-lettered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// Its last allowed delivery expired or was nakked.
    MaxDeliver,
    /// A consumer terminated it (`term`).
    Terminated,
}

/// A message a consumer gave up on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Its id in the stream's dead letters, from 1, never reused.
    pub id: u64,
    /// The message's stream sequence.
    pub sequence: u64,
    /// The consumer that gave up.
    pub consumer: Name,
    /// The subject it was published to.
    pub subject: Subject,
    /// The message, as stored.
    pub message: StoredMessage,
    /// How many times it was delivered.
    pub delivery_count: u32,
    /// The last error: a nak's, `ack wait expired`, or for a termination the reason given.
    pub last_error: Option<String>,
    /// Why it was dead-lettered.
    pub reason: DeadLetterReason,
    /// When (log time).
    pub dead_at_ms: u64,
}

impl State {
    /// Moves a pending delivery to its stream's dead letters, dropping the oldest beyond the limit.
    pub(crate) fn dead_letter(
        &mut self,
        context: &mut Context,
        stream_name: &Name,
        consumer_name: &Name,
        sequence: u64,
        reason: DeadLetterReason,
        last_error: Option<String>,
    ) {
        let pending = self.take_pending(stream_name, consumer_name, sequence);
        self.consumer_mut(stream_name, consumer_name).dead_lettered_total += 1;
        let stream = self.bus.streams.get_mut(stream_name).expect("the caller found the stream");
        let message = stream.messages.get(&sequence).expect("pending deliveries are of stored messages").clone();
        let id = stream.next_dead_letter_id;
        stream.next_dead_letter_id += 1;
        stream.dead_letters.insert(
            id,
            DeadLetter {
                id,
                sequence,
                consumer: consumer_name.clone(),
                subject: message.subject.clone(),
                message,
                delivery_count: pending.delivery_count,
                last_error,
                reason,
                dead_at_ms: context.now_ms,
            },
        );
        while stream.dead_letters.len() > limits::DEAD_LETTERS_PER_STREAM_MAX {
            stream.dead_letters.pop_first();
            stream.dead_letters_dropped += 1;
        }
        context.emit(EventKind::MessageDeadLettered {
            stream: stream_name.clone(),
            consumer: consumer_name.clone(),
            sequence,
            dead_letter: id,
            delivery_count: pending.delivery_count,
            reason,
        });
    }

    /// The checks `dlq.replay` and `dlq.discard` share: the signer may manage the stream's dead
    /// letters, and the ids are few, distinct and present.
    fn check_dead_letters(&self, context: &Context, stream_name: &Name, ids: &[u64]) -> Result<(), Rejection> {
        let stream = self.stream_for_command(stream_name)?;
        Self::require_stream_owner(
            context,
            stream,
            "only the stream's owner or the operator manages its dead letters",
        )?;
        if ids.is_empty() {
            return Err(Rejection::invalid("dead_letters", "must name at least one dead letter"));
        }
        if ids.len() > limits::DEAD_LETTERS_PER_COMMAND_MAX {
            return Err(Rejection::LimitReached {
                limit: "dead_letters_per_command",
                max: limits::DEAD_LETTERS_PER_COMMAND_MAX as u64,
            });
        }
        let distinct: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
        if distinct.len() != ids.len() {
            return Err(Rejection::invalid("dead_letters", "names a dead letter twice"));
        }
        if let Some(missing) = ids.iter().find(|id| !stream.dead_letters.contains_key(id)) {
            return Err(Rejection::Bus(BusRejection::DeadLetterNotFound {
                stream: stream_name.clone(),
                dead_letter: *missing,
            }));
        }
        Ok(())
    }

    /// `dlq.replay`: each dead letter is stored again (a new sequence, published now, by its original
    /// source) in the stream that captures its subject now, and leaves the dead letters. Replays skip
    /// deduplication: the point is to deliver the message again. All or nothing: every target stream
    /// must exist and have room for all of its messages.
    pub(crate) fn replay_dead_letters(
        &mut self,
        context: &mut Context,
        stream_name: &Name,
        ids: &[u64],
    ) -> CommandResult {
        self.check_dead_letters(context, stream_name, ids)?;
        let stream = &self.bus.streams[stream_name];
        let mut sizes: std::collections::BTreeMap<Name, Vec<u64>> = std::collections::BTreeMap::new();
        for id in ids {
            let dead_letter = &stream.dead_letters[id];
            let target = self
                .bus
                .subjects
                .capturing(&dead_letter.subject)
                .ok_or_else(|| Rejection::Bus(BusRejection::NoStream { subject: dead_letter.subject.clone() }))?;
            sizes.entry(target.clone()).or_default().push(dead_letter.message.size_bytes());
        }
        for (target, sizes) in &sizes {
            self.bus.streams[target].check_room(sizes)?;
        }

        let mut messages = Vec::with_capacity(ids.len());
        for id in ids {
            let stream = self.bus.streams.get_mut(stream_name).expect("checked above");
            let dead_letter = stream.dead_letters.remove(id).expect("checked above");
            let target = self.bus.subjects.capturing(&dead_letter.subject).expect("checked above").clone();
            let mut message = dead_letter.message;
            message.published_at_ms = context.now_ms;
            let sequence = self.bus.store(context, &target, message);
            context.emit(EventKind::DeadLetterReplayed {
                stream: stream_name.clone(),
                dead_letter: *id,
                to_stream: target.clone(),
                sequence,
            });
            messages.push((target, sequence));
        }
        Ok(Accepted::Replayed { messages })
    }

    /// `dlq.discard`.
    pub(crate) fn discard_dead_letters(
        &mut self,
        context: &mut Context,
        stream_name: &Name,
        ids: &[u64],
    ) -> CommandResult {
        self.check_dead_letters(context, stream_name, ids)?;
        let stream = self.bus.streams.get_mut(stream_name).expect("checked above");
        for id in ids {
            stream.dead_letters.remove(id);
        }
        Ok(Accepted::Done)
    }
}
