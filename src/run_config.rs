//! `ticklane run` configuration (`config/run.toml` and friends): the source, the engine's lanes
//! and cores, and the strategies with their parameters. Validated on load: an unknown key, a
//! wrong type or an out-of-range value is an error that names the key.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;
use ticklane_core::Symbol;

/// The embedded default of `ticklane run`: `config/run.toml`.
pub const RUN_DEFAULT: &str = include_str!("../config/run.toml");

/// The embedded default of `ticklane paper`: `config/paper.toml`.
pub const PAPER_DEFAULT: &str = include_str!("../config/paper.toml");

/// The most messages a generated session may have (`source.generate.messages`, and the demo's
/// `session.messages`): 2^30 = 1,073,741,824, more than twice a NASDAQ day. The session is
/// generated in memory, about 31 bytes a message: 34 GB at the bound.
pub const MAX_GENERATED_MESSAGES: u64 = 1 << 30;

/// The most live orders a lane's book index may be sized for (`engine.order_capacity`, and the
/// demo's `book.order_capacity`): 2^24 = 16,777,216, about 1 GB of memory per lane. It is a
/// pre-size, not a limit: the index grows past it when more orders are live.
pub const MAX_ORDER_CAPACITY: usize = 1 << 24;
/// Most restarts of one strategy `engine.max_restarts` may allow.
pub const MAX_RESTARTS: u32 = 1_000;

/// Checks the size of a generated session: at least what the day's fixed structure needs for
/// `instruments` (system events, directory, crosses: the generator's own minimum, computed
/// without building it, so that the error can name the key) and at most
/// [`MAX_GENERATED_MESSAGES`]. The error is the reason alone; the caller names the key.
pub fn check_generated_messages(messages: u64, instruments: u16) -> Result<(), String> {
    use ticklane_feeds::synth::{minimum_messages, SynthError};
    if messages > MAX_GENERATED_MESSAGES {
        return Err(format!(
            "{messages} is more than a generated session may have, 2^30 = {MAX_GENERATED_MESSAGES} \
             (it is generated in memory, about 31 bytes a message)"
        ));
    }
    if instruments == 0 {
        return Err(SynthError::NoInstruments.to_string());
    }
    let minimum = minimum_messages(instruments);
    if messages < minimum {
        return Err(SynthError::TooFewMessages {
            requested: messages,
            minimum,
            instruments,
        }
        .to_string());
    }
    Ok(())
}

/// A UDP feed address, `udp://ADDR:PORT[@IFACE]`: the socket address and the interface (an IPv4
/// address) to join a multicast group on. An IPv6 multicast group is refused (never joined).
pub fn udp_address(
    url: &str,
) -> anyhow::Result<(std::net::SocketAddr, Option<std::net::Ipv4Addr>)> {
    let Some(rest) = url.strip_prefix("udp://") else {
        bail!("`{url}`: expected udp://ADDR:PORT[@IFACE]");
    };
    let (addr, iface) = match rest.split_once('@') {
        Some((a, i)) => (
            a,
            Some(
                i.parse::<std::net::Ipv4Addr>()
                    .with_context(|| format!("`{url}`: interface `{i}` is not an IPv4 address"))?,
            ),
        ),
        None => (rest, None),
    };
    let addr: std::net::SocketAddr = addr
        .parse()
        .with_context(|| format!("`{url}`: `{addr}` is not ADDR:PORT"))?;
    // A line only joins IPv4 groups: bound to an IPv6 group without joining it, it would
    // receive nothing, silently.
    if let std::net::IpAddr::V6(ip) = addr.ip() {
        if ip.is_multicast() {
            bail!(
                "`{url}`: {ip} is an IPv6 multicast group, and only IPv4 groups can be joined; \
                 use an IPv4 group (udp://GROUP:PORT@IFACE) or a unicast address"
            );
        }
    }
    Ok((addr, iface))
}

/// The first live-feed setting that does nothing with the feed given, and why: one of
/// `quic_only` (`(name, set)`) with a `udp://` feed, or one of `recording_only` without a
/// recording. Shared by `[source.live]` on load and the command line's flags, which name the
/// settings their own way.
pub fn idle_live_setting<N, const Q: usize, const R: usize>(
    quic: bool,
    recording: bool,
    quic_only: [(N, bool); Q],
    recording_only: [(N, bool); R],
) -> Option<(N, &'static str)> {
    let quic_only = quic_only
        .into_iter()
        .filter(|_| !quic)
        .map(|(n, set)| (n, set, "only for a quic:// feed"));
    let recording_only = recording_only
        .into_iter()
        .filter(|_| !recording)
        .map(|(n, set)| (n, set, "there is no recording to set it for"));
    quic_only
        .chain(recording_only)
        .find(|(_, set, _)| *set)
        .map(|(n, _, why)| (n, why))
}

/// A recording's flush policy: `block`, `records:N` or `manual`.
pub fn flush_policy(s: &str) -> anyhow::Result<ticklane_replay::FlushPolicy> {
    use ticklane_replay::FlushPolicy;
    Ok(match s {
        "block" => FlushPolicy::EveryBlock,
        "manual" => FlushPolicy::Manual,
        _ => match s.strip_prefix("records:").map(str::parse::<u64>) {
            Some(Ok(records)) if records > 0 => FlushPolicy::Interval { records },
            _ => bail!("record flush `{s}`: expected block, records:N (N >= 1) or manual"),
        },
    })
}

/// A symbol as a feed can send it (`[[strategy]] symbols`, `replay --symbols`); the error is
/// the reason alone, the caller names the key or flag.
pub fn feed_symbol(sym: &str) -> Result<Symbol, String> {
    // `Symbol::new("")` is the blank symbol: it would subscribe to nothing.
    let Some(symbol) = Symbol::new(sym).filter(|_| !sym.trim().is_empty()) else {
        return Err(format!("`{sym}` is not a symbol (1 to 8 characters)"));
    };
    // A feed's symbols never have a space or a control character inside the name (an ITCH
    // symbol is space-padded; a LOBSTER file's is its name's prefix, which may be lower case):
    // such a symbol matches no instrument.
    if let Some(c) = sym.chars().find(|c| c.is_whitespace() || c.is_control()) {
        let what = if c.is_whitespace() {
            "a space"
        } else {
            "a control character"
        };
        return Err(format!(
            "{sym:?} is not a symbol: it has {what} ({c:?}); a feed's symbols have no spaces, \
             and match exactly"
        ));
    }
    Ok(symbol)
}

/// A whole run configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Where events come from. May be left out when the command line gives the source
    /// (`replay SOURCE`, `run --file`, `paper --feed`); a run with none is refused by name.
    #[serde(default)]
    pub source: SourceConfig,
    /// Lanes, cores, rings.
    #[serde(default)]
    pub engine: EngineConfig,
    /// Where orders go.
    #[serde(default)]
    pub venue: VenueConfig,
    /// Pre-trade risk limits, one gate per strategy (all optional; see
    /// `ticklane_exec::RiskLimits`).
    #[serde(default)]
    pub risk: ticklane_exec::RiskLimits,
    /// Strategies, in order (their index is their id).
    #[serde(default, rename = "strategy")]
    pub strategies: Vec<StrategyConfig>,
}

/// `[venue]`: the simulated exchange.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    /// `paper` (latency, exact queue position, fees) or `touch` (the simple venue).
    #[serde(default = "default_venue")]
    pub kind: String,
    /// `constant` or `lognormal`.
    #[serde(default = "default_latency")]
    pub latency: String,
    /// Order-entry latency (median for `lognormal`), µs.
    #[serde(default = "default_entry")]
    pub entry_latency_us: u64,
    /// Response latency (median for `lognormal`), µs.
    #[serde(default = "default_entry")]
    pub response_latency_us: u64,
    /// `lognormal`: standard deviation of the logarithm (0.5–1.0: a realistic heavy tail).
    #[serde(default = "default_sigma")]
    pub latency_sigma: f64,
    /// `lognormal`: seed of the latency generator.
    #[serde(default = "one_u64")]
    pub latency_seed: u64,
    /// Fee per share when our resting order is hit, price units (1/10000 $); negative: rebate.
    #[serde(default)]
    pub maker_fee_per_share: i64,
    /// Fee per share when our order takes liquidity, price units.
    #[serde(default)]
    pub taker_fee_per_share: i64,
    /// `paper`: how resting orders fill. `exact`: exact queue position from the order-by-order
    /// feed; `trade-through`: only when the market trades through the price (we are always
    /// last in the queue: a lower bound on fills).
    #[serde(default = "default_queue")]
    pub queue: String,
}

fn default_queue() -> String {
    "exact".to_string()
}

/// A risked paper exchange with latency model `latency` and the queue model named `queue`.
fn paper_venue<L: ticklane_exec::LatencyModel + 'static>(
    latency: L,
    fees: ticklane_exec::PerShareFees,
    queue: &str,
    gate: ticklane_exec::RiskGate,
) -> Box<dyn ticklane_exec::Venue> {
    use ticklane_exec::{ExactQueue, PaperExchange, RiskedVenue, TradeThroughQueue};
    if queue == "trade-through" {
        Box::new(RiskedVenue::new(
            PaperExchange::with_queue_model(latency, fees, TradeThroughQueue),
            gate,
        ))
    } else {
        Box::new(RiskedVenue::new(
            PaperExchange::with_queue_model(latency, fees, ExactQueue),
            gate,
        ))
    }
}

fn default_venue() -> String {
    "paper".to_string()
}
fn default_latency() -> String {
    "constant".to_string()
}
fn default_entry() -> u64 {
    20
}
fn default_sigma() -> f64 {
    0.5
}
fn one_u64() -> u64 {
    1
}

impl Default for VenueConfig {
    fn default() -> Self {
        Self {
            kind: default_venue(),
            latency: default_latency(),
            entry_latency_us: default_entry(),
            response_latency_us: default_entry(),
            latency_sigma: default_sigma(),
            latency_seed: 1,
            maker_fee_per_share: 0,
            taker_fee_per_share: 0,
            queue: default_queue(),
        }
    }
}

impl VenueConfig {
    /// A factory building one venue per lane: the risk gate in front of the exchange.
    pub fn factory(
        &self,
        risk: &ticklane_exec::RiskLimits,
    ) -> anyhow::Result<ticklane_runtime::VenueFactory> {
        use std::sync::Arc;
        use ticklane_exec::{
            ConstantLatency, LogNormal, LogNormalLatency, PerShareFees, RiskGate, RiskedVenue,
            TouchVenue, Venue,
        };
        // Checked once here so that the factory cannot fail.
        RiskGate::new(risk.clone()).context("risk")?;
        let risk = risk.clone();
        let fees = PerShareFees {
            maker_per_share: self.maker_fee_per_share,
            taker_per_share: self.taker_fee_per_share,
        };
        let ns = |key: &str, us: u64| {
            us.checked_mul(1_000).with_context(|| {
                format!(
                    "venue.{key}: {us} µs is too large (at most {} µs)",
                    u64::MAX / 1_000
                )
            })
        };
        let (entry, response) = (
            ns("entry_latency_us", self.entry_latency_us)?,
            ns("response_latency_us", self.response_latency_us)?,
        );
        let gate = move || RiskGate::new(risk.clone()).unwrap_or_else(|_| unreachable_gate());
        let queue: &'static str = match self.queue.as_str() {
            "exact" => "exact",
            "trade-through" => "trade-through",
            other => bail!("venue.queue: `{other}` is not exact or trade-through"),
        };
        // Checked whatever the kind: a misspelt model under `touch` (which has no latency)
        // must not pass today and fail the day the kind becomes `paper`.
        if !matches!(self.latency.as_str(), "constant" | "lognormal") {
            bail!(
                "venue.latency: `{}` is not constant or lognormal",
                self.latency
            );
        }
        let dist = |median_ns: u64| LogNormal {
            median_ns,
            sigma: self.latency_sigma,
            min_ns: median_ns / 10,
            max_ns: median_ns.saturating_mul(100).max(1),
        };
        let (e, r, seed) = (dist(entry), dist(response), self.latency_seed);
        // Checked whatever the model, like the model's name (a sigma of -1 passed under
        // `constant` and failed the day the model became `lognormal`).
        LogNormalLatency::new(seed, e, r).context("venue.latency_sigma")?;
        let max_fee = PerShareFees::MAX_PER_SHARE;
        for (key, fee) in [
            ("maker_fee_per_share", self.maker_fee_per_share),
            ("taker_fee_per_share", self.taker_fee_per_share),
        ] {
            if !(-max_fee..=max_fee).contains(&fee) {
                bail!(
                    "venue.{key}: {fee} is outside -{max_fee}..={max_fee} (price units of \
                     $0.0001 a share: at most $1 a share, paid or rebated)"
                );
            }
        }
        if self.kind == "paper" && self.latency == "constant" {
            // The constant model reads the two latencies only.
            let d = Self::default();
            for (key, set) in [
                (
                    "latency_sigma",
                    self.latency_sigma.to_bits() != d.latency_sigma.to_bits(),
                ),
                ("latency_seed", self.latency_seed != d.latency_seed),
            ] {
                if set {
                    bail!(
                        "venue.{key}: only for latency = \"lognormal\" (the constant model \
                         draws nothing); leave it out"
                    );
                }
            }
        }
        if self.kind == "touch" {
            // The touch venue has no latency, fees or queue model to set: a value other than
            // the default would be ignored without a word.
            let d = Self::default();
            const NO_LATENCY: &str = "the touch venue has no latency (use kind = \"paper\")";
            const NO_QUEUE: &str = "the touch venue has its own queue model (the displayed \
                                    quantity ahead on arrival; use kind = \"paper\")";
            const NO_FEES: &str = "the touch venue charges no fees (use kind = \"paper\")";
            for (key, set, why) in [
                (
                    "maker_fee_per_share",
                    self.maker_fee_per_share != d.maker_fee_per_share,
                    NO_FEES,
                ),
                (
                    "taker_fee_per_share",
                    self.taker_fee_per_share != d.taker_fee_per_share,
                    NO_FEES,
                ),
                ("latency", self.latency != d.latency, NO_LATENCY),
                (
                    "entry_latency_us",
                    self.entry_latency_us != d.entry_latency_us,
                    NO_LATENCY,
                ),
                (
                    "response_latency_us",
                    self.response_latency_us != d.response_latency_us,
                    NO_LATENCY,
                ),
                (
                    "latency_sigma",
                    self.latency_sigma.to_bits() != d.latency_sigma.to_bits(),
                    NO_LATENCY,
                ),
                (
                    "latency_seed",
                    self.latency_seed != d.latency_seed,
                    NO_LATENCY,
                ),
                ("queue", self.queue != d.queue, NO_QUEUE),
            ] {
                if set {
                    bail!("venue.{key}: {why}; leave it out");
                }
            }
        }
        match (self.kind.as_str(), self.latency.as_str()) {
            ("touch", _) => Ok(Arc::new(move |_| {
                Box::new(RiskedVenue::new(TouchVenue::new(), gate())) as Box<dyn Venue>
            })),
            ("paper", "constant") => Ok(Arc::new(move |_| {
                let latency = ConstantLatency {
                    entry_ns: entry,
                    response_ns: response,
                };
                paper_venue(latency, fees, queue, gate())
            })),
            ("paper", "lognormal") => {
                Ok(Arc::new(move |_lane| {
                    // The same seed in every lane: each strategy draws from its own generator
                    // (seeded from the seed and its id), whatever lane it runs on.
                    let latency =
                        LogNormalLatency::new(seed, e, r).unwrap_or_else(|_| unreachable_latency());
                    paper_venue(latency, fees, queue, gate())
                }))
            }
            ("paper", other) => bail!("venue.latency: `{other}` is not constant or lognormal"),
            (other, _) => bail!("venue.kind: `{other}` is not paper or touch"),
        }
    }
}

#[cold]
fn unreachable_gate() -> ticklane_exec::RiskGate {
    // Validated in `factory` before the closure exists.
    ticklane_exec::RiskGate::new(ticklane_exec::RiskLimits::default())
        .unwrap_or_else(|_| unreachable!("empty limits are valid"))
}

#[cold]
fn unreachable_latency() -> ticklane_exec::LogNormalLatency {
    unreachable!("latency parameters were validated in VenueConfig::factory")
}

/// `[source]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// A file (ITCH binary, .gz, pcap/pcapng of MoldUDP64, LOBSTER messages); relative paths
    /// are relative to the configuration file. Without it, `generate` is used.
    pub file: Option<PathBuf>,
    /// A generated session (used when `file` is absent).
    pub generate: Option<GenerateConfig>,
    /// `max`, `1x`, `10x`, ... (event-time pacing), or `rate:N` (N events per second).
    #[serde(default = "default_pace")]
    pub pace: String,
    /// A live MoldUDP64 feed (takes precedence over `file` and `generate`).
    pub live: Option<LiveFeedConfig>,
}

/// `[source.live]`: a live MoldUDP64 feed over UDP (lines A/B) or from a QUIC relay. The
/// command line (`paper --feed ...`) replaces it as a whole.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveFeedConfig {
    /// Line A: `udp://ADDR:PORT[@IFACE]` or `quic://HOST:PORT`.
    pub feed: String,
    /// Line B (UDP).
    pub line_b: Option<String>,
    /// MoldUDP64 re-request servers (`ADDR:PORT`).
    #[serde(default)]
    pub retransmit: Vec<String>,
    /// Record what is received to this capture (relative to the configuration file).
    pub record: Option<PathBuf>,
    /// When the recording is flushed: `block` (every 1 MiB block: at most the current block is
    /// lost in a crash), `records:N`, or `manual` (full blocks; the partial one only at the end).
    pub record_flush: Option<String>,
    /// The recorder's ring, MiB (1 to 4096; default 64): how much the recorder can fall behind
    /// (a disk stall) before records are dropped and counted.
    pub record_ring_mb: Option<u32>,
    /// Accept only this session (default: the first packet's).
    pub session: Option<String>,
    /// Join mid-session instead of expecting sequence 1.
    #[serde(default)]
    pub join: bool,
    /// Spin on the sockets instead of sleeping in `poll(2)`.
    #[serde(default)]
    pub busy_poll: bool,
    /// Socket receive buffer, bytes.
    #[serde(default = "default_recv_buffer")]
    pub recv_buffer: usize,
    /// How long a gap waits for the other line before it is re-requested, µs (0: default).
    #[serde(default)]
    pub grace_us: u64,
    /// Re-request timeout, ms (0: default).
    #[serde(default)]
    pub request_timeout_ms: u64,
    /// Re-request retries before a gap is declared lost.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Most re-requests one gap has outstanding at once (1 to 1024; default 16): a larger gap
    /// is asked for a piece at a time, so a long outage does not flood the re-request server.
    pub requests_per_gap: Option<u16>,
    /// Re-request gaps at all.
    #[serde(default = "default_true")]
    pub recovery: bool,
    /// Largest MoldUDP64 packet held for reordering, bytes (64 to 65,507; default 2,048): a
    /// feed with larger packets (jumbo frames) needs this at least as large, or a packet that
    /// arrives ahead of its turn is left to recovery. Costs 1,024 times this in memory.
    pub max_packet: Option<usize>,
    /// Stop after this many seconds without a datagram.
    pub stop_after_silence_s: Option<f64>,
    /// quic://: the relay's certificate (PEM) to trust (relative to the configuration file).
    pub ca: Option<PathBuf>,
    /// quic://: the environment variable holding the token (never the token itself: a
    /// configuration file is not a place for secrets).
    pub token_env: Option<String>,
    /// quic://: client certificate (PEM) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// quic://: client private key (PEM).
    pub client_key: Option<PathBuf>,
    /// quic://: live packets on a reliable stream instead of datagrams.
    #[serde(default)]
    pub quic_stream: bool,
}

/// The default socket receive buffer of a `udp://` line, bytes (`source.live.recv_buffer`,
/// `--recv-buffer`).
pub const DEFAULT_RECV_BUFFER: usize = 8 << 20;

fn default_recv_buffer() -> usize {
    DEFAULT_RECV_BUFFER
}

/// The range of `source.live.max_packet` and `--max-packet`: a MoldUDP64 header and a message
/// at least, the largest UDP payload at most.
pub const MAX_PACKET: std::ops::RangeInclusive<usize> = 64..=65_507;

/// The range of `source.live.requests_per_gap` and `--requests-per-gap`: at least one request,
/// and at most 1024 (a million messages at the default request size) in flight per gap.
pub const REQUESTS_PER_GAP: core::ops::RangeInclusive<u16> = 1..=1024;

fn default_retries() -> u32 {
    3
}

fn default_true() -> bool {
    true
}

impl Default for SourceConfig {
    /// No source: the command line must give one.
    fn default() -> Self {
        Self {
            file: None,
            generate: None,
            pace: default_pace(),
            live: None,
        }
    }
}

fn default_pace() -> String {
    "max".to_string()
}

/// `[source.generate]`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateConfig {
    /// Generator seed.
    pub seed: u64,
    /// Exact number of ITCH messages.
    pub messages: u64,
    /// Instruments (stock locates 1..=n; the first are AAPL, MSFT, NVDA, AMZN, GOOGL, ...).
    pub instruments: u16,
}

/// `[engine]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Number of lanes.
    #[serde(default = "one")]
    pub lanes: u16,
    /// Core of each lane (same length as `lanes`), or empty for unpinned lanes.
    #[serde(default)]
    pub lane_cores: Vec<usize>,
    /// Core of the feed thread.
    pub feed_core: Option<usize>,
    /// Ring capacity per lane (power of two).
    #[serde(default = "default_ring")]
    pub ring_capacity: usize,
    /// Which ring feeds each lane: `index` (batched hand-offs) or `stamped` (single events).
    #[serde(default = "default_ring_kind")]
    pub ring: String,
    /// `spin`, `spin-yield` or `park`.
    #[serde(default = "default_idle")]
    pub idle: String,
    /// Events staged per lane before publishing (1..=64).
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Event-time heartbeat interval in µs (timers fire on events and heartbeats).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_us: u64,
    /// Record per-hop latency histograms.
    #[serde(default = "yes")]
    pub latency: bool,
    /// `restart` or `halt-lane`.
    #[serde(default = "default_panic")]
    pub panic_policy: String,
    /// Restarts per strategy under `restart` before the lane halts (0..=[`MAX_RESTARTS`];
    /// read only under `restart`).
    #[serde(default = "default_restarts")]
    pub max_restarts: u32,
    /// Live orders each lane's book index is sized for.
    #[serde(default = "default_orders")]
    pub order_capacity: usize,
    /// Which books each lane keeps: `subscribed` (those its strategies read) or `all`.
    #[serde(default = "default_books")]
    pub books: String,
}

fn one() -> u16 {
    1
}
fn default_ring() -> usize {
    1 << 16
}
fn default_ring_kind() -> String {
    "index".to_string()
}
fn default_idle() -> String {
    "spin-yield".to_string()
}
fn default_batch() -> usize {
    32
}
fn default_heartbeat() -> u64 {
    1_000
}
fn yes() -> bool {
    true
}
fn default_panic() -> String {
    "restart".to_string()
}
fn default_restarts() -> u32 {
    3
}
fn default_orders() -> usize {
    1 << 16
}
fn default_books() -> String {
    "subscribed".to_string()
}

/// `engine.books`, validated on load.
pub fn book_scope(books: &str) -> Option<ticklane_runtime::BookScope> {
    match books {
        "subscribed" => Some(ticklane_runtime::BookScope::Subscribed),
        "all" => Some(ticklane_runtime::BookScope::All),
        _ => None,
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            lanes: 1,
            lane_cores: Vec::new(),
            feed_core: None,
            ring_capacity: default_ring(),
            ring: default_ring_kind(),
            idle: default_idle(),
            batch: default_batch(),
            heartbeat_us: default_heartbeat(),
            latency: true,
            panic_policy: default_panic(),
            max_restarts: default_restarts(),
            order_capacity: default_orders(),
            books: default_books(),
        }
    }
}

/// `[[strategy]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// Instance name (unique).
    pub name: String,
    /// Strategy kind: a registered descriptor name (`ticklane strategies` lists them).
    pub kind: String,
    /// Instruments; `"*"` means every instrument of the strategy's lane.
    pub symbols: Vec<String>,
    /// Lane to run on (default: the lane of a symbol it shares with an earlier strategy, else
    /// the least loaded lane).
    pub lane: Option<u16>,
    /// Parameters, checked by the strategy kind.
    #[serde(default)]
    pub params: toml::Table,
    /// Its position among the file's `[[strategy]]` tables, which errors name
    /// (`strategy[3]`) even after `--strategy` has left others out.
    #[serde(skip)]
    pub index: usize,
}

impl RunConfig {
    /// Parses and validates `text`; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        let mut cfg: RunConfig =
            toml::from_str(text).with_context(|| format!("{origin}: invalid configuration"))?;
        for (i, s) in cfg.strategies.iter_mut().enumerate() {
            s.index = i;
        }
        cfg.validate(origin)?;
        Ok(cfg)
    }

    fn validate(&self, origin: &str) -> anyhow::Result<()> {
        let e = &self.engine;
        if let Some(l) = &self.source.live {
            if !(l.feed.starts_with("udp://") || l.feed.starts_with("quic://")) {
                bail!(
                    "{origin}: source.live.feed: `{}` is not udp://ADDR:PORT or quic://HOST:PORT",
                    l.feed
                );
            }
            for (i, r) in l.retransmit.iter().enumerate() {
                r.parse::<std::net::SocketAddr>().with_context(|| {
                    format!("{origin}: source.live.retransmit[{i}]: `{r}` is not ADDR:PORT")
                })?;
            }
            if l.client_cert.is_some() != l.client_key.is_some() {
                bail!("{origin}: source.live.client_cert and client_key go together");
            }
            Self::validate_live(l, origin)?;
        }
        if let Some(g) = &self.source.generate {
            if g.messages == 0 {
                bail!("{origin}: source.generate.messages: must be at least 1");
            }
            if g.instruments == 0 {
                bail!("{origin}: source.generate.instruments: must be at least 1");
            }
        }
        parse_pace(&self.source.pace)
            .with_context(|| format!("{origin}: source.pace: `{}`", self.source.pace))?;
        if e.lanes == 0 || e.lanes > 64 {
            bail!(
                "{origin}: engine.lanes: must be between 1 and 64, got {}",
                e.lanes
            );
        }
        if !e.lane_cores.is_empty() && e.lane_cores.len() != usize::from(e.lanes) {
            bail!(
                "{origin}: engine.lane_cores: {} cores for {} lanes (give one per lane, or none)",
                e.lane_cores.len(),
                e.lanes
            );
        }
        for (i, c) in e.lane_cores.iter().enumerate() {
            if e.lane_cores[..i].contains(c) {
                bail!("{origin}: engine.lane_cores[{i}]: core {c} is named twice (two lanes would share one core)");
            }
            if e.feed_core == Some(*c) {
                bail!("{origin}: engine.lane_cores[{i}]: core {c} is also engine.feed_core (the lane and the feed would share one core)");
            }
        }
        if !e.ring_capacity.is_power_of_two() || e.ring_capacity < 64 || e.ring_capacity > 1 << 24 {
            bail!(
                "{origin}: engine.ring_capacity: must be a power of two in 64..=16777216, got {}",
                e.ring_capacity
            );
        }
        if ticklane_runtime::RingKind::parse(&e.ring).is_none() {
            bail!(
                "{origin}: engine.ring: `{}` is not index or stamped",
                e.ring
            );
        }
        if ticklane_runtime::IdlePolicy::parse(&e.idle).is_none() {
            bail!(
                "{origin}: engine.idle: `{}` is not spin, spin-yield or park",
                e.idle
            );
        }
        if e.batch == 0 || e.batch > ticklane_runtime::feed::MAX_BATCH {
            bail!(
                "{origin}: engine.batch: must be between 1 and 64, got {}",
                e.batch
            );
        }
        if e.heartbeat_us == 0 {
            // Without heartbeats a quiet lane's timers wait for its own next event, so what a
            // strategy does would depend on how instruments are spread over lanes.
            bail!("{origin}: engine.heartbeat_us: must be at least 1 (a quiet lane's timers fire on it)");
        }
        if !matches!(e.panic_policy.as_str(), "restart" | "halt-lane") {
            bail!(
                "{origin}: engine.panic_policy: `{}` is not restart or halt-lane",
                e.panic_policy
            );
        }
        if e.max_restarts > MAX_RESTARTS {
            // Each restart runs the strategy's `on_start` again: an `on_start` that always
            // panics would keep the lane restarting (its ring filling) for billions of rounds.
            bail!(
                "{origin}: engine.max_restarts: at most {MAX_RESTARTS}, got {}",
                e.max_restarts
            );
        }
        if e.order_capacity == 0 || e.order_capacity > MAX_ORDER_CAPACITY {
            bail!(
                "{origin}: engine.order_capacity: must be between 1 and 2^24 = \
                 {MAX_ORDER_CAPACITY}, got {} (a pre-size: the index grows past it when more \
                 orders are live)",
                e.order_capacity
            );
        }
        if book_scope(&e.books).is_none() {
            bail!(
                "{origin}: engine.books: `{}` is not subscribed or all",
                e.books
            );
        }
        self.venue
            .factory(&self.risk)
            .with_context(|| format!("{origin}: invalid venue or risk configuration"))?;
        let mut names = std::collections::BTreeSet::new();
        for s in &self.strategies {
            let i = s.index;
            if !names.insert(s.name.as_str()) {
                bail!("{origin}: strategy[{i}].name: `{}` is used twice", s.name);
            }
            if s.symbols.is_empty() {
                bail!("{origin}: strategy[{i}].symbols: subscribe to at least one symbol");
            }
            for sym in &s.symbols {
                feed_symbol(sym)
                    .map_err(|why| anyhow::anyhow!("{origin}: strategy[{i}].symbols: {why}"))?;
            }
            if let Some(l) = s.lane {
                if l >= e.lanes {
                    bail!(
                        "{origin}: strategy[{i}].lane: lane {l} does not exist ({} lanes)",
                        e.lanes
                    );
                }
            }
        }
        if self.strategies.len() > 64 * usize::from(e.lanes) {
            bail!("{origin}: strategy: at most 64 strategies per lane");
        }
        if let Some(g) = &self.source.generate {
            check_generated_messages(g.messages, g.instruments)
                .map_err(|why| anyhow::anyhow!("{origin}: source.generate.messages: {why}"))?;
        }
        Ok(())
    }

    /// `[source.live]`: every key set must do something with the feed given (a QUIC key on a
    /// UDP feed, a recording setting without a recording, were ignored without a word), and
    /// the values that were only checked when the feed started are checked here.
    fn validate_live(l: &LiveFeedConfig, origin: &str) -> anyhow::Result<()> {
        let quic = l.feed.starts_with("quic://");
        if !quic {
            udp_address(&l.feed).with_context(|| format!("{origin}: source.live.feed"))?;
        }
        if let Some((key, why)) = idle_live_setting(
            quic,
            l.record.is_some(),
            [
                ("ca", l.ca.is_some()),
                ("client_cert", l.client_cert.is_some()),
                ("client_key", l.client_key.is_some()),
                ("token_env", l.token_env.is_some()),
                ("quic_stream", l.quic_stream),
            ],
            [
                ("record_flush", l.record_flush.is_some()),
                ("record_ring_mb", l.record_ring_mb.is_some()),
            ],
        ) {
            bail!(
                "{origin}: source.live.{key}: {why} (source.live.feed is `{}`)",
                l.feed
            );
        }
        if quic && l.recv_buffer != DEFAULT_RECV_BUFFER {
            bail!(
                "{origin}: source.live.recv_buffer: only for a udp:// feed (the QUIC client \
                 sizes its own socket's buffers)"
            );
        }
        if let Some(b) = &l.line_b {
            if quic {
                bail!(
                    "{origin}: source.live.line_b: a QUIC relay is one line (the relay \
                     arbitrates lines A and B upstream)"
                );
            }
            udp_address(b).with_context(|| format!("{origin}: source.live.line_b"))?;
        }
        if let Some(f) = &l.record_flush {
            flush_policy(f).with_context(|| format!("{origin}: source.live.record_flush"))?;
        }
        if let Some(mb) = l.record_ring_mb.filter(|mb| !(1..=4096).contains(mb)) {
            bail!("{origin}: source.live.record_ring_mb: {mb} MiB: expected 1 to 4096");
        }
        if let Some(s) = &l.session {
            if s.len() > 10 || !s.is_ascii() {
                bail!(
                    "{origin}: source.live.session: a MoldUDP64 session is at most 10 ASCII \
                     characters, got `{s}`"
                );
            }
        }
        if l.grace_us.checked_mul(1_000).is_none() {
            bail!(
                "{origin}: source.live.grace_us: {} µs is longer than u64 nanoseconds hold",
                l.grace_us
            );
        }
        if l.request_timeout_ms.checked_mul(1_000_000).is_none() {
            bail!(
                "{origin}: source.live.request_timeout_ms: {} ms is longer than u64 nanoseconds \
                 hold",
                l.request_timeout_ms
            );
        }
        if !l.recovery {
            // Nothing is ever re-requested: servers and a per-gap bound would do nothing.
            for (key, set) in [
                ("retransmit", !l.retransmit.is_empty()),
                ("requests_per_gap", l.requests_per_gap.is_some()),
            ] {
                if set {
                    bail!(
                        "{origin}: source.live.{key}: recovery = false never re-requests; leave \
                         it out"
                    );
                }
            }
        }
        if let Some(n) = l.requests_per_gap.filter(|n| !REQUESTS_PER_GAP.contains(n)) {
            bail!("{origin}: source.live.requests_per_gap: {n}: expected 1 to 1024");
        }
        if let Some(n) = l.max_packet.filter(|n| !MAX_PACKET.contains(n)) {
            bail!("{origin}: source.live.max_packet: {n}: expected 64 to 65507 (the largest UDP payload)");
        }
        if let Some(s) = l
            .stop_after_silence_s
            .filter(|s| !(s.is_finite() && *s > 0.0))
        {
            bail!(
                "{origin}: source.live.stop_after_silence_s: {s} is not a number of seconds above \
                 0 (0 would end the run at once; leave it out never to stop on silence)"
            );
        }
        Ok(())
    }

    /// Loads `path`, or the embedded default when `None`. Returns the configuration and the
    /// directory relative paths in it are resolved against.
    pub fn load(path: Option<&Path>) -> anyhow::Result<(Self, PathBuf)> {
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
                Ok((Self::parse(&text, &p.display().to_string())?, base))
            }
            None => Ok((
                Self::parse(RUN_DEFAULT, "config/run.toml (embedded)")?,
                PathBuf::from("."),
            )),
        }
    }

    /// Assigns every strategy a lane: its `lane` if given; else the lane of a symbol it shares
    /// with a strategy placed before it; else the lane with the fewest strategies (lowest
    /// number on ties). A symbol traded by strategies on two lanes is an error: an instrument
    /// lives on one lane.
    pub fn place_strategies(&self, origin: &str) -> anyhow::Result<Vec<u16>> {
        let lanes = usize::from(self.engine.lanes);
        let mut load = vec![0usize; lanes];
        let mut symbol_lane: Vec<(String, u16, usize)> = Vec::new();
        let mut placed = Vec::with_capacity(self.strategies.len());
        for (pos, s) in self.strategies.iter().enumerate() {
            let i = s.index;
            let shared = s
                .symbols
                .iter()
                .filter(|sym| sym.as_str() != "*")
                .find_map(|sym| symbol_lane.iter().find(|e| &e.0 == sym).map(|e| (e.1, e.2)));
            let lane = match (s.lane, shared) {
                (Some(l), _) => l,
                (None, Some((l, _))) => l,
                (None, None) => (0..lanes)
                    .min_by_key(|&l| (load[l], l))
                    .map_or(0, |l| l as u16),
            };
            for sym in s.symbols.iter().filter(|sym| sym.as_str() != "*") {
                match symbol_lane.iter().find(|e| &e.0 == sym) {
                    Some(&(_, l, other)) if l != lane => bail!(
                        "{origin}: strategy[{i}].lane: {sym} already trades on lane {l} (strategy `{}`); an instrument lives on one lane",
                        self.strategies[other].name
                    ),
                    Some(_) => {}
                    None => symbol_lane.push((sym.clone(), lane, pos)),
                }
            }
            load[usize::from(lane)] += 1;
            if load[usize::from(lane)] > ticklane_runtime::lane::MAX_STRATEGIES_PER_LANE {
                bail!("{origin}: strategy[{i}]: more than 64 strategies on lane {lane}");
            }
            placed.push(lane);
        }
        Ok(placed)
    }
}

/// Parses a pace: `max`, `1x`, `2.5x`, or `rate:N`.
pub fn parse_pace(s: &str) -> anyhow::Result<ticklane_runtime::Pace> {
    use ticklane_runtime::Pace;
    if s == "max" {
        return Ok(Pace::Max);
    }
    if let Some(r) = s.strip_prefix("rate:") {
        let n: u64 = r
            .replace('_', "")
            .parse()
            .context("rate:N takes events per second")?;
        if n == 0 {
            bail!("rate must be at least 1 event per second");
        }
        return Ok(Pace::Rate(n));
    }
    if let Some(f) = s.strip_suffix('x') {
        let f: f64 = f
            .parse()
            .context("Nx takes a speed factor, e.g. 1x or 10x")?;
        if !(f.is_finite() && f > 0.0) {
            bail!("speed factor must be positive");
        }
        return Ok(Pace::Speed(f));
    }
    bail!("expected max, Nx (e.g. 1x, 10x) or rate:N")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> anyhow::Result<RunConfig> {
        RunConfig::parse(s, "t")
    }

    const BASE: &str = "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 4\n";

    #[test]
    fn embedded_default_is_valid_and_places_its_strategies() {
        let (c, _) = RunConfig::load(None).unwrap();
        assert!(c.strategies.len() >= 2);
        let lanes = c.place_strategies("t").unwrap();
        assert_eq!(lanes.len(), c.strategies.len());
    }

    #[test]
    fn the_shipped_configurations_are_valid() {
        for (name, text) in [
            ("run.toml", RUN_DEFAULT),
            ("latency.toml", include_str!("../config/latency.toml")),
            ("paper.toml", PAPER_DEFAULT),
            ("live.toml", include_str!("../config/live.toml")),
        ] {
            let c = RunConfig::parse(text, name).unwrap();
            assert_eq!(c.strategies.len(), 4, "{name}");
            c.place_strategies(name).unwrap();
        }
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (format!("{BASE}[engine]\nlanes = 0\n"), "engine.lanes"),
            (format!("{BASE}[engine]\nlanse = 2\n"), "lanse"),
            (format!("{BASE}[engine]\nidle = \"nap\"\n"), "engine.idle"),
            (format!("{BASE}[engine]\nbooks = \"some\"\n"), "engine.books"),
            (format!("{BASE}[engine]\nring_capacity = 1000\n"), "engine.ring_capacity"),
            (format!("{BASE}[engine]\nring = \"ringy\"\n"), "engine.ring"),
            (format!("{BASE}[engine]\nheartbeat_us = 0\n"), "engine.heartbeat_us"),
            (
                format!("{BASE}[engine]\nmax_restarts = 1001\n"),
                "engine.max_restarts: at most 1000",
            ),
            (format!("{BASE}[engine]\nlanes = 2\nlane_cores = [1]\n"), "engine.lane_cores"),
            (
                format!("{BASE}[engine]\nlanes = 2\nlane_cores = [1, 1]\n"),
                "engine.lane_cores[1]: core 1 is named twice",
            ),
            (
                format!("{BASE}[engine]\nlane_cores = [0]\nfeed_core = 0\n"),
                "engine.lane_cores[0]: core 0 is also engine.feed_core",
            ),
            (format!("[source]\npace = \"fast\"\n{BASE}"), "source.pace"),
            (
                format!("{BASE}[[strategy]]\nname = \"a\"\nkind = \"k\"\nsymbols = []\n"),
                "strategy[0].symbols",
            ),
            (
                format!("{BASE}[[strategy]]\nname = \"a\"\nkind = \"k\"\nsymbols = [\"X\"]\ncolour = 1\n"),
                "colour",
            ),
            (
                format!("{BASE}[[strategy]]\nname = \"a\"\nkind = \"k\"\nsymbols = [\"X\"]\n[[strategy]]\nname = \"a\"\nkind = \"k\"\nsymbols = [\"Y\"]\n"),
                "strategy[1].name",
            ),
        ];
        for (text, key) in cases {
            let e = parse(&text).unwrap_err();
            assert!(format!("{e:#}").contains(key), "{key}: {e:#}");
        }
        // No source is not an error on load: the command line may give it (`replay SOURCE`,
        // `run --file`); a run with none anywhere is refused naming `source` (tests/cli_edges.rs).
        let c = parse("[source]\npace = \"max\"\n").unwrap();
        assert!(c.source.file.is_none() && c.source.generate.is_none() && c.source.live.is_none());
    }

    /// Every case is refused, and the error starts with the file and names the key.
    fn refused(cases: &[(String, &str)]) {
        for (text, key) in cases {
            let e = parse(text).unwrap_err();
            let msg = format!("{e:#}");
            assert!(msg.starts_with("t: "), "{msg}");
            assert!(msg.contains(key), "{key}: {msg}");
        }
    }

    /// The touch venue has no latency, fees or queue model: setting one was ignored without a
    /// word. A negative or non-finite sigma was accepted under the constant model (refused
    /// only under lognormal), and fees had no bound (`i64::MAX` saturated every P&L).
    #[test]
    fn venue_settings_that_would_be_ignored_or_overflow_are_refused() {
        let v = |body: &str| format!("{BASE}[venue]\n{body}\n");
        refused(&[
            (
                v("kind = \"touch\"\nmaker_fee_per_share = -20"),
                "venue.maker_fee_per_share: the touch venue charges no fees",
            ),
            (
                v("kind = \"touch\"\ntaker_fee_per_share = 30"),
                "venue.taker_fee_per_share: the touch venue charges no fees",
            ),
            (
                v("kind = \"touch\"\nlatency = \"lognormal\""),
                "venue.latency: the touch venue has no latency",
            ),
            (
                v("kind = \"touch\"\nentry_latency_us = 5"),
                "venue.entry_latency_us",
            ),
            (
                v("kind = \"touch\"\nresponse_latency_us = 5"),
                "venue.response_latency_us",
            ),
            (
                v("kind = \"touch\"\nlatency_sigma = 0.9"),
                "venue.latency_sigma",
            ),
            (
                v("kind = \"touch\"\nlatency_seed = 9"),
                "venue.latency_seed",
            ),
            (
                v("kind = \"touch\"\nqueue = \"trade-through\""),
                "venue.queue",
            ),
            (v("latency_sigma = -1.0"), "venue.latency_sigma"),
            (v("latency_sigma = nan"), "venue.latency_sigma"),
            (v("latency_sigma = inf"), "venue.latency_sigma"),
            (
                v("kind = \"touch\"\nlatency_sigma = -1.0"),
                "venue.latency_sigma",
            ),
            (
                v("maker_fee_per_share = 9223372036854775807"),
                "venue.maker_fee_per_share: 9223372036854775807 is outside -10000..=10000",
            ),
            (
                v("taker_fee_per_share = -9223372036854775808"),
                "venue.taker_fee_per_share",
            ),
            (
                v("maker_fee_per_share = -10001"),
                "venue.maker_fee_per_share",
            ),
            (
                v("taker_fee_per_share = 10001"),
                "venue.taker_fee_per_share",
            ),
        ]);
        // The defaults written out, and a touch venue with nothing else, load; as do fees of
        // $1 a share either way and a sigma of 0 (a constant latency drawn as lognormal).
        for ok in [
            v("kind = \"touch\""),
            v(
                "kind = \"touch\"\nlatency = \"constant\"\nentry_latency_us = 20\n\
               response_latency_us = 20\nlatency_sigma = 0.5\nlatency_seed = 1\n\
               queue = \"exact\"\nmaker_fee_per_share = 0\ntaker_fee_per_share = 0",
            ),
            v("maker_fee_per_share = -10000\ntaker_fee_per_share = 10000"),
            v("latency = \"lognormal\"\nlatency_sigma = 0.0"),
        ] {
            parse(&ok).unwrap();
        }
    }

    /// A risk limit of 0 would refuse every order: refused on load through the run
    /// configuration too, naming the limit.
    #[test]
    fn risk_limits_that_refuse_every_order_are_refused_on_load() {
        let r = |body: &str| format!("{BASE}[risk]\n{body}\n");
        refused(&[
            (r("max_order_qty = 0"), "max_order_qty"),
            (r("max_position = 0"), "max_position"),
            (r("max_order_notional = 0"), "max_order_notional"),
            (r("max_order_notional = 0.00009"), "max_order_notional"),
            (r("max_gross_exposure = 0"), "max_gross_exposure"),
        ]);
        parse(&r("price_band_bps = 0")).unwrap();
    }

    /// A generated session too small for the day's structure failed once the run had started,
    /// naming neither file nor key; 10^18 messages aborted the process on a failed allocation.
    /// An order capacity of 2^30 (about 64 GB a lane) was accepted.
    #[test]
    fn session_size_and_order_capacity_are_bounded() {
        let g = |messages: &str| {
            format!("[source.generate]\nseed = 1\nmessages = {messages}\ninstruments = 4\n")
        };
        let cap = |n: &str| format!("{BASE}[engine]\norder_capacity = {n}\n");
        refused(&[
            (
                g("10"),
                "source.generate.messages: messages = 10 is below the minimum",
            ),
            (
                g("1_000_000_000_000_000_000"),
                "source.generate.messages: 1000000000000000000 is more than",
            ),
            (g("1_073_741_825"), "source.generate.messages"),
            (
                cap("16_777_217"),
                "engine.order_capacity: must be between 1 and 2^24",
            ),
            (cap("1_073_741_824"), "engine.order_capacity"),
            (cap("0"), "engine.order_capacity"),
        ]);
        assert_eq!(
            parse(&g("1_073_741_824"))
                .unwrap()
                .source
                .generate
                .unwrap()
                .messages,
            MAX_GENERATED_MESSAGES
        );
        assert_eq!(
            parse(&cap("16_777_216")).unwrap().engine.order_capacity,
            MAX_ORDER_CAPACITY
        );
        // The smallest session the generator takes loads, and one less is refused.
        let minimum = (1..200u64)
            .find(|&m| check_generated_messages(m, 4).is_ok())
            .unwrap();
        parse(&g(&minimum.to_string())).unwrap();
        assert!(parse(&g(&(minimum - 1).to_string())).is_err());
    }

    /// `[source.live]` keys that would do nothing with the feed given, and values that were
    /// checked only once the feed started (or never: a silence of 0 ended the run at once).
    #[test]
    fn live_keys_that_would_do_nothing_are_refused_on_load() {
        let udp = |body: &str| format!("[source.live]\nfeed = \"udp://127.0.0.1:9\"\n{body}\n");
        let quic = |body: &str| format!("[source.live]\nfeed = \"quic://127.0.0.1:9\"\n{body}\n");
        refused(&[
            (
                udp("record_flush = \"block\""),
                "source.live.record_flush: there is no recording",
            ),
            (
                udp("record_ring_mb = 64"),
                "source.live.record_ring_mb: there is no recording",
            ),
            (
                udp("ca = \"ca.pem\""),
                "source.live.ca: only for a quic:// feed",
            ),
            (
                udp("client_cert = \"c.pem\"\nclient_key = \"k.pem\""),
                "source.live.client_cert: only for a quic:// feed",
            ),
            (
                udp("token_env = \"T\""),
                "source.live.token_env: only for a quic:// feed",
            ),
            (
                udp("quic_stream = true"),
                "source.live.quic_stream: only for a quic:// feed",
            ),
            (quic("line_b = \"udp://127.0.0.1:8\""), "source.live.line_b"),
            (
                quic("recv_buffer = 1048576"),
                "source.live.recv_buffer: only for a udp:// feed",
            ),
            (
                udp("stop_after_silence_s = 0"),
                "source.live.stop_after_silence_s: 0 is not a number of seconds above 0",
            ),
            (
                udp("stop_after_silence_s = -1.0"),
                "source.live.stop_after_silence_s",
            ),
            (
                udp("stop_after_silence_s = nan"),
                "source.live.stop_after_silence_s",
            ),
            (
                udp("record = \"x.cap\"\nrecord_flush = \"sometimes\""),
                "source.live.record_flush: record flush `sometimes`",
            ),
            (
                udp("record = \"x.cap\"\nrecord_ring_mb = 4097"),
                "source.live.record_ring_mb: 4097 MiB",
            ),
            (udp("session = \"ELEVENCHARS\""), "source.live.session"),
            (udp("grace_us = 18446744073709552"), "source.live.grace_us"),
            (
                udp("request_timeout_ms = 18446744073710"),
                "source.live.request_timeout_ms",
            ),
            (
                udp("requests_per_gap = 0"),
                "source.live.requests_per_gap: 0: expected 1 to 1024",
            ),
            (
                udp("requests_per_gap = 1025"),
                "source.live.requests_per_gap: 1025",
            ),
            (
                udp("max_packet = 63"),
                "source.live.max_packet: 63: expected 64 to 65507",
            ),
            (udp("max_packet = 65508"), "source.live.max_packet: 65508"),
            (
                "[source.live]\nfeed = \"udp://nowhere\"\n".to_string(),
                "source.live.feed: `udp://nowhere`",
            ),
            (
                "[source.live]\nfeed = \"udp://239.1.1.1:9@eth0\"\n".to_string(),
                "source.live.feed",
            ),
            (udp("line_b = \"udp://x\""), "source.live.line_b"),
        ]);
        for ok in [
            udp("max_packet = 9000"),
            udp("record = \"x.cap\"\nrecord_flush = \"records:100\"\nrecord_ring_mb = 8"),
            udp("line_b = \"udp://239.1.1.1:8@10.0.0.1\"\nstop_after_silence_s = 0.5"),
            udp("requests_per_gap = 1\nretries = 0"),
            udp("requests_per_gap = 1024"),
            quic(
                "ca = \"ca.pem\"\ntoken_env = \"T\"\nclient_cert = \"c.pem\"\n\
                 client_key = \"k.pem\"\nquic_stream = true",
            ),
        ] {
            parse(&ok).unwrap();
        }
    }

    /// A symbol with a space or a control character matches no instrument of a feed: the
    /// strategy was accepted and did nothing. The punctuation real symbols use is accepted,
    /// and lower case (a LOBSTER file named `aapl_...` has the instrument `aapl`).
    #[test]
    fn symbols_a_feed_never_sends_are_refused() {
        let s = |sym: &str| {
            let sym = toml::Value::String(sym.to_string());
            format!("{BASE}[[strategy]]\nname = \"a\"\nkind = \"k\"\nsymbols = [\"MSFT\", {sym}]\n")
        };
        refused(&[
            (
                s(" AAPL"),
                "strategy[0].symbols: \" AAPL\" is not a symbol: it has a space",
            ),
            (s("AAPL "), "strategy[0].symbols"),
            (s("AA PL"), "strategy[0].symbols"),
            (s("AAPL\t"), "strategy[0].symbols"),
            (
                s("AA\u{1}PL"),
                "strategy[0].symbols: \"AA\\u{1}PL\" is not a symbol: it has a control",
            ),
        ]);
        for sym in [
            "AAPL", "BRK.A", "ABR-D", "ZWZZT+", "ACAMU=", "GOOGL", "ZXZZT", "A1", "*", "aapl",
        ] {
            parse(&s(sym)).unwrap();
        }
    }

    #[test]
    fn placement_keeps_an_instrument_on_one_lane() {
        let text = format!(
            "{BASE}[engine]\nlanes = 2\n\
             [[strategy]]\nname = \"a\"\nkind = \"k\"\nsymbols = [\"AAPL\"]\n\
             [[strategy]]\nname = \"b\"\nkind = \"k\"\nsymbols = [\"MSFT\"]\n\
             [[strategy]]\nname = \"c\"\nkind = \"k\"\nsymbols = [\"MSFT\", \"NVDA\"]\n\
             [[strategy]]\nname = \"d\"\nkind = \"k\"\nsymbols = [\"TSLA\"]\n"
        );
        let c = parse(&text).unwrap();
        assert_eq!(c.place_strategies("t").unwrap(), vec![0, 1, 1, 0]);
        let clash = format!(
            "{BASE}[engine]\nlanes = 2\n\
             [[strategy]]\nname = \"a\"\nkind = \"k\"\nsymbols = [\"AAPL\"]\nlane = 0\n\
             [[strategy]]\nname = \"b\"\nkind = \"k\"\nsymbols = [\"AAPL\"]\nlane = 1\n"
        );
        let e = parse(&clash).unwrap().place_strategies("t").unwrap_err();
        assert!(format!("{e:#}").contains("strategy[1].lane"), "{e:#}");
    }

    #[test]
    fn paces() {
        use ticklane_runtime::Pace;
        assert_eq!(parse_pace("max").unwrap(), Pace::Max);
        assert_eq!(parse_pace("10x").unwrap(), Pace::Speed(10.0));
        assert_eq!(parse_pace("rate:1_000_000").unwrap(), Pace::Rate(1_000_000));
        assert!(parse_pace("0x").is_err());
        assert!(parse_pace("rate:0").is_err());
        assert!(parse_pace("slow").is_err());
    }

    /// `recovery = false` never re-requests, so re-request servers and the
    /// per-gap request bound do nothing; like the other `[source.live]` keys that would do
    /// nothing (`record_flush` without `record`, `ca` on a udp:// feed), they must be refused
    /// by name, on load and on the command line (`--no-recovery --retransmit ...`).
    #[test]
    fn re_request_settings_with_recovery_off_are_refused() {
        let udp = |body: &str| format!("[source.live]\nfeed = \"udp://127.0.0.1:9\"\n{body}\n");
        for (text, key) in [
            (
                udp("recovery = false\nretransmit = [\"127.0.0.1:8\"]"),
                "source.live.retransmit",
            ),
            (
                udp("recovery = false\nrequests_per_gap = 4"),
                "source.live.requests_per_gap",
            ),
        ] {
            match parse(&text) {
                Ok(_) => panic!("accepted, expected an error naming {key}:\n{text}"),
                Err(e) => assert!(format!("{e:#}").contains(key), "{key}: {e:#}"),
            }
        }
        let args = crate::cmd::live::FeedArgs {
            feed: "udp://127.0.0.1:0".into(),
            retransmit: vec!["127.0.0.1:8".parse().unwrap()],
            no_recovery: true,
            recv_buffer: DEFAULT_RECV_BUFFER,
            ..Default::default()
        };
        assert!(
            crate::cmd::live::live_config(&args).is_err(),
            "--no-recovery --retransmit 127.0.0.1:8 accepted"
        );
    }

    /// Under `latency = "constant"` the paper venue reads only the two
    /// latencies: a `latency_sigma` or `latency_seed` other than the default does nothing,
    /// the case the touch venue refuses ("a value other than the default would be ignored
    /// without a word").
    #[test]
    fn lognormal_keys_under_the_constant_model_are_refused() {
        for (body, key) in [
            (
                "latency = \"constant\"\nlatency_sigma = 0.9",
                "venue.latency_sigma",
            ),
            (
                "latency = \"constant\"\nlatency_seed = 42",
                "venue.latency_seed",
            ),
        ] {
            let text = format!("{BASE}[venue]\n{body}\n");
            match parse(&text) {
                Ok(_) => panic!("accepted, expected an error naming {key}:\n{text}"),
                Err(e) => assert!(format!("{e:#}").contains(key), "{key}: {e:#}"),
            }
        }
        // The same keys under lognormal are used, and load.
        parse(&format!(
            "{BASE}[venue]\nlatency = \"lognormal\"\nlatency_sigma = 0.9\nlatency_seed = 42\n"
        ))
        .unwrap();
    }

    /// A range error names the key and the value refused (`venue.` fees,
    /// `engine.ring`, `engine.lane_cores` do); these named the key and the range only.
    #[test]
    fn range_errors_name_the_bad_value() {
        let mut missing = Vec::new();
        for (body, key, value) in [
            ("lanes = 100", "engine.lanes", "100"),
            ("ring_capacity = 1000", "engine.ring_capacity", "1000"),
            ("batch = 65", "engine.batch", "65"),
            ("max_restarts = 1001", "engine.max_restarts", "1001"),
            (
                "order_capacity = 16_777_217",
                "engine.order_capacity",
                "16777217",
            ),
        ] {
            let msg = format!(
                "{:#}",
                parse(&format!("{BASE}[engine]\n{body}\n")).unwrap_err()
            );
            assert!(msg.contains(key), "{msg}");
            if !msg.contains(value) {
                missing.push(msg);
            }
        }
        assert!(
            missing.is_empty(),
            "errors without the value:\n{}",
            missing.join("\n")
        );
    }
}

#[cfg(test)]
mod fuzz_corpus {
    //! The config loader's fuzz corpora as regression tests: every file of
    //! `feeds/fuzz/{corpus,regressions}/run_config/` goes through the `run_config` target's body
    //! (`feeds/fuzz/run_config_check.rs`), and every file of `.../run_config_doc/` through the
    //! `run_config_doc` target's (the document it chooses, `feeds/fuzz/run_config_doc.rs`, then
    //! the same check), on stable. Both files are included here.

    use super::RunConfig;

    include!("../feeds/fuzz/run_config_check.rs");
    include!("../feeds/fuzz/run_config_doc.rs");

    /// Runs every file of the target's corpus and regressions through `body`.
    fn run_corpus(target: &str, body: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds/fuzz");
        ticklane_feeds::fuzzing::run_corpus(&root, target, body);
    }

    #[test]
    fn run_config_corpus() {
        run_corpus("run_config", run_config_check);
    }

    #[test]
    fn run_config_doc_corpus() {
        run_corpus("run_config_doc", |data| {
            run_config_check(run_config_document(data).as_bytes())
        });
    }

    /// The document builder reaches the loader's validation, not only its deserialization
    /// errors: among chosen documents some load, some are refused by a type or unknown-key
    /// error (which carries a TOML position), and some by validation (which names a key and no
    /// position).
    #[test]
    fn chosen_documents_reach_validation() {
        let (mut ok, mut typed, mut validated) = (0, 0, 0);
        for seed in 0u32..2_000 {
            let bytes: Vec<u8> = (0..64u32)
                .map(|i| (seed.wrapping_mul(2_654_435_761).rotate_left(i % 32) ^ i) as u8)
                .collect();
            let doc = run_config_document(&bytes);
            run_config_check(doc.as_bytes());
            match RunConfig::parse(&doc, "t") {
                Ok(_) => ok += 1,
                Err(e) if format!("{e:#}").contains("line ") => typed += 1,
                Err(_) => validated += 1,
            }
        }
        assert!(
            ok > 0 && typed > 0 && validated > 0,
            "loaded {ok}, refused by type {typed}, by validation {validated}"
        );
    }

    /// Fuzz finding: a latency in µs that overflows u64 in ns panicked (debug) or wrapped
    /// (release) in `VenueConfig::factory`; now an error naming the key.
    #[test]
    fn latency_overflow_is_an_error_naming_the_key() {
        let base = "[source.generate]\nseed = 1\nmessages = 1000\ninstruments = 4\n[venue]\n";
        for key in ["entry_latency_us", "response_latency_us"] {
            let e =
                RunConfig::parse(&format!("{base}{key} = 9223372036854775807\n"), "t").unwrap_err();
            assert!(format!("{e:#}").contains(&format!("venue.{key}")), "{e:#}");
            RunConfig::parse(&format!("{base}{key} = 18446744073709551\n"), "t").unwrap();
        }
    }

    #[test]
    fn shipped_configurations_pass_the_check() {
        for text in [super::RUN_DEFAULT, super::PAPER_DEFAULT] {
            run_config_check(text.as_bytes());
        }
    }
}
