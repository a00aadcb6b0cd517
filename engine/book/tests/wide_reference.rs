//! The book's maintenance against the brute-force reference with a wider
//! generator than `book_model.rs`: NASDAQ-like ids (step 4) that wrap the index window, ids
//! reused after delete, ids far below and above the window, replaces to the same id, to a
//! deleted id and to a live id, prices at the ends of `i64`, 0 and far apart, sparse
//! instrument ids, and every reduction size (0, partial, exact, oversize).

mod reference;

use std::collections::BTreeSet;

use proptest::prelude::*;
use reference::RefMarket;
use ticklane_book::{AnomalyKind, Market};
use ticklane_core::{
    EventBody, InstrumentId, MarketEvent, MatchId, OrderId, Price, Qty, Side, Timestamp,
};

const INSTS: [u32; 5] = [1, 2, 7, (1 << 20) + 3, u32::MAX];

fn price_of(sel: u8, raw: i64) -> Price {
    Price(match sel % 8 {
        0 => 0,
        1 => i64::MAX,
        2 => i64::MIN,
        3 => i64::from(u32::MAX),
        4 => raw % 64 * 100 + 1_000_000,
        5 => raw,
        6 => -(raw % 1000),
        _ => raw % 16 + 1_000_000,
    })
}

#[derive(Clone, Debug)]
enum Op {
    Add {
        inst: u8,
        bid: bool,
        idsel: u8,
        raw: u64,
        psel: u8,
        praw: i64,
        qty: u32,
    },
    Reduce {
        pick: u16,
        kind: u8,
        qsel: u8,
        exec: bool,
        wrong: bool,
    },
    Delete {
        pick: u16,
        wrong: bool,
        unknown: Option<u64>,
    },
    Replace {
        pick: u16,
        idsel: u8,
        raw: u64,
        psel: u8,
        praw: i64,
        qty: u32,
        wrong: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u8>(), any::<bool>(), any::<u8>(), any::<u64>(), any::<u8>(), any::<i64>(), prop_oneof![1u32..500, Just(u32::MAX), Just(0u32)])
            .prop_map(|(inst, bid, idsel, raw, psel, praw, qty)| Op::Add { inst, bid, idsel, raw, psel, praw, qty }),
        3 => (any::<u16>(), any::<u8>(), any::<u8>(), any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, kind, qsel, exec, wrong)| Op::Reduce { pick, kind, qsel, exec, wrong }),
        3 => (any::<u16>(), prop::bool::weighted(0.1), prop::option::weighted(0.1, any::<u64>()))
            .prop_map(|(pick, wrong, unknown)| Op::Delete { pick, wrong, unknown }),
        2 => (any::<u16>(), any::<u8>(), any::<u64>(), any::<u8>(), any::<i64>(), prop_oneof![1u32..500, Just(0u32)], prop::bool::weighted(0.1))
            .prop_map(|(pick, idsel, raw, psel, praw, qty, wrong)| Op::Replace { pick, idsel, raw, psel, praw, qty, wrong }),
    ]
}

struct Gen {
    next: u64,
    deleted: Vec<u64>,
}

impl Gen {
    /// An id for an add or a replace's new order: fresh (step 4, NASDAQ-like), one deleted
    /// before (reused), far below or far above, or a live one (a duplicate).
    fn id(&mut self, sel: u8, raw: u64, r: &RefMarket, old: Option<OrderId>) -> OrderId {
        let id = match sel % 16 {
            0..=8 => {
                self.next += 4;
                self.next
            }
            9 | 10 => match self.deleted.pop() {
                Some(d) => d,
                None => {
                    self.next += 4;
                    self.next
                }
            },
            11 => 1 + 4 * (raw % 64),
            12 => u64::MAX - 4 * (raw % 64) - 2,
            13 => old.map_or(self.next + 4, |o| o.0),
            14 => r.nth_order(raw as usize).map_or(self.next + 8, |o| o.0),
            15 if raw.is_multiple_of(4) => 0,
            _ => raw | 1,
        };
        OrderId(id)
    }
}

fn side(bid: bool) -> Side {
    if bid {
        Side::Bid
    } else {
        Side::Ask
    }
}

fn materialize(op: &Op, r: &RefMarket, g: &mut Gen, ts: u64) -> Option<MarketEvent> {
    let inst_of = |id: OrderId| r.orders.get(&id).map(|o| o.0);
    let wrong_of = |i: InstrumentId| {
        if i == InstrumentId(1) {
            InstrumentId(2)
        } else {
            InstrumentId(1)
        }
    };
    let ev = |i, body| MarketEvent::new(Timestamp(ts), i, body);
    Some(match *op {
        Op::Add {
            inst,
            bid,
            idsel,
            raw,
            psel,
            praw,
            qty,
        } => {
            let inst = InstrumentId(INSTS[usize::from(inst) % INSTS.len()]);
            let body = EventBody::OrderAdded {
                order_id: g.id(idsel, raw, r, None),
                side: side(bid),
                price: price_of(psel, praw),
                qty: Qty(qty),
                mpid: [0; 4],
            };
            ev(inst, body)
        }
        Op::Reduce {
            pick,
            kind,
            qsel,
            exec,
            wrong,
        } => {
            let id = r.nth_order(pick.into())?;
            let rem = r.qty(id)?;
            let qty = match qsel % 5 {
                0 => 0,
                1 => rem,
                2 => rem.saturating_add(1 + u32::from(kind)),
                3 => u32::MAX,
                _ => 1 + u32::from(kind) % rem,
            };
            let mut i = inst_of(id)?;
            if wrong {
                i = wrong_of(i);
            }
            let body = match (exec, kind % 2) {
                (true, 0) => EventBody::OrderExecuted {
                    order_id: id,
                    qty: Qty(qty),
                    match_id: MatchId(ts),
                },
                (true, _) => EventBody::OrderExecutedWithPrice {
                    order_id: id,
                    qty: Qty(qty),
                    match_id: MatchId(ts),
                    price: Price(1),
                    printable: true,
                },
                (false, _) => EventBody::OrderCancelled {
                    order_id: id,
                    qty: Qty(qty),
                },
            };
            ev(i, body)
        }
        Op::Delete {
            pick,
            wrong,
            unknown,
        } => {
            if let Some(u) = unknown {
                let id = OrderId(u | 1);
                return Some(ev(
                    InstrumentId(1),
                    EventBody::OrderDeleted { order_id: id },
                ));
            }
            let id = r.nth_order(pick.into())?;
            let mut i = inst_of(id)?;
            if wrong {
                i = wrong_of(i);
            }
            g.deleted.push(id.0);
            ev(i, EventBody::OrderDeleted { order_id: id })
        }
        Op::Replace {
            pick,
            idsel,
            raw,
            psel,
            praw,
            qty,
            wrong,
        } => {
            let id = r.nth_order(pick.into())?;
            let mut i = inst_of(id)?;
            if wrong {
                i = wrong_of(i);
            }
            let new_id = g.id(idsel, raw, r, Some(id));
            g.deleted.push(id.0);
            ev(
                i,
                EventBody::OrderReplaced {
                    old_id: id,
                    new_id,
                    price: price_of(psel, praw),
                    qty: Qty(qty),
                },
            )
        }
    })
}

fn compare(m: &Market, r: &RefMarket, insts: &BTreeSet<InstrumentId>) -> Result<(), String> {
    m.check_invariants().map_err(|e| e.to_string())?;
    if m.live_orders() != r.orders.len() {
        return Err(format!(
            "live orders {} != {}",
            m.live_orders(),
            r.orders.len()
        ));
    }
    for &inst in insts {
        let rb = r.books.get(&inst).cloned().unwrap_or_default();
        for s in [Side::Bid, Side::Ask] {
            let want: Vec<_> = rb.levels(s).into_iter().collect();
            let got: Vec<_> = match m.book(inst) {
                None => vec![],
                Some(book) => book
                    .levels(s)
                    .map(|l| {
                        let o: Vec<(OrderId, u32)> = book
                            .level_orders(s, l.price)
                            .map(|o| (o.id, o.qty.0))
                            .collect();
                        (l.price, l.qty, o)
                    })
                    .collect(),
            };
            if got != want {
                return Err(format!("{inst:?} {s:?}:\n got  {got:?}\n want {want:?}"));
            }
            if let Some(book) = m.book(inst) {
                let best = book.best(s).map(|l| (l.price, l.qty));
                if best != rb.top(s) {
                    return Err(format!("{inst:?} {s:?} best {best:?} != {:?}", rb.top(s)));
                }
                if book.is_crossed() != rb.compute_crossed() {
                    return Err(format!("{inst:?} crossed"));
                }
            }
        }
    }
    for (&id, &(inst, s, p)) in &r.orders {
        let o = m.order(id).ok_or_else(|| format!("order {id:?} missing"))?;
        if (o.instrument, o.side, o.price, Some(o.qty.0)) != (inst, s, p, r.qty(id)) {
            return Err(format!("order {id:?}: {o:?}"));
        }
        if m.qty_ahead(id) != r.qty_ahead(id) {
            return Err(format!("qty_ahead {id:?}"));
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_market_matches_the_reference_over_a_wide_generator(
        cap in prop_oneof![Just(0usize), Just(4), Just(64)],
        ops in prop::collection::vec(op(), 1..600),
    ) {
        let mut m = Market::with_capacity(cap, 1);
        let mut r = RefMarket::new();
        let mut g = Gen { next: 1, deleted: vec![] };
        let mut insts = BTreeSet::new();
        for (i, op) in ops.iter().enumerate() {
            let Some(ev) = materialize(op, &r, &mut g, i as u64) else { continue };
            insts.insert(ev.instrument);
            // The reference has no rule for reference 0: counted first, the order kept.
            let zero = match ev.body {
                EventBody::OrderAdded { order_id, .. } => order_id.0 == 0,
                EventBody::OrderReplaced { old_id, new_id, .. } => new_id.0 == 0 && r.orders.contains_key(&old_id),
                _ => false,
            };
            let mut want = r.apply(&ev);
            if zero {
                *r.anomalies.entry(AnomalyKind::ZeroOrderId).or_insert(0) += 1;
                let at = usize::from(want.anomalies.first() == Some(&AnomalyKind::InstrumentMismatch));
                want.anomalies.insert(at, AnomalyKind::ZeroOrderId);
            }
            let got = m.apply(&ev);
            let g1 = (got.instrument, got.book_changed, got.bid_top_changed, got.ask_top_changed, got.crossed, got.anomaly);
            let w1 = (want.instrument, want.book_changed, want.bid_top_changed, want.ask_top_changed, want.crossed, want.anomalies.first().copied());
            prop_assert_eq!(g1, w1, "event {} {:?}", i, ev);
            compare(&m, &r, &insts).map_err(|e| TestCaseError::fail(format!("after event {i} {ev:?}: {e}")))?;
        }
    }
}
