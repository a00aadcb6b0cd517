//! Hand-written scenarios: every event kind, every priority rule, every anomaly kind.

use ticklane_book::{AnomalyKind, ApplyResult, InstrumentAnomalies, LevelView, Market};
use ticklane_core::{
    EventBody, InstrumentId, InstrumentInfo, MarketEvent, MatchId, OrderId, Price, Qty, Side,
    Symbol, SystemEventCode, Timestamp, TradingState,
};

const I1: InstrumentId = InstrumentId(1);
const I2: InstrumentId = InstrumentId(2);

fn ev(inst: InstrumentId, body: EventBody) -> MarketEvent {
    MarketEvent::new(Timestamp(42), inst, body)
}

fn add(m: &mut Market, inst: InstrumentId, id: u64, side: Side, px: i64, qty: u32) -> ApplyResult {
    m.apply(&ev(
        inst,
        EventBody::OrderAdded {
            order_id: OrderId(id),
            side,
            price: Price(px),
            qty: Qty(qty),
            mpid: *b"ABCD",
        },
    ))
}

fn exec(m: &mut Market, inst: InstrumentId, id: u64, qty: u32) -> ApplyResult {
    m.apply(&ev(
        inst,
        EventBody::OrderExecuted {
            order_id: OrderId(id),
            qty: Qty(qty),
            match_id: MatchId(1),
        },
    ))
}

fn cancel(m: &mut Market, inst: InstrumentId, id: u64, qty: u32) -> ApplyResult {
    m.apply(&ev(
        inst,
        EventBody::OrderCancelled {
            order_id: OrderId(id),
            qty: Qty(qty),
        },
    ))
}

fn delete(m: &mut Market, inst: InstrumentId, id: u64) -> ApplyResult {
    m.apply(&ev(
        inst,
        EventBody::OrderDeleted {
            order_id: OrderId(id),
        },
    ))
}

fn replace(
    m: &mut Market,
    inst: InstrumentId,
    old: u64,
    new: u64,
    px: i64,
    qty: u32,
) -> ApplyResult {
    m.apply(&ev(
        inst,
        EventBody::OrderReplaced {
            old_id: OrderId(old),
            new_id: OrderId(new),
            price: Price(px),
            qty: Qty(qty),
        },
    ))
}

fn lv(price: i64, qty: u64, orders: u32) -> LevelView {
    LevelView {
        price: Price(price),
        qty,
        orders,
    }
}

fn fifo(m: &Market, inst: InstrumentId, side: Side, px: i64) -> Vec<(u64, u32)> {
    m.book(inst)
        .expect("book")
        .level_orders(side, Price(px))
        .map(|o| (o.id.0, o.qty.0))
        .collect()
}

fn ok(m: &Market) {
    m.check_invariants().expect("invariants");
}

fn info(sym: &str) -> InstrumentInfo {
    InstrumentInfo {
        symbol: Symbol::new(sym).expect("symbol"),
        round_lot: 100,
        etp_leverage: 0,
        market_category: b'Q',
        financial_status: b'N',
        issue_classification: b'C',
        issue_subtype: *b"Z ",
        round_lots_only: false,
        production: true,
        short_sale_threshold: b'N',
        ipo_flag: b' ',
        luld_tier: b'1',
        etp_flag: b'N',
        inverse: false,
    }
}

#[test]
fn levels_sorted_best_first_on_both_sides() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    add(&mut m, I1, 2, Side::Bid, 102, 20);
    add(&mut m, I1, 3, Side::Bid, 101, 30);
    add(&mut m, I1, 4, Side::Bid, 102, 5);
    add(&mut m, I1, 5, Side::Ask, 105, 7);
    add(&mut m, I1, 6, Side::Ask, 103, 8);
    add(&mut m, I1, 7, Side::Ask, 104, 9);
    ok(&m);
    let b = m.book(I1).expect("book");
    assert_eq!(b.best_bid(), Some(lv(102, 25, 2)));
    assert_eq!(b.best_ask(), Some(lv(103, 8, 1)));
    assert_eq!(
        b.depth(Side::Bid, 10),
        vec![lv(102, 25, 2), lv(101, 30, 1), lv(100, 10, 1)]
    );
    assert_eq!(b.depth(Side::Ask, 2), vec![lv(103, 8, 1), lv(104, 9, 1)]);
    assert_eq!(b.levels(Side::Ask).len(), 3);
    assert_eq!(b.level(Side::Bid, Price(101)), Some(lv(101, 30, 1)));
    assert_eq!(b.level(Side::Bid, Price(103)), None);
    assert_eq!(b.level(Side::Ask, Price(102)), None);
    assert_eq!(b.level_count(Side::Bid), 3);
    assert_eq!(b.order_count(), 7);
    assert_eq!(b.spread(), Some(Price(1)));
    assert!(!b.is_crossed());
    assert_eq!(m.live_orders(), 7);
    assert_eq!(m.live_levels(), 6);
}

#[test]
fn many_levels_insert_in_the_middle_of_a_deep_side() {
    // More levels than the linear scan window: exercises the binary-search path.
    let mut m = Market::new();
    let mut id = 0;
    for px in (0..200)
        .rev()
        .step_by(3)
        .chain((0..200).step_by(3).map(|p| p + 2))
    {
        id += 1;
        add(&mut m, I1, id, Side::Ask, 1000 + px, 1);
        id += 1;
        add(&mut m, I1, id, Side::Bid, 500 - px, 1);
    }
    ok(&m);
    let b = m.book(I1).expect("book");
    let asks: Vec<i64> = b.levels(Side::Ask).map(|l| l.price.0).collect();
    let bids: Vec<i64> = b.levels(Side::Bid).map(|l| l.price.0).collect();
    assert!(asks.windows(2).all(|w| w[0] < w[1]));
    assert!(bids.windows(2).all(|w| w[0] > w[1]));
    assert_eq!(asks.len(), 67 + 67);
    for id in (1..=id).step_by(2) {
        delete(&mut m, I1, id);
    }
    ok(&m);
    assert_eq!(m.book(I1).expect("book").best_ask(), None);
}

#[test]
fn fifo_within_a_level_and_qty_ahead_moves() {
    let mut m = Market::new();
    add(&mut m, I1, 10, Side::Bid, 100, 100);
    add(&mut m, I1, 11, Side::Bid, 100, 200);
    add(&mut m, I1, 12, Side::Bid, 100, 300);
    add(&mut m, I1, 13, Side::Bid, 99, 50);
    assert_eq!(
        fifo(&m, I1, Side::Bid, 100),
        vec![(10, 100), (11, 200), (12, 300)]
    );
    assert_eq!(m.qty_ahead(OrderId(10)), Some(0));
    assert_eq!(m.qty_ahead(OrderId(11)), Some(100));
    assert_eq!(m.qty_ahead(OrderId(12)), Some(300));
    assert_eq!(m.qty_ahead(OrderId(13)), Some(0));
    assert_eq!(m.qty_ahead(OrderId(99)), None);

    // Orders ahead execute: the head first, partially.
    exec(&mut m, I1, 10, 40);
    assert_eq!(m.qty_ahead(OrderId(12)), Some(260));
    // An order ahead cancels partially.
    cancel(&mut m, I1, 11, 50);
    assert_eq!(m.qty_ahead(OrderId(12)), Some(210));
    assert_eq!(m.qty_ahead(OrderId(11)), Some(60));
    // The head fills completely: the next order becomes the head.
    exec(&mut m, I1, 10, 60);
    assert_eq!(m.order(OrderId(10)), None);
    assert_eq!(m.qty_ahead(OrderId(11)), Some(0));
    assert_eq!(m.qty_ahead(OrderId(12)), Some(150));
    // Deleting from the middle keeps the rest in order.
    add(&mut m, I1, 14, Side::Bid, 100, 1);
    delete(&mut m, I1, 12);
    assert_eq!(fifo(&m, I1, Side::Bid, 100), vec![(11, 150), (14, 1)]);
    assert_eq!(m.qty_ahead(OrderId(14)), Some(150));
    let b = m.book(I1).expect("book");
    assert_eq!(b.qty_ahead(OrderId(14)), Some(150));
    assert_eq!(b.best_bid(), Some(lv(100, 151, 2)));
    ok(&m);
}

#[test]
fn execution_partial_then_full_removes_order_and_level() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Ask, 200, 100);
    add(&mut m, I1, 2, Side::Ask, 201, 100);
    let r = exec(&mut m, I1, 1, 30);
    assert!(r.book_changed && r.ask_top_changed && !r.bid_top_changed);
    assert_eq!(r.anomaly, None);
    assert_eq!(m.order(OrderId(1)).map(|o| o.qty), Some(Qty(70)));
    exec(&mut m, I1, 1, 70);
    assert_eq!(m.order(OrderId(1)), None);
    assert_eq!(m.book(I1).expect("book").best_ask(), Some(lv(201, 100, 1)));
    assert_eq!(m.anomalies().total(), 0);
    ok(&m);
}

#[test]
fn execute_with_price_keeps_the_resting_price() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 100);
    let r = m.apply(&ev(
        I1,
        EventBody::OrderExecutedWithPrice {
            order_id: OrderId(1),
            qty: Qty(40),
            match_id: MatchId(5),
            price: Price(95),
            printable: true,
        },
    ));
    assert!(r.bid_top_changed);
    let o = m.order(OrderId(1)).expect("live");
    assert_eq!((o.price, o.qty, o.side), (Price(100), Qty(60), Side::Bid));
    assert_eq!(m.book(I1).expect("book").best_bid(), Some(lv(100, 60, 1)));
    assert_eq!(m.book(I1).expect("book").level(Side::Bid, Price(95)), None);
    ok(&m);
}

#[test]
fn partial_cancel_exact_cancel_and_oversize_cancel() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 100);
    add(&mut m, I1, 2, Side::Bid, 100, 100);
    cancel(&mut m, I1, 1, 30);
    assert_eq!(fifo(&m, I1, Side::Bid, 100), vec![(1, 70), (2, 100)]);
    // Cancelling exactly the remainder removes the order; not an anomaly.
    cancel(&mut m, I1, 1, 70);
    assert_eq!(fifo(&m, I1, Side::Bid, 100), vec![(2, 100)]);
    assert_eq!(m.anomalies().total(), 0);
    // Oversize: clamped, removed, counted.
    let r = cancel(&mut m, I1, 2, 101);
    assert_eq!(r.anomaly, Some(AnomalyKind::OversizeCancel));
    assert!(r.book_changed && r.bid_top_changed);
    assert_eq!(m.book(I1).expect("book").best_bid(), None);
    assert_eq!(m.anomalies().get(AnomalyKind::OversizeCancel), 1);
    // Oversize execution likewise.
    add(&mut m, I1, 3, Side::Ask, 101, 5);
    let r = exec(&mut m, I1, 3, 6);
    assert_eq!(r.anomaly, Some(AnomalyKind::OversizeExecution));
    assert_eq!(m.live_orders(), 0);
    assert_eq!(m.anomalies().get(AnomalyKind::OversizeExecution), 1);
    ok(&m);
}

#[test]
fn delete_removes_order_and_empty_level_and_best_moves() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Ask, 101, 10);
    add(&mut m, I1, 2, Side::Ask, 102, 20);
    let r = delete(&mut m, I1, 1);
    assert!(r.ask_top_changed);
    let b = m.book(I1).expect("book");
    assert_eq!(b.best_ask(), Some(lv(102, 20, 1)));
    assert_eq!(b.level(Side::Ask, Price(101)), None);
    assert_eq!(b.level_orders(Side::Ask, Price(101)).count(), 0);
    assert_eq!(m.live_levels(), 1);
    ok(&m);
}

#[test]
fn replace_gets_new_id_keeps_side_and_loses_priority() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Ask, 101, 10);
    add(&mut m, I1, 2, Side::Ask, 101, 20);
    // Same price, new id: goes to the back of the queue.
    let r = replace(&mut m, I1, 1, 3, 101, 10);
    assert_eq!(r.anomaly, None);
    assert!(r.book_changed);
    // Same price and total quantity: the top did not change.
    assert!(!r.ask_top_changed);
    assert_eq!(fifo(&m, I1, Side::Ask, 101), vec![(2, 20), (3, 10)]);
    assert_eq!(m.order(OrderId(1)), None);
    assert_eq!(m.qty_ahead(OrderId(3)), Some(20));
    let o = m.order(OrderId(3)).expect("live");
    assert_eq!((o.side, o.price, o.qty), (Side::Ask, Price(101), Qty(10)));
    // Even a size decrease through replace loses priority (unlike a partial cancel).
    let r = replace(&mut m, I1, 2, 4, 101, 5);
    assert!(r.ask_top_changed);
    assert_eq!(fifo(&m, I1, Side::Ask, 101), vec![(3, 10), (4, 5)]);
    // New price: the side is kept (an ask stays an ask, even below the old price).
    replace(&mut m, I1, 3, 5, 99, 7);
    let b = m.book(I1).expect("book");
    assert_eq!(b.best_ask(), Some(lv(99, 7, 1)));
    assert_eq!(b.best_bid(), None);
    assert_eq!(m.anomalies().total(), 0);
    ok(&m);
}

#[test]
fn top_of_book_change_flags() {
    let mut m = Market::new();
    assert!(add(&mut m, I1, 1, Side::Bid, 100, 10).bid_top_changed);
    let r = add(&mut m, I1, 2, Side::Bid, 99, 10);
    assert!(r.book_changed && !r.top_changed());
    let r = add(&mut m, I1, 3, Side::Bid, 100, 10);
    assert!(r.bid_top_changed && !r.ask_top_changed);
    let r = exec(&mut m, I1, 2, 1);
    assert!(r.book_changed && !r.top_changed());
    let r = add(&mut m, I1, 4, Side::Ask, 105, 10);
    assert!(r.ask_top_changed && !r.bid_top_changed);
    let r = delete(&mut m, I1, 2);
    assert!(!r.top_changed());
    // An anomaly that changes nothing reports no change.
    let r = delete(&mut m, I1, 2);
    assert!(!r.book_changed && !r.top_changed());
    assert_eq!(r.anomaly, Some(AnomalyKind::UnknownOrderDeleted));
}

#[test]
fn spread_mid_and_microprice_integer_rounding() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 300);
    add(&mut m, I1, 2, Side::Ask, 104, 100);
    let b = m.book(I1).expect("book");
    assert_eq!(b.spread(), Some(Price(4)));
    assert_eq!(b.mid(), Some(Price(102)));
    // (100*100 + 104*300) / 400 = 103: leans toward the thin ask.
    assert_eq!(b.microprice(), Some(Price(103)));
    add(&mut m, I1, 3, Side::Ask, 101, 1);
    let b = m.book(I1).expect("book");
    // floor(201 / 2) = 100.
    assert_eq!(b.mid(), Some(Price(100)));
    // (100*1 + 101*300) / 301 = 100.99.. -> 100.
    assert_eq!(b.microprice(), Some(Price(100)));
    // Negative prices floor toward negative infinity.
    let mut m = Market::new();
    add(&mut m, I2, 1, Side::Bid, -3, 1);
    add(&mut m, I2, 2, Side::Ask, -2, 1);
    let b = m.book(I2).expect("book");
    assert_eq!(b.mid(), Some(Price(-3)));
    assert_eq!(b.microprice(), Some(Price(-3)));
    // Huge prices and sizes do not overflow.
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, i64::MAX - 10, u32::MAX);
    add(&mut m, I1, 2, Side::Bid, i64::MAX - 10, u32::MAX);
    add(&mut m, I1, 3, Side::Ask, i64::MAX, u32::MAX);
    let b = m.book(I1).expect("book");
    assert_eq!(b.best_bid().map(|l| l.qty), Some(2 * u64::from(u32::MAX)));
    assert_eq!(b.mid(), Some(Price(i64::MAX - 5)));
    // (bid * M + ask * 2M) / 3M = MAX - 10/3 -> floor -> MAX - 4.
    assert_eq!(b.microprice(), Some(Price(i64::MAX - 4)));
}

#[test]
fn empty_sides() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    let b = m.book(I1).expect("book");
    assert_eq!(b.best_ask(), None);
    assert_eq!(b.depth(Side::Ask, 5), vec![]);
    assert_eq!((b.spread(), b.mid(), b.microprice()), (None, None, None));
    assert!(!b.is_crossed());
    delete(&mut m, I1, 1);
    let b = m.book(I1).expect("book still exists");
    assert_eq!((b.best_bid(), b.best_ask()), (None, None));
    assert_eq!(b.level_count(Side::Bid), 0);
    assert_eq!(b.order_count(), 0);
    assert_eq!(m.bbo(I1), Some((None, None)));
    assert!(m.book(I2).is_none());
    assert_eq!(m.bbo(I2), None);
    ok(&m);
}

#[test]
fn crossed_book_transitions_are_counted_once() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    add(&mut m, I1, 2, Side::Ask, 101, 10);
    assert!(!m.book(I1).expect("book").is_crossed());
    // Locked counts as crossed.
    let r = add(&mut m, I1, 3, Side::Ask, 100, 10);
    assert!(r.crossed);
    assert_eq!(r.anomaly, Some(AnomalyKind::CrossedBook));
    assert!(m.book(I1).expect("book").is_crossed());
    assert_eq!(m.book(I1).expect("book").spread(), Some(Price(0)));
    // Still crossed: no new count.
    let r = add(&mut m, I1, 4, Side::Ask, 99, 10);
    assert!(r.crossed && r.anomaly.is_none());
    assert_eq!(m.book(I1).expect("book").spread(), Some(Price(-1)));
    // Uncross, then cross again: counted again.
    delete(&mut m, I1, 3);
    let r = delete(&mut m, I1, 4);
    assert!(!r.crossed);
    add(&mut m, I1, 5, Side::Bid, 102, 1);
    assert_eq!(m.anomalies().get(AnomalyKind::CrossedBook), 2);
    // Another instrument has its own state.
    add(&mut m, I2, 6, Side::Bid, 100, 1);
    assert!(!m.book(I2).expect("book").is_crossed());
    ok(&m);
}

#[test]
fn unknown_ids_are_counted_and_change_nothing() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    let before = m.book(I1).expect("book").depth(Side::Bid, 10);
    assert_eq!(
        exec(&mut m, I1, 9, 1).anomaly,
        Some(AnomalyKind::UnknownOrderExecuted)
    );
    let r = m.apply(&ev(
        I1,
        EventBody::OrderExecutedWithPrice {
            order_id: OrderId(9),
            qty: Qty(1),
            match_id: MatchId(1),
            price: Price(1),
            printable: false,
        },
    ));
    assert_eq!(r.anomaly, Some(AnomalyKind::UnknownOrderExecuted));
    assert_eq!(
        cancel(&mut m, I1, 9, 1).anomaly,
        Some(AnomalyKind::UnknownOrderCancelled)
    );
    assert_eq!(
        delete(&mut m, I1, 9).anomaly,
        Some(AnomalyKind::UnknownOrderDeleted)
    );
    let r = replace(&mut m, I1, 9, 10, 100, 5);
    assert_eq!(r.anomaly, Some(AnomalyKind::UnknownOrderReplaced));
    // The replacement's new id was not added.
    assert_eq!(m.order(OrderId(10)), None);
    assert_eq!(m.book(I1).expect("book").depth(Side::Bid, 10), before);
    let a = m.anomalies();
    assert_eq!(a.get(AnomalyKind::UnknownOrderExecuted), 2);
    assert_eq!(a.get(AnomalyKind::UnknownOrderCancelled), 1);
    assert_eq!(a.get(AnomalyKind::UnknownOrderDeleted), 1);
    assert_eq!(a.get(AnomalyKind::UnknownOrderReplaced), 1);
    assert_eq!(a.total(), 5);
    ok(&m);
}

#[test]
fn duplicate_ids_and_zero_quantities() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    // Duplicate id: kept the original, in any instrument.
    let r = add(&mut m, I1, 1, Side::Ask, 105, 99);
    assert_eq!(r.anomaly, Some(AnomalyKind::DuplicateOrderId));
    assert!(!r.book_changed);
    assert_eq!(
        add(&mut m, I2, 1, Side::Bid, 100, 1).anomaly,
        Some(AnomalyKind::DuplicateOrderId)
    );
    assert_eq!(
        m.order(OrderId(1)).map(|o| (o.instrument, o.qty)),
        Some((I1, Qty(10)))
    );
    // Zero-quantity add: nothing rests.
    assert_eq!(
        add(&mut m, I1, 2, Side::Bid, 100, 0).anomaly,
        Some(AnomalyKind::ZeroQuantity)
    );
    assert_eq!(m.order(OrderId(2)), None);
    // Zero-share execution and cancel: no-ops.
    assert_eq!(
        exec(&mut m, I1, 1, 0).anomaly,
        Some(AnomalyKind::ZeroQuantity)
    );
    assert_eq!(
        cancel(&mut m, I1, 1, 0).anomaly,
        Some(AnomalyKind::ZeroQuantity)
    );
    assert_eq!(m.order(OrderId(1)).map(|o| o.qty), Some(Qty(10)));
    // Replace to a live id: the old order goes, the new one is refused.
    add(&mut m, I1, 3, Side::Bid, 99, 5);
    let r = replace(&mut m, I1, 3, 1, 98, 5);
    assert_eq!(r.anomaly, Some(AnomalyKind::DuplicateOrderId));
    assert!(r.book_changed);
    assert_eq!(m.order(OrderId(3)), None);
    assert_eq!(m.order(OrderId(1)).map(|o| o.price), Some(Price(100)));
    // Replace with zero quantity: the old order goes, nothing new rests.
    add(&mut m, I1, 4, Side::Bid, 99, 5);
    assert_eq!(
        replace(&mut m, I1, 4, 5, 99, 0).anomaly,
        Some(AnomalyKind::ZeroQuantity)
    );
    assert_eq!((m.order(OrderId(4)), m.order(OrderId(5))), (None, None));
    // Replace to its own id is fine (removed first).
    assert_eq!(replace(&mut m, I1, 1, 1, 97, 3).anomaly, None);
    assert_eq!(m.order(OrderId(1)).map(|o| o.price), Some(Price(97)));
    let a = m.anomalies();
    assert_eq!(a.get(AnomalyKind::DuplicateOrderId), 3);
    assert_eq!(a.get(AnomalyKind::ZeroQuantity), 4);
    assert_eq!(a.total(), 7);
    ok(&m);
}

#[test]
fn instrument_mismatch_updates_the_orders_own_book() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    add(&mut m, I2, 2, Side::Bid, 100, 10);
    let r = exec(&mut m, I2, 1, 4);
    assert_eq!(r.anomaly, Some(AnomalyKind::InstrumentMismatch));
    assert_eq!(r.instrument, I1);
    assert!(r.bid_top_changed);
    assert_eq!(m.book(I1).expect("book").best_bid(), Some(lv(100, 6, 1)));
    assert_eq!(m.book(I2).expect("book").best_bid(), Some(lv(100, 10, 1)));
    // The book-level queries only see their own orders.
    assert_eq!(m.book(I2).expect("book").order(OrderId(1)), None);
    assert_eq!(m.book(I2).expect("book").qty_ahead(OrderId(1)), None);
    // Replace with the wrong instrument: the new order rests in the old order's book.
    replace(&mut m, I2, 1, 3, 101, 5);
    assert_eq!(m.order(OrderId(3)).map(|o| o.instrument), Some(I1));
    assert_eq!(m.anomalies().get(AnomalyKind::InstrumentMismatch), 2);
    ok(&m);
}

#[test]
fn directory_symbols_and_trading_state() {
    let mut m = Market::with_capacity(1000, 8);
    m.apply(&ev(I1, EventBody::InstrumentDirectory(info("AAPL"))));
    m.apply(&ev(I2, EventBody::InstrumentDirectory(info("MSFT"))));
    m.apply(&ev(
        I1,
        EventBody::TradingStatus {
            state: TradingState::Trading,
            reason: *b"    ",
        },
    ));
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    let aapl = Symbol::new("AAPL").expect("symbol");
    assert_eq!(m.instrument_id(aapl), Some(I1));
    let b = m.book_by_symbol("AAPL").expect("book");
    assert_eq!(b.instrument(), I1);
    assert_eq!(b.symbol(), Some(aapl));
    assert_eq!(b.best_bid(), Some(lv(100, 10, 1)));
    assert_eq!(b.trading_state(), Some(TradingState::Trading));
    assert_eq!(m.trading_state(I1), Some(TradingState::Trading));
    assert_eq!(m.trading_state(I2), None);
    assert_eq!(m.instrument_info(I2).map(|i| i.round_lot), Some(100));
    assert!(m.book_by_symbol("GOOG").is_none());
    assert!(m.book_by_symbol("WAYTOOLONGSYMBOL").is_none());
    assert_eq!(m.instrument_count(), 2);
    assert_eq!(
        m.books().map(|b| b.instrument()).collect::<Vec<_>>(),
        vec![I1, I2]
    );
    // Re-sending the same directory is not a conflict; a renamed or reused symbol is.
    m.apply(&ev(I1, EventBody::InstrumentDirectory(info("AAPL"))));
    assert_eq!(m.anomalies().total(), 0);
    let r = m.apply(&ev(I2, EventBody::InstrumentDirectory(info("AAPL"))));
    assert_eq!(r.anomaly, Some(AnomalyKind::DirectoryConflict));
    assert_eq!(m.instrument_id(aapl), Some(I2));
    assert_eq!(m.instrument_id(Symbol::new("MSFT").expect("symbol")), None);
    ok(&m);
}

#[test]
fn events_that_do_not_touch_the_book() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    for body in [
        EventBody::SystemEvent {
            code: SystemEventCode::StartOfMarketHours,
        },
        EventBody::Trade {
            order_id: OrderId(0),
            side: Side::Bid,
            price: Price(100),
            qty: Qty(10),
            match_id: MatchId(3),
        },
        EventBody::BrokenTrade {
            match_id: MatchId(3),
        },
    ] {
        let r = m.apply(&ev(I1, body));
        assert!(!r.book_changed && !r.top_changed() && r.anomaly.is_none());
    }
    assert_eq!(m.book(I1).expect("book").best_bid(), Some(lv(100, 10, 1)));
    ok(&m);
}

#[test]
fn feed_gaps_mark_the_market_stale_and_their_counts_saturate() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    assert!(m.stale().is_none());
    let gap = |first_sequence, count| {
        ev(
            InstrumentId::NONE,
            EventBody::FeedGap {
                first_sequence,
                count,
            },
        )
    };
    let r = m.apply(&gap(7, 3));
    assert_eq!(r.anomaly, Some(AnomalyKind::FeedGap));
    assert!(!r.book_changed);
    // A count as large as a corrupt recording can make it, then more: counted, saturated,
    // never a panic (an overflow check fails this in a debug build).
    m.apply(&gap(20, u64::MAX));
    m.apply(&gap(30, 5));
    let s = m.stale().expect("stale after a gap");
    assert_eq!((s.gaps, s.lost_messages, s.first_lost), (3, u64::MAX, 7));
    assert_eq!(m.anomalies().get(AnomalyKind::FeedGap), 3);
    // The books are untouched.
    assert_eq!(m.book(I1).expect("book").best_bid(), Some(lv(100, 10, 1)));
    ok(&m);
}

#[test]
fn large_ids_and_instruments_and_slot_reuse() {
    let mut m = Market::with_capacity(4, 1);
    let big = InstrumentId(u32::MAX);
    for round in 0..50u64 {
        for k in 0..40u64 {
            let id = u64::MAX - round * 1000 - k;
            add(
                &mut m,
                big,
                id,
                Side::Ask,
                10 + (k % 7) as i64,
                1 + k as u32,
            );
        }
        ok(&m);
        for k in 0..40u64 {
            delete(&mut m, big, u64::MAX - round * 1000 - k);
        }
    }
    ok(&m);
    assert_eq!((m.live_orders(), m.live_levels()), (0, 0));
    assert_eq!(m.anomalies().total(), 0);
    assert!(m.book(big).is_some());
}

#[test]
fn debug_output_is_a_summary() {
    let mut m = Market::new();
    for id in 0..1000 {
        add(&mut m, I1, id, Side::Bid, 100 + (id % 50) as i64, 1);
    }
    let s = format!("{m:?}");
    assert!(s.contains("live_orders: 1000"), "{s}");
    assert!(s.len() < 400, "{s}");
    let b = format!("{:?}", m.book(I1).expect("book"));
    assert!(b.contains("best_bid") && b.len() < 400, "{b}");
}

#[test]
fn order_reference_zero_is_kept_and_counted() {
    let mut m = Market::new();
    let i = InstrumentId(3);
    let r = add(&mut m, i, 0, Side::Bid, 10_000, 100);
    assert_eq!(r.anomaly, Some(AnomalyKind::ZeroOrderId));
    assert_eq!(m.anomalies().get(AnomalyKind::ZeroOrderId), 1);
    assert_eq!(m.book(i).unwrap().best_bid(), Some(lv(10_000, 100, 1)));
    // It can be executed and deleted like any order.
    exec(&mut m, i, 0, 40);
    assert_eq!(m.book(i).unwrap().best_bid(), Some(lv(10_000, 60, 1)));
    // A replace to reference 0 is counted too.
    add(&mut m, i, 8, Side::Ask, 10_100, 5);
    delete(&mut m, i, 0);
    let r = replace(&mut m, i, 8, 0, 10_200, 7);
    assert_eq!(r.anomaly, Some(AnomalyKind::ZeroOrderId));
    assert_eq!(m.anomalies().get(AnomalyKind::ZeroOrderId), 2);
    assert_eq!(m.book(i).unwrap().best_ask(), Some(lv(10_200, 7, 1)));
    ok(&m);
}

/// A hidden print's resting side from where its price stands: at or above the ask a hidden
/// sell, at or below the bid a hidden buy, inside the spread unknown; one side empty decides
/// by the other; a locked or crossed book leaves a price that satisfies both rules unknown.
#[test]
fn hidden_print_side_follows_the_price_against_the_touch() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    let b = m.book(I1).expect("book");
    assert_eq!(b.hidden_print_side(Price(100)), Some(Side::Bid));
    assert_eq!(b.hidden_print_side(Price(99)), Some(Side::Bid));
    assert_eq!(
        b.hidden_print_side(Price(101)),
        None,
        "no ask: above the bid is unknown"
    );
    add(&mut m, I1, 2, Side::Ask, 104, 10);
    let b = m.book(I1).expect("book");
    assert_eq!(b.hidden_print_side(Price(104)), Some(Side::Ask));
    assert_eq!(b.hidden_print_side(Price(110)), Some(Side::Ask));
    assert_eq!(b.hidden_print_side(Price(100)), Some(Side::Bid));
    for inside in 101..=103 {
        assert_eq!(b.hidden_print_side(Price(inside)), None, "{inside}");
    }
    // Locked at 100: a print at 100 is both at the bid and at the ask.
    add(&mut m, I1, 3, Side::Ask, 100, 10);
    let b = m.book(I1).expect("book");
    assert_eq!(b.hidden_print_side(Price(100)), None);
    assert_eq!(b.hidden_print_side(Price(99)), Some(Side::Bid));
    assert_eq!(b.hidden_print_side(Price(101)), Some(Side::Ask));
    // No book at all.
    assert!(m
        .book(I2)
        .is_none_or(|b| b.hidden_print_side(Price(1)).is_none()));
}

// ---------------------------------------------------------------- review (bookapi)

/// `OrderBook::trading_state` documents the state in effect as "the latest regulatory state
/// (`H`), or `OperationalHalt` while an operational halt (`h`) is in effect and the regulatory
/// state allows trading". After `H` Trading, `h` halt, `h` resume, the regulatory state is
/// `Trading` and no operational halt is in effect: the state in effect is `Trading`.
#[test]
fn trading_state_after_an_operational_resume_is_the_regulatory_state() {
    let mut m = Market::new();
    let status = |m: &mut Market, state| {
        m.apply(&ev(
            I1,
            EventBody::TradingStatus {
                state,
                reason: *b"    ",
            },
        ));
    };
    status(&mut m, TradingState::Trading);
    status(&mut m, TradingState::OperationalHalt);
    assert_eq!(m.trading_state(I1), Some(TradingState::OperationalHalt));
    status(&mut m, TradingState::OperationalResume);
    assert_eq!(
        m.book(I1).expect("book").trading_state(),
        Some(TradingState::Trading),
        "the regulatory state in effect"
    );
}

/// Two accessors of one market must agree on which instrument a symbol names: after locate 2
/// took AAPL from locate 1 (a conflict) and then renamed itself MSFT, locate 1 is the only
/// instrument whose directory entry says AAPL (`books()` / `OrderBook::symbol`), yet
/// `instrument_id` / `book_by_symbol` find no AAPL at all.
#[test]
fn a_symbol_given_up_by_its_taker_goes_back_to_the_instrument_that_still_has_it() {
    let mut m = Market::new();
    m.apply(&ev(I1, EventBody::InstrumentDirectory(info("AAPL"))));
    m.apply(&ev(I2, EventBody::InstrumentDirectory(info("AAPL"))));
    m.apply(&ev(I2, EventBody::InstrumentDirectory(info("MSFT"))));
    let aapl = Symbol::new("AAPL").expect("symbol");
    let by_directory: Vec<InstrumentId> = m
        .books()
        .filter(|b| b.symbol() == Some(aapl))
        .map(|b| b.instrument())
        .collect();
    assert_eq!(by_directory, vec![I1]);
    assert_eq!(
        m.instrument_id(aapl),
        Some(I1),
        "book_by_symbol: {:?}",
        m.book_by_symbol("AAPL").map(|b| b.instrument())
    );
    ok(&m);
}

/// Three instruments take AAPL in turn (locate 1, then 2, then 3: each directory entry wins,
/// as `instrument_id` follows the latest), then locate 3 renames itself MSFT. AAPL goes back
/// to "one this instrument took it from" (market.rs): locate 2, the holder locate 3 replaced.
/// It went to locate 1, whose entry is older, because the search picks the book created last,
/// and locate 2's book was created first (an add order before its directory entry).
#[test]
fn a_symbol_given_up_goes_back_to_the_instrument_it_was_taken_from() {
    let i3 = InstrumentId(3);
    let mut m = Market::new();
    // Locate 2's book exists before locate 1's.
    add(&mut m, I2, 1, Side::Bid, 10_0000, 100);
    m.apply(&ev(I1, EventBody::InstrumentDirectory(info("AAPL"))));
    m.apply(&ev(I2, EventBody::InstrumentDirectory(info("AAPL"))));
    m.apply(&ev(i3, EventBody::InstrumentDirectory(info("AAPL"))));
    let aapl = Symbol::new("AAPL").expect("symbol");
    assert_eq!(m.instrument_id(aapl), Some(i3));
    m.apply(&ev(i3, EventBody::InstrumentDirectory(info("MSFT"))));
    assert_eq!(
        m.instrument_id(aapl),
        Some(I2),
        "AAPL went back to locate 1, not to locate 2 that locate 3 took it from"
    );
}

// ---------------------------------------------------------------- mutation-testing kills

/// A gap of unknown size (count 0) is counted as such and adds nothing to `lost_messages`;
/// `since` is the time of the first gap, and every book reads stale once a gap is seen.
#[test]
fn a_gap_of_unknown_size_is_counted_apart_and_the_first_gap_dates_the_staleness() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    assert!(!m.book(I1).expect("book").is_stale());
    let gap = |ts, first_sequence, count| {
        MarketEvent::new(
            Timestamp(ts),
            InstrumentId::NONE,
            EventBody::FeedGap {
                first_sequence,
                count,
            },
        )
    };
    m.apply(&gap(1_000, 7, 0));
    m.apply(&gap(2_000, 50, 4));
    m.apply(&gap(3_000, 90, 0));
    let s = *m.stale().expect("stale after a gap");
    assert_eq!(
        (
            s.since,
            s.gaps,
            s.lost_messages,
            s.unknown_size_gaps,
            s.first_lost
        ),
        (Timestamp(1_000), 3, 4, 2, 7)
    );
    assert!(m.book(I1).expect("book").is_stale());
}

/// A book reads its own reference data from the directory (none before a directory message).
#[test]
fn a_book_reads_its_reference_data_from_the_directory() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    assert_eq!(m.book(I1).expect("book").info(), None);
    m.apply(&ev(I1, EventBody::InstrumentDirectory(info("AAPL"))));
    let b = m.book(I1).expect("book");
    assert_eq!(b.info(), Some(&info("AAPL")));
    assert_eq!(b.info().map(|i| i.round_lot), Some(100));
}

/// `top_changed` is true when either side's top changed, not only when both did.
#[test]
fn top_changed_is_true_when_one_side_changed() {
    let mut m = Market::new();
    let r = add(&mut m, I1, 1, Side::Bid, 100, 10);
    assert_eq!((r.bid_top_changed, r.ask_top_changed), (true, false));
    assert!(r.top_changed());
    let r = add(&mut m, I1, 2, Side::Ask, 105, 10);
    assert_eq!((r.bid_top_changed, r.ask_top_changed), (false, true));
    assert!(r.top_changed());
    let r = add(&mut m, I1, 3, Side::Ask, 106, 10);
    assert!(r.book_changed && !r.top_changed());
}

/// "Same symbol with another id" is a conflict even when the new instrument had no directory
/// entry before (nothing renamed, only the symbol taken).
#[test]
fn a_new_instrument_taking_a_listed_symbol_is_a_directory_conflict() {
    let mut m = Market::new();
    let i3 = InstrumentId(3);
    m.apply(&ev(I1, EventBody::InstrumentDirectory(info("AAPL"))));
    let r = m.apply(&ev(i3, EventBody::InstrumentDirectory(info("AAPL"))));
    assert_eq!(r.anomaly, Some(AnomalyKind::DirectoryConflict));
    assert_eq!(m.anomalies().get(AnomalyKind::DirectoryConflict), 1);
    assert_eq!(
        m.instrument_id(Symbol::new("AAPL").expect("symbol")),
        Some(i3),
        "the latest message wins"
    );
    ok(&m);
}

/// The state in effect is the regulatory halt while one is in effect, whether or not an
/// operational halt is too (`OperationalHalt` only "while ... the regulatory state allows
/// trading"); lifting the operational halt does not end the regulatory one.
#[test]
fn a_regulatory_halt_outranks_an_operational_halt() {
    let mut m = Market::new();
    let status = |m: &mut Market, state| {
        m.apply(&ev(
            I1,
            EventBody::TradingStatus {
                state,
                reason: *b"    ",
            },
        ));
        m.trading_state(I1)
    };
    // (message, the state after it)
    for (state, after) in [
        (TradingState::Halted, TradingState::Halted),
        (TradingState::OperationalHalt, TradingState::Halted),
        (TradingState::OperationalResume, TradingState::Halted),
        (TradingState::OperationalHalt, TradingState::Halted),
        (TradingState::Trading, TradingState::OperationalHalt),
    ] {
        assert_eq!(status(&mut m, state), Some(after), "after {state:?}");
    }
}

/// Instrument ids on both sides of the dense table's end (2^20) each keep one book.
#[test]
fn instruments_at_the_end_of_the_dense_table_keep_their_books() {
    let mut m = Market::with_capacity(64, 4);
    let ids = [(1u32 << 20) - 1, 1 << 20, (1 << 20) + 1];
    for (k, &i) in ids.iter().enumerate() {
        let k = k as u64;
        add(&mut m, InstrumentId(i), 10 + k, Side::Bid, 100, 1);
        add(&mut m, InstrumentId(i), 20 + k, Side::Bid, 100, 2);
    }
    assert_eq!(m.instrument_count(), 3);
    for &i in &ids {
        let b = m.book(InstrumentId(i));
        assert_eq!(
            b.and_then(|b| b.best_bid()),
            Some(lv(100, 3, 2)),
            "instrument {i}"
        );
    }
    ok(&m);
}

/// `LevelOrders` has a `Debug` of its own (it does not print the market it borrows).
#[test]
fn level_orders_debug_names_the_iterator() {
    let mut m = Market::new();
    add(&mut m, I1, 1, Side::Bid, 100, 10);
    let it = m
        .book(I1)
        .expect("book")
        .level_orders(Side::Bid, Price(100));
    let s = format!("{it:?}");
    assert!(
        s.starts_with("LevelOrders") && s.contains("next_slot"),
        "{s}"
    );
}

/// ITCH's start of messages (`S` `O`) begins a trading day: on a market that has seen a day,
/// every book is emptied with the day's directory, trading states and staleness, and the next
/// day's references (which start again from 1) are new orders, not duplicates. A first start
/// of messages on a fresh market changes nothing.
#[test]
fn a_start_of_messages_after_a_day_begins_a_new_day() {
    let start = || {
        ev(
            InstrumentId::NONE,
            EventBody::SystemEvent {
                code: SystemEventCode::StartOfMessages,
            },
        )
    };
    let mut m = Market::new();
    assert!(
        !m.apply(&start()).new_day,
        "a fresh market begins no new day"
    );
    assert_eq!(m.new_days(), 0);
    // Day 1: AAPL is instrument 1, two orders on each side, a halt, a loss for good.
    m.apply(&ev(I1, EventBody::InstrumentDirectory(info("AAPL"))));
    add(&mut m, I1, 1, Side::Bid, 100_0000, 100);
    add(&mut m, I1, 5, Side::Bid, 99_0000, 200);
    add(&mut m, I1, 9, Side::Ask, 101_0000, 300);
    add(&mut m, I2, 13, Side::Ask, 50_0000, 10);
    m.apply(&ev(
        I1,
        EventBody::TradingStatus {
            state: TradingState::Halted,
            reason: *b"LUDP",
        },
    ));
    m.apply(&ev(
        InstrumentId::NONE,
        EventBody::FeedGap {
            first_sequence: 3,
            count: 2,
        },
    ));
    assert!(m.stale().is_some());
    // Day 2: the books are empty, nothing of day 1 is left.
    let r = m.apply(&start());
    assert!(r.new_day);
    assert_eq!(m.new_days(), 1);
    assert_eq!((m.live_orders(), m.live_levels()), (0, 0));
    assert!(
        m.stale().is_none(),
        "a day-1 loss does not make day 2 stale"
    );
    let b1 = m.book(I1).expect("the instrument's book stays");
    assert_eq!((b1.best_bid(), b1.best_ask()), (None, None));
    assert_eq!(b1.trading_state(), None, "day 1's halt ended with the day");
    assert!(!b1.is_stale());
    assert!(
        m.book_by_symbol("AAPL").is_none(),
        "day 2 names its instruments afresh"
    );
    m.check_invariants().expect("consistent after the reset");
    // Day 2 names AAPL instrument 2 and reuses day 1's references: no anomaly.
    let before = m.anomalies().total();
    m.apply(&ev(I2, EventBody::InstrumentDirectory(info("AAPL"))));
    assert!(add(&mut m, I2, 1, Side::Bid, 200_0000, 7).anomaly.is_none());
    assert!(add(&mut m, I2, 5, Side::Ask, 201_0000, 8).anomaly.is_none());
    assert!(add(&mut m, I1, 9, Side::Bid, 100_0000, 9).anomaly.is_none());
    assert!(exec(&mut m, I2, 1, 2).anomaly.is_none());
    assert_eq!(m.anomalies().total(), before, "{:?}", m.anomalies());
    let aapl = m.book_by_symbol("AAPL").expect("named on day 2");
    assert_eq!(aapl.instrument(), I2);
    assert_eq!(
        aapl.best_bid(),
        Some(LevelView {
            price: Price(200_0000),
            qty: 5,
            orders: 1
        })
    );
    assert_eq!(m.live_orders(), 3);
    m.check_invariants().expect("consistent on day 2");
    // A start of messages repeated at once finds day 2's orders: a third day.
    assert!(m.apply(&start()).new_day);
    assert_eq!((m.new_days(), m.live_orders()), (2, 0));
}

/// [`InstrumentAnomalies`] splits the market's anomaly counts by the instrument whose book
/// each event touched: `book --symbol X` prints X's, not the whole feed's (it printed the
/// feed's as every symbol's). A feed gap is no instrument's.
#[test]
fn anomalies_are_split_by_the_instrument_each_event_touched() {
    let mut m = Market::new();
    let mut by = InstrumentAnomalies::new();
    let mut apply = |m: &mut Market, e: MarketEvent| {
        let r = m.apply(&e);
        by.observe(m, &r);
        r
    };
    let add_ev = |id: u64, side: Side, px: i64, qty: u32| EventBody::OrderAdded {
        order_id: OrderId(id),
        side,
        price: Price(px),
        qty: Qty(qty),
        mpid: [0; 4],
    };
    apply(&mut m, ev(I1, add_ev(1, Side::Bid, 100_0000, 100)));
    apply(&mut m, ev(I2, add_ev(5, Side::Ask, 50_0000, 10)));
    // I1: a duplicate id and an oversize cancel; I2: an unknown delete.
    apply(&mut m, ev(I1, add_ev(1, Side::Bid, 100_0000, 100)));
    apply(
        &mut m,
        ev(
            I1,
            EventBody::OrderCancelled {
                order_id: OrderId(1),
                qty: Qty(500),
            },
        ),
    );
    apply(
        &mut m,
        ev(
            I2,
            EventBody::OrderDeleted {
                order_id: OrderId(999),
            },
        ),
    );
    // An execution naming I2 of an order resting in I1 (20 shares of 10: oversize too): the
    // event touched I1's book, so both are I1's.
    apply(&mut m, ev(I1, add_ev(9, Side::Bid, 99_0000, 10)));
    let r = apply(
        &mut m,
        ev(
            I2,
            EventBody::OrderExecuted {
                order_id: OrderId(9),
                qty: Qty(20),
                match_id: MatchId(1),
            },
        ),
    );
    assert_eq!(r.instrument, I1);
    apply(
        &mut m,
        ev(
            InstrumentId::NONE,
            EventBody::FeedGap {
                first_sequence: 1,
                count: 1,
            },
        ),
    );
    let own = |i| by.get(i).nonzero().collect::<Vec<_>>();
    assert_eq!(
        own(I1),
        vec![
            (AnomalyKind::DuplicateOrderId, 1),
            (AnomalyKind::OversizeExecution, 1),
            (AnomalyKind::OversizeCancel, 1),
            (AnomalyKind::InstrumentMismatch, 1),
        ]
    );
    assert_eq!(own(I2), vec![(AnomalyKind::UnknownOrderDeleted, 1)]);
    // The market counts them all, and the gap.
    assert_eq!(m.anomalies().total(), 6);
    assert_eq!(m.anomalies().get(AnomalyKind::FeedGap), 1);
    assert_eq!(by.feed(&m), *m.anomalies());
    // A new day (`book --day`): the day's own counts start from nothing, per instrument (a
    // stock locate is the day's) and for the feed; the market's totals go on.
    by.start_day(&m);
    assert_eq!((by.get(I1).total(), by.feed(&m).total()), (0, 0));
    let r = m.apply(&ev(
        I2,
        EventBody::OrderDeleted {
            order_id: OrderId(998),
        },
    ));
    by.observe(&m, &r);
    assert_eq!(
        by.get(I2).nonzero().collect::<Vec<_>>(),
        vec![(AnomalyKind::UnknownOrderDeleted, 1)]
    );
    assert_eq!(by.feed(&m).to_string(), "unknown_order_deleted=1");
    assert_eq!(m.anomalies().total(), 7);
}
