//! Turning log records back into core entries: shared by recovery and the offline audit.

use colony_core::{Entry, EntryBody, Genesis, PublicKey, SignedCommands, State};
use colony_log::Record;
use colony_wire::record::{self, RecordKind};
use colony_wire::{Envelope, SignedEnvelope};

/// A record that cannot be turned into an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayError {
    /// The record's sequence number.
    pub sequence: u64,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "log entry {}: {}", self.sequence, self.reason)
    }
}

impl std::error::Error for ReplayError {}

/// The key an envelope must verify with, given the state it is applied to: the signer's registered
/// key, or for a self-registration the key being registered. `None` when the signer is unknown and
/// the envelope is not a self-registration.
pub fn expected_key(state: &State, envelope: &Envelope) -> Option<PublicKey> {
    state.expected_key(&envelope.signer, &envelope.commands)
}

/// What a signature check of a signed entry needs.
#[derive(Clone, Debug)]
pub struct SignatureCheck {
    /// The envelope's bytes and signature.
    pub envelope: SignedEnvelope,
    /// The key it must verify with, if the signer is known.
    pub expected_key: Option<PublicKey>,
}

/// A record decoded against the state it applies to.
#[derive(Clone, Debug)]
pub struct DecodedRecord {
    /// The entry to apply.
    pub entry: Entry,
    /// For signed entries, what verifying the signature needs.
    pub signature: Option<SignatureCheck>,
}

/// Decodes a record into the entry to apply to `state`. Signed entries also return their envelope
/// and expected key so that the caller may verify the signature.
pub fn decode_record(record: &Record, state: &State) -> Result<DecodedRecord, ReplayError> {
    let error = |reason: String| ReplayError { sequence: record.sequence, reason };
    let kind =
        RecordKind::from_byte(record.kind).ok_or_else(|| error(format!("unknown record kind {}", record.kind)))?;
    let (body, signed) = match kind {
        RecordKind::Tick => (EntryBody::Tick, None),
        // Its signature and chain hash are checked with the history (`crate::history`), before replay.
        RecordKind::Checkpoint => {
            colony_wire::checkpoint::SignedCheckpoint::decode(&record.payload)
                .map_err(|reason| error(format!("checkpoint: {reason}")))?;
            (EntryBody::Tick, None)
        }
        RecordKind::Genesis => {
            let genesis =
                record::decode_genesis(&record.payload).map_err(|reason| error(format!("genesis: {reason}")))?;
            let genesis = Genesis {
                rules_version: genesis.rules_version,
                operator_key: genesis.operator_key,
                config: genesis.config,
            };
            (EntryBody::Genesis(genesis), None)
        }
        RecordKind::Signed => {
            let signed = record::decode_signed(&record.payload).map_err(error)?;
            let envelope = Envelope::decode(&signed.body).map_err(|reason| error(reason.to_string()))?;
            let key = expected_key(state, &envelope);
            // An unknown signer cannot be logged by a correct driver; if one is, core refuses the
            // envelope (the all-zero key matches nobody) and the audit reports the signature.
            let commands = SignedCommands {
                signer: envelope.signer,
                verified_key: key.unwrap_or(PublicKey([0; 32])),
                nonce: envelope.nonce,
                commands: envelope.commands,
            };
            (EntryBody::Signed(commands), Some(SignatureCheck { envelope: signed, expected_key: key }))
        }
    };
    Ok(DecodedRecord {
        entry: Entry { sequence: record.sequence, timestamp_ms: record.timestamp_ms, body },
        signature: signed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use colony_core::Command;
    use colony_core::command::{Heartbeat, RegisterAgent};
    use colony_core::{AgentId, Name, Signer};

    /// The key a self-registration is checked against must not depend on the state: otherwise an
    /// entry that shared a group commit with the id's first registration would be verified with one
    /// key live and another on replay, and the replayed state would differ.
    #[test]
    fn a_self_registration_is_checked_against_the_key_it_registers_whatever_the_state() {
        let agent = AgentId::new("x").unwrap();
        let claimed = PublicKey([2; 32]);
        let envelope = Envelope {
            signer: Signer::Agent(agent.clone()),
            nonce: 1,
            commands: vec![Command::RegisterAgent(RegisterAgent {
                agent,
                public_key: claimed,
                role: Name::new("scout").unwrap(),
                capabilities: Default::default(),
                weight: None,
                parent: None,
                referrer: None,
            })],
        };
        assert_eq!(expected_key(&State::new(), &envelope), Some(claimed));
        let heartbeat = Envelope { commands: vec![Command::Heartbeat(Heartbeat {})], ..envelope };
        assert_eq!(expected_key(&State::new(), &heartbeat), None, "other envelopes need a registered signer");
    }
}
