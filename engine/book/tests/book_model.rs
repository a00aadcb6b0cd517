//! Model-based property tests: `Market` against the brute-force reference in `reference/`,
//! compared in full (every level of both sides of every instrument, FIFO order ids and
//! quantities, queue positions, apply results, anomaly counters) after EVERY event, plus
//! `check_invariants()`.

mod reference;

use std::collections::BTreeMap;

use proptest::prelude::*;
use reference::{RefMarket, RefResult};
use ticklane_book::{AnomalyKind, ApplyResult, Market};
use ticklane_core::{
    EventBody, InstrumentId, MarketEvent, MatchId, OrderId, Price, Qty, Side, Timestamp,
};

const INSTRUMENTS: u32 = 3;
/// Price tick used by the generator ($0.01).
const TICK: i64 = 100;

/// A random "seed" for one event; it is turned into a concrete event against the current
/// reference state (which live order to touch, what quantity), so sequences stay meaningful
/// while proptest shrinks them.
#[derive(Clone, Debug)]
enum Op {
    Add {
        inst: u32,
        bid: bool,
        px: u8,
        qty: u16,
    },
    Exec {
        pick: u16,
        frac: u8,
        with_price: bool,
    },
    Cancel {
        pick: u16,
        frac: u8,
    },
    Delete {
        pick: u16,
    },
    Replace {
        pick: u16,
        px: u8,
        qty: u16,
    },
    // ---- invalid ones (only in the mixed strategy)
    ExecUnknown {
        id: u64,
    },
    CancelUnknown {
        id: u64,
    },
    DeleteUnknown {
        id: u64,
    },
    ReplaceUnknown {
        id: u64,
    },
    ExecOversize {
        pick: u16,
        extra: u16,
    },
    CancelOversize {
        pick: u16,
        extra: u16,
    },
    DuplicateAdd {
        pick: u16,
        inst: u32,
        bid: bool,
        px: u8,
    },
    ReplaceToLiveId {
        pick: u16,
        pick2: u16,
        px: u8,
    },
    ZeroAdd {
        inst: u32,
        bid: bool,
        px: u8,
    },
    ZeroExec {
        pick: u16,
    },
    Mismatch {
        pick: u16,
        frac: u8,
    },
    CrossingAdd {
        inst: u32,
        bid: bool,
        qty: u16,
    },
}

fn valid_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1..=INSTRUMENTS, any::<bool>(), 0u8..12, 1u16..500)
            .prop_map(|(inst, bid, px, qty)| Op::Add { inst, bid, px, qty }),
        3 => (any::<u16>(), any::<u8>(), any::<bool>())
            .prop_map(|(pick, frac, with_price)| Op::Exec { pick, frac, with_price }),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(pick, frac)| Op::Cancel { pick, frac }),
        3 => any::<u16>().prop_map(|pick| Op::Delete { pick }),
        2 => (any::<u16>(), 0u8..12, 1u16..500).prop_map(|(pick, px, qty)| Op::Replace { pick, px, qty }),
    ]
}

fn invalid_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u64>().prop_map(|id| Op::ExecUnknown { id }),
        any::<u64>().prop_map(|id| Op::CancelUnknown { id }),
        any::<u64>().prop_map(|id| Op::DeleteUnknown { id }),
        any::<u64>().prop_map(|id| Op::ReplaceUnknown { id }),
        (any::<u16>(), 1u16..1000).prop_map(|(pick, extra)| Op::ExecOversize { pick, extra }),
        (any::<u16>(), 1u16..1000).prop_map(|(pick, extra)| Op::CancelOversize { pick, extra }),
        (any::<u16>(), 1..=INSTRUMENTS, any::<bool>(), 0u8..12).prop_map(
            |(pick, inst, bid, px)| Op::DuplicateAdd {
                pick,
                inst,
                bid,
                px
            }
        ),
        (any::<u16>(), any::<u16>(), 0u8..12).prop_map(|(pick, pick2, px)| Op::ReplaceToLiveId {
            pick,
            pick2,
            px
        }),
        (1..=INSTRUMENTS, any::<bool>(), 0u8..12).prop_map(|(inst, bid, px)| Op::ZeroAdd {
            inst,
            bid,
            px
        }),
        any::<u16>().prop_map(|pick| Op::ZeroExec { pick }),
        (any::<u16>(), any::<u8>()).prop_map(|(pick, frac)| Op::Mismatch { pick, frac }),
        (1..=INSTRUMENTS, any::<bool>(), 1u16..500).prop_map(|(inst, bid, qty)| Op::CrossingAdd {
            inst,
            bid,
            qty
        }),
    ]
}

/// Valid events over 256 prices a side (the two sides' grids overlap, so books cross and
/// lock): more prices than a side has level hints, so adds meet hints of other prices and of
/// level slots reused elsewhere.
fn wide_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1..=INSTRUMENTS, any::<bool>(), any::<u8>(), 1u16..500)
            .prop_map(|(inst, bid, px, qty)| Op::Add { inst, bid, px, qty }),
        2 => (any::<u16>(), any::<u8>(), any::<bool>())
            .prop_map(|(pick, frac, with_price)| Op::Exec { pick, frac, with_price }),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(pick, frac)| Op::Cancel { pick, frac }),
        5 => any::<u16>().prop_map(|pick| Op::Delete { pick }),
        2 => (any::<u16>(), any::<u8>(), 1u16..500)
            .prop_map(|(pick, px, qty)| Op::Replace { pick, px, qty }),
    ]
}

fn mixed_op() -> impl Strategy<Value = Op> {
    prop_oneof![3 => valid_op(), 1 => invalid_op()]
}

/// Bids rest at 90.00..=90.11, asks at 90.12..=90.23 while `px < 12`: valid adds never cross
/// (`wide_op`'s larger `px` let the grids overlap).
fn price(bid: bool, px: u8) -> Price {
    let base = if bid { 9000 } else { 9012 };
    Price((base + i64::from(px)) * TICK)
}

/// Quantity to take out of an order of `remaining` shares: 1..=remaining (full about 1/4 of
/// the time).
fn part(remaining: u32, frac: u8) -> u32 {
    if frac < 64 {
        remaining
    } else {
        1 + (u32::from(frac) * 7919) % remaining
    }
}

/// Turns a seed into an event against the reference state; `None` when the seed needs live
/// orders that do not exist. Also returns the anomaly the generator intends (if any).
fn materialize(
    op: &Op,
    r: &RefMarket,
    next_id: &mut u64,
    ts: u64,
) -> Option<(MarketEvent, Option<AnomalyKind>)> {
    let inst_of = |id: OrderId| r.orders.get(&id).map(|o| o.0).unwrap_or(InstrumentId(1));
    let side_of = |b: bool| if b { Side::Bid } else { Side::Ask };
    let mut fresh = || {
        // Sparse, increasing ids like ITCH order references.
        *next_id += 1 + (*next_id % 3);
        OrderId(*next_id)
    };
    let ev = |inst: InstrumentId, body| MarketEvent::new(Timestamp(ts), inst, body);
    let unknown = |id: u64| OrderId(id | (1 << 63));
    let out = match *op {
        Op::Add { inst, bid, px, qty } => (
            ev(
                InstrumentId(inst),
                EventBody::OrderAdded {
                    order_id: fresh(),
                    side: side_of(bid),
                    price: price(bid, px),
                    qty: Qty(u32::from(qty)),
                    mpid: [0; 4],
                },
            ),
            None,
        ),
        Op::Exec {
            pick,
            frac,
            with_price,
        } => {
            let id = r.nth_order(pick.into())?;
            let qty = Qty(part(r.qty(id)?, frac));
            let body = if with_price {
                EventBody::OrderExecutedWithPrice {
                    order_id: id,
                    qty,
                    match_id: MatchId(ts),
                    price: Price(1),
                    printable: frac % 2 == 0,
                }
            } else {
                EventBody::OrderExecuted {
                    order_id: id,
                    qty,
                    match_id: MatchId(ts),
                }
            };
            (ev(inst_of(id), body), None)
        }
        Op::Cancel { pick, frac } => {
            let id = r.nth_order(pick.into())?;
            let qty = Qty(part(r.qty(id)?, frac));
            (
                ev(inst_of(id), EventBody::OrderCancelled { order_id: id, qty }),
                None,
            )
        }
        Op::Delete { pick } => {
            let id = r.nth_order(pick.into())?;
            (
                ev(inst_of(id), EventBody::OrderDeleted { order_id: id }),
                None,
            )
        }
        Op::Replace { pick, px, qty } => {
            let id = r.nth_order(pick.into())?;
            let bid = r.orders.get(&id)?.1 == Side::Bid;
            let body = EventBody::OrderReplaced {
                old_id: id,
                new_id: fresh(),
                price: price(bid, px),
                qty: Qty(u32::from(qty)),
            };
            (ev(inst_of(id), body), None)
        }
        Op::ExecUnknown { id } => (
            ev(
                InstrumentId(1),
                EventBody::OrderExecuted {
                    order_id: unknown(id),
                    qty: Qty(1),
                    match_id: MatchId(0),
                },
            ),
            Some(AnomalyKind::UnknownOrderExecuted),
        ),
        Op::CancelUnknown { id } => (
            ev(
                InstrumentId(2),
                EventBody::OrderCancelled {
                    order_id: unknown(id),
                    qty: Qty(1),
                },
            ),
            Some(AnomalyKind::UnknownOrderCancelled),
        ),
        Op::DeleteUnknown { id } => (
            ev(
                InstrumentId(1),
                EventBody::OrderDeleted {
                    order_id: unknown(id),
                },
            ),
            Some(AnomalyKind::UnknownOrderDeleted),
        ),
        Op::ReplaceUnknown { id } => (
            ev(
                InstrumentId(3),
                EventBody::OrderReplaced {
                    old_id: unknown(id),
                    new_id: fresh(),
                    price: Price(TICK),
                    qty: Qty(5),
                },
            ),
            Some(AnomalyKind::UnknownOrderReplaced),
        ),
        Op::ExecOversize { pick, extra } => {
            let id = r.nth_order(pick.into())?;
            let qty = Qty(r.qty(id)? + u32::from(extra));
            (
                ev(
                    inst_of(id),
                    EventBody::OrderExecuted {
                        order_id: id,
                        qty,
                        match_id: MatchId(ts),
                    },
                ),
                Some(AnomalyKind::OversizeExecution),
            )
        }
        Op::CancelOversize { pick, extra } => {
            let id = r.nth_order(pick.into())?;
            let qty = Qty(r.qty(id)? + u32::from(extra));
            (
                ev(inst_of(id), EventBody::OrderCancelled { order_id: id, qty }),
                Some(AnomalyKind::OversizeCancel),
            )
        }
        Op::DuplicateAdd {
            pick,
            inst,
            bid,
            px,
        } => {
            let id = r.nth_order(pick.into())?;
            (
                ev(
                    InstrumentId(inst),
                    EventBody::OrderAdded {
                        order_id: id,
                        side: side_of(bid),
                        price: price(bid, px),
                        qty: Qty(10),
                        mpid: [0; 4],
                    },
                ),
                Some(AnomalyKind::DuplicateOrderId),
            )
        }
        Op::ReplaceToLiveId { pick, pick2, px } => {
            let id = r.nth_order(pick.into())?;
            let other = r
                .orders
                .keys()
                .copied()
                .filter(|&o| o != id)
                .nth(usize::from(pick2) % r.orders.len().max(2).saturating_sub(1))?;
            let bid = r.orders.get(&id)?.1 == Side::Bid;
            (
                ev(
                    inst_of(id),
                    EventBody::OrderReplaced {
                        old_id: id,
                        new_id: other,
                        price: price(bid, px),
                        qty: Qty(7),
                    },
                ),
                Some(AnomalyKind::DuplicateOrderId),
            )
        }
        Op::ZeroAdd { inst, bid, px } => (
            ev(
                InstrumentId(inst),
                EventBody::OrderAdded {
                    order_id: fresh(),
                    side: side_of(bid),
                    price: price(bid, px),
                    qty: Qty(0),
                    mpid: [0; 4],
                },
            ),
            Some(AnomalyKind::ZeroQuantity),
        ),
        Op::ZeroExec { pick } => {
            let id = r.nth_order(pick.into())?;
            (
                ev(
                    inst_of(id),
                    EventBody::OrderExecuted {
                        order_id: id,
                        qty: Qty(0),
                        match_id: MatchId(ts),
                    },
                ),
                Some(AnomalyKind::ZeroQuantity),
            )
        }
        Op::Mismatch { pick, frac } => {
            let id = r.nth_order(pick.into())?;
            let right = inst_of(id);
            let wrong = InstrumentId(right.0 % INSTRUMENTS + 1);
            let qty = Qty(part(r.qty(id)?, frac));
            (
                ev(wrong, EventBody::OrderCancelled { order_id: id, qty }),
                Some(AnomalyKind::InstrumentMismatch),
            )
        }
        Op::CrossingAdd { inst, bid, qty } => {
            // A bid above every ask (or an ask below every bid): crosses if the other side has
            // orders.
            let px = if bid {
                Price(9100 * TICK)
            } else {
                Price(8900 * TICK)
            };
            (
                ev(
                    InstrumentId(inst),
                    EventBody::OrderAdded {
                        order_id: fresh(),
                        side: side_of(bid),
                        price: px,
                        qty: Qty(u32::from(qty)),
                        mpid: [0; 4],
                    },
                ),
                None,
            )
        }
    };
    Some(out)
}

/// Compares everything observable; returns a description of the first difference.
fn compare(m: &Market, r: &RefMarket) -> Result<(), String> {
    m.check_invariants().map_err(|e| e.to_string())?;
    if m.live_orders() != r.orders.len() {
        return Err(format!(
            "live orders {} != {}",
            m.live_orders(),
            r.orders.len()
        ));
    }
    for inst in 1..=INSTRUMENTS {
        let inst = InstrumentId(inst);
        let rb = r.books.get(&inst).cloned().unwrap_or_default();
        for side in [Side::Bid, Side::Ask] {
            let want = rb.levels(side);
            let Some(book) = m.book(inst) else {
                if want.is_empty() {
                    continue;
                }
                return Err(format!("{inst:?}: no book, reference has levels"));
            };
            let got: Vec<_> = book
                .levels(side)
                .map(|l| {
                    let orders: Vec<(OrderId, u32)> = book
                        .level_orders(side, l.price)
                        .map(|o| (o.id, o.qty.0))
                        .collect();
                    (l.price, l.qty, l.orders as usize, orders)
                })
                .collect();
            let want: Vec<_> = want
                .into_iter()
                .map(|(p, q, o)| (p, q, o.len(), o))
                .collect();
            if got != want {
                return Err(format!("{inst:?} {side:?}:\n got  {got:?}\n want {want:?}"));
            }
            if book.level_count(side) != got.len() {
                return Err("level_count".into());
            }
            let best = book.best(side).map(|l| (l.price, l.qty));
            if best != rb.top(side) {
                return Err(format!(
                    "{inst:?} {side:?}: best {best:?} != {:?}",
                    rb.top(side)
                ));
            }
            if book.depth(side, 2).len() != got.len().min(2) {
                return Err("depth".into());
            }
            for (p, q, n, _) in &got {
                let l = book.level(side, *p).ok_or("level() missed")?;
                if (l.qty, l.orders as usize) != (*q, *n) {
                    return Err("level() differs".into());
                }
            }
        }
        if let Some(book) = m.book(inst) {
            if book.is_crossed() != rb.compute_crossed() {
                return Err(format!("{inst:?}: is_crossed"));
            }
        }
    }
    for (&id, &(inst, side, price)) in &r.orders {
        let o = m.order(id).ok_or_else(|| format!("order {id:?} missing"))?;
        if (o.instrument, o.side, o.price, Some(o.qty.0)) != (inst, side, price, r.qty(id)) {
            return Err(format!("order {id:?}: {o:?}"));
        }
        if m.qty_ahead(id) != r.qty_ahead(id) {
            return Err(format!(
                "qty_ahead {id:?}: {:?} != {:?}",
                m.qty_ahead(id),
                r.qty_ahead(id)
            ));
        }
        let book = m.book(inst).ok_or("book of live order")?;
        if book.qty_ahead(id) != r.qty_ahead(id) || book.order(id) != Some(o) {
            return Err(format!("book-level queries of {id:?}"));
        }
    }
    for k in AnomalyKind::ALL {
        if m.anomalies().get(k) != r.anomaly(k) {
            return Err(format!(
                "anomaly {k}: {} != {}",
                m.anomalies().get(k),
                r.anomaly(k)
            ));
        }
    }
    Ok(())
}

fn compare_result(got: &ApplyResult, want: &RefResult) -> Result<(), String> {
    let g = (
        got.instrument,
        got.book_changed,
        got.bid_top_changed,
        got.ask_top_changed,
        got.crossed,
        got.anomaly,
    );
    let w = (
        want.instrument,
        want.book_changed,
        want.bid_top_changed,
        want.ask_top_changed,
        want.crossed,
        want.anomalies.first().copied(),
    );
    if g != w {
        return Err(format!("apply result {g:?} != {w:?}"));
    }
    Ok(())
}

/// Runs a sequence through both models, comparing after every event. Returns the generator's
/// intended anomaly counts.
fn run(
    ops: &[Op],
    capacity: usize,
) -> Result<(Market, RefMarket, BTreeMap<AnomalyKind, u64>), TestCaseError> {
    let mut m = Market::with_capacity(capacity, 2);
    let mut r = RefMarket::new();
    let mut next_id = 1000u64;
    let mut intended: BTreeMap<AnomalyKind, u64> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        let Some((ev, want_anomaly)) = materialize(op, &r, &mut next_id, i as u64) else {
            continue;
        };
        if let Some(k) = want_anomaly {
            *intended.entry(k).or_insert(0) += 1;
        }
        let want = r.apply(&ev);
        let got = m.apply(&ev);
        compare_result(&got, &want)
            .map_err(|e| TestCaseError::fail(format!("event {i} {ev:?}: {e}")))?;
        compare(&m, &r).map_err(|e| TestCaseError::fail(format!("after event {i} {ev:?}: {e}")))?;
    }
    Ok((m, r, intended))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Long valid sequences: the books match the reference after every event and no anomaly
    /// is ever counted.
    #[test]
    fn valid_sequences_match_reference(ops in prop::collection::vec(valid_op(), 1..800)) {
        // A tiny initial capacity forces slab and index growth mid-sequence.
        let (m, _, _) = run(&ops, 4)?;
        prop_assert_eq!(m.anomalies().total(), 0, "{}", m.anomalies());
    }

    /// Valid events over wide, overlapping price grids: the books match the reference after
    /// every event, and the only anomalies are the crossed books the reference counts too.
    #[test]
    fn wide_price_grids_match_reference(ops in prop::collection::vec(wide_op(), 1..800)) {
        let (m, r, _) = run(&ops, 4)?;
        prop_assert_eq!(m.anomalies().total(), r.anomaly(AnomalyKind::CrossedBook));
        prop_assert_eq!(
            m.anomalies().get(AnomalyKind::CrossedBook),
            r.anomaly(AnomalyKind::CrossedBook)
        );
    }

    /// Sequences with invalid events mixed in: both models agree after every event, and every
    /// anomaly counter equals what the generator injected (crossed-book transitions, which
    /// depend on the state, are checked against the reference only).
    #[test]
    fn invalid_events_are_counted_not_fatal(ops in prop::collection::vec(mixed_op(), 1..600)) {
        let (m, r, intended) = run(&ops, 1 << 12)?;
        for k in AnomalyKind::ALL {
            let want = match k {
                AnomalyKind::CrossedBook => r.anomaly(k),
                _ => intended.get(&k).copied().unwrap_or(0),
            };
            prop_assert_eq!(m.anomalies().get(k), want, "kind {}", k);
        }
    }
}
