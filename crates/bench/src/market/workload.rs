//! The market scenario's workload: the bids and the winner they imply, how tasks and bids are spread
//! over managers and bidders within the market's limits, the agents, and the books the workload
//! implies.

use colony_core::command::{AnnounceTask, Mint};
use colony_core::{AgentId, Amount, Command, FeeSplit, Fraction, Name, PublicKey};
use colony_wire::KeyPair;

use crate::escrow::Rng;

/// Every task's most it pays.
pub const MAX_COST: u64 = 1_000_000;
/// Every task's deadline from its award.
pub const DEADLINE_MS: u64 = 60_000;
/// Seed 000's weights, in millionths: cost, time, confidence (reputation 0).
pub const WEIGHTS_MICROS: (u64, u64, u64) = (400_000, 300_000, 300_000);
/// Results scored below this are rejected (the default, 0.7).
pub const MIN_SCORE_MICROS: u64 = 700_000;
/// The verifier's score: a pass.
pub const VERIFY_SCORE_MICROS: u64 = 900_000;

/// Tasks one manager has open at once: half the market's limit of open tasks per manager (1,000),
/// so that no wave comes near it; more tasks in flight take more managers.
pub const TASKS_PER_MANAGER: usize = 500;
/// Live bids one bidder has at once: half the market's limit of live bids per bidder (1,000); more
/// bids in flight take more bidders.
pub const BIDS_PER_BIDDER: usize = 500;
/// What the operator mints to each manager: a manager announces only while the `max_cost` of its
/// tasks not yet awarded stays within its balance, and pays every price out of it.
pub const MINT_PER_MANAGER: u64 = 1_000_000_000_000;

/// One bid.
#[derive(Clone, Copy, Debug)]
pub struct BidSpec {
    /// What the bidder asks (distinct within a task, so no two bids tie).
    pub cost: u64,
    /// How long it says it needs.
    pub time_ms: u64,
    /// Its confidence, in millionths.
    pub confidence_micros: u64,
}

impl BidSpec {
    /// Seed 000's score, in millionths, exactly as the market computes it (floors of each term).
    pub fn score_micros(&self) -> u64 {
        let (cost, time, confidence) = WEIGHTS_MICROS;
        cost * (MAX_COST - self.cost) / MAX_COST
            + time * (DEADLINE_MS - self.time_ms) / DEADLINE_MS
            + confidence * self.confidence_micros / 1_000_000
    }
}

/// One task: its bids (slot `s` is placed by [`Layout::bidder`]`(task, s)`) and the winner they imply.
#[derive(Clone, Debug)]
pub struct TaskSpec {
    /// The bids, by slot.
    pub bids: Vec<BidSpec>,
    /// The slot that must win: best score, then lowest cost.
    pub winner: usize,
}

impl TaskSpec {
    fn random(rng: &mut Rng, bids: usize) -> TaskSpec {
        // Distinct costs: one slot of the upper 90% of the range per bid, shuffled.
        let slot = MAX_COST * 9 / 10 / bids as u64;
        let mut slots: Vec<u64> = (0..bids as u64).collect();
        for index in (1..slots.len()).rev() {
            slots.swap(index, rng.below(index as u64 + 1) as usize);
        }
        let bids: Vec<BidSpec> = slots
            .iter()
            .map(|&slot_index| BidSpec {
                cost: MAX_COST / 10 + slot_index * slot + rng.below(slot),
                time_ms: rng.between(DEADLINE_MS / 10, DEADLINE_MS),
                confidence_micros: rng.between(500_000, 1_000_000),
            })
            .collect();
        let winner = best_bid(&bids);
        TaskSpec { bids, winner }
    }

    /// The winning bid.
    pub fn winning(&self) -> BidSpec {
        self.bids[self.winner]
    }
}

/// The winning bid's index: highest score, then lowest cost.
pub fn best_bid(bids: &[BidSpec]) -> usize {
    (0..bids.len())
        .min_by_key(|&index| (std::cmp::Reverse(bids[index].score_micros()), bids[index].cost))
        .expect("at least one bid")
}

/// How one lane's tasks and bids are spread: `tasks` tasks at once, each with `bids_per_task` bids
/// from distinct bidders, over as many managers and bidders as the limits above need. A lane's
/// agents are its managers, then its bidders.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Tasks in flight at once.
    pub tasks: usize,
    /// Bids on each.
    pub bids_per_task: usize,
    /// Managers.
    pub managers: usize,
    /// Bidders.
    pub bidders: usize,
}

impl Layout {
    /// The layout for `tasks` tasks of `bids_per_task` bids each.
    pub fn new(tasks: usize, bids_per_task: usize) -> Layout {
        assert!(tasks > 0 && bids_per_task > 0);
        Layout {
            tasks,
            bids_per_task,
            managers: tasks.div_ceil(TASKS_PER_MANAGER),
            // At least one bidder per slot, so that a task's bids come from distinct bidders.
            bidders: (tasks * bids_per_task).div_ceil(BIDS_PER_BIDDER).max(bids_per_task),
        }
    }

    /// Agents in one lane.
    pub fn agents(&self) -> usize {
        self.managers + self.bidders
    }

    /// The lane's agent (index within the lane) that manages `task`.
    pub fn manager(&self, task: usize) -> usize {
        task % self.managers
    }

    /// The lane's agent that places bid `slot` on `task`: consecutive slots go to consecutive
    /// bidders, so a task's bidders are distinct and every bidder has at most [`BIDS_PER_BIDDER`].
    pub fn bidder(&self, task: usize, slot: usize) -> usize {
        self.managers + (task * self.bids_per_task + slot) % self.bidders
    }

    /// Whether the lane's agent `agent` is a manager.
    pub fn is_manager(&self, agent: usize) -> bool {
        agent < self.managers
    }
}

/// The agents of `lanes` lanes of one layout: lane `l`'s agent `a` is `l * layout.agents() + a`.
pub struct MarketAgents {
    /// Agent ids.
    pub ids: Vec<AgentId>,
    /// Their keys.
    pub keys: Vec<KeyPair>,
    /// Their public keys.
    pub public_keys: Vec<PublicKey>,
    /// The layout of every lane.
    pub layout: Layout,
}

impl MarketAgents {
    /// Agents for `lanes` lanes, with deterministic keys.
    pub fn new(lanes: usize, layout: Layout) -> MarketAgents {
        let ids: Vec<AgentId> = (0..lanes)
            .flat_map(|lane| {
                (0..layout.agents()).map(move |agent| match layout.is_manager(agent) {
                    true => format!("manager-{lane:03}-{agent:04}"),
                    false => format!("bidder-{lane:03}-{:04}", agent - layout.managers),
                })
            })
            .map(|id| AgentId::new(id).expect("a valid agent id"))
            .collect();
        let keys: Vec<KeyPair> = (0..ids.len())
            .map(|index| {
                let mut seed = [0x7au8; 32];
                seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
                KeyPair::from_seed(seed)
            })
            .collect();
        let public_keys = keys.iter().map(KeyPair::public_key).collect();
        MarketAgents { ids, keys, public_keys, layout }
    }

    /// The index of lane `lane`'s agent `agent`.
    pub fn index(&self, lane: usize, agent: usize) -> usize {
        lane * self.layout.agents() + agent
    }

    /// Whether the agent at `index` is a manager (and so funded).
    pub fn is_manager(&self, index: usize) -> bool {
        self.layout.is_manager(index % self.layout.agents())
    }

    /// The operator's commands registering every agent and funding every manager.
    pub fn setup_commands(&self) -> Vec<Command> {
        let registrations = (0..self.ids.len()).map(|index| {
            crate::fixture::scout_registration(&self.ids[index], self.public_keys[index], Default::default(), None)
        });
        let mints = (0..self.ids.len()).filter(|&index| self.is_manager(index)).map(|index| {
            Command::Mint(Mint {
                transfer_id: Name::new(format!("mint-{index:05}")).expect("a valid transfer id"),
                to: self.ids[index].clone(),
                amount: Amount(MINT_PER_MANAGER),
            })
        });
        registrations.chain(mints).collect()
    }
}

/// `rounds` rounds of `layout.tasks` tasks for each of `lanes` lanes: `[lane][round][task]`.
pub fn generate(lanes: usize, rounds: usize, layout: Layout, seed: u64) -> Vec<Vec<Vec<TaskSpec>>> {
    (0..lanes)
        .map(|lane| {
            let mut rng = Rng::new(seed ^ (lane as u64).wrapping_mul(0xa24b_aed4_963e_e407));
            (0..rounds)
                .map(|_| (0..layout.tasks).map(|_| TaskSpec::random(&mut rng, layout.bids_per_task)).collect())
                .collect()
        })
        .collect()
}

/// What the books must say once every lifecycle is done: each agent's change, and the fees.
#[derive(Clone, Debug)]
pub struct Books {
    /// Change of each agent's wallet (agent order).
    pub deltas: Vec<i128>,
    /// Total kept by the fee account.
    pub fees: u128,
    /// Lifecycles.
    pub lifecycles: u64,
}

impl Books {
    /// The books `plans` imply under the fee share `fee_bps` (no referrers: the fee account keeps
    /// the whole fee).
    pub fn of(plans: &[Vec<Vec<TaskSpec>>], agents: &MarketAgents, fee_bps: u16) -> Books {
        let layout = agents.layout;
        let mut books = Books { deltas: vec![0; agents.ids.len()], fees: 0, lifecycles: 0 };
        for (lane, rounds) in plans.iter().enumerate() {
            for (task, spec) in rounds.iter().flat_map(|round| round.iter().enumerate()) {
                let price = spec.winning().cost;
                let (to_payee, to_fees) = Books::split(price, fee_bps);
                books.deltas[agents.index(lane, layout.manager(task))] -= i128::from(price);
                books.deltas[agents.index(lane, layout.bidder(task, spec.winner))] += i128::from(to_payee);
                books.fees += u128::from(to_fees);
                books.lifecycles += 1;
            }
        }
        books
    }

    /// One release's split without a referrer: (to the payee, to the fee account).
    pub fn split(amount: u64, fee_bps: u16) -> (u64, u64) {
        let split = FeeSplit::compute(Amount(amount), fee_bps, 0, false);
        (split.payee.0, split.fees.0)
    }

    /// What agent `index` must hold: its mint plus its change.
    pub fn expected_balance(&self, agents: &MarketAgents, index: usize) -> i128 {
        let initial = if agents.is_manager(index) { i128::from(MINT_PER_MANAGER) } else { 0 };
        initial + self.deltas[index]
    }
}

/// A task announced with the scenario's terms, its bidding window `bid_window_ms`.
pub fn announce_command(task_id: Name, bid_window_ms: u64) -> Command {
    Command::AnnounceTask(AnnounceTask {
        task_id,
        kind: Name::new("analyze").expect("a valid kind"),
        required_capabilities: Default::default(),
        payload: None,
        reference: None,
        max_cost: Amount(MAX_COST),
        deadline_ms: DEADLINE_MS,
        bid_window_ms,
        weights: Default::default(),
        verifier: None,
        arbiter: None,
        min_score: fraction(MIN_SCORE_MICROS),
        max_retries: 3,
        priority: 0,
        depends_on: Vec::new(),
        on_dependency_failure: Default::default(),
        payer: None,
        invited: Default::default(),
        verify_window_ms: colony_core::limits::VERIFY_WINDOW_MS_DEFAULT,
        distribution: Default::default(),
        estimated_load: colony_core::limits::TASK_LOAD_DEFAULT,
    })
}

/// A fraction from millionths.
pub fn fraction(micros: u64) -> Fraction {
    Fraction::from_micros(u32::try_from(micros).expect("millionths")).expect("at most one")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bids_never_tie_and_the_winner_has_the_best_score() {
        for lane in generate(2, 3, Layout::new(40, 10), 9) {
            for task in lane.into_iter().flatten() {
                let mut costs: Vec<u64> = task.bids.iter().map(|bid| bid.cost).collect();
                costs.sort_unstable();
                costs.dedup();
                assert_eq!(costs.len(), 10);
                assert!(costs.iter().all(|&cost| 0 < cost && cost <= MAX_COST));
                let best = task.winning().score_micros();
                assert!(task.bids.iter().all(|bid| bid.score_micros() <= best));
            }
        }
    }

    #[test]
    fn the_score_floors_each_weighted_term() {
        // 0.4 × (1 − 0.2) + 0.3 × (1 − 30 s / 60 s) + 0.3 × 0.9 = 0.32 + 0.15 + 0.27.
        let bid = BidSpec { cost: 200_000, time_ms: 30_000, confidence_micros: 900_000 };
        assert_eq!(bid.score_micros(), 740_000);
        // 0.4 × (1 − 333,333 / 1,000,000) = 0.2666668 floors to 266,666; a third of 0.3 floors to 100,000.
        let bid = BidSpec { cost: 333_333, time_ms: 40_000, confidence_micros: 0 };
        assert_eq!(bid.score_micros(), 266_666 + 100_000);
        let bid = BidSpec { cost: MAX_COST, time_ms: DEADLINE_MS, confidence_micros: 1_000_000 };
        assert_eq!(bid.score_micros(), 300_000);
    }

    #[test]
    fn the_layout_keeps_within_the_limits_and_bidders_distinct() {
        for (tasks, bids) in [(1, 10), (37, 10), (1_000, 10), (10_000, 100)] {
            let layout = Layout::new(tasks, bids);
            let mut per_manager = vec![0usize; layout.agents()];
            let mut per_bidder = vec![0usize; layout.agents()];
            for task in 0..tasks {
                per_manager[layout.manager(task)] += 1;
                let mut bidders: Vec<usize> = (0..bids).map(|slot| layout.bidder(task, slot)).collect();
                for &bidder in &bidders {
                    assert!(!layout.is_manager(bidder) && bidder < layout.agents());
                    per_bidder[bidder] += 1;
                }
                bidders.sort_unstable();
                bidders.dedup();
                assert_eq!(bidders.len(), bids, "a task's bids come from distinct bidders");
            }
            assert!(per_manager.iter().all(|&count| count <= TASKS_PER_MANAGER));
            assert!(per_bidder.iter().all(|&count| count <= BIDS_PER_BIDDER));
            assert!(u128::from(MAX_COST) * TASKS_PER_MANAGER as u128 <= u128::from(MINT_PER_MANAGER));
        }
    }

    #[test]
    fn the_books_conserve_money() {
        let layout = Layout::new(30, 10);
        let plans = generate(3, 2, layout, 5);
        let agents = MarketAgents::new(3, layout);
        let books = Books::of(&plans, &agents, 100);
        assert_eq!(books.lifecycles, 180);
        assert_eq!(books.deltas.iter().sum::<i128>() + books.fees as i128, 0);
        let (payee, fees) = Books::split(123_456, 100);
        assert_eq!((payee, fees), (122_222, 1_234));
    }
}
