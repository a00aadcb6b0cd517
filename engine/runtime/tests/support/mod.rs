//! Shared by the runtime's integration tests: a deterministic event generator and two test
//! strategies (a trader that exercises orders, fills and timers, and one that panics).

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use ticklane_core::{
    EventBody, InstrumentId, InstrumentInfo, MarketEvent, MatchId, OrderId, Price, Qty, Side,
    Symbol, Timestamp, TradingState,
};
use ticklane_runtime::{StrategyFactory, StrategySpec};
use ticklane_strategy::{
    ClientOrderId, Context, Fill, OrderUpdate, Strategy, StrategyId, TimeInForce, TimerId,
};

/// `event` as the lane's ring carries it (number `seq`, no heartbeat, no stamps).
pub fn item(seq: u64, event: MarketEvent) -> ticklane_runtime::LaneEvent {
    ticklane_runtime::LaneEvent {
        event,
        heartbeat: false,
        seq,
        t_received: 0,
        t_decoded: 0,
        t_enqueued: 0,
    }
}

/// xorshift64*: a tiny seeded generator (tests only).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn symbol(i: u32) -> Symbol {
    Symbol::new(&format!("SYM{i}")).unwrap_or_default()
}

/// A session over `instruments` instruments (ids 1..=n, symbols SYM1..): directory and
/// trading status first, then adds, executions, partial cancels and deletes around $100, with
/// event time advancing 1–20 µs per event, plus a market-wide system event now and then.
pub fn session(seed: u64, instruments: u32, events: usize) -> Vec<MarketEvent> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(events + 2 * instruments as usize);
    let mut ts = 34_200_000_000_000u64;
    for i in 1..=instruments {
        out.push(MarketEvent::new(
            Timestamp(ts),
            InstrumentId(i),
            EventBody::InstrumentDirectory(InstrumentInfo::common_stock(symbol(i))),
        ));
        out.push(MarketEvent::new(
            Timestamp(ts),
            InstrumentId(i),
            EventBody::TradingStatus {
                state: TradingState::Trading,
                reason: *b"    ",
            },
        ));
    }
    // Live orders: (id, instrument, side, price, qty).
    let mut live: Vec<(u64, u32, Side, i64, u32)> = Vec::new();
    let mut next_id = 1u64;
    let mut next_match = 1u64;
    while out.len() < events {
        ts += 1_000 + rng.below(19_000);
        let r = rng.below(100);
        if r == 0 {
            out.push(MarketEvent::new(
                Timestamp(ts),
                InstrumentId::NONE,
                EventBody::SystemEvent {
                    code: ticklane_core::SystemEventCode::StartOfMarketHours,
                },
            ));
        } else if r < 45 || live.len() < 20 {
            let inst = 1 + rng.below(u64::from(instruments)) as u32;
            let side = if rng.below(2) == 0 {
                Side::Bid
            } else {
                Side::Ask
            };
            let off = rng.below(6) as i64 * 100;
            let price = match side {
                Side::Bid => 100_0000 - 100 - off,
                Side::Ask => 100_0000 + 100 + off,
            };
            let qty = 100 * (1 + rng.below(5) as u32);
            live.push((next_id, inst, side, price, qty));
            out.push(MarketEvent::new(
                Timestamp(ts),
                InstrumentId(inst),
                EventBody::OrderAdded {
                    order_id: OrderId(next_id),
                    side,
                    price: Price(price),
                    qty: Qty(qty),
                    mpid: [0; 4],
                },
            ));
            next_id += 1;
        } else {
            let k = rng.below(live.len() as u64) as usize;
            let (id, inst, _, _, qty) = live[k];
            let body = if r < 70 {
                let q = (1 + rng.below(u64::from(qty))) as u32;
                if q == qty {
                    live.swap_remove(k);
                } else {
                    live[k].4 -= q;
                }
                next_match += 1;
                EventBody::OrderExecuted {
                    order_id: OrderId(id),
                    qty: Qty(q),
                    match_id: MatchId(next_match),
                }
            } else if r < 80 && qty > 100 {
                live[k].4 -= 100;
                EventBody::OrderCancelled {
                    order_id: OrderId(id),
                    qty: Qty(100),
                }
            } else {
                live.swap_remove(k);
                EventBody::OrderDeleted {
                    order_id: OrderId(id),
                }
            };
            out.push(MarketEvent::new(Timestamp(ts), InstrumentId(inst), body));
        }
    }
    out
}

/// Timers a [`Chaser`] arms "at once" (from a report callback, then again from that timer's
/// own callback): when they fire must not depend on the lane layout.
const AT_ONCE: u64 = 1 << 40;

/// Joins the bid; every 40 events of its own it takes the bid with an IOC sell; a timer
/// every 2 ms of event time cancels its resting orders; each acknowledgement arms a timer "at
/// once", which re-arms itself "at once" one time.
#[derive(Default)]
pub struct Chaser {
    seen: u64,
    timers: u64,
}

impl Strategy for Chaser {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        ctx.set_timer(Timestamp(34_200_002_000_000), TimerId(0));
    }

    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if ev.instrument == InstrumentId::NONE {
            return;
        }
        self.seen += 1;
        let Some(book) = ctx.book(ev.instrument) else {
            return;
        };
        let (Some(bid), Some(_ask)) = (book.best_bid(), book.best_ask()) else {
            return;
        };
        let pos = ctx.position(ev.instrument).net;
        if self.seen.is_multiple_of(40) && pos > 0 {
            ctx.limit(
                ev.instrument,
                Side::Ask,
                bid.price,
                Qty(pos as u32),
                TimeInForce::Ioc,
            );
        } else if ctx.open_orders().is_empty() && pos < 1_000 {
            ctx.limit(
                ev.instrument,
                Side::Bid,
                bid.price,
                Qty(100),
                TimeInForce::Day,
            );
        }
    }

    fn on_timer(&mut self, timer: TimerId, ctx: &mut Context<'_>) {
        self.timers += 1;
        if timer.0 >= AT_ONCE {
            if timer.0 == AT_ONCE {
                ctx.set_timer(ctx.now(), TimerId(AT_ONCE + 1));
            }
            return;
        }
        ctx.cancel_all(None);
        ctx.set_timer(Timestamp(ctx.now().0 + 2_000_000), TimerId(timer.0 + 1));
    }

    fn on_order_update(&mut self, u: &OrderUpdate, ctx: &mut Context<'_>) {
        if u.kind == ticklane_strategy::OrderUpdateKind::Accepted {
            ctx.set_timer(ctx.now(), TimerId(AT_ONCE));
        }
        // React to acknowledgements: re-join the bid right after a cancel, so that commands
        // are sent from inside venue callbacks too.
        if u.kind == ticklane_strategy::OrderUpdateKind::Cancelled && ctx.trading_enabled() {
            if let Some(bid) = ctx.book(u.instrument).and_then(|b| b.best_bid()) {
                ctx.limit(
                    u.instrument,
                    Side::Bid,
                    bid.price,
                    Qty(100),
                    TimeInForce::Day,
                );
            }
        }
    }

    fn on_fill(&mut self, _f: &Fill, _ctx: &mut Context<'_>) {}
}

/// Panics on its `n`-th event; counts how many instances were started.
pub struct Bomb {
    pub n: u64,
    pub seen: u64,
}

impl Strategy for Bomb {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let _ = ctx;
    }

    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if ev.instrument == InstrumentId::NONE {
            return;
        }
        self.seen += 1;
        if let (Some(book), 0) = (ctx.book(ev.instrument), ctx.open_orders().len()) {
            if let Some(bid) = book.best_bid() {
                let _: ClientOrderId = ctx.limit(
                    ev.instrument,
                    Side::Bid,
                    bid.price,
                    Qty(100),
                    TimeInForce::Day,
                );
            }
        }
        assert!(self.seen != self.n, "boom at event {}", self.n);
    }
}

pub fn spec(id: u16, name: &str, symbols: &[Symbol], factory: StrategyFactory) -> StrategySpec {
    StrategySpec {
        id: StrategyId(id),
        name: name.to_string(),
        kind: "test".to_string(),
        symbols: symbols.to_vec(),
        factory,
    }
}

pub fn chaser() -> StrategyFactory {
    Arc::new(|| Ok(Box::new(Chaser::default()) as Box<dyn Strategy>))
}

/// A bomb factory counting its builds in `starts`.
pub fn bomb(n: u64, starts: Arc<AtomicU32>) -> StrategyFactory {
    Arc::new(move || {
        starts.fetch_add(1, Ordering::Relaxed);
        Ok(Box::new(Bomb { n, seen: 0 }) as Box<dyn Strategy>)
    })
}
