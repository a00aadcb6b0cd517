//! `live`: the live path on loopback — UDP handler throughput with zero loss, wire-to-handler
//! latency, and the QUIC relay's added latency and throughput. One program (no criterion), every
//! run bounded in time, everything on 127.0.0.1 with OS-picked ports.
//!
//! Run: `cargo bench -p ticklane-benches --bench live` (about a minute; `-- --quick` for a
//! short smoke run). Prints a table and writes a JSON summary to `target/live-bench.json`.
//!
//! 1. **UDP handler throughput.** `source::receive` (one line, busy-poll, recovery off so any
//!    kernel drop is a loss) on its own thread, fed MoldUDP64 packets of up to 1400 bytes
//!    holding generated ITCH messages (`generate_framed`, seed 7, 64 instruments). Two handlers
//!    (`Downstream`s): *count* (counts messages and checks sequence order) and *decode* (the
//!    same plus `decode_normalize_into` per message). Senders: the exchange simulator at
//!    `Pace::Max` (a `MessageHistory` of the whole session), then this program's own sender
//!    pacing full packets to a target message rate (0.5, 1, 2, 3, 4 M/s, then 6 and 8 M/s while
//!    nothing is lost and the sender keeps up), 2.5 s per run, reusing the generated messages
//!    cyclically under new sequence numbers. Rates are measured at the handler, from the first
//!    to the last data datagram it saw; loss is what the session declared lost (or never
//!    delivered). `rcvbufE` is the host's UDP receive-buffer overflow counter
//!    (`/proc/net/snmp`, every socket of the host) over the run.
//! 2. **Wire-to-handler latency.** At 100k messages/s (each message sent when due, with
//!    whatever else is due by then), the decode handler records per message the realtime clock
//!    minus its datagram's kernel receive timestamp (`UdpLine::age_ns`) in an HDR histogram;
//!    once with `receive` busy-polling, once sleeping in `poll(2)`.
//! 3. **QUIC relay.** The sender stamps each message (16 bytes: send time in monotonic ns from
//!    the program's shared origin, then the sequence number) → UDP → `receive` (poll mode) with
//!    a `Downstream` that repacks the messages for the relay (as `ticklane relay` does) →
//!    `RelayServer` (2 tokio workers, token auth, self-signed TLS) → QUIC → `RelayClient`
//!    (datagram or stream mode, its own thread and runtime), which records one-way latency per
//!    message. The direct row is the same sender into `receive` with a handler recording the
//!    same stamp. Each row is its own runs (4 rounds, the paths taking turns); "added" is relay
//!    minus direct at each percentile. The relay's throughput: its input channel fed prebuilt
//!    1400-byte packets as fast as it takes them, one stream-mode subscriber whose queue holds
//!    the whole run (so the figure is the drain rate, not the slow-subscriber cut-off), timed
//!    from the first packet in to the last message out.
//!
//! `receive` opens its socket itself, so its port is picked by binding port 0 and closing that
//! socket just before. The relay client's endpoint binds the wildcard address (library code);
//! it only talks to 127.0.0.1.
//!
//! On the 2-vCPU development VM every thread of a run (sender, handler, relay runtime, client)
//! shares two cores, and other work on the machine shows, in the tails above all: the load
//! average is printed at the start and the end.

use std::hint::black_box;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use ticklane_core::{EventBody, InstrumentId, MarketEvent, MatchId, Timestamp};
use ticklane_feeds::itch::decode_normalize_into;
use ticklane_feeds::moldudp64::session::SessionConfig;
use ticklane_feeds::moldudp64::{
    MoldPacket, MoldPacketBuilder, PacketKind, Session, DEFAULT_MAX_PACKET, HEADER_LEN,
};
use ticklane_feeds::synth::{generate_framed, SynthConfig};
use ticklane_live::history::MessageHistory;
use ticklane_live::relay::{
    LiveMode, RelayClient, RelayClientConfig, RelayConfig, RelayError, RelayInput, RelayServer,
    RelayStats, DEFAULT_SUBSCRIBER_QUEUE,
};
use ticklane_live::simulator::{Faults, Pace, SimConfig, Simulator};
use ticklane_live::source::{
    receive, Downstream, LineSource, LiveConfig, LiveCounters, LiveReport,
};
use ticklane_live::tls::{self, DevCert};
use ticklane_live::udp::{UdpLine, UdpLineConfig};
use ticklane_live::upstream::RelayUpstream;
use tokio::sync::mpsc;

const SESSION: Session = *b"BENCHLIVE1";
const TOKEN: &str = "live-bench-token";
/// Bytes of a stamped message: send time (u64 BE, monotonic ns) then sequence number.
const STAMPED_LEN: usize = 16;
/// Longest the whole program may run before it gives up (a hung run must not hang CI).
const WATCHDOG: Duration = Duration::from_secs(290);

// ---------------------------------------------------------------------------------------------
// Clock, parameters, inputs
// ---------------------------------------------------------------------------------------------

static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// Monotonic ns since the program's shared origin (every thread, same clock).
#[allow(clippy::disallowed_methods)] // A benchmark harness: measuring wall time is its purpose.
fn mono_ns() -> u64 {
    let origin = ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Waits until `mono_ns() >= due`: sleeps for long waits, then yields (so the other threads of
/// a run on this small machine still get the core) until due.
fn wait_until(due: u64) {
    loop {
        let now = mono_ns();
        if now >= due {
            return;
        }
        let left = due - now;
        if left > 300_000 {
            std::thread::sleep(Duration::from_nanos(left - 200_000));
        } else {
            std::thread::yield_now();
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Params {
    /// Generated messages (the sweep reuses them cyclically under new sequence numbers).
    corpus: u64,
    /// Messages of the simulator runs.
    sim_messages: u64,
    /// Seconds per sweep run.
    sweep_secs: f64,
    /// Sweep rates, messages/s.
    sweep_rates: &'static [f64],
    /// Extra rates tried when the last sweep rate still had zero loss.
    extra_rates: &'static [f64],
    latency_rate: f64,
    latency_secs: f64,
    relay_rates: &'static [f64],
    relay_secs: f64,
    /// The relay runs are split into this many rounds, the paths taking turns, so that a
    /// change of load on the machine affects every path alike.
    relay_rounds: usize,
    relay_tput_messages: u64,
}

impl Params {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                corpus: 300_000,
                sim_messages: 300_000,
                sweep_secs: 0.5,
                sweep_rates: &[1e6, 2e6, 4e6],
                extra_rates: &[],
                latency_rate: 100e3,
                latency_secs: 0.5,
                relay_rates: &[100e3],
                relay_secs: 0.5,
                relay_rounds: 1,
                relay_tput_messages: 300_000,
            }
        } else {
            Self {
                corpus: 2_000_000,
                sim_messages: 2_000_000,
                sweep_secs: 2.5,
                sweep_rates: &[0.5e6, 1e6, 2e6, 3e6, 4e6],
                extra_rates: &[6e6, 8e6],
                latency_rate: 100e3,
                latency_secs: 2.0,
                relay_rates: &[20e3, 100e3],
                relay_secs: 2.0,
                relay_rounds: 4,
                relay_tput_messages: 2_000_000,
            }
        }
    }
}

/// Generated ITCH messages, framed (u16 BE length + message), with each message's place.
struct Corpus {
    framed: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Corpus {
    fn generate(messages: u64) -> Self {
        let framed = generate_framed(SynthConfig {
            seed: 7,
            messages,
            instruments: 64,
        })
        .expect("generating the session");
        let mut spans = Vec::with_capacity(messages as usize);
        let mut at = 0;
        while at + 2 <= framed.len() {
            let len = usize::from(u16::from_be_bytes([framed[at], framed[at + 1]]));
            spans.push((at + 2, len));
            at += 2 + len;
        }
        Self { framed, spans }
    }

    /// Message `i` (cyclically).
    fn get(&self, i: u64) -> &[u8] {
        let (start, len) = self.spans[(i % self.spans.len() as u64) as usize];
        &self.framed[start..start + len]
    }
}

/// The 1, 5 and 15-minute load averages (other work on this machine skews every figure).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("histogram bounds")
}

/// The host's UDP receive-buffer overflows so far (`/proc/net/snmp`), where readable.
fn rcvbuf_errors() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (udp.next()?, udp.next()?);
    let col = names.split_whitespace().position(|n| n == "RcvbufErrors")?;
    values.split_whitespace().nth(col)?.parse().ok()
}

/// A free loopback port: `receive` opens its line itself, so the port is picked by the OS here
/// (port 0) and handed over; the socket is closed just before.
fn free_port() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").expect("binding a loopback port");
    s.local_addr().expect("local address")
}

// ---------------------------------------------------------------------------------------------
// The handler side
// ---------------------------------------------------------------------------------------------

/// The benchmark's handler: counts, checks order, optionally decodes, optionally records
/// latency (kernel receive stamp age, or the sender's stamp in the message).
struct Handler {
    decode: bool,
    ev: MarketEvent,
    events: u64,
    decode_errors: u64,
    kernel_age: Option<Histogram<u64>>,
    stamp_age: Option<Histogram<u64>>,
    next: u64,
    messages: u64,
    out_of_order: u64,
    lost: u64,
    gaps: u64,
    datagrams: u64,
    data_datagrams: u64,
    /// Data datagrams that carried a kernel receive timestamp.
    stamped_datagrams: u64,
    counted: u64,
    arrival_ns: u64,
    kernel_ns: Option<u64>,
    first_ns: Option<u64>,
    last_ns: u64,
    end: Option<u64>,
}

impl Handler {
    fn new(decode: bool) -> Self {
        Self {
            decode,
            ev: MarketEvent::new(
                Timestamp(0),
                InstrumentId::NONE,
                EventBody::BrokenTrade {
                    match_id: MatchId(0),
                },
            ),
            events: 0,
            decode_errors: 0,
            kernel_age: None,
            stamp_age: None,
            next: 1,
            messages: 0,
            out_of_order: 0,
            lost: 0,
            gaps: 0,
            datagrams: 0,
            data_datagrams: 0,
            stamped_datagrams: 0,
            counted: 0,
            arrival_ns: 0,
            kernel_ns: None,
            first_ns: None,
            last_ns: 0,
            end: None,
        }
    }

    /// Seconds from the first to the last data datagram.
    fn span_s(&self) -> f64 {
        self.first_ns
            .map_or(0.0, |f| self.last_ns.saturating_sub(f) as f64 / 1e9)
    }
}

impl Downstream for Handler {
    fn arrived(&mut self, kernel_ns: Option<u64>) {
        self.datagrams += 1;
        self.arrival_ns = mono_ns();
        self.kernel_ns = kernel_ns;
    }

    fn message(&mut self, seq: u64, bytes: &[u8]) {
        if seq != self.next {
            self.out_of_order += 1;
        }
        self.next = seq + 1;
        self.messages += 1;
        if self.counted != self.datagrams {
            self.counted = self.datagrams;
            self.data_datagrams += 1;
            self.stamped_datagrams += u64::from(self.kernel_ns.is_some());
            self.first_ns.get_or_insert(self.arrival_ns);
            self.last_ns = self.arrival_ns;
        }
        if self.decode {
            match decode_normalize_into(bytes, &mut self.ev) {
                Ok(true) => self.events += 1,
                Ok(false) => {}
                Err(_) => self.decode_errors += 1,
            }
            black_box(&self.ev);
        }
        if let (Some(h), Some(k)) = (self.kernel_age.as_mut(), self.kernel_ns) {
            h.saturating_record(UdpLine::age_ns(k));
        }
        if let Some(h) = self.stamp_age.as_mut() {
            if let Some(sent) = stamp_of(bytes) {
                h.saturating_record(mono_ns().saturating_sub(sent));
            }
        }
    }

    fn gap_lost(&mut self, first: u64, count: u64) {
        self.lost += count;
        self.gaps += 1;
        self.next = first + count;
    }

    fn end_of_session(&mut self, next: u64) {
        self.end = Some(next);
    }

    fn flush(&mut self) -> bool {
        true
    }

    fn stop_requested(&self) -> bool {
        false
    }
}

fn stamp_of(msg: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(msg.get(..8)?.try_into().ok()?))
}

type Received<D> = (D, LiveReport, Result<(), String>);

/// Starts `receive` on `addr` (one unicast line, recovery off) on its own thread, and returns
/// once its line is open (it has seen a probe heartbeat).
fn start_receiver<D: Downstream + Send + 'static>(
    addr: SocketAddr,
    busy_poll: bool,
    mut down: D,
) -> JoinHandle<Received<D>> {
    let config = LiveConfig {
        lines: vec![LineSource::Udp(UdpLineConfig::unicast(addr))],
        session: SessionConfig {
            session: Some(SESSION),
            first_sequence: Some(1),
            ..SessionConfig::default()
        },
        retransmit: Vec::new(),
        busy_poll,
        silence_ns: 1_000_000_000,
        stop_after_silence_ns: Some(3_000_000_000),
        record: None,
    };
    let counters = Arc::new(LiveCounters::default());
    let c = counters.clone();
    let handle = std::thread::Builder::new()
        .name("bench-receive".into())
        .spawn(move || {
            let mut live = LiveReport::default();
            let r = receive(&config, &mut down, &c, &mut live);
            (down, live, r)
        })
        .expect("spawning the receiver");
    // Heartbeats announcing sequence 1 (no gap, no message) until the line has one.
    let probe = UdpSocket::bind("127.0.0.1:0").expect("probe socket");
    let hb = MoldPacketBuilder::new(SESSION, 1).heartbeat();
    for _ in 0..5_000 {
        if counters.datagrams.load(Ordering::Relaxed) > 0 || handle.is_finished() {
            break;
        }
        let _ = probe.send_to(&hb, addr);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        counters.datagrams.load(Ordering::Relaxed) > 0,
        "the receiver did not open its line"
    );
    handle
}

// ---------------------------------------------------------------------------------------------
// The sending side
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Batching {
    /// Full packets (up to 1400 bytes), each sent when its first message is due.
    Full,
    /// Each message sent when due, with whatever else is due by then (so ~1 per datagram at
    /// low rates).
    Due,
}

#[derive(Clone, Copy)]
enum Body<'a> {
    Corpus(&'a Corpus),
    /// `STAMPED_LEN` bytes: send time then sequence number.
    Stamped,
}

#[derive(Clone, Copy, Debug, Default)]
struct Sent {
    messages: u64,
    packets: u64,
    errors: u64,
    first_ns: u64,
    last_ns: u64,
    /// Largest delay of a send past its schedule.
    max_lag_ns: u64,
}

impl Sent {
    fn rate(&self) -> f64 {
        let s = self.last_ns.saturating_sub(self.first_ns) as f64 / 1e9;
        if s > 0.0 {
            self.messages as f64 / s
        } else {
            0.0
        }
    }
}

/// Sends messages `1..=n` of `SESSION` to `dest` at `rate` messages/s (message `k` due at
/// `start + (k - 1) / rate`), then three end-of-session packets 1 ms apart.
fn send_paced(dest: SocketAddr, n: u64, rate: f64, batching: Batching, body: Body<'_>) -> Sent {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("sender socket");
    let mut b = MoldPacketBuilder::new(SESSION, 1).with_max_packet(DEFAULT_MAX_PACKET);
    let interval = 1e9 / rate;
    let start = mono_ns() + 1_000_000;
    let due = |seq: u64| start + ((seq - 1) as f64 * interval) as u64;
    let mut sent = Sent::default();
    let mut pkt = Vec::with_capacity(DEFAULT_MAX_PACKET);
    let mut stamped = [0u8; STAMPED_LEN];
    let mut seq = 1u64;
    while seq <= n {
        let d = due(seq);
        wait_until(d);
        sent.max_lag_ns = sent.max_lag_ns.max(mono_ns().saturating_sub(d));
        let mut count = 0usize;
        loop {
            let msg: &[u8] = match body {
                Body::Corpus(c) => c.get(seq - 1),
                Body::Stamped => {
                    stamped[8..].copy_from_slice(&seq.to_be_bytes());
                    &stamped
                }
            };
            if !b.try_push(msg).expect("a message fits a packet") {
                break;
            }
            seq += 1;
            count += 1;
            if seq > n || (batching == Batching::Due && due(seq) > mono_ns()) {
                break;
            }
        }
        pkt.clear();
        pkt.extend_from_slice(b.flush().expect("a packet with messages"));
        let now = mono_ns();
        if matches!(body, Body::Stamped) {
            for k in 0..count {
                let at = HEADER_LEN + k * (2 + STAMPED_LEN) + 2;
                pkt[at..at + 8].copy_from_slice(&now.to_be_bytes());
            }
        }
        if sent.packets == 0 {
            sent.first_ns = now;
        }
        sent.last_ns = now;
        match socket.send_to(&pkt, dest) {
            Ok(_) => {
                sent.packets += 1;
                sent.messages += count as u64;
            }
            Err(_) => sent.errors += 1,
        }
    }
    let eos = b.end_of_session();
    for i in 0..3 {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = socket.send_to(&eos, dest);
    }
    sent
}

// ---------------------------------------------------------------------------------------------
// 1. UDP handler throughput
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct ThroughputRow {
    sender: String,
    handler: &'static str,
    target: Option<f64>,
    messages: u64,
    send_rate: f64,
    recv_rate: f64,
    recv_pps: f64,
    per_packet: f64,
    delivered: u64,
    lost: u64,
    gaps: u64,
    out_of_order: u64,
    decode_errors: u64,
    rcvbuf_errors: Option<u64>,
    recv_buffer: usize,
    secs: f64,
}

impl ThroughputRow {
    fn lost_total(&self) -> u64 {
        self.lost.max(self.messages.saturating_sub(self.delivered))
    }

    fn zero_loss(&self) -> bool {
        self.lost_total() == 0 && self.out_of_order == 0
    }

    fn json(&self) -> Value {
        json!({
            "sender": self.sender, "handler": self.handler, "target_msgs_per_s": self.target,
            "messages": self.messages, "send_msgs_per_s": self.send_rate,
            "recv_msgs_per_s": self.recv_rate, "recv_packets_per_s": self.recv_pps,
            "msgs_per_packet": self.per_packet, "delivered": self.delivered,
            "lost_messages": self.lost_total(), "lost_gaps": self.gaps,
            "out_of_order": self.out_of_order, "decode_errors": self.decode_errors,
            "rcvbuf_errors": self.rcvbuf_errors, "so_rcvbuf": self.recv_buffer,
            "recv_seconds": self.secs, "zero_loss": self.zero_loss(),
        })
    }
}

fn row_from(
    sender: String,
    target: Option<f64>,
    n: u64,
    send_rate: f64,
    rcv0: Option<u64>,
    (h, live, r): Received<Handler>,
) -> ThroughputRow {
    r.expect("receive failed");
    let secs = h.span_s();
    let rcvbuf = rcvbuf_errors().zip(rcv0).map(|(a, b)| a.saturating_sub(b));
    ThroughputRow {
        sender,
        handler: if h.decode { "decode" } else { "count" },
        target,
        messages: n,
        send_rate,
        recv_rate: if secs > 0.0 {
            h.messages as f64 / secs
        } else {
            0.0
        },
        recv_pps: if secs > 0.0 {
            h.data_datagrams as f64 / secs
        } else {
            0.0
        },
        per_packet: h.messages as f64 / h.data_datagrams.max(1) as f64,
        delivered: h.messages,
        lost: h.lost.max(live.session.lost_messages),
        gaps: h.gaps,
        out_of_order: h.out_of_order,
        decode_errors: h.decode_errors,
        rcvbuf_errors: rcvbuf,
        recv_buffer: live.recv_buffers.first().copied().unwrap_or(0),
        secs,
    }
}

/// What a sweep of paced runs found, for one handler.
#[derive(Clone, Copy, Debug, Default)]
struct Sweep {
    /// Highest received rate of a run without loss.
    best: Option<f64>,
    /// Lowest target rate of a run with loss.
    first_lossy: Option<f64>,
    /// Whether, in a run without loss, the sender fell more than 5% short of its target.
    sender_short: bool,
}

fn simulator_max(history: &MessageHistory, decode: bool) -> ThroughputRow {
    let n = history.len() as u64;
    let addr = free_port();
    let rcv0 = rcvbuf_errors();
    let rx = start_receiver(addr, true, Handler::new(decode));
    let mut cfg = SimConfig::new(SESSION, addr);
    cfg.speed = Pace::Max;
    cfg.faults = Faults::default();
    cfg.max_packet = DEFAULT_MAX_PACKET;
    cfg.linger_ns = 0;
    let mut sim = Simulator::new(cfg).expect("simulator");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let t0 = mono_ns();
    let report = sim.run(history, |_| None, &stop).expect("simulator run");
    // Less the end-of-session packets' 2 ms.
    let secs = (mono_ns() - t0).saturating_sub(2_000_000) as f64 / 1e9;
    let send_rate = report.messages as f64 / secs;
    let got = rx.join().expect("receiver thread");
    row_from("simulator Max".into(), None, n, send_rate, rcv0, got)
}

fn paced_run(corpus: &Corpus, rate: f64, secs: f64, decode: bool) -> ThroughputRow {
    let n = (rate * secs).ceil() as u64;
    let addr = free_port();
    let rcv0 = rcvbuf_errors();
    let rx = start_receiver(addr, true, Handler::new(decode));
    let sent = send_paced(addr, n, rate, Batching::Full, Body::Corpus(corpus));
    let got = rx.join().expect("receiver thread");
    row_from(
        "paced, full pkts".into(),
        Some(rate),
        n,
        sent.rate(),
        rcv0,
        got,
    )
}

// ---------------------------------------------------------------------------------------------
// 2. Wire-to-handler latency
// ---------------------------------------------------------------------------------------------

struct LatencyRow {
    busy_poll: bool,
    rate: f64,
    messages: u64,
    delivered: u64,
    lost: u64,
    datagrams: u64,
    stamped: u64,
    hist: Histogram<u64>,
}

fn wire_to_handler(corpus: &Corpus, rate: f64, secs: f64, busy_poll: bool) -> LatencyRow {
    let n = (rate * secs).ceil() as u64;
    let addr = free_port();
    let mut h = Handler::new(true);
    h.kernel_age = Some(hist());
    let rx = start_receiver(addr, busy_poll, h);
    send_paced(addr, n, rate, Batching::Due, Body::Corpus(corpus));
    let (h, _live, r) = rx.join().expect("receiver thread");
    r.expect("receive failed");
    LatencyRow {
        busy_poll,
        rate,
        messages: n,
        delivered: h.messages,
        lost: h.lost.max(n.saturating_sub(h.messages)),
        datagrams: h.data_datagrams,
        stamped: h.stamped_datagrams,
        hist: h.kernel_age.unwrap_or_else(hist),
    }
}

// ---------------------------------------------------------------------------------------------
// 3. QUIC relay
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Path {
    Direct,
    Relay(LiveMode),
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Direct => "direct UDP",
            Path::Relay(LiveMode::Datagrams) => "relay datagram",
            Path::Relay(LiveMode::Stream) => "relay stream",
        }
    }
}

/// What a relay client saw.
struct ClientRun {
    messages: u64,
    out_of_order: u64,
    hist: Histogram<u64>,
    first_ns: Option<u64>,
    last_ns: u64,
    error: Option<String>,
}

struct Rig {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    cert: DevCert,
    tx: Option<mpsc::Sender<RelayInput>>,
    stats: Arc<RelayStats>,
    served: tokio::task::JoinHandle<Result<(), RelayError>>,
}

fn start_relay(subscriber_queue: usize) -> Rig {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("relay runtime");
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let cert = tls::self_signed(&names).expect("certificate");
    let server = tls::server_config(&cert.cert_pem, &cert.key_pem, None).expect("server config");
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let mut rc = RelayConfig::new(listen, server, Some(TOKEN.to_owned()), SESSION);
    rc.subscriber_queue = subscriber_queue;
    rc.linger = Duration::from_secs(1);
    let server = {
        let _guard = rt.enter();
        RelayServer::bind(rc).expect("relay bind")
    };
    let addr = server.local_addr();
    let (tx, rx) = mpsc::channel(65_536);
    let stats = Arc::new(RelayStats::new());
    let served = rt.spawn(server.run(rx, stats.clone()));
    Rig {
        rt,
        addr,
        cert,
        tx: Some(tx),
        stats,
        served,
    }
}

impl Rig {
    /// Connects a client on its own thread (its own single-threaded runtime) and returns once
    /// it is subscribed. It records per message the age of the stamp if `stamped`.
    fn client(&self, mode: LiveMode, stamped: bool, limit: Duration) -> JoinHandle<ClientRun> {
        let cfg = RelayClientConfig {
            server: self.addr,
            server_name: "localhost".to_owned(),
            client: tls::client_config(&self.cert.cert_pem, None).expect("client config"),
            token: Some(TOKEN.to_owned()),
            mode,
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let handle = std::thread::Builder::new()
            .name("bench-relay-client".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("client runtime");
                rt.block_on(client_main(cfg, stamped, limit, ready_tx))
            })
            .expect("spawning the client");
        ready_rx
            .recv()
            .expect("client thread")
            .expect("client connect");
        handle
    }

    /// Waits for the relay to finish (its input must be closed) and shuts the runtime down.
    fn finish(mut self) -> Result<(), String> {
        self.tx = None;
        let r = self
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), self.served).await });
        self.rt.shutdown_timeout(Duration::from_secs(1));
        match r {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(e.to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("relay did not finish in 10 s".into()),
        }
    }
}

async fn client_main(
    cfg: RelayClientConfig,
    stamped: bool,
    limit: Duration,
    ready: std::sync::mpsc::SyncSender<Result<(), String>>,
) -> ClientRun {
    let mut run = ClientRun {
        messages: 0,
        out_of_order: 0,
        hist: hist(),
        first_ns: None,
        last_ns: 0,
        error: None,
    };
    let (mut client, welcome) = match RelayClient::connect(cfg).await {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            run.error = Some(e.to_string());
            return run;
        }
    };
    let _ = ready.send(Ok(()));
    let mut next = welcome.next_seq;
    let outcome = tokio::time::timeout(limit, async {
        loop {
            let p = match client.recv().await {
                None => return None,
                Some(Err(e)) => return Some(e.to_string()),
                Some(Ok(p)) => p,
            };
            let now = mono_ns();
            let Ok(packet) = MoldPacket::parse(&p) else {
                return Some("malformed packet".to_owned());
            };
            if packet.kind() != PacketKind::Data {
                continue;
            }
            run.first_ns.get_or_insert(now);
            run.last_ns = now;
            for (i, m) in packet.messages().enumerate() {
                let seq = packet.sequence() + i as u64;
                if seq != next {
                    run.out_of_order += 1;
                }
                next = seq + 1;
                run.messages += 1;
                if stamped {
                    if let Some(sent) = m.ok().and_then(stamp_of) {
                        run.hist.saturating_record(now.saturating_sub(sent));
                    }
                }
            }
        }
    })
    .await;
    match outcome {
        Ok(None) => {}
        Ok(Some(e)) => run.error = Some(e),
        Err(_) => run.error = Some(format!("timed out after {limit:?}")),
    }
    client.shutdown().await;
    run
}

struct RelayRow {
    messages: u64,
    delivered: u64,
    out_of_order: u64,
    hist: Histogram<u64>,
    note: Option<String>,
}

impl RelayRow {
    fn merge(mut self, other: RelayRow) -> RelayRow {
        self.messages += other.messages;
        self.delivered += other.delivered;
        self.out_of_order += other.out_of_order;
        self.hist.add(&other.hist).expect("same histogram bounds");
        self.note = match (self.note, other.note) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        self
    }
}

fn relay_latency(rate: f64, secs: f64, path: Path) -> RelayRow {
    let n = (rate * secs).ceil() as u64;
    let addr = free_port();
    match path {
        Path::Direct => {
            let mut h = Handler::new(false);
            h.stamp_age = Some(hist());
            let rx = start_receiver(addr, false, h);
            send_paced(addr, n, rate, Batching::Due, Body::Stamped);
            let (h, _live, r) = rx.join().expect("receiver thread");
            r.expect("receive failed");
            RelayRow {
                messages: n,
                delivered: h.messages,
                out_of_order: h.out_of_order,
                hist: h.stamp_age.unwrap_or_else(hist),
                note: None,
            }
        }
        Path::Relay(mode) => {
            let mut rig = start_relay(DEFAULT_SUBSCRIBER_QUEUE);
            let limit = Duration::from_secs_f64(secs + 15.0);
            let client = rig.client(mode, true, limit);
            let tx = rig.tx.take().expect("relay input");
            let up = start_receiver(addr, false, RelayUpstream::new(tx, SESSION));
            send_paced(addr, n, rate, Batching::Due, Body::Stamped);
            let (to_relay, live, r) = up.join().expect("upstream thread");
            drop(to_relay);
            r.expect("upstream receive failed");
            let c = client.join().expect("client thread");
            let stats = rig.stats.snapshot();
            let finished = rig.finish();
            let mut notes = Vec::new();
            if live.session.lost_messages > 0 {
                notes.push(format!(
                    "{} lost upstream (UDP)",
                    live.session.lost_messages
                ));
            }
            if stats.disconnected_slow > 0 {
                notes.push("subscriber disconnected as slow".to_owned());
            }
            if let Some(e) = c.error {
                notes.push(format!("client: {e}"));
            }
            if let Err(e) = finished {
                notes.push(format!("relay: {e}"));
            }
            RelayRow {
                messages: n,
                delivered: c.messages,
                out_of_order: c.out_of_order,
                hist: c.hist,
                note: (!notes.is_empty()).then(|| notes.join("; ")),
            }
        }
    }
}

struct RelayThroughput {
    messages: u64,
    packets: usize,
    delivered: u64,
    recv_rate: f64,
    recv_mb_s: f64,
    secs: f64,
    out_of_order: u64,
    slow: u64,
    note: Option<String>,
}

fn relay_throughput(corpus: &Corpus, n: u64) -> RelayThroughput {
    let mut packets = Vec::new();
    let mut b = MoldPacketBuilder::new(SESSION, 1).with_max_packet(DEFAULT_MAX_PACKET);
    for i in 0..n {
        b.push(corpus.get(i), |p| packets.push(Bytes::copy_from_slice(p)))
            .expect("a message fits a packet");
    }
    if let Some(p) = b.flush() {
        packets.push(Bytes::copy_from_slice(p));
    }
    let bytes: usize = packets.iter().map(Bytes::len).sum();
    let count = packets.len();
    let mut rig = start_relay(count + 16);
    let client = rig.client(LiveMode::Stream, false, Duration::from_secs(60));
    let tx = rig.tx.take().expect("relay input");
    let feeder = std::thread::spawn(move || {
        let t0 = mono_ns();
        for p in packets {
            if tx.blocking_send(RelayInput::Packet(p)).is_err() {
                break;
            }
        }
        let _ = tx.blocking_send(RelayInput::EndOfSession(n + 1));
        t0
    });
    let t0 = feeder.join().expect("feeder thread");
    let c = client.join().expect("client thread");
    let stats = rig.stats.snapshot();
    let finished = rig.finish();
    // From the first packet handed to the relay to the last message the client got.
    let secs = c.last_ns.saturating_sub(t0) as f64 / 1e9;
    let mut notes = Vec::new();
    if let Some(e) = c.error {
        notes.push(format!("client: {e}"));
    }
    if let Err(e) = finished {
        notes.push(format!("relay: {e}"));
    }
    RelayThroughput {
        messages: n,
        packets: count,
        delivered: c.messages,
        recv_rate: if secs > 0.0 {
            c.messages as f64 / secs
        } else {
            0.0
        },
        recv_mb_s: if secs > 0.0 {
            bytes as f64 * c.messages as f64 / n as f64 / secs / 1e6
        } else {
            0.0
        },
        secs,
        out_of_order: c.out_of_order,
        slow: stats.disconnected_slow,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

fn m(rate: f64) -> String {
    format!("{:.2} M", rate / 1e6)
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

fn quantiles(h: &Histogram<u64>) -> [u64; 4] {
    [
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
    ]
}

fn print_throughput_header() {
    println!(
        "{:<18} {:<7} {:>9} {:>10} {:>10} {:>10} {:>10} {:>7} {:>10} {:>9} {:>5} {:>8} {:>5}",
        "sender",
        "handler",
        "target/s",
        "messages",
        "sent/s",
        "recv msg/s",
        "recv pkt/s",
        "msg/pkt",
        "delivered",
        "lost msgs",
        "gaps",
        "rcvbufE",
        "ok"
    );
}

fn print_throughput(r: &ThroughputRow) {
    println!(
        "{:<18} {:<7} {:>9} {:>10} {:>10} {:>10} {:>10.0} {:>7.1} {:>10} {:>9} {:>5} {:>8} {:>5}",
        r.sender,
        r.handler,
        r.target.map_or("-".to_owned(), m),
        r.messages,
        m(r.send_rate),
        m(r.recv_rate),
        r.recv_pps,
        r.per_packet,
        r.delivered,
        r.lost_total(),
        r.gaps,
        r.rcvbuf_errors.map_or("?".to_owned(), |e| e.to_string()),
        if r.zero_loss() { "yes" } else { "NO" }
    );
    if r.decode_errors > 0 || r.out_of_order > 0 {
        println!(
            "    !! decode errors {}, out of order {}",
            r.decode_errors, r.out_of_order
        );
    }
}

fn hist_json(h: &Histogram<u64>) -> Value {
    let [p50, p99, p999, max] = quantiles(h);
    json!({"count": h.len(), "p50_ns": p50, "p99_ns": p99, "p99_9_ns": p999, "max_ns": max,
        "mean_ns": h.mean()})
}

/// Where `target/` is: this executable lives in `target/<profile>/deps/`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .filter(|t| t.is_dir())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

fn main() {
    let _ = mono_ns();
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("TICKLANE_LIVE_QUICK").is_some();
    let p = Params::new(quick);
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!("live bench: still running after {WATCHDOG:?}; giving up");
        std::process::exit(2);
    });
    let t_start = mono_ns();
    let mut doc = serde_json::Map::new();
    doc.insert("quick".into(), quick.into());
    doc.insert("loadavg_start".into(), loadavg().into());
    doc.insert(
        "cpus".into(),
        std::thread::available_parallelism()
            .map_or(0, |n| n.get())
            .into(),
    );

    let corpus = Corpus::generate(p.corpus);
    let mut history = MessageHistory::new(usize::MAX, usize::MAX);
    for i in 0..p.sim_messages {
        history.push(i + 1, corpus.get(i));
    }
    println!(
        "ticklane live-path benchmark{} — loopback 127.0.0.1, {} CPUs, load average {}, session seed 7, 64 instruments, {:.1} bytes/message",
        if quick { " (--quick)" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg(),
        (corpus.framed.len() - 2 * corpus.spans.len()) as f64 / corpus.spans.len() as f64
    );

    // 1. Throughput.
    println!();
    println!(
        "1. UDP handler throughput: simulator or paced sender → receive() (1 line, busy-poll, recovery OFF) → handler"
    );
    print_throughput_header();
    let mut rows = Vec::new();
    for decode in [false, true] {
        let r = simulator_max(&history, decode);
        print_throughput(&r);
        rows.push(r);
    }
    drop(history);
    let mut sweeps = [Sweep::default(), Sweep::default()];
    for (k, decode) in [false, true].into_iter().enumerate() {
        let sweep = &mut sweeps[k];
        // The extra rates are tried only while every run was clean and the sender kept up.
        let mut extend = true;
        for &rate in p.sweep_rates.iter().chain(p.extra_rates) {
            let extra = !p.sweep_rates.contains(&rate);
            if extra && !extend {
                break;
            }
            let r = paced_run(&corpus, rate, p.sweep_secs, decode);
            print_throughput(&r);
            let sender_short = r.send_rate < 0.95 * rate;
            if r.zero_loss() {
                if sweep.best.is_none_or(|b| r.recv_rate > b) {
                    sweep.best = Some(r.recv_rate);
                }
                sweep.sender_short |= sender_short;
            } else {
                sweep.first_lossy.get_or_insert(rate);
            }
            extend &= r.zero_loss() && !sender_short;
            rows.push(r);
        }
    }
    let recv_buffer = rows.first().map_or(0, |r| r.recv_buffer);
    println!(
        "   SO_RCVBUF granted: {recv_buffer} bytes; paced runs last {} s each",
        p.sweep_secs
    );
    for (sweep, name) in sweeps.iter().zip(["count", "decode"]) {
        let tail = match (sweep.first_lossy, sweep.sender_short) {
            (Some(t), _) => format!("first loss at target {}", m(t)),
            (None, true) => {
                "no loss at any rate; the sender topped out first, so the handler's limit is higher"
                    .to_owned()
            }
            (None, false) => "no loss at any rate tried".to_owned(),
        };
        println!(
            "   {name} handler: highest zero-loss rate {} messages/s; {tail} (target ≥ 2 M: {})",
            sweep.best.map_or("none".to_owned(), m),
            if sweep.best.is_some_and(|b| b >= 2e6) {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    let sweep_json = |s: &Sweep| {
        json!({"highest_zero_loss_msgs_per_s": s.best, "first_lossy_target": s.first_lossy,
            "sender_fell_short": s.sender_short})
    };
    doc.insert(
        "throughput".into(),
        json!({
            "rows": rows.iter().map(ThroughputRow::json).collect::<Vec<_>>(),
            "count": sweep_json(&sweeps[0]),
            "decode": sweep_json(&sweeps[1]),
            "sweep_seconds": p.sweep_secs,
        }),
    );

    // 2. Wire-to-handler latency.
    println!();
    println!(
        "2. Wire-to-handler latency at {} messages/s (paced, each message sent when due), decode handler:",
        m(p.latency_rate)
    );
    println!("   realtime now − kernel SO_TIMESTAMPNS stamp of its datagram, per message, at Downstream::message (µs)");
    println!(
        "   {:<9} {:>9} {:>9} {:>9} {:>14} {:>8} {:>8} {:>8} {:>8}",
        "receive",
        "messages",
        "delivered",
        "datagrams",
        "kernel-stamped",
        "p50",
        "p99",
        "p99.9",
        "max"
    );
    let mut lat_rows = Vec::new();
    for busy_poll in [true, false] {
        let l = wire_to_handler(&corpus, p.latency_rate, p.latency_secs, busy_poll);
        let [p50, p99, p999, max] = quantiles(&l.hist);
        println!(
            "   {:<9} {:>9} {:>9} {:>9} {:>14} {:>8} {:>8} {:>8} {:>8}",
            if l.busy_poll { "busy-poll" } else { "poll(2)" },
            l.messages,
            l.delivered,
            l.datagrams,
            l.stamped,
            us(p50),
            us(p99),
            us(p999),
            us(max)
        );
        if l.lost > 0 {
            println!("      !! {} messages lost", l.lost);
        }
        lat_rows.push(json!({
            "busy_poll": l.busy_poll, "rate_msgs_per_s": l.rate, "messages": l.messages,
            "delivered": l.delivered, "lost": l.lost, "data_datagrams": l.datagrams,
            "kernel_stamped_datagrams": l.stamped, "latency": hist_json(&l.hist),
        }));
    }
    doc.insert("wire_to_handler".into(), Value::Array(lat_rows));

    // 3. Relay.
    println!();
    println!(
        "3. QUIC relay: sender → UDP → receive() → RelayServer → QUIC → RelayClient; one-way send → receive per message (monotonic, µs)"
    );
    println!(
        "   {:>8} {:<15} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} | {:>9} {:>9} {:>9}",
        "rate/s",
        "path",
        "sent",
        "delivered",
        "p50",
        "p99",
        "p99.9",
        "max",
        "+p50",
        "+p99",
        "+p99.9"
    );
    let mut relay_rows = Vec::new();
    let paths = [
        Path::Direct,
        Path::Relay(LiveMode::Datagrams),
        Path::Relay(LiveMode::Stream),
    ];
    for &rate in p.relay_rates {
        let mut merged: Vec<Option<RelayRow>> = paths.iter().map(|_| None).collect();
        for round in 0..p.relay_rounds {
            for k in 0..paths.len() {
                let i = (k + round) % paths.len();
                let r = relay_latency(rate, p.relay_secs / p.relay_rounds as f64, paths[i]);
                merged[i] = Some(match merged[i].take() {
                    None => r,
                    Some(acc) => acc.merge(r),
                });
            }
        }
        let mut direct = None;
        for (path, r) in paths.into_iter().zip(merged) {
            let r = r.expect("every path ran");
            let q = quantiles(&r.hist);
            let added = direct.map(|d: [u64; 4]| {
                [
                    q[0] as i64 - d[0] as i64,
                    q[1] as i64 - d[1] as i64,
                    q[2] as i64 - d[2] as i64,
                ]
            });
            let a =
                |i: usize| added.map_or("-".to_owned(), |a| format!("{:.1}", a[i] as f64 / 1e3));
            println!(
                "   {:>8} {:<15} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} | {:>9} {:>9} {:>9}",
                format!("{:.0}k", rate / 1e3),
                path.name(),
                r.messages,
                r.delivered,
                us(q[0]),
                us(q[1]),
                us(q[2]),
                us(q[3]),
                a(0),
                a(1),
                a(2)
            );
            if r.out_of_order > 0 {
                println!("      !! {} sequence jumps at the receiver", r.out_of_order);
            }
            if let Some(n) = &r.note {
                println!("      !! {n}");
            }
            if path == Path::Direct {
                direct = Some(q);
            }
            relay_rows.push(json!({
                "rate_msgs_per_s": rate, "path": path.name(), "messages": r.messages,
                "delivered": r.delivered, "out_of_order": r.out_of_order,
                "latency": hist_json(&r.hist),
                "added_ns": added.map(|a| json!({"p50": a[0], "p99": a[1], "p99_9": a[2]})),
                "note": r.note,
            }));
        }
    }
    println!("   (+: relay − direct at the same percentile, separate runs; target: +p99 < 200 µs)");
    let t = relay_throughput(&corpus, p.relay_tput_messages);
    println!(
        "   relay max throughput, stream mode, 1 subscriber: input channel fed {} prebuilt 1400-byte packets as fast as it takes them,",
        t.packets
    );
    println!(
        "   timed from the first packet in to the last message at the client: {} messages/s ({:.0} MB/s), {} of {} delivered in {:.2} s{}{}",
        m(t.recv_rate),
        t.recv_mb_s,
        t.delivered,
        t.messages,
        t.secs,
        if t.out_of_order > 0 {
            format!("; !! {} sequence jumps", t.out_of_order)
        } else {
            String::new()
        },
        if t.slow > 0 {
            "; !! disconnected as slow"
        } else {
            ""
        }
    );
    if let Some(n) = &t.note {
        println!("   !! {n}");
    }
    doc.insert(
        "relay".into(),
        json!({
            "latency_rows": relay_rows,
            "throughput_stream": {
                "messages": t.messages, "packets": t.packets, "delivered": t.delivered,
                "recv_msgs_per_s": t.recv_rate, "recv_mb_per_s": t.recv_mb_s,
                "seconds": t.secs, "out_of_order": t.out_of_order,
                "disconnected_slow": t.slow, "note": t.note,
            },
        }),
    );

    let total = (mono_ns() - t_start) as f64 / 1e9;
    doc.insert("seconds".into(), total.into());
    doc.insert("loadavg_end".into(), loadavg().into());
    println!("\nload average at the end: {}", loadavg());
    let path = target_dir().join("live-bench.json");
    let text = serde_json::to_string_pretty(&Value::Object(doc)).expect("JSON of plain values");
    match std::fs::write(&path, text + "\n") {
        Ok(()) => println!("\nwrote {} ({total:.1} s in all)", path.display()),
        Err(e) => eprintln!("\ncould not write {}: {e}", path.display()),
    }
}
