//! A strategy's positions and cash, per instrument, in exact integers.

use ticklane_core::{InstrumentId, Price, Side};

use crate::order::Fill;

/// Position and cash flow of one instrument.
///
/// `cash` is in price units × shares (1/10000 of the currency unit per share): sells add,
/// buys subtract. Mark-to-market P&L is `cash + net × mark`, exact, and gross of fees: a
/// fill's fee ([`Fill::fee`]) is not in `cash` (the engine's ledger, whose net P&L the run
/// reports, charges them); a strategy that guards on its P&L net of fees adds them itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Position {
    /// Net shares: positive long, negative short.
    pub net: i64,
    /// Shares bought.
    pub bought: u64,
    /// Shares sold.
    pub sold: u64,
    /// Cash flow in price units × shares.
    pub cash: i128,
    /// Number of fills.
    pub fills: u64,
}

impl Position {
    /// Adds a fill.
    pub fn apply(&mut self, side: Side, price: Price, qty: u32) {
        let q = i64::from(qty);
        let notional = i128::from(price.0) * i128::from(qty);
        match side {
            Side::Bid => {
                self.net += q;
                self.bought += u64::from(qty);
                self.cash -= notional;
            }
            Side::Ask => {
                self.net -= q;
                self.sold += u64::from(qty);
                self.cash += notional;
            }
        }
        self.fills += 1;
    }

    /// P&L marked at `mark`, in price units × shares (divide by [`Price::SCALE`] for currency).
    pub fn mark_to_market(&self, mark: Price) -> i128 {
        self.cash + i128::from(self.net) * i128::from(mark.0)
    }

    /// Whether nothing was ever traded.
    pub fn is_flat_and_untouched(&self) -> bool {
        self.fills == 0
    }
}

/// Positions of one strategy, by instrument, in instrument order (deterministic iteration).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Positions {
    entries: Vec<(InstrumentId, Position)>,
}

impl Positions {
    /// The position in `instrument` (all zero if never traded).
    pub fn get(&self, instrument: InstrumentId) -> Position {
        match self.entries.binary_search_by_key(&instrument, |e| e.0) {
            Ok(i) => self.entries[i].1,
            Err(_) => Position::default(),
        }
    }

    /// Adds a fill.
    pub fn apply(&mut self, fill: &Fill) {
        let i = match self.entries.binary_search_by_key(&fill.instrument, |e| e.0) {
            Ok(i) => i,
            Err(i) => {
                self.entries
                    .insert(i, (fill.instrument, Position::default()));
                i
            }
        };
        self.entries[i].1.apply(fill.side, fill.price, fill.qty.0);
    }

    /// Every traded instrument and its position, by instrument id.
    pub fn iter(&self) -> impl Iterator<Item = (InstrumentId, Position)> + '_ {
        self.entries.iter().copied()
    }

    /// Exchanges the positions of instruments `a` and `b` (either may have none): the lane's,
    /// when a new trading day gives a symbol held overnight another stock locate.
    pub fn swap(&mut self, a: InstrumentId, b: InstrumentId) {
        if a == b {
            return;
        }
        for e in &mut self.entries {
            if e.0 == a {
                e.0 = b;
            } else if e.0 == b {
                e.0 = a;
            }
        }
        self.entries.sort_by_key(|e| e.0);
    }
}
