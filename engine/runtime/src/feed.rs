//! The feed stage: the [`Publisher`] a source pushes normalized events into, which stamps them,
//! routes them by instrument to the lanes' rings, inserts heartbeats, paces replays and applies
//! backpressure; and the [`FeedSource`] seam a source implements.
//!
//! # A full ring
//!
//! A lane's ring being full is an explicit, counted condition, never a silent drop and never a
//! deadlock: the publisher waits (under the feed's idle policy) until the lane makes room, and
//! counts each wait and its duration. For a file or a replay that is plain backpressure: the
//! whole pipeline runs at the speed of its slowest lane and nothing is lost. For a live UDP
//! feed the socket buffer absorbs the wait, and if it overflows the loss shows up as a
//! MoldUDP64 sequence gap, which the session layer detects and reports. Two ways out of a wait:
//! the engine's stop flag (the source is told to stop), and a lane that is gone (its thread
//! stopped or died): its events are then counted as `dropped_lane_gone`, loudly, instead of
//! blocking every other lane.
//!
//! # Batching
//!
//! Events are staged per lane and published with one release store per batch (`batch`, up to
//! 64). A source calls [`Publisher::flush`] at the end of each packet (or whenever it may wait
//! for input), so a batch never waits for more input. `batch = 1` publishes every event at
//! once (lowest latency at low rates).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use ticklane_core::{EventBody, InstrumentId, MarketEvent, MatchId, SystemEventCode, Timestamp};

use crate::clock::HopClock;
use crate::envelope::LaneEvent;
use crate::idle::{Backoff, IdlePolicy};
use crate::lane_ring::LaneProducer;
use crate::router::{Route, Router};

/// Below this much time to wait, pacing spins; above it, it sleeps (ns).
const PACE_SPIN_NS: u64 = 200_000;
/// A step back in receive time larger than this, under an `Nx` pace, is a new stretch of time
/// (a second day in one binary file, whose ITCH times start again at midnight; a recording
/// spliced backwards), not jitter: it counts as no time, and the pace goes on from where it
/// was. A smaller step back (receive times a few µs out of order in a live recording) keeps
/// the absolute schedule: those events are simply due at once.
const PACE_BACK_NS: u64 = 1_000_000_000;

/// Largest staging batch.
pub const MAX_BATCH: usize = 64;

/// How fast a source is replayed.
#[derive(Clone, Copy, PartialEq, Debug, Default)]
pub enum Pace {
    /// As fast as the pipeline goes.
    #[default]
    Max,
    /// Event time ÷ `factor` = machine time (1.0: real time, 10.0: ten times faster), bursts
    /// preserved.
    Speed(f64),
    /// A fixed number of events per second, evenly spaced (latency measurement). The events
    /// counted are the source's, before a [`Window`]'s symbol filter: with `--symbols` the
    /// published rate is the kept share of N (the spacing stays the source's, so a replay
    /// of one symbol keeps that symbol's events where they were among the others).
    Rate(u64),
}

/// Counters of the feed stage, shared with its actor.
#[derive(Debug, Default)]
pub struct FeedControl {
    /// Stop: the source should return as soon as it can.
    pub stop: AtomicBool,
    /// Events published.
    pub events: AtomicU64,
    /// Waits on a full ring.
    pub full_waits: AtomicU64,
}

/// What the feed stage did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Events published (each counted once, even when sent to every lane).
    pub events: u64,
    /// Heartbeat boundaries crossed with at least one quiet lane (each heartbeat goes to every
    /// lane except the one receiving the event that crossed the boundary).
    pub heartbeats: u64,
    /// Items published per lane.
    pub per_lane: Vec<u64>,
    /// Times a lane's ring was full and the feed waited.
    pub full_waits: u64,
    /// Time spent waiting on full rings, ns.
    pub full_wait_ns: u64,
    /// Items not delivered because their lane was gone.
    pub dropped_lane_gone: u64,
    /// Items (events and heartbeats) staged for a lane and never published because the run
    /// was stopped (at the next flush, or while waiting on a full ring): what a stop cut off,
    /// counted (they were in `events` but in no other count).
    pub dropped_on_stop: u64,
    /// Whether the feed was stopped before its source ended.
    pub stopped: bool,
    /// Whether the source was ended at the window's `to`.
    pub reached_end_of_window: bool,
    /// A window with a `from` and no event published at or after it: strategies were shown
    /// nothing (a `--from` past the source's end).
    pub nothing_from: bool,
    /// Events not published because their instrument is outside the window's symbols.
    pub filtered: u64,
    /// The window's symbols that no directory message named (a typo, or an instrument this
    /// source does not carry): nothing of theirs was replayed.
    pub unmatched_symbols: Vec<ticklane_core::Symbol>,
    /// Events sent to no lane: no lane reads their instrument's book (its lane keeps only its
    /// strategies' books, `engine.books = "subscribed"`, and none subscribes to it), or, with
    /// the window's symbols, they came before the directory entry that named their instrument
    /// one of them (counted in `late_books` too).
    pub unread: u64,
    /// Instruments whose subscription came after some of their events had not been sent (see
    /// [`Router::late_books`]).
    pub late_books: u64,
    /// Paced runs: when the last event was due, ns after the first (the schedule the pace
    /// set: event or receive times over the speed, or the count over the rate); 0 at `max`.
    pub paced_span_ns: u64,
    /// A window of one trading day ([`Window::day`]): events of the days before it, read and
    /// not published (the day's start of messages empties every book, so they change nothing
    /// the day shows).
    pub other_days: u64,
    /// Of the days before the window's: the messages read (events and messages without one,
    /// not the feed gaps), which a source counts among its messages read.
    pub other_days_messages: u64,
    /// Of the days before the window's: the gaps of known size lost for good
    /// ([`EventBody::FeedGap`]s read, not published) and the messages in them, which a source
    /// counts among its losses.
    pub other_days_gaps: u64,
    /// Messages in [`FeedStats::other_days_gaps`].
    pub other_days_lost: u64,
    /// The trading days before the window's day that the source held (0 without
    /// [`Window::day`]): the run's day numbers are the source's, `day + skipped_days`.
    pub skipped_days: u64,
    /// The source ended the window's day with the next day's start of messages (read, not
    /// published); `reached_end_of_window` is set too.
    pub day_ended: bool,
    /// The window's day is past the source's last: nothing was published, and
    /// `skipped_days` is the number of days the source holds.
    pub missing_day: bool,
}

/// The publisher was stopped: the source should return.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("the feed was stopped")]
pub struct Stopped;

/// What the window makes of an instrument's events (`--symbols`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Allowed {
    /// No directory entry has named it yet.
    Unknown,
    /// Named one of the window's symbols.
    Kept,
    /// Named another symbol.
    Out,
}

struct LaneTx {
    tx: LaneProducer,
    staged: [LaneEvent; MAX_BATCH],
    len: usize,
    gone: bool,
    /// Latest event time of the items staged for this lane (events and heartbeats).
    reached: u64,
}

impl LaneTx {
    /// The lane exited (its ring end is dropped): what is staged for it from now on is dropped
    /// and counted, never waited for.
    #[cold]
    fn give_up(&mut self, lane: usize) {
        self.gone = true;
        tracing::error!(lane, "lane is gone; its events are dropped and counted");
    }
}

/// Stamps, routes, stages and publishes events to the lanes.
pub struct Publisher {
    lanes: Vec<LaneTx>,
    router: Router,
    clock: HopClock,
    measure: bool,
    batch: usize,
    idle: IdlePolicy,
    control: Arc<FeedControl>,
    seq: u64,
    heartbeat_ns: u64,
    next_heartbeat: u64,
    /// Event time and route of the last event published.
    last: Option<(u64, Route)>,
    /// Latest event time of the events published so far, whatever their route (sent to a
    /// lane, to all, or not sent): a lane reaches it before an item of an earlier time (event
    /// time can go backwards in a spliced recording), and at the end, as it would had it
    /// received every event (as one lane does). Then timers and the venue's answers due in
    /// between come out at the same point in every lane layout.
    latest: u64,
    pace: Pace,
    pace_origin: Option<(u64, u64)>,
    /// Added to every receive time an `Nx` pace reads: the sum of the steps back in time
    /// larger than [`PACE_BACK_NS`] (see [`Publisher::wait_paced`]).
    pace_shift: u64,
    /// The latest receive time (shifted) an `Nx` pace has read.
    pace_latest: u64,
    paced: u64,
    window: Window,
    /// By instrument id: published or filtered out, once its directory entry is seen.
    allowed: Vec<Allowed>,
    /// By instrument id, while no directory entry has named it: events filtered before it
    /// was known (ids below 2^24). A directory entry that then keeps it moves them from
    /// `filtered` to `unread` and counts a late book: they were its events, not another
    /// instrument's, and its book misses them.
    filtered_unknown: Vec<u64>,
    /// Instruments kept by the window whose directory entry came after events of theirs
    /// that were filtered (added to the router's `late_books`).
    window_late: u64,
    /// By position in the window's symbols: whether a directory message named it.
    window_matched: Vec<bool>,
    /// The trading days of the events read so far, counted only for a window of one day
    /// ([`Window::day`]), as the lanes count them.
    days: ticklane_core::TradingDays,
    stats: FeedStats,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("lanes", &self.lanes.len())
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// How the publisher behaves.
#[derive(Clone, Debug)]
pub struct PublisherSettings {
    /// Stamp hops for the latency histograms.
    pub measure_latency: bool,
    /// Staging batch per lane (1..=64).
    pub batch: usize,
    /// Idle policy while a ring is full.
    pub idle: IdlePolicy,
    /// Event-time heartbeat interval, ns. 0: none but the last one (at the final event's
    /// time, which every layout needs to close the session at one time); a quiet lane's timers
    /// then wait for its own next event, so results depend on the lane layout (the run
    /// configuration refuses 0).
    pub heartbeat_ns: u64,
    /// Replay pace.
    pub pace: Pace,
    /// Event-time window and instrument filter of a replay.
    pub window: Window,
}

/// The part of a session a replay plays: events before `from` are published at full speed
/// (the books warm up; lanes do not show them to strategies), the source stops after `to`, and
/// with `symbols` only those instruments (and market-wide events) are published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// Start of the paced, traded part (event time, ns).
    pub from: u64,
    /// End (event time, ns, inclusive).
    pub to: u64,
    /// Instruments to publish (`None`: all).
    pub symbols: Option<Vec<ticklane_core::Symbol>>,
    /// Only this trading day of a source of several (1: the first; `None`: every day). Days
    /// are counted as the lanes count them: a start of messages after any event begins one.
    /// The days before it are read and not published (nor paced), the next day's start of
    /// messages ends the source, and `from`/`to` are times of this day. The lanes see the
    /// day as they would a source that held it alone.
    pub day: Option<u64>,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            from: 0,
            to: u64::MAX,
            symbols: None,
            day: None,
        }
    }
}

impl Default for PublisherSettings {
    fn default() -> Self {
        Self {
            measure_latency: true,
            batch: 32,
            idle: IdlePolicy::default(),
            heartbeat_ns: 1_000_000,
            pace: Pace::Max,
            window: Window::default(),
        }
    }
}

fn blank_event() -> LaneEvent {
    LaneEvent {
        event: MarketEvent::new(
            Timestamp(0),
            InstrumentId::NONE,
            EventBody::BrokenTrade {
                match_id: MatchId(0),
            },
        ),
        heartbeat: true,
        seq: 0,
        t_received: 0,
        t_decoded: 0,
        t_enqueued: 0,
    }
}

/// A heartbeat that moves a lane's event time to `ts` (`seq`: the next event's number).
fn heartbeat_at(ts: u64, seq: u64) -> LaneEvent {
    let mut item = blank_event();
    item.event.ts = Timestamp(ts);
    item.seq = seq;
    item
}

impl Publisher {
    /// A publisher over the lanes' producers (index = lane number).
    pub fn new(
        producers: Vec<LaneProducer>,
        router: Router,
        settings: PublisherSettings,
        control: Arc<FeedControl>,
    ) -> Self {
        let n = producers.len();
        Self {
            lanes: producers
                .into_iter()
                .map(|tx| LaneTx {
                    tx,
                    staged: [blank_event(); MAX_BATCH],
                    len: 0,
                    gone: false,
                    reached: 0,
                })
                .collect(),
            router,
            clock: HopClock::new(),
            measure: settings.measure_latency,
            batch: settings.batch.clamp(1, MAX_BATCH),
            idle: settings.idle,
            control,
            seq: 0,
            // One lane needs no heartbeats between events (it gets every event sent, and the
            // time of those not sent with its next item): skip even the boundary arithmetic.
            heartbeat_ns: if n == 1 { 0 } else { settings.heartbeat_ns },
            next_heartbeat: 0,
            last: None,
            latest: 0,
            pace: settings.pace,
            pace_origin: None,
            pace_shift: 0,
            pace_latest: 0,
            paced: 0,
            window: settings.window.clone(),
            allowed: Vec::new(),
            filtered_unknown: Vec::new(),
            window_late: 0,
            window_matched: vec![false; settings.window.symbols.as_ref().map_or(0, Vec::len)],
            days: ticklane_core::TradingDays::new(),
            stats: FeedStats {
                per_lane: vec![0; n],
                ..FeedStats::default()
            },
        }
    }

    /// A hop stamp (raw clock), or 0 when latency is not measured.
    #[inline(always)]
    pub fn stamp(&self) -> u64 {
        if self.measure {
            self.clock.raw()
        } else {
            0
        }
    }

    /// A hop stamp for something that happened `age_ns` ago (a datagram the kernel stamped on
    /// receipt), or 0 when latency is not measured.
    #[inline]
    pub fn stamp_aged(&self, age_ns: u64) -> u64 {
        if self.measure {
            self.clock.raw_before(self.clock.raw(), age_ns)
        } else {
            0
        }
    }

    /// Whether the source was ended at the window's `to`: the message that ended it (the first
    /// past `to`, an event or not) was read but not published, and is not one of the source's
    /// messages replayed.
    pub fn past_window_end(&self) -> bool {
        self.stats.reached_end_of_window
    }

    /// Whether the engine asked the feed to stop.
    #[inline]
    pub fn stop_requested(&self) -> bool {
        self.control.stop.load(Ordering::Relaxed)
    }

    /// `true` when [`Publisher::wait_until_due`] may wait (the pace is not `max`). A source
    /// that decodes ahead in batches must not when paced: its arrival stamps would then precede
    /// the moments the events are due.
    pub fn is_paced(&self) -> bool {
        self.pace != Pace::Max
    }

    /// Waits until an event of event time `ts_ns` is due under the pace (no-op at `Max`).
    /// Call it before stamping the message's arrival. Flushes staged events before waiting.
    pub fn wait_until_due(&mut self, ts_ns: u64) -> Result<(), Stopped> {
        self.wait_until_received(ts_ns, ts_ns)
    }

    /// [`Publisher::wait_until_due`] for a recording: the event of event time `ts_ns` was
    /// received at `received_ns` (the capture's receive time, any origin), and an `Nx` pace
    /// follows the receive times, so the recording's bursts and gaps are replayed as they
    /// arrived. The window (`--from`) is still in event time. A source must give receive
    /// times for all its events or for none.
    #[inline]
    pub fn wait_until_received(&mut self, ts_ns: u64, received_ns: u64) -> Result<(), Stopped> {
        // At `max`, and in the warm-up before the window, as fast as possible: a check inlined
        // into the source's loop, no call. An event past the window's end is not published
        // (`publish` stops the source there): nothing to wait for.
        if matches!(self.pace, Pace::Max)
            || ts_ns < self.window.from
            || ts_ns > self.window.to
            || !self.on_window_day()
        {
            return Ok(());
        }
        self.wait_paced(received_ns)
    }

    /// [`Publisher::wait_until_received`] for a paced run.
    fn wait_paced(&mut self, received_ns: u64) -> Result<(), Stopped> {
        let due_ns = match self.pace {
            Pace::Max => return Ok(()),
            Pace::Speed(factor) => {
                let (_, origin_ts) = *self
                    .pace_origin
                    .get_or_insert((self.clock.raw(), received_ns));
                let mut t = received_ns.saturating_add(self.pace_shift);
                if t.saturating_add(PACE_BACK_NS) < self.pace_latest {
                    // Time went back (a second day, a splice): the step back is no time.
                    self.pace_shift = self.pace_shift.saturating_add(self.pace_latest - t);
                    t = self.pace_latest;
                }
                self.pace_latest = self.pace_latest.max(t);
                let elapsed_event = t.saturating_sub(origin_ts) as f64;
                (elapsed_event / factor.max(1e-9)) as u64
            }
            Pace::Rate(per_sec) => {
                self.pace_origin.get_or_insert((self.clock.raw(), 0));
                let n = self.paced;
                self.paced += 1;
                (u128::from(n) * 1_000_000_000 / u128::from(per_sec.max(1))) as u64
            }
        };
        self.stats.paced_span_ns = self.stats.paced_span_ns.max(due_ns);
        let origin = self.pace_origin.map_or(0, |o| o.0);
        if self.clock.nanos_between(origin, self.clock.raw()) >= due_ns {
            return Ok(());
        }
        self.flush()?;
        loop {
            let now = self.clock.nanos_between(origin, self.clock.raw());
            if now >= due_ns {
                return Ok(());
            }
            if self.stop_requested() {
                self.stats.stopped = true;
                return Err(Stopped);
            }
            // Long waits sleep (leaving the core to the lanes on small machines) until shortly
            // before the deadline; the last stretch spins for precision.
            // Sleeps are capped so that a stop request (Ctrl-C) is seen within 50 ms even when
            // the next event is hours away at real-time pace.
            let left = due_ns - now;
            if left > PACE_SPIN_NS {
                let nap = (left - PACE_SPIN_NS / 2).min(50_000_000);
                std::thread::sleep(std::time::Duration::from_nanos(nap));
            } else {
                core::hint::spin_loop();
            }
        }
    }

    /// Whether the window has an end (`--to`) or a day (`--day`): a source looks up the time
    /// of a message that carries no event only then (for [`Publisher::pass_without_event`]).
    #[inline]
    pub fn has_window_end(&self) -> bool {
        self.window.to != u64::MAX || self.window.day.is_some()
    }

    /// A message that carries no event (`L`, `N`, `K`, `O`, or one that failed to normalize)
    /// at event time `ts_ns`: past the window's `to` it ends the read, as an event past it does
    /// in [`Publisher::publish`] (`Err(Stopped)`, [`Publisher::past_window_end`] then `true`),
    /// so the messages read are those of the file cut at `to` whatever the kind of the first
    /// message after it. On a day before the window's (`--day`) it is counted
    /// ([`FeedStats::other_days_messages`]). Inside the window it does nothing.
    #[inline]
    pub fn pass_without_event(&mut self, ts_ns: u64) -> Result<(), Stopped> {
        if !self.on_window_day() {
            // A message of a day before the window's (`--day`): read, not replayed.
            self.stats.other_days_messages += 1;
            return Ok(());
        }
        if ts_ns > self.window.to {
            self.stats.reached_end_of_window = true;
            return Err(Stopped);
        }
        Ok(())
    }

    /// Publishes one event decoded at `t_decoded` from a message received at `t_received`
    /// (stamps from [`Publisher::stamp`]).
    #[inline]
    pub fn publish(
        &mut self,
        ev: &MarketEvent,
        t_received: u64,
        t_decoded: u64,
    ) -> Result<(), Stopped> {
        if (ev.ts.0 > self.window.to || self.window.day.is_some()) && !self.in_time_window(ev)? {
            return Ok(());
        }
        if self.window.symbols.is_some() && !self.in_window(ev) {
            self.stats.filtered += 1;
            return Ok(());
        }
        let item = LaneEvent {
            event: *ev,
            heartbeat: false,
            seq: self.seq,
            t_received,
            t_decoded,
            t_enqueued: 0,
        };
        let route = self.router.route(ev);
        if self.heartbeat_ns != 0 && ev.ts.0 >= self.next_heartbeat {
            self.heartbeat(ev.ts.0, route)?;
        }
        self.seq += 1;
        self.stats.events += 1;
        self.last = Some((ev.ts.0, route));
        self.latest = self.latest.max(ev.ts.0);
        match route {
            Route::Lane(l) => self.stage(usize::from(l), item),
            // Its lane would drop it: counted, not sent (it still took a sequence number, and
            // the lanes reach its time with the next item or the end heartbeat).
            Route::Unread(_) => {
                self.stats.unread += 1;
                if self.stats.unread.is_multiple_of(4096) {
                    // The status line's count moves on through a long stretch of them too
                    // (it is otherwise stored when a lane's batch is published).
                    self.control
                        .events
                        .store(self.stats.events, Ordering::Relaxed);
                }
                Ok(())
            }
            Route::All => {
                for l in 0..self.lanes.len() {
                    self.stage(l, item)?;
                }
                if let EventBody::SystemEvent {
                    code: SystemEventCode::StartOfMessages,
                } = ev.body
                {
                    self.start_day(ev.ts.0);
                }
                Ok(())
            }
        }
    }

    /// A trading day's start of messages, staged to every lane (each reached the day before's
    /// latest time first): the router assigns instruments afresh, and, as the new day's times
    /// start again from `ts`, the latest time, each
    /// lane's reach and the next heartbeat start from it too (day 1's last time sent the lanes
    /// that did not get the last event on to day 1's end, and no heartbeat came until day 2
    /// passed day 1's last time).
    #[cold]
    fn start_day(&mut self, ts: u64) {
        self.router.start_day();
        self.latest = ts;
        for tx in &mut self.lanes {
            tx.reached = ts;
        }
        if self.heartbeat_ns != 0 {
            self.next_heartbeat = (ts - ts % self.heartbeat_ns).saturating_add(self.heartbeat_ns);
        }
    }

    /// Whether the events read now are of the window's day (always, without [`Window::day`]).
    #[inline]
    fn on_window_day(&self) -> bool {
        self.window.day.is_none_or(|d| d == self.days.today())
    }

    /// The window's day and end for `ev`, the next event (past `to`, or any event when the
    /// window has a day): `Ok(true)` to publish it, `Ok(false)` when it is of a day before the
    /// window's (counted in `other_days`), `Err(Stopped)` when it ends the window (the next
    /// day's start of messages, or an event of the window's day past `to`).
    #[inline(never)]
    fn in_time_window(&mut self, ev: &MarketEvent) -> Result<bool, Stopped> {
        if let Some(want) = self.window.day {
            self.days.observe(ev);
            let today = self.days.today();
            if today < want {
                self.stats.other_days += 1;
                match ev.body {
                    EventBody::FeedGap { count, .. } => {
                        if count > 0 {
                            self.stats.other_days_gaps += 1;
                            self.stats.other_days_lost =
                                self.stats.other_days_lost.saturating_add(count);
                        }
                    }
                    _ => self.stats.other_days_messages += 1,
                }
                return Ok(false);
            }
            if today > want {
                self.stats.reached_end_of_window = true;
                self.stats.day_ended = true;
                return Err(Stopped);
            }
        }
        if ev.ts.0 > self.window.to {
            self.stats.reached_end_of_window = true;
            return Err(Stopped);
        }
        Ok(true)
    }

    /// Whether `ev`'s instrument is one of the window's symbols (market-wide events always are).
    fn in_window(&mut self, ev: &MarketEvent) -> bool {
        let id = ev.instrument.0 as usize;
        if id == 0 {
            return true;
        }
        if let EventBody::InstrumentDirectory(info) = &ev.body {
            let keep = match &self.window.symbols {
                None => true,
                Some(s) => {
                    let mut keep = false;
                    // Every place it is named (a window may name one symbol twice).
                    for (x, m) in s.iter().zip(self.window_matched.iter_mut()) {
                        if *x == info.symbol {
                            *m = true;
                            keep = true;
                        }
                    }
                    keep
                }
            };
            if id < (1 << 24) {
                if self.allowed.len() <= id {
                    self.allowed.resize(id + 1, Allowed::Unknown);
                }
                self.allowed[id] = if keep { Allowed::Kept } else { Allowed::Out };
                let early = self.filtered_unknown.get_mut(id).map_or(0, std::mem::take);
                if keep && early > 0 {
                    // Its events before this entry were filtered as nobody's: they were its
                    // own, and its book misses them (as the router says of a late book).
                    // `unread` is a part of `events` (published, sent to no lane).
                    self.stats.filtered -= early;
                    self.stats.events += early;
                    self.stats.unread += early;
                    self.window_late += 1;
                    tracing::warn!(
                        instrument = id,
                        symbol = %info.symbol,
                        events = early,
                        "an instrument of --symbols was named by a directory message after \
                         events of it that were not sent: its book misses those orders"
                    );
                }
            }
            return keep;
        }
        match self.allowed.get(id) {
            Some(Allowed::Kept) => true,
            Some(Allowed::Out) => false,
            // Not named yet: filtered, and counted in case a directory entry keeps it.
            None | Some(Allowed::Unknown) => {
                if id < (1 << 24) {
                    if self.filtered_unknown.len() <= id {
                        self.filtered_unknown.resize(id + 1, 0);
                    }
                    self.filtered_unknown[id] += 1;
                }
                false
            }
        }
    }

    /// Event time crossed a heartbeat boundary: every lane that is not about to receive the
    /// current event gets a heartbeat (the one that receives it fires its timers on it; an
    /// event sent nowhere, `Route::Unread`, leaves every lane quiet).
    #[cold]
    fn heartbeat(&mut self, ts: u64, route: Route) -> Result<(), Stopped> {
        let boundary = ts - ts % self.heartbeat_ns;
        let first = self.next_heartbeat == 0;
        match boundary.checked_add(self.heartbeat_ns) {
            Some(next) => self.next_heartbeat = next,
            // The last boundary a `u64` holds (an event time within a heartbeat of `u64::MAX`,
            // corrupt or crafted): no periodic heartbeat after it, only the end one. (A
            // saturated next boundary was crossed again by every event at `u64::MAX`, each
            // sending the quiet lanes a heartbeat back at this boundary.)
            None => self.heartbeat_ns = 0,
        }
        if first || self.lanes.len() == 1 || route == Route::All {
            return Ok(());
        }
        self.stats.heartbeats += 1;
        let item = heartbeat_at(boundary, self.seq);
        for l in 0..self.lanes.len() {
            if route != Route::Lane(l as u16) {
                self.stage(l, item)?;
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn stage(&mut self, lane: usize, item: LaneEvent) -> Result<(), Stopped> {
        let ts = item.event.ts.0;
        if ts < self.latest && self.lanes[lane].reached < self.latest {
            // Event time went backwards (a spliced recording): the lane first reaches the
            // latest time of the events published before this one, wherever they went, as
            // it would had it received them all (one lane does).
            self.catch_up_to(lane, self.latest, item.seq)?;
        }
        let tx = &mut self.lanes[lane];
        tx.reached = tx.reached.max(ts);
        tx.staged[tx.len] = item;
        tx.len += 1;
        if tx.len >= self.batch {
            self.flush_lane(lane)?;
        }
        Ok(())
    }

    /// A heartbeat at `ts` for `lane`, which did not receive the events up to that time
    /// before an item of an earlier time (see `Publisher::latest`).
    #[cold]
    fn catch_up_to(&mut self, lane: usize, ts: u64, seq: u64) -> Result<(), Stopped> {
        self.stats.heartbeats += 1;
        self.stage(lane, heartbeat_at(ts, seq))
    }

    /// Publishes everything staged (call at the end of each packet or input chunk).
    pub fn flush(&mut self) -> Result<(), Stopped> {
        for l in 0..self.lanes.len() {
            if self.lanes[l].len > 0 {
                self.flush_lane(l)?;
            }
        }
        Ok(())
    }

    fn flush_lane(&mut self, lane: usize) -> Result<(), Stopped> {
        let t = self.stamp();
        let tx = &mut self.lanes[lane];
        let n = tx.len;
        tx.len = 0;
        // A stop publishes nothing more (one relaxed load a batch: the flag's line is written
        // only by a stop). At `max` pace with room in the rings the feed never waited, so it
        // only saw the stop when the lanes had exited: it read the rest of the source and
        // counted it all as "lane gone", and the run did not say it was stopped.
        if self.control.stop.load(Ordering::Relaxed) {
            self.stats.stopped = true;
            self.stats.dropped_on_stop += n as u64;
            return Err(Stopped);
        }
        if !tx.gone && tx.tx.is_abandoned() {
            // Gone while its ring still had room.
            tx.give_up(lane);
        }
        if tx.gone {
            self.stats.dropped_lane_gone += n as u64;
            return Ok(());
        }
        for item in &mut tx.staged[..n] {
            item.t_enqueued = t;
        }
        let mut done = tx.tx.push_slice(&tx.staged[..n]);
        if done == n {
            self.stats.per_lane[lane] += n as u64;
            self.control
                .events
                .store(self.stats.events, Ordering::Relaxed);
            return Ok(());
        }
        // Full: wait for room, counted.
        self.stats.full_waits += 1;
        self.control.full_waits.fetch_add(1, Ordering::Relaxed);
        let started = self.clock.raw();
        let mut backoff = Backoff::new(self.idle);
        let result = loop {
            // Enqueued now, not when the wait began: the wait is the publish hop's
            // (backpressure), not time spent in the ring.
            let t = self.stamp();
            let tx = &mut self.lanes[lane];
            for item in &mut tx.staged[done..n] {
                item.t_enqueued = t;
            }
            done += tx.tx.push_slice(&tx.staged[done..n]);
            if done == n {
                break Ok(());
            }
            if tx.tx.is_abandoned() {
                tx.give_up(lane);
                self.stats.dropped_lane_gone += (n - done) as u64;
                break Ok(());
            }
            if self.control.stop.load(Ordering::Relaxed) {
                self.stats.stopped = true;
                self.stats.dropped_on_stop += (n - done) as u64;
                break Err(Stopped);
            }
            backoff.snooze();
        };
        self.stats.full_wait_ns += self.clock.nanos_between(started, self.clock.raw());
        // Only what entered the ring counts as published to the lane.
        self.stats.per_lane[lane] += done as u64;
        result
    }

    /// The lane `instrument` is routed to, if assigned yet.
    pub fn lane_of(&self, instrument: InstrumentId) -> Option<u16> {
        self.router.lane_of(instrument)
    }

    /// Flushes, closes the rings (the lanes drain them and stop) and returns the counters.
    ///
    /// Every lane that did not receive the last event first gets a heartbeat at its time, so
    /// that every lane ends at the same event time (timers and venue reports due by then are
    /// handled everywhere, and the session's close happens at one time whatever the layout).
    pub fn finish(mut self) -> FeedStats {
        self.stats.late_books = self.router.late_books() + self.window_late;
        self.stats.nothing_from =
            self.window.from > 0 && (self.stats.events == 0 || self.latest < self.window.from);
        if let Some(want) = self.window.day {
            let held = self.days.days_read();
            self.stats.missing_day = held < want;
            self.stats.skipped_days = held.min(want.saturating_sub(1));
        }
        if let Some(symbols) = &self.window.symbols {
            self.stats.unmatched_symbols = symbols
                .iter()
                .zip(&self.window_matched)
                .filter(|(_, &m)| !m)
                .map(|(s, _)| *s)
                .collect();
        }
        // Every lane that did not receive the last event gets a heartbeat at the latest event
        // time published (the last event's, or a later one's if time went backwards), so that
        // what was due by then (timers, the venue's answers) comes out in every lane layout,
        // and whether the lane kept that instrument's book or not.
        let last = self.last;
        let quiet = move |l: usize| match last {
            Some((_, Route::Lane(to))) => l != usize::from(to),
            Some((_, Route::Unread(_))) => true,
            _ => false,
        };
        let end = match self.last {
            Some(_) if (0..self.lanes.len()).any(quiet) => {
                self.stats.heartbeats += 1;
                let seq = self.seq;
                (0..self.lanes.len())
                    .filter(|&l| quiet(l))
                    .try_for_each(|l| self.stage(l, heartbeat_at(self.latest, seq)))
            }
            _ => Ok(()),
        };
        if end.is_err() || self.flush().is_err() {
            self.stats.stopped = true;
        }
        // What other lanes still had staged when a flush stopped.
        for tx in &mut self.lanes {
            self.stats.dropped_on_stop += tx.len as u64;
            tx.len = 0;
        }
        self.control
            .events
            .store(self.stats.events, Ordering::Relaxed);
        self.stats
    }
}

/// What a source reports at the end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceReport {
    /// Messages read.
    pub messages: u64,
    /// Messages or packets that could not be decoded (each counted, none skipped silently).
    pub errors: u64,
    /// The first errors, with their positions.
    pub first_errors: Vec<String>,
    /// Source-specific lines for the summary (format, packets, gaps, ...).
    pub notes: Vec<String>,
    /// Gaps lost for good (no line, no re-request, no later packet filled them): the books went
    /// stale there, and the run's output lacks those messages (its exit status says so).
    pub lost_gaps: u64,
    /// Messages in those gaps, where known (0 when a gap's size is unknown).
    pub lost_messages: u64,
    /// Why the source could not run at all (a socket that would not open, a relay that
    /// refused us): the run is a failure, whatever else it reports.
    pub fatal: Option<String>,
}

/// A source of market events for the feed thread: reads its input, decodes it, and calls
/// [`Publisher::publish`] for every event (with [`Publisher::flush`] at packet boundaries).
/// Runs on the feed thread; returns when the input ends or the publisher says stop.
pub trait FeedSource: Send + 'static {
    /// Reads everything (or until stopped).
    fn run(&mut self, publisher: &mut Publisher) -> SourceReport;
}

/// A source over events already in memory (tests, tools, generated sessions), flushed every
/// `chunk` events as if each chunk were a packet.
#[derive(Debug, Clone)]
pub struct EventsSource {
    events: Arc<[MarketEvent]>,
    chunk: usize,
}

impl EventsSource {
    /// A source over `events`.
    pub fn new(events: impl Into<Arc<[MarketEvent]>>, chunk: usize) -> Self {
        Self {
            events: events.into(),
            chunk: chunk.max(1),
        }
    }
}

impl FeedSource for EventsSource {
    fn run(&mut self, publisher: &mut Publisher) -> SourceReport {
        let mut report = SourceReport::default();
        for chunk in self.events.chunks(self.chunk) {
            for ev in chunk {
                if publisher.wait_until_due(ev.ts.0).is_err() {
                    return report;
                }
                let t = publisher.stamp();
                if publisher.publish(ev, t, t).is_err() {
                    return report;
                }
                report.messages += 1;
            }
            if publisher.flush().is_err() {
                return report;
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lane_ring::{lane_ring, LaneConsumer, RingKind};
    use ticklane_core::{InstrumentInfo, OrderId, Symbol};

    /// A publisher over `rings` (instruments hashed over them), handing over `batch` items at
    /// a time, without latency stamps or heartbeats, stopped through `control`.
    fn quiet_publisher(
        rings: Vec<LaneProducer>,
        batch: usize,
        control: &Arc<FeedControl>,
    ) -> Publisher {
        let settings = PublisherSettings {
            measure_latency: false,
            batch,
            heartbeat_ns: 0,
            ..PublisherSettings::default()
        };
        let lanes = rings.len() as u16;
        Publisher::new(rings, Router::new(lanes, []), settings, control.clone())
    }

    fn ev(ts: u64, instrument: u32) -> MarketEvent {
        MarketEvent::new(
            Timestamp(ts),
            InstrumentId(instrument),
            EventBody::OrderDeleted {
                order_id: OrderId(ts),
            },
        )
    }

    fn drain(rx: &mut LaneConsumer) -> Vec<LaneEvent> {
        let mut v = Vec::new();
        while let Some(x) = rx.pop() {
            v.push(x);
        }
        v
    }

    #[test]
    fn routes_by_instrument_broadcasts_market_wide_and_inserts_heartbeats() {
        for kind in [RingKind::Index, RingKind::Stamped] {
            routes_by_instrument(kind);
        }
    }

    fn routes_by_instrument(kind: RingKind) {
        let (tx0, mut rx0) = lane_ring(kind, 256);
        let (tx1, mut rx1) = lane_ring(kind, 256);
        let settings = PublisherSettings {
            measure_latency: false,
            batch: 4,
            heartbeat_ns: 1000,
            ..PublisherSettings::default()
        };
        let mut p = Publisher::new(vec![tx0, tx1], Router::new(2, []), settings, Arc::default());
        let dir = MarketEvent::new(
            Timestamp(10),
            InstrumentId(3),
            EventBody::InstrumentDirectory(InstrumentInfo::common_stock(
                Symbol::new("X").unwrap_or_default(),
            )),
        );
        let events = [
            dir,
            ev(20, 2),
            ev(30, 3),
            ev(2500, 2),
            ev(2600, 0),
            ev(4100, 0),
        ];
        for e in &events {
            assert_eq!(p.publish(e, 0, 0), Ok(()));
        }
        let stats = p.finish();
        assert_eq!(stats.events, 6);
        assert_eq!(stats.heartbeats, 1);
        let l0 = drain(&mut rx0);
        let l1 = drain(&mut rx1);
        let desc = |v: &[LaneEvent]| -> Vec<(u64, bool, u64)> {
            v.iter()
                .map(|x| (x.seq, x.heartbeat, x.event.ts.0))
                .collect()
        };
        // Lane 0 gets instrument 2; lane 1 instrument 3; both get the market-wide events. The
        // event at 2500 (lane 0) crosses the 2000 ns boundary: quiet lane 1 gets a heartbeat
        // carrying that event's sequence number. The market-wide event at 4100 crosses the
        // next boundary but reaches every lane itself: no heartbeat.
        assert_eq!(
            desc(&l0),
            vec![
                (1, false, 20),
                (3, false, 2500),
                (4, false, 2600),
                (5, false, 4100)
            ]
        );
        assert_eq!(
            desc(&l1),
            vec![
                (0, false, 10),
                (2, false, 30),
                (3, true, 2000),
                (4, false, 2600),
                (5, false, 4100)
            ]
        );
        assert_eq!(stats.per_lane, vec![4, 5]);
    }

    /// The last event's time reaches every lane, even with periodic heartbeats off: the
    /// session closes at one time in every layout.
    #[test]
    fn the_end_heartbeat_reaches_quiet_lanes_even_without_periodic_ones() {
        let (mut p, mut rx0, mut rx1) = two_lanes(0);
        for e in [ev(20, 2), ev(30, 3), ev(5_000, 2)] {
            assert_eq!(p.publish(&e, 0, 0), Ok(()));
        }
        let stats = p.finish();
        assert_eq!(stats.heartbeats, 1);
        let last = |v: Vec<LaneEvent>| v.last().map(|x| (x.seq, x.heartbeat, x.event.ts.0));
        assert_eq!(last(drain(&mut rx0)), Some((2, false, 5_000)));
        assert_eq!(last(drain(&mut rx1)), Some((3, true, 5_000)));
    }

    /// Event times at the end of `u64` (a corrupt or crafted source): the next heartbeat
    /// boundary saturates instead of overflowing (a panic in debug builds; wrapped, every
    /// later event sent every lane a heartbeat).
    #[test]
    fn heartbeats_at_the_end_of_u64_do_not_overflow() {
        let (mut p, mut rx0, mut rx1) = two_lanes(1000);
        for e in [ev(20, 2), ev(u64::MAX - 3, 2), ev(u64::MAX - 1, 2)] {
            assert_eq!(p.publish(&e, 0, 0), Ok(()));
        }
        let stats = p.finish();
        let boundary = u64::MAX - u64::MAX % 1000;
        // Lane 1 (quiet): one heartbeat at the last boundary, then the end heartbeat.
        assert_eq!(
            sent(&mut rx1),
            [(1, true, boundary), (3, true, u64::MAX - 1)]
        );
        // The boundary's and the end's.
        assert_eq!(stats.heartbeats, 2);
        assert_eq!(sent(&mut rx0).len(), 3);
    }

    /// Event times at the end of `u64` again: once the next boundary has saturated at
    /// `u64::MAX`, every event at `u64::MAX` crosses it and sends the quiet lane a heartbeat at
    /// the last boundary, which is earlier than the time the lane has already reached (after a
    /// catch-up heartbeat): a quiet lane's items go back in time, one pair per event.
    #[test]
    fn heartbeats_at_the_end_of_u64_never_go_back_in_time() {
        let (mut p, _rx0, mut rx1) = two_lanes(1000);
        for e in [
            ev(20, 2),
            ev(u64::MAX - 3, 2),
            ev(u64::MAX, 2),
            ev(u64::MAX, 2),
        ] {
            assert_eq!(p.publish(&e, 0, 0), Ok(()));
        }
        let stats = p.finish();
        let boundary = u64::MAX - u64::MAX % 1000;
        let got = sent(&mut rx1);
        let times: Vec<u64> = got.iter().map(|x| x.2).collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "lane 1's items go back in time: {got:?}"
        );
        // One heartbeat at the last boundary, then the end heartbeat at u64::MAX.
        assert_eq!(got, [(1, true, boundary), (4, true, u64::MAX)]);
        assert_eq!(stats.heartbeats, 2);
    }

    /// Two lanes on index rings, instruments routed by id (`id % 2`), batches of 4, the given
    /// heartbeat period, latency not measured.
    fn two_lanes(heartbeat_ns: u64) -> (Publisher, LaneConsumer, LaneConsumer) {
        let (tx0, rx0) = lane_ring(RingKind::Index, 64);
        let (tx1, rx1) = lane_ring(RingKind::Index, 64);
        let settings = PublisherSettings {
            measure_latency: false,
            batch: 4,
            heartbeat_ns,
            ..PublisherSettings::default()
        };
        let p = Publisher::new(vec![tx0, tx1], Router::new(2, []), settings, Arc::default());
        (p, rx0, rx1)
    }

    /// One lane keeping only its strategies' books, whose one strategy subscribes to `X`.
    fn x_only_publisher() -> (Publisher, LaneConsumer) {
        let (tx0, rx0) = lane_ring(RingKind::Index, 64);
        let settings = PublisherSettings {
            measure_latency: false,
            batch: 4,
            heartbeat_ns: 0,
            ..PublisherSettings::default()
        };
        let sym = Symbol::new("X").unwrap_or_default();
        let router = Router::new(1, [(sym, 0)]).with_books_kept([false]);
        (
            Publisher::new(vec![tx0], router, settings, Arc::default()),
            rx0,
        )
    }

    /// What a lane received: (sequence number, heartbeat, event time) of each item.
    fn sent(rx: &mut LaneConsumer) -> Vec<(u64, bool, u64)> {
        drain(rx)
            .iter()
            .map(|x| (x.seq, x.heartbeat, x.event.ts.0))
            .collect()
    }

    /// The directory entry of instrument `id`, named `s`.
    fn dir(id: u32, s: &str) -> MarketEvent {
        MarketEvent::new(
            Timestamp(10),
            InstrumentId(id),
            EventBody::InstrumentDirectory(InstrumentInfo::common_stock(
                Symbol::new(s).unwrap_or_default(),
            )),
        )
    }

    #[test]
    fn events_no_lane_reads_are_not_sent_and_the_end_heartbeat_reaches_their_time() {
        // One lane keeping only its strategies' books, none subscribed here: instrument 2's
        // events are not sent (they keep their sequence numbers), and the lane still reaches
        // the last one's time at the end.
        let (mut p, mut rx0) = x_only_publisher();
        for e in [dir(1, "X"), dir(2, "Y"), ev(20, 1), ev(30, 2), ev(5_000, 2)] {
            assert_eq!(p.publish(&e, 0, 0), Ok(()));
        }
        let stats = p.finish();
        assert_eq!((stats.events, stats.unread, stats.heartbeats), (5, 2, 1));
        let got = sent(&mut rx0);
        assert_eq!(
            got,
            vec![
                (0, false, 10),
                (1, false, 10),
                (2, false, 20),
                (5, true, 5_000)
            ]
        );
    }

    /// `--symbols X` with an event of X before X's directory message: the early event is
    /// moved from `filtered` to `unread` ("counted `unread`", README), and `unread` is a
    /// part of `events` (the run summary prints "N events (U of instruments no lane reads,
    /// not sent)"; `lanes' events + unread == events`). The move must count it in `events`
    /// too, as the same file cut to X (no `--symbols`) does.
    #[test]
    fn an_early_event_of_a_window_symbol_moved_to_unread_is_counted_in_events() {
        let (tx0, mut rx0) = lane_ring(RingKind::Index, 64);
        let sym = Symbol::new("X").unwrap_or_default();
        let settings = PublisherSettings {
            measure_latency: false,
            batch: 4,
            heartbeat_ns: 0,
            window: Window {
                from: 0,
                to: u64::MAX,
                symbols: Some(vec![sym]),
                day: None,
            },
            ..PublisherSettings::default()
        };
        let router = Router::new(1, [(sym, 0)]).with_books_kept([false]);
        let mut p = Publisher::new(vec![tx0], router, settings, Arc::default());
        // X's delete before X's directory entry; Y is outside the window.
        for e in [ev(5, 1), dir(2, "Y"), dir(1, "X"), ev(20, 1), ev(30, 2)] {
            assert_eq!(p.publish(&e, 0, 0), Ok(()));
        }
        let stats = p.finish();
        let got = drain(&mut rx0).iter().filter(|x| !x.heartbeat).count() as u64;
        assert_eq!(
            (stats.events, stats.unread, stats.filtered, stats.late_books),
            (3, 1, 2, 1),
            "(events, unread, filtered, late_books)"
        );
        assert_eq!(
            got + stats.unread,
            stats.events,
            "lane items + unread == events"
        );
    }

    #[test]
    fn a_lane_reaches_the_time_of_events_not_sent_before_an_earlier_item() {
        // Event time goes backwards (a spliced recording): an unsent event at 200, then one
        // the lane gets at 120. Keeping every book, the lane would have caught up to 200 first:
        // it gets a heartbeat at 200 before the event at 120.
        let (mut p, mut rx0) = x_only_publisher();
        for e in [
            dir(1, "X"),
            dir(2, "Y"),
            ev(100, 1),
            ev(200, 2),
            ev(120, 1),
            ev(150, 2),
        ] {
            assert_eq!(p.publish(&e, 0, 0), Ok(()));
        }
        let stats = p.finish();
        assert_eq!((stats.unread, stats.heartbeats), (2, 2));
        let got = sent(&mut rx0);
        assert_eq!(
            got,
            vec![
                (0, false, 10),
                (1, false, 10),
                (2, false, 100),
                (4, true, 200),
                (4, false, 120),
                // The end: the last event (150) was not sent; the lane ends at the latest
                // time published (200), as one keeping every book does.
                (6, true, 200)
            ]
        );
    }

    #[test]
    fn a_lane_reaches_the_time_of_events_sent_to_other_lanes_before_an_earlier_item() {
        // Two lanes, event time going backwards: Y@10 to lane 1, X@1000 to lane 0, Y@200 to
        // lane 1. One lane would be at 1000 before Y@200 (timers due by then fired): lane 1
        // gets a heartbeat at 1000 first, and ends there. Forward time sends nothing extra.
        let (mut p, mut rx0, mut rx1) = two_lanes(0);
        for e in [ev(10, 1), ev(20, 1), ev(1_000, 2), ev(200, 1), ev(300, 1)] {
            assert_eq!(p.publish(&e, 0, 0), Ok(()));
        }
        let stats = p.finish();
        // The catch-up and the end's (lane 0 did not get the last event: it gets the end
        // heartbeat at the latest time, its own).
        assert_eq!(stats.heartbeats, 2);
        assert_eq!(sent(&mut rx0), [(2, false, 1_000), (5, true, 1_000)]);
        assert_eq!(
            sent(&mut rx1),
            [
                (0, false, 10),
                (1, false, 20),
                (3, true, 1_000),
                (3, false, 200),
                (4, false, 300),
            ]
        );
    }

    #[test]
    fn a_full_ring_waits_and_a_gone_lane_is_counted_not_blocking() {
        for kind in [RingKind::Index, RingKind::Stamped] {
            full_ring_waits(kind);
        }
    }

    fn full_ring_waits(kind: RingKind) {
        let (tx0, rx0) = lane_ring(kind, 2);
        let settings = PublisherSettings {
            measure_latency: false,
            batch: 1,
            heartbeat_ns: 0,
            idle: IdlePolicy::SpinYield { spins: 1 },
            ..PublisherSettings::default()
        };
        let control = Arc::new(FeedControl::default());
        let mut p = Publisher::new(vec![tx0], Router::new(1, []), settings, control.clone());
        let cap = 2usize;
        for i in 0..cap as u64 {
            assert_eq!(p.publish(&ev(i, 1), 0, 0), Ok(()));
        }
        // The ring is full and the feed waits; the consumer goes away meanwhile (once the
        // feed has counted its wait, so the order does not depend on timing): the wait ends,
        // and nothing more waits.
        let consumer = std::thread::spawn(move || {
            while control.full_waits.load(Ordering::Relaxed) == 0 {
                std::thread::yield_now();
            }
            drop(rx0);
        });
        assert_eq!(p.publish(&ev(9, 1), 0, 0), Ok(()));
        assert!(consumer.join().is_ok());
        assert_eq!(p.publish(&ev(10, 1), 0, 0), Ok(()));
        let stats = p.finish();
        assert_eq!(stats.full_waits, 1);
        assert_eq!(stats.dropped_lane_gone, 2);
        assert_eq!(stats.per_lane, vec![2], "only what entered the ring");
    }

    /// Items that enter the ring after a wait for room are stamped enqueued when they enter,
    /// so that the wait counts in the publish hop (backpressure), not in the ring's.
    #[test]
    fn items_pushed_after_a_full_ring_wait_are_stamped_when_they_enter() {
        for kind in [RingKind::Index, RingKind::Stamped] {
            let (tx0, mut rx0) = lane_ring(kind, 4);
            let settings = PublisherSettings {
                measure_latency: true,
                batch: 16,
                heartbeat_ns: 0,
                idle: IdlePolicy::SpinYield { spins: 1 },
                ..PublisherSettings::default()
            };
            let control = Arc::new(FeedControl::default());
            let mut p = Publisher::new(vec![tx0], Router::new(1, []), settings, control.clone());
            const PAUSE: std::time::Duration = std::time::Duration::from_millis(30);
            // The consumer waits until the feed waits, then pauses before draining: whatever
            // enters after the first slots was stamped at least `PAUSE` after them.
            let consumer = std::thread::spawn(move || {
                while control.full_waits.load(Ordering::Relaxed) == 0 {
                    std::thread::yield_now();
                }
                std::thread::sleep(PAUSE);
                let mut got = Vec::new();
                while got.len() < 16 {
                    match rx0.pop() {
                        Some(x) => got.push(x),
                        None => std::thread::yield_now(),
                    }
                }
                got
            });
            for i in 0..16 {
                assert_eq!(p.publish(&ev(i, 1), 0, 0), Ok(()));
            }
            let got = consumer.join().unwrap_or_default();
            assert_eq!(got.len(), 16);
            let first = got[0].t_enqueued;
            let last = got[15].t_enqueued;
            let waited = p.clock.nanos_between(first, last);
            assert!(
                waited >= PAUSE.as_nanos() as u64,
                "{kind:?}: the last item's stamp is {waited} ns after the first's"
            );
            let _ = p.finish();
        }
    }

    /// A lane that exits while its ring still has room: what the feed then stages for it is
    /// counted as dropped, not as published.
    #[test]
    fn events_for_a_lane_gone_with_room_in_its_ring_are_counted_dropped() {
        for kind in [RingKind::Index, RingKind::Stamped] {
            let (tx0, rx0) = lane_ring(kind, 64);
            let settings = PublisherSettings {
                measure_latency: false,
                batch: 1,
                heartbeat_ns: 0,
                ..PublisherSettings::default()
            };
            let mut p = Publisher::new(vec![tx0], Router::new(1, []), settings, Arc::default());
            for i in 0..2 {
                assert_eq!(p.publish(&ev(i, 1), 0, 0), Ok(()));
            }
            drop(rx0);
            for i in 2..5 {
                assert_eq!(p.publish(&ev(i, 1), 0, 0), Ok(()));
            }
            let stats = p.finish();
            assert_eq!(
                (
                    stats.per_lane.clone(),
                    stats.dropped_lane_gone,
                    stats.full_waits
                ),
                (vec![2], 3, 0),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn stop_flag_ends_a_wait_on_a_full_ring() {
        for kind in [RingKind::Index, RingKind::Stamped] {
            stop_ends_a_wait(kind);
        }
    }

    fn stop_ends_a_wait(kind: RingKind) {
        let (tx0, _rx0) = lane_ring(kind, 2);
        let control = Arc::new(FeedControl::default());
        let mut p = quiet_publisher(vec![tx0], 1, &control);
        assert_eq!(p.publish(&ev(1, 1), 0, 0), Ok(()));
        assert_eq!(p.publish(&ev(2, 1), 0, 0), Ok(()));
        // The stop comes while the feed waits for room (nobody reads the ring).
        let stopper = {
            let control = control.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                control.stop.store(true, Ordering::Relaxed);
            })
        };
        assert_eq!(p.publish(&ev(3, 1), 0, 0), Err(Stopped));
        stopper
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        let stats = p.finish();
        assert_eq!(stats.full_waits, 1, "{kind:?}");
        assert!(stats.stopped);
        // The third event was staged and never published: counted, so that every event is
        // accounted for (it was in `events` and nowhere else).
        assert_eq!(
            (stats.events, stats.per_lane.clone(), stats.dropped_on_stop),
            (3, vec![2], 1),
            "{kind:?}"
        );
    }

    /// At `max` pace with room in the ring, a stop ends the feed at its next flush, even when
    /// the lane has already exited (it read the whole source, counting it as "lane gone").
    #[test]
    fn a_stop_is_seen_without_a_full_ring() {
        for kind in [RingKind::Index, RingKind::Stamped] {
            let (tx0, rx0) = lane_ring(kind, 64);
            let control = Arc::new(FeedControl::default());
            let mut p = quiet_publisher(vec![tx0], 1, &control);
            assert_eq!(p.publish(&ev(0, 1), 0, 0), Ok(()));
            control.stop.store(true, Ordering::Relaxed);
            drop(rx0);
            assert_eq!(p.publish(&ev(1, 1), 0, 0), Err(Stopped), "{kind:?}");
            let stats = p.finish();
            assert_eq!(
                (
                    stats.stopped,
                    stats.per_lane.clone(),
                    stats.dropped_on_stop,
                    stats.dropped_lane_gone
                ),
                (true, vec![1], 1, 0),
                "{kind:?}"
            );
        }
    }

    /// Two lanes stopped mid-flush: what the first lane could not take and what the second
    /// still had staged are counted, not lost without a word (published + cut off = events +
    /// heartbeats).
    #[test]
    fn a_stop_during_a_flush_counts_what_no_lane_got() {
        for kind in [RingKind::Index, RingKind::Stamped] {
            let (tx0, _rx0) = lane_ring(kind, 2);
            let (tx1, _rx1) = lane_ring(kind, 2);
            let control = Arc::new(FeedControl::default());
            let settings = PublisherSettings {
                measure_latency: false,
                batch: 8,
                heartbeat_ns: 0,
                ..PublisherSettings::default()
            };
            let mut p = Publisher::new(
                vec![tx0, tx1],
                Router::new(2, []),
                settings,
                control.clone(),
            );
            // Instruments 2 and 4 hash to lane 0, 1 and 3 to lane 1: three items each.
            for (i, inst) in [2, 1, 4, 3, 2, 1].into_iter().enumerate() {
                assert_eq!(p.publish(&ev(i as u64, inst), 0, 0), Ok(()));
            }
            control.stop.store(true, Ordering::Relaxed);
            assert_eq!(p.flush(), Err(Stopped));
            let stats = p.finish();
            let published: u64 = stats.per_lane.iter().sum();
            assert_eq!(
                published + stats.dropped_on_stop,
                stats.events + stats.heartbeats,
                "{kind:?}: {stats:?}"
            );
            // Nothing is published after the stop: the six events and the closing heartbeat
            // for lane 0 (the last event went to lane 1) are counted.
            assert_eq!(
                (stats.per_lane.clone(), stats.dropped_on_stop, stats.stopped),
                (vec![0, 0], 7, true),
                "{kind:?}: {stats:?}"
            );
        }
    }
    /// A one-lane publisher paced at `factor`, over the window `from ..= to`.
    fn paced_publisher(factor: f64, from: u64, to: u64) -> (Publisher, LaneConsumer) {
        let (tx, rx) = lane_ring(RingKind::Index, 64);
        let settings = PublisherSettings {
            measure_latency: false,
            heartbeat_ns: 0,
            pace: Pace::Speed(factor),
            window: Window {
                from,
                to,
                symbols: None,
                day: None,
            },
            ..PublisherSettings::default()
        };
        let control = Arc::new(FeedControl::default());
        let p = Publisher::new(vec![tx], Router::new(1, []), settings, control);
        (p, rx)
    }

    /// `--to` ends a paced replay at the last event inside the window: the first event past it
    /// is not published, so it is not waited for either (at `1x` it may be hours away: the
    /// close after a `--to 16:00`), and it is not part of the schedule's span.
    #[test]
    fn a_paced_replay_does_not_wait_for_the_event_past_the_window_end() {
        let (mut p, _rx) = paced_publisher(1.0, 0, 1_000);
        assert_eq!(p.wait_until_due(1_000), Ok(()));
        assert_eq!(p.publish(&ev(1_000, 1), 0, 0), Ok(()));
        // The next event comes 2 s of event time later, past `to`: the source stops there.
        let past = 1_000 + 2_000_000_000;
        assert_eq!(p.wait_until_due(past), Ok(()));
        assert_eq!(p.publish(&ev(past, 1), 0, 0), Err(Stopped));
        let stats = p.finish();
        assert!(stats.reached_end_of_window);
        // The span scheduled is what was waited for (no timed assertion: the schedule says it).
        assert_eq!(
            stats.paced_span_ns, 0,
            "the event past --to was scheduled (and waited for)"
        );
    }

    /// Event time that goes back (two days in one binary file, or a spliced recording: ITCH
    /// times are ns since midnight) does not turn the pace off: the second day's events are
    /// as far apart, at `Nx`, as the first day's.
    #[test]
    fn a_paced_replay_keeps_pacing_after_event_time_goes_back() {
        const S: u64 = 1_000_000_000;
        let ten = 36_000 * S;
        let (mut p, mut rx) = paced_publisher(1_000.0, 0, u64::MAX);
        for t in [ten, ten + S, ten + 2 * S] {
            assert_eq!(p.wait_until_due(t), Ok(()));
            assert_eq!(p.publish(&ev(t, 1), 0, 0), Ok(()));
        }
        // Day 2: the same times of day. Its 2 s of event time follow day 1's 2 s: at 1000x the
        // last event is due 4 ms after the first (the schedule says it; no timed assertion).
        // Without the shift day 2 was due at once: a span of 2 ms.
        for t in [ten, ten + S, ten + 2 * S] {
            assert_eq!(p.wait_until_due(t), Ok(()));
            assert_eq!(p.publish(&ev(t, 1), 0, 0), Ok(()));
        }
        // A step back within receive-time jitter keeps the absolute schedule (due at once).
        assert_eq!(p.wait_until_due(ten + 2 * S - 1_000), Ok(()));
        let stats = p.finish();
        drain(&mut rx);
        assert_eq!(stats.paced_span_ns, 4 * S / 1_000);
    }

    /// A trading day's start of messages (market-wide).
    fn day_start(ts: u64) -> MarketEvent {
        MarketEvent::new(
            Timestamp(ts),
            InstrumentId::NONE,
            EventBody::SystemEvent {
                code: SystemEventCode::StartOfMessages,
            },
        )
    }

    /// A paced publisher over one trading day (`--day`), ending at `to`.
    fn day_publisher(day: u64, to: u64) -> (Publisher, LaneConsumer) {
        let (mut p, rx) = paced_publisher(1_000.0, 0, to);
        p.window.day = Some(day);
        (p, rx)
    }

    /// Three days, 10 s, 11 s and 12 s of event time (each from 0), read through a window of
    /// day `day` ending at `to`: what was published (event times), and the counters.
    fn three_days(day: u64, to: u64) -> (Vec<u64>, FeedStats) {
        const S: u64 = 1_000_000_000;
        let (mut p, mut rx) = day_publisher(day, to);
        let mut published = Vec::new();
        'days: for d in 0..3u64 {
            let events = [day_start(0), ev(S, 1), ev(5 * S, 2), ev((10 + d) * S, 1)];
            for e in events {
                // Not paced unless it is the window's (the span below says so).
                if p.wait_until_due(e.ts.0).is_err() || p.publish(&e, 0, 0).is_err() {
                    break 'days;
                }
            }
            // A message without an event past `to`, on every day.
            if p.pass_without_event((10 + d) * S + 1).is_err() {
                break;
            }
        }
        let stats = p.finish();
        for item in drain(&mut rx).iter().filter(|i| !i.heartbeat) {
            published.push(item.event.ts.0);
        }
        (published, stats)
    }

    /// `--day 2`: day 1 is read and not published nor paced, day 2 is published as a source
    /// that held it alone, and day 3's start of messages ends the read.
    #[test]
    fn a_window_of_one_day_publishes_that_day_alone() {
        const S: u64 = 1_000_000_000;
        let (published, stats) = three_days(2, u64::MAX);
        assert_eq!(published, vec![0, S, 5 * S, 11 * S]);
        assert_eq!(stats.events, 4);
        assert_eq!(stats.other_days, 4);
        assert_eq!(stats.skipped_days, 1);
        assert!(stats.day_ended && stats.reached_end_of_window);
        assert!(!stats.missing_day);
        // Day 1's 10 s were not scheduled: the pace starts at day 2's first event after its
        // start of messages (which is waited for before it is known to begin the day), so
        // day 2's last is due 10 s after at 1000x (day 1 counted too would say 20 s).
        assert_eq!(stats.paced_span_ns, 10 * S / 1_000);

        // The first day and the last: the last ends with the source.
        let (published, stats) = three_days(1, u64::MAX);
        assert_eq!(published, vec![0, S, 5 * S, 10 * S]);
        assert_eq!((stats.other_days, stats.skipped_days), (0, 0));
        assert!(stats.day_ended);
        let (published, stats) = three_days(3, u64::MAX);
        assert_eq!(published, vec![0, S, 5 * S, 12 * S]);
        assert_eq!((stats.other_days, stats.skipped_days), (8, 2));
        assert!(!stats.day_ended && !stats.reached_end_of_window);
    }

    /// `--to` is a time of the window's day: the days before it pass it without ending the
    /// read (by an event or by a message without one), the day's first message past it does.
    #[test]
    fn the_end_of_a_one_day_window_is_a_time_of_that_day() {
        const S: u64 = 1_000_000_000;
        let (published, stats) = three_days(2, 5 * S);
        assert_eq!(published, vec![0, S, 5 * S]);
        assert!(stats.reached_end_of_window && !stats.day_ended);
        assert_eq!(stats.other_days, 4);
        // Without a day, `to` ends the read on day 1.
        let (mut p, mut rx) = paced_publisher(1_000.0, 0, 5 * S);
        for e in [day_start(0), ev(S, 1), ev(5 * S, 2)] {
            assert_eq!(p.publish(&e, 0, 0), Ok(()));
        }
        assert_eq!(p.pass_without_event(6 * S), Err(Stopped));
        p.finish();
        drain(&mut rx);
    }

    /// A day past the source's last publishes nothing and says how many days there were.
    #[test]
    fn a_window_of_a_day_the_source_does_not_hold_says_so() {
        let (published, stats) = three_days(4, u64::MAX);
        assert!(published.is_empty());
        assert_eq!(stats.events, 0);
        assert_eq!(stats.other_days, 12);
        assert!(stats.missing_day);
        assert_eq!(stats.skipped_days, 3);
        // A source without any event holds no day.
        let (p, _rx) = day_publisher(1, u64::MAX);
        let stats = p.finish();
        assert!(stats.missing_day);
        assert_eq!(stats.skipped_days, 0);
    }
}
