//! Positions and P&L in `rust_decimal`, per instrument and in total: realized (average cost),
//! unrealized (marked to mid), fees and rebates, equity over time and max drawdown.
//!
//! # Accounting
//!
//! Every amount is a [`Decimal`] in currency units (dollars): prices are converted exactly from
//! integer price units (`Price::to_decimal`), fees from the fill's `fee` (price units).
//!
//! Per instrument the ledger keeps the signed position, the signed **cost** of the open
//! position (what was paid for it: positive long, negative short), the realized P&L and the
//! fees. A fill that opens or adds adds `signed qty × price` to the cost; a fill that reduces
//! removes the proportional part `cost × closed / |position|` and realizes
//! `proceeds − that part`; a fill that flips the position closes it completely (the whole cost
//! is removed, exactly) and opens the rest. The division is the only rounding: the removed part
//! is rounded to 10 decimal places (banker's rounding), so every amount keeps at most 10
//! decimals and sums stay exact within `Decimal`'s 28 digits; and the rounding cancels out:
//! `realized − cost` equals the cash flow of the fills exactly, so
//! `realized + unrealized = cash + position × mark` always holds to the last digit, with
//! `unrealized = position × mark − cost` and `average cost = cost / position`.
//!
//! The mark is the last fill price until [`Ledger::mark`] or [`Ledger::mark_to_market`] (the
//! book's mid) sets it. Equity = realized + unrealized − fees; the caller samples it
//! ([`Ledger::sample_equity`], e.g. on a timer or every N events) and the ledger keeps the
//! curve and its maximum drawdown (largest fall from a previous peak; the account starts flat,
//! so equity 0 before the first sample is the first peak).
//!
//! Instruments are kept in a `BTreeMap`, so iteration and totals do not depend on the order
//! in which instruments were first traded (sums of decimals are exact, hence order-free).

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use ticklane_book::Market;
use ticklane_core::{InstrumentId, Price, Side, Timestamp};
use ticklane_strategy::Fill;

use crate::equity::{EquityCurve, EquityPoint};

/// Decimal places of the cost removed by a partial close (1e-10 of the currency unit).
const COST_DP: u32 = 10;

/// A fill the ledger cannot take.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum LedgerError {
    /// The fill's quantity is zero.
    #[error("fill of order {0} has quantity zero")]
    ZeroQuantity(ticklane_strategy::ClientOrderId),
    /// An amount overflowed `Decimal` (about 7.9e28).
    #[error("ledger amount overflow in instrument {0}")]
    Overflow(u32),
}

/// Position and P&L of one instrument.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct InstrumentPnl {
    /// Net shares, positive long.
    pub position: i64,
    /// Signed cost of the open position (positive long, negative short).
    pub cost: Decimal,
    /// Realized P&L (average cost), before fees.
    pub realized: Decimal,
    /// Fees paid (negative: net rebates).
    pub fees: Decimal,
    /// Cash flow of the fills: sells add, buys subtract (fees not included).
    pub cash: Decimal,
    /// Mark price (last fill until marked).
    pub mark: Decimal,
    /// Shares bought.
    pub bought: u64,
    /// Shares sold.
    pub sold: u64,
    /// Number of fills.
    pub fills: u64,
}

impl InstrumentPnl {
    /// Average cost of the open position, `None` when flat.
    pub fn avg_cost(&self) -> Option<Decimal> {
        (self.position != 0).then(|| self.cost / Decimal::from(self.position))
    }

    /// Unrealized P&L at the mark: `position × mark − cost`. Like every reading of the ledger
    /// it saturates at `Decimal`'s range (about ±7.9e28) instead of panicking: a fill that
    /// would overflow is refused ([`LedgerError::Overflow`]), but a mark moves freely, and a
    /// huge position marked at a huge price must still print a report.
    pub fn unrealized(&self) -> Decimal {
        Decimal::from(self.position)
            .saturating_mul(self.mark)
            .saturating_sub(self.cost)
    }

    /// Realized + unrealized − fees (saturating, see [`InstrumentPnl::unrealized`]).
    pub fn net(&self) -> Decimal {
        self.realized
            .saturating_add(self.unrealized())
            .saturating_sub(self.fees)
    }

    /// `|position| × mark` (saturating, see [`InstrumentPnl::unrealized`]).
    pub fn exposure(&self) -> Decimal {
        Decimal::from(self.position).saturating_mul(self.mark).abs()
    }

    fn apply(&mut self, side: Side, price: Decimal, qty: u32, fee: Decimal) -> Option<()> {
        let q = i64::from(qty);
        let signed = match side {
            Side::Bid => q,
            Side::Ask => -q,
        };
        let flow = price.checked_mul(Decimal::from(signed))?;
        self.cash = self.cash.checked_sub(flow)?;
        self.fees = self.fees.checked_add(fee)?;
        match side {
            Side::Bid => self.bought += u64::from(qty),
            Side::Ask => self.sold += u64::from(qty),
        }
        self.fills += 1;
        self.mark = price;
        let pos = self.position;
        if pos == 0 || (pos > 0) == (signed > 0) {
            // Opens or adds.
            self.cost = self.cost.checked_add(flow)?;
            self.position = pos.checked_add(signed)?;
            return Some(());
        }
        // Reduces, closes or flips.
        let closed = signed.unsigned_abs().min(pos.unsigned_abs());
        let closed_signed = if signed > 0 {
            closed as i64
        } else {
            -(closed as i64)
        };
        let removed = if closed == pos.unsigned_abs() {
            self.cost
        } else {
            (self.cost.checked_mul(Decimal::from(closed))? / Decimal::from(pos.unsigned_abs()))
                .round_dp_with_strategy(COST_DP, RoundingStrategy::MidpointNearestEven)
        };
        let proceeds = -(price.checked_mul(Decimal::from(closed_signed))?);
        self.realized = self.realized.checked_add(proceeds.checked_sub(removed)?)?;
        self.cost = self.cost.checked_sub(removed)?;
        self.position = pos.checked_add(closed_signed)?;
        let rest = signed - closed_signed;
        if rest != 0 {
            self.cost = self
                .cost
                .checked_add(price.checked_mul(Decimal::from(rest))?)?;
            self.position = self.position.checked_add(rest)?;
        }
        Some(())
    }
}

/// Totals across instruments.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PnlTotals {
    /// Realized P&L before fees.
    pub realized: Decimal,
    /// Unrealized P&L at the marks.
    pub unrealized: Decimal,
    /// Fees (negative: net rebates).
    pub fees: Decimal,
    /// Realized + unrealized − fees.
    pub net: Decimal,
    /// Cash flow of all fills (fees not included).
    pub cash: Decimal,
    /// Sum of `|position| × mark`.
    pub gross_exposure: Decimal,
    /// Number of fills.
    pub fills: u64,
}

/// What one account traded in one trading day ([`Ledger::days`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct DayTrades {
    /// Fills booked.
    pub fills: u64,
    /// Shares bought.
    pub bought: u64,
    /// Shares sold.
    pub sold: u64,
    /// Fees of those fills in price units (1/10,000 of the currency unit; negative: rebates).
    pub fee_units: i128,
}

/// Positions and P&L of one account (a strategy, or a lane). See the [module docs](self).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Ledger {
    instruments: BTreeMap<InstrumentId, InstrumentPnl>,
    equity: EquityCurve,
    peak: Option<Decimal>,
    max_drawdown: Decimal,
    moved: Moved,
    /// What each trading day before this one traded ([`Ledger::start_day`]).
    past_days: Vec<DayTrades>,
    /// What this trading day traded so far.
    today: DayTrades,
}

/// Whether equity may have moved since the last sample (a fill, or a mark that changed): when
/// it has not, a sample repeats the last one's equity instead of recomputing it in `Decimal`
/// (most seconds, most books' mids do not move). A cache hint: it never makes two ledgers
/// unequal.
#[derive(Clone, Copy, Debug, Default)]
struct Moved(bool);

impl PartialEq for Moved {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Moved {}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty ledger whose equity curve holds `runs` runs of equal samples (one per change
    /// of equity, see [`EquityCurve`]) before it reallocates, with the curve's memory already
    /// faulted in.
    ///
    /// A growing curve doubles its `Vec`: doubling a curve of tens of thousands of entries
    /// copies a megabyte and faults in fresh pages, and even a reserved but untouched curve
    /// takes a page fault every ~85 entries. On the lane thread that samples it, each of these
    /// was a 20 µs – 2 ms stall in the latency runs (`BENCHMARKS.md`, "Stalls inside the
    /// lane"). So the reserve is written once here, at start-up, and costs its size in resident
    /// memory (48 bytes per run).
    pub fn with_equity_capacity(runs: usize) -> Self {
        Self {
            equity: EquityCurve::with_resident_capacity(runs),
            ..Self::default()
        }
    }

    /// Books a fill.
    pub fn apply_fill(&mut self, fill: &Fill) -> Result<(), LedgerError> {
        if fill.qty.0 == 0 {
            return Err(LedgerError::ZeroQuantity(fill.id));
        }
        let e = self.instruments.entry(fill.instrument).or_default();
        let mut next = *e;
        next.apply(
            fill.side,
            fill.price.to_decimal(),
            fill.qty.0,
            Price(fill.fee).to_decimal(),
        )
        .ok_or(LedgerError::Overflow(fill.instrument.0))?;
        *e = next;
        self.moved = Moved(true);
        let t = &mut self.today;
        t.fills += 1;
        match fill.side {
            Side::Bid => t.bought += u64::from(fill.qty.0),
            Side::Ask => t.sold += u64::from(fill.qty.0),
        }
        t.fee_units += i128::from(fill.fee);
        Ok(())
    }

    /// A new trading day: what the day before traded is kept ([`Ledger::days`]) and the new
    /// day's counts start from zero. Positions, cash and P&L carry over.
    pub fn start_day(&mut self) {
        self.past_days.push(std::mem::take(&mut self.today));
    }

    /// What each trading day traded, the first first, this one last (one entry per
    /// [`Ledger::start_day`], and one more).
    pub fn days(&self) -> impl Iterator<Item = DayTrades> + '_ {
        self.past_days
            .iter()
            .copied()
            .chain(std::iter::once(self.today))
    }

    /// Sets the mark of `instrument` (if it was traded).
    pub fn mark(&mut self, instrument: InstrumentId, price: Price) {
        if let Some(p) = self.instruments.get_mut(&instrument) {
            p.mark = price.to_decimal();
            self.moved = Moved(true);
        }
    }

    /// Marks every traded instrument to its book's mid, exact (half a price unit when the
    /// bid and ask are an odd number of units apart: `OrderBook::mid` rounds that down, which
    /// showed longs a loss and shorts a profit that were not there); instruments without a
    /// two-sided book keep their mark.
    pub fn mark_to_market(&mut self, market: &Market) {
        for (&inst, p) in &mut self.instruments {
            let Some(book) = market.book(inst) else {
                continue;
            };
            if let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) {
                let mark = (bid.price.to_decimal() + ask.price.to_decimal()) / Decimal::TWO;
                if mark != p.mark {
                    p.mark = mark;
                    self.moved = Moved(true);
                }
            }
        }
    }

    /// One instrument.
    pub fn instrument(&self, instrument: InstrumentId) -> Option<&InstrumentPnl> {
        self.instruments.get(&instrument)
    }

    /// Exchanges the books kept for instruments `a` and `b` (either may have none): when a new
    /// trading day gives a symbol held overnight another stock locate.
    pub fn swap_instruments(&mut self, a: InstrumentId, b: InstrumentId) {
        if a == b {
            return;
        }
        let (pa, pb) = (self.instruments.remove(&a), self.instruments.remove(&b));
        if let Some(p) = pa {
            self.instruments.insert(b, p);
        }
        if let Some(p) = pb {
            self.instruments.insert(a, p);
        }
    }

    /// Every traded instrument, by id.
    pub fn iter(&self) -> impl Iterator<Item = (InstrumentId, &InstrumentPnl)> + '_ {
        self.instruments.iter().map(|(&i, p)| (i, p))
    }

    /// Totals across instruments.
    pub fn totals(&self) -> PnlTotals {
        let mut t = PnlTotals::default();
        // Saturating, like every reading (see `InstrumentPnl::unrealized`).
        for p in self.instruments.values() {
            t.realized = t.realized.saturating_add(p.realized);
            t.unrealized = t.unrealized.saturating_add(p.unrealized());
            t.fees = t.fees.saturating_add(p.fees);
            t.cash = t.cash.saturating_add(p.cash);
            t.gross_exposure = t.gross_exposure.saturating_add(p.exposure());
            t.fills += p.fills;
        }
        t.net = t
            .realized
            .saturating_add(t.unrealized)
            .saturating_sub(t.fees);
        t
    }

    /// Whether any fill has been booked.
    pub fn has_fills(&self) -> bool {
        self.instruments.values().any(|p| p.fills > 0)
    }

    /// Net P&L at the current marks: realized + unrealized − fees, summed over instruments
    /// (the `net` of [`Ledger::totals`] without the other totals' arithmetic).
    pub fn net(&self) -> Decimal {
        self.instruments
            .values()
            .fold(Decimal::ZERO, |acc, p| acc.saturating_add(p.net()))
    }

    /// Samples equity (net P&L at the current marks) at event time `ts`.
    pub fn sample_equity(&mut self, ts: Timestamp) -> EquityPoint {
        if self.equity.last().is_some_and(|last| last.ts == ts) {
            // A second sample at one instant (the session closing on a whole second, after
            // that second's sample, with the close's fills in between): it replaces the first,
            // so that the curve has one point per instant; the peak and the maximum drawdown
            // are those of the samples before it.
            self.equity.pop();
            let extremes = self.equity.extremes();
            self.peak = extremes.map(|(e, _)| e.max(Decimal::ZERO));
            self.max_drawdown = extremes.map_or(Decimal::ZERO, |(_, d)| d);
            self.moved = Moved(true);
        }
        if let (Moved(false), Some(last)) = (self.moved, self.equity.last()) {
            // Nothing moved: the same equity, peak and drawdown as the last sample.
            let point = EquityPoint { ts, ..last };
            self.equity.push(point);
            return point;
        }
        self.moved = Moved(false);
        let equity = self.net();
        // The account starts flat: equity 0 is the first peak, so a loss made before the first
        // sample is a drawdown too.
        let peak = self.peak.unwrap_or(Decimal::ZERO).max(equity);
        self.peak = Some(peak);
        let drawdown = peak.saturating_sub(equity);
        self.max_drawdown = self.max_drawdown.max(drawdown);
        let point = EquityPoint {
            ts,
            equity,
            drawdown,
        };
        self.equity.push(point);
        point
    }

    /// Samples equity at `count` times `first`, `first + step`, … with nothing booked or
    /// marked in between: the same curve, peak and drawdown as that many calls of
    /// [`Ledger::sample_equity`], in constant time (a quiet stretch of event time is one run
    /// of the curve).
    pub fn sample_equity_every(&mut self, first: Timestamp, step: u64, count: u64) {
        if count == 0 {
            return;
        }
        let point = self.sample_equity(first);
        if let Some(ts) = first.0.checked_add(step) {
            self.equity.push_repeated(
                EquityPoint {
                    ts: Timestamp(ts),
                    ..point
                },
                step,
                count - 1,
            );
        }
    }

    /// The equity curve sampled so far.
    pub fn equity_curve(&self) -> &EquityCurve {
        &self.equity
    }

    /// Largest fall of sampled equity from a previous peak (>= 0).
    pub fn max_drawdown(&self) -> Decimal {
        self.max_drawdown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ticklane_core::Qty;
    use ticklane_strategy::{ClientOrderId, Liquidity};

    fn fill(inst: u32, side: Side, px: i64, qty: u32, fee: i64) -> Fill {
        Fill {
            ts: Timestamp(0),
            id: ClientOrderId::new(0, 1),
            instrument: InstrumentId(inst),
            side,
            price: Price(px),
            qty: Qty(qty),
            leaves: Qty(0),
            liquidity: Liquidity::Taker,
            fee,
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    /// Each trading day's fills, shares and fees are its own; positions carry over; a fill
    /// refused (0 shares) counts nowhere.
    #[test]
    fn each_day_counts_what_it_traded() {
        let mut l = Ledger::new();
        assert_eq!(l.days().collect::<Vec<_>>(), vec![DayTrades::default()]);
        assert!(l.apply_fill(&fill(1, Side::Bid, 10_0000, 100, 30)).is_ok());
        assert!(l.apply_fill(&fill(2, Side::Ask, 20_0000, 40, -5)).is_ok());
        assert!(l.apply_fill(&fill(1, Side::Bid, 10_0000, 0, 7)).is_err());
        l.start_day();
        l.start_day();
        assert!(l.apply_fill(&fill(1, Side::Ask, 11_0000, 60, 12)).is_ok());
        let days: Vec<DayTrades> = l.days().collect();
        assert_eq!(
            days,
            vec![
                DayTrades {
                    fills: 2,
                    bought: 100,
                    sold: 40,
                    fee_units: 25
                },
                DayTrades::default(),
                DayTrades {
                    fills: 1,
                    bought: 0,
                    sold: 60,
                    fee_units: 12
                },
            ]
        );
        assert_eq!(l.instrument(InstrumentId(1)).map(|p| p.position), Some(40));
        assert_eq!(l.totals().fills, 3);
    }

    /// Fills each within range, then a mark that takes `position × mark` past `Decimal`'s
    /// range: every reading saturates (they panicked with "Multiplication overflowed").
    #[test]
    fn readings_saturate_when_a_mark_takes_a_huge_position_past_decimal() {
        let mut l = Ledger::new();
        for _ in 0..25_000 {
            assert!(l.apply_fill(&fill(1, Side::Bid, 1, u32::MAX, 0)).is_ok());
        }
        l.mark(InstrumentId(1), Price(i64::MAX));
        let p = *l.instrument(InstrumentId(1)).unwrap();
        assert_eq!(p.position, 25_000 * i64::from(u32::MAX));
        assert_eq!(p.exposure(), Decimal::MAX);
        assert!(
            p.unrealized() > d("7.9e28") - d("1e15"),
            "{}",
            p.unrealized()
        );
        let t = l.totals();
        assert_eq!(t.gross_exposure, Decimal::MAX);
        assert_eq!(t.net, l.net());
        let point = l.sample_equity(Timestamp(1));
        assert_eq!(point.equity, l.net());
        // Marked back down, the same ledger reads exactly again.
        l.mark(InstrumentId(1), Price(2));
        assert_eq!(l.net(), d("10737418237.5"), "position × 0.0001 gained");
    }

    #[test]
    fn the_mark_to_market_is_the_exact_mid() {
        // Short 1,000,000 at 0.5001 with the book at 0.5001 / 0.5002: the mid is 0.50015, a
        // loss of $50. (The book's mid, rounded down to 0.5001, showed $0; a long would have
        // shown a loss of $50 it did not have.)
        let mut m = Market::new();
        for (oid, side, px) in [(1u64, Side::Bid, 5001i64), (2, Side::Ask, 5002)] {
            let add = ticklane_core::EventBody::OrderAdded {
                order_id: ticklane_core::OrderId(oid),
                side,
                price: Price(px),
                qty: Qty(1_000_000),
                mpid: [0; 4],
            };
            m.apply(&ticklane_core::MarketEvent::new(
                Timestamp(1),
                InstrumentId(1),
                add,
            ));
        }
        let mut l = Ledger::new();
        assert!(l
            .apply_fill(&fill(1, Side::Ask, 5001, 1_000_000, 0))
            .is_ok());
        assert!(l
            .apply_fill(&fill(2, Side::Bid, 5001, 1_000_000, 0))
            .is_ok());
        // Instrument 2 has no book: it keeps its mark.
        l.mark_to_market(&m);
        let u = |i| l.instrument(InstrumentId(i)).map(InstrumentPnl::unrealized);
        assert_eq!(u(1), Some(d("-50")));
        assert_eq!(u(2), Some(d("0")));
    }

    #[test]
    fn average_cost_realized_unrealized_and_flip() {
        let mut l = Ledger::new();
        let ok = |r: Result<(), LedgerError>| assert!(r.is_ok());
        ok(l.apply_fill(&fill(1, Side::Bid, 10_0000, 100, 30)));
        ok(l.apply_fill(&fill(1, Side::Bid, 11_0000, 100, 30)));
        let p = *l
            .instrument(InstrumentId(1))
            .unwrap_or(&InstrumentPnl::default());
        assert_eq!(p.position, 200);
        assert_eq!(p.avg_cost(), Some(d("10.5")));
        // Sell 50 at 12: realized (12 - 10.5) * 50 = 75.
        ok(l.apply_fill(&fill(1, Side::Ask, 12_0000, 50, -20)));
        // Sell 250 at 9: closes 150 at 9 (realized (9 - 10.5) * 150 = -225), opens 100 short.
        ok(l.apply_fill(&fill(1, Side::Ask, 9_0000, 250, 0)));
        let p = *l
            .instrument(InstrumentId(1))
            .unwrap_or(&InstrumentPnl::default());
        assert_eq!(p.position, -100);
        assert_eq!(p.realized, d("-150"));
        assert_eq!(p.avg_cost(), Some(d("9")));
        assert_eq!(p.fees, d("0.004"));
        l.mark(InstrumentId(1), Price(8_5000));
        assert_eq!(l.totals().unrealized, d("50"));
        assert_eq!(l.totals().net, d("-100.004"));
    }

    #[test]
    fn reserved_equity_curve_starts_empty_and_never_moves_within_its_reserve() {
        let mut l = Ledger::with_equity_capacity(1_000);
        assert!(l.equity_curve().is_empty());
        assert!(l.equity.capacity() >= 1_000);
        let start = l.equity.runs_ptr();
        assert!(l.apply_fill(&fill(1, Side::Bid, 10_0000, 100, 0)).is_ok());
        for t in 0..1_000u64 {
            l.mark(InstrumentId(1), Price(10_0000 + (t as i64 % 7) * 1_000));
            l.sample_equity(Timestamp(t));
        }
        assert_eq!(l.equity_curve().len(), 1_000);
        assert_eq!(
            l.equity.runs_ptr(),
            start,
            "the curve reallocated inside its reserve"
        );
        // The same samples as a ledger without a reserve.
        let mut plain = Ledger::new();
        assert!(plain
            .apply_fill(&fill(1, Side::Bid, 10_0000, 100, 0))
            .is_ok());
        for t in 0..1_000u64 {
            plain.mark(InstrumentId(1), Price(10_0000 + (t as i64 % 7) * 1_000));
            plain.sample_equity(Timestamp(t));
        }
        assert_eq!(plain.equity_curve(), l.equity_curve());
        assert_eq!(plain.max_drawdown(), l.max_drawdown());
    }

    #[test]
    fn sampling_a_quiet_stretch_at_once_equals_sampling_it_second_by_second() {
        let run = |at_once: bool| {
            let mut l = Ledger::new();
            assert!(l.apply_fill(&fill(1, Side::Bid, 10_0000, 100, 0)).is_ok());
            for (t, px) in [(1u64, 10_5000), (1_000, 9_5000), (5_000, 9_5000)] {
                l.mark(InstrumentId(1), Price(px));
                // 999 seconds of nothing after each mark.
                if at_once {
                    l.sample_equity_every(Timestamp(t), 1, 999);
                } else {
                    for k in 0..999 {
                        l.sample_equity(Timestamp(t + k));
                    }
                }
            }
            l
        };
        let (fast, slow) = (run(true), run(false));
        assert_eq!(fast.equity_curve().len(), 3 * 999);
        assert_eq!(fast, slow);
        assert_eq!(fast.equity_curve().runs(), 3);
        assert_eq!(fast.max_drawdown(), d("100"));
    }

    #[test]
    fn equity_curve_and_max_drawdown() {
        let mut l = Ledger::new();
        assert!(!l.has_fills());
        assert_eq!(l.net(), Decimal::ZERO);
        assert!(l.apply_fill(&fill(1, Side::Bid, 10_0000, 100, 0)).is_ok());
        assert!(l.has_fills());
        for (t, px) in [
            (1, 10_0000),
            (2, 12_0000),
            (3, 9_0000),
            (4, 11_0000),
            (5, 8_0000),
        ] {
            l.mark(InstrumentId(1), Price(px));
            l.sample_equity(Timestamp(t));
        }
        // Peak 200 at t=2, trough -200 at t=5.
        assert_eq!(l.max_drawdown(), d("400"));
        assert_eq!(l.equity_curve().len(), 5);
        assert_eq!(l.equity_curve().last().map(|p| p.equity), Some(d("-200")));
        // A second sample at t=5 (the close on a whole second, after that second's sample):
        // it replaces the first (two rows at one instant in equity.csv), and the maximum
        // drawdown is that of the curve as it is now.
        l.mark(InstrumentId(1), Price(10_5000));
        l.sample_equity(Timestamp(5));
        assert_eq!(l.equity_curve().len(), 5);
        let last = l.equity_curve().last();
        assert_eq!(
            last.map(|p| (p.ts, p.equity)),
            Some((Timestamp(5), d("50")))
        );
        assert_eq!(
            l.max_drawdown(),
            d("300"),
            "the trough at t=3 (peak 200, -100)"
        );
        let times: Vec<u64> = l.equity_curve().iter().map(|p| p.ts.0).collect();
        assert_eq!(times, [1, 2, 3, 4, 5]);
        assert!(matches!(
            l.apply_fill(&fill(1, Side::Bid, 1, 0, 0)),
            Err(LedgerError::ZeroQuantity(_))
        ));
    }

    #[test]
    fn a_loss_before_the_first_sample_is_a_drawdown() {
        let mut l = Ledger::new();
        assert!(l.apply_fill(&fill(1, Side::Bid, 10_0000, 100, 0)).is_ok());
        // Down $100 at the first sample, then back up $50: the fall from the flat start counts.
        l.mark(InstrumentId(1), Price(9_0000));
        l.sample_equity(Timestamp(1));
        l.mark(InstrumentId(1), Price(9_5000));
        l.sample_equity(Timestamp(2));
        assert_eq!(
            l.equity_curve()
                .iter()
                .next()
                .map(|p| p.drawdown)
                .unwrap_or_default(),
            d("100")
        );
        assert_eq!(l.max_drawdown(), d("100"));
    }

    #[derive(Debug, Clone)]
    enum Step {
        Fill(Fill),
        Mark(u32, i64),
        /// A new bid at this price in the instrument's book, then a mark to market.
        Quote(u32, i64),
        Sample,
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        let step = prop_oneof![
            2 => (1u32..3, any::<bool>(), 1i64..20_000, 1u32..500)
                .prop_map(|(i, b, px, q)| Step::Fill(fill(
                    i,
                    if b { Side::Bid } else { Side::Ask },
                    px,
                    q,
                    1
                ))),
            1 => (1u32..3, 1i64..20_000).prop_map(|(i, px)| Step::Mark(i, px)),
            1 => (1u32..3, 1i64..20_000).prop_map(|(i, px)| Step::Quote(i, px)),
            4 => Just(Step::Sample),
        ];
        prop::collection::vec(step, 1..200)
    }

    proptest! {
        /// Samples that repeat the last equity when nothing moved agree, point by point, with
        /// equity recomputed from scratch, and so do the peak and the drawdowns.
        #[test]
        fn equity_samples_equal_a_full_recomputation(steps in steps()) {
            use ticklane_core::{EventBody, MarketEvent, OrderId};
            let mut l = Ledger::new();
            let mut m = Market::new();
            let (mut peak, mut max_dd) = (Decimal::ZERO, Decimal::ZERO);
            let mut next_order = 1u64;
            for (t, step) in steps.iter().enumerate() {
                match step {
                    Step::Fill(f) => prop_assert!(l.apply_fill(f).is_ok()),
                    Step::Mark(i, px) => l.mark(InstrumentId(*i), Price(*px)),
                    Step::Quote(i, px) => {
                        // An ask well above every bid, then a bid: the mid moves with it.
                        for (side, price) in [(Side::Ask, 30_000), (Side::Bid, *px)] {
                            let add = EventBody::OrderAdded {
                                order_id: OrderId(next_order),
                                side,
                                price: Price(price),
                                qty: ticklane_core::Qty(100),
                                mpid: [0; 4],
                            };
                            next_order += 1;
                            m.apply(&MarketEvent::new(Timestamp(t as u64), InstrumentId(*i), add));
                        }
                        l.mark_to_market(&m);
                    }
                    Step::Sample => {
                        let p = l.sample_equity(Timestamp(t as u64));
                        let equity = l.net();
                        peak = peak.max(equity);
                        max_dd = max_dd.max(peak - equity);
                        prop_assert_eq!(p.equity, equity);
                        prop_assert_eq!(p.drawdown, peak - equity);
                        prop_assert_eq!(l.max_drawdown(), max_dd);
                    }
                }
            }
        }
    }

    fn fills_strategy() -> impl Strategy<Value = Vec<Fill>> {
        prop::collection::vec(
            (
                1u32..5,
                any::<bool>(),
                1i64..2_000_000,
                1u32..5_000,
                -500i64..500,
            ),
            1..120,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(i, buy, px, q, fee)| {
                    fill(i, if buy { Side::Bid } else { Side::Ask }, px, q, fee)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn positions_and_cash_reconcile_and_totals_ignore_instrument_order(
            fills in fills_strategy(),
            marks in prop::collection::vec(1i64..2_000_000, 4),
            perm_seed in any::<u64>(),
        ) {
            let mut l = Ledger::new();
            for f in &fills {
                prop_assert!(l.apply_fill(f).is_ok());
            }
            for (k, m) in marks.iter().enumerate() {
                l.mark(InstrumentId(k as u32 + 1), Price(*m));
            }
            // The equity sampler's shortcuts agree with the full totals.
            prop_assert_eq!(l.net(), l.totals().net);
            prop_assert!(l.has_fills());
            // Reconcile each instrument with the raw fills, in exact integers.
            for (inst, p) in l.iter() {
                let mine: Vec<&Fill> = fills.iter().filter(|f| f.instrument == inst).collect();
                let pos: i64 = mine.iter().map(|f| match f.side {
                    Side::Bid => i64::from(f.qty.0),
                    Side::Ask => -i64::from(f.qty.0),
                }).sum();
                let cash: i128 = mine.iter().map(|f| {
                    let n = i128::from(f.price.0) * i128::from(f.qty.0);
                    match f.side { Side::Bid => -n, Side::Ask => n }
                }).sum();
                let fees: i128 = mine.iter().map(|f| i128::from(f.fee)).sum();
                prop_assert_eq!(p.position, pos);
                prop_assert_eq!(p.cash, Decimal::from_i128_with_scale(cash, 4));
                prop_assert_eq!(p.fees, Decimal::from_i128_with_scale(fees, 4));
                // realized - cost == cash, exactly; hence realized + unrealized == cash + pos * mark.
                prop_assert_eq!(p.realized - p.cost, p.cash);
                prop_assert_eq!(p.realized + p.unrealized(), p.cash + Decimal::from(p.position) * p.mark);
                if p.position == 0 {
                    prop_assert_eq!(p.cost, Decimal::ZERO);
                }
            }
            // Any interleaving that keeps each instrument's fills in order gives the same result.
            let mut by_inst: BTreeMap<InstrumentId, Vec<Fill>> = BTreeMap::new();
            for f in &fills {
                by_inst.entry(f.instrument).or_default().push(*f);
            }
            let mut queues: Vec<Vec<Fill>> = by_inst.into_values().rev().collect();
            for q in &mut queues {
                q.reverse();
            }
            let mut rng = crate::latency::SplitMix64(perm_seed);
            let mut l2 = Ledger::new();
            while !queues.is_empty() {
                let k = (rng.next_u64() % queues.len() as u64) as usize;
                if let Some(f) = queues[k].pop() {
                    prop_assert!(l2.apply_fill(&f).is_ok());
                }
                if queues[k].is_empty() {
                    queues.remove(k);
                }
            }
            for (k, m) in marks.iter().enumerate().rev() {
                l2.mark(InstrumentId(k as u32 + 1), Price(*m));
            }
            prop_assert_eq!(l.totals(), l2.totals());
            prop_assert_eq!(&l, &l2);
        }
    }

    /// Brute-force model: average-cost accounting recomputed by hand in `Decimal`
    /// (no rounding of the removed cost; avg = cost / position at 28 digits), compared with
    /// the ledger after every fill.
    #[derive(Default, Clone, Copy)]
    struct Model {
        pos: i64,
        avg: Decimal,
        realized: Decimal,
        cash: Decimal,
        fees: Decimal,
        bought: u64,
        sold: u64,
        fills: u64,
        mark: Decimal,
        closes: u32,
    }

    fn model_fills() -> impl Strategy<Value = Vec<(u32, bool, i64, u32, i64)>> {
        prop::collection::vec(
            (
                1u32..4,
                any::<bool>(),
                prop_oneof![
                    1i64..2_000_000,
                    Just(2_000_000_000i64),
                    1_999_000_000i64..2_000_000_000
                ],
                prop_oneof![
                    1u32..1_000,
                    Just(u32::MAX),
                    (u32::MAX - 1_000)..=u32::MAX,
                    1u32..100_000
                ],
                -10_000i64..10_000,
            ),
            1..80,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn the_ledger_matches_a_brute_force_average_cost_model(fs in model_fills()) {
            let mut l = Ledger::new();
            let mut m: BTreeMap<u32, Model> = BTreeMap::new();
            for &(inst, buy, px, q, per) in &fs {
                let side = if buy { Side::Bid } else { Side::Ask };
                let fee = per * i64::from(q) / 10_000; // fee in price units
                prop_assert!(l.apply_fill(&fill(inst, side, px, q, fee)).is_ok());
                let e = m.entry(inst).or_default();
                let price = Decimal::new(px, 4);
                let signed = if buy { i64::from(q) } else { -i64::from(q) };
                e.cash -= price * Decimal::from(signed);
                e.fees += Decimal::new(fee, 4);
                if buy { e.bought += u64::from(q) } else { e.sold += u64::from(q) }
                e.fills += 1;
                e.mark = price;
                if e.pos == 0 || (e.pos > 0) == (signed > 0) {
                    let newpos = e.pos + signed;
                    e.avg = (e.avg * Decimal::from(e.pos) + price * Decimal::from(signed)) / Decimal::from(newpos);
                    e.pos = newpos;
                } else {
                    let closed = signed.abs().min(e.pos.abs());
                    let dir = if e.pos > 0 { Decimal::ONE } else { -Decimal::ONE };
                    e.realized += dir * Decimal::from(closed) * (price - e.avg);
                    e.closes += 1;
                    let rest = signed.abs() - closed;
                    e.pos += if signed > 0 { closed } else { -closed };
                    if rest > 0 {
                        e.pos = signed.signum() * rest;
                        e.avg = price;
                    } else if e.pos == 0 {
                        e.avg = Decimal::ZERO;
                    }
                }
                let p = *l.instrument(InstrumentId(inst)).unwrap();
                let tol = Decimal::new(1, 6);
                prop_assert_eq!(p.position, e.pos);
                prop_assert_eq!(p.cash, e.cash);
                prop_assert_eq!(p.fees, e.fees);
                prop_assert_eq!((p.bought, p.sold, p.fills), (e.bought, e.sold, e.fills));
                prop_assert_eq!(p.mark, e.mark);
                prop_assert!((p.realized - e.realized).abs() <= tol,
                    "realized {} vs model {}", p.realized, e.realized);
                match p.avg_cost() {
                    None => { prop_assert_eq!(e.pos, 0); prop_assert_eq!(p.cost, Decimal::ZERO); }
                    Some(a) => prop_assert!((a - e.avg).abs() <= Decimal::new(1, 12) + tol / Decimal::from(e.pos.unsigned_abs()),
                        "avg {} vs model {}", a, e.avg),
                }
                prop_assert_eq!(p.realized - p.cost, p.cash, "realized - cost == cash");
                prop_assert_eq!(p.unrealized(), Decimal::from(p.position) * p.mark - p.cost);
            }
            let t = l.totals();
            let sum = |f: fn(&InstrumentPnl) -> Decimal| l.iter().map(|(_, p)| f(p)).sum::<Decimal>();
            prop_assert_eq!(t.realized, sum(|p| p.realized));
            prop_assert_eq!(t.unrealized, sum(|p| p.unrealized()));
            prop_assert_eq!(t.fees, sum(|p| p.fees));
            prop_assert_eq!(t.net, t.realized + t.unrealized - t.fees);
            prop_assert_eq!(t.net, l.net());
            prop_assert_eq!(t.fills, fs.len() as u64);
        }
    }

    #[test]
    fn exact_with_extreme_prices_and_quantities() {
        for n in [1u32, 10, 100, 1_000, 3_000] {
            let mut l = Ledger::new();
            for _ in 0..n {
                assert!(l
                    .apply_fill(&fill(1, Side::Bid, 1_999_999_999, u32::MAX, 0))
                    .is_ok());
            }
            // One buy at another price, so the average cost has a repeating expansion.
            assert!(l
                .apply_fill(&fill(1, Side::Bid, 1_000_000_001, 3, 0))
                .is_ok());
            for q in [7u32, 11, 13, 4_000_000_001] {
                assert!(l
                    .apply_fill(&fill(1, Side::Ask, 1_999_999_997, q, 0))
                    .is_ok());
            }
            let p = *l.instrument(InstrumentId(1)).unwrap();
            println!(
                "n={n} pos={} cost={} realized={} cash={}",
                p.position, p.cost, p.realized, p.cash
            );
            assert_eq!(
                p.realized - p.cost,
                p.cash,
                "n={n}: realized - cost == cash"
            );
            assert_eq!(
                p.realized + p.unrealized(),
                p.cash + Decimal::from(p.position) * p.mark,
                "n={n}"
            );
        }
    }
}
