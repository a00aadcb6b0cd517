//! `PaperExchange` scenarios with hand-built order-by-order event sequences: queue position,
//! fills once the queue ahead is consumed, trade-throughs, partial fills, cancels racing fills
//! (both orders of arrival), IOC/market orders walking levels, FOK, post-only, modifies,
//! latency, fees and cancel-all.

mod support;

use support::{add, fills, id, submit, updates, Sim, I};

use ticklane_core::{
    EventBody, InstrumentId, MatchId, OrderId, Price, Qty, Side, Timestamp, TradingState,
};
use ticklane_exec::{
    ConstantLatency, LogNormal, LogNormalLatency, PaperExchange, PerShareFees, Venue, VenueReport,
};
use ticklane_strategy::{
    ClientOrderId, Liquidity, OrderCommand, OrderRequest, OrderUpdateKind, RejectReason,
    StrategyId, TimeInForce,
};

fn exec(id: u64, q: u32) -> EventBody {
    EventBody::OrderExecuted {
        order_id: OrderId(id),
        qty: Qty(q),
        match_id: MatchId(id),
    }
}

fn cancel_part(id: u64, q: u32) -> EventBody {
    EventBody::OrderCancelled {
        order_id: OrderId(id),
        qty: Qty(q),
    }
}

fn delete(id: u64) -> EventBody {
    EventBody::OrderDeleted {
        order_id: OrderId(id),
    }
}

/// A modify of order `n` from a strategy that had heard of no fill of it.
fn modify(n: u64, px: i64, qty: u32) -> OrderCommand {
    modify_knowing(n, px, qty, 0)
}

/// A modify of order `n` from a strategy that had heard of `filled` shares of it filled.
fn modify_knowing(n: u64, px: i64, qty: u32, filled: u32) -> OrderCommand {
    OrderCommand::Modify {
        id: id(n),
        price: Price(px),
        qty: Qty(qty),
        filled: Qty(filled),
    }
}

fn cancel(n: u64) -> OrderCommand {
    OrderCommand::Cancel { id: id(n) }
}

fn ts_of(r: &VenueReport) -> u64 {
    match r {
        VenueReport::Update(u) => u.ts.0,
        VenueReport::Fill(f) => f.ts.0,
    }
}

fn zero() -> PaperExchange {
    PaperExchange::new()
}

#[test]
fn queue_position_advances_through_executions_cancels_and_deletes_ahead() {
    let mut s = Sim::new(zero());
    let out = s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
    assert_eq!(s.v.queue_ahead(id(1)), Some(200));
    // Two more bids join behind us.
    assert!(s.event(20, add(6, Side::Bid, 10_0000, 300)).is_empty());
    assert!(s.event(21, add(7, Side::Bid, 10_0000, 50)).is_empty());
    assert_eq!(s.v.queue_ahead(id(1)), Some(200));
    // Execution ahead: the queue moves, no fill.
    assert!(fills(&s.event(30, exec(4, 50))).is_empty());
    assert_eq!(s.v.queue_ahead(id(1)), Some(150));
    // Partial cancel ahead.
    assert!(s.event(40, cancel_part(4, 30)).is_empty());
    assert_eq!(s.v.queue_ahead(id(1)), Some(120));
    // Cancels behind us change nothing.
    assert!(s.event(41, cancel_part(6, 100)).is_empty());
    assert_eq!(s.v.queue_ahead(id(1)), Some(120));
    // Delete ahead: we are at the head.
    assert!(s.event(50, delete(4)).is_empty());
    assert_eq!(s.v.queue_ahead(id(1)), Some(0));
    assert_eq!(s.v.order(id(1)).map(|o| o.orders_ahead), Some(0));
    assert_eq!(s.v.working_orders(), 1);
    // The lane shows it the events of that instrument only.
    assert!(s.v.watches(I));
    assert!(!s.v.watches(InstrumentId(I.0 + 1)));
}

#[test]
fn a_fill_only_once_the_queue_ahead_is_consumed_then_partial_fills() {
    let mut s = Sim::new(zero());
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    s.event(20, add(6, Side::Bid, 10_0000, 300));
    // The order ahead (#4, 200) executes in full, in two prints: no fill for us.
    assert!(fills(&s.event(30, exec(4, 150))).is_empty());
    assert!(fills(&s.event(31, exec(4, 50))).is_empty());
    assert_eq!(s.v.queue_ahead(id(1)), Some(0));
    // Now an execution of the order behind us: the aggressor reached us first.
    let out = s.event(40, exec(6, 60));
    assert_eq!(fills(&out), vec![(10_0000, 60, 40, Liquidity::Maker)]);
    assert!(updates(&out).is_empty());
    let out = s.event(41, exec(6, 100));
    assert_eq!(fills(&out), vec![(10_0000, 40, 0, Liquidity::Maker)]);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Filled]);
    assert_eq!(s.v.working_orders(), 0);
    assert!(!s.v.watches(I));
    // Further executions do not fill a finished order.
    assert!(s.event(42, exec(6, 10)).is_empty());
}

#[test]
fn replace_ahead_sends_that_order_behind_us() {
    let mut s = Sim::new(zero());
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    // #4 (ahead) is replaced by #8 at the same price: it loses priority, we move up.
    s.event(
        20,
        EventBody::OrderReplaced {
            old_id: OrderId(4),
            new_id: OrderId(8),
            price: Price(10_0000),
            qty: Qty(200),
        },
    );
    assert_eq!(s.v.queue_ahead(id(1)), Some(0));
    // An execution of #8 (now behind us) fills us.
    let out = s.event(30, exec(8, 30));
    assert_eq!(fills(&out), vec![(10_0000, 30, 70, Liquidity::Maker)]);
}

#[test]
fn a_trade_through_our_price_fills_at_our_price_whatever_is_ahead() {
    let mut s = Sim::new(zero());
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    assert_eq!(s.v.queue_ahead(id(1)), Some(200));
    // #5 bids 9.99, below us: a seller traded through our price.
    let out = s.event(20, exec(5, 80));
    assert_eq!(fills(&out), vec![(10_0000, 80, 20, Liquidity::Maker)]);
    // A non-displayed trade through our price too.
    let out = s.event(
        21,
        EventBody::Trade {
            order_id: OrderId(0),
            side: Side::Bid,
            price: Price(9_9800),
            qty: Qty(500),
            match_id: MatchId(99),
        },
    );
    assert_eq!(fills(&out), vec![(10_0000, 20, 0, Liquidity::Maker)]);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Filled]);
}

#[test]
fn hidden_executions_at_our_price_fill_only_at_the_head_of_the_displayed_queue() {
    let mut s = Sim::new(zero());
    s.cmd(10, submit(1, Side::Ask, 10_0200, 100, TimeInForce::Day));
    let hidden = |q| EventBody::Trade {
        order_id: OrderId(0),
        side: Side::Ask,
        price: Price(10_0200),
        qty: Qty(q),
        match_id: MatchId(7),
    };
    assert!(fills(&s.event(20, hidden(50))).is_empty());
    s.event(30, delete(3));
    assert_eq!(s.v.queue_ahead(id(1)), Some(0));
    assert_eq!(
        fills(&s.event(40, hidden(50))),
        vec![(10_0200, 50, 50, Liquidity::Maker)]
    );
    // Auction crosses never fill us.
    let out = s.event(
        50,
        EventBody::CrossTrade {
            price: Price(10_0500),
            qty: 1000,
            match_id: MatchId(8),
            kind: ticklane_core::AuctionKind::Closing,
        },
    );
    assert!(fills(&out).is_empty());
}

#[test]
fn an_order_added_through_our_price_would_have_hit_us() {
    let mut s = Sim::new(zero());
    s.cmd(10, submit(1, Side::Ask, 10_0500, 100, TimeInForce::Day));
    // A bid at 10.06 added to the recorded book (our ask is not in it): it would have
    // executed against our 10.05 ask.
    let out = s.event(20, add(9, Side::Bid, 10_0600, 60));
    assert_eq!(fills(&out), vec![(10_0500, 60, 40, Liquidity::Maker)]);
    // A bid below our ask does nothing.
    assert!(s.event(21, add(10, Side::Bid, 10_0400, 60)).is_empty());
}

#[test]
fn one_print_fills_our_orders_in_price_time_priority() {
    let mut s = Sim::new(zero());
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    s.cmd(11, submit(2, Side::Bid, 10_0000, 100, TimeInForce::Day));
    s.cmd(12, submit(3, Side::Bid, 9_9950, 100, TimeInForce::Day));
    // A 250-share sell through all of them (a hidden buy at 9.99 hit: #5 there holds only
    // 100, and an execution prints no more than its order had).
    let out = s.event(
        20,
        EventBody::Trade {
            order_id: OrderId(0),
            side: Side::Bid,
            price: Price(9_9900),
            qty: Qty(250),
            match_id: MatchId(5),
        },
    );
    let ids: Vec<(u64, u32)> = out
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some((f.id.0, f.qty.0)),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec![(id(1).0, 100), (id(2).0, 100), (id(3).0, 50)]);
}

#[test]
fn a_marketable_ioc_walks_the_levels_then_expires_the_rest() {
    let mut s = Sim::new(zero());
    let out = s.cmd(10, submit(1, Side::Bid, 10_0200, 1000, TimeInForce::Ioc));
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
    // A "market order": an IOC priced through the book.
    let out = s.cmd(11, submit(2, Side::Ask, 1, 250, TimeInForce::Ioc));
    assert_eq!(
        fills(&out),
        vec![
            (10_0000, 200, 50, Liquidity::Taker),
            (9_9900, 50, 0, Liquidity::Taker)
        ]
    );
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Accepted, OrderUpdateKind::Filled]
    );
    // Our orders do not change the recorded market: the same liquidity is there again.
    let out = s.cmd(12, submit(3, Side::Bid, 10_0100, 300, TimeInForce::Ioc));
    assert_eq!(fills(&out), vec![(10_0100, 300, 0, Liquidity::Taker)]);
    assert_eq!(s.v.working_orders(), 0);
}

#[test]
fn a_marketable_day_order_takes_then_rests_the_rest() {
    let mut s = Sim::new(zero());
    let out = s.cmd(10, submit(1, Side::Bid, 10_0100, 400, TimeInForce::Day));
    assert_eq!(fills(&out), vec![(10_0100, 300, 100, Liquidity::Taker)]);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
    assert_eq!(s.v.order(id(1)).map(|o| o.leaves), Some(Qty(100)));
    assert_eq!(s.v.queue_ahead(id(1)), Some(0));
}

#[test]
fn fok_fills_completely_or_expires_without_fills() {
    let mut s = Sim::new(zero());
    let out = s.cmd(10, submit(1, Side::Bid, 10_0100, 301, TimeInForce::Fok));
    assert!(fills(&out).is_empty());
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Accepted, OrderUpdateKind::Expired]
    );
    let out = s.cmd(11, submit(2, Side::Bid, 10_0200, 400, TimeInForce::Fok));
    assert_eq!(
        fills(&out),
        vec![
            (10_0100, 300, 100, Liquidity::Taker),
            (10_0200, 100, 0, Liquidity::Taker)
        ]
    );
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Accepted, OrderUpdateKind::Filled]
    );
}

#[test]
fn post_only_rests_or_is_rejected_when_it_would_cross() {
    let mut s = Sim::new(zero());
    let out = s.cmd(
        10,
        submit(1, Side::Bid, 10_0100, 100, TimeInForce::PostOnly),
    );
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Rejected(RejectReason::WouldCross)]
    );
    let out = s.cmd(
        11,
        submit(2, Side::Bid, 10_0000, 100, TimeInForce::PostOnly),
    );
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
    assert_eq!(s.v.queue_ahead(id(2)), Some(200));
    // A modify that would cross is refused; the order stays as it was.
    let out = s.cmd(12, modify(2, 10_0100, 100));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::AmendRejected(RejectReason::WouldCross)]
    );
    assert_eq!(s.v.order(id(2)).map(|o| o.price), Some(Price(10_0000)));
    assert_eq!(s.v.queue_ahead(id(2)), Some(200));
    // An ask arrives at our bid's price: the book crosses our resting order. Shrinking it at
    // its own price takes nothing, so post-only does not refuse it.
    s.event(20, add(30, Side::Ask, 10_0000, 30));
    // (The strategy has heard of the 30 filled.)
    let out = s.cmd(21, modify_knowing(2, 10_0000, 50, 30));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(10_0000),
            qty: Qty(50)
        }]
    );
    assert!(fills(&out).is_empty());
}

#[test]
fn modify_keeps_priority_only_when_the_size_shrinks_at_the_same_price() {
    let mut s = Sim::new(zero());
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    s.event(20, add(6, Side::Bid, 10_0000, 300));
    s.event(21, exec(4, 50));
    assert_eq!(s.v.queue_ahead(id(1)), Some(150));
    // Size decrease: same place.
    let out = s.cmd(30, modify(1, 10_0000, 80));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(10_0000),
            qty: Qty(80)
        }]
    );
    assert_eq!(s.v.queue_ahead(id(1)), Some(150));
    // Size increase: back of the queue (behind #6 now).
    s.cmd(31, modify(1, 10_0000, 90));
    assert_eq!(s.v.queue_ahead(id(1)), Some(450));
    // Price change: back of the new level (9.99 has #5, 100).
    s.cmd(32, modify(1, 9_9900, 90));
    assert_eq!(s.v.queue_ahead(id(1)), Some(100));
    // A modify through the book takes liquidity, the rest rests.
    let out = s.cmd(33, modify(1, 10_0100, 400));
    assert_eq!(fills(&out), vec![(10_0100, 300, 100, Liquidity::Taker)]);
    assert_eq!(s.v.order(id(1)).map(|o| o.leaves), Some(Qty(100)));
    // Unknown orders.
    let out = s.cmd(34, modify(9, 10_0000, 10));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::AmendRejected(RejectReason::UnknownOrder)]
    );
}

#[test]
fn orders_meet_the_book_as_it_stands_when_they_arrive() {
    let mut s = Sim::new(PaperExchange::with_models(
        ConstantLatency::new(100, 50),
        PerShareFees::ZERO,
    ));
    // Sent at 10, arrives at 110.
    assert!(s
        .cmd(10, submit(1, Side::Bid, 10_0100, 300, TimeInForce::Ioc))
        .is_empty());
    assert!(s.v.has_pending());
    // Before it arrives, #1 (100 of the 300 at 10.01) is deleted.
    assert!(s.event(50, delete(1)).is_empty());
    // At 110 it arrives (processed before the event of time 110): 200 left to take.
    // Its answers come back at 160.
    assert!(s.event(110, add(20, Side::Bid, 9_9000, 10)).is_empty());
    let out = s.event(160, add(21, Side::Bid, 9_9000, 10));
    assert_eq!(fills(&out), vec![(10_0100, 200, 100, Liquidity::Taker)]);
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Accepted, OrderUpdateKind::Expired]
    );
    assert!(out.iter().all(|r| ts_of(r) == 160));
    assert!(!s.v.has_pending());
}

fn racing() -> Sim<PaperExchange> {
    let mut s = Sim::new(PaperExchange::with_models(
        ConstantLatency::new(100, 100),
        PerShareFees::ZERO,
    ));
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    // Arrives at 110, acked at 210.
    let out = s.advance(210);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
    s
}

#[test]
fn cancel_racing_a_fill_the_fill_happens_first() {
    let mut s = racing();
    // Strategy cancels at 300 (arrives 400); at 350 the market trades through our bid.
    assert!(s.cmd(300, cancel(1)).is_empty());
    assert!(s.event(350, exec(5, 100)).is_empty()); // the fill is on its way (450)
    let out = s.advance(450);
    assert_eq!(fills(&out), vec![(10_0000, 100, 0, Liquidity::Maker)]);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Filled]);
    // The cancel arrived at 400, after the fill: too late, refused (answer at 500).
    let out = s.advance(500);
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::AmendRejected(RejectReason::UnknownOrder)]
    );
    // Reports come back in the order the exchange produced them.
    assert!(!s.v.has_pending());
}

#[test]
fn cancel_racing_a_fill_the_cancel_arrives_first() {
    let mut s = racing();
    assert!(s.cmd(300, cancel(1)).is_empty());
    // The cancel arrives at 400, before the trade-through at 450: no fill.
    let out = s.event(450, exec(5, 100));
    assert!(fills(&out).is_empty());
    let out = s.advance(500);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Cancelled]);
    assert_eq!(s.v.working_orders(), 0);
}

#[test]
fn a_modify_racing_an_undelivered_fill_never_reopens_traded_shares() {
    let mut s = racing();
    // At 250 the market trades 60 through our bid: the fill report is due at 350.
    assert!(s.event(250, exec(5, 60)).is_empty());
    // At 300 the strategy, which has not heard of it, moves its 100 shares to 9.99.
    assert!(s.cmd(300, modify(1, 9_9900, 100)).is_empty());
    let out = s.advance(350);
    assert_eq!(fills(&out), vec![(10_0000, 60, 40, Liquidity::Maker)]);
    // The modify arrives at 400: the 60 that traded come off it.
    let out = s.advance(500);
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(9_9900),
            qty: Qty(40)
        }]
    );
    // Once the fill has been heard of, a modify's size is the open quantity asked for.
    assert!(s.cmd(600, modify_knowing(1, 9_9800, 40, 60)).is_empty());
    let out = s.advance(800);
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(9_9800),
            qty: Qty(40)
        }]
    );
}

#[test]
fn a_partial_fill_before_the_cancel_then_the_rest_is_cancelled() {
    let mut s = racing();
    s.cmd(300, cancel(1));
    s.event(350, exec(5, 30));
    let out = s.advance(500);
    assert_eq!(fills(&out), vec![(10_0000, 30, 70, Liquidity::Maker)]);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Cancelled]);
}

#[test]
fn fees_by_liquidity_side_are_on_the_fills() {
    let mut s = Sim::new(PaperExchange::with_models(
        ConstantLatency::default(),
        PerShareFees::new(-20, 30),
    ));
    let out = s.cmd(10, submit(1, Side::Bid, 10_0100, 100, TimeInForce::Ioc));
    let fees: Vec<i64> = out
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some(f.fee),
            _ => None,
        })
        .collect();
    assert_eq!(fees, vec![3000]);
    s.cmd(11, submit(2, Side::Bid, 10_0000, 100, TimeInForce::Day));
    let out = s.event(20, exec(5, 100));
    let fees: Vec<i64> = out
        .iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some(f.fee),
            _ => None,
        })
        .collect();
    assert_eq!(fees, vec![-2000]);
    assert_eq!(s.v.stats().fees, 1000);
}

#[test]
fn cancel_all_cancels_working_and_in_flight_orders_of_one_strategy() {
    let mut s = Sim::new(PaperExchange::with_models(
        ConstantLatency::new(100, 100),
        PerShareFees::ZERO,
    ));
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    let other = OrderCommand::Submit {
        id: ClientOrderId::new(1, 1),
        request: OrderRequest {
            instrument: I,
            side: Side::Ask,
            price: Price(10_0500),
            qty: Qty(10),
            tif: TimeInForce::Day,
        },
    };
    s.cmd(10, other);
    s.advance(110); // both arrived; acks in flight until 210
    s.cmd(150, submit(2, Side::Bid, 9_9900, 100, TimeInForce::Day)); // in flight until 250
    let mut out = Vec::new();
    s.v.cancel_all(Timestamp(160), Some(StrategyId(0)), &mut out);
    assert_eq!(
        updates(&out),
        vec![
            OrderUpdateKind::Accepted,  // order 1's ack, flushed first
            OrderUpdateKind::Cancelled, // order 2, never arrived
            OrderUpdateKind::Cancelled, // order 1
        ]
    );
    assert!(out.iter().all(|r| ts_of(r) == 160));
    // The other strategy's order is untouched.
    assert_eq!(s.v.working_orders(), 1);
    let out = s.advance(300);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
    // Everyone.
    let mut out = Vec::new();
    s.v.cancel_all(Timestamp(400), None, &mut out);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Cancelled]);
    assert_eq!(s.v.working_orders(), 0);
}

#[test]
fn a_modify_across_the_book_during_a_halt_is_refused() {
    let mut s = Sim::new(zero());
    // A bid under the asks (10.01 x 300, 10.02 x 500).
    s.cmd(10, submit(1, Side::Bid, 9_9000, 100, TimeInForce::Day));
    s.event(
        20,
        EventBody::TradingStatus {
            state: TradingState::Halted,
            reason: *b"LUDP",
        },
    );
    // Re-priced through the frozen asks: refused, as a new order would be; nothing trades.
    let out = s.cmd(30, modify(1, 10_0200, 100));
    assert!(fills(&out).is_empty(), "{out:?}");
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::AmendRejected(
            RejectReason::InstrumentNotTrading
        )]
    );
    assert_eq!(s.v.order(id(1)).map(|o| o.price), Some(Price(9_9000)));
    // A new price that does not cross is taken (the order rests there).
    let out = s.cmd(31, modify(1, 9_9500, 100));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(9_9500),
            qty: Qty(100)
        }]
    );
    assert_eq!(s.v.stats().shares, 0);
}

#[test]
fn rejects_invalid_orders_and_untradeable_instruments() {
    let mut s = Sim::new(zero());
    let out = s.cmd(10, submit(1, Side::Bid, 0, 100, TimeInForce::Day));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Rejected(RejectReason::InvalidOrder)]
    );
    let out = s.cmd(10, submit(2, Side::Bid, 10_0000, 0, TimeInForce::Day));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Rejected(RejectReason::InvalidOrder)]
    );
    s.event(
        20,
        EventBody::TradingStatus {
            state: TradingState::Halted,
            reason: *b"LUDP",
        },
    );
    let out = s.cmd(30, submit(3, Side::Bid, 10_0000, 10, TimeInForce::Day));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Rejected(
            RejectReason::InstrumentNotTrading
        )]
    );
    let out = s.cmd(30, cancel(3));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::AmendRejected(RejectReason::UnknownOrder)]
    );
}

/// A small scripted session with random latencies; its reports.
fn seeded_run(seed: u64) -> Vec<VenueReport> {
    let d = LogNormal {
        median_ns: 50,
        sigma: 0.9,
        min_ns: 5,
        max_ns: 5_000,
    };
    let lat = LogNormalLatency::new(seed, d, d).unwrap_or_else(|e| panic!("{e}"));
    let mut s = Sim::new(PaperExchange::with_models(lat, PerShareFees::new(-20, 30)));
    let mut all = Vec::new();
    let mut next_id = 100;
    for k in 0..200u64 {
        let t = 1_000 + k * 40;
        let body = match k % 5 {
            0 => add(next_id, Side::Bid, 9_9900 + (k as i64 % 3) * 50, 100),
            1 => add(next_id, Side::Ask, 10_0200 - (k as i64 % 3) * 50, 100),
            2 => exec(next_id - 2, 40),
            3 => exec(next_id - 2, 30),
            _ => delete(next_id - 4),
        };
        if k % 5 < 2 {
            next_id += 1;
        }
        all.extend(s.event(t, body));
        if k % 7 == 0 {
            let side = if k % 2 == 0 { Side::Bid } else { Side::Ask };
            let px = if side == Side::Bid { 10_0000 } else { 10_0100 };
            all.extend(s.cmd(t, submit(k, side, px, 50, TimeInForce::Day)));
        }
        if k % 11 == 0 && k > 0 {
            all.extend(s.cmd(t, cancel(k - 7)));
        }
    }
    all.extend(s.advance(1_000_000));
    all
}

#[test]
fn seeded_random_latency_is_deterministic() {
    let a = seeded_run(42);
    assert_eq!(a, seeded_run(42));
    assert!(!a.is_empty());
    assert!(fills(&a).len() > 1, "{:?}", fills(&a));
    assert_ne!(a, seeded_run(43));
    // Reports come back in delivery order.
    let ts: Vec<u64> = a.iter().map(ts_of).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn a_same_price_modify_does_not_take_what_already_filled_it_as_maker() {
    let mut s = Sim::new(zero());
    // Our bid 10.00 x 500 joins behind #4 (200); #4 leaves: we are first at 10.00.
    let out = s.cmd(10, submit(1, Side::Bid, 10_0000, 500, TimeInForce::Day));
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
    assert!(fills(&s.event(11, delete(4))).is_empty());
    // An ask added at our price crosses us: 100 filled as maker. The feed still shows it.
    let out = s.event(12, add(30, Side::Ask, 10_0000, 100));
    assert_eq!(fills(&out), vec![(10_0000, 100, 400, Liquidity::Maker)]);
    // Shrinking the order at the same price keeps it where it was and takes nothing: those
    // 100 shares were ours already.
    let out = s.cmd(13, modify_knowing(1, 10_0000, 300, 100));
    assert!(fills(&out).is_empty(), "{out:?}");
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(10_0000),
            qty: Qty(300)
        }]
    );
    assert_eq!(s.v.order(id(1)).map(|o| o.leaves), Some(Qty(300)));
    // A new price through the book takes what lies beyond the old price only: the ask at
    // 10.00 filled us already (it was taken a second time, 100 shares the market never had).
    let out = s.cmd(14, modify_knowing(1, 10_0100, 300, 100));
    assert_eq!(fills(&out), vec![(10_0100, 300, 0, Liquidity::Taker)]);
}

#[test]
fn a_repriced_modify_takes_only_what_lies_beyond_its_old_price() {
    let mut s = Sim::new(zero());
    // Our bid 10.00 x 100 (first at 10.00 once #4 leaves); an ask of 30 added at 10.00
    // fills 30 of it as maker.
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    assert!(fills(&s.event(15, delete(4))).is_empty());
    let out = s.event(20, add(30, Side::Ask, 10_0000, 30));
    assert_eq!(fills(&out), vec![(10_0000, 30, 70, Liquidity::Maker)]);
    // Raised to 10.01 for the 70 left: the asks at 10.01 only.
    let out = s.cmd(30, modify_knowing(1, 10_0100, 70, 30));
    assert_eq!(fills(&out), vec![(10_0100, 70, 0, Liquidity::Taker)]);
    // Lowered, still crossing: nothing lies beyond the old price, nothing is taken. (Bid
    // 10.02 x 2000 takes the 830 displayed up to 10.02 and rests 1170.)
    let out = s.cmd(40, submit(2, Side::Bid, 10_0200, 2000, TimeInForce::Day));
    assert_eq!(
        s.v.order(id(2)).map(|o| o.leaves),
        Some(Qty(1170)),
        "{out:?}"
    );
    let out = s.cmd(50, modify_knowing(2, 10_0100, 1170, 830));
    assert!(fills(&out).is_empty(), "{out:?}");
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(10_0100),
            qty: Qty(1170)
        }]
    );
}

#[test]
fn orders_are_accepted_again_once_an_operational_halt_is_lifted() {
    let mut s = Sim::new(zero());
    let status = |state| EventBody::TradingStatus {
        state,
        reason: *b"Q   ",
    };
    s.event(10, status(TradingState::OperationalHalt));
    let out = s.cmd(11, submit(1, Side::Bid, 9_9000, 100, TimeInForce::Day));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Rejected(
            RejectReason::InstrumentNotTrading
        )]
    );
    s.event(12, status(TradingState::OperationalResume));
    let out = s.cmd(13, submit(2, Side::Bid, 9_9000, 100, TimeInForce::Day));
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
}

#[test]
fn shares_executed_while_a_modify_travels_count_toward_its_size() {
    let mut s = racing();
    // At 300 the strategy asks for 100 open at 10.00 (arrives at 400); at 350 the market
    // trades through our bid for 60 (the fill report is due at 450).
    assert!(s.cmd(300, modify(1, 10_0000, 100)).is_empty());
    assert!(s.event(350, exec(5, 60)).is_empty());
    let out = s.advance(450);
    assert_eq!(fills(&out), vec![(10_0000, 60, 40, Liquidity::Maker)]);
    // The modify arrived at 400 after those 60 traded: 40 stay open, not 100 again.
    let out = s.advance(500);
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(10_0000),
            qty: Qty(40)
        }]
    );
    assert_eq!(s.v.order(id(1)).map(|o| o.leaves), Some(Qty(40)));
}

#[test]
fn a_modify_overtaken_by_fills_of_its_whole_size_cancels_the_rest() {
    let mut s = racing();
    // Ask for 50 open; 60 trade before the modify arrives: nothing is left to work.
    assert!(s.cmd(300, modify(1, 10_0000, 50)).is_empty());
    assert!(s.event(350, exec(5, 60)).is_empty());
    s.advance(450);
    let out = s.advance(500);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Cancelled]);
    assert!(s.v.order(id(1)).is_none());
}

#[test]
fn nothing_fills_while_the_instrument_is_paused() {
    let mut s = Sim::new(zero());
    let status = |state| EventBody::TradingStatus {
        state,
        reason: *b"    ",
    };
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    s.event(11, delete(4));
    s.event(12, status(TradingState::Paused));
    // A quote that crosses our bid during the pause is not a trade.
    assert!(fills(&s.event(13, add(30, Side::Ask, 10_0000, 100))).is_empty());
    assert!(fills(&s.event(14, delete(30))).is_empty());
    // Deletes during the pause still count for the queue; once trading resumes, a crossing
    // ask fills us again.
    s.event(15, status(TradingState::Trading));
    let out = s.event(16, add(31, Side::Ask, 10_0000, 100));
    assert_eq!(fills(&out), vec![(10_0000, 100, 0, Liquidity::Maker)]);
}

/// Passive orders of strategy `s` (bids below the book for 0, asks above it for others) and
/// some of their cancels: (send time, command). They never trade, so two strategies' orders
/// do not interact, whoever shares the venue.
fn passive_commands(s: u16) -> Vec<(u64, OrderCommand)> {
    let (side, px) = if s == 0 {
        (Side::Bid, 9_9000)
    } else {
        (Side::Ask, 10_1000)
    };
    let mut out = Vec::new();
    for k in 0..80u64 {
        let t = 1_000 + k * 9 + u64::from(s) * 4;
        let id = ClientOrderId::new(s, k);
        out.push((
            t,
            OrderCommand::Submit {
                id,
                request: OrderRequest {
                    instrument: support::I,
                    side,
                    price: Price(px),
                    qty: Qty(100),
                    tif: TimeInForce::Day,
                },
            },
        ));
        if k % 3 == 2 {
            out.push((
                t + 1,
                OrderCommand::Cancel {
                    id: ClientOrderId::new(s, k - 1),
                },
            ));
        }
    }
    out
}

/// Every report of a venue with random latencies that the strategies in `strategies` drive
/// together, in the order delivered.
fn random_latency_session(strategies: &[u16]) -> Vec<VenueReport> {
    let d = LogNormal {
        median_ns: 50,
        sigma: 0.9,
        min_ns: 5,
        max_ns: 5_000,
    };
    let lat = LogNormalLatency::new(9, d, d).unwrap_or_else(|e| panic!("{e}"));
    let mut s = Sim::new(PaperExchange::with_models(lat, PerShareFees::ZERO));
    let mut cmds: Vec<(u64, OrderCommand)> = strategies
        .iter()
        .flat_map(|&st| passive_commands(st))
        .collect();
    cmds.sort_by_key(|c| c.0);
    let mut all = Vec::new();
    for (t, c) in cmds {
        all.extend(s.cmd(t, c));
    }
    all.extend(s.advance(10_000_000));
    all
}

fn strategy_of(r: &VenueReport) -> u16 {
    match r {
        VenueReport::Update(u) => u.id.strategy(),
        VenueReport::Fill(f) => f.id.strategy(),
    }
}

/// With random latencies each strategy has its own order-entry session and its own generator:
/// what it meets (every report, with its delivery time) is the same whether another strategy
/// shares the venue (one lane) or not (two lanes), so the run digest does not depend on the
/// lane layout.
#[test]
fn with_random_latency_a_strategy_meets_the_same_venue_whoever_shares_it() {
    let both = random_latency_session(&[0, 1]);
    assert!(both.len() > 200, "{}", both.len());
    let ts: Vec<u64> = both.iter().map(ts_of).collect();
    assert!(
        ts.windows(2).all(|w| w[0] <= w[1]),
        "delivered in time order"
    );
    for s in [0u16, 1] {
        let alone = random_latency_session(&[s]);
        let shared: Vec<VenueReport> = both
            .iter()
            .filter(|r| strategy_of(r) == s)
            .copied()
            .collect();
        assert_eq!(shared, alone, "strategy {s}");
        // Its own session keeps its order: its reports come back in the order produced.
        let own: Vec<u64> = alone.iter().map(ts_of).collect();
        assert!(own.windows(2).all(|w| w[0] <= w[1]));
    }
    // Not vacuous: the two sessions' reports interleave, and the latencies are random.
    assert!(both
        .windows(2)
        .any(|w| strategy_of(&w[0]) != strategy_of(&w[1])));
    let times: std::collections::BTreeSet<u64> = both.iter().map(ts_of).collect();
    assert!(times.len() > 10, "{times:?}");
}

/// Entry latencies given in order (then 10 ns), no response latency.
struct Scripted(std::collections::VecDeque<u64>);

impl ticklane_exec::LatencyModel for Scripted {
    fn entry_ns(&mut self, _now: Timestamp, _cmd: &OrderCommand) -> u64 {
        self.0.pop_front().unwrap_or(10)
    }
    fn response_ns(&mut self, _at: Timestamp, _strategy: u16) -> u64 {
        0
    }
}

/// A cancel-all (a strategy's restart, a kill switch) drops its commands in flight; the next
/// command of that strategy waits behind none of them (its session starts afresh).
#[test]
fn after_a_cancel_all_new_commands_wait_behind_nothing() {
    let lat = Scripted([1_000].into_iter().collect());
    let mut s = Sim::new(PaperExchange::with_models(lat, PerShareFees::ZERO));
    // Sent at 10, due at 1,010: still on its way when everything is cancelled at 20.
    assert!(s
        .cmd(10, submit(1, Side::Bid, 9_9000, 100, TimeInForce::Day))
        .is_empty());
    s.out.clear();
    s.v.cancel_all(Timestamp(20), Some(StrategyId(0)), &mut s.out);
    let dropped = std::mem::take(&mut s.out);
    assert_eq!(updates(&dropped), vec![OrderUpdateKind::Cancelled]);
    // Sent at 30 with 10 ns of latency: it arrives at 40 and is accepted then, not at 1,010.
    assert!(s
        .cmd(30, submit(2, Side::Bid, 9_9000, 100, TimeInForce::Day))
        .is_empty());
    let out = s.advance(50);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
    assert_eq!(out.iter().map(ts_of).collect::<Vec<_>>(), vec![40]);
}

/// A hidden print's message side is not read (NASDAQ writes `B` on every one since 2014):
/// inside the spread it fills nobody, at the ask it is a hidden sell, whatever it says.
#[test]
fn a_hidden_print_is_sided_by_the_book_not_by_its_indicator() {
    let mut s = Sim::new(zero());
    // Inside the spread (10.00 / 10.01), alone at our price: no displayed queue ahead.
    s.cmd(10, submit(1, Side::Bid, 10_0050, 100, TimeInForce::Day));
    assert_eq!(s.v.queue_ahead(id(1)), Some(0));
    let print = |px: i64, q: u32| EventBody::Trade {
        order_id: OrderId(0),
        side: Side::Bid,
        price: Price(px),
        qty: Qty(q),
        match_id: MatchId(5),
    };
    // "B" at our price, inside the spread: either side could have rested; no fill.
    assert!(fills(&s.event(20, print(10_0050, 40))).is_empty());
    // "B" at the ask: a buyer lifted a hidden sell; our bid is not hit.
    assert!(fills(&s.event(21, print(10_0100, 40))).is_empty());
    // At the bid and below ours: a seller hit a hidden buy below our price, through us.
    assert_eq!(
        fills(&s.event(22, print(10_0000, 40))),
        vec![(10_0050, 40, 60, Liquidity::Maker)]
    );
}

/// Events the book refused or clamped reach the venue as the book took them: an add with an
/// id already live rests nowhere and crosses nobody; an oversize execution prints only what
/// the order had left.
#[test]
fn refused_adds_cross_nobody_and_oversize_executions_print_what_was_left() {
    let mut s = Sim::new(zero());
    s.cmd(10, submit(1, Side::Bid, 10_0000, 300, TimeInForce::Day));
    // #3 is live (ask 10.02): an add reusing its id as an ask at 9.99 is refused by the book.
    assert!(fills(&s.event(20, add(3, Side::Ask, 9_9900, 500))).is_empty());
    assert_eq!(s.m.order(OrderId(3)).map(|o| o.price), Some(Price(10_0200)));
    // #5 (bid 9.99 x 100) executed for 500: the book clamps to 100, and only 100 traded
    // through our price.
    assert_eq!(
        fills(&s.event(30, exec(5, 500))),
        vec![(10_0000, 100, 200, Liquidity::Maker)]
    );
}

/// An order sent before the feed lost messages and arriving after is refused (`BookStale`),
/// not matched against a book known to be wrong; a modify that would take is refused too,
/// one that only rests goes through, and a resting order still fills on a reported print.
#[test]
fn orders_arriving_after_a_feed_loss_do_not_take_from_the_stale_book() {
    let mut s = racing(); // our bid 10.00 x 100 rests (latency 100 each way)
                          // An IOC buy through the asks (10.01) sent at 300, arriving at 400.
    assert!(s
        .cmd(300, submit(2, Side::Bid, 10_0200, 50, TimeInForce::Ioc))
        .is_empty());
    // A modify of our resting bid up through the ask, sent at 301, arriving at 401.
    assert!(s.cmd(301, modify(1, 10_0100, 100)).is_empty());
    s.event(
        350,
        EventBody::FeedGap {
            first_sequence: 1_000,
            count: 10,
        },
    );
    let out = s.advance(510);
    assert!(fills(&out).is_empty(), "{out:?}");
    assert_eq!(
        updates(&out),
        vec![
            OrderUpdateKind::Rejected(RejectReason::BookStale),
            OrderUpdateKind::AmendRejected(RejectReason::BookStale),
        ]
    );
    // Resting, it still fills on a print through its price (answered 100 later).
    s.event(600, exec(5, 100));
    let out = s.advance(700);
    assert_eq!(fills(&out), vec![(10_0000, 100, 0, Liquidity::Maker)]);
}

/// A replace the book refused (its new id is already live) rests nowhere and crosses nobody,
/// as a refused add does: the paper exchange must not read the *other* live order's side and
/// offer the replace's price as an add that crossed our order.
#[test]
fn a_replace_the_book_refused_crosses_nobody() {
    let mut s = Sim::new(zero());
    s.cmd(10, submit(1, Side::Bid, 10_0000, 300, TimeInForce::Day));
    // Replace bid #5 (9.99) with new id #3, which is live (ask 10.02 x 500): the book removes
    // #5 and refuses the new order. Nothing was added anywhere.
    let out = s.event(
        20,
        EventBody::OrderReplaced {
            old_id: OrderId(5),
            new_id: OrderId(3),
            price: Price(9_9900),
            qty: Qty(500),
        },
    );
    assert_eq!(s.m.order(OrderId(3)).map(|o| o.price), Some(Price(10_0200)));
    assert_eq!(fills(&out), vec![], "a refused replace filled our bid");
    // Control: a replace the book takes (ask #3 moved down to 9.99 as #9) crosses our bid.
    let out = s.event(
        30,
        EventBody::OrderReplaced {
            old_id: OrderId(3),
            new_id: OrderId(9),
            price: Price(9_9900),
            qty: Qty(500),
        },
    );
    assert_eq!(fills(&out), vec![(10_0000, 300, 0, Liquidity::Maker)]);
}

/// A replace naming an order that rests in another instrument (`InstrumentMismatch`) is that
/// instrument's: its new order crosses nobody in the instrument the event names (as an
/// execution's print of another instrument fills nothing here).
#[test]
fn a_replace_of_an_order_resting_in_another_instrument_crosses_nobody_here() {
    let mut s = Sim::new(zero());
    let other = InstrumentId(2);
    s.m.apply(&ticklane_core::MarketEvent::new(
        Timestamp(2),
        other,
        add(50, Side::Ask, 20_0000, 100),
    ));
    s.cmd(10, submit(1, Side::Bid, 10_0000, 300, TimeInForce::Day));
    // Event says instrument X (1); order #50 rests in instrument 2.
    let out = s.event(
        20,
        EventBody::OrderReplaced {
            old_id: OrderId(50),
            new_id: OrderId(51),
            price: Price(9_9900),
            qty: Qty(100),
        },
    );
    assert_eq!(s.m.order(OrderId(51)).map(|o| o.instrument), Some(other));
    assert_eq!(
        fills(&out),
        vec![],
        "a replace in instrument 2 filled our bid in X"
    );
}

/// A marketable buy after `states` (event times 10, 11, ...) is refused
/// `InstrumentNotTrading` and takes nothing.
fn refused_after(states: &[(TradingState, &[u8; 4])]) {
    let mut s = Sim::new(zero());
    for (t, (state, reason)) in (10..).zip(states) {
        s.event(
            t,
            EventBody::TradingStatus {
                state: *state,
                reason: **reason,
            },
        );
    }
    let out = s.cmd(20, submit(1, Side::Bid, 10_0100, 100, TimeInForce::Ioc));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Rejected(
            RejectReason::InstrumentNotTrading
        )],
        "after {states:?}: fills {:?}",
        fills(&out)
    );
}

/// An operational halt (`h`) is Nasdaq's own and separate from a regulatory halt (`H`): lifting
/// it (`h` action `T`, `OperationalResume`) while the regulatory halt is still in effect does
/// not reopen the instrument, and a regulatory resume (`H` state `T`) while Nasdaq's
/// operational halt is in effect leaves Nasdaq halted. (The book kept one state, the last
/// seen: either lift reopened the instrument and the venue filled a marketable order.)
#[test]
fn lifting_one_halt_does_not_end_the_other() {
    refused_after(&[
        (TradingState::Halted, b"T1  "),
        (TradingState::OperationalHalt, b"Q   "),
        (TradingState::OperationalResume, b"Q   "),
    ]);
    refused_after(&[
        (TradingState::OperationalHalt, b"Q   "),
        (TradingState::Halted, b"T1  "),
        (TradingState::Trading, b"T3  "),
    ]);
}

/// Our bid 10.00 x 100 rests behind #4 (200 displayed at 10.00). An ask of 50 is added at
/// 10.00 (it locks the recorded book): had it traded at 10.00, price-time priority gives its
/// 50 shares to #4, ahead of us, and the feed shows #4 untouched: no fill. An ask of 250
/// there leaves 50 for us after #4's 200. (The crossing add filled us `min(size, open)`
/// whatever was ahead.)
#[test]
fn a_crossing_add_reaches_us_only_past_the_displayed_queue_ahead_of_us() {
    let mut s = Sim::new(zero());
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    assert_eq!(s.v.queue_ahead(id(1)), Some(200));
    let out = s.event(20, add(30, Side::Ask, 10_0000, 50));
    assert_eq!(
        fills(&out),
        vec![],
        "an ask locking our level filled us ahead of 200 displayed shares"
    );
    let out = s.event(30, add(31, Side::Ask, 10_0000, 250));
    assert_eq!(fills(&out), vec![(10_0000, 50, 50, Liquidity::Maker)]);
}

/// Every counter of `PaperStats` (only `fees` and `shares` were checked): two taker fills and
/// an expiry (an IOC walking two levels), an ack, a maker fill (a trade-through), a reject, a
/// cancel and a refused cancel.
#[test]
fn paper_stats_count_every_kind_of_report() {
    use ticklane_exec::PaperStats;
    let mut s = Sim::new(PaperExchange::with_models(
        ConstantLatency::default(),
        PerShareFees::new(-20, 30),
    ));
    // 300 @ 10.01 + 500 @ 10.02 taken, 100 expire.
    s.cmd(10, submit(1, Side::Bid, 10_0200, 900, TimeInForce::Ioc));
    // Rests at 10.00; filled 100 by a print at 9.99 (through its price).
    s.cmd(11, submit(2, Side::Bid, 10_0000, 100, TimeInForce::Day));
    s.event(20, exec(5, 100));
    // Quantity 0: rejected.
    s.cmd(21, submit(3, Side::Bid, 10_0000, 0, TimeInForce::Day));
    // Accepted then cancelled; a second cancel is refused.
    s.cmd(22, submit(4, Side::Bid, 9_9000, 10, TimeInForce::Day));
    s.cmd(23, cancel(4));
    s.cmd(24, cancel(4));
    assert_eq!(
        s.v.stats(),
        PaperStats {
            commands: 6,
            arrivals: 6,
            accepted: 3,
            rejected: 2,
            maker_fills: 1,
            taker_fills: 2,
            shares: 900,
            fees: 800 * 30 - 100 * 20,
            cancelled: 1,
            expired: 1,
        }
    );
}

/// A FOK whose size is exactly the displayed quantity within its limit fills: 300 at 10.01
/// against 300 displayed there ("checks that the displayed quantity within its limit covers
/// the whole order"). The FOK tests used 301 (expires) and 400 against 800 (fills), never
/// the boundary.
#[test]
fn fok_exactly_covered_by_the_displayed_quantity_fills() {
    let mut s = Sim::new(zero());
    let out = s.cmd(10, submit(1, Side::Bid, 10_0100, 300, TimeInForce::Fok));
    assert_eq!(fills(&out), vec![(10_0100, 300, 0, Liquidity::Taker)]);
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Accepted, OrderUpdateKind::Filled]
    );
}

/// A modify to a price that is not positive, or to quantity 0, is refused `InvalidOrder`
/// and the order stays as it was (module docs: rejected when the quantity is zero or the
/// price not positive). Only submits were tested.
#[test]
fn a_modify_to_a_non_positive_price_or_zero_quantity_is_refused() {
    let mut s = Sim::new(zero());
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    for (px, q) in [(0, 100), (-1, 100), (10_0000, 0)] {
        let out = s.cmd(11, modify(1, px, q));
        assert_eq!(
            updates(&out),
            vec![OrderUpdateKind::AmendRejected(RejectReason::InvalidOrder)],
            "modify to price {px}, qty {q}"
        );
    }
    let o = s.v.order(id(1)).expect("still working");
    assert_eq!((o.price, o.leaves), (Price(10_0000), Qty(100)));
}
