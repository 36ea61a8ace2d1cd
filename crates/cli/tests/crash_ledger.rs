//! Crash test of the ledger in the real `colony serve`: escrow traffic (locks, releases, refunds,
//! disputes and their resolution, expiries) plus transfers and mints run concurrently, the server is
//! killed with SIGKILL at a random moment, and after every kill:
//! - `colony audit verify --json` on the killed server's data passes (it re-proves the ledger's
//!   invariants from the log), the log reaches every acknowledged entry and holds it byte for byte;
//! - the restarted server agrees with the audit (supply, state hash when no tick came first);
//! - every escrow that was overdue at the restart is expired by a tick of the restarted server alone;
//! - writes whose answer was lost in the kill ("unknown") are resolved through idempotency: transfers
//!   and mints are re-submitted with the same transfer id (`unchanged` means the lost write was
//!   applied), locks are re-submitted with the same task id (`existing` means it was applied); the
//!   outcome of an unknown release, refund, dispute or resolution is read off the escrow's state;
//! - every payer re-locks its in-flight task ids (open escrows and those of the killed round) and
//!   must get the same escrow back with status `existing`, never a duplicate;
//! - the killed round's escrows and a sample of older ones are found by id and by (payer, task id);
//! - then the books are reconciled exactly: the set of escrows on the server is exactly the set the
//!   test knows of, no two share a (payer, task id), each one's state is one its acknowledged history
//!   allows (an untouched locked escrow may only have expired, and only after its timeout), each
//!   settled escrow shows the exact split (payee gets amount − fee, the referrer its share of the fee,
//!   the payer the rest), the sum of open escrows equals `escrow_held`, `/v1/ledger` is balanced with
//!   supply = wallets + fees + escrow held, supply equals all mints, fees equal the expected fees, and
//!   every wallet's balance and escrow total equal what the test computes from the operations it
//!   knows were applied.
//!
//! To make the reconciliation exact, every agent spends only from a budget: its balance as observed
//! after the last restart. Money arriving during a round is not spent before the next one, so no
//! spend is ever refused for lack of funds and every answer is decisive: `done` (or `existing` for a
//! repeated lock) or, for a settlement that raced an expiry, `escrow_state` (the escrow must then be
//! expired). Each escrow is settled by one party only (chosen at lock time), so the only movement the
//! test does not drive itself is expiry.
//!
//! The kill comes after a random delay, once the client awaits answers to some writes (the load is
//! paced by commits and by signing, so a kill at a random instant alone sometimes finds nothing in
//! flight). The delays come from a seeded PRNG; the seed is printed (`COLONY_LEDGER_CRASH_SEED` reruns
//! it). `COLONY_LEDGER_CRASH_ROUNDS` changes the number of kills.

mod common;

use colony_core::command::{
    DisputeEscrow, IssueReadToken, LockEscrow, Mint, RefundEscrow, RegisterAgent, ReleaseEscrow, ResolveEscrow,
    SetConfig, Transfer,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use colony_client::{Client, ClientError, Identity};
use colony_core::{AgentId, Amount, Command, Escrow, EscrowResolution, EscrowState, Name, Signer, limits};
use colony_wire::problem::ServerCode;
use colony_wire::views::{LedgerView, StatusView, SubmitResponse, WalletView};
use colony_wire::{KeyPair, Problem};
use common::{Rng, ServerProcess, audit_ok};

/// Kills at least this many times.
const DEFAULT_ROUNDS: usize = 24;
/// The kill comes this long after the load starts, at random in this range.
const KILL_DELAY_MS: std::ops::RangeInclusive<u64> = 80..=450;
/// A snapshot every this many entries, so that recovery also starts from snapshots of the ledger.
const SNAPSHOT_EVERY: &str = "60";
/// Agents that pay and get paid.
const AGENTS: usize = 8;
/// What each agent is minted at the start.
const INITIAL_MINT: u64 = 1_000_000;
/// The escrow fee and the referrer's share of it.
const FEE_BPS: u16 = 250;
const REFERRAL_BPS: u16 = 2_000;
/// Escrow amounts.
const LOCK_MIN: u64 = 100;
const LOCK_MAX: u64 = 20_000;
/// Timeouts of escrows meant to expire (or to race their expiry): seconds, so that they expire in a
/// later round or while the server is down.
const SHORT_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 1_000..=3_000;
/// Timeouts of escrows that must not expire during the test.
const LONG_TIMEOUT_MS: u64 = 3_600_000;
/// How long the load tasks may take to notice the kill.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the restarted server may take to expire escrows that were overdue when it started.
const EXPIRY_TIMEOUT: Duration = Duration::from_secs(10);
/// The read token the test issues for itself.
const READ_TOKEN: &str = "crash-ledger-read-token-0123456789";

/// An agent other than those in `not`.
fn agent_except(rng: &mut Rng, not: &[usize]) -> usize {
    loop {
        let agent = rng.below(AGENTS as u64) as usize;
        if !not.contains(&agent) {
            return agent;
        }
    }
}

/// Who settles an escrow, chosen when it is locked; nobody else touches it (except expiry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// The payer releases it.
    Release,
    /// The payee refunds it.
    Refund,
    /// The payee disputes it, then its arbiter (named at the lock; without one a dispute would go to
    /// a jury, which sits longer than the test) resolves it.
    Dispute,
    /// Nobody: it expires.
    Expire,
    /// Nobody, and it does not expire during the test: a task in flight across every restart.
    Hold,
}

/// An escrow's state as far as the test knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    Locked,
    Disputed,
    Released,
    Refunded,
    Expired,
    /// Resolved after a dispute, with this share for the payee.
    Resolved(u16),
}

impl Known {
    fn state(self) -> EscrowState {
        match self {
            Known::Locked => EscrowState::Locked,
            Known::Disputed => EscrowState::Disputed,
            Known::Released => EscrowState::Released,
            Known::Refunded => EscrowState::Refunded,
            Known::Expired => EscrowState::Expired,
            Known::Resolved(_) => EscrowState::Resolved,
        }
    }

    fn is_open(self) -> bool {
        matches!(self, Known::Locked | Known::Disputed)
    }

    /// The payee's share in basis points, once settled.
    fn payee_bps(self) -> u16 {
        match self {
            Known::Released => 10_000,
            Known::Resolved(payee_bps) => payee_bps,
            _ => 0,
        }
    }
}

/// A settlement whose answer was lost in a kill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Release,
    Refund,
    Dispute,
    Resolve(u16),
}

impl Pending {
    /// The state the escrow is in if it was applied.
    fn target(self) -> Known {
        match self {
            Pending::Release => Known::Released,
            Pending::Refund => Known::Refunded,
            Pending::Dispute => Known::Disputed,
            Pending::Resolve(payee_bps) => Known::Resolved(payee_bps),
        }
    }
}

/// The terms of a lock, as the payer sent them.
#[derive(Clone, Debug)]
struct LockTerms {
    payer: usize,
    payee: usize,
    referrer: Option<usize>,
    /// Named for the escrows that are disputed.
    arbiter: Option<usize>,
    amount: u64,
    timeout_ms: u64,
    task: String,
    plan: Plan,
    /// The round that first sent it.
    round: usize,
}

/// An escrow the test knows exists: its lock was acknowledged, or re-sent after an unknown outcome.
struct KnownEscrow {
    terms: LockTerms,
    state: Known,
    pending: Option<Pending>,
}

/// A mint (`from: None`) or a transfer.
#[derive(Clone, Debug)]
struct Payment {
    from: Option<usize>,
    to: usize,
    amount: u64,
    transfer_id: String,
}

/// How an amount settles: what the payee, the payer, the fee account and the referrer get.
#[derive(Debug, PartialEq, Eq)]
struct Split {
    payee: u64,
    payer: u64,
    fees: u64,
    referral: u64,
}

/// The split, computed independently of the server: `payee_bps` of the amount goes to the payee side,
/// the fee is `floor(share × fee / 10⁴)` of it, the referral `floor(fee × referral / 10⁴)` of the fee.
fn split(amount: u64, payee_bps: u16, has_referrer: bool) -> Split {
    let share = |value: u64, bps: u16| (u128::from(value) * u128::from(bps) / 10_000) as u64;
    let to_payee = share(amount, payee_bps);
    let fee = share(to_payee, FEE_BPS);
    let referral = if has_referrer { share(fee, REFERRAL_BPS) } else { 0 };
    Split { payee: to_payee - fee, payer: amount - to_payee, fees: fee - referral, referral }
}

/// Counters for the report and for the checks that the test exercised what it claims to.
#[derive(Default)]
struct Stats {
    acked: BTreeMap<&'static str, u64>,
    /// Settlements refused because the escrow had expired first.
    lost_to_expiry: u64,
    /// Writes without an answer, and of those, the ones sent before the kill (in flight).
    unknown: u64,
    in_flight: u64,
    /// Unknown writes that turned out to be applied (durable but unacknowledged), or not.
    unknown_applied: u64,
    unknown_not_applied: u64,
    /// In-flight locks re-sent after a restart that returned the existing escrow.
    relocked_existing: u64,
    /// Escrows that were overdue when a server started and that it expired.
    expired_after_restart: u64,
}

/// What the test knows about the books.
struct Model {
    agents: Vec<AgentId>,
    escrows: BTreeMap<u64, KnownEscrow>,
    /// Locks whose answer was lost.
    unknown_locks: Vec<LockTerms>,
    /// Mints and transfers known to be applied.
    payments: Vec<Payment>,
    /// Mints and transfers whose answer was lost.
    unknown_payments: Vec<Payment>,
    /// What each agent may still spend this round.
    budgets: Vec<u64>,
    /// The entries acknowledged this round: sequence number and payload (signature, then body).
    acks: Vec<(u64, Vec<u8>)>,
    max_acked_sequence: u64,
    stats: Stats,
}

impl Model {
    fn new(agents: Vec<AgentId>) -> Model {
        Model {
            budgets: vec![0; agents.len()],
            agents,
            escrows: BTreeMap::new(),
            unknown_locks: Vec::new(),
            payments: Vec::new(),
            unknown_payments: Vec::new(),
            acks: Vec::new(),
            max_acked_sequence: 0,
            stats: Stats::default(),
        }
    }

    fn acked_total(&self) -> u64 {
        self.stats.acked.values().sum()
    }

    /// A random escrow matching `wanted`.
    fn pick(&self, rng: &mut Rng, wanted: impl Fn(&KnownEscrow) -> bool) -> Option<u64> {
        let candidates: Vec<u64> =
            self.escrows.iter().filter(|(_, escrow)| wanted(escrow)).map(|(id, _)| *id).collect();
        (!candidates.is_empty()).then(|| candidates[rng.below(candidates.len() as u64) as usize])
    }
}

fn lock_command(model_agents: &[AgentId], terms: &LockTerms) -> Command {
    Command::LockEscrow(LockEscrow {
        payee: model_agents[terms.payee].clone(),
        amount: Amount(terms.amount),
        timeout_ms: terms.timeout_ms,
        task_id: Some(name(&terms.task)),
        arbiter: terms.arbiter.map(|arbiter| model_agents[arbiter].clone()),
        hashlock: None,
        referrer: terms.referrer.map(|referrer| model_agents[referrer].clone()),
        description: Some(format!("crash test lock of {}", terms.amount)),
    })
}

fn payment_command(model_agents: &[AgentId], payment: &Payment) -> Command {
    let to = model_agents[payment.to].clone();
    let (transfer_id, amount) = (name(&payment.transfer_id), Amount(payment.amount));
    match payment.from {
        None => Command::Mint(Mint { transfer_id, to, amount }),
        Some(_) => Command::Transfer(Transfer { transfer_id, to, amount }),
    }
}

fn name(text: &str) -> Name {
    Name::new(text).expect("a valid name")
}

/// The answer to a write.
enum Outcome {
    Acked(SubmitResponse),
    Refused(Box<Problem>),
    Unknown,
}

/// Everything a load task needs.
struct Load {
    round: usize,
    /// A client without identity: the tasks sign envelopes themselves, to know their exact bytes.
    http: Client,
    operator: Arc<Identity>,
    agents: Arc<Vec<Arc<Identity>>>,
    model: Arc<Mutex<Model>>,
    stop: AtomicBool,
    /// When the kill was sent: writes sent before it and left without an answer were in flight.
    killed_at: Mutex<Option<Instant>>,
    /// Requests sent and not yet answered.
    outstanding: AtomicUsize,
}

impl Load {
    fn model(&self) -> std::sync::MutexGuard<'_, Model> {
        self.model.lock().expect("the model lock")
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Signs and posts one command; records it if acknowledged.
    async fn submit(&self, kind: &'static str, identity: &Identity, command: Command) -> Outcome {
        let signed = identity.sign(vec![command]);
        let sent = Instant::now();
        self.outstanding.fetch_add(1, Ordering::SeqCst);
        let answer = self.http.post_signed("/v1/commands", &signed).await;
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
        match answer {
            Ok(response) => {
                let mut model = self.model();
                model.acks.push((response.sequence, colony_wire::record::encode_signed(&signed)));
                model.max_acked_sequence = model.max_acked_sequence.max(response.sequence);
                *model.stats.acked.entry(kind).or_default() += 1;
                Outcome::Acked(response)
            }
            // "timeout" and "unavailable" (the log failed) leave the write's durability unknown.
            Err(ClientError::Problem(problem))
                if !problem.has_code(ServerCode::Timeout) && !problem.has_code(ServerCode::Unavailable) =>
            {
                Outcome::Refused(problem)
            }
            Err(_) => {
                let in_flight = self.killed_at.lock().expect("the kill lock").is_none_or(|killed| sent < killed);
                let mut model = self.model();
                model.stats.unknown += 1;
                model.stats.in_flight += u64::from(in_flight);
                Outcome::Unknown
            }
        }
    }

    /// One agent: locks escrows, settles those it is the settler of, pays other agents. Returns at
    /// the first write whose answer is lost (the server is gone).
    async fn agent(self: Arc<Self>, me: usize, mut rng: Rng) {
        let identity = Arc::clone(&self.agents[me]);
        let mut counter = 0u64;
        while !self.stopped() {
            counter += 1;
            let roll = rng.below(100);
            let settle = {
                let model = self.model();
                match roll {
                    0..=34 => None,
                    35..=59 => model
                        .pick(&mut rng, |escrow| {
                            escrow.terms.payer == me
                                && escrow.terms.plan == Plan::Release
                                && escrow.state == Known::Locked
                                && escrow.pending.is_none()
                        })
                        .map(|id| (id, Pending::Release)),
                    60..=74 => model
                        .pick(&mut rng, |escrow| {
                            escrow.terms.payee == me
                                && escrow.terms.plan == Plan::Refund
                                && escrow.state == Known::Locked
                                && escrow.pending.is_none()
                        })
                        .map(|id| (id, Pending::Refund)),
                    75..=79 => model
                        .pick(&mut rng, |escrow| {
                            escrow.terms.payee == me
                                && escrow.terms.plan == Plan::Dispute
                                && escrow.state == Known::Locked
                                && escrow.pending.is_none()
                        })
                        .map(|id| (id, Pending::Dispute)),
                    _ => None,
                }
            };
            let alive = match settle {
                Some((id, action)) => self.settle(&identity, id, action).await,
                // Without an escrow to settle, half of the settlement rolls lock and half pay.
                None if roll < 35 || (roll < 80 && roll.is_multiple_of(2)) => {
                    self.lock(me, &identity, &mut rng, counter).await
                }
                None => self.pay(me, &identity, &mut rng, counter).await,
            };
            if !alive {
                return;
            }
        }
    }

    /// Locks a new escrow from the agent's budget; false when the answer was lost.
    async fn lock(&self, me: usize, identity: &Identity, rng: &mut Rng, counter: u64) -> bool {
        let terms = {
            let mut model = self.model();
            let budget = model.budgets[me];
            if budget < LOCK_MIN {
                None
            } else {
                let plan = match rng.below(100) {
                    0..=41 => Plan::Release,
                    42..=61 => Plan::Refund,
                    62..=71 => Plan::Dispute,
                    72..=95 => Plan::Expire,
                    _ => Plan::Hold,
                };
                // Held escrows stay open to the end: small, so that they do not drain the wallets.
                let most = if plan == Plan::Hold { 1_000 } else { LOCK_MAX };
                let amount = rng.in_range(LOCK_MIN..=budget.min(most));
                model.budgets[me] -= amount;
                let payee = agent_except(rng, &[me]);
                let referrer = (rng.below(3) == 0).then(|| agent_except(rng, &[me, payee]));
                let arbiter = (plan == Plan::Dispute).then(|| agent_except(rng, &[me, payee]));
                // Some escrows that get settled have short timeouts too: their settlement races
                // the expiry, and exactly one of them must win.
                let short = plan == Plan::Expire || (matches!(plan, Plan::Release | Plan::Refund) && rng.below(10) < 3);
                let timeout_ms = if short { rng.in_range(SHORT_TIMEOUT_MS) } else { LONG_TIMEOUT_MS };
                let task = format!("task-{me}-r{}-{counter}", self.round);
                Some(LockTerms {
                    payer: me,
                    payee,
                    referrer,
                    arbiter,
                    amount,
                    timeout_ms,
                    task,
                    plan,
                    round: self.round,
                })
            }
        };
        let Some(terms) = terms else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            return true;
        };
        let command = lock_command(&self.model().agents, &terms);
        match self.submit("lock", identity, command).await {
            Outcome::Acked(response) => {
                let result = &response.results[0];
                assert_eq!(result.status.as_deref(), Some("done"), "a fresh lock ({terms:?}): {response:?}");
                let id = result.escrow_id.expect("a lock's result names its escrow");
                let mut model = self.model();
                let previous =
                    model.escrows.insert(id, KnownEscrow { terms: terms.clone(), state: Known::Locked, pending: None });
                assert!(previous.is_none(), "escrow {id} was assigned twice: {terms:?}");
                true
            }
            Outcome::Refused(problem) if problem.has_code(ServerCode::Overloaded) => {
                self.model().budgets[me] += terms.amount;
                true
            }
            Outcome::Refused(problem) => panic!("a lock within the payer's budget was refused ({terms:?}): {problem}"),
            Outcome::Unknown => {
                self.model().unknown_locks.push(terms);
                false
            }
        }
    }

    /// Pays another agent from the budget; false when the answer was lost.
    async fn pay(&self, me: usize, identity: &Identity, rng: &mut Rng, counter: u64) -> bool {
        let payment = {
            let mut model = self.model();
            let budget = model.budgets[me];
            (budget > 0).then(|| {
                let amount = rng.in_range(1..=budget.min(5_000));
                model.budgets[me] -= amount;
                let transfer_id = format!("pay-{me}-r{}-{counter}", self.round);
                Payment { from: Some(me), to: agent_except(rng, &[me]), amount, transfer_id }
            })
        };
        let Some(payment) = payment else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            return true;
        };
        let command = payment_command(&self.model().agents, &payment);
        match self.submit("transfer", identity, command).await {
            Outcome::Acked(response) => {
                assert_eq!(response.results[0].status.as_deref(), Some("done"), "{payment:?}: {response:?}");
                self.model().payments.push(payment);
                true
            }
            Outcome::Refused(problem) if problem.has_code(ServerCode::Overloaded) => {
                self.model().budgets[me] += payment.amount;
                true
            }
            Outcome::Refused(problem) => {
                panic!("a transfer within the payer's budget was refused ({payment:?}): {problem}")
            }
            Outcome::Unknown => {
                self.model().unknown_payments.push(payment);
                false
            }
        }
    }

    /// Releases, refunds, disputes or resolves escrow `id`; false when the answer was lost.
    async fn settle(&self, identity: &Identity, id: u64, action: Pending) -> bool {
        let (kind, command) = match action {
            Pending::Release => ("release", Command::ReleaseEscrow(ReleaseEscrow { escrow: id, preimage: None })),
            Pending::Refund => ("refund", Command::RefundEscrow(RefundEscrow { escrow: id })),
            Pending::Dispute => (
                "dispute",
                Command::DisputeEscrow(DisputeEscrow { escrow: id, reason: format!("round {}", self.round) }),
            ),
            Pending::Resolve(payee_bps) => {
                let resolution = match payee_bps {
                    10_000 => EscrowResolution::Release,
                    0 => EscrowResolution::Refund,
                    payee_bps => EscrowResolution::Split { payee_bps },
                };
                ("resolve", Command::ResolveEscrow(ResolveEscrow { escrow: id, resolution }))
            }
        };
        match self.submit(kind, identity, command).await {
            Outcome::Acked(response) => {
                assert_eq!(response.results[0].status.as_deref(), Some("done"), "{kind} {id}: {response:?}");
                self.model().escrows.get_mut(&id).expect("a known escrow").state = action.target();
                true
            }
            Outcome::Refused(problem) if problem.has_code(ServerCode::Overloaded) => true,
            // Only expiry moves an escrow behind its settler's back: it must have expired.
            Outcome::Refused(problem) if problem.code == "escrow_state" && !matches!(action, Pending::Resolve(_)) => {
                let mut model = self.model();
                let escrow = model.escrows.get_mut(&id).expect("a known escrow");
                assert!(
                    escrow.state == Known::Locked && escrow.terms.timeout_ms < LONG_TIMEOUT_MS,
                    "{kind} of escrow {id} refused but only a short-lived locked escrow can expire: {problem}"
                );
                escrow.state = Known::Expired;
                model.stats.lost_to_expiry += 1;
                true
            }
            Outcome::Refused(problem) => panic!("{kind} of escrow {id} was refused: {problem}"),
            Outcome::Unknown => {
                self.model().escrows.get_mut(&id).expect("a known escrow").pending = Some(action);
                false
            }
        }
    }

    /// The operator: mints top-ups; and, in the arbiters' stead, resolves disputed escrows signed by
    /// each one's arbiter.
    async fn operator(self: Arc<Self>, mut rng: Rng) {
        let operator = Arc::clone(&self.operator);
        let mut counter = 0u64;
        while !self.stopped() {
            counter += 1;
            let disputed = {
                let model = self.model();
                let id = model.pick(&mut rng, |escrow| escrow.state == Known::Disputed && escrow.pending.is_none());
                id.map(|id| (id, model.escrows[&id].terms.arbiter.expect("a disputed escrow names its arbiter")))
            };
            let alive = match disputed.filter(|_| rng.below(3) != 0) {
                Some((id, arbiter)) => {
                    let payee_bps = match rng.below(4) {
                        0 => 10_000,
                        1 => 0,
                        _ => rng.in_range(1..=9_999) as u16,
                    };
                    let arbiter = Arc::clone(&self.agents[arbiter]);
                    self.settle(&arbiter, id, Pending::Resolve(payee_bps)).await
                }
                None => {
                    let to = agent_except(&mut rng, &[]);
                    let amount = rng.in_range(5_000..=50_000);
                    let payment =
                        Payment { from: None, to, amount, transfer_id: format!("mint-r{}-{counter}", self.round) };
                    let command = payment_command(&self.model().agents, &payment);
                    match self.submit("mint", &operator, command).await {
                        Outcome::Acked(response) => {
                            assert_eq!(response.results[0].status.as_deref(), Some("done"), "{response:?}");
                            self.model().payments.push(payment);
                            true
                        }
                        Outcome::Refused(problem) if problem.has_code(ServerCode::Overloaded) => true,
                        Outcome::Refused(problem) => panic!("mint {payment:?} was refused: {problem}"),
                        Outcome::Unknown => {
                            self.model().unknown_payments.push(payment);
                            false
                        }
                    }
                }
            };
            if !alive {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(text.trim().parse().unwrap_or_else(|_| panic!("{name} must be a number, got {text:?}")))
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis() as u64
}

/// Signs `commands` as `identity` and posts them to `path`; the answer must come.
async fn post(http: &Client, path: &str, identity: &Identity, commands: Vec<Command>) -> SubmitResponse {
    let signed = identity.sign(commands);
    http.post_signed(path, &signed).await.unwrap_or_else(|error| panic!("a write to {path} failed: {error}"))
}

/// Every escrow matching `query`, following pages.
async fn all_escrows(reader: &Client, query: &str) -> Vec<Escrow> {
    let mut escrows = Vec::new();
    let mut after = None;
    loop {
        let page_query = match after {
            Some(after) => format!("{query}&limit=1000&after={after}"),
            None => format!("{query}&limit=1000"),
        };
        let page = reader.escrows(page_query.trim_start_matches('&')).await.expect("a page of escrows");
        escrows.extend(page.escrows);
        match page.next_after {
            Some(next) => after = Some(next),
            None => return escrows,
        }
    }
}

/// The books, read while the server wrote nothing (no tick came in between).
struct Books {
    status: StatusView,
    ledger: LedgerView,
    escrows: Vec<Escrow>,
    wallets: Vec<WalletView>,
}

async fn read_books(reader: &Client, agents: &[AgentId]) -> Books {
    for _ in 0..100 {
        let status = reader.status().await.expect("the status");
        let ledger = reader.ledger().await.expect("the books");
        let escrows = all_escrows(reader, "").await;
        let mut wallets = Vec::with_capacity(agents.len());
        for agent in agents {
            wallets.push(reader.wallet(agent).await.expect("a wallet"));
        }
        let after = reader.status().await.expect("the status");
        if after.sequence == status.sequence {
            return Books { status, ledger, escrows, wallets };
        }
    }
    panic!("the server kept appending entries while the test only read");
}

/// What the audit of the killed server reported.
struct AuditSummary {
    sequence: u64,
    supply: String,
    open_escrows: u64,
    state_hash: serde_json::Value,
}

/// The killed server's data before anything else touches it: the audit passes, and the log holds this
/// round's acknowledged writes byte for byte at their sequence numbers.
fn check_killed_data(work: &Path, data: &Path, model: &Model, previous_sequence: u64) -> AuditSummary {
    let report = audit_ok(work, data);
    let summary = AuditSummary {
        sequence: report["sequence"].as_u64().expect("a sequence"),
        supply: report["supply"].as_str().expect("a supply").to_owned(),
        open_escrows: report["open_escrows"].as_u64().expect("an open-escrow count"),
        state_hash: report["state_hash"].clone(),
    };
    assert!(summary.sequence >= previous_sequence, "the log went backwards: {report}");
    assert!(
        summary.sequence >= model.max_acked_sequence,
        "entry {} was acknowledged but the log ends before it: {report}",
        model.max_acked_sequence
    );
    let connection = rusqlite::Connection::open_with_flags(
        data.join("colony.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the killed server's log read-only");
    let mut select = connection.prepare("SELECT payload FROM entries WHERE sequence = ?1").expect("prepare");
    for (sequence, payload) in &model.acks {
        let stored: Vec<u8> = select
            .query_row([*sequence as i64], |row| row.get(0))
            .unwrap_or_else(|error| panic!("acknowledged entry {sequence} is not in the log: {error}"));
        assert!(stored == *payload, "entry {sequence} is not the write that was acknowledged with that number");
    }
    summary
}

/// The restarted server starts from the audited state.
async fn check_against_audit(reader: &Client, audit: &AuditSummary) {
    let hash = reader.state_hash().await.expect("the state hash");
    assert!(hash.sequence >= audit.sequence, "the restarted server is behind the audit: {hash:?}");
    if hash.sequence == audit.sequence {
        assert_eq!(
            serde_json::to_value(hash.state_hash).expect("a hash encodes"),
            audit.state_hash,
            "the restarted server's state hash differs from the audit's at entry {}",
            audit.sequence
        );
    }
    let ledger = reader.ledger().await.expect("the books");
    assert!(ledger.balanced, "the restarted server's books do not balance: {ledger:?}");
    assert_eq!(ledger.supply.to_string(), audit.supply, "the supply differs from the audit's");
    // Ticks of the restarted server may only have expired escrows.
    assert!(ledger.open_escrows <= audit.open_escrows, "{ledger:?} vs {} open in the audit", audit.open_escrows);
}

/// Waits until the restarted server, on its own (the test writes nothing meanwhile), has expired every
/// escrow that was overdue when it became ready.
async fn wait_for_overdue_expiries(reader: &Client, ready_ms: u64) {
    let deadline = Instant::now() + EXPIRY_TIMEOUT;
    loop {
        let overdue: Vec<u64> = all_escrows(reader, "state=locked")
            .await
            .into_iter()
            .filter(|escrow| escrow.timeout_at_ms < ready_ms)
            .map(|escrow| escrow.id)
            .collect();
        if overdue.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "escrows {overdue:?} were overdue when the server started and are still locked after {EXPIRY_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Resolves every unknown write through idempotency, and re-locks the payers' in-flight task ids.
async fn resolve_unknowns(
    http: &Client,
    operator: &Identity,
    agents: &[Arc<Identity>],
    model: &mut Model,
    round: usize,
) {
    // A transfer or mint re-sent with its id: `unchanged` if the lost one was applied.
    for payment in std::mem::take(&mut model.unknown_payments) {
        let identity = payment.from.map_or(operator, |from| &*agents[from]);
        let command = payment_command(&model.agents, &payment);
        let response = post(http, "/v1/commands", identity, vec![command]).await;
        match response.results[0].status.as_deref() {
            Some("unchanged") => model.stats.unknown_applied += 1,
            Some("done") => model.stats.unknown_not_applied += 1,
            _ => panic!("re-sending {payment:?}: {response:?}"),
        }
        model.payments.push(payment);
    }

    // Each payer re-locks its in-flight tasks in one batch: the unknown ones (`existing` if the lost
    // lock was applied), the open ones and those of the killed round (all `existing`, same escrow).
    for (payer, identity) in agents.iter().enumerate() {
        let mut relocks: Vec<(Option<u64>, LockTerms)> = Vec::new();
        let unknown = std::mem::take(&mut model.unknown_locks);
        let (mine, others): (Vec<LockTerms>, Vec<LockTerms>) =
            unknown.into_iter().partition(|terms| terms.payer == payer);
        model.unknown_locks = others;
        relocks.extend(mine.into_iter().map(|terms| (None, terms)));
        for (id, escrow) in &model.escrows {
            if escrow.terms.payer == payer && (escrow.state.is_open() || escrow.terms.round == round) {
                relocks.push((Some(*id), escrow.terms.clone()));
            }
        }
        if relocks.is_empty() {
            continue;
        }
        let commands = relocks.iter().map(|(_, terms)| lock_command(&model.agents, terms)).collect();
        let response = post(http, "/v1/batch", identity, commands).await;
        assert_eq!(response.results.len(), relocks.len(), "{response:?}");
        for ((expected, terms), result) in relocks.into_iter().zip(&response.results) {
            assert!(result.ok, "re-locking task {} of {payer} was refused: {result:?}", terms.task);
            let id = result.escrow_id.expect("a lock's result names its escrow");
            let status = result.status.as_deref();
            match expected {
                Some(expected) => {
                    assert_eq!(
                        (status, id),
                        (Some("existing"), expected),
                        "re-locking the acknowledged task {} of agent {payer} did not return its escrow",
                        terms.task
                    );
                    model.stats.relocked_existing += 1;
                }
                None => {
                    match status {
                        Some("existing") => model.stats.unknown_applied += 1,
                        Some("done") => model.stats.unknown_not_applied += 1,
                        _ => panic!("re-locking the unknown task {}: {result:?}", terms.task),
                    }
                    let escrow = KnownEscrow { terms, state: Known::Locked, pending: None };
                    let previous = model.escrows.insert(id, escrow);
                    assert!(previous.is_none(), "a re-sent lock got escrow {id}, which another lock has");
                }
            }
        }
    }
    assert!(model.unknown_locks.is_empty(), "every unknown lock was re-sent");
}

/// Reconciles the books exactly with the model, resolving the outcome of unknown settlements from the
/// escrows' states; sets the budgets for the next round. `restart_ms` is when the server was started.
fn check_books(model: &mut Model, books: &Books, restart_ms: u64) {
    let ledger = &books.ledger;
    assert!(ledger.balanced, "the books do not balance: {ledger:?}");
    assert_eq!(
        ledger.supply,
        ledger.wallets_total + ledger.fees + ledger.escrow_held,
        "supply ≠ wallets + fees + escrow held: {ledger:?}"
    );

    let listed: BTreeMap<u64, &Escrow> = books.escrows.iter().map(|escrow| (escrow.id, escrow)).collect();
    assert_eq!(listed.len(), books.escrows.len(), "an escrow is listed twice");
    let lost: Vec<&u64> = model.escrows.keys().filter(|id| !listed.contains_key(id)).collect();
    assert!(lost.is_empty(), "escrows the test knows of are gone: {lost:?}");
    let phantoms: Vec<&u64> = listed.keys().filter(|id| !model.escrows.contains_key(id)).collect();
    assert!(phantoms.is_empty(), "escrows nobody locked (or duplicates of a lock): {phantoms:?}");
    let mut tasks = BTreeSet::new();
    for escrow in &books.escrows {
        let task = escrow.task_id.clone().expect("every escrow of the test has a task id");
        assert!(tasks.insert((escrow.payer.clone(), task)), "two escrows share a (payer, task id): {escrow:?}");
    }
    let open: Vec<&Escrow> = books.escrows.iter().filter(|escrow| escrow.state.is_open()).collect();
    let open_sum: u128 = open.iter().map(|escrow| u128::from(escrow.amount.0)).sum();
    assert_eq!(open_sum, ledger.escrow_held, "open escrows do not add up to the escrow held");
    assert_eq!(open.len() as u64, ledger.open_escrows, "the open-escrow count");

    let agents = model.agents.clone();
    let mut expected_balance: Vec<i128> = vec![0; AGENTS];
    let mut expected_held: Vec<u128> = vec![0; AGENTS];
    let mut expected_fees: u128 = 0;
    let mut expected_supply: u128 = 0;
    for payment in &model.payments {
        expected_balance[payment.to] += i128::from(payment.amount);
        match payment.from {
            Some(from) => expected_balance[from] -= i128::from(payment.amount),
            None => expected_supply += u128::from(payment.amount),
        }
    }
    for (id, known) in &mut model.escrows {
        let escrow = listed[id];
        let terms = &known.terms;
        assert_eq!(
            (&escrow.payer, &escrow.payee, escrow.amount.0, escrow.task_id.as_ref().map(Name::as_str)),
            (&agents[terms.payer], &agents[terms.payee], terms.amount, Some(terms.task.as_str())),
            "escrow {id} has other terms than its lock"
        );
        assert_eq!(escrow.referrer.as_ref(), terms.referrer.map(|referrer| &agents[referrer]), "escrow {id}");
        assert_eq!(escrow.arbiter.as_ref(), terms.arbiter.map(|arbiter| &agents[arbiter]), "escrow {id}");
        assert!(escrow.hashlock.is_none(), "escrow {id}: {escrow:?}");
        assert_eq!((escrow.fee_bps, escrow.referral_bps), (FEE_BPS, REFERRAL_BPS), "escrow {id}'s fee terms");
        assert_eq!(escrow.timeout_at_ms, escrow.created_at_ms + terms.timeout_ms, "escrow {id}'s timeout");

        // The states its history allows: what was acknowledged, what an unknown settlement would have
        // made of it, and expiry for a locked escrow.
        let mut allowed = vec![known.state];
        allowed.extend(known.pending.map(Pending::target));
        if known.state == Known::Locked {
            allowed.push(Known::Expired);
        }
        let observed = allowed.iter().copied().find(|state| state.state() == escrow.state).unwrap_or_else(|| {
            panic!("escrow {id} is {:?}, but its history allows only {allowed:?}: {escrow:?}", escrow.state)
        });
        if let Some(pending) = known.pending.take() {
            if observed == pending.target() {
                model.stats.unknown_applied += 1;
            } else {
                model.stats.unknown_not_applied += 1;
            }
        }
        match observed {
            Known::Expired => {
                assert!(terms.timeout_ms < LONG_TIMEOUT_MS, "escrow {id} expired long before its timeout");
                let settled = escrow.settled_at_ms.expect("a settled escrow has a settlement time");
                assert!(settled > escrow.timeout_at_ms, "escrow {id} expired at {settled}, before its timeout");
                if known.state != Known::Expired && settled >= restart_ms && escrow.timeout_at_ms < restart_ms {
                    model.stats.expired_after_restart += 1;
                }
            }
            Known::Locked => assert!(
                escrow.timeout_at_ms >= books.status.timestamp_ms,
                "escrow {id} is still locked, but its timeout passed before entry {}: {escrow:?}",
                books.status.sequence
            ),
            _ => {}
        }
        known.state = observed;

        // The money: nothing paid while open; the exact split once settled.
        let shares = split(terms.amount, observed.payee_bps(), terms.referrer.is_some());
        if observed.is_open() {
            assert_eq!(
                (escrow.paid_to_payee.0, escrow.refunded_to_payer.0, escrow.fees.0, escrow.referral.0),
                (0, 0, 0, 0),
                "open escrow {id} paid something out"
            );
            assert!(escrow.settled_at_ms.is_none(), "open escrow {id} has a settlement time");
            expected_held[terms.payer] += u128::from(terms.amount);
        } else {
            let paid = Split {
                payee: escrow.paid_to_payee.0,
                payer: escrow.refunded_to_payer.0,
                fees: escrow.fees.0,
                referral: escrow.referral.0,
            };
            assert_eq!(paid, shares, "escrow {id} ({observed:?}, amount {}) settled with a wrong split", terms.amount);
            expected_balance[terms.payee] += i128::from(shares.payee);
            expected_balance[terms.payer] += i128::from(shares.payer);
            if let Some(referrer) = terms.referrer {
                expected_balance[referrer] += i128::from(shares.referral);
            }
            expected_fees += u128::from(shares.fees);
        }
        expected_balance[terms.payer] -= i128::from(terms.amount);
    }

    assert_eq!(ledger.supply, expected_supply, "the supply is not the sum of the mints");
    assert_eq!(ledger.fees, expected_fees, "the fees are not the sum of the releases' fees");
    for (agent, wallet) in books.wallets.iter().enumerate() {
        assert_eq!(wallet.agent, agents[agent]);
        assert_eq!(
            i128::from(wallet.balance.0),
            expected_balance[agent],
            "{}'s balance differs from what its applied transfers, mints and escrows make it",
            agents[agent]
        );
        assert_eq!(wallet.held_in_escrow, expected_held[agent], "{}'s escrow total", agents[agent]);
        model.budgets[agent] = wallet.balance.0;
    }
}

/// Looks up this round's escrows (and a sample of older ones) by id and by (payer, task id).
async fn check_lookups(reader: &Client, model: &Model, round: usize, rng: &mut Rng) {
    let mut ids: Vec<u64> =
        model.escrows.iter().filter(|(_, escrow)| escrow.terms.round == round).map(|(id, _)| *id).collect();
    let all: Vec<u64> = model.escrows.keys().copied().collect();
    for _ in 0..10.min(all.len()) {
        ids.push(all[rng.below(all.len() as u64) as usize]);
    }
    for id in ids {
        let terms = &model.escrows[&id].terms;
        let by_id = reader.escrow(id).await.unwrap_or_else(|error| panic!("escrow {id}: {error}"));
        let query = format!("payer={}&task_id={}", model.agents[terms.payer], terms.task);
        let by_task = reader.escrows(&query).await.expect("the look-up by task").escrows;
        assert_eq!(by_task.len(), 1, "the look-up of task {} finds one escrow: {by_task:?}", terms.task);
        for escrow in [&by_id, &by_task[0]] {
            assert_eq!(
                (escrow.id, &escrow.payer, &escrow.payee, escrow.amount.0),
                (id, &model.agents[terms.payer], &model.agents[terms.payee], terms.amount),
                "escrow {id} as looked up by id and by task"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escrows_are_never_half_applied_across_sigkill() {
    let started = Instant::now();
    let seed = env_number("COLONY_LEDGER_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_nanos() as u64
    });
    let rounds = env_number("COLONY_LEDGER_CRASH_ROUNDS").map_or(DEFAULT_ROUNDS, |rounds| rounds as usize);
    println!("ledger crash test: seed {seed} (rerun with COLONY_LEDGER_CRASH_SEED={seed}), {rounds} kills");
    let mut rng = Rng(seed);

    let temp = tempfile::tempdir().expect("a temporary directory");
    let data: PathBuf = temp.path().join("data");
    let logs = temp.path().join("logs");
    let work = temp.path().join("work");
    std::fs::create_dir_all(&work).expect("create the working directory");
    let serve_args = ["--snapshot-every", SNAPSHOT_EVERY, "--log", "warn"];
    let mut server = tokio::task::block_in_place(|| ServerProcess::start(&data, &logs, &serve_args));

    // Set-up, before any kill: fees, no liveness deadlines (so ticks come from escrows only), a read
    // token, the agents, and their first money.
    let operator = Arc::new(Identity::from_key_file(&data.join("operator.key")).expect("the operator key"));
    let agent_ids: Vec<AgentId> =
        (0..AGENTS).map(|agent| AgentId::new(format!("agent-{agent}")).expect("an agent id")).collect();
    let keys: Vec<KeyPair> = (0..AGENTS).map(|_| KeyPair::generate()).collect();
    let agents: Arc<Vec<Arc<Identity>>> = Arc::new(
        agent_ids
            .iter()
            .zip(&keys)
            .map(|(id, key)| Arc::new(Identity::new(Signer::Agent(id.clone()), key.clone())))
            .collect(),
    );
    let model = Arc::new(Mutex::new(Model::new(agent_ids.clone())));
    {
        let http = Client::new(server.url());
        let signed_reader = Client::new(server.url())
            .with_identity(Identity::from_key_file(&data.join("operator.key")).expect("the operator key"));
        let mut config = signed_reader.config().await.expect("the configuration");
        config.heartbeat_ttl_ms = limits::HEARTBEAT_TTL_MS_MAX;
        config.fee_bps = FEE_BPS;
        config.referral_bps = REFERRAL_BPS;
        let token = Command::IssueReadToken(IssueReadToken {
            token_sha256: colony_wire::read_auth::token_sha256(READ_TOKEN),
            label: "crash test".to_owned(),
            expires_at_ms: None,
        });
        let registrations = agent_ids
            .iter()
            .zip(&keys)
            .map(|(id, key)| {
                Command::RegisterAgent(RegisterAgent {
                    agent: id.clone(),
                    public_key: key.public_key(),
                    role: name("executor"),
                    capabilities: [name("crash.test")].into_iter().collect(),
                    weight: None,
                    parent: None,
                    referrer: None,
                })
            })
            .collect::<Vec<_>>();
        let mints: Vec<Payment> = (0..AGENTS)
            .map(|to| Payment { from: None, to, amount: INITIAL_MINT, transfer_id: format!("mint-initial-{to}") })
            .collect();
        let mut commands = vec![Command::SetConfig(SetConfig { config }), token];
        commands.extend(registrations);
        commands.extend(mints.iter().map(|payment| payment_command(&agent_ids, payment)));
        let response = post(&http, "/v1/batch", &operator, commands).await;
        assert!(response.results.iter().all(|result| result.ok), "the set-up: {response:?}");
        let reader = Client::new(server.url()).with_read_token(READ_TOKEN);
        let books = read_books(&reader, &agent_ids).await;
        let mut model = model.lock().expect("the model lock");
        model.payments.extend(mints);
        model.max_acked_sequence = response.sequence;
        check_books(&mut model, &books, 0);
    }

    let mut previous_sequence = 0;
    let mut rounds_with_unknown = 0;
    let mut in_flight_per_kill = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let round_started = Instant::now();
        let (acked_before, in_flight_before, applied_before, expired_before) = {
            let mut model = model.lock().expect("the model lock");
            model.acks.clear();
            let stats = &model.stats;
            (model.acked_total(), stats.in_flight, stats.unknown_applied, stats.expired_after_restart)
        };
        let load = Arc::new(Load {
            round,
            http: Client::new(server.url()),
            operator: Arc::clone(&operator),
            agents: Arc::clone(&agents),
            model: Arc::clone(&model),
            stop: AtomicBool::new(false),
            killed_at: Mutex::new(None),
            outstanding: AtomicUsize::new(0),
        });
        let mut tasks = Vec::new();
        for agent in 0..AGENTS {
            tasks.push(tokio::spawn(Arc::clone(&load).agent(agent, rng.fork())));
        }
        tasks.push(tokio::spawn(Arc::clone(&load).operator(rng.fork())));

        let delay = rng.in_range(KILL_DELAY_MS);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        // The load is paced by the server's commits and the client's signing: wait until writes are on
        // the wire, so that the kill lands among them.
        let wanted = rng.in_range(1..=3) as usize;
        let waiting = Instant::now();
        while load.outstanding.load(Ordering::SeqCst) < wanted && waiting.elapsed() < Duration::from_millis(200) {
            tokio::task::yield_now().await;
        }
        *load.killed_at.lock().expect("the kill lock") = Some(Instant::now());
        let outstanding = load.outstanding.load(Ordering::SeqCst);
        let status = tokio::task::block_in_place(|| server.kill());
        assert!(!status.success(), "the server died of SIGKILL, not of its own accord: {status}");
        load.stop.store(true, Ordering::SeqCst);
        for task in tasks {
            tokio::time::timeout(DRAIN_TIMEOUT, task)
                .await
                .expect("the load notices the kill")
                .expect("a load task failed");
        }

        let audit = {
            let model = model.lock().expect("the model lock");
            tokio::task::block_in_place(|| check_killed_data(&work, &data, &model, previous_sequence))
        };
        let restart_ms = wall_ms();
        server = tokio::task::block_in_place(|| ServerProcess::start(&data, &logs, &serve_args));
        let ready_ms = wall_ms();
        let reader = Client::new(server.url()).with_read_token(READ_TOKEN);
        check_against_audit(&reader, &audit).await;
        wait_for_overdue_expiries(&reader, ready_ms).await;

        let http = Client::new(server.url());
        let mut model_now = std::mem::replace(&mut *model.lock().expect("the model lock"), Model::new(Vec::new()));
        resolve_unknowns(&http, &operator, &agents, &mut model_now, round).await;
        let books = read_books(&reader, &agent_ids).await;
        check_books(&mut model_now, &books, restart_ms);
        check_lookups(&reader, &model_now, round, &mut rng).await;

        let acked_now = model_now.acked_total() - acked_before;
        let in_flight_now = model_now.stats.in_flight - in_flight_before;
        let applied_now = model_now.stats.unknown_applied - applied_before;
        let expired_now = model_now.stats.expired_after_restart - expired_before;
        rounds_with_unknown += usize::from(in_flight_now > 0);
        in_flight_per_kill.push(in_flight_now);
        let open = model_now.escrows.values().filter(|escrow| escrow.state.is_open()).count();
        println!(
            "round {round:>2}: kill after {delay:>3} ms: {acked_now:>3} acknowledged, {in_flight_now} in flight \
             ({applied_now} of them applied; {outstanding} awaited by the client); {expired_now} expired after \
             the restart; log at entry {}, {} escrows ({open} open); round took {:.1?}",
            audit.sequence,
            model_now.escrows.len(),
            round_started.elapsed()
        );
        *model.lock().expect("the model lock") = model_now;
        previous_sequence = audit.sequence;
    }

    // A graceful stop after all the crashes, and a final audit that agrees with the server.
    let reader = Client::new(server.url()).with_read_token(READ_TOKEN);
    let last_hash = reader.state_hash().await.expect("the state hash");
    let exit = tokio::task::block_in_place(|| server.terminate());
    assert!(exit.success(), "SIGTERM stops the server cleanly after the crashes: {exit}");
    let report = tokio::task::block_in_place(|| audit_ok(&work, &data));
    assert!(report["sequence"].as_u64() >= Some(last_hash.sequence), "{report}");
    assert!(report["snapshots_checked"].as_u64() >= Some(1), "snapshots were taken and checked: {report}");

    let model = model.lock().expect("the model lock");
    let stats = &model.stats;
    let states: BTreeMap<&str, usize> = model.escrows.values().fold(BTreeMap::new(), |mut counts, escrow| {
        *counts.entry(escrow.state.state().name()).or_default() += 1;
        counts
    });
    println!(
        "ledger crash test: {rounds} kills in {:.1?}; acknowledged {:?}; escrows {states:?}; in flight per kill \
         {in_flight_per_kill:?}; {} unknown ({} in flight), {} of them applied, {} not; {} settlements lost to \
         expiry; {} expired by a restarted server that found them overdue; {} in-flight locks re-sent and found",
        started.elapsed(),
        stats.acked,
        stats.unknown,
        stats.in_flight,
        stats.unknown_applied,
        stats.unknown_not_applied,
        stats.lost_to_expiry,
        stats.expired_after_restart,
        stats.relocked_existing,
    );
    // The test must have exercised what it claims to.
    for kind in ["lock", "release", "refund", "dispute", "resolve", "transfer", "mint"] {
        assert!(stats.acked.get(kind).copied().unwrap_or(0) > 0, "no acknowledged {kind} at all");
    }
    assert!(stats.expired_after_restart > 0, "no escrow expired across a restart");
    let expired = states.get("expired").copied().unwrap_or(0) as u64;
    assert!(expired > stats.expired_after_restart, "no escrow expired while its server ran");
    assert!(stats.relocked_existing > 0, "no in-flight lock was re-sent");
    assert!(stats.unknown_applied > 0, "no write was durable without its answer");
    assert!(rounds_with_unknown * 4 >= rounds * 3, "only {rounds_with_unknown} of {rounds} kills hit writes in flight");
}
