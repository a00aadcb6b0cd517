//! The exchange simulator behind `ticklane serve`: it publishes one MoldUDP64 session from a
//! [`MessageHistory`] over UDP (unicast or multicast, line A and optionally line B), answers
//! MoldUDP64 retransmission requests from that same history, and injects seeded faults (loss,
//! duplication, reordering) per line.
//!
//! This module owns the sending side of a session end to end — packetization and pacing,
//! heartbeats, end of session, the retransmission server and the fault schedule — so that the
//! receiving side (`udp`, `source`) can be tested against a real exchange-like peer on one
//! host, and so that every fault it injects is *recorded*: [`SimReport`] says exactly which
//! packets were dropped, duplicated or reordered on which line, which lets a test account for
//! every message a receiver did or did not get.
//!
//! It is an I/O edge: blocking std sockets on plain threads (the publisher on the caller's
//! thread, the retransmission server on a scoped thread sharing the history by reference), the
//! wall clock only for pacing, heartbeats and lingering, and all randomness from
//! [`SeededRng`], so the same seed gives the same fault pattern on every run and machine.
//!
//! What goes into each data packet, and so every fault drawn for it, depends only on the
//! history, the configuration and the seed, never on timing: at [`Pace::Max`] packets are
//! filled up to `max_packet` and the message-count limit; when paced, a packet also ends before
//! a message whose event time is more than [`PACED_PACKET_WINDOW_NS`] after the event time of
//! the packet's first message (a message without an event time joins the packet being filled;
//! one with an event time after a packet of messages without one starts a new packet). Pacing
//! only decides *when* a packet goes out: right after its last message is due. Which packets
//! are held back for reordering depends only on the draws too (a packet right after a held one
//! is never held, even if a heartbeat has released the held one meanwhile); only heartbeats,
//! and so when a held packet is released, follow the wall clock.
//!
//! Nothing here panics on any input: a malformed request is counted and ignored, and an answer
//! packet the socket refuses to send is counted ([`SimReport::answer_send_errors`]).

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use ticklane_feeds::moldudp64::{
    MoldError, MoldPacketBuilder, MoldRequest, Session, DEFAULT_MAX_PACKET, HEADER_LEN,
    MAX_DATA_COUNT,
};
use ticklane_feeds::rng::SeededRng;
use tracing::{debug, info, warn};

use crate::history::MessageHistory;

/// Largest UDP payload over IPv4 (65 535 − 8-byte UDP header − 20-byte IP header).
pub const MAX_UDP_PAYLOAD: usize = 65_507;
/// Default heartbeat interval: MoldUDP64 sends one per second on a quiet line.
pub const DEFAULT_HEARTBEAT_NS: u64 = 1_000_000_000;
/// Default time the retransmission server keeps answering after the end of session.
pub const DEFAULT_LINGER_NS: u64 = 2_000_000_000;
/// Paced runs: a data packet takes the messages whose event times are within this many
/// nanoseconds (event time, whatever the speed) of its first message's, up to the size and count
/// limits; the next message starts a new packet. See the module documentation.
pub const PACED_PACKET_WINDOW_NS: u64 = 10_000;
/// Default number of end-of-session packets per line.
pub const DEFAULT_END_OF_SESSION_REPEATS: u32 = 3;
/// Default cap on the messages answered per retransmission request.
pub const DEFAULT_MAX_REQUEST_MESSAGES: u16 = 1000;

/// Send buffer asked of the kernel for the publishing socket (best effort: the kernel may cap
/// it), so bursts at maximum speed are not refused locally.
const SEND_BUFFER_BYTES: usize = 4 << 20;
/// Longest the publisher sleeps at once while pacing or lingering (stop-flag latency), and the
/// retransmission server's receive timeout (shutdown latency).
const POLL: Duration = Duration::from_millis(10);
/// Gap between repeated end-of-session packets.
const END_OF_SESSION_GAP: Duration = Duration::from_millis(1);
/// First sequence number of a session when the history is empty.
const FIRST_SEQUENCE: u64 = 1;
/// A step back in event time larger than this (a second trading day in one file: ITCH times
/// start again at midnight; a splice) counts as no time when paced, as in the engine's own
/// paced replay; a smaller one keeps the absolute schedule.
const PACE_BACK_NS: u64 = 1_000_000_000;

/// How fast the session is published.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// As fast as possible; data packets are filled up to the size and count limits.
    Max,
    /// Event time scaled by this factor: `Speed(1.0)` is real time, `Speed(10.0)` ten times
    /// faster. Must be finite and positive.
    Speed(f64),
}

impl FromStr for Pace {
    type Err = SimError;

    /// Parses `max`, `1x`, `10x`, `0.5x` (the `x` is optional).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("max") {
            return Ok(Pace::Max);
        }
        let num = t
            .strip_suffix('x')
            .or_else(|| t.strip_suffix('X'))
            .unwrap_or(t);
        let bad = || SimError::Config {
            field: "speed",
            reason: format!("{s:?} is not `max` or a positive multiple such as `1x` or `10x`"),
        };
        let x: f64 = num.parse().map_err(|_| bad())?;
        if x.is_finite() && x > 0.0 {
            Ok(Pace::Speed(x))
        } else {
            Err(bad())
        }
    }
}

impl fmt::Display for Pace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pace::Max => f.write_str("max"),
            Pace::Speed(x) => write!(f, "{x}x"),
        }
    }
}

/// Seeded fault injection, applied to each line independently (line A and line B each draw from
/// their own stream derived from `seed`).
///
/// Per line and per data packet, three draws are always taken (so the loss pattern does not
/// depend on `dup` or `reorder`): with probability `loss` the packet is not sent; otherwise
/// with probability `dup` it is sent twice; and with probability `reorder` it is held back and
/// sent (with its duplicate, if any) right after the line's next data packet — or right when
/// that next packet is dropped, or just before the line's next heartbeat or end of session if
/// one comes first (both announce the sequence number past the held packet, so a receiver would
/// take its messages for a gap). Only one packet is held at a time: the reorder draw of the
/// packet that follows a held one is ignored (even when a heartbeat has released the held one
/// already, so that which packets are held does not depend on timing).
/// Heartbeats, end of session and retransmissions are never faulted.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Probability in `[0, 1]` that a data packet is dropped.
    pub loss: f64,
    /// Probability in `[0, 1]` that a data packet (not dropped) is sent twice.
    pub dup: f64,
    /// Probability in `[0, 1]` that a data packet (not dropped) is swapped with the next one.
    pub reorder: f64,
    /// Seed of the fault streams.
    pub seed: u64,
}

impl Faults {
    /// True when no fault can happen.
    pub fn is_none(&self) -> bool {
        self.loss == 0.0 && self.dup == 0.0 && self.reorder == 0.0
    }

    /// Checks that every probability is in `[0, 1]`; the error names the field.
    pub fn validate(&self) -> Result<(), SimError> {
        for (field, p) in [
            ("faults.loss", self.loss),
            ("faults.dup", self.dup),
            ("faults.reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(SimError::Config {
                    field,
                    reason: format!("probability {p} is not in [0, 1]"),
                });
            }
        }
        Ok(())
    }

    /// The fault stream of line `index` (0 = A, 1 = B): the `index`-th output of a generator
    /// seeded with `seed` seeds it, so lines never share a stream.
    fn stream(&self, index: usize) -> SeededRng {
        let mut root = SeededRng::new(self.seed);
        let mut line_seed = root.next_u64();
        for _ in 0..index {
            line_seed = root.next_u64();
        }
        SeededRng::new(line_seed)
    }
}

/// Everything the simulator needs besides the messages. [`SimConfig::new`] fills in defaults.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// MoldUDP64 session name, e.g. `*b"TICKLANE01"`.
    pub session: Session,
    /// Destination of line A (unicast address or multicast group).
    pub line_a: SocketAddr,
    /// Destination of line B: the same packets and sequence numbers, with its own faults.
    pub line_b: Option<SocketAddr>,
    /// Local address to send from.
    pub bind: SocketAddr,
    /// IP_MULTICAST_TTL (IPv6: hop limit) for multicast lines, `0..=255`.
    pub multicast_ttl: u32,
    /// IP_MULTICAST_LOOP: whether multicast is looped back to this host (so tests receive).
    pub multicast_loop: bool,
    /// Interface (by its IPv4 address) for outgoing IPv4 multicast; `None` = the OS's choice.
    pub multicast_if: Option<Ipv4Addr>,
    /// Where the retransmission server listens (UDP); `None` = no server.
    pub retransmit: Option<SocketAddr>,
    /// Publication speed.
    pub speed: Pace,
    /// Largest MoldUDP64 packet (the UDP payload), `22..=65507` bytes.
    pub max_packet: usize,
    /// Largest message count per data packet, `1..=0xFFFE`.
    pub max_messages_per_packet: u16,
    /// A data packet is sent once it holds this many messages even if more would fit
    /// (0 = no such bound). Otherwise, at [`Pace::Max`] packets are filled up to `max_packet`
    /// and `max_messages_per_packet`; when paced, a packet also ends before a message more than
    /// [`PACED_PACKET_WINDOW_NS`] of event time after its first (never because of timing).
    pub flush_every: u32,
    /// A heartbeat is sent on a line that has been quiet this long (0 = never).
    pub heartbeat_ns: u64,
    /// Fault injection, per line.
    pub faults: Faults,
    /// End-of-session packets sent per line, 1 ms apart, since UDP may lose one (0 = none, and
    /// none while lingering either).
    pub end_of_session_repeats: u32,
    /// How long the retransmission server keeps answering after the end of session; meanwhile
    /// a line quiet for `heartbeat_ns` gets end of session again, in place of a heartbeat.
    pub linger_ns: u64,
    /// Larger requests are answered with this many messages, at least 1.
    pub max_request_messages: u16,
    /// Answer a request with one packet only, as a MoldUDP64 server does ("the response to a
    /// valid Request Packet is a standard Downstream Packet"): a request for more than a packet
    /// holds is answered in part, and the receiver asks again for the rest. `false` (the
    /// default) answers with as many packets as the request (up to `max_request_messages`)
    /// needs.
    pub one_packet_answers: bool,
}

impl SimConfig {
    /// A configuration for `session` on line A `line_a`, with the defaults: no line B, sent
    /// from `127.0.0.1:0` (`[::1]:0` for IPv6) when `line_a` is a loopback address and from the
    /// unspecified address otherwise (a loopback-bound socket cannot reach other hosts),
    /// multicast TTL 1 with loopback on and the OS's interface, no retransmission server,
    /// [`Pace::Max`], 1400-byte packets of up to 0xFFFE messages, no `flush_every`, heartbeats
    /// after 1 s, no faults, 3 end-of-session packets, 2 s of lingering, requests capped at 1000
    /// messages.
    pub fn new(session: Session, line_a: SocketAddr) -> Self {
        let bind_ip = match line_a.ip() {
            IpAddr::V4(ip) if ip.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(ip) if ip.is_loopback() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        Self {
            session,
            line_a,
            line_b: None,
            bind: SocketAddr::new(bind_ip, 0),
            multicast_ttl: 1,
            multicast_loop: true,
            multicast_if: None,
            retransmit: None,
            speed: Pace::Max,
            max_packet: DEFAULT_MAX_PACKET,
            max_messages_per_packet: MAX_DATA_COUNT,
            flush_every: 0,
            heartbeat_ns: DEFAULT_HEARTBEAT_NS,
            faults: Faults::default(),
            end_of_session_repeats: DEFAULT_END_OF_SESSION_REPEATS,
            linger_ns: DEFAULT_LINGER_NS,
            max_request_messages: DEFAULT_MAX_REQUEST_MESSAGES,
            one_packet_answers: false,
        }
    }

    /// The line destinations, A first.
    pub fn lines(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        std::iter::once(self.line_a).chain(self.line_b)
    }

    /// Checks every setting; the error names the offending field.
    pub fn validate(&self) -> Result<(), SimError> {
        let err = |field: &'static str, reason: String| Err(SimError::Config { field, reason });
        for (field, addr) in [("line_a", Some(self.line_a)), ("line_b", self.line_b)] {
            let Some(addr) = addr else { continue };
            if addr.port() == 0 || addr.ip().is_unspecified() {
                return err(field, format!("{addr} is not a destination"));
            }
            if addr.is_ipv4() != self.bind.is_ipv4() {
                return err(
                    "bind",
                    format!(
                        "{} and {field} {addr} are not the same IP version",
                        self.bind
                    ),
                );
            }
            if self.multicast_if.is_some() && addr.is_ipv6() && addr.ip().is_multicast() {
                return err(
                    "multicast_if",
                    format!("an IPv4 interface cannot send to the IPv6 group {addr}"),
                );
            }
        }
        if let Some(interface) = self.multicast_if {
            if !self.lines().any(|a| a.is_ipv4() && a.ip().is_multicast()) {
                return err(
                    "multicast_if",
                    format!("{interface} is set but no line is an IPv4 multicast group"),
                );
            }
        }
        if self.multicast_ttl > 255 {
            return err(
                "multicast_ttl",
                format!("{} is over 255", self.multicast_ttl),
            );
        }
        if let Pace::Speed(x) = self.speed {
            if !(x.is_finite() && x > 0.0) {
                return err("speed", format!("{x} is not a finite positive multiple"));
            }
        }
        if !(HEADER_LEN + 2..=MAX_UDP_PAYLOAD).contains(&self.max_packet) {
            return err(
                "max_packet",
                format!(
                    "{} is not in {}..={MAX_UDP_PAYLOAD}",
                    self.max_packet,
                    HEADER_LEN + 2
                ),
            );
        }
        if !(1..=MAX_DATA_COUNT).contains(&self.max_messages_per_packet) {
            return err(
                "max_messages_per_packet",
                format!(
                    "{} is not in 1..={MAX_DATA_COUNT}",
                    self.max_messages_per_packet
                ),
            );
        }
        if self.max_request_messages == 0 {
            return err("max_request_messages", "must be at least 1".to_owned());
        }
        self.faults.validate()
    }

    /// Messages per data packet: `max_messages_per_packet`, lowered to `flush_every` if set.
    fn packet_count_limit(&self) -> u16 {
        match u16::try_from(self.flush_every) {
            Ok(0) => self.max_messages_per_packet,
            Ok(n) => n.min(self.max_messages_per_packet),
            Err(_) => self.max_messages_per_packet,
        }
    }
}

/// What happened on one line. Data packets are identified by `(first sequence, message count)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineReport {
    /// Datagrams actually sent: data packets (duplicates included), heartbeats, end of session.
    pub sent: u64,
    /// Data packets dropped by fault injection.
    pub dropped: u64,
    /// Data packets sent twice.
    pub duplicated: u64,
    /// Data packets held back: sent after the line's next data packet, or just before its next
    /// heartbeat or end of session if one comes first (see [`Faults`]).
    pub reordered: u64,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// End-of-session packets sent.
    pub end_of_session: u64,
    /// Sends the OS refused after the line's first successful send (counted, not fatal).
    pub send_errors: u64,
    /// Every dropped data packet, in order.
    pub dropped_sequences: Vec<(u64, u16)>,
    /// Every duplicated data packet, in order.
    pub duplicated_sequences: Vec<(u64, u16)>,
    /// Every reordered (held back) data packet, in order.
    pub reordered_sequences: Vec<(u64, u16)>,
}

/// What a [`Simulator::run`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimReport {
    /// Session messages published (packed into data packets).
    pub messages: u64,
    /// Data packets generated, before faults.
    pub packets: u64,
    /// Per line: `lines[0]` is line A, `lines[1]` line B when configured.
    pub lines: Vec<LineReport>,
    /// Sequence number announced by end of session (one past the last message published).
    pub end_sequence: u64,
    /// Whether the stop flag ended the run before the end of the history.
    pub stopped: bool,
    /// Datagrams received by the retransmission server (bad and unanswerable ones included).
    pub requests: u64,
    /// Messages sent in answer to requests.
    pub retransmitted_messages: u64,
    /// Packets sent in answer to requests.
    pub retransmit_packets: u64,
    /// Answer packets the retransmission server could not send (the socket refused them): the
    /// messages in them did not go out, and are not in `retransmitted_messages` nor their
    /// packets in `retransmit_packets`.
    pub answer_send_errors: u64,
    /// Requests that were malformed (not 20 bytes, count 0) or for another session.
    pub bad_requests: u64,
    /// Well-formed requests whose first message is not held or not yet published.
    pub unanswerable_requests: u64,
}

/// Why the simulator could not start or went on no further.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A setting is out of range or inconsistent.
    #[error("invalid simulator setting `{field}`: {reason}")]
    Config {
        /// The offending field of [`SimConfig`] (or `speed` for [`Pace`] parsing, `history`
        /// for the messages given to [`Simulator::run`]).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Opening, binding or configuring a socket failed.
    #[error("{what} ({addr})")]
    Socket {
        /// What was being done, e.g. "binding the retransmission server".
        what: &'static str,
        /// The address concerned.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The very first send on a line failed (no route, multicast refused...): the line cannot
    /// work, so the run ends. Later failures are only counted in [`LineReport::send_errors`].
    #[error("line {line} cannot send to {addr}")]
    Send {
        /// `'A'` or `'B'`.
        line: char,
        /// The line's destination.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// A message of the history does not fit a packet of `max_packet` bytes.
    #[error("message {sequence} cannot be published (max_packet)")]
    Pack {
        /// Its sequence number.
        sequence: u64,
        /// Why.
        source: MoldError,
    },
    /// The retransmission server thread could not be started.
    #[error("starting the retransmission server thread: {0}")]
    Thread(io::Error),
    /// The retransmission server thread panicked (a bug).
    #[error("the retransmission server thread panicked")]
    ServerPanicked,
}

/// The exchange simulator: sockets open and configuration checked, ready to [`Simulator::run`].
#[derive(Debug)]
pub struct Simulator {
    config: SimConfig,
    socket: UdpSocket,
    server: Option<UdpSocket>,
    server_addr: Option<SocketAddr>,
}

impl Simulator {
    /// Validates `config`, opens the publishing socket (send buffer, multicast TTL, loop and
    /// interface when a line is multicast) and binds the retransmission server.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        config.validate()?;
        let socket = open_publisher(&config)?;
        let (server, server_addr) = match config.retransmit {
            Some(addr) => {
                let server = open_server(addr)?;
                let local = server.local_addr().map_err(|source| SimError::Socket {
                    what: "reading the retransmission server's address",
                    addr,
                    source,
                })?;
                (Some(server), Some(local))
            }
            None => (None, None),
        };
        Ok(Self {
            config,
            socket,
            server,
            server_addr,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The retransmission server's actual address (useful with port 0).
    pub fn retransmit_addr(&self) -> Option<SocketAddr> {
        self.server_addr
    }

    /// The local address the lines are sent from.
    pub fn source_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }

    /// Publishes `history` (sequence numbers from `history.first_seq()`) to the end, then end of
    /// session, then lingers answering requests; returns early (still sending end of session,
    /// without lingering) when `stop` is set. `timestamp_of` gives a message's event time in ns
    /// for pacing (`None` = send immediately; unused at [`Pace::Max`]). Blocking; the
    /// retransmission server runs on its own thread meanwhile and is joined before returning.
    ///
    /// Each run starts the fault streams afresh from the seed. A history with a hole (messages
    /// missing between its runs) is refused before anything is sent (`SimError::Config`,
    /// field `history`, naming the hole): a MoldUDP64 session cannot skip sequence numbers.
    pub fn run(
        &mut self,
        history: &MessageHistory,
        timestamp_of: impl Fn(&[u8]) -> Option<u64>,
        stop: &AtomicBool,
    ) -> Result<SimReport, SimError> {
        if let Some((from, count)) = history.first_hole() {
            return Err(missing(from, count, history));
        }
        let first = history.first_seq().unwrap_or(FIRST_SEQUENCE);
        // A message no packet of `max_packet` holds: refused before anything is sent (found at
        // its turn, it ended the run after the packets before it, with no end of session).
        let max = MoldPacketBuilder::new(self.config.session, first)
            .with_max_packet(self.config.max_packet)
            .max_message_len();
        for seq in first..history.next_seq().unwrap_or(first) {
            if let Some(msg) = history.get(seq).filter(|m| m.len() > max) {
                return Err(SimError::Pack {
                    sequence: seq,
                    source: MoldError::MessageTooLarge {
                        len: msg.len(),
                        max,
                    },
                });
            }
        }
        let published = AtomicU64::new(first);
        let done = AtomicBool::new(false);
        let config = &self.config;
        let socket = &self.socket;
        info!(
            session = %String::from_utf8_lossy(&config.session),
            line_a = %config.line_a,
            line_b = ?config.line_b,
            retransmit = ?self.server_addr,
            speed = %config.speed,
            messages = history.len(),
            "simulator publishing"
        );
        std::thread::scope(|scope| {
            let server = match &self.server {
                Some(server_socket) => {
                    let (published, done) = (&published, &done);
                    let server = Server {
                        socket: server_socket,
                        history,
                        session: config.session,
                        max_packet: config.max_packet,
                        max_request_messages: config.max_request_messages,
                        one_packet_answers: config.one_packet_answers,
                        published,
                        done,
                    };
                    let handle = std::thread::Builder::new()
                        .name("ticklane-retransmit".to_owned())
                        .spawn_scoped(scope, move || server.serve())
                        .map_err(SimError::Thread)?;
                    Some(handle)
                }
                None => None,
            };
            // Sets `done` however the publisher ends (even by unwinding), so the scope can
            // always join the server.
            let guard = SetOnDrop(&done);
            let mut publisher = Publisher::new(config, socket);
            let outcome = publisher
                .publish(history, &timestamp_of, stop, &published)
                .and_then(|o| {
                    if !o.stopped {
                        let eos =
                            MoldPacketBuilder::new(config.session, o.end_sequence).end_of_session();
                        publisher.linger(&eos, stop)?;
                    }
                    Ok(o)
                });
            drop(guard);
            let counts = match server {
                Some(handle) => handle.join().map_err(|_| SimError::ServerPanicked)?,
                None => ServerCounts::default(),
            };
            let outcome = outcome?;
            let report = SimReport {
                messages: outcome.end_sequence.saturating_sub(first),
                packets: publisher.packets,
                lines: publisher.lines.into_iter().map(|l| l.report).collect(),
                end_sequence: outcome.end_sequence,
                stopped: outcome.stopped,
                requests: counts.requests,
                retransmitted_messages: counts.retransmitted_messages,
                retransmit_packets: counts.retransmit_packets,
                answer_send_errors: counts.answer_send_errors,
                bad_requests: counts.bad_requests,
                unanswerable_requests: counts.unanswerable_requests,
            };
            info!(?report, "simulator done");
            Ok(report)
        })
    }
}

/// The error for `count` messages from `from` missing from `history`.
fn missing(from: u64, count: u64, history: &MessageHistory) -> SimError {
    SimError::Config {
        field: "history",
        reason: format!(
            "messages {from} to {} are missing (the history holds {} runs of consecutive \
             messages); a session cannot skip sequence numbers",
            from + count.saturating_sub(1),
            history.runs()
        ),
    }
}

/// The wall clock. This module is an I/O edge: pacing, heartbeats and lingering are about real
/// time on the wire, so it reads the wall clock here (and only here).
#[allow(clippy::disallowed_methods)]
fn wall_now() -> Instant {
    Instant::now()
}

/// Sets the flag when dropped.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

fn socket_error(what: &'static str, addr: SocketAddr) -> impl FnOnce(io::Error) -> SimError {
    move |source| SimError::Socket { what, addr, source }
}

fn open_publisher(config: &SimConfig) -> Result<UdpSocket, SimError> {
    let bind = config.bind;
    let socket = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP))
        .map_err(socket_error("opening the publishing socket", bind))?;
    if let Err(e) = socket.set_send_buffer_size(SEND_BUFFER_BYTES) {
        debug!(error = %e, "could not enlarge the send buffer");
    }
    socket
        .bind(&SockAddr::from(bind))
        .map_err(socket_error("binding the publishing socket", bind))?;
    for addr in config.lines() {
        if !addr.ip().is_multicast() {
            continue;
        }
        if addr.is_ipv4() {
            socket
                .set_multicast_ttl_v4(config.multicast_ttl)
                .map_err(socket_error("setting IP_MULTICAST_TTL", addr))?;
            socket
                .set_multicast_loop_v4(config.multicast_loop)
                .map_err(socket_error("setting IP_MULTICAST_LOOP", addr))?;
            if let Some(interface) = config.multicast_if {
                socket
                    .set_multicast_if_v4(&interface)
                    .map_err(socket_error("setting IP_MULTICAST_IF", addr))?;
            }
        } else {
            socket
                .set_multicast_hops_v6(config.multicast_ttl)
                .map_err(socket_error("setting IPV6_MULTICAST_HOPS", addr))?;
            socket
                .set_multicast_loop_v6(config.multicast_loop)
                .map_err(socket_error("setting IPV6_MULTICAST_LOOP", addr))?;
        }
    }
    Ok(socket.into())
}

fn open_server(addr: SocketAddr) -> Result<UdpSocket, SimError> {
    let socket =
        UdpSocket::bind(addr).map_err(socket_error("binding the retransmission server", addr))?;
    socket.set_read_timeout(Some(POLL)).map_err(socket_error(
        "setting the retransmission server's timeout",
        addr,
    ))?;
    Ok(socket)
}

/// `true` with probability `p` (one draw, always taken).
fn draw(rng: &mut SeededRng, p: f64) -> bool {
    // 53 random bits as a uniform in [0, 1): exact in f64.
    let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    u < p
}

/// A packet held back for reordering: its bytes are in `Line::held`.
#[derive(Clone, Copy, Debug)]
struct Held {
    dup: bool,
}

/// One line's sending state.
struct Line {
    name: char,
    addr: SocketAddr,
    rng: SeededRng,
    held: Vec<u8>,
    held_info: Option<Held>,
    /// Whether the previous data packet was held back, released since or not: the next one is
    /// not held, so which packets are held depends on the draws alone, not on heartbeats.
    last_held: bool,
    last_send: Instant,
    report: LineReport,
}

impl Line {
    /// Sends one datagram (retrying on EINTR); `Ok(true)` when the socket took it. The first
    /// failure of a line that never sent anything is fatal; later failures are counted
    /// (`send_errors`) and return `Ok(false)`.
    fn send(&mut self, socket: &UdpSocket, bytes: &[u8], now: Instant) -> Result<bool, SimError> {
        self.last_send = now;
        loop {
            match socket.send_to(bytes, self.addr) {
                Ok(_) => {
                    self.report.sent += 1;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) if self.report.sent == 0 => {
                    return Err(SimError::Send {
                        line: self.name,
                        addr: self.addr,
                        source,
                    })
                }
                Err(e) => {
                    self.report.send_errors += 1;
                    if self.report.send_errors.is_power_of_two() {
                        warn!(line = %self.name, addr = %self.addr, error = %e,
                            errors = self.report.send_errors, "send failed");
                    }
                    return Ok(false);
                }
            }
        }
    }

    fn send_copies(
        &mut self,
        socket: &UdpSocket,
        bytes: &[u8],
        dup: bool,
        now: Instant,
    ) -> Result<(), SimError> {
        self.send(socket, bytes, now)?;
        if dup {
            self.send(socket, bytes, now)?;
        }
        Ok(())
    }

    /// Sends the held packet, if any.
    fn release_held(&mut self, socket: &UdpSocket, now: Instant) -> Result<(), SimError> {
        let Some(held) = self.held_info.take() else {
            return Ok(());
        };
        let bytes = std::mem::take(&mut self.held);
        let result = self.send_copies(socket, &bytes, held.dup, now);
        self.held = bytes;
        result
    }

    /// One data packet through the line's faults (see [`Faults`]).
    fn data_packet(
        &mut self,
        socket: &UdpSocket,
        faults: &Faults,
        packet: &[u8],
        id: (u64, u16),
        now: Instant,
    ) -> Result<(), SimError> {
        let lost = draw(&mut self.rng, faults.loss);
        let dup = draw(&mut self.rng, faults.dup);
        let reorder = draw(&mut self.rng, faults.reorder);
        let after_held = std::mem::replace(&mut self.last_held, false);
        if lost {
            self.report.dropped += 1;
            self.report.dropped_sequences.push(id);
            return self.release_held(socket, now);
        }
        if dup {
            self.report.duplicated += 1;
            self.report.duplicated_sequences.push(id);
        }
        // A packet still held here is the previous one: `after_held` is set.
        if reorder && !after_held {
            self.last_held = true;
            self.report.reordered += 1;
            self.report.reordered_sequences.push(id);
            self.held.clear();
            self.held.extend_from_slice(packet);
            self.held_info = Some(Held { dup });
            return Ok(());
        }
        self.send_copies(socket, packet, dup, now)?;
        self.release_held(socket, now)
    }
}

/// How a publication ended.
struct Outcome {
    end_sequence: u64,
    stopped: bool,
}

/// The publishing side: packetization, pacing, faults, heartbeats, end of session.
struct Publisher<'a> {
    config: &'a SimConfig,
    socket: &'a UdpSocket,
    lines: Vec<Line>,
    packets: u64,
}

impl<'a> Publisher<'a> {
    fn new(config: &'a SimConfig, socket: &'a UdpSocket) -> Self {
        let now = wall_now();
        let lines = config
            .lines()
            .zip(['A', 'B'])
            .enumerate()
            .map(|(i, (addr, name))| Line {
                name,
                addr,
                rng: config.faults.stream(i),
                held: Vec::new(),
                held_info: None,
                last_held: false,
                last_send: now,
                report: LineReport::default(),
            })
            .collect();
        Self {
            config,
            socket,
            lines,
            packets: 0,
        }
    }

    fn publish(
        &mut self,
        history: &MessageHistory,
        timestamp_of: &impl Fn(&[u8]) -> Option<u64>,
        stop: &AtomicBool,
        published: &AtomicU64,
    ) -> Result<Outcome, SimError> {
        let first = history.first_seq().unwrap_or(FIRST_SEQUENCE);
        let end = history.next_seq().unwrap_or(first);
        let mut builder = MoldPacketBuilder::new(self.config.session, first)
            .with_max_packet(self.config.max_packet)
            .with_max_count(self.config.packet_count_limit());
        // Pacing: the first timestamped message fixes (event time, wall time); message `m` is
        // due at wall start + (ts(m) - ts0) / speed, so sleeps do not accumulate drift.
        let mut pace_origin: Option<(u64, Instant)> = None;
        // Event time added to every later message after steps back (`PACE_BACK_NS`), and the
        // latest shifted time paced so far.
        let (mut pace_shift, mut pace_latest) = (0u64, 0u64);
        // Event time of the first message of the packet being filled (paced runs).
        let mut packet_ts: Option<u64> = None;
        let mut stopped = false;
        let mut seq = first;
        while seq < end {
            if stop.load(Ordering::Relaxed) {
                stopped = true;
                break;
            }
            // `run` refused a history with a hole.
            let Some(msg) = history.get(seq) else {
                return Err(missing(seq, 1, history));
            };
            let mut ts = None;
            if let Pace::Speed(speed) = self.config.speed {
                ts = timestamp_of(msg).map(|t| {
                    let mut t = t.saturating_add(pace_shift);
                    if t.saturating_add(PACE_BACK_NS) < pace_latest {
                        // A new day (or a splice): the step back is no time.
                        pace_shift = pace_shift.saturating_add(pace_latest - t);
                        t = pace_latest;
                    }
                    pace_latest = pace_latest.max(t);
                    t
                });
                // A packet the message would not fit goes out now, when its last message was
                // due, not after the wait for this one (same packets, earlier).
                if builder.pending_count() > 0
                    && (starts_packet(packet_ts, ts) || !builder.would_fit(msg.len()))
                {
                    self.flush(&mut builder, published)?;
                }
                if let Some(ts) = ts {
                    match pace_origin {
                        None => pace_origin = Some((ts, wall_now())),
                        Some((ts0, start)) => {
                            let due_ns = ts.saturating_sub(ts0) as f64 / speed;
                            if !self.wait(start, due_ns, &builder, stop)? {
                                stopped = true;
                                break;
                            }
                        }
                    }
                }
            }
            let pushed = builder.try_push(msg).map_err(|source| SimError::Pack {
                sequence: seq,
                source,
            })?;
            if !pushed {
                self.flush(&mut builder, published)?;
                let pushed = builder.try_push(msg).map_err(|source| SimError::Pack {
                    sequence: seq,
                    source,
                })?;
                if !pushed {
                    // An empty packet takes any message within the limit checked above.
                    return Err(SimError::Pack {
                        sequence: seq,
                        source: MoldError::MessageTooLarge {
                            len: msg.len(),
                            max: builder.max_message_len(),
                        },
                    });
                }
            }
            if builder.pending_count() == 1 {
                packet_ts = ts;
            }
            seq += 1;
        }
        self.flush(&mut builder, published)?;
        let now = wall_now();
        for line in &mut self.lines {
            line.release_held(self.socket, now)?;
        }
        self.end_of_session(&builder.end_of_session())?;
        Ok(Outcome {
            end_sequence: builder.next_sequence(),
            stopped,
        })
    }

    /// Sends the pending data packet (if any) on every line, publishes its messages to the
    /// retransmission server, and sends heartbeats on lines gone quiet.
    fn flush(
        &mut self,
        builder: &mut MoldPacketBuilder,
        published: &AtomicU64,
    ) -> Result<(), SimError> {
        let seq = builder.next_sequence();
        let count = builder.pending_count();
        let Some(packet) = builder.flush() else {
            return Ok(());
        };
        self.packets += 1;
        // Published before it is sent: a receiver may ask for it again as soon as it has seen
        // the packet (or the one after it).
        published.store(seq + u64::from(count), Ordering::Release);
        let now = wall_now();
        for line in &mut self.lines {
            line.data_packet(self.socket, &self.config.faults, packet, (seq, count), now)?;
        }
        self.heartbeats(&builder.heartbeat(), now)
    }

    /// Sends `end_of_session_repeats` end-of-session packets `eos` on every line, 1 ms apart;
    /// only those the socket took are counted.
    fn end_of_session(&mut self, eos: &[u8]) -> Result<(), SimError> {
        for i in 0..self.config.end_of_session_repeats {
            if i > 0 {
                std::thread::sleep(END_OF_SESSION_GAP);
            }
            let now = wall_now();
            for line in &mut self.lines {
                if line.send(self.socket, eos, now)? {
                    line.report.end_of_session += 1;
                }
            }
        }
        Ok(())
    }

    /// Sends a heartbeat on every line quiet for `heartbeat_ns` (counted if the socket took it).
    fn heartbeats(&mut self, heartbeat: &[u8], now: Instant) -> Result<(), SimError> {
        if self.config.heartbeat_ns == 0 {
            return Ok(());
        }
        let interval = Duration::from_nanos(self.config.heartbeat_ns);
        for line in &mut self.lines {
            if now.saturating_duration_since(line.last_send) >= interval {
                // The heartbeat announces the sequence number past a held packet: the packet
                // goes first, or the receiver would take its messages for a gap.
                line.release_held(self.socket, now)?;
                if line.send(self.socket, heartbeat, now)? {
                    line.report.heartbeats += 1;
                }
            }
        }
        Ok(())
    }

    /// Keeps the retransmission server up for `linger_ns` or until `stop`, sending `eos` (end
    /// of session) on every line quiet for `heartbeat_ns`: MoldUDP64 sends end of session in
    /// place of heartbeats while re-requests may still be made (none if
    /// `end_of_session_repeats` is 0).
    fn linger(&mut self, eos: &[u8], stop: &AtomicBool) -> Result<(), SimError> {
        let start = wall_now();
        let total = Duration::from_nanos(self.config.linger_ns);
        let repeat = self.config.heartbeat_ns > 0 && self.config.end_of_session_repeats > 0;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let now = wall_now();
            let left = total.saturating_sub(now.saturating_duration_since(start));
            if left.is_zero() {
                return Ok(());
            }
            if repeat {
                let interval = Duration::from_nanos(self.config.heartbeat_ns);
                for line in &mut self.lines {
                    if now.saturating_duration_since(line.last_send) >= interval
                        && line.send(self.socket, eos, now)?
                    {
                        line.report.end_of_session += 1;
                    }
                }
            }
            // Without repeats there is nothing to send: no wake-up for heartbeats (an overdue
            // line made `until_heartbeat` zero, a busy loop for the whole linger).
            let wake = if repeat {
                left.min(POLL).min(self.until_heartbeat(now))
            } else {
                left.min(POLL)
            };
            std::thread::sleep(wake);
        }
    }

    /// Time until the next heartbeat is due on some line.
    fn until_heartbeat(&self, now: Instant) -> Duration {
        if self.config.heartbeat_ns == 0 {
            return POLL;
        }
        let interval = Duration::from_nanos(self.config.heartbeat_ns);
        self.lines
            .iter()
            .map(|l| interval.saturating_sub(now.saturating_duration_since(l.last_send)))
            .min()
            .unwrap_or(POLL)
    }

    /// Waits until `due_ns` after `start`, sending heartbeats meanwhile: sleeps for long waits,
    /// yields then spins for the last stretch. `Ok(false)` when `stop` was set.
    fn wait(
        &mut self,
        start: Instant,
        due_ns: f64,
        builder: &MoldPacketBuilder,
        stop: &AtomicBool,
    ) -> Result<bool, SimError> {
        const SPIN_NS: f64 = 50_000.0;
        const SLEEP_MARGIN_NS: f64 = 1_000_000.0;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            let now = wall_now();
            let remaining = due_ns - elapsed_ns(start, now);
            if remaining <= 0.0 {
                return Ok(true);
            }
            self.heartbeats(&builder.heartbeat(), now)?;
            if remaining > 2.0 * SLEEP_MARGIN_NS {
                let nap = Duration::from_nanos((remaining - SLEEP_MARGIN_NS) as u64)
                    .min(POLL)
                    .min(self.until_heartbeat(now));
                std::thread::sleep(nap);
            } else if remaining > SPIN_NS {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// Paced runs: whether a message of event time `ts` starts a new packet after a non-empty one
/// whose first message's event time is `packet_ts` (see the module documentation).
fn starts_packet(packet_ts: Option<u64>, ts: Option<u64>) -> bool {
    match (packet_ts, ts) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(t0), Some(t)) => t.saturating_sub(t0) > PACED_PACKET_WINDOW_NS,
    }
}

/// Nanoseconds from `start` to `now` (0 if `now` is earlier).
fn elapsed_ns(start: Instant, now: Instant) -> f64 {
    now.saturating_duration_since(start).as_nanos() as f64
}

/// Counters of the retransmission server.
#[derive(Clone, Copy, Debug, Default)]
struct ServerCounts {
    requests: u64,
    retransmitted_messages: u64,
    retransmit_packets: u64,
    answer_send_errors: u64,
    bad_requests: u64,
    unanswerable_requests: u64,
}

/// The retransmission server: answers MoldUDP64 requests from the history, up to the published
/// high-water mark.
struct Server<'a> {
    socket: &'a UdpSocket,
    history: &'a MessageHistory,
    session: Session,
    max_packet: usize,
    max_request_messages: u16,
    /// See [`SimConfig::one_packet_answers`].
    one_packet_answers: bool,
    /// One past the last message published.
    published: &'a AtomicU64,
    done: &'a AtomicBool,
}

impl Server<'_> {
    fn serve(&self) -> ServerCounts {
        let mut counts = ServerCounts::default();
        // Room for any UDP payload, so an oversized datagram is seen whole (and rejected)
        // rather than truncated to something that looks like a request.
        let mut buf = vec![0u8; 1 << 16];
        while !self.done.load(Ordering::Acquire) {
            let (n, from) = match self.socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => {
                    // E.g. an ICMP error reported on some platforms: keep serving.
                    debug!(error = %e, "retransmission server receive failed");
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
            };
            counts.requests += 1;
            self.answer(buf.get(..n).unwrap_or(&[]), from, &mut counts);
        }
        counts
    }

    fn answer(&self, datagram: &[u8], from: SocketAddr, counts: &mut ServerCounts) {
        let socket = self.socket;
        self.answer_with(datagram, from, counts, |packet, to| {
            socket.send_to(packet, to).map(|_| ())
        });
    }

    /// [`Server::answer`], each answer packet handed to `send`: a packet it fails to send is
    /// counted ([`SimReport::answer_send_errors`]), not as sent.
    fn answer_with(
        &self,
        datagram: &[u8],
        from: SocketAddr,
        counts: &mut ServerCounts,
        mut send: impl FnMut(&[u8], SocketAddr) -> io::Result<()>,
    ) {
        let request = match MoldRequest::parse(datagram) {
            Ok(r) if r.session == self.session && r.count != 0 => r,
            Ok(r) => {
                counts.bad_requests += 1;
                debug!(%from, ?r, "bad retransmission request (session or count)");
                return;
            }
            Err(e) => {
                counts.bad_requests += 1;
                debug!(%from, error = %e, "malformed retransmission request");
                return;
            }
        };
        let published = self.published.load(Ordering::Acquire);
        let held_from = self.history.first_seq().unwrap_or(u64::MAX);
        if request.sequence < held_from || request.sequence >= published {
            counts.unanswerable_requests += 1;
            debug!(%from, ?request, held_from, published, "unanswerable request");
            return;
        }
        let wanted = u64::from(request.count.min(self.max_request_messages))
            .min(published - request.sequence);
        let (mut packets, mut messages) = (0u64, 0u64);
        let mut send_errors = counts.answer_send_errors;
        // With one-packet answers, the packets after the first are not sent.
        let mut emitted = 0u64;
        let packed = self.history.pack(
            self.session,
            request.sequence,
            wanted,
            self.max_packet,
            |packet| {
                emitted += 1;
                if self.one_packet_answers && emitted > 1 {
                    return;
                }
                match send(packet, from) {
                    Ok(()) => {
                        packets += 1;
                        let count = packet
                            .get(HEADER_LEN - 2..HEADER_LEN)
                            .and_then(|c| <[u8; 2]>::try_from(c).ok())
                            .map_or(0, u16::from_be_bytes);
                        messages += u64::from(count);
                    }
                    Err(e) => {
                        send_errors += 1;
                        if send_errors.is_power_of_two() {
                            warn!(%from, error = %e, errors = send_errors,
                            "retransmission answer could not be sent");
                        }
                    }
                }
            },
        );
        counts.answer_send_errors = send_errors;
        counts.retransmit_packets += packets;
        counts.retransmitted_messages += messages;
        match packed {
            Ok(n) if n > 0 => {}
            Ok(_) => counts.unanswerable_requests += 1,
            Err(e) => {
                counts.unanswerable_requests += 1;
                debug!(%from, ?request, error = %e, "request could not be packed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: Session = *b"SIMTEST001";

    /// A server over messages 1..=100 (10 bytes each), all published, packets of at most 3
    /// messages.
    fn with_server(f: impl FnOnce(&Server<'_>)) {
        with_server_answering(false, f);
    }

    /// [`with_server`], answering with one packet per request if `one_packet`.
    fn with_server_answering(one_packet: bool, f: impl FnOnce(&Server<'_>)) {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap_or_else(|e| panic!("{e}"));
        let mut history = MessageHistory::new(usize::MAX, usize::MAX);
        for seq in 1..=100u64 {
            history.push(seq, &[seq as u8; 10]);
        }
        let published = AtomicU64::new(101);
        let done = AtomicBool::new(false);
        let server = Server {
            socket: &socket,
            history: &history,
            session: SESSION,
            // Header, then 3 messages of 2 + 10 bytes.
            max_packet: HEADER_LEN + 3 * 12,
            max_request_messages: DEFAULT_MAX_REQUEST_MESSAGES,
            one_packet_answers: one_packet,
            published: &published,
            done: &done,
        };
        f(&server);
    }

    /// Heartbeats and end-of-session packets the socket refuses (after the line's first
    /// successful send, so not fatal) are counted as send errors only; they were counted as
    /// sent heartbeats and end-of-session packets too.
    #[test]
    fn heartbeats_and_end_of_session_the_socket_refuses_are_not_counted_as_sent() {
        // A socket bound to loopback cannot send to another host: every send fails.
        let mut config = SimConfig::new(SESSION, SocketAddr::from(([192, 0, 2, 1], 9)));
        config.bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        config.heartbeat_ns = 1;
        let socket = open_publisher(&config).unwrap_or_else(|e| panic!("{e}"));
        let mut publisher = Publisher::new(&config, &socket);
        // As if the line had sent before: its failures are counted, not fatal.
        publisher.lines[0].report.sent = 1;
        let builder = MoldPacketBuilder::new(SESSION, 1);
        let later = wall_now() + Duration::from_secs(1);
        publisher
            .heartbeats(&builder.heartbeat(), later)
            .unwrap_or_else(|e| panic!("{e}"));
        publisher
            .end_of_session(&builder.end_of_session())
            .unwrap_or_else(|e| panic!("{e}"));
        let r = &publisher.lines[0].report;
        assert_eq!(
            (r.sent, r.heartbeats, r.end_of_session, r.send_errors),
            (1, 0, 0, 1 + u64::from(DEFAULT_END_OF_SESSION_REPEATS))
        );
    }

    /// Every reorder draw true: every other packet is held back, whether or not a heartbeat
    /// released the held one before the next packet (when it had, the next one was held too, so
    /// which packets were held depended on the wall clock).
    #[test]
    fn which_packets_are_held_back_does_not_depend_on_heartbeats() {
        let sink = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap_or_else(|e| panic!("{e}"));
        let to = sink.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let config = SimConfig::new(SESSION, to);
        let socket = open_publisher(&config).unwrap_or_else(|e| panic!("{e}"));
        let faults = Faults {
            reorder: 1.0,
            ..Faults::default()
        };
        for heartbeats in [false, true] {
            let mut publisher = Publisher::new(&config, &socket);
            let line = &mut publisher.lines[0];
            let now = wall_now();
            for seq in 1..=6u64 {
                line.data_packet(&socket, &faults, b"packet", (seq, 1), now)
                    .unwrap_or_else(|e| panic!("{e}"));
                if heartbeats {
                    // What a heartbeat does first.
                    line.release_held(&socket, now)
                        .unwrap_or_else(|e| panic!("{e}"));
                }
            }
            assert_eq!(
                line.report.reordered_sequences,
                [(1, 1), (3, 1), (5, 1)],
                "heartbeats: {heartbeats}"
            );
        }
    }

    /// The socket refuses some answer packets (a full send buffer, no route): each is counted,
    /// and neither its packet nor its messages are counted as sent (before, a failed send was
    /// ignored without a trace).
    #[test]
    fn answer_packets_the_socket_refuses_are_counted_as_send_errors() {
        with_server(|server| {
            let client = SocketAddr::from((Ipv4Addr::LOCALHOST, 9));
            let request = MoldRequest {
                session: SESSION,
                sequence: 1,
                count: 30,
            }
            .encode();
            let mut counts = ServerCounts::default();
            let mut sent = Vec::new();
            let mut nth = 0u32;
            // 30 messages: 10 packets of 3. Every third send fails.
            server.answer_with(&request, client, &mut counts, |packet, to| {
                assert_eq!(to, client);
                nth += 1;
                if nth.is_multiple_of(3) {
                    return Err(io::Error::other("refused"));
                }
                sent.push(packet.to_vec());
                Ok(())
            });
            assert_eq!(nth, 10);
            assert_eq!(counts.answer_send_errors, 3);
            assert_eq!(counts.retransmit_packets, 7);
            assert_eq!(counts.retransmitted_messages, 21);
            assert_eq!(counts.unanswerable_requests, 0);
            assert_eq!(sent.len(), 7);
            // A second request: the counter goes on.
            server.answer_with(&request, client, &mut counts, |_, _| {
                Err(io::Error::other("refused"))
            });
            assert_eq!(counts.answer_send_errors, 13);
            assert_eq!(counts.retransmit_packets, 7);
            assert_eq!(counts.retransmitted_messages, 21);
        });
    }

    /// With `one_packet_answers`, a request for 30 messages (10 packets' worth) is answered
    /// with the first packet only: its first 3 messages, from the sequence asked for.
    #[test]
    fn one_packet_answers_send_the_first_packet_of_the_answer_only() {
        with_server_answering(true, |server| {
            let client = SocketAddr::from((Ipv4Addr::LOCALHOST, 9));
            let request = MoldRequest {
                session: SESSION,
                sequence: 7,
                count: 30,
            }
            .encode();
            let mut counts = ServerCounts::default();
            let mut sent = Vec::new();
            server.answer_with(&request, client, &mut counts, |packet, _| {
                sent.push(packet.to_vec());
                Ok(())
            });
            assert_eq!(sent.len(), 1);
            let p = ticklane_feeds::moldudp64::MoldPacket::parse(&sent[0])
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((p.sequence(), p.message_count()), (7, 3));
            assert_eq!(
                (counts.retransmit_packets, counts.retransmitted_messages),
                (1, 3)
            );
            assert_eq!(counts.unanswerable_requests, 0);
        });
    }
}
