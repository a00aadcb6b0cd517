//! The live commands and their shared pieces: `serve` (the exchange simulator), `relay` (the
//! QUIC relay), `cert` (a self-signed development certificate), and the feed addresses that
//! `paper --feed` and `relay --from` take (`udp://…`, `quic://…`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context};
use ticklane_feeds::moldudp64::session::SessionConfig;
use ticklane_live::history::MessageHistory;
use ticklane_live::simulator::{Faults, Pace, SimConfig, Simulator};
use ticklane_live::source::{LineSource, LiveConfig};
use ticklane_live::udp::UdpLineConfig;

use crate::ReadOpts;

/// A MoldUDP64 session name: up to 10 ASCII characters, right-padded with spaces.
pub fn session_name(s: &str) -> anyhow::Result<[u8; 10]> {
    if s.len() > 10 || !s.is_ascii() {
        bail!("--session: a MoldUDP64 session is at most 10 ASCII characters, got `{s}`");
    }
    let mut out = [b' '; 10];
    out[..s.len()].copy_from_slice(s.as_bytes());
    Ok(out)
}

/// The messages of `source` (any file `ticklane` reads, or `generated[:SEED[:MESSAGES]]` for
/// the embedded synthetic session) in order, as the history a simulator publishes from.
pub fn load_messages(source: &str) -> anyhow::Result<MessageHistory> {
    let mut history = MessageHistory::new(usize::MAX, usize::MAX);
    let mut seq = 1u64;
    // `generated` or `generated:...` only: a file whose name starts with `generated` is a file.
    let generated = if source == "generated" {
        Some("")
    } else {
        source.strip_prefix("generated:")
    };
    if let Some(rest) = generated {
        let mut parts = rest.split(':');
        let seed = parts
            .next()
            .filter(|s| !s.is_empty())
            .map_or(Ok(7), str::parse)
            .context("generated:SEED")?;
        let messages = parts
            .next()
            .map_or(Ok(200_000), str::parse)
            .context("generated:SEED:MESSAGES")?;
        if parts.next().is_some() {
            bail!("{source}: expected generated[:SEED[:MESSAGES]]");
        }
        let buf = super::pipeline::generate_framed(seed, messages, 64)?;
        for frame in ticklane_feeds::binfile::Frames::new(&buf) {
            history.push(seq, frame.context("generated session")?.bytes);
            seq += 1;
        }
        return Ok(history);
    }
    let opts = ReadOpts {
        orderbook: None,
        lengths_from_type: false,
        events_only: false,
    };
    let report = super::feed::read(Path::new(source), &opts, |rec| {
        if let Some(m) = rec.itch {
            history.push(seq, m.as_bytes());
            seq += 1;
        }
        ControlFlow::Continue(())
    })?;
    if report.errors > 0 {
        report.print_errors();
    }
    if report.source.gaps > 0 {
        // The file lost messages for good (a reader's `FeedGap`): what is served is
        // renumbered without them, so a receiver would see no gap. Said, not hidden.
        errln!(
            "{source}: {} messages in {} gaps were lost for good in this file: the session \
             served leaves them out and is numbered without them (its receivers see no gap)",
            report.source.missing,
            report.source.gaps
        );
    }
    if history.is_empty() {
        bail!("{source}: no ITCH messages to serve");
    }
    Ok(history)
}

/// Options of `ticklane serve`.
#[derive(Debug, Clone)]
pub struct ServeArgs {
    /// What to publish.
    pub source: String,
    /// Line A destination.
    pub to: SocketAddr,
    /// Line B destination.
    pub line_b: Option<SocketAddr>,
    /// Retransmission server address.
    pub retransmit: Option<SocketAddr>,
    /// Pace.
    pub speed: String,
    /// Fault injection.
    pub faults: Faults,
    /// Session name.
    pub session: String,
    /// Seconds to keep answering re-requests after the end.
    pub linger_secs: f64,
    /// Outgoing multicast interface.
    pub multicast_if: Option<Ipv4Addr>,
    /// Largest packet (UDP payload), bytes.
    pub max_packet: usize,
    /// Answer each re-request with one packet.
    pub one_packet_answers: bool,
}

/// `ticklane serve`: publishes a session as MoldUDP64 over UDP.
pub fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let history = load_messages(&a.source)?;
    let mut cfg = SimConfig::new(session_name(&a.session)?, a.to);
    cfg.line_b = a.line_b;
    // `SimConfig::new` binds to loopback when line A is loopback; such a socket cannot send to
    // a line B on another host.
    if a.line_b.is_some_and(|b| !b.ip().is_loopback()) && cfg.bind.ip().is_loopback() {
        cfg.bind = match cfg.bind {
            SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
        };
    }
    cfg.retransmit = a.retransmit;
    cfg.speed = a.speed.parse::<Pace>()?;
    cfg.faults = a.faults;
    // Negative or NaN was taken as 0 (no linger) without a word; infinity lingers until Ctrl-C.
    if a.linger_secs.is_nan() || a.linger_secs < 0.0 {
        bail!(
            "--linger: {} is not a number of seconds of 0 or more",
            a.linger_secs
        );
    }
    cfg.linger_ns = (a.linger_secs * 1e9) as u64;
    cfg.multicast_if = a.multicast_if;
    cfg.max_packet = a.max_packet;
    cfg.one_packet_answers = a.one_packet_answers;
    let mut sim = Simulator::new(cfg)?;
    errln!(
        "serving {} messages of {} to {}{}{} at {}",
        history.len(),
        a.source,
        a.to,
        a.line_b
            .map(|b| format!(" and {b} (line B)"))
            .unwrap_or_default(),
        sim.retransmit_addr()
            .map(|r| format!(", re-requests on {r}"))
            .unwrap_or_default(),
        a.speed
    );
    // A stopped run sends end of session and does not linger (`Simulator::run`).
    let stop = stop_on_ctrl_c(
        "interrupted: end of session, without the linger (re-requests are no longer answered)",
    );
    let report = sim.run(&history, itch_timestamp, &stop)?;
    outln!(
        "published {} messages in {} packets; end of session at {}{}",
        report.messages,
        report.packets,
        report.end_sequence,
        if report.stopped { " (stopped)" } else { "" }
    )?;
    for (name, l) in ["A", "B"].iter().zip(&report.lines) {
        outln!(
            "line {name}: sent {} datagrams; dropped {}, duplicated {}, reordered {}; heartbeats {}, end of session {}, send errors {}",
            l.sent, l.dropped, l.duplicated, l.reordered, l.heartbeats, l.end_of_session, l.send_errors
        )?;
    }
    outln!(
        "re-requests: {} received, {} messages in {} packets sent back; {} bad, {} unanswerable; {} answer packets the socket refused",
        report.requests,
        report.retransmitted_messages,
        report.retransmit_packets,
        report.bad_requests,
        report.unanswerable_requests,
        report.answer_send_errors
    )?;
    Ok(ExitCode::SUCCESS)
}

/// A flag that Ctrl-C sets (after printing `why`), for commands that run on plain threads.
pub fn stop_on_ctrl_c(why: &'static str) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    errln!("{why}");
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    stop
}

/// An ITCH 5.0 message's timestamp (ns since midnight, bytes 5..11).
fn itch_timestamp(msg: &[u8]) -> Option<u64> {
    let ts = msg.get(5..11)?;
    Some(ts.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)))
}

/// Options of a live feed on the command line (`paper --feed`, `relay --from`).
#[derive(Debug, Clone, Default)]
pub struct FeedArgs {
    /// Line A: `udp://ADDR:PORT` (unicast: the local address to bind; multicast: the group),
    /// `udp://GROUP:PORT@IFACE`, or `quic://HOST:PORT`.
    pub feed: String,
    /// Line B (UDP only).
    pub line_b: Option<String>,
    /// MoldUDP64 re-request servers.
    pub retransmit: Vec<SocketAddr>,
    /// Record what is received to this capture.
    pub record: Option<PathBuf>,
    /// When the recording is flushed: `block` (every 1 MiB block), `records:N`, `manual`.
    pub record_flush: Option<String>,
    /// The recorder's ring, MiB (default 64).
    pub record_ring_mb: Option<u32>,
    /// Session name to accept (default: the first packet's).
    pub session: Option<String>,
    /// Join mid-session (default: expect sequence 1).
    pub join: bool,
    /// Spin on the sockets.
    pub busy_poll: bool,
    /// Socket receive buffer, bytes.
    pub recv_buffer: usize,
    /// Gap grace (waiting for the other line), µs.
    pub grace_us: u64,
    /// Re-request timeout, ms.
    pub request_timeout_ms: u64,
    /// Re-request retries.
    pub retries: u32,
    /// Most re-requests outstanding per gap (`None`: the session's default).
    pub requests_per_gap: Option<u16>,
    /// Re-requests off.
    pub no_recovery: bool,
    /// Largest packet held for reordering, bytes (`None`: the session's default).
    pub max_packet: Option<usize>,
    /// Stop after this many seconds without a datagram.
    pub stop_after_silence_secs: Option<f64>,
    /// QUIC: CA certificate (PEM) to trust.
    pub ca: Option<PathBuf>,
    /// QUIC: token.
    pub token: Option<String>,
    /// QUIC: client certificate and key (PEM) for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// QUIC: server name to verify (default: the host of the URL).
    pub server_name: Option<String>,
    /// QUIC: live packets on a stream instead of datagrams.
    pub quic_stream: bool,
}

/// Parses one UDP line address.
pub fn udp_line(url: &str, recv_buffer: usize) -> anyhow::Result<UdpLineConfig> {
    // The same parsing checks a `[source.live]` table on load.
    let (addr, iface) = crate::run_config::udp_address(url)?;
    let mut cfg = UdpLineConfig::unicast(addr);
    cfg.recv_buffer = recv_buffer;
    if let IpAddr::V4(ip) = addr.ip() {
        if ip.is_multicast() {
            // Bound to the group itself (`addr`), not 0.0.0.0: see `UdpLine::open`.
            cfg.group = Some(ip);
            cfg.interface = iface;
        }
    }
    Ok(cfg)
}

/// The live source configuration a command line describes.
pub fn live_config(a: &FeedArgs) -> anyhow::Result<LiveConfig> {
    // What would do nothing is refused by name, as the same keys in a `[source.live]` table
    // are on load (`RunConfig::validate_live`).
    let quic = a.feed.starts_with("quic://");
    if let Some((flag, why)) = crate::run_config::idle_live_setting(
        quic,
        a.record.is_some(),
        [
            ("--ca (source.live.ca)", a.ca.is_some()),
            ("--token (source.live.token_env)", a.token.is_some()),
            (
                "--client-cert/--client-key (source.live.client_cert)",
                a.client_cert.is_some(),
            ),
            ("--quic-stream (source.live.quic_stream)", a.quic_stream),
        ],
        [
            (
                "--record-flush (source.live.record_flush)",
                a.record_flush.is_some(),
            ),
            (
                "--record-ring-mb (source.live.record_ring_mb)",
                a.record_ring_mb.is_some(),
            ),
        ],
    ) {
        bail!("{flag}: {why} (the feed is `{}`)", a.feed);
    }
    if a.no_recovery {
        // Nothing is ever re-requested: servers and a per-gap bound would do nothing.
        for (flag, set) in [
            (
                "--retransmit (source.live.retransmit)",
                !a.retransmit.is_empty(),
            ),
            (
                "--requests-per-gap (source.live.requests_per_gap)",
                a.requests_per_gap.is_some(),
            ),
        ] {
            if set {
                bail!("{flag}: --no-recovery (recovery = false) never re-requests; leave it out");
            }
        }
    }
    let mut session = SessionConfig {
        session: a.session.as_deref().map(session_name).transpose()?,
        first_sequence: if a.join { None } else { Some(1) },
        recovery: !a.no_recovery,
        max_retries: a.retries,
        ..SessionConfig::default()
    };
    if let Some(n) = a.requests_per_gap {
        if !crate::run_config::REQUESTS_PER_GAP.contains(&n) {
            bail!("requests_per_gap (--requests-per-gap, source.live.requests_per_gap): {n}: expected 1 to 1024");
        }
        session.max_requests_per_gap = n;
    }
    if let Some(n) = a.max_packet {
        if !crate::run_config::MAX_PACKET.contains(&n) {
            bail!("max_packet (--max-packet, source.live.max_packet): {n}: expected 64 to 65507 (the largest UDP payload)");
        }
        session.max_packet = n;
    }
    // Checked: a value past `u64` nanoseconds wrapped (a panic in a debug build, a few
    // hundred nanoseconds of grace in a release one).
    if a.grace_us > 0 {
        session.line_grace_ns = a.grace_us.checked_mul(1_000).with_context(|| {
            format!(
                "grace_us (--grace-us, source.live.grace_us): {} µs is longer than u64 nanoseconds hold",
                a.grace_us
            )
        })?;
    }
    if a.request_timeout_ms > 0 {
        session.request_timeout_ns =
            a.request_timeout_ms.checked_mul(1_000_000).with_context(|| {
                format!(
                    "request_timeout_ms (--request-timeout-ms, source.live.request_timeout_ms): {} ms is longer than u64 nanoseconds hold",
                    a.request_timeout_ms
                )
            })?;
    }
    // 0 is refused too: it ended the run at the first quiet poll.
    if let Some(s) = a
        .stop_after_silence_secs
        .filter(|s| !(s.is_finite() && *s > 0.0))
    {
        bail!(
            "stop_after_silence (--stop-after-silence, source.live.stop_after_silence_s): {s} is not a number of seconds above 0 (leave it out never to stop on silence)"
        );
    }
    let mut lines = Vec::new();
    if a.feed.starts_with("quic://") {
        if a.line_b.is_some() {
            bail!("--line-b: a QUIC relay is one line (the relay arbitrates A/B upstream)");
        }
        if a.recv_buffer != crate::run_config::DEFAULT_RECV_BUFFER {
            bail!(
                "--recv-buffer (source.live.recv_buffer): only for a udp:// feed (the QUIC \
                 client sizes its own socket's buffers)"
            );
        }
        lines.push(LineSource::Relay(super::relay::client_config(a)?));
    } else {
        lines.push(LineSource::Udp(
            udp_line(&a.feed, a.recv_buffer).context("--feed")?,
        ));
        if let Some(b) = &a.line_b {
            lines.push(LineSource::Udp(
                udp_line(b, a.recv_buffer).context("--line-b")?,
            ));
        }
    }
    Ok(LiveConfig {
        lines,
        session,
        retransmit: a.retransmit.clone(),
        busy_poll: a.busy_poll,
        silence_ns: 2_000_000_000,
        stop_after_silence_ns: a.stop_after_silence_secs.map(|s| (s * 1e9) as u64),
        record: match &a.record {
            None => None,
            Some(path) => {
                let (creator, created_ns) = super::record::origin();
                let mut r = ticklane_live::source::Recording {
                    creator,
                    created_ns,
                    ..ticklane_live::source::Recording::new(path.clone())
                };
                if let Some(f) = &a.record_flush {
                    r.flush = flush_policy(f)?;
                }
                if let Some(mb) = a.record_ring_mb {
                    if !(1..=4096).contains(&mb) {
                        bail!("record ring of {mb} MiB: expected 1 to 4096 (record_ring_mb)");
                    }
                    r.ring_bytes = (mb as usize) << 20;
                }
                Some(r)
            }
        },
    })
}

/// `block`, `records:N` or `manual` (defined with the configuration, which checks
/// `source.live.record_flush` on load).
pub use crate::run_config::flush_policy;

/// The command-line form of a `[source.live]` table; relative paths are taken from `base` (the
/// configuration file's folder).
pub fn feed_args_from_config(
    l: &crate::run_config::LiveFeedConfig,
    base: &Path,
) -> anyhow::Result<FeedArgs> {
    let rel = |p: &PathBuf| {
        if p.is_relative() {
            base.join(p)
        } else {
            p.clone()
        }
    };
    let token = match &l.token_env {
        Some(var) => Some(std::env::var(var).with_context(|| {
            format!("source.live.token_env: the environment variable {var} is not set")
        })?),
        None => None,
    };
    Ok(FeedArgs {
        feed: l.feed.clone(),
        line_b: l.line_b.clone(),
        retransmit: l
            .retransmit
            .iter()
            .map(|r| r.parse())
            .collect::<Result<_, _>>()
            .context("source.live.retransmit")?,
        record: l.record.as_ref().map(rel),
        record_flush: l.record_flush.clone(),
        record_ring_mb: l.record_ring_mb,
        session: l.session.clone(),
        join: l.join,
        busy_poll: l.busy_poll,
        recv_buffer: l.recv_buffer,
        grace_us: l.grace_us,
        request_timeout_ms: l.request_timeout_ms,
        retries: l.retries,
        requests_per_gap: l.requests_per_gap,
        no_recovery: !l.recovery,
        max_packet: l.max_packet,
        stop_after_silence_secs: l.stop_after_silence_s,
        ca: l.ca.as_ref().map(rel),
        token,
        client_cert: l
            .client_cert
            .as_ref()
            .map(rel)
            .zip(l.client_key.as_ref().map(rel)),
        server_name: None,
        quic_stream: l.quic_stream,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `paper --help` gives `--grace-us` and `--request-timeout-ms` a default of 0 ("How long a
    /// gap waits for the other line before it is re-requested, µs [default: 0]"), and the README
    /// says the partial-answer wait is "the line grace, 2 ms". The defaults the help prints
    /// must be the grace and timeout the session gets when the flags are left out.
    #[test]
    fn the_help_defaults_of_grace_and_request_timeout_are_what_the_session_gets() {
        use clap::CommandFactory;
        let cli = crate::Cli::command();
        let paper = cli.find_subcommand("paper").unwrap();
        let default = |id: &str| -> u64 {
            let arg = paper.get_arguments().find(|a| a.get_id() == id).unwrap();
            arg.get_default_values()[0]
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        };
        let (grace_us, timeout_ms) = (default("grace_us"), default("request_timeout_ms"));
        let cfg = live_config(&FeedArgs {
            feed: "udp://127.0.0.1:0".into(),
            grace_us,
            request_timeout_ms: timeout_ms,
            recv_buffer: crate::run_config::DEFAULT_RECV_BUFFER,
            ..FeedArgs::default()
        })
        .unwrap();
        assert_eq!(
            (cfg.session.line_grace_ns, cfg.session.request_timeout_ns),
            (grace_us * 1_000, timeout_ms * 1_000_000),
            "--help: --grace-us [default: {grace_us}], --request-timeout-ms [default: {timeout_ms}]"
        );
    }

    /// `--record-ring-mb` / `record_ring_mb` sizes the recorder's ring; out of range is refused.
    #[test]
    fn the_recorders_ring_is_sized_by_record_ring_mb() {
        let args = |mb| FeedArgs {
            feed: "udp://127.0.0.1:0".into(),
            record: Some(PathBuf::from("x.cap")),
            record_ring_mb: mb,
            ..FeedArgs::default()
        };
        let ring = |mb| {
            live_config(&args(mb))
                .map(|c| c.record.map(|r| r.ring_bytes))
                .map_err(|e| e.to_string())
        };
        assert_eq!(ring(None), Ok(Some(64 << 20)));
        assert_eq!(ring(Some(8)), Ok(Some(8 << 20)));
        assert_eq!(ring(Some(4096)), Ok(Some(4096 << 20)));
        for bad in [0, 4097] {
            assert_eq!(
                ring(Some(bad)),
                Err(format!(
                    "record ring of {bad} MiB: expected 1 to 4096 (record_ring_mb)"
                ))
            );
        }
    }

    /// `--requests-per-gap` / `requests_per_gap` reaches the session; out of range is refused.
    #[test]
    fn requests_per_gap_reaches_the_session() {
        let per_gap = |n| {
            live_config(&FeedArgs {
                feed: "udp://127.0.0.1:0".into(),
                requests_per_gap: n,
                ..FeedArgs::default()
            })
            .map(|c| c.session.max_requests_per_gap)
            .map_err(|e| e.to_string())
        };
        assert_eq!(
            per_gap(None),
            Ok(SessionConfig::default().max_requests_per_gap)
        );
        assert_eq!(per_gap(Some(1)), Ok(1));
        assert_eq!(per_gap(Some(1024)), Ok(1024));
        for bad in [0, 1025] {
            assert!(per_gap(Some(bad))
                .unwrap_err()
                .contains("requests_per_gap (--requests-per-gap, source.live.requests_per_gap)"));
        }
    }

    /// `--max-packet` / `max_packet` sizes the session's reorder slots; out of range is refused.
    #[test]
    fn max_packet_sizes_the_reorder_slots() {
        let slots = |n| {
            live_config(&FeedArgs {
                feed: "udp://127.0.0.1:0".into(),
                max_packet: n,
                ..FeedArgs::default()
            })
            .map(|c| c.session.max_packet)
            .map_err(|e| e.to_string())
        };
        assert_eq!(slots(None), Ok(SessionConfig::default().max_packet));
        assert_eq!(slots(Some(64)), Ok(64));
        assert_eq!(slots(Some(9_000)), Ok(9_000));
        assert_eq!(slots(Some(65_507)), Ok(65_507));
        for bad in [0, 63, 65_508] {
            assert!(slots(Some(bad))
                .unwrap_err()
                .contains("max_packet (--max-packet, source.live.max_packet)"));
        }
    }

    /// An IPv6 multicast feed (`serve --to [ff15::7]:PORT` publishes to one) is refused, naming
    /// the group: it was taken as a line bound to the group and never joined, which received
    /// nothing, silently.
    #[test]
    fn an_ipv6_multicast_feed_is_refused_naming_the_group() {
        let err = match udp_line("udp://[ff15::7]:36410", 1 << 20) {
            Err(e) => e.to_string(),
            Ok(cfg) => panic!(
                "accepted as a line that never joins the group: bind {} group {:?}",
                cfg.bind, cfg.group
            ),
        };
        assert!(
            err.contains("ff15::7") && err.contains("IPv6 multicast"),
            "{err}"
        );
        // An IPv6 unicast feed is still a line.
        assert!(udp_line("udp://[::1]:36410", 1 << 20).is_ok());
    }
}
