//! [`LiveSource`]: the engine's feed stage on a live MoldUDP64 feed.
//!
//! One feed thread owns everything between the wire and the rings:
//!
//! 1. **Lines.** One or two UDP lines (A and B, unicast or multicast) or a QUIC relay, polled
//!    in turn without allocation; each datagram is stamped with the kernel's receive time.
//! 2. **Recording.** Optionally every datagram is appended to a capture (`replay/FORMAT.md`)
//!    as received, on its line, retransmission answers included, before anything else looks
//!    at it; the session's timer decisions (a gap given up) are written as notes at the point
//!    they were taken. Replaying the capture therefore delivers exactly what this run delivered.
//! 3. **Session.** [`MoldUdp64Session`] arbitrates the lines (first copy wins), buffers
//!    out-of-order packets, waits a grace period for the other line before re-requesting a gap
//!    from the configured servers (or the relay), retries, and reports what it cannot recover.
//! 4. **Publishing.** Each in-order message is decoded, normalized and published to the lanes,
//!    its arrival stamped with the kernel receive time (so the latency histograms measure wire
//!    to decision). An unrecoverable gap is published as a market-wide
//!    [`EventBody::FeedGap`] at its place in the stream: every book goes stale and risk refuses
//!    new orders on them. Nothing is lost silently.
//!
//! The run ends at the session's end-of-session packet, when the engine asks to stop, or when
//! the feed has been silent for `stop_after_silence_ns` (a feed that stops is reported either
//! way: [`LiveReport::silences`]). Silent means no packet of this session accepted: another
//! session's packets, malformed datagrams and packets with an implausible sequence number are
//! counted and reported, but are not activity (garbage on the port does not hide a dead
//! feed).
//!
//! A session that joined mid-stream on a packet whose header was corrupt joins again where the
//! stream really is ([`SessionSink::rejoined`]); so does a receiver whose relay restarts its
//! live path (the relay's own upstream joined again: see [`crate::relay`]). Either way the
//! downstream is told ([`Downstream::rejoined`]): the engine's books go stale, as after a loss
//! of unknown size.
//!
//! What the report keeps is bounded however long the run: the first [`LOST_RANGES_LISTED`]
//! unrecoverable gaps are listed, the others counted exactly
//! ([`LiveReport::lost_ranges_not_listed`]); likewise the first [`SILENCES_LISTED`] silences
//! ([`LiveReport::silences_not_listed`]) and the first [`REJOINS_LISTED`] rejoins.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ticklane_core::{EventBody, InstrumentId, MarketEvent, Timestamp};
use ticklane_feeds::itch::decode_normalize_into;
use ticklane_feeds::moldudp64::session::{
    MoldUdp64Session, SessionConfig, SessionSink, SessionStats,
};
use ticklane_feeds::moldudp64::{MoldRequest, END_OF_SESSION_COUNT, HEADER_LEN};
use ticklane_replay::format::Line;
use ticklane_replay::{FlushPolicy, WriterOptions};

use crate::recorder::{Recorder, RecorderThread};
use ticklane_runtime::feed::{FeedSource, Publisher, SourceReport};

use crate::relay::{LiveMode, RelayClientConfig, RelayItem, RelayLine};
use crate::udp::{socket_drops, wait_readable, wall_ns, UdpLine, UdpLineConfig};

/// Receive buffer of the re-request socket when no UDP line says one (a relay's lines): the
/// lines' default.
const REQUEST_RECV_BUFFER: usize = 8 << 20;

/// Line number the session sees for retransmission answers.
pub const RETRANSMIT_LINE: u8 = 3;
/// Largest datagram read (the largest UDP payload).
const MAX_DATAGRAM: usize = 65_536;
/// Datagrams read from one line before the next line gets its turn.
const BURST: usize = 64;
/// Unrecoverable gaps listed one by one in [`LiveReport::lost_ranges`] (and one report line
/// each); the gaps after these are only counted ([`LiveReport::lost_ranges_not_listed`],
/// [`LiveReport::lost_messages_not_listed`]), so a long run with recovery off does not grow its
/// report without bound.
pub const LOST_RANGES_LISTED: usize = 1000;
/// Silences listed one by one in [`LiveReport::silences`]; later ones are only counted
/// ([`LiveReport::silences_not_listed`]): a feed that keeps stopping and starting for days does
/// not grow the report without bound.
pub const SILENCES_LISTED: usize = 1000;
/// Rejoins listed in [`LiveReport::rejoined_at`] (the session's own rejoins and the relay's
/// restarts are counted in full: [`SessionStats::rejoins`], [`LiveReport::relay_restarts`]).
pub const REJOINS_LISTED: usize = 16;
/// In datagram mode, how far (in messages) a relay's live packet may come behind the furthest
/// one seen and still be a datagram the network reordered rather than a restart of the relay's
/// live path (at most the session's `max_gap_messages`; a relay's restart steps back further
/// than its own `max_gap_messages`, 10 000 000 by default). In stream mode, where nothing is
/// reordered, any step back is a restart.
const DATAGRAM_REORDER_ALLOWANCE: u64 = 1 << 16;
/// How long a receiver whose relay line closed cleanly (after the end of session) keeps asking
/// the relay for what it is missing before it declares the rest lost: the relay's default
/// [`crate::relay::RelayConfig::linger`], for which it keeps the connection open.
const CATCH_UP_AFTER_CLOSE_NS: u64 = 5_000_000_000;

/// Where one line's packets come from.
#[derive(Debug, Clone)]
pub enum LineSource {
    /// A UDP socket (unicast or multicast).
    Udp(UdpLineConfig),
    /// A QUIC relay (`quic://host:port`); its catch-up stream answers gap requests.
    Relay(RelayClientConfig),
}

/// How to run a live feed.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Line A, and line B if any (at most 2; line numbers 0 and 1 in that order).
    pub lines: Vec<LineSource>,
    /// Session arbitration and recovery.
    pub session: SessionConfig,
    /// MoldUDP64 re-request servers (UDP). With none, gaps are asked of the relay if a line is
    /// one, else recovery is off.
    pub retransmit: Vec<SocketAddr>,
    /// Spin on the sockets (lowest latency, one core busy) instead of sleeping in `poll(2)`.
    pub busy_poll: bool,
    /// No packet of this session accepted on any line for this long is reported as a silence
    /// (a stopped feed). Other datagrams (another session's packets, malformed ones, packets
    /// with an implausible sequence number) are counted but do not break a silence.
    pub silence_ns: u64,
    /// Stop the run after this long without a packet of this session accepted (`None`: wait
    /// for end of session or a stop request). The silence that stops the run is reported
    /// ([`LiveReport::silences`]) even if shorter than `silence_ns`.
    pub stop_after_silence_ns: Option<u64>,
    /// Record every datagram received (and the session's decisions) to a capture.
    pub record: Option<Recording>,
}

/// Where and how a live feed is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The capture file.
    pub path: PathBuf,
    /// When the writer flushes (what a `kill -9` can lose).
    pub flush: FlushPolicy,
    /// Bytes of the ring between the feed thread and the recorder thread; a record that does
    /// not fit is dropped and counted, never waited for.
    pub ring_bytes: usize,
    /// Who records, for the capture's header (program and version).
    pub creator: String,
    /// When the recording was started, ns since the Unix epoch, for the capture's header (0:
    /// unknown; this crate does not read the wall clock, the binary does).
    pub created_ns: u64,
}

impl Recording {
    /// Recording to `path`: a flush every 1 MiB block, a 64 MiB ring, no creator or creation
    /// time.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            flush: FlushPolicy::EveryBlock,
            ring_bytes: 64 << 20,
            creator: String::new(),
            created_ns: 0,
        }
    }
}

/// Counters shared with the control plane while the feed runs.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Datagrams received, every line.
    pub datagrams: AtomicU64,
    /// Messages delivered in order.
    pub messages: AtomicU64,
    /// Messages declared lost.
    pub lost: AtomicU64,
    /// Messages recovered by re-request.
    pub recovered: AtomicU64,
}

/// What a live run saw, beyond the session's own counters.
#[derive(Debug, Clone, Default)]
pub struct LiveReport {
    /// The session's counters at the end.
    pub session: SessionStats,
    /// Datagrams per line (A, B, retransmission answers).
    pub datagrams: [u64; 4],
    /// Datagrams with a kernel receive timestamp.
    pub kernel_stamped: u64,
    /// Re-requests sent (UDP or relay).
    pub requests_sent: u64,
    /// Re-requests that could not be sent (socket error), each reported.
    pub request_errors: u64,
    /// Datagrams on the re-request socket from an address that is not one of the configured
    /// servers (`LiveConfig::retransmit`, address and port): ignored, each reported as an
    /// error, so that nobody but the servers asked can fill a gap.
    pub foreign_answers: u64,
    /// Unrecoverable gaps: (first sequence, count), in order; the first
    /// [`LOST_RANGES_LISTED`] of them (the session's `lost_gaps` counts them all).
    pub lost_ranges: Vec<(u64, u64)>,
    /// Unrecoverable gaps after the first [`LOST_RANGES_LISTED`]: counted, not listed.
    pub lost_ranges_not_listed: u64,
    /// Messages lost in the gaps not listed ([`LiveReport::lost_ranges_not_listed`]).
    pub lost_messages_not_listed: u64,
    /// Silences of at least `silence_ns`, and the one that stopped the run
    /// (`stop_after_silence_ns`) however short: (messages delivered before it, ns the feed was
    /// quiet); the first [`SILENCES_LISTED`] of them.
    pub silences: Vec<(u64, u64)>,
    /// Silences after the first [`SILENCES_LISTED`]: counted, not listed.
    pub silences_not_listed: u64,
    /// Where the session joined again, below what it had delivered (the downstream was told,
    /// [`Downstream::rejoined`]: books stale); the first [`REJOINS_LISTED`].
    pub rejoined_at: Vec<u64>,
    /// Times a relay line's live path restarted at a lower sequence number (the relay's own
    /// upstream joined the session again: see [`crate::relay`]); the session then joined again
    /// there ([`MoldUdp64Session::rejoin_at`], counted in [`SessionStats::rejoins`] as well).
    pub relay_restarts: u64,
    /// Records written to the capture.
    pub recorded: u64,
    /// Records dropped because the recorder's ring was full (the capture lacks them).
    pub record_dropped: u64,
    /// Records received but not written because recording had stopped on an error.
    pub record_unwritten: u64,
    /// Why recording stopped early, if it did.
    pub record_error: Option<String>,
    /// Why a relay line closed, if it did.
    pub relay_closed: Option<String>,
    /// Receive buffer the kernel granted per UDP line.
    pub recv_buffers: Vec<usize>,
    /// The session's reorder slot size, bytes ([`SessionConfig::max_packet`]): named when
    /// packets larger than it could not be held.
    pub reorder_slot_bytes: usize,
    /// Datagrams the kernel dropped before this receiver could read them (a receive buffer
    /// full), per socket as [`LiveReport::datagrams`] counts them (A, B, unused, the
    /// re-request socket), read at the end of the run ([`crate::udp::socket_drops`]); `None`
    /// for a relay line, an absent socket, or an OS that does not say. What they carried is in
    /// the session's counters like any loss (a gap filled by the other line or a re-request,
    /// or lost); this says where it went.
    pub kernel_drops: [Option<u64>; 4],
    /// Errors (socket reads, malformed packets, requests that could not be sent).
    pub errors: u64,
    /// The first errors.
    pub first_errors: Vec<String>,
}

impl LiveReport {
    /// The report's lines for a run's report (what [`LiveSource`] adds to its
    /// [`SourceReport::notes`]): the counters, each lost range listed (and one line for those
    /// not listed), each silence, the recording's outcome, why a relay line closed.
    pub fn notes(&self) -> Vec<String> {
        let s = &self.session;
        let mut notes = vec![format!(
            "MoldUDP64 live: {} datagrams (A {}, B {}, retransmissions {}), {} messages; duplicates {}; gaps {} ({} messages): {} filled by a line before any request (a late copy or the other line), {} recovered by {} requests ({} retries), {} arrived after their gap was given up, {} lost in {} gaps; out of order {}, window overflow {}, foreign session {}, malformed {}, implausible sequence number {}, rejoins {}, datagrams from strangers on the re-request socket {}; end of session: {}",
            s.packets, self.datagrams[0], self.datagrams[1], self.datagrams[3], s.messages,
            s.duplicate_messages, s.gaps, s.gap_messages, s.filled_by_lines, s.recovered,
            s.requests, s.retries, s.filled_after_giving_up, s.lost_messages, s.lost_gaps,
            s.out_of_order_packets,
            s.window_overflow, s.foreign_session, s.malformed, s.implausible_sequence,
            s.rejoins, self.foreign_answers, s.end_of_session
        )];
        for (first, count) in &self.lost_ranges {
            notes.push(format!(
                "lost for good: messages {first}..{}",
                first.saturating_add(*count)
            ));
        }
        if self.lost_ranges_not_listed > 0 {
            notes.push(format!(
                "lost for good: {} more ranges ({} messages) not listed",
                self.lost_ranges_not_listed, self.lost_messages_not_listed
            ));
        }
        for (delivered, quiet) in &self.silences {
            notes.push(format!(
                "feed silent for {:.3} s after {delivered} messages",
                *quiet as f64 / 1e9
            ));
        }
        if self.silences_not_listed > 0 {
            notes.push(format!(
                "feed silent {} more times, not listed",
                self.silences_not_listed
            ));
        }
        if self.relay_restarts > 0 {
            notes.push(format!(
                "the relay restarted its live path {} times (its upstream joined the session \
                 again); this receiver joined again each time",
                self.relay_restarts
            ));
        }
        for next in &self.rejoined_at {
            notes.push(format!(
                "joined the session again at message {next}: what was delivered before came \
                 from a packet with a corrupt sequence number; books stale"
            ));
        }
        if let Some(e) = &self.record_error {
            notes.push(format!(
                "recording stopped early: {e}; {} records received after that are not in the \
                 capture",
                self.record_unwritten
            ));
        }
        if self.recorded > 0 || self.record_dropped > 0 {
            notes.push(format!(
                "recorded {} records; {} dropped because the recorder's ring was full",
                self.recorded, self.record_dropped
            ));
        }
        if let Some(why) = &self.relay_closed {
            notes.push(format!("relay closed: {why}"));
        }
        if let Some(note) = self.kernel_drops_note() {
            notes.push(note);
        }
        if s.oversize_packets > 0 {
            notes.push(format!(
                "{} packets ahead of their turn were larger than the reorder slots ({} bytes) and \
                 could not be held: their messages were left to the other line or a re-request; \
                 raise --max-packet (source.live.max_packet) to the feed's packet size",
                s.oversize_packets, self.reorder_slot_bytes
            ));
        }
        notes
    }

    /// Datagrams the kernel dropped, all sockets ([`LiveReport::kernel_drops`]).
    pub fn kernel_drops_total(&self) -> u64 {
        self.kernel_drops.iter().flatten().sum()
    }

    /// The report's line on kernel drops, if there were any.
    fn kernel_drops_note(&self) -> Option<String> {
        if self.kernel_drops_total() == 0 {
            return None;
        }
        let names = ["line A", "line B", "?", "re-request socket"];
        let parts: Vec<String> = names
            .iter()
            .zip(&self.kernel_drops)
            .filter_map(|(name, d)| d.filter(|&n| n > 0).map(|n| format!("{name} {n}")))
            .collect();
        Some(format!(
            "the kernel dropped {} datagrams before they could be read ({}): a receive buffer \
             was full (granted {:?} bytes; net.core.rmem_max caps it); their messages are in \
             the gap counters above",
            self.kernel_drops_total(),
            parts.join(", "),
            self.recv_buffers
        ))
    }
}

/// The live feed source (see the module docs).
#[derive(Debug)]
pub struct LiveSource {
    config: LiveConfig,
    counters: Arc<LiveCounters>,
    /// The feed's end of a recorder whose thread an engine worker owns
    /// ([`LiveSource::recorder_worker`]).
    recorder: Option<Recorder>,
}

impl LiveSource {
    /// A source for `config` (lines are opened when the feed thread starts).
    pub fn new(config: LiveConfig) -> Self {
        Self {
            config,
            counters: Arc::default(),
            recorder: None,
        }
    }

    /// When the config records: the recorder's writing end, to be run as one of the engine's
    /// workers ([`ticklane_runtime::EnginePlan::workers`]: its actor owns the thread, status
    /// shows its counters, the run's report its outcome). The capture is created when the feed
    /// thread has opened its lines, as without a worker. Without this call the feed thread
    /// starts a recorder thread of its own.
    pub fn recorder_worker(&mut self) -> Option<RecorderThread> {
        let (feed_end, thread) = recorder_ends(&self.config)?;
        self.recorder = Some(feed_end);
        Some(thread)
    }

    /// Counters readable while the feed runs.
    pub fn counters(&self) -> Arc<LiveCounters> {
        self.counters.clone()
    }
}

/// A monotonic ns clock for the session's timers (the I/O edge: machine time by design).
#[derive(Debug, Clone, Copy)]
struct Mono(std::time::Instant);

impl Mono {
    #[allow(clippy::disallowed_methods)] // Session timers run on machine time at the I/O edge.
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    #[allow(clippy::disallowed_methods)] // Session timers run on machine time at the I/O edge.
    fn now(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

enum OpenLine {
    Udp(UdpLine),
    Relay(Box<RelayLine>),
}

/// What a [`receive`] loop hands its in-order output to: the engine's publisher
/// ([`LiveSource`]) or a relay ([`crate::relay::RelayInput`] via `ticklane relay`).
pub trait Downstream {
    /// A datagram arrived (before the session sees it); `kernel_ns` is its kernel receive time.
    fn arrived(&mut self, kernel_ns: Option<u64>);
    /// The datagram that [`Downstream::arrived`] announced was a well-formed packet of this
    /// session (data, even if nothing in it was new, a heartbeat or the end of session), so
    /// the session is alive; not called for another session's packets or malformed ones.
    fn of_session(&mut self) {}
    /// Message `seq`, in order, exactly once.
    fn message(&mut self, seq: u64, bytes: &[u8]);
    /// Messages `first .. first + count` are lost for good (in stream order).
    fn gap_lost(&mut self, first: u64, count: u64);
    /// The session was joined again at `next`, below what was delivered (the packet it had
    /// joined on had a corrupt sequence number: [`SessionSink::rejoined`]). What was delivered
    /// may come again under its real numbers, and what lay between is unknown. Ignored by
    /// default.
    fn rejoined(&mut self, next: u64) {
        let _ = next;
    }
    /// The session ended.
    fn end_of_session(&mut self, next: u64);
    /// End of a burst of datagrams: publish what is staged. `false` stops the loop.
    fn flush(&mut self) -> bool;
    /// Whether the owner asked the loop to stop.
    fn stop_requested(&self) -> bool;
}

/// The session's sink: records notes, queues requests, counts, and forwards to the downstream.
struct Receiving<'a, D: Downstream> {
    down: &'a mut D,
    live: &'a mut LiveReport,
    counters: &'a LiveCounters,
    recorder: Option<Recorder>,
    /// Requests to send after the session call returns.
    requests: Vec<(usize, MoldRequest)>,
    /// Messages delivered (published to [`LiveCounters::messages`] once per burst).
    delivered: u64,
    ended: bool,
}

impl<D: Downstream> Receiving<'_, D> {
    /// Records `bytes` with receive time `ts` (the wall clock now when `None`, read only when
    /// recording).
    fn record(&mut self, ts: Option<u64>, line: Line, bytes: &[u8]) {
        if let Some(r) = self.recorder.as_mut() {
            // Never blocks: a full ring drops the record and counts it.
            r.record(ts.unwrap_or_else(wall_ns), line, bytes);
        }
    }

    fn error(&mut self, what: String) {
        self.live.errors += 1;
        if self.live.first_errors.len() < 20 {
            self.live.first_errors.push(what);
        }
    }

    /// The numbering restarted at `next`, below what was delivered: listed, and the downstream
    /// told.
    fn joined_again(&mut self, next: u64) {
        if self.live.rejoined_at.len() < REJOINS_LISTED {
            self.live.rejoined_at.push(next);
        }
        self.down.rejoined(next);
    }
}

impl<D: Downstream> SessionSink for Receiving<'_, D> {
    fn message(&mut self, seq: u64, _line: u8, bytes: &[u8]) {
        self.delivered += 1;
        self.down.message(seq, bytes);
    }

    fn request(&mut self, server: usize, request: MoldRequest) {
        self.requests.push((server, request));
    }

    fn gap_lost(&mut self, first: u64, count: u64) {
        tracing::warn!(
            first,
            count,
            "unrecoverable gap: messages {first}..{} lost; books are stale",
            first.saturating_add(count)
        );
        if self.live.lost_ranges.len() < LOST_RANGES_LISTED {
            self.live.lost_ranges.push((first, count));
        } else {
            self.live.lost_ranges_not_listed = self.live.lost_ranges_not_listed.saturating_add(1);
            self.live.lost_messages_not_listed =
                self.live.lost_messages_not_listed.saturating_add(count);
        }
        self.counters.lost.fetch_add(count, Ordering::Relaxed);
        let mut note = [0u8; 20];
        note[..4].copy_from_slice(b"LOST");
        note[4..12].copy_from_slice(&first.to_be_bytes());
        note[12..20].copy_from_slice(&count.to_be_bytes());
        self.record(None, Line::Note, &note);
        self.down.gap_lost(first, count);
    }

    fn rejoined(&mut self, next: u64) {
        tracing::warn!(
            next,
            "joined the session again at message {next} (the packet joined on had a corrupt \
             header, here or at the relay): what was delivered before is unreliable"
        );
        // Counted in the session's stats (`rejoins`). A rejoin of the session's own needs no
        // note in the recording: it follows from the datagrams alone, and a replay of the
        // capture rejoins at the same place (and makes the books stale there); a relay's
        // restart has its `REJN` note (`restart_session`).
        self.joined_again(next);
    }

    fn end_of_session(&mut self, next: u64) {
        tracing::info!(next, "end of session");
        self.ended = true;
        self.down.end_of_session(next);
    }
}

/// Publishes a live feed's messages to the lanes.
struct Publishing<'p> {
    publisher: &'p mut Publisher,
    report: &'p mut SourceReport,
    ev: MarketEvent,
    /// Event time of the last event (a gap event is stamped with it).
    last_ts: u64,
    /// Arrival stamp of the datagram being processed.
    t_received: u64,
    stopped: bool,
}

impl Downstream for Publishing<'_> {
    fn arrived(&mut self, kernel_ns: Option<u64>) {
        self.t_received = match kernel_ns {
            Some(k) => self.publisher.stamp_aged(UdpLine::age_ns(k)),
            None => self.publisher.stamp(),
        };
    }

    fn message(&mut self, seq: u64, bytes: &[u8]) {
        self.report.messages += 1;
        if self.stopped {
            return;
        }
        match decode_normalize_into(bytes, &mut self.ev) {
            Ok(true) => {
                self.last_ts = self.ev.ts.0;
                let t_decoded = self.publisher.stamp();
                if self
                    .publisher
                    .publish(&self.ev, self.t_received, t_decoded)
                    .is_err()
                {
                    self.stopped = true;
                }
            }
            Ok(false) => {}
            Err(e) => {
                self.report.errors += 1;
                if self.report.first_errors.len() < 20 {
                    self.report.first_errors.push(format!("message {seq}: {e}"));
                }
            }
        }
    }

    fn gap_lost(&mut self, first: u64, count: u64) {
        self.feed_gap(first, count);
    }

    /// The books took the corrupt packet's messages before the numbering restarted: they go
    /// stale, as after a loss of unknown size (`FeedGap` with count 0).
    fn rejoined(&mut self, next: u64) {
        self.feed_gap(next, 0);
    }

    fn end_of_session(&mut self, _next: u64) {}

    fn flush(&mut self) -> bool {
        if self.publisher.flush().is_err() {
            self.stopped = true;
        }
        !self.stopped
    }

    fn stop_requested(&self) -> bool {
        self.stopped || self.publisher.stop_requested()
    }
}

impl Publishing<'_> {
    /// A market-wide [`EventBody::FeedGap`] at this place in the stream.
    fn feed_gap(&mut self, first: u64, count: u64) {
        if self.stopped {
            return;
        }
        let ev = MarketEvent::new(
            Timestamp(self.last_ts),
            InstrumentId::NONE,
            EventBody::FeedGap {
                first_sequence: first,
                count,
            },
        );
        let t = self.publisher.stamp();
        if self.publisher.publish(&ev, t, t).is_err() {
            self.stopped = true;
        }
    }
}

impl FeedSource for LiveSource {
    fn run(&mut self, publisher: &mut Publisher) -> SourceReport {
        let mut report = SourceReport::default();
        let mut live = LiveReport::default();
        let mut down = Publishing {
            publisher,
            report: &mut report,
            ev: MarketEvent::new(
                Timestamp(0),
                InstrumentId::NONE,
                EventBody::BrokenTrade {
                    match_id: ticklane_core::MatchId(0),
                },
            ),
            last_ts: 0,
            t_received: 0,
            stopped: false,
        };
        let recorder = self.recorder.take();
        let received = match recorder {
            Some(r) => {
                receive_recording(&self.config, Some(r), &mut down, &self.counters, &mut live)
            }
            None => receive(&self.config, &mut down, &self.counters, &mut live),
        };
        if let Err(e) = received {
            tracing::error!("live feed: {e}");
            report.errors += 1;
            report.first_errors.push(e.clone());
            report.fatal = Some(e);
        }
        report.errors += live.errors;
        for e in &live.first_errors {
            if report.first_errors.len() < 20 {
                report.first_errors.push(e.clone());
            }
        }
        report.notes.extend(live.notes());
        report.lost_gaps = live.session.lost_gaps;
        report.lost_messages = live.session.lost_messages;
        report
    }
}

/// The two ends of the recorder `config.record` asks for (nothing created or started yet), its
/// capture's header saying MoldUDP64, the session the receiver is pinned to (empty if none),
/// and the recording's origin.
fn recorder_ends(config: &LiveConfig) -> Option<(Recorder, RecorderThread)> {
    let rec = config.record.as_ref()?;
    let session = config
        .session
        .session
        .map(|s| String::from_utf8_lossy(&s).trim_end().to_string())
        .unwrap_or_default();
    let header = ticklane_replay::format::CaptureHeader {
        creator: rec.creator.clone(),
        created_ns: rec.created_ns,
        ..ticklane_replay::format::CaptureHeader::new(
            ticklane_replay::format::FeedKind::MoldUdp64,
            session,
        )
    };
    let options = WriterOptions {
        flush: rec.flush,
        ..WriterOptions::default()
    };
    Some(Recorder::create(
        &rec.path,
        &header,
        options,
        rec.ring_bytes,
    ))
}

/// Receives a live feed until end of session, a stop, or a long silence: polls the lines,
/// records, runs the session, sends its re-requests, and hands the in-order output to `down`.
/// What it saw lands in `live`. When `config.record` is set, the recorder's thread is started
/// here and joined at the end (see [`receive_recording`] for one owned elsewhere); the capture
/// is created once the lines are open.
pub fn receive<D: Downstream>(
    config: &LiveConfig,
    down: &mut D,
    counters: &LiveCounters,
    live: &mut LiveReport,
) -> Result<(), String> {
    let recorder = match recorder_ends(config) {
        None => None,
        Some((feed_end, body)) => Some(feed_end.with_own_thread(body)?),
    };
    receive_recording(config, recorder, down, counters, live)
}

/// [`receive`], recording to `recorder` (whatever `config.record` says), whose capture is
/// created ([`Recorder::open`]) once the lines are open. If its thread is owned elsewhere (an
/// engine worker), the recording's outcome is that owner's to report: `live`'s recording
/// counters stay at zero.
pub fn receive_recording<D: Downstream>(
    config: &LiveConfig,
    mut recorder: Option<Recorder>,
    down: &mut D,
    counters: &LiveCounters,
    live: &mut LiveReport,
) -> Result<(), String> {
    if config.lines.is_empty() || config.lines.len() > 2 {
        return Err(format!(
            "a live feed has one or two lines, got {}",
            config.lines.len()
        ));
    }
    let mut lines = Vec::with_capacity(config.lines.len());
    for (i, l) in config.lines.iter().enumerate() {
        match l {
            LineSource::Udp(c) => {
                let line = UdpLine::open(c).map_err(|e| format!("{}: {e}", line_name(i as u8)))?;
                tracing::info!(
                    line = i,
                    addr = %line.local_addr(),
                    recv_buffer = line.recv_buffer(),
                    kernel_timestamps = line.kernel_timestamps(),
                    "UDP line open"
                );
                live.recv_buffers.push(line.recv_buffer());
                lines.push(OpenLine::Udp(line));
            }
            LineSource::Relay(c) => {
                let line = RelayLine::spawn(c.clone())
                    .map_err(|e| format!("{}: {e}", line_name(i as u8)))?;
                lines.push(OpenLine::Relay(Box::new(line)));
            }
        }
    }
    let relay_index = lines.iter().position(|l| matches!(l, OpenLine::Relay(_)));
    let request_socket = match config.retransmit.first() {
        None => None,
        Some(first) => {
            let bind = if first.is_ipv4() {
                SocketAddr::from(([0, 0, 0, 0], 0))
            } else {
                SocketAddr::from(([0u16; 8], 0))
            };
            // The answers to a gap's re-requests come in a burst (16 pieces of up to 1,000
            // messages by default): the socket gets the lines' receive buffer, not the
            // kernel's default (about 200 KiB), which such a burst overflows.
            let e = |e: std::io::Error| format!("re-request socket: {e}");
            let domain = if first.is_ipv4() {
                socket2::Domain::IPV4
            } else {
                socket2::Domain::IPV6
            };
            let s =
                socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))
                    .map_err(e)?;
            let buffer = live.recv_buffers.iter().copied().max().unwrap_or(0);
            s.set_recv_buffer_size(if buffer > 0 {
                buffer
            } else {
                REQUEST_RECV_BUFFER
            })
            .map_err(e)?;
            s.bind(&bind.into()).map_err(e)?;
            s.set_nonblocking(true).map_err(e)?;
            Some(UdpSocket::from(s))
        }
    };
    let mut session_cfg = config.session.clone();
    session_cfg.servers = if !config.retransmit.is_empty() {
        config.retransmit.len()
    } else {
        usize::from(relay_index.is_some())
    };
    if session_cfg.servers == 0 {
        session_cfg.recovery = false;
    }
    // Joining through a relay: its welcome says where the live path starts, so a first packet
    // lost on the way is a gap from there, not a later join point that hides the loss. A
    // welcome of 0 (a relay that joined mid-session and has relayed nothing yet) says nothing:
    // the session joins on its first packet.
    if session_cfg.first_sequence.is_none() {
        session_cfg.first_sequence = lines.iter().find_map(|l| match l {
            OpenLine::Relay(r) => Some(r.welcome().next_seq).filter(|&n| n != 0),
            OpenLine::Udp(_) => None,
        });
    }
    let first_sequence = session_cfg.first_sequence;
    // Each relay line's live path, watched for restarts (see `LivePath`).
    let mut relay_paths: Vec<Option<LivePath>> = config
        .lines
        .iter()
        .zip(&lines)
        .map(|(l, open)| match (l, open) {
            (LineSource::Relay(c), OpenLine::Relay(r)) => Some(LivePath::new(
                c.mode,
                session_cfg.max_gap_messages,
                r.welcome().next_seq,
            )),
            _ => None,
        })
        .collect();
    live.reorder_slot_bytes = session_cfg.max_packet;
    let mut session = MoldUdp64Session::new(session_cfg);
    // The sockets `poll(2)` waits on in blocking mode (duplicated descriptors, so the wait
    // needs no borrow of the lines and no allocation).
    let mut wake: Vec<UdpSocket> = Vec::with_capacity(3);
    for l in &lines {
        if let OpenLine::Udp(u) = l {
            wake.push(u.socket().try_clone().map_err(|e| format!("dup: {e}"))?);
        }
    }
    if let Some(s) = &request_socket {
        wake.push(s.try_clone().map_err(|e| format!("dup: {e}"))?);
    }
    // Last of the steps that can fail: a receiver that cannot start leaves any file at the
    // recording's path as it was.
    if let Some(r) = recorder.as_mut() {
        r.open()?;
    }

    let mut r = Receiving {
        down,
        live,
        counters,
        recorder,
        requests: Vec::with_capacity(64),
        delivered: 0,
        ended: false,
    };
    // Reorder slots other than the default (`--max-packet`) go first, so that the replay's
    // session, made at the FROM note, holds the packets this one held.
    if config.session.max_packet != SessionConfig::default().max_packet {
        let mut slot = [0u8; 8];
        slot[..4].copy_from_slice(b"SLOT");
        let bytes = u32::try_from(config.session.max_packet).unwrap_or(u32::MAX);
        slot[4..].copy_from_slice(&bytes.to_be_bytes());
        r.record(None, Line::Note, &slot);
    }
    // The first sequence expected (0: joined mid-session), for a replay to start where we did,
    // and the session id when the receiver is pinned to one (the replay then ignores the
    // packets of other sessions as this run does).
    let mut note = [0u8; 22];
    note[..4].copy_from_slice(b"FROM");
    note[4..12].copy_from_slice(&first_sequence.unwrap_or(0).to_be_bytes());
    let note_len = match config.session.session {
        Some(s) => {
            note[12..].copy_from_slice(&s);
            22
        }
        None => 12,
    };
    r.record(None, Line::Note, &note[..note_len]);

    let mono = Mono::start();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut last_rx = mono.now();
    let mut silent = false;
    // Whether the current silence is one of those listed (its length is kept up to date).
    let mut silence_listed = false;
    let mut idle_rounds = 0u32;
    // When a relay's live path closed cleanly: the run ends once nothing is missing (the end
    // of session then delivered) or after `CATCH_UP_AFTER_CLOSE_NS`.
    let mut live_closed_at: Option<u64> = None;
    loop {
        let mut got = 0usize;
        // Packets of the session followed that it accepted: the only activity (another
        // session's packets, malformed datagrams and implausible sequence numbers are not).
        let mut ours = 0usize;
        for (i, line) in lines.iter_mut().enumerate() {
            let line_no = i as u8;
            for _ in 0..BURST {
                match line {
                    OpenLine::Udp(u) => match u.try_recv(&mut buf) {
                        Ok(Some(dg)) => {
                            got += 1;
                            let now = mono.now();
                            let bytes = &buf[..dg.len];
                            ours += usize::from(on_datagram(
                                &mut r,
                                &mut session,
                                line_no,
                                bytes,
                                dg.kernel_ns,
                                now,
                            ));
                        }
                        Ok(None) => break,
                        Err(e) => {
                            r.error(format!("{}: {e}", line_name(i as u8)));
                            break;
                        }
                    },
                    OpenLine::Relay(rl) => match rl.try_recv() {
                        Some(RelayItem::Live(p)) => {
                            got += 1;
                            let now = mono.now();
                            let restart = relay_paths
                                .get_mut(i)
                                .and_then(Option::as_mut)
                                .and_then(|path| path.restart_at(&p));
                            if let Some(at) = restart {
                                restart_session(&mut r, &mut session, i, at);
                            }
                            ours += usize::from(on_datagram(
                                &mut r,
                                &mut session,
                                line_no,
                                &p,
                                None,
                                now,
                            ));
                        }
                        Some(RelayItem::CatchUp(p)) => {
                            got += 1;
                            let now = mono.now();
                            ours += usize::from(on_datagram(
                                &mut r,
                                &mut session,
                                RETRANSMIT_LINE,
                                &p,
                                None,
                                now,
                            ));
                        }
                        Some(RelayItem::Closed(None)) => {
                            // The live path ended after the end of session. Catch-up is still
                            // served while the connection lasts: what is missing is asked for
                            // before the run ends (below), not declared lost at once.
                            tracing::info!("relay line {i}: live path closed after end of session");
                            r.live.relay_closed = Some("closed by the relay".to_string());
                            live_closed_at.get_or_insert(mono.now());
                            break;
                        }
                        Some(RelayItem::Closed(Some(why))) => {
                            // An error (a slow-subscriber disconnect, a timeout, a lost
                            // connection): no catch-up either; the run ends and says so.
                            tracing::warn!("relay line {i}: {why}");
                            r.error(format!("relay line {i}: {why}"));
                            r.live.relay_closed = Some(why);
                            r.ended = true;
                            break;
                        }
                        None => break,
                    },
                }
            }
        }
        if let Some(s) = &request_socket {
            let (g, o) = read_answers(
                &mut r,
                &mut session,
                s,
                &config.retransmit,
                &mono,
                &mut buf,
                BURST,
            );
            got += g;
            ours += o;
        }
        let now = mono.now();
        // A gap's timer can release a `FeedGap` and the messages held behind it while nothing
        // arrives: publish them now, not with the next datagram (the lanes must learn at once
        // that their books are stale).
        let released = session.next_deadline().is_some_and(|t| t <= now);
        if released {
            session.poll(now, &mut r);
        }
        send_requests(
            &mut r,
            &lines,
            relay_index,
            request_socket.as_ref(),
            &config.retransmit,
        );
        if let Some(t) = live_closed_at {
            if session.outstanding_gaps() == 0 || now.saturating_sub(t) >= CATCH_UP_AFTER_CLOSE_NS {
                r.ended = true;
            }
        }
        if ours > 0 {
            last_rx = now;
            silent = false;
        }
        if got > 0 {
            idle_rounds = 0;
        }
        if got > 0 || released {
            r.counters.messages.store(r.delivered, Ordering::Relaxed);
            if !r.down.flush() {
                break;
            }
        }
        if r.ended || r.down.stop_requested() {
            break;
        }
        if ours > 0 {
            continue;
        }
        // Nothing, or nothing this session accepted: how long this session has been quiet.
        let quiet = now.saturating_sub(last_rx);
        let stopping = config
            .stop_after_silence_ns
            .is_some_and(|limit| quiet >= limit);
        // The silence that stops the run is reported, even one shorter than `silence_ns`.
        if quiet >= config.silence_ns || stopping {
            if !silent {
                silent = true;
                tracing::warn!(
                    "feed silent: no packet of this session on any line for {:.3} s",
                    quiet as f64 / 1e9
                );
                silence_listed = r.live.silences.len() < SILENCES_LISTED;
                if silence_listed {
                    r.live.silences.push((r.delivered, quiet));
                } else {
                    r.live.silences_not_listed = r.live.silences_not_listed.saturating_add(1);
                }
            }
            if silence_listed {
                if let Some(s) = r.live.silences.last_mut() {
                    s.1 = quiet;
                }
            }
        }
        if stopping {
            tracing::warn!("stopping: the feed has been silent too long");
            break;
        }
        idle_rounds = idle_rounds.saturating_add(1);
        if config.busy_poll || idle_rounds < 64 {
            std::hint::spin_loop();
        } else if relay_index.is_some() {
            std::thread::sleep(std::time::Duration::from_micros(50));
        } else {
            let wait_ms = session
                .next_deadline()
                .map_or(1, |t| (t.saturating_sub(now) / 1_000_000).min(1))
                as u16;
            let _ = wait_readable(&wake, wait_ms);
        }
    }
    if r.ended && live_closed_at.is_none() {
        // The end of session came on one line: what the other line (and the re-request socket)
        // had queued by then is read and counted (late copies, duplicates), so that every
        // datagram the kernel delivered is in the report. Nothing is waited for.
        drain(
            &mut r,
            &mut session,
            &mut lines,
            request_socket.as_ref(),
            &config.retransmit,
            &mono,
            &mut buf,
        );
    }
    for (i, l) in lines.iter().enumerate() {
        if let OpenLine::Udp(u) = l {
            r.live.kernel_drops[i] = u.kernel_drops();
        }
    }
    if let Some(s) = &request_socket {
        r.live.kernel_drops[usize::from(RETRANSMIT_LINE.min(3))] = socket_drops(s);
    }
    if r.live.kernel_drops_total() > 0 {
        tracing::warn!(
            drops = ?r.live.kernel_drops,
            "the kernel dropped datagrams before they were read (receive buffer full)"
        );
    }
    // End of input or stop: whatever is still missing is reported (in order), never dropped
    // silently; a replay of the capture ends with the same call.
    session.finish(&mut r);
    r.down.flush();
    r.counters.messages.store(r.delivered, Ordering::Relaxed);
    let recorder = r.recorder.take();
    live.session = session.stats().clone();
    if let Some(summary) = recorder.and_then(Recorder::finish) {
        live.recorded = summary.written;
        live.record_dropped = summary.dropped;
        live.record_unwritten = summary.unwritten;
        live.record_error = summary.error;
    }
    counters
        .recovered
        .store(live.session.recovered, Ordering::Relaxed);
    Ok(())
}

/// Reads what the UDP lines and the re-request socket hold now, without waiting, after the
/// end of session (at most [`DRAIN_MAX`] datagrams a socket): each is counted and handed to the
/// session like any other (a copy of a delivered message is a duplicate).
fn drain<D: Downstream>(
    r: &mut Receiving<'_, D>,
    session: &mut MoldUdp64Session,
    lines: &mut [OpenLine],
    request_socket: Option<&UdpSocket>,
    servers: &[SocketAddr],
    mono: &Mono,
    buf: &mut [u8],
) {
    for (i, line) in lines.iter_mut().enumerate() {
        let OpenLine::Udp(u) = line else { continue };
        for _ in 0..DRAIN_MAX {
            match u.try_recv(buf) {
                Ok(Some(dg)) => {
                    let now = mono.now();
                    on_datagram(r, session, i as u8, &buf[..dg.len], dg.kernel_ns, now);
                }
                Ok(None) => break,
                Err(e) => {
                    r.error(format!("{}: {e}", line_name(i as u8)));
                    break;
                }
            }
        }
    }
    if let Some(s) = request_socket {
        read_answers(r, session, s, servers, mono, buf, DRAIN_MAX);
    }
}

/// Reads up to `max` datagrams the re-request socket holds, without waiting: answers of the
/// configured `servers` go to the session; anything else is counted (`foreign_answers`) and
/// reported, never used (anyone can send to this socket). Returns (datagrams read, packets of
/// the session it accepted).
fn read_answers<D: Downstream>(
    r: &mut Receiving<'_, D>,
    session: &mut MoldUdp64Session,
    socket: &UdpSocket,
    servers: &[SocketAddr],
    mono: &Mono,
    buf: &mut [u8],
    max: usize,
) -> (usize, usize) {
    let (mut got, mut ours) = (0, 0);
    for _ in 0..max {
        match socket.recv_from(buf) {
            Ok((_, from)) if !servers.contains(&from) => {
                got += 1;
                if r.live.foreign_answers == 0 {
                    tracing::warn!(
                        %from,
                        "a datagram on the re-request socket from an address that is not a \
                         configured re-request server: ignored (counted as foreign_answers)"
                    );
                }
                r.live.foreign_answers += 1;
                r.error(format!(
                    "re-request socket: datagram from {from}, not a configured server: ignored"
                ));
            }
            Ok((n, _)) => {
                got += 1;
                let now = mono.now();
                ours += usize::from(on_datagram(
                    r,
                    session,
                    RETRANSMIT_LINE,
                    &buf[..n],
                    None,
                    now,
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => {
                r.error(format!("re-request socket: {e}"));
                break;
            }
        }
    }
    (got, ours)
}

/// The most datagrams [`drain`] reads from one socket (a receive buffer of 8 MiB holds about
/// this many small datagrams).
const DRAIN_MAX: usize = 65_536;

/// How reports name a line: `line A`, `line B`, or the answers to re-requests
/// ([`RETRANSMIT_LINE`]: the re-request socket's, or a relay's catch-up), which the session
/// numbers as a line of their own.
fn line_name(line: u8) -> &'static str {
    match line {
        0 => "line A",
        1 => "line B",
        RETRANSMIT_LINE => "re-request answers",
        _ => "line ?",
    }
}

/// One datagram of `line`: counted, recorded, handed to the session. Returns whether it is
/// activity of this session (a packet of it that the session accepted): only those break a
/// silence.
fn on_datagram<D: Downstream>(
    r: &mut Receiving<'_, D>,
    session: &mut MoldUdp64Session,
    line: u8,
    bytes: &[u8],
    kernel_ns: Option<u64>,
    now: u64,
) -> bool {
    r.counters.datagrams.fetch_add(1, Ordering::Relaxed);
    r.live.datagrams[usize::from(line.min(3))] += 1;
    if kernel_ns.is_some() {
        r.live.kernel_stamped += 1;
    }
    r.down.arrived(kernel_ns);
    let rec_line = match line {
        0 => Line::A,
        1 => Line::B,
        _ => Line::Retransmit,
    };
    r.record(kernel_ns, rec_line, bytes);
    let foreign = session.stats().foreign_session;
    let oversize = session.stats().oversize_packets;
    let accepted = match session.on_packet(line, bytes, now, r) {
        Ok(()) => true,
        Err(e) => {
            r.error(format!("{}: {e}", line_name(line)));
            false
        }
    };
    if line == RETRANSMIT_LINE {
        r.counters
            .recovered
            .store(session.stats().recovered, Ordering::Relaxed);
    }
    let ours = session.stats().foreign_session == foreign;
    // Activity: a packet of this session the session accepted (not another session's, not a
    // malformed one, not one with an implausible sequence number).
    let activity = ours && accepted;
    if activity {
        r.down.of_session();
    }
    if oversize == 0 && session.stats().oversize_packets > 0 {
        tracing::warn!(
            line,
            bytes = bytes.len(),
            "a packet ahead of its turn is larger than the reorder slots: left to recovery \
             (counted as oversize_packets); raise --max-packet (source.live.max_packet)"
        );
    }
    if !ours && foreign == 0 {
        // The first packet of another session. If the feed moved to a new session (the end of
        // the old one lost), only these arrive from now on: they do not count as activity, so
        // the silence of this session is reported (and `stop_after_silence` ends the run).
        tracing::warn!(
            line,
            "packets of another MoldUDP64 session arrive and are ignored (counted as \
             foreign_session); choose the session with --session"
        );
    }
    activity
}

/// A relay line's live path as received, watched for a restart: the relay steps back only
/// when its upstream joined the session again (see [`crate::relay`], "Restart").
#[derive(Debug, Clone, Copy)]
struct LivePath {
    /// The furthest next sequence number seen on it (the welcome's, data packets, heartbeats).
    next: Option<u64>,
    /// Where its numbering starts: the welcome's, else the first live packet's, or where it
    /// last restarted. A restart steps back below it (everything the relay relayed before it
    /// came after the corrupt packet it had joined on); a datagram reordered behind a jump
    /// of the stream (the relay's upstream lost a range) does not.
    first: Option<u64>,
    /// How far a packet may come behind `next` and still be a reordered datagram (0 in stream
    /// mode).
    allowance: u64,
}

impl LivePath {
    /// A path that starts at the welcome's `welcome` (`0`: not known yet).
    fn new(mode: LiveMode, max_gap_messages: u64, welcome: u64) -> Self {
        let allowance = match mode {
            LiveMode::Stream => 0,
            LiveMode::Datagrams => DATAGRAM_REORDER_ALLOWANCE.min(max_gap_messages),
        };
        // A restart before the first live packet steps back from the welcome.
        let known = (welcome != 0).then_some(welcome);
        Self {
            next: known,
            first: known,
            allowance,
        }
    }

    /// Where the live path restarted, if `packet` (a live packet of the relay) shows that it
    /// did: a heartbeat below the next sequence number seen, or a data packet with nothing
    /// above it, more than the allowance behind and below where the numbering started.
    fn restart_at(&mut self, packet: &[u8]) -> Option<u64> {
        let header = packet.get(..HEADER_LEN)?;
        let seq = u64::from_be_bytes(header[10..18].try_into().ok()?);
        let count = u16::from_be_bytes([header[18], header[19]]);
        if count == END_OF_SESSION_COUNT {
            return None;
        }
        let end = seq.saturating_add(u64::from(count));
        let back = self.next.is_some_and(|n| {
            let nothing_new = if count == 0 { seq < n } else { end <= n };
            nothing_new
                && seq.saturating_add(self.allowance) < n
                && self.first.is_some_and(|f| seq < f)
        });
        self.next = Some(match self.next {
            Some(n) if !back => n.max(end),
            _ => end,
        });
        if back || self.first.is_none() {
            self.first = Some(seq);
        }
        back.then_some(seq)
    }
}

/// The relay on `line` restarted its live path at `at` (its own upstream joined the session
/// again, below what it had relayed): this receiver's session joins again there too
/// ([`MoldUdp64Session::rejoin_at`]): what it was still missing was numbered from the corrupt
/// packet and is dropped, requests queued for it are not sent, and the downstream is told if
/// anything had been delivered (or declared lost) since the last join. A recording gets a
/// `REJN` note (u64 BE `at`) before the packet that showed the restart, for its replay to join
/// again at the same place.
fn restart_session<D: Downstream>(
    r: &mut Receiving<'_, D>,
    session: &mut MoldUdp64Session,
    line: usize,
    at: u64,
) {
    tracing::warn!(
        line,
        at,
        "relay line {line}: the relay restarted its live path at message {at} (its upstream \
         joined the session again): joining again there"
    );
    r.live.relay_restarts = r.live.relay_restarts.saturating_add(1);
    // Requests for the old numbering: the relay holds none of it any more.
    r.requests.clear();
    let mut note = [0u8; 12];
    note[..4].copy_from_slice(b"REJN");
    note[4..].copy_from_slice(&at.to_be_bytes());
    r.record(None, Line::Note, &note);
    session.rejoin_at(at, r);
}

fn send_requests<D: Downstream>(
    r: &mut Receiving<'_, D>,
    lines: &[OpenLine],
    relay_index: Option<usize>,
    socket: Option<&UdpSocket>,
    servers: &[SocketAddr],
) {
    for i in 0..r.requests.len() {
        let (server, req) = r.requests[i];
        let sent = match (socket, servers.get(server), relay_index.map(|i| &lines[i])) {
            (Some(s), Some(addr), _) => s
                .send_to(&req.encode(), addr)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            (_, _, Some(OpenLine::Relay(line))) => {
                line.request(req);
                Ok(())
            }
            _ => Err("no re-request server".to_string()),
        };
        match sent {
            Ok(()) => r.live.requests_sent += 1,
            Err(e) => {
                r.live.request_errors += 1;
                r.error(format!("re-request {req:?}: {e}"));
            }
        }
    }
    r.requests.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticklane_feeds::moldudp64::MoldPacketBuilder;

    const SESSION: [u8; 10] = *b"TESTSESS01";
    const BOGUS: u64 = 1 << 40;

    fn data(first: u64, n: u64) -> Vec<u8> {
        let mut b = MoldPacketBuilder::new(SESSION, first);
        for seq in first..first + n {
            b.push(&seq.to_be_bytes(), |_| unreachable!("one packet"))
                .unwrap_or_default();
        }
        b.flush().map(<[u8]>::to_vec).unwrap_or_default()
    }

    fn heartbeat(next: u64) -> Vec<u8> {
        MoldPacketBuilder::new(SESSION, next).heartbeat().to_vec()
    }

    /// `restart_at` of each packet in turn.
    fn restarts(path: &mut LivePath, packets: &[Vec<u8>]) -> Vec<Option<u64>> {
        packets.iter().map(|p| path.restart_at(p)).collect()
    }

    #[test]
    fn a_relay_restart_is_seen_in_both_modes_heartbeat_or_not() {
        for mode in [LiveMode::Stream, LiveMode::Datagrams] {
            // The relay joined on a corrupt packet (far ahead), then restarted at 1002.
            let mut path = LivePath::new(mode, 10_000_000, 0);
            let got = restarts(&mut path, &[data(BOGUS, 1), heartbeat(1002), data(1002, 3)]);
            assert_eq!(got, [None, Some(1002), None], "{mode:?}");
            // The restart heartbeat lost: the first packet after it shows the restart.
            let mut path = LivePath::new(mode, 10_000_000, BOGUS + 1);
            let got = restarts(&mut path, &[data(1012, 3), data(1015, 3)]);
            assert_eq!(got, [Some(1012), None], "{mode:?}");
        }
    }

    /// A datagram reordered behind a jump of the stream (the relay's upstream lost 100,000
    /// messages) is more than the allowance behind: it was taken for a restart, its session
    /// joined again, and what it had received after the jump was dropped.
    #[test]
    fn a_datagram_reordered_behind_an_upstream_loss_is_not_a_restart() {
        let mut path = LivePath::new(LiveMode::Datagrams, 10_000_000, 0);
        let got = restarts(&mut path, &[data(1, 4), data(100_010, 10), data(5, 5)]);
        assert_eq!(got, [None, None, None]);
    }

    /// A datagram of the relay's old (corrupt) numbering arriving after its restart moved the
    /// path far ahead again, and the next packet looked like a second restart.
    #[test]
    fn an_old_datagram_after_a_restart_is_not_a_second_restart() {
        let mut path = LivePath::new(LiveMode::Datagrams, 10_000_000, 0);
        let got = restarts(
            &mut path,
            &[
                data(BOGUS, 1),
                heartbeat(1002),
                data(1002, 3),
                data(BOGUS + 1, 1),
                data(1005, 3),
            ],
        );
        assert_eq!(got, [None, Some(1002), None, None, None]);
    }
}
