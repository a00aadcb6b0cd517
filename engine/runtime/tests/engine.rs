//! The whole data plane under the control plane: feed thread → rings → lanes, with strategies,
//! the paper venue, panics, and the digest.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use support::{bomb, chaser, session, spec, symbol};
use ticklane_core::InstrumentId;
use ticklane_runtime::digest::{hex, lanes_digest, strategy_digests};
use ticklane_runtime::{
    run_to_end, EnginePlan, EventsSource, FeedSource, IdlePolicy, LaneIncident, LaneSettings,
    LostReport, PanicAction, PanicPolicy, Publisher, PublisherSettings, RingKind, RunReport,
    SourceReport, StrategySpec, TouchVenue, Venue, Worker, WorkerProbe, WorkerReport,
};

fn plan(
    events: &[ticklane_core::MarketEvent],
    lanes: Vec<Vec<StrategySpec>>,
    policy: PanicPolicy,
) -> EnginePlan {
    EnginePlan {
        lanes: lanes
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    LaneSettings {
                        index: i as u16,
                        idle: IdlePolicy::SpinYield { spins: 64 },
                        panic_policy: policy,
                        ..LaneSettings::default()
                    },
                    s,
                )
            })
            .collect(),
        feed_core: None,
        ring_capacity: 1024,
        ring_kind: RingKind::Index,
        publisher: PublisherSettings {
            idle: IdlePolicy::SpinYield { spins: 64 },
            heartbeat_ns: 500_000,
            ..PublisherSettings::default()
        },
        source: Box::new(EventsSource::new(events.to_vec(), 16)),
        venue: Arc::new(|_| Box::new(TouchVenue::new()) as Box<dyn Venue>),
        workers: Vec::new(),
    }
}

/// A control-plane runtime for tests that talk to a running engine.
fn control_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn run(plan: EnginePlan) -> RunReport {
    match run_to_end(plan, |_| {}) {
        Ok(r) => r,
        Err(e) => panic!("run failed: {e}"),
    }
}

/// Per-strategy digests by strategy id, and the run digest.
/// Each strategy's digest (by id) and the run's.
type Digests = (Vec<(u16, [u8; 32])>, [u8; 32]);

fn digests(r: &RunReport) -> Digests {
    (strategy_digests(&r.lanes), lanes_digest(&r.lanes))
}

fn three_chasers(layout: &[usize]) -> Vec<Vec<StrategySpec>> {
    let lanes = layout.iter().copied().max().unwrap_or(0) + 1;
    let mut out: Vec<Vec<StrategySpec>> = vec![Vec::new(); lanes];
    for (i, &lane) in layout.iter().enumerate() {
        let id = i as u16;
        let syms = [symbol(1 + i as u32)];
        out[lane].push(spec(id, &format!("chaser{id}"), &syms, chaser()));
    }
    out
}

/// The equity curves (not in the digest) are sampled at the same event times, from the same
/// book states and fills, in every lane layout: a quiet lane reaches a sample time on a
/// heartbeat, a busy one on an event.
#[test]
fn equity_curves_are_the_same_in_every_lane_layout() {
    // The usual session stretched to about 12 s of event time: a dozen sample boundaries.
    let mut events = session(7, 6, 60_000);
    let t0 = events[0].ts.0;
    for e in &mut events {
        e.ts.0 = t0 + (e.ts.0 - t0) * 20;
    }
    let curves = |layout: &[usize]| {
        let r = run(plan(&events, three_chasers(layout), PanicPolicy::default()));
        let mut c: Vec<_> = r
            .lanes
            .iter()
            .flat_map(|l| &l.strategies)
            .map(|s| {
                (
                    s.id,
                    s.ledger.equity_curve().iter().collect::<Vec<_>>(),
                    s.max_drawdown,
                )
            })
            .collect();
        c.sort_by_key(|x| x.0);
        c
    };
    let one = curves(&[0, 0, 0]);
    let lens: Vec<usize> = one.iter().map(|c| c.1.len()).collect();
    assert!(
        lens.iter().all(|&n| n > 8),
        "samples per strategy: {lens:?}"
    );
    assert!(
        one.iter().any(|c| c.1.iter().any(|p| !p.equity.is_zero())),
        "the strategies traded"
    );
    assert_eq!(one, curves(&[0, 1, 1]), "1 lane vs 2 lanes");
    assert_eq!(one, curves(&[2, 0, 1]), "1 lane vs 3 lanes");
}

#[test]
fn same_input_gives_the_same_digest_across_runs_lane_layouts_and_ring_kinds() {
    let events = session(7, 6, 60_000);
    let one_lane = run(plan(
        &events,
        three_chasers(&[0, 0, 0]),
        PanicPolicy::default(),
    ));
    // Again, through the stamped ring, one event per hand-off (the latency configuration).
    let mut p = plan(&events, three_chasers(&[0, 0, 0]), PanicPolicy::default());
    p.ring_kind = RingKind::Stamped;
    p.publisher.batch = 1;
    let again = run(p);
    // Two lanes through small stamped rings in batches (full rings on the way).
    let mut p = plan(&events, three_chasers(&[0, 1, 1]), PanicPolicy::default());
    p.ring_kind = RingKind::Stamped;
    p.ring_capacity = 64;
    let two_lanes = run(p);
    let three_lanes = run(plan(
        &events,
        three_chasers(&[2, 0, 1]),
        PanicPolicy::default(),
    ));

    // Not vacuous: the strategies traded, got fills and fired timers.
    let s = &one_lane.lanes[0].strategies;
    assert_eq!(s.len(), 3);
    for st in s {
        assert!(st.commands > 50, "{st:?}");
        assert!(st.fills > 5, "{st:?}");
        assert!(st.events > 1_000, "{st:?}");
    }
    // One lane never needs a heartbeat; with three, quiet lanes get them.
    assert_eq!(one_lane.feed.heartbeats, 0);
    assert!(three_lanes.feed.heartbeats > 100);
    assert_eq!(one_lane.feed.events, events.len() as u64);

    let (per1, d1) = digests(&one_lane);
    let (per1b, d1b) = digests(&again);
    let (per2, d2) = digests(&two_lanes);
    let (per3, d3) = digests(&three_lanes);
    assert_eq!(per1, per1b);
    assert_eq!(per1, per2, "1 lane vs 2 lanes");
    assert_eq!(per1, per3, "1 lane vs 3 lanes");
    assert_eq!(hex(&d1), hex(&d1b));
    assert_eq!(d1, d2);
    assert_eq!(d1, d3);
    // Every event reached exactly one lane (market-wide ones reached every lane), or none:
    // the chasers subscribe to three of the six instruments, and every lane keeps only its
    // strategies' books, so the other three's events (directory entries excepted) are not
    // sent, in every layout.
    let market_wide = events
        .iter()
        .filter(|e| e.instrument == InstrumentId::NONE)
        .count() as u64;
    let processed: u64 = three_lanes.lanes.iter().map(|l| l.events).sum();
    assert!(three_lanes.feed.unread > 1_000, "{:?}", three_lanes.feed);
    assert_eq!(one_lane.feed.unread, three_lanes.feed.unread);
    assert_eq!(
        processed + three_lanes.feed.unread,
        events.len() as u64 + 2 * market_wide
    );
}

/// A spliced recording: event time goes backwards where the second half of a session is
/// followed by its first half. A lane reaches the latest time published before an earlier
/// item, wherever the later events went, as a single lane does: the same digests in every
/// layout (a lane whose instruments stayed in the past fired its timers later than in one
/// lane, and closed earlier).
#[test]
fn a_splice_where_event_time_goes_backwards_gives_the_same_digests_in_every_layout() {
    let events = session(7, 6, 60_000);
    // The opening (directory entries, trading states) first, as a recording starts; then
    // the session's second half, then its first.
    let (opening, rest) = events.split_at(1_000);
    let (head, tail) = rest.split_at(rest.len() / 2);
    let spliced: Vec<_> = opening.iter().chain(tail).chain(head).copied().collect();
    assert!(opening
        .iter()
        .any(|e| matches!(e.body, ticklane_core::EventBody::InstrumentDirectory(_))));
    let one = run(plan(
        &spliced,
        three_chasers(&[0, 0, 0]),
        PanicPolicy::default(),
    ));
    let s = &one.lanes[0].strategies;
    assert!(
        s.iter().all(|st| st.commands > 20 && st.events > 500),
        "{s:?}"
    );
    let (per1, d1) = digests(&one);
    for layout in [[0, 1, 1], [2, 0, 1], [1, 1, 0]] {
        let r = run(plan(
            &spliced,
            three_chasers(&layout),
            PanicPolicy::default(),
        ));
        let (per, d) = digests(&r);
        assert_eq!(per1, per, "1 lane vs {layout:?}");
        assert_eq!(d1, d, "1 lane vs {layout:?}");
    }
}

#[test]
fn instruments_seen_before_their_directory_reach_their_strategies_in_every_layout() {
    // A stray message of each instrument (a delete of an order nobody knows: an anomaly,
    // nothing more) before the directory entries: the router hashed each instrument to
    // `id % lanes` for good, so a strategy on another lane never saw its instrument (27
    // market-wide events instead of 1,500), while with one lane it traded it.
    let mut events = session(3, 3, 20_000);
    let ts = events[0].ts;
    for id in [1, 2, 3] {
        events.insert(
            0,
            ticklane_core::MarketEvent::new(
                ts,
                InstrumentId(id),
                ticklane_core::EventBody::OrderDeleted {
                    order_id: ticklane_core::OrderId(999_000 + u64::from(id)),
                },
            ),
        );
    }
    let one = run(plan(
        &events,
        three_chasers(&[0, 0, 0]),
        PanicPolicy::default(),
    ));
    let s = &one.lanes[0].strategies;
    assert!(s.iter().all(|st| st.events > 500), "{s:?}");
    let (per1, d1) = digests(&one);
    for layout in [[0, 1, 1], [1, 0, 1], [2, 0, 1]] {
        let r = run(plan(
            &events,
            three_chasers(&layout),
            PanicPolicy::default(),
        ));
        let (per, d) = digests(&r);
        assert_eq!(per1, per, "1 lane vs {layout:?}");
        assert_eq!(d1, d, "1 lane vs {layout:?}");
    }
}

#[test]
fn a_different_input_gives_a_different_digest() {
    let a = session(7, 6, 20_000);
    let b = session(8, 6, 20_000);
    let ra = run(plan(&a, three_chasers(&[0, 0, 0]), PanicPolicy::default()));
    let rb = run(plan(&b, three_chasers(&[0, 0, 0]), PanicPolicy::default()));
    assert_ne!(digests(&ra).1, digests(&rb).1);
}

#[test]
fn a_panicking_strategy_is_restarted_and_its_neighbour_is_untouched() {
    let events = session(3, 4, 20_000);
    let starts = Arc::new(AtomicU32::new(0));
    let lanes = vec![vec![
        spec(0, "bomb", &[symbol(1)], bomb(50, starts.clone())),
        spec(1, "chaser", &[symbol(2)], chaser()),
    ]];
    let r = run(plan(
        &events,
        lanes,
        PanicPolicy::Restart { max_restarts: 3 },
    ));
    let lane = &r.lanes[0];
    let bomb = &lane.strategies[0];
    let chaser = &lane.strategies[1];
    // Panics at its 50th event; the fresh instance panics again 50 events later, and so on,
    // until the restarts run out (3) and the lane halts on the 4th panic.
    assert_eq!(bomb.panics, 4);
    assert_eq!(bomb.restarts, 3);
    assert_eq!(starts.load(Ordering::Relaxed), 4);
    assert!(lane.halted);
    let actions: Vec<PanicAction> = r
        .incidents
        .iter()
        .filter_map(|i| match i {
            LaneIncident::StrategyPanicked { action, name, .. } if name == "bomb" => Some(*action),
            _ => None,
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            PanicAction::Restarted,
            PanicAction::Restarted,
            PanicAction::Restarted,
            PanicAction::LaneHalted
        ]
    );
    // The halted lane still drained its ring and kept its books.
    assert_eq!(lane.events + r.feed.unread, r.feed.events);
    assert!(lane.instruments >= 4);
    assert_eq!(lane.working_orders, 0, "a halt cancels every order");
    assert!(chaser.events > 0);
}

#[test]
fn halting_one_lane_leaves_the_other_lanes_trading() {
    let events = session(5, 4, 30_000);
    let starts = Arc::new(AtomicU32::new(0));
    let lanes = vec![
        vec![spec(0, "bomb", &[symbol(1)], bomb(10, starts.clone()))],
        vec![spec(1, "chaser", &[symbol(2)], chaser())],
    ];
    let r = run(plan(&events, lanes, PanicPolicy::HaltLane));
    assert!(r.lanes[0].halted);
    assert!(!r.lanes[1].halted);
    assert_eq!(r.lanes[0].strategies[0].panics, 1);
    assert_eq!(starts.load(Ordering::Relaxed), 1);
    // Lane 1's strategy saw every event of its instrument and kept trading.
    let own = events
        .iter()
        .filter(|e| e.instrument == InstrumentId(2) || e.instrument == InstrumentId::NONE)
        .count() as u64;
    let chaser = &r.lanes[1].strategies[0];
    assert_eq!(chaser.events, own);
    assert!(chaser.commands > 50);
    // Nothing was lost: both lanes processed everything routed to them.
    assert_eq!(
        r.lanes.iter().map(|l| l.events + l.heartbeats).sum::<u64>(),
        r.feed.per_lane.iter().sum::<u64>()
    );
    assert_eq!(r.feed.dropped_lane_gone, 0);
}

#[test]
fn status_kill_switch_and_stop_through_the_control_plane() {
    use ticklane_runtime::{Engine, Pace};
    let events = session(9, 4, 400_000);
    let mut p = plan(
        &events,
        vec![
            vec![spec(0, "a", &[symbol(1)], chaser())],
            vec![spec(1, "b", &[symbol(2)], chaser())],
        ],
        PanicPolicy::default(),
    );
    // Slow enough that the run is still going when we poke it (400k events at 200k/s = 2 s).
    p.publisher.pace = Pace::Rate(200_000);
    let rt = control_runtime();
    let report = rt.block_on(async {
        let mut engine = Engine::start(p).await.unwrap_or_else(|e| panic!("{e}"));
        // Status answers while running, and counters move.
        let mut seen = 0;
        for _ in 0..200 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            let s = engine.status().await.unwrap_or_default();
            assert_eq!(s.lanes.len(), 2);
            seen = s.feed_events;
            if seen > 20_000 {
                break;
            }
        }
        assert!(seen > 20_000, "the feed made progress: {seen}");
        engine.kill_switch();
        for _ in 0..200 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let s = engine.status().await.unwrap_or_default();
            if s.lanes.iter().all(|l| l.trading_disabled) {
                break;
            }
        }
        let s = engine.status().await.unwrap_or_default();
        assert!(s.lanes.iter().all(|l| l.trading_disabled), "{s:?}");
        engine.stop();
        engine.wait().await.unwrap_or_else(|e| panic!("{e}"))
    });
    assert!(report.feed.stopped, "stopped before the end of the input");
    assert!(report.feed.events < events.len() as u64);
    // Every item published to a lane was processed there or is counted as left in its ring
    // (the lane's own look at its ring came while the feed could still push).
    for lane in &report.lanes {
        assert_eq!(
            lane.events + lane.heartbeats + lane.left_in_ring,
            report.feed.per_lane[usize::from(lane.index)],
            "lane {}",
            lane.index
        );
    }
    for lane in &report.lanes {
        assert!(lane.killed);
        assert_eq!(
            lane.working_orders, 0,
            "the kill switch cancelled everything"
        );
    }
    let kills = report
        .incidents
        .iter()
        .filter(|i| matches!(i, LaneIncident::KillSwitch { .. }))
        .count();
    assert_eq!(kills, 2);
}

#[test]
fn latency_in_the_paper_exchange_keeps_the_digest_layout_independent() {
    use ticklane_exec::{ConstantLatency, PaperExchange, PerShareFees};
    let events = session(11, 6, 40_000);
    let paper = |events: &[ticklane_core::MarketEvent], layout: &[usize]| {
        let mut p = plan(events, three_chasers(layout), PanicPolicy::default());
        p.venue = Arc::new(|_| {
            Box::new(PaperExchange::with_models(
                ConstantLatency {
                    entry_ns: 30_000,
                    response_ns: 20_000,
                },
                PerShareFees {
                    maker_per_share: -20,
                    taker_per_share: 30,
                },
            )) as Box<dyn Venue>
        });
        run(p)
    };
    let one = paper(&events, &[0, 0, 0]);
    let three = paper(&events, &[2, 0, 1]);
    let fills: u64 = one.lanes[0].strategies.iter().map(|s| s.fills).sum();
    assert!(fills > 10, "the strategies were filled: {fills}");
    assert_eq!(digests(&one), digests(&three));
}

/// A worker for the tests: panics at once if told to; else sets its counter, waits to be
/// released, then reports.
struct Tally {
    release: Arc<std::sync::atomic::AtomicBool>,
    ticks: Arc<std::sync::atomic::AtomicU64>,
    panic_with: Option<&'static str>,
    /// Set when `run` ends, a panic included.
    ended: Arc<std::sync::atomic::AtomicBool>,
}

/// Sets its flag when dropped (a panic unwinding included).
struct SetOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Worker for Tally {
    fn name(&self) -> &'static str {
        "tally"
    }

    fn probe(&self) -> WorkerProbe {
        let ticks = self.ticks.clone();
        Arc::new(move || vec![("ticks", ticks.load(Ordering::Relaxed))])
    }

    fn lost_report(&self) -> LostReport {
        let ticks = self.ticks.clone();
        Arc::new(move |why| {
            let n = ticks.load(Ordering::Relaxed);
            WorkerReport {
                name: "tally".into(),
                counters: vec![("ticks", n)],
                notes: vec![],
                lost: n,
                error: Some(why),
            }
        })
    }

    fn run(self: Box<Self>) -> WorkerReport {
        let _ended = SetOnDrop(self.ended.clone());
        if let Some(why) = self.panic_with {
            panic!("{why}");
        }
        self.ticks.store(5, Ordering::Relaxed);
        while !self.release.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        WorkerReport {
            name: "tally".into(),
            counters: vec![("ticks", 5)],
            notes: vec!["tallied".into()],
            lost: 0,
            error: None,
        }
    }
}

/// A source that, after its events and once the worker has died and had time to be reported,
/// sets the worker's counter (as the live feed, still recording after its recorder died, adds
/// to what the recording lacks).
struct ThenTicks {
    events: EventsSource,
    ticks: Arc<std::sync::atomic::AtomicU64>,
    worker_ended: Arc<std::sync::atomic::AtomicBool>,
}

impl FeedSource for ThenTicks {
    fn run(&mut self, publisher: &mut Publisher) -> SourceReport {
        let report = self.events.run(publisher);
        for _ in 0..10_000 {
            if self.worker_ended.load(Ordering::Acquire) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // Time for the actor to join the dead thread: a report built then would miss this.
        std::thread::sleep(std::time::Duration::from_millis(50));
        self.ticks.store(99, Ordering::Relaxed);
        report
    }
}

/// A panic on the feed thread ends the run with an error naming it (the supervisor hears of
/// the thread's end even when it unwinds); it used to wait forever for the feed's report.
#[test]
fn a_panicking_feed_fails_the_run_instead_of_hanging_it() {
    struct Boom(EventsSource);
    impl FeedSource for Boom {
        fn run(&mut self, publisher: &mut Publisher) -> SourceReport {
            let _ = self.0.run(publisher);
            panic!("feed on fire");
        }
    }
    let events = session(7, 4, 5_000);
    let mut p = plan(
        &events,
        vec![vec![spec(0, "a", &[symbol(1)], chaser())]],
        PanicPolicy::default(),
    );
    p.source = Box::new(Boom(EventsSource::new(events.clone(), 16)));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_to_end(p, |_| {}).map(|_| ()).map_err(|e| e.to_string()));
    });
    let ended = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("the run hung after its feed panicked"));
    assert_eq!(ended, Err("feed thread failed: feed on fire".to_string()));
}

fn tally(panic_with: Option<&'static str>) -> (Tally, Arc<std::sync::atomic::AtomicBool>) {
    let release = Arc::new(std::sync::atomic::AtomicBool::new(panic_with.is_some()));
    let t = Tally {
        release: release.clone(),
        ticks: Arc::default(),
        panic_with,
        ended: Arc::default(),
    };
    (t, release)
}

/// A worker thread (what the live recorder is) is owned by its actor: status shows its
/// counters while it runs, the run waits for it, and its report is the run's.
#[test]
fn a_worker_runs_under_its_actor_and_its_report_is_the_runs() {
    use ticklane_runtime::{Engine, WorkerStatus};
    let events = session(7, 4, 20_000);
    let strategies = || vec![vec![spec(0, "a", &[symbol(1)], chaser())]];
    let without = run(plan(&events, strategies(), PanicPolicy::default()));
    let (worker, release) = tally(None);
    let mut p = plan(&events, strategies(), PanicPolicy::default());
    p.workers.push(Box::new(worker));
    let rt = control_runtime();
    let report = rt.block_on(async {
        let mut engine = Engine::start(p).await.unwrap_or_else(|e| panic!("{e}"));
        let running = WorkerStatus {
            name: "tally".into(),
            counters: vec![("ticks", 5)],
            finished: false,
        };
        // Wait until the lanes are done and the worker has counted.
        let mut last = None;
        for _ in 0..2_000 {
            let s = engine.status().await.unwrap_or_default();
            let ready = s.lanes.iter().all(|l| l.finished) && s.workers == [running.clone()];
            last = Some(s);
            if ready {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let s = last.unwrap_or_default();
        assert_eq!(s.workers, [running], "{s:?}");
        assert!(s.lanes.iter().all(|l| l.finished), "{s:?}");
        // Feed and lanes are done; the run is not, while its worker runs.
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(100), engine.wait()).await;
        assert!(early.is_err(), "the run ended before its worker");
        release.store(true, Ordering::Release);
        engine.wait().await.unwrap_or_else(|e| panic!("{e}"))
    });
    assert_eq!(
        report.workers,
        [WorkerReport {
            name: "tally".into(),
            counters: vec![("ticks", 5)],
            notes: vec!["tallied".into()],
            lost: 0,
            error: None,
        }]
    );
    assert_eq!(digests(&report), digests(&without));
}

/// A worker that panics is reported as that worker's error, its report built once the feed
/// has ended (so it counts what the feed did after the death); the lanes trade on to the same
/// digest.
#[test]
fn a_panicking_worker_is_reported_and_the_run_goes_on() {
    let events = session(7, 4, 20_000);
    let strategies = || vec![vec![spec(0, "a", &[symbol(1)], chaser())]];
    let without = run(plan(&events, strategies(), PanicPolicy::default()));
    let (worker, _) = tally(Some("disk on fire"));
    let mut p = plan(&events, strategies(), PanicPolicy::default());
    p.source = Box::new(ThenTicks {
        events: EventsSource::new(events.clone(), 16),
        ticks: worker.ticks.clone(),
        worker_ended: worker.ended.clone(),
    });
    p.workers.push(Box::new(worker));
    let report = run(p);
    assert_eq!(
        report.workers,
        [WorkerReport {
            name: "tally".into(),
            counters: vec![("ticks", 99)],
            notes: vec![],
            lost: 99,
            error: Some("the tally thread panicked: disk on fire".into()),
        }]
    );
    assert_eq!(report.lanes[0].events, without.lanes[0].events);
    assert_eq!(digests(&report), digests(&without));
}

/// Runs `p` on a thread of its own; what it ended with, or `None` if it had not ended after
/// `secs` seconds.
fn run_within(p: EnginePlan, secs: u64) -> Option<Result<usize, String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(
            run_to_end(p, |_| {})
                .map(|r| r.lanes.len())
                .map_err(|e| e.to_string()),
        );
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs)).ok()
}

/// A plan whose lane is numbered 1 though it is the plan's only lane: the run must end (an
/// error naming the lane numbers, or a report), not wait forever for a report that the
/// supervisor dropped (its slot is found by the lane's number).
#[test]
fn a_plan_whose_lane_numbers_are_not_their_places_ends_instead_of_hanging() {
    let events = session(7, 4, 2_000);
    let mut p = plan(
        &events,
        vec![vec![spec(0, "a", &[symbol(1)], chaser())]],
        PanicPolicy::default(),
    );
    p.lanes[0].0.index = 1;
    let ended = run_within(p, 20);
    assert!(ended.is_some(), "the run hung: {ended:?}");
}

/// A strategy that cannot be built when the run starts (its factory fails, or panics: the
/// constructor is strategy code too) is a strategy error naming it, not "an actor panicked
/// during startup" of the control plane.
#[test]
fn a_strategy_that_cannot_be_built_at_start_is_reported_as_a_strategy_error() {
    use ticklane_runtime::{EngineError, StrategyFactory};
    let events = session(7, 4, 2_000);
    let fails: StrategyFactory = Arc::new(|| {
        Err(ticklane_strategy::ParamError::Invalid {
            strategy: "bad".into(),
            message: "params.x: out of range".into(),
        })
    });
    let panics: StrategyFactory = Arc::new(|| panic!("constructor on fire"));
    for (what, factory) in [("fails", fails), ("panics", panics)] {
        let p = plan(
            &events,
            vec![
                vec![spec(0, "a", &[symbol(1)], chaser())],
                vec![spec(1, "bad", &[symbol(2)], factory)],
            ],
            PanicPolicy::default(),
        );
        let err = match run_to_end(p, |_| {}) {
            Ok(_) => panic!("{what}: the run started"),
            Err(e) => e,
        };
        let text = err.to_string();
        assert!(
            matches!(err, EngineError::Strategy(_)),
            "{what}: {err:?} ({text})"
        );
        assert!(text.contains("bad"), "{what}: {text}");
        assert!(!text.contains("Actor panicked"), "{what}: {text}");
    }
}

/// `Engine::wait` a second time (the run is over) answers an error, not a panic of the
/// caller's task.
#[test]
fn waiting_twice_for_a_run_is_an_error_not_a_panic() {
    use ticklane_runtime::{Engine, EngineError};
    let events = session(7, 4, 2_000);
    let p = plan(
        &events,
        vec![vec![spec(0, "a", &[symbol(1)], chaser())]],
        PanicPolicy::default(),
    );
    let rt = control_runtime();
    let second = rt.block_on(async {
        let mut engine = Engine::start(p).await.unwrap_or_else(|e| panic!("{e}"));
        engine.wait().await.unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move { engine.wait().await.map(|_| ()) }).await
    });
    match second {
        Ok(Err(EngineError::NoReport)) => {}
        Ok(other) => panic!("second wait: {other:?}"),
        Err(join) => panic!("the second wait panicked: {join}"),
    }
}

// ---- lane review 2: one scenario, many layouts, what each strategy saw --------------------

mod explore {
    use std::sync::{Arc, Mutex};

    use super::support::Rng;
    use ticklane_core::{InstrumentId, MarketEvent, Qty, Side, Timestamp};
    use ticklane_runtime::StrategyFactory;
    use ticklane_strategy::{
        Context, Fill, OrderUpdate, OrderUpdateKind, Strategy, TimeInForce, TimerId, TradePrint,
    };

    /// Every callback of every strategy, with its time and what the strategy could read.
    pub type Seen = Arc<Mutex<Vec<(u16, String)>>>;

    pub struct Explorer {
        pub id: u16,
        pub rng: Rng,
        pub seen: Seen,
        pub n: u64,
    }

    impl Explorer {
        fn note(&mut self, ctx: &Context<'_>, what: String) {
            let mut tops = String::new();
            for o in ctx.open_orders() {
                tops.push_str(&format!("[o{} {}]", o.id.0, o.filled.0));
            }
            let p: i64 = ctx.positions().iter().map(|(_, p)| p.net).sum();
            let line = format!(
                "{} {what} pos={p} {tops} tr={}",
                ctx.now().0,
                ctx.trading_enabled()
            );
            if let Ok(mut s) = self.seen.lock() {
                s.push((self.id, line));
            }
        }

        fn book_line(ctx: &Context<'_>, i: InstrumentId) -> String {
            ctx.book(i).map_or("none".into(), |b| {
                format!(
                    "{:?}/{:?}",
                    b.best_bid().map(|l| (l.price.0, l.qty)),
                    b.best_ask().map(|l| (l.price.0, l.qty))
                )
            })
        }

        fn act(&mut self, i: InstrumentId, ctx: &mut Context<'_>) {
            self.n += 1;
            let r = self.rng.below(12);
            let Some(book) = ctx.book(i) else { return };
            let (bid, ask) = (book.best_bid(), book.best_ask());
            match r {
                0 | 1 => {
                    if let Some(b) = bid {
                        if ctx.open_orders().len() < 4 {
                            ctx.limit(i, Side::Bid, b.price, Qty(100), TimeInForce::Day);
                        }
                    }
                }
                2 => {
                    if let Some(a) = ask {
                        ctx.limit(i, Side::Bid, a.price, Qty(100), TimeInForce::Ioc);
                    }
                }
                3 => {
                    let pos = ctx.position(i).net;
                    if let (Some(b), true) = (bid, pos > 0) {
                        ctx.limit(i, Side::Ask, b.price, Qty(pos as u32), TimeInForce::Ioc);
                    }
                }
                4 => {
                    if let Some(o) = ctx.open_orders().first().copied() {
                        ctx.cancel(o.id);
                    }
                }
                5 => {
                    if let (Some(o), Some(b)) = (ctx.open_orders().last().copied(), bid) {
                        ctx.modify(o.id, b.price, Qty(200));
                    }
                }
                6 => ctx.set_timer(ctx.now(), TimerId(1_000 + self.n)),
                7 => {
                    let d = self.rng.below(3_000_000);
                    ctx.set_timer(Timestamp(ctx.now().0 + d), TimerId(2_000 + self.n));
                }
                8 => {
                    if let Some(a) = ask {
                        ctx.limit(i, Side::Ask, a.price, Qty(100), TimeInForce::Day);
                    }
                }
                _ => {}
            }
        }
    }

    impl Strategy for Explorer {
        fn on_start(&mut self, ctx: &mut Context<'_>) {
            ctx.set_timer(
                Timestamp(34_200_001_000_000 + u64::from(self.id) * 7_777),
                TimerId(7),
            );
            self.note(ctx, "start".into());
        }
        fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
            let b = Self::book_line(ctx, ev.instrument);
            self.note(
                ctx,
                format!("event {} {} {b}", ev.kind_name(), ev.instrument.0),
            );
            if ev.instrument != InstrumentId::NONE {
                self.act(ev.instrument, ctx);
            }
        }
        fn on_trade(&mut self, t: &TradePrint, ctx: &mut Context<'_>) {
            self.note(ctx, format!("trade {:?}", t));
        }
        fn on_book(&mut self, i: InstrumentId, ctx: &mut Context<'_>) {
            let b = Self::book_line(ctx, i);
            self.note(ctx, format!("book {} {b}", i.0));
        }
        fn on_timer(&mut self, t: TimerId, ctx: &mut Context<'_>) {
            self.note(ctx, format!("timer {}", t.0));
            if t.0 == 7 {
                ctx.set_timer(Timestamp(ctx.now().0 + 1_300_000), TimerId(7));
            }
            let insts: Vec<InstrumentId> = ctx.positions().iter().map(|(i, _)| i).collect();
            if let Some(&i) = insts.first() {
                self.act(i, ctx);
            }
        }
        fn on_order_update(&mut self, u: &OrderUpdate, ctx: &mut Context<'_>) {
            self.note(ctx, format!("update {:?} {:?}", u.id, u.kind));
            if matches!(u.kind, OrderUpdateKind::Accepted) && self.rng.below(4) == 0 {
                ctx.set_timer(ctx.now(), TimerId(3_000 + self.n));
            }
        }
        fn on_fill(&mut self, f: &Fill, ctx: &mut Context<'_>) {
            self.note(ctx, format!("fill {:?}", f));
            if self.rng.below(3) == 0 {
                self.act(f.instrument, ctx);
            }
        }
        fn on_stop(&mut self, ctx: &mut Context<'_>) {
            self.note(ctx, "stop".into());
        }
    }

    pub fn explorer(id: u16, seen: &Seen) -> StrategyFactory {
        let seen = seen.clone();
        Arc::new(move || {
            Ok(Box::new(Explorer {
                id,
                rng: Rng::new(1 + u64::from(id)),
                seen: seen.clone(),
                n: 0,
            }) as Box<dyn Strategy>)
        })
    }
}

/// Runs explorers (strategy i on `layout[i]`, subscribing to `subs[i]`) and returns what each
/// saw, by strategy, plus the digests.
fn explore_run(
    events: &[ticklane_core::MarketEvent],
    layout: &[usize],
    subs: &[Vec<u32>],
    tweak: impl FnOnce(&mut EnginePlan),
) -> (Vec<Vec<String>>, Digests) {
    let seen: explore::Seen = Arc::default();
    let lanes = layout.iter().copied().max().unwrap_or(0) + 1;
    let mut out: Vec<Vec<StrategySpec>> = vec![Vec::new(); lanes];
    for (i, &lane) in layout.iter().enumerate() {
        let syms: Vec<_> = subs[i].iter().map(|&s| symbol(s)).collect();
        out[lane].push(spec(
            i as u16,
            &format!("x{i}"),
            &syms,
            explore::explorer(i as u16, &seen),
        ));
    }
    let mut p = plan(events, out, PanicPolicy::default());
    tweak(&mut p);
    let r = run(p);
    let mut per = vec![Vec::new(); layout.len()];
    for (id, line) in seen.lock().map(|s| s.clone()).unwrap_or_default() {
        per[usize::from(id)].push(line);
    }
    (per, digests(&r))
}

fn first_difference(a: &[Vec<String>], b: &[Vec<String>]) -> Option<String> {
    for (s, (x, y)) in a.iter().zip(b).enumerate() {
        for (k, (l, m)) in x.iter().zip(y).enumerate() {
            if l != m {
                return Some(format!("strategy {s} line {k}:\n  A: {l}\n  B: {m}"));
            }
        }
        if x.len() != y.len() {
            return Some(format!("strategy {s}: {} lines vs {}", x.len(), y.len()));
        }
    }
    None
}

#[test]
fn explorers_see_the_same_in_every_layout_batch_ring_and_heartbeat() {
    use ticklane_exec::{ConstantLatency, PaperExchange, PerShareFees};
    let events = session(21, 6, 30_000);
    let subs = vec![vec![1], vec![2], vec![3, 4], vec![5]];
    let venue = |p: &mut EnginePlan| {
        p.venue = Arc::new(|_| {
            Box::new(PaperExchange::with_models(
                ConstantLatency {
                    entry_ns: 7_000,
                    response_ns: 13_000,
                },
                PerShareFees::ZERO,
            )) as Box<dyn Venue>
        });
    };
    let (base, d0) = explore_run(&events, &[0, 0, 0, 0], &subs, venue);
    assert!(
        base.iter().all(|s| s.len() > 1_000),
        "{:?}",
        base.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let mut failures = Vec::new();
    for (name, layout, batch, hb, kind) in [
        ("2 lanes", [0, 1, 1, 0], 32, 500_000, RingKind::Index),
        ("4 lanes", [3, 2, 1, 0], 32, 500_000, RingKind::Index),
        (
            "4 lanes batch 1 stamped",
            [3, 2, 1, 0],
            1,
            500_000,
            RingKind::Stamped,
        ),
        (
            "4 lanes batch 64 hb 1us",
            [3, 2, 1, 0],
            64,
            1_000,
            RingKind::Index,
        ),
        (
            "4 lanes hb 10s",
            [3, 2, 1, 0],
            7,
            10_000_000_000,
            RingKind::Index,
        ),
        (
            "2 lanes hb 333us",
            [1, 0, 1, 0],
            5,
            333_333,
            RingKind::Stamped,
        ),
    ] {
        let (seen, d) = explore_run(&events, &layout, &subs, |p| {
            venue(p);
            p.publisher.batch = batch;
            p.publisher.heartbeat_ns = hb;
            p.ring_kind = kind;
        });
        if let Some(diff) = first_difference(&base, &seen) {
            failures.push(format!("{name}: {diff}"));
        } else if d != d0 {
            failures.push(format!("{name}: same callbacks, different digests"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn compare_in_every_layout(
    events: &[ticklane_core::MarketEvent],
    subs: &[Vec<u32>],
    common: &dyn Fn(&mut EnginePlan),
) -> Vec<String> {
    let (base, d0) = explore_run(events, &vec![0; subs.len()], subs, common);
    assert!(
        base.iter().all(|s| s.len() > 100),
        "{:?}",
        base.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let n = subs.len();
    let spread: Vec<usize> = (0..n).map(|i| n - 1 - i).collect();
    let two: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let mut failures = Vec::new();
    // (name, lane of each strategy, batch, heartbeat ns, ring kind, every book kept)
    type Variant<'a> = (&'a str, Vec<usize>, usize, u64, RingKind, bool);
    let variants: Vec<Variant<'_>> = vec![
        (
            "1 lane all books",
            vec![0; n],
            32,
            500_000,
            RingKind::Index,
            true,
        ),
        (
            "spread",
            spread.clone(),
            32,
            500_000,
            RingKind::Index,
            false,
        ),
        (
            "spread all books",
            spread.clone(),
            32,
            500_000,
            RingKind::Index,
            true,
        ),
        (
            "two batch 1 stamped",
            two.clone(),
            1,
            500_000,
            RingKind::Stamped,
            false,
        ),
        (
            "spread hb 1us b64",
            spread.clone(),
            64,
            1_000,
            RingKind::Index,
            false,
        ),
        (
            "spread hb 10s b7",
            spread.clone(),
            7,
            10_000_000_000,
            RingKind::Index,
            true,
        ),
        ("two hb 333us b5", two, 5, 333_333, RingKind::Stamped, false),
    ];
    for (name, layout, batch, hb, kind, all) in variants {
        let (seen, d) = explore_run(events, &layout, subs, |p| {
            common(p);
            p.publisher.batch = batch;
            p.publisher.heartbeat_ns = hb;
            p.ring_kind = kind;
            if all {
                for (s, _) in &mut p.lanes {
                    s.books = ticklane_runtime::BookScope::All;
                }
            }
        });
        if let Some(diff) = first_difference(&base, &seen) {
            failures.push(format!("{name}: {diff}"));
        } else if d != d0 {
            failures.push(format!("{name}: same callbacks, different digests"));
        }
    }
    failures
}

fn risked(p: &mut EnginePlan) {
    use ticklane_exec::{
        ConstantLatency, PaperExchange, PerShareFees, RiskGate, RiskLimits, RiskedVenue,
    };
    p.venue = Arc::new(|_| {
        let limits = RiskLimits::from_toml_str(
            "daily_loss_limit = 3\nmax_orders_per_sec = 40\nmax_position = 300",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let gate = RiskGate::new(limits).unwrap_or_else(|e| panic!("{e}"));
        Box::new(RiskedVenue::new(
            PaperExchange::with_models(
                ConstantLatency {
                    entry_ns: 7_000,
                    response_ns: 13_000,
                },
                PerShareFees {
                    maker_per_share: -20,
                    taker_per_share: 30,
                },
            ),
            gate,
        )) as Box<dyn Venue>
    });
}

#[test]
fn risked_stretched_session_is_the_same_everywhere() {
    // Stretched to about 12 s: marks, daily-loss trips, the order-rate window.
    let mut events = session(23, 6, 30_000);
    let t0 = events[0].ts.0;
    for e in &mut events {
        e.ts.0 = t0 + (e.ts.0 - t0) * 40;
    }
    let subs = vec![vec![1], vec![2], vec![3, 4], vec![5], vec![9]];
    let f = compare_in_every_layout(&events, &subs, &risked);
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn zero_latency_touch_venue_is_the_same_everywhere() {
    let events = session(29, 6, 30_000);
    let subs = vec![vec![1], vec![2], vec![3, 4], vec![5]];
    let f = compare_in_every_layout(&events, &subs, &|_| {});
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn window_from_is_the_same_everywhere() {
    let events = session(31, 6, 30_000);
    let from = events[10_000].ts.0 + 1;
    let subs = vec![vec![1], vec![2], vec![3, 4], vec![5]];
    let f = compare_in_every_layout(&events, &subs, &|p: &mut EnginePlan| {
        risked(p);
        p.publisher.window.from = from;
        for (s, _) in &mut p.lanes {
            s.trade_from = from;
        }
    });
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn equal_timestamps_are_the_same_everywhere() {
    // Many events share a timestamp, on one boundary of the heartbeat and of the timers.
    let mut events = session(37, 6, 30_000);
    for e in &mut events {
        e.ts.0 -= e.ts.0 % 100_000;
    }
    let subs = vec![vec![1], vec![2], vec![3, 4], vec![5]];
    let f = compare_in_every_layout(&events, &subs, &risked);
    assert!(f.is_empty(), "{}", f.join("\n"));
    let f = compare_in_every_layout(&events, &subs, &|_| {});
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn spliced_is_the_same_everywhere() {
    let events = session(41, 6, 30_000);
    let (opening, rest) = events.split_at(500);
    let (head, tail) = rest.split_at(rest.len() / 2);
    let spliced: Vec<_> = opening.iter().chain(tail).chain(head).copied().collect();
    let subs = vec![vec![1], vec![2], vec![3, 4], vec![5]];
    let f = compare_in_every_layout(&spliced, &subs, &risked);
    assert!(f.is_empty(), "{}", f.join("\n"));
}

/// Library API: a plan whose strategies on two lanes subscribe to one symbol. The router
/// keeps one lane per symbol (the lowest), so the strategy on the other lane silently never
/// sees its instrument; with one lane it trades it. `Engine::start` should refuse the plan
/// (the configuration refuses it: "a symbol traded by strategies on two lanes").
#[test]
fn a_plan_with_one_symbol_on_two_lanes_is_refused_or_reaches_both() {
    let events = session(3, 3, 10_000);
    let one = run(plan(
        &events,
        vec![vec![
            spec(0, "a", &[symbol(1)], chaser()),
            spec(1, "b", &[symbol(1)], chaser()),
        ]],
        PanicPolicy::default(),
    ));
    let two = run_to_end(
        plan(
            &events,
            vec![
                vec![spec(0, "a", &[symbol(1)], chaser())],
                vec![spec(1, "b", &[symbol(1)], chaser())],
            ],
            PanicPolicy::default(),
        ),
        |_| {},
    );
    let Ok(two) = two else { return }; // refused: fine
    let b1 = &one.lanes[0].strategies[1];
    let b2 = &two.lanes[1].strategies[0];
    assert_eq!(
        (b2.events, b2.commands),
        (b1.events, b1.commands),
        "strategy b on its own lane (events, commands) vs sharing lane 0"
    );
}

/// Library API: a plan with no lanes at all. `Engine::start` checks the plan's lanes (their
/// numbering, one lane per symbol) but not that there is one: the run should be refused as a
/// plan error (`EngineError::Plan`), not fail on the feed thread, nor hang.
#[test]
fn a_plan_without_lanes_is_refused_as_a_plan_error() {
    let events = session(3, 3, 2_000);
    let p = plan(&events, Vec::new(), PanicPolicy::default());
    match run_within(p, 20) {
        None => panic!("a plan without lanes hung the run"),
        Some(Ok(n)) => panic!("a plan without lanes ran ({n} lane reports)"),
        Some(Err(e)) => assert!(
            e.contains("plan") && e.contains("lane"),
            "a plan without lanes should be refused as a plan error naming the lanes, got: {e}"
        ),
    }
}

/// A venue that panics on its `n`th command: a bug outside the strategy sandbox, which takes
/// its lane's thread down.
struct PanicsOnCommand {
    inner: TouchVenue,
    n: u32,
}

impl Venue for PanicsOnCommand {
    fn on_command(
        &mut self,
        now: ticklane_core::Timestamp,
        cmd: &ticklane_strategy::OrderCommand,
        market: &ticklane_book::Market,
        out: &mut Vec<ticklane_exec::VenueReport>,
    ) {
        self.n -= 1;
        assert!(self.n != 0, "venue on fire");
        self.inner.on_command(now, cmd, market, out);
    }
    fn on_market(
        &mut self,
        ev: &ticklane_core::MarketEvent,
        trade: Option<&ticklane_strategy::TradePrint>,
        market: &ticklane_book::Market,
        out: &mut Vec<ticklane_exec::VenueReport>,
    ) {
        self.inner.on_market(ev, trade, market, out);
    }
    fn cancel_all(
        &mut self,
        now: ticklane_core::Timestamp,
        strategy: Option<ticklane_strategy::StrategyId>,
        out: &mut Vec<ticklane_exec::VenueReport>,
    ) {
        self.inner.cancel_all(now, strategy, out);
    }
    fn working_orders(&self) -> usize {
        self.inner.working_orders()
    }
}

/// a lane thread that dies outside the strategy sandbox (here its venue
/// panics). The run ends with an error naming the lane (RELIABILITY: "the same for a lane
/// thread"); while it is still going (its worker holds it), status must not show the dead
/// lane's thread as running: `LaneStatus::finished` is "Thread finished", and a worker's
/// flag is set on a panic for that very reason.
#[test]
fn a_lane_thread_that_dies_is_shown_finished_and_fails_the_run() {
    use ticklane_runtime::Engine;
    let events = session(7, 4, 40_000);
    let mut p = plan(
        &events,
        vec![
            vec![spec(0, "a", &[symbol(1)], chaser())],
            vec![spec(1, "b", &[symbol(2)], chaser())],
        ],
        PanicPolicy::default(),
    );
    p.venue = Arc::new(|lane| {
        if lane == 0 {
            Box::new(PanicsOnCommand {
                inner: TouchVenue::new(),
                n: 5,
            }) as Box<dyn Venue>
        } else {
            Box::new(TouchVenue::new()) as Box<dyn Venue>
        }
    });
    let (worker, release) = tally(None);
    p.workers.push(Box::new(worker));
    let rt = control_runtime();
    let (status, ended) = rt.block_on(async {
        let mut engine = Engine::start(p).await.unwrap_or_else(|e| panic!("{e}"));
        // Lane 1 ends once the feed has ended (stopped for the dead lane, or at its end).
        let mut last = None;
        for _ in 0..2_000 {
            let s = engine.status().await.unwrap_or_default();
            let done = s.lanes.get(1).is_some_and(|l| l.finished);
            last = Some(s);
            if done {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // Its thread died long before.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let s = engine.status().await.or(last).unwrap_or_default();
        release.store(true, Ordering::Release);
        let ended = engine.wait().await.map(|_| ()).map_err(|e| e.to_string());
        (s, ended)
    });
    assert_eq!(
        ended,
        Err("lane 0 thread failed: venue on fire".to_string()),
        "the run names the dead lane"
    );
    assert!(
        status.lanes[0].finished,
        "lane 0's thread is dead, status says it runs: {:?}",
        status.lanes[0]
    );
}

/// ITCH's start of messages at `ts`: the first message of a trading day.
fn start_of_messages(ts: u64) -> ticklane_core::MarketEvent {
    ticklane_core::MarketEvent::new(
        ticklane_core::Timestamp(ts),
        InstrumentId::NONE,
        ticklane_core::EventBody::SystemEvent {
            code: ticklane_core::SystemEventCode::StartOfMessages,
        },
    )
}

/// `v` with its event times stretched `k` times from its first.
fn stretched(mut v: Vec<ticklane_core::MarketEvent>, k: u64) -> Vec<ticklane_core::MarketEvent> {
    let t0 = v[0].ts.0;
    for e in &mut v {
        e.ts.0 = t0 + (e.ts.0 - t0) * k;
    }
    v
}

/// Each strategy's equity curve, `(ts, equity)`, by strategy id.
fn equity_curves(
    r: &RunReport,
) -> Vec<(
    ticklane_strategy::StrategyId,
    Vec<(u64, rust_decimal::Decimal)>,
)> {
    let mut c: Vec<_> = r
        .lanes
        .iter()
        .flat_map(|l| &l.strategies)
        .map(|s| {
            (
                s.id,
                s.ledger
                    .equity_curve()
                    .iter()
                    .map(|p| (p.ts.0, p.equity))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    c.sort_by_key(|x| x.0);
    c
}

/// `v` with instruments 1 and 2 at each other's ids (a day whose stock locates name other
/// symbols).
fn with_instruments_1_and_2_swapped(
    mut v: Vec<ticklane_core::MarketEvent>,
) -> Vec<ticklane_core::MarketEvent> {
    for e in &mut v {
        e.instrument = match e.instrument.0 {
            1 => InstrumentId(2),
            2 => InstrumentId(1),
            _ => e.instrument,
        };
    }
    v
}

/// Two trading days in one stream, each after its start of messages.
fn two_days(
    day1: &[ticklane_core::MarketEvent],
    day2: &[ticklane_core::MarketEvent],
) -> Vec<ticklane_core::MarketEvent> {
    let mut events = vec![start_of_messages(day1[0].ts.0)];
    events.extend_from_slice(day1);
    events.push(start_of_messages(day2[0].ts.0));
    events.extend_from_slice(day2);
    events
}

/// Two trading days whose stock locates name other symbols (day 2 swaps instruments 1 and 2):
/// at day 2's start of messages the router and every lane forget day 1's assignments and
/// subscriptions, so each strategy sees its own symbol's events on both days, with no book
/// anomaly, and the same digests in every lane layout (day 2's references start again at 1:
/// without the new day they were duplicates of day 1's orders, and SYM1's strategy was shown
/// SYM2's day).
#[test]
fn a_new_day_whose_locates_name_other_symbols_reaches_each_strategy_in_every_layout() {
    use ticklane_core::MarketEvent;
    let day1 = session(3, 3, 10_000);
    let day2: Vec<MarketEvent> = with_instruments_1_and_2_swapped(session(4, 3, 10_000));
    let events = two_days(&day1, &day2);
    // SYM1 is instrument 1 on day 1 and 2 on day 2; SYM2 the other way round; SYM3 stays 3.
    let shown = |d1: u32, d2: u32| {
        let wide = events
            .iter()
            .filter(|e| e.instrument == InstrumentId::NONE)
            .count();
        day1.iter().filter(|e| e.instrument.0 == d1).count()
            + day2.iter().filter(|e| e.instrument.0 == d2).count()
            + wide
    };
    let expected = [shown(1, 2), shown(2, 1), shown(3, 3)];
    let one = run(plan(
        &events,
        three_chasers(&[0, 0, 0]),
        PanicPolicy::default(),
    ));
    let seen: Vec<usize> = one.lanes[0]
        .strategies
        .iter()
        .map(|s| s.events as usize)
        .collect();
    assert_eq!(seen, expected);
    let (per1, d1) = digests(&one);
    for layout in [[0, 1, 1], [1, 0, 1], [2, 0, 1]] {
        let r = run(plan(
            &events,
            three_chasers(&layout),
            PanicPolicy::default(),
        ));
        for lane in &r.lanes {
            assert!(
                lane.anomalies.is_empty(),
                "{layout:?}: {:?}",
                lane.anomalies
            );
        }
        let (per, d) = digests(&r);
        assert_eq!(per1, per, "1 lane vs {layout:?}");
        assert_eq!(d1, d, "1 lane vs {layout:?}");
    }
}

/// Day 1 names SYM1 only; day 2 names SYM1 and SYM2 (about 6 s of event time each, from the
/// same time of day). Alone in its lane, SYM2's strategy has seen nothing of day 1 but
/// market-wide events: its lane's market is empty at day 2's start of messages, which then
/// begins no new day there, so that lane keeps day 1's next equity mark (past day 2's last
/// time) and latest time. Its equity curve must be the one it has when it shares a lane.
#[test]
fn a_lane_that_saw_nothing_of_day_one_starts_day_two_as_the_others_do() {
    let events = two_days(
        &stretched(session(3, 1, 30_000), 20),
        &stretched(session(4, 2, 30_000), 20),
    );
    let curves = |layout: &[usize]| {
        equity_curves(&run(plan(
            &events,
            three_chasers(layout),
            PanicPolicy::default(),
        )))
    };
    let one = curves(&[0, 0]);
    assert!(one[1].1.len() > 3, "SYM2's samples: {:?}", one[1].1);
    assert_eq!(one, curves(&[0, 1]), "1 lane vs 2 lanes");
}

/// Two days naming the same three symbols, day 2 shorter in event time than day 1 (about 3 s
/// against 6 s, from the same time of day). At the end of the data the publisher sends every
/// lane that did not get the last event a heartbeat at the latest time published, which is
/// still day 1's last: those lanes run their marks and timers on to day 1's end, the lane
/// of the last event (or the only lane) stops at day 2's. Equity curves and digests must not
/// depend on the layout.
#[test]
fn the_end_of_a_shorter_second_day_is_the_same_in_every_layout() {
    let events = two_days(
        &stretched(session(3, 3, 30_000), 20),
        &stretched(session(4, 3, 30_000), 10),
    );
    let result = |layout: &[usize]| {
        let r = run(plan(&events, three_chasers(layout), PanicPolicy::default()));
        let ends: Vec<_> = equity_curves(&r)
            .into_iter()
            .map(|(id, c)| (id, c.len(), c.last().map(|p| p.0)))
            .collect();
        (ends, hex(&digests(&r).1))
    };
    let one = result(&[0, 0, 0]);
    for layout in [[0, 1, 1], [1, 0, 1], [2, 0, 1]] {
        assert_eq!(one, result(&layout), "1 lane vs {layout:?}");
    }
}
/// Buys 100 shares at the ask (IOC) while its position in the instrument, with what is on
/// its way, is under 100: it never means to hold more than 100 of its symbol.
#[derive(Default)]
struct HoldsAHundred {
    sent: bool,
}

impl ticklane_strategy::Strategy for HoldsAHundred {
    fn on_event(
        &mut self,
        ev: &ticklane_core::MarketEvent,
        ctx: &mut ticklane_strategy::Context<'_>,
    ) {
        if ev.instrument == InstrumentId::NONE || !ctx.open_orders().is_empty() {
            return;
        }
        let Some(ask) = ctx.book(ev.instrument).and_then(|b| b.best_ask()) else {
            return;
        };
        if ctx.position(ev.instrument).net < 100 && !self.sent {
            self.sent = true;
            ctx.limit(
                ev.instrument,
                ticklane_core::Side::Bid,
                ask.price,
                ticklane_core::Qty(100),
                ticklane_strategy::TimeInForce::Ioc,
            );
        }
    }

    fn on_order_update(
        &mut self,
        _u: &ticklane_strategy::OrderUpdate,
        _ctx: &mut ticklane_strategy::Context<'_>,
    ) {
        // One order at a time: the next may go once this one is answered.
        self.sent = false;
    }
}

/// Two days whose stock locates name other symbols (day 2 swaps instruments 1 and 2; SYM2
/// trades near $200 on day 2, SYM1 near $100 on both days). SYM1's strategy buys 100 on day
/// 1 and means to hold no more than 100: its day-1 shares move to SYM1's day-2 locate with its
/// directory entry, so it holds 100 of SYM1 at the end, reported as SYM1. (They stayed under
/// instrument 1, SYM2 on day 2: the strategy saw itself flat in SYM1, bought 100 more, and its
/// day-1 shares were reported and marked as SYM2 at SYM2's price.)
#[test]
fn a_position_carried_into_a_day_whose_locates_moved_stays_its_symbols() {
    use ticklane_core::{EventBody, MarketEvent, Price};
    let day1 = session(3, 2, 4_000);
    let day2: Vec<MarketEvent> = session(4, 2, 4_000)
        .into_iter()
        .map(|mut e| {
            let sym2 = e.instrument.0 == 2;
            e.instrument = match e.instrument.0 {
                1 => InstrumentId(2),
                2 => InstrumentId(1),
                _ => e.instrument,
            };
            if sym2 {
                if let EventBody::OrderAdded { price, .. } = &mut e.body {
                    *price = Price(price.0 + 100_0000);
                }
            }
            e
        })
        .collect();
    let events = two_days(&day1, &day2);
    let factory: ticklane_runtime::StrategyFactory =
        Arc::new(|| Ok(Box::new(HoldsAHundred::default()) as Box<dyn ticklane_strategy::Strategy>));
    let r = run(plan(
        &events,
        vec![vec![spec(0, "sym1", &[symbol(1)], factory)]],
        PanicPolicy::default(),
    ));
    let s = &r.lanes[0].strategies[0];
    let held: Vec<(u32, Option<String>, i64, Option<i64>)> = s
        .positions
        .iter()
        .filter(|p| p.2.net != 0)
        .map(|p| {
            (
                p.0 .0,
                p.1.map(|x| x.to_string()),
                p.2.net,
                p.3.map(|m| m.0),
            )
        })
        .collect();
    let total: i64 = held.iter().map(|h| h.2).sum();
    assert!(
        held.iter().all(|h| h.1.as_deref() == Some("SYM1")),
        "SYM1's strategy holds (instrument, symbol, shares, mid): {held:?}; ledger marks: {:?}",
        s.ledger
            .iter()
            .map(|(i, p)| (i.0, p.position, p.mark))
            .collect::<Vec<_>>()
    );
    assert_eq!(total, 100, "{held:?}");
}

/// Day 1 names SYM1 at 1 and SYM2 at 2; each of two strategies buys 100 of its own symbol.
/// Day 2 drops SYM1 (delisted), names SYM2 at 1 and a new SYM3 at 2 (the locates after a
/// delisting shift down). SYM1's shares must end where they end in every lane layout: with
/// one lane, SYM2's move from 2 to 1 exchanges SYM1's shares into locate 2 (SYM3, a symbol
/// SYM1's strategy never traded); with a lane each, SYM1's lane never sees SYM2's directory
/// and its shares stay under locate 1. The digests differ by layout.
#[test]
fn a_symbol_that_vanishes_on_day_two_ends_under_the_same_locate_in_every_layout() {
    use ticklane_core::{EventBody, MarketEvent};
    let day1 = session(3, 2, 4_000);
    let day2: Vec<MarketEvent> = session(4, 2, 4_000)
        .into_iter()
        .map(|mut e| {
            if let EventBody::InstrumentDirectory(info) = &mut e.body {
                info.symbol = symbol(e.instrument.0 + 1);
            }
            e
        })
        .collect();
    let events = two_days(&day1, &day2);
    let holder = || -> ticklane_runtime::StrategyFactory {
        Arc::new(|| Ok(Box::new(HoldsAHundred::default()) as Box<dyn ticklane_strategy::Strategy>))
    };
    let result = |lanes: Vec<Vec<StrategySpec>>| {
        let r = run(plan(&events, lanes, PanicPolicy::default()));
        let mut held: Vec<(u16, u32, Option<String>, i64)> = r
            .lanes
            .iter()
            .flat_map(|l| &l.strategies)
            .flat_map(|s| {
                s.positions
                    .iter()
                    .filter(|p| p.2.net != 0)
                    .map(move |p| (s.id.0, p.0 .0, p.1.map(|x| x.to_string()), p.2.net))
            })
            .collect();
        held.sort();
        (held, digests(&r).0)
    };
    let one = result(vec![vec![
        spec(0, "sym1", &[symbol(1)], holder()),
        spec(1, "sym2", &[symbol(2)], holder()),
    ]]);
    let two = result(vec![
        vec![spec(0, "sym1", &[symbol(1)], holder())],
        vec![spec(1, "sym2", &[symbol(2)], holder())],
    ]);
    assert_eq!(
        one.0, two.0,
        "positions (strategy, instrument, symbol, shares): 1 lane vs 2 lanes"
    );
    assert_eq!(one.1, two.1, "strategy digests: 1 lane vs 2 lanes");
}

/// Two days, day 2 shorter in event time and from the same time of day, with explorers whose
/// timer 7 fires every 1.3 ms of event time. At day 2's start of messages every pending timer
/// keeps the time it had left at day 1's end: timer 7 fires within its period of day 2's
/// start and keeps its period all day (it waited for day 1's times, past day 2's last, and
/// never fired on day 2). The same in every layout, batch, ring and heartbeat.
#[test]
fn a_periodic_timer_keeps_its_period_across_a_new_day_in_every_layout() {
    let day1 = stretched(session(3, 3, 30_000), 20);
    let day2 = stretched(session(4, 3, 30_000), 10);
    let t2 = day2[0].ts.0;
    assert!(
        day2.last().map(|e| e.ts.0) < day1.last().map(|e| e.ts.0),
        "day 2 ends before day 1's end"
    );
    let events = two_days(&day1, &day2);
    let subs = vec![vec![1], vec![2], vec![3]];
    let (seen, _) = explore_run(&events, &[0, 0, 0], &subs, |_| {});
    let day_start = format!("{t2} event system_event 0 ");
    for (s, lines) in seen.iter().enumerate() {
        let start = lines
            .iter()
            .rposition(|l| l.starts_with(&day_start))
            .unwrap_or_else(|| panic!("strategy {s}: no start of day 2"));
        let fired: Vec<u64> = lines[start..]
            .iter()
            .filter(|l| l.split(' ').nth(1) == Some("timer") && l.split(' ').nth(2) == Some("7"))
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .collect();
        assert!(
            fired.len() > 100,
            "strategy {s}: timer 7 fired {} times on day 2",
            fired.len()
        );
        assert!(
            fired[0] > t2 && fired[0] <= t2 + 1_300_000,
            "strategy {s}: first firing of day 2 at {}, the day starts at {t2}",
            fired[0]
        );
        assert!(
            fired.windows(2).all(|w| w[1] - w[0] == 1_300_000),
            "strategy {s}: day 2's firings are not 1.3 ms apart"
        );
    }
    let failures = compare_in_every_layout(&events, &subs, &|_| {});
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Data that begins within a day (no start of messages first: a capture joined late), then a
/// new day. Day 1 names only SYM1, so the lanes of SYM2 and SYM3 hold no book at day 2's start
/// of messages; the new day must begin in them as in SYM1's lane (they kept day 1's timers at
/// day 1's times and their latest time, while SYM1's lane moved its timers to the new day's
/// time: each explorer's day differed by layout).
#[test]
fn data_that_begins_within_a_day_starts_its_next_day_in_every_lane() {
    let day1 = stretched(session(3, 1, 30_000), 20);
    let day2 = stretched(session(4, 3, 30_000), 10);
    let mut events = day1.clone();
    events.push(start_of_messages(day2[0].ts.0));
    events.extend_from_slice(&day2);
    let subs = vec![vec![1], vec![2], vec![3]];
    let failures = compare_in_every_layout(&events, &subs, &|_| {});
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Quotes a bid of 100 a dollar under the best bid once per instrument and day, on every
/// instrument (subscribed to `*`), and sends it again as soon as the venue says it was
/// cancelled: from the cancel's callback, or (`via_timer`) from a timer armed "at once" in
/// answer to it, as a strategy that re-quotes on its timer does. Notes the orders sent again.
#[derive(Default)]
struct Requoter {
    via_timer: bool,
    quoted: std::collections::BTreeSet<u32>,
    cancelled: Vec<InstrumentId>,
    resent: Arc<std::sync::Mutex<Vec<(ticklane_strategy::ClientOrderId, InstrumentId)>>>,
}

impl Requoter {
    fn requote(&mut self, instrument: InstrumentId, ctx: &mut ticklane_strategy::Context<'_>) {
        let id = ctx.limit(
            instrument,
            ticklane_core::Side::Bid,
            ticklane_core::Price(1_000_000),
            ticklane_core::Qty(100),
            ticklane_strategy::TimeInForce::Day,
        );
        if let Ok(mut v) = self.resent.lock() {
            v.push((id, instrument));
        }
    }
}

impl ticklane_strategy::Strategy for Requoter {
    fn on_event(
        &mut self,
        ev: &ticklane_core::MarketEvent,
        ctx: &mut ticklane_strategy::Context<'_>,
    ) {
        if ev.instrument == InstrumentId::NONE {
            if matches!(
                ev.body,
                ticklane_core::EventBody::SystemEvent {
                    code: ticklane_core::SystemEventCode::StartOfMessages
                }
            ) {
                self.quoted.clear();
            }
            return;
        }
        let Some(bid) = ctx.book(ev.instrument).and_then(|b| b.best_bid()) else {
            return;
        };
        if self.quoted.insert(ev.instrument.0) {
            ctx.limit(
                ev.instrument,
                ticklane_core::Side::Bid,
                ticklane_core::Price(bid.price.0 - 10_000),
                ticklane_core::Qty(100),
                ticklane_strategy::TimeInForce::Day,
            );
        }
    }

    fn on_order_update(
        &mut self,
        u: &ticklane_strategy::OrderUpdate,
        ctx: &mut ticklane_strategy::Context<'_>,
    ) {
        if u.kind != ticklane_strategy::OrderUpdateKind::Cancelled {
            return;
        }
        if self.via_timer {
            self.cancelled.push(u.instrument);
            let now = ctx.now();
            ctx.set_timer(now, ticklane_strategy::TimerId(1));
        } else {
            self.requote(u.instrument, ctx);
        }
    }

    fn on_timer(
        &mut self,
        _timer: ticklane_strategy::TimerId,
        ctx: &mut ticklane_strategy::Context<'_>,
    ) {
        for instrument in std::mem::take(&mut self.cancelled) {
            self.requote(instrument, ctx);
        }
    }
}

/// Two days, day 2 naming SYM1 at SYM2's day-1 locate and SYM2 at SYM1's, and a `Requoter`
/// whose day-1 quotes the new day's start cancels: every quote it sends again before day 2's
/// directory names the locate is refused as trading halted (first answer).
fn day_start_requotes_are_refused(via_timer: bool) {
    use ticklane_core::MarketEvent;
    use ticklane_strategy::{OrderUpdateKind, RejectReason};
    let day1 = session(3, 2, 4_000);
    let day2: Vec<MarketEvent> = with_instruments_1_and_2_swapped(session(4, 2, 4_000));
    let events = two_days(&day1, &day2);
    type Resent = Arc<std::sync::Mutex<Vec<(ticklane_strategy::ClientOrderId, InstrumentId)>>>;
    let resent: Resent = Arc::default();
    let factory: ticklane_runtime::StrategyFactory = {
        let resent = resent.clone();
        Arc::new(move || {
            Ok(Box::new(Requoter {
                via_timer,
                resent: resent.clone(),
                ..Requoter::default()
            }) as Box<dyn ticklane_strategy::Strategy>)
        })
    };
    let star = ticklane_core::Symbol::new("*").unwrap_or_default();
    let mut p = plan(
        &events,
        vec![vec![spec(0, "requoter", &[star], factory)]],
        PanicPolicy::default(),
    );
    p.lanes[0].0.journal = true;
    p.venue = Arc::new(|_| {
        Box::new(ticklane_exec::PaperExchange::with_models(
            ticklane_exec::ConstantLatency {
                entry_ns: 0,
                response_ns: 0,
            },
            ticklane_exec::PerShareFees::ZERO,
        )) as Box<dyn Venue>
    });
    let r = run(p);
    let resent = resent.lock().map(|v| v.clone()).unwrap_or_default();
    let journal = &r.lanes[0].journal;
    let day = journal
        .iter()
        .position(|e| matches!(e, ticklane_runtime::JournalEntry::DayStart { .. }))
        .expect("a new day in the journal");
    let after_day_start = journal[day..].iter().any(|e| {
        matches!(e, ticklane_runtime::JournalEntry::Command { cmd, .. }
            if resent.iter().any(|r| r.0 == cmd.id()))
    });
    assert!(
        after_day_start,
        "the day-1 quotes were cancelled at day 2's start and sent again"
    );
    for (id, instrument) in &resent {
        let answers: Vec<OrderUpdateKind> = journal
            .iter()
            .filter_map(|e| match e {
                ticklane_runtime::JournalEntry::Update(u) if u.id == *id => Some(u.kind),
                _ => None,
            })
            .collect();
        assert_eq!(
            answers.first(),
            Some(&OrderUpdateKind::Rejected(RejectReason::TradingHalted)),
            "order {id} at day-1 locate {} sent again before day 2's directory: {answers:?}",
            instrument.0
        );
    }
}

/// At a new day's start the lane cancels every working order; an order a strategy sends in
/// answer (before the new day's directory) is refused as trading halted. A strategy on every
/// instrument (`*`) had it accepted at its day-1 stock locate, which day 2 gives another
/// symbol: here SYM1's quote went back to locate 1, SYM2's on day 2.
#[test]
fn orders_sent_in_answer_to_a_new_day_s_cancels_are_refused() {
    day_start_requotes_are_refused(false);
}

/// The same from a timer armed "at once" in answer to the cancels: it fires at the day's
/// start, before the directory, after the cancels' callbacks (a refusal that covered only
/// those let it through, accepted and filled in SYM2's book).
#[test]
fn orders_sent_from_a_timer_armed_in_answer_to_a_new_day_s_cancels_are_refused() {
    day_start_requotes_are_refused(true);
}

/// three trading days. Day 1 names SYM1 at 1 and SYM2 at 2, and one strategy
/// (on SYM1 and SYM2) buys 100 of each. Day 2 names SYM2 alone, at 1: SYM1's shares stay
/// parked (reported under SYM1), SYM2's move to 1. Day 3 names SYM3 at 1 and SYM2 at 2. At
/// day 3's start the lane parks the strategy's positions again from day 2's names only, at
/// the first parking id, which still holds SYM1's shares: they are swapped into locate 1,
/// SYM3 on day 3, a symbol the strategy never traded.
#[test]
fn a_position_parked_on_day_two_keeps_its_symbol_on_day_three() {
    use ticklane_core::{EventBody, MarketEvent};
    let rename = |v: Vec<MarketEvent>, f: fn(u32) -> u32| -> Vec<MarketEvent> {
        v.into_iter()
            .map(|mut e| {
                if let EventBody::InstrumentDirectory(info) = &mut e.body {
                    info.symbol = symbol(f(e.instrument.0));
                }
                e
            })
            .collect()
    };
    let day1 = session(3, 2, 4_000);
    // Day 2: SYM2 alone, at locate 1.
    let day2 = rename(session(4, 1, 4_000), |_| 2);
    // Day 3: SYM3 at 1, SYM2 at 2.
    let day3 = rename(session(5, 2, 4_000), |i| if i == 1 { 3 } else { 2 });
    let mut events = two_days(&day1, &day2);
    events.push(start_of_messages(day3[0].ts.0));
    events.extend_from_slice(&day3);
    let holder: ticklane_runtime::StrategyFactory =
        Arc::new(|| Ok(Box::new(HoldsAHundred::default()) as Box<dyn ticklane_strategy::Strategy>));
    let r = run(plan(
        &events,
        vec![vec![spec(0, "holder", &[symbol(1), symbol(2)], holder)]],
        PanicPolicy::default(),
    ));
    assert_eq!(r.lanes[0].day_symbols.len(), 2, "three days");
    let mut held: Vec<(Option<String>, i64)> = r.lanes[0].strategies[0]
        .positions
        .iter()
        .filter(|p| p.2.net != 0)
        .map(|p| (p.1.map(|x| x.to_string()), p.2.net))
        .collect();
    held.sort();
    assert_eq!(
        held,
        vec![
            (Some("SYM1".to_string()), 100),
            (Some("SYM2".to_string()), 100)
        ],
        "positions (symbol, shares) at the end of day 3"
    );
}
