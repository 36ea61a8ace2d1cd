//! The rules of durable streams: creation, publishing with retention and deduplication, pull
//! consumers with ack/nak/in-progress/term, ack deadlines, backoff, dead letters, replay, and who may
//! do what. Every refusal is checked to change nothing.

mod support;

use colony_core::BusRejection;
use colony_core::bus::{ACK_WAIT_EXPIRED, DeadLetterReason, DeliverPolicy, JsonText, Payload, Priority};
use colony_core::command::Publish;
use colony_core::{Accepted, Command, Entry, EntryBody, EventKind, Name, Rejection, Signature, Signer, State, limits};
use support::commands::{
    CreateConsumerBuilder, CreateStreamBuilder, PublishBuilder, ack, create_consumer, create_stream, delete_consumer,
    delete_stream, discard_dead_letters, fetch, halt, in_progress, nak, publish, replay_dead_letters, term,
};
use support::{OutcomeExt, Simulator, name};

const ORDERS: &str = "orders";
const WORK: &str = "work";

/// Agents: an owner of streams, two workers sharing consumers, and a stranger.
fn new_swarm() -> Simulator {
    let mut swarm = Simulator::new();
    swarm.register_all(&["owner", "worker-1", "worker-2", "stranger"], "scout");
    swarm
}

/// A swarm with stream `orders` on `orders.>` owned by `owner`, and consumer `work` on it.
/// The workers, whom consumers on `orders` let fetch.
const WORKERS: [&str; 2] = ["worker-1", "worker-2"];

/// `consumer.create` of a consumer both workers may fetch from.
fn shared_consumer(stream: &str, consumer: &str) -> Command {
    CreateConsumerBuilder::new(stream, consumer).agents(WORKERS).into()
}

fn swarm_with_work(consumer: CreateConsumerBuilder) -> Simulator {
    let mut swarm = new_swarm();
    let consumer = consumer.agents(WORKERS);
    assert!(swarm.agent("owner", vec![create_stream(ORDERS, ["orders.>"]), consumer.into()]).all_accepted());
    swarm
}

fn publish_n(swarm: &mut Simulator, count: usize) {
    for index in 0..count {
        let outcome = swarm.agent("owner", vec![publish("orders.new", &format!("{{\"n\":{index}}}"))]);
        assert!(outcome.all_accepted(), "{outcome:?}");
    }
}

/// Signs `command` as `signer` (`operator` or an agent), expects exactly one refusal, and checks that
/// the refusal changed nothing: the state equals that of a copy which got, in the same entry (same
/// signer, nonce and time), a command that cannot change anything.
#[track_caller]
fn refuse(swarm: &mut Simulator, signer: &str, command: Command) -> Rejection {
    let kind = command.kind();
    let entry = if signer == "operator" {
        swarm.factory().operator(vec![command])
    } else {
        swarm.factory().agent(signer, vec![command])
    };
    let mut reference: State = swarm.state().clone();
    let mut reference_entry: Entry = entry.clone();
    if let EntryBody::Signed(signed) = &mut reference_entry.body {
        signed.commands = vec![delete_stream("no-such-stream")];
    }
    let outcome = swarm.apply_ok(&entry);
    let rejection = outcome.single_rejection().clone();
    let reference_outcome = reference.apply(&reference_entry).expect("the reference entry applies");
    assert!(reference_outcome.single().is_err(), "the reference command is refused too");
    assert_eq!(outcome.events, reference_outcome.events, "a refused {kind} emitted events");
    assert_eq!(swarm.state().state_hash(), reference.state_hash(), "a refused {kind} changed the state");
    rejection
}

#[track_caller]
fn refuse_code(swarm: &mut Simulator, signer: &str, command: Command) -> &'static str {
    refuse(swarm, signer, command).code()
}

fn stream_name(text: &str) -> Name {
    name(text)
}

#[test]
fn streams_are_created_once_and_conflicts_and_overlaps_are_refused() {
    let mut swarm = new_swarm();
    let outcome = swarm.agent("owner", vec![create_stream(ORDERS, ["orders.>", "audit.orders"])]);
    assert!(outcome.all_accepted());
    assert_eq!(
        outcome.event_kinds(),
        vec![&EventKind::StreamCreated { stream: stream_name(ORDERS), owner: Simulator::signer("owner") }]
    );
    let outcome = swarm.agent("stranger", vec![create_stream(ORDERS, ["audit.orders", "orders.>"])]);
    assert_eq!(outcome.single(), &Ok(Accepted::Unchanged), "the same configuration again changes nothing");
    assert!(outcome.events.is_empty());
    assert_eq!(swarm.state().stream(&stream_name(ORDERS)).unwrap().owner, Simulator::signer("owner"));

    let different = CreateStreamBuilder::new(ORDERS, ["orders.>", "audit.orders"]).max_messages(10);
    assert_eq!(refuse_code(&mut swarm, "owner", different.into()), "stream_conflict");
    for overlapping in ["orders.new", "orders.*", "audit.*", "audit.>"] {
        let rejection = refuse(&mut swarm, "stranger", create_stream("other", [overlapping]));
        assert_eq!(rejection.code(), "subjects_overlap", "{overlapping}");
        assert_eq!(rejection.field(), Some("subjects"));
    }
    assert!(swarm.agent("stranger", vec![create_stream("other", ["audit.payments", "orders"])]).all_accepted());
    for private in ["agent.*.inbox", "agent.scout-1.inbox", "agent.>", "agent.scout-1.inbox.x", "_INBOX.abc", ">"] {
        let rejection = refuse(&mut swarm, "owner", create_stream("private", [private]));
        assert_eq!((rejection.code(), rejection.field()), ("invalid_field", Some("subjects")), "{private}");
    }
    assert!(swarm.agent("owner", vec![create_stream("inboxes-ok", ["agent.*.outbox"])]).all_accepted());
}

#[test]
fn stream_limits_are_checked_against_the_absolute_maxima() {
    let mut swarm = new_swarm();
    let invalid = [
        (CreateStreamBuilder::new("s", Vec::<&str>::new()), "subjects"),
        (CreateStreamBuilder::new("s", ["a"]).max_messages(0), "max_messages"),
        (CreateStreamBuilder::new("s", ["a"]).max_messages(limits::STREAM_MESSAGES_MAX + 1), "max_messages"),
        (CreateStreamBuilder::new("s", ["a"]).max_bytes(limits::STREAM_BYTES_MAX + 1), "max_bytes"),
        (CreateStreamBuilder::new("s", ["a"]).max_age_ms(0), "max_age_ms"),
        (
            CreateStreamBuilder::new("s", ["a"]).duplicate_window_ms(limits::DUPLICATE_WINDOW_MS_MAX + 1),
            "duplicate_window_ms",
        ),
    ];
    for (create, field) in invalid {
        let rejection = refuse(&mut swarm, "owner", create.into());
        assert_eq!((rejection.code(), rejection.field()), ("invalid_field", Some(field)));
    }
    let subjects: Vec<String> = (0..=limits::SUBJECTS_PER_STREAM_MAX).map(|index| format!("s.{index}")).collect();
    let create = CreateStreamBuilder::new("s", subjects.iter().map(String::as_str));
    assert_eq!(
        refuse(&mut swarm, "owner", create.into()),
        Rejection::LimitReached { limit: "subjects_per_stream", max: limits::SUBJECTS_PER_STREAM_MAX as u64 }
    );
    // Streams reserve their byte limits against the agent's share and the bus's total.
    let big = |index: u64| {
        Command::from(
            CreateStreamBuilder::new(&format!("big-{index}"), [format!("big.{index}").as_str()])
                .max_bytes(limits::STREAM_BYTES_MAX),
        )
    };
    let share = limits::STREAM_BYTES_PER_AGENT_MAX / limits::STREAM_BYTES_MAX;
    for index in 0..share {
        assert!(swarm.agent("owner", vec![big(index)]).all_accepted());
    }
    assert_eq!(
        refuse(&mut swarm, "owner", big(share)),
        Rejection::LimitReached { limit: "stream_bytes_per_agent", max: limits::STREAM_BYTES_PER_AGENT_MAX }
    );
    let whole = limits::BUS_BYTES_MAX / limits::STREAM_BYTES_MAX;
    for index in share..whole {
        assert!(swarm.operator(vec![big(index)]).all_accepted(), "the operator's streams are not limited per agent");
    }
    assert_eq!(
        refuse(&mut swarm, "owner", CreateStreamBuilder::new("one-more", ["more"]).max_bytes(1).into()),
        Rejection::LimitReached { limit: "bus_bytes", max: limits::BUS_BYTES_MAX }
    );
    assert!(swarm.agent("owner", vec![delete_stream("big-0")]).all_accepted());
    assert!(
        swarm.agent("owner", vec![CreateStreamBuilder::new("one-more", ["more"]).max_bytes(1).into()]).all_accepted()
    );
}

#[test]
fn one_agent_owns_a_bounded_number_of_streams() {
    let mut swarm = new_swarm();
    let small = |index: usize| {
        Command::from(CreateStreamBuilder::new(&format!("s-{index}"), [format!("s.{index}").as_str()]).max_bytes(1_024))
    };
    for index in 0..limits::STREAMS_PER_AGENT_MAX {
        assert!(swarm.agent("worker-1", vec![small(index)]).all_accepted());
    }
    assert_eq!(
        refuse(&mut swarm, "worker-1", small(limits::STREAMS_PER_AGENT_MAX)),
        Rejection::LimitReached { limit: "streams_per_agent", max: limits::STREAMS_PER_AGENT_MAX as u64 }
    );
    assert!(swarm.agent("worker-2", vec![small(limits::STREAMS_PER_AGENT_MAX)]).all_accepted(), "others still can");
}

#[test]
fn only_the_agents_and_roles_a_consumer_names_may_fetch_from_it() {
    let mut swarm = new_swarm();
    assert!(swarm.register("analyst-1", "analyst").all_accepted());
    let create = CreateConsumerBuilder::new(ORDERS, WORK).agents(["worker-1"]).roles(["analyst"]);
    assert!(swarm.agent("owner", vec![create_stream(ORDERS, ["orders.>"]), create.into()]).all_accepted());
    publish_n(&mut swarm, 4);
    for (fetcher, allowed) in
        [("stranger", false), ("worker-2", false), ("worker-1", true), ("analyst-1", true), ("owner", true)]
    {
        if allowed {
            assert_eq!(swarm.agent(fetcher, vec![fetch(ORDERS, WORK, 1)]).deliveries().len(), 1, "{fetcher}");
        } else {
            assert_eq!(refuse_code(&mut swarm, fetcher, fetch(ORDERS, WORK, 1)), "unauthorized", "{fetcher}");
        }
    }
    assert!(swarm.operator(vec![fetch(ORDERS, WORK, 1)]).all_accepted(), "the operator may");
    // Nobody outside the list can act on what members hold either: acks need the holder.
    assert_eq!(refuse_code(&mut swarm, "stranger", ack(ORDERS, WORK, &[1])), "unauthorized");
    let too_many: Vec<String> = (0..=limits::CONSUMER_MEMBERS_MAX).map(|index| format!("a{index}")).collect();
    let create = CreateConsumerBuilder::new(ORDERS, "crowded").agents(too_many.iter().map(String::as_str));
    assert_eq!(refuse_code(&mut swarm, "owner", create.into()), "limit_reached");
}

#[test]
fn publishing_goes_to_the_one_capturing_stream_and_records_the_envelope() {
    let mut swarm = new_swarm();
    assert!(
        swarm
            .agent("owner", vec![create_stream(ORDERS, ["orders.>"]), create_stream("metrics", ["metrics.*"])])
            .all_accepted()
    );
    swarm.advance_ms(250);
    let signature = Signature([7; 64]);
    let command = PublishBuilder::new("orders.new")
        .message_id("order-1")
        .message_type("order.created")
        .priority(Priority::High)
        .correlation_id("corr-1")
        .reply_to("agent.worker-1.inbox")
        .header("content-type", "application/json")
        .json(" { \"id\" : 1, \"items\" : [ \"a\", 2.5 ] } ")
        .signature(signature);
    let outcome = swarm.agent("worker-1", vec![command.into()]);
    assert_eq!(outcome.published(), (ORDERS.to_owned(), 1, false));
    assert!(outcome.events.is_empty(), "publishing emits no event per message");
    let stored = swarm.state().stream_message(&stream_name(ORDERS), 1).expect("stored").clone();
    assert_eq!(stored.source, Simulator::signer("worker-1"));
    assert_eq!(stored.published_at_ms, swarm.now_ms());
    assert_eq!(stored.subject.as_str(), "orders.new");
    assert_eq!(stored.message_id, Some(name("order-1")));
    assert_eq!(stored.message_type, Some(name("order.created")));
    assert_eq!(stored.priority, Priority::High);
    assert_eq!(stored.correlation_id, Some(name("corr-1")));
    assert_eq!(stored.reply_to.as_ref().map(|subject| subject.as_str()), Some("agent.worker-1.inbox"));
    assert_eq!(stored.headers.get(&name("content-type")).map(String::as_str), Some("application/json"));
    assert_eq!(stored.payload, Some(Payload::Json("{\"id\":1,\"items\":[\"a\",2.5]}".to_owned())));
    assert_eq!(stored.payload_signature, Some(signature));

    let outcome = swarm.agent("owner", vec![publish("metrics.cpu", "1"), publish("orders.x.y", "2")]);
    assert_eq!(
        outcome.commands,
        vec![
            Ok(Accepted::Published { stream: stream_name("metrics"), sequence: 1, duplicate: false }),
            Ok(Accepted::Published { stream: stream_name(ORDERS), sequence: 2, duplicate: false }),
        ]
    );
    let rejection = refuse(&mut swarm, "owner", publish("metrics.cpu.core-0", "1"));
    assert_eq!(
        rejection,
        Rejection::Bus(BusRejection::NoStream { subject: support::commands::subject("metrics.cpu.core-0") })
    );
    assert_eq!(rejection.field(), Some("subject"));
    let info = swarm.state().stream_info(&stream_name(ORDERS)).unwrap();
    assert_eq!((info.messages, info.first_sequence, info.last_sequence), (2, Some(1), 2));
    let sum: u64 = swarm.state().stream_messages(&stream_name(ORDERS), 1, 10).iter().map(|m| m.size_bytes()).sum();
    assert_eq!(info.bytes, sum);
}

#[test]
fn payloads_are_json_or_base64_bytes_within_their_limits() {
    let mut swarm = new_swarm();
    assert!(swarm.agent("owner", vec![create_stream(ORDERS, ["orders.>"])]).all_accepted());
    let outcome = swarm.agent("owner", vec![PublishBuilder::new("orders.blob").base64("aGVsbG8=").into()]);
    let (_, sequence, _) = outcome.published();
    let stored = swarm.state().stream_message(&stream_name(ORDERS), sequence).unwrap();
    assert_eq!(stored.payload, Some(Payload::Bytes(b"hello".to_vec())));
    let outcome =
        swarm.agent("owner", vec![PublishBuilder::new("orders.secret").base64("AAEC").encrypted_to("worker-1").into()]);
    let (_, sequence, _) = outcome.published();
    assert_eq!(
        swarm.state().stream_message(&stream_name(ORDERS), sequence).unwrap().encrypted_to,
        Some(support::agent_id("worker-1"))
    );

    let both = PublishBuilder::new("orders.x").json("1").base64("AA==");
    assert_eq!(refuse(&mut swarm, "owner", both.into()).field(), Some("payload_base64"));
    assert_eq!(
        refuse(&mut swarm, "owner", PublishBuilder::new("orders.x").base64("not base64!").into()).field(),
        Some("payload_base64")
    );
    let large = format!("\"{}\"", "x".repeat(limits::PAYLOAD_BYTES_MAX));
    assert_eq!(
        refuse(&mut swarm, "owner", PublishBuilder::new("orders.x").json(&large).into()).field(),
        Some("payload")
    );
    assert_eq!(
        refuse(&mut swarm, "owner", PublishBuilder::new("orders.x").json("1").encrypted_to("worker-1").into()).field(),
        Some("encrypted_to")
    );
    assert_eq!(
        refuse_code(&mut swarm, "owner", PublishBuilder::new("orders.x").base64("AA==").encrypted_to("nobody").into()),
        "agent_not_found"
    );
    let mut many = PublishBuilder::new("orders.x");
    for index in 0..=limits::HEADERS_PER_MESSAGE_MAX {
        many = many.header(&format!("h-{index}"), "v");
    }
    assert_eq!(refuse_code(&mut swarm, "owner", many.into()), "limit_reached");
    let long = PublishBuilder::new("orders.x").header("h", &"v".repeat(limits::HEADER_VALUE_BYTES_MAX + 1));
    assert_eq!(refuse(&mut swarm, "owner", long.into()).field(), Some("headers"));
}

#[test]
fn discard_old_drops_the_oldest_and_counts_them_once_per_entry() {
    let mut swarm = new_swarm();
    let create = CreateStreamBuilder::new(ORDERS, ["orders.>"]).max_messages(3);
    assert!(swarm.agent("owner", vec![create.into(), shared_consumer(ORDERS, WORK)]).all_accepted());
    publish_n(&mut swarm, 3);
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 1)]).delivered_sequences(), vec![1]);
    let outcome = swarm.agent("owner", (0..2).map(|index| publish("orders.new", &index.to_string())).collect());
    assert!(outcome.all_accepted());
    assert_eq!(
        outcome.event_kinds(),
        vec![&EventKind::MessagesDiscarded { stream: stream_name(ORDERS), count: 2 }],
        "one event with the count, not one per message"
    );
    let stored: Vec<u64> =
        swarm.state().stream_messages(&stream_name(ORDERS), 0, 10).iter().map(|message| message.sequence).collect();
    assert_eq!(stored, vec![3, 4, 5]);
    let info = swarm.state().consumer_info(&stream_name(ORDERS), &stream_name(WORK)).unwrap();
    assert_eq!(info.pending, 0, "the pending delivery of an evicted message is dropped");
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 10)]).delivered_sequences(), vec![3, 4, 5]);

    // Bytes too: a stream of 400 bytes keeps what fits.
    let mut swarm = swarm_bytes(Some(false));
    publish_n(&mut swarm, 10);
    let info = swarm.state().stream_info(&stream_name(ORDERS)).unwrap();
    assert!(info.bytes <= 400 && info.messages < 10 && info.last_sequence == 10, "{info:?}");
}

fn swarm_bytes(discard_new: Option<bool>) -> Simulator {
    let mut swarm = new_swarm();
    let mut create = CreateStreamBuilder::new(ORDERS, ["orders.>"]).max_bytes(400);
    if discard_new == Some(true) {
        create = create.discard_new();
    }
    assert!(swarm.agent("owner", vec![create.into()]).all_accepted());
    swarm
}

#[test]
fn discard_new_refuses_with_backpressure_naming_the_limit() {
    let mut swarm = new_swarm();
    let create = CreateStreamBuilder::new(ORDERS, ["orders.>"]).max_messages(2).discard_new();
    assert!(swarm.agent("owner", vec![create.into()]).all_accepted());
    publish_n(&mut swarm, 2);
    let rejection = refuse(&mut swarm, "owner", publish("orders.new", "3"));
    assert_eq!(
        rejection,
        Rejection::Bus(BusRejection::StreamFull { stream: stream_name(ORDERS), limit: "max_messages", max: 2 })
    );
    assert!(rejection.to_string().contains("max_messages"));

    let mut swarm = swarm_bytes(Some(true));
    let mut stored = 0;
    loop {
        let outcome = swarm.agent("owner", vec![publish("orders.new", "12345")]);
        match outcome.single() {
            Ok(_) => stored += 1,
            Err(rejection) => {
                assert_eq!(
                    *rejection,
                    Rejection::Bus(BusRejection::StreamFull {
                        stream: stream_name(ORDERS),
                        limit: "max_bytes",
                        max: 400
                    })
                );
                break;
            }
        }
    }
    assert!(stored > 0);
    assert_eq!(swarm.state().stream_info(&stream_name(ORDERS)).unwrap().messages, stored);
    assert_eq!(refuse_code(&mut swarm, "owner", publish("orders.new", "1")), "stream_full");
    // A message larger than the whole stream is refused under discard old too.
    let mut swarm = swarm_bytes(Some(false));
    let big = format!("\"{}\"", "x".repeat(500));
    let rejection = refuse(&mut swarm, "owner", publish("orders.new", &big));
    assert_eq!(
        rejection,
        Rejection::Bus(BusRejection::StreamFull { stream: stream_name(ORDERS), limit: "max_bytes", max: 400 })
    );
}

#[test]
fn max_age_removes_messages_by_log_time_and_schedules_ticks() {
    let mut swarm = new_swarm();
    assert!(
        swarm
            .agent("owner", vec![CreateStreamBuilder::new(ORDERS, ["orders.>"]).max_age_ms(10_000).into()])
            .all_accepted()
    );
    let start = swarm.now_ms();
    publish_n(&mut swarm, 1);
    swarm.advance_ms(5_000);
    publish_n(&mut swarm, 1);
    assert_eq!(swarm.state().next_deadline_ms(), Some(start + 10_001), "the driver ticks when the first ages out");
    swarm.factory().set_now_ms(start + 10_000);
    assert!(swarm.tick().events.is_empty(), "exactly at its age a message stays");
    swarm.factory().set_now_ms(start + 10_001);
    let outcome = swarm.tick();
    assert_eq!(outcome.event_kinds(), vec![&EventKind::MessagesDiscarded { stream: stream_name(ORDERS), count: 1 }]);
    assert_eq!(swarm.state().stream_info(&stream_name(ORDERS)).unwrap().first_sequence, Some(2));
    assert_eq!(swarm.state().next_deadline_ms(), Some(start + 15_001));
    swarm.factory().set_now_ms(start + 60_000);
    swarm.tick();
    assert_eq!(swarm.state().stream_info(&stream_name(ORDERS)).unwrap().messages, 0);
    assert_eq!(swarm.state().next_deadline_ms().filter(|deadline| *deadline < start + 60_000), None);
}

#[test]
fn a_message_id_is_deduplicated_within_the_window_and_stored_again_after_it() {
    let mut swarm = new_swarm();
    assert!(
        swarm
            .agent("owner", vec![create_stream(ORDERS, ["orders.>"]), create_stream("other", ["other.>"])])
            .all_accepted()
    );
    let with_id = |subject: &str| Command::from(PublishBuilder::new(subject).message_id("m-1").json("1"));
    assert_eq!(swarm.agent("owner", vec![with_id("orders.a")]).published(), (ORDERS.to_owned(), 1, false));
    swarm.advance_ms(limits::DUPLICATE_WINDOW_MS_DEFAULT - 1);
    let before = swarm.state().stream_info(&stream_name(ORDERS)).unwrap();
    let outcome = swarm.agent("owner", vec![with_id("orders.b")]);
    assert_eq!(outcome.published(), (ORDERS.to_owned(), 1, true), "a duplicate returns the original sequence");
    assert_eq!(swarm.state().stream_info(&stream_name(ORDERS)).unwrap(), before, "a duplicate stores nothing");
    // Ids belong to their publisher: another agent's `m-1` is another message, not a duplicate.
    let outcome = swarm.agent("worker-1", vec![with_id("orders.b")]);
    assert_eq!(outcome.published(), (ORDERS.to_owned(), 2, false), "ids are per publisher");
    assert_eq!(
        swarm.agent("worker-1", vec![with_id("orders.c")]).published(),
        (ORDERS.to_owned(), 2, true),
        "and deduplicated for that publisher"
    );
    assert_eq!(
        swarm.agent("owner", vec![with_id("other.a")]).published(),
        ("other".to_owned(), 1, false),
        "ids are per stream"
    );
    swarm.advance_ms(1);
    assert_eq!(
        swarm.agent("owner", vec![with_id("orders.a")]).published(),
        (ORDERS.to_owned(), 3, false),
        "after the window"
    );
    // Without a window, ids are not remembered at all.
    assert!(
        swarm
            .agent("owner", vec![CreateStreamBuilder::new("nodup", ["nodup"]).duplicate_window_ms(0).into()])
            .all_accepted()
    );
    for sequence in 1..=2 {
        assert_eq!(swarm.agent("owner", vec![with_id("nodup")]).published(), ("nodup".to_owned(), sequence, false));
    }
}

#[test]
fn fetch_gives_redeliveries_first_and_never_exceeds_max_ack_pending() {
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK).max_ack_pending(2));
    publish_n(&mut swarm, 4);
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 10)]).delivered_sequences(), vec![1, 2]);
    assert!(swarm.agent("worker-2", vec![fetch(ORDERS, WORK, 10)]).deliveries().is_empty(), "two pending is the most");
    assert!(swarm.agent("worker-1", vec![ack(ORDERS, WORK, &[1]), nak(ORDERS, WORK, &[2], 0, None)]).all_accepted());
    let outcome = swarm.agent("worker-2", vec![fetch(ORDERS, WORK, 10)]);
    let deliveries = outcome.deliveries();
    assert_eq!(deliveries.iter().map(|d| (d.sequence, d.delivery_count)).collect::<Vec<_>>(), vec![(2, 2), (3, 1)]);
    assert_eq!(deliveries[0].message.payload, Some(Payload::Json("{\"n\":1}".to_owned())));
    let info = swarm.state().consumer_info(&stream_name(ORDERS), &stream_name(WORK)).unwrap();
    assert_eq!((info.cursor, info.ack_floor, info.pending, info.redelivered), (4, 1, 2, 1));
    assert_eq!(info.pending_by_holder.get(&Simulator::signer("worker-2")), Some(&2));

    // A filter skips what does not match; batch bounds the result.
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK).filter("orders.paid"));
    for subject in ["orders.new", "orders.paid", "orders.new", "orders.paid", "orders.paid"] {
        assert!(swarm.agent("owner", vec![publish(subject, "0")]).all_accepted());
    }
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 2)]).delivered_sequences(), vec![2, 4]);
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 2)]).delivered_sequences(), vec![5]);
    assert_eq!(refuse(&mut swarm, "worker-1", fetch(ORDERS, WORK, 0)).field(), Some("batch"));
    assert_eq!(refuse(&mut swarm, "worker-1", fetch(ORDERS, WORK, limits::FETCH_BATCH_MAX + 1)).field(), Some("batch"));
    assert_eq!(refuse_code(&mut swarm, "worker-1", fetch(ORDERS, "nobody", 1)), "consumer_not_found");
    assert_eq!(refuse_code(&mut swarm, "worker-1", fetch("nothing", WORK, 1)), "stream_not_found");
}

#[test]
fn deliver_policies_pick_where_a_consumer_starts() {
    let mut swarm = new_swarm();
    assert!(swarm.agent("owner", vec![create_stream(ORDERS, ["orders.>"])]).all_accepted());
    publish_n(&mut swarm, 2);
    swarm.advance_ms(1_000);
    let middle = swarm.now_ms();
    publish_n(&mut swarm, 2);
    let consumers = [
        ("all", DeliverPolicy::All, vec![1, 2, 3, 4]),
        ("new", DeliverPolicy::New, vec![5]),
        ("from-3", DeliverPolicy::FromSequence(3), vec![3, 4]),
        ("from-time", DeliverPolicy::FromTimeMs(middle), vec![3, 4]),
    ];
    for (consumer, deliver, _) in &consumers {
        let create = CreateConsumerBuilder::new(ORDERS, consumer).deliver(*deliver).agents(WORKERS);
        assert!(swarm.agent("owner", vec![create.into()]).all_accepted());
    }
    publish_n(&mut swarm, 1);
    for (consumer, _, expected) in consumers {
        let got = swarm.agent("worker-1", vec![fetch(ORDERS, consumer, 10)]).delivered_sequences();
        let expected: Vec<u64> = if consumer == "new" { expected } else { expected.into_iter().chain([5]).collect() };
        assert_eq!(got, expected, "{consumer}");
    }
    let rejection = refuse(
        &mut swarm,
        "owner",
        CreateConsumerBuilder::new(ORDERS, "zero").deliver(DeliverPolicy::FromSequence(0)).into(),
    );
    assert_eq!(rejection.field(), Some("deliver"));
}

#[test]
fn consumers_are_created_once_validated_and_deleted_by_the_right_signers() {
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK));
    let outcome = swarm.agent("worker-1", vec![shared_consumer(ORDERS, WORK)]);
    assert_eq!(outcome.single(), &Ok(Accepted::Unchanged));
    assert_eq!(
        refuse_code(&mut swarm, "worker-1", CreateConsumerBuilder::new(ORDERS, WORK).max_deliver(2).into()),
        "consumer_conflict"
    );
    let invalid = [
        (CreateConsumerBuilder::new(ORDERS, "c").filter("payments.>"), "filter"),
        (CreateConsumerBuilder::new(ORDERS, "c").ack_wait_ms(limits::ACK_WAIT_MS_MIN - 1), "ack_wait_ms"),
        (CreateConsumerBuilder::new(ORDERS, "c").ack_wait_ms(limits::ACK_WAIT_MS_MAX + 1), "ack_wait_ms"),
        (CreateConsumerBuilder::new(ORDERS, "c").max_deliver(0), "max_deliver"),
        (CreateConsumerBuilder::new(ORDERS, "c").max_ack_pending(0), "max_ack_pending"),
        (CreateConsumerBuilder::new(ORDERS, "c").max_ack_pending(limits::MAX_ACK_PENDING_MAX + 1), "max_ack_pending"),
        (CreateConsumerBuilder::new(ORDERS, "c").backoff_ms([1_000, 0]), "backoff_ms"),
    ];
    for (create, field) in invalid {
        assert_eq!(refuse(&mut swarm, "worker-1", create.into()).field(), Some(field));
    }
    let too_many_steps = CreateConsumerBuilder::new(ORDERS, "c").backoff_ms(vec![1_000; limits::BACKOFF_STEPS_MAX + 1]);
    assert_eq!(refuse_code(&mut swarm, "worker-1", too_many_steps.into()), "limit_reached");
    assert_eq!(refuse_code(&mut swarm, "worker-1", create_consumer("nothing", "c")), "stream_not_found");
    assert!(
        swarm
            .agent("worker-1", vec![CreateConsumerBuilder::new(ORDERS, "mine").filter("orders.*").into()])
            .all_accepted()
    );

    assert_eq!(refuse_code(&mut swarm, "stranger", delete_consumer(ORDERS, "mine")), "unauthorized");
    let outcome = swarm.agent("worker-1", vec![delete_consumer(ORDERS, "mine")]);
    assert_eq!(
        outcome.event_kinds(),
        vec![&EventKind::ConsumerDeleted {
            stream: stream_name(ORDERS),
            consumer: name("mine"),
            by: Simulator::signer("worker-1")
        }]
    );
    assert!(swarm.agent("owner", vec![delete_consumer(ORDERS, WORK)]).all_accepted(), "the stream's owner may");
    assert!(swarm.agent("worker-2", vec![create_consumer(ORDERS, "theirs")]).all_accepted());
    assert!(swarm.operator(vec![delete_consumer(ORDERS, "theirs")]).all_accepted(), "the operator may");
    assert_eq!(refuse_code(&mut swarm, "owner", delete_consumer(ORDERS, "theirs")), "consumer_not_found");
}

#[test]
fn acks_nak_in_progress_and_term_do_what_jetstream_does() {
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK).ack_wait_ms(10_000));
    publish_n(&mut swarm, 4);
    let outcome = swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 4)]);
    assert_eq!(outcome.deliveries()[0].ack_deadline_ms, swarm.now_ms() + 10_000);

    // ack: done for good; acking again is a no-op.
    assert!(swarm.agent("worker-1", vec![ack(ORDERS, WORK, &[1])]).all_accepted());
    assert_eq!(swarm.agent("worker-1", vec![ack(ORDERS, WORK, &[1])]).single(), &Ok(Accepted::Unchanged));
    // nak with a delay: due again only after it.
    assert!(swarm.agent("worker-1", vec![nak(ORDERS, WORK, &[2], 5_000, Some("db down"))]).all_accepted());
    swarm.advance_ms(4_999);
    assert!(swarm.agent("worker-2", vec![fetch(ORDERS, WORK, 1)]).deliveries().is_empty());
    swarm.advance_ms(1);
    let outcome = swarm.agent("worker-2", vec![fetch(ORDERS, WORK, 1)]);
    assert_eq!(outcome.deliveries().iter().map(|d| (d.sequence, d.delivery_count)).collect::<Vec<_>>(), vec![(2, 2)]);
    // in_progress: the deadline restarts from now.
    swarm.advance_ms(4_000);
    assert!(swarm.agent("worker-1", vec![in_progress(ORDERS, WORK, &[3])]).all_accepted());
    let held = |swarm: &Simulator, sequence: u64| {
        swarm.state().stream(&stream_name(ORDERS)).unwrap().consumer(&stream_name(WORK)).unwrap().pending()[&sequence]
            .clone()
    };
    assert_eq!(held(&swarm, 3).ack_deadline_ms, Some(swarm.now_ms() + 10_000));
    swarm.advance_ms(9_000);
    swarm.tick();
    assert!(held(&swarm, 3).ack_deadline_ms.is_some(), "still held thanks to in_progress");
    assert!(held(&swarm, 4).ack_deadline_ms.is_none(), "sequence 4's ack wait passed");
    assert_eq!(held(&swarm, 4).last_error.as_deref(), Some(ACK_WAIT_EXPIRED));
    // term: dead-lettered at once with the reason.
    let outcome = swarm.agent("worker-1", vec![term(ORDERS, WORK, &[3], Some("poison"))]);
    assert_eq!(
        outcome.event_kinds(),
        vec![&EventKind::MessageDeadLettered {
            stream: stream_name(ORDERS),
            consumer: name(WORK),
            sequence: 3,
            dead_letter: 1,
            delivery_count: 1,
            reason: DeadLetterReason::Terminated,
        }]
    );
    let dead = swarm.state().dead_letters(&stream_name(ORDERS), None, 10)[0].clone();
    assert_eq!(
        (dead.sequence, dead.reason, dead.last_error.as_deref()),
        (3, DeadLetterReason::Terminated, Some("poison"))
    );
    assert_eq!(dead.message, *swarm.state().stream_message(&stream_name(ORDERS), 3).unwrap());
    // A late ack by the last holder of a message waiting for redelivery still counts.
    assert!(swarm.agent("worker-1", vec![ack(ORDERS, WORK, &[4])]).all_accepted());

    // What cannot be acked.
    assert!(swarm.agent("worker-2", vec![ack(ORDERS, WORK, &[2])]).all_accepted());
    publish_n(&mut swarm, 1);
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 1)]).delivered_sequences(), vec![5]);
    assert_eq!(refuse_code(&mut swarm, "worker-1", ack(ORDERS, WORK, &[6])), "delivery_not_pending");
    assert_eq!(refuse_code(&mut swarm, "worker-1", nak(ORDERS, WORK, &[1], 0, None)), "delivery_not_pending");
    assert_eq!(refuse(&mut swarm, "worker-1", ack(ORDERS, WORK, &[])).field(), Some("sequences"));
    assert_eq!(refuse(&mut swarm, "worker-1", ack(ORDERS, WORK, &[5, 5])).field(), Some("sequences"));
    // Validation is whole: one bad sequence refuses the ack of the good one too.
    assert_eq!(refuse_code(&mut swarm, "worker-1", ack(ORDERS, WORK, &[5, 6])), "delivery_not_pending");
    let long = "e".repeat(limits::REASON_BYTES_MAX + 1);
    assert_eq!(refuse(&mut swarm, "worker-1", nak(ORDERS, WORK, &[5], 0, Some(&long))).field(), Some("kind"));
    assert_eq!(
        refuse(&mut swarm, "worker-1", nak(ORDERS, WORK, &[5], limits::ACK_WAIT_MS_MAX + 1, None)).field(),
        Some("kind")
    );
}

#[test]
fn only_the_holder_or_the_operator_acknowledges_a_delivery() {
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK));
    publish_n(&mut swarm, 2);
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 2)]).delivered_sequences(), vec![1, 2]);
    for command in [ack(ORDERS, WORK, &[1]), term(ORDERS, WORK, &[1], None), in_progress(ORDERS, WORK, &[1])] {
        assert_eq!(refuse_code(&mut swarm, "worker-2", command), "unauthorized");
    }
    assert!(swarm.operator(vec![ack(ORDERS, WORK, &[1])]).all_accepted(), "the operator may ack any delivery");
    assert!(swarm.agent("worker-1", vec![ack(ORDERS, WORK, &[2])]).all_accepted());
}

#[test]
fn an_expired_ack_wait_redelivers_to_another_member_who_then_holds_it() {
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK).ack_wait_ms(5_000));
    publish_n(&mut swarm, 1);
    let fetched_at = swarm.now_ms();
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 1)]).delivered_sequences(), vec![1]);
    assert_eq!(swarm.state().next_deadline_ms(), Some(fetched_at + 5_001), "the driver ticks for ack deadlines");
    swarm.advance_ms(5_000);
    assert!(
        swarm.agent("worker-2", vec![fetch(ORDERS, WORK, 1)]).deliveries().is_empty(),
        "not before the deadline passes"
    );
    swarm.advance_ms(1);
    let outcome = swarm.agent("worker-2", vec![fetch(ORDERS, WORK, 1)]);
    assert_eq!(outcome.deliveries().iter().map(|d| (d.sequence, d.delivery_count)).collect::<Vec<_>>(), vec![(1, 2)]);
    assert_eq!(refuse_code(&mut swarm, "worker-1", ack(ORDERS, WORK, &[1])), "unauthorized", "worker-2 holds it now");
    assert!(swarm.agent("worker-2", vec![ack(ORDERS, WORK, &[1])]).all_accepted());
    let info = swarm.state().consumer_info(&stream_name(ORDERS), &stream_name(WORK)).unwrap();
    assert_eq!((info.ack_floor, info.pending, info.delivered, info.redelivered, info.acked), (1, 0, 2, 1, 1));
}

#[test]
fn backoff_sets_the_ack_deadline_of_each_delivery() {
    let mut swarm =
        swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK).backoff_ms([2_000, 4_000, 8_000]).max_deliver(5));
    publish_n(&mut swarm, 1);
    let mut waits = Vec::new();
    for _ in 0..5 {
        let outcome = swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 1)]);
        let delivery = &outcome.deliveries()[0];
        waits.push(delivery.ack_deadline_ms - swarm.now_ms());
        swarm.advance_ms(delivery.ack_deadline_ms - swarm.now_ms() + 1);
        swarm.tick();
    }
    assert_eq!(waits, vec![2_000, 4_000, 8_000, 8_000, 8_000]);
    assert_eq!(swarm.state().dead_letters(&stream_name(ORDERS), None, 10).len(), 1, "after the fifth delivery");
}

#[test]
fn the_last_allowed_delivery_expiring_or_nakked_dead_letters_the_message() {
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK).ack_wait_ms(1_000).max_deliver(2));
    publish_n(&mut swarm, 2);
    for _ in 0..2 {
        assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 1)]).delivered_sequences(), vec![1]);
        swarm.advance_ms(1_001);
        let outcome = swarm.tick();
        if swarm.state().dead_letters(&stream_name(ORDERS), None, 10).is_empty() {
            assert!(outcome.events.is_empty());
        } else {
            assert_eq!(
                outcome.event_kinds(),
                vec![&EventKind::MessageDeadLettered {
                    stream: stream_name(ORDERS),
                    consumer: name(WORK),
                    sequence: 1,
                    dead_letter: 1,
                    delivery_count: 2,
                    reason: DeadLetterReason::MaxDeliver,
                }]
            );
        }
    }
    let dead = swarm.state().dead_letters(&stream_name(ORDERS), None, 10)[0].clone();
    assert_eq!((dead.id, dead.sequence, dead.delivery_count), (1, 1, 2));
    assert_eq!((dead.reason, dead.last_error.as_deref()), (DeadLetterReason::MaxDeliver, Some(ACK_WAIT_EXPIRED)));
    assert_eq!((dead.consumer.as_str(), dead.subject.as_str(), dead.dead_at_ms), (WORK, "orders.new", swarm.now_ms()));
    // Message 2: the second delivery is nakked, which dead-letters it with the nak's error.
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 1)]).delivered_sequences(), vec![2]);
    assert!(swarm.agent("worker-1", vec![nak(ORDERS, WORK, &[2], 0, Some("bad input"))]).all_accepted());
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 1)]).delivered_sequences(), vec![2]);
    let outcome = swarm.agent("worker-1", vec![nak(ORDERS, WORK, &[2], 0, Some("still bad"))]);
    assert_eq!(outcome.events.len(), 1);
    let dead = swarm.state().dead_letters(&stream_name(ORDERS), Some(1), 10)[0].clone();
    assert_eq!(
        (dead.sequence, dead.reason, dead.last_error.as_deref()),
        (2, DeadLetterReason::MaxDeliver, Some("still bad"))
    );
    let info = swarm.state().consumer_info(&stream_name(ORDERS), &stream_name(WORK)).unwrap();
    assert_eq!((info.pending, info.ack_floor, info.dead_lettered), (0, 2, 2));
    assert!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 1)]).deliveries().is_empty());
    assert_eq!(swarm.state().stream_info(&stream_name(ORDERS)).unwrap().dead_letters, 2);
}

#[test]
fn dead_letters_are_replayed_or_discarded_by_the_owner_only() {
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK));
    publish_n(&mut swarm, 3);
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 3)]).delivered_sequences(), vec![1, 2, 3]);
    assert!(swarm.agent("worker-1", vec![term(ORDERS, WORK, &[1, 2, 3], None)]).all_accepted());
    assert_eq!(refuse_code(&mut swarm, "worker-1", replay_dead_letters(ORDERS, &[1])), "unauthorized");
    assert_eq!(refuse_code(&mut swarm, "stranger", discard_dead_letters(ORDERS, &[1])), "unauthorized");
    assert_eq!(refuse_code(&mut swarm, "owner", replay_dead_letters(ORDERS, &[1, 9])), "dead_letter_not_found");
    assert_eq!(refuse(&mut swarm, "owner", replay_dead_letters(ORDERS, &[1, 1])).field(), Some("dead_letters"));
    assert_eq!(refuse(&mut swarm, "owner", discard_dead_letters(ORDERS, &[])).field(), Some("dead_letters"));
    assert_eq!(refuse_code(&mut swarm, "owner", replay_dead_letters("nothing", &[1])), "stream_not_found");

    let outcome = swarm.agent("owner", vec![replay_dead_letters(ORDERS, &[2, 1])]);
    assert_eq!(
        outcome.single(),
        &Ok(Accepted::Replayed { messages: vec![(stream_name(ORDERS), 4), (stream_name(ORDERS), 5)] })
    );
    assert_eq!(
        outcome.event_kinds()[0],
        &EventKind::DeadLetterReplayed {
            stream: stream_name(ORDERS),
            dead_letter: 2,
            to_stream: stream_name(ORDERS),
            sequence: 4
        }
    );
    let replayed = swarm.state().stream_message(&stream_name(ORDERS), 4).unwrap();
    let original = swarm.state().stream_message(&stream_name(ORDERS), 2).unwrap();
    assert_eq!(
        (replayed.payload.clone(), replayed.source.clone()),
        (original.payload.clone(), original.source.clone())
    );
    assert_eq!(
        swarm.agent("worker-2", vec![fetch(ORDERS, WORK, 5)]).delivered_sequences(),
        vec![4, 5],
        "delivered again"
    );
    let remaining: Vec<u64> =
        swarm.state().dead_letters(&stream_name(ORDERS), None, 10).iter().map(|dead| dead.id).collect();
    assert_eq!(remaining, vec![3]);
    assert!(swarm.operator(vec![discard_dead_letters(ORDERS, &[3])]).all_accepted());
    assert!(swarm.state().dead_letters(&stream_name(ORDERS), None, 10).is_empty());

    // A replay into a full discard-new stream is refused whole.
    let mut swarm = new_swarm();
    let create = CreateStreamBuilder::new(ORDERS, ["orders.>"]).max_messages(2).discard_new();
    assert!(swarm.agent("owner", vec![create.into(), shared_consumer(ORDERS, WORK)]).all_accepted());
    publish_n(&mut swarm, 2);
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 2)]).delivered_sequences(), vec![1, 2]);
    assert!(swarm.agent("worker-1", vec![term(ORDERS, WORK, &[1, 2], None)]).all_accepted());
    assert_eq!(refuse_code(&mut swarm, "owner", replay_dead_letters(ORDERS, &[1])), "stream_full");
}

#[test]
fn deleting_a_stream_takes_its_consumers_and_dead_letters_and_only_its_owner_may() {
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK));
    publish_n(&mut swarm, 2);
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 2)]).delivered_sequences(), vec![1, 2]);
    assert!(swarm.agent("worker-1", vec![term(ORDERS, WORK, &[1], None)]).all_accepted());
    assert_eq!(refuse_code(&mut swarm, "stranger", delete_stream(ORDERS)), "unauthorized");
    assert!(swarm.state().bus().next_deadline_ms().is_some());
    let outcome = swarm.agent("owner", vec![delete_stream(ORDERS)]);
    assert_eq!(
        outcome.event_kinds(),
        vec![&EventKind::StreamDeleted { stream: stream_name(ORDERS), by: Simulator::signer("owner") }]
    );
    assert!(swarm.state().stream(&stream_name(ORDERS)).is_none());
    assert_eq!(swarm.state().bus().next_deadline_ms(), None, "the held delivery's deadline went with it");
    assert_eq!(refuse_code(&mut swarm, "owner", publish("orders.new", "1")), "no_stream");
    assert!(swarm.agent("stranger", vec![create_stream("mine", ["orders.>"])]).all_accepted(), "its subjects are free");
    assert!(swarm.operator(vec![delete_stream("mine")]).all_accepted(), "the operator may delete any stream");
    assert_eq!(refuse_code(&mut swarm, "owner", delete_stream("mine")), "stream_not_found");
}

#[test]
fn a_halted_agent_cannot_publish_or_fetch() {
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK));
    assert!(swarm.operator(vec![halt("worker-1", "audit")]).all_accepted());
    assert_eq!(refuse_code(&mut swarm, "worker-1", publish("orders.new", "1")), "agent_halted");
    assert_eq!(refuse_code(&mut swarm, "worker-1", fetch(ORDERS, WORK, 1)), "agent_halted");
}

#[test]
fn a_snapshot_with_streams_round_trips_and_carries_on_identically() {
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK).ack_wait_ms(2_000).max_deliver(2));
    assert!(
        swarm
            .agent("owner", vec![CreateStreamBuilder::new("aged", ["aged.*"]).max_age_ms(60_000).into()])
            .all_accepted()
    );
    publish_n(&mut swarm, 3);
    let signed = PublishBuilder::new("aged.x")
        .base64("AAEC")
        .message_id("m")
        .signature(Signature([9; 64]))
        .encrypted_to("worker-2");
    assert!(swarm.agent("owner", vec![signed.into()]).all_accepted());
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 2)]).delivered_sequences(), vec![1, 2]);
    assert!(swarm.agent("worker-1", vec![term(ORDERS, WORK, &[2], Some("bad"))]).all_accepted());
    let bytes = swarm.state().encode_snapshot();
    let mut restored = State::decode_snapshot(&bytes).expect("decodes");
    assert_eq!(&restored, swarm.state());
    assert_eq!(restored.encode_snapshot(), bytes);
    for step in 0..4 {
        swarm.advance_ms(1_500);
        let entry = match step {
            0 => swarm.factory().agent("worker-2", vec![fetch(ORDERS, WORK, 5)]),
            1 => swarm.factory().agent("owner", vec![PublishBuilder::new("aged.x").message_id("m").into()]),
            _ => swarm.factory().tick(),
        };
        assert_eq!(restored.apply(&entry).unwrap(), swarm.apply_ok(&entry));
        assert_eq!(restored.state_hash(), swarm.state().state_hash());
    }
}

#[test]
fn commands_decode_from_json_with_any_payload_and_encode_back_to_the_same_json() {
    let text = r#"{"type":"bus.publish","subject":"orders.new","message_id":"m-1","priority":"critical",
        "payload":{"z":[1,-2,2.5,1e18,"é\n\"",true,null],"a":{}}}"#;
    let command: Command = serde_json::from_str(text).expect("decodes");
    let Command::Publish(Publish { payload: Some(payload), priority, .. }) = &command else { panic!("{command:?}") };
    assert_eq!(payload.as_str(), "{\"z\":[1,-2,2.5,1e18,\"é\\n\\\"\",true,null],\"a\":{}}");
    assert_eq!(*priority, Priority::Critical);
    let value = serde_json::to_value(&command).expect("encodes");
    assert_eq!(value["payload"], serde_json::from_str::<serde_json::Value>(text).unwrap()["payload"]);
    // Through `serde_json::Value` (whose objects are sorted) members come back sorted, still canonical.
    let again: Command = serde_json::from_value(value.clone()).expect("decodes again");
    assert_eq!(serde_json::to_value(&again).unwrap(), value);
    assert_eq!(JsonText::parse("[1, 2]").unwrap().as_str(), "[1,2]");

    let ack: Command = serde_json::from_str(
        r#"{"type":"consumer.ack","stream":"s","consumer":"c","sequences":[1],"kind":{"nak":{"delay_ms":5}}}"#,
    )
    .unwrap();
    assert_eq!(ack, support::commands::nak("s", "c", &[1], 5, None));
    let create: Command = serde_json::from_str(
        r#"{"type":"consumer.create","stream":"s","name":"c","deliver":{"from_sequence":3},"backoff_ms":[1000]}"#,
    )
    .unwrap();
    assert_eq!(
        create,
        CreateConsumerBuilder::new("s", "c").deliver(DeliverPolicy::FromSequence(3)).backoff_ms([1_000]).into()
    );
    let stream: Command =
        serde_json::from_str(r#"{"type":"stream.create","name":"s","subjects":["a.>"],"discard":"new"}"#).unwrap();
    assert_eq!(stream, CreateStreamBuilder::new("s", ["a.>"]).discard_new().into());
    assert!(serde_json::from_str::<Command>(r#"{"type":"bus.publish","subject":"a.*"}"#).is_err(), "no wildcards");
    let _ = Signer::Operator;
}

#[test]
fn dead_letters_are_bounded_dropping_the_oldest_and_counting_them() {
    let max_ack_pending = limits::MAX_ACK_PENDING_MAX;
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK).max_ack_pending(max_ack_pending));
    let total = limits::DEAD_LETTERS_PER_STREAM_MAX as u64 + 1;
    let publishes: Vec<Command> = (0..total).map(|index| publish("orders.new", &index.to_string())).collect();
    for chunk in publishes.chunks(limits::COMMANDS_PER_ENVELOPE_MAX) {
        assert!(swarm.agent("owner", chunk.to_vec()).all_accepted());
    }
    let mut terminated = 0;
    while terminated < total {
        let fetches = (0..max_ack_pending / limits::FETCH_BATCH_MAX + 1)
            .map(|_| fetch(ORDERS, WORK, limits::FETCH_BATCH_MAX))
            .collect();
        let outcome = swarm.agent("worker-1", fetches);
        let sequences: Vec<u64> = outcome
            .commands
            .iter()
            .flat_map(|result| match result {
                Ok(Accepted::Fetched { deliveries, .. }) => {
                    deliveries.iter().map(|delivery| delivery.sequence).collect::<Vec<u64>>()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(!sequences.is_empty());
        let terms = sequences.chunks(limits::ACK_SEQUENCES_MAX).map(|chunk| term(ORDERS, WORK, chunk, None)).collect();
        assert!(swarm.agent("worker-1", terms).all_accepted());
        terminated += sequences.len() as u64;
    }
    let info = swarm.state().stream_info(&stream_name(ORDERS)).unwrap();
    assert_eq!((info.dead_letters, info.dead_letters_dropped), (total - 1, 1));
    let first = swarm.state().dead_letters(&stream_name(ORDERS), None, 1)[0].id;
    assert_eq!(first, 2, "the oldest dead letter was dropped");
    assert_eq!(refuse_code(&mut swarm, "owner", replay_dead_letters(ORDERS, &[1])), "dead_letter_not_found");
}

#[test]
fn message_ids_are_bounded_forgetting_the_oldest() {
    let mut swarm = new_swarm();
    assert!(swarm.agent("owner", vec![create_stream(ORDERS, ["orders.>"])]).all_accepted());
    let total = limits::DEDUPE_IDS_PER_STREAM_MAX + 1;
    for chunk in (0..total).collect::<Vec<_>>().chunks(limits::COMMANDS_PER_ENVELOPE_MAX) {
        let publishes = chunk
            .iter()
            .map(|index| PublishBuilder::new("orders.new").message_id(&format!("id-{index}")).into())
            .collect();
        assert!(swarm.agent("owner", publishes).all_accepted());
    }
    let again = |index: usize| Command::from(PublishBuilder::new("orders.new").message_id(&format!("id-{index}")));
    let (_, sequence, duplicate) = swarm.agent("owner", vec![again(1)]).published();
    assert_eq!((sequence, duplicate), (2, true), "a recent id is still remembered");
    let (_, sequence, duplicate) = swarm.agent("owner", vec![again(0)]).published();
    assert_eq!((sequence, duplicate), (total as u64 + 1, false), "the oldest id was forgotten, within its window");
}

#[test]
fn a_fetch_stops_at_its_max_bytes_but_returns_at_least_one_message_and_leaves_the_rest() {
    let mut swarm = swarm_with_work(CreateConsumerBuilder::new(ORDERS, WORK));
    publish_n(&mut swarm, 5);
    let size = swarm.state().stream_message(&stream_name(ORDERS), 1).unwrap().size_bytes();
    let outcome = swarm.agent("worker-1", vec![support::commands::fetch_bytes(ORDERS, WORK, 10, 2 * size + 1)]);
    assert_eq!(outcome.delivered_sequences(), vec![1, 2], "two messages fit in 2 × size + 1 bytes");
    let outcome = swarm.agent("worker-1", vec![support::commands::fetch_bytes(ORDERS, WORK, 10, 1)]);
    assert_eq!(outcome.delivered_sequences(), vec![3], "one message even when it alone passes max_bytes");
    assert_eq!(swarm.agent("worker-1", vec![fetch(ORDERS, WORK, 10)]).delivered_sequences(), vec![4, 5]);
    let refused = swarm.agent("worker-1", vec![support::commands::fetch_bytes(ORDERS, WORK, 10, 0)]);
    assert_eq!(refused.codes(), vec![Some("invalid_field")]);
}

#[test]
fn the_fetches_of_one_envelope_share_a_byte_budget_and_what_is_left_out_comes_next() {
    // 150 messages of 60 KiB (9 MiB) and ten consumers: ten fetches of 256 would answer 90 MiB.
    let mut swarm = new_swarm();
    let consumers: Vec<String> = (0..10).map(|index| format!("c{index}")).collect();
    let mut setup = vec![CreateStreamBuilder::new(ORDERS, ["orders.>"]).max_bytes(limits::STREAM_BYTES_MAX).into()];
    setup.extend(
        consumers.iter().map(|consumer| Command::from(CreateConsumerBuilder::new(ORDERS, consumer).agents(WORKERS))),
    );
    assert!(swarm.agent("owner", setup).all_accepted());
    let big = format!("\"{}\"", "x".repeat(60 << 10));
    for _ in 0..150 {
        assert!(swarm.agent("owner", vec![PublishBuilder::new("orders.big").json(&big).into()]).all_accepted());
    }
    let fetches = consumers.iter().map(|consumer| fetch(ORDERS, consumer, limits::FETCH_BATCH_MAX)).collect();
    let outcome = swarm.agent("worker-1", fetches);
    let mut total_bytes = 0;
    let mut counts = Vec::new();
    for result in &outcome.commands {
        let Ok(Accepted::Fetched { deliveries, .. }) = result else { panic!("{result:?}") };
        total_bytes += deliveries.iter().map(|delivery| delivery.message.size_bytes()).sum::<u64>();
        counts.push(deliveries.len());
    }
    let size = swarm.state().stream_message(&stream_name(ORDERS), 1).unwrap().size_bytes();
    assert!(total_bytes <= limits::FETCH_BYTES_PER_ENVELOPE_MAX + size, "{total_bytes} bytes answered");
    let fitting = (limits::FETCH_BYTES_PER_ENVELOPE_MAX / size) as usize;
    assert_eq!(counts[0], fitting, "the first consumer takes what fits in the budget");
    assert!(counts[1] <= 1 && counts[2..].iter().all(|count| *count == 0), "then the budget is spent: {counts:?}");
    // Nothing was skipped: the next envelope goes on where each consumer stopped.
    let next = swarm.agent("worker-1", vec![fetch(ORDERS, "c0", limits::FETCH_BATCH_MAX)]);
    assert_eq!(next.delivered_sequences(), (fitting as u64 + 1..=150).collect::<Vec<_>>());
    let next = swarm.agent("worker-1", vec![fetch(ORDERS, "c9", limits::FETCH_BATCH_MAX)]);
    assert_eq!(next.delivered_sequences().first(), Some(&1));
}

#[test]
fn durable_payloads_follow_the_same_rules_as_ephemeral_ones() {
    // Decoded from a command's JSON (serde's path), a payload is held to JsonText::check's rules.
    for (text, reason) in [
        (r#"{"a":1,"a":2}"#, "duplicate key"),
        ("123456789012345678901234567890", "2^63"),
        ("1e19", "2^63"),
        ("1e400", ""),
        (r#""\ud800""#, ""),
    ] {
        let error = serde_json::from_str::<JsonText>(text).expect_err(text).to_string();
        assert!(error.contains(reason), "{text}: {error}");
        assert!(JsonText::check(text).is_err(), "{text} is refused on the ephemeral path too");
    }
    for text in ["18446744073709551615", "-9223372036854775808", r#"{"a":[1.5,-0.0,"x"]}"#] {
        let decoded: JsonText = serde_json::from_str(text).unwrap();
        assert_eq!(JsonText::parse(text).unwrap(), decoded, "one canonical form on both paths: {text}");
    }
    // Nesting: a durable payload is refused past the limit, as an ephemeral one is.
    let mut swarm = new_swarm();
    assert!(swarm.agent("owner", vec![create_stream(ORDERS, ["orders.>"])]).all_accepted());
    let nested = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
    let deep = nested(limits::PAYLOAD_NESTING_MAX + 1);
    let command: Command =
        serde_json::from_str(&format!(r#"{{"type":"bus.publish","subject":"orders.deep","payload":{deep}}}"#)).unwrap();
    let rejection = refuse(&mut swarm, "owner", command);
    assert_eq!((rejection.code(), rejection.field()), ("invalid_field", Some("payload")));
    let command = PublishBuilder::new("orders.deep").json(&nested(limits::PAYLOAD_NESTING_MAX)).into();
    assert!(swarm.agent("owner", vec![command]).all_accepted());
}
