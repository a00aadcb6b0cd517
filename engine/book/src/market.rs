//! [`Market`]: the books of every instrument, fed by [`MarketEvent`]s.
//!
//! One market-wide [`OrderIndex`] maps every live order id to its slot (ITCH order references
//! are unique across instruments for the day), so an execute/cancel/delete/replace costs one
//! index lookup whatever instrument it names. The order remembers its book; if the event names
//! another instrument, that is counted as [`AnomalyKind::InstrumentMismatch`] and the order's
//! own book is updated.

use std::collections::HashMap;

use ticklane_core::{
    EventBody, InstrumentId, InstrumentInfo, MarketEvent, OrderId, Price, Qty, Side, Symbol,
    SystemEventCode, Timestamp, TradingState,
};

use crate::anomaly::{Anomalies, AnomalyKind};
use crate::book::{hint_of, Book, LevelView, OrderBook, OrderView};
use crate::index::OrderIndex;
use crate::invariant::InvariantError;
use crate::store::{Ladder, LevelSlot, OrderSlot, Slab, NIL};

/// Instrument ids below this are mapped through a dense table; larger ones through a `HashMap`.
const DENSE_IDS: u32 = 1 << 20;

/// What one [`Market::apply`] changed.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct ApplyResult {
    /// Instrument whose book the event touched: the event's instrument, or the instrument the
    /// order actually rests in after an [`AnomalyKind::InstrumentMismatch`].
    pub instrument: InstrumentId,
    /// Whether any order or level of the book changed.
    pub book_changed: bool,
    /// Whether the best bid's price or total quantity changed (including appearing or
    /// disappearing).
    pub bid_top_changed: bool,
    /// Whether the best ask's price or total quantity changed.
    pub ask_top_changed: bool,
    /// Whether the touched book is crossed or locked after an event that changed it (`false`
    /// after an event that changed nothing: refused for an anomaly, such as a duplicate add or
    /// a zero-share execution; the book's own state is [`OrderBook::is_crossed`]).
    pub crossed: bool,
    /// Whether the event began a new trading day ([`Market::days`]): every book was emptied.
    pub new_day: bool,
    /// First anomaly the event raised (an event can raise two, e.g. an oversize execution
    /// that leaves the book crossed; [`Market::anomalies`] counts them all).
    pub anomaly: Option<AnomalyKind>,
}

impl ApplyResult {
    /// Whether the best bid or best ask (price or quantity) changed.
    #[inline(always)]
    pub fn top_changed(&self) -> bool {
        self.bid_top_changed || self.ask_top_changed
    }
}

/// Order books of every instrument plus reference data and trading state.
///
/// `Debug` prints a summary (counts and anomalies), not every order.
#[derive(Clone)]
pub struct Market {
    pub(crate) books: Vec<Book>,
    dense: Vec<u32>,
    sparse: HashMap<InstrumentId, u32>,
    by_symbol: HashMap<Symbol, InstrumentId>,
    /// Directory entries recorded (orders `Book::named_at`).
    directories: u64,
    pub(crate) orders: Slab<OrderSlot>,
    pub(crate) levels: Slab<LevelSlot>,
    pub(crate) index: OrderIndex,
    anomalies: Anomalies,
    stale: Option<StaleFeed>,
    /// Trading days begun after the first (see [`Market::days`]).
    new_days: u64,
}

/// Why the books can no longer be trusted: the feed lost messages for good.
///
/// Set by [`ticklane_core::EventBody::FeedGap`]; it stays for the rest of the session (ITCH
/// has no in-band snapshot to rebuild a book from, and nobody knows which books the lost
/// messages touched). Strategies read it through [`OrderBook::is_stale`] and risk refuses new
/// orders while it is set.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StaleFeed {
    /// Event time of the first loss.
    pub since: ticklane_core::Timestamp,
    /// Unrecoverable gaps reported.
    pub gaps: u64,
    /// Messages lost in them (those of the gaps whose size is known).
    pub lost_messages: u64,
    /// Gaps of unknown size (`FeedGap` count 0: a capture of a binary file, a rejoin), whose
    /// messages `lost_messages` does not count.
    pub unknown_size_gaps: u64,
    /// Sequence number of the first message lost.
    pub first_lost: u64,
}

impl core::fmt::Debug for Market {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Market")
            .field("instruments", &self.books.len())
            .field("live_orders", &self.index.len())
            .field("live_levels", &self.levels.live())
            .field("anomalies", &self.anomalies)
            .finish_non_exhaustive()
    }
}

impl Default for Market {
    fn default() -> Self {
        Self::new()
    }
}

/// Top of one side as compared for [`ApplyResult`]: `(price, qty)`, `(i64::MIN, 0)` if empty.
type Top = (i64, u64);

/// A live order found through the index: its slot, and its index handle (so that removing it
/// does not look it up a second time).
#[derive(Clone, Copy)]
struct Found {
    slot: u32,
    entry: usize,
}

impl Market {
    /// Empty market with small initial capacities.
    pub fn new() -> Self {
        Self::with_capacity(1024, 16)
    }

    /// Empty market pre-sized for `orders` simultaneously live orders and `instruments`
    /// instruments (ids `0..=instruments` use a pre-sized dense table), so that a day that
    /// stays within these sizes never reallocates the order slab or the order index. Level
    /// slots are pre-sized to `max(orders / 4, 64 * instruments)`: a day with more live price
    /// levels than that (thin books, about one order a level) grows the level slab, once per
    /// doubling, and a side with more than the ladder's first reserve of levels grows its
    /// ladder the same way (growth, not work per event). The reserves are written here
    /// (faulted in), so that the first use of a slot during the session takes no page fault.
    pub fn with_capacity(orders: usize, instruments: usize) -> Self {
        let dense_len = instruments.saturating_add(1).min(DENSE_IDS as usize);
        Self {
            books: Vec::with_capacity(instruments),
            dense: vec![NIL; dense_len],
            sparse: HashMap::new(),
            by_symbol: HashMap::with_capacity(instruments),
            directories: 0,
            orders: Slab::with_capacity(orders),
            levels: Slab::with_capacity((orders / 4).max(instruments.saturating_mul(64))),
            index: OrderIndex::with_capacity(orders),
            anomalies: Anomalies::new(),
            stale: None,
            new_days: 0,
        }
    }

    // ----------------------------------------------------------------- queries

    /// Anomaly counters since creation.
    pub fn anomalies(&self) -> &Anomalies {
        &self.anomalies
    }

    /// Whether (and since when) the books are stale: the feed lost messages for good.
    pub fn stale(&self) -> Option<&StaleFeed> {
        self.stale.as_ref()
    }

    /// Trading days begun after the first: ITCH's start-of-messages system event (`S` `O`, "the
    /// first message sent in any trading day") on a market that has seen anything empties
    /// every book (see [`Market::apply`]). 0 for a one-day session.
    pub fn new_days(&self) -> u64 {
        self.new_days
    }

    /// Number of live orders across all instruments.
    pub fn live_orders(&self) -> usize {
        self.index.len()
    }

    /// Number of live price levels across all instruments and sides.
    pub fn live_levels(&self) -> usize {
        self.levels.live()
    }

    /// Number of instruments with a book (seen in a directory, status or add message).
    pub fn instrument_count(&self) -> usize {
        self.books.len()
    }

    /// The book of `instrument`, if the instrument has been seen.
    #[inline]
    pub fn book(&self, instrument: InstrumentId) -> Option<OrderBook<'_>> {
        let idx = self.book_idx(instrument)?;
        Some(OrderBook { market: self, idx })
    }

    /// The book of the instrument with this ticker (from directory messages).
    pub fn book_by_symbol(&self, symbol: &str) -> Option<OrderBook<'_>> {
        self.book(self.instrument_id(Symbol::new(symbol)?)?)
    }

    /// Instrument id of a ticker (from directory messages).
    pub fn instrument_id(&self, symbol: Symbol) -> Option<InstrumentId> {
        self.by_symbol.get(&symbol).copied()
    }

    /// Every instrument a directory message has named (this trading day), with its symbol.
    pub fn named_instruments(&self) -> impl Iterator<Item = (InstrumentId, Symbol)> + '_ {
        self.books
            .iter()
            .filter_map(|b| b.info.map(|i| (b.id, i.symbol)))
    }

    /// Reference data of an instrument, if a directory message was seen.
    pub fn instrument_info(&self, instrument: InstrumentId) -> Option<&InstrumentInfo> {
        self.books[self.book_idx(instrument)? as usize]
            .info
            .as_ref()
    }

    /// Trading state in effect for an instrument, if seen (see [`OrderBook::trading_state`]).
    pub fn trading_state(&self, instrument: InstrumentId) -> Option<TradingState> {
        self.books[self.book_idx(instrument)? as usize].state
    }

    /// Every book, in order of first appearance.
    pub fn books(&self) -> impl Iterator<Item = OrderBook<'_>> + '_ {
        (0..self.books.len() as u32).map(move |idx| OrderBook { market: self, idx })
    }

    /// A live order, in whatever instrument it rests.
    #[inline]
    pub fn order(&self, id: OrderId) -> Option<OrderView> {
        self.index
            .get(id, self.key_of())
            .map(|slot| self.order_view(slot))
    }

    /// Displayed quantity queued ahead of a live order at its level (0 at the head).
    /// O(orders ahead of it).
    pub fn qty_ahead(&self, id: OrderId) -> Option<u64> {
        self.index
            .get(id, self.key_of())
            .map(|slot| self.qty_ahead_slot(slot))
    }

    pub(crate) fn order_view(&self, slot: u32) -> OrderView {
        let o = &self.orders.slots[slot as usize];
        OrderView {
            id: OrderId(o.id),
            instrument: self.books[o.book as usize].id,
            side: o.side,
            price: self.levels.slots[o.level as usize].price,
            qty: Qty(o.qty),
            added: Timestamp(o.ts),
        }
    }

    pub(crate) fn qty_ahead_slot(&self, slot: u32) -> u64 {
        let mut ahead = 0u64;
        let mut i = self.orders.slots[slot as usize].prev;
        while i != NIL {
            let o = &self.orders.slots[i as usize];
            ahead += u64::from(o.qty);
            i = o.prev;
        }
        ahead
    }

    /// The order id stored in a slot (the order index stores only slots).
    #[inline(always)]
    pub(crate) fn key_of(&self) -> impl Fn(u32) -> u64 + '_ {
        |s| self.orders.slots[s as usize].id
    }

    #[inline(always)]
    fn book_idx(&self, instrument: InstrumentId) -> Option<u32> {
        let b = if instrument.0 < DENSE_IDS {
            *self.dense.get(instrument.0 as usize)?
        } else {
            *self.sparse.get(&instrument)?
        };
        (b != NIL).then_some(b)
    }

    #[inline]
    fn book_idx_or_create(&mut self, instrument: InstrumentId) -> u32 {
        match self.book_idx(instrument) {
            Some(b) => b,
            None => self.create_book(instrument),
        }
    }

    #[cold]
    fn create_book(&mut self, instrument: InstrumentId) -> u32 {
        let b = self.books.len() as u32;
        self.books.push(Book::new(instrument));
        if instrument.0 < DENSE_IDS {
            let i = instrument.0 as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, NIL);
            }
            self.dense[i] = b;
        } else {
            self.sparse.insert(instrument, b);
        }
        b
    }

    // ----------------------------------------------------------------- updates

    /// Applies one event. Never panics; anomalies are counted (see [`AnomalyKind`]).
    ///
    /// Always inlined, with the add, removal, ladder and index steps it calls: in the caller's
    /// event loop the registers they use are saved once per loop rather than once per event
    /// (about 30 fewer instructions an event, ~5% more events a second; `BENCHMARKS.md`).
    #[inline(always)]
    pub fn apply(&mut self, ev: &MarketEvent) -> ApplyResult {
        let mut r = ApplyResult {
            instrument: ev.instrument,
            ..ApplyResult::default()
        };
        match ev.body {
            EventBody::OrderAdded {
                order_id,
                side,
                price,
                qty,
                ..
            } => {
                let b = self.book_idx_or_create(ev.instrument);
                if order_id.0 == 0 {
                    self.flag(&mut r, AnomalyKind::ZeroOrderId);
                }
                match self.add_order(b, order_id, side, price, qty.0, ev.ts.0) {
                    // The top changed iff the order rests at the best level now: a new best
                    // price, or more quantity at the best (quantities are never zero).
                    Ok(level) => {
                        let changed = self.is_best(b, side, level);
                        self.finish(&mut r, b, side, changed, true);
                    }
                    Err(k) => self.flag(&mut r, k),
                }
            }
            EventBody::OrderExecuted { order_id, qty, .. }
            | EventBody::OrderExecutedWithPrice { order_id, qty, .. } => {
                self.reduce(
                    &mut r,
                    order_id,
                    qty.0,
                    AnomalyKind::UnknownOrderExecuted,
                    AnomalyKind::OversizeExecution,
                );
            }
            EventBody::OrderCancelled { order_id, qty } => {
                self.reduce(
                    &mut r,
                    order_id,
                    qty.0,
                    AnomalyKind::UnknownOrderCancelled,
                    AnomalyKind::OversizeCancel,
                );
            }
            EventBody::OrderDeleted { order_id } => {
                let Some(found) = self.lookup(&mut r, order_id, AnomalyKind::UnknownOrderDeleted)
                else {
                    return r;
                };
                let o = self.orders.slots[found.slot as usize];
                // Removing an order changes the top iff it rests at the best level.
                let changed = self.is_best(o.book, o.side, o.level);
                self.remove_order(found);
                self.finish(&mut r, o.book, o.side, changed, false);
            }
            EventBody::OrderReplaced {
                old_id,
                new_id,
                price,
                qty,
            } => {
                let Some(found) = self.lookup(&mut r, old_id, AnomalyKind::UnknownOrderReplaced)
                else {
                    return r;
                };
                let o = self.orders.slots[found.slot as usize];
                // A replace can put the same quantity back at the same best price: compare
                // the top's values.
                let before = self.top(o.book, o.side);
                self.remove_order(found);
                if new_id.0 == 0 {
                    self.flag(&mut r, AnomalyKind::ZeroOrderId);
                }
                if let Err(k) = self.add_order(o.book, new_id, o.side, price, qty.0, ev.ts.0) {
                    self.flag(&mut r, k);
                }
                let changed = self.top(o.book, o.side) != before;
                self.finish(&mut r, o.book, o.side, changed, true);
            }
            EventBody::InstrumentDirectory(info) => {
                // `directory` does not take `r`: a result that never escapes `apply` stays in
                // registers (no partial-store-then-load stall when it is returned).
                let conflict = self.directory(ev.instrument, info);
                if conflict {
                    self.flag(&mut r, AnomalyKind::DirectoryConflict);
                }
            }
            EventBody::TradingStatus { state, .. } => {
                let b = self.book_idx_or_create(ev.instrument);
                let book = &mut self.books[b as usize];
                // An operational halt (one venue's) and a regulatory halt (every market's) are
                // separate: lifting one does not end the other.
                match state {
                    TradingState::OperationalHalt => book.operational_halt = true,
                    TradingState::OperationalResume => book.operational_halt = false,
                    _ => book.regulatory = Some(state),
                }
                book.state = Some(match book.regulatory {
                    Some(r) if !r.is_trading() => r,
                    _ if book.operational_halt => TradingState::OperationalHalt,
                    // The regulatory state in effect once no operational halt is (an `h`
                    // resume does not replace it); the resume itself only when no `H` came.
                    Some(r) => r,
                    None => state,
                });
            }
            EventBody::SystemEvent {
                code: SystemEventCode::StartOfMessages,
            } => {
                r.new_day = self.start_day();
            }
            EventBody::FeedGap {
                first_sequence,
                count,
            } => {
                self.flag(&mut r, AnomalyKind::FeedGap);
                let s = self.stale.get_or_insert(StaleFeed {
                    since: ev.ts,
                    gaps: 0,
                    lost_messages: 0,
                    unknown_size_gaps: 0,
                    first_lost: first_sequence,
                });
                if count == 0 {
                    s.unknown_size_gaps = s.unknown_size_gaps.saturating_add(1);
                }
                // Saturating: the counts come from the event, which a corrupt or crafted
                // recording can make as large as it likes; `apply` never panics.
                s.gaps = s.gaps.saturating_add(1);
                s.lost_messages = s.lost_messages.saturating_add(count);
            }
            _ => {}
        }
        r
    }

    /// A new trading day: when the market has seen anything, every order and level goes, with
    /// the directory, the trading states and the staleness of the day before (order
    /// references, stock locates and symbols are the day's own in ITCH: a second day in one
    /// file reused the first day's references, 9,528 duplicate ids and crossed books on two
    /// generated days). The anomaly counts and the books' instruments stay. Returns whether it
    /// emptied anything.
    #[cold]
    #[inline(never)]
    fn start_day(&mut self) -> bool {
        if self.books.is_empty() && self.stale.is_none() && self.directories == 0 {
            return false;
        }
        self.orders.clear();
        self.levels.clear();
        self.index.reset();
        for book in &mut self.books {
            for side in &mut book.sides {
                side.clear();
            }
            book.crossed = false;
            book.info = None;
            book.named_at = 0;
            book.state = None;
            book.regulatory = None;
            book.operational_halt = false;
            book.orders = 0;
        }
        self.by_symbol.clear();
        self.stale = None;
        self.new_days += 1;
        true
    }

    #[inline(always)]
    fn flag(&mut self, r: &mut ApplyResult, kind: AnomalyKind) {
        self.anomalies.record(kind);
        if r.anomaly.is_none() {
            r.anomaly = Some(kind);
        }
    }

    /// A live order named by an event; counts unknown ids and instrument mismatches (and
    /// points `r.instrument` at the order's own book).
    #[inline(always)]
    fn lookup(&mut self, r: &mut ApplyResult, id: OrderId, unknown: AnomalyKind) -> Option<Found> {
        let Some((entry, slot)) = self.index.locate(id, self.key_of()) else {
            self.flag(r, unknown);
            return None;
        };
        let actual = self.books[self.orders.slots[slot as usize].book as usize].id;
        if actual != r.instrument {
            self.flag(r, AnomalyKind::InstrumentMismatch);
            r.instrument = actual;
        }
        Some(Found { slot, entry })
    }

    #[inline(always)]
    fn top(&self, b: u32, side: Side) -> Top {
        match self.books[b as usize].sides[side.index()].best() {
            Some(l) => {
                let l = &self.levels.slots[l as usize];
                (l.price.0, l.qty)
            }
            None => (i64::MIN, 0),
        }
    }

    /// Whether `level` is the best level of `side` of book `b`.
    #[inline(always)]
    fn is_best(&self, b: u32, side: Side, level: u32) -> bool {
        self.books[b as usize].sides[side.index()].best() == Some(level)
    }

    /// Fills the change flags after a book change on `side` of book `b` (`changed`: the
    /// side's best price or quantity changed), and counts a transition into the crossed
    /// state. Crossing depends only on the two best prices, so an unchanged top cannot change
    /// it; `added` says whether liquidity may have been added (add, replace): removing or
    /// reducing orders can never cross a book that was not crossed, so the opposite side is
    /// not even read then.
    #[inline(always)]
    fn finish(&mut self, r: &mut ApplyResult, b: u32, side: Side, changed: bool, added: bool) {
        r.book_changed = true;
        match side {
            Side::Bid => r.bid_top_changed = changed,
            Side::Ask => r.ask_top_changed = changed,
        }
        let book = &mut self.books[b as usize];
        if !changed {
            r.crossed = book.crossed;
            return;
        }
        if !added && !book.crossed {
            return;
        }
        let crossed = book.compute_crossed();
        let was = core::mem::replace(&mut book.crossed, crossed);
        r.crossed = crossed;
        if crossed && !was {
            self.flag(r, AnomalyKind::CrossedBook);
        }
    }

    /// Execution or partial cancel of `qty` shares.
    #[inline(always)]
    fn reduce(
        &mut self,
        r: &mut ApplyResult,
        id: OrderId,
        qty: u32,
        unknown: AnomalyKind,
        oversize: AnomalyKind,
    ) {
        let Some(found) = self.lookup(r, id, unknown) else {
            return;
        };
        if qty == 0 {
            self.flag(r, AnomalyKind::ZeroQuantity);
            return;
        }
        let slot = found.slot;
        let o = self.orders.slots[slot as usize];
        // Any reduction (quantities are never zero) changes the top iff the order rests at
        // the best level.
        let changed = self.is_best(o.book, o.side, o.level);
        if qty >= o.qty {
            if qty > o.qty {
                self.flag(r, oversize);
            }
            self.remove_order(found);
        } else {
            self.orders.slots[slot as usize].qty = o.qty - qty;
            self.levels.slots[o.level as usize].qty -= u64::from(qty);
        }
        self.finish(r, o.book, o.side, changed, false);
    }

    /// Rests a new order at the tail of its level; returns the level slot.
    #[inline(always)]
    fn add_order(
        &mut self,
        b: u32,
        id: OrderId,
        side: Side,
        price: Price,
        qty: u32,
        ts: u64,
    ) -> Result<u32, AnomalyKind> {
        if qty == 0 {
            return Err(AnomalyKind::ZeroQuantity);
        }
        // With the reserve used, a duplicate is refused before a slot is taken: taking one
        // would grow the slab for an order that never rests (the reserve promises no growth).
        if self.orders.is_full() && self.index.get(id, self.key_of()).is_some() {
            return Err(AnomalyKind::DuplicateOrderId);
        }
        let slot = self.orders.alloc(OrderSlot {
            id: id.0,
            ts,
            qty,
            prev: NIL,
            next: NIL,
            level: NIL,
            book: b,
            side,
        });
        let slots = &self.orders.slots;
        if self
            .index
            .try_insert(id, slot, |s| slots[s as usize].id)
            .is_err()
        {
            self.orders.free(slot);
            return Err(AnomalyKind::DuplicateOrderId);
        }
        // Nearly every add joins a level that exists and that its hint names: one check of a
        // slot the add writes anyway, instead of a search of the ladder whose exit the branch
        // predictor misses (`BENCHMARKS.md`).
        let owner = LevelSlot::owner_of(b, side);
        let h = hint_of(price);
        let hint = self.books[b as usize].hints[side.index()][h];
        // `NIL` (an entry never set) is past the slab's end.
        let hinted = matches!(
            self.levels.slots.get(hint as usize),
            Some(l) if l.count != 0 && l.price == price && l.owner == owner
        );
        let level = if hinted {
            hint
        } else {
            self.find_or_make_level(b, side, price, h)
        };
        let lv = &mut self.levels.slots[level as usize];
        let tail = lv.tail;
        lv.tail = slot;
        if tail == NIL {
            lv.head = slot;
        } else {
            self.orders.slots[tail as usize].next = slot;
        }
        lv.qty += u64::from(qty);
        lv.count += 1;
        let o = &mut self.orders.slots[slot as usize];
        o.prev = tail;
        o.level = level;
        self.books[b as usize].orders += 1;
        Ok(level)
    }

    /// The level at `price` on `side` of book `b`, made (and put in the ladder) if there is
    /// none, and remembered in the side's hint entry `h`. The path of an add whose hint does
    /// not name its level: a new price, or another price's hint in the entry.
    #[inline(never)]
    fn find_or_make_level(&mut self, b: u32, side: Side, price: Price, h: usize) -> u32 {
        let key = Ladder::key(side, price);
        let book = &mut self.books[b as usize];
        let ladder = &mut book.sides[side.index()];
        let level = match ladder.find(key) {
            Ok(pos) => ladder.levels()[pos].1,
            Err(pos) => {
                let l = self.levels.alloc(LevelSlot {
                    price,
                    qty: 0,
                    count: 0,
                    head: NIL,
                    tail: NIL,
                    owner: LevelSlot::owner_of(b, side),
                });
                ladder.insert(pos, key, l);
                l
            }
        };
        book.hints[side.index()][h] = level;
        level
    }

    /// Unlinks a live order, drops its level if it empties, and frees its slot and id.
    #[inline(always)]
    fn remove_order(&mut self, found: Found) {
        let slot = found.slot;
        let o = self.orders.slots[slot as usize];
        let lv = &mut self.levels.slots[o.level as usize];
        lv.qty -= u64::from(o.qty);
        lv.count -= 1;
        if o.prev == NIL {
            lv.head = o.next;
        } else {
            self.orders.slots[o.prev as usize].next = o.next;
        }
        if o.next == NIL {
            lv.tail = o.prev;
        } else {
            self.orders.slots[o.next as usize].prev = o.prev;
        }
        let book = &mut self.books[o.book as usize];
        if lv.count == 0 {
            let key = Ladder::key(o.side, lv.price);
            book.sides[o.side.index()].remove_key(key);
            self.levels.free(o.level);
        }
        book.orders -= 1;
        let slots = &self.orders.slots;
        self.index.remove_at(found.entry, |s| slots[s as usize].id);
        self.orders.free(slot);
    }

    /// Records reference data; returns whether it conflicts with earlier directory messages.
    fn directory(&mut self, instrument: InstrumentId, info: InstrumentInfo) -> bool {
        let b = self.book_idx_or_create(instrument);
        let mut conflict = false;
        if let Some(old) = self.books[b as usize].info {
            if old.symbol != info.symbol {
                conflict = true;
                if self.by_symbol.get(&old.symbol) == Some(&instrument) {
                    self.by_symbol.remove(&old.symbol);
                    // Another instrument whose directory entry still names the symbol (the
                    // latest such entry: the one this instrument took it from) has it again.
                    if let Some(other) = self
                        .books
                        .iter()
                        .filter(|b| {
                            b.id != instrument && b.info.is_some_and(|i| i.symbol == old.symbol)
                        })
                        .max_by_key(|b| b.named_at)
                    {
                        self.by_symbol.insert(old.symbol, other.id);
                    }
                }
            }
        }
        if let Some(prev) = self.by_symbol.insert(info.symbol, instrument) {
            conflict |= prev != instrument;
        }
        self.directories += 1;
        self.books[b as usize].info = Some(info);
        self.books[b as usize].named_at = self.directories;
        conflict
    }

    // ------------------------------------------------------------- invariants

    /// Verifies the whole market's internal consistency: every level aggregate equals the sum
    /// of its orders, FIFO links are consistent both ways, levels are strictly ordered on each
    /// side, every order points at its level/book/side, the order index maps exactly the live
    /// orders, slab accounting adds up, and the crossed flag matches the book. O(size); for
    /// tests and debugging.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        let err = |m: String| Err(InvariantError(m));
        let mut seen_orders = 0usize;
        let mut seen_levels = 0usize;
        for (b, book) in self.books.iter().enumerate() {
            let b = b as u32;
            if self.book_idx(book.id) != Some(b) {
                return err(format!("book {b}: instrument map does not point back"));
            }
            let mut book_orders = 0usize;
            for side in [Side::Bid, Side::Ask] {
                let ladder = &book.sides[side.index()];
                if !ladder.best_is_last() {
                    return err(format!("{:?} {side:?}: kept best is not the best", book.id));
                }
                for w in ladder.levels().windows(2) {
                    if w[0].0 >= w[1].0 {
                        return err(format!(
                            "{:?} {side:?}: levels not strictly ordered",
                            book.id
                        ));
                    }
                }
                for &(key, l) in ladder.levels() {
                    seen_levels += 1;
                    let lv =
                        self.levels.slots.get(l as usize).ok_or_else(|| {
                            InvariantError(format!("level slot {l} out of range"))
                        })?;
                    if Ladder::key(side, lv.price) != key {
                        return err(format!("level {l}: key does not match price"));
                    }
                    if lv.count == 0 {
                        return err(format!("level {l} at {:?} is empty", lv.price));
                    }
                    if lv.owner != LevelSlot::owner_of(b, side) {
                        return err(format!("level {l} at {:?}: wrong owner", lv.price));
                    }
                    let (mut qty, mut count) = (0u64, 0u32);
                    let mut prev = NIL;
                    let mut i = lv.head;
                    while i != NIL {
                        let o = self.orders.slots.get(i as usize).ok_or_else(|| {
                            InvariantError(format!("order slot {i} out of range"))
                        })?;
                        if o.prev != prev {
                            return err(format!("order {}: prev link broken", o.id));
                        }
                        if o.level != l || o.book != b || o.side != side {
                            return err(format!("order {}: wrong level/book/side", o.id));
                        }
                        if o.qty == 0 {
                            return err(format!("order {}: zero quantity", o.id));
                        }
                        if self.index.get(OrderId(o.id), self.key_of()) != Some(i) {
                            return err(format!("order {}: index does not map to its slot", o.id));
                        }
                        qty += u64::from(o.qty);
                        count += 1;
                        if count > lv.count {
                            return err(format!("level {l}: more orders linked than counted"));
                        }
                        prev = i;
                        i = o.next;
                    }
                    if lv.tail != prev {
                        return err(format!("level {l}: tail is not the last order"));
                    }
                    if qty != lv.qty || count != lv.count {
                        return err(format!(
                            "level {l} at {:?}: aggregate ({}, {}) != orders ({qty}, {count})",
                            lv.price, lv.qty, lv.count
                        ));
                    }
                    book_orders += count as usize;
                }
            }
            if book_orders != book.orders as usize {
                return err(format!(
                    "{:?}: order count {} != {book_orders}",
                    book.id, book.orders
                ));
            }
            seen_orders += book_orders;
            if book.crossed != book.compute_crossed() {
                return err(format!("{:?}: stale crossed flag", book.id));
            }
        }
        if seen_orders != self.index.len() || seen_orders != self.orders.live() {
            return err(format!(
                "linked orders {seen_orders}, index {}, slab live {}",
                self.index.len(),
                self.orders.live()
            ));
        }
        if self.orders.live() + self.orders.free_count() != self.orders.slots.len() {
            return err("order slab free list does not account for every slot".into());
        }
        if seen_levels != self.levels.live()
            || self.levels.live() + self.levels.free_count() != self.levels.slots.len()
        {
            return err("level slab accounting broken".into());
        }
        // A free level slot must fail every level hint's check (see `Book::hints`).
        for l in self.levels.free_slots() {
            match self.levels.slots.get(l as usize) {
                Some(lv) if lv.count == 0 && lv.owner == NIL => {}
                _ => return err(format!("free level slot {l}: still counted or owned")),
            }
        }
        for slot in self.index.values() {
            match self.orders.slots.get(slot as usize) {
                Some(o) if o.level != NIL => {}
                _ => return err(format!("index entry -> {slot} is not a live order")),
            }
        }
        // Every entry sits where its order's id puts it, and the id finds that entry.
        if let Err(slot) = self.index.check(self.key_of()) {
            return err(format!("index entry -> {slot}: misplaced or miscounted"));
        }
        for (sym, id) in &self.by_symbol {
            if self.instrument_info(*id).map(|i| i.symbol) != Some(*sym) {
                return err(format!(
                    "symbol {sym:?} maps to {id:?} without matching info"
                ));
            }
        }
        Ok(())
    }

    /// Best `(bid, ask)` of an instrument (convenience for BBO printers).
    #[inline]
    pub fn bbo(&self, instrument: InstrumentId) -> Option<(Option<LevelView>, Option<LevelView>)> {
        let book = self.book(instrument)?;
        Some((book.best_bid(), book.best_ask()))
    }
}

#[cfg(test)]
mod level_hint_tests {
    //! The level hints ([`Book::hints`]) are only a shortcut: an add must join the level of
    //! its own book, side and price whatever a hint says.

    use super::*;

    const X: InstrumentId = InstrumentId(1);
    const Y: InstrumentId = InstrumentId(2);

    fn add(m: &mut Market, inst: InstrumentId, id: u64, side: Side, px: i64) {
        let body = EventBody::OrderAdded {
            order_id: OrderId(id),
            side,
            price: Price(px),
            qty: Qty(100),
            mpid: [0; 4],
        };
        let r = m.apply(&MarketEvent::new(Timestamp(1), inst, body));
        // Only a bid and an ask at one price (a locked book, counted) are expected here.
        assert!(matches!(r.anomaly, None | Some(AnomalyKind::CrossedBook)));
        assert_eq!(m.check_invariants(), Ok(()));
    }

    fn delete(m: &mut Market, inst: InstrumentId, id: u64) {
        let body = EventBody::OrderDeleted {
            order_id: OrderId(id),
        };
        let r = m.apply(&MarketEvent::new(Timestamp(1), inst, body));
        assert_eq!(r.anomaly, None);
        assert_eq!(m.check_invariants(), Ok(()));
    }

    /// `(price, orders)` of every level of `side`, best first.
    fn levels(m: &Market, inst: InstrumentId, side: Side) -> Vec<(i64, u32)> {
        let book = m.book(inst).expect("book exists");
        book.levels(side).map(|l| (l.price.0, l.orders)).collect()
    }

    #[test]
    fn prices_that_share_a_hint_entry_keep_their_own_levels() {
        let p = 1_000_000;
        let q = (p + 1..)
            .find(|&q| hint_of(Price(q)) == hint_of(Price(p)))
            .expect("some price shares the entry");
        let mut m = Market::with_capacity(64, 4);
        add(&mut m, X, 1, Side::Ask, p);
        add(&mut m, X, 2, Side::Ask, q); // takes the entry
        add(&mut m, X, 3, Side::Ask, p); // the entry names q's level: p's is searched
        add(&mut m, X, 4, Side::Ask, q);
        add(&mut m, X, 5, Side::Ask, q);
        assert_eq!(levels(&m, X, Side::Ask), vec![(p, 2), (q, 3)]);
        let book = m.book(X).expect("book exists");
        let fifo = |px| -> Vec<u64> {
            book.level_orders(Side::Ask, Price(px))
                .map(|o| o.id.0)
                .collect()
        };
        assert_eq!((fifo(p), fifo(q)), (vec![1, 3], vec![2, 4, 5]));
    }

    #[test]
    fn a_hint_to_a_level_slot_reused_by_another_book_is_not_followed() {
        let p = 1_000_000;
        let mut m = Market::with_capacity(64, 4);
        add(&mut m, X, 1, Side::Bid, p);
        delete(&mut m, X, 1); // X's bid level at p goes; its slot is free, X's hint stays
        add(&mut m, Y, 2, Side::Bid, p); // the freed slot, now Y's bid level at p
        add(&mut m, X, 3, Side::Bid, p); // X's hint names Y's level: not X's
        assert_eq!(levels(&m, X, Side::Bid), vec![(p, 1)]);
        assert_eq!(levels(&m, Y, Side::Bid), vec![(p, 1)]);
        let fifo = |inst| -> Vec<u64> {
            let book = m.book(inst).expect("book exists");
            book.level_orders(Side::Bid, Price(p))
                .map(|o| o.id.0)
                .collect()
        };
        assert_eq!((fifo(X), fifo(Y)), (vec![3], vec![2]));
    }

    #[test]
    fn a_hint_to_a_level_slot_reused_by_the_other_side_is_not_followed() {
        let p = 1_000_000;
        let mut m = Market::with_capacity(64, 4);
        add(&mut m, X, 1, Side::Bid, p);
        delete(&mut m, X, 1); // X's bid level at p goes; its slot is free, X's bid hint stays
        add(&mut m, X, 2, Side::Ask, p); // the freed slot, now X's ask level at p
        add(&mut m, X, 3, Side::Bid, p); // X's bid hint names the ask level: not the bid's
        assert_eq!(levels(&m, X, Side::Bid), vec![(p, 1)]);
        assert_eq!(levels(&m, X, Side::Ask), vec![(p, 1)]);
        // A bid and an ask at one price: the book is locked, and counted so.
        assert_eq!(m.anomalies().get(AnomalyKind::CrossedBook), 1);
    }

    #[test]
    fn a_hint_to_a_level_slot_reused_at_another_price_is_not_followed() {
        let (p, q) = (1_000_000, 2_000_000);
        let mut m = Market::with_capacity(64, 4);
        add(&mut m, X, 1, Side::Ask, p);
        delete(&mut m, X, 1);
        add(&mut m, X, 2, Side::Ask, q); // p's freed slot, now X's ask level at q
        add(&mut m, X, 3, Side::Ask, p); // p's hint names q's level: not p's
        assert_eq!(levels(&m, X, Side::Ask), vec![(p, 1), (q, 1)]);
    }
}

#[cfg(test)]
mod full_reserve_tests {
    use super::*;

    /// `Market::with_capacity` promises that a day within its sizes never reallocates the
    /// order slab: a duplicate add (refused, nothing more live) with the reserve full must not
    /// grow it.
    #[test]
    fn a_refused_duplicate_add_at_a_full_reserve_does_not_grow_the_order_slab() {
        let mut m = Market::with_capacity(4, 1);
        let add = |id| {
            MarketEvent::new(
                Timestamp(1),
                InstrumentId(1),
                EventBody::OrderAdded {
                    order_id: OrderId(id),
                    side: Side::Bid,
                    price: Price(100),
                    qty: Qty(1),
                    mpid: [0; 4],
                },
            )
        };
        for id in [1, 5, 9, 13] {
            assert_eq!(m.apply(&add(id)).anomaly, None);
        }
        let (cap, start) = (m.orders.slots.capacity(), m.orders.slots.as_ptr());
        assert_eq!(
            m.apply(&add(5)).anomaly,
            Some(AnomalyKind::DuplicateOrderId)
        );
        assert_eq!(m.live_orders(), 4);
        assert_eq!(
            (m.orders.slots.capacity(), m.orders.slots.as_ptr()),
            (cap, start),
            "the order slab reallocated for a refused add (slots {})",
            m.orders.slots.len()
        );
    }
}
