//! [`OutcomeExt`]: short assertions about an [`EntryOutcome`].

use colony_core::{CommandResult, EntryOutcome, EventKind};

/// Accessors that make assertions on outcomes one line each.
pub trait OutcomeExt {
    /// The code of the envelope-level rejection, if the envelope was refused.
    fn envelope_code(&self) -> Option<&'static str>;

    /// The result of the only command; panics unless the envelope was admitted and held one command.
    fn single(&self) -> &CommandResult;

    /// The rejection code of the only command (`None` when it was accepted); panics like
    /// [`single`](OutcomeExt::single).
    fn single_code(&self) -> Option<&'static str>;

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
