#![allow(clippy::unwrap_used)]
//! Tests that kill mutants of `risk.rs` the other suites missed: `RiskedVenue`'s delegation to
//! its venue, the kill switch's count, and `RiskGate::start_day`/`swap_instruments`.

mod support;

use support::{market, submit, updates, I};
use ticklane_core::{InstrumentId, Side, Timestamp};
use ticklane_exec::{
    ConstantLatency, PaperExchange, PerShareFees, RiskGate, RiskLimits, RiskedVenue, Venue,
};
use ticklane_strategy::{OrderUpdateKind, RejectReason, RiskRule, StrategyId, TimeInForce};

fn gate(toml: &str) -> RiskGate {
    RiskGate::new(RiskLimits::from_toml_str(toml).unwrap()).unwrap()
}

fn latency_venue(toml: &str) -> RiskedVenue<PaperExchange> {
    let venue = PaperExchange::with_models(ConstantLatency::new(100, 100), PerShareFees::ZERO);
    RiskedVenue::new(venue, gate(toml))
}

/// `has_pending`, `next_due`, `working_orders` and `watches` are the inner venue's.
#[test]
fn the_risked_venue_reports_what_its_venue_has_in_flight_and_working() {
    let m = market();
    let mut v = latency_venue("");
    assert!(!v.has_pending());
    assert_eq!(v.next_due(), None);
    let mut out = Vec::new();
    v.on_command(
        Timestamp(10),
        &submit(1, Side::Bid, 9_9000, 10, TimeInForce::Day),
        &m,
        &mut out,
    );
    assert!(out.is_empty());
    assert!(v.has_pending());
    assert_eq!(v.next_due(), Some(Timestamp(110)));
    assert_eq!(v.working_orders(), 0);
    assert!(!v.watches(I));
    // The order reaches the exchange at 110, its acknowledgement the strategy at 210.
    v.advance(Timestamp(110), &m, &mut out);
    assert_eq!(v.working_orders(), 1);
    assert!(v.watches(I));
    assert!(!v.watches(InstrumentId(I.0 + 1)));
    assert_eq!(v.next_due(), Some(Timestamp(210)));
    v.advance(Timestamp(210), &m, &mut out);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
    assert!(!v.has_pending());
    assert_eq!(v.venue().working_orders(), 1);
    assert_eq!(v.venue_mut().working_orders(), 1);
}

/// The kill switch returns how many orders it cancelled, through the type's own method and
/// through `Venue`'s; a strategy that has sent nothing yet is refused too.
#[test]
fn the_kill_switch_returns_the_orders_it_cancelled() {
    for through_trait in [false, true] {
        let m = market();
        let mut v = RiskedVenue::new(PaperExchange::new(), gate(""));
        let mut out = Vec::new();
        for n in 1..=3 {
            v.on_command(
                Timestamp(10),
                &submit(n, Side::Bid, 9_9000, 10, TimeInForce::Day),
                &m,
                &mut out,
            );
        }
        assert_eq!(v.working_orders(), 3);
        out.clear();
        let n = if through_trait {
            Venue::engage_kill_switch(&mut v, Timestamp(20), &m, &mut out)
        } else {
            v.engage_kill_switch(Timestamp(20), &m, &mut out)
        };
        assert_eq!(n, 3);
        assert_eq!(v.gate(StrategyId(0)).open_orders(), 0);
        assert_eq!(v.gate(StrategyId(0)).tripped(), Some(RiskRule::KillSwitch));
        assert_eq!(v.gate(StrategyId(5)).tripped(), Some(RiskRule::KillSwitch));
        let mut out = Vec::new();
        let cmd = ticklane_strategy::OrderCommand::Submit {
            id: ticklane_strategy::ClientOrderId::new(5, 1),
            request: ticklane_strategy::OrderRequest {
                instrument: I,
                side: Side::Bid,
                price: ticklane_core::Price(9_9000),
                qty: ticklane_core::Qty(1),
                tif: TimeInForce::Day,
            },
        };
        v.on_command(Timestamp(30), &cmd, &m, &mut out);
        assert_eq!(
            updates(&out),
            vec![OrderUpdateKind::Rejected(RejectReason::from(
                RiskRule::KillSwitch
            ))]
        );
    }
}

/// `Venue::swap_instruments` moves the strategy's gate's position (and the venue's, which
/// for the paper exchange holds nothing by instrument); a strategy with no gate yet is left
/// alone.
#[test]
fn a_swap_of_instruments_through_the_risked_venue_moves_that_strategys_position() {
    let m = market();
    let other = InstrumentId(I.0 + 1);
    let mut v = RiskedVenue::new(PaperExchange::new(), gate("max_position = 100"));
    let mut out = Vec::new();
    // Buys 100 at the ask (10.01): filled at once.
    v.on_command(
        Timestamp(10),
        &submit(1, Side::Bid, 10_0100, 100, TimeInForce::Ioc),
        &m,
        &mut out,
    );
    assert_eq!(v.gate(StrategyId(0)).position(I).net, 100);
    out.clear();
    v.on_command(
        Timestamp(11),
        &submit(2, Side::Bid, 9_9000, 1, TimeInForce::Day),
        &m,
        &mut out,
    );
    assert_eq!(
        updates(&out),
        vec![OrderUpdateKind::Rejected(RejectReason::from(
            RiskRule::MaxPosition
        ))]
    );
    v.swap_instruments(StrategyId(0), I, other);
    v.swap_instruments(StrategyId(7), I, other);
    assert_eq!(v.gate(StrategyId(0)).position(I).net, 0);
    assert_eq!(v.gate(StrategyId(0)).position(other).net, 100);
    out.clear();
    v.on_command(
        Timestamp(12),
        &submit(3, Side::Bid, 9_9000, 1, TimeInForce::Day),
        &m,
        &mut out,
    );
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
}

/// `Venue::cancel_all` cancels at the venue and the gate hears of it: the strategy's orders
/// no longer count against `max_position`.
#[test]
fn cancel_all_through_the_risked_venue_frees_the_gates_open_quantity() {
    let m = market();
    let mut v = RiskedVenue::new(PaperExchange::new(), gate("max_position = 100"));
    let mut out = Vec::new();
    v.on_command(
        Timestamp(10),
        &submit(1, Side::Bid, 9_9000, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    assert_eq!(v.gate(StrategyId(0)).open_orders(), 1);
    out.clear();
    v.cancel_all(Timestamp(11), Some(StrategyId(0)), &mut out);
    assert_eq!(updates(&out), vec![OrderUpdateKind::Cancelled]);
    assert_eq!(v.working_orders(), 0);
    assert_eq!(v.gate(StrategyId(0)).open_orders(), 0);
    out.clear();
    v.on_command(
        Timestamp(12),
        &submit(2, Side::Bid, 9_9000, 100, TimeInForce::Day),
        &m,
        &mut out,
    );
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
}

mod start_day {
    use super::gate;
    use super::support::{add, ev, I};
    use ticklane_book::Market;
    use ticklane_core::{Price, Qty, Side, Timestamp};
    use ticklane_strategy::{ClientOrderId, Fill, Liquidity};

    /// Bid 0.5000, ask 0.5001: the exact mid is a half unit.
    fn one_unit_wide() -> Market {
        let mut m = Market::new();
        m.apply(&ev(1, add(1, Side::Bid, 5000, 100_000)));
        m.apply(&ev(1, add(2, Side::Ask, 5001, 100_000)));
        m
    }

    fn fill(side: Side, px: i64, qty: u32, fee: i64) -> Fill {
        Fill {
            ts: Timestamp(2),
            id: ClientOrderId::new(0, 1),
            instrument: I,
            side,
            price: Price(px),
            qty: Qty(qty),
            leaves: Qty(0),
            liquidity: Liquidity::Taker,
            fee,
        }
    }

    /// A short held overnight takes the day before's close rounded *up* (against it) where
    /// the close is a half unit: the new day then starts from the less favourable mark, and
    /// the same quotes on day 2 show the short a half unit up, not down. Rounded down (in the
    /// short's favour), 10,000 short showed $0.50 lost on a day on which nothing moved, which
    /// trips a $0.40 limit.
    #[test]
    fn a_short_held_overnight_starts_the_day_from_the_close_rounded_against_it() {
        let m = one_unit_wide();
        let mut g = gate("daily_loss_limit = \"0.40\"");
        // Short 10,000 sold at the ask: up $0.50 at the exact mid on day 1.
        g.on_fill(&fill(Side::Ask, 5001, 10_000, 0));
        assert!(!g.evaluate(&m));
        g.start_day(&m);
        assert_eq!(g.position(I).last_price, Some(Price(5001)));
        // Day 2 quotes where day 1 closed.
        assert!(!g.evaluate(&m), "tripped on a day on which nothing moved");
        assert_eq!(g.tripped(), None);
    }

    /// Fees paid before the day starts are in the day's zero: a new day on which nothing
    /// trades shows no loss, whatever the fees of the days before.
    #[test]
    fn fees_of_the_day_before_are_not_the_new_days_loss() {
        let m = one_unit_wide();
        // A $0.90 limit; $1.00 of fees paid on day 1 (fees are in price units: 10,000 = $1).
        let mut g = gate("daily_loss_limit = \"0.90\"");
        g.on_fill(&fill(Side::Bid, 5000, 10_000, 10_000));
        assert!(
            !g.evaluate(&m),
            "day 1: $0.50 up at the exact mid, $1.00 of fees: $0.50 down"
        );
        g.start_day(&m);
        assert!(
            !g.evaluate(&m),
            "tripped on day 2 with nothing traded (pnl {} units in all)",
            g.pnl(&m)
        );
        assert_eq!(g.tripped(), None);
        // And day 2's own loss still counts: 1.5 units under day 1's close on 10,000 is
        // $1.50 (over the $0.90 limit).
        let mut lower = Market::new();
        lower.apply(&ev(1, add(1, Side::Bid, 4998, 100_000)));
        lower.apply(&ev(1, add(2, Side::Ask, 4999, 100_000)));
        assert!(g.evaluate(&lower));
    }
}

/// The gate hands back the limits it was built with, and a dollar amount of the wrong type
/// is refused with what was expected.
#[test]
fn the_gate_keeps_its_limits_and_a_wrong_amount_says_what_was_expected() {
    let g = gate("max_order_qty = 500");
    assert_eq!(
        g.limits(),
        &RiskLimits::from_toml_str("max_order_qty = 500").unwrap()
    );
    assert_ne!(g.limits(), &RiskLimits::default());
    let e = RiskLimits::from_toml_str("max_gross_exposure = true").unwrap_err();
    assert!(e.to_string().contains("an amount in dollars"), "{e}");
}
