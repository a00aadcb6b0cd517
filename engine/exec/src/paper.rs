//! [`PaperExchange`]: a simulated exchange with order-entry and response latency, a queue/fill
//! model for resting orders (exact queue position from order-by-order data by default),
//! partial fills and fees.
//!
//! Three models are type parameters, each a trait a user crate can implement:
//! `PaperExchange<L: `[`LatencyModel`]`, F: `[`FeeModel`]`, Q: `[`QueueModel`]`>`, by default
//! [`ConstantLatency`] (zero), [`PerShareFees`] (zero) and [`ExactQueue`].
//! [`PaperExchange::with_models`] keeps the exact queue;
//! [`PaperExchange::with_queue_model`] takes any queue model, e.g.
//! [`TradeThroughQueue`](crate::TradeThroughQueue) (pessimistic: fills only when the market
//! trades through an order's price). Static dispatch: nothing on the hot path is virtual.
//!
//! # Time
//!
//! Event time only. A command sent at `now` reaches the exchange at `now + entry latency`
//! ([`LatencyModel::entry_ns`]); everything the exchange does (acks, rejects, fills) reaches the
//! strategy `response latency` later ([`LatencyModel::response_ns`]). Each strategy has its own
//! order-entry session: its commands arrive in the order it sent them and its reports come back
//! in the order they were produced (an arrival or delivery time is never earlier than that
//! strategy's previous one: a slow draw delays the ones behind it, as on one TCP connection),
//! while another strategy's session is not held up by it. So what a strategy meets does not
//! depend on which strategies share its lane (with event time that never goes backwards, as a
//! sane feed's; on a feed that goes back in time a session holds its times where they were).
//! Every report carries its **delivery** time as `ts` (the time the strategy learns of it).
//!
//! [`Venue::advance`]`(now)` processes everything due at or before `now` in `(time, kind,
//! sequence)` order, arrivals before responses at equal times; the lane calls it before it
//! applies the market event of time `now`, so a command arriving at `t` meets the book as it
//! stands after every event before `t`. With zero latency ([`ConstantLatency::default`]) a
//! command is processed and answered inside [`Venue::on_command`].
//!
//! # Orders
//!
//! - Rejected (`InvalidOrder`) when the quantity is zero, the price not positive or the id is
//!   already working; `InstrumentNotTrading` when the instrument has no book or its known
//!   trading state is not trading (`Trading`, or `OperationalResume` after an operational
//!   halt); `BookStale` when the feed has lost messages for good ([`Market::stale`]) by the
//!   time the order *arrives* (the risk gate refuses what is sent after the loss; this is
//!   what was already on its way), and so is a modify to a new price that would take. Orders
//!   already resting keep working on what the feed still reports (a print is a trade that
//!   happened whatever was lost); a strategy hears of the loss (`FeedGap`) and may cancel.
//! - **Marketable orders** take displayed liquidity on the other side as the book stands when
//!   they *arrive*, best level first, at each level's price, up to their limit (taker fills).
//!   Then: `Day` rests the remainder; `Ioc` expires it; `Fok` first checks that the displayed
//!   quantity within its limit covers the whole order and otherwise expires without any fill;
//!   `PostOnly` never takes: if its price would cross the best opposite price it is rejected
//!   (`WouldCross`).
//! - **Market orders** are a convention: an `Ioc` (or `Fok`) priced through the book, e.g.
//!   `Price(i64::MAX)` to buy, `Price(1)` to sell (a risk gate's price band refuses such
//!   prices when configured: give a band-compatible aggressive price instead).
//! - **Modify** (new price, new open quantity): a price change or a size increase loses
//!   priority (back of the queue); a size decrease at the same price keeps it. A modify to a
//!   new price that crosses takes liquidity like a new order (a post-only order refuses such a
//!   modify with `WouldCross` and stays as it was); at an unchanged price it takes nothing
//!   (what crosses it there was offered to it as a maker already). The quantity is the open
//!   quantity the strategy asked for as of the fills it had heard of (the command's `filled`,
//!   set by its context): shares executed beyond those (fills still on their way back, or
//!   executions while the modify travelled, or fills reported in the same batch of reports
//!   after the callback that sent it) are taken off it (100 asked, 60 traded meanwhile: 40
//!   stay open; all of it traded: the rest is `Cancelled`), so a modify never re-opens traded
//!   shares.
//!   Refused cancels and modifies are answered `AmendRejected` (the order is unchanged):
//!   `UnknownOrder` if the order is not working.
//! - **Cancel**: `Cancelled`, or `UnknownOrder` if the order is no longer working when the
//!   cancel *arrives* — a cancel racing a fill: if the fill happened first, the fill (already
//!   on its way) is delivered and the cancel is rejected; if the cancel arrived first, the
//!   order is gone and no later execution fills it. Partially filled orders cancel their rest.
//! - [`Venue::cancel_all`] acts at once (a mass cancel at the exchange, no latency): reports
//!   still in flight for the affected strategies are delivered first (restamped `now`), their
//!   in-flight commands are dropped (an in-flight submit is answered `Cancelled`), then every
//!   working order is `Cancelled`.
//!
//! # Queue position (exact, from order-by-order data)
//!
//! Which market events fill a resting order is the queue model's decision ([`QueueModel`],
//! see [`crate::queue`]); the exchange offers it every event of the instrument while the order
//! rests, as a [`QueueEvent`], and fills what it allows. The rules below are the default model,
//! [`ExactQueue`].
//!
//! A resting order joins the back of its price level. When it joins, the model snapshots
//! the ids and quantities of the live orders at that level (`level_orders`): exactly the
//! orders ahead of it. Nobody can join ahead later (a replace creates a new id at the back),
//! so the set only shrinks. Kept as a `Vec<(OrderId, qty)>` sorted by id: every execution,
//! partial cancel, delete or replace names an order id, and a binary search says whether that
//! order is ahead of ours. Then:
//!
//! - an execution or partial cancel of an order ahead reduces the quantity ahead by its size;
//!   a delete or replace of an order ahead removes its whole remaining quantity;
//! - an **execution at our price of an order not ahead of us** (it joined after us) means the
//!   aggressor reached our position in a FIFO queue: we fill `min(print size, our open
//!   quantity)` at our price (maker). This is the rule that makes "the queue ahead is
//!   consumed" exact: executions of orders ahead never fill us, executions behind us do;
//! - a **trade through** our price (a print on our side at a worse price: below our bid, above
//!   our ask) fills us `min(print size, open)` at our price, whatever was ahead;
//! - a **non-displayed** execution (`Trade`) fills us at our price only when nothing displayed
//!   is ahead of us (displayed orders have priority over hidden ones at a price); through our
//!   price it fills us as any trade-through;
//! - an order **added on the other side at a price that crosses ours** (possible because our
//!   order is not in the recorded book) would have executed against our level: the displayed
//!   shares ahead of us there take it first, and we fill `min(its size − shares ahead, open)`
//!   at our price (under [`TradeThroughQueue`](crate::TradeThroughQueue), always last at its
//!   level, past every share displayed there when it joined);
//! - auction crosses (`CrossTrade`) never fill us (we do not take part in auctions), nor do
//!   non-printable executions at a price (no print: side and price unknown once applied);
//!   these two rules are the exchange's, whatever the model;
//! - one print fills several of our orders in price-time priority, its size shared among them
//!   (the exchange's rule too: each order takes `min(what the model allows, what is left of
//!   the print, open)`).
//!
//! [`TradeThroughQueue`](crate::TradeThroughQueue) keeps only the trade-through and crossing
//! rules: an execution at our price never fills us (we are assumed last in the queue), which
//! bounds the fill rate from below and adverse selection from above.
//!
//! This needs [`Venue::on_market`] for **every** event of an instrument with working orders
//! (cancels and deletes move the queue), not only for trade prints; `on_market` is called
//! after the lane applied the event and uses the event's order ids and the `trade` print (the
//! lane computes it before applying the event, so it has the executed order's side and price).
//!
//! # Our orders do not change the recorded market
//!
//! The book is the recorded feed, which never contains our orders. Consequences:
//! - liquidity we take stays displayed: two marketable orders in a row can take the same
//!   displayed shares twice, and our own resting order never removes a level (optimistic for
//!   size; keep orders small relative to displayed size); so does an order that filled our
//!   resting order as it was added: if its owner replaces it (`U`) at a price that still
//!   crosses ours, the new order fills us again;
//! - we never move the best bid/offer, never change what other participants did, and our
//!   resting order does not execute against resting displayed orders it crosses (only against
//!   later events, by the rules above);
//! - our orders never match each other (no self-trades);
//! - nothing fills while the instrument is halted, paused or quoting only (the queue model
//!   still follows the book, so queue positions stay exact when trading resumes).

use std::collections::VecDeque;

use ticklane_book::{Market, OrderBook};
use ticklane_core::{
    EventBody, InstrumentId, MarketEvent, Price, Qty, Side, Timestamp, TradingState,
};
use ticklane_strategy::{
    ClientOrderId, Fill, Liquidity, OrderCommand, OrderRequest, OrderUpdate, OrderUpdateKind,
    RejectReason, StrategyId, TimeInForce, TradePrint,
};

use crate::fees::{FeeModel, PerShareFees};
use crate::latency::{ConstantLatency, LatencyModel};
use crate::queue::{ExactQueue, Print, QueueEvent, QueueModel, QueueOrder};
use crate::venue::{Venue, VenueReport};

/// Instrument ids below this are counted in [`PaperExchange`]'s dense per-instrument table of
/// working orders (every ITCH stock locate is a `u16`).
const DENSE_WATCH: usize = 1 << 16;

/// Counts a working order in `instrument` (`delta` `+1`) or uncounts it (`-1`).
fn count_working(working_in: &mut Vec<u32>, instrument: InstrumentId, delta: i32) {
    let i = instrument.0 as usize;
    if i >= DENSE_WATCH {
        return;
    }
    if working_in.len() <= i {
        working_in.resize(i + 1, 0);
    }
    working_in[i] = working_in[i].wrapping_add_signed(delta);
}

/// An order resting at the paper exchange; `S`: its queue model's state.
#[derive(Clone, Debug)]
struct Working<S> {
    id: ClientOrderId,
    instrument: InstrumentId,
    side: Side,
    price: Price,
    leaves: u32,
    /// Shares executed so far.
    filled: u32,
    tif: TimeInForce,
    /// The queue model's state (for [`ExactQueue`]: the orders ahead at our level).
    queue: S,
    /// Priority among our own orders (lower first); renewed when priority is lost.
    seq: u64,
}

impl<S> Working<S> {
    fn who(&self) -> Who {
        Who {
            id: self.id,
            instrument: self.instrument,
            side: self.side,
        }
    }

    fn view(&self) -> QueueOrder {
        QueueOrder {
            id: self.id,
            instrument: self.instrument,
            side: self.side,
            price: self.price,
            leaves: Qty(self.leaves),
        }
    }
}

/// Which order a report is about.
#[derive(Clone, Copy, Debug)]
struct Who {
    id: ClientOrderId,
    instrument: InstrumentId,
    side: Side,
}

/// A working order as [`PaperExchange::order`] shows it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct WorkingOrder {
    /// Id.
    pub id: ClientOrderId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Open quantity.
    pub leaves: Qty,
    /// Time in force.
    pub tif: TimeInForce,
    /// Displayed quantity ahead of it at its level, as the queue model tracks it
    /// ([`QueueModel::queue_ahead`]; 0 under a model that tracks none).
    pub queue_ahead: u64,
    /// Number of displayed orders ahead of it at its level (same source).
    pub orders_ahead: usize,
}

/// Counters of a [`PaperExchange`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct PaperStats {
    /// Commands received from strategies.
    pub commands: u64,
    /// Commands that reached the exchange.
    pub arrivals: u64,
    /// Orders accepted.
    pub accepted: u64,
    /// Commands rejected.
    pub rejected: u64,
    /// Maker fills.
    pub maker_fills: u64,
    /// Taker fills.
    pub taker_fills: u64,
    /// Shares filled.
    pub shares: u64,
    /// Fees, price units (negative: net rebates).
    pub fees: i64,
    /// Orders cancelled (by request or cancel-all).
    pub cancelled: u64,
    /// IOC/FOK orders expired.
    pub expired: u64,
}

#[derive(Clone, Copy, Debug)]
struct Inbound {
    at: Timestamp,
    cmd: OrderCommand,
    /// For a modify: the order's executed shares the strategy had heard of when it sent it
    /// (the command's `filled`); shares executed beyond that (reports still on their way, or
    /// executions while the modify travelled) come off its quantity.
    filled_at_send: u32,
}

#[derive(Clone, Copy, Debug)]
struct Outbound {
    at: Timestamp,
    report: VenueReport,
}

/// The simulated exchange described in the [module docs](self): latency model `L`, fee model
/// `F`, queue/fill model `Q` (resting orders; [`ExactQueue`] by default).
#[derive(Debug)]
pub struct PaperExchange<L = ConstantLatency, F = PerShareFees, Q: QueueModel = ExactQueue> {
    latency: L,
    fees: F,
    queue: Q,
    /// Commands on their way, by arrival time (ties in the order sent).
    inbound: VecDeque<Inbound>,
    /// Reports on their way, by delivery time (ties in the order produced).
    outbound: VecDeque<Outbound>,
    /// By strategy id: its session's latest arrival and delivery times.
    last_arrival: Vec<Timestamp>,
    last_delivery: Vec<Timestamp>,
    seq: u64,
    working: Vec<Working<Q::State>>,
    /// Working orders per instrument, by instrument id (ids below [`DENSE_WATCH`]; every
    /// ITCH stock locate is): [`Venue::watches`] answers in O(1) on every market event,
    /// however many orders work. Larger ids fall back to a scan of `working`.
    working_in: Vec<u32>,
    stats: PaperStats,
    /// Scratch: (priority key, index into `working`, most shares the queue model allows).
    candidates: Vec<((i64, u64), usize, u32)>,
    /// Queue-model states of finished orders, for the next ones to rest (an
    /// [`OrdersAhead`](crate::OrdersAhead) keeps its buffer): once warm, an order that rests
    /// allocates nothing.
    spare_states: Vec<Q::State>,
}

impl PaperExchange {
    /// Zero latency, no fees.
    pub fn new() -> Self {
        Self::with_models(ConstantLatency::default(), PerShareFees::ZERO)
    }
}

impl Default for PaperExchange {
    fn default() -> Self {
        Self::new()
    }
}

fn ts_add(t: Timestamp, ns: u64) -> Timestamp {
    Timestamp(t.0.saturating_add(ns))
}

/// `at`, held back to `strategy`'s session's last time in `last` (one session keeps its order),
/// which it then becomes.
fn session_time(last: &mut Vec<Timestamp>, strategy: u16, at: Timestamp) -> Timestamp {
    let i = usize::from(strategy);
    if last.len() <= i {
        last.resize(i + 1, Timestamp(0));
    }
    let at = at.max(last[i]);
    last[i] = at;
    at
}

/// Puts `item` into a queue kept in time order, after every item due at or before it (so equal
/// times keep their order). Searched from the back: with one session, or a constant latency,
/// that is the end.
#[inline]
fn insert_in_time_order<T>(queue: &mut VecDeque<T>, item: T, due: impl Fn(&T) -> Timestamp) {
    let at = due(&item);
    if queue.back().is_none_or(|last| due(last) <= at) {
        queue.push_back(item);
        return;
    }
    let pos = queue
        .iter()
        .rposition(|x| due(x) <= at)
        .map_or(0, |i| i + 1);
    queue.insert(pos, item);
}

/// Whether an order at `price` on `side` reaches a level at `level` on the other side.
fn reaches(side: Side, price: Price, level: Price) -> bool {
    match side {
        Side::Bid => level <= price,
        Side::Ask => level >= price,
    }
}

/// Priority key among our orders on one side: better price first, then earlier.
fn priority<S>(w: &Working<S>) -> (i64, u64) {
    let p = match w.side {
        Side::Bid => w.price.0.saturating_neg(),
        Side::Ask => w.price.0,
    };
    (p, w.seq)
}

impl<L: LatencyModel, F: FeeModel> PaperExchange<L, F> {
    /// An exchange with these latency and fee models and exact queue position
    /// ([`ExactQueue`]).
    pub fn with_models(latency: L, fees: F) -> Self {
        Self::with_queue_model(latency, fees, ExactQueue)
    }
}

impl<L: LatencyModel, F: FeeModel, Q: QueueModel> PaperExchange<L, F, Q> {
    /// An exchange with these latency, fee and queue/fill models.
    pub fn with_queue_model(latency: L, fees: F, queue: Q) -> Self {
        Self {
            latency,
            fees,
            queue,
            inbound: VecDeque::new(),
            outbound: VecDeque::new(),
            last_arrival: Vec::new(),
            last_delivery: Vec::new(),
            seq: 0,
            working: Vec::new(),
            working_in: Vec::new(),
            stats: PaperStats::default(),
            candidates: Vec::new(),
            spare_states: Vec::new(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> PaperStats {
        self.stats
    }

    /// The queue/fill model.
    pub fn queue_model(&self) -> &Q {
        &self.queue
    }

    /// A working order (resting at the exchange).
    pub fn order(&self, id: ClientOrderId) -> Option<WorkingOrder> {
        self.working.iter().find(|w| w.id == id).map(|w| {
            let (queue_ahead, orders_ahead) = self.queue.queue_ahead(&w.queue);
            WorkingOrder {
                id: w.id,
                instrument: w.instrument,
                side: w.side,
                price: w.price,
                leaves: Qty(w.leaves),
                tif: w.tif,
                queue_ahead,
                orders_ahead,
            }
        })
    }

    /// Displayed quantity ahead of a working order.
    pub fn queue_ahead(&self, id: ClientOrderId) -> Option<u64> {
        self.order(id).map(|o| o.queue_ahead)
    }

    /// Commands sent but not yet arrived, and reports produced but not yet delivered.
    pub fn in_flight(&self) -> (usize, usize) {
        (self.inbound.len(), self.outbound.len())
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Schedules a report produced at exchange time `t`.
    fn respond(&mut self, t: Timestamp, mut report: VenueReport) {
        let strategy = match &report {
            VenueReport::Update(u) => u.id.strategy(),
            VenueReport::Fill(f) => f.id.strategy(),
        };
        let at = session_time(
            &mut self.last_delivery,
            strategy,
            ts_add(t, self.latency.response_ns(t, strategy)),
        );
        match &mut report {
            VenueReport::Update(u) => u.ts = at,
            VenueReport::Fill(f) => f.ts = at,
        }
        insert_in_time_order(&mut self.outbound, Outbound { at, report }, |o| o.at);
    }

    fn update(
        &mut self,
        t: Timestamp,
        id: ClientOrderId,
        instrument: InstrumentId,
        kind: OrderUpdateKind,
    ) {
        match kind {
            OrderUpdateKind::Accepted => self.stats.accepted += 1,
            OrderUpdateKind::Rejected(_) | OrderUpdateKind::AmendRejected(_) => {
                self.stats.rejected += 1
            }
            OrderUpdateKind::Cancelled => self.stats.cancelled += 1,
            OrderUpdateKind::Expired => self.stats.expired += 1,
            _ => {}
        }
        self.respond(
            t,
            VenueReport::Update(OrderUpdate {
                ts: t,
                id,
                instrument,
                kind,
            }),
        );
    }

    fn reject(
        &mut self,
        t: Timestamp,
        id: ClientOrderId,
        instrument: InstrumentId,
        why: RejectReason,
    ) {
        self.update(t, id, instrument, OrderUpdateKind::Rejected(why));
    }

    /// Refuses a cancel or modify (the order, if any, is unchanged).
    fn reject_amend(
        &mut self,
        t: Timestamp,
        id: ClientOrderId,
        instrument: InstrumentId,
        why: RejectReason,
    ) {
        self.update(t, id, instrument, OrderUpdateKind::AmendRejected(why));
    }

    /// A fill of `qty` at `price` of order `who`, `leaves` open after it.
    fn fill(
        &mut self,
        t: Timestamp,
        who: Who,
        leaves: u32,
        price: Price,
        qty: u32,
        liquidity: Liquidity,
    ) {
        let fee = self
            .fees
            .fee(who.instrument, who.side, price, qty, liquidity);
        match liquidity {
            Liquidity::Maker => self.stats.maker_fills += 1,
            Liquidity::Taker => self.stats.taker_fills += 1,
        }
        self.stats.shares += u64::from(qty);
        self.stats.fees = self.stats.fees.saturating_add(fee);
        self.respond(
            t,
            VenueReport::Fill(Fill {
                ts: t,
                id: who.id,
                instrument: who.instrument,
                side: who.side,
                price,
                qty: Qty(qty),
                leaves: Qty(leaves),
                liquidity,
                fee,
            }),
        );
    }

    /// Delivers the reports due at or before `now`.
    fn deliver_due(&mut self, now: Timestamp, out: &mut Vec<VenueReport>) {
        while self.outbound.front().is_some_and(|o| o.at <= now) {
            if let Some(o) = self.outbound.pop_front() {
                out.push(o.report);
            }
        }
    }

    /// Displayed quantity on the other side within `w`'s limit (stops once `need` is covered).
    fn available(book: &OrderBook<'_>, side: Side, price: Price, need: u64) -> u64 {
        let mut sum = 0u64;
        for level in book.levels(side.opposite()) {
            if !reaches(side, price, level.price) || sum >= need {
                break;
            }
            sum = sum.saturating_add(level.qty);
        }
        sum
    }

    /// Takes displayed liquidity for `w`, best level first, at level prices. Never called while
    /// the instrument is not trading: submits and crossing modifies are refused then.
    fn take(&mut self, t: Timestamp, w: &mut Working<Q::State>, book: &OrderBook<'_>) {
        self.take_beyond(t, w, book, None);
    }

    /// [`Self::take`], skipping the levels `reached` already reaches: an order repriced from
    /// `reached` has taken them when it arrived, or been offered them as a maker since (the
    /// feed keeps showing what we took): taking them again would trade the same shares twice.
    fn take_beyond(
        &mut self,
        t: Timestamp,
        w: &mut Working<Q::State>,
        book: &OrderBook<'_>,
        reached: Option<Price>,
    ) {
        for level in book.levels(w.side.opposite()) {
            if w.leaves == 0 || !reaches(w.side, w.price, level.price) {
                break;
            }
            if reached.is_some_and(|p| reaches(w.side, p, level.price)) {
                continue;
            }
            let qty = u32::try_from(level.qty.min(u64::from(w.leaves))).unwrap_or(w.leaves);
            w.leaves -= qty;
            w.filled = w.filled.saturating_add(qty);
            self.fill(t, w.who(), w.leaves, level.price, qty, Liquidity::Taker);
        }
    }

    /// Puts `w` at the back of its level (the queue model takes its place there).
    fn join_queue(&mut self, w: &mut Working<Q::State>, book: &OrderBook<'_>) {
        self.queue.join(&w.view(), book, &mut w.queue);
        w.seq = self.next_seq();
    }

    fn crosses(book: &OrderBook<'_>, side: Side, price: Price) -> bool {
        book.best(side.opposite())
            .is_some_and(|l| reaches(side, price, l.price))
    }

    fn submit(&mut self, t: Timestamp, id: ClientOrderId, req: &OrderRequest, market: &Market) {
        if req.qty.0 == 0 || req.price.0 <= 0 || self.working.iter().any(|w| w.id == id) {
            return self.reject(t, id, req.instrument, RejectReason::InvalidOrder);
        }
        let Some(book) = market.book(req.instrument) else {
            return self.reject(t, id, req.instrument, RejectReason::InstrumentNotTrading);
        };
        if book.trading_state().is_some_and(|s| !s.is_trading()) {
            return self.reject(t, id, req.instrument, RejectReason::InstrumentNotTrading);
        }
        // Sent before the feed lost messages, arrived after: refused, never matched against a
        // book known to be wrong (orders already resting keep working: see the module docs).
        if market.stale().is_some() {
            return self.reject(t, id, req.instrument, RejectReason::BookStale);
        }
        if req.tif == TimeInForce::PostOnly && Self::crosses(&book, req.side, req.price) {
            return self.reject(t, id, req.instrument, RejectReason::WouldCross);
        }
        self.update(t, id, req.instrument, OrderUpdateKind::Accepted);
        let mut w = Working {
            id,
            instrument: req.instrument,
            side: req.side,
            price: req.price,
            leaves: req.qty.0,
            filled: 0,
            tif: req.tif,
            queue: Q::State::default(),
            seq: 0,
        };
        if req.tif == TimeInForce::Fok
            && Self::available(&book, w.side, w.price, u64::from(w.leaves)) < u64::from(w.leaves)
        {
            return self.update(t, id, w.instrument, OrderUpdateKind::Expired);
        }
        if req.tif != TimeInForce::PostOnly {
            self.take(t, &mut w, &book);
        }
        if w.leaves == 0 {
            self.update(t, id, w.instrument, OrderUpdateKind::Filled);
        } else if matches!(req.tif, TimeInForce::Ioc | TimeInForce::Fok) {
            self.update(t, id, w.instrument, OrderUpdateKind::Expired);
        } else {
            // It rests: a finished order's state (and its buffer) if one is spare.
            w.queue = self.spare_states.pop().unwrap_or_default();
            self.join_queue(&mut w, &book);
            count_working(&mut self.working_in, w.instrument, 1);
            self.working.push(w);
        }
    }

    /// Removes and returns working order `i`, uncounting it.
    fn remove_working(&mut self, i: usize) -> Working<Q::State> {
        let mut w = self.working.remove(i);
        count_working(&mut self.working_in, w.instrument, -1);
        self.spare_states.push(std::mem::take(&mut w.queue));
        w
    }

    /// A modify reaches the exchange. `qty` is the open quantity the strategy asked for, as of
    /// `filled_at_send` executed shares: shares executed since, while the modify travelled,
    /// are taken off it (as a venue that reads a modify's size as the order's total would),
    /// so a modify never re-opens shares that have traded.
    fn modify(
        &mut self,
        t: Timestamp,
        id: ClientOrderId,
        price: Price,
        qty: Qty,
        filled_at_send: u32,
        market: &Market,
    ) {
        let Some(i) = self.working.iter().position(|w| w.id == id) else {
            return self.reject_amend(t, id, InstrumentId::NONE, RejectReason::UnknownOrder);
        };
        let instrument = self.working[i].instrument;
        if qty.0 == 0 || price.0 <= 0 {
            return self.reject_amend(t, id, instrument, RejectReason::InvalidOrder);
        }
        let Some(book) = market.book(instrument) else {
            return self.reject_amend(t, id, instrument, RejectReason::InstrumentNotTrading);
        };
        // The order as it stands, read in place: it is taken out (its queue state moved, not
        // cloned: a clone allocated a copy of the orders ahead on every modify) only once the
        // modify goes through.
        let (side, old_price, tif, filled, leaves) = {
            let w = &self.working[i];
            (w.side, w.price, w.tif, w.filled, w.leaves)
        };
        let crosses = Self::crosses(&book, side, price);
        // Nothing trades while the instrument is halted, paused or quoting only: a new price
        // that would take is refused, as a new order is (one that rested crossed would never
        // take the book when trading resumed).
        if crosses && price != old_price && book.trading_state().is_some_and(|s| !s.is_trading()) {
            return self.reject_amend(t, id, instrument, RejectReason::InstrumentNotTrading);
        }
        // A new price that would take from a stale book is refused like a new order; one that
        // only rests (or shrinks) goes through.
        if crosses && price != old_price && market.stale().is_some() {
            return self.reject_amend(t, id, instrument, RejectReason::BookStale);
        }
        // Post-only refuses a new price that would take; at its resting price the order
        // already rests (what crosses it has been offered to it as a maker): it may shrink.
        if tif == TimeInForce::PostOnly && crosses && price != old_price {
            return self.reject_amend(t, id, instrument, RejectReason::WouldCross);
        }
        let open = qty.0.saturating_sub(filled.saturating_sub(filled_at_send));
        if open == 0 {
            // What traded while the modify travelled covers it: nothing is left to work.
            self.remove_working(i);
            return self.update(t, id, instrument, OrderUpdateKind::Cancelled);
        }
        let qty = Qty(open);
        let same_price = price == old_price;
        let keeps_priority = same_price && qty.0 <= leaves;
        let mut w = Working {
            queue: std::mem::take(&mut self.working[i].queue),
            ..self.working[i]
        };
        w.price = price;
        w.leaves = qty.0;
        self.update(t, id, instrument, OrderUpdateKind::Modified { price, qty });
        // What crosses the old price was taken when the order arrived, or offered to it as a
        // maker since (the queue model): taking it again would count the same shares twice. A
        // new price takes only what lies beyond the old one; an unchanged or less aggressive
        // price takes nothing.
        if crosses && !same_price {
            self.take_beyond(t, &mut w, &book, Some(old_price));
        }
        if w.leaves == 0 {
            // Its state back in place, for `remove_working` to keep for the next order.
            self.working[i].queue = w.queue;
            self.remove_working(i);
            return self.update(t, id, instrument, OrderUpdateKind::Filled);
        }
        if !keeps_priority {
            self.join_queue(&mut w, &book);
        }
        self.working[i] = w;
    }

    /// A command reaches the exchange at `t`.
    fn arrive(&mut self, t: Timestamp, cmd: &OrderCommand, filled_at_send: u32, market: &Market) {
        self.stats.arrivals += 1;
        match *cmd {
            OrderCommand::Submit { id, ref request } => self.submit(t, id, request, market),
            OrderCommand::Cancel { id } => match self.working.iter().position(|w| w.id == id) {
                Some(i) => {
                    let w = self.remove_working(i);
                    self.update(t, id, w.instrument, OrderUpdateKind::Cancelled);
                }
                None => self.reject_amend(t, id, InstrumentId::NONE, RejectReason::UnknownOrder),
            },
            OrderCommand::Modify { id, price, qty, .. } => {
                self.modify(t, id, price, qty, filled_at_send, market)
            }
        }
    }

    /// Fills our orders in `self.candidates` (priority order) from an event of `size` shares,
    /// each up to what the queue model allows it, at each order's own price (maker). Removes
    /// orders that complete.
    fn fill_candidates(&mut self, t: Timestamp, mut size: u64) {
        let mut cands = std::mem::take(&mut self.candidates);
        cands.sort_unstable_by_key(|c| c.0);
        let mut done = false;
        // What our orders earlier in priority took of this event: they were ahead of each
        // later one too, so a model's cap (how far into the event's size it reaches, past
        // the displayed shares ahead) is reduced by it.
        let mut given = 0u64;
        for &(_, i, cap) in &cands {
            if size == 0 {
                break;
            }
            let w = &mut self.working[i];
            let reach = u64::from(cap).saturating_sub(given);
            let qty = u32::try_from(size.min(u64::from(w.leaves)).min(reach)).unwrap_or(w.leaves);
            if qty == 0 {
                continue;
            }
            size -= u64::from(qty);
            given += u64::from(qty);
            w.leaves -= qty;
            w.filled = w.filled.saturating_add(qty);
            let (who, leaves, price) = (w.who(), w.leaves, w.price);
            self.fill(t, who, leaves, price, qty, Liquidity::Maker);
            if leaves == 0 {
                self.update(t, who.id, who.instrument, OrderUpdateKind::Filled);
                done = true;
            }
        }
        if done {
            let (working_in, spare) = (&mut self.working_in, &mut self.spare_states);
            self.working.retain_mut(|w| {
                if w.leaves == 0 {
                    count_working(working_in, w.instrument, -1);
                    spare.push(std::mem::take(&mut w.queue));
                }
                w.leaves > 0
            });
        }
        cands.clear();
        self.candidates = cands;
    }

    /// Offers `event` of `instrument` to the queue model for each of our orders in it, then
    /// fills those it allows, sharing the event's size among them in priority order.
    fn queue_event(
        &mut self,
        t: Timestamp,
        instrument: InstrumentId,
        matching: bool,
        event: &QueueEvent,
    ) {
        self.candidates.clear();
        for (i, w) in self.working.iter_mut().enumerate() {
            if w.instrument != instrument {
                continue;
            }
            let cap = self.queue.on_event(&w.view(), &mut w.queue, event);
            if cap > 0 && w.leaves > 0 {
                self.candidates.push((priority(w), i, cap));
            }
        }
        let size = event.size();
        if matching && size > 0 && !self.candidates.is_empty() {
            self.fill_candidates(t, u64::from(size));
        }
    }
}

impl<L: LatencyModel, F: FeeModel, Q: QueueModel> Venue for PaperExchange<L, F, Q> {
    fn advance(&mut self, now: Timestamp, market: &Market, out: &mut Vec<VenueReport>) {
        loop {
            let arrival = self.inbound.front().filter(|c| c.at <= now).map(|c| c.at);
            let response = self.outbound.front().filter(|o| o.at <= now).map(|o| o.at);
            match (arrival, response) {
                (Some(a), r) if r.is_none_or(|r| a <= r) => {
                    if let Some(c) = self.inbound.pop_front() {
                        self.arrive(c.at, &c.cmd, c.filled_at_send, market);
                    }
                }
                (_, Some(_)) => {
                    if let Some(o) = self.outbound.pop_front() {
                        out.push(o.report);
                    }
                }
                _ => break,
            }
        }
    }

    fn has_pending(&self) -> bool {
        !self.inbound.is_empty() || !self.outbound.is_empty()
    }

    fn next_due(&self) -> Option<Timestamp> {
        let a = self.inbound.front().map(|c| c.at);
        let r = self.outbound.front().map(|o| o.at);
        match (a, r) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }

    fn on_command(
        &mut self,
        now: Timestamp,
        cmd: &OrderCommand,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) {
        self.stats.commands += 1;
        let at = session_time(
            &mut self.last_arrival,
            cmd.id().strategy(),
            ts_add(now, self.latency.entry_ns(now, cmd)),
        );
        // What the strategy knew of the order's executions when it sent the command: the
        // fills delivered to it (its context counts them), not those still on their way back
        // or later in the batch of reports it was answering.
        let filled_at_send = match *cmd {
            OrderCommand::Modify { filled, .. } => filled.0,
            _ => 0,
        };
        insert_in_time_order(
            &mut self.inbound,
            Inbound {
                at,
                cmd: *cmd,
                filled_at_send,
            },
            |c| c.at,
        );
        self.advance(now, market, out);
    }

    fn on_market(
        &mut self,
        event: &MarketEvent,
        trade: Option<&TradePrint>,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) {
        let t = event.ts;
        let inst = event.instrument;
        // Most events concern instruments we have no order in (the lane does not even call us
        // for those: `watches`).
        if self.watches(inst) {
            // While the instrument is halted, paused or quoting only, nothing trades: the
            // queue model still sees every event (queue positions stay exact) but fills
            // nothing (a crossing quote during a pause is not a trade).
            let matching = market
                .book(inst)
                .and_then(|b| b.trading_state())
                .is_none_or(TradingState::is_trading);
            match event.body {
                EventBody::OrderExecuted { order_id, qty, .. }
                | EventBody::OrderExecutedWithPrice { order_id, qty, .. } => {
                    // A print of an order resting in another instrument than the event
                    // says (`InstrumentMismatch`) is not this instrument's.
                    let print = trade.filter(|p| p.instrument == inst).and_then(|p| {
                        p.resting_side.map(|side| Print {
                            side,
                            price: p.price,
                            qty: p.qty,
                        })
                    });
                    let e = QueueEvent::Executed {
                        order_id,
                        qty,
                        print,
                    };
                    self.queue_event(t, inst, matching, &e);
                }
                // A hidden print's resting side is the lane's inference from the book
                // (`TradePrint::resting_side`), never the message's indicator (always `B` on
                // NASDAQ since 2014); unknown (inside the spread) fills nothing.
                EventBody::Trade { price, qty, .. } => {
                    if let Some(side) = trade.and_then(|p| p.resting_side) {
                        let e = QueueEvent::Hidden(Print { side, price, qty });
                        self.queue_event(t, inst, matching, &e);
                    }
                }
                EventBody::OrderCancelled { order_id, qty } => {
                    self.queue_event(t, inst, matching, &QueueEvent::Cancelled { order_id, qty });
                }
                EventBody::OrderDeleted { order_id } => {
                    self.queue_event(t, inst, matching, &QueueEvent::Removed { order_id });
                }
                EventBody::OrderReplaced {
                    old_id,
                    new_id,
                    price,
                    qty,
                } => {
                    self.queue_event(t, inst, matching, &QueueEvent::Removed { order_id: old_id });
                    // Only a new order the book took, in this instrument, as the replace has
                    // it (as for an add): a refused replace (its new id already live) or one
                    // of an order resting in another instrument crosses nobody here.
                    if let Some(o) = market.order(new_id).filter(|o| {
                        o.instrument == inst && o.price == price && o.qty == qty && o.added == t
                    }) {
                        let e = QueueEvent::Added {
                            order_id: new_id,
                            side: o.side,
                            price,
                            qty,
                        };
                        self.queue_event(t, inst, matching, &e);
                    }
                }
                // Only an add the book took: one it refused (an id already live) rests
                // nowhere and crosses nobody.
                EventBody::OrderAdded {
                    order_id,
                    side,
                    price,
                    qty,
                    ..
                } if market.order(order_id).is_some_and(|o| {
                    o.instrument == inst
                        && o.side == side
                        && o.price == price
                        && o.qty == qty
                        && o.added == t
                }) =>
                {
                    let e = QueueEvent::Added {
                        order_id,
                        side,
                        price,
                        qty,
                    };
                    self.queue_event(t, inst, matching, &e);
                }
                _ => {}
            }
        }
        self.deliver_due(t, out);
    }

    /// Counts what the kill switch itself cancels (working orders and submits on their
    /// way, `stats.cancelled`), not the answers on their way back that `cancel_all` also
    /// hands out restamped (among them `Cancelled`s of the strategies' own cancels).
    fn engage_kill_switch(
        &mut self,
        now: Timestamp,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) -> u64 {
        let _ = market;
        let before = self.stats.cancelled;
        self.cancel_all(now, None, out);
        self.stats.cancelled - before
    }

    fn cancel_all(
        &mut self,
        now: Timestamp,
        strategy: Option<StrategyId>,
        out: &mut Vec<VenueReport>,
    ) {
        let hit = |id: ClientOrderId| strategy.is_none_or(|s| id.strategy() == s.0);
        // The sessions cancelled start afresh: nothing of theirs is on its way any more, so a
        // later command or report waits behind nothing (a restarted strategy's first orders).
        for session in [&mut self.last_arrival, &mut self.last_delivery] {
            for (i, t) in session.iter_mut().enumerate() {
                if strategy.is_none_or(|s| usize::from(s.0) == i) {
                    *t = (*t).min(now);
                }
            }
        }
        // Reports in flight for these strategies first, in order, restamped `now`.
        let mut keep = VecDeque::with_capacity(self.outbound.len());
        for o in self.outbound.drain(..) {
            let id = match o.report {
                VenueReport::Update(u) => u.id,
                VenueReport::Fill(f) => f.id,
            };
            if hit(id) {
                let mut r = o.report;
                match &mut r {
                    VenueReport::Update(u) => u.ts = now,
                    VenueReport::Fill(f) => f.ts = now,
                }
                out.push(r);
            } else {
                keep.push_back(o);
            }
        }
        self.outbound = keep;
        // Commands in flight are dropped; a submit is answered `Cancelled`.
        let mut dropped = Vec::new();
        self.inbound.retain(|c| {
            if !hit(c.cmd.id()) {
                return true;
            }
            if let OrderCommand::Submit { id, request } = c.cmd {
                dropped.push((id, request.instrument));
            }
            false
        });
        for (id, instrument) in dropped {
            self.stats.cancelled += 1;
            out.push(VenueReport::Update(OrderUpdate {
                ts: now,
                id,
                instrument,
                kind: OrderUpdateKind::Cancelled,
            }));
        }
        let mut i = 0;
        while i < self.working.len() {
            if hit(self.working[i].id) {
                let w = self.remove_working(i);
                self.stats.cancelled += 1;
                out.push(VenueReport::Update(OrderUpdate {
                    ts: now,
                    id: w.id,
                    instrument: w.instrument,
                    kind: OrderUpdateKind::Cancelled,
                }));
            } else {
                i += 1;
            }
        }
    }

    fn working_orders(&self) -> usize {
        self.working.len()
    }

    fn watches(&self, instrument: InstrumentId) -> bool {
        let i = instrument.0 as usize;
        let watched = if i < DENSE_WATCH {
            self.working_in.get(i).is_some_and(|&n| n > 0)
        } else {
            self.working.iter().any(|w| w.instrument == instrument)
        };
        debug_assert_eq!(
            watched,
            self.working.iter().any(|w| w.instrument == instrument),
            "per-instrument working count out of step for {instrument:?}"
        );
        watched
    }
}
