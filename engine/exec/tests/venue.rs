//! `TouchVenue`: taking liquidity, resting, queue position, modifies, cancels, rejects.

mod support;

use support::{ev, fills, market, submit, updates, I};
use ticklane_core::{EventBody, InstrumentId, MarketEvent, OrderId, Price, Qty, Side, Timestamp};
use ticklane_exec::{TouchVenue, Venue, VenueReport};
use ticklane_strategy::{
    ClientOrderId, Liquidity, OrderCommand, OrderRequest, OrderUpdateKind, RejectReason,
    StrategyId, TimeInForce, TradePrint,
};

#[test]
fn a_marketable_ioc_walks_the_levels_and_expires_the_rest() {
    let m = market();
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    v.on_command(
        Timestamp(5),
        &submit(0, Side::Bid, 10_0200, 1_000, TimeInForce::Ioc),
        &m,
        &mut out,
    );
    assert_eq!(
        fills(&out),
        vec![
            (10_0100, 300, 700, Liquidity::Taker),
            (10_0200, 500, 200, Liquidity::Taker)
        ]
    );
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Accepted, OrderUpdateKind::Expired]
    );
    assert_eq!(v.working_orders(), 0);
}

#[test]
fn a_resting_order_waits_for_the_queue_ahead_then_fills_as_maker() {
    let m = market();
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    // Join the 10.00 bid behind 200 shares.
    v.on_command(
        Timestamp(5),
        &submit(0, Side::Bid, 10_0000, 300, TimeInForce::Day),
        &m,
        &mut out,
    );
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
    assert_eq!(v.working_orders(), 1);
    assert!(v.watches(I) && !v.watches(InstrumentId(I.0 + 1)));
    let print = |qty: u32, px: i64| TradePrint {
        ts: Timestamp(9),
        instrument: I,
        price: Price(px),
        qty: Qty(qty),
        resting_side: Some(Side::Bid),
    };
    let ev = MarketEvent::new(
        Timestamp(9),
        I,
        EventBody::OrderDeleted {
            order_id: OrderId(99),
        },
    );
    out.clear();
    // 150 at our price: all of it is ahead of us.
    v.on_market(&ev, Some(&print(150, 10_0000)), &m, &mut out);
    assert!(out.is_empty());
    // 100 more: 50 ahead left, then 50 for us.
    v.on_market(&ev, Some(&print(100, 10_0000)), &m, &mut out);
    assert_eq!(fills(&out), vec![(10_0000, 50, 250, Liquidity::Maker)]);
    out.clear();
    // A print through our price fills us at our price, up to its size.
    v.on_market(&ev, Some(&print(400, 9_9900)), &m, &mut out);
    assert_eq!(fills(&out), vec![(10_0000, 250, 0, Liquidity::Maker)]);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Filled]);
    assert_eq!(v.working_orders(), 0);
    assert!(!v.watches(I));
    // A print on the other side does not touch a bid.
    v.on_command(
        Timestamp(5),
        &submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    out.clear();
    let mut p = print(1_000, 9_0000);
    p.resting_side = Some(Side::Ask);
    v.on_market(&ev, Some(&p), &m, &mut out);
    assert!(out.is_empty());
    // Nor does an auction cross (a print with no resting side), even through its price.
    p.resting_side = None;
    v.on_market(&ev, Some(&p), &m, &mut out);
    assert!(out.is_empty());
    assert_eq!(v.working_orders(), 1);
}

#[test]
fn fok_is_refused_and_post_only_never_takes() {
    let m = market();
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    let mut send = |v: &mut TouchVenue, cmd: OrderCommand| {
        out.clear();
        v.on_command(Timestamp(5), &cmd, &m, &mut out);
        assert!(fills(&out).is_empty(), "{cmd:?}");
        updates(&out)
    };
    // FOK is not modelled: refused, not treated as Day.
    assert_eq!(
        send(
            &mut v,
            submit(0, Side::Bid, 10_0200, 1_000, TimeInForce::Fok)
        ),
        vec![OrderUpdateKind::Rejected(RejectReason::InvalidOrder)]
    );
    // A post-only bid at the ask would take: refused.
    assert_eq!(
        send(
            &mut v,
            submit(1, Side::Bid, 10_0100, 100, TimeInForce::PostOnly)
        ),
        vec![OrderUpdateKind::Rejected(RejectReason::WouldCross)]
    );
    // Below it, it rests; a modify into the ask is refused, one away from it goes through.
    assert_eq!(
        send(
            &mut v,
            submit(2, Side::Bid, 10_0000, 100, TimeInForce::PostOnly)
        ),
        vec![OrderUpdateKind::Accepted]
    );
    let modify = |price| OrderCommand::Modify {
        id: ClientOrderId::new(0, 2),
        price: Price(price),
        qty: Qty(100),
        filled: Qty(0),
    };
    assert_eq!(
        send(&mut v, modify(10_0100)),
        vec![OrderUpdateKind::AmendRejected(RejectReason::WouldCross)]
    );
    assert_eq!(
        send(&mut v, modify(9_9900)),
        vec![OrderUpdateKind::Modified {
            price: Price(9_9900),
            qty: Qty(100)
        }]
    );
    assert_eq!(v.working_orders(), 1);
}

#[test]
fn a_post_only_order_never_takes_on_a_modify_at_its_own_price() {
    // A post-only bid rests at 10.00; an ask then comes to 10.00 (this venue fills resting
    // orders from prints, not from adds): the book crosses the order. Shrinking it at its own
    // price takes nothing (it took the ask as a taker before).
    let mut m = market();
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    v.on_command(
        Timestamp(5),
        &submit(0, Side::Bid, 10_0000, 100, TimeInForce::PostOnly),
        &m,
        &mut out,
    );
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
    m.apply(&ev(6, support::add(9, Side::Ask, 10_0000, 300)));
    out.clear();
    let shrink = OrderCommand::Modify {
        id: ClientOrderId::new(0, 0),
        price: Price(10_0000),
        qty: Qty(50),
        filled: Qty(0),
    };
    v.on_command(Timestamp(7), &shrink, &m, &mut out);
    assert!(fills(&out).is_empty(), "{out:?}");
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(10_0000),
            qty: Qty(50)
        }]
    );
    assert_eq!(v.working_orders(), 1);
}

#[test]
fn a_modify_never_reopens_shares_that_traded_beyond_what_the_strategy_knew() {
    // 400 bid at 10.01 take the 300 offered there: 100 rest. A modify sent before that fill
    // was heard of, asking 400 open, leaves 100 open (the 300 that traded come off it); one
    // sent knowing of it gets what it asks; one asking 200 as of no fill finds nothing left.
    let m = market();
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    v.on_command(
        Timestamp(5),
        &submit(0, Side::Bid, 10_0100, 400, TimeInForce::Day),
        &m,
        &mut out,
    );
    assert_eq!(fills(&out), vec![(10_0100, 300, 100, Liquidity::Taker)]);
    out.clear();
    let modify = |qty, filled| OrderCommand::Modify {
        id: ClientOrderId::new(0, 0),
        price: Price(9_9900),
        qty: Qty(qty),
        filled: Qty(filled),
    };
    v.on_command(Timestamp(6), &modify(400, 0), &m, &mut out);
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(9_9900),
            qty: Qty(100)
        }]
    );
    // Now heard of: 100 open asked, 100 open.
    out.clear();
    v.on_command(Timestamp(7), &modify(100, 300), &m, &mut out);
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(9_9900),
            qty: Qty(100)
        }]
    );
    // Asking for 200 open as of no fills: 300 traded beyond that, nothing is left.
    out.clear();
    v.on_command(Timestamp(8), &modify(200, 0), &m, &mut out);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Cancelled]);
    assert_eq!(v.working_orders(), 0);
}

#[test]
fn a_modify_into_the_bid_during_a_halt_is_refused() {
    let mut m = market();
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    v.on_command(
        Timestamp(5),
        &submit(0, Side::Ask, 10_0300, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    m.apply(&ev(
        6,
        EventBody::TradingStatus {
            state: ticklane_core::TradingState::Halted,
            reason: *b"LUDP",
        },
    ));
    out.clear();
    v.on_command(
        Timestamp(7),
        &OrderCommand::Modify {
            id: ClientOrderId::new(0, 0),
            price: Price(10_0000),
            qty: Qty(100),
            filled: Qty(0),
        },
        &m,
        &mut out,
    );
    assert!(fills(&out).is_empty(), "{out:?}");
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::AmendRejected(
            RejectReason::InstrumentNotTrading
        )]
    );
    assert_eq!(v.working_orders(), 1);
}

#[test]
fn modify_cancel_and_rejections() {
    let m = market();
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    let id = ClientOrderId::new(0, 0);
    v.on_command(
        Timestamp(5),
        &submit(0, Side::Ask, 10_0300, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    out.clear();
    // Reprice into the bid: takes 200 at 10.00 ... but only 100 wanted.
    v.on_command(
        Timestamp(6),
        &OrderCommand::Modify {
            id,
            price: Price(10_0000),
            qty: Qty(100),
            filled: Qty(0),
        },
        &m,
        &mut out,
    );
    assert_eq!(fills(&out), vec![(10_0000, 100, 0, Liquidity::Taker)]);
    assert_eq!(
        updates(&out),
        vec![
            OrderUpdateKind::Modified {
                price: Price(10_0000),
                qty: Qty(100)
            },
            OrderUpdateKind::Filled
        ]
    );
    out.clear();
    v.on_command(Timestamp(7), &OrderCommand::Cancel { id }, &m, &mut out);
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::AmendRejected(RejectReason::UnknownOrder)]
    );
    out.clear();
    v.on_command(
        Timestamp(7),
        &submit(1, Side::Bid, 9_0000, 0, TimeInForce::Day),
        &m,
        &mut out,
    );
    v.on_command(
        Timestamp(7),
        &submit(2, Side::Bid, 0, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    let mut other = submit(3, Side::Bid, 9_0000, 100, TimeInForce::Day);
    if let OrderCommand::Submit { request, .. } = &mut other {
        request.instrument = InstrumentId(42);
    }
    v.on_command(Timestamp(7), &other, &m, &mut out);
    assert_eq!(
        updates(&out),
        vec![
            OrderUpdateKind::Rejected(RejectReason::InvalidOrder),
            OrderUpdateKind::Rejected(RejectReason::InvalidOrder),
            OrderUpdateKind::Rejected(RejectReason::InstrumentNotTrading)
        ]
    );
    // Cancel-all of one strategy leaves the other's orders.
    out.clear();
    v.on_command(
        Timestamp(8),
        &submit(4, Side::Bid, 9_0000, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    let theirs = OrderCommand::Submit {
        id: ClientOrderId::new(1, 0),
        request: OrderRequest {
            instrument: I,
            side: Side::Bid,
            price: Price(9_0000),
            qty: Qty(100),
            tif: TimeInForce::Day,
        },
    };
    v.on_command(Timestamp(8), &theirs, &m, &mut out);
    out.clear();
    v.cancel_all(Timestamp(9), Some(StrategyId(0)), &mut out);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Cancelled]);
    assert_eq!(v.working_orders(), 1);
}

/// One print shares its quantity among our resting orders in price-time priority (a better
/// bid sent later first), and a hidden print at our price waits for the displayed queue ahead
/// without eating it.
#[test]
fn touch_prints_fill_our_orders_in_price_time_priority_and_hidden_prints_wait() {
    let m = market();
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    // A: bid 10.00 behind 200 displayed (sent first); B: bid 10.005, alone at its price.
    v.on_command(
        Timestamp(5),
        &submit(0, Side::Bid, 10_0000, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    v.on_command(
        Timestamp(6),
        &submit(1, Side::Bid, 10_0050, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    out.clear();
    let print = |qty: u32, px: i64| TradePrint {
        ts: Timestamp(9),
        instrument: I,
        price: Price(px),
        qty: Qty(qty),
        resting_side: Some(Side::Bid),
    };
    let hidden = MarketEvent::new(
        Timestamp(9),
        I,
        EventBody::Trade {
            order_id: OrderId(0),
            side: Side::Bid,
            price: Price(10_0000),
            qty: Qty(150),
            match_id: ticklane_core::MatchId(1),
        },
    );
    // 150 hidden at 10.00: through B (10.005) which takes 100; at A's price behind 200
    // displayed: nothing for A, and A's queue ahead is untouched.
    v.on_market(&hidden, Some(&print(150, 10_0000)), &m, &mut out);
    let ids: Vec<(u64, u32)> = out
        .iter()
        .filter_map(|r| match r {
            ticklane_exec::VenueReport::Fill(f) => Some((f.id.0, f.qty.0)),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec![(ClientOrderId::new(0, 1).0, 100)]);
    out.clear();
    // A displayed execution of 200 at 10.00 consumes exactly the queue ahead of A.
    let shown = MarketEvent::new(
        Timestamp(10),
        I,
        EventBody::OrderDeleted {
            order_id: OrderId(99),
        },
    );
    v.on_market(&shown, Some(&print(200, 10_0000)), &m, &mut out);
    assert!(out.is_empty(), "200 were ahead of A");
    v.on_market(&shown, Some(&print(30, 10_0000)), &m, &mut out);
    assert_eq!(fills(&out), vec![(10_0000, 30, 70, Liquidity::Maker)]);
}

#[test]
fn a_modify_never_takes_again_what_the_order_took_on_arrival() {
    // Bid 10.01 x 400 takes the 300 offered there; the feed still shows them (our fill is not
    // on it). A shrink at the same price takes nothing; a new price takes only what lies
    // beyond the old one (10.02), never the 300 at 10.01 a second time.
    let m = market();
    let (mut v, mut out) = touch_after(&m, submit(0, Side::Bid, 10_0100, 400, TimeInForce::Day));
    assert_eq!(fills(&out), vec![(10_0100, 300, 100, Liquidity::Taker)]);
    let modify = |price, qty| OrderCommand::Modify {
        id: ClientOrderId::new(0, 0),
        price: Price(price),
        qty: Qty(qty),
        filled: Qty(300),
    };
    out.clear();
    v.on_command(Timestamp(6), &modify(10_0100, 80), &m, &mut out);
    assert!(fills(&out).is_empty(), "{out:?}");
    out.clear();
    v.on_command(Timestamp(7), &modify(10_0200, 80), &m, &mut out);
    assert_eq!(fills(&out), vec![(10_0200, 80, 0, Liquidity::Taker)]);
    assert_eq!(v.working_orders(), 0);
}

#[test]
fn a_print_of_another_instrument_fills_nothing() {
    // An execution naming `I` for an order resting in instrument 2 (corrupt input): its print
    // carries that order's price and instrument, and touches none of our orders on `I`.
    let mut m = market();
    m.apply(&MarketEvent::new(
        Timestamp(1),
        InstrumentId(2),
        support::add(50, Side::Bid, 5_0000, 500),
    ));
    let (mut v, mut out) = touch_after(&m, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    out.clear();
    let e = ev(
        6,
        EventBody::OrderExecuted {
            order_id: OrderId(50),
            qty: Qty(100),
            match_id: ticklane_core::MatchId(1),
        },
    );
    let print = support::trade_print(&m, &e);
    assert_eq!(print.map(|p| p.instrument), Some(InstrumentId(2)));
    m.apply(&e);
    v.on_market(&e, print.as_ref(), &m, &mut out);
    assert!(
        fills(&out).is_empty(),
        "a fill from another instrument's print: {out:?}"
    );
    assert_eq!(v.working_orders(), 1);
}

/// A touch venue that took `cmd` at time 5 on `m`, and what it reported.
fn touch_after(m: &ticklane_book::Market, cmd: OrderCommand) -> (TouchVenue, Vec<VenueReport>) {
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    v.on_command(Timestamp(5), &cmd, m, &mut out);
    (v, out)
}

/// Our bids A (at `a_price`, sent first) and B (10.00, sent second) on a touch venue, then
/// `modify` of A at 7, then 100 shares trading through 10.00 (at 9.98): which of our orders
/// filled, and for how much.
fn touch_fills_after_modifying_a(a_price: i64, modify: OrderCommand) -> Vec<(u64, u32)> {
    let m = market();
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    v.on_command(
        Timestamp(5),
        &submit(0, Side::Bid, a_price, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    v.on_command(
        Timestamp(6),
        &submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    v.on_command(Timestamp(7), &modify, &m, &mut out);
    out.clear();
    let through = TradePrint {
        ts: Timestamp(9),
        instrument: I,
        price: Price(9_9800),
        qty: Qty(100),
        resting_side: Some(Side::Bid),
    };
    let e = MarketEvent::new(
        Timestamp(9),
        I,
        EventBody::OrderDeleted {
            order_id: OrderId(99),
        },
    );
    v.on_market(&e, Some(&through), &m, &mut out);
    out.iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some((f.id.0, f.qty.0)),
            _ => None,
        })
        .collect()
}

/// Price-time priority among our own orders: an order modified to a new price (it loses its
/// priority, as the module docs say) comes after an order that already rested at that price.
#[test]
fn touch_a_repriced_order_comes_after_our_orders_already_resting_at_its_new_price() {
    // A moves up from 9.99 to 10.00: it joins that price after B.
    let modify = OrderCommand::Modify {
        id: ClientOrderId::new(0, 0),
        price: Price(10_0000),
        qty: Qty(100),
        filled: Qty(0),
    };
    assert_eq!(
        touch_fills_after_modifying_a(9_9900, modify),
        vec![(ClientOrderId::new(0, 1).0, 100)],
        "B rested at 10.00 before A got there"
    );
}

/// Price-time priority among our own orders: an order whose size is raised (it loses its
/// priority, as the module docs say) comes after our order already resting at its price.
#[test]
fn touch_an_enlarged_order_comes_after_our_orders_already_resting_at_its_price() {
    // A, at 10.00 before B, grows to 200: it loses its priority, behind B.
    let modify = OrderCommand::Modify {
        id: ClientOrderId::new(0, 0),
        price: Price(10_0000),
        qty: Qty(200),
        filled: Qty(0),
    };
    assert_eq!(
        touch_fills_after_modifying_a(10_0000, modify),
        vec![(ClientOrderId::new(0, 1).0, 100)],
        "A lost its priority when it grew: B comes first"
    );
}

/// One print among our orders at one price goes to the earlier one first: the shares the
/// displayed queue ahead takes out of the print are gone for every later order of ours too.
#[test]
fn touch_a_later_order_at_our_price_never_fills_before_an_earlier_one() {
    let mut m = market();
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    // A joins 10.00 behind 200 displayed.
    v.on_command(
        Timestamp(5),
        &submit(0, Side::Bid, 10_0000, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    // 100 of the displayed 200 are cancelled; B joins 10.00 behind the 100 left.
    m.apply(&ev(
        6,
        EventBody::OrderCancelled {
            order_id: OrderId(4),
            qty: Qty(100),
        },
    ));
    v.on_command(
        Timestamp(7),
        &submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    out.clear();
    // 250 execute at 10.00 (displayed): whatever A counts ahead of it, B, which came after
    // A, gets nothing while A is still open.
    let print = TradePrint {
        ts: Timestamp(9),
        instrument: I,
        price: Price(10_0000),
        qty: Qty(250),
        resting_side: Some(Side::Bid),
    };
    let e = ev(
        9,
        EventBody::OrderDeleted {
            order_id: OrderId(99),
        },
    );
    v.on_market(&e, Some(&print), &m, &mut out);
    let ids: Vec<(u64, u32, u32)> = out
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some((f.id.0, f.qty.0, f.leaves.0)),
            _ => None,
        })
        .collect();
    let b = ClientOrderId::new(0, 1).0;
    let a_open = ids.iter().any(|&(id, _, leaves)| id != b && leaves > 0);
    let b_filled = ids.iter().any(|&(id, _, _)| id == b);
    assert!(
        !(a_open && b_filled),
        "B filled while A is still open: {ids:?}"
    );
}

/// A print that leaves an earlier order of ours open at a price gives a later order there no
/// fill, but the displayed shares it executed were ahead of the later order too: its place in
/// the queue must advance. Queue at 10.00: 200 displayed, A (50), 100 displayed, B (100).
/// Prints of 220, 130 and 100 there execute 450 shares: the 300 displayed ahead of B and A's
/// 50 come first, so B must get the last 100.
#[test]
fn touch_a_blocked_later_order_still_advances_in_the_queue() {
    let mut m = market();
    let mut v = TouchVenue::new();
    let mut out = Vec::new();
    // A joins 10.00 behind 200 displayed.
    v.on_command(
        Timestamp(5),
        &submit(0, Side::Bid, 10_0000, 50, TimeInForce::Day),
        &m,
        &mut out,
    );
    // 100 more displayed join behind A; B joins behind those (300 displayed ahead of it).
    m.apply(&ev(6, support::add(6, Side::Bid, 10_0000, 100)));
    v.on_command(
        Timestamp(7),
        &submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    out.clear();
    let e = ev(
        9,
        EventBody::OrderDeleted {
            order_id: OrderId(99),
        },
    );
    let b = ClientOrderId::new(0, 1).0;
    let mut b_filled = 0u32;
    for qty in [220u32, 130, 100] {
        let print = TradePrint {
            ts: Timestamp(9),
            instrument: I,
            price: Price(10_0000),
            qty: Qty(qty),
            resting_side: Some(Side::Bid),
        };
        out.clear();
        v.on_market(&e, Some(&print), &m, &mut out);
        b_filled += out
            .iter()
            .filter_map(|r| match r {
                VenueReport::Fill(f) if f.id.0 == b => Some(f.qty.0),
                _ => None,
            })
            .sum::<u32>();
    }
    assert_eq!(
        (b_filled, v.working_orders()),
        (100, 0),
        "B's fills after 450 shares traded at 10.00 with 350 ahead of it"
    );
}
