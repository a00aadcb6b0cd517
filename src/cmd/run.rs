//! `ticklane run [CONFIG]`: a source → feed thread → rings → pinned lanes → strategies → paper
//! venue, under the ractor control plane; prints events, orders, fills, positions, per-hop
//! latency, anomalies, incidents and the run digest.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use ticklane_core::{MarketEvent, Price, Symbol, Timestamp};
use ticklane_feeds::itch::{decode_normalize_into, FrameBatch};
use ticklane_runtime::digest::{hex, lanes_digest};
use ticklane_runtime::feed::{FeedSource, Publisher, SourceReport};
use ticklane_runtime::{
    run_to_end, EnginePlan, Hop, IdlePolicy, LaneIncident, LaneSettings, PanicPolicy,
    PublisherSettings, RunReport, StrategyFactory, StrategySpec,
};
use ticklane_strategy::{StrategyId, StrategySetup};

use crate::run_config::{parse_pace, RunConfig};
use crate::ReadOpts;

/// Command-line overrides of the configuration.
#[derive(Debug, Clone, Default)]
pub struct RunOverrides {
    /// Replace the source with this file.
    pub file: Option<PathBuf>,
    /// Number of lanes.
    pub lanes: Option<u16>,
    /// Pace.
    pub pace: Option<String>,
    /// The command-line flag that sets the pace, for errors (`--pace` when empty).
    pub pace_flag: &'static str,
    /// Never read the configuration's live feed (a replay reads only recorded data).
    pub no_live: bool,
    /// Binary files: take message lengths from the ITCH type bytes, not the prefixes.
    pub lengths_from_type: bool,
    /// Generated-session message count.
    pub messages: Option<u64>,
    /// Turn latency measurement off.
    pub no_latency: bool,
    /// Write `.hgrm` files here.
    pub hgrm_dir: Option<PathBuf>,
    /// Write the run's report files here.
    pub out_dir: Option<PathBuf>,
    /// Print JSON.
    pub json: bool,
    /// Show a live status line (events, orders, fills, P&L, latency) instead of a progress bar.
    pub status_line: bool,
    /// Use this embedded configuration when no file is given: (text, name).
    pub default_config: Option<(&'static str, &'static str)>,
    /// Replay window and instrument filter.
    pub window: ticklane_runtime::Window,
    /// Read a live MoldUDP64 feed (UDP lines or a QUIC relay) instead of the configured source.
    pub live: Option<ticklane_live::source::LiveConfig>,
    /// Run only these strategies of the configuration (by name); empty: all.
    pub strategies: Vec<String>,
}

/// A framed ITCH image in memory (generated sessions): stamps arrival before decoding and
/// paces by the message's own timestamp, read from its bytes before decoding.
struct FramedSource {
    buf: Arc<Vec<u8>>,
    chunk: usize,
}

impl FeedSource for FramedSource {
    fn run(&mut self, publisher: &mut Publisher) -> SourceReport {
        if publisher.is_paced() {
            self.run_serial(publisher)
        } else {
            self.run_batched(publisher)
        }
    }
}

impl FramedSource {
    /// Unpaced: decodes [`FrameBatch`]es (messages grouped by type, results in stream order),
    /// each batch stamped once on arrival and once decoded; publishes every `chunk` messages.
    fn run_batched(&mut self, publisher: &mut Publisher) -> SourceReport {
        let mut report = SourceReport::default();
        let buf = &self.buf[..];
        let mut batch = FrameBatch::new();
        let mut pos = 0usize;
        let mut in_chunk = 0usize;
        loop {
            let t_received = publisher.stamp();
            let filled = batch.fill(buf, pos);
            let t_decoded = publisher.stamp();
            for (k, (result, ev)) in batch.results().enumerate() {
                match result {
                    Ok(true) => {
                        if publisher.publish(ev, t_received, t_decoded).is_err() {
                            // The first message past `--to` ended the read: not replayed.
                            if !publisher.past_window_end() {
                                report.messages += 1;
                            }
                            return report;
                        }
                        report.messages += 1;
                    }
                    Ok(false) => {
                        // A message past `--to` ends the read whether or not it carries an
                        // event (its time read from its bytes: rare types, only with a `to`).
                        if publisher.has_window_end() {
                            let start = if k == 0 {
                                pos
                            } else {
                                frame_end(buf, pos, k - 1)
                            };
                            let ts = message_ts(&buf[start + 2..]);
                            if ts.is_some_and(|t| publisher.pass_without_event(t).is_err()) {
                                return report;
                            }
                        }
                        report.messages += 1;
                    }
                    Err(e) => count_error(&mut report, frame_end(buf, pos, k), &e),
                }
                if self.end_of_message(&mut in_chunk, publisher).is_err() {
                    return report;
                }
            }
            pos = filled.next;
            if filled.cut_short {
                let len = usize::from(u16::from_be_bytes([buf[pos], buf[pos + 1]]));
                report.errors += 1;
                report
                    .first_errors
                    .push(format!("offset {pos}: frame of {len} bytes cut short"));
                return report;
            }
            if filled.messages < ticklane_feeds::itch::batch::BATCH {
                trailing_bytes(buf, pos, &mut report);
                return report;
            }
        }
    }

    /// Counts a message towards the chunk and publishes the chunk when it is full.
    fn end_of_message(
        &self,
        in_chunk: &mut usize,
        publisher: &mut Publisher,
    ) -> Result<(), ticklane_runtime::feed::Stopped> {
        *in_chunk += 1;
        if *in_chunk == self.chunk {
            *in_chunk = 0;
            publisher.flush()?;
        }
        Ok(())
    }

    /// Paced: one message at a time, each message that carries an event stamped on arrival after
    /// it is due.
    fn run_serial(&mut self, publisher: &mut Publisher) -> SourceReport {
        let mut report = SourceReport::default();
        let buf = &self.buf[..];
        let mut ev = MarketEvent::new(
            Timestamp(0),
            ticklane_core::InstrumentId::NONE,
            ticklane_core::EventBody::BrokenTrade {
                match_id: ticklane_core::MatchId(0),
            },
        );
        let mut pos = 0usize;
        let mut in_chunk = 0usize;
        while let Some(prefix) = buf.get(pos..pos + 2) {
            let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
            let Some(body) = buf.get(pos + 2..pos + 2 + len) else {
                report.errors += 1;
                report
                    .first_errors
                    .push(format!("offset {pos}: frame of {len} bytes cut short"));
                return report;
            };
            pos += 2 + len;
            // Only a message that carries an event is paced, as a file's are (`rate:N` counts
            // events): a first decode says whether it does, and the message is decoded again
            // once due, after its arrival stamp.
            if let Ok(true) = decode_normalize_into(body, &mut ev) {
                if publisher.wait_until_due(ev.ts.0).is_err() {
                    return report;
                }
            }
            let t_received = publisher.stamp();
            match decode_normalize_into(body, &mut ev) {
                Ok(true) => {
                    let t_decoded = publisher.stamp();
                    if publisher.publish(&ev, t_received, t_decoded).is_err() {
                        // The first message past `--to` ended the read: not replayed.
                        if !publisher.past_window_end() {
                            report.messages += 1;
                        }
                        return report;
                    }
                    report.messages += 1;
                }
                Ok(false) => {
                    // Past `--to`, ends the read as an event would.
                    let ts = message_ts(body);
                    if ts.is_some_and(|t| publisher.pass_without_event(t).is_err()) {
                        return report;
                    }
                    report.messages += 1;
                }
                Err(e) => count_error(&mut report, pos, &e),
            }
            if self.end_of_message(&mut in_chunk, publisher).is_err() {
                return report;
            }
        }
        trailing_bytes(buf, pos, &mut report);
        report
    }
}

/// Where the `k`-th frame after `start` ends (the offset the serial path reports an error at).
/// Walks the prefixes again: only for errors, which are rare.
fn frame_end(buf: &[u8], start: usize, k: usize) -> usize {
    let mut offset = start;
    for _ in 0..=k {
        let len = usize::from(u16::from_be_bytes([buf[offset], buf[offset + 1]]));
        offset += 2 + len;
    }
    offset
}

/// The timestamp of an ITCH 5.0 message (bytes 5..11 of its body), if it is that long.
fn message_ts(body: &[u8]) -> Option<u64> {
    let b = body.get(5..11)?;
    Some(b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
}

/// A message that failed to decode or normalize: counted, the first 20 described.
fn count_error(report: &mut SourceReport, offset: usize, e: &impl std::fmt::Display) {
    report.errors += 1;
    if report.first_errors.len() < 20 {
        report.first_errors.push(format!("offset {offset}: {e}"));
    }
}

/// A buffer that ends with a byte where a length prefix should be: counted, not dropped.
fn trailing_bytes(buf: &[u8], pos: usize, report: &mut SourceReport) {
    if pos < buf.len() {
        report.errors += 1;
        report.first_errors.push(format!(
            "offset {pos}: {} trailing byte(s), not a frame",
            buf.len() - pos
        ));
    }
}

/// Any file `ticklane` reads (binary, .gz, pcap, pcapng, LOBSTER), through the commands'
/// reader. The reader decodes before handing a message over, so the `decode` hop is not
/// measured for these sources (arrival is stamped after decoding).
struct FileSource {
    path: PathBuf,
    lengths_from_type: bool,
}

impl FeedSource for FileSource {
    fn run(&mut self, publisher: &mut Publisher) -> SourceReport {
        let opts = ReadOpts {
            orderbook: None,
            lengths_from_type: self.lengths_from_type,
            // The engine reads only events: no owned message per frame.
            events_only: true,
        };
        let mut stopped = false;
        let mut n = 0u32;
        let result = super::feed::read(&self.path, &opts, |rec| {
            if let Some(ev) = rec.event {
                // A recording is paced by its receive times (bursts as they arrived), a file
                // without them by event time.
                let received = rec.received.unwrap_or(ev.ts.0);
                if publisher.wait_until_received(ev.ts.0, received).is_err() {
                    stopped = true;
                    return ControlFlow::Break(());
                }
                let t = publisher.stamp();
                if publisher.publish(ev, t, t).is_err() {
                    stopped = true;
                    return ControlFlow::Break(());
                }
                n += 1;
                if n == 32 {
                    n = 0;
                    if publisher.flush().is_err() {
                        stopped = true;
                        return ControlFlow::Break(());
                    }
                }
            } else if publisher.pass_without_event(rec.ts).is_err() {
                // A message without an event past `--to` ends the read as an event would.
                stopped = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        let mut report = SourceReport::default();
        match result {
            Ok(r) => {
                // The message that ended the read at `--to` was counted, not replayed
                // (`saturating`: a LOBSTER file's announcement, before its first row, is no
                // message).
                report.messages = r
                    .messages
                    .saturating_sub(u64::from(publisher.past_window_end()));
                report.errors = r.errors;
                report.first_errors = r
                    .first_errors
                    .iter()
                    .map(|e| match e.position {
                        Some(p) => format!("at {p} ({}): {}", e.stage, e.error),
                        None => format!("({}): {}", e.stage, e.error),
                    })
                    .collect();
                if let Some(f) = r.format {
                    report.notes.push(format!("format {f:?}"));
                }
                // What reading a capture recovered (a rebuilt index, bad blocks, records
                // lost): the same line `inspect` prints.
                if let Some(recovery) = r.recovery {
                    report.notes.push(format!("capture: {recovery}"));
                }
                let s = r.source;
                report.lost_gaps = s.gaps;
                report.lost_messages = s.missing;
                if s.packets > 0 {
                    report.notes.push(format!(
                        "packets {}, sequence gaps {} ({} messages missing), duplicates {}",
                        s.packets, s.gaps, s.missing, s.duplicates
                    ));
                }
                // Each range lost for good, as a live feed says them (the first 20 here).
                for &(first, count) in r.lost_ranges.iter().take(20) {
                    report.notes.push(format!(
                        "lost for good: messages {first}..{}",
                        first + count
                    ));
                }
                if r.lost_ranges_total > 20 {
                    report.notes.push(format!(
                        "lost for good: {} more ranges (`ticklane inspect --json` lists them, \
                         up to 1000)",
                        r.lost_ranges_total - 20
                    ));
                }
                // Frames the pcap reader skipped (another protocol, IPv6, an unsupported link
                // type): said, as `inspect` says them, even when no packet was read at all.
                if s.non_udp_skipped > 0 {
                    report.notes.push(format!(
                        "skipped {} frames not IPv4/UDP (their datagrams were not read)",
                        s.non_udp_skipped
                    ));
                }
            }
            Err(e) => {
                report.errors += 1;
                report.first_errors.push(format!("{e:#}"));
                report.fatal = Some(format!("{e:#}"));
            }
        }
        if stopped {
            report
                .notes
                .push("stopped before the end of the file".to_string());
        }
        report
    }
}

/// Builds the strategy specs of the configuration, each checked by building it once.
pub(crate) fn strategy_specs(
    cfg: &RunConfig,
    origin: &str,
) -> anyhow::Result<Vec<(u16, StrategySpec)>> {
    let lanes = cfg.place_strategies(origin)?;
    let mut out = Vec::new();
    // Ids are numbered afresh among the strategies left in (`--strategy`); errors name the
    // file's index.
    for (id, (s, lane)) in cfg.strategies.iter().zip(lanes).enumerate() {
        let i = s.index;
        let Some(desc) = crate::strategies::find(&s.kind) else {
            bail!(
                "{origin}: strategy[{i}].kind: unknown strategy kind `{}` (known: {})",
                s.kind,
                crate::strategies::names()
            );
        };
        let symbols: Vec<Symbol> = s.symbols.iter().filter_map(|x| Symbol::new(x)).collect();
        let name = s.name.clone();
        let params = s.params.clone();
        let setup_check = StrategySetup {
            name: &name,
            symbols: &symbols,
            params: &params,
        };
        desc.build(&setup_check)
            .with_context(|| format!("{origin}: strategy[{i}]"))?;
        let (fname, fsymbols, fparams) = (name.clone(), symbols.clone(), params);
        let factory: StrategyFactory = Arc::new(move || {
            desc.build(&StrategySetup {
                name: &fname,
                symbols: &fsymbols,
                params: &fparams,
            })
        });
        out.push((
            lane,
            StrategySpec {
                id: StrategyId(id as u16),
                name,
                kind: s.kind.clone(),
                symbols,
                factory,
            },
        ));
    }
    Ok(out)
}

/// Runs the command.
pub fn run(config: Option<&Path>, o: RunOverrides) -> anyhow::Result<ExitCode> {
    // Ctrl-C from the start: while the configuration is read and the source built (a large
    // generated session takes a while), before the engine can act on it, a Ctrl-C killed
    // the process without a summary or reports (or, inherited as ignored, was lost). Once
    // the engine runs, the flag engages the kill switch and stops it (below).
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted.clone()) {
        tracing::warn!("Ctrl-C cannot be caught ({e}): it will end the run without reports");
    }
    let (mut cfg, base, origin) = match (config, o.default_config) {
        (None, Some((text, name))) => {
            let origin = format!("{name} (embedded)");
            (RunConfig::parse(text, &origin)?, PathBuf::from("."), origin)
        }
        _ => {
            let origin = config.map_or_else(
                || "config/run.toml (embedded)".to_string(),
                |p| p.display().to_string(),
            );
            let (cfg, base) = RunConfig::load(config)?;
            (cfg, base, origin)
        }
    };
    if !o.strategies.is_empty() {
        for name in &o.strategies {
            if !cfg.strategies.iter().any(|s| &s.name == name) {
                bail!(
                    "--strategy: {origin} has no strategy named `{name}` (it has: {})",
                    cfg.strategies
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        cfg.strategies.retain(|s| o.strategies.contains(&s.name));
    }
    if let Some(l) = o.lanes {
        cfg.engine.lanes = l;
        cfg.engine.lane_cores.clear();
    }
    if let Some(p) = &o.pace {
        cfg.source.pace = p.clone();
    }
    if let Some(f) = &o.file {
        cfg.source.file = Some(f.clone());
    }
    if let Some(m) = o.messages {
        // Only a generated session has a size: with a file or a live feed the flag would be
        // ignored (it was, or refused for the configuration's unused generator).
        let reads = if o.live.is_some() || (cfg.source.live.is_some() && o.file.is_none()) {
            Some("a live feed")
        } else if cfg.source.file.is_some() {
            Some("a file")
        } else {
            None
        };
        let Some(g) = cfg.source.generate.as_mut().filter(|_| reads.is_none()) else {
            bail!(
                "--messages: this run reads {}, not a generated session ([source.generate])",
                reads.unwrap_or("no generated session")
            );
        };
        // The file's value was checked on load; the flag's is checked here, by name (too few
        // failed once the run had started, naming neither).
        crate::run_config::check_generated_messages(m, g.instruments)
            .map_err(|why| anyhow::anyhow!("--messages: {why}"))?;
        g.messages = m;
    }
    if o.no_latency {
        cfg.engine.latency = false;
    }
    let e = &cfg.engine;
    let idle = IdlePolicy::parse(&e.idle).unwrap_or_default();
    let panic_policy = if e.panic_policy == "halt-lane" {
        PanicPolicy::HaltLane
    } else {
        PanicPolicy::Restart {
            max_restarts: e.max_restarts,
        }
    };
    if e.lanes == 0 || e.lanes > 64 {
        bail!("--lanes: must be between 1 and 64");
    }
    // `--lanes` comes after the file's checks: a strategy placed on a lane the run no longer
    // has is refused here, by name (it was an index out of bounds when the lanes were built).
    for s in &cfg.strategies {
        let i = s.index;
        if let Some(l) = s.lane.filter(|&l| l >= e.lanes) {
            bail!(
                "--lanes {}: strategy[{i}] (`{}`) is placed on lane {l} by its `lane` key; \
                 give at least {} lanes or remove the key",
                e.lanes,
                s.name,
                u32::from(l) + 1
            );
        }
    }
    if cfg.strategies.len() > 64 * usize::from(e.lanes) {
        bail!("--lanes {}: at most 64 strategies per lane", e.lanes);
    }
    // Cores are checked here, not when the file is read: the same file runs on other machines.
    // A core this machine does not have would leave a thread unpinned: refused, not warned.
    let cores = ticklane_runtime::available_cores();
    if !cores.is_empty() {
        let named = e
            .lane_cores
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("engine.lane_cores[{i}]"), *c))
            .chain(e.feed_core.map(|c| ("engine.feed_core".to_string(), c)));
        for (key, c) in named {
            if !cores.contains(&c) {
                bail!("{origin}: {key}: core {c} is not one this process may run on (cores {cores:?})");
            }
        }
    }
    let specs = strategy_specs(&cfg, &origin)?;
    let mut lanes: Vec<(LaneSettings, Vec<StrategySpec>)> = (0..e.lanes)
        .map(|i| {
            (
                LaneSettings {
                    index: i,
                    core: e.lane_cores.get(usize::from(i)).copied(),
                    idle,
                    panic_policy,
                    measure_latency: e.latency,
                    order_capacity: e.order_capacity,
                    journal: o.out_dir.is_some(),
                    trade_from: o.window.from,
                    books: crate::run_config::book_scope(&e.books).unwrap_or_default(),
                },
                Vec::new(),
            )
        })
        .collect();
    for (lane, spec) in specs {
        lanes[usize::from(lane)].1.push(spec);
    }

    let live = match (&o.live, &cfg.source.live) {
        (Some(l), _) => Some(l.clone()),
        (None, Some(_)) if o.file.is_none() && o.no_live => bail!(
            "{origin}: source.live: a replay reads a file or the generated session; give it a SOURCE"
        ),
        (None, Some(_)) if o.file.is_none() && o.pace.is_some() => bail!(
            "{}: does not apply to {origin}'s source.live: a live feed is paced by the wire",
            if o.pace_flag.is_empty() {
                "--pace"
            } else {
                o.pace_flag
            }
        ),
        (None, Some(l)) if o.file.is_none() => {
            let args = super::live::feed_args_from_config(l, &base)
                .with_context(|| format!("{origin}: source.live"))?;
            if !matches!(cfg.source.pace.as_str(), "max") {
                tracing::info!("a live feed is paced by the wire: source.pace is ignored");
            }
            Some(
                super::live::live_config(&args)
                    .with_context(|| format!("{origin}: source.live"))?,
            )
        }
        _ => None,
    };
    if live.is_some() {
        // A live feed is paced by the wire.
        cfg.source.pace = "max".to_string();
    }
    let pace = parse_pace(&cfg.source.pace).with_context(|| {
        if o.pace_flag.is_empty() {
            "--pace"
        } else {
            o.pace_flag
        }
    })?;
    let mut live_counters: Option<Arc<ticklane_live::source::LiveCounters>> = None;
    // A live run's recorder: its thread is an engine worker, owned by an actor.
    let mut workers: Vec<Box<dyn ticklane_runtime::Worker>> = Vec::new();
    let (source, source_desc, total): (Box<dyn FeedSource>, String, Option<u64>) =
        match (live, &cfg.source.file, &cfg.source.generate) {
            (Some(l), _, _) => {
                let desc = format!(
                    "live MoldUDP64 feed: {} line(s){}{}",
                    l.lines.len(),
                    if l.retransmit.is_empty() {
                        String::new()
                    } else {
                        format!(", re-requests to {:?}", l.retransmit)
                    },
                    l.record
                        .as_ref()
                        .map(|p| format!(", recording to {}", p.path.display()))
                        .unwrap_or_default()
                );
                let mut source = ticklane_live::source::LiveSource::new(l);
                live_counters = Some(source.counters());
                if let Some(w) = source.recorder_worker() {
                    workers.push(Box::new(w));
                }
                (Box::new(source), desc, None)
            }
            (None, Some(f), _) => {
                let path = if f.is_relative() && o.file.is_none() {
                    base.join(f)
                } else {
                    f.clone()
                };
                if !path.exists() {
                    // Named as the user gave it: the argument, or the configuration's key.
                    match (&o.file, o.no_live) {
                        (Some(_), true) => bail!("SOURCE: {} does not exist", path.display()),
                        (Some(_), false) => bail!("--file: {} does not exist", path.display()),
                        (None, _) => {
                            bail!("{origin}: source.file: {} does not exist", path.display())
                        }
                    }
                }
                let desc = format!("file {}", path.display());
                (
                    Box::new(FileSource {
                        path,
                        lengths_from_type: o.lengths_from_type,
                    }),
                    desc,
                    None,
                )
            }
            (None, None, Some(g)) => {
                let buf = super::pipeline::generate_framed(g.seed, g.messages, g.instruments)?;
                let desc = format!(
                "generated session: seed {}, {} ITCH messages, {} instruments ({:.1} MB in memory)",
                g.seed,
                g.messages,
                g.instruments,
                buf.len() as f64 / 1e6
            );
                (
                    Box::new(FramedSource {
                        buf: Arc::new(buf),
                        chunk: 32,
                    }),
                    desc,
                    Some(g.messages),
                )
            }
            (None, None, None) => bail!(
                "{origin}: source: give `file`, a `[source.generate]` or a `[source.live]` table, \
                 or a source on the command line"
            ),
        };

    let plan = EnginePlan {
        lanes,
        feed_core: e.feed_core,
        ring_capacity: e.ring_capacity,
        ring_kind: ticklane_runtime::RingKind::parse(&e.ring).unwrap_or_default(),
        publisher: PublisherSettings {
            measure_latency: e.latency,
            batch: e.batch,
            idle,
            heartbeat_ns: e.heartbeat_us.saturating_mul(1_000),
            pace,
            window: o.window.clone(),
        },
        source,
        venue: cfg.venue.factory(&cfg.risk).context("venue")?,
        workers,
    };
    // The report directories are made before the run (once the source and the plan are
    // accepted: a refused command leaves no directory behind): one that cannot be (a file of that
    // name) was found only after the whole run, whose summary was then never printed.
    for dir in [o.hgrm_dir.as_ref(), o.out_dir.as_ref()]
        .into_iter()
        .flatten()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    tracing::info!("source: {source_desc}");
    let bar = if o.status_line {
        Some(super::progress::status_line())
    } else {
        // The bar counts the feed's events against the session's messages: near enough for
        // the whole session, far off when a window (`--symbols`, `--to`) publishes part of it.
        let whole = o.window.symbols.is_none() && o.window.to == u64::MAX;
        Some(match total.filter(|_| whole) {
            Some(t) => super::progress::bar(t, "events"),
            // A file is read as a stream: how many events so far, and how fast.
            None => super::progress::counter("events"),
        })
    };
    let bar2 = bar.clone();
    let status_line = o.status_line;
    let mut report = run_to_end(plan, move |engine| {
        let remote = engine.remote();
        let r2 = remote.clone();
        tokio::spawn(async move {
            // Every Ctrl-C since the start sets the flag (one before the engine ran is acted
            // on at once); checked every 10 ms.
            while !interrupted.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            errln!("interrupted: kill switch, then stop");
            r2.kill_switch();
            r2.stop();
        });
        if let Some(bar) = bar2 {
            tokio::spawn(async move {
                while let Some(s) = remote.status().await {
                    if status_line {
                        bar.set_message(status_text(&s, live_counters.as_deref()));
                        bar.tick();
                    } else {
                        bar.set_position(s.feed_events);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            });
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if o.window.day.is_some() {
        // A replay of one day (`--day`): the source's counts are of the day, as its own file's
        // would be. The days before it were read, not replayed: their messages and losses are
        // the window's to say (`other_days_*`), and a loss there does not fail the day's run.
        let f = &report.feed;
        let s = &mut report.source;
        s.messages = s.messages.saturating_sub(f.other_days_messages);
        s.lost_gaps = s.lost_gaps.saturating_sub(f.other_days_gaps);
        s.lost_messages = s.lost_messages.saturating_sub(f.other_days_lost);
    }
    if let Some(dir) = &o.hgrm_dir {
        write_hgrm(&report, dir)?;
    }
    let digest = digest_of(&report);
    if let Some(dir) = &o.out_dir {
        super::report::write(&report, &json_report(&report, &cfg, &digest), dir)?;
        write_hgrm(&report, dir)?;
        write_charts(&report, dir)?;
    }
    if o.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json_report(&report, &cfg, &digest))?
        )?;
    } else {
        print_report(
            &report,
            &cfg,
            &source_desc,
            &digest,
            o.window.to != u64::MAX,
            o.window.symbols.is_some(),
            o.window.day,
        )?;
    }
    // Exit codes: 0 clean; 1 the run completed but its input had errors (each counted and
    // listed in the summary), lost messages for good, or a worker's output is incomplete (the
    // recorder could not write everything); 2 the source could not be read at all.
    if let Some(why) = &report.source.fatal {
        errln!("error: the source failed: {why}");
        return Ok(ExitCode::from(2));
    }
    if let (Some(d), true) = (o.window.day, report.feed.missing_day) {
        errln!(
            "error: --day {d}: the source holds {} trading days",
            report.feed.skipped_days
        );
        return Ok(ExitCode::from(2));
    }
    let worker_losses = worker_losses(&report.workers);
    if !worker_losses.is_empty() {
        errln!(
            "error: the run completed, but {} (its output is incomplete, as the summary says)",
            worker_losses.join("; ")
        );
        return Ok(ExitCode::from(1));
    }
    if report.source.errors > 0 {
        errln!(
            "error: the input had {} errors (the first ones are in the summary); everything else was processed",
            report.source.errors
        );
        return Ok(ExitCode::from(1));
    }
    // A loss no line, request or later packet filled: the books went stale there and the run
    // lacks those messages (as `record` and `relay` exit 1 on one).
    if report.source.lost_gaps > 0 {
        errln!(
            "error: the input lost {} messages in {} gaps for good (listed in the summary); the \
             books went stale there, everything else was processed",
            report.source.lost_messages,
            report.source.lost_gaps
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// What the workers' outputs lack (a line each), for the exit code: a recorder that dropped or
/// could not write records, or whose thread died.
fn worker_losses(workers: &[ticklane_runtime::WorkerReport]) -> Vec<String> {
    workers
        .iter()
        .filter(|w| w.error.is_some() || w.lost > 0)
        .map(|w| match &w.error {
            Some(e) => format!("{}: {e} ({} items lost)", w.name, w.lost),
            None => format!("{}: {} items lost", w.name, w.lost),
        })
        .collect()
}

/// One line of live status: events, orders, fills, net P&L, tick-to-decision p99, state.
fn status_text(
    s: &ticklane_runtime::EngineStatus,
    live: Option<&ticklane_live::source::LiveCounters>,
) -> String {
    let sum = |f: fn(&ticklane_runtime::LaneStatus) -> u64| s.lanes.iter().map(f).sum::<u64>();
    // Saturating: a lane past i64 price units stores the bound (lane.rs), and two such
    // lanes overflowed the sum (a panic in debug, a wrap in release).
    let pnl: i64 = s
        .lanes
        .iter()
        .fold(0i64, |acc, l| acc.saturating_add(l.net_pnl));
    let p99 = s.lanes.iter().map(|l| l.t2d_p99_ns).max().unwrap_or(0);
    let feed = live.map_or(String::new(), |c| {
        use std::sync::atomic::Ordering::Relaxed;
        format!(
            "datagrams {} | recovered {} | lost {} | ",
            c.datagrams.load(Relaxed),
            c.recovered.load(Relaxed),
            c.lost.load(Relaxed)
        )
    });
    let recorded = s
        .workers
        .iter()
        .filter(|w| w.name == "recorder")
        .map(|w| {
            let get = |k: &str| w.counters.iter().find(|c| c.0 == k).map_or(0, |c| c.1);
            format!(
                "recording {} ({} dropped) | ",
                get("queued"),
                get("dropped")
            )
        })
        .collect::<String>();
    // Any lane whose books went stale (a loss, or a rejoin that lost an unknown number), or
    // a loss the live feed counted that has not reached a lane yet.
    let stale = s.lanes.iter().any(|l| l.stale)
        || live.is_some_and(|c| c.lost.load(std::sync::atomic::Ordering::Relaxed) > 0);
    let state = if s.lanes.iter().any(|l| l.halted) {
        "HALTED"
    } else if s.lanes.iter().any(|l| l.trading_disabled) {
        "KILLED"
    } else if stale {
        "STALE (feed lost messages: the books may be wrong)"
    } else {
        "trading"
    };
    format!(
        "{feed}{recorded}events {} | orders {} | fills {} | net P&L ${} | tick-to-decision p99 {} | full-ring waits {} | {state}",
        s.feed_events,
        sum(|l| l.orders),
        sum(|l| l.fills),
        // Half away from zero, as the summary (`round_dp` rounds half to even: $0.125 → 0.12).
        cents(rust_decimal::Decimal::new(pnl, Price::DECIMALS)),
        // 0: no sample yet (a sample is at least 1 ns), as the summary's `-`.
        if p99 == 0 {
            "-".to_string()
        } else {
            format!("{p99} ns")
        },
        s.feed_full_waits,
    )
}

fn digest_of(r: &RunReport) -> [u8; 32] {
    lanes_digest(&r.lanes)
}

fn merged_latency(r: &RunReport) -> ticklane_runtime::LatencyRecorder {
    let mut all = ticklane_runtime::LatencyRecorder::new();
    for l in &r.lanes {
        all.merge(&l.latency);
    }
    all
}

fn write_hgrm(r: &RunReport, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    use std::io::Write as _;
    let all = merged_latency(r);
    for hop in Hop::ALL {
        let path = dir.join(format!("{}.hgrm", hop.name()));
        // A hop with no sample (not measured) has no distribution: no file, not even an
        // earlier run's left in the same directory.
        if all.summary(hop).count == 0 {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", path.display()));
                }
                _ => continue,
            }
        }
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
        );
        // Flushed here: a `BufWriter` dropped unflushed swallows the write error.
        all.write_hgrm(hop, &mut f)
            .and_then(|()| f.flush())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `equity.svg` (each strategy's equity curve) and `latency.svg` (every hop's percentile
/// distribution).
fn write_charts(r: &RunReport, dir: &Path) -> anyhow::Result<()> {
    use rust_decimal::prelude::ToPrimitive;
    let equity: Vec<(String, Vec<(u64, f64)>)> = r
        .strategies_in_order()
        .into_iter()
        .map(|s| {
            // A later trading day's times start again at midnight: drawn a whole day on per
            // day, so the days follow one another.
            let points = s
                .ledger
                .equity_curve()
                .iter()
                .zip(s.sample_days())
                .map(|(p, day)| {
                    let t = (day - 1)
                        .saturating_mul(super::charts::DAY_NS)
                        .saturating_add(p.ts.0);
                    (t, p.equity.to_f64().unwrap_or(0.0))
                })
                .collect();
            (s.name.clone(), points)
        })
        .collect();
    let all = merged_latency(r);
    let latency: Vec<(String, Vec<(f64, u64)>)> = Hop::ALL
        .iter()
        .map(|&h| (h.name().to_string(), all.percentile_curve(h)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    for (name, svg) in [
        ("equity.svg", super::charts::equity_svg(&equity)),
        ("latency.svg", super::charts::latency_svg(&latency)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Dollars to the cent, rounded half away from zero (`{:.2}` of a `Decimal` cuts the digits
/// off: the summary printed -69.51 for -69.516, where the paper status line, which rounds,
/// showed -69.52).
fn cents(d: rust_decimal::Decimal) -> String {
    let rounded = d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    // Exact after the rounding: two places, padded (5 prints as 5.00).
    format!("{rounded:.2}")
}

fn print_report(
    r: &RunReport,
    cfg: &RunConfig,
    source: &str,
    digest: &[u8; 32],
    has_to: bool,
    has_symbols: bool,
    day: Option<u64>,
) -> std::io::Result<()> {
    let e = &cfg.engine;
    let secs = r.elapsed_ns as f64 / 1e9;
    outln!("source    {source}")?;
    for n in &r.source.notes {
        outln!("          {n}")?;
    }
    outln!(
        "engine    {} lane(s), cores {}, feed core {}, idle {}, ring {} ({}), batch {}, panic policy {}",
        e.lanes,
        r.lanes
            .iter()
            .map(|l| l.pinned_core.map_or("-".to_string(), |c| c.to_string()))
            .collect::<Vec<_>>()
            .join(","),
        r.feed_pinned_core.map_or("-".to_string(), |c| c.to_string()),
        e.idle,
        e.ring_capacity,
        e.ring,
        e.batch,
        e.panic_policy
    )?;
    outln!(
        "feed      {} messages, {} events ({} not sent: of instruments no lane reads, or before their directory entry), {} heartbeats, {} errors; {} waits on a full ring ({:.1} ms), {} dropped (lane gone), {} cut off by the stop",
        r.source.messages,
        r.feed.events,
        r.feed.unread,
        r.feed.heartbeats,
        r.source.errors,
        r.feed.full_waits,
        r.feed.full_wait_ns as f64 / 1e6,
        r.feed.dropped_lane_gone,
        r.feed.dropped_on_stop
    )?;
    if r.feed.late_books > 0 {
        outln!(
            "          {} subscribed instruments' directory entries came after some of their events, which their strategies' lane never got (not sent, or sent to the lane the instrument was hashed to before): their books there miss those orders",
            r.feed.late_books
        )?;
    }
    if !r.feed.unmatched_symbols.is_empty() {
        outln!(
            "window    --symbols named {} that no directory message {}: nothing of theirs was replayed",
            r.feed
                .unmatched_symbols
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            // Stopped at `--to`: the source may name them later.
            if r.feed.reached_end_of_window && !r.feed.day_ended {
                "up to --to names"
            } else if day.is_some() {
                // The days before it were read, not matched (`--day`).
                "names on that day"
            } else {
                "of the source names"
            }
        )?;
    }
    if r.feed.stopped {
        outln!("stopped   before the end of the source (Ctrl-C): the counts are those of a partial run")?;
    }
    if r.feed.nothing_from {
        outln!("window    no event at or after --from: the strategies were shown nothing")?;
    }
    if let Some(d) = day {
        if r.feed.missing_day {
            outln!(
                "window    no trading day {d}: the source holds {} (nothing was replayed)",
                r.feed.skipped_days
            )?;
        } else {
            let lost = if r.feed.other_days_gaps > 0 {
                format!(
                    " ({} messages lost there in {} gaps)",
                    r.feed.other_days_lost, r.feed.other_days_gaps
                )
            } else {
                String::new()
            };
            let before = match r.feed.skipped_days {
                0 => String::new(),
                1 => format!(
                    ": {} messages of the day before it read, not replayed{lost}",
                    r.feed.other_days_messages
                ),
                n => format!(
                    ": {} messages of the {n} days before it read, not replayed{lost}",
                    r.feed.other_days_messages
                ),
            };
            outln!(
                "window    trading day {d} alone{before}{}",
                if r.feed.day_ended {
                    "; stopped at the next day's start"
                } else {
                    ""
                }
            )?;
        }
    }
    // `--to` ended the read (not the next day's start under `--day`).
    let at_to = r.feed.reached_end_of_window && !r.feed.day_ended;
    if r.feed.filtered > 0 || at_to {
        // What `--to` did, only when one was given (without it, a `--symbols` replay said
        // "source ended before --to").
        let to = if at_to {
            "; stopped at --to"
        } else if has_to && r.feed.day_ended {
            "; the day ended before --to"
        } else if has_to {
            "; source ended before --to"
        } else {
            ""
        };
        // Each part only for what was given (`--to` alone said "0 events outside --symbols").
        let line = if r.feed.filtered > 0 || has_symbols {
            format!(
                "{} events outside --symbols not published{to}",
                r.feed.filtered
            )
        } else {
            to.trim_start_matches("; ").to_string()
        };
        outln!("window    {line}")?;
    }
    for err in &r.source.first_errors {
        outln!("          error {err}")?;
    }
    for w in &r.workers {
        for n in &w.notes {
            outln!("{:<9} {n}", w.name)?;
        }
        if let Some(e) = &w.error {
            outln!("{:<9} error {e}", w.name)?;
        }
    }
    outln!(
        "elapsed   {secs:.3} s: {:.2} M events/s end to end",
        r.feed.events as f64 / secs.max(1e-9) / 1e6
    )?;
    let days = r.days();
    if days > 1 {
        outln!(
            "days      {days} trading days (each start of messages after other events begins one)"
        )?;
    }
    for l in &r.lanes {
        outln!(
            "lane {}    {} events ({} to strategies), {} instruments ({} books kept, {} events of the others dropped), {} live orders; {} commands, {} fills; anomalies {}{}{}",
            l.index,
            l.events,
            l.strategy_events,
            l.instruments,
            l.books_kept,
            l.unkept_events,
            l.live_orders,
            l.commands,
            l.fills,
            l.anomalies.iter().map(|(_, n)| n).sum::<u64>(),
            if l.halted { "; HALTED" } else { "" },
            if l.killed { "; kill switch" } else { "" },
        )?;
        if l.left_in_ring > 0 || l.deferred_commands > 0 || l.discarded_on_panic > 0 {
            outln!(
                "          left in ring {}, deferred commands {}, discarded on panic {}",
                l.left_in_ring,
                l.deferred_commands,
                l.discarded_on_panic
            )?;
        }
        if l.late_books > 0 {
            outln!(
                "          {} subscribed books started late (their directory entry came after their first events): they miss orders",
                l.late_books
            )?;
        }
        for (kind, n) in &l.anomalies {
            outln!("          anomaly {:<28} {n}", kind.name())?;
        }
    }
    outln!("strategies")?;
    outln!(
        "  {:<12} {:<14} {:>4} {:>9} {:>7} {:>6} {:>7} {:>5} {:>8} {:>11} {:>9} {:>10}  digest",
        "name",
        "kind",
        "lane",
        "events",
        "orders",
        "fills",
        "rejects",
        "panic",
        "position",
        "net P&L $",
        "fees $",
        "max DD $"
    )?;
    for s in r.strategies_in_order() {
        let net: i64 = s.positions.iter().map(|p| p.2.net).sum();
        outln!(
            "  {:<12} {:<14} {:>4} {:>9} {:>7} {:>6} {:>7} {:>5} {:>8} {:>11} {:>9} {:>10}  {}",
            s.name,
            s.kind,
            s.lane,
            s.events,
            s.commands,
            s.fills,
            s.rejects,
            s.panics,
            net,
            cents(s.pnl.net),
            cents(s.pnl.fees),
            cents(s.max_drawdown),
            &hex(&s.digest)[..16]
        )?;
    }
    if r.days() > 1 && !r.feed.missing_day {
        // Several trading days: each strategy's, as `days.csv` says them.
        outln!(
            "daily     {:<12} {:>4} {:>6} {:>9} {:>9} {:>9} {:>11} {:>11} {:>10}",
            "name",
            "day",
            "fills",
            "bought",
            "sold",
            "fees $",
            "day P&L $",
            "net P&L $",
            "max DD $"
        )?;
        for (name, days) in super::daily::daily(r) {
            for d in days {
                outln!(
                    "          {:<12} {:>4} {:>6} {:>9} {:>9} {:>9} {:>11} {:>11} {:>10}",
                    name,
                    d.day,
                    d.fills,
                    d.bought,
                    d.sold,
                    cents(d.fees),
                    cents(d.pnl),
                    cents(d.net),
                    cents(d.max_drawdown)
                )?;
            }
        }
    }
    let all = merged_latency(r);
    if Hop::ALL.iter().all(|&h| all.summary(h).count == 0) {
        if e.latency {
            // Measured, but no event reached a lane (an empty source, `--to` before the first
            // event): the setting is not the cause.
            outln!("latency   no samples (no event reached a lane)")?;
        } else {
            outln!("latency   not measured (engine.latency = false, or --no-latency)")?;
        }
    } else {
        print_latency(&all)?;
    }
    for i in &r.incidents {
        match i {
            LaneIncident::StrategyPanicked {
                lane,
                name,
                message,
                seq,
                action,
                ..
            } => {
                // `u64::MAX`: not inside an event (start, a timer, a venue report, stop).
                let at = if *seq == u64::MAX {
                    "outside an event".to_string()
                } else {
                    format!("at event {seq}")
                };
                outln!("incident  lane {lane}: strategy {name} panicked {at}: {message} -> {action:?}")?
            }
            LaneIncident::KillSwitch { lane, cancelled } => {
                outln!("incident  lane {lane}: kill switch, {cancelled} orders cancelled")?
            }
            LaneIncident::RiskTripped {
                lane, name, rule, ..
            } => outln!(
                "incident  lane {lane}: strategy {name} tripped its risk limit {}: its orders cancelled, new ones refused",
                rule.name()
            )?,
        }
    }
    outln!("digest    {}", hex(digest))?;
    Ok(())
}

/// The latency table: a hop with no sample prints `-` (not measured), not 0 ns.
fn print_latency(all: &ticklane_runtime::LatencyRecorder) -> std::io::Result<()> {
    outln!("latency (ns; HopClock = TSC)")?;
    outln!(
        "  {:<17} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10}",
        "hop",
        "count",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "p99.99",
        "max"
    )?;
    for hop in Hop::ALL {
        let s = all.summary(hop);
        let v = |x: u64| {
            if s.count > 0 {
                x.to_string()
            } else {
                "-".to_string()
            }
        };
        outln!(
            "  {:<17} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10}",
            hop.name(),
            s.count,
            v(s.p50),
            v(s.p90),
            v(s.p99),
            v(s.p999),
            v(s.p9999),
            v(s.max)
        )?;
    }
    if all.clamped() > 0 {
        outln!(
            "  {} samples over {} s were counted as {} s: the max is a floor",
            all.clamped(),
            ticklane_runtime::latency::MAX_TRACKED_NS / 1_000_000_000,
            ticklane_runtime::latency::MAX_TRACKED_NS / 1_000_000_000
        )?;
    }
    Ok(())
}

fn json_report(r: &RunReport, cfg: &RunConfig, digest: &[u8; 32]) -> serde_json::Value {
    use serde_json::json;
    let all = merged_latency(r);
    let latency: serde_json::Map<String, serde_json::Value> = Hop::ALL
        .iter()
        .map(|&h| {
            let s = all.summary(h);
            // A hop with no sample (not measured: latency off, a source that does not stamp
            // decoding, no order sent) has no percentiles: null, not 0 ns.
            let v = |x: u64| (s.count > 0).then_some(x);
            (
                h.name().to_string(),
                json!({"count": s.count, "p50": v(s.p50), "p90": v(s.p90), "p99": v(s.p99),
                       "p99_9": v(s.p999), "p99_99": v(s.p9999), "max": v(s.max)}),
            )
        })
        .collect();
    let six = super::report::six;
    let strategies: Vec<serde_json::Value> = r
        .strategies_in_order()
        .into_iter()
        .zip(super::daily::daily(r))
        .map(|(s, (_, days))| {
            json!({
                "name": s.name, "kind": s.kind, "lane": s.lane, "events": s.events,
                "commands": s.commands, "fills": s.fills, "rejects": s.rejects,
                "panics": s.panics, "restarts": s.restarts, "digest": hex(&s.digest),
                "pnl": {
                    // Six decimal places, as in the per-strategy files (each figure kept
                    // the scale its arithmetic left: "-69.5160000000" beside "54.9960").
                    "realized": super::report::six(s.pnl.realized).to_string(),
                    "unrealized": super::report::six(s.pnl.unrealized).to_string(),
                    "fees": super::report::six(s.pnl.fees).to_string(),
                    "net": super::report::six(s.pnl.net).to_string(),
                    "gross_exposure": super::report::six(s.pnl.gross_exposure).to_string(),
                    "max_drawdown": super::report::six(s.max_drawdown).to_string(),
                },
                "positions": s.positions.iter().map(|(id, sym, p, _)| json!({
                    "instrument": id.0,
                    "symbol": sym.map(|x| x.as_str().to_string()),
                    "net": p.net, "bought": p.bought, "sold": p.sold,
                    // The ledger's realized + unrealized (before fees) at its mark: the exact
                    // mid, or the last price when the book ends one-sided. (From the book's
                    // mid it rounded half ticks down, and valued the position at 0 when the
                    // book had one side: -5005.00 where the ledger said -2.50.)
                    "mark_to_mid": s.ledger.instrument(*id).map(|l| {
                        cents(l.realized.saturating_add(l.unrealized()))
                    }),
                })).collect::<Vec<_>>(),
                // Per trading day, as `days.csv` (`super::daily`).
                "days": days.iter().map(|d| json!({
                    "day": d.day, "fills": d.fills, "bought": d.bought, "sold": d.sold,
                    "fees": six(d.fees).to_string(), "net_pnl": six(d.net).to_string(),
                    "day_pnl": six(d.pnl).to_string(),
                    "max_drawdown": six(d.max_drawdown).to_string(),
                    "close_ts_ns": d.close_ts,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let lanes: Vec<serde_json::Value> = r
        .lanes
        .iter()
        .map(|l| {
            json!({
                "lane": l.index, "pinned_core": l.pinned_core, "events": l.events,
                "heartbeats": l.heartbeats, "strategy_events": l.strategy_events,
                "commands": l.commands, "fills": l.fills, "halted": l.halted,
                "killed": l.killed, "instruments": l.instruments,
                "books_kept": l.books_kept, "unkept_events": l.unkept_events,
                "late_books": l.late_books, "live_orders": l.live_orders,
                "left_in_ring": l.left_in_ring,
                "deferred_commands": l.deferred_commands,
                "discarded_on_panic": l.discarded_on_panic,
                "anomalies": l.anomalies.iter().map(|(k, n)| (k.name().to_string(), json!(n)))
                    .collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    json!({
        "lanes_configured": cfg.engine.lanes,
        "messages": r.source.messages,
        "errors": r.source.errors,
        "events": r.feed.events,
        "heartbeats": r.feed.heartbeats,
        "full_waits": r.feed.full_waits,
        "filtered": r.feed.filtered,
        "unmatched_symbols": r.feed.unmatched_symbols.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "unread": r.feed.unread,
        "late_books": r.feed.late_books,
        "reached_end_of_window": r.feed.reached_end_of_window,
        "nothing_from": r.feed.nothing_from,
        // A replay of one trading day (`--day`): the source's number of the run's first day,
        // the events of the days before it (read, not replayed), whether the next day's start
        // ended the read, and whether the source held no such day.
        // `null` for a day the source does not hold.
        "first_day": (!r.feed.missing_day).then(|| r.first_day()),
        "other_days": r.feed.other_days,
        "other_days_messages": r.feed.other_days_messages,
        "other_days_lost_gaps": r.feed.other_days_gaps,
        "other_days_lost_messages": r.feed.other_days_lost,
        "day_ended": r.feed.day_ended,
        "missing_day": r.feed.missing_day,
        "paced_span_ns": r.feed.paced_span_ns,
        "dropped_lane_gone": r.feed.dropped_lane_gone,
        "dropped_on_stop": r.feed.dropped_on_stop,
        // Stopped before the end of its source (Ctrl-C): the counts are a partial run's.
        "stopped": r.feed.stopped,
        "days": r.days(),
        "elapsed_ns": r.elapsed_ns,
        "events_per_sec": r.feed.events as f64 / (r.elapsed_ns.max(1) as f64 / 1e9),
        "lanes": lanes,
        "strategies": strategies,
        "latency_ns": latency,
        // Samples past the histograms' range (60 s), counted as its top: where this is not 0,
        // a hop's max is a floor.
        "latency_clamped": all.clamped(),
        "incidents": r.incidents.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>(),
        "source_notes": r.source.notes,
        "workers": r.workers.iter().map(|w| json!({
            "name": w.name,
            "counters": w.counters.iter().map(|(k, v)| ((*k).to_string(), json!(v)))
                .collect::<serde_json::Map<_, _>>(),
            "notes": w.notes,
            "lost": w.lost,
            "error": w.error,
        })).collect::<Vec<_>>(),
        "first_errors": r.source.first_errors,
        "digest": hex(digest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With no tick-to-decision sample (latency off, or no event has reached
    /// a strategy yet) the status line said "tick-to-decision p99 0 ns", a figure nobody
    /// measured; the summary prints `-` for a hop without samples, and so should the status.
    #[test]
    fn the_status_line_prints_no_p99_without_samples() {
        let status = ticklane_runtime::EngineStatus {
            lanes: vec![ticklane_runtime::LaneStatus::default(); 2],
            ..Default::default()
        };
        let line = status_text(&status, None);
        assert!(!line.contains("p99 0 ns"), "no sample, yet a p99: {line}");
        assert!(line.contains("tick-to-decision p99 -"), "{line}");
    }

    /// A lane whose books went stale (a `FeedGap`: a replayed pcap's loss, a rejoin whose loss
    /// the live counter does not count) makes the status line say STALE; it said "trading"
    /// unless the live feed's `lost` counter was above 0.
    #[test]
    fn the_status_line_says_stale_when_a_lanes_books_are() {
        let mut status = ticklane_runtime::EngineStatus {
            lanes: vec![ticklane_runtime::LaneStatus::default(); 2],
            ..Default::default()
        };
        assert!(status_text(&status, None).ends_with("| trading"));
        status.lanes[1].stale = true;
        let line = status_text(&status, None);
        assert!(line.contains("| STALE (feed lost messages"), "{line}");
    }

    /// RELIABILITY.md: printed money is "rounded half away from zero to the cent, as the
    /// paper status line", and the status after the close shows "the report's" figure. The
    /// summary's `cents` rounds $0.125 to 0.13; the status line must say the same.
    #[test]
    fn the_status_line_rounds_net_pnl_as_the_summary_does() {
        for (units, want) in [
            (1_250i64, "0.13"),
            (-1_250, "-0.13"),
            (50, "0.01"),
            (-69_5150, "-69.52"),
        ] {
            let status = ticklane_runtime::EngineStatus {
                lanes: vec![ticklane_runtime::LaneStatus {
                    net_pnl: units,
                    ..Default::default()
                }],
                ..Default::default()
            };
            let line = status_text(&status, None);
            let summary = cents(rust_decimal::Decimal::new(units, Price::DECIMALS));
            assert_eq!(summary, want);
            assert!(
                line.contains(&format!("net P&L ${want} ")),
                "{units} units: summary says {summary}, status line: {line}"
            );
        }
    }

    /// A lane whose P&L passes i64 price units stores the bound (`lane.rs`: "the status
    /// shows the bound, not 0"). Two such lanes: the status line's sum overflows (a panic in
    /// a debug build, in release a wrap to a loss of $0.0002).
    #[test]
    fn the_status_line_sums_lanes_at_the_pnl_bound_without_overflow() {
        let lane = ticklane_runtime::LaneStatus {
            net_pnl: i64::MAX,
            ..Default::default()
        };
        let status = ticklane_runtime::EngineStatus {
            lanes: vec![lane; 2],
            ..Default::default()
        };
        let line = std::panic::catch_unwind(|| status_text(&status, None));
        let line = line.expect("status_text panicked on two lanes at i64::MAX units");
        assert!(
            !line.contains("net P&L $-"),
            "two huge profits shown as a loss: {line}"
        );
    }

    #[test]
    fn a_worker_that_lost_anything_or_failed_fails_the_run() {
        use ticklane_runtime::WorkerReport;
        let report = |lost, error: Option<&str>| WorkerReport {
            name: "recorder".into(),
            lost,
            error: error.map(str::to_string),
            ..WorkerReport::default()
        };
        assert!(worker_losses(&[report(0, None)]).is_empty());
        assert_eq!(
            worker_losses(&[report(0, None), report(3, None)]),
            ["recorder: 3 items lost"]
        );
        assert_eq!(
            worker_losses(&[report(7, Some("disk full"))]),
            ["recorder: disk full (7 items lost)"]
        );
        assert_eq!(
            worker_losses(&[report(0, Some("no capture was created"))]),
            ["recorder: no capture was created (0 items lost)"]
        );
    }

    #[test]
    fn frame_end_is_the_offset_after_the_kth_frame() {
        // Frames of 3, 0 and 5 bytes.
        let mut buf = vec![0, 3, b'a', b'b', b'c', 0, 0, 0, 5];
        buf.extend_from_slice(b"hello");
        assert_eq!(frame_end(&buf, 0, 0), 5);
        assert_eq!(frame_end(&buf, 0, 1), 7);
        assert_eq!(frame_end(&buf, 0, 2), buf.len());
        assert_eq!(frame_end(&buf, 5, 0), 7);
    }

    /// A lane whose strategies' commands were deferred by a cascade and discarded (a panic, an
    /// order from `on_stop`): the text summary prints both counts ("deferred commands",
    /// "discarded on panic"); `--json` and `summary.json` must carry them too, or orders that
    /// never reached the venue are missing from the machine-readable report.
    #[test]
    fn the_json_report_carries_the_lanes_deferred_and_discarded_commands() {
        let lane = ticklane_runtime::LaneReport {
            index: 0,
            pinned_core: None,
            events: 10,
            heartbeats: 0,
            strategy_events: 10,
            commands: 4,
            fills: 0,
            deferred_commands: 2,
            discarded_on_panic: 3,
            left_in_ring: 0,
            halted: false,
            killed: false,
            instruments: 1,
            books_kept: 1,
            unkept_events: 0,
            late_books: 0,
            live_orders: 0,
            working_orders: 0,
            anomalies: Vec::new(),
            latency: ticklane_runtime::LatencyRecorder::new(),
            strategies: Vec::new(),
            journal: Vec::new(),
            symbols: Vec::new(),
            day_symbols: Vec::new(),
        };
        let report = RunReport {
            source: SourceReport::default(),
            feed: ticklane_runtime::feed::FeedStats::default(),
            feed_pinned_core: None,
            lanes: vec![lane],
            incidents: Vec::new(),
            workers: Vec::new(),
            elapsed_ns: 1,
        };
        let cfg = RunConfig::parse(include_str!("../../config/run.toml"), "run.toml").unwrap();
        let v = json_report(&report, &cfg, &[0; 32]);
        let l = &v["lanes"][0];
        assert_eq!(
            l["discarded_on_panic"], 3,
            "discarded commands missing: {l}"
        );
        assert_eq!(l["deferred_commands"], 2, "deferred commands missing: {l}");
    }
}
