//! A small swarm with something of everything in it, and valid log records to mutate against it.
//!
//! The decoders' targets need a state that is not empty, so that a decoded snapshot or record has
//! agents, wallets, escrows, streams, deliveries and dead letters to refer to (or to break). The
//! fixture is built once per process through the testkit's simulator, with every step asserted to be
//! accepted so that it cannot quietly become emptier than it claims.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use colony_core::bus::Priority;
use colony_core::{Command, EscrowResolution, Signer, State, SwarmConfig};
use colony_testkit::commands::{
    Lock, PublishBuilder, Register, Update, configure_wallet, deregister, discard_dead_letters, dispute, extend, fetch,
    fetch_bytes, halt, issue_read_token, lock, mint, nak, publish, refund, register, release, replay_dead_letters,
    resolve, resume, revoke_read_token, set_config, sweep, term, transfer, transfer_batch, transfer_request, withdraw,
};
use colony_testkit::strategies::{ConsumerVariant, StreamVariant, consumer_command, stream_command};
use colony_testkit::{OutcomeExt, Simulator, SwarmBuilder, agent_id, operator_key};
use colony_wire::record::{GenesisPayload, RecordKind, encode_genesis, encode_signed};
use colony_wire::{Envelope, SignedEnvelope};

/// The fixture's state, its snapshot, and one valid record of every kind (a signed envelope for every
/// command) that would be the state's next entry.
#[derive(Debug)]
pub struct Fixture {
    /// The populated state.
    pub state: State,
    /// Its snapshot.
    pub snapshot: Vec<u8>,
    /// Valid record payloads, by kind: a genesis, a tick, and one envelope per command kind.
    pub records: Vec<RecordTemplate>,
}

/// A valid record's kind and payload (the signature is all zeros: decoding does not verify it).
#[derive(Debug)]
pub struct RecordTemplate {
    /// Its kind.
    pub kind: RecordKind,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let swarm = populated_swarm();
        let state = swarm.state().clone();
        let snapshot = state.encode_snapshot();
        let records = record_templates(&state);
        Fixture { state, snapshot, records }
    })
}

/// Runs `commands` as `signer` (`None` for the operator) and asserts that all were accepted.
#[track_caller]
fn accepted(swarm: &mut Simulator, signer: Option<&str>, commands: Vec<Command>) {
    let outcome = match signer {
        None => swarm.operator(commands),
        Some(agent) => swarm.agent(agent, commands),
    };
    assert!(outcome.all_accepted(), "the fixture's step was refused: {outcome:?}");
}

/// Agents `agent-0` to `agent-3` (`agent-1` a child of `agent-0`, `agent-3` of `agent-2`, `agent-2`
/// referred by `agent-0`), funded; `agent-4` halted, `agent-5` deregistered; a read token and a wallet
/// policy; escrow 0 disputed (with an arbiter and a hashlock), 1 released, 2 open with a referrer;
/// streams `s-0` and `s-1` with their consumers, messages in both, a delivery held, one acked, one
/// dead-lettered; a transfer.
pub fn populated_swarm() -> Simulator {
    let mut swarm = SwarmBuilder::new().heartbeat_ttl_ms(30_000).build();
    accepted(
        &mut swarm,
        None,
        vec![
            register("agent-0", "scout"),
            Register::new("agent-1", "scout").parent("agent-0").build(),
            Register::new("agent-2", "analyst").referrer("agent-0").capabilities(["trade", "vote"]).build(),
            Register::new("agent-3", "executor").parent("agent-2").weight(300).build(),
            register("agent-4", "oracle"),
            register("agent-5", "risk"),
        ],
    );
    for agent in ["agent-0", "agent-1", "agent-2", "agent-3"] {
        swarm.fund(agent, 1_000_000);
    }
    accepted(
        &mut swarm,
        None,
        vec![
            halt("agent-4", "maintenance"),
            deregister("agent-5"),
            issue_read_token("token-0", "dashboard", None),
            configure_wallet("agent-1").daily_limit(50_000).minimum_balance(100).build(),
        ],
    );
    accepted(
        &mut swarm,
        Some("agent-0"),
        vec![
            Lock::new("agent-1", 10_000).arbiter("agent-2").hashlock("secret-0").task_id("task-0").build(),
            lock("agent-2", 5_000),
            Lock::new("agent-1", 2_000).referrer("agent-3").timeout_ms(600_000).build(),
        ],
    );
    accepted(&mut swarm, Some("agent-1"), vec![dispute(0, "late")]);
    accepted(&mut swarm, Some("agent-0"), vec![release(1)]);
    accepted(
        &mut swarm,
        None,
        vec![
            stream_command(0, StreamVariant::Usual),
            stream_command(1, StreamVariant::Usual),
            consumer_command(0, 0, ConsumerVariant::Usual),
            consumer_command(1, 1, ConsumerVariant::Usual),
        ],
    );
    accepted(
        &mut swarm,
        Some("agent-0"),
        vec![
            PublishBuilder::new("bus.0.a").message_id("m-0").json("{\"work\":1}").build(),
            PublishBuilder::new("bus.0.b").base64("AAEC").build(),
            publish("bus.1.a", "[1,2,3]"),
            publish("bus.0.a", "\"three\""),
        ],
    );
    accepted(&mut swarm, Some("agent-1"), vec![fetch("s-0", "c-0", 3)]);
    accepted(
        &mut swarm,
        Some("agent-1"),
        vec![
            term("s-0", "c-0", &[1], Some("poison")),
            colony_testkit::commands::ack("s-0", "c-0", &[2]),
            transfer("pay-0", "agent-2", 300),
        ],
    );
    swarm.tick_after(1_000);
    swarm
}

/// One valid record of every kind against `state`: a genesis (which applies only to an empty state), a
/// tick, and for every command kind an envelope of that command, from a signer that may send it,
/// with the signer's next nonce.
fn record_templates(state: &State) -> Vec<RecordTemplate> {
    let genesis = GenesisPayload {
        rules_version: colony_core::RULES_VERSION,
        operator_key: operator_key(),
        config: SwarmConfig::default(),
    };
    let mut records = vec![
        RecordTemplate { kind: RecordKind::Genesis, payload: encode_genesis(&genesis) },
        RecordTemplate { kind: RecordKind::Tick, payload: Vec::new() },
    ];
    let envelopes = signed_commands(state);
    let kinds: BTreeSet<&str> = envelopes.iter().map(|(_, command)| command.kind()).collect();
    let missing: Vec<&&str> = Command::KINDS.iter().filter(|kind| !kinds.contains(**kind)).collect();
    assert!(missing.is_empty(), "the fixture has no record of these commands: {missing:?}");
    for (signer, command) in envelopes {
        let signer = match signer {
            None => Signer::Operator,
            Some(agent) => Signer::Agent(agent_id(agent)),
        };
        let nonce = state.highest_nonce(&signer) + 1;
        let envelope = Envelope { signer, nonce, commands: vec![command] };
        let body = serde_json::to_vec(&envelope).expect("an envelope encodes");
        let payload = encode_signed(&SignedEnvelope { body, signature: [0; 64] });
        records.push(RecordTemplate { kind: RecordKind::Signed, payload });
    }
    records
}

/// A command of every kind, each with a signer (`None` for the operator) that may send it against the
/// populated swarm.
fn signed_commands(state: &State) -> Vec<(Option<&'static str>, Command)> {
    let now_ms = state.timestamp_ms();
    vec![
        (None, register("agent-6", "scout")),
        (None, Update::new("agent-0").role("analyst").capabilities(["audit"]).weight(7).build()),
        (Some("agent-0"), colony_testkit::commands::heartbeat()),
        (None, halt("agent-1", "maintenance")),
        (None, resume("agent-4")),
        (None, deregister("agent-2")),
        (None, set_config(SwarmConfig::default())),
        (None, issue_read_token("token-1", "ci", Some(now_ms + 60_000))),
        (None, revoke_read_token("token-0")),
        (None, mint("mint-1", "agent-0", 5_000)),
        (Some("agent-0"), transfer("pay-1", "agent-1", 10)),
        (
            Some("agent-0"),
            transfer_batch([transfer_request("batch-1", "agent-1", 10), transfer_request("batch-2", "agent-2", 20)]),
        ),
        (Some("agent-0"), withdraw("out-1", 10)),
        (Some("agent-0"), sweep("agent-1", "sweep-1", 10)),
        (Some("agent-0"), configure_wallet("agent-1").frozen(true).no_withdraw(true).build()),
        (Some("agent-0"), Lock::new("agent-1", 100).arbiter("agent-2").hashlock("secret-1").build()),
        (Some("agent-0"), release(2)),
        (Some("agent-1"), refund(2)),
        (Some("agent-0"), extend(2, 1_200_000)),
        (Some("agent-1"), dispute(2, "late")),
        (Some("agent-2"), resolve(0, EscrowResolution::Split { payee_bps: 5_000 })),
        (None, stream_command(2, StreamVariant::Usual)),
        (None, colony_testkit::commands::delete_stream("s-1")),
        (
            Some("agent-0"),
            PublishBuilder::new("bus.0.b")
                .message_id("m-1")
                .message_type("task")
                .priority(Priority::High)
                .correlation_id("c-9")
                .reply_to("agent.agent-0.inbox")
                .header("trace", "abc")
                .json("{\"work\":[1,2.5,\"x\",null,true]}")
                .build(),
        ),
        (None, consumer_command(0, 1, ConsumerVariant::Usual)),
        (None, colony_testkit::commands::delete_consumer("s-1", "c-1")),
        (Some("agent-1"), fetch_bytes("s-0", "c-0", 2, 4_096)),
        (Some("agent-1"), nak("s-0", "c-0", &[3], 500, Some("busy"))),
        (None, replay_dead_letters("s-0", &[1])),
        (None, discard_dead_letters("s-0", &[1])),
    ]
}
