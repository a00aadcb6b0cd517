//! `ticklane bench`: throughput of the hot path on one core, on a generated session held in
//! memory: decode only, decode + normalize to `MarketEvent`, decode + normalize + books, and
//! decode + normalize + a whole lane (books, the embedded `config/run.toml`'s example
//! strategies, the paper exchange behind the risk gate, ledgers and the run digest) driven on
//! the measuring thread without a ring: the ceiling of one lane of `ticklane run`.
//! Best of N passes; the figures go to BENCHMARKS.md with the command that made them.

use std::process::ExitCode;

use std::sync::Arc;

use ticklane_book::Market;
use ticklane_feeds::events::{decode_normalize, decode_only, for_each_event, EventStats};
use ticklane_runtime::digest::{hex, lanes_digest};
use ticklane_runtime::{BookScope, Lane, LaneControl, LaneEvent, LaneReport, LaneSettings};

use super::pipeline::{decode_book, generate_framed};
use super::stopwatch::Stopwatch;

#[derive(Debug, serde::Serialize)]
struct Row {
    stage: &'static str,
    messages: u64,
    best_seconds: f64,
    messages_per_sec: f64,
    ns_per_message: f64,
    megabytes_per_sec: f64,
    /// The lane stage's run digest: the same as `ticklane run` on the same session.
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
}

/// Runs the command.
pub fn run(
    seed: u64,
    messages: u64,
    instruments: u16,
    passes: u32,
    file: Option<&std::path::Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let buf = match file {
        Some(p) => {
            let raw =
                std::fs::read(p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?;
            // A gzipped NASDAQ binary file (as NASDAQ publishes them) is decompressed into
            // memory, as every other command reads it: decoded as is, its compressed bytes
            // were framing errors that `inspect` (which reads it cleanly) could not show.
            if raw.starts_with(&[0x1f, 0x8b]) {
                let mut out = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::MultiGzDecoder::new(raw.as_slice()),
                    &mut out,
                )
                .map_err(|e| anyhow::anyhow!("decompressing {}: {e}", p.display()))?;
                out
            } else {
                raw
            }
        }
        None => generate_framed(seed, messages, instruments)?,
    };
    let passes = passes.max(1);
    let mut rows = Vec::new();
    // Each pass returns its counts and what it leaves to drop (a market, a lane): dropped
    // after the clock stops, as anything built for a pass is built before it starts.
    type Pass<'a> = dyn FnMut() -> (EventStats, Box<dyn std::any::Any>) + 'a;
    let mut time = |stage: &'static str, f: &mut Pass<'_>| {
        let mut best = f64::MAX;
        let mut stats = EventStats::default();
        for _ in 0..passes {
            let clock = Stopwatch::start();
            let (counts, leftovers) = f();
            best = best.min(clock.elapsed().as_secs_f64());
            drop(leftovers);
            stats = counts;
        }
        if stats.errors > 0 {
            // Named with the file and where to look (the counts alone said nothing of why).
            match file {
                Some(p) => anyhow::bail!(
                    "{}: {stage}: {} errors in {} messages: bench reads NASDAQ binary ITCH \
                     files (each message after a 2-byte length); `ticklane inspect {}` shows \
                     where the input goes wrong",
                    p.display(),
                    stats.errors,
                    stats.messages,
                    p.display()
                ),
                None => anyhow::bail!("{stage}: {} errors", stats.errors),
            }
        }
        rows.push(Row {
            stage,
            messages: stats.messages,
            best_seconds: best,
            messages_per_sec: stats.messages as f64 / best,
            // No message, no time per message (the pass's time over `max(1)` was printed).
            ns_per_message: if stats.messages == 0 {
                0.0
            } else {
                best * 1e9 / stats.messages as f64
            },
            megabytes_per_sec: buf.len() as f64 / best / 1e6,
            digest: None,
        });
        Ok(())
    };
    // `black_box` on what each pass computed: a checksum nobody reads could let the optimizer
    // drop the work that made it.
    time("decode", &mut || {
        (std::hint::black_box(decode_only(&buf)), Box::new(()))
    })?;
    time("decode+normalize", &mut || {
        (std::hint::black_box(decode_normalize(&buf)), Box::new(()))
    })?;
    // One market per pass, built (and its tables touched) before the clock starts.
    let mut markets: Vec<Market> = (0..passes)
        .map(|_| Market::with_capacity(1 << 16, 1024))
        .collect();
    time("decode+normalize+book", &mut || match markets.pop() {
        Some(mut market) => {
            let stats = decode_book(&buf, &mut market);
            (stats, Box::new(std::hint::black_box(market)))
        }
        None => (
            EventStats {
                errors: 1,
                ..EventStats::default()
            },
            Box::new(()),
        ),
    })?;
    // One fresh lane per pass, built before the clock starts (this also calibrates the
    // process-wide hop clock, tens of milliseconds once per process, outside the passes).
    let mut lane_digest = String::new();
    let mut digests = Vec::new();
    // The lane as configured (it keeps the books its strategies read), then the same lane
    // keeping every book (`engine.books = "all"`): the same digest, more work; then the lane
    // as configured measuring its hop latencies as `ticklane run` does by default (the items
    // stamped once per 64, taken as one batch; the feed stamps each decoded batch of 128, the
    // lane reads up to 256 at a time): the same digest again.
    for (stage, books, measured) in [
        ("decode+normalize+lane", None, false),
        ("lane, every book kept", Some(BookScope::All), false),
        ("lane, latency measured", None, true),
    ] {
        let mut lanes = (0..passes)
            .map(|_| lane_from_default_config(books, measured))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut reports = Vec::new();
        time(stage, &mut || match lanes.pop() {
            Some(lane) => {
                let (stats, report, lane) = decode_lane(&buf, lane, measured);
                reports.push(report);
                (stats, Box::new(lane))
            }
            // One lane per pass was built; were one missing, the pass fails as an error.
            None => (
                EventStats {
                    errors: 1,
                    ..EventStats::default()
                },
                Box::new(()),
            ),
        })?;
        let digest = reports
            .last()
            .map_or_else(String::new, |r| hex(&lanes_digest(std::slice::from_ref(r))));
        digests.push(digest.clone());
        if lane_digest.is_empty() {
            lane_digest = digest;
        } else {
            anyhow::ensure!(
                digest == lane_digest,
                "the lane \"{stage}\" made another run digest ({digest}) than the lane as configured ({lane_digest})"
            );
        }
    }
    // The lane stages are the last rows, in order.
    let first_lane = rows.len() - digests.len();
    for (r, d) in rows[first_lane..].iter_mut().zip(digests) {
        r.digest = Some(d);
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
    } else {
        match file {
            Some(p) => outln!(
                "file {}: {} bytes; best of {passes} passes, one thread",
                p.display(),
                buf.len()
            )?,
            None => outln!(
                "session: seed {seed}, {messages} messages, {instruments} instruments, {} bytes; best of {passes} passes, one thread",
                buf.len()
            )?,
        }
        outln!(
            "{:<24} {:>14} {:>10} {:>10}",
            "stage",
            "messages/s",
            "ns/msg",
            "MB/s"
        )?;
        for r in &rows {
            outln!(
                "{:<24} {:>12.1} M {:>10.2} {:>10.0}",
                r.stage,
                r.messages_per_sec / 1e6,
                r.ns_per_message,
                r.megabytes_per_sec
            )?;
        }
        outln!("lane: the strategies of config/run.toml; run digest {lane_digest}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One lane built from the embedded `config/run.toml` (its strategies, venue, risk limits and
/// book scope, unless `books` overrides it; latency recorded only if `measure_latency`; no
/// journal).
fn lane_from_default_config(
    books: Option<BookScope>,
    measure_latency: bool,
) -> anyhow::Result<Lane<Box<dyn ticklane_exec::Venue>>> {
    let origin = "config/run.toml (embedded)";
    let cfg = crate::run_config::RunConfig::parse(crate::run_config::RUN_DEFAULT, origin)?;
    let specs = super::run::strategy_specs(&cfg, origin)?
        .into_iter()
        .map(|(_, spec)| spec)
        .collect();
    let venue = cfg.venue.factory(&cfg.risk)?;
    let settings = LaneSettings {
        measure_latency,
        order_capacity: cfg.engine.order_capacity,
        books: books
            .or_else(|| crate::run_config::book_scope(&cfg.engine.books))
            .unwrap_or_default(),
        ..LaneSettings::default()
    };
    Ok(Lane::new(
        settings,
        specs,
        venue(0),
        Arc::new(LaneControl::default()),
        None,
    )?)
}

/// Decode + normalize + `lane`, on this thread: every event goes to `Lane::process` as the
/// lane thread of `ticklane run` would receive it from its ring. `measured`: the items carry
/// hop stamps, one clock read per 64 items (a batch), and the lane records its hops. Returns
/// the counts, the lane's report and the lane (to drop once the pass is timed).
fn decode_lane(
    buf: &[u8],
    mut lane: Lane<Box<dyn ticklane_exec::Venue>>,
    measured: bool,
) -> (EventStats, LaneReport, Lane<Box<dyn ticklane_exec::Venue>>) {
    const BATCH: u64 = 64;
    let clock = ticklane_runtime::HopClock::new();
    lane.start();
    let mut seq = 0u64;
    let mut item = LaneEvent {
        event: ticklane_core::MarketEvent::new(
            ticklane_core::Timestamp(0),
            ticklane_core::InstrumentId::NONE,
            ticklane_core::EventBody::FeedGap {
                first_sequence: 0,
                count: 0,
            },
        ),
        heartbeat: false,
        seq: 0,
        t_received: 0,
        t_decoded: 0,
        t_enqueued: 0,
    };
    let stats = for_each_event(buf, |ev| {
        if measured && seq.is_multiple_of(BATCH) {
            lane.end_batch();
            let t = clock.raw();
            (item.t_received, item.t_decoded, item.t_enqueued) = (t, t, t);
        }
        item.event = *ev;
        item.seq = seq;
        seq += 1;
        lane.process(&item, measured);
    });
    let report = lane.finish();
    (stats, report, lane)
}

/// What the hot path allocates, counted by a counting global allocator
/// (`allocation-counter`, this test binary only; it counts the measuring thread's calls to
/// the allocator, reallocations included). The claims of the module docs of `feeds::itch`,
/// `engine/book` and `engine/runtime::lane`: no allocation per message once the tables that
/// grow with the input (instruments, live orders, the venue's queues) have grown.
#[cfg(test)]
mod hot_path_allocations {
    use super::*;

    const MESSAGES: u64 = 200_000;

    fn session() -> Vec<u8> {
        generate_framed(1, MESSAGES, 64).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Decoding allocates nothing per message: the batched paths take one scratch batch per
    /// call (a `FrameBatch`, 16 KiB), whatever the number of messages, and the serial
    /// decoder nothing at all.
    #[test]
    fn decoding_and_normalizing_allocate_nothing_per_message() {
        let buf = session();
        // The first 1,000 messages' bytes, framed as the whole is.
        let mut cut = 0;
        for _ in 0..1_000 {
            cut += 2 + usize::from(u16::from_be_bytes([buf[cut], buf[cut + 1]]));
        }
        let small = &buf[..cut];
        for input in [small, &buf[..]] {
            let mut events = 0u64;
            let batched = allocation_counter::measure(|| {
                std::hint::black_box(for_each_event(input, |ev| {
                    std::hint::black_box(ev);
                    events += 1;
                }));
            });
            assert!(events >= 500, "{events} events");
            assert_eq!(batched.count_total, 1, "{} bytes: {batched:?}", input.len());
            let normalized = allocation_counter::measure(|| {
                std::hint::black_box(decode_normalize(input));
            });
            assert!(normalized.count_total <= 1, "{normalized:?}");
            let views = allocation_counter::measure(|| {
                std::hint::black_box(decode_only(input));
            });
            assert_eq!(views.count_total, 0, "{views:?}");
        }
    }

    #[test]
    fn the_books_allocate_nothing_once_their_instruments_exist() {
        let buf = session();
        let mut events = Vec::new();
        for_each_event(&buf, |ev| events.push(*ev));
        // The engine's usual reserve (`engine.order_capacity`), as `ticklane bench` builds it.
        let mut market = Market::with_capacity(1 << 16, 1024);
        let (warm, rest) = events.split_at(events.len() / 4);
        for ev in warm {
            std::hint::black_box(market.apply(ev));
        }
        let info = allocation_counter::measure(|| {
            for ev in rest {
                std::hint::black_box(market.apply(ev));
            }
        });
        assert!(rest.len() > 100_000, "{} events", rest.len());
        assert_eq!(
            info.count_total,
            0,
            "{info:?} over {} events after {} to warm up",
            rest.len(),
            warm.len()
        );
    }

    #[test]
    fn the_lane_allocates_nothing_per_event_once_warm() {
        let buf = session();
        let mut events = Vec::new();
        for_each_event(&buf, |ev| events.push(*ev));
        let mut lane = lane_from_default_config(None, false).unwrap_or_else(|e| panic!("{e}"));
        lane.start();
        let mut item = LaneEvent {
            event: events[0],
            heartbeat: false,
            seq: 0,
            t_received: 0,
            t_decoded: 0,
            t_enqueued: 0,
        };
        let (warm, rest) = events.split_at(events.len() / 4);
        let mut feed = |lane: &mut Lane<_>, evs: &[ticklane_core::MarketEvent]| {
            for ev in evs {
                item.event = *ev;
                lane.process(&item, false);
                item.seq += 1;
            }
        };
        feed(&mut lane, warm);
        let info = allocation_counter::measure(|| feed(&mut lane, rest));
        let report = lane.finish();
        let commands: u64 = report.strategies.iter().map(|s| s.commands).sum();
        assert!(commands > 100, "the strategies traded: {commands} commands");
        // What is left is growth to a new high of a buffer that is kept (a level deeper than
        // any the venue's queue states have held before): a handful over the run, not one per
        // event or command (326 here before: a copy of the orders ahead on every modify, and
        // a new buffer for every order that rested).
        assert!(
            info.count_total <= 10,
            "{info:?} over {} events ({commands} commands in the run) after {} to warm up",
            rest.len(),
            warm.len()
        );
        assert_eq!(info.count_current, 0, "{info:?}: allocations left behind");
    }
}
