//! [`OutcomeExt`]: short assertions about an [`EntryOutcome`].

use colony_core::bus::Delivery;
use colony_core::{Accepted, CommandResult, EntryOutcome, EventKind, Rejection};

/// Accessors that make assertions on outcomes one line each.
pub trait OutcomeExt {
    /// The code of the envelope-level rejection, if the envelope was refused.
    fn envelope_code(&self) -> Option<&'static str>;

    /// The result of the only command; panics unless the envelope was admitted and held one command.
    fn single(&self) -> &CommandResult;

    /// The rejection code of the only command (`None` when it was accepted); panics like
    /// [`single`](OutcomeExt::single).
    fn single_code(&self) -> Option<&'static str>;

    /// The rejection of the only command; panics unless it was refused (and like
    /// [`single`](OutcomeExt::single)).
    fn single_rejection(&self) -> &Rejection;

    /// The escrow id of the only command, an accepted `escrow.lock`, and whether it already existed;
    /// panics otherwise.
    fn escrow_lock(&self) -> (u64, bool);

    /// The escrow id of the only command, an `escrow.lock` that created a new escrow; panics otherwise.
    fn escrow_id(&self) -> u64;

    /// The stream, sequence and duplicate flag of the only command, an accepted `bus.publish`; panics
    /// otherwise.
    fn published(&self) -> (String, u64, bool);

    /// The deliveries of the only command, an accepted `consumer.fetch`; panics otherwise.
    fn deliveries(&self) -> &[Delivery];

    /// The stream sequences of [`deliveries`](OutcomeExt::deliveries), in order.
    fn delivered_sequences(&self) -> Vec<u64>;

    /// Per command, `None` when accepted and the rejection code otherwise.
    fn codes(&self) -> Vec<Option<&'static str>>;

    /// Whether the envelope was admitted and every command accepted.
    fn all_accepted(&self) -> bool;

    /// The kinds of the events, in order.
    fn event_kinds(&self) -> Vec<&EventKind>;
}

impl OutcomeExt for EntryOutcome {
    fn envelope_code(&self) -> Option<&'static str> {
        self.envelope.as_ref().map(|rejection| rejection.code())
    }

    #[track_caller]
    fn single(&self) -> &CommandResult {
        assert!(self.envelope.is_none(), "the envelope was refused: {:?}", self.envelope);
        assert_eq!(self.commands.len(), 1, "expected exactly one command result: {:?}", self.commands);
        &self.commands[0]
    }

    #[track_caller]
    fn single_code(&self) -> Option<&'static str> {
        self.single().as_ref().err().map(|rejection| rejection.code())
    }

    #[track_caller]
    fn single_rejection(&self) -> &Rejection {
        match self.single() {
            Err(rejection) => rejection,
            Ok(accepted) => panic!("expected a rejection, the command was accepted: {accepted:?}"),
        }
    }

    #[track_caller]
    fn escrow_lock(&self) -> (u64, bool) {
        match self.single() {
            Ok(Accepted::Escrow { escrow_id, existing }) => (*escrow_id, *existing),
            other => panic!("expected an accepted escrow.lock: {other:?}"),
        }
    }

    #[track_caller]
    fn escrow_id(&self) -> u64 {
        let (escrow_id, existing) = self.escrow_lock();
        assert!(!existing, "expected a new escrow, got the existing escrow {escrow_id}");
        escrow_id
    }

    #[track_caller]
    fn published(&self) -> (String, u64, bool) {
        match self.single() {
            Ok(Accepted::Published { stream, sequence, duplicate }) => (stream.to_string(), *sequence, *duplicate),
            other => panic!("expected an accepted bus.publish: {other:?}"),
        }
    }

    #[track_caller]
    fn deliveries(&self) -> &[Delivery] {
        match self.single() {
            Ok(Accepted::Fetched { deliveries, .. }) => deliveries,
            other => panic!("expected an accepted consumer.fetch: {other:?}"),
        }
    }

    #[track_caller]
    fn delivered_sequences(&self) -> Vec<u64> {
        self.deliveries().iter().map(|delivery| delivery.sequence).collect()
    }

    fn codes(&self) -> Vec<Option<&'static str>> {
        self.commands.iter().map(|result| result.as_ref().err().map(|rejection| rejection.code())).collect()
    }

    fn all_accepted(&self) -> bool {
        self.envelope.is_none() && self.commands.iter().all(Result::is_ok)
    }

    fn event_kinds(&self) -> Vec<&EventKind> {
        self.events.iter().map(|event| &event.kind).collect()
    }
}
