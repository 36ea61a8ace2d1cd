//! Part 1 of the demo, the registry: each agent's own key, self-registration, a child spawned by
//! its parent, heartbeats with one agent falling silent and coming back, halts, and attacks refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use colony_client::{Client, ClientError, Identity};
use colony_core::command::{Heartbeat, RegisterAgent, UpdateAgent};
use colony_core::{AgentId, Command, Name, Signer, SwarmConfig};
use colony_wire::{Envelope, KeyPair};

use super::{DemoResult, step};

/// The swarm: the six roles of the seed taxonomy, plus a child executor spawned by the treasury.
pub(super) const AGENTS: &[(&str, &str, &[&str])] = &[
    ("oracle-1", "oracle", &["price.feed", "price.verify"]),
    ("scout-1", "scout", &["market.scan", "signal.momentum"]),
    ("scout-2", "scout", &["market.scan", "signal.spread"]),
    ("analyst-1", "analyst", &["research.deep", "report.structured"]),
    ("executor-1", "executor", &["order.route", "order.slippage"]),
    ("risk-1", "risk", &["portfolio.monitor", "stop.loss"]),
    ("treasury-1", "treasury", &["capital.allocate", "escrow.lock"]),
];

/// Log-time TTL the demo configures, so that a silent agent is noticed within seconds.
const DEMO_HEARTBEAT_TTL_MS: u64 = 1_000;
/// Time between heartbeats of one agent.
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(200);

pub(super) struct Member {
    pub(super) id: AgentId,
    pub(super) client: Client,
}

/// The swarm after part 1: its members, still heartbeating in the background.
pub(super) struct Swarm {
    pub(super) members: Vec<Member>,
    stop_heartbeats: Arc<AtomicBool>,
    heartbeats: Vec<tokio::task::JoinHandle<Result<(), ClientError>>>,
}

impl Swarm {
    pub(super) fn client(&self, id: &str) -> Client {
        self.members.iter().find(|member| member.id.as_str() == id).expect("a member of the swarm").client.clone()
    }

    /// Stops every member's heartbeats and waits for them, failing if one failed.
    pub(super) async fn stop_heartbeats(self) -> DemoResult<Vec<Member>> {
        self.stop_heartbeats.store(true, Ordering::Relaxed);
        for task in self.heartbeats {
            task.await??;
        }
        Ok(self.members)
    }
}

/// Steps 1 to 5: registers the swarm and keeps it heartbeating for `seconds` (at least 3) while the
/// operator and the treasury halt and resume, and an attacker replays, forges and impersonates.
pub(super) async fn run(seconds: u64, server_url: &str, operator: &Client) -> DemoResult<Swarm> {
    let members = register(server_url, operator).await?;
    // 3. Everyone heartbeats concurrently; risk-1 "crashes" mid-run and comes back.
    //    They keep heartbeating until the end of the demo.
    let heartbeats = Arc::new(AtomicU64::new(0));
    let stop_heartbeats = Arc::new(AtomicBool::new(false));
    let heartbeat_started = Instant::now();
    let mut tasks = Vec::new();
    for member in &members {
        let client = member.client.clone();
        let heartbeats = Arc::clone(&heartbeats);
        let stop = Arc::clone(&stop_heartbeats);
        let crashes = member.id.as_str() == "risk-1";
        tasks.push(tokio::spawn(async move {
            let mut crashed = false;
            while !stop.load(Ordering::Relaxed) {
                if crashes && !crashed && heartbeat_started.elapsed() >= Duration::from_millis(600) {
                    // Silent for longer than the TTL, as if the process died and was restarted.
                    crashed = true;
                    tokio::time::sleep(Duration::from_millis(DEMO_HEARTBEAT_TTL_MS * 2)).await;
                }
                client.heartbeat().await?;
                heartbeats.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(HEARTBEAT_INTERVAL).await;
            }
            Ok::<(), ClientError>(())
        }));
    }

    // 4. Meanwhile the operator halts scout-2, which then tries to act; then resumes it. The treasury
    //    halts and resumes its own child.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let scout_2 = client_of(&members, "scout-2");
    operator.halt(AgentId::new("scout-2")?, "duplicate signals on the same pair").await?;
    let refused = scout_2
        .submit_one(Command::UpdateAgent(UpdateAgent {
            agent: AgentId::new("scout-2")?,
            role: None,
            capabilities: Some(["market.scan"].into_iter().map(Name::new).collect::<Result<_, _>>()?),
            weight: None,
        }))
        .await;
    let halted_code =
        refused.err().and_then(|error| error.code().map(str::to_owned)).unwrap_or_else(|| "ACCEPTED?!".to_owned());
    operator.resume(AgentId::new("scout-2")?).await?;
    let (treasury, child_id) = (client_of(&members, "treasury-1"), AgentId::new("executor-2")?);
    treasury.halt(child_id.clone(), "budget review").await?;
    treasury.resume(child_id).await?;

    // 5. Attacks: a replayed envelope, a forged signature, an impersonation.
    let scout_1 = client_of(&members, "scout-1");
    let captured = scout_1.identity().expect("has a key").sign(vec![Command::Heartbeat(Heartbeat {})]);
    scout_1.post_signed("/v1/commands", &captured).await?;
    let replay = scout_1.post_signed("/v1/commands", &captured).await;
    let mut forged = captured.clone();
    forged.signature[0] ^= 0x55;
    let forged = scout_1.post_signed("/v1/commands", &forged).await;
    let impersonation = Envelope {
        signer: Signer::Agent(AgentId::new("treasury-1")?),
        nonce: 1,
        commands: vec![Command::Heartbeat(Heartbeat {})],
    }
    .sign(scout_1.identity().expect("has a key").key());
    let impersonation = scout_1.post_signed("/v1/commands", &impersonation).await;
    let attack_code = |result: Result<_, ClientError>| match result {
        Ok(_) => "ACCEPTED?!".to_owned(),
        Err(error) => error.code().unwrap_or("transport").to_owned(),
    };
    let attacks = [
        ("replayed heartbeat envelope of scout-1", attack_code(replay)),
        ("scout-1's envelope with a flipped signature byte", attack_code(forged)),
        ("scout-1 signing as treasury-1", attack_code(impersonation)),
    ];

    // Let risk-1's silence be noticed and its return too.
    tokio::time::sleep(
        (heartbeat_started + Duration::from_secs(seconds.max(3))).saturating_duration_since(Instant::now()),
    )
    .await;
    step(
        3,
        &format!(
            "{} heartbeats from {} agents in {:.1?} (they go on in the background); risk-1 went silent for {} ms mid-run",
            heartbeats.load(Ordering::Relaxed),
            members.len(),
            heartbeat_started.elapsed(),
            DEMO_HEARTBEAT_TTL_MS * 2
        ),
    );
    step(
        4,
        &format!(
            "operator halted scout-2; its next write was refused with `{halted_code}`; resumed. treasury-1 halted and resumed its child executor-2"
        ),
    );
    step(5, "attacks, each refused with a stable error code and no state change:");
    for (attack, code) in &attacks {
        println!("       - {attack}: {code}");
    }
    Ok(Swarm { members, stop_heartbeats, heartbeats: tasks })
}

/// Steps 1 and 2: a short TTL, then every agent registers itself and the treasury spawns a child.
async fn register(server_url: &str, operator: &Client) -> DemoResult<Vec<Member>> {
    let server_url = server_url.to_owned();
    // 1. The operator tightens the heartbeat TTL so the liveness part runs in seconds.
    let mut config: SwarmConfig = operator.config().await?;
    config.heartbeat_ttl_ms = DEMO_HEARTBEAT_TTL_MS;
    operator.set_config(config).await?;
    step(
        1,
        &format!(
            "operator set the heartbeat TTL to {} ms (config.set, signed by the operator key)",
            DEMO_HEARTBEAT_TTL_MS
        ),
    );

    // 2. Each agent generates its own key and registers itself.
    let mut members = Vec::new();
    for (id, role, capabilities) in AGENTS {
        let id = AgentId::new(*id)?;
        let key = KeyPair::generate();
        let client = Client::new(server_url.clone()).with_identity(Identity::new(Signer::Agent(id.clone()), key));
        client.register_self(Name::new(*role)?, capabilities).await?;
        members.push(Member { id, client });
    }
    // The treasury spawns a child executor: the treasury signs the registration, names itself as
    // parent and referrer, and the child gets its own key.
    let treasury = client_of(&members, "treasury-1");
    let child_key = KeyPair::generate();
    let child_id = AgentId::new("executor-2")?;
    treasury
        .submit_one(Command::RegisterAgent(RegisterAgent {
            agent: child_id.clone(),
            public_key: child_key.public_key(),
            role: Name::new("executor")?,
            capabilities: ["order.route"].into_iter().map(Name::new).collect::<Result<_, _>>()?,
            weight: None,
            parent: Some(AgentId::new("treasury-1")?),
            referrer: Some(AgentId::new("treasury-1")?),
        }))
        .await?;
    members.push(Member {
        id: child_id.clone(),
        client: Client::new(server_url.clone())
            .with_identity(Identity::new(Signer::Agent(child_id.clone()), child_key)),
    });
    step(
        2,
        &format!(
            "{} agents registered, each signing with its own Ed25519 key; treasury-1 spawned executor-2 as its child",
            members.len()
        ),
    );
    Ok(members)
}

fn client_of(members: &[Member], id: &str) -> Client {
    members.iter().find(|member| member.id.as_str() == id).expect("in AGENTS").client.clone()
}
