//! The book of one instrument: [`OrderBook`], a read-only view into a [`Market`].
//!
//! Every live order is known with its side, price, remaining quantity and exact queue position;
//! levels aggregate their orders' quantities and keep them in FIFO (time-priority) order.
//! Quantities of levels are `u64` (sum of `u32` order sizes).
//!
//! # Derived prices
//!
//! All derived prices are computed in integer arithmetic (`i128` intermediates, no overflow, no
//! `f64`), rounded toward negative infinity (floor) in units of `Price` (1/10000):
//!
//! * [`OrderBook::spread`] = `best_ask - best_bid` (negative when crossed; the one derived
//!   price that can leave `i64`, with prices near its ends, and then saturates).
//! * [`OrderBook::mid`] = `floor((best_bid + best_ask) / 2)`.
//! * [`OrderBook::microprice`] = `floor((best_bid * ask_qty + best_ask * bid_qty) /
//!   (bid_qty + ask_qty))`: the size-weighted mid, leaning toward the side with less quantity
//!   (the price more likely to trade next).

use ticklane_core::TradingState;
use ticklane_core::{InstrumentId, InstrumentInfo, OrderId, Price, Qty, Side, Symbol, Timestamp};

use crate::market::Market;
use crate::store::{Ladder, LevelSlot, NIL};

/// Book storage of one instrument inside a [`Market`] (the orders and level slots live in the
/// market-wide slabs).
#[derive(Clone, Debug)]
pub(crate) struct Book {
    /// Instrument of this book.
    pub id: InstrumentId,
    /// Level ladders, indexed by [`Side::index`].
    pub sides: [Ladder; 2],
    /// Whether the book is crossed or locked (kept to count transitions).
    pub crossed: bool,
    /// Reference data, when a directory message was seen.
    pub info: Option<InstrumentInfo>,
    /// When `info` was last set, in the market's count of directory entries (the latest of
    /// several instruments naming one symbol holds it).
    pub named_at: u64,
    /// Trading state in effect, when one was seen: the regulatory state (`H`) unless it allows
    /// trading and an operational halt (`h`) is in effect.
    pub state: Option<TradingState>,
    /// Latest regulatory trading state (`Halted`, `Paused`, `QuotationOnly`, `Trading`).
    pub regulatory: Option<TradingState>,
    /// Whether an operational halt of this venue is in effect (`h` `H` not yet lifted).
    pub operational_halt: bool,
    /// Live orders in this book.
    pub orders: u32,
    /// Level hints, per side ([`Side::index`]): entry [`hint_of`]`(price)` holds the level slot
    /// last found or made for a price with that hash. An add checks the hinted slot (live, its
    /// price, this book and side: [`LevelSlot::owner`]) and searches the ladder only when it
    /// is not that level. A stale hint (its level gone, the slot reused elsewhere, or another
    /// price with the same hash) fails the check, so hints need no invalidation.
    pub hints: [[u32; HINTS]; 2],
}

/// Level hints per side of a book ([`Book::hints`]): 64 entries, 256 bytes a side.
pub(crate) const HINTS: usize = 64;
const _: () = assert!(HINTS.is_power_of_two() && HINTS > 1);

/// The hint entry of `price`: the top bits of a Fibonacci (multiplicative) hash, so that the
/// prices of nearby ticks, whatever the tick size, take spread-out entries.
#[inline(always)]
pub(crate) fn hint_of(price: Price) -> usize {
    const FIB: u64 = 0x9E37_79B9_7F4A_7C15;
    ((price.0 as u64).wrapping_mul(FIB) >> (u64::BITS - HINTS.trailing_zeros())) as usize
}

/// Initial level capacity of each side of a new book.
const LADDER_CAPACITY: usize = 32;

impl Book {
    pub(crate) fn new(id: InstrumentId) -> Self {
        Self {
            id,
            sides: [
                Ladder::with_capacity(LADDER_CAPACITY),
                Ladder::with_capacity(LADDER_CAPACITY),
            ],
            crossed: false,
            info: None,
            named_at: 0,
            state: None,
            regulatory: None,
            operational_halt: false,
            orders: 0,
            hints: [[NIL; HINTS]; 2],
        }
    }

    /// Whether best bid >= best ask (read from the ladders' kept best keys alone).
    #[inline]
    pub(crate) fn compute_crossed(&self) -> bool {
        match (
            self.sides[Side::Bid.index()].best_key(),
            self.sides[Side::Ask.index()].best_key(),
        ) {
            (Some(bid), Some(ask_key)) => bid >= !ask_key,
            _ => false,
        }
    }
}

/// One aggregated price level.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct LevelView {
    /// Level price.
    pub price: Price,
    /// Total remaining displayed quantity of the level's orders.
    pub qty: u64,
    /// Number of orders at the level.
    pub orders: u32,
}

impl LevelView {
    #[inline(always)]
    pub(crate) fn of(l: &LevelSlot) -> Self {
        Self {
            price: l.price,
            qty: l.qty,
            orders: l.count,
        }
    }
}

/// One live order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OrderView {
    /// Order reference.
    pub id: OrderId,
    /// Instrument it rests in.
    pub instrument: InstrumentId,
    /// Resting side.
    pub side: Side,
    /// Resting (limit) price.
    pub price: Price,
    /// Remaining displayed quantity.
    pub qty: Qty,
    /// Event time of the add (or of the replace that created it).
    pub added: Timestamp,
}

/// Read-only view of one instrument's book. Cheap to copy; borrows the [`Market`].
///
/// `Debug` prints a summary (instrument, order count, best levels), not the whole market.
#[derive(Clone, Copy)]
pub struct OrderBook<'a> {
    pub(crate) market: &'a Market,
    pub(crate) idx: u32,
}

impl<'a> OrderBook<'a> {
    #[inline(always)]
    fn book(&self) -> &'a Book {
        &self.market.books[self.idx as usize]
    }

    #[inline(always)]
    fn level_slot(&self, l: u32) -> &'a LevelSlot {
        &self.market.levels.slots[l as usize]
    }

    /// Whether this book can no longer be trusted because the feed lost messages for good
    /// (see [`crate::Market::stale`]).
    pub fn is_stale(&self) -> bool {
        self.market.stale().is_some()
    }

    /// Instrument of this book.
    pub fn instrument(&self) -> InstrumentId {
        self.book().id
    }

    /// Reference data from the instrument directory, if seen.
    pub fn info(&self) -> Option<&'a InstrumentInfo> {
        self.book().info.as_ref()
    }

    /// Symbol from the instrument directory, if seen.
    pub fn symbol(&self) -> Option<Symbol> {
        self.book().info.map(|i| i.symbol)
    }

    /// Trading state in effect, if one was seen: the latest regulatory state (`H`), or
    /// `OperationalHalt` while an operational halt (`h`) is in effect and the regulatory state
    /// allows trading (lifting either halt does not end the other).
    pub fn trading_state(&self) -> Option<TradingState> {
        self.book().state
    }

    /// Number of live orders (both sides).
    pub fn order_count(&self) -> usize {
        self.book().orders as usize
    }

    /// Number of price levels on `side`.
    pub fn level_count(&self, side: Side) -> usize {
        self.book().sides[side.index()].len()
    }

    /// Best level of `side`.
    #[inline]
    pub fn best(&self, side: Side) -> Option<LevelView> {
        self.book().sides[side.index()]
            .best()
            .map(|l| LevelView::of(self.level_slot(l)))
    }

    /// Best (highest) bid level.
    #[inline]
    pub fn best_bid(&self) -> Option<LevelView> {
        self.best(Side::Bid)
    }

    /// Best (lowest) ask level.
    #[inline]
    pub fn best_ask(&self) -> Option<LevelView> {
        self.best(Side::Ask)
    }

    /// Levels of `side`, best first.
    pub fn levels(&self, side: Side) -> Levels<'a> {
        Levels {
            book: *self,
            entries: self.book().sides[side.index()].levels().iter().rev(),
        }
    }

    /// The best `n` levels of `side`, best first (fewer if the side has fewer).
    pub fn depth(&self, side: Side, n: usize) -> Vec<LevelView> {
        self.levels(side).take(n).collect()
    }

    /// The level at `price` on `side`.
    pub fn level(&self, side: Side, price: Price) -> Option<LevelView> {
        let ladder = &self.book().sides[side.index()];
        let pos = ladder.find(Ladder::key(side, price)).ok()?;
        Some(LevelView::of(self.level_slot(ladder.levels()[pos].1)))
    }

    /// Orders at `price` on `side` in FIFO (time-priority) order; empty if there is no level.
    pub fn level_orders(&self, side: Side, price: Price) -> LevelOrders<'a> {
        let ladder = &self.book().sides[side.index()];
        let head = match ladder.find(Ladder::key(side, price)) {
            Ok(pos) => self.level_slot(ladder.levels()[pos].1).head,
            Err(_) => NIL,
        };
        LevelOrders {
            market: self.market,
            next: head,
        }
    }

    /// A live order of this book (`None` if unknown or resting in another instrument).
    pub fn order(&self, id: OrderId) -> Option<OrderView> {
        let slot = self.market.index.get(id, self.market.key_of())?;
        (self.market.orders.slots[slot as usize].book == self.idx)
            .then(|| self.market.order_view(slot))
    }

    /// Displayed quantity queued ahead of order `id` at its price level (0 at the head).
    /// `None` if the order is not live in this book. O(orders ahead of it).
    pub fn qty_ahead(&self, id: OrderId) -> Option<u64> {
        let slot = self.market.index.get(id, self.market.key_of())?;
        if self.market.orders.slots[slot as usize].book != self.idx {
            return None;
        }
        Some(self.market.qty_ahead_slot(slot))
    }

    /// The resting side of a hidden (non-displayed) order that printed at `price`, inferred
    /// from this book: `Ask` at or above the best ask (a buyer lifted a hidden sell), `Bid`
    /// at or below the best bid (a seller hit a hidden buy), `None` strictly inside the spread
    /// (a midpoint or other hidden order: either side), with both sides empty, or when the
    /// book is locked or crossed and the price satisfies both rules.
    ///
    /// ITCH 5.0's Trade message (`P`) carries a Buy/Sell indicator, but NASDAQ has set it to
    /// `B` on every print since 2014-07-14 whatever the resting side, so the indicator cannot
    /// decide a fill; this can. Read it before or after applying the print: a `P` does not
    /// change the book.
    pub fn hidden_print_side(&self, price: Price) -> Option<Side> {
        let at_or_above_ask = self.best_ask().is_some_and(|a| price >= a.price);
        let at_or_below_bid = self.best_bid().is_some_and(|b| price <= b.price);
        match (at_or_above_ask, at_or_below_bid) {
            (true, false) => Some(Side::Ask),
            (false, true) => Some(Side::Bid),
            _ => None,
        }
    }

    /// `best_ask - best_bid`; `None` if a side is empty. Negative when crossed. Saturates at
    /// the ends of `i64` (only prices beyond any exchange's, from a LOBSTER file, reach them).
    pub fn spread(&self) -> Option<Price> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        Some(Price(a.price.0.saturating_sub(b.price.0)))
    }

    /// `floor((best_bid + best_ask) / 2)` in price units (1/10000), exact integer arithmetic;
    /// `None` if a side is empty.
    pub fn mid(&self) -> Option<Price> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        let sum = i128::from(b.price.0) + i128::from(a.price.0);
        Some(Price(sum.div_euclid(2) as i64))
    }

    /// Size-weighted mid: `floor((bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty))` in
    /// price units, computed in `i128` (exact, no overflow, no floating point); `None` if a
    /// side is empty. Always between the best bid and the best ask.
    pub fn microprice(&self) -> Option<Price> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        let (bq, aq) = (i128::from(b.qty), i128::from(a.qty));
        let num = i128::from(b.price.0) * aq + i128::from(a.price.0) * bq;
        // Levels are never empty, so the denominator is positive.
        let den = (bq + aq).max(1);
        Some(Price(num.div_euclid(den) as i64))
    }

    /// Whether the book is crossed or locked: best bid >= best ask. A single venue's own book
    /// is never legitimately in this state (its matching engine would have traded).
    pub fn is_crossed(&self) -> bool {
        self.book().compute_crossed()
    }
}

impl core::fmt::Debug for OrderBook<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OrderBook")
            .field("instrument", &self.instrument())
            .field("symbol", &self.symbol())
            .field("orders", &self.order_count())
            .field("best_bid", &self.best_bid())
            .field("best_ask", &self.best_ask())
            .finish()
    }
}

/// Iterator over the levels of one side, best first. See [`OrderBook::levels`].
#[derive(Clone, Debug)]
pub struct Levels<'a> {
    book: OrderBook<'a>,
    entries: core::iter::Rev<core::slice::Iter<'a, (i64, u32)>>,
}

impl Iterator for Levels<'_> {
    type Item = LevelView;

    #[inline]
    fn next(&mut self) -> Option<LevelView> {
        let &(_, l) = self.entries.next()?;
        Some(LevelView::of(self.book.level_slot(l)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl ExactSizeIterator for Levels<'_> {}

/// Iterator over the orders of one level in FIFO order. See [`OrderBook::level_orders`].
#[derive(Clone)]
pub struct LevelOrders<'a> {
    market: &'a Market,
    next: u32,
}

impl core::fmt::Debug for LevelOrders<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LevelOrders")
            .field("next_slot", &self.next)
            .finish()
    }
}

impl Iterator for LevelOrders<'_> {
    type Item = OrderView;

    #[inline]
    fn next(&mut self) -> Option<OrderView> {
        if self.next == NIL {
            return None;
        }
        let slot = self.next;
        self.next = self.market.orders.slots[slot as usize].next;
        Some(self.market.order_view(slot))
    }
}
