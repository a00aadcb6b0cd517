//! [`daily`]: each strategy's figures per trading day, for `days.csv` (`ticklane run --out`):
//! what it traded that day, and its P&L at the day's close.
//!
//! The close is the last equity sample of the day: the lanes mark and sample every ledger at
//! each day's last event time (before the next day's start of messages empties the books) and
//! at the run's end, so a day's `net` is the run's net P&L at that close and `pnl` the change
//! from the close before. The sum of a strategy's `pnl` is its net P&L at the run's end, and its
//! fills, shares and fees add up to `fills.csv`'s. The figures come from the strategies'
//! ledgers (what each day traded, [`ticklane_exec::Ledger::days`]) and equity curves, which
//! are the same in every lane layout, so the figures are too; they need no journal, so
//! `--json` gives them without `--out`.

use rust_decimal::Decimal;
use ticklane_core::Price;
use ticklane_runtime::RunReport;

/// One strategy's figures for one trading day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayFigures {
    /// The source's number of the day (1: the first; a replay of one day, `--day N`, says N).
    pub day: u64,
    /// Fills that day.
    pub fills: u64,
    /// Shares bought that day.
    pub bought: u64,
    /// Shares sold that day.
    pub sold: u64,
    /// Fees of that day's fills (negative: rebates).
    pub fees: Decimal,
    /// Event time of the day's close sample (`None`: no sample, the strategy had no fill yet).
    pub close_ts: Option<u64>,
    /// Net P&L of the run at the day's close (fees included; 0 before any fill).
    pub net: Decimal,
    /// Net P&L of the day: `net` less the close before (the first day's: `net`).
    pub pnl: Decimal,
    /// Largest fall of the day's equity samples from the day's running peak, the peak starting
    /// at the close before (>= 0).
    pub max_drawdown: Decimal,
}

/// Each strategy's days, strategies in configuration order (by id), days in order: one row
/// for every trading day of the run, a day without a fill or a sample included.
pub fn daily(r: &RunReport) -> Vec<(String, Vec<DayFigures>)> {
    // A day the source does not hold (`--day`, exit 2): nothing was replayed, no day to number.
    let days = if r.feed.missing_day { 0 } else { r.days() };
    let first = r.first_day() as u64;
    r.strategies_in_order()
        .into_iter()
        .map(|s| {
            // What each day traded, from the strategy's ledger (one entry per day).
            let mut traded = s.ledger.days();
            let mut rows: Vec<DayFigures> = (0..days)
                .map(|d| {
                    let t = traded.next().unwrap_or_default();
                    DayFigures {
                        day: first + d as u64,
                        fills: t.fills,
                        bought: t.bought,
                        sold: t.sold,
                        fees: fee_decimal(t.fee_units),
                        ..DayFigures::default()
                    }
                })
                .collect();
            // Each day's samples in order: the close is the last; the drawdown runs from the
            // close before.
            let mut close = Decimal::ZERO;
            let mut peak = Decimal::ZERO;
            let mut today = 0usize;
            for (e, day) in s.ledger.equity_curve().iter().zip(s.sample_days()) {
                let d = usize::try_from(day - 1).unwrap_or(usize::MAX);
                let Some(row) = rows.get_mut(d) else { break };
                if d != today {
                    today = d;
                    peak = close;
                }
                peak = peak.max(e.equity);
                row.max_drawdown = row.max_drawdown.max(peak - e.equity);
                row.net = e.equity;
                row.close_ts = Some(e.ts.0);
                close = e.equity;
            }
            // A day without a sample keeps the close before.
            let mut last = Decimal::ZERO;
            for row in &mut rows {
                if row.close_ts.is_some() {
                    last = row.net;
                } else {
                    row.net = last;
                }
            }
            let mut before = Decimal::ZERO;
            for row in &mut rows {
                row.pnl = row.net - before;
                before = row.net;
            }
            (s.name.clone(), rows)
        })
        .collect()
}

/// A sum of fees in price units (1/10,000 of the currency unit) as money.
fn fee_decimal(units: i128) -> Decimal {
    match i64::try_from(units) {
        Ok(u) => Price(u).to_decimal(),
        // Past i64 units: the exact sum, scaled as prices are.
        Err(_) => Decimal::from_i128_with_scale(units, Price::SCALE.ilog10()),
    }
}
