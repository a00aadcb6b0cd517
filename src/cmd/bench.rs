//! `ticklane bench`: throughput of the hot path on one core, on a generated session held in
//! memory: decode only, decode + normalize to `MarketEvent`, and decode + normalize + books.
//! Best of N passes; the figures go to BENCHMARKS.md with the command that made them.

use std::process::ExitCode;

use ticklane_book::Market;

use ticklane_feeds::events::{decode_normalize, decode_only, EventStats};

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
        Some(p) => std::fs::read(p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?,
        None => generate_framed(seed, messages, instruments)?,
    };
    let passes = passes.max(1);
    let mut rows = Vec::new();
    let mut time = |stage: &'static str, f: &mut dyn FnMut() -> EventStats| {
        let mut best = f64::MAX;
        let mut stats = EventStats::default();
        for _ in 0..passes {
            let clock = Stopwatch::start();
            stats = f();
            best = best.min(clock.elapsed().as_secs_f64());
        }
        anyhow::ensure!(stats.errors == 0, "{stage}: {} errors", stats.errors);
        rows.push(Row {
            stage,
            messages: stats.messages,
            best_seconds: best,
            messages_per_sec: stats.messages as f64 / best,
            ns_per_message: best * 1e9 / stats.messages.max(1) as f64,
            megabytes_per_sec: buf.len() as f64 / best / 1e6,
        });
        Ok(())
    };
    time("decode", &mut || decode_only(&buf))?;
    time("decode+normalize", &mut || decode_normalize(&buf))?;
    time("decode+normalize+book", &mut || {
        let mut market = Market::with_capacity(1 << 16, 1024);
        decode_book(&buf, &mut market)
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        match file {
            Some(p) => println!(
                "file {}: {} bytes; best of {passes} passes, one thread",
                p.display(),
                buf.len()
            ),
            None => println!(
                "session: seed {seed}, {messages} messages, {instruments} instruments, {} bytes; best of {passes} passes, one thread",
                buf.len()
            ),
        }
        println!(
            "{:<24} {:>14} {:>10} {:>10}",
            "stage", "messages/s", "ns/msg", "MB/s"
        );
        for r in &rows {
            println!(
                "{:<24} {:>12.1} M {:>10.2} {:>10.0}",
                r.stage,
                r.messages_per_sec / 1e6,
                r.ns_per_message,
                r.megabytes_per_sec
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
