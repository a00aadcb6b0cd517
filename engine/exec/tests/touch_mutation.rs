#![allow(clippy::unwrap_used)]
//! Tests that kill surviving cargo-mutants mutants of `TouchVenue` (engine/exec/src/venue.rs,
//! review s39 "muttouch"). Each names the mutant it kills.

mod support;

use support::{ev, fills, id, market, submit, updates, I};
use ticklane_core::{EventBody, MarketEvent, OrderId, Price, Qty, Side, Timestamp, TradingState};
use ticklane_exec::{TouchVenue, Venue, VenueReport};
use ticklane_strategy::{
    Liquidity, OrderCommand, OrderUpdateKind, RejectReason, TimeInForce, TradePrint,
};

/// A displayed print (not a hidden `Trade`) of `qty` at `px` against resting `side`.
fn print(side: Side, px: i64, qty: u32) -> TradePrint {
    TradePrint {
        ts: Timestamp(9),
        instrument: I,
        price: Price(px),
        qty: Qty(qty),
        resting_side: Some(side),
    }
}

/// A market event of `I` that is not a hidden trade (what a displayed execution looks like to
/// the venue: only its body's kind matters).
fn shown() -> MarketEvent {
    ev(
        9,
        EventBody::OrderDeleted {
            order_id: OrderId(99),
        },
    )
}

/// A hidden (non-displayed) trade at `px`.
fn hidden(px: i64, qty: u32) -> MarketEvent {
    ev(
        9,
        EventBody::Trade {
            order_id: OrderId(0),
            side: Side::Bid,
            price: Price(px),
            qty: Qty(qty),
            match_id: ticklane_core::MatchId(7),
        },
    )
}

/// (order number, qty, leaves) of the fills among `out`.
fn fills_by_order(out: &[VenueReport]) -> Vec<(u64, u32, u32)> {
    out.iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some((f.id.0 & 0xFFFF_FFFF, f.qty.0, f.leaves.0)),
            _ => None,
        })
        .collect()
}

fn modify(n: u64, price: i64, qty: u32, filled: u32) -> OrderCommand {
    OrderCommand::Modify {
        id: id(n),
        price: Price(price),
        qty: Qty(qty),
        filled: Qty(filled),
    }
}

/// A day order `n` on `side` at `px` for `qty`, sent to `v` (its answers dropped).
fn rest(v: &mut TouchVenue, m: &ticklane_book::Market, n: u64, side: Side, px: i64, qty: u32) {
    send(v, m, &submit(n, side, px, qty, TimeInForce::Day));
}

/// A hidden print (`print`) of `qty` at `px` against resting orders of `side`, shown to `v`;
/// its reports are appended to `out`.
fn trade(
    v: &mut TouchVenue,
    m: &ticklane_book::Market,
    side: Side,
    px: i64,
    qty: u32,
    out: &mut Vec<VenueReport>,
) {
    v.on_market(&shown(), Some(&print(side, px, qty)), m, out);
}

fn send(v: &mut TouchVenue, m: &ticklane_book::Market, cmd: &OrderCommand) -> Vec<VenueReport> {
    let mut out = Vec::new();
    v.on_command(Timestamp(5), cmd, m, &mut out);
    out
}

/// Kills `replace == with != in <impl Venue for TouchVenue>::on_command` (the cancel's lookup,
/// line 472): a cancel removes the order it names, not another one.
#[test]
fn a_cancel_removes_the_order_it_names() {
    let m = market();
    let mut v = TouchVenue::new();
    rest(&mut v, &m, 0, Side::Bid, 9_9900, 100);
    rest(&mut v, &m, 1, Side::Bid, 9_9800, 100);
    let out = send(&mut v, &m, &OrderCommand::Cancel { id: id(1) });
    let cancelled: Vec<_> = out
        .iter()
        .filter_map(|r| match r {
            VenueReport::Update(u) => Some((u.id, u.kind)),
            VenueReport::Fill(_) => None,
        })
        .collect();
    assert_eq!(cancelled, vec![(id(1), OrderUpdateKind::Cancelled)]);
    // Order 0 still works: a print through 9.99 fills it.
    let mut out = Vec::new();
    trade(&mut v, &m, Side::Bid, 9_9700, 100, &mut out);
    assert_eq!(fills_by_order(&out), vec![(0, 100, 0)]);
}

/// Kills `replace || with && in <impl Venue for TouchVenue>::on_command` (line 508): a modify
/// to zero size, or to a price that is not positive, is refused (`InvalidOrder`) and leaves
/// the order as it was; neither alone is let through.
#[test]
fn a_modify_to_zero_size_or_a_non_positive_price_is_refused() {
    let m = market();
    let mut v = TouchVenue::new();
    rest(&mut v, &m, 0, Side::Bid, 9_9900, 100);
    for (price, qty) in [(9_9800, 0), (0, 100), (-1, 100)] {
        let out = send(&mut v, &m, &modify(0, price, qty, 0));
        assert_eq!(
            updates(&out),
            vec![OrderUpdateKind::AmendRejected(RejectReason::InvalidOrder)],
            "modify to {qty} @ {price}"
        );
        assert_eq!(v.working_orders(), 1);
    }
    // Unchanged: 100 at 9.99, filled by a print through it.
    let mut out = Vec::new();
    trade(&mut v, &m, Side::Bid, 9_9800, 500, &mut out);
    assert_eq!(fills(&out), vec![(9_9900, 100, 0, Liquidity::Maker)]);
}

/// During a halt only a new price that would take is refused; a modify to a price that does
/// not cross goes through (no other test modifies during a halt without crossing; the
/// mutants of line 510 are caught by other tests already).
#[test]
fn a_modify_during_a_halt_to_a_price_that_does_not_cross_goes_through() {
    let mut m = market();
    let mut v = TouchVenue::new();
    rest(&mut v, &m, 0, Side::Bid, 9_9900, 100);
    m.apply(&ev(
        6,
        EventBody::TradingStatus {
            state: TradingState::Halted,
            reason: *b"LUDP",
        },
    ));
    let out = send(&mut v, &m, &modify(0, 9_9800, 50, 0));
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Modified {
            price: Price(9_9800),
            qty: Qty(50)
        }]
    );
    assert!(fills(&out).is_empty());
    assert_eq!(v.working_orders(), 1);
}

/// Kills `delete - in <impl Venue for TouchVenue>::on_market` (line 598): a print shares its
/// quantity best price first, whatever order our orders were sent in. A bid at 9.99 sent
/// first, one at 10.00 sent second: a print of 100 through both goes to the 10.00 bid.
#[test]
fn a_print_through_two_bids_fills_the_higher_one_first() {
    let m = market();
    let mut v = TouchVenue::new();
    rest(&mut v, &m, 0, Side::Bid, 9_9900, 100);
    rest(&mut v, &m, 1, Side::Bid, 10_0000, 100);
    let mut out = Vec::new();
    trade(&mut v, &m, Side::Bid, 9_9800, 100, &mut out);
    assert_eq!(fills_by_order(&out), vec![(1, 100, 0)]);
}

/// Asks: a print through two asks fills the lower one first (sent second), at its own price;
/// a print below an ask, or at it with displayed shares ahead, does not fill it. Kills the
/// ask-side mutants of `through_or_at` (line 582) that no bid scenario reaches.
#[test]
fn ask_side_prints_fill_the_lowest_ask_first_at_its_price() {
    let m = market();
    let mut v = TouchVenue::new();
    // A: ask 10.03 (alone at its price); B: ask 10.02 behind 500 displayed.
    rest(&mut v, &m, 0, Side::Ask, 10_0300, 100);
    rest(&mut v, &m, 1, Side::Ask, 10_0200, 100);
    let mut out = Vec::new();
    // Below B (10.01): nothing.
    trade(&mut v, &m, Side::Ask, 10_0100, 1_000, &mut out);
    assert!(out.is_empty(), "{out:?}");
    // At B, displayed, 400: all of it ahead of B.
    trade(&mut v, &m, Side::Ask, 10_0200, 400, &mut out);
    assert!(out.is_empty(), "{out:?}");
    // At B, 150: 100 ahead left, then 50 for B; A (above) is not reached.
    trade(&mut v, &m, Side::Ask, 10_0200, 150, &mut out);
    assert_eq!(fills_by_order(&out), vec![(1, 50, 50)]);
    out.clear();
    // Through both (10.04), 80: B first (lower), at its own price, then A.
    trade(&mut v, &m, Side::Ask, 10_0400, 80, &mut out);
    assert_eq!(fills_by_order(&out), vec![(1, 50, 0), (0, 30, 70)]);
    assert_eq!(
        fills(&out),
        vec![
            (10_0200, 50, 0, Liquidity::Maker),
            (10_0300, 30, 70, Liquidity::Maker)
        ]
    );
}

/// Kills `replace && with || in <impl Venue for TouchVenue>::on_market` (line 591): a print
/// fills only orders of the instrument it names, even when it would reach an order of
/// another instrument.
#[test]
fn a_print_fills_no_order_of_another_instrument() {
    let mut m = market();
    let j = ticklane_core::InstrumentId(2);
    for body in [
        EventBody::InstrumentDirectory(ticklane_core::InstrumentInfo::common_stock(
            ticklane_core::Symbol::new("Y").unwrap(),
        )),
        EventBody::TradingStatus {
            state: TradingState::Trading,
            reason: *b"    ",
        },
        support::add(50, Side::Bid, 5_0000, 500),
    ] {
        m.apply(&MarketEvent::new(Timestamp(1), j, body));
    }
    let mut v = TouchVenue::new();
    let mut on_j = submit(1, Side::Bid, 5_0000, 100, TimeInForce::Day);
    if let OrderCommand::Submit { request, .. } = &mut on_j {
        request.instrument = j;
    }
    assert_eq!(
        updates(&send(&mut v, &m, &on_j)),
        vec![OrderUpdateKind::Accepted]
    );
    // A print of I at 4.99 would be through J's bid at 5.00.
    let mut out = Vec::new();
    trade(&mut v, &m, Side::Bid, 4_9900, 100, &mut out);
    assert!(out.is_empty(), "a print of I filled an order of J: {out:?}");
    assert_eq!(v.working_orders(), 1);
}

/// Kills `replace < with <= in <impl Venue for TouchVenue>::on_market` (line 633): an order a
/// print fills completely does not hold back our later order at its price. A and B both join
/// 10.00 behind the same 200 displayed; 500 execute there: 200 displayed, A's 100, B's 100.
#[test]
fn a_print_that_fills_an_earlier_order_completely_goes_on_to_a_later_one_at_its_price() {
    let m = market();
    let mut v = TouchVenue::new();
    rest(&mut v, &m, 0, Side::Bid, 10_0000, 100);
    rest(&mut v, &m, 1, Side::Bid, 10_0000, 100);
    let mut out = Vec::new();
    trade(&mut v, &m, Side::Bid, 10_0000, 500, &mut out);
    assert_eq!(fills_by_order(&out), vec![(0, 100, 0), (1, 100, 0)]);
    assert_eq!(v.working_orders(), 0);
}

/// Kills `replace == with != in`/`replace > with >= in <impl Venue for TouchVenue>::on_market`
/// (line 617): a hidden print at our price fills an order with nothing displayed ahead of it.
#[test]
fn a_hidden_print_at_our_price_fills_an_order_with_nothing_ahead() {
    let m = market();
    let mut v = TouchVenue::new();
    // A new best bid at 10.005: nothing displayed there.
    rest(&mut v, &m, 0, Side::Bid, 10_0050, 100);
    let mut out = Vec::new();
    v.on_market(
        &hidden(10_0050, 60),
        Some(&print(Side::Bid, 10_0050, 60)),
        &m,
        &mut out,
    );
    assert_eq!(fills_by_order(&out), vec![(0, 60, 40)]);
}

/// `RiskGate::start_day` (risk.rs): "the P&L then, marked on the day before's last books, is
/// the new day's zero". A short of 10,000 sold at 0.5001; day 1 closes one unit wide, 0.5000 /
/// 0.5001 (exact mid 0.50005): up $0.50, the day's zero. Day 2's start of messages empties the
/// books, where the short is marked at the close `start_day` left as its last price: rounded
/// up ("against the position") to 0.5001, that shows $0.50 lost on a day on which nothing has
/// traded, and trips a $0.40 daily loss limit at day 2's first mark (any limit under $0.50).
/// The same for a long bought at 0.5000 (the close rounded down to 0.5000). Found reading
/// `start_day` for its mutants; fails on the code before the fix on branch `fix-muttouch`.
#[test]
fn the_empty_books_of_a_new_day_show_no_loss_against_an_odd_close() {
    use ticklane_core::{InstrumentInfo, Symbol, SystemEventCode};
    use ticklane_exec::{RiskGate, RiskLimits};
    use ticklane_strategy::RiskRule;
    use ticklane_strategy::{ClientOrderId, Fill};
    for (side, px) in [(Side::Ask, 5001), (Side::Bid, 5000)] {
        let mut m = ticklane_book::Market::new();
        m.apply(&ev(
            1,
            EventBody::InstrumentDirectory(InstrumentInfo::common_stock(Symbol::new("X").unwrap())),
        ));
        m.apply(&ev(
            1,
            EventBody::TradingStatus {
                state: TradingState::Trading,
                reason: *b"    ",
            },
        ));
        m.apply(&ev(1, support::add(1, Side::Bid, 5000, 100_000)));
        m.apply(&ev(1, support::add(2, Side::Ask, 5001, 100_000)));
        let mut g =
            RiskGate::new(RiskLimits::from_toml_str("daily_loss_limit = \"0.40\"").unwrap())
                .unwrap();
        g.on_fill(&Fill {
            ts: Timestamp(2),
            id: ClientOrderId::new(0, 1),
            instrument: I,
            side,
            price: Price(px),
            qty: Qty(10_000),
            leaves: Qty(0),
            liquidity: Liquidity::Taker,
            fee: 0,
        });
        assert!(!g.evaluate(&m), "{side:?}: up $0.50 on day 1");
        let day_start = g.pnl(&m);
        g.start_day(&m);
        let r = m.apply(&MarketEvent::new(
            Timestamp(3),
            ticklane_core::InstrumentId::NONE,
            EventBody::SystemEvent {
                code: SystemEventCode::StartOfMessages,
            },
        ));
        assert!(r.new_day);
        let on_the_day = g.pnl(&m) - day_start;
        let tripped = g.evaluate(&m);
        assert_eq!(
            (tripped, g.tripped()),
            (false, None::<RiskRule>),
            "{side:?}: tripped on day 2 before anything traded (P&L {on_the_day} price units \
             against day 1's exact close)"
        );
    }
}

/// Kills `replace == with != in <impl Venue for TouchVenue>::cancel_all` (line 673): a
/// strategy's cancel-all cancels that strategy's orders, not the others'.
#[test]
fn a_strategys_cancel_all_cancels_its_own_orders_only() {
    use ticklane_strategy::{ClientOrderId, StrategyId};
    let m = market();
    let mut v = TouchVenue::new();
    let order = |strategy: u16| OrderCommand::Submit {
        id: ClientOrderId::new(strategy, 0),
        request: ticklane_strategy::OrderRequest {
            instrument: I,
            side: Side::Bid,
            price: Price(9_0000),
            qty: Qty(100),
            tif: TimeInForce::Day,
        },
    };
    send(&mut v, &m, &order(0));
    send(&mut v, &m, &order(1));
    send(&mut v, &m, &order(2));
    let mut out = Vec::new();
    v.cancel_all(Timestamp(9), Some(StrategyId(1)), &mut out);
    let cancelled: Vec<_> = out
        .iter()
        .filter_map(|r| match r {
            VenueReport::Update(u) => Some((u.id, u.kind)),
            VenueReport::Fill(_) => None,
        })
        .collect();
    assert_eq!(
        cancelled,
        vec![(ClientOrderId::new(1, 0), OrderUpdateKind::Cancelled)]
    );
    assert_eq!(v.working_orders(), 2);
}
