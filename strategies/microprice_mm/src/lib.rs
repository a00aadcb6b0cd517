//! # `microprice_mm`: a market maker around the microprice
//!
//! A teaching example of a *maker* strategy on the ticklane strategy API. It keeps one bid and
//! one ask resting in each subscribed instrument, centerd on the book's microprice and leaning
//! against its own inventory, and moves them as the book and its position change.
//!
//! ## Where the quotes go
//!
//! All arithmetic is in integers (price units of 1/10000, `i128` intermediates); `tick` is
//! `tick_size` price units (default 100 = $0.01).
//!
//! ```text
//! micro  = OrderBook::microprice()     = floor((bid*ask_qty + ask*bid_qty) / (bid_qty + ask_qty))
//! lots   = net_position / lot          (integer division, toward zero: -150/100 = -1)
//! center = micro - skew_ticks_per_lot * lots * tick
//! bid    = floor_to_tick(center - half_spread_ticks * tick)
//! ask    = ceil_to_tick (center + half_spread_ticks * tick)
//! bid    = min(bid, highest tick strictly below best_ask)      post-only clamp
//! ask    = max(ask, lowest tick strictly above best_bid)       post-only clamp
//! ```
//!
//! * The **microprice** leans toward the side with *less* quantity (the price more likely to
//!   trade next), so the quotes follow short-term pressure.
//! * The **skew** lowers both quotes when long (buy less eagerly, sell more eagerly) and raises
//!   them when short, by `skew_ticks_per_lot` ticks per full `lot` of inventory.
//! * **Rounding** is away from the center (bid down, ask up), so the quotes never get tighter
//!   than `half_spread_ticks`; `half_spread_ticks >= 1` keeps bid < ask.
//! * The **clamp** makes the quotes passive: a bid never reaches the best ask and an ask never
//!   reaches the best bid as the strategy sees the book. The clamp moves the bid down and the
//!   ask up only, so bid < ask still holds. Quotes are also sent `PostOnly`: the book can move
//!   while an order travels to the venue, and a quote that would cross on arrival is refused
//!   there (it waits for the next book change or refresh) rather than taking and paying the
//!   taker fee.
//! * A side is **not quoted** when a full `quote_qty` fill would take the net position beyond
//!   `max_position` (no bid when `net + quote_qty > max_position`, no ask when
//!   `net - quote_qty < -max_position`), and a bid is not quoted at a price ≤ 0.
//!
//! ## Order management
//!
//! At most one working order per side and instrument. Quotes are re-evaluated when the top of
//! the book changes (`on_book`), the trading state changes, an order update or fill arrives,
//! and every `refresh_us` of event time while the strategy's instruments are active (a timer,
//! armed at the first book update so that it starts from real event time, re-armed at a firing
//! only if a book change, order update or fill came since the previous one, and armed again by
//! the next of those). A quiet or closed market costs one firing, not one per period: the four
//! hours from the close to the end-of-system event would otherwise fire it 144,000 times, in a
//! burst, when that event arrives.
//!
//! * No order on the side and a price wanted: submit a Day limit order of `quote_qty`.
//! * A working order, no price wanted (limit, book not quotable): cancel it.
//! * A working order whose price is `requote_ticks` ticks or more from the wanted price, or is
//!   no longer passive (a bid at or above the best ask, an ask at or below the best bid):
//!   * accepted by the venue → `modify` to the new price and `quote_qty`;
//!   * submit still in flight → `cancel`; the new order is submitted once the cancel is
//!     confirmed (never two orders on one side).
//! * While a submit-then-cancel, a modify or a cancel of a side is in flight, that side sends
//!   nothing more (no duplicate requests).
//! * A rejected submit, modify or cancel is not retried at once (that could ping-pong with the
//!   venue within one event): the next book change or refresh tries again. After a submit or
//!   modify refused for a reason that may stay (anything but a post-only quote the market moved
//!   onto, or an order already gone), that side sends no new submit or modify for [`REFUSED_BACKOFF_NS`] ×
//!   2^(refusals in a row − 1) of event time, up to 2^10 times that (cancels always go): a
//!   refusal that will not go away (a risk limit tighter than `max_position`) is not resent on
//!   every book change (it was: 13,814 refused submits in a 2 M-message session). An accepted
//!   or modified order ends the back-off.
//!
//! The book is **not quotable** — every quote is cancelled — when a side is empty, when it is
//! crossed or locked (best bid ≥ best ask), when the instrument's trading state is known and
//! not trading (anything but `Trading` or `OperationalResume`; an instrument without any
//! trading-status message is taken as trading, since some feeds never send one), or once the
//! feed has lost messages for good (the book is stale, `OrderBook::is_stale`: its quotes would
//! rest on a book known to be wrong, and risk refuses every new order). While the
//! lane's trading is disabled (kill switch) the strategy sends nothing: the lane cancels.
//!
//! ## Parameters (`[strategy.params]`)
//!
//! | key                  | type | default | meaning                                                   |
//! |----------------------|------|---------|-----------------------------------------------------------|
//! | `tick_size`          | int  | 100     | price grid in price units (1/10000): 100 = $0.01, ≥ 1     |
//! | `half_spread_ticks`  | int  | 1       | distance of each quote from the center, in ticks, ≥ 1     |
//! | `skew_ticks_per_lot` | int  | 1       | ticks the quotes move per `lot` of inventory, ≥ 0         |
//! | `lot`                | int  | 100     | shares per inventory lot for the skew, ≥ 1                |
//! | `quote_qty`          | int  | 100     | shares per quote, ≥ 1                                     |
//! | `max_position`       | int  | 500     | largest absolute net position, ≥ `quote_qty`              |
//! | `requote_ticks`      | int  | 1       | move a resting quote only when off by this many ticks, ≥ 1 |
//! | `refresh_us`         | int  | 100000  | event-time period of the refresh timer (µs), ≥ 1          |
//!
//! Unknown keys are errors; an out-of-range value is an error naming its key.
//!
//! ```toml
//! [[strategy]]
//! name = "mm-aapl"
//! kind = "microprice_mm"
//! symbols = ["AAPL"]
//! [strategy.params]
//! tick_size = 100
//! half_spread_ticks = 1
//! skew_ticks_per_lot = 1
//! lot = 100
//! quote_qty = 100
//! max_position = 500
//! requote_ticks = 1
//! refresh_us = 100000
//! ```
//!
//! ## State
//!
//! Per instrument, the two working quotes (id, price, accepted, request in flight), in a `Vec`
//! sorted by [`InstrumentId`]: deterministic iteration (the refresh walks it in id order), no
//! hashing.

use ticklane_strategy::serde::Deserialize;
use ticklane_strategy::{
    ClientOrderId, Context, EventBody, Fill, InstrumentId, LevelView, MarketEvent, OrderBook,
    OrderUpdate, OrderUpdateKind, ParamError, Price, Qty, Side, Strategy, StrategyDescriptor,
    StrategySetup, TimeInForce, TimerId, Timestamp, TradingState,
};

/// The descriptor the `ticklane` binary registers: `kind = "microprice_mm"`.
pub const DESCRIPTOR: StrategyDescriptor = StrategyDescriptor::new(
    "microprice_mm",
    "market maker: one bid and one ask around the microprice, skewed by inventory, post-only",
    build,
);

/// The id of the periodic refresh timer.
pub const REFRESH_TIMER: TimerId = TimerId(1);

fn build(setup: &StrategySetup<'_>) -> Result<Box<dyn Strategy>, ParamError> {
    let params: Params = setup.params()?;
    let config = params.validate(setup)?;
    Ok(Box::new(MicropriceMm::new(config)))
}

/// Parameters as written in the `[strategy.params]` table (see the crate docs for each key).
///
/// Integers are read as `i64` so that a negative value reaches [`Params::validate`] and is
/// reported with its key.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(crate = "ticklane_strategy::serde", deny_unknown_fields, default)]
pub struct Params {
    /// Price grid, in price units.
    pub tick_size: i64,
    /// Distance of each quote from the center, in ticks.
    pub half_spread_ticks: i64,
    /// Ticks the quotes move per lot of inventory.
    pub skew_ticks_per_lot: i64,
    /// Shares per inventory lot.
    pub lot: i64,
    /// Shares per quote.
    pub quote_qty: i64,
    /// Largest absolute net position.
    pub max_position: i64,
    /// Requote threshold, in ticks.
    pub requote_ticks: i64,
    /// Refresh period, event-time microseconds.
    pub refresh_us: i64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            tick_size: 100,
            half_spread_ticks: 1,
            skew_ticks_per_lot: 1,
            lot: 100,
            quote_qty: 100,
            max_position: 500,
            requote_ticks: 1,
            refresh_us: 100_000,
        }
    }
}

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

/// Bound on the tick-valued parameters: $10,000 worth of ticks at most keeps every product far
/// from overflow and is no real limit.
const MAX_TICKS: i64 = 1_000_000;

impl Params {
    /// Checks every value.
    pub fn validate(&self, setup: &StrategySetup<'_>) -> Result<Config, ParamError> {
        let qty_max = i64::from(u32::MAX);
        let tick = int_in(setup, "tick_size", self.tick_size, 1, 1_000_000)?;
        let half_spread_ticks = int_in(
            setup,
            "half_spread_ticks",
            self.half_spread_ticks,
            1,
            MAX_TICKS,
        )?;
        let skew_ticks_per_lot = int_in(
            setup,
            "skew_ticks_per_lot",
            self.skew_ticks_per_lot,
            0,
            MAX_TICKS,
        )?;
        let lot = int_in(setup, "lot", self.lot, 1, qty_max)?;
        let quote_qty = int_in(setup, "quote_qty", self.quote_qty, 1, qty_max)?;
        let max_position = int_in(setup, "max_position", self.max_position, quote_qty, qty_max)?;
        let requote_ticks = int_in(setup, "requote_ticks", self.requote_ticks, 1, MAX_TICKS)?;
        // 1 µs ..= about 106 days: always fits u64 nanoseconds.
        let refresh_us = int_in(setup, "refresh_us", self.refresh_us, 1, 1 << 43)?;
        Ok(Config {
            tick,
            half_spread_ticks,
            skew_ticks_per_lot,
            lot,
            quote_qty: quote_qty as u32,
            max_position,
            requote_ticks,
            refresh_ns: refresh_us as u64 * 1_000,
        })
    }
}

/// Validated parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Tick, in price units, ≥ 1.
    pub tick: i64,
    /// Half spread, ticks, ≥ 1.
    pub half_spread_ticks: i64,
    /// Skew, ticks per lot, ≥ 0.
    pub skew_ticks_per_lot: i64,
    /// Shares per lot, ≥ 1.
    pub lot: i64,
    /// Shares per quote, ≥ 1.
    pub quote_qty: u32,
    /// Largest absolute net position, ≥ `quote_qty`.
    pub max_position: i64,
    /// Requote threshold, ticks, ≥ 1.
    pub requote_ticks: i64,
    /// Refresh period, ns, ≥ 1000.
    pub refresh_ns: u64,
}

impl Default for Config {
    /// The same values as [`Params::default`] (a test checks they agree).
    fn default() -> Self {
        Self {
            tick: 100,
            half_spread_ticks: 1,
            skew_ticks_per_lot: 1,
            lot: 100,
            quote_qty: 100,
            max_position: 500,
            requote_ticks: 1,
            refresh_ns: 100_000_000,
        }
    }
}

/// Largest multiple of `tick` ≤ `x` (`tick > 0`).
///
/// In 64-bit arithmetic whenever the operands and the result fit, as every real price does: a
/// 128-bit division is a library call several times dearer than the divide instruction, and
/// this runs four times per requote. The 128-bit path keeps extreme inputs exact.
fn floor_to(x: i128, tick: i128) -> i128 {
    if let (Ok(x64), Ok(t64)) = (i64::try_from(x), i64::try_from(tick)) {
        if let Some(v) = x64.div_euclid(t64).checked_mul(t64) {
            return i128::from(v);
        }
    }
    x.div_euclid(tick) * tick
}

/// Smallest multiple of `tick` ≥ `x`.
fn ceil_to(x: i128, tick: i128) -> i128 {
    -floor_to(-x, tick)
}

/// The best bid and ask of a book that can be quoted: both sides present, not crossed or
/// locked, trading (see [`is_trading`]).
pub fn quotable(book: &OrderBook<'_>) -> Option<(Price, Price)> {
    let (bid, ask) = (book.best_bid()?, book.best_ask()?);
    (bid.price < ask.price && is_trading(book.trading_state()) && !book.is_stale())
        .then_some((bid.price, ask.price))
}

/// The first back-off of a side after a refused submit or modify, in event time (it doubles
/// with each refusal in a row, up to 2^10 times; see the crate docs).
pub const REFUSED_BACKOFF_NS: u64 = 1_000_000;

/// Whether a refusal may stay until something changes (a risk limit, a halt, a stale book),
/// so that resending at once would only be refused again: anything but a post-only order the
/// market moved onto and an order the venue no longer has.
fn lasting(why: ticklane_strategy::RejectReason) -> bool {
    !matches!(
        why,
        ticklane_strategy::RejectReason::WouldCross | ticklane_strategy::RejectReason::UnknownOrder
    )
}

/// A side's refusals in a row, and the event time before which it sends no submit or modify.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Backoff {
    refused: u32,
    /// When the last refusal came (a step back before it ends the wait).
    since: Timestamp,
    until: Timestamp,
}

impl Backoff {
    fn refused_at(&mut self, now: Timestamp) {
        self.refused = self.refused.saturating_add(1);
        let wait = REFUSED_BACKOFF_NS.saturating_mul(1 << (self.refused - 1).min(10));
        self.since = now;
        self.until = Timestamp(now.0.saturating_add(wait));
    }

    /// Whether the side still waits at `now`: a step back in event time before the refusal
    /// (a second day in one file, a splice) is a new stretch of time and ends the wait.
    fn holds(&self, now: Timestamp) -> bool {
        now >= self.since && now < self.until
    }
}

/// Whether an instrument's trading state allows quoting: unknown (no trading-status message
/// seen; some feeds never send one), `Trading`, or `OperationalResume`.
pub fn is_trading(state: Option<TradingState>) -> bool {
    matches!(
        state,
        None | Some(TradingState::Trading) | Some(TradingState::OperationalResume)
    )
}

/// The wanted bid and ask prices (`None`: do not quote that side) for a quotable book with
/// best prices `best_bid < best_ask`, microprice `micro`, and net position `net` (the formula
/// in the crate docs).
pub fn target_prices(
    cfg: &Config,
    best_bid: Price,
    best_ask: Price,
    micro: Price,
    net: i64,
) -> [Option<Price>; 2] {
    let tick = i128::from(cfg.tick);
    // Whole lots, toward zero: in 64 bits (`lot >= 1`, so it cannot overflow), which gives the
    // same quotient as 128 bits without the library call a 128-bit division costs.
    let lots = i128::from(net / cfg.lot.max(1));
    let center = i128::from(micro.0) - i128::from(cfg.skew_ticks_per_lot) * lots * tick;
    let half = i128::from(cfg.half_spread_ticks) * tick;
    let bid = floor_to(center - half, tick).min(floor_to(i128::from(best_ask.0) - 1, tick));
    let ask = ceil_to(center + half, tick).max(ceil_to(i128::from(best_bid.0) + 1, tick));
    let qty = i64::from(cfg.quote_qty);
    let bid_ok = bid > 0 && net.saturating_add(qty) <= cfg.max_position;
    // A side priced at or below zero (a book of such prices, from a LOBSTER file or a
    // price-0 ITCH order) is not quoted: the venue would refuse it on every refresh.
    let ask_ok = ask > 0 && net.saturating_sub(qty) >= -cfg.max_position;
    let price = |p: i128, ok: bool| {
        if ok {
            i64::try_from(p).ok().map(Price)
        } else {
            None
        }
    };
    let mut out = [None; 2];
    out[Side::Bid.index()] = price(bid, bid_ok);
    out[Side::Ask.index()] = price(ask, ask_ok);
    out
}

/// A request of ours the venue has not answered yet (besides an unacknowledged submit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InFlight {
    None,
    Modify,
    Cancel,
}

/// Our working order on one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Quote {
    id: ClientOrderId,
    /// Price the venue has (or will have, once it accepts the submit).
    price: Price,
    /// Whether the venue accepted the submit.
    accepted: bool,
    in_flight: InFlight,
}

/// Quotes of one instrument, indexed by [`Side::index`].
#[derive(Clone, Copy, Debug)]
struct InstrumentState {
    instrument: InstrumentId,
    quotes: [Option<Quote>; 2],
    /// Per side, the back-off after refused submits or modifies.
    backoff: [Backoff; 2],
    /// What the last requote that changed nothing saw, with the quotes it left: a requote is a
    /// pure function of these, so with the same inputs and quotes it would change nothing
    /// again (the refresh timer asks every 100 ms, mostly about books that did not move).
    settled: Option<(QuoteInputs, [Option<Quote>; 2])>,
}

/// Everything a requote reads besides the configuration and the quotes themselves (an
/// instrument without a book reads as one with empty sides: neither is quoted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct QuoteInputs {
    /// Best bid and ask `(price, quantity)` (the microprice is made of these).
    bid: Option<(Price, u64)>,
    ask: Option<(Price, u64)>,
    state: Option<TradingState>,
    /// Whether the feed lost messages for good (a stale book is not quotable; a feed gap
    /// does not change the top).
    stale: bool,
    net: i64,
}

/// The strategy.
#[derive(Debug)]
pub struct MicropriceMm {
    config: Config,
    /// Per-instrument quotes, sorted by instrument id.
    states: Vec<InstrumentState>,
    /// Whether the refresh timer is armed.
    timer_armed: bool,
    /// Whether a book change, order update or fill came since the timer last fired.
    active: bool,
}

impl MicropriceMm {
    /// A strategy with validated parameters.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            states: Vec::with_capacity(8),
            timer_armed: false,
            active: false,
        }
    }

    /// Its parameters.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Our working order on `side` of `instrument`: `(id, price, accepted)`.
    pub fn quote(
        &self,
        instrument: InstrumentId,
        side: Side,
    ) -> Option<(ClientOrderId, Price, bool)> {
        let st = &self.states[self.find(instrument)?];
        st.quotes[side.index()].map(|q| (q.id, q.price, q.accepted))
    }

    fn find(&self, instrument: InstrumentId) -> Option<usize> {
        self.states
            .binary_search_by_key(&instrument, |s| s.instrument)
            .ok()
    }

    fn find_or_insert(&mut self, instrument: InstrumentId) -> usize {
        match self
            .states
            .binary_search_by_key(&instrument, |s| s.instrument)
        {
            Ok(i) => i,
            Err(i) => {
                self.states.insert(
                    i,
                    InstrumentState {
                        instrument,
                        quotes: [None; 2],
                        backoff: [Backoff::default(); 2],
                        settled: None,
                    },
                );
                i
            }
        }
    }

    /// Something the quotes depend on happened: keep the refresh timer running.
    fn note_activity(&mut self, ctx: &mut Context<'_>) {
        self.active = true;
        self.arm_timer(ctx);
    }

    fn arm_timer(&mut self, ctx: &mut Context<'_>) {
        if !self.timer_armed {
            let deadline = Timestamp(ctx.now().0.saturating_add(self.config.refresh_ns));
            ctx.set_timer(deadline, REFRESH_TIMER);
            self.timer_armed = true;
        }
    }

    /// Brings the quotes of the instrument at index `i` to where they should be.
    fn requote(&mut self, i: usize, ctx: &mut Context<'_>) {
        if !ctx.trading_enabled() {
            return;
        }
        let cfg = self.config;
        let instrument = self.states[i].instrument;
        let book = ctx.book(instrument);
        let level = |l: Option<LevelView>| l.map(|l| (l.price, l.qty));
        let inputs = QuoteInputs {
            bid: level(book.as_ref().and_then(|b| b.best_bid())),
            ask: level(book.as_ref().and_then(|b| b.best_ask())),
            state: book.as_ref().and_then(|b| b.trading_state()),
            stale: book.as_ref().is_some_and(|b| b.is_stale()),
            net: ctx.position(instrument).net,
        };
        let st = &self.states[i];
        if st.settled == Some((inputs, st.quotes)) {
            return;
        }
        let before = st.quotes;
        let best = book.as_ref().and_then(quotable);
        let wanted = match (best, book.and_then(|b| b.microprice())) {
            (Some((bid, ask)), Some(micro)) => target_prices(&cfg, bid, ask, micro, inputs.net),
            _ => [None; 2],
        };
        let now = ctx.now();
        let mut held_off = false;
        for side in [Side::Bid, Side::Ask] {
            let backing_off = self.states[i].backoff[side.index()].holds(now);
            let slot = &mut self.states[i].quotes[side.index()];
            let want = wanted[side.index()];
            match (*slot, want) {
                (None, None) => {}
                // Refused lately: no new submit or modify on this side yet (a cancel goes).
                (None, Some(_)) if backing_off => held_off = true,
                (None, Some(price)) => {
                    let id = ctx.limit(
                        instrument,
                        side,
                        price,
                        Qty(cfg.quote_qty),
                        TimeInForce::PostOnly,
                    );
                    *slot = Some(Quote {
                        id,
                        price,
                        accepted: false,
                        in_flight: InFlight::None,
                    });
                }
                // A cancel or modify is in flight: wait for its answer.
                (Some(q), _) if q.in_flight != InFlight::None => {}
                (Some(mut q), None) => {
                    ctx.cancel(q.id);
                    q.in_flight = InFlight::Cancel;
                    *slot = Some(q);
                }
                (Some(mut q), Some(price)) => {
                    let moved = (price.0 - q.price.0).abs() >= cfg.requote_ticks * cfg.tick;
                    // `best` is Some here: a price is only wanted on a quotable book.
                    let aggressive = best.is_some_and(|(bid, ask)| match side {
                        Side::Bid => q.price >= ask,
                        Side::Ask => q.price <= bid,
                    });
                    if !(moved || aggressive) {
                        continue;
                    }
                    if q.accepted && backing_off {
                        held_off = true;
                        continue;
                    }
                    if q.accepted {
                        ctx.modify(q.id, price, Qty(cfg.quote_qty));
                        q.in_flight = InFlight::Modify;
                    } else {
                        // Not accepted yet: cancel; the new price goes out once it is gone.
                        ctx.cancel(q.id);
                        q.in_flight = InFlight::Cancel;
                    }
                    *slot = Some(q);
                }
            }
        }
        // Every command sent above changed a quote (a new one, or one now in flight). A side
        // held off by its back-off is not settled: the refresh tries it again.
        let st = &mut self.states[i];
        st.settled = (st.quotes == before && !held_off).then_some((inputs, st.quotes));
    }
}

impl Strategy for MicropriceMm {
    fn on_event(&mut self, event: &MarketEvent, ctx: &mut Context<'_>) {
        match event.body {
            // A halt does not change the top of the book: react to the state itself.
            EventBody::TradingStatus { .. } => {
                if let Some(i) = self.find(event.instrument) {
                    self.requote(i, ctx);
                }
            }
            // Messages lost for good (market-wide): every book is stale, cancel every quote.
            EventBody::FeedGap { .. } => {
                for i in 0..self.states.len() {
                    self.requote(i, ctx);
                }
            }
            _ => {}
        }
    }

    fn on_book(&mut self, instrument: InstrumentId, ctx: &mut Context<'_>) {
        self.note_activity(ctx);
        let i = self.find_or_insert(instrument);
        self.requote(i, ctx);
    }

    fn on_order_update(&mut self, update: &OrderUpdate, ctx: &mut Context<'_>) {
        // A venue that no longer knows the order (a cancel or modify racing its fill) answers
        // without an instrument: the quote is then found by its id, so that its in-flight
        // amendment is cleared and the side quotes again.
        let Some(i) = self.find(update.instrument).or_else(|| {
            self.states.iter().position(|st| {
                st.quotes
                    .iter()
                    .any(|q| q.is_some_and(|q| q.id == update.id))
            })
        }) else {
            return;
        };
        self.note_activity(ctx);
        // Whether the book can be quoted now: if not, an order a refusal leaves resting is
        // cancelled at once (the requote sends nothing but cancels there).
        let quotable_now = ctx
            .book(self.states[i].instrument)
            .as_ref()
            .is_some_and(|b| quotable(b).is_some());
        let st = &mut self.states[i];
        let Some(side) = st
            .quotes
            .iter()
            .position(|q| q.is_some_and(|q| q.id == update.id))
        else {
            return;
        };
        let slot = &mut st.quotes[side];
        let Some(mut q) = *slot else {
            return;
        };
        // Whether the venue refused a submit or a modify of this side (a refused cancel is a
        // race with the order's end, not a refusal to back off from).
        // A post-only quote the market moved onto (`WouldCross`) or an order gone in the
        // meantime is not a refusal that stays: the side quotes again at the next change.
        let refused = match update.kind {
            OrderUpdateKind::AmendRejected(why) => lasting(why) && q.in_flight == InFlight::Modify,
            OrderUpdateKind::Rejected(why) => {
                lasting(why) && (!q.accepted || q.in_flight == InFlight::Modify)
            }
            _ => false,
        };
        let requote = match update.kind {
            OrderUpdateKind::Accepted => {
                q.accepted = true;
                *slot = Some(q);
                st.backoff[side] = Backoff::default();
                true
            }
            OrderUpdateKind::Modified { price, .. } => {
                q.price = price;
                q.in_flight = InFlight::None;
                *slot = Some(q);
                st.backoff[side] = Backoff::default();
                true
            }
            OrderUpdateKind::AmendRejected(reason) => {
                // A refused cancel or modify: the order still works at its old price.
                q.in_flight = InFlight::None;
                *slot = Some(q);
                ctx.debug(format_args!("order {} amend rejected: {reason}", update.id));
                // Not a retry: on a book no longer quotable (stale, halted, crossed) the
                // requote only cancels the order still resting at its old price.
                !quotable_now
            }
            OrderUpdateKind::Rejected(reason) => {
                let resting = q.accepted;
                if q.accepted {
                    // A refused cancel or modify: the order still works at its old price.
                    q.in_flight = InFlight::None;
                    *slot = Some(q);
                } else {
                    // The submit itself was refused.
                    *slot = None;
                }
                ctx.debug(format_args!("order {} rejected: {reason}", update.id));
                // As for a refused amend: an order still resting on a book no longer
                // quotable is cancelled now (the requote sends nothing else there).
                resting && !quotable_now
            }
            OrderUpdateKind::Cancelled | OrderUpdateKind::Expired | OrderUpdateKind::Filled => {
                *slot = None;
                true
            }
        };
        if refused {
            st.backoff[side].refused_at(ctx.now());
        }
        if requote {
            self.requote(i, ctx);
        }
    }

    fn on_fill(&mut self, fill: &Fill, ctx: &mut Context<'_>) {
        let Some(i) = self.find(fill.instrument) else {
            return;
        };
        self.note_activity(ctx);
        if fill.leaves.0 == 0 {
            // Done: forget it now, so that the requote below does not modify a filled order.
            for slot in &mut self.states[i].quotes {
                if slot.is_some_and(|q| q.id == fill.id) {
                    *slot = None;
                }
            }
        }
        // The position changed: the skew moves the quotes.
        self.requote(i, ctx);
    }

    fn on_timer(&mut self, timer: TimerId, ctx: &mut Context<'_>) {
        if timer != REFRESH_TIMER {
            return;
        }
        self.timer_armed = false;
        for i in 0..self.states.len() {
            self.requote(i, ctx);
        }
        if std::mem::take(&mut self.active) {
            self.arm_timer(ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticklane_strategy::{
        Liquidity, Market, OrderCommand, OrderId, OrderRequest, Outbox, RejectReason, StrategyId,
        Symbol, TimerQueue,
    };

    const INST: InstrumentId = InstrumentId(7);
    const MS: u64 = 1_000_000;

    /// Rounding to the tick takes the 64-bit path where it can and agrees with 128-bit
    /// floor division everywhere, including where the 64-bit product would overflow.
    #[test]
    fn tick_rounding_equals_wide_floor_division() {
        let floor_wide = |x: i128, t: i128| x.div_euclid(t) * t;
        let big = i128::from(i64::MAX);
        let xs = [
            0i128,
            1,
            -1,
            99,
            100,
            101,
            -99,
            -100,
            -101,
            10_0150,
            big,
            big - 1,
            big + 1,
            -big,
            -big - 1,
            -big - 2,
            big * 4,
            -big * 4,
        ];
        let ticks = [1i128, 2, 3, 100, 10_000, big, big + 1];
        for &x in &xs {
            for &t in &ticks {
                assert_eq!(floor_to(x, t), floor_wide(x, t), "floor {x} {t}");
                assert_eq!(ceil_to(x, t), -floor_wide(-x, t), "ceil {x} {t}");
                assert_eq!(floor_to(x, t) % t, 0);
                assert!(floor_to(x, t) <= x && x < floor_to(x, t) + t);
            }
        }
    }

    /// A market with one book for `INST`: `bids`/`asks` are `(price, qty)` levels, one order
    /// each.
    fn market(bids: &[(i64, u32)], asks: &[(i64, u32)]) -> Market {
        let mut m = Market::new();
        let mut next = 1;
        for (side, levels) in [(Side::Bid, bids), (Side::Ask, asks)] {
            for &(price, qty) in levels {
                m.apply(&MarketEvent::new(
                    Timestamp(1),
                    INST,
                    EventBody::OrderAdded {
                        order_id: OrderId(next),
                        side,
                        price: Price(price),
                        qty: Qty(qty),
                        mpid: [0; 4],
                    },
                ));
                next += 1;
            }
        }
        m
    }

    /// Book A: bid 300 @ 10.00, ask 100 @ 10.02.
    /// micro = floor((100000*100 + 100200*300) / 400) = 40060000 / 400 = 100150.
    /// Flat: bid = floor(100050) = 100000, ask = ceil(100250) = 100300.
    fn book_a() -> Market {
        market(&[(10_0000, 300)], &[(10_0200, 100)])
    }

    /// Book C: bid 100 @ 10.00, ask 300 @ 10.02.
    /// micro = floor((100000*300 + 100200*100) / 400) = 40020000 / 400 = 100050.
    /// Flat: bid = floor(99950) = 99900, ask = ceil(100150) = 100200 (one tick below A's).
    fn book_c() -> Market {
        market(&[(10_0000, 100)], &[(10_0200, 300)])
    }

    /// Book D: bid 100 @ 9.99, ask 300 @ 10.01.
    /// micro = floor((99900*300 + 100100*100) / 400) = 39980000 / 400 = 99950.
    /// Flat: bid = floor(99850) = 99800, ask = ceil(100050) = 100100 (two ticks below A's).
    fn book_d() -> Market {
        market(&[(9_9900, 100)], &[(10_0100, 300)])
    }

    fn id(n: u64) -> ClientOrderId {
        ClientOrderId::new(0, n)
    }

    fn submit(n: u64, side: Side, price: i64) -> OrderCommand {
        OrderCommand::Submit {
            id: id(n),
            request: OrderRequest {
                instrument: INST,
                side,
                price: Price(price),
                qty: Qty(100),
                tif: TimeInForce::PostOnly,
            },
        }
    }

    fn modify(n: u64, price: i64) -> OrderCommand {
        OrderCommand::Modify {
            id: id(n),
            price: Price(price),
            qty: Qty(100),
            filled: Qty(0),
        }
    }

    /// A maker fill of our order `n` at `now`.
    fn maker_fill(now: u64, n: u64, side: Side, price: i64, qty: u32, leaves: u32) -> Fill {
        Fill {
            ts: Timestamp(now),
            id: id(n),
            instrument: INST,
            side,
            price: Price(price),
            qty: Qty(qty),
            leaves: Qty(leaves),
            liquidity: Liquidity::Maker,
            fee: 0,
        }
    }

    fn cancel(n: u64) -> OrderCommand {
        OrderCommand::Cancel { id: id(n) }
    }

    /// The strategy, its outbox and timers, the way a lane holds them.
    struct Harness {
        s: MicropriceMm,
        outbox: Outbox,
        timers: TimerQueue,
    }

    impl Harness {
        fn new(config: Config) -> Self {
            Self {
                s: MicropriceMm::new(config),
                outbox: Outbox::default(),
                timers: TimerQueue::default(),
            }
        }

        /// Runs `f` with a context at `now` and returns the commands it sent.
        fn call(
            &mut self,
            m: &Market,
            now: u64,
            f: impl FnOnce(&mut MicropriceMm, &mut Context<'_>),
        ) -> Vec<OrderCommand> {
            let mut ctx = Context::new(
                Timestamp(now),
                StrategyId(0),
                "mm",
                m,
                &mut self.outbox,
                &mut self.timers,
                true,
            );
            f(&mut self.s, &mut ctx);
            let mut out = Vec::new();
            self.outbox.drain_pending_into(&mut out);
            out
        }

        fn book(&mut self, m: &Market, now: u64) -> Vec<OrderCommand> {
            self.call(m, now, |s, ctx| s.on_book(INST, ctx))
        }

        /// An order update, applied to the outbox first as the lane does.
        fn update(
            &mut self,
            m: &Market,
            now: u64,
            n: u64,
            kind: OrderUpdateKind,
        ) -> Vec<OrderCommand> {
            self.update_of(m, now, n, INST, kind)
        }

        /// An update that names `instrument` (a venue that no longer knows the order names
        /// none).
        fn update_of(
            &mut self,
            m: &Market,
            now: u64,
            n: u64,
            instrument: InstrumentId,
            kind: OrderUpdateKind,
        ) -> Vec<OrderCommand> {
            let u = OrderUpdate {
                ts: Timestamp(now),
                id: id(n),
                instrument,
                kind,
            };
            self.outbox.apply_update(&u);
            self.call(m, now, |s, ctx| s.on_order_update(&u, ctx))
        }

        /// A fill, applied to the outbox (position) first as the lane does.
        fn fill(&mut self, m: &Market, f: Fill) -> Vec<OrderCommand> {
            self.outbox.apply_fill(&f);
            self.call(m, f.ts.0, |s, ctx| s.on_fill(&f, ctx))
        }

        /// Starts with a position, through a fill of an order that is not ours to track.
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

        /// Book A quoted and both quotes accepted (orders 0 = bid, 1 = ask).
        fn quoted_on_a(config: Config) -> (Self, Market) {
            let mut h = Self::new(config);
            let a = book_a();
            assert_eq!(
                h.book(&a, MS),
                vec![submit(0, Side::Bid, 10_0000), submit(1, Side::Ask, 10_0300)]
            );
            assert_eq!(h.update(&a, MS, 0, OrderUpdateKind::Accepted), vec![]);
            assert_eq!(h.update(&a, MS, 1, OrderUpdateKind::Accepted), vec![]);
            (h, a)
        }
    }

    #[test]
    fn target_prices_follow_the_formula() {
        let cfg = Config::default();
        let p = |bb, ba, micro, net| target_prices(&cfg, Price(bb), Price(ba), Price(micro), net);
        // Book A, flat.
        assert_eq!(
            p(10_0000, 10_0200, 10_0150, 0),
            [Some(Price(10_0000)), Some(Price(10_0300))]
        );
        // Long 199: lots = 1 (toward zero), center 100050: bid floor(99950)=99900,
        // ask ceil(100150)=100200.
        assert_eq!(
            p(10_0000, 10_0200, 10_0150, 199),
            [Some(Price(9_9900)), Some(Price(10_0200))]
        );
        // Short 150: lots = -1, center 100250: bid 100150 -> floor 100100; ask 100350 -> 100400.
        assert_eq!(
            p(10_0000, 10_0200, 10_0150, -150),
            [Some(Price(10_0100)), Some(Price(10_0400))]
        );
        // Short 99: lots = 0, no skew.
        assert_eq!(
            p(10_0000, 10_0200, 10_0150, -99),
            [Some(Price(10_0000)), Some(Price(10_0300))]
        );
        // Off-grid best ask 10.015 (sub-penny quote): the highest tick strictly below it is
        // 10.01. micro 100140, half 3 ticks, short 500 = 5 lots: center 100640, bid
        // floor(100340) = 100300, clamped to 100100.
        let wide = Config {
            half_spread_ticks: 3,
            max_position: 1000,
            ..cfg
        };
        let q = target_prices(&wide, Price(10_0000), Price(10_0150), Price(10_0140), -500);
        assert_eq!(q[Side::Bid.index()], Some(Price(10_0100)));
        // ask: 100640 + 300 = 100940 -> ceil 101000.
        assert_eq!(q[Side::Ask.index()], Some(Price(10_1000)));
        // A bid at or below zero is not quoted: micro 0.0150, half 2 ticks -> bid -50 -> -100.
        let two = Config {
            half_spread_ticks: 2,
            ..cfg
        };
        assert_eq!(
            target_prices(&two, Price(100), Price(200), Price(150), 0),
            [None, Some(Price(400))]
        );
        // Nor an ask: a book of negative prices (a LOBSTER file can hold one), bid -250 and
        // ask -50, equal sizes: micro -150, the ask would be 0 (refused by any venue).
        assert_eq!(
            target_prices(&cfg, Price(-250), Price(-50), Price(-150), 0),
            [None, None]
        );
    }

    #[test]
    fn quotes_where_the_formula_says_and_arms_the_refresh_timer() {
        let mut h = Harness::new(Config::default());
        let a = book_a();
        assert_eq!(
            h.book(&a, MS),
            vec![submit(0, Side::Bid, 10_0000), submit(1, Side::Ask, 10_0300)]
        );
        // One timer, at 1 ms + 100 ms.
        assert_eq!(h.timers.len(), 1);
        assert_eq!(h.timers.pop_due(Timestamp(101 * MS - 1)), None);
        assert_eq!(
            h.timers.pop_due(Timestamp(101 * MS)),
            Some((Timestamp(101 * MS), StrategyId(0), REFRESH_TIMER))
        );
        assert_eq!(
            h.s.quote(INST, Side::Bid),
            Some((id(0), Price(10_0000), false))
        );
    }

    /// The refresh timer runs while something happens and stops after one quiet period, so a
    /// long quiet stretch (a closed market) costs one firing, not one per period.
    #[test]
    fn refresh_timer_stops_when_nothing_happens_and_restarts_on_activity() {
        let mut h = Harness::new(Config::default());
        let a = book_a();
        h.book(&a, MS);
        // Armed by the book update (active): fires at 101 ms and re-arms for 201 ms.
        let (d1, _, t) = h.timers.pop_due(Timestamp(101 * MS)).expect("first firing");
        assert_eq!(h.call(&a, d1.0, |s, ctx| s.on_timer(t, ctx)), vec![]);
        assert_eq!(h.timers.len(), 1);
        // Nothing happened in between: the 201 ms firing does not re-arm.
        let (d2, _, t) = h
            .timers
            .pop_due(Timestamp(201 * MS))
            .expect("second firing");
        assert_eq!(d2, Timestamp(201 * MS));
        assert_eq!(h.call(&a, d2.0, |s, ctx| s.on_timer(t, ctx)), vec![]);
        assert_eq!(h.timers.len(), 0, "a quiet period stops the timer");
        // Four hours later a book change re-arms it from that event's time.
        let later = 4 * 3_600_000 * MS;
        h.book(&a, later);
        assert_eq!(h.timers.len(), 1);
        assert_eq!(h.timers.pop_due(Timestamp(later + 100 * MS - 1)), None);
        assert!(h.timers.pop_due(Timestamp(later + 100 * MS)).is_some());
        // An order update alone also keeps it alive.
        let (mut h, a) = Harness::quoted_on_a(Config::default());
        let (d, _, t) = h.timers.pop_due(Timestamp(u64::MAX)).expect("armed");
        h.call(&a, d.0, |s, ctx| s.on_timer(t, ctx));
        let (d, _, t) = h.timers.pop_due(Timestamp(u64::MAX)).expect("re-armed");
        h.update(&a, d.0 - 1, 0, OrderUpdateKind::Accepted);
        h.call(&a, d.0, |s, ctx| s.on_timer(t, ctx));
        assert_eq!(h.timers.len(), 1, "the order update kept it running");
    }

    #[test]
    fn skew_moves_quotes_after_a_fill() {
        let (mut h, a) = Harness::quoted_on_a(Config::default());
        // The bid fills completely: long 100, one lot, center 100150 - 100 = 100050.
        // Bid: gone, new one at floor(99950) = 99900 (100 + 100 <= 500).
        // Ask: wanted ceil(100150) = 100200, one tick from 100300 >= requote 1: modify.
        assert_eq!(
            h.fill(&a, maker_fill(2 * MS, 0, Side::Bid, 10_0000, 100, 0)),
            vec![submit(2, Side::Bid, 9_9900), modify(1, 10_0200)]
        );
        assert_eq!(h.outbox.positions().get(INST).net, 100);
        // The venue's Filled for order 0 comes after: nothing to do.
        assert_eq!(h.update(&a, 2 * MS, 0, OrderUpdateKind::Filled), vec![]);
        // Modify confirmed: the quote is where it should be, nothing more.
        assert_eq!(
            h.update(
                &a,
                2 * MS,
                1,
                OrderUpdateKind::Modified {
                    price: Price(10_0200),
                    qty: Qty(100)
                }
            ),
            vec![]
        );
        assert_eq!(
            h.s.quote(INST, Side::Ask),
            Some((id(1), Price(10_0200), true))
        );
    }

    /// A refresh that finds nothing changed sends nothing; one that finds only the position
    /// changed (through an order the strategy does not track, so no callback told it) still
    /// moves both quotes by the skew.
    #[test]
    fn a_position_change_seen_only_by_the_refresh_timer_moves_the_quotes() {
        let (mut h, a) = Harness::quoted_on_a(Config::default());
        let (d, _, t) = h.timers.pop_due(Timestamp(u64::MAX)).expect("armed");
        assert_eq!(h.call(&a, d.0, |s, ctx| s.on_timer(t, ctx)), vec![]);
        // Long one lot: center 100150 - 100 = 100050, bid floor(99900), ask ceil(100200).
        h.position(Side::Bid, 100);
        let (d, _, t) = h.timers.pop_due(Timestamp(u64::MAX)).expect("re-armed");
        assert_eq!(
            h.call(&a, d.0, |s, ctx| s.on_timer(t, ctx)),
            vec![modify(0, 9_9900), modify(1, 10_0200)]
        );
    }

    #[test]
    fn partial_fill_keeps_the_order_and_skews_below_a_lot() {
        let (mut h, a) = Harness::quoted_on_a(Config::default());
        // 40 of the ask fill: short 40, lots = 0: no skew, nothing moves.
        assert_eq!(
            h.fill(&a, maker_fill(2 * MS, 1, Side::Ask, 10_0300, 40, 60)),
            vec![]
        );
        assert_eq!(
            h.s.quote(INST, Side::Ask),
            Some((id(1), Price(10_0300), true))
        );
    }

    #[test]
    fn requote_threshold_is_respected() {
        let (mut h, _) = Harness::quoted_on_a(Config {
            requote_ticks: 2,
            ..Config::default()
        });
        // Book C wants both quotes one tick lower: below the 2-tick threshold.
        assert_eq!(h.book(&book_c(), 2 * MS), vec![]);
        // Book D wants them two ticks lower: modify both.
        let d = book_d();
        assert_eq!(
            h.book(&d, 3 * MS),
            vec![modify(0, 9_9800), modify(1, 10_0100)]
        );
        // Modifies in flight: nothing more.
        assert_eq!(h.book(&d, 4 * MS), vec![]);
        let modified = |p| OrderUpdateKind::Modified {
            price: Price(p),
            qty: Qty(100),
        };
        assert_eq!(h.update(&d, 5 * MS, 0, modified(9_9800)), vec![]);
        assert_eq!(h.update(&d, 5 * MS, 1, modified(10_0100)), vec![]);
        // Back to C: one tick up from D: still within the threshold.
        assert_eq!(h.book(&book_c(), 6 * MS), vec![]);
    }

    #[test]
    fn an_aggressive_resting_quote_moves_even_within_the_threshold() {
        let (mut h, _) = Harness::quoted_on_a(Config {
            requote_ticks: 5,
            ..Config::default()
        });
        // Book E: bid 300 @ 9.97, ask 100 @ 9.99. micro = floor((99700*100 + 99900*300) / 400)
        // = 39940000 / 400 = 99850. Bid wanted floor(99750) = 99700: 3 ticks from 100000, but
        // 100000 >= best ask 99900 would take liquidity: modify. Ask wanted ceil(99950) =
        // 100000: 3 ticks from 100300, still passive: stays.
        let e = market(&[(9_9700, 300)], &[(9_9900, 100)]);
        assert_eq!(h.book(&e, 2 * MS), vec![modify(0, 9_9700)]);
    }

    #[test]
    fn no_duplicate_orders_while_requests_are_in_flight() {
        let mut h = Harness::new(Config::default());
        let a = book_a();
        assert_eq!(
            h.book(&a, MS),
            vec![submit(0, Side::Bid, 10_0000), submit(1, Side::Ask, 10_0300)]
        );
        // Same book again: submits in flight, nothing.
        assert_eq!(h.book(&a, MS), vec![]);
        // Book C moves both wanted prices one tick; not accepted yet: cancel, not modify.
        let c = book_c();
        assert_eq!(h.book(&c, 2 * MS), vec![cancel(0), cancel(1)]);
        // Cancels in flight: nothing, however often the book changes.
        assert_eq!(h.book(&c, 3 * MS), vec![]);
        assert_eq!(h.book(&a, 3 * MS), vec![]);
        // The bid's cancel is confirmed: the new bid goes out (C wants 99900).
        assert_eq!(
            h.update(&c, 4 * MS, 0, OrderUpdateKind::Cancelled),
            vec![submit(2, Side::Bid, 9_9900)]
        );
        // The ask was accepted before its cancel reached the venue: still waiting.
        assert_eq!(h.update(&c, 4 * MS, 1, OrderUpdateKind::Accepted), vec![]);
        assert_eq!(h.book(&c, 4 * MS), vec![]);
        assert_eq!(
            h.update(&c, 5 * MS, 1, OrderUpdateKind::Cancelled),
            vec![submit(3, Side::Ask, 10_0200)]
        );
        // One working order per side in the outbox.
        let ids: Vec<_> = h.outbox.orders().iter().map(|o| o.id).collect();
        assert_eq!(ids, vec![id(2), id(3)]);
    }

    #[test]
    fn post_only_clamp_keeps_quotes_passive() {
        // Short 300 with 2 ticks per lot: center = 100150 + 2*3*100 = 100750.
        // Bid floor(100650) = 100600, clamped below the best ask 100200 -> 100100.
        // Ask ceil(100850) = 100900.
        let cfg = Config {
            skew_ticks_per_lot: 2,
            ..Config::default()
        };
        let mut h = Harness::new(cfg);
        h.position(Side::Ask, 300);
        assert_eq!(
            h.book(&book_a(), MS),
            vec![submit(0, Side::Bid, 10_0100), submit(1, Side::Ask, 10_0900)]
        );
        // Long 300: center = 100150 - 600 = 99550. Bid floor(99450) = 99400.
        // Ask ceil(99650) = 99700, clamped above the best bid 100000 -> 100100.
        let mut h = Harness::new(cfg);
        h.position(Side::Bid, 300);
        assert_eq!(
            h.book(&book_a(), MS),
            vec![submit(0, Side::Bid, 9_9400), submit(1, Side::Ask, 10_0100)]
        );
    }

    #[test]
    fn max_position_stops_the_side_that_would_exceed_it() {
        let mut h = Harness::new(Config::default());
        // Long 450: a 100 bid could reach 550 > 500: no bid. Four lots: center 99750;
        // ask ceil(99850) = 99900, clamped above the best bid 100000 -> 100100.
        h.position(Side::Bid, 450);
        assert_eq!(h.book(&book_a(), MS), vec![submit(0, Side::Ask, 10_0100)]);
        // Short 400: exactly -500 after an ask fill is allowed; a bid too. Four lots short:
        // center 100550, bid floor(100450) = 100400 -> clamp 100100; ask ceil(100650) = 100700.
        let mut h = Harness::new(Config::default());
        h.position(Side::Ask, 400);
        assert_eq!(
            h.book(&book_a(), MS),
            vec![submit(0, Side::Bid, 10_0100), submit(1, Side::Ask, 10_0700)]
        );
    }

    #[test]
    fn crossed_one_sided_or_halted_books_cancel_the_quotes() {
        // Locked book (bid 10.00 = ask 10.00): cancel both, once.
        let (mut h, _) = Harness::quoted_on_a(Config::default());
        let locked = market(&[(10_0000, 300)], &[(10_0000, 100)]);
        assert_eq!(h.book(&locked, 2 * MS), vec![cancel(0), cancel(1)]);
        assert_eq!(h.book(&locked, 3 * MS), vec![]);
        // The venue confirms: nothing is re-submitted while the book stays locked.
        assert_eq!(
            h.update(&locked, 4 * MS, 0, OrderUpdateKind::Cancelled),
            vec![]
        );
        assert_eq!(
            h.update(&locked, 4 * MS, 1, OrderUpdateKind::Cancelled),
            vec![]
        );
        assert!(h.outbox.orders().is_empty());

        // One-sided book.
        let (mut h, _) = Harness::quoted_on_a(Config::default());
        let bids_only = market(&[(10_0000, 300)], &[]);
        assert_eq!(h.book(&bids_only, 2 * MS), vec![cancel(0), cancel(1)]);

        // Halt: the top does not change, the trading-status event cancels.
        let (mut h, mut a) = Harness::quoted_on_a(Config::default());
        let halt = MarketEvent::new(
            Timestamp(2 * MS),
            INST,
            EventBody::TradingStatus {
                state: TradingState::Halted,
                reason: *b"LUDP",
            },
        );
        a.apply(&halt);
        assert_eq!(
            h.call(&a, 2 * MS, |s, ctx| s.on_event(&halt, ctx)),
            vec![cancel(0), cancel(1)]
        );
        let resume = MarketEvent::new(
            Timestamp(3 * MS),
            INST,
            EventBody::TradingStatus {
                state: TradingState::Trading,
                reason: *b"    ",
            },
        );
        a.apply(&resume);
        // Trading again when the cancels are confirmed: each side is re-quoted as soon as
        // its old order is gone.
        assert_eq!(
            h.update(&a, 3 * MS, 0, OrderUpdateKind::Cancelled),
            vec![submit(2, Side::Bid, 10_0000)]
        );
        assert_eq!(
            h.update(&a, 3 * MS, 1, OrderUpdateKind::Cancelled),
            vec![submit(3, Side::Ask, 10_0300)]
        );
    }

    #[test]
    fn rejected_submit_waits_for_the_refresh() {
        let mut h = Harness::new(Config::default());
        let a = book_a();
        assert_eq!(
            h.book(&a, MS),
            vec![submit(0, Side::Bid, 10_0000), submit(1, Side::Ask, 10_0300)]
        );
        // The bid is refused by risk: no immediate retry.
        assert_eq!(
            h.update(
                &a,
                MS,
                0,
                OrderUpdateKind::Rejected(RejectReason::RiskLimit)
            ),
            vec![]
        );
        assert_eq!(h.s.quote(INST, Side::Bid), None);
        // The refresh timer (due at 101 ms) retries, and re-arms for 201 ms.
        let (deadline, _, timer) = h.timers.pop_due(Timestamp(101 * MS)).expect("timer due");
        assert_eq!(
            h.call(&a, deadline.0, |s, ctx| s.on_timer(timer, ctx)),
            vec![submit(2, Side::Bid, 10_0000)]
        );
        assert_eq!(h.timers.len(), 1);
        assert_eq!(h.timers.pop_due(Timestamp(201 * MS - 1)), None);
        assert!(h.timers.pop_due(Timestamp(201 * MS)).is_some());
        // A refused modify leaves the order at its old price, also without a retry.
        let (mut h, _) = Harness::quoted_on_a(Config::default());
        let d = book_d();
        assert_eq!(
            h.book(&d, 2 * MS),
            vec![modify(0, 9_9800), modify(1, 10_0100)]
        );
        assert_eq!(
            h.update(
                &d,
                2 * MS,
                0,
                OrderUpdateKind::Rejected(RejectReason::RiskLimit)
            ),
            vec![]
        );
        assert_eq!(
            h.s.quote(INST, Side::Bid),
            Some((id(0), Price(10_0000), true))
        );
        // The next book change tries again.
        assert_eq!(h.book(&d, 3 * MS), vec![modify(0, 9_9800)]);
    }

    #[test]
    fn an_amend_refusal_without_an_instrument_still_frees_the_quote() {
        // A venue that no longer knows the order answers a modify without naming the
        // instrument: the quote is found by its id, and the next book change modifies again
        // (it used to stay "modify in flight" for the rest of the session).
        let (mut h, _) = Harness::quoted_on_a(Config::default());
        let d = book_d();
        assert_eq!(
            h.book(&d, 2 * MS),
            vec![modify(0, 9_9800), modify(1, 10_0100)]
        );
        assert_eq!(
            h.update_of(
                &d,
                2 * MS,
                0,
                InstrumentId::NONE,
                OrderUpdateKind::AmendRejected(RejectReason::UnknownOrder)
            ),
            vec![]
        );
        assert_eq!(h.book(&d, 3 * MS), vec![modify(0, 9_9800)]);
    }

    #[test]
    fn nothing_is_sent_while_trading_is_disabled() {
        let mut h = Harness::new(Config::default());
        let a = book_a();
        let mut ctx = Context::new(
            Timestamp(MS),
            StrategyId(0),
            "mm",
            &a,
            &mut h.outbox,
            &mut h.timers,
            false,
        );
        h.s.on_book(INST, &mut ctx);
        assert!(h.outbox.pending().is_empty());
    }

    fn build_with(toml_text: &str) -> Result<Config, ParamError> {
        let table: toml::Table = toml_text.parse().expect("valid TOML");
        let symbols = [Symbol::new("AAPL").expect("symbol")];
        let setup = StrategySetup {
            name: "mm-aapl",
            symbols: &symbols,
            params: &table,
        };
        DESCRIPTOR.build(&setup)?;
        setup.params::<Params>()?.validate(&setup)
    }

    #[test]
    fn params_defaults_and_values() {
        assert_eq!(build_with("").expect("defaults"), Config::default());
        let c = build_with("tick_size = 1\nrefresh_us = 250\nmax_position = 100").expect("valid");
        assert_eq!((c.tick, c.refresh_ns, c.max_position), (1, 250_000, 100));
        assert_eq!(DESCRIPTOR.name, "microprice_mm");
    }

    #[test]
    fn unknown_key_is_rejected_by_name() {
        let e = build_with("half_spread = 2").expect_err("misspelt key");
        let msg = e.to_string();
        assert!(msg.contains("half_spread"), "{msg}");
        assert!(msg.contains("mm-aapl"), "{msg}");
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        for (text, key) in [
            ("tick_size = 0", "params.tick_size"),
            ("half_spread_ticks = 0", "params.half_spread_ticks"),
            ("skew_ticks_per_lot = -1", "params.skew_ticks_per_lot"),
            ("lot = 0", "params.lot"),
            ("quote_qty = 0", "params.quote_qty"),
            ("quote_qty = 4294967296", "params.quote_qty"),
            ("max_position = 99", "params.max_position"),
            ("requote_ticks = 0", "params.requote_ticks"),
            ("refresh_us = 0", "params.refresh_us"),
        ] {
            let e = build_with(text).expect_err(text);
            assert!(matches!(e, ParamError::Value { .. }), "{text}: {e:?}");
            let msg = e.to_string();
            assert!(msg.contains(key), "{text}: {msg}");
        }
    }

    fn stale(mut m: Market) -> Market {
        m.apply(&MarketEvent::new(
            Timestamp(2),
            InstrumentId::NONE,
            EventBody::FeedGap {
                first_sequence: 500,
                count: 3,
            },
        ));
        assert!(m.book(INST).is_some_and(|b| b.is_stale()));
        m
    }

    /// After a feed gap every submit and modify is refused (`RiskStaleBook`) for the rest of
    /// the session: the strategy re-sent its quotes on every book change regardless, an
    /// endless stream of refused orders. A stale book is not quotable.
    #[test]
    fn no_order_storm_on_a_stale_book() {
        let mut h = Harness::new(Config::default());
        let books = [stale(book_a()), stale(book_c())];
        let mut sent = 0;
        for k in 0..50u64 {
            let m = &books[(k % 2) as usize];
            let now = (k + 1) * MS;
            for c in h.book(m, now) {
                if let OrderCommand::Submit { id, .. } = c {
                    sent += 1;
                    let n = id.0 & ((1 << 48) - 1);
                    h.update(
                        m,
                        now,
                        n,
                        OrderUpdateKind::Rejected(RejectReason::RiskStaleBook),
                    );
                }
            }
        }
        assert_eq!(sent, 0, "{sent} submits sent on a stale book, each refused");
    }

    /// Resting quotes on a book the feed says is wrong: they were modified (refused) on every
    /// change; they are cancelled, as for a halted or crossed book.
    #[test]
    fn a_stale_book_cancels_resting_quotes() {
        let (mut h, _) = Harness::quoted_on_a(Config::default());
        let d = stale(book_d());
        let out = h.book(&d, 2 * MS);
        assert_eq!(out, vec![cancel(0), cancel(1)]);
    }

    /// A feed gap that leaves the top of the book as it was must still
    /// cancel the resting quotes. The requote memo (`settled`) keys on the top levels, the
    /// trading state and the position, not on staleness: the gap's requote finds the same
    /// inputs as the last one and returns before looking at `quotable`.
    #[test]
    fn a_feed_gap_on_an_unchanged_book_cancels_the_quotes() {
        let (mut h, _) = Harness::quoted_on_a(Config::default());
        let gap = MarketEvent::new(
            Timestamp(2 * MS),
            InstrumentId::NONE,
            EventBody::FeedGap {
                first_sequence: 500,
                count: 3,
            },
        );
        let a = stale(book_a());
        assert_eq!(
            h.call(&a, 2 * MS, |s, ctx| s.on_event(&gap, ctx)),
            vec![cancel(0), cancel(1)],
            "quotes left resting on a book the feed says is wrong"
        );
    }

    /// A modify in flight when the feed loses messages: the gap's requote waits for its answer
    /// (one request in flight per side). The venue refuses the modify (`BookStale`: the new
    /// price would take from the stale book), the order still rests at its old price on a
    /// book the feed says is wrong, and the maker must cancel it now (crate docs: a stale book
    /// is not quotable, every quote is cancelled). It sent nothing until the next book change
    /// or refresh timer.
    #[test]
    fn a_modify_refused_after_a_feed_gap_cancels_the_quote() {
        let (mut h, _) = Harness::quoted_on_a(Config::default());
        let d = book_d();
        assert_eq!(
            h.book(&d, 2 * MS),
            vec![modify(0, 9_9800), modify(1, 10_0100)]
        );
        let gap = MarketEvent::new(
            Timestamp(2 * MS),
            InstrumentId::NONE,
            EventBody::FeedGap {
                first_sequence: 500,
                count: 3,
            },
        );
        let d = stale(book_d());
        // Both sides have a modify in flight: nothing to send yet.
        assert_eq!(h.call(&d, 2 * MS, |s, ctx| s.on_event(&gap, ctx)), vec![]);
        let out = h.update(
            &d,
            2 * MS + 40_000,
            0,
            OrderUpdateKind::AmendRejected(RejectReason::BookStale),
        );
        assert_eq!(
            out,
            vec![cancel(0)],
            "the bid still rests on a stale book after its modify was refused"
        );
    }

    /// Event time going back (two days in one binary file: ITCH times restart at midnight)
    /// ends a side's back-off after a refusal, as it ends the risk gate's order-rate window.
    /// The back-off's `until` was a first-day time, so the side stayed silent on the second
    /// day until its event time passed the first day's refusal: hours without a quote.
    #[test]
    fn a_step_back_in_event_time_ends_the_back_off_after_a_refusal() {
        let mut h = Harness::new(Config::default());
        let m = book_a();
        let day1 = 7 * 3_600_000 * MS; // 07:00 of the first day
        let bid = h
            .book(&m, day1)
            .into_iter()
            .find_map(|c| match c {
                OrderCommand::Submit { id, request } if request.side == Side::Bid => Some(id),
                _ => None,
            })
            .expect("a bid quote on the first day");
        h.update(
            &m,
            day1,
            bid.0 & ((1 << 48) - 1),
            OrderUpdateKind::Rejected(RejectReason::InstrumentNotTrading),
        );
        // The second day, 04:00: a fresh book (the same levels), a day after the refusal.
        let day2 = 4 * 3_600_000 * MS;
        let bids = h
            .book(&m, day2)
            .into_iter()
            .filter(
                |c| matches!(c, OrderCommand::Submit { request, .. } if request.side == Side::Bid),
            )
            .count();
        assert_eq!(
            bids, 1,
            "no bid for the three hours of the second day before 07:00"
        );
    }

    /// A risk refusal that stays (`RiskMaxPosition` from a lane limit tighter than the
    /// strategy's): every book change re-sent the refused quote; the side backs off.
    #[test]
    fn a_refusal_that_stays_is_not_resent_every_book_change() {
        let mut h = Harness::new(Config::default());
        let books = [book_a(), book_c()];
        let mut sent = 0;
        for k in 0..50u64 {
            let m = &books[(k % 2) as usize];
            let now = (k + 1) * MS;
            for c in h.book(m, now) {
                if let OrderCommand::Submit { id, request } = c {
                    if request.side == Side::Bid {
                        sent += 1;
                        let n = id.0 & ((1 << 48) - 1);
                        h.update(
                            m,
                            now,
                            n,
                            OrderUpdateKind::Rejected(RejectReason::RiskMaxPosition),
                        );
                    }
                }
            }
        }
        assert!(
            sent <= 10,
            "{sent} bids in 50 ms, every one refused by risk"
        );
    }
}
