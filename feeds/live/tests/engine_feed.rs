//! A live feed end to end through the engine: what the session decides reaches the lanes.
//!
//! - Overload: a deliberately slow strategy makes its lane fall behind, the lane's ring fills
//!   (the feed waits, counted), the feed thread stops reading the socket, the kernel drops
//!   datagrams, and with recovery off the session reports the lost messages: the lanes get a
//!   `FeedGap`, every book goes stale, and risk refuses a new order on it. Nothing is silently
//!   wrong.
//! - A rejoin: the feed joined mid-session on a packet with a corrupt sequence number, and
//!   joins again below it: the lanes get a `FeedGap` of unknown size, every book goes stale.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

/// An engine of one lane fed by `live`, running one strategy (`name`, built by `factory`) on
/// every instrument, behind the touch venue with default risk limits.
fn one_lane_plan(
    live: LiveConfig,
    lane: LaneSettings,
    publisher: PublisherSettings,
    ring_capacity: usize,
    (name, factory): (&str, StrategyFactory),
) -> EnginePlan {
    EnginePlan {
        lanes: vec![(
            lane,
            vec![StrategySpec {
                id: StrategyId(0),
                name: name.into(),
                kind: name.into(),
                symbols: vec![Symbol::new("*").unwrap_or_default()],
                factory,
            }],
        )],
        feed_core: None,
        ring_capacity,
        ring_kind: ticklane_runtime::RingKind::Index,
        publisher,
        source: Box::new(LiveSource::new(live)),
        venue: Arc::new(|_| {
            let gate = RiskGate::new(RiskLimits::default()).unwrap();
            Box::new(RiskedVenue::new(TouchVenue::new(), gate)) as Box<dyn Venue>
        }),
        workers: Vec::new(),
    }
}

/// How many `FeedGap` events the lane counted.
fn feed_gaps(lane: &ticklane_runtime::LaneReport) -> u64 {
    lane.anomalies
        .iter()
        .find(|(k, _)| k.name() == "feed_gap")
        .map_or(0, |(_, n)| *n)
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
    let plan = one_lane_plan(
        live,
        LaneSettings {
            idle: IdlePolicy::SpinYield { spins: 64 },
            ..LaneSettings::default()
        },
        PublisherSettings {
            idle: IdlePolicy::SpinYield { spins: 64 },
            batch: 8,
            ..PublisherSettings::default()
        },
        256,
        ("slow", factory),
    );
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
    // And the report says where it went: the kernel's own drop count for the line.
    assert!(
        notes.contains("the kernel dropped") && notes.contains("line A"),
        "{notes}"
    );
    // The lanes were told: a feed_gap anomaly, stale books, and risk refused the order.
    let lane = &report.lanes[0];
    assert!(feed_gaps(lane) > 0, "{:?}", lane.anomalies);
    assert!(seen.stale.load(Ordering::Relaxed));
    assert_eq!(seen.stale_rejects.load(Ordering::Relaxed), 1);
}

/// The engine's live feed joins mid-session on a packet whose sequence number is corrupt; its
/// books took that packet's messages before the session joined again below them. The feed
/// publishes a `FeedGap` of unknown size (count 0, as a replay does) at the rejoin: every book
/// goes stale.
#[test]
fn an_engine_feed_that_rejoins_publishes_a_feed_gap_of_unknown_size() {
    use ticklane_core::EventBody;
    use ticklane_feeds::moldudp64::{MoldPacketBuilder, Session};

    /// Records every market-wide `FeedGap` (first sequence, count).
    struct Gaps(Arc<Mutex<Vec<(u64, u64)>>>);
    impl Strategy for Gaps {
        fn on_event(&mut self, ev: &MarketEvent, _ctx: &mut Context<'_>) {
            if let EventBody::FeedGap {
                first_sequence,
                count,
            } = ev.body
            {
                self.0.lock().unwrap().push((first_sequence, count));
            }
        }
    }

    const SESSION: Session = *b"TESTSESS01";
    /// A sequence number corrupted far ahead (bit 40 flipped).
    const BOGUS: u64 = 1 << 40;
    let buf = generate_framed(SynthConfig {
        seed: 7,
        messages: 200,
        instruments: 4,
    })
    .unwrap();
    let itch: Vec<Vec<u8>> = ticklane_feeds::binfile::Frames::new(&buf)
        .map(|f| f.unwrap().bytes.to_vec())
        .collect();
    let a = free_port();
    let live = LiveConfig {
        lines: vec![LineSource::Udp(UdpLineConfig::unicast(a))],
        session: SessionConfig {
            session: Some(SESSION),
            first_sequence: None, // --join
            recovery: false,
            ..SessionConfig::default()
        },
        retransmit: vec![],
        busy_poll: false,
        silence_ns: 1_000_000_000,
        stop_after_silence_ns: Some(3_000_000_000),
        record: None,
    };
    let gaps = Arc::new(Mutex::new(Vec::new()));
    let g = gaps.clone();
    let factory: StrategyFactory =
        Arc::new(move || Ok(Box::new(Gaps(g.clone())) as Box<dyn Strategy>));
    let plan = one_lane_plan(
        live,
        LaneSettings::default(),
        PublisherSettings::default(),
        1024,
        ("gaps", factory),
    );
    let report = std::thread::scope(|s| {
        let engine = s.spawn(|| run_to_end(plan, |_| {}).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(300));
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let send = |first: u64, msgs: &[Vec<u8>]| {
            let mut b = MoldPacketBuilder::new(SESSION, first);
            for m in msgs {
                b.push(m, |_| {}).unwrap();
            }
            tx.send_to(b.flush().unwrap(), a).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        // The first packet (messages 1001..1010), its sequence number corrupted far ahead.
        send(BOGUS, &itch[..10]);
        for (i, chunk) in itch[10..].chunks(10).enumerate() {
            send(1_011 + 10 * i as u64, chunk);
        }
        let end = 1_001 + itch.len() as u64;
        tx.send_to(&MoldPacketBuilder::new(SESSION, end).end_of_session(), a)
            .unwrap();
        engine.join().unwrap()
    });
    let notes = report.source.notes.join("\n");
    let gaps = gaps.lock().unwrap().clone();
    // The rejoin (count 0: unknown), then the packet set aside as evidence (no recovery).
    assert_eq!(gaps, vec![(1_011, 0), (1_011, 10)], "{notes}");
    assert!(
        notes.contains("joined the session again at message 1011"),
        "{notes}"
    );
    let lane = &report.lanes[0];
    assert!(feed_gaps(lane) >= 1, "{:?}", lane.anomalies);
}
