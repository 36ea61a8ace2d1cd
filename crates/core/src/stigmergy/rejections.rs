//! Why stigmergy refuses a map's creation, configuration or deletion, or a deposit.

use std::fmt;

use super::key::SignalKey;
use crate::ids::Name;
use crate::outcome::RejectionClass;

/// A refusal particular to pheromone maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StigmergyRejection {
    /// No map of that name.
    MapNotFound {
        /// The name asked for.
        map: Name,
    },
    /// A map of that name exists with other terms or another creator.
    MapExists {
        /// The name.
        map: Name,
    },
    /// Only the map's creator (or the operator) may configure or delete it.
    NotMapCreator {
        /// The map.
        map: Name,
    },
    /// The signer is not among the map's depositors.
    NotDepositor {
        /// The map.
        map: Name,
    },
    /// A conditional deposit found a trail it names as absent above the pruning level.
    SignalPresent {
        /// The map.
        map: Name,
        /// The trail found.
        key: SignalKey,
    },
}

impl StigmergyRejection {
    /// The stable machine code, in `snake_case`.
    pub fn code(&self) -> &'static str {
        match self {
            StigmergyRejection::MapNotFound { .. } => "pheromone_map_not_found",
            StigmergyRejection::MapExists { .. } => "pheromone_map_exists",
            StigmergyRejection::NotMapCreator { .. } => "not_map_creator",
            StigmergyRejection::NotDepositor { .. } => "not_depositor",
            StigmergyRejection::SignalPresent { .. } => "signal_present",
        }
    }

    /// A short, fixed summary of the code.
    pub fn title(&self) -> &'static str {
        match self {
            StigmergyRejection::MapNotFound { .. } => "Pheromone map not found",
            StigmergyRejection::MapExists { .. } => "Pheromone map exists",
            StigmergyRejection::NotMapCreator { .. } => "Not the map's creator",
            StigmergyRejection::NotDepositor { .. } => "Not a depositor",
            StigmergyRejection::SignalPresent { .. } => "Signal present",
        }
    }

    /// What kind of refusal this is.
    pub fn class(&self) -> RejectionClass {
        match self {
            StigmergyRejection::MapNotFound { .. } => RejectionClass::NotFound,
            StigmergyRejection::MapExists { .. } | StigmergyRejection::SignalPresent { .. } => RejectionClass::Conflict,
            StigmergyRejection::NotMapCreator { .. } | StigmergyRejection::NotDepositor { .. } => {
                RejectionClass::Forbidden
            }
        }
    }

    /// The input field to blame.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            StigmergyRejection::MapNotFound { .. }
            | StigmergyRejection::MapExists { .. }
            | StigmergyRejection::NotMapCreator { .. }
            | StigmergyRejection::NotDepositor { .. } => Some("map"),
            StigmergyRejection::SignalPresent { .. } => Some("unless_present"),
        }
    }
}

impl fmt::Display for StigmergyRejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StigmergyRejection::MapNotFound { map } => write!(formatter, "no pheromone map '{map}'"),
            StigmergyRejection::MapExists { map } => {
                write!(formatter, "pheromone map '{map}' already exists with other terms or another creator")
            }
            StigmergyRejection::NotMapCreator { map } => {
                write!(formatter, "only the creator of pheromone map '{map}' or the operator may change it")
            }
            StigmergyRejection::NotDepositor { map } => {
                write!(formatter, "the signer is not among pheromone map '{map}''s depositors")
            }
            StigmergyRejection::SignalPresent { map, key } => {
                write!(formatter, "trail '{key}' on pheromone map '{map}' is present, so the deposit was not made")
            }
        }
    }
}
