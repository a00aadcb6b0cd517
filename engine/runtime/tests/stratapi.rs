//! The strategy API from a strategy's side: what a strategy sees when it panics part way
//! through a batch of venue reports.

mod support;

use std::sync::{Arc, Mutex};

use support::{item, spec, symbol};
use ticklane_core::{
    EventBody, InstrumentId, InstrumentInfo, MarketEvent, OrderId, Price, Qty, Side, Timestamp,
    TradingState,
};
use ticklane_runtime::{Lane, LaneControl, LaneSettings, PanicPolicy, TouchVenue};
use ticklane_strategy::{Context, Fill, OrderUpdate, Strategy, TimeInForce};

type Log = Arc<Mutex<Vec<String>>>;

fn ev(ts: u64, body: EventBody) -> MarketEvent {
    MarketEvent::new(Timestamp(ts), InstrumentId(1), body)
}

fn add(ts: u64, id: u64, side: Side, px: i64, qty: u32) -> MarketEvent {
    ev(
        ts,
        EventBody::OrderAdded {
            order_id: OrderId(id),
            side,
            price: Price(px),
            qty: Qty(qty),
            mpid: [0; 4],
        },
    )
}

/// SYM1: directory 1 µs, trading 2 µs, bid 500 @ 99.99 (id 1) 3 µs, ask 500 @ 100.01 (id 2)
/// 10 µs, then a heartbeat-like add every 10 µs from 20 µs to 200 µs (bids far away).
fn opening() -> Vec<MarketEvent> {
    let mut v = vec![
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
        add(3_000, 1, Side::Bid, 99_9900, 500),
        add(10_000, 2, Side::Ask, 100_0100, 500),
    ];
    for k in 0..19u64 {
        v.push(add(20_000 + 10_000 * k, 100 + k, Side::Bid, 90_0000, 1));
    }
    v
}

/// One strategy (`name`, on SYM1, built by `factory`) on a lane with `settings` and the touch
/// venue, fed `events` in order; the lane's report.
fn run_touch_lane(
    settings: LaneSettings,
    name: &str,
    factory: ticklane_runtime::StrategyFactory,
    events: &[MarketEvent],
) -> ticklane_runtime::LaneReport {
    let mut lane = Lane::new(
        settings,
        vec![spec(0, name, &[symbol(1)], factory)],
        TouchVenue::new(),
        Arc::new(LaneControl::default()),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    lane.start();
    for (i, e) in events.iter().enumerate() {
        lane.process(&item(i as u64, *e), false);
    }
    lane.finish()
}

/// Bids `qty` at the ask (`tif`) on its first event with an ask; the first instance panics on
/// that order's `Accepted`. Every instance logs the position it sees in `on_start` and a later
/// instance on every event and fill.
struct PanicOnAccept {
    first: bool,
    sent: bool,
    qty: u32,
    tif: TimeInForce,
    log: Log,
}

/// Instances of [`PanicOnAccept`]: the first one panics.
fn panic_on_accept(qty: u32, tif: TimeInForce, log: Log) -> ticklane_runtime::StrategyFactory {
    let builds = Arc::new(std::sync::atomic::AtomicU32::new(0));
    Arc::new(move || {
        let first = builds.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0;
        Ok(Box::new(PanicOnAccept {
            first,
            sent: false,
            qty,
            tif,
            log: log.clone(),
        }) as Box<dyn Strategy>)
    })
}

impl Strategy for PanicOnAccept {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let line = format!("start pos={}", ctx.position(InstrumentId(1)).net);
        if let Ok(mut l) = self.log.lock() {
            l.push(line);
        }
    }
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if !self.first {
            let line = format!(
                "event {} pos={}",
                ev.ts.0,
                ctx.position(InstrumentId(1)).net
            );
            if let Ok(mut l) = self.log.lock() {
                l.push(line);
            }
            return;
        }
        if self.sent {
            return;
        }
        if let Some(ask) = ctx.book(InstrumentId(1)).and_then(|b| b.best_ask()) {
            ctx.limit(
                InstrumentId(1),
                Side::Bid,
                ask.price,
                Qty(self.qty),
                self.tif,
            );
            self.sent = true;
        }
    }
    fn on_order_update(&mut self, u: &OrderUpdate, _ctx: &mut Context<'_>) {
        assert!(
            !(self.first && u.kind == ticklane_strategy::OrderUpdateKind::Accepted),
            "boom on Accepted"
        );
    }
    fn on_fill(&mut self, f: &Fill, ctx: &mut Context<'_>) {
        let line = format!("fill {} pos={}", f.qty.0, ctx.position(f.instrument).net);
        if let Ok(mut l) = self.log.lock() {
            l.push(line);
        }
    }
}

/// A restarted instance starts with its predecessor's position ("its position kept"): the
/// fill of an order that traded before the panic, reported in the same batch as the report
/// whose callback panicked, must be in the position the fresh instance's `on_start` reads,
/// as a fill still in flight at the venue is (the restart's cancel-all books it first).
#[test]
fn a_restarted_instance_starts_with_the_fills_reported_in_the_batch_that_panicked() {
    let log: Log = Arc::default();
    // An IOC buy of 100 at the ask.
    let factory = panic_on_accept(100, TimeInForce::Ioc, log.clone());
    // The IOC leaves on the ask's event (10 µs): Accepted, Fill 100, Filled in one batch.
    let report = run_touch_lane(LaneSettings::default(), "taker", factory, &opening()[..5]);
    let log = log.lock().map(|l| l.clone()).unwrap_or_default();
    let s = &report.strategies[0];
    assert_eq!((s.panics, s.restarts, s.fills), (1, 1, 1));
    assert_eq!(
        s.positions[0].2.net, 100,
        "the fill is in the final position"
    );
    assert_eq!(
        log,
        vec!["start pos=0", "start pos=100", "event 20000 pos=100"],
        "the fresh instance's on_start must see the position it keeps"
    );
}

/// `orders.csv`/`fills.csv` (the lane's journal) list an order's rows "in the order they
/// happened": the fill the order got on arrival comes before the cancel of the restart that
/// the panic on its `Accepted` caused, never after its own `Cancelled`.
#[test]
fn the_journal_shows_an_orders_fill_before_the_restarts_cancel() {
    use ticklane_runtime::JournalEntry;
    for policy in [
        PanicPolicy::HaltLane,
        PanicPolicy::Restart { max_restarts: 3 },
    ] {
        // A Day bid of 600 at the ask: 500 offered fill at once, 100 rest.
        let factory = panic_on_accept(600, TimeInForce::Day, Log::default());
        let settings = LaneSettings {
            journal: true,
            panic_policy: policy,
            ..LaneSettings::default()
        };
        let report = run_touch_lane(settings, "maker", factory, &opening()[..5]);
        let rows: Vec<String> = report
            .journal
            .iter()
            .map(|j| match j {
                JournalEntry::Command { .. } => "submit".to_string(),
                JournalEntry::Update(u) => format!("{:?}", u.kind),
                JournalEntry::Fill(f) => format!("fill {} leaves {}", f.qty.0, f.leaves.0),
                JournalEntry::DayStart { ts } => format!("day {}", ts.0),
            })
            .collect();
        assert_eq!(
            rows,
            ["submit", "Accepted", "fill 500 leaves 100", "Cancelled"],
            "{policy:?}"
        );
    }
}

/// On a market-wide event (instrument `NONE`) submits a bid for the event's instrument, as a
/// strategy that trades "the instrument of the event" does; logs the answer.
struct TradesTheEventsInstrument {
    log: Log,
}

impl Strategy for TradesTheEventsInstrument {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if ev.instrument == InstrumentId::NONE {
            ctx.limit(
                ev.instrument,
                Side::Bid,
                Price(99_0000),
                Qty(100),
                TimeInForce::Day,
            );
        }
    }
    fn on_order_update(&mut self, u: &OrderUpdate, _ctx: &mut Context<'_>) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("{:?}", u.kind));
        }
    }
}

/// `Context::submit`: "An order for an instrument outside this strategy's subscriptions is
/// refused by the lane (`NotSubscribed`)". Instrument `NONE` (the market-wide events' id) is
/// no subscription of any strategy, yet the lane's check (`mask_of`, every strategy for
/// `NONE`) lets it through to the venue.
#[test]
fn a_submit_for_the_market_wide_instrument_is_refused_as_not_subscribed() {
    let log: Log = Arc::default();
    let l = log.clone();
    let factory: ticklane_runtime::StrategyFactory = Arc::new(move || {
        Ok(Box::new(TradesTheEventsInstrument { log: l.clone() }) as Box<dyn Strategy>)
    });
    let mut events = opening();
    events.push(MarketEvent::new(
        Timestamp(300_000),
        InstrumentId::NONE,
        EventBody::SystemEvent {
            code: ticklane_core::SystemEventCode::StartOfMarketHours,
        },
    ));
    run_touch_lane(LaneSettings::default(), "s", factory, &events);
    let got = log.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(got, ["Rejected(NotSubscribed)"]);
}
