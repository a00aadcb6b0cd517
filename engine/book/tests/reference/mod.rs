//! A brute-force reference market: obviously correct, slow, and independent of the crate's
//! data structures. Each side of a book is a `BTreeMap<Price, Vec<(OrderId, qty)>>` (the `Vec`
//! in FIFO order); orders are found through a `BTreeMap<OrderId, (instrument, side, price)>`.
//!
//! It implements the documented semantics of `ticklane_book::Market::apply`, anomalies
//! included, so both can be compared after every event.

#![allow(dead_code)]

use std::collections::BTreeMap;

use ticklane_book::AnomalyKind;
use ticklane_core::{EventBody, InstrumentId, MarketEvent, OrderId, Price, Side};

/// One side: price -> orders in FIFO order.
pub type RefSide = BTreeMap<Price, Vec<(OrderId, u32)>>;

/// One level as compared: `(price, total qty, FIFO orders)`.
pub type RefLevel = (Price, u64, Vec<(OrderId, u32)>);

/// One instrument's book.
#[derive(Default, Debug, Clone)]
pub struct RefBook {
    pub bids: RefSide,
    pub asks: RefSide,
    pub crossed: bool,
}

impl RefBook {
    pub fn side(&self, side: Side) -> &RefSide {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut RefSide {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    /// Levels best first: `(price, total qty, FIFO orders)`.
    pub fn levels(&self, side: Side) -> Vec<RefLevel> {
        let f = |(p, v): (&Price, &Vec<(OrderId, u32)>)| {
            (*p, v.iter().map(|o| u64::from(o.1)).sum(), v.clone())
        };
        match side {
            Side::Bid => self.bids.iter().rev().map(f).collect(),
            Side::Ask => self.asks.iter().map(f).collect(),
        }
    }

    /// Best `(price, qty)` of a side.
    pub fn top(&self, side: Side) -> Option<(Price, u64)> {
        self.levels(side).first().map(|l| (l.0, l.1))
    }

    pub fn compute_crossed(&self) -> bool {
        match (self.bids.keys().next_back(), self.asks.keys().next()) {
            (Some(b), Some(a)) => b >= a,
            _ => false,
        }
    }
}

/// What the reference says one event did.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct RefResult {
    pub instrument: InstrumentId,
    pub book_changed: bool,
    pub bid_top_changed: bool,
    pub ask_top_changed: bool,
    pub crossed: bool,
    pub anomalies: Vec<AnomalyKind>,
}

/// The reference market.
#[derive(Default, Debug, Clone)]
pub struct RefMarket {
    pub books: BTreeMap<InstrumentId, RefBook>,
    /// Live orders: id -> (instrument, side, price).
    pub orders: BTreeMap<OrderId, (InstrumentId, Side, Price)>,
    pub anomalies: BTreeMap<AnomalyKind, u64>,
}

impl RefMarket {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn anomaly(&self, kind: AnomalyKind) -> u64 {
        self.anomalies.get(&kind).copied().unwrap_or(0)
    }

    /// Remaining quantity of a live order.
    pub fn qty(&self, id: OrderId) -> Option<u32> {
        let &(inst, side, price) = self.orders.get(&id)?;
        let level = self.books.get(&inst)?.side(side).get(&price)?;
        level.iter().find(|o| o.0 == id).map(|o| o.1)
    }

    /// Quantity ahead of a live order at its level.
    pub fn qty_ahead(&self, id: OrderId) -> Option<u64> {
        let &(inst, side, price) = self.orders.get(&id)?;
        let level = self.books.get(&inst)?.side(side).get(&price)?;
        let pos = level.iter().position(|o| o.0 == id)?;
        Some(level[..pos].iter().map(|o| u64::from(o.1)).sum())
    }

    /// The n-th live order id (in id order), if any.
    pub fn nth_order(&self, n: usize) -> Option<OrderId> {
        if self.orders.is_empty() {
            return None;
        }
        self.orders.keys().nth(n % self.orders.len()).copied()
    }

    fn flag(&mut self, r: &mut RefResult, kind: AnomalyKind) {
        *self.anomalies.entry(kind).or_insert(0) += 1;
        r.anomalies.push(kind);
    }

    fn add(
        &mut self,
        inst: InstrumentId,
        id: OrderId,
        side: Side,
        price: Price,
        qty: u32,
    ) -> Result<(), AnomalyKind> {
        if qty == 0 {
            return Err(AnomalyKind::ZeroQuantity);
        }
        if self.orders.contains_key(&id) {
            return Err(AnomalyKind::DuplicateOrderId);
        }
        self.orders.insert(id, (inst, side, price));
        self.books
            .entry(inst)
            .or_default()
            .side_mut(side)
            .entry(price)
            .or_default()
            .push((id, qty));
        Ok(())
    }

    /// Reduces a live order by `qty` (>= remaining removes it). Returns whether it was clamped.
    fn reduce(&mut self, id: OrderId, qty: u32) -> bool {
        let Some(&(inst, side, price)) = self.orders.get(&id) else {
            return false;
        };
        let book = self.books.entry(inst).or_default();
        let levels = book.side_mut(side);
        let level = levels.get_mut(&price).expect("level of live order");
        let pos = level
            .iter()
            .position(|o| o.0 == id)
            .expect("order at its level");
        let remaining = level[pos].1;
        if qty >= remaining {
            level.remove(pos);
            if level.is_empty() {
                levels.remove(&price);
            }
            self.orders.remove(&id);
        } else {
            level[pos].1 = remaining - qty;
        }
        qty > remaining
    }

    /// Looks an order up for an event; counts unknown ids and instrument mismatches.
    fn lookup(
        &mut self,
        r: &mut RefResult,
        id: OrderId,
        unknown: AnomalyKind,
    ) -> Option<(InstrumentId, Side)> {
        let Some(&(inst, side, _)) = self.orders.get(&id) else {
            self.flag(r, unknown);
            return None;
        };
        if inst != r.instrument {
            self.flag(r, AnomalyKind::InstrumentMismatch);
            r.instrument = inst;
        }
        Some((inst, side))
    }

    fn finish(
        &mut self,
        r: &mut RefResult,
        inst: InstrumentId,
        side: Side,
        before: Option<(Price, u64)>,
    ) {
        r.book_changed = true;
        let book = self.books.entry(inst).or_default();
        let changed = book.top(side) != before;
        match side {
            Side::Bid => r.bid_top_changed = changed,
            Side::Ask => r.ask_top_changed = changed,
        }
        let crossed = book.compute_crossed();
        let was = std::mem::replace(&mut book.crossed, crossed);
        r.crossed = crossed;
        if crossed && !was {
            self.flag(r, AnomalyKind::CrossedBook);
        }
    }

    fn top(&self, inst: InstrumentId, side: Side) -> Option<(Price, u64)> {
        self.books.get(&inst).and_then(|b| b.top(side))
    }

    pub fn apply(&mut self, ev: &MarketEvent) -> RefResult {
        let mut r = RefResult {
            instrument: ev.instrument,
            ..RefResult::default()
        };
        match ev.body {
            EventBody::OrderAdded {
                order_id,
                side,
                price,
                qty,
                ..
            } => {
                let before = self.top(ev.instrument, side);
                match self.add(ev.instrument, order_id, side, price, qty.0) {
                    Ok(()) => self.finish(&mut r, ev.instrument, side, before),
                    Err(k) => self.flag(&mut r, k),
                }
            }
            EventBody::OrderExecuted { order_id, qty, .. }
            | EventBody::OrderExecutedWithPrice { order_id, qty, .. } => {
                self.exec_or_cancel(
                    &mut r,
                    order_id,
                    qty.0,
                    AnomalyKind::UnknownOrderExecuted,
                    AnomalyKind::OversizeExecution,
                );
            }
            EventBody::OrderCancelled { order_id, qty } => {
                self.exec_or_cancel(
                    &mut r,
                    order_id,
                    qty.0,
                    AnomalyKind::UnknownOrderCancelled,
                    AnomalyKind::OversizeCancel,
                );
            }
            EventBody::OrderDeleted { order_id } => {
                if let Some((inst, side)) =
                    self.lookup(&mut r, order_id, AnomalyKind::UnknownOrderDeleted)
                {
                    let before = self.top(inst, side);
                    self.reduce(order_id, u32::MAX);
                    self.finish(&mut r, inst, side, before);
                }
            }
            EventBody::OrderReplaced {
                old_id,
                new_id,
                price,
                qty,
            } => {
                if let Some((inst, side)) =
                    self.lookup(&mut r, old_id, AnomalyKind::UnknownOrderReplaced)
                {
                    let before = self.top(inst, side);
                    self.reduce(old_id, u32::MAX);
                    if let Err(k) = self.add(inst, new_id, side, price, qty.0) {
                        self.flag(&mut r, k);
                    }
                    self.finish(&mut r, inst, side, before);
                }
            }
            _ => {}
        }
        r
    }

    fn exec_or_cancel(
        &mut self,
        r: &mut RefResult,
        id: OrderId,
        qty: u32,
        unknown: AnomalyKind,
        oversize: AnomalyKind,
    ) {
        let Some((inst, side)) = self.lookup(r, id, unknown) else {
            return;
        };
        if qty == 0 {
            self.flag(r, AnomalyKind::ZeroQuantity);
            return;
        }
        let before = self.top(inst, side);
        if self.reduce(id, qty) {
            self.flag(r, oversize);
        }
        self.finish(r, inst, side, before);
    }
}
