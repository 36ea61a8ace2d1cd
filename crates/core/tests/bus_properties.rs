//! Properties of durable streams over random publish, fetch, ack and tick sequences: the state
//! machine agrees, entry by entry, with a reference model written the simplest way; invariants hold
//! after every entry; every message a consumer reaches is eventually acked, dead-lettered or evicted,
//! never lost; the same entries give the same state; a snapshot restored midway carries on the same.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use colony_core::{Signer, State};
use proptest::prelude::*;
use support::commands::{CreateConsumerBuilder, CreateStreamBuilder, ack, fetch, nak, publish, term};
use support::{OutcomeExt, Simulator, name, strategies};

const STREAM: &str = "jobs";
const CONSUMER: &str = "pool";
const WORKERS: [&str; 3] = ["worker-0", "worker-1", "worker-2"];

/// The consumer's settings in these properties: short enough for generated pauses to pass them.
const ACK_WAIT_MS: u64 = 1_000;
const MAX_DELIVER: u32 = 3;
const MAX_ACK_PENDING: u32 = 4;
const MAX_MESSAGES: u64 = 6;

/// One step of a generated run.
#[derive(Clone, Debug)]
enum Op {
    /// Time passes, then a tick.
    Tick(u64),
    /// Time passes, then `count` publishes in one envelope.
    Publish(u64, usize),
    /// Time passes, then a worker fetches.
    Fetch(u64, usize, u32),
    /// Time passes, then a worker acknowledges one of the deliveries it holds (the one at this index,
    /// wrapping), if it holds any.
    Acknowledge(u64, usize, usize, Kind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ack,
    Nak,
    Term,
}

fn advance() -> impl Strategy<Value = u64> {
    prop_oneof![3 => Just(0u64), 4 => 1..=600u64, 2 => 900..=1_100u64, 1 => 2_000..=5_000u64]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => advance().prop_map(Op::Tick),
        3 => (advance(), 1..=3usize).prop_map(|(advance, count)| Op::Publish(advance, count)),
        4 => (advance(), 0..WORKERS.len(), 1..=3u32).prop_map(|(advance, worker, batch)| Op::Fetch(advance, worker, batch)),
        5 => (advance(), 0..WORKERS.len(), 0..4usize, prop_oneof![6 => Just(Kind::Ack), 3 => Just(Kind::Nak), 1 => Just(Kind::Term)])
            .prop_map(|(advance, worker, index, kind)| Op::Acknowledge(advance, worker, index, kind)),
    ]
}

/// A pending delivery in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Held {
    holder: Signer,
    count: u32,
    deadline_ms: Option<u64>,
    ready_at_ms: u64,
}

/// The reference: the rules of the stream (discard old at `MAX_MESSAGES`) and the consumer, written
/// directly over plain collections.
#[derive(Debug, Default)]
struct Model {
    stored: BTreeSet<u64>,
    last_sequence: u64,
    cursor: u64,
    pending: BTreeMap<u64, Held>,
    acked: BTreeSet<u64>,
    dead: BTreeMap<u64, u32>,
    evicted: BTreeSet<u64>,
}

impl Model {
    fn new() -> Model {
        Model { cursor: 1, ..Model::default() }
    }

    /// Time-driven changes at an entry's timestamp.
    fn expire(&mut self, now_ms: u64) {
        let expired: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, held)| held.deadline_ms.is_some_and(|deadline| deadline < now_ms))
            .map(|(sequence, _)| *sequence)
            .collect();
        for sequence in expired {
            let held = self.pending.get_mut(&sequence).unwrap();
            if held.count >= MAX_DELIVER {
                self.dead.insert(sequence, held.count);
                self.pending.remove(&sequence);
            } else {
                held.ready_at_ms = held.deadline_ms.take().unwrap();
            }
        }
    }

    fn publish(&mut self) {
        if self.stored.len() as u64 == MAX_MESSAGES {
            let oldest = self.stored.pop_first().unwrap();
            self.pending.remove(&oldest);
            self.evicted.insert(oldest);
        }
        self.last_sequence += 1;
        self.stored.insert(self.last_sequence);
    }

    fn fetch(&mut self, holder: &Signer, batch: usize, now_ms: u64) -> Vec<(u64, u32)> {
        let mut delivered = Vec::new();
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, held)| held.deadline_ms.is_none() && held.ready_at_ms <= now_ms)
            .map(|(sequence, _)| *sequence)
            .take(batch)
            .collect();
        for sequence in due {
            let held = self.pending.get_mut(&sequence).unwrap();
            held.count += 1;
            held.deadline_ms = Some(now_ms + ACK_WAIT_MS);
            held.holder = holder.clone();
            delivered.push((sequence, held.count));
        }
        let fresh: Vec<u64> = self.stored.range(self.cursor..).copied().collect();
        let mut exhausted = true;
        for sequence in fresh {
            if delivered.len() >= batch || self.pending.len() >= MAX_ACK_PENDING as usize {
                exhausted = false;
                break;
            }
            self.cursor = sequence + 1;
            self.pending.insert(
                sequence,
                Held { holder: holder.clone(), count: 1, deadline_ms: Some(now_ms + ACK_WAIT_MS), ready_at_ms: now_ms },
            );
            delivered.push((sequence, 1));
        }
        if exhausted {
            self.cursor = self.cursor.max(self.last_sequence + 1);
        }
        delivered
    }

    fn held_by(&self, holder: &Signer) -> Vec<u64> {
        self.pending
            .iter()
            .filter(|(_, held)| &held.holder == holder && held.deadline_ms.is_some())
            .map(|(sequence, _)| *sequence)
            .collect()
    }

    fn acknowledge(&mut self, sequence: u64, kind: Kind, now_ms: u64) {
        let held = self.pending.get_mut(&sequence).unwrap();
        match kind {
            Kind::Ack => {
                self.pending.remove(&sequence);
                self.acked.insert(sequence);
            }
            Kind::Term => {
                self.dead.insert(sequence, held.count);
                self.pending.remove(&sequence);
            }
            Kind::Nak if held.count >= MAX_DELIVER => {
                self.dead.insert(sequence, held.count);
                self.pending.remove(&sequence);
            }
            Kind::Nak => {
                held.deadline_ms = None;
                held.ready_at_ms = now_ms;
            }
        }
    }
}

fn setup() -> Simulator {
    let mut swarm = Simulator::new();
    swarm.register_all(&WORKERS, "scout");
    let create = CreateStreamBuilder::new(STREAM, ["jobs.>"]).max_messages(MAX_MESSAGES);
    let consumer = CreateConsumerBuilder::new(STREAM, CONSUMER)
        .ack_wait_ms(ACK_WAIT_MS)
        .max_deliver(MAX_DELIVER)
        .max_ack_pending(MAX_ACK_PENDING)
        .roles(["scout"]);
    assert!(swarm.operator(vec![create.into(), consumer.into()]).all_accepted());
    swarm
}

/// The consumer's pending deliveries as the model holds them.
fn state_pending(state: &State) -> BTreeMap<u64, Held> {
    let consumer = state.stream(&name(STREAM)).unwrap().consumer(&name(CONSUMER)).unwrap();
    consumer
        .pending()
        .iter()
        .map(|(sequence, pending)| {
            let held = Held {
                holder: pending.holder.clone(),
                count: pending.delivery_count,
                deadline_ms: pending.ack_deadline_ms,
                ready_at_ms: pending.redeliver_at_ms,
            };
            (*sequence, held)
        })
        .collect()
}

/// Runs `ops` against the state machine and the model, comparing them after every entry.
fn run(swarm: &mut Simulator, model: &mut Model, ops: &[Op]) -> Result<(), TestCaseError> {
    for op in ops {
        let advance = match op {
            Op::Tick(advance) | Op::Publish(advance, _) | Op::Fetch(advance, ..) | Op::Acknowledge(advance, ..) => {
                *advance
            }
        };
        swarm.advance_ms(advance);
        let now_ms = swarm.now_ms();
        model.expire(now_ms);
        match op {
            Op::Tick(_) => {
                swarm.tick();
            }
            Op::Publish(_, count) => {
                let outcome =
                    swarm.operator((0..*count).map(|index| publish("jobs.work", &index.to_string())).collect());
                prop_assert!(outcome.all_accepted());
                for _ in 0..*count {
                    model.publish();
                }
            }
            Op::Fetch(_, worker, batch) => {
                let holder = Simulator::signer(WORKERS[*worker]);
                let expected = model.fetch(&holder, *batch as usize, now_ms);
                let outcome = swarm.agent(WORKERS[*worker], vec![fetch(STREAM, CONSUMER, *batch)]);
                let got: Vec<(u64, u32)> =
                    outcome.deliveries().iter().map(|delivery| (delivery.sequence, delivery.delivery_count)).collect();
                prop_assert_eq!(got, expected, "fetch at {}", now_ms);
            }
            Op::Acknowledge(_, worker, index, kind) => {
                let holder = Simulator::signer(WORKERS[*worker]);
                let held = model.held_by(&holder);
                if held.is_empty() {
                    swarm.tick();
                    continue;
                }
                let sequence = held[index % held.len()];
                let command = match kind {
                    Kind::Ack => ack(STREAM, CONSUMER, &[sequence]),
                    Kind::Nak => nak(STREAM, CONSUMER, &[sequence], 0, Some("retry")),
                    Kind::Term => term(STREAM, CONSUMER, &[sequence], None),
                };
                let outcome = swarm.agent(WORKERS[*worker], vec![command]);
                prop_assert!(outcome.all_accepted(), "{:?}", outcome);
                model.acknowledge(sequence, *kind, now_ms);
            }
        }
        prop_assert_eq!(state_pending(swarm.state()), model.pending.clone(), "pending after {:?}", op);
        let stored: BTreeSet<u64> = swarm
            .state()
            .stream_messages(&name(STREAM), 0, usize::MAX)
            .iter()
            .map(|message| message.sequence)
            .collect();
        prop_assert_eq!(&stored, &model.stored);
        let dead: BTreeMap<u64, u32> = swarm
            .state()
            .dead_letters(&name(STREAM), None, usize::MAX)
            .iter()
            .map(|dead| (dead.sequence, dead.delivery_count))
            .collect();
        prop_assert_eq!(&dead, &model.dead);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The model agrees after every entry (`Simulator` checks every invariant after every entry too),
    /// and once workers keep fetching and acking, every message ever stored ends acked, dead-lettered
    /// or evicted: none is lost, none is both acked and dead.
    #[test]
    fn streams_follow_the_reference_model_and_lose_nothing(ops in prop::collection::vec(op(), 0..80)) {
        let mut swarm = setup();
        let mut model = Model::new();
        run(&mut swarm, &mut model, &ops)?;
        // Drain: wait out every deadline, then fetch and ack everything, until nothing is pending.
        for _ in 0..64 {
            let drain = [Op::Tick(ACK_WAIT_MS + 1), Op::Fetch(0, 0, 3)];
            run(&mut swarm, &mut model, &drain)?;
            let held = model.held_by(&Simulator::signer(WORKERS[0]));
            let acks: Vec<Op> = held.iter().map(|_| Op::Acknowledge(0, 0, 0, Kind::Ack)).collect();
            run(&mut swarm, &mut model, &acks)?;
            if model.pending.is_empty() && model.cursor > model.last_sequence {
                break;
            }
        }
        prop_assert!(model.pending.is_empty());
        for sequence in 1..=model.last_sequence {
            let fates = [model.acked.contains(&sequence), model.dead.contains_key(&sequence), model.evicted.contains(&sequence)];
            prop_assert!(fates.iter().any(|fate| *fate), "message {} was lost", sequence);
            prop_assert!(!(fates[0] && fates[1]), "message {} was both acked and dead-lettered", sequence);
        }
        let info = swarm.state().consumer_info(&name(STREAM), &name(CONSUMER)).unwrap();
        prop_assert_eq!(info.acked, model.acked.len() as u64);
        prop_assert_eq!(info.ack_floor, model.last_sequence);
    }

    /// The same entries give the same state, and a snapshot restored midway carries on identically.
    #[test]
    fn replay_and_restore_give_the_same_state(ops in prop::collection::vec(op(), 1..60), cut in any::<prop::sample::Index>()) {
        let mut swarm = setup();
        let mut model = Model::new();
        run(&mut swarm, &mut model, &ops)?;
        let log = swarm.log().to_vec();
        let cut = cut.index(log.len());
        let mut replayed = State::new();
        let mut restored: Option<State> = None;
        for (position, entry) in log.iter().enumerate() {
            let outcome = replayed.apply(entry).unwrap();
            if let Some(restored) = restored.as_mut() {
                prop_assert_eq!(restored.apply(entry).unwrap(), outcome);
                prop_assert_eq!(restored.state_hash(), replayed.state_hash());
            }
            if position == cut {
                restored = Some(State::decode_snapshot(&replayed.encode_snapshot()).unwrap());
            }
        }
        prop_assert_eq!(replayed.state_hash(), swarm.state().state_hash());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The testkit's random streams, bus commands included, keep every invariant after every entry.
    #[test]
    fn random_streams_with_bus_commands_keep_the_invariants(
        stream in strategies::scenario(strategies::ScenarioConfig { oversized_envelopes: false, ..Default::default() })
    ) {
        let mut state = State::new();
        for entry in stream.entries() {
            state.apply(&entry).unwrap();
            if let Err(broken) = state.check_invariants() {
                return Err(TestCaseError::fail(format!("entry {}: {broken}", entry.sequence)));
            }
        }
    }
}
