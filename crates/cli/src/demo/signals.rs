//! The demo's bus (part 3): a swarm that trades on real prices through the message bus.
//!
//! oracle-1 replays real daily prices as ephemeral messages (`pub` frames on one WebSocket).
//! scout-1 (up moves) and scout-2 (down moves) hear them on their own WebSockets, compute each
//! close-to-close change themselves and store every opportunity durably in the stream `signals`,
//! deduplicated by a message id of `<date>-<ticker>`. executor-1 and executor-2 share the stream's
//! pull consumer `executors` as a work queue; executor-2 crashes holding one message, which the
//! consumer hands to executor-1 once its ack wait has passed. Every execution reports its exposure
//! to risk-1, which listens on `risk.>` over server-sent events, keeps a book per ticker, raises
//! alerts and answers a risk check by request/reply. Finally executor-1 tells executor-2's parent
//! about the crash through the parent's inbox.
//!
//! The scouts learn of prices only through the bus, the executors of signals only through the
//! stream, and risk-1 of trades only through exposures; the data is real, so the signals are the
//! same on every run. Which executor handles which signal depends on timing, as in any work queue.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use colony_client::Client;
use colony_client::bus::{BusConnection, BusItem, BusSubscription};
use colony_client::streams::{consumer_config, stream_config};
use colony_core::bus::{AckKind, ConsumerInfo, StreamInfo};
use colony_core::limits;
use colony_wire::bus::{BusMessage, BusStatsView, ClientFrame, EphemeralPublish, Priority, ServerOp, SubscriptionView};
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::market::{self, Market, SHARES_PER_TRADE};
use super::step;
use crate::output::{print_table, thousands};

/// The error type of this part: anything the CLI can report.
type PartError = Box<dyn std::error::Error + Send + Sync>;

/// The durable stream that stores the scouts' signals.
const STREAM: &str = "signals";
/// The subjects it captures.
const SIGNAL_SUBJECTS: &str = "market.signal.>";
/// The pull consumer the executors share as a work queue.
const CONSUMER: &str = "executors";
/// The consumer's ack wait: the shortest the server allows, so the crashed executor's message comes
/// back within the demo.
const ACK_WAIT_MS: u64 = limits::ACK_WAIT_MS_MIN;
/// Deliveries of one message before it becomes a dead letter.
const MAX_DELIVER: u32 = 3;
/// Messages an executor pulls at once.
const FETCH_BATCH: u32 = 5;
/// executor-2 crashes while working on its batch with this number (counting from 1), so that it
/// has done some work for the queue first.
const CRASH_BATCH: usize = 2;
/// Trading days oracle-1 replays, from the first day of the price file.
const PRICE_DAYS: usize = 40;
/// risk-1 alerts once when a ticker's gross exposure (the sum of |shares| × price over its trades)
/// passes this.
const GROSS_EXPOSURE_LIMIT_USD: i64 = 500_000;
/// How long the executor's risk check waits for risk-1's reply.
const RISK_CHECK_TIMEOUT_MS: u64 = 2_000;
/// Everything in this part finishes within this, or the demo fails with the step that was late.
const PART_DEADLINE: Duration = Duration::from_secs(20);
/// How often an idle executor looks at the consumer (reads, so waiting writes nothing to the log).
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// The header on each price saying which day of the replay it belongs to (`7/40`).
const DAY_HEADER: &str = "day";

/// Which moves a scout looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Closes up by at least the threshold (buy).
    Up,
    /// Closes down by at least the threshold (sell short).
    Down,
}

impl Direction {
    /// The subject token and payload value: `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    fn matches(self, change_bps: i64) -> bool {
        match self {
            Direction::Up => change_bps >= market::SIGNAL_THRESHOLD_BPS,
            Direction::Down => change_bps <= -market::SIGNAL_THRESHOLD_BPS,
        }
    }

    fn position_shares(self) -> i64 {
        match self {
            Direction::Up => SHARES_PER_TRADE,
            Direction::Down => -SHARES_PER_TRADE,
        }
    }
}

/// The payload of a price message (USD).
#[derive(Debug, Deserialize)]
struct PricePayload {
    date: String,
    ticker: String,
    close: f64,
}

/// The payload of a signal.
#[derive(Debug, Deserialize)]
struct SignalPayload {
    date: String,
    ticker: String,
    direction: String,
    close: f64,
}

/// The payload of an exposure report.
#[derive(Debug, Deserialize)]
struct ExposurePayload {
    date: String,
    ticker: String,
    shares: i64,
    price: f64,
}

/// The payload of a risk check.
#[derive(Debug, Deserialize)]
struct CheckPayload {
    ticker: String,
    shares: i64,
    price: f64,
}

/// USD as a JSON number to 1/1000 USD, exactly.
fn milli_from_usd(usd: f64) -> i64 {
    (usd * 1_000.0).round() as i64
}

/// 1/1000 USD as a JSON number of USD.
fn usd_from_milli(milli: i64) -> f64 {
    milli as f64 / 1_000.0
}

/// 1/1000 USD for people: thousands separators and cents.
fn usd_text(milli: i64) -> String {
    let cents = milli.unsigned_abs() / 10;
    let sign = if milli < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", thousands(cents / 100), cents % 100)
}

/// What a scout heard and published.
pub struct ScoutReport {
    /// The scout's id.
    pub id: String,
    /// The moves it looks for.
    pub direction: Direction,
    /// Prices it received.
    pub prices_received: u64,
    /// Signals it stored (not counting the deliberate re-send).
    pub signals: Vec<(String, String, i64)>,
}

/// A re-sent signal that the stream's deduplication refused.
pub struct Duplicate {
    /// Who re-sent it.
    pub publisher: String,
    /// Its message id.
    pub message_id: String,
    /// The sequence of the original, which the server answered with.
    pub sequence: u64,
}

/// What one executor did.
pub struct ExecutorReport {
    /// The executor's id.
    pub id: String,
    /// Fetches it made.
    pub fetches: u64,
    /// Signals it executed and acknowledged.
    pub handled: u64,
    /// Of those, redeliveries.
    pub redeliveries: u64,
    /// The stream sequence it held when it crashed.
    pub crashed_holding: Option<u64>,
}

/// The message the crashed executor held, and what became of it.
pub struct Redelivery {
    /// Its stream sequence.
    pub sequence: u64,
    /// Its subject.
    pub subject: String,
    /// Its message id.
    pub message_id: String,
    /// Who held it when it crashed.
    pub held_by: String,
    /// Who got it next.
    pub received_by: String,
    /// The delivery count on the redelivery.
    pub delivery_count: u32,
    /// From the crash to the redelivery, by the wall clock.
    pub after: Duration,
}

/// The executor's risk check and risk-1's answer.
pub struct RiskCheck {
    /// Who asked.
    pub asker: String,
    /// Who answered (the source the server stamped on the reply).
    pub responder: String,
    /// The request's payload.
    pub question: String,
    /// The reply's payload.
    pub answer: String,
    /// The round trip.
    pub elapsed: Duration,
}

/// The direct message to executor-2's parent.
pub struct InboxNote {
    /// Its subject.
    pub subject: String,
    /// Who sent it, as the server stamped it on delivery.
    pub source: String,
    /// Who received it.
    pub recipient: String,
    /// Subscribers it was handed to.
    pub delivered: u64,
    /// Its payload.
    pub payload: String,
}

/// One ticker in risk-1's book.
#[derive(Default)]
pub struct Position {
    /// Exposure reports received.
    pub trades: u64,
    /// Shares long (positive) or short (negative).
    pub net_shares: i64,
    /// The sum of |shares| × price over the trades, in 1/1000 USD.
    pub gross_exposure_milli: i64,
    /// The date of the trade whose exposure passed the limit, when it did.
    pub alert_date: Option<String>,
}

/// What the bus part did.
pub struct SignalsReport {
    /// The first day replayed.
    pub first_date: String,
    /// The last day replayed.
    pub last_date: String,
    /// Tickers per day.
    pub tickers: usize,
    /// Prices oracle-1 published.
    pub prices_published: u64,
    /// The scouts.
    pub scouts: Vec<ScoutReport>,
    /// Whether the scouts' signals are exactly the scanner rule's on the same days.
    pub matches_scanner: bool,
    /// The refused re-send.
    pub duplicate: Duplicate,
    /// The stream after the work.
    pub stream: StreamInfo,
    /// The consumer after the work.
    pub consumer: ConsumerInfo,
    /// Dead letters held by the stream.
    pub dead_letters: usize,
    /// The executors.
    pub executors: Vec<ExecutorReport>,
    /// The crashed executor's message.
    pub redelivery: Redelivery,
    /// The request/reply.
    pub risk_check: RiskCheck,
    /// risk-1's book by ticker.
    pub book: BTreeMap<String, Position>,
    /// Exposure reports risk-1 received.
    pub exposures: u64,
    /// The inbox message.
    pub inbox: InboxNote,
    /// Bus counters and this part's subscriptions, read while they were open.
    pub bus: BusStatsView,
    /// How long the part took.
    pub elapsed: Duration,
}

/// Runs the bus part with the demo's agents (`clients` by id; executor-2 is treasury-1's child from
/// part 1).
pub async fn run(operator: &Client, clients: &BTreeMap<String, Client>) -> Result<SignalsReport, PartError> {
    let started = Instant::now();
    let deadline = started + PART_DEADLINE;
    let agent = |id: &str| clients.get(id).cloned().ok_or_else(|| format!("the demo has no agent {id}"));
    let oracle = agent("oracle-1")?;
    let scout_up = agent("scout-1")?;
    let scout_down = agent("scout-2")?;
    let executor_first = agent("executor-1")?;
    let executor_second = agent("executor-2")?;
    let risk = agent("risk-1")?;
    let treasury = agent("treasury-1")?;

    // The stream and its work queue. The scout that produces the signals creates the stream; the
    // executors' consumer is created by one of them.
    scout_up.create_stream(STREAM, stream_config(&[SIGNAL_SUBJECTS])?).await?;
    let mut config = consumer_config();
    config.ack_wait_ms = ACK_WAIT_MS;
    config.max_deliver = MAX_DELIVER;
    // The queue is the executors': only agents of that role may take work from it.
    config.roles.insert(colony_core::Name::new("executor")?);
    executor_first.create_consumer(STREAM, CONSUMER, config).await?;

    // Subscribers first, so that nothing published later is missed.
    let risk_subscription = risk.subscribe("risk.>", None).await?;
    let inbox_subscription = treasury.subscribe("agent.treasury-1.inbox", None).await?;
    let (exposures_expected, exposures_total) = tokio::sync::oneshot::channel::<u64>();
    let risk_desk = tokio::spawn(risk_desk(risk, risk_subscription, exposures_total, deadline));
    let treasury_inbox = tokio::spawn(first_message(inbox_subscription, deadline));

    let mut scout_tasks = Vec::new();
    for (id, client, direction) in
        [("scout-1", scout_up.clone(), Direction::Up), ("scout-2", scout_down.clone(), Direction::Down)]
    {
        let mut connection = client.connect_bus().await?;
        connection.subscribe("prices", "market.price.*", None).await?;
        scout_tasks.push(tokio::spawn(scout(id, client, connection, direction, deadline)));
    }

    // oracle-1 replays the prices: every ticker of every day, one `pub` frame each, then a ping, whose
    // pong says every frame before it was handled (a refused one would have answered an error first).
    let market = Market::load()?;
    let days = PRICE_DAYS.min(market.len());
    let mut frames = Vec::new();
    for day in 0..days {
        for (ticker, bar) in market.bars(day) {
            let ticker = ticker.to_lowercase();
            let mut price = EphemeralPublish::json(
                format!("market.price.{ticker}"),
                &json!({
                    "date": market.date(day),
                    "ticker": ticker,
                    "open": usd_from_milli(bar.open),
                    "high": usd_from_milli(bar.high),
                    "low": usd_from_milli(bar.low),
                    "close": usd_from_milli(bar.close),
                }),
            );
            price.message_type = Some("price".to_owned());
            price.headers.insert(DAY_HEADER.to_owned(), format!("{}/{days}", day + 1));
            frames.push(ClientFrame::publish(price));
        }
    }
    let prices_published = frames.len() as u64;
    let mut feed = oracle.connect_bus().await?;
    feed.sender.send_all(&frames).await?;
    feed.send(&ClientFrame::ping()).await?;
    loop {
        let frame = tokio::time::timeout_at(deadline, feed.next())
            .await
            .map_err(|_| "oracle-1's feed was not acknowledged in time")?
            .ok_or("oracle-1's connection closed")??;
        match frame.op {
            ServerOp::Pong => break,
            ServerOp::Error => return Err(format!("oracle-1's price was refused: {:?}", frame.problem).into()),
            _ => {}
        }
    }
    feed.sender.close().await;

    let mut scouts = Vec::new();
    let mut scout_connections = Vec::new();
    let mut duplicate = None;
    for task in scout_tasks {
        let scouting = task.await??;
        duplicate = duplicate.or(scouting.duplicate);
        scout_connections.push(scouting.connection);
        scouts.push(scouting.report);
    }
    let duplicate = duplicate.ok_or("scout-1 found no signal to re-send")?;
    let found: BTreeSet<&(String, String, i64)> = scouts.iter().flat_map(|scout| &scout.signals).collect();
    let expected: Vec<(String, String, i64)> = (1..days)
        .flat_map(|day| {
            let date = market.date(day);
            market::scan(&market, day)
                .into_iter()
                .map(move |signal| (date.to_owned(), signal.ticker.to_lowercase(), signal.change_bps))
        })
        .collect();
    let matches_scanner = found.len() == expected.len() && expected.iter().all(|signal| found.contains(signal));

    // The executors work the queue side by side; executor-2 crashes during its second batch.
    let first = tokio::spawn(executor("executor-1", executor_first.clone(), None, true, deadline));
    let second = tokio::spawn(executor("executor-2", executor_second, Some(CRASH_BATCH), false, deadline));
    let first = first.await??;
    let second = second.await??;
    let (held, crashed_at) =
        second.crashed_holding.clone().ok_or("executor-2 never held a message: the queue ran dry first")?;
    let held_sequence = held.stream_sequence.ok_or("a delivery without its sequence")?;
    let (redelivered, redelivered_at) = first
        .redelivered
        .iter()
        .find(|(message, _)| message.stream_sequence == Some(held_sequence))
        .cloned()
        .ok_or("executor-2's message did not come back to executor-1")?;
    let redelivery = Redelivery {
        sequence: held_sequence,
        subject: held.subject.clone(),
        message_id: held.message_id.clone().unwrap_or_default(),
        held_by: "executor-2".to_owned(),
        received_by: "executor-1".to_owned(),
        delivery_count: redelivered.delivery_count.unwrap_or(1),
        after: redelivered_at.saturating_duration_since(crashed_at),
    };

    // risk-1 is told how many exposures to expect, and stops once it has them all.
    let exposures_sent = first.handled + second.handled;
    // If risk-1 has already stopped, its task holds the reason.
    let told = exposures_expected.send(exposures_sent);
    let desk = risk_desk.await??;
    if told.is_err() {
        return Err("risk-1 stopped before it had every exposure".into());
    }

    // executor-1 tells executor-2's parent what happened, directly.
    let note = EphemeralPublish::json(
        "agent.treasury-1.inbox",
        &json!({
            "about": "executor-2",
            "stream": STREAM,
            "sequence": redelivery.sequence,
            "message_id": redelivery.message_id,
            "note": "left unacknowledged when executor-2 stopped; redelivered to executor-1 and executed",
        }),
    );
    let sent = executor_first.publish(note).await?;
    let (received, inbox_subscription) = treasury_inbox.await??;
    let inbox = InboxNote {
        subject: received.subject.clone(),
        source: received.source.clone(),
        recipient: "treasury-1".to_owned(),
        delivered: sent.delivered,
        payload: received.payload.as_ref().map(|payload| payload.get().to_owned()).unwrap_or_default(),
    };

    // Read the counters while every subscription of this part is still open, then close them.
    let bus = operator.bus_stats().await?;
    for connection in scout_connections {
        connection.sender.close().await;
    }
    drop(desk.subscription);
    drop(inbox_subscription);

    let stream = operator.stream_info(STREAM).await?;
    let consumer = operator.consumer_info(STREAM, CONSUMER).await?;
    let dead_letters = operator.dead_letters(STREAM, None, 100).await?.dead_letters.len();
    let executors = [("executor-1", &first), ("executor-2", &second)]
        .into_iter()
        .map(|(id, work)| ExecutorReport {
            id: id.to_owned(),
            fetches: work.fetches,
            handled: work.handled,
            redeliveries: work.redelivered.len() as u64,
            crashed_holding: work.crashed_holding.as_ref().and_then(|(message, _)| message.stream_sequence),
        })
        .collect();
    let risk_check = first.risk_check.ok_or("executor-1 made no risk check")?;
    Ok(SignalsReport {
        first_date: market.date(0).to_owned(),
        last_date: market.date(days - 1).to_owned(),
        tickers: market.bars(0).len(),
        prices_published,
        scouts,
        matches_scanner,
        duplicate,
        stream,
        consumer,
        dead_letters,
        executors,
        redelivery,
        risk_check,
        book: desk.book,
        exposures: desk.exposures,
        inbox,
        bus,
        elapsed: started.elapsed(),
    })
}

/// What a scout task hands back: its report, the re-send it made (scout-1 only) and its connection,
/// kept open until the bus counters are read.
struct Scouting {
    report: ScoutReport,
    duplicate: Option<Duplicate>,
    connection: BusConnection,
}

/// A scout: reads prices from its WebSocket until the last day of every ticker, keeps each ticker's
/// previous close, and stores each move in its direction as a durable signal. scout-1 re-sends its
/// first signal on purpose, to show deduplication.
async fn scout(
    id: &'static str,
    client: Client,
    mut connection: BusConnection,
    direction: Direction,
    deadline: Instant,
) -> Result<Scouting, PartError> {
    let mut previous_closes: BTreeMap<String, i64> = BTreeMap::new();
    let mut finished: BTreeMap<String, bool> = BTreeMap::new();
    let mut report = ScoutReport { id: id.to_owned(), direction, prices_received: 0, signals: Vec::new() };
    let mut duplicate = None;
    while finished.is_empty() || !finished.values().all(|done| *done) {
        let frame = tokio::time::timeout_at(deadline, connection.next())
            .await
            .map_err(|_| format!("{id} did not receive the whole price feed in time"))?
            .ok_or_else(|| format!("{id}'s connection closed"))??;
        match frame.op {
            ServerOp::Msg => {}
            ServerOp::Dropped => return Err(format!("{id}'s buffer dropped {:?} prices", frame.count).into()),
            ServerOp::Error => return Err(format!("{id}'s connection reported {:?}", frame.problem).into()),
            _ => continue,
        }
        let Some(message) = frame.message else { continue };
        let price: PricePayload = message.payload_as().ok_or("a price without a payload")??;
        report.prices_received += 1;
        let last_day =
            message.headers.get(DAY_HEADER).and_then(|day| day.split_once('/')).is_some_and(|(day, days)| day == days);
        finished.insert(price.ticker.clone(), last_day);
        let close_milli = milli_from_usd(price.close);
        let Some(previous_milli) = previous_closes.insert(price.ticker.clone(), close_milli) else { continue };
        // The same rounding as the scanner's rule (market::Market::change_bps).
        let change_bps = (close_milli - previous_milli) * 10_000 / previous_milli;
        if !direction.matches(change_bps) {
            continue;
        }
        let message_id = format!("{}-{}", price.date, price.ticker);
        let mut signal = EphemeralPublish::json(
            format!("market.signal.{}.{}", direction.as_str(), price.ticker),
            &json!({
                "date": price.date,
                "ticker": price.ticker,
                "direction": direction.as_str(),
                "change_bps": change_bps,
                "close": price.close,
            }),
        );
        signal.message_type = Some("market_signal".to_owned());
        client.publish_durable(&signal, Some(&message_id)).await?;
        if direction == Direction::Up && duplicate.is_none() {
            // The same signal again, as a scout that lost the answer and retried would send it.
            let again = client.publish_durable(&signal, Some(&message_id)).await?;
            if !again.duplicate {
                return Err(format!("the re-sent {message_id} was stored twice").into());
            }
            duplicate = Some(Duplicate { publisher: id.to_owned(), message_id, sequence: again.sequence });
        }
        report.signals.push((price.date, price.ticker, change_bps));
    }
    Ok(Scouting { report, duplicate, connection })
}

/// What an executor task hands back.
#[derive(Default)]
struct Execution {
    fetches: u64,
    handled: u64,
    /// Redeliveries it executed, with when it got them.
    redelivered: Vec<(BusMessage, Instant)>,
    /// The message in hand when it crashed, with when.
    crashed_holding: Option<(BusMessage, Instant)>,
    risk_check: Option<RiskCheck>,
}

/// An executor: pulls signals, executes each (reports the exposure to risk-1), acks the batch, and
/// stops when nothing is pending any more. With `crash_on_batch`, it stops dead during that batch
/// holding the batch's last message, after acknowledging the ones it finished. With `ask_risk`, it
/// checks its first trade with risk-1 by request/reply.
async fn executor(
    id: &'static str,
    client: Client,
    crash_on_batch: Option<usize>,
    ask_risk: bool,
    deadline: Instant,
) -> Result<Execution, PartError> {
    let mut execution = Execution::default();
    let mut batches = 0;
    loop {
        if Instant::now() >= deadline {
            return Err(format!("{id} did not finish the queue in time").into());
        }
        let batch = client.fetch(STREAM, CONSUMER, FETCH_BATCH).await?;
        execution.fetches += 1;
        if batch.is_empty() {
            // Nothing to hand out. Done when nothing is pending; otherwise another member holds
            // messages, which come back here if its ack wait passes. Watch with reads, so that the
            // wait writes nothing to the log; the driver's ticks expire the deadline by log time.
            loop {
                let consumer = client.consumer_info(STREAM, CONSUMER).await?;
                if consumer.pending == 0 {
                    return Ok(execution);
                }
                if consumer.waiting > 0 {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(format!("{id} waited too long for held messages").into());
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            continue;
        }
        batches += 1;
        let mut done = Vec::new();
        for (index, message) in batch.iter().enumerate() {
            let sequence = message.stream_sequence.ok_or("a delivery without its sequence")?;
            if crash_on_batch == Some(batches) && index + 1 == batch.len() {
                // The crash: the finished messages are acked, the one in hand never is.
                if !done.is_empty() {
                    client.ack(STREAM, CONSUMER, &done, AckKind::Ack).await?;
                    execution.handled += done.len() as u64;
                }
                execution.crashed_holding = Some((message.clone(), Instant::now()));
                drop(client);
                return Ok(execution);
            }
            let signal: SignalPayload = message.payload_as().ok_or("a signal without a payload")??;
            let shares = match signal.direction.as_str() {
                "up" => Direction::Up.position_shares(),
                "down" => Direction::Down.position_shares(),
                other => return Err(format!("a signal with direction '{other}'").into()),
            };
            if ask_risk && execution.risk_check.is_none() {
                execution.risk_check = Some(risk_check(id, &client, &signal, shares).await?);
            }
            let mut exposure = EphemeralPublish::json(
                format!("risk.exposure.{}", signal.ticker),
                &json!({ "date": signal.date, "ticker": signal.ticker, "shares": shares, "price": signal.close }),
            );
            exposure.message_type = Some("exposure".to_owned());
            client.publish(exposure).await?;
            if message.delivery_count.is_some_and(|count| count > 1) {
                execution.redelivered.push((message.clone(), Instant::now()));
            }
            done.push(sequence);
        }
        client.ack(STREAM, CONSUMER, &done, AckKind::Ack).await?;
        execution.handled += done.len() as u64;
    }
}

/// Asks risk-1 over `risk.check` whether a trade fits its limit.
async fn risk_check(id: &str, client: &Client, signal: &SignalPayload, shares: i64) -> Result<RiskCheck, PartError> {
    let mut question = EphemeralPublish::json(
        "risk.check",
        &json!({ "ticker": signal.ticker, "shares": shares, "price": signal.close }),
    );
    question.message_type = Some("risk_check".to_owned());
    let question_text = question.payload.as_ref().map(|payload| payload.get().to_owned()).unwrap_or_default();
    let started = Instant::now();
    let reply = client.request(question, RISK_CHECK_TIMEOUT_MS).await?;
    Ok(RiskCheck {
        asker: id.to_owned(),
        responder: reply.source.clone(),
        question: question_text,
        answer: reply.payload.as_ref().map(|payload| payload.get().to_owned()).unwrap_or_default(),
        elapsed: started.elapsed(),
    })
}

/// What risk-1 hands back: its book and its subscription, kept open until the counters are read.
struct Desk {
    book: BTreeMap<String, Position>,
    exposures: u64,
    subscription: BusSubscription,
}

/// risk-1: reads `risk.>` over server-sent events. Exposures update the book and may raise an alert
/// (once per ticker); risk checks get a reply on their `reply_to`; its own alerts come back too and
/// are skipped. It stops once it has every exposure the executors sent (told on `expected`).
async fn risk_desk(
    client: Client,
    mut subscription: BusSubscription,
    mut expected: tokio::sync::oneshot::Receiver<u64>,
    deadline: Instant,
) -> Result<Desk, PartError> {
    let limit_milli = GROSS_EXPOSURE_LIMIT_USD * 1_000;
    let mut book: BTreeMap<String, Position> = BTreeMap::new();
    let mut exposures = 0;
    let mut total = None;
    while total.is_none_or(|total| exposures < total) {
        let item = tokio::select! {
            told = &mut expected, if total.is_none() => {
                total = Some(told.map_err(|_| "the demo never said how many exposures to expect")?);
                continue;
            }
            item = tokio::time::timeout_at(deadline, subscription.next()) => item,
        };
        let message = match item.map_err(|_| "risk-1 did not receive every exposure in time")? {
            None => return Err("risk-1's subscription ended".into()),
            Some(Err(error)) => return Err(error.into()),
            Some(Ok(BusItem::Dropped { count, .. })) => {
                return Err(format!("risk-1's buffer dropped {count} messages").into());
            }
            Some(Ok(BusItem::Message(message))) => message,
        };
        if message.subject == "risk.check" {
            let check: CheckPayload = message.payload_as().ok_or("a risk check without a payload")??;
            let reply_to = message.reply_to.clone().ok_or("a risk check without reply_to")?;
            let gross_milli = book.get(&check.ticker).map_or(0, |position| position.gross_exposure_milli);
            let trade_milli = check.shares.abs() * milli_from_usd(check.price);
            let mut reply = EphemeralPublish::json(
                reply_to,
                &json!({
                    "approved": gross_milli + trade_milli <= limit_milli,
                    "gross_exposure": usd_from_milli(gross_milli),
                    "limit": GROSS_EXPOSURE_LIMIT_USD,
                }),
            );
            reply.message_type = Some("risk_check_reply".to_owned());
            client.publish(reply).await?;
        } else if message.subject.starts_with("risk.exposure.") {
            let exposure: ExposurePayload = message.payload_as().ok_or("an exposure without a payload")??;
            exposures += 1;
            let position = book.entry(exposure.ticker.clone()).or_default();
            position.trades += 1;
            position.net_shares += exposure.shares;
            position.gross_exposure_milli += exposure.shares.abs() * milli_from_usd(exposure.price);
            if position.gross_exposure_milli > limit_milli && position.alert_date.is_none() {
                position.alert_date = Some(exposure.date.clone());
                let mut alert = EphemeralPublish::json(
                    format!("risk.alert.{}", exposure.ticker),
                    &json!({
                        "ticker": exposure.ticker,
                        "gross_exposure": usd_from_milli(position.gross_exposure_milli),
                        "limit": GROSS_EXPOSURE_LIMIT_USD,
                        "trades": position.trades,
                        "net_shares": position.net_shares,
                    }),
                );
                alert.message_type = Some("risk_alert".to_owned());
                alert.priority = Priority::High;
                client.publish(alert).await?;
            }
        }
    }
    Ok(Desk { book, exposures, subscription })
}

/// The first message on `subscription`, and the subscription, kept open.
async fn first_message(
    mut subscription: BusSubscription,
    deadline: Instant,
) -> Result<(BusMessage, BusSubscription), PartError> {
    loop {
        match tokio::time::timeout_at(deadline, subscription.next()).await.map_err(|_| "no inbox message in time")? {
            None => return Err("the inbox subscription ended".into()),
            Some(Err(error)) => return Err(error.into()),
            Some(Ok(BusItem::Dropped { .. })) => {}
            Some(Ok(BusItem::Message(message))) => return Ok((*message, subscription)),
        }
    }
}

impl SignalsReport {
    /// Signals stored by the scouts (the deliberate re-send not counted).
    pub fn signals_stored(&self) -> usize {
        self.scouts.iter().map(|scout| scout.signals.len()).sum()
    }

    /// Tickers whose gross exposure passed the limit.
    pub fn alerts(&self) -> usize {
        self.book.values().filter(|position| position.alert_date.is_some()).count()
    }

    /// The part's step lines, numbered from `first`.
    pub fn print_steps(&self, first: u32) {
        step(
            first,
            &format!(
                "scout-1 created the durable stream `{STREAM}` ({SIGNAL_SUBJECTS}); executor-1 its consumer `{CONSUMER}` (ack wait {} ms, at most {MAX_DELIVER} deliveries), a work queue for executor-1 and executor-2",
                thousands(ACK_WAIT_MS)
            ),
        );
        step(
            first + 1,
            &format!(
                "oracle-1 published {} real prices over a WebSocket; scout-1 and scout-2 computed the moves themselves and stored {} signals durably (a re-send refused as `duplicate`)",
                self.prices_published,
                self.signals_stored()
            ),
        );
        step(
            first + 2,
            &format!(
                "the executors shared the queue; executor-2 crashed holding {}:{}, which came back to executor-1 with delivery count {}",
                STREAM, self.redelivery.sequence, self.redelivery.delivery_count
            ),
        );
        step(
            first + 3,
            &format!(
                "every execution reported its exposure to risk-1 (SSE): {} exposures, {} alerts, a risk.check answered; executor-1 wrote to treasury-1's inbox",
                self.exposures,
                self.alerts()
            ),
        );
    }

    /// The report section.
    pub fn print_report(&self) {
        println!();
        println!("Bus: oracle-1 → scouts → stream `{STREAM}` → executors → risk-1 (in {:.1?})", self.elapsed);
        println!(
            "  oracle-1 published {} prices ({} tickers × {} trading days, {} to {}) as `pub` frames on one WebSocket",
            self.prices_published,
            self.tickers,
            self.prices_published / self.tickers.max(1) as u64,
            self.first_date,
            self.last_date
        );
        let role = |owner: &str| -> String {
            match owner {
                "scout-1" | "scout-2" => self
                    .scouts
                    .iter()
                    .find(|scout| scout.id == owner)
                    .map(|scout| {
                        format!(
                            "{} prices heard, {} {} signals stored",
                            scout.prices_received,
                            scout.signals.len(),
                            scout.direction.as_str()
                        )
                    })
                    .unwrap_or_default(),
                "risk-1" => format!("{} exposures, a risk check, its own {} alerts", self.exposures, self.alerts()),
                "treasury-1" => "its inbox".to_owned(),
                _ => String::new(),
            }
        };
        let subscriptions: Vec<Vec<String>> = self
            .bus
            .subscriptions
            .iter()
            .filter(|subscription| {
                matches!(subscription.owner.as_str(), "scout-1" | "scout-2" | "risk-1" | "treasury-1")
            })
            .map(|subscription: &SubscriptionView| {
                vec![
                    subscription.owner.clone(),
                    subscription.subject.clone(),
                    subscription.transport.clone(),
                    thousands(subscription.delivered),
                    thousands(subscription.dropped),
                    role(&subscription.owner),
                ]
            })
            .collect();
        print_table(&["SUBSCRIBER", "PATTERN", "TRANSPORT", "DELIVERED", "DROPPED", ""], &subscriptions);
        println!(
            "  the scouts' signals {} the scanner's rule on the same days (|close-to-close| ≥ {} bps)",
            if self.matches_scanner { "are exactly" } else { "DIFFER from" },
            market::SIGNAL_THRESHOLD_BPS
        );
        println!(
            "  stream `{STREAM}`: {} signals stored, sequences {} to {}; dedupe: {} re-sent {} and got `duplicate` (sequence {})",
            self.stream.messages,
            self.stream.first_sequence.map_or("-".to_owned(), |sequence| sequence.to_string()),
            self.stream.last_sequence,
            self.duplicate.publisher,
            self.duplicate.message_id,
            self.duplicate.sequence
        );
        let rows: Vec<Vec<String>> = self
            .executors
            .iter()
            .map(|executor| {
                vec![
                    executor.id.clone(),
                    executor.fetches.to_string(),
                    executor.handled.to_string(),
                    executor.redeliveries.to_string(),
                    executor
                        .crashed_holding
                        .map_or(String::new(), |sequence| format!("crashed holding {STREAM}:{sequence}")),
                ]
            })
            .collect();
        print_table(&["EXECUTOR", "FETCHES", "HANDLED", "REDELIVERED", ""], &rows);
        println!(
            "  redelivery: {STREAM}:{} ({}, {}) held by {} when it crashed went to {} after the {} ms ack wait, delivery count {} ({:.1?} later)",
            self.redelivery.sequence,
            self.redelivery.subject,
            self.redelivery.message_id,
            self.redelivery.held_by,
            self.redelivery.received_by,
            thousands(ACK_WAIT_MS),
            self.redelivery.delivery_count,
            self.redelivery.after
        );
        println!(
            "  consumer `{CONSUMER}`: {} deliveries ({} redelivered), {} acked, {} pending; dead letters: {}{}",
            self.consumer.delivered,
            self.consumer.redelivered,
            self.consumer.acked,
            self.consumer.pending,
            self.dead_letters,
            if self.dead_letters == 0 {
                format!(" (no signal reached {MAX_DELIVER} deliveries)")
            } else {
                String::new()
            }
        );
        println!(
            "  request/reply: {} asked risk.check {} and {} answered {} in {:.1?}",
            self.risk_check.asker,
            self.risk_check.question,
            self.risk_check.responder,
            self.risk_check.answer,
            self.risk_check.elapsed
        );
        println!(
            "  inbox: {} → {} (executor-2's parent), delivered to {}, received by {}:",
            self.inbox.source, self.inbox.subject, self.inbox.delivered, self.inbox.recipient
        );
        println!("    {}", self.inbox.payload);
        println!(
            "  bus: published {} ephemeral messages, delivered {}, dropped {}, unmatched {} (the stream counts the durable signals)",
            thousands(self.bus.published),
            thousands(self.bus.delivered),
            thousands(self.bus.dropped),
            thousands(self.bus.unmatched)
        );
        println!();
        println!(
            "Risk: risk-1 alerts once when a ticker's gross exposure (Σ |shares| × price over its trades) passes {} USD",
            thousands(GROSS_EXPOSURE_LIMIT_USD as u64)
        );
        let rows: Vec<Vec<String>> = self
            .book
            .iter()
            .map(|(ticker, position)| {
                vec![
                    ticker.clone(),
                    position.trades.to_string(),
                    format!("{:+}", position.net_shares),
                    usd_text(position.gross_exposure_milli),
                    position
                        .alert_date
                        .as_ref()
                        .map_or("-".to_owned(), |date| format!("risk.alert.{ticker} (trade of {date})")),
                ]
            })
            .collect();
        print_table(&["TICKER", "TRADES", "NET SHARES", "GROSS EXPOSURE USD", "ALERT"], &rows);
    }
}
