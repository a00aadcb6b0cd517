//! The QUIC relay behind `ticklane relay` ([`RelayServer`]) and its client ([`RelayClient`],
//! [`RelayLine`]).
//!
//! A relay takes one MoldUDP64 session, in order (the UDP side has already deduplicated it and
//! recovered its gaps), and serves it to remote ticklane engines over QUIC: live packets as they
//! arrive, and catch-up (retransmission) from a bounded [`MessageHistory`]. This module owns the
//! wire protocol between relay and client, the per-subscriber fan-out and its slow-subscriber
//! policy, and authentication by token (TLS itself, including mutual TLS, is [`crate::tls`]).
//!
//! # Wire protocol (ALPN `ticklane-mold/1`, version 1)
//!
//! All integers are big-endian. MoldUDP64 packets travel unchanged (20-byte header, blocks).
//!
//! **Control stream.** The client opens one bidirectional stream and sends a *hello*:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | protocol version, `0x01` |
//! | 1 | live mode: `0x00` datagrams, `0x01` stream |
//! | 2 | token length `n` (at most [`MAX_TOKEN_LEN`]; `0` for no token) |
//! | n | token |
//!
//! The relay answers with a *welcome* — `0x00`, the 10-byte session, the u64 sequence number the
//! first live packet will carry (19 bytes; `0`: not known yet, see below) — or closes the connection with an application error
//! code ([`CloseCode`]) and a short reason: `0x10` UNAUTHORIZED (missing or wrong token, or no
//! verified client certificate when the relay has no token), `0x12` BAD_HELLO (malformed hello,
//! unknown version or mode, datagrams asked of a connection without datagram support, or no hello
//! within [`HELLO_TIMEOUT`]). Tokens are compared in constant time and never logged. When the
//! relay has a token, mutual TLS (if configured) is required *as well*; when it has none, only
//! clients with a verified certificate are admitted.
//!
//! When the session ends, the relay also writes an *end* frame on the control stream — `0x01`
//! and the u64 next sequence number (9 bytes) — and finishes it: the reliable end marker, since
//! a datagram may be lost. In datagram mode it does so only once every datagram has left its
//! send buffer, and the client still delivers datagrams that the end frame overtakes (until one
//! reaches the end, or none comes for a few round trips) before it reports end of session.
//! `0x13` PROTOCOL closes a connection whose peer broke these rules (e.g. a malformed packet).
//! `0x14` UPSTREAM_LOST closes every subscriber when the relay's own input stops before the end
//! of session (the exchange went silent, the relay was stopped): what was queued is delivered
//! first, and no end of session is made up. A client whose live path ends without an end of
//! session reports an error (the close reason, when the relay gave one), never a clean end.
//!
//! **Live packets** start at the welcome's sequence number, in order:
//!
//! - *Datagram mode*: each MoldUDP64 packet is one QUIC datagram. Datagrams may be lost (the
//!   client sees a sequence gap and fills it with catch-up) but never reordered by the relay. A
//!   packet larger than the connection's current maximum datagram size (QUIC starts at about
//!   1,150 bytes and grows with path MTU discovery) is re-split into several MoldUDP64 packets of
//!   the same messages; a single message too large for any datagram is left out (a gap, served
//!   by catch-up).
//! - *Stream mode*: the relay opens one unidirectional stream carrying u16-length-prefixed
//!   MoldUDP64 packets, finished after end of session.
//!
//! **Welcome `0`.** MoldUDP64 numbers messages from 1, so a welcome of `0` means "not known
//! yet": a relay that joined the exchange's session mid-stream (`ticklane relay --join`,
//! [`RelayConfig::first_sequence`] `None`) and has relayed nothing so far cannot say where its
//! live path will start. A client that joins (no first sequence number of its own) then joins on
//! the first live packet it receives, rather than taking messages from 1 for lost; any other
//! welcome is where the live path starts, and a first packet lost on the way is a gap.
//!
//! **Restart.** A relay that joined mid-session on a packet whose header was corrupt (its
//! sequence number far ahead) joins the session again where two later packets show the stream
//! really is ([`RelayInput::Rejoin`]), below what it relayed. Its live path then *restarts*: a
//! heartbeat announcing the new next sequence number, then packets from there (its catch-up
//! history is emptied; welcomes announce the new number). The relay never steps back on the live
//! path otherwise, so a client takes a heartbeat below the next sequence number it has seen on
//! the live path, or a data packet with nothing above it, below where the path's numbering
//! started, for a restart (in datagram mode, where the network may reorder datagrams, only a
//! step back of more than a reorder allowance): its
//! session joins again there, and what it delivered before counts as unreliable (the engine's
//! books go stale).
//!
//! Heartbeats and end of session travel as MoldUDP64 heartbeat (count 0) and end-of-session
//! (count `0xFFFF`) packets on the same path. `ticklane relay` forwards the exchange's
//! heartbeats (any burst of upstream datagrams with no new message), so a subscriber tells a
//! quiet session from a dead exchange as it would on the exchange's own feed; none is sent
//! before the first data packet (it would announce a sequence number the relay does not know). After end of session the relay keeps the
//! connection open for catch-up until the client closes it or [`RelayConfig::linger`] passes,
//! then closes it with code `0x00` END_OF_SESSION.
//!
//! **Catch-up.** The client opens another bidirectional stream, writes a 20-byte MoldUDP64
//! request (session, first sequence number, count) and finishes its side. The relay answers with
//! u16-length-prefixed MoldUDP64 data packets (at most [`DEFAULT_MAX_PACKET`] bytes each) holding
//! the messages of the range that its history still holds, in order — within the first
//! [`RelayConfig::max_catchup_messages`] of the range — and finishes the stream. A hole in the
//! history (messages the relay's own upstream lost) is skipped: the answer jumps over it, so a
//! request that starts in the hole still gets what the relay holds after it. The answer is
//! empty (the stream is finished at once) when nothing of the range is held (too old, not yet
//! received, or another session). A client
//! may have up to 15 catch-ups in flight besides the control stream.
//!
//! # Fan-out and slow subscribers
//!
//! Every subscriber has its own bounded queue ([`RelayConfig::subscriber_queue`] packets) and its
//! own task that drains it into QUIC. The relay's input loop only ever `try_send`s: it never
//! awaits a subscriber. A subscriber whose queue is full is disconnected with `0x11` SLOW (and a
//! `tracing::warn!` naming its address); the others are unaffected. In stream mode QUIC flow
//! control makes a client that stops reading fill its queue; in datagram mode only congestion
//! (the relay waits for datagram buffer space) does, since a client that does not read simply
//! loses datagrams.
//!
//! A new subscriber is registered, and its welcome's sequence number taken, under the same lock
//! that the input loop holds while it records and forwards a packet, so the live path starts
//! exactly at the welcome's sequence number. Before the first packet the relay announces where
//! its upstream starts ([`RelayConfig::first_sequence`]: `1`), or `0`, "not known yet", when
//! it joined mid-session; a client welcomed with `0` joins on the first packet it receives.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use quinn::{Connection, ConnectionError, Endpoint, RecvStream, SendStream, VarInt};
use ticklane_feeds::moldudp64::{
    MoldError, MoldPacket, MoldPacketBuilder, MoldRequest, PacketKind, Session, DEFAULT_MAX_PACKET,
    END_OF_SESSION_COUNT, HEADER_LEN,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::history::MessageHistory;
use crate::tls::TlsError;

/// Default bound of the catch-up history, in messages.
pub const DEFAULT_HISTORY_MESSAGES: usize = 1_000_000;
/// Default bound of the catch-up history, in message bytes.
pub const DEFAULT_HISTORY_BYTES: usize = 256 << 20;
/// Default per-subscriber queue, in packets, before a subscriber is disconnected as slow.
pub const DEFAULT_SUBSCRIBER_QUEUE: usize = 4096;
/// Largest per-subscriber queue [`RelayServer::bind`] accepts, in packets (a queue is a tokio
/// channel, whose semaphore refuses more than about 2^61 permits: every connection task
/// panicked on a larger one).
pub const MAX_SUBSCRIBER_QUEUE: usize = 1 << 20;
/// Default bound on the messages of one catch-up answer.
pub const DEFAULT_MAX_CATCHUP_MESSAGES: u64 = 100_000;
/// Default time the relay keeps a connection open after end of session.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(5);
/// Time a client has to send its hello (and a catch-up stream its request).
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// Time [`RelayClient::connect`] waits for the handshake and the welcome.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Version byte of the hello.
pub const PROTOCOL_VERSION: u8 = 1;
/// Longest token a hello may carry, in bytes.
pub const MAX_TOKEN_LEN: usize = 1024;

/// Control frame type of the welcome.
const FRAME_WELCOME: u8 = 0x00;
/// Control frame type of the end-of-session marker.
const FRAME_END: u8 = 0x01;
const WELCOME_LEN: usize = 1 + 10 + 8;
const END_LEN: usize = 1 + 8;
/// Messages packed per history lock while answering a catch-up.
const CATCHUP_CHUNK: u64 = 1024;
/// Bytes a stream-mode subscriber task gathers from its queue into one write.
const STREAM_BATCH: usize = 64 << 10;
/// Largest read from a stream in one go.
const READ_CHUNK: usize = 64 << 10;
/// Input items handled per wake-up of the relay loop before it looks at new connections again.
const INPUT_BATCH: usize = 256;
/// Kernel buffer size asked for the UDP sockets of relay and client.
const SOCKET_BUFFER: usize = 8 << 20;
/// How often the relay looks whether a subscriber's datagrams have all left, at end of session.
const DATAGRAM_DRAIN_POLL: Duration = Duration::from_millis(1);
/// Shortest wait for datagrams still in flight after the end frame (datagram mode).
const MIN_END_GRACE: Duration = Duration::from_millis(50);
/// Longest wait for datagrams still in flight after the end frame (datagram mode).
const MAX_END_GRACE: Duration = Duration::from_millis(500);
/// How long a client whose live path ended without an end of session waits for the relay's
/// close (and its reason) before it reports the end as a protocol error.
const CLOSE_REASON_WAIT: Duration = Duration::from_secs(2);

/// Packets buffered between a [`RelayLine`]'s runtime thread and its reader.
const LINE_QUEUE: usize = 16 * 1024;

/// Application error codes with which the relay (or a client) closes a connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum CloseCode {
    /// `0x00`: clean end (end of session, relay shutdown, or client done).
    EndOfSession,
    /// `0x10`: missing or wrong token, or no verified client certificate.
    Unauthorized,
    /// `0x11`: the subscriber's queue filled up.
    Slow,
    /// `0x12`: malformed hello, or none in time.
    BadHello,
    /// `0x13`: any other violation of the protocol.
    Protocol,
    /// `0x14`: the relay's own input (the exchange feed it relays) stopped before the end of
    /// session, or the relay was shut down: what the exchange sent after the last packet relayed
    /// is unknown. Never sent as an end of session, which would tell the subscriber the session
    /// ended cleanly.
    UpstreamLost,
}

impl CloseCode {
    /// The code on the wire.
    pub const fn code(self) -> u32 {
        match self {
            CloseCode::EndOfSession => 0x00,
            CloseCode::Unauthorized => 0x10,
            CloseCode::Slow => 0x11,
            CloseCode::BadHello => 0x12,
            CloseCode::Protocol => 0x13,
            CloseCode::UpstreamLost => 0x14,
        }
    }

    /// The code for a wire value, if it is one of ours.
    pub const fn from_code(code: u64) -> Option<Self> {
        match code {
            0x00 => Some(CloseCode::EndOfSession),
            0x10 => Some(CloseCode::Unauthorized),
            0x11 => Some(CloseCode::Slow),
            0x12 => Some(CloseCode::BadHello),
            0x13 => Some(CloseCode::Protocol),
            0x14 => Some(CloseCode::UpstreamLost),
            _ => None,
        }
    }

    fn var(self) -> VarInt {
        VarInt::from_u32(self.code())
    }
}

/// How a subscriber receives live packets.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum LiveMode {
    /// One QUIC datagram per packet: lowest latency, may lose packets (fill gaps with catch-up).
    Datagrams,
    /// One unidirectional stream of length-prefixed packets: reliable, head-of-line blocking.
    Stream,
}

impl LiveMode {
    const fn wire(self) -> u8 {
        match self {
            LiveMode::Datagrams => 0,
            LiveMode::Stream => 1,
        }
    }

    const fn from_wire(b: u8) -> Option<Self> {
        match b {
            0 => Some(LiveMode::Datagrams),
            1 => Some(LiveMode::Stream),
            _ => None,
        }
    }
}

/// What the relay tells a subscriber it admitted.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Welcome {
    /// The MoldUDP64 session served.
    pub session: Session,
    /// Sequence number of the first message of the live path (earlier ones: catch-up); `0`
    /// when the relay does not know it yet (it joined mid-session and has relayed nothing).
    pub next_seq: u64,
}

/// Errors of the relay and its client.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Building TLS configurations failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Binding a socket or starting a thread or runtime failed.
    #[error("relay I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The connection could not be started (e.g. an invalid server name).
    #[error("cannot connect to the relay: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The connection failed or was lost: TLS handshake failure (e.g. a refused certificate),
    /// timeout, reset.
    #[error("relay connection: {0}")]
    Connection(ConnectionError),
    /// The peer closed the connection with an application error code (see [`CloseCode`]).
    #[error("connection closed with code {code:#x} ({}): {reason}", close_name(*.code))]
    Closed {
        /// The application error code.
        code: u64,
        /// The peer's reason.
        reason: String,
    },
    /// The peer violated the protocol.
    #[error("relay protocol violation: {0}")]
    Protocol(String),
    /// The relay did not answer in time.
    #[error("the relay did not answer in time")]
    Timeout,
    /// The relay's configuration is unusable.
    #[error("relay configuration: {0}")]
    Config(&'static str),
    /// A [`RelayLine`]'s thread stopped before connecting.
    #[error("the relay line's thread stopped")]
    LineStopped,
}

fn close_name(code: u64) -> &'static str {
    match CloseCode::from_code(code) {
        Some(CloseCode::EndOfSession) => "END_OF_SESSION",
        Some(CloseCode::Unauthorized) => "UNAUTHORIZED",
        Some(CloseCode::Slow) => "SLOW",
        Some(CloseCode::BadHello) => "BAD_HELLO",
        Some(CloseCode::Protocol) => "PROTOCOL",
        Some(CloseCode::UpstreamLost) => "UPSTREAM_LOST",
        None => "unknown",
    }
}

impl RelayError {
    /// The application close code, when the peer closed the connection with one.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            RelayError::Closed { code, .. } => CloseCode::from_code(*code),
            _ => None,
        }
    }

    /// Whether this is the clean end of a session (closed with `0x00`).
    fn is_clean_end(&self) -> bool {
        self.close_code() == Some(CloseCode::EndOfSession)
    }
}

impl From<ConnectionError> for RelayError {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::ApplicationClosed(c) => RelayError::Closed {
                code: c.error_code.into_inner(),
                reason: String::from_utf8_lossy(&c.reason).into_owned(),
            },
            e => RelayError::Connection(e),
        }
    }
}

impl From<quinn::ReadError> for RelayError {
    fn from(e: quinn::ReadError) -> Self {
        match e {
            quinn::ReadError::ConnectionLost(e) => e.into(),
            e => RelayError::Protocol(e.to_string()),
        }
    }
}

impl From<quinn::ReadExactError> for RelayError {
    fn from(e: quinn::ReadExactError) -> Self {
        match e {
            quinn::ReadExactError::ReadError(e) => e.into(),
            e => RelayError::Protocol(e.to_string()),
        }
    }
}

impl From<quinn::WriteError> for RelayError {
    fn from(e: quinn::WriteError) -> Self {
        match e {
            quinn::WriteError::ConnectionLost(e) => e.into(),
            e => RelayError::Protocol(e.to_string()),
        }
    }
}

impl From<quinn::ClosedStream> for RelayError {
    fn from(e: quinn::ClosedStream) -> Self {
        RelayError::Protocol(e.to_string())
    }
}

impl From<quinn::SendDatagramError> for RelayError {
    fn from(e: quinn::SendDatagramError) -> Self {
        match e {
            quinn::SendDatagramError::ConnectionLost(e) => e.into(),
            e => RelayError::Protocol(e.to_string()),
        }
    }
}

impl From<MoldError> for RelayError {
    fn from(e: MoldError) -> Self {
        RelayError::Protocol(e.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration, input, statistics
// ---------------------------------------------------------------------------------------------

/// Configuration of a relay. [`RelayConfig::new`] fills in the defaults.
pub struct RelayConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port; see [`RelayServer::local_addr`]).
    pub listen: SocketAddr,
    /// QUIC server configuration, from [`crate::tls::server_config`].
    pub server: quinn::ServerConfig,
    /// Token every client must present. `None` admits only clients with a verified certificate,
    /// so it is meant for mutual TLS (without it, every client is refused).
    pub token: Option<String>,
    /// The MoldUDP64 session relayed; input packets of another session are dropped.
    pub session: Session,
    /// Catch-up history bound, in messages.
    pub history_messages: usize,
    /// Catch-up history bound, in message bytes.
    pub history_bytes: usize,
    /// Packets queued per subscriber before it is disconnected as slow:
    /// `1..=`[`MAX_SUBSCRIBER_QUEUE`].
    pub subscriber_queue: usize,
    /// Most messages answered per catch-up request.
    pub max_catchup_messages: u64,
    /// How long a connection stays open after end of session, for catch-up, unless the client
    /// closes it first.
    pub linger: Duration,
    /// Sequence number the upstream starts at, announced to subscribers admitted before the
    /// first packet: `Some(1)` (the default) for a relay that reads the session from its start,
    /// `None` for one that joins mid-session (`ticklane relay --join`), which welcomes them
    /// with `0`, "not known yet" (announcing 1 made a joining subscriber take every message
    /// before the relay's first packet for lost).
    pub first_sequence: Option<u64>,
}

impl RelayConfig {
    /// A configuration with the default bounds.
    pub fn new(
        listen: SocketAddr,
        server: quinn::ServerConfig,
        token: Option<String>,
        session: Session,
    ) -> Self {
        Self {
            listen,
            server,
            token,
            session,
            history_messages: DEFAULT_HISTORY_MESSAGES,
            history_bytes: DEFAULT_HISTORY_BYTES,
            subscriber_queue: DEFAULT_SUBSCRIBER_QUEUE,
            max_catchup_messages: DEFAULT_MAX_CATCHUP_MESSAGES,
            linger: DEFAULT_LINGER,
            first_sequence: Some(1),
        }
    }
}

impl std::fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("session", &String::from_utf8_lossy(&self.session))
            .field("history_messages", &self.history_messages)
            .field("history_bytes", &self.history_bytes)
            .field("subscriber_queue", &self.subscriber_queue)
            .field("max_catchup_messages", &self.max_catchup_messages)
            .field("linger", &self.linger)
            .finish_non_exhaustive()
    }
}

/// What the UDP side hands the relay, in order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RelayInput {
    /// A MoldUDP64 data packet of the relay's session whose messages come next in sequence.
    /// Forwarded unchanged (zero-copy) and recorded in the history. A heartbeat or end-of-session
    /// packet given here is treated as [`RelayInput::Heartbeat`] / [`RelayInput::EndOfSession`].
    /// A packet that is malformed, of another session, longer than 65,535 bytes or wholly
    /// before the next sequence number is dropped (counted in
    /// [`RelayStatsSnapshot::input_dropped`]); one that jumps ahead is forwarded (subscribers see
    /// the same gap) and starts a new run of the history: what came before the jump is still
    /// served to catch-up.
    Packet(Bytes),
    /// Forward a MoldUDP64 heartbeat announcing the next sequence number.
    Heartbeat,
    /// The session ended; the next sequence number. Forwarded as a MoldUDP64 end-of-session
    /// packet; later packets are dropped.
    EndOfSession(u64),
    /// The upstream joined the session again at this sequence number, below what was relayed
    /// (it had joined mid-session on a packet whose sequence number was corrupt:
    /// [`ticklane_feeds::moldudp64::session::SessionSink::rejoined`]). The live path restarts
    /// there: the history is emptied, subscribers get a heartbeat announcing it (their cue to
    /// join again, see the module docs), and packets from it are relayed (they used to be
    /// dropped as duplicates for the rest of the session). Ignored after the end of session.
    Rejoin(u64),
}

/// Relay counters, updated with relaxed atomics; read them with [`RelayStats::snapshot`].
#[derive(Debug, Default)]
pub struct RelayStats {
    subscribers_now: AtomicU64,
    subscribed_total: AtomicU64,
    refused: AtomicU64,
    handshake_failed: AtomicU64,
    bad_hello: AtomicU64,
    disconnected_slow: AtomicU64,
    packets_in: AtomicU64,
    messages_in: AtomicU64,
    input_dropped: AtomicU64,
    rejoins: AtomicU64,
    packets_out: AtomicU64,
    catchup_requests: AtomicU64,
    catchup_messages: AtomicU64,
}

/// A copy of [`RelayStats`] at one moment.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RelayStatsSnapshot {
    /// Subscribers connected now.
    pub subscribers_now: u64,
    /// Subscribers admitted since start.
    pub subscribed_total: u64,
    /// Connections refused for authentication (token, or no verified client certificate).
    pub refused: u64,
    /// Connections whose QUIC/TLS handshake failed (including refused client certificates).
    pub handshake_failed: u64,
    /// Connections closed for a bad or missing hello.
    pub bad_hello: u64,
    /// Subscribers disconnected because their queue filled up.
    pub disconnected_slow: u64,
    /// Data packets received from the input.
    pub packets_in: u64,
    /// Messages in those packets.
    pub messages_in: u64,
    /// Input packets dropped (malformed, another session, duplicate, after end of session).
    pub input_dropped: u64,
    /// Restarts of the live path ([`RelayInput::Rejoin`]).
    pub rejoins: u64,
    /// Packets sent to subscribers on the live path (datagrams or stream frames), all together.
    pub packets_out: u64,
    /// Catch-up requests received.
    pub catchup_requests: u64,
    /// Messages sent in catch-up answers.
    pub catchup_messages: u64,
}

impl RelayStats {
    /// Zeroed counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counters now.
    pub fn snapshot(&self) -> RelayStatsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RelayStatsSnapshot {
            subscribers_now: get(&self.subscribers_now),
            subscribed_total: get(&self.subscribed_total),
            refused: get(&self.refused),
            handshake_failed: get(&self.handshake_failed),
            bad_hello: get(&self.bad_hello),
            disconnected_slow: get(&self.disconnected_slow),
            packets_in: get(&self.packets_in),
            messages_in: get(&self.messages_in),
            input_dropped: get(&self.input_dropped),
            rejoins: get(&self.rejoins),
            packets_out: get(&self.packets_out),
            catchup_requests: get(&self.catchup_requests),
            catchup_messages: get(&self.catchup_messages),
        }
    }
}

fn inc(a: &AtomicU64) {
    add(a, 1);
}

fn add(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// Relay server
// ---------------------------------------------------------------------------------------------

/// Entry point of the relay: [`Relay::run`] binds and serves in one call.
#[derive(Debug)]
pub struct Relay;

impl Relay {
    /// Binds `config.listen` and serves until `input` closes (then sends end of session to every
    /// subscriber, lets them finish, and closes). Must run on a tokio runtime.
    pub async fn run(
        config: RelayConfig,
        input: mpsc::Receiver<RelayInput>,
        stats: Arc<RelayStats>,
    ) -> Result<(), RelayError> {
        RelayServer::bind(config)?.run(input, stats).await
    }
}

/// A bound relay, not yet serving (so that its address can be read first).
pub struct RelayServer {
    endpoint: Endpoint,
    local_addr: SocketAddr,
    config: RelayConfig,
}

impl std::fmt::Debug for RelayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayServer")
            .field("local_addr", &self.local_addr)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A subscriber as the fan-out sees it.
struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Bytes>,
    conn: Connection,
    peer: SocketAddr,
}

/// What the input loop and the connection tasks share, under one lock.
struct Hub {
    history: MessageHistory,
    /// Sequence number after the last message forwarded; `None` before the first packet.
    next_seq: Option<u64>,
    /// What a welcome announces before the first packet ([`RelayConfig::first_sequence`];
    /// `0`: not known yet).
    announce_first: u64,
    ended: bool,
    /// The relay's input has stopped ([`Shared::finish`]): nothing more will be fanned out.
    input_closed: bool,
    warned_after_end: bool,
    subscribers: Vec<Subscriber>,
    next_id: u64,
}

struct Shared {
    session: Session,
    token: Option<Vec<u8>>,
    subscriber_queue: usize,
    max_catchup: u64,
    linger: Duration,
    stats: Arc<RelayStats>,
    hub: Mutex<Hub>,
}

impl Shared {
    fn hub(&self) -> MutexGuard<'_, Hub> {
        // A panic while holding the lock cannot leave the hub inconsistent in a way that matters
        // more than stopping the relay would, so poisoning is ignored.
        self.hub.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_seq(hub: &Hub) -> u64 {
        hub.next_seq.unwrap_or(hub.announce_first)
    }

    fn header_packet(&self, sequence: u64, eos: bool) -> Bytes {
        let b = MoldPacketBuilder::new(self.session, sequence);
        let h = if eos {
            b.end_of_session()
        } else {
            b.heartbeat()
        };
        Bytes::copy_from_slice(&h)
    }

    /// Registers a subscriber and returns its id and welcome, atomically with the fan-out.
    fn register(&self, tx: mpsc::Sender<Bytes>, conn: Connection, peer: SocketAddr) -> (u64, u64) {
        let mut hub = self.hub();
        let next_seq = Self::next_seq(&hub);
        if hub.ended {
            // Nothing more will come: the subscriber gets its end of session at once.
            let _ = tx.try_send(self.header_packet(next_seq, true));
        }
        let id = hub.next_id;
        hub.next_id += 1;
        if hub.input_closed && !hub.ended {
            // Admitted while the relay's input stopped short of the end of session: its queue
            // is closed at once (`tx` dropped here), so it is closed with UPSTREAM_LOST.
            drop(tx);
        } else {
            hub.subscribers.push(Subscriber { id, tx, conn, peer });
        }
        inc(&self.stats.subscribers_now);
        inc(&self.stats.subscribed_total);
        (id, next_seq)
    }

    fn unregister(&self, id: u64) {
        self.hub().subscribers.retain(|s| s.id != id);
        self.stats.subscribers_now.fetch_sub(1, Ordering::Relaxed);
    }

    fn apply(&self, item: RelayInput) {
        let mut hub = self.hub();
        match item {
            RelayInput::Packet(bytes) => self.on_packet(&mut hub, bytes),
            RelayInput::Heartbeat => self.on_heartbeat(&mut hub),
            RelayInput::EndOfSession(next) => self.on_end(&mut hub, next),
            RelayInput::Rejoin(next) => self.on_rejoin(&mut hub, next),
        }
    }

    fn drop_input(&self, why: &str) {
        inc(&self.stats.input_dropped);
        tracing::warn!(why, "relay input packet dropped");
    }

    fn on_packet(&self, hub: &mut Hub, bytes: Bytes) {
        if bytes.len() > usize::from(u16::MAX) {
            return self.drop_input("longer than 65535 bytes");
        }
        let packet = match MoldPacket::parse(&bytes) {
            Ok(p) => p,
            Err(e) => return self.drop_input(&e.to_string()),
        };
        if *packet.session() != self.session {
            return self.drop_input("another session");
        }
        match packet.kind() {
            PacketKind::Heartbeat => return self.on_heartbeat(hub),
            PacketKind::EndOfSession => return self.on_end(hub, packet.sequence()),
            PacketKind::Data => {}
        }
        if hub.ended {
            inc(&self.stats.input_dropped);
            if !hub.warned_after_end {
                hub.warned_after_end = true;
                tracing::warn!("relay input packets after end of session are dropped");
            }
            return;
        }
        let seq = packet.sequence();
        let next = packet.next_sequence();
        let expected = hub.next_seq;
        if let Some(expected) = expected {
            if next <= expected {
                inc(&self.stats.input_dropped);
                tracing::debug!(seq, expected, "relay input duplicate dropped");
                return;
            }
            if seq > expected {
                tracing::warn!(
                    expected,
                    got = seq,
                    "relay input skipped sequence numbers; catch-up cannot serve them"
                );
            }
        }
        for (i, msg) in packet.messages().enumerate() {
            let Ok(msg) = msg else { break };
            let s = seq.saturating_add(i as u64);
            if expected.is_none_or(|e| s >= e) {
                hub.history.push(s, msg);
            }
        }
        hub.next_seq = Some(next);
        inc(&self.stats.packets_in);
        add(&self.stats.messages_in, packet.len() as u64);
        self.broadcast(hub, &bytes);
    }

    fn on_heartbeat(&self, hub: &mut Hub) {
        // Before the first data packet the next sequence number is unknown: announcing 1 would
        // make a subscriber wait for messages that will never come.
        if hub.ended || hub.next_seq.is_none() {
            return;
        }
        let p = self.header_packet(Self::next_seq(hub), false);
        self.broadcast(hub, &p);
    }

    /// The upstream joined the session again at `next`: the live path restarts there (see
    /// [`RelayInput::Rejoin`]).
    fn on_rejoin(&self, hub: &mut Hub, next: u64) {
        if hub.ended {
            tracing::warn!(next, "relay input rejoin after the end of session ignored");
            return;
        }
        tracing::warn!(
            next,
            relayed = Self::next_seq(hub),
            "the relay's upstream joined the session again (its first packet had a corrupt \
             sequence number): the live path restarts at message {next}, catch-up history \
             emptied"
        );
        hub.history.clear();
        hub.next_seq = Some(next);
        inc(&self.stats.rejoins);
        // The subscribers' cue: a step back on the live path.
        let p = self.header_packet(next, false);
        self.broadcast(hub, &p);
    }

    fn on_end(&self, hub: &mut Hub, next: u64) {
        if hub.ended {
            return;
        }
        if hub.next_seq.is_some_and(|n| n != next) {
            tracing::warn!(
                announced = next,
                relayed = Self::next_seq(hub),
                "end of session announces another sequence number than relayed"
            );
        }
        hub.next_seq = Some(next);
        hub.ended = true;
        let p = self.header_packet(next, true);
        self.broadcast(hub, &p);
    }

    /// Queues `packet` for every subscriber without waiting; disconnects those that are full.
    fn broadcast(&self, hub: &mut Hub, packet: &Bytes) {
        let queue = self.subscriber_queue;
        let stats = &self.stats;
        hub.subscribers
            .retain(|s| match s.tx.try_send(packet.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        peer = %s.peer,
                        queue,
                        "relay subscriber too slow (queue full); disconnecting"
                    );
                    s.conn
                        .close(CloseCode::Slow.var(), b"slow subscriber: queue full");
                    inc(&stats.disconnected_slow);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
    }

    /// End of input: the queues drain, and each subscriber is then closed with end of session
    /// if the exchange's end of session was relayed, else with [`CloseCode::UpstreamLost`] (no
    /// end of session is made up: the session did not end, the relay's view of it did).
    fn finish(&self) {
        let mut hub = self.hub();
        hub.input_closed = true;
        if !hub.ended {
            tracing::warn!(
                next = Self::next_seq(&hub),
                subscribers = hub.subscribers.len(),
                "relay input stopped before the end of session: subscribers are closed with \
                 UPSTREAM_LOST, not sent an end of session"
            );
        }
        hub.subscribers.clear();
    }
}

impl RelayServer {
    /// Binds the QUIC endpoint on `config.listen`. Must be called within a tokio runtime.
    /// Refuses an empty token, or one longer than [`MAX_TOKEN_LEN`].
    pub fn bind(config: RelayConfig) -> Result<Self, RelayError> {
        match config.token.as_deref().map(str::len) {
            Some(0) => return Err(RelayError::Config("the token is empty")),
            Some(n) if n > MAX_TOKEN_LEN => {
                return Err(RelayError::Config("the token is longer than 1024 bytes"))
            }
            _ => {}
        }
        if !(1..=MAX_SUBSCRIBER_QUEUE).contains(&config.subscriber_queue) {
            return Err(RelayError::Config(
                "the subscriber queue must hold 1 to 1048576 packets",
            ));
        }
        let endpoint = endpoint(config.listen, Some(config.server.clone()))?;
        let local_addr = endpoint.local_addr()?;
        Ok(Self {
            endpoint,
            local_addr,
            config,
        })
    }

    /// The address the relay listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `input` closes, then sends end of session to every subscriber, waits for
    /// them to finish (each at most [`RelayConfig::linger`]) and closes the endpoint.
    pub async fn run(
        self,
        mut input: mpsc::Receiver<RelayInput>,
        stats: Arc<RelayStats>,
    ) -> Result<(), RelayError> {
        let RelayServer {
            endpoint,
            config,
            local_addr,
        } = self;
        if config.token.is_none() {
            tracing::info!(
                "relay has no token: only clients with a verified certificate are admitted"
            );
        }
        let shared = Arc::new(Shared {
            session: config.session,
            token: config.token.map(String::into_bytes),
            subscriber_queue: config.subscriber_queue,
            max_catchup: config.max_catchup_messages,
            linger: config.linger,
            stats,
            hub: Mutex::new(Hub {
                history: MessageHistory::new(config.history_messages, config.history_bytes),
                next_seq: None,
                announce_first: config.first_sequence.unwrap_or(0),
                ended: false,
                input_closed: false,
                warned_after_end: false,
                subscribers: Vec::new(),
                next_id: 0,
            }),
        });
        tracing::info!(addr = %local_addr, "relay listening");
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                item = input.recv() => {
                    let Some(item) = item else { break };
                    shared.apply(item);
                    for _ in 1..INPUT_BATCH {
                        match input.try_recv() {
                            Ok(item) => shared.apply(item),
                            Err(_) => break,
                        }
                    }
                }

                incoming = endpoint.accept() => {
                    let Some(incoming) = incoming else { break };
                    tasks.spawn(serve_connection(incoming, shared.clone()));
                }
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    log_panic(done, "connection");
                }
            }
        }
        tracing::info!("relay input closed: ending the session");
        shared.finish();
        // New connections are refused at once while the subscribers drain (the endpoint
        // ignored them with no server configuration: each waited its whole connect timeout).
        let drain = async {
            loop {
                tokio::select! {
                    done = tasks.join_next() => match done {
                        Some(done) => { log_panic(done, "connection"); }
                        None => break,
                    },
                    Some(incoming) = endpoint.accept() => {
                        tracing::info!(peer = %incoming.remote_address(), "relay refused a connection: its input has closed");
                        incoming.refuse();
                    }
                }
            }
        };
        if timeout(shared.linger + HELLO_TIMEOUT, drain).await.is_err() {
            tasks.abort_all();
        }
        if shared.hub().ended {
            endpoint.close(CloseCode::EndOfSession.var(), b"relay shutting down");
        } else {
            endpoint.close(
                CloseCode::UpstreamLost.var(),
                b"the relay's input stopped before the end of session",
            );
        }
        let _ = timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
        Ok(())
    }
}

/// What a relay task returned, or `None` when it panicked or was cancelled; a panic (a bug) is
/// logged as an error (a `JoinSet` reaping the task would swallow it: a per-connection panic
/// used to leave nobody admitted and nothing in the log).
fn log_panic<T>(done: Result<T, tokio::task::JoinError>, task: &str) -> Option<T> {
    match done {
        Ok(t) => Some(t),
        Err(e) if e.is_panic() => {
            tracing::error!(task, error = %e, "a relay {task} task panicked");
            None
        }
        Err(_) => None,
    }
}

/// A QUIC endpoint on a UDP socket with large kernel buffers: a feed comes in bursts, and a
/// datagram the kernel drops is lost for good (the kernel caps the sizes at
/// `net.core.rmem_max` / `wmem_max`; failing to raise them is not an error).
fn endpoint(addr: SocketAddr, server: Option<quinn::ServerConfig>) -> std::io::Result<Endpoint> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        if let Err(e) = socket.set_only_v6(false) {
            tracing::debug!(error = %e, "relay socket is not dual-stack");
        }
    }
    for r in [
        socket.set_recv_buffer_size(SOCKET_BUFFER),
        socket.set_send_buffer_size(SOCKET_BUFFER),
    ] {
        if let Err(e) = r {
            tracing::debug!(error = %e, "relay socket buffer not raised");
        }
    }
    socket.bind(&addr.into())?;
    Endpoint::new(
        quinn::EndpointConfig::default(),
        server,
        socket.into(),
        Arc::new(quinn::TokioRuntime),
    )
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(x ^ y);
    }
    diff == 0
}

struct Hello {
    mode: LiveMode,
    token: Vec<u8>,
    send: SendStream,
}

enum HelloError {
    Bad(&'static str),
    Gone,
}

async fn read_hello(conn: &Connection) -> Result<Hello, HelloError> {
    let (send, mut recv) = conn.accept_bi().await.map_err(|_| HelloError::Gone)?;
    let mut head = [0u8; 4];
    recv.read_exact(&mut head).await.map_err(|e| match e {
        quinn::ReadExactError::FinishedEarly(_) => HelloError::Bad("short hello"),
        _ => HelloError::Gone,
    })?;
    let [version, mode, l0, l1] = head;
    if version != PROTOCOL_VERSION {
        return Err(HelloError::Bad("unsupported protocol version"));
    }
    let mode = LiveMode::from_wire(mode).ok_or(HelloError::Bad("unknown live mode"))?;
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if len > MAX_TOKEN_LEN {
        return Err(HelloError::Bad("token too long"));
    }
    let mut token = vec![0u8; len];
    recv.read_exact(&mut token).await.map_err(|e| match e {
        quinn::ReadExactError::FinishedEarly(_) => HelloError::Bad("short hello"),
        _ => HelloError::Gone,
    })?;
    Ok(Hello { mode, token, send })
}

/// Removes the subscriber from the fan-out when its connection task ends.
struct Registration {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.unregister(self.id);
    }
}

/// One client connection, from handshake to close.
async fn serve_connection(incoming: quinn::Incoming, shared: Arc<Shared>) {
    let peer = incoming.remote_address();
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            inc(&shared.stats.handshake_failed);
            tracing::info!(%peer, error = %e, "relay handshake failed");
            return;
        }
    };
    let hello = match timeout(HELLO_TIMEOUT, read_hello(&conn)).await {
        Ok(Ok(h)) => h,
        Ok(Err(HelloError::Gone)) => return,
        Ok(Err(HelloError::Bad(why))) => {
            inc(&shared.stats.bad_hello);
            tracing::warn!(%peer, why, "relay refused a bad hello");
            conn.close(CloseCode::BadHello.var(), why.as_bytes());
            return;
        }
        Err(_) => {
            inc(&shared.stats.bad_hello);
            tracing::warn!(%peer, "relay got no hello in time");
            conn.close(CloseCode::BadHello.var(), b"no hello in time");
            return;
        }
    };
    let Hello {
        mode,
        token,
        send: mut control,
    } = hello;
    let authorized = match &shared.token {
        Some(expected) => constant_time_eq(expected, &token),
        None => conn.peer_identity().is_some(),
    };
    drop(token);
    if !authorized {
        inc(&shared.stats.refused);
        tracing::warn!(%peer, "relay refused an unauthorized client");
        conn.close(CloseCode::Unauthorized.var(), b"unauthorized");
        return;
    }
    if mode == LiveMode::Datagrams && conn.max_datagram_size().is_none() {
        inc(&shared.stats.bad_hello);
        tracing::warn!(%peer, "relay client asked for datagrams without datagram support");
        conn.close(CloseCode::BadHello.var(), b"datagrams not supported");
        return;
    }

    let (tx, rx) = mpsc::channel(shared.subscriber_queue);
    let (id, next_seq) = shared.register(tx, conn.clone(), peer);
    let _registration = Registration {
        shared: shared.clone(),
        id,
    };
    tracing::info!(%peer, ?mode, next_seq, "relay subscriber admitted");
    let mut welcome = [0u8; WELCOME_LEN];
    welcome[0] = FRAME_WELCOME;
    welcome[1..11].copy_from_slice(&shared.session);
    welcome[11..].copy_from_slice(&next_seq.to_be_bytes());
    if control.write_all(&welcome).await.is_err() {
        return;
    }

    let live = async {
        let end = match mode {
            LiveMode::Datagrams => pump_datagrams(&conn, rx, &shared.stats, shared.linger).await,
            LiveMode::Stream => pump_stream(&conn, rx, &shared.stats, shared.linger).await,
        };
        match end {
            Ok(Some(next)) => {
                let mut frame = [0u8; END_LEN];
                frame[0] = FRAME_END;
                frame[1..].copy_from_slice(&next.to_be_bytes());
                let _ = control.write_all(&frame).await;
                let _ = control.finish();
                // Let the client read everything and catch up, until it closes.
                let _ = timeout(shared.linger, conn.closed()).await;
                conn.close(CloseCode::EndOfSession.var(), b"end of session");
            }
            // The queue closed without an end of session: the relay's input stopped first.
            Ok(None) => conn.close(
                CloseCode::UpstreamLost.var(),
                b"the relay's input stopped before the end of session",
            ),
            Err(e) => tracing::debug!(%peer, error = %e, "relay subscriber gone"),
        }
    };
    tokio::select! {
        () = live => {}
        () = serve_catch_ups(&conn, &shared) => {}
    }
    tracing::info!(%peer, "relay subscriber left");
}

/// How long from now a client waits for the relay's reason after its live path ended.
#[allow(clippy::disallowed_methods)] // The I/O edge: a network timeout, machine time by design.
fn close_reason_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + CLOSE_REASON_WAIT
}

/// The next sequence number of an end-of-session packet, if `packet` is one.
fn end_of_session(packet: &[u8]) -> Option<u64> {
    let count = packet.get(18..20)?;
    if u16::from_be_bytes([count[0], count[1]]) != END_OF_SESSION_COUNT {
        return None;
    }
    let seq: [u8; 8] = packet.get(10..18)?.try_into().ok()?;
    Some(u64::from_be_bytes(seq))
}

/// Drains a subscriber's queue into datagrams. `Ok(Some(next))` after end of session (once
/// every datagram has left the connection's send buffer, so that the end frame that follows on
/// the control stream does not overtake them), `Ok(None)` when the queue closed without one.
async fn pump_datagrams(
    conn: &Connection,
    mut rx: mpsc::Receiver<Bytes>,
    stats: &RelayStats,
    linger: Duration,
) -> Result<Option<u64>, RelayError> {
    // Nothing has been sent yet: this is the space of an empty send buffer.
    let empty = conn.datagram_send_buffer_space();
    while let Some(packet) = rx.recv().await {
        let end = end_of_session(&packet);
        let max = conn.max_datagram_size().unwrap_or(0);
        if packet.len() <= max {
            send_datagram(conn, packet, stats).await?;
        } else {
            for part in split_packet(&packet, max) {
                send_datagram(conn, part, stats).await?;
            }
        }
        if end.is_some() {
            drain_datagrams(conn, empty, linger).await;
            return Ok(end);
        }
    }
    // Closed without an end of session: what was queued still leaves before the close.
    drain_datagrams(conn, empty, linger).await;
    Ok(None)
}

/// Waits (at most `linger`) until every datagram has left the send buffer (`empty`: its space
/// when nothing is queued).
async fn drain_datagrams(conn: &Connection, empty: usize, linger: Duration) {
    let drained = async {
        while conn.datagram_send_buffer_space() < empty {
            tokio::time::sleep(DATAGRAM_DRAIN_POLL).await;
        }
    };
    let _ = timeout(linger, drained).await;
}

async fn send_datagram(conn: &Connection, d: Bytes, stats: &RelayStats) -> Result<(), RelayError> {
    match conn.send_datagram_wait(d).await {
        Ok(()) => {
            inc(&stats.packets_out);
            Ok(())
        }
        Err(quinn::SendDatagramError::TooLarge) => {
            tracing::debug!("relay datagram too large for the path; left to catch-up");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Re-packs the messages of `packet` into packets of at most `max` bytes; a message that fits
/// no such packet is left out.
fn split_packet(packet: &[u8], max: usize) -> Vec<Bytes> {
    let Ok(p) = MoldPacket::parse(packet) else {
        return Vec::new();
    };
    if p.kind() != PacketKind::Data {
        return vec![Bytes::copy_from_slice(packet)];
    }
    let session = *p.session();
    let mut out = Vec::new();
    let mut seq = p.sequence();
    let mut builder = MoldPacketBuilder::new(session, seq).with_max_packet(max);
    for msg in p.messages() {
        let Ok(msg) = msg else { break };
        if builder
            .push(msg, |x| out.push(Bytes::copy_from_slice(x)))
            .is_err()
        {
            if let Some(x) = builder.flush() {
                out.push(Bytes::copy_from_slice(x));
            }
            builder = MoldPacketBuilder::new(session, seq.saturating_add(1)).with_max_packet(max);
        }
        seq = seq.saturating_add(1);
    }
    if let Some(x) = builder.flush() {
        out.push(Bytes::copy_from_slice(x));
    }
    out
}

fn push_frame(buf: &mut Vec<u8>, packet: &[u8]) {
    // Input packets are checked to fit a u16 length.
    let len = u16::try_from(packet.len()).unwrap_or(u16::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(packet.get(..usize::from(len)).unwrap_or(packet));
}

/// Drains a subscriber's queue into one unidirectional stream, batching what is queued.
async fn pump_stream(
    conn: &Connection,
    mut rx: mpsc::Receiver<Bytes>,
    stats: &RelayStats,
    linger: Duration,
) -> Result<Option<u64>, RelayError> {
    let mut send = conn.open_uni().await?;
    let mut buf = Vec::with_capacity(STREAM_BATCH + usize::from(u16::MAX) + 2);
    while let Some(first) = rx.recv().await {
        buf.clear();
        let mut end = end_of_session(&first);
        push_frame(&mut buf, &first);
        let mut n = 1u64;
        while end.is_none() && buf.len() < STREAM_BATCH {
            let Ok(p) = rx.try_recv() else { break };
            end = end_of_session(&p);
            push_frame(&mut buf, &p);
            n += 1;
        }
        send.write_all(&buf).await?;
        add(&stats.packets_out, n);
        if end.is_some() {
            send.finish()?;
            return Ok(end);
        }
    }
    // Closed without an end of session: the subscriber reads what was queued (the peer
    // acknowledges the whole stream, at most `linger`) before the connection is closed.
    send.finish()?;
    let _ = timeout(linger, send.stopped()).await;
    Ok(None)
}

/// Accepts and answers catch-up streams until the connection closes.
async fn serve_catch_ups(conn: &Connection, shared: &Arc<Shared>) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            s = conn.accept_bi() => match s {
                Ok((send, recv)) => {
                    tasks.spawn(serve_catch_up(send, recv, shared.clone()));
                }
                Err(_) => break,
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                log_panic(done, "catch-up");
            }
        }
    }
}

async fn serve_catch_up(mut send: SendStream, mut recv: RecvStream, shared: Arc<Shared>) {
    let mut raw = [0u8; HEADER_LEN];
    match timeout(HELLO_TIMEOUT, recv.read_exact(&mut raw)).await {
        Ok(Ok(())) => {}
        _ => {
            let _ = send.reset(CloseCode::Protocol.var());
            return;
        }
    }
    let Ok(request) = MoldRequest::parse(&raw) else {
        let _ = send.reset(CloseCode::Protocol.var());
        return;
    };
    inc(&shared.stats.catchup_requests);
    let mut first = request.sequence;
    let mut left = u64::from(request.count)
        .min(shared.max_catchup)
        .min(u64::MAX - first);
    if request.session != shared.session {
        left = 0;
    }
    let mut buf = Vec::new();
    while left > 0 {
        buf.clear();
        let packed = {
            let hub = shared.hub();
            // A hole in the history (the relay's own upstream lost it) is skipped: what it
            // holds after the hole, within the range, is served (a request starting in the
            // hole was answered with nothing, and the client reported messages the relay
            // held lost with the hole).
            match hub.history.first_held_from(first) {
                Some(s) if s - first < left => {
                    left -= s - first;
                    first = s;
                    let want = left.min(CATCHUP_CHUNK);
                    hub.history
                        .pack(shared.session, first, want, DEFAULT_MAX_PACKET, |p| {
                            push_frame(&mut buf, p)
                        })
                }
                _ => Ok(0),
            }
        };
        let Ok(packed) = packed else { break };
        if packed == 0 {
            break;
        }
        if send.write_all(&buf).await.is_err() {
            return;
        }
        add(&shared.stats.catchup_messages, packed);
        first += packed;
        left -= packed;
    }
    let _ = send.finish();
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// Where and how a client connects to a relay.
#[derive(Clone)]
pub struct RelayClientConfig {
    /// The relay's address.
    pub server: SocketAddr,
    /// The name the relay's certificate must carry (DNS name or IP, e.g. `localhost`).
    pub server_name: String,
    /// QUIC client configuration, from [`crate::tls::client_config`].
    pub client: quinn::ClientConfig,
    /// The relay's token, if it requires one.
    pub token: Option<String>,
    /// Datagrams or stream for the live path.
    pub mode: LiveMode,
}

impl std::fmt::Debug for RelayClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayClientConfig")
            .field("server", &self.server)
            .field("server_name", &self.server_name)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// A subscription to a relay: live packets ([`RelayClient::recv`]) and catch-up
/// ([`RelayClient::catch_up`]). Dropping it closes the connection.
#[derive(Debug)]
pub struct RelayClient {
    endpoint: Endpoint,
    conn: Connection,
    mode: LiveMode,
    welcome: Welcome,
    _control_send: SendStream,
    control: Option<RecvStream>,
    control_buf: BytesMut,
    live: Option<RecvStream>,
    live_buf: BytesMut,
    /// Datagram mode: the end frame's sequence number, once it came.
    end_at: Option<u64>,
    /// Datagram mode: the next sequence number of the last data datagram received (the last,
    /// not the highest: after a restart the numbering goes down, see the module docs).
    datagram_next: u64,
    /// The live path ended without an end of session: until when to wait for the relay's
    /// close reason (kept here so that a `recv` cancelled during that wait resumes it, with
    /// the same deadline).
    ending: Option<tokio::time::Instant>,
    done: bool,
}

/// Asks a relay for catch-up; cheap to clone, usable while the [`RelayClient`] it came from
/// receives (it shares that client's connection, which closes when the client is dropped).
#[derive(Clone, Debug)]
pub struct CatchUpHandle {
    conn: Connection,
}

/// Takes one u16-length-prefixed frame off `buf`, if complete.
fn take_frame(buf: &mut BytesMut) -> Option<Bytes> {
    let len = usize::from(u16::from_be_bytes([*buf.first()?, *buf.get(1)?]));
    if buf.len() < 2 + len {
        return None;
    }
    let _ = buf.split_to(2);
    Some(buf.split_to(len).freeze())
}

/// Validates a packet from the relay.
fn check_packet(packet: &[u8]) -> Result<(), RelayError> {
    MoldPacket::parse(packet).map(|_| ()).map_err(Into::into)
}

/// `Ok(None)` for a clean end, the error otherwise.
fn end_or_error<T>(e: impl Into<RelayError>) -> Result<Option<T>, RelayError> {
    let e = e.into();
    if e.is_clean_end() {
        Ok(None)
    } else {
        Err(e)
    }
}

impl RelayClient {
    /// Connects, authenticates and subscribes; returns the client and the relay's welcome. Must
    /// run on a tokio runtime. A refused token comes back as [`RelayError::Closed`] with
    /// [`CloseCode::Unauthorized`], a refused certificate as [`RelayError::Connection`].
    pub async fn connect(cfg: RelayClientConfig) -> Result<(Self, Welcome), RelayError> {
        match timeout(CONNECT_TIMEOUT, Self::connect_inner(cfg)).await {
            Ok(r) => r,
            Err(_) => Err(RelayError::Timeout),
        }
    }

    async fn connect_inner(cfg: RelayClientConfig) -> Result<(Self, Welcome), RelayError> {
        let bind: SocketAddr = if cfg.server.is_ipv6() {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let endpoint = endpoint(bind, None)?;
        let conn = endpoint
            .connect_with(cfg.client, cfg.server, &cfg.server_name)?
            .await?;
        if cfg.mode == LiveMode::Datagrams && conn.max_datagram_size().is_none() {
            return Err(RelayError::Protocol(
                "the relay does not support datagrams".to_owned(),
            ));
        }
        let token = cfg.token.as_deref().unwrap_or("").as_bytes();
        let len = u16::try_from(token.len())
            .ok()
            .filter(|&l| usize::from(l) <= MAX_TOKEN_LEN)
            .ok_or_else(|| RelayError::Protocol("token too long".to_owned()))?;
        let mut hello = Vec::with_capacity(4 + token.len());
        hello.push(PROTOCOL_VERSION);
        hello.push(cfg.mode.wire());
        hello.extend_from_slice(&len.to_be_bytes());
        hello.extend_from_slice(token);
        let (mut send, mut recv) = conn.open_bi().await?;
        send.write_all(&hello).await?;
        let mut w = [0u8; WELCOME_LEN];
        recv.read_exact(&mut w).await?;
        if w[0] != FRAME_WELCOME {
            return Err(RelayError::Protocol("expected a welcome".to_owned()));
        }
        let mut session = [0u8; 10];
        session.copy_from_slice(&w[1..11]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&w[11..]);
        let welcome = Welcome {
            session,
            next_seq: u64::from_be_bytes(seq),
        };
        Ok((
            Self {
                endpoint,
                conn,
                mode: cfg.mode,
                welcome,
                _control_send: send,
                control: Some(recv),
                control_buf: BytesMut::new(),
                live: None,
                live_buf: BytesMut::new(),
                end_at: None,
                datagram_next: 0,
                ending: None,
                done: false,
            },
            welcome,
        ))
    }

    /// The relay's welcome.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// The relay's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.conn.remote_address()
    }

    /// QUIC statistics of the connection (packets, losses, path), for diagnostics.
    pub fn connection_stats(&self) -> quinn::ConnectionStats {
        self.conn.stats()
    }

    /// The next live MoldUDP64 packet (data, heartbeat, or end of session). `None` once the
    /// session has ended cleanly (after its end-of-session packet); an error ends the
    /// subscription (e.g. [`CloseCode::Slow`]). Cancel-safe: it can be used in `select!`.
    ///
    /// In datagram mode packets may be missing (fill gaps with [`RelayClient::catch_up`]); the
    /// end-of-session packet is delivered even if its datagram is lost, from the relay's end
    /// frame on the control stream: datagrams that the end frame overtook are still delivered
    /// first, until one reaches the end or none has come for four round trips (50 ms to
    /// 500 ms).
    pub async fn recv(&mut self) -> Option<Result<Bytes, RelayError>> {
        if self.done {
            return None;
        }
        if self.ending.is_none() {
            let r = match self.mode {
                LiveMode::Stream => self.recv_stream().await,
                LiveMode::Datagrams => self.recv_datagram().await,
            };
            match r {
                Ok(Some(p)) => {
                    if end_of_session(&p).is_some() {
                        self.done = true;
                    }
                    return Some(Ok(p));
                }
                // The live path ended before an end of session (one ends `recv` above): not a
                // clean end, whatever the close code.
                Ok(None) => {
                    self.ending = Some(close_reason_deadline());
                }
                Err(e) => {
                    self.done = true;
                    if matches!(e, RelayError::Protocol(_)) {
                        self.conn
                            .close(CloseCode::Protocol.var(), b"protocol violation");
                    }
                    return Some(Err(e));
                }
            }
        }
        // Say why, if the relay did (a `recv` cancelled here waits again on the next call).
        let deadline = self.ending.unwrap_or_else(close_reason_deadline);
        let why = match tokio::time::timeout_at(deadline, self.conn.closed()).await {
            Ok(e) => RelayError::from(e),
            Err(_) => RelayError::Timeout,
        };
        self.done = true;
        Some(Err(if why.close_code().is_some() && !why.is_clean_end() {
            why
        } else {
            RelayError::Protocol(format!(
                "the live path ended without an end of session ({why})"
            ))
        }))
    }

    async fn recv_stream(&mut self) -> Result<Option<Bytes>, RelayError> {
        loop {
            if let Some(p) = take_frame(&mut self.live_buf) {
                check_packet(&p)?;
                return Ok(Some(p));
            }
            let live = match &mut self.live {
                Some(s) => s,
                None => match self.conn.accept_uni().await {
                    Ok(s) => self.live.insert(s),
                    Err(e) => return end_or_error(e),
                },
            };
            match live.read_chunk(READ_CHUNK, true).await {
                Ok(Some(chunk)) => self.live_buf.extend_from_slice(&chunk.bytes),
                Ok(None) if self.live_buf.is_empty() => return Ok(None),
                Ok(None) => return Err(RelayError::Protocol("truncated live stream".to_owned())),
                Err(e) => return end_or_error(e),
            }
        }
    }

    async fn recv_datagram(&mut self) -> Result<Option<Bytes>, RelayError> {
        loop {
            if let Some(end) = self.end_at {
                return self.recv_datagram_after_end(end).await;
            }
            let control = async {
                match &mut self.control {
                    Some(c) => c.read_chunk(READ_CHUNK, true).await,
                    None => std::future::pending().await,
                }
            };
            // Datagrams first: those already received precede the end frame.
            tokio::select! {
                biased;
                d = self.conn.read_datagram() => {
                    return match d {
                        Ok(d) => self.check_datagram(d).map(Some),
                        Err(e) => end_or_error(e),
                    };
                }
                c = control => match c {
                    Ok(Some(chunk)) => {
                        self.control_buf.extend_from_slice(&chunk.bytes);
                        self.end_at = self.take_end_frame()?;
                    }
                    Ok(None) => self.control = None,
                    Err(e) => return end_or_error(e),
                },
            }
        }
    }

    /// After the end frame: the datagrams still in flight (the end frame may overtake them),
    /// until one reaches the end or none comes for a few round trips; then end of session.
    async fn recv_datagram_after_end(&mut self, end: u64) -> Result<Option<Bytes>, RelayError> {
        let eos = || {
            let p = MoldPacketBuilder::new(self.welcome.session, end).end_of_session();
            Ok(Some(Bytes::copy_from_slice(&p)))
        };
        if self.datagram_next >= end {
            return eos();
        }
        let grace = (self.conn.rtt() * 4).clamp(MIN_END_GRACE, MAX_END_GRACE);
        match timeout(grace, self.conn.read_datagram()).await {
            Ok(Ok(d)) => self.check_datagram(d).map(Some),
            Ok(Err(e)) => match end_or_error::<Bytes>(e) {
                Ok(_) => eos(),
                Err(e) => Err(e),
            },
            Err(_) => eos(),
        }
    }

    fn check_datagram(&mut self, d: Bytes) -> Result<Bytes, RelayError> {
        let p = MoldPacket::parse(&d)?;
        if p.kind() == PacketKind::Data {
            // A datagram the network reordered can only make the end wait a grace period more.
            self.datagram_next = p.next_sequence();
        }
        Ok(d)
    }

    fn take_end_frame(&mut self) -> Result<Option<u64>, RelayError> {
        let Some(&kind) = self.control_buf.first() else {
            return Ok(None);
        };
        if kind != FRAME_END {
            return Err(RelayError::Protocol("unknown control frame".to_owned()));
        }
        let Some(seq) = self.control_buf.get(1..END_LEN) else {
            return Ok(None);
        };
        let mut b = [0u8; 8];
        b.copy_from_slice(seq);
        let _ = self.control_buf.split_to(END_LEN);
        Ok(Some(u64::from_be_bytes(b)))
    }

    /// Asks the relay for `request.count` messages from `request.sequence` and returns its
    /// answer: MoldUDP64 data packets of the messages of the range the relay holds, in order;
    /// a hole in its history is skipped (empty when nothing of the range is held).
    pub async fn catch_up(&self, request: MoldRequest) -> Result<Vec<Bytes>, RelayError> {
        self.catch_up_handle().catch_up(request).await
    }

    /// A handle to ask for catch-up while this client is busy receiving.
    pub fn catch_up_handle(&self) -> CatchUpHandle {
        CatchUpHandle {
            conn: self.conn.clone(),
        }
    }

    /// Closes the connection now (also done on drop).
    pub fn close(&self) {
        self.conn
            .close(CloseCode::EndOfSession.var(), b"client done");
    }

    /// Closes the connection and waits (at most a second) until the relay has been told.
    pub async fn shutdown(self) {
        self.close();
        let _ = timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }
}

impl Drop for RelayClient {
    fn drop(&mut self) {
        self.close();
        // Keep the endpoint alive until the close has gone out, so the relay need not wait for
        // an idle timeout; without a runtime at hand, the close is best effort.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let endpoint = self.endpoint.clone();
            rt.spawn(async move {
                let _ = timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
            });
        }
    }
}

impl CatchUpHandle {
    /// See [`RelayClient::catch_up`]. The answer is checked: packets of the request's session,
    /// in order from `request.sequence` (a jump forward skips a hole in the relay's history),
    /// within the range `request.sequence .. request.sequence + request.count`.
    pub async fn catch_up(&self, request: MoldRequest) -> Result<Vec<Bytes>, RelayError> {
        let (mut send, mut recv) = self.conn.open_bi().await?;
        send.write_all(&request.encode()).await?;
        send.finish()?;
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut next = request.sequence;
        let end = request.sequence.saturating_add(u64::from(request.count));
        loop {
            while let Some(p) = take_frame(&mut buf) {
                let packet = MoldPacket::parse(&p)?;
                // In order, never back; a jump skips a hole in the relay's history.
                if packet.kind() != PacketKind::Data
                    || packet.sequence() < next
                    || *packet.session() != request.session
                {
                    return Err(RelayError::Protocol(
                        "catch-up answer out of sequence".to_owned(),
                    ));
                }
                if packet.next_sequence() > end {
                    return Err(RelayError::Protocol(
                        "catch-up answer longer than requested".to_owned(),
                    ));
                }
                next = packet.next_sequence();
                out.push(p);
            }
            match recv.read_chunk(READ_CHUNK, true).await? {
                Some(chunk) => buf.extend_from_slice(&chunk.bytes),
                None if buf.is_empty() => return Ok(out),
                None => return Err(RelayError::Protocol("truncated catch-up answer".to_owned())),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Blocking bridge
// ---------------------------------------------------------------------------------------------

/// What a [`RelayLine`] hands its reader.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RelayItem {
    /// A live MoldUDP64 packet (data, heartbeat or end of session).
    Live(Bytes),
    /// A packet of a catch-up answer (data).
    CatchUp(Bytes),
    /// The live path ended: `None` cleanly (after end of session), `Some(why)` otherwise.
    /// Catch-up requests are still served while the connection lasts.
    Closed(Option<String>),
}

/// A blocking bridge for a feed thread that cannot await: the [`RelayClient`] runs on its own
/// thread with a small single-threaded tokio runtime. [`RelayLine::try_recv`] never blocks;
/// [`RelayLine::request`] queues a catch-up without blocking. Dropping the line stops the thread
/// (it closes the connection and exits on its own shortly after).
///
/// Items are buffered (16 Ki) between the thread and the reader; when the reader falls behind,
/// the thread stops reading from the relay, which eventually disconnects it as slow.
#[derive(Debug)]
pub struct RelayLine {
    welcome: Welcome,
    items: mpsc::Receiver<RelayItem>,
    requests: mpsc::UnboundedSender<MoldRequest>,
    closed_seen: bool,
}

impl RelayLine {
    /// Starts the thread and connects, blocking until the relay's welcome or an error (at most
    /// [`CONNECT_TIMEOUT`]). Call it from a plain thread, not from async code.
    pub fn spawn(cfg: RelayClientConfig) -> Result<RelayLine, RelayError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (items_tx, items) = mpsc::channel(LINE_QUEUE);
        let (requests, requests_rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("ticklane-relay-line".to_owned())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(RelayError::Io(e)));
                        return;
                    }
                };
                rt.block_on(line_main(cfg, ready_tx, items_tx, requests_rx));
            })?;
        let welcome = ready_rx.recv().map_err(|_| RelayError::LineStopped)??;
        Ok(RelayLine {
            welcome,
            items,
            requests,
            closed_seen: false,
        })
    }

    /// The relay's welcome.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// The next item, if one is ready. After [`RelayItem::Closed`] only catch-up items come;
    /// if the thread stops without saying why, one `Closed(Some(..))` is returned.
    pub fn try_recv(&mut self) -> Option<RelayItem> {
        match self.items.try_recv() {
            Ok(item) => {
                if matches!(item, RelayItem::Closed(_)) {
                    self.closed_seen = true;
                }
                Some(item)
            }
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) if !self.closed_seen => {
                self.closed_seen = true;
                Some(RelayItem::Closed(Some("relay line stopped".to_owned())))
            }
            Err(mpsc::error::TryRecvError::Disconnected) => None,
        }
    }

    /// Queues a catch-up request; its answer comes as [`RelayItem::CatchUp`] packets (none when
    /// the range is not held; a failed request is logged). Never blocks.
    pub fn request(&self, request: MoldRequest) {
        let _ = self.requests.send(request);
    }
}

async fn line_main(
    cfg: RelayClientConfig,
    ready: std::sync::mpsc::SyncSender<Result<Welcome, RelayError>>,
    items: mpsc::Sender<RelayItem>,
    mut requests: mpsc::UnboundedReceiver<MoldRequest>,
) {
    let mut client = match RelayClient::connect(cfg).await {
        Ok((client, welcome)) => {
            if ready.send(Ok(welcome)).is_err() {
                return;
            }
            client
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let handle = client.catch_up_handle();
    let mut tasks = JoinSet::new();
    let mut queue = CatchUpQueue::default();
    let mut live_open = true;
    loop {
        // Start what the cap allows (each task hands its request back when it ends).
        while let Some(request) = queue.start() {
            let handle = handle.clone();
            let items = items.clone();
            tasks.spawn(async move {
                match handle.catch_up(request).await {
                    Ok(packets) => {
                        for p in packets {
                            if items.send(RelayItem::CatchUp(p)).await.is_err() {
                                break;
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "relay catch-up failed"),
                }
                request
            });
        }
        tokio::select! {
            request = requests.recv() => {
                let Some(request) = request else { break };
                queue.offer(request);
            }
            live = client.recv(), if live_open => {
                let item = match live {
                    Some(Ok(p)) => RelayItem::Live(p),
                    Some(Err(e)) => {
                        live_open = false;
                        RelayItem::Closed(Some(e.to_string()))
                    }
                    None => {
                        live_open = false;
                        RelayItem::Closed(None)
                    }
                };
                if items.send(item).await.is_err() {
                    break;
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                match log_panic(done, "client catch-up") {
                    Some(request) => queue.done(request),
                    // A catch-up task cannot panic short of a bug; its slot is given back.
                    None => queue.forget_one(),
                }
            }
        }
    }
    client.shutdown().await;
}

/// Catch-up requests a relay line has in flight at most; more wait, in order.
const MAX_CATCHUPS_IN_FLIGHT: usize = 16;

/// A relay line's catch-up requests: at most [`MAX_CATCHUPS_IN_FLIGHT`] in flight, the rest
/// waiting in order, and a request already waiting or in flight not queued again (the receive
/// session re-asks for a whole gap on every request timeout while answers to the first asks may
/// still be on their way: a gap far behind would otherwise pile up thousands of copies).
#[derive(Debug, Default)]
struct CatchUpQueue {
    waiting: std::collections::VecDeque<MoldRequest>,
    in_flight: Vec<MoldRequest>,
}

impl CatchUpQueue {
    /// Queues `request` unless the same one is waiting or in flight; returns whether it did.
    fn offer(&mut self, request: MoldRequest) -> bool {
        if self.waiting.contains(&request) || self.in_flight.contains(&request) {
            return false;
        }
        self.waiting.push_back(request);
        true
    }

    /// The next request to send, if fewer than the cap are in flight.
    fn start(&mut self) -> Option<MoldRequest> {
        if self.in_flight.len() >= MAX_CATCHUPS_IN_FLIGHT {
            return None;
        }
        let request = self.waiting.pop_front()?;
        self.in_flight.push(request);
        Some(request)
    }

    /// `request` was answered (or failed): it may be asked again.
    fn done(&mut self, request: MoldRequest) {
        if let Some(i) = self.in_flight.iter().position(|r| *r == request) {
            self.in_flight.swap_remove(i);
        }
    }

    /// A task ended without handing its request back: frees the oldest slot.
    fn forget_one(&mut self) {
        if !self.in_flight.is_empty() {
            self.in_flight.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_ups_are_capped_in_flight_and_not_queued_twice() {
        let req = |sequence| MoldRequest {
            session: *b"SESSION001",
            sequence,
            count: 1000,
        };
        let mut q = CatchUpQueue::default();
        for i in 0..20u64 {
            assert!(q.offer(req(1 + 1000 * i)));
        }
        // The session's retry asks for the same ranges again: nothing new is queued.
        for i in 0..20u64 {
            assert!(!q.offer(req(1 + 1000 * i)));
        }
        let started: Vec<u64> = std::iter::from_fn(|| q.start())
            .map(|r| r.sequence)
            .collect();
        assert_eq!(
            started,
            (0..16u64).map(|i| 1 + 1000 * i).collect::<Vec<_>>()
        );
        // One answered: the next waiting one starts, and the answered range may be asked again.
        q.done(req(1));
        assert_eq!(q.start(), Some(req(16_001)));
        assert_eq!(q.start(), None);
        assert!(q.offer(req(1)));
        q.forget_one();
        assert_eq!(q.start(), Some(req(17_001)));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn frames_and_end_markers() {
        let mut buf = BytesMut::new();
        assert_eq!(take_frame(&mut buf), None);
        buf.extend_from_slice(&[0, 3, b'a', b'b']);
        assert_eq!(take_frame(&mut buf), None);
        buf.extend_from_slice(b"c\x00");
        assert_eq!(take_frame(&mut buf), Some(Bytes::from_static(b"abc")));
        assert_eq!(&buf[..], b"\x00");
        let b = MoldPacketBuilder::new(*b"SESSION001", 42);
        assert_eq!(end_of_session(&b.end_of_session()), Some(42));
        assert_eq!(end_of_session(&b.heartbeat()), None);
        assert_eq!(end_of_session(b"short"), None);
    }

    #[test]
    fn splits_oversized_packets_and_skips_unfittable_messages() {
        let mut b = MoldPacketBuilder::new(*b"SESSION001", 10).with_max_packet(4000);
        let mut packets = Vec::new();
        let msgs: Vec<Vec<u8>> = (0..20u8)
            .map(|i| vec![i; if i == 7 { 600 } else { 100 }])
            .collect();
        for m in &msgs {
            b.push(m, |p| packets.push(p.to_vec())).unwrap();
        }
        packets.push(b.flush().unwrap().to_vec());
        assert_eq!(packets.len(), 1);
        let parts = split_packet(&packets[0], 500);
        let mut seen = Vec::new();
        for part in &parts {
            assert!(part.len() <= 500);
            let p = MoldPacket::parse(part).unwrap();
            for (i, m) in p.messages().enumerate() {
                let seq = p.sequence() + i as u64;
                assert_eq!(m.unwrap(), &msgs[(seq - 10) as usize][..]);
                seen.push(seq);
            }
        }
        let expected: Vec<u64> = (10..30).filter(|&s| s != 17).collect();
        assert_eq!(seen, expected);
        assert!(split_packet(b"garbage", 500).is_empty());
    }
}
