//! A lane driven directly (no threads): timers, the kill switch, subscriptions.

mod support;

use std::sync::{Arc, Mutex};

use support::{item, session, spec, symbol};
use ticklane_core::{InstrumentId, MarketEvent, Qty, Side, Timestamp};
use ticklane_runtime::{BookScope, Lane, LaneControl, LaneEvent, LaneSettings, TouchVenue};
use ticklane_strategy::{
    Context, OrderUpdate, OrderUpdateKind, RejectReason, Strategy, TimeInForce, TimerId,
};

type Log = Arc<Mutex<Vec<String>>>;

/// Logs every callback with its event time.
struct Recorder {
    log: Log,
    quote: bool,
}

impl Recorder {
    fn push(&self, s: String) {
        if let Ok(mut l) = self.log.lock() {
            l.push(s);
        }
    }
}

impl Strategy for Recorder {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(Timestamp(5_000), TimerId(5));
        ctx.set_timer(Timestamp(3_000), TimerId(3));
        ctx.set_timer(Timestamp(3_000), TimerId(33));
    }
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        self.push(format!("event {} {}", ev.kind_name(), ctx.now().0));
        if self.quote && ctx.open_orders().is_empty() {
            if let Some(bid) = ctx.book(ev.instrument).and_then(|b| b.best_bid()) {
                ctx.limit(
                    ev.instrument,
                    Side::Bid,
                    bid.price,
                    Qty(100),
                    TimeInForce::Day,
                );
            }
        }
    }
    fn on_timer(&mut self, t: TimerId, ctx: &mut Context<'_>) {
        self.push(format!("timer {} {}", t.0, ctx.now().0));
    }
    fn on_order_update(&mut self, u: &OrderUpdate, _ctx: &mut Context<'_>) {
        self.push(format!("update {:?}", u.kind));
    }
}

/// Makes [`Recorder`]s logging to `log`.
fn recorder(log: &Log, quote: bool) -> ticklane_runtime::StrategyFactory {
    let l = log.clone();
    Arc::new(move || {
        Ok(Box::new(Recorder {
            log: l.clone(),
            quote,
        }) as Box<dyn Strategy>)
    })
}

fn lane_with(log: &Log, quote: bool, control: Arc<LaneControl>) -> Lane<TouchVenue> {
    let factory = recorder(log, quote);
    match Lane::new(
        LaneSettings::default(),
        vec![spec(0, "rec", &[symbol(1)], factory)],
        TouchVenue::new(),
        control,
        None,
    ) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    }
}

/// A lane with default settings, no control handle and no incident sink.
fn new_lane<V: ticklane_runtime::Venue>(
    strategies: Vec<ticklane_runtime::StrategySpec>,
    venue: V,
) -> Lane<V> {
    lane_with_settings(LaneSettings::default(), strategies, venue)
}

/// A lane with `settings`, no control handle and no incident sink.
fn lane_with_settings<V: ticklane_runtime::Venue>(
    settings: LaneSettings,
    strategies: Vec<ticklane_runtime::StrategySpec>,
    venue: V,
) -> Lane<V> {
    match Lane::new(settings, strategies, venue, Arc::default(), None) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    }
}

fn at(ts: u64, ev: &MarketEvent) -> MarketEvent {
    let mut e = *ev;
    e.ts = Timestamp(ts);
    e
}

#[test]
fn timers_fire_in_event_time_before_the_event_that_passes_them() {
    let log: Log = Arc::default();
    let mut lane = lane_with(&log, false, Arc::default());
    lane.start();
    let s = session(1, 1, 10);
    // Directory of SYM1, then events at 1000, 4000, 6000 ns.
    lane.process(&item(0, at(500, &s[0])), false);
    lane.process(&item(1, at(1_000, &s[1])), false);
    lane.process(&item(2, at(4_000, &s[2])), false);
    lane.process(&item(3, at(6_000, &s[3])), false);
    let got = log.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(
        got,
        vec![
            "event instrument_directory 500".to_string(),
            "event trading_status 1000".to_string(),
            // Same deadline: in arming order; `now` is the deadline, not the event's time.
            "timer 3 3000".to_string(),
            "timer 33 3000".to_string(),
            "event order_added 4000".to_string(),
            "timer 5 5000".to_string(),
            format!("event {} 6000", s[3].kind_name()),
        ]
    );
}

/// Re-arms its timer from `on_timer`, alternately in the past and at its own time (at most
/// 100 times: a lane that fired it again at one instant would log 100 fires there).
struct Rearm {
    log: Log,
    fires: u32,
}

impl Strategy for Rearm {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(Timestamp(3_000), TimerId(1));
    }
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("event {} {}", ev.kind_name(), ctx.now().0));
        }
    }
    fn on_timer(&mut self, t: TimerId, ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("timer {} {}", t.0, ctx.now().0));
        }
        self.fires += 1;
        if self.fires < 100 {
            // Odd fires: 1 µs in the past; even fires: at its own time.
            let at = ctx
                .now()
                .0
                .saturating_sub(1_000 * u64::from(self.fires % 2));
            ctx.set_timer(Timestamp(at), t);
        }
    }
}

#[test]
fn a_timer_re_armed_at_its_own_time_fires_a_step_later_and_never_goes_back_in_time() {
    let log: Log = Arc::default();
    let l = log.clone();
    let factory: ticklane_runtime::StrategyFactory = Arc::new(move || {
        Ok(Box::new(Rearm {
            log: l.clone(),
            fires: 0,
        }) as Box<dyn Strategy>)
    });
    let mut lane = new_lane(
        vec![spec(0, "rearm", &[symbol(1)], factory)],
        TouchVenue::new(),
    );
    lane.start();
    let s = session(1, 1, 10);
    lane.process(&item(0, at(500, &s[0])), false);
    lane.process(&item(1, at(1_000, &s[1])), false);
    lane.process(&item(2, at(4_000, &s[2])), false);
    lane.process(&item(3, at(6_000, &s[3])), false);
    let got = log.lock().map(|l| l.clone()).unwrap_or_default();
    // Each re-arm, in the past or "at once", fires 1 µs after the timer that armed it: a time
    // that depends only on the timer itself (the same in every lane layout), never earlier
    // than what the strategy has seen.
    assert_eq!(
        got,
        vec![
            "event instrument_directory 500".to_string(),
            "event trading_status 1000".to_string(),
            "timer 1 3000".to_string(),
            "timer 1 4000".to_string(),
            "event order_added 4000".to_string(),
            "timer 1 5000".to_string(),
            "timer 1 6000".to_string(),
            format!("event {} 6000", s[3].kind_name()),
        ]
    );
}

/// A lane keeping `books`, with one strategy made by `factory` subscribed to SYM1.
fn sym1_lane(books: BookScope, factory: ticklane_runtime::StrategyFactory) -> Lane<TouchVenue> {
    sym1_lane_on(books, factory, TouchVenue::new())
}

/// [`sym1_lane`] with `venue`.
fn sym1_lane_on<V: ticklane_runtime::Venue>(
    books: BookScope,
    factory: ticklane_runtime::StrategyFactory,
    venue: V,
) -> Lane<V> {
    match Lane::new(
        LaneSettings {
            books,
            ..LaneSettings::default()
        },
        vec![spec(0, "sym1", &[symbol(1)], factory)],
        venue,
        Arc::default(),
        None,
    ) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    }
}

/// A quoting recorder on SYM1 (a lane keeping `books`, the touch venue) fed `events`: its
/// log, the lane's report, and the live orders of the books of instruments 1 to 3 at the end.
fn quoting_run(
    books: BookScope,
    events: &[MarketEvent],
) -> (Vec<String>, ticklane_runtime::LaneReport, Vec<usize>) {
    let log: Log = Arc::default();
    let mut lane = sym1_lane(books, recorder(&log, true));
    lane.start();
    for (i, ev) in events.iter().enumerate() {
        lane.process(&item(i as u64, *ev), false);
    }
    let live = (1..=3)
        .map(|i| {
            lane.market()
                .book(InstrumentId(i))
                .map_or(usize::MAX, |b| b.order_count())
        })
        .collect();
    let report = lane.finish();
    let log = log.lock().map(|l| l.clone()).unwrap_or_default();
    (log, report, live)
}

/// [`quoting_run`] over a 3-instrument session.
fn three_instrument_run(
    books: BookScope,
) -> (Vec<String>, ticklane_runtime::LaneReport, Vec<usize>) {
    quoting_run(books, &session(2, 3, 300))
}

#[test]
fn unsubscribed_instruments_do_not_reach_the_strategy() {
    let (log, report, _) = three_instrument_run(BookScope::Subscribed);
    let events = log.iter().filter(|s| s.starts_with("event")).count();
    let expected = session(2, 3, 300)
        .iter()
        .filter(|e| e.instrument == InstrumentId(1) || e.instrument == InstrumentId::NONE)
        .count();
    assert_eq!(events, expected);
    assert_eq!(report.strategy_events, expected as u64);
}

#[test]
fn the_lane_keeps_only_the_books_its_strategies_read_and_the_run_is_the_same() {
    let (log, kept, live) = three_instrument_run(BookScope::Subscribed);
    let (all_log, all, all_live) = three_instrument_run(BookScope::All);
    // Every instrument is known (directory events are always applied), but only SYM1's book
    // is kept: SYM2's and SYM3's stay empty.
    assert_eq!(kept.instruments, 3);
    assert_eq!(kept.books_kept, 1);
    assert!(live[0] > 0, "{live:?}");
    assert_eq!(&live[1..], &[0, 0]);
    // Every event of SYM2 and SYM3 but their directory entries was counted and dropped.
    let others = session(2, 3, 300)
        .iter()
        .filter(|e| {
            e.instrument != InstrumentId(1)
                && e.instrument != InstrumentId::NONE
                && !matches!(e.body, ticklane_core::EventBody::InstrumentDirectory(_))
        })
        .count() as u64;
    assert!(others > 100);
    assert_eq!(kept.unkept_events, others);
    assert_eq!((kept.events, kept.late_books), (all.events, 0));
    // Keeping every book: the same for the strategy (it quoted, and its digest is the same).
    assert_eq!((all.books_kept, all.unkept_events), (3, 0));
    assert!(all_live.iter().all(|&n| n > 0), "{all_live:?}");
    assert_eq!(all_live[0], live[0]);
    assert!(log.iter().any(|l| l.starts_with("update")), "{log:?}");
    assert_eq!(log, all_log);
    assert_eq!(kept.strategies[0].digest, all.strategies[0].digest);
    assert_eq!(kept.strategies[0].commands, all.strategies[0].commands);
}

/// Submits one order for SYM2, which it does not subscribe to, on its first event.
struct Stray {
    log: Log,
    sent: bool,
}

impl Strategy for Stray {
    fn on_event(&mut self, _ev: &MarketEvent, ctx: &mut Context<'_>) {
        if !self.sent {
            self.sent = true;
            ctx.limit(
                InstrumentId(2),
                Side::Bid,
                ticklane_core::Price(100_0000),
                Qty(100),
                TimeInForce::Day,
            );
        }
    }
    fn on_order_update(&mut self, u: &OrderUpdate, _ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("{:?} {:?}", u.instrument, u.kind));
        }
    }
}

#[test]
fn a_submit_outside_the_strategys_subscriptions_is_refused() {
    for books in [BookScope::Subscribed, BookScope::All] {
        let log: Log = Arc::default();
        let l = log.clone();
        let factory: ticklane_runtime::StrategyFactory = Arc::new(move || {
            Ok(Box::new(Stray {
                log: l.clone(),
                sent: false,
            }) as Box<dyn Strategy>)
        });
        let mut lane = sym1_lane(books, factory);
        lane.start();
        for (i, ev) in session(2, 3, 100).iter().enumerate() {
            lane.process(&item(i as u64, *ev), false);
        }
        let report = lane.finish();
        assert_eq!(
            log.lock().map(|l| l.clone()).unwrap_or_default(),
            vec![format!(
                "{:?} {:?}",
                InstrumentId(2),
                OrderUpdateKind::Rejected(RejectReason::NotSubscribed)
            )],
            "{books:?}"
        );
        assert_eq!(report.strategies[0].rejects, 1);
        assert_eq!(report.working_orders, 0);
    }
}

#[test]
fn the_session_closes_as_if_every_book_were_kept_when_the_data_ends_on_other_instruments() {
    // The quoting recorder's order is acknowledged 40 µs after it is sent; every event after
    // it is another instrument's, which a lane keeping only SYM1's book drops. The close must
    // still reach their time first: the strategy hears the acknowledgement either way.
    use ticklane_core::{EventBody, InstrumentInfo, OrderId, Price, TradingState};
    use ticklane_exec::{ConstantLatency, PaperExchange, PerShareFees};
    let ev = |ts: u64, inst: u32, body: EventBody| {
        MarketEvent::new(Timestamp(ts), InstrumentId(inst), body)
    };
    let add = |id: u64, px: i64| EventBody::OrderAdded {
        order_id: OrderId(id),
        side: Side::Bid,
        price: Price(px),
        qty: Qty(500),
        mpid: [0; 4],
    };
    let mut events = Vec::new();
    for inst in [1, 2] {
        events.push(ev(
            1_000,
            inst,
            EventBody::InstrumentDirectory(InstrumentInfo::common_stock(symbol(inst))),
        ));
        events.push(ev(
            1_000,
            inst,
            EventBody::TradingStatus {
                state: TradingState::Trading,
                reason: *b"    ",
            },
        ));
    }
    events.push(ev(2_000, 1, add(1, 99_9900)));
    for (k, ts) in [3_000u64, 10_000, 50_000, 100_000].into_iter().enumerate() {
        events.push(ev(ts, 2, add(10 + k as u64, 50_0000)));
    }
    let run = |books: BookScope| {
        let log: Log = Arc::default();
        let venue =
            PaperExchange::with_models(ConstantLatency::new(20_000, 20_000), PerShareFees::ZERO);
        let mut lane = sym1_lane_on(books, recorder(&log, true), venue);
        lane.start();
        for (seq, e) in events.iter().enumerate() {
            lane.process(&item(seq as u64, *e), false);
        }
        let report = lane.finish();
        let log = log.lock().map(|l| l.clone()).unwrap_or_default();
        (log, report.strategies[0].digest)
    };
    let (kept_log, kept_digest) = run(BookScope::Subscribed);
    let (all_log, all_digest) = run(BookScope::All);
    assert!(
        all_log.iter().any(|l| l.starts_with("update Accepted")),
        "{all_log:?}"
    );
    assert_eq!(kept_log, all_log);
    assert_eq!(kept_digest, all_digest);
}

#[test]
fn an_order_resting_in_an_instrument_renamed_away_still_fills_as_if_every_book_were_kept() {
    // The recorder's bid rests in SYM1; a second directory message renames instrument 1 to a
    // symbol nobody subscribes to; then a trade prints through the bid. The lane no longer
    // shows instrument 1 to the strategy, but its venue still holds the order: the event is
    // kept for the venue, and the bid fills as when every book is kept.
    use ticklane_core::{EventBody, InstrumentInfo, MatchId, OrderId, Price, TradingState};
    let ev = |ts: u64, body: EventBody| MarketEvent::new(Timestamp(ts), InstrumentId(1), body);
    let add = |id: u64, px: i64| EventBody::OrderAdded {
        order_id: OrderId(id),
        side: Side::Bid,
        price: Price(px),
        qty: Qty(100),
        mpid: [0; 4],
    };
    let events = [
        ev(
            1_000,
            EventBody::InstrumentDirectory(InstrumentInfo::common_stock(symbol(1))),
        ),
        ev(
            1_000,
            EventBody::TradingStatus {
                state: TradingState::Trading,
                reason: *b"    ",
            },
        ),
        // The recorder quotes 100 at the best bid, 99.99.
        ev(2_000, add(1, 99_9900)),
        ev(
            3_000,
            EventBody::InstrumentDirectory(InstrumentInfo::common_stock(symbol(9))),
        ),
        ev(4_000, add(2, 99_9800)),
        ev(
            5_000,
            EventBody::OrderExecuted {
                order_id: OrderId(2),
                qty: Qty(100),
                match_id: MatchId(1),
            },
        ),
    ];
    let run = |books: BookScope| {
        let (log, report, _) = quoting_run(books, &events);
        (log, report.strategies[0].fills, report.strategies[0].digest)
    };
    let kept = run(BookScope::Subscribed);
    let all = run(BookScope::All);
    assert_eq!(
        all.1, 1,
        "the bid fills when every book is kept: {:?}",
        all.0
    );
    assert_eq!(kept, all);
}

#[test]
fn a_wildcard_strategy_keeps_every_book() {
    let log: Log = Arc::default();
    let star = ticklane_core::Symbol::new("*").unwrap_or_default();
    let mut lane = new_lane(
        vec![spec(0, "all", &[star], recorder(&log, false))],
        TouchVenue::new(),
    );
    lane.start();
    for (i, ev) in session(2, 3, 300).iter().enumerate() {
        lane.process(&item(i as u64, *ev), false);
    }
    let report = lane.finish();
    assert_eq!((report.books_kept, report.instruments), (3, 3));
    assert_eq!(report.unkept_events, 0);
}

#[test]
fn a_subscription_that_comes_after_dropped_events_is_reported() {
    // SYM1's orders arrive before its directory entry: the lane cannot know yet that its
    // strategy will read that book, drops them, and says so when the entry arrives.
    let log: Log = Arc::default();
    let mut lane = lane_with(&log, false, Arc::default());
    lane.start();
    let s = session(4, 1, 60);
    let (directory, rest) = s.split_at(2);
    for (i, ev) in rest.iter().chain(directory).enumerate() {
        lane.process(&item(i as u64, *ev), false);
    }
    let report = lane.finish();
    assert_eq!(report.late_books, 1);
    assert!(report.unkept_events > 0);
}

#[test]
fn kill_switch_cancels_open_orders_and_rejects_new_ones() {
    let log: Log = Arc::default();
    let control = Arc::new(LaneControl::default());
    let mut lane = lane_with(&log, true, control.clone());
    lane.start();
    let s = session(4, 1, 200);
    let mut seq = 0;
    for ev in &s[..100] {
        lane.process(&item(seq, *ev), false);
        seq += 1;
    }
    let before = lane.working_orders();
    assert_eq!(before, 1, "the recorder quotes one bid");
    control
        .kill
        .store(true, std::sync::atomic::Ordering::Relaxed);
    lane.poll_control();
    assert_eq!(lane.working_orders(), 0);
    for ev in &s[100..] {
        lane.process(&item(seq, *ev), false);
        seq += 1;
    }
    let report = lane.finish();
    assert!(report.killed);
    assert_eq!(report.working_orders, 0);
    let log = log.lock().map(|l| l.clone()).unwrap_or_default();
    let cancelled = log
        .iter()
        .filter(|l| l.as_str() == "update Cancelled")
        .count();
    assert_eq!(cancelled, 1);
    let halted = format!(
        "update {:?}",
        OrderUpdateKind::Rejected(RejectReason::TradingHalted)
    );
    // After the kill switch every new submit is refused.
    let after = log.iter().skip_while(|l| l.as_str() != "update Cancelled");
    assert!(after.clone().any(|l| *l == halted));
    assert!(!after.clone().any(|l| l.as_str() == "update Accepted"));
}

/// Takes the ask with an IOC buy on its first event of instrument 1, then panics on the
/// event at `panic_at`.
struct TakeThenPanic {
    sent: bool,
    panic_at: u64,
}

impl Strategy for TakeThenPanic {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        assert!(ev.ts.0 != self.panic_at, "boom at {}", self.panic_at);
        if !self.sent {
            self.sent = take_the_ask(ev.instrument, ctx);
        }
    }
}

/// Buys 100 shares at the best ask (IOC), if there is one; returns whether it sent the order.
fn take_the_ask(instrument: InstrumentId, ctx: &mut Context<'_>) -> bool {
    let Some(ask) = ctx.book(instrument).and_then(|b| b.best_ask()) else {
        return false;
    };
    ctx.limit(instrument, Side::Bid, ask.price, Qty(100), TimeInForce::Ioc);
    true
}

/// SYM1 opens: its directory entry at 1 µs, trading at 2 µs, a bid of 500 at 99.99 (id 1)
/// at 3 µs, an ask of 500 at 100.01 (id 2) at 10 µs.
fn sym1_opening() -> Vec<MarketEvent> {
    use ticklane_core::{EventBody, InstrumentInfo, TradingState};
    let ev = |ts: u64, body: EventBody| MarketEvent::new(Timestamp(ts), InstrumentId(1), body);
    vec![
        ev(
            1_000,
            EventBody::InstrumentDirectory(InstrumentInfo::common_stock(symbol(1))),
        ),
        ev(
            2_000,
            EventBody::TradingStatus {
                state: TradingState::Trading,
                reason: *b"    ",
            },
        ),
        sym1_add(3_000, 1, Side::Bid, 99_9900),
        sym1_add(10_000, 2, Side::Ask, 100_0100),
    ]
}

/// An order of 500 SYM1 shares added at `ts`.
fn sym1_add(ts: u64, id: u64, side: Side, px: i64) -> MarketEvent {
    use ticklane_core::{EventBody, OrderId, Price};
    let body = EventBody::OrderAdded {
        order_id: OrderId(id),
        side,
        price: Price(px),
        qty: Qty(500),
        mpid: [0; 4],
    };
    MarketEvent::new(Timestamp(ts), InstrumentId(1), body)
}

/// A lane with one `TakeThenPanic` strategy on SYM1 (panicking at `panic_at`) and a paper
/// exchange 20 µs away each way; the events: directory, trading, a bid at 3 µs, the ask at
/// 10 µs (the strategy's IOC leaves then: it fills at the venue at 30 µs, the report is due
/// at 50 µs), then one bid add at each of `later` (event times).
fn taker_lane(panic_at: u64, later: &[u64]) -> ticklane_runtime::LaneReport {
    use ticklane_exec::{ConstantLatency, PaperExchange, PerShareFees};
    let venue =
        PaperExchange::with_models(ConstantLatency::new(20_000, 20_000), PerShareFees::ZERO);
    let factory: ticklane_runtime::StrategyFactory = Arc::new(move || {
        Ok(Box::new(TakeThenPanic {
            sent: false,
            panic_at,
        }) as Box<dyn Strategy>)
    });
    let mut lane = new_lane(vec![spec(0, "taker", &[symbol(1)], factory)], venue);
    lane.start();
    let mut events = sym1_opening();
    for (k, &ts) in later.iter().enumerate() {
        events.push(sym1_add(
            ts,
            3 + k as u64,
            Side::Bid,
            99_9800 - 100 * k as i64,
        ));
    }
    for (seq, e) in events.iter().enumerate() {
        lane.process(&item(seq as u64, *e), false);
    }
    lane.finish()
}

/// The strategy's fills, net position and ledger position on SYM1.
fn taker_outcome(report: &ticklane_runtime::LaneReport) -> (u64, i64, Option<i64>) {
    let s = &report.strategies[0];
    let net = s.positions.iter().map(|p| p.2.net).sum();
    let ledger = s.ledger.instrument(InstrumentId(1)).map(|p| p.position);
    (s.fills, net, ledger)
}

#[test]
fn a_fill_in_flight_when_a_strategy_panics_reaches_its_position_and_pnl() {
    // The strategy panics at 40 µs, between the fill (30 µs) and its report (50 µs).
    let report = taker_lane(40_000, &[40_000, 100_000]);
    assert_eq!(report.strategies[0].panics, 1, "the strategy panicked once");
    assert_eq!(taker_outcome(&report), (1, 100, Some(100)));
    assert_eq!(report.fills, 1);
}

#[test]
fn a_fill_in_flight_when_the_data_ends_reaches_the_final_position() {
    // The data ends at 35 µs: the fill happened (30 µs), its report was due at 50 µs.
    let report = taker_lane(u64::MAX, &[35_000]);
    assert_eq!(report.strategies[0].panics, 0);
    assert_eq!(taker_outcome(&report), (1, 100, Some(100)));
}

/// A venue that records when the lane marks it to market.
struct MarkLog(Arc<Mutex<Vec<u64>>>);

impl ticklane_runtime::Venue for MarkLog {
    fn on_command(
        &mut self,
        _now: Timestamp,
        _cmd: &ticklane_strategy::OrderCommand,
        _market: &ticklane_book::Market,
        _out: &mut Vec<ticklane_exec::VenueReport>,
    ) {
    }
    fn on_market(
        &mut self,
        _event: &MarketEvent,
        _trade: Option<&ticklane_strategy::TradePrint>,
        _market: &ticklane_book::Market,
        _out: &mut Vec<ticklane_exec::VenueReport>,
    ) {
    }
    fn cancel_all(
        &mut self,
        _now: Timestamp,
        _strategy: Option<ticklane_strategy::StrategyId>,
        _out: &mut Vec<ticklane_exec::VenueReport>,
    ) {
    }
    fn working_orders(&self) -> usize {
        0
    }
    fn mark(
        &mut self,
        now: Timestamp,
        _market: &ticklane_book::Market,
        _out: &mut Vec<ticklane_exec::VenueReport>,
    ) {
        if let Ok(mut l) = self.0.lock() {
            l.push(now.0);
        }
    }
}

#[test]
fn the_venue_is_marked_on_every_second_boundary_until_a_mark_is_quiet() {
    let marks = Arc::new(Mutex::new(Vec::new()));
    let mut lane = new_lane(Vec::new(), MarkLog(marks.clone()));
    lane.start();
    let s = session(1, 1, 10);
    const SEC: u64 = 1_000_000_000;
    lane.process(&item(0, at(SEC / 2, &s[0])), false);
    // A heartbeat crossing 1 s, an event at 1.5 s, one at 2.1 s: marks at 1 and 2 s, stamped
    // at the boundaries, not at the items' times.
    let mut hb = item(1, at(SEC + 7, &s[1]));
    hb.heartbeat = true;
    lane.process(&hb, false);
    lane.process(&item(2, at(SEC + SEC / 2, &s[2])), false);
    lane.process(&item(3, at(2 * SEC + SEC / 10, &s[3])), false);
    // Then an event crossing 3, 4 and 5 s (5.2 s): this venue's marks report nothing, so the
    // mark at 3 s stands for 4 and 5 s (the same books cannot give another answer).
    lane.process(&item(4, at(5 * SEC + SEC / 5, &s[4])), false);
    let got = marks.lock().map(|m| m.clone()).unwrap_or_default();
    assert_eq!(got, vec![SEC, 2 * SEC, 3 * SEC]);
}

#[test]
fn event_times_at_the_end_of_u64_neither_panic_nor_wrap_the_marks_round() {
    // A corrupt or crafted source can stamp events within a second of `u64::MAX`: past the
    // last second boundary a `u64` holds no mark is due (the next boundary's arithmetic
    // overflowed: a panic in a debug build, marks wrapped round to zero or a lane looping for
    // ever in a release one).
    const SEC: u64 = 1_000_000_000;
    let s = session(1, 1, 10);
    let last_boundary = u64::MAX - u64::MAX % SEC;
    // From an ordinary start, then a jump to the end of time.
    let marks = Arc::new(Mutex::new(Vec::new()));
    let mut lane = new_lane(Vec::new(), MarkLog(marks.clone()));
    lane.start();
    lane.process(&item(0, at(SEC / 2, &s[0])), false);
    lane.process(&item(1, at(u64::MAX - 5, &s[1])), false);
    lane.process(&item(2, at(u64::MAX, &s[2])), false);
    lane.process(&item(3, at(u64::MAX, &s[3])), false);
    let _ = lane.finish();
    // Quiet marks: the one at 1 s stands for every boundary after it.
    assert_eq!(marks.lock().map(|m| m.clone()).unwrap_or_default(), [SEC]);
    // Starting just before the last boundary: marked there, then none.
    let marks = Arc::new(Mutex::new(Vec::new()));
    let mut lane = new_lane(Vec::new(), MarkLog(marks.clone()));
    lane.start();
    lane.process(&item(0, at(last_boundary - 1, &s[0])), false);
    lane.process(&item(1, at(u64::MAX, &s[1])), false);
    let _ = lane.finish();
    assert_eq!(
        marks.lock().map(|m| m.clone()).unwrap_or_default(),
        [last_boundary]
    );
    // Starting past it: no mark at all.
    let marks = Arc::new(Mutex::new(Vec::new()));
    let mut lane = new_lane(Vec::new(), MarkLog(marks.clone()));
    lane.start();
    lane.process(&item(0, at(u64::MAX - 1, &s[0])), false);
    lane.process(&item(1, at(u64::MAX, &s[1])), false);
    let _ = lane.finish();
    assert!(marks.lock().map(|m| m.is_empty()).unwrap_or(false));
}

/// Panics on the event at `at`.
struct PanicAt(u64);

impl Strategy for PanicAt {
    fn on_event(&mut self, ev: &MarketEvent, _ctx: &mut Context<'_>) {
        assert!(ev.ts.0 != self.0, "boom at {}", self.0);
    }
}

/// Arms one timer at `at` when it starts.
struct TimerAt(u64);

impl Strategy for TimerAt {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(Timestamp(self.0), TimerId(1));
    }
}

/// Records in the stream and digest of a `TimerAt(timer_at)` strategy whose lane is halted by
/// its neighbour's panic at 3 µs, the data running on to 10 µs.
fn after_a_halt(timer_at: u64) -> (u64, [u8; 32]) {
    let boom: ticklane_runtime::StrategyFactory =
        Arc::new(|| Ok(Box::new(PanicAt(3_000)) as Box<dyn Strategy>));
    let sleeper: ticklane_runtime::StrategyFactory =
        Arc::new(move || Ok(Box::new(TimerAt(timer_at)) as Box<dyn Strategy>));
    let settings = LaneSettings {
        panic_policy: ticklane_runtime::PanicPolicy::HaltLane,
        ..LaneSettings::default()
    };
    let strategies = vec![
        spec(0, "boom", &[symbol(1)], boom),
        spec(1, "sleeper", &[symbol(1)], sleeper),
    ];
    let mut lane = lane_with_settings(settings, strategies, TouchVenue::new());
    lane.start();
    for (seq, e) in sym1_opening().iter().enumerate() {
        lane.process(&item(seq as u64, *e), false);
    }
    let report = lane.finish();
    assert!(report.halted);
    let s = &report.strategies[1];
    (s.records, s.digest)
}

#[test]
fn a_halted_lane_fires_no_timers_into_its_strategies_digests() {
    // The timer falls due after the halt (3 µs) and before the data ends (10 µs): no strategy
    // is called any more, so none may record it; its stream is that of a timer never due.
    assert_eq!(after_a_halt(5_000), after_a_halt(1_000_000));
    // And one due before the halt is recorded (the comparison can tell).
    assert_ne!(after_a_halt(2_500).0, after_a_halt(1_000_000).0);
}

/// Buys 100 SYM1 at the best ask (Day) once there is one, and on hearing the order accepted
/// (before the fill reported with it) moves all 100 open shares to the best bid; on hearing
/// that modify done (and the fill), asks once more for the 40 it then knows are open.
struct ModifyOnAccept {
    sent: bool,
    again: bool,
    log: Log,
}

impl Strategy for ModifyOnAccept {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if self.sent {
            return;
        }
        if let Some(ask) = ctx.book(ev.instrument).and_then(|b| b.best_ask()) {
            ctx.limit(
                ev.instrument,
                Side::Bid,
                ask.price,
                Qty(100),
                TimeInForce::Day,
            );
            self.sent = true;
        }
    }
    fn on_order_update(&mut self, u: &OrderUpdate, ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("{:?}", u.kind));
        }
        if u.kind == OrderUpdateKind::Accepted {
            if let Some(bid) = ctx.book(u.instrument).and_then(|b| b.best_bid()) {
                ctx.modify(u.id, bid.price, Qty(100));
            }
        }
        if let (OrderUpdateKind::Modified { price, .. }, false) = (u.kind, self.again) {
            // As of the 60 filled that it has heard of: 40 open (its context tells the venue
            // so; without, the venue would take the 60 off again and cancel the order).
            ctx.modify(u.id, price, Qty(40));
            self.again = true;
        }
    }
    fn on_fill(&mut self, f: &ticklane_strategy::Fill, _ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("fill {}", f.qty.0));
        }
    }
}

#[test]
fn a_modify_sent_before_a_fill_reported_in_the_same_batch_does_not_reopen_its_shares() {
    // The order takes the 60 shares offered at once: the venue answers `Accepted` and the
    // fill together. The strategy, answering `Accepted`, had heard of no fill and asked for
    // 100 open shares: the 60 that traded come off them (40 stay open), as the `Context::modify`
    // contract says; the venue counted the fill as known since it had left the venue, and
    // re-opened them (160 shares bought or working for an order of 100).
    use ticklane_core::{EventBody, OrderId, Price};
    let log: Log = Arc::default();
    let l = log.clone();
    let factory: ticklane_runtime::StrategyFactory = Arc::new(move || {
        Ok(Box::new(ModifyOnAccept {
            sent: false,
            again: false,
            log: l.clone(),
        }) as Box<dyn Strategy>)
    });
    for venue_kind in ["paper", "touch"] {
        if let Ok(mut g) = log.lock() {
            g.clear();
        }
        let mut events = sym1_opening();
        // The ask: 60 shares at 100.01 (the opening's is 500).
        events[3] = MarketEvent::new(
            Timestamp(10_000),
            InstrumentId(1),
            EventBody::OrderAdded {
                order_id: OrderId(2),
                side: Side::Ask,
                price: Price(100_0100),
                qty: Qty(60),
                mpid: [0; 4],
            },
        );
        let strategies = vec![spec(0, "modifier", &[symbol(1)], factory.clone())];
        let report = if venue_kind == "paper" {
            let mut lane = new_lane(strategies, ticklane_exec::PaperExchange::new());
            lane.start();
            for (seq, e) in events.iter().enumerate() {
                lane.process(&item(seq as u64, *e), false);
            }
            lane.finish()
        } else {
            let mut lane = new_lane(strategies, TouchVenue::new());
            lane.start();
            for (seq, e) in events.iter().enumerate() {
                lane.process(&item(seq as u64, *e), false);
            }
            lane.finish()
        };
        let got = log.lock().map(|l| l.clone()).unwrap_or_default();
        let modified = format!(
            "{:?}",
            OrderUpdateKind::Modified {
                price: Price(99_9900),
                qty: Qty(40)
            }
        );
        assert_eq!(
            got,
            [
                "Accepted".to_string(),
                "fill 60".to_string(),
                modified.clone(),
                modified.clone(),
            ],
            "{venue_kind}"
        );
        assert_eq!(report.strategies[0].fills, 1, "{venue_kind}");
    }
}

/// Arms a timer at 5 µs; on it, sends an order the lane refuses at once (an instrument it
/// does not subscribe to), and on the refusal retries "at once" (a timer at its own `now`);
/// gives up after 100 tries so that a test of the old behaviour ends.
struct RetryAtOnce {
    fired: Log,
}

impl Strategy for RetryAtOnce {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(Timestamp(5_000), TimerId(1));
    }
    fn on_timer(&mut self, _t: TimerId, ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.fired.lock() {
            l.push(ctx.now().0.to_string());
        }
        ctx.limit(
            InstrumentId(99),
            Side::Bid,
            ticklane_core::Price(10_0000),
            Qty(100),
            TimeInForce::Day,
        );
    }
    fn on_order_update(&mut self, u: &OrderUpdate, ctx: &mut Context<'_>) {
        let tries = self.fired.lock().map(|l| l.len()).unwrap_or(usize::MAX);
        if matches!(u.kind, OrderUpdateKind::Rejected(_)) && tries < 100 {
            ctx.set_timer(ctx.now(), TimerId(1));
        }
    }
}

#[test]
fn a_timer_re_armed_at_once_from_a_refusal_of_its_own_orders_fires_a_step_later() {
    // The refusal comes back while the timer's orders are routed, at the timer's time: a
    // timer armed "at once" from it fires a step (1 µs) later, as one re-armed from
    // `on_timer` does. It fired again at the same instant, for ever (here: 100 times at 5 µs).
    let fired: Log = Arc::default();
    let f = fired.clone();
    let factory: ticklane_runtime::StrategyFactory =
        Arc::new(move || Ok(Box::new(RetryAtOnce { fired: f.clone() }) as Box<dyn Strategy>));
    let mut lane = new_lane(
        vec![spec(0, "retry", &[symbol(1)], factory)],
        TouchVenue::new(),
    );
    lane.start();
    for (seq, e) in sym1_opening().iter().enumerate() {
        lane.process(&item(seq as u64, *e), false);
    }
    let report = lane.finish();
    let got = fired.lock().map(|l| l.clone()).unwrap_or_default();
    // 5 µs, then a step later each time, up to the last event (10 µs).
    assert_eq!(got, ["5000", "6000", "7000", "8000", "9000", "10000"]);
    assert_eq!(report.strategies[0].rejects, 6);
}

/// Buys 100 SYM1 at the ask (IOC) on the first event that shows one and rests a bid far
/// below; buys 100 more on a timer at `timer_at`; logs its timers and order updates.
struct QuietHolder {
    log: Log,
    sent: bool,
    timer_at: u64,
}

impl Strategy for QuietHolder {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(Timestamp(self.timer_at), TimerId(7));
    }
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if !self.sent && take_the_ask(ev.instrument, ctx) {
            ctx.limit(
                ev.instrument,
                Side::Bid,
                ticklane_core::Price(90_0000),
                Qty(100),
                TimeInForce::Day,
            );
            self.sent = true;
        }
    }
    fn on_timer(&mut self, t: TimerId, ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("timer {} {}", t.0, ctx.now().0));
        }
        // Buys 100 more: equity moves between two marks of a quiet stretch.
        take_the_ask(InstrumentId(1), ctx);
    }
    fn on_order_update(&mut self, u: &OrderUpdate, ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("update {:?} {}", u.kind, ctx.now().0));
        }
    }
}

/// A `QuietHolder` on SYM1 behind a paper exchange (`latency` ns each way) and a $20 daily
/// loss limit, over hours of event time with few events: it buys at 100.01 at the open and
/// again on its timer at `timer_at`, the market falls at 2,000.3 s (its loss passes the
/// limit: the mark at 2,001 s trips it and cancels its resting bid), the data ends at
/// 5,000.7 s. With `heartbeats`, a heartbeat at every second boundary in between, so that
/// every mark runs on its own.
fn quiet_hours(
    heartbeats: bool,
    latency: u64,
    timer_at: u64,
) -> (ticklane_runtime::LaneReport, Vec<String>) {
    use ticklane_exec::{
        ConstantLatency, PaperExchange, PerShareFees, RiskGate, RiskLimits, RiskedVenue,
    };
    const SEC: u64 = 1_000_000_000;
    let limits =
        RiskLimits::from_toml_str("daily_loss_limit = 20").unwrap_or_else(|e| panic!("{e}"));
    let gate = RiskGate::new(limits).unwrap_or_else(|e| panic!("{e}"));
    let venue = RiskedVenue::new(
        PaperExchange::with_models(ConstantLatency::new(latency, latency), PerShareFees::ZERO),
        gate,
    );
    let log: Log = Arc::default();
    let l = log.clone();
    let factory: ticklane_runtime::StrategyFactory = Arc::new(move || {
        Ok(Box::new(QuietHolder {
            log: l.clone(),
            sent: false,
            timer_at,
        }) as Box<dyn Strategy>)
    });
    let mut lane = new_lane(vec![spec(0, "holder", &[symbol(1)], factory)], venue);
    lane.start();
    let mut events = sym1_opening();
    events.push(sym1_add(2_000 * SEC + 300, 3, Side::Bid, 99_5000));
    events.push(MarketEvent::new(
        Timestamp(2_000 * SEC + 400),
        InstrumentId(1),
        ticklane_core::EventBody::OrderDeleted {
            order_id: ticklane_core::OrderId(1),
        },
    ));
    events.push(sym1_add(5_000 * SEC + 700, 4, Side::Bid, 99_4000));
    let mut next_second = 1;
    for (seq, e) in events.iter().enumerate() {
        while heartbeats && next_second * SEC <= e.ts.0 {
            let mut hb = item(seq as u64, at(next_second * SEC, e));
            hb.heartbeat = true;
            lane.process(&hb, false);
            next_second += 1;
        }
        lane.process(&item(seq as u64, *e), false);
    }
    let report = lane.finish();
    let log = log.lock().map(|l| l.clone()).unwrap_or_default();
    (report, log)
}

/// Runs [`quiet_hours`] without and with a heartbeat every second and checks that the two
/// runs are the same.
fn same_run_with_a_mark_every_second(latency: u64, timer_at: u64) {
    const SEC: u64 = 1_000_000_000;
    let (quiet, quiet_log) = quiet_hours(false, latency, timer_at);
    let (marked, marked_log) = quiet_hours(true, latency, timer_at);
    assert_eq!(marked.heartbeats - quiet.heartbeats, 5_000);
    // The scenario does what it says: the fills, the timer, the trip's cancel at 2,001 s.
    assert_eq!(marked.strategies[0].fills, 2);
    assert!(
        marked_log.contains(&format!("timer 7 {timer_at}")),
        "{marked_log:?}"
    );
    assert!(
        marked_log.contains(&format!("update Filled {}", timer_at + 2 * latency)),
        "{marked_log:?}"
    );
    assert!(
        marked_log.contains(&format!("update Cancelled {}", 2_001 * SEC)),
        "{marked_log:?}"
    );
    assert_eq!(quiet_log, marked_log);
    let (q, m) = (&quiet.strategies[0], &marked.strategies[0]);
    assert_eq!(q.digest, m.digest);
    assert_eq!(
        (q.fills, q.rejects, q.commands),
        (m.fills, m.rejects, m.commands)
    );
    assert_eq!(q.pnl, m.pnl);
    assert_eq!(q.max_drawdown, m.max_drawdown);
    // One equity point per second from the first boundary after the first fill (1 s) to the
    // last before the end (5,000 s), and one at the close; equal in both runs.
    let curve: Vec<_> = q.ledger.equity_curve().iter().collect();
    assert_eq!(curve, m.ledger.equity_curve().iter().collect::<Vec<_>>());
    let ts: Vec<u64> = curve.iter().map(|p| p.ts.0).collect();
    let mut want: Vec<u64> = (1..=5_000).map(|k| k * SEC).collect();
    want.push(5_000 * SEC + 700);
    assert_eq!(ts, want);
    assert_eq!(q.ledger, m.ledger);
}

#[test]
fn a_quiet_stretch_of_event_time_gives_the_same_run_as_a_mark_every_second() {
    const SEC: u64 = 1_000_000_000;
    // The timer's order is still on its way to the venue at the 100 s mark (a venue deadline
    // inside the stretch).
    same_run_with_a_mark_every_second(20_000, 100 * SEC - 10_000);
    // No latency: the timer fires at 100 s exactly and its fill is booked at once, before the
    // mark of that second (a deadline on a mark's own time comes first).
    same_run_with_a_mark_every_second(0, 100 * SEC);
}

/// Tries to cancel and re-price strategy 0's first order on every event.
struct Thief {
    log: Log,
}

impl Strategy for Thief {
    fn on_event(&mut self, _ev: &MarketEvent, ctx: &mut Context<'_>) {
        let victim = ticklane_strategy::ClientOrderId::new(0, 0);
        ctx.cancel(victim);
        ctx.modify(victim, ticklane_core::Price(1), Qty(1));
    }
    fn on_order_update(&mut self, u: &OrderUpdate, _ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("{:?} {:?}", u.id, u.kind));
        }
    }
}

#[test]
fn a_strategy_cannot_cancel_or_modify_another_strategys_order() {
    let (victim_log, thief_log): (Log, Log) = (Arc::default(), Arc::default());
    let tl = thief_log.clone();
    let victim = recorder(&victim_log, true);
    let thief: ticklane_runtime::StrategyFactory =
        Arc::new(move || Ok(Box::new(Thief { log: tl.clone() }) as Box<dyn Strategy>));
    let mut lane = new_lane(
        vec![
            spec(0, "victim", &[symbol(1)], victim),
            spec(1, "thief", &[symbol(1)], thief),
        ],
        TouchVenue::new(),
    );
    lane.start();
    for (i, ev) in session(1, 1, 200).iter().enumerate() {
        lane.process(&item(i as u64, *ev), false);
    }
    let report = lane.finish();
    let victim_log = victim_log.lock().map(|l| l.clone()).unwrap_or_default();
    let thief_log = thief_log.lock().map(|l| l.clone()).unwrap_or_default();
    // The victim's order was accepted and never cancelled or modified by anyone.
    assert!(
        victim_log.iter().any(|l| l == "update Accepted"),
        "{victim_log:?}"
    );
    assert!(
        !victim_log
            .iter()
            .any(|l| l.contains("Cancelled") || l.contains("Modified") || l.contains("Rejected")),
        "{victim_log:?}"
    );
    // Every attempt came back to the thief, refused.
    assert!(thief_log.len() >= 2, "{thief_log:?}");
    assert!(
        thief_log
            .iter()
            .all(|l| l.ends_with("AmendRejected(UnknownOrder)")),
        "{thief_log:?}"
    );
    assert_eq!(report.strategies[1].rejects, thief_log.len() as u64);
}

/// The first instance sends two resting bids on its first event with a bid, then panics on
/// the first report it gets; later instances send nothing and log every report they get.
struct TwoThenPanic {
    first: bool,
    sent: bool,
    log: Log,
}

impl Strategy for TwoThenPanic {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if !self.first || self.sent {
            return;
        }
        if let Some(bid) = ctx.book(ev.instrument).and_then(|b| b.best_bid()) {
            for k in 1..=2 {
                let px = ticklane_core::Price(bid.price.0 - 100 * k);
                ctx.limit(ev.instrument, Side::Bid, px, Qty(100), TimeInForce::Day);
            }
            self.sent = true;
        }
    }
    fn on_order_update(&mut self, u: &OrderUpdate, _ctx: &mut Context<'_>) {
        assert!(!self.first, "boom on {:?}", u.kind);
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("{:?} {:?}", u.id, u.kind));
        }
    }
}

#[test]
fn reports_for_a_panicked_instance_do_not_reach_its_replacement() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use ticklane_exec::{ConstantLatency, PaperExchange, PerShareFees};
    let log: Log = Arc::default();
    let instances = Arc::new(AtomicU32::new(0));
    let (l, n) = (log.clone(), instances.clone());
    let factory: ticklane_runtime::StrategyFactory = Arc::new(move || {
        Ok(Box::new(TwoThenPanic {
            first: n.fetch_add(1, Ordering::Relaxed) == 0,
            sent: false,
            log: l.clone(),
        }) as Box<dyn Strategy>)
    });
    // Both orders arrive together and their acks come back together: one batch of reports.
    let venue =
        PaperExchange::with_models(ConstantLatency::new(20_000, 20_000), PerShareFees::ZERO);
    let mut lane = new_lane(vec![spec(0, "two", &[symbol(1)], factory)], venue);
    lane.start();
    for (i, ev) in session(1, 1, 300).iter().enumerate() {
        lane.process(&item(i as u64, *ev), false);
    }
    let report = lane.finish();
    assert_eq!(report.strategies[0].panics, 1);
    assert_eq!(instances.load(Ordering::Relaxed), 2, "restarted once");
    let got = log.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(
        got.is_empty(),
        "the fresh instance got the old one's reports: {got:?}"
    );
}

/// The first instance sends two orders the venue refuses at once (quantity 0) on its first
/// event and panics on the first refusal; the second refusal, in the same batch, is booked
/// for the panicked instance.
struct TwoRefusedThenPanic {
    first: bool,
    sent: bool,
}

impl Strategy for TwoRefusedThenPanic {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if self.first && !self.sent && ev.instrument != InstrumentId::NONE {
            for _ in 0..2 {
                ctx.limit(
                    ev.instrument,
                    Side::Bid,
                    ticklane_core::Price(100),
                    Qty(0),
                    TimeInForce::Day,
                );
            }
            self.sent = true;
        }
    }
    fn on_order_update(&mut self, u: &OrderUpdate, _ctx: &mut Context<'_>) {
        assert!(!self.first, "boom on {:?}", u.kind);
    }
}

#[test]
fn refusals_booked_for_a_panicked_instance_still_count_as_rejects() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let instances = Arc::new(AtomicU32::new(0));
    let n = instances.clone();
    let factory: ticklane_runtime::StrategyFactory = Arc::new(move || {
        Ok(Box::new(TwoRefusedThenPanic {
            first: n.fetch_add(1, Ordering::Relaxed) == 0,
            sent: false,
        }) as Box<dyn Strategy>)
    });
    let mut lane = new_lane(
        vec![spec(0, "refused", &[symbol(1)], factory)],
        TouchVenue::new(),
    );
    lane.start();
    for (i, ev) in session(1, 1, 100).iter().enumerate() {
        lane.process(&item(i as u64, *ev), false);
    }
    let report = lane.finish();
    assert_eq!(report.strategies[0].panics, 1);
    assert_eq!(instances.load(Ordering::Relaxed), 2, "restarted once");
    assert_eq!(report.strategies[0].commands, 2);
    assert_eq!(
        report.strategies[0].rejects, 2,
        "both refusals count, the one booked after the panic too"
    );
}

/// Sends an order the venue refuses at once (quantity 0) on its first event, and again on
/// every refusal, `left` times in all: a cascade longer than the lane's routing rounds.
struct Resubmitter {
    left: u32,
}

impl Resubmitter {
    fn send(&mut self, instrument: InstrumentId, ctx: &mut Context<'_>) {
        if self.left > 0 {
            self.left -= 1;
            ctx.limit(
                instrument,
                Side::Bid,
                ticklane_core::Price(1),
                Qty(0),
                TimeInForce::Day,
            );
        }
    }
}

impl Strategy for Resubmitter {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if self.left == 40 {
            self.send(ev.instrument, ctx);
        }
    }
    fn on_order_update(&mut self, u: &OrderUpdate, ctx: &mut Context<'_>) {
        if matches!(u.kind, OrderUpdateKind::Rejected(_)) {
            self.send(u.instrument, ctx);
        }
    }
}

#[test]
fn commands_deferred_by_a_long_cascade_leave_at_the_same_point_in_every_lane_layout() {
    let run = |others: bool| {
        let factory: ticklane_runtime::StrategyFactory =
            Arc::new(|| Ok(Box::new(Resubmitter { left: 40 }) as Box<dyn Strategy>));
        let mut lane = new_lane(
            vec![spec(0, "resubmit", &[symbol(1)], factory)],
            TouchVenue::new(),
        );
        lane.start();
        // With `others`, the lane also carries a second instrument's events (one lane for
        // the whole feed); without, only its own and the market-wide ones (the lane of a
        // two-lane layout, as the router feeds it).
        for (seq, ev) in session(4, 2, 400).iter().enumerate() {
            if others || matches!(ev.instrument, InstrumentId(0) | InstrumentId(1)) {
                lane.process(&item(seq as u64, *ev), false);
            }
        }
        let r = lane.finish();
        (
            r.strategies[0].digest,
            r.strategies[0].commands,
            r.deferred_commands,
        )
    };
    let (alone, with_others) = (run(false), run(true));
    assert_eq!(alone.1, 40, "every order was sent");
    assert!(alone.2 > 0, "the cascade outran the routing rounds");
    assert_eq!(with_others, alone);
}

/// Tries to flatten in `on_stop`, and logs whether it was told that trading is over.
struct Closer {
    log: Log,
}

impl Strategy for Closer {
    fn on_stop(&mut self, ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("stop trading={}", ctx.trading_enabled()));
        }
        ctx.limit(
            InstrumentId(1),
            Side::Ask,
            ticklane_core::Price(10_0000),
            Qty(100),
            TimeInForce::Ioc,
        );
    }
}

#[test]
fn on_stop_sees_trading_disabled_and_its_orders_are_counted_as_discarded() {
    let log: Log = Arc::default();
    let l = log.clone();
    let factory: ticklane_runtime::StrategyFactory =
        Arc::new(move || Ok(Box::new(Closer { log: l.clone() }) as Box<dyn Strategy>));
    let mut lane = new_lane(
        vec![spec(0, "closer", &[symbol(1)], factory)],
        TouchVenue::new(),
    );
    lane.start();
    let s = session(1, 1, 10);
    lane.process(&item(0, at(500, &s[0])), false);
    let report = lane.finish();
    let got = log.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(got, vec!["stop trading=false".to_string()]);
    assert_eq!(report.discarded_on_panic, 1);
    assert_eq!(report.strategies[0].commands, 0);
}

/// Logs which books it can read when its own instrument's events come.
struct Peeker {
    log: Log,
}

impl Strategy for Peeker {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if ev.instrument != InstrumentId(1) {
            return;
        }
        let line = format!(
            "own {} other {} other-by-symbol {} other-id {:?}",
            ctx.book(InstrumentId(1)).is_some(),
            ctx.book(InstrumentId(2)).is_some(),
            ctx.book_by_symbol("SYM2").is_some(),
            ctx.instrument("SYM2"),
        );
        if let Ok(mut l) = self.log.lock() {
            l.push(line);
        }
    }
}

#[test]
fn a_strategy_reads_only_the_books_it_subscribes_to() {
    // SYM2 is on this lane, but whether it is depends on the lane layout: it reads as absent.
    let log: Log = Arc::default();
    let l = log.clone();
    let factory: ticklane_runtime::StrategyFactory =
        Arc::new(move || Ok(Box::new(Peeker { log: l.clone() }) as Box<dyn Strategy>));
    let mut lane = new_lane(
        vec![spec(0, "peek", &[symbol(1)], factory)],
        TouchVenue::new(),
    );
    lane.start();
    for (seq, ev) in session(3, 2, 40).iter().enumerate() {
        lane.process(&item(seq as u64, *ev), false);
    }
    let got = log.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(!got.is_empty());
    for line in got {
        assert_eq!(
            line,
            "own true other false other-by-symbol false other-id None"
        );
    }
}

/// Spends time on a mock hop clock: `EVENT_COST` ns in every event callback, `TIMER_COST` in
/// its timer (set at 15 µs of event time).
struct Spender {
    clock: Arc<quanta::Mock>,
}

const EVENT_COST: u64 = 1_000;
const TIMER_COST: u64 = 50_000;

impl Strategy for Spender {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(Timestamp(15_000), TimerId(1));
    }
    fn on_event(&mut self, _ev: &MarketEvent, _ctx: &mut Context<'_>) {
        self.clock.increment(EVENT_COST);
    }
    fn on_timer(&mut self, _t: TimerId, _ctx: &mut Context<'_>) {
        self.clock.increment(TIMER_COST);
    }
}

/// Which span each hop stamp ends up in, on a mock clock. Items processed back to back share
/// a stamp (one ends where the next starts), but only after an item that went through the
/// strategies: time spent on anything else (here a heartbeat whose timer fires) is waiting for
/// the next item, never its strategy time, and so is time between batches.
#[test]
fn hop_stamps_split_waiting_from_strategy_time() {
    let (clock, mock) = ticklane_runtime::HopClock::mock();
    let t0 = 1_000_000;
    mock.increment(t0);
    let m = mock.clone();
    let factory: ticklane_runtime::StrategyFactory =
        Arc::new(move || Ok(Box::new(Spender { clock: m.clone() }) as Box<dyn Strategy>));
    let mut lane = new_lane(
        vec![spec(0, "spend", &[symbol(1)], factory)],
        TouchVenue::new(),
    )
    .with_hop_clock(clock);
    lane.start();
    let s = session(1, 1, 10);
    lane.process(&item(0, at(500, &s[0])), true);
    // The directory went to the strategy too (unmeasured: no stamps).
    let t0 = t0 + EVENT_COST;
    assert_eq!(mock.value(), t0);
    // Received, decoded and enqueued 100 ns apart, the last 100 ns before `now`.
    let stamped = |seq: u64, ev: MarketEvent, now: u64| LaneEvent {
        t_received: now - 300,
        t_decoded: now - 200,
        t_enqueued: now - 100,
        ..item(seq, ev)
    };
    let heartbeat = LaneEvent {
        heartbeat: true,
        ..item(
            0,
            MarketEvent::new(
                Timestamp(20_000),
                InstrumentId::NONE,
                ticklane_core::EventBody::BrokenTrade {
                    match_id: ticklane_core::MatchId(0),
                },
            ),
        )
    };
    // One batch: A, the heartbeat (fires the timer), B and C, all enqueued before it began.
    lane.process(&stamped(1, at(10_000, &s[1]), t0), true);
    lane.process(&heartbeat, true);
    lane.process(&stamped(2, at(21_000, &s[2]), t0), true);
    lane.process(&stamped(3, at(22_000, &s[3]), t0), true);
    lane.end_batch();
    // Idle, then D alone in the next batch.
    mock.increment(7_000);
    let now = t0 + 3 * EVENT_COST + TIMER_COST + 7_000;
    lane.process(&stamped(4, at(23_000, &s[4]), now), true);
    let report = lane.finish();
    let h = |hop| report.latency.histogram(hop);
    use ticklane_runtime::Hop;
    // Each item's own callback, and nothing else, is its strategy time.
    let strategy = h(Hop::Strategy);
    assert_eq!(
        (strategy.len(), strategy.min(), strategy.max()),
        (4, EVENT_COST, EVENT_COST)
    );
    for hop in [Hop::Decode, Hop::Publish] {
        let x = h(hop);
        assert_eq!((x.len(), x.min(), x.max()), (4, 100, 100), "{}", hop.name());
    }
    // A and D: 100 ns in the ring. B waited for A and the heartbeat's timer, C for B as well.
    let ring = h(Hop::Ring);
    assert_eq!((ring.len(), ring.count_at(100)), (4, 2));
    let b = EVENT_COST + TIMER_COST + 100;
    assert_eq!(ring.count_at(b), 1, "B's wait");
    assert_eq!(ring.count_at(b + EVENT_COST), 1, "C's wait");
    let t2d = h(Hop::TickToDecision);
    assert_eq!(t2d.count_at(300 + EVENT_COST), 2, "A and D");
    assert_eq!(t2d.count_at(b + 200 + EVENT_COST), 1, "B");
}

#[test]
fn the_status_latency_figures_end_as_the_reports() {
    use std::sync::atomic::Ordering::Relaxed;
    use ticklane_runtime::Hop;
    let (clock, mock) = ticklane_runtime::HopClock::mock();
    mock.increment(10_000_000);
    let control = Arc::new(LaneControl::default());
    let log: Log = Arc::default();
    let mut lane = lane_with(&log, false, control.clone()).with_hop_clock(clock);
    lane.start();
    for (k, ev) in session(2, 1, 300).iter().enumerate() {
        // Tick-to-decision spread from 100 ns to 50 µs (the mock clock stands still).
        let now = mock.value();
        let wait = 100 + (k as u64 * 7_919) % 50_000;
        let le = LaneEvent {
            t_received: now - wait,
            t_decoded: now - wait / 2,
            t_enqueued: now - 10,
            ..item(k as u64, *ev)
        };
        lane.process(&le, true);
    }
    let report = lane.finish();
    let h = report.latency.histogram(Hop::TickToDecision);
    assert!(h.len() > 200, "{} samples", h.len());
    let (p50, p99) = (control.t2d_p50.load(Relaxed), control.t2d_p99.load(Relaxed));
    assert_eq!(
        (p50, p99),
        (h.value_at_quantile(0.5), h.value_at_quantile(0.99))
    );
    assert!(p50 < p99, "{p50} {p99}");
}

/// Panics on the event at 3 µs; instances after the first also panic in `on_start`.
struct PanicThenBadStarts {
    instance: u32,
}

impl Strategy for PanicThenBadStarts {
    fn on_start(&mut self, _ctx: &mut Context<'_>) {
        assert!(self.instance == 0, "bad start {}", self.instance);
    }
    fn on_event(&mut self, ev: &MarketEvent, _ctx: &mut Context<'_>) {
        assert!(ev.ts.0 != 3_000, "boom");
    }
}

/// A restart whose `on_start` panics again is the next incident, handled in a loop: the
/// incidents come in the order they happened and the last says the lane halted (they came
/// innermost first, the last saying "restarted" of a lane that was halted, and each failed
/// restart added a stack level: a large `max_restarts` could overflow the lane's stack).
#[test]
fn restarts_that_panic_in_on_start_are_reported_in_order_and_never_recurse() {
    use ticklane_runtime::{LaneIncident, PanicAction, PanicPolicy};
    let built = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let b = built.clone();
    let factory: ticklane_runtime::StrategyFactory = Arc::new(move || {
        let instance = b.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Box::new(PanicThenBadStarts { instance }) as Box<dyn Strategy>)
    });
    let actions = Arc::new(Mutex::new(Vec::new()));
    let sink_actions = actions.clone();
    let sink: ticklane_runtime::IncidentSink = Box::new(move |i| {
        if let LaneIncident::StrategyPanicked { action, .. } = i {
            if let Ok(mut a) = sink_actions.lock() {
                a.push(action);
            }
        }
    });
    let run = move |max_restarts: u32, sink: Option<ticklane_runtime::IncidentSink>| {
        let settings = LaneSettings {
            panic_policy: PanicPolicy::Restart { max_restarts },
            ..LaneSettings::default()
        };
        let mut lane = match Lane::new(
            settings,
            vec![spec(0, "flaky", &[symbol(1)], factory.clone())],
            TouchVenue::new(),
            Arc::default(),
            sink,
        ) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        lane.start();
        for (seq, e) in sym1_opening().iter().enumerate() {
            lane.process(&item(seq as u64, *e), false);
        }
        lane.finish()
    };
    let report = run(2, Some(sink));
    assert!(report.halted);
    assert_eq!(
        actions.lock().map(|a| a.clone()).unwrap_or_default(),
        vec![
            PanicAction::Restarted,
            PanicAction::Restarted,
            PanicAction::LaneHalted
        ]
    );
    // Thousands of failed restarts in constant stack, on a small thread.
    built.store(0, std::sync::atomic::Ordering::Relaxed);
    let report = match std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || run(20_000, None))
        .map(std::thread::JoinHandle::join)
    {
        Ok(Ok(r)) => r,
        _ => panic!("the lane thread died"),
    };
    assert!(report.halted);
    assert_eq!(report.strategies[0].restarts, 20_000);
}

fn push(log: &Arc<Mutex<Vec<u64>>>, v: u64) {
    if let Ok(mut l) = log.lock() {
        l.push(v);
    }
}

fn read(log: &Arc<Mutex<Vec<u64>>>) -> Vec<u64> {
    log.lock().map(|l| l.clone()).unwrap_or_default()
}

/// Arms a timer "now" on every event and counts the timers that fire; records its `on_stop`.
struct TimerNowAndStop {
    fired: Arc<Mutex<Vec<u64>>>,
    panic_on_stop: bool,
}

impl Strategy for TimerNowAndStop {
    fn on_event(&mut self, _ev: &MarketEvent, ctx: &mut Context<'_>) {
        ctx.set_timer(ctx.now(), TimerId(7));
    }
    fn on_timer(&mut self, _t: TimerId, ctx: &mut Context<'_>) {
        push(&self.fired, ctx.now().0);
    }
    fn on_stop(&mut self, _ctx: &mut Context<'_>) {
        push(&self.fired, u64::MAX);
        assert!(!self.panic_on_stop, "boom in on_stop");
    }
}

/// A timer armed "now" by the last event's callback fires before the close (it was dropped),
/// and a panic in one strategy's `on_stop` does not rob the others of theirs, restart
/// anything or halt the lane (it halted, and the next strategies never heard `on_stop`).
#[test]
fn the_close_fires_what_is_due_and_an_on_stop_panic_stops_only_that_instance() {
    use ticklane_runtime::PanicPolicy;
    let (first, second) = (
        Arc::new(Mutex::new(Vec::new())),
        Arc::new(Mutex::new(Vec::new())),
    );
    let make = |log: &Arc<Mutex<Vec<u64>>>, panic_on_stop: bool| {
        let log = log.clone();
        let f: ticklane_runtime::StrategyFactory = Arc::new(move || {
            Ok(Box::new(TimerNowAndStop {
                fired: log.clone(),
                panic_on_stop,
            }) as Box<dyn Strategy>)
        });
        f
    };
    for policy in [
        PanicPolicy::HaltLane,
        PanicPolicy::Restart { max_restarts: 3 },
    ] {
        for log in [&first, &second] {
            if let Ok(mut l) = log.lock() {
                l.clear();
            }
        }
        let settings = LaneSettings {
            panic_policy: policy,
            ..LaneSettings::default()
        };
        let strategies = vec![
            spec(0, "panics-on-stop", &[symbol(1)], make(&first, true)),
            spec(1, "after-it", &[symbol(1)], make(&second, false)),
        ];
        let mut lane = lane_with_settings(settings, strategies, TouchVenue::new());
        lane.start();
        let events = sym1_opening();
        for (seq, e) in events.iter().enumerate() {
            lane.process(&item(seq as u64, *e), false);
        }
        let report = lane.finish();
        let times: Vec<u64> = events.iter().map(|e| e.ts.0).collect();
        let mut want = times.clone();
        want.push(u64::MAX);
        assert_eq!(read(&second), want, "{policy:?}");
        assert_eq!(read(&first), want, "{policy:?}");
        assert!(!report.halted, "{policy:?}");
        assert_eq!(report.strategies[0].restarts, 0, "{policy:?}");
        assert_eq!(report.strategies[0].panics, 1, "{policy:?}");
    }
}

/// Arms a timer "at once" on its first event and re-arms it "at once" from every `on_timer`
/// (the documented pattern: each firing 1 µs after the last); gives up after a million.
struct AtOnce {
    armed: bool,
    fired: u32,
}

impl Strategy for AtOnce {
    fn on_event(&mut self, _ev: &MarketEvent, ctx: &mut Context<'_>) {
        if !self.armed {
            self.armed = true;
            ctx.set_timer(ctx.now(), TimerId(1));
        }
    }
    fn on_timer(&mut self, _t: TimerId, ctx: &mut Context<'_>) {
        self.fired += 1;
        if self.fired < 1_000_000 {
            ctx.set_timer(ctx.now(), TimerId(1));
        }
    }
}

#[test]
fn a_timer_re_armed_at_once_at_the_end_of_event_time_does_not_hold_the_lane() {
    // At u64::MAX the 1 µs step saturated back to the same instant, and the lane fired the
    // timer there for ever (here until the strategy gives up: a million digest records).
    let factory: ticklane_runtime::StrategyFactory = Arc::new(|| {
        Ok(Box::new(AtOnce {
            armed: false,
            fired: 0,
        }) as Box<dyn Strategy>)
    });
    let mut lane = new_lane(
        vec![spec(0, "at-once", &[symbol(1)], factory)],
        TouchVenue::new(),
    );
    lane.start();
    let s = session(1, 1, 10);
    lane.process(&item(0, at(u64::MAX, &s[0])), false);
    lane.process(&item(1, at(u64::MAX, &s[1])), false);
    lane.process(&item(2, at(u64::MAX, &s[2])), false);
    let r = lane.finish();
    // The events and one firing (armed at the last instant; its re-arm is never due).
    assert!(
        r.strategies[0].records < 10,
        "{} records: the timer fired again and again at u64::MAX",
        r.strategies[0].records
    );
}

/// Instance 0 arms a timer at 5 µs and panics in its `on_timer`; every later instance arms a
/// timer "at once" in `on_start` and logs when it fires.
struct RestartProbe {
    instance: u32,
    log: Arc<Mutex<Vec<(u64, u64)>>>,
}

impl Strategy for RestartProbe {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        if self.instance == 0 {
            ctx.set_timer(Timestamp(5_000), TimerId(1));
        } else {
            ctx.set_timer(ctx.now(), TimerId(2));
            if let Ok(mut l) = self.log.lock() {
                l.push((0, ctx.now().0));
            }
        }
    }
    fn on_timer(&mut self, t: TimerId, ctx: &mut Context<'_>) {
        assert!(t != TimerId(1), "boom in on_timer");
        if let Ok(mut l) = self.log.lock() {
            l.push((t.0, ctx.now().0));
        }
    }
}

#[test]
fn a_fresh_instance_timer_at_once_fires_at_once_whatever_callback_panicked() {
    // The lane's "this strategy's timer is firing" state outlived the panic in `on_timer`:
    // the new instance's "at once" timer was taken for a re-arm and fired 1 µs late (at once
    // after a panic in any other callback).
    let built = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (b, l) = (built.clone(), log.clone());
    let factory: ticklane_runtime::StrategyFactory = Arc::new(move || {
        Ok(Box::new(RestartProbe {
            instance: b.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            log: l.clone(),
        }) as Box<dyn Strategy>)
    });
    let settings = LaneSettings {
        panic_policy: ticklane_runtime::PanicPolicy::Restart { max_restarts: 3 },
        ..LaneSettings::default()
    };
    let mut lane = lane_with_settings(
        settings,
        vec![spec(0, "probe", &[symbol(1)], factory)],
        TouchVenue::new(),
    );
    lane.start();
    let s = session(1, 1, 10);
    lane.process(&item(0, at(1_000, &s[0])), false);
    lane.process(&item(1, at(20_000, &s[0])), false);
    let report = lane.finish();
    assert_eq!(report.strategies[0].restarts, 1);
    let got = log.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(got, vec![(0, 5_000), (2, 5_000)]);
}

#[test]
fn the_status_net_pnl_after_the_close_is_the_reports() {
    // The close marks and samples every ledger; the status's net P&L kept the last whole
    // second's figure (here: none, the session is shorter than a second).
    let factory: ticklane_runtime::StrategyFactory = Arc::new(|| {
        Ok(Box::new(TakeThenPanic {
            sent: false,
            panic_at: u64::MAX,
        }) as Box<dyn Strategy>)
    });
    let control = Arc::new(LaneControl::default());
    let mut lane = match Lane::new(
        LaneSettings::default(),
        vec![spec(0, "taker", &[symbol(1)], factory)],
        TouchVenue::new(),
        control.clone(),
        None,
    ) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    lane.start();
    let s = session(4, 1, 300);
    for (i, ev) in s.iter().enumerate() {
        lane.process(&item(i as u64, at(1_000 + i as u64, ev)), false);
    }
    let report = lane.finish();
    let net = report.strategies[0].pnl.net;
    assert!(report.strategies[0].fills > 0 && !net.is_zero(), "{net}");
    let units: i64 = (net * rust_decimal::Decimal::from(ticklane_core::Price::SCALE))
        .trunc()
        .try_into()
        .unwrap_or_default();
    assert_eq!(
        control.net_pnl.load(std::sync::atomic::Ordering::Relaxed),
        units
    );
}

/// A venue that answers every working order with `Cancelled` on the next market event of
/// its instrument (a stand-in for a fill or a venue-side cancel).
#[derive(Default)]
struct CancelOnNextEvent {
    working: Vec<(ticklane_strategy::ClientOrderId, InstrumentId)>,
}

impl ticklane_runtime::Venue for CancelOnNextEvent {
    fn on_command(
        &mut self,
        now: Timestamp,
        cmd: &ticklane_strategy::OrderCommand,
        _market: &ticklane_book::Market,
        out: &mut Vec<ticklane_runtime::VenueReport>,
    ) {
        if let ticklane_strategy::OrderCommand::Submit { id, request } = cmd {
            self.working.push((*id, request.instrument));
            out.push(ticklane_runtime::VenueReport::Update(OrderUpdate {
                ts: now,
                id: *id,
                instrument: request.instrument,
                kind: OrderUpdateKind::Accepted,
            }));
        }
    }
    fn on_market(
        &mut self,
        event: &MarketEvent,
        _trade: Option<&ticklane_strategy::TradePrint>,
        _market: &ticklane_book::Market,
        out: &mut Vec<ticklane_runtime::VenueReport>,
    ) {
        for (id, instrument) in self.working.drain(..) {
            out.push(ticklane_runtime::VenueReport::Update(OrderUpdate {
                ts: event.ts,
                id,
                instrument,
                kind: OrderUpdateKind::Cancelled,
            }));
        }
    }
    fn cancel_all(
        &mut self,
        _now: Timestamp,
        _strategy: Option<ticklane_strategy::StrategyId>,
        _out: &mut Vec<ticklane_runtime::VenueReport>,
    ) {
        self.working.clear();
    }
    fn working_orders(&self) -> usize {
        self.working.len()
    }
}

/// Quotes once from `on_event`, then re-quotes from `on_order_update` whenever its order is
/// cancelled: every later order leaves the lane in reaction to a venue report.
struct Requoter {
    placed: bool,
}

impl Requoter {
    fn quote(ctx: &mut Context<'_>, instrument: InstrumentId) {
        ctx.limit(
            instrument,
            Side::Bid,
            ticklane_core::Price(1_000_000),
            Qty(100),
            TimeInForce::Day,
        );
    }
}

impl Strategy for Requoter {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if !self.placed && ev.instrument == InstrumentId(1) {
            self.placed = true;
            Self::quote(ctx, ev.instrument);
        }
    }
    fn on_order_update(&mut self, u: &OrderUpdate, ctx: &mut Context<'_>) {
        if u.kind == OrderUpdateKind::Cancelled {
            Self::quote(ctx, u.instrument);
        }
    }
}

/// Every event after which an order left the lane gets an `order-out` and a `tick-to-trade`
/// sample (latency.rs: "`order-out` and tick-to-trade for events after which at least one
/// order left the lane"). Orders a strategy sent from `on_order_update`, in answer to a venue
/// report handled on a market event, were not counted (40 orders, 1 sample).
#[test]
fn orders_sent_in_answer_to_a_venue_report_get_order_out_samples() {
    use ticklane_runtime::Hop;
    let (clock, mock) = ticklane_runtime::HopClock::mock();
    mock.increment(1_000_000);
    let factory: ticklane_runtime::StrategyFactory =
        Arc::new(|| Ok(Box::new(Requoter { placed: false }) as Box<dyn Strategy>));
    let mut lane = new_lane(
        vec![spec(0, "requote", &[symbol(1)], factory)],
        CancelOnNextEvent::default(),
    )
    .with_hop_clock(clock);
    lane.start();
    let evs = session(1, 1, 40);
    for (seq, ev) in evs.iter().enumerate() {
        mock.increment(1_000);
        let now = mock.value();
        let le = LaneEvent {
            t_received: now - 300,
            t_decoded: now - 200,
            t_enqueued: now - 100,
            ..item(seq as u64, *ev)
        };
        lane.process(&le, true);
        lane.end_batch();
    }
    let report = lane.finish();
    let out = report.latency.histogram(Hop::OrderOut).len();
    let t2t = report.latency.histogram(Hop::TickToTrade).len();
    // One order per event from the first quote on.
    assert!(report.commands >= 30, "commands {}", report.commands);
    assert_eq!(
        (out, t2t),
        (report.commands, report.commands),
        "events followed by an order: {} commands, {} order-out samples",
        report.commands,
        out
    );
}

/// `replay --from`: events before `trade_from` "warm up the books ... and are not shown to
/// strategies". A timer armed in `on_start` must not call the strategy during the warm-up
/// either: there it reads the warm-up books at a warm-up time and can trade on them.
#[test]
fn no_strategy_callback_comes_before_the_window_of_a_replay() {
    let log: Log = Arc::default();
    let settings = LaneSettings {
        trade_from: 4_000,
        ..LaneSettings::default()
    };
    let mut lane = lane_with_settings(
        settings,
        vec![spec(0, "rec", &[symbol(1)], recorder(&log, false))],
        TouchVenue::new(),
    );
    lane.start();
    let s = session(1, 1, 10);
    lane.process(&item(0, at(500, &s[0])), false);
    lane.process(&item(1, at(1_000, &s[1])), false);
    lane.process(&item(2, at(4_000, &s[2])), false);
    lane.process(&item(3, at(6_000, &s[3])), false);
    let got = log.lock().map(|l| l.clone()).unwrap_or_default();
    let early: Vec<&String> = got
        .iter()
        .filter(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|t| t < 4_000)
        })
        .collect();
    assert!(
        early.is_empty(),
        "callbacks before --from (4000 ns): {early:?}; whole log {got:?}"
    );
}

/// Takes the ask from a timer armed in `on_start`; logs the time of every fill.
struct TimerTaker(Arc<Mutex<Vec<u64>>>);

impl Strategy for TimerTaker {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(Timestamp(15_000), TimerId(1));
    }
    fn on_timer(&mut self, _t: TimerId, ctx: &mut Context<'_>) {
        take_the_ask(InstrumentId(1), ctx);
    }
    fn on_fill(&mut self, f: &ticklane_strategy::Fill, _ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.0.lock() {
            l.push(f.ts.0);
        }
    }
}

/// A strategy trades nothing in a replay's warm-up (`--from`): its books are not shown to it
/// there, so it cannot decide on them.
#[test]
fn a_timer_in_the_warm_up_before_from_does_not_trade() {
    let fills: Arc<Mutex<Vec<u64>>> = Arc::default();
    let f = fills.clone();
    let factory: ticklane_runtime::StrategyFactory =
        Arc::new(move || Ok(Box::new(TimerTaker(f.clone())) as Box<dyn Strategy>));
    let settings = LaneSettings {
        trade_from: 100_000,
        ..LaneSettings::default()
    };
    let mut lane = lane_with_settings(
        settings,
        vec![spec(0, "timer-taker", &[symbol(1)], factory)],
        TouchVenue::new(),
    );
    lane.start();
    let mut events = sym1_opening();
    events.push(sym1_add(20_000, 3, Side::Bid, 99_9800));
    events.push(sym1_add(100_000, 4, Side::Bid, 99_9700));
    events.push(sym1_add(200_000, 5, Side::Bid, 99_9600));
    for (seq, e) in events.iter().enumerate() {
        lane.process(&item(seq as u64, *e), false);
    }
    let report = lane.finish();
    let got = fills.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(
        got.iter().all(|&t| t >= 100_000),
        "fills before --from (100000 ns): {got:?} (position {:?})",
        report.strategies[0]
            .positions
            .iter()
            .map(|p| p.2.net)
            .collect::<Vec<_>>()
    );
}

/// Rests one bid at the best bid on its first event that has one; panics when it hears that
/// an order of its was cancelled.
struct PanicsOnCancel {
    sent: bool,
}

impl Strategy for PanicsOnCancel {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if self.sent {
            return;
        }
        if let Some(bid) = ctx.book(ev.instrument).and_then(|b| b.best_bid()) {
            ctx.limit(
                ev.instrument,
                Side::Bid,
                bid.price,
                Qty(100),
                TimeInForce::Day,
            );
            self.sent = true;
        }
    }
    fn on_order_update(&mut self, u: &OrderUpdate, _ctx: &mut Context<'_>) {
        assert!(u.kind != OrderUpdateKind::Cancelled, "cancelled!");
    }
}

/// The kill switch cancels the strategy's bid; the strategy panics on hearing of it. The
/// incidents come in the order things happened: the kill switch, then the panic it caused
/// (under either policy).
#[test]
fn the_kill_switch_incident_comes_before_the_panic_it_causes() {
    use ticklane_runtime::{IncidentSink, LaneIncident, PanicPolicy};
    for policy in [
        PanicPolicy::Restart { max_restarts: 3 },
        PanicPolicy::HaltLane,
    ] {
        let factory: ticklane_runtime::StrategyFactory =
            Arc::new(|| Ok(Box::new(PanicsOnCancel { sent: false }) as Box<dyn Strategy>));
        let incidents: Arc<Mutex<Vec<LaneIncident>>> = Arc::default();
        let seen = incidents.clone();
        let sink: IncidentSink = Box::new(move |i| {
            if let Ok(mut v) = seen.lock() {
                v.push(i);
            }
        });
        let control = Arc::new(LaneControl::default());
        let settings = LaneSettings {
            panic_policy: policy,
            ..LaneSettings::default()
        };
        let mut lane = match Lane::new(
            settings,
            vec![spec(0, "q", &[symbol(1)], factory)],
            TouchVenue::new(),
            control.clone(),
            Some(sink),
        ) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        lane.start();
        for (seq, e) in sym1_opening().iter().enumerate() {
            lane.process(&item(seq as u64, *e), false);
        }
        assert_eq!(lane.working_orders(), 1, "{policy:?}: the bid rests");
        control
            .kill
            .store(true, std::sync::atomic::Ordering::Relaxed);
        lane.poll_control();
        let report = lane.finish();
        assert_eq!(report.strategies[0].panics, 1, "{policy:?}");
        let kinds: Vec<&str> = incidents
            .lock()
            .map(|v| {
                v.iter()
                    .map(|i| match i {
                        LaneIncident::KillSwitch { .. } => "kill switch",
                        LaneIncident::StrategyPanicked { .. } => "panic",
                        LaneIncident::RiskTripped { .. } => "risk",
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(kinds, ["kill switch", "panic"], "{policy:?}");
    }
}

/// A strategy subscribed to every instrument (`*`) that rests a bid for SYM1 from `on_start`,
/// before any event; logs the time of every callback it gets about the order.
struct BidsFromStart(Arc<Mutex<Vec<String>>>);

impl Strategy for BidsFromStart {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.limit(
            InstrumentId(1),
            Side::Bid,
            ticklane_core::Price(100_0100),
            Qty(100),
            TimeInForce::Day,
        );
    }
    fn on_order_update(&mut self, u: &OrderUpdate, ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.0.lock() {
            l.push(format!("update {:?} {}", u.kind, ctx.now().0));
        }
    }
    fn on_fill(&mut self, f: &ticklane_strategy::Fill, _ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.0.lock() {
            l.push(format!("fill {}", f.ts.0));
        }
    }
}

/// `replay --from`: "shows strategies only what follows it". An order a strategy sent from
/// `on_start` (at event time 0: a `*` subscription may submit for an instrument before its
/// directory message) rests at the venue through the warm-up and fills there: the strategy
/// hears of it (`on_order_update`, `on_fill`) before the window, and the fill is in its
/// position and P&L, as the timers' orders were before they were moved to `--from`.
#[test]
fn an_order_sent_from_on_start_does_not_fill_in_the_warm_up() {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = log.clone();
    let factory: ticklane_runtime::StrategyFactory =
        Arc::new(move || Ok(Box::new(BidsFromStart(l.clone())) as Box<dyn Strategy>));
    let star = ticklane_core::Symbol::new("*").unwrap_or_default();
    let settings = LaneSettings {
        trade_from: 100_000,
        ..LaneSettings::default()
    };
    // The paper exchange, 20 µs away: the order reaches it once SYM1 trades.
    let venue = ticklane_exec::PaperExchange::with_models(
        ticklane_exec::ConstantLatency::new(20_000, 20_000),
        ticklane_exec::PerShareFees::ZERO,
    );
    let mut lane = lane_with_settings(settings, vec![spec(0, "star", &[star], factory)], venue);
    lane.start();
    let mut events = sym1_opening();
    events.push(sym1_add(20_000, 3, Side::Bid, 99_9800));
    events.push(sym1_add(100_000, 4, Side::Bid, 99_9700));
    events.push(sym1_add(200_000, 5, Side::Bid, 99_9600));
    for (seq, e) in events.iter().enumerate() {
        lane.process(&item(seq as u64, *e), false);
    }
    let report = lane.finish();
    let got = log.lock().map(|l| l.clone()).unwrap_or_default();
    // What the strategy hears at or after the window opens, and its fills and position,
    // must not come from the warm-up's market.
    let early: Vec<&String> = got
        .iter()
        .filter(|l| !l.starts_with("update Rejected"))
        .filter(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|t| t < 100_000)
        })
        .collect();
    assert!(
        early.is_empty(),
        "before --from (100000 ns): {early:?}; fills {}, position {:?}",
        report.strategies[0].fills,
        report.strategies[0]
            .positions
            .iter()
            .map(|p| p.2.net)
            .collect::<Vec<_>>()
    );
    assert_eq!(report.strategies[0].fills, 0);
    assert!(
        got.iter()
            .any(|l| l.starts_with("update Rejected(TradingHalted)")),
        "the order from on_start is refused: {got:?}"
    );
}

/// Rests a bid far below the touch on its first SYM1 event with a bid, and cancels it on
/// the first event at or after `cancel_at`.
struct RestThenCancel {
    id: Option<ticklane_strategy::ClientOrderId>,
    cancel_at: u64,
    cancelled: bool,
}

impl Strategy for RestThenCancel {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if self.id.is_none() && ev.instrument == InstrumentId(1) {
            if ctx.book(ev.instrument).and_then(|b| b.best_bid()).is_some() {
                self.id = Some(ctx.limit(
                    ev.instrument,
                    Side::Bid,
                    ticklane_core::Price(90_0000),
                    Qty(100),
                    TimeInForce::Day,
                ));
            }
        } else if let Some(id) = self
            .id
            .filter(|_| !self.cancelled && ev.ts.0 >= self.cancel_at)
        {
            ctx.cancel(id);
            self.cancelled = true;
        }
    }
}

/// the kill switch's incident counts "orders cancelled" (the summary's
/// "kill switch, N orders cancelled"). An order the strategy itself cancelled before the kill
/// switch, whose `Cancelled` answer was still on its way back from the paper exchange, is
/// not an order the kill switch cancelled: here no order works at the venue when the switch
/// is engaged, so the incident must say 0.
#[test]
fn the_kill_switch_does_not_count_a_cancel_the_strategy_made_before_it() {
    use ticklane_runtime::{IncidentSink, LaneIncident};
    let factory: ticklane_runtime::StrategyFactory = Arc::new(|| {
        Ok(Box::new(RestThenCancel {
            id: None,
            cancel_at: 50_000,
            cancelled: false,
        }) as Box<dyn Strategy>)
    });
    let incidents: Arc<Mutex<Vec<LaneIncident>>> = Arc::default();
    let seen = incidents.clone();
    let sink: IncidentSink = Box::new(move |i| {
        if let Ok(mut v) = seen.lock() {
            v.push(i);
        }
    });
    let control = Arc::new(LaneControl::default());
    // The paper exchange, 20 µs away each way.
    let venue = ticklane_exec::PaperExchange::with_models(
        ticklane_exec::ConstantLatency::new(20_000, 20_000),
        ticklane_exec::PerShareFees::ZERO,
    );
    let mut lane = match Lane::new(
        LaneSettings::default(),
        vec![spec(0, "q", &[symbol(1)], factory)],
        venue,
        control.clone(),
        Some(sink),
    ) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    lane.start();
    // The bid leaves at 3 µs (arrives 23 µs, acked at 43 µs); the cancel leaves at 50 µs,
    // arrives at 70 µs: the order is gone from the venue, its `Cancelled` is due at 90 µs.
    let mut events = sym1_opening();
    events.push(sym1_add(50_000, 3, Side::Bid, 99_9800));
    events.push(sym1_add(80_000, 4, Side::Bid, 99_9700));
    for (seq, e) in events.iter().enumerate() {
        lane.process(&item(seq as u64, *e), false);
    }
    assert_eq!(
        lane.working_orders(),
        0,
        "the strategy's own cancel took the order"
    );
    control
        .kill
        .store(true, std::sync::atomic::Ordering::Relaxed);
    lane.poll_control();
    let report = lane.finish();
    assert!(report.killed);
    let kill: Vec<u64> = incidents
        .lock()
        .map(|v| {
            v.iter()
                .filter_map(|i| match i {
                    LaneIncident::KillSwitch { cancelled, .. } => Some(*cancelled),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        kill,
        [0],
        "no order was working when the kill switch was engaged"
    );
}
