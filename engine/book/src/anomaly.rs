//! Feed anomalies: counted by kind, never a panic.
//!
//! Each kind has a stable snake-case [`AnomalyKind::name`] for reports. What the book does for
//! each kind is documented on the variant; in every case the book stays internally consistent.

use core::fmt;

use ticklane_core::InstrumentId;

use crate::market::{ApplyResult, Market};

/// One kind of feed anomaly.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[repr(u8)]
pub enum AnomalyKind {
    /// Execution (with or without price) of an order that is not live. Ignored.
    UnknownOrderExecuted = 0,
    /// Partial cancel of an order that is not live. Ignored.
    UnknownOrderCancelled,
    /// Delete of an order that is not live. Ignored.
    UnknownOrderDeleted,
    /// Replace of an order that is not live. Ignored (the new order is not added: its side is
    /// unknown).
    UnknownOrderReplaced,
    /// Add (or replace) with an order id that is already live, in any instrument. The live
    /// order is kept; the new one is dropped (for a replace, the old order is still removed).
    DuplicateOrderId,
    /// Add or replace with quantity 0 (nothing rests; a replace still removes the old order),
    /// or an execution or cancel of 0 shares (no-op).
    ZeroQuantity,
    /// Execution larger than the order's remaining quantity: clamped, the order is removed.
    OversizeExecution,
    /// Partial cancel larger than the order's remaining quantity: clamped, the order is removed.
    OversizeCancel,
    /// The book went from not crossed to crossed-or-locked (best bid >= best ask) after an
    /// event. Counted once per transition, not once per event while crossed.
    CrossedBook,
    /// An execute/cancel/delete/replace carried a different instrument than the one the order
    /// rests in. The order's own book is updated (the order index is authoritative).
    InstrumentMismatch,
    /// An instrument directory message conflicted with an earlier one (same id with another
    /// symbol, or same symbol with another id). The latest message wins.
    DirectoryConflict,
    /// Add (or replace) whose new order reference is 0. Real feeds use 0 for "no order" (e.g.
    /// non-displayed trades), so a resting order with it is suspect; independent books disagree
    /// on it (itch-book drops it, meatpy and itchcpp keep it). The order is kept, as the feed
    /// says, and counted; an add of reference 0 that the book refuses for another reason (a
    /// zero quantity, reference 0 already live) is counted under both kinds and not kept.
    ZeroOrderId,
    /// The feed reported messages lost for good ([`ticklane_core::EventBody::FeedGap`]).
    /// Every book is marked stale ([`crate::Market::stale`]) for the rest of the session.
    FeedGap,
}

impl AnomalyKind {
    /// Number of kinds.
    pub const COUNT: usize = 13;

    /// Every kind, in declaration order.
    pub const ALL: [AnomalyKind; Self::COUNT] = [
        AnomalyKind::UnknownOrderExecuted,
        AnomalyKind::UnknownOrderCancelled,
        AnomalyKind::UnknownOrderDeleted,
        AnomalyKind::UnknownOrderReplaced,
        AnomalyKind::DuplicateOrderId,
        AnomalyKind::ZeroQuantity,
        AnomalyKind::OversizeExecution,
        AnomalyKind::OversizeCancel,
        AnomalyKind::CrossedBook,
        AnomalyKind::InstrumentMismatch,
        AnomalyKind::DirectoryConflict,
        AnomalyKind::ZeroOrderId,
        AnomalyKind::FeedGap,
    ];

    /// Stable snake-case name for reports and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            AnomalyKind::UnknownOrderExecuted => "unknown_order_executed",
            AnomalyKind::UnknownOrderCancelled => "unknown_order_cancelled",
            AnomalyKind::UnknownOrderDeleted => "unknown_order_deleted",
            AnomalyKind::UnknownOrderReplaced => "unknown_order_replaced",
            AnomalyKind::DuplicateOrderId => "duplicate_order_id",
            AnomalyKind::ZeroQuantity => "zero_quantity",
            AnomalyKind::OversizeExecution => "oversize_execution",
            AnomalyKind::OversizeCancel => "oversize_cancel",
            AnomalyKind::CrossedBook => "crossed_book",
            AnomalyKind::InstrumentMismatch => "instrument_mismatch",
            AnomalyKind::DirectoryConflict => "directory_conflict",
            AnomalyKind::ZeroOrderId => "zero_order_id",
            AnomalyKind::FeedGap => "feed_gap",
        }
    }

    /// Array index of this kind.
    #[inline(always)]
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Anomaly counters, one per [`AnomalyKind`].
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct Anomalies {
    counts: [u64; AnomalyKind::COUNT],
}

impl Anomalies {
    /// All zero.
    pub const fn new() -> Self {
        Self {
            counts: [0; AnomalyKind::COUNT],
        }
    }

    /// Count of one kind.
    #[inline]
    pub fn get(&self, kind: AnomalyKind) -> u64 {
        self.counts[kind.index()]
    }

    /// Adds one to a kind.
    #[inline]
    pub fn record(&mut self, kind: AnomalyKind) {
        self.counts[kind.index()] += 1;
    }

    /// Sum over all kinds.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Every kind with its count (zeros included), in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (AnomalyKind, u64)> + '_ {
        AnomalyKind::ALL.iter().map(|&k| (k, self.get(k)))
    }

    /// Kinds with a non-zero count.
    pub fn nonzero(&self) -> impl Iterator<Item = (AnomalyKind, u64)> + '_ {
        self.iter().filter(|&(_, n)| n > 0)
    }

    /// These counts and `other`'s, kind by kind.
    pub fn plus(&self, other: &Anomalies) -> Anomalies {
        let mut d = *self;
        for k in AnomalyKind::ALL {
            d.counts[k.index()] = self.get(k).saturating_add(other.get(k));
        }
        d
    }

    /// The counts added since `earlier` (counts of the same counters, taken before).
    pub fn since(&self, earlier: &Anomalies) -> Anomalies {
        let mut d = Anomalies::new();
        for k in AnomalyKind::ALL {
            d.counts[k.index()] = self.get(k).saturating_sub(earlier.get(k));
        }
        d
    }
}

/// Anomalies by the instrument whose book each event touched ([`ApplyResult::instrument`]),
/// kept beside a [`Market`] by the caller of [`Market::apply`] (`book` and `bbo` print one
/// symbol's). The market itself counts only the totals: a counter per book inside `apply`
/// cost its event loop 4–7 instructions an event on a session with no anomaly at all (code
/// layout; `BENCHMARKS.md`), so the split is made here, from the totals, and only after an
/// event that raised one. The anomalies of market-wide events (feed gaps) are no instrument's.
#[derive(Clone, Default, Debug)]
pub struct InstrumentAnomalies {
    /// The market's totals when last observed.
    seen: Anomalies,
    /// The market's totals when the day began ([`InstrumentAnomalies::start_day`]).
    day_base: Anomalies,
    by: std::collections::BTreeMap<InstrumentId, Anomalies>,
}

impl InstrumentAnomalies {
    /// Nothing counted yet; observe every result of one market from its first event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts what the event that gave `r` raised against the instrument it touched (the
    /// market's totals since the last observation).
    #[inline]
    pub fn observe(&mut self, market: &Market, r: &ApplyResult) {
        if r.anomaly.is_some() {
            self.split(market, r.instrument);
        }
    }

    #[cold]
    fn split(&mut self, market: &Market, instrument: InstrumentId) {
        let now = *market.anomalies();
        if instrument != InstrumentId::NONE {
            let mine = self.by.entry(instrument).or_default();
            for k in AnomalyKind::ALL {
                mine.counts[k.index()] += now.get(k) - self.seen.get(k);
            }
        }
        self.seen = now;
    }

    /// The anomalies counted against `instrument`.
    pub fn get(&self, instrument: InstrumentId) -> Anomalies {
        self.by.get(&instrument).copied().unwrap_or_default()
    }

    /// A new trading day begins (a file of several): counting starts again, per instrument
    /// (stock locates are the day's own: a locate's day-1 anomalies were another symbol's)
    /// and for the feed ([`InstrumentAnomalies::feed`]).
    pub fn start_day(&mut self, market: &Market) {
        self.by.clear();
        self.seen = *market.anomalies();
        self.day_base = self.seen;
    }

    /// The market's anomalies of the day (all of them before a [`InstrumentAnomalies::start_day`]).
    pub fn feed(&self, market: &Market) -> Anomalies {
        market.anomalies().since(&self.day_base)
    }
}

impl fmt::Display for Anomalies {
    /// `name=count` pairs of the non-zero kinds, space separated (`none` if all zero).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (k, n) in self.nonzero() {
            if any {
                f.write_str(" ")?;
            }
            write!(f, "{}={n}", k.name())?;
            any = true;
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_indices_dense() {
        let mut names: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AnomalyKind::COUNT);
        for (i, k) in AnomalyKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
        let mut a = Anomalies::new();
        assert_eq!(a.to_string(), "none");
        a.record(AnomalyKind::CrossedBook);
        a.record(AnomalyKind::CrossedBook);
        a.record(AnomalyKind::ZeroQuantity);
        assert_eq!(a.total(), 3);
        assert_eq!(a.to_string(), "zero_quantity=1 crossed_book=2");
        let mut b = a;
        b.record(AnomalyKind::ZeroQuantity);
        b.record(AnomalyKind::OversizeCancel);
        assert_eq!(b.since(&a).to_string(), "zero_quantity=1 oversize_cancel=1");
        assert_eq!(a.since(&b).total(), 0, "never below zero");
    }

    #[test]
    fn a_kind_displays_as_its_name() {
        for k in AnomalyKind::ALL {
            assert_eq!(k.to_string(), k.name());
        }
        assert_eq!(
            format!("{}", AnomalyKind::OversizeCancel),
            "oversize_cancel"
        );
    }
}
