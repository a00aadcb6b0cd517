//! Tests that kill surviving cargo-mutants mutants of engine/exec/src/{queue,latency,venue}.rs.

#![allow(clippy::unwrap_used)]

mod support;

/// Tests that kill the surviving mutants of `latency.rs` (cargo-mutants, review s39).
mod latency {
    use ticklane_core::Timestamp;
    use ticklane_exec::latency::{det_exp, det_ln, Xoshiro256};
    use ticklane_exec::{LatencyModel, LogNormal, LogNormalLatency};
    use ticklane_strategy::{ClientOrderId, OrderCommand};

    fn cancel(strategy: u16) -> OrderCommand {
        OrderCommand::Cancel {
            id: ClientOrderId::new(strategy, 1),
        }
    }

    const D: LogNormal = LogNormal {
        median_ns: 20_000,
        sigma: 0.8,
        min_ns: 1_000,
        max_ns: 10_000_000,
    };

    /// `min_ns > max_ns` is the only refused range: `min_ns == max_ns` (a fixed latency) is
    /// valid and gives that latency every time.
    #[test]
    fn a_degenerate_range_min_equal_max_is_accepted() {
        let d = LogNormal {
            min_ns: 7_000,
            max_ns: 7_000,
            ..D
        };
        let mut l = LogNormalLatency::new(1, d, d).expect("min_ns == max_ns is a valid range");
        for _ in 0..10 {
            assert_eq!(l.entry_ns(Timestamp(0), &cancel(0)), 7_000);
            assert_eq!(l.response_ns(Timestamp(0), 0), 7_000);
        }
    }

    /// `sigma` "0 gives the median every time": it must be accepted by `new` ("finite and >= 0").
    #[test]
    fn sigma_zero_is_accepted_and_gives_the_median() {
        let d = LogNormal { sigma: 0.0, ..D };
        let mut l = LogNormalLatency::new(3, d, d).expect("sigma 0 is valid");
        assert_eq!(l.entry_ns(Timestamp(0), &cancel(2)), 20_000);
        assert_eq!(l.response_ns(Timestamp(0), 2), 20_000);
    }

    /// Infinite or NaN sigma is refused, not only a negative one.
    #[test]
    fn non_finite_sigma_is_refused() {
        for sigma in [f64::INFINITY, f64::NAN] {
            let d = LogNormal { sigma, ..D };
            assert!(
                LogNormalLatency::new(1, d, D).is_err(),
                "entry sigma {sigma}"
            );
            assert!(
                LogNormalLatency::new(1, D, d).is_err(),
                "response sigma {sigma}"
            );
        }
    }

    /// The module docs: "strategy 0's entry generator is the seed's own".
    #[test]
    fn strategy_zero_entry_draws_come_from_the_seed_itself() {
        for seed in [0u64, 7, 0xDEAD_BEEF] {
            let mut l = LogNormalLatency::new(seed, D, D).unwrap();
            let mut rng = Xoshiro256::seed(seed);
            for _ in 0..20 {
                assert_eq!(l.entry_ns(Timestamp(0), &cancel(0)), D.sample(&mut rng));
            }
        }
    }

    /// Each strategy has its own entry and response generators: strategy 1's draws, and the
    /// response draws, are pinned (a change of the seeding shows up in every digest), differ
    /// from each other and do not move when another strategy draws in between.
    #[test]
    fn per_strategy_entry_and_response_draws_are_pinned_and_independent() {
        let draw = |l: &mut LogNormalLatency, s: u16| {
            (
                l.entry_ns(Timestamp(0), &cancel(s)),
                l.response_ns(Timestamp(0), s),
            )
        };
        let mut a = LogNormalLatency::new(7, D, D).unwrap();
        let a0: Vec<(u64, u64)> = (0..3).map(|_| draw(&mut a, 0)).collect();
        let a1: Vec<(u64, u64)> = (0..3).map(|_| draw(&mut a, 1)).collect();
        let a300: Vec<(u64, u64)> = (0..3).map(|_| draw(&mut a, 300)).collect();
        // Interleaved with other strategies' calls: the same draws.
        let mut b = LogNormalLatency::new(7, D, D).unwrap();
        let (mut b0, mut b1, mut b300) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            b300.push(draw(&mut b, 300));
            b1.push(draw(&mut b, 1));
            b0.push(draw(&mut b, 0));
        }
        assert_eq!((&a0, &a1, &a300), (&b0, &b1, &b300));
        assert_ne!(a0, a1);
        assert_ne!(a1, a300);
        let entry: Vec<u64> = a1.iter().map(|d| d.0).collect();
        let resp: Vec<u64> = a1.iter().map(|d| d.1).collect();
        assert_ne!(entry, resp);
        assert_eq!(
            a0.iter().map(|d| d.0).collect::<Vec<_>>(),
            vec![43_260u64, 15_683, 25_523]
        );
        // Strategy 0's responses, strategy 1's entries, strategy 1's responses (seed 7).
        assert_eq!(
            a0.iter().map(|d| d.1).collect::<Vec<_>>(),
            vec![9_016u64, 28_376, 37_802]
        );
        assert_eq!(entry, vec![4_355u64, 10_818, 7_932]);
        assert_eq!(resp, vec![19_539u64, 41_979, 14_577]);
    }

    /// `det_ln`'s documented edge values: -inf for `x <= 0`, +inf for +inf, NaN for NaN.
    #[test]
    fn det_ln_edge_values() {
        assert_eq!(det_ln(0.0), f64::NEG_INFINITY);
        assert_eq!(det_ln(-0.0), f64::NEG_INFINITY);
        assert_eq!(det_ln(-1.0), f64::NEG_INFINITY);
        assert_eq!(det_ln(f64::INFINITY), f64::INFINITY);
        assert!(det_ln(f64::NAN).is_nan());
        assert!(det_exp(f64::NAN).is_nan());
    }
}

/// Tests that kill the surviving mutants of `queue.rs`.
mod queue {
    use super::support::{add, ev, id, market, submit, I};
    use ticklane_book::OrderBook;
    use ticklane_core::{Price, Qty, Side, Timestamp};
    use ticklane_exec::{
        ConstantLatency, ExactQueue, OrdersAhead, PaperExchange, PerShareFees, QueueEvent,
        QueueModel, QueueOrder, TradeThroughQueue, Venue,
    };
    use ticklane_strategy::{ClientOrderId, TimeInForce};

    /// A model that tracks no queue (it keeps the trait's default `queue_ahead`).
    #[derive(Debug, Default)]
    struct NoQueue;

    impl QueueModel for NoQueue {
        type State = ();
        fn join(&mut self, _: &QueueOrder, _: &OrderBook<'_>, _: &mut ()) {}
        fn on_event(&mut self, _: &QueueOrder, _: &mut (), _: &QueueEvent) -> u32 {
            0
        }
    }

    /// `QueueModel::queue_ahead`: "Models that do not track a queue keep the default,
    /// `(0, 0)`", and `WorkingOrder::queue_ahead` is "0 under a model that tracks none".
    #[test]
    fn a_model_that_tracks_no_queue_reports_nothing_ahead() {
        let m = market();
        let mut v = PaperExchange::with_queue_model(
            ConstantLatency::default(),
            PerShareFees::ZERO,
            NoQueue,
        );
        let mut out = Vec::new();
        // Behind #4's 200 shares at 10.00 in the recorded book.
        v.on_command(
            Timestamp(10),
            &submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day),
            &m,
            &mut out,
        );
        let o = v.order(id(1)).expect("resting");
        assert_eq!((o.queue_ahead, o.orders_ahead), (0, 0));
        assert_eq!(NoQueue.queue_ahead(&()), (0, 0));
    }

    /// `TradeThroughQueue` keeps "the displayed quantity and number of orders at the order's
    /// level when it joined" and reports both: behind #4 (200) and #6 (50) at 10.00, that is
    /// (250, 2), for good (an execution of #4 changes nothing).
    #[test]
    fn trade_through_queue_reports_the_orders_ahead_it_keeps() {
        let mut m = market();
        m.apply(&ev(2, add(6, Side::Bid, 10_0000, 50)));
        let mut v = PaperExchange::with_queue_model(
            ConstantLatency::default(),
            PerShareFees::ZERO,
            TradeThroughQueue,
        );
        let mut out = Vec::new();
        v.on_command(
            Timestamp(10),
            &submit(1, Side::Bid, 10_0000, 100, TimeInForce::Day),
            &m,
            &mut out,
        );
        let o = v.order(id(1)).expect("resting");
        assert_eq!((o.queue_ahead, o.orders_ahead), (250, 2));
    }

    fn order(side: Side, px: i64) -> QueueOrder {
        QueueOrder {
            id: ClientOrderId::new(0, 1),
            instrument: I,
            side,
            price: Price(px),
            leaves: Qty(100),
        }
    }

    /// `OrdersAhead`'s accessors, as `ExactQueue` keeps them: joining behind #4 (200) and #6
    /// (50) at 10.00; #4 executes 150 (no print), then is deleted; #6 cancels its 50.
    #[test]
    fn orders_ahead_accessors_follow_the_queue() {
        let mut m = market();
        // A second bid at 10.00 (#6, 50) joins before us.
        m.apply(&ev(2, add(6, Side::Bid, 10_0000, 50)));
        let book = m.book(I).expect("book");
        let o = order(Side::Bid, 10_0000);
        let mut q = ExactQueue;
        let mut st = OrdersAhead::default();
        assert!(st.is_empty());
        assert_eq!((st.qty(), st.len()), (0, 0));
        q.join(&o, &book, &mut st);
        assert_eq!((st.qty(), st.len(), st.is_empty()), (250, 2, false));
        q.on_event(
            &o,
            &mut st,
            &QueueEvent::Executed {
                order_id: ticklane_core::OrderId(4),
                qty: Qty(150),
                print: None,
            },
        );
        assert_eq!((st.qty(), st.len(), st.is_empty()), (100, 2, false));
        q.on_event(
            &o,
            &mut st,
            &QueueEvent::Removed {
                order_id: ticklane_core::OrderId(4),
            },
        );
        assert_eq!((st.qty(), st.len(), st.is_empty()), (50, 1, false));
        q.on_event(
            &o,
            &mut st,
            &QueueEvent::Cancelled {
                order_id: ticklane_core::OrderId(6),
                qty: Qty(50),
            },
        );
        assert_eq!((st.qty(), st.len(), st.is_empty()), (0, 0, true));
        assert_eq!(q.queue_ahead(&st), (0, 0));
    }
}

/// Tests that kill the surviving mutants of `venue.rs`: the `Venue` trait's defaults and the
/// `Box<dyn Venue>` forwarding (the runtime drives every venue through `Box<dyn Venue>`).
mod venue {
    use super::support::{ev, id, I};
    use std::sync::{Arc, Mutex};
    use ticklane_book::Market;
    use ticklane_core::{EventBody, InstrumentId, MarketEvent, SystemEventCode, Timestamp};
    use ticklane_exec::{Venue, VenueReport};
    use ticklane_strategy::{
        OrderCommand, OrderUpdate, OrderUpdateKind, RiskRule, StrategyId, TradePrint,
    };

    fn update(n: u64, kind: OrderUpdateKind) -> VenueReport {
        VenueReport::Update(OrderUpdate {
            ts: Timestamp(1),
            id: id(n),
            instrument: I,
            kind,
        })
    }

    /// A venue that implements only what the trait requires: `working` orders, each of which
    /// `cancel_all` cancels; it also reports one non-cancel update.
    #[derive(Debug)]
    struct Minimal {
        working: usize,
    }

    impl Venue for Minimal {
        fn on_command(
            &mut self,
            _: Timestamp,
            _: &OrderCommand,
            _: &Market,
            _: &mut Vec<VenueReport>,
        ) {
        }
        fn on_market(
            &mut self,
            _: &MarketEvent,
            _: Option<&TradePrint>,
            _: &Market,
            _: &mut Vec<VenueReport>,
        ) {
        }
        fn cancel_all(&mut self, _: Timestamp, _: Option<StrategyId>, out: &mut Vec<VenueReport>) {
            out.push(update(99, OrderUpdateKind::Accepted));
            for n in 0..self.working {
                out.push(update(n as u64, OrderUpdateKind::Cancelled));
            }
            self.working = 0;
        }
        fn working_orders(&self) -> usize {
            self.working
        }
    }

    /// The trait's defaults: nothing in flight, no due time, watches every instrument while
    /// an order works (and none when none does), and the kill switch counts the `Cancelled`
    /// updates `cancel_all` appended, not other updates nor what `out` already held.
    #[test]
    fn venue_trait_defaults() {
        let m = Market::new();
        let mut v = Minimal { working: 0 };
        assert!(!v.has_pending());
        assert_eq!(v.next_due(), None);
        assert!(!v.watches(I), "no working order: nothing to watch");
        v.working = 1;
        assert!(v.watches(I));
        assert!(v.watches(InstrumentId(7)));
        v.working = 3;
        assert!(v.watches(I));
        // An answer already in `out` (a Cancelled of an earlier cancel) is not counted.
        let mut out = vec![update(50, OrderUpdateKind::Cancelled)];
        assert_eq!(v.engage_kill_switch(Timestamp(5), &m, &mut out), 3);
        assert_eq!(out.len(), 5);
        let mut out = Vec::new();
        assert_eq!(v.engage_kill_switch(Timestamp(6), &m, &mut out), 0);
        assert_eq!(out.len(), 1);
    }

    /// Records every call it gets, and answers with values no default gives.
    #[derive(Debug)]
    struct Recorder {
        log: Arc<Mutex<Vec<String>>>,
        pending: bool,
    }

    impl Recorder {
        fn note(&self, s: String) {
            self.log.lock().unwrap().push(s);
        }
    }

    impl Venue for Recorder {
        fn advance(&mut self, now: Timestamp, _: &Market, out: &mut Vec<VenueReport>) {
            self.note(format!("advance {}", now.0));
            out.push(update(1, OrderUpdateKind::Accepted));
        }
        fn has_pending(&self) -> bool {
            self.pending
        }
        fn next_due(&self) -> Option<Timestamp> {
            Some(Timestamp(42))
        }
        fn on_command(
            &mut self,
            now: Timestamp,
            _: &OrderCommand,
            _: &Market,
            out: &mut Vec<VenueReport>,
        ) {
            self.note(format!("command {}", now.0));
            out.push(update(2, OrderUpdateKind::Accepted));
        }
        fn on_market(
            &mut self,
            e: &MarketEvent,
            _: Option<&TradePrint>,
            _: &Market,
            out: &mut Vec<VenueReport>,
        ) {
            self.note(format!("market {}", e.ts.0));
            out.push(update(3, OrderUpdateKind::Accepted));
        }
        fn cancel_all(
            &mut self,
            now: Timestamp,
            s: Option<StrategyId>,
            out: &mut Vec<VenueReport>,
        ) {
            self.note(format!("cancel_all {} {:?}", now.0, s.map(|s| s.0)));
            out.push(update(4, OrderUpdateKind::Cancelled));
        }
        fn working_orders(&self) -> usize {
            5
        }
        fn watches(&self, instrument: InstrumentId) -> bool {
            instrument == I
        }
        fn engage_kill_switch(
            &mut self,
            now: Timestamp,
            _: &Market,
            _: &mut Vec<VenueReport>,
        ) -> u64 {
            self.note(format!("kill {}", now.0));
            7
        }
        fn start_day(&mut self, _: &Market) {
            self.note("start_day".into());
        }
        fn swap_instruments(&mut self, s: StrategyId, a: InstrumentId, b: InstrumentId) {
            self.note(format!("swap {} {} {}", s.0, a.0, b.0));
        }
        fn take_trips(&mut self, out: &mut Vec<(StrategyId, RiskRule)>) {
            self.note("take_trips".into());
            out.push((StrategyId(3), RiskRule::MaxPosition));
        }
        fn mark(&mut self, now: Timestamp, _: &Market, out: &mut Vec<VenueReport>) {
            self.note(format!("mark {}", now.0));
            out.push(update(6, OrderUpdateKind::Cancelled));
        }
    }

    /// `Box<dyn Venue>` forwards every method to the venue inside, arguments and answers.
    #[test]
    fn a_boxed_venue_forwards_every_call() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let m = Market::new();
        for pending in [true, false] {
            let v: Box<dyn Venue> = Box::new(Recorder {
                log: Arc::clone(&log),
                pending,
            });
            assert_eq!(v.has_pending(), pending);
        }
        let mut v: Box<dyn Venue> = Box::new(Recorder {
            log: Arc::clone(&log),
            pending: false,
        });
        log.lock().unwrap().clear();
        assert_eq!(v.next_due(), Some(Timestamp(42)));
        assert_eq!(v.working_orders(), 5);
        assert!(v.watches(I));
        assert!(!v.watches(InstrumentId(2)));
        let mut out = Vec::new();
        v.advance(Timestamp(10), &m, &mut out);
        let cmd = OrderCommand::Cancel { id: id(1) };
        v.on_command(Timestamp(11), &cmd, &m, &mut out);
        v.on_market(
            &ev(
                12,
                EventBody::SystemEvent {
                    code: SystemEventCode::StartOfMarketHours,
                },
            ),
            None,
            &m,
            &mut out,
        );
        v.cancel_all(Timestamp(13), Some(StrategyId(2)), &mut out);
        assert_eq!(v.engage_kill_switch(Timestamp(14), &m, &mut out), 7);
        v.start_day(&m);
        v.swap_instruments(StrategyId(1), InstrumentId(8), InstrumentId(9));
        let mut trips = Vec::new();
        v.take_trips(&mut trips);
        assert_eq!(trips, vec![(StrategyId(3), RiskRule::MaxPosition)]);
        v.mark(Timestamp(15), &m, &mut out);
        assert_eq!(out.len(), 5);
        assert_eq!(
            *log.lock().unwrap(),
            vec![
                "advance 10",
                "command 11",
                "market 12",
                "cancel_all 13 Some(2)",
                "kill 14",
                "start_day",
                "swap 1 8 9",
                "take_trips",
                "mark 15",
            ]
        );
    }
}
