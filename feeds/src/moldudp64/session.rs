//! The MoldUDP64 receive session (sans-I/O): gap detection, A/B line arbitration,
//! retransmission requests, and in-order, exactly-once delivery.
//!
//! A MoldUDP64 session is one sequence space. Its packets may reach us on several *lines* (line
//! 0 = A, 1 = B, and any other number, e.g. 2 for the answers of a re-request server), all feeding
//! one [`MoldUdp64Session`]: the first copy of a message wins, every later copy is a duplicate.
//! The session owns everything between "a UDP payload arrived" and "message `seq` is next":
//!
//! - **Ordering.** Messages are handed to the [`SessionSink`] strictly in sequence order, exactly
//!   once. Packets that arrive ahead of the next expected message are copied into a fixed pool of
//!   preallocated slots (the reorder window) and delivered when the hole before them closes.
//! - **Gaps.** The messages missing in front of what has been seen are tracked as disjoint ranges.
//!   A new gap first waits [`SessionConfig::line_grace_ns`] for another line to fill it (A/B
//!   arbitration); then it is re-requested ([`SessionSink::request`]) in pieces, at most
//!   [`SessionConfig::max_requests_per_gap`] requests at a time (the next piece once the last
//!   has arrived, so a large loss does not flood the server), retried round-robin over the
//!   configured servers (an answer that brings part of a piece, as a MoldUDP64 server's one
//!   packet does, is no failed try: the rest is asked for once the answer has been quiet for
//!   the line grace), and finally declared lost
//!   ([`SessionSink::gap_lost`]) — always *in stream order*, so a consumer can mark its state
//!   stale exactly where the hole is.
//! - **Accounting.** [`SessionStats`] counts every packet, copy, gap and outcome such that
//!   `gap_messages == filled_by_lines + recovered + lost_messages + missing_messages()` holds at
//!   every point.
//!
//! It does no I/O and reads no clock: the caller passes each packet with its line and arrival
//! time (`now_ns`, any monotonic nanosecond clock), calls [`MoldUdp64Session::poll`] when
//! [`MoldUdp64Session::next_deadline`] is due, and sends the requests the sink is given. All
//! memory (the reorder slots and the gap and segment indexes) is allocated by
//! [`MoldUdp64Session::new`]; the steady path allocates nothing. No input panics.
//!
//! Sizing: a full window drops new out-of-order packets (their messages must then come from
//! another line or a re-request), so `reorder_window` should hold comfortably more packets than
//! arrive during the line skew plus `line_grace_ns` plus a request round trip.
//!
//! Internally, `[expected, highest)` — the sequence numbers between the next one to deliver and
//! the end of the furthest data seen — is always covered, without overlap, by *gaps* (missing
//! ranges, each with a timer state) and *segments* (ranges whose first copy sits in a buffered
//! packet slot; one packet may back several segments when it straddles earlier arrivals).

use std::collections::VecDeque;
use std::fmt;

use super::{MoldError, MoldPacket, MoldRequest, PacketKind, Session, MAX_DATA_COUNT};

/// How a [`MoldUdp64Session`] behaves; see each field. [`Default`] gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Expected session id; `None` = lock on the first packet's session. Packets of any other
    /// session are counted ([`SessionStats::foreign_session`]) and ignored.
    pub session: Option<Session>,
    /// First sequence number expected; `None` = join mid-session: the first data, heartbeat or
    /// end-of-session packet seen sets it (no gap for what came before).
    ///
    /// What the first packet sets (the session id without `session`, the sequence number
    /// without `first_sequence`) is on probation until a later packet agrees with it (same
    /// session, sequence number within [`Self::max_gap_messages`] of the data seen). Packets
    /// that disagree with it are set aside (counted as the duplicates or foreign packets they
    /// look like, never delivered) and, when enough of them in a row agree with each other,
    /// show that the first packet's header was corrupt, so one flipped bit in it does not black
    /// out the rest of the session as "duplicates" or "foreign" ([`SessionStats::rejoins`]):
    /// - two of the same session, more than that far behind (its sequence number was
    ///   corrupted upwards): the session is joined again at the lowest of them
    ///   ([`SessionSink::rejoined`]); the messages of the corrupt packet were delivered under
    ///   its numbers by then;
    /// - four of another session, near the join (its session id was corrupt): that session
    ///   replaces it and the numbering goes on (what the first three carried is a gap like
    ///   any other);
    /// - four of another session, far from the join (the whole header was corrupt): that
    ///   session replaces it and the session is joined again at the lowest of them, as in the
    ///   first case.
    ///
    /// Another session sharing the port looks the same as a corrupt session id: a packet of
    /// the joined session near the join, arriving between its packets, confirms the join (set
    /// [`Self::session`] where another session may share the port and come first).
    ///
    /// A first header corrupted to a lower number needs no rejoin: the stream then jumps
    /// ahead, which is confirmed and reported lost like any jump.
    pub first_sequence: Option<u64>,
    /// Out-of-order packets buffered at most (preallocated slots). Default 1024.
    pub reorder_window: usize,
    /// Bytes per buffered packet slot; a larger out-of-order packet cannot be buffered: it is
    /// counted as [`SessionStats::window_overflow`] and [`SessionStats::oversize_packets`]
    /// and left to recovery. Default 2048 (a standard Ethernet frame holds less); a feed of
    /// jumbo frames needs more.
    pub max_packet: usize,
    /// How long a newly detected gap waits for another line to fill it before a re-request is
    /// sent (A/B arbitration). Default 2 ms.
    pub line_grace_ns: u64,
    /// Whether re-requests are sent at all (`false`: gaps are declared lost once the grace
    /// expires). Default `true`.
    pub recovery: bool,
    /// Number of re-request servers; first requests go round-robin (one server per gap), a retry
    /// goes to the next server. `0` makes recovery impossible (like `recovery == false`).
    /// Default 1.
    pub servers: usize,
    /// Time to wait for an answer before retrying. Default 50 ms.
    pub request_timeout_ns: u64,
    /// Retries after the first request before the gap is declared lost. Default 3.
    pub max_retries: u32,
    /// Most messages asked for in one request. Clamped to `1..=0xFFFE`. Default 1000.
    pub max_request_messages: u16,
    /// Most requests one gap has outstanding at once (clamped to at least 1). A gap larger
    /// than this many requests' worth is asked for a piece at a time, from its start: the next
    /// piece as soon as the previous one has arrived (at the next [`MoldUdp64Session::poll`]),
    /// so a large loss never floods the re-request server with thousands of datagrams at once.
    /// A retry asks again for the outstanding piece only; when the retries run out that piece
    /// is lost and the rest of the gap is asked for (the server may hold what follows a range
    /// it cannot serve). Default 16 (16,000 messages at the default request size).
    pub max_requests_per_gap: u16,
    /// Largest jump ahead a packet's sequence number may make on its own. A packet (data,
    /// heartbeat or end of session) whose sequence number is further past the end of the data
    /// seen is taken for a corrupt header: it is ignored and counted
    /// ([`SessionStats::implausible_sequence`], error [`MoldError::ImplausibleSequence`]), so that
    /// one flipped bit does not turn the rest of the session into "duplicates". A second packet
    /// within this distance of the ignored one confirms the jump: the gap is then declared lost at
    /// once (too large to re-request; the ignored packet's messages are in it). Default
    /// 10 000 000.
    pub max_gap_messages: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            session: None,
            first_sequence: None,
            reorder_window: 1024,
            max_packet: 2048,
            line_grace_ns: 2_000_000,
            recovery: true,
            servers: 1,
            request_timeout_ns: 50_000_000,
            max_retries: 3,
            max_request_messages: 1000,
            max_requests_per_gap: 16,
            max_gap_messages: 10_000_000,
        }
    }
}

/// What the session tells its owner; implemented by the caller (the feed handler).
pub trait SessionSink {
    /// Message `seq`, in order, exactly once. `line` is the line whose packet carried it.
    fn message(&mut self, seq: u64, line: u8, bytes: &[u8]);
    /// Send this request to re-request server `server` (index `< config.servers`).
    fn request(&mut self, server: usize, request: MoldRequest);
    /// Messages `[first, first + count)` are lost for good; emitted in stream order (after
    /// message `first - 1`, before message `first + count`).
    fn gap_lost(&mut self, first: u64, count: u64);
    /// End of session reached: every message before `next` has been delivered or reported lost.
    fn end_of_session(&mut self, next: u64);
    /// The session was joined again at `next` (the messages delivered before came from a
    /// packet with a corrupt sequence number; see [`SessionConfig::first_sequence`]): the
    /// numbering restarts there (below what was delivered, unless another session replaced
    /// the join: then wherever that session is), and the next output is message `next` or a
    /// loss from it. What was delivered before may be delivered again, and what
    /// lay between is unknown: a book fed from the session should be taken as stale. Only
    /// while joining mid-session, never after a later packet agreed with the join, and only
    /// once a message or a loss has reached the sink since the join: a join moved before any output is not reported. Ignored by default.
    fn rejoined(&mut self, next: u64) {
        let _ = next;
    }
}

/// Counters of a [`MoldUdp64Session`].
///
/// Identity: `gap_messages == filled_by_lines + recovered + lost_messages +`
/// [`MoldUdp64Session::missing_messages`] ([`Self::accounted`]).
///
/// `gap_messages` and `lost_messages` saturate at `u64::MAX`: a session's sequence numbers
/// span 2^64, so only a stream that jumps that far more than once (corrupt sequence numbers
/// confirmed, then a rejoin) gets there; the identity is then no longer checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Every `on_packet` call (malformed and foreign ones included).
    pub packets: u64,
    /// `on_packet` calls by line index `min(line, 3)`.
    pub packets_per_line: [u64; 4],
    /// Messages delivered, by the line (index `min(line, 3)`) that carried the winning copy.
    pub first_copies_per_line: [u64; 4],
    /// Bytes of every `on_packet` call.
    pub bytes: u64,
    /// Messages delivered.
    pub messages: u64,
    /// Heartbeat packets of this session.
    pub heartbeats: u64,
    /// Data packets that carried nothing new, and repeated end-of-session packets.
    pub duplicate_packets: u64,
    /// Message copies dropped because the message was seen already (buffered, delivered, or
    /// inside a range reported lost).
    pub duplicate_messages: u64,
    /// Packets buffered because they were ahead of the next expected message.
    pub out_of_order_packets: u64,
    /// Out-of-order packets with new messages that could not be buffered (window full or packet
    /// larger than `max_packet`); their new messages stay missing and are recovered as a gap.
    pub window_overflow: u64,
    /// Of [`SessionStats::window_overflow`], the packets that could not be buffered because
    /// they were larger than [`SessionConfig::max_packet`] (the slots are too small for the
    /// feed: raise it).
    pub oversize_packets: u64,
    /// Gaps detected (a new range of missing messages).
    pub gaps: u64,
    /// Messages in detected gaps.
    pub gap_messages: u64,
    /// Missing messages received (on any line) before any request for them.
    pub filled_by_lines: u64,
    /// Request packets sent as first tries.
    pub requests: u64,
    /// Request packets sent as retries.
    pub retries: u64,
    /// Missing messages received after being requested.
    pub recovered: u64,
    /// Missing messages received after their gap was given up (its retries ran out, or its
    /// grace without recovery) but before delivery reached it and reported the loss: they are
    /// delivered, not lost (a gap behind an earlier one that holds delivery up is given up on
    /// its own clock; its copies were dropped as duplicates and the message reported lost
    /// although it had arrived in time).
    pub filled_after_giving_up: u64,
    /// `gap_lost` calls.
    pub lost_gaps: u64,
    /// Messages reported lost.
    pub lost_messages: u64,
    /// Well-formed packets of another session (ignored).
    pub foreign_session: u64,
    /// Packets that failed [`MoldPacket::parse`].
    pub malformed: u64,
    /// Packets ignored because their sequence number jumped more than
    /// [`SessionConfig::max_gap_messages`] ahead with nothing near it to confirm the jump (see
    /// there); their messages are not delivered, and they are not counted elsewhere.
    pub implausible_sequence: u64,
    /// Times what the first packet set (session id, sequence number or both) was replaced
    /// because the packets after it disagreed with it (see [`SessionConfig::first_sequence`]),
    /// and times the session was told to join again ([`MoldUdp64Session::rejoin_at`]); only
    /// the restarts of the numbering, after something was output, reach
    /// [`SessionSink::rejoined`].
    pub rejoins: u64,
    /// `end_of_session` has been emitted.
    pub end_of_session: bool,
}

impl SessionStats {
    /// Whether the accounting identity holds with `missing` messages outstanding
    /// ([`MoldUdp64Session::missing_messages`]): every message of every gap was filled by a
    /// line, recovered, filled after giving up, lost, or is still missing. Always true once
    /// `gap_messages` saturated.
    pub fn accounted(&self, missing: u64) -> bool {
        let sum = u128::from(self.filled_by_lines)
            + u128::from(self.recovered)
            + u128::from(self.filled_after_giving_up)
            + u128::from(self.lost_messages)
            + u128::from(missing);
        self.gap_messages == u64::MAX || u128::from(self.gap_messages) == sum
    }
}

/// Where a gap is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GapState {
    /// Waiting for another line until `deadline`.
    Grace { deadline: u64 },
    /// `[start, asked_end)` requested from `server`; `retries` retries sent so far; next action
    /// at `deadline` (0 once that piece has arrived and the rest of the gap is due).
    Requested {
        deadline: u64,
        retries: u32,
        server: usize,
        asked_end: u64,
        /// Part of the piece arrived since it was last asked for: the next try asks for the
        /// rest even with no retries configured (an answer is no failed try).
        progress: bool,
    },
    /// Given up; reported lost when delivery reaches it. A copy that arrives before then
    /// still fills it ([`SessionStats::filled_after_giving_up`]).
    Lost,
}

impl GapState {
    fn deadline(self) -> Option<u64> {
        match self {
            GapState::Grace { deadline } | GapState::Requested { deadline, .. } => Some(deadline),
            GapState::Lost => None,
        }
    }
}

/// Missing messages `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Gap {
    start: u64,
    end: u64,
    state: GapState,
}

impl Gap {
    /// The messages before `start` are no longer missing (they arrived, or were given up).
    /// When that completes the piece asked for, the rest of the gap is due to be asked for at
    /// once (see [`SessionConfig::max_requests_per_gap`]).
    ///
    /// Progress inside the piece asked for (a re-request server answers with one packet, as
    /// MoldUDP64's do: a request for more than a packet holds is answered in part) is not a
    /// failed try: the retries start again, and the next try asks for the rest only, as soon
    /// as the answer has been quiet until `quiet_until` (the arrival plus
    /// [`SessionConfig::line_grace_ns`]: more packets of a many-packet answer arrive back to
    /// back) rather than at the request's timeout. `None`: nothing arrived (a give-up).
    fn starts_at(&mut self, start: u64, quiet_until: Option<u64>) {
        let progress = start > self.start;
        self.start = start;
        if let GapState::Requested {
            asked_end,
            ref mut deadline,
            ref mut retries,
            progress: ref mut answered,
            ..
        } = self.state
        {
            if start >= asked_end {
                *deadline = 0;
            } else if let Some(t) = quiet_until.filter(|_| progress) {
                // Something arrived (a give-up, `None`, is no answer: the tries stay).
                *retries = 0;
                *answered = true;
                *deadline = t;
            }
        }
    }
}

/// Messages `[start, end)` whose first copy is in buffered packet `slot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    start: u64,
    end: u64,
    slot: usize,
}

/// A buffered packet: `len` bytes at slot `index * max_packet` of the arena.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// Sequence number of the packet's first message.
    seq: u64,
    len: usize,
    line: u8,
    /// Segments that still point here.
    refs: u32,
}

/// The packet being processed, clipped to `[start, end)`.
#[derive(Clone, Copy)]
struct Cur<'a> {
    pkt: MoldPacket<'a>,
    line: u8,
    start: u64,
    end: u64,
}

#[inline]
fn line_index(line: u8) -> usize {
    usize::from(line.min(3))
}

/// Delivers `count` messages of `pkt` (whose first message is `pkt_seq`) from `from` on.
#[inline]
fn deliver(
    pkt: &MoldPacket<'_>,
    pkt_seq: u64,
    line: u8,
    from: u64,
    count: u64,
    stats: &mut SessionStats,
    sink: &mut impl SessionSink,
) {
    let skip = usize::try_from(from.saturating_sub(pkt_seq)).unwrap_or(usize::MAX);
    let take = usize::try_from(count).unwrap_or(usize::MAX);
    let mut seq = from;
    for m in pkt.messages().skip(skip).take(take) {
        let Ok(bytes) = m else { break };
        sink.message(seq, line, bytes);
        seq += 1;
    }
    let n = seq - from;
    stats.messages += n;
    stats.first_copies_per_line[line_index(line)] += n;
}

/// Credits `k` missing messages that just arrived to the right outcome counter.
#[inline]
fn credit(stats: &mut SessionStats, state: GapState, k: u64) {
    match state {
        GapState::Grace { .. } => stats.filled_by_lines += k,
        GapState::Requested { .. } => stats.recovered += k,
        GapState::Lost => stats.filled_after_giving_up += k,
    }
}

/// Sends requests for `[start, end)` in pieces of at most `max`; returns how many.
fn send_requests(
    sink: &mut impl SessionSink,
    server: usize,
    session: Session,
    start: u64,
    end: u64,
    max: u16,
) -> u64 {
    let mut n = 0;
    let mut seq = start;
    while seq < end {
        let count = u16::try_from((end - seq).min(u64::from(max))).unwrap_or(max);
        sink.request(
            server,
            MoldRequest {
                session,
                sequence: seq,
                count,
            },
        );
        seq += u64::from(count);
        n += 1;
    }
    n
}

/// The MoldUDP64 receive session: see the [module documentation](self).
pub struct MoldUdp64Session {
    config: SessionConfig,
    /// Locked session id.
    session: Option<Session>,
    /// Next sequence number to deliver.
    expected: Option<u64>,
    /// End (exclusive) of the furthest sequence number known to exist; `>= expected`.
    highest: u64,
    /// Sequence number announced by end of session (`max` with what had been seen).
    eos_at: Option<u64>,
    ended: bool,
    /// Missing ranges in `[expected, highest)`, sorted, disjoint.
    gaps: VecDeque<Gap>,
    /// Buffered ranges in `[expected, highest)`, sorted, disjoint, disjoint from `gaps`.
    segs: VecDeque<Segment>,
    /// `reorder_window * max_packet` bytes of packet slots.
    arena: Vec<u8>,
    slots: Vec<Slot>,
    /// Free slot indexes.
    free: Vec<usize>,
    /// Server of the next first request.
    next_server: usize,
    /// Earliest gap deadline (cached).
    deadline: Option<u64>,
    /// The latest time given ([`Self::on_packet`], [`Self::poll`]): when an answer arrived.
    clock: u64,
    /// Where the last packet ignored for an implausible jump would have moved the stream (its
    /// next sequence number): a later packet near it confirms the jump, unless the stream has
    /// moved on where it was in between.
    suspect: Option<u64>,
    /// The session id was locked on the first packet and no later packet has agreed yet.
    probation_session: bool,
    /// The sequence number was joined on the first packet and no later packet has agreed yet.
    probation_sequence: bool,
    /// Where the session was joined (or last joined again): while `expected` is still there,
    /// nothing has reached the sink, and a rejoin has nothing to take back.
    joined_at: u64,
    /// The packets in a row that disagreed with a locked or joined state on probation, and
    /// agreed with each other.
    rejoin_suspect: Option<RejoinSuspect>,
    stats: SessionStats,
}

/// How a packet disagrees with a join on probation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JoinDispute {
    /// Same session, sequence numbers far behind the join: its number was corrupted upwards.
    Sequence,
    /// Another session id, sequence numbers near the join: its session id was corrupted.
    SessionId,
    /// Another session id, sequence numbers far from the join: the whole first header was
    /// corrupt, or another session shares the port.
    Header,
}

impl JoinDispute {
    /// Packets in a row it takes to replace the join. Two for a sequence number; another
    /// session takes more, because another session sharing the port (numbered near the join
    /// or not) looks the same, and a packet of the joined session near the join, which
    /// confirms it, is then due between them.
    fn packets_to_rejoin(self) -> u32 {
        match self {
            Self::Sequence => 2,
            Self::SessionId | Self::Header => OTHER_SESSION_REJOIN_PACKETS,
        }
    }
}

/// Packets of another session in a row, near each other, that replace the session id a join
/// locked on (see [`SessionConfig::first_sequence`]).
const OTHER_SESSION_REJOIN_PACKETS: u32 = 4;

/// The run of packets that disagree with a join on probation (see [`JoinDispute`]).
#[derive(Clone, Copy, Debug)]
struct RejoinSuspect {
    session: Session,
    dispute: JoinDispute,
    /// The lowest first sequence number among them (where a rejoin restarts the numbering).
    first: u64,
    /// The last one's first sequence number (the next must be near it).
    last: u64,
    packets: u32,
}

impl fmt::Debug for MoldUdp64Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MoldUdp64Session")
            .field("config", &self.config)
            .field("session", &self.session)
            .field("expected", &self.expected)
            .field("highest", &self.highest)
            .field("eos_at", &self.eos_at)
            .field("ended", &self.ended)
            .field("gaps", &self.gaps)
            .field("segments", &self.segs)
            .field("free_slots", &self.free.len())
            .field("deadline", &self.deadline)
            .field("suspect", &self.suspect)
            .field("probation_session", &self.probation_session)
            .field("probation_sequence", &self.probation_sequence)
            .field("rejoin_suspect", &self.rejoin_suspect)
            .field("stats", &self.stats)
            .finish()
    }
}

impl MoldUdp64Session {
    /// A session with all its memory preallocated: `reorder_window * max_packet` bytes of packet
    /// slots plus small indexes.
    pub fn new(config: SessionConfig) -> Self {
        let window = config.reorder_window;
        let seg_cap = window.saturating_mul(4);
        let gap_cap = seg_cap.saturating_add(16);
        let arena = vec![0u8; window.saturating_mul(config.max_packet)];
        Self {
            session: config.session,
            expected: config.first_sequence,
            highest: config.first_sequence.unwrap_or(0),
            eos_at: None,
            ended: false,
            gaps: VecDeque::with_capacity(gap_cap),
            segs: VecDeque::with_capacity(seg_cap),
            arena,
            slots: vec![Slot::default(); window],
            free: (0..window).rev().collect(),
            next_server: 0,
            deadline: None,
            clock: 0,
            suspect: None,
            probation_session: false,
            probation_sequence: false,
            joined_at: config.first_sequence.unwrap_or(0),
            rejoin_suspect: None,
            stats: SessionStats::default(),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The session id, once configured or locked.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// One received UDP payload from `line` at `now_ns`.
    ///
    /// Malformed packets are counted ([`SessionStats::malformed`]) and the error returned;
    /// nothing is delivered from them and the session state is unchanged. So are packets whose
    /// sequence number jumps implausibly far ahead ([`SessionConfig::max_gap_messages`],
    /// [`SessionStats::implausible_sequence`]), unless a packet near them confirms the jump.
    /// Never panics.
    pub fn on_packet(
        &mut self,
        line: u8,
        bytes: &[u8],
        now_ns: u64,
        sink: &mut impl SessionSink,
    ) -> Result<(), MoldError> {
        self.clock = now_ns;
        self.stats.packets += 1;
        self.stats.packets_per_line[line_index(line)] += 1;
        self.stats.bytes += bytes.len() as u64;
        let pkt = match MoldPacket::parse(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        };
        if (self.probation_session || self.probation_sequence)
            && !self.ended
            && self.check_join(&pkt, sink)
        {
            // Evidence against the join, not data: ignored as what it looks like (an old copy
            // or another session's packet), so an end of session in it ends nothing.
            if Some(*pkt.session()) == self.session {
                self.stats.duplicate_packets += 1;
            } else {
                self.stats.foreign_session += 1;
            }
            return Ok(());
        }
        match self.session {
            None => {
                self.session = Some(*pkt.session());
                self.probation_session = true;
            }
            Some(s) if s != *pkt.session() => {
                self.stats.foreign_session += 1;
                return Ok(());
            }
            Some(_) => {}
        }
        if self.expected.is_none() {
            self.expected = Some(pkt.sequence());
            self.highest = pkt.sequence();
            self.joined_at = pkt.sequence();
            self.probation_sequence = true;
        }
        if !self.ended && self.eos_at.is_none() {
            self.check_jump(&pkt)?;
        }
        match pkt.kind() {
            PacketKind::Heartbeat => {
                self.stats.heartbeats += 1;
                if !self.ended {
                    let next = self.clip(pkt.sequence());
                    if next > self.highest {
                        self.add_tail_gap(next, now_ns, false);
                        self.drain(None, sink);
                    }
                }
            }
            PacketKind::EndOfSession => {
                if self.ended || self.eos_at.is_some() {
                    self.stats.duplicate_packets += 1;
                } else {
                    if pkt.sequence() > self.highest {
                        self.add_tail_gap(pkt.sequence(), now_ns, false);
                    }
                    self.eos_at = Some(self.highest);
                    self.drain(None, sink);
                }
            }
            PacketKind::Data => self.on_data(pkt, line, bytes, now_ns, sink),
        }
        self.refresh_deadline();
        Ok(())
    }

    /// Confirms, or (once enough packets in a row disagree with it and agree with each other)
    /// replaces, what the first packet set; see [`SessionConfig::first_sequence`]. Returns
    /// `true` when `pkt` disagrees with the join and was set aside as the evidence it is (the
    /// caller ignores it, as the duplicate or foreign packet it looks like).
    fn check_join(&mut self, pkt: &MoldPacket<'_>, sink: &mut impl SessionSink) -> bool {
        let (Some(session), Some(expected)) = (self.session, self.expected) else {
            return false;
        };
        let max = self.config.max_gap_messages;
        let (s, seq) = (*pkt.session(), pkt.sequence());
        let far_behind = seq.saturating_add(max) < expected;
        let far_ahead = seq.saturating_sub(self.highest) > max;
        let near = !far_behind && !far_ahead;
        let dispute = if s == session {
            // The joined sequence number was corrupted upwards: the stream looks old.
            (self.probation_sequence && far_behind).then_some(JoinDispute::Sequence)
        } else if !self.probation_session {
            None
        } else if near {
            // Only the session id was corrupt: the numbering goes on where it was.
            Some(JoinDispute::SessionId)
        } else if self.probation_sequence {
            // The whole header, or another session on the port: more evidence is needed.
            Some(JoinDispute::Header)
        } else {
            None
        };
        let Some(dispute) = dispute else {
            // A packet far ahead neither confirms nor disagrees: `check_jump` deals with it
            // (a jump confirmed by a second packet is reported lost, not taken for a rejoin).
            if s == session && near {
                self.probation_session = false;
                self.probation_sequence = false;
                self.rejoin_suspect = None;
            }
            return false;
        };
        let suspect = match self.rejoin_suspect {
            Some(r) if r.session == s && r.dispute == dispute && r.last.abs_diff(seq) <= max => {
                RejoinSuspect {
                    first: r.first.min(seq),
                    last: seq,
                    packets: r.packets + 1,
                    ..r
                }
            }
            _ => RejoinSuspect {
                session: s,
                dispute,
                first: seq,
                last: seq,
                packets: 1,
            },
        };
        if suspect.packets < dispute.packets_to_rejoin() {
            self.rejoin_suspect = Some(suspect);
            return true;
        }
        self.session = Some(s);
        if dispute != JoinDispute::SessionId {
            // Only the first packet, and packets that disagreed with it, have been seen:
            // nothing between `expected` and `highest` is real.
            self.restart_numbering(suspect.first, sink);
        }
        self.probation_session = false;
        self.probation_sequence = false;
        self.rejoin_suspect = None;
        self.stats.rejoins += 1;
        false
    }

    /// Restarts the numbering at `at`: what is missing or buffered was numbered wrong and is
    /// dropped (its messages leave `gap_messages`, so the accounting identity holds), and the
    /// sink is told ([`SessionSink::rejoined`]) when anything reached it since the last join.
    fn restart_numbering(&mut self, at: u64, sink: &mut impl SessionSink) {
        let bogus = self.missing_messages();
        // Saturated stays saturated: the identity is no longer checked then (`accounted`),
        // and a count below the saturation would be checked, and wrong.
        if self.stats.gap_messages != u64::MAX {
            self.stats.gap_messages = self.stats.gap_messages.saturating_sub(bogus);
        }
        self.gaps.clear();
        self.segs.clear();
        for slot in self.slots.iter_mut() {
            slot.refs = 0;
        }
        self.free.clear();
        self.free.extend((0..self.slots.len()).rev());
        let output = self.expected.is_some_and(|e| e != self.joined_at);
        self.expected = Some(at);
        self.highest = at;
        self.joined_at = at;
        self.eos_at = None;
        self.suspect = None;
        if output {
            // Only a stream that reached the sink has something to take back.
            sink.rejoined(at);
        }
    }

    /// Joins the session again at `next`, told from outside that its numbering restarted there:
    /// a QUIC relay restarts its live path when its own upstream joined the session again
    /// ([`SessionSink::rejoined`] upstream), and a live recording carries that as a note for its
    /// replay. What is missing or buffered is dropped (numbered under the old numbering; no
    /// request for it is sent again), what the first packet set is no longer on probation, and
    /// the sink is told ([`SessionSink::rejoined`]) when anything reached it since the last
    /// join; counted in [`SessionStats::rejoins`]. Ignored after the end of session; before the
    /// first packet it joins the session at `next`.
    pub fn rejoin_at(&mut self, next: u64, sink: &mut impl SessionSink) {
        if self.ended {
            return;
        }
        self.restart_numbering(next, sink);
        self.probation_session = false;
        self.probation_sequence = false;
        self.rejoin_suspect = None;
        self.stats.rejoins += 1;
        self.refresh_deadline();
    }

    /// Ignores a packet whose sequence number is implausibly far ahead, unless the last packet
    /// ignored for that reason was near it (see [`SessionConfig::max_gap_messages`]).
    fn check_jump(&mut self, pkt: &MoldPacket<'_>) -> Result<(), MoldError> {
        let max = self.config.max_gap_messages;
        let sequence = pkt.sequence();
        let jump = sequence.saturating_sub(self.highest);
        if jump <= max {
            // The stream moves on where it was: whatever was ignored was corrupt, and must not
            // confirm a later corrupt packet near it (a stuck bit flips the same one again).
            if pkt.next_sequence() > self.highest {
                self.suspect = None;
            }
            return Ok(());
        }
        if self.suspect.is_some_and(|s| s.abs_diff(sequence) <= max) {
            // Two packets agree: a real jump (declared lost at once, too large to re-request).
            self.suspect = None;
            return Ok(());
        }
        self.suspect = Some(pkt.next_sequence());
        self.stats.implausible_sequence += 1;
        Err(MoldError::ImplausibleSequence { sequence, jump })
    }

    /// Timers: grace expiries become requests (or losses), request timeouts become retries (or
    /// losses). Call whenever [`Self::next_deadline`] is due; cheap when nothing is.
    pub fn poll(&mut self, now_ns: u64, sink: &mut impl SessionSink) {
        self.clock = now_ns;
        match self.deadline {
            Some(d) if d <= now_ns => {}
            _ => return,
        }
        let servers = self.config.servers;
        let recovery = self.config.recovery && servers > 0;
        let session = self.session.unwrap_or([b' '; 10]);
        let max_req = self.config.max_request_messages.clamp(1, MAX_DATA_COUNT);
        let piece = u64::from(max_req) * u64::from(self.config.max_requests_per_gap.max(1));
        let timeout = now_ns.saturating_add(self.config.request_timeout_ns);
        let stats = &mut self.stats;
        // Asks `server` for `g` from its start up to `asked_end` (the piece), the `retries`th
        // time (0: a first request).
        let mut ask = |g: &Gap, server: usize, asked_end: u64, retries: u32| {
            let n = send_requests(
                sink,
                server,
                session,
                g.start,
                g.end.min(asked_end),
                max_req,
            );
            if retries == 0 {
                stats.requests += n;
            } else {
                stats.retries += n;
            }
            GapState::Requested {
                deadline: timeout,
                retries,
                server,
                asked_end,
                progress: false,
            }
        };
        // The next piece of `g`.
        let next = |g: &Gap| g.start.saturating_add(piece);
        let mut i = 0;
        while let Some(g) = self.gaps.get(i).copied() {
            let state = match g.state {
                GapState::Grace { deadline } if deadline <= now_ns => {
                    if recovery {
                        let server = self.next_server % servers;
                        self.next_server = (server + 1) % servers;
                        ask(&g, server, next(&g), 0)
                    } else {
                        GapState::Lost
                    }
                }
                // The piece asked for arrived: the next one, from the same server.
                GapState::Requested {
                    deadline,
                    server,
                    asked_end,
                    ..
                } if deadline <= now_ns && g.start >= asked_end => ask(&g, server, next(&g), 0),
                GapState::Requested {
                    deadline,
                    retries,
                    server,
                    asked_end,
                    progress,
                } if deadline <= now_ns => {
                    if recovery && (progress || retries < self.config.max_retries) {
                        ask(&g, (server + 1) % servers, asked_end, retries + 1)
                    } else if g.end > asked_end && self.gaps.len() + 1 < self.gaps.capacity() {
                        // Only this piece went unanswered: it is lost, and the rest of the gap
                        // is asked for next (a server that cannot serve the start of a range,
                        // a relay whose history has a hole there, may hold what follows). One
                        // gap entry stays free (see `buffer`); without it the whole gap goes.
                        let rest = Gap {
                            start: asked_end,
                            end: g.end,
                            state: GapState::Requested {
                                deadline: 0,
                                retries: 0,
                                server,
                                asked_end,
                                progress: false,
                            },
                        };
                        self.gaps.insert(i + 1, rest);
                        if let Some(f) = self.gaps.get_mut(i) {
                            f.end = asked_end;
                        }
                        GapState::Lost
                    } else {
                        GapState::Lost
                    }
                }
                s => s,
            };
            if let Some(g) = self.gaps.get_mut(i) {
                g.state = state;
            }
            i += 1;
        }
        self.drain(None, sink);
        self.refresh_deadline();
    }

    /// Earliest time [`Self::poll`] has something to do, if any.
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// Declares every missing message before `seq` lost now: `gap_lost` in order, then delivers
    /// what was buffered behind them. Messages not seen at all below `seq` count as a new gap,
    /// lost at once. Before any packet (and without `first_sequence`) this joins the session at
    /// `seq`.
    pub fn give_up_before(&mut self, seq: u64, sink: &mut impl SessionSink) {
        let Some(expected) = self.expected else {
            self.expected = Some(seq);
            self.highest = seq;
            self.joined_at = seq;
            return;
        };
        if self.ended {
            return;
        }
        let seq = self.clip(seq);
        if seq <= expected {
            return;
        }
        if seq > self.highest {
            self.add_tail_gap(seq, 0, true);
        }
        let mut i = 0;
        while let Some(g) = self.gaps.get(i).copied() {
            if g.start >= seq {
                break;
            }
            if g.end > seq {
                let mut rest = g;
                rest.starts_at(seq, None);
                self.gaps.insert(i + 1, rest);
            }
            if let Some(g) = self.gaps.get_mut(i) {
                g.end = g.end.min(seq);
                g.state = GapState::Lost;
            }
            i += 1;
        }
        self.drain(None, sink);
        self.refresh_deadline();
    }

    /// End of input: every outstanding gap is declared lost and everything buffered delivered,
    /// in order (and end of session emitted if it had been announced).
    pub fn finish(&mut self, sink: &mut impl SessionSink) {
        for g in self.gaps.iter_mut() {
            g.state = GapState::Lost;
        }
        self.drain(None, sink);
        self.refresh_deadline();
    }

    /// Next sequence number to deliver (`None` before the first packet when joining
    /// mid-session).
    pub fn expected(&self) -> Option<u64> {
        self.expected
    }

    /// One past the highest sequence number seen so far (`None` before the first packet when
    /// joining mid-session): where the stream had got, delivered or not.
    pub fn seen_end(&self) -> Option<u64> {
        self.expected.map(|e| e.max(self.highest))
    }

    /// Whether the end of session has been reached (and emitted).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Whether an end-of-session packet has been seen, whether or not everything before it has
    /// been delivered yet ([`Self::ended`]): the session's data ends there.
    pub fn end_announced(&self) -> bool {
        self.ended || self.eos_at.is_some()
    }

    /// Gaps (ranges of missing messages) currently outstanding, those declared lost but not yet
    /// reached by delivery included.
    pub fn outstanding_gaps(&self) -> usize {
        self.gaps.len()
    }

    /// Messages still missing in the outstanding gaps.
    pub fn missing_messages(&self) -> u64 {
        self.gaps.iter().map(|g| g.end - g.start).sum()
    }

    /// Packets currently held in the reorder window.
    pub fn buffered_packets(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The counters.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// `seq` clipped to the end of session, if announced.
    #[inline]
    fn clip(&self, seq: u64) -> u64 {
        match self.eos_at {
            Some(eos) => seq.min(eos),
            None => seq,
        }
    }

    fn on_data(
        &mut self,
        pkt: MoldPacket<'_>,
        line: u8,
        bytes: &[u8],
        now_ns: u64,
        sink: &mut impl SessionSink,
    ) {
        let n = pkt.len() as u64;
        let start = pkt.sequence();
        let end = self.clip(pkt.next_sequence());
        let mut fresh = 0u64;
        let mut dropped = 0u64;
        if !self.ended && start < end {
            if start > self.highest {
                self.add_tail_gap(start, now_ns, false);
            }
            let cur = Cur {
                pkt,
                line,
                start,
                end,
            };
            fresh = self.drain(Some(cur), sink);
            let from = start.max(self.expected.unwrap_or(start));
            if from < end && !self.ended {
                let (buffered, lost) = self.buffer(cur, from, bytes, now_ns);
                fresh += buffered;
                dropped += lost;
            }
        }
        self.stats.duplicate_messages += n.saturating_sub(fresh + dropped);
        if fresh + dropped == 0 {
            self.stats.duplicate_packets += 1;
        }
    }

    /// Buffers the new messages of `cur` in `[from, cur.end)` (all ahead of `expected`).
    /// Returns `(buffered new messages, new messages dropped by overflow)`.
    fn buffer(&mut self, cur: Cur<'_>, from: u64, bytes: &[u8], now_ns: u64) -> (u64, u64) {
        let end = cur.end;
        let first = self.gaps.partition_point(|g| g.end <= from);
        let mut pieces = 0usize;
        let mut splits = 0usize;
        let mut new = 0u64;
        for g in self.gaps.range(first..) {
            if g.start >= end {
                break;
            }
            let (a, b) = (g.start.max(from), g.end.min(end));
            pieces += 1;
            new += b - a;
            if a > g.start && b < g.end {
                splits += 1;
            }
        }
        let tail = from.max(self.highest);
        if tail < end {
            pieces += 1;
            new += end - tail;
        }
        if new == 0 {
            return (0, 0);
        }
        let fits = bytes.len() <= self.config.max_packet
            && self.segs.len() + pieces <= self.segs.capacity()
            // One gap entry stays free: the range a later packet finds missing after this one
            // cannot merge into the gap before it (see `add_tail_gap`).
            && self.gaps.len() + splits < self.gaps.capacity();
        let slot = match self.free.last().copied() {
            Some(slot) if fits => slot,
            _ => {
                self.stats.window_overflow += 1;
                if bytes.len() > self.config.max_packet {
                    self.stats.oversize_packets += 1;
                    // The messages came (an answer, or a line's copy) but no slot holds a
                    // packet this large: no failed try of a piece it answers. The piece is
                    // asked for again, and its answer is held once it is next in turn.
                    for g in self.gaps.range_mut(first..) {
                        if g.start >= end {
                            break;
                        }
                        if let GapState::Requested {
                            ref mut progress, ..
                        } = g.state
                        {
                            *progress = true;
                        }
                    }
                }
                if tail < end {
                    self.add_tail_gap(end, now_ns, false);
                }
                return (0, new);
            }
        };
        let off = slot * self.config.max_packet;
        let Some(dst) = self.arena.get_mut(off..off + bytes.len()) else {
            self.stats.window_overflow += 1;
            return (0, new);
        };
        dst.copy_from_slice(bytes);
        self.free.pop();
        let mut refs = 0u32;
        let mut i = first;
        while let Some(g) = self.gaps.get(i).copied() {
            if g.start >= end {
                break;
            }
            let (a, b) = (g.start.max(from), g.end.min(end));
            credit(&mut self.stats, g.state, b - a);
            self.insert_segment(Segment {
                start: a,
                end: b,
                slot,
            });
            refs += 1;
            match (a == g.start, b == g.end) {
                (true, true) => {
                    self.gaps.remove(i);
                }
                (true, false) => {
                    let quiet = self.clock.saturating_add(self.config.line_grace_ns);
                    if let Some(g) = self.gaps.get_mut(i) {
                        g.starts_at(b, Some(quiet));
                    }
                    i += 1;
                }
                (false, true) => {
                    if let Some(g) = self.gaps.get_mut(i) {
                        g.end = a;
                    }
                    i += 1;
                }
                (false, false) => {
                    if let Some(g) = self.gaps.get_mut(i) {
                        g.end = a;
                    }
                    // The part after the copy: what arrived is progress of the piece (an
                    // answer to a later request of it, as at the front).
                    let quiet = self.clock.saturating_add(self.config.line_grace_ns);
                    let mut rest = Gap { start: a, ..g };
                    rest.starts_at(b, Some(quiet));
                    self.gaps.insert(i + 1, rest);
                    i += 2;
                }
            }
        }
        if tail < end {
            self.insert_segment(Segment {
                start: tail,
                end,
                slot,
            });
            refs += 1;
            self.highest = end;
        }
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Slot {
                seq: cur.start,
                len: bytes.len(),
                line: cur.line,
                refs,
            };
        }
        self.stats.out_of_order_packets += 1;
        (new, 0)
    }

    fn insert_segment(&mut self, seg: Segment) {
        let at = self.segs.partition_point(|s| s.start < seg.start);
        self.segs.insert(at, seg);
    }

    /// Records `[highest, end)` as missing (detected at `now_ns`, or lost at once when `lost` or
    /// too large) and moves `highest` to `end`.
    ///
    /// With the gap table full (`4 * reorder_window + 16` ranges outstanding) the new range is
    /// merged into the last one when it adjoins it, and shares its state: behind a range not
    /// yet requested it is asked for with it; behind one already requested, with that range's
    /// next retry, or declared lost with it when its retries are used up (unrequested, but
    /// reported in order, like every loss). A range that does not adjoin the last gap follows a
    /// buffered packet, and [`Self::buffer`] buffers a packet only while an entry stays free
    /// for it, so the table never grows past its preallocated size.
    fn add_tail_gap(&mut self, end: u64, now_ns: u64, lost: bool) {
        let start = self.highest;
        if end <= start {
            return;
        }
        let size = end - start;
        // Saturating: past 2^64 messages only when corrupt sequence numbers jumped across a
        // rejoin (see `SessionStats`).
        self.stats.gap_messages = self.stats.gap_messages.saturating_add(size);
        self.highest = end;
        let state = if lost || size > self.config.max_gap_messages {
            GapState::Lost
        } else {
            GapState::Grace {
                deadline: now_ns.saturating_add(self.config.line_grace_ns),
            }
        };
        let full = self.gaps.len() >= self.gaps.capacity();
        if let Some(last) = self.gaps.back_mut() {
            // Same range of missing messages (same timer), or no room for another entry.
            if last.end == start && (last.state == state || full) {
                last.end = end;
                if state == GapState::Lost {
                    last.state = GapState::Lost;
                }
                return;
            }
        }
        self.stats.gaps += 1;
        self.gaps.push_back(Gap { start, end, state });
    }

    /// Delivers everything that connects at `expected`: lost gaps (reported), buffered
    /// segments, and the messages of `cur` (the packet being processed). Emits end of session
    /// when reached. Returns the number of messages delivered from `cur`.
    fn drain(&mut self, cur: Option<Cur<'_>>, sink: &mut impl SessionSink) -> u64 {
        let Some(mut exp) = self.expected else {
            return 0;
        };
        let covers = |exp: u64| cur.filter(|c| c.start <= exp && exp < c.end);
        let mut from_cur = 0u64;
        while !self.ended {
            if let Some(eos) = self.eos_at {
                if exp >= eos {
                    self.ended = true;
                    self.stats.end_of_session = true;
                    sink.end_of_session(eos);
                    break;
                }
            }
            if let Some(g) = self.gaps.front().copied() {
                if g.start == exp {
                    // A range given up is reported lost when delivery reaches it, unless the
                    // packet in hand carries it (it came in time).
                    if g.state == GapState::Lost && covers(exp).is_none() {
                        self.gaps.pop_front();
                        // Adjacent lost ranges (detected apart) are reported as one.
                        let mut end = g.end;
                        while let Some(n) = self.gaps.front().copied() {
                            if n.start != end || n.state != GapState::Lost {
                                break;
                            }
                            self.gaps.pop_front();
                            end = n.end;
                        }
                        // Not past the start of the packet in hand: what it carries came in
                        // time (the rest of the range stays, and the packet fills it next).
                        if let Some(at) = cur.map(|c| c.start).filter(|&at| exp < at && at < end) {
                            self.gaps.push_front(Gap {
                                start: at,
                                end,
                                ..g
                            });
                            end = at;
                        }
                        let g = Gap { end, ..g };
                        let count = g.end - g.start;
                        self.stats.lost_gaps += 1;
                        self.stats.lost_messages = self.stats.lost_messages.saturating_add(count);
                        sink.gap_lost(g.start, count);
                        exp = g.end;
                        continue;
                    }
                    let Some(c) = covers(exp) else { break };
                    let end = g.end.min(c.end);
                    credit(&mut self.stats, g.state, end - exp);
                    if end >= g.end {
                        self.gaps.pop_front();
                    } else {
                        let quiet = self.clock.saturating_add(self.config.line_grace_ns);
                        if let Some(f) = self.gaps.front_mut() {
                            f.starts_at(end, Some(quiet));
                        }
                    }
                    deliver(
                        &c.pkt,
                        c.start,
                        c.line,
                        exp,
                        end - exp,
                        &mut self.stats,
                        sink,
                    );
                    from_cur += end - exp;
                    exp = end;
                    continue;
                }
            }
            if let Some(sg) = self.segs.front().copied() {
                if sg.start == exp {
                    self.segs.pop_front();
                    self.deliver_segment(sg, sink);
                    exp = sg.end;
                    continue;
                }
            }
            if exp >= self.highest {
                if let Some(c) = covers(exp) {
                    deliver(
                        &c.pkt,
                        c.start,
                        c.line,
                        exp,
                        c.end - exp,
                        &mut self.stats,
                        sink,
                    );
                    from_cur += c.end - exp;
                    exp = c.end;
                    self.highest = c.end;
                    continue;
                }
            }
            break;
        }
        self.expected = Some(exp);
        from_cur
    }

    fn deliver_segment(&mut self, sg: Segment, sink: &mut impl SessionSink) {
        let Some(slot) = self.slots.get_mut(sg.slot) else {
            return;
        };
        let meta = *slot;
        slot.refs = slot.refs.saturating_sub(1);
        if slot.refs == 0 {
            self.free.push(sg.slot);
        }
        let off = sg.slot * self.config.max_packet;
        let Some(bytes) = self.arena.get(off..off + meta.len) else {
            return;
        };
        if let Ok(pkt) = MoldPacket::parse(bytes) {
            deliver(
                &pkt,
                meta.seq,
                meta.line,
                sg.start,
                sg.end - sg.start,
                &mut self.stats,
                sink,
            );
        }
    }

    fn refresh_deadline(&mut self) {
        self.deadline = self.gaps.iter().filter_map(|g| g.state.deadline()).min();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::moldudp64::{MoldHeader, END_OF_SESSION_COUNT};
    use zerocopy::IntoBytes;

    const S: Session = *b"SESSION001";
    const MS: u64 = 1_000_000;

    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Ev {
        Msg(u64, u8),
        Req(usize, u64, u16),
        Lost(u64, u64),
        End(u64),
        Rejoin(u64),
    }

    #[derive(Default)]
    struct Rec {
        ev: Vec<Ev>,
    }

    impl Rec {
        fn take(&mut self) -> Vec<Ev> {
            std::mem::take(&mut self.ev)
        }
    }

    impl SessionSink for Rec {
        fn message(&mut self, seq: u64, line: u8, bytes: &[u8]) {
            assert_eq!(bytes, body(seq), "bytes of message {seq}");
            self.ev.push(Ev::Msg(seq, line));
        }
        fn request(&mut self, server: usize, r: MoldRequest) {
            assert_eq!(r.session, S);
            self.ev.push(Ev::Req(server, r.sequence, r.count));
        }
        fn gap_lost(&mut self, first: u64, count: u64) {
            self.ev.push(Ev::Lost(first, count));
        }
        fn end_of_session(&mut self, next: u64) {
            self.ev.push(Ev::End(next));
        }
        fn rejoined(&mut self, next: u64) {
            self.ev.push(Ev::Rejoin(next));
        }
    }

    /// The bytes of message `seq` (its length varies with `seq`).
    fn body(seq: u64) -> Vec<u8> {
        let mut v = seq.to_be_bytes().to_vec();
        v.truncate(1 + (seq % 8) as usize);
        v
    }

    fn data(seq: u64, count: u16) -> Vec<u8> {
        let mut p = MoldHeader::new(S, seq, count).as_bytes().to_vec();
        for s in seq..seq + u64::from(count) {
            let b = body(s);
            p.extend_from_slice(&(b.len() as u16).to_be_bytes());
            p.extend_from_slice(&b);
        }
        p
    }

    fn hb(seq: u64) -> Vec<u8> {
        MoldHeader::new(S, seq, 0).as_bytes().to_vec()
    }

    fn eos(seq: u64) -> Vec<u8> {
        MoldHeader::new(S, seq, END_OF_SESSION_COUNT)
            .as_bytes()
            .to_vec()
    }

    fn msgs(range: std::ops::Range<u64>, line: u8) -> Vec<Ev> {
        range.map(|s| Ev::Msg(s, line)).collect()
    }

    fn cfg() -> SessionConfig {
        SessionConfig {
            first_sequence: Some(1),
            reorder_window: 8,
            max_packet: 256,
            ..SessionConfig::default()
        }
    }

    fn identity(s: &MoldUdp64Session) {
        let st = s.stats();
        assert_eq!(
            st.gap_messages,
            st.filled_by_lines
                + st.recovered
                + st.filled_after_giving_up
                + st.lost_messages
                + s.missing_messages(),
            "{st:?}"
        );
    }

    struct T {
        s: MoldUdp64Session,
        r: Rec,
    }

    impl T {
        fn new(c: SessionConfig) -> Self {
            Self {
                s: MoldUdp64Session::new(c),
                r: Rec::default(),
            }
        }
        fn pkt(&mut self, line: u8, p: &[u8], now: u64) -> Vec<Ev> {
            self.s.on_packet(line, p, now, &mut self.r).unwrap();
            identity(&self.s);
            self.r.take()
        }
        fn poll(&mut self, now: u64) -> Vec<Ev> {
            self.s.poll(now, &mut self.r);
            identity(&self.s);
            self.r.take()
        }
    }

    #[test]
    fn in_order_delivery_and_stats() {
        let mut t = T::new(cfg());
        assert_eq!(t.s.expected(), Some(1));
        assert_eq!(t.pkt(0, &data(1, 3), 0), msgs(1..4, 0));
        assert_eq!(t.pkt(0, &data(4, 2), 0), msgs(4..6, 0));
        let st = t.s.stats();
        assert_eq!(st.packets, 2);
        assert_eq!(st.packets_per_line, [2, 0, 0, 0]);
        assert_eq!(st.first_copies_per_line, [5, 0, 0, 0]);
        assert_eq!(st.messages, 5);
        assert_eq!(st.bytes, (data(1, 3).len() + data(4, 2).len()) as u64);
        assert_eq!(st.gaps, 0);
        assert_eq!(t.s.expected(), Some(6));
        assert_eq!(t.s.next_deadline(), None);
    }

    #[test]
    fn duplicate_and_partially_overlapping_packets() {
        let mut t = T::new(cfg());
        t.pkt(0, &data(1, 5), 0);
        assert_eq!(t.pkt(1, &data(1, 5), 0), vec![]);
        assert_eq!(t.pkt(1, &data(2, 2), 0), vec![]);
        assert_eq!(t.s.stats().duplicate_packets, 2);
        assert_eq!(t.s.stats().duplicate_messages, 7);
        // Tail only.
        assert_eq!(t.pkt(1, &data(4, 4), 0), msgs(6..8, 1));
        assert_eq!(t.s.stats().duplicate_messages, 9);
        assert_eq!(t.s.stats().duplicate_packets, 2);
        assert_eq!(t.s.stats().first_copies_per_line, [5, 2, 0, 0]);
    }

    #[test]
    fn out_of_order_buffered_then_drained_with_overlaps() {
        let mut t = T::new(cfg());
        // [6,9) then [4,8) (overlapping, only 4..6 new) then [1,4).
        assert_eq!(t.pkt(0, &data(6, 3), 0), vec![]);
        assert_eq!(t.s.outstanding_gaps(), 1);
        assert_eq!(t.s.missing_messages(), 5);
        assert_eq!(t.pkt(1, &data(4, 4), 0), vec![]);
        assert_eq!(t.s.missing_messages(), 3);
        assert_eq!(t.s.stats().duplicate_messages, 2);
        assert_eq!(t.s.buffered_packets(), 2);
        let mut want = msgs(1..4, 0);
        want.extend(msgs(4..6, 1));
        want.extend(msgs(6..9, 0));
        assert_eq!(t.pkt(0, &data(1, 3), 0), want);
        assert_eq!(t.s.buffered_packets(), 0);
        assert_eq!(t.s.outstanding_gaps(), 0);
        let st = t.s.stats();
        assert_eq!(st.out_of_order_packets, 2);
        assert_eq!(st.gaps, 1);
        assert_eq!(st.gap_messages, 5);
        assert_eq!(st.filled_by_lines, 5);
        assert_eq!(st.first_copies_per_line, [6, 2, 0, 0]);
        assert_eq!(t.s.next_deadline(), None);
    }

    #[test]
    fn packet_straddling_buffered_data_keeps_first_copies() {
        let mut t = T::new(cfg());
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(5, 2), 0); // gap [2,5)
        t.pkt(0, &data(9, 1), 0); // gap [7,9)
                                  // B covers [3,10): new 3,4 and 7,8; 5,6 and 9 are dups.
        assert_eq!(t.pkt(1, &data(3, 7), 0), vec![]);
        assert_eq!(t.s.stats().duplicate_messages, 3);
        assert_eq!(t.s.missing_messages(), 1);
        // The one-packet-two-segments slot survives until both are delivered.
        let mut want = msgs(2..3, 2);
        want.extend(msgs(3..5, 1));
        want.extend(msgs(5..7, 0));
        want.extend(msgs(7..9, 1));
        want.extend(msgs(9..10, 0));
        assert_eq!(t.pkt(2, &data(2, 1), 0), want);
        assert_eq!(t.s.buffered_packets(), 0);
        // An in-order packet that runs into buffered data delivers around it.
        t.pkt(0, &data(12, 1), 0);
        let mut want = msgs(10..12, 1);
        want.extend(msgs(12..13, 0));
        want.extend(msgs(13..14, 1));
        assert_eq!(t.pkt(1, &data(10, 4), 0), want);
        assert_eq!(t.s.stats().duplicate_messages, 4);
    }

    #[test]
    fn several_gaps_split_and_shrink() {
        let mut t = T::new(cfg());
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(10, 1), 0); // gap [2,10)
        t.pkt(0, &data(20, 1), 0); // gap [11,20)
        assert_eq!(t.s.outstanding_gaps(), 2);
        assert_eq!(t.s.stats().gaps, 2);
        assert_eq!(t.s.stats().gap_messages, 17);
        t.pkt(1, &data(5, 2), 0); // split [2,10) -> [2,5) [7,10)
        assert_eq!(t.s.outstanding_gaps(), 3);
        t.pkt(1, &data(11, 2), 0); // shrink front of [11,20)
        t.pkt(1, &data(18, 2), 0); // shrink back of [13,20)
        assert_eq!(t.s.outstanding_gaps(), 3);
        assert_eq!(t.s.missing_messages(), 3 + 3 + 5);
        // Requests after grace go per gap, round robin (1 server here).
        let reqs = t.poll(2 * MS);
        assert_eq!(
            reqs,
            vec![Ev::Req(0, 2, 3), Ev::Req(0, 7, 3), Ev::Req(0, 13, 5)]
        );
        assert_eq!(t.s.stats().requests, 3);
        let mut want = msgs(2..5, 2);
        want.extend(msgs(5..7, 1));
        want.extend(msgs(7..10, 2));
        want.extend(msgs(10..11, 0));
        want.extend(msgs(11..13, 1));
        assert_eq!(t.pkt(2, &data(2, 11), 3 * MS), want);
        assert_eq!(t.s.stats().recovered, 6);
        assert_eq!(t.s.stats().filled_by_lines, 6);
    }

    #[test]
    fn heartbeat_reveals_gap_and_end_of_session() {
        let mut t = T::new(cfg());
        t.pkt(0, &data(1, 2), 0);
        assert_eq!(t.pkt(0, &hb(3), 0), vec![]);
        assert_eq!(t.s.outstanding_gaps(), 0);
        assert_eq!(t.pkt(0, &hb(6), 10), vec![]);
        assert_eq!(t.s.outstanding_gaps(), 1);
        assert_eq!(t.s.next_deadline(), Some(10 + 2 * MS));
        assert_eq!(t.s.stats().heartbeats, 2);
        // End of session beyond: another gap; end only after everything.
        assert_eq!(t.pkt(0, &eos(8), 20), vec![]);
        assert_eq!(t.s.outstanding_gaps(), 2);
        let mut want = msgs(3..8, 1);
        want.push(Ev::End(8));
        assert_eq!(t.pkt(1, &data(3, 5), 30), want);
        assert!(t.s.ended());
        assert!(t.s.stats().end_of_session);
        // Anything later is a duplicate.
        assert_eq!(t.pkt(1, &data(8, 2), 40), vec![]);
        assert_eq!(t.pkt(1, &eos(8), 40), vec![]);
        assert_eq!(t.pkt(1, &hb(9), 40), vec![]);
        assert_eq!(t.s.stats().duplicate_packets, 2);
        assert_eq!(t.s.stats().duplicate_messages, 2);
        assert_eq!(t.s.next_deadline(), None);
    }

    #[test]
    fn end_of_session_at_expected_and_after_lost_gap() {
        let mut t = T::new(cfg());
        t.pkt(0, &data(1, 2), 0);
        assert_eq!(t.pkt(0, &eos(3), 0), vec![Ev::End(3)]);

        let mut t = T::new(SessionConfig {
            recovery: false,
            ..cfg()
        });
        t.pkt(0, &data(1, 2), 0);
        assert_eq!(t.pkt(0, &eos(5), 0), vec![]);
        assert_eq!(t.poll(2 * MS), vec![Ev::Lost(3, 2), Ev::End(5)]);
        assert_eq!(t.s.stats().lost_gaps, 1);
        assert_eq!(t.s.stats().lost_messages, 2);
    }

    #[test]
    fn ab_arbitration_within_grace_sends_no_request() {
        let mut t = T::new(cfg());
        let packets: Vec<Vec<u8>> = (0..5).map(|k| data(1 + 2 * k, 2)).collect();
        let mut delivered = Vec::new();
        for (k, p) in packets.iter().enumerate() {
            if k != 2 {
                delivered.extend(t.pkt(0, p, k as u64 * 1000));
            }
        }
        assert_eq!(t.s.outstanding_gaps(), 1);
        assert_eq!(t.s.next_deadline(), Some(3000 + 2 * MS));
        for (k, p) in packets.iter().enumerate() {
            delivered.extend(t.pkt(1, p, 100_000 + k as u64 * 1000));
        }
        let mut want = msgs(1..5, 0);
        want.extend(msgs(5..7, 1));
        want.extend(msgs(7..11, 0));
        assert_eq!(delivered, want);
        assert_eq!(t.poll(10 * MS), vec![]);
        let st = t.s.stats();
        assert_eq!(st.requests, 0);
        assert_eq!(st.gaps, 1);
        assert_eq!(st.filled_by_lines, 2);
        assert_eq!(st.duplicate_packets, 4);
        assert_eq!(st.duplicate_messages, 8);
        assert_eq!(st.first_copies_per_line, [8, 2, 0, 0]);
        assert_eq!(st.packets_per_line, [4, 5, 0, 0]);
        assert_eq!(t.s.next_deadline(), None);
    }

    #[test]
    fn retries_round_robin_then_lost() {
        let mut t = T::new(SessionConfig {
            servers: 3,
            max_retries: 2,
            line_grace_ns: 100,
            request_timeout_ns: 1000,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(4, 1), 0); // gap [2,4)
        assert_eq!(t.poll(99), vec![]);
        assert_eq!(t.poll(100), vec![Ev::Req(0, 2, 2)]);
        assert_eq!(t.s.next_deadline(), Some(1100));
        t.pkt(0, &data(6, 1), 150); // gap [5,6)
        assert_eq!(t.poll(250), vec![Ev::Req(1, 5, 1)]);
        assert_eq!(t.poll(1100), vec![Ev::Req(1, 2, 2)]);
        // A partial answer: only the rest is retried, and the answer was progress, not a
        // failed try: its retries start again.
        assert_eq!(t.pkt(2, &data(2, 1), 1200), msgs(2..3, 2));
        assert_eq!(t.poll(1250), vec![Ev::Req(2, 5, 1)]);
        assert_eq!(t.poll(2100), vec![Ev::Req(2, 3, 1)]);
        assert_eq!(t.poll(2250), vec![Ev::Req(0, 5, 1)]);
        assert_eq!(t.poll(3100), vec![Ev::Req(0, 3, 1)]);
        // [5,6) is given up now, but reported only when delivery reaches it.
        assert_eq!(t.poll(3250), vec![]);
        // Retries exhausted: lost in order, then the buffered messages follow.
        assert_eq!(
            t.poll(4100),
            vec![Ev::Lost(3, 1), Ev::Msg(4, 0), Ev::Lost(5, 1), Ev::Msg(6, 0)]
        );
        let st = t.s.stats();
        assert_eq!(st.requests, 2);
        assert_eq!(st.retries, 5);
        assert_eq!(st.recovered, 1);
        assert_eq!(st.lost_gaps, 2);
        assert_eq!(st.lost_messages, 2);
        assert_eq!(t.s.next_deadline(), None);
        // A late answer for a lost message is a duplicate.
        assert_eq!(t.pkt(2, &data(3, 1), 5000), vec![]);
        assert_eq!(t.s.stats().duplicate_messages, 1);
    }

    /// A partial answer (a server's one packet, or the first packets of a many-packet answer):
    /// the rest is asked for once the answer has been quiet for the grace, not at the
    /// request's timeout (a one-packet server took a timeout per packet of a gap).
    #[test]
    fn the_rest_of_a_partly_answered_piece_is_asked_for_after_the_grace_not_the_timeout() {
        let mut t = T::new(SessionConfig {
            line_grace_ns: 100,
            request_timeout_ns: 1000,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(12, 1), 0); // gap [2,12)
        assert_eq!(t.poll(100), vec![Ev::Req(0, 2, 10)]);
        assert_eq!(t.s.next_deadline(), Some(1100));
        assert_eq!(t.pkt(2, &data(2, 3), 200), msgs(2..5, 2));
        assert_eq!(t.s.next_deadline(), Some(300));
        // Another packet of the answer: the wait starts again from it.
        assert_eq!(t.pkt(2, &data(5, 3), 250), msgs(5..8, 2));
        assert_eq!(t.s.next_deadline(), Some(350));
        assert_eq!(t.poll(349), vec![]);
        assert_eq!(t.poll(350), vec![Ev::Req(0, 8, 4)]);
        // The retry's own timeout; no retry was spent on the answered part.
        assert_eq!(t.s.next_deadline(), Some(1350));
        assert_eq!(t.s.stats().retries, 1);
    }

    /// `give_up_before` inside a requested piece is no answer (`starts_at(_, None)`: "no
    /// answer arrived (a split, a give-up)"): the rest keeps its tries. With `retries = 0` it
    /// is lost at the request's timeout, not asked for again as if the server had answered.
    #[test]
    fn a_give_up_inside_a_requested_piece_earns_no_retry() {
        let mut t = T::new(SessionConfig {
            max_retries: 0,
            line_grace_ns: 100,
            request_timeout_ns: 1000,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(12, 1), 0); // gap [2,12)
        assert_eq!(t.poll(100), vec![Ev::Req(0, 2, 10)]);
        // No answer; the caller gives up on [2,5).
        let mut r = Rec::default();
        t.s.give_up_before(5, &mut r);
        assert_eq!(r.take(), vec![Ev::Lost(2, 3)]);
        // The request's timeout: no answer came and no retry is configured.
        assert_eq!(t.poll(1100), vec![Ev::Lost(5, 7), Ev::Msg(12, 0)]);
        assert_eq!(t.s.stats().retries, 0);
    }

    /// A piece asked for in two requests; the answer to the first is lost, the second is
    /// answered in part (one packet). That answer is progress as much as an answer to the
    /// first request: with `retries = 0` the rest of the second request is asked for again
    /// ("an answer is progress, and earns one more try even with no retries configured"),
    /// not declared lost unasked.
    #[test]
    fn a_partial_answer_to_a_later_request_of_the_piece_earns_a_try_too() {
        let mut t = T::new(SessionConfig {
            max_retries: 0,
            line_grace_ns: 100,
            request_timeout_ns: 1000,
            max_request_messages: 4,
            max_requests_per_gap: 2,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(22, 1), 0); // gap [2,22)
        assert_eq!(t.poll(100), vec![Ev::Req(0, 2, 4), Ev::Req(0, 6, 4)]);
        // The first answer is lost; the second brings 2 of its 4 messages.
        assert_eq!(t.pkt(2, &data(6, 2), 200), vec![]);
        let out = t.poll(1100);
        assert!(
            out.contains(&Ev::Req(0, 8, 2)) && !out.contains(&Ev::Lost(8, 2)),
            "the rest of the answered request: {out:?}"
        );
    }

    #[test]
    fn large_gap_requested_in_pieces_and_overlapping_answers() {
        let mut t = T::new(SessionConfig {
            max_request_messages: 4,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(12, 1), 0); // gap [2,12)
        assert_eq!(
            t.poll(2 * MS),
            vec![Ev::Req(0, 2, 4), Ev::Req(0, 6, 4), Ev::Req(0, 10, 2)]
        );
        // Overlapping answers, out of order.
        assert_eq!(t.pkt(2, &data(7, 3), 3 * MS), vec![]);
        assert_eq!(t.pkt(2, &data(6, 4), 3 * MS), vec![]);
        let mut want = msgs(2..10, 2);
        want.extend(msgs(10..12, 1));
        want.extend(msgs(12..13, 0));
        assert_eq!(t.pkt(2, &data(2, 6), 3 * MS).len(), 8);
        assert_eq!(t.pkt(1, &data(9, 3), 3 * MS), want[8..].to_vec());
        let st = t.s.stats();
        assert_eq!(st.recovered, 10);
        assert_eq!(st.duplicate_messages, 3 + 2 + 1);
        assert_eq!(t.s.outstanding_gaps(), 0);
    }

    #[test]
    fn a_gap_larger_than_its_request_budget_is_asked_for_a_piece_at_a_time() {
        // 2 requests of 4 messages at a time: the gap [2, 22) is asked for 8 messages at a
        // time, the next piece as soon as the previous one arrived (it was 5 requests at once,
        // and a loss of 10 M messages was 10,000 datagrams to the re-request server at once).
        let mut t = T::new(SessionConfig {
            max_request_messages: 4,
            max_requests_per_gap: 2,
            servers: 2,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(22, 1), 0); // gap [2,22)
        assert_eq!(t.poll(2 * MS), vec![Ev::Req(0, 2, 4), Ev::Req(0, 6, 4)]);
        // Part of the piece arrives: nothing more is asked yet; the rest is due once the
        // answer has been quiet for the grace (2 ms), not at the request's timeout.
        assert_eq!(t.pkt(2, &data(2, 4), 3 * MS), msgs(2..6, 2));
        assert_eq!(t.s.next_deadline(), Some(3 * MS + 2 * MS));
        // The rest of it: the next piece is due at once, from the same server, not a retry.
        assert_eq!(t.pkt(2, &data(6, 4), 3 * MS), msgs(6..10, 2));
        assert_eq!(t.s.next_deadline(), Some(0));
        assert_eq!(t.poll(3 * MS), vec![Ev::Req(0, 10, 4), Ev::Req(0, 14, 4)]);
        // No answer: the retry asks for that piece again, from the next server.
        assert_eq!(t.poll(53 * MS), vec![Ev::Req(1, 10, 4), Ev::Req(1, 14, 4)]);
        let st = t.s.stats();
        assert_eq!((st.requests, st.retries), (4, 2));
        // A packet of line B just past the piece (10..18) splits the gap: the part behind it
        // was not asked for and is due at once; the piece waits for its answer.
        assert_eq!(t.pkt(1, &data(18, 1), 54 * MS), vec![]);
        assert_eq!(t.s.next_deadline(), Some(0));
        assert_eq!(t.poll(54 * MS), vec![Ev::Req(1, 19, 3)]);
        assert_eq!(t.s.next_deadline(), Some(103 * MS));
        // The answers come; everything is delivered in order.
        let mut got = t.pkt(2, &data(10, 8), 60 * MS);
        got.extend(t.pkt(2, &data(19, 3), 60 * MS));
        let mut want = msgs(10..18, 2);
        want.extend(msgs(18..19, 1));
        want.extend(msgs(19..22, 2));
        want.extend(msgs(22..23, 0));
        assert_eq!(got, want);
        assert_eq!(t.s.outstanding_gaps(), 0);
        // (Line B's message counts as recovered too: it filled a gap already requested.)
        assert_eq!(t.s.stats().recovered, 20);
    }

    #[test]
    fn a_piece_the_server_cannot_serve_is_lost_and_the_rest_still_asked_for() {
        // The server holds nothing of 2..10 (a relay whose history has a hole there) but holds
        // 10..22. Its piece is lost after the retries; the rest of the gap is asked for and
        // recovered (with the whole gap lost, what the server held was reported lost too).
        let mut t = T::new(SessionConfig {
            max_request_messages: 4,
            max_requests_per_gap: 2,
            max_retries: 1,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(22, 1), 0); // gap [2,22)
        assert_eq!(t.poll(2 * MS), vec![Ev::Req(0, 2, 4), Ev::Req(0, 6, 4)]);
        assert_eq!(t.poll(52 * MS), vec![Ev::Req(0, 2, 4), Ev::Req(0, 6, 4)]);
        assert_eq!(
            t.poll(102 * MS),
            vec![Ev::Req(0, 10, 4), Ev::Req(0, 14, 4), Ev::Lost(2, 8)]
        );
        let mut got = t.pkt(2, &data(10, 8), 103 * MS);
        assert_eq!(t.s.next_deadline(), Some(0));
        got.extend(t.poll(103 * MS));
        got.extend(t.pkt(2, &data(18, 4), 104 * MS));
        let mut want = msgs(10..18, 2);
        want.push(Ev::Req(0, 18, 4));
        want.extend(msgs(18..22, 2));
        want.extend(msgs(22..23, 0));
        assert_eq!(got, want);
        let st = t.s.stats();
        assert_eq!((st.lost_messages, st.recovered, st.lost_gaps), (8, 12, 1));
        assert_eq!(t.s.outstanding_gaps(), 0);
    }

    /// Polls `t` every `step` ns and answers each request at once on the re-request line with
    /// `answer(first, count)`, until no gap is left (at most 200 rounds): what came out (the
    /// poll's events, then the answers' deliveries, round by round), and the requests seen.
    fn answer_every_request(
        t: &mut T,
        step: u64,
        mut answer: impl FnMut(u64, u16) -> Vec<u8>,
    ) -> (Vec<Ev>, u64) {
        let (mut now, mut asked, mut got) = (0u64, 0u64, Vec::new());
        for _ in 0..200 {
            now += step;
            let mut answers = Vec::new();
            for ev in t.poll(now) {
                match ev {
                    Ev::Req(_, seq, count) => {
                        asked += 1;
                        answers.push(answer(seq, count));
                    }
                    e => got.push(e),
                }
            }
            for a in answers {
                got.extend(t.pkt(2, &a, now));
            }
            if t.s.outstanding_gaps() == 0 {
                break;
            }
        }
        (got, asked)
    }

    /// Slots smaller than the feed's packets (`serve --max-packet 8000` against the default
    /// 2,048) and a server that answers one packet per request, as MoldUDP64's do. README:
    /// such packets "are left to recovery". But the answers are as large: the answer to the
    /// second gap arrives ahead of its turn (the first gap's rest is still missing), cannot be
    /// held, and counts as an unanswered try, so the second gap is declared lost although the
    /// server answered every request it got.
    #[test]
    fn oversize_answers_ahead_of_their_turn_do_not_lose_what_the_server_answered() {
        let mut t = T::new(SessionConfig {
            max_packet: 40,
            line_grace_ns: 100,
            request_timeout_ns: 1000,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(30, 1), 0); // gap [2,30)
        t.pkt(0, &data(40, 1), 0); // gap [31,40)
        let answer = |seq: u64, count: u16| data(seq, count.min(6));
        assert!(answer(2, 28).len() > 40, "answers do not fit a slot");
        let (got, asked) = answer_every_request(&mut t, 1000, answer);
        let st = t.s.stats();
        assert!(asked > 0 && st.oversize_packets > 0, "{st:?}");
        assert_eq!(
            (st.lost_messages, st.lost_gaps),
            (0, 0),
            "every request was answered, yet {got:?}"
        );
    }

    /// `retries = 0` (a valid setting) and a server that answers with one packet,
    /// as MoldUDP64 servers do. README: "an answer that brings part of a piece ... is progress:
    /// the rest is asked for with the retries counted afresh". The rest is declared lost
    /// instead, without being asked for: the answer was no failed try, but the rest only goes
    /// out as a retry, and there are none.
    #[test]
    fn a_partial_answer_with_no_retries_still_asks_for_the_rest() {
        let mut t = T::new(SessionConfig {
            max_retries: 0,
            line_grace_ns: 100,
            request_timeout_ns: 1000,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(12, 1), 0); // gap [2,12)
        assert_eq!(t.poll(100), vec![Ev::Req(0, 2, 10)]);
        // The server's one packet holds 3 of the 10 messages asked for.
        assert_eq!(t.pkt(2, &data(2, 3), 200), msgs(2..5, 2));
        // Progress, not a failed try: the rest is asked for, not lost.
        assert_eq!(t.poll(1100), vec![Ev::Req(0, 5, 7)]);
    }

    /// A server that answers one message per request (the worst partial answer)
    /// still ends: every answer is progress, so the gap is recovered whole, one round per
    /// message, and the requests stay bounded by the gap's size.
    #[test]
    fn one_message_answers_recover_the_gap_in_bounded_requests() {
        let mut t = T::new(SessionConfig {
            max_retries: 1,
            line_grace_ns: 100,
            request_timeout_ns: 1000,
            max_request_messages: 4,
            max_requests_per_gap: 2,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(41, 1), 0); // gap [2,41)
        let (got, _) = answer_every_request(&mut t, 1000, |seq, _| data(seq, 1));
        assert_eq!(
            got,
            msgs(2..42, 2)
                .into_iter()
                .map(|e| match e {
                    Ev::Msg(41, _) => Ev::Msg(41, 0),
                    e => e,
                })
                .collect::<Vec<_>>()
        );
        let st = t.s.stats();
        assert_eq!(st.lost_messages, 0);
        assert!(st.requests + st.retries <= 2 * 39, "{st:?}");
    }

    #[test]
    fn recovery_off_or_no_servers_loses_at_grace() {
        for c in [
            SessionConfig {
                recovery: false,
                ..cfg()
            },
            SessionConfig {
                servers: 0,
                ..cfg()
            },
        ] {
            let mut t = T::new(c);
            t.pkt(0, &data(1, 1), 0);
            t.pkt(0, &data(3, 1), 0);
            assert_eq!(t.poll(2 * MS - 1), vec![]);
            assert_eq!(t.poll(2 * MS), vec![Ev::Lost(2, 1), Ev::Msg(3, 0)]);
            assert_eq!(t.s.stats().requests, 0);
        }
    }

    /// `on_packet` expecting the implausible-sequence refusal.
    fn refused(t: &mut T, line: u8, p: &[u8]) -> (u64, u64) {
        match t.s.on_packet(line, p, 0, &mut t.r) {
            Err(MoldError::ImplausibleSequence { sequence, jump }) => {
                identity(&t.s);
                assert_eq!(t.r.take(), vec![], "a refused packet delivered something");
                (sequence, jump)
            }
            other => panic!("expected an implausible-sequence refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_copy_of_a_range_given_up_arriving_before_its_turn_is_delivered() {
        // [5,6) runs out of retries while [2,4) still holds delivery up: message 5 arriving
        // then was dropped as a duplicate and reported lost although it came in time.
        let mut t = T::new(SessionConfig {
            max_request_messages: 1,
            max_requests_per_gap: 1,
            max_retries: 0,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(4, 1), 0); // gap [2,4)
        t.pkt(0, &data(6, 1), MS); // gap [5,6)
        t.poll(2 * MS); // asks 2
        t.poll(3 * MS); // asks 5
        t.pkt(2, &data(2, 1), 10 * MS); // the piece answered
        t.poll(10 * MS); // asks 3
        t.poll(53 * MS); // [5,6) out of retries: given up, not reported (3 is still awaited)
        assert_eq!(t.s.missing_messages(), 2);
        assert_eq!(t.pkt(1, &data(5, 1), 55 * MS), vec![]);
        let mut want = msgs(3..4, 2);
        want.extend([Ev::Msg(4, 0), Ev::Msg(5, 1), Ev::Msg(6, 0)]);
        assert_eq!(t.pkt(2, &data(3, 1), 56 * MS), want);
        assert_eq!(t.s.stats().filled_after_giving_up, 1);
        assert_eq!(t.s.stats().lost_messages, 0);
        // A packet that starts inside a range given up at the front: what it carries is
        // delivered, the part before it reported lost.
        let mut t = T::new(SessionConfig {
            max_retries: 0,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(10, 1), 0); // gap [2,10)
        t.poll(2 * MS);
        t.poll(60 * MS); // given up: reported at once (it is at the front)
        assert_eq!(t.s.stats().lost_messages, 8);
    }

    #[test]
    fn a_saturated_gap_count_stays_saturated_through_a_rejoin() {
        // The rejoin took its dropped messages off the saturated count: no longer saturated,
        // so the identity was checked again, and false.
        let mut s = MoldUdp64Session::new(SessionConfig {
            first_sequence: Some(1),
            max_gap_messages: 10,
            ..SessionConfig::default()
        });
        let mut r = Rec::default();
        s.on_packet(0, &data(1, 1), 0, &mut r).unwrap();
        // A confirmed jump to near u64::MAX: [2, MAX-19) lost at once.
        assert!(s.on_packet(0, &hb(u64::MAX - 20), 0, &mut r).is_err());
        s.on_packet(1, &hb(u64::MAX - 19), 0, &mut r).unwrap();
        s.rejoin_at(1, &mut r);
        // Another confirmed jump: the count saturates.
        assert!(s.on_packet(0, &hb(40), 0, &mut r).is_err());
        s.on_packet(1, &hb(41), 0, &mut r).unwrap();
        assert_eq!(s.stats().gap_messages, u64::MAX);
        // An ordinary gap [41,45), then a rejoin.
        s.on_packet(0, &data(45, 1), 0, &mut r).unwrap();
        assert_eq!(s.missing_messages(), 4);
        s.rejoin_at(1, &mut r);
        assert_eq!(s.stats().gap_messages, u64::MAX);
        assert!(s.stats().accounted(s.missing_messages()));
    }

    #[test]
    fn confirmed_huge_gap_lost_at_once_and_later_lost_gap_waits_its_turn() {
        let mut t = T::new(SessionConfig {
            max_gap_messages: 10,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        // Gap [2,4): normal.
        t.pkt(0, &data(4, 1), 0);
        // 100 is 95 past the highest seen (5): ignored until a packet near it confirms it.
        assert_eq!(refused(&mut t, 0, &data(100, 1)), (100, 95));
        assert_eq!(t.s.outstanding_gaps(), 1);
        // The next packet confirms it: gap [5,101) is too large, lost at once (with message 100
        // of the ignored packet) but not reported yet.
        assert_eq!(t.pkt(1, &data(101, 1), 0), vec![]);
        assert_eq!(t.s.outstanding_gaps(), 2);
        assert_eq!(t.s.next_deadline(), Some(2 * MS));
        assert_eq!(t.s.stats().implausible_sequence, 1);
        // Messages of the range given up that arrive before delivery reaches it are
        // delivered (they were duplicates, and reported lost with the rest).
        assert_eq!(t.pkt(1, &data(50, 2), 0), vec![]);
        assert_eq!(t.s.stats().duplicate_messages, 0);
        assert_eq!(t.s.stats().filled_after_giving_up, 2);
        let mut want = msgs(2..4, 1);
        want.push(Ev::Msg(4, 0));
        want.push(Ev::Lost(5, 45));
        want.extend(msgs(50..52, 1));
        want.push(Ev::Lost(52, 49));
        want.extend(msgs(101..102, 1));
        assert_eq!(t.pkt(1, &data(2, 2), 0), want);
        // A confirmed huge gap at the front is reported at once, then the packet is delivered.
        refused(&mut t, 0, &data(1000, 1));
        assert_eq!(
            t.pkt(0, &data(1001, 1), 0),
            vec![Ev::Lost(102, 899), Ev::Msg(1001, 0)]
        );
        assert_eq!(t.s.stats().lost_gaps, 3);
        assert_eq!(t.s.stats().gaps, 3);
        assert_eq!(t.s.stats().implausible_sequence, 2);
        assert!(t.s.stats().accounted(t.s.missing_messages()));
    }

    #[test]
    fn a_corrupt_sequence_number_loses_nothing_else() {
        let mut t = T::new(cfg());
        assert_eq!(t.pkt(0, &data(1, 2), 0), msgs(1..3, 0));
        // One flipped high bit in a data packet's, a heartbeat's and an end of session's
        // sequence number: each is refused and counted, and the stream goes on untouched.
        // Each is far from the one before, so none confirms another.
        let flipped = 3 | 1 << 60;
        assert_eq!(refused(&mut t, 0, &data(flipped, 2)), (flipped, 1 << 60));
        assert_eq!(refused(&mut t, 1, &hb(3 | 1 << 55)).0, 3 | 1 << 55);
        refused(&mut t, 0, &eos(3 | 1 << 50));
        assert!(!t.s.ended());
        assert_eq!(t.pkt(1, &data(3, 2), 0), msgs(3..5, 1));
        assert_eq!(t.pkt(0, &data(5, 1), 0), msgs(5..6, 0));
        let st = t.s.stats().clone();
        assert_eq!(st.implausible_sequence, 3);
        assert_eq!(
            (st.gaps, st.lost_messages, st.duplicate_messages),
            (0, 0, 0)
        );
        assert_eq!(st.messages, 5);
        assert_eq!(t.s.next_deadline(), None);
        // The real end of session still ends it.
        assert_eq!(t.pkt(0, &eos(6), 0), vec![Ev::End(6)]);
    }

    #[test]
    fn the_stream_moving_on_clears_an_ignored_jump() {
        // A stuck bit flips the same high bit in two packets a few apart: the second is not
        // near "confirmation" of the first, because the stream moved on where it was between.
        let mut t = T::new(cfg());
        t.pkt(0, &data(1, 2), 0);
        let stuck = 1u64 << 40;
        refused(&mut t, 0, &data(3 | stuck, 2));
        assert_eq!(t.pkt(0, &data(3, 2), 0), msgs(3..5, 0));
        refused(&mut t, 0, &data(5 | stuck, 2));
        assert_eq!(t.pkt(0, &data(5, 2), 0), msgs(5..7, 0));
        let st = t.s.stats();
        assert_eq!(
            (st.implausible_sequence, st.lost_messages, st.gaps),
            (2, 0, 0)
        );
        // A copy of an old packet (no progress) does not clear it: a real jump is still
        // confirmed by the next packet near it.
        refused(&mut t, 0, &data(1_000_000_000, 1));
        assert_eq!(t.pkt(1, &data(3, 2), 0), vec![]);
        assert_eq!(
            t.pkt(0, &data(1_000_000_001, 1), 0),
            vec![Ev::Lost(7, 999_999_994), Ev::Msg(1_000_000_001, 0)]
        );
    }

    #[test]
    fn a_jump_within_max_gap_messages_is_an_ordinary_gap() {
        let mut t = T::new(SessionConfig {
            max_gap_messages: 10,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        // 12 is exactly 10 past the highest seen (2): a gap of 10, re-requested as usual.
        assert_eq!(t.pkt(0, &data(12, 1), 0), vec![]);
        assert_eq!(t.s.stats().implausible_sequence, 0);
        assert_eq!(t.s.missing_messages(), 10);
        assert_eq!(t.s.next_deadline(), Some(2 * MS));
        // 24 is 11 past 13: refused.
        refused(&mut t, 0, &data(24, 1));
        assert_eq!(t.s.missing_messages(), 10);
    }

    #[test]
    fn window_full_or_packet_too_big_overflows_into_gap() {
        let mut t = T::new(SessionConfig {
            reorder_window: 2,
            max_packet: 50,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(3, 1), 0);
        t.pkt(0, &data(4, 1), 0);
        assert_eq!(t.s.buffered_packets(), 2);
        // Window full: dropped, and the gap extends over it.
        assert_eq!(t.pkt(0, &data(5, 1), 0), vec![]);
        assert_eq!(t.s.stats().window_overflow, 1);
        assert_eq!(t.s.stats().duplicate_messages, 0);
        assert_eq!(t.s.missing_messages(), 2);
        assert_eq!(t.s.outstanding_gaps(), 2);
        // Beyond, after a gap, the whole range is one new gap.
        // Detected later: a gap of its own, which the dropped packet's messages extend.
        assert_eq!(t.pkt(0, &data(8, 1), 10), vec![]);
        assert_eq!(t.s.missing_messages(), 5);
        assert_eq!(t.s.stats().window_overflow, 2);
        assert_eq!(
            t.s.stats().oversize_packets,
            0,
            "the window was full: not a size"
        );
        assert_eq!(t.s.outstanding_gaps(), 3);
        assert_eq!(t.s.stats().gaps, 3);
        assert_eq!(t.poll(2 * MS), vec![Ev::Req(0, 2, 1), Ev::Req(0, 5, 1)]);
        assert_eq!(t.poll(2 * MS + 10), vec![Ev::Req(0, 6, 3)]);
        // A too-big packet cannot be buffered even with free slots.
        let mut want = msgs(2..3, 2);
        want.extend(msgs(3..5, 0));
        assert_eq!(t.pkt(2, &data(2, 1), 3 * MS), want);
        assert_eq!(t.s.buffered_packets(), 0);
        let big = data(6, 5);
        assert!(big.len() > 50);
        assert_eq!(t.pkt(2, &big, 3 * MS), vec![]);
        assert_eq!(t.s.stats().window_overflow, 3);
        assert_eq!(t.s.stats().oversize_packets, 1);
        assert_eq!(t.s.missing_messages(), 4 + 2);
        assert_eq!(t.pkt(2, &data(5, 1), 3 * MS), msgs(5..6, 2));
        // Now in order: the big packet is delivered directly.
        assert_eq!(t.pkt(2, &big, 3 * MS), msgs(6..11, 2));
    }

    #[test]
    fn session_lock_foreign_and_configured() {
        let mut t = T::new(SessionConfig::default());
        assert_eq!(t.s.expected(), None);
        assert_eq!(t.pkt(0, &data(100, 2), 0), msgs(100..102, 0));
        assert_eq!(t.s.session(), Some(&S));
        let mut other = data(102, 1);
        other[0] = b'X';
        assert_eq!(t.pkt(0, &other, 0), vec![]);
        assert_eq!(t.s.stats().foreign_session, 1);
        assert_eq!(t.s.expected(), Some(102));

        let mut t = T::new(SessionConfig {
            session: Some(*b"XESSION001"),
            ..cfg()
        });
        assert_eq!(t.pkt(0, &data(1, 2), 0), vec![]);
        assert_eq!(t.s.stats().foreign_session, 1);
        assert_eq!(t.pkt(0, &other, 0), vec![]);
        assert_eq!(t.s.stats().foreign_session, 1);
        assert_eq!(t.s.outstanding_gaps(), 1); // other = 102: gap [1,102)
    }

    #[test]
    fn first_sequence_gap_and_join_mid_session() {
        let mut t = T::new(cfg());
        assert_eq!(t.pkt(0, &data(4, 1), 0), vec![]);
        assert_eq!(t.s.missing_messages(), 3);
        // Joining: no gap for what came before, heartbeat sets it too.
        let mut t = T::new(SessionConfig::default());
        assert_eq!(t.pkt(0, &hb(50), 0), vec![]);
        assert_eq!(t.s.expected(), Some(50));
        assert_eq!(t.pkt(0, &data(50, 1), 0), msgs(50..51, 0));
        assert_eq!(t.s.stats().gaps, 0);
        // Messages before the configured first sequence are duplicates.
        let mut t = T::new(SessionConfig {
            first_sequence: Some(5),
            ..cfg()
        });
        assert_eq!(t.pkt(0, &data(3, 4), 0), msgs(5..7, 0));
        assert_eq!(t.s.stats().duplicate_messages, 2);
    }

    #[test]
    fn a_corrupt_first_header_is_joined_again_where_the_stream_is() {
        let join = || SessionConfig {
            first_sequence: None,
            ..cfg()
        };
        // The sequence number of the packet joined on has a high bit flipped: the next packets
        // look like old duplicates. Two in a row that agree with each other rejoin there; the
        // first of them is a gap that the other line fills.
        let mut t = T::new(join());
        let bogus = 100 | 1 << 50;
        assert_eq!(t.pkt(0, &data(bogus, 2), 0), msgs(bogus..bogus + 2, 0));
        assert_eq!(t.pkt(0, &data(102, 2), 0), vec![]);
        assert_eq!(t.s.stats().rejoins, 0);
        assert_eq!(t.pkt(0, &data(104, 1), 0), vec![Ev::Rejoin(102)]);
        assert_eq!(t.s.stats().rejoins, 1);
        assert_eq!(t.s.expected(), Some(102));
        assert_eq!(
            t.pkt(1, &data(102, 2), 0),
            msgs(102..104, 1)
                .into_iter()
                .chain(msgs(104..105, 0))
                .collect::<Vec<_>>()
        );
        assert_eq!(t.pkt(0, &data(105, 1), 0), msgs(105..106, 0));
        let st = t.s.stats();
        assert_eq!((st.gaps, st.filled_by_lines, st.lost_messages), (1, 2, 0));

        // Flipped the other way (the stream is really 2^40 further on): the next packets look
        // like a jump ahead, confirmed by the second and reported lost, as any jump; no rejoin.
        let mut t = T::new(join());
        let real = 1u64 << 40;
        assert_eq!(t.pkt(0, &data(5, 1), 0), msgs(5..6, 0));
        refused(&mut t, 0, &data(real + 6, 1));
        assert_eq!(
            t.pkt(0, &data(real + 7, 1), 0),
            vec![Ev::Lost(6, real + 1), Ev::Msg(real + 7, 0)]
        );
        assert_eq!(t.s.stats().rejoins, 0);

        // A corrupt session id: `a_corrupt_session_id_keeps_the_numbering`.
    }

    #[test]
    fn a_join_moved_before_any_output_is_not_reported_as_a_rejoin() {
        // Joined on a heartbeat with a corrupt sequence number: nothing reached the sink, so
        // moving the join takes nothing back (no `rejoined`, which tells a downstream that what
        // it was given may come again and its books are stale), but it is counted.
        let mut t = T::new(SessionConfig {
            first_sequence: None,
            ..cfg()
        });
        let bogus = 100 | 1 << 50;
        assert_eq!(t.pkt(0, &hb(bogus), 0), vec![]);
        assert_eq!(t.pkt(0, &data(100, 1), 0), vec![]);
        assert_eq!(t.pkt(0, &hb(101), 0), vec![]);
        assert_eq!(t.s.stats().rejoins, 1);
        assert_eq!(t.s.expected(), Some(100));
        // Message 100 came in the evidence (set aside as a duplicate): line B's copy delivers
        // it, and the stream goes on.
        assert_eq!(t.pkt(1, &data(100, 2), 0), msgs(100..102, 1));
        assert_eq!(t.pkt(0, &data(102, 1), 0), msgs(102..103, 0));
    }

    #[test]
    fn a_rejoin_from_outside_drops_the_old_numbering_and_tells_the_sink() {
        let mut t = T::new(cfg());
        assert_eq!(t.pkt(0, &data(1, 2), 0), msgs(1..3, 0));
        // A gap at 3..5 (4 buffered behind it), then the numbering restarts lower.
        assert_eq!(t.pkt(0, &data(5, 1), 0), vec![]);
        assert_eq!(t.s.missing_messages(), 2);
        t.s.rejoin_at(2, &mut t.r);
        identity(&t.s);
        assert_eq!(t.r.take(), vec![Ev::Rejoin(2)]);
        assert_eq!(
            (
                t.s.expected(),
                t.s.missing_messages(),
                t.s.buffered_packets()
            ),
            (Some(2), 0, 0)
        );
        assert_eq!(t.s.next_deadline(), None);
        let st = t.s.stats();
        assert_eq!((st.rejoins, st.gap_messages, st.lost_messages), (1, 0, 0));
        assert_eq!(t.pkt(0, &data(2, 2), 0), msgs(2..4, 0));
        // Nothing output since that join: moved silently (counted).
        t.s.rejoin_at(10, &mut t.r);
        assert_eq!(t.r.take(), vec![Ev::Rejoin(10)]);
        t.s.rejoin_at(7, &mut t.r);
        assert_eq!(t.r.take(), vec![]);
        assert_eq!(t.s.stats().rejoins, 3);
        assert_eq!(t.pkt(0, &data(7, 1), 0), msgs(7..8, 0));
        // After the end of session: ignored.
        assert_eq!(t.pkt(0, &eos(8), 0), vec![Ev::End(8)]);
        t.s.rejoin_at(1, &mut t.r);
        assert_eq!(t.r.take(), vec![]);
        assert_eq!((t.s.expected(), t.s.stats().rejoins), (Some(8), 3));
    }

    #[test]
    fn a_join_confirmed_by_the_next_packet_is_kept() {
        // Once a packet agrees with the join, later disagreeing packets are what they look
        // like: old copies (duplicates) and, two near each other far ahead, a confirmed jump.
        let mut t = T::new(SessionConfig {
            first_sequence: None,
            ..cfg()
        });
        assert_eq!(t.pkt(0, &data(100, 2), 0), msgs(100..102, 0));
        assert_eq!(t.pkt(0, &hb(102), 0), vec![]);
        assert_eq!(t.pkt(0, &data(2, 1), 0), vec![]);
        assert_eq!(t.pkt(0, &data(3, 1), 0), vec![]);
        let far = 102 + (1 << 30);
        refused(&mut t, 0, &data(far, 1));
        assert_eq!(
            t.pkt(0, &data(far + 1, 1), 0),
            vec![Ev::Lost(102, (1 << 30) + 1), Ev::Msg(far + 1, 0)]
        );
        let st = t.s.stats();
        assert_eq!((st.rejoins, st.duplicate_messages), (0, 2));
        // A configured session is never replaced, however many foreign packets agree.
        let mut t = T::new(SessionConfig {
            session: Some(S),
            ..cfg()
        });
        let mut other = data(1, 1);
        other[0] = b'X';
        for _ in 0..3 {
            assert_eq!(t.pkt(0, &other, 0), vec![]);
        }
        assert_eq!((t.s.session(), t.s.stats().rejoins), (Some(&S), 0));
        assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
    }

    /// A copy of `p` whose session id starts with `X`.
    fn foreign(mut p: Vec<u8>) -> Vec<u8> {
        p[0] = b'X';
        p
    }

    #[test]
    fn a_corrupt_session_id_keeps_the_numbering() {
        let join = || SessionConfig {
            first_sequence: None,
            ..cfg()
        };
        // Line B's copy of the packet joined on (whose session id was corrupt on line A) and
        // the packets after it replace the session id on the fourth in a row; the numbering
        // goes on: nothing is delivered twice, and what the first three carried is a gap.
        let mut t = T::new(join());
        assert_eq!(t.pkt(0, &foreign(data(100, 2)), 0), msgs(100..102, 0));
        assert_eq!(t.pkt(1, &data(100, 2), 0), vec![]);
        assert_eq!(t.pkt(0, &data(102, 1), 0), vec![]);
        assert_eq!(t.pkt(1, &data(102, 1), 0), vec![]);
        assert_eq!(t.s.stats().rejoins, 0);
        assert_eq!(t.pkt(0, &data(103, 1), 0), vec![]);
        assert_eq!((t.s.stats().rejoins, t.s.expected()), (1, Some(102)));
        assert_eq!(t.s.session(), Some(&S));
        assert_eq!(t.poll(3 * MS), vec![Ev::Req(0, 102, 1)]);
        assert_eq!(
            t.pkt(2, &data(102, 1), 4 * MS),
            vec![Ev::Msg(102, 2), Ev::Msg(103, 0)]
        );
        let st = t.s.stats();
        assert_eq!((st.foreign_session, st.recovered), (3, 1));

        // Packets of the real session further on: what lies between is a gap like any other
        // (re-requested, then lost), and what the set-aside packets carried is part of it.
        let mut t = T::new(join());
        assert_eq!(t.pkt(0, &foreign(data(100, 2)), 0), msgs(100..102, 0));
        for (line, q) in [(0, 105), (0, 106), (1, 105), (0, 107)] {
            assert_eq!(t.pkt(line, &data(q, 1), 0), vec![]);
        }
        assert_eq!((t.s.stats().rejoins, t.s.expected()), (1, Some(102)));
        let mut out = Vec::new();
        for k in 1..400 {
            out.extend(t.poll(k * MS));
        }
        assert!(out.contains(&Ev::Req(0, 102, 5)), "{out:?}");
        out.retain(|e| !matches!(e, Ev::Req(..)));
        assert_eq!(out, vec![Ev::Lost(102, 5), Ev::Msg(107, 0)]);
    }

    #[test]
    fn another_session_replaces_a_join_only_on_four_packets_in_a_row() {
        let join = || SessionConfig {
            first_sequence: None,
            ..cfg()
        };
        // A correct join, then another session's packets far from it: the joined session's
        // next packet confirms the join before they can replace it.
        let mut t = T::new(join());
        assert_eq!(t.pkt(0, &data(100, 2), 0), msgs(100..102, 0));
        for q in 7..10 {
            assert_eq!(t.pkt(0, &foreign(data(q, 1)), 0), vec![]);
        }
        assert_eq!(t.pkt(0, &data(102, 1), 0), msgs(102..103, 0));
        for q in 10..20 {
            assert_eq!(t.pkt(0, &foreign(data(q, 1)), 0), vec![]);
        }
        assert_eq!(t.pkt(0, &data(103, 1), 0), msgs(103..104, 0));
        let st = t.s.stats();
        assert_eq!(
            (t.s.session(), st.rejoins, st.foreign_session),
            (Some(&S), 0, 13)
        );

        // The whole first header corrupt: four packets of the real session, far from it and
        // near each other, join again at the lowest of them (the first three are a gap the
        // other line fills).
        let mut t = T::new(join());
        let bogus = 100 | 1 << 50;
        assert_eq!(
            t.pkt(0, &foreign(data(bogus, 2)), 0),
            msgs(bogus..bogus + 2, 0)
        );
        for q in 102..105 {
            assert_eq!(t.pkt(0, &data(q, 1), 0), vec![]);
        }
        assert_eq!(t.s.stats().rejoins, 0);
        assert_eq!(t.pkt(0, &data(105, 1), 0), vec![Ev::Rejoin(102)]);
        assert_eq!((t.s.session(), t.s.expected()), (Some(&S), Some(102)));
        assert_eq!(
            t.pkt(1, &data(102, 3), 0),
            msgs(102..105, 1)
                .into_iter()
                .chain(msgs(105..106, 0))
                .collect::<Vec<_>>()
        );
        // A packet of the bogus session after the rejoin is foreign.
        assert_eq!(t.pkt(0, &foreign(data(bogus + 2, 1)), 0), vec![]);
        assert_eq!(t.pkt(0, &data(106, 1), 0), msgs(106..107, 0));
    }

    #[test]
    fn an_end_of_session_that_disputes_the_join_ends_nothing() {
        // The packet joined on had its sequence number corrupted upwards; the end of session
        // that follows is below it, so it is set aside (it would have ended the session at the
        // corrupt number); the next packet near it rejoins, and a later end of session counts.
        let mut t = T::new(SessionConfig {
            first_sequence: None,
            ..cfg()
        });
        let bogus = 100 | 1 << 50;
        assert_eq!(t.pkt(0, &data(bogus, 1), 0), msgs(bogus..bogus + 1, 0));
        assert_eq!(t.pkt(0, &eos(101), 0), vec![]);
        assert_eq!(t.s.stats().duplicate_packets, 1);
        assert_eq!(t.pkt(1, &eos(101), 0), vec![Ev::Rejoin(101), Ev::End(101)]);
    }

    #[test]
    fn a_full_gap_table_never_grows() {
        // Heartbeats a microsecond apart fill the table with ranges of their own timers. A
        // packet is buffered only while an entry stays free for the range that may follow
        // it, so no range ever needs an entry past the table's preallocated size.
        let mut t = T::new(SessionConfig {
            reorder_window: 4,
            ..cfg()
        });
        let cap = t.s.gaps.capacity();
        let mut q = 1;
        while t.s.outstanding_gaps() < cap - 1 {
            q += 1;
            assert_eq!(t.pkt(0, &hb(q), q * MS / 1000), vec![]);
        }
        // One entry left: a packet at the end is buffered, and the range after it takes the
        // last entry; the next packet at the end is not buffered, and what follows merges.
        assert_eq!(t.pkt(0, &data(q, 1), q), vec![]);
        assert_eq!(t.pkt(0, &hb(q + 2), q + 1), vec![]);
        assert_eq!(t.s.outstanding_gaps(), cap);
        assert_eq!(t.s.stats().window_overflow, 0);
        assert_eq!(t.pkt(0, &data(q + 3, 1), q + 2), vec![]);
        assert_eq!(t.s.stats().window_overflow, 1);
        assert_eq!(t.pkt(0, &hb(q + 6), q + 3), vec![]);
        assert!(t.s.outstanding_gaps() <= cap, "{}", t.s.outstanding_gaps());
        assert_eq!(t.s.gaps.capacity(), cap);
        // Everything is accounted for at the end: delivered or reported lost, in order.
        let mut out = Vec::new();
        for k in 1..1000 {
            out.extend(t.poll(k * MS));
        }
        out.retain(|e| !matches!(e, Ev::Req(..)));
        let mut next = 1;
        for e in &out {
            match *e {
                Ev::Lost(f, n) => {
                    assert_eq!(f, next, "{out:?}");
                    next = f + n;
                }
                Ev::Msg(m, _) => {
                    assert_eq!(m, next, "{out:?}");
                    next = m + 1;
                }
                _ => panic!("{e:?}"),
            }
        }
        assert_eq!(next, q + 6, "{out:?}");
        assert_eq!(t.s.gaps.capacity(), cap);
    }

    #[test]
    fn adjacent_lost_ranges_are_reported_as_one() {
        // [2,5) found by a heartbeat, [5,8) a millisecond later: two ranges with their own
        // timers; both run out without recovery, and one loss is reported for both.
        let mut t = T::new(SessionConfig {
            recovery: false,
            ..cfg()
        });
        t.pkt(0, &data(1, 1), 0);
        assert_eq!(t.pkt(0, &hb(5), 0), vec![]);
        assert_eq!(t.pkt(0, &data(8, 1), MS), vec![]);
        assert_eq!(t.s.outstanding_gaps(), 2);
        // The first poll after both timers ran out (before it, the first range would be
        // reported on its own: it is next in order).
        assert_eq!(t.poll(3 * MS), vec![Ev::Lost(2, 6), Ev::Msg(8, 0)]);
        let st = t.s.stats();
        assert_eq!((st.gaps, st.lost_gaps, st.lost_messages), (2, 1, 6));
    }

    #[test]
    fn malformed_counted_state_unchanged() {
        let mut t = T::new(SessionConfig::default());
        let mut r = Rec::default();
        let bad = &data(7, 2)[..25];
        assert!(t.s.on_packet(0, bad, 0, &mut r).is_err());
        assert_eq!(
            t.s.on_packet(0, &[1, 2, 3], 0, &mut r),
            Err(MoldError::TooShort { len: 3 })
        );
        assert_eq!(t.s.stats().malformed, 2);
        assert_eq!(t.s.stats().packets, 2);
        assert_eq!(t.s.session(), None);
        assert_eq!(t.s.expected(), None);
        assert!(r.ev.is_empty());
        assert_eq!(t.pkt(0, &data(9, 1), 0), msgs(9..10, 0));
    }

    #[test]
    fn give_up_before_and_finish() {
        let mut t = T::new(cfg());
        t.pkt(0, &data(1, 1), 0);
        t.pkt(0, &data(3, 1), 0);
        t.pkt(0, &data(6, 2), 0);
        // Gaps [2,3) and [4,6); give up before 5: [2,3) and [4,5) lost, [5,6) stays.
        let mut r = Rec::default();
        t.s.give_up_before(5, &mut r);
        identity(&t.s);
        assert_eq!(
            r.take(),
            vec![Ev::Lost(2, 1), Ev::Msg(3, 0), Ev::Lost(4, 1)]
        );
        assert_eq!(t.s.expected(), Some(5));
        assert_eq!(t.s.outstanding_gaps(), 1);
        // Beyond anything seen: a new gap, lost at once.
        t.s.give_up_before(12, &mut r);
        identity(&t.s);
        assert_eq!(
            r.take(),
            vec![Ev::Lost(5, 1), Ev::Msg(6, 0), Ev::Msg(7, 0), Ev::Lost(8, 4)]
        );
        assert_eq!(t.s.expected(), Some(12));
        assert_eq!(t.s.next_deadline(), None);
        // Finish: every gap lost, buffered delivered, end of session if announced.
        t.pkt(0, &data(14, 1), 0);
        t.pkt(0, &data(17, 1), 0);
        t.pkt(0, &eos(20), 0);
        t.s.finish(&mut r);
        identity(&t.s);
        assert_eq!(
            r.take(),
            vec![
                Ev::Lost(12, 2),
                Ev::Msg(14, 0),
                Ev::Lost(15, 2),
                Ev::Msg(17, 0),
                Ev::Lost(18, 2),
                Ev::End(20)
            ]
        );
        assert_eq!(t.s.outstanding_gaps(), 0);
        assert_eq!(t.s.buffered_packets(), 0);
    }

    #[test]
    fn poll_is_a_noop_before_deadline() {
        let mut t = T::new(cfg());
        assert_eq!(t.poll(u64::MAX), vec![]);
        t.pkt(0, &data(2, 1), 5);
        assert_eq!(t.s.next_deadline(), Some(5 + 2 * MS));
        assert_eq!(t.poll(5 + 2 * MS - 1), vec![]);
        assert_eq!(t.s.stats().requests, 0);
        assert_eq!(t.poll(5 + 2 * MS), vec![Ev::Req(0, 1, 1)]);
        assert_eq!(t.s.next_deadline(), Some(5 + 52 * MS));
    }
}
