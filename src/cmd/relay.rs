//! `ticklane relay` (a UDP MoldUDP64 feed, arbitrated and recovered, served over QUIC),
//! `ticklane cert` (a self-signed development certificate), and the client side of
//! `quic://` feeds.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use ticklane_live::relay::{
    LiveMode, RelayClientConfig, RelayConfig, RelayInput, RelayServer, RelayStats,
};
use ticklane_live::source::{receive, LiveCounters, LiveReport};
use ticklane_live::upstream::RelayUpstream;
use tokio::sync::mpsc;

use super::live::FeedArgs;

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{what}: reading {}", path.display()))
}

/// The token: the flag, else `TICKLANE_TOKEN` (never logged).
fn token(flag: &Option<String>) -> Option<String> {
    flag.clone()
        .or_else(|| std::env::var("TICKLANE_TOKEN").ok())
        .filter(|t| !t.is_empty())
}

/// A `quic://HOST:PORT` feed's client configuration.
pub fn client_config(a: &FeedArgs) -> anyhow::Result<RelayClientConfig> {
    let Some(hostport) = a.feed.strip_prefix("quic://") else {
        bail!("--feed: `{}` is not quic://HOST:PORT", a.feed);
    };
    let server = hostport
        .to_socket_addrs()
        .with_context(|| format!("--feed: resolving `{hostport}`"))?
        .next()
        .with_context(|| format!("--feed: `{hostport}` has no address"))?;
    let host = hostport
        .rsplit_once(':')
        .map_or(hostport, |(h, _)| h)
        .trim_matches(['[', ']']);
    let Some(ca) = &a.ca else {
        bail!("--ca: a quic:// feed needs the relay's certificate (PEM) to trust");
    };
    let ca = read(ca, "--ca")?;
    let client_cert = match &a.client_cert {
        Some((c, k)) => Some((read(c, "--client-cert")?, read(k, "--client-key")?)),
        None => None,
    };
    let client = ticklane_live::tls::client_config(
        &ca,
        client_cert.as_ref().map(|(c, k)| (c.as_str(), k.as_str())),
    )?;
    Ok(RelayClientConfig {
        server,
        server_name: a.server_name.clone().unwrap_or_else(|| host.to_string()),
        client,
        token: token(&a.token),
        mode: if a.quic_stream {
            LiveMode::Stream
        } else {
            LiveMode::Datagrams
        },
    })
}

/// `ticklane cert`: writes `cert.pem` and `key.pem` for `names` into `out`.
pub fn cert(names: &[String], out: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let c = ticklane_live::tls::self_signed(names)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let (cert, key) = (out.join("cert.pem"), out.join("key.pem"));
    // Both checked before either is written: a pair is never half replaced.
    for path in [&cert, &key] {
        if !force && std::fs::symlink_metadata(path).is_ok() {
            anyhow::bail!(
                "{} exists: a relay or its clients may be using it (--force replaces it)",
                path.display()
            );
        }
    }
    write_new(&cert, c.cert_pem.as_bytes(), 0o644)?;
    // The private key readable by its owner only, whatever the umask.
    write_new(&key, c.key_pem.as_bytes(), 0o600)?;
    outln!(
        "wrote {} and {} (self-signed, for {}; development only)",
        cert.display(),
        key.display(),
        names.join(", ")
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to a file created new at `path` (an old one is removed first, so that its
/// permissions are not kept) with `mode` on Unix.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Options of `ticklane relay`.
#[derive(Debug, Clone)]
pub struct RelayArgs {
    /// The upstream feed (UDP lines, re-request servers, recording).
    pub feed: FeedArgs,
    /// QUIC listen address.
    pub listen: SocketAddr,
    /// Certificate and key (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
    /// Token clients must present (or `TICKLANE_TOKEN`).
    pub token: Option<String>,
    /// CA (PEM) client certificates must chain to: mutual TLS.
    pub client_ca: Option<PathBuf>,
    /// Session relayed.
    pub session: String,
    /// Packets queued per subscriber before it is disconnected as slow.
    pub subscriber_queue: usize,
}

/// `ticklane relay`: receives a UDP feed (A/B arbitrated, gaps re-requested) and serves it over
/// QUIC until the session ends (then lingers for catch-up) or Ctrl-C.
pub fn relay(a: RelayArgs) -> anyhow::Result<ExitCode> {
    let token = token(&a.token);
    if token.is_none() && a.client_ca.is_none() {
        bail!("--token (or TICKLANE_TOKEN) or --client-ca: a relay never serves unauthenticated clients");
    }
    if a.feed.feed.starts_with("quic://") {
        bail!("--from: a relay reads a UDP feed (udp://...)");
    }
    let session = super::live::session_name(&a.session)?;
    let mut feed = a.feed.clone();
    feed.session = Some(a.session.clone());
    let live_cfg = super::live::live_config(&feed)?;
    let server = ticklane_live::tls::server_config(
        &read(&a.cert, "--cert")?,
        &read(&a.key, "--key")?,
        a.client_ca
            .as_deref()
            .map(|p| read(p, "--client-ca"))
            .transpose()?
            .as_deref(),
    )?;
    let mut rc = RelayConfig::new(a.listen, server, token, session);
    rc.subscriber_queue = a.subscriber_queue;
    // Where the upstream starts: `--join` does not know it before the first packet.
    rc.first_sequence = live_cfg.session.first_sequence;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stats = Arc::new(RelayStats::new());
    let (tx, rx) = mpsc::channel::<RelayInput>(65_536);
    let server = rt.block_on(async { RelayServer::bind(rc) })?;
    errln!(
        "relay listening on {} (QUIC, ALPN ticklane-mold/1), reading {}",
        server.local_addr(),
        a.feed.feed
    );
    let served = {
        let stats = stats.clone();
        rt.spawn(async move { server.run(rx, stats).await })
    };
    let counters = Arc::new(LiveCounters::default());
    // Ctrl-C ends the upstream loop as the end of input would (what is still missing is
    // reported), then the relay ends its session and closes its subscribers, and the summary
    // is printed (the process used to die on the signal).
    let stop =
        super::live::stop_on_ctrl_c("interrupted: finishing the upstream, closing the relay");
    let stopped = stop.clone();
    let upstream = {
        let counters = counters.clone();
        std::thread::Builder::new()
            .name("relay-upstream".into())
            .spawn(move || {
                let mut down = RelayUpstream::new(tx, session).with_stop(stop);
                let mut live = LiveReport::default();
                let r = receive(&live_cfg, &mut down, &counters, &mut live);
                (r, live)
            })?
    };
    let (result, live) = upstream
        .join()
        .map_err(|_| anyhow::anyhow!("the upstream thread panicked"))?;
    result.map_err(|e| anyhow::anyhow!(e))?;
    rt.block_on(served)??;
    let s = stats.snapshot();
    let st = &live.session;
    outln!(
        "upstream: {} datagrams, {} messages; duplicates {}, gaps {} ({} recovered, {} lost)",
        st.packets,
        st.messages,
        st.duplicate_messages,
        st.gaps,
        st.recovered,
        st.lost_messages
    )?;
    outln!(
        "relay: {} subscribers in all, {} refused, {} handshakes failed, {} disconnected as slow; {} packets in, {} out; {} catch-ups ({} messages)",
        s.subscribed_total, s.refused, s.handshake_failed, s.disconnected_slow, s.packets_in,
        s.packets_out, s.catchup_requests, s.catchup_messages
    )?;
    if s.rejoins > 0 {
        // The upstream joined on a packet with a corrupt sequence number: the live path
        // restarted lower, and the subscribers joined again (their books went stale).
        outln!(
            "relay: the live path restarted {} times (the upstream joined the session again)",
            s.rejoins
        )?;
    }
    receiver_warnings(&live);
    let code = lost_exit_code(&live);
    // The feed went quiet before its end of session (`--stop-after-silence`): every subscriber
    // was closed with UPSTREAM_LOST, the session relayed is cut short; say so and exit 1, as a
    // live `record` does. Ctrl-C is the operator's own stop.
    if !live.session.end_of_session && !stopped.load(std::sync::atomic::Ordering::Relaxed) {
        errln!(
            "the feed went silent before its end of session: subscribers were closed with \
             UPSTREAM_LOST after {} messages",
            live.session.messages
        );
        return Ok(ExitCode::from(1));
    }
    Ok(code)
}

/// The receiver's report lines a command that prints its own summary (`relay`, live `record`)
/// must not leave out: datagrams the kernel dropped, and packets too large for the reorder
/// slots (naming `--max-packet`), as `paper`'s summary has them.
pub(crate) fn receiver_warnings(live: &LiveReport) {
    for note in live.notes().iter().filter(|n| {
        n.starts_with("the kernel dropped") || n.contains("larger than the reorder slots")
    }) {
        errln!("{note}");
    }
}

/// Exit code of a command that received a live feed to pass it on (`relay`, live `record`):
/// `1`, with each lost range on stderr, when messages were lost for good (no line carried
/// them, re-requests failed), as `paper` exits 1 when its input had errors; else `0`.
pub(crate) fn lost_exit_code(live: &LiveReport) -> ExitCode {
    if live.session.lost_messages == 0 {
        return ExitCode::SUCCESS;
    }
    errln!(
        "{} messages lost for good in {} gaps: downstream saw gaps",
        live.session.lost_messages,
        live.session.lost_gaps
    );
    for note in live
        .notes()
        .iter()
        .filter(|n| n.starts_with("lost for good"))
    {
        errln!("{note}");
    }
    ExitCode::from(1)
}
