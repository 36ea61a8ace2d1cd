//! The task market against a reference model: random sequences of announcements, bids, awards,
//! accepts, declines, results, verdicts, cancellations and ticks (so that windows close and deadlines
//! pass), with every invariant and the model's expectations checked after every entry. Some tasks
//! are assigned directly and agents declare capacities, so direct assignments, their queue and load
//! run beside the auctions under the same checks: money conserved, never two winners.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use colony_core::command::DeclareCapacity;
use colony_core::command::{
    AcceptTask, AnnounceTask, AwardTask, CancelTask, DeclineTask, PlaceBid, SubmitResult, VerifyResult, WithdrawBid,
};
use colony_core::market::{DependencyFailure, Distribution, ScoringWeights, TaskState};
use colony_core::{
    Accepted, AgentId, Amount, Bid, Command, EntryOutcome, EscrowState, EventKind, Fraction, State, SystemAccount,
};
use colony_testkit::commands as make;
use colony_testkit::{Simulator, SwarmBuilder, name};
use proptest::prelude::*;

const AGENTS: [&str; 4] = ["agent-0", "agent-1", "agent-2", "agent-3"];
const FUNDS: u64 = 300;

#[derive(Clone, Debug)]
enum Step {
    Announce { manager: usize, slot: usize, max_cost: u64, deadline_ms: u64, bid_window_ms: u64, direct: bool },
    Capacity { agent: usize, max_load: u32 },
    Bid { agent: usize, task: usize, cost: u64, time_ms: u64, confidence_micros: u32 },
    Withdraw { agent: usize, task: usize },
    Award { agent: usize, task: usize },
    Accept { agent: usize, task: usize },
    Decline { agent: usize, task: usize },
    Submit { agent: usize, task: usize },
    Verify { agent: usize, task: usize, score_micros: u32 },
    Cancel { agent: usize, task: usize },
    Tick { advance_ms: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    let agent = 0..AGENTS.len();
    let task = 0..6usize;
    prop_oneof![
        2 => (agent.clone(), 0..3usize, 1..=150u64, 1_000..=20_000u64, 500..=8_000u64, proptest::bool::weighted(0.4))
            .prop_map(|(manager, slot, max_cost, deadline_ms, bid_window_ms, direct)| Step::Announce {
                manager, slot, max_cost, deadline_ms, bid_window_ms, direct
            }),
        1 => (agent.clone(), 0..=2u32).prop_map(|(agent, max_load)| Step::Capacity { agent, max_load }),
        5 => (agent.clone(), task.clone(), 1..=160u64, 0..=22_000u64, 0..=1_000_000u32).prop_map(
            |(agent, task, cost, time_ms, confidence_micros)| Step::Bid { agent, task, cost, time_ms, confidence_micros }
        ),
        1 => (agent.clone(), task.clone()).prop_map(|(agent, task)| Step::Withdraw { agent, task }),
        1 => (agent.clone(), task.clone()).prop_map(|(agent, task)| Step::Award { agent, task }),
        3 => (agent.clone(), task.clone()).prop_map(|(agent, task)| Step::Accept { agent, task }),
        1 => (agent.clone(), task.clone()).prop_map(|(agent, task)| Step::Decline { agent, task }),
        3 => (agent.clone(), task.clone()).prop_map(|(agent, task)| Step::Submit { agent, task }),
        3 => (agent.clone(), task.clone(), 500_000..=1_000_000u32)
            .prop_map(|(agent, task, score_micros)| Step::Verify { agent, task, score_micros }),
        1 => (agent, task).prop_map(|(agent, task)| Step::Cancel { agent, task }),
        3 => prop_oneof![4 => 0..=1_500u64, 1 => 1_500..=25_000u64].prop_map(|advance_ms| Step::Tick { advance_ms }),
    ]
}

/// What the model remembers across entries.
#[derive(Default)]
struct Model {
    /// Task numbers in the order they were announced.
    tasks: Vec<u64>,
    minted: u128,
    /// Escrows that settled, with the state they settled in.
    settled: BTreeMap<u64, EscrowState>,
    /// Tasks that ended, with their final state.
    ended: BTreeMap<u64, colony_core::TaskState>,
}

impl Model {
    fn task(&self, index: usize) -> u64 {
        // Mostly one of the newest, which may still take bids; now and then an older one.
        match self.tasks.len() {
            0 => 1_000,
            count if index == 5 => self.tasks[count / 2],
            count => self.tasks[count - 1 - index % count.min(3)],
        }
    }
}

fn announce(slot: usize, max_cost: u64, deadline_ms: u64, bid_window_ms: u64, direct: bool) -> Command {
    Command::AnnounceTask(AnnounceTask {
        task_id: name(&format!("job-{slot}-{max_cost}-{deadline_ms}-{bid_window_ms}-{direct}")),
        kind: name("analyze"),
        required_capabilities: Default::default(),
        payload: None,
        reference: None,
        max_cost: Amount(max_cost),
        deadline_ms,
        bid_window_ms,
        weights: ScoringWeights::default(),
        verifier: None,
        arbiter: None,
        min_score: Fraction::from_micros(700_000).expect("at most one"),
        max_retries: 1,
        priority: 0,
        depends_on: Vec::new(),
        on_dependency_failure: DependencyFailure::Fail,
        payer: None,
        invited: Default::default(),
        verify_window_ms: 5_000,
        distribution: if direct { Distribution::Direct } else { Distribution::Auction },
        estimated_load: 1,
    })
}

/// Seed 000's score with the default weights, in millionths: each term rounded down.
fn reference_score(max_cost: u64, deadline_ms: u64, bid: &Bid) -> u64 {
    let cost = 400_000 * max_cost.saturating_sub(bid.estimated_cost.0) / max_cost;
    let time = 300_000 * deadline_ms.saturating_sub(bid.estimated_time_ms) / deadline_ms;
    let confidence = 300_000 * u64::from(bid.confidence.micros()) / 1_000_000;
    cost + time + confidence
}

/// The signer for a step that only the task's winner (or its manager) may take: mostly that agent,
/// sometimes the one the step names (who may have no part in the task).
fn signer_for(state: &State, task: u64, named: usize, manager: bool) -> usize {
    let Some(task) = state.market().task(task) else { return named };
    let party = if manager { Some(&task.manager) } else { task.current_attempt().map(|attempt| &attempt.winner) };
    match party.and_then(|party| AGENTS.iter().position(|agent| *agent == party.as_str())) {
        Some(index) if named != 0 => index,
        _ => named,
    }
}

fn command(model: &Model, state: &State, step: &Step) -> Option<(usize, Command)> {
    let task = |index: usize| model.task(index);
    let winner = |index: usize, named: usize| signer_for(state, model.task(index), named, false);
    let manager = |index: usize, named: usize| signer_for(state, model.task(index), named, true);
    Some(match step {
        Step::Announce { manager, slot, max_cost, deadline_ms, bid_window_ms, direct } => {
            (*manager, announce(*slot, *max_cost, *deadline_ms, *bid_window_ms, *direct))
        }
        Step::Capacity { agent, max_load } => {
            (*agent, Command::DeclareCapacity(DeclareCapacity { max_load: *max_load }))
        }
        Step::Bid { agent, task: index, cost, time_ms, confidence_micros } => (
            *agent,
            Command::PlaceBid(PlaceBid {
                task: task(*index),
                estimated_cost: Amount(*cost),
                estimated_time_ms: *time_ms,
                confidence: Fraction::from_micros(*confidence_micros).expect("at most one"),
                capability_proof: None,
            }),
        ),
        Step::Withdraw { agent, task: index } => (*agent, Command::WithdrawBid(WithdrawBid { task: task(*index) })),
        Step::Award { agent, task: index } => {
            (manager(*index, *agent), Command::AwardTask(AwardTask { task: task(*index) }))
        }
        Step::Accept { agent, task: index } => {
            (winner(*index, *agent), Command::AcceptTask(AcceptTask { task: task(*index) }))
        }
        Step::Decline { agent, task: index } => {
            (winner(*index, *agent), Command::DeclineTask(DeclineTask { task: task(*index) }))
        }
        Step::Submit { agent, task: index } => (
            winner(*index, *agent),
            Command::SubmitResult(SubmitResult {
                task: task(*index),
                result: Some(colony_core::bus::JsonText::parse("{\"ok\":true}").expect("JSON")),
                reference: None,
                actual_cost: Amount(1),
            }),
        ),
        Step::Verify { agent, task: index, score_micros } => (
            manager(*index, *agent),
            Command::VerifyResult(VerifyResult {
                task: task(*index),
                score: Fraction::from_micros(*score_micros).expect("at most one"),
            }),
        ),
        Step::Cancel { agent, task: index } => {
            (*agent, Command::CancelTask(CancelTask { task: task(*index), reason: String::new() }))
        }
        Step::Tick { .. } => return None,
    })
}

/// Every award in `outcome` went to the best-scoring bid among those standing before and after the
/// entry, leaving out agents that had the task in an earlier attempt.
fn check_awards(before: &State, after: &State, outcome: &EntryOutcome) -> Result<(), TestCaseError> {
    for event in &outcome.events {
        let EventKind::TaskAwarded { task, winner, escrow, price, score, distribution, .. } = &event.kind else {
            continue;
        };
        let task_after = after.market().task(*task).expect("an awarded task is kept");
        let attempt_index = task_after
            .attempts
            .iter()
            .position(|attempt| attempt.escrow == *escrow)
            .expect("the award is one of the task's attempts");
        let earlier: Vec<&AgentId> = task_after.attempts[..attempt_index].iter().map(|a| &a.winner).collect();
        if *distribution == Distribution::Direct {
            // Assigned at the task's price, never to its manager or an earlier holder, within the
            // winner's capacity.
            prop_assert_eq!(*price, task_after.terms.max_cost, "direct task {} at another price", task);
            prop_assert!(winner != &task_after.manager, "direct task {} went to its manager", task);
            prop_assert!(!earlier.contains(&winner), "direct task {} went back to an earlier holder", task);
            prop_assert!(
                after.agent_load(winner) <= u64::from(after.agent_capacity(winner)),
                "{} holds more than its capacity",
                winner
            );
            continue;
        }
        let mut bids: BTreeMap<AgentId, Bid> =
            before.market().task(*task).map(|task| task.bids.clone()).unwrap_or_default();
        bids.extend(task_after.bids.clone());
        let terms = &task_after.terms;
        let best = bids
            .iter()
            .filter(|(bidder, _)| !earlier.contains(bidder))
            .map(|(bidder, bid)| {
                let score = reference_score(terms.max_cost.0, terms.deadline_ms, bid);
                (Reverse(score), bid.estimated_cost, bid.placed_at_sequence, bidder.clone())
            })
            .min()
            .expect("an award has a bid to award");
        prop_assert_eq!(&best.3, winner, "task {} went to another bid than the best", task);
        prop_assert_eq!(u64::from(score.micros()), best.0.0, "task {}'s winning score", task);
        prop_assert_eq!(*price, best.1, "task {}'s price is the winning bid's", task);
    }
    Ok(())
}

/// An announce is accepted only while the `max_cost` of the manager's tasks not yet awarded (waiting
/// or open, counted afresh from the tasks), this one included, is within its balance; refused as
/// beyond its funds only when it is not.
fn check_commitment(before: &State, manager: &str, max_cost: u64, outcome: &EntryOutcome) -> Result<(), TestCaseError> {
    let manager = AgentId::new(manager).expect("a valid id");
    let committed: u128 = before
        .market()
        .tasks()
        .filter(|task| task.terms.payer == manager && matches!(task.state, TaskState::Waiting | TaskState::Open))
        .map(|task| u128::from(task.terms.max_cost.0))
        .sum();
    let balance = before.wallet(&manager).map_or(0, |wallet| u128::from(wallet.balance().0));
    let within = committed + u128::from(max_cost) <= balance;
    match outcome.commands.first() {
        Some(Ok(Accepted::Task { existing: false, .. })) => {
            prop_assert!(within, "announced {} over {} committed with a balance of {}", max_cost, committed, balance);
        }
        Some(Err(rejection)) if rejection.code() == "announce_beyond_funds" => {
            prop_assert!(!within, "refused {} over {} committed with a balance of {}", max_cost, committed, balance);
        }
        _ => {}
    }
    Ok(())
}

/// The model's expectations of the state after an entry.
fn check_state(model: &mut Model, state: &State, outcome: &EntryOutcome) -> Result<(), TestCaseError> {
    if let Err(broken) = state.check_invariants() {
        return Err(TestCaseError::fail(broken));
    }
    let ledger = state.ledger();
    // Money is conserved: wallets, escrow holding and fees add up to what was minted.
    let held = ledger.wallets_total() as i128
        + ledger.system_balance(SystemAccount::EscrowHolding)
        + ledger.system_balance(SystemAccount::Fees);
    prop_assert_eq!(held, model.minted as i128, "money was created or lost");
    prop_assert_eq!(-ledger.system_balance(SystemAccount::Mint), model.minted as i128);
    // An escrow settles once.
    for escrow in ledger.escrows_after(None) {
        if escrow.state.is_open() {
            prop_assert!(!model.settled.contains_key(&escrow.id), "escrow {} reopened", escrow.id);
        } else if let Some(first) = model.settled.insert(escrow.id, escrow.state) {
            prop_assert_eq!(first, escrow.state, "escrow {} settled twice", escrow.id);
        }
    }
    for task in state.market().tasks() {
        let task_escrows: Vec<_> =
            ledger.escrows_after(None).filter(|escrow| escrow.for_task == Some(task.id)).collect();
        // A rejected result leaves its escrow disputed (for the arbiter) while the retry locks a new
        // one, so only locked escrows are one per task at most: never two winners at once.
        let open: Vec<_> = task_escrows.iter().filter(|escrow| escrow.state == EscrowState::Locked).collect();
        prop_assert!(open.len() <= 1, "task {} has {} locked escrows", task.id, open.len());
        use colony_core::TaskState::{Awarded, Running, Submitted};
        if matches!(task.state, Awarded | Running | Submitted) {
            // Awarded: exactly one locked escrow, for the winner, at the winning bid's price.
            let attempt = task.current_attempt().expect("an awarded task has an attempt");
            prop_assert_eq!(open.len(), 1, "awarded task {} without its escrow", task.id);
            let escrow = open[0];
            prop_assert_eq!(escrow.id, attempt.escrow);
            prop_assert_eq!(&escrow.payee, &attempt.winner);
            prop_assert_eq!(escrow.amount, attempt.price);
        }
        // A task ends once, and stays as it ended.
        if task.state.is_terminal() {
            if let Some(first) = model.ended.insert(task.id, task.state) {
                prop_assert_eq!(first, task.state, "task {} ended twice", task.id);
            }
        } else {
            prop_assert!(!model.ended.contains_key(&task.id), "task {} came back", task.id);
        }
    }
    let mut ended_events: BTreeMap<u64, usize> = BTreeMap::new();
    for event in &outcome.events {
        if let EventKind::TaskEnded { task, .. } = &event.kind {
            *ended_events.entry(*task).or_default() += 1;
        }
    }
    prop_assert!(ended_events.values().all(|count| *count == 1), "a task ended twice in one entry");
    Ok(())
}

fn swarm(model: &mut Model) -> Simulator {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(colony_core::limits::HEARTBEAT_TTL_MS_MAX).build();
    for agent in AGENTS {
        assert!(swarm.operator(vec![make::register(agent, "scout")]).commands.iter().all(Result::is_ok));
        swarm.fund(agent, FUNDS);
        model.minted += u128::from(FUNDS);
    }
    swarm
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_market_keeps_to_the_model(steps in proptest::collection::vec(step(), 1..80)) {
        let mut model = Model::default();
        let mut swarm = swarm(&mut model);
        for step in &steps {
            let before = swarm.state().clone();
            let outcome = match (command(&model, swarm.state(), step), step) {
                (Some((agent, command)), _) => {
                    swarm.advance_ms(50);
                    swarm.agent(AGENTS[agent], vec![command])
                }
                (None, Step::Tick { advance_ms }) => swarm.tick_after(*advance_ms),
                (None, _) => unreachable!("only ticks have no command"),
            };
            for result in &outcome.commands {
                if let Ok(Accepted::Task { task, existing: false }) = result {
                    model.tasks.push(*task);
                }
            }
            if let Step::Announce { manager, max_cost, .. } = step {
                check_commitment(&before, AGENTS[*manager], *max_cost, &outcome)?;
            }
            check_awards(&before, swarm.state(), &outcome)?;
            check_state(&mut model, swarm.state(), &outcome)?;
        }
    }
}
