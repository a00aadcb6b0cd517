//! [`Router`]: which lane an event goes to.
//!
//! Instruments are sharded over lanes. An instrument a strategy subscribed to goes to that
//! strategy's lane (so a strategy sees all of its instruments on one thread, in one order,
//! whatever the number of lanes); any other instrument goes to lane `id % lanes`. Market-wide
//! events (instrument 0: system events, circuit breakers) go to every lane. The assignment is
//! fixed the first time an instrument is seen (normally by its directory entry) and never
//! changes, so an instrument's events stay in order.

use ticklane_core::{EventBody, InstrumentId, MarketEvent, Symbol};

/// Where an event goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Route {
    /// One lane.
    Lane(u16),
    /// Every lane (market-wide events).
    All,
}

const UNASSIGNED: u16 = u16::MAX;

/// Instrument → lane table.
#[derive(Clone, Debug)]
pub struct Router {
    lanes: u16,
    /// Dense table by instrument id (ITCH stock locates are dense and < 65536).
    table: Vec<u16>,
    /// Instruments pinned by symbol (from strategy subscriptions).
    pinned: Vec<(Symbol, u16)>,
}

impl Router {
    /// A router over `lanes` lanes (at least 1), with symbols pinned to lanes.
    pub fn new(lanes: u16, pinned: impl IntoIterator<Item = (Symbol, u16)>) -> Self {
        let lanes = lanes.max(1);
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
        }
    }

    /// Number of lanes.
    pub fn lanes(&self) -> u16 {
        self.lanes
    }

    /// The lane of `instrument`, if assigned.
    pub fn lane_of(&self, instrument: InstrumentId) -> Option<u16> {
        match self.table.get(instrument.0 as usize) {
            Some(&l) if l != UNASSIGNED => Some(l),
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
            if l != UNASSIGNED {
                return Route::Lane(l);
            }
        }
        Route::Lane(self.assign(ev))
    }

    #[cold]
    fn assign(&mut self, ev: &MarketEvent) -> u16 {
        let id = ev.instrument.0 as usize;
        let lane = match &ev.body {
            EventBody::InstrumentDirectory(info) => self
                .pinned
                .binary_search_by_key(&info.symbol, |p| p.0)
                .map(|i| self.pinned[i].1)
                .ok(),
            _ => None,
        }
        .unwrap_or_else(|| (ev.instrument.0 % u32::from(self.lanes)) as u16);
        if id < (1 << 24) {
            if self.table.len() <= id {
                self.table.resize(id + 1, UNASSIGNED);
            }
            self.table[id] = lane;
        }
        lane
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
        // An instrument seen before its directory entry is hashed, and stays there.
        assert_eq!(r.route(&del(7)), Route::Lane(1));
        assert_eq!(r.route(&dir(7, "AAPL")), Route::Lane(1));
        assert_eq!(r.route(&del(0)), Route::All);
        assert_eq!(r.lane_of(InstrumentId(1)), Some(2));
        assert_eq!(r.lane_of(InstrumentId(2)), None);
    }
}
