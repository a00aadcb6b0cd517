//! [`Router`]: which lane an event goes to.
//!
//! Instruments are sharded over lanes. An instrument a strategy subscribed to goes to that
//! strategy's lane (so a strategy sees all of its instruments on one thread, in one order,
//! whatever the number of lanes); any other instrument goes to lane `id % lanes`. Market-wide
//! events (instrument 0: system events, circuit breakers) go to every lane. The assignment is
//! fixed by the instrument's first directory entry and never changes after it, so an
//! instrument's events stay in order. An instrument whose other events come first is hashed
//! to a lane until its directory entry comes: if that names a symbol a strategy subscribed to
//! on another lane, the instrument moves there (counted in [`Router::late_books`]: the book
//! there misses what went before), so that the strategy sees it from its directory entry on,
//! as it would with one lane.
//!
//! A lane that keeps only its strategies' books ([`crate::BookScope::Subscribed`]) would drop
//! the events of an instrument none of them subscribes to: such events are not sent at all
//! ([`Route::Unread`]), which saves the ring and the lane the work of dropping them. An
//! instrument's directory entry always reaches its lane, and an instrument once sent is always
//! sent (a later directory entry naming a subscribed symbol makes it sent from then on).
//!
//! A trading day's start of messages (ITCH `S` `O`) forgets every assignment: the new day's
//! directory assigns its instruments afresh, as the lanes, which empty their books on that
//! event, subscribe afresh (a stock locate may name another symbol on another day).

use ticklane_core::{EventBody, InstrumentId, MarketEvent, Symbol};

/// Where an event goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Route {
    /// One lane.
    Lane(u16),
    /// Every lane (market-wide events).
    All,
    /// Nowhere: the instrument's lane (given) keeps only its strategies' books and none of
    /// them subscribes to it.
    Unread(u16),
}

const UNASSIGNED: u16 = u16::MAX;
/// Table flag: the instrument's events are not sent ([`Route::Unread`]). Lanes are < 2^13.
const UNREAD: u16 = 1 << 15;
/// Table flag, with [`UNREAD`]: an event of the instrument (not its directory entry) was not
/// sent.
const HELD: u16 = 1 << 14;
/// Table flag: the instrument was assigned by an event other than its directory entry, and no
/// directory entry has come yet; the first one decides its lane.
const HASHED: u16 = 1 << 13;
/// The lane bits of a table entry.
const LANE: u16 = HASHED - 1;
/// Most lanes a router spreads over (the lane bits of a table entry, less one value: with
/// every flag set, lane `LANE` would read as [`UNASSIGNED`]).
pub const MAX_LANES: u16 = LANE;
const _: () = assert!((UNREAD | HELD | HASHED | (MAX_LANES - 1)) != UNASSIGNED);

/// Instrument → lane table.
#[derive(Clone, Debug)]
pub struct Router {
    lanes: u16,
    /// Dense table by instrument id (ITCH stock locates are dense and < 65536).
    table: Vec<u16>,
    /// Instruments pinned by symbol (from strategy subscriptions).
    pinned: Vec<(Symbol, u16)>,
    /// Per lane: whether it keeps every book (else only its strategies' books are sent).
    keeps_all: Vec<bool>,
    /// Instruments made sent by a directory entry naming a subscribed symbol after some of
    /// their events had not been sent: their books miss those orders.
    late: u64,
}

impl Router {
    /// A router over `lanes` lanes (1 to [`MAX_LANES`]), with symbols pinned to lanes.
    pub fn new(lanes: u16, pinned: impl IntoIterator<Item = (Symbol, u16)>) -> Self {
        let lanes = lanes.clamp(1, MAX_LANES);
        let mut pinned: Vec<(Symbol, u16)> = pinned
            .into_iter()
            .map(|(s, l)| (s, l.min(lanes - 1)))
            .collect();
        pinned.sort();
        pinned.dedup_by_key(|p| p.0);
        Self {
            lanes,
            table: Vec::new(),
            pinned,
            keeps_all: vec![true; usize::from(lanes)],
            late: 0,
        }
    }

    /// Instruments whose subscription (a directory entry naming a subscribed symbol) came
    /// after some of their events had not been sent: their books miss those orders (each is
    /// logged when it happens).
    pub fn late_books(&self) -> u64 {
        self.late
    }

    /// Which lanes keep every book (the others are sent only the instruments pinned to them,
    /// by their strategies' subscriptions); by default all do. Missing entries keep all.
    pub fn with_books_kept(mut self, keeps_all: impl IntoIterator<Item = bool>) -> Self {
        for (k, keep) in self.keeps_all.iter_mut().zip(keeps_all) {
            *k = keep;
        }
        self
    }

    /// Number of lanes.
    pub fn lanes(&self) -> u16 {
        self.lanes
    }

    /// The lane of `instrument`, if assigned.
    pub fn lane_of(&self, instrument: InstrumentId) -> Option<u16> {
        match self.table.get(instrument.0 as usize) {
            Some(&l) if l != UNASSIGNED => Some(l & LANE),
            _ => None,
        }
    }

    /// Routes one event, assigning its instrument on first sight.
    #[inline]
    pub fn route(&mut self, ev: &MarketEvent) -> Route {
        let id = ev.instrument.0;
        if id == 0 {
            return Route::All;
        }
        if let Some(&l) = self.table.get(id as usize) {
            if l & (UNREAD | HASHED) == 0 {
                return Route::Lane(l);
            }
            if l != UNASSIGNED {
                if l & HASHED != 0 {
                    if let EventBody::InstrumentDirectory(info) = &ev.body {
                        return self.first_directory(ev, info.symbol, l);
                    }
                }
                if l & UNREAD == 0 {
                    return Route::Lane(l & LANE);
                }
                return self.unread(ev, l);
            }
        }
        self.assign(ev)
    }

    /// ITCH's start of messages, the first message of a trading day (the publisher calls it
    /// once it has sent the event to every lane): every instrument is assigned afresh, by the
    /// new day's directory (stock locates are the day's own; the books of every lane are
    /// emptied on the same event). A first one finds nothing assigned.
    #[cold]
    pub fn start_day(&mut self) {
        self.table.fill(UNASSIGNED);
    }

    /// The first directory entry of an instrument hashed to a lane by its other events
    /// (`entry`: its table entry): a symbol subscribed on another lane moves it there.
    #[cold]
    fn first_directory(&mut self, ev: &MarketEvent, symbol: Symbol, entry: u16) -> Route {
        let id = ev.instrument.0 as usize;
        let lane = entry & LANE;
        match self.pinned_lane(symbol) {
            Some(p) if p != lane => {
                self.table[id] = p;
                self.late += 1;
                tracing::warn!(
                    instrument = ev.instrument.0,
                    symbol = %symbol,
                    from = lane,
                    to = p,
                    "a subscribed instrument's directory message came after other events of \
                     it: it moves to its strategies' lane, whose book misses those orders"
                );
                Route::Lane(p)
            }
            _ => {
                self.table[id] = entry & !HASHED;
                if entry & UNREAD == 0 {
                    Route::Lane(lane)
                } else {
                    self.unread(ev, entry & !HASHED)
                }
            }
        }
    }

    /// An event of an instrument whose events are not sent (`entry`: its table entry): only
    /// its directory entries are, and one naming a symbol subscribed on its lane makes it sent
    /// from then on.
    fn unread(&mut self, ev: &MarketEvent, entry: u16) -> Route {
        let lane = entry & LANE;
        let id = ev.instrument.0 as usize;
        let EventBody::InstrumentDirectory(info) = &ev.body else {
            self.table[id] = entry | HELD;
            return Route::Unread(lane);
        };
        if self.pinned_lane(info.symbol) == Some(lane) {
            self.table[id] = lane;
            if entry & HELD != 0 {
                self.late += 1;
                tracing::warn!(
                    instrument = ev.instrument.0,
                    symbol = %info.symbol,
                    "a subscribed instrument's directory message came after events of it that \
                     were not sent: its book misses those orders"
                );
            }
        }
        Route::Lane(lane)
    }

    fn pinned_lane(&self, symbol: Symbol) -> Option<u16> {
        self.pinned
            .binary_search_by_key(&symbol, |p| p.0)
            .ok()
            .map(|i| self.pinned[i].1)
    }

    #[cold]
    fn assign(&mut self, ev: &MarketEvent) -> Route {
        let id = ev.instrument.0 as usize;
        let pinned = match &ev.body {
            EventBody::InstrumentDirectory(info) => self.pinned_lane(info.symbol),
            _ => None,
        };
        let lane = pinned.unwrap_or_else(|| (ev.instrument.0 % u32::from(self.lanes)) as u16);
        let sent = pinned.is_some()
            || self
                .keeps_all
                .get(usize::from(lane))
                .copied()
                .unwrap_or(true);
        if id < (1 << 24) {
            if self.table.len() <= id {
                self.table.resize(id + 1, UNASSIGNED);
            }
            let hashed = if pinned.is_some() || matches!(ev.body, EventBody::InstrumentDirectory(_))
            {
                0
            } else {
                HASHED
            };
            self.table[id] = hashed
                | match (sent, &ev.body) {
                    (true, _) => lane,
                    (false, EventBody::InstrumentDirectory(_)) => lane | UNREAD,
                    (false, _) => lane | UNREAD | HELD,
                };
        }
        if sent || matches!(ev.body, EventBody::InstrumentDirectory(_)) {
            Route::Lane(lane)
        } else {
            Route::Unread(lane)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticklane_core::{InstrumentInfo, Timestamp};

    fn dir(id: u32, sym: &str) -> MarketEvent {
        let info = InstrumentInfo::common_stock(Symbol::new(sym).unwrap_or_default());
        MarketEvent::new(
            Timestamp(1),
            InstrumentId(id),
            EventBody::InstrumentDirectory(info),
        )
    }

    fn del(id: u32) -> MarketEvent {
        MarketEvent::new(
            Timestamp(2),
            InstrumentId(id),
            EventBody::OrderDeleted {
                order_id: ticklane_core::OrderId(1),
            },
        )
    }

    #[test]
    fn pinned_symbols_follow_their_strategy_and_the_rest_hash() {
        let sym = |s: &str| Symbol::new(s).unwrap_or_default();
        let mut r = Router::new(3, [(sym("AAPL"), 2), (sym("MSFT"), 0)]);
        assert_eq!(r.route(&dir(1, "AAPL")), Route::Lane(2));
        assert_eq!(r.route(&dir(4, "MSFT")), Route::Lane(0));
        assert_eq!(r.route(&dir(5, "ZZZZ")), Route::Lane(5 % 3));
        // Later events of the instrument follow the assignment.
        assert_eq!(r.route(&del(1)), Route::Lane(2));
        assert_eq!(r.route(&del(4)), Route::Lane(0));
        // An instrument seen before its directory entry is hashed until the entry comes; a
        // symbol subscribed on another lane moves it there (its strategy sees it from its
        // directory entry on, as with one lane), counted as a late book.
        assert_eq!(r.route(&del(7)), Route::Lane(1));
        assert_eq!(r.lane_of(InstrumentId(7)), Some(1));
        assert_eq!(r.route(&dir(7, "AAPL")), Route::Lane(2));
        assert_eq!(r.route(&del(7)), Route::Lane(2));
        assert_eq!(r.late_books(), 1);
        // Once its directory entry has come, the lane is fixed: a renaming entry does not
        // move it (orders of the old symbol's strategies may rest in its book).
        assert_eq!(r.route(&dir(7, "MSFT")), Route::Lane(2));
        assert_eq!(r.route(&del(7)), Route::Lane(2));
        // Hashed, then a directory entry naming no subscribed symbol: it stays, not late.
        assert_eq!(r.route(&del(8)), Route::Lane(2));
        assert_eq!(r.route(&dir(8, "ZZZZ")), Route::Lane(2));
        assert_eq!(r.route(&dir(8, "AAPL")), Route::Lane(2));
        // Hashed onto the lane its symbol is pinned to: it stays, not late (the lane keeps
        // every book: it has the earlier orders).
        assert_eq!(r.route(&del(10)), Route::Lane(1));
        let mut r2 = Router::new(3, [(sym("AAPL"), 1)]);
        assert_eq!(r2.route(&del(10)), Route::Lane(1));
        assert_eq!(r2.route(&dir(10, "AAPL")), Route::Lane(1));
        assert_eq!(r2.late_books(), 0);
        assert_eq!(r.late_books(), 1);
        assert_eq!(r.route(&del(0)), Route::All);
        assert_eq!(r.lane_of(InstrumentId(1)), Some(2));
        assert_eq!(r.lane_of(InstrumentId(2)), None);
    }

    /// `Router::new` takes 1 to `MAX_LANES` lanes. On the last lane of `MAX_LANES`, an
    /// instrument held back before its directory entry (HASHED | UNREAD | HELD | lane 8191)
    /// has the table entry `0xFFFF`, which is `UNASSIGNED`: the router forgets the
    /// instrument, `lane_of` says unassigned, and the directory entry that follows is taken
    /// for a first sight: the held-back events are not counted in `late_books`.
    #[test]
    fn the_last_lane_of_max_lanes_keeps_its_held_back_instruments() {
        let sym = |s: &str| Symbol::new(s).unwrap_or_default();
        let last = MAX_LANES - 1;
        let mut r = Router::new(MAX_LANES, [(sym("AAPL"), last)]).with_books_kept(vec![
            false;
            usize::from(
                MAX_LANES
            )
        ]);
        let id = u32::from(last);
        assert_eq!(r.route(&del(id)), Route::Unread(last));
        assert_eq!(
            r.lane_of(InstrumentId(id)),
            Some(last),
            "assigned, held back"
        );
        assert_eq!(r.route(&dir(id, "AAPL")), Route::Lane(last));
        assert_eq!(r.late_books(), 1, "its book misses the held-back event");
    }

    #[test]
    fn a_lane_keeping_its_strategies_books_is_sent_only_those_instruments() {
        let sym = |s: &str| Symbol::new(s).unwrap_or_default();
        // Lane 0 keeps only its strategies' books (AAPL); lane 1 keeps every book.
        let mut r = Router::new(2, [(sym("AAPL"), 0)]).with_books_kept([false, true]);
        assert_eq!(r.route(&dir(1, "AAPL")), Route::Lane(0));
        assert_eq!(r.route(&del(1)), Route::Lane(0));
        // An unsubscribed instrument hashed to lane 0: its directory entry is sent, the rest
        // is not.
        assert_eq!(r.route(&dir(2, "ZZZZ")), Route::Lane(0));
        assert_eq!(r.route(&del(2)), Route::Unread(0));
        assert_eq!(r.lane_of(InstrumentId(2)), Some(0));
        // Hashed to lane 1, which keeps every book: sent.
        assert_eq!(r.route(&dir(3, "YYYY")), Route::Lane(1));
        assert_eq!(r.route(&del(3)), Route::Lane(1));
        // Seen before its directory entry, on lane 0: not sent, until a directory entry names
        // a subscribed symbol; from then on it is, whatever comes next.
        assert_eq!(r.route(&del(4)), Route::Unread(0));
        assert_eq!(r.late_books(), 0);
        assert_eq!(r.route(&dir(4, "AAPL")), Route::Lane(0));
        assert_eq!(r.late_books(), 1);
        assert_eq!(r.route(&del(4)), Route::Lane(0));
        assert_eq!(r.route(&dir(4, "XXXX")), Route::Lane(0));
        assert_eq!(r.route(&del(4)), Route::Lane(0));
        // A directory entry before any event, renamed to a subscribed symbol: sent, nothing
        // missed.
        assert_eq!(r.route(&dir(6, "ZZZZ")), Route::Lane(0));
        assert_eq!(r.route(&dir(6, "AAPL")), Route::Lane(0));
        assert_eq!(r.route(&del(6)), Route::Lane(0));
        assert_eq!(r.late_books(), 1);
        // Hashed to lane 0 by an event before its directory entry, which names a symbol
        // subscribed on lane 1: it moves there (it stayed unsent on lane 0, and the strategy
        // never saw it with two lanes while it did with one).
        let mut r2 = Router::new(2, [(sym("AAPL"), 1)]).with_books_kept([false, false]);
        assert_eq!(r2.route(&del(2)), Route::Unread(0));
        assert_eq!(r2.route(&dir(2, "AAPL")), Route::Lane(1));
        assert_eq!(r2.route(&del(2)), Route::Lane(1));
        assert_eq!(r2.late_books(), 1);
        // Its directory entry first, then renamed to a symbol subscribed on another lane: the
        // lane is fixed by that first entry, so it stays unsent (see RELIABILITY.md).
        assert_eq!(r2.route(&dir(4, "ZZZZ")), Route::Lane(0));
        assert_eq!(r2.route(&dir(4, "AAPL")), Route::Lane(0));
        assert_eq!(r2.route(&del(4)), Route::Unread(0));
        assert_eq!(r2.late_books(), 1);
        // Market-wide events still go everywhere.
        assert_eq!(r.route(&del(0)), Route::All);
    }
}
