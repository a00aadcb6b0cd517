//! Pre-trade risk: every rule refuses with its own reason; the daily loss limit and the
//! manual kill switch cancel every open order; limits parse from TOML.

mod support;

use support::{ev, market, submit, updates, I};
use ticklane_book::Market;
use ticklane_core::{EventBody, OrderId, Price, Qty, Side, Timestamp};
use ticklane_exec::{PaperExchange, RiskConfigError, RiskGate, RiskLimits, RiskedVenue, Venue};
use ticklane_strategy::{
    ClientOrderId, OrderCommand, OrderRequest, OrderUpdateKind, RejectReason, RiskRule, StrategyId,
    TimeInForce,
};

struct Sim {
    m: Market,
    v: RiskedVenue<PaperExchange>,
    n: u64,
}

impl Sim {
    fn new(toml: &str) -> Self {
        Self::with_venue(toml, PaperExchange::new())
    }

    /// The same with 100 ns each way between the gate and the exchange: commands reach it
    /// 100 ns after they are sent, answers come back 100 ns later.
    fn with_latency(toml: &str) -> Self {
        use ticklane_exec::{ConstantLatency, PerShareFees};
        let venue = PaperExchange::with_models(ConstantLatency::new(100, 100), PerShareFees::ZERO);
        Self::with_venue(toml, venue)
    }

    fn with_venue(toml: &str, venue: PaperExchange) -> Self {
        let limits = RiskLimits::from_toml_str(toml).unwrap_or_else(|e| panic!("{e}"));
        let gate = RiskGate::new(limits).unwrap_or_else(|e| panic!("{e}"));
        Self {
            m: market(),
            v: RiskedVenue::new(venue, gate),
            n: 0,
        }
    }

    fn send(&mut self, ts: u64, cmd: OrderCommand) -> Vec<OrderUpdateKind> {
        let mut out = Vec::new();
        self.v.on_command(Timestamp(ts), &cmd, &self.m, &mut out);
        updates(&out)
    }

    /// The strategies whose own limit tripped since the last call (what the lane reports).
    fn trips(&mut self) -> Vec<(StrategyId, RiskRule)> {
        let mut out = Vec::new();
        self.v.take_trips(&mut out);
        out
    }

    /// The lane's periodic mark to market at `ts`; returns the updates it caused.
    fn mark(&mut self, ts: u64) -> Vec<OrderUpdateKind> {
        let mut out = Vec::new();
        self.v.mark(Timestamp(ts), &self.m, &mut out);
        updates(&out)
    }

    /// Submits order `n` (returned) and returns its updates.
    fn order(
        &mut self,
        ts: u64,
        side: Side,
        px: i64,
        qty: u32,
        tif: TimeInForce,
    ) -> (u64, Vec<OrderUpdateKind>) {
        self.n += 1;
        let n = self.n;
        (n, self.send(ts, submit(n, side, px, qty, tif)))
    }

    fn event(&mut self, ts: u64, body: EventBody) -> Vec<OrderUpdateKind> {
        let e = ev(ts, body);
        self.m.apply(&e);
        let mut out = Vec::new();
        self.v.on_market(&e, None, &self.m, &mut out);
        updates(&out)
    }
}

fn rejected(rule: RiskRule) -> Vec<OrderUpdateKind> {
    vec![OrderUpdateKind::Rejected(RejectReason::from(rule))]
}

/// A refused modify or cancel: the order stays as it was.
fn amend_rejected(rule: RiskRule) -> Vec<OrderUpdateKind> {
    vec![OrderUpdateKind::AmendRejected(RejectReason::from(rule))]
}

const OK: [OrderUpdateKind; 1] = [OrderUpdateKind::Accepted];

#[test]
fn max_order_qty() {
    let mut s = Sim::new("max_order_qty = 500");
    let (_, u) = s.order(10, Side::Bid, 9_9000, 501, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::MaxOrderQty));
    let (n, u) = s.order(10, Side::Bid, 9_9000, 500, TimeInForce::Day);
    assert_eq!(u, OK);
    // A modify above the limit too.
    let u = s.send(
        11,
        OrderCommand::Modify {
            id: ClientOrderId::new(0, n),
            price: Price(9_9000),
            qty: Qty(600),
            filled: Qty(0),
        },
    );
    assert_eq!(u, amend_rejected(RiskRule::MaxOrderQty));
    assert_eq!(
        s.v.gate(StrategyId(0)).rejects()[0],
        (RiskRule::MaxOrderQty, 2)
    );
    // The refusal names the order's instrument (a strategy finds its order by it).
    let mut out = Vec::new();
    let modify = OrderCommand::Modify {
        id: ClientOrderId::new(0, n),
        price: Price(9_9000),
        qty: Qty(700),
        filled: Qty(0),
    };
    s.v.on_command(Timestamp(12), &modify, &s.m, &mut out);
    match out.as_slice() {
        [ticklane_exec::VenueReport::Update(u)] => assert_eq!(u.instrument, I),
        other => panic!("{other:?}"),
    }
}

#[test]
fn max_order_notional_in_dollars() {
    let mut s = Sim::new("max_order_notional = 5000");
    let (_, u) = s.order(10, Side::Bid, 10_0000, 501, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::MaxOrderNotional));
    // Exactly $5000 is allowed.
    let (_, u) = s.order(10, Side::Bid, 10_0000, 500, TimeInForce::Day);
    assert_eq!(u, OK);
    // A sell "at market" (limit $0.0001) trades at the bid (10.00): 501 shares are $5010,
    // not $0.05.
    let (_, u) = s.order(10, Side::Ask, 1, 501, TimeInForce::Ioc);
    assert_eq!(u, rejected(RiskRule::MaxOrderNotional));
    let (_, u) = s.order(10, Side::Ask, 1, 500, TimeInForce::Ioc);
    assert_ne!(u, rejected(RiskRule::MaxOrderNotional));
    // A sell above the bid is worth its limit.
    let (_, u) = s.order(10, Side::Ask, 10_0200, 499, TimeInForce::Day);
    assert_eq!(u, OK);
    let (_, u) = s.order(10, Side::Ask, 10_0200, 500, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::MaxOrderNotional));
}

#[test]
fn price_band_around_the_best_bid_and_offer() {
    let mut s = Sim::new("price_band_bps = 50");
    // Buy: at most 10.01 * 1.005 = 10.06005.
    let (_, u) = s.order(10, Side::Bid, 10_0601, 10, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::PriceBand));
    let (_, u) = s.order(10, Side::Bid, 10_0600, 10, TimeInForce::Ioc);
    assert_eq!(u[0], OrderUpdateKind::Accepted);
    // Sell: at least 10.00 * 0.995 = 9.95.
    let (_, u) = s.order(10, Side::Ask, 9_9499, 10, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::PriceBand));
    let (_, u) = s.order(10, Side::Ask, 9_9500, 10, TimeInForce::Ioc);
    assert_eq!(u[0], OrderUpdateKind::Accepted);
    // A "market order" priced through everything is outside any band.
    let (_, u) = s.order(10, Side::Bid, i64::MAX, 10, TimeInForce::Ioc);
    assert_eq!(u, rejected(RiskRule::PriceBand));
    // No reference price at all: refused.
    for id in 1..=5 {
        s.event(
            20,
            EventBody::OrderDeleted {
                order_id: OrderId(id),
            },
        );
    }
    let (_, u) = s.order(30, Side::Bid, 10_0000, 10, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::PriceBand));
}

#[test]
fn order_rate_in_a_sliding_second_of_event_time() {
    let mut s = Sim::new("max_orders_per_sec = 3");
    for t in [1_000, 2_000, 500_000_000] {
        let (_, u) = s.order(t, Side::Bid, 9_0000, 1, TimeInForce::Day);
        assert_eq!(u, OK);
    }
    let (_, u) = s.order(1_000_000_000, Side::Bid, 9_0000, 1, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::OrderRate));
    // Cancels are never limited.
    let u = s.send(
        1_000_000_000,
        OrderCommand::Cancel {
            id: ClientOrderId::new(0, 1),
        },
    );
    assert_eq!(u, vec![OrderUpdateKind::Cancelled]);
    // One second after the first order, it leaves the window.
    let (_, u) = s.order(1_000_001_000, Side::Bid, 9_0000, 1, TimeInForce::Day);
    assert_eq!(u, OK);
}

#[test]
fn a_second_submit_under_a_live_orders_id_is_refused_and_the_order_stays_checked() {
    let mut s = Sim::new("max_order_qty = 500");
    let (n, u) = s.order(10, Side::Bid, 9_9000, 100, TimeInForce::Day);
    assert_eq!(u, OK);
    // The same id again: refused, and the gate still knows the live order.
    let u = s.send(11, submit(n, Side::Bid, 9_8000, 100, TimeInForce::Day));
    assert_eq!(
        u,
        vec![OrderUpdateKind::Rejected(RejectReason::InvalidOrder)]
    );
    assert_eq!(s.v.gate(StrategyId(0)).open_orders(), 1);
    assert_eq!(s.v.working_orders(), 1);
    // So a modify of it above the size limit is still refused by the gate.
    let u = s.send(
        12,
        OrderCommand::Modify {
            id: ClientOrderId::new(0, n),
            price: Price(9_9000),
            qty: Qty(600),
            filled: Qty(0),
        },
    );
    assert_eq!(u, amend_rejected(RiskRule::MaxOrderQty));
}

#[test]
fn order_rate_counts_orders_at_time_zero() {
    // Orders a strategy sends from `on_start` carry event time 0: they count in the first
    // second like any other.
    let mut s = Sim::new("max_orders_per_sec = 2");
    for _ in 0..2 {
        let (_, u) = s.order(0, Side::Bid, 9_0000, 1, TimeInForce::Day);
        assert_eq!(u, OK);
    }
    let (_, u) = s.order(0, Side::Bid, 9_0000, 1, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::OrderRate));
    let (_, u) = s.order(999_999_999, Side::Bid, 9_0000, 1, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::OrderRate));
    let (_, u) = s.order(1_000_000_000, Side::Bid, 9_0000, 1, TimeInForce::Day);
    assert_eq!(u, OK);
}

#[test]
fn max_position_counts_open_orders_worst_case() {
    let mut s = Sim::new("max_position = 300");
    let (n, u) = s.order(10, Side::Bid, 9_9000, 200, TimeInForce::Day);
    assert_eq!(u, OK);
    let (_, u) = s.order(10, Side::Bid, 9_9000, 150, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::MaxPosition));
    let (_, u) = s.order(10, Side::Ask, 10_1000, 301, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::MaxPosition));
    let (_, u) = s.order(10, Side::Ask, 10_1000, 300, TimeInForce::Day);
    assert_eq!(u, OK);
    // A modify raising the open buy to 350 too.
    let u = s.send(
        11,
        OrderCommand::Modify {
            id: ClientOrderId::new(0, n),
            price: Price(9_9000),
            qty: Qty(350),
            filled: Qty(0),
        },
    );
    assert_eq!(u, amend_rejected(RiskRule::MaxPosition));
    // Filled positions count: buy 100 now (taking at 10.01) after cancelling the open bid.
    s.send(
        12,
        OrderCommand::Cancel {
            id: ClientOrderId::new(0, n),
        },
    );
    let (_, u) = s.order(13, Side::Bid, 10_0100, 250, TimeInForce::Ioc);
    assert_eq!(u, vec![OrderUpdateKind::Accepted, OrderUpdateKind::Filled]);
    assert_eq!(s.v.gate(StrategyId(0)).position(I).net, 250);
    let (_, u) = s.order(14, Side::Bid, 9_0000, 51, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::MaxPosition));
    let (_, u) = s.order(14, Side::Bid, 9_0000, 50, TimeInForce::Day);
    assert_eq!(u, OK);
}

#[test]
fn max_gross_exposure_in_dollars_at_mid() {
    let mut s = Sim::new("max_gross_exposure = \"5000\"");
    // 400 x mid 10.005 = 4002.
    let (_, u) = s.order(10, Side::Bid, 9_9000, 400, TimeInForce::Day);
    assert_eq!(u, OK);
    // 500 x 10.005 = 5002.5 > 5000.
    let (_, u) = s.order(10, Side::Bid, 9_9000, 100, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::MaxGrossExposure));
    let (_, u) = s.order(10, Side::Bid, 9_9000, 99, TimeInForce::Day);
    assert_eq!(u, OK);
}

/// A $10 daily loss limit; 800 bought (300 @ 10.01 + 500 @ 10.02 = 8013, worth 8004 at mid
/// 10.005: down $9, not tripped), an ask resting, then the best bid drops to 9.99 (mid 10.00:
/// down $13) with no fill or command since.
fn down_13_with_an_ask_resting() -> Sim {
    let mut s = Sim::new("daily_loss_limit = 10");
    let (_, u) = s.order(10, Side::Bid, 10_0200, 800, TimeInForce::Ioc);
    assert_eq!(u, vec![OrderUpdateKind::Accepted, OrderUpdateKind::Filled]);
    assert_eq!(s.v.gate(StrategyId(0)).tripped(), None);
    let (_, u) = s.order(11, Side::Ask, 10_5000, 100, TimeInForce::Day);
    assert_eq!(u, OK);
    assert_eq!(s.v.working_orders(), 1);
    s.event(
        20,
        EventBody::OrderDeleted {
            order_id: OrderId(4),
        },
    );
    s
}

#[test]
fn the_daily_loss_limit_trips_the_kill_switch_and_cancels_open_orders() {
    let mut s = down_13_with_an_ask_resting();
    let (_, u) = s.order(30, Side::Ask, 10_5000, 100, TimeInForce::Day);
    assert_eq!(
        u,
        vec![
            OrderUpdateKind::Rejected(RejectReason::RiskDailyLoss),
            OrderUpdateKind::Cancelled
        ]
    );
    assert_eq!(s.v.gate(StrategyId(0)).tripped(), Some(RiskRule::DailyLoss));
    assert_eq!(s.v.working_orders(), 0);
    // The lane hears of it once.
    assert_eq!(s.trips(), vec![(StrategyId(0), RiskRule::DailyLoss)]);
    // Still refused later; cancels still go through to the venue. A refusal by the tripped
    // gate is not a new trip (and sends no new cancel-all).
    let (_, u) = s.order(40, Side::Ask, 10_0000, 1, TimeInForce::Ioc);
    assert_eq!(u, rejected(RiskRule::DailyLoss));
    assert_eq!(s.trips(), vec![]);
}

#[test]
fn a_fill_that_breaches_the_daily_loss_limit_cancels_everything_at_once() {
    let mut s = Sim::new("daily_loss_limit = 1");
    let (_, u) = s.order(10, Side::Ask, 10_5000, 100, TimeInForce::Day);
    assert_eq!(u, OK);
    // Buy 300 @ 10.01 with mid 10.005: down $1.50 on the fill itself.
    let (_, u) = s.order(11, Side::Bid, 10_0100, 300, TimeInForce::Ioc);
    assert_eq!(
        u,
        vec![
            OrderUpdateKind::Accepted,
            OrderUpdateKind::Filled,
            OrderUpdateKind::Cancelled
        ]
    );
    assert_eq!(s.v.gate(StrategyId(0)).tripped(), Some(RiskRule::DailyLoss));
    assert_eq!(s.v.working_orders(), 0);
    assert_eq!(s.trips(), vec![(StrategyId(0), RiskRule::DailyLoss)]);
}

#[test]
fn the_manual_kill_switch_cancels_every_open_order_and_refuses_new_ones() {
    let mut s = Sim::new("");
    s.order(10, Side::Bid, 9_9000, 10, TimeInForce::Day);
    s.order(10, Side::Ask, 10_9000, 10, TimeInForce::Day);
    assert_eq!(s.v.working_orders(), 2);
    let mut out = Vec::new();
    s.v.engage_kill_switch(Timestamp(20), &s.m, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(s.v.working_orders(), 0);
    assert_eq!(s.v.gate(StrategyId(0)).open_orders(), 0);
    let (_, u) = s.order(30, Side::Bid, 9_9000, 10, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::KillSwitch));
    // A new trading day does not lift it: a person does, with a new run.
    s.v.start_day(&s.m);
    assert_eq!(
        s.v.gate(StrategyId(0)).tripped(),
        Some(RiskRule::KillSwitch)
    );
    let (_, u) = s.order(40, Side::Bid, 9_9000, 10, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::KillSwitch));
}

#[test]
fn a_feed_gap_makes_the_books_stale_new_orders_are_refused_cancels_go_through() {
    let mut s = Sim::new("");
    let (n, u) = s.order(10, Side::Bid, 9_9000, 10, TimeInForce::Day);
    assert_eq!(u, OK);
    assert!(s.m.stale().is_none());
    // The feed lost messages 500..503 for good (instrument 0: market-wide).
    let gap = ticklane_core::MarketEvent::new(
        Timestamp(20),
        ticklane_core::InstrumentId::NONE,
        EventBody::FeedGap {
            first_sequence: 500,
            count: 3,
        },
    );
    s.m.apply(&gap);
    let stale = s.m.stale().copied().expect("stale after a feed gap");
    assert_eq!(
        (
            stale.since,
            stale.gaps,
            stale.lost_messages,
            stale.first_lost
        ),
        (Timestamp(20), 1, 3, 500)
    );
    assert!(s.m.book(I).is_some_and(|b| b.is_stale()));
    assert_eq!(s.m.anomalies().get(ticklane_book::AnomalyKind::FeedGap), 1);
    let (_, u) = s.order(30, Side::Bid, 9_9000, 10, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::StaleBook));
    let u = s.send(
        31,
        OrderCommand::Modify {
            id: ClientOrderId::new(0, n),
            price: Price(9_8000),
            qty: Qty(10),
            filled: Qty(0),
        },
    );
    assert_eq!(u, amend_rejected(RiskRule::StaleBook));
    let u = s.send(
        32,
        OrderCommand::Cancel {
            id: ClientOrderId::new(0, n),
        },
    );
    assert_eq!(u, vec![OrderUpdateKind::Cancelled]);
    // A second gap adds up.
    s.m.apply(&gap);
    assert_eq!(s.m.stale().map(|x| (x.gaps, x.lost_messages)), Some((2, 6)));
}

#[test]
fn limits_parse_from_toml_and_refuse_unknown_keys() {
    let l = RiskLimits::from_toml_str(
        "max_order_qty = 1000\nmax_order_notional = 50000.25\nmax_position = 5000\n\
         max_gross_exposure = \"250000.50\"\nprice_band_bps = 50\nmax_orders_per_sec = 100\n\
         daily_loss_limit = 2000",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.max_order_qty, Some(1000));
    assert_eq!(
        l.max_order_notional.map(|d| d.to_string()),
        Some("50000.25".into())
    );
    assert_eq!(
        l.max_gross_exposure.map(|d| d.to_string()),
        Some("250000.50".into())
    );
    assert_eq!(
        l.daily_loss_limit.map(|d| d.to_string()),
        Some("2000".into())
    );
    assert_eq!(
        RiskLimits::from_toml_str("").ok(),
        Some(RiskLimits::default())
    );
    assert!(matches!(
        RiskLimits::from_toml_str("max_qty = 1"),
        Err(RiskConfigError::Toml(_))
    ));
    assert!(matches!(
        RiskLimits::from_toml_str("daily_loss_limit = -5"),
        Err(RiskConfigError::Negative {
            field: "daily_loss_limit",
            ..
        })
    ));
    assert!(matches!(
        RiskLimits::from_toml_str("daily_loss_limit = 0"),
        Err(RiskConfigError::ZeroDailyLoss)
    ));
    assert!(matches!(
        RiskLimits::from_toml_str("daily_loss_limit = 0.00005"),
        Err(RiskConfigError::ZeroDailyLoss)
    ));
    assert!(RiskLimits::from_toml_str("daily_loss_limit = 0.0001").is_ok());
    // A band of 100% or more is refused by name, as is any limit that would refuse every
    // order: a rate, quantity, position, notional or exposure of 0 (a dollar amount below the
    // price unit, $0.0001, is 0 to the gate). They were accepted, and every order refused.
    for (toml, field) in [
        ("price_band_bps = 10000", "price_band_bps"),
        ("max_orders_per_sec = 0", "max_orders_per_sec"),
        ("max_order_qty = 0", "max_order_qty"),
        ("max_position = 0", "max_position"),
        ("max_order_notional = 0", "max_order_notional"),
        ("max_order_notional = 0.00009", "max_order_notional"),
        ("max_gross_exposure = 0", "max_gross_exposure"),
        ("max_gross_exposure = \"0.00001\"", "max_gross_exposure"),
    ] {
        match RiskLimits::from_toml_str(toml) {
            Err(e @ RiskConfigError::OutOfRange { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(field), "{msg}");
                if field != "price_band_bps" {
                    assert!(
                        msg.contains("it would refuse every order (leave it out for no limit)"),
                        "{msg}"
                    );
                }
                // A share limit's error speaks of shares, not of dollars.
                if matches!(field, "max_order_qty" | "max_position") {
                    assert!(!msg.contains('$'), "{msg}");
                }
            }
            other => panic!("{toml}: {other:?}"),
        }
    }
    assert!(RiskLimits::from_toml_str(
        "price_band_bps = 9999\nmax_orders_per_sec = 1\nmax_order_qty = 1\nmax_position = 1\n\
         max_order_notional = 0.0001\nmax_gross_exposure = 0.0001"
    )
    .is_ok());
    // A band of 0 is a limit: no worse than the reference.
    assert!(RiskLimits::from_toml_str("price_band_bps = 0").is_ok());
}

#[test]
fn with_the_bids_gone_a_long_is_marked_at_its_last_price_not_at_the_ask() {
    let mut s = Sim::new("");
    // Long 800: 300 @ 10.01 + 500 @ 10.02 (the last fill).
    let (_, u) = s.order(10, Side::Bid, 10_0200, 800, TimeInForce::Ioc);
    assert_eq!(u, vec![OrderUpdateKind::Accepted, OrderUpdateKind::Filled]);
    let fees = s.v.gate(StrategyId(0)).position(I).fees;
    // The bids leave and the asks move up to 10.50: nobody would buy the position back there.
    for id in [1, 2, 3, 4, 5] {
        s.event(
            20,
            EventBody::OrderDeleted {
                order_id: OrderId(id),
            },
        );
    }
    s.event(
        21,
        EventBody::OrderAdded {
            order_id: OrderId(6),
            side: Side::Ask,
            price: Price(10_5000),
            qty: Qty(100),
            mpid: [0; 4],
        },
    );
    // Marked at 10.02 (+$3 before fees), not at the ask (+$387).
    let cash = -(300 * 10_0100 + 500 * 10_0200);
    assert_eq!(
        s.v.gate(StrategyId(0)).pnl(&s.m),
        cash + 800 * 10_0200 - fees
    );
}

#[test]
fn every_rule_has_its_reason_and_back() {
    for rule in RiskRule::ALL {
        let reason = RejectReason::from(rule);
        assert_eq!(RiskRule::of(reason), Some(rule));
        assert!(reason.to_string().contains(rule.name()));
    }
    assert_eq!(RiskRule::of(RejectReason::InvalidOrder), None);
}

#[test]
fn limits_are_per_strategy_one_tripping_leaves_the_others_trading() {
    let mut s = Sim::new("daily_loss_limit = 1\nmax_orders_per_sec = 2");
    let other = |n: u64, px: i64| OrderCommand::Submit {
        id: ClientOrderId::new(1, n),
        request: OrderRequest {
            instrument: I,
            side: Side::Bid,
            price: Price(px),
            qty: Qty(10),
            tif: TimeInForce::Day,
        },
    };
    // Strategy 1 rests a bid; strategy 0 uses up its own order rate and then loses money.
    assert_eq!(s.send(10, other(0, 9_9000)), OK);
    let (_, u) = s.order(10, Side::Ask, 10_5000, 100, TimeInForce::Day);
    assert_eq!(u, OK);
    let (_, u) = s.order(11, Side::Bid, 10_0100, 300, TimeInForce::Ioc);
    assert_eq!(
        u,
        vec![
            OrderUpdateKind::Accepted,
            OrderUpdateKind::Filled,
            OrderUpdateKind::Cancelled
        ]
    );
    assert_eq!(s.v.gate(StrategyId(0)).tripped(), Some(RiskRule::DailyLoss));
    // Only strategy 0's order was cancelled; strategy 1 is untouched and may still send
    // (its order-rate window is its own: strategy 0 sent two in this second).
    assert_eq!(s.v.gate(StrategyId(1)).tripped(), None);
    assert_eq!(s.v.working_orders(), 1);
    assert_eq!(s.send(12, other(1, 9_8000)), OK);
    let (_, u) = s.order(13, Side::Bid, 9_0000, 10, TimeInForce::Day);
    assert_eq!(
        u,
        rejected(RiskRule::DailyLoss),
        "strategy 0 stays stopped, by the daily loss limit"
    );
    // The limit is the day's: the next trading day opens strategy 0's gate again, its loss
    // counted from the day's start (it stayed stopped for every later day of a backtest).
    s.v.start_day(&s.m);
    assert_eq!(s.v.gate(StrategyId(0)).tripped(), None);
    // (A second later: its order rate's window is full.)
    let (_, u) = s.order(1_000_000_014, Side::Bid, 9_0000, 10, TimeInForce::Day);
    assert_eq!(u, OK, "strategy 0 trades again on the new day");
}

#[test]
fn a_modify_refused_before_the_order_is_acknowledged_leaves_the_order_counted() {
    let mut s = Sim::with_latency("max_order_qty = 500\nmax_position = 500");
    // Sent at 10: reaches the venue at 110, acknowledged at 210.
    let (n, u) = s.order(10, Side::Bid, 9_9000, 500, TimeInForce::Day);
    assert!(u.is_empty(), "nothing back before the latency: {u:?}");
    // At 20, before the acknowledgement, a modify above the size limit: only the modify is
    // refused; the gate still counts the order.
    let u = s.send(
        20,
        OrderCommand::Modify {
            id: ClientOrderId::new(0, n),
            price: Price(9_9000),
            qty: Qty(600),
            filled: Qty(0),
        },
    );
    assert_eq!(u, amend_rejected(RiskRule::MaxOrderQty));
    assert_eq!(s.v.gate(StrategyId(0)).open_orders(), 1);
    assert_eq!(s.v.gate(StrategyId(0)).position(I).open_buy, 500);
    // So a second 500 would breach the position limit (1000 working against 500).
    let (_, u) = s.order(30, Side::Bid, 9_9000, 500, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::MaxPosition));
}

#[test]
fn a_tripped_gate_refuses_a_modify_of_an_order_it_does_not_know() {
    let mut s = Sim::new("max_order_qty = 500");
    let mut out = Vec::new();
    s.v.engage_kill_switch(Timestamp(5), &s.m, &mut out);
    let u = s.send(
        10,
        OrderCommand::Modify {
            id: ClientOrderId::new(0, 77),
            price: Price(9_9000),
            qty: Qty(100),
            filled: Qty(0),
        },
    );
    assert_eq!(u, amend_rejected(RiskRule::KillSwitch));
}

#[test]
fn a_modify_on_its_way_counts_for_its_larger_size_until_answered() {
    let mut s = Sim::with_latency("max_position = 1000");
    let (a, _) = s.order(10, Side::Bid, 9_9000, 100, TimeInForce::Day);
    let mut out = Vec::new();
    s.v.advance(Timestamp(210), &s.m, &mut out);
    // A to 1000: allowed (1000 in all), and from now on A counts for 1000.
    let modify = |qty| OrderCommand::Modify {
        id: ClientOrderId::new(0, a),
        price: Price(9_9000),
        qty: Qty(qty),
        filled: Qty(0),
    };
    assert!(s.send(300, modify(1000)).is_empty(), "on its way");
    assert_eq!(s.v.gate(StrategyId(0)).position(I).open_buy, 1000);
    // So B (900) is refused while it travels: 1900 could be working.
    let (_, u) = s.order(310, Side::Bid, 9_9000, 900, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::MaxPosition));
    // Once the venue confirms (arrived 400, answered 500), A counts for 1000 as confirmed.
    out.clear();
    s.v.advance(Timestamp(500), &s.m, &mut out);
    assert_eq!(s.v.gate(StrategyId(0)).position(I).open_buy, 1000);
    // Shrinking A: 1000 counts until the answer, then 200.
    assert!(s.send(600, modify(200)).is_empty());
    assert_eq!(s.v.gate(StrategyId(0)).position(I).open_buy, 1000);
    out.clear();
    s.v.advance(Timestamp(800), &s.m, &mut out);
    assert_eq!(s.v.gate(StrategyId(0)).position(I).open_buy, 200);
    let (_, u) = s.order(810, Side::Bid, 9_9000, 800, TimeInForce::Day);
    assert!(u.is_empty(), "800 more fits once A is 200: {u:?}");
}

#[test]
fn a_limit_too_large_for_price_units_saturates_instead_of_panicking() {
    // 7.9e24 dollars × 10,000 price units overflows a Decimal: the limit is then "no limit".
    let mut s = Sim::new("max_order_notional = \"79000000000000000000000000\"");
    let (_, u) = s.order(10, Side::Bid, 9_9000, 500, TimeInForce::Day);
    assert_eq!(u, OK);
}

#[test]
fn prices_alone_trip_the_daily_loss_limit_at_the_periodic_mark() {
    // Down $13, but no fill and no command follows.
    let mut s = down_13_with_an_ask_resting();
    assert_eq!(s.v.gate(StrategyId(0)).tripped(), None);
    // The lane's once-a-second mark finds it, trips the limit and cancels the resting ask.
    assert_eq!(s.mark(1_000_000_000), vec![OrderUpdateKind::Cancelled]);
    assert_eq!(s.v.gate(StrategyId(0)).tripped(), Some(RiskRule::DailyLoss));
    assert_eq!(s.v.working_orders(), 0);
    assert_eq!(s.trips(), vec![(StrategyId(0), RiskRule::DailyLoss)]);
    assert_eq!(s.mark(2_000_000_000), vec![]);
    assert_eq!(s.trips(), vec![]);
}

/// A venue whose periodic mark reports one fill of order (0, 1): 1,000 shares bought at
/// 10.02, a loss of $15 against the market's mid (10.005) (a venue that settles at the mark,
/// e.g. an auction).
struct FillsAtMark;

impl Venue for FillsAtMark {
    fn on_command(
        &mut self,
        _now: Timestamp,
        _cmd: &OrderCommand,
        _market: &Market,
        _out: &mut Vec<ticklane_exec::VenueReport>,
    ) {
    }
    fn on_market(
        &mut self,
        _event: &ticklane_core::MarketEvent,
        _trade: Option<&ticklane_strategy::TradePrint>,
        _market: &Market,
        _out: &mut Vec<ticklane_exec::VenueReport>,
    ) {
    }
    fn cancel_all(
        &mut self,
        _now: Timestamp,
        _strategy: Option<StrategyId>,
        _out: &mut Vec<ticklane_exec::VenueReport>,
    ) {
    }
    fn working_orders(&self) -> usize {
        0
    }
    fn mark(
        &mut self,
        now: Timestamp,
        _market: &Market,
        out: &mut Vec<ticklane_exec::VenueReport>,
    ) {
        out.push(ticklane_exec::VenueReport::Fill(ticklane_strategy::Fill {
            ts: now,
            id: ClientOrderId::new(0, 1),
            instrument: I,
            side: Side::Bid,
            price: Price(10_0200),
            qty: Qty(1_000),
            leaves: Qty(0),
            liquidity: ticklane_strategy::Liquidity::Taker,
            fee: 0,
        }));
    }
}

#[test]
fn reports_of_the_inner_venues_mark_reach_the_gates() {
    let limits =
        RiskLimits::from_toml_str("daily_loss_limit = 10").unwrap_or_else(|e| panic!("{e}"));
    let gate = RiskGate::new(limits).unwrap_or_else(|e| panic!("{e}"));
    let mut v = RiskedVenue::new(FillsAtMark, gate);
    let m = market();
    let mut out = Vec::new();
    v.mark(Timestamp(1_000_000_000), &m, &mut out);
    assert_eq!(out.len(), 1);
    // The fill moved the position and tripped the limit at this mark (it was not seen).
    assert_eq!(v.gate(StrategyId(0)).tripped(), Some(RiskRule::DailyLoss));
    let mut trips = Vec::new();
    v.take_trips(&mut trips);
    assert_eq!(trips, vec![(StrategyId(0), RiskRule::DailyLoss)]);
}

/// The reference price an instrument without a book falls back on is set by the first order
/// the venue *accepted*: one it rejected (a price of 0) does not make every later order's
/// exposure worth nothing.
#[test]
fn a_rejected_order_does_not_set_the_reference_price() {
    let mut s = Sim::new("max_gross_exposure = \"1000\"");
    s.m = Market::new(); // no book, no prices: exposure is priced at the reference
    let (_, u) = s.order(10, Side::Bid, 0, 1, TimeInForce::Day);
    assert_eq!(
        u,
        vec![OrderUpdateKind::Rejected(RejectReason::InvalidOrder)]
    );
    assert_eq!(s.v.gate(StrategyId(0)).position(I).last_price, None);
    // $10 x 500 = $5000 of exposure, priced at its own limit: over the limit.
    let (_, u) = s.order(11, Side::Bid, 10_0000, 500, TimeInForce::Day);
    assert_eq!(u, rejected(RiskRule::MaxGrossExposure));
}

/// The risk gate's edge cases found by a review (each failed before its fix).
#[allow(clippy::unwrap_used)]
mod review {
    use super::support::{add, ev, market, submit, trade_print, updates, I};
    use ticklane_book::Market;
    use ticklane_core::{
        EventBody, InstrumentId, InstrumentInfo, MarketEvent, MatchId, OrderId, Price, Qty, Side,
        Symbol, SystemEventCode, Timestamp, TradingState,
    };
    use ticklane_exec::{
        ConstantLatency, PaperExchange, PerShareFees, RiskGate, RiskLimits, RiskedVenue, Venue,
    };
    use ticklane_strategy::{
        ClientOrderId, Fill, Liquidity, OrderCommand, OrderRequest, OrderUpdateKind, RejectReason,
        RiskRule, TimeInForce,
    };

    fn gate(toml: &str) -> RiskGate {
        RiskGate::new(RiskLimits::from_toml_str(toml).unwrap()).unwrap()
    }

    /// A sub-dollar stock quoted one price unit wide: bid 0.5000, ask 0.5001 (exact mid 0.50005).
    fn one_unit_wide() -> Market {
        let mut m = Market::new();
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
        m.apply(&ev(1, add(1, Side::Bid, 5000, 100_000)));
        m.apply(&ev(1, add(2, Side::Ask, 5001, 100_000)));
        m
    }

    fn fill(side: Side, px: i64, qty: u32) -> Fill {
        Fill {
            ts: Timestamp(2),
            id: ClientOrderId::new(0, 1),
            instrument: I,
            side,
            price: Price(px),
            qty: Qty(qty),
            leaves: Qty(0),
            liquidity: Liquidity::Taker,
            fee: 0,
        }
    }

    /// Long 10,000 bought at the ask 0.5001: at the exact mid (0.50005) down $0.50, under a $0.75
    /// limit. The gate marked at the book's mid rounded down (0.5000): down $1.00, and tripped.
    #[test]
    fn the_daily_loss_limit_marks_a_long_at_the_exact_mid_not_a_half_unit_lower() {
        let m = one_unit_wide();
        let mut g = gate("daily_loss_limit = \"0.75\"");
        g.on_fill(&fill(Side::Bid, 5001, 10_000));
        assert!(
            !g.evaluate(&m),
            "tripped at a $0.50 loss under a $0.75 limit (pnl {} units)",
            g.pnl(&m)
        );
    }

    /// The daily loss limit counts from the start of the trading day ([`RiskGate::start_day`],
    /// which the lane calls on ITCH's start of messages while the day before's books stand):
    /// long 10,000 at 0.5001 is down $0.50 at day 1's mid; a $1.20 limit then trips on day 2
    /// only when day 2 itself loses more than $1.20 (it counted from the start of the run:
    /// $1.50 down in all, $1.00 of it on day 2, tripped it).
    #[test]
    fn the_daily_loss_limit_counts_from_the_start_of_the_day() {
        let quoted = |bid: i64| {
            let mut m = Market::new();
            m.apply(&ev(1, add(1, Side::Bid, bid, 100_000)));
            m.apply(&ev(1, add(2, Side::Ask, bid + 1, 100_000)));
            m
        };
        let mut g = gate("daily_loss_limit = \"1.20\"");
        g.on_fill(&fill(Side::Bid, 5001, 10_000));
        let day1 = one_unit_wide();
        assert!(!g.evaluate(&day1), "down $0.50 on day 1");
        g.start_day(&day1);
        // Day 2 one unit lower: $1.00 down on the day, $1.50 in all.
        assert!(
            !g.evaluate(&quoted(4999)),
            "tripped at $1.00 down on the day (pnl {} units in all)",
            g.pnl(&quoted(4999))
        );
        assert_eq!(g.tripped(), None);
        // Two units lower: $2.00 down on the day.
        assert!(g.evaluate(&quoted(4998)));
        assert_eq!(g.tripped(), Some(RiskRule::DailyLoss));
    }

    /// Long 10,000 bought at 0.5001; day 1 closes quoted 0.6000 / 0.6002 (mid 0.6001): the
    /// gate's day starts $1,000 up (`start_day` on day 1's books). Day 2's start of messages then empties the
    /// books, and until day 2 quotes both sides the long is marked at its last price (the fill,
    /// 0.5001): $1,000 "lost" on a day on which nothing has traded, which trips a $500 limit
    /// at day 2's first mark or order check.
    #[test]
    fn the_empty_books_of_a_new_day_show_no_loss_against_the_day_befores_close() {
        let mut g = gate("daily_loss_limit = \"500\"");
        g.on_fill(&fill(Side::Bid, 5001, 10_000));
        let mut m = Market::new();
        m.apply(&ev(1, add(1, Side::Bid, 6000, 100_000)));
        m.apply(&ev(1, add(2, Side::Ask, 6002, 100_000)));
        assert!(!g.evaluate(&m), "up on day 1");
        let day_start = g.pnl(&m);
        // What the lane does on day 2's start of messages: the gate first, then the books.
        g.start_day(&m);
        let r = m.apply(&MarketEvent::new(
            Timestamp(3),
            InstrumentId::NONE,
            EventBody::SystemEvent {
                code: SystemEventCode::StartOfMessages,
            },
        ));
        assert!(r.new_day);
        let on_the_day = g.pnl(&m) - day_start;
        assert!(
            !g.evaluate(&m),
            "tripped before day 2 traded: {on_the_day} price units on the day (expected 0)"
        );
        assert_eq!(on_the_day, 0);
    }

    /// A new day gives the symbol held overnight another stock locate: the gate's position
    /// moves with it (`swap_instruments`), so `max_position` counts it under the new locate
    /// and no longer under the old one, which may name another symbol now.
    #[test]
    fn a_swap_of_instruments_moves_the_gates_positions() {
        let m = one_unit_wide();
        let other = InstrumentId(I.0 + 1);
        let mut g = gate("max_position = 100");
        g.on_fill(&fill(Side::Bid, 5001, 100));
        let buy = submit(7, Side::Bid, 5000, 1, TimeInForce::Day);
        assert_eq!(g.check(Timestamp(3), &buy, &m), Err(RiskRule::MaxPosition));
        g.swap_instruments(I, other);
        assert_eq!((g.position(I).net, g.position(other).net), (0, 100));
        assert_eq!(g.check(Timestamp(4), &buy, &m), Ok(()));
        g.swap_instruments(other, I);
        assert_eq!((g.position(I).net, g.position(other).net), (100, 0));
    }

    /// Short 10,000 sold at the bid 0.5000: at the exact mid down $0.50, over a $0.40 limit. The
    /// rounded-down mark (0.5000) showed it flat, and it never tripped.
    #[test]
    fn the_daily_loss_limit_marks_a_short_at_the_exact_mid_not_a_half_unit_lower() {
        let m = one_unit_wide();
        let mut g = gate("daily_loss_limit = \"0.40\"");
        g.on_fill(&fill(Side::Ask, 5000, 10_000));
        assert!(
            g.evaluate(&m),
            "a $0.50 loss did not trip a $0.40 limit (pnl {} units)",
            g.pnl(&m)
        );
    }

    /// A bid of 100 at 10.00 (order 1, sent at 10, 100 ns each way) behind a gate with
    /// `max_position = 150`; the market trades 60 through it at `trade_at`; the strategy
    /// modifies it to 100 again at `modify_at` knowing no fill; at 460 it bids 40 more.
    /// Whether the fill reached the gate before or after the modify, the venue leaves the
    /// order 40 (it takes the unknown 60 off the modify), so 60 held + 40 + 40 = 140 fits.
    fn a_fill_the_modify_did_not_know(trade_at: u64, modify_at: u64) {
        let mut m = market();
        let venue = PaperExchange::with_models(ConstantLatency::new(100, 100), PerShareFees::ZERO);
        let mut v = RiskedVenue::new(venue, gate("max_position = 150"));
        let mut out = Vec::new();
        v.on_command(
            Timestamp(10),
            &submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day),
            &m,
            &mut out,
        );
        let md = OrderCommand::Modify {
            id: ClientOrderId::new(0, 1),
            price: Price(10_0000),
            qty: Qty(100),
            filled: Qty(0),
        };
        // #5 at 9.99 executes 60: the trade goes through the bid at 10.00.
        let e = MarketEvent::new(
            Timestamp(trade_at),
            I,
            EventBody::OrderExecuted {
                order_id: OrderId(5),
                qty: Qty(60),
                match_id: MatchId(1),
            },
        );
        for (at, what) in [(modify_at, 0), (trade_at, 1)]
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>()
        {
            v.advance(Timestamp(at), &m, &mut out);
            if what == 0 {
                v.on_command(Timestamp(at), &md, &m, &mut out);
            } else {
                let tp = trade_print(&m, &e);
                m.apply(&e);
                v.on_market(&e, tp.as_ref(), &m, &mut out);
            }
        }
        v.advance(Timestamp(450), &m, &mut out);
        assert_eq!(v.gate(ticklane_strategy::StrategyId(0)).position(I).net, 60);
        out.clear();
        v.on_command(
            Timestamp(460),
            &submit(2, Side::Bid, 9_9000, 40, TimeInForce::Day),
            &m,
            &mut out,
        );
        let u = updates(&out);
        v.advance(Timestamp(1000), &m, &mut out);
        assert!(
            updates(&out).contains(&OrderUpdateKind::Modified {
                price: Price(10_0000),
                qty: Qty(40)
            }),
            "the venue leaves the order 40: {out:?}"
        );
        assert!(
            !u.contains(&OrderUpdateKind::Rejected(RejectReason::from(
                RiskRule::MaxPosition
            ))),
            "refused although at most 140 can be held: open_buy counted {:?}",
            v.gate(ticklane_strategy::StrategyId(0)).position(I)
        );
    }

    /// A fill that arrives while a modify is on its way (modify sent at 300, the trade at 350,
    /// its fill reported at 450) was counted twice against max_position: once in the
    /// position, once in the modify's size.
    #[test]
    fn a_fill_during_a_modify_in_flight_is_not_counted_twice_against_max_position() {
        a_fill_the_modify_did_not_know(350, 300);
    }

    /// The same when the gate sees the fill before the modify: the trade at 150 is reported
    /// with Accepted in one batch (at 300), and the strategy modifies on Accepted without
    /// knowing the fill. The gate counted 60 held and 100 in flight, and refused the modify
    /// itself.
    #[test]
    fn a_fill_seen_before_a_modify_that_did_not_know_it_is_not_counted_twice() {
        a_fill_the_modify_did_not_know(150, 400);
    }

    /// Gross exposure of an order in flight in an instrument whose book shows nothing was priced
    /// at the price of whatever order was being checked, in another instrument.
    #[test]
    fn gross_exposure_prices_orders_in_flight_at_their_own_price_not_another_instruments() {
        let mut m = market();
        let j = InstrumentId(2);
        m.apply(&MarketEvent::new(
            Timestamp(1),
            j,
            EventBody::InstrumentDirectory(InstrumentInfo::common_stock(Symbol::new("Y").unwrap())),
        ));
        m.apply(&MarketEvent::new(
            Timestamp(1),
            j,
            EventBody::TradingStatus {
                state: TradingState::Trading,
                reason: *b"    ",
            },
        ));
        let venue = PaperExchange::with_models(ConstantLatency::new(100, 100), PerShareFees::ZERO);
        let mut v = RiskedVenue::new(venue, gate("max_gross_exposure = 50000"));
        let mut out = Vec::new();
        // Bid Y 400 @ $100.00 ($40,000), in flight (Y's book is empty: its own price is the reference).
        let y = OrderCommand::Submit {
            id: ClientOrderId::new(0, 1),
            request: OrderRequest {
                instrument: j,
                side: Side::Bid,
                price: Price(100_0000),
                qty: Qty(400),
                tif: TimeInForce::Day,
            },
        };
        v.on_command(Timestamp(10), &y, &m, &mut out);
        assert!(out.is_empty());
        // Bid X 2000 @ 1.00 (X's mid 10.005: $20,010): $60,010 in all > $50,000.
        v.on_command(
            Timestamp(20),
            &submit(2, Side::Bid, 1_0000, 2000, TimeInForce::Day),
            &m,
            &mut out,
        );
        assert_eq!(
            updates(&out),
            vec![OrderUpdateKind::Rejected(RejectReason::from(
                RiskRule::MaxGrossExposure
            ))],
            "Y's 400 were priced at X's order price ($1)"
        );
    }

    /// A venue that answers a modify of an accepted order with `Rejected` (read as
    /// `AmendRejected`): the modify stayed "on its way" for ever, and the order counted for the
    /// modify's size until it ended.
    #[test]
    fn a_modify_answered_rejected_on_an_accepted_order_is_answered() {
        let m = market();
        let mut g = gate("max_position = 1000");
        let id = ClientOrderId::new(0, 1);
        assert!(g
            .check(
                Timestamp(1),
                &submit(1, Side::Bid, 9_9000, 100, TimeInForce::Day),
                &m
            )
            .is_ok());
        g.on_update(&ticklane_strategy::OrderUpdate {
            ts: Timestamp(2),
            id,
            instrument: I,
            kind: OrderUpdateKind::Accepted,
        });
        let md = OrderCommand::Modify {
            id,
            price: Price(9_9000),
            qty: Qty(900),
            filled: Qty(0),
        };
        assert!(g.check(Timestamp(3), &md, &m).is_ok());
        assert_eq!(g.position(I).open_buy, 900);
        g.on_update(&ticklane_strategy::OrderUpdate {
            ts: Timestamp(4),
            id,
            instrument: I,
            kind: OrderUpdateKind::Rejected(RejectReason::InvalidOrder),
        });
        assert_eq!(
            g.position(I).open_buy,
            100,
            "the refused modify still counts"
        );
    }

    /// Gross exposure at a mid between two price units is valued at the unit above (a limit
    /// errs on the safe side): 10,000 shares at 0.50005 are $5,000.50, over $5,000 (at the
    /// book's mid rounded down, 0.5000, they were exactly $5,000 and passed).
    #[test]
    fn gross_exposure_at_a_half_unit_mid_is_valued_at_the_unit_above() {
        let m = one_unit_wide();
        let mut g = gate("max_gross_exposure = 5000");
        let order = submit(1, Side::Bid, 5000, 10_000, TimeInForce::Day);
        assert_eq!(
            g.check(Timestamp(1), &order, &m).err(),
            Some(RiskRule::MaxGrossExposure)
        );
        let order = submit(2, Side::Bid, 5000, 9_998, TimeInForce::Day);
        assert_eq!(g.check(Timestamp(1), &order, &m).err(), None, "$4,999.9998");
    }
}

/// The risk gate's edge cases found by a second review (each fails before its fix).
#[allow(clippy::unwrap_used)]
mod second_review {
    use super::support::{add, market, submit, I};
    use super::{rejected, Sim};
    use ticklane_core::{EventBody, OrderId, Side, Timestamp};
    use ticklane_exec::{RiskGate, RiskLimits};
    use ticklane_strategy::{OrderUpdateKind, RiskRule, TimeInForce};

    fn gate(toml: &str) -> RiskGate {
        RiskGate::new(RiskLimits::from_toml_str(toml).unwrap()).unwrap()
    }

    const SEC: u64 = 1_000_000_000;

    /// Two days in one file (ITCH times restart at midnight): the window is
    /// `(now − 1 s, now]` of event time, so orders stamped 16:00 of day 1 are not in the window
    /// of 09:30 on day 2. The gate kept them at the front of its window, where the pruning
    /// (which stops at the first stamp above the floor) never reached them or anything behind
    /// them: every order of day 2 was refused `order_rate` until event time passed 16:00 again.
    #[test]
    fn after_event_time_goes_back_the_order_rate_window_holds_no_later_orders() {
        let m = market();
        let mut g = gate("max_orders_per_sec = 2");
        let mut n = 0;
        let mut send = |g: &mut RiskGate, t: u64| {
            n += 1;
            g.check(
                Timestamp(t),
                &submit(n, Side::Bid, 9_0000, 1, TimeInForce::Day),
                &m,
            )
        };
        // Day 1, 16:00:00: two orders, the limit.
        assert_eq!(send(&mut g, 57_600 * SEC), Ok(()));
        assert_eq!(send(&mut g, 57_600 * SEC), Ok(()));
        // Day 2, 09:30:00 and an hour later: nothing in the last second of event time.
        assert_eq!(send(&mut g, 34_200 * SEC), Ok(()), "09:30 on day 2");
        assert_eq!(send(&mut g, 37_800 * SEC), Ok(()), "10:30 on day 2");
    }

    /// The same with the window not full at the end of day 1: one order at 16:00, then day-2
    /// orders 100 s apart. Each one stays in the window behind the 16:00 stamp, so the limit
    /// of 2 a second became 1 order for all of day 2 (until 16:00:01).
    #[test]
    fn after_event_time_goes_back_the_order_rate_is_still_per_second() {
        let m = market();
        let mut g = gate("max_orders_per_sec = 2");
        let order = |n| submit(n, Side::Bid, 9_0000, 1, TimeInForce::Day);
        assert_eq!(g.check(Timestamp(57_600 * SEC), &order(1), &m), Ok(()));
        assert_eq!(g.check(Timestamp(34_200 * SEC), &order(2), &m), Ok(()));
        assert_eq!(
            g.check(Timestamp(34_300 * SEC), &order(3), &m),
            Ok(()),
            "100 s after the only order of day 2"
        );
    }

    /// A daily loss limit too large for price units (over ~$7.9e24: a "no limit" written as a
    /// huge number, e.g. `1e25`) saturates to `i128::MAX`, as the other dollar limits do, but
    /// `evaluate` compares against `-2 × limit`: an overflow (a panic in debug builds; in
    /// release it wraps to +2, so a flat P&L trips the limit and the strategy is stopped on
    /// its first order).
    #[test]
    fn a_daily_loss_limit_too_large_for_price_units_never_trips() {
        let m = market();
        let mut g = gate("daily_loss_limit = \"79000000000000000000000000\"");
        let order = submit(1, Side::Bid, 9_9000, 100, TimeInForce::Day);
        assert_eq!(g.check(Timestamp(1), &order, &m), Ok(()));
        assert!(!g.evaluate(&m));
        assert_eq!(g.tripped(), None);
    }

    /// `max_gross_exposure = 8100`: long 800 bought at 10.01/10.02 (worth $8,004 at mid 10.005,
    /// allowed); the market then rises to 10.30/10.31 (mid 10.305: $8,244, over the limit by
    /// price alone). A sell that only reduces the long (its worst case is the long itself,
    /// unchanged or smaller) was refused `max_gross_exposure`, as was selling the whole
    /// position: the limit locked in the exposure it exists to cap ("reducing risk is never
    /// refused").
    #[test]
    fn a_sell_that_reduces_a_long_over_the_gross_exposure_limit_is_not_refused() {
        let mut s = Sim::new("max_gross_exposure = 8100");
        let (_, u) = s.order(10, Side::Bid, 10_0200, 800, TimeInForce::Ioc);
        assert_eq!(u, vec![OrderUpdateKind::Accepted, OrderUpdateKind::Filled]);
        assert_eq!(
            s.v.gate(ticklane_strategy::StrategyId(0)).position(I).net,
            800
        );
        for id in 1..=5 {
            s.event(
                20,
                EventBody::OrderDeleted {
                    order_id: OrderId(id),
                },
            );
        }
        s.event(21, add(6, Side::Bid, 10_3000, 1_000));
        s.event(21, add(7, Side::Ask, 10_3100, 1_000));
        // A buy adds exposure: refused.
        let (_, u) = s.order(30, Side::Bid, 10_0000, 1, TimeInForce::Day);
        assert_eq!(u, rejected(RiskRule::MaxGrossExposure));
        // Selling 100 or all 800 only reduces it.
        let (_, u) = s.order(31, Side::Ask, 10_3000, 100, TimeInForce::Ioc);
        assert_eq!(
            u,
            vec![OrderUpdateKind::Accepted, OrderUpdateKind::Filled],
            "selling 100 of a long 800"
        );
        let (_, u) = s.order(32, Side::Ask, 10_3000, 700, TimeInForce::Ioc);
        assert_eq!(
            u,
            vec![OrderUpdateKind::Accepted, OrderUpdateKind::Filled],
            "selling the rest"
        );
    }

    /// 20 µs each way to the venue (as `config/run.toml`): an order in flight is counted by
    /// the gate until the venue answers. A buy with a negative price (a strategy's bug: the
    /// venue will refuse it, `InvalidOrder`) in an instrument with no book is valued at its own
    /// price, so while it travels it adds a *negative* amount to the gross exposure: here
    /// −$10¹⁰, which lets a $100,050 bid in `I` through a $5,000 `max_gross_exposure`. That
    /// bid stays working after the venue has refused the other.
    #[test]
    fn an_order_with_a_negative_price_does_not_lower_the_gross_exposure_of_the_others() {
        use ticklane_core::{InstrumentId, Price, Qty};
        use ticklane_strategy::{ClientOrderId, OrderCommand, OrderRequest};
        let mut s = Sim::with_latency("max_gross_exposure = 5000");
        let bad = OrderCommand::Submit {
            id: ClientOrderId::new(0, 100),
            request: OrderRequest {
                instrument: InstrumentId(2),
                side: Side::Bid,
                price: Price(-100_000_000), // -$10,000
                qty: Qty(1_000_000),
                tif: TimeInForce::Day,
            },
        };
        let _ = s.send(10, bad);
        // 10,000 x mid 10.005 = $100,050 of exposure, 20 times the limit.
        let (_, u) = s.order(20, Side::Bid, 10_0000, 10_000, TimeInForce::Day);
        assert_eq!(u, rejected(RiskRule::MaxGrossExposure));
    }
}

/// Behaviours no test checked: each test kills a mutant `cargo mutants` left alive.
#[allow(clippy::unwrap_used)]
mod mutation {
    use super::support::{market, submit, I};
    use ticklane_core::{Price, Qty, Side, Timestamp};
    use ticklane_exec::{RiskGate, RiskLimits};
    use ticklane_strategy::{ClientOrderId, Fill, Liquidity, RiskRule, TimeInForce};

    fn gate(toml: &str) -> RiskGate {
        RiskGate::new(RiskLimits::from_toml_str(toml).unwrap()).unwrap()
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

    /// Fees count against the daily loss limit ("cash flow + positions marked to mid − fees").
    /// Bought 100 at the mid 10.005 (flat before fees) paying a $1 fee: down exactly $1, the
    /// limit, so the gate trips. Every test fill had `fee: 0`, so a gate that added fees to the
    /// P&L (or ignored them) passed.
    #[test]
    fn fees_paid_count_against_the_daily_loss_limit() {
        let m = market();
        let mut g = gate("daily_loss_limit = 1");
        g.on_fill(&fill(Side::Bid, 10_0050, 100, 10_000));
        assert_eq!(g.position(I).fees, 10_000);
        assert_eq!(g.pnl(&m), -10_000, "P&L: flat at mid less the $1 fee");
        assert!(
            g.evaluate(&m),
            "a $1 loss (all fees) did not trip a $1 limit"
        );
        assert_eq!(g.tripped(), Some(RiskRule::DailyLoss));
    }

    /// A rebate (negative fee) is income: the same fill earning $1 is up $1.
    #[test]
    fn a_rebate_counts_as_income_in_the_gates_pnl() {
        let m = market();
        let mut g = gate("daily_loss_limit = 1");
        g.on_fill(&fill(Side::Bid, 10_0050, 100, -10_000));
        assert_eq!(g.pnl(&m), 10_000);
        assert!(!g.evaluate(&m));
    }

    /// Exactly at `max_gross_exposure` passes, one share more does not: 500 × mid 10.005 =
    /// $5,002.50 against a $5,002.50 limit.
    #[test]
    fn an_order_exactly_at_the_gross_exposure_limit_passes() {
        let m = market();
        let mut g = gate("max_gross_exposure = \"5002.5\"");
        let buy = |n, q| submit(n, Side::Bid, 9_9000, q, TimeInForce::Day);
        assert_eq!(
            g.check(Timestamp(1), &buy(1, 501), &m),
            Err(RiskRule::MaxGrossExposure)
        );
        assert_eq!(g.check(Timestamp(1), &buy(2, 500), &m), Ok(()));
    }

    /// `max_position` with a modify of a **sell**: the modify replaces the order's open
    /// quantity on the sell side (only bid modifies were tested). Sells of 200 and 100 rest
    /// against `max_position = 300` (short 300 worst case): resizing the 100 to 101 is 301,
    /// refused; to 50 is 250, allowed.
    #[test]
    fn a_modify_of_a_sell_replaces_its_open_quantity_against_max_position() {
        use super::Sim;
        use ticklane_strategy::{OrderCommand, OrderUpdateKind, RejectReason};
        let mut s = Sim::new("max_position = 300");
        let (_, u) = s.order(10, Side::Ask, 10_1000, 200, TimeInForce::Day);
        assert_eq!(u, [OrderUpdateKind::Accepted]);
        let (b, u) = s.order(10, Side::Ask, 10_1000, 100, TimeInForce::Day);
        assert_eq!(u, [OrderUpdateKind::Accepted]);
        let resize = |q| OrderCommand::Modify {
            id: ClientOrderId::new(0, b),
            price: Price(10_1000),
            qty: Qty(q),
            filled: Qty(0),
        };
        assert_eq!(
            s.send(11, resize(101)),
            [OrderUpdateKind::AmendRejected(RejectReason::from(
                RiskRule::MaxPosition
            ))],
            "short 301 worst case over a 300 limit"
        );
        assert_eq!(
            s.send(12, resize(50)),
            [OrderUpdateKind::Modified {
                price: Price(10_1000),
                qty: Qty(50)
            }],
            "short 250 worst case under a 300 limit"
        );
    }

    /// Empties the book of `support::market()` and quotes 17.00 / 17.01 (mid 17.005).
    fn market_moves_to_17(s: &mut super::Sim) {
        use super::support::add;
        use ticklane_core::{EventBody, OrderId};
        for id in 1..=5 {
            s.event(
                20,
                EventBody::OrderDeleted {
                    order_id: OrderId(id),
                },
            );
        }
        s.event(21, add(6, Side::Bid, 17_0000, 1_000));
        s.event(21, add(7, Side::Ask, 17_0100, 1_000));
    }

    /// "A modify down passes even when prices alone carried it over the limit": a resting bid
    /// of 400 ($4,002 at mid 10.005, under $5,000); the market moves to mid 17.005 ($6,802).
    /// Shrinking the bid to 300 ($5,101.50, still over the limit but lower) must pass. The
    /// exposure "as it stands" counts the open buy quantity (`net + open_buy`); no test had an
    /// open buy there.
    #[test]
    fn a_modify_down_of_a_bid_over_the_gross_exposure_limit_is_not_refused() {
        use super::Sim;
        use ticklane_strategy::{OrderCommand, OrderUpdateKind};
        let mut s = Sim::new("max_gross_exposure = 5000");
        let (n, u) = s.order(10, Side::Bid, 9_9000, 400, TimeInForce::Day);
        assert_eq!(u, [OrderUpdateKind::Accepted]);
        market_moves_to_17(&mut s);
        // A buy adds exposure: refused.
        let (_, u) = s.order(30, Side::Bid, 9_9000, 1, TimeInForce::Day);
        assert_eq!(u, super::rejected(RiskRule::MaxGrossExposure));
        let down = OrderCommand::Modify {
            id: ClientOrderId::new(0, n),
            price: Price(9_9000),
            qty: Qty(300),
            filled: Qty(0),
        };
        assert_eq!(
            s.send(31, down),
            [OrderUpdateKind::Modified {
                price: Price(9_9000),
                qty: Qty(300)
            }],
            "shrinking a bid lowers the exposure"
        );
    }

    /// The same for a short: short 300 ($3,001.50 at mid 10.005); the market moves to mid
    /// 17.005 ($5,101.50, over $5,000). A bid of 100 leaves the worst case (still short 300 if
    /// it never fills) unchanged: it must pass. The exposure "as it stands" of a short is
    /// `open_sell − net`; no test had a short there.
    #[test]
    fn a_buy_that_does_not_raise_a_short_over_the_gross_exposure_limit_is_not_refused() {
        use super::Sim;
        use ticklane_strategy::{OrderUpdateKind, StrategyId};
        let mut s = Sim::new("max_gross_exposure = 5000");
        let (_, u) = s.order(10, Side::Ask, 9_9900, 300, TimeInForce::Ioc);
        assert_eq!(u, [OrderUpdateKind::Accepted, OrderUpdateKind::Filled]);
        assert_eq!(s.v.gate(StrategyId(0)).position(I).net, -300);
        market_moves_to_17(&mut s);
        // A sell adds exposure: refused.
        let (_, u) = s.order(30, Side::Ask, 17_0100, 1, TimeInForce::Day);
        assert_eq!(u, super::rejected(RiskRule::MaxGrossExposure));
        let (_, u) = s.order(31, Side::Bid, 17_0000, 100, TimeInForce::Day);
        assert_eq!(u, [OrderUpdateKind::Accepted], "a bid against a short 300");
    }

    /// A sell's proceeds are cash in: bought 100 at 10.00, sold 100 at 10.01, flat and up $1
    /// whatever the book. The only test sell fill (a short marked at the exact mid) was a
    /// loss that trips either way, so the sign of a sell's cash was never checked.
    #[test]
    fn a_round_trip_realizes_its_profit_in_the_gates_pnl() {
        let m = market();
        let mut g = gate("daily_loss_limit = 1");
        g.on_fill(&fill(Side::Bid, 10_0000, 100, 0));
        g.on_fill(&fill(Side::Ask, 10_0100, 100, 0));
        assert_eq!(g.position(I).net, 0);
        assert_eq!(g.position(I).cash, 10_000);
        assert_eq!(g.pnl(&m), 10_000);
        assert!(!g.evaluate(&m));
    }

    /// A partial fill leaves the rest of the order open: bid 200, 60 filled, so 60 held and
    /// 140 open (200 worst case); against `max_position = 300` another bid of 100 fits, 101
    /// does not. No test checked the open quantity after a partial fill.
    #[test]
    fn a_partial_fill_leaves_the_rest_open_against_max_position() {
        let m = market();
        let mut g = gate("max_position = 300");
        let bid = |n, q| submit(n, Side::Bid, 9_9000, q, TimeInForce::Day);
        assert_eq!(g.check(Timestamp(1), &bid(1, 200), &m), Ok(()));
        g.on_fill(&fill(Side::Bid, 9_9000, 60, 0));
        assert_eq!((g.position(I).net, g.position(I).open_buy), (60, 140));
        assert_eq!(
            g.check(Timestamp(2), &bid(2, 101), &m),
            Err(RiskRule::MaxPosition)
        );
        assert_eq!(g.check(Timestamp(2), &bid(3, 100), &m), Ok(()));
    }
}

/// a strategy whose daily loss limit tripped, then the manual kill switch: the
/// next trading day must not open its gate (the manual kill switch stays, as it does for a
/// strategy that never tripped). `engage_kill_switch` leaves a tripped gate's rule at
/// `DailyLoss`, and `start_day` clears every `DailyLoss`.
#[test]
fn a_new_day_does_not_lift_a_manual_kill_switch_engaged_after_a_daily_loss_trip() {
    let mut s = Sim::new("daily_loss_limit = 1\nmax_orders_per_sec = 2");
    let (_, u) = s.order(10, Side::Ask, 10_5000, 100, TimeInForce::Day);
    assert_eq!(u, OK);
    let (_, u) = s.order(11, Side::Bid, 10_0100, 300, TimeInForce::Ioc);
    assert_eq!(
        u,
        vec![
            OrderUpdateKind::Accepted,
            OrderUpdateKind::Filled,
            OrderUpdateKind::Cancelled
        ]
    );
    assert_eq!(s.v.gate(StrategyId(0)).tripped(), Some(RiskRule::DailyLoss));
    // A person engages the manual kill switch.
    let mut out = Vec::new();
    s.v.engage_kill_switch(Timestamp(20), &s.m, &mut out);
    // The next trading day.
    s.v.start_day(&s.m);
    let (_, u) = s.order(1_000_000_014, Side::Bid, 9_0000, 10, TimeInForce::Day);
    assert_eq!(
        u,
        rejected(RiskRule::KillSwitch),
        "the manual kill switch stays engaged across a new day"
    );
}
