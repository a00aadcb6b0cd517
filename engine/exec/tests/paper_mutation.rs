//! Tests that kill surviving cargo-mutants mutants of engine/exec/src/paper.rs (the parts
//! not covered by stop 37: bookkeeping, `next_seq`, `in_flight` and the `Venue` impl).

#![allow(clippy::unwrap_used)]

mod support;

use support::{add, fills, id, market, submit, trade_print, updates, Sim, I};

use ticklane_core::{EventBody, InstrumentId, MatchId, OrderId, Price, Qty, Side, Timestamp};
use ticklane_exec::{ConstantLatency, PaperExchange, PerShareFees, Venue, VenueReport};
use ticklane_strategy::{ClientOrderId, Liquidity, OrderCommand, OrderUpdateKind, TimeInForce};

fn exec(id: u64, q: u32) -> EventBody {
    EventBody::OrderExecuted {
        order_id: OrderId(id),
        qty: Qty(q),
        match_id: MatchId(id),
    }
}

/// (order, qty) of the fills among `out`.
fn fill_ids(out: &[VenueReport]) -> Vec<(ClientOrderId, u32)> {
    out.iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some((f.id, f.qty.0)),
            _ => None,
        })
        .collect()
}

/// `in_flight` counts commands on their way and reports on their way back.
#[test]
fn in_flight_counts_commands_and_reports_on_their_way() {
    let mut s = Sim::new(PaperExchange::with_models(
        ConstantLatency::new(100, 100),
        PerShareFees::ZERO,
    ));
    assert_eq!(s.v.in_flight(), (0, 0));
    s.cmd(10, submit(1, Side::Bid, 9_9000, 100, TimeInForce::Day));
    s.cmd(20, submit(2, Side::Bid, 9_9000, 100, TimeInForce::Day));
    assert_eq!(s.v.in_flight(), (2, 0));
    // #1 arrived at 110, its ack is due at 210; #2 arrives at 120.
    assert!(s.advance(115).is_empty());
    assert_eq!(s.v.in_flight(), (1, 1));
    assert!(s.advance(150).is_empty());
    assert_eq!(s.v.in_flight(), (0, 2));
    assert_eq!(s.advance(300).len(), 2);
    assert_eq!(s.v.in_flight(), (0, 0));
}

/// An order that loses priority (a size increase) goes behind our other order at its price:
/// a print through both fills the other one first.
#[test]
fn an_order_that_lost_priority_fills_after_our_other_order_at_its_price() {
    let mut s = Sim::new(PaperExchange::new());
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day));
    s.cmd(11, submit(2, Side::Bid, 10_0000, 100, TimeInForce::Day));
    // #1 grows: back of the queue, behind #2.
    s.cmd(
        12,
        OrderCommand::Modify {
            id: id(1),
            price: Price(10_0000),
            qty: Qty(150),
            filled: Qty(0),
        },
    );
    // 100 sold through our price (#5, the 9.99 bid, executed): only one order fills, #2.
    let out = s.event(20, exec(5, 100));
    assert_eq!(fill_ids(&out), vec![(id(2), 100)]);
    assert_eq!(fills(&out), vec![(10_0000, 100, 0, Liquidity::Maker)]);
}

/// Entry latency 10 ns; response latency 100 ns for strategy 0, 1 ns for the others.
#[derive(Debug)]
struct PerStrategyResponse;

impl ticklane_exec::LatencyModel for PerStrategyResponse {
    fn entry_ns(&mut self, _now: Timestamp, _cmd: &OrderCommand) -> u64 {
        10
    }
    fn response_ns(&mut self, _at: Timestamp, strategy: u16) -> u64 {
        if strategy == 0 {
            100
        } else {
            1
        }
    }
}

/// A submit of strategy `s`'s order 1: a bid well below the book (it rests).
fn resting(s: u16) -> OrderCommand {
    OrderCommand::Submit {
        id: ClientOrderId::new(s, 1),
        request: ticklane_strategy::OrderRequest {
            instrument: I,
            side: Side::Bid,
            price: Price(9_0000),
            qty: Qty(10),
            tif: TimeInForce::Day,
        },
    }
}

/// `advance` processes an arrival due before a pending response first: its answer, due
/// earlier than that response (another session, a faster way back), is delivered first, so
/// one `advance` hands out reports in delivery-time order.
#[test]
fn an_arrival_before_a_pending_response_is_processed_first() {
    let mut s = Sim::new(PaperExchange::with_models(
        PerStrategyResponse,
        PerShareFees::ZERO,
    ));
    // Strategy 0's submit arrives at 10, acked at 110; strategy 1's arrives at 15, acked at 16.
    assert!(s.cmd(0, resting(0)).is_empty());
    assert!(s.cmd(5, resting(1)).is_empty());
    let out = s.advance(200);
    let got: Vec<(u16, u64)> = out
        .iter()
        .map(|r| match r {
            VenueReport::Update(u) => (u.id.strategy(), u.ts.0),
            VenueReport::Fill(f) => (f.id.strategy(), f.ts.0),
        })
        .collect();
    assert_eq!(got, vec![(1, 16), (0, 110)]);
}

/// `next_due`: nothing pending is `None`; otherwise the earliest of the next arrival and the
/// next delivery.
#[test]
fn next_due_is_the_earliest_arrival_or_delivery() {
    let mut s = Sim::new(PaperExchange::with_models(
        ConstantLatency::new(100, 50),
        PerShareFees::ZERO,
    ));
    assert_eq!(s.v.next_due(), None);
    s.cmd(10, submit(1, Side::Bid, 9_0000, 10, TimeInForce::Day));
    assert_eq!(s.v.next_due(), Some(Timestamp(110)));
    // #1 arrives at 110 (ack due 160); #2, sent at 40, arrives at 140.
    s.cmd(40, submit(2, Side::Bid, 9_0000, 10, TimeInForce::Day));
    assert!(s.advance(120).is_empty());
    assert_eq!(s.v.next_due(), Some(Timestamp(140)));
    assert!(s.advance(150).is_empty());
    assert_eq!(s.v.next_due(), Some(Timestamp(160)));
    assert_eq!(s.advance(170).len(), 1);
    assert_eq!(s.v.next_due(), Some(Timestamp(190)));
    assert_eq!(s.advance(190).len(), 1);
    assert_eq!(s.v.next_due(), None);
}

/// The kill switch returns what it cancelled itself (working orders and submits on their
/// way), not the cancels counted before it nor the answers on their way back.
#[test]
fn the_kill_switch_counts_only_what_it_cancels() {
    let mut s = Sim::new(PaperExchange::with_models(
        ConstantLatency::new(100, 100),
        PerShareFees::ZERO,
    ));
    for n in 1..=3 {
        s.cmd(10, submit(n, Side::Bid, 9_0000, 10, TimeInForce::Day));
    }
    s.advance(110); // all three rest; acks due at 210
    s.cmd(120, OrderCommand::Cancel { id: id(3) }); // arrives at 220
    s.advance(250); // #3 cancelled (stats.cancelled 1), its answer due at 320
    s.cmd(260, submit(4, Side::Bid, 9_0000, 10, TimeInForce::Day)); // due at 360
    assert_eq!(s.v.stats().cancelled, 1);
    let mut out = Vec::new();
    let n = s.v.engage_kill_switch(Timestamp(300), &s.m, &mut out);
    // #1 and #2 (working) and #4 (on its way): 3; #3's Cancelled (restamped) is not counted.
    assert_eq!(n, 3);
    assert_eq!(updates(&out).len(), 4);
    assert_eq!(s.v.stats().cancelled, 4);
}

/// Only an add the book took crosses our orders: an add refused because its id is live (here
/// added at the same time, with the same side and size) rests nowhere and fills nobody.
#[test]
fn a_refused_add_at_the_time_of_the_live_order_crosses_nobody() {
    let mut s = Sim::new(PaperExchange::new());
    // Inside the spread: nothing displayed ahead of it at 10.005.
    s.cmd(10, submit(1, Side::Bid, 10_0050, 300, TimeInForce::Day));
    assert!(s.event(20, add(9, Side::Ask, 10_0300, 100)).is_empty());
    // Same id, time, side and size, at a price through our bid: refused by the book.
    let out = s.event(20, add(9, Side::Ask, 9_9900, 100));
    assert_eq!(s.m.order(OrderId(9)).map(|o| o.price), Some(Price(10_0300)));
    assert_eq!(fills(&out), vec![], "a refused add filled our bid");
    // Control: a new id there crosses us.
    let out = s.event(21, add(10, Side::Ask, 9_9900, 100));
    assert_eq!(fills(&out), vec![(10_0050, 100, 200, Liquidity::Maker)]);
}

/// The same for a replace: its new id live (added at the same time, with the replace's
/// size), the book refuses the new order, which crosses nobody.
#[test]
fn a_refused_replace_at_the_time_of_the_live_order_crosses_nobody() {
    let mut s = Sim::new(PaperExchange::new());
    s.cmd(10, submit(1, Side::Bid, 10_0050, 300, TimeInForce::Day));
    assert!(s.event(20, add(9, Side::Ask, 10_0300, 500)).is_empty());
    let out = s.event(
        20,
        EventBody::OrderReplaced {
            old_id: OrderId(5),
            new_id: OrderId(9),
            price: Price(9_9900),
            qty: Qty(500),
        },
    );
    assert_eq!(s.m.order(OrderId(9)).map(|o| o.price), Some(Price(10_0300)));
    assert_eq!(fills(&out), vec![], "a refused replace filled our bid");
    // Control: a replace the book takes there (#3 as #11) crosses us.
    let out = s.event(
        21,
        EventBody::OrderReplaced {
            old_id: OrderId(3),
            new_id: OrderId(11),
            price: Price(9_9900),
            qty: Qty(500),
        },
    );
    assert_eq!(fills(&out), vec![(10_0050, 300, 0, Liquidity::Maker)]);
}

/// An instrument id past the dense per-instrument table (`watches` scans the working orders
/// there): an order in it is watched, fills on its market events, and is no longer watched
/// once gone.
#[test]
fn instruments_past_the_dense_table_are_watched_while_an_order_works() {
    for big in [
        InstrumentId(1 << 16),
        InstrumentId((1 << 16) + 1),
        InstrumentId(u32::MAX),
    ] {
        let mut m = market();
        let e =
            |ts: u64, body: EventBody| ticklane_core::MarketEvent::new(Timestamp(ts), big, body);
        m.apply(&e(
            2,
            ticklane_core::EventBody::TradingStatus {
                state: ticklane_core::TradingState::Trading,
                reason: *b"    ",
            },
        ));
        m.apply(&e(2, add(100, Side::Bid, 5_0000, 100)));
        m.apply(&e(2, add(101, Side::Ask, 5_0100, 100)));
        let mut v = PaperExchange::new();
        let mut out = Vec::new();
        assert!(!v.watches(big));
        v.on_command(
            Timestamp(10),
            &OrderCommand::Submit {
                id: id(1),
                request: ticklane_strategy::OrderRequest {
                    instrument: big,
                    side: Side::Bid,
                    price: Price(5_0050),
                    qty: Qty(50),
                    tif: TimeInForce::Day,
                },
            },
            &m,
            &mut out,
        );
        assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted], "{big:?}");
        assert!(v.watches(big), "{big:?}");
        assert!(!v.watches(I), "{big:?}");
        assert!(!v.watches(InstrumentId((1 << 16) - 1)), "{big:?}");
        // An ask added at 5.00 crosses our bid (alone at 5.005: nothing displayed ahead).
        let x = e(20, add(102, Side::Ask, 5_0000, 30));
        let t = trade_print(&m, &x);
        m.apply(&x);
        out.clear();
        v.on_market(&x, t.as_ref(), &m, &mut out);
        assert_eq!(
            fills(&out),
            vec![(5_0050, 30, 20, Liquidity::Maker)],
            "{big:?}"
        );
        out.clear();
        v.cancel_all(Timestamp(30), None, &mut out);
        assert!(!v.watches(big), "{big:?}");
    }
}
