//! Part 6: stigmergy. The scouts turn the real prices' momentum into pheromone trails on one shared
//! map (`AAPL:long:momentum`, strength = the day's move in percent), the trails fade with a half-life
//! of log time, and the executors choose what to trade by reading the strongest: no coordinator, no
//! message between them, only the environment they share.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use colony_client::Client;
use colony_core::command::Deposit;
use colony_core::stigmergy::{CreateMap, Decay, Depositors, Intensity, SignalKey};
use colony_core::{AgentId, Command, Name};

use super::market::{Market, scan};
use super::{DemoResult, step};

/// A trail loses half its strength every this much log time: a day of the demo lasts at least
/// [`DAY_MS`], so a signal is worth half of itself four days later at most, and a 2% move fades below
/// the pruning level (0.01) within about a month.
pub const HALF_LIFE_MS: u64 = 200;

/// The wall time the demo lets pass between trading days, so that decay acts between them.
const DAY_MS: u64 = 50;

/// Trading days replayed, from the first with a previous close.
const DAYS: usize = 30;

/// An executor reads the strongest trails every this many days.
const READ_EVERY_DAYS: usize = 10;

/// What the part did, for the report.
pub struct StigmergyReport {
    /// The first and last dates replayed.
    pub dates: (String, String),
    /// Deposits by scout.
    pub deposits: BTreeMap<&'static str, u64>,
    /// What executor-1 read: the date and the strongest trails.
    pub reads: Vec<(String, Vec<(SignalKey, Intensity)>)>,
    /// executor-2's refused deposit, by code.
    pub outsider_refusal: String,
}

/// Replays [`DAYS`] trading days as deposits and reads; `clients` are the swarm's members by id.
pub async fn run(clients: &BTreeMap<String, Client>) -> DemoResult<StigmergyReport> {
    let client = |id: &str| clients.get(id).cloned().ok_or_else(|| format!("{id} is not in the swarm"));
    let (scout_long, scout_short, reader, outsider) =
        (client("scout-1")?, client("scout-2")?, client("executor-1")?, client("executor-2")?);
    let map = Name::new("momentum")?;
    let depositors: BTreeSet<AgentId> =
        ["scout-1", "scout-2"].into_iter().map(AgentId::new).collect::<Result<_, _>>()?;
    scout_long
        .create_pheromone_map(CreateMap {
            map: map.clone(),
            decay: Decay::HalfLife { half_life_ms: HALF_LIFE_MS },
            cap: Intensity::from_units(10).expect("in range"),
            prune_at_or_below: Intensity::from_nanos(10_000_000),
            depositors: Depositors::Agents(depositors),
        })
        .await?;

    let market = Market::load()?;
    let mut report = StigmergyReport {
        dates: (market.date(1).to_owned(), market.date(DAYS).to_owned()),
        deposits: BTreeMap::new(),
        reads: Vec::new(),
        outsider_refusal: String::new(),
    };
    for day in 1..=DAYS {
        let (mut long, mut short) = (Vec::new(), Vec::new());
        for signal in scan(&market, day) {
            let side = if signal.direction > 0 { "long" } else { "short" };
            let key = SignalKey::new(format!("{}:{side}:momentum", signal.ticker.to_uppercase()))?;
            // One percent of move is one unit of strength: |bps| / 100 units, in billionths.
            let strength = Intensity::from_nanos(signal.change_bps.unsigned_abs() * 10_000_000);
            let deposit = Command::Deposit(Deposit { map: map.clone(), key, strength, unless_present: Vec::new() });
            if signal.direction > 0 { long.push(deposit) } else { short.push(deposit) }
        }
        for (scout, name, deposits) in [(&scout_long, "scout-1", long), (&scout_short, "scout-2", short)] {
            if !deposits.is_empty() {
                *report.deposits.entry(name).or_default() += deposits.len() as u64;
                scout.submit_batch(deposits).await?;
            }
        }
        if day % READ_EVERY_DAYS == 0 {
            let top = reader.top_trails(&map, 3).await?;
            let trails = top.trails.into_iter().map(|trail| (trail.key, trail.intensity)).collect();
            report.reads.push((market.date(day).to_owned(), trails));
        }
        tokio::time::sleep(Duration::from_millis(DAY_MS)).await;
    }
    let key = SignalKey::new("AAPL:long:momentum")?;
    report.outsider_refusal =
        match outsider.deposit_pheromone(map, key, Intensity::from_units(10).expect("in range")).await {
            Ok(_) => return Err("executor-2 deposited on a map closed to it".into()),
            Err(error) => error.code().unwrap_or("transport").to_owned(),
        };
    step(
        13,
        &format!(
            "stigmergy: scout-1 and scout-2 deposited {} momentum trails over {} real trading days ({} to {}) on a \
             map that halves them every {HALF_LIFE_MS} ms of log time; executor-1 read the three strongest (what it \
             would trade) every {READ_EVERY_DAYS} days, with no coordinator; executor-2's deposit was refused (`{}`)",
            report.deposits.values().sum::<u64>(),
            DAYS,
            report.dates.0,
            report.dates.1,
            report.outsider_refusal
        ),
    );
    Ok(report)
}
