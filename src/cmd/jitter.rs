//! `ticklane jitter`: how often this machine takes a core away from a busy thread. One
//! spinning thread per core (pinned) reads the clock in a loop and counts the gaps between
//! two reads. On a quiet machine with isolated cores the longest gap is a few µs; on a shared
//! VM it is milliseconds, and no latency tail below that can be measured there.

use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Gap thresholds, ns.
const THRESHOLDS: [u64; 5] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// Runs the command.
#[allow(clippy::disallowed_methods)] // The binary's edge: this measures the machine itself.
pub fn run(seconds: u64, cores: &[usize]) -> anyhow::Result<ExitCode> {
    let handles: Vec<_> = cores
        .iter()
        .map(|&core| {
            std::thread::spawn(move || {
                let pinned = ticklane_runtime::lane::pin_to_core(core);
                let end = Duration::from_secs(seconds);
                let start = Instant::now();
                let mut last = start;
                let mut counts = [0u64; THRESHOLDS.len()];
                let mut max = 0u64;
                let mut reads = 0u64;
                loop {
                    let now = Instant::now();
                    let gap = now.duration_since(last).as_nanos() as u64;
                    last = now;
                    reads += 1;
                    max = max.max(gap);
                    for (c, t) in counts.iter_mut().zip(THRESHOLDS) {
                        *c += u64::from(gap > t);
                    }
                    if reads.is_multiple_of(1024) && now.duration_since(start) >= end {
                        break;
                    }
                }
                (core, pinned, counts, max, reads)
            })
        })
        .collect();
    outln!(
        "{:>4} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "core",
        "pinned",
        ">1us",
        ">10us",
        ">100us",
        ">1ms",
        ">10ms",
        "max gap ns"
    )?;
    for h in handles {
        let (core, pinned, c, max, _) = h
            .join()
            .map_err(|_| anyhow::anyhow!("a jitter thread panicked"))?;
        outln!(
            "{core:>4} {pinned:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {max:>12}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4]
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
