//! Queue / fill models for the paper exchange: when a **resting** order of ours is filled by
//! what happens in the recorded market.
//!
//! [`PaperExchange`](crate::PaperExchange) does the bookkeeping (latency, order entry, taking
//! liquidity, priority among our own orders, sharing a print among them, fees, reports); a
//! [`QueueModel`] makes the one decision that is a modelling choice: given a market event,
//! how many of its shares may fill a given resting order. Two models ship:
//!
//! - [`ExactQueue`] (the default): exact FIFO queue position from order-by-order data. On
//!   joining it snapshots the displayed orders ahead at the level; executions, cancels,
//!   deletes and replaces of those orders move it up; an execution at its price of an order
//!   *not* ahead of it (one that joined later) means the aggressor reached it. The most
//!   faithful model the data allows; optimistic only in what no order-by-order feed can show
//!   (hidden orders ahead, our own effect on other participants).
//! - [`TradeThroughQueue`]: pessimistic. An order fills only when the market trades
//!   **through** its price (a print at a strictly worse price for the aggressor: below our
//!   bid, above our ask) or an order added on the other side crosses it, and then only past
//!   every share displayed at its level when it joined (`ExactQueue` counts only those still
//!   there). Executions at its price never fill it: it is assumed to be always last in the
//!   queue. It never fills more than `ExactQueue` would.
//!
//! # Choosing a model
//!
//! `ExactQueue` is the estimate to trust when the feed is order-by-order (ITCH) and orders
//! are small relative to the displayed size. `TradeThroughQueue` is a **bound**: it fills only
//! when the price moves through the order, which is exactly when a passive fill is worst
//! (the market kept going against us), so it gives a *lower bound on fill rate* and an *upper
//! bound on adverse selection* of a passive strategy. A quant runs it next to `ExactQueue`:
//! a strategy whose edge survives under `TradeThroughQueue` does not depend on queue
//! position; one whose P&L exists only under `ExactQueue` lives on the fills at its price and
//! is sensitive to how exact the queue really is (latency to join the queue, hidden size
//! ahead). It is also the model to use when the data is not order-by-order (trades and
//! top-of-book only), where a queue position cannot be known.
//!
//! # Writing a model
//!
//! A model keeps one [`QueueModel::State`] per resting order (set by [`QueueModel::join`]
//! each time the order joins the back of a level: on acceptance, and after a modify that
//! loses priority) and answers [`QueueModel::on_event`] for every event of the instrument
//! while the order rests. It returns how many shares of the event may fill the order (0: no
//! fill); the exchange fills `min(that, what is left of the event's size, open quantity)`, our
//! orders taking the event's size in price-time priority. Only public types are involved, so
//! a user crate implements it and plugs it in with
//! [`PaperExchange::with_queue_model`](crate::PaperExchange::with_queue_model). `on_event` is
//! on the hot path (every event of an instrument with resting orders, for each of them): it
//! should not allocate.
//!
//! Auction crosses (`CrossTrade`) and executions that do not print are not offered as fills
//! (we do not take part in auctions; a non-printing execution has no known side or price);
//! the latter still reach the model as [`QueueEvent::Executed`] with no print, so that a queue
//! moves.

use core::fmt::Debug;

use ticklane_book::OrderBook;
use ticklane_core::{InstrumentId, OrderId, Price, Qty, Side};
use ticklane_strategy::ClientOrderId;

/// A resting order of ours, as a [`QueueModel`] sees it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct QueueOrder {
    /// Id.
    pub id: ClientOrderId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Limit price (the level it rests at).
    pub price: Price,
    /// Open quantity.
    pub leaves: Qty,
}

impl QueueOrder {
    /// Whether `print` hit resting orders on our side at our price.
    #[inline]
    pub fn at_price(&self, print: &Print) -> bool {
        print.side == self.side && print.price == self.price
    }

    /// Whether `print` traded through our price: resting orders on our side were hit at a
    /// worse price than ours (below our bid, above our ask), so the aggressor would have
    /// reached us first.
    #[inline]
    pub fn traded_through(&self, print: &Print) -> bool {
        print.side == self.side
            && match self.side {
                Side::Bid => print.price < self.price,
                Side::Ask => print.price > self.price,
            }
    }

    /// Whether an order added on `side` at `price` crosses (or locks) ours: it is on the other
    /// side and its price reaches ours, so it would have executed against us.
    #[inline]
    pub fn crossed_by(&self, side: Side, price: Price) -> bool {
        side == self.side.opposite()
            && match side {
                Side::Bid => self.price <= price,
                Side::Ask => self.price >= price,
            }
    }
}

/// A print: resting orders on `side` were hit at `price` for `qty` shares.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Print {
    /// Side of the resting order(s) hit (`Bid`: a seller hit resting bids).
    pub side: Side,
    /// Execution price.
    pub price: Price,
    /// Executed quantity.
    pub qty: Qty,
}

/// What a market event means for a resting order's queue, as [`QueueModel::on_event`] gets
/// it. One recorded event can be two queue events (a replace: [`QueueEvent::Removed`] of the
/// old order, then [`QueueEvent::Added`] of the new one). Non-exhaustive: models ignore what
/// they do not know (`_ => 0`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum QueueEvent {
    /// Displayed order `order_id` executed `qty` shares (any side, any level). `print`: the
    /// print it made (`None` when it did not print).
    Executed {
        /// The executed order.
        order_id: OrderId,
        /// Shares executed.
        qty: Qty,
        /// The print.
        print: Option<Print>,
    },
    /// A non-displayed execution (hidden liquidity was hit): it names no displayed order.
    Hidden(Print),
    /// Displayed order `order_id` cancelled `qty` shares (it stays in the book).
    Cancelled {
        /// The order.
        order_id: OrderId,
        /// Shares cancelled.
        qty: Qty,
    },
    /// Displayed order `order_id` left the book with all it had left (a delete, or the old
    /// order of a replace).
    Removed {
        /// The order.
        order_id: OrderId,
    },
    /// An order was added (or is the new order of a replace) on `side` at `price`.
    Added {
        /// The new order.
        order_id: OrderId,
        /// Its side.
        side: Side,
        /// Its price.
        price: Price,
        /// Its displayed quantity.
        qty: Qty,
    },
}

impl QueueEvent {
    /// Shares the event can fill in all (shared among our resting orders): the print's size,
    /// or the added order's size; 0 for events that cannot fill.
    #[inline]
    pub fn size(&self) -> u32 {
        match *self {
            QueueEvent::Executed { print: Some(p), .. } | QueueEvent::Hidden(p) => p.qty.0,
            QueueEvent::Added { qty, .. } => qty.0,
            _ => 0,
        }
    }
}

/// When a resting order fills: the queue/fill model of the paper exchange (see the
/// [module docs](self)).
pub trait QueueModel: Send {
    /// What the model keeps per resting order.
    type State: Clone + Debug + Default + Send;

    /// `order` joins the back of its level in `book` (the recorded book, which never contains
    /// our orders: `book.level_orders(order.side, order.price)` are exactly the displayed
    /// orders ahead of it). Sets `state` whole, whatever it held: it is a fresh `Default`,
    /// the state an order that finished left (the paper exchange keeps them, so that a
    /// resting order allocates nothing once warm), or the order's own after a modify that
    /// loses priority. Reuse its buffers.
    fn join(&mut self, order: &QueueOrder, book: &OrderBook<'_>, state: &mut Self::State);

    /// An event of `order`'s instrument while `order` rests (called after the event was
    /// applied to the book, for each of our resting orders in the instrument, either side).
    /// Updates `state`; returns the most shares of this event that may fill `order` at its
    /// price (0: none). Must not allocate.
    fn on_event(&mut self, order: &QueueOrder, state: &mut Self::State, event: &QueueEvent) -> u32;

    /// Displayed quantity and number of displayed orders ahead of an order, as the model
    /// tracks them ([`crate::WorkingOrder::queue_ahead`]). Models that do not track a queue
    /// keep the default, `(0, 0)`.
    fn queue_ahead(&self, state: &Self::State) -> (u64, usize) {
        let _ = state;
        (0, 0)
    }
}

/// Exact FIFO queue position from order-by-order data (the default model). See the
/// [module docs](self) and the paper exchange's
/// [queue position](crate::paper#queue-position-exact-from-order-by-order-data) rules.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct ExactQueue;

/// The displayed orders ahead of a resting order ([`ExactQueue`]'s state): their ids and
/// remaining quantities, sorted by id.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct OrdersAhead {
    ahead: Vec<(OrderId, u32)>,
    qty: u64,
}

impl OrdersAhead {
    /// Displayed quantity ahead.
    pub fn qty(&self) -> u64 {
        self.qty
    }

    /// Number of displayed orders ahead.
    pub fn len(&self) -> usize {
        self.ahead.len()
    }

    /// Whether nothing displayed is ahead (the head of the displayed queue).
    pub fn is_empty(&self) -> bool {
        self.ahead.is_empty()
    }

    /// Order `x` lost `qty` shares (`None`: all of them). Returns whether `x` was ahead.
    fn reduce(&mut self, x: OrderId, qty: Option<u32>) -> bool {
        let Ok(k) = self.ahead.binary_search_by_key(&x, |e| e.0) else {
            return false;
        };
        let left = self.ahead[k].1;
        let q = qty.map_or(left, |q| q.min(left));
        self.qty -= u64::from(q);
        if q == left {
            self.ahead.remove(k);
        } else {
            self.ahead[k].1 = left - q;
        }
        true
    }
}

impl QueueModel for ExactQueue {
    type State = OrdersAhead;

    fn join(&mut self, order: &QueueOrder, book: &OrderBook<'_>, state: &mut OrdersAhead) {
        // Nobody can join ahead later (a replace is a new id at the back): the set only
        // shrinks. Sorted by id for a binary search per event.
        state.ahead.clear();
        state.ahead.extend(
            book.level_orders(order.side, order.price)
                .map(|o| (o.id, o.qty.0)),
        );
        state.ahead.sort_unstable_by_key(|e| e.0);
        state.qty = state.ahead.iter().map(|e| u64::from(e.1)).sum();
    }

    #[inline]
    fn on_event(&mut self, order: &QueueOrder, state: &mut OrdersAhead, event: &QueueEvent) -> u32 {
        match *event {
            QueueEvent::Executed {
                order_id,
                qty,
                print,
            } => {
                let was_ahead = state.reduce(order_id, Some(qty.0));
                match print {
                    // At our price: only an order that was not ahead of us (it joined after
                    // us) means the aggressor reached us.
                    Some(p) if order.traded_through(&p) || (order.at_price(&p) && !was_ahead) => {
                        p.qty.0
                    }
                    _ => 0,
                }
            }
            // Displayed orders have priority over hidden ones at a price.
            QueueEvent::Hidden(p)
                if order.traded_through(&p) || (order.at_price(&p) && state.qty == 0) =>
            {
                p.qty.0
            }
            QueueEvent::Cancelled { order_id, qty } => {
                state.reduce(order_id, Some(qty.0));
                0
            }
            QueueEvent::Removed { order_id } => {
                state.reduce(order_id, None);
                0
            }
            // It reaches our level, where the displayed shares ahead of us take it first
            // (the recorded book is locked or crossed there: our order is not in it).
            QueueEvent::Added {
                side, price, qty, ..
            } if order.crossed_by(side, price) => {
                u32::try_from(u64::from(qty.0).saturating_sub(state.qty)).unwrap_or(0)
            }
            _ => 0,
        }
    }

    fn queue_ahead(&self, state: &OrdersAhead) -> (u64, usize) {
        (state.qty, state.ahead.len())
    }
}

/// Pessimistic: always last in the queue. A resting order fills only on a print **through**
/// its price (displayed or hidden) or an order added on the other side that crosses it;
/// prints at its price never fill it. Keeps, per order, the displayed quantity and number of
/// orders at its level when it joined (all of it ahead, for good), and reports them as its
/// queue ahead. See the [module docs](self#choosing-a-model) for when to use it (a lower bound on
/// fill rate, an upper bound on adverse selection).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct TradeThroughQueue;

impl QueueModel for TradeThroughQueue {
    /// The displayed quantity and number of orders at the order's level when it joined: all
    /// of it ahead, for good.
    type State = (u64, usize);

    fn join(&mut self, order: &QueueOrder, book: &OrderBook<'_>, state: &mut (u64, usize)) {
        *state = book
            .level_orders(order.side, order.price)
            .fold((0, 0), |(q, n), o| (q + u64::from(o.qty.0), n + 1));
    }

    #[inline]
    fn on_event(
        &mut self,
        order: &QueueOrder,
        state: &mut (u64, usize),
        event: &QueueEvent,
    ) -> u32 {
        match *event {
            QueueEvent::Executed { print: Some(p), .. } | QueueEvent::Hidden(p)
                if order.traded_through(&p) =>
            {
                p.qty.0
            }
            // Past everything displayed at our level when we joined (we are last there).
            QueueEvent::Added {
                side, price, qty, ..
            } if order.crossed_by(side, price) => {
                u32::try_from(u64::from(qty.0).saturating_sub(state.0)).unwrap_or(0)
            }
            _ => 0,
        }
    }

    fn queue_ahead(&self, state: &(u64, usize)) -> (u64, usize) {
        *state
    }
}
