//! The state's changes told on the bus, for agents that sense by subscription rather than by asking:
//! every pheromone map event (a deposit, the map's creation, configuration or deletion) is published
//! on `colony.pheromone.<map>`, and every put and delete in a key-value namespace that every
//! registered agent may read on `colony.kv.<namespace>` (a namespace whose readers are restricted
//! is not told: its events do not name keys), and every election's campaigns, leaders and ends of
//! terms on `colony.election.<election>` (a vote-based election's rounds opened, votes, leaders
//! elected and lost too), once its entry is durable and applied.
//!
//! The subjects under `colony.` are the server's own: no agent may publish there, and no stream may
//! capture them, so what arrives there was logged. Each message's source is the signer the event
//! names (the depositor, the writer, the candidate or leader), its type the event's name, and its payload the event as the event stream
//! gives it (with its entry's sequence and log time). Only subjects someone listens on cost the
//! writer anything: an event nobody subscribed to is not even encoded.

use colony_core::bus::{SERVER_PREFIX, Subject};
use colony_core::{Event, EventKind, Name, Signer};
use colony_wire::bus::EphemeralPublish;

use super::EphemeralBus;

/// The subject a map's changes are told on: a `.` in the map's name separates subject tokens, so
/// `btc.signals` is told on `colony.pheromone.btc.signals`; a name that makes no valid subject (an
/// empty token, from `..`) has none, and its changes are told only on the event stream.
pub fn pheromone_subject(map: &Name) -> Option<Subject> {
    Subject::new(format!("{SERVER_PREFIX}.pheromone.{map}")).ok()
}

/// The subject a namespace's changes are told on, as for maps.
pub fn kv_subject(namespace: &Name) -> Option<Subject> {
    Subject::new(format!("{SERVER_PREFIX}.kv.{namespace}")).ok()
}

/// The subject an election's campaigns, leaders and ends of terms are told on, as for maps: its
/// observers learn of a new leader, and its term (the fencing token), without asking.
pub fn election_subject(election: &Name) -> Option<Subject> {
    Subject::new(format!("{SERVER_PREFIX}.election.{election}")).ok()
}

/// The subject an event is told on and who caused it, for the events told on the bus.
fn told(kind: &EventKind) -> Option<(Option<Subject>, Signer)> {
    let by_agent = |election: &Name, agent: &colony_core::AgentId| {
        Some((election_subject(election), Signer::Agent(agent.clone())))
    };
    match kind {
        EventKind::VoteRoundOpened { election, by: agent, .. }
        | EventKind::VoteCast { election, voter: agent, .. }
        | EventKind::VoteLeaderElected { election, leader: agent, .. }
        | EventKind::VoteLeaderLost { election, leader: agent, .. } => by_agent(election, agent),
        EventKind::PheromoneDeposited { map, by, .. }
        | EventKind::PheromoneMapCreated { map, by, .. }
        | EventKind::PheromoneMapConfigured { map, by }
        | EventKind::PheromoneMapDeleted { map, by, .. } => Some((pheromone_subject(map), by.clone())),
        EventKind::KvPut { namespace, key: Some(_), by, .. }
        | EventKind::KvDeleted { namespace, key: Some(_), by, .. } => Some((kv_subject(namespace), by.clone())),
        EventKind::ElectionCampaigning { election, candidate, .. }
        | EventKind::ElectionWithdrawn { election, candidate, .. }
        | EventKind::ElectionLeader { election, leader: candidate, .. }
        | EventKind::ElectionTermEnded { election, leader: candidate, .. } => {
            Some((election_subject(election), candidate.clone()))
        }
        _ => None,
    }
}

/// Publishes the events of applied entries that someone listens for.
pub fn publish(bus: &EphemeralBus, events: &[Event]) {
    for event in events {
        let Some((subject, by)) = told(&event.kind) else { continue };
        let Some(subject) = subject else { continue };
        if !bus.router.has_receivers(&subject) {
            continue;
        }
        let Ok(mut message) = EphemeralPublish::try_json(subject.as_str(), event) else { continue };
        message.message_type = Some(event.kind.name().to_owned());
        bus.publish(&by, event.timestamp_ms, &subject, message);
    }
}
