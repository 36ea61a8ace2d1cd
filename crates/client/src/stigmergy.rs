//! Typed helpers for pheromone maps: creating, configuring and deleting maps, deposits, and the
//! reads (maps, the strongest trails, one trail sensed).

use colony_core::command::{ConfigureMap, CreateMap, DeleteMap, Deposit};
use colony_core::stigmergy::{Depositors, TaskSignal};
use colony_core::{Command, Intensity, Name, SignalKey};
use colony_wire::stigmergy::{PheromoneMapPage, PheromoneMapView, SignalView, TaskSignalPage, TopTrailsView};
use colony_wire::views::SubmitResponse;

use crate::{Client, ClientError};

impl Client {
    /// Creates a pheromone map (the same create again is accepted as `unchanged`).
    pub async fn create_pheromone_map(&self, create: CreateMap) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::CreateMap(create)).await
    }

    /// Changes who may deposit on a map (as its creator or the operator).
    pub async fn configure_pheromone_map(
        &self,
        map: Name,
        depositors: Depositors,
    ) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::ConfigureMap(ConfigureMap { map, depositors })).await
    }

    /// Deletes a map with its trails (as its creator or the operator).
    pub async fn delete_pheromone_map(&self, map: Name) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::DeleteMap(DeleteMap { map })).await
    }

    /// Reinforces a trail; returns its intensity after the deposit, `min(cap, current + strength)`.
    pub async fn deposit_pheromone(
        &self,
        map: Name,
        key: SignalKey,
        strength: Intensity,
    ) -> Result<Intensity, ClientError> {
        self.deposit_pheromone_unless(map, key, strength, Vec::new()).await
    }

    /// Reinforces a trail only if none of `unless_present` is above the map's pruning level, in the
    /// same entry (refused `signal_present` otherwise); returns its intensity after the deposit.
    pub async fn deposit_pheromone_unless(
        &self,
        map: Name,
        key: SignalKey,
        strength: Intensity,
        unless_present: Vec<SignalKey>,
    ) -> Result<Intensity, ClientError> {
        let response = self.submit_one(Command::Deposit(Deposit { map, key, strength, unless_present })).await?;
        response
            .results
            .first()
            .and_then(|result| result.intensity)
            .ok_or_else(|| ClientError::Decode("the deposit's result carries no intensity".to_owned()))
    }

    /// Seed 003's claim: deposits `<task>:claimed` unless `<task>:claimed` or `<task>:completed` is
    /// present, so one agent wins a race for a task; the claim lives while its holder reinforces it.
    pub async fn claim_task_signal(
        &self,
        map: Name,
        task: &str,
        strength: Intensity,
    ) -> Result<Intensity, ClientError> {
        let key = |signal: TaskSignal| {
            SignalKey::new(format!("{task}:{}", signal.suffix()))
                .map_err(|error| ClientError::Invalid(format!("task '{task}': {error}")))
        };
        let claimed = key(TaskSignal::Claimed)?;
        let unless = vec![claimed.clone(), key(TaskSignal::Completed)?];
        self.deposit_pheromone_unless(map, claimed, strength, unless).await
    }

    /// Tasks with signals on a map, by task id, with where each stands. `query` is a URL query
    /// string without `?` (`state=available&limit=10`).
    pub async fn task_signals(&self, map: &Name, query: &str) -> Result<TaskSignalPage, ClientError> {
        let path = if query.is_empty() {
            format!("/v1/pheromones/{map}/tasks")
        } else {
            format!("/v1/pheromones/{map}/tasks?{query}")
        };
        self.get(&path).await
    }

    /// One page of maps by name. `query` is a URL query string without `?` (`after=signals&limit=10`).
    pub async fn pheromone_maps(&self, query: &str) -> Result<PheromoneMapPage, ClientError> {
        let path = if query.is_empty() { "/v1/pheromones".to_owned() } else { format!("/v1/pheromones?{query}") };
        self.get(&path).await
    }

    /// One map's terms and counts.
    pub async fn pheromone_map(&self, map: &Name) -> Result<PheromoneMapView, ClientError> {
        self.get(&format!("/v1/pheromones/{map}")).await
    }

    /// The `n` strongest trails of a map at the state's log time.
    pub async fn top_trails(&self, map: &Name, n: usize) -> Result<TopTrailsView, ClientError> {
        self.get(&format!("/v1/pheromones/{map}/top?n={n}")).await
    }

    /// One trail's intensity at the state's log time, and whether it reaches `min`.
    pub async fn sense_trail(&self, map: &Name, key: &SignalKey, min: Intensity) -> Result<SignalView, ClientError> {
        self.get(&format!("/v1/pheromones/{map}/signals/{key}?min={min}")).await
    }
}
