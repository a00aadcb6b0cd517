//! Overload on a live feed, end to end through the engine: a deliberately slow strategy makes
//! its lane fall behind, the lane's ring fills (the feed waits, counted), the feed thread stops
//! reading the socket, the kernel drops datagrams, and with recovery off the session reports the
//! lost messages: the lanes get a `FeedGap`, every book goes stale, and risk refuses a new order
//! on it. Nothing is silently wrong.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use ticklane_core::{InstrumentId, MarketEvent, Price, Qty, Side, Symbol};
use ticklane_exec::{RiskGate, RiskLimits, RiskedVenue, TouchVenue, Venue};
use ticklane_feeds::moldudp64::session::SessionConfig;
use ticklane_feeds::synth::{generate_framed, SynthConfig};
use ticklane_live::history::MessageHistory;
use ticklane_live::simulator::{SimConfig, Simulator};
use ticklane_live::source::{LineSource, LiveConfig, LiveSource};
use ticklane_live::udp::UdpLineConfig;
use ticklane_runtime::{
    run_to_end, EnginePlan, IdlePolicy, LaneSettings, PublisherSettings, StrategyFactory,
    StrategySpec,
};
use ticklane_strategy::{
    Context, OrderUpdate, OrderUpdateKind, RejectReason, Strategy, StrategyId, TimeInForce,
};

/// What the slow strategy saw.
#[derive(Default)]
struct Seen {
    stale: AtomicBool,
    stale_rejects: AtomicU64,
}

/// Burns ~20 µs per event; once its book is stale, tries one order.
struct Slow {
    seen: Arc<Seen>,
    tried: bool,
}

impl Strategy for Slow {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        let mut x = 0u64;
        for i in 0..20_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        if ev.instrument == InstrumentId::NONE {
            return;
        }
        if ctx.book(ev.instrument).is_some_and(|b| b.is_stale()) {
            self.seen.stale.store(true, Ordering::Relaxed);
            if !self.tried {
                self.tried = true;
                ctx.limit(
                    ev.instrument,
                    Side::Bid,
                    Price(1_0000),
                    Qty(100),
                    TimeInForce::Day,
                );
            }
        }
    }

    fn on_order_update(&mut self, update: &OrderUpdate, _ctx: &mut Context<'_>) {
        if update.kind == OrderUpdateKind::Rejected(RejectReason::RiskStaleBook) {
            self.seen.stale_rejects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn free_port() -> SocketAddr {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn a_slow_lane_fills_its_ring_the_kernel_drops_and_the_books_go_stale_not_wrong() {
    let buf = generate_framed(SynthConfig {
        seed: 3,
        messages: 40_000,
        instruments: 8,
    })
    .unwrap();
    let mut history = MessageHistory::new(usize::MAX, usize::MAX);
    for (seq, frame) in (1u64..).zip(ticklane_feeds::binfile::Frames::new(&buf)) {
        history.push(seq, frame.unwrap().bytes);
    }
    let addr = free_port();
    let mut line = UdpLineConfig::unicast(addr);
    line.recv_buffer = 64 << 10;
    let live = LiveConfig {
        lines: vec![LineSource::Udp(line)],
        session: SessionConfig {
            first_sequence: Some(1),
            recovery: false,
            line_grace_ns: 1_000_000,
            ..SessionConfig::default()
        },
        retransmit: vec![],
        busy_poll: false,
        silence_ns: 500_000_000,
        stop_after_silence_ns: Some(1_500_000_000),
        record: None,
    };
    let seen = Arc::new(Seen::default());
    let s2 = seen.clone();
    let factory: StrategyFactory = Arc::new(move || {
        Ok(Box::new(Slow {
            seen: s2.clone(),
            tried: false,
        }) as Box<dyn Strategy>)
    });
    let plan = EnginePlan {
        lanes: vec![(
            LaneSettings {
                idle: IdlePolicy::SpinYield { spins: 64 },
                ..LaneSettings::default()
            },
            vec![StrategySpec {
                id: StrategyId(0),
                name: "slow".into(),
                kind: "slow".into(),
                symbols: vec![Symbol::new("*").unwrap_or_default()],
                factory,
            }],
        )],
        feed_core: None,
        ring_capacity: 256,
        ring_kind: ticklane_runtime::RingKind::Index,
        publisher: PublisherSettings {
            idle: IdlePolicy::SpinYield { spins: 64 },
            batch: 8,
            ..PublisherSettings::default()
        },
        source: Box::new(LiveSource::new(live)),
        venue: Arc::new(|_| {
            let gate = RiskGate::new(RiskLimits::default()).unwrap();
            Box::new(RiskedVenue::new(TouchVenue::new(), gate)) as Box<dyn Venue>
        }),
        workers: Vec::new(),
    };
    let report = std::thread::scope(|s| {
        let engine = s.spawn(|| run_to_end(plan, |_| {}).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut sim = Simulator::new(SimConfig::new(*b"OVERLOAD01", addr)).unwrap();
        let stop = AtomicBool::new(false);
        let sent = sim.run(&history, |_| None, &stop).unwrap();
        assert_eq!(sent.messages, 40_000);
        engine.join().unwrap()
    });
    // The ring filled and the feed waited: counted.
    assert!(report.feed.full_waits > 0, "{:?}", report.feed);
    // The kernel dropped what the feed thread could not read: reported lost, never silent.
    let notes = report.source.notes.join("\n");
    assert!(notes.contains("lost for good"), "{notes}");
    assert!(report.source.messages < 40_000, "{notes}");
    // The lanes were told: a feed_gap anomaly, stale books, and risk refused the order.
    let lane = &report.lanes[0];
    let gaps = lane
        .anomalies
        .iter()
        .find(|(k, _)| k.name() == "feed_gap")
        .map_or(0, |(_, n)| *n);
    assert!(gaps > 0, "{:?}", lane.anomalies);
    assert!(seen.stale.load(Ordering::Relaxed));
    assert_eq!(seen.stale_rejects.load(Ordering::Relaxed), 1);
}
