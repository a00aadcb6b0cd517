//! Where a lane's orders go: the [`Venue`] seam, and [`TouchVenue`], a simple paper venue.
//!
//! `TouchVenue` is the engine's first simulated exchange. It has no latency and does not
//! remove the liquidity it takes from the lane's book (the book is the venue's feed, which does
//! not contain our orders), so it is optimistic; the paper-trading work replaces it with a
//! venue that models latency, queue position from the order-by-order feed, risk and fees. Its
//! rules, all deterministic:
//!
//! - A submit is rejected if its quantity is zero, its price not positive, the instrument has
//!   no book yet, or the instrument's trading state is known and not trading (`Trading`, or
//!   `OperationalResume`). `Fok` is not modelled here: rejected (`InvalidOrder`) rather than
//!   treated as `Day` (the paper exchange has it). A `PostOnly` order that would take on
//!   arrival, or a modify of one to a price that would, is refused (`WouldCross`); otherwise
//!   it rests as a `Day` order.
//! - An accepted order first takes displayed liquidity on the other side at every level its
//!   limit reaches, best level first, at the level's price (taker fills).
//! - The rest expires (IOC) or rests (Day). A resting order joins the back of its price level:
//!   the level's displayed quantity at that moment is ahead of it.
//! - A later trade print in the instrument fills a resting order (a print with a resting side:
//!   the side must be the order's; an auction cross, which has none, fills nothing): a print
//!   through its price fills it (up to the print's quantity) at its own price; a displayed
//!   execution at its price first consumes the quantity ahead of it; a hidden print (`P`) at
//!   its price fills it only once nothing displayed is ahead (displayed orders have priority
//!   over hidden ones) and leaves what is ahead as it was. One print shares its quantity among
//!   our orders in price-time priority: best price first, then the order they rested in.
//!   Maker fills.
//! - A modify that raises the quantity or changes the price loses priority (back of the queue).
//!   Its quantity is the open quantity wanted as of the fills the strategy had heard of (the
//!   command's `filled`): shares that traded beyond them come off it, never re-opened (all of
//!   it traded: `Cancelled`). A modified order takes what its limit reaches, as a new one
//!   does, unless it is post-only.

use ticklane_book::Market;
use ticklane_core::{EventBody, InstrumentId, MarketEvent, Price, Qty, Side, Timestamp};
use ticklane_strategy::{
    ClientOrderId, Fill, Liquidity, OrderCommand, OrderRequest, OrderUpdate, OrderUpdateKind,
    RejectReason, RiskRule, StrategyId, TimeInForce, TradePrint,
};

/// What a venue tells the lane.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VenueReport {
    /// An order changed state.
    Update(OrderUpdate),
    /// An order was (partly) filled.
    Fill(Fill),
}

/// An execution venue as a lane sees it (a paper exchange; later a gateway to a real one).
///
/// Driven by the lane in event time. For every item the lane processes at event time `now` it
/// first calls [`Venue::advance`] (when [`Venue::has_pending`] says something is in flight), so
/// a venue with latency delivers the acks and fills that are due; then it applies the market
/// event to its book and, if the venue [watches](Venue::watches) the event's instrument,
/// calls [`Venue::on_market`]; strategies' commands arrive through
/// [`Venue::on_command`] as they are sent. Something due at exactly `now` is delivered before
/// the market event of time `now` is applied.
pub trait Venue: Send {
    /// Event time reached `now`: deliver everything due at or before it.
    fn advance(&mut self, now: Timestamp, market: &Market, out: &mut Vec<VenueReport>) {
        let _ = (now, market, out);
    }

    /// Whether anything is in flight (so that the lane calls [`Venue::advance`]).
    fn has_pending(&self) -> bool {
        false
    }

    /// Event time of the next thing in flight (an order reaching the exchange, or a report
    /// reaching the strategy), if any. The lane interleaves it with the strategies' timers in
    /// time order, so that what a strategy sees does not depend on which other instruments
    /// share its lane.
    fn next_due(&self) -> Option<Timestamp> {
        None
    }

    /// A strategy's command, at event time `now`.
    fn on_command(
        &mut self,
        now: Timestamp,
        cmd: &OrderCommand,
        market: &Market,
        out: &mut Vec<VenueReport>,
    );

    /// A market event the lane's book has just applied (`trade` is its trade print, if any).
    fn on_market(
        &mut self,
        event: &MarketEvent,
        trade: Option<&TradePrint>,
        market: &Market,
        out: &mut Vec<VenueReport>,
    );

    /// Cancels every working order (of one strategy, or of all).
    fn cancel_all(
        &mut self,
        now: Timestamp,
        strategy: Option<StrategyId>,
        out: &mut Vec<VenueReport>,
    );

    /// Orders working at the venue.
    fn working_orders(&self) -> usize;

    /// Whether the venue needs [`Venue::on_market`] for events of `instrument` (it holds a
    /// working order there). The lane skips the call, and the trade-print lookup it needs,
    /// when no: most events concern instruments a lane's strategies do not trade. A venue
    /// must not depend on the events it does not watch; everything else it has in flight is
    /// delivered through [`Venue::advance`], which the lane calls first. The default watches
    /// every instrument while any order works.
    fn watches(&self, instrument: InstrumentId) -> bool {
        let _ = instrument;
        self.working_orders() > 0
    }

    /// The kill switch (manual, from the control plane): refuse new orders and cancel every
    /// working one. A venue without risk checks just cancels everything (the lane refuses new
    /// orders itself). Returns how many orders the kill switch cancelled (working orders and
    /// submits on their way), not counting answers already on their way back that `out` also
    /// receives (a `Cancelled` of the strategy's own earlier cancel). The default counts the
    /// `Cancelled` updates `cancel_all` appended: right for a venue with no answers in
    /// flight; a venue with latency counts its own.
    fn engage_kill_switch(
        &mut self,
        now: Timestamp,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) -> u64 {
        let _ = market;
        let from = out.len();
        self.cancel_all(now, None, out);
        out[from..]
            .iter()
            .filter(|r| matches!(r, VenueReport::Update(u) if u.kind == OrderUpdateKind::Cancelled))
            .count() as u64
    }

    /// A new trading day is about to begin: `market` still holds the day before's books (the
    /// lane calls it on ITCH's start of messages, before the books are emptied, and then
    /// [`Venue::cancel_all`] if they were). A venue with risk checks starts its daily loss
    /// count here. The default does nothing.
    fn start_day(&mut self, market: &Market) {
        let _ = market;
    }

    /// A new trading day gave a symbol `strategy` held overnight (under instrument `a`) the
    /// stock locate `b`: what the venue keeps by instrument for that strategy (its risk
    /// gate's positions) is exchanged between the two. The default does nothing.
    fn swap_instruments(&mut self, strategy: StrategyId, a: InstrumentId, b: InstrumentId) {
        let _ = (strategy, a, b);
    }

    /// Moves into `out` the strategies whose own risk limit tripped since the last call (e.g.
    /// the daily loss limit), with the rule: that strategy's orders are cancelled and its new
    /// ones refused, the others trade on. The lane reports each as an incident.
    fn take_trips(&mut self, out: &mut Vec<(StrategyId, RiskRule)>) {
        let _ = out;
    }

    /// A periodic mark to market (the lane calls it at each second boundary of event time,
    /// except in a quiet stretch, below): a venue
    /// with risk checks re-evaluates limits that prices alone can break (the daily loss limit
    /// of a strategy that holds a position while the market moves against it, with no fill
    /// or command to trigger a check) and cancels the orders of a strategy that tripped.
    ///
    /// A mark must depend on the market and the venue's own state, not on `now` alone: after a
    /// quiet mark (no report, no trip) the lane skips the marks of the following seconds until
    /// an event, a report ([`Venue::next_due`]) or a strategy timer, since the same books
    /// would give the same answer. What a venue does at a time of its own it schedules
    /// through `next_due`.
    fn mark(&mut self, now: Timestamp, market: &Market, out: &mut Vec<VenueReport>) {
        let _ = (now, market, out);
    }
}

impl Venue for Box<dyn Venue> {
    fn advance(&mut self, now: Timestamp, market: &Market, out: &mut Vec<VenueReport>) {
        (**self).advance(now, market, out);
    }

    fn has_pending(&self) -> bool {
        (**self).has_pending()
    }

    fn next_due(&self) -> Option<Timestamp> {
        (**self).next_due()
    }

    fn on_command(
        &mut self,
        now: Timestamp,
        cmd: &OrderCommand,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) {
        (**self).on_command(now, cmd, market, out);
    }

    fn on_market(
        &mut self,
        event: &MarketEvent,
        trade: Option<&TradePrint>,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) {
        (**self).on_market(event, trade, market, out);
    }

    fn cancel_all(
        &mut self,
        now: Timestamp,
        strategy: Option<StrategyId>,
        out: &mut Vec<VenueReport>,
    ) {
        (**self).cancel_all(now, strategy, out);
    }

    fn working_orders(&self) -> usize {
        (**self).working_orders()
    }

    fn watches(&self, instrument: InstrumentId) -> bool {
        (**self).watches(instrument)
    }

    fn engage_kill_switch(
        &mut self,
        now: Timestamp,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) -> u64 {
        (**self).engage_kill_switch(now, market, out)
    }

    fn start_day(&mut self, market: &Market) {
        (**self).start_day(market);
    }

    fn swap_instruments(&mut self, strategy: StrategyId, a: InstrumentId, b: InstrumentId) {
        (**self).swap_instruments(strategy, a, b);
    }

    fn take_trips(&mut self, out: &mut Vec<(StrategyId, RiskRule)>) {
        (**self).take_trips(out);
    }

    fn mark(&mut self, now: Timestamp, market: &Market, out: &mut Vec<VenueReport>) {
        (**self).mark(now, market, out);
    }
}

#[derive(Clone, Copy, Debug)]
struct Resting {
    id: ClientOrderId,
    instrument: InstrumentId,
    side: Side,
    price: Price,
    leaves: u32,
    /// Shares filled so far (saturating).
    filled: u32,
    ahead: u64,
    /// `PostOnly`: never takes (a submit or a price change that would is refused).
    post_only: bool,
}

/// The simple paper venue described in the module docs.
#[derive(Debug, Default)]
pub struct TouchVenue {
    resting: Vec<Resting>,
}

impl TouchVenue {
    /// An empty venue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses a submit.
    fn reject(
        now: Timestamp,
        id: ClientOrderId,
        instrument: InstrumentId,
        why: RejectReason,
    ) -> VenueReport {
        Self::answer(now, id, instrument, OrderUpdateKind::Rejected(why))
    }

    /// Refuses a cancel or modify (the order, if any, is unchanged).
    fn reject_amend(
        now: Timestamp,
        id: ClientOrderId,
        instrument: InstrumentId,
        why: RejectReason,
    ) -> VenueReport {
        Self::answer(now, id, instrument, OrderUpdateKind::AmendRejected(why))
    }

    fn answer(
        now: Timestamp,
        id: ClientOrderId,
        instrument: InstrumentId,
        kind: OrderUpdateKind,
    ) -> VenueReport {
        VenueReport::Update(OrderUpdate {
            ts: now,
            id,
            instrument,
            kind,
        })
    }

    fn update(now: Timestamp, r: &Resting, kind: OrderUpdateKind) -> VenueReport {
        VenueReport::Update(OrderUpdate {
            ts: now,
            id: r.id,
            instrument: r.instrument,
            kind,
        })
    }

    /// Whether `r` at `price` would reach the best opposite level.
    fn crosses(market: &Market, r: &Resting, price: Price) -> bool {
        market
            .book(r.instrument)
            .and_then(|b| b.best(r.side.opposite()))
            .is_some_and(|l| match r.side {
                Side::Bid => l.price <= price,
                Side::Ask => l.price >= price,
            })
    }

    /// Takes displayed liquidity for `r` up to its limit, skipping the levels `reached` (an
    /// order's price before a modify) already reaches: the order took them when it arrived
    /// (the feed keeps showing what we took), or they came later and reach it through prints
    /// only, as any liquidity does here; taking them again would trade the same shares twice.
    fn take(
        now: Timestamp,
        r: &mut Resting,
        reached: Option<Price>,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) {
        let Some(book) = market.book(r.instrument) else {
            return;
        };
        // Nothing trades while the instrument is not trading (a modify at its own price while
        // the book crosses it comes here).
        if book.trading_state().is_some_and(|s| !s.is_trading()) {
            return;
        }
        for level in book.levels(r.side.opposite()) {
            if r.leaves == 0 {
                break;
            }
            let reaches = match r.side {
                Side::Bid => level.price <= r.price,
                Side::Ask => level.price >= r.price,
            };
            if !reaches {
                break;
            }
            let reached_before = reached.is_some_and(|p| match r.side {
                Side::Bid => level.price <= p,
                Side::Ask => level.price >= p,
            });
            if reached_before {
                continue;
            }
            let qty = u32::try_from(level.qty.min(u64::from(r.leaves))).unwrap_or(r.leaves);
            r.leaves -= qty;
            r.filled = r.filled.saturating_add(qty);
            out.push(VenueReport::Fill(Fill {
                ts: now,
                id: r.id,
                instrument: r.instrument,
                side: r.side,
                price: level.price,
                qty: Qty(qty),
                leaves: Qty(r.leaves),
                liquidity: Liquidity::Taker,
                fee: 0,
            }));
        }
    }

    fn join_queue(r: &mut Resting, market: &Market) {
        r.ahead = market
            .book(r.instrument)
            .and_then(|b| b.level(r.side, r.price))
            .map_or(0, |l| l.qty);
    }

    fn submit(
        &mut self,
        now: Timestamp,
        id: ClientOrderId,
        req: &OrderRequest,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) {
        let unmodelled = req.tif == TimeInForce::Fok;
        if req.qty.0 == 0 || req.price.0 <= 0 || unmodelled {
            out.push(Self::reject(
                now,
                id,
                req.instrument,
                RejectReason::InvalidOrder,
            ));
            return;
        }
        let Some(book) = market.book(req.instrument) else {
            out.push(Self::reject(
                now,
                id,
                req.instrument,
                RejectReason::InstrumentNotTrading,
            ));
            return;
        };
        if book.trading_state().is_some_and(|s| !s.is_trading()) {
            out.push(Self::reject(
                now,
                id,
                req.instrument,
                RejectReason::InstrumentNotTrading,
            ));
            return;
        }
        let mut r = Resting {
            id,
            instrument: req.instrument,
            side: req.side,
            price: req.price,
            leaves: req.qty.0,
            filled: 0,
            ahead: 0,
            post_only: req.tif == TimeInForce::PostOnly,
        };
        if r.post_only && Self::crosses(market, &r, r.price) {
            out.push(Self::reject(
                now,
                id,
                req.instrument,
                RejectReason::WouldCross,
            ));
            return;
        }
        out.push(Self::update(now, &r, OrderUpdateKind::Accepted));
        Self::take(now, &mut r, None, market, out);
        if r.leaves == 0 {
            out.push(Self::update(now, &r, OrderUpdateKind::Filled));
        } else if req.tif == TimeInForce::Ioc {
            out.push(Self::update(now, &r, OrderUpdateKind::Expired));
        } else {
            Self::join_queue(&mut r, market);
            self.resting.push(r);
        }
    }
}

impl Venue for TouchVenue {
    fn on_command(
        &mut self,
        now: Timestamp,
        cmd: &OrderCommand,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) {
        match *cmd {
            OrderCommand::Submit { id, ref request } => self.submit(now, id, request, market, out),
            OrderCommand::Cancel { id } => match self.resting.iter().position(|r| r.id == id) {
                Some(i) => {
                    let r = self.resting.remove(i);
                    out.push(Self::update(now, &r, OrderUpdateKind::Cancelled));
                }
                None => out.push(Self::reject_amend(
                    now,
                    id,
                    InstrumentId::NONE,
                    RejectReason::UnknownOrder,
                )),
            },
            OrderCommand::Modify {
                id,
                price,
                qty,
                filled,
            } => {
                let Some(i) = self.resting.iter().position(|r| r.id == id) else {
                    out.push(Self::reject_amend(
                        now,
                        id,
                        InstrumentId::NONE,
                        RejectReason::UnknownOrder,
                    ));
                    return;
                };
                let mut r = self.resting[i];
                // A new price that would take while the instrument is not trading is refused
                // (see `PaperExchange`).
                let halted = || {
                    market
                        .book(r.instrument)
                        .and_then(|b| b.trading_state())
                        .is_some_and(|s| !s.is_trading())
                };
                let refusal = if qty.0 == 0 || price.0 <= 0 {
                    Some(RejectReason::InvalidOrder)
                } else if price != r.price && Self::crosses(market, &r, price) && halted() {
                    Some(RejectReason::InstrumentNotTrading)
                } else if r.post_only && price != r.price && Self::crosses(market, &r, price) {
                    Some(RejectReason::WouldCross)
                } else {
                    None
                };
                if let Some(why) = refusal {
                    out.push(Self::reject_amend(now, r.id, r.instrument, why));
                    return;
                }
                // Shares that traded beyond what the strategy had heard of come off the open
                // quantity it asked for: a modify never re-opens traded shares.
                let open = qty.0.saturating_sub(r.filled.saturating_sub(filled.0));
                if open == 0 {
                    self.resting.remove(i);
                    out.push(Self::update(now, &r, OrderUpdateKind::Cancelled));
                    return;
                }
                let qty = Qty(open);
                let keeps_priority = price == r.price && qty.0 <= r.leaves;
                let old_price = r.price;
                r.price = price;
                r.leaves = qty.0;
                out.push(Self::update(
                    now,
                    &r,
                    OrderUpdateKind::Modified { price, qty },
                ));
                // A new price takes what lies beyond the old one only. A post-only order never
                // takes (a new price that would was refused above).
                if !r.post_only {
                    Self::take(now, &mut r, Some(old_price), market, out);
                }
                if r.leaves == 0 {
                    self.resting.remove(i);
                    out.push(Self::update(now, &r, OrderUpdateKind::Filled));
                    return;
                }
                if keeps_priority {
                    self.resting[i] = r;
                } else {
                    // Behind our orders already resting at its price too: the order they
                    // rested in is `resting`'s.
                    Self::join_queue(&mut r, market);
                    self.resting.remove(i);
                    self.resting.push(r);
                }
            }
        }
    }

    fn on_market(
        &mut self,
        event: &MarketEvent,
        trade: Option<&TradePrint>,
        _market: &Market,
        out: &mut Vec<VenueReport>,
    ) {
        // A print of another instrument than the event names (an execution naming an order
        // that rests elsewhere: corrupt input) fills nothing here, as in the paper exchange.
        let Some(t) = trade.filter(|t| t.instrument == event.instrument) else {
            return;
        };
        if self.resting.is_empty() {
            return;
        }
        // A hidden print at our price is behind the displayed queue: it reaches us only once
        // nothing displayed is ahead, and takes nothing off what is ahead.
        let hidden = matches!(event.body, EventBody::Trade { .. });
        let through_or_at = |r: &Resting| match r.side {
            Side::Bid => (t.price < r.price, t.price == r.price),
            Side::Ask => (t.price > r.price, t.price == r.price),
        };
        // Our orders the print reaches, in price-time priority (best price first, then the
        // order they rested in), not in the order they were sent.
        let mut reached: Vec<usize> = (0..self.resting.len())
            .filter(|&i| {
                let r = &self.resting[i];
                let (through, at) = through_or_at(r);
                r.instrument == event.instrument
                    && t.resting_side == Some(r.side)
                    && (through || at)
            })
            .collect();
        reached.sort_by_key(|&i| {
            let r = &self.resting[i];
            let better_first = match r.side {
                Side::Bid => -i128::from(r.price.0),
                Side::Ask => i128::from(r.price.0),
            };
            (better_first, i)
        });
        let mut print_left = u64::from(t.qty.0);
        let mut done = Vec::new();
        // A price at which one of our orders is left open by this print: our later orders
        // there are behind it, and get nothing from it.
        let mut blocked: Option<Price> = None;
        for i in reached {
            if print_left == 0 {
                break;
            }
            let r = &mut self.resting[i];
            let (through, at) = through_or_at(r);
            let mut available = print_left;
            if at && !through {
                if hidden {
                    if blocked == Some(r.price) || r.ahead > 0 {
                        blocked = Some(r.price);
                        continue;
                    }
                } else {
                    // The displayed shares it executed were ahead of this order too, even
                    // when an earlier order of ours there keeps it from filling.
                    let consumed = available.min(r.ahead);
                    r.ahead -= consumed;
                    available -= consumed;
                    if blocked == Some(r.price) {
                        continue;
                    }
                }
            }
            let qty = u32::try_from(available.min(u64::from(r.leaves))).unwrap_or(r.leaves);
            if at && !through && qty < r.leaves {
                blocked = Some(r.price);
            }
            if qty == 0 {
                continue;
            }
            print_left -= u64::from(qty);
            r.leaves -= qty;
            r.filled = r.filled.saturating_add(qty);
            let r = *r;
            out.push(VenueReport::Fill(Fill {
                ts: t.ts,
                id: r.id,
                instrument: r.instrument,
                side: r.side,
                price: r.price,
                qty: Qty(qty),
                leaves: Qty(r.leaves),
                liquidity: Liquidity::Maker,
                fee: 0,
            }));
            if r.leaves == 0 {
                out.push(Self::update(t.ts, &r, OrderUpdateKind::Filled));
                done.push(i);
            }
        }
        // Filled orders leave; the others keep their resting order.
        done.sort_unstable();
        for i in done.into_iter().rev() {
            self.resting.remove(i);
        }
    }

    fn cancel_all(
        &mut self,
        now: Timestamp,
        strategy: Option<StrategyId>,
        out: &mut Vec<VenueReport>,
    ) {
        self.resting.retain(|r| {
            let hit = strategy.is_none_or(|s| r.id.strategy() == s.0);
            if hit {
                out.push(Self::update(now, r, OrderUpdateKind::Cancelled));
            }
            !hit
        });
    }

    fn working_orders(&self) -> usize {
        self.resting.len()
    }

    fn watches(&self, instrument: InstrumentId) -> bool {
        self.resting.iter().any(|r| r.instrument == instrument)
    }
}
