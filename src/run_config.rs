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

/// A whole run configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Where events come from.
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
                let dist = |median_ns: u64| LogNormal {
                    median_ns,
                    sigma: self.latency_sigma,
                    min_ns: median_ns / 10,
                    max_ns: median_ns.saturating_mul(100).max(1),
                };
                let (e, r, seed) = (dist(entry), dist(response), self.latency_seed);
                LogNormalLatency::new(seed, e, r).context("venue.latency_sigma")?;
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
    /// lost in a crash), `records:N`, or `manual` (only at the end).
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
    /// Re-request gaps at all.
    #[serde(default = "default_true")]
    pub recovery: bool,
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

fn default_recv_buffer() -> usize {
    8 << 20
}

fn default_retries() -> u32 {
    3
}

fn default_true() -> bool {
    true
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
    /// Restarts per strategy under `restart` before the lane halts.
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
        if self.source.file.is_none()
            && self.source.generate.is_none()
            && self.source.live.is_none()
        {
            bail!(
                "{origin}: source: give `file`, a `[source.generate]` or a `[source.live]` table"
            );
        }
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
            bail!("{origin}: engine.lanes: must be between 1 and 64");
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
            bail!("{origin}: engine.ring_capacity: must be a power of two in 64..=16777216");
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
            bail!("{origin}: engine.batch: must be between 1 and 64");
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
        if e.order_capacity == 0 || e.order_capacity > 1 << 30 {
            bail!("{origin}: engine.order_capacity: must be between 1 and 2^30");
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
                // `Symbol::new("")` is the blank symbol: it would subscribe to nothing.
                if sym.trim().is_empty() || Symbol::new(sym).is_none() {
                    bail!("{origin}: strategy[{i}].symbols: `{sym}` is not a symbol (1 to 8 characters)");
                }
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

    const BASE: &str = "[source.generate]\nseed = 1\nmessages = 10\ninstruments = 4\n";

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
            (format!("{BASE}[engine]\nlanes = 2\nlane_cores = [1]\n"), "engine.lane_cores"),
            (
                format!("{BASE}[engine]\nlanes = 2\nlane_cores = [1, 1]\n"),
                "engine.lane_cores[1]: core 1 is named twice",
            ),
            (
                format!("{BASE}[engine]\nlane_cores = [0]\nfeed_core = 0\n"),
                "engine.lane_cores[0]: core 0 is also engine.feed_core",
            ),
            ("[source]\npace = \"max\"\n".to_string(), "source"),
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
        let base = "[source.generate]\nseed = 1\nmessages = 10\ninstruments = 4\n[venue]\n";
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
