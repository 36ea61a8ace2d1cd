//! The demo's market: real daily prices, and the scanner's and risk manager's rules.
//!
//! Prices are kept as integers of 1/1000 USD so that signals and P&L are exact and the same on every
//! machine; no money in the ledger depends on them.

use std::collections::BTreeMap;

/// The embedded price file (see `crates/cli/data/README.md`).
const PRICES_CSV: &str = include_str!("../../data/prices-2012-2013.csv");

/// One ticker on one day, prices in 1/1000 USD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    /// Opening price.
    pub open: i64,
    /// Highest price.
    pub high: i64,
    /// Lowest price.
    pub low: i64,
    /// Closing price.
    pub close: i64,
}

/// All bars by date, then ticker.
pub struct Market {
    days: Vec<(String, BTreeMap<String, Bar>)>,
}

fn milli(text: &str) -> Result<i64, String> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let mut fraction = fraction.to_owned();
    fraction.truncate(3);
    while fraction.len() < 3 {
        fraction.push('0');
    }
    let whole: i64 = whole.parse().map_err(|_| format!("bad price '{text}'"))?;
    let fraction: i64 = fraction.parse().map_err(|_| format!("bad price '{text}'"))?;
    Ok(whole * 1_000 + fraction)
}

impl Market {
    /// Parses the embedded price file.
    pub fn load() -> Result<Market, String> {
        let mut by_date: BTreeMap<String, BTreeMap<String, Bar>> = BTreeMap::new();
        for (number, line) in PRICES_CSV.lines().enumerate().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            let [ticker, date, open, high, low, close, _volume] = fields.as_slice() else {
                return Err(format!("price file line {}: expected 7 fields", number + 1));
            };
            let bar = Bar { open: milli(open)?, high: milli(high)?, low: milli(low)?, close: milli(close)? };
            by_date.entry((*date).to_owned()).or_default().insert((*ticker).to_owned(), bar);
        }
        Ok(Market { days: by_date.into_iter().collect() })
    }

    /// Trading days in the file.
    pub fn len(&self) -> usize {
        self.days.len()
    }

    /// The date of day `index`.
    pub fn date(&self, index: usize) -> &str {
        &self.days[index].0
    }

    /// The bars of day `index`.
    pub fn bars(&self, index: usize) -> &BTreeMap<String, Bar> {
        &self.days[index].1
    }

    /// The change of `ticker`'s close from day `index − 1` to day `index`, in basis points.
    pub fn change_bps(&self, ticker: &str, index: usize) -> Option<i64> {
        let previous = self.days.get(index.checked_sub(1)?)?.1.get(ticker)?.close;
        let current = self.days.get(index)?.1.get(ticker)?.close;
        Some((current - previous) * 10_000 / previous)
    }

    /// The mean absolute daily change of `ticker` over the `window` days up to `index`, in basis
    /// points: the risk manager's volatility.
    pub fn volatility_bps(&self, ticker: &str, index: usize, window: usize) -> Option<i64> {
        let changes: Vec<i64> =
            (index.checked_sub(window - 1)?..=index).filter_map(|day| self.change_bps(ticker, day)).collect();
        if changes.len() < window {
            return None;
        }
        Some(changes.iter().map(|change| change.abs()).sum::<i64>() / changes.len() as i64)
    }
}

/// A momentum opportunity the scanner found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    /// The ticker.
    pub ticker: String,
    /// +1 to buy (the price rose), −1 to sell short (it fell).
    pub direction: i64,
    /// The day's change in basis points.
    pub change_bps: i64,
}

/// Moves of at least this much (1.5%) are momentum signals.
pub const SIGNAL_THRESHOLD_BPS: i64 = 150;
/// The risk manager rejects tickers more volatile than this (2.2% mean absolute daily move).
pub const VOLATILITY_LIMIT_BPS: i64 = 220;
/// Days in the volatility window.
pub const VOLATILITY_WINDOW_DAYS: usize = 10;
/// Shares per trade.
pub const SHARES_PER_TRADE: i64 = 100;

/// The scanner's rule: every ticker that moved at least the threshold on day `index`.
pub fn scan(market: &Market, index: usize) -> Vec<Signal> {
    market
        .bars(index)
        .keys()
        .filter_map(|ticker| {
            let change_bps = market.change_bps(ticker, index)?;
            (change_bps.abs() >= SIGNAL_THRESHOLD_BPS).then(|| Signal {
                ticker: ticker.clone(),
                direction: change_bps.signum(),
                change_bps,
            })
        })
        .collect()
}

/// The risk manager's rule: signals on tickers calm enough to trade.
pub fn assess(market: &Market, index: usize, signals: &[Signal]) -> Vec<Signal> {
    signals
        .iter()
        .filter(|signal| {
            market
                .volatility_bps(&signal.ticker, index, VOLATILITY_WINDOW_DAYS)
                .is_some_and(|volatility| volatility <= VOLATILITY_LIMIT_BPS)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_exactly_and_signals_follow_the_rules() {
        assert_eq!(milli("569.16").unwrap(), 569_160);
        assert_eq!(milli("28.892").unwrap(), 28_892);
        assert_eq!(milli("30").unwrap(), 30_000);
        let market = Market::load().unwrap();
        assert!(market.len() > 150, "about nine months of trading days");
        for index in 1..market.len() {
            for signal in scan(&market, index) {
                assert!(signal.change_bps.abs() >= SIGNAL_THRESHOLD_BPS);
                assert_eq!(signal.direction, signal.change_bps.signum());
            }
        }
        let index = 30;
        let signals = scan(&market, index);
        let approved = assess(&market, index, &signals);
        assert!(approved.iter().all(|signal| signals.contains(signal)));
    }
}
