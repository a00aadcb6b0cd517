//! # `imbalance`: an order-book-imbalance taker
//!
//! A teaching example of a *taker* strategy on the ticklane strategy API. It watches how much
//! quantity rests near the top of each side of the book and, when buyers clearly outnumber
//! sellers (or the reverse), crosses the spread with an immediate-or-cancel order in the
//! direction of the pressure.
//!
//! ## The signal
//!
//! Every time the lane reports a change of a subscribed instrument's best bid or ask
//! ([`Strategy::on_book`]), the strategy samples the book:
//!
//! ```text
//! B = total quantity of the best `levels` bid levels
//! A = total quantity of the best `levels` ask levels
//! x = (B - A) / (B + A)                  in [-1, 1]: +1 only bids, -1 only asks
//! s = s + alpha * (x - s)                exponential moving average, s starts at 0
//! ```
//!
//! `x` is only sampled on a two-sided, uncrossed book (a one-sided or crossed book has no
//! price to trade at and says little about pressure). The average is over *samples* (book-top
//! changes), not over time: a busy book moves `s` faster than a quiet one. `alpha = 1` means no
//! smoothing (`s = x`); a small `alpha` needs many confirming samples.
//!
//! Note that `on_book` fires when the **top** of the book changes; a change at a deeper level
//! alone does not produce a sample (the next top change will see it).
//!
//! ## Orders
//!
//! After each sample, per instrument:
//!
//! * if `s >= threshold` and the position is below `max_position`: **buy** IOC at the best ask
//!   price, `order_qty` shares, capped so that the position cannot exceed `max_position`;
//! * if `s <= -threshold` and the position is above `-max_position`: **sell** IOC at the best
//!   bid price, symmetrically;
//! * never while an order of this strategy in that instrument is still in flight (submitted and
//!   not yet finished: filled, expired, cancelled or rejected);
//! * never within `cooldown_us` microseconds of **event time** after the previous order in that
//!   instrument (the clock is [`Context::now`], so a replay makes the same decisions);
//! * never while the instrument's trading state is known and not trading (see
//!   [`is_trading`]), while the lane's trading is disabled (kill switch), or once the feed lost
//!   messages for good (the book is stale: `OrderBook::is_stale`; risk
//!   would refuse every order);
//! * after orders of one side refused in a row (risk limits, say), no order of that side
//!   before [`REFUSED_BACKOFF_NS`] × 2^(refusals − 1) of event time (the cooldown when longer),
//!   up to 2^10 times that (the other side, which may reduce the position, is not held back): a
//!   refusal that will not go away is not resent every cooldown (it was: 70,768 refused
//!   orders in a 2 M-message session under a tighter risk `max_position`). An order the venue
//!   accepts ends the back-off.
//!
//! An IOC at the touch takes at most the displayed quantity at that price; the unfilled rest
//! expires. The strategy does not chase: the next order waits for the cooldown and a fresh
//! sample.
//!
//! ## Fixed-point arithmetic (why it is deterministic)
//!
//! The signal is a [`Signal`] = [`fixed::types::I32F32`]: a signed 64-bit integer read as
//! `bits / 2^32` (32 integer bits, 32 fraction bits, resolution 2^-32 ≈ 2.3e-10).
//!
//! * `x` is computed **exactly in integers**: `bits = ((B - A) << 32) / (B + A)` in `i128`,
//!   truncated toward zero (so the imbalance of a mirrored book is exactly the negation).
//! * The EMA step `s + alpha * (x - s)` uses `fixed`'s multiplication: the exact 128-bit product
//!   shifted right by 32 bits, i.e. rounded toward −∞ (at most 2^-32 per step).
//! * Everything is integer arithmetic: the same inputs give the same bits on every machine,
//!   compiler and optimisation level (no floating-point rounding modes, no fused multiply-add,
//!   no `libm` differences). Comparisons with the threshold are integer comparisons.
//! * Why not `I16F16`? With a small `alpha` (say 0.001) the step `alpha * (x - s)` falls below
//!   2^-16 long before `s` reaches `x` and the average stalls; 32 fraction bits leave room.
//!   The values stay within [-2, 2], so 32 integer bits are more than enough.
//!
//! `threshold` and `alpha` are written in TOML as floats (`threshold = 0.3`). They are converted
//! **once**, when the strategy is built, to the nearest `I32F32` (ties to even, see
//! [`to_signal`]). TOML parsing is correctly rounded and so is that conversion, so the same
//! text always gives the same bits; no floating-point number is used after that. The exact bits
//! are visible in [`Config`] (e.g. `0.3` → `1288490189 / 2^32`).
//!
//! ## Parameters (`[strategy.params]`)
//!
//! | key            | type  | default | meaning                                                       |
//! |----------------|-------|---------|---------------------------------------------------------------|
//! | `levels`       | int   | 3       | book levels per side summed into `B` and `A` (1..=100)        |
//! | `threshold`    | float | 0.3     | trade when `|s| >= threshold`; in (0, 1)                      |
//! | `alpha`        | float | 0.2     | EMA weight of each new sample; in (0, 1], 1 = no smoothing    |
//! | `order_qty`    | int   | 100     | shares per order (≥ 1), reduced near the position limit       |
//! | `max_position` | int   | 500     | largest absolute net position in shares (≥ 1)                 |
//! | `cooldown_us`  | int   | 1000    | event-time microseconds between two orders per instrument     |
//!
//! Unknown keys are errors (a misspelt key must not silently fall back to a default); an
//! out-of-range value is an error naming its key.
//!
//! ```toml
//! [[strategy]]
//! name = "imb-aapl"
//! kind = "imbalance"
//! symbols = ["AAPL"]
//! [strategy.params]
//! levels = 3
//! threshold = 0.3
//! alpha = 0.2
//! order_qty = 100
//! max_position = 500
//! cooldown_us = 1000
//! ```
//!
//! ## State
//!
//! One small record per instrument (signal, time of the last order, order in flight), kept in
//! a `Vec` sorted by [`InstrumentId`] and found by binary search: deterministic, no hashing, no
//! allocation once every subscribed instrument has been seen.

use fixed::types::I32F32;
use ticklane_strategy::serde::Deserialize;
use ticklane_strategy::{
    ClientOrderId, Context, InstrumentId, OrderBook, OrderUpdate, OrderUpdateKind, ParamError, Qty,
    Side, Strategy, StrategyDescriptor, StrategySetup, TimeInForce, Timestamp, TradingState,
};

/// The fixed-point type of the signal: 32 integer bits, 32 fraction bits (see the crate docs).
pub type Signal = I32F32;

/// The descriptor the `ticklane` binary registers: `kind = "imbalance"`.
pub const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor::new(
    "imbalance",
    "order-book-imbalance taker: IOC at the touch when the smoothed top-N imbalance passes a threshold",
    build,
);

fn build(setup: &StrategySetup<'_>) -> Result<Box<dyn Strategy>, ParamError> {
    let params: Params = setup.params()?;
    let config = params.validate(setup)?;
    Ok(Box::new(Imbalance::new(config)))
}

/// Parameters as written in the `[strategy.params]` table (see the crate docs for each key).
///
/// Integers are read as `i64` so that a negative value reaches [`Params::validate`] and is
/// reported with its key, like any other out-of-range value.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(crate = "ticklane_strategy::serde", deny_unknown_fields, default)]
pub struct Params {
    /// Book levels per side summed into the imbalance.
    pub levels: i64,
    /// Trade when the smoothed imbalance reaches this (in absolute value).
    pub threshold: f64,
    /// EMA weight of each new sample.
    pub alpha: f64,
    /// Shares per order.
    pub order_qty: i64,
    /// Largest absolute net position, in shares.
    pub max_position: i64,
    /// Event-time microseconds between two orders in one instrument.
    pub cooldown_us: i64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            levels: 3,
            threshold: 0.3,
            alpha: 0.2,
            order_qty: 100,
            max_position: 500,
            cooldown_us: 1_000,
        }
    }
}

/// Largest accepted `levels`.
pub const MAX_LEVELS: i64 = 100;

/// `value` if it lies in `lo..=hi`, else an error naming `key`.
fn int_in(
    setup: &StrategySetup<'_>,
    key: &'static str,
    value: i64,
    lo: i64,
    hi: i64,
) -> Result<i64, ParamError> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(setup.invalid(key, format!("must be in {lo}..={hi}, got {value}")))
    }
}

/// Checks that `value` lies in (0, `hi`) (or (0, `hi`] with `hi_inclusive`) and converts it
/// to fixed point, refusing a value that rounds to zero.
fn fraction_in(
    setup: &StrategySetup<'_>,
    key: &'static str,
    value: f64,
    hi: f64,
    hi_inclusive: bool,
) -> Result<Signal, ParamError> {
    // Written so that NaN fails every comparison and is refused.
    let below_hi = if hi_inclusive {
        value <= hi
    } else {
        value < hi
    };
    if !(value > 0.0 && below_hi) {
        let close = if hi_inclusive { ']' } else { ')' };
        return Err(setup.invalid(key, format!("must be in (0, {hi}{close}, got {value}")));
    }
    let fixed = to_signal(value);
    if fixed <= 0 {
        return Err(setup.invalid(
            key,
            format!("{value} is below the fixed-point resolution 2^-32"),
        ));
    }
    // Below `hi` as a float, `hi` in fixed point (0.9999999999 rounds to 1): a threshold of 1
    // can never be reached, and the strategy would never trade.
    if !hi_inclusive && fixed >= to_signal(hi) {
        return Err(setup.invalid(
            key,
            format!("{value} rounds to {hi} in fixed point (resolution 2^-32): must be below it"),
        ));
    }
    Ok(fixed)
}

impl Params {
    /// Checks every value and converts the floats to fixed point, once.
    pub fn validate(&self, setup: &StrategySetup<'_>) -> Result<Config, ParamError> {
        let levels = int_in(setup, "levels", self.levels, 1, MAX_LEVELS)?;
        let threshold = fraction_in(setup, "threshold", self.threshold, 1.0, false)?;
        let alpha = fraction_in(setup, "alpha", self.alpha, 1.0, true)?;
        let order_qty = int_in(setup, "order_qty", self.order_qty, 1, u32::MAX.into())?;
        let max_position = int_in(setup, "max_position", self.max_position, 1, u32::MAX.into())?;
        let cooldown_us = int_in(setup, "cooldown_us", self.cooldown_us, 0, i64::MAX)?;
        let Some(cooldown_ns) = (cooldown_us as u64).checked_mul(1_000) else {
            return Err(setup.invalid(
                "cooldown_us",
                format!("{cooldown_us} µs does not fit in u64 nanoseconds"),
            ));
        };
        Ok(Config {
            levels: levels as usize,
            threshold,
            alpha,
            order_qty: order_qty as u32,
            max_position,
            cooldown_ns,
        })
    }
}

/// Converts a validated parameter in [0, 1] to the nearest [`Signal`] (ties to even).
///
/// Called only at load time, on values already checked to be finite and in range. Both the
/// TOML float parse and this conversion are correctly rounded, so the result depends only on
/// the text of the configuration.
pub fn to_signal(x: f64) -> Signal {
    Signal::saturating_from_num(x)
}

/// Validated parameters, in the units the strategy works in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Levels per side.
    pub levels: usize,
    /// Threshold, fixed point, > 0.
    pub threshold: Signal,
    /// EMA weight, fixed point, in (0, 1].
    pub alpha: Signal,
    /// Shares per order, ≥ 1.
    pub order_qty: u32,
    /// Largest absolute net position, ≥ 1.
    pub max_position: i64,
    /// Minimum event time between two orders in one instrument, nanoseconds.
    pub cooldown_ns: u64,
}

impl Default for Config {
    fn default() -> Self {
        // The same values as `Params::default()` (a test checks they agree).
        Self {
            levels: 3,
            threshold: to_signal(0.3),
            alpha: to_signal(0.2),
            order_qty: 100,
            max_position: 500,
            cooldown_ns: 1_000_000,
        }
    }
}

/// The raw imbalance `(B - A) / (B + A)` of the best `levels` levels of each side, exactly,
/// truncated toward zero to 2^-32. `None` if both sides are empty over those levels.
pub fn book_imbalance(book: &OrderBook<'_>, levels: usize) -> Option<Signal> {
    let sum = |side| {
        book.levels(side)
            .take(levels)
            .fold(0u64, |acc, l| acc.saturating_add(l.qty))
    };
    imbalance_of(sum(Side::Bid), sum(Side::Ask))
}

/// `(bid - ask) / (bid + ask)` as a [`Signal`], exact integer arithmetic, truncated toward zero.
/// `None` if both are zero.
pub fn imbalance_of(bid: u64, ask: u64) -> Option<Signal> {
    const SMALL: u64 = 1 << 31;
    if bid < SMALL && ask < SMALL {
        // Every real book: |bid - ask| < 2^31, shifted by 32 bits: < 2^63, so the same
        // quotient in 64-bit arithmetic (one divide instruction, not a 128-bit library call).
        let (b, a) = (bid as i64, ask as i64);
        let total = b + a;
        if total == 0 {
            return None;
        }
        return Some(Signal::from_bits(((b - a) << Signal::FRAC_NBITS) / total));
    }
    let total = i128::from(bid) + i128::from(ask);
    if total == 0 {
        return None;
    }
    // |bid - ask| < 2^64, shifted by 32 bits: < 2^96, fits i128. |quotient| <= 2^32: fits i64.
    let num = (i128::from(bid) - i128::from(ask)) << Signal::FRAC_NBITS;
    Some(Signal::from_bits((num / total) as i64))
}

/// One EMA step: `prev + alpha * (sample - prev)`.
///
/// With `prev` and `sample` in [-1, 1] and `alpha` in (0, 1] nothing can overflow and the
/// result stays in [-1, 1]. The product rounds toward −∞ (`fixed`'s multiplication).
pub fn ema_step(prev: Signal, sample: Signal, alpha: Signal) -> Signal {
    prev + alpha * (sample - prev)
}

/// Whether an instrument's trading state allows orders: unknown (no trading-status message
/// seen; some feeds never send one), `Trading`, or `OperationalResume` (the venue lifted its
/// operational halt).
pub fn is_trading(state: Option<TradingState>) -> bool {
    matches!(
        state,
        None | Some(TradingState::Trading) | Some(TradingState::OperationalResume)
    )
}

/// What the strategy keeps per instrument.
#[derive(Clone, Copy, Debug)]
struct InstrumentState {
    instrument: InstrumentId,
    /// Smoothed imbalance.
    signal: Signal,
    /// Event time of the last order sent.
    last_order: Option<Timestamp>,
    /// The order sent and not finished yet.
    in_flight: Option<ClientOrderId>,
    /// Orders refused in a row per side (the back-off after them doubles with each), and
    /// the side of the order in flight.
    refused: [u32; 2],
    in_flight_side: Side,
}

impl InstrumentState {
    fn new(instrument: InstrumentId) -> Self {
        Self {
            instrument,
            signal: Signal::ZERO,
            last_order: None,
            in_flight: None,
            refused: [0; 2],
            in_flight_side: Side::Bid,
        }
    }

    /// Event time to wait after the last order: the cooldown, or after refusals the back-off.
    fn wait_ns(&self, side: Side, cooldown_ns: u64) -> u64 {
        match self.refused[side.index()] {
            0 => cooldown_ns,
            // The documented wait: the back-off, or the cooldown when that is longer.
            n => cooldown_ns.max(REFUSED_BACKOFF_NS.saturating_mul(1 << (n - 1).min(10))),
        }
    }
}

/// The first back-off after a refused order, in event time (it doubles with each refusal in a
/// row, up to 2^10 times; see the crate docs).
pub const REFUSED_BACKOFF_NS: u64 = 1_000_000;

/// The strategy.
#[derive(Debug)]
pub struct Imbalance {
    config: Config,
    /// Per-instrument state, sorted by instrument id.
    states: Vec<InstrumentState>,
}

impl Imbalance {
    /// A strategy with validated parameters.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            states: Vec::with_capacity(8),
        }
    }

    /// Its parameters.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The smoothed imbalance of `instrument`, once sampled.
    pub fn signal(&self, instrument: InstrumentId) -> Option<Signal> {
        self.find(instrument).map(|i| self.states[i].signal)
    }

    fn find(&self, instrument: InstrumentId) -> Option<usize> {
        self.states
            .binary_search_by_key(&instrument, |s| s.instrument)
            .ok()
    }

    fn state_mut(&mut self, instrument: InstrumentId) -> &mut InstrumentState {
        let i = match self
            .states
            .binary_search_by_key(&instrument, |s| s.instrument)
        {
            Ok(i) => i,
            Err(i) => {
                self.states.insert(i, InstrumentState::new(instrument));
                i
            }
        };
        &mut self.states[i]
    }
}

impl Strategy for Imbalance {
    fn on_book(&mut self, instrument: InstrumentId, ctx: &mut Context<'_>) {
        let cfg = self.config;
        let Some(book) = ctx.book(instrument) else {
            return;
        };
        let (Some(best_bid), Some(best_ask)) = (book.best_bid(), book.best_ask()) else {
            return;
        };
        if book.is_crossed() {
            return;
        }
        let Some(sample) = book_imbalance(&book, cfg.levels) else {
            return;
        };

        let now = ctx.now();
        let st = self.state_mut(instrument);
        st.signal = ema_step(st.signal, sample, cfg.alpha);

        if !ctx.trading_enabled() || !is_trading(book.trading_state()) || book.is_stale() {
            return;
        }
        // In flight: the order is still working in the outbox (also covers an outbox cleared
        // by the lane, e.g. after the kill switch, without a final update reaching us).
        if let Some(id) = st.in_flight {
            if ctx.order(id).is_some() {
                return;
            }
            st.in_flight = None;
        }
        let net = ctx.position(instrument).net;
        let (side, price, room) = if st.signal >= cfg.threshold {
            (Side::Bid, best_ask.price, cfg.max_position - net)
        } else if st.signal <= -cfg.threshold {
            (Side::Ask, best_bid.price, cfg.max_position + net)
        } else {
            return;
        };
        // The cooldown after any order; the back-off after refusals of this side only (a buy
        // refused at a position limit does not hold back the sell that would reduce it).
        // A step back in event time (a second day in one file, a splice) is a new stretch of
        // time: the wait ends, as the risk gate's order-rate window does.
        if let Some(last) = st.last_order.filter(|&last| now >= last) {
            if now.0 < last.0.saturating_add(st.wait_ns(side, cfg.cooldown_ns)) {
                return;
            }
        }
        // A best price at or below zero (a LOBSTER book, a price-0 ITCH order): no order the
        // venue would only refuse.
        if price.0 <= 0 {
            return;
        }
        if room <= 0 {
            return;
        }
        // room > 0 and order_qty fits u32, so the minimum does too.
        let qty = i64::from(cfg.order_qty).min(room) as u32;
        let signal = st.signal;
        let id = ctx.limit(instrument, side, price, Qty(qty), TimeInForce::Ioc);
        st.in_flight = Some(id);
        st.in_flight_side = side;
        st.last_order = Some(now);
        ctx.debug(format_args!(
            "imbalance {signal:.4} -> {side:?} {qty} @ {price} IOC (net {net}, order {id})"
        ));
    }

    fn on_order_update(&mut self, update: &OrderUpdate, _ctx: &mut Context<'_>) {
        let Some(i) = self.find(update.instrument) else {
            return;
        };
        let st = &mut self.states[i];
        if st.in_flight != Some(update.id) {
            return;
        }
        match update.kind {
            // An IOC is never modified or cancelled by us: a rejection refuses the order.
            OrderUpdateKind::Rejected(why) => {
                st.in_flight = None;
                // An IOC is never post-only: every refusal may stay (risk, a halt, a stale
                // book) but one for an order the venue no longer has.
                if why != ticklane_strategy::RejectReason::UnknownOrder {
                    let r = &mut st.refused[st.in_flight_side.index()];
                    *r = r.saturating_add(1);
                }
            }
            OrderUpdateKind::Cancelled | OrderUpdateKind::Expired | OrderUpdateKind::Filled => {
                st.in_flight = None;
            }
            OrderUpdateKind::Accepted => st.refused[st.in_flight_side.index()] = 0,
            OrderUpdateKind::Modified { .. } | OrderUpdateKind::AmendRejected(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticklane_strategy::{
        EventBody, Fill, Liquidity, Market, MarketEvent, OrderCommand, OrderId, OrderRequest,
        Outbox, Price, StrategyId, Symbol, TimerQueue,
    };

    const INST: InstrumentId = InstrumentId(7);
    /// 1 ms in ns.
    const MS: u64 = 1_000_000;

    /// A market with one book for `INST`: `bids`/`asks` are `(price, qty)` levels, one order
    /// each.
    fn market(bids: &[(i64, u32)], asks: &[(i64, u32)]) -> Market {
        let mut m = Market::new();
        let mut next = 1;
        for (side, levels) in [(Side::Bid, bids), (Side::Ask, asks)] {
            for &(price, qty) in levels {
                add(&mut m, next, side, price, qty);
                next += 1;
            }
        }
        m
    }

    fn add(m: &mut Market, id: u64, side: Side, price: i64, qty: u32) {
        m.apply(&MarketEvent::new(
            Timestamp(1),
            INST,
            EventBody::OrderAdded {
                order_id: OrderId(id),
                side,
                price: Price(price),
                qty: Qty(qty),
                mpid: [0; 4],
            },
        ));
    }

    /// Test harness: the strategy, its outbox and timers, the way a lane holds them.
    struct Harness {
        s: Imbalance,
        outbox: Outbox,
        timers: TimerQueue,
    }

    impl Harness {
        fn new(config: Config) -> Self {
            Self {
                s: Imbalance::new(config),
                outbox: Outbox::default(),
                timers: TimerQueue::default(),
            }
        }

        /// Calls `on_book` at `now` (ns) and returns the commands it sent.
        fn book(&mut self, m: &Market, now: u64) -> Vec<OrderCommand> {
            self.book_with(m, now, true)
        }

        fn book_with(&mut self, m: &Market, now: u64, trading: bool) -> Vec<OrderCommand> {
            let mut ctx = Context::new(
                Timestamp(now),
                StrategyId(0),
                "imb",
                m,
                &mut self.outbox,
                &mut self.timers,
                trading,
            );
            self.s.on_book(INST, &mut ctx);
            let mut out = Vec::new();
            self.outbox.drain_pending_into(&mut out);
            out
        }

        /// Delivers an order update the way the lane does (outbox first, then the strategy).
        fn update(&mut self, m: &Market, now: u64, id: ClientOrderId, kind: OrderUpdateKind) {
            let u = OrderUpdate {
                ts: Timestamp(now),
                id,
                instrument: INST,
                kind,
            };
            self.outbox.apply_update(&u);
            let mut ctx = Context::new(
                Timestamp(now),
                StrategyId(0),
                "imb",
                m,
                &mut self.outbox,
                &mut self.timers,
                true,
            );
            self.s.on_order_update(&u, &mut ctx);
        }

        /// Sets the position by a fill of an order that is not ours to track.
        fn position(&mut self, side: Side, qty: u32) {
            self.outbox.apply_fill(&Fill {
                ts: Timestamp(0),
                id: ClientOrderId::new(9, 9),
                instrument: INST,
                side,
                price: Price(10_0000),
                qty: Qty(qty),
                leaves: Qty(0),
                liquidity: Liquidity::Taker,
                fee: 0,
            });
        }
    }

    fn submit(n: u64, side: Side, price: i64, qty: u32) -> OrderCommand {
        OrderCommand::Submit {
            id: ClientOrderId::new(0, n),
            request: OrderRequest {
                instrument: INST,
                side,
                price: Price(price),
                qty: Qty(qty),
                tif: TimeInForce::Ioc,
            },
        }
    }

    /// threshold 0.3, alpha 1 (no smoothing), one level, 100 shares, max 500, cooldown 1 ms.
    fn cfg() -> Config {
        Config {
            levels: 1,
            alpha: Signal::ONE,
            cooldown_ns: MS,
            ..Config::default()
        }
    }

    /// Bids dominate: bid 300 @ 10.00, ask 100 @ 10.01.
    fn bid_heavy() -> Market {
        market(&[(10_0000, 300)], &[(10_0100, 100)])
    }

    #[test]
    fn imbalance_is_exact_and_symmetric() {
        // (300 - 100) / 400 = 0.5 = 2^31 / 2^32.
        assert_eq!(imbalance_of(300, 100).map(Signal::to_bits), Some(1 << 31));
        assert_eq!(
            imbalance_of(100, 300).map(Signal::to_bits),
            Some(-(1 << 31))
        );
        assert_eq!(imbalance_of(5, 0), Some(Signal::ONE));
        assert_eq!(imbalance_of(0, 0), None);
        // 1/3: 2^32 / 3 = 1431655765.33 -> truncated to 1431655765, and exactly mirrored.
        assert_eq!(imbalance_of(2, 1).map(Signal::to_bits), Some(1_431_655_765));
        assert_eq!(
            imbalance_of(1, 2).map(Signal::to_bits),
            Some(-1_431_655_765)
        );
        // Sums near u64::MAX do not overflow.
        assert_eq!(imbalance_of(u64::MAX, 0), Some(Signal::ONE));
    }

    /// The 64-bit fast path gives the 128-bit formula's quotient on both sides of its bound.
    #[test]
    fn imbalance_fast_path_equals_the_wide_formula() {
        let wide = |bid: u64, ask: u64| {
            let total = i128::from(bid) + i128::from(ask);
            (total != 0).then(|| {
                Signal::from_bits(
                    (((i128::from(bid) - i128::from(ask)) << Signal::FRAC_NBITS) / total) as i64,
                )
            })
        };
        let edges = [
            0u64,
            1,
            2,
            3,
            7,
            100,
            65_535,
            (1 << 31) - 2,
            (1 << 31) - 1,
            1 << 31,
            (1 << 31) + 1,
            u64::from(u32::MAX),
            1 << 40,
            u64::MAX - 1,
            u64::MAX,
        ];
        for &b in &edges {
            for &a in &edges {
                assert_eq!(imbalance_of(b, a), wide(b, a), "bid {b} ask {a}");
            }
        }
        // And a deterministic sweep of the range real books live in (SplitMix64 steps).
        let mut z = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^= x >> 31;
            let (b, a) = (x >> 33, x & ((1 << 32) - 1));
            assert_eq!(imbalance_of(b, a), wide(b, a), "bid {b} ask {a}");
        }
    }

    #[test]
    fn imbalance_sums_the_top_levels() {
        // Bids 300 @ 10.00, 200 @ 9.99, 900 @ 9.98; asks 100 @ 10.01, 600 @ 10.02.
        let m = market(
            &[(10_0000, 300), (9_9900, 200), (9_9800, 900)],
            &[(10_0100, 100), (10_0200, 600)],
        );
        let book = m.book(INST).expect("book");
        // One level: (300 - 100) / 400 = 0.5.
        assert_eq!(book_imbalance(&book, 1), Some(Signal::from_num(0.5)));
        // Two levels: (500 - 700) / 1200 = -1/6; 2^32 / 6 = 715827882.67 -> -715827882.
        assert_eq!(
            book_imbalance(&book, 2).map(Signal::to_bits),
            Some(-715_827_882)
        );
        // Three levels (asks have two): (1400 - 700) / 2100 = 1/3 -> 1431655765.
        assert_eq!(
            book_imbalance(&book, 3).map(Signal::to_bits),
            Some(1_431_655_765)
        );
    }

    #[test]
    fn ema_step_rounds_toward_negative_infinity() {
        let a = Signal::from_num(0.5);
        // 0 + 0.5 * 0.5 = 0.25 exactly.
        assert_eq!(
            ema_step(Signal::ZERO, Signal::from_num(0.5), a),
            Signal::from_num(0.25)
        );
        // 0.5 * (1 ulp) = 0.5 ulp -> floor -> 0; 0.5 * (-1 ulp) -> floor -> -1 ulp.
        let ulp = Signal::DELTA;
        assert_eq!(ema_step(Signal::ZERO, ulp, a), Signal::ZERO);
        assert_eq!(ema_step(Signal::ZERO, -ulp, a), -ulp);
    }

    #[test]
    fn buys_ioc_at_the_ask_when_bids_dominate() {
        let mut h = Harness::new(cfg());
        let m = bid_heavy();
        // x = 0.5 >= 0.3: buy 100 at the best ask 10.01, IOC.
        assert_eq!(
            h.book(&m, 10 * MS),
            vec![submit(0, Side::Bid, 10_0100, 100)]
        );
        assert_eq!(h.s.signal(INST), Some(Signal::from_num(0.5)));
    }

    #[test]
    fn sells_ioc_at_the_bid_when_asks_dominate() {
        let mut h = Harness::new(cfg());
        // Bid 100 @ 10.00, ask 300 @ 10.01: x = -0.5 <= -0.3: sell 100 at 10.00.
        let m = market(&[(10_0000, 100)], &[(10_0100, 300)]);
        assert_eq!(
            h.book(&m, 10 * MS),
            vec![submit(0, Side::Ask, 10_0000, 100)]
        );
    }

    #[test]
    fn below_threshold_does_nothing() {
        let mut h = Harness::new(cfg());
        // Bid 130, ask 70: x = 60 / 200 = 0.3 -> fires (>=). Bid 129, ask 71: 0.29 -> quiet.
        let quiet = market(&[(10_0000, 129)], &[(10_0100, 71)]);
        assert_eq!(h.book(&quiet, 10 * MS), vec![]);
        let edge = market(&[(10_0000, 130)], &[(10_0100, 70)]);
        // 0.3 in I32F32 is 1288490189 / 2^32; 60/200 truncates to 1288490188 < threshold.
        assert_eq!(h.book(&edge, 11 * MS), vec![]);
        assert_eq!(h.s.signal(INST).map(Signal::to_bits), Some(1_288_490_188));
        assert_eq!(h.s.config().threshold.to_bits(), 1_288_490_189);
        // 61/199 = 0.3065: fires.
        let over = market(&[(10_0000, 130)], &[(10_0100, 69)]);
        assert_eq!(
            h.book(&over, 12 * MS),
            vec![submit(0, Side::Bid, 10_0100, 100)]
        );
    }

    #[test]
    fn signal_equal_to_the_threshold_fires() {
        // threshold 0.5 is exactly 2^31 / 2^32, and so is (300 - 100) / 400: >= fires.
        let mut h = Harness::new(Config {
            threshold: Signal::from_num(0.5),
            ..cfg()
        });
        assert_eq!(
            h.book(&bid_heavy(), 10 * MS),
            vec![submit(0, Side::Bid, 10_0100, 100)]
        );
    }

    #[test]
    fn ema_needs_confirming_samples() {
        let mut h = Harness::new(Config {
            alpha: Signal::from_num(0.5),
            ..cfg()
        });
        let m = bid_heavy();
        // s = 0 + 0.5 * (0.5 - 0) = 0.25 < 0.3: nothing.
        assert_eq!(h.book(&m, 10 * MS), vec![]);
        assert_eq!(h.s.signal(INST), Some(Signal::from_num(0.25)));
        // s = 0.25 + 0.5 * (0.5 - 0.25) = 0.375 >= 0.3: buy.
        assert_eq!(
            h.book(&m, 11 * MS),
            vec![submit(0, Side::Bid, 10_0100, 100)]
        );
        assert_eq!(h.s.signal(INST), Some(Signal::from_num(0.375)));
    }

    #[test]
    fn one_order_in_flight_then_cooldown() {
        let mut h = Harness::new(cfg());
        let m = bid_heavy();
        let t0 = 10 * MS;
        assert_eq!(h.book(&m, t0), vec![submit(0, Side::Bid, 10_0100, 100)]);
        let id = ClientOrderId::new(0, 0);
        // Still in flight (not even accepted), cooldown over: nothing.
        assert_eq!(h.book(&m, t0 + 5 * MS), vec![]);
        h.update(&m, t0 + 5 * MS, id, OrderUpdateKind::Accepted);
        assert_eq!(h.book(&m, t0 + 5 * MS), vec![]);
        // Finished at t0 + 0.5 ms in a replay where the next sample comes before the
        // cooldown (t0 + 1 ms) ends: still nothing.
        let mut h = Harness::new(cfg());
        assert_eq!(h.book(&m, t0), vec![submit(0, Side::Bid, 10_0100, 100)]);
        h.update(&m, t0 + MS / 2, id, OrderUpdateKind::Expired);
        assert_eq!(h.book(&m, t0 + MS / 2), vec![]);
        assert_eq!(h.book(&m, t0 + MS - 1), vec![]);
        // Cooldown over exactly at t0 + 1 ms: the next order (counter 1).
        assert_eq!(
            h.book(&m, t0 + MS),
            vec![submit(1, Side::Bid, 10_0100, 100)]
        );
    }

    /// Event time going back (two days in one binary file: ITCH times restart at midnight;
    /// a spliced recording) ends the cooldown: the risk gate's window and the replay's pace
    /// treat a step back as a new stretch of time. The cooldown compared the second day's
    /// `now` with the first day's last order, so the strategy sent nothing until the second
    /// day's event time passed the first day's last order: hours without an order.
    #[test]
    fn a_step_back_in_event_time_does_not_hold_the_cooldown_for_hours() {
        let mut h = Harness::new(cfg());
        let m = bid_heavy();
        let day1 = 7 * 3_600_000 * MS; // 07:00 of the first day
        assert_eq!(h.book(&m, day1), vec![submit(0, Side::Bid, 10_0100, 100)]);
        h.update(&m, day1, ClientOrderId::new(0, 0), OrderUpdateKind::Expired);
        // The second day: 04:00 (three hours "before" the last order, a day after it).
        let day2 = 4 * 3_600_000 * MS;
        assert_eq!(
            h.book(&m, day2),
            vec![submit(1, Side::Bid, 10_0100, 100)],
            "no order for the three hours of the second day before 07:00"
        );
    }

    #[test]
    fn fills_move_the_position_and_respect_the_limit() {
        let mut h = Harness::new(cfg());
        let m = bid_heavy();
        // Long 450 of a max 500: the buy is capped at 50.
        h.position(Side::Bid, 450);
        assert_eq!(h.book(&m, 10 * MS), vec![submit(0, Side::Bid, 10_0100, 50)]);
        let id = ClientOrderId::new(0, 0);
        h.update(&m, 10 * MS, id, OrderUpdateKind::Accepted);
        h.outbox.apply_fill(&Fill {
            ts: Timestamp(10 * MS),
            id,
            instrument: INST,
            side: Side::Bid,
            price: Price(10_0100),
            qty: Qty(50),
            leaves: Qty(0),
            liquidity: Liquidity::Taker,
            fee: 0,
        });
        h.update(&m, 10 * MS, id, OrderUpdateKind::Filled);
        assert_eq!(h.outbox.positions().get(INST).net, 500);
        // At the limit: no more buys, even after the cooldown.
        assert_eq!(h.book(&m, 20 * MS), vec![]);
        // A sell signal may still reduce the position: the full 100.
        let ask_heavy = market(&[(10_0000, 100)], &[(10_0100, 300)]);
        assert_eq!(
            h.book(&ask_heavy, 30 * MS),
            vec![submit(1, Side::Ask, 10_0000, 100)]
        );
    }

    #[test]
    fn short_limit_caps_sells() {
        let mut h = Harness::new(cfg());
        h.position(Side::Ask, 420);
        let ask_heavy = market(&[(10_0000, 100)], &[(10_0100, 300)]);
        // Short 420 of a max 500: sell 80.
        assert_eq!(
            h.book(&ask_heavy, 10 * MS),
            vec![submit(0, Side::Ask, 10_0000, 80)]
        );
    }

    #[test]
    fn halted_one_sided_crossed_or_disabled_sends_nothing() {
        let mut h = Harness::new(cfg());
        // Kill switch engaged: signal still updates, no order.
        assert_eq!(h.book_with(&bid_heavy(), 10 * MS, false), vec![]);
        assert_eq!(h.s.signal(INST), Some(Signal::from_num(0.5)));
        // Halted instrument.
        let mut m = bid_heavy();
        m.apply(&MarketEvent::new(
            Timestamp(2),
            INST,
            EventBody::TradingStatus {
                state: TradingState::Halted,
                reason: *b"    ",
            },
        ));
        assert_eq!(h.book(&m, 11 * MS), vec![]);
        // One-sided book: not sampled, no order.
        let mut h = Harness::new(cfg());
        assert_eq!(h.book(&market(&[(10_0000, 300)], &[]), 10 * MS), vec![]);
        assert_eq!(h.s.signal(INST), None);
        // Crossed book (bid 10.02 >= ask 10.01): not sampled.
        let crossed = market(&[(10_0200, 300)], &[(10_0100, 100)]);
        assert_eq!(h.book(&crossed, 10 * MS), vec![]);
        assert_eq!(h.s.signal(INST), None);
    }

    fn setup_table(toml_text: &str) -> toml::Table {
        toml_text.parse().expect("valid TOML")
    }

    fn build_with(toml_text: &str) -> Result<Config, ParamError> {
        let table = setup_table(toml_text);
        let symbols = [Symbol::new("AAPL").expect("symbol")];
        let setup = StrategySetup {
            name: "imb-aapl",
            symbols: &symbols,
            params: &table,
        };
        // Through the descriptor too, the way the binary builds it.
        DESCRIPTOR.build(&setup)?;
        setup.params::<Params>()?.validate(&setup)
    }

    #[test]
    fn params_parse_once_into_fixed_point() {
        let c =
            build_with("threshold = 0.3\nalpha = 1\nlevels = 5\ncooldown_us = 250").expect("valid");
        // round(0.3 * 2^32) = round(1288490188.8) = 1288490189.
        assert_eq!(c.threshold.to_bits(), 1_288_490_189);
        // An integer 1 is accepted as a float.
        assert_eq!(c.alpha, Signal::ONE);
        assert_eq!(c.levels, 5);
        assert_eq!(c.cooldown_ns, 250_000);
        // Defaults for the rest; alpha 0.2 -> round(858993459.2) = 858993459.
        assert_eq!(
            build_with("").expect("defaults").alpha.to_bits(),
            858_993_459
        );
        assert_eq!(build_with("").expect("defaults"), Config::default());
        assert_eq!(DESCRIPTOR.name, "imbalance");
    }

    #[test]
    fn unknown_key_is_rejected_by_name() {
        let e = build_with("treshold = 0.3").expect_err("misspelt key");
        let msg = e.to_string();
        assert!(msg.contains("treshold"), "{msg}");
        assert!(msg.contains("imb-aapl"), "{msg}");
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        for (text, key) in [
            ("threshold = 1.0", "params.threshold"),
            ("threshold = 0.0", "params.threshold"),
            ("threshold = nan", "params.threshold"),
            ("threshold = 1e-12", "params.threshold"),
            ("alpha = 0.0", "params.alpha"),
            ("alpha = 1.5", "params.alpha"),
            ("levels = 0", "params.levels"),
            ("levels = 101", "params.levels"),
            ("order_qty = 0", "params.order_qty"),
            ("max_position = 0", "params.max_position"),
            ("order_qty = -5", "params.order_qty"),
            ("max_position = 4294967296", "params.max_position"),
            ("cooldown_us = -1", "params.cooldown_us"),
            ("cooldown_us = 9223372036854775807", "params.cooldown_us"),
        ] {
            let e = build_with(text).expect_err(text);
            assert!(
                matches!(e, ParamError::Value { .. }),
                "{text}: {e:?} should be a value error"
            );
            let msg = e.to_string();
            assert!(msg.contains(key), "{text}: {msg}");
        }
        // A wrong type is refused when deserializing, naming the key.
        let e = build_with("levels = \"three\"").expect_err("type");
        assert!(matches!(e, ParamError::Invalid { .. }), "{e:?}");
        assert!(e.to_string().contains("expected i64"), "{e}");
        assert!(e.to_string().contains("params.levels"), "{e}");
    }

    #[test]
    fn a_threshold_that_rounds_to_one_is_refused_by_name() {
        let r = build_with("threshold = 0.9999999999\nalpha = 1\nlevels = 10");
        let cfg = match r {
            Err(e) => {
                assert!(e.to_string().contains("params.threshold"), "{e}");
                return;
            }
            Ok(c) => c,
        };
        // 10 bid levels of u32::MAX, 1 share offered: x = 1 - 2/(B+1) ~ 1 - 4.7e-11, which is
        // above 0.9999999999 in real arithmetic: the documented rule says buy.
        let bids: Vec<(i64, u32)> = (0..10).map(|i| (10_0000 - i * 100, u32::MAX)).collect();
        let m = market(&bids, &[(10_0100, 1)]);
        let mut h = Harness::new(cfg);
        let sent = h.book(&m, 10 * MS);
        assert_eq!(
            sent.len(),
            1,
            "threshold accepted as {} (bits {}), signal {:?}: strategy can never trade",
            cfg.threshold,
            cfg.threshold.to_bits(),
            h.s.signal(INST).map(Signal::to_bits)
        );
    }

    /// After a feed gap the books are stale for good: the risk gate refuses every submit
    /// (`RiskStaleBook`): the strategy sent an IOC every cooldown, for ever. It sends none.
    #[test]
    fn no_orders_on_a_stale_book() {
        use ticklane_strategy::RejectReason;
        let mut h = Harness::new(cfg());
        let mut m = bid_heavy();
        m.apply(&MarketEvent::new(
            Timestamp(2),
            InstrumentId::NONE,
            EventBody::FeedGap {
                first_sequence: 500,
                count: 3,
            },
        ));
        assert!(m.book(INST).is_some_and(|b| b.is_stale()));
        let mut sent = 0;
        for k in 0..100u64 {
            let now = (10 + k) * MS;
            let out = h.book(&m, now);
            for c in &out {
                sent += 1;
                h.update(
                    &m,
                    now,
                    c.id(),
                    OrderUpdateKind::Rejected(RejectReason::RiskStaleBook),
                );
            }
        }
        assert_eq!(sent, 0, "{sent} orders sent on a stale book, each refused");
    }

    /// A lane risk limit tighter than the strategy's own (`[risk] max_position = 200`, the
    /// strategy's 500) refuses every buy once long 200: the strategy re-sent the same refused
    /// IOC every `cooldown_us`, for ever (a 2M-message run: 71,242 submits, 70,768 refused);
    /// it backs off, doubling the wait after each refusal.
    #[test]
    fn a_refusal_that_stays_is_not_resent_every_cooldown() {
        use ticklane_strategy::RejectReason;
        let mut h = Harness::new(cfg());
        let m = bid_heavy();
        let mut sent = 0;
        for k in 0..100u64 {
            let now = (10 + k) * MS;
            for c in h.book(&m, now) {
                sent += 1;
                h.update(
                    &m,
                    now,
                    c.id(),
                    OrderUpdateKind::Rejected(RejectReason::RiskMaxPosition),
                );
            }
        }
        assert!(
            sent <= 10,
            "{sent} identical orders in 100 ms, every one refused by risk"
        );
    }

    /// The crate docs and RELIABILITY say a side refused `n` times in a
    /// row waits `REFUSED_BACKOFF_NS` × 2^(n − 1) of event time, "the cooldown when longer"
    /// (RELIABILITY: "1 ms × 2^(refusals in a row − 1) ... up to 2^10 times"). With a 10 ms
    /// cooldown and 3 refusals that is max(10 ms, 4 ms) = 10 ms; the code doubles the
    /// cooldown itself (10 ms × 4 = 40 ms), so a longer cooldown stretches every back-off.
    #[test]
    fn the_back_off_after_refusals_is_the_documented_wait() {
        use ticklane_strategy::RejectReason;
        let mut h = Harness::new(Config {
            cooldown_ns: 10 * MS,
            ..cfg()
        });
        let m = bid_heavy();
        // Three buys, each refused at once, each sent as soon as allowed.
        let mut t = 10 * MS;
        let mut last = 0;
        let mut refused = 0;
        while refused < 3 && t < 10_000 * MS {
            for c in h.book(&m, t) {
                refused += 1;
                last = t;
                h.update(
                    &m,
                    t,
                    c.id(),
                    OrderUpdateKind::Rejected(RejectReason::RiskMaxPosition),
                );
            }
            t += MS;
        }
        assert_eq!(refused, 3);
        // Documented wait after 3 refusals: max(cooldown 10 ms, 1 ms x 2^2 = 4 ms) = 10 ms.
        let at = last + 10 * MS;
        assert_eq!(
            h.book(&m, at).len(),
            1,
            "no buy {} ms after the third refusal (documented wait: 10 ms)",
            (at - last) / MS
        );
    }

    /// The back-off is per side: buys refused at a position limit do not hold back the sell
    /// that would reduce the position (only the cooldown does).
    #[test]
    fn refused_buys_do_not_hold_back_a_sell() {
        use ticklane_strategy::RejectReason;
        let mut h = Harness::new(cfg());
        let buy = bid_heavy();
        for k in 0..20u64 {
            let now = (10 + k) * MS;
            for c in h.book(&buy, now) {
                h.update(
                    &buy,
                    now,
                    c.id(),
                    OrderUpdateKind::Rejected(RejectReason::RiskMaxPosition),
                );
            }
        }
        // Asks dominate now (alpha 1: the signal is the sample): a sell, one cooldown after
        // the last buy at the latest.
        let sell = market(&[(10_0000, 100)], &[(10_0100, 300)]);
        let sent: Vec<_> = (0..3u64)
            .flat_map(|k| h.book(&sell, (40 + k) * MS))
            .collect();
        assert_eq!(sent.len(), 1, "{sent:?}");
    }
}
