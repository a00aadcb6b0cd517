//! Every query of `OrderBook` / `Market` against a brute-force model that
//! keeps every live order in a `Vec` (in arrival order) and recomputes everything from it.

use proptest::prelude::*;
use ticklane_book::{LevelView, Market};
use ticklane_core::{
    EventBody, InstrumentId, MarketEvent, MatchId, OrderId, Price, Qty, Side, Timestamp,
};

#[derive(Clone, Debug)]
struct MOrder {
    id: u64,
    inst: u32,
    side: Side,
    price: i64,
    qty: u32,
    ts: u64,
}

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
}

const INSTS: u32 = 3;
/// 10 prices, shared by both sides: books lock and cross; few levels, so one-sided books occur.
fn px(p: u8) -> i64 {
    if std::env::var_os("QM_EXTREME").is_some() {
        const X: [i64; 10] = [
            i64::MIN,
            i64::MIN + 1,
            -100,
            -1,
            0,
            1,
            100,
            i64::MAX - 1,
            i64::MAX,
            10_000,
        ];
        return X[usize::from(p % 10)];
    }
    10_000 + i64::from(p % 10) * 100
}
fn insts() -> Vec<u32> {
    let mut v: Vec<u32> = (1..=INSTS).map(inst_id).collect();
    v.dedup();
    v
}
fn inst_id(i: u32) -> u32 {
    if std::env::var_os("QM_EXTREME").is_some() {
        return [0, 0, 1 << 20, u32::MAX][i as usize];
    }
    i
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1..=INSTS, any::<bool>(), any::<u8>(), 1u16..300).prop_map(|(inst, bid, px, qty)| Op::Add { inst, bid, px, qty }),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(pick, frac)| Op::Exec { pick, frac }),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(pick, frac)| Op::Cancel { pick, frac }),
        3 => any::<u16>().prop_map(|pick| Op::Delete { pick }),
        2 => (any::<u16>(), any::<u8>(), 1u16..300).prop_map(|(pick, px, qty)| Op::Replace { pick, px, qty }),
    ]
}

fn levels(model: &[MOrder], inst: u32, side: Side) -> Vec<(LevelView, Vec<(u64, u32)>)> {
    let mut prices: Vec<i64> = model
        .iter()
        .filter(|o| o.inst == inst && o.side == side)
        .map(|o| o.price)
        .collect();
    prices.sort_unstable();
    prices.dedup();
    if side == Side::Bid {
        prices.reverse();
    }
    prices
        .into_iter()
        .map(|p| {
            let orders: Vec<(u64, u32)> = model
                .iter()
                .filter(|o| o.inst == inst && o.side == side && o.price == p)
                .map(|o| (o.id, o.qty))
                .collect();
            let lv = LevelView {
                price: Price(p),
                qty: orders.iter().map(|o| u64::from(o.1)).sum(),
                orders: orders.len() as u32,
            };
            (lv, orders)
        })
        .collect()
}

fn check(m: &Market, model: &[MOrder]) -> Result<(), TestCaseError> {
    prop_assert_eq!(m.live_orders(), model.len());
    for inst in insts() {
        let Some(b) = m.book(InstrumentId(inst)) else {
            prop_assert!(model.iter().all(|o| o.inst != inst));
            continue;
        };
        let bids = levels(model, inst, Side::Bid);
        let asks = levels(model, inst, Side::Ask);
        for (side, want) in [(Side::Bid, &bids), (Side::Ask, &asks)] {
            let got: Vec<LevelView> = b.levels(side).collect();
            let lv: Vec<LevelView> = want.iter().map(|l| l.0).collect();
            prop_assert_eq!(&got, &lv, "levels {} {:?}", inst, side);
            prop_assert_eq!(b.levels(side).len(), lv.len());
            prop_assert_eq!(b.level_count(side), lv.len());
            prop_assert_eq!(b.best(side), lv.first().copied());
            for n in 0..=lv.len() + 2 {
                prop_assert_eq!(
                    b.depth(side, n),
                    lv.iter().take(n).copied().collect::<Vec<_>>()
                );
            }
            for p in 0..12u8 {
                let price = px(p) + if p >= 10 { 50 } else { 0 };
                let w = want.iter().find(|l| l.0.price.0 == price);
                prop_assert_eq!(b.level(side, Price(price)), w.map(|l| l.0));
                let fifo: Vec<(u64, u32)> = b
                    .level_orders(side, Price(price))
                    .map(|o| (o.id.0, o.qty.0))
                    .collect();
                prop_assert_eq!(fifo, w.map(|l| l.1.clone()).unwrap_or_default());
            }
        }
        prop_assert_eq!(b.best_bid(), bids.first().map(|l| l.0));
        prop_assert_eq!(b.best_ask(), asks.first().map(|l| l.0));
        prop_assert_eq!(
            m.bbo(InstrumentId(inst)),
            Some((b.best_bid(), b.best_ask()))
        );
        prop_assert_eq!(
            b.order_count(),
            model.iter().filter(|o| o.inst == inst).count()
        );
        let (bb, ba) = (bids.first().map(|l| l.0), asks.first().map(|l| l.0));
        let crossed = matches!((bb, ba), (Some(x), Some(y)) if x.price >= y.price);
        prop_assert_eq!(b.is_crossed(), crossed);
        match (bb, ba) {
            (Some(x), Some(y)) => {
                prop_assert_eq!(b.spread(), Some(Price(y.price.0.saturating_sub(x.price.0))));
                let s = i128::from(x.price.0) + i128::from(y.price.0);
                prop_assert_eq!(b.mid(), Some(Price(s.div_euclid(2) as i64)));
                let num = i128::from(x.price.0) * i128::from(y.qty)
                    + i128::from(y.price.0) * i128::from(x.qty);
                let den = i128::from(x.qty + y.qty);
                prop_assert_eq!(b.microprice(), Some(Price(num.div_euclid(den) as i64)));
            }
            _ => {
                prop_assert_eq!((b.spread(), b.mid(), b.microprice()), (None, None, None));
            }
        }
        for price in (0..=200i64)
            .map(|p| 9_900 + p * 10)
            .chain((0..10u8).map(px))
        {
            let above = ba.is_some_and(|a| price >= a.price.0);
            let below = bb.is_some_and(|b| price <= b.price.0);
            let want = match (above, below) {
                (true, false) => Some(Side::Ask),
                (false, true) => Some(Side::Bid),
                _ => None,
            };
            prop_assert_eq!(b.hidden_print_side(Price(price)), want, "hidden {}", price);
        }
    }
    for o in model {
        let want = ticklane_book::OrderView {
            id: OrderId(o.id),
            instrument: InstrumentId(o.inst),
            side: o.side,
            price: Price(o.price),
            qty: Qty(o.qty),
            added: Timestamp(o.ts),
        };
        prop_assert_eq!(m.order(OrderId(o.id)), Some(want));
        let ahead: u64 = model
            .iter()
            .take_while(|x| x.id != o.id)
            .filter(|x| x.inst == o.inst && x.side == o.side && x.price == o.price)
            .map(|x| u64::from(x.qty))
            .sum();
        prop_assert_eq!(m.qty_ahead(OrderId(o.id)), Some(ahead));
        for inst in insts() {
            if let Some(b) = m.book(InstrumentId(inst)) {
                let own = inst == o.inst;
                prop_assert_eq!(b.order(OrderId(o.id)), own.then_some(want));
                prop_assert_eq!(b.qty_ahead(OrderId(o.id)), own.then_some(ahead));
            }
        }
    }
    prop_assert_eq!(m.check_invariants(), Ok(()));
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut m = Market::with_capacity(
        std::env::var("QM_CAP")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8),
        2,
    );
    let mut model: Vec<MOrder> = Vec::new();
    let mut next = if std::env::var_os("QM_EXTREME").is_some() {
        u64::MAX - 1599 - 4
    } else {
        1
    };
    for (i, op) in ops.iter().enumerate() {
        let ts = 1000 + i as u64;
        let pick = |p: u16| (!model.is_empty()).then(|| usize::from(p) % model.len());
        let (inst, body) = match *op {
            Op::Add {
                inst,
                bid,
                px: p,
                qty,
            } => {
                next = next.wrapping_add(4);
                let side = if bid { Side::Bid } else { Side::Ask };
                let inst = inst_id(inst);
                model.push(MOrder {
                    id: next,
                    inst,
                    side,
                    price: px(p),
                    qty: u32::from(qty),
                    ts,
                });
                (
                    inst,
                    EventBody::OrderAdded {
                        order_id: OrderId(next),
                        side,
                        price: Price(px(p)),
                        qty: Qty(u32::from(qty)),
                        mpid: [0; 4],
                    },
                )
            }
            Op::Exec { pick: p, frac } | Op::Cancel { pick: p, frac } => {
                let Some(k) = pick(p) else { continue };
                let o = model[k].clone();
                let q = if frac < 80 {
                    o.qty
                } else {
                    1 + u32::from(frac) % o.qty
                };
                if q == o.qty {
                    model.remove(k);
                } else {
                    model[k].qty -= q;
                }
                let body = if matches!(op, Op::Exec { .. }) {
                    EventBody::OrderExecuted {
                        order_id: OrderId(o.id),
                        qty: Qty(q),
                        match_id: MatchId(ts),
                    }
                } else {
                    EventBody::OrderCancelled {
                        order_id: OrderId(o.id),
                        qty: Qty(q),
                    }
                };
                (o.inst, body)
            }
            Op::Delete { pick: p } => {
                let Some(k) = pick(p) else { continue };
                let o = model.remove(k);
                (
                    o.inst,
                    EventBody::OrderDeleted {
                        order_id: OrderId(o.id),
                    },
                )
            }
            Op::Replace {
                pick: p,
                px: np,
                qty,
            } => {
                let Some(k) = pick(p) else { continue };
                let o = model.remove(k);
                next = next.wrapping_add(4);
                model.push(MOrder {
                    id: next,
                    inst: o.inst,
                    side: o.side,
                    price: px(np),
                    qty: u32::from(qty),
                    ts,
                });
                (
                    o.inst,
                    EventBody::OrderReplaced {
                        old_id: OrderId(o.id),
                        new_id: OrderId(next),
                        price: Price(px(np)),
                        qty: Qty(u32::from(qty)),
                    },
                )
            }
        };
        let before = m.bbo(InstrumentId(inst)).unwrap_or((None, None));
        let r = m.apply(&MarketEvent::new(Timestamp(ts), InstrumentId(inst), body));
        let after = m.bbo(InstrumentId(inst)).unwrap_or((None, None));
        let key = |l: Option<LevelView>| l.map(|l| (l.price, l.qty));
        prop_assert_eq!(
            r.bid_top_changed,
            key(before.0) != key(after.0),
            "event {} bid flag",
            i
        );
        prop_assert_eq!(
            r.ask_top_changed,
            key(before.1) != key(after.1),
            "event {} ask flag",
            i
        );
        check(&m, &model)
            .map_err(|e| TestCaseError::fail(format!("after event {i} {op:?}: {e}")))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn every_query_matches_a_vec_model(ops in prop::collection::vec(op(), 1..400)) {
        run(&ops)?;
    }
}
