//! `colony audit seals`: the chain of decisions re-verified offline, from a stopped server's data
//! directory.
//!
//! The log's history is verified first (its hash chain locates a changed byte to its entry). Then the
//! log is replayed from genesis, and every ballot's envelope signature is verified on its own: a seal
//! covers each ballot's choice and the entry that cast it, so each sealed ballot must come from an
//! entry whose envelope the voter signed, carrying that choice for that proposal. At each close the
//! decision's seal is recomputed from the proposal as decided, and must equal the seal the close
//! reported and link to the seal before it; at the end the chain's head and length must be the
//! state's. The first proposal, ballot or entry that does not match is reported.

use std::collections::BTreeMap;
use std::path::Path;

use colony_core::governance::{Choice, SealInput, seal};
use colony_core::{AgentId, Command, Digest, EntryBody, EventKind, Signer, State};
use colony_log::{CommandLog, SqliteLog};
use colony_wire::envelope::signing_message;
use colony_wire::keys;

use super::{AuditError, failure, history_failure};
use crate::history::verify_history;
use crate::log_records::decode_record;

/// Records read per batch.
const SEAL_AUDIT_BATCH_RECORDS: usize = 8_192;

/// What the seals audit found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealReport {
    /// Entries replayed.
    pub entries: u64,
    /// Decisions whose seal was recomputed and linked (every close in the log).
    pub decisions: u64,
    /// Sealed ballots matched to the signed envelopes that cast them.
    pub ballots: u64,
    /// Ballot envelopes whose signature was re-verified.
    pub ballot_signatures: u64,
    /// Decisions that ran an action.
    pub actions: u64,
    /// The chain's head at the end.
    pub seal_head: Digest,
}

/// A ballot as the log holds it: the entry that cast it and its choice.
type Cast = (u64, Choice);

/// Ballots accepted from signed, verified envelopes, by proposal and voter.
type Casts = BTreeMap<u64, BTreeMap<AgentId, Cast>>;

/// Audits the chain of seals in `data_dir`'s log.
pub fn audit_seals(data_dir: &Path) -> Result<SealReport, AuditError> {
    let path = data_dir.join(crate::server::LOG_FILE_NAME);
    if !path.exists() {
        return Err(failure(None, format!("no command log at {}", path.display())));
    }
    let log = SqliteLog::open_read_only(&path).map_err(|error| failure(None, error.to_string()))?;
    let last = log.last_sequence();
    verify_history(&log, |_, _| {}).map_err(|error| history_failure(&error))?;
    let mut state = State::new();
    let mut casts: Casts = BTreeMap::new();
    let mut report = SealReport {
        entries: 0,
        decisions: 0,
        ballots: 0,
        ballot_signatures: 0,
        actions: 0,
        seal_head: Digest([0; 32]),
    };
    let mut next = 1;
    while next <= last {
        let records = log.read(next, SEAL_AUDIT_BATCH_RECORDS).map_err(|error| failure(None, error.to_string()))?;
        if records.is_empty() {
            return Err(failure(Some(next), "missing from the log"));
        }
        for chained in &records {
            let record = &chained.record;
            let decoded = decode_record(record, &state).map_err(|error| failure(Some(error.sequence), error.reason))?;
            let ballots = ballots_in(&decoded.entry.body);
            if !ballots.is_empty() {
                let check = decoded.signature.as_ref().expect("a signed entry carries its signature");
                let key = check
                    .expected_key
                    .ok_or_else(|| failure(Some(record.sequence), "a ballot by an unknown signer"))?;
                if !keys::verify(&key, &signing_message(&check.envelope.body), &check.envelope.signature) {
                    return Err(failure(Some(record.sequence), "a ballot's envelope signature does not verify"));
                }
                report.ballot_signatures += 1;
            }
            let outcome =
                state.apply(&decoded.entry).map_err(|error| failure(Some(record.sequence), error.to_string()))?;
            for (index, voter, proposal, choice) in ballots {
                if matches!(outcome.commands.get(index), Some(Ok(colony_core::Accepted::Done))) {
                    casts.entry(proposal).or_default().insert(voter, (record.sequence, choice));
                }
            }
            for event in &outcome.events {
                match &event.kind {
                    EventKind::ProposalClosed { proposal, seal: reported, .. } => {
                        check_decision(&state, *proposal, *reported, &mut casts, &mut report).map_err(|reason| {
                            failure(Some(record.sequence), format!("proposal {proposal}: {reason}"))
                        })?;
                    }
                    EventKind::ProposalCancelled { proposal, .. } => {
                        casts.remove(proposal);
                    }
                    _ => {}
                }
            }
        }
        report.entries += records.len() as u64;
        next += records.len() as u64;
    }
    let governance = state.governance();
    if governance.seal_head() != report.seal_head || governance.seals() != report.decisions {
        return Err(failure(None, "the state's chain of seals is not the one the closes in the log built"));
    }
    Ok(report)
}

/// The ballots an entry casts: (command index, voter, proposal, choice).
fn ballots_in(body: &EntryBody) -> Vec<(usize, AgentId, u64, Choice)> {
    let EntryBody::Signed(signed) = body else { return Vec::new() };
    let Signer::Agent(voter) = &signed.signer else { return Vec::new() };
    signed
        .commands
        .iter()
        .enumerate()
        .filter_map(|(index, command)| match command {
            Command::CastBallot(cast) => Some((index, voter.clone(), cast.proposal, cast.choice.clone())),
            _ => None,
        })
        .collect()
}

/// Checks one decision just made: its seal recomputed from the proposal, the link to the chain so far,
/// and every sealed ballot against the signed envelope that cast it.
fn check_decision(
    state: &State,
    id: u64,
    reported: Digest,
    casts: &mut Casts,
    report: &mut SealReport,
) -> Result<(), String> {
    let proposal = state.governance().proposal(id).ok_or("closed but not retained")?;
    let decision = proposal.decision.as_ref().ok_or("closed without a decision")?;
    let recomputed = seal(&SealInput::of(proposal, decision));
    if recomputed != decision.seal || recomputed != reported {
        return Err(format!("the seal recomputes as {recomputed}, not {}", decision.seal));
    }
    if decision.previous_seal != report.seal_head {
        return Err(format!(
            "the seal links to {}, not to the chain's head {}",
            decision.previous_seal, report.seal_head
        ));
    }
    let cast = casts.remove(&id).unwrap_or_default();
    for (voter, live) in proposal.sealed_ballots() {
        match cast.get(&voter.agent) {
            Some((sequence, choice)) if *sequence == live.sequence && *choice == live.choice => report.ballots += 1,
            _ => {
                return Err(format!(
                    "the sealed ballot of {} (entry {}) is not one the voter signed",
                    voter.agent, live.sequence
                ));
            }
        }
    }
    report.seal_head = decision.seal;
    report.decisions += 1;
    report.actions += u64::from(decision.action_result.is_some());
    Ok(())
}
