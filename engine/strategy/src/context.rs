//! [`Context`]: what a strategy can see and do during a callback.

use core::fmt;

use ticklane_book::{Market, OrderBook};
use ticklane_core::{InstrumentId, Price, Qty, Side, Symbol, Timestamp};

use crate::order::{
    ClientOrderId, Fill, OrderCommand, OrderRequest, OrderState, OrderUpdate, OrderUpdateKind,
    TimeInForce,
};
use crate::position::{Position, Positions};
use crate::timer::{TimerId, TimerQueue};

/// Index of a strategy instance in the run's configuration (its `[[strategy]]` order).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct StrategyId(pub u16);

/// One strategy's orders and positions, kept by the lane and shown to the strategy through
/// its [`Context`].
#[derive(Debug, Default)]
pub struct Outbox {
    /// Working orders (submitted, not yet done), in submission order.
    orders: Vec<OrderState>,
    /// Positions by instrument.
    positions: Positions,
    /// Orders submitted so far (the next order's counter).
    submitted: u64,
    /// Commands sent during the current callback, for the lane to route.
    pending: Vec<OrderCommand>,
}

impl Outbox {
    /// An empty outbox with room for `orders` working orders.
    pub fn with_capacity(orders: usize) -> Self {
        Self {
            orders: Vec::with_capacity(orders),
            pending: Vec::with_capacity(orders),
            ..Self::default()
        }
    }

    /// Commands sent since the last drain, in order.
    pub fn pending(&self) -> &[OrderCommand] {
        &self.pending
    }

    /// Takes the commands sent since the last drain into `out` (no allocation once warm).
    pub fn drain_pending_into(&mut self, out: &mut Vec<OrderCommand>) {
        out.append(&mut self.pending);
    }

    /// Working orders.
    pub fn orders(&self) -> &[OrderState] {
        &self.orders
    }

    /// The working order `id`, if it is one.
    pub fn order(&self, id: ClientOrderId) -> Option<&OrderState> {
        self.orders.iter().find(|o| o.id == id)
    }

    /// Positions.
    pub fn positions(&self) -> &Positions {
        &self.positions
    }

    /// Exchanges the positions of instruments `a` and `b` (the lane's, when a new trading day
    /// gives a symbol held overnight another stock locate; no order works then).
    pub fn swap_instruments(&mut self, a: InstrumentId, b: InstrumentId) {
        self.positions.swap(a, b);
    }

    /// Orders submitted so far.
    pub fn submitted(&self) -> u64 {
        self.submitted
    }

    /// Applies a venue update: marks orders accepted, applies modifies, forgets finished ones.
    pub fn apply_update(&mut self, update: &OrderUpdate) {
        let Some(i) = self.orders.iter().position(|o| o.id == update.id) else {
            return;
        };
        match update.kind {
            OrderUpdateKind::Accepted => self.orders[i].accepted = true,
            OrderUpdateKind::Modified { price, qty } => {
                let o = &mut self.orders[i];
                o.request.price = price;
                o.request.qty = Qty(qty.0.saturating_add(o.filled.0));
                o.open = qty;
            }
            // A refused cancel or modify: the order itself is unchanged. (A venue that reports
            // one as `Rejected` on an accepted order is read the same way.)
            OrderUpdateKind::AmendRejected(_) => {}
            OrderUpdateKind::Rejected(_) if self.orders[i].accepted => {}
            OrderUpdateKind::Rejected(_)
            | OrderUpdateKind::Cancelled
            | OrderUpdateKind::Expired
            | OrderUpdateKind::Filled => {
                self.orders.remove(i);
            }
        }
    }

    /// Applies a fill to the order and the position.
    pub fn apply_fill(&mut self, fill: &Fill) {
        self.positions.apply(fill);
        if let Some(o) = self.orders.iter_mut().find(|o| o.id == fill.id) {
            o.filled = Qty(o.filled.0.saturating_add(fill.qty.0));
            o.open = Qty(o.open.0.saturating_sub(fill.qty.0));
        }
    }

    /// Forgets every working order (after the lane cancelled them all, e.g. on restart).
    pub fn clear_orders(&mut self) {
        self.orders.clear();
        self.pending.clear();
    }
}

/// What a strategy sees and can do during one callback.
///
/// Borrowed from the lane for the duration of the callback: the books are read-only, orders go
/// to the strategy's outbox and leave when the callback returns, timers go to the lane's queue.
pub struct Context<'a> {
    now: Timestamp,
    id: StrategyId,
    name: &'a str,
    market: &'a Market,
    outbox: &'a mut Outbox,
    timers: &'a mut TimerQueue,
    trading: bool,
    /// The instruments whose books this strategy may read: `None` every one in the market
    /// (tests), else those whose mask in `.0` (by instrument id) has bit `.1`.
    visible: Option<(&'a [u64], u64)>,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("now", &self.now)
            .field("strategy", &self.name)
            .field("trading", &self.trading)
            .finish_non_exhaustive()
    }
}

impl<'a> Context<'a> {
    /// Builds a context (the lane does this; tests of strategies may too).
    pub fn new(
        now: Timestamp,
        id: StrategyId,
        name: &'a str,
        market: &'a Market,
        outbox: &'a mut Outbox,
        timers: &'a mut TimerQueue,
        trading: bool,
    ) -> Self {
        Self {
            now,
            id,
            name,
            market,
            outbox,
            timers,
            trading,
            visible: None,
        }
    }

    /// Limits the books this strategy can read to its subscriptions: instrument `i` is
    /// visible when `masks[i]` has bit `bit` (the lane passes its subscription masks). A book
    /// outside them would be one the strategy sees only in some lane layouts (an instrument
    /// sharded to another lane is not there), so what it decides could depend on the number
    /// of lanes: it reads as absent instead.
    pub fn with_subscriptions(mut self, masks: &'a [u64], bit: u64) -> Self {
        self.visible = Some((masks, bit));
        self
    }

    /// Whether this strategy may read `instrument`'s book.
    #[inline]
    fn sees(&self, instrument: InstrumentId) -> bool {
        match self.visible {
            None => true,
            Some((masks, bit)) => masks
                .get(instrument.0 as usize)
                .is_some_and(|m| m & bit != 0),
        }
    }

    /// Current event time: the timestamp of the event (or timer deadline) being processed.
    #[inline]
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// This strategy's index in the configuration.
    pub fn strategy_id(&self) -> StrategyId {
        self.id
    }

    /// This strategy instance's configured name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// Whether orders are accepted now: false after the kill switch or a lane halt (submits
    /// are then rejected with `TradingHalted`), and for a strategy whose own risk limit
    /// tripped (the daily loss limit: its orders were cancelled and new ones are refused).
    pub fn trading_enabled(&self) -> bool {
        self.trading
    }

    /// The book of `instrument`, if the lane has seen it and this strategy subscribes to it
    /// (see [`Context::with_subscriptions`]).
    #[inline]
    pub fn book(&self, instrument: InstrumentId) -> Option<OrderBook<'a>> {
        if !self.sees(instrument) {
            return None;
        }
        self.market.book(instrument)
    }

    /// The book of the instrument named `symbol`, as [`Context::book`].
    pub fn book_by_symbol(&self, symbol: &str) -> Option<OrderBook<'a>> {
        self.book(self.instrument(symbol)?)
    }

    /// The id of the instrument named `symbol`, once its directory entry arrived (for the
    /// instruments this strategy subscribes to).
    pub fn instrument(&self, symbol: &str) -> Option<InstrumentId> {
        self.market
            .instrument_id(Symbol::new(symbol)?)
            .filter(|&i| self.sees(i))
    }

    /// Position in `instrument`.
    pub fn position(&self, instrument: InstrumentId) -> Position {
        self.outbox.positions.get(instrument)
    }

    /// All positions.
    pub fn positions(&self) -> &Positions {
        &self.outbox.positions
    }

    /// Working orders (including submits the venue has not acknowledged yet).
    pub fn open_orders(&self) -> &[OrderState] {
        &self.outbox.orders
    }

    /// One working order.
    pub fn order(&self, id: ClientOrderId) -> Option<&OrderState> {
        self.outbox.order(id)
    }

    /// Sends a new limit order; returns its id. The order is working (unacknowledged) at once;
    /// acceptance, rejection and fills arrive as callbacks. An order for an instrument outside
    /// this strategy's subscriptions is refused by the lane
    /// ([`RejectReason::NotSubscribed`](crate::RejectReason::NotSubscribed)).
    pub fn submit(&mut self, request: OrderRequest) -> ClientOrderId {
        let id = ClientOrderId::new(self.id.0, self.outbox.submitted);
        self.outbox.submitted += 1;
        self.outbox.orders.push(OrderState {
            id,
            request,
            filled: Qty(0),
            open: request.qty,
            accepted: false,
        });
        self.outbox
            .pending
            .push(OrderCommand::Submit { id, request });
        id
    }

    /// Shorthand for a limit order.
    pub fn limit(
        &mut self,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
        tif: TimeInForce,
    ) -> ClientOrderId {
        self.submit(OrderRequest {
            instrument,
            side,
            price,
            qty,
            tif,
        })
    }

    /// Asks to cancel an order's remainder. Only this strategy's own orders: naming another
    /// strategy's order is answered `AmendRejected(UnknownOrder)` and touches nothing.
    pub fn cancel(&mut self, id: ClientOrderId) {
        self.outbox.pending.push(OrderCommand::Cancel { id });
    }

    /// Cancels every working order of this strategy (in `instrument`, or all with `None`).
    pub fn cancel_all(&mut self, instrument: Option<InstrumentId>) {
        let Outbox {
            orders, pending, ..
        } = &mut *self.outbox;
        for o in orders.iter() {
            if instrument.is_none_or(|i| o.request.instrument == i) {
                pending.push(OrderCommand::Cancel { id: o.id });
            }
        }
    }

    /// Asks to change an order's price and open quantity (this strategy's own orders only, as
    /// for [`Context::cancel`]). `qty` is the open quantity wanted as of the fills this
    /// strategy has heard of: shares that traded meanwhile (fills still on their way back, or
    /// executions while the modify travels) are taken off it, never re-opened.
    pub fn modify(&mut self, id: ClientOrderId, price: Price, qty: Qty) {
        let filled = self
            .outbox
            .orders
            .iter()
            .find(|o| o.id == id)
            .map_or(Qty(0), |o| o.filled);
        self.outbox.pending.push(OrderCommand::Modify {
            id,
            price,
            qty,
            filled,
        });
    }

    /// Arms a timer that fires when event time reaches `deadline`. A deadline at or before
    /// [`Context::now`] means "at once": the timer fires at `now`, before the next event; armed
    /// so from `on_timer`, it fires 1 µs after that timer instead (so a timer re-armed at its
    /// own time cannot hold the lane at one instant; see [`TimerQueue`](crate::TimerQueue)).
    pub fn set_timer(&mut self, deadline: Timestamp, timer: TimerId) {
        self.timers.arm(self.now, deadline, self.id, timer);
    }

    /// Logs at info level, tagged with the strategy's name and the event time.
    pub fn info(&self, args: fmt::Arguments<'_>) {
        tracing::info!(target: "strategy", strategy = self.name, ts = %self.now, "{args}");
    }

    /// Logs at warn level, tagged with the strategy's name and the event time.
    pub fn warn(&self, args: fmt::Arguments<'_>) {
        tracing::warn!(target: "strategy", strategy = self.name, ts = %self.now, "{args}");
    }

    /// Logs at debug level, tagged with the strategy's name and the event time.
    pub fn debug(&self, args: fmt::Arguments<'_>) {
        tracing::debug!(target: "strategy", strategy = self.name, ts = %self.now, "{args}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{Fill, Liquidity};

    /// An order of 200 shares, 100 filled, then modified to an open quantity of `u32::MAX`
    /// (the venue now works 4,294,967,295 shares: `Modified { qty }` is the open quantity).
    /// `leaves()` was the order's total (`request.qty = qty + filled`, a `u32` that saturates)
    /// less the fills: 100 shares fewer than the venue works. It is the open quantity now.
    #[test]
    fn leaves_after_a_modify_to_an_open_u32_max_is_what_the_venue_works() {
        let market = Market::new();
        let mut outbox = Outbox::default();
        let mut timers = TimerQueue::with_capacity(1);
        let mut ctx = Context::new(
            Timestamp(1),
            StrategyId(0),
            "t",
            &market,
            &mut outbox,
            &mut timers,
            true,
        );
        let id = ctx.limit(
            InstrumentId(1),
            Side::Bid,
            Price(10_0000),
            Qty(200),
            TimeInForce::Day,
        );
        let update = |kind| OrderUpdate {
            ts: Timestamp(2),
            id,
            instrument: InstrumentId(1),
            kind,
        };
        outbox.apply_update(&update(OrderUpdateKind::Accepted));
        outbox.apply_fill(&Fill {
            ts: Timestamp(2),
            id,
            instrument: InstrumentId(1),
            side: Side::Bid,
            price: Price(10_0000),
            qty: Qty(100),
            leaves: Qty(100),
            liquidity: Liquidity::Maker,
            fee: 0,
        });
        assert_eq!(outbox.order(id).map(|o| o.leaves()), Some(Qty(100)));
        outbox.apply_update(&update(OrderUpdateKind::Modified {
            price: Price(10_0000),
            qty: Qty(u32::MAX),
        }));
        assert_eq!(
            outbox.order(id).map(|o| o.leaves()),
            Some(Qty(u32::MAX)),
            "the venue works u32::MAX shares after the modify"
        );
    }
}
