//! Task market commands for generated streams.
//!
//! Tasks are named by a small pool of task ids ([`MARKET_TASK_IDS`]) so that managers re-announce
//! them (the same terms or others: a conflict), depend on each other and on themselves. Commands name
//! the task they act on relative to the state the stream has reached ([`TaskRef`]): mostly one the
//! signer has the right part in (an open task of another manager for a bid, a task the signer won for
//! accept, decline, progress and submit, a submitted task it verifies), so that flows reach their
//! end; sometimes any task at all or one that does not exist, so that every refusal shows up too.
//! Prices are small against the prelude's mints, bid windows short and deadlines often shorter than
//! generated pauses, so that windows close, awards lock escrows, deadlines pass and tasks are retried.

use std::collections::BTreeSet;

use colony_core::bus::JsonText;
use colony_core::command::{
    AcceptTask, AnnounceBatch, AnnounceTask, AwardTask, CancelTask, DeclareCapacity, DeclineTask, PlaceBid,
    ReportProgress, SubmitResult, VerifyResult, WithdrawBid,
};
use colony_core::market::{ContentReference, DependencyFailure, Distribution, ScoringWeights, Task, TaskState};
use colony_core::{AgentId, Amount, Command, Fraction, State};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::keys::{digest_for, name};
use super::strategies::{AgentRef, CAPABILITY_CANDIDATES, CommandSpec, reason};

/// Task kinds announced: the default configuration's three, then one no configuration generated
/// here names.
pub const TASK_KINDS: [&str; 4] = ["analyze", "execute", "monitor", "forecast"];

/// Task ids managers announce under.
pub const MARKET_TASK_IDS: [&str; 4] = ["job-0", "job-1", "job-2", "job-3"];

/// A task a market command acts on, relative to the state the entries before lead to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskRef {
    /// The one at this index (wrapping, in id order) among the tasks in which the signer has the part
    /// the command needs: see [`MarketSpec`]. Any task when there is none.
    Part(usize),
    /// The one at this index (wrapping) among all tasks, newest first.
    Any(usize),
    /// A task id that was never handed out.
    Missing,
}

/// An announcement's terms, abstractly.
#[derive(Clone, Debug)]
pub struct AnnounceSpec {
    /// The index of its task id in [`MARKET_TASK_IDS`].
    pub task_id: usize,
    /// The index of a required capability in [`CAPABILITY_CANDIDATES`].
    pub capability: Option<usize>,
    /// The most the manager pays (possibly zero, or more than any wallet holds).
    pub max_cost: u64,
    /// The deadline (possibly zero, which is refused).
    pub deadline_ms: u64,
    /// The bidding window.
    pub bid_window_ms: u64,
    /// The verifier, when not the manager.
    pub verifier: Option<AgentRef>,
    /// The arbiter, when not the operator.
    pub arbiter: Option<AgentRef>,
    /// The minimum score, in millionths.
    pub min_score_micros: u32,
    /// Retries allowed.
    pub max_retries: u32,
    /// Indexes in [`MARKET_TASK_IDS`] of the tasks it depends on (possibly itself or unknown ones).
    pub depends_on: Vec<usize>,
    /// Skip failed dependencies instead of failing.
    pub skip_failed_dependencies: bool,
    /// The paying wallet, when not the manager's.
    pub payer: Option<AgentRef>,
    /// Invited bidders.
    pub invited: Vec<AgentRef>,
    /// How long the verifier has.
    pub verify_window_ms: u64,
    /// Whether the weights add up to one.
    pub valid_weights: bool,
    /// The index of its kind in [`TASK_KINDS`]: the default configuration's, then one it lacks.
    pub kind: usize,
    /// Assigned directly rather than auctioned.
    pub direct: bool,
    /// Its load in units (0 and above the limit are refused).
    pub estimated_load: u32,
}

/// A batch announcement, abstractly.
#[derive(Clone, Debug)]
pub struct BatchSpec {
    /// The index of its id in [`MARKET_BATCH_IDS`].
    pub batch_id: usize,
    /// How many items (0 is refused).
    pub items: u32,
    /// Items per batch (0 is refused).
    pub batch_size: u32,
    /// Agents each batch is split over (0 is refused).
    pub agents: u32,
    /// What one item pays.
    pub max_cost_per_item: u64,
    /// Items inline (`true`) or by reference.
    pub inline: bool,
    /// The deadline of each chunk.
    pub deadline_ms: u64,
}

/// Batch ids managers announce under: few, so that a batch is announced again (a conflict).
pub const MARKET_BATCH_IDS: [&str; 2] = ["sweep-0", "sweep-1"];

/// A market command, abstractly. The part a [`TaskRef::Part`] looks for: an open task of another
/// manager (bid), a task with a live bid of the signer (withdraw), an open or awarded task the signer
/// manages (award, cancel), a task whose current winner is the signer (accept, decline, progress,
/// submit), a submitted task the signer verifies (verify).
#[derive(Clone, Debug)]
pub enum MarketSpec {
    /// `task.announce`.
    Announce(AnnounceSpec),
    /// `task.bid`.
    Bid {
        /// The task.
        task: TaskRef,
        /// The price in thousandths of the task's `max_cost` (0 and above 1,000 are refused).
        cost_permille: u64,
        /// The time in thousandths of the task's deadline (above 1,000 is refused).
        time_permille: u64,
        /// The confidence, in millionths.
        confidence_micros: u32,
    },
    /// `task.withdraw_bid`.
    Withdraw {
        /// The task.
        task: TaskRef,
    },
    /// `task.award`.
    Award {
        /// The task.
        task: TaskRef,
    },
    /// `task.accept`.
    Accept {
        /// The task.
        task: TaskRef,
    },
    /// `task.decline`.
    Decline {
        /// The task.
        task: TaskRef,
    },
    /// `task.progress`.
    Progress {
        /// The task.
        task: TaskRef,
        /// Percent done (above 100 is refused).
        percent: u8,
    },
    /// `task.submit`.
    Submit {
        /// The task.
        task: TaskRef,
        /// Inline (`true`) or by reference.
        inline: bool,
    },
    /// `task.verify`.
    Verify {
        /// The task.
        task: TaskRef,
        /// The score, in millionths.
        score_micros: u32,
    },
    /// `task.cancel`.
    Cancel {
        /// The task.
        task: TaskRef,
        /// Why (possibly too long).
        reason: String,
    },
    /// `task.announce_batch`.
    Batch(BatchSpec),
    /// `task.capacity`.
    Capacity {
        /// The capacity declared (above the limit is refused).
        max_load: u32,
    },
}

/// Mostly a task the signer has a part in, sometimes any task, rarely a missing one.
pub fn task_ref() -> BoxedStrategy<TaskRef> {
    prop_oneof![
        12 => (0..4usize).prop_map(TaskRef::Part),
        3 => (0..4usize).prop_map(TaskRef::Any),
        1 => Just(TaskRef::Missing),
    ]
    .boxed()
}

/// Announcements with small prices, short windows and deadlines, mostly without conditions on who
/// bids; sometimes with capabilities, invitations, dependencies, a child paying, another verifier,
/// and now and then terms that are refused.
pub fn announce_spec(pool: usize) -> BoxedStrategy<MarketSpec> {
    let others = 0..pool.saturating_sub(1).max(1);
    let money = (
        prop_oneof![1 => Just(0u64), 30 => 1..=500u64, 2 => 1_000_000..=100_000_000u64],
        prop_oneof![1 => Just(0u64), 2 => select([2_000u64, 10_000].as_slice()), 8 => 10_000..=300_000u64],
        prop_oneof![1 => Just(0u64), 2 => 1..=5_000u64, 8 => 30_000..=180_000u64],
        prop_oneof![10 => Just(700_000u32), 4 => 0..=1_000_000u32],
        0..=3u32,
        prop_oneof![4 => Just(3_600_000u64), 2 => select([1_000u64, 30_000].as_slice())],
        proptest::bool::weighted(0.97),
        proptest::bool::weighted(0.3),
        prop_oneof![20 => Just(1u32), 4 => 1..=4u32, 1 => Just(0u32), 1 => Just(101u32)],
    );
    let conditions = (
        0..MARKET_TASK_IDS.len(),
        proptest::option::weighted(0.12, 0..CAPABILITY_CANDIDATES.len()),
        proptest::option::weighted(0.15, others.clone().prop_map(AgentRef::Other)),
        proptest::option::weighted(0.08, others.clone().prop_map(AgentRef::Other)),
        prop_oneof![6 => Just(Vec::new()), 1 => vec(0..MARKET_TASK_IDS.len(), 1..=2)],
        any::<bool>(),
        proptest::option::weighted(0.1, (0..pool.max(1)).prop_map(AgentRef::Child)),
        prop_oneof![6 => Just(Vec::new()), 1 => vec(others.prop_map(AgentRef::Other), 1..=2)],
        prop_oneof![30 => 0..3usize, 1 => Just(3usize)],
    );
    (money, conditions)
        .prop_map(
            |(
                (
                    max_cost,
                    deadline_ms,
                    bid_window_ms,
                    min_score_micros,
                    max_retries,
                    verify_window_ms,
                    valid_weights,
                    direct,
                    estimated_load,
                ),
                (task_id, capability, verifier, arbiter, depends_on, skip_failed_dependencies, payer, invited, kind),
            )| {
                MarketSpec::Announce(AnnounceSpec {
                    task_id,
                    capability,
                    max_cost,
                    deadline_ms,
                    bid_window_ms,
                    verifier,
                    arbiter,
                    min_score_micros,
                    max_retries,
                    depends_on,
                    skip_failed_dependencies,
                    payer,
                    invited,
                    verify_window_ms,
                    valid_weights,
                    kind,
                    direct,
                    estimated_load,
                })
            },
        )
        .boxed()
}

/// Batches of a few items over a few agents, inline or by reference, sometimes refused.
pub fn batch_spec() -> BoxedStrategy<MarketSpec> {
    (
        0..MARKET_BATCH_IDS.len(),
        prop_oneof![1 => Just(0u32), 12 => 1..=12u32],
        prop_oneof![1 => Just(0u32), 12 => 1..=5u32],
        prop_oneof![1 => Just(0u32), 12 => 1..=3u32],
        prop_oneof![1 => Just(0u64), 12 => 1..=20u64],
        any::<bool>(),
        prop_oneof![1 => Just(2_000u64), 4 => 30_000..=180_000u64],
    )
        .prop_map(|(batch_id, items, batch_size, agents, max_cost_per_item, inline, deadline_ms)| {
            MarketSpec::Batch(BatchSpec { batch_id, items, batch_size, agents, max_cost_per_item, inline, deadline_ms })
        })
        .boxed()
}

/// Bids mostly inside the task's terms, sometimes above its price or past its deadline.
pub fn bid_spec() -> BoxedStrategy<MarketSpec> {
    (
        task_ref(),
        prop_oneof![1 => Just(0u64), 12 => 1..=1_000u64, 1 => 1_001..=2_000u64],
        prop_oneof![12 => 0..=1_000u64, 1 => 1_001..=2_000u64],
        0..=1_000_000u32,
    )
        .prop_map(|(task, cost_permille, time_permille, confidence_micros)| MarketSpec::Bid {
            task,
            cost_permille,
            time_permille,
            confidence_micros,
        })
        .boxed()
}

/// Scores around the usual minimum of 0.7, some well above or below it.
pub fn score_micros() -> BoxedStrategy<u32> {
    prop_oneof![
        3 => 650_000..=1_000_000u32,
        1 => 0..=1_000_000u32,
        1 => select([699_999u32, 700_000].as_slice()),
    ]
    .boxed()
}

/// What a task's winner sends, for envelopes signed by a winner: accept, progress, submit, decline.
pub fn worker_commands() -> Vec<(u32, BoxedStrategy<CommandSpec>)> {
    let market = |strategy: BoxedStrategy<MarketSpec>| strategy.prop_map(CommandSpec::Market).boxed();
    let part = || (0..4usize).prop_map(TaskRef::Part);
    vec![
        (8, market(part().prop_map(|task| MarketSpec::Accept { task }).boxed())),
        (8, market((part(), 0..=100u8).prop_map(|(task, percent)| MarketSpec::Progress { task, percent }).boxed())),
        (
            8,
            market(
                (part(), proptest::bool::weighted(0.7))
                    .prop_map(|(task, inline)| MarketSpec::Submit { task, inline })
                    .boxed(),
            ),
        ),
        (2, market(part().prop_map(|task| MarketSpec::Decline { task }).boxed())),
    ]
}

/// Every market command, weighted so that most announced tasks are bid on and carried through.
pub fn market_commands(pool: usize) -> Vec<(u32, BoxedStrategy<CommandSpec>)> {
    let market = |strategy: BoxedStrategy<MarketSpec>| strategy.prop_map(CommandSpec::Market).boxed();
    vec![
        (12, market(announce_spec(pool))),
        (20, market(bid_spec())),
        (1, market(task_ref().prop_map(|task| MarketSpec::Withdraw { task }).boxed())),
        // Managers award early often: generated pauses rarely outlast a bidding window, and the
        // flows after the award (accept, progress, submit, verify) need awarded tasks.
        (6, market(task_ref().prop_map(|task| MarketSpec::Award { task }).boxed())),
        (8, market(task_ref().prop_map(|task| MarketSpec::Accept { task }).boxed())),
        (4, market(task_ref().prop_map(|task| MarketSpec::Decline { task }).boxed())),
        (
            8,
            market(
                (task_ref(), prop_oneof![10 => 0..=100u8, 1 => 101..=u8::MAX])
                    .prop_map(|(task, percent)| MarketSpec::Progress { task, percent })
                    .boxed(),
            ),
        ),
        (
            8,
            market(
                (task_ref(), proptest::bool::weighted(0.7))
                    .prop_map(|(task, inline)| MarketSpec::Submit { task, inline })
                    .boxed(),
            ),
        ),
        (
            8,
            market(
                (task_ref(), score_micros())
                    .prop_map(|(task, score_micros)| MarketSpec::Verify { task, score_micros })
                    .boxed(),
            ),
        ),
        (1, market((task_ref(), reason()).prop_map(|(task, reason)| MarketSpec::Cancel { task, reason }).boxed())),
        (1, market(batch_spec())),
        (
            1,
            market(
                prop_oneof![4 => 0..=12u32, 1 => Just(colony_core::limits::AGENT_CAPACITY_MAX + 1)]
                    .prop_map(|max_load| MarketSpec::Capacity { max_load })
                    .boxed(),
            ),
        ),
    ]
}

/// Renders a market command against `state`, signed by `signer` (an agent, or `None` for the
/// operator), with `resolve` turning agent references into ids.
pub fn render_market(
    state: &State,
    signer: Option<&AgentId>,
    spec: &MarketSpec,
    resolve: &dyn Fn(AgentRef) -> AgentId,
) -> Command {
    let task_for =
        |task: TaskRef, part: &dyn Fn(&Task, &AgentId) -> bool| -> u64 { resolve_task(state, signer, task, part) };
    match spec {
        MarketSpec::Announce(spec) => Command::AnnounceTask(announce(spec, resolve)),
        MarketSpec::Bid { task, cost_permille, time_permille, confidence_micros } => {
            let id = task_for(*task, &|task, agent| {
                task.state == TaskState::Open
                    && task.closes_at_ms.is_some_and(|closes| closes > state.timestamp_ms() + 1_000)
                    && !is_party(task, agent)
                    && !task.excluded.contains(agent)
            });
            let (max_cost, deadline_ms) =
                state.market().task(id).map_or((100, 10_000), |task| (task.terms.max_cost.0, task.terms.deadline_ms));
            let estimated_cost = scale(max_cost, *cost_permille);
            // A bid of zero is only asked for on purpose.
            let estimated_cost = if *cost_permille > 0 { estimated_cost.max(1) } else { 0 };
            Command::PlaceBid(PlaceBid {
                task: id,
                estimated_cost: Amount(estimated_cost),
                estimated_time_ms: scale(deadline_ms, *time_permille),
                confidence: Fraction::from_micros(*confidence_micros).unwrap_or(Fraction::ONE),
                capability_proof: (*confidence_micros % 2 == 0).then(|| digest_for("capability-proof")),
            })
        }
        MarketSpec::Withdraw { task } => {
            Command::WithdrawBid(WithdrawBid { task: task_for(*task, &|task, agent| task.bids.contains_key(agent)) })
        }
        MarketSpec::Award { task } => Command::AwardTask(AwardTask {
            task: task_for(*task, &|task, agent| &task.manager == agent && task.state == TaskState::Open),
        }),
        MarketSpec::Accept { task } => Command::AcceptTask(AcceptTask { task: task_for(*task, &is_winner) }),
        MarketSpec::Decline { task } => Command::DeclineTask(DeclineTask { task: task_for(*task, &is_winner) }),
        MarketSpec::Progress { task, percent } => Command::ReportProgress(ReportProgress {
            // Progress is reported on accepted work; an award not yet accepted is refused.
            task: task_for(*task, &|task, agent| task.state == TaskState::Running && is_winner(task, agent)),
            percent: *percent,
            note: String::from("halfway"),
        }),
        MarketSpec::Submit { task, inline } => {
            let (result, reference) = if *inline {
                (Some(JsonText::parse(r#"{"signal":"buy"}"#).expect("valid JSON")), None)
            } else {
                let reference = colony_core::market::ContentReference {
                    uri: String::from("s3://results/one"),
                    sha256: digest_for("result"),
                };
                (None, Some(reference))
            };
            Command::SubmitResult(SubmitResult {
                task: task_for(*task, &is_winner),
                result,
                reference,
                actual_cost: Amount(3),
            })
        }
        MarketSpec::Verify { task, score_micros } => Command::VerifyResult(VerifyResult {
            task: task_for(*task, &|task, agent| task.verifier() == agent && task.state == TaskState::Submitted),
            score: Fraction::from_micros(*score_micros).unwrap_or(Fraction::ONE),
        }),
        MarketSpec::Cancel { task, reason } => Command::CancelTask(CancelTask {
            task: task_for(*task, &|task, agent| {
                &task.manager == agent
                    && matches!(task.state, TaskState::Open | TaskState::Awarded | TaskState::Waiting)
            }),
            reason: reason.clone(),
        }),
        MarketSpec::Batch(spec) => Command::AnnounceBatch(batch(spec)),
        MarketSpec::Capacity { max_load } => Command::DeclareCapacity(DeclareCapacity { max_load: *max_load }),
    }
}

fn batch(spec: &BatchSpec) -> AnnounceBatch {
    let (items, item_count, reference) = if spec.inline {
        let items = (0..spec.items).map(|index| JsonText::parse(&index.to_string()).expect("a number")).collect();
        (Some(items), None, None)
    } else {
        let reference = ContentReference { uri: String::from("s3://batches/one"), sha256: digest_for("batch") };
        (None, Some(spec.items), Some(reference))
    };
    AnnounceBatch {
        batch_id: name(MARKET_BATCH_IDS[spec.batch_id]),
        kind: name("analyze"),
        required_capabilities: BTreeSet::new(),
        items,
        item_count,
        reference,
        batch_size: spec.batch_size,
        agents: spec.agents,
        max_cost_per_item: Amount(spec.max_cost_per_item),
        deadline_ms: spec.deadline_ms,
        bid_window_ms: 2_000,
        verifier: None,
        arbiter: None,
        min_score: Fraction::from_micros(700_000).expect("at most one"),
        max_retries: 1,
        priority: u8::try_from(spec.items % 3).expect("small"),
        payer: None,
        invited: BTreeSet::new(),
        verify_window_ms: 30_000,
        estimated_load: 1,
    }
}

fn scale(whole: u64, permille: u64) -> u64 {
    u64::try_from(u128::from(whole) * u128::from(permille) / 1_000).unwrap_or(u64::MAX)
}

fn is_party(task: &Task, agent: &AgentId) -> bool {
    agent == &task.manager
        || agent == &task.terms.payer
        || Some(agent) == task.terms.verifier.as_ref()
        || Some(agent) == task.terms.arbiter.as_ref()
}

fn is_winner(task: &Task, agent: &AgentId) -> bool {
    !task.state.is_terminal() && task.current_attempt().is_some_and(|attempt| &attempt.winner == agent)
}

fn resolve_task(state: &State, signer: Option<&AgentId>, task: TaskRef, part: &dyn Fn(&Task, &AgentId) -> bool) -> u64 {
    let market = state.market();
    let newest_first: Vec<u64> = market.tasks().rev().map(|task| task.id).collect();
    let any = |index: usize| match newest_first.len() {
        0 => 0,
        count => newest_first[index % count],
    };
    match task {
        TaskRef::Missing => u64::MAX,
        TaskRef::Any(index) => any(index),
        TaskRef::Part(index) => {
            let Some(signer) = signer else { return any(index) };
            let candidates: Vec<u64> = market.tasks().filter(|task| part(task, signer)).map(|task| task.id).collect();
            match candidates.len() {
                0 => any(index),
                count => candidates[index % count],
            }
        }
    }
}

fn announce(spec: &AnnounceSpec, resolve: &dyn Fn(AgentRef) -> AgentId) -> AnnounceTask {
    let weights = if spec.valid_weights {
        ScoringWeights::default()
    } else {
        ScoringWeights { reputation: Fraction::from_micros(1).expect("at most one"), ..ScoringWeights::default() }
    };
    let required_capabilities: BTreeSet<_> =
        spec.capability.map(|index| name(CAPABILITY_CANDIDATES[index])).into_iter().collect();
    AnnounceTask {
        task_id: name(MARKET_TASK_IDS[spec.task_id]),
        kind: name(TASK_KINDS[spec.kind]),
        required_capabilities,
        payload: Some(JsonText::parse(r#"{"pair":"ETH/USDC"}"#).expect("valid JSON")),
        reference: None,
        max_cost: Amount(spec.max_cost),
        deadline_ms: spec.deadline_ms,
        bid_window_ms: spec.bid_window_ms,
        weights,
        verifier: spec.verifier.map(resolve),
        arbiter: spec.arbiter.map(resolve),
        min_score: Fraction::from_micros(spec.min_score_micros).unwrap_or(Fraction::ONE),
        max_retries: spec.max_retries,
        priority: 0,
        depends_on: spec.depends_on.iter().map(|index| name(MARKET_TASK_IDS[*index])).collect(),
        on_dependency_failure: if spec.skip_failed_dependencies {
            DependencyFailure::Skip
        } else {
            DependencyFailure::Fail
        },
        payer: spec.payer.map(resolve),
        invited: spec.invited.iter().map(|invited| resolve(*invited)).collect(),
        verify_window_ms: spec.verify_window_ms,
        distribution: if spec.direct { Distribution::Direct } else { Distribution::Auction },
        estimated_load: spec.estimated_load,
    }
}
