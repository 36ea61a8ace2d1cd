//! Stigmergy's read views: pheromone maps, their strongest trails and one trail sensed, each as of
//! the log time of the state it was read from.

use colony_core::stigmergy::{Decay, Depositors, PheromoneMap, TaskSignalState, TaskSignals};
use colony_core::{Intensity, Name, SignalKey, Signer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A pheromone map: its terms and how much it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PheromoneMapView {
    /// Its name.
    pub name: Name,
    /// Its creator.
    pub creator: Signer,
    /// How its trails fade.
    pub decay: Decay,
    /// The most a trail holds.
    pub cap: Intensity,
    /// Trails at or below this are gone.
    pub prune_at_or_below: Intensity,
    /// Who may deposit besides its creator.
    pub depositors: Depositors,
    /// When it was created (log time).
    pub created_at_ms: u64,
    /// Deposits accepted on it.
    pub deposits: u64,
    /// Trails stored (some may have faded since the map was last written; reads leave them out).
    pub keys: usize,
}

impl PheromoneMapView {
    /// The view of `map`.
    pub fn new(map: &PheromoneMap) -> PheromoneMapView {
        PheromoneMapView {
            name: map.name.clone(),
            creator: map.creator.clone(),
            decay: map.terms.decay,
            cap: map.terms.cap,
            prune_at_or_below: map.terms.prune_at_or_below,
            depositors: map.depositors.clone(),
            created_at_ms: map.created_at_ms,
            deposits: map.deposits,
            keys: map.keys(),
        }
    }
}

/// One page of pheromone maps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PheromoneMapPage {
    /// The maps on this page, by name.
    pub maps: Vec<PheromoneMapView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<Name>,
}

/// A trail and its intensity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrailView {
    /// Its key.
    pub key: SignalKey,
    /// Its intensity at the read's log time.
    pub intensity: Intensity,
}

/// A map's strongest trails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TopTrailsView {
    /// The map.
    pub map: Name,
    /// The log time the intensities are computed at: the state's last entry.
    pub as_of_ms: u64,
    /// Strongest first, equal ones by key; none at or below the pruning level.
    pub trails: Vec<TrailView>,
}

/// One trail sensed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SignalView {
    /// The map.
    pub map: Name,
    /// The trail's key.
    pub key: SignalKey,
    /// The log time the intensity is computed at: the state's last entry.
    pub as_of_ms: u64,
    /// Its intensity then (0 when it has no trail or has faded to the pruning level).
    pub intensity: Intensity,
    /// Whether it is sensed: above zero and at least the `min` asked for.
    pub sensed: bool,
}

/// A task's signals on a map (seed 003's typed signals) and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskSignalView {
    /// The task's id: its trails' keys without the `:<type>` suffix.
    pub task: String,
    /// Where it stands: `available` means an agent may claim it.
    pub state: TaskSignalState,
    /// Its signals' intensities (0: absent).
    #[serde(flatten)]
    pub signals: TaskSignals,
}

/// A page of a map's tasks, by task id, as of one log time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskSignalPage {
    /// The map.
    pub map: Name,
    /// The log time the signals are read at: the state's last entry.
    pub as_of_ms: u64,
    /// The tasks on this page.
    pub tasks: Vec<TaskSignalView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<String>,
}
