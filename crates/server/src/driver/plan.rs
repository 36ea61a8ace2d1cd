//! The planner: what one group commit does, decided from the state and one clock reading.
//!
//! [`plan_commit`] takes the state as of the last durable entry, the time read once for this group
//! commit, and the submissions taken from the queue. It decides which submissions are refused before
//! the log and which entries are appended: sequence numbers continuing the state's without a gap,
//! one timestamp that never goes below the state's, a tick entry when a deadline is due and nobody
//! writes, and each entry's record bytes. It takes no lock, reads no clock and does no I/O, so its
//! decisions are tested directly against a state; the writer thread (`writer.rs`) carries them out.

use std::collections::HashSet;

use colony_core::{AgentId, Entry, EntryBody, RegistryRejection, Rejection, SignedCommands, Signer, State};
use colony_log::Record;
use colony_wire::record::{self, RecordKind};

use super::Submission;

/// What one group commit appends, and whom it refuses before the log.
#[derive(Debug, Default)]
pub struct CommitPlan {
    /// The records to append in one durable transaction; `records[i]` stores `entries[i]`.
    pub records: Vec<Record>,
    /// The entries to apply, in order, once the records are durable.
    pub entries: Vec<Entry>,
    /// For each entry, the submission it records, by its index in the batch; `None` for a tick.
    pub submitters: Vec<Option<usize>>,
    /// Submissions refused before the log, by index in the batch, with the reason.
    pub refusals: Vec<(usize, Rejection)>,
}

impl CommitPlan {
    fn push(&mut self, record: Record, entry: Entry, submitter: Option<usize>) {
        self.records.push(record);
        self.entries.push(entry);
        self.submitters.push(submitter);
    }
}

/// Plans the group commit of `batch` on top of `state`, at `now_ms` as read from the clock.
pub fn plan_commit(state: &State, now_ms: u64, batch: Vec<Submission>) -> CommitPlan {
    // The clock may step back (a corrected wall clock); log time may not, or core would refuse the
    // entries.
    let timestamp_ms = now_ms.max(state.timestamp_ms());
    let mut plan = CommitPlan {
        records: Vec::with_capacity(batch.len() + 1),
        entries: Vec::with_capacity(batch.len() + 1),
        submitters: Vec::with_capacity(batch.len() + 1),
        refusals: Vec::new(),
    };
    let mut admission = BatchAdmission::new(state, timestamp_ms, batch.len());
    let mut sequence = state.sequence();
    for (index, submission) in batch.into_iter().enumerate() {
        let Submission { envelope, signed, verified_key } = submission;
        let signed_commands = SignedCommands {
            signer: envelope.signer,
            verified_key,
            nonce: envelope.nonce,
            commands: envelope.commands,
        };
        if let Err(rejection) = admission.admit(&signed_commands) {
            plan.refusals.push((index, rejection));
            continue;
        }
        sequence += 1;
        let payload = record::encode_signed(&signed);
        let record = Record { sequence, timestamp_ms, kind: RecordKind::Signed as u8, payload };
        plan.push(record, Entry { sequence, timestamp_ms, body: EntryBody::Signed(signed_commands) }, Some(index));
    }
    // An entry of this commit already carries the time past the deadline; a tick is only needed
    // when there is none.
    let tick_due = state.next_deadline_ms().is_some_and(|deadline| deadline <= timestamp_ms);
    if plan.entries.is_empty() && tick_due {
        sequence += 1;
        let record = Record { sequence, timestamp_ms, kind: RecordKind::Tick as u8, payload: Vec::new() };
        plan.push(record, Entry { sequence, timestamp_ms, body: EntryBody::Tick }, None);
    }
    plan
}

/// The entry that records a signed checkpoint of the log as it stands (the state's last entry is the
/// log's head). For the state machine it is a tick: time passes, nothing else.
pub fn plan_checkpoint(
    state: &State,
    now_ms: u64,
    head: colony_log::LogHead,
    state_hash: Option<(u64, colony_core::Digest)>,
    signer: &colony_wire::KeyPair,
) -> (Record, Entry, colony_wire::checkpoint::SignedCheckpoint) {
    assert_eq!(head.sequence, state.sequence(), "a checkpoint covers the state's last entry");
    let (state_sequence, state_hash) = state_hash.map_or((0, [0; 32]), |(sequence, digest)| (sequence, digest.0));
    let checkpoint = colony_wire::checkpoint::CheckpointStatement {
        sequence: head.sequence,
        chain: head.chain.0,
        state_sequence,
        state_hash,
    }
    .sign(signer);
    let sequence = state.sequence() + 1;
    let timestamp_ms = now_ms.max(state.timestamp_ms());
    let record = Record { sequence, timestamp_ms, kind: RecordKind::Checkpoint as u8, payload: checkpoint.encode() };
    (record, Entry { sequence, timestamp_ms, body: EntryBody::Tick }, checkpoint)
}

/// Core's envelope-level checks, extended to the submissions of one group commit: they are all
/// checked against the state before any of them is applied, so within the batch a nonce is used
/// once and an unknown id registers itself once.
struct BatchAdmission<'state> {
    state: &'state State,
    timestamp_ms: u64,
    nonces: HashSet<(Signer, u64)>,
    new_agents: HashSet<AgentId>,
}

impl<'state> BatchAdmission<'state> {
    fn new(state: &'state State, timestamp_ms: u64, submissions: usize) -> BatchAdmission<'state> {
        BatchAdmission { state, timestamp_ms, nonces: HashSet::with_capacity(submissions), new_agents: HashSet::new() }
    }

    fn admit(&mut self, signed: &SignedCommands) -> Result<(), Rejection> {
        self.state.check_admission(signed, self.timestamp_ms)?;
        if !self.nonces.insert((signed.signer.clone(), signed.nonce)) {
            return Err(Rejection::NonceReplayed { nonce: signed.nonce });
        }
        if let Some(agent) = signed.signer.agent()
            && self.state.agent(agent).is_none()
            && !self.new_agents.insert(agent.clone())
        {
            return Err(Rejection::Registry(RegistryRejection::AgentExists { agent: agent.clone() }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use colony_core::command::{Heartbeat, RegisterAgent};
    use colony_core::{Command, Genesis, Name, SwarmConfig};
    use colony_wire::{Envelope, KeyPair};

    use super::*;

    const GENESIS_MS: u64 = 1_700_000_000_000;

    fn operator_key() -> KeyPair {
        KeyPair::from_seed([1; 32])
    }

    fn scout_key() -> KeyPair {
        KeyPair::from_seed([2; 32])
    }

    fn scout() -> Signer {
        Signer::Agent(AgentId::new("scout-1").unwrap())
    }

    fn submission(key: &KeyPair, signer: Signer, nonce: u64, commands: Vec<Command>) -> Submission {
        let envelope = Envelope { signer, nonce, commands };
        Submission { signed: envelope.sign(key), envelope, verified_key: key.public_key() }
    }

    fn heartbeat(nonce: u64) -> Submission {
        submission(&scout_key(), scout(), nonce, vec![Command::Heartbeat(Heartbeat {})])
    }

    fn registration(agent: &str, key: &KeyPair) -> Command {
        Command::RegisterAgent(RegisterAgent {
            agent: AgentId::new(agent).unwrap(),
            public_key: key.public_key(),
            role: Name::new("scout").unwrap(),
            capabilities: Default::default(),
            weight: None,
            parent: None,
            referrer: None,
        })
    }

    /// Applies a plan's entries as the writer would once they are durable.
    fn apply(state: &mut State, plan: &CommitPlan) {
        for entry in &plan.entries {
            state.apply(entry).expect("a planned entry applies");
        }
    }

    /// Genesis, then the operator registers `scout-1` (whose heartbeat deadline is then the state's
    /// next deadline), both at `GENESIS_MS`.
    fn swarm() -> State {
        let mut state = State::new();
        let genesis = Genesis {
            rules_version: colony_core::RULES_VERSION,
            operator_key: operator_key().public_key(),
            config: SwarmConfig::default(),
        };
        let genesis = Entry { sequence: 1, timestamp_ms: GENESIS_MS, body: EntryBody::Genesis(genesis) };
        state.apply(&genesis).unwrap();
        let register = submission(&operator_key(), Signer::Operator, 1, vec![registration("scout-1", &scout_key())]);
        let plan = plan_commit(&state, GENESIS_MS, vec![register]);
        apply(&mut state, &plan);
        assert!(state.agent(&AgentId::new("scout-1").unwrap()).is_some());
        state
    }

    #[test]
    fn admitted_submissions_get_contiguous_sequences_one_time_and_their_exact_bytes() {
        let mut state = swarm();
        let now_ms = GENESIS_MS + 5;
        let batch: Vec<_> = (1..=3).map(heartbeat).collect();
        let signed: Vec<_> = batch.iter().map(|submission| submission.signed.clone()).collect();
        let plan = plan_commit(&state, now_ms, batch);
        assert!(plan.refusals.is_empty());
        assert_eq!(plan.submitters, vec![Some(0), Some(1), Some(2)]);
        let sequences: Vec<_> = plan.entries.iter().map(|entry| entry.sequence).collect();
        assert_eq!(sequences, vec![3, 4, 5], "continuing the state's sequence without a gap");
        for ((record, entry), signed) in plan.records.iter().zip(&plan.entries).zip(&signed) {
            assert_eq!((record.sequence, record.timestamp_ms), (entry.sequence, entry.timestamp_ms));
            assert_eq!(entry.timestamp_ms, now_ms);
            assert_eq!(record.kind, RecordKind::Signed as u8);
            assert_eq!(&record::decode_signed(&record.payload).unwrap(), signed, "the body as signed, byte for byte");
        }
        apply(&mut state, &plan);
        assert_eq!(state.sequence(), 5);
    }

    #[test]
    fn replayed_nonces_are_refused_before_the_log_whether_logged_or_in_the_same_batch() {
        let mut state = swarm();
        let plan = plan_commit(&state, GENESIS_MS, vec![heartbeat(7)]);
        apply(&mut state, &plan);
        let plan = plan_commit(&state, GENESIS_MS, vec![heartbeat(7), heartbeat(8), heartbeat(8)]);
        let refused: Vec<_> = plan.refusals.iter().map(|(index, rejection)| (*index, rejection.code())).collect();
        assert_eq!(refused, vec![(0, "nonce_replayed"), (2, "nonce_replayed")]);
        assert_eq!(plan.submitters, vec![Some(1)]);
        assert_eq!(plan.entries[0].sequence, state.sequence() + 1);
        assert_eq!(plan.records.len(), 1);
    }

    #[test]
    fn unknown_signers_are_refused_and_a_self_registration_counts_once_per_batch() {
        let state = swarm();
        let stranger = KeyPair::from_seed([3; 32]);
        let stranger_id = Signer::Agent(AgentId::new("stranger").unwrap());
        let batch = vec![
            submission(&stranger, stranger_id.clone(), 1, vec![Command::Heartbeat(Heartbeat {})]),
            submission(&stranger, stranger_id.clone(), 2, vec![registration("stranger", &stranger)]),
            submission(&stranger, stranger_id, 3, vec![registration("stranger", &stranger)]),
        ];
        let plan = plan_commit(&state, GENESIS_MS, batch);
        let refused: Vec<_> = plan.refusals.iter().map(|(index, rejection)| (*index, rejection.code())).collect();
        assert_eq!(refused, vec![(0, "unknown_signer"), (2, "agent_exists")]);
        assert_eq!(plan.submitters, vec![Some(1)]);
    }

    #[test]
    fn a_tick_is_planned_only_when_a_deadline_is_due_and_nobody_writes() {
        let mut state = swarm();
        let deadline_ms = state.next_deadline_ms().expect("the scout's heartbeat deadline");
        assert!(plan_commit(&state, deadline_ms - 1, Vec::new()).entries.is_empty(), "nothing is due yet");

        let plan = plan_commit(&state, deadline_ms, Vec::new());
        assert_eq!(plan.submitters, vec![None]);
        assert_eq!(plan.entries.len(), 1);
        assert_eq!(plan.entries[0].body, EntryBody::Tick);
        assert_eq!((plan.entries[0].sequence, plan.entries[0].timestamp_ms), (state.sequence() + 1, deadline_ms));
        assert_eq!((plan.records[0].kind, plan.records[0].payload.len()), (RecordKind::Tick as u8, 0));

        let with_write = plan_commit(&state, deadline_ms, vec![heartbeat(1)]);
        assert_eq!(with_write.submitters, vec![Some(0)], "the write carries the time past the deadline");

        apply(&mut state, &plan);
        assert!(state.next_deadline_ms().is_none_or(|next| next > deadline_ms), "the tick passed the deadline");
        assert!(plan_commit(&state, deadline_ms, Vec::new()).entries.is_empty(), "and it is not planned twice");
    }

    #[test]
    fn log_time_never_goes_backwards_when_the_clock_does() {
        let mut state = swarm();
        let plan = plan_commit(&state, GENESIS_MS + 60_000, vec![heartbeat(1)]);
        apply(&mut state, &plan);
        let plan = plan_commit(&state, GENESIS_MS - 3_600_000, vec![heartbeat(2)]);
        assert_eq!(plan.entries[0].timestamp_ms, GENESIS_MS + 60_000);
        assert_eq!(plan.records[0].timestamp_ms, GENESIS_MS + 60_000);
        apply(&mut state, &plan);
    }
}
