//! Colony's side of the lifecycle rows: lanes of lifecycles run as waves, through the driver or
//! through `POST /v1/batch`.
//!
//! Each lane owns its managers and bidders (so each agent's nonces reach the server in order) and
//! runs rounds of five waves over `layout.tasks` tasks at once: every manager sends one envelope
//! announcing its tasks; every bidder one envelope with its bids on all of them; every manager one
//! envelope awarding its tasks (each award locks the price from the manager's wallet); every
//! winner one envelope submitting its results; every manager one envelope verifying them (which
//! releases each escrow). A wave's envelopes are all in flight together; the next wave starts when
//! the last is durable and applied (it needs the task ids and winners). Lanes run concurrently, so
//! one lane's waves share group commits with the others'. Every envelope is signed inside the
//! round, as a real client would; the winners are the client's prediction, and a submit by anyone
//! else would be refused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use colony_core::bus::JsonText;
use colony_core::command::{AwardTask, PlaceBid, SubmitResult, VerifyResult};
use colony_core::{Amount, Command, Name, Signer};
use colony_wire::Envelope;

use super::workload::{Layout, MarketAgents, TaskSpec, VERIFY_SCORE_MICROS, announce_command, fraction};
use crate::fixture::{Measurement, Presigned, Surface, TaskTally};

/// The bidding window of the lifecycle rows: far beyond any run, so that only `task.award` closes it.
const BID_WINDOW_MS: u64 = 3_600_000;

/// The waves of a round, in order.
pub const WAVES: [&str; 5] = ["announce", "bid", "award + lock", "submit", "verify + release"];

/// A finished run of lanes.
pub struct WaveRun {
    /// Lifecycles per second; one latency per round (announce wave sent → verify wave applied).
    pub measurement: Measurement,
    /// Each wave's durations, over every lane and round, sorted.
    pub waves_us: [Vec<u32>; 5],
    /// Wall time inside the client's signing, summed over lanes.
    pub signing: Duration,
}

struct Lane {
    surface: Surface,
    agents: Arc<MarketAgents>,
    lane: usize,
    /// The next nonce of each of the lane's agents.
    nonces: Vec<u64>,
    signing: Duration,
    waves_us: [Vec<u32>; 5],
}

impl Lane {
    fn sign(&mut self, agent: usize, commands: Vec<Command>) -> Presigned {
        let started = Instant::now();
        let index = self.agents.index(self.lane, agent);
        self.nonces[agent] += 1;
        let envelope =
            Envelope { signer: Signer::Agent(self.agents.ids[index].clone()), nonce: self.nonces[agent], commands };
        let signed = envelope.sign(&self.agents.keys[index]);
        self.signing += started.elapsed();
        Presigned { envelope, signed, key: self.agents.public_keys[index] }
    }

    /// Signs each agent's commands (agents without any send nothing), sends every envelope at once
    /// and waits for all. Returns, per task, what its command created (in `tasks` order within each
    /// agent's envelope).
    async fn wave(
        &mut self,
        wave: usize,
        commands: Vec<Vec<(usize, Command)>>,
    ) -> Result<Vec<(usize, crate::fixture::Created)>, String> {
        let started = Instant::now();
        let mut envelopes = Vec::new();
        for (agent, commands) in commands.into_iter().enumerate() {
            if commands.is_empty() {
                continue;
            }
            let (tasks, commands): (Vec<usize>, Vec<Command>) = commands.into_iter().unzip();
            envelopes.push((tasks, self.sign(agent, commands)));
        }
        let surface = &self.surface;
        let answers = futures_util::future::try_join_all(envelopes.into_iter().map(|(tasks, presigned)| async move {
            surface.send(presigned).await.map(|created| tasks.into_iter().zip(created).collect::<Vec<_>>())
        }))
        .await
        .map_err(|error| format!("{}: {error}", WAVES[wave]))?;
        self.waves_us[wave].push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        Ok(answers.into_iter().flatten().collect())
    }

    /// One round: the five waves over `specs`.
    async fn round(&mut self, round: usize, specs: &[TaskSpec]) -> Result<(), String> {
        let layout: Layout = self.agents.layout;
        let per_agent = || -> Vec<Vec<(usize, Command)>> { vec![Vec::new(); layout.agents()] };

        let mut announces = per_agent();
        for task in 0..specs.len() {
            let name = Name::new(format!("task-{round:05}-{task:05}")).expect("a valid task id");
            announces[layout.manager(task)].push((task, announce_command(name, BID_WINDOW_MS)));
        }
        let mut ids = vec![0u64; specs.len()];
        for (task, created) in self.wave(0, announces).await? {
            ids[task] = created.task.ok_or("announce: no task id in the result")?;
        }

        let mut bids = per_agent();
        for (task, spec) in specs.iter().enumerate() {
            for (slot, bid) in spec.bids.iter().enumerate() {
                let command = Command::PlaceBid(PlaceBid {
                    task: ids[task],
                    estimated_cost: Amount(bid.cost),
                    estimated_time_ms: bid.time_ms,
                    confidence: fraction(bid.confidence_micros),
                    capability_proof: None,
                });
                bids[layout.bidder(task, slot)].push((task, command));
            }
        }
        self.wave(1, bids).await?;

        let mut awards = per_agent();
        for task in 0..specs.len() {
            awards[layout.manager(task)].push((task, Command::AwardTask(AwardTask { task: ids[task] })));
        }
        self.wave(2, awards).await?;

        let mut submits = per_agent();
        for (task, spec) in specs.iter().enumerate() {
            let command = Command::SubmitResult(SubmitResult {
                task: ids[task],
                result: Some(JsonText::string("done")),
                reference: None,
                actual_cost: Amount(spec.winning().cost / 2),
            });
            submits[layout.bidder(task, spec.winner)].push((task, command));
        }
        self.wave(3, submits).await?;

        let mut verifies = per_agent();
        for task in 0..specs.len() {
            let command = Command::VerifyResult(VerifyResult { task: ids[task], score: fraction(VERIFY_SCORE_MICROS) });
            verifies[layout.manager(task)].push((task, command));
        }
        self.wave(4, verifies).await?;
        Ok(())
    }

    async fn run(mut self, rounds: Vec<Vec<TaskSpec>>) -> (TaskTally, Duration, [Vec<u32>; 5]) {
        let mut tally = TaskTally::default();
        for (round, specs) in rounds.iter().enumerate() {
            let started = Instant::now();
            match self.round(round, specs).await {
                Ok(()) => tally.success(started.elapsed(), specs.len()),
                Err(error) => tally.failure(started.elapsed(), || error),
            }
        }
        (tally, self.signing, self.waves_us)
    }
}

/// Runs every lane's rounds on `surface`, lanes concurrently; nonces start at `start_nonce`.
pub async fn run(
    surface: Surface,
    agents: Arc<MarketAgents>,
    plans: Vec<Vec<Vec<TaskSpec>>>,
    start_nonce: u64,
) -> WaveRun {
    let started = Instant::now();
    let lanes: Vec<_> = plans
        .into_iter()
        .enumerate()
        .map(|(lane, rounds)| {
            let lane = Lane {
                surface: surface.clone(),
                nonces: vec![start_nonce; agents.layout.agents()],
                agents: Arc::clone(&agents),
                lane,
                signing: Duration::ZERO,
                waves_us: Default::default(),
            };
            tokio::spawn(lane.run(rounds))
        })
        .collect();
    let mut tallies = Vec::with_capacity(lanes.len());
    let mut signing = Duration::ZERO;
    let mut waves_us: [Vec<u32>; 5] = Default::default();
    for lane in lanes {
        let (tally, lane_signing, lane_waves) = lane.await.expect("lane task");
        tallies.push(tally);
        signing += lane_signing;
        for (all, lane) in waves_us.iter_mut().zip(lane_waves) {
            all.extend(lane);
        }
    }
    for wave in &mut waves_us {
        wave.sort_unstable();
    }
    WaveRun { measurement: Measurement::from_tallies(started.elapsed(), tallies), waves_us, signing }
}
